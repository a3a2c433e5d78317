/*
 * lr_plan.c - decision to concrete request (see lr_plan.h).
 *
 * URL = endpoint (or the original base) + operation path with the model
 * segment swapped when the model lives in the path + original query, where
 * a Gemini `key=` query parameter counts as a credential and follows the
 * same drop rule as the auth headers.
 */
#include "lr_plan.h"
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

int lr_plan_make(const lr_table *t, const lr_decision *dec, const lr_detect *d,
		 const char *url, size_t n, lr_getenv_fn getkey, lr_plan *p)
{
	const lr_route *r = dec->route;

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
