/*
 * lr_json.c - zero-allocation strict JSON scanner (see lr_json.h).
 *
 * Invariants: every read is guarded by an index < len check (inputs are not
 * NUL-terminated; the vector loads only run while 16 or 8 bytes remain);
 * nesting is tracked on a fixed char stack of LR_JSON_MAX_DEPTH levels and,
 * only past that, one bit a level on the heap (lr_nest), never on the C
 * stack; nothing else allocates.
 *
 * Speed: chat bodies are mostly string bytes, so strings are scanned 16
 * bytes at a time (SSE2; 8 with portable SWAR elsewhere) and only bytes that
 * could end or complicate the string ('"', '\\', control, non-ASCII) take
 * the slow path.  In structure-heavy bodies the per-token cost dominates, so
 * the scanners pass positions by value (returning LR_BAD on error) to keep
 * them in registers, and digit runs are checked eight at a time.
 */
#include "lr_json.h"
#include "lr_error.h"
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum { LR_IT_FIRST, LR_IT_NEXT, LR_IT_DONE, LR_IT_ERROR };

/* Significant digits kept by lr_json_num; 17 identify a double, the rest
 * plus a sticky digit keep rounding right for all but absurd inputs. */
#define LR_NUM_DIGITS 40
#define LR_NUM_EXP_CAP 100000LL

static int lr_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t lr_ws(const char *s, size_t len, size_t i)
{
	while (i < len && lr_is_ws((unsigned char)s[i]))
		i++;
	return i;
}

int lr_json_skip_ws(const char *s, size_t len, size_t pos)
{
	if (!s || pos > len)
		pos = len;
	else
		pos = lr_ws(s, len, pos);
	return pos > INT_MAX ? LR_ETOOBIG : (int)pos;
}

/*
 * Length of the well-formed UTF-8 sequence at s[0..n), n >= 1, or 0.
 * Follows Unicode table 3-7, so overlongs, UTF-8-encoded surrogates and
 * code points past U+10FFFF are all rejected.
 */
static size_t lr_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t need, k;

	if (c < 0x80)
		return 1;
	if (c < 0xC2 || c > 0xF4)
		return 0;
	need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (k = 2; k < need; k++)
		if ((s[k] & 0xC0) != 0x80)
			return 0;
	return need;
}

#define LR_ONES 0x0101010101010101ULL
#define LR_HIGHS 0x8080808080808080ULL

/*
 * High bit set in each lane of w that is '"', '\\', < 0x20 or >= 0x80.
 * Borrows can also flag lanes after (more significant than) a real hit but
 * never before one, so on little-endian the lowest flag is the first hit.
 */
static uint64_t lr_special8(uint64_t w)
{
	uint64_t t = (w - LR_ONES * 0x20) | w;

	t |= (w ^ (LR_ONES * '"')) - LR_ONES;
	t |= (w ^ (LR_ONES * '\\')) - LR_ONES;
	return t & LR_HIGHS;
}

/* Kept out of line so the short-string fast path stays small. */
#if defined(__GNUC__)
#define LR_COLD __attribute__((noinline, cold))
#define LR_NOINLINE __attribute__((noinline))
#else
#define LR_COLD
#define LR_NOINLINE
#endif

/* The bytewise tail of the fast string scan. */
LR_COLD static size_t lr_str_tail(const unsigned char *u, size_t len, size_t i)
{
	uint64_t w, m;

	while (len - i >= 8) {
		memcpy(&w, u + i, 8);
		m = lr_special8(w);
		if (m) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
	__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			i += (size_t)__builtin_ctzll(m) >> 3;
#endif
			return i;
		}
		i += 8;
	}
	while (i < len && u[i] >= 0x20 && u[i] < 0x80 && u[i] != '"' &&
		u[i] != '\\')
		i++;
	return i;
}

/*
 * Offset of the first byte at or after i that may need the slow path, with
 * *quote set when that byte is known to be the closing '"' (saves reloading
 * it: on short strings this scan's latency is the per-string cost).
 * SSE2 (always there on x86-64) looks at 16 bytes per step; a signed
 * "less than 0x20" catches control bytes and non-ASCII in one compare.
 */
#if defined(__SSE2__) && defined(__GNUC__)
static size_t lr_str_fast(const unsigned char *u, size_t len, size_t i,
	int *quote)
{
	const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
	const __m128i sp = _mm_set1_epi8(0x20);
	__m128i x, mq, m;
	unsigned mask, qmask;

	while (len - i >= 16) {
		x = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
		mq = _mm_cmpeq_epi8(x, q);
		m = _mm_or_si128(mq, _mm_cmpeq_epi8(x, bs));
		m = _mm_or_si128(m, _mm_cmplt_epi8(x, sp));
		if ((mask = (unsigned)_mm_movemask_epi8(m)) != 0) {
			qmask = (unsigned)_mm_movemask_epi8(mq);
			*quote = (mask & (0u - mask) & qmask) != 0;
			return i + (size_t)__builtin_ctz(mask);
		}
		i += 16;
	}
	*quote = 0;
	return lr_str_tail(u, len, i);
}
#else
static size_t lr_str_fast(const unsigned char *u, size_t len, size_t i,
	int *quote)
{
	*quote = 0;
	return lr_str_tail(u, len, i);
}
#endif

static int lr_hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0, d;
	int k;

	for (k = 0; k < 4; k++) {
		if (p[k] >= '0' && p[k] <= '9')
			d = p[k] - '0';
		else if ((p[k] | 0x20) >= 'a' && (p[k] | 0x20) <= 'f')
			d = (p[k] | 0x20) - 'a' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

/*
 * Length of the escape sequence at u[i] == '\\' inside a string that may
 * run to len, or 0 if malformed.  Surrogates are not paired here: the
 * grammar allows lone ones (Python emits them) and the body rewriter passes
 * such content through untouched; only decoding rejects them.
 */
static size_t lr_escape_len(const unsigned char *u, size_t len, size_t i)
{
	unsigned cp;

	if (len - i < 2)
		return 0;
	switch (u[i + 1]) {
	case '"': case '\\': case '/': case 'b':
	case 'f': case 'n': case 'r': case 't':
		return 2;
	case 'u':
		if (len - i < 6 || lr_hex4(u + i + 2, &cp))
			return 0;
		return 6;
	}
	return 0;
}

/* Position returned by the scanners below for malformed input. */
#define LR_BAD ((size_t)-1)

/* Validates a run of UTF-8 sequences starting at the non-ASCII u[i]; a
 * tight loop so that non-Latin text does not re-enter the vector scan per
 * character.  Returns the offset after the run or LR_BAD. */
static size_t lr_utf8_run(const unsigned char *u, size_t len, size_t i)
{
	size_t n;

	while (i < len && u[i] >= 0x80) {
		if (!(n = lr_utf8_len(u + i, len - i)))
			return LR_BAD;
		i += n;
	}
	return i;
}

/*
 * The byte at u[i] stopped the fast scan and is not the closing quote:
 * an escape, UTF-8, a control byte, or a false flag.  Returns the offset
 * to resume scanning at, or LR_BAD.
 */
LR_NOINLINE static size_t lr_str_special(const unsigned char *u, size_t len,
	size_t i)
{
	size_t n;

	if (u[i] >= 0x80)
		return lr_utf8_run(u, len, i);
	if (u[i] == '\\')
		n = lr_escape_len(u, len, i);
	else
		n = u[i] >= 0x20 && u[i] != '"'; /* 1 on a false flag */
	return n ? i + n : LR_BAD;
}

/* 1 for the byte after a backslash of a two-byte escape. */
static int lr_simple_escape(unsigned char c)
{
	return c == '"' || c == '\\' || c == 'n' || c == '/' || c == 't' || c == 'r' || c == 'b' ||
	       c == 'f';
}

/*
 * The string body from u[i] on, a piece at a time (lr_str_fast), until its
 * closing quote; returns the offset past it, or LR_BAD.  Used for the last
 * 15 bytes of the input and wherever lr_scan_str's block loop stops.
 */
static size_t lr_scan_str_rest(const unsigned char *u, size_t len, size_t i)
{
	int quote;

	for (;;) {
		i = lr_str_fast(u, len, i, &quote);
		if (quote)
			return i + 1;
		if (i >= len)
			return LR_BAD;
		if (u[i] == '"')
			return i + 1;
		/* the usual escapes (\" \\ \n) inline: prose is full of them, and a
		 * call per escape was most of the cost of a long message */
		if (u[i] == '\\' && len - i >= 2 && lr_simple_escape(u[i + 1])) {
			i += 2;
			continue;
		}
		if ((i = lr_str_special(u, len, i)) == LR_BAD)
			return LR_BAD;
	}
}

/*
 * Validates the string token whose '"' is at s[i]; returns the offset just
 * past its closing quote, or LR_BAD.  Positions travel by value through the
 * scanners so they stay in registers: per-token cost is what dominates
 * structure-heavy bodies.
 *
 * With SSE2, a 16-byte block is classified once and every flagged byte in
 * it handled from the mask: prose has a two-byte escape every 15 to 20
 * bytes, and reloading and reclassifying the block after each one was
 * most of the cost of a long message (issue 19).  Anything but '"' and a
 * two-byte escape wholly inside the block goes to lr_scan_str_rest's
 * general handling and the loop resumes after it.
 */
#if defined(__SSE2__) && defined(__GNUC__)
/* 1 for the byte after a backslash of a two-byte escape, as a table: the
 * block loop below tests one per escape. */
static const unsigned char lr_esc2[256] = {
	['"'] = 1, ['\\'] = 1, ['/'] = 1, ['b'] = 1,
	['f'] = 1, ['n'] = 1, ['r'] = 1, ['t'] = 1,
};

static size_t lr_scan_str(const char *s, size_t len, size_t i)
{
	const unsigned char *u = (const unsigned char *)s;
	const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
	const __m128i sp = _mm_set1_epi8(0x20);
	__m128i x, mq, m;
	unsigned qm, mask, k;

	for (i++; len - i >= 16;) {
		x = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
		mq = _mm_cmpeq_epi8(x, q);
		m = _mm_or_si128(_mm_or_si128(mq, _mm_cmpeq_epi8(x, bs)), _mm_cmplt_epi8(x, sp));
		mask = (unsigned)_mm_movemask_epi8(m);
		/* the quote mask only once something is flagged: most short
		 * strings end in their first block */
		qm = mask ? (unsigned)_mm_movemask_epi8(mq) : 0;
		for (; mask; mask &= ~0u << (k + 2)) {
			k = (unsigned)__builtin_ctz(mask);
			if (qm >> k & 1)
				return i + k + 1;
			/* k < 15: the escaped byte is inside the block */
			if (u[i + k] != '\\' || k == 15 || !lr_esc2[u[i + k + 1]])
				goto special;
		}
		i += 16;
		continue;
special:
		if ((i = lr_str_special(u, len, i + k)) == LR_BAD)
			return LR_BAD;
	}
	return lr_scan_str_rest(u, len, i);
}
#else
static size_t lr_scan_str(const char *s, size_t len, size_t i)
{
	return lr_scan_str_rest((const unsigned char *)s, len, i + 1);
}
#endif

/* Digits at s[i..); eight at a time first (a byte is a digit iff its high
 * nibble is 3 both before and after adding 6), since number-heavy bodies
 * (token ids, logit_bias, embeddings) otherwise pay a branch per digit. */
static size_t lr_digits(const char *s, size_t len, size_t i)
{
	const uint64_t hi = 0xF0F0F0F0F0F0F0F0ULL, threes = LR_ONES * 0x30;
	uint64_t w;

	while (len - i >= 8) {
		memcpy(&w, s + i, 8);
		if ((w & hi) != threes || ((w + LR_ONES * 6) & hi) != threes)
			break;
		i += 8;
	}
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at s[i]; end or LR_BAD. */
static size_t lr_scan_num(const char *s, size_t len, size_t i)
{
	size_t j;

	if (i < len && s[i] == '-')
		i++;
	if (i >= len || s[i] < '0' || s[i] > '9')
		return LR_BAD;
	i = s[i] == '0' ? i + 1 : lr_digits(s, len, i);
	if (i < len && s[i] == '.') {
		j = lr_digits(s, len, i + 1);
		if (j == i + 1)
			return LR_BAD;
		i = j;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		j = lr_digits(s, len, i);
		if (j == i)
			return LR_BAD;
		i = j;
	}
	return i;
}

static size_t lr_scan_lit(const char *s, size_t len, size_t i, const char *lit,
	size_t n)
{
	if (len - i < n || memcmp(s + i, lit, n) != 0)
		return LR_BAD;
	return i + n;
}

/* Any value that is not a container, at s[i] (i < len, no whitespace). */
static size_t lr_scan_scalar(const char *s, size_t len, size_t i)
{
	switch (s[i]) {
	case '"': return lr_scan_str(s, len, i);
	case 't': return lr_scan_lit(s, len, i, "true", 4);
	case 'f': return lr_scan_lit(s, len, i, "false", 5);
	case 'n': return lr_scan_lit(s, len, i, "null", 4);
	}
	return lr_scan_num(s, len, i);
}

/* `ws "key" ws :` at s[i]; returns the offset past the colon or LR_BAD. */
static size_t lr_scan_key(const char *s, size_t len, size_t i)
{
	i = lr_ws(s, len, i);
	if (i >= len || s[i] != '"')
		return LR_BAD;
	if ((i = lr_scan_str(s, len, i)) == LR_BAD)
		return LR_BAD;
	i = lr_ws(s, len, i);
	if (i >= len || s[i] != ':')
		return LR_BAD;
	return i + 1;
}

/* '{' -> '}', '[' -> ']' */
static char lr_closer(char open)
{
	return open == '{' ? '}' : ']';
}

/*
 * The kinds of the open containers.  The first LR_JSON_MAX_DEPTH levels sit
 * in a fixed array; nesting past that (bounded only by the input: two bytes
 * a level) takes one bit a level on the heap, grown by doubling and freed by
 * lr_skip, so only a document that deep ever allocates.
 */
typedef struct {
	char small[LR_JSON_MAX_DEPTH];
	unsigned char *big; /* bit k: level LR_JSON_MAX_DEPTH + k is an object */
	size_t bits;        /* capacity of big, in bits */
} lr_nest;

static int lr_nest_push(lr_nest *n, size_t depth, char open)
{
	size_t k = depth - LR_JSON_MAX_DEPTH;
	unsigned char *b;

	if (depth < LR_JSON_MAX_DEPTH) {
		n->small[depth] = open;
		return 0;
	}
	if (k >= n->bits) {
		if (!(b = realloc(n->big, n->bits ? n->bits / 4 : 512)))
			return LR_ENOMEM;
		n->big = b;
		n->bits = n->bits ? 2 * n->bits : 4096;
	}
	if (open == '{')
		n->big[k / 8] |= (unsigned char)(1u << (k % 8));
	else
		n->big[k / 8] &= (unsigned char)~(1u << (k % 8));
	return 0;
}

static char lr_nest_at(const lr_nest *n, size_t depth)
{
	size_t k = depth - LR_JSON_MAX_DEPTH;

	if (depth < LR_JSON_MAX_DEPTH)
		return n->small[depth];
	return (n->big[k / 8] >> (k % 8)) & 1 ? '{' : '[';
}

/*
 * After a value ended at s[i] inside `depth` open containers: closes those
 * that end here and steps over the next ','.  Returns the offset of what
 * comes next (a key if the innermost open container is an object, else a
 * value; with *depth == 0 the outermost value is complete) or LR_BAD.
 */
static size_t lr_after_value(const char *s, size_t len, size_t i,
	const lr_nest *nest, size_t *depth)
{
	while (*depth > 0) {
		i = lr_ws(s, len, i);
		if (i >= len)
			return LR_BAD;
		if (s[i] == ',')
			return i + 1;
		if (s[i] != lr_closer(lr_nest_at(nest, *depth - 1)))
			return LR_BAD;
		i++;
		(*depth)--;
	}
	return i;
}

static int lr_skip_nested(const char *s, size_t len, size_t *pos, lr_nest *nest)
{
	size_t depth = 0, i = *pos;
	int key = 0;

	for (;;) {
		if (key && (i = lr_scan_key(s, len, i)) == LR_BAD)
			return LR_EPARSE;
		i = lr_ws(s, len, i);
		if (i >= len)
			return LR_EPARSE;
		if (s[i] == '{' || s[i] == '[') {
			char open = s[i];
			i = lr_ws(s, len, i + 1);
			if (i >= len || s[i] != lr_closer(open)) {
				if (lr_nest_push(nest, depth, open) < 0)
					return LR_ENOMEM;
				depth++;
				key = open == '{';
				continue; /* first member or element follows */
			}
			i++; /* empty: a complete value */
		} else if ((i = lr_scan_scalar(s, len, i)) == LR_BAD) {
			return LR_EPARSE;
		}
		if ((i = lr_after_value(s, len, i, nest, &depth)) == LR_BAD)
			return LR_EPARSE;
		if (depth == 0)
			break;
		key = lr_nest_at(nest, depth - 1) == '{';
	}
	*pos = i;
	return 0;
}

/*
 * lr_json_skip_value's work.  Nesting lives in an lr_nest, never on the C
 * stack, and has no limit but the input, so a top-level key after a value
 * nested 10,000 deep is still found.
 */
static int lr_skip(const char *s, size_t len, size_t *pos)
{
	lr_nest nest;
	int rc;

	nest.big = NULL;
	nest.bits = 0;
	rc = lr_skip_nested(s, len, pos, &nest);
	if (nest.big)
		free(nest.big);
	return rc;
}

int lr_json_skip_value(const char *s, size_t len, size_t *pos)
{
	return lr_skip(s, len, pos);
}

static int lr_iter_start(lr_json_iter *it, const char *s, size_t len,
	size_t pos, int kind)
{
	if (!it)
		return LR_EINVAL;
	it->s = s;
	it->len = len;
	it->kind = kind;
	it->state = LR_IT_ERROR;
	it->err = LR_EPARSE;
	it->pos = 0;
	if (!s || pos > len)
		return LR_EPARSE;
	pos = lr_ws(s, len, pos);
	if (pos >= len || s[pos] != kind)
		return LR_EPARSE;
	it->pos = pos + 1;
	it->state = LR_IT_FIRST;
	it->err = 0;
	return 0;
}

int lr_json_iter_init(lr_json_iter *it, const char *s, size_t len, size_t pos)
{
	return lr_iter_start(it, s, len, pos, '{');
}

int lr_json_arr_init(lr_json_iter *it, const char *s, size_t len, size_t pos)
{
	return lr_iter_start(it, s, len, pos, '[');
}

static int lr_iter_fail(lr_json_iter *it, int rc)
{
	it->state = LR_IT_ERROR;
	it->err = rc;
	return rc;
}

/*
 * Moves it->pos to the start of the next element (past any ','); returns 1
 * if there is one, 0 (and finishes) at the closing bracket, or an error.
 */
static int lr_iter_step(lr_json_iter *it, int kind)
{
	size_t i;

	if (it->kind != kind)
		return LR_EINVAL;
	if (it->state == LR_IT_DONE)
		return 0;
	if (it->state == LR_IT_ERROR)
		return it->err;
	i = lr_ws(it->s, it->len, it->pos);
	if (i >= it->len)
		return lr_iter_fail(it, LR_EPARSE);
	if (it->s[i] == (kind == '{' ? '}' : ']')) {
		it->pos = i + 1;
		it->state = LR_IT_DONE;
		return 0;
	}
	if (it->state == LR_IT_NEXT) {
		if (it->s[i] != ',')
			return lr_iter_fail(it, LR_EPARSE);
		i = lr_ws(it->s, it->len, i + 1);
	}
	it->pos = i;
	return 1;
}

/* Skips the value at it->pos and reports its span. */
static int lr_iter_value(lr_json_iter *it, lr_span *value)
{
	size_t i = lr_ws(it->s, it->len, it->pos), start = i;
	int rc = lr_skip(it->s, it->len, &i);

	if (rc < 0)
		return lr_iter_fail(it, rc);
	if (value) {
		value->p = it->s + start;
		value->len = i - start;
	}
	it->pos = i;
	it->state = LR_IT_NEXT;
	return 1;
}

int lr_json_obj_next(lr_json_iter *it, lr_span *key, lr_span *value)
{
	size_t k, i;
	int rc;

	if (!it)
		return LR_EINVAL;
	if ((rc = lr_iter_step(it, '{')) <= 0)
		return rc;
	k = i = it->pos;
	if (i >= it->len || it->s[i] != '"')
		return lr_iter_fail(it, LR_EPARSE);
	if ((i = lr_scan_str(it->s, it->len, i)) == LR_BAD)
		return lr_iter_fail(it, LR_EPARSE);
	if (key) {
		key->p = it->s + k;
		key->len = i - k;
	}
	i = lr_ws(it->s, it->len, i);
	if (i >= it->len || it->s[i] != ':')
		return lr_iter_fail(it, LR_EPARSE);
	it->pos = i + 1;
	return lr_iter_value(it, value);
}

int lr_json_arr_next(lr_json_iter *it, lr_span *value)
{
	int rc;

	if (!it)
		return LR_EINVAL;
	if ((rc = lr_iter_step(it, '[')) <= 0)
		return rc;
	return lr_iter_value(it, value);
}

static size_t lr_utf8_put(unsigned cp, unsigned char *b)
{
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (unsigned char)(0xC0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (unsigned char)(0xE0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	b[0] = (unsigned char)(0xF0 | cp >> 18);
	b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
	b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
	b[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* \uXXXX at p[*i] (already known to be "\u"), pairing surrogates. */
static int lr_decode_u(const unsigned char *p, size_t end, size_t *i,
	unsigned char *buf)
{
	size_t k = *i;
	unsigned cp, lo;

	if (end - k < 6 || lr_hex4(p + k + 2, &cp))
		return LR_EPARSE;
	k += 6;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return LR_EPARSE;
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (end - k < 6 || p[k] != '\\' || p[k + 1] != 'u' ||
			lr_hex4(p + k + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
			return LR_EPARSE;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		k += 6;
	}
	*i = k;
	return (int)lr_utf8_put(cp, buf);
}

/* The byte a short escape \\c stands for, or -1 if c is not one. */
static int lr_unescape(unsigned char c)
{
	switch (c) {
	case '"': case '\\': case '/': return c;
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	}
	return -1;
}

/*
 * Decodes one character of a string body p[*i..end) into buf (up to 4
 * bytes); returns the byte count or LR_EPARSE.
 */
static int lr_decode_unit(const unsigned char *p, size_t end, size_t *i,
	unsigned char *buf)
{
	size_t k = *i, n;
	int c;

	if (p[k] == '"' || p[k] < 0x20)
		return LR_EPARSE;
	if (p[k] < 0x80 && p[k] != '\\') {
		buf[0] = p[k];
		*i = k + 1;
		return 1;
	}
	if (p[k] != '\\') {
		if (!(n = lr_utf8_len(p + k, end - k)))
			return LR_EPARSE;
		memcpy(buf, p + k, n);
		*i = k + n;
		return (int)n;
	}
	if (end - k < 2)
		return LR_EPARSE;
	if (p[k + 1] == 'u')
		return lr_decode_u(p, end, i, buf);
	if ((c = lr_unescape(p[k + 1])) < 0)
		return LR_EPARSE;
	buf[0] = (unsigned char)c;
	*i = k + 2;
	return 1;
}

/* A raw string token must at least be framed by quotes. */
static int lr_str_framed(lr_span raw)
{
	return raw.p && raw.len >= 2 && raw.p[0] == '"' &&
		raw.p[raw.len - 1] == '"';
}

int lr_json_str_eq(lr_span rawstr, const char *lit)
{
	const unsigned char *p = (const unsigned char *)rawstr.p;
	unsigned char buf[4];
	size_t i = 1, j = 0, end;
	int n, k;

	if (!lit || !lr_str_framed(rawstr))
		return 0;
	end = rawstr.len - 1;
	while (i < end) {
		/* plain ASCII, the usual key, compares without decoding */
		if (p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\') {
			if ((unsigned char)lit[j] != p[i])
				return 0;
			i++;
			j++;
			continue;
		}
		if ((n = lr_decode_unit(p, end, &i, buf)) < 0)
			return 0;
		for (k = 0; k < n; k++, j++)
			if (lit[j] == '\0' || (unsigned char)lit[j] != buf[k])
				return 0;
	}
	return lit[j] == '\0';
}

int lr_json_str_decode(lr_span rawstr, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)rawstr.p;
	unsigned char buf[4];
	size_t i = 1, o = 0, end;
	int n, rc = LR_EPARSE;

	if (!out)
		return LR_EINVAL;
	if (!lr_str_framed(rawstr))
		goto fail;
	end = rawstr.len - 1;
	while (i < end) {
		size_t run = i;
		/* plain ASCII copies as a run: most text is, and a byte at a time
		 * costs a call and a copy each */
		while (run < end && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '\\' && p[run] != '"')
			run++;
		if (run > i) {
			if (cap - o <= run - i || o + (run - i) > INT_MAX) {
				rc = LR_ETOOBIG;
				goto fail;
			}
			memcpy(out + o, p + i, run - i);
			o += run - i;
			i = run;
			continue;
		}
		if ((n = lr_decode_unit(p, end, &i, buf)) < 0)
			goto fail;
		if (cap - o <= (size_t)n || o + (size_t)n > INT_MAX) {
			rc = LR_ETOOBIG;
			goto fail;
		}
		memcpy(out + o, buf, (size_t)n);
		o += (size_t)n;
	}
	if (o >= cap) {
		rc = LR_ETOOBIG;
		goto fail;
	}
	out[o] = '\0';
	return (int)o;
fail:
	if (cap)
		out[0] = '\0';
	return rc;
}

/* The JSON spelling of ASCII byte c into esc; returns its length. */
static size_t lr_escape_ascii(unsigned char c, char *esc)
{
	static const char hex[] = "0123456789abcdef";
	char e;

	switch (c) {
	case '"': e = '"'; break;
	case '\\': e = '\\'; break;
	case '\b': e = 'b'; break;
	case '\f': e = 'f'; break;
	case '\n': e = 'n'; break;
	case '\r': e = 'r'; break;
	case '\t': e = 't'; break;
	default:
		if (c >= 0x20) {
			esc[0] = (char)c;
			return 1;
		}
		memcpy(esc, "\\u00", 4);
		esc[4] = hex[c >> 4];
		esc[5] = hex[c & 15];
		return 6;
	}
	esc[0] = '\\';
	esc[1] = e;
	return 2;
}

static int lr_put(char *out, size_t cap, size_t *o, const char *src, size_t n)
{
	if (cap - *o <= n) /* keep room for the NUL */
		return LR_ETOOBIG;
	memcpy(out + *o, src, n);
	*o += n;
	return 0;
}

int lr_json_str_encode(const char *in, size_t n, char *out, size_t cap)
{
	const unsigned char *u = (const unsigned char *)in;
	size_t i = 0, o = 0, k;
	char esc[6];
	int rc;

	if ((!in && n) || !out)
		return LR_EINVAL;
	if (cap == 0)
		return LR_ETOOBIG;
	if ((rc = lr_put(out, cap, &o, "\"", 1)) < 0)
		goto fail;
	while (i < n) {
		if (u[i] >= 0x80) {
			rc = LR_EINVAL;
			if (!(k = lr_utf8_len(u + i, n - i)) ||
				(rc = lr_put(out, cap, &o, in + i, k)) < 0)
				goto fail;
			i += k;
			continue;
		}
		k = lr_escape_ascii(u[i++], esc);
		if ((rc = lr_put(out, cap, &o, esc, k)) < 0)
			goto fail;
	}
	if ((rc = lr_put(out, cap, &o, "\"", 1)) < 0 || o > INT_MAX) {
		rc = LR_ETOOBIG;
		goto fail;
	}
	out[o] = '\0';
	return (int)o;
fail:
	out[0] = '\0';
	return rc;
}

/* "[N]" with 1..9 decimal digits -> N; anything else -> -1 (a key). */
static long lr_path_index(const char *step)
{
	size_t n = strlen(step), k;
	long v = 0;

	if (n < 3 || n > 11 || step[0] != '[' || step[n - 1] != ']')
		return -1;
	for (k = 1; k + 1 < n; k++) {
		if (step[k] < '0' || step[k] > '9')
			return -1;
		v = v * 10 + (step[k] - '0');
	}
	return v;
}

/* Member `key` of the object cur (last one wins) into *next. */
static int lr_find_key(lr_span cur, const char *key, lr_span *next)
{
	lr_json_iter it;
	lr_span k, v;
	int rc, found = 0;

	if (lr_json_iter_init(&it, cur.p, cur.len, 0) < 0)
		return LR_ENOTFOUND;
	while ((rc = lr_json_obj_next(&it, &k, &v)) > 0) {
		if (lr_json_str_eq(k, key)) {
			*next = v;
			found = 1;
		}
	}
	if (rc < 0)
		return rc;
	return found ? 0 : LR_ENOTFOUND;
}

/* Element idx of the array cur into *next. */
static int lr_find_index(lr_span cur, size_t idx, lr_span *next)
{
	lr_json_iter it;
	lr_span v;
	size_t n = 0;
	int rc;

	if (lr_json_arr_init(&it, cur.p, cur.len, 0) < 0)
		return LR_ENOTFOUND;
	while ((rc = lr_json_arr_next(&it, &v)) > 0) {
		if (n++ == idx) {
			*next = v;
			return 0;
		}
	}
	return rc < 0 ? rc : LR_ENOTFOUND;
}

int lr_json_find(const char *s, size_t len, const char *const *path,
	size_t npath, lr_span *value)
{
	size_t i, start, k;
	lr_span cur;
	long idx;
	int rc;

	if (!s)
		return LR_EPARSE;
	if (npath && !path)
		return LR_EINVAL;
	if (len > INT_MAX)
		return LR_ETOOBIG;
	start = i = lr_ws(s, len, 0);
	if ((rc = lr_json_skip_value(s, len, &i)) < 0)
		return rc;
	if (lr_ws(s, len, i) != len)
		return LR_EPARSE;
	cur.p = s + start;
	cur.len = i - start;
	for (k = 0; k < npath; k++) {
		if (!path[k])
			return LR_EINVAL;
		idx = lr_path_index(path[k]);
		rc = idx >= 0 ? lr_find_index(cur, (size_t)idx, &cur) :
			lr_find_key(cur, path[k], &cur);
		if (rc < 0)
			return rc;
	}
	if (value)
		*value = cur;
	return 0;
}

void lr_json_linecol(const char *s, size_t len, size_t off, int *line, int *col)
{
	size_t i, bol = 0, ln = 1, chars = 0;

	if (!s)
		len = 0;
	if (off > len)
		off = len;
	for (i = 0; i < off; i++) {
		if (s[i] == '\n') {
			ln++;
			bol = i + 1;
		}
	}
	for (i = bol; i < off; i++)
		chars += ((unsigned char)s[i] & 0xC0) != 0x80;
	/* inside a multi-byte char: its lead byte was counted, report that char */
	if (off < len && ((unsigned char)s[off] & 0xC0) == 0x80 && chars > 0)
		chars--;
	if (line)
		*line = ln > INT_MAX ? INT_MAX : (int)ln;
	if (col)
		*col = chars >= INT_MAX ? INT_MAX : (int)chars + 1;
}

lr_json_type lr_json_type_of(lr_span v)
{
	if (!v.p || v.len == 0)
		return LR_JSON_INVALID;
	switch (v.p[0]) {
	case '{': return LR_JSON_OBJECT;
	case '[': return LR_JSON_ARRAY;
	case '"': return LR_JSON_STRING;
	case 't': return LR_JSON_TRUE;
	case 'f': return LR_JSON_FALSE;
	case 'n': return LR_JSON_NULL;
	}
	if (v.p[0] == '-' || (v.p[0] >= '0' && v.p[0] <= '9'))
		return LR_JSON_NUMBER;
	return LR_JSON_INVALID;
}

static int lr_span_is(lr_span v, const char *lit)
{
	size_t n = strlen(lit);

	return v.p && v.len == n && memcmp(v.p, lit, n) == 0;
}

int lr_json_is_true(lr_span v)
{
	return lr_span_is(v, "true");
}

int lr_json_is_false(lr_span v)
{
	return lr_span_is(v, "false");
}

int lr_json_is_null(lr_span v)
{
	return lr_span_is(v, "null");
}

/*
 * Significant digits of a validated number token p[0..n) into d (no leading
 * zeros, at most LR_NUM_DIGITS, plus a sticky '1' standing for any non-zero
 * digits cut off) and the power of ten they are scaled by into *e.  Returns
 * the digit count; *end is the offset of the exponent marker (or n).
 */
static size_t lr_num_digits(const char *p, size_t n, char *d, long long *e,
	size_t *end)
{
	size_t i, nd = 0;
	int frac = 0, sticky = 0;
	long long sc = 0;

	for (i = 0; i < n && p[i] != 'e' && p[i] != 'E'; i++) {
		if (p[i] == '.' || p[i] == '-') {
			frac |= p[i] == '.';
		} else if (nd == 0 && p[i] == '0') {
			sc -= frac;
		} else if (nd < LR_NUM_DIGITS) {
			d[nd++] = p[i];
			sc -= frac;
		} else {
			sticky |= p[i] != '0';
			sc += !frac;
		}
	}
	if (sticky) {
		d[nd++] = '1';
		sc--;
	}
	*e = sc;
	*end = i;
	return nd;
}

/* Exponent digits after the marker at p[i], saturated far beyond any
 * digit-count scale so the sum with it cannot overflow or mislead. */
static long long lr_num_exp(const char *p, size_t n, size_t i)
{
	long long ex = 0;
	int neg = 0;

	if (i >= n)
		return 0;
	i++;
	if (i < n && (p[i] == '+' || p[i] == '-'))
		neg = p[i++] == '-';
	for (; i < n; i++)
		if (ex < 1000000000000LL)
			ex = ex * 10 + (p[i] - '0');
	return neg ? -ex : ex;
}

/* A token of at most 15 digits alone (a count, a token number: most
 * numbers in an answer) is an integer a double holds exactly: strtod would
 * give the same value, at a tenth of the cost.  Returns 1 when it was one. */
static int lr_num_small_int(lr_span v, double *out)
{
	long long n = 0;
	size_t i;

	if (v.len > 15)
		return 0;
	for (i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return 0;
		n = n * 10 + (v.p[i] - '0');
	}
	*out = (double)n;
	return 1;
}

int lr_json_num(lr_span v, double *out)
{
	char d[LR_NUM_DIGITS + 1], buf[LR_NUM_DIGITS + 32];
	size_t i = 0, nd, end;
	long long e;
	int saved = errno;

	if (!v.p || !out)
		return LR_EPARSE;
	if (lr_scan_num(v.p, v.len, i) != v.len)
		return LR_EPARSE;
	if (lr_num_small_int(v, out))
		return 0;
	nd = lr_num_digits(v.p, v.len, d, &e, &end);
	e += lr_num_exp(v.p, v.len, end);
	if (e > LR_NUM_EXP_CAP)
		e = LR_NUM_EXP_CAP;
	if (e < -LR_NUM_EXP_CAP)
		e = -LR_NUM_EXP_CAP;
	/* Integer mantissa and exponent only: no radix character, so the
	 * host's LC_NUMERIC cannot change the result. */
	snprintf(buf, sizeof buf, "%s%.*se%lld", v.p[0] == '-' ? "-" : "",
		(int)(nd ? nd : 1), nd ? d : "0", nd ? e : 0);
	*out = strtod(buf, NULL);
	errno = saved;
	return 0;
}

lr_span lr_json_member(lr_span obj, const char *key)
{
	lr_json_iter it;
	lr_span k, v, found = {0};

	if (lr_json_type_of(obj) != LR_JSON_OBJECT || lr_json_iter_init(&it, obj.p, obj.len, 0) < 0)
		return found;
	while (lr_json_obj_next(&it, &k, &v) == 1)
		if (lr_json_str_eq(k, key))
			found = v;
	return found;
}

int lr_json_utf8_seq(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	int k, i;

	if (!n)
		return 0;
	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		k = 2;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		k = 3;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		k = 4;
	else
		return 0; /* a continuation byte, an overlong lead, past U+10FFFF */
	if (u[0] == 0xe0)
		lo = 0xa0; /* overlong */
	else if (u[0] == 0xed)
		hi = 0x9f; /* a surrogate */
	else if (u[0] == 0xf0)
		lo = 0x90; /* overlong */
	else if (u[0] == 0xf4)
		hi = 0x8f; /* past U+10FFFF */
	if (n < (size_t)k || u[1] < lo || u[1] > hi)
		return 0;
	for (i = 2; i < k; i++)
		if (u[i] < 0x80 || u[i] > 0xbf)
			return 0;
	return k;
}

static long lr_hex4_at(const char *s, size_t n)
{
	long v = 0;
	size_t i;
	int d;

	if (n < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		d = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f' ? (s[i] | 0x20) - 'a' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

int lr_json_text_utf8(const char *s, size_t len, size_t *bad)
{
	size_t i = 0;
	int in_str = 0, k;
	long a, b;

	while (i < len) {
		if ((unsigned char)s[i] >= 0x80) {
			if (!(k = lr_json_utf8_seq(s + i, len - i)))
				goto bad;
			i += (size_t)k;
			continue;
		}
		if (s[i] == '"') {
			in_str = !in_str;
		} else if (in_str && s[i] == '\\' && i + 1 < len) {
			if (s[i + 1] == 'u' && (a = lr_hex4_at(s + i + 2, len - i - 2)) >= 0) {
				if (a >= 0xdc00 && a <= 0xdfff)
					goto bad;
				if (a >= 0xd800 && a <= 0xdbff) {
					if (i + 12 > len || s[i + 6] != '\\' || s[i + 7] != 'u' ||
					    (b = lr_hex4_at(s + i + 8, len - i - 8)) < 0xdc00 || b > 0xdfff)
						goto bad;
					i += 6;
				}
				i += 6;
				continue;
			}
			i++;
		}
		i++;
	}
	return 0;
bad:
	*bad = i;
	return LR_EPARSE;
}
