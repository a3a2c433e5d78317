/*
 * lr_classify.h - the learned intent classifier: hashed word unigrams and
 * bigrams into a linear model (multinomial logistic regression).
 *
 * Text is lowercased and split into words (runs of ASCII letters and
 * digits, and of bytes >= 0x80 so UTF-8 words stay whole).  Each word and
 * each pair of adjacent words is hashed (FNV-1a) into one of `dim`
 * buckets; a bucket's feature value is its count, the vector scaled to
 * unit length.  The score of class k is bias[k] + sum(w[bucket][k] * v);
 * the softmax of the scores gives each class's probability.  The same
 * function turns text into features for training (llmroutectl train) and
 * for classifying (the shim, explain), so they cannot drift apart.
 *
 * Only the first LR_TEXT_MAX bytes of the last user message are looked at
 * (lr_extract.h), so a classification costs a bounded few microseconds.
 */
#ifndef LR_CLASSIFY_H
#define LR_CLASSIFY_H
#include <stddef.h>
#include <stdint.h>

#define LR_CLF_MAX_FEATURES 4096 /* distinct buckets one text can touch */
#define LR_CLF_MAX_CLASSES 64

/* About 64 KB: allocate it, do not put it on a host thread's stack. */
typedef struct {
	uint32_t n;
	uint32_t idx[LR_CLF_MAX_FEATURES];
	float val[LR_CLF_MAX_FEATURES];
	uint32_t map[2 * LR_CLF_MAX_FEATURES]; /* private: bucket -> slot */
} lr_clf_vec;

/* Features of text[0..len) for a model of `dim` buckets (a power of two). */
void lr_clf_features(const char *text, size_t len, uint32_t dim, lr_clf_vec *v);

/* Scores of each class (nclasses) from weights [dim][nclasses] and bias,
 * turned into probabilities in prob[].  Returns the best class. */
int lr_clf_predict(const lr_clf_vec *v, const float *weights, const float *bias, uint32_t nclasses,
		   double *prob);

#endif
