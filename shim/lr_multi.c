/*
 * lr_multi.c - the curl_multi adapter of resilient transfers (see the
 * header), and the hooks only it needs: curl_multi_perform, _socket_action,
 * _poll, _wait, _timeout and _cleanup.  With no resilient transfer in a multi, each of
 * these costs one atomic load and forwards.
 */
#include "lr_multi.h"
#include "lr_fork.h"
#include "lr_capture.h"
#include "lr_log.h"
#include "lr_resil.h"
#include "lr_shim.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CALLER __builtin_return_address(0)
#define MAX_QUEUE 65536 /* messages held for one multi; past it, delivered as libcurl gave them */

/* A cache hit fails at once on this unknown scheme; lr_resil serves it. */
#define CACHED_URL "llmroute-cached://cache.hit/"

typedef struct {
	CURL *h;
	int64_t due_ns;
} waiting;

typedef struct mstate {
	CURLM *m;
	int driven;             /* the app calls curl_multi_perform, poll or wait on it */
	CURLMsg **q;            /* messages for the app, oldest first */
	size_t qn, qcap;
	waiting *w;             /* handles out of the multi until a Retry-After is due */
	size_t wn, wcap;
	CURL **hs;              /* its resilient handles: their time-outs cut the app's waits */
	size_t hn, hcap;
	struct mstate *next;
} mstate;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static mstate *all;
static _Atomic int nstates;

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int lr_multi_any(void)
{
	return atomic_load_explicit(&nstates, memory_order_relaxed) > 0;
}

/* The state of m, or NULL (created when `create`).  Called with mu held. */
static mstate *find(CURLM *m, int create)
{
	mstate *s;

	for (s = all; s; s = s->next)
		if (s->m == m)
			return s;
	if (!create || !(s = calloc(1, sizeof(*s))))
		return NULL;
	s->m = m;
	s->next = all;
	all = s;
	atomic_fetch_add(&nstates, 1);
	return s;
}

static void drop(CURLM *m)
{
	mstate **p, *s;

	pthread_mutex_lock(&mu);
	for (p = &all; (s = *p); p = &s->next) {
		if (s->m == m) {
			*p = s->next;
			free(s->q);
			free(s->w);
			free(s->hs);
			free(s);
			atomic_fetch_sub(&nstates, 1);
			break;
		}
	}
	pthread_mutex_unlock(&mu);
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	void *np;

	if (n < *cap)
		return 0;
	if (n >= MAX_QUEUE || !(np = realloc(*p, ncap * size)))
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

/* Queues msg for the app; 0, or -1 (full: give it to the app now). */
static int push(mstate *s, CURLMsg *msg)
{
	int rc;

	pthread_mutex_lock(&mu);
	rc = grow((void **)&s->q, &s->qcap, s->qn, sizeof(*s->q));
	if (rc == 0)
		s->q[s->qn++] = msg;
	pthread_mutex_unlock(&mu);
	return rc;
}

static CURLMsg *pop(mstate *s, int *left)
{
	CURLMsg *msg = NULL;

	pthread_mutex_lock(&mu);
	if (s->qn) {
		msg = s->q[0];
		memmove(s->q, s->q + 1, (s->qn - 1) * sizeof(*s->q));
		s->qn--;
	}
	*left = (int)s->qn;
	pthread_mutex_unlock(&mu);
	return msg;
}

void lr_multi_track(CURLM *m, CURL *h)
{
	mstate *s;
	size_t i;

	pthread_mutex_lock(&mu);
	if ((s = find(m, 1))) {
		for (i = 0; i < s->hn && s->hs[i] != h; i++)
			;
		if (i == s->hn && grow((void **)&s->hs, &s->hcap, s->hn, sizeof(*s->hs)) == 0)
			s->hs[s->hn++] = h;
	}
	pthread_mutex_unlock(&mu);
}

/* The ms until the earliest time-out of ours among m's resilient
 * transfers is due, -1 if none is armed.  Their captures are written by
 * the thread that drives the multi: the one asking. */
static long due_timeouts(mstate *s)
{
	CURL *hs[64];
	size_t i, n;
	lr_easy *e;
	long next = -1, d;

	pthread_mutex_lock(&mu);
	n = s->hn < 64 ? s->hn : 64;
	memcpy(hs, s->hs, n * sizeof(*hs));
	pthread_mutex_unlock(&mu);
	for (i = 0; i < n; i++) {
		if (!(e = lr_easy_get(hs[i], 0)))
			continue;
		d = e->rs ? lr_capture_due_ms(&e->rs->cap) : -1;
		lr_easy_put(e);
		if (d >= 0 && (next < 0 || d < next))
			next = d;
	}
	return next;
}

void lr_multi_start(const lr_curl_lib *lib, lr_easy *e)
{
	if (lr_resil_multi_start(lib, e)) {
		lib->easy_setopt(e->h, CURLOPT_URL, CACHED_URL);
		e->applied = e->changed_url = 1;
	}
}

void lr_multi_forget(CURL *h)
{
	mstate *s;
	size_t i;

	pthread_mutex_lock(&mu);
	for (s = all; s; s = s->next) {
		for (i = 0; i < s->qn; i++)
			if (s->q[i]->easy_handle == h)
				memmove(s->q + i, s->q + i + 1, (s->qn - i - 1) * sizeof(*s->q)), s->qn--, i--;
		for (i = 0; i < s->wn; i++)
			if (s->w[i].h == h)
				s->w[i--] = s->w[--s->wn];
		for (i = 0; i < s->hn; i++)
			if (s->hs[i] == h)
				s->hs[i--] = s->hs[--s->hn];
	}
	pthread_mutex_unlock(&mu);
}

/* --- attempts ------------------------------------------------------------------ */

/* The handle goes into the multi again for its next attempt.  Returns 1 if
 * it is in, 0 if libcurl refused it: the app then gets the request's
 * last answer with a DONE of ours. */
static int add_again(const lr_curl_lib *lib, mstate *s, lr_easy *e)
{
	CURLMcode rc;

	lr_resil_multi_arm(lib, e);
	lr_depth++;
	rc = lib->multi_add_handle(s->m, e->h);
	lr_depth--;
	if (rc == CURLM_OK)
		return 1;
	lr_log(LR_LOG_ERROR, "curl_multi_add_handle refused the next attempt (%d): the last answer is the app's",
	       (int)rc);
	e->rs->own_msg.msg = CURLMSG_DONE;
	e->rs->own_msg.easy_handle = e->h;
	e->rs->own_msg.data.result = lr_resil_give_up(lib, e);
	if (push(s, &e->rs->own_msg) < 0)
		e->rs->own_msg.data.result = CURLE_SEND_ERROR;
	return 0;
}

/* A DONE for the app, or for us: judged when the transfer is resilient.
 * Returns the number of handles added again. */
static int done(const lr_curl_lib *lib, mstate *s, CURLMsg *msg)
{
	lr_easy *e = msg->msg == CURLMSG_DONE ? lr_easy_get(msg->easy_handle, 0) : NULL;
	CURLcode result;
	unsigned wait_ms = 0;
	int r;

	if (e)
		lr_easy_put(e); /* ours while this thread drives the multi, as in a perform */
	if (!e || !e->rs) {
		if (push(s, msg) < 0)
			return -1;
		return 0;
	}
	r = lr_resil_multi_done(lib, e, msg->data.result, s->driven, &result, &wait_ms);
	if (r == LR_RESIL_DONE) {
		msg->data.result = result;
		return push(s, msg) < 0 ? -1 : 0;
	}
	lr_depth++;
	lib->multi_remove_handle(s->m, e->h);
	lr_depth--;
	if (r == LR_RESIL_WAIT) {
		pthread_mutex_lock(&mu);
		if (grow((void **)&s->w, &s->wcap, s->wn, sizeof(*s->w)) == 0) {
			s->w[s->wn].h = e->h;
			s->w[s->wn++].due_ns = mono_ns() + (int64_t)wait_ms * 1000000;
			wait_ms = 0;
		}
		pthread_mutex_unlock(&mu);
		if (!wait_ms)
			return 0; /* else: no room to wait, go now */
	}
	return add_again(lib, s, e);
}

/* Reads every message libcurl has for s's multi, judging DONEs.  Returns
 * the handles added again; a message that finds no room in the queue is
 * returned in *overflow (the app gets it at once). */
static int drain(const lr_curl_lib *lib, mstate *s, CURLMsg **overflow)
{
	CURLMsg *msg;
	int left, added = 0, r;

	*overflow = NULL;
	while ((msg = lib->multi_info_read(s->m, &left))) {
		r = done(lib, s, msg);
		if (r < 0) {
			*overflow = msg;
			break;
		}
		added += r;
	}
	return added;
}

/* Adds the handles whose wait is over; returns the ms until the next one
 * is due (-1: none waits). */
static long due(const lr_curl_lib *lib, mstate *s)
{
	int64_t now = mono_ns(), next = -1;
	lr_easy *e;
	CURL *h;
	size_t i;

	for (;;) {
		h = NULL;
		pthread_mutex_lock(&mu);
		for (i = 0; i < s->wn; i++) {
			if (s->w[i].due_ns <= now) {
				h = s->w[i].h;
				s->w[i] = s->w[--s->wn];
				break;
			}
		}
		if (!h)
			for (i = 0; i < s->wn; i++)
				if (next < 0 || s->w[i].due_ns - now < next)
					next = s->w[i].due_ns - now;
		pthread_mutex_unlock(&mu);
		if (!h)
			return next < 0 ? -1 : (long)((next + 999999) / 1000000);
		if ((e = lr_easy_get(h, 0))) {
			lr_easy_put(e);
			if (e->rs)
				add_again(lib, s, e);
		}
	}
}

static mstate *state_of(CURLM *m)
{
	mstate *s;

	if (!lr_multi_any() || lr_depth)
		return NULL;
	pthread_mutex_lock(&mu);
	s = find(m, 0);
	pthread_mutex_unlock(&mu);
	return s;
}

static size_t waiting_count(mstate *s)
{
	size_t n;

	pthread_mutex_lock(&mu);
	n = s->wn;
	pthread_mutex_unlock(&mu);
	return n;
}

CURLMsg *lr_multi_info_read(const lr_curl_lib *lib, CURLM *m, int *left)
{
	mstate *s = state_of(m);
	CURLMsg *msg, *over;
	int saved;

	if (!s)
		return lib->multi_info_read(m, left);
	saved = errno;
	drain(lib, s, &over);
	msg = over ? over : pop(s, left);
	if (over)
		*left = 1; /* at least the rest of ours */
	errno = saved;
	return msg;
}

/* --- the hooks ----------------------------------------------------------------- */

__thread const lr_curl_lib *lr_multi_inner_lib __attribute__((tls_model("initial-exec")));

/* Inside curl_easy_perform libcurl drives its own multi through these
 * hooks, many times a transfer: the library is the perform's, known
 * without looking the caller up (perform, poll and wait test it first,
 * one thread-local load: the easy path pays no more). */
static const lr_curl_lib *lib_of(const void *caller)
{
	if (lr_depth && lr_multi_inner_lib)
		return lr_multi_inner_lib;
	return lr_curl_lib_for_caller(caller);
}

/* After libcurl ran the multi: judge what completed, queue it for the
 * app, and count the transfers we hold back (added again, or waiting out
 * a Retry-After) as still running. */
static void after_drive(const lr_curl_lib *lib, mstate *s, int *running)
{
	CURLMsg *over;
	int added = drain(lib, s, &over);

	if (over && push(s, over) < 0)
		lr_log(LR_LOG_ERROR, "multi message queue full");
	if (running)
		*running += added + (int)waiting_count(s);
}

static __attribute__((noinline)) CURLMcode app_perform(CURLM *m, int *running, const void *caller)
{
	const lr_curl_lib *lib = lr_curl_lib_for_caller(caller);
	mstate *s;
	CURLMcode rc;
	int saved;

	if (!lib || !lib->multi_perform)
		return CURLM_INTERNAL_ERROR;
	if (!(s = state_of(m)))
		return lib->multi_perform(m, running);
	saved = errno;
	s->driven = 1;
	due(lib, s);
	errno = saved;
	rc = lib->multi_perform(m, running);
	saved = errno;
	after_drive(lib, s, running);
	errno = saved;
	return rc;
}

LR_EXPORT CURLMcode curl_multi_perform(CURLM *m, int *running)
{
	const lr_curl_lib *lib = lr_multi_inner_lib;

	if (lib && lib->multi_perform) /* libcurl's own, inside curl_easy_perform */
		return lib->multi_perform(m, running);
	return app_perform(m, running, CALLER);
}

/* An app driving the multi with sockets and a timer: no wake-up of ours
 * would reach it, so nothing waits (s->driven stays 0); a transfer added
 * again is still running. */
LR_EXPORT CURLMcode curl_multi_socket_action(CURLM *m, curl_socket_t fd, int ev, int *running)
{
	const lr_curl_lib *lib = lib_of(CALLER);
	mstate *s;
	CURLMcode rc;
	int saved;

	if (!lib || !lib->multi_socket_action)
		return CURLM_INTERNAL_ERROR;
	if (!(s = state_of(m)))
		return lib->multi_socket_action(m, fd, ev, running);
	rc = lib->multi_socket_action(m, fd, ev, running);
	saved = errno;
	after_drive(lib, s, running);
	errno = saved;
	return rc;
}

/* Adds the handles now due; the app's wait, no longer than until the
 * next Retry-After is due. */
static int capped(const lr_curl_lib *lib, CURLM *m, int timeout_ms, int drive)
{
	mstate *s = state_of(m);
	long next, t;
	int saved;

	if (!s)
		return timeout_ms;
	saved = errno;
	s->driven |= drive; /* not curl_multi_timeout: socket_action apps call it too */
	next = due(lib, s);
	t = due_timeouts(s);
	if (t >= 0 && (next < 0 || t < next))
		next = t;
	errno = saved;
	return next >= 0 && (timeout_ms < 0 || next < timeout_ms) ? (int)next : timeout_ms;
}

static __attribute__((noinline)) CURLMcode app_poll(CURLM *m, struct curl_waitfd extra[], unsigned n,
						     int timeout_ms, int *ret, const void *caller, int wait)
{
	const lr_curl_lib *lib = lr_curl_lib_for_caller(caller);

	if (!lib || !(wait ? lib->multi_wait : lib->multi_poll))
		return CURLM_INTERNAL_ERROR;
	timeout_ms = capped(lib, m, timeout_ms, 1);
	return wait ? lib->multi_wait(m, extra, n, timeout_ms, ret) : lib->multi_poll(m, extra, n, timeout_ms, ret);
}

LR_EXPORT CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd extra[], unsigned n, int timeout_ms, int *ret)
{
	const lr_curl_lib *lib = lr_multi_inner_lib;

	if (lib && lib->multi_poll) /* libcurl's own, inside curl_easy_perform */
		return lib->multi_poll(m, extra, n, lr_capture_inner ? lr_capture_wait_cap(lr_capture_inner, timeout_ms)
								     : timeout_ms, ret);
	return app_poll(m, extra, n, timeout_ms, ret, CALLER, 0);
}

LR_EXPORT CURLMcode curl_multi_wait(CURLM *m, struct curl_waitfd extra[], unsigned n, int timeout_ms, int *ret)
{
	const lr_curl_lib *lib = lr_multi_inner_lib;

	if (lib && lib->multi_wait) /* libcurl's own, inside curl_easy_perform */
		return lib->multi_wait(m, extra, n, lr_capture_inner ? lr_capture_wait_cap(lr_capture_inner, timeout_ms)
								     : timeout_ms, ret);
	return app_poll(m, extra, n, timeout_ms, ret, CALLER, 1);
}

LR_EXPORT CURLMcode curl_multi_timeout(CURLM *m, long *ms)
{
	const lr_curl_lib *lib = lib_of(CALLER);
	int next;
	CURLMcode rc;

	if (!lib || !lib->multi_timeout)
		return CURLM_INTERNAL_ERROR;
	next = capped(lib, m, -1, 0);
	rc = lib->multi_timeout(m, ms);
	if (rc == CURLM_OK && ms && next >= 0 && (*ms < 0 || *ms > next))
		*ms = next;
	return rc;
}

LR_EXPORT CURLMcode curl_multi_cleanup(CURLM *m)
{
	const lr_curl_lib *lib = lib_of(CALLER);

	if (!lib || !lib->multi_cleanup)
		return CURLM_INTERNAL_ERROR;
	if (lr_multi_any() && lr_depth == 0)
		drop(m);
	return lib->multi_cleanup(m);
}

void lr_multi_atfork(int phase)
{
	lr_fork_mutex(&mu, phase);
}
