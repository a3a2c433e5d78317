/*
 * lr_cache.h - a response cache in POSIX shared memory, shared by the
 * processes of one user.
 *
 * One segment per user ("<table>.cache.<euid>", mode 0600): a header, an
 * index of buckets of LR_CACHE_WAYS ways, then a data area used as a ring
 * log.  Answers are appended at the head of the log; an answer is intact as
 * long as the head has not come round to it again (head <= pos + ring), so
 * old answers vanish by being overwritten, never by being freed.  Every
 * access to the index and the log happens under one robust, process-shared
 * mutex that nobody waits on for more than ~20 ms.
 *
 * Nothing in the segment is trusted: any process of the user (or a bug) may
 * have scribbled on it.  Geometry is checked once at open and then only the
 * private copy in lr_cache is used; every way and entry header is
 * bounds-checked before use and the bytes of an answer carry a checksum, so
 * damage shows as misses (LR_ENOTFOUND, LR_ECORRUPT), never as a crash or a
 * read outside the mapping.  (One exception no check can catch: a process
 * of the same user that shrinks the segment with ftruncate makes accesses
 * past the new end fault.  No other user can: the segment is used only if
 * it is a regular file with one name, owned by us, mode 0600.)
 *
 * A segment is created whole under a temporary name and renamed into place
 * (lr_shm_create_atomic), so a creator killed half-way leaves nothing under
 * the name.
 *
 * This runs inside other people's processes: it never prints, never exits,
 * keeps no file descriptor open after lr_cache_open, and reports through
 * the LR_E* codes of lr_error.h.
 */
#ifndef LR_CACHE_H
#define LR_CACHE_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define LR_CACHE_MAGIC "LLMRCAC\0"
#define LR_CACHE_LAYOUT 1u
#define LR_CACHE_DEFAULT_SIZE (64u << 20)
#define LR_CACHE_MIN_SIZE (1u << 20)
#define LR_CACHE_MAX_SIZE (1u << 30)
#define LR_CACHE_WAYS 4
#define LR_CACHE_BYTES_PER_BUCKET 8192u /* data area bytes per index bucket */
#define LR_CACHE_ENTRY_MAGIC 0x5952544e4543524cULL /* "LRCENTRY" */

typedef struct { uint64_t lo, hi; } lr_cache_key;

/* 128-bit key over n byte ranges: SipHash-2-4 with 128-bit output and a
 * fixed key, each part preceded by its length as 8 little-endian bytes so
 * ("ab","c") != ("a","bc").  A part with p NULL hashes as an empty one.
 * Never fails. */
typedef struct { const void *p; size_t len; } lr_cache_part;
lr_cache_key lr_cache_key_of(const lr_cache_part *parts, int n);

/* "<table>.cache.<euid>" for the table segment name `table` (e.g.
 * "/llmroute" -> "/llmroute.cache.1000"), into buf (truncated to cap).
 * Returns buf. */
const char *lr_cache_name(const char *table, char *buf, size_t cap);

/* The segment, as laid out in shared memory (public for tests and tools;
 * users go through the functions below).  Offsets are from the start of
 * the segment, positions in the log are absolute byte counts since the
 * segment was created (they only grow). */
typedef struct {
	_Atomic uint64_t magic;      /* LR_CACHE_MAGIC's 8 bytes; stored last, with release */
	uint32_t layout, hdr_size;
	uint64_t total_size;
	uint64_t nbuckets;
	uint64_t index_off, data_off, data_size; /* data_size is the ring size */
	pthread_mutex_t lock;        /* robust, process-shared */
	uint64_t head;               /* next write position (under the lock) */
	uint64_t tail;               /* oldest entry not yet overrun (under the lock) */
	_Atomic uint64_t hits, misses, stores, evictions, too_big, expired;
	uint64_t reserved[8];
} lr_cache_seg;

typedef struct {
	uint64_t key_lo, key_hi;
	uint64_t pos;                /* absolute log position of the entry */
	uint32_t len;                /* entry length, header included; 0 = empty way */
	uint32_t reserved;
	int64_t stored_at, expires_at;
} lr_cache_way;

typedef struct {
	uint64_t magic;              /* LR_CACHE_ENTRY_MAGIC */
	uint64_t pos;                /* where it was written: stale bytes of an earlier lap never match */
	uint64_t key_lo, key_hi;
	uint32_t len;                /* this header + headers + body, rounded up to 8 */
	int32_t status;
	uint32_t hlen, blen;
	int64_t stored_at, expires_at;
	uint64_t sum;                /* checksum of headers then body */
} lr_cache_entry;

typedef struct lr_cache lr_cache;   /* opaque: the mapping and its checked geometry */

/* Opens the segment `name`; with `create`, creates it if absent (mode 0600,
 * `size` bytes clamped to [1 MiB, 1 GiB], 0 meaning the default; an existing
 * segment keeps its size).  One of ours left half-made (empty, or no magic)
 * by an older creator killed half-way is LR_EBUSY, or replaced with
 * `create`.  Returns 0 and *out (free with lr_cache_close); LR_ENOTFOUND
 * (no segment and !create); LR_EUNTRUSTED (not a regular file with one
 * name, not owned by our euid, or any group/other permission bit; *why says
 * which); LR_EVERSION (wrong magic, layout or size); LR_EBUSY; LR_ENOMEM;
 * LR_EIO.  *why (may be NULL) is set to a static string on every error. */
int lr_cache_open(const char *name, size_t size, int create, lr_cache **out, const char **why);
void lr_cache_close(lr_cache *c);

/* Removes the segment name; mappings stay valid until closed.
 * Returns 0, LR_ENOTFOUND or LR_EIO. */
int lr_cache_unlink(const char *name);

typedef struct {
	int status;              /* HTTP status stored */
	char *headers; size_t headers_len;   /* malloc'ed copy (raw header lines as delivered, CRLF), NUL-terminated */
	char *body; size_t body_len;         /* malloc'ed copy, NUL-terminated */
	long long stored_at, expires_at;     /* unix seconds */
} lr_cache_hit;
void lr_cache_hit_free(lr_cache_hit *h);

/* Looks key up at time now_s.  Returns 0 and *out filled (caller frees with
 * lr_cache_hit_free) on a live hit; LR_ENOTFOUND on a miss or an expired
 * entry; LR_EBUSY if the lock could not be taken within ~20 ms; LR_ECORRUPT
 * if the entry fails its checks (callers treat it as a miss); LR_ENOMEM;
 * LR_EINVAL (a NULL argument).  *out is zeroed on every error.  Every
 * answer but LR_EBUSY and LR_EINVAL counts one hit or one miss; `expired`
 * counts the misses that found the key expired. */
int lr_cache_get(lr_cache *c, const lr_cache_key *k, long long now_s, lr_cache_hit *out);

/* Stores an answer for ttl_s seconds (ttl_s > 0, else LR_EINVAL), replacing
 * any earlier one of the same key.  Refuses with LR_ETOOBIG (counted in
 * too_big) when hlen + blen exceeds max_entry (0: no limit of the caller's)
 * or the stored entry would exceed 1/4 of the data area.  Returns 0,
 * LR_EINVAL, LR_ETOOBIG, LR_EBUSY. */
int lr_cache_put(lr_cache *c, const lr_cache_key *k, long long now_s, int ttl_s, size_t max_entry,
		 int status, const char *headers, size_t hlen, const char *body, size_t blen);

typedef struct {
	unsigned long long capacity_bytes, used_bytes;   /* data area size; bytes of live (unexpired, not overwritten) entries */
	unsigned long long entries;                      /* live entries at now_s */
	unsigned long long hits, misses, stores, evictions, too_big, expired;
} lr_cache_stats;

/* Fills *out (entries and used_bytes by a scan of the index at now_s).
 * Returns 0 or LR_EBUSY. */
int lr_cache_get_stats(lr_cache *c, long long now_s, lr_cache_stats *out);

/* Drops every entry and zeroes the counters.  Returns 0 or LR_EBUSY. */
int lr_cache_clear(lr_cache *c);

#endif
