/*
 * fuzz_http_resp.c - libFuzzer target for the response framer
 * (router/lr_http_resp.c).
 *
 * Input: one flags byte (bit 0: the first response answers a HEAD), one
 * seed byte, then the server's byte stream.  Beyond "does not crash", it
 * abort()s unless feeding the stream whole and in random slices gives the
 * same events: the same statuses, the same body bytes per response, the
 * same ends, the same error and the same verdict at end of stream; and
 * unless every body byte reported is a byte of the stream.
 */
#include "lr_error.h"
#include "lr_http_resp.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ASSERT(c) do { if (!(c)) abort(); } while (0)
#define MAXLOG 4096

typedef struct {
	unsigned char log[MAXLOG]; /* events and body bytes, flattened */
	size_t n;
	int heads, head_no_body, last;
	const uint8_t *lo, *hi;
} trace;

static void put(trace *t, const void *p, size_t n)
{
	size_t k = n < MAXLOG - t->n ? n : MAXLOG - t->n;

	memcpy(t->log + t->n, p, k);
	t->n += k;
}

static int cb(void *ud, int ev, int status, const char *p, size_t n)
{
	trace *t = ud;
	unsigned char e[3] = {(unsigned char)ev, (unsigned char)(status >> 8), (unsigned char)status};

	/* slices split a body into more BODY events: log a run of them once */
	if (!(ev == LR_HTTP_RESP_BODY && t->last == LR_HTTP_RESP_BODY))
		put(t, e, 3);
	t->last = ev;
	if (ev == LR_HTTP_RESP_BODY) {
		ASSERT(n > 0 && (const uint8_t *)p >= t->lo && (const uint8_t *)p + n <= t->hi);
		put(t, p, n);
	}
	if (ev == LR_HTTP_RESP_HEAD)
		return !(t->heads++ == 0 && t->head_no_body);
	return 1;
}

static void run(const uint8_t *p, size_t n, unsigned seed, int head, trace *t)
{
	lr_http_resp r;
	size_t i = 0, k;
	int rc = 0, eof;

	memset(t, 0, sizeof(*t));
	t->last = -1;
	t->head_no_body = head;
	t->lo = p;
	t->hi = p + n;
	lr_http_resp_init(&r);
	while (i < n && rc == 0) {
		k = seed ? 1 + (seed = seed * 1103515245u + 12345u) % 97 : n;
		if (k > n - i)
			k = n - i;
		rc = lr_http_resp_feed(&r, (const char *)p + i, k, cb, t);
		i += k;
	}
	eof = lr_http_resp_eof(&r, cb, t);
	put(t, &rc, sizeof(rc));
	put(t, &eof, sizeof(eof));
	ASSERT(rc == 0 || rc == LR_EPARSE);
	ASSERT(rc == 0 || lr_http_resp_feed(&r, "HTTP/1.1 200 OK\r\n", 17, cb, t) == LR_EPARSE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static trace a, b;

	if (size < 2)
		return 0;
	run(data + 2, size - 2, 0, data[0] & 1, &a);
	run(data + 2, size - 2, data[1] | 1, data[0] & 1, &b);
	ASSERT(a.n == b.n && memcmp(a.log, b.log, a.n) == 0);
	return 0;
}
