/*
 * lr_extract.h - the request features that routing policy looks at, read
 * once from a request body in one pass over its top-level members.
 *
 * Every provider shape is recognised in every body (the URL's format
 * decides nothing, as in lr_usage.h):
 *   - the last user message, text only: OpenAI/Ollama/Anthropic
 *     `messages` (string content, or text parts), Responses `input`
 *     (string, or items with input_text parts), Gemini `contents` (parts'
 *     text), completions and Ollama generate `prompt`, embeddings `input`;
 *   - the system prompt: the first `system`/`developer` message, Anthropic
 *     and Ollama `system`, Responses `instructions`, Gemini
 *     `systemInstruction`;
 *   - images anywhere in the input (image_url, input_image, image blocks,
 *     Gemini inlineData/fileData), tools offered (`tools`, `functions`),
 *     JSON asked (`response_format`, Responses `text.format`, Gemini
 *     `responseMimeType`, Ollama `format`), streaming (`stream`);
 *   - max_tokens, max_completion_tokens, max_output_tokens,
 *     generationConfig.maxOutputTokens, options.num_predict;
 *   - prompt tokens, estimated at 4 bytes per token over the raw bytes of
 *     the input and the system prompt (JSON syntax included: an estimate).
 * Texts are decoded from JSON and kept up to LR_TEXT_MAX - 1 bytes (the
 * rest is cut: classification and globs look at the start).  Nothing
 * allocates unless a single text is longer than LR_TEXT_MAX.
 */
#ifndef LR_EXTRACT_H
#define LR_EXTRACT_H
#include <stddef.h>

#define LR_TEXT_MAX 4096

typedef struct {
	char user[LR_TEXT_MAX];   /* last user message, NUL-terminated */
	size_t user_len;
	char system[LR_TEXT_MAX]; /* system prompt, NUL-terminated */
	size_t system_len;
	double prompt_tokens;     /* estimate; 0 if no input was found */
	double max_tokens;        /* -1 if not asked */
	double temperature;       /* -1 if not asked (top level, generationConfig, options) */
	int stream, tools, images, json;
	int stream_seen;          /* "stream" was present (true or false) */
	double messages;          /* messages / input items; 1 for a plain prompt */
} lr_extract;

/* Fills *x from body[0..len).  Returns 0; LR_EPARSE if the body is not a
 * JSON object (x then holds what was read before the error). */
int lr_extract_body(const char *body, size_t len, lr_extract *x);

#endif
