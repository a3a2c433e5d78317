/*
 * fuzz_xlate.c - libFuzzer target for the format translator
 * (router/lr_xlate*.c).  The first byte picks the app and target formats,
 * the second what is fuzzed (an answer, a stream, a request, an error) and
 * the slice size a stream is fed in; the rest is the target's bytes (or
 * the app's request).  Invariants: nothing crashes or leaks; every output
 * is well-formed in the app's format: an answer or error is one JSON value,
 * a request body one JSON object, each stream event JSON (or OpenAI's
 * [DONE]); a bad answer becomes an error (return 1, status 502); a stream
 * gives the same bytes however it is sliced, and ends (finish) either
 * closed or with an error event.
 */
#include "lr_json.h"
#include "lr_xlate.h"

#include <stdint.h>
#include <string.h>

static const int fmts[] = {LR_XF_OPENAI, LR_XF_AZURE, LR_XF_RESPONSES, LR_XF_ANTHROPIC,
	LR_XF_GEMINI, LR_XF_OLLAMA};

static void json_value(const char *p, size_t n)
{
	size_t pos = 0;

	if (lr_json_skip_value(p, n, &pos) < 0 || lr_json_skip_ws(p, n, pos) != (int)n)
		__builtin_trap();
}

/* Every event of the app's stream is JSON (SSE data lines, NDJSON lines,
 * or one JSON array for Gemini without alt=sse). */
static void stream_events(int app, int array, const char *p, size_t n)
{
	const char *end = p + n, *nl;

	if (array) {
		if (n)
			json_value(p, n);
		return;
	}
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			__builtin_trap();  /* every event ends with a line end */
		if (app == LR_XF_OLLAMA) {
			json_value(p, (size_t)(nl - p));
		} else if ((size_t)(nl - p) >= 6 && memcmp(p, "data: ", 6) == 0) {
			if (!((size_t)(nl - p) == 12 && memcmp(p + 6, "[DONE]", 6) == 0))
				json_value(p + 6, (size_t)(nl - p) - 6);
		} else if (nl != p && !((size_t)(nl - p) > 7 && memcmp(p, "event: ", 7) == 0)) {
			__builtin_trap();
		}
	}
}

static lr_xbuf run(const lr_xlate_ctx *c, const uint8_t *d, size_t n, size_t step, int *rc)
{
	lr_xlate_stream *s = lr_xlate_stream_new(c);
	lr_xbuf out = {0};
	size_t i = 0, k;

	*rc = 0;
	if (!s)
		__builtin_trap();
	while (i < n) {
		k = n - i < step ? n - i : step;
		*rc |= lr_xlate_stream_feed(s, (const char *)d + i, k, &out);
		i += k;
	}
	*rc |= lr_xlate_stream_finish(s, &out);
	if (lr_xlate_stream_finish(s, &out) < 0)
		__builtin_trap();
	lr_xlate_stream_free(s);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	lr_xlate_ctx c = {0};
	lr_xbuf out = {0}, again;
	int app, tgt, mode, st = 0, rc, rc2;

	if (n < 2)
		return 0;
	app = fmts[d[0] % 6];
	tgt = fmts[(d[0] / 6) % 6];
	mode = d[1] & 3;
	c = (lr_xlate_ctx){app, tgt, d[1] >> 7, 1700000000, app == LR_XF_GEMINI && (d[1] & 4), "m"};
	d += 2;
	n -= 2;
	if (mode == 0) {
		rc = lr_xlate_answer(&c, 200, (const char *)d, n, &out, &st);
		if (rc < 0 || (rc == 1 && st != 502) || (rc == 0 && st != 200))
			__builtin_trap();
		json_value(out.p, out.len);
	} else if (mode == 1) {
		out = run(&c, d, n, n ? n : 1, &rc);
		again = run(&c, d, n, 1 + (d[-1] >> 3), &rc2);
		if (rc < 0 || rc > 1 || rc != rc2 || out.len != again.len ||
		    (out.len && memcmp(out.p, again.p, out.len)))
			__builtin_trap();
		stream_events(app, c.gemini_array, out.p, out.len);
		lr_xbuf_free(&again);
	} else if (mode == 2) {
		lr_xlate_opts o = {app, tgt, (d[-2] & 1) ? "m-1" : NULL, 64, (d[-1] >> 6) & 1, NULL, 0};
		lr_xlate_req r;
		rc = lr_xlate_request(&o, (const char *)d, n, &r);
		if (rc == 0) {
			json_value(r.body.p, r.body.len);
			if (r.body.p[0] != '{' || r.path[0] != '/')
				__builtin_trap();
		} else if (r.body.p || (rc == -5 && !r.refusal[0])) {
			__builtin_trap();
		}
		lr_xlate_req_free(&r);
	} else {
		rc = lr_xlate_error(&c, 400 + d[-1] % 200, (const char *)d, n, &out, &st);
		if (rc < 0 || st < 400 || st > 599)
			__builtin_trap();
		json_value(out.p, out.len);
	}
	lr_xbuf_free(&out);
	return 0;
}
