/*
 * lr_resil.c - the attempts of one resilient libcurl transfer (see the
 * header): cache, health, fallbacks, escalation, and their audit.
 */
#include "lr_resil.h"
#include "lr_fork.h"
#include "lr_answer.h"
#include "lr_curl_apply.h"
#include "lr_error.h"
#include "lr_extract.h"
#include "lr_log.h"
#include "lr_rec.h"
#include "lr_shm.h"
#include "lr_shim.h"
#include "lr_stats.h"
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
static lr_cache *cache_get(size_t size)
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

static void step_name(const lr_table *t, uint32_t target, char *out)
{
	snprintf(out, LR_RESIL_NAME, "%s", target == LR_TARGET_ORIGINAL ? "original"
					 : lr_table_str(t, lr_table_targets(t)[target].name));
}

/* Headers that change what the answer is, beyond the body: API version
 * and beta-feature headers (anthropic-version, anthropic-beta,
 * OpenAI-Beta) and what the app accepts. */
static int shapes_answer(const char *line)
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
		if (!l->data || !(lr_curl_is_auth_header(l->data) || shapes_answer(l->data)))
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

static void request_id(char *out, size_t cap)
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
	e->x->attempt = rs->attempt;
	e->x->via = rs->via;
	e->x->cache = rs->cacheable ? "miss" : NULL;
}

void lr_resil_begin(lr_easy *e, const lr_table *t, const lr_decision *d, const lr_request *r,
		    const char *body, size_t blen, int from_read)
{
	const lr_route *rt = d->route;
	const lr_chain_rec *ch;
	lr_resil *rs;
	uint32_t i;

	if (!rt || !(rt->fallback_count || rt->escalate_count || rt->cache_ttl_s))
		return;
	if (!(rs = calloc(1, sizeof(*rs))))
		return;
	ch = lr_table_chains(t) + rt->chain_first;
	snprintf(rs->route, sizeof(rs->route), "%s", lr_table_str(t, rt->name));
	if (d->target >= 0)
		step_name(t, (uint32_t)d->target, rs->step[0]);
	for (i = 0; i < rt->fallback_count + rt->escalate_count; i++)
		step_name(t, ch[i].target, rs->step[1 + i]);
	rs->nfall = (int)rt->fallback_count;
	rs->nesc = (int)rt->escalate_count;
	rs->gate_when = rt->escalate_count ? rt->escalate_when : 0;
	rs->refusal = rt->escalate_refusal.off ? strdup(lr_table_str(t, rt->escalate_refusal)) : NULL;
	rs->timeout_ms = rt->timeout_ms;
	rs->retry_after_max_ms = rt->retry_after_max_ms;
	rs->health_fails = t->health_failures;
	rs->cooldown_s = t->health_cooldown_s;
	rs->stream = lr_rec_wants_stream(r, body, blen);
	rs->json_asked = r->x.json;
	rs->format = r->det.format;
	rs->operation = r->det.operation;
	rs->from_read = from_read;
	rs->app_len = blen;
	if (!(rs->app_body = malloc(blen + 1))) {
		free(rs->refusal);
		free(rs);
		return;
	}
	if (blen)
		memcpy(rs->app_body, body, blen);
	rs->app_body[blen] = '\0';
	request_id(rs->request_id, sizeof(rs->request_id));
	rs->attempt = 1;
	rs->cut = -1;
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
	lr_rec_free(rs->best_x);
	free(rs->app_body);
	free(rs->refusal);
	free(rs);
	e->rs = NULL;
}

/* --- health --------------------------------------------------------------- */

/* Health is counted per catalogue target; the route's own target (or the
 * app's request) under the route's name. */
static void health_key(const lr_resil *rs, int step, char *out, size_t cap)
{
	if (rs->step[step][0] && strcmp(rs->step[step], "original") != 0)
		snprintf(out, cap, "%s", rs->step[step]);
	else
		snprintf(out, cap, "route:%s", rs->route);
}

static int cooling(const lr_resil *rs, int step)
{
	char key[LR_RESIL_NAME + 8];

	health_key(rs, step, key, sizeof(key));
	return lr_stats_down_until(lr_rec_stats(), key, (long long)time(NULL)) > 0;
}

static void health_fail(const lr_resil *rs, int step, long retry_after_s)
{
	char key[LR_RESIL_NAME + 8];
	long long until;

	health_key(rs, step, key, sizeof(key));
	until = lr_stats_health_fail(lr_rec_stats(), key, (long long)time(NULL), rs->health_fails,
				     rs->cooldown_s, retry_after_s > 0 ? (unsigned)retry_after_s : 0);
	if (until)
		lr_log(LR_LOG_INFO, "target %s cools down until %lld", key, until);
}

static void health_ok(const lr_resil *rs)
{
	char key[LR_RESIL_NAME + 8];

	health_key(rs, rs->cur, key, sizeof(key));
	lr_stats_health_ok(lr_rec_stats(), key);
}

/* --- attempts -------------------------------------------------------------- */

enum { FAILED, ANSWERED, AS_IS };

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

static int judge(const lr_capture *c, CURLcode rc)
{
	if (c->app_stopped)
		return AS_IS; /* the app's choice */
	if (c->state == LR_CAP_PASS) /* the app has this answer, or part of it */
		return rc == CURLE_OK ? ANSWERED : AS_IS;
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return c->timed_out ? FAILED : AS_IS;
	if ((rc == CURLE_OK || rc == CURLE_HTTP_RETURNED_ERROR) && lr_capture_retryable(c->status))
		return FAILED;
	if (rc == CURLE_OK)
		return ANSWERED;
	return transport_failure(rc) ? FAILED : AS_IS;
}

/* How the attempt just performed went, for its record: the status (none
 * for a failure before a final answer), and the error. */
static void outcome(const lr_curl_lib *lib, lr_easy *e, CURLcode rc, long *status, const char **err)
{
	*status = 0;
	*err = NULL;
	if (lib->easy_getinfo)
		lib->easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, status);
	if (rc != CURLE_OK && *status < 200)
		*status = 0; /* a 100 Continue and then nothing is no answer */
	if (e->rs->cap.timed_out)
		*err = "first_byte_timeout";
	else if (rc != CURLE_OK)
		*err = lr_xfer_error_name(rc);
}

static void close_rec(lr_rec *x, long status, const char *err, int delivered, const char *gate)
{
	if (!x)
		return;
	x->delivered = delivered;
	x->gate = gate;
	lr_rec_end(x, status, err);
}

/* Ends the attempt's record (e->x) as it went. */
static void end_attempt(const lr_curl_lib *lib, lr_easy *e, CURLcode rc, int delivered, const char *gate)
{
	long status;
	const char *err;

	outcome(lib, e, rc, &status, &err);
	close_rec(e->x, status, err, delivered, gate);
	e->x = NULL;
}

/* The next step after rs->cur in the phase (fallbacks, or escalations
 * when `escalate`): the first not cooling down, else the first. */
static int next_step(const lr_resil *rs, int escalate)
{
	int from, to = rs->nfall + rs->nesc, i;

	if (rs->cur > rs->nfall) { /* escalating: the next stronger one */
		from = rs->cur + 1;
	} else if (escalate) {
		from = rs->nfall + 1;
	} else {
		from = rs->cur + 1;
		to = rs->nfall;
	}
	for (i = from; i <= to; i++)
		if (!cooling(rs, i))
			return i;
	return from <= to ? from : -1;
}

/* Sends the request again, at step `step`.  0, or < 0 when it cannot be
 * (the route or target is gone from the live table). */
static int go(const lr_curl_lib *lib, lr_easy *e, lr_resil *rs, int step, const char *via)
{
	int rc = lr_curl_reroute(lib, e, rs->route, rs->step[step]);

	if (rc < 0) {
		lr_log(LR_LOG_INFO, "route %s: cannot send to %s any more: %s", rs->route,
		       rs->step[step][0] ? rs->step[step] : "its target", lr_strerror(rc));
		return rc;
	}
	rs->cur = step;
	rs->attempt++;
	rs->via = via;
	stamp(e, rs);
	lr_log(LR_LOG_INFO, "route %s: attempt %d (%s) to %s", rs->route, rs->attempt, via ? via : "first",
	       rs->step[step][0] ? rs->step[step] : "its target");
	return 0;
}

static void keep(lr_capture *dst, lr_capture *src)
{
	lr_capture_free(dst);
	*dst = *src;
	memset(src, 0, sizeof(*src));
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

/* An escalated-from answer the app does not get: its record is written. */
static void settle_best(lr_resil *rs)
{
	if (rs->best_x) {
		lr_rec_end(rs->best_x, rs->best.status, NULL);
		rs->best_x = NULL;
	}
}

/* Every step failed: the app gets the best answer an escalation had, or
 * the last failure as it came. */
static CURLcode give_up(lr_easy *e, lr_resil *rs)
{
	if (rs->best_x) {
		rs->best_x->delivered = 1;
		lr_rec_end(rs->best_x, rs->best.status, NULL);
		rs->best_x = NULL;
		return serve_kept(e, &rs->best);
	}
	lr_capture_deliver(e, &rs->fail);
	return rs->fail_rc;
}

enum { GO_ON = 0, GIVE_UP = -1, DENIED = -2 };

/* Nothing answered after we cut a slow step short: that step again, with
 * no time-out of ours, or (its route gone from the live table) the app's
 * request decided afresh.  GO_ON, GIVE_UP or DENIED. */
static int without_timeout(const lr_curl_lib *lib, lr_easy *e, lr_resil *rs)
{
	int pr;

	rs->no_timeout = 1;
	if (go(lib, e, rs, rs->cut, "without_timeout") == 0)
		return GO_ON;
	pr = lr_curl_as_app(lib, e);
	if (pr == LR_PREP_DENY)
		return DENIED;
	if (pr < 0)
		return GIVE_UP;
	rs->attempt++;
	rs->via = "original";
	stamp(e, rs);
	return GO_ON;
}

/* After a failed attempt: the next one, or give up.  The failed attempt's
 * record is written once we know whether the app gets its answer (no next
 * step, or the next cannot be sent). */
static int after_failure(const lr_curl_lib *lib, lr_easy *e, lr_resil *rs, CURLcode rc)
{
	lr_capture *c = &rs->cap;
	long ra = c->retry_after_s, status;
	int escalating = rs->cur > rs->nfall, next, same, out = GIVE_UP;
	const char *err;
	struct timespec ts;
	lr_rec *x = e->x;

	/* our own time-out counts against a target only once another step
	 * answered in its place (after_answer); a 4xx (only while escalating)
	 * is the request's, not the target's health */
	if (!c->timed_out && (lr_capture_retryable(c->status) || transport_failure(rc)))
		health_fail(rs, rs->cur, ra);
	if (c->timed_out && rs->cut < 0)
		rs->cut = rs->cur;
	same = ra >= 0 && !rs->retried && (unsigned long)ra * 1000 <= rs->retry_after_max_ms;
	next = same ? rs->cur : rs->no_timeout ? -1 : next_step(rs, escalating);
	outcome(lib, e, rc, &status, &err);
	if (x)
		x->end_ns = mono_ns();
	e->x = NULL;
	keep(&rs->fail, c);
	rs->fail_rc = rc;
	if (next >= 0) {
		if (same) {
			rs->retried = 1;
			ts.tv_sec = ra;
			ts.tv_nsec = 0;
			nanosleep(&ts, NULL);
		}
		if (go(lib, e, rs, next, same ? "retry" : escalating ? "escalation" : "fallback") == 0)
			out = GO_ON;
	}
	if (out != GO_ON && !rs->best_x && rs->cut >= 0 && !rs->no_timeout)
		out = without_timeout(lib, e, rs);
	close_rec(x, status, err, out == GIVE_UP && !rs->best_x, NULL);
	return out;
}

/* Does the answer just held meet one of the route's escalation conditions?
 * Returns the condition's name, or NULL. */
static const char *gate(lr_resil *rs)
{
	lr_answer a;
	regex_t re;
	int have_re = 0;
	unsigned bit = 0;

	if (lr_answer_parse(rs->format, rs->operation, rs->cap.body.p, rs->cap.body.len, &a) == 0) {
		if (rs->gate_when & LR_GATE_REFUSAL)
			have_re = regcomp(&re, rs->refusal ? rs->refusal : LR_GATE_DEFAULT_REFUSAL,
					  REG_EXTENDED | REG_ICASE | REG_NOSUB) == 0;
		bit = lr_gate_check(&a, rs->gate_when, have_re ? &re : NULL, rs->json_asked);
		if (have_re)
			regfree(&re);
	}
	lr_answer_free(&a);
	return bit ? lr_gate_name(bit) : NULL;
}

static void store(lr_easy *e, lr_resil *rs)
{
	lr_capture *c = &rs->cap;
	lr_cache *k;

	if (!rs->cacheable || c->status < 200 || c->status > 299 || c->body_over || c->app_stopped)
		return;
	if ((k = cache_get(rs->cache_size)) &&
	    lr_cache_put(k, &rs->key, (long long)time(NULL), (int)rs->ttl_s, rs->max_entry, (int)c->status,
			 c->hdr.p, c->hdr.len, c->body.p, c->body.len) == 0 && e->x)
		e->x->cache = "stored";
}

/* A 2xx (or any non-failure) answer: escalate, or deliver it. */
static int after_answer(const lr_curl_lib *lib, lr_easy *e, lr_resil *rs, CURLcode *out)
{
	const char *cond = NULL;
	int next = -1;

	health_ok(rs);
	if (rs->cut >= 0 && rs->cut != rs->cur)
		health_fail(rs, rs->cut, -1); /* slow while another step answered */
	if (rs->cap.hold && rs->cap.state == LR_CAP_PENDING && (cond = gate(rs)))
		next = next_step(rs, 1);
	if (next >= 0) {
		lr_log(LR_LOG_INFO, "route %s: the answer is %s: escalating", rs->route, cond);
		if (e->x) { /* written when we know whether the app gets it */
			e->x->gate = cond;
			e->x->end_ns = mono_ns();
		}
		settle_best(rs); /* an earlier escalation's answer, replaced */
		rs->best_x = e->x;
		e->x = NULL;
		keep(&rs->best, &rs->cap);
		if (go(lib, e, rs, next, "escalation") == 0)
			return 1;
		*out = give_up(e, rs);
		return 0;
	}
	settle_best(rs); /* the stronger answer wins */
	*out = lr_capture_deliver(e, &rs->cap);
	if (e->x && cond)
		e->x->gate = cond;
	store(e, rs);
	end_attempt(lib, e, *out, 1, e->x ? e->x->gate : NULL);
	return 0;
}

static int serve_hit(lr_easy *e, lr_resil *rs, CURLcode *out)
{
	lr_cache *k = cache_get(rs->cache_size);
	lr_cache_hit hit;
	lr_capture c;
	int64_t t0 = mono_ns();

	if (!k || lr_cache_get(k, &rs->key, (long long)time(NULL), &hit) < 0)
		return 0;
	memset(&c, 0, sizeof(c));
	c.hdr = (lr_buf){hit.headers, hit.headers_len, hit.headers_len};
	c.body = (lr_buf){hit.body, hit.body_len, hit.body_len};
	c.status = hit.status;
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

/* The first step cooling down and a later one not: start there. */
static void skip_cooling(const lr_curl_lib *lib, lr_easy *e, lr_resil *rs)
{
	int next;

	if (!rs->nfall || !cooling(rs, 0) || (next = next_step(rs, 0)) < 0 || cooling(rs, next))
		return;
	if (e->x) { /* nothing was sent for the first step */
		lr_rec_free(e->x);
		e->x = NULL;
	}
	rs->attempt = 0;
	if (go(lib, e, rs, next, "health") < 0 && go(lib, e, rs, 0, NULL) < 0)
		rs->attempt = 1; /* neither: the app's request goes as it made it */
}

CURLcode lr_resil_perform(const lr_curl_lib *lib, lr_easy *e)
{
	lr_resil *rs = e->rs;
	CURLcode rc, out = CURLE_OK;
	int hold, verdict;

	if (rs->cacheable && serve_hit(e, rs, &out))
		return out;
	skip_cooling(lib, e, rs);
	for (;;) {
		/* hold the whole answer while a stronger step is left, and while
		 * escalating (the cheap answer stays the app's if this one is
		 * worse); time the head out only while another step can answer */
		hold = (rs->gate_when && !rs->stream && rs->nesc && rs->cur < rs->nfall + rs->nesc) ||
		       rs->best_x;
		lr_capture_reset(&rs->cap, hold, rs->cacheable ? rs->max_entry : 0,
				 !rs->no_timeout && next_step(rs, 0) >= 0 ? rs->timeout_ms : 0);
		lr_capture_install(lib, e);
		lr_depth++;
		rc = lib->easy_perform(e->h);
		lr_depth--;
		verdict = judge(&rs->cap, rc);
		if (rs->best_x && rs->cap.state != LR_CAP_PASS && (verdict == AS_IS || verdict == ANSWERED) &&
		    !rs->cap.app_stopped && (rc != CURLE_OK || rs->cap.status < 200 || rs->cap.status > 299))
			verdict = FAILED; /* not better than the answer we have */
		switch (verdict) {
		case FAILED:
			switch (after_failure(lib, e, rs, rc)) {
			case GO_ON:
				continue;
			case DENIED: /* the live table now refuses the request */
				lr_curl_deny_errbuf(e);
				return CURLE_REMOTE_ACCESS_DENIED;
			default:
				return give_up(e, rs);
			}
		case ANSWERED:
			if (after_answer(lib, e, rs, &out))
				continue;
			return out;
		default:
			if (transport_failure(rc))
				health_fail(rs, rs->cur, -1); /* mid-answer: too late to go elsewhere */
			else if (rc == CURLE_OK)
				health_ok(rs);
			settle_best(rs);
			out = rs->cap.app_stopped ? rc : lr_capture_deliver(e, &rs->cap);
			end_attempt(lib, e, rc, 1, NULL);
			return rc != CURLE_OK ? rc : out;
		}
	}
}

void lr_resil_atfork(int phase)
{
	lr_fork_mutex(&cache_mu, phase);
}
