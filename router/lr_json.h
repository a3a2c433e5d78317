/*
 * lr_json.h - a zero-allocation JSON scanner (RFC 8259, strict).
 *
 * The router never builds a JSON tree: it walks the caller's buffer and hands
 * back lr_span slices of it, like picohttpparser does for HTTP.  That keeps a
 * 1 MB chat body at one linear pass with no malloc, and lets lr_body rewrite
 * a value while every other byte stays exactly as the application sent it.
 *
 * Invariants every function here keeps:
 *   - input is (pointer, length) and is NOT NUL-terminated; nothing reads at
 *     or past `len`, whatever the bytes are (NULs, invalid UTF-8, truncation);
 *   - nothing recurses, and nesting has no limit but the input: the first
 *     LR_JSON_MAX_DEPTH levels are tracked on a fixed stack, deeper ones
 *     take one bit a level on the heap (freed before returning; LR_ENOMEM
 *     if that fails), so a top-level key after a value nested 10,000 deep
 *     is found.  Nothing else allocates;
 *   - acceptance is strict RFC 8259: valid escapes, no raw control bytes in
 *     strings, well-formed UTF-8 (no overlongs, no UTF-8-encoded surrogates),
 *     no leading zeros, no trailing commas, no comments, no BOM;
 *   - offsets are returned as int, so documents are limited to INT_MAX bytes
 *     (LR_ETOOBIG beyond); callers cap far lower (lr_body: 64 MiB).
 * Errors follow lr_error.h: 0 or a count on success, negative LR_E* codes.
 */
#ifndef LR_JSON_H
#define LR_JSON_H
#include <stddef.h>

/* Nesting tracked without allocating; deeper takes a bit a level. */
#define LR_JSON_MAX_DEPTH 128

/* A slice of the caller's buffer; never owns memory, never NUL-terminated. */
typedef struct {
	const char *p;
	size_t len;
} lr_span;

/* What a raw value token is, judged from its first byte only. */
typedef enum {
	LR_JSON_INVALID,
	LR_JSON_OBJECT,
	LR_JSON_ARRAY,
	LR_JSON_STRING,
	LR_JSON_NUMBER,
	LR_JSON_TRUE,
	LR_JSON_FALSE,
	LR_JSON_NULL,
} lr_json_type;

/*
 * Iterator over the members of one object or the elements of one array.
 * Lives on the caller's stack; holds pointers into the caller's buffer.
 * Readable fields: after a *_next call returned 0, `pos` is the offset just
 * past the closing bracket.  Everything else is private.  Depth counts from
 * the iterated container, so iterating accepts exactly what
 * lr_json_skip_value on the whole container accepts.
 */
typedef struct lr_json_iter {
	const char *s;
	size_t len;
	size_t pos;     /* next offset to look at */
	int kind;       /* '{' or '[' */
	int state;      /* private: first / after a member / done / error */
	int err;        /* sticky LR_E* code once state is error */
} lr_json_iter;

/*
 * Returns the offset of the first non-whitespace byte at or after pos (or
 * len if there is none).  JSON whitespace only: space, tab, CR, LF.
 * Returns LR_ETOOBIG if that offset does not fit in an int.
 */
int lr_json_skip_ws(const char *s, size_t len, size_t pos);

/*
 * Validates exactly one JSON value starting at *pos (leading whitespace is
 * skipped, trailing whitespace is not).  On success returns 0 and sets *pos
 * just past the value; on failure returns LR_EPARSE (malformed or truncated)
 * or LR_ENOMEM (no memory for nesting past LR_JSON_MAX_DEPTH) and leaves
 * *pos.
 */
int lr_json_skip_value(const char *s, size_t len, size_t *pos);

/*
 * Starts iterating the object whose '{' is at pos (whitespace before it is
 * allowed).  Returns 0, or LR_EPARSE if the next token is not '{'.
 */
int lr_json_iter_init(lr_json_iter *it, const char *s, size_t len, size_t pos);

/* Same as lr_json_iter_init for an array ('['). */
int lr_json_arr_init(lr_json_iter *it, const char *s, size_t len, size_t pos);

/*
 * Next object member.  Returns 1 and sets *key to the raw key token
 * INCLUDING its quotes (escapes undecoded) and *value to the exact bytes of
 * the value token, both validated; 0 at the closing '}' (and on every later
 * call); LR_EPARSE / LR_ENOMEM on malformed input (sticky: later calls
 * return it again); LR_EINVAL if `it` iterates an array.
 */
int lr_json_obj_next(lr_json_iter *it, lr_span *key, lr_span *value);

/* Next array element; same contract as lr_json_obj_next without the key. */
int lr_json_arr_next(lr_json_iter *it, lr_span *value);

/*
 * Returns 1 if the raw string token `rawstr` (with quotes, escapes
 * undecoded) decodes to exactly the NUL-terminated `lit`, else 0 (also 0 for
 * a malformed token, a lone surrogate, or a decoded U+0000 since `lit`
 * cannot contain one).
 */
int lr_json_str_eq(lr_span rawstr, const char *lit);

/*
 * Decodes the raw string token into UTF-8 in out[0..cap) and NUL-terminates
 * it.  Returns the decoded length (excluding the NUL; the text may contain
 * NUL bytes from "\u0000"), LR_ETOOBIG if length+1 > cap, LR_EPARSE if the
 * token is malformed (bad escape, lone surrogate, control byte, invalid
 * UTF-8, missing quotes).  On error out[0] is set to NUL when cap > 0.
 */
int lr_json_str_decode(lr_span rawstr, char *out, size_t cap);

/*
 * Writes in[0..n) as a JSON string token, quotes included, into out[0..cap)
 * followed by a NUL.  Escapes '"', '\\' and bytes below 0x20 (short forms
 * where JSON has them, \u00XX otherwise); everything else is copied.
 * Returns the token length (excluding the NUL), LR_ETOOBIG if it does not
 * fit, LR_EINVAL if `in` is not valid UTF-8 (it would make invalid JSON).
 */
int lr_json_str_encode(const char *in, size_t n, char *out, size_t cap);

/* The value of member `key` of the object token obj (the LAST if the key
 * repeats, as lr_json_find), or an empty span (p NULL) when obj is not an
 * object or has no such member. */
lr_span lr_json_member(lr_span obj, const char *key);

/*
 * Walks from the top-level value down `path`: an element spelled "[N]"
 * (N decimal, at most 9 digits) indexes an array, anything else is an
 * object key compared after decoding; with duplicate keys the LAST wins.
 * The whole document is validated first (one value, then only whitespace).
 * Returns 0 and sets *value to the raw value token; LR_ENOTFOUND if a step is
 * missing or has the wrong container type; LR_EPARSE / LR_ENOMEM if the
 * document is malformed or too deep.  npath == 0 yields the top-level value.
 */
int lr_json_find(const char *s, size_t len, const char *const *path,
	size_t npath, lr_span *value);

/*
 * Sets *line and *col (1-based) of byte offset off (clamped to len).  The
 * column counts UTF-8 characters, not bytes, so it matches what an editor
 * shows; a byte offset inside a multi-byte character counts as that char.
 */
void lr_json_linecol(const char *s, size_t len, size_t off, int *line, int *col);

/* Kind of a raw value token from its first byte; LR_JSON_INVALID if empty. */
lr_json_type lr_json_type_of(lr_span v);

/* 1 if v is exactly the token true / false / null, else 0. */
int lr_json_is_true(lr_span v);
int lr_json_is_false(lr_span v);
int lr_json_is_null(lr_span v);

/*
 * Parses v, which must be exactly one JSON number token and nothing else,
 * into *out.  Locale-independent (a host process may have set LC_NUMERIC).
 * Returns 0; LR_EPARSE if v is not a number token.  Out-of-range values
 * become +-HUGE_VAL or 0 as strtod does; they are still numbers.
 */
int lr_json_num(lr_span v, double *out);

/* Length (1-4) of the well-formed UTF-8 sequence at s[0..n), or 0 (an
 * overlong, a surrogate, past U+10FFFF, truncated, a stray byte). */
int lr_json_utf8_seq(const char *s, size_t n);

/*
 * Checks the text of a JSON document for what a JSON parser may let
 * through but JSON forbids: bytes that are not well-formed UTF-8, and \u
 * escapes naming a lone surrogate.  Returns 0, or LR_EPARSE with *bad the
 * offset of the first offence.  Does not check the JSON grammar.
 */
int lr_json_text_utf8(const char *s, size_t len, size_t *bad);

#endif
