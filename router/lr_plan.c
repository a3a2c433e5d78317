/*
 * lr_plan.c - decision to concrete request (see lr_plan.h).
 *
 * URL = endpoint (or the original base) + operation path with the model
 * segment swapped when the model lives in the path + original query, where
 * credential parameters (lr_cred.h) follow the same rule as the auth
 * headers.  A query is looked at only when the app's key is dropped or
 * replaced.
 */
#include "lr_plan.h"
#include "lr_body.h"
#include "lr_cred.h"
#include "lr_error.h"
#include "lr_url.h"
#include "lr_xlate.h"

#include <stdio.h>
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

/* Is query parameter q[0..n) ("name=value" or "name") one the credential
 * rule drops?  The same rule as for headers (lr_curl_apply.c, lr_http.c):
 * nothing when the app's key is kept; the key parameters when it is
 * dropped or replaced (the route's key goes in the provider's header); every
 * credential when the request leaves for another host. */
static int param_dropped(const lr_plan *p, const char *q, size_t n)
{
	const char *eq = memchr(q, '=', n);
	size_t k = eq ? (size_t)(eq - q) : n;

	if (p->cred == LR_CRED_KEEP)
		return 0;
	return p->host_changed ? lr_cred_is_credential_param(q, k) : lr_cred_is_key_param(q, k);
}

/* Copies the query, minus the parameters the credential rule drops.
 * Returns how many were dropped. */
static int put_query(sbuf *b, const lr_url *u, const lr_plan *p)
{
	const char *q = u->query, *end = u->query + u->query_len;
	int first = 1, dropped = 0;

	if (!u->has_query)
		return 0;
	if (p->cred == LR_CRED_KEEP) {
		put(b, "?", 1);
		put(b, q, u->query_len);
		return 0;
	}
	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		size_t n = (size_t)((amp ? amp : end) - q);
		if (param_dropped(p, q, n)) {
			dropped++;
		} else {
			put(b, first ? "?" : "&", 1);
			put(b, q, n);
			first = 0;
		}
		q += n + (amp ? 1 : 0);
	}
	return dropped;
}

int lr_plan_strip_query(const lr_plan *p, const char *target, size_t n, char **out, size_t *outlen)
{
	const char *q = memchr(target, '?', n);
	lr_url u = {0};
	sbuf b = {0};
	int dropped;

	*out = NULL;
	*outlen = 0;
	if (!q || p->cred == LR_CRED_KEEP)
		return 0;
	u.has_query = 1;
	u.query = q + 1;
	u.query_len = n - (size_t)(q + 1 - target);
	put(&b, target, (size_t)(q - target));
	dropped = put_query(&b, &u, p);
	if (b.err || !dropped) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*outlen = b.len;
	return dropped;
}

static int build_url(const lr_table *t, const lr_route *r, const lr_detect *d,
		     const char *url, lr_plan *p)
{
	sbuf b = {0};
	size_t op = d->base_len, path_end;
	const char *ep = lr_table_str(t, r->set_endpoint);
	int dropped;

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
	dropped = put_query(&b, &d->url, p);
	if (b.err || (!ep && !p->model_in_path && !dropped)) {
		free(b.p); /* an error, or the app's own URL */
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
	/* a translated request goes to another API: the app's key is for its
	 * own, whatever the host */
	if (p->key_env && !p->key_missing)
		p->cred = LR_CRED_REPLACE;
	else if ((p->host_changed || p->xtarget) && (p->key_missing || !(r->flags & LR_ROUTE_KEEP_CREDENTIALS)))
		p->cred = LR_CRED_DROP;
	else
		p->cred = LR_CRED_KEEP;
}

/* The detected wire format whose key header a translation format uses. */
static int wire_of(int xf)
{
	switch (xf) {
	case LR_XF_AZURE: return LR_FMT_AZURE;
	case LR_XF_ANTHROPIC: return LR_FMT_ANTHROPIC;
	case LR_XF_GEMINI: return LR_FMT_GEMINI;
	case LR_XF_OLLAMA: return LR_FMT_OLLAMA;
	default: return LR_FMT_OPENAI;
	}
}

/* A route whose endpoint speaks another API format than the app: the
 * request is translated (xapp LR_XF_NONE: it cannot be), and the key, if
 * the route gives one, goes in the target's header. */
static void plan_format(const lr_table *t, const lr_route *r, const lr_detect *d, lr_plan *p)
{
	int app = lr_xlate_format(d->format, d->operation);

	if (!r->format || !r->set_endpoint.off || (int)r->format == app)
		return;
	p->xtarget = (int)r->format;
	p->xapp = app;
	p->xdrop = (r->flags & LR_ROUTE_FORMAT_DROP) != 0;
	p->xendpoint = lr_table_str(t, r->set_endpoint);
	p->auth_header = lr_detect_auth_header(wire_of(p->xtarget));
	p->auth_bearer = wire_of(p->xtarget) == LR_FMT_OPENAI;
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
	eff->format = g->format;
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
	p->endpoint = r->set_endpoint.off != 0;
	p->host_changed = p->endpoint && !same_origin(t, r, &d->url);
	plan_format(t, r, d, p);
	plan_credentials(t, r, getkey, p);
	if (!p->endpoint && !p->model_in_path && (p->cred == LR_CRED_KEEP || !d->url.has_query))
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
		/* the request's walk found the model: no second walk of the body */
		if ((rc = lr_request_set_model(r, cur, clen, p->model, &next, &nlen)) < 0)
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

/* --- decided but not applied ------------------------------------------------ */

int lr_plan_carried(const lr_plan *p, int carrier)
{
	if (!p->host_changed || carrier == LR_CARRIER_CURL || carrier == LR_CARRIER_SOCKET_MOVED)
		return LR_UNAPPLIED_NONE;
	return carrier == LR_CARRIER_TLS ? LR_UNAPPLIED_TLS_HOST : LR_UNAPPLIED_SOCKET_HOST;
}

static const char *const unapplied_code[LR_UNAPPLIED_N] = {
	NULL, "tls_cannot_move_host", "socket_not_redirected", "body_not_rewritable",
	"rewrite_failed", "no_memory", "url_without_scheme", "cannot_translate",
	"cannot_translate_here", "cannot_restore_redacted",
};

static const char *const unapplied_advice[LR_UNAPPLIED_N] = {
	NULL,
	"over TLS the connection's host is fixed at the handshake, and the shim's own client "
	"that would carry the request is off (LLMROUTE_OWN_CLIENT=off) or cannot be loaded "
	"(libcurl.so.4, Debian's libcurl4); turn it on or install it, or use a libcurl client",
	"this plain connection goes to the app's host, and the shim's own client that would "
	"carry the request is off (LLMROUTE_OWN_CLIENT=off) or cannot be loaded (libcurl.so.4); "
	"turn it on or install it, make the route claim the host, or use a libcurl client",
	"the body is not a JSON object the route can rewrite",
	"the request head could not be rewritten",
	"out of memory",
	"the app's URL has no scheme (libcurl guesses it), so no new URL is built for it; "
	"give the URL a scheme",
	"the route's endpoint speaks another API format, and only chat requests (OpenAI chat, "
	"Azure, Responses, Anthropic messages, Gemini generateContent, Ollama /api/chat) are "
	"translated; match the route on the operation",
	"on libcurl a route to a target of another format is applied to transfers without "
	"CURLOPT_HEADER (the app would read the target's head); the socket and TLS "
	"transports carry the rest",
	"a redacting route puts the values back only where the whole answer passes through the "
	"shim (a libcurl transfer without CURLOPT_HEADER, or the shim's own client on a socket or "
	"TLS connection; not with fallbacks, escalation or a cache; a stream of a known format), "
	"so this request went as the app made it, the values in it; deny such requests "
	"(\"pii\" in a deny route's match) where that must not happen",
};

const char *lr_unapplied_code(int why)
{
	return why > 0 && why < LR_UNAPPLIED_N ? unapplied_code[why] : NULL;
}

const char *lr_unapplied_advice(int why)
{
	return why > 0 && why < LR_UNAPPLIED_N ? unapplied_advice[why] : "";
}

int lr_unapplied_of(int rc, int body)
{
	if (rc == LR_ENOMEM)
		return LR_UNAPPLIED_NOMEM;
	return body ? LR_UNAPPLIED_BODY : LR_UNAPPLIED_REWRITE;
}

void lr_plan_host(const lr_plan *p, char *out, size_t cap)
{
	lr_url u;

	out[0] = '\0';
	if (p->url && lr_url_parse(p->url, strlen(p->url), &u) == 0)
		snprintf(out, cap, "%.*s%s%.0d", (int)u.host_len, u.host, u.has_port ? ":" : "",
			 u.has_port ? u.port : 0);
}

const char *lr_plan_auth(const lr_plan *p, char *value, size_t cap)
{
	int bearer = p->auth_bearer || !p->auth_header;

	snprintf(value, cap, "%s%s", bearer ? "Bearer " : "", p->key ? p->key : "");
	return bearer ? "Authorization" : p->auth_header;
}
