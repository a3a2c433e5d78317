/*
 * lr_rec.c - audit records and counters of LLM requests (see lr_rec.h).
 *
 * Process-wide state: the audit descriptor (opened on first use, reopened
 * if the configured path changes) and the counters mapping.  Both are
 * looked up under one mutex at the start and end of a request only; the
 * response path itself touches nothing shared.
 *
 * The audit descriptor is the one the shim keeps open in the host, which
 * may close it under us (close, closefrom, close_range, dup2 over it: the
 * socket hooks tell lr_rec_closing) and reuse the number for a file of its
 * own.  Then it is forgotten, never written again, and the path is opened
 * anew at the next record.  lr_rec_closing waits for a write in progress,
 * so the number is never reused while we write to it.
 */
#include "lr_rec.h"
#include "lr_attempt.h"
#include "lr_audit.h"
#include "lr_choose.h"
#include "lr_error.h"
#include "lr_fleet.h"
#include "lr_fork.h"
#include "lr_json.h"
#include "lr_log.h"
#include "lr_shim.h"
#include "lr_shm.h"
#include "lr_stats.h"
#include "lr_view.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int audit_fd = -1; /* read without mu only by lr_rec_closing */
static char audit_path[4096];
static lr_stats_seg *stats;
static _Atomic unsigned long long dropped;
static time_t audit_retry_at, stats_retry_at; /* after a failed open */

static const char *const action_names[] = {"none", "pass", "route", "deny"};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

unsigned long long lr_rec_dropped(void)
{
	return atomic_load(&dropped);
}

/* The audit file: LLMROUTE_AUDIT wins over the table's "audit".  Opened
 * once per path (again after the host closed it); returns the descriptor
 * or -1.  A refused file (lr_audit.h: symlinks, owner, hard links) is said
 * once; the app goes on, unaudited.  Called with mu held. */
static int audit_target(const lr_table *t)
{
	const char *path = secure_getenv("LLMROUTE_AUDIT"), *why = "";
	int fd = atomic_load_explicit(&audit_fd, memory_order_relaxed);

	if ((!path || !*path) && t)
		path = lr_table_str(t, t->audit);
	if (!path || !*path)
		return -1;
	if (strcmp(path, audit_path) == 0 && (fd >= 0 || time(NULL) < audit_retry_at))
		return fd; /* open, or failed less than a second ago */
	atomic_store(&audit_fd, -1); /* before close: lr_rec_closing must not wait on us */
	if (fd >= 0)
		close(fd);
	snprintf(audit_path, sizeof(audit_path), "%s", path);
	fd = lr_audit_open_why(path, &why);
	if (fd < 0) {
		audit_retry_at = time(NULL) + 1;
		lr_log_once(LR_LOG_ERROR, 70, "cannot open audit file %s (%s): records are dropped",
			    path, why);
		return -1;
	}
	atomic_store(&audit_fd, fd);
	return fd;
}

void lr_rec_closing(unsigned first, unsigned last)
{
	int fd = atomic_load_explicit(&audit_fd, memory_order_relaxed);

	lr_fleet_closing(first, last); /* the fleet's Redis connection is ours too */

	if (fd < 0 || (unsigned)fd < first || (unsigned)fd > last)
		return;
	pthread_mutex_lock(&mu); /* a write in progress ends first */
	fd = atomic_load(&audit_fd);
	if (fd >= 0 && (unsigned)fd >= first && (unsigned)fd <= last) {
		atomic_store(&audit_fd, -1); /* the host closes it: not ours any more */
		audit_path[0] = '\0';      /* reopened at the next record */
		audit_retry_at = 0;
	}
	pthread_mutex_unlock(&mu);
}

/* The counters segment beside the table, if `llmroutectl load` made one.
 * At most once a second, check it is still the segment at the table's key
 * (`unload --force` and `load` make a new one); a missing or unfinished one
 * is looked for again at most once a second, for the life of the process.
 * A replaced segment is left attached: another thread may be adding to it
 * this instant.  Called with mu held. */
static lr_stats_seg *stats_target(void)
{
	static time_t check_at;
	static int shmid = -1;
	time_t now = time(NULL);

	if (stats && now < check_at)
		return stats;
	if (stats) {
		check_at = now + 1;
		if (lr_stats_current_id(lr_shm_name()) == shmid)
			return stats;
		stats = NULL;
	}
	if (now >= stats_retry_at) {
		stats = lr_stats_attach(lr_shm_name(), 1, &shmid, NULL, NULL);
		check_at = now + 1;
		if (!stats)
			stats_retry_at = now + 1;
	}
	return stats;
}

/* Is anyone listening?  Called with mu held. */
static int wanted(const lr_table *t)
{
	int a = audit_target(t) >= 0 || audit_path[0];

	return a || stats_target() != NULL;
}

static void host_port(const char *url, char *host, size_t cap, int *port)
{
	lr_url u;

	host[0] = '\0';
	*port = 0;
	if (url && lr_url_parse(url, strlen(url), &u) == 0) {
		size_t n = u.host_len < cap ? u.host_len : cap - 1;
		memcpy(host, u.host, n);
		host[n] = '\0';
		*port = u.port;
	}
}

/* Does the request ask for a streamed answer? */
int lr_rec_wants_stream(const lr_request *r, const char *body, size_t blen)
{
	return lr_request_streams(r, body, blen);
}

/* strlcpy: the record's fields are fixed arrays, cut like snprintf("%s")
 * cut them, without the format machinery on every request. */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Kinds and counts of the findings, and what the decision does about
 * them: the values stay in the request. */
static void guard_fill(lr_rec *x, const lr_table *t, const lr_request *r, const lr_decision *d)
{
	const lr_cond *c;
	uint32_t k;

	memcpy(x->guard_count, r->guard.count, sizeof(x->guard_count));
	x->guard_action = NULL;
	if (!r->guard.mask)
		return;
	x->guard_action = "none";
	if (!d->route)
		return;
	if (d->action == LR_ACTION_DENY) {
		x->guard_action = "deny";
		return;
	}
	if (d->route->guard_redact & r->guard.mask) {
		x->guard_action = "redact";
		return;
	}
	c = lr_table_conds(t) + d->route->cond_first;
	for (k = 0; k < d->route->cond_count; k++)
		if (c[k].field == LR_F_PII)
			x->guard_action = "route";
}

static void fill(lr_rec *x, const lr_table *t, const lr_request *r, const lr_decision *d,
		 const lr_plan *p, const char *sent_url)
{
	guard_fill(x, t, r, d);
	copy_str(x->rule, sizeof(x->rule), d->route ? lr_table_str(t, d->route->name) : "");
	copy_str(x->target, sizeof(x->target),
		 d->target >= 0 ? lr_table_str(t, lr_table_targets(t)[d->target].name) : "");
	copy_str(x->intent, sizeof(x->intent), r->intent);
	x->intent_confidence = r->intent_confidence;
	copy_str(x->uncertain, sizeof(x->uncertain),
		 d->uncertain >= 0 && (uint32_t)d->uncertain < t->nroutes ?
			 lr_table_str(t, lr_table_routes(t)[d->uncertain].name) : "");
	x->action = action_names[d->action];
	x->provider = r->det.provider;
	x->operation = r->det.otel_operation;
	copy_str(x->original_model, sizeof(x->original_model), r->model);
	copy_str(x->sent_model, sizeof(x->sent_model), p && p->model ? p->model : r->model);
	snprintf(x->original_server, sizeof(x->original_server), "%.*s:%d",
		 (int)r->det.url.host_len, r->det.url.host, r->det.url.port);
	host_port(sent_url, x->server, sizeof(x->server), &x->port);
	x->has_price = lr_price_lookup(t, x->sent_model, &x->price) == 0;
	if (d->target >= 0) { /* a catalogue target's own prices come first */
		const lr_target_rec *g = &lr_table_targets(t)[d->target];
		if (g->input_per_mtok >= 0 && g->output_per_mtok >= 0) {
			x->price.input_per_mtok = g->input_per_mtok;
			x->price.output_per_mtok = g->output_per_mtok;
			x->price.cache_read_per_mtok = g->cache_read_per_mtok;
			x->price.cache_write_per_mtok = g->cache_write_per_mtok;
			x->has_price = 1;
		}
	}
	x->generation = lr_view_generation();
}

/* The provider is the target's (its URL's, as detection names it); the
 * usage comes from the answer the app reads, in its own format. */
static void xlate_fill(lr_rec *x, const lr_plan *p, const char *sent_url)
{
	lr_detect d;

	x->stream = p->xstream;
	if (sent_url && lr_detect_url(sent_url, strlen(sent_url), &d) == 0)
		x->provider = d.provider;
}

lr_rec *lr_rec_begin(const lr_table *t, const lr_request *r, const lr_decision *d,
		     const lr_plan *p, const char *sent_url, const char *body, size_t blen,
		     const char *transport)
{
	lr_rec *x;
	int want;

	pthread_mutex_lock(&mu);
	want = wanted(t);
	pthread_mutex_unlock(&mu);
	if (!want || !(x = calloc(1, sizeof(*x))))
		return NULL;
	fill(x, t, r, d, p, sent_url);
	x->transport = transport;
	x->request_bytes = (long long)blen;
	x->stream = lr_rec_wants_stream(r, body, blen);
	if (p && p->xtarget) /* a translated request: its body is the target's, its answer the app's */
		xlate_fill(x, p, sent_url);
	lr_usage_init(&x->usage, r->det.format, x->stream, blen);
	x->start_ns = now_ns();
	return x;
}

void lr_rec_unapplied(lr_rec *x, const lr_table *t, int why)
{
	if (!x || !lr_unapplied_code(why))
		return;
	x->not_applied = lr_unapplied_code(why);
	if (x->guard_action && !strcmp(x->guard_action, "redact"))
		x->guard_action = "redact_not_applied";
	/* the app's model went out: its price, not a catalogue target's */
	x->has_price = lr_price_lookup(t, x->sent_model, &x->price) == 0;
}

void lr_rec_log_unapplied(const lr_table *t, const lr_decision *d, const lr_request *r, int why,
			  const char *transport)
{
	const char *name = d->route ? lr_table_str(t, d->route->name) : "";
	unsigned key = (unsigned)lr_fnv1a64(name, strlen(name)) ^ (unsigned)why * 0x9e3779b9u;

	lr_log_once(LR_LOG_ERROR, key, "route %s not applied (%s, %s): sent as the app made it, model %s to %.*s; %s",
		    name, lr_unapplied_code(why), transport, r->model[0] ? r->model : "(none)",
		    (int)r->det.url.host_len, r->det.url.host, lr_unapplied_advice(why));
	lr_log(LR_LOG_INFO, "route %s not applied (%s, %s): model %s sent unchanged", name,
	       lr_unapplied_code(why), transport, r->model[0] ? r->model : "(none)");
}

void lr_rec_log_routed(const lr_table *t, const lr_decision *d, const lr_request *r,
		       const char *model, const char *url, const char *transport)
{
	if (lr_log_level() < LR_LOG_INFO || !d->route)
		return;
	lr_log(LR_LOG_INFO, "route %s (%s): %s %s model %s -> %s url %s", lr_table_str(t, d->route->name),
	       transport, r->det.provider, r->det.operation, r->model[0] ? r->model : "(none)",
	       model ? model : r->model[0] ? r->model : "(none)", url);
}

void lr_rec_body(lr_rec *x, const char *p, size_t n)
{
	if (!x || !n)
		return;
	if (!x->first_ns)
		x->first_ns = now_ns();
	lr_usage_feed(&x->usage, p, n);
}

/* --- live numbers for policy -------------------------------------------------- */

/* Seconds after which a target's latency counts as unknown again (and so
 * the target is tried): LLMROUTE_LATENCY_STALE_S, default 60. */
static long stale_s(void)
{
	static long v = -1;
	const char *e;

	if (v < 0) {
		e = secure_getenv("LLMROUTE_LATENCY_STALE_S");
		v = e && *e ? strtol(e, NULL, 10) : 60;
		if (v < 0)
			v = 60;
	}
	return v;
}

lr_stats_seg *lr_rec_stats(void)
{
	lr_stats_seg *seg;

	pthread_mutex_lock(&mu);
	seg = stats_target();
	pthread_mutex_unlock(&mu);
	return seg;
}

static double live_spent(void *ud, int per, const char *name, long long now)
{
	lr_stats_seg *seg = lr_rec_stats();
	lr_stats_totals tot;

	(void)ud;
	if (!seg)
		return -1;
	if (per & LR_LIVE_FLEET)
		return lr_fleet_spent(seg, per & ~LR_LIVE_FLEET, name, now);
	return lr_stats_get_day(seg, LR_STATS_DAY_ROUTE + per - LR_BUDGET_ROUTE, name, now, &tot) == 0 ? tot.cost_usd : 0;
}

static double live_latency(void *ud, const char *target)
{
	lr_stats_seg *seg = lr_rec_stats();
	lr_stats_totals tot;

	(void)ud;
	if (!seg || lr_stats_get(seg, LR_STATS_TARGET, target, &tot) < 0)
		return -1;
	/* not measured for a while: unknown again, so a target once slow gets
	 * tried again, about once per stale_s() */
	return time(NULL) - tot.last_s > stale_s() ? -1 : tot.ema_ms;
}

static int live_down(void *ud, const char *target, long long now)
{
	lr_stats_seg *seg = lr_rec_stats();

	(void)ud;
	return seg && lr_stats_down_until(seg, target, now) > 0;
}

static const lr_live live = {live_spent, live_latency, live_down, NULL};

const struct lr_live *lr_rec_live(const lr_table *t)
{
	if (t && t->fleet_host.off)
		lr_fleet_kick(t);
	return &live;
}

/* Today's spend per route, process and model (budgets), and the target's
 * latency (pools).  Lock-free, see lr_stats.h. */
static void count_policy(lr_stats_seg *seg, const lr_audit_rec *rec, const char *target,
			 const lr_stats_delta *dl, uint32_t needs)
{
	long long now = rec->time_ms / 1000;

	/* only the kinds some budget of the table reads */
	if ((needs & LR_NEED_DAY_ROUTE) && !rec->not_applied) /* a route's spend is what it routed */
		lr_stats_add_day(seg, LR_STATS_DAY_ROUTE, rec->rule ? rec->rule : "(none)", now, dl);
	if ((needs & LR_NEED_DAY_PROCESS) && rec->process && *rec->process)
		lr_stats_add_day(seg, LR_STATS_DAY_PROCESS, rec->process, now, dl);
	if ((needs & LR_NEED_DAY_MODEL) && rec->request_model && *rec->request_model)
		lr_stats_add_day(seg, LR_STATS_DAY_MODEL, rec->request_model, now, dl);
	if (target && *target && !rec->error_type) {
		lr_stats_add(seg, LR_STATS_TARGET, target, dl);
	} else if (target && *target) { /* a failed attempt: counted, its time not averaged */
		lr_stats_delta failed = {1, 1, 0, 0, 0, 0, 0, 0};
		lr_stats_add(seg, LR_STATS_TARGET, target, &failed);
	}
}

/* A request of a route with a fleet budget: its cost is pending for the
 * fleet thread to add to Redis (lr_fleet.h). */
static void count_fleet(lr_stats_seg *seg, const lr_table *t, const lr_audit_rec *rec)
{
	const lr_route *rt;
	const char *name;
	int i;

	if (rec->not_applied || !rec->rule || rec->cost_usd <= 0 || (i = lr_table_find(t, rec->rule)) < 0)
		return;
	rt = &lr_table_routes(t)[i];
	if (!(rt->flags & LR_ROUTE_BUDGET_FLEET))
		return;
	name = rt->budget_per == LR_BUDGET_ROUTE ? rec->rule
	       : rt->budget_per == LR_BUDGET_PROCESS ? rec->process : rec->request_model;
	lr_fleet_count(seg, (int)rt->budget_per, name, (uint64_t)(rec->cost_usd * 1e9 + 0.5));
}

static void emit(const lr_audit_rec *rec, const lr_table *t, const char *target)
{
	char line[LR_AUDIT_MAX_LINE];
	int n = 0, fd;
	lr_stats_seg *seg;
	lr_stats_delta dl = {1, rec->error_type != NULL, rec->input_tokens, rec->output_tokens,
			     rec->cost_usd, rec->duration_ms, 0, 0};
	lr_stats_delta what = {0, 0, 0, 0, 0, 0, lr_stats_via_index(rec->via),
			       rec->attempt > 0 ? lr_stats_timeout_index(rec->error_type) : 0};

	pthread_mutex_lock(&mu);
	fd = audit_target(t);
	if (fd >= 0) /* formatted only when written: counters need no line */
		n = lr_audit_format(rec, line, sizeof(line));
	if (fd >= 0 && (n <= 0 || lr_audit_write(fd, line, (size_t)n) < 0)) {
		atomic_fetch_add(&dropped, 1);
		lr_log_once(LR_LOG_ERROR, 71, "cannot write to audit file %s: records are dropped", audit_path);
	} else if (fd < 0 && audit_path[0]) {
		atomic_fetch_add(&dropped, 1);
	}
	seg = stats_target();
	pthread_mutex_unlock(&mu);
	if (seg) { /* lock-free: see lr_stats.h */
		lr_stats_add(seg, rec->not_applied ? LR_STATS_UNAPPLIED : LR_STATS_ROUTE,
			     rec->rule ? rec->rule : "(none)", &dl);
		if (what.via || what.timeout) /* what the attempts of a resilient request did */
			lr_stats_add(seg, LR_STATS_ROUTE, rec->rule ? rec->rule : "(none)", &what);
		if (rec->request_model && *rec->request_model)
			lr_stats_add(seg, LR_STATS_MODEL, rec->request_model, &dl);
		count_policy(seg, rec, target, &dl, t ? t->needs : 0);
		if (t && t->fleet_host.off)
			count_fleet(seg, t, rec);
	}
}

/* getpid() is a system call on this glibc: once per process (a forked
 * child starts over, lr_rec_atfork). */
static _Atomic pid_t cached_pid;

void lr_rec_atfork(int phase)
{
	lr_fork_mutex(&mu, phase);
	if (phase == LR_FORK_CHILD)
		atomic_store_explicit(&cached_pid, 0, memory_order_relaxed);
}

static long my_pid(void)
{
	pid_t p = atomic_load_explicit(&cached_pid, memory_order_relaxed);

	if (!p) {
		p = getpid();
		atomic_store_explicit(&cached_pid, p, memory_order_relaxed);
	}
	return (long)p;
}

static void base_rec(lr_audit_rec *rec, const lr_rec *x)
{
	memset(rec, 0, sizeof(*rec));
	rec->time_ms = wall_ms();
	rec->provider = x->provider;
	rec->operation = x->operation;
	rec->request_model = x->sent_model[0] ? x->sent_model : NULL;
	rec->rule = x->rule[0] ? x->rule : NULL;
	rec->target = x->target[0] ? x->target : NULL;
	rec->intent = x->intent[0] ? x->intent : NULL;
	rec->intent_confidence = x->intent_confidence;
	rec->uncertain = x->uncertain[0] ? x->uncertain : NULL;
	rec->guard_count = x->guard_action ? x->guard_count : NULL;
	rec->guard_action = x->guard_action;
	rec->action = x->action;
	rec->not_applied = x->not_applied;
	rec->original_model = x->original_model[0] ? x->original_model : NULL;
	rec->original_server = x->original_server;
	rec->server_address = x->server;
	rec->server_port = x->port;
	rec->transport = x->transport;
	rec->stream = x->stream;
	rec->request_bytes = x->request_bytes;
	rec->generation = x->generation;
	rec->pid = my_pid();
	rec->process = lr_process_name();
	rec->input_tokens = rec->output_tokens = -1;
	rec->cache_read_tokens = rec->cache_write_tokens = -1;
	rec->cost_usd = -1;
	rec->ttfb_ms = -1;
	rec->attempt = x->attempt;
	rec->request_id = x->request_id;
	rec->via = x->via;
	rec->wait_ms = x->wait_ms;
	rec->gate = x->gate;
	rec->cache = x->cache;
	rec->delivered = x->delivered;
}

static void result_rec(lr_audit_rec *rec, lr_rec *x, long status, const char *error_type,
		       char *errtype, size_t cap)
{
	int64_t end = x->end_ns ? x->end_ns : now_ns();

	lr_usage_finish(&x->usage);
	rec->response_model = x->usage.model[0] ? x->usage.model : NULL;
	rec->input_tokens = x->usage.input_tokens;
	rec->output_tokens = x->usage.output_tokens;
	rec->cache_read_tokens = x->usage.cache_read_tokens;
	rec->cache_write_tokens = x->usage.cache_write_tokens;
	rec->tokens_estimated = x->usage.estimated;
	rec->response_bytes = (long long)x->usage.response_bytes;
	rec->status = (int)status;
	rec->duration_ms = (double)(end - x->start_ns) / 1e6;
	rec->ttfb_ms = x->first_ns ? (double)(x->first_ns - x->start_ns) / 1e6 : -1;
	/* A refused or failed call is not billed: no estimate for it; but a
	 * stream cut after text reached the app (a 2xx, or an answer whose
	 * head the transport did not keep) was generated, and billed */
	if ((error_type || status >= 400) && x->usage.estimated && !(status < 300 && x->usage.text_bytes)) {
		rec->input_tokens = rec->output_tokens = 0;
		rec->cache_read_tokens = rec->cache_write_tokens = 0;
		rec->tokens_estimated = 0;
	}
	if (x->has_price && (rec->input_tokens >= 0 || rec->output_tokens >= 0)) {
		lr_tokens k = {rec->input_tokens, rec->output_tokens, rec->cache_read_tokens,
			       rec->cache_write_tokens};
		rec->cost_usd = lr_price_cost_tokens(&x->price, &k);
	}
	if (x->cache_hit) /* the tokens are the stored answer's; nobody paid for them now */
		rec->cost_usd = 0;
	if (error_type) {
		rec->error_type = error_type;
	} else if (status >= 400) {
		snprintf(errtype, cap, "http_%03d", (int)(status % 1000));
		rec->error_type = errtype;
	}
}

void lr_rec_end(lr_rec *x, long status, const char *error_type)
{
	lr_audit_rec rec;
	char errtype[24];
	const lr_table *t;

	if (!x)
		return;
	base_rec(&rec, x);
	result_rec(&rec, x, status, error_type ? error_type : x->error_type, errtype, sizeof(errtype));
	t = lr_view_acquire();
	/* a hit, or a target not applied, says nothing of the target's latency */
	emit(&rec, t, x->cache_hit || x->not_applied ? NULL : x->target);
	lr_view_release(t);
	lr_rec_free(x);
}

void lr_rec_denied(const lr_table *t, const lr_request *r, const lr_decision *d, size_t blen,
		   const char *transport)
{
	lr_rec_denied_as(t, r, d, blen, transport, NULL);
}

void lr_rec_denied_as(const lr_table *t, const lr_request *r, const lr_decision *d, size_t blen,
		      const char *transport, const lr_rec *link)
{
	lr_rec x;
	lr_audit_rec rec;
	int want;

	pthread_mutex_lock(&mu);
	want = wanted(t);
	pthread_mutex_unlock(&mu);
	if (!want)
		return;
	memset(&x, 0, sizeof(x));
	fill(&x, t, r, d, NULL, NULL);
	x.transport = transport;
	if (link) {
		memcpy(x.request_id, link->request_id, sizeof(x.request_id));
		x.attempt = link->attempt;
		x.via = link->via;
		x.delivered = 1;
	}
	x.request_bytes = (long long)blen;
	base_rec(&rec, &x);
	rec.server_address = NULL;
	rec.error_type = "denied";
	rec.input_tokens = rec.output_tokens = 0;
	rec.cache_read_tokens = rec.cache_write_tokens = 0;
	rec.cost_usd = 0;
	emit(&rec, t, NULL);
}

void lr_rec_free(lr_rec *x)
{
	if (x) {
		lr_usage_free(&x->usage);
		free(x);
	}
}

void lr_rec_restart(lr_rec *x, unsigned delay_ms)
{
	if (x)
		x->start_ns = now_ns() + (int64_t)delay_ms * 1000000;
}

lr_rec *lr_rec_clone(const lr_rec *x)
{
	lr_rec *y;

	if (!x || !(y = malloc(sizeof(*y))))
		return NULL;
	*y = *x; /* strings are arrays or static; the usage parser is made anew */
	lr_usage_init(&y->usage, x->usage.format, x->usage.stream, x->usage.request_bytes);
	return y;
}

static int health_cooling(void *ud, const char *key)
{
	const lr_health_cfg *h = ud;

	return lr_stats_health_state(lr_rec_stats(), key, (long long)time(NULL), h->fails);
}

static void health_fail(void *ud, const char *key, long retry_after_s)
{
	const lr_health_cfg *h = ud;
	long long until;

	until = lr_stats_health_fail(lr_rec_stats(), key, (long long)time(NULL), h->fails, h->cooldown_min_s,
				     h->cooldown_s, retry_after_s > 0 ? (unsigned)retry_after_s : 0);
	if (until)
		lr_log(LR_LOG_INFO, "target %s cools down until %lld", key, until);
}

static void health_ok(void *ud, const char *key)
{
	(void)ud;
	lr_stats_health_ok(lr_rec_stats(), key);
}

/* The back-off's jitter: a per-thread xorshift, seeded from the clock,
 * the thread and the process (not for secrets: it spreads retries). */
static uint32_t jitter_rand(void *ud)
{
	static __thread uint64_t st;
	struct timespec ts;

	(void)ud;
	if (!st) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		st = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)(uintptr_t)&st << 7) ^
		     (uint64_t)my_pid() * 0x9E3779B97F4A7C15ull;
		st |= 1;
	}
	st ^= st << 13;
	st ^= st >> 7;
	st ^= st << 17;
	return (uint32_t)(st >> 32);
}

void lr_rec_health_env(lr_attempt_env *env, const lr_health_cfg *cfg)
{
	env->cooling = health_cooling;
	env->health_fail = health_fail;
	env->health_ok = health_ok;
	env->rand = jitter_rand;
	env->ud = (void *)cfg;
}
