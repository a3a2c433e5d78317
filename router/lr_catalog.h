/*
 * lr_catalog.h - a price catalogue in LiteLLM's format, read for the rules.
 *
 * LiteLLM's model_prices_and_context_window.json is the price list users
 * already keep up to date: one JSON object keyed by model name, each value
 * an object with (among many others) input_cost_per_token,
 * output_cost_per_token, cache_read_input_token_cost,
 * cache_creation_input_token_cost (USD per token), max_input_tokens,
 * max_tokens, litellm_provider and mode.  Its "sample_spec" entry documents
 * the format and is skipped.
 *
 * What is read, per model:
 *   input_cost_per_token              required: a model without it (an
 *                                     image or audio model priced otherwise)
 *                                     is skipped and counted in `skipped`;
 *   output_cost_per_token             0 when absent;
 *   cache_read_input_token_cost,
 *   cache_creation_input_token_cost   the input rate when absent;
 *   max_input_tokens, else max_tokens the context window, 0 when absent.
 * Every other field is ignored; null counts as absent.  Prices become USD
 * per million tokens.
 *
 * Strict, since the file comes from outside: the whole file is refused,
 * with a message naming the model and the field, when it is not UTF-8 JSON,
 * not an object of objects, larger than LR_CATALOG_MAX_BYTES, has more
 * than LR_CATALOG_MAX_MODELS entries, names a model twice, has a model name
 * that is empty, over 255 bytes or with control characters, or a field
 * above of the wrong type, negative or absurd (a price above 1 USD per
 * token, a window above 1e10 tokens).  Tiered prices (above 128k or 200k
 * tokens), batch, priority and per-second or per-image prices are not read.
 *
 * Read with lr_json (no tree: the file is walked in place, so a hostile
 * one costs its bytes and the entries kept, nothing more).  Used by the
 * rules compiler (lr_rules.c), which copies the entries into the table;
 * the shim only reads them there (lr_price_lookup).
 */
#ifndef LR_CATALOG_H
#define LR_CATALOG_H
#include <stddef.h>
#include "lr_price.h"

#define LR_CATALOG_MAX_BYTES (32u << 20)
#define LR_CATALOG_MAX_MODELS 20000u

typedef struct {
	char *model;
	lr_price price;
	double context_window;  /* tokens; 0: unknown */
} lr_catalog_entry;

typedef struct {
	lr_catalog_entry *v;    /* sorted by strcmp of model, each model once */
	size_t n;
	size_t skipped;         /* entries without a token price (and sample_spec) */
} lr_catalog;

/* Parses len bytes of text into *c (emptied first; lr_catalog_free it
 * whatever the result).  Returns 0; LR_EPARSE (not UTF-8 JSON),
 * LR_EINVAL (a value or the structure is wrong), LR_ETOOBIG (past the
 * caps) with a message in err (cap bytes); or LR_ENOMEM. */
int lr_catalog_parse(const char *text, size_t len, lr_catalog *c, char *err, size_t cap);

/* Reads the regular file at path (nothing else: no FIFO or device, no
 * file past LR_CATALOG_MAX_BYTES) and parses it.  Same returns, and
 * LR_EIO with the reason when it cannot be read. */
int lr_catalog_load(const char *path, lr_catalog *c, char *err, size_t cap);

/* The entry for exactly `model`, or NULL. */
const lr_catalog_entry *lr_catalog_find(const lr_catalog *c, const char *model);

void lr_catalog_free(lr_catalog *c);

#endif
