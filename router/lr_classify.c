/*
 * lr_classify.c - hashed n-gram features and the linear model's
 * prediction (see lr_classify.h).
 */
#include "lr_classify.h"

#include <math.h>
#include <string.h>

static int word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		h ^= (c >= 'A' && c <= 'Z') ? c + 32 : c;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Adds one to bucket b: linear probing in a small open-addressing map
 * from bucket to slot (the vector stays sparse and unsorted). */
static void bump(lr_clf_vec *v, uint32_t *map, uint32_t mask, uint32_t b)
{
	uint32_t h = (b * 2654435761u) & mask;

	while (map[h] && v->idx[map[h] - 1] != b)
		h = (h + 1) & mask;
	if (map[h]) {
		v->val[map[h] - 1] += 1;
	} else if (v->n < LR_CLF_MAX_FEATURES) {
		v->idx[v->n] = b;
		v->val[v->n] = 1;
		map[h] = ++v->n;
	}
}

void lr_clf_features(const char *text, size_t len, uint32_t dim, lr_clf_vec *v)
{
	static const uint64_t basis = 0xcbf29ce484222325ULL;
	uint32_t *map = v->map, mask = 2 * LR_CLF_MAX_FEATURES - 1, i;
	size_t p = 0, s;
	uint64_t prev = 0, h;
	int have_prev = 0;
	double norm = 0;

	v->n = 0;
	memset(map, 0, sizeof(v->map));
	while (p < len) {
		while (p < len && !word_byte((unsigned char)text[p]))
			p++;
		s = p;
		while (p < len && word_byte((unsigned char)text[p]))
			p++;
		if (p == s)
			break;
		h = fnv(basis, text + s, p - s);
		bump(v, map, mask, (uint32_t)(h & (dim - 1)));
		if (have_prev) /* the pair: mix the two words' hashes */
			bump(v, map, mask, (uint32_t)(((prev * 0x9e3779b97f4a7c15ULL) ^ h) >> 17 & (dim - 1)));
		prev = h;
		have_prev = 1;
	}
	for (i = 0; i < v->n; i++)
		norm += (double)v->val[i] * v->val[i];
	norm = norm > 0 ? 1 / sqrt(norm) : 0;
	for (i = 0; i < v->n; i++)
		v->val[i] = (float)(v->val[i] * norm);
}

int lr_clf_predict(const lr_clf_vec *v, const float *weights, const float *bias, uint32_t nclasses,
		   double *prob)
{
	double s[LR_CLF_MAX_CLASSES], max, sum = 0;
	uint32_t i, k;
	int best = 0;

	if (nclasses == 0 || nclasses > LR_CLF_MAX_CLASSES)
		return -1;
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
		sum += (prob[k] = exp(s[k] - max));
	for (k = 0; k < nclasses; k++)
		prob[k] /= sum;
	return best;
}
