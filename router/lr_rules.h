/*
 * lr_rules.h - the rules file (JSON) to the compiled table (lr_table.h).
 *
 * This is the only place that understands the rules format; it is used by
 * `llmroutectl` and the tests, never by the shim (it needs cJSON, and the
 * shim reads only compiled tables).  Validation is strict: an unknown key,
 * a duplicate key, a wrong type, a bad glob, an endpoint that is not an
 * http(s) URL, a name used twice - each is an error with the JSON path and
 * the line and column where it was found.  Nothing is published unless the
 * whole file is valid.
 */
#ifndef LR_RULES_H
#define LR_RULES_H
#include <stddef.h>

typedef struct {
	int line, col;   /* 1-based; 0 when not known */
	char path[160];  /* e.g. routes[2].match.modle */
	char msg[320];
} lr_rules_error;

/* Compiles `text` (len bytes, any JSON text).  Returns 0 with a malloc'ed
 * blob in *blob (caller frees) and its size in *blen; or LR_EPARSE /
 * LR_EINVAL with *err filled; or LR_ENOMEM / LR_ETOOBIG. */
int lr_rules_compile(const char *text, size_t len, void **blob, size_t *blen,
		     lr_rules_error *err);

/* The JSON of one route, checked alone (for `route add`).  Same returns. */
int lr_rules_check_route(const char *json, lr_rules_error *err);

/* The i-th key the rules file accepts, counting from 0 over every kind of
 * object (the top level, a route, route.set, a target, ...); sets *section
 * to the object's name as llmroute-rules(5) titles it.  NULL past the last
 * key.  `llmroutectl --rules-keys` prints them; tests/t_docs.sh checks the
 * manual documents each one. */
const char *lr_rules_key(size_t i, const char **section);

#endif
