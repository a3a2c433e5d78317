/*
 * test_answer.c - unit tests for router/lr_answer.c, the quality gate on a
 * complete, non-streamed LLM answer.
 *
 * The fixtures are answers in each provider's shape: the mock's (the one
 * tools/mock_upstream.py sends, with and without its answer faults) and the
 * examples of the providers' API references (tool calls, refusals, safety
 * blocks, reasoning items, thought parts).  Each case says which condition
 * the gate must report with every condition enabled and the default refusal
 * pattern.  Then the fields themselves (decoded text, finish, tool calls),
 * the `when` masks and the order of the conditions, the refusal pattern on
 * its own, JSON output, bodies cut at every byte and garbage, and the 1 MiB
 * text cap.
 */
#include "lr_answer.h"
#include "lr_detect.h"
#include "lr_error.h"
#include "lr_test.h"
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#define ALL LR_GATE_ALL
#define EMPTY LR_GATE_EMPTY
#define LENGTH LR_GATE_LENGTH
#define REFUSAL LR_GATE_REFUSAL
#define BADJSON LR_GATE_INVALID_JSON

static regex_t deflt;   /* LR_GATE_DEFAULT_REFUSAL, compiled once */

/* --- fixtures ------------------------------------------------------------ */

/* OpenAI chat completions */
static const char chat_ok[] =
	"{\"id\": \"chatcmpl-mock1\", \"created\": 1795437604, \"model\": \"gpt-4o\", \"system_fingerprint\": null, \"object\": \"chat.completion\", \"usage\": {\"prompt_tokens\": 15, \"completion_tokens\": 4, \"total_tokens\": 19}, \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": \"mock reply from gpt-4o\", \"refusal\": null}, \"logprobs\": null, \"finish_reason\": \"stop\"}]}";
static const char chat_real[] =
	"{\n  \"id\": \"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\n  \"object\": \"chat.completion\",\n  \"created\": 1741569952,\n  \"model\": \"gpt-4.1-2025-04-14\",\n  \"choices\": [\n    {\n      \"index\": 0,\n      \"message\": {\n        \"role\": \"assistant\",\n        \"content\": \"Hello! How can I assist you today?\",\n        \"refusal\": null,\n        \"annotations\": []\n      },\n      \"logprobs\": null,\n      \"finish_reason\": \"stop\"\n    }\n  ],\n  \"usage\": {\n    \"prompt_tokens\": 19,\n    \"completion_tokens\": 10,\n    \"total_tokens\": 29,\n    \"prompt_tokens_details\": {\"cached_tokens\": 0, \"audio_tokens\": 0},\n    \"completion_tokens_details\": {\"reasoning_tokens\": 0, \"audio_tokens\": 0, \"accepted_prediction_tokens\": 0, \"rejected_prediction_tokens\": 0}\n  },\n  \"service_tier\": \"default\"\n}\n";
static const char chat_empty[] =
	"{\"id\": \"chatcmpl-mock2\", \"created\": 1795437604, \"model\": \"gpt-4o\", \"system_fingerprint\": null, \"object\": \"chat.completion\", \"usage\": {\"prompt_tokens\": 15, \"completion_tokens\": 0, \"total_tokens\": 15}, \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": \"\", \"refusal\": null}, \"logprobs\": null, \"finish_reason\": \"stop\"}]}";
static const char chat_blank[] =
	"{\"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": \" \\n\\n\\t \"}, \"finish_reason\": \"stop\"}]}";
static const char chat_null[] =
	"{\"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": null}, \"finish_reason\": \"stop\"}]}";
static const char chat_tools[] =
	"{\"id\": \"chatcmpl-abc123\", \"object\": \"chat.completion\", \"created\": 1699896916, \"model\": \"gpt-4o-mini\", \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"call_abc123\", \"type\": \"function\", \"function\": {\"name\": \"get_current_weather\", \"arguments\": \"{\\n\\\"location\\\": \\\"Boston, MA\\\"\\n}\"}}]}, \"logprobs\": null, \"finish_reason\": \"tool_calls\"}], \"usage\": {\"prompt_tokens\": 82, \"completion_tokens\": 17, \"total_tokens\": 99}}";
static const char chat_function_call[] =
	"{\"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": null, \"function_call\": {\"name\": \"get_weather\", \"arguments\": \"{}\"}}, \"finish_reason\": \"function_call\"}]}";
static const char chat_length[] =
	"{\"id\": \"chatcmpl-mock3\", \"created\": 1795437604, \"model\": \"gpt-4o\", \"system_fingerprint\": null, \"object\": \"chat.completion\", \"usage\": {\"prompt_tokens\": 15, \"completion_tokens\": 4, \"total_tokens\": 19}, \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": \"mock reply from gpt-4o\", \"refusal\": null}, \"logprobs\": null, \"finish_reason\": \"length\"}]}";
static const char chat_refusal_field[] =
	"{\"id\": \"chatcmpl-mock4\", \"object\": \"chat.completion\", \"created\": 1795437604, \"model\": \"gpt-4o\", \"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": null, \"refusal\": \"I'm sorry, I cannot assist with that request.\"}, \"logprobs\": null, \"finish_reason\": \"stop\"}]}";
static const char chat_refusal_text[] =
	"{\"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": \"I'm sorry, but I can't help with that.\", \"refusal\": null}, \"finish_reason\": \"stop\"}]}";
static const char chat_refusal_curly[] =
	"{\"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": \"I\\u2019m sorry, but I can\\u2019t help with that.\"}, \"finish_reason\": \"stop\"}]}";
static const char chat_sorry_midtext[] =
	"{\"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": \"Sorry for the wait: here is the summary. I'm sorry, but I can't help with the rest is a line from the story.\"}, \"finish_reason\": \"stop\"}]}";
static const char chat_filtered[] =
	"{\"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": null}, \"finish_reason\": \"content_filter\", \"content_filter_results\": {\"hate\": {\"filtered\": true, \"severity\": \"high\"}}}]}";
static const char chat_parts[] =
	"{\"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": [{\"type\": \"text\", \"text\": \"Hello, \"}, {\"type\": \"image_url\", \"image_url\": {\"url\": \"x\"}}, {\"type\": \"text\", \"text\": \"world\"}]}, \"finish_reason\": \"stop\"}]}";
static const char chat_parts_empty[] =
	"{\"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": []}, \"finish_reason\": \"stop\"}]}";
static const char chat_second_choice[] =
	"{\"choices\": [{\"index\": 0, \"message\": {\"role\": \"assistant\", \"content\": \"\"}, \"finish_reason\": \"stop\"}, {\"index\": 1, \"message\": {\"role\": \"assistant\", \"content\": \"second\"}, \"finish_reason\": \"length\"}]}";
static const char chat_no_choices[] = "{\"id\": \"x\", \"object\": \"chat.completion\", \"choices\": []}";
static const char openai_error[] =
	"{\"error\": {\"message\": \"Rate limit reached\", \"type\": \"rate_limit_exceeded\", \"param\": null, \"code\": \"rate_limit_exceeded\"}}";

/* OpenAI completions */
static const char compl_ok[] =
	"{\"id\": \"cmpl-mock4\", \"object\": \"text_completion\", \"created\": 1795437604, \"model\": \"gpt-3.5-turbo-instruct\", \"system_fingerprint\": null, \"usage\": {\"prompt_tokens\": 12, \"completion_tokens\": 4, \"total_tokens\": 16}, \"choices\": [{\"text\": \"mock reply from gpt-3.5-turbo-instruct\", \"index\": 0, \"logprobs\": null, \"finish_reason\": \"stop\"}]}";
static const char compl_length[] =
	"{\"id\": \"cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7\", \"object\": \"text_completion\", \"created\": 1589478378, \"model\": \"gpt-3.5-turbo-instruct\", \"system_fingerprint\": \"fp_44709d6fcb\", \"choices\": [{\"text\": \"\\n\\nThis is indeed a test\", \"index\": 0, \"logprobs\": null, \"finish_reason\": \"length\"}], \"usage\": {\"prompt_tokens\": 5, \"completion_tokens\": 7, \"total_tokens\": 12}}";
static const char compl_empty[] =
	"{\"id\": \"cmpl-mock5\", \"object\": \"text_completion\", \"choices\": [{\"text\": \"\", \"index\": 0, \"logprobs\": null, \"finish_reason\": \"stop\"}]}";

/* OpenAI Responses API */
static const char resp_ok[] =
	"{\"id\": \"resp_mock6\", \"object\": \"response\", \"created_at\": 1795437604, \"status\": \"completed\", \"model\": \"gpt-4.1\", \"output\": [{\"type\": \"message\", \"id\": \"msg_mock6\", \"status\": \"completed\", \"role\": \"assistant\", \"content\": [{\"type\": \"output_text\", \"text\": \"mock reply from gpt-4.1\", \"annotations\": []}]}], \"usage\": {\"input_tokens\": 8, \"input_tokens_details\": {\"cached_tokens\": 0}, \"output_tokens\": 4, \"output_tokens_details\": {\"reasoning_tokens\": 0}, \"total_tokens\": 12}}";
static const char resp_real[] =
	"{\"id\": \"resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b\", \"object\": \"response\", \"created_at\": 1741476542, \"status\": \"completed\", \"error\": null, \"incomplete_details\": null, \"instructions\": null, \"max_output_tokens\": null, \"model\": \"o4-mini-2025-04-16\", \"output\": [{\"id\": \"rs_6820f383d7c08191846711c5df8233bc0ac5ba57aafcbac7\", \"type\": \"reasoning\", \"summary\": []}, {\"type\": \"message\", \"id\": \"msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b\", \"status\": \"completed\", \"role\": \"assistant\", \"content\": [{\"type\": \"output_text\", \"text\": \"In a peaceful grove beneath a silver moon, a unicorn named Lumina discovered a hidden pool.\", \"annotations\": []}]}], \"parallel_tool_calls\": true, \"previous_response_id\": null, \"reasoning\": {\"effort\": \"medium\", \"summary\": null}, \"store\": true, \"temperature\": 1.0, \"text\": {\"format\": {\"type\": \"text\"}}, \"tool_choice\": \"auto\", \"tools\": [], \"top_p\": 1.0, \"truncation\": \"disabled\", \"usage\": {\"input_tokens\": 36, \"output_tokens\": 87, \"total_tokens\": 123}, \"user\": null, \"metadata\": {}}";
static const char resp_empty[] =
	"{\"id\": \"resp_mock7\", \"object\": \"response\", \"status\": \"completed\", \"model\": \"gpt-4.1\", \"output\": [{\"type\": \"message\", \"id\": \"msg_mock7\", \"status\": \"completed\", \"role\": \"assistant\", \"content\": [{\"type\": \"output_text\", \"text\": \"\", \"annotations\": []}]}]}";
static const char resp_incomplete[] =
	"{\"id\": \"resp_mock8\", \"object\": \"response\", \"status\": \"incomplete\", \"incomplete_details\": {\"reason\": \"max_output_tokens\"}, \"model\": \"gpt-4.1\", \"output\": [{\"type\": \"message\", \"id\": \"msg_mock8\", \"status\": \"incomplete\", \"role\": \"assistant\", \"content\": [{\"type\": \"output_text\", \"text\": \"mock reply from\", \"annotations\": []}]}]}";
static const char resp_incomplete_reasoning[] =
	"{\"id\": \"resp_x\", \"object\": \"response\", \"status\": \"incomplete\", \"incomplete_details\": {\"reason\": \"max_output_tokens\"}, \"output\": [{\"id\": \"rs_x\", \"type\": \"reasoning\", \"summary\": []}]}";
static const char resp_filtered[] =
	"{\"object\": \"response\", \"status\": \"incomplete\", \"incomplete_details\": {\"reason\": \"content_filter\"}, \"output\": [{\"type\": \"message\", \"role\": \"assistant\", \"content\": [{\"type\": \"output_text\", \"text\": \"Here is\"}]}]}";
static const char resp_function_call[] =
	"{\"id\": \"resp_fc\", \"object\": \"response\", \"status\": \"completed\", \"output\": [{\"type\": \"function_call\", \"id\": \"fc_12345xyz\", \"call_id\": \"call_12345xyz\", \"name\": \"get_weather\", \"arguments\": \"{\\\"location\\\":\\\"Paris, France\\\"}\", \"status\": \"completed\"}]}";
static const char resp_refusal[] =
	"{\"id\": \"resp_r\", \"object\": \"response\", \"status\": \"completed\", \"output\": [{\"type\": \"message\", \"id\": \"msg_r\", \"status\": \"completed\", \"role\": \"assistant\", \"content\": [{\"type\": \"refusal\", \"refusal\": \"I'm sorry, I cannot assist with that request.\"}]}]}";
static const char resp_two_messages[] =
	"{\"object\": \"response\", \"status\": \"completed\", \"output\": [{\"type\": \"message\", \"content\": [{\"type\": \"output_text\", \"text\": \"one \"}, {\"type\": \"output_text\", \"text\": \"two\"}]}, {\"type\": \"message\", \"content\": [{\"type\": \"output_text\", \"text\": \"three\"}]}]}";

/* Anthropic messages */
static const char anth_ok[] =
	"{\"id\": \"msg_mock9\", \"type\": \"message\", \"role\": \"assistant\", \"model\": \"claude-3-5-haiku\", \"content\": [{\"type\": \"text\", \"text\": \"mock reply from claude-3-5-haiku\"}], \"stop_reason\": \"end_turn\", \"stop_sequence\": null, \"usage\": {\"input_tokens\": 12, \"output_tokens\": 4}}";
static const char anth_empty[] =
	"{\"id\": \"msg_mock10\", \"type\": \"message\", \"role\": \"assistant\", \"model\": \"claude-3-5-haiku\", \"content\": [{\"type\": \"text\", \"text\": \"\"}], \"stop_reason\": \"end_turn\", \"stop_sequence\": null, \"usage\": {\"input_tokens\": 12, \"output_tokens\": 0}}";
static const char anth_no_blocks[] =
	"{\"id\": \"msg_x\", \"type\": \"message\", \"role\": \"assistant\", \"content\": [], \"stop_reason\": \"end_turn\"}";
static const char anth_tool_use[] =
	"{\"id\": \"msg_01Aq9w938a90dw8q\", \"type\": \"message\", \"role\": \"assistant\", \"model\": \"claude-sonnet-4-20250514\", \"content\": [{\"type\": \"tool_use\", \"id\": \"toolu_01A09q90qw90lq917835lq9\", \"name\": \"get_weather\", \"input\": {\"location\": \"San Francisco, CA\"}}], \"stop_reason\": \"tool_use\", \"stop_sequence\": null, \"usage\": {\"input_tokens\": 384, \"output_tokens\": 57}}";
static const char anth_max_tokens[] =
	"{\"id\": \"msg_x\", \"type\": \"message\", \"role\": \"assistant\", \"content\": [{\"type\": \"thinking\", \"thinking\": \"Let me think\", \"signature\": \"abc\"}, {\"type\": \"text\", \"text\": \"The answer is\"}], \"stop_reason\": \"max_tokens\", \"stop_sequence\": null}";
static const char anth_refusal[] =
	"{\"id\": \"msg_x\", \"type\": \"message\", \"role\": \"assistant\", \"content\": [{\"type\": \"text\", \"text\": \"Here is a partial\"}], \"stop_reason\": \"refusal\", \"stop_sequence\": null}";
static const char anth_error[] =
	"{\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}";

/* Gemini generateContent */
static const char gem_ok[] =
	"{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"mock reply from gemini-1.5-flash\"}], \"role\": \"model\"}, \"index\": 0, \"finishReason\": \"STOP\"}], \"modelVersion\": \"gemini-1.5-flash\", \"responseId\": \"mock11\", \"usageMetadata\": {\"promptTokenCount\": 9, \"candidatesTokenCount\": 4, \"totalTokenCount\": 13}}";
static const char gem_empty[] =
	"{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\"}], \"role\": \"model\"}, \"index\": 0, \"finishReason\": \"STOP\"}], \"modelVersion\": \"gemini-1.5-flash\"}";
static const char gem_max_tokens[] =
	"{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The quick brown\"}], \"role\": \"model\"}, \"finishReason\": \"MAX_TOKENS\", \"avgLogprobs\": -0.2}], \"usageMetadata\": {\"promptTokenCount\": 4, \"candidatesTokenCount\": 3, \"totalTokenCount\": 7}, \"modelVersion\": \"gemini-2.0-flash\"}";
static const char gem_safety[] =
	"{\"candidates\": [{\"finishReason\": \"SAFETY\", \"index\": 0, \"safetyRatings\": [{\"category\": \"HARM_CATEGORY_HARASSMENT\", \"probability\": \"HIGH\", \"blocked\": true}]}], \"modelVersion\": \"gemini-2.0-flash\"}";
static const char gem_recitation[] =
	"{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"It was the best of times\"}], \"role\": \"model\"}, \"finishReason\": \"RECITATION\"}]}";
static const char gem_blocked[] =
	"{\"promptFeedback\": {\"blockReason\": \"SAFETY\", \"safetyRatings\": [{\"category\": \"HARM_CATEGORY_DANGEROUS_CONTENT\", \"probability\": \"HIGH\"}]}, \"usageMetadata\": {\"promptTokenCount\": 8, \"totalTokenCount\": 8}, \"modelVersion\": \"gemini-2.0-flash\"}";
static const char gem_function_call[] =
	"{\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"get_weather\", \"args\": {\"location\": \"Boston\"}}}], \"role\": \"model\"}, \"finishReason\": \"STOP\"}]}";
static const char gem_thought[] =
	"{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"**Weighing it** I'm sorry, but I can't decide\", \"thought\": true}, {\"text\": \"Paris.\"}], \"role\": \"model\"}, \"finishReason\": \"STOP\"}]}";
static const char gem_only_thought[] =
	"{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Thinking\", \"thought\": true}], \"role\": \"model\"}, \"finishReason\": \"STOP\"}]}";
static const char gem_no_candidates[] = "{\"usageMetadata\": {\"promptTokenCount\": 8}, \"modelVersion\": \"gemini-2.0-flash\"}";
static const char gem_error[] =
	"{\"error\": {\"code\": 429, \"message\": \"Resource has been exhausted\", \"status\": \"RESOURCE_EXHAUSTED\"}}";

/* Ollama /api/chat and /api/generate */
static const char oll_chat_ok[] =
	"{\"model\": \"llama3.2\", \"created_at\": \"2026-11-24T08:00:04.000000000Z\", \"done\": true, \"done_reason\": \"stop\", \"total_duration\": 1000000, \"load_duration\": 100000, \"prompt_eval_count\": 22, \"prompt_eval_duration\": 200000, \"eval_count\": 4, \"eval_duration\": 700000, \"message\": {\"role\": \"assistant\", \"content\": \"mock reply from llama3.2\"}}";
static const char oll_chat_empty[] =
	"{\"model\": \"llama3.2\", \"created_at\": \"2023-12-12T14:13:43.416799Z\", \"message\": {\"role\": \"assistant\", \"content\": \"\"}, \"done\": true, \"done_reason\": \"stop\", \"eval_count\": 0}";
static const char oll_chat_tools[] =
	"{\"model\": \"llama3.2\", \"created_at\": \"2024-07-22T20:33:28.123648Z\", \"message\": {\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"function\": {\"name\": \"get_current_weather\", \"arguments\": {\"format\": \"celsius\", \"location\": \"Paris, FR\"}}}]}, \"done_reason\": \"stop\", \"done\": true}";
static const char oll_chat_length[] =
	"{\"model\": \"llama3.2\", \"message\": {\"role\": \"assistant\", \"content\": \"mock reply\"}, \"done\": true, \"done_reason\": \"length\"}";
static const char oll_gen_ok[] =
	"{\"model\": \"llama3.2\", \"created_at\": \"2023-08-04T19:22:45.499127Z\", \"response\": \"The sky is blue because of Rayleigh scattering.\", \"done\": true, \"done_reason\": \"stop\", \"context\": [1, 2, 3], \"total_duration\": 10706818083, \"eval_count\": 290}";
static const char oll_gen_length[] =
	"{\"model\": \"llama3.2\", \"response\": \"The sky is\", \"done\": true, \"done_reason\": \"length\"}";
static const char oll_gen_empty[] =
	"{\"model\": \"llama3.2\", \"response\": \"\", \"done\": true, \"done_reason\": \"stop\"}";
static const char oll_gen_json[] =
	"{\"model\": \"llama3.2\", \"created_at\": \"2023-11-09T21:07:55.186497Z\", \"response\": \"{\\n  \\\"morning\\\": {\\n    \\\"color\\\": \\\"blue\\\"\\n  },\\n  \\\"noon\\\": {\\n    \\\"color\\\": \\\"blue-gray\\\"\\n  }\\n}\\n\", \"done\": true, \"done_reason\": \"stop\"}";
static const char oll_error[] = "{\"error\": \"model 'llama9' not found\"}";

/* Embeddings */
static const char emb_openai[] =
	"{\"object\": \"list\", \"data\": [{\"object\": \"embedding\", \"index\": 0, \"embedding\": [0.0023064255, -0.009327292]}], \"model\": \"text-embedding-3-small\", \"usage\": {\"prompt_tokens\": 8, \"total_tokens\": 8}}";
static const char emb_gemini[] = "{\"embedding\": {\"values\": [0.013168523, -0.008711934]}}";
static const char emb_ollama[] =
	"{\"model\": \"all-minilm\", \"embeddings\": [[0.010071029, -0.0017594862]], \"prompt_eval_count\": 8}";

/* --- helpers ------------------------------------------------------------- */

static const char *bit_name(unsigned bit)
{
	return bit ? (lr_gate_name(bit) ? lr_gate_name(bit) : "(several)") : "none";
}

/* Parses body and gates it; returns the bit, or ~0u if parsing failed. */
static unsigned gate(int fmt, const char *op, const char *body, size_t n, unsigned when,
	const regex_t *re, int json)
{
	lr_answer a;
	unsigned bit;
	int rc = lr_answer_parse(fmt, op, body, n, &a);

	bit = lr_gate_check(&a, when, re, json);
	lr_answer_free(&a);
	return rc < 0 ? ~0u : bit;
}

static void expect_gate(int line, const char *what, int fmt, const char *op, const char *body,
	unsigned when, int json, unsigned want)
{
	unsigned got = gate(fmt, op, body, strlen(body), when, &deflt, json);

	lr_test_checks++;
	if (got == want)
		return;
	lr_test_failed++;
	fprintf(stderr, "%s:%d: %s: gate gave %s, expected %s\n", __FILE__, line, what,
		got == ~0u ? "a parse error" : bit_name(got), bit_name(want));
}

#define GATE(what, fmt, op, body, json, want) \
	expect_gate(__LINE__, what, fmt, op, body, ALL, json, want)
#define GATE_WHEN(what, fmt, op, body, when, json, want) \
	expect_gate(__LINE__, what, fmt, op, body, when, json, want)

/* A chat answer whose content is the JSON string token `content`. */
static char *chat_with(const char *content)
{
	static const char head[] = "{\"choices\": [{\"index\": 0, \"message\": {\"role\": "
		"\"assistant\", \"content\": ";
	static const char tail[] = "}, \"finish_reason\": \"stop\"}]}";
	size_t n = strlen(head) + strlen(content) + strlen(tail) + 1;
	char *s = malloc(n);

	if (!s)
		abort();
	snprintf(s, n, "%s%s%s", head, content, tail);
	return s;
}

static void json_case(int line, const char *content, unsigned want)
{
	char *body = chat_with(content);

	expect_gate(line, content, LR_FMT_OPENAI, "chat", body, ALL, 1, want);
	free(body);
}

#define JSON_CASE(content, want) json_case(__LINE__, content, want)

/* --- the tests ----------------------------------------------------------- */

static void test_openai(void)
{
	GATE("chat ok", LR_FMT_OPENAI, "chat", chat_ok, 0, 0);
	GATE("chat real", LR_FMT_OPENAI, "chat", chat_real, 0, 0);
	GATE("azure chat", LR_FMT_AZURE, "chat", chat_real, 0, 0);
	GATE("chat empty", LR_FMT_OPENAI, "chat", chat_empty, 0, EMPTY);
	GATE("azure empty", LR_FMT_AZURE, "chat", chat_empty, 0, EMPTY);
	GATE("chat blank", LR_FMT_OPENAI, "chat", chat_blank, 0, EMPTY);
	GATE("chat null", LR_FMT_OPENAI, "chat", chat_null, 0, EMPTY);
	GATE("chat tool calls", LR_FMT_OPENAI, "chat", chat_tools, 0, 0);
	GATE("chat tool calls, json", LR_FMT_OPENAI, "chat", chat_tools, 1, 0);
	GATE("chat function_call", LR_FMT_OPENAI, "chat", chat_function_call, 0, 0);
	GATE("chat length", LR_FMT_OPENAI, "chat", chat_length, 0, LENGTH);
	GATE("chat refusal field", LR_FMT_OPENAI, "chat", chat_refusal_field, 0, REFUSAL);
	GATE("chat refusal text", LR_FMT_OPENAI, "chat", chat_refusal_text, 0, REFUSAL);
	GATE("chat refusal curly", LR_FMT_OPENAI, "chat", chat_refusal_curly, 0, REFUSAL);
	GATE("chat sorry mid-text", LR_FMT_OPENAI, "chat", chat_sorry_midtext, 0, 0);
	GATE("chat content_filter", LR_FMT_AZURE, "chat", chat_filtered, 0, REFUSAL);
	GATE("chat parts", LR_FMT_OPENAI, "chat", chat_parts, 0, 0);
	GATE("chat no parts", LR_FMT_OPENAI, "chat", chat_parts_empty, 0, EMPTY);
	GATE("first choice only", LR_FMT_OPENAI, "chat", chat_second_choice, 0, EMPTY);
	GATE("no choice", LR_FMT_OPENAI, "chat", chat_no_choices, 0, 0);
	GATE("error object", LR_FMT_OPENAI, "chat", openai_error, 0, 0);
	GATE("completions ok", LR_FMT_OPENAI, "completions", compl_ok, 0, 0);
	GATE("completions length", LR_FMT_OPENAI, "completions", compl_length, 0, LENGTH);
	GATE("completions empty", LR_FMT_OPENAI, "completions", compl_empty, 0, EMPTY);
	GATE("responses ok", LR_FMT_OPENAI, "responses", resp_ok, 0, 0);
	GATE("responses real", LR_FMT_OPENAI, "responses", resp_real, 0, 0);
	GATE("responses empty", LR_FMT_OPENAI, "responses", resp_empty, 0, EMPTY);
	GATE("responses incomplete", LR_FMT_OPENAI, "responses", resp_incomplete, 0, LENGTH);
	GATE("responses only reasoning", LR_FMT_OPENAI, "responses", resp_incomplete_reasoning, 0, EMPTY);
	GATE_WHEN("responses only reasoning, length", LR_FMT_OPENAI, "responses",
		resp_incomplete_reasoning, LENGTH, 0, LENGTH);
	GATE("responses content_filter", LR_FMT_OPENAI, "responses", resp_filtered, 0, REFUSAL);
	GATE("responses function call", LR_FMT_OPENAI, "responses", resp_function_call, 0, 0);
	GATE("responses refusal", LR_FMT_OPENAI, "responses", resp_refusal, 0, REFUSAL);
	GATE("responses error", LR_FMT_OPENAI, "responses", openai_error, 0, 0);
}

static void test_others(void)
{
	GATE("anthropic ok", LR_FMT_ANTHROPIC, "messages", anth_ok, 0, 0);
	GATE("anthropic empty", LR_FMT_ANTHROPIC, "messages", anth_empty, 0, EMPTY);
	GATE("anthropic no blocks", LR_FMT_ANTHROPIC, "messages", anth_no_blocks, 0, EMPTY);
	GATE("anthropic tool_use", LR_FMT_ANTHROPIC, "messages", anth_tool_use, 0, 0);
	GATE("anthropic max_tokens", LR_FMT_ANTHROPIC, "messages", anth_max_tokens, 0, LENGTH);
	GATE("anthropic refusal", LR_FMT_ANTHROPIC, "messages", anth_refusal, 0, REFUSAL);
	GATE("anthropic error", LR_FMT_ANTHROPIC, "messages", anth_error, 0, 0);
	GATE("gemini ok", LR_FMT_GEMINI, "generate", gem_ok, 0, 0);
	GATE("gemini empty", LR_FMT_GEMINI, "generate", gem_empty, 0, EMPTY);
	GATE("gemini MAX_TOKENS", LR_FMT_GEMINI, "generate", gem_max_tokens, 0, LENGTH);
	GATE("gemini SAFETY", LR_FMT_GEMINI, "generate", gem_safety, 0, REFUSAL);
	GATE("gemini RECITATION", LR_FMT_GEMINI, "generate", gem_recitation, 0, REFUSAL);
	GATE("gemini blocked prompt", LR_FMT_GEMINI, "generate", gem_blocked, 0, REFUSAL);
	GATE("gemini functionCall", LR_FMT_GEMINI, "generate", gem_function_call, 0, 0);
	GATE("gemini thought skipped", LR_FMT_GEMINI, "generate", gem_thought, 0, 0);
	GATE("gemini only thought", LR_FMT_GEMINI, "generate", gem_only_thought, 0, EMPTY);
	GATE("gemini no candidates", LR_FMT_GEMINI, "generate", gem_no_candidates, 0, 0);
	GATE("gemini error", LR_FMT_GEMINI, "generate", gem_error, 0, 0);
	GATE("ollama chat ok", LR_FMT_OLLAMA, "chat", oll_chat_ok, 0, 0);
	GATE("ollama chat empty", LR_FMT_OLLAMA, "chat", oll_chat_empty, 0, EMPTY);
	GATE("ollama chat tools", LR_FMT_OLLAMA, "chat", oll_chat_tools, 0, 0);
	GATE("ollama chat length", LR_FMT_OLLAMA, "chat", oll_chat_length, 0, LENGTH);
	GATE("ollama generate ok", LR_FMT_OLLAMA, "generate", oll_gen_ok, 0, 0);
	GATE("ollama generate length", LR_FMT_OLLAMA, "generate", oll_gen_length, 0, LENGTH);
	GATE("ollama generate empty", LR_FMT_OLLAMA, "generate", oll_gen_empty, 0, EMPTY);
	GATE("ollama generate json", LR_FMT_OLLAMA, "generate", oll_gen_json, 1, 0);
	GATE("ollama error", LR_FMT_OLLAMA, "chat", oll_error, 0, 0);
}

/* Embeddings never meet a condition, and a shape other than the format's
 * is not read. */
static void test_kinds(void)
{
	lr_answer a;

	GATE("openai embeddings", LR_FMT_OPENAI, "embeddings", emb_openai, 1, 0);
	GATE("gemini embeddings", LR_FMT_GEMINI, "embeddings", emb_gemini, 1, 0);
	GATE("ollama embeddings", LR_FMT_OLLAMA, "embeddings", emb_ollama, 1, 0);
	GATE("embeddings op, chat body", LR_FMT_OPENAI, "embeddings", chat_empty, 1, 0);
	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "embeddings", emb_openai, strlen(emb_openai), &a), 0);
	CHECK(a.parsed && a.embeddings && !a.text);
	lr_answer_free(&a);
	GATE("chat body as anthropic", LR_FMT_ANTHROPIC, "messages", chat_empty, 0, 0);
	GATE("anthropic body as chat", LR_FMT_OPENAI, "chat", anth_empty, 0, 0);
	GATE("gemini body as ollama", LR_FMT_OLLAMA, "chat", gem_empty, 0, 0);
	GATE("ollama chat as generate", LR_FMT_OLLAMA, "generate", oll_chat_empty, 0, 0);
	GATE("unknown op", LR_FMT_OPENAI, "images", chat_empty, 0, 0);
	GATE("no format", LR_FMT_NONE, "chat", chat_empty, 0, 0);
	GATE("NULL op", LR_FMT_OPENAI, NULL, chat_empty, 0, 0);
	GATE("top-level array", LR_FMT_GEMINI, "generate", "[{\"candidates\": []}]", 0, 0);
	GATE("top-level string", LR_FMT_OPENAI, "chat", "\"hello\"", 0, 0);
}

/* The fields, as the shapes fill them. */
static void test_fields(void)
{
	static const char no_finish[] = "{\"choices\": [{\"message\": {\"content\": \"x\"}}]}";
	lr_answer a;

	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "chat", chat_parts, strlen(chat_parts), &a), 0);
	CHECK(a.parsed);
	CHECK_STR(a.text, "Hello, world");
	CHECK_INT(a.text_len, 12);
	CHECK_INT(a.finish, LR_FINISH_STOP);
	CHECK(!a.has_tool_call && !a.refusal_field && !a.truncated);
	lr_answer_free(&a);
	CHECK(!a.text && !a.parsed);
	lr_answer_free(&a);     /* twice is harmless */

	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "chat", chat_tools, strlen(chat_tools), &a), 0);
	CHECK(a.parsed && a.has_tool_call && !a.text && a.finish == LR_FINISH_OTHER);
	lr_answer_free(&a);

	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "chat", chat_empty, strlen(chat_empty), &a), 0);
	CHECK(a.parsed && a.text && a.text_len == 0);   /* a text field, empty */
	lr_answer_free(&a);

	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "responses", resp_two_messages,
		strlen(resp_two_messages), &a), 0);
	CHECK_STR(a.text, "one two");  /* the first message item only */
	CHECK_INT(a.finish, LR_FINISH_STOP);
	lr_answer_free(&a);

	CHECK_INT(lr_answer_parse(LR_FMT_ANTHROPIC, "messages", anth_max_tokens,
		strlen(anth_max_tokens), &a), 0);
	CHECK_STR(a.text, "The answer is");  /* thinking blocks are not the text */
	CHECK_INT(a.finish, LR_FINISH_LENGTH);
	lr_answer_free(&a);

	CHECK_INT(lr_answer_parse(LR_FMT_GEMINI, "generate", gem_thought, strlen(gem_thought), &a), 0);
	CHECK_STR(a.text, "Paris.");
	lr_answer_free(&a);

	CHECK_INT(lr_answer_parse(LR_FMT_GEMINI, "generate", gem_blocked, strlen(gem_blocked), &a), 0);
	CHECK(a.parsed && a.refusal_field && !a.text && a.finish == LR_FINISH_OTHER);
	lr_answer_free(&a);

	CHECK_INT(lr_answer_parse(LR_FMT_OLLAMA, "chat", oll_chat_ok, strlen(oll_chat_ok), &a), 0);
	CHECK_STR(a.text, "mock reply from llama3.2");
	CHECK_INT(a.finish, LR_FINISH_STOP);
	lr_answer_free(&a);

	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "chat", chat_null, strlen(chat_null), &a), 0);
	CHECK(a.parsed && !a.text && a.text_len == 0);
	lr_answer_free(&a);

	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "chat", no_finish, strlen(no_finish), &a), 0);
	CHECK_INT(a.finish, LR_FINISH_UNKNOWN);
	lr_answer_free(&a);
}

/* \u escapes, surrogate pairs and the other escapes are decoded. */
static void test_unicode(void)
{
	static const char body[] = "{\"choices\": [{\"message\": {\"content\": "
		"\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" a\\\\b\\/c\\n\\t\xc3\xa9\"}, "
		"\"finish_reason\": \"stop\"}]}";
	static const char nul[] = "{\"choices\": [{\"message\": {\"content\": \"a\\u0000b\"}}]}";
	static const char lone[] = "{\"choices\": [{\"message\": {\"content\": \"\\ud83d\"}}]}";
	lr_answer a;

	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "chat", body, strlen(body), &a), 0);
	CHECK_STR(a.text, "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" a\\b/c\n\t\xc3\xa9");
	CHECK_INT(a.text_len, strlen("caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" a\\b/c\n\t\xc3\xa9"));
	lr_answer_free(&a);
	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "chat", nul, strlen(nul), &a), 0);
	CHECK_INT(a.text_len, 3);
	CHECK(a.text && memcmp(a.text, "a\0b", 4) == 0);
	lr_answer_free(&a);
	/* a lone surrogate passes lr_json's validation but does not decode:
	 * not read, so not taken for an empty answer */
	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "chat", lone, strlen(lone), &a), 0);
	CHECK(!a.parsed && !a.text);
	CHECK_INT(lr_gate_check(&a, ALL, &deflt, 1), 0);
	lr_answer_free(&a);
}

/* `when` masks and the order EMPTY, LENGTH, REFUSAL, INVALID_JSON. */
static void test_masks(void)
{
	static const char empty_length[] =
		"{\"choices\": [{\"message\": {\"content\": \"\"}, \"finish_reason\": \"length\"}]}";
	static const char sorry_length[] =
		"{\"choices\": [{\"message\": {\"content\": \"I'm sorry, but I can\"}, \"finish_reason\": \"length\"}]}";

	GATE_WHEN("length, when empty", LR_FMT_OPENAI, "chat", chat_length, EMPTY, 0, 0);
	GATE_WHEN("length, when length", LR_FMT_OPENAI, "chat", chat_length, LENGTH, 0, LENGTH);
	GATE_WHEN("empty, when length", LR_FMT_OPENAI, "chat", chat_empty, LENGTH, 0, 0);
	GATE_WHEN("when nothing", LR_FMT_OPENAI, "chat", chat_empty, 0, 1, 0);
	GATE_WHEN("refusal, when json", LR_FMT_OPENAI, "chat", chat_refusal_text, BADJSON, 1, BADJSON);
	GATE_WHEN("refusal, when json, not asked", LR_FMT_OPENAI, "chat", chat_refusal_text, BADJSON, 0, 0);
	GATE("empty+length: empty first", LR_FMT_OPENAI, "chat", empty_length, 0, EMPTY);
	GATE_WHEN("empty+length, when length", LR_FMT_OPENAI, "chat", empty_length, LENGTH, 0, LENGTH);
	GATE("length+refusal: length first", LR_FMT_OPENAI, "chat", sorry_length, 1, LENGTH);
	GATE_WHEN("length+refusal, when refusal|json", LR_FMT_OPENAI, "chat", sorry_length,
		REFUSAL | BADJSON, 1, REFUSAL);
	GATE_WHEN("length+refusal+json, when json", LR_FMT_OPENAI, "chat", sorry_length,
		BADJSON, 1, BADJSON);
	/* a refusal field is a refusal, not an empty answer */
	GATE("refusal field: refusal, not empty", LR_FMT_OPENAI, "chat", chat_refusal_field, 0, REFUSAL);
	GATE_WHEN("refusal field, when empty", LR_FMT_OPENAI, "chat", chat_refusal_field, EMPTY, 0, 0);
	GATE_WHEN("unknown bits ignored", LR_FMT_OPENAI, "chat", chat_ok, ~ALL, 1, 0);
	CHECK_INT(lr_gate_check(NULL, ALL, &deflt, 1), 0);
}

/* The refusal pattern: the default one on its own, none, and a custom one. */
static void test_refusal_pattern(void)
{
	static const char *const refusals[] = {
		"I'm sorry, but I can't help with that.", "I'm sorry, I cannot assist with that request.",
		"  \n I am sorry, but that is not something I can do.", "Sorry, I can't do that.",
		"I apologize, but I cannot provide that information.", "I cannot comply with this request.",
		"I can't assist with that.", "I'm unable to help with this.", "I am not able to share that.",
		"Unfortunately, I can't provide medical advice.", "I won't help with that.",
		"I must decline.", "As an AI, I do not have opinions.", "i'M SoRrY, bUt I cAn'T",
		"I\xe2\x80\x99m sorry, but I can\xe2\x80\x99t help.", "My apologies, but I cannot do that.",
		"I'm really sorry, but I can't continue.", NULL,
	};
	static const char *const answers[] = {
		"Sorry for the wait: here is the answer.", "I'm sorry for the confusion, here is the fix.",
		"I'm sorry to hear that. Try restarting it.", "I apologize for the delay; the answer is 4.",
		"Here it is. I'm sorry, but I can't help more.", "I can help with that!",
		"I'm glad you asked.", "The AI said: I cannot comply.", "Sorry-not-sorry is a phrase.",
		"", NULL,
	};
	const char *const *t;
	char *body;
	regex_t custom;

	for (t = refusals; *t; t++) {
		lr_test_checks++;
		if (regexec(&deflt, *t, 0, NULL, 0) != 0) {
			lr_test_failed++;
			fprintf(stderr, "%s:%d: default pattern misses refusal \"%s\"\n", __FILE__, __LINE__, *t);
		}
	}
	for (t = answers; *t; t++) {
		lr_test_checks++;
		if (regexec(&deflt, *t, 0, NULL, 0) == 0) {
			lr_test_failed++;
			fprintf(stderr, "%s:%d: default pattern takes \"%s\" for a refusal\n", __FILE__, __LINE__, *t);
		}
	}
	/* no pattern: refusal fields only */
	CHECK_INT(gate(LR_FMT_OPENAI, "chat", chat_refusal_text, strlen(chat_refusal_text), ALL, NULL, 0), 0);
	CHECK_INT(gate(LR_FMT_OPENAI, "chat", chat_refusal_field, strlen(chat_refusal_field), ALL, NULL, 0),
		REFUSAL);
	CHECK_INT(regcomp(&custom, "^nope", REG_EXTENDED | REG_ICASE | REG_NOSUB), 0);
	body = chat_with("\"NOPE, not today\"");
	CHECK_INT(gate(LR_FMT_OPENAI, "chat", body, strlen(body), ALL, &custom, 0), REFUSAL);
	CHECK_INT(gate(LR_FMT_OPENAI, "chat", chat_refusal_text, strlen(chat_refusal_text), ALL, &custom, 0), 0);
	free(body);
	regfree(&custom);
}

/* JSON output: one object or array, whitespace around it only. */
static void test_json(void)
{
	JSON_CASE("\"{\\\"a\\\":1}\"", 0);
	JSON_CASE("\"{\\\"reply\\\": \\\"mock reply from gpt-4o\\\"}\"", 0);
	JSON_CASE("\"  \\n[1, 2, {\\\"x\\\": null}]\\n \"", 0);
	JSON_CASE("\"{}\"", 0);
	JSON_CASE("\"```json\\n{\\\"a\\\":1}\\n```\"", BADJSON);
	JSON_CASE("\"mock reply from gpt-4o\"", BADJSON);
	JSON_CASE("\"Here you go: {\\\"a\\\":1}\"", BADJSON);
	JSON_CASE("\"{\\\"a\\\":1} trailing\"", BADJSON);
	JSON_CASE("\"{\\\"a\\\":1}{\\\"b\\\":2}\"", BADJSON);
	JSON_CASE("\"{\\\"a\\\":1\"", BADJSON);
	JSON_CASE("\"{'a': 1}\"", BADJSON);
	JSON_CASE("\"42\"", BADJSON);
	JSON_CASE("\"\\\"a string\\\"\"", BADJSON);
	JSON_CASE("\"{\\\"caf\\u00e9\\\": \\\"\\ud83d\\ude00\\\"}\"", 0);
	/* not asked: never invalid */
	GATE("plain text, json not asked", LR_FMT_OPENAI, "chat", chat_ok, 0, 0);
	GATE_WHEN("empty, json asked, when json", LR_FMT_OPENAI, "chat", chat_empty, BADJSON, 1, BADJSON);
	GATE_WHEN("tool call, json asked", LR_FMT_OPENAI, "chat", chat_tools, BADJSON, 1, 0);
	GATE("gemini json", LR_FMT_GEMINI, "generate",
		"{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"{\\\"a\\\": \"}, {\"text\": \"1}\"}]}, "
		"\"finishReason\": \"STOP\"}]}", 1, 0);
	GATE("responses json", LR_FMT_OPENAI, "responses", resp_ok, 1, BADJSON);
	GATE("anthropic json", LR_FMT_ANTHROPIC, "messages", anth_ok, 1, BADJSON);
}

/* A malformed or truncated body is LR_EPARSE and never gated. */
static void test_malformed(void)
{
	static const char *const bad[] = {
		"", "   ", "{", "{\"choices\": [", "not json", "{\"choices\": []}}",
		"{\"choices\": [{\"message\": {\"content\": \"\"}}]} trailing",
		"{\"choices\": [{\"message\": {\"content\": \"\\x\"}}]}",
		"{\"choices\": [{\"message\": {\"content\": \"\"}}],}",
		"{\"choices\": [{\"message\": {\"content\": \"\"}}]}\n{\"done\": true}", NULL,
	};
	const char *const *b;
	const char *bodies[] = {chat_empty, compl_empty, resp_incomplete, anth_empty, gem_safety,
		oll_chat_empty, oll_gen_length, NULL};
	const char **p;
	lr_answer a;
	size_t cut, n;
	int ok;

	for (b = bad; *b; b++) {
		CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "chat", *b, strlen(*b), &a), LR_EPARSE);
		CHECK(!a.parsed && !a.text);
		CHECK_INT(lr_gate_check(&a, ALL, &deflt, 1), 0);
		lr_answer_free(&a);
	}
	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "chat", NULL, 5, &a), LR_EPARSE);
	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "chat", chat_ok, 5, NULL), LR_EINVAL);
	/* every proper prefix of an answer is a parse error, gated as nothing */
	for (p = bodies; *p; p++) {
		n = strlen(*p);
		ok = 1;
		for (cut = 0; cut < n; cut++) {
			if (lr_answer_parse(LR_FMT_OPENAI, "chat", *p, cut, &a) != LR_EPARSE ||
			    lr_gate_check(&a, ALL, &deflt, 1) != 0 || a.text)
				ok = 0;
			lr_answer_free(&a);
		}
		CHECK(ok);
	}
	/* whitespace around the answer is fine */
	GATE("whitespace around", LR_FMT_OPENAI, "chat", "\n  {\"choices\": [{\"message\": "
		"{\"content\": \"\"}}]}  \r\n", 0, EMPTY);
}

/* Garbage: bytes of every value in every place; nothing must crash or leak. */
static void test_mutations(void)
{
	static const char *const bodies[] = {chat_tools, resp_real, anth_tool_use, gem_blocked,
		oll_chat_tools, NULL};
	static const int fmts[] = {LR_FMT_OPENAI, LR_FMT_OPENAI, LR_FMT_ANTHROPIC, LR_FMT_GEMINI,
		LR_FMT_OLLAMA};
	static const char *const ops[] = {"chat", "responses", "messages", "generate", "chat"};
	static const char subst[] = "\"{}[],:0\\ \x80";
	char buf[2048];
	size_t i, j, n;
	lr_answer a;
	int k, sane = 1;

	for (k = 0; bodies[k]; k++) {
		n = strlen(bodies[k]);
		for (i = 0; i < n; i++)
			for (j = 0; j < sizeof(subst) - 1; j++) {
				memcpy(buf, bodies[k], n);
				buf[i] = subst[j];
				if (lr_answer_parse(fmts[k], ops[k], buf, n, &a) == 0 && a.parsed) {
					(void)lr_gate_check(&a, ALL, &deflt, 1);
					if (a.text && strlen(a.text) > a.text_len)
						sane = 0;
				} else if (a.parsed || a.text) {
					sane = 0;
				}
				lr_answer_free(&a);
			}
	}
	CHECK(sane);
}

/* A body of `n` bytes: a chat answer whose content is `fill` repeated
 * `count` times after `prefix`. */
static char *big_chat(const char *prefix, const char *fill, size_t count, size_t *n)
{
	static const char head[] = "{\"choices\": [{\"message\": {\"content\": \"";
	static const char tail[] = "\"}, \"finish_reason\": \"stop\"}]}";
	size_t fl = strlen(fill), pl = strlen(prefix), i;
	char *s = malloc(sizeof(head) + pl + fl * count + sizeof(tail)), *w = s;

	if (!s)
		abort();
	memcpy(w, head, sizeof(head) - 1);
	w += sizeof(head) - 1;
	memcpy(w, prefix, pl);
	w += pl;
	for (i = 0; i < count; i++, w += fl)
		memcpy(w, fill, fl);
	memcpy(w, tail, sizeof(tail));
	*n = (size_t)(w - s) + sizeof(tail) - 1;
	return s;
}

/* The text is cut at 1 MiB on a character boundary; a cut text is judged
 * JSON by its first byte only. */
static void test_cap(void)
{
	lr_answer a;
	size_t n;
	char *body;

	/* "\u00e9" is 2 bytes decoded: an odd cut would split one */
	body = big_chat("x", "\\u00e9", LR_ANSWER_MAX_TEXT / 2 + 10, &n);
	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "chat", body, n, &a), 0);
	CHECK(a.truncated);
	CHECK_INT(a.text_len, LR_ANSWER_MAX_TEXT - 1);
	CHECK(a.text && a.text[0] == 'x' && (unsigned char)a.text[a.text_len - 1] == 0xa9 &&
	      a.text[a.text_len] == '\0');
	CHECK_INT(lr_gate_check(&a, ALL, &deflt, 1), BADJSON);
	lr_answer_free(&a);
	free(body);

	body = big_chat("I'm sorry, but I can't ", "a", LR_ANSWER_MAX_TEXT + 5, &n);
	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "chat", body, n, &a), 0);
	CHECK(a.truncated && a.text_len == LR_ANSWER_MAX_TEXT);
	CHECK_INT(lr_gate_check(&a, ALL, &deflt, 0), REFUSAL);
	lr_answer_free(&a);
	free(body);

	/* a cut JSON text starting with '{' cannot be judged: valid */
	body = big_chat("{\\\"a\\\": \\\"", "b", LR_ANSWER_MAX_TEXT + 5, &n);
	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "chat", body, n, &a), 0);
	CHECK(a.truncated);
	CHECK_INT(lr_gate_check(&a, ALL, &deflt, 1), 0);
	lr_answer_free(&a);
	free(body);

	/* exactly at the cap: kept whole, judged whole */
	body = big_chat("{\\\"a\\\": \\\"", "b", LR_ANSWER_MAX_TEXT - 7, &n);
	CHECK_INT(lr_answer_parse(LR_FMT_OPENAI, "chat", body, n, &a), 0);
	CHECK(!a.truncated && a.text_len == LR_ANSWER_MAX_TEXT);
	CHECK_INT(lr_gate_check(&a, ALL, &deflt, 1), BADJSON);   /* unclosed */
	lr_answer_free(&a);
	free(body);
}

static void test_names(void)
{
	unsigned bit;

	CHECK_STR(lr_gate_name(LR_GATE_EMPTY), "empty");
	CHECK_STR(lr_gate_name(LR_GATE_LENGTH), "length");
	CHECK_STR(lr_gate_name(LR_GATE_REFUSAL), "refusal");
	CHECK_STR(lr_gate_name(LR_GATE_INVALID_JSON), "invalid_json");
	CHECK(lr_gate_name(0) == NULL);
	CHECK(lr_gate_name(LR_GATE_EMPTY | LR_GATE_LENGTH) == NULL);
	CHECK(lr_gate_name(1u << 4) == NULL);
	for (bit = 1; bit <= LR_GATE_INVALID_JSON; bit <<= 1)
		CHECK_INT(lr_gate_from_name(lr_gate_name(bit)), bit);
	CHECK_INT(lr_gate_from_name("Empty"), 0);
	CHECK_INT(lr_gate_from_name("json"), 0);
	CHECK_INT(lr_gate_from_name(""), 0);
	CHECK_INT(lr_gate_from_name(NULL), 0);
}

int main(void)
{
	if (regcomp(&deflt, LR_GATE_DEFAULT_REFUSAL, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0) {
		fprintf(stderr, "test_answer: the default refusal pattern does not compile\n");
		return 1;
	}
	test_openai();
	test_others();
	test_kinds();
	test_fields();
	test_unicode();
	test_masks();
	test_refusal_pattern();
	test_json();
	test_malformed();
	test_mutations();
	test_cap();
	test_names();
	regfree(&deflt);
	return lr_test_done("test_answer");
}
