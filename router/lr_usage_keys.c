/*
 * lr_usage_keys.c - the member names the usage parser reads (see the
 * header).  A key without a backslash, the only kind providers send, is
 * compared as bytes; one with escapes is decoded name by name as before.
 */
#include "lr_usage_keys.h"

#include <string.h>

static const char *const key_names[K_COUNT] = {
	NULL,
	"model",
	"modelVersion",
	"usage",
	"usageMetadata",
	"prompt_eval_count",
	"eval_count",
	"error",
	"type",
	"choices",
	"candidates",
	"delta",
	"response",
	"thinking",
	"message",
	"content",
	"text",
	"partial_json",
	"reasoning_content",
	"reasoning",
	"refusal",
	"arguments",
	"prompt_tokens",
	"input_tokens",
	"completion_tokens",
	"output_tokens",
	"cache_read_input_tokens",
	"cache_creation_input_tokens",
	"prompt_tokens_details",
	"input_tokens_details",
	"promptTokenCount",
	"cachedContentTokenCount",
	"candidatesTokenCount",
	"thoughtsTokenCount",
	"tool_calls",
	"function",
	"cached_tokens",
	"parts",
};

/* The key of a plain (escape-free) raw key token s[0..n), quotes cut off. */
static int key_plain(const char *s, size_t n)
{
	switch (n) {
	case 4:
		if (!memcmp(s, "type", 4))
			return K_TYPE;
		if (!memcmp(s, "text", 4))
			return K_TEXT;
		break;
	case 5:
		if (!memcmp(s, "model", 5))
			return K_MODEL;
		if (!memcmp(s, "usage", 5))
			return K_USAGE;
		if (!memcmp(s, "error", 5))
			return K_ERROR;
		if (!memcmp(s, "delta", 5))
			return K_DELTA;
		if (!memcmp(s, "parts", 5))
			return K_PARTS;
		break;
	case 7:
		if (!memcmp(s, "choices", 7))
			return K_CHOICES;
		if (!memcmp(s, "message", 7))
			return K_MESSAGE;
		if (!memcmp(s, "content", 7))
			return K_CONTENT;
		if (!memcmp(s, "refusal", 7))
			return K_REFUSAL;
		break;
	case 8:
		if (!memcmp(s, "response", 8))
			return K_RESPONSE;
		if (!memcmp(s, "thinking", 8))
			return K_THINKING;
		if (!memcmp(s, "function", 8))
			return K_FUNCTION;
		break;
	case 9:
		if (!memcmp(s, "reasoning", 9))
			return K_REASONING;
		if (!memcmp(s, "arguments", 9))
			return K_ARGUMENTS;
		break;
	case 10:
		if (!memcmp(s, "eval_count", 10))
			return K_EVAL_COUNT;
		if (!memcmp(s, "candidates", 10))
			return K_CANDIDATES;
		if (!memcmp(s, "tool_calls", 10))
			return K_TOOL_CALLS;
		break;
	case 12:
		if (!memcmp(s, "modelVersion", 12))
			return K_MODEL_VERSION;
		if (!memcmp(s, "partial_json", 12))
			return K_PARTIAL_JSON;
		if (!memcmp(s, "input_tokens", 12))
			return K_INPUT_TOKENS;
		break;
	case 13:
		if (!memcmp(s, "usageMetadata", 13))
			return K_USAGE_METADATA;
		if (!memcmp(s, "prompt_tokens", 13))
			return K_PROMPT_TOKENS;
		if (!memcmp(s, "output_tokens", 13))
			return K_OUTPUT_TOKENS;
		if (!memcmp(s, "cached_tokens", 13))
			return K_CACHED_TOKENS;
		break;
	case 16:
		if (!memcmp(s, "promptTokenCount", 16))
			return K_PROMPT_TOKEN_COUNT;
		break;
	case 17:
		if (!memcmp(s, "prompt_eval_count", 17))
			return K_PROMPT_EVAL_COUNT;
		if (!memcmp(s, "reasoning_content", 17))
			return K_REASONING_CONTENT;
		if (!memcmp(s, "completion_tokens", 17))
			return K_COMPLETION_TOKENS;
		break;
	case 18:
		if (!memcmp(s, "thoughtsTokenCount", 18))
			return K_THOUGHTS_TOKEN_COUNT;
		break;
	case 20:
		if (!memcmp(s, "input_tokens_details", 20))
			return K_INPUT_TOKENS_DETAILS;
		if (!memcmp(s, "candidatesTokenCount", 20))
			return K_CANDIDATES_TOKEN_COUNT;
		break;
	case 21:
		if (!memcmp(s, "prompt_tokens_details", 21))
			return K_PROMPT_TOKENS_DETAILS;
		break;
	case 23:
		if (!memcmp(s, "cache_read_input_tokens", 23))
			return K_CACHE_READ_INPUT_TOKENS;
		if (!memcmp(s, "cachedContentTokenCount", 23))
			return K_CACHED_CONTENT_TOKEN_COUNT;
		break;
	case 27:
		if (!memcmp(s, "cache_creation_input_tokens", 27))
			return K_CACHE_CREATION_INPUT_TOKENS;
		break;
	}
	return K_OTHER;
}

int lr_usage_key(lr_span k)
{
	int i;

	if (!k.p || k.len < 2 || k.p[0] != '"' || k.p[k.len - 1] != '"')
		return K_OTHER;
	if (!memchr(k.p + 1, '\\', k.len - 2))
		return key_plain(k.p + 1, k.len - 2);
	for (i = 1; i < K_COUNT; i++)
		if (lr_json_str_eq(k, key_names[i]))
			return i;
	return K_OTHER;
}
