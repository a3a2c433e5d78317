/*
 * lr_match.h - pick the route for one request: first match wins.
 *
 * The request is described by its features (lr_features): one value per
 * field the rules can test.  lr_decide() walks the enabled routes in table
 * order and returns the first whose every condition holds.  It allocates
 * nothing and touches only the table and the features, so the shim, the
 * socket layer and `llmroutectl explain` all get the same answer.
 */
#ifndef LR_MATCH_H
#define LR_MATCH_H
#include <stddef.h>
#include "lr_table.h"

typedef struct {
	const char *str[LR_F_NSTR]; /* NULL = the request has no such value */
	size_t len[LR_F_NSTR];
	double num[LR_F_NNUM];      /* numeric fields, by field - LR_F_NUM */
} lr_features;

enum lr_action {
	LR_ACTION_NONE,  /* no route matched: send as the app made it */
	LR_ACTION_PASS,  /* a route matched that changes nothing */
	LR_ACTION_ROUTE, /* a route matched that rewrites the request */
	LR_ACTION_DENY,  /* a route matched that refuses the request */
};

typedef struct {
	int action;           /* enum lr_action */
	int index;            /* route index, -1 for LR_ACTION_NONE */
	const lr_route *route;/* NULL for LR_ACTION_NONE */
	int target;           /* catalogue target chosen (lr_choose.h), or -1 */
	int over_budget;      /* the route's daily budget was reached */
	int uncertain;        /* decided by a "when_unsure": index of the route whose
	                       * intent_confidence was not reached, else -1 */
} lr_decision;

/* Sets one string feature (s may be NULL). */
void lr_features_set(lr_features *f, int field, const char *s, size_t n);

/* Sets one numeric feature (field >= LR_F_NUM). */
void lr_features_num(lr_features *f, int field, double v);

/* Returns 1 if condition `c` of table `t` holds for `f`, else 0.  An absent
 * string feature is matched as the empty string, so only `*` matches it.
 * Host, user text and system text are matched ignoring ASCII case. */
int lr_cond_holds(const lr_table *t, const lr_cond *c, const lr_features *f);

/* Decides.  Always succeeds (returns 0); a NULL table decides NONE.  On a
 * table with a route index (lr_route_index.h) only the routes that could
 * match are tested; the decision is the scan's. */
int lr_decide(const lr_table *t, const lr_features *f, lr_decision *d);

/* The same by testing every route in order, index or not: the reference
 * the index is checked against (tests, fuzzers). */
int lr_decide_scan(const lr_table *t, const lr_features *f, lr_decision *d);

/*
 * The deny a request could meet when some of its features are unknown (its
 * body could not be read): routes in table order, where a condition on a
 * field whose bit (1 << field) is set in `unknown` may hold or not.  A route
 * that surely matches (no unknown field) stops the walk: a later deny could
 * not be reached.  Returns 1 with *d set to the first deny that could match
 * (action LR_ACTION_DENY), else 0 with *d untouched.  Allocates nothing.
 */
int lr_decide_unknown(const lr_table *t, const lr_features *f, unsigned long long unknown,
		      lr_decision *d);

/*
 * Which route claims connections to `host` (n bytes), for the socket
 * transport's endpoint redirection: the first enabled route, in table
 * order, that does not deny, whose endpoint is http://, and whose
 * conditions are only on what is known before a request is written: at
 * least one host condition, every one matching `host` and none the bare
 * "*" (a route must name the hosts whose connections it takes), and
 * optionally process conditions, which must hold for `process`.  A route
 * that also tests the model, operation or provider never claims a
 * connection: those differ request by request on one connection.  Returns
 * the route index, or LR_ENOTFOUND (also for a NULL table).
 */
int lr_claim_host(const lr_table *t, const char *host, size_t n, const char *process);

/* The same for a TLS connection (port 443) that the shim answers itself
 * from the handshake on (shim/lr_claim.h): the endpoint may be http:// or
 * https://, since the shim's own client carries every request of it. */
int lr_claim_host_tls(const lr_table *t, const char *host, size_t n, const char *process);

/* 1 if an enabled route of t (any action, deny included) has a host
 * condition, other than the bare "*", that matches host: with TLS
 * interception on (shim/lr_claim.h), the hosts whose connections the shim
 * takes besides the known LLM API hosts. */
int lr_match_names_host(const lr_table *t, const char *host, size_t n);

#endif
