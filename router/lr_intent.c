/*
 * lr_intent.c - rule-based intents (see lr_intent.h).
 */
#include "lr_intent.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

struct lr_intent_cache {
	uint32_t n;
	regex_t *re;     /* one per term; used only for LR_TERM_REGEX */
	char *ok;        /* re[i] compiled */
};

lr_intent_cache *lr_intent_cache_new(const lr_table *t)
{
	lr_intent_cache *c = calloc(1, sizeof(*c));
	const lr_term_rec *tm = lr_table_terms(t);
	uint32_t i;

	if (!c)
		return NULL;
	c->n = t->nterms;
	if (c->n && (!(c->re = calloc(c->n, sizeof(regex_t))) || !(c->ok = calloc(c->n, 1)))) {
		lr_intent_cache_free(c);
		return NULL;
	}
	for (i = 0; i < c->n; i++)
		if (tm[i].kind == LR_TERM_REGEX)
			c->ok[i] = regcomp(&c->re[i], lr_table_str(t, tm[i].str),
					   REG_EXTENDED | REG_ICASE | REG_NOSUB) == 0;
	return c;
}

void lr_intent_cache_free(lr_intent_cache *c)
{
	uint32_t i;

	if (!c)
		return;
	for (i = 0; c->ok && i < c->n; i++)
		if (c->ok[i])
			regfree(&c->re[i]);
	free(c->re);
	free(c->ok);
	free(c);
}

static int lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static int word_byte(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || (ch & 0x80);
}

int lr_intent_keyword(const char *text, size_t n, const char *kw)
{
	size_t k = strlen(kw), i, j;
	int first;

	if (!k || k > n)
		return 0;
	first = lower((unsigned char)kw[0]);
	for (i = 0; i + k <= n; i++) {
		if (lower((unsigned char)text[i]) != first)
			continue;
		for (j = 1; j < k && lower((unsigned char)text[i + j]) == lower((unsigned char)kw[j]); j++)
			;
		if (j < k)
			continue;
		/* at word bounds, where the keyword itself starts or ends a word */
		if (i > 0 && word_byte((unsigned char)kw[0]) && word_byte((unsigned char)text[i - 1]))
			continue;
		if (i + k < n && word_byte((unsigned char)kw[k - 1]) && word_byte((unsigned char)text[i + k]))
			continue;
		return 1;
	}
	return 0;
}

static int term_hits(const lr_table *t, const lr_intent_cache *c, uint32_t ti, const char *text,
		     size_t n)
{
	const lr_term_rec *tm = &lr_table_terms(t)[ti];

	if (!n)
		return 0;
	if (tm->kind == LR_TERM_KEYWORD)
		return lr_intent_keyword(text, n, lr_table_str(t, tm->str));
	return c && ti < c->n && c->ok[ti] && regexec(&c->re[ti], text, 0, NULL, 0) == 0;
}

void lr_intent_apply(const lr_table *t, const lr_intent_cache *c, lr_request *r)
{
	const lr_intent_rec *in;
	uint32_t i, k;

	if (!t || !t->nintents)
		return;
	for (i = 0; i < t->nintents; i++) {
		in = &lr_table_intents(t)[i];
		for (k = 0; k < in->term_count; k++) {
			uint32_t ti = in->term_first + k;
			if (term_hits(t, c, ti, r->x.user, r->x.user_len) ||
			    ((in->flags & LR_INTENT_SYSTEM) && term_hits(t, c, ti, r->x.system, r->x.system_len)))
				goto found;
		}
	}
	return;
found:
	strncpy(r->intent, lr_table_str(t, in->name), sizeof(r->intent) - 1);
	r->intent_confidence = 1;
	lr_features_set(&r->f, LR_F_INTENT, r->intent, strlen(r->intent));
	lr_features_num(&r->f, LR_F_INTENT_CONFIDENCE, 1);
}
