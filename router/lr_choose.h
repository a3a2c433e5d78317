/*
 * lr_choose.h - after the first-match decision, the policy part: which
 * target of a route's pool serves this request, and whether the route's
 * daily budget still allows it.
 *
 * Pool: each member target is a candidate unless it cannot serve the
 * request:
 *   - its context window is smaller than the estimated prompt plus the
 *     expected output (max_tokens, else the pool's expected_output_tokens);
 *   - its quality for the request's intent is below the intent's
 *     min_quality;
 *   - the route's budget counts per model and that model is over it;
 *   - it is cooling down after failures (lr_stats.h health), unless every
 *     target left is: then they are tried anyway.
 * The rest are scored
 *     w_quality * quality * weight - w_cost * cost / max_cost
 *                                  - w_latency * latency / max_latency
 * where cost is the estimated USD of this request at the target's prices
 * (its own, else the rules' and built-in price lists), and latency the
 * moving average of the target's request durations in the live counters.
 * An untried target's latency counts as 0, so each target gets tried
 * before the measured ones are compared; the shim also forgets a latency
 * not measured for a minute, so a target once slow is tried again about
 * once a minute and comes back when it has recovered.  The highest score
 * wins; ties go to the cheaper, then to the earlier in the pool.  With no
 * candidate left the route falls back as its budget says, or, without
 * one, changes nothing (the request goes out as the app made it: never to
 * a target that cannot serve it).
 *
 * Budget: once the day's spend (UTC) counted for the route, the process or
 * the model reaches usd_per_day, the request goes to the budget's fallback
 * target, or is denied with its message.
 *
 * The live numbers come through lr_live, so the shim (counters segment),
 * explain (read-only view) and the tests (fixed numbers) share the code.
 */
#ifndef LR_CHOOSE_H
#define LR_CHOOSE_H
#include "lr_match.h"
#include "lr_request.h"
#include "lr_table.h"

/* Or'ed into `per` for a budget with "scope": "fleet": the spend wanted
 * is the fleet's (shim/lr_fleet.h), not this host's. */
#define LR_LIVE_FLEET 0x100

typedef struct lr_live {
	/* USD spent on the day (UTC) of unix time `now`, by kind (LR_BUDGET_*)
	 * and name; < 0 or NULL: unknown (0) */
	double (*spent)(void *ud, int per, const char *name, long long now);
	/* moving-average latency in ms of a target; < 0 or NULL: unknown */
	double (*latency)(void *ud, const char *target);
	/* a target in cool-down after failures (lr_stats.h): 1; NULL: none */
	int (*down)(void *ud, const char *target, long long now);
	void *ud;
} lr_live;

#define LR_MAX_CANDS 64

typedef struct {
	int target;              /* target index */
	double quality, cost, latency_ms, score;
	const char *dropped;     /* NULL: a candidate; else why it was dropped */
} lr_cand;

typedef struct {
	int ncands;
	lr_cand cands[LR_MAX_CANDS];
	double spent;            /* what the budget counted (USD today), -1 if none */
	const char *why;         /* one line: why the winner won, or what happened */
} lr_choice;

/* Refines d (from lr_decide) for a route with a pool or a budget: sets
 * d->target, d->over_budget, or turns it into DENY (budget) or PASS (no
 * candidate).  c may be NULL; live may be NULL (no live numbers).
 * `now` is unix time (for the budget's day). */
void lr_choose(const lr_table *t, lr_decision *d, const lr_request *r, const lr_live *live,
	       long long now, lr_choice *c);

/* The estimated USD of request r at target g of table t (-1 unknown). */
double lr_choose_cost(const lr_table *t, const lr_target_rec *g, const lr_route *rt,
		      const lr_request *r);

/* The message for a denied decision (the route's, or its budget's). */
const char *lr_decision_deny_message(const lr_table *t, const lr_decision *d);

#endif
