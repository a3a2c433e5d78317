/*
 * lr_shm.h - the routing table's home: a POSIX shared-memory segment.
 *
 * Layout: a header, then two slots of `slot_cap` bytes.  A writer (always
 * holding an exclusive flock on the segment) fills the slot that is not
 * active, under that slot's sequence counter (odd while writing), then makes
 * it active and bumps the generation.  A reader copies the active slot and
 * keeps the copy only if the slot's sequence was even and unchanged across
 * the copy and the checksum matches: a reader never sees a torn table and
 * never waits for a writer (it retries a bounded number of times, then
 * keeps what it had).
 *
 * Checking for a change is one atomic load of the generation
 * (lr_shm_generation).  Trust: a reader attaches only to a regular file
 * owned by root or by its own effective uid and not writable by group or
 * others, so only root or that uid can resize it under the readers.
 *
 * Creation is atomic (lr_shm_create_atomic): a segment is built whole under
 * a temporary name and renamed into place only if the name is still free,
 * so a writer killed at any point leaves no table or a complete one.  A
 * writer opening an existing segment checks it (regular file, one link,
 * owner, header) before it changes anything about it.
 */
#ifndef LR_SHM_H
#define LR_SHM_H
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#define LR_SHM_MAGIC "LLMRSHM\0"
#define LR_SHM_LAYOUT 1u
#define LR_SHM_SLOT_CAP (16u << 20)
#define LR_SHM_DEFAULT_NAME "/llmroute"

typedef struct {
	_Atomic uint64_t seq; /* odd while a writer fills the slot */
	uint64_t len;
	uint64_t checksum;    /* FNV-1a 64 of the len bytes */
	uint64_t generation;  /* generation this slot was published as */
} lr_shm_slot;

typedef struct {
	char magic[8];
	uint32_t layout;
	uint32_t hdr_size;
	uint64_t slot_cap;
	_Atomic uint64_t generation; /* bumped after each publish */
	_Atomic uint32_t active;     /* 0 or 1 */
	_Atomic uint32_t retired;    /* set by `unload --remove`: reattach later */
	lr_shm_slot slot[2];
	uint64_t published_at;       /* unix time of the last publish */
	uint32_t publisher_uid;
	uint32_t reserved[5];
} lr_shm_hdr;

typedef struct {
	int fd;
	lr_shm_hdr *hdr;
	size_t map_len;
	int writable;
} lr_shm;

/* The segment name from LLMROUTE_TABLE, or the default.  Never NULL. */
const char *lr_shm_name(void);

/* Reader: opens `name` read-only and checks owner, mode and header.
 * Returns 0; LR_ENOTFOUND (no segment); LR_EUNTRUSTED (*why says why);
 * LR_EVERSION (foreign magic or unknown layout); LR_EIO. */
int lr_shm_attach(const char *name, lr_shm *s, const char **why);

/* Writer: opens or creates `name` (mode 0644) and takes the exclusive lock
 * that serializes all writers, waiting for it at most 5 s (then LR_EBUSY:
 * any reader can hold it).  Refuses (LR_EUNTRUSTED) anything but a
 * regular file with one link owned by root or us, and a foreign one
 * (LR_EVERSION) unless `reinit`, which rebuilds the header; all of it
 * before it changes the file's mode or size. */
int lr_shm_open_writer(const char *name, lr_shm *s, int reinit, const char **why);

void lr_shm_close(lr_shm *s);

/* The trust rule on an open segment: 0, LR_EUNTRUSTED (*why says why; why
 * may be NULL) or LR_EIO. */
int lr_shm_check_trust(int fd, const char **why);

static inline uint64_t lr_shm_generation(const lr_shm *s)
{
	return atomic_load_explicit(&s->hdr->generation, memory_order_acquire);
}

/* Copies the live table into a new 8-byte-aligned malloc'ed buffer.
 * Returns 0 (with *buf, *len, *gen; *buf NULL and *len 0 if nothing was ever
 * published), LR_EBUSY (a writer kept interfering), LR_ECORRUPT (checksum or
 * length wrong) or LR_ENOMEM. */
int lr_shm_snapshot(const lr_shm *s, void **buf, size_t *len, uint64_t *gen);

/* Writer only: publishes `len` bytes.  Returns 0 and the new generation in
 * *gen, or LR_ETOOBIG. */
int lr_shm_publish(lr_shm *s, const void *data, size_t len, uint64_t *gen);

/* Removes the segment name after marking it retired, so attached readers
 * let go of it.  Returns 0 or LR_EIO. */
int lr_shm_remove(lr_shm *s, const char *name);

uint64_t lr_fnv1a64(const void *p, size_t n);

/* Creates shared-memory object `name` whole or not at all: a new object
 * under a temporary name "<name>.new.<pid>.<n>" (O_EXCL, `mode`), sized to
 * `size`, mapped read-write and filled by init(map, ctx), then renamed to
 * `name` only if that name is free.  Stray temporaries of dead processes of
 * ours are removed on the way.  Returns a descriptor (O_RDWR) on the new
 * object with *map its mapping (size bytes, the caller unmaps); LR_EBUSY
 * when `name` exists (open that one); LR_EIO, LR_ENOMEM or init's error
 * (*why says why). */
int lr_shm_create_atomic(const char *name, unsigned mode, size_t size, int (*init)(void *map, void *ctx),
			 void *ctx, void **map, const char **why);

#endif
