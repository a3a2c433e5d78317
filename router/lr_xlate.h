/*
 * lr_xlate.h - translation between LLM API formats (issue 17, pure half).
 *
 * An app speaks one API format (its "app" format); a route may send its
 * request to a provider that speaks another (the "target" format).  This
 * module rewrites, with no I/O:
 *   - the request: body, the target's path and the headers the format needs
 *     besides credentials (lr_xlate_request);
 *   - a complete answer, the target's body back into the app's shape
 *     (lr_xlate_answer);
 *   - an error, the target's status and body into the app's error shape and
 *     a matching status (lr_xlate_error), and an error of our own in the
 *     app's shape (lr_xlate_error_body);
 *   - a stream, incrementally: the target's SSE or NDJSON bytes in any
 *     slices in, the app's stream bytes out (lr_xlate_stream_*).
 * Every pair goes through one neutral representation (lr_xlate_int.h), so
 * each format is one file (lr_xlate_openai.c, _anthropic.c, _gemini.c,
 * _ollama.c, _responses.c) and no pair has code of its own.
 *
 * Formats: OpenAI chat completions, Azure OpenAI chat (the same body, its
 * own path), OpenAI Responses, Anthropic messages, Gemini generateContent,
 * Ollama /api/chat.  Embeddings, legacy completions and Ollama generate are
 * not translated (lr_xlate_format says so).
 *
 * What a target cannot honour (logprobs to Anthropic, n > 1, ...) makes
 * lr_xlate_request refuse with a message naming the feature and both
 * formats, unless the caller sets LR_XLATE_DROP, which drops it and names
 * it in `dropped`.  The table is in docs/translation.md.
 *
 * Invariants: input is (pointer, length), never NUL-terminated, never read
 * past its length, validated strictly (lr_json) before it is used; outputs
 * are malloc'ed lr_xbuf buffers with a hard cap (LR_XLATE_MAX_OUT); a
 * stream holds at most LR_XLATE_MAX_LINE bytes of an unfinished event plus
 * what the app's format needs kept until its end (LR_XLATE_MAX_HOLD);
 * hostile input yields an error in the app's shape, never a crash.
 * Errors follow lr_error.h.  Nothing here logs, reads the clock or the
 * environment: the caller passes the time (`created`).
 */
#ifndef LR_XLATE_H
#define LR_XLATE_H
#include <stddef.h>

#define LR_XLATE_MAX_IN ((size_t)64 << 20)    /* request / answer body cap */
#define LR_XLATE_MAX_OUT ((size_t)128 << 20)  /* any output buffer */
#define LR_XLATE_MAX_LINE ((size_t)1 << 20)   /* one stream event */
#define LR_XLATE_MAX_HOLD ((size_t)8 << 20)   /* kept by one stream (Responses, tools) */
#define LR_XLATE_MAX_TOOLS 64                 /* tool calls in one streamed answer */
#define LR_XLATE_MAX_MSG 512                  /* refusal / dropped messages */
#define LR_XLATE_MAX_PATH 1024

enum lr_xfmt {
	LR_XF_NONE,
	LR_XF_OPENAI,     /* /v1/chat/completions */
	LR_XF_AZURE,      /* /openai/deployments/D/chat/completions?api-version=V */
	LR_XF_RESPONSES,  /* /v1/responses */
	LR_XF_ANTHROPIC,  /* /v1/messages */
	LR_XF_GEMINI,     /* /v1beta/models/M:generateContent, :streamGenerateContent?alt=sse */
	LR_XF_OLLAMA,     /* /api/chat */
	LR_XF_COUNT
};

/* Flags of lr_xlate_opts. */
#define LR_XLATE_DROP 1u  /* drop what the target cannot honour instead of refusing */

/* A growable output buffer.  p is malloc'ed (NUL-terminated, the NUL not
 * counted in len) and belongs to the caller once filled; a zeroed lr_xbuf
 * is empty and valid.  The stream functions append to it, so a caller
 * sends p[0..len) and sets len = 0 between calls. */
typedef struct {
	char *p;
	size_t len, cap;
} lr_xbuf;

void lr_xbuf_free(lr_xbuf *b);

/* Which translation format a detected request is (lr_detect's format and
 * operation): LR_XF_* or LR_XF_NONE for operations not translated. */
int lr_xlate_format(int detect_format, const char *operation);

/* "openai", "azure", "responses", "anthropic", "gemini", "ollama", or "none". */
const char *lr_xlate_format_name(int xf);

/* Parses a name as lr_xlate_format_name spells it; LR_XF_NONE if unknown. */
int lr_xlate_format_from_name(const char *name);

typedef struct {
	int app, target;              /* LR_XF_* */
	const char *model;            /* the target's model (plain UTF-8); NULL keeps the app's */
	long max_tokens_default;      /* when the target needs a limit the app did not set
	                               * (Anthropic); 0: refuse such a request */
	unsigned flags;               /* LR_XLATE_DROP */
	const char *azure_api_version;/* NULL: "2024-10-21" */
	int app_stream_in_path;       /* Gemini app: the URL was :streamGenerateContent */
} lr_xlate_opts;

/* A header the target's format needs (never a credential). */
typedef struct {
	const char *name, *value;     /* static strings */
} lr_xlate_header;

typedef struct {
	lr_xbuf body;                 /* the target's request body */
	char path[LR_XLATE_MAX_PATH]; /* the target's full path, query included:
	                               * "/v1/messages", "/v1beta/models/M:streamGenerateContent?alt=sse" */
	size_t op_off;                /* path + op_off is what follows a route's endpoint
	                               * (its base, as lr_detect splits URLs) */
	lr_xlate_header headers[2];
	int nheaders;
	int stream;                   /* the app asked for a stream */
	int include_usage;            /* the app asked for usage in its stream (OpenAI
	                               * stream_options.include_usage; always for others) */
	char refusal[LR_XLATE_MAX_MSG];  /* why the request was refused ("" if not) */
	char dropped[LR_XLATE_MAX_MSG];  /* features dropped under LR_XLATE_DROP, comma-separated */
	char ignored[LR_XLATE_MAX_MSG];  /* unknown members ignored, comma-separated */
} lr_xlate_req;

/*
 * Translates the app's request body[0..len) into the target's.  Returns 0
 * with *out filled (out->body is the caller's: lr_xlate_req_free);
 * LR_EINVAL when a feature cannot be honoured (or the request is not one
 * the target can take: no messages, tool arguments that are not a JSON
 * object, no max_tokens for Anthropic and no default): out->refusal says
 * why, in words fit for the app; LR_EPARSE if the body is not one JSON
 * object of the app's format; LR_ETOOBIG past LR_XLATE_MAX_IN /
 * LR_XLATE_MAX_OUT; LR_ENOMEM.  On error out->body is empty.
 */
int lr_xlate_request(const lr_xlate_opts *o, const char *body, size_t len, lr_xlate_req *out);

void lr_xlate_req_free(lr_xlate_req *r);

/* What the answer and stream translators need to know about the exchange. */
typedef struct {
	int app, target;              /* LR_XF_* */
	int include_usage;            /* lr_xlate_req.include_usage */
	long long created;            /* unix seconds, for the ids and times the app's
	                               * format carries */
	int gemini_array;             /* Gemini app streaming without alt=sse: a JSON array */
	const char *model;            /* reported when the target's answer names none (Gemini
	                               * target: its model is in the path); may be NULL */
} lr_xlate_ctx;

/*
 * Translates a complete (non-streamed) answer: status and body[0..len) of
 * the target into the app's body (*out, appended) and *app_status.  A
 * status >= 400 is translated as lr_xlate_error does.  A 2xx body that is
 * not an answer of the target's shape becomes an error of the app's shape
 * with status 502 (the return value is then 1).  Returns 0 (translated),
 * 1 (the answer was bad: an error was written), LR_ENOMEM / LR_ETOOBIG
 * (nothing usable in *out).
 */
int lr_xlate_answer(const lr_xlate_ctx *c, int status, const char *body, size_t len,
	lr_xbuf *out, int *app_status);

/*
 * Translates the target's error (status >= 400, body[0..len), any shape or
 * none) into the app's error body (appended to *out) and status: the
 * class of error (invalid request, authentication, permission, not found,
 * too large, rate limit, overloaded, server) is kept, the message too.
 * Returns 0, LR_ENOMEM, LR_ETOOBIG.
 */
int lr_xlate_error(const lr_xlate_ctx *c, int status, const char *body, size_t len,
	lr_xbuf *out, int *app_status);

/* Writes an error of our own (status, plain UTF-8 message) in the app's
 * shape, e.g. a refused translation as a 400.  Returns 0, LR_ENOMEM,
 * LR_ETOOBIG, LR_EINVAL (app format unknown). */
int lr_xlate_error_body(int app, int status, const char *message, lr_xbuf *out);

/* Content-Type of the app's answers: streamed (SSE or NDJSON) or not. */
const char *lr_xlate_content_type(int app, int stream);

typedef struct lr_xlate_stream lr_xlate_stream;

/* A stream translator for one answer; NULL on allocation failure or an
 * unknown format.  Memory: bounded as the top of this file says. */
lr_xlate_stream *lr_xlate_stream_new(const lr_xlate_ctx *c);

/*
 * Feeds n bytes of the target's stream (any slicing) and appends the app's
 * stream bytes they complete to *out.  Returns 0, or 1 once the stream
 * failed (malformed input, a target error event, a cap): an error event of
 * the app's shape was written and later input is ignored; LR_ENOMEM /
 * LR_ETOOBIG if *out could not grow (the translator is then failed too).
 */
int lr_xlate_stream_feed(lr_xlate_stream *s, const char *p, size_t n, lr_xbuf *out);

/* The target's stream ended: processes a last unterminated event and
 * closes the app's stream (its final events, OpenAI's usage chunk and
 * [DONE]).  A target stream that ended before its end event closes with an
 * error event instead.  Returns as lr_xlate_stream_feed; later calls add
 * nothing. */
int lr_xlate_stream_finish(lr_xlate_stream *s, lr_xbuf *out);

/* Events translated so far (for benchmarks and the audit). */
size_t lr_xlate_stream_events(const lr_xlate_stream *s);

void lr_xlate_stream_free(lr_xlate_stream *s);

#endif
