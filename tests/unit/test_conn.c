/*
 * test_conn.c - unit tests for shim/lr_conn.c, the HTTP/1.1 connection
 * engine of the socket and TLS hooks, driven through a fake transport.
 *
 * The fake lr_conn_io records every byte that went out and follows a
 * script, one letter per send call: 'a' takes everything, '1'..'9' at most
 * that many bytes (a short write), 'e' is EAGAIN, 'p' is EPIPE (and every
 * later call too: the connection is broken).  In TLS mode it takes all or
 * nothing, and checks that the send after an EAGAIN retries the very same
 * buffer, as OpenSSL requires.  wait() and shut() are counted.
 *
 * The app is played as shim/lr_sock.c plays it: each write is one
 * lr_conn_write under c->mu, answers are fed to lr_conn_read and our
 * refusal read with lr_conn_inject under c->rmu.  A program's send loop
 * (app_send) writes the rest after a short count and the same bytes again
 * after EAGAIN, so every case can check that the stream that went out is
 * exactly the one meant, once.  The routing table is a real one, compiled
 * from JSON rules; audit records are captured by conn_stubs.c.
 *
 * Checks marked WAS_BUG are bugs this test found in lr_conn (a failed send
 * of a held request reported as success, requests after an unframed answer
 * never recorded, lr_conn_drain sending a request a deny could match):
 * fixed, and kept as regressions.
 */
#include "conn_stubs.h"
#include "lr_conn.h"
#include "lr_http.h"
#include "lr_plan.h"
#include "lr_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- the fake transport -------------------------------------------------------- */

typedef struct {
	char *wire;             /* every byte that went out, in order */
	size_t len, cap;
	const char *script;     /* one letter per send call (see top) */
	int cycle;              /* the script repeats; else 'a' after its end */
	int tls;                /* all or nothing */
	int calls;              /* send calls */
	int broken;             /* EPIPE was given: every later send fails */
	int blocked;            /* every send is EAGAIN while set */
	const char *again_p;    /* TLS: the buffer an EAGAIN was given for */
	char *again_copy;       /* and what it held */
	size_t again_n;
	int retry_bad;          /* TLS: sends after an EAGAIN that were not a retry */
	int waits, wait_ms, wait_rc, wait_unblocks;
	int shuts, after_shut;  /* shut calls; sends after one */
} fake;

static fake F;

static void fake_reset(const char *script, int cycle)
{
	free(F.wire);
	free(F.again_copy);
	memset(&F, 0, sizeof(F));
	F.script = script;
	F.cycle = cycle;
}

static char next_step(void)
{
	size_t n = F.script ? strlen(F.script) : 0;
	int i = F.calls;

	if (!n)
		return 'a';
	if (F.cycle)
		return F.script[(size_t)i % n];
	return (size_t)i < n ? F.script[i] : 'a';
}

static void take(const char *p, size_t k)
{
	if (F.len + k > F.cap) {
		F.cap = (F.len + k) * 2 + 256;
		F.wire = realloc(F.wire, F.cap);
		if (!F.wire)
			abort();
	}
	memcpy(F.wire + F.len, p, k);
	F.len += k;
}

static ssize_t f_send(lr_conn *c, const char *p, size_t n)
{
	char a = next_step();
	size_t k = n;

	F.calls++;
	if (F.shuts)
		F.after_shut++;
	if (F.again_p) { /* OpenSSL: the same buffer, length and bytes */
		if (p != F.again_p || n != F.again_n || memcmp(p, F.again_copy, n) != 0)
			F.retry_bad++;
		F.again_p = NULL;
	}
	if (F.broken || a == 'p') {
		F.broken = 1;
		errno = EPIPE;
		return -1;
	}
	if (F.blocked || a == 'e') {
		if (F.tls) {
			F.again_p = p;
			F.again_n = n;
			free(F.again_copy);
			if (!(F.again_copy = malloc(n ? n : 1)))
				abort();
			memcpy(F.again_copy, p, n);
		}
		errno = EAGAIN;
		return -1;
	}
	if (a >= '1' && a <= '9' && !F.tls && (size_t)(a - '0') < n)
		k = (size_t)(a - '0');
	take(p, k);
	return (ssize_t)k;
}

static int f_wait(lr_conn *c, int timeout_ms)
{
	F.waits++;
	F.wait_ms = timeout_ms;
	if (F.wait_unblocks)
		F.blocked = 0;
	return F.wait_rc;
}

static void f_shut(lr_conn *c)
{
	F.shuts++;
}

static const lr_conn_io fake_io = {f_send, f_wait, f_shut};

/* --- the app ------------------------------------------------------------------ */

/* A new connection to 93.184.216.34:80, with a fresh fake and fresh
 * captures. */
static lr_conn *conn_open(int kind, const char *script, int cycle)
{
	lr_conn *c;

	fake_reset(script, cycle);
	F.tls = kind == LR_CONN_TLS;
	stubs_reset();
	c = lr_conn_new(kind, kind == LR_CONN_TLS ? -1 : 7, NULL, &fake_io);
	if (!c)
		abort();
	snprintf(c->peer, sizeof(c->peer), "93.184.216.34:80");
	return c;
}

/* The transport lets the connection go: every record ended or freed, every
 * view released. */
static void conn_close(lr_conn *c)
{
	int i, open = 0;

	lr_conn_free(c);
	for (i = 0; i < S.nrec; i++)
		open += S.rec[i].x != NULL;
	CHECK_INT(open, 0);
	CHECK_INT(S.held, 0);
}

/* One write call, as lr_sock.c's out() makes it.  *done: lr_conn_done after. */
static ssize_t wr(lr_conn *c, const struct iovec *iov, int cnt, int *done)
{
	ssize_t r;
	int e;

	pthread_mutex_lock(&c->mu);
	c->flags = 0;
	errno = 0;
	r = lr_conn_write(c, iov, cnt);
	e = errno;
	if (done)
		*done = lr_conn_done(c);
	pthread_mutex_unlock(&c->mu);
	errno = e;
	return r;
}

static ssize_t wr1(lr_conn *c, const char *p, size_t n)
{
	struct iovec v = {(void *)p, n};

	return wr(c, &v, 1, NULL);
}

typedef struct {
	int calls, eagains, partials, too_many;
} app_stats;

/*
 * Writes buf[0..n) as a program on a non-blocking socket does: after a
 * short count it writes the rest, after EAGAIN the same bytes again.  Each
 * call offers at most `step` bytes (0: all that is left) and, while `split`
 * falls inside it, as two iovecs cut there (one may be empty).  Returns 0
 * when everything was taken, else the errno of the failure.
 */
static int app_send(lr_conn *c, const char *buf, size_t n, size_t split, size_t step, app_stats *st)
{
	size_t off = 0, end;
	struct iovec v[2];
	ssize_t r;
	int cnt, guard;

	for (guard = 0; off < n; guard++) {
		if (guard > 20000) {
			fprintf(stderr, "app_send: no progress at %zu of %zu\n", off, n);
			return ETIMEDOUT;
		}
		end = step && n - off > step ? off + step : n;
		v[0].iov_base = (void *)(buf + off);
		v[0].iov_len = end - off;
		cnt = 1;
		if (split >= off && split <= end) {
			v[0].iov_len = split - off;
			v[1].iov_base = (void *)(buf + split);
			v[1].iov_len = end - split;
			cnt = 2;
		}
		r = wr(c, v, cnt, NULL);
		st->calls++;
		if (r > 0) {
			if ((size_t)r > end - off) {
				st->too_many++;
				return EOVERFLOW;
			}
			if ((size_t)r < end - off)
				st->partials++;
			off += (size_t)r;
		} else if (r < 0 && errno == EAGAIN) {
			st->eagains++;
		} else {
			return r == 0 ? EIO : errno;
		}
	}
	return 0;
}

/* The app received p[0..n), in slices of `step` bytes (0: one). */
static void answer(lr_conn *c, const char *p, size_t n, size_t step)
{
	size_t off, k;

	pthread_mutex_lock(&c->rmu);
	for (off = 0; off < n; off += k) {
		k = step && n - off > step ? step : n - off;
		lr_conn_read(c, p + off, k);
	}
	pthread_mutex_unlock(&c->rmu);
}

static void answer_eof(lr_conn *c)
{
	pthread_mutex_lock(&c->rmu);
	lr_conn_read(c, NULL, 0);
	pthread_mutex_unlock(&c->rmu);
}

static size_t inject(lr_conn *c, char *buf, size_t cap, int peek)
{
	size_t k;

	pthread_mutex_lock(&c->rmu);
	k = lr_conn_inject(c, buf, cap, peek);
	pthread_mutex_unlock(&c->rmu);
	return k;
}

/* Reads our whole refusal, `cap` bytes at a time, into a malloc'ed string. */
static char *inject_all(lr_conn *c, size_t cap, size_t *len)
{
	char *all = NULL, buf[4096];
	size_t n = 0, k;

	while ((k = inject(c, buf, cap < sizeof(buf) ? cap : sizeof(buf), 0)) > 0) {
		all = realloc(all, n + k + 1);
		if (!all)
			abort();
		memcpy(all + n, buf, k);
		n += k;
		all[n] = '\0';
	}
	*len = n;
	return all;
}

/* --- checking bytes ------------------------------------------------------------ */

static int same(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static void show(const char *what, const char *p, size_t n, size_t from)
{
	size_t i, end = from + 120 < n ? from + 120 : n;

	fprintf(stderr, "  %s [%zu..%zu of %zu]: \"", what, from, end, n);
	for (i = from; i < end; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch == '\r')
			fputs("\\r", stderr);
		else if (ch == '\n')
			fputs("\\n", stderr);
		else if (ch < 32 || ch > 126)
			fprintf(stderr, "\\x%02x", ch);
		else
			fputc(ch, stderr);
	}
	fputs("\"\n", stderr);
}

static void diff(const char *ctx, const char *got, size_t gn, const char *exp, size_t en)
{
	size_t i = 0, from;

	while (i < gn && i < en && got[i] == exp[i])
		i++;
	from = i > 40 ? i - 40 : 0;
	fprintf(stderr, "  %s: %zu bytes, expected %zu; first difference at %zu\n", ctx, gn, en, i);
	show("got     ", got, gn, from);
	show("expected", exp, en, from);
}

#define CHECK_BYTES(got, gn, exp, en) do { \
	lr_test_checks++; \
	if (!same((got), (gn), (exp), (en))) { \
		lr_test_failed++; \
		fprintf(stderr, "%s:%d: CHECK_BYTES failed: %s\n", __FILE__, __LINE__, #got); \
		diff(#got, (got), (gn), (exp), (en)); \
	} \
} while (0)

#define CHECK_WIRE(exp) CHECK_BYTES(F.wire, F.len, (exp), strlen(exp))

/* Loops check many runs: the first bad one is shown, the count checked. */
static int bad_runs;
static void bad_run(const char *fmt, size_t a, size_t b, const char *exp, size_t en)
{
	if (bad_runs++ == 0) {
		fprintf(stderr, "first bad run: ");
		fprintf(stderr, fmt, a, b);
		fputc('\n', stderr);
		if (exp)
			diff("wire", F.wire, F.len, exp, en);
	}
}

/* A check of a bug this test found (fixed since), with what it was. */
#define WAS_BUG(cond, what) do { \
	lr_test_checks++; \
	if (!(cond)) { \
		lr_test_failed++; \
		fprintf(stderr, "%s:%d: lr_conn regression: %s\n    (check: %s)\n", \
			__FILE__, __LINE__, what, #cond); \
	} \
} while (0)

/* --- requests, answers and rules -------------------------------------------------- */

#define APP_KEY "sk-app-0001"
#define ROUTE_KEY "sk-route-9999"
#define KEY_VAR "LR_CONN_TEST_KEY"

#define GET_BODY "GET /index.html HTTP/1.1\r\nHost: example.com\r\nContent-Length: 10\r\n\r\n0123456789"
#define GET_A "GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n"
#define GET_C "GET /c HTTP/1.1\r\nHost: example.com\r\n\r\n"
#define HEAD_B "HEAD /status HTTP/1.1\r\nHost: example.com\r\n\r\n"
#define POST_CHUNKED "POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n" \
	"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"

#define LLM_HEAD(cl) "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n" \
	"Authorization: Bearer " APP_KEY "\r\nContent-Type: application/json\r\nContent-Length: " cl "\r\n\r\n"
#define LLM_BODY "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
#define LLM_REQ LLM_HEAD("62") LLM_BODY
#define MINI_BODY "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
#define LLM_MINI LLM_HEAD("67") MINI_BODY
#define OTHER_REQ "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 39\r\n\r\n" \
	"{\"model\":\"gpt-3.5-turbo\",\"messages\":[]}"
#define DENY_REQ "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n" \
	"Authorization: Bearer " APP_KEY "\r\nContent-Length: 62\r\n\r\n" \
	"{\"model\":\"o1-pro\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

#define ANS_A "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"answer\":\"A\"}"
#define ANS_HEAD "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" /* to HEAD: no body */
#define ANS_429 "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many Requests\r\n" \
	"Transfer-Encoding: chunked\r\n\r\n4\r\nslow\r\n5\r\n down\r\n0\r\n\r\n"
#define ANS_OK "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

#define RULES_MINI "{\"routes\":[{\"name\":\"mini\",\"match\":{\"model\":\"gpt-4o\"}," \
	"\"set\":{\"model\":\"gpt-4o-mini\"}}]}"
#define RULES_KEY "{\"routes\":[{\"name\":\"keyed\",\"match\":{\"model\":\"gpt-4o\"}," \
	"\"set\":{\"api_key_env\":\"" KEY_VAR "\"}}]}"
#define RULES_LOCAL "{\"routes\":[{\"name\":\"local\",\"match\":{\"model\":\"gpt-4o\"}," \
	"\"set\":{\"endpoint\":\"http://127.0.0.1:9000/v1\",\"model\":\"llama3\"}}]}"
#define RULES_DENY "{\"routes\":[{\"name\":\"no-o1\",\"match\":{\"model\":\"o1-pro\"}," \
	"\"deny\":\"o1-pro is not allowed here\"},{\"name\":\"mini\",\"match\":{\"model\":\"gpt-4o\"}," \
	"\"set\":{\"model\":\"gpt-4o-mini\"}}]}"

static void rules(const char *json)
{
	CHECK_INT(stubs_set_rules(json), 0);
}

static size_t head_len(const char *req)
{
	return (size_t)(strstr(req, "\r\n\r\n") + 4 - req);
}

/* --- a request that is not an LLM request passes as written ------------------------ */

/* Short writes and EAGAIN, call by call: the app sees the fake's counts. */
static void test_plain_short_writes(void)
{
	const char *req = GET_BODY;
	size_t n = strlen(req), h = head_len(req);
	lr_conn *c;
	ssize_t r;

	rules(RULES_MINI);
	/* send calls: head 5 bytes, EAGAIN; head rest; body 3 bytes; EAGAIN; rest */
	c = conn_open(LR_CONN_SOCKET, "5ea3ea", 0);
	r = wr1(c, req, n);
	CHECK_INT(r, -1); /* the head went out in part only: the app must wait */
	CHECK_INT(errno, EAGAIN);
	CHECK_BYTES(F.wire, F.len, req, 5);
	CHECK_INT(c->owed, h); /* and it will write those bytes again */
	r = wr1(c, req, n);    /* it does, all of them */
	CHECK_INT(r, (ssize_t)h + 3); /* the fake took 3 body bytes: so says the app's call */
	CHECK_BYTES(F.wire, F.len, req, h + 3);
	r = wr1(c, req + h + 3, n - h - 3);
	CHECK_INT(r, -1);
	CHECK_INT(errno, EAGAIN);
	r = wr1(c, req + h + 3, n - h - 3);
	CHECK_INT(r, (ssize_t)(n - h - 3));
	CHECK_WIRE(req);
	CHECK_INT(F.calls, 6);
	CHECK_INT(S.nrec, 0);
	answer(c, ANS_OK, strlen(ANS_OK), 3);
	CHECK_INT(S.null_ends, 1); /* its answer paired with it: nothing recorded */
	conn_close(c);

	/* EPIPE on the body: the app sees it, and on every later call */
	c = conn_open(LR_CONN_SOCKET, "ap", 0);
	r = wr1(c, req, n);
	CHECK_INT(r, (ssize_t)h);
	r = wr1(c, req + h, n - h);
	CHECK_INT(r, -1);
	CHECK_INT(errno, EPIPE);
	CHECK_BYTES(F.wire, F.len, req, h);
	conn_close(c);
}

/* Non-LLM requests (a body, none, chunked, HEAD) pipelined: every split of
 * the app's writev, every send pattern, each byte out exactly once. */
static void test_plain_every_split(void)
{
	static const char *const scripts[] = {"a", "1", "3e", "e2", "7ee", "ep"};
	const char *stream = GET_BODY "\r\n" GET_A POST_CHUNKED HEAD_B; /* a stray CRLF too */
	const char *answers = ANS_OK ANS_OK ANS_429 ANS_HEAD;
	size_t n = strlen(stream), split, s, step;
	app_stats st;
	lr_conn *c;
	int rc, eagains = 0, partials = 0;

	rules(RULES_MINI);
	bad_runs = 0;
	for (s = 0; s < sizeof(scripts) / sizeof(*scripts); s++) {
		for (step = 0; step <= 7; step += 7) {
			for (split = 0; split <= n; split++) {
				int epipe = strchr(scripts[s], 'p') != NULL;
				memset(&st, 0, sizeof(st));
				c = conn_open(LR_CONN_SOCKET, scripts[s], !epipe);
				rc = app_send(c, stream, n, split, step, &st);
				eagains += st.eagains;
				partials += st.partials;
				if (epipe && (rc != EPIPE || F.len > n || (F.len && memcmp(F.wire, stream, F.len) != 0)))
					bad_run("script %zu split %zu: EPIPE not seen, or bytes wrong", s, split, NULL, 0);
				if (!epipe && (rc != 0 || !same(F.wire, F.len, stream, n) || S.nrec != 0))
					bad_run("script %zu split %zu", s, split, stream, n);
				if (!epipe) {
					answer(c, answers, strlen(answers), 5);
					if (S.null_ends != 4)
						bad_run("script %zu split %zu: answers not paired", s, split, NULL, 0);
				}
				conn_close(c);
			}
		}
	}
	CHECK_INT(bad_runs, 0);
	CHECK(eagains > 0);   /* the app did see the fake's EAGAIN */
	CHECK(partials > 0);  /* and its short writes */
}

/* --- an LLM request is held whole and rewritten ------------------------------------- */

static void check_mini_record(const char *transport, const char *url)
{
	const stub_rec *x = stubs_rec(0);

	CHECK_INT(S.nrec, 1);
	if (!x)
		return;
	CHECK_STR(x->route, "mini");
	CHECK_INT(x->routed, 1);
	CHECK_STR(x->model, "gpt-4o");
	CHECK_STR(x->sent_model, "gpt-4o-mini");
	CHECK_STR(x->url, url);
	CHECK_STR(x->transport, transport);
	CHECK_STR(x->sent_body, MINI_BODY);
	CHECK_INT(x->why, LR_UNAPPLIED_NONE);
	CHECK_INT(S.routed_logs, 1);
}

static void test_llm_rewrite(void)
{
	const char *req = LLM_REQ;
	size_t n = strlen(req), i;
	lr_conn *c;
	ssize_t r;
	int ones = 0, early = 0;

	rules(RULES_MINI);
	/* one slice */
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	CHECK_INT(wr1(c, req, n), (ssize_t)n);
	CHECK_WIRE(LLM_MINI);
	CHECK_INT(F.calls, 1);
	check_mini_record("socket", "http://api.openai.com/v1/chat/completions");
	CHECK_INT(stubs_rec(0)->ended, 0);
	answer(c, ANS_A, strlen(ANS_A), 0);
	CHECK_INT(stubs_rec(0)->ended, 1);
	CHECK_INT(stubs_rec(0)->status, 200);
	CHECK_STR(stubs_rec(0)->got, "{\"answer\":\"A\"}");
	conn_close(c);

	/* one byte a call: each call takes its byte, nothing leaves before the last */
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	for (i = 0; i < n; i++) {
		r = wr1(c, req + i, 1);
		ones += r == 1;
		early += i + 1 < n && F.len != 0;
	}
	CHECK_INT(ones, (int)n);
	CHECK_INT(early, 0);
	CHECK_WIRE(LLM_MINI);
	check_mini_record("socket", "http://api.openai.com/v1/chat/completions");
	conn_close(c);

	/* the rewritten request in 2-byte sends, EAGAIN half-way: the app's last
	 * call fails with EAGAIN, and its retry completes it */
	c = conn_open(LR_CONN_SOCKET, "22222e", 0);
	r = wr1(c, req, n);
	CHECK_INT(r, -1);
	CHECK_INT(errno, EAGAIN);
	CHECK_INT(F.len, 10);
	CHECK_INT(wr1(c, req, n), (ssize_t)n);
	CHECK_WIRE(LLM_MINI);
	conn_close(c);
}

/* Every split of the writev, in one call or one byte a call, under three send
 * patterns: always the same bytes out. */
static void test_llm_every_split(void)
{
	static const char *const scripts[] = {"a", "3e", "e"};
	const char *req = LLM_REQ GET_A;
	const char *exp = LLM_MINI GET_A;
	size_t n = strlen(req), split, s, step;
	app_stats st;
	lr_conn *c;

	rules(RULES_MINI);
	bad_runs = 0;
	for (s = 0; s < 3; s++) {
		for (step = 0; step <= 1; step++) {
			for (split = 0; split <= n; split += step ? n : 1) {
				memset(&st, 0, sizeof(st));
				c = conn_open(LR_CONN_SOCKET, scripts[s], s == 1);
				if (app_send(c, req, n, split, step, &st) != 0 || !same(F.wire, F.len, exp, strlen(exp)))
					bad_run("script %zu split %zu", s, split, exp, strlen(exp));
				else if (S.nrec != 1 || !S.rec[0].routed || strcmp(S.rec[0].sent_body, MINI_BODY))
					bad_run("script %zu split %zu: record", s, split, NULL, 0);
				conn_close(c);
			}
		}
	}
	CHECK_INT(bad_runs, 0);
}

/* A chunked body (sent de-chunked, with its length) and a request with no
 * Host (HTTP/1.0: the URL is the peer's). */
static void test_llm_shapes(void)
{
	const char *chunked = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
			      "Transfer-Encoding: chunked\r\n\r\n20\r\n"
			      "{\"model\":\"gpt-4o\",\"messages\":[{\"\r\n1e\r\n"
			      "role\":\"user\",\"content\":\"hi\"}]}\r\n0\r\n\r\n";
	const char *dechunked = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
				"Content-Length: 67\r\n\r\n" MINI_BODY;
	const char *old = "POST /v1/chat/completions HTTP/1.0\r\nContent-Length: 62\r\n\r\n" LLM_BODY;
	const char *old_mini = "POST /v1/chat/completions HTTP/1.0\r\nContent-Length: 67\r\n\r\n" MINI_BODY;
	app_stats st;
	size_t step;
	lr_conn *c;

	rules(RULES_MINI);
	for (step = 0; step <= 3; step += 3) {
		memset(&st, 0, sizeof(st));
		c = conn_open(LR_CONN_SOCKET, "2e", 1);
		CHECK_INT(app_send(c, chunked, strlen(chunked), 0, step, &st), 0);
		CHECK_WIRE(dechunked);
		CHECK_INT(S.nrec, 1);
		conn_close(c);
	}
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	CHECK_INT(wr1(c, old, strlen(old)), (ssize_t)strlen(old));
	CHECK_WIRE(old_mini);
	CHECK_INT(S.nrec, 1);
	CHECK_STR(stubs_rec(0)->url, "http://93.184.216.34:80/v1/chat/completions");
	conn_close(c);
}

/* --- credentials, and a route the transport cannot carry ----------------------------- */

static void test_key_env(void)
{
	const char *exp = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
			  "Content-Type: application/json\r\nContent-Length: 62\r\n"
			  "Authorization: Bearer " ROUTE_KEY "\r\n\r\n" LLM_BODY;
	size_t n = strlen(LLM_REQ);
	app_stats st;
	lr_conn *c;
	size_t i;
	int leaks = 0;

	rules(RULES_KEY);
	setenv(KEY_VAR, ROUTE_KEY, 1);
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	CHECK_INT(wr1(c, LLM_REQ, n), (ssize_t)n);
	CHECK_WIRE(exp);
	CHECK(memmem(F.wire, F.len, APP_KEY, strlen(APP_KEY)) == NULL);
	CHECK_INT(S.nrec, 1);
	CHECK_STR(stubs_rec(0)->route, "keyed");
	CHECK_INT(stubs_rec(0)->routed, 1);
	CHECK(strstr(stubs_rec(0)->url, APP_KEY) == NULL);
	conn_close(c);

	/* in pieces, with short writes: never a byte of the app's key */
	for (i = 1; i <= 9; i++) {
		memset(&st, 0, sizeof(st));
		c = conn_open(LR_CONN_SOCKET, "4e", 1);
		CHECK_INT(app_send(c, LLM_REQ, n, i * 17, i, &st), 0);
		leaks += memmem(F.wire, F.len, APP_KEY, strlen(APP_KEY)) != NULL || !same(F.wire, F.len, exp, strlen(exp));
		conn_close(c);
	}
	CHECK_INT(leaks, 0);

	/* the variable unset, same host: the app's own key stays, and it is said */
	unsetenv(KEY_VAR);
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	CHECK_INT(wr1(c, LLM_REQ, n), (ssize_t)n);
	CHECK_WIRE(LLM_REQ);
	CHECK(S.errors >= 1);
	CHECK(strstr(S.last_log, KEY_VAR) != NULL);
	conn_close(c);
}

static void test_move_host_unapplied(void)
{
	size_t n = strlen(LLM_REQ);
	lr_conn *c;

	rules(RULES_LOCAL);
	/* a socket to the app's host cannot carry a route to another: as written */
	c = conn_open(LR_CONN_SOCKET, "3", 1);
	CHECK_INT(wr1(c, LLM_REQ, n), (ssize_t)n);
	CHECK_WIRE(LLM_REQ);
	CHECK_INT(S.nrec, 1);
	CHECK_STR(stubs_rec(0)->route, "local");
	CHECK_INT(stubs_rec(0)->routed, 0);
	CHECK_INT(stubs_rec(0)->why, LR_UNAPPLIED_SOCKET_HOST);
	CHECK_STR(lr_unapplied_code(stubs_rec(0)->why), "socket_not_redirected");
	CHECK_STR(stubs_rec(0)->url, "http://api.openai.com/v1/chat/completions");
	CHECK_STR(stubs_rec(0)->sent_body, LLM_BODY);
	CHECK_INT(S.unapplied_logs, 1);
	CHECK_INT(S.unapplied_why, LR_UNAPPLIED_SOCKET_HOST);
	CHECK_INT(S.routed_logs, 0);
	answer(c, ANS_429, strlen(ANS_429), 7);
	CHECK_INT(stubs_rec(0)->status, 429);
	conn_close(c);

	/* a body the route cannot rewrite: as written, and said why */
	rules("{\"routes\":[{\"name\":\"all\",\"set\":{\"model\":\"m\"}}]}");
	{
		const char *req = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
				  "Content-Length: 7\r\n\r\n[1,2,3]";
		c = conn_open(LR_CONN_SOCKET, NULL, 0);
		CHECK_INT(wr1(c, req, strlen(req)), (ssize_t)strlen(req));
		CHECK_WIRE(req);
		CHECK_INT(S.nrec, 1);
		CHECK_INT(stubs_rec(0)->routed, 0);
		CHECK_INT(stubs_rec(0)->why, LR_UNAPPLIED_BODY);
		conn_close(c);
	}
	rules(RULES_LOCAL);

	/* nor can a TLS session */
	c = conn_open(LR_CONN_TLS, NULL, 0);
	CHECK_INT(wr1(c, LLM_REQ, n), (ssize_t)n);
	CHECK_WIRE(LLM_REQ);
	CHECK_INT(S.nrec, 1);
	CHECK_INT(stubs_rec(0)->why, LR_UNAPPLIED_TLS_HOST);
	CHECK_STR(stubs_rec(0)->url, "https://api.openai.com/v1/chat/completions");
	CHECK_STR(stubs_rec(0)->transport, "tls");
	conn_close(c);
}

/* A connection redirected at connect to the endpoint of route "local". */
static lr_conn *redirected_open(const char *script)
{
	lr_conn *c = conn_open(LR_CONN_SOCKET, script, 0);

	c->redirected = 1;
	snprintf(c->peer, sizeof(c->peer), "127.0.0.1:9000");
	snprintf(c->claimed_host, sizeof(c->claimed_host), "api.openai.com");
	snprintf(c->route, sizeof(c->route), "local");
	snprintf(c->ep_host, sizeof(c->ep_host), "127.0.0.1");
	c->ep_port = 9000;
	return c;
}

static void test_redirected(void)
{
	const char *exp = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n"
			  "Content-Type: application/json\r\nContent-Length: 62\r\n\r\n"
			  "{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
	const char *get = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\n"
			  "Authorization: Bearer " APP_KEY "\r\n\r\n";
	char buf[1024];
	size_t n = strlen(LLM_REQ), k;
	lr_conn *c;

	rules(RULES_LOCAL);
	c = redirected_open(NULL);
	CHECK_INT(wr1(c, LLM_REQ, n), (ssize_t)n);
	CHECK_WIRE(exp);
	CHECK_INT(S.nrec, 1);
	CHECK_INT(stubs_rec(0)->routed, 1);
	CHECK_STR(stubs_rec(0)->url, "http://127.0.0.1:9000/v1/chat/completions");
	/* a request no route rewrites still goes to the endpoint, without the key */
	CHECK_INT(wr1(c, get, strlen(get)), (ssize_t)strlen(get));
	CHECK(memmem(F.wire, F.len, APP_KEY, strlen(APP_KEY)) == NULL);
	CHECK(memmem(F.wire, F.len, "GET /index.html?q=1 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n\r\n", 51) != NULL);
	conn_close(c);

	/* bytes that are not HTTP never go to a host the app did not choose */
	c = redirected_open(NULL);
	CHECK_INT(wr1(c, "\x16\x03\x01\x00\x05hello", 10), 10);
	CHECK_INT(F.len, 0);
	CHECK_INT(F.shuts, 1);
	k = inject(c, buf, sizeof(buf), 0);
	CHECK(k > 12 && memcmp(buf, "HTTP/1.1 502", 12) == 0);
	conn_close(c);

	/* nor does half a request, at close */
	c = redirected_open(NULL);
	CHECK_INT(wr1(c, LLM_REQ, 40), 40);
	pthread_mutex_lock(&c->mu);
	CHECK_INT(lr_conn_drain(c, 0), -1);
	pthread_mutex_unlock(&c->mu);
	CHECK_INT(F.calls, 0);
	conn_close(c);
}

/* --- deny ------------------------------------------------------------------------ */

static char *refusal(const char *route_msg, size_t *len)
{
	char *out = NULL;

	*len = 0;
	CHECK_INT(lr_http_error_response(403, "llmroute_denied", route_msg, &out, len), 0);
	return out;
}

static void test_deny(void)
{
	const char *stream = GET_A DENY_REQ GET_C;
	size_t n = strlen(stream), len, got_len, i;
	char *exp = refusal("llmroute: denied by route no-o1: o1-pro is not allowed here", &len), *got;
	char buf[64];
	lr_conn *c;
	int ones = 0;

	rules(RULES_DENY);
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	CHECK_INT(wr1(c, stream, n), (ssize_t)n); /* the app believes it all went */
	CHECK_WIRE(GET_A);                        /* only what came before the denied one did */
	CHECK_INT(F.shuts, 1);
	CHECK_INT(c->state, LR_CONN_DENIED);
	CHECK_INT(S.ndenied, 1);
	CHECK_STR(S.denied[0].route, "no-o1");
	CHECK_STR(S.denied[0].model, "o1-pro");
	CHECK_STR(S.denied[0].transport, "socket");
	CHECK_INT(S.denied[0].blen, 62);
	CHECK_INT(S.nrec, 0);
	/* our answer waits for the answer to the request before it */
	CHECK_INT(inject(c, buf, sizeof(buf), 1), 0);
	CHECK_INT(inject(c, buf, sizeof(buf), 0), 0);
	answer(c, ANS_OK, strlen(ANS_OK), 1);
	CHECK_INT(S.null_ends, 1);
	/* a peek leaves it there */
	CHECK_INT(inject(c, buf, 12, 1), 12);
	CHECK(memcmp(buf, "HTTP/1.1 403", 12) == 0);
	got = inject_all(c, 7, &got_len);
	CHECK_BYTES(got, got_len, exp, len);
	CHECK(got && strstr(got, "\"code\":\"llmroute_denied\"") != NULL);
	CHECK_INT(inject(c, buf, sizeof(buf), 0), 0); /* once */
	/* later writes go nowhere, and say they went */
	CHECK_INT(wr1(c, GET_C, strlen(GET_C)), (ssize_t)strlen(GET_C));
	CHECK_WIRE(GET_A);
	CHECK_INT(F.after_shut, 0);
	free(got);
	conn_close(c);

	/* one byte a call: each taken, nothing of the denied request goes */
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	for (i = 0; i < n; i++)
		ones += wr1(c, stream + i, 1) == 1;
	CHECK_INT(ones, (int)n);
	CHECK_WIRE(GET_A);
	CHECK_INT(F.shuts, 1);
	CHECK_INT(F.after_shut, 0);
	answer(c, ANS_OK, strlen(ANS_OK), 0);
	got = inject_all(c, 4096, &got_len);
	CHECK_BYTES(got, got_len, exp, len);
	free(got);
	conn_close(c);
	free(exp);
}

/* Routed, then denied; the server closes before it answers: the routed
 * request's record ends unanswered, then the app reads our refusal. */
static void test_deny_after_eof(void)
{
	const char *stream = LLM_REQ DENY_REQ;
	size_t n = strlen(stream), got_len;
	char *got;
	lr_conn *c;

	rules(RULES_DENY);
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	CHECK_INT(wr1(c, stream, n), (ssize_t)n);
	CHECK_WIRE(LLM_MINI);
	CHECK_INT(S.nrec, 1);
	CHECK_INT(inject(c, (char[8]){0}, 8, 0), 0);
	answer_eof(c);
	CHECK_INT(stubs_rec(0)->ended, 1);
	CHECK(stubs_rec(0)->status <= 0);
	got = inject_all(c, 100, &got_len);
	CHECK(got && got_len > 12 && memcmp(got, "HTTP/1.1 403", 12) == 0);
	free(got);
	conn_close(c);
}

/* A body the shim will not hold (Expect: 100-continue, or over
 * LR_HTTP_MAX_BODY): a deny that could match whatever it says refuses the
 * request at its head; else it goes as written, unrouted and unrecorded,
 * its body with the app's own send semantics. */
static void test_deny_unheld(void)
{
	static const char *const heads[] = {
		"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		"Expect: 100-continue\r\nContent-Length: 62\r\n\r\n",
		"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		"Content-Length: 100000000\r\n\r\n",
	};
	char buf[2048];
	size_t k, i, h;
	lr_conn *c;

	for (i = 0; i < 2; i++) {
		h = strlen(heads[i]);
		rules(RULES_DENY);
		c = conn_open(LR_CONN_SOCKET, NULL, 0);
		CHECK_INT(wr1(c, heads[i], h), (ssize_t)h);
		CHECK_INT(F.len, 0);
		CHECK_INT(c->state, LR_CONN_DENIED);
		CHECK_INT(S.ndenied, 1);
		k = inject(c, buf, sizeof(buf) - 1, 0);
		buf[k] = '\0';
		CHECK(strstr(buf, "HTTP/1.1 403") == buf);
		CHECK(strstr(buf, "body could not be read") != NULL);
		conn_close(c);

		rules(RULES_MINI);
		c = conn_open(LR_CONN_SOCKET, "a3e", 1);
		CHECK_INT(wr1(c, heads[i], h), (ssize_t)h);
		CHECK_WIRE(heads[i]);
		CHECK_INT(wr1(c, LLM_BODY, 62), 3); /* the fake's own short write */
		CHECK_INT(wr1(c, LLM_BODY + 3, 59), -1);
		CHECK_INT(errno, EAGAIN);
		CHECK_INT(S.nrec, 0);
		CHECK(F.len == h + 3 && memcmp(F.wire + h, LLM_BODY, 3) == 0);
		conn_close(c);
	}
}

/* --- pipelining: answers pair with their requests ------------------------------------ */

static void check_pipeline_records(int *bad)
{
	const stub_rec *a = stubs_rec(0), *b = stubs_rec(1);

	if (S.nrec != 2 || !a || !b || !a->ended || a->status != 200 || strcmp(a->got, "{\"answer\":\"A\"}") ||
	    !b->ended || b->status != 429 || strcmp(b->got, "slow down") || S.null_ends != 1)
		++*bad;
}

static void test_pipelining(void)
{
	const char *stream = LLM_REQ HEAD_B OTHER_REQ;
	const char *exp = LLM_MINI HEAD_B OTHER_REQ;
	const char *ans = ANS_A ANS_HEAD ANS_429;
	size_t n = strlen(stream), an = strlen(ans), cut, off, k;
	unsigned seed = 12345;
	lr_conn *c;
	int bad = 0, i;

	rules(RULES_MINI);
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	CHECK_INT(wr1(c, stream, n), (ssize_t)n);
	CHECK_WIRE(exp);
	CHECK_INT(S.nrec, 2);
	CHECK_STR(stubs_rec(0)->route, "mini");
	CHECK_STR(stubs_rec(1)->route, "");
	CHECK_INT(stubs_rec(1)->action, LR_ACTION_NONE);
	CHECK_INT(stubs_rec(1)->routed, 0);
	CHECK_STR(stubs_rec(1)->model, "gpt-3.5-turbo");
	/* status recorded per record, as each answer completes */
	answer(c, ANS_A, strlen(ANS_A), 0);
	CHECK_INT(stubs_rec(0)->status, 200);
	CHECK_INT(stubs_rec(1)->ended, 0);
	answer(c, ANS_HEAD, strlen(ANS_HEAD), 0);
	CHECK_INT(S.null_ends, 1);
	CHECK_INT(stubs_rec(1)->ended, 0);
	answer(c, ANS_429, strlen(ANS_429), 0);
	check_pipeline_records(&bad);
	CHECK_INT(bad, 0);
	conn_close(c);

	/* every two-slice split, one byte at a time, and random slices */
	for (cut = 0; cut <= an; cut++) {
		c = conn_open(LR_CONN_SOCKET, NULL, 0);
		wr1(c, stream, n);
		answer(c, ans, cut, 0);
		answer(c, ans + cut, an - cut, 0);
		check_pipeline_records(&bad);
		conn_close(c);
	}
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	wr1(c, stream, n);
	answer(c, ans, an, 1);
	check_pipeline_records(&bad);
	conn_close(c);
	for (i = 0; i < 200; i++) {
		c = conn_open(LR_CONN_SOCKET, NULL, 0);
		wr1(c, stream, n);
		for (off = 0; off < an; off += k) {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % 23;
			if (k > an - off)
				k = an - off;
			answer(c, ans + off, k, 0);
		}
		check_pipeline_records(&bad);
		conn_close(c);
	}
	CHECK_INT(bad, 0);
}

/* An answer delimited by the close is complete at the close; one cut
 * short is incomplete, with the body that came. */
static void test_answer_ends(void)
{
	const char *close_delimited = "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"answer\":\"A\"}";
	const char *cut = "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{\"ans";
	lr_conn *c;

	rules(RULES_MINI);
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	wr1(c, LLM_REQ, strlen(LLM_REQ));
	answer(c, close_delimited, strlen(close_delimited), 4);
	CHECK_INT(stubs_rec(0)->ended, 0);
	answer_eof(c);
	CHECK_INT(stubs_rec(0)->ended, 1);
	CHECK_INT(stubs_rec(0)->status, 200);
	CHECK_STR(stubs_rec(0)->error_type, "");
	CHECK_STR(stubs_rec(0)->got, "{\"answer\":\"A\"}");
	conn_close(c);

	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	wr1(c, LLM_REQ, strlen(LLM_REQ));
	answer(c, cut, strlen(cut), 0);
	answer_eof(c);
	CHECK_INT(stubs_rec(0)->ended, 1);
	CHECK(stubs_rec(0)->status <= 0);
	CHECK_STR(stubs_rec(0)->error_type, "incomplete");
	CHECK_STR(stubs_rec(0)->got, "{\"ans");
	conn_close(c);

	/* the connection freed with the answer still to come */
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	wr1(c, LLM_REQ, strlen(LLM_REQ));
	conn_close(c);
	CHECK_INT(stubs_rec(0)->ended, 1);
	CHECK_STR(stubs_rec(0)->error_type, "incomplete");
}

/* More requests in flight than answers are paired for. */
static void test_queue_full(void)
{
	enum { N = LR_CONN_PENDING + 2 };
	size_t one = strlen(OTHER_REQ), i;
	char *stream = malloc(one * N);
	lr_conn *c;
	int ended = 0, freed = 0, unpaired = 0;

	if (!stream)
		abort();
	for (i = 0; i < N; i++)
		memcpy(stream + i * one, OTHER_REQ, one);
	rules(RULES_MINI);
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	CHECK_INT(wr1(c, stream, one * N), (ssize_t)(one * N));
	CHECK_BYTES(F.wire, F.len, stream, one * N);
	CHECK_INT(S.nrec, N);
	for (i = 0; i < (size_t)S.nrec; i++) {
		ended += S.rec[i].ended;
		freed += S.rec[i].freed;
		unpaired += S.rec[i].ended && strcmp(S.rec[i].error_type, "unpaired") == 0;
	}
	/* those in flight end unpaired, and so do those past the queue: still
	 * routed, and recorded (without an answer), never dropped unwritten */
	CHECK_INT(unpaired, N);
	CHECK_INT(freed, 0);
	CHECK_INT(ended + freed, N);
	conn_close(c);
	free(stream);
}

/* An answer the response framer gives up on (a header line over its cap):
 * the request it answered ends "unframed"; requests sent afterwards on the
 * connection are still routed, and each should still be recorded once
 * (docs/audit.md: "Each request is recorded once"; its spend counts for budgets). */
static void test_answers_unframed(void)
{
	char *ans = malloc(LR_HTTP_RESP_MAX_LINE + 200);
	size_t n = strlen(LLM_REQ);
	lr_conn *c;
	int k;

	if (!ans)
		abort();
	k = snprintf(ans, 64, "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(ans + k, 'b', LR_HTTP_RESP_MAX_LINE);
	memcpy(ans + k + LR_HTTP_RESP_MAX_LINE, "\r\nContent-Length: 2\r\n\r\nok", 26);
	rules(RULES_MINI);
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	CHECK_INT(wr1(c, LLM_REQ, n), (ssize_t)n);
	answer(c, ans, strlen(ans), 1000);
	CHECK_INT(stubs_rec(0)->ended, 1);   /* ended unanswered: nothing to pair with */
	CHECK_STR(stubs_rec(0)->error_type, "unframed");
	CHECK_INT(wr1(c, LLM_REQ, n), (ssize_t)n);
	CHECK_WIRE(LLM_MINI LLM_MINI);      /* still routed */
	CHECK_INT(S.nrec, 2);
	if (S.nrec == 2)
		WAS_BUG(S.rec[1].ended && !S.rec[1].freed,
			  "a request routed after the answers stopped being framed is never "
			  "recorded (its lr_rec is freed unwritten)");
	conn_close(c);
	free(ans);
}

/* --- malformed input: pass-through from that byte ------------------------------------ */

static void test_not_http(void)
{
	static const char tls_hello[] = "\x16\x03\x01\x00\x2f\x01\x00\x00\x2b\x03\x03"
					"0123456789abcdef0123456789abcdef";
	size_t n = sizeof(tls_hello) - 1;
	lr_conn *c;
	int done = -1;
	struct iovec v = {(void *)tls_hello, n};
	size_t split;

	rules(RULES_MINI);
	c = conn_open(LR_CONN_SOCKET, "3", 1);
	CHECK_INT(wr(c, &v, 1, &done), 3); /* the fake's short count, as it gave it */
	CHECK_INT(done, 1);                 /* the transport may forget it */
	CHECK_INT(c->state, LR_CONN_OFF);
	v.iov_base = (void *)(tls_hello + 3);
	v.iov_len = n - 3;
	CHECK_INT(wr(c, &v, 1, &done), 3);
	conn_close(c);

	/* the same stream, all of it, every split: exact */
	bad_runs = 0;
	for (split = 0; split <= n; split++) {
		app_stats st = {0};
		c = conn_open(LR_CONN_SOCKET, "5e", 1);
		if (app_send(c, tls_hello, n, split, 0, &st) != 0 || !same(F.wire, F.len, tls_hello, n))
			bad_run("split %zu of %zu", split, n, tls_hello, n);
		answer(c, "HTTP/1.1 200 OK\r\n\r\n", 19, 0);
		conn_close(c);
	}
	CHECK_INT(bad_runs, 0);
}

static void test_long_head(void)
{
	size_t pad = LR_HTTP_MAX_HEAD + 100, n, pre = strlen(LLM_REQ), step;
	char *big = malloc(pre + pad + 64), *exp = malloc(strlen(LLM_MINI) + pad + 64);
	app_stats st;
	lr_conn *c;

	if (!big || !exp)
		abort();
	memcpy(big, LLM_REQ, pre);
	memcpy(big + pre, "GET /", 5);
	memset(big + pre + 5, 'a', pad);
	strcpy(big + pre + 5 + pad, " HTTP/1.1\r\nHost: example.com\r\n\r\n");
	n = strlen(big);
	memcpy(exp, LLM_MINI, strlen(LLM_MINI));
	memcpy(exp + strlen(LLM_MINI), big + pre, n - pre + 1);
	rules(RULES_MINI);
	for (step = 0; step <= 4096; step += 4096) {
		memset(&st, 0, sizeof(st));
		c = conn_open(LR_CONN_SOCKET, step ? "ae" : "a", 1);
		CHECK_INT(app_send(c, big, n, pre, step, &st), 0);
		CHECK_BYTES(F.wire, F.len, exp, strlen(exp));
		CHECK_INT(lr_conn_done(c), 1);
		CHECK_INT(S.nrec, 1);
		CHECK_INT(stubs_rec(0)->routed, 1); /* the request before it was routed */
		conn_close(c);
	}
	free(big);
	free(exp);
}

static void test_bad_length(void)
{
	static const char *const bad[] = {
		"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 6x\r\n\r\n" LLM_BODY,
		"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 62\r\n"
		"Content-Length: 62\r\n\r\n" LLM_BODY,
		"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: -1\r\n\r\n" LLM_BODY,
		"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nTransfer-Encoding: chunked\r\n\r\n"
		"zz\r\n" LLM_BODY,
		"POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5\r\nhello\r\nzz\r\n", /* passing through when it goes wrong */
	};
	char stream[1024];
	size_t b, n, split, step;
	app_stats st;
	lr_conn *c;

	rules(RULES_MINI);
	bad_runs = 0;
	for (b = 0; b < sizeof(bad) / sizeof(*bad); b++) {
		n = (size_t)snprintf(stream, sizeof(stream), "%s%s%s", GET_A, bad[b], GET_C);
		for (step = 0; step <= 1; step++) {
			for (split = 0; split <= n; split += step ? n : 1) {
				memset(&st, 0, sizeof(st));
				c = conn_open(LR_CONN_SOCKET, "4e", 1);
				if (app_send(c, stream, n, split, step, &st) != 0 || !same(F.wire, F.len, stream, n))
					bad_run("case %zu split %zu", b, split, stream, n);
				else if (!lr_conn_done(c) || S.nrec != 0)
					bad_run("case %zu split %zu: not off, or recorded", b, split, NULL, 0);
				conn_close(c);
			}
		}
	}
	CHECK_INT(bad_runs, 0);
}

/* CONNECT and Upgrade: what follows is another protocol, passed as written
 * (an LLM request inside a tunnel included). */
static void test_tunnels(void)
{
	static const char *const streams[] = {
		"CONNECT api.openai.com:80 HTTP/1.1\r\nHost: api.openai.com:80\r\n\r\n" LLM_REQ,
		"GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
		"\x81\x05hello\x88\x00",
	};
	size_t i, n, split;
	lr_conn *c;

	rules(RULES_MINI);
	bad_runs = 0;
	for (i = 0; i < 2; i++) {
		n = strlen(streams[i]) + (i == 1 ? 2 : 0); /* the close frame's NUL */
		for (split = 0; split <= n; split++) {
			app_stats st = {0};
			c = conn_open(LR_CONN_SOCKET, "6e", 1);
			if (app_send(c, streams[i], n, split, 0, &st) != 0 || !same(F.wire, F.len, streams[i], n))
				bad_run("stream %zu split %zu", i, split, streams[i], n);
			else if (S.nrec != 0 || !lr_conn_done(c))
				bad_run("stream %zu split %zu: recorded, or not off", i, split, NULL, 0);
			answer(c, "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01", 42, 0);
			conn_close(c);
		}
	}
	CHECK_INT(bad_runs, 0);
}

/* --- TLS: all or nothing, the same buffer retried ------------------------------------ */

static void test_tls(void)
{
	static const char *const reqs[] = {LLM_REQ, GET_BODY, LLM_REQ GET_BODY "\x01\x02garbage"};
	static const char *const exps[] = {LLM_MINI, GET_BODY, LLM_MINI GET_BODY "\x01\x02garbage"};
	char script[512];
	size_t r, at, step, n;
	app_stats st;
	lr_conn *c;

	rules(RULES_MINI);
	bad_runs = 0;
	for (r = 0; r < 3; r++) {
		n = strlen(reqs[r]);
		for (step = 0; step <= 1; step++) {
			for (at = 0; at < (step ? n + 2 : 4); at++) {
				memset(script, 'a', at); /* EAGAIN once, on send `at` */
				script[at] = 'e';
				script[at + 1] = '\0';
				memset(&st, 0, sizeof(st));
				c = conn_open(LR_CONN_TLS, script, 0);
				if (app_send(c, reqs[r], n, n + 1, step, &st) != 0 ||
				    !same(F.wire, F.len, exps[r], strlen(exps[r])))
					bad_run("request %zu EAGAIN at %zu", r, at, exps[r], strlen(exps[r]));
				else if (st.partials || F.retry_bad)
					bad_run("request %zu EAGAIN at %zu: a partial count, or not the same buffer",
						r, at, NULL, 0);
				else if (r == 0 && (S.nrec != 1 || strcmp(S.rec[0].transport, "tls") ||
						    strcmp(S.rec[0].url, "https://api.openai.com/v1/chat/completions")))
					bad_run("request %zu EAGAIN at %zu: record", r, at, NULL, 0);
				conn_close(c);
			}
		}
	}
	CHECK_INT(bad_runs, 0);

	/* after OFF, a record OpenSSL must retry keeps the connection tracked */
	c = conn_open(LR_CONN_TLS, "e", 0);
	{
		struct iovec v = {(void *)"\x16\x03\x01xyz", 6};
		int done = -1;
		CHECK_INT(wr(c, &v, 1, &done), -1);
		CHECK_INT(errno, EAGAIN);
		CHECK_INT(c->state, LR_CONN_OFF);
		CHECK_INT(done, 0);
		CHECK_INT(wr(c, &v, 1, &done), 6);
		CHECK_INT(done, 1);
		CHECK_INT(F.retry_bad, 0);
		CHECK_WIRE("\x16\x03\x01xyz");
	}
	conn_close(c);
}

/* --- drain and done --------------------------------------------------------------- */

static int drain(lr_conn *c, int wait_ms)
{
	int rc;

	pthread_mutex_lock(&c->mu);
	rc = lr_conn_drain(c, wait_ms);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static void test_drain_done(void)
{
	const char *part = "GET /x HTTP/1.1\r\nHo";
	size_t n = strlen(LLM_REQ);
	lr_conn *c;
	int done = -1;
	struct iovec v;

	rules(RULES_MINI);
	/* half a head is held; at close it gets its last chance */
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	CHECK_INT(wr1(c, part, strlen(part)), (ssize_t)strlen(part));
	CHECK_INT(F.calls, 0);
	CHECK_INT(lr_conn_done(c), 0);
	F.blocked = 1;
	CHECK_INT(drain(c, 0), -1); /* one try, no wait */
	CHECK_INT(F.waits, 0);
	CHECK_INT(F.len, 0);
	F.wait_rc = -1;
	CHECK_INT(drain(c, 50), -1); /* the wait timed out */
	CHECK_INT(F.waits, 1);
	CHECK_INT(F.wait_ms, 50);
	F.wait_rc = 0;
	F.wait_unblocks = 1;
	CHECK_INT(drain(c, 50), 0);  /* the socket became writable */
	CHECK_INT(F.waits, 2);
	CHECK_WIRE(part);
	CHECK_INT(drain(c, 50), 0);  /* nothing twice */
	CHECK_WIRE(part);
	conn_close(c);

	/* a held LLM request whose body we have not seen, a deny could match it
	 * (model o1-pro), and bytes we cannot see follow (sendfile): drain must
	 * not send it as written */
	rules(RULES_DENY);
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	CHECK_INT(wr1(c, DENY_REQ, head_len(DENY_REQ) + 10), (ssize_t)head_len(DENY_REQ) + 10);
	CHECK_INT(F.len, 0);
	{
		int rc = drain(c, 0);
		WAS_BUG(rc == -1 && F.len == 0,
			  "lr_conn_drain sends a held LLM request as written although a deny could "
			  "match its unread body: head and body start go out, and the body "
			  "sent by sendfile after them completes a request a route denies "
			  "(docs/transports.md: a deny does not fail open)");
	}
	conn_close(c);
	rules(RULES_MINI);

	/* a rewritten request the app was told to retry, then it closes */
	c = conn_open(LR_CONN_SOCKET, "5e", 0);
	CHECK_INT(wr1(c, LLM_REQ, n), -1);
	CHECK_INT(errno, EAGAIN);
	CHECK_INT(lr_conn_done(c), 0);
	CHECK_INT(drain(c, 0), 0);
	CHECK_WIRE(LLM_MINI);
	conn_close(c);

	/* off, but our bytes still pending: not done until they went */
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	CHECK_INT(wr1(c, "GET /x HTTP/1.1\r\n", 17), 17);
	F.script = "e";
	F.calls = 0;
	v.iov_base = (void *)"Bad Header\r\n\r\n";
	v.iov_len = 14;
	CHECK_INT(wr(c, &v, 1, &done), -1);
	CHECK_INT(errno, EAGAIN);
	CHECK_INT(c->state, LR_CONN_OFF);
	CHECK_INT(done, 0);
	CHECK_INT(wr(c, &v, 1, &done), 14);
	CHECK_INT(done, 1);
	CHECK_WIRE("GET /x HTTP/1.1\r\nBad Header\r\n\r\n");
	conn_close(c);

	/* off, nothing pending, but bytes the app still owes us: not done
	 * (forgotten now, the connection would send them twice) */
	{
		const char *req = "GET /x HTTP/1.1\r\nBad Header\r\n\r\n";
		struct iovec two[2] = {{(void *)req, 17}, {(void *)(req + 17), strlen(req) - 17}};
		app_stats st = {0};
		c = conn_open(LR_CONN_SOCKET, "e", 0);
		/* the request line taken, then the bad header: what was held could
		 * not all go */
		CHECK_INT(wr(c, two, 2, &done), -1);
		CHECK_INT(errno, EAGAIN);
		CHECK_INT(c->owed, 17);
		v.iov_base = (void *)req;             /* the app retries 4 bytes a call */
		v.iov_len = 4;
		CHECK_INT(wr(c, &v, 1, &done), 4);
		CHECK_INT(c->state, LR_CONN_OFF);
		CHECK_INT(done, 0);
		CHECK_INT(app_send(c, req + 4, strlen(req) - 4, 0, 4, &st), 0);
		CHECK_INT(lr_conn_done(c), 1);
		CHECK_WIRE(req);
		conn_close(c);
	}

	/* off and owing nothing: done at once */
	c = conn_open(LR_CONN_SOCKET, NULL, 0);
	v.iov_base = (void *)"\x00\x01\x02";
	v.iov_len = 3;
	CHECK_INT(wr(c, &v, 1, &done), 3);
	CHECK_INT(done, 1);
	CHECK_INT(drain(c, 0), 0);
	conn_close(c);
}

/* --- a broken connection ----------------------------------------------------------- */

static void test_epipe(void)
{
	size_t n = strlen(LLM_REQ);
	lr_conn *c;
	ssize_t r;

	rules(RULES_MINI);
	/* our bytes were pending; the retry finds the connection broken */
	c = conn_open(LR_CONN_SOCKET, "ep", 0);
	CHECK_INT(wr1(c, LLM_REQ, n), -1);
	CHECK_INT(errno, EAGAIN);
	CHECK_INT(wr1(c, LLM_REQ, n), -1);
	CHECK_INT(errno, EPIPE);
	CHECK_INT(c->state, LR_CONN_OFF);
	conn_close(c);

	/* the call that completes a held request, whose send fails: the app should
	 * see the failure, as the kernel would have given it */
	c = conn_open(LR_CONN_SOCKET, "p", 0);
	r = wr1(c, LLM_REQ, n);
	WAS_BUG(r == -1 && errno == EPIPE,
		  "EPIPE on sending a held (rewritten or released) request is reported to the "
		  "app as success: write_slice returns the bytes taken (`off`) when "
		  "decide_held/on_head/release_held fail");
	CHECK_INT(c->state, LR_CONN_OFF);
	CHECK_INT(F.len, 0);
	CHECK_INT(wr1(c, GET_A, strlen(GET_A)), -1); /* the next call does see it */
	CHECK_INT(errno, EPIPE);
	conn_close(c);

	/* the same for a request that is not an LLM request (its head is held) */
	c = conn_open(LR_CONN_SOCKET, "p", 0);
	r = wr1(c, GET_A, strlen(GET_A));
	WAS_BUG(r == -1 && errno == EPIPE,
		  "EPIPE on sending a released head is reported to the app as success");
	conn_close(c);
}

static void test_wanted(void)
{
	rules(RULES_MINI);
	CHECK_INT(lr_conn_wanted(), 1);
	CHECK_INT(S.held, 0);
	stubs_set_rules(NULL);
	unsetenv("LLMROUTE_AUDIT");
	CHECK_INT(lr_conn_wanted(), 0);
	setenv("LLMROUTE_AUDIT", "/dev/null", 1); /* an audit file alone wants it */
	CHECK_INT(lr_conn_wanted(), 1);
	unsetenv("LLMROUTE_AUDIT");
}

int main(void)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	test_plain_short_writes();
	test_plain_every_split();
	test_llm_rewrite();
	test_llm_every_split();
	test_llm_shapes();
	test_key_env();
	test_move_host_unapplied();
	test_redirected();
	test_deny();
	test_deny_after_eof();
	test_deny_unheld();
	test_pipelining();
	test_answer_ends();
	test_queue_full();
	test_answers_unframed();
	test_not_http();
	test_long_head();
	test_bad_length();
	test_tunnels();
	test_tls();
	test_drain_done();
	test_epipe();
	test_wanted();
	stubs_reset();
	stubs_free();
	fake_reset(NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "%.3f s\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return lr_test_done("test_conn");
}
