/*
 * lr_xsink.h - a served answer translated into the app's API format.
 *
 * A request the shim's own client sends to a target of another format
 * (lr_plan_xlate.h) gets the target's answer.  This sink stands between
 * the client (lr_upstream.h) and the served request's own sink
 * (lr_serve.c), so everything after it (the attempts, the audit's usage,
 * the cache, the bytes the app reads) sees an answer of the app's format:
 *   - a 2xx stream is translated event by event as it arrives (its head
 *     at once, with the app's Content-Type);
 *   - anything else (a whole answer, an error of any status) is held,
 *     up to LR_XLATE_MAX_IN, and translated at its end: the app gets its
 *     own shape and a matching status (a 529 for an overloaded target and
 *     an Anthropic app), the target's other headers (Retry-After) kept;
 *   - an answer cut before its end reaches the inner sink as a transfer
 *     that failed before its head (a whole answer), or as the translator's
 *     error event and the failure (a stream).
 * A redacting route (issue 20) puts its values back in the same sink,
 * after the translation if any (the restore reads the app's format): a
 * whole answer is held and restored at its end, a 2xx stream is restored
 * delta by delta (lr_redact_stream.h).  Without a translation (identity)
 * the sink is there only for the restore: the head keeps its Content-Type,
 * loses its framing (the served path re-frames), and the status stays.
 * An answer with a Content-Encoding cannot be read: it passes unrestored.
 * Runs on the client's thread, like every sink.
 */
#ifndef LR_XSINK_H
#define LR_XSINK_H
#include "lr_upstream.h"
#include "lr_xlate.h"
#include "lr_redact.h"

/* What one step's answer is translated with (lr_serve_step.xlate). */
typedef struct lr_xsink_cfg {
	lr_xlate_ctx cx;            /* cx.model points at model */
	int stream;                 /* the app asked for a stream */
	char model[256];            /* the target's model */
	int identity;               /* no translation: only the restore */
	int app_fmt;                /* enum lr_xfmt the app reads (the restore's) */
	lr_redact_map rm;           /* values to put back (owned; n 0: none):
	                             * in process memory only, freed with the cfg */
} lr_xsink_cfg;

/* A malloc'ed copy of cfg with cx.model fixed up, or NULL.  The copy
 * takes cfg's map (cfg->rm is emptied). */
lr_xsink_cfg *lr_xsink_cfg_dup(lr_xsink_cfg *cfg);

/* Frees a cfg from lr_xsink_cfg_dup and its map.  NULL is fine. */
void lr_xsink_cfg_free(lr_xsink_cfg *cfg);

/* The sink, to pass to lr_up_start with lr_xsink_new's value as ud. */
extern const lr_up_sink lr_xsink;

/* ud for lr_xsink in front of (inner, inner_ud), or NULL (no memory).  It
 * keeps its own copy of cfg's map (a served request may be freed before
 * its transfer's last callback), and frees itself after inner's done(); if lr_up_start fails, free it with
 * lr_xsink_free. */
void *lr_xsink_new(const lr_xsink_cfg *cfg, const lr_up_sink *inner, void *inner_ud);
void lr_xsink_free(void *x);

#endif
