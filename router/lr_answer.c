/*
 * lr_answer.c - the quality gate on a complete, non-streamed LLM answer
 * (see lr_answer.h).
 *
 * The body is validated whole first (lr_json_skip_value), so everything
 * after works on a well-formed value and a truncated answer is never half
 * read.  Then one pass over the top-level members keeps the spans the
 * shapes need, and the reader of the expected shape walks only those, with
 * lr_json's bounded iterators: nothing recurses and nothing is copied but
 * the text, which is capped at LR_ANSWER_MAX_TEXT.
 */
#include "lr_answer.h"
#include "lr_detect.h"
#include "lr_error.h"
#include "lr_json.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum shape {
	SH_NONE, SH_CHOICES, SH_RESPONSES, SH_ANTHROPIC, SH_GEMINI,
	SH_OLLAMA_CHAT, SH_OLLAMA_GENERATE, SH_EMBEDDINGS,
};

/* The top-level members any shape reads; absent ones have p == NULL. */
typedef struct {
	lr_span choices, output, status, incomplete, content, stop_reason,
		candidates, feedback, message, response, done_reason, error, type;
} tops;

static const struct {
	const char *key;
	size_t off;
} top_keys[] = {
	{"choices", offsetof(tops, choices)},
	{"output", offsetof(tops, output)},
	{"status", offsetof(tops, status)},
	{"incomplete_details", offsetof(tops, incomplete)},
	{"content", offsetof(tops, content)},
	{"stop_reason", offsetof(tops, stop_reason)},
	{"candidates", offsetof(tops, candidates)},
	{"promptFeedback", offsetof(tops, feedback)},
	{"message", offsetof(tops, message)},
	{"response", offsetof(tops, response)},
	{"done_reason", offsetof(tops, done_reason)},
	{"error", offsetof(tops, error)},
	{"type", offsetof(tops, type)},
};

/* Parse state: the answer being filled and its text buffer's capacity. */
typedef struct {
	lr_answer *a;
	size_t cap;
	int err;    /* LR_ENOMEM once an allocation failed */
	int bad;    /* a text did not decode (a lone surrogate lr_json lets by) */
} reader;

/* A finish reason's spelling and what it means; refusal: also a refusal. */
typedef struct {
	const char *name;
	int finish, refusal;
} reason;

static const char *const names[] = {"empty", "length", "refusal", "invalid_json"};

/* --- small helpers ----------------------------------------------------- */


/* The first element of an array value, or an empty span. */
static lr_span first_elem(lr_span arr)
{
	lr_json_iter it;
	lr_span v, none = {0};

	if (lr_json_type_of(arr) != LR_JSON_ARRAY || lr_json_arr_init(&it, arr.p, arr.len, 0) < 0 ||
	    lr_json_arr_next(&it, &v) != 1)
		return none;
	return v;
}

static int is_object(lr_span v)
{
	return lr_json_type_of(v) == LR_JSON_OBJECT;
}

/* A string token with at least one character: `""` is 2 bytes. */
static int nonempty_string(lr_span v)
{
	return lr_json_type_of(v) == LR_JSON_STRING && v.len > 2;
}

/* Applies the reason table entry v spells; null or absent leaves UNKNOWN,
 * and a spelling not in the table is OTHER. */
static void set_finish(lr_answer *a, lr_span v, const reason *table)
{
	if (lr_json_type_of(v) != LR_JSON_STRING)
		return;
	a->finish = LR_FINISH_OTHER;
	for (; table->name; table++)
		if (lr_json_str_eq(v, table->name)) {
			a->finish = table->finish;
			a->refusal_field |= table->refusal;
			return;
		}
}

/* --- the text ---------------------------------------------------------- */

static int grow(reader *r, size_t need)
{
	size_t cap = r->cap ? r->cap : 256;
	char *nb;

	if (need <= r->cap)
		return 0;
	while (cap < need)
		cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
	if (!(nb = realloc(r->a->text, cap)))
		return LR_ENOMEM;
	r->a->text = nb;
	r->cap = cap;
	return 0;
}

/* Cuts the text at LR_ANSWER_MAX_TEXT, backing off to the start of the
 * character there, and gives back the decoding room. */
static void cut(reader *r)
{
	lr_answer *a = r->a;
	size_t n = LR_ANSWER_MAX_TEXT;
	char *nb;

	while (n && ((unsigned char)a->text[n] & 0xC0) == 0x80)
		n--;
	a->text[n] = '\0';
	a->text_len = n;
	a->truncated = 1;
	if ((nb = realloc(a->text, n + 1))) {
		a->text = nb;
		r->cap = n + 1;
	}
}

/* Appends the decoded string token v (anything else is ignored).  The
 * decoded text plus its NUL never needs more bytes than the raw token. */
static void add_text(reader *r, lr_span v)
{
	lr_answer *a = r->a;
	int n;

	if (lr_json_type_of(v) != LR_JSON_STRING || a->truncated || r->err)
		return;
	if (grow(r, a->text_len + v.len) < 0) {
		r->err = LR_ENOMEM;
		return;
	}
	n = lr_json_str_decode(v, a->text + a->text_len, v.len);
	if (n > 0)
		a->text_len += (size_t)n;
	else if (n < 0)
		r->bad = 1;
	a->text[a->text_len] = '\0';
	if (a->text_len > LR_ANSWER_MAX_TEXT)
		cut(r);
}

/* --- the shapes -------------------------------------------------------- */

/* OpenAI content parts: [{"type": "text", "text": ...}, ...]. */
static void add_parts(reader *r, lr_span parts, const char *text_type)
{
	lr_json_iter it;
	lr_span part, type;

	if (lr_json_type_of(parts) != LR_JSON_ARRAY || lr_json_arr_init(&it, parts.p, parts.len, 0) < 0)
		return;
	while (lr_json_arr_next(&it, &part) == 1) {
		type = lr_json_member(part, "type");
		if (!type.p || lr_json_str_eq(type, text_type))
			add_text(r, lr_json_member(part, "text"));
	}
}

static int nonempty_array(lr_span v)
{
	return first_elem(v).p != NULL;
}

/* OpenAI chat and completions (and Azure): the first choice. */
static int read_choices(reader *r, const tops *t)
{
	static const reason reasons[] = {
		{"stop", LR_FINISH_STOP, 0}, {"length", LR_FINISH_LENGTH, 0},
		{"content_filter", LR_FINISH_OTHER, 1}, {NULL, 0, 0},
	};
	lr_span c = first_elem(t->choices), msg, content;

	if (!is_object(c))
		return 0;
	msg = lr_json_member(c, "message");
	content = lr_json_member(msg, "content");
	if (lr_json_type_of(content) == LR_JSON_ARRAY)
		add_parts(r, content, "text");
	else
		add_text(r, content);
	add_text(r, lr_json_member(c, "text"));     /* completions */
	r->a->refusal_field |= nonempty_string(lr_json_member(msg, "refusal"));
	r->a->has_tool_call = nonempty_array(lr_json_member(msg, "tool_calls")) ||
		is_object(lr_json_member(msg, "function_call"));
	set_finish(r->a, lr_json_member(c, "finish_reason"), reasons);
	return 1;
}

/* Output items the app has to act on: a tool call, not an empty answer.
 * Hosted tools (web search...) are followed by a message instead. */
static int is_call_item(lr_span type)
{
	return lr_json_str_eq(type, "function_call") || lr_json_str_eq(type, "custom_tool_call") ||
	       lr_json_str_eq(type, "computer_call") || lr_json_str_eq(type, "local_shell_call");
}

static void responses_message(reader *r, lr_span item)
{
	lr_json_iter it;
	lr_span parts = lr_json_member(item, "content"), part, type;

	if (lr_json_type_of(parts) != LR_JSON_ARRAY || lr_json_arr_init(&it, parts.p, parts.len, 0) < 0)
		return;
	while (lr_json_arr_next(&it, &part) == 1) {
		type = lr_json_member(part, "type");
		if (lr_json_str_eq(type, "output_text"))
			add_text(r, lr_json_member(part, "text"));
		else if (lr_json_str_eq(type, "refusal"))
			r->a->refusal_field |= nonempty_string(lr_json_member(part, "refusal"));
	}
}

/* Responses API: the first message item; status and why it is incomplete. */
static int read_responses(reader *r, const tops *t)
{
	static const reason status[] = {{"completed", LR_FINISH_STOP, 0}, {NULL, 0, 0}};
	static const reason why[] = {
		{"max_output_tokens", LR_FINISH_LENGTH, 0}, {"content_filter", LR_FINISH_OTHER, 1},
		{NULL, 0, 0},
	};
	lr_json_iter it;
	lr_span item, type;
	int seen = 0;

	if (lr_json_arr_init(&it, t->output.p, t->output.len, 0) < 0)
		return 0;
	while (lr_json_arr_next(&it, &item) == 1) {
		type = lr_json_member(item, "type");
		if (lr_json_str_eq(type, "message") && !seen++)
			responses_message(r, item);
		else
			r->a->has_tool_call |= is_call_item(type);
	}
	set_finish(r->a, t->status, status);
	if (lr_json_str_eq(t->status, "incomplete"))
		set_finish(r->a, lr_json_member(t->incomplete, "reason"), why);
	return 1;
}

static int read_anthropic(reader *r, const tops *t)
{
	static const reason reasons[] = {
		{"end_turn", LR_FINISH_STOP, 0}, {"stop_sequence", LR_FINISH_STOP, 0},
		{"max_tokens", LR_FINISH_LENGTH, 0},
		{"model_context_window_exceeded", LR_FINISH_LENGTH, 0},
		{"refusal", LR_FINISH_OTHER, 1}, {NULL, 0, 0},
	};
	lr_json_iter it;
	lr_span block, type;

	if (lr_json_arr_init(&it, t->content.p, t->content.len, 0) < 0)
		return 0;
	while (lr_json_arr_next(&it, &block) == 1) {
		type = lr_json_member(block, "type");
		if (lr_json_str_eq(type, "text"))
			add_text(r, lr_json_member(block, "text"));
		else if (lr_json_str_eq(type, "tool_use"))
			r->a->has_tool_call = 1;
	}
	set_finish(r->a, t->stop_reason, reasons);
	return 1;
}

static void gemini_parts(reader *r, lr_span parts)
{
	lr_json_iter it;
	lr_span part;

	if (lr_json_type_of(parts) != LR_JSON_ARRAY || lr_json_arr_init(&it, parts.p, parts.len, 0) < 0)
		return;
	while (lr_json_arr_next(&it, &part) == 1) {
		if (lr_json_is_true(lr_json_member(part, "thought")))
			continue;   /* a thinking summary, not the answer */
		add_text(r, lr_json_member(part, "text"));
		r->a->has_tool_call |= lr_json_member(part, "functionCall").p != NULL;
	}
}

/* Gemini: the first candidate; a blocked prompt has no candidate at all. */
static int read_gemini(reader *r, const tops *t)
{
	static const reason reasons[] = {
		{"STOP", LR_FINISH_STOP, 0}, {"MAX_TOKENS", LR_FINISH_LENGTH, 0},
		{"SAFETY", LR_FINISH_OTHER, 1}, {"RECITATION", LR_FINISH_OTHER, 1},
		{"PROHIBITED_CONTENT", LR_FINISH_OTHER, 1}, {"BLOCKLIST", LR_FINISH_OTHER, 1},
		{"SPII", LR_FINISH_OTHER, 1}, {"IMAGE_SAFETY", LR_FINISH_OTHER, 1}, {NULL, 0, 0},
	};
	lr_span c = first_elem(t->candidates), block = lr_json_member(t->feedback, "blockReason");

	if (nonempty_string(block) && !lr_json_str_eq(block, "BLOCK_REASON_UNSPECIFIED")) {
		r->a->refusal_field = 1;
		r->a->finish = LR_FINISH_OTHER;
	}
	if (!is_object(c))
		return r->a->refusal_field;
	gemini_parts(r, lr_json_member(lr_json_member(c, "content"), "parts"));
	set_finish(r->a, lr_json_member(c, "finishReason"), reasons);
	return 1;
}

/* Ollama /api/chat (message) or /api/generate (response). */
static int read_ollama(reader *r, const tops *t, int chat)
{
	static const reason reasons[] = {
		{"stop", LR_FINISH_STOP, 0}, {"length", LR_FINISH_LENGTH, 0}, {NULL, 0, 0},
	};

	if (chat ? !is_object(t->message) : lr_json_type_of(t->response) != LR_JSON_STRING)
		return 0;
	if (chat) {
		add_text(r, lr_json_member(t->message, "content"));
		r->a->has_tool_call = nonempty_array(lr_json_member(t->message, "tool_calls"));
	} else {
		add_text(r, t->response);
	}
	set_finish(r->a, t->done_reason, reasons);
	return 1;
}

/* --- parsing ----------------------------------------------------------- */

static int op_is(const char *op, const char *name)
{
	return strcmp(op, name) == 0;
}

/* The shape lr_detect's format and operation promise. */
static int shape_of(int format, const char *op)
{
	if (!op)
		return SH_NONE;
	if (op_is(op, "embeddings"))
		return format == LR_FMT_NONE ? SH_NONE : SH_EMBEDDINGS;
	switch (format) {
	case LR_FMT_OPENAI:
	case LR_FMT_AZURE:
		if (op_is(op, "chat") || op_is(op, "completions"))
			return SH_CHOICES;
		return op_is(op, "responses") ? SH_RESPONSES : SH_NONE;
	case LR_FMT_ANTHROPIC:
		return op_is(op, "messages") ? SH_ANTHROPIC : SH_NONE;
	case LR_FMT_GEMINI:
		return op_is(op, "generate") ? SH_GEMINI : SH_NONE;
	case LR_FMT_OLLAMA:
		if (op_is(op, "chat"))
			return SH_OLLAMA_CHAT;
		return op_is(op, "generate") ? SH_OLLAMA_GENERATE : SH_NONE;
	}
	return SH_NONE;
}

static void collect(lr_span obj, tops *t)
{
	lr_json_iter it;
	lr_span k, v;
	size_t i;

	memset(t, 0, sizeof(*t));
	if (lr_json_iter_init(&it, obj.p, obj.len, 0) < 0)
		return;
	while (lr_json_obj_next(&it, &k, &v) == 1)
		for (i = 0; i < sizeof(top_keys) / sizeof(top_keys[0]); i++)
			if (lr_json_str_eq(k, top_keys[i].key))
				*(lr_span *)(void *)((char *)t + top_keys[i].off) = v;
}

/* An error object is no answer: OpenAI/Gemini/Ollama "error", Anthropic
 * "type": "error". */
static int is_error(const tops *t)
{
	return (t->error.p && !lr_json_is_null(t->error)) || lr_json_str_eq(t->type, "error");
}

static int read_shape(reader *r, int shape, const tops *t)
{
	switch (shape) {
	case SH_CHOICES: return read_choices(r, t);
	case SH_RESPONSES: return lr_json_type_of(t->output) == LR_JSON_ARRAY && read_responses(r, t);
	case SH_ANTHROPIC: return lr_json_type_of(t->content) == LR_JSON_ARRAY && read_anthropic(r, t);
	case SH_GEMINI: return read_gemini(r, t);
	case SH_OLLAMA_CHAT: return read_ollama(r, t, 1);
	case SH_OLLAMA_GENERATE: return read_ollama(r, t, 0);
	case SH_EMBEDDINGS:
		r->a->embeddings = 1;
		return 1;
	}
	return 0;
}

int lr_answer_parse(int format, const char *operation, const char *body, size_t len,
	lr_answer *out)
{
	reader r = {out, 0, 0, 0};
	size_t end = 0;
	int start;
	lr_span top;
	tops t;

	if (!out)
		return LR_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!body || lr_json_skip_value(body, len, &end) < 0 ||
	    (size_t)lr_json_skip_ws(body, len, end) != len)
		return LR_EPARSE;
	start = lr_json_skip_ws(body, len, 0);
	top.p = body + start;
	top.len = end - (size_t)start;
	if (!is_object(top))
		return 0;
	collect(top, &t);
	if (is_error(&t))
		return 0;
	/* a text we could not decode is not known to be empty: not read */
	out->parsed = read_shape(&r, shape_of(format, operation), &t) && !r.bad;
	if (r.err) {
		lr_answer_free(out);
		return r.err;
	}
	if (!out->parsed)
		lr_answer_free(out);
	return 0;
}

void lr_answer_free(lr_answer *a)
{
	if (!a)
		return;
	free(a->text);
	memset(a, 0, sizeof(*a));
}

/* --- the gate ---------------------------------------------------------- */

static int blank(const char *s, size_t n)
{
	for (; n; s++, n--)
		if (!memchr(" \t\r\n\v\f", *s, 6))
			return 0;
	return 1;
}

/* 1 if the text is not one JSON object or array with only whitespace
 * around; a text cut at the cap is judged by its first byte only, and one
 * nested deeper than lr_json reads is not judged. */
static int json_invalid(const lr_answer *a)
{
	size_t pos;
	int start, rc;

	if (!a->text)
		return 1;
	start = lr_json_skip_ws(a->text, a->text_len, 0);
	if (start < 0 || (size_t)start >= a->text_len ||
	    (a->text[start] != '{' && a->text[start] != '['))
		return 1;
	if (a->truncated)
		return 0;
	pos = (size_t)start;
	rc = lr_json_skip_value(a->text, a->text_len, &pos);
	if (rc == LR_ETOOBIG)
		return 0;
	return rc < 0 || (size_t)lr_json_skip_ws(a->text, a->text_len, pos) != a->text_len;
}

static int refused(const lr_answer *a, const regex_t *refusal)
{
	return a->refusal_field ||
	       (refusal && a->text && regexec(refusal, a->text, 0, NULL, 0) == 0);
}

unsigned lr_gate_check(const lr_answer *a, unsigned when, const regex_t *refusal, int json_asked)
{
	int no_text;

	if (!a || !a->parsed || a->embeddings)
		return 0;
	no_text = !a->text || blank(a->text, a->text_len);
	/* a refusal field is a refusal, not an empty answer: the audit should
	 * name the real reason */
	if ((when & LR_GATE_EMPTY) && no_text && !a->has_tool_call && !a->refusal_field)
		return LR_GATE_EMPTY;
	if ((when & LR_GATE_LENGTH) && a->finish == LR_FINISH_LENGTH)
		return LR_GATE_LENGTH;
	if ((when & LR_GATE_REFUSAL) && refused(a, refusal))
		return LR_GATE_REFUSAL;
	/* a tool call without text is not the JSON answer: nothing to judge */
	if ((when & LR_GATE_INVALID_JSON) && json_asked && !(no_text && a->has_tool_call) &&
	    json_invalid(a))
		return LR_GATE_INVALID_JSON;
	return 0;
}

const char *lr_gate_name(unsigned bit)
{
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (bit == 1u << i)
			return names[i];
	return NULL;
}

unsigned lr_gate_from_name(const char *name)
{
	unsigned i;

	for (i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return 1u << i;
	return 0;
}
