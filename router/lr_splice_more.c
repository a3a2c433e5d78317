/*
 * lr_splice_more.c - the splicer's events for OpenAI Responses, OpenAI
 * legacy completions and Ollama's NDJSON (see lr_splice.h).
 *
 * Responses numbers its events (sequence_number) and repeats the text in
 * its done events and in response.completed, so a continuation's events are
 * renumbered to follow the app's, and the text each repeats gets the text
 * delivered before it in front: an SDK that keeps the final response sees
 * the whole answer.  Completions is chat's shape with choices[].text;
 * Ollama's lines end with one "done": true.
 */
#include "lr_splice_int.h"
#include "lr_error.h"

#include <stdlib.h>
#include <string.h>

/* --- Responses ----------------------------------------------------------- */

/* The output_text part of a message item (its content array), or none. */
static lr_span text_of_item(lr_span item)
{
	lr_span content = lr_json_member(item, "content"), part;
	lr_json_iter it;

	if (!lr_json_str_eq(lr_json_member(item, "type"), "message") || !content.p ||
	    lr_json_arr_init(&it, content.p, content.len, 0) < 0)
		return (lr_span){NULL, 0};
	while (lr_json_arr_next(&it, &part) == 1)
		if (lr_json_str_eq(lr_json_member(part, "type"), "output_text"))
			return lr_json_member(part, "text");
	return (lr_span){NULL, 0};
}

/* The first message item's text in a response's output. */
static lr_span text_of_response(lr_span resp)
{
	lr_span out = lr_json_member(resp, "output"), item, t;
	lr_json_iter it;

	if (!out.p || lr_json_arr_init(&it, out.p, out.len, 0) < 0)
		return (lr_span){NULL, 0};
	while (lr_json_arr_next(&it, &item) == 1)
		if ((t = text_of_item(item)).p)
			return t;
	return (lr_span){NULL, 0};
}

/* The string token of the text this event repeats, if any. */
static lr_span repeated_text(lr_span d, lr_span type)
{
	if (lr_json_str_eq(type, "response.output_text.done"))
		return lr_json_member(d, "text");
	if (lr_json_str_eq(type, "response.content_part.done"))
		return lr_json_member(lr_json_member(d, "part"), "text");
	if (lr_json_str_eq(type, "response.output_item.done"))
		return text_of_item(lr_json_member(d, "item"));
	if (lr_json_str_eq(type, "response.completed") || lr_json_str_eq(type, "response.incomplete"))
		return text_of_response(lr_json_member(d, "response"));
	return (lr_span){NULL, 0};
}

/* The delivered text as the inside of a JSON string (malloc'ed), or NULL. */
static char *encoded_before(const lr_splice *s, size_t *n)
{
	size_t cap = 6 * s->tbefore + 3;
	char *o = malloc(cap);
	int k;

	if (!o || (k = lr_json_str_encode(s->text, s->tbefore, o, cap)) < 2) {
		free(o);
		return NULL;
	}
	memmove(o, o + 1, (size_t)k - 2);
	*n = (size_t)k - 2;
	return o;
}

static void sort_edits(lr_sp_edit *e, int n)
{
	int i, j;
	lr_sp_edit t;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && e[j - 1].at > e[j].at; j--)
			t = e[j], e[j] = e[j - 1], e[j - 1] = t;
}

/* A continuation's event: renumbered, its repeated text and its usage
 * made the whole answer's. */
static int responses_rewrite(lr_splice *s, const lr_sp_event *ev, lr_span type, lr_splice_emit emit, void *ud)
{
	lr_span d = ev->data, text = repeated_text(d, type), usage;
	lr_sp_edit ed[4];
	char *pre = NULL;
	int k = 0, rc;

	if (lr_sp_num_edit(d, 0, "sequence_number", ++s->seq, 1, &ed[k]) == 0)
		k++;
	if (text.p && s->tbefore && (pre = encoded_before(s, &ed[k].n))) {
		ed[k].at = ed[k].end = (size_t)(text.p - d.p) + 1;
		ed[k++].p = pre;
	}
	usage = lr_json_member(lr_json_member(d, "response"), "usage");
	if (s->est_before && usage.p && lr_json_type_of(usage) == LR_JSON_OBJECT) {
		size_t from = (size_t)(usage.p - d.p);

		if (lr_sp_num_edit(d, from, "output_tokens", s->est_before, 0, &ed[k]) == 0)
			k++;
		if (lr_sp_num_edit(d, from, "total_tokens", s->est_before, 0, &ed[k]) == 0)
			k++;
	}
	sort_edits(ed, k);
	rc = lr_sp_emit_edits(s, ev, ed, k, emit, ud);
	free(pre);
	return rc;
}

/* The app's stream already has what this event opens: drop it. */
static int responses_drop(lr_splice *s, lr_span d, lr_span type)
{
	lr_span item;

	if (lr_json_str_eq(type, "response.created") || lr_json_str_eq(type, "response.in_progress"))
		return s->cont && s->msg_started;
	if (lr_json_str_eq(type, "response.output_item.added")) {
		item = lr_json_member(d, "item");
		if (!lr_json_str_eq(lr_json_member(item, "type"), "message"))
			return 0;
		if (s->skip_item)
			return !(s->skip_item = 0);
	}
	if (lr_json_str_eq(type, "response.content_part.added") && s->skip_part)
		return !(s->skip_part = 0);
	return 0;
}

/* What the event says about the app's answer: text, open item and part,
 * something that cannot be continued, the end. */
static void responses_track(lr_splice *s, lr_span d, lr_span type)
{
	lr_span item, part, seq;
	long long v;
	size_t at, end;

	if (lr_json_str_eq(type, "response.created"))
		s->msg_started = 1;
	else if (lr_json_str_eq(type, "response.completed") || lr_json_str_eq(type, "response.incomplete"))
		s->done = 1;
	else if (lr_json_str_eq(type, "response.output_text.delta") &&
		 lr_json_type_of(lr_json_member(d, "delta")) == LR_JSON_STRING)
		lr_sp_add_text(s, lr_json_member(d, "delta"));
	else if (lr_json_str_eq(type, "response.output_item.added")) {
		item = lr_json_member(d, "item");
		if (lr_json_str_eq(lr_json_member(item, "type"), "message"))
			s->item_open = 1;
		else
			s->nocont = 1; /* a tool call, reasoning: not continued */
	} else if (lr_json_str_eq(type, "response.output_item.done")) {
		s->item_open = s->part_open = 0;
	} else if (lr_json_str_eq(type, "response.content_part.added")) {
		part = lr_json_member(d, "part");
		if (lr_json_str_eq(lr_json_member(part, "type"), "output_text"))
			s->part_open = 1;
		else
			s->nocont = 1; /* a refusal */
	} else if (lr_json_str_eq(type, "response.content_part.done")) {
		s->part_open = 0;
	}
	seq = lr_json_member(d, "sequence_number");
	if (!s->cont && seq.p && lr_sp_find_num(d, "sequence_number", &at, &end, &v) == 0)
		s->seq = v;
}

int lr_sp_responses_event(lr_splice *s, const lr_sp_event *ev, const char *raw, size_t n, lr_splice_emit emit,
			  void *ud)
{
	lr_span d = ev->data, type;

	if (!lr_sp_is_object(d) || !(type = lr_json_member(d, "type")).p)
		return LR_EPARSE;
	if (lr_json_str_eq(type, "error") || lr_json_str_eq(type, "response.failed"))
		return LR_EPARSE;
	if (responses_drop(s, d, type))
		return 0;
	responses_track(s, d, type);
	if (s->cont)
		return responses_rewrite(s, ev, type, emit, ud);
	return emit(ud, raw, n);
}

/* --- completions ----------------------------------------------------------- */

int lr_sp_completions_event(lr_splice *s, const lr_sp_event *ev, const char *raw, size_t n, lr_splice_emit emit,
			    void *ud)
{
	lr_span d = ev->data, ch, c0, text, idx, usage;
	lr_json_iter it;
	lr_sp_edit ed[2];
	int nch = 0, k = 0;

	if (d.len == 6 && memcmp(d.p, "[DONE]", 6) == 0) {
		s->done = 1;
		return emit(ud, raw, n);
	}
	if (!lr_sp_is_object(d) || (lr_json_member(d, "error").p && !lr_json_is_null(lr_json_member(d, "error"))))
		return LR_EPARSE;
	ch = lr_json_member(d, "choices");
	if (ch.p && lr_json_arr_init(&it, ch.p, ch.len, 0) == 0)
		while (lr_json_arr_next(&it, &c0) == 1) {
			idx = lr_json_member(c0, "index");
			if (nch++ || (idx.p && !(idx.len == 1 && idx.p[0] == '0')))
				s->nocont = 1; /* several choices (n, best_of): not continued */
			text = lr_json_member(c0, "text");
			if (text.p && lr_json_type_of(text) == LR_JSON_STRING)
				lr_sp_add_text(s, text);
		}
	usage = lr_json_member(d, "usage");
	if (s->cont && s->est_before && usage.p && lr_json_type_of(usage) == LR_JSON_OBJECT) {
		size_t from = (size_t)(usage.p - d.p);

		if (lr_sp_num_edit(d, from, "completion_tokens", s->est_before, 0, &ed[k]) == 0)
			k++;
		if (lr_sp_num_edit(d, k ? ed[k - 1].end : from, "total_tokens", s->est_before, 0, &ed[k]) == 0)
			k++;
		return lr_sp_emit_edits(s, ev, ed, k, emit, ud);
	}
	return emit(ud, raw, n);
}

/* --- Ollama ------------------------------------------------------------------ */

int lr_sp_ollama_event(lr_splice *s, const lr_sp_event *ev, const char *raw, size_t n, lr_splice_emit emit, void *ud)
{
	lr_span d = ev->data, msg, text, done;
	lr_sp_edit ed;

	if (!lr_sp_is_object(d) || lr_json_member(d, "error").p)
		return LR_EPARSE;
	msg = lr_json_member(d, "message");
	text = s->dialect == LR_SP_OLLAMA_CHAT ? lr_json_member(msg, "content") : lr_json_member(d, "response");
	if (text.p && lr_json_type_of(text) == LR_JSON_STRING)
		lr_sp_add_text(s, text);
	if (msg.p && lr_json_member(msg, "tool_calls").p && !lr_json_is_null(lr_json_member(msg, "tool_calls")))
		s->nocont = 1;
	done = lr_json_member(d, "done");
	if (done.p && lr_json_is_true(done))
		s->done = 1;
	if (s->done && s->cont && s->est_before && lr_sp_num_edit(d, 0, "eval_count", s->est_before, 0, &ed) == 0)
		return lr_sp_emit_edits(s, ev, &ed, 1, emit, ud);
	return emit(ud, raw, n);
}

int lr_sp_more_of_format(const lr_splice *s, lr_span d)
{
	lr_span type;

	if (s->dialect == LR_SP_RESPONSES)
		return (type = lr_json_member(d, "type")).p && lr_json_type_of(type) == LR_JSON_STRING;
	if (s->dialect == LR_SP_COMPLETIONS)
		return lr_json_member(d, "choices").p || lr_json_member(d, "usage").p;
	return lr_json_member(d, "done").p &&
	       lr_json_member(d, s->dialect == LR_SP_OLLAMA_CHAT ? "message" : "response").p;
}
