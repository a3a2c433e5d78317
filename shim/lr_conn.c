/*
 * lr_conn.c - route and audit HTTP/1.1 requests on one connection (see the
 * header).
 *
 * The write loop takes the app's bytes slice by slice.  Three kinds of
 * bytes: head and held-body bytes go into the framer's buffer (the app is
 * told they were written; they leave when we decide); pass-through body
 * bytes of a socket go out straight from the app's buffer, one real send
 * each, so the app sees the kernel's own partial writes and EAGAIN
 * (`ahead` counts bytes framed but not yet sent: the app sends them again
 * after a short write); and our own bytes (a released head, a rewritten
 * request) go through an outbox, sent before anything else.  When the
 * outbox cannot all go now, the app's call reports EAGAIN (see
 * lr_conn_write) and nothing waits.  TLS has no partial writes to report
 * (SSL_write is all or nothing), so a TLS connection sends everything
 * through the outbox, and an unfinished record is retried from the same
 * buffer, as OpenSSL requires.
 */
#include "lr_conn.h"
#include "lr_body.h"
#include "lr_claim.h"
#include "lr_attempt.h"
#include "lr_engine.h"
#include "lr_extract.h"
#include "lr_error.h"
#include "lr_log.h"
#include "lr_plan.h"
#include "lr_plan_xlate.h"
#include "lr_redact.h"
#include "lr_rec.h"
#include "lr_request.h"
#include "lr_serve.h"
#include "lr_shim.h"
#include "lr_url.h"
#include "lr_view.h"
#include "lr_xsink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sys/socket.h>



lr_conn *lr_conn_new(int kind, int fd, void *tls, const lr_conn_io *io)
{
	lr_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->rmu, NULL);
	c->fds[0] = fd;
	c->nfds = fd >= 0;
	c->refs = 1;
	c->kind = kind;
	c->fd = fd;
	c->tls = tls;
	c->io = io;
	lr_http_framer_init(&c->fr);
	lr_http_resp_init(&c->rs);
	return c;
}

int lr_conn_wanted(void)
{
	const lr_table *t;
	const char *a;

	if (lr_disabled())
		return 0;
	t = lr_view_acquire();
	lr_view_release(t);
	if (t)
		return 1;
	a = secure_getenv("LLMROUTE_AUDIT");
	return a && *a;
}

/* --- the pending queue: requests sent, answers not yet complete ---------- */

static lr_conn_pending *q_front(lr_conn *c)
{
	return c->qn ? &c->q[c->qh] : NULL;
}

static void q_pop(lr_conn *c)
{
	c->qh = (c->qh + 1) % LR_CONN_PENDING;
	c->qn--;
}

/* Ends every record in flight (the connection ended or is no longer framed). */
static void q_drain(lr_conn *c, const char *why)
{
	lr_conn_pending *e;

	while ((e = q_front(c)) && !e->deny) {
		lr_rec_end(e->rec, 0, why);
		q_pop(c);
	}
}

/* Queues a request just sent (write side: takes rmu).  A full queue (a
 * client pipelining more than LR_CONN_PENDING requests) stops pairing
 * answers for good. */
static void q_push_locked(lr_conn *c, struct lr_rec *rec, int no_body, int deny);

static void q_push(lr_conn *c, struct lr_rec *rec, int no_body, int deny)
{
	pthread_mutex_lock(&c->rmu);
	q_push_locked(c, rec, no_body, deny);
	pthread_mutex_unlock(&c->rmu);
}

static void q_push_locked(lr_conn *c, struct lr_rec *rec, int no_body, int deny)
{
	lr_conn_pending *e;

	if (c->resp_off || c->qn == LR_CONN_PENDING) {
		if (!c->resp_off)
			q_drain(c, "unpaired");
		c->resp_off = 1;
		lr_rec_end(rec, 0, "unpaired"); /* recorded, though its answer is not read */
		if (!deny)
			return;
	}
	e = &c->q[(c->qh + c->qn) % LR_CONN_PENDING];
	e->rec = rec;
	e->no_body = no_body;
	e->deny = deny;
	c->qn++;
}

void lr_conn_free(lr_conn *c)
{
	if (!c)
		return;
	q_drain(c, "incomplete");
	lr_serve_conn_free(c);
	lr_http_framer_free(&c->fr);
	free(c->out);
	free(c->inject);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->rmu);
	free(c);
}

/* --- sending our own bytes ------------------------------------------------- */

static int pending(const lr_conn *c)
{
	return c->out_off < c->out_len;
}

/* Sends as much of the outbox as the transport takes now.  Returns 0 (all
 * sent, or it would block: pending() says which), or -1 with errno when
 * the connection failed (it is then switched off). */
static int flush(lr_conn *c)
{
	ssize_t r;

	while (c->out_off < c->out_len) {
		r = c->io->send(c, c->out + c->out_off, c->out_len - c->out_off);
		if (r > 0)
			c->out_off += (size_t)r;
		else if (r < 0 && errno == EINTR)
			continue;
		else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0; /* kept, the very same bytes at the same address */
		else
			goto broken;
	}
	c->out_len = c->out_off = 0;
	return 0;
broken:
	if (r == 0)
		errno = EIO;
	lr_log(LR_LOG_DEBUG, "connection failed while sending a held request: %s", strerror(errno));
	c->out_len = c->out_off = 0;
	c->state = LR_CONN_OFF;
	return -1;
}

static int out_add(lr_conn *c, const char *p, size_t n)
{
	char *o;

	if (!n)
		return 0;
	o = realloc(c->out, c->out_len + n);
	if (!o)
		return LR_ENOMEM;
	memcpy(o + c->out_len, p, n);
	c->out = o;
	c->out_len += n;
	return 0;
}

/* Sends what the framer holds, as the app wrote it. */
static int release_held(lr_conn *c)
{
	lr_span h = lr_http_held(&c->fr);

	c->unsent = 0;
	if (out_add(c, h.p, h.len) < 0) {
		errno = ENOMEM;
		c->state = LR_CONN_OFF;
		return -1;
	}
	return flush(c);
}

/* --- deciding ---------------------------------------------------------------- */

/* Every request of c is the shim's to carry: served from now on, or a
 * claimed connection with no host behind it. */
static int ours(const lr_conn *c)
{
	return c->served || c->claimed;
}

static int method_is(const lr_http_req *q, const char *m)
{
	return q->method.len == strlen(m) && memcmp(q->method.p, m, q->method.len) == 0;
}

/* The URL the app meant: scheme, the Host it wrote (or the peer), target. */
/* buf[0..n) as libcurl would send it and routes match it (lr_url.h): the
 * target and Host spelled otherwise ("/v1//chat/./completions",
 * "Host: 127.0.0.%31") are matched as the server will read them. */
static int canon_in_place(char *buf, size_t n, size_t cap)
{
	char *tmp = malloc(cap);
	int rc = tmp ? lr_url_canon(buf, n, tmp, cap) : LR_ENOMEM;

	if (rc >= 0)
		memcpy(buf, tmp, (size_t)rc + 1);
	free(tmp);
	return rc;
}

static int app_url(const lr_conn *c, char *buf, size_t cap)
{
	const lr_http_req *q = &c->fr.req;
	const char *scheme = c->kind == LR_CONN_TLS ? "https" : "http";
	int n;

	if (q->target.len >= 7 && (strncasecmp(q->target.p, "http://", 7) == 0 ||
				   strncasecmp(q->target.p, "https://", 8) == 0))
		n = snprintf(buf, cap, "%.*s", (int)q->target.len, q->target.p);
	else if (q->target.len && q->target.p[0] == '/' && q->host.p && q->host.len)
		n = snprintf(buf, cap, "%s://%.*s%.*s", scheme, (int)q->host.len, q->host.p,
			     (int)q->target.len, q->target.p);
	else if (q->target.len && q->target.p[0] == '/' && c->peer[0])
		n = snprintf(buf, cap, "%s://%s%.*s", scheme, c->peer, (int)q->target.len, q->target.p);
	else
		return LR_ENOTFOUND;
	if (n <= 0 || (size_t)n >= cap)
		return LR_ETOOBIG;
	return lr_url_canon_needed(buf, (size_t)n) ? canon_in_place(buf, (size_t)n, cap) : n;
}

/* Does the route send requests where this connection really goes? */
static int route_fits(const lr_conn *c, const lr_table *t, const lr_route *r)
{
	const char *h = lr_table_str(t, r->ep_host), *s = lr_table_str(t, r->ep_scheme);

	return r->set_endpoint.off && h && s && strcasecmp(s, "http") == 0 &&
	       strcasecmp(h, c->ep_host) == 0 && (int)r->ep_port == c->ep_port;
}

/*
 * The decision for a request on a redirected connection: the connection
 * already goes to the endpoint of the route that claimed it, so a request
 * is handled by its own route if that one denies or sends to the same
 * endpoint, and otherwise by the claiming route.  Returns 0, or
 * LR_ENOTFOUND when the claiming route is gone or now points elsewhere.
 */
static int redirected_decision(const lr_conn *c, const lr_table *t, lr_decision *d)
{
	int i;

	if (d->action == LR_ACTION_DENY || (d->route && route_fits(c, t, d->route)))
		return 0;
	i = lr_table_find(t, c->route);
	if (i < 0 || !route_fits(c, t, &lr_table_routes(t)[i]))
		return LR_ENOTFOUND;
	d->index = i;
	d->route = &lr_table_routes(t)[i];
	d->action = LR_ACTION_ROUTE;
	return 0;
}

/* The one decision chain (lr_engine.h), with the shim's live numbers. */
static int engine_decide(const lr_table *t, lr_request *r, const char *body, size_t blen, int unread,
			 lr_decision *d)
{
	lr_engine_ctx cx = {t, lr_view_intents(t), lr_rec_live(t), (long long)time(NULL)};

	return lr_engine_decide(&cx, r, body, blen, unread, d, NULL);
}

typedef struct {
	const lr_table *t;
	lr_decision d;
	lr_plan p;
	int have_plan;
	size_t ulen;
	const char *body;      /* the body sent (the rewritten one, once rewritten) */
	size_t blen;
	const char *app_body;  /* the app's */
	size_t app_blen;
	lr_redact_map rm;      /* a redacted request's values, until served */
	/* not cleared by job_new: lr_request_init_as sets r up, url is written
	 * before it is read (17 KB a request need not zero) */
	lr_request r;
	char url[8192];
} job;

static job *job_new(void)
{
	job *j = malloc(sizeof(*j));

	if (j) {
		memset(j, 0, offsetof(job, r));
		j->url[0] = '\0';
	}
	return j;
}

/* The edits plan p asks for, as lr_http_rewrite takes them. */
static int edits_of(const lr_plan *p, lr_http_edits *e, char *body_new, size_t body_new_len,
		    char *hostbuf, size_t hcap, char *auth, size_t acap)
{
	lr_url u;

	memset(e, 0, sizeof(*e));
	e->cred = p->cred;
	e->moved = p->host_changed;
	if (p->url) {
		if (lr_url_parse(p->url, strlen(p->url), &u) < 0)
			return LR_EPARSE;
		e->target.p = u.path;
		e->target.len = (size_t)(p->url + u.end - u.path);
		if (!e->target.len) {
			e->target.p = "/";
			e->target.len = 1;
		}
		if (p->host_changed) {
			lr_plan_host(p, hostbuf, hcap);
			e->host.p = hostbuf;
			e->host.len = strlen(hostbuf);
		}
	}
	if (body_new) {
		e->body.p = body_new;
		e->body.len = body_new_len;
	}
	if (p->cred == LR_CRED_REPLACE) {
		e->auth_name = lr_plan_auth(p, auth, acap);
		e->auth_value = auth;
	}
	return 0;
}

/* A plan whose target speaks another format: the body to send (*nb, the
 * app's or lr_plan_body's) translated in place, p's URL the target's, and
 * the headers that format needs in e.  0, or < 0 with *why; a request the
 * target cannot honour also says why in refusal (when not NULL), for the
 * app's 400. */
static int xlate_body(lr_plan *p, const lr_request *r, const char *body, size_t blen, char **nb, size_t *nbl,
		      lr_http_edits *e, char *refusal, int *why)
{
	lr_xlate_req xr;
	int rc, i;

	*why = LR_UNAPPLIED_XLATE;
	if (!p->xapp)
		return LR_EINVAL;
	rc = lr_plan_xlate(p, r, *nb ? *nb : body, *nb ? *nbl : blen, &xr);
	if (rc < 0) {
		if ((rc == LR_EINVAL || rc == LR_EPARSE) && refusal)
			snprintf(refusal, LR_XLATE_MAX_MSG, "%s", xr.refusal[0] ? xr.refusal : "llmroute cannot translate this request");
		*why = rc == LR_ENOMEM ? LR_UNAPPLIED_NOMEM : LR_UNAPPLIED_XLATE;
		return rc;
	}
	free(*nb);
	*nb = xr.body.p; /* ours now */
	*nbl = xr.body.len;
	e->drop = lr_plan_xlate_drops_header;
	for (i = 0; i < xr.nheaders && i < (int)(sizeof(xr.headers) / sizeof(xr.headers[0])) &&
		    i < (int)(sizeof(e->add) / sizeof(e->add[0])); i++) {
		e->add[i].name = xr.headers[i].name; /* static strings */
		e->add[i].value = xr.headers[i].value;
	}
	e->nadd = i;
	*why = LR_UNAPPLIED_NONE;
	return 0;
}

/* What a served step's answer is translated with (plan p after
 * lr_plan_xlate), or NULL (none, or no memory: the caller checks p). */
static struct lr_xsink_cfg *xcfg_of(const lr_plan *p, const lr_request *r)
{
	lr_xsink_cfg cfg;

	if (!p->xtarget)
		return NULL;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.model, sizeof(cfg.model), "%s", p->model ? p->model : r->model);
	lr_plan_xlate_ctx(p, NULL, &cfg.cx);
	cfg.stream = p->xstream;
	return lr_xsink_cfg_dup(&cfg);
}

/* A redacted answer is restored as it came: an encoding asked by the app
 * would hide the placeholders from the restore. */
static int drops_encoding(const char *name, size_t n)
{
	return n == 15 && strncasecmp(name, "accept-encoding", 15) == 0;
}

/* A redacting route with findings of its kinds (issue 20): the body with
 * placeholders (*red, malloc'ed) and the values in *rm, when the answer
 * can be restored (rm not NULL: the shim's own client carries it, and a
 * stream is of a format lr_redact_stream reads).  0 (nothing to redact),
 * 1, or < 0 with *why (cannot_restore_redacted: nothing half-done). */
static int redact_of(const lr_decision *d, const lr_request *r, const lr_plan *p, const char *body, size_t blen,
		     lr_redact_map *rm, char **red, size_t *rlen, int *why)
{
	int fmt = p->xtarget ? p->xapp : lr_xlate_format(r->det.format, r->det.operation), rc;

	*red = NULL;
	if (!(d->route->guard_redact & r->guard.mask))
		return 0;
	*why = LR_UNAPPLIED_GUARD;
	if (!rm || !body || (r->f.num[LR_F_STREAM - LR_F_NUM] && fmt == LR_XF_NONE))
		return LR_EINVAL;
	rc = lr_redact_body(body, blen, &r->guard, d->route->guard_redact, rm, red, rlen);
	if (rc <= 0)
		return rc < 0 ? rc : LR_EINVAL; /* a finding not located: no half redaction */
	*why = LR_UNAPPLIED_NONE;
	return 1;
}

/* The held request as decision d and plan p of table t send it: *out
 * (head and body, malloc'ed), and the new body in *nb (NULL: the app's).
 * A redacting route's values go to *rm (NULL: it cannot be restored
 * here).  0, or < 0 with *why (LR_UNAPPLIED_*) and *rm empty; a
 * translation the target cannot honour fills refusal (LR_XLATE_MAX_MSG
 * bytes, or NULL). */
static int build(lr_conn *c, const lr_table *t, const lr_decision *d, const lr_request *r, lr_plan *p,
		 const char *body, size_t blen, char **out, size_t *outlen, char **nb, size_t *nbl, int *why,
		 char *refusal, lr_redact_map *rm)
{
	char host[300], auth[4200], *red = NULL;
	size_t rlen = 0;
	lr_http_edits e, xe;
	int rc;

	*nb = NULL;
	*nbl = 0;
	auth[0] = '\0';
	memset(&xe, 0, sizeof(xe));
	if ((rc = redact_of(d, r, p, body, blen, rm, &red, &rlen, why)) < 0)
		return rc;
	if (red) { /* everything after works on the placeholders */
		body = red;
		blen = rlen;
	}
	rc = lr_plan_body(t, d, r, p, body, blen, nb, nbl);
	if (rc < 0 && rc != LR_ENOTFOUND) {
		*why = lr_unapplied_of(rc, 1);
		goto out;
	}
	if (red && !*nb) { /* the placeholders are the only change */
		*nb = red;
		*nbl = rlen;
		red = NULL;
	}
	if (p->xtarget && (rc = xlate_body(p, r, body, blen, nb, nbl, &xe, refusal, why)) < 0)
		goto out;
	rc = edits_of(p, &e, *nb, *nbl, host, sizeof(host), auth, sizeof(auth));
	e.drop = xe.drop ? xe.drop : rm && rm->n ? drops_encoding : NULL;
	memcpy(e.add, xe.add, sizeof(e.add));
	e.nadd = xe.nadd;
	if (rc == 0)
		rc = lr_http_rewrite(&c->fr.head, *nb ? *nb : body, *nb ? *nbl : blen, &e, out, outlen);
	explicit_bzero(auth, strnlen(auth, sizeof(auth))); /* a key, when one was put there */
	if (rc < 0)
		*why = lr_unapplied_of(rc, 0);
out:
	free(red);
	if (rc < 0) {
		free(*nb);
		*nb = NULL;
		if (rm)
			lr_redact_free(rm);
	}
	return rc;
}

/* Rewrites the held request into the outbox (redacted into j->rm when
 * restorable).  0, or < 0 (nothing queued) with *why (LR_UNAPPLIED_*). */
static int rewrite(lr_conn *c, job *j, int *why, char *refusal, int restorable)
{
	char *nb = NULL, *out = NULL;
	size_t nbl = 0, outlen = 0;
	int rc = build(c, j->t, &j->d, &j->r, &j->p, j->app_body, j->app_blen, &out, &outlen, &nb, &nbl, why,
		       refusal, restorable ? &j->rm : NULL);

	if (rc < 0)
		return rc;
	free(c->out); /* the outbox is empty between calls */
	c->out = out;
	c->out_len = outlen;
	c->out_off = 0;
	if (nb) {
		j->body = nb;
		j->blen = nbl;
	}
	return 0;
}

/* The app will read our answer (after the answers to earlier requests),
 * and nothing more goes out on this connection. */
static void refuse_with(lr_conn *c, char *resp, size_t n);

static void refuse(lr_conn *c, int status, const char *code, const char *msg)
{
	char *resp = NULL;
	size_t n = 0;

	lr_http_error_response(status, code, msg, &resp, &n);
	refuse_with(c, resp, n);
}

/* The same with the answer resp (n bytes, malloc'ed: taken; NULL: none). */
static void refuse_with(lr_conn *c, char *resp, size_t n)
{
	c->state = LR_CONN_DENIED;
	c->unsent = c->holding = c->passing = 0; /* what we held never goes */
	pthread_mutex_lock(&c->rmu);
	if (resp) {
		c->inject = resp;
		c->inject_len = n;
	}
	q_push_locked(c, NULL, 0, 1);
	pthread_mutex_unlock(&c->rmu);
	if (c->served) /* our end closes after the answers before it */
		lr_serve_shut(c);
	else if (c->io->shut) /* the server closes: a poller wakes up to read our answer */
		c->io->shut(c);
	if (c->claimed && !c->served) /* and the shim's TLS endpoint says no more after it */
		lr_claim_shut(lr_ssl_fd(c->tls));
}

/* A request on a redirected connection that no route rewrites still goes
 * to the endpoint: Host made right, and never with the app's key.  Queues
 * it in the outbox; 0 or < 0. */
static int redirect_only_into(lr_conn *c, char **outp, size_t *outlenp)
{
	char host[300], *out = NULL, *target = NULL;
	size_t outlen = 0, tlen = 0;
	lr_span body = {0};
	lr_http_edits e = {.cred = LR_CRED_DROP, .moved = 1};
	lr_plan p = {.cred = LR_CRED_DROP, .host_changed = 1};
	int rc;

	snprintf(host, sizeof(host), "%s:%d", c->ep_host, c->ep_port);
	e.host.p = host;
	e.host.len = strlen(host);
	rc = lr_plan_strip_query(&p, c->fr.req.target.p, c->fr.req.target.len, &target, &tlen);
	if (rc > 0) {
		e.target.p = target;
		e.target.len = tlen;
	}
	if (rc >= 0 && (rc = lr_http_body(&c->fr, &body)) >= 0)
		rc = lr_http_rewrite(&c->fr.head, body.p, body.len, &e, &out, &outlen);
	free(target);
	*outp = out;
	*outlenp = outlen;
	return rc < 0 ? rc : 0;
}

static int redirect_only(lr_conn *c)
{
	char *out = NULL;
	size_t outlen = 0;
	int rc = redirect_only_into(c, &out, &outlen);

	if (rc < 0)
		return rc;
	free(c->out);
	c->out = out;
	c->out_len = outlen;
	c->out_off = 0;
	return 0;
}

/* A request on a redirected connection that cannot be sent safely. */
static int refuse_unsafe(lr_conn *c)
{
	refuse(c, 503, "llmroute_no_route",
	       "llmroute: this connection was redirected and the request could not be sent safely");
	return 0;
}

static void deny(lr_conn *c, const lr_table *t, job *j, int unread)
{
	char msg[1024];

	lr_engine_deny_message(t, &j->d, unread, msg, sizeof(msg));
	lr_log(LR_LOG_INFO, "%s (model %s)", msg, j->r.model[0] ? j->r.model : "(none)");
	lr_rec_denied(t, &j->r, &j->d, j->blen, c->kind == LR_CONN_TLS ? "tls" : "socket");
	refuse(c, 403, "llmroute_denied", msg);
}

/* Where a request went that no route rewrote: the app's URL, or on a
 * redirected connection the endpoint (redirect_only), into *moved (the
 * caller frees it; NULL when short of memory: the app's URL then). */
static const char *unrouted_url(const lr_conn *c, const job *j, char **moved)
{
	const char *path = c->fr.req.target.p;
	size_t plen = c->fr.req.target.len, cap;
	lr_url u;

	*moved = NULL;
	if (!c->redirected)
		return j->url;
	if (lr_url_parse(j->url, j->ulen, &u) == 0) {
		path = u.path;
		plen = (size_t)(j->url + u.end - u.path);
	}
	cap = plen + strlen(c->ep_host) + 32;
	if (!(*moved = malloc(cap)))
		return j->url;
	snprintf(*moved, cap, "http://%s:%d%.*s", c->ep_host, c->ep_port, (int)plen, path);
	return *moved;
}

static const char *transport_of(const lr_conn *c)
{
	return c->kind == LR_CONN_TLS ? "tls" : "socket";
}

/* A request that goes as the app made it (de-chunked), into *out, and
 * where: the app's URL, on its own host (*app_host: pinned to the address
 * the app connected to); on a redirected connection, the claiming route's
 * endpoint, as redirect_only makes it (never with the app's key).  *url is
 * malloc'ed.  0, or < 0. */
static int as_made(lr_conn *c, const char *app_url, char **out, size_t *outlen, char **url, int *app_host)
{
	lr_http_edits e = {.cred = LR_CRED_KEEP};
	lr_span body = {0};
	const char *t, *te;
	size_t cap;
	int rc;

	*url = NULL;
	*app_host = !c->redirected;
	if (!c->redirected) {
		rc = lr_http_body(&c->fr, &body);
		if (rc >= 0)
			rc = lr_http_rewrite(&c->fr.head, body.p, body.len, &e, out, outlen);
		if (rc >= 0 && !(*url = strdup(app_url)))
			rc = LR_ENOMEM;
		return rc;
	}
	if ((rc = redirect_only_into(c, out, outlen)) < 0)
		return rc;
	/* its target as rewritten (credential parameters gone) */
	if (!(t = memchr(*out, ' ', *outlen)) || !(te = memchr(t + 1, ' ', *outlen - (size_t)(t + 1 - *out))))
		return LR_EPARSE;
	cap = strlen(c->ep_host) + (size_t)(te - t) + 32;
	if (!(*url = malloc(cap)))
		return LR_ENOMEM;
	snprintf(*url, cap, "http://%s:%d%.*s", c->ep_host, c->ep_port, (int)(te - t - 1), t + 1);
	return 0;
}

/* Step i of a resilient route's chain, as the table says now. */
static int chain_step(lr_conn *c, job *j, const lr_attempt *a, int i, lr_serve_step *st)
{
	lr_engine_ctx cx = {j->t, lr_view_intents(j->t), NULL, 0};
	lr_request r = j->r;
	lr_decision d;
	lr_plan p;
	char *nb = NULL;
	size_t nbl = 0;
	int rc, why;

	rc = lr_engine_decide_step(&cx, &r, j->app_body, j->app_blen, a->route, a->step[i], &d);
	if (rc < 0)
		return rc;
	if (d.action == LR_ACTION_PASS) {
		if ((rc = as_made(c, j->url, &st->raw, &st->raw_len, &st->url, &st->app_host)) < 0)
			return rc;
		st->rec = lr_rec_begin(j->t, &r, &d, NULL, st->url, j->app_body, j->app_blen, transport_of(c));
		return 0;
	}
	if (lr_plan_make(j->t, &d, &r.det, j->url, j->ulen, secure_getenv, &p) < 0)
		return LR_ENOMEM;
	rc = build(c, j->t, &d, &r, &p, j->app_body, j->app_blen, &st->raw, &st->raw_len, &nb, &nbl, &why, NULL,
		   NULL);
	if (rc == 0 && !(st->url = strdup(p.url ? p.url : j->url)))
		rc = LR_ENOMEM;
	if (rc == 0 && p.xtarget && !(st->xlate = xcfg_of(&p, &r)))
		rc = LR_ENOMEM;
	st->app_host = !p.host_changed && !c->redirected;
	if (rc == 0)
		st->rec = lr_rec_begin(j->t, &r, &d, &p, st->url, nb ? nb : j->app_body, nb ? nbl : j->app_blen,
				       transport_of(c));
	free(nb);
	lr_plan_free(&p);
	return rc;
}

static void job_free(lr_serve_job *sj)
{
	int i;

	for (i = 0; i < sj->nsteps; i++) {
		free(sj->steps[i].raw);
		free(sj->steps[i].url);
		lr_xsink_cfg_free(sj->steps[i].xlate);
		lr_rec_free(sj->steps[i].rec);
	}
	if (sj->attempts)
		lr_attempt_free(sj->attempts);
	memset(sj, 0, sizeof(*sj));
}

/* Whether the answer may be cached: the route caches, and the body sent
 * has a temperature it allows. */
static void cache_of(const lr_table *t, const job *j, lr_serve_job *sj)
{
	const lr_route *rt = j->d.route;
	lr_extract x;

	if (!rt->cache_ttl_s)
		return;
	if (rt->cache_max_temperature >= 0 &&
	    (!j->body || lr_extract_body(j->body, j->blen, &x) < 0 || x.temperature < 0 ||
	     x.temperature > rt->cache_max_temperature))
		return;
	sj->cache_ttl_s = rt->cache_ttl_s;
	sj->cache_max_entry = (size_t)t->cache_max_entry_kb << 10;
	sj->cache_size = (size_t)t->cache_size_mb << 20;
}

/* Step st's answer gets the values of *rm back (taken), after its
 * translation if any (lr_xsink.h).  0, or < 0 (rm freed). */
static int restore_of(lr_serve_step *st, const lr_request *r, lr_redact_map *rm)
{
	lr_xsink_cfg cfg;

	if (st->xlate) { /* the restore reads the app's format, after the translation */
		st->xlate->app_fmt = st->xlate->cx.app;
		st->xlate->rm = *rm;
		memset(rm, 0, sizeof(*rm));
		return 0;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.identity = 1;
	cfg.stream = r->f.num[LR_F_STREAM - LR_F_NUM] != 0;
	cfg.app_fmt = lr_xlate_format(r->det.format, r->det.operation);
	cfg.rm = *rm;
	memset(rm, 0, sizeof(*rm));
	if (!(st->xlate = lr_xsink_cfg_dup(&cfg))) {
		lr_redact_free(&cfg.rm);
		return LR_ENOMEM;
	}
	return 0;
}

/* Hands the request in the outbox (step 0: where decision j->d sends it;
 * j NULL: not an LLM request) to the shim's own client (lr_serve.h), with
 * its audit record, and for a resilient route every later step of its
 * chain.  1 when it is ours to answer (the outbox is then empty), 0 when
 * it cannot be (nothing changed but the outbox, which the caller empties). */
static int serve_out(lr_conn *c, const lr_table *t, job *j, const lr_plan *p, const char *url, int why,
		     int app_host)
{
	lr_attempt_env env;
	lr_serve_job sj;
	lr_attempt a;
	int i, ok = 1;

	memset(&sj, 0, sizeof(sj));
	sj.no_body = method_is(&c->fr.req, "HEAD");
	if (!(sj.steps[0].url = strdup(url)))
		return 0;
	sj.steps[0].app_host = app_host;
	sj.nsteps = 1;
	if ((p && p->xtarget && !(sj.steps[0].xlate = xcfg_of(p, &j->r))) ||
	    (j && j->rm.n && restore_of(&sj.steps[0], &j->r, &j->rm) < 0)) {
		free(sj.steps[0].url);
		lr_xsink_cfg_free(sj.steps[0].xlate);
		if (j)
			lr_redact_free(&j->rm);
		return 0;
	}
	if (j) {
		sj.steps[0].rec = lr_rec_begin(t, &j->r, &j->d, p, url, j->body, j->blen, transport_of(c));
		lr_rec_unapplied(sj.steps[0].rec, t, why);
	}
	sj.health = (lr_health_cfg){t ? t->health_failures : 0, t ? t->health_cooldown_s : 0,
				    t ? t->health_cooldown_min_s : 0};
	lr_rec_health_env(&env, &sj.health); /* ud moves with the chain (lr_serve_start) */
	if (j && (p || j->d.action == LR_ACTION_PASS) && lr_attempt_wanted(&j->d) &&
	    lr_attempt_init(&a, t, &j->d, &env, &j->r, lr_rec_wants_stream(&j->r, j->app_body, j->app_blen)) == 0) {
		sj.attempts = &a;
		sj.nsteps = lr_attempt_nsteps(&a);
		for (i = 1; i < sj.nsteps && ok; i++)
			ok = chain_step(c, j, &a, i, &sj.steps[i]) == 0;
		if (!ok) { /* the chain as the app would not have it: one step */
			lr_log(LR_LOG_ERROR, "route %s: its chain could not be prepared: one attempt", a.route);
			for (i = 1; i < sj.nsteps; i++) {
				free(sj.steps[i].raw);
				free(sj.steps[i].url);
				lr_xsink_cfg_free(sj.steps[i].xlate);
				lr_rec_free(sj.steps[i].rec);
				memset(&sj.steps[i], 0, sizeof(sj.steps[i]));
			}
			sj.nsteps = 1;
			lr_attempt_free(&a);
			sj.attempts = NULL;
		}
	}
	if (sj.attempts)
		cache_of(t, j, &sj);
	sj.steps[0].raw = c->out;
	sj.steps[0].raw_len = c->out_len;
	c->out = NULL;
	c->out_len = c->out_off = 0;
	if (lr_serve_start(c, &sj) < 0) {
		c->out = sj.steps[0].raw; /* back to the caller; the values go with the job */
		c->out_len = sj.steps[0].raw_len;
		sj.steps[0].raw = NULL;
		job_free(&sj);
		return 0;
	}
	q_push(c, NULL, sj.no_body, 0); /* recorded by lr_serve; framed here */
	return 1;
}

static void out_clear(lr_conn *c)
{
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
}

/* A request that goes as the app made it (as_made), on a connection the
 * shim serves, through the shim's client.  1 when served. */
static int serve_as_is(lr_conn *c, const lr_table *t, job *j, const char *app_url, int why)
{
	char *out = NULL, *url = NULL;
	size_t outlen = 0;
	int app_host, ok;

	if (as_made(c, app_url, &out, &outlen, &url, &app_host) < 0) {
		free(out);
		free(url);
		return 0;
	}
	out_clear(c);
	c->out = out;
	c->out_len = outlen;
	ok = serve_out(c, t, j, NULL, url, why, app_host);
	free(url);
	if (!ok)
		out_clear(c);
	return ok;
}

/* A served connection cannot send anything itself any more. */
static void refuse_unserved(lr_conn *c)
{
	refuse(c, 502, "llmroute_unserved",
	       "llmroute: this connection is carried by llmroute and the request could not be sent");
}

/* A request that is not an LLM API request, on a served connection. */
static int serve_unknown(lr_conn *c, job *j)
{
	char url[8192];

	free(j);
	if (app_url(c, url, sizeof(url)) <= 0 || !serve_as_is(c, NULL, NULL, url, 0))
		refuse_unserved(c);
	return 0;
}

/* A request the route's target cannot honour: the app reads a 400 in its
 * own format's error shape saying which feature, and nothing is sent. */
static void refuse_xlate(lr_conn *c, job *j, const char *msg)
{
	lr_xbuf b = {0};
	char *resp;
	int n;

	lr_log(LR_LOG_INFO, "route %s: %s", lr_table_str(j->t, j->d.route->name), msg);
	if (lr_xlate_error_body(j->p.xapp, 400, msg, &b) < 0 ||
	    (n = asprintf(&resp, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
			  "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", b.len, b.p)) < 0) {
		lr_xbuf_free(&b);
		refuse(c, 400, "llmroute_cannot_translate", msg);
		return;
	}
	lr_xbuf_free(&b);
	refuse_with(c, resp, (size_t)n);
}

/* Applies the plan of a routed request, or says why not.  1 when the
 * rewritten request is in the outbox, 2 when the shim serves it, 4 when
 * the app was refused (a translation the target cannot honour). */
static int apply_plan(lr_conn *c, const lr_table *t, job *j, int *why)
{
	int carrier = c->kind == LR_CONN_TLS ? LR_CARRIER_TLS :
		      c->redirected ? LR_CARRIER_SOCKET_MOVED : LR_CARRIER_SOCKET;
	int cannot = lr_plan_carried(&j->p, carrier);
	/* a redacted answer is restored by the shim's own client, but not
	 * through a resilient chain (its steps are not redacted) */
	int redact = (j->d.route->guard_redact & j->r.guard.mask) && !lr_attempt_wanted(&j->d);
	/* where the connection cannot go, the shim's own client can; and a
	 * translated or redacted answer can only come through it */
	int serve = (cannot == LR_UNAPPLIED_TLS_HOST || cannot == LR_UNAPPLIED_SOCKET_HOST || ours(c) ||
		     (!cannot && (lr_attempt_wanted(&j->d) || j->p.xtarget || redact))) &&
		    (c->served || lr_serve_possible(c));
	char refusal[LR_XLATE_MAX_MSG] = "";

	if (j->p.xtarget && !cannot && !serve)
		cannot = c->kind == LR_CONN_TLS ? LR_UNAPPLIED_TLS_HOST : LR_UNAPPLIED_SOCKET_HOST;
	*why = cannot;
	if (c->claimed && !serve) /* nothing behind a claimed connection but the shim */
		*why = cannot ? cannot : LR_UNAPPLIED_REWRITE;
	if (*why && !serve)
		return 0;
	if (rewrite(c, j, why, refusal, serve && redact) < 0) {
		if (!refusal[0])
			return 0;
		refuse_xlate(c, j, refusal); /* the app's own 400, as its provider would */
		*why = LR_UNAPPLIED_NONE;
		return 4;
	}
	if (j->p.key_missing)
		lr_log(LR_LOG_ERROR, "route key variable $%s is not set (or not a valid header value): %s",
		       j->p.key_env, j->p.host_changed ? "sending no key" : "keeping the app's key");
	if (serve) {
		if (serve_out(c, t, j, &j->p, j->p.url ? j->p.url : j->url, 0, !j->p.host_changed && !c->redirected)) {
			*why = LR_UNAPPLIED_NONE;
			return 2;
		}
		out_clear(c);
		if (j->body != j->app_body) /* sent as the app made it, if at all */
			free((char *)j->body);
		j->body = j->app_body;
		j->blen = j->app_blen;
		*why = cannot ? cannot : redact ? LR_UNAPPLIED_GUARD : LR_UNAPPLIED_REWRITE;
		lr_redact_free(&j->rm);
		return 0;
	}
	return 1;
}

/* Decides and sends (or refuses) the complete held request.  Returns 0 or
 * -1 with errno (sending failed). */
static int decide_held(lr_conn *c)
{
	const char *transport = c->kind == LR_CONN_TLS ? "tls" : "socket";
	const lr_table *t;
	struct lr_rec *rec = NULL;
	lr_span body = {0};
	job *j;
	int n, routed = 0, why = LR_UNAPPLIED_NONE, no_body = method_is(&c->fr.req, "HEAD"), unread;
	const char *sent_url;
	char *moved = NULL;

	c->holding = 0;
	c->unsent = 0; /* from here on, sent, refused or released */
	j = job_new();
	if (!j || lr_http_body(&c->fr, &body) < 0 || (n = app_url(c, j->url, sizeof(j->url))) < 0 ||
	    lr_request_init_as(&j->r, j->url, (size_t)n, body.p, body.len, lr_process_name(), 0) < 0) {
		if (ours(c)) /* not an LLM request: still ours to carry */
			return serve_unknown(c, j);
		free(j);
		q_push(c, NULL, no_body, 0);
		if (c->redirected && redirect_only(c) < 0)
			return refuse_unsafe(c);
		return c->redirected ? flush(c) : release_held(c);
	}
	j->ulen = (size_t)n;
	j->body = j->app_body = body.p;
	j->blen = j->app_blen = body.len;
	t = lr_view_acquire();
	j->t = t;
	unread = engine_decide(t, &j->r, body.p, body.len, 0, &j->d);
	if (c->redirected && redirected_decision(c, t, &j->d) < 0) {
		lr_log(LR_LOG_ERROR, "route %s that redirected this connection is gone or moved: "
		       "request sent to %s:%d without the app's key", c->route, c->ep_host, c->ep_port);
		j->d.action = LR_ACTION_NONE;
		j->d.route = NULL;
		j->d.index = -1;
	}
	if (j->d.action == LR_ACTION_DENY) {
		deny(c, t, j, unread);
		lr_view_release(t);
		free(j);
		return 0;
	}
	if (j->d.action == LR_ACTION_ROUTE) {
		if (lr_plan_make(t, &j->d, &j->r.det, j->url, j->ulen, secure_getenv, &j->p) == 0) {
			j->have_plan = 1;
			routed = apply_plan(c, t, j, &why);
		} else {
			why = LR_UNAPPLIED_NOMEM;
		}
		if (why)
			lr_rec_log_unapplied(t, &j->d, &j->r, why, transport);
	}
	/* a route that passes the request as it is but names fallbacks, an
	 * escalation or a cache: its attempts need the shim's own client */
	if (j->d.action == LR_ACTION_PASS && lr_attempt_wanted(&j->d) && !c->redirected && !ours(c) &&
	    lr_serve_possible(c) && serve_as_is(c, t, j, j->url, 0))
		routed = 3;
	if (routed >= 2 || (!routed && ours(c))) {
		/* the shim's own client carries it (routed, or as the app made
		 * it on a connection already served) */
		if (routed == 2)
			lr_rec_log_routed(t, &j->d, &j->r, j->p.model, j->p.url ? j->p.url : j->url, transport);
		else if (!routed && !serve_as_is(c, t, j, j->url, why))
			refuse_unserved(c);
		if (j->body != body.p)
			free((char *)j->body);
		if (j->have_plan)
			lr_plan_free(&j->p);
		lr_view_release(t);
		free(j);
		return 0;
	}
	if (!routed && c->redirected && redirect_only(c) < 0) {
		refuse_unsafe(c);
		if (j->have_plan)
			lr_plan_free(&j->p);
		lr_view_release(t);
		free(j);
		return 0;
	}
	sent_url = routed && j->p.url ? j->p.url : routed ? j->url : unrouted_url(c, j, &moved);
	if (routed)
		lr_rec_log_routed(t, &j->d, &j->r, j->p.model, sent_url, transport);
	rec = lr_rec_begin(t, &j->r, &j->d, routed ? &j->p : NULL, sent_url, j->body, j->blen, transport);
	lr_rec_unapplied(rec, t, why);
	free(moved);
	if (routed && j->body != body.p)
		free((char *)j->body);
	if (j->have_plan)
		lr_plan_free(&j->p);
	lr_view_release(t);
	free(j);
	q_push(c, rec, no_body, 0);
	return routed || c->redirected ? flush(c) : release_held(c);
}

/* An LLM request whose body the shim will not hold (too large, or
 * Expect: 100-continue): decided on what is known, and refused when a deny
 * could match whatever its body says (lr_request_guard).  Returns 1 if
 * refused. */
static int deny_unheld(lr_conn *c, const char *url, size_t n)
{
	const lr_table *t;
	job *j = job_new();
	int unread = 0, denied;

	if (!j || lr_request_init_as(&j->r, url, n, NULL, 0, lr_process_name(), 0) < 0) {
		free(j);
		return 0;
	}
	t = lr_view_acquire();
	unread = engine_decide(t, &j->r, NULL, 0, 1, &j->d);
	if ((denied = j->d.action == LR_ACTION_DENY))
		deny(c, t, j, unread);
	lr_view_release(t);
	free(j);
	return denied;
}

/* A head is complete (its body, if any, still to come). */
static int on_head(lr_conn *c)
{
	lr_detect d;
	char url[8192];
	int n = app_url(c, url, sizeof(url));

	if (n > 0 && lr_detect_url(url, (size_t)n, &d) == 0) {
		if (!c->fr.req.expect_continue && lr_http_hold(&c->fr) == 0) {
			c->holding = 1;
			return 0;
		}
		/* a redirected connection refuses it below anyway */
		if (!c->redirected && deny_unheld(c, url, (size_t)n))
			return 0;
	}
	if (c->redirected || ours(c)) {
		/* going to a host the app did not choose, or through the shim's
		 * own client: held and rewritten, or refused, never sent as written */
		if (c->fr.req.expect_continue)
			refuse(c, 417, "llmroute_expect",
			       "llmroute: Expect: 100-continue is not supported on a redirected connection");
		else if (n <= 0 || lr_http_hold(&c->fr) < 0)
			refuse(c, 413, "llmroute_too_large",
			       "llmroute: request too large to route on a redirected connection");
		else
			c->holding = 1;
		return 0;
	}
	q_push(c, NULL, method_is(&c->fr.req, "HEAD"), 0);
	c->passing = 1;
	return release_held(c);
}

/* The framer gave up on this connection: what it holds goes out as written
 * (never on a redirected one: held bytes may carry the app's key). */
static int give_up(lr_conn *c)
{
	lr_log(LR_LOG_DEBUG, "connection not framed as HTTP/1 (%d): passing it through", c->fr.stop);
	if (c->redirected || ours(c)) {
		refuse(c, 502, "llmroute_unframed",
		       "llmroute: a request on a redirected connection could not be parsed");
		return 0;
	}
	if (c->unsent && release_held(c) < 0)
		return -1;
	c->state = LR_CONN_OFF;
	pthread_mutex_lock(&c->rmu);
	q_drain(c, "unframed");
	c->resp_off = 1;
	pthread_mutex_unlock(&c->rmu);
	return 0;
}

/* One slice of app bytes.  Returns the bytes of it taken, or -1. */
static ssize_t write_slice(lr_conn *c, const char *p, size_t n)
{
	size_t off = 0, k;
	ssize_t r;
	int ev;

	while (off < n) {
		if (pending(c))
			return (ssize_t)off; /* our bytes first: see lr_conn_write */
		if (c->state == LR_CONN_DENIED)
			return (ssize_t)n; /* the app reads our refusal; its bytes go nowhere */
		if (c->state == LR_CONN_OFF || c->ahead) {
			k = c->state == LR_CONN_OFF ? n - off : (c->ahead < n - off ? c->ahead : n - off);
			if (c->kind == LR_CONN_TLS) { /* all or nothing: through the outbox */
				if (out_add(c, p + off, k) < 0 || flush(c) < 0)
					return off ? (ssize_t)off : -1;
				r = (ssize_t)k;
			} else {
				r = c->io->send(c, p + off, k);
				if (r < 0)
					return off ? (ssize_t)off : -1;
			}
			if (c->state != LR_CONN_OFF)
				c->ahead -= (size_t)r;
			off += (size_t)r;
			if ((size_t)r < k)
				return (ssize_t)off;
			continue;
		}
		if (!c->started) {
			int s = lr_http_sniff(p + off, n - off);
			if (s < 0 && c->redirected) {
				/* not HTTP/1 (h2, TLS, a stray byte): on its way to a
				 * host the app did not choose, it never goes */
				refuse(c, 502, "llmroute_unframed",
				       "llmroute: a redirected connection carries only HTTP/1 requests");
				continue;
			}
			if (s < 0) {
				c->state = LR_CONN_OFF;
				pthread_mutex_lock(&c->rmu);
				c->resp_off = 1;
				pthread_mutex_unlock(&c->rmu);
				continue;
			}
			c->started = 1;
		}
		r = lr_http_feed(&c->fr, p + off, n - off);
		if (r == LR_ETOOBIG && c->fr.stop == LR_HTTP_STOP_NONE && (c->redirected || ours(c))) {
			refuse(c, 413, "llmroute_too_large",
			       "llmroute: request too large to route on a redirected connection");
			continue;
		}
		if (r == LR_ETOOBIG && c->fr.stop == LR_HTTP_STOP_NONE) {
			/* a held body over the cap: send it unrouted */
			lr_log(LR_LOG_INFO, "request body over %zu bytes: sent unrouted", (size_t)LR_HTTP_MAX_BODY);
			c->holding = 0;
			c->passing = 1;
			q_push(c, NULL, 0, 0);
			if (release_held(c) < 0)
				return -1; /* what we held could not go: the app sees the failure */
			continue;
		}
		if (r < 0) {
			if (give_up(c) < 0)
				return -1; /* what we held could not go: the app sees the failure */
			continue;
		}
		ev = c->fr.ev;
		if (c->passing)
			c->ahead = (size_t)r; /* sent by the next turn, from the app's buffer */
		else if (r > 0) {
			c->unsent = 1;
			off += (size_t)r;
		}
		if ((ev & LR_HTTP_EV_DONE) && c->passing) {
			c->passing = 0;
		} else if (ev & LR_HTTP_EV_DONE) {
			if (!c->holding && lr_http_hold(&c->fr) == 0) /* a bodiless request */
				c->holding = 1;
			if (decide_held(c) < 0)
				return -1; /* what we held could not go: the app sees the failure */
		} else if (ev & LR_HTTP_EV_HEAD) {
			if (on_head(c) < 0)
				return -1; /* what we held could not go: the app sees the failure */
		}
	}
	return (ssize_t)off;
}

/*
 * The outbox (our bytes: a released head, a rewritten request) goes out
 * before anything else.  When the transport cannot take all of it now
 * (EAGAIN on a non-blocking socket, WANT_WRITE from OpenSSL), the app is
 * told so: the call fails with EAGAIN (TLS: -1, the session's own
 * WANT_WRITE) or, for a socket, returns what it took before.  The bytes of
 * this call that we took anyway are `owed`: the app sends them again, as
 * it must after a short write, and we skip them then.  So the app never
 * believes a request is on its way while part of it is still with us, and
 * OpenSSL retries the same record from the same buffer.
 */
ssize_t lr_conn_write(lr_conn *c, const struct iovec *iov, int iovcnt)
{
	size_t skipped = 0, taken = 0, k, n;
	const char *p;
	ssize_t r;
	int i;

	if (pending(c) && flush(c) < 0)
		return -1;
	if (pending(c)) {
		errno = EAGAIN;
		return -1;
	}
	for (i = 0; i < iovcnt; i++) {
		p = iov[i].iov_base;
		n = iov[i].iov_len;
		k = c->owed < n ? c->owed : n; /* sent by us already */
		c->owed -= k;
		skipped += k;
		p += k;
		n -= k;
		if (!n)
			continue;
		r = write_slice(c, p, n);
		if (r < 0) {
			if (skipped + taken == 0)
				return -1;
			break;
		}
		taken += (size_t)r;
		if ((size_t)r < n || pending(c))
			break;
	}
	if (pending(c)) {
		if (c->kind == LR_CONN_TLS || skipped == 0) {
			c->owed += skipped + taken; /* TLS retries the whole call */
			errno = EAGAIN;
			return -1;
		}
		c->owed += taken;
		return (ssize_t)skipped;
	}
	return (ssize_t)(skipped + taken);
}

/* Gives the connection's unsent bytes their last chance before the app's
 * descriptor goes (close) or bytes we cannot see follow (sendfile): the
 * outbox, then what the framer holds as written, never on a redirected
 * connection (held bytes there may carry the app's key).  With wait_ms,
 * waits for the socket as needed (bounded); else one non-blocking try. */
int lr_conn_done(const lr_conn *c)
{
	return c->state == LR_CONN_OFF && !pending(c) && c->owed == 0;
}

/* A held LLM request whose body we have not seen whole, about to go out
 * as written (bytes we cannot see follow it): could a deny match it? */
static int held_could_be_denied(lr_conn *c)
{
	char url[8192];
	int n;
	job *j;
	const lr_table *t;
	int deny;

	if (!c->holding || (n = app_url(c, url, sizeof(url))) <= 0 || !(j = job_new()))
		return 0;
	if (lr_request_init_as(&j->r, url, (size_t)n, NULL, 0, lr_process_name(), 0) < 0) {
		free(j);
		return 0;
	}
	t = lr_view_acquire();
	engine_decide(t, &j->r, NULL, 0, 1, &j->d);
	deny = j->d.action == LR_ACTION_DENY;
	lr_view_release(t);
	free(j);
	return deny;
}

int lr_conn_drain(lr_conn *c, int wait_ms)
{
	lr_span h;

	if ((c->redirected || ours(c)) && c->unsent)
		return -1;
	if (c->unsent && held_could_be_denied(c)) {
		lr_log(LR_LOG_INFO, "an LLM request a deny could match is followed by bytes the shim "
		       "cannot see (sendfile): the connection is shut");
		return -1;
	}
	if (c->unsent) {
		h = lr_http_held(&c->fr);
		c->unsent = 0;
		if (out_add(c, h.p, h.len) < 0)
			return -1;
	}
	while (pending(c)) {
		if (flush(c) < 0)
			return -1;
		if (pending(c) && (wait_ms <= 0 || c->io->wait(c, wait_ms) < 0))
			return -1;
	}
	return 0;
}

/* --- the read side ---------------------------------------------------------- */

static int resp_cb(void *ud, int ev, int status, const char *p, size_t n)
{
	lr_conn *c = ud;
	lr_conn_pending *e = q_front(c);

	if (!e || e->deny) /* an answer we did not ask for, or after our refusal */
		return 1;
	if (ev == LR_HTTP_RESP_HEAD)
		return !e->no_body;
	if (ev == LR_HTTP_RESP_BODY) {
		lr_rec_body(e->rec, p, n);
	} else {
		lr_rec_end(e->rec, status, NULL);
		q_pop(c);
	}
	return 1;
}

void lr_conn_read(lr_conn *c, const char *p, size_t n)
{
	if (n == 0) {
		c->eof = 1;
		if (!c->resp_off)
			lr_http_resp_eof(&c->rs, resp_cb, c);
		q_drain(c, "incomplete");
		return;
	}
	if (c->resp_off)
		return;
	if (lr_http_resp_feed(&c->rs, p, n, resp_cb, c) < 0) {
		c->resp_off = 1;
		q_drain(c, "unframed");
	}
}

size_t lr_conn_inject(lr_conn *c, void *buf, size_t cap, int peek)
{
	lr_conn_pending *e;
	size_t k;

	if (!c->inject)
		return 0;
	if (c->eof)
		q_drain(c, "incomplete");
	e = q_front(c);
	if (!e || !e->deny) /* answers to earlier requests come first */
		return 0;
	k = c->inject_len - c->inject_off;
	if (k > cap)
		k = cap;
	memcpy(buf, c->inject + c->inject_off, k);
	if (!peek)
		c->inject_off += k;
	if (c->inject_off == c->inject_len) {
		free(c->inject);
		c->inject = NULL;
		q_pop(c);
	}
	return k;
}
