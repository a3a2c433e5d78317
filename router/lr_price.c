/*
 * lr_price.c - model prices (see lr_price.h).
 *
 * The built-in list holds the public list prices (USD per million tokens,
 * standard tier, prompts up to 200k tokens) of the current OpenAI,
 * Anthropic and Google models, as published by the providers and checked
 * in LR_PRICE_BUILTIN_DATE; more specific globs come first because the
 * first match wins.  Cache reads are the providers' cached-input rates;
 * cache writes are Anthropic's 5-minute cache writes (1.25 x input); OpenAI
 * and Gemini charge no write surcharge (-1: the input rate).  Operators
 * override any of them in the routes file or with a price catalogue.
 */
#include "lr_price.h"
#include "lr_error.h"
#include "lr_glob.h"

#include <string.h>

#define NONE (-1.0)

static const lr_price_entry builtin[] = {
	/* OpenAI */
	{"gpt-5-nano*", {0.05, 0.40, 0.005, NONE}},
	{"gpt-5-mini*", {0.25, 2.00, 0.025, NONE}},
	{"gpt-5-pro*", {15.00, 120.00, NONE, NONE}},
	{"gpt-5.1-codex-mini*", {0.25, 2.00, 0.025, NONE}},
	{"gpt-5*", {1.25, 10.00, 0.125, NONE}}, /* gpt-5, gpt-5.1, -codex, -chat-latest */
	{"gpt-4.1-nano*", {0.10, 0.40, 0.025, NONE}},
	{"gpt-4.1-mini*", {0.40, 1.60, 0.10, NONE}},
	{"gpt-4.1*", {2.00, 8.00, 0.50, NONE}},
	{"gpt-4o-mini*", {0.15, 0.60, 0.075, NONE}},
	{"gpt-4o*", {2.50, 10.00, 1.25, NONE}},
	{"gpt-4-turbo*", {10.00, 30.00, NONE, NONE}},
	{"gpt-4*", {30.00, 60.00, NONE, NONE}},
	{"gpt-3.5-turbo*", {0.50, 1.50, NONE, NONE}},
	{"o1-pro*", {150.00, 600.00, NONE, NONE}},
	{"o1-mini*", {1.10, 4.40, 0.55, NONE}},
	{"o1*", {15.00, 60.00, 7.50, NONE}},
	{"o3-pro*", {20.00, 80.00, NONE, NONE}},
	{"o3-deep-research*", {10.00, 40.00, 2.50, NONE}},
	{"o3-mini*", {1.10, 4.40, 0.55, NONE}},
	{"o3*", {2.00, 8.00, 0.50, NONE}},
	{"o4-mini-deep-research*", {2.00, 8.00, 0.50, NONE}},
	{"o4-mini*", {1.10, 4.40, 0.275, NONE}},
	{"text-embedding-3-small*", {0.02, 0.00, NONE, NONE}},
	{"text-embedding-3-large*", {0.13, 0.00, NONE, NONE}},
	{"text-embedding-ada-002*", {0.10, 0.00, NONE, NONE}},
	/* Anthropic: cache read 0.1 x input, 5-minute cache write 1.25 x input */
	{"claude-opus-4-5*", {5.00, 25.00, 0.50, 6.25}},
	{"claude-opus-4*", {15.00, 75.00, 1.50, 18.75}}, /* 4, 4.1 */
	{"claude-sonnet-4*", {3.00, 15.00, 0.30, 3.75}}, /* 4, 4.5 */
	{"claude-haiku-4*", {1.00, 5.00, 0.10, 1.25}},   /* 4.5 */
	{"claude-3-5-haiku*", {0.80, 4.00, 0.08, 1.00}},
	{"claude-3-haiku*", {0.25, 1.25, 0.03, 0.30}},
	{"claude-*sonnet*", {3.00, 15.00, 0.30, 3.75}},  /* 3.7, 3.5 */
	{"claude-*opus*", {15.00, 75.00, 1.50, 18.75}},  /* 3 */
	/* Google Gemini API, paid tier, prompts up to 200k tokens */
	{"gemini-3-pro*", {2.00, 12.00, 0.20, NONE}},
	{"gemini-2.5-flash-lite*", {0.10, 0.40, 0.01, NONE}},
	{"gemini-2.5-flash*", {0.30, 2.50, 0.03, NONE}},
	{"gemini-2.5-pro*", {1.25, 10.00, 0.125, NONE}},
	{"gemini-2.0-flash-lite*", {0.075, 0.30, NONE, NONE}},
	{"gemini-2.0-flash*", {0.10, 0.40, 0.025, NONE}},
	{"gemini-1.5-flash*", {0.075, 0.30, 0.01875, NONE}},
	{"gemini-1.5-pro*", {1.25, 5.00, 0.3125, NONE}},
};

const lr_price_entry *lr_price_builtin(size_t *n)
{
	*n = sizeof(builtin) / sizeof(builtin[0]);
	return builtin;
}

lr_price lr_price_of_rec(const lr_price_rec *r)
{
	lr_price p = {r->input_per_mtok, r->output_per_mtok, r->cache_read_per_mtok,
		      r->cache_write_per_mtok};
	return p;
}

const lr_price_rec *lr_price_catalog_find(const lr_table *t, const char *model)
{
	const lr_price_rec *v = t ? lr_table_catalog(t) : NULL;
	size_t lo = 0, hi = t ? t->ncatalog : 0, mid;
	int c;

	while (model && lo < hi) { /* the validator checked the order */
		mid = lo + (hi - lo) / 2;
		c = strcmp(model, lr_table_str(t, v[mid].glob));
		if (c == 0)
			return &v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int lr_price_lookup(const lr_table *t, const char *model, lr_price *p)
{
	size_t i, n = strlen(model ? model : "");
	const lr_price_rec *r;

	if (!model || !*model)
		return LR_ENOTFOUND;
	for (i = 0; t && i < t->nprices; i++) {
		r = &lr_table_prices(t)[i];
		if (lr_glob_match(lr_table_str(t, r->glob), model, n, 0)) {
			*p = lr_price_of_rec(r);
			return 0;
		}
	}
	if ((r = lr_price_catalog_find(t, model))) {
		*p = lr_price_of_rec(r);
		return 0;
	}
	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		if (lr_glob_match(builtin[i].glob, model, n, 0)) {
			*p = builtin[i].price;
			return 0;
		}
	}
	return LR_ENOTFOUND;
}

static double count(long long n)
{
	return n > 0 ? (double)n : 0;
}

double lr_price_cost(const lr_price *p, long long in, long long out)
{
	lr_tokens k = {in, out, 0, 0};

	return lr_price_cost_tokens(p, &k);
}

double lr_price_cost_tokens(const lr_price *p, const lr_tokens *k)
{
	double in = count(k->input), rd = count(k->cache_read), wr = count(k->cache_write);
	double rd_rate = p->cache_read_per_mtok >= 0 ? p->cache_read_per_mtok : p->input_per_mtok;
	double wr_rate = p->cache_write_per_mtok >= 0 ? p->cache_write_per_mtok : p->input_per_mtok;

	if (rd > in)
		rd = in;
	if (wr > in - rd)
		wr = in - rd;
	return ((in - rd - wr) * p->input_per_mtok + rd * rd_rate + wr * wr_rate +
		count(k->output) * p->output_per_mtok) / 1e6;
}
