/*
 * lr_splice_int.h - what the splicer's files share (lr_splice.c: framing
 * and the chat, Anthropic and Gemini events; lr_splice_more.c: Responses,
 * completions and Ollama; lr_splice_body.c: what is sent and how the app's
 * stream ends).  Not for other modules.
 */
#ifndef LR_SPLICE_INT_H
#define LR_SPLICE_INT_H
#include "lr_json.h"
#include "lr_splice.h"

/* One whole event: its SSE name and data (an NDJSON line: data only). */
typedef struct lr_sp_event {
	lr_span name, data;
} lr_sp_event;

/* One replacement in an event's data: bytes [at, end) become p[0..n), or
 * buf when p is NULL. */
typedef struct lr_sp_edit {
	size_t at, end;
	const char *p;
	size_t n;
	char buf[24];
} lr_sp_edit;

int lr_sp_is_object(lr_span v);
int lr_sp_ndjson(const lr_splice *s);

/* Keeps the decoded JSON string str as delivered text. */
void lr_sp_add_text(lr_splice *s, lr_span str);

/* The number after the first "key": in d, where it is; -1 if none. */
int lr_sp_find_num(lr_span d, const char *key, size_t *at, size_t *end, long long *val);

/* An edit setting the number after "key" (searched from `from`) to
 * old + add; 0, or -1 when there is none. */
int lr_sp_num_edit(lr_span d, size_t from, const char *key, long long add, int set, lr_sp_edit *e);

/* Emits the event with the edits (sorted by `at`, not overlapping) made
 * to its data: emit's result, or LR_ENOMEM. */
int lr_sp_emit_edits(const lr_splice *s, const lr_sp_event *ev, const lr_sp_edit *edits, int n,
		     lr_splice_emit emit, void *ud);

/* The dialects of lr_splice_more.c: like the others, emit's result, or
 * LR_EPARSE for an error or malformed event (not passed). */
int lr_sp_responses_event(lr_splice *s, const lr_sp_event *ev, const char *raw, size_t n, lr_splice_emit emit,
			  void *ud);
int lr_sp_completions_event(lr_splice *s, const lr_sp_event *ev, const char *raw, size_t n, lr_splice_emit emit,
			    void *ud);
int lr_sp_ollama_event(lr_splice *s, const lr_sp_event *ev, const char *raw, size_t n, lr_splice_emit emit,
		       void *ud);

/* Is this data an event of the Responses / completions / Ollama dialects? */
int lr_sp_more_of_format(const lr_splice *s, lr_span d);

#endif
