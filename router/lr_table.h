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
 *   - field and operator codes are ones this build knows.
 * The layout version changes whenever any of this does.  The blob also
 * carries the rules as canonical JSON (for `show` and edits); the shim never
 * parses it.
 */
#ifndef LR_TABLE_H
#define LR_TABLE_H
#include <stddef.h>
#include <stdint.h>

#define LR_TABLE_MAGIC "LRTABLE\0"
#define LR_TABLE_LAYOUT 2u
#define LR_TABLE_MAX_SIZE (16u << 20) /* hard cap on a compiled table */

/* A string in the pool: `len` bytes at `off`, NUL-terminated.  off == 0
 * means "absent" (the pool starts with one unused NUL byte). */
typedef struct {
	uint32_t off, len;
} lr_ref;

/* What a condition tests.  String fields are matched with globs. */
enum lr_field {
	LR_F_MODEL,     /* model the app asked for */
	LR_F_HOST,      /* host of the original URL (case-insensitive) */
	LR_F_OPERATION, /* chat, completions, responses, embeddings, messages, generate */
	LR_F_PROVIDER,  /* openai, anthropic, gcp.gemini, azure.ai.openai, ollama, ... */
	LR_F_PROCESS,   /* executable name of the app */
	LR_F_NSTR       /* number of string fields */
};

enum lr_op {
	LR_OP_GLOB = 1, /* string field matches the glob in `str` */
};

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
	lr_ref deny;          /* message, when LR_ROUTE_DENY */
} lr_route;

/* A price from the rules file: USD per million tokens for models matching
 * the glob. */
typedef struct {
	lr_ref glob;
	double input_per_mtok, output_per_mtok;
} lr_price_rec;

typedef struct {
	char magic[8];
	uint32_t layout;
	uint32_t size;        /* of the whole blob */
	uint32_t nroutes, routes_off;
	uint32_t nconds, conds_off;
	uint32_t pool_off, pool_len;
	uint32_t nprices, prices_off;
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
void lr_table_builder_meta(lr_table_builder *b, lr_ref audit, lr_ref source);

/* Lays the blob out.  Returns 0 and a malloc'ed blob (caller frees) in
 * *out, its size in *len; or LR_ENOMEM / LR_ETOOBIG. */
int lr_table_builder_finish(lr_table_builder *b, void **out, size_t *len);

#endif
