/* lr_match.c - first-match route selection (see lr_match.h). */
#include "lr_match.h"
#include "lr_error.h"
#include "lr_glob.h"
#include "lr_route_index.h"
#include <string.h>
#include <strings.h>

void lr_features_set(lr_features *f, int field, const char *s, size_t n)
{
	if (field < 0 || field >= LR_F_NSTR)
		return;
	f->str[field] = s;
	f->len[field] = s ? n : 0;
}

void lr_features_num(lr_features *f, int field, double v)
{
	if (field >= LR_F_NUM && field < LR_F_NUM_END)
		f->num[field - LR_F_NUM] = v;
}

int lr_cond_holds(const lr_table *t, const lr_cond *c, const lr_features *f)
{
	const char *s;
	double v;

	if (c->field >= LR_F_NUM) {
		v = f->num[c->field - LR_F_NUM];
		switch (c->op) {
		case LR_OP_GT: return v > c->num;
		case LR_OP_GE: return v >= c->num;
		case LR_OP_LT: return v < c->num;
		case LR_OP_LE: return v <= c->num;
		case LR_OP_EQ: return v == c->num;
		case LR_OP_ANY: return ((uint32_t)v & (uint32_t)c->num) != 0;
		case LR_OP_NONE: return ((uint32_t)v & (uint32_t)c->num) == 0;
		}
		return 0;
	}
	s = f->str[c->field] ? f->str[c->field] : "";
	/* Host names and free text are case-insensitive; the rest is exact. */
	return lr_glob_match(lr_table_str(t, c->str), s, f->len[c->field],
			     c->field == LR_F_HOST || c->field == LR_F_USER_TEXT ||
			     c->field == LR_F_SYSTEM_TEXT);
}

static int route_matches(const lr_table *t, const lr_route *r, const lr_features *f)
{
	const lr_cond *c = lr_table_conds(t) + r->cond_first;
	uint32_t i;

	for (i = 0; i < r->cond_count; i++)
		if (!lr_cond_holds(t, &c[i], f))
			return 0;
	return 1;
}

/* The route would match but for its intent_confidence: every other
 * condition holds (the intent itself included) and a confidence one
 * does not. */
static int only_unsure(const lr_table *t, const lr_route *r, const lr_features *f)
{
	const lr_cond *c = lr_table_conds(t) + r->cond_first;
	uint32_t i;
	int unsure = 0;

	for (i = 0; i < r->cond_count; i++) {
		if (lr_cond_holds(t, &c[i], f))
			continue;
		if (c[i].field != LR_F_INTENT_CONFIDENCE)
			return 0;
		unsure = 1;
	}
	return unsure;
}

/* Route i of t was picked for f: its action. */
static void pick(const lr_table *t, uint32_t i, lr_decision *d)
{
	const lr_route *r = &lr_table_routes(t)[i];

	d->index = (int)i;
	d->route = r;
	if (r->flags & LR_ROUTE_DENY)
		d->action = LR_ACTION_DENY;
	else if (r->set_model.off || r->set_endpoint.off || r->set_key_env.off || r->param_count ||
		 r->pool_count || r->budget_per || r->guard_redact)
		d->action = LR_ACTION_ROUTE;
	else
		d->action = LR_ACTION_PASS;
}

/* Route i, enabled or not, tried for f: 1 when it decides (it matches, or
 * the user named who takes what it is not sure of: that route, whatever
 * its own match says; a disabled one: go on). */
static int try_route(const lr_table *t, uint32_t i, const lr_features *f, lr_decision *d)
{
	const lr_route *routes = lr_table_routes(t), *r = &routes[i];

	if (!(r->flags & LR_ROUTE_ENABLED))
		return 0;
	if (route_matches(t, r, f)) {
		pick(t, i, d);
		return 1;
	}
	if (r->unsure_route && r->unsure_route <= t->nroutes &&
	    (routes[r->unsure_route - 1].flags & LR_ROUTE_ENABLED) && only_unsure(t, r, f)) {
		pick(t, r->unsure_route - 1, d);
		d->uncertain = (int)i;
		return 1;
	}
	return 0;
}

/* Only the routes the index says could match, in table order: the same
 * decision as the scan below (lr_route_index.h says why; a route that
 * hands on its uncertain requests must match all but its confidence, its
 * literal model or host included, so it is a candidate too). */
static void decide_indexed(const lr_table *t, const lr_features *f, lr_decision *d)
{
	lr_route_cands c;
	int64_t i;

	lr_route_index_cands(t, f->str[LR_F_MODEL], f->len[LR_F_MODEL], f->str[LR_F_HOST],
			     f->len[LR_F_HOST], &c);
	while ((i = lr_route_cands_next(&c)) >= 0)
		if (try_route(t, (uint32_t)i, f, d))
			return;
}

static void decide_scan(const lr_table *t, const lr_features *f, lr_decision *d)
{
	uint32_t i;

	for (i = 0; i < t->nroutes; i++)
		if (try_route(t, i, f, d))
			return;
}

static void undecided(lr_decision *d)
{
	d->action = LR_ACTION_NONE;
	d->index = -1;
	d->route = NULL;
	d->target = -1;
	d->over_budget = 0;
	d->uncertain = -1;
}

int lr_decide(const lr_table *t, const lr_features *f, lr_decision *d)
{
	undecided(d);
	if (t && t->idx_nbuckets)
		decide_indexed(t, f, d);
	else if (t)
		decide_scan(t, f, d);
	return 0;
}

int lr_decide_scan(const lr_table *t, const lr_features *f, lr_decision *d)
{
	undecided(d);
	if (t)
		decide_scan(t, f, d);
	return 0;
}

/* 1: surely matches, 0: surely not, -1: depends on an unknown field. */
static int route_could_match(const lr_table *t, const lr_route *r, const lr_features *f,
			     unsigned long long unknown)
{
	const lr_cond *c = lr_table_conds(t) + r->cond_first;
	uint32_t i;
	int maybe = 0;

	for (i = 0; i < r->cond_count; i++) {
		if (c[i].field < 64 && (unknown >> c[i].field) & 1)
			maybe = 1;
		else if (!lr_cond_holds(t, &c[i], f))
			return 0;
	}
	return maybe ? -1 : 1;
}

int lr_decide_unknown(const lr_table *t, const lr_features *f, unsigned long long unknown,
		      lr_decision *d)
{
	const lr_route *routes;
	uint32_t i;
	int m;

	if (!t)
		return 0;
	routes = lr_table_routes(t);
	for (i = 0; i < t->nroutes; i++) {
		const lr_route *r = &routes[i];
		if (!(r->flags & LR_ROUTE_ENABLED) || !(m = route_could_match(t, r, f, unknown)))
			continue;
		if (r->flags & LR_ROUTE_DENY) {
			d->action = LR_ACTION_DENY;
			d->index = (int)i;
			d->route = r;
			d->target = -1;
			d->over_budget = 0;
			d->uncertain = -1;
			return 1;
		}
		if (m > 0)
			return 0;
	}
	return 0;
}

static int claims(const lr_table *t, const lr_route *r, const char *host, size_t n,
		  const lr_features *f, int any_scheme)
{
	const lr_cond *c = lr_table_conds(t) + r->cond_first;
	const char *scheme = lr_table_str(t, r->ep_scheme);
	uint32_t i;
	int hosts = 0;

	if (!(r->flags & LR_ROUTE_ENABLED) || (r->flags & LR_ROUTE_DENY) || !r->set_endpoint.off ||
	    !scheme || (strcasecmp(scheme, "http") != 0 && !(any_scheme && strcasecmp(scheme, "https") == 0)))
		return 0;
	for (i = 0; i < r->cond_count; i++) {
		if (c[i].field == LR_F_PROCESS && lr_cond_holds(t, &c[i], f))
			continue;
		if (c[i].field != LR_F_HOST)
			return 0; /* not known before the request is written */
		if (strcmp(lr_table_str(t, c[i].str), "*") == 0 ||
		    !lr_glob_match(lr_table_str(t, c[i].str), host, n, 1))
			return 0;
		hosts++;
	}
	return hosts > 0;
}

static int claim(const lr_table *t, const char *host, size_t n, const char *process, int any_scheme)
{
	const lr_route *routes;
	lr_features f;
	uint32_t i;

	if (!t || !host)
		return LR_ENOTFOUND;
	memset(&f, 0, sizeof(f));
	lr_features_set(&f, LR_F_PROCESS, process, process ? strlen(process) : 0);
	routes = lr_table_routes(t);
	for (i = 0; i < t->nroutes; i++)
		if (claims(t, &routes[i], host, n, &f, any_scheme))
			return (int)i;
	return LR_ENOTFOUND;
}

int lr_claim_host(const lr_table *t, const char *host, size_t n, const char *process)
{
	return claim(t, host, n, process, 0);
}

int lr_claim_host_tls(const lr_table *t, const char *host, size_t n, const char *process)
{
	return claim(t, host, n, process, 1);
}

int lr_match_names_host(const lr_table *t, const char *host, size_t n)
{
	const lr_route *routes;
	const lr_cond *c;
	uint32_t i, k;

	if (!t || !host)
		return 0;
	routes = lr_table_routes(t);
	for (i = 0; i < t->nroutes; i++) {
		if (!(routes[i].flags & LR_ROUTE_ENABLED))
			continue;
		c = lr_table_conds(t) + routes[i].cond_first;
		for (k = 0; k < routes[i].cond_count; k++)
			if (c[k].field == LR_F_HOST && strcmp(lr_table_str(t, c[k].str), "*") != 0 &&
			    lr_glob_match(lr_table_str(t, c[k].str), host, n, 1))
				return 1;
	}
	return 0;
}
