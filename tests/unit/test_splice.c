/*
 * test_splice.c - router/lr_splice: a stream cut after text reached the
 * app, and its continuation, made one well-formed stream (OpenAI chat:
 * chunks, one [DONE]; Anthropic: one message_start ... one message_stop;
 * Gemini: its chunks, the one with a finishReason last), with the
 * delivered text kept, events passed whole, error and malformed
 * events not passed, usage with the first part's estimate, the body that
 * asks for the rest, and the error event that ends a stream that cannot
 * be continued.
 */
#include "lr_test.h"
#include "lr_detect.h"
#include "lr_error.h"
#include "lr_splice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char app[8192]; /* what the app got */
static size_t app_len;

static int to_app(void *ud, const char *p, size_t n)
{
	(void)ud;
	if (app_len + n >= sizeof(app))
		return -1;
	memcpy(app + app_len, p, n);
	app_len += n;
	app[app_len] = '\0';
	return 0;
}

/* feeds s in pieces of `step` bytes */
static int feed(lr_splice *s, const char *txt, size_t step)
{
	size_t off, n, len = strlen(txt);
	int rc = 0;

	for (off = 0; off < len && rc == 0; off += n) {
		n = len - off < step ? len - off : step;
		rc = lr_splice_feed(s, txt + off, n, to_app, NULL);
	}
	return rc;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

#define CHUNK(t) "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" t "\"},\"finish_reason\":null}]}\n\n"

static void openai(void)
{
	lr_splice s;
	char *body;
	size_t blen;
	const char req[] = "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

	app_len = 0;
	CHECK_INT(lr_splice_supported(LR_FMT_OPENAI, "chat"), 1);
	CHECK_INT(lr_splice_supported(LR_FMT_GEMINI, "chat"), 0);
	lr_splice_init(&s, LR_FMT_OPENAI);
	lr_splice_attempt(&s, 0);
	/* whole events only: half an event is not passed */
	CHECK_INT(feed(&s, CHUNK("Hello, ") CHUNK("wor") "data: {\"id\":\"c1\",\"cho", 7), 0);
	CHECK_INT(count(app, "data: "), 2);
	CHECK_INT(s.tlen, 10);
	CHECK(memcmp(s.text, "Hello, wor", 10) == 0);
	/* the rest of that event is an error: not passed, the attempt is cut */
	lr_splice_attempt(&s, 0); /* as a fresh answer: forgets the text */
	CHECK_INT(s.tlen, 0);
	app_len = 0;
	CHECK_INT(feed(&s, CHUNK("Hello, ") CHUNK("wor"), 5), 0);
	CHECK_INT(feed(&s, "data: {\"error\":{\"message\":\"overloaded\"}}\n\n", 100), LR_EPARSE);
	CHECK_INT(s.bad, 1);
	CHECK_INT(s.done, 0);
	CHECK(!strstr(app, "overloaded"));
	CHECK_INT(lr_splice_can_continue(&s), 1);
	/* the continuation body: the text as the assistant's, and the ask */
	CHECK_INT(lr_splice_body(&s, req, strlen(req), &body, &blen), 0);
	CHECK_STR(body, "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
			"{\"role\":\"assistant\",\"content\":\"Hello, wor\"},{\"role\":\"user\",\"content\":\""
			LR_SPLICE_ASK "\"}]}");
	CHECK_INT(blen, strlen(body));
	free(body);
	/* the continuation: its chunks, its usage with the first part's
	 * estimate (10 bytes: 3 tokens) added, one [DONE] */
	lr_splice_attempt(&s, 1);
	CHECK_INT(feed(&s, ": keep-alive\n\n" CHUNK("ld!") "data: {\"id\":\"c2\",\"choices\":[],\"usage\":{\"prompt_tokens\":20,"
			   "\"completion_tokens\":2,\"total_tokens\":22}}\n\ndata: [DONE]\n\n", 3), 0);
	CHECK_INT(s.done, 1);
	CHECK_INT(count(app, "[DONE]"), 1);
	CHECK(strstr(app, "\"completion_tokens\":5,\"total_tokens\":25}") != NULL);
	CHECK(!strstr(app, "keep-alive")); /* nothing before its first event */
	CHECK_INT(s.tlen, 13);
	lr_splice_free(&s);

	/* a continuation whose stream starts with a comment and then has a
	 * line starting with '[' is still an event stream, never passed as
	 * raw bytes (fuzz_splice found a partial event handed to the app) */
	lr_splice_init(&s, LR_FMT_OPENAI);
	lr_splice_attempt(&s, 1);
	app_len = 0;
	feed(&s, ": keep-alive\n\n[D\n", 1);
	CHECK_INT(s.raw, 0);
	CHECK_INT(app_len, 0);
	lr_splice_free(&s);

	/* a continuation answered with a JSON body, not a stream: foreign, cut
	 * before a byte of it passed (fuzz_splice) */
	lr_splice_attempt(&s, 1);
	app_len = 0;
	CHECK_INT(feed(&s, "{\"choices\":[]}", 2), LR_EPARSE);
	CHECK_INT(s.foreign, 1);
	CHECK_INT(app_len, 0);
	lr_splice_free(&s);

	/* a continuation in another API's format: cut before anything of it passed */
	lr_splice_attempt(&s, 1);
	app_len = 0;
	CHECK_INT(feed(&s, "event: message_start\ndata: {\"type\":\"message_start\"}\n\n", 64), LR_EPARSE);
	CHECK_INT(s.foreign, 1);
	CHECK_INT(app_len, 0);
	lr_splice_free(&s);

	/* a malformed chunk, and a line too long: cut */
	lr_splice_init(&s, LR_FMT_OPENAI);
	app_len = 0;
	CHECK_INT(feed(&s, CHUNK("a") "data: {\"choices\":[{\"delt\n\n", 64), LR_EPARSE);
	CHECK_INT(count(app, "data: "), 1);
	lr_splice_free(&s);
	/* tool calls, or several choices, are not continued */
	lr_splice_init(&s, LR_FMT_OPENAI);
	CHECK_INT(feed(&s, "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0}]}}]}\n\n", 64), 0);
	CHECK_INT(lr_splice_can_continue(&s), 0);
	lr_splice_free(&s);
	lr_splice_init(&s, LR_FMT_OPENAI);
	CHECK_INT(feed(&s, "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"x\"}}]}\n\n", 64), 0);
	CHECK_INT(lr_splice_can_continue(&s), 0);
	lr_splice_free(&s);
	/* nothing delivered: the continuation is the request as it was */
	lr_splice_init(&s, LR_FMT_OPENAI);
	CHECK_INT(lr_splice_can_continue(&s), 1);
	CHECK_INT(lr_splice_body(&s, req, strlen(req), &body, &blen), 0);
	CHECK_STR(body, req);
	free(body);
	lr_splice_free(&s);
}

#define AEV(name, json) "event: " name "\ndata: " json "\n\n"

static void anthropic(void)
{
	lr_splice s;
	char *body, ev[512];
	size_t blen, n;
	const char req[] = "{\"model\":\"c\",\"stream\":true,\"messages\":[]}";

	app_len = 0;
	lr_splice_init(&s, LR_FMT_ANTHROPIC);
	lr_splice_attempt(&s, 0);
	CHECK_INT(feed(&s, AEV("message_start", "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":9}}}")
			   AEV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")
			   AEV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Once upon \"}}"),
		       11), 0);
	CHECK_INT(s.block_open, 1);
	CHECK_INT(feed(&s, AEV("error", "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}"), 64), LR_EPARSE);
	CHECK(!strstr(app, "overloaded"));
	/* prefill: trailing white space removed; no "ask" message */
	CHECK_INT(lr_splice_body(&s, req, strlen(req), &body, &blen), 0);
	CHECK_STR(body, "{\"model\":\"c\",\"stream\":true,\"messages\":[{\"role\":\"assistant\",\"content\":\"Once upon\"}]}");
	free(body);
	lr_splice_attempt(&s, 1);
	CHECK_INT(feed(&s, AEV("message_start", "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":12}}}")
			   AEV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")
			   AEV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" a time\"}}")
			   AEV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}")
			   AEV("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}")
			   AEV("message_stop", "{\"type\":\"message_stop\"}"),
		       9), 0);
	CHECK_INT(count(app, "event: message_start"), 1);
	CHECK_INT(count(app, "event: content_block_start"), 1);
	CHECK_INT(count(app, "event: message_stop"), 1);
	CHECK(strstr(app, "\"output_tokens\":5}") != NULL); /* 2 + 10 bytes / 4 rounded up */
	CHECK_INT(s.done, 1);
	CHECK_INT(lr_splice_complete(LR_FMT_ANTHROPIC, app, app_len), 1);
	CHECK_INT(lr_splice_complete(LR_FMT_ANTHROPIC, app, app_len - 20), 0);
	n = lr_splice_error_event(&s, "reset", ev, sizeof(ev));
	CHECK(n > 0 && strncmp(ev, "event: error\ndata: {", 20) == 0 && strstr(ev, "llmroute_stream_cut"));
	lr_splice_free(&s);

	/* cut after its block stopped: the continuation's block 0 is the app's block 1 */
	app_len = 0;
	lr_splice_init(&s, LR_FMT_ANTHROPIC);
	feed(&s, AEV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")
		 AEV("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"A.\"}}")
		 AEV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}"), 64);
	lr_splice_attempt(&s, 1);
	app_len = 0;
	feed(&s, AEV("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"), 64);
	CHECK(strstr(app, "\"index\":1,") != NULL);
	lr_splice_free(&s);
	/* a block index no answer has (the fuzzer's: it overflowed): malformed */
	app_len = 0;
	lr_splice_init(&s, LR_FMT_ANTHROPIC);
	CHECK_INT(feed(&s, AEV("content_block_start", "{\"type\":\"content_block_start\",\"index\":19999999999999999999999,"
			      "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"), 64), LR_EPARSE);
	CHECK_INT((int)app_len, 0);
	lr_splice_free(&s);
	/* OpenAI's error event */
	lr_splice_init(&s, LR_FMT_OPENAI);
	n = lr_splice_error_event(&s, "idle", ev, sizeof(ev));
	CHECK(n > 0 && strncmp(ev, "data: {\"error\":", 15) == 0 && ev[n - 1] == '\n');
	CHECK_INT(lr_splice_complete(LR_FMT_OPENAI, CHUNK("x") "data: [DONE]\n\n", strlen(CHUNK("x") "data: [DONE]\n\n")), 1);
	CHECK_INT(lr_splice_complete(LR_FMT_OPENAI, CHUNK("x"), strlen(CHUNK("x"))), 0);
	lr_splice_free(&s);
}

#define GCHUNK(t, fin) "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"" t "\"}],\"role\":\"model\"}" fin "}]}\r\n\r\n"

static void gemini(void)
{
	lr_splice s;
	char *body;
	size_t blen;
	const char req[] = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}]}";

	app_len = 0;
	CHECK_INT(lr_splice_supported(LR_FMT_GEMINI, "generate"), 1);
	lr_splice_init(&s, LR_FMT_GEMINI);
	lr_splice_attempt(&s, 0);
	CHECK_INT(feed(&s, GCHUNK("Hello ", ""), 5), 0);
	CHECK_INT(s.done, 0);
	CHECK_INT(lr_splice_body(&s, req, strlen(req), &body, &blen), 0);
	CHECK_STR(body, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]},{\"role\":\"model\",\"parts\":"
			"[{\"text\":\"Hello \"}]},{\"role\":\"user\",\"parts\":[{\"text\":\"" LR_SPLICE_ASK "\"}]}]}");
	free(body);
	lr_splice_attempt(&s, 1);
	CHECK_INT(feed(&s, GCHUNK("world", ",\"finishReason\":\"STOP\"") "", 7), 0);
	CHECK_INT(s.done, 1);
	CHECK_INT(count(app, "\"text\":"), 2);
	lr_splice_free(&s);
	/* the continuation's usage counts the first part (6 bytes: 2 tokens) */
	lr_splice_init(&s, LR_FMT_GEMINI);
	feed(&s, GCHUNK("Hello ", ""), 64);
	lr_splice_attempt(&s, 1);
	app_len = 0;
	feed(&s, "data: {\"candidates\":[{\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":9,"
		 "\"candidatesTokenCount\":3,\"totalTokenCount\":12}}\r\n\r\n", 64);
	CHECK(strstr(app, "\"candidatesTokenCount\":5,\"totalTokenCount\":14}") != NULL);
	lr_splice_free(&s);
	/* not an event stream (no alt=sse): as it comes, never cut */
	lr_splice_init(&s, LR_FMT_GEMINI);
	app_len = 0;
	CHECK_INT(feed(&s, "[{\"candidates\": [", 4), 0);
	CHECK_STR(app, "[{\"candidates\": [");
	CHECK_INT(s.done, 1);
	CHECK_INT(lr_splice_can_continue(&s), 0);
	lr_splice_free(&s);
}

#define RDELTA(seq, t) "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":" #seq ",\"output_index\":0,\"content_index\":0,\"delta\":\"" t "\"}\n\n"
#define RSTART "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0}\n\n" \
	"event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"item\":{\"type\":\"message\"}}\n\n" \
	"event: response.content_part.added\ndata: {\"type\":\"response.content_part.added\",\"sequence_number\":2,\"part\":{\"type\":\"output_text\",\"text\":\"\"}}\n\n"

/* Responses: the continuation's opening events dropped, renumbered, the
 * repeated text made whole; the body, the limit, the end and error events */
static void responses(void)
{
	lr_splice s;
	char *body, *end, ev[512];
	size_t blen, n;
	const char req[] = "{\"model\":\"m\",\"stream\":true,\"max_output_tokens\":3,\"input\":\"hi\"}";

	app_len = 0;
	CHECK_INT(lr_splice_supported(LR_FMT_OPENAI, "responses"), 1);
	CHECK_INT(lr_splice_supported(LR_FMT_OLLAMA, "embeddings"), 0);
	lr_splice_init_op(&s, LR_FMT_OPENAI, "responses");
	lr_splice_attempt(&s, 0);
	CHECK_INT(feed(&s, RSTART RDELTA(3, "Hello, "), 5), 0);
	CHECK_INT(s.tlen, 7);
	CHECK_INT(lr_splice_limit(&s, req, strlen(req)), 2); /* 3 less 7/4 */
	CHECK_INT(lr_splice_body(&s, req, strlen(req), &body, &blen), 0);
	CHECK(strstr(body, "\"input\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"Hello, \"},{\"role\":\"user\"") != NULL);
	CHECK(strstr(body, "\"max_output_tokens\":2,") != NULL);
	free(body);
	lr_splice_attempt(&s, 1);
	app_len = 0;
	CHECK_INT(feed(&s, RSTART RDELTA(3, "world") "event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\",\"sequence_number\":4,\"text\":\"world\"}\n\n", 3), 0);
	CHECK_INT(count(app, "response.created"), 0);
	CHECK_INT(count(app, "output_item.added"), 0);
	CHECK(strstr(app, "\"sequence_number\":4,\"output_index\":0,\"content_index\":0,\"delta\":\"world\"") != NULL);
	CHECK(strstr(app, "\"sequence_number\":5,\"text\":\"Hello, world\"") != NULL);
	n = lr_splice_error_event(&s, "reset", ev, sizeof(ev));
	CHECK(n > 0 && strstr(ev, "event: error\n") == ev && strstr(ev, "\"sequence_number\":6") != NULL);
	CHECK((end = lr_splice_end_event(&s, &n)) != NULL);
	CHECK(strstr(end, "response.incomplete") && strstr(end, "\"text\":\"Hello, world\""));
	free(end);
	lr_splice_free(&s);
}

/* Ollama: NDJSON lines, the done line; generate continues only raw */
static void ollama(void)
{
	lr_splice s;
	char *body;
	size_t blen;
	const char chat[] = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"options\":{\"num_predict\":4}}";
	const char gen[] = "{\"model\":\"m\",\"prompt\":\"hi\"}", raw[] = "{\"model\":\"m\",\"raw\":true,\"prompt\":\"hi\"}";

	app_len = 0;
	lr_splice_init_op(&s, LR_FMT_OLLAMA, "chat");
	lr_splice_attempt(&s, 0);
	CHECK_INT(feed(&s, "{\"message\":{\"content\":\"abcdefgh\"},\"done\":false}\n{\"message\":", 4), 0);
	CHECK_INT(count(app, "\n"), 1);
	CHECK_INT(lr_splice_limit(&s, chat, strlen(chat)), 2);
	CHECK_INT(lr_splice_body(&s, chat, strlen(chat), &body, &blen), 0);
	CHECK(strstr(body, "{\"role\":\"assistant\",\"content\":\"abcdefgh\"}]") != NULL);
	CHECK(strstr(body, "\"num_predict\":2}") != NULL);
	free(body);
	CHECK_INT(feed(&s, "{\"error\":\"boom\"}\n", 100), LR_EPARSE);
	lr_splice_free(&s);
	lr_splice_init_op(&s, LR_FMT_OLLAMA, "generate");
	lr_splice_attempt(&s, 0);
	CHECK_INT(feed(&s, "{\"response\":\"ab\",\"done\":false}\n", 100), 0);
	CHECK_INT(lr_splice_body(&s, gen, strlen(gen), &body, &blen), LR_EPARSE); /* templated: not exact */
	CHECK_INT(lr_splice_body(&s, raw, strlen(raw), &body, &blen), 0);
	CHECK(strstr(body, "\"prompt\":\"hiab\"") != NULL);
	free(body);
	CHECK_INT(lr_splice_complete_like(&s, "{\"response\":\"\",\"done\":true}\n", 28), 1);
	CHECK_INT(lr_splice_whole_prefix(&s, "{\"done\":false,\"response\":\"a\"}\n{\"error\":\"x\"}\n", 44), 30);
	lr_splice_free(&s);
}

int main(void)
{
	openai();
	anthropic();
	gemini();
	responses();
	ollama();
	return lr_test_done("test_splice");
}
