/*
 * lr_fleet.c - the fleet thread: spend to Redis, totals and health back
 * (see lr_fleet.h).
 *
 * `mu` guards the settings copied from the table and the thread's start;
 * it is never held across a wait on Redis.  The thread alone uses the
 * connection (lr_resp.h guards its descriptor against the host's closes).
 * The password is read from its variable at each connect, sent, and
 * forgotten: it is never stored, logged or put in the table.
 */
#include "lr_fleet.h"
#include "lr_choose.h"
#include "lr_fork.h"
#include "lr_log.h"
#include "lr_rec.h"
#include "lr_resp.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_SHARED_COOLDOWN_S 86400 /* a cool-down read from Redis lasts at most a day */
#define IO_MS 250             /* one exchange with Redis, at most */
#define RETRY_MS 1000         /* after a failed connect */
#define MAX_TARGETS 64
#define MAX_BATCH 256         /* pending names flushed per cycle */
#define KEY_TTL_S "259200"    /* a day's spend key outlives its day by two */

static struct {
	char host[256], prefix[128], pw_env[128], ca_file[1024];
	unsigned port, db, refresh_ms, tls;
	char targets[MAX_TARGETS][LR_STATS_NAME_MAX];
	int ntargets;
} cfg;
static __typeof__(cfg) cur;         /* the thread's snapshot of cfg */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const lr_table *cfg_table;   /* the table cfg was taken from */
static _Atomic int started;
static lr_resp conn;
static int conn_ready;              /* conn_ready and below: the thread's own */
static int down_logged;
static long long retry_at_ms;

double lr_fleet_spent(lr_stats_seg *seg, int per, const char *name, long long now)
{
	char key[LR_STATS_NAME_MAX];
	lr_stats_totals t;

	if (!seg || !name)
		return -1;
	/* a budget asked about for the first time: its slot tells the thread
	 * to read its fleet total from now on */
	if (lr_stats_get(seg, LR_STATS_FLEET_TOTAL, lr_stats_fleet_key(per, name, key, sizeof(key)), &t) < 0)
		lr_stats_set_total(seg, LR_STATS_FLEET_TOTAL, key, 0, -1, 0);
	return lr_stats_fleet_spent(seg, per, name, now, NULL);
}

void lr_fleet_count(lr_stats_seg *seg, int per, const char *name, uint64_t nusd)
{
	char key[LR_STATS_NAME_MAX];
	lr_stats_delta d = {0};

	if (!seg || !name || !*name || !nusd)
		return;
	d.cost_usd = (double)nusd / 1e9;
	lr_stats_add(seg, LR_STATS_FLEET_PENDING, lr_stats_fleet_key(per, name, key, sizeof(key)), &d);
}

void lr_fleet_closing(unsigned first, unsigned last)
{
	if (atomic_load_explicit(&started, memory_order_relaxed))
		lr_resp_closing(&conn, first, last);
}

/* --- the thread ---------------------------------------------------------- */

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say_down(const char *why)
{
	if (down_logged)
		return;
	down_logged = 1;
	lr_log(LR_LOG_ERROR, "fleet: Redis at %s:%u unavailable (%s): fleet budgets and health go on with "
	       "this host's counters; spend made meanwhile is added when it is back", cur.host, cur.port, why);
}

/* AUTH (if a password variable is named) and SELECT.  0 or -1. */
static int greet(void)
{
	const char *pw = cur.pw_env[0] ? secure_getenv(cur.pw_env) : NULL;
	char db[16];
	lr_resp_reply rep[2];
	int n = 0;

	if (pw && *pw) {
		const char *auth[] = {"AUTH", pw};
		lr_resp_append(&conn, 2, auth, NULL);
		n++;
	}
	snprintf(db, sizeof(db), "%u", cur.db);
	const char *sel[] = {"SELECT", db};
	lr_resp_append(&conn, 2, sel, NULL);
	n++;
	if (lr_resp_exchange(&conn, rep, n, IO_MS) != n)
		return say_down("no answer"), -1;
	if (rep[0].type == '-' || rep[n - 1].type == '-') {
		/* the error text only: Redis never echoes the password */
		say_down(pw && *pw && rep[0].type == '-' ? "the password was refused" : "SELECT refused");
		lr_resp_close(&conn);
		return -1;
	}
	return 0;
}

/* TCP, or TLS for rediss://: the password goes only to a server whose
 * certificate checked out.  0 or -1 (said once). */
static int open_conn(void)
{
	char why[160] = "TLS: ";

	if (!cur.tls) {
		if (lr_resp_connect(&conn, cur.host, cur.port, IO_MS) == 0)
			return 0;
		return say_down("cannot connect"), -1;
	}
	if (lr_resp_connect_tls(&conn, cur.host, cur.port, cur.ca_file[0] ? cur.ca_file : NULL, IO_MS, why + 5,
				sizeof(why) - 5) == 0)
		return 0;
	return say_down(why), -1;
}

static int ensure_conn(void)
{
	if (conn_ready && atomic_load(&conn.fd) >= 0)
		return 0;
	conn_ready = 0;
	if (mono_ms() < retry_at_ms)
		return -1;
	retry_at_ms = mono_ms() + RETRY_MS;
	if (open_conn() < 0)
		return -1;
	if (greet() < 0)
		return -1;
	conn_ready = 1;
	if (down_logged)
		lr_log(LR_LOG_ERROR, "fleet: Redis at %s:%u is back: adding the spend made meanwhile", cur.host,
		       cur.port);
	down_logged = 0;
	return 0;
}

static void day_key(char *buf, size_t cap, const char *name, long long now)
{
	char day[16];

	lr_stats_day_str((unsigned long long)now / 86400, day, sizeof(day));
	snprintf(buf, cap, "%.127sbudget:%.119s:%.15s", cur.prefix, name, day);
}

typedef struct {
	char name[LR_STATS_NAME_MAX];
	uint64_t nusd;
} taken;

/* Step 1: this host's pending spend to Redis.  What was not acknowledged
 * goes back to the pending slots. */
static void flush(lr_stats_seg *seg, long long now)
{
	static taken tk[MAX_BATCH];
	static lr_resp_reply rep[2 * MAX_BATCH];
	char key[512], num[32];
	uint32_t i;
	int n = 0, got, k;

	for (i = 0; i < LR_STATS_SLOTS && n < MAX_BATCH; i++)
		if ((tk[n].nusd = lr_stats_take(seg, i, LR_STATS_FLEET_PENDING, tk[n].name, sizeof(tk[n].name))))
			n++;
	for (k = 0; k < n; k++) {
		day_key(key, sizeof(key), tk[k].name, now);
		snprintf(num, sizeof(num), "%llu", (unsigned long long)tk[k].nusd);
		const char *incr[] = {"INCRBY", key, num}, *exp[] = {"EXPIRE", key, KEY_TTL_S};
		lr_resp_append(&conn, 3, incr, NULL);
		lr_resp_append(&conn, 3, exp, NULL);
	}
	got = n ? lr_resp_exchange(&conn, rep, 2 * n, IO_MS) : 0;
	for (k = 0; k < n; k++) {
		if (2 * k < got && rep[2 * k].type == ':') /* the fleet's new total */
			lr_stats_set_total(seg, LR_STATS_FLEET_TOTAL, tk[k].name, (uint64_t)now / 86400,
					   rep[2 * k].num, now);
		else
			lr_stats_give_back(seg, LR_STATS_FLEET_PENDING, tk[k].name, tk[k].nusd);
	}
	if (got < 2 * n)
		conn_ready = 0;
}

/* Step 2: the fleet totals of every budget this host has checked. */
static void refresh(lr_stats_seg *seg, long long now)
{
	static taken names[MAX_BATCH];
	static lr_resp_reply rep[MAX_BATCH];
	char key[512];
	uint32_t i;
	int n = 0, k;

	for (i = 0; i < LR_STATS_SLOTS && n < MAX_BATCH; i++) {
		lr_stats_slot *sl = &seg->slot[i];
		if (atomic_load_explicit(&sl->state, memory_order_acquire) != 2 || sl->kind != LR_STATS_FLEET_TOTAL)
			continue;
		snprintf(names[n].name, sizeof(names[n].name), "%.*s", LR_STATS_NAME_MAX - 1, sl->name);
		day_key(key, sizeof(key), names[n].name, now);
		const char *get[] = {"GET", key};
		lr_resp_append(&conn, 2, get, NULL);
		n++;
	}
	if (n && lr_resp_exchange(&conn, rep, n, IO_MS) != n) {
		conn_ready = 0;
		return;
	}
	for (k = 0; k < n; k++)
		if (rep[k].type == '$')
			lr_stats_set_total(seg, LR_STATS_FLEET_TOTAL, names[k].name, (uint64_t)now / 86400,
					   rep[k].nil ? 0 : strtoll(rep[k].str, NULL, 10), now);
}

/* This host's view of target i: its cool-down end and failures in a row. */
static void local_health(lr_stats_seg *seg, const char *name, long long *until, unsigned long long *fails)
{
	uint32_t i;

	*until = 0;
	*fails = 0;
	for (i = 0; i < LR_STATS_SLOTS; i++) {
		lr_stats_slot *sl = &seg->slot[i];
		if (atomic_load_explicit(&sl->state, memory_order_acquire) == 2 && sl->kind == LR_STATS_TARGET &&
		    strncmp(sl->name, name, LR_STATS_NAME_MAX - 1) == 0) {
			if ((long long)atomic_load(&sl->down_until) > *until)
				*until = (long long)atomic_load(&sl->down_until);
			if (atomic_load(&sl->fails_in_row) > *fails)
				*fails = atomic_load(&sl->fails_in_row);
		}
	}
}

/* Step 3: cool-downs both ways.  The later end wins on every host. */
static void health(lr_stats_seg *seg, long long now)
{
	static lr_resp_reply rep[MAX_TARGETS];
	char key[512], val[64], ttl[24];
	long long until, f_until;
	unsigned long long fails, f_fails;
	int k, sets = 0;

	for (k = 0; k < cur.ntargets; k++) {
		snprintf(key, sizeof(key), "%shealth:%s", cur.prefix, cur.targets[k]);
		const char *get[] = {"GET", key};
		lr_resp_append(&conn, 2, get, NULL);
	}
	if (cur.ntargets && lr_resp_exchange(&conn, rep, cur.ntargets, IO_MS) != cur.ntargets) {
		conn_ready = 0;
		return;
	}
	for (k = 0; k < cur.ntargets; k++) {
		f_until = 0;
		f_fails = 0;
		if (rep[k].type == '$' && !rep[k].nil &&
		    sscanf(rep[k].str, "%lld %llu", &f_until, &f_fails) != 2)
			f_until = 0; /* not ours: ignored */
		if (f_until > now + MAX_SHARED_COOLDOWN_S)
			f_until = now + MAX_SHARED_COOLDOWN_S; /* whoever wrote it, not for ever */
		local_health(seg, cur.targets[k], &until, &fails);
		if (f_until > now && f_until > until)
			lr_stats_health_raise(seg, cur.targets[k], f_until, f_fails);
		if (until > now && until > f_until) {
			snprintf(key, sizeof(key), "%shealth:%s", cur.prefix, cur.targets[k]);
			snprintf(val, sizeof(val), "%lld %llu", until, fails);
			snprintf(ttl, sizeof(ttl), "%lld", until - now + 60);
			const char *set[] = {"SET", key, val, "EX", ttl};
			lr_resp_append(&conn, 5, set, NULL);
			sets++;
		}
	}
	if (sets && lr_resp_exchange(&conn, rep, sets, IO_MS) != sets)
		conn_ready = 0;
}

static void cycle(void)
{
	lr_stats_seg *seg = lr_rec_stats();
	long long now = (long long)time(NULL);

	pthread_mutex_lock(&mu); /* a snapshot: a reload may change cfg meanwhile */
	cur = cfg;
	pthread_mutex_unlock(&mu);
	if (!seg || ensure_conn() < 0)
		return;
	flush(seg, now);
	if (conn_ready)
		refresh(seg, now);
	if (conn_ready)
		health(seg, now);
}

static void *thread_main(void *arg)
{
	struct timespec ts;
	unsigned ms;

	(void)arg;
	for (;;) {
		cycle();
		pthread_mutex_lock(&mu);
		ms = cfg.refresh_ms ? cfg.refresh_ms : 100;
		pthread_mutex_unlock(&mu);
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (long)(ms % 1000) * 1000000;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* The table's settings into cfg (mu held). */
static void take_settings(const lr_table *t)
{
	uint32_t i;

	snprintf(cfg.host, sizeof(cfg.host), "%s", lr_table_str(t, t->fleet_host));
	snprintf(cfg.prefix, sizeof(cfg.prefix), "%s", t->fleet_prefix.off ? lr_table_str(t, t->fleet_prefix) : "");
	snprintf(cfg.pw_env, sizeof(cfg.pw_env), "%s",
		 t->fleet_password_env.off ? lr_table_str(t, t->fleet_password_env) : "");
	snprintf(cfg.ca_file, sizeof(cfg.ca_file), "%s",
		 t->fleet_ca_file.off ? lr_table_str(t, t->fleet_ca_file) : "");
	cfg.tls = t->fleet_tls;
	cfg.port = t->fleet_port;
	cfg.db = t->fleet_db;
	cfg.refresh_ms = t->fleet_refresh_ms;
	cfg.ntargets = 0;
	for (i = 0; i < t->ntargets && cfg.ntargets < MAX_TARGETS; i++)
		snprintf(cfg.targets[cfg.ntargets++], LR_STATS_NAME_MAX, "%s",
			 lr_table_str(t, lr_table_targets(t)[i].name));
	cfg_table = t;
}

static void start_locked(void)
{
	pthread_attr_t at;
	pthread_t tid;
	sigset_t all, old;
	int rc;

	lr_resp_init(&conn);
	sigfillset(&all);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* the app's signals are never ours */
	rc = pthread_create(&tid, &at, thread_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	if (rc != 0) {
		lr_log_once(LR_LOG_ERROR, 0xf1ee7, "fleet: cannot start the thread: fleet budgets are per host");
		return;
	}
	atomic_store(&started, 1);
}

void lr_fleet_kick(const lr_table *t)
{
	if (!t || !t->fleet_host.off)
		return;
	if (atomic_load_explicit(&started, memory_order_acquire) && t == cfg_table)
		return;
	if (pthread_mutex_trylock(&mu) != 0)
		return; /* the thread is reading the settings: next time */
	if (t != cfg_table)
		take_settings(t);
	if (!atomic_load(&started))
		start_locked();
	pthread_mutex_unlock(&mu);
}

void lr_fleet_atfork(int phase)
{
	int fd;

	/* mu, then the connection's lock (held only around one non-blocking
	 * system call): no descriptor number changes across the fork */
	if (phase == LR_FORK_PARENT) {
		pthread_mutex_unlock(&conn.mu);
		pthread_mutex_unlock(&mu);
		return;
	}
	if (phase == LR_FORK_PREPARE) {
		pthread_mutex_lock(&mu);
		pthread_mutex_lock(&conn.mu);
		return;
	}
	pthread_mutex_init(&mu, NULL);
	pthread_mutex_init(&conn.mu, NULL);
	if (!atomic_load(&started))
		return;
	/* the parent's thread is not here, its connection is the parent's:
	 * the child closes its copy and starts its own at its first request */
	fd = atomic_exchange(&conn.fd, -1);
	if (fd >= 0)
		syscall(SYS_close, fd); /* not through our close hook */
	/* the queued commands' buffer is forgotten, not freed: the parent's
	 * thread may have been growing it when the fork came */
	conn.out = NULL;
	conn.outlen = conn.outcap = 0;
	conn.tls = NULL; /* the same for its TLS session, mid-record perhaps */
	conn.inlen = 0;
	conn_ready = down_logged = 0;
	retry_at_ms = 0;
	cfg_table = NULL;
	atomic_store(&started, 0);
}
