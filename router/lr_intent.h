/*
 * lr_intent.h - the intent of a request: which named class of the routes
 * file's "intents" it belongs to, from its last user message (and, for an
 * intent that asks, its system prompt).
 *
 * Intents are tried in file order; the first whose keyword or pattern
 * occurs wins, with confidence 1.  When none does and the table carries a
 * learned classifier (lr_classify.h), its most probable class is the
 * intent, with that probability as the confidence.  A keyword is a word or phrase matched
 * ignoring ASCII case at word boundaries ("define" matches "Define X" but
 * not "predefined"); a pattern is a POSIX extended regular expression,
 * also case-insensitive.  No match: intent "" and confidence 0, which only
 * "*" matches.
 *
 * Patterns are compiled once per table (lr_intent_cache), by whoever holds
 * the table: the shim when it swaps a new table in, explain and the tests
 * for theirs.  Classifying allocates about 8 KB (the texts, lowercased),
 * and 64 KB more when the classifier runs, freed before it returns: never
 * on the host thread's stack.
 */
#ifndef LR_INTENT_H
#define LR_INTENT_H
#include "lr_request.h"
#include "lr_table.h"

typedef struct lr_intent_cache lr_intent_cache;

/* Compiles t's patterns.  Returns the cache (also for a table with none),
 * or NULL on allocation failure or a pattern that does not compile (the
 * rules compiler checked them: a corrupt table) - classification then
 * uses keywords only. */
lr_intent_cache *lr_intent_cache_new(const lr_table *t);
void lr_intent_cache_free(lr_intent_cache *c);

/* Classifies r with t's intents and sets r->intent, r->intent_confidence
 * and the matching features.  c may be NULL (keywords only).  Does
 * nothing for a table without intents. */
void lr_intent_apply(const lr_table *t, const lr_intent_cache *c, lr_request *r);

/* 1 if keyword kw occurs in text[0..n) at word boundaries, ignoring ASCII
 * case, else 0. */
int lr_intent_keyword(const char *text, size_t n, const char *kw);

#endif
