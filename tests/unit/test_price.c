/*
 * test_price.c - prices and cost: the LiteLLM price catalogue reader
 * (lr_catalog), its place in the rules (prices_file) and the table, the
 * lookup order, and the cost of cached prompt tokens for every provider's
 * usage format, from the answer bytes to the dollars.
 * Run from the repository root (reads tests/data/litellm_prices.json).
 */
#include "lr_catalog.h"
#include "lr_error.h"
#include "lr_price.h"
#include "lr_request.h"
#include "lr_rules.h"
#include "lr_table.h"
#include "lr_test.h"
#include "lr_usage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FIXTURE "tests/data/litellm_prices.json"
static int near(double a, double b)
{
	return fabs(a - b) <= 1e-12 * (fabs(b) > 1 ? fabs(b) : 1);
}
#define NEAR(a, b) near((a), (b))

static int parse(const char *text, lr_catalog *c, char *err, size_t cap)
{
	return lr_catalog_parse(text, strlen(text), c, err, cap);
}

/* --- the catalogue reader ------------------------------------------------ */

static void test_fixture(void)
{
	lr_catalog c;
	char err[256];
	const lr_catalog_entry *e;
	size_t i;

	CHECK_INT(lr_catalog_load(FIXTURE, &c, err, sizeof(err)), 0);
	CHECK_INT(c.n, 5);       /* acme-large, claude, gemini, gpt-5-mini, embedding */
	CHECK_INT(c.skipped, 2); /* sample_spec, dall-e-3 (priced per pixel) */
	for (i = 1; i < c.n; i++)
		CHECK(strcmp(c.v[i - 1].model, c.v[i].model) < 0);
	e = lr_catalog_find(&c, "acme-large");
	CHECK(e && NEAR(e->price.input_per_mtok, 4) && NEAR(e->price.output_per_mtok, 16) &&
	      NEAR(e->price.cache_read_per_mtok, 0.4) && NEAR(e->price.cache_write_per_mtok, 5) &&
	      e->context_window == 64000);
	e = lr_catalog_find(&c, "gemini-2.5-flash");
	CHECK(e && NEAR(e->price.input_per_mtok, 0.3) && NEAR(e->price.cache_read_per_mtok, 0.03) &&
	      e->price.cache_write_per_mtok < 0 && e->context_window == 1048576);
	e = lr_catalog_find(&c, "text-embedding-3-small"); /* max_tokens when no max_input_tokens */
	CHECK(e && NEAR(e->price.input_per_mtok, 0.02) && e->price.output_per_mtok == 0 &&
	      e->price.cache_read_per_mtok < 0 && e->context_window == 8191);
	CHECK(!lr_catalog_find(&c, "sample_spec"));
	CHECK(!lr_catalog_find(&c, "dall-e-3"));
	CHECK(!lr_catalog_find(&c, "acme-larg"));
	CHECK(!lr_catalog_find(&c, "acme-large2"));
	lr_catalog_free(&c);
	CHECK(c.n == 0 && c.v == NULL);
}

static void test_small_cases(void)
{
	lr_catalog c;
	char err[256];

	CHECK_INT(parse("{\"sample_spec\": {\"input_cost_per_token\": \"a number\"}}", &c, err, sizeof(err)), 0);
	CHECK(c.n == 0 && c.skipped == 1);
	lr_catalog_free(&c);
	CHECK_INT(parse("{}", &c, err, sizeof(err)), 0);
	CHECK_INT(c.n, 0);
	lr_catalog_free(&c);
	/* unknown fields, nested ones too, are ignored; null is absent */
	CHECK_INT(parse("{\"m\": {\"input_cost_per_token\": 1e-6, \"output_cost_per_token\": null,"
			" \"x\": {\"input_cost_per_token\": -5}, \"tiers\": [1, {\"a\": []}],"
			" \"cache_read_input_token_cost\": null, \"max_input_tokens\": null}}",
			&c, err, sizeof(err)), 0);
	CHECK(c.n == 1 && NEAR(c.v[0].price.input_per_mtok, 1) && c.v[0].price.output_per_mtok == 0 &&
	      c.v[0].price.cache_read_per_mtok < 0 && c.v[0].context_window == 0);
	lr_catalog_free(&c);
	/* a zero price is a price (free local models) */
	CHECK_INT(parse("{\"free\": {\"input_cost_per_token\": 0, \"output_cost_per_token\": 0}}", &c, err,
			sizeof(err)), 0);
	CHECK(c.n == 1 && c.v[0].price.input_per_mtok == 0);
	lr_catalog_free(&c);
}

/* Each text is refused with `code`, and the message names `word`. */
static void refused(int line, const char *text, size_t len, int code, const char *word)
{
	lr_catalog c;
	char err[256];
	int rc = lr_catalog_parse(text, len, &c, err, sizeof(err));

	if (rc != code || !strstr(err, word))
		fprintf(stderr, "test_price.c:%d: got %d \"%s\", want %d and \"%s\"\n", line, rc, err, code, word);
	CHECK(rc == code && strstr(err, word));
	lr_catalog_free(&c);
}
#define REFUSED(text, code, word) refused(__LINE__, text, strlen(text), code, word)

static void test_bad(void)
{
	static const char nul[] = "{\"m\": {\"input_cost_per_token\": 1e-6}}\0";

	REFUSED("", LR_EPARSE, "not a JSON object");
	REFUSED("[]", LR_EPARSE, "not a JSON object");
	REFUSED("{\"m\": {\"input_cost_per_token\": 1e-6}", LR_EPARSE, "malformed");
	REFUSED("{\"m\": {\"input_cost_per_token\": 1e-6}} {}", LR_EPARSE, "malformed");
	REFUSED("{\"m\": {\"input_cost_per_token\": 1e-6,}}", LR_EPARSE, "malformed");
	REFUSED("{\"m\": {\"input_cost_per_token\": 1e-6}, \"n\": {\"input_cost_per_token\": 01}}", LR_EPARSE,
		"malformed");
	REFUSED("{\"m\xff\": {}}", LR_EPARSE, "UTF-8");
	refused(__LINE__, nul, sizeof(nul) - 1, LR_EPARSE, "malformed");
	REFUSED("{\"m\": {\"input_cost_per_token\": -1e-6}}", LR_EINVAL, "input_cost_per_token is negative");
	REFUSED("{\"m\": {\"input_cost_per_token\": 1e-6, \"output_cost_per_token\": -0.5}}", LR_EINVAL,
		"model \"m\": output_cost_per_token is negative");
	REFUSED("{\"m\": {\"input_cost_per_token\": 1e-6, \"cache_read_input_token_cost\": -1}}", LR_EINVAL,
		"cache_read_input_token_cost");
	REFUSED("{\"m\": {\"input_cost_per_token\": 1e999}}", LR_EINVAL, "out of range");
	REFUSED("{\"m\": {\"input_cost_per_token\": 2}}", LR_EINVAL, "out of range");
	REFUSED("{\"m\": {\"input_cost_per_token\": \"1e-6\"}}", LR_EINVAL, "not a number");
	REFUSED("{\"m\": {\"input_cost_per_token\": 1e-6, \"max_input_tokens\": -3}}", LR_EINVAL,
		"max_input_tokens");
	REFUSED("{\"m\": {\"input_cost_per_token\": 1e-6, \"max_tokens\": 1e11}}", LR_EINVAL, "max_tokens");
	REFUSED("{\"m\": [1]}", LR_EINVAL, "not an object");
	REFUSED("{\"m\": 3}", LR_EINVAL, "not an object");
	REFUSED("{\"\": {}}", LR_EINVAL, "empty");
	REFUSED("{\"a\\u0001b\": {}}", LR_EINVAL, "control");
	REFUSED("{\"a\\u0000b\": {}}", LR_EINVAL, "control");
	REFUSED("{\"m\": {\"input_cost_per_token\": 1e-6}, \"m\": {\"input_cost_per_token\": 2e-6}}", LR_EINVAL,
		"listed twice");
	/* the line of the bad value is given */
	REFUSED("{\n\"ok\": {\"input_cost_per_token\": 0},\n\"m\": {\"input_cost_per_token\": -1}}", LR_EINVAL,
		"line 3:");
}

static void test_huge(void)
{
	size_t cap = 20001 * 48 + 16, n = 0, i;
	char *big = malloc(LR_CATALOG_MAX_BYTES + 2), name[300];
	lr_catalog c;
	char err[256];

	/* past the byte cap: refused before anything is looked at */
	memset(big, ' ', LR_CATALOG_MAX_BYTES + 1);
	big[0] = '{';
	big[LR_CATALOG_MAX_BYTES] = '}';
	refused(__LINE__, big, LR_CATALOG_MAX_BYTES + 1, LR_ETOOBIG, "larger than");
	/* exactly at the cap: read */
	big[LR_CATALOG_MAX_BYTES - 1] = '}';
	CHECK_INT(lr_catalog_parse(big, LR_CATALOG_MAX_BYTES, &c, err, sizeof(err)), 0);
	lr_catalog_free(&c);
	/* a model name past 255 bytes */
	memset(name, 'x', sizeof(name));
	snprintf(big, 400, "{\"%.*s\": {}}", 256, name);
	REFUSED(big, LR_EINVAL, "longer than 255");
	snprintf(big, 400, "{\"%.*s\": {\"input_cost_per_token\": 0}}", 255, name);
	CHECK_INT(parse(big, &c, err, sizeof(err)), 0);
	lr_catalog_free(&c);
	/* one model more than the cap */
	n += (size_t)snprintf(big, cap, "{");
	for (i = 0; i <= LR_CATALOG_MAX_MODELS; i++)
		n += (size_t)snprintf(big + n, cap - n, "%s\"m%06zu\": {\"input_cost_per_token\": 1e-6}",
				      i ? "," : "", i);
	n += (size_t)snprintf(big + n, cap - n, "}");
	refused(__LINE__, big, n, LR_ETOOBIG, "more than 20000 models");
	/* and exactly the cap */
	n = (size_t)(strrchr(big, ',') - big);
	big[n] = '}';
	CHECK_INT(lr_catalog_parse(big, n + 1, &c, err, sizeof(err)), 0);
	CHECK_INT(c.n, LR_CATALOG_MAX_MODELS);
	lr_catalog_free(&c);
	free(big);
}

static void test_load(void)
{
	char dir[] = "/tmp/test_price.XXXXXX", path[64], err[256];
	lr_catalog c;

	CHECK_INT(lr_catalog_load("/nonexistent/prices.json", &c, err, sizeof(err)), LR_EIO);
	CHECK(strstr(err, "No such file") != NULL);
	CHECK_INT(lr_catalog_load("/tmp", &c, err, sizeof(err)), LR_EIO);
	CHECK(strstr(err, "not a regular file") != NULL);
	if (!mkdtemp(dir))
		return;
	snprintf(path, sizeof(path), "%s/fifo", dir);
	if (mkfifo(path, 0600) == 0) { /* would block forever if it were opened for a read */
		CHECK_INT(lr_catalog_load(path, &c, err, sizeof(err)), LR_EIO);
		CHECK(strstr(err, "not a regular file") != NULL);
		unlink(path);
	}
	CHECK_INT(lr_catalog_load("/dev/zero", &c, err, sizeof(err)), LR_EIO);
	rmdir(dir);
}

/* --- in the rules and the table ------------------------------------------ */

static lr_table *compile(const char *text, lr_rules_error *e, size_t *blen)
{
	void *blob = NULL;
	int rc = lr_rules_compile(text, strlen(text), &blob, blen, e);

	if (rc < 0)
		return NULL;
	CHECK_INT(lr_table_validate(blob, *blen), 0);
	return blob;
}

static void test_rules(void)
{
	lr_rules_error e;
	size_t blen;
	lr_price p;
	const lr_target_rec *g;
	lr_table *t = compile("{\"prices_file\": \"" FIXTURE "\","
			      " \"prices\": {\"claude-sonnet-4-5\": {\"input_per_mtok\": 1, \"output_per_mtok\": 2}},"
			      " \"targets\": {\"big\": {\"model\": \"acme-large\"},"
			      "   \"own\": {\"model\": \"acme-large\", \"input_per_mtok\": 7, \"output_per_mtok\": 8,"
			      "            \"cache_read_per_mtok\": 0.7, \"context_window\": 1000},"
			      "   \"other\": {\"model\": \"not-listed\"}},"
			      " \"routes\": []}", &e, &blen);

	CHECK(t != NULL);
	if (!t) {
		fprintf(stderr, "compile: %s: %s\n", e.path, e.msg);
		return;
	}
	CHECK_INT(t->ncatalog, 5);
	/* the catalogue: exact names */
	CHECK(lr_price_lookup(t, "acme-large", &p) == 0 && p.input_per_mtok == 4 && NEAR(p.cache_read_per_mtok, 0.4));
	CHECK(lr_price_lookup(t, "acme-large-2", &p) == LR_ENOTFOUND);
	/* the rules' own prices come first */
	CHECK(lr_price_lookup(t, "claude-sonnet-4-5", &p) == 0 && p.input_per_mtok == 1 && p.cache_read_per_mtok < 0);
	/* over the built-in list */
	CHECK(lr_price_lookup(t, "gpt-5-mini", &p) == 0 && NEAR(p.cache_read_per_mtok, 0.025));
	CHECK(lr_price_lookup(NULL, "gpt-5-mini", &p) == 0 && p.input_per_mtok == 0.25);
	CHECK(lr_price_lookup(t, "gpt-5", &p) == 0 && p.input_per_mtok == 1.25); /* built-in */
	/* targets take prices and window from the catalogue, unless they give them */
	g = &lr_table_targets(t)[lr_table_find_target(t, "big")];
	CHECK(g->input_per_mtok == 4 && g->output_per_mtok == 16 && NEAR(g->cache_write_per_mtok, 5) &&
	      g->context_window == 64000);
	g = &lr_table_targets(t)[lr_table_find_target(t, "own")];
	CHECK(g->input_per_mtok == 7 && g->output_per_mtok == 8 && g->cache_read_per_mtok == 0.7 &&
	      g->cache_write_per_mtok < 0 && g->context_window == 1000);
	g = &lr_table_targets(t)[lr_table_find_target(t, "other")];
	CHECK(g->input_per_mtok < 0 && g->context_window == 0);
	free(t);
}

static void test_rules_errors(void)
{
	lr_rules_error e;
	size_t blen;
	FILE *f;
	char path[] = "/tmp/test_price_bad.XXXXXX", text[256];
	int fd = mkstemp(path);

	CHECK(compile("{\"prices_file\": \"/nonexistent.json\", \"routes\": []}", &e, &blen) == NULL);
	CHECK(strstr(e.msg, "price catalogue /nonexistent.json") != NULL && strcmp(e.path, "prices_file") == 0);
	CHECK(compile("{\"prices_file\": 3, \"routes\": []}", &e, &blen) == NULL);
	CHECK(compile("{\"prices\": {\"x\": {\"input_per_mtok\": 1, \"output_per_mtok\": 1,"
		      " \"cache_read_per_mtok\": -1}}, \"routes\": []}", &e, &blen) == NULL);
	CHECK(strstr(e.path, "cache_read_per_mtok") != NULL);
	if (fd < 0 || !(f = fdopen(fd, "w")))
		return;
	fputs("{\"m\": {\"input_cost_per_token\": 1e-6, \"output_cost_per_token\": -2e-6}}", f);
	fclose(f);
	snprintf(text, sizeof(text), "{\"prices_file\": \"%s\", \"routes\": []}", path);
	CHECK(compile(text, &e, &blen) == NULL);
	CHECK(strstr(e.msg, "output_cost_per_token is negative") != NULL);
	unlink(path);
}

/* A catalogue of n models, as LiteLLM's (names like theirs, ~400 bytes of
 * fields each), compiled: the table's size and a lookup's time. */
static void test_table_size(void)
{
	size_t n = 2500, cap = n * 600 + 64, len = 0, i, blen, found;
	char *text = malloc(cap), path[] = "/tmp/test_price_big.XXXXXX", rules[256];
	int fd = mkstemp(path);
	lr_rules_error e;
	lr_table *t;
	lr_price p;
	struct timespec a, b;
	double ns;
	FILE *f;

	len += (size_t)snprintf(text, cap, "{");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len,
			"%s\"provider%zu/some-model-name-%zu-2025-08-07\": {\"input_cost_per_token\": 1.25e-06,"
			" \"output_cost_per_token\": 1e-05, \"cache_read_input_token_cost\": 1.25e-07,"
			" \"litellm_provider\": \"openai\", \"max_input_tokens\": 272000, \"max_output_tokens\": 128000,"
			" \"max_tokens\": 128000, \"mode\": \"chat\", \"supports_function_calling\": true,"
			" \"supports_prompt_caching\": true, \"supports_reasoning\": true,"
			" \"supported_endpoints\": [\"/v1/chat/completions\", \"/v1/responses\"]}",
			i ? ",\n" : "", i % 40, i);
	len += (size_t)snprintf(text + len, cap - len, "}");
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		free(text);
		return;
	}
	fwrite(text, 1, len, f);
	fclose(f);
	snprintf(rules, sizeof(rules), "{\"prices_file\": \"%s\", \"routes\": []}", path);
	t = compile(rules, &e, &blen);
	CHECK(t != NULL && t->ncatalog == n && blen < LR_TABLE_MAX_SIZE);
	if (t) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (i = 0, found = 0; i < 100000; i++)
			found += lr_price_lookup(t, i % 2 ? "provider7/some-model-name-1807-2025-08-07" : "gpt-4o", &p) == 0;
		clock_gettime(CLOCK_MONOTONIC, &b);
		CHECK(found == 100000);
		ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 100000;
		fprintf(stderr, "catalogue of %zu models: file %zu bytes, table %zu bytes, lookup %.0f ns\n", n, len,
			blen, ns);
	}
	free(t);
	free(text);
	unlink(path);
}

/* A table whose catalogue is out of order (or names a model twice) is
 * refused by the validator: the binary search needs the order. */
static void test_validate_order(void)
{
	lr_table_builder *b = lr_table_builder_new();
	lr_price_rec r1 = {.glob = lr_table_builder_str(b, "a-model")}, r2 = {.glob = lr_table_builder_str(b, "b-model")};
	void *blob;
	size_t len;
	lr_price_rec *v;
	lr_ref tmp;

	CHECK_INT(lr_table_builder_catalog(b, &r1), 0);
	CHECK_INT(lr_table_builder_catalog(b, &r2), 0);
	CHECK_INT(lr_table_builder_finish(b, &blob, &len), 0);
	CHECK_INT(lr_table_validate(blob, len), 0);
	CHECK(lr_price_catalog_find(blob, "b-model") != NULL);
	v = (lr_price_rec *)((char *)blob + ((lr_table *)blob)->catalog_off);
	tmp = v[0].glob;
	v[0].glob = v[1].glob;
	v[1].glob = tmp;
	CHECK_INT(lr_table_validate(blob, len), LR_ECORRUPT);
	v[1].glob = v[0].glob;
	CHECK_INT(lr_table_validate(blob, len), LR_ECORRUPT);
	v[1].glob = tmp;
	v[0].input_per_mtok = -1;
	CHECK_INT(lr_table_validate(blob, len), LR_ECORRUPT);
	v[0].input_per_mtok = NAN;
	CHECK_INT(lr_table_validate(blob, len), LR_ECORRUPT);
	free(blob);
	lr_table_builder_free(b);
	b = lr_table_builder_new();
	r2.glob = lr_table_builder_str(b, "b-model");
	r1.glob = lr_table_builder_str(b, "a-model");
	CHECK_INT(lr_table_builder_catalog(b, &r2), 0); /* the builder wants them sorted */
	CHECK_INT(lr_table_builder_catalog(b, &r1), LR_EINVAL);
	lr_table_builder_free(b);
}

/* --- cost of cached tokens, per provider ---------------------------------- */

/* The answer's usage, and its cost at the built-in price of `model`. */
static double cost_of(int format, int stream, const char *answer, const char *model, lr_usage *u)
{
	lr_price p;
	lr_tokens k;

	lr_usage_init(u, format, stream, 100);
	lr_usage_feed(u, answer, strlen(answer));
	lr_usage_finish(u);
	k.input = u->input_tokens;
	k.output = u->output_tokens;
	k.cache_read = u->cache_read_tokens;
	k.cache_write = u->cache_write_tokens;
	if (lr_price_lookup(NULL, model, &p) < 0)
		return -1;
	return lr_price_cost_tokens(&p, &k);
}

static void test_cost_openai(void)
{
	lr_usage u;
	double c;

	/* gpt-5-mini: $0.25 in, $0.025 cached, $2 out */
	c = cost_of(LR_FMT_OPENAI, 0, "{\"model\":\"gpt-5-mini\",\"usage\":{\"prompt_tokens\":2000,"
		    "\"completion_tokens\":100,\"prompt_tokens_details\":{\"cached_tokens\":1500,\"audio_tokens\":0}}}",
		    "gpt-5-mini", &u);
	CHECK(u.input_tokens == 2000 && u.cache_read_tokens == 1500 && u.cache_write_tokens == 0);
	CHECK(NEAR(c, (500 * 0.25 + 1500 * 0.025 + 100 * 2.0) / 1e6));
	/* Responses API */
	c = cost_of(LR_FMT_OPENAI, 0, "{\"object\":\"response\",\"usage\":{\"input_tokens\":1000,"
		    "\"input_tokens_details\":{\"cached_tokens\":600},\"output_tokens\":50,"
		    "\"output_tokens_details\":{\"reasoning_tokens\":20}}}", "gpt-4.1", &u);
	CHECK(u.input_tokens == 1000 && u.cache_read_tokens == 600);
	CHECK(NEAR(c, (400 * 2.0 + 600 * 0.5 + 50 * 8.0) / 1e6));
	/* a stream's last usage chunk */
	c = cost_of(LR_FMT_OPENAI, 1, "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n"
		    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":300,\"completion_tokens\":7,"
		    "\"prompt_tokens_details\":{\"cached_tokens\":256}}}\n\ndata: [DONE]\n\n", "gpt-4o", &u);
	CHECK(u.input_tokens == 300 && u.cache_read_tokens == 256 && !u.estimated);
	CHECK(NEAR(c, (44 * 2.5 + 256 * 1.25 + 7 * 10.0) / 1e6));
	/* no cache said: all at the input rate, as before */
	c = cost_of(LR_FMT_OPENAI, 0, "{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2}}", "gpt-4o-mini", &u);
	CHECK(u.cache_read_tokens == 0 && NEAR(c, (10 * 0.15 + 2 * 0.6) / 1e6));
	/* more cached than prompt (a broken proxy): cut to the prompt */
	c = cost_of(LR_FMT_OPENAI, 0, "{\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":0,"
		    "\"prompt_tokens_details\":{\"cached_tokens\":99}}}", "gpt-4o", &u);
	CHECK(u.cache_read_tokens == 10 && NEAR(c, 10 * 1.25 / 1e6));
}

static void test_cost_anthropic(void)
{
	lr_usage u;
	double c, want = (50 * 3.0 + 1000 * 0.3 + 200 * 3.75 + 10 * 15.0) / 1e6;

	/* claude-sonnet-4-5: $3 in, $0.30 cache read, $3.75 cache write, $15 out;
	 * Anthropic's input_tokens leave the cached ones out */
	c = cost_of(LR_FMT_ANTHROPIC, 0, "{\"type\":\"message\",\"model\":\"claude-sonnet-4-5-20250929\","
		    "\"usage\":{\"input_tokens\":50,\"cache_creation_input_tokens\":200,"
		    "\"cache_read_input_tokens\":1000,\"output_tokens\":10}}", "claude-sonnet-4-5", &u);
	CHECK(u.input_tokens == 1250 && u.cache_read_tokens == 1000 && u.cache_write_tokens == 200);
	CHECK(NEAR(c, want));
	c = cost_of(LR_FMT_ANTHROPIC, 1, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
		    "{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":50,\"cache_creation_input_tokens\":200,"
		    "\"cache_read_input_tokens\":1000,\"output_tokens\":1}}}\n\n"
		    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"x\"}}\n\n"
		    "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":10}}\n\n",
		    "claude-sonnet-4-5", &u);
	CHECK(u.input_tokens == 1250 && u.cache_read_tokens == 1000 && u.cache_write_tokens == 200 &&
	      u.output_tokens == 10);
	CHECK(NEAR(c, want));
	/* claude-haiku-4-5, reads only */
	c = cost_of(LR_FMT_ANTHROPIC, 0, "{\"usage\":{\"input_tokens\":3,\"cache_read_input_tokens\":4000,"
		    "\"cache_creation_input_tokens\":0,\"output_tokens\":20}}", "claude-haiku-4-5", &u);
	CHECK(NEAR(c, (3 * 1.0 + 4000 * 0.1 + 20 * 5.0) / 1e6));
}

static void test_cost_gemini(void)
{
	lr_usage u;
	double c;

	/* gemini-2.5-pro: $1.25 in, $0.125 cached, $10 out (thoughts too) */
	c = cost_of(LR_FMT_GEMINI, 0, "{\"candidates\":[],\"usageMetadata\":{\"promptTokenCount\":1000,"
		    "\"cachedContentTokenCount\":800,\"candidatesTokenCount\":20,\"thoughtsTokenCount\":5,"
		    "\"totalTokenCount\":1025},\"modelVersion\":\"gemini-2.5-pro\"}", "gemini-2.5-pro", &u);
	CHECK(u.input_tokens == 1000 && u.cache_read_tokens == 800 && u.cache_write_tokens == 0 &&
	      u.output_tokens == 25);
	CHECK(NEAR(c, (200 * 1.25 + 800 * 0.125 + 25 * 10.0) / 1e6));
	c = cost_of(LR_FMT_GEMINI, 1, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\r\n\r\n"
		    "data: {\"usageMetadata\":{\"promptTokenCount\":100,\"cachedContentTokenCount\":64,"
		    "\"candidatesTokenCount\":3}}\r\n\r\n", "gemini-2.5-flash", &u);
	CHECK(u.input_tokens == 100 && u.cache_read_tokens == 64);
	CHECK(NEAR(c, (36 * 0.3 + 64 * 0.03 + 3 * 2.5) / 1e6));
}

static void test_cost_rules(void)
{
	lr_price p = {2, 8, -1, -1}; /* cache rates unknown: the input rate */
	lr_tokens k = {1000, 10, 600, 300};
	lr_usage u;

	CHECK(NEAR(lr_price_cost_tokens(&p, &k), (1000 * 2.0 + 10 * 8.0) / 1e6));
	CHECK(NEAR(lr_price_cost(&p, 1000, 10), (1000 * 2.0 + 10 * 8.0) / 1e6));
	k.input = -1; /* unknown counts count as 0 */
	CHECK(lr_price_cost_tokens(&p, &k) == 10 * 8.0 / 1e6);
	/* Ollama: no cache */
	cost_of(LR_FMT_OLLAMA, 0, "{\"model\":\"llama3\",\"prompt_eval_count\":12,\"eval_count\":3,\"done\":true}",
		"llama3", &u);
	CHECK(u.input_tokens == 12 && u.cache_read_tokens == 0 && u.cache_write_tokens == 0);
	/* nothing came back: unknown, not 0 */
	lr_usage_init(&u, LR_FMT_OPENAI, 0, 10);
	lr_usage_finish(&u);
	CHECK(u.cache_read_tokens == -1 && u.cache_write_tokens == -1);
}

int main(void)
{
	test_fixture();
	test_small_cases();
	test_bad();
	test_huge();
	test_load();
	test_rules();
	test_rules_errors();
	test_table_size();
	test_validate_order();
	test_cost_openai();
	test_cost_anthropic();
	test_cost_gemini();
	test_cost_rules();
	return lr_test_done("test_price");
}
