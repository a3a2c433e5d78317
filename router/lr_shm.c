/*
 * lr_shm.c - double-buffered, seqlocked table segment (see lr_shm.h).
 *
 * Memory ordering: the writer's release store of the slot sequence after
 * the copy, and of the generation after the active index, pair with the
 * reader's acquire loads.  The reader's copy races with a writer only when
 * the writer laps it (two publishes during one copy); the sequence check
 * then catches it and the copy is discarded.
 */
#include "lr_shm.h"
#include "lr_error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SNAPSHOT_TRIES 64
#define LOCK_WAIT_MS 5000
#define SHM_DIR "/dev/shm" /* where glibc keeps shm_open's objects on Linux */

uint64_t lr_fnv1a64(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= c[i];
		h *= 1099511628211ULL;
	}
	return h;
}

const char *lr_shm_name(void)
{
	const char *n = secure_getenv("LLMROUTE_TABLE");

	return (n && n[0] == '/' && n[1]) ? n : LR_SHM_DEFAULT_NAME;
}

static size_t map_size(void)
{
	return sizeof(lr_shm_hdr) + 2 * (size_t)LR_SHM_SLOT_CAP;
}

static char *slot_data(const lr_shm *s, int i)
{
	return (char *)s->hdr + s->hdr->hdr_size + (size_t)i * s->hdr->slot_cap;
}

/* The trust rule.  Owner root or us, and nobody else may write. */
static int trusted(const struct stat *st, const char **why)
{
	const char *dummy;

	if (!why)
		why = &dummy;
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		*why = "owned by another user";
		return 0;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		*why = "writable by group or others";
		return 0;
	}
	return 1;
}

int lr_shm_check_trust(int fd, const char **why)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return LR_EIO;
	return trusted(&st, why) ? 0 : LR_EUNTRUSTED;
}

static int header_ok(const lr_shm_hdr *h, size_t size)
{
	return memcmp(h->magic, LR_SHM_MAGIC, 8) == 0 &&
	       h->layout == LR_SHM_LAYOUT && h->hdr_size == sizeof(*h) &&
	       h->slot_cap == LR_SHM_SLOT_CAP && size >= map_size() &&
	       atomic_load(&h->active) < 2;
}

int lr_shm_attach(const char *name, lr_shm *s, const char **why)
{
	struct stat st;
	const char *dummy;

	if (!why)
		why = &dummy;
	memset(s, 0, sizeof(*s));
	/* O_NONBLOCK: a FIFO planted under the name must not hang the host
	 * (glibc's shm_open adds O_NOFOLLOW itself) */
	s->fd = shm_open(name, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
	if (s->fd < 0) {
		*why = strerror(errno);
		return errno == ENOENT ? LR_ENOTFOUND : LR_EIO;
	}
	if (fstat(s->fd, &st) < 0 || !S_ISREG(st.st_mode) || !trusted(&st, why)) {
		if (s->fd >= 0 && !S_ISREG(st.st_mode))
			*why = "not a regular file";
		close(s->fd);
		return LR_EUNTRUSTED;
	}
	if ((size_t)st.st_size < sizeof(lr_shm_hdr)) {
		*why = "too small to be an llmroute table";
		close(s->fd);
		return LR_EVERSION;
	}
	s->map_len = (size_t)st.st_size;
	s->hdr = mmap(NULL, s->map_len, PROT_READ, MAP_SHARED, s->fd, 0);
	if (s->hdr == MAP_FAILED) {
		*why = strerror(errno);
		close(s->fd);
		return LR_EIO;
	}
	if (!header_ok(s->hdr, s->map_len)) {
		*why = "unknown magic, layout version or size";
		lr_shm_close(s);
		return LR_EVERSION;
	}
	return 0;
}

static void init_header(lr_shm_hdr *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, LR_SHM_MAGIC, 8);
	h->layout = LR_SHM_LAYOUT;
	h->hdr_size = sizeof(*h);
	h->slot_cap = LR_SHM_SLOT_CAP;
}

static int init_table(void *map, void *ctx)
{
	(void)ctx;
	init_header(map);
	return 0;
}

/* What a writer may open: a regular file with no other name (a hard link
 * planted by someone else would make us write through to their file), owned
 * by us or root.  Checked before the file is locked or changed at all. */
static int writer_may_open(const struct stat *st, const char **why)
{
	if (!S_ISREG(st->st_mode)) {
		*why = "not a regular file";
		return LR_EUNTRUSTED;
	}
	if (st->st_nlink != 1) {
		*why = "it has another name (a hard link): remove it with `llmroutectl unload --force`";
		return LR_EUNTRUSTED;
	}
	if (st->st_uid != geteuid() && st->st_uid != 0) {
		*why = "owned by another user";
		return LR_EUNTRUSTED;
	}
	return 0;
}

/* The open, locked segment: a whole table of our layout (or, with reinit,
 * anything that passed writer_may_open, rebuilt).  Only then its mode is
 * put right: our umask or the owner's chmod may have changed it. */
static int writer_prepare(lr_shm *s, const struct stat *st, int reinit, const char **why)
{
	static const char *foreign = "not an llmroute table, or another layout version (use `llmroutectl unload --force`)";

	if (!reinit && (size_t)st->st_size < map_size()) {
		*why = foreign;
		return LR_EVERSION;
	}
	if (reinit && ftruncate(s->fd, (off_t)map_size()) < 0) {
		*why = strerror(errno);
		return LR_EIO;
	}
	s->map_len = map_size();
	s->hdr = mmap(NULL, s->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (s->hdr == MAP_FAILED) {
		s->hdr = NULL;
		*why = strerror(errno);
		return LR_EIO;
	}
	if (reinit) {
		init_header(s->hdr);
	} else if (!header_ok(s->hdr, (size_t)st->st_size)) {
		*why = foreign;
		return LR_EVERSION;
	}
	if ((st->st_mode & 0777) != 0644 && fchmod(s->fd, 0644) < 0) {
		*why = strerror(errno);
		return LR_EIO;
	}
	return 0;
}

/* Opens the existing segment, or creates a whole new one (a creator killed
 * half-way leaves nothing under `name`). */
static int writer_fd(const char *name, const char **why)
{
	int tries, fd;
	void *map;

	for (tries = 0; tries < 8; tries++) {
		fd = shm_open(name, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
		if (fd >= 0 || errno != ENOENT) {
			if (fd < 0)
				*why = errno == EACCES ? "owned by another user" : strerror(errno);
			return fd >= 0 ? fd : errno == EACCES ? LR_EUNTRUSTED : LR_EIO;
		}
		fd = lr_shm_create_atomic(name, 0644, map_size(), init_table, NULL, &map, why);
		if (fd >= 0) {
			munmap(map, map_size());
			return fd;
		}
		if (fd != LR_EBUSY)
			return fd;
	}
	*why = "the name keeps appearing and vanishing";
	return LR_EBUSY;
}

/* The writers' lock, waited for at most LOCK_WAIT_MS: anyone who can read
 * the table can flock it too, and must not be able to hang `load`. */
static int lock_bounded(int fd, const char **why)
{
	struct timespec pause = {0, 10 * 1000000};
	int waited;

	for (waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited += 10) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			*why = strerror(errno);
			return LR_EIO;
		}
		if (waited >= LOCK_WAIT_MS) {
			*why = "another process has held the table's lock for 5 s: a load still running, "
			       "or a process of any user who can read the table (see `fuser -v`)";
			return LR_EBUSY;
		}
		nanosleep(&pause, NULL);
	}
	return 0;
}

int lr_shm_open_writer(const char *name, lr_shm *s, int reinit, const char **why)
{
	struct stat st;
	const char *dummy;
	int rc;

	if (!why)
		why = &dummy;
	memset(s, 0, sizeof(*s));
	s->writable = 1;
	s->fd = writer_fd(name, why);
	if (s->fd < 0)
		return s->fd;
	if (fstat(s->fd, &st) < 0) {
		*why = strerror(errno);
		rc = LR_EIO;
		goto fail;
	}
	if ((rc = writer_may_open(&st, why)) < 0)
		goto fail;
	if ((rc = lock_bounded(s->fd, why)) < 0)
		goto fail;
	if (fstat(s->fd, &st) < 0) {
		*why = strerror(errno);
		rc = LR_EIO;
		goto fail;
	}
	if ((rc = writer_may_open(&st, why)) < 0) /* again: we may have waited */
		goto fail;
	rc = writer_prepare(s, &st, reinit, why);
	if (rc == 0)
		return 0;
fail:
	lr_shm_close(s);
	return rc;
}

void lr_shm_close(lr_shm *s)
{
	if (s->hdr && s->hdr != MAP_FAILED)
		munmap(s->hdr, s->map_len);
	if (s->fd >= 0)
		close(s->fd); /* also releases the flock */
	s->hdr = NULL;
	s->fd = -1;
}

/* Copies slot i into buf (cap bytes).  The length is read again here, under
 * the sequence check: it may have grown since the caller sized buf. */
static int copy_slot(const lr_shm *s, int i, void *buf, size_t cap, size_t *len)
{
	const lr_shm_slot *sl = &s->hdr->slot[i];
	uint64_t seq1, seq2, n, sum;

	seq1 = atomic_load_explicit(&sl->seq, memory_order_acquire);
	if (seq1 & 1)
		return LR_EBUSY;
	n = sl->len;
	sum = sl->checksum;
	if (n > cap)
		return LR_EBUSY; /* a newer, longer table: size the buffer again */
	memcpy(buf, slot_data(s, i), (size_t)n);
	atomic_thread_fence(memory_order_acquire);
	seq2 = atomic_load_explicit(&sl->seq, memory_order_relaxed);
	if (seq1 != seq2)
		return LR_EBUSY;
	if (lr_fnv1a64(buf, (size_t)n) != sum)
		return LR_ECORRUPT;
	*len = (size_t)n;
	return 0;
}

int lr_shm_snapshot(const lr_shm *s, void **out, size_t *len, uint64_t *gen)
{
	void *buf = NULL;
	size_t cap;
	int tries, rc = LR_EBUSY;

	*out = NULL;
	*len = 0;
	for (tries = 0; tries < SNAPSHOT_TRIES; tries++) {
		uint64_t g = lr_shm_generation(s), n;
		uint32_t a = atomic_load_explicit(&s->hdr->active, memory_order_acquire) & 1;

		*gen = g;
		if (g == 0)
			return 0; /* never published */
		n = s->hdr->slot[a].len;
		if (n > s->hdr->slot_cap)
			continue;
		free(buf);
		cap = ((size_t)n + 8) & ~(size_t)7;
		buf = aligned_alloc(8, cap);
		if (!buf)
			return LR_ENOMEM;
		rc = copy_slot(s, (int)a, buf, cap, len);
		if (rc == 0 && g == lr_shm_generation(s)) {
			*out = buf;
			return 0;
		}
		if (rc == LR_ECORRUPT && g == lr_shm_generation(s))
			break; /* stable and wrong: not a race */
		rc = rc ? rc : LR_EBUSY;
	}
	free(buf);
	return rc;
}

int lr_shm_publish(lr_shm *s, const void *data, size_t len, uint64_t *gen)
{
	lr_shm_hdr *h = s->hdr;
	uint32_t next = (atomic_load(&h->active) & 1) ^ 1;
	lr_shm_slot *sl = &h->slot[next];
	uint64_t seq = atomic_load(&sl->seq);
	uint64_t g = atomic_load(&h->generation) + 1;

	if (len > h->slot_cap)
		return LR_ETOOBIG;
	/* An odd value left by a writer that died mid-publish stays odd. */
	atomic_store_explicit(&sl->seq, seq | 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy(slot_data(s, (int)next), data, len);
	sl->len = len;
	sl->checksum = lr_fnv1a64(data, len);
	sl->generation = g;
	atomic_store_explicit(&sl->seq, (seq | 1) + 1, memory_order_release);
	atomic_store_explicit(&h->active, next, memory_order_release);
	h->published_at = (uint64_t)time(NULL);
	h->publisher_uid = (uint32_t)getuid();
	atomic_store_explicit(&h->generation, g, memory_order_release);
	*gen = g;
	return 0;
}

int lr_shm_remove(lr_shm *s, const char *name)
{
	if (s->hdr && s->writable) {
		atomic_store(&s->hdr->retired, 1);
		atomic_fetch_add(&s->hdr->generation, 1);
	}
	return shm_unlink(name) == 0 || errno == ENOENT ? 0 : LR_EIO;
}

/* Removes "<name>.new.<pid>.<n>" objects of ours whose process is gone: a
 * creator killed between creating and renaming its temporary. */
static void remove_stale_temps(const char *name)
{
	char prefix[300], path[600];
	size_t plen;
	DIR *d;
	struct dirent *e;

	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s.new.", name + 1);
	if (plen >= sizeof(prefix) || !(d = opendir(SHM_DIR)))
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		char *end;
		long pid;

		if (strncmp(e->d_name, prefix, plen) != 0)
			continue;
		pid = strtol(e->d_name + plen, &end, 10);
		if (pid <= 0 || *end != '.' || (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		snprintf(path, sizeof(path), SHM_DIR "/%s", e->d_name);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
			unlink(path);
	}
	closedir(d);
}

/* A new temporary object of ours, under a name nobody else holds. */
static int create_temp(const char *name, unsigned mode, char *tmp, size_t cap, const char **why)
{
	static _Atomic unsigned counter;
	int tries, fd;

	for (tries = 0; tries < 16; tries++) {
		if ((size_t)snprintf(tmp, cap, "%s.new.%ld.%u", name, (long)getpid(), atomic_fetch_add(&counter, 1)) >= cap) {
			*why = "segment name too long";
			return LR_EINVAL;
		}
		fd = shm_open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST) { /* EEXIST: someone squats that name: next one */
			*why = strerror(errno);
			return LR_EIO;
		}
	}
	*why = "cannot find a free temporary name";
	return LR_EIO;
}

/* rename(from, to) unless `to` exists.  Returns 0, or -1 with errno
 * (EEXIST when it does). */
static int rename_noreplace(const char *from, const char *to)
{
	char a[600], b[600];

	snprintf(a, sizeof(a), SHM_DIR "%s", from);
	snprintf(b, sizeof(b), SHM_DIR "%s", to);
	if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* no RENAME_NOREPLACE here: link() never replaces either */
	if (link(a, b) < 0)
		return -1;
	unlink(a);
	return 0;
}

int lr_shm_create_atomic(const char *name, unsigned mode, size_t size, int (*init)(void *map, void *ctx),
			 void *ctx, void **map, const char **why)
{
	char tmp[300];
	void *m = MAP_FAILED;
	int fd, rc;

	*map = NULL;
	if (!name || name[0] != '/' || strchr(name + 1, '/')) {
		*why = "bad segment name";
		return LR_EINVAL;
	}
	remove_stale_temps(name);
	fd = create_temp(name, mode, tmp, sizeof(tmp), why);
	if (fd < 0)
		return fd;
	/* the umask may have taken bits away; this inode is ours (O_EXCL) */
	if (fchmod(fd, (mode_t)mode) < 0 || ftruncate(fd, (off_t)size) < 0 ||
	    (m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		*why = strerror(errno);
		rc = LR_EIO;
		goto fail;
	}
	if ((rc = init(m, ctx)) < 0) {
		*why = "cannot set up the new segment";
		goto fail;
	}
	if (rename_noreplace(tmp, name) < 0) {
		rc = errno == EEXIST ? LR_EBUSY : LR_EIO;
		*why = rc == LR_EBUSY ? "created meanwhile by another process" : strerror(errno);
		goto fail;
	}
	*map = m;
	return fd;
fail:
	if (m != MAP_FAILED)
		munmap(m, size);
	close(fd);
	shm_unlink(tmp);
	return rc;
}
