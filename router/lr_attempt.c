/*
 * lr_attempt.c - the attempt state machine of a resilient request (see the
 * header).  Everything here is a pure function of the route, the state,
 * the outcome and what the injected health table says.
 */
#include "lr_attempt.h"
#include "lr_answer.h"
#include "lr_error.h"

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

	return rt && (rt->fallback_count || rt->escalate_count || rt->cache_ttl_s);
}

static void step_name(const lr_table *t, uint32_t target, char *out)
{
	snprintf(out, LR_ATTEMPT_NAME, "%s", target == LR_TARGET_ORIGINAL ? "original"
					 : lr_table_str(t, lr_table_targets(t)[target].name));
}

int lr_attempt_init(lr_attempt *a, const lr_table *t, const lr_decision *d, const lr_attempt_env *env,
		    int stream, int json_asked, int format, const char *operation)
{
	const lr_route *rt = d->route;
	const lr_chain_rec *ch = lr_table_chains(t) + rt->chain_first;
	uint32_t i;

	memset(a, 0, sizeof(*a));
	snprintf(a->route, sizeof(a->route), "%s", lr_table_str(t, rt->name));
	if (d->target >= 0)
		step_name(t, (uint32_t)d->target, a->step[0]);
	for (i = 0; i < rt->fallback_count + rt->escalate_count && i < 2 * LR_MAX_CHAIN; i++)
		step_name(t, ch[i].target, a->step[1 + i]);
	a->nfall = (int)rt->fallback_count;
	a->nesc = (int)rt->escalate_count;
	a->gate_when = rt->escalate_count ? rt->escalate_when : 0;
	if (rt->escalate_refusal.off && !(a->refusal = strdup(lr_table_str(t, rt->escalate_refusal))))
		return LR_ENOMEM;
	a->timeout_ms = rt->timeout_ms;
	a->retry_after_max_ms = rt->retry_after_max_ms;
	a->stream = stream;
	a->json_asked = json_asked;
	a->format = format;
	a->operation = operation;
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

static int cooling(const lr_attempt *a, int i)
{
	char key[LR_ATTEMPT_NAME + 8];

	if (!a->env.cooling)
		return 0;
	lr_attempt_health_key(a, i, key, sizeof(key));
	return a->env.cooling(a->env.ud, key);
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
	 * answer stays the app's if this one is worse) */
	return (a->gate_when && !a->stream && a->nesc && a->cur < a->nfall + a->nesc) || a->have_best;
}

unsigned lr_attempt_timeout(const lr_attempt *a)
{
	return !a->no_timeout && next_step(a, 0) >= 0 ? a->timeout_ms : 0; /* only while another can answer */
}

void lr_attempt_sent(lr_attempt *a, const lr_act *act)
{
	if (act->kind == LR_ACT_SEND || act->kind == LR_ACT_WAIT_SEND)
		a->cur = act->step;
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

/* The next step after a failure at a->cur, or the end of the chain. */
static lr_act next_after_failure(lr_attempt *a)
{
	int escalating = a->cur > a->nfall, next = a->no_timeout ? -1 : next_step(a, escalating);

	if (next < 0)
		return after_all_failed(a);
	return send(next, escalating ? "escalation" : "fallback");
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
		x = act_of(LR_ACT_WAIT_SEND);
		x.step = a->cur;
		x.via = "retry";
		x.wait_ms = (unsigned)ra * 1000;
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
	if (o->held && a->gate_when && (cond = gate(a, o)))
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

lr_act lr_attempt_judge(lr_attempt *a, const lr_outcome *o)
{
	lr_act x;

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
	lr_act x = next_after_failure(a);

	x.keep = act->keep;
	return x;
}

lr_act lr_attempt_unsendable(lr_attempt *a, const lr_act *act)
{
	lr_act x;

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
	return after_all_failed(a); /* with an escalated-from answer kept: that one */
}
