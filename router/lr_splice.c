/*
 * lr_splice.c - a cut stream and its continuation, one stream for the app
 * (see the header).  Events are read whole (up to LR_SPLICE_MAX_EVENT),
 * judged, rewritten where a continuation's numbers must follow the app's,
 * and handed on.
 */
#include "lr_splice.h"
#include "lr_detect.h"
#include "lr_error.h"
#include "lr_json.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lr_splice_supported(int format, const char *operation)
{
	if (!operation)
		return 0;
	if (format == LR_FMT_OPENAI || format == LR_FMT_AZURE)
		return strcmp(operation, "chat") == 0;
	if (format == LR_FMT_GEMINI)
		return strcmp(operation, "generate") == 0;
	return format == LR_FMT_ANTHROPIC && strcmp(operation, "messages") == 0;
}

void lr_splice_init(lr_splice *s, int format)
{
	memset(s, 0, sizeof(*s));
	s->format = format;
	s->block = -1;
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
	if (!cont) { /* nothing of the last attempt reached the app */
		s->tlen = 0;
		s->block_open = 0;
		s->block = -1;
		s->nocont = s->text_over = s->msg_started = 0;
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

static void add_text(lr_splice *s, lr_span str)
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

typedef struct {
	lr_span name, data;
} event;

static void parse_event(const char *p, size_t n, event *ev)
{
	size_t i = 0, j, k;

	memset(ev, 0, sizeof(*ev));
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

static int is_object(lr_span v)
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

/* The number after the first "key": in d, and where it is; -1 if none. */
static int find_num(lr_span d, const char *key, size_t *at, size_t *end, long long *val)
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

/* Emits the event with the numbers after each key set to vals[i] (when
 * present in the data); `name` as it came. */
static int emit_rewritten(lr_splice *s, const event *ev, const char *const *keys, const long long *vals, int n,
			  lr_splice_emit emit, void *ud)
{
	size_t cap = ev->name.len + ev->data.len + 64 + 24 * (size_t)n, len = 0, pos = 0, at, end;
	char *out = malloc(cap);
	lr_span d = ev->data;
	long long cur;
	int i, rc;

	(void)s;
	if (!out)
		return LR_ENOMEM;
	if (ev->name.p)
		len += (size_t)snprintf(out, cap, "event: %.*s\n", (int)ev->name.len, ev->name.p);
	memcpy(out + len, "data: ", 6);
	len += 6;
	for (i = 0; i < n; i++) { /* keys in the order they appear */
		lr_span rest = {d.p + pos, d.len - pos};
		if (find_num(rest, keys[i], &at, &end, &cur) < 0)
			continue;
		memcpy(out + len, rest.p, at);
		len += at;
		len += (size_t)snprintf(out + len, cap - len, "%lld", vals[i] == LLONG_MIN ? cur : vals[i]);
		pos += end;
	}
	memcpy(out + len, d.p + pos, d.len - pos);
	len += d.len - pos;
	memcpy(out + len, "\n\n", 2);
	len += 2;
	rc = emit(ud, out, len);
	free(out);
	return rc;
}

/* The numbers after "key" in a usage object, plus `add`. */
static long long plus(lr_span d, const char *key, long long add)
{
	size_t at, end;
	long long v;

	return find_num(d, key, &at, &end, &v) < 0 ? LLONG_MIN : v + add;
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
	if (!is_object(ev->data) || (lr_json_member(ev->data, "error").p && !lr_json_is_null(lr_json_member(ev->data, "error"))))
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
				add_text(s, content);
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

	if (!is_object(ev->data) || lr_json_member(ev->data, "error").p)
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
						add_text(s, text);
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

	if (!is_object(ev->data))
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
		for (at = 0; at < idx.len && idx.p[at] >= '0' && idx.p[at] <= '9'; at++)
			i = i * 10 + (idx.p[at] - '0');
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
			add_text(s, text);
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

	if (!is_object(d)) /* [DONE], or garbage: judged as events are */
		return 1;
	if (lr_json_member(d, "error").p)
		return 1; /* an error: a failure, not another format */
	if (s->format == LR_FMT_ANTHROPIC)
		return (type = lr_json_member(d, "type")).p && lr_json_type_of(type) == LR_JSON_STRING;
	if (s->format == LR_FMT_GEMINI)
		return lr_json_member(d, "candidates").p || lr_json_member(d, "usageMetadata").p;
	return lr_json_member(d, "choices").p || lr_json_member(d, "usage").p;
}

/* One whole event (raw[0..n), its blank line included). */
static int one_event(lr_splice *s, const char *raw, size_t n, lr_splice_emit emit, void *ud)
{
	event ev;
	int rc;

	parse_event(raw, n, &ev);
	if (!ev.data.p) /* a comment, a keep-alive */
		return s->cont && !s->events ? 0 : emit(ud, raw, n);
	if (s->done)
		return 0; /* nothing after the end */
	if (s->cont && !s->events && !of_format(s, ev.data)) {
		s->bad = s->foreign = 1; /* another API's answer cannot go on the app's stream */
		return LR_EPARSE;
	}
	rc = s->format == LR_FMT_ANTHROPIC ? anthropic_event(s, &ev, raw, n, emit, ud)
	     : s->format == LR_FMT_GEMINI  ? gemini_event(s, &ev, raw, n, emit, ud)
					   : openai_event(s, &ev, raw, n, emit, ud);
	if (rc == LR_EPARSE) {
		s->bad = 1;
		return rc;
	}
	if (rc < 0)
		return LR_EIO;
	s->events++;
	return 0;
}

/* The end of the first event in p[0..n): just past its blank line, or 0. */
static size_t event_end(const char *p, size_t n)
{
	size_t i;

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
	if (!s->raw && !s->seen && n && (p[0] == '{' || p[0] == '[')) {
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
	while ((end = event_end(s->ev + off, s->evlen - off)) > 0) {
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

/* --- what is sent, and how the app's stream ends ---------------------------- */

int lr_splice_body(const lr_splice *s, const char *body, size_t len, char **out, size_t *outlen)
{
	static const char *const path[] = {"messages"}, *const gpath[] = {"contents"};
	lr_span msgs;
	size_t tl = s->tlen, close, cap, n = 0;
	char *o;
	int k, empty;

	*out = NULL;
	*outlen = 0;
	if (!s->tlen) { /* nothing delivered: the request as it was */
		if (!(o = malloc(len + 1)))
			return LR_ENOMEM;
		memcpy(o, body, len);
		o[len] = '\0';
		*out = o;
		*outlen = len;
		return 0;
	}
	if (lr_json_find(body, len, s->format == LR_FMT_GEMINI ? gpath : path, 1, &msgs) < 0 ||
	    lr_json_type_of(msgs) != LR_JSON_ARRAY)
		return LR_EPARSE;
	if (s->format == LR_FMT_ANTHROPIC)
		while (tl && (s->text[tl - 1] == ' ' || s->text[tl - 1] == '\n' || s->text[tl - 1] == '\t' ||
			      s->text[tl - 1] == '\r'))
			tl--;
	close = (size_t)(msgs.p - body) + msgs.len - 1;
	empty = lr_json_skip_ws(msgs.p, msgs.len - 1, 1) == (int)msgs.len - 1;
	cap = len + 6 * tl + sizeof(LR_SPLICE_ASK) + 128;
	if (!(o = malloc(cap)))
		return LR_ENOMEM;
	memcpy(o, body, close);
	n = close;
	if (s->format == LR_FMT_GEMINI)
		n += (size_t)snprintf(o + n, cap - n, "%s{\"role\":\"model\",\"parts\":[{\"text\":", empty ? "" : ",");
	else
		n += (size_t)snprintf(o + n, cap - n, "%s{\"role\":\"assistant\",\"content\":", empty ? "" : ",");
	if ((k = lr_json_str_encode(s->text, tl, o + n, cap - n)) < 0) {
		free(o);
		return LR_EINVAL;
	}
	n += (size_t)k;
	n += (size_t)snprintf(o + n, cap - n, s->format == LR_FMT_GEMINI ? "}]}" : "}");
	if (s->format == LR_FMT_GEMINI)
		n += (size_t)snprintf(o + n, cap - n, ",{\"role\":\"user\",\"parts\":[{\"text\":\"%s\"}]}", LR_SPLICE_ASK);
	else if (s->format != LR_FMT_ANTHROPIC)
		n += (size_t)snprintf(o + n, cap - n, ",{\"role\":\"user\",\"content\":\"%s\"}", LR_SPLICE_ASK);
	memcpy(o + n, body + close, len - close);
	n += len - close;
	o[n] = '\0';
	*out = o;
	*outlen = n;
	return 0;
}

size_t lr_splice_error_event(const lr_splice *s, const char *why, char *out, size_t cap)
{
	int n;

	if (s->format == LR_FMT_ANTHROPIC)
		n = snprintf(out, cap, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"llmroute_stream_cut\","
			     "\"message\":\"llmroute: the stream was cut (%s) and could not be continued\"}}\n\n", why);
	else
		n = snprintf(out, cap, "data: {\"error\":{\"message\":\"llmroute: the stream was cut (%s) and could not "
			     "be continued\",\"type\":\"llmroute_stream_cut\",\"code\":\"llmroute_stream_cut\"}}\n\n", why);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static int discard(void *ud, const char *p, size_t n)
{
	(void)ud, (void)p, (void)n;
	return 0;
}

int lr_splice_complete(int format, const char *p, size_t n)
{
	lr_splice s;
	int done;

	lr_splice_init(&s, format);
	done = lr_splice_feed(&s, p, n, discard, NULL) == 0 && s.done;
	lr_splice_free(&s);
	return done;
}
