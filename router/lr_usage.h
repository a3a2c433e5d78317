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
 * When the response carries no usage (an OpenAI stream without
 * include_usage, a truncated answer), lr_usage_finish estimates: input from
 * the request's size, output from the generated text's size (content deltas
 * for streams, else the response size), about 4 bytes per token, and sets
 * `estimated`.  No text is kept after lr_usage_finish; nothing here logs.
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
	int estimated;              /* 1 if either count is an estimate */
	size_t response_bytes;      /* everything fed */
	/* private */
	char *buf;
	size_t len, cap;
	size_t text_bytes;          /* generated text seen in stream deltas */
	int overflow;
} lr_usage;

/* Prepares u.  `stream` may be refined by the response itself: a body that
 * starts with "data:" or "event:" is SSE whatever the request said. */
void lr_usage_init(lr_usage *u, int format, int stream, size_t request_bytes);

/* Feeds n response bytes.  Never fails: on allocation failure or past the
 * caps it stops keeping bytes and falls back to estimating. */
void lr_usage_feed(lr_usage *u, const char *p, size_t n);

/* Parses what is buffered, fills the results, frees the buffer. */
void lr_usage_finish(lr_usage *u);

/* Frees the buffer without parsing (a transfer that was abandoned). */
void lr_usage_free(lr_usage *u);

#endif
