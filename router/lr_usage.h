/*
 * lr_usage.h - token usage and response model from an LLM API response.
 *
 * The response is fed in pieces as it arrives (lr_usage_feed), exactly the
 * bytes the app received, in order.  Non-streamed JSON answers are kept (up
 * to LR_USAGE_MAX_BODY; past that, only the model and usage that could be
 * seen are reported) and parsed at lr_usage_finish.  Streams are parsed
 * incrementally, event by event, with a bounded line buffer:
 *   - SSE (`data: {...}` lines; OpenAI chat/completions/responses,
 *     Anthropic, Gemini alt=sse): OpenAI's final usage chunk
 *     (stream_options.include_usage), Responses API `response.completed`,
 *     Anthropic `message_start` (input) and `message_delta` (output),
 *     Gemini `usageMetadata` (last one wins);
 *   - NDJSON (Ollama streaming): the final object's prompt_eval_count and
 *     eval_count.
 * Usage fields by format (non-streamed):
 *   OpenAI chat/completions: usage.prompt_tokens, usage.completion_tokens;
 *   Responses API: usage.input_tokens, usage.output_tokens;
 *   embeddings: usage.prompt_tokens (output 0);
 *   Anthropic: usage.input_tokens, usage.output_tokens;
 *   Gemini: usageMetadata.promptTokenCount, candidatesTokenCount;
 *   Ollama: prompt_eval_count, eval_count.
 * Anthropic's input also counts cache_read_input_tokens and
 * cache_creation_input_tokens, and Gemini's output thoughtsTokenCount, so
 * that every format reports all the tokens of the call as OpenAI does.
 * How many input tokens were cached is reported apart, in the same usage
 * object as the input count (0 when it says nothing of a cache):
 *   cache_read: OpenAI usage.prompt_tokens_details.cached_tokens, Responses
 *     usage.input_tokens_details.cached_tokens, Anthropic
 *     cache_read_input_tokens, Gemini cachedContentTokenCount;
 *   cache_write: Anthropic cache_creation_input_tokens (the others do not
 *     bill cache writes apart).
 * They are part of input_tokens, never more than it.  The
 * last value seen wins (streams repeat or complete their usage), except
 * that the output count of Anthropic's message_start is a placeholder and
 * is ignored.  The format decides nothing: every shape is recognised in
 * every answer, so a mislabelled or proxied answer still counts.
 *
 * When the response carries no usage (an OpenAI stream without
 * include_usage, a truncated answer), lr_usage_finish estimates: input from
 * the request's size (at least 1), output from the generated text's size
 * (decoded delta text for streams, else the response size), about 4 bytes
 * per token, and sets `estimated`.  A complete non-streamed answer with an
 * input count and no output count (embeddings) has output 0, not an
 * estimate.  An error answer ({"error":...} or "type":"error") with no usage
 * and no generated text has 0 and 0, not estimated: providers do not bill
 * refused calls.  An empty response (nothing received) leaves both -1.
 * Not handled: SSE events split over several data: lines (no provider sends
 * them) and bare-CR line ends.  No text is kept after lr_usage_finish;
 * nothing here logs.
 */
#ifndef LR_USAGE_H
#define LR_USAGE_H
#include <stddef.h>
#include "lr_request.h"

#define LR_USAGE_MAX_BODY (8u << 20)
#define LR_USAGE_MAX_LINE (1u << 20)

typedef struct {
	/* configuration (lr_usage_init) */
	int format;             /* enum lr_format */
	int stream;             /* the response is SSE or NDJSON */
	size_t request_bytes;   /* for the input estimate */
	/* results, valid after lr_usage_finish */
	char model[LR_MODEL_MAX];   /* response model, "" if none seen */
	long long input_tokens;     /* -1 unknown */
	long long output_tokens;    /* -1 unknown */
	long long cache_read_tokens;  /* of input_tokens; -1 when input is unknown */
	long long cache_write_tokens; /* of input_tokens; -1 when input is unknown */
	int estimated;              /* 1 if either count is an estimate */
	size_t response_bytes;      /* everything fed */
	/* private */
	char *buf;                  /* the body, or the current line of a stream */
	size_t len, cap;
	size_t text_bytes;          /* generated text seen in stream deltas */
	int overflow;               /* body past the cap / skipping a long line */
	int mode;                   /* undecided, body, lines, finished */
	int error;                  /* an error object was seen */
	char *tail;                 /* the end of a body past the cap */
	size_t tail_len;
} lr_usage;

/* Prepares u; allocates nothing.  `stream` may be refined by the response
 * itself: a body that starts with an SSE field ("data:", "event:", ...) is
 * SSE whatever the request said, and a streamed request answered with a
 * JSON object or array (an error, Gemini's array form) is parsed whole,
 * except for Ollama, whose NDJSON lines are objects. */
void lr_usage_init(lr_usage *u, int format, int stream, size_t request_bytes);

/* Feeds n response bytes.  Never fails: on allocation failure or past the
 * caps it stops keeping bytes and falls back to estimating.  A body past
 * LR_USAGE_MAX_BODY keeps its first LR_USAGE_MAX_BODY bytes and its last
 * 64 KiB, where OpenAI and Ollama embeddings put their model and usage.  A
 * stream line past LR_USAGE_MAX_LINE is skipped and its bytes count as
 * generated text.  Ignored after lr_usage_finish. */
void lr_usage_feed(lr_usage *u, const char *p, size_t n);

/* Parses what is buffered, fills the results, frees the buffers.  A second
 * call does nothing; lr_usage_free afterwards is harmless. */
void lr_usage_finish(lr_usage *u);

/* Frees the buffers without parsing (a transfer that was abandoned).  Safe
 * on a zeroed or finished lr_usage. */
void lr_usage_free(lr_usage *u);

#endif
