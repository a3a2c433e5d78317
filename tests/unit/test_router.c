/*
 * test_router.c - routing cases as data: rules + request -> decision.
 *
 * Reads tests/data/router_cases.json (run from the repository root), an
 * array of cases, each:
 *   {"name": ..., "rules": {RULES} , "url": ..., "body": {JSON} | "body_raw": "...",
 *    "process": ..., "expect": {"detected": bool, "provider", "operation",
 *    "model", "action": "none|pass|route|deny", "route", "url", "new_model",
 *    "cred": "keep|replace|drop", "body": "exact body sent",
 *    "intent", "user_text", "system_text",
 *    "features": {"prompt_tokens": N, "stream": 0|1, ...},
 *    "target": NAME, "candidates": {TARGET: "ok" | why dropped}},
 *  "live": {"spent": {"route:N"|"process:N"|"model:N": USD}, "latency": {TARGET: ms},
 *           "down": [TARGET...]}}
 * Only the expectations a case names are checked.  This runs the same
 * functions, in the same order, as the shim and `llmroutectl explain`.
 */
#include "lr_test.h"
#include "lr_body.h"
#include "lr_choose.h"
#include "lr_engine.h"
#include "lr_error.h"
#include "lr_intent.h"
#include "lr_plan.h"
#include "lr_request.h"
#include "lr_rules.h"
#include "lr_url.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	long n;
	char *s;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = malloc((size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	if (s)
		s[n] = '\0';
	fclose(f);
	return s;
}

static const char *want(const cJSON *exp, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(exp, key));
}

#define EXPECT_STR(name, key, got) do { \
	const char *w_ = want(exp, key); \
	if (w_) { \
		lr_test_checks++; \
		if (!(got) || strcmp(w_, (got)) != 0) { \
			lr_test_failed++; \
			fprintf(stderr, "case %s: %s is \"%s\", expected \"%s\"\n", name, key, \
				(got) ? (got) : "(null)", w_); \
		} \
	} \
} while (0)

static const char *action_name(int a)
{
	static const char *n[] = {"none", "pass", "route", "deny"};
	return n[a];
}

static const char *cred_name(int c)
{
	static const char *n[] = {"keep", "replace", "drop"};
	return n[c];
}

static void check_plan(const char *name, const cJSON *exp, const lr_table *t,
		       const lr_decision *d, const lr_request *r, const char *url,
		       const char *body, size_t blen)
{
	lr_plan p;
	char *nb = NULL;
	size_t nlen = 0;

	CHECK(lr_plan_make(t, d, &r->det, url, strlen(url), NULL, &p) == 0);
	EXPECT_STR(name, "url", p.url ? p.url : url);
	EXPECT_STR(name, "new_model", p.model);
	EXPECT_STR(name, "cred", cred_name(p.cred));
	if (want(exp, "body")) {
		int rc = lr_plan_body(t, d, r, &p, body, blen, &nb, &nlen);
		CHECK(rc >= 0);
		EXPECT_STR(name, "body", nb ? nb : body);
	}
	free(nb);
	lr_plan_free(&p);
}

/* Fixed live numbers from the case: "live": {"spent": {"route:NAME": USD,
 * "process:NAME": USD, "model:NAME": USD}, "latency": {"TARGET": ms}} */
static double case_spent(void *ud, int per, const char *name, long long now)
{
	(void)now;
	static const char *const pfx[] = {"", "route:", "process:", "model:"};
	const cJSON *sp = cJSON_GetObjectItemCaseSensitive(ud, "spent");
	char key[300];

	snprintf(key, sizeof(key), "%s%s", pfx[per], name);
	return cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(sp, key)) ?
		cJSON_GetObjectItemCaseSensitive(sp, key)->valuedouble : -1;
}

static double case_latency(void *ud, const char *target)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ud, "latency"), target);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* "down": [TARGET...]: targets cooling down */
static int case_down(void *ud, const char *target, long long now)
{
	const cJSON *v;

	(void)now;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(ud, "down"))
		if (cJSON_IsString(v) && strcmp(v->valuestring, target) == 0)
			return 1;
	return 0;
}

/* "target": NAME, "candidates": {"TARGET": "ok" | "dropped reason"} */
static void check_choice(const char *name, const cJSON *exp, const lr_table *t, const lr_decision *d,
			 const lr_choice *ch)
{
	const cJSON *cands = cJSON_GetObjectItemCaseSensitive(exp, "candidates"), *v;
	int k;

	EXPECT_STR(name, "target", d->target >= 0 ? lr_table_str(t, lr_table_targets(t)[d->target].name) : "(none)");
	cJSON_ArrayForEach(v, cands) {
		const char *got = "(not a candidate)";
		for (k = 0; k < ch->ncands; k++)
			if (!strcmp(lr_table_str(t, lr_table_targets(t)[ch->cands[k].target].name), v->string))
				got = ch->cands[k].dropped ? ch->cands[k].dropped : "ok";
		lr_test_checks++;
		if (!cJSON_IsString(v) || strcmp(got, v->valuestring) != 0) {
			lr_test_failed++;
			fprintf(stderr, "case %s: candidate %s is \"%s\", expected \"%s\"\n", name, v->string, got,
				cJSON_IsString(v) ? v->valuestring : "?");
		}
	}
}

/* "features": {"prompt_tokens": N, "max_tokens": N, "stream": 0/1, ...} */
static void check_nums(const char *name, const cJSON *exp, const lr_request *r)
{
	static const char *const names[LR_F_NNUM] = {"prompt_tokens", "max_tokens", "stream", "tools",
						       "images", "json", "messages", "intent_confidence"};
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(exp, "features"), *v;
	int i;

	for (i = 0; f && i < LR_F_NNUM; i++) {
		if (!(v = cJSON_GetObjectItemCaseSensitive(f, names[i])))
			continue;
		lr_test_checks++;
		if (!cJSON_IsNumber(v) || v->valuedouble != r->f.num[i]) {
			lr_test_failed++;
			fprintf(stderr, "case %s: %s is %g, expected %g\n", name, names[i], r->f.num[i],
				cJSON_IsNumber(v) ? v->valuedouble : -999.0);
		}
	}
}

static void run_case(const cJSON *c)
{
	const char *name = want(c, "name");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(c, "expect");
	const cJSON *det = cJSON_GetObjectItemCaseSensitive(exp, "detected");
	char *rules = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "rules"));
	const cJSON *bj = cJSON_GetObjectItemCaseSensitive(c, "body");
	char *body = bj ? cJSON_PrintUnformatted(bj) : NULL;
	const char *url = want(c, "url"), *raw = want(c, "body_raw");
	static char canon[8192];
	lr_rules_error e;
	lr_table *t = NULL;
	size_t tlen;
	lr_request r;
	lr_decision d;
	lr_intent_cache *ic;
	lr_engine_ctx cx;
	static lr_choice choice;
	lr_live live = {case_spent, case_latency, case_down, NULL};
	int rc;

	if (raw)
		body = strdup(raw);
	rc = lr_rules_compile(rules, strlen(rules), (void **)&t, &tlen, &e);
	if (rc < 0) {
		fprintf(stderr, "case %s: rules do not compile: %s %s\n", name, e.path, e.msg);
		CHECK(0);
		goto out;
	}
	if (lr_url_canon_needed(url, strlen(url)) &&
	    lr_url_canon(url, strlen(url), canon, sizeof(canon)) >= 0)
		url = canon; /* as the transports do */
	rc = lr_request_init(&r, url, strlen(url), body, body ? strlen(body) : 0, want(c, "process"));
	if (cJSON_IsFalse(det)) {
		CHECK_INT(rc, LR_ENOTFOUND);
		goto out;
	}
	CHECK_INT(rc, 0);
	if (rc < 0) {
		fprintf(stderr, "case %s: not detected as an LLM request\n", name);
		goto out;
	}
	EXPECT_STR(name, "provider", r.det.provider);
	EXPECT_STR(name, "operation", r.det.operation);
	EXPECT_STR(name, "model", r.model);
	ic = lr_intent_cache_new(t);
	CHECK(ic != NULL);
	live.ud = (void *)cJSON_GetObjectItemCaseSensitive(c, "live");
	cx = (lr_engine_ctx){t, ic, &live, 1795000000};
	lr_engine_decide(&cx, &r, body, body ? strlen(body) : 0,
			 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "body_unread")), &d, &choice);
	lr_intent_cache_free(ic);
	EXPECT_STR(name, "intent", r.intent[0] ? r.intent : "(none)");
	EXPECT_STR(name, "user_text", r.x.user);
	EXPECT_STR(name, "system_text", r.x.system);
	check_nums(name, exp, &r);
	check_choice(name, exp, t, &d, &choice);
	EXPECT_STR(name, "action", action_name(d.action));
	EXPECT_STR(name, "route", d.route ? lr_table_str(t, d.route->name) : "(none)");
	check_plan(name, exp, t, &d, &r, url, body, body ? strlen(body) : 0);
out:
	free(t);
	free(rules);
	free(body);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "tests/data/router_cases.json";
	char *text = slurp(path);
	cJSON *cases = text ? cJSON_Parse(text) : NULL, *c;
	int n = 0;

	if (!cJSON_IsArray(cases)) {
		fprintf(stderr, "%s: missing or not a JSON array\n", path);
		return 1;
	}
	cJSON_ArrayForEach(c, cases) {
		run_case(c);
		n++;
	}
	fprintf(stderr, "%d cases\n", n);
	cJSON_Delete(cases);
	free(text);
	return lr_test_done("test_router");
}
