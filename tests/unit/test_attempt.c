/*
 * test_attempt.c - the attempt state machine (router/lr_attempt.h) driven
 * with fake outcomes and a fake health table: every path the libcurl
 * adapters take (fallback, Retry-After at the same target, our time-out
 * and the cut step sent again, cooling skip, escalation chain, the best
 * answer kept, giving up with the last failure, a route gone from the
 * table, retries with back-off and jitter, context overflows and their
 * larger targets, a target on probation, first-token and idle time-outs,
 * streams cut after text reached the app and their continuation), without
 * a network or libcurl.
 */
#include "lr_test.h"
#include "lr_answer.h"
#include "lr_attempt.h"
#include "lr_detect.h"
#include "lr_overflow.h"

#include <stdio.h>
#include <string.h>

/* --- a fake health table ----------------------------------------------------- */

static char cool[8][80];  /* keys cooling down */
static char probe[8][80]; /* keys on probation */
static uint32_t rnd = 0x80000000u; /* what the fake rand returns: half-way */
static char log_[2048];   /* "fail:KEY:RA ok:KEY " in order */

static int f_cooling(void *ud, const char *key)
{
	(void)ud;
	for (int i = 0; i < 8; i++)
		if (strcmp(cool[i], key) == 0)
			return LR_HEALTH_COOLING;
	for (int i = 0; i < 8; i++)
		if (strcmp(probe[i], key) == 0)
			return LR_HEALTH_PROBATION;
	return LR_HEALTH_OK;
}

static uint32_t f_rand(void *ud)
{
	(void)ud;
	return rnd;
}

static void f_fail(void *ud, const char *key, long ra)
{
	(void)ud;
	snprintf(log_ + strlen(log_), sizeof(log_) - strlen(log_), "fail:%s:%ld ", key, ra);
}

static void f_ok(void *ud, const char *key)
{
	(void)ud;
	snprintf(log_ + strlen(log_), sizeof(log_) - strlen(log_), "ok:%s ", key);
}

static const lr_attempt_env ENV = {f_cooling, f_fail, f_ok, f_rand, NULL};

/* A route "r" routed to step 0 "cheap", fallbacks, then escalations. */
static void setup(lr_attempt *a, const char *const *fall, int nfall, const char *const *esc, int nesc)
{
	memset(a, 0, sizeof(*a));
	memset(cool, 0, sizeof(cool));
	memset(probe, 0, sizeof(probe));
	rnd = 0x80000000u;
	log_[0] = '\0';
	snprintf(a->route, sizeof(a->route), "r");
	snprintf(a->step[0], sizeof(a->step[0]), "cheap");
	for (int i = 0; i < nfall; i++)
		snprintf(a->step[1 + i], sizeof(a->step[0]), "%s", fall[i]);
	for (int i = 0; i < nesc; i++)
		snprintf(a->step[1 + nfall + i], sizeof(a->step[0]), "%s", esc[i]);
	a->nfall = nfall;
	a->nesc = nesc;
	a->format = LR_FMT_OPENAI;
	a->operation = "chat";
	a->env = ENV;
	a->attempt = 1;
	a->cut = -1;
}

static lr_outcome status(long s)
{
	lr_outcome o;

	memset(&o, 0, sizeof(o));
	o.status = s;
	o.retry_after_s = -1;
	return o;
}

static lr_outcome transport(void)
{
	lr_outcome o = status(0);

	o.fail = LR_OUT_TRANSPORT;
	return o;
}

static lr_outcome timed_out(void)
{
	lr_outcome o = status(0);

	o.fail = LR_OUT_ABORTED;
	o.timeout = LR_TO_HEAD;
	return o;
}

static lr_outcome held(long s, const char *body)
{
	lr_outcome o = status(s);

	o.held = 1;
	o.body = body;
	o.body_len = strlen(body);
	return o;
}

/* lr_attempt_judge with an outcome by value */
static lr_act judge(lr_attempt *a, lr_outcome o)
{
	return lr_attempt_judge(a, &o);
}

static const char GOOD[] = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},"
			   "\"finish_reason\":\"stop\"}]}";
static const char CUT[] = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},"
			  "\"finish_reason\":\"length\"}]}";

static const char *const BIG[] = {"big"};
static const char *const TWO[] = {"big", "steady"};

static void fallback_on_503_and_transport(void)
{
	lr_attempt a;
	lr_act x;

	setup(&a, BIG, 1, NULL, 0);
	a.timeout_ms = 1000;
	CHECK_INT(lr_attempt_first(&a, 0).kind, LR_ACT_NONE);
	CHECK_INT(lr_attempt_timeout(&a), 1000); /* a later step is left */
	CHECK_INT(lr_attempt_hold(&a), 0);
	x = judge(&a, (lr_outcome){.status = 503, .retry_after_s = -1});
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 1);
	CHECK_STR(x.via, "fallback");
	CHECK_INT(x.keep, LR_KEEP_FAIL);
	CHECK_STR(log_, "fail:cheap:-1 ");
	lr_attempt_sent(&a, &x);
	CHECK_INT(a.attempt, 2);
	CHECK_INT(lr_attempt_timeout(&a), 0); /* the last step is never cut */
	x = judge(&a, (lr_outcome){.status = 200, .retry_after_s = -1});
	CHECK_INT(x.kind, LR_ACT_DELIVER);
	CHECK_INT(x.store, 1);
	CHECK_STR(log_, "fail:cheap:-1 ok:big ");

	setup(&a, BIG, 1, NULL, 0);
	x = judge(&a, (lr_outcome){.fail = LR_OUT_TRANSPORT, .retry_after_s = -1});
	CHECK_INT(x.kind, LR_ACT_SEND);
	/* --fail: libcurl says HTTP error, a 500 is still a failure; a 404 is the app's */
	setup(&a, BIG, 1, NULL, 0);
	x = judge(&a, (lr_outcome){.status = 500, .fail = LR_OUT_HTTP_ERROR, .retry_after_s = -1});
	CHECK_INT(x.kind, LR_ACT_SEND);
	setup(&a, BIG, 1, NULL, 0);
	x = judge(&a, (lr_outcome){.status = 404, .fail = LR_OUT_HTTP_ERROR, .retry_after_s = -1});
	CHECK_INT(x.kind, LR_ACT_DELIVER);
	CHECK_INT(x.store, 0);
	CHECK_STR(log_, ""); /* a 4xx is the request's, not the target's */
}

static void as_is_cases(void)
{
	lr_attempt a;
	lr_act x;
	lr_outcome o;

	/* the app saw part of it: too late to go elsewhere */
	setup(&a, BIG, 1, NULL, 0);
	o = transport();
	o.passed = 1;
	o.app_bytes = 10;
	x = lr_attempt_judge(&a, &o);
	CHECK_INT(x.kind, LR_ACT_DELIVER);
	CHECK_STR(log_, "fail:cheap:-1 ");
	/* the app stopped it */
	setup(&a, BIG, 1, NULL, 0);
	o = status(503);
	o.app_stopped = 1;
	o.fail = LR_OUT_ABORTED;
	CHECK_INT(lr_attempt_judge(&a, &o).kind, LR_ACT_DELIVER);
	/* the app's own abort (not our time-out) */
	setup(&a, BIG, 1, NULL, 0);
	o = status(0);
	o.fail = LR_OUT_ABORTED;
	CHECK_INT(lr_attempt_judge(&a, &o).kind, LR_ACT_DELIVER);
	/* some other error: not another target's business */
	setup(&a, BIG, 1, NULL, 0);
	o = status(0);
	o.fail = LR_OUT_OTHER;
	CHECK_INT(lr_attempt_judge(&a, &o).kind, LR_ACT_DELIVER);
	CHECK_STR(log_, "");
}

static void retry_after(void)
{
	lr_attempt a;
	lr_act x;
	lr_outcome o = status(429);

	setup(&a, BIG, 1, NULL, 0);
	a.retry_after_max_ms = 2000;
	o.retry_after_s = 1;
	x = lr_attempt_judge(&a, &o);
	CHECK_INT(x.kind, LR_ACT_WAIT_SEND);
	CHECK_INT(x.step, 0);
	CHECK_INT(x.wait_ms, 1000);
	CHECK_STR(x.via, "retry");
	CHECK_STR(log_, "fail:cheap:1 ");
	lr_attempt_sent(&a, &x);
	/* once only: the next 429 goes to the fallback */
	x = lr_attempt_judge(&a, &o);
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 1);
	CHECK_STR(x.via, "fallback");
	/* over the bound: the fallback at once */
	setup(&a, BIG, 1, NULL, 0);
	a.retry_after_max_ms = 2000;
	o.retry_after_s = 3;
	x = lr_attempt_judge(&a, &o);
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 1);
	/* a transport that cannot wait (an app driving curl_multi only with
	 * socket_action): the next step at once, as if no Retry-After */
	setup(&a, BIG, 1, NULL, 0);
	a.retry_after_max_ms = 2000;
	o.retry_after_s = 1;
	x = judge(&a, o);
	x = lr_attempt_no_wait(&a, &x);
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 1);
	CHECK_STR(x.via, "fallback");
	CHECK_INT(x.keep, LR_KEEP_FAIL);
	setup(&a, NULL, 0, NULL, 0);
	a.retry_after_max_ms = 2000;
	x = judge(&a, o);
	CHECK_INT(lr_attempt_no_wait(&a, &x).kind, LR_ACT_DELIVER_FAIL);
	/* no chain left but a Retry-After: waited at the same target */
	setup(&a, NULL, 0, NULL, 0);
	a.retry_after_max_ms = 2000;
	o.retry_after_s = 0;
	x = lr_attempt_judge(&a, &o);
	CHECK_INT(x.kind, LR_ACT_WAIT_SEND);
	CHECK_INT(x.wait_ms, 0);
}

static void give_up_last_failure(void)
{
	lr_attempt a;
	lr_act x;

	setup(&a, BIG, 1, NULL, 0);
	x = judge(&a, (lr_outcome){.status = 500, .retry_after_s = -1});
	lr_attempt_sent(&a, &x);
	x = judge(&a, (lr_outcome){.status = 500, .retry_after_s = -1});
	CHECK_INT(x.kind, LR_ACT_DELIVER_FAIL);
	CHECK_INT(x.keep, LR_KEEP_FAIL);
	CHECK_STR(log_, "fail:cheap:-1 fail:big:-1 ");
}

static void cut_step_sent_again(void)
{
	lr_attempt a;
	lr_act x;

	setup(&a, BIG, 1, NULL, 0);
	a.timeout_ms = 1000;
	x = judge(&a, (lr_outcome){.fail = LR_OUT_ABORTED, .timeout = LR_TO_HEAD, .retry_after_s = -1});
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 1);
	CHECK_STR(log_, ""); /* our time-out is not the target's failure (yet) */
	lr_attempt_sent(&a, &x);
	x = judge(&a, (lr_outcome){.status = 500, .retry_after_s = -1});
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 0);
	CHECK_STR(x.via, "without_timeout");
	lr_attempt_sent(&a, &x);
	CHECK_INT(a.attempt, 3);
	CHECK_INT(lr_attempt_timeout(&a), 0);
	x = judge(&a, (lr_outcome){.status = 200, .retry_after_s = -1});
	CHECK_INT(x.kind, LR_ACT_DELIVER);
	/* it answered itself: no failure counted for the cut */
	CHECK_STR(log_, "fail:big:-1 ok:cheap ");

	/* the fallback answered in its place: the slow one is counted */
	setup(&a, BIG, 1, NULL, 0);
	a.timeout_ms = 1000;
	x = judge(&a, (lr_outcome){.fail = LR_OUT_ABORTED, .timeout = LR_TO_HEAD, .retry_after_s = -1});
	lr_attempt_sent(&a, &x);
	x = judge(&a, (lr_outcome){.status = 200, .retry_after_s = -1});
	CHECK_INT(x.kind, LR_ACT_DELIVER);
	CHECK_STR(log_, "ok:big fail:cheap:-1 ");

	/* and the sent-again step fails too: the last failure, as it came */
	setup(&a, BIG, 1, NULL, 0);
	x = judge(&a, timed_out());
	lr_attempt_sent(&a, &x);
	x = judge(&a, transport());
	lr_attempt_sent(&a, &x);
	x = judge(&a, transport());
	CHECK_INT(x.kind, LR_ACT_DELIVER_FAIL);
}

static void route_gone(void)
{
	lr_attempt a;
	lr_act x, y;

	/* the fallback cannot be sent and nothing was cut: give up */
	setup(&a, BIG, 1, NULL, 0);
	x = judge(&a, transport());
	y = lr_attempt_unsendable(&a, &x);
	CHECK_INT(y.kind, LR_ACT_DELIVER_FAIL);
	/* a step was cut: sent again without the time-out; that one gone
	 * too: the app's request decided afresh; that one refused: give up */
	setup(&a, BIG, 1, NULL, 0);
	x = judge(&a, timed_out());
	CHECK_INT(x.kind, LR_ACT_SEND);
	y = lr_attempt_unsendable(&a, &x);
	CHECK_INT(y.kind, LR_ACT_SEND);
	CHECK_STR(y.via, "without_timeout");
	CHECK_INT(y.step, 0);
	x = lr_attempt_unsendable(&a, &y);
	CHECK_INT(x.kind, LR_ACT_AS_APP);
	CHECK_STR(x.via, "original");
	lr_attempt_sent(&a, &x);
	CHECK_INT(a.attempt, 2);
	CHECK_STR(a.via, "original");
	CHECK_INT(lr_attempt_timeout(&a), 0);
	y = lr_attempt_unsendable(&a, &x);
	CHECK_INT(y.kind, LR_ACT_DELIVER_FAIL);
}

static void cooling_skip(void)
{
	lr_attempt a;
	lr_act x, y;

	setup(&a, TWO, 2, NULL, 0);
	snprintf(cool[0], sizeof(cool[0]), "cheap");
	snprintf(cool[1], sizeof(cool[1]), "big");
	x = lr_attempt_first(&a, 0);
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 2);
	CHECK_STR(x.via, "health");
	CHECK_INT(x.drop_record, 1);
	CHECK_INT(a.attempt, 0);
	lr_attempt_sent(&a, &x);
	CHECK_INT(a.attempt, 1);
	CHECK_INT(a.cur, 2);
	/* cannot be sent: the first step after all; nor that: as prepared */
	setup(&a, TWO, 2, NULL, 0);
	snprintf(cool[0], sizeof(cool[0]), "cheap");
	x = lr_attempt_first(&a, 0);
	CHECK_INT(x.step, 1);
	y = lr_attempt_unsendable(&a, &x);
	CHECK_INT(y.kind, LR_ACT_SEND);
	CHECK_INT(y.step, 0);
	CHECK(y.via == NULL);
	x = lr_attempt_unsendable(&a, &y);
	CHECK_INT(x.kind, LR_ACT_NONE);
	CHECK_INT(a.attempt, 1);
	/* every later step cooling too: no skip */
	setup(&a, BIG, 1, NULL, 0);
	snprintf(cool[0], sizeof(cool[0]), "cheap");
	snprintf(cool[1], sizeof(cool[1]), "big");
	CHECK_INT(lr_attempt_first(&a, 0).kind, LR_ACT_NONE);
	/* a fallback cooling is passed over for one that is not */
	setup(&a, TWO, 2, NULL, 0);
	snprintf(cool[0], sizeof(cool[0]), "big");
	x = judge(&a, transport());
	CHECK_INT(x.step, 2);
	/* all cooling: the first of them all the same */
	snprintf(cool[1], sizeof(cool[1]), "steady");
	setup(&a, TWO, 2, NULL, 0);
	snprintf(cool[0], sizeof(cool[0]), "big");
	snprintf(cool[1], sizeof(cool[1]), "steady");
	x = judge(&a, transport());
	CHECK_INT(x.step, 1);
	/* the route's own target's health is the route's */
	setup(&a, BIG, 1, NULL, 0);
	a.step[0][0] = '\0';
	judge(&a, transport());
	CHECK_STR(log_, "fail:route:r:-1 ");
	CHECK_INT(lr_attempt_first(&a, 1).kind, LR_ACT_SERVE_CACHE);
}

static void escalation(void)
{
	lr_attempt a;
	lr_act x;

	setup(&a, NULL, 0, TWO, 2);
	a.gate_when = LR_GATE_LENGTH;
	CHECK_INT(lr_attempt_hold(&a), 1);
	x = judge(&a, held(200, CUT));
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 1);
	CHECK_STR(x.via, "escalation");
	CHECK_STR(x.gate, "length");
	CHECK_INT(x.keep, LR_KEEP_BEST);
	lr_attempt_sent(&a, &x);
	CHECK_INT(lr_attempt_hold(&a), 1); /* the cheap answer stays the app's if this is worse */
	x = judge(&a, held(200, CUT));
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 2);
	CHECK_INT(x.settle_best, 1); /* the cheap one's record is written now */
	lr_attempt_sent(&a, &x);
	x = judge(&a, held(200, CUT)); /* the last step: delivered as it is */
	CHECK_INT(x.kind, LR_ACT_DELIVER);
	CHECK_STR(x.gate, "length");
	CHECK_INT(x.settle_best, 1);

	/* a good answer is delivered, no escalation */
	setup(&a, NULL, 0, BIG, 1);
	a.gate_when = LR_GATE_LENGTH | LR_GATE_EMPTY;
	x = judge(&a, held(200, GOOD));
	CHECK_INT(x.kind, LR_ACT_DELIVER);
	CHECK(x.gate == NULL);
	/* a stream is not held: nothing to gate */
	setup(&a, NULL, 0, BIG, 1);
	a.gate_when = LR_GATE_LENGTH;
	a.stream = 1;
	CHECK_INT(lr_attempt_hold(&a), 0);

	/* the stronger answers 400: not better, the cheap one is delivered */
	setup(&a, NULL, 0, BIG, 1);
	a.gate_when = LR_GATE_LENGTH;
	x = judge(&a, held(200, CUT));
	lr_attempt_sent(&a, &x);
	x = judge(&a, held(400, "{}"));
	CHECK_INT(x.kind, LR_ACT_DELIVER_BEST);
	CHECK_INT(x.keep, LR_KEEP_FAIL);
	/* ... or fails: the same */
	setup(&a, NULL, 0, BIG, 1);
	a.gate_when = LR_GATE_LENGTH;
	x = judge(&a, held(200, CUT));
	lr_attempt_sent(&a, &x);
	x = judge(&a, transport());
	CHECK_INT(x.kind, LR_ACT_DELIVER_BEST);
	/* ... or cannot be sent: the same */
	setup(&a, NULL, 0, BIG, 1);
	a.gate_when = LR_GATE_LENGTH;
	x = judge(&a, held(200, CUT));
	CHECK_INT(lr_attempt_unsendable(&a, &x).kind, LR_ACT_DELIVER_BEST);
	/* a fallback chain first, then escalation */
	setup(&a, BIG, 1, TWO + 1, 1);
	a.gate_when = LR_GATE_EMPTY;
	x = judge(&a, status(503));
	CHECK_INT(x.step, 1);
	CHECK_STR(x.via, "fallback");
	lr_attempt_sent(&a, &x);
	x = judge(&a, held(200, "{\"choices\":[{\"message\":{\"content\":\"\"}}]}"));
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 2);
	CHECK_STR(x.gate, "empty");
	/* a refusal with the route's own pattern */
	setup(&a, NULL, 0, BIG, 1);
	a.gate_when = LR_GATE_REFUSAL;
	a.refusal = NULL;
	x = judge(&a, held(200, "{\"choices\":[{\"message\":{\"content\":\"I cannot help with that.\"},"
					    "\"finish_reason\":\"stop\"}]}"));
	CHECK_STR(x.gate, "refusal");
}

/* --- retries at the same target ------------------------------------------- */

static void retries_backoff(void)
{
	lr_attempt a;
	lr_act x;
	lr_outcome o;

	/* a 503: the same target after a jittered back-off, then the fallback */
	setup(&a, BIG, 1, NULL, 0);
	a.retries = 2;
	a.backoff_ms = 200;
	x = judge(&a, status(503));
	CHECK_INT(x.kind, LR_ACT_WAIT_SEND);
	CHECK_INT(x.step, 0);
	CHECK_STR(x.via, "retry");
	CHECK_INT(x.backoff, 1);
	CHECK_INT(x.wait_ms, 100); /* half of 200: full jitter over 0..200 */
	CHECK_INT(x.keep, LR_KEEP_FAIL);
	lr_attempt_sent(&a, &x);
	rnd = 0xFFFFFFFFu;
	x = judge(&a, status(500));
	CHECK_INT(x.kind, LR_ACT_WAIT_SEND);
	CHECK_INT(x.wait_ms, 400); /* the ceiling doubled: 0..400 */
	lr_attempt_sent(&a, &x);
	x = judge(&a, status(502));
	CHECK_INT(x.kind, LR_ACT_SEND); /* retries spent: the fallback */
	CHECK_INT(x.step, 1);
	CHECK_STR(x.via, "fallback");
	lr_attempt_sent(&a, &x);
	rnd = 0;
	x = judge(&a, status(503)); /* the fallback has its own retries */
	CHECK_INT(x.kind, LR_ACT_WAIT_SEND);
	CHECK_INT(x.step, 1);
	CHECK_INT(x.wait_ms, 0);
	CHECK_STR(log_, "fail:cheap:-1 fail:cheap:-1 fail:cheap:-1 fail:big:-1 ");

	/* the ceiling is capped */
	setup(&a, NULL, 0, NULL, 0);
	a.retries = 5;
	a.backoff_ms = 8000;
	rnd = 0xFFFFFFFFu;
	for (int i = 0; i < 3; i++) {
		x = judge(&a, status(503));
		CHECK_INT(x.kind, LR_ACT_WAIT_SEND);
		lr_attempt_sent(&a, &x);
	}
	CHECK(x.wait_ms <= LR_BACKOFF_MAX_MS && x.wait_ms >= LR_BACKOFF_MAX_MS - 1);
	/* no rand in the env: the ceiling itself, no jitter */
	setup(&a, NULL, 0, NULL, 0);
	a.env.rand = NULL;
	a.retries = 1;
	a.backoff_ms = 300;
	CHECK_INT(judge(&a, status(503)).wait_ms, 300);

	/* a refused or reset connection: retried; a name that does not
	 * resolve, TLS, garbage (not transient): the fallback at once */
	setup(&a, BIG, 1, NULL, 0);
	a.retries = 1;
	o = transport();
	o.transient = 1;
	CHECK_INT(lr_attempt_judge(&a, &o).kind, LR_ACT_WAIT_SEND);
	setup(&a, BIG, 1, NULL, 0);
	a.retries = 1;
	CHECK_INT(judge(&a, transport()).kind, LR_ACT_SEND);
	/* a 429 without Retry-After: retried */
	setup(&a, BIG, 1, NULL, 0);
	a.retries = 1;
	CHECK_INT(judge(&a, status(429)).kind, LR_ACT_WAIT_SEND);
	/* our time-out: never the same target again (it costs another) */
	setup(&a, BIG, 1, NULL, 0);
	a.retries = 1;
	a.timeout_ms = 1000;
	x = judge(&a, timed_out());
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 1);
	/* a 4xx: the app's, one attempt */
	setup(&a, BIG, 1, NULL, 0);
	a.retries = 3;
	x = judge(&a, status(400));
	CHECK_INT(x.kind, LR_ACT_DELIVER);
	/* retries 0: the fallback at once */
	setup(&a, BIG, 1, NULL, 0);
	CHECK_INT(judge(&a, status(503)).kind, LR_ACT_SEND);
	/* no fallback: retried, then the last failure */
	setup(&a, NULL, 0, NULL, 0);
	a.retries = 1;
	x = judge(&a, status(503));
	CHECK_INT(x.kind, LR_ACT_WAIT_SEND);
	lr_attempt_sent(&a, &x);
	CHECK_INT(a.attempt, 2);
	CHECK_INT(judge(&a, status(503)).kind, LR_ACT_DELIVER_FAIL);
}

static void retries_and_retry_after(void)
{
	lr_attempt a;
	lr_act x;
	lr_outcome o = status(429);

	/* a Retry-After within the bound is the wait; it counts as a retry */
	setup(&a, BIG, 1, NULL, 0);
	a.retries = 1;
	a.retry_after_max_ms = 2000;
	o.retry_after_s = 1;
	x = lr_attempt_judge(&a, &o);
	CHECK_INT(x.kind, LR_ACT_WAIT_SEND);
	CHECK_INT(x.wait_ms, 1000);
	CHECK_INT(x.backoff, 0);
	lr_attempt_sent(&a, &x);
	x = judge(&a, status(503));
	CHECK_INT(x.kind, LR_ACT_SEND); /* no retry left */
	CHECK_INT(x.step, 1);
	/* over the bound: the target said "not now", so no back-off retry */
	setup(&a, BIG, 1, NULL, 0);
	a.retries = 2;
	a.retry_after_max_ms = 2000;
	o.retry_after_s = 30;
	x = lr_attempt_judge(&a, &o);
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 1);
	/* a transport that cannot wait: a back-off retry goes at once, a
	 * Retry-After goes to the next step */
	setup(&a, BIG, 1, NULL, 0);
	a.retries = 1;
	x = judge(&a, status(503));
	x = lr_attempt_no_wait(&a, &x);
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 0);
	CHECK_STR(x.via, "retry");
	CHECK_INT(x.keep, LR_KEEP_FAIL);
	lr_attempt_sent(&a, &x);
	CHECK_INT(judge(&a, status(503)).step, 1); /* still one retry only */
}

static void retries_and_health(void)
{
	lr_attempt a;
	lr_act x;

	/* on probation (its cool-down just ended): one attempt, then on */
	setup(&a, BIG, 1, NULL, 0);
	a.retries = 2;
	snprintf(probe[0], sizeof(probe[0]), "cheap");
	CHECK_INT(lr_attempt_first(&a, 0).kind, LR_ACT_NONE); /* it is sent to */
	x = judge(&a, status(503));
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 1);
	/* cooling down now (this failure made it): no retry either */
	setup(&a, BIG, 1, NULL, 0);
	a.retries = 2;
	snprintf(cool[0], sizeof(cool[0]), "cheap");
	CHECK_INT(judge(&a, status(503)).step, 1);
	/* a fallback on probation is still a fallback */
	setup(&a, BIG, 1, NULL, 0);
	snprintf(probe[0], sizeof(probe[0]), "big");
	CHECK_INT(judge(&a, status(503)).step, 1);
}

/* --- context overflow --------------------------------------------------------- */

static const char OAI_CTX[] = "{\"error\":{\"message\":\"This model's maximum context length is 128000 tokens. "
			      "However, your messages resulted in 130012 tokens.\",\"type\":\"invalid_request_error\","
			      "\"param\":\"messages\",\"code\":\"context_length_exceeded\"}}";
static const char POLICY[] = "{\"error\":{\"message\":\"Your request was rejected by our content policy.\","
			     "\"type\":\"invalid_request_error\",\"code\":\"content_policy_violation\"}}";

static void overflow_table(void)
{
	static const struct {
		const char *provider, *body;
	} said[] = {
		{"openai", OAI_CTX},
		{"openai", "{\"error\":{\"message\":\"Your input exceeds the context window of this model. Please "
			   "adjust your input and try again.\",\"type\":\"invalid_request_error\"}}"},
		{"anthropic", "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":"
			      "\"prompt is too long: 210417 tokens > 200000 maximum\"}}"},
		{"anthropic", "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":"
			      "\"input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000\"}}"},
		{"gemini", "{\"error\":{\"code\":400,\"message\":\"The input token count (1200000) exceeds the "
			   "maximum number of tokens allowed (1048576).\",\"status\":\"INVALID_ARGUMENT\"}}"},
		{"ollama", "{\"error\":\"input length exceeds the context length\"}"},
		{"llama.cpp", "{\"error\":{\"code\":400,\"message\":\"the request exceeds the available context size, "
			      "try increasing it\",\"type\":\"exceed_context_size_error\"}}"},
		{"llama.cpp", "{\"error\":\"Requested tokens (5000) exceed context window of 4096\"}"},
		{"llama.cpp", "{\"error\":\"prompt is longer than n_ctx\"}"},
	};
	static const char *const not_said[] = {
		POLICY,
		"{\"error\":{\"message\":\"Invalid value for 'temperature'\",\"type\":\"invalid_request_error\"}}",
		"{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"messages: "
		"roles must alternate\"}}",
		"{\"error\":{\"code\":400,\"message\":\"API key not valid\",\"status\":\"INVALID_ARGUMENT\"}}",
		"{\"error\":\"model 'llama9' not found\"}",
		"",
	};
	const char *prov, *phrase;
	size_t i;

	for (i = 0; i < sizeof(said) / sizeof(said[0]); i++) {
		prov = NULL;
		CHECK_INT(lr_overflow_match(said[i].body, strlen(said[i].body), &prov), 1);
		CHECK_STR(prov ? prov : "(none)", said[i].provider);
	}
	for (i = 0; i < sizeof(not_said) / sizeof(not_said[0]); i++)
		CHECK_INT(lr_overflow_match(not_said[i], strlen(not_said[i]), NULL), 0);
	/* not NUL-terminated, and case does not matter */
	CHECK_INT(lr_overflow_match("PROMPT IS TOO LONG!", 18, NULL), 1);
	CHECK_INT(lr_overflow_match("prompt is too lon", 17, NULL), 0);
	CHECK_INT(lr_overflow_status(400) && lr_overflow_status(413) && !lr_overflow_status(422), 1);
	for (i = 0; lr_overflow_row(i, &prov, &phrase); i++) /* every row says it, and only in lower case */
		for (const char *c = phrase; *c; c++)
			CHECK(!(*c >= 'A' && *c <= 'Z'));
	CHECK(i >= 10);
}

/* A route "r" with step 0 "mini" (128k), a fallback, and context targets. */
static void setup_ctx(lr_attempt *a, const char *const *ctx, const double *win, int nctx)
{
	setup(a, BIG, 1, NULL, 0);
	snprintf(a->step[0], sizeof(a->step[0]), "mini");
	a->window[0] = 128000;
	a->window[1] = 1000000;
	for (int i = 0; i < nctx; i++) {
		snprintf(a->step[2 + i], sizeof(a->step[0]), "%s", ctx[i]);
		a->window[2 + i] = win[i];
	}
	a->nctx = nctx;
}

static void context_overflow(void)
{
	static const char *const CTX[] = {"mini", "mid", "huge"};
	static const double WIN[] = {128000, 200000, 1000000};
	lr_attempt a;
	lr_act x;

	/* the 400 is held only under a route with context targets */
	setup(&a, BIG, 1, NULL, 0);
	CHECK_INT(lr_attempt_hold_error(&a), 0);
	CHECK_INT(judge(&a, held(400, OAI_CTX)).kind, LR_ACT_DELIVER); /* as it came */
	setup_ctx(&a, CTX, WIN, 3);
	CHECK_INT(lr_attempt_hold_error(&a), 1);
	CHECK_INT(lr_attempt_hold(&a), 0);
	x = judge(&a, held(400, OAI_CTX));
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 3); /* "mid": "mini" is the same target, never asked again */
	CHECK_STR(x.via, "context");
	CHECK_INT(x.keep, LR_KEEP_BEST);
	CHECK_INT(x.overflow, 1);
	CHECK_STR(log_, "ok:mini "); /* the target answered: its health is good */
	lr_attempt_sent(&a, &x);
	CHECK_INT(lr_attempt_hold(&a), 0); /* a 2xx passes as it comes (a stream too) */
	CHECK_INT(lr_attempt_hold_error(&a), 1);
	CHECK_INT(lr_attempt_timeout(&a), 0);
	/* too long for that one as well: the next larger */
	x = judge(&a, held(400, "{\"type\":\"error\",\"error\":{\"message\":\"prompt is too long\"}}"));
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 4);
	CHECK_INT(x.settle_best, 1);
	lr_attempt_sent(&a, &x);
	x = judge(&a, status(200));
	CHECK_INT(x.kind, LR_ACT_DELIVER);
	CHECK_INT(x.settle_best, 1);

	/* the larger one fails, or answers another 4xx: the app gets the 400 */
	setup_ctx(&a, CTX + 2, WIN + 2, 1);
	x = judge(&a, held(400, OAI_CTX));
	lr_attempt_sent(&a, &x);
	x = judge(&a, status(503)); /* no retry: an answer is kept already */
	CHECK_INT(x.kind, LR_ACT_DELIVER_BEST);
	setup_ctx(&a, CTX + 2, WIN + 2, 1);
	x = judge(&a, held(400, OAI_CTX));
	lr_attempt_sent(&a, &x);
	CHECK_INT(judge(&a, held(404, "{}")).kind, LR_ACT_DELIVER_BEST);
	/* ... or cannot be sent */
	setup_ctx(&a, CTX + 2, WIN + 2, 1);
	x = judge(&a, held(400, OAI_CTX));
	CHECK_INT(lr_attempt_unsendable(&a, &x).kind, LR_ACT_DELIVER_BEST);

	/* no larger target left: the 400 as it came, one attempt */
	setup_ctx(&a, CTX, WIN, 1);
	x = judge(&a, held(400, OAI_CTX));
	CHECK_INT(x.kind, LR_ACT_DELIVER);
	CHECK_INT(x.overflow, 1);
	/* a smaller window is never tried */
	setup_ctx(&a, CTX + 1, WIN + 1, 1);
	a.window[0] = 500000;
	CHECK_INT(judge(&a, held(400, OAI_CTX)).kind, LR_ACT_DELIVER);
	/* unknown windows: tried in order */
	setup_ctx(&a, CTX + 1, WIN + 1, 1);
	a.window[0] = 0;
	a.window[2] = 0;
	CHECK_INT(judge(&a, held(400, OAI_CTX)).step, 2);

	/* another 400 (content policy, a bad parameter): delivered as it came */
	setup_ctx(&a, CTX, WIN, 3);
	x = judge(&a, held(400, POLICY));
	CHECK_INT(x.kind, LR_ACT_DELIVER);
	CHECK_INT(x.overflow, 0);
	/* a 400 the app already has (too big to hold) is the app's */
	setup_ctx(&a, CTX, WIN, 3);
	{
		lr_outcome o = held(400, OAI_CTX);
		o.held = 0;
		o.passed = 1;
		CHECK_INT(lr_attempt_judge(&a, &o).kind, LR_ACT_DELIVER);
	}
	/* a 2xx held for escalation is not an overflow whatever it says */
	setup_ctx(&a, CTX, WIN, 3);
	CHECK_INT(judge(&a, held(200, OAI_CTX)).kind, LR_ACT_DELIVER);
	/* a fallback overflowing moves on too */
	setup_ctx(&a, CTX, WIN, 3);
	x = judge(&a, status(503));
	lr_attempt_sent(&a, &x);
	CHECK_INT(a.cur, 1);
	x = judge(&a, held(400, OAI_CTX)); /* "big", 1M: nothing larger */
	CHECK_INT(x.kind, LR_ACT_DELIVER);
}

/* A stream, cut after text reached the app. */
static lr_outcome cut_stream(int fail, int timeout)
{
	lr_outcome o = status(200);

	o.fail = fail;
	o.timeout = timeout;
	o.passed = 1;
	o.app_bytes = 40;
	o.stream_cut = 1;
	return o;
}

static void stream_timeouts(void)
{
	lr_attempt a;
	lr_act x;

	setup(&a, BIG, 1, NULL, 0);
	a.stream = 1;
	a.first_token_ms = 500;
	a.idle_ms = 700;
	CHECK_INT(lr_attempt_first_token(&a), 500); /* a later step is left */
	CHECK_INT(lr_attempt_idle(&a), 700);
	CHECK_INT(lr_attempt_track(&a), 1);
	/* a head, then nothing: the next step, not retried (it would cost another wait) */
	a.retries = 2;
	{
		lr_outcome o = status(200);
		o.fail = LR_OUT_ABORTED;
		o.timeout = LR_TO_FIRST_TOKEN;
		x = lr_attempt_judge(&a, &o);
	}
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 1);
	CHECK_STR(x.via, "fallback");
	CHECK_STR(log_, ""); /* our time-out: not the target's health yet */
	lr_attempt_sent(&a, &x);
	CHECK_INT(lr_attempt_first_token(&a), 0); /* the last step is never cut */
	CHECK_INT(lr_attempt_idle(&a), 0);
	/* the fallback fails too: the cut step again, without our time-outs */
	x = judge(&a, status(503));
	CHECK_INT(x.kind, LR_ACT_WAIT_SEND); /* big's own retry first */
	lr_attempt_sent(&a, &x);
	x = judge(&a, status(503));
	CHECK_INT(x.kind, LR_ACT_WAIT_SEND);
	lr_attempt_sent(&a, &x);
	x = judge(&a, status(503));
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_STR(x.via, "without_timeout");
	CHECK_INT(x.step, 0);
	lr_attempt_sent(&a, &x);
	CHECK_INT(lr_attempt_first_token(&a), 0);

	/* the idle time-out is not armed where a cut cannot be recovered */
	setup(&a, BIG, 1, NULL, 0);
	a.stream = 1;
	a.idle_ms = 700;
	a.cont_mode = LR_CONTINUE_OFF;
	CHECK_INT(lr_attempt_idle(&a), 0);
	CHECK_INT(lr_attempt_track(&a), 0);
	a.stream_hold = 1;
	CHECK_INT(lr_attempt_idle(&a), 700);
	CHECK_INT(lr_attempt_hold(&a), 1);
	/* not a stream: neither */
	a.stream = 0;
	CHECK_INT(lr_attempt_idle(&a), 0);
	CHECK_INT(lr_attempt_hold(&a), 0);
}

static void stream_continuation(void)
{
	lr_attempt a;
	lr_act x;

	/* reset mid-stream: big continues it, and its answer is spliced whole */
	setup(&a, TWO, 2, NULL, 0);
	a.stream = 1;
	x = judge(&a, cut_stream(LR_OUT_TRANSPORT, LR_TO_NONE));
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 1);
	CHECK_STR(x.via, "continuation");
	CHECK_INT(x.cont, 1);
	CHECK_INT(x.partial, 1); /* the cut attempt's record: delivered, in part */
	CHECK_STR(log_, "fail:cheap:-1 ");
	lr_attempt_sent(&a, &x);
	CHECK_INT(lr_attempt_continuing(&a), 1);
	CHECK_INT(lr_attempt_hold(&a), 0);
	{
		lr_outcome o = status(200);
		o.passed = 1;
		x = lr_attempt_judge(&a, &o);
	}
	CHECK_INT(x.kind, LR_ACT_DELIVER);
	CHECK_STR(log_, "fail:cheap:-1 ok:big ");

	/* the continuation fails (503): the next step continues; then a 400:
	 * the app's stream ends with our error, not the 400 */
	setup(&a, TWO, 2, NULL, 0);
	a.stream = 1;
	x = judge(&a, cut_stream(LR_OUT_ABORTED, LR_TO_IDLE));
	CHECK_STR(log_, ""); /* our idle time-out */
	lr_attempt_sent(&a, &x);
	x = judge(&a, status(503));
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 2);
	CHECK_STR(x.via, "continuation");
	CHECK_INT(x.keep, LR_KEEP_FAIL);
	lr_attempt_sent(&a, &x);
	x = judge(&a, status(400));
	CHECK_INT(x.kind, LR_ACT_DELIVER_CUT);
	CHECK_INT(x.keep, LR_KEEP_FAIL);

	/* cut again after more text: the next step; none left: our error */
	setup(&a, BIG, 1, NULL, 0);
	a.stream = 1;
	x = judge(&a, cut_stream(LR_OUT_OK, LR_TO_NONE)); /* no [DONE] */
	lr_attempt_sent(&a, &x);
	x = judge(&a, cut_stream(LR_OUT_TRANSPORT, LR_TO_NONE));
	CHECK_INT(x.kind, LR_ACT_DELIVER_CUT);
	CHECK_INT(x.partial, 1);

	/* the last step cut: nowhere to continue, never a truncated success */
	setup(&a, NULL, 0, NULL, 0);
	a.stream = 1;
	CHECK_INT(judge(&a, cut_stream(LR_OUT_TRANSPORT, LR_TO_NONE)).kind, LR_ACT_DELIVER_CUT);

	/* "same": the cut target once, then the fallbacks */
	setup(&a, BIG, 1, NULL, 0);
	a.stream = 1;
	a.cont_mode = LR_CONTINUE_SAME;
	x = judge(&a, cut_stream(LR_OUT_TRANSPORT, LR_TO_NONE));
	CHECK_INT(x.step, 0);
	CHECK_STR(x.via, "continuation");
	lr_attempt_sent(&a, &x);
	x = judge(&a, cut_stream(LR_OUT_TRANSPORT, LR_TO_NONE));
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_INT(x.step, 1);

	/* a cut the transport cannot continue (a tool call under way): our error */
	setup(&a, BIG, 1, NULL, 0);
	a.stream = 1;
	{
		lr_outcome o = cut_stream(LR_OUT_TRANSPORT, LR_TO_NONE);
		o.no_continue = 1;
		x = lr_attempt_judge(&a, &o);
	}
	CHECK_INT(x.kind, LR_ACT_DELIVER_CUT);
	CHECK_INT(x.partial, 1);

	/* the text delivered used the app's token limit: ended as the provider
	 * would, no continuation asked */
	setup(&a, BIG, 1, NULL, 0);
	a.stream = 1;
	{
		lr_outcome o = cut_stream(LR_OUT_TRANSPORT, LR_TO_NONE);
		o.limit_reached = 1;
		x = lr_attempt_judge(&a, &o);
	}
	CHECK_INT(x.kind, LR_ACT_DELIVER_END);
	CHECK_INT(x.partial, 1);

	/* "off": as without the shim */
	setup(&a, BIG, 1, NULL, 0);
	a.stream = 1;
	a.cont_mode = LR_CONTINUE_OFF;
	CHECK_INT(judge(&a, cut_stream(LR_OUT_TRANSPORT, LR_TO_NONE)).kind, LR_ACT_DELIVER_CUT);

	/* the route left the table: nowhere to continue */
	setup(&a, BIG, 1, NULL, 0);
	a.stream = 1;
	x = judge(&a, cut_stream(LR_OUT_TRANSPORT, LR_TO_NONE));
	CHECK_INT(lr_attempt_unsendable(&a, &x).kind, LR_ACT_DELIVER_CUT);

	/* stream_hold: a held stream cut is a plain failure, nothing reached the app */
	setup(&a, BIG, 1, NULL, 0);
	a.stream = 1;
	a.stream_hold = 1;
	{
		lr_outcome o = status(200);
		o.held = 1;
		o.stream_cut = 1;
		x = lr_attempt_judge(&a, &o);
	}
	CHECK_INT(x.kind, LR_ACT_SEND);
	CHECK_STR(x.via, "fallback");
	CHECK_INT(x.cont, 0);
}

int main(void)
{
	fallback_on_503_and_transport();
	as_is_cases();
	retry_after();
	give_up_last_failure();
	cut_step_sent_again();
	route_gone();
	cooling_skip();
	escalation();
	retries_backoff();
	retries_and_retry_after();
	retries_and_health();
	overflow_table();
	context_overflow();
	stream_timeouts();
	stream_continuation();
	return lr_test_done("test_attempt");
}
