/*
 * lr_overflow.h - does an error answer say the request was too long for
 * the model's context window?
 *
 * Providers say it in their own words, in a 400 (a few gateways: 413).
 * One table of phrases, per provider, matched case-insensitively anywhere
 * in the answer's body; a phrase is specific enough that a content-policy
 * or malformed-request error never carries it.  No allocation; the body
 * need not be NUL-terminated.
 */
#ifndef LR_OVERFLOW_H
#define LR_OVERFLOW_H
#include <stddef.h>

/* Is `status` one a context overflow comes with (400, 413)? */
int lr_overflow_status(long status);

/* 1 when the n bytes of body say the context length was exceeded, with
 * *provider (may be NULL) the name of the table row that matched; else 0. */
int lr_overflow_match(const char *body, size_t n, const char **provider);

/* The table, for tests and documentation: row i's provider and phrase,
 * or 0 past the last row. */
int lr_overflow_row(size_t i, const char **provider, const char **phrase);

#endif
