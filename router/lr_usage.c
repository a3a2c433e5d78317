/*
 * lr_usage.c - token usage and response model from an LLM API response
 * (see lr_usage.h).
 *
 * Runs in the host process on every answer, so it trusts nothing it is fed:
 * every JSON value goes through lr_json (bounded, validating, no
 * recursion), nothing here recurses, and memory is bounded by
 * LR_USAGE_MAX_BODY + 2 * TAIL_KEEP for a body or LR_USAGE_MAX_LINE for a
 * stream, whose lines are parsed and dropped one by one.
 *
 * The first non-blank byte chooses the mode: '{' or '[' is a body (an
 * Ollama stream's lines are objects, though), an SSE field or a streamed
 * request is lines.  A body is parsed at lr_usage_finish; lines as they
 * end.  Each JSON object is read the same way whatever the format: the
 * members below, at the top level or under a "message" (Anthropic
 * message_start) or "response" (Responses API events) wrapper.
 */
#include "lr_usage.h"
#include "lr_error.h"
#include "lr_json.h"
#include "lr_usage_keys.h"
#include <stdlib.h>
#include <string.h>

enum { MODE_NEW, MODE_BODY, MODE_LINES, MODE_DONE };

/* scan flags: count generated text (streams); input count only (the
 * output_tokens of Anthropic's message_start is a placeholder) */
enum { F_TEXT = 1, F_INPUT_ONLY = 2 };

#define TAIL_KEEP (64u << 10) /* end of an over-cap body kept for its usage */
#define LINE_KEEP (64u << 10) /* a bigger line buffer is freed after its line */
#define COUNT_MAX 1e15        /* a larger "count" is nonsense, not a count */

typedef void (*elem_fn)(lr_usage *u, lr_span v);

/* Members whose string value is generated text: chat deltas, completions
 * text, Anthropic text/partial_json/thinking, Gemini parts, Ollama
 * message, tool call arguments. */
static int text_key(int key)
{
	switch (key) {
	case K_CONTENT: case K_TEXT: case K_PARTIAL_JSON: case K_THINKING:
	case K_REASONING_CONTENT: case K_REASONING: case K_REFUSAL: case K_ARGUMENTS:
		return 1;
	}
	return 0;
}

/* --- small helpers ----------------------------------------------------- */

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A non-negative integral count from a number token, or -1. */
static long long count_of(lr_span v)
{
	double d;

	if (lr_json_num(v, &d) < 0 || !(d >= 0 && d < COUNT_MAX))
		return -1;
	return (long long)d;
}

static unsigned hex4(const char *p)
{
	unsigned v = 0, c;
	int i;

	for (i = 0; i < 4; i++) {
		c = (unsigned char)p[i];
		v = v * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

/* Bytes the (validated) string token decodes to, without decoding it
 * anywhere.  Each half of a surrogate pair counts 2: a pair is 4 bytes. */
static size_t text_len(lr_span v)
{
	size_t i = 1, end = v.len - 1, n = 0;
	unsigned cp;

	if (v.len < 2)
		return 0;
	while (i < end) {
		if (v.p[i] != '\\') {
			n++;
			i++;
		} else if (i + 5 < end && v.p[i + 1] == 'u') {
			cp = hex4(v.p + i + 2);
			n += cp < 0x80 ? 1 : cp < 0x800 || (cp >= 0xD800 && cp < 0xE000) ? 2 : 3;
			i += 6;
		} else {
			n++;
			i += 2;
		}
	}
	return n;
}

static void add_text(lr_usage *u, lr_span v)
{
	if (lr_json_type_of(v) == LR_JSON_STRING)
		u->text_bytes += text_len(v);
}

static void each_elem(lr_usage *u, lr_span arr, elem_fn fn)
{
	lr_json_iter it;
	lr_span v;

	if (lr_json_arr_init(&it, arr.p, arr.len, 0) < 0)
		return;
	while (lr_json_arr_next(&it, &v) > 0)
		fn(u, v);
}

static int find(lr_span obj, const char *const *path, size_t n, lr_span *v)
{
	return lr_json_find(obj.p, obj.len, path, n, v);
}

/* --- generated text (streams) ------------------------------------------ */

static void text_fields(lr_usage *u, lr_span obj)
{
	lr_json_iter it;
	lr_span k, v;

	if (lr_json_iter_init(&it, obj.p, obj.len, 0) < 0)
		return;
	while (lr_json_obj_next(&it, &k, &v) > 0)
		if (text_key(lr_usage_key(k)))
			add_text(u, v);
}

/* Elements come validated from each_elem, so one walk that keeps the last
 * member of a name finds what lr_json_find would, without validating the
 * element again per lookup. */
static void text_tool_call(lr_usage *u, lr_span call)
{
	lr_json_iter it;
	lr_span k, v, fn = {0};

	if (lr_json_iter_init(&it, call.p, call.len, 0) < 0)
		return;
	while (lr_json_obj_next(&it, &k, &v) > 0)
		if (lr_usage_key(k) == K_FUNCTION)
			fn = v;
	if (fn.p)
		text_fields(u, fn);
}

/* A chat delta: its text and its tool calls' arguments. */
static void text_delta(lr_usage *u, lr_span d)
{
	lr_json_iter it;
	lr_span k, v, calls = {0};
	int key;

	if (lr_json_iter_init(&it, d.p, d.len, 0) < 0)
		return;
	while (lr_json_obj_next(&it, &k, &v) > 0) {
		if (text_key(key = lr_usage_key(k)))
			add_text(u, v);
		else if (key == K_TOOL_CALLS)
			calls = v;
	}
	if (calls.p)
		each_elem(u, calls, text_tool_call);
}

/* OpenAI choices[]: completions "text", chat "delta" (the last one, as a
 * lookup finds it) and its tool calls, in one walk of the choice. */
static void text_choice(lr_usage *u, lr_span c)
{
	lr_json_iter it;
	lr_span k, v, delta = {0};
	int key;

	if (lr_json_iter_init(&it, c.p, c.len, 0) < 0)
		return;
	while (lr_json_obj_next(&it, &k, &v) > 0) {
		if (text_key(key = lr_usage_key(k)))
			add_text(u, v);
		else if (key == K_DELTA)
			delta = v;
	}
	if (delta.p)
		text_delta(u, delta);
}

/* Gemini candidates[].content.parts[].text */
static void text_candidate(lr_usage *u, lr_span c)
{
	static const char *const parts[] = {"content", "parts"};
	lr_span v;

	if (find(c, parts, 2, &v) == 0)
		each_elem(u, v, text_fields);
}

static void text_member(lr_usage *u, int key, lr_span v)
{
	if (key == K_CHOICES)
		each_elem(u, v, text_choice);
	else if (key == K_CANDIDATES)
		each_elem(u, v, text_candidate);
	else if ((key == K_DELTA || key == K_RESPONSE || key == K_THINKING) &&
		 lr_json_type_of(v) == LR_JSON_STRING)
		add_text(u, v);     /* Responses delta, Ollama generate */
	else if ((key == K_DELTA || key == K_MESSAGE) && lr_json_type_of(v) == LR_JSON_OBJECT)
		text_fields(u, v);  /* Anthropic delta, Ollama chat message */
}

/* --- model and usage ---------------------------------------------------- */

/* 1 if the string token v is plain printable ASCII that fits a model
 * name: it decodes to itself, and every stream event repeats one. */
static int plain_model(lr_span v)
{
	size_t i;

	if (v.len < 3 || v.len - 2 >= LR_MODEL_MAX || v.p[0] != '"' || v.p[v.len - 1] != '"')
		return 0;
	for (i = 1; i < v.len - 1; i++)
		if ((unsigned char)v.p[i] < 0x20 || (unsigned char)v.p[i] >= 0x80 || v.p[i] == '\\' ||
		    v.p[i] == '"')
			return 0;
	return 1;
}

static void set_model(lr_usage *u, lr_span v)
{
	char tmp[LR_MODEL_MAX];
	int n;

	if (plain_model(v)) {
		memcpy(u->model, v.p + 1, v.len - 2);
		u->model[v.len - 2] = '\0';
		return;
	}
	n = lr_json_str_decode(v, tmp, sizeof(tmp));

	/* too long, malformed, empty or with a NUL inside: keep what we had */
	if (n > 0 && strlen(tmp) == (size_t)n)
		memcpy(u->model, tmp, (size_t)n + 1);
}

/* cached_tokens of OpenAI's prompt_tokens_details / input_tokens_details. */
static long long cached_of(lr_span details)
{
	static const char *const key[] = {"cached_tokens"};
	lr_span v;

	return find(details, key, 1, &v) == 0 ? count_of(v) : -1;
}

/* The input count and its cached parts together, so that the parts are
 * never more than the whole. */
static void set_input(lr_usage *u, long long in, long long rd, long long wr)
{
	rd = rd > 0 ? rd : 0;
	wr = wr > 0 ? wr : 0;
	if (rd > in)
		rd = in;
	if (wr > in - rd)
		wr = in - rd;
	u->input_tokens = in;
	u->cache_read_tokens = rd;
	u->cache_write_tokens = wr;
}

/* OpenAI, Responses and Anthropic "usage" (null in OpenAI's early chunks).
 * Anthropic's input_tokens leaves out the cached ones: they are added. */
static void scan_usage(lr_usage *u, lr_span obj, int flags)
{
	long long in = -1, out = -1, c, rd = 0, wr = 0, oai_rd = -1;
	lr_json_iter it;
	lr_span k, v;

	if (lr_json_iter_init(&it, obj.p, obj.len, 0) < 0)
		return;
	while (lr_json_obj_next(&it, &k, &v) > 0) {
		switch (lr_usage_key(k)) {
		case K_PROMPT_TOKENS: case K_INPUT_TOKENS:
			in = count_of(v);
			break;
		case K_COMPLETION_TOKENS: case K_OUTPUT_TOKENS:
			out = count_of(v);
			break;
		case K_CACHE_READ_INPUT_TOKENS:
			rd += (c = count_of(v)) > 0 ? c : 0;
			break;
		case K_CACHE_CREATION_INPUT_TOKENS:
			wr += (c = count_of(v)) > 0 ? c : 0;
			break;
		case K_PROMPT_TOKENS_DETAILS: case K_INPUT_TOKENS_DETAILS:
			if (lr_json_type_of(v) == LR_JSON_OBJECT)
				oai_rd = cached_of(v);
			break;
		}
	}
	if (in >= 0 && oai_rd >= 0) /* OpenAI (or a proxy in its format): input counts them */
		set_input(u, in, oai_rd > rd ? oai_rd : rd, wr);
	else if (in >= 0)
		set_input(u, in + rd + wr, rd, wr); /* Anthropic (or no cache at all) */
	if (out >= 0 && !(flags & F_INPUT_ONLY))
		u->output_tokens = out;
}

/* Gemini usageMetadata; thinking tokens are billed as output, cached
 * content is part of promptTokenCount. */
static void scan_gemini_usage(lr_usage *u, lr_span obj)
{
	long long in = -1, out = -1, rd = 0, c;
	lr_json_iter it;
	lr_span k, v;

	if (lr_json_iter_init(&it, obj.p, obj.len, 0) < 0)
		return;
	while (lr_json_obj_next(&it, &k, &v) > 0) {
		int key = lr_usage_key(k);
		if (key != K_PROMPT_TOKEN_COUNT && key != K_CACHED_CONTENT_TOKEN_COUNT &&
		    key != K_CANDIDATES_TOKEN_COUNT && key != K_THOUGHTS_TOKEN_COUNT)
			continue;
		if ((c = count_of(v)) < 0)
			continue;
		if (key == K_PROMPT_TOKEN_COUNT)
			in = c;
		else if (key == K_CACHED_CONTENT_TOKEN_COUNT)
			rd = c;
		else
			out = (out < 0 ? 0 : out) + c;
	}
	if (in >= 0)
		set_input(u, in, rd, 0);
	if (out >= 0)
		u->output_tokens = out;
}

static void set_count(long long *dst, lr_span v)
{
	long long c = count_of(v);

	if (c >= 0)
		*dst = c;
}

/* One member of an answer object (or of its wrapper). */
static void scan_member(lr_usage *u, int key, lr_span v, int flags)
{
	switch (key) {
	case K_MODEL: case K_MODEL_VERSION:
		set_model(u, v);
		break;
	case K_USAGE:
		scan_usage(u, v, flags);
		break;
	case K_USAGE_METADATA:
		scan_gemini_usage(u, v);
		break;
	case K_PROMPT_EVAL_COUNT:
		if (count_of(v) >= 0)
			set_input(u, count_of(v), 0, 0);
		break;
	case K_EVAL_COUNT:
		if (!(flags & F_INPUT_ONLY))
			set_count(&u->output_tokens, v);
		break;
	case K_ERROR:
		u->error |= !lr_json_is_null(v);
		break;
	case K_TYPE:
		u->error |= lr_json_str_eq(v, "error");
		break;
	}
}

static void scan_wrapped(lr_usage *u, lr_span obj, int flags)
{
	lr_json_iter it;
	lr_span k, v;

	if (lr_json_iter_init(&it, obj.p, obj.len, 0) < 0)
		return;
	while (lr_json_obj_next(&it, &k, &v) > 0)
		scan_member(u, lr_usage_key(k), v, flags);
}

/* One answer object.  A truncated one yields the members before the cut:
 * the iterator validates each member before handing it out, but a number
 * right at the cut may have lost digits ("15" cut to "1"). */
static void scan_object(lr_usage *u, lr_span obj, int flags)
{
	lr_json_iter it;
	lr_span k, v;

	if (lr_json_iter_init(&it, obj.p, obj.len, 0) < 0)
		return;
	while (lr_json_obj_next(&it, &k, &v) > 0) {
		int key;
		if (lr_json_type_of(v) == LR_JSON_NUMBER &&
		    (size_t)lr_json_skip_ws(it.s, it.len, it.pos) >= it.len)
			break;
		key = lr_usage_key(k);
		scan_member(u, key, v, flags);
		if (flags & F_TEXT)
			text_member(u, key, v);
		if (lr_json_type_of(v) != LR_JSON_OBJECT)
			continue;
		if (key == K_MESSAGE)
			scan_wrapped(u, v, flags | F_INPUT_ONLY);
		else if (key == K_RESPONSE)
			scan_wrapped(u, v, flags);
	}
}

static void scan_body_elem(lr_usage *u, lr_span v)
{
	scan_object(u, v, 0);
}

/* --- lines (SSE and NDJSON) --------------------------------------------- */

/* One complete line without its "\n".  SSE comments, event:, id: and
 * retry: lines, "[DONE]" and anything not an object are ignored. */
static void do_line(lr_usage *u, const char *s, size_t n)
{
	lr_span obj;

	if (n && s[n - 1] == '\r')
		n--;
	if (n >= 5 && memcmp(s, "data:", 5) == 0) {
		s += 5;
		n -= 5;
	}
	while (n && is_ws(*s)) {
		s++;
		n--;
	}
	if (!n || *s != '{')
		return;
	obj.p = s;
	obj.len = n;
	scan_object(u, obj, F_TEXT);
}

static void each_line(lr_usage *u, const char *s, size_t n)
{
	const char *nl;

	while (n) {
		nl = memchr(s, '\n', n);
		if (!nl) {
			do_line(u, s, n);
			return;
		}
		do_line(u, s, (size_t)(nl - s));
		n -= (size_t)(nl - s) + 1;
		s = nl + 1;
	}
}

/* Grows u->buf to hold `need` bytes, never past `max`. */
static int grow(lr_usage *u, size_t need, size_t max)
{
	size_t cap = u->cap ? u->cap : 1024;
	char *nb;

	if (need <= u->cap)
		return 0;
	if (need > max)
		return LR_ETOOBIG;
	while (cap < need)
		cap = cap > max / 2 ? max : cap * 2;
	if (!(nb = realloc(u->buf, cap)))
		return LR_ENOMEM;
	u->buf = nb;
	u->cap = cap;
	return 0;
}

static int append(lr_usage *u, const char *p, size_t n, size_t max)
{
	if (!n)
		return 0;
	if (n > max - u->len || grow(u, u->len + n, max) < 0)
		return LR_ETOOBIG;
	memcpy(u->buf + u->len, p, n);
	u->len += n;
	return 0;
}

/* A piece of one line; `end` if the line's "\n" follows it. */
static void line_piece(lr_usage *u, const char *p, size_t n, int end)
{
	if (u->overflow) {
		u->text_bytes += n;
		u->overflow = !end;
	} else if (end && !u->len) {
		do_line(u, p, n);   /* whole line in the caller's buffer: no copy */
	} else if (append(u, p, n, LR_USAGE_MAX_LINE) < 0) {
		u->text_bytes += u->len + n;
		u->len = 0;
		u->overflow = !end;
	} else if (end) {
		do_line(u, u->buf, u->len);
		u->len = 0;
	}
	if (end && u->cap > LINE_KEEP) {
		free(u->buf);
		u->buf = NULL;
		u->cap = 0;
	}
}

static void feed_lines(lr_usage *u, const char *p, size_t n)
{
	const char *nl;

	while (n) {
		nl = memchr(p, '\n', n);
		if (!nl) {
			line_piece(u, p, n, 0);
			return;
		}
		line_piece(u, p, (size_t)(nl - p), 1);
		n -= (size_t)(nl - p) + 1;
		p = nl + 1;
	}
}

/* --- bodies -------------------------------------------------------------- */

/* Keeps the last TAIL_KEEP..2*TAIL_KEEP bytes of the body once it is past
 * the cap; sliding only when the window is full keeps it amortised O(1) a
 * byte. */
static void keep_tail(lr_usage *u, const char *p, size_t n)
{
	size_t keep;

	if (!u->tail && !(u->tail = malloc(2 * TAIL_KEEP)))
		return;
	if (n >= TAIL_KEEP) {
		memcpy(u->tail, p + n - TAIL_KEEP, TAIL_KEEP);
		u->tail_len = TAIL_KEEP;
		return;
	}
	if (u->tail_len + n > 2 * TAIL_KEEP) {
		keep = TAIL_KEEP - n;
		memmove(u->tail, u->tail + u->tail_len - keep, keep);
		u->tail_len = keep;
	}
	memcpy(u->tail + u->tail_len, p, n);
	u->tail_len += n;
}

static void feed_body(lr_usage *u, const char *p, size_t n)
{
	size_t room = LR_USAGE_MAX_BODY - u->len, k = n < room ? n : room;

	if (!u->overflow && grow(u, u->len + k, LR_USAGE_MAX_BODY) == 0) {
		memcpy(u->buf + u->len, p, k);
		u->len += k;
		p += k;
		n -= k;
	}
	if (n && !u->overflow && u->len) {
		/* start the tail with the head's end: usage may straddle the cap */
		k = u->len < TAIL_KEEP ? u->len : TAIL_KEEP;
		keep_tail(u, u->buf + u->len - k, k);
	}
	if (n) {
		u->overflow = 1;
		keep_tail(u, p, n);
	}
}

/* The end of an over-cap body has no known structure: find the keys we
 * want as text.  A quote inside a JSON string is escaped, so `"usage"`
 * followed by ':' is a member name unless a key is crafted to fake it. */
static void scan_tail(lr_usage *u)
{
	static const char *const keys[] = {"\"model\"", "\"modelVersion\"", "\"usage\"",
		"\"usageMetadata\"", "\"prompt_eval_count\"", "\"eval_count\"", NULL};
	const char *const *k;
	const char *s = u->tail, *hit;
	size_t n = u->tail_len, klen, pos, start;
	lr_span key, v;

	for (k = keys; s && *k; k++) {
		klen = strlen(*k);
		for (pos = 0; (hit = memmem(s + pos, n - pos, *k, klen)); pos = start) {
			start = (size_t)(hit - s) + klen;
			key.p = hit;
			key.len = klen;
			if (hit > s && hit[-1] == '\\')
				continue;
			while (start < n && is_ws(s[start]))
				start++;
			if (start >= n || s[start] != ':')
				continue;
			v.p = s + ++start;
			if (lr_json_skip_value(s, n, &start) < 0 || start >= n)
				continue;   /* bad, or a number the end may have cut */
			v.len = (size_t)(s + start - v.p);
			while (v.len && is_ws(*v.p)) {
				v.p++;
				v.len--;
			}
			scan_member(u, lr_usage_key(key), v, 0);
		}
	}
}

/* 1 if the end kept of an over-cap body closes a value: it looks whole. */
static int tail_closes(const lr_usage *u)
{
	size_t n = u->tail_len;

	while (n && is_ws(u->tail[n - 1]))
		n--;
	return n && (u->tail[n - 1] == '}' || u->tail[n - 1] == ']');
}

/* Returns 1 if the body was (or, past the cap, looks) one whole value. */
static int parse_body(lr_usage *u)
{
	lr_span all = {u->buf, u->len};
	size_t end = 0;
	int rc;

	if (!u->buf) {
		scan_tail(u);   /* out of memory from the start */
		return tail_closes(u);
	}
	rc = lr_json_skip_value(u->buf, u->len, &end);
	if (rc == 0 && !u->overflow && (size_t)lr_json_skip_ws(u->buf, u->len, end) < u->len) {
		/* more after the first value: NDJSON sent without "stream" */
		u->mode = MODE_LINES;
		each_line(u, u->buf, u->len);
		return 0;
	}
	while (all.len && is_ws(*all.p)) {
		all.p++;
		all.len--;
	}
	if (all.len && *all.p == '[')
		each_elem(u, all, scan_body_elem);  /* Gemini's array of chunks */
	else
		scan_object(u, all, 0);
	scan_tail(u);
	return u->overflow ? tail_closes(u) : rc == 0;
}

/* --- the API ------------------------------------------------------------- */

void lr_usage_init(lr_usage *u, int format, int stream, size_t request_bytes)
{
	if (!u)
		return;
	memset(u, 0, sizeof(*u));
	u->format = format;
	u->stream = stream;
	u->request_bytes = request_bytes;
	u->input_tokens = u->output_tokens = -1;
	u->cache_read_tokens = u->cache_write_tokens = -1;
}

/* The first non-blank byte tells a body from lines; see lr_usage_init. */
static void decide(lr_usage *u, char c)
{
	if (c == '{' || c == '[')
		u->mode = c == '{' && u->stream && u->format == LR_FMT_OLLAMA ? MODE_LINES : MODE_BODY;
	else if (u->stream || memchr("deir:", c, 5))
		u->mode = MODE_LINES;   /* data: event: id: retry: or a comment */
	else
		u->mode = MODE_BODY;    /* not an LLM answer: estimated from its size */
}

void lr_usage_feed(lr_usage *u, const char *p, size_t n)
{
	if (!u || !p || !n || u->mode == MODE_DONE)
		return;
	u->response_bytes += n;
	if (u->mode == MODE_NEW) {
		while (n && is_ws(*p)) {
			p++;
			n--;
		}
		if (!n)
			return;
		decide(u, *p);
	}
	if (u->mode == MODE_BODY)
		feed_body(u, p, n);
	else
		feed_lines(u, p, n);
}

static void estimate(lr_usage *u, int complete)
{
	if (!u->response_bytes)
		return;     /* nothing came back: unknown, not zero */
	if (u->input_tokens < 0 && u->output_tokens < 0 && u->error && !u->text_bytes) {
		u->input_tokens = u->output_tokens = 0;
		u->cache_read_tokens = u->cache_write_tokens = 0;
		return;
	}
	if (complete && u->input_tokens >= 0 && u->output_tokens < 0)
		u->output_tokens = 0;   /* embeddings */
	if (u->input_tokens < 0) {
		u->input_tokens = u->request_bytes / 4 ? (long long)(u->request_bytes / 4) : 1;
		u->cache_read_tokens = u->cache_write_tokens = 0;
		u->estimated = 1;
	}
	if (u->output_tokens < 0) {
		u->output_tokens = (long long)((u->mode == MODE_BODY ? u->response_bytes : u->text_bytes) / 4);
		u->estimated = 1;
	}
}

void lr_usage_finish(lr_usage *u)
{
	int complete = 0;

	if (!u || u->mode == MODE_DONE)
		return;
	if (u->mode == MODE_BODY)
		complete = parse_body(u);
	else if (u->mode == MODE_LINES && u->len && !u->overflow)
		do_line(u, u->buf, u->len);     /* last line without "\n" */
	estimate(u, complete);
	lr_usage_free(u);
}

void lr_usage_free(lr_usage *u)
{
	if (!u)
		return;
	free(u->buf);
	free(u->tail);
	u->buf = u->tail = NULL;
	u->len = u->cap = u->tail_len = 0;
	u->mode = MODE_DONE;
}
