/*
 * lr_table.c - building and validating the flat routing table (lr_table.h).
 *
 * The builder keeps three growable arrays (routes, conditions, string pool)
 * and lays them out back to back behind the header when finished.  The
 * validator is the gate between shared memory and the matcher: nothing that
 * reads a table in the shim runs before it has passed.
 */
#include "lr_table.h"
#include "lr_answer.h"
#include "lr_classify.h"
#include "lr_error.h"
#include "lr_route_index.h"
#include "lr_guard.h"
#include "lr_xlate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lr_table_builder {
	lr_route *routes;
	size_t nroutes, cap_routes;
	lr_cond *conds;
	size_t nconds, cap_conds;
	lr_price_rec *prices;
	size_t nprices, cap_prices;
	lr_price_rec *catalog;
	size_t ncatalog, cap_catalog;
	lr_param_rec *params;
	size_t nparams, cap_params;
	lr_intent_rec *intents;
	size_t nintents, cap_intents;
	lr_term_rec *terms;
	size_t nterms, cap_terms;
	lr_target_rec *targets;
	size_t ntargets, cap_targets;
	lr_quality_rec *qualities;
	size_t nqualities, cap_qualities;
	lr_pool_rec *pools;
	size_t npools, cap_pools;
	lr_chain_rec *chains;
	size_t nchains, cap_chains;
	uint32_t health_failures, cooldown_s, cache_size_mb, cache_max_entry_kb, cooldown_min_s;
	uint32_t clf_classes, clf_dim, clf_flags;
	float clf_temp;                 /* 0: not set (1) */
	lr_ref clf_names[64];
	float *clf_weights;             /* dim * classes + classes */
	char *pool;
	size_t pool_len, cap_pool;
	lr_ref audit, source;
	lr_ref fleet_host, fleet_prefix, fleet_password_env;
	uint32_t fleet_port, fleet_db, fleet_refresh_ms, fleet_tls;
	lr_ref fleet_ca_file;
	int err;
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 16;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if (ncap * elem > LR_TABLE_MAX_SIZE)
		return LR_ETOOBIG;
	np = realloc(*p, ncap * elem);
	if (!np)
		return LR_ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

lr_table_builder *lr_table_builder_new(void)
{
	lr_table_builder *b = calloc(1, sizeof(*b));

	/* Offset 0 of the pool is a NUL that no string owns: off 0 = absent. */
	if (b && grow((void **)&b->pool, &b->cap_pool, 1, 1) == 0) {
		b->pool[0] = '\0';
		b->pool_len = 1;
		return b;
	}
	free(b);
	return NULL;
}

void lr_table_builder_free(lr_table_builder *b)
{
	if (!b)
		return;
	free(b->routes);
	free(b->conds);
	free(b->prices);
	free(b->catalog);
	free(b->params);
	free(b->intents);
	free(b->terms);
	free(b->targets);
	free(b->qualities);
	free(b->pools);
	free(b->chains);
	free(b->clf_weights);
	free(b->pool);
	free(b);
}

lr_ref lr_table_builder_str(lr_table_builder *b, const char *s)
{
	lr_ref r = {0, 0};
	size_t n;
	int rc;

	if (!s)
		return r;
	n = strlen(s);
	rc = grow((void **)&b->pool, &b->cap_pool, b->pool_len + n + 1, 1);
	if (rc < 0) {
		b->err = rc;
		return r;
	}
	memcpy(b->pool + b->pool_len, s, n + 1);
	r.off = (uint32_t)b->pool_len;
	r.len = (uint32_t)n;
	b->pool_len += n + 1;
	return r;
}

int lr_table_builder_route_unsure(lr_table_builder *b, uint32_t index, uint32_t to)
{
	if (index >= b->nroutes || to >= b->nroutes || to == index)
		return LR_EINVAL;
	b->routes[index].unsure_route = to + 1;
	return 0;
}

int lr_table_builder_route(lr_table_builder *b, const lr_route *r)
{
	int rc = grow((void **)&b->routes, &b->cap_routes, b->nroutes + 1,
		      sizeof(*r));

	if (rc < 0)
		return b->err = rc;
	b->routes[b->nroutes] = *r;
	b->routes[b->nroutes].cond_first = (uint32_t)b->nconds;
	b->routes[b->nroutes].cond_count = 0;
	b->routes[b->nroutes].param_first = (uint32_t)b->nparams;
	b->routes[b->nroutes].param_count = 0;
	b->routes[b->nroutes].pool_first = (uint32_t)b->npools;
	b->routes[b->nroutes].pool_count = 0;
	b->routes[b->nroutes].chain_first = (uint32_t)b->nchains;
	b->routes[b->nroutes].fallback_count = 0;
	b->routes[b->nroutes].escalate_count = 0;
	b->routes[b->nroutes].context_count = 0;
	b->nroutes++;
	return 0;
}

int lr_table_builder_cond(lr_table_builder *b, const lr_cond *c)
{
	int rc;

	if (b->nroutes == 0)
		return LR_EINVAL;
	rc = grow((void **)&b->conds, &b->cap_conds, b->nconds + 1, sizeof(*c));
	if (rc < 0)
		return b->err = rc;
	b->conds[b->nconds++] = *c;
	b->routes[b->nroutes - 1].cond_count++;
	return 0;
}

int lr_table_builder_price(lr_table_builder *b, const lr_price_rec *p)
{
	int rc = grow((void **)&b->prices, &b->cap_prices, b->nprices + 1, sizeof(*p));

	if (rc < 0)
		return b->err = rc;
	b->prices[b->nprices++] = *p;
	return 0;
}

int lr_table_builder_catalog(lr_table_builder *b, const lr_price_rec *p)
{
	int rc;

	if (!p->glob.off || (b->ncatalog &&
			     strcmp(b->pool + b->catalog[b->ncatalog - 1].glob.off, b->pool + p->glob.off) >= 0))
		return b->err = LR_EINVAL;
	if ((rc = grow((void **)&b->catalog, &b->cap_catalog, b->ncatalog + 1, sizeof(*p))) < 0)
		return b->err = rc;
	b->catalog[b->ncatalog++] = *p;
	return 0;
}

int lr_table_builder_param(lr_table_builder *b, const lr_param_rec *p)
{
	int rc;

	if (b->nroutes == 0)
		return LR_EINVAL;
	if ((rc = grow((void **)&b->params, &b->cap_params, b->nparams + 1, sizeof(*p))) < 0)
		return b->err = rc;
	b->params[b->nparams++] = *p;
	b->routes[b->nroutes - 1].param_count++;
	return 0;
}

int lr_table_builder_intent(lr_table_builder *b, const lr_intent_rec *in)
{
	int rc;

	if ((rc = grow((void **)&b->intents, &b->cap_intents, b->nintents + 1, sizeof(*in))) < 0)
		return b->err = rc;
	b->intents[b->nintents] = *in;
	b->intents[b->nintents].term_first = (uint32_t)b->nterms;
	b->intents[b->nintents].term_count = 0;
	b->nintents++;
	return 0;
}

int lr_table_builder_term(lr_table_builder *b, const lr_term_rec *tm)
{
	int rc;

	if (b->nintents == 0)
		return LR_EINVAL;
	if ((rc = grow((void **)&b->terms, &b->cap_terms, b->nterms + 1, sizeof(*tm))) < 0)
		return b->err = rc;
	b->terms[b->nterms++] = *tm;
	b->intents[b->nintents - 1].term_count++;
	return 0;
}

int lr_table_builder_target(lr_table_builder *b, const lr_target_rec *tg)
{
	int rc;

	if ((rc = grow((void **)&b->targets, &b->cap_targets, b->ntargets + 1, sizeof(*tg))) < 0)
		return b->err = rc;
	b->targets[b->ntargets] = *tg;
	b->targets[b->ntargets].q_first = (uint32_t)b->nqualities;
	b->targets[b->ntargets].q_count = 0;
	b->ntargets++;
	return 0;
}

int lr_table_builder_classifier(lr_table_builder *b, uint32_t dim, uint32_t n, const char *const *names,
				const float *weights, const float *bias)
{
	size_t nw = (size_t)dim * n;
	uint32_t i;

	if (n == 0 || n > 64 || dim == 0 || (dim & (dim - 1)) || dim > (1u << 20))
		return LR_EINVAL;
	free(b->clf_weights);
	if (!(b->clf_weights = malloc((nw + n) * sizeof(float))))
		return b->err = LR_ENOMEM;
	memcpy(b->clf_weights, weights, nw * sizeof(float));
	memcpy(b->clf_weights + nw, bias, n * sizeof(float));
	for (i = 0; i < n; i++)
		b->clf_names[i] = lr_table_builder_str(b, names[i]);
	b->clf_classes = n;
	b->clf_dim = dim;
	return 0;
}

void lr_table_builder_classifier_calib(lr_table_builder *b, uint32_t flags, float temp)
{
	b->clf_flags = flags;
	b->clf_temp = temp;
}

int lr_table_builder_find_target(const lr_table_builder *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->ntargets; i++)
		if (strcmp(b->pool + b->targets[i].name.off, name) == 0)
			return (int)i;
	return LR_ENOTFOUND;
}

int lr_table_builder_quality(lr_table_builder *b, const lr_quality_rec *q)
{
	int rc;

	if (b->ntargets == 0)
		return LR_EINVAL;
	if ((rc = grow((void **)&b->qualities, &b->cap_qualities, b->nqualities + 1, sizeof(*q))) < 0)
		return b->err = rc;
	b->qualities[b->nqualities++] = *q;
	b->targets[b->ntargets - 1].q_count++;
	return 0;
}

int lr_table_builder_pool(lr_table_builder *b, const lr_pool_rec *p)
{
	int rc;

	if (b->nroutes == 0)
		return LR_EINVAL;
	if ((rc = grow((void **)&b->pools, &b->cap_pools, b->npools + 1, sizeof(*p))) < 0)
		return b->err = rc;
	b->pools[b->npools++] = *p;
	b->routes[b->nroutes - 1].pool_count++;
	return 0;
}

int lr_table_builder_chain(lr_table_builder *b, uint32_t target, int kind)
{
	lr_route *r;
	int rc;

	if (b->nroutes == 0)
		return LR_EINVAL;
	r = &b->routes[b->nroutes - 1];
	if ((kind == LR_CHAIN_FALLBACK && (r->escalate_count || r->context_count)) ||
	    (kind == LR_CHAIN_ESCALATE && r->context_count))
		return LR_EINVAL; /* fallbacks come first, context targets last */
	if ((rc = grow((void **)&b->chains, &b->cap_chains, b->nchains + 1, sizeof(lr_chain_rec))) < 0)
		return b->err = rc;
	b->chains[b->nchains].target = target;
	b->chains[b->nchains++].reserved = 0;
	if (kind == LR_CHAIN_CONTEXT)
		r->context_count++;
	else if (kind == LR_CHAIN_ESCALATE)
		r->escalate_count++;
	else
		r->fallback_count++;
	return 0;
}

void lr_table_builder_cooldown_min(lr_table_builder *b, uint32_t cooldown_min_s)
{
	b->cooldown_min_s = cooldown_min_s;
}

void lr_table_builder_resil(lr_table_builder *b, uint32_t health_failures, uint32_t cooldown_s,
			    uint32_t cache_size_mb, uint32_t cache_max_entry_kb)
{
	b->health_failures = health_failures;
	b->cooldown_s = cooldown_s;
	b->cache_size_mb = cache_size_mb;
	b->cache_max_entry_kb = cache_max_entry_kb;
}

void lr_table_builder_fleet(lr_table_builder *b, lr_ref host, uint32_t port, uint32_t db, lr_ref prefix,
			    lr_ref password_env, uint32_t refresh_ms)
{
	b->fleet_host = host;
	b->fleet_port = port;
	b->fleet_db = db;
	b->fleet_prefix = prefix;
	b->fleet_password_env = password_env;
	b->fleet_refresh_ms = refresh_ms;
}

void lr_table_builder_fleet_tls(lr_table_builder *b, uint32_t tls, lr_ref ca_file)
{
	b->fleet_tls = tls;
	b->fleet_ca_file = ca_file;
}

void lr_table_builder_meta(lr_table_builder *b, lr_ref audit, lr_ref source)
{
	b->audit = audit;
	b->source = source;
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static uint32_t needs_of(const lr_table_builder *b)
{
	uint32_t n = 0;
	size_t i;

	if (b->nintents || b->clf_classes)
		n |= LR_NEED_FEATURES;
	for (i = 0; i < b->nconds; i++) {
		if (b->conds[i].field >= LR_F_INTENT)
			n |= LR_NEED_FEATURES;
		if (b->conds[i].field == LR_F_PII)
			n |= LR_NEED_GUARD;
	}
	for (i = 0; i < b->nroutes; i++) {
		if (b->routes[i].guard_redact) /* and is it a stream (lr_redact.h)? */
			n |= LR_NEED_GUARD | LR_NEED_FEATURES;
		if (b->routes[i].pool_count)
			n |= LR_NEED_FEATURES; /* prompt size: cost and context window */
		if (b->routes[i].escalate_when & LR_GATE_INVALID_JSON)
			n |= LR_NEED_FEATURES; /* invalid_json: was JSON asked? */
		if (b->routes[i].budget_per == LR_BUDGET_ROUTE)
			n |= LR_NEED_DAY_ROUTE;
		else if (b->routes[i].budget_per == LR_BUDGET_PROCESS)
			n |= LR_NEED_DAY_PROCESS;
		else if (b->routes[i].budget_per == LR_BUDGET_MODEL)
			n |= LR_NEED_DAY_MODEL;
	}
	return n;
}

/* The route index; none when no route has a literal key, since walking
 * the scan list alone costs more than the plain scan. */
static void index_routes(lr_table *t, const lr_table_builder *b, uint32_t nb, size_t idx_off)
{
	uint32_t *idx = (uint32_t *)((char *)t + idx_off);

	t->idx_off = (uint32_t)idx_off;
	if (!nb)
		return;
	lr_route_index_build(idx, nb, b->routes, b->nroutes, b->conds, b->pool);
	t->idx_nbuckets = idx[nb] ? nb : 0; /* idx[nb]: where the scan list starts */
}

int lr_table_builder_finish(lr_table_builder *b, void **out, size_t *len)
{
	size_t routes_off = align8(sizeof(lr_table));
	size_t conds_off = align8(routes_off + b->nroutes * sizeof(lr_route));
	size_t prices_off = align8(conds_off + b->nconds * sizeof(lr_cond));
	size_t catalog_off = align8(prices_off + b->nprices * sizeof(lr_price_rec));
	size_t intents_off = align8(catalog_off + b->ncatalog * sizeof(lr_price_rec));
	size_t terms_off = align8(intents_off + b->nintents * sizeof(lr_intent_rec));
	size_t params_off = align8(terms_off + b->nterms * sizeof(lr_term_rec));
	size_t targets_off = align8(params_off + b->nparams * sizeof(lr_param_rec));
	size_t qualities_off = align8(targets_off + b->ntargets * sizeof(lr_target_rec));
	size_t pools_off = align8(qualities_off + b->nqualities * sizeof(lr_quality_rec));
	size_t chains_off = align8(pools_off + b->npools * sizeof(lr_pool_rec));
	size_t clf_names_off = align8(chains_off + b->nchains * sizeof(lr_chain_rec));
	size_t clf_weights_off = align8(clf_names_off + b->clf_classes * sizeof(lr_ref));
	size_t pool_off = align8(clf_weights_off +
				 ((size_t)b->clf_dim * b->clf_classes + b->clf_classes) * sizeof(float));
	uint32_t nb = b->nroutes ? lr_route_index_buckets(b->nroutes) : 0;
	size_t idx_off = align8(pool_off + b->pool_len);
	size_t size = align8(idx_off + lr_route_index_size(nb, b->nroutes));
	lr_table *t;

	if (b->err)
		return b->err;
	if (size > LR_TABLE_MAX_SIZE)
		return LR_ETOOBIG;
	t = calloc(1, size);
	if (!t)
		return LR_ENOMEM;
	memcpy(t->magic, LR_TABLE_MAGIC, sizeof(t->magic));
	t->layout = LR_TABLE_LAYOUT;
	t->size = (uint32_t)size;
	t->nroutes = (uint32_t)b->nroutes;
	t->routes_off = (uint32_t)routes_off;
	t->nconds = (uint32_t)b->nconds;
	t->conds_off = (uint32_t)conds_off;
	t->nprices = (uint32_t)b->nprices;
	t->prices_off = (uint32_t)prices_off;
	t->ncatalog = (uint32_t)b->ncatalog;
	t->catalog_off = (uint32_t)catalog_off;
	t->nintents = (uint32_t)b->nintents;
	t->intents_off = (uint32_t)intents_off;
	t->nterms = (uint32_t)b->nterms;
	t->terms_off = (uint32_t)terms_off;
	t->nparams = (uint32_t)b->nparams;
	t->params_off = (uint32_t)params_off;
	t->ntargets = (uint32_t)b->ntargets;
	t->targets_off = (uint32_t)targets_off;
	t->nqualities = (uint32_t)b->nqualities;
	t->qualities_off = (uint32_t)qualities_off;
	t->npools = (uint32_t)b->npools;
	t->pools_off = (uint32_t)pools_off;
	t->needs = needs_of(b);
	t->nchains = (uint32_t)b->nchains;
	t->chains_off = (uint32_t)chains_off;
	t->health_failures = b->health_failures ? b->health_failures : 3;
	t->health_cooldown_s = b->cooldown_s ? b->cooldown_s : 30;
	t->health_cooldown_min_s = b->cooldown_min_s ? b->cooldown_min_s : 5;
	if (t->health_cooldown_min_s > t->health_cooldown_s)
		t->health_cooldown_min_s = t->health_cooldown_s;
	t->cache_size_mb = b->cache_size_mb ? b->cache_size_mb : 64;
	t->cache_max_entry_kb = b->cache_max_entry_kb ? b->cache_max_entry_kb : 1024;
	t->clf_classes = b->clf_classes;
	t->clf_dim = b->clf_dim;
	t->clf_flags = b->clf_flags;
	t->clf_temp = b->clf_temp > 0 ? b->clf_temp : 1;
	t->clf_names_off = (uint32_t)clf_names_off;
	t->clf_weights_off = (uint32_t)clf_weights_off;
	t->pool_off = (uint32_t)pool_off;
	t->pool_len = (uint32_t)b->pool_len;
	t->audit = b->audit;
	t->source = b->source;
	t->fleet_host = b->fleet_host;
	t->fleet_port = b->fleet_port;
	t->fleet_db = b->fleet_db;
	t->fleet_prefix = b->fleet_prefix;
	t->fleet_password_env = b->fleet_password_env;
	t->fleet_refresh_ms = b->fleet_refresh_ms;
	t->fleet_tls = b->fleet_tls;
	t->fleet_ca_file = b->fleet_ca_file;
	if (b->nroutes)
		memcpy((char *)t + routes_off, b->routes, b->nroutes * sizeof(lr_route));
	if (b->nconds)
		memcpy((char *)t + conds_off, b->conds, b->nconds * sizeof(lr_cond));
	if (b->nprices)
		memcpy((char *)t + prices_off, b->prices, b->nprices * sizeof(lr_price_rec));
	if (b->ncatalog)
		memcpy((char *)t + catalog_off, b->catalog, b->ncatalog * sizeof(lr_price_rec));
	if (b->nintents)
		memcpy((char *)t + intents_off, b->intents, b->nintents * sizeof(lr_intent_rec));
	if (b->nterms)
		memcpy((char *)t + terms_off, b->terms, b->nterms * sizeof(lr_term_rec));
	if (b->nparams)
		memcpy((char *)t + params_off, b->params, b->nparams * sizeof(lr_param_rec));
	if (b->ntargets)
		memcpy((char *)t + targets_off, b->targets, b->ntargets * sizeof(lr_target_rec));
	if (b->nqualities)
		memcpy((char *)t + qualities_off, b->qualities, b->nqualities * sizeof(lr_quality_rec));
	if (b->npools)
		memcpy((char *)t + pools_off, b->pools, b->npools * sizeof(lr_pool_rec));
	if (b->nchains)
		memcpy((char *)t + chains_off, b->chains, b->nchains * sizeof(lr_chain_rec));
	if (b->clf_classes) {
		memcpy((char *)t + clf_names_off, b->clf_names, b->clf_classes * sizeof(lr_ref));
		memcpy((char *)t + clf_weights_off, b->clf_weights,
		       ((size_t)b->clf_dim * b->clf_classes + b->clf_classes) * sizeof(float));
	}
	memcpy((char *)t + pool_off, b->pool, b->pool_len);
	index_routes(t, b, nb, idx_off);
	*out = t;
	*len = size;
	return 0;
}

/* --- validation ----------------------------------------------------------- */

static int section_ok(size_t size, uint32_t off, uint32_t n, size_t elem)
{
	return off % 8 == 0 && off <= size && n <= (size - off) / elem;
}

static int ref_ok(const lr_table *t, lr_ref r)
{
	const char *pool = (const char *)t + t->pool_off;

	if (r.off == 0)
		return r.len == 0;
	return r.off < t->pool_len && r.len < t->pool_len - r.off &&
	       pool[r.off + r.len] == '\0';
}

static int route_ok(const lr_table *t, const lr_route *r)
{
	return ref_ok(t, r->name) && r->name.off && r->unsure_route <= t->nroutes &&
	       ref_ok(t, r->set_model) && ref_ok(t, r->set_endpoint) &&
	       ref_ok(t, r->ep_scheme) && ref_ok(t, r->ep_host) &&
	       ref_ok(t, r->ep_base) && ref_ok(t, r->set_key_env) &&
	       ref_ok(t, r->deny) && r->ep_port <= 65535 &&
	       r->cond_first <= t->nconds &&
	       r->cond_count <= t->nconds - r->cond_first &&
	       r->param_first <= t->nparams &&
	       r->param_count <= t->nparams - r->param_first &&
	       r->pool_first <= t->npools && r->pool_count <= t->npools - r->pool_first &&
	       r->budget_per <= LR_BUDGET_MODEL && ref_ok(t, r->budget_deny) &&
	       (r->budget_target == -1 || (r->budget_target >= 0 && (uint32_t)r->budget_target < t->ntargets)) &&
	       isfinite(r->w_quality) && isfinite(r->w_cost) && isfinite(r->w_latency) &&
	       isfinite(r->expected_output) && isfinite(r->budget_usd) &&
	       r->chain_first <= t->nchains && r->fallback_count <= LR_MAX_CHAIN &&
	       r->escalate_count <= LR_MAX_CHAIN && r->context_count <= LR_MAX_CHAIN &&
	       r->fallback_count + r->escalate_count + r->context_count <= t->nchains - r->chain_first &&
	       r->context_mode <= LR_CONTEXT_LARGER && r->retries <= LR_RETRIES_MAX &&
	       r->retry_backoff_ms <= LR_BACKOFF_MAX_MS && r->stream_continue <= LR_CONTINUE_OFF &&
	       r->format < LR_XF_COUNT && (r->guard_redact & ~(uint32_t)LR_GUARD_ALL) == 0 &&
	       ref_ok(t, r->escalate_refusal) && isfinite(r->cache_max_temperature) &&
	       (r->set_endpoint.off == 0 || (r->ep_host.off && r->ep_scheme.off));
}

static int cond_ok(const lr_table *t, const lr_cond *c)
{
	if (c->field < LR_F_NSTR)
		return c->op == LR_OP_GLOB && ref_ok(t, c->str) && c->str.off != 0;
	if (c->field == LR_F_PII) /* a mask: only the mask operators */
		return (c->op == LR_OP_ANY || c->op == LR_OP_NONE) && c->num >= 0 && c->num <= LR_GUARD_ALL &&
		       c->num == (double)(uint32_t)c->num;
	return c->field >= LR_F_NUM && c->field < LR_F_NUM_END && c->op >= LR_OP_GT &&
	       c->op <= LR_OP_EQ && c->num == c->num; /* not NaN */
}

static int intent_ok(const lr_table *t, const lr_intent_rec *in)
{
	return ref_ok(t, in->name) && in->name.off && in->term_first <= t->nterms &&
	       in->term_count <= t->nterms - in->term_first && isfinite(in->min_quality);
}

static int term_ok(const lr_table *t, const lr_term_rec *tm)
{
	return (tm->kind == LR_TERM_KEYWORD || tm->kind == LR_TERM_REGEX) && ref_ok(t, tm->str) &&
	       tm->str.off;
}

static int target_ok(const lr_table *t, const lr_target_rec *g)
{
	return ref_ok(t, g->name) && g->name.off && ref_ok(t, g->model) && ref_ok(t, g->endpoint) &&
	       ref_ok(t, g->ep_scheme) && ref_ok(t, g->ep_host) && ref_ok(t, g->ep_base) &&
	       ref_ok(t, g->key_env) && g->ep_port <= 65535 && g->q_first <= t->nqualities &&
	       g->format < LR_XF_COUNT &&
	       g->q_count <= t->nqualities - g->q_first &&
	       (g->endpoint.off == 0 || (g->ep_host.off && g->ep_scheme.off)) &&
	       isfinite(g->input_per_mtok) && isfinite(g->output_per_mtok) &&
	       isfinite(g->cache_read_per_mtok) && isfinite(g->cache_write_per_mtok) &&
	       isfinite(g->context_window) && isfinite(g->quality);
}

/* Prices are finite; input and output never negative (cache rates < 0
 * mean "the input rate"). */
static int price_ok(const lr_table *t, const lr_price_rec *p)
{
	return ref_ok(t, p->glob) && p->glob.off && p->input_per_mtok >= 0 && p->output_per_mtok >= 0 &&
	       isfinite(p->input_per_mtok) && isfinite(p->output_per_mtok) &&
	       isfinite(p->cache_read_per_mtok) && isfinite(p->cache_write_per_mtok) &&
	       p->context_window >= 0 && isfinite(p->context_window);
}

static int param_ok(const lr_table *t, const lr_param_rec *p)
{
	if (p->op == LR_PARAM_SYSTEM_PREFIX)
		return ref_ok(t, p->raw) && p->raw.off && ref_ok(t, p->key);
	return (p->op == LR_PARAM_SET || p->op == LR_PARAM_CAP) && ref_ok(t, p->key) && p->key.off &&
	       ref_ok(t, p->raw) && p->raw.off;
}

int lr_table_validate(const void *blob, size_t len)
{
	const lr_table *t = blob;
	uint32_t i, next;

	if (len < sizeof(*t) || memcmp(t->magic, LR_TABLE_MAGIC, 8) != 0)
		return LR_EVERSION;
	if (t->layout != LR_TABLE_LAYOUT)
		return LR_EVERSION;
	if (t->size != len || len > LR_TABLE_MAX_SIZE || (uintptr_t)blob % 8)
		return LR_ECORRUPT;
	if (!section_ok(len, t->routes_off, t->nroutes, sizeof(lr_route)) ||
	    !section_ok(len, t->conds_off, t->nconds, sizeof(lr_cond)) ||
	    !section_ok(len, t->prices_off, t->nprices, sizeof(lr_price_rec)) ||
	    !section_ok(len, t->catalog_off, t->ncatalog, sizeof(lr_price_rec)) ||
	    !section_ok(len, t->intents_off, t->nintents, sizeof(lr_intent_rec)) ||
	    !section_ok(len, t->terms_off, t->nterms, sizeof(lr_term_rec)) ||
	    !section_ok(len, t->params_off, t->nparams, sizeof(lr_param_rec)) ||
	    !section_ok(len, t->targets_off, t->ntargets, sizeof(lr_target_rec)) ||
	    !section_ok(len, t->qualities_off, t->nqualities, sizeof(lr_quality_rec)) ||
	    !section_ok(len, t->pools_off, t->npools, sizeof(lr_pool_rec)) ||
	    !section_ok(len, t->chains_off, t->nchains, sizeof(lr_chain_rec)) ||
	    t->clf_classes > 64 || (t->clf_dim & (t->clf_dim - 1)) || t->clf_dim > (1u << 20) ||
	    (t->clf_classes && !t->clf_dim) || (t->clf_flags & ~LR_CLF_FLAGS_KNOWN) ||
	    !(t->clf_temp > 0.01f && t->clf_temp < 100.f) ||
	    !section_ok(len, t->clf_names_off, t->clf_classes, sizeof(lr_ref)) ||
	    !section_ok(len, t->clf_weights_off, t->clf_classes * (t->clf_dim + 1), sizeof(float)) ||
	    !section_ok(len, t->pool_off, t->pool_len, 1) || t->pool_len == 0)
		return LR_ECORRUPT;
	if (!ref_ok(t, t->audit) || !ref_ok(t, t->source) || !lr_route_index_ok(t) ||
	    !ref_ok(t, t->fleet_host) || !ref_ok(t, t->fleet_prefix) || !ref_ok(t, t->fleet_password_env) ||
	    !ref_ok(t, t->fleet_ca_file) || t->fleet_tls > 1 || t->fleet_port > 65535)
		return LR_ECORRUPT;
	for (i = 0; i < t->nroutes; i++)
		if (!route_ok(t, &lr_table_routes(t)[i]))
			return LR_ECORRUPT;
	for (i = 0; i < t->nconds; i++)
		if (!cond_ok(t, &lr_table_conds(t)[i]))
			return LR_ECORRUPT;
	for (i = 0, next = 0; i < t->nintents; i++) {
		/* terms belong to one intent each, in order (lr_intent.c indexes
		 * them into arrays of nterms entries) */
		if (!intent_ok(t, &lr_table_intents(t)[i]) || lr_table_intents(t)[i].term_first != next)
			return LR_ECORRUPT;
		next += lr_table_intents(t)[i].term_count;
	}
	for (i = 0; i < t->nterms; i++)
		if (!term_ok(t, &lr_table_terms(t)[i]))
			return LR_ECORRUPT;
	for (i = 0; i < t->nparams; i++)
		if (!param_ok(t, &lr_table_params(t)[i]))
			return LR_ECORRUPT;
	for (i = 0; i < t->clf_classes; i++)
		if (!ref_ok(t, lr_table_clf_names(t)[i]) || !lr_table_clf_names(t)[i].off)
			return LR_ECORRUPT;
	for (i = 0; i < t->clf_classes * (t->clf_dim + 1); i++) /* NaN would poison every score */
		if (!isfinite(lr_table_clf_weights(t)[i]))
			return LR_ECORRUPT;
	for (i = 0; i < t->nqualities; i++)
		if (!isfinite(lr_table_qualities(t)[i].value))
			return LR_ECORRUPT;
	for (i = 0; i < t->npools; i++)
		if (!isfinite(lr_table_pools(t)[i].weight))
			return LR_ECORRUPT;
	for (i = 0; i < t->ntargets; i++)
		if (!target_ok(t, &lr_table_targets(t)[i]))
			return LR_ECORRUPT;
	for (i = 0; i < t->nqualities; i++)
		if (!ref_ok(t, lr_table_qualities(t)[i].intent) || !lr_table_qualities(t)[i].intent.off)
			return LR_ECORRUPT;
	for (i = 0; i < t->npools; i++)
		if (lr_table_pools(t)[i].target >= t->ntargets)
			return LR_ECORRUPT;
	for (i = 0; i < t->nchains; i++)
		if (lr_table_chains(t)[i].target >= t->ntargets &&
		    lr_table_chains(t)[i].target != LR_TARGET_ORIGINAL)
			return LR_ECORRUPT;
	for (i = 0; i < t->nprices; i++)
		if (!price_ok(t, &lr_table_prices(t)[i]))
			return LR_ECORRUPT;
	for (i = 0; i < t->ncatalog; i++) /* sorted, each name once: binary search */
		if (!price_ok(t, &lr_table_catalog(t)[i]) ||
		    (i && strcmp(lr_table_str(t, lr_table_catalog(t)[i - 1].glob),
				 lr_table_str(t, lr_table_catalog(t)[i].glob)) >= 0))
			return LR_ECORRUPT;
	return 0;
}

int lr_table_find(const lr_table *t, const char *name)
{
	uint32_t i;

	for (i = 0; i < t->nroutes; i++)
		if (strcmp(lr_table_str(t, lr_table_routes(t)[i].name), name) == 0)
			return (int)i;
	return LR_ENOTFOUND;
}

int lr_table_find_target(const lr_table *t, const char *name)
{
	uint32_t i;

	for (i = 0; i < t->ntargets; i++)
		if (strcmp(lr_table_str(t, lr_table_targets(t)[i].name), name) == 0)
			return (int)i;
	return LR_ENOTFOUND;
}
