/*
 * test_redact_stream.c - placeholders put back in streamed answers
 * (lr_redact_stream.h): each format's text deltas with a placeholder cut
 * across events, fed whole and then in slices of every size; the held
 * tail let out before a finish; a mangled placeholder left alone; events
 * without text passed byte for byte.
 */
#include "lr_test.h"
#include "lr_guard.h"
#include "lr_redact.h"
#include "lr_redact_stream.h"

#include <stdlib.h>
#include <string.h>

static const char BODY[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"mail jane@example.com or +44 20 7946 0958\"}]}";

static void map(lr_redact_map *m)
{
	static lr_guard_findings g;
	char *out = NULL;
	size_t olen;

	lr_guard_scan(BODY, strlen(BODY), &g);
	CHECK_INT(lr_redact_body(BODY, strlen(BODY), &g, LR_GUARD_ALL, m, &out, &olen), 2);
	CHECK(out && strstr(out, "mail [EMAIL_1] or [PHONE_1]"));
	free(out);
}

/* The stream fed in slices of `step` bytes (0: whole). */
static char *run(const lr_redact_map *m, int fmt, const char *in, size_t step)
{
	lr_redact_stream *s = lr_redact_stream_new(m, fmt);
	lr_xbuf out = {0};
	size_t n = strlen(in), i, k;

	CHECK(s != NULL);
	if (!s)
		return strdup("");
	for (i = 0; i < n; i += k) {
		k = step && step < n - i ? step : n - i;
		CHECK_INT(lr_redact_stream_feed(s, in + i, k, &out), 0);
	}
	CHECK_INT(lr_redact_stream_finish(s, &out), 0);
	lr_redact_stream_free(s);
	return out.p ? out.p : strdup("");
}

/* Every slicing gives want. */
static void same(const lr_redact_map *m, int fmt, const char *in, const char *want)
{
	size_t step;
	char *got;

	for (step = 0; step <= strlen(in); step += step < 8 ? 1 : 7) {
		got = run(m, fmt, in, step);
		if (strcmp(got, want) != 0)
			fprintf(stderr, "fmt %d step %zu:\n%s\n", fmt, step, got);
		CHECK_STR(got, want);
		free(got);
	}
}

#define OA(t) "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" t "\"}}]}\n\n"
#define OA_END "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"

static void openai(const lr_redact_map *m)
{
	same(m, LR_XF_OPENAI, OA("Write to [EMA") OA("IL_1") OA("] or [PH") OA("ONE_1], ok") OA_END,
	     OA("Write to ") OA("") OA("jane@example.com or ") OA("+44 20 7946 0958, ok") OA_END);
	/* the held tail goes out before the finish, in a text event */
	same(m, LR_XF_OPENAI, OA("cut [EMAIL_") OA_END, OA("cut ") OA("[EMAIL_") OA_END);
	/* a mangled placeholder or a bracket of the model's own stays */
	same(m, LR_XF_OPENAI, OA("[email_1] [") OA("x] [EMAIL_2]") OA_END, OA("[email_1] ") OA("[x] [EMAIL_2]") OA_END);
	/* no '[' and nothing held: byte for byte */
	same(m, LR_XF_OPENAI, OA("plain") "\r\n" OA_END, OA("plain") "\r\n" OA_END);
	same(m, LR_XF_AZURE, OA("[EMAIL_1]") OA_END, OA("jane@example.com") OA_END);
}

#define AN(t) "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"" t "\"}}\n\n"
#define AN_STOP "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"

static void anthropic(const lr_redact_map *m)
{
	same(m, LR_XF_ANTHROPIC, AN("at [") AN("EMAIL_1]!") AN_STOP, AN("at ") AN("jane@example.com!") AN_STOP);
	same(m, LR_XF_ANTHROPIC, AN("at [EMAIL") AN_STOP, AN("at ") AN("[EMAIL") AN_STOP);
}

#define GE(t) "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"" t "\"}],\"role\":\"model\"}}]}\r\n\r\n"
#define RS(t) "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"" t "\"}\n\n"
#define RS_DONE "event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\",\"text\":\"[EMAIL_1]\"}\n\n"
#define OL(t) "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"" t "\"},\"done\":false}\n"
#define OL_END "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true}\n"

static void others(const lr_redact_map *m)
{
	same(m, LR_XF_GEMINI, GE("call [PHONE") GE("_1] now"), GE("call ") GE("+44 20 7946 0958 now"));
	same(m, LR_XF_RESPONSES, RS("[EMAIL_") RS("1]") RS_DONE,
	     RS("") RS("jane@example.com") "event: response.output_text.done\ndata: "
		"{\"type\":\"response.output_text.done\",\"text\":\"jane@example.com\"}\n\n");
	same(m, LR_XF_OLLAMA, OL("to [EM") OL("AIL_1]") OL_END, OL("to ") OL("jane@example.com") OL_END);
	same(m, LR_XF_OLLAMA, OL("to [EM") OL_END, OL("to ") OL("[EM") OL_END);
}

int main(void)
{
	lr_redact_map m;

	map(&m);
	openai(&m);
	anthropic(&m);
	others(&m);
	CHECK(lr_redact_stream_new(&m, LR_XF_NONE) == NULL);
	lr_redact_free(&m);
	return lr_test_done("test_redact_stream");
}
