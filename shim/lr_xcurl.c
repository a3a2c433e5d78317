/*
 * lr_xcurl.c - a libcurl answer translated into the app's format (see the
 * header).  Header lines arrive one per call, the status line first; a
 * head of a 1xx answer passes as it came.
 */
#include "lr_xcurl.h"
#include "lr_capture.h"
#include "lr_error.h"
#include "lr_plan_xlate.h"
#include "lr_redact.h"
#include "lr_redact_stream.h"
#include "lr_xfer.h"
#include "lr_xlate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { XC_HEAD, XC_STREAM, XC_HOLD, XC_DONE };

struct lr_xcurl {
	lr_xlate_ctx cx;
	char model[256];
	int stream;             /* the app asked for a stream */
	int state;
	long status;
	char status_line[128];
	lr_buf head;            /* the target's header lines (not the status line) */
	lr_buf held;            /* a held answer's body */
	long long clen;         /* its Content-Length, -1 if none */
	lr_xlate_stream *st;
	lr_xbuf out;
	int failed;             /* the app's callback took less: the transfer ends */
	int to_capture;         /* a resilient attempt: what we write goes to the capture */
	int identity;           /* no translation: the answer is only held for the restore */
	lr_redact_map rm;       /* placeholders to put back (lr_redact.h); n 0: none */
	int app_fmt;            /* the app's answer format (enum lr_xfmt), for rs */
	lr_redact_stream *rs;   /* a streamed answer's restore, after the translation */
};

void lr_xcurl_free(lr_easy *e)
{
	struct lr_xcurl *x = e->xc;

	if (!x)
		return;
	lr_buf_free(&x->head);
	lr_buf_free(&x->held);
	lr_xbuf_free(&x->out);
	lr_xlate_stream_free(x->st);
	lr_redact_stream_free(x->rs);
	lr_redact_free(&x->rm);
	free(x);
	e->xc = NULL;
}

static int skip_line(const struct lr_xcurl *x, const char *l, size_t n)
{
	if (x->identity) /* only the length changes with the values put back */
		return n >= 15 && strncasecmp(l, "content-length:", 15) == 0;
	static const char *const names[] = {"content-type:", "content-length:", "content-encoding:",
					    "transfer-encoding:"};
	size_t i, k;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		k = strlen(names[i]);
		if (n >= k && strncasecmp(l, names[i], k) == 0)
			return 1;
	}
	return 0;
}

static int give_header(lr_easy *e, const char *p, size_t n)
{
	if (e->xc && e->xc->to_capture)
		return lr_capture_header_cb((char *)p, 1, n, e) == n ? 0 : -1;
	return lr_xfer_header(e, (char *)p, n) == n ? 0 : -1;
}

static size_t give_body(lr_easy *e, const char *p, size_t n)
{
	if (e->xc && e->xc->to_capture)
		return lr_capture_write_cb((char *)p, 1, n, e);
	return lr_xfer_write(e, (char *)p, n);
}

/* The app's head: status line (status st), the kept lines, our type. */
static int give_head(lr_easy *e, struct lr_xcurl *x, long st, int stream)
{
	char line[160];
	size_t i = 0, j;
	const char *sp = strchr(x->status_line, ' ');

	snprintf(line, sizeof(line), "%.*s %ld\r\n", sp ? (int)(sp - x->status_line) : 8, x->status_line, st);
	if (give_header(e, line, strlen(line)) < 0)
		return -1;
	while (i < x->head.len) {
		for (j = i; j < x->head.len && x->head.p[j] != '\n'; j++)
			;
		if (j < x->head.len)
			j++;
		if (give_header(e, x->head.p + i, j - i) < 0)
			return -1;
		i = j;
	}
	if (!x->identity) {
		snprintf(line, sizeof(line), "Content-Type: %s\r\n", lr_xlate_content_type(x->cx.app, stream));
		if (give_header(e, line, strlen(line)) < 0)
			return -1;
	}
	return give_header(e, "\r\n", 2);
}

/* n bytes onto b (an identity stream's bytes, for the restore).  0 or -1. */
static int xbuf_add(lr_xbuf *b, const char *p, size_t n)
{
	char *q;

	if (b->len + n + 1 > b->cap) {
		if (!(q = realloc(b->p, b->len + n + 1)))
			return -1;
		b->p = q;
		b->cap = b->len + n + 1;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

/* What the translator wrote, to the app.  0, or -1 (it took less). */
static int give_out(lr_easy *e, struct lr_xcurl *x)
{
	size_t n = x->out.len;

	x->out.len = 0;
	if (n && give_body(e, x->out.p, n) != n) {
		x->failed = 1;
		return -1;
	}
	return 0;
}

/* The redacted values back in the answer about to go to the app.  A
 * restore that runs out of memory leaves the placeholders: the app gets
 * an answer, never a broken one. */
static void restore(struct lr_xcurl *x)
{
	char *o;
	size_t n;

	if (!x->rm.n || lr_redact_restore(&x->rm, x->out.p, x->out.len, &o, &n) <= 0)
		return;
	free(x->out.p);
	x->out.p = o; /* ours: malloc'ed, n + 1 bytes at least */
	x->out.len = n;
	x->out.cap = n + 1;
}

static void deliver_held(lr_easy *e, struct lr_xcurl *x)
{
	int st = (int)x->status;
	const char *held = x->held.p ? x->held.p : "";

	x->state = XC_DONE;
	if (x->identity) { /* the held bytes are the answer */
		lr_xbuf_free(&x->out);
		x->out.p = x->held.p;
		x->out.len = x->held.len;
		x->out.cap = x->held.cap;
		memset(&x->held, 0, sizeof(x->held));
	} else if (lr_xlate_answer(&x->cx, (int)x->status, held, x->held.len, &x->out, &st) < 0) {
		return;
	}
	restore(x);
	if (give_head(e, x, st, 0) == 0)
		give_out(e, x);
}

static size_t xc_header(char *p, size_t size, size_t n, void *ud)
{
	lr_easy *e = ud;
	struct lr_xcurl *x = e->xc;
	size_t len = size * n;

	if (!x)
		return lr_xfer_header(e, p, len);
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a new head */
		x->status = strtol(memchr(p, ' ', len) ? (char *)memchr(p, ' ', len) + 1 : "0", NULL, 10);
		snprintf(x->status_line, sizeof(x->status_line), "%.*s", (int)len, p);
		x->head.len = 0;
		x->state = XC_HEAD;
	}
	if (x->status < 200) /* 1xx heads (and nonsense) as they came */
		return give_header(e, p, len) == 0 ? len : 0;
	if (!(len <= 2 && (p[0] == '\r' || p[0] == '\n'))) {
		if (!(len >= 5 && memcmp(p, "HTTP/", 5) == 0) && !skip_line(x, p, len)) {
			if (len > 16 && strncasecmp(p, "content-length:", 15) == 0)
				x->clen = strtoll(p + 15, NULL, 10);
			if (lr_buf_add(&x->head, p, len, 64u << 10) < 0)
				return 0;
		} else if (len > 16 && strncasecmp(p, "content-length:", 15) == 0) {
			x->clen = strtoll(p + 15, NULL, 10);
		}
		return len;
	}
	/* the blank line: the head is whole */
	if (x->stream && x->status >= 200 && x->status <= 299) {
		if ((!x->identity && !(x->st = lr_xlate_stream_new(&x->cx))) || give_head(e, x, x->status, 1) < 0)
			return 0;
		if (x->rm.n && !(x->rs = lr_redact_stream_new(&x->rm, x->app_fmt)))
			return 0;
		x->state = XC_STREAM;
	} else {
		x->state = XC_HOLD;
	}
	return len;
}

static size_t xc_write(char *p, size_t size, size_t n, void *ud)
{
	lr_easy *e = ud;
	struct lr_xcurl *x = e->xc;
	size_t len = size * n;

	if (!x)
		return lr_xfer_write(e, p, len);
	if (x->state == XC_STREAM) {
		if (x->st ? lr_xlate_stream_feed(x->st, p, len, &x->out) < 0 : xbuf_add(&x->out, p, len) < 0)
			return 0;
		lr_redact_stream_apply(&x->rs, &x->out, 0);
		return give_out(e, x) < 0 ? 0 : len;
	}
	if (x->state != XC_HOLD)
		return len; /* after a held answer went: nothing more is the app's */
	if (lr_buf_add(&x->held, p, len, LR_XLATE_MAX_IN) < 0)
		return 0;
	if (x->clen >= 0 && (long long)x->held.len >= x->clen)
		deliver_held(e, x);
	return x->failed ? 0 : len;
}

int lr_xcurl_begin(const lr_curl_lib *lib, lr_easy *e, const lr_plan *p, const lr_request *r)
{
	struct lr_xcurl *x = calloc(1, sizeof(*x));

	if (!x)
		return LR_ENOMEM;
	lr_xcurl_free(e);
	snprintf(x->model, sizeof(x->model), "%s", p->model ? p->model : r->model);
	lr_plan_xlate_ctx(p, x->model[0] ? x->model : NULL, &x->cx);
	x->stream = p->xstream;
	x->clen = -1;
	e->xc = x;
	(void)lib;
	return 0;
}

int lr_xcurl_restore(lr_easy *e, lr_redact_map *m, int stream, int app_fmt)
{
	struct lr_xcurl *x = e->xc;

	if (!x) {
		if (!(x = calloc(1, sizeof(*x))))
			return LR_ENOMEM;
		x->identity = 1;
		x->clen = -1;
		x->stream = stream;
		x->app_fmt = app_fmt;
		e->xc = x;
	} else {
		x->app_fmt = x->cx.app; /* restored after the translation */
	}
	lr_redact_free(&x->rm);
	x->rm = *m;
	memset(m, 0, sizeof(*m));
	return 0;
}

void lr_xcurl_install(const lr_curl_lib *lib, lr_easy *e)
{
	if (!e->xc)
		return;
	lib->easy_setopt(e->h, CURLOPT_WRITEFUNCTION, xc_write);
	lib->easy_setopt(e->h, CURLOPT_WRITEDATA, e);
	lib->easy_setopt(e->h, CURLOPT_HEADERFUNCTION, xc_header);
	lib->easy_setopt(e->h, CURLOPT_HEADERDATA, e);
	e->changed_write = e->changed_header = 1;
	e->applied = 1;
}

void lr_xcurl_install_capture(const lr_curl_lib *lib, lr_easy *e)
{
	if (!e->xc)
		return;
	lr_xcurl_install(lib, e);
	e->xc->to_capture = 1;
}

void lr_xcurl_finish(lr_easy *e)
{
	struct lr_xcurl *x = e->xc;

	if (!x)
		return;
	if (x->state == XC_HOLD)
		deliver_held(e, x);
	else if (x->state == XC_STREAM && (!x->st || lr_xlate_stream_finish(x->st, &x->out) >= 0)) {
		lr_redact_stream_apply(&x->rs, &x->out, 1);
		give_out(e, x);
	}
	x->state = XC_DONE;
}
