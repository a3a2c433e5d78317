/*
 * llmroutectl_watch.c - `llmroutectl watch FILE`: publishes FILE now and
 * each time it changes, until SIGTERM or SIGINT (exit 0).
 *
 * inotify watches FILE's directory (and, when FILE is a symlink, the
 * directory of the file it resolves to), never FILE's inode: `mv` over it,
 * an editor's write-to-temp-and-rename and a Kubernetes ConfigMap's swap
 * of its ..data symlink all put a new inode in place, which a watch on the
 * old one would never see.  Any event there starts a quiet period (the
 * debounce); when it ends FILE is read whole and published only if its
 * bytes differ from the last ones tried, so a burst of events, or other
 * files changing in the directory, cost one read and no publish.
 *
 * A file that does not compile is reported in one line and the live table
 * stays as it was; the same bytes are not reported twice.  A missing file
 * is reported once and published again when it comes back.  A publish that
 * fails for a system reason (the writers' lock held, a squatted segment) is
 * retried every RETRY_MS.  Log lines go to stderr, one per event, without
 * color; under systemd (JOURNAL_STREAM set) each carries its priority as an
 * sd-daemon "<N>" prefix, so journald files errors as errors.
 */
#include "llmroutectl.h"
#include "llmroutectl_publish.h"
#include "lr_error.h"
#include "lr_stats.h"
#include "lr_table.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RETRY_MS 1000 /* a publish that failed for a system reason */
#define MAX_WAIT_MS 2000 /* a burst that never pauses: read at most this long after the debounce */

static const char watch_usage[] =
	"usage: llmroutectl watch FILE [--debounce MS]\n"
	"  publish FILE now and each time it changes (inotify on its directory:\n"
	"  edits in place, renames over it, symlink swaps, delete and recreate);\n"
	"  a file that does not compile is reported and the live table stays.\n"
	"  --debounce MS: quiet time after the last change before reading FILE\n"
	"  (default 200).  SIGHUP publishes FILE again even if unchanged;\n"
	"  SIGTERM or SIGINT stop it (exit 0).  Log: stderr, one line per event.\n";

typedef struct {
	const char *file;
	char dir[PATH_MAX], realdir[PATH_MAX];
	int ifd, wd_dir, wd_real;
	unsigned debounce_ms;
	uint64_t last_hash;  /* of the bytes last tried (published or refused) */
	int have_last;
	int last_errno;      /* the read error last reported, 0 if none */
	int retry;           /* a publish failed for a system reason */
} watcher;

/* Reads FILE whole.  Returns the bytes (malloc'ed, NUL-terminated) or NULL
 * with errno set; never blocks on a FIFO (EINVAL: not a regular file). */
static char *read_whole(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	ssize_t got;
	int e;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		e = errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)CTL_MAX_INPUT) {
		e = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		goto out;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		e = ENOMEM;
		goto out;
	}
	while (n < (size_t)st.st_size && (got = read(fd, buf + n, (size_t)st.st_size - n)) > 0)
		n += (size_t)got;
	buf[n] = '\0';
	*len = n;
	close(fd);
	return buf;
out:
	close(fd);
	errno = e;
	return NULL;
}

static const uint32_t dir_events = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
				   IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

/* Watches the directory FILE resolves to, when that is not FILE's own
 * (a symlink to elsewhere: an edit in place there is a change too). */
static void watch_real_dir(watcher *w)
{
	char real[PATH_MAX], *d;
	int wd;

	if (!realpath(w->file, real))
		return; /* missing: the directory watch sees it come back */
	d = dirname(real);
	if (w->wd_real >= 0 && strcmp(d, w->realdir) == 0)
		return;
	if (w->wd_real >= 0)
		inotify_rm_watch(w->ifd, w->wd_real);
	w->wd_real = -1;
	wd = inotify_add_watch(w->ifd, d, dir_events);
	if (wd >= 0 && wd != w->wd_dir) { /* the same directory gives the same wd */
		w->wd_real = wd;
		snprintf(w->realdir, sizeof(w->realdir), "%s", d);
	}
}

/* Reads FILE and publishes it if its bytes changed (or `force`). */
static void check_file(watcher *w, int force)
{
	size_t len = 0;
	char *text;
	uint64_t h;

	watch_real_dir(w);
	if (!(text = read_whole(w->file, &len))) {
		int e = errno;
		if (e != w->last_errno)
			ctl_log(e == ENOENT ? CTL_LOG_WARN : CTL_LOG_ERR, "%s: %s; the live table stays at generation %llu, waiting",
			     w->file, e == EINVAL ? "not a regular file" : e == EFBIG ? "too large" : strerror(e),
			     ctl_live_generation());
		w->last_errno = e;
		w->have_last = 0; /* when it is back, publish it even if unchanged */
		return;
	}
	if (w->last_errno)
		ctl_log(CTL_LOG_INFO, "%s: readable again", w->file);
	w->last_errno = 0;
	h = lr_fnv1a64(text, len);
	if (force || !w->have_last || h != w->last_hash) {
		w->retry = ctl_publish_text(w->file, text, len) < 0;
		w->have_last = !w->retry;
		w->last_hash = h;
	}
	free(text);
}

/* Re-adds the directory watch (after the directory was removed or moved).
 * Returns 1 if it is in place. */
static int watch_dir(watcher *w)
{
	if (w->wd_dir >= 0)
		return 1;
	w->wd_dir = inotify_add_watch(w->ifd, w->dir, dir_events);
	if (w->wd_dir >= 0)
		ctl_log(CTL_LOG_INFO, "watching %s in %s", w->file, w->dir);
	return w->wd_dir >= 0;
}

/* Drains the inotify queue.  Returns 1 if anything may have changed. */
static int drain_events(watcher *w)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	int any = 0;

	while ((n = read(w->ifd, buf, sizeof(buf))) > 0) {
		const char *p = buf;
		while (p < buf + n) {
			const struct inotify_event *ev = (const struct inotify_event *)(const void *)p;
			if (ev->wd == w->wd_dir && (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))) {
				if (ev->mask & IN_MOVE_SELF) /* the path no longer names what we watch */
					inotify_rm_watch(w->ifd, w->wd_dir);
				if (w->wd_dir >= 0)
					ctl_log(CTL_LOG_WARN, "directory %s is gone; waiting for it", w->dir);
				w->wd_dir = -1;
			} else if (ev->wd == w->wd_real && (ev->mask & IN_IGNORED)) {
				w->wd_real = -1;
			}
			any = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	return any;
}

/* poll()'s timeout: until the debounce ends, or a retry is due. */
static int wait_ms(const watcher *w, long long due)
{
	long long left;

	if (!due && !w->retry && w->wd_dir >= 0)
		return -1;
	if (!due)
		return RETRY_MS;
	left = due - ctl_now_ms();
	return left < 0 ? 0 : left > RETRY_MS ? RETRY_MS : (int)left;
}

static int run(watcher *w, int sfd)
{
	long long due = 0, first = 0, t;
	int force = 0, sig;

	check_file(w, 0);
	for (;;) {
		struct pollfd pf[2] = {{sfd, POLLIN, 0}, {w->ifd, POLLIN, 0}};
		if (poll(pf, 2, wait_ms(w, due)) < 0 && errno != EINTR)
			ctl_die(EX_SYSTEM, "watch: poll: %s", strerror(errno));
		while ((sig = ctl_read_signal(sfd))) {
			if (sig != SIGHUP) {
				ctl_log(CTL_LOG_INFO, "stopping on %s; the live table stays at generation %llu",
				     sig == SIGTERM ? "SIGTERM" : "SIGINT", ctl_live_generation());
				return EX_DONE;
			}
			force = 1;
			due = ctl_now_ms();
		}
		t = ctl_now_ms();
		if ((pf[1].revents & POLLIN) && drain_events(w)) {
			if (!due)
				first = t;
			due = t + w->debounce_ms;
			if (due > first + w->debounce_ms + MAX_WAIT_MS)
				due = first + w->debounce_ms + MAX_WAIT_MS;
		}
		if (w->wd_dir < 0 && watch_dir(w) && !due)
			due = t; /* back: look at once */
		if ((due && t >= due) || (!due && w->retry)) {
			due = 0;
			check_file(w, force);
			force = 0;
		}
	}
}

int ctl_watch(int argc, char **argv)
{
	watcher w = {.ifd = -1, .wd_dir = -1, .wd_real = -1, .debounce_ms = 200};
	char copy[PATH_MAX];
	int i, sfd;

	for (i = 1; i < argc; i++) {
		if (ctl_is_help(argv[i])) {
			fputs(watch_usage, stdout);
			return EX_DONE;
		} else if (!strcmp(argv[i], "--debounce") && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || end == argv[i] || v < 0 || v > 60000)
				ctl_die(EX_USAGE, "watch: --debounce: milliseconds from 0 to 60000");
			w.debounce_ms = (unsigned)v;
		} else if (argv[i][0] != '-' && !w.file) {
			w.file = argv[i];
		} else {
			fputs(watch_usage, stderr);
			return EX_USAGE;
		}
	}
	if (!w.file || strlen(w.file) >= sizeof(copy)) {
		fputs(watch_usage, stderr);
		return EX_USAGE;
	}
	snprintf(copy, sizeof(copy), "%s", w.file);
	snprintf(w.dir, sizeof(w.dir), "%s", dirname(copy));
	ctl_log_init("watch");
	if ((sfd = ctl_signal_fd()) < 0 || (w.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		ctl_die(EX_SYSTEM, "watch: %s", strerror(errno));
	if (!watch_dir(&w))
		ctl_die(errno == ENOENT || errno == ENOTDIR ? EX_INVALID : EX_SYSTEM, "watch: %s: %s", w.dir,
			strerror(errno));
	return run(&w, sfd);
}
