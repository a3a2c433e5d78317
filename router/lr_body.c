/*
 * lr_body.c - byte-preserving edits of a request body (see lr_body.h).
 *
 * Two phases, so that a malformed body changes nothing and the output is
 * allocated once at its exact size:
 *   1. plan: one validating pass over the top-level members (lr_json
 *      iterator) records which value spans to replace and where appended
 *      members go, and computes the output length;
 *   2. emit: memcpy the gaps between planned spans, splice the new tokens.
 * The plan keeps its first replacements inline; only bodies with many
 * duplicate keys make it allocate.  Invariant: planned spans are disjoint,
 * in increasing offset order, and all end at or before the insertion point
 * (the end of the last member's value).
 */
#include "lr_body.h"
#include "lr_error.h"
#include "lr_json.h"
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define LR_SPLICE_INLINE 16
#define LR_KEY_ENC_MAX (6 * LR_BODY_MAX_KEY + 3) /* every byte \u00XX + quotes + NUL */

typedef struct {
	size_t off, len;   /* value span in the body */
	size_t edit;       /* index of the edit whose raw replaces it */
} lr_body_rep;

typedef struct {
	lr_body_rep inl[LR_SPLICE_INLINE];
	lr_body_rep *rep;  /* inl, or heap once it overflows */
	size_t nrep, caprep;
	size_t ins;        /* offset where appended members go */
	size_t outlen;
	int members;       /* the object has at least one member */
	int append;        /* absent keys may be appended */
	int nins;
	size_t rawlen[LR_BODY_MAX_EDITS];
	double cap[LR_BODY_MAX_EDITS];         /* CAP edits: raw as a number */
	unsigned char present[LR_BODY_MAX_EDITS];
} lr_splice;

static void lr_splice_init(lr_splice *pl, size_t len, int append)
{
	memset(pl->present, 0, sizeof pl->present);
	pl->rep = pl->inl;
	pl->nrep = 0;
	pl->caprep = LR_SPLICE_INLINE;
	pl->ins = 0;
	pl->outlen = len;
	pl->members = 0;
	pl->append = append;
	pl->nins = 0;
}

static void lr_splice_free(lr_splice *pl)
{
	if (pl->rep != pl->inl)
		free(pl->rep);
	pl->rep = pl->inl;
}

/* Output grows by add after shrinking by sub; keeps it under the cap. */
static int lr_splice_grow(lr_splice *pl, size_t sub, size_t add)
{
	size_t base = pl->outlen - sub;

	if (add > LR_BODY_MAX_OUT - base)
		return LR_ETOOBIG;
	pl->outlen = base + add;
	return 0;
}

static int lr_splice_add(lr_splice *pl, size_t off, size_t len, size_t edit)
{
	lr_body_rep *r;
	int rc;

	if ((rc = lr_splice_grow(pl, len, pl->rawlen[edit])) < 0)
		return rc;
	if (pl->nrep == pl->caprep) {
		if (!(r = malloc(2 * pl->caprep * sizeof *r)))
			return LR_ENOMEM;
		memcpy(r, pl->rep, pl->nrep * sizeof *r);
		lr_splice_free(pl);
		pl->rep = r;
		pl->caprep *= 2;
	}
	pl->rep[pl->nrep].off = off;
	pl->rep[pl->nrep].len = len;
	pl->rep[pl->nrep].edit = edit;
	pl->nrep++;
	return 0;
}

/* Checks one edit and caches its raw length (and CAP number) in the plan. */
static int lr_edit_check(const lr_edit *e, size_t j, lr_splice *pl)
{
	char enc[LR_KEY_ENC_MAX];
	size_t n, pos = 0;
	lr_span v;

	if (!e->key || !e->raw || strlen(e->key) > LR_BODY_MAX_KEY)
		return LR_EINVAL;
	if (lr_json_str_encode(e->key, strlen(e->key), enc, sizeof enc) < 0)
		return LR_EINVAL;
	n = strlen(e->raw);
	if (n > LR_BODY_MAX_RAW || lr_json_skip_value(e->raw, n, &pos) < 0 ||
		lr_json_skip_ws(e->raw, n, pos) != (int)n)
		return LR_EINVAL;
	pl->rawlen[j] = n;
	if (e->op == LR_EDIT_CAP) {
		v.p = e->raw + lr_json_skip_ws(e->raw, n, 0);
		v.len = e->raw + pos - v.p;
		if (lr_json_num(v, &pl->cap[j]) < 0)
			return LR_EINVAL;
	} else if (e->op != LR_EDIT_SET && e->op != LR_EDIT_SET_IF_ABSENT) {
		return LR_EINVAL;
	}
	return 0;
}

static int lr_edits_check(const lr_edit *edits, size_t n, lr_splice *pl)
{
	size_t j, k;
	int rc;

	if (n > LR_BODY_MAX_EDITS || (n && !edits))
		return LR_EINVAL;
	for (j = 0; j < n; j++) {
		if ((rc = lr_edit_check(&edits[j], j, pl)) < 0)
			return rc;
		for (k = 0; k < j; k++)
			if (strcmp(edits[k].key, edits[j].key) == 0)
				return LR_EINVAL;
	}
	return 0;
}

/* Whether edit j wants the existing value v replaced by its raw. */
static int lr_edit_wants(const lr_edit *e, size_t j, const lr_splice *pl,
	lr_span v)
{
	double d;

	if (v.len == pl->rawlen[j] && memcmp(v.p, e->raw, v.len) == 0)
		return 0; /* already that exact token: not a change */
	if (e->op == LR_EDIT_SET)
		return 1;
	if (e->op != LR_EDIT_CAP || lr_json_type_of(v) != LR_JSON_NUMBER)
		return 0;
	return lr_json_num(v, &d) == 0 && d > pl->cap[j];
}

/* Plans the edits for one top-level member. */
static int lr_splice_member(lr_splice *pl, const char *body,
	const lr_edit *edits, size_t n, lr_span k, lr_span v)
{
	size_t j;

	pl->members = 1;
	pl->ins = (size_t)(v.p + v.len - body);
	for (j = 0; j < n; j++) {
		if (!lr_json_str_eq(k, edits[j].key))
			continue;
		pl->present[j] = 1;
		if (!lr_edit_wants(&edits[j], j, pl, v))
			return 0;
		return lr_splice_add(pl, (size_t)(v.p - body), v.len, j);
	}
	return 0;
}

/* Bytes one appended member takes: [,]"key":raw */
static size_t lr_append_len(const lr_edit *e, size_t rawlen, int comma)
{
	char enc[LR_KEY_ENC_MAX];
	int klen = lr_json_str_encode(e->key, strlen(e->key), enc, sizeof enc);

	return (size_t)comma + (size_t)klen + 1 + rawlen;
}

static int lr_splice_appends(lr_splice *pl, const lr_edit *edits, size_t n)
{
	size_t j;
	int rc;

	if (!pl->append)
		return 0;
	for (j = 0; j < n; j++) {
		if (pl->present[j])
			continue;
		rc = lr_splice_grow(pl, 0, lr_append_len(&edits[j], pl->rawlen[j],
			pl->members || pl->nins));
		if (rc < 0)
			return rc;
		pl->nins++;
	}
	return 0;
}

/* Phase 1: validate the whole body and record what to change. */
static int lr_splice_build(lr_splice *pl, const char *body, size_t len,
	const lr_edit *edits, size_t n)
{
	lr_json_iter it;
	lr_span k, v;
	int rc;

	if ((rc = lr_json_iter_init(&it, body, len, 0)) < 0)
		return rc;
	pl->ins = it.pos; /* just past '{' until a member is seen */
	while ((rc = lr_json_obj_next(&it, &k, &v)) > 0)
		if ((rc = lr_splice_member(pl, body, edits, n, k, v)) < 0)
			return rc;
	if (rc < 0)
		return rc;
	if (lr_json_skip_ws(body, len, it.pos) != (int)len)
		return LR_EPARSE; /* trailing garbage after the object */
	return lr_splice_appends(pl, edits, n);
}

/* Writes the appended members at o; returns the new offset. */
static size_t lr_emit_appends(char *buf, size_t o, const lr_splice *pl,
	const lr_edit *edits, size_t n)
{
	char enc[LR_KEY_ENC_MAX];
	int comma = pl->members, klen;
	size_t j;

	for (j = 0; pl->append && j < n; j++) {
		if (pl->present[j])
			continue;
		if (comma)
			buf[o++] = ',';
		comma = 1;
		klen = lr_json_str_encode(edits[j].key, strlen(edits[j].key),
			enc, sizeof enc);
		memcpy(buf + o, enc, (size_t)klen);
		o += (size_t)klen;
		buf[o++] = ':';
		memcpy(buf + o, edits[j].raw, pl->rawlen[j]);
		o += pl->rawlen[j];
	}
	return o;
}

/* Phase 2: the output buffer, pl->outlen bytes and a NUL. */
static char *lr_splice_emit(const lr_splice *pl, const char *body, size_t len,
	const lr_edit *edits, size_t n)
{
	char *buf = malloc(pl->outlen + 1); /* NUL-terminated for callers' convenience */
	size_t src = 0, o = 0, r;
	const lr_body_rep *x;

	if (!buf)
		return NULL;
	for (r = 0; r < pl->nrep; r++) {
		x = &pl->rep[r];
		memcpy(buf + o, body + src, x->off - src);
		o += x->off - src;
		memcpy(buf + o, edits[x->edit].raw, pl->rawlen[x->edit]);
		o += pl->rawlen[x->edit];
		src = x->off + x->len;
	}
	memcpy(buf + o, body + src, pl->ins - src);
	o += pl->ins - src;
	o = lr_emit_appends(buf, o, pl, edits, n);
	memcpy(buf + o, body + pl->ins, len - pl->ins);
	buf[pl->outlen] = '\0';
	return buf;
}

/*
 * lr_body_edit with the append switch and a report of which edit keys were
 * present; the shared core of every public editor.
 */
static int lr_body_apply(const char *body, size_t len, const lr_edit *edits,
	size_t n, int append, char **out, size_t *outlen, unsigned char *present)
{
	lr_splice pl;
	int rc;

	if (!out || !outlen)
		return LR_EINVAL;
	*out = NULL;
	*outlen = 0;
	lr_splice_init(&pl, len, append);
	if ((rc = lr_edits_check(edits, n, &pl)) < 0)
		goto out;
	rc = LR_EPARSE;
	if (!body)
		goto out;
	rc = LR_ETOOBIG;
	if (len > LR_BODY_MAX)
		goto out;
	if ((rc = lr_splice_build(&pl, body, len, edits, n)) < 0)
		goto out;
	if (present)
		memcpy(present, pl.present, n);
	rc = (int)pl.nrep + pl.nins;
	if (rc == 0)
		goto out;
	if (!(*out = lr_splice_emit(&pl, body, len, edits, n))) {
		rc = LR_ENOMEM;
		goto out;
	}
	*outlen = pl.outlen;
out:
	lr_splice_free(&pl);
	return rc;
}

int lr_body_edit(const char *body, size_t len, const lr_edit *edits,
	size_t nedits, char **out, size_t *outlen)
{
	return lr_body_apply(body, len, edits, nedits, 1, out, outlen, NULL);
}

/* The JSON string token for model into raw (6 * LR_BODY_MAX_MODEL + 3
 * bytes); its length, or LR_EINVAL. */
static int lr_model_raw(const char *model, char *raw, size_t cap)
{
	if (!model || strlen(model) > LR_BODY_MAX_MODEL)
		return LR_EINVAL;
	return lr_json_str_encode(model, strlen(model), raw, cap) < 0 ? LR_EINVAL :
		(int)strlen(raw);
}

int lr_body_set_model(const char *body, size_t len, const char *model,
	char **out, size_t *outlen)
{
	char raw[6 * LR_BODY_MAX_MODEL + 3];
	unsigned char present = 0;
	lr_edit e;
	int rc;

	if (out)
		*out = NULL;
	if (outlen)
		*outlen = 0;
	if (lr_model_raw(model, raw, sizeof raw) < 0)
		return LR_EINVAL;
	e.key = "model";
	e.raw = raw;
	e.op = LR_EDIT_SET;
	rc = lr_body_apply(body, len, &e, 1, 0, out, outlen, &present);
	if (rc == 0 && !present)
		return LR_ENOTFOUND;
	return rc;
}

int lr_body_set_model_at(const char *body, size_t len, lr_span v, const char *model,
	char **out, size_t *outlen)
{
	char raw[6 * LR_BODY_MAX_MODEL + 3], *buf;
	size_t off, n;
	int rl;

	if (out)
		*out = NULL;
	if (outlen)
		*outlen = 0;
	if ((rl = lr_model_raw(model, raw, sizeof raw)) < 0 || !out || !outlen)
		return LR_EINVAL;
	if (!body || !v.p || v.p < body || v.len > len || (size_t)(v.p - body) > len - v.len)
		return LR_EINVAL;
	if (v.len == (size_t)rl && memcmp(v.p, raw, v.len) == 0)
		return 0; /* already that string: not a change, as lr_body_edit */
	off = (size_t)(v.p - body);
	n = len - v.len + (size_t)rl; /* under LR_BODY_MAX_OUT: len <= LR_BODY_MAX */
	if (!(buf = malloc(n + 1)))
		return LR_ENOMEM;
	memcpy(buf, body, off);
	memcpy(buf + off, raw, (size_t)rl);
	memcpy(buf + off + (size_t)rl, v.p + v.len, len - off - v.len);
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 1;
}

int lr_body_members(const char *body, size_t len, const char *const *keys, size_t n, lr_span *vals)
{
	return lr_body_members_n(body, len, keys, n, vals, NULL);
}

int lr_body_members_n(const char *body, size_t len, const char *const *keys, size_t n,
	lr_span *vals, size_t *counts)
{
	lr_json_iter it;
	lr_span k, v;
	size_t i, dummy = 0;
	int rc;

	for (i = 0; i < n; i++)
		vals[i].p = NULL, vals[i].len = 0;
	if (counts)
		memset(counts, 0, n * sizeof *counts);
	if (!body)
		return LR_EPARSE;
	if (len > LR_BODY_MAX)
		return LR_ETOOBIG;
	if ((rc = lr_json_iter_init(&it, body, len, 0)) < 0)
		return rc;
	while ((rc = lr_json_obj_next(&it, &k, &v)) > 0)
		for (i = 0; i < n; i++)
			if (lr_json_str_eq(k, keys[i]))
				vals[i] = v, (*(counts ? &counts[i] : &dummy))++;
	if (rc < 0 || lr_json_skip_ws(body, len, it.pos) != (int)len) {
		for (i = 0; i < n; i++)
			vals[i].p = NULL, vals[i].len = 0;
		if (counts)
			memset(counts, 0, n * sizeof *counts);
		return rc < 0 ? rc : LR_EPARSE;
	}
	return 0;
}

int lr_body_get_str(const char *body, size_t len, const char *key, char *out,
	size_t cap)
{
	lr_span last;
	int rc;

	if (!key || !out)
		return LR_EINVAL;
	if (cap)
		out[0] = '\0';
	if ((rc = lr_body_members(body, len, &key, 1, &last)) < 0)
		return rc;
	if (lr_json_type_of(last) != LR_JSON_STRING)
		return LR_ENOTFOUND;
	return lr_json_str_decode(last, out, cap);
}

/* body[0..at) + ins + body[at..len) */
static int splice_in(const char *body, size_t len, size_t at, const char *ins, size_t n,
		     char **out, size_t *outlen)
{
	char *o = malloc(len + n + 1);

	if (!o)
		return LR_ENOMEM;
	memcpy(o, body, at);
	memcpy(o + at, ins, n);
	memcpy(o + at + n, body + at, len - at);
	o[len + n] = '\0';
	*out = o;
	*outlen = len + n;
	return 1;
}

/* The top-level member `key` (last one wins), or an empty span. */
static lr_span top_member(const char *body, size_t len, const char *key)
{
	const char *path[1] = {key};
	lr_span v = {0};

	if (lr_json_find(body, len, path, 1, &v) < 0)
		v.p = NULL;
	return v;
}

/* Just after the '[' of array v; 1 if the array is empty. */
static size_t after_bracket(const char *body, lr_span v, int *empty)
{
	size_t at = (size_t)(v.p - body) + 1;
	int ws = lr_json_skip_ws(v.p, v.len, 1);

	*empty = ws > 0 && v.p[ws] == ']';
	return at;
}

int lr_body_prepend_system(const char *body, size_t len, const char *text, int anthropic,
	char **out, size_t *outlen)
{
	static const char *const strkeys[] = {"system", "instructions"};
	size_t tl, cap, n, at;
	char *enc = NULL, *ins = NULL, *old = NULL;
	lr_span v;
	int rc = LR_ENOTFOUND, empty, i;

	*out = NULL;
	*outlen = 0;
	if (!body || !text || len > LR_BODY_MAX)
		return LR_EINVAL;
	tl = strlen(text);
	for (i = 0; i < 2 && rc == LR_ENOTFOUND; i++) {
		v = top_member(body, len, strkeys[i]);
		if (v.p && lr_json_type_of(v) == LR_JSON_STRING) {
			/* TEXT and a blank line spliced in after the opening quote:
			 * the old text's bytes stay exactly as they were */
			cap = tl + 3;
			if (!(old = malloc(cap)) || !(enc = malloc(6 * cap + 3)))
				goto nomem;
			memcpy(old, text, tl);
			memcpy(old + tl, "\n\n", 2);
			if ((rc = lr_json_str_encode(old, tl + 2, enc, 6 * cap + 3)) < 0)
				goto done;
			rc = splice_in(body, len, (size_t)(v.p - body) + 1, enc + 1, (size_t)rc - 2, out, outlen);
			goto done;
		}
		if (v.p && i == 0 && lr_json_type_of(v) == LR_JSON_ARRAY) { /* Anthropic blocks */
			if (!(enc = malloc(6 * tl + 3)) || !(ins = malloc(6 * tl + 40)))
				goto nomem;
			if ((rc = lr_json_str_encode(text, tl, enc, 6 * tl + 3)) < 0)
				goto done;
			at = after_bracket(body, v, &empty);
			n = (size_t)snprintf(ins, 6 * tl + 40, "{\"type\":\"text\",\"text\":%s}%s", enc, empty ? "" : ",");
			rc = splice_in(body, len, at, ins, n, out, outlen);
			goto done;
		}
	}
	if (!(enc = malloc(6 * tl + 3)) || !(ins = malloc(6 * tl + 48)))
		goto nomem;
	if ((rc = lr_json_str_encode(text, tl, enc, 6 * tl + 3)) < 0)
		goto done;
	v = top_member(body, len, "messages");
	if (anthropic && v.p) { /* Anthropic has no system message: a member */
		lr_edit e = {"system", enc, LR_EDIT_SET_IF_ABSENT};
		rc = lr_body_edit(body, len, &e, 1, out, outlen);
		if (rc == 0) /* a "system" that is neither a string nor blocks (false, a number): no place for it */
			rc = LR_ENOTFOUND;
	} else if (v.p && lr_json_type_of(v) == LR_JSON_ARRAY) {
		at = after_bracket(body, v, &empty);
		n = (size_t)snprintf(ins, 6 * tl + 48, "{\"role\":\"system\",\"content\":%s}%s", enc,
				     empty ? "" : ",");
		rc = splice_in(body, len, at, ins, n, out, outlen);
	} else {
		rc = LR_ENOTFOUND;
	}
	goto done;
nomem:
	rc = LR_ENOMEM;
done:
	free(enc);
	free(ins);
	free(old);
	return rc;
}
