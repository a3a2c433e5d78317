/*
 * lr_engine.c - the one decision chain (see the header).
 */
#include "lr_engine.h"
#include "lr_error.h"

#include <stdio.h>
#include <string.h>

static void prepare(const lr_engine_ctx *cx, lr_request *r, const char *body, size_t blen)
{
	if (cx->t && (cx->t->needs & LR_NEED_FEATURES))
		lr_request_features(r, body, blen);
	if (cx->t && (cx->t->needs & LR_NEED_GUARD)) {
		lr_guard_scan(body, body ? blen : 0, &r->guard);
		lr_features_num(&r->f, LR_F_PII, r->guard.mask);
	}
	lr_intent_apply(cx->t, cx->intents, r);
}

int lr_engine_decide(const lr_engine_ctx *cx, lr_request *r, const char *body, size_t blen,
		     int unread, lr_decision *d, lr_choice *why)
{
	prepare(cx, r, body, blen);
	lr_decide(cx->t, &r->f, d);
	lr_choose(cx->t, d, r, cx->live, cx->now, why);
	return lr_request_guard(cx->t, r, body, blen, unread, d);
}

/* A route with nothing of its own to set sends the request as the app
 * made it. */
static int route_sets(const lr_route *rt)
{
	return rt->set_model.off || rt->set_endpoint.off || rt->set_key_env.off || rt->param_count;
}

int lr_engine_decide_step(const lr_engine_ctx *cx, lr_request *r, const char *body, size_t blen,
			  const char *route, const char *step, lr_decision *d)
{
	int ri = cx->t ? lr_table_find(cx->t, route) : -1;

	memset(d, 0, sizeof(*d));
	d->index = -1;
	d->target = -1;
	d->uncertain = -1;
	if (ri < 0)
		return LR_ENOTFOUND;
	prepare(cx, r, body, blen);
	d->index = ri;
	d->route = &lr_table_routes(cx->t)[ri];
	d->action = LR_ACTION_ROUTE;
	if (strcmp(step, "original") == 0 || (!step[0] && !route_sets(d->route) && !d->route->pool_count))
		d->action = LR_ACTION_PASS;
	else if (step[0] && (d->target = lr_table_find_target(cx->t, step)) < 0)
		return LR_ENOTFOUND;
	return 0;
}

void lr_engine_deny_message(const lr_table *t, const lr_decision *d, int unread, char *buf, size_t cap)
{
	snprintf(buf, cap, "llmroute: denied by route %s: %s%s", lr_table_str(t, d->route->name),
		 lr_decision_deny_message(t, d),
		 unread ? " (the request body could not be read, and this route could match it)" : "");
}
