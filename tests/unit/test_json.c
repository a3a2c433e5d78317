/*
 * test_json.c - unit tests for router/lr_json.c, the zero-allocation JSON
 * scanner: strict RFC 8259 acceptance, exact spans, string decode/encode,
 * path lookup, line/column, numbers, depth caps, and guard-page tests that
 * prove nothing reads past `len` (inputs are placed against a PROT_NONE page).
 */
#include "lr_error.h"
#include "lr_json.h"
#include "lr_test.h"
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static lr_span sp(const char *s)
{
	lr_span v = { s, strlen(s) };
	return v;
}

/* Result of lr_json_skip_value on the whole of s, and the end offset. */
static int skip(const char *s, size_t len, size_t *end)
{
	size_t pos = 0;
	int rc = lr_json_skip_value(s, len, &pos);

	if (end)
		*end = pos;
	return rc;
}

/* 0 if s is exactly one valid value (plus whitespace), else the error. */
static int valid(const char *s)
{
	size_t end, len = strlen(s);
	int rc = skip(s, len, &end);

	if (rc < 0)
		return rc;
	return lr_json_skip_ws(s, len, end) == (int)len ? 0 : LR_EPARSE;
}

static void test_skip_valid(void)
{
	static const char *ok[] = {
		"0", "-0", "1", "-1.5", "1e2", "1E+2", "1e-2", "-0.0e0", "12.50",
		"true", "false", "null", "\"\"", "\"abc\"",
		"\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041 \\uD83D\\uDE00\"",
		"\"\\ud800\"", /* lone surrogate: grammar allows it */
		"\"\xc3\xa9 \xe4\xbd\xa0 \xf0\x9f\x8e\x89 \xef\xbf\xbf \xf4\x8f\xbf\xbf\"",
		"[]", "{}", "[ ]", "{ }", "[1,2,3]", "{\"a\":1}",
		" \t\r\n{ \"a\" : [ 1 , { \"b\" : null } ] , \"c\" : \"d\" } \n",
		"[[[[]]]]", "{\"\":{\"\":{\"\":[]}}}",
		"\"0123456789abcdef0123456789abcdef\\\"x\"",
	};
	size_t k;

	for (k = 0; k < sizeof ok / sizeof ok[0]; k++) {
		int rc = valid(ok[k]);
		if (rc != 0)
			fprintf(stderr, "should be valid: %s\n", ok[k]);
		CHECK_INT(rc, 0);
	}
}

static void test_skip_invalid(void)
{
	static const char *bad[] = {
		"", " ", "{", "}", "[", "]", "[1,]", "[,1]", "{\"a\":1,}", "{,}",
		"{\"a\"}", "{\"a\":}", "{\"a\" 1}", "{1:2}", "{'a':1}", "[1 2]",
		"01", "1.", ".5", "-", "+1", "1e", "1e+", "-a", "0x10", "1.e5",
		"tru", "nul", "fals", "True", "NaN", "Infinity", "-Infinity",
		"\"abc", "\"\\x\"", "\"\\u12g4\"", "\"\\u123\"", "\"\\", "\"\\\"",
		"\"a\tb\"", "\"a\nb\"", "\"\x1f\"",
		"\"\xc0\x80\"", "\"\xc1\xbf\"", "\"\xe0\x80\x80\"",
		"\"\xed\xa0\x80\"", "\"\xf0\x80\x80\x80\"", "\"\xf4\x90\x80\x80\"",
		"\"\xf5\x80\x80\x80\"", "\"\xe4\xbd\"", "\"\x80\"", "\"\xff\"",
		"\"\xc3\"", "\xef\xbb\xbf{}", "/* c */ {}", "{} // c", "[1]]",
		"{\"a\":1}}", "{\"a\":1 \"b\":2}", "[1,,2]", "[\"a\":1]",
	};
	size_t k;

	for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		int rc = valid(bad[k]);
		if (rc != LR_EPARSE)
			fprintf(stderr, "should be invalid: %s\n", bad[k]);
		CHECK_INT(rc, LR_EPARSE);
	}
	/* raw NUL inside a string and between tokens */
	CHECK_INT(skip("\"a\0b\"", 5, NULL), LR_EPARSE);
	CHECK_INT(skip("[1,\0 2]", 7, NULL), LR_EPARSE);
	CHECK_INT(skip(NULL, 0, NULL), LR_EPARSE);
}

static void test_skip_positions(void)
{
	size_t end;
	size_t pos = 3;

	CHECK_INT(skip("  [1, 2]  x", 11, &end), 0);
	CHECK_INT(end, 8);
	CHECK_INT(skip("123abc", 6, &end), 0); /* caller checks what follows */
	CHECK_INT(end, 3);
	CHECK_INT(skip("\"ab\"\"", 5, &end), 0);
	CHECK_INT(end, 4);
	/* bounded by len even when the bytes after would complete the value */
	CHECK_INT(skip("\"abc\"", 4, NULL), LR_EPARSE);
	CHECK_INT(skip("true", 3, NULL), LR_EPARSE);
	CHECK_INT(skip("[1]", 2, NULL), LR_EPARSE);
	CHECK_INT(skip("\"\\u0041\"", 7, NULL), LR_EPARSE);
	CHECK_INT(skip("12", 1, &end), 0);
	CHECK_INT(end, 1);
	/* pos past len is refused, pos is left alone on error */
	CHECK_INT(lr_json_skip_value("[]", 2, &pos), LR_EPARSE);
	CHECK_INT(pos, 3);
	pos = 0;
	CHECK_INT(lr_json_skip_value("[1,", 3, &pos), LR_EPARSE);
	CHECK_INT(pos, 0);
}

static void test_depth(void)
{
	size_t n = 100000, k, d;
	char *s = malloc(2 * n + 64);

	/* the fixed stack and one more level: both fine, no limit */
	for (d = LR_JSON_MAX_DEPTH; d <= LR_JSON_MAX_DEPTH + 1; d++) {
		memset(s, '[', d);
		memset(s + d, ']', d);
		CHECK_INT(skip(s, 2 * d, NULL), 0);
	}
	/* an iterator agrees with skipping its container whole */
	{
		lr_json_iter it;
		lr_span v;
		d = LR_JSON_MAX_DEPTH + 1;
		CHECK_INT(lr_json_arr_init(&it, s, 2 * d, 0), 0);
		CHECK_INT(lr_json_arr_next(&it, &v), 1);
		CHECK_INT((int)v.len, (int)(2 * d - 2));
		CHECK_INT(lr_json_arr_next(&it, &v), 0);
	}
	/* 100000-deep bombs of both kinds: unclosed is malformed, closed is a
	 * value, a wrong closer that deep is still caught */
	memset(s, '[', n);
	CHECK_INT(skip(s, n, NULL), LR_EPARSE);
	memset(s + n, ']', n);
	CHECK_INT(skip(s, 2 * n, NULL), 0);
	s[2 * n - 1000] = '}';
	CHECK_INT(skip(s, 2 * n, NULL), LR_EPARSE);
	s[2 * n - 1000] = ']';
	s[n - 5000] = '{'; /* an object needs a key, deep down too */
	CHECK_INT(skip(s, 2 * n, NULL), LR_EPARSE);
	for (k = 0; k + 5 <= n; k += 5)
		memcpy(s + k, "{\"a\":", 5);
	CHECK_INT(skip(s, k, NULL), LR_EPARSE);
	free(s);
}

/* A top-level key after a value nested 10,000 deep, mixing objects and
 * arrays, is found: the model key may come after any nesting. */
static void test_depth_key_after(void)
{
	size_t d = 10000, i = 0, k;
	char *s = malloc(8 * d + 64);
	const char *path[] = {"model"};
	lr_span v;

	i += (size_t)sprintf(s, "{\"x\":");
	for (k = 0; k < d; k++)
		i += (size_t)sprintf(s + i, k % 2 ? "[" : "{\"a\":");
	for (k = d; k-- > 0;)
		s[i++] = k % 2 ? ']' : '}';
	i += (size_t)sprintf(s + i, ",\"model\":\"gpt-4o\"}");
	CHECK_INT(skip(s, i, NULL), 0);
	CHECK_INT(lr_json_find(s, i, path, 1, &v), 0);
	CHECK(v.len == 8 && memcmp(v.p, "\"gpt-4o\"", 8) == 0);
	{
		lr_json_iter it;
		lr_span key;
		int n = 0;
		CHECK_INT(lr_json_iter_init(&it, s, i, 0), 0);
		while (lr_json_obj_next(&it, &key, &v) == 1)
			n++;
		CHECK_INT(n, 2);
		CHECK(lr_json_str_eq(key, "model"));
	}
	free(s);
}

static void test_skip_ws(void)
{
	CHECK_INT(lr_json_skip_ws(" \t\r\nx", 5, 0), 4);
	CHECK_INT(lr_json_skip_ws("   ", 3, 1), 3);
	CHECK_INT(lr_json_skip_ws("x", 1, 0), 0);
	CHECK_INT(lr_json_skip_ws("\f x", 3, 0), 0); /* \f is not JSON ws */
	CHECK_INT(lr_json_skip_ws("ab", 2, 7), 2);
	CHECK_INT(lr_json_skip_ws(NULL, 0, 0), 0);
}

static int span_is(lr_span v, const char *want)
{
	return v.len == strlen(want) && memcmp(v.p, want, v.len) == 0;
}

static void test_obj_iter(void)
{
	const char *s = " { \"a\" : 1.50 ,\"b\\u0021\":{\"x\":[1,{}]},\n\"c\":\"d\\\"e\" } tail";
	lr_json_iter it;
	lr_span k, v;

	CHECK_INT(lr_json_iter_init(&it, s, strlen(s), 0), 0);
	CHECK_INT(lr_json_obj_next(&it, &k, &v), 1);
	CHECK(span_is(k, "\"a\""));
	CHECK(span_is(v, "1.50"));
	CHECK_INT(lr_json_obj_next(&it, &k, &v), 1);
	CHECK(span_is(k, "\"b\\u0021\""));
	CHECK(span_is(v, "{\"x\":[1,{}]}"));
	CHECK(lr_json_str_eq(k, "b!"));
	CHECK_INT(lr_json_obj_next(&it, &k, &v), 1);
	CHECK(span_is(v, "\"d\\\"e\""));
	CHECK_INT(lr_json_obj_next(&it, &k, &v), 0);
	CHECK_INT(it.pos, strlen(s) - 5);
	CHECK_INT(lr_json_obj_next(&it, &k, &v), 0); /* stays at the end */
	CHECK_INT(lr_json_arr_next(&it, &v), LR_EINVAL);

	CHECK_INT(lr_json_iter_init(&it, "{}", 2, 0), 0);
	CHECK_INT(lr_json_obj_next(&it, NULL, NULL), 0);
	CHECK_INT(it.pos, 2);
	CHECK_INT(lr_json_iter_init(&it, "[]", 2, 0), LR_EPARSE);
	CHECK_INT(lr_json_iter_init(&it, "", 0, 0), LR_EPARSE);
	CHECK_INT(lr_json_iter_init(&it, "  ", 2, 0), LR_EPARSE);
	CHECK_INT(lr_json_iter_init(&it, "\xef\xbb\xbf{}", 5, 0), LR_EPARSE);
	CHECK_INT(lr_json_iter_init(&it, "{}", 2, 5), LR_EPARSE);
}

static void test_obj_iter_errors(void)
{
	static const char *bad[] = {
		"{", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,", "{\"a\":1,}",
		"{\"a\" 1}", "{a:1}", "{\"a\":1 \"b\":2}", "{\"a\":[}", "{,}",
		"{\"a\":1]", "{\"a\":tru}",
	};
	lr_json_iter it;
	lr_span k, v;
	size_t j;
	int rc;

	for (j = 0; j < sizeof bad / sizeof bad[0]; j++) {
		CHECK_INT(lr_json_iter_init(&it, bad[j], strlen(bad[j]), 0), 0);
		while ((rc = lr_json_obj_next(&it, &k, &v)) > 0)
			;
		CHECK_INT(rc, LR_EPARSE);
		CHECK_INT(lr_json_obj_next(&it, &k, &v), LR_EPARSE); /* sticky */
	}
}

static void test_arr_iter(void)
{
	const char *s = "[ 1 , \"two\",[3], {\"four\":4} ,null ]";
	lr_json_iter it;
	lr_span v;

	CHECK_INT(lr_json_arr_init(&it, s, strlen(s), 0), 0);
	CHECK_INT(lr_json_arr_next(&it, &v), 1);
	CHECK(span_is(v, "1"));
	CHECK_INT(lr_json_arr_next(&it, &v), 1);
	CHECK(span_is(v, "\"two\""));
	CHECK_INT(lr_json_arr_next(&it, &v), 1);
	CHECK(span_is(v, "[3]"));
	CHECK_INT(lr_json_arr_next(&it, &v), 1);
	CHECK(span_is(v, "{\"four\":4}"));
	CHECK_INT(lr_json_arr_next(&it, &v), 1);
	CHECK(lr_json_is_null(v));
	CHECK_INT(lr_json_arr_next(&it, &v), 0);
	CHECK_INT(it.pos, strlen(s));
	CHECK_INT(lr_json_obj_next(&it, NULL, &v), LR_EINVAL);

	CHECK_INT(lr_json_arr_init(&it, "[1,]", 4, 0), 0);
	CHECK_INT(lr_json_arr_next(&it, &v), 1);
	CHECK_INT(lr_json_arr_next(&it, &v), LR_EPARSE);
	CHECK_INT(lr_json_arr_init(&it, "{}", 2, 0), LR_EPARSE);
}

static void test_str_eq(void)
{
	CHECK(lr_json_str_eq(sp("\"model\""), "model"));
	CHECK(lr_json_str_eq(sp("\"mod\\u0065l\""), "model"));
	CHECK(lr_json_str_eq(sp("\"\\u006D\\u006f\\u0064\\u0065\\u006C\""), "model"));
	CHECK(lr_json_str_eq(sp("\"a\\/b\""), "a/b"));
	CHECK(lr_json_str_eq(sp("\"\\ud83d\\ude00\""), "\xf0\x9f\x98\x80"));
	CHECK(lr_json_str_eq(sp("\"\xf0\x9f\x98\x80\""), "\xf0\x9f\x98\x80"));
	CHECK(lr_json_str_eq(sp("\"\\u00e9\""), "\xc3\xa9"));
	CHECK(lr_json_str_eq(sp("\"\""), ""));
	CHECK(lr_json_str_eq(sp("\"\\\"\\\\\\b\\f\\n\\r\\t\""), "\"\\\b\f\n\r\t"));
	CHECK(!lr_json_str_eq(sp("\"model\""), "mode"));
	CHECK(!lr_json_str_eq(sp("\"mode\""), "model"));
	CHECK(!lr_json_str_eq(sp("\"Model\""), "model"));
	CHECK(!lr_json_str_eq(sp("\"model \""), "model"));
	CHECK(!lr_json_str_eq(sp("\"a\\u0000\""), "a"));
	CHECK(!lr_json_str_eq(sp("\"\\ud83d\""), "\xed\xa0\xbd")); /* lone surrogate */
	CHECK(!lr_json_str_eq(sp("\"\\ude00\\ud83d\""), "\xf0\x9f\x98\x80"));
	CHECK(!lr_json_str_eq(sp("model"), "model"));
	CHECK(!lr_json_str_eq(sp("\"model"), "model"));
	CHECK(!lr_json_str_eq(sp("\"mo\\\""), "mo\\"));
	CHECK(!lr_json_str_eq(sp("\"\\x\""), "x"));
	CHECK(!lr_json_str_eq(sp("\""), ""));
	CHECK(!lr_json_str_eq(sp("\"a\""), NULL));
}

static void test_str_decode(void)
{
	char out[64];

	CHECK_INT(lr_json_str_decode(sp("\"mod\\u0065l\""), out, sizeof out), 5);
	CHECK_STR(out, "model");
	CHECK_INT(lr_json_str_decode(sp("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), out, sizeof out), 8);
	CHECK_STR(out, "\"\\/\b\f\n\r\t");
	CHECK_INT(lr_json_str_decode(sp("\"\\uD83D\\uDE00 \\u20AC\\u00e9\""), out, sizeof out), 10);
	CHECK_STR(out, "\xf0\x9f\x98\x80 \xe2\x82\xac\xc3\xa9");
	CHECK_INT(lr_json_str_decode(sp("\"a\\u0000b\""), out, sizeof out), 3);
	CHECK(memcmp(out, "a\0b", 4) == 0);
	CHECK_INT(lr_json_str_decode(sp("\"\""), out, sizeof out), 0);
	CHECK_STR(out, "");
	/* capacity: the NUL must fit too */
	CHECK_INT(lr_json_str_decode(sp("\"abcd\""), out, 5), 4);
	CHECK_INT(lr_json_str_decode(sp("\"abcd\""), out, 4), LR_ETOOBIG);
	CHECK_STR(out, "");
	CHECK_INT(lr_json_str_decode(sp("\"\\u00e9\""), out, 2), LR_ETOOBIG);
	CHECK_INT(lr_json_str_decode(sp("\"\""), out, 0), LR_ETOOBIG);
	/* malformed */
	CHECK_INT(lr_json_str_decode(sp("\"\\ud800\""), out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_json_str_decode(sp("\"\\udc00\""), out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_json_str_decode(sp("\"\\ud800\\u0041\""), out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_json_str_decode(sp("\"\\ud800\\"), out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_json_str_decode(sp("\"\\q\""), out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_json_str_decode(sp("\"\\u00\""), out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_json_str_decode(sp("\"a\"b\""), out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_json_str_decode(sp("\"a\nb\""), out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_json_str_decode(sp("\"\xc0\xaf\""), out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_json_str_decode(sp("abc"), out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_json_str_decode(sp("\""), out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_json_str_decode(sp("\"x\""), NULL, 4), LR_EINVAL);
}

static void test_str_encode(void)
{
	char out[128], back[200], all[128], big[1024];
	lr_span v;
	int n, k;

	CHECK_INT(lr_json_str_encode("gpt-4o-mini", 11, out, sizeof out), 13);
	CHECK_STR(out, "\"gpt-4o-mini\"");
	CHECK_INT(lr_json_str_encode("a\"b\\c/d", 7, out, sizeof out), 11);
	CHECK_STR(out, "\"a\\\"b\\\\c/d\"");
	CHECK_INT(lr_json_str_encode("\b\f\n\r\t\x01\x1f\x7f", 8, out, sizeof out), 25);
	CHECK_STR(out, "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
	CHECK_INT(lr_json_str_encode("a\0b", 3, out, sizeof out), 10);
	CHECK_STR(out, "\"a\\u0000b\"");
	CHECK_INT(lr_json_str_encode("caf\xc3\xa9 \xf0\x9f\x98\x80", 10, out, sizeof out), 12);
	CHECK_STR(out, "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
	CHECK_INT(lr_json_str_encode("", 0, out, sizeof out), 2);
	CHECK_STR(out, "\"\"");
	/* invalid UTF-8 would make invalid JSON */
	CHECK_INT(lr_json_str_encode("\xff", 1, out, sizeof out), LR_EINVAL);
	CHECK_INT(lr_json_str_encode("\xc3", 1, out, sizeof out), LR_EINVAL);
	CHECK_INT(lr_json_str_encode("\xed\xa0\x80", 3, out, sizeof out), LR_EINVAL);
	/* capacity: quotes and NUL included */
	CHECK_INT(lr_json_str_encode("abc", 3, out, 6), 5);
	CHECK_INT(lr_json_str_encode("abc", 3, out, 5), LR_ETOOBIG);
	CHECK_INT(lr_json_str_encode("\n", 1, out, 4), LR_ETOOBIG);
	CHECK_INT(lr_json_str_encode("x", 1, out, 0), LR_ETOOBIG);
	CHECK_INT(lr_json_str_encode("x", 1, NULL, 8), LR_EINVAL);
	/* round trip of every ASCII byte, NUL included */
	for (k = 0; k < 128; k++)
		all[k] = (char)k;
	n = lr_json_str_encode(all, 128, big, sizeof big);
	CHECK(n > 0);
	CHECK_INT(skip(big, (size_t)n, NULL), 0);
	v.p = big;
	v.len = n > 0 ? (size_t)n : 0;
	CHECK_INT(lr_json_str_decode(v, back, 128), LR_ETOOBIG); /* no room for NUL */
	CHECK_INT(lr_json_str_decode(v, back, sizeof back), 128);
	CHECK(memcmp(back, all, 128) == 0);
}

static void test_find(void)
{
	const char *s = "{\"model\":\"a\",\"messages\":[{\"role\":\"user\","
		"\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":[1,2,{\"x\":true}]}],"
		"\"opt\":{\"t\":0.5,\"t\":0.7},\"mod\\u0065l\":\"b\",\"[0]\":\"k\"}";
	const char *p1[] = { "model" };
	const char *p2[] = { "messages", "[1]", "content", "[2]", "x" };
	const char *p3[] = { "opt", "t" };
	const char *p4[] = { "messages", "[2]" };
	const char *p5[] = { "model", "x" };
	const char *p6[] = { "[0]" };
	const char *p7[] = { "messages", "role" };
	const char *p8[] = { "nope" };
	lr_span v;
	size_t len = strlen(s);

	CHECK_INT(lr_json_find(s, len, p1, 1, &v), 0);
	CHECK(span_is(v, "\"b\"")); /* the last duplicate wins, compared decoded */
	CHECK_INT(lr_json_find(s, len, p2, 5, &v), 0);
	CHECK(lr_json_is_true(v));
	CHECK_INT(lr_json_find(s, len, p3, 2, &v), 0);
	CHECK(span_is(v, "0.7"));
	CHECK_INT(lr_json_find(s, len, p4, 2, &v), LR_ENOTFOUND);
	CHECK_INT(lr_json_find(s, len, p5, 2, &v), LR_ENOTFOUND);
	CHECK_INT(lr_json_find(s, len, p6, 1, &v), LR_ENOTFOUND); /* an index, not the key "[0]" */
	CHECK_INT(lr_json_find(s, len, p7, 2, &v), LR_ENOTFOUND);
	CHECK_INT(lr_json_find(s, len, p8, 1, &v), LR_ENOTFOUND);
	CHECK_INT(lr_json_find(s, len, NULL, 0, &v), 0);
	CHECK_INT(v.len, len);
	CHECK_INT(lr_json_find(" [5, 6] ", 8, p6, 1, &v), 0);
	CHECK(span_is(v, "5"));
	{
		const char *pk[] = { "[x]" };
		CHECK_INT(lr_json_find("{\"[x]\":1}", 9, pk, 1, &v), 0);
		CHECK(span_is(v, "1"));
	}
	/* the whole document is validated, trailing garbage included */
	CHECK_INT(lr_json_find("{\"model\":\"a\"} x", 16, p1, 1, &v), LR_EPARSE);
	CHECK_INT(lr_json_find("{\"model\":\"a\",\"b\":[}", 19, p1, 1, &v), LR_EPARSE);
	CHECK_INT(lr_json_find("", 0, p1, 1, &v), LR_EPARSE);
	CHECK_INT(lr_json_find(NULL, 0, p1, 1, &v), LR_EPARSE);
	{
		const char *pn[] = { NULL };
		CHECK_INT(lr_json_find("{}", 2, pn, 1, &v), LR_EINVAL);
	}
}

static void test_find_index(void)
{
	const char *s = "[10,11,12,13]";
	const char *p0[] = { "[0]" }, *p3[] = { "[3]" }, *p4[] = { "[4]" };
	const char *pz[] = { "[03]" }, *pneg[] = { "[-1]" }, *pe[] = { "[]" };
	lr_span v;

	CHECK_INT(lr_json_find(s, 13, p0, 1, &v), 0);
	CHECK(span_is(v, "10"));
	CHECK_INT(lr_json_find(s, 13, p3, 1, &v), 0);
	CHECK(span_is(v, "13"));
	CHECK_INT(lr_json_find(s, 13, pz, 1, &v), 0);
	CHECK(span_is(v, "13"));
	CHECK_INT(lr_json_find(s, 13, p4, 1, &v), LR_ENOTFOUND);
	CHECK_INT(lr_json_find(s, 13, pneg, 1, &v), LR_ENOTFOUND); /* a key */
	CHECK_INT(lr_json_find(s, 13, pe, 1, &v), LR_ENOTFOUND);
}

static void test_linecol(void)
{
	const char *s = "{\n  \"a\": 1,\n  \"\xc3\xa9t\xc3\xa9\": x\n}";
	int line = 0, col = 0;
	size_t len = strlen(s);

	lr_json_linecol(s, len, 0, &line, &col);
	CHECK_INT(line, 1);
	CHECK_INT(col, 1);
	lr_json_linecol(s, len, 1, &line, &col); /* the newline itself */
	CHECK_INT(line, 1);
	CHECK_INT(col, 2);
	lr_json_linecol(s, len, 4, &line, &col);
	CHECK_INT(line, 2);
	CHECK_INT(col, 3);
	lr_json_linecol(s, len, (size_t)(strchr(s, 'x') - s), &line, &col);
	CHECK_INT(line, 3);
	CHECK_INT(col, 10); /* each é counts as one column */
	lr_json_linecol(s, len, (size_t)(strchr(s, 't') - s) - 1, &line, &col);
	CHECK_INT(col, 4); /* middle of the first é: that char's column */
	lr_json_linecol(s, len, 9999, &line, &col);
	CHECK_INT(line, 4);
	CHECK_INT(col, 2);
	lr_json_linecol(NULL, 0, 3, &line, &col);
	CHECK_INT(line, 1);
	CHECK_INT(col, 1);
	lr_json_linecol(s, len, 3, NULL, NULL);
}

static void test_linecol_find(void)
{
	/* the config use: locate a bad key's value in a file */
	const char *cfg = "{\n\t\"routes\": [\n\t\t{\"match\": \"*\", \"to\": 42}\n\t]\n}\n";
	const char *path[] = { "routes", "[0]", "to" };
	lr_span v;
	int line, col;

	CHECK_INT(lr_json_find(cfg, strlen(cfg), path, 3, &v), 0);
	lr_json_linecol(cfg, strlen(cfg), (size_t)(v.p - cfg), &line, &col);
	CHECK_INT(line, 3);
	CHECK_INT(col, 24);
}

static void test_num(void)
{
	double d = -1;
	char big[300];

	CHECK_INT(lr_json_num(sp("0"), &d), 0);
	CHECK(d == 0 && !signbit(d));
	CHECK_INT(lr_json_num(sp("-0.0"), &d), 0);
	CHECK(d == 0 && signbit(d));
	CHECK_INT(lr_json_num(sp("1.50"), &d), 0);
	CHECK(d == 1.5);
	CHECK_INT(lr_json_num(sp("1e2"), &d), 0);
	CHECK(d == 100);
	CHECK_INT(lr_json_num(sp("0.7E-3"), &d), 0);
	CHECK(d == 0.7e-3);
	CHECK_INT(lr_json_num(sp("-12345678901234567890"), &d), 0);
	CHECK(d == -12345678901234567890.0);
	CHECK_INT(lr_json_num(sp("0.1"), &d), 0);
	CHECK(d == 0.1);
	CHECK_INT(lr_json_num(sp("4096"), &d), 0);
	CHECK(d == 4096);
	CHECK_INT(lr_json_num(sp("1e400"), &d), 0);
	CHECK(isinf(d) && d > 0);
	CHECK_INT(lr_json_num(sp("-1e400"), &d), 0);
	CHECK(isinf(d) && d < 0);
	CHECK_INT(lr_json_num(sp("1e-400"), &d), 0);
	CHECK(d == 0);
	CHECK_INT(lr_json_num(sp("1e99999999999999999999"), &d), 0);
	CHECK(isinf(d));
	CHECK_INT(lr_json_num(sp("123456789012345678901234567890123456789012345678"), &d), 0);
	CHECK(d == 123456789012345678901234567890123456789012345678.0);
	CHECK_INT(lr_json_num(sp("0.00000000000000000000000000000000000000000000000000123"), &d), 0);
	CHECK(d == 1.23e-51);
	/* 1 followed by 250 zeros, scaled back down: digit-count scale and a
	 * huge negative exponent must not saturate into the wrong answer */
	big[0] = '1';
	memset(big + 1, '0', 250);
	memcpy(big + 251, "e-250", 6);
	CHECK_INT(lr_json_num(sp(big), &d), 0);
	CHECK(d == 1);
	memcpy(big + 251, "1e-251", 7); /* sticky digit past the kept ones */
	CHECK_INT(lr_json_num(sp(big), &d), 0);
	CHECK(d == 1);
	/* not exactly one number token */
	CHECK_INT(lr_json_num(sp("1."), &d), LR_EPARSE);
	CHECK_INT(lr_json_num(sp("01"), &d), LR_EPARSE);
	CHECK_INT(lr_json_num(sp(" 1"), &d), LR_EPARSE);
	CHECK_INT(lr_json_num(sp("1 "), &d), LR_EPARSE);
	CHECK_INT(lr_json_num(sp("\"1\""), &d), LR_EPARSE);
	CHECK_INT(lr_json_num(sp(""), &d), LR_EPARSE);
	CHECK_INT(lr_json_num(sp("0x1"), &d), LR_EPARSE);
	CHECK_INT(lr_json_num(sp("1"), NULL), LR_EPARSE);
}

static void test_num_locale(void)
{
	/* a host that set a comma-decimal locale must not change the result */
	static const char *locs[] = { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "ru_RU.UTF-8" };
	double d = 0;
	size_t k;

	for (k = 0; k < sizeof locs / sizeof locs[0]; k++)
		if (setlocale(LC_NUMERIC, locs[k]))
			break;
	CHECK_INT(lr_json_num(sp("0.25"), &d), 0);
	CHECK(d == 0.25);
	setlocale(LC_NUMERIC, "C");
}

static void test_types(void)
{
	CHECK_INT(lr_json_type_of(sp("{}")), LR_JSON_OBJECT);
	CHECK_INT(lr_json_type_of(sp("[]")), LR_JSON_ARRAY);
	CHECK_INT(lr_json_type_of(sp("\"\"")), LR_JSON_STRING);
	CHECK_INT(lr_json_type_of(sp("-1")), LR_JSON_NUMBER);
	CHECK_INT(lr_json_type_of(sp("7")), LR_JSON_NUMBER);
	CHECK_INT(lr_json_type_of(sp("true")), LR_JSON_TRUE);
	CHECK_INT(lr_json_type_of(sp("false")), LR_JSON_FALSE);
	CHECK_INT(lr_json_type_of(sp("null")), LR_JSON_NULL);
	CHECK_INT(lr_json_type_of(sp("")), LR_JSON_INVALID);
	CHECK_INT(lr_json_type_of(sp("x")), LR_JSON_INVALID);
	CHECK(lr_json_is_true(sp("true")));
	CHECK(!lr_json_is_true(sp("truex")));
	CHECK(!lr_json_is_true(sp("tru")));
	CHECK(lr_json_is_false(sp("false")));
	CHECK(lr_json_is_null(sp("null")));
	CHECK(!lr_json_is_null(sp("\"null\"")));
}

/*
 * Guard-page test (picohttpparser style): every input sits flush against a
 * PROT_NONE page, so a single byte read past `len` faults.
 */
static void guard_run(const char *src, size_t n, char *page_end)
{
	char *p = page_end - n, out[256];
	lr_json_iter it;
	lr_span k, v;
	size_t pos = 0, m;
	int line, col;
	const char *path[] = { "a", "[1]" };

	memcpy(p, src, n);
	(void)lr_json_skip_value(p, n, &pos);
	if (lr_json_iter_init(&it, p, n, 0) == 0)
		while (lr_json_obj_next(&it, &k, &v) > 0)
			(void)lr_json_str_decode(k, out, sizeof out);
	if (lr_json_arr_init(&it, p, n, 0) == 0)
		while (lr_json_arr_next(&it, &v) > 0)
			(void)lr_json_num(v, (double[1]){ 0 });
	(void)lr_json_find(p, n, path, 2, &v);
	(void)lr_json_skip_ws(p, n, 0);
	lr_json_linecol(p, n, n, &line, &col);
	v.p = p;
	v.len = n;
	(void)lr_json_str_decode(v, out, sizeof out);
	(void)lr_json_str_eq(v, "abc");
	(void)lr_json_num(v, (double[1]){ 0 });
	for (m = 0; m < n; m++) { /* every prefix, too */
		pos = 0;
		(void)lr_json_skip_value(page_end - m, m, &pos);
	}
}

/*
 * Every kind of special byte at every offset around the 8- and 16-byte
 * steps of the vector scan, each string flush against the guard page.
 */
static void test_str_boundaries(char *page_end)
{
	static const struct { const char *x; int ok; } mid[] = {
		{ "\\n", 1 }, { "\\u00e9", 1 }, { "\\\"", 1 }, { "\xc3\xa9", 1 },
		{ "\xe4\xbd\xa0", 1 }, { "\xf0\x9f\x98\x80", 1 }, { " ", 1 },
		{ "\x01", 0 }, { "\x7f", 1 }, { "\xc3", 0 }, { "\xe4\xbd", 0 },
		{ "\\x", 0 }, { "\\u12g", 0 }, { "\xff", 0 },
	};
	char buf[128];
	size_t j, k, m, n, end;
	int rc, bad = 0;

	for (j = 0; j < sizeof mid / sizeof mid[0]; j++) {
		for (k = 0; k < 40; k++) {
			for (m = 0; m < 20; m++) {
				n = (size_t)snprintf(buf, sizeof buf, "\"%.*s%s%.*s\"",
					(int)k, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnop",
					mid[j].x, (int)m, "ABCDEFGHIJKLMNOPQRSTU");
				memcpy(page_end - n, buf, n);
				rc = skip(page_end - n, n, &end);
				if (rc != (mid[j].ok ? 0 : LR_EPARSE) ||
					(rc == 0 && end != n))
					bad++;
				/* without its closing quote it is never valid */
				memcpy(page_end - (n - 1), buf, n - 1);
				if (skip(page_end - (n - 1), n - 1, NULL) != LR_EPARSE)
					bad++;
			}
		}
	}
	CHECK_INT(bad, 0);
}

static void test_guard_page(void)
{
	static const char *in[] = {
		"{\"a\":[1,2.5e3,\"x\\u00e9\\ud83d\\ude00\"],\"b\":{\"c\":null}}",
		"\"abc", "\"abc\\", "\"abc\\u12", "\"\xe4\xbd", "12345678901234567",
		"-1.5e", "tru", "[[[[[[", "{\"a\"", "{\"a\":", "\"0123456789abcdefg",
		"\"mod\\u0065l\"", "[1,2]",
	};
	long pg = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t k;

	CHECK(map != MAP_FAILED);
	if (map == MAP_FAILED)
		return;
	CHECK_INT(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	for (k = 0; k < sizeof in / sizeof in[0]; k++)
		guard_run(in[k], strlen(in[k]), map + pg);
	test_str_boundaries(map + pg);
	munmap(map, (size_t)pg * 2);
}

/* lr_json_member: the last of repeated keys, as lr_json_find; nothing for
 * a missing key, a non-object, or a broken object. */
static void test_member(void)
{
	lr_span v = lr_json_member(sp("{\"a\": 1, \"b\": {\"c\": 2}, \"a\": \"x\"}"), "a");

	CHECK(v.p && v.len == 3 && memcmp(v.p, "\"x\"", 3) == 0);
	v = lr_json_member(sp("{\"b\": {\"c\": 2}}"), "b");
	CHECK(v.p && v.len == 8);
	CHECK(lr_json_member(sp("{\"b\": 1}"), "a").p == NULL);
	CHECK(lr_json_member(sp("[1, 2]"), "a").p == NULL);
	CHECK(lr_json_member(sp("\"a\""), "a").p == NULL);
	CHECK(lr_json_member(sp("{\"a\": }"), "a").p == NULL);
	CHECK(lr_json_member(sp("{\"\\u0061\": 5}"), "a").p != NULL); /* keys compared decoded */
}

int main(void)
{
	test_member();
	test_skip_valid();
	test_skip_invalid();
	test_skip_positions();
	test_depth();
	test_depth_key_after();
	test_skip_ws();
	test_obj_iter();
	test_obj_iter_errors();
	test_arr_iter();
	test_str_eq();
	test_str_decode();
	test_str_encode();
	test_find();
	test_find_index();
	test_linecol();
	test_linecol_find();
	test_num();
	test_num_locale();
	test_types();
	test_guard_page();
	return lr_test_done("test_json");
}
