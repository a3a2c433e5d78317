/*
 * test_body.c - unit tests for router/lr_body.c, the byte-preserving request
 * body editor.  Every successful edit is compared byte for byte with a
 * hand-written expected body; every malformed body must produce an error and
 * no output.  Ends with the tests/data/bodies corpus (NAME.json in,
 * NAME.expected out after setting the model to gpt-4o-mini); run from the
 * repository root.
 */
#include "lr_body.h"
#include "lr_error.h"
#include "lr_json.h"
#include "lr_test.h"
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#define CORPUS_DIR "tests/data/bodies"

/* Reports (and counts) an output that differs from the expected bytes. */
static void check_bytes(int line, const char *got, size_t gotlen,
	const char *want, size_t wantlen)
{
	lr_test_checks++;
	if (got && gotlen == wantlen && memcmp(got, want, wantlen) == 0)
		return;
	lr_test_failed++;
	fprintf(stderr, "%s:%d: output differs\n  got:  %.*s\n  want: %.*s\n",
		__FILE__, line, got ? (int)(gotlen > 400 ? 400 : gotlen) : 6,
		got ? got : "(null)", (int)(wantlen > 400 ? 400 : wantlen), want);
}

/* set_model on a C-string body; checks rc and, if rc > 0, the output. */
static void model_case(int line, const char *in, const char *model,
	int want_rc, const char *want)
{
	char *out = (char *)1;
	size_t outlen = 7;
	int rc = lr_body_set_model(in, strlen(in), model, &out, &outlen);

	lr_test_checks++;
	if (rc != want_rc) {
		lr_test_failed++;
		fprintf(stderr, "%s:%d: rc %d, expected %d\n", __FILE__, line, rc, want_rc);
	}
	if (rc > 0)
		check_bytes(line, out, outlen, want, strlen(want));
	else
		CHECK(out == NULL && outlen == 0);
	free(rc > 0 ? out : NULL);
}

static void edit_case(int line, const char *in, const lr_edit *e, size_t n,
	int want_rc, const char *want)
{
	char *out = (char *)1;
	size_t outlen = 7;
	int rc = lr_body_edit(in, strlen(in), e, n, &out, &outlen);

	lr_test_checks++;
	if (rc != want_rc) {
		lr_test_failed++;
		fprintf(stderr, "%s:%d: rc %d, expected %d\n", __FILE__, line, rc, want_rc);
	}
	if (rc > 0)
		check_bytes(line, out, outlen, want, strlen(want));
	else
		CHECK(out == NULL && outlen == 0);
	free(rc > 0 ? out : NULL);
}

#define MODEL(in, model, rc, want) model_case(__LINE__, in, model, rc, want)
#define EDIT(in, e, rc, want) edit_case(__LINE__, in, e, sizeof e / sizeof e[0], rc, want)

static void test_get_str(void)
{
	char out[32];

	CHECK_INT(lr_body_get_str("{\"model\":\"gpt-4o\"}", 18, "model", out, sizeof out), 6);
	CHECK_STR(out, "gpt-4o");
	CHECK_INT(lr_body_get_str(" {\"a\":1, \"mod\\u0065l\" : \"x\\/y\\u00e9\" } \n", 40,
		"model", out, sizeof out), 5);
	CHECK_STR(out, "x/y\xc3\xa9");
	/* the last duplicate wins, even when it is not a string */
	CHECK_INT(lr_body_get_str("{\"model\":\"a\",\"model\":\"b\"}", 25, "model", out, sizeof out), 1);
	CHECK_STR(out, "b");
	CHECK_INT(lr_body_get_str("{\"model\":\"a\",\"model\":null}", 26, "model", out, sizeof out), LR_ENOTFOUND);
	CHECK_INT(lr_body_get_str("{\"model\":1}", 11, "model", out, sizeof out), LR_ENOTFOUND);
	CHECK_INT(lr_body_get_str("{\"x\":{\"model\":\"a\"}}", 19, "model", out, sizeof out), LR_ENOTFOUND);
	CHECK_INT(lr_body_get_str("{}", 2, "model", out, sizeof out), LR_ENOTFOUND);
	/* the whole body is validated, even after the member */
	CHECK_INT(lr_body_get_str("{\"model\":\"a\",\"b\":[}", 19, "model", out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_body_get_str("{\"model\":\"a\"} x", 15, "model", out, sizeof out), LR_EPARSE);
	CHECK_STR(out, "");
	CHECK_INT(lr_body_get_str("[\"model\"]", 9, "model", out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_body_get_str("\xef\xbb\xbf{\"model\":\"a\"}", 16, "model", out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_body_get_str("{\"model\":\"abcdef\"}", 18, "model", out, 6), LR_ETOOBIG);
	CHECK_INT(lr_body_get_str("{\"model\":\"abcdef\"}", 18, "model", out, 7), 6);
	CHECK_INT(lr_body_get_str("{\"model\":\"\\ud800\"}", 18, "model", out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_body_get_str(NULL, 0, "model", out, sizeof out), LR_EPARSE);
	CHECK_INT(lr_body_get_str("{}", 2, NULL, out, sizeof out), LR_EINVAL);
}

static void test_set_model_basic(void)
{
	MODEL("{\"model\":\"gpt-4o\"}", "gpt-4o-mini", 1, "{\"model\":\"gpt-4o-mini\"}");
	MODEL("{\"model\":\"gpt-4o\",\"messages\":[]}", "m", 1, "{\"model\":\"m\",\"messages\":[]}");
	/* the model text is JSON-encoded */
	MODEL("{\"model\":\"x\"}", "a\"b\\c\n\xc3\xa9", 1,
		"{\"model\":\"a\\\"b\\\\c\\n\xc3\xa9\"}");
	MODEL("{\"model\":\"x\"}", "", 1, "{\"model\":\"\"}");
	/* any value type is replaced, nested containers included */
	MODEL("{\"model\":null}", "m", 1, "{\"model\":\"m\"}");
	MODEL("{\"model\":{\"model\":\"x\"}}", "m", 1, "{\"model\":\"m\"}");
	MODEL("{\"model\":[1,2]}", "m", 1, "{\"model\":\"m\"}");
	/* already that model: nothing to change */
	MODEL("{\"model\":\"m\"}", "m", 0, NULL);
	/* spelled differently is a change (the upstream gets our spelling) */
	MODEL("{\"model\":\"\\u006d\"}", "m", 1, "{\"model\":\"m\"}");
	/* no top-level model: never appended */
	MODEL("{\"messages\":[]}", "m", LR_ENOTFOUND, NULL);
	MODEL("{}", "m", LR_ENOTFOUND, NULL);
	MODEL("{\"x\":{\"model\":\"a\"},\"y\":[{\"model\":\"b\"}]}", "m", LR_ENOTFOUND, NULL);
	MODEL("{\"Model\":\"a\",\"model \":\"b\",\"MODEL\":\"c\"}", "m", LR_ENOTFOUND, NULL);
	/* bad model names */
	MODEL("{\"model\":\"x\"}", "\xff", LR_EINVAL, NULL);
	MODEL("{\"model\":\"x\"}", NULL, LR_EINVAL, NULL);
	{
		char longname[LR_BODY_MAX_MODEL + 2];
		memset(longname, 'a', sizeof longname - 1);
		longname[sizeof longname - 1] = '\0';
		MODEL("{\"model\":\"x\"}", longname, LR_EINVAL, NULL);
		longname[LR_BODY_MAX_MODEL] = '\0';
		CHECK_INT(strlen(longname), LR_BODY_MAX_MODEL);
		{
			char *out = NULL;
			size_t outlen = 0;
			CHECK_INT(lr_body_set_model("{\"model\":1}", 11, longname, &out, &outlen), 1);
			CHECK_INT(outlen, 11 - 1 + LR_BODY_MAX_MODEL + 2);
			free(out);
		}
	}
	CHECK_INT(lr_body_set_model("{\"model\":1}", 11, "m", NULL, NULL), LR_EINVAL);
}

static void test_set_model_preserves(void)
{
	/* pretty-printed, model in the middle */
	MODEL("{\n  \"messages\": [\n    {\"role\": \"user\", \"content\": \"hi\"}\n  ],\n"
		"  \"model\": \"gpt-4\",\n  \"stream\": true\n}\n", "gpt-4o-mini", 1,
		"{\n  \"messages\": [\n    {\"role\": \"user\", \"content\": \"hi\"}\n  ],\n"
		"  \"model\": \"gpt-4o-mini\",\n  \"stream\": true\n}\n");
	/* "model" inside content, nested objects and tool schemas is not touched */
	MODEL("{\"messages\":[{\"role\":\"user\",\"content\":\"\\\"model\\\": \\\"x\\\"\"}],"
		"\"metadata\":{\"model\":\"a\"},\"model\":\"b\",\"tools\":[{\"model\":\"c\"}]}", "m", 1,
		"{\"messages\":[{\"role\":\"user\",\"content\":\"\\\"model\\\": \\\"x\\\"\"}],"
		"\"metadata\":{\"model\":\"a\"},\"model\":\"m\",\"tools\":[{\"model\":\"c\"}]}");
	/* a string value that looks like a key */
	MODEL("{\"system\":\"model\",\"model\":\"model\"}", "m", 1,
		"{\"system\":\"model\",\"model\":\"m\"}");
	/* escaped key spelling is kept, the key is recognised */
	MODEL("{\"mod\\u0065l\":\"a\"}", "m", 1, "{\"mod\\u0065l\":\"m\"}");
	MODEL("{\"\\u006d\\u006F\\u0064\\u0065\\u006c\" : \"a\"}", "m", 1,
		"{\"\\u006d\\u006F\\u0064\\u0065\\u006c\" : \"m\"}");
	/* duplicates: all replaced */
	MODEL("{\"model\":\"a\",\"x\":1,\"mod\\u0065l\":\"b\",\"model\":\"m\",\"model\":3}", "m", 3,
		"{\"model\":\"m\",\"x\":1,\"mod\\u0065l\":\"m\",\"model\":\"m\",\"model\":\"m\"}");
	/* number spellings */
	MODEL("{\"t\":1.50,\"p\":1e2,\"q\":-0.0,\"r\":0.7E-3,\"model\":\"a\",\"s\":-12345678901234567890}", "m", 1,
		"{\"t\":1.50,\"p\":1e2,\"q\":-0.0,\"r\":0.7E-3,\"model\":\"m\",\"s\":-12345678901234567890}");
	/* unicode escapes and raw UTF-8, lone surrogates passed through */
	MODEL("{\"c\":\"\\u00e9\xc3\xa9\\ud83d\\ude00\xf0\x9f\x98\x80\\ud800\",\"model\":\"\xe4\xbd\xa0\"}", "m", 1,
		"{\"c\":\"\\u00e9\xc3\xa9\\ud83d\\ude00\xf0\x9f\x98\x80\\ud800\",\"model\":\"m\"}");
	/* whitespace everywhere */
	MODEL(" \t\r\n{ \r\n\t\"model\" \t:\n \"a\" \r\n,\"b\" : [ 1 , 2 ] \n}\t\r\n ", "m", 1,
		" \t\r\n{ \r\n\t\"model\" \t:\n \"m\" \r\n,\"b\" : [ 1 , 2 ] \n}\t\r\n ");
	/* escaped NUL in content is fine */
	MODEL("{\"c\":\"a\\u0000b\",\"model\":\"a\"}", "m", 1, "{\"c\":\"a\\u0000b\",\"model\":\"m\"}");
}

/* Body with an embedded NUL byte: needs explicit lengths. */
static void test_nul_bytes(void)
{
	static const char in1[] = "{\"model\":\"a\0b\"}";
	static const char in2[] = "{\"model\":\"a\"}\0";
	static const char in3[] = "{\"model\":\"a\",\0\"b\":1}";
	char *out = NULL;
	size_t outlen = 0;
	char s[8];

	CHECK_INT(lr_body_set_model(in1, sizeof in1 - 1, "m", &out, &outlen), LR_EPARSE);
	CHECK(out == NULL);
	CHECK_INT(lr_body_set_model(in2, sizeof in2 - 1, "m", &out, &outlen), LR_EPARSE);
	CHECK_INT(lr_body_set_model(in3, sizeof in3 - 1, "m", &out, &outlen), LR_EPARSE);
	CHECK_INT(lr_body_get_str(in2, sizeof in2 - 1, "model", s, sizeof s), LR_EPARSE);
	/* a length shorter than the text: the rest is not looked at */
	CHECK_INT(lr_body_set_model("{\"model\":\"a\"}garbage", 13, "m", &out, &outlen), 1);
	check_bytes(__LINE__, out, outlen, "{\"model\":\"m\"}", 13);
	free(out);
}

static void test_malformed(void)
{
	static const char *bad[] = {
		"", " ", "null", "1", "\"model\"", "[]", "[{\"model\":\"a\"}]",
		"{\"model\":\"a\"} x", "{\"model\":\"a\"}{}", "{\"model\":\"a\"},",
		"{\"model\":\"a\",}", "{\"model\":\"a\"", "{\"model\":'a'}",
		"{\"model\":\"a\" \"b\":1}", "{model:\"a\"}", "\xef\xbb\xbf{\"model\":\"a\"}",
		"{\"model\":\"a\",\"b\":01}", "{\"model\":\"a\",\"b\":\"\xc0\x80\"}",
		"{\"model\":\"a\",\"b\":\"\t\"}", "{\"model\":\"a\"}\f",
		"{\"model\":\"a\",\"b\":NaN}", "{\"model\":\"a\"} // c",
	};
	size_t k;

	for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		char *out = (char *)1;
		size_t outlen = 1;
		int rc = lr_body_set_model(bad[k], strlen(bad[k]), "m", &out, &outlen);
		if (rc != LR_EPARSE)
			fprintf(stderr, "should fail: %s\n", bad[k]);
		CHECK_INT(rc, LR_EPARSE);
		CHECK(out == NULL && outlen == 0);
	}
	{
		char *out = (char *)1;
		size_t outlen = 1;
		CHECK_INT(lr_body_set_model(NULL, 0, "m", &out, &outlen), LR_EPARSE);
		CHECK(out == NULL);
	}
}

static void test_truncated(void)
{
	static const char body[] =
		"{\"model\": \"gpt-4o\", \"messages\": [{\"role\": \"user\", \"content\":"
		" \"h\\u00e9llo \\\"w\\\" \xf0\x9f\x98\x80\"}], \"temperature\": 1.5e0,"
		" \"stream\": true, \"stop\": null, \"n\": -1, \"x\": {\"model\": \"y\"}}";
	size_t n, len = sizeof body - 1;
	char s[64];

	for (n = 0; n < len; n++) {
		char *copy = malloc(n ? n : 1), *out = (char *)1;
		size_t outlen = 1;
		memcpy(copy, body, n); /* exact-size heap block: ASan sees overreads */
		CHECK(lr_body_set_model(copy, n, "m", &out, &outlen) < 0);
		CHECK(out == NULL);
		CHECK(lr_body_get_str(copy, n, "model", s, sizeof s) < 0);
		free(copy);
	}
	MODEL(body, "m", 1,
		"{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\":"
		" \"h\\u00e9llo \\\"w\\\" \xf0\x9f\x98\x80\"}], \"temperature\": 1.5e0,"
		" \"stream\": true, \"stop\": null, \"n\": -1, \"x\": {\"model\": \"y\"}}");
}

static void test_depth_bomb(void)
{
	size_t n = 100000, k;
	char *s = malloc(n + 16), *out = (char *)1;
	size_t outlen = 1;

	memset(s, '[', n);
	CHECK_INT(lr_body_set_model(s, n, "m", &out, &outlen), LR_EPARSE);
	memcpy(s, "{\"model\":\"a\",\"b\":", 17);
	CHECK_INT(lr_body_set_model(s, n, "m", &out, &outlen), LR_EPARSE);
	for (k = 17; k + 5 <= n; k += 5)
		memcpy(s + k, "{\"a\":", 5);
	CHECK_INT(lr_body_set_model(s, k, "m", &out, &outlen), LR_EPARSE);
	CHECK(out == NULL);
	free(s);
	/* deep and well-formed: the model after it is found and replaced */
	{
		size_t d = 20000, i = 0;
		char *b = malloc(2 * d + 64), m[16];
		i += (size_t)sprintf(b, "{\"x\":");
		memset(b + i, '[', d);
		memset(b + i + d, ']', d);
		i += 2 * d;
		i += (size_t)sprintf(b + i, ",\"model\":\"a\"}");
		CHECK_INT(lr_body_get_str(b, i, "model", m, sizeof m), 1);
		CHECK_INT(lr_body_set_model(b, i, "m", &out, &outlen), 1);
		CHECK(outlen == i && memcmp(out + i - 4, "\"m\"}", 4) == 0);
		free(out);
		free(b);
	}
	/* legitimately deep (within the fixed stack) is fine */
	{
		char buf[600];
		size_t d = LR_JSON_MAX_DEPTH - 1, i = 0;
		i += (size_t)sprintf(buf, "{\"model\":\"a\",\"x\":");
		memset(buf + i, '[', d);
		memset(buf + i + d, ']', d);
		buf[i + 2 * d] = '}';
		buf[i + 2 * d + 1] = '\0';
		CHECK_INT(lr_body_set_model(buf, strlen(buf), "m", &out, &outlen), 1);
		free(out);
	}
}

/* 4 MB message content: correct and unchanged around the model. */
static void test_big_body(void)
{
	static const char head[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"";
	static const char tail_in[] = "\"}],\"model\":\"gpt-4o\",\"stream\":true}";
	static const char tail_out[] = "\"}],\"model\":\"gpt-4o-mini\",\"stream\":true}";
	/* text with escapes, raw UTF-8 and a fake "model" key sprinkled in */
	static const char chunk[] = "Lorem ipsum \\\"model\\\": \\\"x\\\" caf\xc3\xa9 "
		"\\u00e9 \xf0\x9f\x98\x80 dolor sit amet\\n";
	size_t clen = sizeof chunk - 1, fill = (4u << 20) / clen * clen, k;
	size_t inlen = sizeof head - 1 + fill + sizeof tail_in - 1;
	char *in = malloc(inlen), *want = malloc(inlen + 5), *out = NULL;
	size_t outlen = 0;

	memcpy(in, head, sizeof head - 1);
	for (k = 0; k < fill; k += clen)
		memcpy(in + sizeof head - 1 + k, chunk, clen);
	memcpy(in + sizeof head - 1 + fill, tail_in, sizeof tail_in - 1);
	memcpy(want, in, sizeof head - 1 + fill);
	memcpy(want + sizeof head - 1 + fill, tail_out, sizeof tail_out - 1);
	CHECK(inlen > 4000000);
	CHECK_INT(lr_body_set_model(in, inlen, "gpt-4o-mini", &out, &outlen), 1);
	check_bytes(__LINE__, out, outlen, want, inlen + 5);
	free(out);
	free(in);
	free(want);
}

static void test_too_big(void)
{
	char *big = calloc(1, LR_BODY_MAX + 1), *out = (char *)1, s[4];
	size_t outlen = 1;

	if (!big)
		return;
	big[0] = '{';
	CHECK_INT(lr_body_set_model(big, LR_BODY_MAX + 1, "m", &out, &outlen), LR_ETOOBIG);
	CHECK(out == NULL);
	CHECK_INT(lr_body_get_str(big, LR_BODY_MAX + 1, "model", s, sizeof s), LR_ETOOBIG);
	free(big);
}

/* More duplicates than the plan keeps inline: the heap path. */
static void test_many_duplicates(void)
{
	size_t n = 1000, k;
	char *in = malloc(n * 12 + 4), *want = malloc(n * 12 + 4), *out = NULL;
	size_t i = 0, w = 0, outlen = 0;

	in[i++] = want[w++] = '{';
	for (k = 0; k < n; k++) {
		i += (size_t)sprintf(in + i, "%s\"model\":%zu", k ? "," : "", k);
		w += (size_t)sprintf(want + w, "%s\"model\":\"m\"", k ? "," : "");
	}
	in[i++] = want[w++] = '}';
	CHECK_INT(lr_body_set_model(in, i, "m", &out, &outlen), (int)n);
	check_bytes(__LINE__, out, outlen, want, w);
	free(out);
	free(in);
	free(want);
}

static void test_edit_set(void)
{
	lr_edit set[] = { { "model", "\"gpt-4o-mini\"", LR_EDIT_SET } };
	lr_edit two[] = {
		{ "model", "\"m\"", LR_EDIT_SET },
		{ "temperature", "0.2", LR_EDIT_SET },
	};

	EDIT("{\"model\":\"a\"}", set, 1, "{\"model\":\"gpt-4o-mini\"}");
	/* absent: appended after the last value, before trailing whitespace */
	EDIT("{}", set, 1, "{\"model\":\"gpt-4o-mini\"}");
	EDIT("{ }", set, 1, "{\"model\":\"gpt-4o-mini\" }");
	EDIT(" {\n}\n", set, 1, " {\"model\":\"gpt-4o-mini\"\n}\n");
	EDIT("{\"a\":1}", set, 1, "{\"a\":1,\"model\":\"gpt-4o-mini\"}");
	EDIT("{\n  \"a\": {\"b\": 1}\n}\n", set, 1,
		"{\n  \"a\": {\"b\": 1},\"model\":\"gpt-4o-mini\"\n}\n");
	EDIT("{\"x\":{\"model\":\"a\"}}", set, 1,
		"{\"x\":{\"model\":\"a\"},\"model\":\"gpt-4o-mini\"}");
	/* several edits: replacements in place, appends in edit order */
	EDIT("{\"temperature\":1,\"model\":\"a\"}", two, 2, "{\"temperature\":0.2,\"model\":\"m\"}");
	EDIT("{\"model\":\"a\"}", two, 2, "{\"model\":\"m\",\"temperature\":0.2}");
	EDIT("{}", two, 2, "{\"model\":\"m\",\"temperature\":0.2}");
	EDIT("{\"model\":\"m\",\"temperature\":0.2}", two, 0, NULL);
	EDIT("{\"model\":\"m\"}", two, 1, "{\"model\":\"m\",\"temperature\":0.2}");
}

static void test_edit_set_if_absent(void)
{
	lr_edit e[] = { { "temperature", "0.2", LR_EDIT_SET_IF_ABSENT } };

	EDIT("{\"temperature\":1}", e, 0, NULL);
	EDIT("{\"temperature\":null}", e, 0, NULL);
	EDIT("{\"model\":\"a\"}", e, 1, "{\"model\":\"a\",\"temperature\":0.2}");
	EDIT("{}", e, 1, "{\"temperature\":0.2}");
	EDIT("{\"x\":{\"temperature\":1}}", e, 1, "{\"x\":{\"temperature\":1},\"temperature\":0.2}");
}

static void test_edit_cap(void)
{
	lr_edit e[] = { { "max_tokens", "512", LR_EDIT_CAP } };
	lr_edit f[] = { { "temperature", "0.5", LR_EDIT_CAP } };

	EDIT("{\"max_tokens\":4096}", e, 1, "{\"max_tokens\":512}");
	EDIT("{\"max_tokens\":1e3}", e, 1, "{\"max_tokens\":512}");
	EDIT("{\"max_tokens\":1e999}", e, 1, "{\"max_tokens\":512}");
	EDIT("{\"max_tokens\":100}", e, 0, NULL);
	EDIT("{\"max_tokens\":512}", e, 0, NULL);
	EDIT("{\"max_tokens\":512.0}", e, 0, NULL);
	EDIT("{\"max_tokens\":5.12e2}", e, 0, NULL);
	EDIT("{\"max_tokens\":-1}", e, 0, NULL);
	EDIT("{\"max_tokens\":\"4096\"}", e, 0, NULL);
	EDIT("{\"max_tokens\":null}", e, 0, NULL);
	EDIT("{\"max_tokens\":[4096]}", e, 0, NULL);
	EDIT("{\"model\":\"a\"}", e, 1, "{\"model\":\"a\",\"max_tokens\":512}");
	EDIT("{\"max_tokens\":9000,\"x\":1,\"max_tokens\":8,\"max_tokens\":\"s\",\"max_tokens\":600}", e, 2,
		"{\"max_tokens\":512,\"x\":1,\"max_tokens\":8,\"max_tokens\":\"s\",\"max_tokens\":512}");
	EDIT("{\"temperature\":1.50}", f, 1, "{\"temperature\":0.5}");
	EDIT("{\"temperature\":0.50}", f, 0, NULL);
	/* compared as doubles: equal after rounding is not greater */
	EDIT("{\"temperature\":0.5000000000000000000000000001}", f, 0, NULL);
	EDIT("{\"temperature\":0.5000000000000001}", f, 1, "{\"temperature\":0.5}");
	EDIT("{\"temperature\":0}", f, 0, NULL);
}

static void test_edit_invalid(void)
{
	lr_edit dup[] = { { "a", "1", LR_EDIT_SET }, { "a", "2", LR_EDIT_SET } };
	lr_edit badraw[] = { { "a", "01", LR_EDIT_SET } };
	lr_edit tworaw[] = { { "a", "1 2", LR_EDIT_SET } };
	lr_edit emptyraw[] = { { "a", "", LR_EDIT_SET } };
	lr_edit capstr[] = { { "a", "\"1\"", LR_EDIT_CAP } };
	lr_edit nokey[] = { { NULL, "1", LR_EDIT_SET } };
	lr_edit noraw[] = { { "a", NULL, LR_EDIT_SET } };
	lr_edit badop[] = { { "a", "1", (lr_edit_op)7 } };
	lr_edit badkey[] = { { "\xff", "1", LR_EDIT_SET } };
	lr_edit many[LR_BODY_MAX_EDITS + 1];
	char *out = (char *)1;
	size_t outlen = 1, k;

	EDIT("{}", dup, LR_EINVAL, NULL);
	EDIT("{}", badraw, LR_EINVAL, NULL);
	EDIT("{}", tworaw, LR_EINVAL, NULL);
	EDIT("{}", emptyraw, LR_EINVAL, NULL);
	EDIT("{}", capstr, LR_EINVAL, NULL);
	EDIT("{}", nokey, LR_EINVAL, NULL);
	EDIT("{}", noraw, LR_EINVAL, NULL);
	EDIT("{}", badop, LR_EINVAL, NULL);
	EDIT("{}", badkey, LR_EINVAL, NULL);
	for (k = 0; k < LR_BODY_MAX_EDITS + 1; k++) {
		static char names[LR_BODY_MAX_EDITS + 1][8];
		sprintf(names[k], "k%zu", k);
		many[k].key = names[k];
		many[k].raw = "1";
		many[k].op = LR_EDIT_SET;
	}
	CHECK_INT(lr_body_edit("{}", 2, many, LR_BODY_MAX_EDITS + 1, &out, &outlen), LR_EINVAL);
	CHECK_INT(lr_body_edit("{}", 2, many, LR_BODY_MAX_EDITS, &out, &outlen), LR_BODY_MAX_EDITS);
	free(out);
	CHECK_INT(lr_body_edit("{}", 2, NULL, 1, &out, &outlen), LR_EINVAL);
	CHECK_INT(lr_body_edit("{}", 2, many, 1, NULL, &outlen), LR_EINVAL);
	/* no edits: just a validator */
	CHECK_INT(lr_body_edit("{\"a\":1}", 7, NULL, 0, &out, &outlen), 0);
	CHECK(out == NULL);
	CHECK_INT(lr_body_edit("{\"a\":1", 6, NULL, 0, &out, &outlen), LR_EPARSE);
}

static void test_edit_keys(void)
{
	/* a key that needs escaping when appended; raw with whitespace kept */
	lr_edit e[] = { { "we\"ird\n", " [1, 2] ", LR_EDIT_SET } };
	lr_edit u[] = { { "\xc3\xa9t\xc3\xa9", "true", LR_EDIT_SET } };
	lr_edit empty[] = { { "", "1", LR_EDIT_SET } };

	EDIT("{\"a\":1}", e, 1, "{\"a\":1,\"we\\\"ird\\n\": [1, 2] }");
	EDIT("{\"we\\\"ird\\u000a\":0}", e, 1, "{\"we\\\"ird\\u000a\": [1, 2] }");
	EDIT("{\"\\u00e9t\\u00E9\":false}", u, 1, "{\"\\u00e9t\\u00E9\":true}");
	EDIT("{\"\":0}", empty, 1, "{\"\":1}");
	EDIT("{}", empty, 1, "{\"\":1}");
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
		fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
		fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* One corpus case: NAME.json through set_model must give NAME.expected. */
/* The system prefix: an Anthropic body gets a "system" member when it has
 * none, and one whose "system" is neither a string nor blocks has no place
 * for it (fuzz_body found 0 returned there, with nothing out). */
static void test_prepend_system(void)
{
	const char *none = "{\"model\":\"c\",\"messages\":[]}";
	const char *odd = "{\"model\":\"c\",\"system\":false,\"messages\":[]}";
	char *out = NULL;
	size_t n = 0;

	CHECK_INT(lr_body_prepend_system(none, strlen(none), "Be brief.", 1, &out, &n), 1);
	CHECK(out && strstr(out, "\"system\":\"Be brief.\"") != NULL);
	free(out);
	out = NULL;
	CHECK_INT(lr_body_prepend_system(odd, strlen(odd), "Be brief.", 1, &out, &n), LR_ENOTFOUND);
	CHECK(out == NULL);
}

static void corpus_case(const char *name)
{
	char path[512], *in, *want, *out = NULL;
	size_t inlen = 0, wantlen = 0, outlen = 0;
	int rc;

	snprintf(path, sizeof path, "%s/%s.json", CORPUS_DIR, name);
	in = slurp(path, &inlen);
	snprintf(path, sizeof path, "%s/%s.expected", CORPUS_DIR, name);
	want = slurp(path, &wantlen);
	CHECK(in && want);
	if (in && want) {
		rc = lr_body_set_model(in, inlen, "gpt-4o-mini", &out, &outlen);
		if (rc <= 0) /* fail open: the upstream gets the original bytes */
			check_bytes(__LINE__, in, inlen, want, wantlen);
		else
			check_bytes(__LINE__, out, outlen, want, wantlen);
		/* fail-open cases are named so; every other case must change */
		CHECK((strncmp(name, "failopen_", 9) == 0) == (rc <= 0));
		if ((strncmp(name, "failopen_", 9) == 0) != (rc <= 0))
			fprintf(stderr, "  corpus case %s: rc %d\n", name, rc);
	}
	free(out);
	free(in);
	free(want);
}

static void test_corpus(void)
{
	DIR *d = opendir(CORPUS_DIR);
	struct dirent *de;
	char name[256];
	size_t n, cases = 0;

	CHECK(d != NULL);
	if (!d)
		return;
	while ((de = readdir(d))) {
		n = strlen(de->d_name);
		if (n <= 5 || n - 5 >= sizeof name || strcmp(de->d_name + n - 5, ".json"))
			continue;
		memcpy(name, de->d_name, n - 5);
		name[n - 5] = '\0';
		corpus_case(name);
		cases++;
	}
	closedir(d);
	CHECK(cases >= 8);
}

/* The splice at a member already found: set_model's bytes and codes,
 * without a second walk; spans not inside the body are refused. */
static void test_set_model_at(void)
{
	static const char *const key[] = {"model"};
	static const char *const in[] = {
		"{\"model\":\"gpt-4o\",\"messages\":[]}",
		" { \"stream\":true , \"model\" : 7 } ",
		"{\"mod\\u0065l\":\"x\"}",
		"{\"model\":\"gpt-4o-mini\"}",
	};
	char *a, *b;
	size_t alen, blen, count, k;
	lr_span v;

	for (k = 0; k < sizeof in / sizeof in[0]; k++) {
		CHECK_INT(lr_body_members_n(in[k], strlen(in[k]), key, 1, &v, &count), 0);
		CHECK(count == 1);
		CHECK_INT(lr_body_set_model_at(in[k], strlen(in[k]), v, "gpt-4o-mini", &b, &blen),
			lr_body_set_model(in[k], strlen(in[k]), "gpt-4o-mini", &a, &alen));
		CHECK(blen == alen && (a ? b && memcmp(a, b, alen + 1) == 0 : !b));
		free(a);
		free(b);
	}
	CHECK_INT(lr_body_members_n("{\"model\":1,\"model\":2}", 21, key, 1, &v, &count), 0);
	CHECK(count == 2);
	CHECK_INT(lr_body_members_n("{\"model\":1", 10, key, 1, &v, &count), LR_EPARSE);
	CHECK(count == 0 && !v.p);
	v.p = "\"elsewhere\""; /* a span not inside the body */
	v.len = 11;
	CHECK_INT(lr_body_set_model_at(in[0], strlen(in[0]), v, "m", &b, &blen), LR_EINVAL);
	v.p = in[0] + 9;
	CHECK_INT(lr_body_set_model_at(in[0], strlen(in[0]), v, NULL, &b, &blen), LR_EINVAL);
}

int main(void)
{
	test_get_str();
	test_prepend_system();
	test_set_model_basic();
	test_set_model_preserves();
	test_set_model_at();
	test_nul_bytes();
	test_malformed();
	test_truncated();
	test_depth_bomb();
	test_big_body();
	test_too_big();
	test_many_duplicates();
	test_edit_set();
	test_edit_set_if_absent();
	test_edit_cap();
	test_edit_invalid();
	test_edit_keys();
	test_corpus();
	return lr_test_done("test_body");
}
