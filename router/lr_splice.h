/*
 * lr_splice.h - one well-formed stream for the app out of a stream cut
 * after text reached it and the continuation another attempt sends.
 *
 * A transport feeds each attempt's event stream (SSE) through
 * lr_splice_feed, which hands the app complete events only (never half of
 * one), and keeps the text they carried (bounded: LR_SPLICE_MAX_TEXT).  An
 * error event or a malformed one is not passed: the attempt is cut there
 * (`bad`).  When the stream ends without its end marker, is reset, or
 * stalls, the transport asks the next step, with the body lr_splice_body
 * makes, to continue the answer, and feeds that attempt's events after
 * lr_splice_attempt(s, 1), which turns them into the rest of the app's
 * stream:
 *   OpenAI chat: the request's messages get
 *     {"role":"assistant","content":DELIVERED} and
 *     {"role":"user","content":LR_SPLICE_ASK}; the continuation's chunks
 *     pass as they come, then its one `data: [DONE]`;
 *   Anthropic messages: a trailing {"role":"assistant","content":DELIVERED}
 *     (its trailing white space removed: the API refuses it) is a native
 *     prefill; the continuation's message_start is dropped, and so is its
 *     first content_block_start while the app's text block is open; block
 *     indexes are shifted to follow the app's; its message_delta and one
 *     message_stop end the app's stream;
 *   Gemini (streamGenerateContent?alt=sse): the request's contents get
 *     {"role":"model","parts":[{"text":DELIVERED}]} and
 *     {"role":"user","parts":[{"text":LR_SPLICE_ASK}]}; the continuation's
 *     chunks pass as they come, the one with a finishReason ends it.
 * A stream that is not SSE (Gemini's JSON array without alt=sse) passes
 * as it comes and is never cut.
 * Usage: the continuation's usage event (OpenAI's include_usage chunk,
 * Anthropic's message_delta, Gemini's usageMetadata) has the output tokens of the text delivered
 * before it, estimated at 4 bytes a token, added to its own.
 * Other formats (Responses, Ollama, completions) and answers with
 * several choices or tool calls under way are not continued
 * (lr_splice_can_continue).  Nothing here allocates but the event and text
 * buffers, each with a hard cap; nothing logs.
 */
#ifndef LR_SPLICE_H
#define LR_SPLICE_H
#include <stddef.h>

#define LR_SPLICE_MAX_EVENT (1u << 20)
#define LR_SPLICE_MAX_TEXT (4u << 20)
#define LR_SPLICE_ASK "Continue exactly where your last message stopped, without repeating any of it."

/* Hands n bytes to the app: 0, or < 0 when it refused them. */
typedef int (*lr_splice_emit)(void *ud, const char *p, size_t n);

typedef struct lr_splice {
	int format;          /* enum lr_format: LR_FMT_OPENAI (AZURE), _ANTHROPIC or _GEMINI */
	/* the attempt under way */
	int cont;            /* it continues the app's stream */
	int done;            /* its end marker reached the app */
	int bad;             /* it sent an error event or a malformed one: cut there */
	int events;          /* events of it passed to the app */
	int raw;             /* not an event stream: passed as it comes */
	size_t seen;         /* bytes of the attempt fed so far */
	int foreign;         /* a continuation whose first event is not of the format
			      * (another API's answer): cut, nothing of it passed */
	int skip_start;      /* Anthropic: drop its first content_block_start */
	long offset;         /* Anthropic: its block index + offset = the app's */
	long long est_before;/* output tokens of the text delivered before it, estimated */
	char *ev;            /* the event being read */
	size_t evlen, evcap;
	/* the app's stream so far */
	int block_open;      /* Anthropic: a text block started, not stopped */
	long block;          /* the last block index the app saw, -1 none */
	int nocont;          /* something that cannot be continued (tool calls, choices) */
	int msg_started;     /* Anthropic: the app had a message_start */
	char *text;          /* the text delivered */
	size_t tlen, tcap;
	int text_over;       /* more than LR_SPLICE_MAX_TEXT: not kept */
} lr_splice;

/* Can answers of this format and operation ("chat", "messages", Gemini's
 * "generate") be
 * followed and continued? */
int lr_splice_supported(int format, const char *operation);

void lr_splice_init(lr_splice *s, int format);
void lr_splice_free(lr_splice *s);

/* Another attempt's events follow: a continuation (cont) or a fresh
 * answer (the app had nothing of the last). */
void lr_splice_attempt(lr_splice *s, int cont);

/* Feeds n bytes of the attempt's stream; complete events go to emit.
 * 0; LR_EIO when emit refused; LR_EPARSE when the attempt is cut (an
 * error or malformed event, not passed: `bad` is set; the bytes after it
 * are ignored). */
int lr_splice_feed(lr_splice *s, const char *p, size_t n, lr_splice_emit emit, void *ud);

/* Can the app's stream be continued (its text kept, nothing that cannot
 * be: a tool call under way, several choices)?  With no text delivered yet
 * the continuation is the request as it was. */
int lr_splice_can_continue(const lr_splice *s);

/* The request body that asks for the rest: the app's body (len bytes) with
 * the messages above appended (no text delivered: the body as it is).  0 and *out (malloc'ed, NUL-terminated,
 * *outlen bytes; the caller frees); LR_EPARSE (no messages array),
 * LR_ENOMEM, LR_EINVAL (the text is not UTF-8). */
int lr_splice_body(const lr_splice *s, const char *body, size_t len, char **out, size_t *outlen);

/* The event that ends the app's stream when it cannot be continued, in
 * its format, saying why; its length (truncated to fit cap). */
size_t lr_splice_error_event(const lr_splice *s, const char *why, char *out, size_t cap);

/* Does a whole stream (held, not passed) end with its format's end
 * marker, without an error event? */
int lr_splice_complete(int format, const char *p, size_t n);

#endif
