/*
 * lr_usage_keys.h - the member names the usage parser (lr_usage.c) reads,
 * told apart in one switch on the name's length instead of a string
 * comparison per candidate name: an answer's every member goes through
 * here, once.
 */
#ifndef LR_USAGE_KEYS_H
#define LR_USAGE_KEYS_H
#include "lr_json.h"

enum lr_usage_key {
	K_OTHER,
	K_MODEL,
	K_MODEL_VERSION,
	K_USAGE,
	K_USAGE_METADATA,
	K_PROMPT_EVAL_COUNT,
	K_EVAL_COUNT,
	K_ERROR,
	K_TYPE,
	K_CHOICES,
	K_CANDIDATES,
	K_DELTA,
	K_RESPONSE,
	K_THINKING,
	K_MESSAGE,
	K_CONTENT,
	K_TEXT,
	K_PARTIAL_JSON,
	K_REASONING_CONTENT,
	K_REASONING,
	K_REFUSAL,
	K_ARGUMENTS,
	K_PROMPT_TOKENS,
	K_INPUT_TOKENS,
	K_COMPLETION_TOKENS,
	K_OUTPUT_TOKENS,
	K_CACHE_READ_INPUT_TOKENS,
	K_CACHE_CREATION_INPUT_TOKENS,
	K_PROMPT_TOKENS_DETAILS,
	K_INPUT_TOKENS_DETAILS,
	K_PROMPT_TOKEN_COUNT,
	K_CACHED_CONTENT_TOKEN_COUNT,
	K_CANDIDATES_TOKEN_COUNT,
	K_THOUGHTS_TOKEN_COUNT,
	K_TOOL_CALLS,
	K_FUNCTION,
	K_CACHED_TOKENS,
	K_PARTS,
	K_COUNT
};


/* Which of the names above the raw key token k (quotes included) decodes
 * to, or K_OTHER.  Equal to comparing with lr_json_str_eq, escapes and
 * all; allocates nothing. */
int lr_usage_key(lr_span k);

#endif
