/*
 * test_cache.c - the shared response cache: keys, round trips, expiry,
 * the ring wrapping, counters, trust, damage, and several processes.
 *
 * Every answer body here is a function of (key number, version), so a hit
 * can always be checked byte for byte: the one thing the cache must never
 * do is return wrong bytes.  Damage is done by mapping the segment directly
 * and scribbling on it; every lookup afterwards must fail cleanly (under
 * ASan in the sanitized build).
 */
#include "lr_test.h"
#include "lr_cache.h"
#include "lr_error.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB (1u << 20)
#define NOW 1700000000LL

static char name[64];
static const char HDRS[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n";

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static lr_cache_key key_n(const char *tag, int i)
{
	char buf[64];
	lr_cache_part p[2] = { { tag, strlen(tag) }, { buf, 0 } };

	p[1].len = (size_t)snprintf(buf, sizeof(buf), "%d", i);
	return lr_cache_key_of(p, 2);
}

/* The body of answer (i, version): binary, with NULs, its length from i. */
static size_t body_of(int i, int version, size_t len, char *buf)
{
	size_t j;

	for (j = 0; j < len; j++)
		buf[j] = (j % 13 == 0) ? '\0' : (char)(i * 131 + version * 17 + (int)j * 7);
	return len;
}

static int hit_is(const lr_cache_hit *h, int i, int version, size_t len)
{
	char want[8192];

	if (len > sizeof(want) || h->body_len != len || h->status != 200 + version ||
	    h->headers_len != sizeof(HDRS) - 1 || memcmp(h->headers, HDRS, sizeof(HDRS) - 1) != 0)
		return 0;
	body_of(i, version, len, want);
	return memcmp(h->body, want, len) == 0;
}

static int put_n(lr_cache *c, const char *tag, int i, int version, size_t len, long long now, int ttl)
{
	char body[8192];
	lr_cache_key k = key_n(tag, i);

	body_of(i, version, len, body);
	return lr_cache_put(c, &k, now, ttl, 0, 200 + version, HDRS, sizeof(HDRS) - 1, body, len);
}

/* 1 hit byte-exact, 0 miss, -1 wrong bytes or an unexpected code, -2 busy. */
static int check_n(lr_cache *c, const char *tag, int i, int version, size_t len, long long now)
{
	lr_cache_key k = key_n(tag, i);
	lr_cache_hit h;
	int rc = lr_cache_get(c, &k, now, &h), ok;

	if (rc == LR_ENOTFOUND)
		return 0;
	if (rc == LR_EBUSY)
		return -2;
	if (rc < 0)
		return -1;
	ok = hit_is(&h, i, version, len);
	lr_cache_hit_free(&h);
	return ok ? 1 : -1;
}

static size_t entry_len(size_t payload)
{
	return (sizeof(lr_cache_entry) + payload + 7) & ~(size_t)7;
}

static void *map_seg(const char *nm, size_t *len)
{
	int fd = shm_open(nm, O_RDWR, 0);
	struct stat st;
	void *p;

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	*len = (size_t)st.st_size;
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static void test_keys(void)
{
	lr_cache_part ab_c[2] = { { "ab", 2 }, { "c", 1 } }, a_bc[2] = { { "a", 1 }, { "bc", 2 } };
	lr_cache_part abc[1] = { { "abc", 3 } }, empty[1] = { { NULL, 0 } };
	lr_cache_key k1 = lr_cache_key_of(ab_c, 2), k2 = lr_cache_key_of(a_bc, 2);
	lr_cache_key k3 = lr_cache_key_of(abc, 1), k4 = lr_cache_key_of(ab_c, 2);
	lr_cache_key k5 = lr_cache_key_of(empty, 1), k6 = lr_cache_key_of(NULL, 0);

	CHECK(k1.lo != k2.lo && k1.hi != k2.hi);
	CHECK(k1.lo != k3.lo && k2.lo != k3.lo);
	CHECK(k1.lo == k4.lo && k1.hi == k4.hi);
	CHECK(k5.lo != k6.lo); /* one empty part is not no part */
	/* Stable across builds and hosts: processes of different builds share a segment. */
	CHECK(k1.lo == 0x085afeddc878bf0aULL && k1.hi == 0x2e08ef7d566c6dfcULL);
	if (k1.lo != 0x085afeddc878bf0aULL)
		fprintf(stderr, "key_of(ab,c) = %016llx %016llx\n", (unsigned long long)k1.lo,
			(unsigned long long)k1.hi);
}

static void test_name(void)
{
	char buf[80], want[80];

	snprintf(want, sizeof(want), "/llmroute.cache.%u", (unsigned)geteuid());
	CHECK_STR(lr_cache_name("/llmroute", buf, sizeof(buf)), want);
}

static void test_round_trip(lr_cache *c)
{
	char body[3000];
	lr_cache_key k = key_n("rt", 1), other = key_n("rt", 2);
	lr_cache_hit h;

	body_of(1, 0, sizeof(body), body);
	CHECK_INT(lr_cache_put(c, &k, NOW, 60, 0, 200, HDRS, sizeof(HDRS) - 1, body, sizeof(body)), 0);
	CHECK_INT(lr_cache_get(c, &k, NOW + 1, &h), 0);
	CHECK(hit_is(&h, 1, 0, sizeof(body)));
	CHECK_INT(h.stored_at, NOW);
	CHECK_INT(h.expires_at, NOW + 60);
	CHECK_INT(h.body[h.body_len], 0);
	lr_cache_hit_free(&h);
	CHECK_INT(lr_cache_get(c, &other, NOW, &h), LR_ENOTFOUND);
	CHECK(h.body == NULL && h.headers == NULL);
	/* empty headers and body */
	CHECK_INT(lr_cache_put(c, &other, NOW, 60, 0, 204, NULL, 0, NULL, 0), 0);
	CHECK_INT(lr_cache_get(c, &other, NOW, &h), 0);
	CHECK(h.status == 204 && h.body_len == 0 && h.headers_len == 0 && h.body && h.headers);
	lr_cache_hit_free(&h);
	CHECK_INT(lr_cache_put(c, &other, NOW, 0, 0, 200, NULL, 0, NULL, 0), LR_EINVAL);
}

static void test_expiry_replace(lr_cache *c)
{
	CHECK_INT(put_n(c, "exp", 1, 0, 500, NOW, 10), 0);
	CHECK_INT(check_n(c, "exp", 1, 0, 500, NOW + 9), 1);
	CHECK_INT(check_n(c, "exp", 1, 0, 500, NOW + 10), 0);
	CHECK_INT(put_n(c, "rep", 1, 0, 700, NOW, 60), 0);
	CHECK_INT(put_n(c, "rep", 1, 1, 900, NOW, 60), 0);
	CHECK_INT(check_n(c, "rep", 1, 1, 900, NOW), 1);
}

static void test_too_big(lr_cache *c)
{
	static char big[MiB / 4];
	lr_cache_key k = key_n("big", 1);
	lr_cache_stats st;

	CHECK_INT(lr_cache_clear(c), 0);
	CHECK_INT(lr_cache_put(c, &k, NOW, 60, 100, 200, HDRS, 50, big, 51), LR_ETOOBIG);
	CHECK_INT(lr_cache_put(c, &k, NOW, 60, 0, 200, NULL, 0, big, sizeof(big)), LR_ETOOBIG);
	CHECK_INT(lr_cache_put(c, &k, NOW, 60, 0, 200, NULL, 0, big, (size_t)-1 / 2), LR_ETOOBIG);
	CHECK_INT(lr_cache_put(c, &k, NOW, 60, 101, 200, HDRS, 50, big, 51), 0);
	CHECK_INT(lr_cache_get_stats(c, NOW, &st), 0);
	CHECK_INT(st.too_big, 3);
	CHECK_INT(st.stores, 1);
}

/* A scripted sequence and the exact counters it must leave. */
static void test_stats(lr_cache *c)
{
	lr_cache_stats st;
	lr_cache_key k = key_n("none", 0);

	CHECK_INT(lr_cache_clear(c), 0);
	CHECK_INT(put_n(c, "st", 1, 0, 1000, NOW, 60), 0);
	CHECK_INT(put_n(c, "st", 2, 0, 2000, NOW, 60), 0);
	CHECK_INT(put_n(c, "st", 3, 0, 3000, NOW, 5), 0);
	CHECK_INT(check_n(c, "st", 1, 0, 1000, NOW), 1);
	CHECK_INT(check_n(c, "st", 2, 0, 2000, NOW), 1);
	CHECK_INT(check_n(c, "st", 4, 0, 100, NOW), 0);
	CHECK_INT(put_n(c, "st", 1, 1, 1500, NOW, 60), 0);                /* replaces */
	CHECK_INT(check_n(c, "st", 3, 0, 3000, NOW + 5), 0);              /* expired */
	CHECK_INT(lr_cache_put(c, &k, NOW, 60, 10, 200, HDRS, 20, "", 0), LR_ETOOBIG);
	CHECK_INT(lr_cache_get_stats(c, NOW + 5, &st), 0);
	CHECK_INT(st.hits, 2);
	CHECK_INT(st.misses, 2);
	CHECK_INT(st.expired, 1);
	CHECK_INT(st.stores, 4);
	CHECK_INT(st.too_big, 1);
	CHECK_INT(st.evictions, 0);
	CHECK_INT(st.entries, 2);
	CHECK_INT(st.used_bytes, entry_len(sizeof(HDRS) - 1 + 1500) + entry_len(sizeof(HDRS) - 1 + 2000));
	CHECK(st.capacity_bytes > MiB - 64 * 1024 && st.capacity_bytes < MiB);
	CHECK_INT(lr_cache_get_stats(c, NOW, &st), 0);
	CHECK_INT(st.entries, 3);
	/* clear drops entries and counters */
	CHECK_INT(lr_cache_clear(c), 0);
	CHECK_INT(check_n(c, "st", 2, 0, 2000, NOW), 0);
	CHECK_INT(lr_cache_get_stats(c, NOW, &st), 0);
	CHECK(st.entries == 0 && st.used_bytes == 0 && st.hits == 0 && st.misses == 1 && st.stores == 0);
}

#define WRAP_PUTS 2000
#define WRAP_NEWEST 32

static size_t wrap_len(int i)
{
	return 3000 + (size_t)(i * 7919) % 2048;
}

/* Many more answers than fit: the newest hit, the oldest are gone. */
static void test_wrap(lr_cache *c)
{
	lr_cache_stats st;
	int i, bad = 0, hits = 0, old_hits = 0, busy = 0;

	CHECK_INT(lr_cache_clear(c), 0);
	for (i = 0; i < WRAP_PUTS; i++)
		busy += put_n(c, "wrap", i, 0, wrap_len(i), NOW, 600) != 0;
	CHECK_INT(busy, 0);
	for (i = 0; i < WRAP_PUTS; i++) {
		int r = check_n(c, "wrap", i, 0, wrap_len(i), NOW);
		bad += r < 0;
		hits += r == 1;
		old_hits += r == 1 && i < WRAP_PUTS / 2;
		if (i >= WRAP_PUTS - WRAP_NEWEST)
			CHECK_INT(r, 1);
	}
	CHECK_INT(bad, 0);
	CHECK_INT(old_hits, 0);
	CHECK(hits > WRAP_NEWEST && hits < 300);
	CHECK_INT(lr_cache_get_stats(c, NOW, &st), 0);
	CHECK(st.used_bytes <= st.capacity_bytes && st.used_bytes > st.capacity_bytes / 2);
	CHECK_INT(st.entries, hits);
	CHECK(st.evictions >= WRAP_PUTS - 300 && st.evictions <= WRAP_PUTS);
	CHECK_INT(st.stores, WRAP_PUTS);
}

static void test_trust_version(void)
{
	char nm[80];
	lr_cache *c = NULL;
	const char *why = NULL;
	int fd;
	struct timespec t0, t1;
	long ms;

	snprintf(nm, sizeof(nm), "%s.x", name);
	CHECK_INT(lr_cache_open(nm, MiB, 0, &c, &why), LR_ENOTFOUND);
	CHECK(c == NULL && why != NULL);
	CHECK_INT(lr_cache_open(nm, MiB, 1, &c, &why), 0);
	lr_cache_close(c);
	fd = shm_open(nm, O_RDWR, 0);
	CHECK(fd >= 0);
	CHECK_INT(fchmod(fd, 0644), 0);
	why = NULL;
	CHECK_INT(lr_cache_open(nm, MiB, 1, &c, &why), LR_EUNTRUSTED);
	CHECK(why != NULL);
	CHECK_INT(fchmod(fd, 0600), 0);
	CHECK_INT(lr_cache_open(nm, MiB, 0, &c, &why), 0);
	lr_cache_close(c);
	/* a foreign magic */
	CHECK_INT(pwrite(fd, "FOREIGN!", 8, 0), 8);
	CHECK_INT(lr_cache_open(nm, MiB, 1, &c, &why), LR_EVERSION);
	/* a magic never published (an older creator died half-way): not
	 * used, not waited for; opening with `create` replaces it */
	CHECK_INT(pwrite(fd, "\0\0\0\0\0\0\0\0", 8, 0), 8);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(lr_cache_open(nm, MiB, 0, &c, &why), LR_EBUSY);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms < 40);
	CHECK_INT(lr_cache_open(nm, MiB, 1, &c, &why), 0);
	lr_cache_close(c);
	close(fd);
	/* so is an empty one */
	fd = shm_open(nm, O_RDWR, 0);
	CHECK(fd >= 0);
	CHECK_INT(ftruncate(fd, 0), 0);
	CHECK_INT(lr_cache_open(nm, MiB, 0, &c, &why), LR_EBUSY);
	CHECK_INT(lr_cache_open(nm, MiB, 1, &c, &why), 0);
	lr_cache_close(c);
	close(fd);
	/* a size no cache has */
	fd = shm_open(nm, O_RDWR, 0);
	CHECK(fd >= 0);
	CHECK_INT(ftruncate(fd, 4096), 0);
	CHECK_INT(lr_cache_open(nm, MiB, 1, &c, &why), LR_EVERSION);
	/* a second name (a hard link someone made) */
	CHECK_INT(ftruncate(fd, MiB), 0);
	{
		char a[120], b[120];
		snprintf(a, sizeof(a), "/dev/shm%s", nm);
		snprintf(b, sizeof(b), "/dev/shm%s.link", nm);
		CHECK_INT(link(a, b), 0);
		CHECK_INT(lr_cache_open(nm, MiB, 1, &c, &why), LR_EUNTRUSTED);
		unlink(b);
	}
	close(fd);
	CHECK_INT(lr_cache_unlink(nm), 0);
	CHECK_INT(lr_cache_unlink(nm), LR_ENOTFOUND);
}

/* Every way of every key looked up: no crash, no hit. */
static int lookups_fail(lr_cache *c, const char *tag, int n)
{
	int i, bad = 0;

	for (i = 0; i < n; i++) {
		lr_cache_key k = key_n(tag, i);
		lr_cache_hit h;
		int rc = lr_cache_get(c, &k, NOW, &h);
		if (rc == 0) {
			bad++;
			lr_cache_hit_free(&h);
		} else if (rc != LR_ENOTFOUND && rc != LR_ECORRUPT) {
			bad++;
		}
	}
	return bad;
}

static void fill(lr_cache *c, const char *tag, int n)
{
	int i;

	lr_cache_clear(c);
	for (i = 0; i < n; i++)
		put_n(c, tag, i, 0, 500 + (size_t)i * 37 % 3000, NOW, 600);
}

/* After damage, new answers still go in and come back. */
static void check_recovers(lr_cache *c)
{
	lr_cache_stats st;
	int i, ok = 0;

	for (i = 0; i < 50; i++)
		put_n(c, "after", i, 0, 2000, NOW, 600);
	for (i = 0; i < 50; i++)
		ok += check_n(c, "after", i, 0, 2000, NOW) == 1;
	CHECK(ok >= 40);
	CHECK_INT(lr_cache_get_stats(c, NOW, &st), 0);
	CHECK(st.used_bytes <= st.capacity_bytes);
}

static void scribble_random(lr_cache_seg *s)
{
	unsigned char *p = (unsigned char *)s + s->index_off;
	size_t i, n = (size_t)(s->total_size - s->index_off);

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)rnd();
}

/* Huge or slightly-off positions and lengths in the ways and in the
 * entries they point to. */
static void scribble_fields(lr_cache_seg *s)
{
	lr_cache_way *w = (lr_cache_way *)((char *)s + s->index_off);
	unsigned char *data = (unsigned char *)s + s->data_off;
	uint64_t i, n = s->nbuckets * LR_CACHE_WAYS;

	for (i = 0; i < n; i++) {
		lr_cache_entry *e;
		if (!w[i].len)
			continue;
		e = (lr_cache_entry *)(data + w[i].pos % s->data_size);
		switch (i % 8) {
		case 0: w[i].pos = UINT64_MAX - 7; break;
		case 1: w[i].len = UINT32_MAX; break;
		case 2: w[i].pos += s->data_size - 8; break;
		case 3: e->hlen = UINT32_MAX; break;
		case 4: e->blen = UINT32_MAX - 100; e->hlen = 200; break;
		case 5: e->len = UINT32_MAX; w[i].len = UINT32_MAX; break;
		case 6: ((unsigned char *)(e + 1))[e->hlen] ^= 1; break; /* body byte: checksum */
		default: e->pos = UINT64_MAX; break;
		}
	}
}

static void test_corruption(lr_cache *c)
{
	size_t len;
	lr_cache_seg *s = map_seg(name, &len);
	uint64_t saved_head;
	lr_cache_stats st;

	CHECK(s != NULL);
	if (!s)
		return;
	fill(c, "dmg", 300);
	scribble_random(s);
	CHECK_INT(lookups_fail(c, "dmg", 300), 0);
	CHECK_INT(lr_cache_get_stats(c, NOW, &st), 0);
	CHECK(st.used_bytes <= st.capacity_bytes);
	check_recovers(c);

	fill(c, "dmg2", 200);
	scribble_fields(s);
	CHECK_INT(lookups_fail(c, "dmg2", 200), 0);
	check_recovers(c);

	/* a head and tail from nowhere */
	fill(c, "ht", 100);
	saved_head = s->head;
	s->head = UINT64_MAX - 100;
	s->tail = 3;
	CHECK_INT(lookups_fail(c, "ht", 100), 0);
	check_recovers(c);
	s->head = saved_head;
	s->tail = saved_head + 12345;
	CHECK(lookups_fail(c, "ht", 100) == 0);
	check_recovers(c);
	munmap(s, len);
	lr_cache_clear(c);
}

/* A flipped byte, found where the way says, gives LR_ECORRUPT. */
static void test_checksum(lr_cache *c)
{
	size_t len;
	lr_cache_seg *s = map_seg(name, &len);
	lr_cache_key k = key_n("sum", 1);
	lr_cache_way *w;
	lr_cache_hit h;
	int i;

	if (!s)
		return;
	lr_cache_clear(c);
	CHECK_INT(put_n(c, "sum", 1, 0, 1000, NOW, 60), 0);
	w = (lr_cache_way *)((char *)s + s->index_off) + (k.lo % s->nbuckets) * LR_CACHE_WAYS;
	for (i = 0; i < LR_CACHE_WAYS && w[i].key_lo != k.lo; i++)
		;
	CHECK(i < LR_CACHE_WAYS);
	if (i < LR_CACHE_WAYS) {
		unsigned char *p = (unsigned char *)s + s->data_off + w[i].pos % s->data_size;
		p[sizeof(lr_cache_entry) + sizeof(HDRS) - 1 + 500] ^= 0x40;
		CHECK_INT(lr_cache_get(c, &k, NOW, &h), LR_ECORRUPT);
	}
	munmap(s, len);
}

#define CHILD_KEYS 500

static size_t child_len(int i)
{
	return 500 + (size_t)(i * 131) % 2000;
}

/* One lookup of child key k: the version whose bytes it holds (0 or 1),
 * -1 for a miss or a busy lock, -2 for wrong bytes or an unexpected code. */
static int get_version(lr_cache *c, int k)
{
	lr_cache_key key = key_n("child", k);
	lr_cache_hit h;
	int rc = lr_cache_get(c, &key, NOW, &h), v = -2;

	if (rc == LR_ENOTFOUND || rc == LR_EBUSY)
		return -1;
	if (rc < 0)
		return -2;
	if (hit_is(&h, k, 0, child_len(k)))
		v = 0;
	else if (hit_is(&h, k, 1, child_len(k)))
		v = 1;
	lr_cache_hit_free(&h);
	return v;
}

/* Stores every key twice; last[k] is the version of k it last stored (a
 * put may find the lock busy when the machine is loaded). */
static int child_puts(const char *nm, int *last)
{
	lr_cache *c;
	int v, i;

	if (lr_cache_open(nm, 0, 0, &c, NULL) < 0)
		return 3;
	for (v = 0; v < 2; v++)
		for (i = 0; i < CHILD_KEYS; i++)
			if (put_n(c, "child", i, v, child_len(i), NOW, 600) == 0)
				last[i] = v;
	lr_cache_close(c);
	return 0;
}

/* One process stores, this one reads and stores at the same time: never
 * wrong bytes.  In 1 MiB the ring wraps under both; 8 MiB holds everything
 * both write, so however the two are scheduled every answer the child
 * stored last must be there at the end. */
static void test_two_processes(size_t size)
{
	char nm[80];
	lr_cache *c;
	pid_t pid;
	int *last, status = -1, wrong = 0, i, n = 0, hits = 0, stored = 0;

	snprintf(nm, sizeof(nm), "%s.two", name);
	last = mmap(NULL, CHILD_KEYS * sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(last != MAP_FAILED);
	CHECK_INT(lr_cache_open(nm, size, 1, &c, NULL), 0);
	if (!c || last == MAP_FAILED)
		return;
	memset(last, 0xff, CHILD_KEYS * sizeof(int)); /* -1: never stored */
	pid = fork();
	if (pid == 0)
		_exit(child_puts(nm, last));
	while (waitpid(pid, &status, WNOHANG) == 0) {
		wrong += get_version(c, (int)(rnd() % CHILD_KEYS)) == -2;
		put_n(c, "parent", n % 100, 0, 1500, NOW, 600);
		n++;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_INT(wrong, 0);
	for (i = 0; i < CHILD_KEYS; i++) {
		int v = get_version(c, i);
		wrong += v == -2 || (v >= 0 && v != last[i]);
		hits += v >= 0;
		stored += last[i] >= 0;
	}
	CHECK_INT(wrong, 0);
	if (size >= 8 * MiB)
		CHECK_INT(hits, stored);
	fprintf(stderr, "two processes, %zu KiB: %d parent rounds, %d of %d stored answers hit\n",
		size >> 10, n, hits, stored);
	munmap(last, CHILD_KEYS * sizeof(int));
	lr_cache_close(c);
	lr_cache_unlink(nm);
}

/* A holder that dies with the lock: others wait ~20 ms at most, and the
 * next lock after its death recovers (dropping the cache). */
static void test_dead_holder(lr_cache *c)
{
	int fds[2];
	pid_t pid;
	char ch;
	struct timespec t0, t1;
	long ms;

	CHECK_INT(put_n(c, "keep", 1, 0, 100, NOW, 600), 0);
	CHECK_INT(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		size_t len;
		lr_cache_seg *s = map_seg(name, &len);
		if (!s || pthread_mutex_lock(&s->lock) != 0)
			_exit(3);
		if (write(fds[1], "x", 1) != 1)
			_exit(4);
		usleep(300 * 1000);
		_exit(0); /* still holding it */
	}
	CHECK_INT(read(fds[0], &ch, 1), 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(check_n(c, "keep", 1, 0, 100, NOW), -2); /* LR_EBUSY */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= 15 && ms < 200);
	CHECK_INT(put_n(c, "keep", 2, 0, 100, NOW, 600), LR_EBUSY);
	waitpid(pid, NULL, 0);
	close(fds[0]);
	close(fds[1]);
	CHECK_INT(check_n(c, "keep", 1, 0, 100, NOW), 0); /* recovered, and dropped */
	CHECK_INT(put_n(c, "keep", 1, 0, 100, NOW, 600), 0);
	CHECK_INT(check_n(c, "keep", 1, 0, 100, NOW), 1);
}

/* Eight processes race to create one segment: all get it, none waits long. */
static void test_create_race(void)
{
	char nm[80];
	pid_t pids[8];
	int i, ok = 0;
	lr_cache *c;

	snprintf(nm, sizeof(nm), "%s.race", name);
	for (i = 0; i < 8; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			if (lr_cache_open(nm, 2 * MiB, 1, &c, NULL) < 0)
				_exit(1);
			_exit(put_n(c, "race", i, 0, 1000, NOW, 600) == 0 ? 0 : 2);
		}
	}
	for (i = 0; i < 8; i++) {
		int st;
		waitpid(pids[i], &st, 0);
		ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	CHECK_INT(ok, 8);
	CHECK_INT(lr_cache_open(nm, 0, 0, &c, NULL), 0);
	if (ok == 8 && c) {
		for (i = 0; i < 8; i++)
			CHECK_INT(check_n(c, "race", i, 0, 1000, NOW), 1);
	}
	lr_cache_close(c);
	lr_cache_unlink(nm);
}

int main(void)
{
	lr_cache *c = NULL;
	const char *why = NULL;
	struct stat st;
	int fd;

	snprintf(name, sizeof(name), "/llmroute-test-cache.%d", (int)getpid());
	test_keys();
	test_name();
	CHECK_INT(lr_cache_open(name, MiB, 1, &c, &why), 0);
	if (!c)
		return lr_test_done("test_cache");
	fd = shm_open(name, O_RDONLY, 0);
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == MiB);
	close(fd);
	test_round_trip(c);
	test_expiry_replace(c);
	test_too_big(c);
	test_stats(c);
	test_wrap(c);
	test_trust_version();
	test_corruption(c);
	test_checksum(c);
	test_two_processes(MiB);
	test_two_processes(8 * MiB);
	test_dead_holder(c);
	test_create_race();
	lr_cache_close(c);
	CHECK_INT(lr_cache_unlink(name), 0);
	return lr_test_done("test_cache");
}
