/*
 * bench_instr.c - the router's per-request work, one piece a run, for
 * counting instructions under callgrind (`make bench`, run.sh part 12).
 *
 *   bench_instr PIECE N
 *
 * sets the piece up, then does it N times.  run.sh runs it with two N and
 * divides the difference of callgrind's totals, so set-up, start-up and
 * exit cancel out and what remains is the piece alone, in instructions,
 * which do not move with the machine's load.  Pieces:
 *   decide1, decide10k   lr_decide on a table of 1 / 10,000 routes on
 *                        literal models and hosts, only the last matching;
 *   stream200            a 200-event OpenAI SSE answer through lr_usage,
 *                        one feed per event, as the shim feeds it;
 *   body1m               what the shim reads of a 1 MB chat body: request
 *                        (model), decision, streamed or not, model rewrite
 *                        (lr_request_set_model, as lr_plan_body does);
 *   usage242             the usage of a 242-byte chat answer.
 * Exit status 1 when a piece gives a wrong result, else 0.
 */
#include "lr_body.h"
#include "lr_match.h"
#include "lr_request.h"
#include "lr_rules.h"
#include "lr_usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LLM_URL "https://api.openai.com/v1/chat/completions"

static volatile unsigned long long sink;

static void fail(const char *what)
{
	fprintf(stderr, "bench_instr: %s\n", what);
	exit(1);
}

/* n routes on literal model and host, the last one matching gpt-4o at
 * api.openai.com. */
static void *routes_table(int n)
{
	size_t cap = (size_t)n * 120 + 256, len = 0, blen;
	char *s = malloc(cap);
	void *blob = NULL;
	lr_rules_error e;
	int i;

	if (!s)
		fail("malloc");
	len += (size_t)snprintf(s + len, cap - len, "{\"routes\":[");
	for (i = 1; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "{\"name\":\"r%d\",\"match\":{\"model\":\"m%d\","
					"\"host\":\"h%d.example\"},\"set\":{\"model\":\"x\"}},", i, i, i);
	len += (size_t)snprintf(s + len, cap - len, "{\"name\":\"last\",\"match\":{\"model\":\"gpt-4o\","
				"\"host\":\"api.openai.com\"},\"set\":{\"model\":\"gpt-4o-mini\"}}]}");
	if (lr_rules_compile(s, len, &blob, &blen, &e) < 0)
		fail(e.msg);
	free(s);
	return blob;
}

static void decide(int nroutes, long n)
{
	static const char body[] = "{\"model\":\"gpt-4o\",\"messages\":[]}";
	lr_table *t = routes_table(nroutes);
	lr_request r;
	lr_decision d;
	long i;

	if (lr_request_init_as(&r, LLM_URL, strlen(LLM_URL), body, strlen(body), "bench", 0) < 0)
		fail("request");
	for (i = 0; i < n; i++) {
		lr_decide(t, &r.f, &d);
		if (d.index != nroutes - 1)
			fail("not the last route");
		sink += (unsigned long long)d.index;
	}
	free(t);
}

/* An OpenAI chat stream: a role chunk, 198 content deltas, the usage chunk. */
static char *make_stream(size_t *len, size_t *ev, int nev)
{
	size_t cap = (size_t)nev * 320, n = 0;
	char *s = malloc(cap);
	int i;

	if (!s)
		fail("malloc");
	for (i = 0; i < nev; i++) {
		ev[i] = n;
		if (i == 0)
			n += (size_t)snprintf(s + n, cap - n, "data: {\"id\":\"chatcmpl-1\",\"object\":"
				"\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":"
				"[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n");
		else if (i < nev - 1)
			n += (size_t)snprintf(s + n, cap - n, "data: {\"id\":\"chatcmpl-1\",\"object\":"
				"\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":"
				"[{\"index\":0,\"delta\":{\"content\":\"word%d \"},\"finish_reason\":null}]}\n\n", i);
		else
			n += (size_t)snprintf(s + n, cap - n, "data: {\"id\":\"chatcmpl-1\",\"object\":"
				"\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[],"
				"\"usage\":{\"prompt_tokens\":25,\"completion_tokens\":198,\"total_tokens\":223}}\n\n"
				"data: [DONE]\n\n");
	}
	ev[nev] = n;
	*len = n;
	return s;
}

static void stream(long n)
{
	size_t ev[201], len;
	char *s = make_stream(&len, ev, 200);
	lr_usage u;
	long i;
	int k;

	for (i = 0; i < n; i++) {
		lr_usage_init(&u, LR_FMT_OPENAI, 1, 1024);
		for (k = 0; k < 200; k++)
			lr_usage_feed(&u, s + ev[k], ev[k + 1] - ev[k]);
		lr_usage_finish(&u);
		if (u.input_tokens != 25 || u.output_tokens != 198 || strcmp(u.model, "gpt-4o-mini-2024-07-18"))
			fail("stream usage");
		lr_usage_free(&u);
	}
	free(s);
}

/* As tests/bench/bench.c: ~500-byte user messages with escapes, "model"
 * after "messages". */
static char *make_body(size_t size)
{
	static const char head[] = "{\"messages\":[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"}";
	static const char open[] = ",{\"role\":\"user\",\"content\":\"";
	static const char text[] = "Summarize the \\\"quarterly\\\" report, line by line.\\n ";
	static const char tail[] = "\"}],\"model\":\"gpt-4o\",\"temperature\":0.2,\"max_tokens\":512,\"stream\":false}";
	char *b = malloc(size + 1);
	size_t n = 0;
	int k;

	if (!b)
		fail("malloc");
	memcpy(b, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	while (n + 600 + sizeof(tail) < size) {
		memcpy(b + n, open, sizeof(open) - 1);
		n += sizeof(open) - 1;
		for (k = 0; k < 10; k++, n += sizeof(text) - 1)
			memcpy(b + n, text, sizeof(text) - 1);
		memcpy(b + n, "\"}", 2);
		n += 2;
	}
	memcpy(b + n, open, sizeof(open) - 1);
	n += sizeof(open) - 1;
	while (n + sizeof(tail) - 1 < size)
		b[n++] = 'a';
	memcpy(b + n, tail, sizeof(tail));
	return b;
}

static void body(long n)
{
	const size_t size = 1u << 20;
	char *b = make_body(size), *out;
	lr_table *t = routes_table(1);
	lr_request r;
	lr_decision d;
	size_t olen;
	long i;

	for (i = 0; i < n; i++) {
		if (lr_request_init_as(&r, LLM_URL, strlen(LLM_URL), b, size, "bench", 0) < 0)
			fail("request");
		lr_decide(t, &r.f, &d);
		if (d.index != 0 || lr_request_streams(&r, b, size) != 0)
			fail("decision or stream");
		out = NULL;
		if (lr_request_set_model(&r, b, size, "gpt-4o-mini", &out, &olen) <= 0 || olen != size + 5)
			fail("rewrite");
		free(out);
	}
	free(t);
	free(b);
}

static void usage(long n)
{
	static const char answer[] =
		"{\"id\":\"chatcmpl1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini-2024-07-18\","
		"\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
		"\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":256,\"completion_tokens\":200,"
		"\"total_tokens\":456}}";
	lr_usage u;
	long i;

	for (i = 0; i < n; i++) {
		lr_usage_init(&u, LR_FMT_OPENAI, 0, 1024);
		lr_usage_feed(&u, answer, sizeof(answer) - 1);
		lr_usage_finish(&u);
		if (u.input_tokens != 256 || u.output_tokens != 200)
			fail("usage");
		lr_usage_free(&u);
	}
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 1;
	const char *p = argc > 1 ? argv[1] : "";

	if (!strcmp(p, "decide1"))
		decide(1, n);
	else if (!strcmp(p, "decide10k"))
		decide(10000, n);
	else if (!strcmp(p, "stream200"))
		stream(n);
	else if (!strcmp(p, "body1m"))
		body(n);
	else if (!strcmp(p, "usage242"))
		usage(n);
	else
		fail("usage: bench_instr decide1|decide10k|stream200|body1m|usage242 N");
	return 0;
}
