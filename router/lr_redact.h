/*
 * lr_redact.h - a body with its findings replaced by typed placeholders,
 * and the answer with the placeholders replaced back (issue 20).
 *
 * lr_redact_body replaces each finding of the kinds asked (lr_guard.h) by
 * "[EMAIL_1]", "[CARD_2]", ...: one number per distinct value and kind, so
 * the model can tell two addresses apart and a value repeated in the
 * prompt gets one placeholder.  The map keeps the original bytes (JSON
 * string content, so they are valid wherever a placeholder stood in a JSON
 * string) in the process's own memory: it never goes to the shared table,
 * the audit or the log.  lr_redact_restore puts them back wherever the
 * answer repeats a placeholder exactly; a placeholder the model mangled
 * ("[email_1]", "[EMAIL 1]") stays as it is.
 */
#ifndef LR_REDACT_H
#define LR_REDACT_H
#include "lr_guard.h"
#include <stddef.h>

typedef struct {
	char ph[24];       /* "[KIND_N]" */
	size_t phlen;
	char *val;         /* the original bytes, malloc'ed */
	size_t len;
	int kind;
} lr_redact_ent;

typedef struct lr_redact_map {
	lr_redact_ent *e;
	size_t n;
	unsigned count[LR_GK_N]; /* placeholders per kind */
} lr_redact_map;

/* Replaces the findings in g (from lr_guard_scan of the same body) whose
 * kind is in mask.  Returns the number replaced: > 0 with a malloc'ed
 * *out (*outlen bytes) and *m filled (caller frees both, lr_redact_free);
 * 0 when nothing was to be replaced (*out NULL); LR_ETOOBIG when g could
 * not locate every finding (redacting some would be a false promise);
 * LR_ENOMEM.  On error *m is empty. */
int lr_redact_body(const char *body, size_t len, const lr_guard_findings *g, unsigned mask,
		   lr_redact_map *m, char **out, size_t *outlen);

/* Puts the values of m back in in[0..n).  Returns the number of
 * placeholders replaced: > 0 with a malloc'ed *out (*outlen), 0 (*out
 * NULL: the text stays), or LR_ENOMEM. */
int lr_redact_restore(const lr_redact_map *m, const char *in, size_t n, char **out, size_t *outlen);

/* A deep copy of src into dst (for a holder whose lifetime is its own).
 * 0, or LR_ENOMEM with dst empty. */
int lr_redact_dup(const lr_redact_map *src, lr_redact_map *dst);

void lr_redact_free(lr_redact_map *m);

#endif
