/*
 * lr_choose.c - pools, scores and budgets (see lr_choose.h).
 */
#include "lr_choose.h"
#include "lr_price.h"

#include <stdio.h>
#include <string.h>

static double quality_for(const lr_table *t, const lr_target_rec *g, const char *intent)
{
	const lr_quality_rec *q = lr_table_qualities(t) + g->q_first;
	uint32_t i;

	for (i = 0; intent && *intent && i < g->q_count; i++)
		if (strcmp(lr_table_str(t, q[i].intent), intent) == 0)
			return q[i].value;
	return g->quality;
}

static double intent_floor(const lr_table *t, const char *intent)
{
	uint32_t i;

	for (i = 0; intent && *intent && i < t->nintents; i++)
		if (strcmp(lr_table_str(t, lr_table_intents(t)[i].name), intent) == 0)
			return lr_table_intents(t)[i].min_quality;
	return 0;
}

static double out_tokens(const lr_route *rt, const lr_request *r)
{
	double m = r->f.num[LR_F_MAX_TOKENS - LR_F_NUM];

	return m > 0 ? m : rt->expected_output;
}

double lr_choose_cost(const lr_table *t, const lr_target_rec *g, const lr_route *rt,
		      const lr_request *r)
{
	lr_price p = {g->input_per_mtok, g->output_per_mtok, g->cache_read_per_mtok, g->cache_write_per_mtok};

	if ((p.input_per_mtok < 0 || p.output_per_mtok < 0) &&
	    lr_price_lookup(t, lr_table_str(t, g->model), &p) < 0)
		return -1;
	return (r->f.num[LR_F_PROMPT_TOKENS - LR_F_NUM] * p.input_per_mtok +
		out_tokens(rt, r) * p.output_per_mtok) / 1e6;
}

static double spent(const lr_live *live, int per, const char *name, long long now)
{
	double v = live && live->spent && name ? live->spent(live->ud, per, name, now) : -1;

	return v < 0 ? 0 : v;
}

/* LR_LIVE_FLEET for a fleet budget, else 0. */
static int scope_of(const lr_route *rt)
{
	return rt->flags & LR_ROUTE_BUDGET_FLEET ? LR_LIVE_FLEET : 0;
}

/* The model a request would go out with, for a per-model budget. */
static const char *model_of(const lr_table *t, const lr_decision *d, const lr_request *r)
{
	if (d->target >= 0)
		return lr_table_str(t, lr_table_targets(t)[d->target].model);
	if (d->route->set_model.off)
		return lr_table_str(t, d->route->set_model);
	return r->model;
}

static const char COOLING[] = "cooling down after failures";

/* Every candidate left is cooling down: better to try one than to send
 * the request nowhere, so they all come back. */
static void undrop_cooling(lr_choice *c, double *max_cost, double *max_lat)
{
	int k, cooling = 0;

	for (k = 0; k < c->ncands; k++) {
		if (!c->cands[k].dropped)
			return;
		cooling += c->cands[k].dropped == COOLING;
	}
	for (k = 0; k < c->ncands && cooling; k++) {
		lr_cand *cd = &c->cands[k];
		if (cd->dropped != COOLING)
			continue;
		cd->dropped = NULL;
		if (cd->cost > *max_cost)
			*max_cost = cd->cost;
		if (cd->latency_ms > *max_lat)
			*max_lat = cd->latency_ms;
	}
}

static void score_pool(const lr_table *t, const lr_decision *d, const lr_request *r,
		       const lr_live *live, long long now, lr_choice *c)
{
	const lr_route *rt = d->route;
	const lr_pool_rec *pm = lr_table_pools(t) + rt->pool_first;
	double floor = intent_floor(t, r->intent), need, max_cost = 0, max_lat = 0;
	uint32_t i;
	int k;

	need = r->f.num[LR_F_PROMPT_TOKENS - LR_F_NUM] + out_tokens(rt, r);
	for (i = 0; i < rt->pool_count && c->ncands < LR_MAX_CANDS; i++) {
		const lr_target_rec *g = &lr_table_targets(t)[pm[i].target];
		lr_cand *cd = &c->cands[c->ncands++];
		memset(cd, 0, sizeof(*cd));
		cd->target = (int)pm[i].target;
		cd->quality = quality_for(t, g, r->intent) * pm[i].weight;
		cd->cost = lr_choose_cost(t, g, rt, r);
		cd->latency_ms = live && live->latency ? live->latency(live->ud, lr_table_str(t, g->name)) : -1;
		if (g->context_window > 0 && need > g->context_window)
			cd->dropped = "context window too small";
		else if (quality_for(t, g, r->intent) < floor)
			cd->dropped = "quality below the intent's floor";
		else if (rt->budget_per == LR_BUDGET_MODEL &&
			 spent(live, LR_BUDGET_MODEL | scope_of(rt), lr_table_str(t, g->model), now) >= rt->budget_usd)
			cd->dropped = "over budget";
		else if (live && live->down && live->down(live->ud, lr_table_str(t, g->name), now))
			cd->dropped = COOLING;
		if (cd->dropped)
			continue;
		if (cd->cost > max_cost)
			max_cost = cd->cost;
		if (cd->latency_ms > max_lat)
			max_lat = cd->latency_ms;
	}
	undrop_cooling(c, &max_cost, &max_lat);
	for (k = 0; k < c->ncands; k++) {
		lr_cand *cd = &c->cands[k];
		double cost = cd->cost < 0 ? max_cost : cd->cost; /* unknown: assume the dearest */
		double lat = cd->latency_ms < 0 ? 0 : cd->latency_ms; /* untried: tried first */
		if (cd->dropped)
			continue;
		cd->score = rt->w_quality * cd->quality - (max_cost > 0 ? rt->w_cost * cost / max_cost : 0) -
			    (max_lat > 0 ? rt->w_latency * lat / max_lat : 0);
	}
}

static int better(const lr_cand *a, const lr_cand *b)
{
	if (a->score != b->score)
		return a->score > b->score;
	return a->cost >= 0 && (b->cost < 0 || a->cost < b->cost); /* then cheaper; else earlier */
}

void lr_choose(const lr_table *t, lr_decision *d, const lr_request *r, const lr_live *live,
	       long long now, lr_choice *c)
{
	lr_choice scratch;
	const lr_route *rt = d->route;
	const char *name = NULL;
	int k, best = -1, over = 0, budget_drops = 0;

	if (!c)
		c = &scratch; /* callers that do not look pass NULL: results unread */
	memset(c, 0, sizeof(*c));
	c->spent = -1;
	if (!t || !rt || d->action != LR_ACTION_ROUTE || (!rt->pool_count && !rt->budget_per))
		return;
	if (rt->pool_count) {
		score_pool(t, d, r, live, now, c);
		for (k = 0; k < c->ncands; k++) {
			budget_drops += c->cands[k].dropped && !strcmp(c->cands[k].dropped, "over budget");
			if (!c->cands[k].dropped && (best < 0 || better(&c->cands[k], &c->cands[best])))
				best = k;
		}
		if (best >= 0) {
			d->target = c->cands[best].target;
			c->why = "highest score";
		}
	}
	/* Is the budget reached?  Per model with a pool: when its budget took
	 * the last candidates away; otherwise by the day's spend. */
	if (rt->budget_per == LR_BUDGET_ROUTE)
		name = lr_table_str(t, rt->name);
	else if (rt->budget_per == LR_BUDGET_PROCESS)
		name = r->f.str[LR_F_PROCESS];
	else if (rt->budget_per == LR_BUDGET_MODEL && !rt->pool_count)
		name = model_of(t, d, r);
	if (name) {
		c->spent = spent(live, (int)rt->budget_per | scope_of(rt), name, now);
		over = c->spent >= rt->budget_usd;
	} else if (rt->budget_per == LR_BUDGET_MODEL) {
		over = best < 0 && budget_drops > 0;
	}
	if (!over) {
		if (!rt->pool_count || best >= 0)
			return;
		if (rt->budget_target >= 0) { /* nothing can serve: the budget's target */
			d->target = rt->budget_target;
			c->why = "no candidate: the budget's fallback target";
		} else {
			d->action = LR_ACTION_PASS;
			c->why = "no target can serve this request: sent as the app made it";
		}
		return;
	}
	d->over_budget = 1;
	if (rt->budget_target >= 0) {
		d->target = rt->budget_target;
		c->why = "over budget: the budget's fallback target";
	} else {
		d->action = LR_ACTION_DENY;
		d->target = -1;
		c->why = "over budget: denied";
	}
}

const char *lr_decision_deny_message(const lr_table *t, const lr_decision *d)
{
	if (!d->route)
		return "";
	if (d->over_budget && d->route->budget_deny.off)
		return lr_table_str(t, d->route->budget_deny);
	return d->route->deny.off ? lr_table_str(t, d->route->deny) : "";
}
