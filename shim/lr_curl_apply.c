/*
 * lr_curl_apply.c - decide and rewrite a libcurl transfer (see the header).
 *
 * Order of work in lr_curl_prepare: URL detection (a non-LLM URL stops
 * here, having cost one path scan), the body (from POSTFIELDS, or read from
 * the app's read callback when the upload size is known), the decision
 * under the view's read lock, then the plan turned into new option values,
 * and only then the setopt calls.  A body read from the app's callback is
 * always served back to libcurl by our callback, routed or not.
 */
#include "lr_curl_apply.h"
#include "lr_body.h"
#include "lr_choose.h"
#include "lr_cred.h"
#include "lr_engine.h"
#include "lr_error.h"
#include "lr_capture.h"
#include "lr_rec.h"
#include "lr_resil.h"
#include "lr_intent.h"
#include "lr_log.h"
#include "lr_plan.h"
#include "lr_request.h"
#include "lr_shim.h"
#include "lr_view.h"
#include "lr_xfer.h"
#include "lr_xcurl.h"
#include "lr_plan_xlate.h"
#include "lr_redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#define MAX_BODY (64u << 20) /* larger bodies are not read or rewritten */

/* --- our read callback, for bodies we read from the app ------------------ */

static size_t feed(char *buf, size_t size, size_t n, void *ud)
{
	lr_easy *e = ud;
	size_t cap = size * n, left = e->new_body_len - e->read_pos;

	if (left) {
		if (left > cap)
			left = cap;
		memcpy(buf, e->new_body + e->read_pos, left);
		e->read_pos += left;
		return left;
	}
	if (e->read_tail) { /* the app's callback paused or aborted our read */
		curl_read_callback cb = e->read_cb;
		return cb ? cb(buf, size, n, e->read_data) : 0;
	}
	return 0;
}

static int seek(void *ud, curl_off_t off, int origin)
{
	lr_easy *e = ud;

	if (origin != SEEK_SET || off < 0 || (size_t)off > e->new_body_len || e->read_tail)
		return CURL_SEEKFUNC_CANTSEEK;
	e->read_pos = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static size_t fread_cb(char *buf, size_t size, size_t n, void *f)
{
	return fread(buf, size, n, f ? f : stdin);
}

/* Reads the upload from the app's callback into e->new_body.  Returns 0 if
 * the whole body was read; 1 if the callback paused or aborted, in which
 * case what was read is replayed and then the app's callback takes over. */
static int pre_read(lr_easy *e, size_t want)
{
	curl_read_callback cb = e->read_cb ? e->read_cb : fread_cb;
	size_t got = 0, r;

	e->new_body = malloc(want + 1);
	if (!e->new_body)
		return -1;
	while (got < want) {
		r = cb(e->new_body + got, 1, want - got, e->read_data);
		if (r == 0)
			break;
		if (r > want - got) { /* PAUSE, ABORT or nonsense: stop reading */
			e->read_tail = 1;
			break;
		}
		got += r;
	}
	e->new_body_len = got;
	e->replay_len = got;
	return e->read_tail;
}

static void install_feed(const lr_curl_lib *lib, lr_easy *e)
{
	lib->easy_setopt(e->h, CURLOPT_READFUNCTION, feed);
	lib->easy_setopt(e->h, CURLOPT_READDATA, e);
	lib->easy_setopt(e->h, CURLOPT_SEEKFUNCTION, seek);
	lib->easy_setopt(e->h, CURLOPT_SEEKDATA, e);
	e->changed_read = 1;
	e->applied = 1;
}

/* --- headers ------------------------------------------------------------ */

static int is_header(const char *line, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(line, name, n) == 0 && (line[n] == ':' || line[n] == ';');
}

int lr_curl_is_auth_header(const char *line)
{
	const char *colon = strchr(line, ':');

	return colon && lr_cred_is_credential_header(line, (size_t)(colon - line));
}

/* Does a route drop this header line?  A key header whenever the app's key
 * is dropped or replaced; every credential when the host changes. */
static int dropped(const lr_plan *p, const char *line)
{
	const char *colon = strchr(line, ':');
	size_t n = colon ? (size_t)(colon - line) : 0;

	if (p->cred == LR_CRED_KEEP || !colon)
		return 0;
	return p->host_changed ? lr_cred_is_credential_header(line, n) : lr_cred_is_key_header(line, n);
}

static int append(struct curl_slist **head, struct curl_slist ***tail, char *line)
{
	struct curl_slist *n = line ? malloc(sizeof(*n)) : NULL;

	if (!n) {
		free(line);
		return LR_ENOMEM;
	}
	n->data = line;
	n->next = NULL;
	**tail = n;
	*tail = &n->next;
	(void)head;
	return 0;
}

static char *fmt(const char *f, const char *a, const char *b)
{
	size_t n = strlen(f) + strlen(a) + (b ? strlen(b) : 0);
	char *s = malloc(n);

	if (s)
		snprintf(s, n, f, a, b ? b : "");
	return s;
}

typedef struct {
	const lr_plan *plan;
	const lr_xlate_req *x; /* a translated request: its format's headers, or NULL */
	const char *key;     /* LR_CRED_REPLACE: the key value */
	char host[300];      /* new Host: value when the host changed, else "" */
	long long body_len;  /* new Content-Length when the body changed, else -1 */
} header_job;

/* A header line a translated request does not carry (lr_plan_xlate.h). */
static int xlate_dropped(const char *line)
{
	const char *colon = strchr(line, ':');

	return colon && lr_plan_xlate_drops_header(line, (size_t)(colon - line));
}

/* Builds the header list the routed request needs.  Returns 1 with *out set
 * when it differs from the app's, 0 when no change is needed, or < 0. */
static int build_headers(const lr_easy *e, const header_job *j, struct curl_slist **out)
{
	struct curl_slist *head = NULL, **tail = &head, *l;
	int changed = 0, rc = 0, i;
	char len[32];

	for (l = e->headers; l && rc == 0; l = l->next) {
		if (!l->data)
			continue;
		if (dropped(j->plan, l->data) || (j->x && xlate_dropped(l->data))) {
			changed = 1;
		} else if (j->host[0] && is_header(l->data, "host")) {
			rc = append(&head, &tail, fmt("Host: %s%s", j->host, NULL));
			changed = 1;
		} else if (j->body_len >= 0 && is_header(l->data, "content-length")) {
			snprintf(len, sizeof(len), "%lld", j->body_len);
			rc = append(&head, &tail, fmt("Content-Length: %s%s", len, NULL));
			changed = 1;
		} else {
			rc = append(&head, &tail, strdup(l->data));
		}
	}
	for (i = 0; rc == 0 && j->x && i < j->x->nheaders; i++) {
		rc = append(&head, &tail, fmt("%s: %s", j->x->headers[i].name, j->x->headers[i].value));
		changed = 1;
	}
	if (rc == 0 && j->plan->cred == LR_CRED_REPLACE) {
		char value[4200];
		const char *h = lr_plan_auth(j->plan, value, sizeof(value));
		rc = append(&head, &tail, fmt("%s: %s", h, value));
		explicit_bzero(value, sizeof(value));
		changed = 1;
	}
	if (rc < 0 || !changed) {
		while (head) {
			l = head->next;
			free(head->data);
			free(head);
			head = l;
		}
		return rc;
	}
	*out = head;
	return 1;
}

/* --- prepare ------------------------------------------------------------ */

/* The URL routing sees: the app's, as libcurl reads it (lr_url.h). */
static const char *req_url(const lr_easy *e)
{
	return e->req_url ? e->req_url : e->url;
}

/* Fills e->req_url when the app's URL is spelled otherwise than libcurl
 * sends it; a URL already so (nearly all) costs one scan.  Returns 0, or
 * LR_EPARSE for a URL libcurl would not send as http(s). */
static int canon_url(lr_easy *e)
{
	size_t n = strlen(e->url), cap;
	int rc;

	free(e->req_url);
	e->req_url = NULL;
	if (!lr_url_canon_needed(e->url, n))
		return 0;
	cap = n + 64; /* IPv4 forms and a guessed scheme grow it a little */
	if (!(e->req_url = malloc(cap)))
		return LR_ENOMEM;
	if ((rc = lr_url_canon(e->url, n, e->req_url, cap)) < 0) {
		free(e->req_url);
		e->req_url = NULL;
	}
	return rc < 0 ? rc : 0;
}

typedef struct {
	const char *body;
	size_t len;
	int from_read;  /* body came from the app's read callback */
	int unread;     /* there is a body, and it could not be read */
} body_src;

/* The body libcurl will send, as its method says: POSTFIELDS for a POST
 * that has them, else the read callback for a POST or an upload; a GET or
 * HEAD sends none, whatever options are left over from earlier. */
static int gather_body(lr_easy *e, body_src *b)
{
	curl_off_t size;

	memset(b, 0, sizeof(*b));
	if (e->method == LR_M_OTHER_BODY) /* a form: not a JSON body */
		b->unread = 1;
	if (e->method != LR_M_POST && e->method != LR_M_PUT)
		return 0;
	if (e->method == LR_M_POST && e->post) {
		b->body = e->post;
		b->len = e->post_size >= 0 ? (size_t)e->post_size : strlen(e->post);
		return 0;
	}
	/* libcurl sizes a POST by POSTFIELDSIZE (INFILESIZE is for uploads);
	 * INFILESIZE alone still counts for a POST, as it always has here */
	size = e->method == LR_M_POST && e->post_size >= 0 ? e->post_size : e->infile_size;
	if ((e->read_cb || e->read_data) && size >= 0 && (unsigned long long)size <= MAX_BODY) {
		pre_read(e, (size_t)size);
		if (!e->new_body)
			return LR_ENOMEM;
		b->body = e->new_body;
		b->len = e->new_body_len;
		b->from_read = 1;
	} else {
		b->unread = 1; /* a size we do not know, or over the cap */
	}
	return 0;
}

typedef struct {
	char *url, *body;
	size_t body_len;
	struct curl_slist *headers;
	int headers_changed;
	lr_redact_map rm;   /* the redacted values, for lr_xcurl_restore */
} changes;

static void free_changes(changes *c)
{
	struct curl_slist *l;

	free(c->url);
	free(c->body);
	lr_redact_free(&c->rm);
	while (c->headers) {
		l = c->headers->next;
		free(c->headers->data);
		free(c->headers);
		c->headers = l;
	}
}

/* A route whose target speaks another format: the body translated
 * (lr_plan_xlate), the URL the target's.  0, or < 0 with *why; a request
 * the target cannot honour fills refusal.  On libcurl a transfer with
 * CURLOPT_HEADER is not translated (lr_xcurl.h); each attempt of a
 * resilient one is, with its own target's format (lr_resil.c). */
static int compute_xlate(lr_easy *e, const body_src *b, const lr_request *r, lr_plan *p, changes *c,
			 lr_xlate_req *x, int *why, char *refusal)
{
	int rc;

	*why = LR_UNAPPLIED_XLATE;
	if (!p->xapp || !b->body)
		return LR_EINVAL;
	if (e->header_opt) {
		*why = LR_UNAPPLIED_XLATE_CURL;
		return LR_EINVAL;
	}
	rc = lr_plan_xlate(p, r, c->body ? c->body : b->body, c->body ? c->body_len : b->len, x);
	if (rc < 0) {
		if (rc == LR_EINVAL || rc == LR_EPARSE)
			snprintf(refusal, LR_XLATE_MAX_MSG, "%s", x->refusal[0] ? x->refusal : "llmroute cannot translate this request");
		*why = rc == LR_ENOMEM ? LR_UNAPPLIED_NOMEM : LR_UNAPPLIED_XLATE;
		return rc;
	}
	free(c->body);
	c->body = x->body.p; /* ours now */
	c->body_len = x->body.len;
	x->body.p = NULL;
	*why = LR_UNAPPLIED_NONE;
	return 0;
}

/*
 * A redacting route with findings of its kinds: the app's body with
 * placeholders (*red, malloc'ed) and the map to put the values back.  Only
 * where the whole answer passes through lr_xcurl (streamed or not, in a
 * format whose text deltas lr_redact_stream knows): not a resilient
 * transfer (its answers go through lr_capture), not CURLOPT_HEADER.  0
 * (nothing to redact: *red NULL), 1, or < 0 with *why.
 */
static int redact(lr_easy *e, const body_src *b, const lr_decision *d, const lr_request *r,
		  lr_redact_map *m, char **red, size_t *rlen, int *why)
{
	int rc;

	*red = NULL;
	if (!(d->route->guard_redact & r->guard.mask))
		return 0;
	*why = LR_UNAPPLIED_GUARD;
	if (!b->body || e->rs || e->header_opt ||
	    (r->f.num[LR_F_STREAM - LR_F_NUM] && lr_xlate_format(r->det.format, r->det.operation) == LR_XF_NONE))
		return LR_EINVAL;
	rc = lr_redact_body(b->body, b->len, &r->guard, d->route->guard_redact, m, red, rlen);
	if (rc <= 0)
		return rc < 0 ? rc : LR_EINVAL; /* a finding not located: no half redaction */
	*why = LR_UNAPPLIED_NONE;
	return 1;
}

/* Everything the route needs, computed before anything is set. */
static int compute(lr_easy *e, const body_src *b, const lr_table *t, const lr_decision *d,
		   const lr_request *r, lr_plan *p, changes *c, int *why, char *refusal)
{
	header_job j = {.plan = p, .body_len = -1};
	lr_xlate_req x;
	char *red = NULL;
	size_t rlen = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	memset(&x, 0, sizeof(x));
	if ((rc = redact(e, b, d, r, &c->rm, &red, &rlen, why)) < 0)
		return rc;
	if ((p->model && !p->model_in_path) || d->route->param_count || p->xtarget || red) {
		if (!b->body && p->model && !p->model_in_path)
			return LR_ENOTFOUND;
		rc = lr_plan_body(t, d, r, p, red ? red : b->body, red ? rlen : b->len, &c->body, &c->body_len);
		if (rc == 0 && red) { /* the placeholders are the only change */
			c->body = red;
			c->body_len = rlen;
			red = NULL;
		}
		free(red);
		if (rc < 0 && rc != LR_ENOTFOUND)
			return rc; /* unreadable body: fail open */
		if (p->xtarget && (rc = compute_xlate(e, b, r, p, c, &x, why, refusal)) < 0)
			return rc;
		if (c->body)
			j.body_len = (long long)c->body_len;
		j.x = p->xtarget ? &x : NULL;
	}
	j.key = p->key;
	if (p->host_changed)
		lr_plan_host(p, j.host, sizeof(j.host));
	rc = build_headers(e, &j, &c->headers);
	if (rc < 0)
		return rc;
	c->headers_changed = rc;
	c->url = p->url;
	p->url = NULL;
	return 0;
}

static void clear_creds(const lr_curl_lib *lib, lr_easy *e, const lr_plan *p)
{
	if (e->bearer)
		lib->easy_setopt(e->h, CURLOPT_XOAUTH2_BEARER, (char *)NULL);
	if (e->user)
		lib->easy_setopt(e->h, CURLOPT_USERNAME, (char *)NULL);
	if (e->pass)
		lib->easy_setopt(e->h, CURLOPT_PASSWORD, (char *)NULL);
	if (e->cookie && p->host_changed) { /* CURLOPT_COOKIE goes to any host */
		lib->easy_setopt(e->h, CURLOPT_COOKIE, (char *)NULL);
		e->changed_cookie = 1;
	}
	e->changed_creds = 1;
}

/*
 * Where the routed request goes is the plan's URL, and only there: the
 * app's CURLOPT_PORT and CURLOPT_CONNECT_TO were meant for its own URL
 * (CONNECT_TO entries with an empty host match any), so for a route that
 * names an endpoint they are cleared.  A transfer that carries a key the
 * app did not send there (the route's, or the app's own to the route's
 * endpoint) follows no redirect: a 3xx reaches the app as it came, since
 * libcurl would send x-api-key and the like to wherever Location points.
 */
static void pin_destination(const lr_curl_lib *lib, lr_easy *e, const lr_plan *p)
{
	int keyed = p->cred == LR_CRED_REPLACE || (p->host_changed && p->cred == LR_CRED_KEEP);

	if (p->endpoint && (e->port || e->connect_to)) {
		lib->easy_setopt(e->h, CURLOPT_PORT, 0L);
		lib->easy_setopt(e->h, CURLOPT_CONNECT_TO, (struct curl_slist *)NULL);
		e->changed_where = 1;
	}
	if (keyed && e->follow) {
		lib->easy_setopt(e->h, CURLOPT_FOLLOWLOCATION, 0L);
		e->changed_where = 1;
	}
}

static void apply(const lr_curl_lib *lib, lr_easy *e, const body_src *b, const lr_plan *p, changes *c)
{
	e->applied = 1;
	if (c->url) {
		lib->easy_setopt(e->h, CURLOPT_URL, c->url);
		e->new_url = c->url;
		e->changed_url = 1;
	}
	if (c->body && b->from_read) {
		free(e->new_body);
		e->new_body = c->body;
		e->new_body_len = c->body_len;
		e->read_tail = 0;
		lib->easy_setopt(e->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->body_len);
		if (e->method == LR_M_POST) /* a POST's length is POSTFIELDSIZE's */
			lib->easy_setopt(e->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
	} else if (c->body) {
		lib->easy_setopt(e->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
		lib->easy_setopt(e->h, CURLOPT_POSTFIELDS, c->body);
		e->new_body = c->body; /* libcurl does not copy POSTFIELDS */
		e->new_body_len = c->body_len;
		e->changed_body = 1;
	}
	if (c->headers_changed) {
		lib->easy_setopt(e->h, CURLOPT_HTTPHEADER, c->headers);
		e->new_headers = c->headers;
		e->changed_headers = 1;
	}
	if (p->cred != LR_CRED_KEEP)
		clear_creds(lib, e, p);
	pin_destination(lib, e, p);
	c->url = c->body = NULL;
	c->headers = NULL;
}

static int deny(lr_easy *e, const lr_table *t, const lr_decision *d, const lr_request *r,
		size_t blen, int unread)
{
	char msg[CURL_ERROR_SIZE];

	lr_engine_deny_message(t, d, unread, msg, sizeof(msg));
	e->deny_msg = strdup(msg);
	lr_log(LR_LOG_INFO, "%s (model %s)", msg, r->model[0] ? r->model : "(none)");
	if (e->rs) { /* a later attempt, decided afresh (lr_curl_as_app) */
		lr_rec link;
		memset(&link, 0, sizeof(link));
		snprintf(link.request_id, sizeof(link.request_id), "%s", e->rs->request_id);
		link.attempt = e->rs->a.attempt + 1;
		link.via = "original";
		lr_xfer_denied(t, r, d, blen, &link);
	} else {
		lr_xfer_denied(t, r, d, blen, NULL);
	}
	return e->deny_msg ? LR_PREP_DENY : LR_PREP_PASS;
}

/* Routes the transfer; returns LR_PREP_ROUTED only if every change was
 * made, else LR_PREP_PASS with nothing changed and *why (LR_UNAPPLIED_*)
 * saying why. */
static int route(const lr_curl_lib *lib, lr_easy *e, const body_src *b, const lr_table *t,
		 const lr_decision *d, const lr_request *r, int *why)
{
	lr_plan p;
	changes c;
	lr_detect det = r->det;
	int rc, out = LR_PREP_PASS;
	char refusal[LR_XLATE_MAX_MSG] = "";

	/* The origin the app addressed, and so the one its key was meant for:
	 * CURLOPT_PORT overrides the URL's port.  A CONNECT_TO list may send
	 * it anywhere: no endpoint counts as the same origin then. */
	if (e->port > 0)
		det.url.port = (int)e->port;
	if (e->connect_to)
		det.url.host_len = 0;
	*why = LR_UNAPPLIED_NONE;
	if (lr_plan_make(t, d, &det, req_url(e), strlen(req_url(e)), secure_getenv, &p) < 0) {
		*why = LR_UNAPPLIED_NOMEM;
		return LR_PREP_PASS;
	}
	if (p.key_missing)
		lr_log(LR_LOG_ERROR, "route key variable $%s is not set (or not a valid header value): %s", p.key_env,
		       p.host_changed ? "sending no key" : "keeping the app's key");
	rc = compute(e, b, t, d, r, &p, &c, why, refusal);
	if (rc < 0 && refusal[0]) { /* the target cannot honour it: refused as a denial is */
		e->deny_msg = strdup(refusal);
		lr_log(LR_LOG_INFO, "route %s: %s", lr_table_str(t, d->route->name), refusal);
		lr_xfer_denied(t, r, d, b->len, NULL);
		*why = LR_UNAPPLIED_NONE;
		free_changes(&c);
		lr_plan_free(&p);
		return e->deny_msg ? LR_PREP_DENY : LR_PREP_PASS;
	}
	/* libcurl guesses the scheme of "host/path" (CURLOPT_DEFAULT_PROTOCOL
	 * may say https): a new URL must not guess it for the app */
	if (rc == 0 && c.url && e->req_url && !strstr(e->url, "://")) {
		rc = LR_EINVAL;
		*why = LR_UNAPPLIED_SCHEME;
	}
	if (rc == 0) {
		lr_rec_log_routed(t, d, r, p.model, c.url ? c.url : req_url(e), "curl");
		lr_xfer_begin(e, t, r, d, &p, c.url ? c.url : req_url(e),
			      c.body ? c.body : b->body, c.body ? c.body_len : b->len);
		apply(lib, e, b, &p, &c);
		if (p.xtarget)
			lr_xcurl_begin(lib, e, &p, r); /* installed after the audit's (decide_and_apply) */
		if (c.rm.n && lr_xcurl_restore(e, &c.rm, r->f.num[LR_F_STREAM - LR_F_NUM] != 0,
						lr_xlate_format(r->det.format, r->det.operation)) < 0)
			lr_log(LR_LOG_ERROR, "route %s: no memory to put the redacted values back",
			       lr_table_str(t, d->route->name));
		out = LR_PREP_ROUTED;
	} else if (!*why) {
		*why = lr_unapplied_of(rc, 1);
	}
	if (rc < 0 && e->xc) /* never half-applied */
		lr_xcurl_free(e);
	free_changes(&c);
	lr_plan_free(&p);
	return out;
}

static int decide_and_apply(const lr_curl_lib *lib, lr_easy *e, const body_src *b, int resil_ok)
{
	const lr_table *t;
	lr_engine_ctx cx;
	lr_request r;
	lr_decision d;
	int out = LR_PREP_PASS, unread, why = LR_UNAPPLIED_NONE;

	if (lr_request_init_as(&r, req_url(e), strlen(req_url(e)), b->body, b->len, lr_process_name(), 0) < 0)
		return LR_PREP_PASS;
	t = lr_view_acquire();
	cx = (lr_engine_ctx){t, lr_view_intents(t), lr_rec_live(t), (long long)time(NULL)};
	unread = lr_engine_decide(&cx, &r, b->body, b->len, b->unread, &d, NULL);
	if (resil_ok && (d.action == LR_ACTION_ROUTE || d.action == LR_ACTION_PASS))
		lr_resil_begin(e, t, &d, &r, b->body, b->len, b->from_read); /* before b->body may go */
	if (d.action == LR_ACTION_DENY)
		out = deny(e, t, &d, &r, b->len, unread);
	else if (d.action == LR_ACTION_ROUTE)
		out = route(lib, e, b, t, &d, &r, &why);
	if (out == LR_PREP_PASS) { /* audited as sent, routed or not */
		lr_xfer_begin(e, t, &r, &d, NULL, req_url(e), b->body, b->len);
		if (why) {
			lr_rec_unapplied(e->x, t, why);
			lr_rec_log_unapplied(t, &d, &r, why, "curl");
		}
	}
	if (resil_ok)
		lr_resil_sent(e, t, &d);
	lr_view_release(t);
	lr_xfer_install(lib, e);
	lr_xcurl_install(lib, e); /* in front of the audit: it reads the app's format */
	return out;
}

int lr_curl_prepare(const lr_curl_lib *lib, lr_easy *e, int resil_ok)
{
	lr_detect det;
	body_src b;
	int out;

	lr_curl_restore(lib, e); /* a transfer that never ended: undo it first */
	lr_easy_clear_applied(e);
	lr_xfer_free(e);
	lr_resil_free(e);
	lr_served_clear(e);
	if (e->curlu && e->url)
		lr_log(LR_LOG_DEBUG, "CURLOPT_CURLU is set: the request is not routed");
	if (e->curlu || !e->url || canon_url(e) < 0 || lr_detect_url(req_url(e), strlen(req_url(e)), &det) < 0)
		return LR_PREP_PASS;
	if (gather_body(e, &b) < 0)
		return LR_PREP_PASS; /* nothing was read: the app's callback is intact */
	out = decide_and_apply(lib, e, &b, resil_ok);
	if (b.from_read && out != LR_PREP_DENY)
		install_feed(lib, e); /* we consumed the app's data: serve it */
	if (out == LR_PREP_DENY)
		lr_resil_free(e);
	return out == LR_PREP_PASS && (e->applied || e->rs) ? LR_PREP_ROUTED : out;
}

/* The app's read callback gave its data once, to us: whatever goes out
 * next (routed or as the app made it), our callback serves it. */
static int serve_app_body(const lr_curl_lib *lib, lr_easy *e, const body_src *b)
{
	if (!e->new_body && (e->new_body = malloc(b->len + 1))) {
		memcpy(e->new_body, b->body, b->len);
		e->new_body_len = b->len;
	}
	if (!e->new_body)
		return LR_ENOMEM;
	e->read_pos = 0;
	install_feed(lib, e);
	return 0;
}

int lr_curl_as_app(const lr_curl_lib *lib, lr_easy *e)
{
	const lr_resil *rs = e->rs;
	body_src b = {rs->app_body, rs->app_len, rs->from_read, 0};
	int out;

	lr_curl_restore(lib, e);
	lr_xfer_free(e);
	lr_xcurl_free(e); /* each step translates with its own target's format, or not at all */
	out = decide_and_apply(lib, e, &b, 0);
	if (b.from_read && out != LR_PREP_DENY && serve_app_body(lib, e, &b) < 0)
		return LR_ENOMEM;
	return out;
}

int lr_curl_reroute(const lr_curl_lib *lib, lr_easy *e, const char *route_name, const char *step)
{
	const lr_resil *rs = e->rs;
	body_src b = {rs->app_body, rs->app_len, rs->from_read, 0};
	const lr_table *t = NULL;
	lr_engine_ctx cx = {0};
	lr_request r;
	lr_decision d;
	int rc = 0, why;

	lr_curl_restore(lib, e);
	lr_xfer_free(e);
	lr_xcurl_free(e); /* each step translates with its own target's format, or not at all */
	if (!e->url || lr_request_init_as(&r, req_url(e), strlen(req_url(e)), b.body, b.len, lr_process_name(), 0) < 0)
		rc = LR_EPARSE;
	if (rc == 0) {
		t = lr_view_acquire();
		cx = (lr_engine_ctx){t, lr_view_intents(t), NULL, 0};
		rc = lr_engine_decide_step(&cx, &r, b.body, b.len, route_name, step, &d);
	}
	if (rc == 0 && d.action == LR_ACTION_ROUTE && route(lib, e, &b, t, &d, &r, &why) != LR_PREP_ROUTED)
		rc = LR_EINVAL;
	if (rc == 0 && d.action == LR_ACTION_PASS)
		lr_xfer_begin(e, t, &r, &d, NULL, req_url(e), b.body, b.len);
	lr_view_release(t);
	if (b.from_read && serve_app_body(lib, e, &b) < 0 && rc == 0)
		rc = LR_ENOMEM;
	return rc;
}

void lr_curl_restore(const lr_curl_lib *lib, lr_easy *e)
{
	if (!e->applied)
		return;
	lr_capture_uninstall(lib, e);
	lr_xfer_uninstall(lib, e);
	if (e->changed_url)
		lib->easy_setopt(e->h, CURLOPT_URL, e->url);
	if (e->changed_body) {
		/* An app that used COPYPOSTFIELDS gets libcurl's own copy back: a
		 * duplicate of this handle must not point into our record. */
		lib->easy_setopt(e->h, CURLOPT_POSTFIELDSIZE_LARGE, e->post_size);
		lib->easy_setopt(e->h, e->post && e->post == e->post_copy ? CURLOPT_COPYPOSTFIELDS
									   : CURLOPT_POSTFIELDS, e->post);
	}
	if (e->changed_read) {
		lib->easy_setopt(e->h, CURLOPT_READFUNCTION, e->read_cb);
		lib->easy_setopt(e->h, CURLOPT_READDATA, e->read_data);
		lib->easy_setopt(e->h, CURLOPT_SEEKFUNCTION, e->seek_cb);
		lib->easy_setopt(e->h, CURLOPT_SEEKDATA, e->seek_data);
		lib->easy_setopt(e->h, CURLOPT_INFILESIZE_LARGE, e->infile_size);
		if (e->method == LR_M_POST)
			lib->easy_setopt(e->h, CURLOPT_POSTFIELDSIZE_LARGE, e->post_size);
	}
	if (e->changed_headers)
		lib->easy_setopt(e->h, CURLOPT_HTTPHEADER, e->headers);
	if (e->changed_creds) {
		lib->easy_setopt(e->h, CURLOPT_XOAUTH2_BEARER, e->bearer);
		lib->easy_setopt(e->h, CURLOPT_USERNAME, e->user);
		lib->easy_setopt(e->h, CURLOPT_PASSWORD, e->pass);
	}
	if (e->changed_cookie)
		lib->easy_setopt(e->h, CURLOPT_COOKIE, e->cookie);
	if (e->changed_where) {
		lib->easy_setopt(e->h, CURLOPT_FOLLOWLOCATION, e->follow);
		lib->easy_setopt(e->h, CURLOPT_PORT, e->port);
		lib->easy_setopt(e->h, CURLOPT_CONNECT_TO, e->connect_to);
	}
	lr_easy_clear_applied(e);
}

void lr_curl_deny_errbuf(const lr_easy *e)
{
	if (e->errbuf && e->deny_msg)
		snprintf(e->errbuf, CURL_ERROR_SIZE, "%s", e->deny_msg);
}
