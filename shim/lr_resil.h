/*
 * lr_resil.h - "cheaper, and never worse": fallbacks, escalation and the
 * response cache for a libcurl transfer (curl_easy_perform here; the
 * curl_multi adapter, lr_multi.h, drives the same steps without a loop).
 *
 * When the route that decided a transfer names fallbacks, an escalation
 * or a cache, lr_curl_prepare() attaches an lr_resil to the handle and the
 * curl_easy_perform hook hands the transfer to lr_resil_perform(), which:
 *   1. serves a live cache hit without any network (the app's callbacks
 *      get the stored headers and body; curl_easy_getinfo answers for it);
 *   2. skips the routed target while it cools down (lr_stats.h health),
 *      if a later one does not;
 *   3. performs the attempt with our callbacks in front of the app's
 *      (lr_capture.h): the answer head is held until its status is known;
 *   4. on a failure (no connection, a time-out before the answer head,
 *      nothing or garbage back, 408, 429, 5xx) before anything reached the
 *      app, counts it against the target's health and performs the same
 *      request again at the next target of the chain, after a Retry-After
 *      wait if it is short enough (then at the same target).  Our own
 *      time-out is armed only while a later step is left; a step it cut is
 *      sent again without it when every later step failed; a step whose
 *      route or target left the live table is decided afresh
 *      (lr_curl_as_app);
 *   5. for a non-streaming request under an escalation, holds the whole
 *      answer and, when it meets a condition (lr_answer.h), performs again
 *      at the next stronger target; a stronger answer that fails or is not
 *      a 2xx leaves the app the earlier one;
 *   6. delivers exactly one answer to the app, and stores it in the cache
 *      when the route caches and it is a 2xx.
 * Each attempt gets its own audit record, all with the request's id.
 * If every attempt fails, the app gets the last failure as it came (or,
 * after an escalation, the best answer it had): never worse than without
 * the chain.  curl_multi transfers are routed but get none of this.
 */
#ifndef LR_RESIL_H
#define LR_RESIL_H
#include "lr_attempt.h"
#include "lr_cache.h"
#include "lr_capture.h"
#include "lr_splice.h"
#include "lr_rec.h"
#include "lr_curl_sym.h"
#include "lr_easy.h"
#include "lr_match.h"
#include "lr_request.h"
#include "lr_table.h"

typedef struct lr_resil {
	lr_attempt a;                 /* the route's chain and where the attempts are */
	lr_health_cfg health;         /* the table's thresholds, for the engine's health writes */
	/* the app's request, for the attempts after the first */
	char *app_body;
	size_t app_len;
	int from_read;
	/* the cache */
	int cacheable;
	unsigned ttl_s;
	size_t max_entry, cache_size;
	lr_cache_key key;
	char request_id[24];
	lr_capture cap;               /* the answer of the attempt under way */
	lr_capture best;              /* a 2xx answer an escalation may still replace */
	lr_capture fail;              /* the last failed answer, the last resort */
	struct lr_rec *best_x;        /* best's audit record, written at the end */
	struct lr_rec *fail_x;        /* the judged failed attempt's, until we know whether it is delivered */
	long fail_status;             /* its status and error, read when it ended */
	const char *fail_err;
	CURLcode fail_rc;             /* libcurl's result for `fail` */
	int fail_cut;                 /* `fail` is a held stream that was cut (stream_hold) */
	/* streams followed event by event (lr_splice.h): continued when cut */
	int track;                    /* the route may continue them, and this format can be */
	lr_splice sp;                 /* the app's stream so far */
	char *cont_body;              /* the body of the continuation under way (lives until
				       * the next attempt: libcurl does not copy it) */
	CURLcode cut_rc;              /* what the app's call returns if its stream ends with our error */
	const char *cut_why;          /* why it was cut, for that error event */
	lr_capture app_head;          /* the head of the stream the app reads (hdr, status):
				       * curl_easy_getinfo describes it, not a refused continuation */
	/* curl_multi (lr_multi.c) */
	int hit;                      /* a cache hit to serve when libcurl reports the handle done */
	CURLMsg own_msg;              /* a DONE we report for a handle libcurl no longer holds */
} lr_resil;

/* Sets e->rs up for a transfer decided as d from table t (view held),
 * when the route asks for any of it, before the first attempt's options
 * are applied.  The app's body (body, blen; from_read: read from its
 * callback) is copied.  No-op on failure (the transfer goes on as a plain
 * routed one). */
void lr_resil_begin(lr_easy *e, const lr_table *t, const lr_decision *d, const lr_request *r,
		    const char *body, size_t blen, int from_read);

/* Once the first attempt's options are applied and its record begun:
 * the cache key of what goes out, and the audit fields. */
void lr_resil_sent(lr_easy *e, const lr_table *t, const lr_decision *d);

/* Runs the transfer of the handle (e unlocked but owned by this thread,
 * as during any perform), returns what the app's curl_easy_perform
 * returns. */
CURLcode lr_resil_perform(const lr_curl_lib *lib, lr_easy *e);

/* --- curl_multi (lr_multi.c drives these; e owned as above) ------------ */

enum lr_resil_next {
	LR_RESIL_AGAIN,  /* options set for the next attempt: add the handle again now */
	LR_RESIL_WAIT,   /* the same, once *wait_ms have passed (a Retry-After) */
	LR_RESIL_DONE,   /* the app gets *result for this request */
};

/* Before the handle is first added: the cache hit or the first step
 * (cooling skip), then our callbacks.  1 when it is a cache hit (point
 * the handle at a URL libcurl fails at once; lr_resil_done serves it). */
int lr_resil_multi_start(const lr_curl_lib *lib, lr_easy *e);

/* libcurl reported the handle done with rc: judges the attempt.
 * can_wait: the app's loop calls curl_multi_perform/poll/wait, so a
 * Retry-After can be waited for; otherwise the next step goes at once. */
int lr_resil_multi_done(const lr_curl_lib *lib, lr_easy *e, CURLcode rc, int can_wait,
			CURLcode *result, unsigned *wait_ms);

/* The next attempt cannot be started (libcurl refused the handle): the
 * app gets the best or last answer the request had; returns its result. */
CURLcode lr_resil_give_up(const lr_curl_lib *lib, lr_easy *e);

/* Just before the handle is added again: our callbacks for the attempt
 * (its time-out and record start now, not before a wait). */
void lr_resil_multi_arm(const lr_curl_lib *lib, lr_easy *e);

/* The response cache segment of this user (created with `size` bytes on
 * first use; a failed open is retried a second later), or NULL. */
lr_cache *lr_resil_cache(size_t size);

/* Does a request header line change what the answer is (API version and
 * beta headers, Accept, proxy credentials, a session)?  Part of the key. */
int lr_resil_shapes_answer(const char *line);

/* A new request id: the attempts of one request share it in the audit
 * (every transport's). */
void lr_resil_request_id(char *out, size_t cap);

/* Frees e->rs (NULL is fine). */
void lr_resil_free(lr_easy *e);

#endif
