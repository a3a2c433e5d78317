/*
 * lr_plan.c - decision to concrete request (see lr_plan.h).
 *
 * URL = endpoint (or the original base) + operation path with the model
 * segment swapped when the model lives in the path + original query, where
 * a Gemini `key=` query parameter counts as a credential and follows the
 * same drop rule as the auth headers.
 */
#include "lr_plan.h"
#include "lr_body.h"
#include "lr_error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
	char *p;
	size_t len, cap;
	int err;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t ncap = (b->len + n + 1) * 2;
		char *np = realloc(b->p, ncap);
		if (!np) {
			b->err = LR_ENOMEM;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static int same_origin(const lr_table *t, const lr_route *r, const lr_url *u)
{
	const char *host = lr_table_str(t, r->ep_host);
	int tls = strcasecmp(lr_table_str(t, r->ep_scheme), "https") == 0;

	return tls == u->tls && (int)r->ep_port == u->port &&
	       strlen(host) == u->host_len &&
	       strncasecmp(host, u->host, u->host_len) == 0;
}

/* Copies the query, minus a `key=` parameter when `drop_key`. */
static void put_query(sbuf *b, const lr_url *u, int drop_key)
{
	const char *q = u->query, *end = u->query + u->query_len;
	int first = 1;

	if (!u->has_query)
		return;
	if (!drop_key) {
		put(b, "?", 1);
		put(b, q, u->query_len);
		return;
	}
	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		size_t n = (size_t)((amp ? amp : end) - q);
		if (!(n >= 4 && memcmp(q, "key=", 4) == 0)) {
			put(b, first ? "?" : "&", 1);
			put(b, q, n);
			first = 0;
		}
		q += n + (amp ? 1 : 0);
	}
}

static int build_url(const lr_table *t, const lr_route *r, const lr_detect *d,
		     const char *url, lr_plan *p)
{
	sbuf b = {0};
	size_t op = d->base_len, path_end;
	const char *ep = lr_table_str(t, r->set_endpoint);

	path_end = (size_t)(d->url.path - url) + d->url.path_len;
	if (ep) {
		size_t n = strlen(ep);
		while (n > 0 && ep[n - 1] == '/')
			n--;
		put(&b, ep, n);
	} else {
		put(&b, url, op);
	}
	if (p->model_in_path) {
		put(&b, url + op, d->model_off - op);
		put(&b, p->model, strlen(p->model));
		op = d->model_off + d->model_len;
	}
	put(&b, url + op, path_end - op);
	put_query(&b, &d->url, d->format == LR_FMT_GEMINI && p->cred != LR_CRED_KEEP);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	p->url = b.p;
	return 0;
}

/* A key becomes a header value: control bytes (CR, LF...) would let the
 * environment inject headers, so such a key counts as missing. */
static int key_ok(const char *k)
{
	for (; *k; k++)
		if ((unsigned char)*k < 0x20 || *k == 0x7f)
			return 0;
	return 1;
}

static void plan_credentials(const lr_table *t, const lr_route *r, lr_getenv_fn getkey,
			     lr_plan *p)
{
	p->key_env = lr_table_str(t, r->set_key_env);
	if (p->key_env && getkey && (!(p->key = getkey(p->key_env)) || !*p->key || !key_ok(p->key))) {
		p->key = NULL;
		p->key_missing = 1;
	}
	if (p->key_env && !p->key_missing)
		p->cred = LR_CRED_REPLACE;
	else if (p->host_changed && (p->key_missing || !(r->flags & LR_ROUTE_KEEP_CREDENTIALS)))
		p->cred = LR_CRED_DROP;
	else
		p->cred = LR_CRED_KEEP;
}

/* A route as its chosen target makes it: model, endpoint, key, rule. */
static void as_target(const lr_table *t, const lr_route *r, int target, lr_route *eff)
{
	const lr_target_rec *g = &lr_table_targets(t)[target];

	*eff = *r;
	eff->set_model = g->model;
	eff->set_endpoint = g->endpoint;
	eff->ep_scheme = g->ep_scheme;
	eff->ep_host = g->ep_host;
	eff->ep_base = g->ep_base;
	eff->ep_port = g->ep_port;
	eff->set_key_env = g->key_env;
	eff->flags &= ~(uint32_t)LR_ROUTE_KEEP_CREDENTIALS;
	if (g->flags & LR_TARGET_KEEP_CREDENTIALS)
		eff->flags |= LR_ROUTE_KEEP_CREDENTIALS;
}

int lr_plan_make(const lr_table *t, const lr_decision *dec, const lr_detect *d,
		 const char *url, size_t n, lr_getenv_fn getkey, lr_plan *p)
{
	const lr_route *r = dec->route;
	lr_route eff;

	if (r && dec->target >= 0 && (uint32_t)dec->target < t->ntargets) {
		as_target(t, r, dec->target, &eff);
		r = &eff;
	}

	(void)n;
	memset(p, 0, sizeof(*p));
	p->cred = LR_CRED_KEEP;
	p->auth_header = lr_detect_auth_header(d->format);
	p->auth_bearer = (d->format == LR_FMT_OPENAI);
	if (dec->action != LR_ACTION_ROUTE)
		return 0;
	p->model = lr_table_str(t, r->set_model);
	p->model_in_path = p->model && d->model_len > 0;
	p->host_changed = r->set_endpoint.off && !same_origin(t, r, &d->url);
	plan_credentials(t, r, getkey, p);
	if (!r->set_endpoint.off && !p->model_in_path)
		return 0;
	return build_url(t, r, d, url, p);
}

void lr_plan_free(lr_plan *p)
{
	free(p->url);
	p->url = NULL;
}

/* Replaces *cur (owned when *owned) by next when a step changed it. */
static void step(char **cur, size_t *clen, int *owned, char *next, size_t nlen)
{
	if (!next)
		return;
	if (*owned)
		free(*cur);
	*cur = next;
	*clen = nlen;
	*owned = 1;
}

int lr_plan_body(const lr_table *t, const lr_decision *d, const lr_request *r, const lr_plan *p,
		 const char *body, size_t len, char **out, size_t *outlen)
{
	const lr_param_rec *prm;
	lr_edit e[LR_BODY_MAX_EDITS];
	char *cur = (char *)body, *next = NULL;
	size_t clen = len, nlen = 0, ne = 0;
	uint32_t i;
	int owned = 0, rc, changes = 0;

	*out = NULL;
	*outlen = 0;
	if (p->model && !p->model_in_path) {
		if (!body)
			return LR_ENOTFOUND;
		if ((rc = lr_body_set_model(cur, clen, p->model, &next, &nlen)) < 0)
			return rc;
		step(&cur, &clen, &owned, next, nlen);
		changes += rc;
	}
	if (d->route && d->route->param_count && body) {
		prm = lr_table_params(t) + d->route->param_first;
		for (i = 0; i < d->route->param_count && ne < LR_BODY_MAX_EDITS; i++) {
			if (prm[i].op == LR_PARAM_SYSTEM_PREFIX)
				continue;
			e[ne].key = lr_table_str(t, prm[i].key);
			e[ne].raw = lr_table_str(t, prm[i].raw);
			e[ne].op = prm[i].op == LR_PARAM_CAP ? LR_EDIT_CAP : LR_EDIT_SET;
			ne++;
		}
		if (ne) {
			next = NULL;
			if ((rc = lr_body_edit(cur, clen, e, ne, &next, &nlen)) < 0)
				goto fail;
			step(&cur, &clen, &owned, next, nlen);
			changes += rc;
		}
		for (i = 0; i < d->route->param_count; i++) {
			if (prm[i].op != LR_PARAM_SYSTEM_PREFIX)
				continue;
			next = NULL;
			rc = lr_body_prepend_system(cur, clen, lr_table_str(t, prm[i].raw),
						    r->det.format == LR_FMT_ANTHROPIC, &next, &nlen);
			if (rc < 0 && rc != LR_ENOTFOUND)
				goto fail;
			step(&cur, &clen, &owned, next, nlen);
			changes += rc > 0;
		}
	}
	if (owned) {
		*out = cur;
		*outlen = clen;
	}
	return changes && owned ? changes : 0;
fail:
	if (owned)
		free(cur);
	return rc;
}
