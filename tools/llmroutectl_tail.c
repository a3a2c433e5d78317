/*
 * llmroutectl_tail.c - following a log file across rotation (see
 * llmroutectl_tail.h).
 *
 * State file: one line "llmroute-tail 1 DEV INO OFF".  It names the file
 * by device and inode, not by path, so after a rename rotation during a
 * restart the old file is found again as PATH.1 and read to its end before
 * PATH itself.  Records written in the instant between copytruncate's copy
 * and its truncate are in the copy only; logrotate documents that window
 * and no reader can close it.
 */
#include "llmroutectl_tail.h"
#include "llmroutectl_publish.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROTATE_GRACE_MS 2000

static int open_path(ctl_tail *t, const char *path, off_t off)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	if (t->fd >= 0)
		close(t->fd);
	t->fd = fd;
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->off = off <= st.st_size ? off : 0;
	t->nmark = 0;
	t->renamed_at = 0;
	return 0;
}

/* The mark: the bytes before off, to see a file that was truncated and
 * grew back past our position between two looks. */
static void take_mark(ctl_tail *t)
{
	off_t from = t->off > CTL_TAIL_MARK ? t->off - CTL_TAIL_MARK : 0;
	ssize_t n = pread(t->fd, t->mark, (size_t)(t->off - from), from);

	t->nmark = n > 0 ? (size_t)n : 0;
}

static int load_state(const char *state, dev_t *dev, ino_t *ino, off_t *off)
{
	FILE *f = fopen(state, "r");
	uintmax_t d, i;
	intmax_t o;
	int ok;

	if (!f)
		return -1;
	ok = fscanf(f, "llmroute-tail 1 %ju %ju %jd", &d, &i, &o) == 3 && o >= 0;
	fclose(f);
	*dev = (dev_t)d;
	*ino = (ino_t)i;
	*off = (off_t)o;
	return ok ? 0 : -1;
}

int ctl_tail_open(ctl_tail *t, const char *path, const char *state)
{
	char rotated[4096];
	struct stat st;
	dev_t dev;
	ino_t ino;
	off_t off;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->path = path;
	t->state = state;
	if (load_state(state, &dev, &ino, &off) == 0) {
		snprintf(rotated, sizeof(rotated), "%s.1", path);
		if (stat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
			return open_path(t, path, off) < 0 ? -1 : (take_mark(t), 0);
		/* Rotated while we were down: finish the old file first. */
		if (stat(rotated, &st) == 0 && st.st_dev == dev && st.st_ino == ino && open_path(t, rotated, off) == 0) {
			take_mark(t);
			t->renamed_at = 1; /* long past: switch once it is read */
			return 0;
		}
	}
	return open_path(t, path, 0);
}

/* Has the file been truncated (copytruncate)?  Smaller than our position,
 * or different bytes just before it. */
static int truncated(ctl_tail *t, off_t size)
{
	char now[CTL_TAIL_MARK];

	if (size < t->off)
		return 1;
	if (!t->nmark)
		return 0;
	return pread(t->fd, now, t->nmark, t->off - (off_t)t->nmark) != (ssize_t)t->nmark ||
	       memcmp(now, t->mark, t->nmark) != 0;
}

/* Looks at the path and our file; switches files or starts over. */
static void check_rotation(ctl_tail *t, int drained, char *events)
{
	struct stat st, ours;
	int moved;

	if (t->fd < 0) {
		if (open_path(t, t->path, 0) == 0)
			snprintf(events, 128, "%s appeared", t->path);
		return;
	}
	if (fstat(t->fd, &ours) == 0 && truncated(t, ours.st_size)) {
		t->off = 0;
		t->nmark = 0;
		snprintf(events, 128, "%s was truncated (copytruncate): reading it from the start", t->path);
		return;
	}
	moved = stat(t->path, &st) == 0 && (st.st_dev != t->dev || st.st_ino != t->ino);
	if (!moved || !drained)
		return;
	if (!t->renamed_at)
		t->renamed_at = ctl_now_ms();
	else if (ctl_now_ms() - t->renamed_at >= ROTATE_GRACE_MS && open_path(t, t->path, 0) == 0)
		snprintf(events, 128, "%s was rotated (renamed): reading the new file", t->path);
}

int ctl_tail_read(ctl_tail *t, const char **data, size_t *len, size_t max, char *events)
{
	ssize_t n;
	char *nl;

	events[0] = '\0';
	*len = 0;
	check_rotation(t, 0, events);
	if (t->fd < 0)
		return 0;
	if (t->cap < max) {
		char *nb = realloc(t->buf, max);
		if (!nb)
			return -1;
		t->buf = nb;
		t->cap = max;
	}
	n = pread(t->fd, t->buf, max, t->off);
	if (n <= 0 || !(nl = memrchr(t->buf, '\n', (size_t)n))) {
		if (n == (ssize_t)max) { /* one line longer than max: skip it whole */
			*len = (size_t)n;
			*data = t->buf;
			return 0;
		}
		if (!events[0])
			check_rotation(t, 1, events);
		return 0;
	}
	*data = t->buf;
	*len = (size_t)(nl - t->buf) + 1;
	return 0;
}

static int save_state(const ctl_tail *t)
{
	char tmp[4200];
	FILE *f;
	int ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", t->state);
	if (!(f = fopen(tmp, "w")))
		return -1;
	fprintf(f, "llmroute-tail 1 %ju %ju %jd\n", (uintmax_t)t->dev, (uintmax_t)t->ino, (intmax_t)t->off);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, t->state) < 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}

int ctl_tail_commit(ctl_tail *t, size_t len)
{
	t->off += (off_t)len;
	take_mark(t);
	return save_state(t);
}

void ctl_tail_close(ctl_tail *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	free(t->buf);
	t->buf = NULL;
}
