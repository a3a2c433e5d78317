/*
 * fuzz_http.c - libFuzzer target for the HTTP/1.1 framer, head parser and
 * rewriter (router/lr_http.c).
 *
 * Input: one flags byte, one seed byte, then the client's byte stream.
 * Beyond "does not crash" (ASan/UBSan; libFuzzer hands us exactly `size`
 * bytes), it abort()s unless:
 *   - the framer fed the stream whole and fed it in random slices (sizes
 *     drawn from the seed) reports the same requests, events, offsets,
 *     held bytes and bodies, and the same final error;
 *   - the framer and lr_http_parse_head / lr_http_sniff agree on the head;
 *   - every held request's bytes are exactly stream[start, end), and its
 *     rewrite (edits chosen by the flags) frames again as exactly one
 *     request carrying the edits, the body sent, Content-Length framing and
 *     the credential rule; rewriting that output again changes nothing; and
 *     with no edits a Content-Length or bodiless request comes out
 *     byte-identical;
 *   - the error response for the stream as a message is well-formed.
 */
#include "lr_error.h"
#include "lr_http.h"
#include "lr_json.h"
#include "lr_plan.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ASSERT(c) do { \
	if (!(c)) { \
		fprintf(stderr, "fuzz_http.c:%d: invariant failed: %s\n", __LINE__, #c); \
		abort(); \
	} \
} while (0)

enum { F_HOLD = 1, F_BODY = 2, F_CRED = 12, F_TARGET = 16, F_HOST = 32 };

#define NEW_BODY "{\"model\":\"gpt-4o-mini\"}"
#define NEW_TARGET "/v1/chat/completions?routed=1"
#define NEW_HOST "127.0.0.1:8080"
#define NEW_KEY "Bearer sk-routed"

typedef struct {
	int ev, hold_rc, body, expect, tunnel, held, done;
	uint64_t pos, start, head_start, head_end, end, cl, body_len;
	uint64_t method, target, host, body_hash;
} event;

typedef struct {
	event *e;
	size_t n, cap;
	int err, stop;
} trace;

static uint64_t hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	return h ^ n;
}

static uint64_t span_hash(lr_span v)
{
	return v.p ? hash(v.p, v.len) : 0;
}

static int count_auth(const lr_http_head *h)
{
	static const char *const names[] = { "authorization", "x-api-key",
		"x-goog-api-key", "api-key" };
	int n = 0, i, k;

	for (k = 0; k < 4; k++)
		for (i = lr_http_header_find(h, names[k], 0); i >= 0;
		     i = lr_http_header_find(h, names[k], (size_t)i + 1))
			n++;
	return n;
}

static lr_span field(const lr_http_head *h, const char *name)
{
	int i = lr_http_header_find(h, name, 0);
	lr_span none = { NULL, 0 };

	return i < 0 ? none : h->headers[i].value;
}

static int span_is(lr_span v, const char *s)
{
	return v.p && v.len == strlen(s) && memcmp(v.p, s, v.len) == 0;
}

/* Frames out[0..n) as one held request; returns its framer (caller frees). */
static void reframe(const char *out, size_t n, lr_http_framer *g)
{
	int rc;

	lr_http_framer_init(g);
	rc = lr_http_feed(g, out, n);
	ASSERT(rc > 0 && (g->ev & LR_HTTP_EV_HEAD));
	ASSERT(lr_http_hold(g) == 0);
	if (!(g->ev & LR_HTTP_EV_DONE))
		ASSERT(lr_http_feed(g, out + rc, n - (size_t)rc) == (int)(n - (size_t)rc));
	ASSERT(g->req.done && g->req.end == n && g->req.start == 0 && g->req.head_start == 0);
	ASSERT(g->req.body != LR_HTTP_BODY_CHUNKED);
}

static void edits_from(int flags, lr_http_edits *e)
{
	static const int creds[4] = { LR_CRED_KEEP, LR_CRED_DROP, LR_CRED_REPLACE, LR_CRED_KEEP };

	memset(e, 0, sizeof(*e));
	if (flags & F_BODY)
		e->body = (lr_span){ NEW_BODY, strlen(NEW_BODY) };
	if (flags & F_TARGET)
		e->target = (lr_span){ NEW_TARGET, strlen(NEW_TARGET) };
	if (flags & F_HOST)
		e->host = (lr_span){ NEW_HOST, strlen(NEW_HOST) };
	e->cred = creds[(flags & F_CRED) >> 2];
	e->auth_name = "Authorization";
	e->auth_value = NEW_KEY;
}

/* What the rewrite of the held request in f must look like. */
static void check_rewrite(lr_http_framer *f, int flags)
{
	lr_http_edits e;
	lr_http_framer g;
	lr_span body, sent, got;
	char *out, *out2;
	size_t outlen, outlen2;
	int rc;

	edits_from(flags, &e);
	ASSERT(lr_http_body(f, &body) == 0);
	ASSERT(body.len == f->req.body_len);
	rc = lr_http_rewrite(&f->head, body.p, body.len, &e, &out, &outlen);
	if (rc == LR_ETOOBIG) /* a head near the caps, grown by the edits */
		return;
	ASSERT(rc == 0);
	sent = e.body.p ? e.body : body;
	reframe(out, outlen, &g);
	ASSERT(lr_http_body(&g, &got) == 0);
	ASSERT(got.len == sent.len && memcmp(got.p, sent.p, sent.len) == 0);
	ASSERT(!e.target.p || span_is(g.req.target, NEW_TARGET));
	ASSERT(e.target.p || (g.req.target.len == f->req.target.len &&
		memcmp(g.req.target.p, f->req.target.p, f->req.target.len) == 0));
	ASSERT(!e.host.p || span_is(g.req.host, NEW_HOST));
	ASSERT(!(e.cred == LR_CRED_DROP) || count_auth(&g.head) == 0);
	ASSERT(!(e.cred == LR_CRED_REPLACE) || (count_auth(&g.head) == 1 &&
		span_is(field(&g.head, "authorization"), NEW_KEY)));
	ASSERT(e.cred != LR_CRED_KEEP || count_auth(&g.head) == count_auth(&f->head));
	ASSERT(sent.len == 0 || g.req.content_length == sent.len);
	ASSERT(!(e.body.p || f->req.body == LR_HTTP_BODY_CHUNKED) || !g.req.expect_continue);
	/* the output is a fixed point of the same edits */
	ASSERT(lr_http_rewrite(&g.head, got.p, got.len, &e, &out2, &outlen2) == 0);
	ASSERT(outlen2 == outlen && memcmp(out2, out, outlen) == 0);
	free(out2);
	lr_http_framer_free(&g);
	/* no edits: a request we need not re-frame goes out as it came */
	if (flags == F_HOLD && f->req.body != LR_HTTP_BODY_CHUNKED) {
		size_t from = (size_t)(f->req.head_start - f->req.start);
		lr_span raw = lr_http_held(f);
		ASSERT(outlen == raw.len - from && memcmp(out, raw.p + from, outlen) == 0);
	}
	free(out);
}

static void on_done(lr_http_framer *f, const char *s, event *ev, int flags)
{
	lr_span raw = lr_http_held(f), body;

	ev->end = f->req.end;
	ev->body_len = f->req.body_len;
	ev->held = f->req.held;
	ev->done = f->req.done;
	ASSERT(f->req.start <= f->req.head_start && f->req.head_start < f->req.head_end);
	ASSERT(f->req.head_end <= f->req.end);
	if (!f->req.held && f->req.end != f->req.head_end)
		return;
	ASSERT(raw.len == f->req.end - f->req.start);
	ASSERT(memcmp(raw.p, s + f->req.start, raw.len) == 0);
	ASSERT(lr_http_body(f, &body) == 0);
	ev->body_hash = hash(body.p, body.len);
	check_rewrite(f, flags);
}

static void on_event(lr_http_framer *f, const char *s, trace *t, int flags)
{
	event *ev;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->e = realloc(t->e, t->cap * sizeof(*t->e));
		ASSERT(t->e);
	}
	ev = &t->e[t->n++];
	memset(ev, 0, sizeof(*ev));
	ev->ev = f->ev;
	ev->pos = f->pos;
	ev->start = f->req.start;
	ev->head_start = f->req.head_start;
	ev->head_end = f->req.head_end;
	ev->body = f->req.body;
	ev->cl = f->req.content_length;
	ev->expect = f->req.expect_continue;
	ev->tunnel = f->req.tunnel;
	ev->method = span_hash(f->req.method);
	ev->target = span_hash(f->req.target);
	ev->host = span_hash(f->req.host);
	ev->hold_rc = 1;
	if ((f->ev & LR_HTTP_EV_HEAD) && (flags & F_HOLD))
		ev->hold_rc = lr_http_hold(f);
	if (f->ev & LR_HTTP_EV_DONE)
		on_done(f, s, ev, flags);
}

static uint32_t next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Feeds s[0..n) in slices (whole if seed == 0) and traces the events. */
static void run(const char *s, size_t n, uint32_t seed, int flags, trace *t)
{
	lr_http_framer f;
	size_t i = 0, end = 0;

	memset(t, 0, sizeof(*t));
	lr_http_framer_init(&f);
	while (i < n && !t->err) {
		if (i == end)
			end = seed ? i + 1 + next(&seed) % (next(&seed) & 1 ? 8 : 300) : n;
		if (end > n)
			end = n;
		int rc = lr_http_feed(&f, s + i, end - i);
		if (rc < 0) {
			t->err = rc;
			t->stop = f.stop;
			ASSERT(f.stop != LR_HTTP_STOP_NONE); /* bodies here are far under the cap */
			ASSERT(lr_http_feed(&f, s, 1) == rc && f.ev == 0);
			break;
		}
		ASSERT(rc > 0 && (size_t)rc <= end - i);
		if (f.ev)
			on_event(&f, s, t, flags);
		i += (size_t)rc;
	}
	ASSERT(t->err || f.pos == n);
	lr_http_framer_free(&f);
}

/* Head parser, sniffer and framer judge the first head alike. */
static void check_parser(const char *s, size_t n, const trace *whole)
{
	lr_http_head h;
	int rc = lr_http_parse_head(s, n, &h);

	if (lr_http_sniff(s, n) < 0)
		ASSERT(whole->n == 0 && whole->err == LR_EPARSE &&
			whole->stop == LR_HTTP_STOP_NOT_HTTP1);
	if (n && (s[0] == '\r' || s[0] == '\n'))
		return; /* the framer skips empty lines first; the parser does not */
	if (rc > 0) {
		ASSERT(h.len == (size_t)rc && h.line.p == s);
		ASSERT((whole->n > 0 && whole->e[0].head_end == (uint64_t)rc) ||
			(whole->n == 0 && whole->err == LR_EPARSE &&
			 whole->stop == LR_HTTP_STOP_MALFORMED));
	} else {
		/* the parser judges each line as it goes, the framer once the
		 * blank line is there: either way no head came out */
		ASSERT(rc == LR_EPARSE || rc == LR_ETOOBIG || rc == LR_ENOTFOUND);
		ASSERT(whole->n == 0);
		if (rc == LR_ENOTFOUND)
			ASSERT(whole->err == 0 || whole->stop == LR_HTTP_STOP_NOT_HTTP1);
	}
}

static void check_error_response(const char *s, size_t n)
{
	static const char *const path[] = { "error", "message" };
	char msg[257], dec[257], *out;
	size_t outlen;
	const char *body;
	lr_span v;

	if (n > 256)
		return;
	memcpy(msg, s, n);
	msg[n] = '\0';
	if (lr_http_error_response(403, "denied", msg, &out, &outlen) < 0)
		return;
	ASSERT(strncmp(out, "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
	body = strstr(out, "\r\n\r\n");
	ASSERT(body);
	body += 4;
	ASSERT(lr_json_find(body, outlen - (size_t)(body - out), path, 2, &v) == 0);
	ASSERT(lr_json_str_decode(v, dec, sizeof(dec)) == (int)strlen(msg));
	ASSERT(strcmp(dec, msg) == 0);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 2;
	size_t n = size - 2;
	trace whole, split;
	int flags;
	uint32_t seed;

	if (size < 2)
		return 0;
	flags = data[0];
	seed = (uint32_t)data[1] * 2654435761u | 1;
	run(s, n, 0, flags, &whole);
	run(s, n, seed, flags, &split);
	ASSERT(whole.err == split.err && whole.stop == split.stop);
	ASSERT(whole.n == split.n);
	ASSERT(!whole.n || memcmp(whole.e, split.e, whole.n * sizeof(event)) == 0);
	check_parser(s, n, &whole);
	check_error_response(s, n);
	free(whole.e);
	free(split.e);
	return 0;
}
