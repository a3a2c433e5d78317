/*
 * lr_table.h - the compiled routing table: one flat, pointer-free blob.
 *
 * `llmroutectl` compiles a rules file into this blob and publishes it in
 * shared memory (lr_shm.h); each shim process copies it out and, after
 * lr_table_validate() accepted it, reads it in place.  Everything is an
 * offset from the start of the blob, so the same bytes mean the same thing
 * in every process.  Invariants checked by lr_table_validate():
 *   - every section lies inside the blob and is aligned for its type;
 *   - every string (lr_ref) lies in the pool and is followed by a NUL, so
 *     lr_table_str() can hand out plain C strings;
 *   - every route's conditions lie inside the condition array;
 *   - field and operator codes are ones this build knows;
 *   - the route index lies inside the blob and names only routes of it.
 * The layout version changes whenever any of this does.  The blob also
 * carries the rules as canonical JSON (for `show` and edits); the shim never
 * parses it.
 */
#ifndef LR_TABLE_H
#define LR_TABLE_H
#include <stddef.h>
#include <stdint.h>

#define LR_TABLE_MAGIC "LRTABLE\0"
#define LR_TABLE_LAYOUT 12u
#define LR_TABLE_MAX_SIZE (16u << 20) /* hard cap on a compiled table */

/* A string in the pool: `len` bytes at `off`, NUL-terminated.  off == 0
 * means "absent" (the pool starts with one unused NUL byte). */
typedef struct {
	uint32_t off, len;
} lr_ref;

/* What a condition tests.  String fields are matched with globs, numeric
 * ones (from LR_F_NUM on) compared with `num`; booleans are numbers 0/1. */
enum lr_field {
	LR_F_MODEL,     /* model the app asked for */
	LR_F_HOST,      /* host of the original URL (case-insensitive) */
	LR_F_OPERATION, /* chat, completions, responses, embeddings, messages, generate */
	LR_F_PROVIDER,  /* openai, anthropic, gcp.gemini, azure.ai.openai, ollama, ... */
	LR_F_PROCESS,   /* executable name of the app */
	LR_F_INTENT,    /* the request's intent (lr_intent.h), "" if none */
	LR_F_USER_TEXT, /* the last user message, text only (case-insensitive) */
	LR_F_SYSTEM_TEXT, /* the system prompt, text only (case-insensitive) */
	LR_F_NSTR,      /* number of string fields */
	LR_F_NUM = 32,  /* numeric fields from here */
	LR_F_PROMPT_TOKENS = LR_F_NUM, /* estimated prompt tokens */
	LR_F_MAX_TOKENS,   /* max_tokens / max_output_tokens asked, -1 if none */
	LR_F_STREAM,       /* 0/1: a streamed answer is asked */
	LR_F_TOOLS,        /* 0/1: tools or functions are offered */
	LR_F_IMAGES,       /* 0/1: the input has images */
	LR_F_JSON,         /* 0/1: JSON / structured output is asked */
	LR_F_MESSAGES,     /* number of messages (or input items) */
	LR_F_INTENT_CONFIDENCE, /* 0..1, 0 when there is no intent */
	LR_F_TEMPERATURE,  /* temperature asked, -1 if none */
	LR_F_PII,          /* bit mask of the detectors that fired (1 << LR_GK_*, lr_guard.h) */
	LR_F_NUM_END
};
#define LR_F_NNUM (LR_F_NUM_END - LR_F_NUM)

enum lr_op {
	LR_OP_GLOB = 1, /* string field matches the glob in `str` */
	LR_OP_GT, LR_OP_GE, LR_OP_LT, LR_OP_LE, LR_OP_EQ, /* numeric field vs `num` */
	LR_OP_ANY,  /* a bit mask field shares a bit with `num` */
	LR_OP_NONE, /* ... shares none */
};

/* An intent: named class of requests, recognised by its terms. */
enum lr_intent_flags {
	LR_INTENT_SYSTEM = 1u << 0, /* the terms also look at the system prompt */
};
enum lr_term_kind {
	LR_TERM_KEYWORD = 1, /* a word or phrase, case-insensitive, at word bounds */
	LR_TERM_REGEX = 2,   /* a POSIX extended regular expression, case-insensitive */
};
typedef struct {
	lr_ref name;
	uint32_t flags;
	uint32_t term_first, term_count;
	uint32_t reserved;
	double min_quality;     /* a pool target below this quality is dropped */
} lr_intent_rec;

/* A target of the model catalogue: a model at an endpoint, what it costs,
 * how much it takes, and how good it is per intent (0..1, operator-set). */
enum lr_target_flags { LR_TARGET_KEEP_CREDENTIALS = 1u << 0 };
typedef struct {
	lr_ref name, model, endpoint, ep_scheme, ep_host, ep_base, key_env;
	uint32_t ep_port, flags;
	uint32_t format, reserved;              /* its API format (LR_XF_*, lr_xlate.h); 0: the app's */
	double input_per_mtok, output_per_mtok; /* < 0: unknown */
	double cache_read_per_mtok, cache_write_per_mtok; /* < 0: the input rate */
	double context_window;                  /* tokens; 0: unknown */
	double quality;                         /* for intents not listed */
	uint32_t q_first, q_count;              /* lr_quality_rec */
} lr_target_rec;
typedef struct {
	lr_ref intent;
	double value;
} lr_quality_rec;
/* One member of a route's pool. */
typedef struct {
	uint32_t target, reserved;
	double weight;          /* multiplies the target's quality */
} lr_pool_rec;

/* A step of a route's resilience chain: a target tried when the one
 * before failed (fallback), answered poorly (escalation) or said the
 * request is too long for its context window (context).  target is a
 * target index, or LR_TARGET_ORIGINAL: the request as the app made it. */
#define LR_TARGET_ORIGINAL 0xFFFFFFFFu
#define LR_MAX_CHAIN 8 /* fallbacks, escalations, and context targets, per route */
enum lr_chain_kind { LR_CHAIN_FALLBACK, LR_CHAIN_ESCALATE, LR_CHAIN_CONTEXT };
/* What a route does when a target says the request is too long for it. */
enum lr_context_mode {
	LR_CONTEXT_NONE,   /* the 400 goes to the app as it came */
	LR_CONTEXT_LIST,   /* its context targets, in order */
	LR_CONTEXT_LARGER, /* the route's own targets with a larger window, smallest first */
};
/* A stream cut or stalled after text reached the app (lr_splice.h). */
enum lr_continue {
	LR_CONTINUE_NEXT,  /* the next step continues the answer (the default) */
	LR_CONTINUE_SAME,  /* the same target first, then the next steps */
	LR_CONTINUE_OFF,   /* the cut is the app's, as without the shim */
};
#define LR_RETRIES_MAX 5
#define LR_BACKOFF_MAX_MS 10000u /* a back-off wait never passes this */
typedef struct {
	uint32_t target, reserved;
} lr_chain_rec;

/* What a daily budget counts. */
enum lr_budget_per { LR_BUDGET_NONE, LR_BUDGET_ROUTE, LR_BUDGET_PROCESS, LR_BUDGET_MODEL };
typedef struct {
	uint32_t kind, reserved;
	lr_ref str;
} lr_term_rec;

/* What a table makes the transports compute per request (set by the
 * builder from the routes, so a table without policy costs nothing for it). */
enum lr_table_needs {
	LR_NEED_FEATURES = 1u << 0,    /* texts and numbers (lr_extract.h) */
	LR_NEED_DAY_ROUTE = 1u << 1,   /* day spend per route, process, model (budgets) */
	LR_NEED_DAY_PROCESS = 1u << 2,
	LR_NEED_DAY_MODEL = 1u << 3,
	LR_NEED_GUARD = 1u << 4,       /* the detectors (lr_guard.h): a pii condition or a redaction */
};

/* A request parameter a route sets or caps, or a system instruction it
 * prepends (key absent, raw the instruction text). */
enum lr_param_op { LR_PARAM_SET = 1, LR_PARAM_CAP = 2, LR_PARAM_SYSTEM_PREFIX = 3 };
typedef struct {
	uint32_t op, reserved;
	lr_ref key;             /* top-level member name */
	lr_ref raw;             /* SET/CAP: the value as JSON text; SYSTEM_PREFIX: plain text */
} lr_param_rec;

typedef struct {
	uint16_t field, op;
	uint32_t reserved;
	lr_ref str;
	double num;
} lr_cond;

enum lr_route_flags {
	LR_ROUTE_ENABLED = 1u << 0,
	LR_ROUTE_DENY = 1u << 1,
	LR_ROUTE_KEEP_CREDENTIALS = 1u << 2,
	LR_ROUTE_RETRIES = 1u << 3, /* "retries" was given (> 0): resilient for it alone */
	LR_ROUTE_STREAM_HOLD = 1u << 4, /* "stream_hold": a stream is held until complete */
	LR_ROUTE_FORMAT_DROP = 1u << 5, /* "format_drop": a translated request drops what its
					 * target cannot honour instead of being refused */
	LR_ROUTE_BUDGET_FLEET = 1u << 6, /* the budget's "scope": "fleet": spent and checked
					  * against the rules' "fleet" Redis (shim/lr_fleet.h) */
};

typedef struct {
	lr_ref name;
	uint32_t flags;
	uint32_t cond_first, cond_count;
	lr_ref set_model;
	lr_ref set_endpoint;  /* as written: scheme://host[:port][/base] */
	lr_ref ep_scheme, ep_host, ep_base; /* endpoint, split once at compile time */
	uint32_t ep_port;
	lr_ref set_key_env;   /* name of an environment variable, never a key */
	uint32_t format;      /* the endpoint's API format (LR_XF_*, lr_xlate.h); 0: the app's */
	uint32_t reserved_fmt;
	lr_ref deny;          /* message, when LR_ROUTE_DENY */
	uint32_t param_first, param_count; /* request parameter edits (lr_param_rec) */
	uint32_t pool_first, pool_count;   /* a pool of targets instead of one (lr_pool_rec) */
	double w_quality, w_cost, w_latency; /* how a pool's candidates are scored */
	double expected_output;            /* output tokens assumed when max_tokens is absent */
	double budget_usd;                 /* per day; 0: none */
	uint32_t budget_per;               /* enum lr_budget_per */
	int32_t budget_target;             /* over budget: this target (index), or -1 */
	lr_ref budget_deny;                /* over budget and no target: deny with this */
	/* resilience (lr_resil in the shim): chain records at chain_first,
	 * fallbacks first, then escalation targets, then context targets */
	uint32_t chain_first, fallback_count, escalate_count, context_count;
	uint32_t context_mode;             /* enum lr_context_mode */
	uint32_t retries;                  /* same-target retries after a failure (0..LR_RETRIES_MAX) */
	uint32_t retry_backoff_ms;         /* the first back-off's ceiling; doubles per retry */
	uint32_t escalate_when;            /* LR_GATE_* conditions (lr_answer.h) */
	lr_ref escalate_refusal;           /* ERE for refusals; absent: the default */
	uint32_t timeout_ms;               /* an attempt with no answer head by then fails; 0: none */
	uint32_t retry_after_max_ms;       /* a Retry-After up to this is waited for, then the same target again */
	uint32_t first_token_ms;           /* answer head to first body byte (a stream: first data event); 0: none */
	uint32_t idle_ms;                  /* longest gap between a stream's body chunks; 0: none */
	uint32_t stream_continue;          /* enum lr_continue: a stream cut after text reached the app */
	uint32_t cache_ttl_s;              /* 0: answers are not cached */
	double cache_max_temperature;      /* cache only if temperature <= this; < 0: any request */
	uint32_t unsure_route;             /* "when_unsure": 1 + the index of the route that takes a
					    * request this one would take but for its intent_confidence;
					    * 0: none */
	uint32_t guard_redact;             /* "guard": {"redact": ...}: kinds (1 << LR_GK_*) replaced by
					    * placeholders before the request leaves; 0: none */
} lr_route;

/* A price: USD per million tokens.  In the rules' "prices" section, for
 * models matching the glob; in the catalogue (the rules' "prices_file"),
 * for exactly the model named by glob, the records sorted by strcmp of
 * their names, each name once (lr_price_catalog_find searches them). */
typedef struct {
	lr_ref glob;
	double input_per_mtok, output_per_mtok;
	double cache_read_per_mtok, cache_write_per_mtok; /* < 0: the input rate */
	double context_window;                  /* tokens; 0: unknown */
} lr_price_rec;

typedef struct {
	char magic[8];
	uint32_t layout;
	uint32_t size;        /* of the whole blob */
	uint32_t nroutes, routes_off;
	uint32_t nconds, conds_off;
	uint32_t pool_off, pool_len;
	uint32_t nprices, prices_off;
	uint32_t ncatalog, catalog_off;  /* lr_price_rec, sorted by name */
	uint32_t nintents, intents_off;
	uint32_t nterms, terms_off;
	uint32_t nparams, params_off;
	uint32_t ntargets, targets_off;
	uint32_t nqualities, qualities_off;
	uint32_t npools, pools_off;
	uint32_t needs;                  /* LR_NEED_*: what requests must carry for this table */
	uint32_t clf_classes, clf_dim;   /* learned intents (lr_classify.h); 0 classes: none */
	uint32_t clf_names_off;          /* lr_ref[clf_classes]: the intents */
	uint32_t clf_weights_off;        /* float[clf_dim][clf_classes], then float bias[clf_classes] */
	uint32_t clf_flags;              /* LR_CLF_* feature flags */
	float clf_temp;                  /* calibration temperature, > 0 (1: none) */
	uint32_t nchains, chains_off;    /* lr_chain_rec */
	uint32_t health_failures;        /* failures in a row that take a target out */
	uint32_t health_cooldown_s;      /* for at most this long: */
	uint32_t health_cooldown_min_s;  /* the first cool-down; each one in a row doubles */
	uint32_t cache_size_mb;          /* the response cache segment's size */
	uint32_t cache_max_entry_kb;     /* larger answers are not cached */
	uint32_t idx_nbuckets, idx_off;  /* the route index (lr_route_index.h); 0 buckets: none */
	/* "fleet": the Redis the hosts share budgets and health through.  Never
	 * a password: only the name of the variable that holds it. */
	lr_ref fleet_host;               /* absent: no fleet */
	uint32_t fleet_port, fleet_db;
	lr_ref fleet_prefix;             /* key prefix, "llmroute:" by default */
	lr_ref fleet_password_env;       /* absent: no AUTH */
	uint32_t fleet_refresh_ms;       /* flush and refresh period */
	uint32_t fleet_tls;              /* 1: rediss://, TLS with the server's certificate checked */
	lr_ref fleet_ca_file;            /* absent: the system's trust (only with fleet_tls) */
	lr_ref audit;         /* audit file from the rules, may be absent */
	lr_ref source;        /* canonical JSON of the rules */
} lr_table;

/* --- reading ----------------------------------------------------------- */

/* Checks every invariant above on `len` bytes at `blob` (8-byte aligned).
 * Returns 0, LR_EVERSION (magic or layout unknown) or LR_ECORRUPT. */
int lr_table_validate(const void *blob, size_t len);

/* The NUL-terminated string for `r`, or NULL when absent.  Only for
 * validated tables. */
static inline const char *lr_table_str(const lr_table *t, lr_ref r)
{
	return r.off ? (const char *)t + t->pool_off + r.off : NULL;
}

static inline const lr_route *lr_table_routes(const lr_table *t)
{
	return (const lr_route *)((const char *)t + t->routes_off);
}

static inline const lr_cond *lr_table_conds(const lr_table *t)
{
	return (const lr_cond *)((const char *)t + t->conds_off);
}

static inline const lr_price_rec *lr_table_prices(const lr_table *t)
{
	return (const lr_price_rec *)((const char *)t + t->prices_off);
}

static inline const lr_price_rec *lr_table_catalog(const lr_table *t)
{
	return (const lr_price_rec *)((const char *)t + t->catalog_off);
}

static inline const lr_intent_rec *lr_table_intents(const lr_table *t)
{
	return (const lr_intent_rec *)((const char *)t + t->intents_off);
}

static inline const lr_term_rec *lr_table_terms(const lr_table *t)
{
	return (const lr_term_rec *)((const char *)t + t->terms_off);
}

static inline const lr_param_rec *lr_table_params(const lr_table *t)
{
	return (const lr_param_rec *)((const char *)t + t->params_off);
}

static inline const lr_target_rec *lr_table_targets(const lr_table *t)
{
	return (const lr_target_rec *)((const char *)t + t->targets_off);
}

static inline const lr_quality_rec *lr_table_qualities(const lr_table *t)
{
	return (const lr_quality_rec *)((const char *)t + t->qualities_off);
}

static inline const lr_pool_rec *lr_table_pools(const lr_table *t)
{
	return (const lr_pool_rec *)((const char *)t + t->pools_off);
}

static inline const lr_chain_rec *lr_table_chains(const lr_table *t)
{
	return (const lr_chain_rec *)((const char *)t + t->chains_off);
}

static inline const lr_ref *lr_table_clf_names(const lr_table *t)
{
	return (const lr_ref *)((const char *)t + t->clf_names_off);
}

static inline const float *lr_table_clf_weights(const lr_table *t)
{
	return (const float *)((const char *)t + t->clf_weights_off);
}

/* Index of the target called `name`, or LR_ENOTFOUND. */
int lr_table_find_target(const lr_table *t, const char *name);

/* Index of the route called `name`, or LR_ENOTFOUND. */
int lr_table_find(const lr_table *t, const char *name);

/* --- building (llmroutectl, tests) -------------------------------------- */

typedef struct lr_table_builder lr_table_builder;

/* Returns a new builder or NULL on allocation failure. */
lr_table_builder *lr_table_builder_new(void);
void lr_table_builder_free(lr_table_builder *b);

/* Interns a string in the pool.  Returns its ref; on allocation failure the
 * builder remembers the error and lr_table_builder_finish() reports it. */
lr_ref lr_table_builder_str(lr_table_builder *b, const char *s);

/* Appends a route / a condition of the route added last.  Returns 0 or
 * LR_ENOMEM / LR_ETOOBIG. */
int lr_table_builder_route(lr_table_builder *b, const lr_route *r);
int lr_table_builder_cond(lr_table_builder *b, const lr_cond *c);
int lr_table_builder_price(lr_table_builder *b, const lr_price_rec *p);
/* A catalogue record; they must come in strictly increasing strcmp order
 * of their names, else LR_EINVAL. */
int lr_table_builder_catalog(lr_table_builder *b, const lr_price_rec *p);
/* A parameter edit of the route added last. */
int lr_table_builder_param(lr_table_builder *b, const lr_param_rec *p);
/* An intent, then its terms (a term belongs to the intent added last). */
int lr_table_builder_intent(lr_table_builder *b, const lr_intent_rec *in);
int lr_table_builder_term(lr_table_builder *b, const lr_term_rec *tm);
/* A target, then its qualities; a pool member of the route added last. */
int lr_table_builder_target(lr_table_builder *b, const lr_target_rec *tg);
int lr_table_builder_quality(lr_table_builder *b, const lr_quality_rec *q);
int lr_table_builder_pool(lr_table_builder *b, const lr_pool_rec *p);
void lr_table_builder_meta(lr_table_builder *b, lr_ref audit, lr_ref source);
/* A chain step of the route added last (kind: enum lr_chain_kind):
 * fallbacks first, then escalations, then context targets. */
int lr_table_builder_chain(lr_table_builder *b, uint32_t target, int kind);
/* Table-wide resilience settings (0: the defaults). */
void lr_table_builder_resil(lr_table_builder *b, uint32_t health_failures, uint32_t cooldown_s,
			    uint32_t cache_size_mb, uint32_t cache_max_entry_kb);
/* The rules' "fleet" (lr_table fields of the same names). */
void lr_table_builder_fleet(lr_table_builder *b, lr_ref host, uint32_t port, uint32_t db, lr_ref prefix,
			    lr_ref password_env, uint32_t refresh_ms);
/* The fleet's Redis over TLS (rediss://), its CA file (absent: the system's). */
void lr_table_builder_fleet_tls(lr_table_builder *b, uint32_t tls, lr_ref ca_file);
/* The first cool-down of a target (0: the default, 5 s or cooldown_s if shorter). */
void lr_table_builder_cooldown_min(lr_table_builder *b, uint32_t cooldown_min_s);

/* The learned classifier: dim buckets (a power of two), n classes named
 * names[], weights [dim][n] then bias [n] (copied).  Returns 0 or
 * LR_EINVAL / LR_ENOMEM. */
int lr_table_builder_classifier(lr_table_builder *b, uint32_t dim, uint32_t n, const char *const *names,
				const float *weights, const float *bias);
/* Its feature flags (LR_CLF_*) and calibration temperature (finite, > 0);
 * without this call: 0 and 1. */
void lr_table_builder_classifier_calib(lr_table_builder *b, uint32_t flags, float temp);

/* Route `index` (added) hands its uncertain requests to route `to`
 * ("when_unsure").  Returns 0 or LR_EINVAL. */
int lr_table_builder_route_unsure(lr_table_builder *b, uint32_t index, uint32_t to);

/* Index of a target added so far, by name, or LR_ENOTFOUND. */
int lr_table_builder_find_target(const lr_table_builder *b, const char *name);

/* Lays the blob out.  Returns 0 and a malloc'ed blob (caller frees) in
 * *out, its size in *len; or LR_ENOMEM / LR_ETOOBIG. */
int lr_table_builder_finish(lr_table_builder *b, void **out, size_t *len);

#endif
