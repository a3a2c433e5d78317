/*
 * test_http_resp.c - unit tests for router/lr_http_resp.c: every body
 * framing, interim responses, bodiless answers, several responses in one
 * slice, every split point of a stream, and garbage that must stop it.
 */
#include "lr_error.h"
#include "lr_http_resp.h"
#include "lr_test.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
	int heads, dones, status[8];
	char body[8][256];
	size_t blen[8];
	int no_body_for; /* response index answered as to a HEAD request */
} log_t;

static int cb(void *ud, int ev, int status, const char *p, size_t n)
{
	log_t *l = ud;
	int i = l->heads - 1;

	if (ev == LR_HTTP_RESP_HEAD) {
		if (l->heads < 8)
			l->status[l->heads] = status;
		l->heads++;
		return l->heads - 1 != l->no_body_for;
	}
	if (ev == LR_HTTP_RESP_BODY && i >= 0 && i < 8 && l->blen[i] + n < sizeof(l->body[i])) {
		memcpy(l->body[i] + l->blen[i], p, n);
		l->blen[i] += n;
	}
	if (ev == LR_HTTP_RESP_DONE)
		l->dones++;
	return 1;
}

/* Feeds s in pieces of `step` bytes; returns the first error. */
static int run(const char *s, size_t step, log_t *l, int eof)
{
	lr_http_resp r;
	size_t n = strlen(s), i, k;
	int rc = 0;

	lr_http_resp_init(&r);
	for (i = 0; i < n && rc == 0; i += k) {
		k = n - i < step ? n - i : step;
		rc = lr_http_resp_feed(&r, s + i, k, cb, l);
	}
	if (eof && rc == 0)
		rc = lr_http_resp_eof(&r, cb, l) ? 1 : 0;
	return rc;
}

static void every_split(const char *s, int heads, int dones, const char *body0, int eof)
{
	size_t step, n = strlen(s);

	for (step = 1; step <= n; step++) {
		log_t l;
		memset(&l, 0, sizeof(l));
		l.no_body_for = -1;
		CHECK_INT(run(s, step, &l, eof), 0);
		CHECK_INT(l.heads, heads);
		CHECK_INT(l.dones, dones);
		l.body[0][l.blen[0]] = '\0';
		CHECK_STR(l.body[0], body0);
	}
}

static void test_framings(void)
{
	every_split("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 1, 1, "hello", 0);
	every_split("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\nTrailer: 1\r\n\r\n", 1, 1, "hello", 0);
	every_split("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello", 1, 1, "hello", 1);
	every_split("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1, 1, "ok", 0);
	every_split("HTTP/1.1 204 No Content\r\n\r\n", 1, 1, "", 0);
	every_split("HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 1, 1, "ok", 0); /* bare LF */
	/* two responses back to back, bodies kept apart */
	every_split("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 429 Too Many\r\n"
		    "Content-Length: 4\r\n\r\nslow", 2, 2, "ok", 0);
}

static void test_head_and_statuses(void)
{
	log_t l;
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"
			"HTTP/1.1 500 Oops\r\nContent-Length: 3\r\n\r\nbad";

	memset(&l, 0, sizeof(l));
	l.no_body_for = 0; /* the first answers a HEAD: no body despite the length */
	CHECK_INT(run(s, 7, &l, 0), 0);
	CHECK_INT(l.heads, 2);
	CHECK_INT(l.dones, 2);
	CHECK_INT(l.status[0], 200);
	CHECK_INT(l.status[1], 500);
	CHECK_INT((long long)l.blen[1], 3);
}

static void test_eof(void)
{
	log_t l;

	memset(&l, 0, sizeof(l));
	l.no_body_for = -1;
	/* cut short inside a Content-Length body: reported as incomplete */
	CHECK_INT(run("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 4, &l, 1), 1);
	CHECK_INT(l.dones, 0);
	memset(&l, 0, sizeof(l));
	l.no_body_for = -1;
	CHECK_INT(run("", 4, &l, 1), 0);
}

static void test_garbage(void)
{
	static const char *bad[] = {
		"SSH-2.0-OpenSSH\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXX\r\n",
	};
	size_t i;
	char *big;
	lr_http_resp r;
	log_t l;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&l, 0, sizeof(l));
		l.no_body_for = -1;
		CHECK_INT(run(bad[i], 3, &l, 0), LR_EPARSE);
	}
	/* an overlong header line stops it, and it stays stopped */
	big = malloc(LR_HTTP_RESP_MAX_LINE + 100);
	memset(big, 'a', LR_HTTP_RESP_MAX_LINE + 99);
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	big[LR_HTTP_RESP_MAX_LINE + 99] = '\0';
	lr_http_resp_init(&r);
	memset(&l, 0, sizeof(l));
	CHECK_INT(lr_http_resp_feed(&r, big, strlen(big), cb, &l), LR_EPARSE);
	CHECK_INT(lr_http_resp_feed(&r, "HTTP/1.1 200 OK\r\n", 17, cb, &l), LR_EPARSE);
	CHECK_INT(lr_http_resp_idle(&r), 0);
	free(big);
}

int main(void)
{
	test_framings();
	test_head_and_statuses();
	test_eof();
	test_garbage();
	return lr_test_done("test_http_resp");
}
