/*
 * lr_splice.c - a cut stream and its continuation, one stream for the app
 * (see the header).  Events are read whole (up to LR_SPLICE_MAX_EVENT),
 * judged, rewritten where a continuation's numbers must follow the app's,
 * and handed on.
 */
#include "lr_splice.h"
#include "lr_splice_int.h"
#include "lr_detect.h"
#include "lr_error.h"
#include "lr_json.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The dialect of format + operation, or -1 when it is not followed. */
static int dialect_of(int format, const char *op)
{
	if (!op)
		return -1;
	if (format == LR_FMT_OPENAI || format == LR_FMT_AZURE)
		return strcmp(op, "chat") == 0 ? LR_SP_CHAT : strcmp(op, "responses") == 0 ? LR_SP_RESPONSES
		     : strcmp(op, "completions") == 0 ? LR_SP_COMPLETIONS : -1;
	if (format == LR_FMT_GEMINI)
		return strcmp(op, "generate") == 0 ? LR_SP_GEMINI : -1;
	if (format == LR_FMT_ANTHROPIC)
		return strcmp(op, "messages") == 0 ? LR_SP_ANTHROPIC : -1;
	if (format == LR_FMT_OLLAMA)
		return strcmp(op, "chat") == 0 ? LR_SP_OLLAMA_CHAT : strcmp(op, "generate") == 0 ? LR_SP_OLLAMA_GEN : -1;
	return -1;
}

int lr_splice_supported(int format, const char *operation)
{
	return dialect_of(format, operation) >= 0;
}

void lr_splice_init(lr_splice *s, int format)
{
	lr_splice_init_op(s, format, format == LR_FMT_ANTHROPIC ? "messages" : format == LR_FMT_GEMINI ? "generate" : "chat");
}

void lr_splice_init_op(lr_splice *s, int format, const char *operation)
{
	int d = dialect_of(format, operation);

	memset(s, 0, sizeof(*s));
	s->format = format;
	s->dialect = d >= 0 ? d : LR_SP_CHAT;
	s->block = -1;
	s->seq = -1;
}

int lr_sp_ndjson(const lr_splice *s)
{
	return s->dialect == LR_SP_OLLAMA_CHAT || s->dialect == LR_SP_OLLAMA_GEN;
}

void lr_splice_free(lr_splice *s)
{
	free(s->ev);
	free(s->text);
	s->ev = s->text = NULL;
	s->evlen = s->evcap = s->tlen = s->tcap = 0;
}

void lr_splice_attempt(lr_splice *s, int cont)
{
	s->cont = cont;
	s->done = s->bad = s->events = s->raw = s->foreign = 0;
	s->seen = 0;
	s->evlen = 0;
	s->skip_start = cont && s->block_open;
	/* its first block is index 0: the app's open block, or the next one */
	s->offset = s->block_open ? s->block : s->block + 1;
	s->est_before = cont ? (long long)(s->tlen + 3) / 4 : 0;
	s->tbefore = cont ? s->tlen : 0;
	s->skip_item = cont && s->item_open;
	s->skip_part = cont && s->part_open;
	if (!cont) { /* nothing of the last attempt reached the app */
		s->tlen = 0;
		s->block_open = 0;
		s->block = -1;
		s->nocont = s->text_over = s->msg_started = 0;
		s->seq = -1;
		s->item_open = s->part_open = 0;
	}
}

int lr_splice_can_continue(const lr_splice *s)
{
	return !s->text_over && !s->nocont;
}

/* --- growing buffers, capped --------------------------------------------- */

static int grow(char **p, size_t *cap, size_t need, size_t max)
{
	size_t n = *cap ? *cap : 1024;
	char *q;

	if (need > max)
		return LR_ETOOBIG;
	while (n < need)
		n *= 2;
	if (n > max)
		n = max;
	if (n <= *cap)
		return 0;
	if (!(q = realloc(*p, n)))
		return LR_ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

void lr_sp_add_text(lr_splice *s, lr_span str)
{
	int n;

	if (s->text_over || grow(&s->text, &s->tcap, s->tlen + str.len + 1, LR_SPLICE_MAX_TEXT) < 0) {
		s->text_over = 1;
		return;
	}
	/* decoded text is never longer than its token */
	if ((n = lr_json_str_decode(str, s->text + s->tlen, s->tcap - s->tlen)) < 0) {
		s->nocont = 1;
		return;
	}
	s->tlen += (size_t)n;
}

/* --- one event ---------------------------------------------------------- */

typedef lr_sp_event event;

static void parse_event(const lr_splice *s, const char *p, size_t n, event *ev)
{
	size_t i = 0, j, k;

	memset(ev, 0, sizeof(*ev));
	if (lr_sp_ndjson(s)) { /* a line; a blank one has no data */
		while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' '))
			n--;
		if (n)
			ev->data = (lr_span){p, n};
		return;
	}
	while (i < n) {
		for (j = i; j < n && p[j] != '\n'; j++)
			;
		k = j > i && p[j - 1] == '\r' ? j - 1 : j;
		if (k - i >= 5 && memcmp(p + i, "data:", 5) == 0) {
			ev->data.p = p + i + 5 + (k - i > 5 && p[i + 5] == ' ');
			ev->data.len = (size_t)(p + k - ev->data.p);
		} else if (k - i >= 6 && memcmp(p + i, "event:", 6) == 0) {
			ev->name.p = p + i + 6 + (k - i > 6 && p[i + 6] == ' ');
			ev->name.len = (size_t)(p + k - ev->name.p);
		}
		i = j + 1;
	}
}

int lr_sp_is_object(lr_span v)
{
	size_t pos = 0;
	int at;

	if ((at = lr_json_skip_ws(v.p, v.len, 0)) < 0 || lr_json_type_of((lr_span){v.p + at, v.len - (size_t)at}) !=
							     LR_JSON_OBJECT)
		return 0;
	pos = (size_t)at;
	if (lr_json_skip_value(v.p, v.len, &pos) < 0)
		return 0;
	return (size_t)lr_json_skip_ws(v.p, v.len, pos) == v.len;
}

int lr_sp_find_num(lr_span d, const char *key, size_t *at, size_t *end, long long *val)
{
	char pat[40];
	size_t k = (size_t)snprintf(pat, sizeof(pat), "\"%s\"", key), i, j;
	int neg = 0;

	for (i = 0; i + k <= d.len; i++) {
		if (memcmp(d.p + i, pat, k) != 0)
			continue;
		for (j = i + k; j < d.len && (d.p[j] == ' ' || d.p[j] == '\t'); j++)
			;
		if (j >= d.len || d.p[j] != ':')
			continue;
		for (j++; j < d.len && (d.p[j] == ' ' || d.p[j] == '\t'); j++)
			;
		*at = j;
		if (j < d.len && d.p[j] == '-')
			neg = 1, j++;
		for (*val = 0; j < d.len && d.p[j] >= '0' && d.p[j] <= '9'; j++)
			*val = *val * 10 + (d.p[j] - '0');
		*end = j;
		if (neg)
			*val = -*val;
		return *end > *at ? 0 : -1;
	}
	return -1;
}

int lr_sp_num_edit(lr_span d, size_t from, const char *key, long long add, int set, lr_sp_edit *e)
{
	long long v;

	if (from > d.len || lr_sp_find_num((lr_span){d.p + from, d.len - from}, key, &e->at, &e->end, &v) < 0)
		return -1;
	e->at += from;
	e->end += from;
	e->p = NULL;
	e->n = (size_t)snprintf(e->buf, sizeof(e->buf), "%lld", set ? add : v + add);
	return 0;
}

int lr_sp_emit_edits(const lr_splice *s, const lr_sp_event *ev, const lr_sp_edit *edits, int n,
		     lr_splice_emit emit, void *ud)
{
	size_t cap = ev->name.len + ev->data.len + 64, len = 0, pos = 0;
	lr_span d = ev->data;
	char *out;
	int i, rc;

	for (i = 0; i < n; i++)
		cap += edits[i].n;
	if (!(out = malloc(cap)))
		return LR_ENOMEM;
	if (ev->name.p)
		len += (size_t)snprintf(out, cap, "event: %.*s\n", (int)ev->name.len, ev->name.p);
	if (!lr_sp_ndjson(s)) {
		memcpy(out + len, "data: ", 6);
		len += 6;
	}
	for (i = 0; i < n; i++) {
		if (edits[i].at < pos || edits[i].end > d.len)
			continue; /* not in order: left as it was */
		memcpy(out + len, d.p + pos, edits[i].at - pos);
		len += edits[i].at - pos;
		memcpy(out + len, edits[i].p ? edits[i].p : edits[i].buf, edits[i].n);
		len += edits[i].n;
		pos = edits[i].end;
	}
	memcpy(out + len, d.p + pos, d.len - pos);
	len += d.len - pos;
	memcpy(out + len, lr_sp_ndjson(s) ? "\n" : "\n\n", lr_sp_ndjson(s) ? 1 : 2);
	len += lr_sp_ndjson(s) ? 1 : 2;
	rc = emit(ud, out, len);
	free(out);
	return rc;
}

/* Emits the event with the numbers after each key (in the order they
 * appear) set to vals[i] (LLONG_MIN: as it was). */
static int emit_rewritten(lr_splice *s, const event *ev, const char *const *keys, const long long *vals, int n,
			  lr_splice_emit emit, void *ud)
{
	lr_sp_edit ed[4];
	size_t from = 0;
	int i, k = 0;

	for (i = 0; i < n && i < 4; i++) {
		if (lr_sp_num_edit(ev->data, from, keys[i], vals[i] == LLONG_MIN ? 0 : vals[i], vals[i] != LLONG_MIN,
				   &ed[k]) < 0)
			continue;
		from = ed[k++].end;
	}
	return lr_sp_emit_edits(s, ev, ed, k, emit, ud);
}

/* The numbers after "key" in a usage object, plus `add`. */
static long long plus(lr_span d, const char *key, long long add)
{
	size_t at, end;
	long long v;

	return lr_sp_find_num(d, key, &at, &end, &v) < 0 ? LLONG_MIN : v + add;
}

static int openai_event(lr_splice *s, const event *ev, const char *raw, size_t n, lr_splice_emit emit, void *ud)
{
	lr_span ch, c0, delta, content, usage, idx;
	lr_json_iter it;
	int nch = 0;

	if (ev->data.len == 6 && memcmp(ev->data.p, "[DONE]", 6) == 0) {
		s->done = 1;
		return emit(ud, raw, n);
	}
	if (!lr_sp_is_object(ev->data) || (lr_json_member(ev->data, "error").p && !lr_json_is_null(lr_json_member(ev->data, "error"))))
		return LR_EPARSE;
	ch = lr_json_member(ev->data, "choices");
	if (ch.p && lr_json_arr_init(&it, ch.p, ch.len, 0) == 0) {
		while (lr_json_arr_next(&it, &c0) == 1) {
			idx = lr_json_member(c0, "index");
			if (nch++ || (idx.p && !(idx.len == 1 && idx.p[0] == '0')))
				s->nocont = 1; /* several choices: not continued */
			delta = lr_json_member(c0, "delta");
			if (delta.p && lr_json_member(delta, "tool_calls").p &&
			    !lr_json_is_null(lr_json_member(delta, "tool_calls")))
				s->nocont = 1;
			content = delta.p ? lr_json_member(delta, "content") : (lr_span){NULL, 0};
			if (content.p && lr_json_type_of(content) == LR_JSON_STRING)
				lr_sp_add_text(s, content);
		}
	}
	usage = lr_json_member(ev->data, "usage");
	if (s->cont && s->est_before && usage.p && lr_json_type_of(usage) == LR_JSON_OBJECT) {
		static const char *const keys[] = {"completion_tokens", "total_tokens"};
		long long vals[2];

		vals[0] = plus(usage, keys[0], s->est_before);
		vals[1] = plus(usage, keys[1], s->est_before);
		return emit_rewritten(s, ev, keys, vals, 2, emit, ud);
	}
	return emit(ud, raw, n);
}

/* Gemini (alt=sse): candidates[0].content.parts[].text; the end is a
 * candidate's finishReason; usage in usageMetadata. */
static int gemini_event(lr_splice *s, const event *ev, const char *raw, size_t n, lr_splice_emit emit, void *ud)
{
	lr_span cands, c0, parts, part, text, fin, usage;
	lr_json_iter it, pit;
	int nc = 0;

	if (!lr_sp_is_object(ev->data) || lr_json_member(ev->data, "error").p)
		return LR_EPARSE;
	cands = lr_json_member(ev->data, "candidates");
	if (cands.p && lr_json_arr_init(&it, cands.p, cands.len, 0) == 0) {
		while (lr_json_arr_next(&it, &c0) == 1) {
			if (nc++)
				s->nocont = 1; /* several candidates: not continued */
			parts = lr_json_member(lr_json_member(c0, "content"), "parts");
			if (parts.p && lr_json_arr_init(&pit, parts.p, parts.len, 0) == 0)
				while (lr_json_arr_next(&pit, &part) == 1) {
					text = lr_json_member(part, "text");
					if (text.p && lr_json_type_of(text) == LR_JSON_STRING)
						lr_sp_add_text(s, text);
					else if (lr_json_member(part, "functionCall").p)
						s->nocont = 1;
				}
			fin = lr_json_member(c0, "finishReason");
			if (fin.p && !lr_json_is_null(fin))
				s->done = 1;
		}
	}
	usage = lr_json_member(ev->data, "usageMetadata");
	if (s->cont && s->est_before && usage.p && lr_json_type_of(usage) == LR_JSON_OBJECT) {
		static const char *const keys[] = {"candidatesTokenCount", "totalTokenCount"};
		long long vals[2];

		vals[0] = plus(usage, keys[0], s->est_before);
		vals[1] = plus(usage, keys[1], s->est_before);
		return emit_rewritten(s, ev, keys, vals, 2, emit, ud);
	}
	return emit(ud, raw, n);
}

static int anthropic_event(lr_splice *s, const event *ev, const char *raw, size_t n, lr_splice_emit emit, void *ud)
{
	lr_span type, idx, delta, text, block;
	size_t at;
	long long i = -1;
	long app;
	int start, stop;

	if (!lr_sp_is_object(ev->data))
		return LR_EPARSE;
	type = lr_json_member(ev->data, "type");
	if (!type.p || lr_json_str_eq(type, "error"))
		return LR_EPARSE;
	if (lr_json_str_eq(type, "message_stop"))
		s->done = 1;
	if (lr_json_str_eq(type, "message_start")) {
		if (s->msg_started)
			return 0; /* the app has had one */
		s->msg_started = 1;
	}
	idx = lr_json_member(ev->data, "index");
	if (idx.p) {
		i = 0;
		for (at = 0; at < idx.len && idx.p[at] >= '0' && idx.p[at] <= '9'; at++) {
			if (i > 1000000)
				return LR_EPARSE; /* no answer has that many blocks: malformed */
			i = i * 10 + (idx.p[at] - '0');
		}
	}
	app = idx.p ? (long)i + (s->cont ? s->offset : 0) : -1;
	start = lr_json_str_eq(type, "content_block_start");
	stop = lr_json_str_eq(type, "content_block_stop");
	if (start) {
		block = lr_json_member(lr_json_member(ev->data, "content_block"), "type");
		if (s->skip_start) {
			s->skip_start = 0;
			return 0; /* the app's open text block goes on */
		}
		s->block = app;
		s->block_open = 1;
		if (!block.p || !lr_json_str_eq(block, "text"))
			s->nocont = 1; /* a tool call or thinking under way: not continued */
		else
			s->nocont = 0;
	} else if (stop) {
		s->block_open = 0;
	} else if (lr_json_str_eq(type, "content_block_delta")) {
		delta = lr_json_member(ev->data, "delta");
		text = lr_json_member(delta, "text");
		if (text.p && lr_json_type_of(text) == LR_JSON_STRING && lr_json_str_eq(lr_json_member(delta, "type"), "text_delta"))
			lr_sp_add_text(s, text);
	}
	if (s->cont && idx.p && s->offset) {
		static const char *const keys[] = {"index"};
		long long v = app;

		return emit_rewritten(s, ev, keys, &v, 1, emit, ud);
	}
	if (s->cont && s->est_before && lr_json_str_eq(type, "message_delta")) {
		static const char *const keys[] = {"output_tokens"};
		long long v = plus(lr_json_member(ev->data, "usage"), "output_tokens", s->est_before);

		return emit_rewritten(s, ev, keys, &v, 1, emit, ud);
	}
	return emit(ud, raw, n);
}

/* Is this data (not an error) an event of the splicer's format? */
static int of_format(const lr_splice *s, lr_span d)
{
	lr_span type;

	if (!lr_sp_is_object(d)) /* [DONE], or garbage: judged as events are */
		return 1;
	if (lr_json_member(d, "error").p)
		return 1; /* an error: a failure, not another format */
	if (s->dialect >= LR_SP_RESPONSES)
		return lr_sp_more_of_format(s, d);
	if (s->format == LR_FMT_ANTHROPIC)
		return (type = lr_json_member(d, "type")).p && lr_json_type_of(type) == LR_JSON_STRING;
	if (s->format == LR_FMT_GEMINI)
		return lr_json_member(d, "candidates").p || lr_json_member(d, "usageMetadata").p;
	return lr_json_member(d, "choices").p || lr_json_member(d, "usage").p;
}

static int dispatch(lr_splice *s, const event *ev, const char *raw, size_t n, lr_splice_emit emit, void *ud)
{
	switch (s->dialect) {
	case LR_SP_ANTHROPIC: return anthropic_event(s, ev, raw, n, emit, ud);
	case LR_SP_GEMINI: return gemini_event(s, ev, raw, n, emit, ud);
	case LR_SP_RESPONSES: return lr_sp_responses_event(s, ev, raw, n, emit, ud);
	case LR_SP_COMPLETIONS: return lr_sp_completions_event(s, ev, raw, n, emit, ud);
	case LR_SP_OLLAMA_CHAT: case LR_SP_OLLAMA_GEN: return lr_sp_ollama_event(s, ev, raw, n, emit, ud);
	default: return openai_event(s, ev, raw, n, emit, ud);
	}
}

/* One whole event (raw[0..n), its blank line included). */
static int one_event(lr_splice *s, const char *raw, size_t n, lr_splice_emit emit, void *ud)
{
	event ev;
	int rc;

	parse_event(s, raw, n, &ev);
	if (!ev.data.p) /* a comment, a keep-alive */
		return s->cont && !s->events ? 0 : emit(ud, raw, n);
	if (s->done)
		return 0; /* nothing after the end */
	if (s->cont && !s->events && !of_format(s, ev.data)) {
		s->bad = s->foreign = 1; /* another API's answer cannot go on the app's stream */
		return LR_EPARSE;
	}
	rc = dispatch(s, &ev, raw, n, emit, ud);
	if (rc == LR_EPARSE) {
		s->bad = 1;
		return rc;
	}
	if (rc < 0)
		return LR_EIO;
	s->events++;
	return 0;
}

/* The end of the first event in p[0..n): just past its blank line (an
 * NDJSON line: its newline), or 0. */
static size_t event_end(const lr_splice *s, const char *p, size_t n)
{
	size_t i;

	if (lr_sp_ndjson(s)) {
		const char *nl = memchr(p, '\n', n);

		return nl ? (size_t)(nl - p) + 1 : 0;
	}
	for (i = 1; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i - 1] == '\n')
			return i + 1;
		if (i >= 2 && p[i - 1] == '\r' && p[i - 2] == '\n')
			return i + 1;
	}
	return 0;
}

int lr_splice_feed(lr_splice *s, const char *p, size_t n, lr_splice_emit emit, void *ud)
{
	size_t end, off = 0;
	int rc;

	if (s->bad)
		return LR_EPARSE;
	/* decided on the attempt's first byte only: a '{' after events that
	 * passed nothing (a comment, an unknown event) is an event stream's */
	if (!s->raw && !s->seen && n && (p[0] == '{' || p[0] == '[') && !lr_sp_ndjson(s)) {
		if (s->cont) { /* a whole JSON answer cannot go on the app's event stream */
			s->bad = s->foreign = 1;
			return LR_EPARSE;
		}
		s->raw = 1; /* not an event stream (Gemini without alt=sse): as it comes, never cut */
		s->done = s->nocont = 1;
	}
	s->seen += n;
	if (s->raw)
		return emit(ud, p, n) < 0 ? LR_EIO : 0;
	if (grow(&s->ev, &s->evcap, s->evlen + n, LR_SPLICE_MAX_EVENT + n) < 0) {
		s->bad = 1;
		return LR_EPARSE;
	}
	memcpy(s->ev + s->evlen, p, n);
	s->evlen += n;
	while ((end = event_end(s, s->ev + off, s->evlen - off)) > 0) {
		if ((rc = one_event(s, s->ev + off, end, emit, ud)) < 0) {
			s->evlen = 0;
			return rc;
		}
		off += end;
	}
	memmove(s->ev, s->ev + off, s->evlen - off);
	s->evlen -= off;
	if (s->evlen > LR_SPLICE_MAX_EVENT) {
		s->bad = 1; /* no event is that long */
		return LR_EPARSE;
	}
	return 0;
}

