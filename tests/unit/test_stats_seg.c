/*
 * test_stats_seg.c - the live counters' System V segment: created whole,
 * mended by the next load when its creator died half-way, refused when
 * another user made it, harmless when anyone scribbles on it, and never
 * shrinkable under a reader.
 */
#include "lr_error.h"
#include "lr_stats.h"
#include "lr_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char table[64];

static int mode_of(void)
{
	struct shmid_ds ds;
	int id = lr_stats_current_id(table);

	return id >= 0 && shmctl(id, IPC_STAT, &ds) == 0 ? (int)(ds.shm_perm.mode & 0777) : -1;
}

static void test_create(void)
{
	const char *note = "x", *why = NULL;
	lr_stats_seg *s;
	lr_stats_delta d = {1, 0, 1, 1, 0.5, 2, 0, 0};
	lr_stats_totals t;
	int err, id;

	CHECK(lr_stats_key(table) == lr_stats_key(table) && lr_stats_key(table) != IPC_PRIVATE);
	CHECK(lr_stats_key(table) != lr_stats_key("/another"));
	CHECK(lr_stats_attach(table, 1, NULL, &err, &why) == NULL);
	CHECK_INT(err, LR_ENOTFOUND);
	CHECK_INT(lr_stats_ensure(table, &note, &why), 0);
	CHECK(note == NULL);
	CHECK_INT(mode_of(), 0666);
	s = lr_stats_attach(table, 1, &id, &err, &why);
	CHECK(s != NULL && id == lr_stats_current_id(table));
	if (!s)
		return;
	CHECK_INT(lr_stats_add(s, LR_STATS_ROUTE, "r", &d), 0);
	CHECK_INT(lr_stats_get(s, LR_STATS_ROUTE, "r", &t), 0);
	CHECK_INT(t.requests, 1);
	/* a second ensure keeps it and its counts */
	CHECK_INT(lr_stats_ensure(table, &note, &why), 0);
	CHECK(note == NULL && lr_stats_current_id(table) == id);
	CHECK_INT(lr_stats_get(s, LR_STATS_ROUTE, "r", &t), 0);
	lr_stats_detach(s);
}

/* What a creator killed between shmget and its header leaves. */
static void test_half_made(void)
{
	const char *note = NULL, *why = NULL;
	lr_stats_seg *s;
	int err, id;

	lr_stats_remove(table);
	id = shmget(lr_stats_key(table), sizeof(lr_stats_seg), IPC_CREAT | IPC_EXCL | 0600);
	CHECK(id >= 0);
	CHECK(lr_stats_attach(table, 1, NULL, &err, &why) == NULL);
	CHECK_INT(err, LR_EBUSY); /* not yet: the shim tries again later */
	CHECK_INT(lr_stats_ensure(table, &note, &why), 0);
	CHECK(note && strstr(note, "interrupted"));
	CHECK_INT(mode_of(), 0666);
	CHECK_INT(lr_stats_current_id(table), id);
	s = lr_stats_attach(table, 1, NULL, &err, &why);
	CHECK(s != NULL);
	lr_stats_detach(s);
	/* killed after the header, before opening it up */
	{
		struct shmid_ds ds;
		CHECK(shmctl(id, IPC_STAT, &ds) == 0);
		ds.shm_perm.mode = 0600;
		CHECK(shmctl(id, IPC_SET, &ds) == 0);
	}
	CHECK_INT(lr_stats_ensure(table, &note, &why), 0);
	CHECK(note != NULL);
	CHECK_INT(mode_of(), 0666);
}

static void hammer(lr_stats_seg *s)
{
	static const char *names[] = {"r", "gpt-4o", "fast", "", "a-very-long-name-that-goes-on-and-on-and-on-and-on-and-on-"
				      "and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on"};
	lr_stats_delta d = {1, 1, 5, 5, 0.01, 3, 0, 0};
	lr_stats_totals t;
	long long now = (long long)time(NULL);
	int i, k;

	for (i = 0; i < 200; i++)
		for (k = 1; k <= LR_STATS_DAY_MODEL; k++) {
			const char *n = names[i % 5];
			lr_stats_add(s, k, n, &d);
			lr_stats_add_day(s, k, n, now, &d);
			lr_stats_get(s, k, n, &t);
			lr_stats_get_day(s, k, n, now, &t);
			lr_stats_health_fail(s, n, now, 3, 30, 30, 0);
			lr_stats_down_until(s, n, now);
			lr_stats_health_ok(s, n);
		}
}

/* Anyone may write the counters: random bytes everywhere give wrong
 * numbers, never a crash; a new reader refuses the scribbled header and the
 * next load starts it afresh. */
static void test_garbage(void)
{
	const char *note = NULL, *why = NULL;
	lr_stats_seg *s = lr_stats_attach(table, 1, NULL, NULL, NULL);
	char day[32];
	size_t i;
	int err;

	CHECK(s != NULL);
	if (!s)
		return;
	srand(12345);
	for (i = 0; i < sizeof(*s); i++)
		((unsigned char *)s)[i] = (unsigned char)rand();
	hammer(s);
	for (i = 0; i < 64; i++)
		((unsigned char *)s->slot)[i * 3001 % sizeof(s->slot)] = 0xff;
	hammer(s);
	CHECK(strlen(lr_stats_day_str(~0ULL, day, sizeof(day))) < sizeof(day));
	CHECK(lr_stats_attach(table, 1, NULL, &err, &why) == NULL);
	CHECK_INT(err, LR_EVERSION);
	CHECK_INT(lr_stats_ensure(table, &note, &why), 0);
	CHECK(note && strstr(note, "damaged"));
	lr_stats_detach(s);
	s = lr_stats_attach(table, 1, NULL, &err, &why);
	CHECK(s != NULL);
	lr_stats_detach(s);
}

/* Another user's segment under our key: never used; root's load removes it
 * and makes ours. */
static void test_squatter(void)
{
	const char *note = NULL, *why = NULL;
	int err, st;
	pid_t p;

	if (geteuid() != 0) {
		fprintf(stderr, "test_stats_seg: not root: the squatter case is not run\n");
		return;
	}
	lr_stats_remove(table);
	p = fork();
	if (p == 0) {
		lr_stats_seg *s;
		int id;
		if (setgid(12345) < 0 || setuid(12345) < 0)
			_exit(2);
		id = shmget(lr_stats_key(table), sizeof(lr_stats_seg), IPC_CREAT | IPC_EXCL | 0666);
		if (id < 0 || (s = shmat(id, NULL, 0)) == (void *)-1)
			_exit(3);
		memcpy((void *)&s->magic, LR_STATS_MAGIC, 8); /* looks like ours */
		s->layout = LR_STATS_LAYOUT;
		s->nslots = LR_STATS_SLOTS;
		_exit(0);
	}
	CHECK(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(lr_stats_attach(table, 1, NULL, &err, &why) == NULL);
	CHECK_INT(err, LR_EUNTRUSTED);
	CHECK_INT(lr_stats_ensure(table, &note, &why), 0);
	CHECK(note && strstr(note, "uid 12345"));
	CHECK(lr_stats_attach(table, 1, NULL, &err, &why) != NULL);
}

/* Removal frees the key; an attached reader keeps a whole mapping. */
static void test_remove(void)
{
	const char *note, *why;
	lr_stats_seg *s;
	lr_stats_delta d = {1, 0, 0, 0, 0, 0, 0, 0};

	CHECK_INT(lr_stats_ensure(table, &note, &why), 0);
	s = lr_stats_attach(table, 1, NULL, NULL, NULL);
	CHECK(s != NULL);
	CHECK_INT(lr_stats_remove(table), 0);
	CHECK_INT(lr_stats_current_id(table), -1);
	CHECK_INT(lr_stats_remove(table), LR_ENOTFOUND);
	if (s) {
		CHECK_INT(lr_stats_add(s, LR_STATS_ROUTE, "after", &d), 0);
		lr_stats_detach(s);
	}
}

/* The latency histogram: a bound belongs to its own bucket ("le"), each
 * duration to exactly one, and a reset empties them. */
static void test_latency_buckets(void)
{
	const char *note, *why;
	double ms[] = {1, 5, 5.001, 100, 120000, 120001, 1e9};
	int want[] = {0, 0, 1, 4, 13, 14, 14}, i, n = 0, err;
	lr_stats_seg *s;
	uint64_t sum = 0;

	CHECK(lr_stats_lat_bound_ms(0) == 5 && lr_stats_lat_bound_ms(LR_STATS_LAT_BUCKETS - 2) == 120000);
	CHECK(lr_stats_lat_bound_ms(LR_STATS_LAT_BUCKETS - 1) < 0 && lr_stats_lat_bound_ms(-1) < 0);
	for (i = 0; i < (int)(sizeof(ms) / sizeof(ms[0])); i++)
		CHECK_INT(lr_stats_lat_bucket(ms[i]), want[i]);
	CHECK_INT(lr_stats_ensure(table, &note, &why), 0);
	if (!(s = lr_stats_attach(table, 1, NULL, &err, &why)))
		return;
	for (i = 0; i < (int)(sizeof(ms) / sizeof(ms[0])); i++) {
		lr_stats_delta d = {1, 0, 0, 0, 0, ms[i], 0, 0};
		CHECK_INT(lr_stats_add(s, LR_STATS_MODEL, "hist", &d), 0);
	}
	for (i = 0; i < LR_STATS_SLOTS; i++)
		if (atomic_load(&s->slot[i].state) == 2 && s->slot[i].kind == LR_STATS_MODEL &&
		    !strcmp(s->slot[i].name, "hist"))
			break;
	CHECK(i < LR_STATS_SLOTS);
	if (i < LR_STATS_SLOTS) {
		for (n = 0; n < LR_STATS_LAT_BUCKETS; n++)
			sum += atomic_load(&s->slot[i].latency_bucket[n]);
		CHECK_INT(sum, 7);
		CHECK_INT(atomic_load(&s->slot[i].latency_bucket[0]), 2);
		CHECK_INT(atomic_load(&s->slot[i].latency_bucket[14]), 2);
		lr_stats_reset(s);
		CHECK_INT(atomic_load(&s->slot[i].latency_bucket[14]), 0);
	}
	lr_stats_detach(s);
}

int main(void)
{
	snprintf(table, sizeof(table), "/lrtest-seg-%ld", (long)getpid());
	lr_stats_remove(table);
	test_create();
	test_half_made();
	test_garbage();
	test_squatter();
	test_remove();
	lr_stats_remove(table);
	test_latency_buckets();
	lr_stats_remove(table);
	return lr_test_done("test_stats_seg");
}
