/*
 * lr_engine.h - the one decision chain, for every transport and for
 * `llmroutectl explain`.
 *
 * A request, once detected (lr_request_init_as), is decided the same way
 * wherever it was seen: the policy features when the table tests them,
 * the intent, the first matching route (lr_decide), the policy's choice
 * of target (lr_choose), and the guard that refuses a body that could not
 * be read when a deny could match it (lr_request_guard).  The libcurl
 * adapter (shim/lr_curl_apply.c), the socket and TLS adapter
 * (shim/lr_conn.c) and explain all call lr_engine_decide; an attempt of a
 * resilient route (a fallback, an escalation: lr_attempt.h) is decided by
 * lr_engine_decide_step.  No I/O, no transport types.
 */
#ifndef LR_ENGINE_H
#define LR_ENGINE_H
#include "lr_choose.h"
#include "lr_intent.h"
#include "lr_match.h"
#include "lr_request.h"
#include "lr_table.h"

#include <stddef.h>

/* What the chain reads beside the request.  Every member may be NULL or 0:
 * no table (nothing matches), no compiled intents, no live numbers. */
typedef struct lr_engine_ctx {
	const lr_table *t;
	const lr_intent_cache *intents;
	const lr_live *live;
	long long now;            /* unix time, for budgets */
} lr_engine_ctx;

/* Decides request r (body: blen bytes, or NULL; unread: there is a body
 * the transport could not read).  Sets *d; fills *why when not NULL (the
 * policy's candidates, for explain).  Returns 1 when the decision is a
 * deny only because the body could not be read, else 0. */
int lr_engine_decide(const lr_engine_ctx *cx, lr_request *r, const char *body, size_t blen,
		     int unread, lr_decision *d, lr_choice *why);

/* The decision of one attempt of a resilient route: route `route` sends
 * the request to `step` (a target name), or as the app made it ("original",
 * or "" for a route that sets nothing of its own).  Intents are applied, so
 * the body edits see them.  0, or LR_ENOTFOUND when the route or the
 * target is no longer in the table. */
int lr_engine_decide_step(const lr_engine_ctx *cx, lr_request *r, const char *body, size_t blen,
			  const char *route, const char *step, lr_decision *d);

/* The text an app gets for a denied request. */
void lr_engine_deny_message(const lr_table *t, const lr_decision *d, int unread, char *buf, size_t cap);

#endif
