/*
 * lr_body.h - byte-preserving edits of an LLM request body.
 *
 * A request body is a top-level JSON object ({"model": ..., "messages": ...}).
 * The router changes a few top-level members (model, max_tokens, ...) and
 * must leave every other byte exactly as the application wrote it: key
 * order, whitespace, number spellings, escapes, nested objects, and strings
 * that merely contain the word "model".  So edits are splices of raw value
 * tokens into a copy of the caller's buffer, never a parse-and-reserialize.
 *
 * Invariants:
 *   - the whole body is validated (lr_json, strict RFC 8259) before anything
 *     is changed; a body that is not exactly one JSON object plus optional
 *     whitespace is LR_EPARSE and nothing is produced (the shim then sends
 *     the original: fail open).  A leading UTF-8 BOM is such a parse error;
 *   - only top-level members are ever touched, and keys are compared after
 *     decoding ("mod\u0065l" is the key model);
 *   - bodies are capped at LR_BODY_MAX bytes, outputs at LR_BODY_MAX_OUT.
 */
#ifndef LR_BODY_H
#define LR_BODY_H
#include <stddef.h>
#include "lr_json.h"

#define LR_BODY_MAX ((size_t)64 << 20)       /* input cap: 64 MiB */
#define LR_BODY_MAX_OUT ((size_t)128 << 20)  /* output cap */
#define LR_BODY_MAX_EDITS 32                 /* edits per call */
#define LR_BODY_MAX_KEY 128                  /* bytes in an edit key */
#define LR_BODY_MAX_RAW ((size_t)1 << 20)    /* bytes in an edit value */
#define LR_BODY_MAX_MODEL 256                /* bytes in a model name */

typedef enum {
	LR_EDIT_SET,           /* replace every occurrence; append if absent */
	LR_EDIT_SET_IF_ABSENT, /* append if absent; never replace */
	LR_EDIT_CAP,           /* lower numbers above raw to raw; append if absent */
} lr_edit_op;

/*
 * One top-level member edit.  `key` is plain UTF-8 (encoded by us when
 * appended); `raw` is the new value as raw JSON text, already a single valid
 * JSON token ("\"gpt-4o-mini\"", "0.2", "512"), spliced in verbatim.
 * CAP needs a number `raw`.  Keys within one edit list must be distinct.
 */
typedef struct {
	const char *key;
	const char *raw;
	lr_edit_op op;
} lr_edit;

/*
 * Decodes the top-level string member `key` (the LAST one if duplicated)
 * into out[0..cap), NUL-terminated.  The whole body is validated.
 * Returns the decoded length; LR_ENOTFOUND if absent or the last occurrence
 * is not a string; LR_EPARSE if the body is not one well-formed JSON object
 * (or the string has an undecodable lone surrogate); LR_ETOOBIG if the body
 * exceeds LR_BODY_MAX or the value does not fit in cap; LR_EINVAL on NULL
 * key/out.  out[0] is NUL on every error when cap > 0.  Nothing allocated.
 */
int lr_body_get_str(const char *body, size_t len, const char *key, char *out,
	size_t cap);

/*
 * One walk over the top-level members for several keys at once: vals[k]
 * is the LAST value of keys[k] (p NULL when absent).  Returns 0 when the
 * body is one well-formed JSON object, else what lr_body_get_str returns
 * for such a body (LR_EPARSE, LR_ETOOBIG past LR_BODY_MAX, LR_ENOMEM);
 * vals are then unset.  Nothing allocated but what nesting past
 * LR_JSON_MAX_DEPTH takes.
 */
int lr_body_members(const char *body, size_t len, const char *const *keys, size_t n, lr_span *vals);

/* lr_body_members that also counts each key's top-level occurrences into
 * counts[k] (0 when the body is not a well-formed object; counts may be
 * NULL). */
int lr_body_members_n(const char *body, size_t len, const char *const *keys, size_t n,
	lr_span *vals, size_t *counts);

/*
 * Applies `edits` to body[0..len).  SET replaces the value of EVERY
 * top-level occurrence of its key (duplicates included) and appends the
 * member if the key is absent; SET_IF_ABSENT only appends; CAP replaces an
 * occurrence that is a number greater than raw's number, leaves non-numbers
 * alone (numbers are compared as doubles), and appends if absent.  Appended members are written as
 * `,"key":raw` (no comma into an empty object) right after the last
 * member's value, or right after '{' for an empty object, in edit order, so
 * whitespace before the closing '}' stays where it was.  A value already
 * byte-identical to raw is not counted as a change.
 *
 * Returns the number of replacements plus insertions.  If > 0, *out is a
 * malloc'ed buffer of *outlen bytes (followed by a NUL not counted in *outlen) the caller frees,
 * byte-identical to the input except for the spliced tokens.  If 0 (nothing
 * to change) or on error, *out = NULL and *outlen = 0.  Errors: LR_EPARSE
 * (body is not exactly one JSON object plus whitespace), LR_ETOOBIG (body
 * over LR_BODY_MAX, output over LR_BODY_MAX_OUT), LR_EINVAL (bad edit list: NULL key/raw, duplicate
 * keys, raw not one JSON value, CAP raw not a number, more than
 * LR_BODY_MAX_EDITS edits, key longer than LR_BODY_MAX_KEY or not UTF-8,
 * raw longer than LR_BODY_MAX_RAW; or NULL out/outlen), LR_ENOMEM (also
 * for nesting past LR_JSON_MAX_DEPTH with no memory to track it).
 */
int lr_body_edit(const char *body, size_t len, const lr_edit *edits,
	size_t nedits, char **out, size_t *outlen);

/*
 * Replaces the value of every existing top-level "model" member with the
 * JSON string for `model` (plain UTF-8, at most LR_BODY_MAX_MODEL bytes).
 * Never appends.  Returns the number of values replaced (0 if they all
 * already were that string: *out = NULL, send the original) with *out /
 * *outlen as for lr_body_edit; LR_ENOTFOUND if there is no top-level model
 * member; LR_EINVAL if model is NULL, too long or not UTF-8; otherwise the
 * errors of lr_body_edit.
 */
int lr_body_set_model(const char *body, size_t len, const char *model,
	char **out, size_t *outlen);

/*
 * lr_body_set_model for a body already walked: `v` is the value of its only
 * top-level "model" member, as lr_body_members_n found it (the body one
 * well-formed object, the key counted once).  Splices without walking the
 * body again, so a large body costs one copy; same results and errors as
 * lr_body_set_model on such a body (LR_EINVAL for a span not inside it).
 */
int lr_body_set_model_at(const char *body, size_t len, lr_span v, const char *model,
	char **out, size_t *outlen);

/*
 * Puts the instruction `text` (plain UTF-8) before the request's own
 * system prompt, touching nothing else:
 *   - a "messages" array (OpenAI, Ollama chat): a {"role":"system",
 *     "content":TEXT} message is inserted first;
 *   - a string "system" or "instructions" (Anthropic, Ollama generate,
 *     Responses): TEXT, a blank line, then the old text;
 *   - an array "system" (Anthropic blocks): a {"type":"text","text":TEXT}
 *     block is inserted first;
 *   - an Anthropic body without "system" (the caller says so with
 *     `anthropic`: Anthropic has no system role in its messages): a
 *     "system" member is added.
 * Returns 1 with out and outlen set as lr_body_edit does; LR_ENOTFOUND when the body
 * has no place for a system prompt (a Gemini or embeddings body: nothing
 * changed); LR_EPARSE / LR_ETOOBIG / LR_EINVAL (text not UTF-8) /
 * LR_ENOMEM.
 */
int lr_body_prepend_system(const char *body, size_t len, const char *text, int anthropic,
	char **out, size_t *outlen);

#endif
