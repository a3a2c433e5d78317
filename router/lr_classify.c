/*
 * lr_classify.c - hashed n-gram features and the linear model's
 * prediction (see lr_classify.h).
 */
#include "lr_classify.h"

#include "lr_fmath.h"
#include <math.h>
#include <string.h>

#define FNV_BASIS 0xcbf29ce484222325ULL
#define SYSTEM_BASIS 0x84222325cbf29ce4ULL /* another space for system words */
#define MAP_MASK (2 * LR_CLF_MAX_FEATURES - 1)

static int word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= lower((unsigned char)p[i]);
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Adds w to bucket b: linear probing in a small open-addressing map
 * from bucket to slot (the vector stays sparse and unsorted).  A text
 * touching more than LR_CLF_MAX_FEATURES buckets loses the rest. */
static void bump(lr_clf_vec *v, uint32_t b, float w)
{
	uint32_t h = (b * 2654435761u) & MAP_MASK;

	while (v->map[h] && v->idx[v->map[h] - 1] != b)
		h = (h + 1) & MAP_MASK;
	if (v->map[h]) {
		v->val[v->map[h] - 1] += w;
	} else if (v->n < LR_CLF_MAX_FEATURES) {
		v->idx[v->n] = b;
		v->val[v->n] = w;
		v->map[h] = ++v->n;
	}
}

/* Each word and each pair of adjacent words, hashed from `basis`. */
static void add_words(lr_clf_vec *v, const char *text, size_t len, uint32_t dim, uint64_t basis)
{
	size_t p = 0, s;
	uint64_t prev = 0, h;
	int have_prev = 0;

	while (p < len) {
		while (p < len && !word_byte((unsigned char)text[p]))
			p++;
		s = p;
		while (p < len && word_byte((unsigned char)text[p]))
			p++;
		if (p == s)
			break;
		h = fnv(basis, text + s, p - s);
		bump(v, (uint32_t)(h & (dim - 1)), 1);
		if (have_prev) /* the pair: mix the two words' hashes */
			bump(v, (uint32_t)(((prev * 0x9e3779b97f4a7c15ULL) ^ h) >> 17 & (dim - 1)), 1);
		prev = h;
		have_prev = 1;
	}
}

/* The 3-grams of each word, its bounds marked (2 before, 3 after: bytes no
 * word holds), as three bytes packed and mixed into a bucket.  A
 * multiply-shift, not FNV: this runs once per byte. */
static void add_chars(lr_clf_vec *v, const char *text, size_t len, uint32_t dim)
{
	uint32_t g = 0, in_word = 0;
	size_t p;

	if (len > LR_CLF_CHAR_BYTES)
		len = LR_CLF_CHAR_BYTES;
	for (p = 0; p <= len; p++) {
		unsigned char c = p < len ? (unsigned char)text[p] : ' ';
		if (word_byte(c)) {
			g = in_word ? (g << 8 | lower(c)) & 0xffffff : (2u << 8 | lower(c));
			if (in_word++) /* "^a" alone is no 3-gram yet */
				bump(v, (uint32_t)(((g | 0x5a000000ull) * 0x9e3779b97f4a7c15ULL) >> 40) & (dim - 1),
				     LR_CLF_CHAR_WEIGHT);
		} else if (in_word) {
			g = (g << 8 | 3u) & 0xffffff;
			bump(v, (uint32_t)(((g | 0x5a000000ull) * 0x9e3779b97f4a7c15ULL) >> 40) & (dim - 1),
			     LR_CLF_CHAR_WEIGHT);
			in_word = 0;
		}
	}
}

static void normalize(lr_clf_vec *v)
{
	double norm = 0;
	uint32_t i;

	for (i = 0; i < v->n; i++)
		norm += (double)v->val[i] * v->val[i];
	norm = norm > 0 ? 1 / lr_sqrt(norm) : 0;
	for (i = 0; i < v->n; i++)
		v->val[i] = (float)(v->val[i] * norm);
}

void lr_clf_features_in(const lr_clf_text *in, uint32_t dim, uint32_t flags, lr_clf_vec *v)
{
	v->n = 0;
	memset(v->map, 0, sizeof(v->map));
	if (in->user)
		add_words(v, in->user, in->user_len, dim, FNV_BASIS);
	if ((flags & LR_CLF_CHARS) && in->user)
		add_chars(v, in->user, in->user_len, dim);
	if ((flags & LR_CLF_SYSTEM) && in->system)
		add_words(v, in->system, in->system_len, dim, SYSTEM_BASIS);
	normalize(v);
}

void lr_clf_features(const char *text, size_t len, uint32_t dim, lr_clf_vec *v)
{
	lr_clf_text in = {text, NULL, len, 0};

	lr_clf_features_in(&in, dim, 0, v);
}

int lr_clf_predict_t(const lr_clf_vec *v, const float *weights, const float *bias, uint32_t nclasses,
		     double temp, double *prob)
{
	double s[LR_CLF_MAX_CLASSES], max, sum = 0;
	uint32_t i, k;
	int best = 0;

	if (nclasses == 0 || nclasses > LR_CLF_MAX_CLASSES)
		return -1;
	if (!(temp > 0)) /* also NaN */
		temp = 1;
	for (k = 0; k < nclasses; k++)
		s[k] = bias[k];
	for (i = 0; i < v->n; i++) {
		const float *w = weights + (size_t)v->idx[i] * nclasses;
		for (k = 0; k < nclasses; k++)
			s[k] += (double)w[k] * v->val[i];
	}
	max = s[0];
	for (k = 1; k < nclasses; k++)
		if (s[k] > max) {
			max = s[k];
			best = (int)k;
		}
	for (k = 0; k < nclasses; k++)
		sum += (prob[k] = lr_exp((s[k] - max) / temp));
	for (k = 0; k < nclasses; k++)
		prob[k] /= sum;
	return best;
}

int lr_clf_predict(const lr_clf_vec *v, const float *weights, const float *bias, uint32_t nclasses,
		   double *prob)
{
	return lr_clf_predict_t(v, weights, bias, nclasses, 1, prob);
}
