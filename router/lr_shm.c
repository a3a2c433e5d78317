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

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SNAPSHOT_TRIES 64

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
	s->fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (s->fd < 0) {
		*why = strerror(errno);
		return errno == ENOENT ? LR_ENOTFOUND : LR_EIO;
	}
	if (fstat(s->fd, &st) < 0 || !trusted(&st, why)) {
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

/* Makes the open, locked segment the right size and shape. */
static int writer_prepare(lr_shm *s, const struct stat *st, int reinit, const char **why)
{
	int fresh = st->st_size == 0;

	/* Never grow or touch a segment we do not recognise. */
	if (!fresh && !reinit && (size_t)st->st_size < map_size()) {
		*why = "not an llmroute table, or another layout version (use `llmroutectl unload --force`)";
		return LR_EVERSION;
	}
	if ((fresh || reinit) && ftruncate(s->fd, (off_t)map_size()) < 0) {
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
	if (fresh || reinit) {
		init_header(s->hdr);
	} else if (!header_ok(s->hdr, (size_t)st->st_size)) {
		*why = "not an llmroute table, or another layout version (use `llmroutectl unload --force`)";
		return LR_EVERSION;
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
	s->fd = shm_open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->fd < 0) {
		*why = strerror(errno);
		return LR_EIO;
	}
	if (flock(s->fd, LOCK_EX) < 0 || fstat(s->fd, &st) < 0) {
		*why = strerror(errno);
		rc = LR_EIO;
		goto fail;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		*why = "owned by another user";
		rc = LR_EUNTRUSTED;
		goto fail;
	}
	/* Our umask may have added or removed bits: the mode is part of trust. */
	if ((st.st_mode & 0777) != 0644 && fchmod(s->fd, 0644) < 0) {
		*why = strerror(errno);
		rc = LR_EIO;
		goto fail;
	}
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
