/*
 * lr_classify.h - the learned intent classifier: hashed n-grams into a
 * linear model (multinomial logistic regression), with a temperature that
 * calibrates its probabilities.
 *
 * Text is lowercased and split into words (runs of ASCII letters and
 * digits, and of bytes >= 0x80 so UTF-8 words stay whole).  Each word and
 * each pair of adjacent words is hashed (FNV-1a) into one of `dim`
 * buckets.  A model's feature flags add more:
 *   - LR_CLF_CHARS: the character 3-grams of each word of the user text,
 *     its bounds included ("^ty", "typ", ..., "os$"), so an unseen word or a
 *     typo still shares most of its buckets with the words it resembles.
 *     Weighted LR_CLF_CHAR_WEIGHT each, over the first LR_CLF_CHAR_BYTES of
 *     the text only: that bounds the cost of a 4 KB prompt;
 *   - LR_CLF_SYSTEM: the system prompt's words, hashed from another seed so
 *     "define" in the system prompt is not "define" asked by the user.
 * A bucket's value is its summed weight, the vector scaled to unit length.
 * The score of class k is bias[k] + sum(w[bucket][k] * v), divided by the
 * temperature T; the softmax gives each class's probability.  T is fitted
 * by `llmroutectl train` on held-out examples (T > 1 softens an
 * over-confident model), so a probability of 0.9 is right about 9 times
 * in 10.  The same function turns text into features for training and for
 * classifying (the shim, explain), so they cannot drift apart.
 *
 * Only the first LR_TEXT_MAX bytes of each text are looked at
 * (lr_extract.h), so a classification costs a bounded few microseconds.
 */
#ifndef LR_CLASSIFY_H
#define LR_CLASSIFY_H
#include <stddef.h>
#include <stdint.h>

#define LR_CLF_MAX_FEATURES 4096 /* distinct buckets one text can touch */
#define LR_CLF_MAX_CLASSES 64

#define LR_CLF_CHARS 1u          /* character 3-grams of the user text */
#define LR_CLF_SYSTEM 2u         /* the system prompt's words */
#define LR_CLF_FLAGS_KNOWN 3u
#define LR_CLF_CHAR_BYTES 1024   /* 3-grams are taken from this much user text */
#define LR_CLF_CHAR_WEIGHT 0.25f /* one 3-gram against one word */

/* About 64 KB: allocate it, do not put it on a host thread's stack. */
typedef struct {
	uint32_t n;
	uint32_t idx[LR_CLF_MAX_FEATURES];
	float val[LR_CLF_MAX_FEATURES];
	uint32_t map[2 * LR_CLF_MAX_FEATURES]; /* private: bucket -> slot */
} lr_clf_vec;

/* The texts of one request a model may look at; NULL/0 when absent. */
typedef struct {
	const char *user, *system;
	size_t user_len, system_len;
} lr_clf_text;

/* Features of the user text alone, words and pairs only (the first
 * models' features: flags 0). */
void lr_clf_features(const char *text, size_t len, uint32_t dim, lr_clf_vec *v);

/* Features of `in` for a model of `dim` buckets (a power of two) and
 * feature flags LR_CLF_* (unknown bits are ignored). */
void lr_clf_features_in(const lr_clf_text *in, uint32_t dim, uint32_t flags, lr_clf_vec *v);

/* Scores of each class (nclasses) from weights [dim][nclasses] and bias,
 * divided by temp (> 0; 1 for raw scores), turned into probabilities in
 * prob[].  Returns the best class, or -1 for a bad nclasses. */
int lr_clf_predict_t(const lr_clf_vec *v, const float *weights, const float *bias, uint32_t nclasses,
		     double temp, double *prob);

/* lr_clf_predict_t at temperature 1. */
int lr_clf_predict(const lr_clf_vec *v, const float *weights, const float *bias, uint32_t nclasses,
		   double *prob);

#endif
