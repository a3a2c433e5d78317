/*
 * lr_price.h - what a model's tokens cost.
 *
 * Prices are USD per million tokens, input and output.  The routes file may
 * give its own ("prices": {"GLOB": {"input_per_mtok": X,
 * "output_per_mtok": Y}}), compiled into the table and tried first, in file
 * order; then the built-in list of common models (lr_price_builtin) is
 * tried.  A model found in neither has no price: its cost is unknown, not 0.
 */
#ifndef LR_PRICE_H
#define LR_PRICE_H
#include <stddef.h>
#include "lr_table.h"

typedef struct {
	double input_per_mtok, output_per_mtok;
} lr_price;

typedef struct {
	const char *glob;
	lr_price price;
} lr_price_entry;

/* Looks up `model` in table t (may be NULL), then in the built-in list.
 * Returns 0 with *p filled, or LR_ENOTFOUND. */
int lr_price_lookup(const lr_table *t, const char *model, lr_price *p);

/* Cost in USD of in/out tokens at price p (negative counts count as 0). */
double lr_price_cost(const lr_price *p, long long in, long long out);

/* The built-in list and its length. */
const lr_price_entry *lr_price_builtin(size_t *n);

#endif
