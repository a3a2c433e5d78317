/*
 * fuzz_body.c - libFuzzer target for the JSON scanner and body rewriter.
 *
 * Beyond "does not crash" (ASan/UBSan catch overreads; libFuzzer hands us a
 * buffer of exactly `size` bytes), it checks properties that tie the pieces
 * together, and abort()s on any violation:
 *   - validity is one answer: lr_json_skip_value + trailing whitespace,
 *     lr_body_get_str and lr_body_set_model agree on whether the body is a
 *     well-formed object, and with which error;
 *   - set_model is byte-preserving: walking input and output members in
 *     lockstep, every gap, key and non-model value is identical, every
 *     top-level model value is the new token, and the length adds up;
 *   - set_model_at (the splice at the model member the request's walk
 *     found, lr_request_set_model's fast path) gives set_model's result,
 *     byte for byte, whenever the body has exactly one "model";
 *   - a general edit list is idempotent (applying it to its own output
 *     changes nothing) and its output is a valid object;
 *   - string encode/decode round-trips, and lr_json_num matches strtod.
 */
#include "lr_body.h"
#include "lr_extract.h"
#include "lr_error.h"
#include "lr_json.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEW_MODEL "gpt-4o-mini"
#define NEW_RAW "\"" NEW_MODEL "\""

#define ASSERT(c) do { \
	if (!(c)) { \
		fprintf(stderr, "fuzz_body.c:%d: invariant failed: %s\n", __LINE__, #c); \
		abort(); \
	} \
} while (0)

static int span_eq(lr_span a, const char *p, size_t n)
{
	return a.len == n && memcmp(a.p, p, n) == 0;
}

/* 0 if s is one object plus whitespace, else what the scanner said. */
static int object_status(const char *s, size_t n)
{
	size_t pos = 0;
	int start = lr_json_skip_ws(s, n, 0), rc;

	if ((size_t)start >= n || s[start] != '{')
		return LR_EPARSE; /* not an object: depth does not matter */
	if ((rc = lr_json_skip_value(s, n, &pos)) < 0)
		return rc;
	ASSERT(pos <= n);
	return lr_json_skip_ws(s, n, pos) == (int)n ? 0 : LR_EPARSE;
}

static void check_scanner(const char *s, size_t n)
{
	size_t pos = 0, again = 0;
	char *copy;

	if (lr_json_skip_value(s, n, &pos) < 0)
		return;
	/* a value's extent does not depend on the bytes after it */
	copy = malloc(pos ? pos : 1);
	memcpy(copy, s, pos);
	ASSERT(lr_json_skip_value(copy, pos, &again) == 0 && again == pos);
	free(copy);
}

/* Lockstep walk proving out == in except for top-level model values. */
static void check_preserved(const char *in, size_t n, const char *out,
	size_t outlen, int changes)
{
	lr_json_iter a, b;
	lr_span ka, va, kb, vb;
	size_t pa = 0, pb = 0;
	long delta = 0;
	int ra, rb, changed = 0;

	ASSERT(lr_json_iter_init(&a, in, n, 0) == 0);
	ASSERT(lr_json_iter_init(&b, out, outlen, 0) == 0);
	while ((ra = lr_json_obj_next(&a, &ka, &va)) > 0) {
		rb = lr_json_obj_next(&b, &kb, &vb);
		ASSERT(rb == 1);
		ASSERT((size_t)(ka.p - in) - pa == (size_t)(kb.p - out) - pb);
		ASSERT(memcmp(in + pa, out + pb, (size_t)(ka.p - in) - pa) == 0);
		ASSERT(span_eq(kb, ka.p, ka.len));
		ASSERT(va.p - (ka.p + ka.len) == vb.p - (kb.p + kb.len));
		ASSERT(memcmp(ka.p + ka.len, kb.p + kb.len, (size_t)(va.p - ka.p - ka.len)) == 0);
		if (lr_json_str_eq(ka, "model")) {
			ASSERT(span_eq(vb, NEW_RAW, strlen(NEW_RAW)));
			changed += !span_eq(va, NEW_RAW, strlen(NEW_RAW));
			delta += (long)vb.len - (long)va.len;
		} else {
			ASSERT(span_eq(vb, va.p, va.len));
		}
		pa = (size_t)(va.p + va.len - in);
		pb = (size_t)(vb.p + vb.len - out);
	}
	ASSERT(ra == 0 && lr_json_obj_next(&b, &kb, &vb) == 0);
	ASSERT(n - pa == outlen - pb && memcmp(in + pa, out + pb, n - pa) == 0);
	ASSERT(changed == changes);
	ASSERT((long)outlen == (long)n + delta);
}

/* The one-walk rewrite against the full one, on the same body. */
static void check_set_model_at(const char *s, size_t n, int mrc, const char *out, size_t outlen)
{
	static const char *const key[] = {"model"};
	char *out2 = NULL;
	size_t outlen2 = 0, count = 0;
	lr_span v;
	int rc;

	if (lr_body_members_n(s, n, key, 1, &v, &count) < 0 || count != 1)
		return;
	rc = lr_body_set_model_at(s, n, v, NEW_MODEL, &out2, &outlen2);
	ASSERT(rc == mrc && outlen2 == outlen);
	ASSERT((!out && !out2) || (out && out2 && memcmp(out, out2, outlen + 1) == 0));
	free(out2);
}

static void check_set_model(const char *s, size_t n)
{
	char got[64], *out = NULL;
	size_t outlen = 0;
	int st = object_status(s, n);
	int grc = lr_body_get_str(s, n, "model", got, sizeof got);
	int mrc = lr_body_set_model(s, n, NEW_MODEL, &out, &outlen);

	check_set_model_at(s, n, mrc, out, outlen);
	if (st < 0) {
		ASSERT(mrc == st && grc == st && !out);
		return;
	}
	ASSERT(mrc >= 0 || mrc == LR_ENOTFOUND);
	ASSERT(grc != LR_EPARSE || mrc >= 0); /* only an undecodable model */
	if (mrc == LR_ENOTFOUND)
		ASSERT(grc == LR_ENOTFOUND);
	if (mrc <= 0) {
		ASSERT(!out && outlen == 0);
		return;
	}
	ASSERT(object_status(out, outlen) == 0);
	ASSERT(lr_body_get_str(out, outlen, "model", got, sizeof got) ==
		(int)strlen(NEW_MODEL) && strcmp(got, NEW_MODEL) == 0);
	check_preserved(s, n, out, outlen, mrc);
	free(out);
}

static void check_edit_list(const char *s, size_t n)
{
	static const lr_edit e[] = {
		{ "model", NEW_RAW, LR_EDIT_SET },
		{ "max_tokens", "512", LR_EDIT_CAP },
		{ "temperature", "0.2", LR_EDIT_SET_IF_ABSENT },
	};
	const char *path[] = { "max_tokens" };
	char *out = NULL, *out2 = NULL;
	size_t outlen = 0, outlen2 = 0;
	int rc = lr_body_edit(s, n, e, 3, &out, &outlen), st = object_status(s, n);
	lr_span v;
	double d;

	ASSERT(st < 0 ? rc == st : rc >= 0);
	if (rc <= 0) {
		ASSERT(!out);
		return;
	}
	ASSERT(object_status(out, outlen) == 0);
	ASSERT(lr_body_edit(out, outlen, e, 3, &out2, &outlen2) == 0 && !out2);
	ASSERT(lr_json_find(out, outlen, path, 1, &v) == 0);
	if (lr_json_type_of(v) == LR_JSON_NUMBER)
		ASSERT(lr_json_num(v, &d) == 0 && d <= 512);
	free(out);
}

/* The input as a model name: encoded, spliced and decoded back intact. */
static void check_strings(const char *s, size_t n)
{
	char enc[6 * 64 + 3], dec[64 + 1], *out = NULL;
	size_t outlen = 0;
	lr_span v;
	int len;

	if (n > 64)
		return;
	len = lr_json_str_encode(s, n, enc, sizeof enc);
	if (len < 0) {
		ASSERT(len == LR_EINVAL);
		return;
	}
	v.p = enc;
	v.len = (size_t)len;
	ASSERT(lr_json_str_decode(v, dec, sizeof dec) == (int)n);
	ASSERT(memcmp(dec, s, n) == 0);
	if (memchr(s, '\0', n))
		return;
	memcpy(dec, s, n);
	dec[n] = '\0';
	ASSERT(lr_json_str_eq(v, dec));
	ASSERT(lr_body_set_model("{\"model\":0}", 11, dec, &out, &outlen) == 1);
	ASSERT(lr_body_get_str(out, outlen, "model", enc, sizeof enc) == (int)n);
	ASSERT(memcmp(enc, s, n) == 0);
	free(out);
}

/* Input as a raw token: decoding, numbers, lookups must hold together. */
static void check_tokens(const char *s, size_t n)
{
	static const char *const path[] = { "messages", "[0]", "content" };
	char buf[128], z[48];
	lr_span v = { s, n };
	double d;
	int line, col, rc;

	rc = lr_json_str_decode(v, buf, sizeof buf);
	if (rc >= 0)
		ASSERT(n >= 2 && s[0] == '"' && (size_t)rc < sizeof buf);
	/* up to LR_NUM_DIGITS significant digits the result is exact */
	if (lr_json_num(v, &d) == 0 && n <= 40) {
		memcpy(z, s, n);
		z[n] = '\0';
		ASSERT(d == strtod(z, NULL));
	}
	if (lr_json_find(s, n, path, 3, &v) == 0)
		ASSERT(v.p >= s && v.p + v.len <= s + n);
	lr_json_linecol(s, n, n / 2, &line, &col);
	ASSERT(line >= 1 && col >= 1);
}

/* Feature extraction keeps its texts in bounds, and a system prefix gives
 * a valid object that still holds every byte of the original after the
 * insertion point... checked here as: valid JSON, longer, and the old
 * body's "model" unchanged. */
static void check_policy(const char *s, size_t n)
{
	static lr_extract x;
	char *out = NULL, m1[300], m2[300];
	size_t outlen = 0;
	lr_span v;
	int rc;

	if (lr_extract_body(s, n, &x) == 0) {
		ASSERT(x.user_len < LR_TEXT_MAX && x.system_len < LR_TEXT_MAX);
		ASSERT(x.user[x.user_len] == '\0' && x.system[x.system_len] == '\0');
		ASSERT(x.prompt_tokens >= 0 && x.prompt_tokens <= (double)n);
	}
	rc = lr_body_prepend_system(s, n, "Be brief. \"quoted\" \u00e9", n & 1, &out, &outlen);
	ASSERT(rc == 1 || rc == LR_ENOTFOUND || rc == LR_EPARSE || rc == LR_ETOOBIG || rc == LR_EINVAL);
	ASSERT((rc == 1) == (out != NULL));
	if (out) {
		ASSERT(outlen > n && out[outlen] == '\0');
		ASSERT(lr_json_find(out, outlen, NULL, 0, &v) == 0);
		ASSERT(lr_body_get_str(s, n, "model", m1, sizeof(m1)) == lr_body_get_str(out, outlen, "model", m2, sizeof(m2)));
		free(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	check_policy(s, size);
	check_scanner(s, size);
	check_set_model(s, size);
	check_edit_list(s, size);
	check_strings(s, size);
	check_tokens(s, size);
	return 0;
}
