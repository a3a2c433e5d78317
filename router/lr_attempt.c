/*
 * lr_attempt.c - the attempt state machine of a resilient request (see the
 * header).  Everything here is a pure function of the route, the state,
 * the outcome and what the injected health table says.
 */
#include "lr_attempt.h"
#include "lr_answer.h"
#include "lr_error.h"
#include "lr_overflow.h"
#include "lr_price.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FAILED, ANSWERED, AS_IS };

int lr_attempt_retryable(long status)
{
	return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

int lr_attempt_wanted(const lr_decision *d)
{
	const lr_route *rt = d->route;

	return rt && (rt->fallback_count || rt->escalate_count || rt->cache_ttl_s || rt->context_mode ||
		      (rt->flags & LR_ROUTE_RETRIES));
}

int lr_attempt_nsteps(const lr_attempt *a)
{
	return 1 + a->nfall + a->nesc + a->nctx;
}

static void step_name(const lr_table *t, uint32_t target, char *out)
{
	snprintf(out, LR_ATTEMPT_NAME, "%s", target == LR_TARGET_ORIGINAL ? "original"
					 : lr_table_str(t, lr_table_targets(t)[target].name));
}

/* The context window of a model, from the table's catalogue; 0: unknown. */
static double model_window(const lr_table *t, const char *model)
{
	const lr_price_rec *p = model && *model ? lr_price_catalog_find(t, model) : NULL;

	return p && p->context_window > 0 ? p->context_window : 0;
}

static double target_window(const lr_table *t, uint32_t target, const char *app_model)
{
	if (target == LR_TARGET_ORIGINAL)
		return model_window(t, app_model);
	return lr_table_targets(t)[target].context_window > 0 ? lr_table_targets(t)[target].context_window : 0;
}

/* "larger": the route's own targets (pool, fallbacks, escalations) whose
 * window is known, smallest first, each once. */
static void larger_steps(lr_attempt *a, const lr_table *t, const lr_route *rt, const char *app_model)
{
	const lr_chain_rec *ch = lr_table_chains(t) + rt->chain_first;
	uint32_t cand[3 * LR_MAX_CHAIN + 64], n = 0, i, j, k, tg;
	double w;
	int base = 1 + a->nfall + a->nesc;

	for (i = 0; i < rt->pool_count && n < 64; i++)
		cand[n++] = lr_table_pools(t)[rt->pool_first + i].target;
	for (i = 0; i < rt->fallback_count + rt->escalate_count; i++)
		cand[n++] = ch[i].target;
	for (i = 0; i < n && a->nctx < LR_MAX_CHAIN; i++) {
		tg = cand[i];
		if ((w = target_window(t, tg, app_model)) <= 0)
			continue;
		for (j = 0; j < i && cand[j] != tg; j++)
			;
		if (j < i)
			continue; /* named twice */
		/* insertion by window, ties in the route's order */
		for (k = (uint32_t)a->nctx; k > 0 && a->window[base + (int)k - 1] > w; k--) {
			memcpy(a->step[base + (int)k], a->step[base + (int)k - 1], LR_ATTEMPT_NAME);
			a->window[base + (int)k] = a->window[base + (int)k - 1];
		}
		step_name(t, tg, a->step[base + (int)k]);
		a->window[base + (int)k] = w;
		a->nctx++;
	}
}

int lr_attempt_init(lr_attempt *a, const lr_table *t, const lr_decision *d, const lr_attempt_env *env,
		    const lr_request *r, int stream)
{
	const lr_route *rt = d->route;
	const lr_chain_rec *ch = lr_table_chains(t) + rt->chain_first;
	const char *app_model = r->model, *own = lr_table_str(t, rt->set_model);
	uint32_t i, n = rt->fallback_count + rt->escalate_count;

	memset(a, 0, sizeof(*a));
	snprintf(a->route, sizeof(a->route), "%s", lr_table_str(t, rt->name));
	if (d->target >= 0)
		step_name(t, (uint32_t)d->target, a->step[0]);
	a->window[0] = d->target >= 0 ? target_window(t, (uint32_t)d->target, app_model)
				      : model_window(t, own ? own : app_model);
	for (i = 0; i < n && i < 2 * LR_MAX_CHAIN; i++) {
		step_name(t, ch[i].target, a->step[1 + i]);
		a->window[1 + i] = target_window(t, ch[i].target, app_model);
	}
	a->nfall = (int)rt->fallback_count;
	a->nesc = (int)rt->escalate_count;
	if (rt->context_mode == LR_CONTEXT_LARGER) {
		larger_steps(a, t, rt, app_model);
	} else if (rt->context_mode == LR_CONTEXT_LIST) {
		for (i = 0; i < rt->context_count && i < LR_MAX_CHAIN; i++) {
			step_name(t, ch[n + i].target, a->step[1 + n + i]);
			a->window[1 + n + i] = target_window(t, ch[n + i].target, app_model);
		}
		a->nctx = (int)i;
	}
	a->retries = rt->retries;
	a->backoff_ms = rt->retry_backoff_ms;
	a->gate_when = rt->escalate_count ? rt->escalate_when : 0;
	if (rt->escalate_refusal.off && !(a->refusal = strdup(lr_table_str(t, rt->escalate_refusal))))
		return LR_ENOMEM;
	a->timeout_ms = rt->timeout_ms;
	a->retry_after_max_ms = rt->retry_after_max_ms;
	a->first_token_ms = rt->first_token_ms;
	a->idle_ms = rt->idle_ms;
	a->stream_hold = (rt->flags & LR_ROUTE_STREAM_HOLD) != 0;
	a->cont_mode = (int)rt->stream_continue;
	a->stream = stream;
	a->json_asked = r->x.json;
	a->format = r->det.format;
	a->operation = r->det.operation;
	a->env = *env;
	a->attempt = 1;
	a->cut = -1;
	return 0;
}

void lr_attempt_free(lr_attempt *a)
{
	free(a->refusal);
	a->refusal = NULL;
}

/* --- health ------------------------------------------------------------- */

void lr_attempt_health_key(const lr_attempt *a, int i, char *out, size_t cap)
{
	if (a->step[i][0] && strcmp(a->step[i], "original") != 0)
		snprintf(out, cap, "%s", a->step[i]);
	else
		snprintf(out, cap, "route:%s", a->route);
}

static int health_state(const lr_attempt *a, int i)
{
	char key[LR_ATTEMPT_NAME + 8];

	if (!a->env.cooling)
		return LR_HEALTH_OK;
	lr_attempt_health_key(a, i, key, sizeof(key));
	return a->env.cooling(a->env.ud, key);
}

static int cooling(const lr_attempt *a, int i)
{
	return health_state(a, i) == LR_HEALTH_COOLING;
}

static void health_fail(const lr_attempt *a, int i, long retry_after_s)
{
	char key[LR_ATTEMPT_NAME + 8];

	if (!a->env.health_fail)
		return;
	lr_attempt_health_key(a, i, key, sizeof(key));
	a->env.health_fail(a->env.ud, key, retry_after_s);
}

static void health_ok(const lr_attempt *a)
{
	char key[LR_ATTEMPT_NAME + 8];

	if (!a->env.health_ok)
		return;
	lr_attempt_health_key(a, a->cur, key, sizeof(key));
	a->env.health_ok(a->env.ud, key);
}

/* --- steps ----------------------------------------------------------------- */

/* The next step after a->cur in the phase (fallbacks, or escalations when
 * `escalate`): the first not cooling down, else the first; -1 if none. */
static int next_step(const lr_attempt *a, int escalate)
{
	int from, to = a->nfall + a->nesc, i;

	if (a->cur > a->nfall) { /* escalating: the next stronger one */
		from = a->cur + 1;
	} else if (escalate) {
		from = a->nfall + 1;
	} else {
		from = a->cur + 1;
		to = a->nfall;
	}
	for (i = from; i <= to; i++)
		if (!cooling(a, i))
			return i;
	return from <= to ? from : -1;
}

static lr_act act_of(int kind)
{
	lr_act x;

	memset(&x, 0, sizeof(x));
	x.kind = kind;
	return x;
}

static lr_act send(int step, const char *via)
{
	lr_act x = act_of(LR_ACT_SEND);

	x.step = step;
	x.via = via;
	return x;
}

lr_act lr_attempt_first(lr_attempt *a, int cache_hit)
{
	lr_act x;
	int next;

	if (cache_hit)
		return act_of(LR_ACT_SERVE_CACHE);
	if (!a->nfall || !cooling(a, 0) || (next = next_step(a, 0)) < 0 || cooling(a, next))
		return act_of(LR_ACT_NONE);
	a->attempt = 0; /* nothing was sent for the first step */
	x = send(next, "health");
	x.drop_record = 1;
	return x;
}

int lr_attempt_hold(const lr_attempt *a)
{
	/* while a stronger step is left, and while escalating (the cheap
	 * answer stays the app's if this one is worse); not at a context
	 * step: its 2xx beats the kept 400 whatever it says */
	return (a->gate_when && !a->stream && a->nesc && a->cur < a->nfall + a->nesc) ||
	       (a->have_best && !a->ctx_best) || (a->stream && a->stream_hold && !a->continuing);
}

int lr_attempt_hold_error(const lr_attempt *a)
{
	return a->nctx > 0 && (!a->have_best || a->ctx_best);
}

unsigned lr_attempt_timeout(const lr_attempt *a)
{
	return !a->no_timeout && next_step(a, 0) >= 0 ? a->timeout_ms : 0; /* only while another can answer */
}

unsigned lr_attempt_first_token(const lr_attempt *a)
{
	return !a->no_timeout && next_step(a, 0) >= 0 ? a->first_token_ms : 0;
}

int lr_attempt_track(const lr_attempt *a)
{
	return a->stream && (a->cont_mode != LR_CONTINUE_OFF || a->stream_hold);
}

unsigned lr_attempt_idle(const lr_attempt *a)
{
	return a->stream && lr_attempt_track(a) && !a->no_timeout && next_step(a, 0) >= 0 ? a->idle_ms : 0;
}

int lr_attempt_continuing(const lr_attempt *a)
{
	return a->continuing;
}

static int ctx_base(const lr_attempt *a)
{
	return 1 + a->nfall + a->nesc;
}

void lr_attempt_sent(lr_attempt *a, const lr_act *act)
{
	if (act->kind == LR_ACT_SEND || act->kind == LR_ACT_WAIT_SEND) {
		if (act->step != a->cur)
			a->tries = 0; /* retries count per step */
		a->cur = act->step;
		if (a->cur >= ctx_base(a) && a->cur - ctx_base(a) < 32)
			a->ctx_tried |= 1u << (a->cur - ctx_base(a));
	}
	a->attempt++;
	a->via = act->via;
}

/* --- judging ---------------------------------------------------------------- */

static int ok2xx(long status)
{
	return status >= 200 && status <= 299;
}

static int verdict(const lr_attempt *a, const lr_outcome *o)
{
	int v;

	if (o->app_stopped)
		v = AS_IS; /* the app's choice */
	else if (o->passed) /* the app has this answer, or part of it */
		v = o->fail == LR_OUT_OK ? ANSWERED : AS_IS;
	else if (o->stream_cut) /* held whole, and incomplete */
		v = FAILED;
	else if (o->fail == LR_OUT_ABORTED)
		v = o->timeout != LR_TO_NONE ? FAILED : AS_IS;
	else if ((o->fail == LR_OUT_OK || o->fail == LR_OUT_HTTP_ERROR) && lr_attempt_retryable(o->status))
		v = FAILED;
	else if (o->fail == LR_OUT_OK)
		v = ANSWERED;
	else
		v = o->fail == LR_OUT_TRANSPORT ? FAILED : AS_IS;
	if (a->have_best && !o->passed && v != FAILED && !o->app_stopped &&
	    (o->fail != LR_OUT_OK || !ok2xx(o->status)))
		v = FAILED; /* not better than the answer we have */
	return v;
}

static lr_act give_up(const lr_attempt *a)
{
	return act_of(a->have_best ? LR_ACT_DELIVER_BEST : LR_ACT_DELIVER_FAIL);
}

/* Every later step failed after we cut one short: that step again, with
 * no time-out of ours; or the request ends. */
static lr_act after_all_failed(lr_attempt *a)
{
	if (!a->have_best && a->cut >= 0 && !a->no_timeout) {
		a->no_timeout = 1;
		return send(a->cut, "without_timeout");
	}
	return give_up(a);
}

/* The next context step: not sent yet, not the target that overflowed,
 * and (when both are known) a window larger than every one that did;
 * one not cooling down first.  -1 if none. */
static int next_ctx(const lr_attempt *a)
{
	int i, base = ctx_base(a), first = -1;

	for (i = base; i < base + a->nctx; i++) {
		if ((a->ctx_tried & (1u << (i - base))) || strcmp(a->step[i], a->step[a->cur]) == 0 ||
		    (a->window[i] > 0 && a->ctx_min > 0 && a->window[i] <= a->ctx_min))
			continue;
		if (!cooling(a, i))
			return i;
		if (first < 0)
			first = i;
	}
	return first;
}

/* The next step after a failure at a->cur, or the end of the chain. */
static lr_act next_after_failure(lr_attempt *a)
{
	int escalating = a->cur > a->nfall, next;

	if (a->cur >= ctx_base(a)) { /* a larger one failed: the next larger one */
		next = a->no_timeout ? -1 : next_ctx(a);
		return next < 0 ? after_all_failed(a) : send(next, "context");
	}
	next = a->no_timeout ? -1 : next_step(a, escalating);
	if (next < 0)
		return after_all_failed(a);
	return send(next, escalating ? "escalation" : "fallback");
}

/* Might the same target answer if asked again a moment later? */
static int retry_cures(const lr_outcome *o)
{
	if (o->timeout != LR_TO_NONE)
		return 0; /* slow: asking again costs another time-out */
	if (o->fail == LR_OUT_TRANSPORT)
		return o->transient;
	return lr_attempt_retryable(o->status);
}

/* Our back-off before retry number a->tries + 1: full jitter, uniform in
 * 0 .. backoff_ms * 2^tries, capped. */
static unsigned backoff(const lr_attempt *a)
{
	uint64_t ceil = a->backoff_ms;
	int k;

	for (k = 0; k < a->tries && ceil < LR_BACKOFF_MAX_MS; k++)
		ceil *= 2;
	if (ceil > LR_BACKOFF_MAX_MS)
		ceil = LR_BACKOFF_MAX_MS;
	if (!a->env.rand)
		return (unsigned)ceil;
	return (unsigned)(((uint64_t)a->env.rand(a->env.ud) * (ceil + 1)) >> 32);
}

static lr_act after_failure(lr_attempt *a, const lr_outcome *o)
{
	long ra = o->retry_after_s;
	int same;
	lr_act x;

	/* our own time-out counts against a target only once another step
	 * answered in its place (after_answer); a 4xx (only while escalating)
	 * is the request's, not the target's health */
	if (o->timeout == LR_TO_NONE && (lr_attempt_retryable(o->status) || o->fail == LR_OUT_TRANSPORT))
		health_fail(a, a->cur, ra);
	if (o->timeout != LR_TO_NONE && a->cut < 0)
		a->cut = a->cur;
	same = ra >= 0 && !a->retried && (unsigned long)ra * 1000 <= a->retry_after_max_ms;
	if (same) {
		a->retried = 1;
		a->tries++;
		x = act_of(LR_ACT_WAIT_SEND);
		x.step = a->cur;
		x.via = "retry";
		x.wait_ms = (unsigned)ra * 1000;
	} else if (ra < 0 && retry_cures(o) && a->tries < (int)a->retries && !a->have_best && !a->no_timeout &&
		   health_state(a, a->cur) == LR_HEALTH_OK) {
		x = act_of(LR_ACT_WAIT_SEND);
		x.step = a->cur;
		x.via = "retry";
		x.wait_ms = backoff(a);
		x.backoff = 1;
		a->tries++;
	} else {
		x = next_after_failure(a);
	}
	x.keep = LR_KEEP_FAIL;
	return x;
}

/* Does the held answer meet one of the route's escalation conditions?
 * Returns the condition's name, or NULL. */
static const char *gate(const lr_attempt *a, const lr_outcome *o)
{
	lr_answer ans;
	regex_t re;
	int have_re = 0;
	unsigned bit = 0;

	if (lr_answer_parse(a->format, a->operation, o->body, o->body_len, &ans) == 0) {
		if (a->gate_when & LR_GATE_REFUSAL)
			have_re = regcomp(&re, a->refusal ? a->refusal : LR_GATE_DEFAULT_REFUSAL,
					  REG_EXTENDED | REG_ICASE | REG_NOSUB) == 0;
		bit = lr_gate_check(&ans, a->gate_when, have_re ? &re : NULL, a->json_asked);
		if (have_re)
			regfree(&re);
	}
	lr_answer_free(&ans);
	return bit ? lr_gate_name(bit) : NULL;
}

static lr_act after_answer(lr_attempt *a, const lr_outcome *o)
{
	const char *cond = NULL;
	int next = -1;
	lr_act x;

	health_ok(a);
	if (a->cut >= 0 && a->cut != a->cur)
		health_fail(a, a->cut, -1); /* slow while another step answered */
	if (o->held && a->gate_when && !a->stream && ok2xx(o->status) && (cond = gate(a, o)))
		next = next_step(a, 1);
	if (next >= 0) {
		x = send(next, "escalation");
		x.keep = LR_KEEP_BEST;
		a->have_best = 1;
	} else {
		x = act_of(LR_ACT_DELIVER);
		x.store = 1;
	}
	x.settle_best = 1; /* an earlier escalation's answer is replaced, or loses */
	x.gate = cond;
	return x;
}

/* A 400/413 held whole that says the request is too long for the step's
 * context window (not while escalating: a stronger answer's 4xx loses to
 * the kept one anyway). */
static int overflowed(const lr_attempt *a, const lr_outcome *o)
{
	return lr_attempt_hold_error(a) && o->held && !o->passed && !o->app_stopped &&
	       (o->fail == LR_OUT_OK || o->fail == LR_OUT_HTTP_ERROR) && lr_overflow_status(o->status) &&
	       lr_overflow_match(o->body, o->body_len, NULL);
}

/* The request is too long for this step: a larger one, the 400 kept in
 * case none answers; or the 400 to the app, as it came. */
static lr_act after_overflow(lr_attempt *a)
{
	int i, base = ctx_base(a), next;
	lr_act x;

	health_ok(a); /* it answered: the request is at fault */
	if (a->window[a->cur] > a->ctx_min)
		a->ctx_min = a->window[a->cur];
	for (i = base; i < base + a->nctx; i++) /* never the same target again */
		if (strcmp(a->step[i], a->step[a->cur]) == 0)
			a->ctx_tried |= 1u << (i - base);
	if ((next = next_ctx(a)) >= 0) {
		x = send(next, "context");
		x.keep = LR_KEEP_BEST;
		a->have_best = a->ctx_best = 1;
	} else {
		x = act_of(LR_ACT_DELIVER);
	}
	x.settle_best = 1; /* an earlier overflow's answer is replaced */
	x.overflow = 1;
	return x;
}

/* --- streams cut after text reached the app ------------------------------------ */

/* A failure of the target's own (not our time-out) counts against it. */
static void cut_health(lr_attempt *a, const lr_outcome *o)
{
	if (o->timeout == LR_TO_NONE)
		health_fail(a, a->cur, -1);
}

/* The step that continues the app's stream: under "same" the cut step
 * once, then the next steps; or the app's stream ends with our error. */
static lr_act continue_stream(lr_attempt *a, const lr_outcome *o)
{
	int next = -1;
	lr_act x;

	if (o->no_continue)
		next = -1;
	else if (o->limit_reached)
		return act_of(LR_ACT_DELIVER_END); /* the app's limit: nothing more to ask for */
	else if (a->cont_mode == LR_CONTINUE_SAME && !a->same_tried) {
		a->same_tried = 1;
		next = a->cur;
	} else if (a->cont_mode != LR_CONTINUE_OFF) {
		next = next_step(a, 0);
	}
	if (next < 0)
		return act_of(LR_ACT_DELIVER_CUT);
	a->continuing = 1;
	a->tries = 0;
	x = send(next, "continuation");
	x.cont = 1;
	return x;
}

/* A continuation ended: its answer spliced whole, or cut again (the next
 * step continues), or it failed or refused (the next step, or our error
 * event ends the app's stream). */
static lr_act judge_continuation(lr_attempt *a, const lr_outcome *o)
{
	lr_act x;

	if (o->app_stopped || (o->passed && !o->stream_cut && o->fail == LR_OUT_OK)) {
		if (o->fail == LR_OUT_OK)
			health_ok(a);
		x = act_of(LR_ACT_DELIVER);
		return x;
	}
	if (o->passed) { /* more text reached the app, then a cut again */
		cut_health(a, o);
		x = continue_stream(a, o);
		x.partial = 1;
		return x;
	}
	if (o->stream_cut || o->timeout != LR_TO_NONE || o->fail == LR_OUT_TRANSPORT ||
	    ((o->fail == LR_OUT_OK || o->fail == LR_OUT_HTTP_ERROR) && lr_attempt_retryable(o->status))) {
		cut_health(a, o);
		x = continue_stream(a, o);
	} else { /* refused (a 4xx, or not a stream it can splice): never the app's answer */
		if (o->fail == LR_OUT_OK || o->fail == LR_OUT_HTTP_ERROR)
			health_ok(a);
		x = act_of(LR_ACT_DELIVER_CUT);
	}
	x.keep = LR_KEEP_FAIL;
	return x;
}

lr_act lr_attempt_judge(lr_attempt *a, const lr_outcome *o)
{
	lr_act x;

	if (a->continuing)
		return judge_continuation(a, o);
	if (o->passed && o->stream_cut && !o->app_stopped) {
		cut_health(a, o);
		x = continue_stream(a, o);
		x.partial = 1;
		x.settle_best = 1;
		return x;
	}
	if (overflowed(a, o))
		return after_overflow(a);
	switch (verdict(a, o)) {
	case FAILED:
		return after_failure(a, o);
	case ANSWERED:
		return after_answer(a, o);
	default:
		if (o->fail == LR_OUT_TRANSPORT)
			health_fail(a, a->cur, -1); /* mid-answer: too late to go elsewhere */
		else if (o->fail == LR_OUT_OK)
			health_ok(a);
		x = act_of(LR_ACT_DELIVER);
		x.settle_best = 1;
		return x;
	}
}

lr_act lr_attempt_no_wait(lr_attempt *a, const lr_act *act)
{
	lr_act x;

	if (act->backoff) { /* the retry itself matters more than its wait */
		x = send(act->step, act->via);
		x.keep = act->keep;
		return x;
	}
	x = next_after_failure(a);

	x.keep = act->keep;
	return x;
}

lr_act lr_attempt_unsendable(lr_attempt *a, const lr_act *act)
{
	lr_act x;

	if (a->continuing)
		return act_of(LR_ACT_DELIVER_CUT); /* nowhere to continue the app's stream */
	if (act->kind == LR_ACT_SEND && act->drop_record) { /* the cooling skip: the first step after all */
		a->attempt = 0;
		return send(0, NULL);
	}
	if (act->kind == LR_ACT_SEND && act->step == 0 && !act->via) {
		a->attempt = 1; /* neither: the app's request goes as it made it */
		return act_of(LR_ACT_NONE);
	}
	if (act->kind == LR_ACT_SEND && act->via && strcmp(act->via, "without_timeout") == 0) {
		x = act_of(LR_ACT_AS_APP);
		x.via = "original";
		return x;
	}
	if (act->kind == LR_ACT_AS_APP)
		return give_up(a);
	if (act->kind == LR_ACT_SEND && act->via && strcmp(act->via, "context") == 0) {
		int next, base = ctx_base(a);

		if (act->step >= base && act->step - base < 32)
			a->ctx_tried |= 1u << (act->step - base);
		if ((next = next_ctx(a)) >= 0)
			return send(next, "context");
	}
	return after_all_failed(a); /* with an escalated-from answer kept: that one */
}
