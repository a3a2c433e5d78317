/*
 * lr_overflow.c - context-overflow errors by their wording (see the
 * header).  Each phrase is the part of the provider's message or code that
 * stays the same from one request to the next (numbers vary around it).
 */
#include "lr_overflow.h"

#include <ctype.h>
#include <string.h>

static const struct {
	const char *provider, *phrase;
} rows[] = {
	/* OpenAI, Azure OpenAI, and the servers that copy them (vLLM, Groq,
	 * DeepSeek): the code, and "This model's maximum context length is
	 * 128000 tokens. However, ..."; Responses: "Your input exceeds the
	 * context window of this model." */
	{"openai", "context_length_exceeded"},
	{"openai", "maximum context length"},
	{"openai", "exceeds the context window"},
	/* Anthropic: "prompt is too long: 210000 tokens > 200000 maximum";
	 * "input length and `max_tokens` exceed context limit: ..." */
	{"anthropic", "prompt is too long"},
	{"anthropic", "exceed context limit"},
	/* Gemini (INVALID_ARGUMENT): "The input token count (1200000) exceeds
	 * the maximum number of tokens allowed (1048576)." */
	{"gemini", "exceeds the maximum number of tokens"},
	/* Ollama: "input length exceeds the context length"; llama.cpp server:
	 * "the request exceeds the available context size" (type
	 * exceed_context_size_error); llama-cpp-python: "Requested tokens
	 * (5000) exceed context window of 4096"; older llama.cpp: "... n_ctx" */
	{"ollama", "exceeds the context length"},
	{"llama.cpp", "exceeds the available context size"},
	{"llama.cpp", "exceed_context_size_error"},
	{"llama.cpp", "exceed context window"},
	{"llama.cpp", "n_ctx"},
	/* Mistral: "Prompt contains 40000 tokens ... too large for model with
	 * 32768 maximum context length" (the OpenAI row covers it too) */
	{"mistral", "too large for model with"},
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

int lr_overflow_status(long status)
{
	return status == 400 || status == 413;
}

/* Case-insensitive search of phrase (lower case) in p[0..n). */
static int contains(const char *p, size_t n, const char *phrase)
{
	size_t k = strlen(phrase), i, j;

	for (i = 0; k && i + k <= n; i++) {
		for (j = 0; j < k && tolower((unsigned char)p[i + j]) == (unsigned char)phrase[j]; j++)
			;
		if (j == k)
			return 1;
	}
	return 0;
}

int lr_overflow_match(const char *body, size_t n, const char **provider)
{
	size_t i;

	for (i = 0; body && i < NROWS; i++) {
		if (contains(body, n, rows[i].phrase)) {
			if (provider)
				*provider = rows[i].provider;
			return 1;
		}
	}
	return 0;
}

int lr_overflow_row(size_t i, const char **provider, const char **phrase)
{
	if (i >= NROWS)
		return 0;
	*provider = rows[i].provider;
	*phrase = rows[i].phrase;
	return 1;
}
