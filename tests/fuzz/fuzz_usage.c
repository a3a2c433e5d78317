/*
 * fuzz_usage.c - libFuzzer target for the response usage parser
 * (router/lr_usage.c).  The first input byte picks the format, the stream
 * flag and the slice size the rest is fed in; the invariants are that
 * nothing crashes, a response with bytes always ends with counts, the
 * model is a terminated string, and feeding it in one piece gives the same
 * counts and model as in slices (the per-event fast paths keep no state
 * that depends on where a feed ends).
 */
#include "lr_usage.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	lr_usage u, whole;
	size_t i = 0, k, step;

	if (!n)
		return 0;
	lr_usage_init(&u, d[0] % 6, (d[0] >> 3) & 1, n * 3);
	step = 1 + (d[0] >> 4);
	d++;
	n--;
	while (i < n) {
		k = n - i < step ? n - i : step;
		lr_usage_feed(&u, (const char *)d + i, k);
		i += k;
	}
	lr_usage_finish(&u);
	if (u.response_bytes && (u.input_tokens < 0 || u.output_tokens < 0))
		__builtin_trap();
	if (!memchr(u.model, 0, sizeof(u.model)))
		__builtin_trap();
	lr_usage_init(&whole, u.format, u.stream, (n + 1) * 3);
	lr_usage_feed(&whole, (const char *)d, n);
	lr_usage_finish(&whole);
	if (whole.input_tokens != u.input_tokens || whole.output_tokens != u.output_tokens ||
	    whole.cache_read_tokens != u.cache_read_tokens || strcmp(whole.model, u.model) != 0)
		__builtin_trap();
	return 0;
}
