/*
 * lr_attempt.h - the attempts of one request under a resilient route, as a
 * state machine over outcomes: no I/O, no transport types, no clock.
 *
 * A transport (the libcurl easy and multi adapters today) turns what
 * happened to an attempt into an lr_outcome and asks lr_attempt_judge()
 * what to do next; it turns the lr_act back into its own calls:
 *   SEND        apply step `step`'s edits (route, target) and send again;
 *   WAIT_SEND   the same after wait_ms (a Retry-After; the transport
 *               decides how to wait without blocking its app);
 *   DELIVER     the answer just received goes to the app (and, `store`,
 *               into the cache);
 *   DELIVER_BEST / DELIVER_FAIL   the kept escalated-from answer, or the
 *               last failure as it came: never worse than no chain;
 *   SERVE_CACHE the request is answered from the cache, nothing is sent;
 *   AS_APP      the chain cannot go on (its route left the live table):
 *               decide the app's request afresh, as a new one would be.
 * Once a SEND (or AS_APP) is under way the transport calls
 * lr_attempt_sent(); when a step cannot be sent, lr_attempt_unsendable()
 * says what instead.  The record of a failed attempt is delivered exactly
 * when the final action is DELIVER_FAIL; an escalated-from answer's
 * (keep == LR_KEEP_BEST) exactly when it is DELIVER_BEST.
 *
 * The rules encoded (each one a reviewed edge case):
 *   - failures: no connection, a time-out of ours before the answer head,
 *     nothing or garbage back, 408, 429, 5xx, before anything reached the
 *     app; anything the app saw, or stopped, is delivered as it is;
 *   - a Retry-After within the route's bound is waited for once, at the
 *     same target; a failure a retry may cure (5xx, 408, a 429 without
 *     Retry-After, a refused or reset connection, nothing back) is sent
 *     again to the same target up to the route's `retries` times, after a
 *     back-off with full jitter (uniform in 0 .. retry_backoff_ms * 2^n,
 *     at most LR_BACKOFF_MAX_MS; the randomness is the env's); a target
 *     cooling down or on probation (its cool-down just ended) is not
 *     retried; otherwise the next step, preferring one not cooling;
 *   - a 400 (or 413) whose body says the request is too long for the
 *     model's context window (lr_overflow.h) goes to the route's context
 *     targets (a larger window, never the same target again); the app gets
 *     the first 400 if none of them answers a 2xx; any other 4xx is the
 *     app's, as it came;
 *   - our time-out is armed only while a later step is left; a step it
 *     cut is sent again without it when every later step failed;
 *   - health counts only the target's own failures (not our time-out,
 *     unless another step then answered in its place; not a 4xx);
 *   - escalation holds a non-streamed answer, and a stronger answer that
 *     fails or is not a 2xx leaves the app the earlier one;
 *   - a stream cut or stalled after text reached the app is continued by
 *     the next step (stream_continue "same": the same target first), the
 *     text delivered sent as the start of the answer (lr_splice.h); a
 *     continuation that fails goes on to the next step, and when none is
 *     left, or one rejects it (a 4xx), the app's stream ends with an error
 *     event of ours (DELIVER_CUT): never a truncated success, never a
 *     fallback's rejection as the original's answer; a cut stream whose
 *     text already used the app's token limit is not continued: it ends
 *     as the provider ends one its limit cut (DELIVER_END);
 *   - under stream_hold a stream is held whole: a cut one is a failure
 *     like any other, nothing having reached the app.
 * Health is read and written through lr_attempt_env, so tests drive the
 * machine with fake outcomes and a fake health table.
 */
#ifndef LR_ATTEMPT_H
#define LR_ATTEMPT_H
#include "lr_match.h"
#include "lr_request.h"
#include "lr_table.h"

#include <stddef.h>
#include <stdint.h>

#define LR_ATTEMPT_NAME 72
#define LR_ATTEMPT_STEPS (1 + 3 * LR_MAX_CHAIN)

/* How an attempt's transfer ended, beside its HTTP status. */
enum lr_out_fail {
	LR_OUT_OK,          /* the transfer completed */
	LR_OUT_HTTP_ERROR,  /* completed, and the app asked to fail on >= 400 */
	LR_OUT_TRANSPORT,   /* connect, resolve, send/receive, garbage, the transport's time-out */
	LR_OUT_ABORTED,     /* a callback stopped it (ours on a time-out, or the app's) */
	LR_OUT_OTHER,       /* anything else: not another target's business */
};

/* Which of our time-outs ended it, if any. */
enum lr_out_timeout {
	LR_TO_NONE,
	LR_TO_HEAD,         /* no answer head within the route's timeout_ms */
	LR_TO_FIRST_TOKEN,  /* a head, then no body (a stream: no data event) within first_token_ms */
	LR_TO_IDLE,         /* a stream's body stopped for idle_ms */
};

typedef struct lr_outcome {
	long status;        /* the final answer's status, 0 if none came */
	int fail;           /* enum lr_out_fail */
	int timeout;        /* enum lr_out_timeout */
	int passed;         /* the answer (its head at least) reached the app */
	size_t app_bytes;   /* body bytes the app already took */
	int app_stopped;    /* the app's callback refused data: its choice */
	long retry_after_s; /* the answer's Retry-After in seconds, -1 if none */
	int transient;      /* LR_OUT_TRANSPORT that a retry may cure: refused,
			     * reset, nothing back (not a name, TLS or time-out) */
	const char *body;   /* the held answer body (held != 0), for the gate */
	size_t body_len;
	int held;           /* the whole answer is held, nothing passed on (an
			     * escalation's, or a 400/413 under lr_attempt_hold_error) */
	int stream_cut;     /* a stream the transport followed event by event
			     * (lr_attempt_track) was cut or stalled: reset, our
			     * idle time-out, a malformed or error event, or its
			     * end without the format's end marker; with `passed`,
			     * after text reached the app */
	int no_continue;    /* stream_cut, and the transport cannot continue it (a
			     * tool call under way, several choices, too much text) */
	int limit_reached;  /* stream_cut after text, and that text already used the
			     * app's token limit (lr_splice_limit): nothing to ask for */
} lr_outcome;

enum lr_act_kind {
	LR_ACT_NONE,        /* lr_attempt_first: send as prepared */
	LR_ACT_SEND,
	LR_ACT_WAIT_SEND,
	LR_ACT_DELIVER,
	LR_ACT_DELIVER_BEST,
	LR_ACT_DELIVER_FAIL,
	LR_ACT_SERVE_CACHE,
	LR_ACT_AS_APP,
	LR_ACT_DELIVER_CUT, /* the app's stream (cut, and not continued) ends
			     * with an error event of ours, never as a success */
	LR_ACT_DELIVER_END, /* the app's stream (cut when its text had used the
			     * app's token limit) ends as the provider ends one
			     * its limit cut (lr_splice_end_event) */
};

enum lr_keep {
	LR_KEEP_NONE,
	LR_KEEP_FAIL,       /* the judged answer is now the last failure */
	LR_KEEP_BEST,       /* the judged answer is kept, an escalation may beat it */
};

typedef struct lr_act {
	int kind;           /* enum lr_act_kind */
	int step;           /* SEND, WAIT_SEND: index in the step list */
	const char *via;    /* SEND, WAIT_SEND, AS_APP: the attempt's audit "via" */
	unsigned wait_ms;   /* WAIT_SEND */
	int backoff;        /* WAIT_SEND: our back-off (a transport that cannot
			     * wait sends at once), not a Retry-After */
	int drop_record;    /* SEND: nothing went out for the current record: free it */
	/* what becomes of the attempt just judged */
	int keep;           /* enum lr_keep */
	int settle_best;    /* the kept best answer lost: write its record, not delivered */
	const char *gate;   /* the escalation condition its answer met, or NULL */
	int store;          /* DELIVER: an answer fit for the cache (a good one) */
	int overflow;       /* the judged answer said the context was too long */
	int cont;           /* SEND, WAIT_SEND: a continuation of the app's stream
			     * (lr_splice.h), not a fresh answer */
	int partial;        /* the judged attempt's answer reached the app in part
			     * (a cut stream): its record is written now, delivered */
} lr_act;

/* A target's health, as env.cooling says it. */
enum lr_health_state {
	LR_HEALTH_OK,
	LR_HEALTH_COOLING,   /* skipped while a later step is healthy */
	LR_HEALTH_PROBATION, /* its cool-down ended, no success since: sent to, not retried */
};

/* Health reads and writes, by health key (a target name, or "route:NAME"),
 * and the randomness of the back-off's jitter (NULL: no jitter, the
 * ceiling itself). */
typedef struct lr_attempt_env {
	int (*cooling)(void *ud, const char *key); /* enum lr_health_state */
	void (*health_fail)(void *ud, const char *key, long retry_after_s);
	void (*health_ok)(void *ud, const char *key);
	uint32_t (*rand)(void *ud);                /* uniform over 32 bits */
	void *ud;
} lr_attempt_env;

typedef struct lr_attempt {
	/* from the route, copied: the table may be republished meanwhile */
	char route[LR_ATTEMPT_NAME];
	char step[LR_ATTEMPT_STEPS][LR_ATTEMPT_NAME]; /* [0] the routed target ("" for the
						       * route's own), fallbacks, escalations,
						       * context targets */
	double window[LR_ATTEMPT_STEPS]; /* each step's context window in tokens, 0: unknown */
	int nfall, nesc, nctx;
	unsigned retries, backoff_ms;
	unsigned gate_when;
	char *refusal;      /* the route's refusal ERE, or NULL for the default */
	unsigned timeout_ms, retry_after_max_ms;
	unsigned first_token_ms, idle_ms;
	int stream_hold, cont_mode; /* enum lr_continue */
	int stream, json_asked, format;
	const char *operation; /* static string from lr_detect */
	lr_attempt_env env;
	/* the attempts */
	int cur;            /* index in step[] of the attempt under way */
	int attempt;        /* 1, 2, ... (0 before the first is sent) */
	const char *via;    /* of the attempt under way, NULL for the first */
	int retried;        /* a Retry-After was waited for once already */
	int no_timeout;     /* our time-out is off (a cut step sent again, or the app's request) */
	int cut;            /* the first step our time-out cut short, -1 if none */
	int have_best;      /* an escalated-from answer is kept (or a context overflow's) */
	int tries;          /* retries of the step under way so far */
	unsigned ctx_tried; /* context steps sent (bit i: step 1 + nfall + nesc + i) */
	double ctx_min;     /* the largest window that overflowed, 0: none known */
	int ctx_best;       /* the kept answer is a context overflow's */
	int continuing;     /* the app has part of a stream: every later attempt continues it */
	int same_tried;     /* stream_continue "same": the cut step was asked once */
} lr_attempt;

/* Does route d->route (of table t, its view held) ask for fallbacks,
 * retries, escalation, context targets or a cache? */
int lr_attempt_wanted(const lr_decision *d);

/* Sets a up for request r decided as d from t; the first attempt (step 0)
 * counts as sent.  0, or LR_ENOMEM.  Free with lr_attempt_free(). */
int lr_attempt_init(lr_attempt *a, const lr_table *t, const lr_decision *d, const lr_attempt_env *env,
		    const lr_request *r, int stream);

/* The number of steps (the routed one, fallbacks, escalations, context
 * targets). */
int lr_attempt_nsteps(const lr_attempt *a);
void lr_attempt_free(lr_attempt *a);

/* Before the first attempt goes out: SERVE_CACHE (cache_hit), NONE (as
 * prepared), or SEND to a later step when the first is cooling down and
 * that one is not (drop_record set). */
lr_act lr_attempt_first(lr_attempt *a, int cache_hit);

/* For the attempt about to go out: hold the whole answer?  Our time-out
 * to its answer head in ms (0: none)? */
int lr_attempt_hold(const lr_attempt *a);
unsigned lr_attempt_timeout(const lr_attempt *a);

/* For the attempt about to go out: our time-outs from the answer head to
 * its first body byte (a stream: its first data event), and between a
 * stream's body chunks, in ms (0: none).  Like lr_attempt_timeout, armed
 * only while a later step is left; the idle one only where a cut stream
 * can be recovered (held whole, or continued). */
unsigned lr_attempt_first_token(const lr_attempt *a);
unsigned lr_attempt_idle(const lr_attempt *a);

/* Should the transport follow this stream event by event (the text that
 * reached the app, a cut), so that a cut can be continued
 * (outcome.stream_cut)?  Is the attempt about to go out a continuation
 * (its answer spliced into the app's stream, its head not passed)? */
int lr_attempt_track(const lr_attempt *a);
int lr_attempt_continuing(const lr_attempt *a);

/* For the attempt about to go out: hold a 400 or 413 answer (its body up
 * to a small bound, LR_ATTEMPT_ERROR_HOLD) until it is judged?  Only under
 * a route with context targets: nothing else needs a 4xx before the app. */
int lr_attempt_hold_error(const lr_attempt *a);
#define LR_ATTEMPT_ERROR_HOLD (64u << 10)

/* The attempt under way ended as o: what next. */
lr_act lr_attempt_judge(lr_attempt *a, const lr_outcome *o);

/* The SEND/WAIT_SEND/AS_APP `act` is under way: the attempt's step,
 * number and via. */
void lr_attempt_sent(lr_attempt *a, const lr_act *act);

/* `act` (a SEND or WAIT_SEND) could not be sent (its route or target left
 * the live table): what instead.  An AS_APP that cannot be sent either
 * ends the request (the transport delivers the last failure, or its
 * refusal). */
lr_act lr_attempt_unsendable(lr_attempt *a, const lr_act *act);

/* A WAIT_SEND the transport cannot wait for without blocking its app:
 * for a Retry-After, the next step instead, as if the answer had named
 * none; for our back-off, the same step at once. */
lr_act lr_attempt_no_wait(lr_attempt *a, const lr_act *act);

/* The health key of step i ("route:NAME" for the route's own target). */
void lr_attempt_health_key(const lr_attempt *a, int i, char *out, size_t cap);

/* Is status one after which another target should be tried? */
int lr_attempt_retryable(long status);

#endif
