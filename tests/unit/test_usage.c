/*
 * test_usage.c - unit tests for router/lr_usage.c, token usage and response
 * model from LLM API answers.
 *
 * The fixtures are real answers of tools/mock_upstream.py (captured with
 * curl, so exactly what an app receives), whose rule is input tokens =
 * request bytes // 4 and output tokens = 4.  Each is fed whole, byte by
 * byte and in pseudo-random pieces, with LF and CRLF line ends, with the
 * stream flag right and wrong, and cut at every byte.  Then hand-written
 * answers for what the mock does not send (estimates, errors, cache and
 * thinking tokens, escapes), garbage and mutations that must not crash, and
 * the caps: a 9 MB body and a 2 MB stream line.
 */
#include "lr_detect.h"
#include "lr_usage.h"
#include "lr_test.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	const char *name, *data;
	int format, stream;
	size_t request_bytes;
	const char *model;
	long long in, out;
} fixture;

static const char fx_openai_chat[] =
	"{\"id\": \"chatcmpl-mock1\", \"created\": 1795437604, \"model\": \"gpt-4o\", \"system_fingerprint\": null, \"object\": \"chat.completion\", \"usage\": {\"prompt_tokens\": 15, \"completion_tokens\": 4, \"total_tokens\": 19}, \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": \"mock reply from gpt-4o\", \"refusal\": null}, \"logprobs\": null, \"finish_reason\": \"stop\"}]}";

static const char fx_openai_chat_stream_usage[] =
	"data: {\"id\": \"chatcmpl-mock3\", \"created\": 1795437604, \"model\": \"gpt-4o\", \"system_fingerprint\": null, \"object\": \"chat.completion.chunk\", \"choices\": [{\"index\": 0, \"delta\": {\"content\": \"mock reply \", \"role\": \"assistant\"}, \"logprobs\": null, \"finish_reason\": null}], \"usage\": null}\n"
	"\n"
	"data: {\"id\": \"chatcmpl-mock3\", \"created\": 1795437604, \"model\": \"gpt-4o\", \"system_fingerprint\": null, \"object\": \"chat.completion.chunk\", \"choices\": [{\"index\": 0, \"delta\": {\"content\": \"from \"}, \"logprobs\": null, \"finish_reason\": null}], \"usage\": null}\n"
	"\n"
	"data: {\"id\": \"chatcmpl-mock3\", \"created\": 1795437604, \"model\": \"gpt-4o\", \"system_fingerprint\": null, \"object\": \"chat.completion.chunk\", \"choices\": [{\"index\": 0, \"delta\": {\"content\": \"gpt-4o\"}, \"logprobs\": null, \"finish_reason\": null}], \"usage\": null}\n"
	"\n"
	"data: {\"id\": \"chatcmpl-mock3\", \"created\": 1795437604, \"model\": \"gpt-4o\", \"system_fingerprint\": null, \"object\": \"chat.completion.chunk\", \"choices\": [{\"index\": 0, \"delta\": {}, \"logprobs\": null, \"finish_reason\": \"stop\"}], \"usage\": null}\n"
	"\n"
	"data: {\"id\": \"chatcmpl-mock3\", \"created\": 1795437604, \"model\": \"gpt-4o\", \"system_fingerprint\": null, \"object\": \"chat.completion.chunk\", \"choices\": [], \"usage\": {\"prompt_tokens\": 29, \"completion_tokens\": 4, \"total_tokens\": 33}}\n"
	"\n"
	"data: [DONE]\n"
	"\n";

static const char fx_openai_completions[] =
	"{\"id\": \"cmpl-mock4\", \"object\": \"text_completion\", \"created\": 1795437604, \"model\": \"gpt-3.5-turbo-instruct\", \"system_fingerprint\": null, \"usage\": {\"prompt_tokens\": 12, \"completion_tokens\": 4, \"total_tokens\": 16}, \"choices\": [{\"text\": \"mock reply from gpt-3.5-turbo-instruct\", \"index\": 0, \"logprobs\": null, \"finish_reason\": \"stop\"}]}";

static const char fx_openai_completions_stream[] =
	"data: {\"id\": \"cmpl-mock5\", \"object\": \"text_completion\", \"created\": 1795437604, \"model\": \"gpt-3.5-turbo-instruct\", \"system_fingerprint\": null, \"choices\": [{\"text\": \"mock reply \", \"index\": 0, \"logprobs\": null, \"finish_reason\": null}], \"usage\": null}\n"
	"\n"
	"data: {\"id\": \"cmpl-mock5\", \"object\": \"text_completion\", \"created\": 1795437604, \"model\": \"gpt-3.5-turbo-instruct\", \"system_fingerprint\": null, \"choices\": [{\"text\": \"from \", \"index\": 0, \"logprobs\": null, \"finish_reason\": null}], \"usage\": null}\n"
	"\n"
	"data: {\"id\": \"cmpl-mock5\", \"object\": \"text_completion\", \"created\": 1795437604, \"model\": \"gpt-3.5-turbo-instruct\", \"system_fingerprint\": null, \"choices\": [{\"text\": \"gpt-3.5-turbo-instruct\", \"index\": 0, \"logprobs\": null, \"finish_reason\": null}], \"usage\": null}\n"
	"\n"
	"data: {\"id\": \"cmpl-mock5\", \"object\": \"text_completion\", \"created\": 1795437604, \"model\": \"gpt-3.5-turbo-instruct\", \"system_fingerprint\": null, \"choices\": [{\"text\": \"\", \"index\": 0, \"logprobs\": null, \"finish_reason\": \"stop\"}], \"usage\": null}\n"
	"\n"
	"data: {\"id\": \"cmpl-mock5\", \"object\": \"text_completion\", \"created\": 1795437604, \"model\": \"gpt-3.5-turbo-instruct\", \"system_fingerprint\": null, \"choices\": [], \"usage\": {\"prompt_tokens\": 25, \"completion_tokens\": 4, \"total_tokens\": 29}}\n"
	"\n"
	"data: [DONE]\n"
	"\n";

static const char fx_openai_responses[] =
	"{\"id\": \"resp_mock6\", \"object\": \"response\", \"created_at\": 1795437604, \"status\": \"completed\", \"model\": \"gpt-4.1\", \"output\": [{\"type\": \"message\", \"id\": \"msg_mock6\", \"status\": \"completed\", \"role\": \"assistant\", \"content\": [{\"type\": \"output_text\", \"text\": \"mock reply from gpt-4.1\", \"annotations\": []}]}], \"usage\": {\"input_tokens\": 8, \"input_tokens_details\": {\"cached_tokens\": 0}, \"output_tokens\": 4, \"output_tokens_details\": {\"reasoning_tokens\": 0}, \"total_tokens\": 12}}";

static const char fx_openai_responses_stream[] =
	"event: response.created\n"
	"data: {\"type\": \"response.created\", \"sequence_number\": 0, \"response\": {\"id\": \"resp_mock7\", \"object\": \"response\", \"created_at\": 1795437604, \"status\": \"in_progress\", \"model\": \"gpt-4.1\", \"output\": [], \"usage\": null}}\n"
	"\n"
	"event: response.in_progress\n"
	"data: {\"type\": \"response.in_progress\", \"sequence_number\": 1, \"response\": {\"id\": \"resp_mock7\", \"object\": \"response\", \"created_at\": 1795437604, \"status\": \"in_progress\", \"model\": \"gpt-4.1\", \"output\": [], \"usage\": null}}\n"
	"\n"
	"event: response.output_item.added\n"
	"data: {\"type\": \"response.output_item.added\", \"sequence_number\": 2, \"output_index\": 0, \"item\": {\"type\": \"message\", \"id\": \"msg_mock7\", \"status\": \"in_progress\", \"role\": \"assistant\", \"content\": []}}\n"
	"\n"
	"event: response.content_part.added\n"
	"data: {\"type\": \"response.content_part.added\", \"sequence_number\": 3, \"item_id\": \"msg_mock7\", \"output_index\": 0, \"content_index\": 0, \"part\": {\"type\": \"output_text\", \"text\": \"\", \"annotations\": []}}\n"
	"\n"
	"event: response.output_text.delta\n"
	"data: {\"type\": \"response.output_text.delta\", \"sequence_number\": 4, \"item_id\": \"msg_mock7\", \"output_index\": 0, \"content_index\": 0, \"delta\": \"mock reply \"}\n"
	"\n"
	"event: response.output_text.delta\n"
	"data: {\"type\": \"response.output_text.delta\", \"sequence_number\": 5, \"item_id\": \"msg_mock7\", \"output_index\": 0, \"content_index\": 0, \"delta\": \"from \"}\n"
	"\n"
	"event: response.output_text.delta\n"
	"data: {\"type\": \"response.output_text.delta\", \"sequence_number\": 6, \"item_id\": \"msg_mock7\", \"output_index\": 0, \"content_index\": 0, \"delta\": \"gpt-4.1\"}\n"
	"\n"
	"event: response.output_text.done\n"
	"data: {\"type\": \"response.output_text.done\", \"sequence_number\": 7, \"item_id\": \"msg_mock7\", \"output_index\": 0, \"content_index\": 0, \"text\": \"mock reply from gpt-4.1\"}\n"
	"\n"
	"event: response.content_part.done\n"
	"data: {\"type\": \"response.content_part.done\", \"sequence_number\": 8, \"item_id\": \"msg_mock7\", \"output_index\": 0, \"content_index\": 0, \"part\": {\"type\": \"output_text\", \"text\": \"mock reply from gpt-4.1\", \"annotations\": []}}\n"
	"\n"
	"event: response.output_item.done\n"
	"data: {\"type\": \"response.output_item.done\", \"sequence_number\": 9, \"output_index\": 0, \"item\": {\"type\": \"message\", \"id\": \"msg_mock7\", \"status\": \"completed\", \"role\": \"assistant\", \"content\": [{\"type\": \"output_text\", \"text\": \"mock reply from gpt-4.1\", \"annotations\": []}]}}\n"
	"\n"
	"event: response.completed\n"
	"data: {\"type\": \"response.completed\", \"sequence_number\": 10, \"response\": {\"id\": \"resp_mock7\", \"object\": \"response\", \"created_at\": 1795437604, \"status\": \"completed\", \"model\": \"gpt-4.1\", \"output\": [{\"type\": \"message\", \"id\": \"msg_mock7\", \"status\": \"completed\", \"role\": \"assistant\", \"content\": [{\"type\": \"output_text\", \"text\": \"mock reply from gpt-4.1\", \"annotations\": []}]}], \"usage\": {\"input_tokens\": 11, \"input_tokens_details\": {\"cached_tokens\": 0}, \"output_tokens\": 4, \"output_tokens_details\": {\"reasoning_tokens\": 0}, \"total_tokens\": 15}}}\n"
	"\n";

static const char fx_openai_embeddings[] =
	"{\"object\": \"list\", \"data\": [{\"object\": \"embedding\", \"index\": 0, \"embedding\": [0.121569, -0.47451, -0.47451, -0.45098, -0.215686, 0.121569, -0.160784, 0.176471]}], \"model\": \"text-embedding-3-small\", \"usage\": {\"prompt_tokens\": 11, \"total_tokens\": 11}}";

static const char fx_azure_chat[] =
	"{\"id\": \"chatcmpl-mock9\", \"created\": 1795437604, \"model\": \"my-dep\", \"system_fingerprint\": null, \"object\": \"chat.completion\", \"usage\": {\"prompt_tokens\": 11, \"completion_tokens\": 4, \"total_tokens\": 15}, \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": \"mock reply from my-dep\", \"refusal\": null}, \"logprobs\": null, \"finish_reason\": \"stop\"}]}";

static const char fx_anthropic[] =
	"{\"id\": \"msg_mock10\", \"type\": \"message\", \"role\": \"assistant\", \"model\": \"claude-3-5-haiku-latest\", \"content\": [{\"type\": \"text\", \"text\": \"mock reply from claude-3-5-haiku-latest\"}], \"stop_reason\": \"end_turn\", \"stop_sequence\": null, \"usage\": {\"input_tokens\": 23, \"output_tokens\": 4}}";

static const char fx_anthropic_stream[] =
	"event: message_start\n"
	"data: {\"type\": \"message_start\", \"message\": {\"id\": \"msg_mock11\", \"type\": \"message\", \"role\": \"assistant\", \"model\": \"claude-3-5-haiku-latest\", \"content\": [], \"stop_reason\": null, \"stop_sequence\": null, \"usage\": {\"input_tokens\": 27, \"output_tokens\": 0}}}\n"
	"\n"
	"event: content_block_start\n"
	"data: {\"type\": \"content_block_start\", \"index\": 0, \"content_block\": {\"type\": \"text\", \"text\": \"\"}}\n"
	"\n"
	"event: content_block_delta\n"
	"data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"mock reply \"}}\n"
	"\n"
	"event: content_block_delta\n"
	"data: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"from claude-3-5-haiku-latest\"}}\n"
	"\n"
	"event: content_block_stop\n"
	"data: {\"type\": \"content_block_stop\", \"index\": 0}\n"
	"\n"
	"event: message_delta\n"
	"data: {\"type\": \"message_delta\", \"delta\": {\"stop_reason\": \"end_turn\", \"stop_sequence\": null}, \"usage\": {\"output_tokens\": 4}}\n"
	"\n"
	"event: message_stop\n"
	"data: {\"type\": \"message_stop\"}\n"
	"\n";

static const char fx_gemini[] =
	"{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"mock reply from gemini-1.5-flash\"}], \"role\": \"model\"}, \"index\": 0, \"finishReason\": \"STOP\"}], \"modelVersion\": \"gemini-1.5-flash\", \"responseId\": \"mock12\", \"usageMetadata\": {\"promptTokenCount\": 10, \"candidatesTokenCount\": 4, \"totalTokenCount\": 14}}";

static const char fx_gemini_stream_sse[] =
	"data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"mock reply \"}], \"role\": \"model\"}, \"index\": 0}], \"modelVersion\": \"gemini-1.5-flash\", \"responseId\": \"mock13\"}\n"
	"\n"
	"data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"from \"}], \"role\": \"model\"}, \"index\": 0}], \"modelVersion\": \"gemini-1.5-flash\", \"responseId\": \"mock13\"}\n"
	"\n"
	"data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"gemini-1.5-flash\"}], \"role\": \"model\"}, \"index\": 0, \"finishReason\": \"STOP\"}], \"modelVersion\": \"gemini-1.5-flash\", \"responseId\": \"mock13\", \"usageMetadata\": {\"promptTokenCount\": 10, \"candidatesTokenCount\": 4, \"totalTokenCount\": 14}}\n"
	"\n";

static const char fx_gemini_stream_array[] =
	"[{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"mock reply \"}], \"role\": \"model\"}, \"index\": 0}], \"modelVersion\": \"gemini-1.5-flash\", \"responseId\": \"mock14\"}, {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"from \"}], \"role\": \"model\"}, \"index\": 0}], \"modelVersion\": \"gemini-1.5-flash\", \"responseId\": \"mock14\"}, {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"gemini-1.5-flash\"}], \"role\": \"model\"}, \"index\": 0, \"finishReason\": \"STOP\"}], \"modelVersion\": \"gemini-1.5-flash\", \"responseId\": \"mock14\", \"usageMetadata\": {\"promptTokenCount\": 10, \"candidatesTokenCount\": 4, \"totalTokenCount\": 14}}]";

static const char fx_ollama_chat[] =
	"{\"model\": \"llama3\", \"created_at\": \"2026-11-23T12:40:04.000000000Z\", \"done\": true, \"done_reason\": \"stop\", \"total_duration\": 1000000, \"load_duration\": 100000, \"prompt_eval_count\": 19, \"prompt_eval_duration\": 200000, \"eval_count\": 4, \"eval_duration\": 700000, \"message\": {\"role\": \"assistant\", \"content\": \"mock reply from llama3\"}}";

static const char fx_ollama_chat_stream[] =
	"{\"model\": \"llama3\", \"created_at\": \"2026-11-23T12:40:04.000000000Z\", \"message\": {\"role\": \"assistant\", \"content\": \"mock reply \"}, \"done\": false}\n"
	"{\"model\": \"llama3\", \"created_at\": \"2026-11-23T12:40:04.000000000Z\", \"message\": {\"role\": \"assistant\", \"content\": \"from \"}, \"done\": false}\n"
	"{\"model\": \"llama3\", \"created_at\": \"2026-11-23T12:40:04.000000000Z\", \"message\": {\"role\": \"assistant\", \"content\": \"llama3\"}, \"done\": false}\n"
	"{\"model\": \"llama3\", \"created_at\": \"2026-11-23T12:40:04.000000000Z\", \"done\": true, \"done_reason\": \"stop\", \"total_duration\": 1000000, \"load_duration\": 100000, \"prompt_eval_count\": 15, \"prompt_eval_duration\": 200000, \"eval_count\": 4, \"eval_duration\": 700000, \"message\": {\"role\": \"assistant\", \"content\": \"\"}}\n";

static const char fx_ollama_generate_stream[] =
	"{\"model\": \"llama3\", \"created_at\": \"2026-11-23T12:40:04.000000000Z\", \"response\": \"mock reply \", \"done\": false}\n"
	"{\"model\": \"llama3\", \"created_at\": \"2026-11-23T12:40:04.000000000Z\", \"response\": \"from \", \"done\": false}\n"
	"{\"model\": \"llama3\", \"created_at\": \"2026-11-23T12:40:04.000000000Z\", \"response\": \"llama3\", \"done\": false}\n"
	"{\"model\": \"llama3\", \"created_at\": \"2026-11-23T12:40:04.000000000Z\", \"done\": true, \"done_reason\": \"stop\", \"total_duration\": 1000000, \"load_duration\": 100000, \"prompt_eval_count\": 8, \"prompt_eval_duration\": 200000, \"eval_count\": 4, \"eval_duration\": 700000, \"response\": \"\"}\n";

static const char fx_ollama_embed[] =
	"{\"model\": \"nomic-embed-text\", \"embeddings\": [[0.121569, -0.47451, -0.47451, -0.45098, -0.215686, 0.121569, -0.160784, 0.176471]], \"total_duration\": 1000000, \"load_duration\": 100000, \"prompt_eval_count\": 10}";

static const char fx_openai_chat_stream[] =
	"data: {\"id\": \"chatcmpl-mock2\", \"created\": 1795437604, \"model\": \"gpt-4o\", \"system_fingerprint\": null, \"object\": \"chat.completion.chunk\", \"choices\": [{\"index\": 0, \"delta\": {\"content\": \"mock reply \", \"role\": \"assistant\"}, \"logprobs\": null, \"finish_reason\": null}]}\n"
	"\n"
	"data: {\"id\": \"chatcmpl-mock2\", \"created\": 1795437604, \"model\": \"gpt-4o\", \"system_fingerprint\": null, \"object\": \"chat.completion.chunk\", \"choices\": [{\"index\": 0, \"delta\": {\"content\": \"from \"}, \"logprobs\": null, \"finish_reason\": null}]}\n"
	"\n"
	"data: {\"id\": \"chatcmpl-mock2\", \"created\": 1795437604, \"model\": \"gpt-4o\", \"system_fingerprint\": null, \"object\": \"chat.completion.chunk\", \"choices\": [{\"index\": 0, \"delta\": {\"content\": \"gpt-4o\"}, \"logprobs\": null, \"finish_reason\": null}]}\n"
	"\n"
	"data: {\"id\": \"chatcmpl-mock2\", \"created\": 1795437604, \"model\": \"gpt-4o\", \"system_fingerprint\": null, \"object\": \"chat.completion.chunk\", \"choices\": [{\"index\": 0, \"delta\": {}, \"logprobs\": null, \"finish_reason\": \"stop\"}]}\n"
	"\n"
	"data: [DONE]\n"
	"\n";

static const char fx_error_openai[] =
	"{\"error\": {\"message\": \"mock fault 429\", \"type\": \"rate_limit_exceeded\", \"param\": null, \"code\": \"rate_limit_exceeded\"}}";

static const char fx_error_anthropic[] =
	"{\"type\": \"error\", \"error\": {\"type\": \"rate_limit_error\", \"message\": \"mock fault 429\"}}";

static const char fx_error_ollama[] =
	"{\"error\": \"mock fault 429\"}";

static const fixture fixtures[] = {
	{"openai_chat", fx_openai_chat, LR_FMT_OPENAI, 0, 62, "gpt-4o", 15, 4},
	{"openai_chat_stream_usage", fx_openai_chat_stream_usage, LR_FMT_OPENAI, 1, 116, "gpt-4o", 29, 4},
	{"openai_completions", fx_openai_completions, LR_FMT_OPENAI, 0, 48, "gpt-3.5-turbo-instruct", 12, 4},
	{"openai_completions_stream", fx_openai_completions_stream, LR_FMT_OPENAI, 1, 102, "gpt-3.5-turbo-instruct", 25, 4},
	{"openai_responses", fx_openai_responses, LR_FMT_OPENAI, 0, 32, "gpt-4.1", 8, 4},
	{"openai_responses_stream", fx_openai_responses_stream, LR_FMT_OPENAI, 1, 46, "gpt-4.1", 11, 4},
	{"openai_embeddings", fx_openai_embeddings, LR_FMT_OPENAI, 0, 47, "text-embedding-3-small", 11, 0},
	{"azure_chat", fx_azure_chat, LR_FMT_AZURE, 0, 45, "my-dep", 11, 4},
	{"anthropic", fx_anthropic, LR_FMT_ANTHROPIC, 0, 94, "claude-3-5-haiku-latest", 23, 4},
	{"anthropic_stream", fx_anthropic_stream, LR_FMT_ANTHROPIC, 1, 108, "claude-3-5-haiku-latest", 27, 4},
	{"gemini", fx_gemini, LR_FMT_GEMINI, 0, 40, "gemini-1.5-flash", 10, 4},
	{"gemini_stream_sse", fx_gemini_stream_sse, LR_FMT_GEMINI, 1, 40, "gemini-1.5-flash", 10, 4},
	{"gemini_stream_array", fx_gemini_stream_array, LR_FMT_GEMINI, 1, 40, "gemini-1.5-flash", 10, 4},
	{"ollama_chat", fx_ollama_chat, LR_FMT_OLLAMA, 0, 77, "llama3", 19, 4},
	{"ollama_chat_stream", fx_ollama_chat_stream, LR_FMT_OLLAMA, 1, 62, "llama3", 15, 4},
	{"ollama_generate_stream", fx_ollama_generate_stream, LR_FMT_OLLAMA, 1, 32, "llama3", 8, 4},
	{"ollama_embed", fx_ollama_embed, LR_FMT_OLLAMA, 0, 41, "nomic-embed-text", 10, 0},
};

#define NFIX (sizeof(fixtures) / sizeof(fixtures[0]))

static const int formats[] = {LR_FMT_NONE, LR_FMT_OPENAI, LR_FMT_AZURE, LR_FMT_ANTHROPIC,
			      LR_FMT_GEMINI, LR_FMT_OLLAMA};

/* --- harness --------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

enum { WHOLE, BYTES, RANDOM };

/* Feeds n bytes whole, one at a time, or in random pieces of 1..maxpiece,
 * each from its own heap copy so ASan sees any read past a piece. */
static void feed_split(lr_usage *u, const char *p, size_t n, int how, size_t maxpiece)
{
	size_t k;
	char *copy;

	while (n) {
		k = how == WHOLE ? n : how == BYTES ? 1 : 1 + (size_t)(rng() % maxpiece);
		if (k > n)
			k = n;
		if (!(copy = malloc(k)))
			abort();
		memcpy(copy, p, k);
		lr_usage_feed(u, copy, k);
		free(copy);
		p += k;
		n -= k;
	}
}

static void run(lr_usage *u, int format, int stream, size_t req, const char *p, size_t n,
		int how)
{
	lr_usage_init(u, format, stream, req);
	feed_split(u, p, n, how, 64);
	lr_usage_finish(u);
}

/* Checks every result of u; `what` names the case in a failure. */
static void expect(int line, const char *what, const lr_usage *u, const char *model,
		   long long in, long long out, int estimated)
{
	lr_test_checks++;
	if (!strcmp(u->model, model) && u->input_tokens == in && u->output_tokens == out &&
	    u->estimated == estimated && !u->buf && !u->tail)
		return;
	lr_test_failed++;
	fprintf(stderr, "%s:%d: %s: got model \"%s\" in %lld out %lld est %d%s, expected "
		"\"%s\" %lld %lld %d\n", __FILE__, line, what, u->model, u->input_tokens,
		u->output_tokens, u->estimated, u->buf || u->tail ? " (buffers kept)" : "",
		model, in, out, estimated);
}

#define EXPECT(what, u, model, in, out, est) expect(__LINE__, what, u, model, in, out, est)

/* One C-string answer, fed whole, byte by byte and at random: same result. */
static void answer(int line, const char *what, int format, int stream, size_t req,
		   const char *body, const char *model, long long in, long long out, int est)
{
	lr_usage u;
	int how;

	for (how = WHOLE; how <= RANDOM; how++) {
		run(&u, format, stream, req, body, strlen(body), how);
		expect(line, what, &u, model, in, out, est);
	}
}

#define ANSWER(what, fmt, stream, req, body, model, in, out, est) \
	answer(__LINE__, what, fmt, stream, req, body, model, in, out, est)

/* A heap copy of s with every "\n" made "\r\n". */
static char *crlf(const char *s, size_t *n)
{
	size_t i, o = 0, len = strlen(s);
	char *out = malloc(2 * len + 1);

	if (!out)
		abort();
	for (i = 0; i < len; i++) {
		if (s[i] == '\n')
			out[o++] = '\r';
		out[o++] = s[i];
	}
	out[o] = 0;
	*n = o;
	return out;
}

/* --- the mock's answers ---------------------------------------------------- */

static void fixture_all_ways(const fixture *f, const char *p, size_t n, int stream,
			     const char *variant)
{
	char what[128];
	lr_usage u;
	int how, seed;

	for (how = WHOLE; how <= BYTES; how++) {
		snprintf(what, sizeof(what), "%s %s stream=%d %s", f->name, variant, stream,
			 how == WHOLE ? "whole" : "bytes");
		run(&u, f->format, stream, f->request_bytes, p, n, how);
		expect(__LINE__, what, &u, f->model, f->in, f->out, 0);
	}
	for (seed = 0; seed < 20; seed++) {
		snprintf(what, sizeof(what), "%s %s stream=%d random #%d", f->name, variant,
			 stream, seed);
		run(&u, f->format, stream, f->request_bytes, p, n, RANDOM);
		expect(__LINE__, what, &u, f->model, f->in, f->out, 0);
	}
}

static void test_fixtures(void)
{
	const fixture *f;
	size_t n;
	char *c;

	for (f = fixtures; f < fixtures + NFIX; f++) {
		fixture_all_ways(f, f->data, strlen(f->data), f->stream, "LF");
		c = crlf(f->data, &n);
		fixture_all_ways(f, c, n, f->stream, "CRLF");
		free(c);
		/* The answer's own shape wins over a wrong stream flag, except an
		 * Ollama embed taken as NDJSON: a line with no output count in a
		 * stream is an estimate. */
		if (strcmp(f->name, "ollama_embed") != 0)
			fixture_all_ways(f, f->data, strlen(f->data), !f->stream, "flipped");
	}
}

/* Cut at every byte: never a crash, and whatever is known is right.  The
 * request size is not the mock's, so a wrong count cannot pass for the
 * input estimate (1000); an output count is the true one or estimated. */
static void test_fixture_cuts(void)
{
	const fixture *f;
	size_t cut, n;
	lr_usage u;
	int ok;

	for (f = fixtures; f < fixtures + NFIX; f++) {
		n = strlen(f->data);
		ok = 1;
		for (cut = 0; cut <= n; cut++) {
			run(&u, f->format, f->stream, 4000, f->data, cut, BYTES);
			ok &= !u.model[0] || !strcmp(u.model, f->model);
			ok &= !u.buf && !u.tail;
			if (cut == 0) {
				ok &= u.input_tokens == -1 && u.output_tokens == -1 && !u.estimated;
				continue;
			}
			ok &= u.input_tokens == f->in || (u.input_tokens == 1000 && u.estimated);
			ok &= u.output_tokens == f->out || (u.output_tokens >= 0 && u.estimated);
			ok &= cut < n || (u.input_tokens == f->in && u.output_tokens == f->out);
		}
		CHECK(ok);
		if (!ok)
			fprintf(stderr, "  cuts of %s\n", f->name);
	}
}

/* The mock's answers that are not fixtures above (no exact usage). */
static const struct {
	const char *name, *data;
} others[] = {
	{"openai_chat_stream", fx_openai_chat_stream},
	{"error_openai", fx_error_openai},
	{"error_anthropic", fx_error_anthropic},
	{"error_ollama", fx_error_ollama},
};

static const char *fixture_data(const char *name)
{
	const fixture *f;
	size_t i;

	for (f = fixtures; f < fixtures + NFIX; f++)
		if (!strcmp(f->name, name))
			return f->data;
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (!strcmp(others[i].name, name))
			return others[i].data;
	abort();
}

static void test_truncated(void)
{
	const char *an = fixture_data("anthropic_stream"), *oa = fixture_data("openai_chat");
	const char *ol = fixture_data("ollama_chat");
	const char *stop = strstr(an, "event: content_block_stop");
	lr_usage u;

	/* Anthropic cut before message_delta: input from message_start, output
	 * from the text ("mock reply " + "from claude-3-5-haiku-latest" = 39
	 * bytes), not message_start's placeholder output count. */
	run(&u, LR_FMT_ANTHROPIC, 1, 108, an, (size_t)(stop - an), RANDOM);
	EXPECT("anthropic cut", &u, "claude-3-5-haiku-latest", 27, 39 / 4, 1);
	/* A count at the cut may have lost digits: not taken. */
	run(&u, LR_FMT_OLLAMA, 0, 400, ol, (size_t)(strstr(ol, "19") + 1 - ol), WHOLE);
	EXPECT("ollama cut in a count", &u, "llama3", 100, (long long)(strstr(ol, "19") + 1 - ol) / 4, 1);
	/* A body cut in its middle: the model before the cut, estimates. */
	run(&u, LR_FMT_OPENAI, 0, 62, oa, 120, BYTES);
	EXPECT("openai body cut", &u, "gpt-4o", 62 / 4, 120 / 4, 1);
	/* Cut inside the usage object: what is before it is not a count. */
	run(&u, LR_FMT_OPENAI, 0, 62, oa, (size_t)(strstr(oa, "\"total_tokens") - oa), WHOLE);
	EXPECT("openai body cut in usage", &u, "gpt-4o", 62 / 4, (long long)(strstr(oa, "\"total_tokens") - oa) / 4, 1);
}

/* --- hand-written answers ---------------------------------------------------- */

#define NONSENSE "{\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":\"4\"},\"eval_count\":1e300}"

static void test_estimates(void)
{
	static const char body[] = "{\"model\":\"gpt-4o\",\"choices\":[{\"message\":{\"content\":\"hello\"}}]}";
	char *c;
	size_t n;
	lr_usage u;

	/* OpenAI stream without include_usage: text is "mock reply " + "from " +
	 * "gpt-4o" = 22 bytes. */
	ANSWER("openai stream, no usage", LR_FMT_OPENAI, 1, 76, fixture_data("openai_chat_stream"),
	       "gpt-4o", 76 / 4, 22 / 4, 1);
	c = crlf(fixture_data("openai_chat_stream"), &n);
	run(&u, LR_FMT_OPENAI, 1, 76, c, n, BYTES);
	EXPECT("openai stream, no usage, CRLF", &u, "gpt-4o", 76 / 4, 22 / 4, 1);
	free(c);
	/* A body with no usage: the whole response size; input at least 1. */
	ANSWER("body, no usage", LR_FMT_OPENAI, 0, 3, body, "gpt-4o", 1, (long long)strlen(body) / 4, 1);
	ANSWER("body, no usage, no request", LR_FMT_OPENAI, 0, 0, body, "gpt-4o", 1,
	       (long long)strlen(body) / 4, 1);
	/* Only one count known: the other is estimated. */
	ANSWER("output only", LR_FMT_ANTHROPIC, 1, 400,
	       "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7}}\n\n",
	       "", 100, 7, 1);
	/* Nonsense counts are not counts. */
	ANSWER("negative, huge, string", LR_FMT_OPENAI, 0, 40, NONSENSE, "", 10,
	       (long long)(sizeof(NONSENSE) - 1) / 4, 1);
	ANSWER("fractional count truncates", LR_FMT_OPENAI, 0, 40,
	       "{\"usage\":{\"prompt_tokens\":12.7,\"completion_tokens\":4e0}}", "", 12, 4, 0);
	/* Not JSON at all (an HTML error page): estimated from its size. */
	ANSWER("html", LR_FMT_OPENAI, 0, 40, "<html>502 Bad Gateway</html>", "", 10, 28 / 4, 1);
}

static void test_errors(void)
{
	static const char *const names[] = {"error_openai", "error_anthropic", "error_ollama"};
	static const int fmts[] = {LR_FMT_OPENAI, LR_FMT_ANTHROPIC, LR_FMT_OLLAMA};
	lr_usage u;
	size_t i;
	int stream;

	/* A refused call is not billed: 0 and 0, not an estimate. */
	for (i = 0; i < 3; i++)
		for (stream = 0; stream <= 1; stream++) {
			run(&u, fmts[i], stream, 400, fixture_data(names[i]),
			    strlen(fixture_data(names[i])), RANDOM);
			EXPECT(names[i], &u, "", 0, 0, 0);
		}
	ANSWER("anthropic error event first", LR_FMT_ANTHROPIC, 1, 400,
	       "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
	       "", 0, 0, 0);
	ANSWER("responses error event", LR_FMT_OPENAI, 1, 400,
	       "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"The server had an error\"}\n\n",
	       "", 0, 0, 0);
	/* An error after generated text: the text was made, estimate it. */
	ANSWER("anthropic error mid-stream", LR_FMT_ANTHROPIC, 1, 400,
	       "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"12345678\"}}\n\n"
	       "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
	       "", 100, 2, 1);
	/* "error": null is no error (Responses API answers carry it). */
	ANSWER("error null", LR_FMT_OPENAI, 0, 400,
	       "{\"model\":\"gpt-4.1\",\"error\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":5}}",
	       "gpt-4.1", 3, 5, 0);
	ANSWER("error null, no usage", LR_FMT_OPENAI, 0, 400, "{\"error\":null}", "", 100, 14 / 4, 1);
}

static void test_provider_details(void)
{
	/* Anthropic cache tokens are input too; OpenAI's cached_tokens are
	 * already inside prompt_tokens and must not be added. */
	ANSWER("anthropic cache", LR_FMT_ANTHROPIC, 0, 4,
	       "{\"model\":\"claude\",\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":200,"
	       "\"cache_read_input_tokens\":3000,\"output_tokens\":9}}", "claude", 3210, 9, 0);
	ANSWER("openai cached", LR_FMT_OPENAI, 0, 4,
	       "{\"usage\":{\"prompt_tokens\":2000,\"completion_tokens\":9,"
	       "\"prompt_tokens_details\":{\"cached_tokens\":1500}}}", "", 2000, 9, 0);
	/* Gemini thinking tokens are output; usageMetadata without an output
	 * count (a blocked prompt) gives output 0 in a complete body. */
	ANSWER("gemini thoughts", LR_FMT_GEMINI, 0, 4,
	       "{\"modelVersion\":\"gemini-2.5-pro\",\"usageMetadata\":{\"promptTokenCount\":10,"
	       "\"candidatesTokenCount\":5,\"thoughtsTokenCount\":100}}", "gemini-2.5-pro", 10, 105, 0);
	ANSWER("gemini blocked", LR_FMT_GEMINI, 0, 4,
	       "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":{\"promptTokenCount\":10,"
	       "\"totalTokenCount\":10}}", "", 10, 0, 0);
	/* Real Gemini streams repeat a growing usageMetadata: the last wins. */
	ANSWER("gemini cumulative", LR_FMT_GEMINI, 1, 4,
	       "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}],\"usageMetadata\":{\"promptTokenCount\":10,\"candidatesTokenCount\":1}}\r\n\r\n"
	       "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]}}],\"usageMetadata\":{\"promptTokenCount\":10,\"candidatesTokenCount\":2}}\r\n\r\n",
	       "", 10, 2, 0);
	/* Real Gemini's non-SSE stream is a pretty-printed array. */
	ANSWER("gemini pretty array", LR_FMT_GEMINI, 1, 4,
	       "[{\n  \"candidates\": [],\n  \"modelVersion\": \"gemini-2.0-flash\"\n}\n,\r\n"
	       "{\n  \"usageMetadata\": {\n    \"promptTokenCount\": 7,\n    \"candidatesTokenCount\": 3\n  }\n}\n]",
	       "gemini-2.0-flash", 7, 3, 0);
	/* Real Anthropic message_start says output_tokens 1; message_delta may
	 * repeat the input with cache counts. */
	ANSWER("anthropic real stream", LR_FMT_ANTHROPIC, 1, 4,
	       "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
	       "event: ping\ndata: {\"type\": \"ping\"}\n\n"
	       "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":5,\"output_tokens\":15}}\n\n",
	       "claude-sonnet-4-5", 30, 15, 0);
	/* The model is decoded; one too long or not a string is not taken. */
	ANSWER("escaped model", LR_FMT_OPENAI, 0, 4, "{\"model\":\"gpt\\u002d4o\\/x\",\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}",
	       "gpt-4o/x", 1, 2, 0);
	ANSWER("model not a string", LR_FMT_OPENAI, 0, 4, "{\"model\":42,\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}",
	       "", 1, 2, 0);
	ANSWER("model with NUL", LR_FMT_OPENAI, 0, 4, "{\"model\":\"a\\u0000b\",\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}",
	       "", 1, 2, 0);
	ANSWER("duplicate keys: last wins", LR_FMT_OPENAI, 0, 4,
	       "{\"model\":\"a\",\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2},\"model\":\"b\","
	       "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}", "b", 3, 4, 0);
}

static void test_long_model(void)
{
	char body[LR_MODEL_MAX + 100];
	char model[LR_MODEL_MAX];

	memset(model, 'm', sizeof(model) - 1);
	model[sizeof(model) - 1] = 0;
	/* LR_MODEL_MAX - 1 characters fit, one more does not */
	snprintf(body, sizeof(body), "{\"model\":\"%s\",\"usage\":{\"prompt_tokens\":1}}", model);
	ANSWER("longest model", LR_FMT_OPENAI, 0, 4, body, model, 1, 0, 0);
	snprintf(body, sizeof(body), "{\"model\":\"x%s\",\"usage\":{\"prompt_tokens\":1}}", model);
	ANSWER("model too long", LR_FMT_OPENAI, 0, 4, body, "", 1, 0, 0);
}

/* Generated text is counted decoded: escapes, \u, surrogate pairs. */
static void test_text_bytes(void)
{
	lr_usage u;
	static const char s[] =
		"data: {\"choices\":[{\"delta\":{\"content\":\"a\\n\\\"\\u00e9\\u4e2d\\ud83d\\ude00\xc3\xa9\"}}]}\n\n"
		"data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{}\"}}]}}]}\n\n"
		"data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hm\"}},{\"delta\":{\"content\":\"xy\"}}]}\n\n";
	static const char an[] =
		"data: {\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"abc\"}}\n"
		"data: {\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\"\"}}\n"
		"data: {\"delta\":{\"type\":\"signature_delta\",\"signature\":\"zzzzzz\"}}\n";
	static const char ol[] =
		"{\"message\":{\"role\":\"assistant\",\"content\":\"abcd\",\"thinking\":\"ef\"}}\n"
		"{\"response\":\"gh\",\"thinking\":\"i\"}\n";

	/* a \n \" = 3, e-acute 2, CJK 3, emoji 4, raw e-acute 2; {} 2; hm 2, xy 2 */
	run(&u, LR_FMT_OPENAI, 1, 4, s, strlen(s), RANDOM);
	CHECK_INT(u.text_bytes, 3 + 2 + 3 + 4 + 2 + 2 + 2 + 2);
	CHECK_INT(u.estimated, 1);
	run(&u, LR_FMT_ANTHROPIC, 1, 4, an, strlen(an), BYTES);
	CHECK_INT(u.text_bytes, 3 + 4);
	run(&u, LR_FMT_OLLAMA, 1, 4, ol, strlen(ol), BYTES);
	CHECK_INT(u.text_bytes, 4 + 2 + 2 + 1);
	/* the Responses API: only "delta" events, not the repeated full text */
	run(&u, LR_FMT_OPENAI, 1, 4, fixture_data("openai_responses_stream"),
	    strlen(fixture_data("openai_responses_stream")), WHOLE);
	CHECK_INT(u.text_bytes, strlen("mock reply from gpt-4.1"));
}

/* SSE details: comments, id:/retry:, no space after "data:", blank lines
 * first, a last line without "\n", bare NDJSON. */
static void test_sse_details(void)
{
	ANSWER("sse fields", LR_FMT_OPENAI, 0, 4,
	       "\r\n\n: OPENROUTER PROCESSING\n\nid: 1\nretry: 10\nevent: x\n"
	       "data:{\"model\":\"m\",\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6}}\n\n"
	       "data: [DONE]", "m", 5, 6, 0);
	ANSWER("sse last line without newline", LR_FMT_OPENAI, 1, 4,
	       "data: {\"model\":\"m\",\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6}}", "m", 5, 6, 0);
	ANSWER("ndjson last line without newline", LR_FMT_OLLAMA, 1, 4,
	       "{\"model\":\"l\",\"response\":\"x\"}\n{\"model\":\"l\",\"done\":true,\"prompt_eval_count\":3,\"eval_count\":2}",
	       "l", 3, 2, 0);
	ANSWER("ndjson without the stream flag", LR_FMT_OLLAMA, 0, 4,
	       "{\"model\":\"l\",\"response\":\"x\"}\r\n{\"model\":\"l\",\"done\":true,\"prompt_eval_count\":3,\"eval_count\":2}\r\n",
	       "l", 3, 2, 0);
	ANSWER("a stream answered with a body", LR_FMT_OPENAI, 1, 4,
	       "{\n  \"model\": \"m\",\n  \"usage\": {\"prompt_tokens\": 5, \"completion_tokens\": 6}\n}\n", "m", 5, 6, 0);
}

/* --- never crash ------------------------------------------------------------- */

/* What must hold for any input. */
static int sane(const lr_usage *u)
{
	if (memchr(u->model, 0, sizeof(u->model)) == NULL || u->buf || u->tail)
		return 0;
	if (!u->response_bytes)
		return u->input_tokens == -1 && u->output_tokens == -1 && !u->estimated;
	return u->input_tokens >= 0 && u->output_tokens >= 0;
}

static void fill_noise(char *p, size_t n)
{
	static const char alpha[] = "{}[]\":,.-+eE0123456789 \t\r\n\\u\"model\"usage\"data: event:"
		"prompt_tokens\"eval_count\"truefalsenull";
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = rng() % 4 ? alpha[rng() % (sizeof(alpha) - 1)] : (char)rng();
}

static void test_garbage(void)
{
	char buf[4096];
	lr_usage u;
	size_t n;
	int i, ok = 1;

	for (i = 0; i < 3000; i++) {
		n = (size_t)(rng() % sizeof(buf));
		fill_noise(buf, n);
		lr_usage_init(&u, formats[rng() % 6], (int)(rng() % 2), (size_t)(rng() % 1000));
		feed_split(&u, buf, n, RANDOM, 1 + rng() % 300);
		lr_usage_finish(&u);
		ok &= sane(&u);
	}
	CHECK(ok);
}

/* Each fixture with a few bytes changed, inserted or removed. */
static void test_mutations(void)
{
	const fixture *f;
	char buf[4096];
	lr_usage u;
	size_t n, at;
	int i, k, ok = 1;

	for (i = 0; i < 4000; i++) {
		f = &fixtures[rng() % NFIX];
		n = strlen(f->data);
		memcpy(buf, f->data, n);
		for (k = 1 + (int)(rng() % 4); k > 0; k--) {
			at = (size_t)(rng() % n);
			if (rng() % 3 == 0 && n + 1 < sizeof(buf)) {
				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = "\n\r\"{}[]:,\\0"[rng() % 11];
				n++;
			} else if (rng() % 2 && n > 1) {
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
			} else {
				buf[at] = (char)rng();
			}
		}
		run(&u, f->format, f->stream, f->request_bytes, buf, n, RANDOM);
		ok &= sane(&u);
	}
	CHECK(ok);
}

static void test_deep(void)
{
	static const char nuls[] = "data: {\"model\":\"a\0b\"}\n\0\0\0\n";
	size_t n = 200000, i;
	char *p = malloc(n + 16);
	lr_usage u;
	int fmt;

	if (!p)
		abort();
	for (fmt = 0; fmt < 6; fmt++) {
		memset(p, '[', n);
		run(&u, formats[fmt], 0, 40, p, n, WHOLE);
		EXPECT("deep arrays", &u, "", 10, (long long)n / 4, 1);
		memcpy(p, "data: ", 6);
		for (i = 6; i + 5 <= n; i += 5)
			memcpy(p + i, "{\"a\":", 5);
		p[i] = '\n';
		run(&u, formats[fmt], 1, 40, p, i + 1, RANDOM);
		CHECK(sane(&u) && u.input_tokens == 10);
	}
	/* NULs and an object inside a "data:" line cut by a NUL */
	run(&u, LR_FMT_OPENAI, 1, 40, nuls, sizeof(nuls) - 1, BYTES);
	CHECK(sane(&u) && !strcmp(u.model, ""));
	free(p);
}

/* --- the caps ------------------------------------------------------------------ */

/* A body of about `size` bytes: head, then `unit` repeated, then end. */
static char *big_body(const char *head, const char *unit, const char *end, size_t size,
		      size_t *n)
{
	size_t h = strlen(head), k = strlen(unit), e = strlen(end), o = h;
	char *p = malloc(size + k + e + h + 1);

	if (!p)
		abort();
	memcpy(p, head, h);
	while (o < size) {
		memcpy(p + o, unit, k);
		o += k;
	}
	memcpy(p + o, end, e + 1);
	*n = o + e;
	return p;
}

/* Feeds in random pieces of up to 64 KiB; memory never passes the caps. */
static void feed_capped(lr_usage *u, const char *p, size_t n, size_t cap, int *ok)
{
	size_t k;

	while (n) {
		k = 1 + (size_t)(rng() % (64u << 10));
		k = k > n ? n : k;
		lr_usage_feed(u, p, k);
		*ok &= u->cap <= cap && u->tail_len <= (128u << 10);
		p += k;
		n -= k;
	}
}

static void big_case(int line, const char *what, const char *p, size_t n, int stream,
		     const char *model, long long in, long long out, int est)
{
	lr_usage u;
	int ok = 1;

	lr_usage_init(&u, LR_FMT_OPENAI, stream, 400);
	feed_capped(&u, p, n, stream ? LR_USAGE_MAX_LINE : LR_USAGE_MAX_BODY, &ok);
	lr_usage_finish(&u);
	CHECK(ok);
	expect(line, what, &u, model, in, out, est);
	if (!stream) {      /* one piece too */
		run(&u, LR_FMT_OPENAI, stream, 400, p, n, WHOLE);
		expect(line, what, &u, model, in, out, est);
	}
}

static void test_big_bodies(void)
{
	size_t n;
	char *p;

	/* 9 MB of embeddings: model and usage come last, in the kept tail */
	p = big_body("{\"object\":\"list\",\"data\":[",
		     "{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.0123456,-0.0654321,0.0111111]},",
		     "{\"object\":\"embedding\",\"index\":1,\"embedding\":[]}],"
		     "\"model\":\"text-embedding-3-large\",\"usage\":{\"prompt_tokens\":123,\"total_tokens\":123}}",
		     9u << 20, &n);
	big_case(__LINE__, "9 MB embeddings", p, n, 0, "text-embedding-3-large", 123, 0, 0);
	free(p);
	/* 9 MB of chat text: the model from the head, usage from the tail */
	p = big_body("{\"model\":\"gpt-4o\",\"choices\":[{\"message\":{\"content\":\"", "lorem ipsum ",
		     "\"}}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2000000}}", 9u << 20, &n);
	big_case(__LINE__, "9 MB chat", p, n, 0, "gpt-4o", 5, 2000000, 0);
	free(p);
	/* the same without usage: estimated from the whole size */
	p = big_body("{\"model\":\"gpt-4o\",\"choices\":[{\"message\":{\"content\":\"", "lorem ipsum ",
		     "\"}}]}", 9u << 20, &n);
	big_case(__LINE__, "9 MB chat, no usage", p, n, 0, "gpt-4o", 100, (long long)n / 4, 1);
	free(p);
	/* usage straddling the cap: the kept end starts before the cap */
	p = big_body("{\"model\":\"gpt-4o\",\"choices\":[{\"message\":{\"content\":\"", "x",
		     "\"}}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7}}", LR_USAGE_MAX_BODY - 20,
		     &n);
	CHECK(n > LR_USAGE_MAX_BODY && strstr(p + LR_USAGE_MAX_BODY - 20, "usage"));
	big_case(__LINE__, "usage across the cap", p, n, 0, "gpt-4o", 5, 7, 0);
	free(p);
	/* 9 MB of noise */
	p = big_body("", "\x01\xff{\"usage\":[", "", 9u << 20, &n);
	big_case(__LINE__, "9 MB noise", p, n, 0, "", 100, (long long)n / 4, 1);
	free(p);
}

static void test_long_line(void)
{
	static const char usage[] = "data: {\"model\":\"gpt-4o\",\"choices\":[],\"usage\":"
		"{\"prompt_tokens\":5,\"completion_tokens\":524288}}\n\ndata: [DONE]\n\n";
	size_t n, line;
	char *p, *q;

	/* a 2 MB delta then a final usage chunk: the usage is exact */
	p = big_body("data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"", "abcdefgh",
		     "\"}}]}\n\n", 2u << 20, &n);
	line = n - 2;
	q = malloc(n + sizeof(usage));
	if (!q)
		abort();
	memcpy(q, p, n);
	memcpy(q + n, usage, sizeof(usage));
	big_case(__LINE__, "2 MB line, usage", q, n + sizeof(usage) - 1, 1, "gpt-4o", 5, 524288, 0);
	/* without it: the skipped line counts as text */
	big_case(__LINE__, "2 MB line, no usage", p, n, 1, "", 100, (long long)line / 4, 1);
	/* just under the line cap it is parsed: the model is seen */
	free(p);
	p = big_body("data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"", "abcdefgh",
		     "\"}}]}\n\n", LR_USAGE_MAX_LINE - 100, &n);
	big_case(__LINE__, "1 MB line", p, n, 1, "gpt-4o", 100, (long long)(n - 2 - 56 - 5) / 4, 1);
	free(p);
	free(q);
}

/* --- life cycle ------------------------------------------------------------- */

static void test_lifecycle(void)
{
	const char *body = fixture_data("openai_chat");
	lr_usage u, z;

	lr_usage_init(&u, LR_FMT_OPENAI, 0, 400);
	lr_usage_finish(&u);
	EXPECT("nothing received", &u, "", -1, -1, 0);
	run(&u, LR_FMT_OPENAI, 1, 400, "\r\n\r\n", 4, WHOLE);
	EXPECT("blank lines only", &u, "", 100, 0, 1);
	run(&u, LR_FMT_OPENAI, 0, 62, body, strlen(body), WHOLE);
	lr_usage_feed(&u, "xxxx", 4);
	lr_usage_finish(&u);
	EXPECT("feed and finish after finish", &u, "gpt-4o", 15, 4, 0);
	CHECK_INT(u.response_bytes, strlen(body));
	lr_usage_free(&u);
	lr_usage_free(&u);
	lr_usage_init(&u, LR_FMT_OPENAI, 0, 62);
	lr_usage_feed(&u, body, 40);
	lr_usage_feed(&u, NULL, 10);
	lr_usage_feed(NULL, body, 10);
	lr_usage_free(&u);      /* abandoned */
	CHECK(!u.buf && !u.len && !u.cap);
	memset(&z, 0, sizeof(z));
	lr_usage_free(&z);
	lr_usage_init(NULL, 0, 0, 0);
	lr_usage_finish(NULL);
	lr_usage_free(NULL);
}

int main(void)
{
	test_fixtures();
	test_fixture_cuts();
	test_truncated();
	test_estimates();
	test_errors();
	test_provider_details();
	test_long_model();
	test_text_bytes();
	test_sse_details();
	test_garbage();
	test_mutations();
	test_deep();
	test_big_bodies();
	test_long_line();
	test_lifecycle();
	return lr_test_done("test_usage");
}
