/*
 * fuzz_guard.c - libFuzzer target for the guardrail detectors and the
 * redaction (router/lr_guard.c, lr_redact.c).  The input is a request
 * body.  Invariants: nothing crashes; every located finding lies inside
 * the body, in body order, without overlap, of a known kind, and is
 * counted; a redacted body put back through the restore is the body
 * again, byte for byte (when the body holds no '[' of its own, which a
 * placeholder could be mistaken for); a body with nothing to redact gets
 * no copy.  The input as a streamed answer (lr_redact_stream, each format,
 * fed in slices whose size the first byte picks) never crashes, and with
 * no '[' in it comes out byte for byte.
 */
#include "lr_guard.h"
#include "lr_redact.h"
#include "lr_redact_stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_hits(const lr_guard_findings *g, size_t n)
{
	uint32_t i, k, total = 0, end = 0;

	for (k = 0; k < LR_GK_N; k++)
		total += g->count[k];
	if (g->n > LR_GUARD_MAX_HITS || g->n > total)
		__builtin_trap();
	for (i = 0; i < g->n; i++) {
		const lr_guard_hit *h = &g->hit[i];

		if (h->kind >= LR_GK_N || !h->len || (size_t)h->off + h->len > n || h->off < end ||
		    !(g->mask & (1u << h->kind)))
			__builtin_trap();
		end = h->off + h->len;
	}
}

static void check_stream(const lr_redact_map *m, const uint8_t *d, size_t n)
{
	size_t step = n ? (size_t)d[0] % 17 + 1 : 1, i, k;
	int fmt, rc;

	for (fmt = LR_XF_NONE + 1; fmt < LR_XF_COUNT; fmt++) {
		lr_redact_stream *s = lr_redact_stream_new(m, fmt);
		lr_xbuf out = {0};

		if (!s)
			continue;
		for (i = 0, rc = 0; i < n && rc == 0; i += k) {
			k = step < n - i ? step : n - i;
			rc = lr_redact_stream_feed(s, (const char *)d + i, k, &out);
		}
		if (rc == 0 && lr_redact_stream_finish(s, &out) == 0 && !memchr(d, '[', n) &&
		    (out.len != n || (n && memcmp(out.p, d, n) != 0)))
			__builtin_trap();
		lr_xbuf_free(&out);
		lr_redact_stream_free(s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static lr_guard_findings g;
	lr_redact_map m = {0};
	char *red = NULL, *back = NULL;
	size_t rlen = 0, blen = 0;
	int r;

	lr_guard_scan((const char *)d, n, &g);
	check_hits(&g, n);
	r = lr_redact_body((const char *)d, n, &g, LR_GUARD_ALL, &m, &red, &rlen);
	if (r > 0 && !memchr(d, '[', n)) {
		if (lr_redact_restore(&m, red, rlen, &back, &blen) <= 0 || blen != n || memcmp(back, d, n) != 0)
			__builtin_trap();
	}
	if (r <= 0 && red)
		__builtin_trap();
	check_stream(&m, d, n);
	free(red);
	free(back);
	lr_redact_free(&m);
	return 0;
}
