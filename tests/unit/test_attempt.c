/*
 * test_attempt.c - the attempt state machine (router/lr_attempt.h) driven
 * with fake outcomes and a fake health table: every path the libcurl
 * adapters take (fallback, Retry-After at the same target, our time-out
 * and the cut step sent again, cooling skip, escalation chain, the best
 * answer kept, giving up with the last failure, a route gone from the
 * table), without a network or libcurl.
 */
#include "lr_test.h"
#include "lr_answer.h"
#include "lr_attempt.h"
#include "lr_detect.h"

#include <stdio.h>
#include <string.h>

/* --- a fake health table ----------------------------------------------------- */

static char cool[8][80];  /* keys cooling down */
static char log_[2048];   /* "fail:KEY:RA ok:KEY " in order */

static int f_cooling(void *ud, const char *key)
{
	(void)ud;
	for (int i = 0; i < 8; i++)
		if (strcmp(cool[i], key) == 0)
			return 1;
	return 0;
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

static const lr_attempt_env ENV = {f_cooling, f_fail, f_ok, NULL};

/* A route "r" routed to step 0 "cheap", fallbacks, then escalations. */
static void setup(lr_attempt *a, const char *const *fall, int nfall, const char *const *esc, int nesc)
{
	memset(a, 0, sizeof(*a));
	memset(cool, 0, sizeof(cool));
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
	return lr_test_done("test_attempt");
}
