/*
 * test_http.c - unit tests for router/lr_http.c: the HTTP/1.1 request
 * framer (every framing, pipelining, every split point, bare LF, garbage,
 * TLS and HTTP/2 detection, caps), the head parser, the rewriter (compared
 * byte for byte with hand-written requests) and the error response.  Ends
 * with guard-page tests proving nothing reads past the given length.
 */
#include "lr_cred.h"
#include "lr_error.h"
#include "lr_http.h"
#include "lr_json.h"
#include "lr_plan.h"
#include "lr_test.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* --- a recorder: feeds a stream in pieces and logs what the framer saw --- */

#define MAXREQ 8

typedef struct {
	char method[24], target[128], host[64];
	int has_host, body, expect, tunnel, hold_rc, done, held;
	uint64_t start, head_start, head_end, end, cl, body_len;
	char body_bytes[256];
	size_t body_n;
	int raw_ok;           /* held bytes == stream[start, end) */
} rec;

typedef struct {
	rec r[MAXREQ];
	int n;                /* heads seen */
	int err, stop;        /* first error, if any */
	uint64_t pos;
} flog;

static void copy_span(char *dst, size_t cap, lr_span v)
{
	size_t n = v.len < cap - 1 ? v.len : cap - 1;

	memcpy(dst, v.p ? v.p : "", n);
	dst[n] = '\0';
}

static void on_head(lr_http_framer *f, flog *lg, int hold)
{
	rec *r;

	if (lg->n == MAXREQ)
		return;
	r = &lg->r[lg->n++];
	copy_span(r->method, sizeof(r->method), f->req.method);
	copy_span(r->target, sizeof(r->target), f->req.target);
	copy_span(r->host, sizeof(r->host), f->req.host);
	r->has_host = f->req.host.p != NULL;
	r->body = f->req.body;
	r->cl = f->req.content_length;
	r->expect = f->req.expect_continue;
	r->tunnel = f->req.tunnel;
	r->start = f->req.start;
	r->head_start = f->req.head_start;
	r->head_end = f->req.head_end;
	r->hold_rc = hold ? lr_http_hold(f) : 1;
}

static void on_done(lr_http_framer *f, flog *lg, const char *stream)
{
	rec *r = &lg->r[lg->n - 1];
	lr_span raw = lr_http_held(f), body;

	r->done = 1;
	r->held = f->req.held;
	r->end = f->req.end;
	r->body_len = f->req.body_len;
	if (f->req.held || f->req.end == f->req.head_end) {
		r->raw_ok = raw.len == f->req.end - f->req.start &&
			memcmp(raw.p, stream + f->req.start, raw.len) == 0;
		if (lr_http_body(f, &body) == 0) {
			r->body_n = body.len;
			copy_span(r->body_bytes, sizeof(r->body_bytes), body);
		}
	}
}

/* Feeds p[0..n) to f until used up or an error; logs events. */
static void feed_piece(lr_http_framer *f, const char *stream, const char *p, size_t n,
	int hold, flog *lg)
{
	while (n > 0 && !lg->err) {
		int rc = lr_http_feed(f, p, n);
		if (rc < 0) {
			lg->err = rc;
			lg->stop = f->stop;
			break;
		}
		if (f->ev & LR_HTTP_EV_HEAD)
			on_head(f, lg, hold);
		if ((f->ev & LR_HTTP_EV_DONE) && lg->n)
			on_done(f, lg, stream);
		p += rc;
		n -= (size_t)rc;
	}
	lg->pos = f->pos;
}

/* The stream in pieces of `step` bytes (0: whole), or cut once at `cut`. */
static void frame(const char *s, size_t n, size_t step, size_t cut, int hold, flog *lg)
{
	lr_http_framer f;
	size_t i;

	memset(lg, 0, sizeof(*lg));
	lr_http_framer_init(&f);
	if (cut) {
		feed_piece(&f, s, s, cut, hold, lg);
		feed_piece(&f, s, s + cut, n - cut, hold, lg);
	} else {
		for (i = 0; i < n; i += step ? step : n)
			feed_piece(&f, s, s + i, step && n - i > step ? step : n - i, hold, lg);
	}
	lr_http_framer_free(&f);
}

static void frame_str(const char *s, flog *lg, int hold)
{
	frame(s, strlen(s), 0, 0, hold, lg);
}

/* Whole, byte by byte, and cut at every offset: all must log the same. */
static void check_splits(const char *s, size_t n, int hold)
{
	flog whole, part;
	size_t cut;

	frame(s, n, 0, 0, hold, &whole);
	frame(s, n, 1, 0, hold, &part);
	CHECK(memcmp(&whole, &part, sizeof(whole)) == 0);
	for (cut = 1; cut < n; cut++) {
		frame(s, n, 0, cut, hold, &part);
		lr_test_checks++;
		if (memcmp(&whole, &part, sizeof(whole)) != 0) {
			lr_test_failed++;
			fprintf(stderr, "%s:%d: split at %zu differs\n", __FILE__, __LINE__, cut);
			return;
		}
	}
}

/* --- framing --------------------------------------------------------------- */

#define CL_REQ "POST /v1/chat/completions?api-version=1 HTTP/1.1\r\n" \
	"Host: api.openai.com\r\n" \
	"Content-Type: application/json\r\n" \
	"Content-Length: 17\r\n" \
	"\r\n" \
	"{\"model\":\"gpt-4\"}"

#define CHUNKED_REQ "POST /v1/messages HTTP/1.1\r\n" \
	"host: api.anthropic.com\r\n" \
	"Transfer-Encoding: Chunked\r\n" \
	"\r\n" \
	"5;name=value\r\n" \
	"hello\r\n" \
	"6 ;a=\"q s\";b\r\n" \
	" world\r\n" \
	"A\r\n" \
	"0123456789\r\n" \
	"000\r\n" \
	"X-Checksum: abc\r\n" \
	"X-Other:\r\n" \
	"\r\n"

static void test_content_length(void)
{
	flog lg;
	size_t headlen = strlen(CL_REQ) - 17;

	frame_str(CL_REQ, &lg, 1);
	CHECK_INT(lg.err, 0);
	CHECK_INT(lg.n, 1);
	CHECK_STR(lg.r[0].method, "POST");
	CHECK_STR(lg.r[0].target, "/v1/chat/completions?api-version=1");
	CHECK_STR(lg.r[0].host, "api.openai.com");
	CHECK_INT(lg.r[0].body, LR_HTTP_BODY_LENGTH);
	CHECK_INT(lg.r[0].cl, 17);
	CHECK_INT(lg.r[0].start, 0);
	CHECK_INT(lg.r[0].head_start, 0);
	CHECK_INT(lg.r[0].head_end, headlen);
	CHECK_INT(lg.r[0].end, strlen(CL_REQ));
	CHECK_INT(lg.r[0].hold_rc, 0);
	CHECK(lg.r[0].done && lg.r[0].held && lg.r[0].raw_ok);
	CHECK_STR(lg.r[0].body_bytes, "{\"model\":\"gpt-4\"}");
	CHECK_INT(lg.pos, strlen(CL_REQ));

	/* unheld: same framing, nothing of the body kept */
	frame_str(CL_REQ, &lg, 0);
	CHECK(lg.err == 0 && lg.n == 1 && lg.r[0].done && !lg.r[0].held);
	CHECK_INT(lg.r[0].end, strlen(CL_REQ));
	CHECK_INT(lg.r[0].body_n, 0);

	/* Content-Length: 0 and OWS around the value */
	frame_str("POST /a HTTP/1.1\r\nContent-Length: \t0 \r\n\r\n", &lg, 1);
	CHECK(lg.err == 0 && lg.n == 1 && lg.r[0].done && lg.r[0].raw_ok);
	CHECK(lg.r[0].body == LR_HTTP_BODY_LENGTH && lg.r[0].cl == 0 && !lg.r[0].has_host);
}

static void test_events(void)
{
	lr_http_framer f;
	const char *s = CL_REQ;
	size_t headlen = strlen(CL_REQ) - 17;
	lr_span b;
	int rc;

	lr_http_framer_init(&f);
	CHECK_INT(lr_http_hold(&f), LR_EINVAL); /* no head yet */
	CHECK_INT(lr_http_body(&f, &b), LR_EINVAL);
	CHECK_INT(lr_http_held(&f).len, 0);
	/* the head and two body bytes in one slice: stops at the head */
	rc = lr_http_feed(&f, s, headlen + 2);
	CHECK_INT(rc, headlen);
	CHECK_INT(f.ev, LR_HTTP_EV_HEAD);
	CHECK_INT(f.head.nheaders, 3);
	CHECK(lr_http_body(&f, &b) == LR_EINVAL); /* not done */
	rc = lr_http_feed(&f, s + headlen, 2);
	CHECK(rc == 2 && f.ev == 0);
	CHECK(lr_http_hold(&f) == LR_EINVAL); /* body bytes already went by */
	rc = lr_http_feed(&f, s + headlen + 2, 15);
	CHECK(rc == 15 && f.ev == LR_HTTP_EV_DONE && f.req.done);
	CHECK(lr_http_body(&f, &b) == LR_EINVAL); /* not held */
	CHECK_INT(lr_http_feed(&f, s, 0), 0);
	CHECK_INT(f.ev, 0);
	CHECK(f.req.done); /* n == 0 starts nothing */
	lr_http_framer_free(&f);
}

static void test_chunked(void)
{
	flog lg;

	frame_str(CHUNKED_REQ, &lg, 1);
	CHECK_INT(lg.err, 0);
	CHECK_INT(lg.n, 1);
	CHECK_STR(lg.r[0].host, "api.anthropic.com");
	CHECK_INT(lg.r[0].body, LR_HTTP_BODY_CHUNKED);
	CHECK_INT(lg.r[0].body_len, 21);
	CHECK_INT(lg.r[0].end, strlen(CHUNKED_REQ));
	CHECK(lg.r[0].raw_ok);
	CHECK_STR(lg.r[0].body_bytes, "hello world0123456789");
	CHECK_INT(lg.r[0].body_n, 21);
	check_splits(CHUNKED_REQ, strlen(CHUNKED_REQ), 1);

	/* no trailers, bare LF everywhere, uppercase hex */
	frame_str("POST /x HTTP/1.1\nTransfer-Encoding: chunked\n\n1F\n"
		"0123456789abcdef0123456789abcde\n0\n\n", &lg, 1);
	CHECK(lg.err == 0 && lg.r[0].done && lg.r[0].body_n == 31);

	/* a bare LF right after an extension */
	frame_str("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;e\nx\n0\n\n", &lg, 1);
	CHECK(lg.err == 0 && lg.r[0].done && lg.r[0].body_n == 1);

	/* an empty chunked body */
	frame_str("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &lg, 1);
	CHECK(lg.err == 0 && lg.r[0].done && lg.r[0].body_n == 0 && lg.r[0].raw_ok);
}

static void test_no_body(void)
{
	lr_http_framer f;
	const char *get = "GET /v1/models HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";
	lr_span b;

	lr_http_framer_init(&f);
	CHECK_INT(lr_http_feed(&f, get, strlen(get)), strlen(get));
	CHECK_INT(f.ev, LR_HTTP_EV_HEAD | LR_HTTP_EV_DONE);
	CHECK(f.req.body == LR_HTTP_BODY_NONE && f.req.done && f.req.end == strlen(get));
	CHECK(lr_http_hold(&f) == 0); /* nothing left to hold: fine */
	CHECK(lr_http_body(&f, &b) == 0 && b.len == 0);
	CHECK(lr_http_held(&f).len == strlen(get));
	lr_http_framer_free(&f);
}

static void test_pipelined(void)
{
	static const char s[] =
		"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
		CL_REQ
		CHUNKED_REQ
		"\r\n" /* an empty line between requests, as RFC 9112 2.2 allows */
		"DELETE /b HTTP/1.0\r\n\r\n";
	flog lg;
	int i;

	frame(s, sizeof(s) - 1, 0, 0, 1, &lg);
	CHECK_INT(lg.err, 0);
	CHECK_INT(lg.n, 4);
	CHECK_STR(lg.r[0].method, "GET");
	CHECK_STR(lg.r[1].method, "POST");
	CHECK_STR(lg.r[2].target, "/v1/messages");
	CHECK_STR(lg.r[3].method, "DELETE");
	for (i = 0; i < 4; i++)
		CHECK(lg.r[i].done && lg.r[i].raw_ok);
	for (i = 0; i < 3; i++)
		CHECK(lg.r[i].end == lg.r[i + 1].start);
	CHECK_INT(lg.r[3].head_start, lg.r[3].start + 2);
	CHECK_INT(lg.r[3].end, sizeof(s) - 1);
	CHECK_STR(lg.r[1].body_bytes, "{\"model\":\"gpt-4\"}");
	CHECK_STR(lg.r[2].body_bytes, "hello world0123456789");
	check_splits(s, sizeof(s) - 1, 1);
	check_splits(s, sizeof(s) - 1, 0);
}

static void test_two_request_splits(void)
{
	static const char s[] = CL_REQ CHUNKED_REQ;
	flog whole;

	frame(s, sizeof(s) - 1, 0, 0, 1, &whole);
	CHECK(whole.err == 0 && whole.n == 2 && whole.r[1].done);
	check_splits(s, sizeof(s) - 1, 1);
	check_splits(s, sizeof(s) - 1, 0);
}

static void test_bare_lf(void)
{
	static const char s[] = "POST /v1/chat/completions HTTP/1.1\n"
		"Host: h\n"
		"Content-Length: 2\r\n" /* mixed line ends */
		"\n"
		"hiGET / HTTP/1.1\n\n";
	flog lg;

	frame(s, sizeof(s) - 1, 0, 0, 1, &lg);
	CHECK(lg.err == 0 && lg.n == 2);
	CHECK_STR(lg.r[0].host, "h");
	CHECK_STR(lg.r[0].body_bytes, "hi");
	CHECK(lg.r[1].done && lg.r[1].end == sizeof(s) - 1);
	check_splits(s, sizeof(s) - 1, 1);
}

/* Expects `s` to fail with err/stop, whole and split, and stay failed. */
static void bad_case(int line, const char *s, size_t n, int err, int stop)
{
	lr_http_framer f;
	flog lg;
	int rc = 0;
	size_t i;

	frame(s, n, 0, 0, 1, &lg);
	lr_test_checks++;
	if (lg.err != err || lg.stop != stop) {
		lr_test_failed++;
		fprintf(stderr, "%s:%d: got %d/%d, expected %d/%d\n", __FILE__, line,
			lg.err, lg.stop, err, stop);
	}
	frame(s, n, 1, 0, 1, &lg);
	CHECK(lg.err == err);
	lr_http_framer_init(&f);
	for (i = 0; i < n && rc >= 0; i += rc > 0 ? (size_t)rc : 0)
		rc = lr_http_feed(&f, s + i, n - i);
	CHECK(rc == err && lr_http_feed(&f, "GET / HTTP/1.1\r\n\r\n", 18) == err);
	CHECK(f.stop == stop);
	lr_http_framer_free(&f);
}

#define BAD(s, err, stop) bad_case(__LINE__, s, sizeof(s) - 1, err, stop)
#define MALFORMED(s) BAD(s, LR_EPARSE, LR_HTTP_STOP_MALFORMED)
#define NOT_H1(s) BAD(s, LR_EPARSE, LR_HTTP_STOP_NOT_HTTP1)

static void test_garbage(void)
{
	NOT_H1("hello world, this is not http\r\n\r\n");
	NOT_H1("GET  / HTTP/1.1\r\n\r\n");
	NOT_H1("GET / HTTP/2.0\r\n\r\n");
	NOT_H1("GET / HTTP/1.1 \r\n\r\n");
	NOT_H1("GET /\r\n\r\n");             /* HTTP/0.9 */
	NOT_H1("GET / http/1.1\r\n\r\n");
	NOT_H1("GET /a\x01 HTTP/1.1\r\n\r\n");
	NOT_H1("GET /a\0b HTTP/1.1\r\n\r\n");
	NOT_H1("G(T / HTTP/1.1\r\n\r\n");
	NOT_H1(" GET / HTTP/1.1\r\n\r\n");
	NOT_H1("\r\r\nGET / HTTP/1.1\r\n\r\n");
	NOT_H1("GET / HTTP/1.1\r\r\n\r\n");
	NOT_H1("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
	NOT_H1("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ / HTTP/1.1\r\n\r\n");
	MALFORMED("GET / HTTP/1.1\r\nNo colon here\r\n\r\n");
	MALFORMED("GET / HTTP/1.1\r\nName : v\r\n\r\n");
	MALFORMED("GET / HTTP/1.1\r\n: v\r\n\r\n");
	MALFORMED("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n");
	MALFORMED("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n");
	MALFORMED("GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n");
	MALFORMED("GET / HTTP/1.1\r\nA: b\0\r\n\r\n");
	MALFORMED("GET / HTTP/1.1\r\n\r \r\n\r\n");
	MALFORMED("GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n");
	/* chunked bodies */
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n");
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n");
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\n");
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n");
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n");
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\rab\r\n");
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;a\x01\r\n");
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n");
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\rb\r\n\r\n");
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\rx");
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		"80000000000000000\r\n");
}

static void test_content_length_errors(void)
{
	flog lg;

	MALFORMED("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n");
	MALFORMED("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello");
	MALFORMED("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello");
	MALFORMED("POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\nhello!");
	MALFORMED("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello");
	MALFORMED("POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\nhello");
	MALFORMED("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n");
	MALFORMED("POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n");
	MALFORMED("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n");
	MALFORMED("POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n");
	MALFORMED("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n");
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n");
	MALFORMED("POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n");
	MALFORMED("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");

	/* the largest accepted length frames fine; holding it is too big */
	frame_str("POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\nabc", &lg, 1);
	CHECK(lg.err == 0 && lg.n == 1 && !lg.r[0].done);
	CHECK(lg.r[0].cl == 9223372036854775807ULL && lg.r[0].hold_rc == LR_ETOOBIG);
	CHECK_INT(lg.pos, strlen("POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\nabc"));
	frame_str("POST / HTTP/1.1\r\nContent-Length: 000012\r\n\r\nhello world!", &lg, 1);
	CHECK(lg.err == 0 && lg.r[0].cl == 12 && lg.r[0].done);
}

static void test_other_protocols(void)
{
	static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
	static const char h2[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	lr_http_framer f;

	NOT_H1("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n\n");
	NOT_H1("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
	/* from the very first byte / the method's end, nothing consumed */
	lr_http_framer_init(&f);
	CHECK(lr_http_feed(&f, tls, 1) == LR_EPARSE && f.stop == LR_HTTP_STOP_NOT_HTTP1);
	CHECK(f.pos == 0 && f.cap == 0); /* no buffer was even allocated */
	lr_http_framer_free(&f);
	lr_http_framer_init(&f);
	CHECK_INT(lr_http_feed(&f, h2, 3), 3); /* "PRI" could still be a method */
	CHECK(lr_http_feed(&f, h2 + 3, 1) == LR_EPARSE && f.stop == LR_HTTP_STOP_NOT_HTTP1);
	lr_http_framer_free(&f);

	CHECK_INT(lr_http_sniff("", 0), 0);
	CHECK_INT(lr_http_sniff("\r\n", 2), 0);
	CHECK_INT(lr_http_sniff("\r", 1), 0);
	CHECK_INT(lr_http_sniff("POS", 3), 0);
	CHECK_INT(lr_http_sniff("POST ", 5), 1);
	CHECK_INT(lr_http_sniff("\r\n\nM-SEARCH * HTTP/1.1", 22), 1);
	CHECK_INT(lr_http_sniff(tls, 1), LR_EPARSE);
	CHECK_INT(lr_http_sniff("PRI", 3), 0);
	CHECK_INT(lr_http_sniff(h2, 4), LR_EPARSE);
	CHECK_INT(lr_http_sniff(" GET", 4), LR_EPARSE);
	CHECK_INT(lr_http_sniff("\rX", 2), LR_EPARSE);
	CHECK_INT(lr_http_sniff("{\"model\"", 8), LR_EPARSE);
	CHECK_INT(lr_http_sniff("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF", 32), 0);
	CHECK_INT(lr_http_sniff("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", 33), LR_EPARSE);
}

static void test_tunnel_and_expect(void)
{
	flog lg;
	lr_http_framer f;
	const char *c = "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n";

	lr_http_framer_init(&f);
	CHECK_INT(lr_http_feed(&f, c, strlen(c)), strlen(c));
	CHECK(f.ev == (LR_HTTP_EV_HEAD | LR_HTTP_EV_DONE) && f.req.tunnel);
	CHECK_INT(lr_http_feed(&f, "\x16\x03\x01", 3), LR_EPARSE);
	CHECK_INT(f.stop, LR_HTTP_STOP_TUNNEL);
	lr_http_framer_free(&f);
	BAD("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x85",
		LR_EPARSE, LR_HTTP_STOP_TUNNEL);

	frame_str("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx", &lg, 1);
	CHECK(lg.err == 0 && lg.r[0].expect && lg.r[0].done);
	frame_str("POST / HTTP/1.1\r\nExpect: x\r\nContent-Length: 1\r\n\r\nx", &lg, 1);
	CHECK(lg.err == 0 && !lg.r[0].expect);
}

/* --- caps ------------------------------------------------------------------ */

/* A head of exactly `len` bytes: "GET / HTTP/1.1\r\nX: aaa...\r\n\r\n". */
static char *head_of(size_t len)
{
	char *s = malloc(len + 1);
	size_t fixed = strlen("GET / HTTP/1.1\r\nX: \r\n\r\n");

	memcpy(s, "GET / HTTP/1.1\r\nX: ", 19);
	memset(s + 19, 'a', len - fixed);
	memcpy(s + len - 4, "\r\n\r\n", 5);
	return s;
}

static void test_head_cap(void)
{
	char *s = head_of(LR_HTTP_MAX_HEAD);
	lr_http_framer f;
	lr_http_head h;
	int rc, i;

	lr_http_framer_init(&f);
	CHECK_INT(lr_http_feed(&f, s, LR_HTTP_MAX_HEAD), LR_HTTP_MAX_HEAD);
	CHECK(f.ev & LR_HTTP_EV_DONE);
	CHECK_INT(lr_http_parse_head(s, LR_HTTP_MAX_HEAD, &h), LR_HTTP_MAX_HEAD);
	lr_http_framer_free(&f);
	free(s);

	s = head_of(LR_HTTP_MAX_HEAD + 1);
	lr_http_framer_init(&f);
	CHECK_INT(lr_http_feed(&f, s, LR_HTTP_MAX_HEAD + 1), LR_ETOOBIG);
	CHECK_INT(f.stop, LR_HTTP_STOP_TOOBIG);
	lr_http_framer_free(&f);
	/* the same in small slices: the cap is on the head, not on a slice */
	lr_http_framer_init(&f);
	for (i = 0, rc = 0; rc >= 0 && i <= (int)LR_HTTP_MAX_HEAD; i += rc)
		rc = lr_http_feed(&f, s + i, 1000 < LR_HTTP_MAX_HEAD + 1 - i ? 1000 :
			LR_HTTP_MAX_HEAD + 1 - i);
	CHECK(rc == LR_ETOOBIG && f.stop == LR_HTTP_STOP_TOOBIG);
	lr_http_framer_free(&f);
	CHECK_INT(lr_http_parse_head(s, LR_HTTP_MAX_HEAD + 1, &h), LR_ETOOBIG);
	CHECK_INT(lr_http_parse_head(s, LR_HTTP_MAX_HEAD, &h), LR_ETOOBIG);
	CHECK_INT(lr_http_parse_head(s, 100, &h), LR_ENOTFOUND);
	free(s);

	/* empty lines before the request line count towards the cap */
	s = malloc(LR_HTTP_MAX_HEAD + 2);
	for (i = 0; i < (int)LR_HTTP_MAX_HEAD; i += 2)
		memcpy(s + i, "\r\n", 2);
	lr_http_framer_init(&f);
	CHECK_INT(lr_http_feed(&f, s, LR_HTTP_MAX_HEAD), LR_HTTP_MAX_HEAD);
	CHECK_INT(lr_http_feed(&f, "G", 1), LR_ETOOBIG);
	lr_http_framer_free(&f);
	free(s);
}

/* A request with `n` field lines. */
static char *many_headers(int n, size_t *len)
{
	char *s = malloc(64 + (size_t)n * 16);
	size_t k = (size_t)sprintf(s, "GET / HTTP/1.1\r\n");
	int i;

	for (i = 0; i < n; i++)
		k += (size_t)sprintf(s + k, "X-%d: v\r\n", i);
	k += (size_t)sprintf(s + k, "\r\n");
	*len = k;
	return s;
}

static void test_header_count_cap(void)
{
	lr_http_head h;
	lr_http_framer f;
	size_t len;
	char *s = many_headers(LR_HTTP_MAX_HEADERS, &len);

	CHECK_INT(lr_http_parse_head(s, len, &h), len);
	CHECK_INT(h.nheaders, LR_HTTP_MAX_HEADERS);
	free(s);
	s = many_headers(LR_HTTP_MAX_HEADERS + 1, &len);
	CHECK_INT(lr_http_parse_head(s, len, &h), LR_ETOOBIG);
	lr_http_framer_init(&f);
	CHECK_INT(lr_http_feed(&f, s, len), LR_ETOOBIG);
	CHECK_INT(f.stop, LR_HTTP_STOP_TOOBIG);
	lr_http_framer_free(&f);
	free(s);
}

static void test_chunk_line_cap(void)
{
	char s[LR_HTTP_MAX_CHUNK_LINE + 128];
	const char *h = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
	size_t hl = strlen(h), ext = LR_HTTP_MAX_CHUNK_LINE - 4, i;
	lr_http_framer f;

	/* "1;xxx...\r\n": exactly the cap is fine, one more byte is not */
	memcpy(s, h, hl);
	memcpy(s + hl, "1;", 2);
	memset(s + hl + 2, 'x', ext);
	memcpy(s + hl + 2 + ext, "\r\na\r\n0\r\n\r\n", 11);
	lr_http_framer_init(&f);
	CHECK_INT(lr_http_feed(&f, s, hl), hl);
	CHECK_INT(lr_http_feed(&f, s + hl, strlen(s + hl)), strlen(s + hl));
	CHECK(f.req.done);
	lr_http_framer_free(&f);
	/* trailer fields count towards the head cap */
	lr_http_framer_init(&f);
	CHECK_INT(lr_http_feed(&f, h, hl), hl);
	CHECK_INT(lr_http_feed(&f, "0\r\n", 3), 3);
	for (i = 0; i < LR_HTTP_MAX_HEAD / 8; i++)
		CHECK(lr_http_feed(&f, "X: abc\r\n", 8) == 8);
	CHECK_INT(lr_http_feed(&f, "\r\n", 2), LR_ETOOBIG);
	CHECK_INT(f.stop, LR_HTTP_STOP_TOOBIG);
	lr_http_framer_free(&f);
	memcpy(s + hl, "1;x", 3);
	memset(s + hl + 3, 'x', ext);
	memcpy(s + hl + 3 + ext, "\r\na\r\n0\r\n\r\n", 11);
	lr_http_framer_init(&f);
	CHECK_INT(lr_http_feed(&f, s, hl), hl);
	CHECK_INT(lr_http_feed(&f, s + hl, strlen(s + hl)), LR_ETOOBIG);
	CHECK_INT(f.stop, LR_HTTP_STOP_TOOBIG);
	lr_http_framer_free(&f);
}

/* Holding a chunked body past LR_HTTP_MAX_BODY stops holding, and nothing
 * else: the caller flushes what was held and framing carries on. */
static void test_body_cap(void)
{
	const char *h = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
	const char *tail = "\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
	size_t hl = strlen(h), data = LR_HTTP_MAX_BODY, n, i;
	char size_line[32], *big = malloc(data);
	lr_http_framer f;
	lr_span held;
	int rc;

	memset(big, 'z', data);
	n = (size_t)sprintf(size_line, "%zx\r\n", data);
	lr_http_framer_init(&f);
	CHECK_INT(lr_http_feed(&f, h, hl), hl);
	CHECK_INT(lr_http_hold(&f), 0);
	CHECK_INT(lr_http_feed(&f, size_line, n), n);
	rc = lr_http_feed(&f, big, data); /* fills up to the cap exactly */
	CHECK_INT(rc, data - n);
	i = rc > 0 ? (size_t)rc : 0;
	CHECK_INT(lr_http_feed(&f, big + i, data - i), LR_ETOOBIG);
	CHECK(f.stop == LR_HTTP_STOP_NONE && !f.req.held && f.pos == hl + data);
	held = lr_http_held(&f);
	CHECK(held.len == hl + data && memcmp(held.p, h, hl) == 0);
	CHECK_INT(lr_http_feed(&f, big + i, data - i), data - i);
	CHECK_INT(lr_http_feed(&f, tail, strlen(tail)), 7);
	CHECK(f.req.done && f.req.body_len == data && f.req.end == hl + n + data + 7);
	CHECK_INT(lr_http_feed(&f, tail + 7, strlen(tail) - 7), strlen(tail) - 7);
	CHECK(f.req.done && f.req.target.len == 5);
	lr_http_framer_free(&f);

	/* a Content-Length over the cap is refused when asked to hold */
	lr_http_framer_init(&f);
	h = "POST / HTTP/1.1\r\nContent-Length: 67108865\r\n\r\n";
	CHECK_INT(lr_http_feed(&f, h, strlen(h)), strlen(h));
	CHECK_INT(lr_http_hold(&f), LR_ETOOBIG);
	CHECK(!f.req.held && f.cap <= LR_HTTP_MAX_HEAD);
	CHECK_INT(lr_http_feed(&f, big, 100), 100);
	lr_http_framer_free(&f);
	/* exactly the cap is held */
	lr_http_framer_init(&f);
	h = "POST / HTTP/1.1\r\nContent-Length: 67108864\r\n\r\n";
	CHECK_INT(lr_http_feed(&f, h, strlen(h)), strlen(h));
	CHECK_INT(lr_http_hold(&f), 0);
	CHECK_INT(lr_http_feed(&f, big, data), data);
	CHECK(f.req.done && lr_http_held(&f).len == strlen(h) + data);
	lr_http_framer_free(&f);
	free(big);
}

/* --- head parser ------------------------------------------------------------ */

static int span_is(lr_span v, const char *s)
{
	return v.len == strlen(s) && memcmp(v.p, s, v.len) == 0;
}

static void test_parse_head(void)
{
	static const char s[] = "PATCH http://example.com/x?y HTTP/1.0\r\n"
		"Host:example.com\r\n"
		"X-Empty:\r\n"
		"X-Spaces: \t a  b \t\r\n"
		"x-dup: 1\n"
		"X-DUP: 2\r\n"
		"X-Obs: caf\xc3\xa9\r\n"
		"\r\nBODY";
	lr_http_head h;
	int rc = lr_http_parse_head(s, sizeof(s) - 1, &h);

	CHECK_INT(rc, sizeof(s) - 1 - 4);
	CHECK(span_is(h.method, "PATCH"));
	CHECK(span_is(h.target, "http://example.com/x?y"));
	CHECK_INT(h.minor, 0);
	CHECK_INT(h.nheaders, 6);
	CHECK(span_is(h.headers[0].name, "Host") && span_is(h.headers[0].value, "example.com"));
	CHECK(span_is(h.headers[1].value, "") && h.headers[1].value.p);
	CHECK(span_is(h.headers[2].value, "a  b"));
	CHECK(span_is(h.headers[3].line, "x-dup: 1\n"));
	CHECK(span_is(h.headers[4].line, "X-DUP: 2\r\n"));
	CHECK(span_is(h.headers[5].value, "caf\xc3\xa9"));
	CHECK(span_is(h.line, "PATCH http://example.com/x?y HTTP/1.0\r\n"));
	CHECK_INT(lr_http_header_find(&h, "HOST", 0), 0);
	CHECK_INT(lr_http_header_find(&h, "X-Dup", 0), 3);
	CHECK_INT(lr_http_header_find(&h, "x-dup", 4), 4);
	CHECK_INT(lr_http_header_find(&h, "x-dup", 5), LR_ENOTFOUND);
	CHECK_INT(lr_http_header_find(&h, "x-du", 0), LR_ENOTFOUND);
	CHECK_INT(lr_http_header_find(&h, "x-dupe", 0), LR_ENOTFOUND);
	CHECK(lr_http_header_is(&h.headers[0], "hOsT"));
	CHECK(!lr_http_header_is(&h.headers[0], "hos"));

	CHECK_INT(lr_http_parse_head(s, 10, &h), LR_ENOTFOUND);
	CHECK_INT(lr_http_parse_head(s, sizeof(s) - 7, &h), LR_ENOTFOUND);
	CHECK_INT(lr_http_parse_head("", 0, &h), LR_ENOTFOUND);
	CHECK_INT(lr_http_parse_head(NULL, 0, &h), LR_ENOTFOUND);
	CHECK_INT(lr_http_parse_head("GET / HTTP/1.1\n\n", 16, &h), 16);
	CHECK_INT(h.nheaders, 0);
	CHECK_INT(lr_http_parse_head("GET / HTTP/1.1\r\n\r\n", 18, NULL), LR_EINVAL);
	CHECK_INT(lr_http_parse_head("GET / HTTP/1.1\r\nA: b\r\n x\r\n\r\n", 28, &h), LR_EPARSE);
	CHECK_INT(lr_http_parse_head("PRI * HTTP/1.1\r\n\r\n", 18, &h), LR_EPARSE);
}

/* --- rewriter ---------------------------------------------------------------- */

static void check_bytes(int line, const char *got, size_t gotlen, const char *want)
{
	size_t wantlen = strlen(want);

	lr_test_checks++;
	if (got && gotlen == wantlen && memcmp(got, want, wantlen) == 0)
		return;
	lr_test_failed++;
	fprintf(stderr, "%s:%d: output differs\n--- got:\n%.*s\n--- want:\n%s\n---\n",
		__FILE__, line, got ? (int)gotlen : 6, got ? got : "(null)", want);
}

/* 1 if p[0..n) frames as exactly one complete request. */
static int frames_as_one(const char *p, size_t n)
{
	lr_http_framer g;
	size_t i = 0;
	int heads = 0, ok;

	lr_http_framer_init(&g);
	while (i < n) {
		int rc = lr_http_feed(&g, p + i, n - i);
		if (rc < 0)
			break;
		heads += (g.ev & LR_HTTP_EV_HEAD) != 0;
		i += (size_t)rc;
		if (g.ev & LR_HTTP_EV_DONE)
			break;
	}
	ok = i == n && heads == 1 && g.req.done && g.req.end == n;
	lr_http_framer_free(&g);
	return ok;
}

/* Frames `in` (one request, held), rewrites it with e, compares with want
 * (NULL: expects rc), and checks the output frames as one request again. */
static void rw_case(int line, const char *in, const lr_http_edits *e, int want_rc,
	const char *want)
{
	lr_http_framer f;
	lr_span body;
	char *out = (char *)1;
	size_t outlen = 9, n = strlen(in);
	int rc;

	lr_http_framer_init(&f);
	rc = lr_http_feed(&f, in, n);
	if (rc >= 0 && !(f.ev & LR_HTTP_EV_DONE) && lr_http_hold(&f) == 0)
		rc = lr_http_feed(&f, in + rc, n - (size_t)rc);
	lr_test_checks++;
	if (rc < 0 || !f.req.done || lr_http_body(&f, &body) < 0) {
		lr_test_failed++;
		fprintf(stderr, "%s:%d: input does not frame (%d)\n", __FILE__, line, rc);
		lr_http_framer_free(&f);
		return;
	}
	rc = lr_http_rewrite(&f.head, body.p, body.len, e, &out, &outlen);
	lr_test_checks++;
	if (rc != want_rc) {
		lr_test_failed++;
		fprintf(stderr, "%s:%d: rc %d, expected %d\n", __FILE__, line, rc, want_rc);
	}
	if (rc < 0) {
		CHECK(out == NULL && outlen == 0);
	} else {
		check_bytes(line, out, outlen, want);
		CHECK(out[outlen] == '\0');
		CHECK(frames_as_one(out, outlen));
	}
	free(rc == 0 ? out : NULL);
	lr_http_framer_free(&f);
}

#define RW(in, e, want) rw_case(__LINE__, in, e, 0, want)
#define RW_FAIL(in, e, rc) rw_case(__LINE__, in, e, rc, NULL)

static lr_span sp(const char *s)
{
	lr_span v = { s, strlen(s) };
	return v;
}

#define APP_REQ "POST /v1/chat/completions HTTP/1.1\r\n" \
	"Host: api.openai.com\r\n" \
	"User-Agent: python-requests/2.31.0\r\n" \
	"Accept-Encoding: gzip, deflate\r\n" \
	"authorization: Bearer sk-app\r\n" \
	"Connection: keep-alive\r\n" \
	"content-length: 17\r\n" \
	"X-Trace:  keep   this \r\n" \
	"\r\n" \
	"{\"model\":\"gpt-4\"}"

static void test_rewrite_identity(void)
{
	lr_http_edits e = { .cred = LR_CRED_KEEP };
	static const char *same[] = {
		APP_REQ,
		"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n\r\n",
		"GET / HTTP/1.0\n\n",
		"POST /x HTTP/1.1\nHost:  h \nContent-Length: 2\nExpect: 100-continue\n\nhi",
		"POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
		"POST /x HTTP/1.1\r\nContent-Length:  003 \r\n\r\nabc", /* same number */
	};
	size_t i;

	for (i = 0; i < sizeof(same) / sizeof(*same); i++)
		RW(same[i], &e, same[i]);
	/* leading empty lines are not part of the head: they are not re-sent */
	RW("\r\n\nGET / HTTP/1.1\r\n\r\n", &e, "GET / HTTP/1.1\r\n\r\n");
}

static void test_rewrite_route(void)
{
	lr_http_edits e = { .cred = LR_CRED_DROP };

	e.target = sp("/v1/chat/completions?route=1");
	e.host = sp("localhost:11434");
	RW(APP_REQ, &e,
		"POST /v1/chat/completions?route=1 HTTP/1.1\r\n"
		"Host: localhost:11434\r\n"
		"User-Agent: python-requests/2.31.0\r\n"
		"Accept-Encoding: gzip, deflate\r\n"
		"Connection: keep-alive\r\n"
		"content-length: 17\r\n"
		"X-Trace:  keep   this \r\n"
		"\r\n"
		"{\"model\":\"gpt-4\"}");

	/* new body: Content-Length follows, its spelling kept */
	e.target = (lr_span){ NULL, 0 };
	e.host = (lr_span){ NULL, 0 };
	e.cred = LR_CRED_KEEP;
	e.body = sp("{\"model\":\"gpt-4o-mini\"}");
	RW(APP_REQ, &e,
		"POST /v1/chat/completions HTTP/1.1\r\n"
		"Host: api.openai.com\r\n"
		"User-Agent: python-requests/2.31.0\r\n"
		"Accept-Encoding: gzip, deflate\r\n"
		"authorization: Bearer sk-app\r\n"
		"Connection: keep-alive\r\n"
		"content-length: 23\r\n"
		"X-Trace:  keep   this \r\n"
		"\r\n"
		"{\"model\":\"gpt-4o-mini\"}");
}

static void test_rewrite_auth(void)
{
	static const char in[] = "POST /v1/messages HTTP/1.1\r\n"
		"AUTHORIZATION: Basic dXNlcg==\r\n"
		"Host: api.anthropic.com\r\n"
		"X-API-KEY: sk-ant\r\n"
		"x-goog-api-key: g\r\n"
		"Api-Key: azure\r\n"
		"Proxy-Authorization: Basic cHJveHk=\r\n"
		"api-key-extra: dropped\r\n"
		"x-api-keys: dropped\r\n"
		"x-portkey-api-key: dropped\r\n"
		"Cookie: session=dropped\r\n"
		"anthropic-version: 2023-06-01\r\n"
		"Content-Length: 2\r\n"
		"\r\n"
		"{}";
	/* on the same host, only the provider key headers go */
#define SAME "POST /v1/messages HTTP/1.1\r\n" \
		"Host: api.anthropic.com\r\n" \
		"Proxy-Authorization: Basic cHJveHk=\r\n" \
		"api-key-extra: dropped\r\n" \
		"x-api-keys: dropped\r\n" \
		"x-portkey-api-key: dropped\r\n" \
		"Cookie: session=dropped\r\n" \
		"anthropic-version: 2023-06-01\r\n" \
		"Content-Length: 2\r\n"
	/* moved to another host, every credential-like name goes too
	 * (api-key-extra, x-api-keys, a gateway's key, a cookie); the proxy's
	 * credentials and the rest stay */
#define KEPT "POST /v1/messages HTTP/1.1\r\n" \
		"Host: api.anthropic.com\r\n" \
		"Proxy-Authorization: Basic cHJveHk=\r\n" \
		"anthropic-version: 2023-06-01\r\n" \
		"Content-Length: 2\r\n"
	lr_http_edits e = { .cred = LR_CRED_DROP };

	RW(in, &e, SAME "\r\n{}");
	e.moved = 1;
	RW(in, &e, KEPT "\r\n{}");
	e.cred = LR_CRED_REPLACE;
	e.auth_name = "x-api-key";
	e.auth_value = "sk-ant-routed";
	RW(in, &e, KEPT "x-api-key: sk-ant-routed\r\n\r\n{}");
	e.auth_name = "Authorization";
	e.auth_value = "Bearer sk-new";
	RW("GET /v1/models HTTP/1.1\nhost: a\nAuthorization: Bearer old\n\n", &e,
		"GET /v1/models HTTP/1.1\nhost: a\nAuthorization: Bearer sk-new\r\n\n");
	e.cred = LR_CRED_KEEP;
	RW(in, &e, in);
#undef KEPT
#undef SAME
}

static void test_rewrite_chunked(void)
{
	static const char in[] = "POST /v1/chat/completions HTTP/1.1\r\n"
		"Host: api.openai.com\r\n"
		"Expect: 100-continue\r\n"
		"transfer-encoding: chunked\r\n"
		"Authorization: Bearer sk-app\r\n"
		"\r\n"
		"5;ext=1\r\n{\"a\":\r\n"
		"3\r\n12}\r\n"
		"0\r\nX-Trailer: t\r\n\r\n";
	lr_http_edits e = { .cred = LR_CRED_KEEP };

	/* de-chunked and sent with Content-Length where Transfer-Encoding was;
	 * Expect goes since we send the whole body at once */
	RW(in, &e, "POST /v1/chat/completions HTTP/1.1\r\n"
		"Host: api.openai.com\r\n"
		"Content-Length: 8\r\n"
		"Authorization: Bearer sk-app\r\n"
		"\r\n"
		"{\"a\":12}");
	e.body = sp("{\"a\":1234}");
	e.cred = LR_CRED_REPLACE;
	e.auth_name = "Authorization";
	e.auth_value = "Bearer sk-routed";
	RW(in, &e, "POST /v1/chat/completions HTTP/1.1\r\n"
		"Host: api.openai.com\r\n"
		"Content-Length: 10\r\n"
		"Authorization: Bearer sk-routed\r\n"
		"\r\n"
		"{\"a\":1234}");
}

static void test_rewrite_expect(void)
{
	static const char in[] = "POST /x HTTP/1.1\r\nHost: h\r\nEXPECT: 100-CONTINUE\r\n"
		"Content-Length: 2\r\n\r\nhi";
	lr_http_edits e = { .cred = LR_CRED_KEEP };

	RW(in, &e, in); /* the body is the app's: the expectation stays */
	e.body = sp("hello");
	RW(in, &e, "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
	/* another expectation is not ours to drop */
	RW("POST /x HTTP/1.1\r\nExpect: other\r\nContent-Length: 2\r\n\r\nhi", &e,
		"POST /x HTTP/1.1\r\nExpect: other\r\nContent-Length: 5\r\n\r\nhello");
}

static void test_rewrite_added(void)
{
	lr_http_edits e = { .cred = LR_CRED_KEEP };

	/* no Host (HTTP/1.0): added right after the request line */
	e.host = sp("[::1]:8080");
	RW("GET /a HTTP/1.0\nAccept: */*\n\n", &e,
		"GET /a HTTP/1.0\nHost: [::1]:8080\r\nAccept: */*\n\n");
	/* a body where there was none: Content-Length last */
	e.host = (lr_span){ NULL, 0 };
	e.body = sp("{}");
	RW("POST /a HTTP/1.1\r\nHost: h\r\n\r\n", &e,
		"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}");
	e.body = sp("");
	RW("POST /a HTTP/1.1\r\nHost: h\r\n\r\n", &e, "POST /a HTTP/1.1\r\nHost: h\r\n\r\n");
	RW("POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", &e,
		"POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	/* bare-LF lines keep their LF when only their value changes */
	e.body = sp("abcd");
	RW("POST /a HTTP/1.1\nContent-Length: 3\n\nabc", &e,
		"POST /a HTTP/1.1\nContent-Length: 4\n\nabcd");
}

static void test_rewrite_errors(void)
{
	lr_http_edits e = { .cred = LR_CRED_KEEP };
	lr_http_head h;
	char *out = (char *)1, *big;
	size_t outlen = 1, len;
	const char *bad = "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";

	e.target = sp("/a b");
	RW_FAIL(APP_REQ, &e, LR_EINVAL);
	e.target = sp("");
	RW_FAIL(APP_REQ, &e, LR_EINVAL);
	e.target = (lr_span){ NULL, 0 };
	e.host = sp("evil\r\nX-Injected: 1");
	RW_FAIL(APP_REQ, &e, LR_EINVAL);
	e.host = sp("a b");
	RW_FAIL(APP_REQ, &e, LR_EINVAL);
	e.host = (lr_span){ NULL, 0 };
	e.cred = LR_CRED_REPLACE;
	e.auth_name = "Authorization";
	e.auth_value = "Bearer sk\r\nHost: evil";
	RW_FAIL(APP_REQ, &e, LR_EINVAL);
	e.auth_value = "Bearer sk\n";
	RW_FAIL(APP_REQ, &e, LR_EINVAL);
	e.auth_value = " Bearer sk";
	RW_FAIL(APP_REQ, &e, LR_EINVAL);
	e.auth_value = "";
	RW_FAIL(APP_REQ, &e, LR_EINVAL);
	e.auth_value = NULL;
	RW_FAIL(APP_REQ, &e, LR_EINVAL);
	e.auth_name = "Content-Length";
	e.auth_value = "0";
	RW_FAIL(APP_REQ, &e, LR_EINVAL);
	e.cred = 7;
	RW_FAIL(APP_REQ, &e, LR_EINVAL);

	/* framing the framer would refuse; a body for a bodiless request */
	e.cred = LR_CRED_KEEP;
	CHECK_INT(lr_http_parse_head(bad, strlen(bad), &h), strlen(bad));
	CHECK_INT(lr_http_rewrite(&h, "x", 1, &e, &out, &outlen), LR_EPARSE);
	CHECK(out == NULL && outlen == 0);
	CHECK_INT(lr_http_parse_head("GET / HTTP/1.1\r\n\r\n", 18, &h), 18);
	CHECK_INT(lr_http_rewrite(&h, "x", 1, &e, &out, &outlen), LR_EINVAL);
	e.body = sp("new");
	CHECK_INT(lr_http_rewrite(&h, NULL, 1, &e, &out, &outlen), LR_EINVAL);
	e.body = (lr_span){ NULL, 0 };
	CHECK_INT(lr_http_rewrite(&h, NULL, 0, NULL, &out, &outlen), LR_EINVAL);
	CHECK_INT(lr_http_rewrite(&h, NULL, 0, &e, NULL, &outlen), LR_EINVAL);

	/* a head we would not accept is not produced */
	big = malloc(LR_HTTP_MAX_HEAD);
	memset(big, 'k', LR_HTTP_MAX_HEAD - 1);
	big[LR_HTTP_MAX_HEAD - 1] = '\0';
	e.cred = LR_CRED_REPLACE;
	e.auth_name = "x-api-key";
	e.auth_value = big;
	RW_FAIL(APP_REQ, &e, LR_ETOOBIG);
	free(big);
	e.cred = LR_CRED_KEEP;
	e.host = sp("h");
	big = many_headers(LR_HTTP_MAX_HEADERS, &len);
	CHECK_INT(lr_http_parse_head(big, len, &h), len);
	CHECK_INT(lr_http_rewrite(&h, NULL, 0, &e, &out, &outlen), LR_ETOOBIG);
	e.host = (lr_span){ NULL, 0 };
	CHECK_INT(lr_http_rewrite(&h, NULL, 0, &e, &out, &outlen), 0);
	CHECK(outlen == len && memcmp(out, big, len) == 0);
	free(out);
	free(big);
}

/* --- error response ------------------------------------------------------------ */

static void test_error_response(void)
{
	static const char *const path[] = { "error", "message" };
	char *out = (char *)1, msg[64], *big;
	size_t outlen = 1;
	lr_span v, body;
	const char *want_body = "{\"error\":{\"message\":\"route \\\"no-gpt4\\\" denies\\nmodel gpt-4\","
		"\"type\":\"llmroute_denied\",\"code\":\"model_denied\"}}";
	char want[512];

	snprintf(want, sizeof(want), "HTTP/1.1 403 Forbidden\r\n"
		"Content-Type: application/json\r\n"
		"Content-Length: %zu\r\n"
		"Connection: close\r\n\r\n%s", strlen(want_body), want_body);
	CHECK_INT(lr_http_error_response(403, "model_denied",
		"route \"no-gpt4\" denies\nmodel gpt-4", &out, &outlen), 0);
	check_bytes(__LINE__, out, outlen, want);
	body = (lr_span){ strstr(out, "\r\n\r\n") + 4, 0 };
	body.len = outlen - (size_t)(body.p - out);
	CHECK(lr_json_find(body.p, body.len, path, 2, &v) == 0);
	CHECK(lr_json_str_decode(v, msg, sizeof(msg)) > 0);
	CHECK_STR(msg, "route \"no-gpt4\" denies\nmodel gpt-4");
	free(out);

	CHECK_INT(lr_http_error_response(429, NULL, "slow down", &out, &outlen), 0);
	CHECK(strncmp(out, "HTTP/1.1 429 Too Many Requests\r\n", 32) == 0);
	CHECK(strstr(out, "\"code\":null}}") != NULL);
	free(out);
	CHECK_INT(lr_http_error_response(451, "x", "y", &out, &outlen), 0);
	CHECK(strncmp(out, "HTTP/1.1 451 Error\r\n", 20) == 0);
	free(out);

	CHECK_INT(lr_http_error_response(200, "x", "y", &out, &outlen), LR_EINVAL);
	CHECK(out == NULL && outlen == 0);
	CHECK_INT(lr_http_error_response(600, "x", "y", &out, &outlen), LR_EINVAL);
	CHECK_INT(lr_http_error_response(403, "x", NULL, &out, &outlen), LR_EINVAL);
	CHECK_INT(lr_http_error_response(403, "x", "bad \xff utf-8", &out, &outlen), LR_EINVAL);
	CHECK_INT(lr_http_error_response(403, "\xc3", "m", &out, &outlen), LR_EINVAL);
	big = malloc(LR_HTTP_MAX_ERRMSG + 2);
	memset(big, '\x01', LR_HTTP_MAX_ERRMSG + 1);
	big[LR_HTTP_MAX_ERRMSG + 1] = '\0';
	CHECK_INT(lr_http_error_response(403, "x", big, &out, &outlen), LR_ETOOBIG);
	big[LR_HTTP_MAX_ERRMSG] = '\0'; /* every byte escaped as \u0001 */
	CHECK_INT(lr_http_error_response(403, big, big, &out, &outlen), 0);
	CHECK(outlen > 12 * LR_HTTP_MAX_ERRMSG);
	free(out);
	free(big);
}

/* --- guard pages ---------------------------------------------------------------- */

/* Every prefix of src, placed flush against a PROT_NONE page, through the
 * parser, the sniffer and the framer (fed whole and byte by byte). */
static void guard_run(const char *src, size_t n, char *page_end)
{
	lr_http_head h;
	lr_http_framer f;
	size_t k, i;

	for (k = 0; k <= n; k++) {
		char *p = page_end - k;
		memcpy(p, src, k);
		lr_http_parse_head(p, k, &h);
		lr_http_sniff(p, k);
		lr_http_framer_init(&f);
		for (i = 0; i < k;) {
			int rc = lr_http_feed(&f, p + i, k - i);
			if (rc < 0)
				break;
			if ((f.ev & LR_HTTP_EV_HEAD) && !(f.ev & LR_HTTP_EV_DONE))
				lr_http_hold(&f);
			i += (size_t)rc;
		}
		lr_http_framer_free(&f);
		lr_http_framer_init(&f);
		for (i = 0; i < k && lr_http_feed(&f, p + i, 1) >= 0; i++)
			;
		lr_http_framer_free(&f);
	}
	lr_test_checks++;
}

static void test_guard_page(void)
{
	static const char *const in[] = {
		CL_REQ, CHUNKED_REQ, "GET / HTTP/1.1\n\n", "\r\n\r\nGET",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x\r\nab",
		"PRI * HTTP/2.0\r\n", "\x16\x03\x01",
	};
	long pg = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t k;

	CHECK(map != MAP_FAILED);
	if (map == MAP_FAILED)
		return;
	CHECK(mprotect(map + pg, (size_t)pg, PROT_NONE) == 0);
	for (k = 0; k < sizeof(in) / sizeof(*in); k++)
		guard_run(in[k], strlen(in[k]), map + pg);
	munmap(map, (size_t)pg * 2);
}

/* A failing call keeps none of its bytes: the caller sends them itself,
 * so anything left in the buffer would go out twice. */
static void test_error_takes_back(void)
{
	static const char *const cases[] = {
		"EHLO client.example.com\r\n",            /* a line protocol */
		"GET foo\r\n",                             /* Redis inline */
		"POST / HTTP/1.1\r\nBad : x\r\n\r\n",      /* whitespace before ':' */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lr_http_framer f;
		lr_http_framer_init(&f);
		CHECK(lr_http_feed(&f, cases[i], strlen(cases[i])) < 0);
		CHECK_INT(lr_http_held(&f).len, 0);
		lr_http_framer_free(&f);
	}
	{ /* bytes of earlier calls stay; only the failing call's go */
		lr_http_framer f;
		lr_http_framer_init(&f);
		CHECK_INT(lr_http_feed(&f, "POST / HTTP/1.1\r\n", 17), 17);
		CHECK(lr_http_feed(&f, "Bad : x\r\n\r\n", 12) < 0);
		CHECK_INT(lr_http_held(&f).len, 17);
		lr_http_framer_free(&f);
	}
}

/* The credential-name classifier the rewriter drops headers by: every
 * word at the start, middle and end, any case, and the near misses. */
static void test_credential_names(void)
{
	static const char *const yes[] = {"Authorization", "x-api-key", "X-Goog-Api-Key", "api-key",
		"Helicone-Auth", "x-portkey-api-key", "Ocp-Apim-Subscription-Key", "Cookie", "X-JWT",
		"my-TOKEN", "client_secret", "X-Password-Hash", "aws-credential", "apikey", "x_API_KEY",
		"auth", "tokentoken", "a-cookie-b", "cookies"};
	static const char *const no[] = {"Idempotency-Key", "x-session-affinity", "Content-Type",
		"Proxy-Authorization", "proxy-x-token", "au", "aut", "toke", "tokn", "", "api-ke", "keyapi"};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		CHECK_INT(lr_cred_is_credential_header(yes[i], strlen(yes[i])), 1);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		CHECK_INT(lr_cred_is_credential_header(no[i], strlen(no[i])), 0);
	/* only the first n bytes count: a word past n is not seen */
	CHECK(lr_cred_is_credential_header("x-token", 4) == 0);
	CHECK(lr_cred_is_credential_header("x-token", 7) == 1);
	CHECK(lr_cred_is_credential_header("xauth", 4) == 0);
}

int main(void)
{
	test_credential_names();
	test_error_takes_back();
	test_content_length();
	test_events();
	test_chunked();
	test_no_body();
	test_pipelined();
	test_two_request_splits();
	test_bare_lf();
	test_garbage();
	test_content_length_errors();
	test_other_protocols();
	test_tunnel_and_expect();
	test_head_cap();
	test_header_count_cap();
	test_chunk_line_cap();
	test_body_cap();
	test_parse_head();
	test_rewrite_identity();
	test_rewrite_route();
	test_rewrite_auth();
	test_rewrite_chunked();
	test_rewrite_expect();
	test_rewrite_added();
	test_rewrite_errors();
	test_error_response();
	test_guard_page();
	return lr_test_done("test_http");
}
