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
 *   OpenAI Responses (lr_splice_more.c): `input` gets the assistant's
 *     message and the ask (a string input becomes a list); the
 *     continuation's response.created / in_progress and the first
 *     message item and text part it opens are dropped, its sequence
 *     numbers follow the app's, the text of its done events and of its
 *     response.completed carries the delivered text first;
 *   OpenAI completions: DELIVERED is appended to `prompt`; chunks pass,
 *     one `data: [DONE]`;
 *   Ollama (NDJSON, a JSON object a line): /api/chat gets a trailing
 *     assistant message (Ollama continues it), /api/generate with
 *     `"raw": true` has DELIVERED appended to `prompt` (without raw the
 *     template wraps the prompt: not continued exactly, so not at all);
 *     the line with "done": true ends it, its eval_count with the estimate.
 * A continuation asks for no more than the app did: its token limit
 * (max_tokens, max_completion_tokens, max_output_tokens,
 * generationConfig.maxOutputTokens, options.num_predict) is lowered by the
 * tokens delivered (lr_splice_limit); when none are left the app's stream
 * ends as the provider ends one cut by its limit (lr_splice_end_event).
 * Answers with several choices or tool calls (a Responses item other than
 * a message) under way are not continued (lr_splice_can_continue).
 * Nothing here allocates but the event and text buffers, each with a hard
 * cap, and the bodies and events it returns; nothing logs.
 */
#ifndef LR_SPLICE_H
#define LR_SPLICE_H
#include <stddef.h>

#define LR_SPLICE_MAX_EVENT (1u << 20)
#define LR_SPLICE_MAX_TEXT (4u << 20)
#define LR_SPLICE_ASK "Continue exactly where your last message stopped, without repeating any of it."

/* Hands n bytes to the app: 0, or < 0 when it refused them. */
typedef int (*lr_splice_emit)(void *ud, const char *p, size_t n);

/* The stream dialects followed: a format and its operation. */
enum lr_splice_dialect {
	LR_SP_CHAT,          /* OpenAI / Azure /chat/completions */
	LR_SP_ANTHROPIC,     /* /v1/messages */
	LR_SP_GEMINI,        /* :streamGenerateContent?alt=sse */
	LR_SP_RESPONSES,     /* OpenAI /responses */
	LR_SP_COMPLETIONS,   /* OpenAI legacy /completions */
	LR_SP_OLLAMA_CHAT,   /* Ollama /api/chat (NDJSON) */
	LR_SP_OLLAMA_GEN,    /* Ollama /api/generate (NDJSON) */
};

typedef struct lr_splice {
	int format;          /* enum lr_format: LR_FMT_OPENAI (AZURE), _ANTHROPIC, _GEMINI or _OLLAMA */
	int dialect;         /* enum lr_splice_dialect */
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
	size_t tbefore;      /* text delivered before the attempt under way */
	/* Responses */
	long long seq;       /* the last sequence_number the app saw, -1 none */
	int item_open;       /* the app has a message item opened (output_item.added) */
	int part_open;       /* ... and its text part (content_part.added) */
	int skip_item, skip_part; /* a continuation: drop the item and part it opens */
} lr_splice;

/* Can answers of this format and operation ("chat", "messages", Gemini's
 * "generate") be
 * followed and continued? */
int lr_splice_supported(int format, const char *operation);

/* lr_splice_init: the format's main dialect (chat, messages, generate,
 * Ollama chat); lr_splice_init_op: the dialect of format + operation. */
void lr_splice_init(lr_splice *s, int format);
void lr_splice_init_op(lr_splice *s, int format, const char *operation);
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

/* The tokens delivered so far, estimated as the audit does (4 bytes a
 * token, at least 1 once there is text). */
long long lr_splice_delivered_tokens(const lr_splice *s);

/* The app's token limit in body (the dialect's key), less the tokens
 * delivered: > 0 tokens left; 0 none left (end the stream with
 * lr_splice_end_event instead of continuing); -1 the body sets no limit. */
long long lr_splice_limit(const lr_splice *s, const char *body, size_t len);

/* The events that end the app's stream as the provider ends one its token
 * limit cut (finish reason "length", stop_reason "max_tokens",
 * "MAX_TOKENS", response.incomplete, done_reason "length"), with the
 * estimated output tokens.  Malloc'ed, *outlen bytes; NULL on ENOMEM. */
char *lr_splice_end_event(const lr_splice *s, size_t *outlen);

/* Does a whole stream (held, not passed) end with its format's end
 * marker, without an error event?  _like: in the dialect of `like`. */
int lr_splice_complete(int format, const char *p, size_t n);
int lr_splice_complete_like(const lr_splice *like, const char *p, size_t n);

/* The longest prefix of a held stream made of whole events that passed
 * (nothing from an error or malformed event on): what the app may get of
 * a held stream that was cut. */
size_t lr_splice_whole_prefix(const lr_splice *like, const char *p, size_t n);

#endif
