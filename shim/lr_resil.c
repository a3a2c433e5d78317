/*
 * lr_resil.c - the attempts of one resilient libcurl transfer (see the
 * header): lr_attempt's actions turned into libcurl calls (cache, health,
 * fallbacks, escalation, and their audit), for curl_easy_perform here and
 * for curl_multi (lr_multi.c).
 */
#include "lr_resil.h"
#include "lr_fork.h"
#include "lr_answer.h"
#include "lr_curl_apply.h"
#include "lr_error.h"
#include "lr_extract.h"
#include "lr_log.h"
#include "lr_multi.h"
#include "lr_rec.h"
#include "lr_shm.h"
#include "lr_shim.h"
#include "lr_stats.h"
#include "lr_xcurl.h"
#include "lr_xfer.h"

#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- the cache segment, one per process ---------------------------------- */

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static lr_cache *cache;
static time_t cache_retry_at;

/* The segment of this user, created on first use with the table's size.
 * A failed open is retried a second later, not at every request. */
lr_cache *lr_resil_cache(size_t size)
{
	char name[300];
	const char *why = NULL;
	lr_cache *c;
	time_t now = time(NULL);

	pthread_mutex_lock(&cache_mu);
	if (!cache && now >= cache_retry_at) {
		lr_cache_name(lr_shm_name(), name, sizeof(name));
		if (lr_cache_open(name, size, 1, &cache, &why) < 0) {
			cache = NULL;
			cache_retry_at = now + 1;
			lr_log_once(LR_LOG_ERROR, 81, "response cache %s not usable (%s): answers are not cached",
				    name, why ? why : "error");
		}
	}
	c = cache;
	pthread_mutex_unlock(&cache_mu);
	return c;
}

/* --- setting up ------------------------------------------------------------ */

/* Headers that change what the answer is, beyond the body: API version
 * and beta-feature headers (anthropic-version, anthropic-beta,
 * OpenAI-Beta) and what the app accepts. */
int lr_resil_shapes_answer(const char *line)
{
	const char *colon = strchr(line, ':');
	size_t n = colon ? (size_t)(colon - line) : 0;

	return (n >= 5 && strncasecmp(line + n - 5, "-beta", 5) == 0) ||
	       (n >= 8 && strncasecmp(line + n - 8, "-version", 8) == 0) ||
	       (n == 6 && strncasecmp(line, "accept", 6) == 0) ||
	       (n >= 6 && strncasecmp(line, "proxy-", 6) == 0) || /* proxy credentials */
	       (n >= 7 && strncasecmp(line + n - 7, "session", 7) == 0);
}

/* A cache hit needs the same request sent: the URL, the body and the
 * credentials that go with it (one key's answer is not another's). */
static void cache_key(lr_easy *e, lr_resil *rs, const char *body, size_t blen)
{
	lr_cache_part parts[8];
	const struct curl_slist *l = e->changed_headers ? e->new_headers : e->headers;
	const char *url = e->new_url ? e->new_url : e->url;
	lr_cache_key k, acc;
	int n = 0;

	parts[n++] = (lr_cache_part){url, strlen(url)};
	parts[n++] = (lr_cache_part){body ? body : "", body ? blen : 0};
	if (!e->changed_creds) {
		parts[n++] = (lr_cache_part){e->bearer ? e->bearer : "", e->bearer ? strlen(e->bearer) : 0};
		parts[n++] = (lr_cache_part){e->user ? e->user : "", e->user ? strlen(e->user) : 0};
		parts[n++] = (lr_cache_part){e->pass ? e->pass : "", e->pass ? strlen(e->pass) : 0};
	}
	if (!e->changed_cookie) /* CURLOPT_COOKIE: a session is who asks */
		parts[n++] = (lr_cache_part){e->cookie ? e->cookie : "", e->cookie ? strlen(e->cookie) : 0};
	acc = lr_cache_key_of(parts, n);
	for (; l; l = l->next) { /* who asks, and for what answer, fold in */
		if (!l->data || !(lr_curl_is_auth_header(l->data) || lr_resil_shapes_answer(l->data)))
			continue;
		parts[0] = (lr_cache_part){&acc, sizeof(acc)};
		parts[1] = (lr_cache_part){l->data, strlen(l->data)};
		k = lr_cache_key_of(parts, 2);
		acc = k;
	}
	rs->key = acc;
}

/* The body going out now, and whether its temperature lets it be cached. */
static void setup_cache(lr_easy *e, lr_resil *rs, const lr_table *t, const lr_route *rt,
			const char *body, size_t blen)
{
	const char *sent = e->new_body ? e->new_body : body;
	size_t slen = e->new_body ? e->new_body_len : blen;
	lr_extract x;

	if (!rt->cache_ttl_s)
		return;
	if (rt->cache_max_temperature >= 0) {
		if (!sent || lr_extract_body(sent, slen, &x) < 0 || x.temperature < 0 ||
		    x.temperature > rt->cache_max_temperature)
			return;
	}
	rs->cacheable = 1;
	rs->ttl_s = rt->cache_ttl_s;
	rs->max_entry = (size_t)t->cache_max_entry_kb << 10;
	rs->cache_size = (size_t)t->cache_size_mb << 20;
	cache_key(e, rs, sent, slen);
}

void lr_resil_request_id(char *out, size_t cap)
{
	static _Atomic unsigned long long seq;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, cap, "%llx-%lx-%llu", (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
		 (long)getpid(), atomic_fetch_add(&seq, 1) + 1);
}

/* The audit fields of the attempt under way. */
static void stamp(lr_easy *e, lr_resil *rs)
{
	if (!e->x)
		return;
	snprintf(e->x->request_id, sizeof(e->x->request_id), "%s", rs->request_id);
	e->x->attempt = rs->a.attempt;
	e->x->via = rs->a.via;
	e->x->cache = rs->cacheable ? "miss" : NULL;
}

/* Does any step of the chain name an API format?  Its attempt may then be
 * translated, and a continuation is asked in the app's format: a cut
 * stream is not continued (as on the served path, lr_serve.c). */
static int any_format(const lr_table *t, const lr_decision *d, const lr_attempt *a)
{
	int i, k;

	if (d->route->format)
		return 1;
	for (i = 0; i < lr_attempt_nsteps(a); i++)
		if (a->step[i][0] && (k = lr_table_find_target(t, a->step[i])) >= 0 &&
		    lr_table_targets(t)[k].format)
			return 1;
	return 0;
}

void lr_resil_begin(lr_easy *e, const lr_table *t, const lr_decision *d, const lr_request *r,
		    const char *body, size_t blen, int from_read)
{
	lr_attempt_env env;
	lr_resil *rs;

	if (!lr_attempt_wanted(d) || !(rs = calloc(1, sizeof(*rs))))
		return;
	rs->health = (lr_health_cfg){t->health_failures, t->health_cooldown_s, t->health_cooldown_min_s};
	lr_rec_health_env(&env, &rs->health);
	if (lr_attempt_init(&rs->a, t, d, &env, r, lr_rec_wants_stream(r, body, blen)) < 0 ||
	    !(rs->app_body = malloc(blen + 1))) {
		lr_attempt_free(&rs->a);
		free(rs);
		return;
	}
	rs->from_read = from_read;
	rs->app_len = blen;
	rs->track = lr_attempt_track(&rs->a) && lr_splice_supported(r->det.format, r->det.operation) &&
		    !any_format(t, d, &rs->a);
	lr_splice_init_op(&rs->sp, r->det.format, r->det.operation);
	if (blen)
		memcpy(rs->app_body, body, blen);
	rs->app_body[blen] = '\0';
	lr_resil_request_id(rs->request_id, sizeof(rs->request_id));
	lr_resil_free(e);
	e->rs = rs;
}

void lr_resil_sent(lr_easy *e, const lr_table *t, const lr_decision *d)
{
	if (!e->rs)
		return;
	setup_cache(e, e->rs, t, d->route, e->rs->app_body, e->rs->app_len);
	stamp(e, e->rs);
}

void lr_resil_free(lr_easy *e)
{
	lr_resil *rs = e->rs;

	if (!rs)
		return;
	lr_capture_free(&rs->cap);
	lr_capture_free(&rs->best);
	lr_capture_free(&rs->fail);
	lr_capture_free(&rs->app_head);
	lr_rec_free(rs->best_x);
	lr_rec_free(rs->fail_x);
	lr_attempt_free(&rs->a);
	lr_splice_free(&rs->sp);
	free(rs->cont_body);
	free(rs->app_body);
	free(rs);
	e->rs = NULL;
}

/* --- outcomes and records ---------------------------------------------------- */

/* libcurl results after which another target may do better (nothing of
 * the answer reached the app). */
static int transport_failure(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_CONNECT: case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING: case CURLE_RECV_ERROR: case CURLE_SEND_ERROR:
	case CURLE_SSL_CONNECT_ERROR: case CURLE_PARTIAL_FILE: case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2: case CURLE_HTTP2_STREAM: case CURLE_HTTP3:
		return 1;
	default:
		return 0;
	}
}

/* Was the stream of the attempt just performed cut short: passed (its
 * events followed) or held whole, a 2xx without its end marker? */
static int cut_short(const lr_resil *rs, const lr_capture *c)
{
	if (!rs->track || c->app_stopped || c->status < 200 || c->status > 299 || !c->got_head)
		return 0;
	if (c->state == LR_CAP_PASS)
		return c->sp && !c->sp->done;
	return c->state == LR_CAP_PENDING && c->hold && rs->a.stream_hold && !c->body_over &&
	       !lr_splice_complete_like(&rs->sp, c->body.p, c->body.len);
}

/* The attempt just performed, for the engine. */
static void outcome_of(const lr_resil *rs, CURLcode rc, lr_outcome *o)
{
	const lr_capture *c = &rs->cap;

	memset(o, 0, sizeof(*o));
	o->status = c->status;
	o->fail = rc == CURLE_OK ? LR_OUT_OK
		: rc == CURLE_HTTP_RETURNED_ERROR ? LR_OUT_HTTP_ERROR
		: rc == CURLE_ABORTED_BY_CALLBACK ? LR_OUT_ABORTED
		: transport_failure(rc) ? LR_OUT_TRANSPORT : LR_OUT_OTHER;
	o->transient = rc == CURLE_COULDNT_CONNECT || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
		       rc == CURLE_GOT_NOTHING; /* refused, reset, nothing back */
	o->timeout = c->timed_out;
	/* a continuation has passed something once one of its events did */
	o->passed = c->state == LR_CAP_PASS && (!c->cont || !c->sp || c->sp->events > 0);
	o->app_bytes = o->passed ? c->body.len : 0;
	o->app_stopped = c->app_stopped;
	o->retry_after_s = c->retry_after_s;
	o->held = lr_capture_holding(c) && c->state == LR_CAP_PENDING;
	o->body = c->body.p;
	o->body_len = c->body.len;
	o->stream_cut = cut_short(rs, c);
	o->no_continue = (o->stream_cut && o->passed && !lr_splice_can_continue(&rs->sp)) ||
			 (c->sp && c->sp->foreign);
	o->limit_reached = o->stream_cut && o->passed && rs->sp.tlen &&
			   lr_splice_limit(&rs->sp, rs->app_body, rs->app_len) == 0;
}

/* How the attempt just performed went, for its record: the status (none
 * for a failure before a final answer), and the error. */
static void rec_outcome(const lr_curl_lib *lib, lr_easy *e, CURLcode rc, long *status, const char **err)
{
	*status = 0;
	*err = NULL;
	if (lib->easy_getinfo)
		lib->easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, status);
	if (rc != CURLE_OK && *status < 200)
		*status = 0; /* a 100 Continue and then nothing is no answer */
	if (e->rs->cap.timed_out)
		*err = e->rs->cap.timed_out == LR_TO_IDLE ? "idle_timeout"
		     : e->rs->cap.timed_out == LR_TO_FIRST_TOKEN ? "first_token_timeout" : "first_byte_timeout";
	else if (e->rs->cap.cut)
		*err = "stream_error_event"; /* an error or malformed event, not passed */
	else if (rc != CURLE_OK)
		*err = lr_xfer_error_name(rc);
	else if (cut_short(e->rs, &e->rs->cap))
		*err = "stream_incomplete"; /* ended without its end marker */
}

static void close_rec(lr_rec *x, long status, const char *err, int delivered, const char *gate)
{
	if (!x)
		return;
	x->delivered = delivered;
	x->gate = gate;
	lr_rec_end(x, status, err);
}

/* The judged failed attempt's record, now that we know whether the app
 * gets its answer. */
static void close_fail(lr_resil *rs, int delivered)
{
	close_rec(rs->fail_x, rs->fail_status, rs->fail_err, delivered, NULL);
	rs->fail_x = NULL;
}

/* An escalated-from answer the app does not get: its record is written. */
static void settle_best(lr_resil *rs)
{
	if (rs->best_x) {
		lr_rec_end(rs->best_x, rs->best.status, NULL);
		rs->best_x = NULL;
	}
}

static void keep(lr_capture *dst, lr_capture *src)
{
	lr_capture_free(dst);
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

/* Judges the attempt that ended with rc, and keeps what the action says:
 * the answer as the last failure or as the best so far, with its record. */
static lr_act judge(const lr_curl_lib *lib, lr_easy *e, lr_resil *rs, CURLcode rc)
{
	lr_outcome o;
	lr_act x;

	lr_xcurl_finish(e); /* a translated answer held to its end reaches the capture first */
	outcome_of(rs, rc, &o);
	x = lr_attempt_judge(&rs->a, &o);
	if (x.settle_best)
		settle_best(rs);
	if (x.partial) { /* the app has part of this answer: its record is written now */
		long status;
		const char *err;

		rec_outcome(lib, e, rc, &status, &err);
		if (!rs->app_head.status) { /* the head the app has */
			rs->app_head.status = rs->cap.status;
			lr_buf_add(&rs->app_head.hdr, rs->cap.hdr.p, rs->cap.hdr.len, rs->cap.hdr.len);
		}
		rs->cut_why = err ? err : "stream_incomplete";
		rs->cut_rc = rc == CURLE_ABORTED_BY_CALLBACK ? CURLE_OPERATION_TIMEDOUT
			   : rs->cap.cut ? CURLE_OK : rc; /* the app's call, as without the shim */
		lr_log(LR_LOG_INFO, "route %s: the stream was cut (%s) after %zu bytes of text: %s", rs->a.route,
		       rs->cut_why, rs->sp.tlen, x.kind == LR_ACT_DELIVER_CUT ? "it cannot be continued" : "continuing it");
		close_rec(e->x, status, err ? err : "stream_incomplete", 1, NULL);
		e->x = NULL;
		if (x.keep == LR_KEEP_NONE)
			return x;
	}
	if (x.overflow && e->x) /* a 400 that says why: the audit says it too */
		e->x->error_type = "context_length_exceeded";
	if (x.keep == LR_KEEP_FAIL) {
		rs->fail_cut = rs->cap.hold && cut_short(rs, &rs->cap); /* a held stream, cut */
		rec_outcome(lib, e, rc, &rs->fail_status, &rs->fail_err);
		lr_rec_free(rs->fail_x); /* not reached: every failure's record is closed before the next */
		rs->fail_x = e->x;
		keep(&rs->fail, &rs->cap);
		rs->fail_rc = rc;
	} else if (x.keep == LR_KEEP_BEST) {
		if (x.overflow)
			lr_log(LR_LOG_INFO, "route %s: too long for the context window: to a larger target",
			       rs->a.route);
		else
			lr_log(LR_LOG_INFO, "route %s: the answer is %s: escalating", rs->a.route, x.gate);
		rs->best_x = e->x;
		if (e->x)
			e->x->gate = x.gate;
		keep(&rs->best, &rs->cap);
	} else {
		return x; /* delivered: its record is e->x still */
	}
	if (e->x) /* written when we know whether the app gets it */
		e->x->end_ns = mono_ns();
	e->x = NULL;
	return x;
}

/* --- carrying out the actions ------------------------------------------------ */

enum { GO_ON, FINAL, DENIED };

/* Sends the request again, at step `step`: 0, or < 0 when it cannot be
 * (the route or target is gone from the live table). */
static int reroute(const lr_curl_lib *lib, lr_easy *e, lr_resil *rs, int step)
{
	char *app = rs->app_body, *body = NULL;
	size_t app_len = rs->app_len, len = 0;
	int rc = 0;

	if (lr_attempt_continuing(&rs->a)) { /* the same request, asked for the rest */
		if ((rc = lr_splice_body(&rs->sp, app, app_len, &body, &len)) < 0) {
			lr_log(LR_LOG_INFO, "route %s: cannot ask for the rest of the stream: %s", rs->a.route,
			       lr_strerror(rc));
			return rc;
		}
		free(rs->cont_body);
		rs->cont_body = body;
		rs->app_body = body;
		rs->app_len = len;
	}
	rc = lr_curl_reroute(lib, e, rs->a.route, rs->a.step[step]);
	rs->app_body = app;
	rs->app_len = app_len;
	if (rc == 0 && body && !rs->from_read && !e->changed_body) {
		/* a step that edits nothing in the body (the original, a model in
		 * the URL): libcurl would send the app's own POSTFIELDS */
		lib->easy_setopt(e->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		lib->easy_setopt(e->h, CURLOPT_POSTFIELDS, body);
		e->changed_body = 1; /* the app's come back with lr_curl_restore */
	}

	if (rc < 0)
		lr_log(LR_LOG_INFO, "route %s: cannot send to %s any more: %s", rs->a.route,
		       rs->a.step[step][0] ? rs->a.step[step] : "its target", lr_strerror(rc));
	return rc;
}

static void sent(lr_easy *e, lr_resil *rs, const lr_act *x)
{
	lr_attempt_sent(&rs->a, x);
	stamp(e, rs);
	if (e->x)
		e->x->wait_ms = x->kind == LR_ACT_WAIT_SEND ? x->wait_ms : 0;
	lr_log(LR_LOG_INFO, "route %s: attempt %d (%s) to %s", rs->a.route, rs->a.attempt,
	       rs->a.via ? rs->a.via : "first", rs->a.step[rs->a.cur][0] ? rs->a.step[rs->a.cur] : "its target");
}

/* Sets the handle up for the attempt *x asks for: GO_ON; or the request
 * ends: FINAL (*x is the delivery), DENIED (the live table refuses it). */
static int carry_out(const lr_curl_lib *lib, lr_easy *e, lr_resil *rs, lr_act *x)
{
	int pr;

	for (;;) {
		switch (x->kind) {
		case LR_ACT_NONE:
			return GO_ON;
		case LR_ACT_SEND: case LR_ACT_WAIT_SEND:
			if (x->drop_record) { /* nothing was sent for the first step */
				lr_rec_free(e->x);
				e->x = NULL;
			}
			if (reroute(lib, e, rs, x->step) == 0) {
				sent(e, rs, x);
				return GO_ON;
			}
			*x = lr_attempt_unsendable(&rs->a, x);
			continue;
		case LR_ACT_AS_APP:
			pr = lr_curl_as_app(lib, e);
			if (pr == LR_PREP_DENY) {
				close_fail(rs, 0);
				return DENIED;
			}
			if (pr < 0) {
				*x = lr_attempt_unsendable(&rs->a, x);
				continue;
			}
			sent(e, rs, x);
			return GO_ON;
		default:
			return FINAL;
		}
	}
}

/* Serves a kept answer (not the last one libcurl received). */
static CURLcode serve_kept(lr_easy *e, lr_capture *c)
{
	/* first: the app's callbacks may ask curl_easy_getinfo about it */
	lr_served_set(e, c, 0, 0, e->new_url ? e->new_url : e->url);
	if (e->errbuf) /* a later attempt's error is not this answer's */
		e->errbuf[0] = '\0';
	return lr_capture_deliver(e, c);
}

static void store(lr_easy *e, lr_resil *rs)
{
	lr_capture *c = &rs->cap;
	lr_cache *k;

	if (!rs->cacheable || c->status < 200 || c->status > 299 || c->body_over || c->app_stopped)
		return;
	if ((k = lr_resil_cache(rs->cache_size)) &&
	    lr_cache_put(k, &rs->key, (long long)time(NULL), (int)rs->ttl_s, rs->max_entry, (int)c->status,
			 c->hdr.p, c->hdr.len, c->body.p, c->body.len) == 0 && e->x)
		e->x->cache = "stored";
}

/* A held stream cut at the last step: its whole events, then our error
 * event, as a passed one ends (never a truncated success); the app's call
 * returns what the cut attempt's did. */
static CURLcode deliver_cut_held(lr_easy *e, lr_resil *rs)
{
	char ev[512];
	size_t n = lr_splice_error_event(&rs->sp, rs->fail_err ? rs->fail_err : "stream_incomplete", ev, sizeof(ev));
	lr_capture *c = &rs->fail;

	c->body.len = lr_splice_whole_prefix(&rs->sp, c->body.p, c->body.len);
	if (lr_buf_add(&c->body, ev, n, c->body.len + n) < 0 || lr_capture_deliver(e, c) != CURLE_OK)
		return CURLE_WRITE_ERROR;
	return rs->fail_rc == CURLE_ABORTED_BY_CALLBACK ? CURLE_OPERATION_TIMEDOUT : rs->fail_rc;
}

/* The request ends with the delivery x; rc is libcurl's result for the
 * attempt just performed.  Returns what the app's perform returns. */
static CURLcode deliver(const lr_curl_lib *lib, lr_easy *e, lr_resil *rs, const lr_act *x, CURLcode rc)
{
	CURLcode out;
	long status;
	const char *err;

	switch (x->kind) {
	case LR_ACT_DELIVER_BEST:
		close_fail(rs, 0);
		if (rs->best_x) {
			rs->best_x->delivered = 1;
			lr_rec_end(rs->best_x, rs->best.status, NULL);
			rs->best_x = NULL;
		}
		return serve_kept(e, &rs->best);
	case LR_ACT_DELIVER_FAIL:
		close_fail(rs, 1);
		if (rs->fail_cut)
			return deliver_cut_held(e, rs);
		lr_capture_deliver(e, &rs->fail);
		return rs->fail_rc;
	case LR_ACT_DELIVER_END: { /* the app's limit was used: the end its provider gives */
		size_t n = 0;
		char *ev = lr_splice_end_event(&rs->sp, &n);

		close_fail(rs, 0);
		lr_rec_free(e->x);
		e->x = NULL;
		if (rs->app_head.status && rs->cap.status != rs->app_head.status)
			lr_served_set(e, &rs->app_head, 0, 0, e->new_url ? e->new_url : e->url);
		out = ev && lr_capture_give(e, ev, n) == 0 ? CURLE_OK : CURLE_WRITE_ERROR;
		free(ev);
		return out;
	}
	case LR_ACT_DELIVER_CUT: { /* the app's stream ends with our error, never as a success */
		char ev[512];
		size_t n = lr_splice_error_event(&rs->sp, rs->cut_why ? rs->cut_why : "stream_incomplete", ev,
						 sizeof(ev));

		close_fail(rs, 0);
		lr_rec_free(e->x); /* nothing of a judged attempt is left unwritten */
		e->x = NULL;
		if (rs->app_head.status && rs->cap.status != rs->app_head.status) /* a refused continuation's is not the app's */
			lr_served_set(e, &rs->app_head, 0, 0, e->new_url ? e->new_url : e->url);
		if (lr_capture_give(e, ev, n) < 0)
			return CURLE_WRITE_ERROR;
		return rs->cut_rc;
	}
	default: /* the answer just received */
		out = rs->cap.app_stopped ? rc : lr_capture_deliver(e, &rs->cap);
		if (rc == CURLE_OK)
			rc = out;
		if (x->store)
			store(e, rs);
		rec_outcome(lib, e, rc, &status, &err);
		close_rec(e->x, status, err, 1, x->gate);
		e->x = NULL;
		return rc;
	}
}

/* Carries out x; FINAL and DENIED put the app's result in *out. */
static int next(const lr_curl_lib *lib, lr_easy *e, lr_resil *rs, lr_act *x, CURLcode rc, CURLcode *out)
{
	int r = carry_out(lib, e, rs, x);

	if (r == FINAL)
		*out = deliver(lib, e, rs, x, rc);
	else if (r == DENIED) /* the live table now refuses the request */
		*out = CURLE_REMOTE_ACCESS_DENIED;
	if (r == DENIED)
		lr_curl_deny_errbuf(e);
	return r;
}

static int serve_hit(lr_easy *e, lr_resil *rs, lr_cache_hit *hit, CURLcode *out)
{
	lr_capture c;
	int64_t t0 = mono_ns();

	memset(&c, 0, sizeof(c));
	c.hdr = (lr_buf){hit->headers, hit->headers_len, hit->headers_len};
	c.body = (lr_buf){hit->body, hit->body_len, hit->body_len};
	c.status = hit->status;
	if (e->errbuf) /* as libcurl does at the start of a transfer */
		e->errbuf[0] = '\0';
	lr_served_set(e, &c, 1, (mono_ns() - t0) / 1000, e->url);
	*out = lr_capture_deliver(e, &c);
	if (e->served) /* the time the app waited for it */
		e->served->total_us = (mono_ns() - t0) / 1000;
	if (e->x) {
		e->x->cache = "hit";
		e->x->cache_hit = 1;
		e->x->delivered = 1;
		lr_rec_body(e->x, c.body.p, c.body.len);
		lr_rec_end(e->x, c.status, *out == CURLE_OK ? NULL : "WRITE_ERROR");
		e->x = NULL;
	}
	lr_capture_free(&c); /* frees hit's buffers */
	return 1;
}

static int cache_lookup(lr_resil *rs, lr_cache_hit *hit)
{
	lr_cache *k;

	return rs->cacheable && (k = lr_resil_cache(rs->cache_size)) &&
	       lr_cache_get(k, &rs->key, (long long)time(NULL), hit) == 0;
}

/* Our callbacks in front of the app's for the attempt about to go.  The
 * failure before it is not the app's answer any more: its record is
 * written now, not when the attempt was prepared, so an attempt that never
 * goes (libcurl refuses the handle back: lr_resil_give_up) leaves that
 * failure the delivered one. */
static void arm(const lr_curl_lib *lib, lr_easy *e, lr_resil *rs)
{
	int cont = lr_attempt_continuing(&rs->a), hold = lr_attempt_hold(&rs->a);
	unsigned first = lr_attempt_first_token(&rs->a);

	close_fail(rs, 0);
	lr_capture_reset(&rs->cap, hold, rs->cacheable ? rs->max_entry : 0, lr_attempt_timeout(&rs->a));
	rs->cap.hold_err = lr_attempt_hold_error(&rs->a);
	if (rs->track)
		lr_splice_attempt(&rs->sp, cont);
	lr_capture_stream(&rs->cap, first, lr_attempt_idle(&rs->a), rs->a.stream && first,
			  rs->track && !hold ? &rs->sp : NULL, cont);
	lr_capture_install(lib, e);
	lr_xcurl_install_capture(lib, e); /* a translated step: its answer reaches cap in the app's format */
}

/* --- curl_easy_perform --------------------------------------------------------- */

CURLcode lr_resil_perform(const lr_curl_lib *lib, lr_easy *e)
{
	lr_resil *rs = e->rs;
	CURLcode rc = CURLE_OK, out = CURLE_OK;
	lr_cache_hit hit;
	lr_act x;
	struct timespec ts;
	const lr_curl_lib *inner;
	lr_capture *inner_cap;

	x = lr_attempt_first(&rs->a, cache_lookup(rs, &hit));
	if (x.kind == LR_ACT_SERVE_CACHE) {
		serve_hit(e, rs, &hit, &out);
		return out;
	}
	for (;;) {
		if (next(lib, e, rs, &x, rc, &out) != GO_ON)
			return out;
		if (x.kind == LR_ACT_WAIT_SEND && x.wait_ms) {
			ts.tv_sec = x.wait_ms / 1000;
			ts.tv_nsec = (long)(x.wait_ms % 1000) * 1000000;
			nanosleep(&ts, NULL);
			if (e->x) /* the attempt starts after the wait */
				e->x->start_ns = mono_ns();
		}
		arm(lib, e, rs);
		inner = lr_multi_inner_lib;
		inner_cap = lr_capture_inner;
		lr_multi_inner_lib = lib;
		lr_capture_inner = &rs->cap; /* libcurl's own poll waits no longer than our time-outs */
		lr_depth++;
		rc = lib->easy_perform(e->h);
		lr_depth--;
		lr_multi_inner_lib = inner;
		lr_capture_inner = inner_cap;
		x = judge(lib, e, rs, rc);
	}
}

/* --- curl_multi --------------------------------------------------------------- */

int lr_resil_multi_start(const lr_curl_lib *lib, lr_easy *e)
{
	lr_resil *rs = e->rs;
	lr_cache_hit hit;
	lr_capture *c = &rs->best; /* unused before an escalation: holds the hit */
	CURLcode out;
	lr_act x = lr_attempt_first(&rs->a, cache_lookup(rs, &hit));

	if (x.kind == LR_ACT_SERVE_CACHE) {
		lr_capture_free(c);
		c->hdr = (lr_buf){hit.headers, hit.headers_len, hit.headers_len};
		c->body = (lr_buf){hit.body, hit.body_len, hit.body_len};
		c->status = hit.status;
		rs->hit = 1;
		return 1;
	}
	if (next(lib, e, rs, &x, CURLE_OK, &out) == GO_ON)
		arm(lib, e, rs);
	return 0;
}

/* The cache hit found when the handle was added, served now. */
static CURLcode multi_hit(lr_easy *e, lr_resil *rs)
{
	lr_cache_hit hit;
	CURLcode out;

	memset(&hit, 0, sizeof(hit));
	hit.headers = rs->best.hdr.p;
	hit.headers_len = rs->best.hdr.len;
	hit.body = rs->best.body.p;
	hit.body_len = rs->best.body.len;
	hit.status = (int)rs->best.status;
	memset(&rs->best, 0, sizeof(rs->best)); /* serve_hit frees the buffers */
	rs->hit = 0;
	serve_hit(e, rs, &hit, &out);
	return out;
}

int lr_resil_multi_done(const lr_curl_lib *lib, lr_easy *e, CURLcode rc, int can_wait,
			CURLcode *result, unsigned *wait_ms)
{
	lr_resil *rs = e->rs;
	lr_act x;

	if (rs->hit) {
		*result = multi_hit(e, rs);
		return LR_RESIL_DONE;
	}
	x = judge(lib, e, rs, rc);
	if (x.kind == LR_ACT_WAIT_SEND && !can_wait)
		x = lr_attempt_no_wait(&rs->a, &x); /* nothing would wake the app's loop */
	if (next(lib, e, rs, &x, rc, result) != GO_ON)
		return LR_RESIL_DONE;
	*wait_ms = x.kind == LR_ACT_WAIT_SEND ? x.wait_ms : 0;
	return *wait_ms ? LR_RESIL_WAIT : LR_RESIL_AGAIN;
}

CURLcode lr_resil_give_up(const lr_curl_lib *lib, lr_easy *e)
{
	lr_resil *rs = e->rs;
	lr_act x;

	memset(&x, 0, sizeof(x));
	x.kind = rs->a.continuing ? LR_ACT_DELIVER_CUT : rs->a.have_best ? LR_ACT_DELIVER_BEST : LR_ACT_DELIVER_FAIL;
	lr_rec_free(e->x); /* never sent; the failure before it was recorded as not delivered */
	e->x = NULL;
	return deliver(lib, e, rs, &x, CURLE_OK);
}

void lr_resil_multi_arm(const lr_curl_lib *lib, lr_easy *e)
{
	if (e->x) /* the attempt starts now, after any wait */
		e->x->start_ns = mono_ns();
	arm(lib, e, e->rs);
}

void lr_resil_atfork(int phase)
{
	lr_fork_mutex(&cache_mu, phase);
}
