/*
 * lr_price.h - what a model's tokens cost.
 *
 * Prices are USD per million tokens: input, output, and the two rates of
 * cached prompt tokens (a cache read, a cache write), each < 0 when not
 * known, in which case those tokens cost the input rate.  A model's price
 * is looked up in this order, the first match winning:
 *   1. the rules file's own "prices" (globs, in file order);
 *   2. the price catalogue named by the rules' "prices_file" (a LiteLLM
 *      model_prices_and_context_window.json, compiled into the table as
 *      exact model names, sorted: a binary search);
 *   3. the built-in list of current models (lr_price_builtin, globs).
 * A model found in none has no price: its cost is unknown, not 0.
 *
 * Token counts follow OpenAI: `input` counts every prompt token, cached or
 * not, and cache_read / cache_write say how many of them were read from or
 * written to the provider's prompt cache (lr_usage.h makes every format
 * say so).
 */
#ifndef LR_PRICE_H
#define LR_PRICE_H
#include <stddef.h>
#include "lr_table.h"

typedef struct {
	double input_per_mtok, output_per_mtok;
	double cache_read_per_mtok, cache_write_per_mtok; /* < 0: the input rate */
} lr_price;

typedef struct {
	const char *glob;
	lr_price price;
} lr_price_entry;

/* The tokens of one call; negative counts count as 0. */
typedef struct {
	long long input, output;   /* input: all prompt tokens, cached ones too */
	long long cache_read, cache_write; /* of input */
} lr_tokens;

/* Looks up `model` in table t (may be NULL), then in the built-in list.
 * Returns 0 with *p filled, or LR_ENOTFOUND. */
int lr_price_lookup(const lr_table *t, const char *model, lr_price *p);

/* The catalogue record of table t for exactly `model`, or NULL. */
const lr_price_rec *lr_price_catalog_find(const lr_table *t, const char *model);

/* Cost in USD of in/out tokens at price p, none of them cached. */
double lr_price_cost(const lr_price *p, long long in, long long out);

/* Cost in USD of the tokens k at price p: cache reads and writes at their
 * own rates, the rest of the input at the input rate.  Cached counts
 * larger than the input are cut to it (the input is never priced below
 * zero tokens). */
double lr_price_cost_tokens(const lr_price *p, const lr_tokens *k);

/* The price of record r (rules or catalogue). */
lr_price lr_price_of_rec(const lr_price_rec *r);

/* The built-in list and its length. */
const lr_price_entry *lr_price_builtin(size_t *n);

/* As published by the providers, checked on this date (the list's age). */
#define LR_PRICE_BUILTIN_DATE "2025-11"

#endif
