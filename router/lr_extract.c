/*
 * lr_extract.c - request features from a body (see lr_extract.h).
 *
 * One pass over the top-level members; the input containers (messages,
 * contents, input) are walked once more, element by element, to find the
 * last user turn, the system message and any image.  All offsets come from
 * lr_json's validated iterators, so malformed input stops the walk and
 * never reads past the body.
 */
#include "lr_extract.h"
#include "lr_error.h"
#include "lr_json.h"

#include <stdlib.h>
#include <string.h>

/* Decodes the string token v into dst (cap bytes, NUL-terminated), cutting
 * it when it is longer.  Returns the bytes kept. */
static size_t text_of(lr_span v, char *dst, size_t cap)
{
	char *tmp;
	int n = lr_json_str_decode(v, dst, cap);

	if (n >= 0)
		return (size_t)n;
	if (n != LR_ETOOBIG || !(tmp = malloc(v.len + 1)))
		return 0;
	n = lr_json_str_decode(v, tmp, v.len + 1);
	if (n > 0) {
		memcpy(dst, tmp, cap - 1);
		dst[cap - 1] = '\0';
		n = (int)(cap - 1);
	}
	free(tmp);
	return n > 0 ? (size_t)n : 0;
}

/* Appends the string token v to buf[*len], separated by a newline. */
static void add_text(char *buf, size_t *len, lr_span v)
{
	size_t room;

	if (lr_json_type_of(v) != LR_JSON_STRING || *len >= LR_TEXT_MAX - 1)
		return;
	if (*len) {
		buf[(*len)++] = '\n';
		buf[*len] = '\0';
	}
	room = LR_TEXT_MAX - *len;
	if (room > 1)
		*len += text_of(v, buf + *len, room);
}

static int key_is(lr_span k, const char *lit)
{
	return lr_json_str_eq(k, lit);
}


static int is_image_part(lr_span part)
{
	lr_span t = lr_json_member(part, "type");

	return lr_json_str_eq(t, "image_url") || lr_json_str_eq(t, "input_image") ||
	       lr_json_str_eq(t, "image") || lr_json_member(part, "inlineData").p || lr_json_member(part, "fileData").p ||
	       lr_json_member(part, "image_url").p;
}

/* Text of a content value (a string, or parts with "text"), into buf;
 * notes images. */
static void content_text(lr_span content, char *buf, size_t *len, lr_extract *x)
{
	lr_json_iter it;
	lr_span part;

	if (lr_json_type_of(content) == LR_JSON_STRING) {
		add_text(buf, len, content);
		return;
	}
	if (lr_json_type_of(content) != LR_JSON_ARRAY || lr_json_arr_init(&it, content.p, content.len, 0) < 0)
		return;
	while (lr_json_arr_next(&it, &part) == 1) {
		if (is_image_part(part))
			x->images = 1;
		else
			add_text(buf, len, lr_json_member(part, "text"));
	}
}

static void scan_images(lr_span content, lr_extract *x)
{
	lr_json_iter it;
	lr_span part;

	if (lr_json_type_of(content) != LR_JSON_ARRAY || lr_json_arr_init(&it, content.p, content.len, 0) < 0)
		return;
	while (!x->images && lr_json_arr_next(&it, &part) == 1)
		x->images = is_image_part(part);
}

/* Messages-like arrays: OpenAI/Anthropic/Ollama messages, Responses input
 * items, Gemini contents.  The last user turn wins; the first system or
 * developer message is the system prompt. */
static void walk_turns(lr_span arr, lr_extract *x)
{
	lr_json_iter it;
	lr_span m, role, last = {0}, parts;

	if (lr_json_arr_init(&it, arr.p, arr.len, 0) < 0)
		return;
	while (lr_json_arr_next(&it, &m) == 1) {
		x->messages++;
		if (lr_json_type_of(m) == LR_JSON_STRING) { /* embeddings input list */
			last = m;
			continue;
		}
		role = lr_json_member(m, "role");
		parts = lr_json_member(m, "parts").p ? lr_json_member(m, "parts") : lr_json_member(m, "content");
		if (lr_json_str_eq(role, "system") || lr_json_str_eq(role, "developer")) {
			if (!x->system_len)
				content_text(parts, x->system, &x->system_len, x);
			continue;
		}
		/* no role: a Gemini single turn (it has parts); a Responses item
		 * that is not a message (function_call, ...) is no user turn */
		if (lr_json_str_eq(role, "user") || (!role.p && lr_json_member(m, "parts").p)) {
			scan_images(parts, x);
			last = parts.p ? parts : m;
			continue;
		}
		scan_images(parts, x); /* images in other turns count too */
	}
	if (last.p) {
		x->user_len = 0;
		x->user[0] = '\0';
		content_text(last, x->user, &x->user_len, x);
	}
}

static void system_value(lr_span v, lr_extract *x)
{
	lr_span parts = lr_json_member(v, "parts");

	x->system_len = 0;
	x->system[0] = '\0';
	if (parts.p)
		content_text(parts, x->system, &x->system_len, x); /* Gemini systemInstruction */
	else
		content_text(v, x->system, &x->system_len, x);     /* a string, or Anthropic blocks */
}

static double num_of(lr_span v)
{
	double d;

	return lr_json_num(v, &d) == 0 ? d : -1;
}

static int json_format(lr_span t)
{
	return lr_json_str_eq(t, "json_object") || lr_json_str_eq(t, "json_schema");
}

static int nonempty_array(lr_span v)
{
	lr_json_iter it;
	lr_span e;

	return lr_json_type_of(v) == LR_JSON_ARRAY && lr_json_arr_init(&it, v.p, v.len, 0) == 0 &&
	       lr_json_arr_next(&it, &e) == 1;
}

static void one_member(lr_span k, lr_span v, lr_extract *x, size_t *input_bytes)
{
	if (key_is(k, "messages") || key_is(k, "contents") ||
	    (key_is(k, "input") && lr_json_type_of(v) == LR_JSON_ARRAY)) {
		*input_bytes += v.len;
		walk_turns(v, x);
	} else if (key_is(k, "prompt") || key_is(k, "input")) {
		*input_bytes += v.len;
		x->messages = x->messages ? x->messages : 1;
		x->user_len = 0;
		x->user[0] = '\0';
		add_text(x->user, &x->user_len, v);
	} else if (key_is(k, "system") || key_is(k, "instructions") || key_is(k, "systemInstruction")) {
		*input_bytes += v.len;
		system_value(v, x);
	} else if (key_is(k, "max_tokens") || key_is(k, "max_completion_tokens") ||
		   key_is(k, "max_output_tokens")) {
		x->max_tokens = num_of(v);
	} else if (key_is(k, "generationConfig")) {
		if (lr_json_member(v, "maxOutputTokens").p)
			x->max_tokens = num_of(lr_json_member(v, "maxOutputTokens"));
		if (lr_json_str_eq(lr_json_member(v, "responseMimeType"), "application/json"))
			x->json = 1;
		if (lr_json_member(v, "temperature").p)
			x->temperature = num_of(lr_json_member(v, "temperature"));
	} else if (key_is(k, "options")) { /* Ollama */
		if (lr_json_member(v, "num_predict").p)
			x->max_tokens = num_of(lr_json_member(v, "num_predict"));
		if (lr_json_member(v, "temperature").p)
			x->temperature = num_of(lr_json_member(v, "temperature"));
	} else if (key_is(k, "temperature")) {
		x->temperature = num_of(v);
	} else if (key_is(k, "stream")) {
		x->stream_seen = 1;
		x->stream = lr_json_is_true(v);
	} else if (key_is(k, "tools") || key_is(k, "functions")) {
		x->tools |= nonempty_array(v);
	} else if (key_is(k, "response_format")) {
		x->json |= json_format(lr_json_member(v, "type"));
	} else if (key_is(k, "text")) {
		x->json |= json_format(lr_json_member(lr_json_member(v, "format"), "type"));
	} else if (key_is(k, "format")) { /* Ollama: "json" or a schema */
		x->json |= lr_json_str_eq(v, "json") || lr_json_type_of(v) == LR_JSON_OBJECT;
	}
}

int lr_extract_body(const char *body, size_t len, lr_extract *x)
{
	lr_json_iter it;
	lr_span k, v;
	size_t input_bytes = 0;
	int rc;

	x->user[0] = x->system[0] = '\0';
	x->user_len = x->system_len = 0;
	x->prompt_tokens = x->messages = 0;
	x->max_tokens = x->temperature = -1;
	x->stream = x->tools = x->images = x->json = x->stream_seen = 0;
	if (!body || lr_json_iter_init(&it, body, len, 0) < 0)
		return LR_EPARSE;
	while ((rc = lr_json_obj_next(&it, &k, &v)) == 1)
		one_member(k, v, x, &input_bytes);
	x->prompt_tokens = input_bytes ? (double)((input_bytes + 3) / 4) : 0;
	return rc < 0 ? LR_EPARSE : 0;
}
