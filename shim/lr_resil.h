/*
 * lr_resil.h - "cheaper, and never worse": fallbacks, escalation and the
 * response cache for a libcurl transfer made with curl_easy_perform.
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
#include "lr_cache.h"
#include "lr_capture.h"
#include "lr_curl_sym.h"
#include "lr_easy.h"
#include "lr_match.h"
#include "lr_request.h"
#include "lr_table.h"

#define LR_RESIL_NAME 72

typedef struct lr_resil {
	/* from the route, copied when the transfer starts: the table may be
	 * republished while the attempts run */
	char route[LR_RESIL_NAME];
	char step[1 + 2 * LR_MAX_CHAIN][LR_RESIL_NAME]; /* [0] the routed target ("" for the
							 * route's own), fallbacks, escalations */
	int nfall, nesc;
	unsigned gate_when;
	char *refusal;                /* the route's refusal ERE, or NULL for the default */
	unsigned timeout_ms, retry_after_max_ms, health_fails, cooldown_s;
	int stream, json_asked, format;
	const char *operation;        /* static string from lr_detect */
	/* the app's request, for the attempts after the first */
	char *app_body;
	size_t app_len;
	int from_read;
	/* the cache */
	int cacheable;
	unsigned ttl_s;
	size_t max_entry, cache_size;
	lr_cache_key key;
	/* the attempts */
	char request_id[24];
	int cur;                      /* index in step[] of the attempt under way */
	int attempt;                  /* 1, 2, ... */
	const char *via;
	lr_capture cap;               /* the answer of the attempt under way */
	lr_capture best;              /* a 2xx answer an escalation may still replace */
	lr_capture fail;              /* the last failed answer, the last resort */
	struct lr_rec *best_x;        /* best's audit record, written at the end */
	int retried;                  /* a Retry-After was waited for once already */
	int no_timeout;               /* our time-out is off (a cut step sent again, or the app's request) */
	int cut;                      /* the first step our time-out cut short, -1 if none */
	CURLcode fail_rc;             /* libcurl's result for `fail` */
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

/* Frees e->rs (NULL is fine). */
void lr_resil_free(lr_easy *e);

#endif
