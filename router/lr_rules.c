/*
 * lr_rules.c - rules file parsing and validation (see lr_rules.h).
 *
 * Schema (each level rejects keys it does not list):
 *   {"version": 1, "audit": PATH, "routes": [ROUTE...],
 *    "prices": {GLOB: {"input_per_mtok": N, "output_per_mtok": N,
 *                      "cache_read_per_mtok": N, "cache_write_per_mtok": N}, ...},
 *    "prices_file": PATH (a LiteLLM price catalogue, lr_catalog.h),
 *    "intents": [{"name": NAME, "description": TEXT, "keywords": [TEXT...],
 *                 "patterns": [REGEX...], "include_system": BOOL}...]}
 *   ROUTE = {"name": NAME, "description": TEXT, "enabled": BOOL,
 *            "match": {"model"|"host"|"operation"|"provider"|"process"|
 *                      "intent"|"user_text"|"system_text": GLOB,
 *                      "prompt_tokens"|"max_tokens"|"messages"|
 *                      "intent_confidence"|"temperature": N | {"gt"|"ge"|"lt"|"le"|"eq": N},
 *                      "stream"|"tools"|"images"|"json": BOOL,
 *                      "pii": BOOL | [KIND...]},
 *            "guard": {"redact": true | [KIND...]},
 *            "set": {"model": TEXT, "endpoint": URL, "api_key_env": VAR,
 *                    "keep_credentials": BOOL, "params": {KEY: JSON},
 *                    "cap": {KEY: N}, "system_prefix": TEXT,
 *                    "format": FORMAT, "format_drop": BOOL},
 *            "deny": MESSAGE,
 *            "fallbacks": [TARGET | "original"...], "timeout_ms": N,
 *            "retry_after_max_ms": N, "retries": N, "retry_backoff_ms": N,
 *            "on_context_overflow": "larger" | [TARGET | "original"...],
 *            "first_token_ms": N, "idle_ms": N, "stream_hold": BOOL,
 *            "stream_continue": "next" | "same" | "off",
 *            "escalate": {"when": ["empty"|"length"|"refusal"|"invalid_json"...],
 *                         "refusal": REGEX, "to": [TARGET | "original"...]},
 *            "cache": {"ttl_s": N, "max_temperature": N}}
 *   top level also: "health": {"failures": N, "cooldown_s": N, "cooldown_min_s": N},
 *                   "cache": {"size_mb": N, "max_entry_kb": N},
 *                   "fleet": {"redis": "redis[s]://HOST[:PORT][/DB]", "prefix": TEXT,
 *                             "password_env": VAR, "refresh_ms": N, "ca_file": PATH}
 *   a budget also: "scope": "host" | "fleet" (needs "fleet")
 * Adding a key means one row in a table below and one case where it is
 * stored.  The canonical JSON stored with the table is cJSON's rendering of
 * the validated document, so `show` prints what was loaded.
 */
#include "lr_rules.h"
#include "lr_answer.h"
#include "lr_b64.h"
#include "lr_catalog.h"
#include "lr_choose.h"
#include "lr_classify.h"
#include "lr_error.h"
#include "lr_glob.h"
#include "lr_guard.h"
#include "lr_json.h"
#include "lr_table.h"
#include "lr_xlate.h"
#include "lr_url.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATH_DEPTH 8

typedef struct {
	const char *text;
	size_t len;
	const char *path[MAX_PATH_DEPTH];
	char idx[MAX_PATH_DEPTH][16];
	int depth;
	lr_rules_error *err;
	lr_table_builder *b;
	int targets;            /* "targets" was parsed (routes may name them) */
	lr_catalog cat;         /* the prices_file, for the targets' defaults */
	int fleet;              /* "fleet" was parsed (budgets may use scope "fleet") */
} ctx;

enum { K_GLOB, K_NUM, K_BOOL, K_KINDS };

static const struct {
	const char *key;
	int field, kind;
} match_keys[] = {
	{"model", LR_F_MODEL, K_GLOB},
	{"host", LR_F_HOST, K_GLOB},
	{"operation", LR_F_OPERATION, K_GLOB},
	{"provider", LR_F_PROVIDER, K_GLOB},
	{"process", LR_F_PROCESS, K_GLOB},
	{"intent", LR_F_INTENT, K_GLOB},
	{"user_text", LR_F_USER_TEXT, K_GLOB},
	{"system_text", LR_F_SYSTEM_TEXT, K_GLOB},
	{"prompt_tokens", LR_F_PROMPT_TOKENS, K_NUM},
	{"max_tokens", LR_F_MAX_TOKENS, K_NUM},
	{"messages", LR_F_MESSAGES, K_NUM},
	{"intent_confidence", LR_F_INTENT_CONFIDENCE, K_NUM},
	{"temperature", LR_F_TEMPERATURE, K_NUM},
	{"stream", LR_F_STREAM, K_BOOL},
	{"tools", LR_F_TOOLS, K_BOOL},
	{"images", LR_F_IMAGES, K_BOOL},
	{"json", LR_F_JSON, K_BOOL},
	{"pii", LR_F_PII, K_KINDS},
};
#define NMATCH (sizeof(match_keys) / sizeof(match_keys[0]))

static const struct {
	const char *key;
	int op;
} num_ops[] = {
	{"gt", LR_OP_GT}, {"ge", LR_OP_GE}, {"lt", LR_OP_LT}, {"le", LR_OP_LE}, {"eq", LR_OP_EQ},
};

/* The keys each object of the rules file accepts.  check_keys takes its
 * lists from here and `llmroutectl --rules-keys` prints them, so the
 * manual (llmroute-rules(5)) is checked against what the parser accepts:
 * a key added here and not documented there fails tests/t_docs.sh. */
static const char *const top_keys[] = {"version", "audit", "routes", "prices", "intents", "targets",
				       "classifier", "health", "cache", "prices_file", "fleet"};
static const char *const route_keys[] = {"name", "description", "enabled", "match", "set", "deny",
					 "pool", "budget", "fallbacks", "timeout_ms",
					 "retry_after_max_ms", "escalate", "cache", "retries",
					 "retry_backoff_ms", "on_context_overflow",
					 "first_token_ms", "idle_ms", "stream_hold", "stream_continue",
					 "when_unsure", "guard"};
static const char *const set_keys[] = {"model", "endpoint", "api_key_env", "keep_credentials",
				       "params", "cap", "system_prefix", "format", "format_drop"};
static const char *const budget_keys[] = {"usd_per_day", "per", "fallback", "deny", "scope"};
static const char *const pool_keys[] = {"targets", "weights", "expected_output_tokens"};
static const char *const weight_keys[] = {"quality", "cost", "latency"};
static const char *const member_keys[] = {"target", "weight"};
static const char *const escalate_keys[] = {"when", "refusal", "to"};
static const char *const rcache_keys[] = {"ttl_s", "max_temperature"};
static const char *const target_keys[] = {"model", "endpoint", "api_key_env", "keep_credentials",
					  "input_per_mtok", "output_per_mtok", "context_window",
					  "quality", "description", "cache_read_per_mtok",
					  "cache_write_per_mtok", "format"};
static const char *const price_keys[] = {"input_per_mtok", "output_per_mtok", "cache_read_per_mtok",
					 "cache_write_per_mtok"};
static const char *const intent_keys[] = {"name", "description", "keywords", "patterns",
					  "include_system", "min_quality"};
static const char *const health_keys[] = {"failures", "cooldown_s", "cooldown_min_s"};
static const char *const cache_keys[] = {"size_mb", "max_entry_kb"};
static const char *const guard_keys[] = {"redact"};
static const char *const fleet_keys[] = {"redis", "prefix", "password_env", "refresh_ms", "ca_file"};

enum { S_TOP, S_ROUTE, S_MATCH, S_BOUNDS, S_SET, S_BUDGET, S_POOL, S_WEIGHTS, S_MEMBER,
       S_ESCALATE, S_RCACHE, S_TARGET, S_PRICE, S_INTENT, S_HEALTH, S_CACHE, S_GUARD, S_FLEET, S_NSECTIONS };

#define KEYS(a) a, sizeof(a) / sizeof(a[0])
static const struct {
	const char *name;       /* as llmroute-rules(5) titles it */
	const char *const *keys; /* NULL: match_keys or num_ops */
	size_t n;
} sections[S_NSECTIONS] = {
	[S_TOP] = {"top", KEYS(top_keys)},
	[S_ROUTE] = {"route", KEYS(route_keys)},
	[S_MATCH] = {"route.match", NULL, NMATCH},
	[S_BOUNDS] = {"route.match.bounds", NULL, sizeof(num_ops) / sizeof(num_ops[0])},
	[S_SET] = {"route.set", KEYS(set_keys)},
	[S_BUDGET] = {"route.budget", KEYS(budget_keys)},
	[S_POOL] = {"route.pool", KEYS(pool_keys)},
	[S_WEIGHTS] = {"route.pool.weights", KEYS(weight_keys)},
	[S_MEMBER] = {"route.pool.member", KEYS(member_keys)},
	[S_ESCALATE] = {"route.escalate", KEYS(escalate_keys)},
	[S_RCACHE] = {"route.cache", KEYS(rcache_keys)},
	[S_TARGET] = {"target", KEYS(target_keys)},
	[S_PRICE] = {"price", KEYS(price_keys)},
	[S_INTENT] = {"intent", KEYS(intent_keys)},
	[S_HEALTH] = {"health", KEYS(health_keys)},
	[S_CACHE] = {"cache", KEYS(cache_keys)},
	[S_GUARD] = {"route.guard", KEYS(guard_keys)},
	[S_FLEET] = {"fleet", KEYS(fleet_keys)},
};

/* The i-th key of a section, or NULL past its last; *name: the section's. */
static const char *section_key(int s, size_t i, const char **name)
{
	*name = sections[s].name;
	if (i >= sections[s].n)
		return NULL;
	if (s == S_MATCH)
		return match_keys[i].key;
	if (s == S_BOUNDS)
		return num_ops[i].key;
	return sections[s].keys[i];
}

const char *lr_rules_key(size_t i, const char **section)
{
	int s;

	for (s = 0; s < S_NSECTIONS; s++) {
		if (i < sections[s].n)
			return section_key(s, i, section);
		i -= sections[s].n;
	}
	*section = NULL;
	return NULL;
}

static void push(ctx *c, const char *key)
{
	if (c->depth < MAX_PATH_DEPTH)
		c->path[c->depth] = key;
	c->depth++;
}

static void push_index(ctx *c, int i)
{
	if (c->depth < MAX_PATH_DEPTH) {
		snprintf(c->idx[c->depth], sizeof(c->idx[0]), "[%d]", i);
		c->path[c->depth] = c->idx[c->depth];
	}
	c->depth++;
}

static void pop(ctx *c)
{
	c->depth--;
}

/* Fills err with the message, the dotted path and the line/column of the
 * value the path names in the original text. */
static int fail(ctx *c, int code, const char *fmt, ...)
{
	va_list ap;
	size_t n = 0, off;
	lr_span v;
	int i, d = c->depth < MAX_PATH_DEPTH ? c->depth : MAX_PATH_DEPTH;

	va_start(ap, fmt);
	vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
	va_end(ap);
	c->err->path[0] = '\0';
	for (i = 0; i < d && n < sizeof(c->err->path) - 1; i++)
		n += (size_t)snprintf(c->err->path + n, sizeof(c->err->path) - n,
				      "%s%s", (i && c->path[i][0] != '[') ? "." : "", c->path[i]);
	if (c->text && lr_json_find(c->text, c->len, c->path, (size_t)d, &v) == 0) {
		off = (size_t)(v.p - c->text);
		lr_json_linecol(c->text, c->len, off, &c->err->line, &c->err->col);
	}
	return code;
}

/* Checks obj has only keys its section lists, each once. */
static int check_keys(ctx *c, const cJSON *obj, int section)
{
	const cJSON *a, *b;
	const char *sec, *k;
	size_t i;

	for (a = obj->child; a; a = a->next) {
		for (i = 0; (k = section_key(section, i, &sec)) && strcmp(a->string, k) != 0; i++)
			;
		push(c, a->string);
		if (!k)
			return fail(c, LR_EINVAL, "unknown key \"%s\"", a->string);
		for (b = a->next; b; b = b->next)
			if (strcmp(a->string, b->string) == 0)
				return fail(c, LR_EINVAL, "duplicate key \"%s\"", a->string);
		pop(c);
	}
	return 0;
}

static int want_string(ctx *c, const cJSON *v, const char *what)
{
	if (!cJSON_IsString(v) || !v->valuestring[0])
		return fail(c, LR_EINVAL, "%s must be a non-empty string", what);
	if (strlen(v->valuestring) > 4096)
		return fail(c, LR_EINVAL, "%s is longer than 4096 bytes", what);
	return 0;
}

static int valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("_.:-", s[i])))
			return 0;
	return 1;
}

static int valid_env_name(const char *s)
{
	size_t i;

	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return i <= 128;
}

static int add_cond(ctx *c, int field, int op, lr_ref str, double num)
{
	lr_cond cond = {0};

	cond.field = (uint16_t)field;
	cond.op = (uint16_t)op;
	cond.str = str;
	cond.num = num;
	return lr_table_builder_cond(c->b, &cond);
}

/* A numeric condition: a number (equal to) or {"gt": N, "le": N, ...}. */
static int parse_num_cond(ctx *c, const cJSON *v, int field)
{
	const cJSON *x;
	size_t i;
	int rc, n = 0;

	if (cJSON_IsNumber(v))
		return add_cond(c, field, LR_OP_EQ, (lr_ref){0, 0}, v->valuedouble);
	if (!cJSON_IsObject(v))
		return fail(c, LR_EINVAL, "a number, or bounds such as {\"gt\": 8000}");
	if ((rc = check_keys(c, v, S_BOUNDS)) < 0)
		return rc;
	for (i = 0; i < sizeof(num_ops) / sizeof(num_ops[0]); i++) {
		if (!(x = cJSON_GetObjectItemCaseSensitive(v, num_ops[i].key)))
			continue;
		push(c, num_ops[i].key);
		if (!cJSON_IsNumber(x))
			return fail(c, LR_EINVAL, "\"%s\" needs a number", num_ops[i].key);
		pop(c);
		if ((rc = add_cond(c, field, num_ops[i].op, (lr_ref){0, 0}, x->valuedouble)) < 0)
			return rc;
		n++;
	}
	return n ? 0 : fail(c, LR_EINVAL, "bounds need at least one of gt, ge, lt, le, eq");
}

/* Detector kinds (lr_guard.h): true (every kind), or a list of names.
 * Sets *mask.  Secrets have no place here: only the kinds' names. */
static int parse_kinds(ctx *c, const cJSON *v, uint32_t *mask)
{
	const cJSON *e;
	int k;

	*mask = 0;
	if (cJSON_IsTrue(v)) {
		*mask = LR_GUARD_ALL;
		return 0;
	}
	if (!cJSON_IsArray(v) || !cJSON_GetArraySize(v))
		return fail(c, LR_EINVAL, "true, or a list of detectors (email, phone, iban, card, "
				     "national_id, ip, api_key, private_key)");
	cJSON_ArrayForEach(e, v) {
		if (!cJSON_IsString(e) || (k = lr_guard_kind_of(e->valuestring, strlen(e->valuestring))) < 0)
			return fail(c, LR_EINVAL, "unknown detector %s%s%s (email, phone, iban, card, national_id, "
					     "ip, api_key, private_key)", cJSON_IsString(e) ? "\"" : "",
				    cJSON_IsString(e) ? e->valuestring : "", cJSON_IsString(e) ? "\"" : "");
		*mask |= 1u << k;
	}
	return 0;
}

/* "pii": true | false | [KIND...]: the request has (none of) these findings. */
static int parse_pii_cond(ctx *c, const cJSON *v, int field)
{
	uint32_t mask;
	int rc;

	if (cJSON_IsFalse(v))
		return add_cond(c, field, LR_OP_NONE, (lr_ref){0, 0}, LR_GUARD_ALL);
	if ((rc = parse_kinds(c, v, &mask)) < 0)
		return rc;
	return add_cond(c, field, LR_OP_ANY, (lr_ref){0, 0}, mask);
}

/* "guard": {"redact": true | [KIND...]}. */
static int parse_guard(ctx *c, const cJSON *o, lr_route *r)
{
	const cJSON *v;
	int rc;

	if (!cJSON_IsObject(o))
		return fail(c, LR_EINVAL, "\"guard\" must be an object");
	if ((rc = check_keys(c, o, S_GUARD)) < 0)
		return rc;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "redact"))) {
		push(c, "redact");
		if ((rc = parse_kinds(c, v, &r->guard_redact)) < 0)
			return rc;
		pop(c);
	}
	if (r->flags & LR_ROUTE_DENY)
		return fail(c, LR_EINVAL, "a route that denies sends nothing to redact");
	return 0;
}

static int parse_match(ctx *c, const cJSON *m)
{
	const cJSON *v;
	const char *why;
	size_t i;
	int rc;

	if (!cJSON_IsObject(m))
		return fail(c, LR_EINVAL, "\"match\" must be an object");
	if ((rc = check_keys(c, m, S_MATCH)) < 0)
		return rc;
	for (i = 0; i < NMATCH; i++) {
		v = cJSON_GetObjectItemCaseSensitive(m, match_keys[i].key);
		if (!v)
			continue;
		push(c, match_keys[i].key);
		if (match_keys[i].kind == K_NUM) {
			rc = parse_num_cond(c, v, match_keys[i].field);
		} else if (match_keys[i].kind == K_KINDS) {
			rc = parse_pii_cond(c, v, match_keys[i].field);
		} else if (match_keys[i].kind == K_BOOL) {
			if (!cJSON_IsBool(v))
				return fail(c, LR_EINVAL, "true or false");
			rc = add_cond(c, match_keys[i].field, LR_OP_EQ, (lr_ref){0, 0}, cJSON_IsTrue(v) ? 1 : 0);
		} else {
			if ((rc = want_string(c, v, "a match value")) < 0)
				return rc;
			if (lr_glob_check(v->valuestring, &why) < 0)
				return fail(c, LR_EINVAL, "bad glob \"%s\": %s", v->valuestring, why);
			rc = add_cond(c, match_keys[i].field, LR_OP_GLOB,
				      lr_table_builder_str(c->b, v->valuestring), 0);
		}
		if (rc < 0)
			return rc;
		pop(c);
	}
	return 0;
}

typedef struct {
	lr_ref *endpoint, *scheme, *host, *base;
	uint32_t *port;
} ep_refs;

static int parse_endpoint_into(ctx *c, const char *ep, ep_refs r);

static int parse_endpoint(ctx *c, const char *ep, lr_route *r)
{
	ep_refs e = {&r->set_endpoint, &r->ep_scheme, &r->ep_host, &r->ep_base, &r->ep_port};

	return parse_endpoint_into(c, ep, e);
}

static int parse_endpoint_into(ctx *c, const char *ep, ep_refs r)
{
	lr_url u;
	char host[300], port[8], *base;

	if (lr_url_parse(ep, strlen(ep), &u) < 0 || u.has_query || u.end != strlen(ep) ||
	    u.host_len >= sizeof(host))
		return fail(c, LR_EINVAL, "endpoint \"%s\" must be an http:// or https:// URL with a host and no query", ep);
	memcpy(host, u.host, u.host_len);
	host[u.host_len] = '\0';
	snprintf(port, sizeof(port), "%d", u.port);
	*r.endpoint = lr_table_builder_str(c->b, ep);
	*r.scheme = lr_table_builder_str(c->b, u.tls ? "https" : "http");
	*r.host = lr_table_builder_str(c->b, host);
	*r.port = (uint32_t)u.port;
	base = strndup(u.path, u.path_len);
	if (!base)
		return LR_ENOMEM;
	while (u.path_len && base[u.path_len - 1] == '/')
		base[--u.path_len] = '\0';
	*r.base = lr_table_builder_str(c->b, base);
	free(base);
	return 0;
}

/* "format": the API format an endpoint speaks (lr_xlate.h), for a route's
 * set or a target.  It needs an endpoint of its own: the app's base speaks
 * the app's format. */
static int parse_format(ctx *c, const cJSON *o, uint32_t *out, int has_endpoint)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "format");
	int xf;

	if (!v)
		return 0;
	push(c, "format");
	if (!cJSON_IsString(v) || (xf = lr_xlate_format_from_name(v->valuestring)) == LR_XF_NONE)
		return fail(c, LR_EINVAL, "format is one of openai, azure, responses, anthropic, gemini, ollama");
	if (!has_endpoint)
		return fail(c, LR_EINVAL, "a format needs an endpoint that speaks it");
	pop(c);
	*out = (uint32_t)xf;
	return 0;
}

static int parse_set(ctx *c, const cJSON *s, lr_route *r)
{
	const cJSON *v;
	int rc;

	if (!cJSON_IsObject(s))
		return fail(c, LR_EINVAL, "\"set\" must be an object");
	if ((rc = check_keys(c, s, S_SET)) < 0)
		return rc;
	if ((v = cJSON_GetObjectItemCaseSensitive(s, "model"))) {
		push(c, "model");
		if ((rc = want_string(c, v, "set.model")) < 0)
			return rc;
		pop(c);
		r->set_model = lr_table_builder_str(c->b, v->valuestring);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(s, "endpoint"))) {
		push(c, "endpoint");
		if ((rc = want_string(c, v, "set.endpoint")) < 0 ||
		    (rc = parse_endpoint(c, v->valuestring, r)) < 0)
			return rc;
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(s, "api_key_env"))) {
		push(c, "api_key_env");
		if ((rc = want_string(c, v, "set.api_key_env")) < 0)
			return rc;
		if (!valid_env_name(v->valuestring))
			return fail(c, LR_EINVAL, "api_key_env names an environment variable (letters, digits, _), not a key");
		pop(c);
		r->set_key_env = lr_table_builder_str(c->b, v->valuestring);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(s, "keep_credentials"))) {
		push(c, "keep_credentials");
		if (!cJSON_IsBool(v))
			return fail(c, LR_EINVAL, "keep_credentials must be true or false");
		pop(c);
		if (cJSON_IsTrue(v))
			r->flags |= LR_ROUTE_KEEP_CREDENTIALS;
	}
	if ((rc = parse_format(c, s, &r->format, r->set_endpoint.off != 0)) < 0)
		return rc;
	if ((v = cJSON_GetObjectItemCaseSensitive(s, "format_drop"))) {
		push(c, "format_drop");
		if (!cJSON_IsBool(v))
			return fail(c, LR_EINVAL, "format_drop must be true or false");
		pop(c);
		if (cJSON_IsTrue(v))
			r->flags |= LR_ROUTE_FORMAT_DROP;
	}
	return 0;
}

/* Members an override may not touch: the model has set.model, and the
 * others change what the app gets back in ways it did not ask for. */
static int param_forbidden(const char *k)
{
	static const char *const no[] = {"model", "stream", "messages", "input", "contents", "prompt", "n"};
	size_t i;

	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcmp(k, no[i]) == 0)
			return 1;
	return 0;
}

static int add_param(ctx *c, int op, const char *key, const char *raw)
{
	lr_param_rec p = {0};

	p.op = (uint32_t)op;
	p.key = key ? lr_table_builder_str(c->b, key) : (lr_ref){0, 0};
	p.raw = lr_table_builder_str(c->b, raw);
	return lr_table_builder_param(c->b, &p);
}

/* set.params (SET), set.cap (CAP), set.system_prefix: after the route was
 * added, since they attach to the route added last. */
static int parse_params(ctx *c, const cJSON *s)
{
	static const char *const which[] = {"params", "cap"};
	const cJSON *o, *v;
	char *raw;
	size_t i;
	int rc;

	for (i = 0; i < 2; i++) {
		if (!(o = cJSON_GetObjectItemCaseSensitive(s, which[i])))
			continue;
		push(c, which[i]);
		if (!cJSON_IsObject(o))
			return fail(c, LR_EINVAL, "\"%s\" must be an object of request parameters", which[i]);
		for (v = o->child; v; v = v->next) {
			push(c, v->string);
			if (param_forbidden(v->string))
				return fail(c, LR_EINVAL, "\"%s\" cannot be overridden here", v->string);
			if (i == 1 && !cJSON_IsNumber(v))
				return fail(c, LR_EINVAL, "a cap is a number");
			if (!(raw = cJSON_PrintUnformatted(v)))
				return LR_ENOMEM;
			rc = add_param(c, i == 0 ? LR_PARAM_SET : LR_PARAM_CAP, v->string, raw);
			free(raw);
			if (rc < 0)
				return rc;
			pop(c);
		}
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(s, "system_prefix"))) {
		push(c, "system_prefix");
		if ((rc = want_string(c, v, "system_prefix (an instruction)")) < 0)
			return rc;
		if (!*v->valuestring)
			return fail(c, LR_EINVAL, "system_prefix is empty");
		pop(c);
		if ((rc = add_param(c, LR_PARAM_SYSTEM_PREFIX, NULL, v->valuestring)) < 0)
			return rc;
	}
	return 0;
}

static int parse_route_head(ctx *c, const cJSON *o, lr_route *r)
{
	const cJSON *v;
	int rc;

	if (!cJSON_IsObject(o))
		return fail(c, LR_EINVAL, "a route must be an object");
	if ((rc = check_keys(c, o, S_ROUTE)) < 0)
		return rc;
	v = cJSON_GetObjectItemCaseSensitive(o, "name");
	if (!v)
		return fail(c, LR_EINVAL, "a route needs a \"name\"");
	push(c, "name");
	if (!cJSON_IsString(v) || !valid_name(v->valuestring))
		return fail(c, LR_EINVAL, "a route name is 1-64 of A-Z a-z 0-9 _ . : -");
	pop(c);
	r->name = lr_table_builder_str(c->b, v->valuestring);
	r->flags = LR_ROUTE_ENABLED;
	r->budget_target = -1;
	r->cache_max_temperature = -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "description"))) {
		push(c, "description");
		if (!cJSON_IsString(v))
			return fail(c, LR_EINVAL, "description must be a string");
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "enabled"))) {
		push(c, "enabled");
		if (!cJSON_IsBool(v))
			return fail(c, LR_EINVAL, "enabled must be true or false");
		pop(c);
		if (cJSON_IsFalse(v))
			r->flags &= ~(uint32_t)LR_ROUTE_ENABLED;
	}
	return 0;
}

static int want_number(ctx *c, const cJSON *o, const char *key, double lo, double hi, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		return 0;
	push(c, key);
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
		return fail(c, LR_EINVAL, "a number from %g to %g", lo, hi);
	pop(c);
	*out = v->valuedouble;
	return 1;
}

static int target_index(ctx *c, const cJSON *v)
{
	int i;

	if (!cJSON_IsString(v))
		return fail(c, LR_EINVAL, "a target name from \"targets\"");
	if (!c->targets || (i = lr_table_builder_find_target(c->b, v->valuestring)) < 0)
		return fail(c, LR_EINVAL, "no target named \"%s\" in \"targets\"", v->valuestring);
	return i;
}

/* "budget": {"usd_per_day": N, "per": "route"|"process"|"model",
 *            "fallback": TARGET | "deny": MESSAGE} */
static int parse_budget(ctx *c, const cJSON *o, lr_route *r)
{
	static const char *const pers[] = {"", "route", "process", "model"};
	const cJSON *v;
	int rc, i;

	if (!cJSON_IsObject(o))
		return fail(c, LR_EINVAL, "\"budget\" must be an object");
	if ((rc = check_keys(c, o, S_BUDGET)) < 0)
		return rc;
	if ((rc = want_number(c, o, "usd_per_day", 0, 1e12, &r->budget_usd)) <= 0)
		return rc < 0 ? rc : fail(c, LR_EINVAL, "a budget needs \"usd_per_day\"");
	if (r->budget_usd <= 0)
		return fail(c, LR_EINVAL, "usd_per_day must be more than 0");
	r->budget_per = LR_BUDGET_ROUTE;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "per"))) {
		push(c, "per");
		for (i = 1; i <= 3 && !(cJSON_IsString(v) && strcmp(v->valuestring, pers[i]) == 0); i++)
			;
		if (i > 3)
			return fail(c, LR_EINVAL, "\"route\", \"process\" or \"model\"");
		pop(c);
		r->budget_per = (uint32_t)i;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "fallback"))) {
		push(c, "fallback");
		if ((i = target_index(c, v)) < 0)
			return i;
		pop(c);
		r->budget_target = i;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "deny"))) {
		push(c, "deny");
		if ((rc = want_string(c, v, "the message the app gets")) < 0)
			return rc;
		pop(c);
		r->budget_deny = lr_table_builder_str(c->b, v->valuestring);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "scope"))) {
		push(c, "scope");
		if (!cJSON_IsString(v) || (strcmp(v->valuestring, "host") && strcmp(v->valuestring, "fleet")))
			return fail(c, LR_EINVAL, "\"host\" or \"fleet\"");
		if (!strcmp(v->valuestring, "fleet") && !c->fleet)
			return fail(c, LR_EINVAL, "a fleet budget needs the top-level \"fleet\" (its Redis)");
		if (!strcmp(v->valuestring, "fleet"))
			r->flags |= LR_ROUTE_BUDGET_FLEET;
		pop(c);
	}
	if (r->budget_target < 0 && !r->budget_deny.off)
		return fail(c, LR_EINVAL, "a budget needs a \"fallback\" target or a \"deny\" message");
	return 0;
}

/* A chain target: a name from "targets", or "original" (the request as
 * the app made it). */
static int chain_target(ctx *c, const cJSON *v, uint32_t *out)
{
	int i;

	if (cJSON_IsString(v) && strcmp(v->valuestring, "original") == 0) {
		*out = LR_TARGET_ORIGINAL;
		return 0;
	}
	if ((i = target_index(c, v)) < 0)
		return i;
	*out = (uint32_t)i;
	return 0;
}

/* A list of chain targets (kind: enum lr_chain_kind): fallbacks,
 * escalate.to, or on_context_overflow. */
static int parse_chain(ctx *c, const cJSON *a, int kind)
{
	const cJSON *v;
	uint32_t tg;
	int i = 0, rc;

	if (!cJSON_IsArray(a) || !a->child)
		return fail(c, LR_EINVAL, "a non-empty array of target names (or \"original\")");
	if (cJSON_GetArraySize(a) > LR_MAX_CHAIN)
		return fail(c, LR_EINVAL, "at most %d targets", LR_MAX_CHAIN);
	for (v = a->child; v; v = v->next, i++) {
		push_index(c, i);
		if ((rc = chain_target(c, v, &tg)) < 0)
			return rc;
		pop(c);
		if ((rc = lr_table_builder_chain(c->b, tg, kind)) < 0)
			return rc;
	}
	return 0;
}

/* "escalate": {"when": [COND...], "refusal": ERE, "to": [TARGET...]} -
 * the scalar part (the targets are added with the route). */
static int parse_escalate_head(ctx *c, const cJSON *o, lr_route *r)
{
	const cJSON *v, *w = cJSON_GetObjectItemCaseSensitive(o, "when");
	regex_t re;
	unsigned bit;
	int i = 0, rc;

	if (!cJSON_IsObject(o))
		return fail(c, LR_EINVAL, "\"escalate\" must be an object");
	if ((rc = check_keys(c, o, S_ESCALATE)) < 0)
		return rc;
	push(c, "when");
	if (!cJSON_IsArray(w) || !w->child)
		return fail(c, LR_EINVAL, "a non-empty array of \"empty\", \"length\", \"refusal\", \"invalid_json\"");
	for (v = w->child; v; v = v->next, i++) {
		push_index(c, i);
		if (!cJSON_IsString(v) || !(bit = lr_gate_from_name(v->valuestring)))
			return fail(c, LR_EINVAL, "\"empty\", \"length\", \"refusal\" or \"invalid_json\"");
		pop(c);
		r->escalate_when |= bit;
	}
	pop(c);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "refusal"))) {
		push(c, "refusal");
		if ((rc = want_string(c, v, "a regular expression (POSIX extended)")) < 0)
			return rc;
		if (regcomp(&re, v->valuestring, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0)
			return fail(c, LR_EINVAL, "not a valid POSIX extended regular expression");
		regfree(&re);
		pop(c);
		r->escalate_refusal = lr_table_builder_str(c->b, v->valuestring);
	}
	if (!cJSON_GetObjectItemCaseSensitive(o, "to"))
		return fail(c, LR_EINVAL, "\"escalate\" needs \"to\": the stronger targets");
	return 0;
}

/* "cache": {"ttl_s": N, "max_temperature": N} */
static int parse_route_cache(ctx *c, const cJSON *o, lr_route *r)
{
	double ttl = 0;
	int rc;

	if (!cJSON_IsObject(o))
		return fail(c, LR_EINVAL, "\"cache\" must be an object");
	if ((rc = check_keys(c, o, S_RCACHE)) < 0)
		return rc;
	if ((rc = want_number(c, o, "ttl_s", 1, 30 * 86400, &ttl)) <= 0)
		return rc < 0 ? rc : fail(c, LR_EINVAL, "\"cache\" needs \"ttl_s\" (seconds)");
	r->cache_ttl_s = (uint32_t)ttl;
	if ((rc = want_number(c, o, "max_temperature", 0, 100, &r->cache_max_temperature)) < 0)
		return rc;
	return 0;
}

/* The stream keys of a route: first_token_ms, idle_ms, stream_hold,
 * stream_continue ("next", the default; "same"; "off"). */
static int parse_stream_keys(ctx *c, const cJSON *o, lr_route *r)
{
	const cJSON *v;
	double n;
	int rc;

	if ((rc = want_number(c, o, "first_token_ms", 1, 3600000, &n)) < 0)
		return rc;
	r->first_token_ms = rc ? (uint32_t)n : 0;
	if ((rc = want_number(c, o, "idle_ms", 1, 3600000, &n)) < 0)
		return rc;
	r->idle_ms = rc ? (uint32_t)n : 0;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "stream_hold"))) {
		if (!cJSON_IsBool(v))
			return fail(c, LR_EINVAL, "\"stream_hold\" must be true or false");
		if (cJSON_IsTrue(v))
			r->flags |= LR_ROUTE_STREAM_HOLD;
	}
	r->stream_continue = LR_CONTINUE_NEXT;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "stream_continue"))) {
		push(c, "stream_continue");
		if (cJSON_IsString(v) && strcmp(v->valuestring, "next") == 0)
			r->stream_continue = LR_CONTINUE_NEXT;
		else if (cJSON_IsString(v) && strcmp(v->valuestring, "same") == 0)
			r->stream_continue = LR_CONTINUE_SAME;
		else if (cJSON_IsString(v) && strcmp(v->valuestring, "off") == 0)
			r->stream_continue = LR_CONTINUE_OFF;
		else
			return fail(c, LR_EINVAL, "\"next\", \"same\" or \"off\"");
		pop(c);
	}
	return 0;
}

/* The resilience keys of a route, except its chain targets. */
static int parse_resil(ctx *c, const cJSON *o, lr_route *r)
{
	const cJSON *v;
	double n;
	int rc;

	if ((rc = want_number(c, o, "timeout_ms", 1, 3600000, &n)) < 0)
		return rc;
	r->timeout_ms = rc ? (uint32_t)n : 0;
	if ((rc = want_number(c, o, "retry_after_max_ms", 0, 600000, &n)) < 0)
		return rc;
	r->retry_after_max_ms = rc ? (uint32_t)n : 2000;
	if ((rc = want_number(c, o, "retries", 0, LR_RETRIES_MAX, &n)) < 0)
		return rc;
	r->retries = rc ? (uint32_t)n : 1;
	if (rc && n != (double)r->retries)
		return fail(c, LR_EINVAL, "\"retries\" must be a whole number");
	if (rc && r->retries)
		r->flags |= LR_ROUTE_RETRIES; /* asked for: the route is resilient for it */
	if ((rc = want_number(c, o, "retry_backoff_ms", 0, LR_BACKOFF_MAX_MS, &n)) < 0)
		return rc;
	r->retry_backoff_ms = rc ? (uint32_t)n : 200;
	if ((rc = parse_stream_keys(c, o, r)) < 0)
		return rc;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "on_context_overflow"))) {
		push(c, "on_context_overflow");
		if (cJSON_IsString(v) && strcmp(v->valuestring, "larger") == 0)
			r->context_mode = LR_CONTEXT_LARGER;
		else if (cJSON_IsArray(v))
			r->context_mode = LR_CONTEXT_LIST; /* its targets are added with the route */
		else
			return fail(c, LR_EINVAL, "\"larger\", or a non-empty array of target names (or \"original\")");
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "escalate"))) {
		push(c, "escalate");
		if ((rc = parse_escalate_head(c, v, r)) < 0)
			return rc;
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "cache"))) {
		push(c, "cache");
		if ((rc = parse_route_cache(c, v, r)) < 0)
			return rc;
		pop(c);
	}
	if ((r->flags & LR_ROUTE_DENY) && (cJSON_GetObjectItemCaseSensitive(o, "fallbacks") || r->escalate_when ||
					    r->cache_ttl_s || r->timeout_ms || (r->flags & LR_ROUTE_RETRIES) ||
					    r->context_mode || r->first_token_ms || r->idle_ms ||
					    (r->flags & LR_ROUTE_STREAM_HOLD)))
		return fail(c, LR_EINVAL, "a route that denies has no fallbacks, retries, escalation, "
				       "context targets, cache or stream keys");
	return 0;
}

/* The chain targets, added once the route itself is. */
static int parse_chains(ctx *c, const cJSON *o)
{
	const cJSON *v;
	int rc;

	if ((v = cJSON_GetObjectItemCaseSensitive(o, "fallbacks"))) {
		push(c, "fallbacks");
		if ((rc = parse_chain(c, v, LR_CHAIN_FALLBACK)) < 0)
			return rc;
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "escalate"))) {
		push(c, "escalate");
		push(c, "to");
		if ((rc = parse_chain(c, cJSON_GetObjectItemCaseSensitive(v, "to"), LR_CHAIN_ESCALATE)) < 0)
			return rc;
		pop(c);
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "on_context_overflow")) && cJSON_IsArray(v)) {
		push(c, "on_context_overflow");
		if ((rc = parse_chain(c, v, LR_CHAIN_CONTEXT)) < 0)
			return rc;
		pop(c);
	}
	return 0;
}

/* "pool": {"targets": [NAME | {"target": NAME, "weight": N}...],
 *          "weights": {"quality": N, "cost": N, "latency": N},
 *          "expected_output_tokens": N} - the scalar part */
static int parse_pool_head(ctx *c, const cJSON *o, lr_route *r)
{
	const cJSON *w;
	int rc;

	if (!cJSON_IsObject(o))
		return fail(c, LR_EINVAL, "\"pool\" must be an object");
	if ((rc = check_keys(c, o, S_POOL)) < 0)
		return rc;
	r->w_quality = 1;
	r->w_cost = 1;
	r->w_latency = 0.2;
	r->expected_output = 500;
	if ((w = cJSON_GetObjectItemCaseSensitive(o, "weights"))) {
		push(c, "weights");
		if (!cJSON_IsObject(w))
			return fail(c, LR_EINVAL, "\"weights\" must be an object");
		if ((rc = check_keys(c, w, S_WEIGHTS)) < 0 ||
		    (rc = want_number(c, w, "quality", 0, 1000, &r->w_quality)) < 0 ||
		    (rc = want_number(c, w, "cost", 0, 1000, &r->w_cost)) < 0 ||
		    (rc = want_number(c, w, "latency", 0, 1000, &r->w_latency)) < 0)
			return rc;
		pop(c);
	}
	if ((rc = want_number(c, o, "expected_output_tokens", 0, 1e9, &r->expected_output)) < 0)
		return rc;
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "targets")) ||
	    !cJSON_GetObjectItemCaseSensitive(o, "targets")->child)
		return fail(c, LR_EINVAL, "a pool needs a non-empty \"targets\" array");
	return 0;
}

static int parse_pool_members(ctx *c, const cJSON *o)
{
	const cJSON *v, *a = cJSON_GetObjectItemCaseSensitive(o, "targets");
	lr_pool_rec pr;
	int i = 0, rc, k;

	push(c, "targets");
	for (v = a->child; v; v = v->next, i++) {
		push_index(c, i);
		if (i == LR_MAX_CANDS)
			return fail(c, LR_EINVAL, "a pool has at most %d targets", LR_MAX_CANDS);
		memset(&pr, 0, sizeof(pr));
		pr.weight = 1;
		if (cJSON_IsObject(v)) {
			if ((rc = check_keys(c, v, S_MEMBER)) < 0 ||
			    (rc = want_number(c, v, "weight", 0, 1000, &pr.weight)) < 0)
				return rc;
			push(c, "target");
			k = target_index(c, cJSON_GetObjectItemCaseSensitive(v, "target"));
			pop(c);
		} else {
			k = target_index(c, v);
		}
		if (k < 0)
			return k;
		pr.target = (uint32_t)k;
		if ((rc = lr_table_builder_pool(c->b, &pr)) < 0)
			return rc;
		pop(c);
	}
	pop(c);
	return 0;
}

/* A target without prices or context window takes them from the
 * prices_file's entry for its model, if any: both prices (and the cache
 * rates) when it gives neither, the window when it gives none. */
static void target_defaults(ctx *c, lr_target_rec *g, const char *model, int has_in, int has_out,
			    int has_window)
{
	const lr_catalog_entry *e = lr_catalog_find(&c->cat, model);

	if (!e)
		return;
	if (!has_in && !has_out) {
		g->input_per_mtok = e->price.input_per_mtok;
		g->output_per_mtok = e->price.output_per_mtok;
		g->cache_read_per_mtok = e->price.cache_read_per_mtok;
		g->cache_write_per_mtok = e->price.cache_write_per_mtok;
	}
	if (!has_window)
		g->context_window = e->context_window;
}

/* "targets": {NAME: {"model", "endpoint", "api_key_env", "keep_credentials",
 *   "input_per_mtok", "output_per_mtok", "cache_read_per_mtok",
 *   "cache_write_per_mtok", "context_window",
 *   "quality": N | {INTENT|"*": N}}} */
static int parse_target(ctx *c, const cJSON *o)
{
	lr_target_rec g;
	ep_refs e = {&g.endpoint, &g.ep_scheme, &g.ep_host, &g.ep_base, &g.ep_port};
	lr_quality_rec q;
	const cJSON *v, *x;
	int rc, has_in, has_out, has_win;

	memset(&g, 0, sizeof(g));
	g.input_per_mtok = g.output_per_mtok = -1;
	g.cache_read_per_mtok = g.cache_write_per_mtok = -1;
	g.quality = 0.5;
	if (!valid_name(o->string))
		return fail(c, LR_EINVAL, "a target name is 1-64 of A-Z a-z 0-9 _ . : -");
	if (!cJSON_IsObject(o))
		return fail(c, LR_EINVAL, "a target must be an object");
	if ((rc = check_keys(c, o, S_TARGET)) < 0)
		return rc;
	g.name = lr_table_builder_str(c->b, o->string);
	v = cJSON_GetObjectItemCaseSensitive(o, "model");
	push(c, "model");
	if ((rc = want_string(c, v, "the model name")) < 0)
		return rc;
	pop(c);
	g.model = lr_table_builder_str(c->b, v->valuestring);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "endpoint"))) {
		push(c, "endpoint");
		if ((rc = want_string(c, v, "an endpoint URL")) < 0 ||
		    (rc = parse_endpoint_into(c, v->valuestring, e)) < 0)
			return rc;
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "api_key_env"))) {
		push(c, "api_key_env");
		if ((rc = want_string(c, v, "api_key_env")) < 0)
			return rc;
		if (!valid_env_name(v->valuestring))
			return fail(c, LR_EINVAL, "api_key_env names an environment variable (letters, digits, _), not a key");
		pop(c);
		g.key_env = lr_table_builder_str(c->b, v->valuestring);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "keep_credentials"))) {
		push(c, "keep_credentials");
		if (!cJSON_IsBool(v))
			return fail(c, LR_EINVAL, "true or false");
		pop(c);
		if (cJSON_IsTrue(v))
			g.flags |= LR_TARGET_KEEP_CREDENTIALS;
	}
	if ((rc = parse_format(c, o, &g.format, g.endpoint.off != 0)) < 0)
		return rc;
	if ((has_in = want_number(c, o, "input_per_mtok", 0, 1e6, &g.input_per_mtok)) < 0 ||
	    (has_out = want_number(c, o, "output_per_mtok", 0, 1e6, &g.output_per_mtok)) < 0 ||
	    (has_win = want_number(c, o, "context_window", 0, 1e10, &g.context_window)) < 0 ||
	    (rc = want_number(c, o, "cache_read_per_mtok", 0, 1e6, &g.cache_read_per_mtok)) < 0 ||
	    (rc = want_number(c, o, "cache_write_per_mtok", 0, 1e6, &g.cache_write_per_mtok)) < 0)
		return has_in < 0 ? has_in : has_out < 0 ? has_out : has_win < 0 ? has_win : rc;
	target_defaults(c, &g, cJSON_GetObjectItemCaseSensitive(o, "model")->valuestring, has_in, has_out,
			has_win);
	v = cJSON_GetObjectItemCaseSensitive(o, "quality");
	if (v && cJSON_IsObject(v) && (x = cJSON_GetObjectItemCaseSensitive(v, "*")) && cJSON_IsNumber(x))
		g.quality = x->valuedouble;
	if (v && !cJSON_IsObject(v) && (rc = want_number(c, o, "quality", 0, 1, &g.quality)) < 0)
		return rc;
	if ((rc = lr_table_builder_target(c->b, &g)) < 0)
		return rc;
	if (v && cJSON_IsObject(v)) {
		push(c, "quality");
		for (x = v->child; x; x = x->next) {
			push(c, x->string);
			if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 1)
				return fail(c, LR_EINVAL, "a quality is a number from 0 to 1");
			pop(c);
			if (strcmp(x->string, "*") == 0)
				continue;
			q.intent = lr_table_builder_str(c->b, x->string);
			q.value = x->valuedouble;
			if ((rc = lr_table_builder_quality(c->b, &q)) < 0)
				return rc;
		}
		pop(c);
	}
	return 0;
}

static int parse_targets(ctx *c, const cJSON *o)
{
	const cJSON *v;
	int rc;

	if (!cJSON_IsObject(o))
		return fail(c, LR_EINVAL, "\"targets\" must be an object of named targets");
	for (v = o->child; v; v = v->next) {
		push(c, v->string);
		if ((rc = parse_target(c, v)) < 0)
			return rc;
		pop(c);
	}
	c->targets = 1;
	return 0;
}

static int parse_route(ctx *c, const cJSON *o)
{
	lr_route r = {0};
	const cJSON *v, *set = cJSON_GetObjectItemCaseSensitive(o, "set");
	int rc;

	if ((rc = parse_route_head(c, o, &r)) < 0)
		return rc;
	if (set) {
		push(c, "set");
		if ((rc = parse_set(c, set, &r)) < 0)
			return rc;
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "deny"))) {
		push(c, "deny");
		if (set)
			return fail(c, LR_EINVAL, "a route either sets or denies, not both");
		if ((rc = want_string(c, v, "deny (the message the app gets)")) < 0)
			return rc;
		pop(c);
		r.flags |= LR_ROUTE_DENY;
		r.deny = lr_table_builder_str(c->b, v->valuestring);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "budget"))) {
		push(c, "budget");
		if ((rc = parse_budget(c, v, &r)) < 0)
			return rc;
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "pool"))) {
		push(c, "pool");
		if (r.set_model.off || r.set_endpoint.off || r.set_key_env.off)
			return fail(c, LR_EINVAL, "a route with a pool takes model, endpoint and key from its targets");
		if (r.flags & LR_ROUTE_DENY)
			return fail(c, LR_EINVAL, "a route either denies or has a pool");
		if ((rc = parse_pool_head(c, v, &r)) < 0)
			return rc;
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "guard"))) {
		push(c, "guard");
		if ((rc = parse_guard(c, v, &r)) < 0)
			return rc;
		pop(c);
	}
	if ((rc = parse_resil(c, o, &r)) < 0)
		return rc;
	if ((rc = lr_table_builder_route(c->b, &r)) < 0)
		return rc;
	if ((rc = parse_chains(c, o)) < 0)
		return rc;
	if (set) {
		push(c, "set");
		if ((rc = parse_params(c, set)) < 0)
			return rc;
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "pool"))) {
		push(c, "pool");
		if ((rc = parse_pool_members(c, v)) < 0)
			return rc;
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "match"))) {
		push(c, "match");
		if ((rc = parse_match(c, v)) < 0)
			return rc;
		pop(c);
	}
	return 0;
}

/* "when_unsure": ROUTE on a route that tests intent_confidence: the
 * requests it would take but for their confidence go to that route.  Read
 * once every route is known (it may name a later one). */
static int has_confidence(const cJSON *route)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(route, "match");

	return cJSON_GetObjectItemCaseSensitive(m, "intent_confidence") != NULL;
}

static int parse_unsure(ctx *c, const cJSON *routes, const cJSON *o, uint32_t index)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "when_unsure"), *p;
	uint32_t to = 0;
	int rc;

	if (!v)
		return 0;
	push(c, "when_unsure");
	if ((rc = want_string(c, v, "when_unsure (the name of a route)")) < 0)
		return rc;
	if (!has_confidence(o))
		return fail(c, LR_EINVAL, "when_unsure needs \"intent_confidence\" in this route's match");
	for (p = routes->child; p; p = p->next, to++) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "name"));
		if (name && !strcmp(name, v->valuestring))
			break;
	}
	if (!p)
		return fail(c, LR_EINVAL, "no route is named \"%s\"", v->valuestring);
	if (p == o)
		return fail(c, LR_EINVAL, "a route cannot hand its uncertain requests to itself");
	if ((rc = lr_table_builder_route_unsure(c->b, index, to)) < 0)
		return fail(c, rc, "when_unsure: \"%s\" cannot be used", v->valuestring);
	pop(c);
	return 0;
}

/* The route names seen so far: an open-addressing set of the cJSON
 * strings, so that a table of n routes checks its names in O(n), not the
 * O(n^2) of comparing each with every earlier one. */
typedef struct {
	const char **slot;
	size_t mask;
} name_set;

static size_t name_hash(const char *s)
{
	size_t h = 14695981039346656037u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211u;
	return h;
}

static int name_set_init(name_set *ns, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	ns->mask = cap - 1;
	ns->slot = calloc(cap, sizeof(*ns->slot));
	return ns->slot ? 0 : LR_ENOMEM;
}

/* 1 if name was in the set already, else 0 and it is added. */
static int name_set_add(name_set *ns, const char *name)
{
	size_t i = name_hash(name) & ns->mask;

	for (; ns->slot[i]; i = (i + 1) & ns->mask)
		if (strcmp(ns->slot[i], name) == 0)
			return 1;
	ns->slot[i] = name;
	return 0;
}

static int parse_routes_in(ctx *c, const cJSON *routes, name_set *ns)
{
	const cJSON *o;
	const char *a;
	int i = 0, rc;

	for (o = routes->child; o; o = o->next, i++) {
		push_index(c, i);
		if ((rc = parse_route(c, o)) < 0)
			return rc;
		a = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "name"));
		if (a && name_set_add(ns, a)) {
			push(c, "name");
			return fail(c, LR_EINVAL, "route name \"%s\" is used twice", a);
		}
		pop(c);
	}
	for (i = 0, o = routes->child; o; o = o->next, i++) {
		push_index(c, i);
		if ((rc = parse_unsure(c, routes, o, (uint32_t)i)) < 0)
			return rc;
		pop(c);
	}
	return 0;
}

static int parse_routes(ctx *c, const cJSON *routes)
{
	name_set ns;
	int rc;

	if (!cJSON_IsArray(routes))
		return fail(c, LR_EINVAL, "\"routes\" must be an array");
	if ((rc = name_set_init(&ns, (size_t)cJSON_GetArraySize(routes))) < 0)
		return rc;
	rc = parse_routes_in(c, routes, &ns);
	free(ns.slot);
	return rc;
}

static int parse_price(ctx *c, const cJSON *p)
{
	lr_price_rec rec = {.cache_read_per_mtok = -1, .cache_write_per_mtok = -1};
	const char *why;
	size_t i;
	int rc;

	if (lr_glob_check(p->string, &why) < 0)
		return fail(c, LR_EINVAL, "bad glob \"%s\": %s", p->string, why);
	if (!cJSON_IsObject(p))
		return fail(c, LR_EINVAL, "a price is an object with input_per_mtok and output_per_mtok");
	if ((rc = check_keys(c, p, S_PRICE)) < 0 ||
	    (rc = want_number(c, p, "cache_read_per_mtok", 0, 1e6, &rec.cache_read_per_mtok)) < 0 ||
	    (rc = want_number(c, p, "cache_write_per_mtok", 0, 1e6, &rec.cache_write_per_mtok)) < 0)
		return rc;
	for (i = 0; i < 2; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, price_keys[i]);
		push(c, price_keys[i]);
		if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 1e6)
			return fail(c, LR_EINVAL, "%s must be a number of USD per million tokens, 0 to 1e6", price_keys[i]);
		pop(c);
		*(i ? &rec.output_per_mtok : &rec.input_per_mtok) = v->valuedouble;
	}
	rec.glob = lr_table_builder_str(c->b, p->string);
	return lr_table_builder_price(c->b, &rec);
}

static int parse_prices(ctx *c, const cJSON *prices)
{
	const cJSON *p, *q;
	int rc;

	if (!cJSON_IsObject(prices))
		return fail(c, LR_EINVAL, "\"prices\" must be an object of model globs");
	for (p = prices->child; p; p = p->next) {
		push(c, p->string);
		for (q = p->next; q; q = q->next)
			if (strcmp(p->string, q->string) == 0)
				return fail(c, LR_EINVAL, "duplicate key \"%s\"", p->string);
		if ((rc = parse_price(c, p)) < 0)
			return rc;
		pop(c);
	}
	return 0;
}

static int parse_terms(ctx *c, const cJSON *o, const char *key, int kind)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key), *v;
	lr_term_rec tm = {0};
	regex_t re;
	char msg[128];
	int i = 0, rc;

	if (!a)
		return 0;
	push(c, key);
	if (!cJSON_IsArray(a))
		return fail(c, LR_EINVAL, "\"%s\" must be an array of strings", key);
	for (v = a->child; v; v = v->next, i++) {
		push_index(c, i);
		if ((rc = want_string(c, v, kind == LR_TERM_REGEX ? "a regular expression" : "a keyword")) < 0)
			return rc;
		if (!*v->valuestring)
			return fail(c, LR_EINVAL, "empty");
		if (kind == LR_TERM_REGEX) {
			rc = regcomp(&re, v->valuestring, REG_EXTENDED | REG_ICASE | REG_NOSUB);
			if (rc != 0) {
				regerror(rc, &re, msg, sizeof(msg));
				return fail(c, LR_EINVAL, "bad regular expression \"%s\": %s", v->valuestring, msg);
			}
			regfree(&re);
		}
		pop(c);
		tm.kind = (uint32_t)kind;
		tm.str = lr_table_builder_str(c->b, v->valuestring);
		if ((rc = lr_table_builder_term(c->b, &tm)) < 0)
			return rc;
	}
	pop(c);
	return 0;
}

/* "intents": [{"name", "keywords": [...], "patterns": [...], "include_system": BOOL}] */
static int parse_intents(ctx *c, const cJSON *a)
{
	const cJSON *o, *v;
	lr_intent_rec in;
	int i = 0, rc;

	if (!cJSON_IsArray(a))
		return fail(c, LR_EINVAL, "\"intents\" must be an array");
	for (o = a->child; o; o = o->next, i++) {
		push_index(c, i);
		if (!cJSON_IsObject(o))
			return fail(c, LR_EINVAL, "an intent must be an object");
		if ((rc = check_keys(c, o, S_INTENT)) < 0)
			return rc;
		v = cJSON_GetObjectItemCaseSensitive(o, "name");
		push(c, "name");
		if (!cJSON_IsString(v) || !valid_name(v->valuestring))
			return fail(c, LR_EINVAL, "an intent needs a name of 1-64 of A-Z a-z 0-9 _ . : -");
		pop(c);
		memset(&in, 0, sizeof(in));
		if ((rc = want_number(c, o, "min_quality", 0, 1, &in.min_quality)) < 0)
			return rc;
		in.name = lr_table_builder_str(c->b, v->valuestring);
		if ((v = cJSON_GetObjectItemCaseSensitive(o, "include_system"))) {
			push(c, "include_system");
			if (!cJSON_IsBool(v))
				return fail(c, LR_EINVAL, "true or false");
			pop(c);
			if (cJSON_IsTrue(v))
				in.flags |= LR_INTENT_SYSTEM;
		}
		if ((rc = lr_table_builder_intent(c->b, &in)) < 0 ||
		    (rc = parse_terms(c, o, "keywords", LR_TERM_KEYWORD)) < 0 ||
		    (rc = parse_terms(c, o, "patterns", LR_TERM_REGEX)) < 0)
			return rc;
		if (!cJSON_GetObjectItemCaseSensitive(o, "keywords") &&
		    !cJSON_GetObjectItemCaseSensitive(o, "patterns"))
			return fail(c, LR_EINVAL, "an intent needs \"keywords\" or \"patterns\"");
		pop(c);
	}
	return 0;
}

/* The model file `llmroutectl train` writes:
 *   {"format": "llmroute-intents", "version": 2, "dim": N, "classes": [NAME...],
 *    "bias": [N...], "weights": BASE64 of float32 little-endian [dim][classes],
 *    "features": ["chars", "system"], "temperature": T}
 * Version 1 files have neither of the last two: words only, T = 1. */
static int classifier_calib(ctx *c, const char *path, const cJSON *m)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(m, "features"), *v;
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "temperature");
	uint32_t flags = 0;

	cJSON_ArrayForEach(v, f) {
		if (cJSON_IsString(v) && !strcmp(v->valuestring, "chars"))
			flags |= LR_CLF_CHARS;
		else if (cJSON_IsString(v) && !strcmp(v->valuestring, "system"))
			flags |= LR_CLF_SYSTEM;
		else /* a feature this build does not compute: the weights would mislead */
			return fail(c, LR_EINVAL, "%s: unknown feature (want \"chars\", \"system\")", path);
	}
	if ((f && !cJSON_IsArray(f)) ||
	    (t && (!cJSON_IsNumber(t) || !(t->valuedouble > 0.01 && t->valuedouble < 100))))
		return fail(c, LR_EINVAL, "%s: features is a list, temperature a number in (0.01, 100)", path);
	lr_table_builder_classifier_calib(c->b, flags, t ? (float)t->valuedouble : 1.f);
	return 0;
}

static int load_classifier(ctx *c, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL, *names[LR_CLF_MAX_CLASSES];
	long n = -1, got;
	cJSON *m = NULL, *v, *cls, *bias, *w;
	float *weights = NULL, b[LR_CLF_MAX_CLASSES];
	uint32_t dim, k = 0, i;
	int rc = LR_EINVAL;

	if (f && fseek(f, 0, SEEK_END) == 0)
		n = ftell(f);
	if (n < 0 || n > (64L << 20) || fseek(f, 0, SEEK_SET) != 0 || !(text = malloc((size_t)n + 1)) ||
	    fread(text, 1, (size_t)n, f) != (size_t)n) {
		if (f)
			fclose(f);
		free(text);
		return fail(c, LR_EINVAL, "cannot read the classifier %s", path);
	}
	fclose(f);
	text[n] = '\0';
	m = cJSON_Parse(text);
	v = cJSON_GetObjectItemCaseSensitive(m, "dim");
	cls = cJSON_GetObjectItemCaseSensitive(m, "classes");
	bias = cJSON_GetObjectItemCaseSensitive(m, "bias");
	w = cJSON_GetObjectItemCaseSensitive(m, "weights");
	if (!m || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "format")) ||
	    strcmp(cJSON_GetObjectItemCaseSensitive(m, "format")->valuestring, "llmroute-intents") != 0 ||
	    !cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > (1 << 20) || !cJSON_IsArray(cls) ||
	    !cJSON_IsArray(bias) || !cJSON_IsString(w)) {
		fail(c, LR_EINVAL, "%s is not a model file from `llmroutectl train`", path);
		goto out;
	}
	dim = (uint32_t)v->valuedouble;
	for (v = cls->child; v && k < LR_CLF_MAX_CLASSES; v = v->next, k++) {
		if (!cJSON_IsString(v) || !valid_name(v->valuestring)) {
			fail(c, LR_EINVAL, "%s: class %u is not a valid intent name", path, k);
			goto out;
		}
		names[k] = v->valuestring;
	}
	for (i = 0, v = bias->child; v && i < k; v = v->next, i++)
		b[i] = cJSON_IsNumber(v) ? (float)v->valuedouble : 0;
	if (!k || v || i != k || (dim & (dim - 1)) || !(weights = malloc((size_t)dim * k * sizeof(float) + 4))) {
		fail(c, LR_EINVAL, "%s: classes, bias or dim do not fit together", path);
		goto out;
	}
	/* exactly the base64 of dim x k floats: checked before decoding into them */
	got = strlen(w->valuestring) == 4 * (((size_t)dim * k * sizeof(float) + 2) / 3) ?
		lr_b64_decode(w->valuestring, strlen(w->valuestring), weights) : -1;
	for (i = 0; got == (long)((size_t)dim * k * sizeof(float)) && i < dim * k; i++)
		if (!isfinite(weights[i]))
			got = -1;
	for (i = 0; i < k; i++)
		if (!isfinite(b[i]))
			got = -1;
	if (got != (long)((size_t)dim * k * sizeof(float))) {
		fail(c, LR_EINVAL, "%s: the weights are not %u x %u floats", path, dim, k);
		goto out;
	}
	rc = lr_table_builder_classifier(c->b, dim, k, (const char *const *)names, weights, b);
	if (rc == 0)
		rc = classifier_calib(c, path, m);
out:
	free(weights);
	cJSON_Delete(m);
	free(text);
	return rc;
}

/* The prices_file: read, checked whole, and copied into the table (its
 * entries are sorted, as the table wants them); kept in c->cat for the
 * targets.  Any error leaves nothing published. */
static int load_catalog(ctx *c, const char *path)
{
	lr_price_rec rec;
	char msg[256];
	size_t i;
	int rc = lr_catalog_load(path, &c->cat, msg, sizeof(msg));

	if (rc == LR_ENOMEM)
		return rc;
	if (rc < 0)
		return fail(c, LR_EINVAL, "price catalogue %s: %s", path, msg);
	for (i = 0; i < c->cat.n; i++) {
		const lr_catalog_entry *e = &c->cat.v[i];
		memset(&rec, 0, sizeof(rec));
		rec.glob = lr_table_builder_str(c->b, e->model);
		rec.input_per_mtok = e->price.input_per_mtok;
		rec.output_per_mtok = e->price.output_per_mtok;
		rec.cache_read_per_mtok = e->price.cache_read_per_mtok;
		rec.cache_write_per_mtok = e->price.cache_write_per_mtok;
		rec.context_window = e->context_window;
		if ((rc = lr_table_builder_catalog(c->b, &rec)) < 0)
			return rc;
	}
	return 0;
}

/* "health": {"failures": N, "cooldown_s": N}, "cache": {"size_mb": N, "max_entry_kb": N} */
static int parse_top_resil(ctx *c, const cJSON *root)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "health");
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "cache");
	double fails = 0, cool = 0, size = 0, entry = 0, cool_min = 0;
	int rc;

	if (h) {
		push(c, "health");
		if (!cJSON_IsObject(h))
			return fail(c, LR_EINVAL, "\"health\" must be an object");
		if ((rc = check_keys(c, h, S_HEALTH)) < 0 ||
		    (rc = want_number(c, h, "failures", 1, 1000, &fails)) < 0 ||
		    (rc = want_number(c, h, "cooldown_s", 1, 86400, &cool)) < 0 ||
		    (rc = want_number(c, h, "cooldown_min_s", 1, 86400, &cool_min)) < 0)
			return rc;
		if (cool_min && cool && cool_min > cool)
			return fail(c, LR_EINVAL, "\"cooldown_min_s\" is more than \"cooldown_s\"");
		pop(c);
	}
	if (k) {
		push(c, "cache");
		if (!cJSON_IsObject(k))
			return fail(c, LR_EINVAL, "\"cache\" must be an object");
		if ((rc = check_keys(c, k, S_CACHE)) < 0 ||
		    (rc = want_number(c, k, "size_mb", 1, 1024, &size)) < 0 ||
		    (rc = want_number(c, k, "max_entry_kb", 1, 262144, &entry)) < 0)
			return rc;
		pop(c);
	}
	lr_table_builder_resil(c->b, (uint32_t)fails, (uint32_t)cool, (uint32_t)size, (uint32_t)entry);
	lr_table_builder_cooldown_min(c->b, (uint32_t)cool_min);
	return 0;
}

/* "redis[s]://HOST[:PORT][/DB]" into its parts (*tls: 1 for rediss://).  A password in the URL is
 * refused: the table is readable by every local user and `show` prints
 * it, so the password only ever comes from "password_env". */
static int parse_redis_url(ctx *c, const char *url, char *host, size_t cap, double *port, double *db, int *tls)
{
	const char *p, *e;
	char *end;

	*tls = strncmp(url, "rediss://", 9) == 0;
	if (!*tls && strncmp(url, "redis://", 8) != 0)
		return fail(c, LR_EINVAL, "\"redis\" must be redis://HOST[:PORT][/DB] or rediss://...");
	p = url + (*tls ? 9 : 8);
	if (strchr(p, '@'))
		return fail(c, LR_EINVAL, "no password in the URL: name its variable in \"password_env\"");
	e = p + strcspn(p, ":/");
	if (e == p || (size_t)(e - p) >= cap)
		return fail(c, LR_EINVAL, "\"redis\" needs a host");
	memcpy(host, p, (size_t)(e - p));
	host[e - p] = 0;
	*port = 6379;
	*db = 0;
	if (*e == ':') {
		*port = strtod(e + 1, &end);
		if (end == e + 1 || *port < 1 || *port > 65535 || *port != floor(*port))
			return fail(c, LR_EINVAL, "\"redis\": a port from 1 to 65535");
		e = end;
	}
	if (*e == '/' && e[1]) {
		*db = strtod(e + 1, &end);
		if (end == e + 1 || *end || *db < 0 || *db > 10000 || *db != floor(*db))
			return fail(c, LR_EINVAL, "\"redis\": a database number after the /");
		e = end;
	}
	if (*e && strcmp(e, "/"))
		return fail(c, LR_EINVAL, "\"redis\" must be redis://HOST[:PORT][/DB]");
	return 0;
}

/* "ca_file": an absolute path (the shim reads it in the app's own working
 * directory), and only with rediss://: a CA for a plain connection would
 * suggest a check that is not made. */
static int parse_ca_file(ctx *c, const cJSON *o, int tls)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "ca_file");
	int rc;

	if (!v) {
		lr_table_builder_fleet_tls(c->b, (uint32_t)tls, (lr_ref){0, 0});
		return 0;
	}
	push(c, "ca_file");
	if ((rc = want_string(c, v, "the absolute path of a PEM file")) < 0)
		return rc;
	if (v->valuestring[0] != '/')
		return fail(c, LR_EINVAL, "an absolute path (the apps read it from their own directories)");
	if (!tls)
		return fail(c, LR_EINVAL, "\"ca_file\" needs a rediss:// URL");
	lr_table_builder_fleet_tls(c->b, 1, lr_table_builder_str(c->b, v->valuestring));
	pop(c);
	return 0;
}

/* "fleet": {"redis": URL, "prefix": TEXT, "password_env": VAR, "refresh_ms": N, "ca_file": PATH} */
static int parse_fleet(ctx *c, const cJSON *o)
{
	const cJSON *v;
	char host[256];
	double port = 6379, db = 0, refresh = 0;
	lr_ref prefix, pw = {0, 0};
	int rc, tls = 0;

	push(c, "fleet");
	if (!cJSON_IsObject(o))
		return fail(c, LR_EINVAL, "\"fleet\" must be an object");
	if ((rc = check_keys(c, o, S_FLEET)) < 0 ||
	    (rc = want_number(c, o, "refresh_ms", 10, 60000, &refresh)) < 0)
		return rc;
	v = cJSON_GetObjectItemCaseSensitive(o, "redis");
	push(c, "redis");
	if (!v || (rc = want_string(c, v, "redis[s]://HOST[:PORT][/DB]")) < 0 ||
	    (rc = parse_redis_url(c, v->valuestring, host, sizeof(host), &port, &db, &tls)) < 0)
		return v ? rc : fail(c, LR_EINVAL, "\"fleet\" needs \"redis\"");
	pop(c);
	if ((rc = parse_ca_file(c, o, tls)) < 0)
		return rc;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "prefix"))) {
		push(c, "prefix");
		if ((rc = want_string(c, v, "a key prefix")) < 0)
			return rc;
		pop(c);
	}
	prefix = lr_table_builder_str(c->b, v ? v->valuestring : "llmroute:");
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "password_env"))) {
		push(c, "password_env");
		if ((rc = want_string(c, v, "the name of an environment variable")) < 0)
			return rc;
		pw = lr_table_builder_str(c->b, v->valuestring);
		pop(c);
	}
	lr_table_builder_fleet(c->b, lr_table_builder_str(c->b, host), (uint32_t)port, (uint32_t)db, prefix, pw,
			       refresh ? (uint32_t)refresh : 100);
	c->fleet = 1;
	pop(c);
	return 0;
}

static int parse_top(ctx *c, const cJSON *root)
{
	const cJSON *v;
	int rc;

	if (!cJSON_IsObject(root))
		return fail(c, LR_EINVAL, "the rules must be a JSON object");
	if ((rc = check_keys(c, root, S_TOP)) < 0)
		return rc;
	if ((rc = parse_top_resil(c, root)) < 0)
		return rc;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "fleet")) && (rc = parse_fleet(c, v)) < 0)
		return rc;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "prices_file"))) {
		push(c, "prices_file");
		if ((rc = want_string(c, v, "the path of a price catalogue (LiteLLM's format)")) < 0 ||
		    (rc = load_catalog(c, v->valuestring)) < 0)
			return rc;
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "classifier"))) {
		push(c, "classifier");
		if ((rc = want_string(c, v, "the path of a model file from `llmroutectl train`")) < 0 ||
		    (rc = load_classifier(c, v->valuestring)) < 0)
			return rc;
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "targets"))) {
		push(c, "targets");
		if ((rc = parse_targets(c, v)) < 0)
			return rc;
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "intents"))) {
		push(c, "intents");
		if ((rc = parse_intents(c, v)) < 0)
			return rc;
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "version"))) {
		push(c, "version");
		if (!cJSON_IsNumber(v) || v->valuedouble != 1)
			return fail(c, LR_EINVAL, "version must be 1");
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "audit"))) {
		push(c, "audit");
		if ((rc = want_string(c, v, "audit (a file path)")) < 0)
			return rc;
		pop(c);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "prices"))) {
		push(c, "prices");
		if ((rc = parse_prices(c, v)) < 0)
			return rc;
		pop(c);
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "routes");
	if (!v)
		return fail(c, LR_EINVAL, "the rules need a \"routes\" array");
	push(c, "routes");
	if ((rc = parse_routes(c, v)) < 0)
		return rc;
	pop(c);
	return 0;
}

static int syntax_error(ctx *c)
{
	const char *at = cJSON_GetErrorPtr();
	size_t off = (at && at >= c->text && at <= c->text + c->len) ? (size_t)(at - c->text) : 0;

	snprintf(c->err->msg, sizeof(c->err->msg), "malformed JSON");
	lr_json_linecol(c->text, c->len, off, &c->err->line, &c->err->col);
	return LR_EPARSE;
}

/* JSON text is UTF-8: cJSON would take any bytes, and `show --json` then
 * print invalid JSON.  Returns 0 or LR_EPARSE with the place. */
static int utf8_error(ctx *c)
{
	size_t off;

	if (lr_json_text_utf8(c->text, c->len, &off) == 0)
		return 0;
	snprintf(c->err->msg, sizeof(c->err->msg), "%s",
		 c->text[off] == '\\' ? "a \\u escape names a lone surrogate: not Unicode text"
				     : "invalid UTF-8 (JSON text must be UTF-8)");
	lr_json_linecol(c->text, c->len, off, &c->err->line, &c->err->col);
	return LR_EPARSE;
}

static int finish(ctx *c, const cJSON *root, void **blob, size_t *blen)
{
	const cJSON *audit = cJSON_GetObjectItemCaseSensitive(root, "audit");
	char *src = cJSON_Print(root);
	lr_ref a, s;

	if (!src)
		return LR_ENOMEM;
	a = lr_table_builder_str(c->b, cJSON_GetStringValue(audit));
	s = lr_table_builder_str(c->b, src);
	free(src);
	lr_table_builder_meta(c->b, a, s);
	return lr_table_builder_finish(c->b, blob, blen);
}

int lr_rules_compile(const char *text, size_t len, void **blob, size_t *blen,
		     lr_rules_error *err)
{
	ctx c = {.text = text, .len = len, .err = err};
	cJSON *root;
	int rc;

	memset(err, 0, sizeof(*err));
	if (utf8_error(&c) < 0)
		return LR_EPARSE;
	root = cJSON_ParseWithLength(text, len);
	if (!root)
		return syntax_error(&c);
	c.b = lr_table_builder_new();
	if (!c.b) {
		cJSON_Delete(root);
		return LR_ENOMEM;
	}
	rc = parse_top(&c, root);
	if (rc == 0)
		rc = finish(&c, root, blob, blen);
	if (rc == LR_ETOOBIG)
		snprintf(err->msg, sizeof(err->msg), "the compiled table exceeds %u bytes", LR_TABLE_MAX_SIZE);
	lr_catalog_free(&c.cat);
	lr_table_builder_free(c.b);
	cJSON_Delete(root);
	return rc;
}

int lr_rules_check_route(const char *json, lr_rules_error *err)
{
	ctx c = {.text = json, .len = strlen(json), .err = err};
	cJSON *root;
	int rc;

	memset(err, 0, sizeof(*err));
	if (utf8_error(&c) < 0)
		return LR_EPARSE;
	root = cJSON_Parse(json);
	if (!root)
		return syntax_error(&c);
	c.b = lr_table_builder_new();
	rc = c.b ? parse_route(&c, root) : LR_ENOMEM;
	lr_table_builder_free(c.b);
	cJSON_Delete(root);
	return rc;
}
