/*
 * lr_glob.h - shell-style glob matching for route conditions.
 *
 * Syntax: `*` any run of bytes, `?` one byte, `[abc]`, `[a-z]`, `[!x]` (or
 * `[^x]`) a set, `\c` the literal c.  Unlike fnmatch(3) there are no special
 * cases for `/` or leading dots: model names and hosts are plain strings.
 * Patterns are checked once, when a rules file is loaded (lr_glob_check);
 * matching never allocates and never recurses more than once per `*`.
 */
#ifndef LR_GLOB_H
#define LR_GLOB_H
#include <stddef.h>

/* Returns 0 if `pat` is a valid glob, LR_EPARSE otherwise (and, if `why` is
 * not NULL, a static explanation in *why). */
int lr_glob_check(const char *pat, const char **why);

/* Returns 1 if `s` (n bytes) matches `pat`, else 0.  `fold` != 0 compares
 * ASCII letters case-insensitively (host names).  An invalid pattern matches
 * nothing. */
int lr_glob_match(const char *pat, const char *s, size_t n, int fold);

#endif
