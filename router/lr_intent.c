/*
 * lr_intent.c - rule-based intents (see lr_intent.h).
 */
#include "lr_intent.h"
#include "lr_classify.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keywords, lowercased, chained by their first byte, so one pass over the
 * text finds every keyword of every intent. */
typedef struct {
	const char *kw;  /* into the table */
	uint32_t len, intent;
	int32_t next;    /* next keyword with the same first byte, or -1 */
	uint32_t pre, mask; /* its first (up to) 4 bytes, as a word, to rule most places out at once */
} kw_ent;

struct lr_intent_cache {
	uint32_t n;
	regex_t *re;     /* one per term; used only for LR_TERM_REGEX */
	char *ok;        /* re[i] compiled */
	char **lit;      /* a literal every match contains (lowercased), or NULL */
	kw_ent *kws;
	uint32_t nkws;
	int32_t first[256];   /* one-byte keywords, by their byte */
	int32_t pair[4096];   /* longer ones, by a hash of their first two bytes */
	int has_one;          /* some keyword is one byte long */
	int anywhere;         /* some keyword starts with a non-word byte: try every place */
	char *low;       /* the keywords, lowercased, NUL-separated */
};

static int lower(int ch);
static int word_byte(int ch);

#define PAIR(a, b) ((((unsigned)(unsigned char)(a) << 4) ^ (unsigned)(unsigned char)(b)) & 4095u)

/* Lowercased keyword list, chained by first byte (last intent first, so a
 * chain lists keywords in table order once reversed: order does not
 * matter, hits are collected as a set). */
static int index_keywords(lr_intent_cache *c, const lr_table *t)
{
	const lr_intent_rec *in = lr_table_intents(t);
	const lr_term_rec *tm = lr_table_terms(t);
	size_t total = 0, off = 0, k;
	uint32_t i, j;

	memset(c->first, 0xff, sizeof(c->first));
	memset(c->pair, 0xff, sizeof(c->pair));
	for (i = 0; i < t->nterms; i++)
		if (tm[i].kind == LR_TERM_KEYWORD)
			total += tm[i].str.len + 1;
	if (!total)
		return 0;
	if (!(c->low = malloc(total)) || !(c->kws = calloc(t->nterms, sizeof(kw_ent))))
		return -1;
	for (i = 0; i < t->nintents; i++) {
		for (j = in[i].term_first; j < in[i].term_first + in[i].term_count; j++) {
			const char *w = lr_table_str(t, tm[j].str);
			kw_ent *e;
			if (tm[j].kind != LR_TERM_KEYWORD || !*w || c->nkws >= t->nterms ||
			    off + tm[j].str.len + 1 > total)
				continue;
			e = &c->kws[c->nkws];
			for (k = 0; w[k]; k++)
				c->low[off + k] = (char)lower((unsigned char)w[k]);
			c->low[off + k] = '\0';
			e->kw = c->low + off;
			e->len = (uint32_t)k;
			e->mask = k >= 4 ? 0xffffffffu : (1u << (8 * k)) - 1;
			memcpy(&e->pre, e->kw, k >= 4 ? 4 : k + 1 > 4 ? 4 : k);
			e->pre &= e->mask;
			e->intent = i;
			if (!word_byte((unsigned char)e->kw[0]))
				c->anywhere = 1;
			if (k == 1) {
				c->has_one = 1;
				e->next = c->first[(unsigned char)e->kw[0]];
				c->first[(unsigned char)e->kw[0]] = (int32_t)c->nkws++;
			} else {
				unsigned h = PAIR(e->kw[0], e->kw[1]);
				e->next = c->pair[h];
				c->pair[h] = (int32_t)c->nkws++;
			}
			off += k + 1;
		}
	}
	return 0;
}

/*
 * A literal that every match of ERE `re` must contain, lowercased, or NULL:
 * the longest run of plain characters at the top level of a pattern with
 * no alternation, dropping a last character a quantifier makes optional.
 * regexec on a 4 KB text costs microseconds; looking for the literal first
 * lets most patterns be ruled out for the price of a substring search.
 */
static char *required_literal(const char *re)
{
	size_t best = 0, best_at = 0, run = 0, at = 0, i;
	int depth = 0;
	char *out;

	if (strchr(re, '|'))
		return NULL;
	for (i = 0;; i++) {
		char ch = re[i];
		int plain = ch && depth == 0 && !strchr("\\^$.[]()*+?{}", ch);
		if (plain) {
			if (!run)
				at = i;
			run++;
			continue;
		}
		if (run && ch && strchr("*?{", ch))
			run--; /* the last character may be absent */
		if (run > best) {
			best = run;
			best_at = at;
		}
		run = 0;
		if (!ch)
			break;
		if (ch == '(')
			depth++;
		else if (ch == ')' && depth > 0)
			depth--;
		else if (ch == '[') { /* skip the bracket expression */
			i++;
			if (re[i] == '^')
				i++;
			if (re[i] == ']')
				i++;
			while (re[i] && re[i] != ']') {
				if (re[i] == '[')
					return NULL; /* [:class:] and friends: no prefilter */
				i++;
			}
			if (!re[i])
				break;
		} else if (ch == '{') { /* an interval's counts are not text */
			while (re[i] && re[i] != '}')
				i++;
			if (!re[i])
				break;
		} else if (ch == '\\' && re[i + 1]) {
			i++;
		}
	}
	if (best < 3 || !(out = malloc(best + 1)))
		return NULL;
	for (i = 0; i < best; i++)
		out[i] = (char)lower((unsigned char)re[best_at + i]);
	out[best] = '\0';
	return out;
}

lr_intent_cache *lr_intent_cache_new(const lr_table *t)
{
	lr_intent_cache *c = calloc(1, sizeof(*c));
	const lr_term_rec *tm = lr_table_terms(t);
	uint32_t i;

	if (!c)
		return NULL;
	c->n = t->nterms;
	if ((c->n && (!(c->re = calloc(c->n, sizeof(regex_t))) || !(c->ok = calloc(c->n, 1)))) ||
	    index_keywords(c, t) < 0) {
		lr_intent_cache_free(c);
		return NULL;
	}
	if (c->n && !(c->lit = calloc(c->n, sizeof(char *)))) {
		lr_intent_cache_free(c);
		return NULL;
	}
	for (i = 0; i < c->n; i++) {
		if (tm[i].kind != LR_TERM_REGEX)
			continue;
		c->ok[i] = regcomp(&c->re[i], lr_table_str(t, tm[i].str),
				   REG_EXTENDED | REG_ICASE | REG_NOSUB) == 0;
		c->lit[i] = required_literal(lr_table_str(t, tm[i].str));
	}
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
	for (i = 0; c->lit && i < c->n; i++)
		free(c->lit[i]);
	free(c->lit);
	free(c->re);
	free(c->ok);
	free(c->kws);
	free(c->low);
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

/* Is the keyword at text[i..i+len) at word bounds? */
static int bounded(const char *text, size_t n, size_t i, const kw_ent *e)
{
	if (i > 0 && word_byte((unsigned char)e->kw[0]) && word_byte((unsigned char)text[i - 1]))
		return 0;
	return !(i + e->len < n && word_byte((unsigned char)e->kw[e->len - 1]) &&
		 word_byte((unsigned char)text[i + e->len]));
}

/* One pass over the lowercased text: sets hit[intent] for every keyword
 * found. */
static void scan(const lr_intent_cache *c, const char *low, size_t n, unsigned char *hit)
{
	size_t i;
	int32_t j;
	uint32_t w;

	for (i = 0; i < n; i++) {
		/* a keyword that starts with a word byte can only start a word */
		if (!c->anywhere && i > 0 && word_byte((unsigned char)low[i - 1]))
			continue;
		j = c->has_one ? c->first[(unsigned char)low[i]] : -1;
		if (j < 0 && (i + 1 >= n || (j = c->pair[PAIR(low[i], low[i + 1])]) < 0))
			continue;
		if (j >= 0 && c->kws[j].len == 1 && i + 1 < n) {
			/* one-byte keywords first, then the pair chain */
			const kw_ent *e = &c->kws[j];
			for (; j >= 0; j = c->kws[j].next) {
				e = &c->kws[j];
				if (!hit[e->intent] && bounded(low, n, i, e))
					hit[e->intent] = 1;
			}
			if ((j = c->pair[PAIR(low[i], low[i + 1])]) < 0)
				continue;
		}
		w = 0;
		memcpy(&w, low + i, n - i >= 4 ? 4 : n - i); /* the buffer is NUL-terminated */
		for (; j >= 0; j = c->kws[j].next) {
			const kw_ent *e = &c->kws[j];
			if ((w & e->mask) != e->pre || hit[e->intent] || e->len > n - i ||
			    (e->len > 4 && memcmp(low + i + 4, e->kw + 4, e->len - 4) != 0))
				continue;
			if (bounded(low, n, i, e))
				hit[e->intent] = 1;
		}
	}
}

static size_t lower_copy(const char *in, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = (char)lower((unsigned char)in[i]);
	out[n] = '\0';
	return n;
}

typedef struct {
	char user[LR_TEXT_MAX], sys[LR_TEXT_MAX]; /* lowercased */
	size_t ulen, slen;
} lowered;

static int regex_hits(const lr_table *t, const lr_intent_cache *c, const lr_intent_rec *in,
		      const lr_request *r, const lowered *lo)
{
	uint32_t ti;

	for (ti = in->term_first; c && ti < in->term_first + in->term_count && ti < c->n; ti++) {
		if (lr_table_terms(t)[ti].kind != LR_TERM_REGEX || !c->ok[ti])
			continue;
		if ((r->x.user_len && (!c->lit[ti] || memmem(lo->user, lo->ulen, c->lit[ti], strlen(c->lit[ti]))) &&
		     regexec(&c->re[ti], r->x.user, 0, NULL, 0) == 0) ||
		    ((in->flags & LR_INTENT_SYSTEM) && r->x.system_len &&
		     (!c->lit[ti] || memmem(lo->sys, lo->slen, c->lit[ti], strlen(c->lit[ti]))) &&
		     regexec(&c->re[ti], r->x.system, 0, NULL, 0) == 0))
			return 1;
	}
	return 0;
}

/* Without a cache (it could not be built): keywords one by one. */
static int slow_hits(const lr_table *t, const lr_intent_rec *in, const lr_request *r)
{
	uint32_t ti;

	for (ti = in->term_first; ti < in->term_first + in->term_count; ti++) {
		const char *kw = lr_table_str(t, lr_table_terms(t)[ti].str);
		if (lr_table_terms(t)[ti].kind == LR_TERM_KEYWORD &&
		    (lr_intent_keyword(r->x.user, r->x.user_len, kw) ||
		     ((in->flags & LR_INTENT_SYSTEM) && lr_intent_keyword(r->x.system, r->x.system_len, kw))))
			return 1;
	}
	return 0;
}

static void set_intent(lr_request *r, const char *name, double conf)
{
	snprintf(r->intent, sizeof(r->intent), "%s", name);
	r->intent_confidence = conf;
	lr_features_set(&r->f, LR_F_INTENT, r->intent, strlen(r->intent));
	lr_features_num(&r->f, LR_F_INTENT_CONFIDENCE, conf);
}

/* No rule named the intent: the learned classifier's best class, with its
 * calibrated probability as the confidence. */
static void classify(const lr_table *t, lr_request *r)
{
	double prob[LR_CLF_MAX_CLASSES];
	lr_clf_vec *v;
	int k;

	lr_clf_text in = {r->x.user, r->x.system, r->x.user_len, r->x.system_len};

	if (!t->clf_classes || !r->x.user_len || !(v = malloc(sizeof(*v))))
		return;
	lr_clf_features_in(&in, t->clf_dim, t->clf_flags, v);
	k = v->n ? lr_clf_predict_t(v, lr_table_clf_weights(t), lr_table_clf_weights(t) +
				    (size_t)t->clf_dim * t->clf_classes, t->clf_classes, t->clf_temp, prob) : -1;
	if (k >= 0)
		set_intent(r, lr_table_str(t, lr_table_clf_names(t)[k]), prob[k]);
	free(v);
}

void lr_intent_apply(const lr_table *t, const lr_intent_cache *c, lr_request *r)
{
	unsigned char hit_user[256], hit_sys[256], *hu = hit_user, *hs = hit_sys;
	const lr_intent_rec *in = NULL;
	lowered *lo = NULL;
	uint32_t i;
	int sys = 0;

	if (!t || (!t->nintents && !t->clf_classes))
		return;
	if (t->nintents > sizeof(hit_user) && !(hu = calloc(2, t->nintents)))
		c = NULL; /* no memory: the slow way */
	else if (t->nintents > sizeof(hit_user))
		hs = hu + t->nintents;
	if (c && !(lo = malloc(sizeof(*lo))))
		c = NULL;
	if (c) {
		memset(hu, 0, t->nintents);
		memset(hs, 0, t->nintents);
		for (i = 0; i < t->nintents; i++)
			sys |= (lr_table_intents(t)[i].flags & LR_INTENT_SYSTEM) != 0;
		lo->ulen = lower_copy(r->x.user, r->x.user_len, lo->user);
		lo->slen = sys ? lower_copy(r->x.system, r->x.system_len, lo->sys) : 0;
		scan(c, lo->user, lo->ulen, hu);
		if (sys)
			scan(c, lo->sys, lo->slen, hs);
	}
	for (i = 0; i < t->nintents; i++) {
		in = &lr_table_intents(t)[i];
		if (c ? (hu[i] || ((in->flags & LR_INTENT_SYSTEM) && hs[i]) || regex_hits(t, c, in, r, lo))
		      : slow_hits(t, in, r))
			break;
	}
	if (hu != hit_user)
		free(hu);
	free(lo);
	if (i < t->nintents)
		set_intent(r, lr_table_str(t, in->name), 1);
	else
		classify(t, r);
}
