/*
 * lr_plan_xlate.c - a plan's translation step (see lr_plan_xlate.h).
 */
#include "lr_plan_xlate.h"
#include "lr_error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* endpoint (trailing slashes off) + path[op_off..]: a malloc'ed URL. */
static char *target_url(const char *ep, const lr_xlate_req *x)
{
	size_t n = strlen(ep), k;
	char *u;

	while (n > 0 && ep[n - 1] == '/')
		n--;
	k = strlen(x->path + x->op_off);
	if (!(u = malloc(n + k + 1)))
		return NULL;
	memcpy(u, ep, n);
	memcpy(u + n, x->path + x->op_off, k + 1);
	return u;
}

/* A Gemini app streaming without alt=sse reads a JSON array. */
static int gemini_array(const lr_request *r)
{
	const lr_url *u = &r->det.url;

	return r->det.stream_in_path && !(u->has_query && memmem(u->query, u->query_len, "alt=sse", 7));
}

int lr_plan_xlate(lr_plan *p, const lr_request *r, const char *body, size_t len, lr_xlate_req *out)
{
	lr_xlate_opts o;
	char *url;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!p->xtarget || !p->xapp || !p->xendpoint || !body)
		return LR_EINVAL;
	memset(&o, 0, sizeof(o));
	o.app = p->xapp;
	o.target = p->xtarget;
	/* the target's model; the app's when the route sets none (a Gemini
	 * app names it in its URL, not in the body) */
	o.model = p->model ? p->model : r->model[0] ? r->model : NULL;
	o.max_tokens_default = LR_XLATE_MAX_TOKENS_DEFAULT;
	o.flags = p->xdrop ? LR_XLATE_DROP : 0;
	o.app_stream_in_path = r->det.stream_in_path;
	if ((rc = lr_xlate_request(&o, body, len, out)) < 0)
		return rc;
	if (!(url = target_url(p->xendpoint, out))) {
		lr_xlate_req_free(out);
		return LR_ENOMEM;
	}
	free(p->url);
	p->url = url;
	p->model_in_path = 0;
	p->xstream = out->stream;
	p->xusage = out->include_usage;
	p->xgemini_array = gemini_array(r);
	return 0;
}

void lr_plan_xlate_ctx(const lr_plan *p, const char *model, lr_xlate_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->app = p->xapp;
	c->target = p->xtarget;
	c->include_usage = p->xusage;
	c->created = (long long)time(NULL);
	c->gemini_array = p->xgemini_array;
	c->model = model;
}

static int prefixed(const char *name, size_t n, const char *pre)
{
	size_t k = strlen(pre);

	return n >= k && strncasecmp(name, pre, k) == 0;
}

static int named(const char *name, size_t n, const char *w)
{
	return n == strlen(w) && strncasecmp(name, w, n) == 0;
}

int lr_plan_xlate_drops_header(const char *name, size_t n)
{
	return prefixed(name, n, "anthropic-") || prefixed(name, n, "openai-") || prefixed(name, n, "x-goog-") ||
	       named(name, n, "content-type") || named(name, n, "accept-encoding");
}
