/*
 * lr_cache.c - the shared response cache (see lr_cache.h).
 *
 * Keys: SipHash-2-4 with 128-bit output and a fixed, public key.  A wrong
 * key match returns someone else's answer, so collision resistance matters
 * more here than speed (hashing a request is nothing next to the request
 * itself).  MurmurHash3 has published seed-independent multicollisions, so a
 * prompt could be crafted to collide with another; SipHash has no known way
 * to do that even with its key known, though it is not a cryptographic hash
 * and does not promise it.
 *
 * Entry checksums only have to catch scribbles, not adversaries (anyone who
 * can write the segment can write a matching checksum), so they use a
 * word-at-a-time multiply-rotate mix that costs well under a microsecond for
 * 4 KB: it runs on every hit.
 *
 * The log: positions are absolute and only grow, so bytes from an earlier
 * lap, or from before a clear, never carry the position they are read at.
 * `tail` is the oldest entry the head has not overrun; each put walks it
 * forward over the entries it is about to overwrite, drops their index ways
 * and counts the unexpired ones as evictions.  An index way taken from a
 * live entry of another key counts as an eviction too.  Under corruption the
 * walk gives up (bounded) and eviction counts become approximate.
 */
#include "lr_cache.h"
#include "lr_error.h"
#include "lr_shm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOCK_WAIT_NS 20000000L    /* the longest anyone waits for the lock */
#define MAX_WALK 65536            /* entries one put may walk the tail over */
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~(uint64_t)((a) - 1))

struct lr_cache {
	lr_cache_seg *seg;
	size_t map_len;
	lr_cache_way *index;
	unsigned char *data;
	uint64_t nbuckets, ring;  /* checked once at open; the segment's copies are not trusted */
};

/* ---- SipHash-2-4-128, streamed ---- */

typedef struct {
	uint64_t v0, v1, v2, v3, tail, total;
	unsigned ntail;
} sip_state;

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(sip_state *s)
{
	s->v0 += s->v1; s->v1 = ROTL(s->v1, 13); s->v1 ^= s->v0; s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3; s->v3 = ROTL(s->v3, 16); s->v3 ^= s->v2;
	s->v0 += s->v3; s->v3 = ROTL(s->v3, 21); s->v3 ^= s->v0;
	s->v2 += s->v1; s->v1 = ROTL(s->v1, 17); s->v1 ^= s->v2; s->v2 = ROTL(s->v2, 32);
}

static void sip_init(sip_state *s, uint64_t k0, uint64_t k1)
{
	memset(s, 0, sizeof(*s));
	s->v0 = k0 ^ 0x736f6d6570736575ULL;
	s->v1 = k1 ^ 0x646f72616e646f6dULL ^ 0xee; /* 0xee: the 128-bit variant */
	s->v2 = k0 ^ 0x6c7967656e657261ULL;
	s->v3 = k1 ^ 0x7465646279746573ULL;
}

static void sip_block(sip_state *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

/* Little-endian whatever the host, so keys are the same everywhere. */
static uint64_t le64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static void sip_update(sip_state *s, const unsigned char *p, size_t n)
{
	s->total += n;
	if (s->ntail) {
		while (n && s->ntail < 8) {
			s->tail |= (uint64_t)*p++ << (8 * s->ntail++);
			n--;
		}
		if (s->ntail < 8)
			return;
		sip_block(s, s->tail);
		s->tail = 0;
		s->ntail = 0;
	}
	for (; n >= 8; p += 8, n -= 8)
		sip_block(s, le64(p));
	while (n--)
		s->tail |= (uint64_t)*p++ << (8 * s->ntail++);
}

static lr_cache_key sip_final(sip_state *s)
{
	uint64_t b = s->total << 56 | s->tail;
	lr_cache_key k;
	int i;

	sip_block(s, b);
	s->v2 ^= 0xee;
	for (i = 0; i < 4; i++)
		sip_round(s);
	k.lo = s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
	s->v1 ^= 0xdd;
	for (i = 0; i < 4; i++)
		sip_round(s);
	k.hi = s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
	return k;
}

lr_cache_key lr_cache_key_of(const lr_cache_part *parts, int n)
{
	sip_state s;
	int i;

	/* "llmroute cache k", read as two little-endian words. */
	sip_init(&s, 0x6574756f726d6c6cULL, 0x6b20656863616320ULL);
	for (i = 0; parts && i < n; i++) {
		size_t len = parts[i].p ? parts[i].len : 0;
		unsigned char pre[8];
		int j;

		for (j = 0; j < 8; j++)
			pre[j] = (unsigned char)((uint64_t)len >> (8 * j));
		sip_update(&s, pre, 8);
		if (len)
			sip_update(&s, parts[i].p, len);
	}
	return sip_final(&s);
}

/* ---- checksum of an entry's bytes ---- */

static uint64_t mix_bytes(uint64_t h, const unsigned char *p, size_t n)
{
	uint64_t w;

	h ^= (uint64_t)n * 0x9e3779b97f4a7c15ULL;
	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = ROTL(h ^ (w * 0x87c37b91114253d5ULL), 31) * 0x4cf5ad432745937fULL;
	}
	w = 0;
	if (n)
		memcpy(&w, p, n);
	h = ROTL(h ^ (w * 0x87c37b91114253d5ULL), 31) * 0x4cf5ad432745937fULL;
	return h ^ (h >> 29);
}

static uint64_t checksum(const void *hd, size_t hlen, const void *body, size_t blen)
{
	return mix_bytes(mix_bytes(0x6c72636163686531ULL, hd, hlen), body, blen);
}

/* ---- names, geometry, opening ---- */

const char *lr_cache_name(const char *table, char *buf, size_t cap)
{
	if (cap)
		snprintf(buf, cap, "%s.cache.%u", table ? table : "", (unsigned)geteuid());
	return buf;
}

static uint64_t magic_word(void)
{
	uint64_t m;

	memcpy(&m, LR_CACHE_MAGIC, 8);
	return m;
}

/* The one geometry a segment of `total` bytes may have: recomputed, never
 * read, so a scribbled header cannot move the index or the ring. */
static void geometry(uint64_t total, lr_cache_seg *g)
{
	uint64_t hdr = ALIGN_UP(sizeof(lr_cache_seg), 64);
	uint64_t per = LR_CACHE_BYTES_PER_BUCKET + LR_CACHE_WAYS * sizeof(lr_cache_way);

	g->total_size = total;
	g->nbuckets = (total - hdr) / per;
	g->index_off = hdr;
	g->data_off = ALIGN_UP(hdr + g->nbuckets * LR_CACHE_WAYS * sizeof(lr_cache_way), 64);
	g->data_size = (total - g->data_off) & ~(uint64_t)63;
}

static size_t clamp_size(size_t size)
{
	if (size == 0)
		size = LR_CACHE_DEFAULT_SIZE;
	if (size < LR_CACHE_MIN_SIZE)
		size = LR_CACHE_MIN_SIZE;
	if (size > LR_CACHE_MAX_SIZE)
		size = LR_CACHE_MAX_SIZE;
	return size & ~(size_t)4095;
}

static int map_cache(int fd, size_t len, lr_cache **out, const char **why)
{
	lr_cache *c = calloc(1, sizeof(*c));
	lr_cache_seg g;

	if (!c) {
		*why = "out of memory";
		return LR_ENOMEM;
	}
	c->seg = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c->seg == MAP_FAILED) {
		free(c);
		*why = "mmap failed";
		return LR_EIO;
	}
	geometry(len, &g);
	c->map_len = len;
	c->nbuckets = g.nbuckets;
	c->ring = g.data_size;
	c->index = (lr_cache_way *)((unsigned char *)c->seg + g.index_off);
	c->data = (unsigned char *)c->seg + g.data_off;
	*out = c;
	return 0;
}

static int init_mutex(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int e;

	if (pthread_mutexattr_init(&a) != 0)
		return LR_EIO;
	/* Error-checking: a relock from a signal handler fails instead of
	 * hanging the thread for the whole wait. */
	e = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) |
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) |
	    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	if (e == 0)
		e = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return e ? LR_EIO : 0;
}

/* Lays out a new segment (lr_shm_create_atomic's init: nobody else can see
 * it yet), the magic last. */
static int init_segment(void *map, void *ctx)
{
	lr_cache_seg *s = map;

	geometry(*(size_t *)ctx, s);
	s->layout = LR_CACHE_LAYOUT;
	s->hdr_size = sizeof(*s);
	if (init_mutex(&s->lock) < 0)
		return LR_EIO;
	atomic_store_explicit(&s->magic, magic_word(), memory_order_release);
	return 0;
}

/* Regular file, one name, ours, no group/other bits, a size a cache has:
 * checked before anything is mapped. */
static int check_file(int fd, size_t *len, const char **why)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		*why = "fstat failed";
		return LR_EIO;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		*why = "not a regular file with one name (a hard link?)";
		return LR_EUNTRUSTED;
	}
	if (st.st_uid != geteuid()) {
		*why = "owned by another user";
		return LR_EUNTRUSTED;
	}
	if (st.st_mode & 077) {
		*why = "accessible to group or others";
		return LR_EUNTRUSTED;
	}
	if (st.st_size == 0) {
		*why = "left empty by an interrupted creator";
		return LR_EBUSY;
	}
	if ((uint64_t)st.st_size < LR_CACHE_MIN_SIZE || (uint64_t)st.st_size > LR_CACHE_MAX_SIZE) {
		*why = "not an llmroute cache (size)";
		return LR_EVERSION;
	}
	*len = (size_t)st.st_size;
	return 0;
}

static int header_ok(const lr_cache_seg *s, size_t len)
{
	lr_cache_seg g;

	geometry(len, &g);
	return s->layout == LR_CACHE_LAYOUT && s->hdr_size == sizeof(*s) &&
	       s->total_size == len && s->nbuckets == g.nbuckets && s->index_off == g.index_off &&
	       s->data_off == g.data_off && s->data_size == g.data_size;
}

/* Segments are created whole (lr_shm_create_atomic), so one with no magic
 * was left by a creator of an older llmroute killed half-way: LR_EBUSY,
 * which lr_cache_open with `create` replaces. */
static int attach_segment(int fd, lr_cache **out, const char **why)
{
	uint64_t m;
	size_t len;
	int rc = check_file(fd, &len, why);

	if (rc < 0 || (rc = map_cache(fd, len, out, why)) < 0)
		return rc;
	m = atomic_load_explicit(&(*out)->seg->magic, memory_order_acquire);
	if (m == 0) {
		*why = "left half-made by an interrupted creator";
		rc = LR_EBUSY;
	} else if (m != magic_word() || !header_ok((*out)->seg, len)) {
		*why = "not an llmroute cache, or another layout version";
		rc = LR_EVERSION;
	}
	if (rc < 0) {
		lr_cache_close(*out);
		*out = NULL;
	}
	return rc;
}

/* Opens the name, or creates a whole new segment under it; loops only when
 * the name vanishes or appears between our two calls.  *out is set when we
 * created it. */
static int open_fd(const char *name, size_t size, int create, int *fd, lr_cache **out, const char **why)
{
	int tries;
	void *map;

	for (tries = 0; tries < 4; tries++) {
		/* O_NONBLOCK: a FIFO under the name must not hang us */
		*fd = shm_open(name, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
		if (*fd >= 0)
			return 0;
		if (errno == EACCES) {
			*why = "not accessible (owned by another user?)";
			return LR_EUNTRUSTED;
		}
		if (errno != ENOENT) {
			*why = errno == EINVAL || errno == ENAMETOOLONG ? "bad segment name" : "shm_open failed";
			return LR_EIO;
		}
		if (!create) {
			*why = "no cache segment";
			return LR_ENOTFOUND;
		}
		*fd = lr_shm_create_atomic(name, 0600, size, init_segment, &size, &map, why);
		if (*fd >= 0) {
			int rc = map_cache(*fd, size, out, why);
			munmap(map, size);
			return rc;
		}
		if (*fd != LR_EBUSY)
			return *fd;
	}
	*fd = -1;
	*why = "segment name keeps appearing and vanishing";
	return LR_EBUSY;
}

int lr_cache_open(const char *name, size_t size, int create, lr_cache **out, const char **why)
{
	const char *dummy;
	int fd = -1, rc, pass;

	if (!why)
		why = &dummy;
	*out = NULL;
	size = clamp_size(size);
	for (pass = 0; pass < 2; pass++) {
		rc = open_fd(name, size, create, &fd, out, why);
		if (rc < 0 || *out)
			break;
		rc = attach_segment(fd, out, why);
		close(fd); /* the mapping is all we need: no descriptor left in the host */
		fd = -1;
		if (rc != LR_EBUSY || !create)
			break;
		shm_unlink(name); /* half-made and ours (checked): make a whole one */
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

void lr_cache_close(lr_cache *c)
{
	if (!c)
		return;
	munmap(c->seg, c->map_len);
	free(c);
}

int lr_cache_unlink(const char *name)
{
	if (shm_unlink(name) == 0)
		return 0;
	return errno == ENOENT ? LR_ENOTFOUND : LR_EIO;
}

/* ---- the lock ---- */

static void reset_locked(lr_cache *c)
{
	memset(c->index, 0, c->nbuckets * LR_CACHE_WAYS * sizeof(lr_cache_way));
	c->seg->tail = c->seg->head; /* positions keep growing: old bytes never match again */
}

static int cache_lock(lr_cache *c)
{
	struct timespec t;
	int e;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += LOCK_WAIT_NS;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	e = pthread_mutex_timedlock(&c->seg->lock, &t);
	if (e == EOWNERDEAD) {
		/* The holder died, maybe mid-put: drop everything rather than
		 * trust a half-written index. */
		pthread_mutex_consistent(&c->seg->lock);
		reset_locked(c);
		return 0;
	}
	return e == 0 ? 0 : LR_EBUSY;
}

static void cache_unlock(lr_cache *c)
{
	pthread_mutex_unlock(&c->seg->lock);
}

static void count(_Atomic uint64_t *ctr)
{
	atomic_fetch_add_explicit(ctr, 1, memory_order_relaxed);
}

/* ---- index and log, all under the lock ---- */

static lr_cache_way *bucket_of(const lr_cache *c, uint64_t key_lo)
{
	return c->index + (key_lo % c->nbuckets) * LR_CACHE_WAYS;
}

/* Is [pos, pos+len) a whole, not yet overwritten stretch of the ring? */
static int intact(const lr_cache *c, uint64_t pos, uint64_t len)
{
	uint64_t head = c->seg->head, off = pos % c->ring;

	return pos % 8 == 0 && len % 8 == 0 && len >= sizeof(lr_cache_entry) && len <= c->ring - off &&
	       pos <= head && len <= head - pos && head - pos <= c->ring && pos >= c->seg->tail;
}

/* The entry an intact way points to, if its header agrees with the way. */
static const lr_cache_entry *entry_of(const lr_cache *c, const lr_cache_way *w)
{
	const lr_cache_entry *e;

	e = (const lr_cache_entry *)(c->data + w->pos % c->ring);
	if (e->magic != LR_CACHE_ENTRY_MAGIC || e->pos != w->pos || e->len != w->len ||
	    e->key_lo != w->key_lo || e->key_hi != w->key_hi || e->expires_at != w->expires_at ||
	    (uint64_t)e->hlen + e->blen > e->len - sizeof(*e))
		return NULL;
	return e;
}

static int way_live(const lr_cache *c, const lr_cache_way *w, long long now_s)
{
	return w->len && w->expires_at > now_s && intact(c, w->pos, w->len);
}

/* The entry at the tail is about to be overwritten: drop its way. */
static void drop_overrun(lr_cache *c, const lr_cache_entry *e, long long now_s)
{
	lr_cache_way *w = bucket_of(c, e->key_lo);
	int i;

	for (i = 0; i < LR_CACHE_WAYS; i++) {
		if (w[i].len && w[i].pos == e->pos && w[i].key_lo == e->key_lo && w[i].key_hi == e->key_hi) {
			if (w[i].expires_at > now_s)
				count(&c->seg->evictions);
			memset(&w[i], 0, sizeof(w[i]));
		}
	}
}

/* Walks the tail up to `limit`.  Where the tail does not hold an entry
 * written at that very position (the wasted end of a lap, or damage), the
 * rest of that lap is skipped. */
static void walk_tail(lr_cache *c, uint64_t limit, long long now_s)
{
	uint64_t tail = c->seg->tail, head = c->seg->head;
	int steps = 0;

	if (tail > head || head - tail > c->ring)
		tail = head >= c->ring ? head - c->ring : 0; /* damaged: resynchronise */
	while (tail < limit) {
		uint64_t off = tail % c->ring;
		const lr_cache_entry *e = (const lr_cache_entry *)(c->data + off);

		if (++steps > MAX_WALK) {
			tail = limit;
			break;
		}
		if (off % 8 || c->ring - off < sizeof(*e) || e->magic != LR_CACHE_ENTRY_MAGIC || e->pos != tail ||
		    e->len < sizeof(*e) || e->len > c->ring - off || e->len % 8) {
			tail += c->ring - off;
			continue;
		}
		drop_overrun(c, e, now_s);
		tail += e->len;
	}
	c->seg->tail = tail;
}

/* Where a put of `key` goes: its own way, else a free, stale or expired
 * one, else the oldest (counted as an eviction). */
static lr_cache_way *choose_way(lr_cache *c, const lr_cache_key *k, long long now_s)
{
	lr_cache_way *w = bucket_of(c, k->lo), *oldest = w;
	int i;

	for (i = 0; i < LR_CACHE_WAYS; i++)
		if (w[i].len && w[i].key_lo == k->lo && w[i].key_hi == k->hi)
			return &w[i];
	for (i = 0; i < LR_CACHE_WAYS; i++) {
		if (!way_live(c, &w[i], now_s))
			return &w[i];
		if (w[i].pos < oldest->pos)
			oldest = &w[i];
	}
	count(&c->seg->evictions);
	return oldest;
}

static void write_entry(lr_cache *c, uint64_t pos, const lr_cache_entry *e, const char *hd,
			const char *body)
{
	unsigned char *p = c->data + pos % c->ring;

	memcpy(p, e, sizeof(*e));
	if (e->hlen)
		memcpy(p + sizeof(*e), hd, e->hlen);
	if (e->blen)
		memcpy(p + sizeof(*e) + e->hlen, body, e->blen);
}

/* Appends e at the head (never straddling the end of the ring) and indexes it. */
static void append_locked(lr_cache *c, lr_cache_entry *e, const char *hd, const char *body,
			  long long now_s)
{
	uint64_t pos = c->seg->head, off = pos % c->ring;
	lr_cache_way *w;

	if (e->len > c->ring - off)
		pos += c->ring - off;
	if (pos % 8 || pos < c->seg->head || pos > UINT64_MAX - e->len) {
		/* only a scribbled head comes within a lap of 2^64 bytes */
		reset_locked(c);
		c->seg->head = c->seg->tail = pos = 0;
	}
	walk_tail(c, pos + e->len > c->ring ? pos + e->len - c->ring : 0, now_s);
	e->pos = pos;
	write_entry(c, pos, e, hd, body);
	c->seg->head = pos + e->len;
	w = choose_way(c, &(lr_cache_key){ e->key_lo, e->key_hi }, now_s);
	w->key_lo = e->key_lo;
	w->key_hi = e->key_hi;
	w->pos = pos;
	w->len = e->len;
	w->stored_at = e->stored_at;
	w->expires_at = e->expires_at;
}

int lr_cache_put(lr_cache *c, const lr_cache_key *k, long long now_s, int ttl_s, size_t max_entry,
		 int status, const char *headers, size_t hlen, const char *body, size_t blen)
{
	lr_cache_entry e;
	uint64_t need;

	if (!c || !k || ttl_s <= 0 || (hlen && !headers) || (blen && !body))
		return LR_EINVAL;
	need = ALIGN_UP((uint64_t)sizeof(e) + hlen + blen, 8);
	if (hlen > c->ring || blen > c->ring || need > c->ring / 4 ||
	    (max_entry && hlen + blen > max_entry)) {
		count(&c->seg->too_big);
		return LR_ETOOBIG;
	}
	memset(&e, 0, sizeof(e));
	e.magic = LR_CACHE_ENTRY_MAGIC;
	e.key_lo = k->lo;
	e.key_hi = k->hi;
	e.len = (uint32_t)need;
	e.status = status;
	e.hlen = (uint32_t)hlen;
	e.blen = (uint32_t)blen;
	e.stored_at = now_s;
	e.expires_at = now_s < LLONG_MAX - ttl_s ? now_s + ttl_s : LLONG_MAX;
	e.sum = checksum(headers, hlen, body, blen); /* before the lock: keep it short */
	if (cache_lock(c) < 0)
		return LR_EBUSY;
	append_locked(c, &e, headers, body, now_s);
	cache_unlock(c);
	count(&c->seg->stores);
	return 0;
}

void lr_cache_hit_free(lr_cache_hit *h)
{
	if (!h)
		return;
	free(h->headers);
	free(h->body);
	memset(h, 0, sizeof(*h));
}

/* Finds the key and copies its entry out; the checksum is the caller's. */
static int lookup_locked(lr_cache *c, const lr_cache_key *k, long long now_s, lr_cache_hit *out,
			 uint64_t *sum)
{
	lr_cache_way *w = bucket_of(c, k->lo);
	const lr_cache_entry *e;
	int i;

	for (i = 0; i < LR_CACHE_WAYS; i++)
		if (w[i].len && w[i].key_lo == k->lo && w[i].key_hi == k->hi)
			break;
	if (i == LR_CACHE_WAYS)
		return LR_ENOTFOUND;
	if (!intact(c, w[i].pos, w[i].len)) {
		/* overrun but not dropped (a capped tail walk): a plain miss */
		memset(&w[i], 0, sizeof(w[i]));
		return LR_ENOTFOUND;
	}
	e = entry_of(c, &w[i]);
	if (!e)
		return LR_ECORRUPT;
	if (e->expires_at <= now_s) {
		count(&c->seg->expired);
		return LR_ENOTFOUND;
	}
	out->headers = malloc((size_t)e->hlen + 1);
	out->body = malloc((size_t)e->blen + 1);
	if (!out->headers || !out->body)
		return LR_ENOMEM;
	memcpy(out->headers, (const char *)(e + 1), e->hlen);
	memcpy(out->body, (const char *)(e + 1) + e->hlen, e->blen);
	out->headers[e->hlen] = '\0';
	out->body[e->blen] = '\0';
	out->headers_len = e->hlen;
	out->body_len = e->blen;
	out->status = e->status;
	out->stored_at = e->stored_at;
	out->expires_at = e->expires_at;
	*sum = e->sum;
	return 0;
}

int lr_cache_get(lr_cache *c, const lr_cache_key *k, long long now_s, lr_cache_hit *out)
{
	uint64_t sum = 0;
	int rc;

	if (!out)
		return LR_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!c || !k)
		return LR_EINVAL;
	if (cache_lock(c) < 0)
		return LR_EBUSY;
	rc = lookup_locked(c, k, now_s, out, &sum);
	cache_unlock(c);
	/* checked on our private copy, outside the lock */
	if (rc == 0 && checksum(out->headers, out->headers_len, out->body, out->body_len) != sum)
		rc = LR_ECORRUPT;
	if (rc < 0) {
		lr_cache_hit_free(out);
		count(&c->seg->misses);
		return rc;
	}
	count(&c->seg->hits);
	return 0;
}

int lr_cache_get_stats(lr_cache *c, long long now_s, lr_cache_stats *out)
{
	lr_cache_seg *s = c->seg;
	uint64_t i, n = c->nbuckets * LR_CACHE_WAYS;

	memset(out, 0, sizeof(*out));
	out->capacity_bytes = c->ring;
	if (cache_lock(c) < 0)
		return LR_EBUSY;
	for (i = 0; i < n; i++) {
		if (way_live(c, &c->index[i], now_s)) {
			out->entries++;
			out->used_bytes += c->index[i].len;
		}
	}
	cache_unlock(c);
	if (out->used_bytes > out->capacity_bytes) /* only a damaged index gets here */
		out->used_bytes = out->capacity_bytes;
	out->hits = atomic_load(&s->hits);
	out->misses = atomic_load(&s->misses);
	out->stores = atomic_load(&s->stores);
	out->evictions = atomic_load(&s->evictions);
	out->too_big = atomic_load(&s->too_big);
	out->expired = atomic_load(&s->expired);
	return 0;
}

int lr_cache_clear(lr_cache *c)
{
	lr_cache_seg *s = c->seg;

	if (cache_lock(c) < 0)
		return LR_EBUSY;
	reset_locked(c);
	atomic_store(&s->hits, 0);
	atomic_store(&s->misses, 0);
	atomic_store(&s->stores, 0);
	atomic_store(&s->evictions, 0);
	atomic_store(&s->too_big, 0);
	atomic_store(&s->expired, 0);
	cache_unlock(c);
	return 0;
}
