/*
 * lr_phrasing.c - grouping examples by phrasing (see lr_phrasing.h).
 */
#include "lr_phrasing.h"
#include "lr_error.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	uint64_t h;    /* word hash; 0: empty slot */
	int df, last;  /* lines holding it; the last line counted */
} word_ent;

typedef struct {
	uint64_t key;  /* phrasing hash, mixed with the intent */
	int label, idx;
} group_ent;

static int word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Calls fn for each word of s, by its FNV-1a hash (never 0). */
static void each_word(const char *s, void (*fn)(void *, uint64_t), void *arg)
{
	while (*s) {
		uint64_t h = 0xcbf29ce484222325ULL;
		while (*s && !word_byte((unsigned char)*s))
			s++;
		if (!*s)
			break;
		for (; *s && word_byte((unsigned char)*s); s++) {
			unsigned char c = (unsigned char)*s;
			h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32u : c)) * 0x100000001b3ULL;
		}
		fn(arg, h | 1);
	}
}

typedef struct {
	word_ent *tab;
	size_t mask;
	int line, label, min_df, stopped;
	uint64_t key;
	uint64_t stop[16];
	int nstop;
} ctx;

/* Words are counted per intent: a subject word of one intent may be a
 * phrasing word of another ("define" in "define a hash table"). */
static word_ent *slot(ctx *c, uint64_t h)
{
	size_t i;

	h = (h ^ (uint64_t)(unsigned)c->label * 0xff51afd7ed558ccdULL) | 1;
	i = (size_t)(h * 0x9e3779b97f4a7c15ULL >> 20) & c->mask;

	while (c->tab[i].h && c->tab[i].h != h)
		i = (i + 1) & c->mask;
	if (!c->tab[i].h) { /* a new word (key_word only asks for counted ones) */
		c->tab[i].h = h;
		c->tab[i].last = -1;
	}
	return &c->tab[i];
}

static void count_word(void *arg, uint64_t h)
{
	ctx *c = arg;
	word_ent *e = slot(c, h);

	if (e->last != c->line) { /* a word counts once per line */
		e->df++;
		e->last = c->line;
	}
}

/* The common words before the first rare one, in order, make the
 * phrasing: after the subject starts, a word common in the intent may
 * still be the subject's ("file" in "parse a CSV file").  Function words
 * are skipped (they come and go with the subject: "a monad", "the
 * report"). */
static void key_word(void *arg, uint64_t h)
{
	ctx *c = arg;
	int i;

	for (i = 0; i < c->nstop; i++)
		if (c->stop[i] == h)
			return;
	if (c->stopped || slot(c, h)->df < c->min_df) {
		c->stopped = 1;
		return;
	}
	c->key = (c->key ^ h) * 0x100000001b3ULL;
}

static void add_stop(void *arg, uint64_t h)
{
	ctx *c = arg;

	if (c->nstop < 16)
		c->stop[c->nstop++] = h;
}

static int by_label_key(const void *a, const void *b)
{
	const group_ent *x = a, *y = b;

	if (x->label != y->label)
		return x->label < y->label ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->idx - y->idx;
}

/* Marks every line of a held-out group: groups in order of their key,
 * per label, the second, then every `every`-th after it. */
static int mark(group_ent *g, int n, int every, int *heldout)
{
	int i, rank = -1, groups = 0;

	qsort(g, (size_t)n, sizeof(*g), by_label_key);
	for (i = 0; i < n; i++) {
		if (i == 0 || g[i].label != g[i - 1].label)
			rank = -1;
		if (i == 0 || g[i].label != g[i - 1].label || g[i].key != g[i - 1].key) {
			rank++;
			groups += rank % every == 1;
		}
		heldout[g[i].idx] = rank % every == 1;
	}
	return groups;
}

int lr_phrasing_split(const char *const *texts, const int *label, int n, int every, int *heldout,
		      uint64_t *group)
{
	ctx c = {0};
	group_ent *g;
	size_t cap = 1024, words = 0;
	int i, rc, lines[64] = {0};

	if (n < 0 || every < 2)
		return LR_EINVAL;
	for (i = 0; i < n; i++) {
		if (label[i] < 0 || label[i] >= 64)
			return LR_EINVAL;
		words += strlen(texts[i]) / 2 + 1;
	}
	while (cap < 2 * words)
		cap *= 2;
	c.mask = cap - 1;
	c.tab = calloc(cap, sizeof(word_ent));
	g = malloc(sizeof(group_ent) * (size_t)(n ? n : 1));
	if (!c.tab || !g) {
		free(c.tab);
		free(g);
		return LR_ENOMEM;
	}
	each_word("a an the this that these those my our your of to in into for on", add_stop, &c);
	for (c.line = 0; c.line < n; c.line++) {
		c.label = label[c.line];
		each_word(texts[c.line], count_word, &c);
	}
	for (i = 0; i < n; i++)
		lines[label[i]]++;
	for (i = 0; i < n; i++) {
		c.min_df = lines[label[i]] / LR_PHRASING_SHARE > 3 ? lines[label[i]] / LR_PHRASING_SHARE : 3;
		c.key = 0xcbf29ce484222325ULL;
		c.label = label[i];
		c.stopped = 0;
		each_word(texts[i], key_word, &c);
		g[i] = (group_ent){c.key * 0x9e3779b97f4a7c15ULL ^ (uint64_t)label[i], label[i], i};
		if (group)
			group[i] = g[i].key;
	}
	rc = mark(g, n, every, heldout);
	free(c.tab);
	free(g);
	return rc;
}
