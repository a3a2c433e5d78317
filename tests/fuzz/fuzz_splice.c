/*
 * fuzz_splice.c - libFuzzer target for the stream splicer
 * (router/lr_splice.c).  The first byte picks the format (OpenAI or
 * Anthropic) and the slice size; the input, split at its first 0xff byte,
 * is a cut stream and its continuation.  Invariants: nothing crashes,
 * every byte handed to the app is in whole events (the app's bytes end
 * with a blank line; a first attempt that is not an event stream passes
 * as it comes, and a continuation never is one), the kept text never passes its cap, and the
 * continuation body of a JSON request with messages stays one that the
 * scanner accepts.
 */
#include "lr_detect.h"
#include "lr_json.h"
#include "lr_splice.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t last_end; /* 1 if the last bytes given ended with "\n\n" */

static int emit(void *ud, const char *p, size_t n)
{
	const lr_splice *s = ud;

	last_end = n >= 2 && p[n - 1] == '\n' && (p[n - 2] == '\n' || (n >= 3 && p[n - 2] == '\r'));
	/* an answer that is not an event stream (its first byte a JSON
	 * value, first attempt only) passes as it comes, by design */
	if (!last_end && !(s->raw && !s->cont))
		__builtin_trap();
	return 0;
}

static void feed(lr_splice *s, const uint8_t *d, size_t n, size_t step)
{
	size_t i = 0, k;

	while (i < n) {
		k = n - i < step ? n - i : step;
		if (lr_splice_feed(s, (const char *)d + i, k, emit, s) < 0)
			break;
		i += k;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const char req[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true}";
	static const char *const path[] = {"messages"};
	const uint8_t *cut;
	lr_splice s;
	char *body;
	size_t blen, step;
	lr_span v;

	if (!n)
		return 0;
	lr_splice_init(&s, d[0] & 1 ? LR_FMT_ANTHROPIC : LR_FMT_OPENAI);
	step = 1 + (d[0] >> 1);
	d++;
	n--;
	cut = memchr(d, 0xff, n);
	lr_splice_attempt(&s, 0);
	feed(&s, d, cut ? (size_t)(cut - d) : n, step);
	if (s.tlen > LR_SPLICE_MAX_TEXT)
		__builtin_trap();
	if (lr_splice_body(&s, req, sizeof(req) - 1, &body, &blen) == 0) {
		if (lr_json_find(body, blen, path, 1, &v) < 0)
			__builtin_trap();
		free(body);
	}
	if (cut) {
		lr_splice_attempt(&s, 1);
		feed(&s, cut + 1, n - (size_t)(cut + 1 - d), step);
	}
	lr_splice_free(&s);
	return 0;
}
