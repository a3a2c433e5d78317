/*
 * fuzz_xsink.c - libFuzzer target for the served path's answer
 * translator (shim/lr_xsink.c): arbitrary upstream answers fed to the
 * sink as the shim's own client does (head, body in slices, done), in
 * front of a recording inner sink that stands for the served request.
 * Byte 0 picks the app and target formats, byte 1 the status, whether the
 * app asked for a stream and how the transfer ended, byte 2 the slice
 * size and byte 3 how many of the following bytes are the head lines; the
 * rest is the body.  Invariants: nothing crashes or leaks; the inner sink
 * gets at most one head, before any body, with exactly one Content-Type
 * and no framing header of the target's, then exactly one done; a whole
 * answer that completed reaches it as one JSON value with a status of
 * 100..599; an answer cut before its end gives it no head and a failure;
 * the bytes it gets do not depend on where the body was sliced.
 * Byte 2's top bits add a redaction map (the restore after the
 * translation) and make the sink an identity one (the restore alone: the
 * head keeps the target's Content-Type lines, a held answer is any bytes,
 * its placeholders restored).
 */
#include "lr_attempt.h"
#include "lr_json.h"
#include "lr_xlate.h"
#include "lr_xsink.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const int fmts[] = {LR_XF_OPENAI, LR_XF_AZURE, LR_XF_RESPONSES, LR_XF_ANTHROPIC,
	LR_XF_GEMINI, LR_XF_OLLAMA};
static const long statuses[] = {200, 201, 204, 400, 401, 404, 408, 413, 429, 500, 503, 529};
static const int fails[] = {LR_OUT_OK, LR_OUT_OK, LR_OUT_HTTP_ERROR, LR_OUT_TRANSPORT};

typedef struct {
	int heads, dones, body_before_head;
	long status, done_status;
	int done_fail;
	lr_xbuf out;   /* head lines, then body bytes, as the served request got them */
	size_t head_end;
} rec;

static int add(lr_xbuf *b, const char *p, size_t n)
{
	char *q;

	if (b->len + n + 1 > b->cap) {
		if (!(q = realloc(b->p, b->len + n + 1)))
			return -1;
		b->p = q;
		b->cap = b->len + n + 1;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static int in_head(void *ud, long status, const char *lines, size_t n)
{
	rec *r = ud;

	r->heads++;
	r->status = status;
	if (add(&r->out, lines, n) < 0)
		__builtin_trap();
	r->head_end = r->out.len;
	return 0;
}

static int in_body(void *ud, const char *p, size_t n)
{
	rec *r = ud;

	if (!r->heads)
		r->body_before_head = 1;
	return add(&r->out, p, n) < 0 ? -1 : 0;
}

static void in_done(void *ud, const lr_up_result *res)
{
	rec *r = ud;

	r->dones++;
	r->done_status = res->status;
	r->done_fail = res->fail;
}

static const lr_up_sink inner = {in_head, in_body, NULL, in_done};

/* Lines named `name` in the head the app gets. */
static int count_lines(const char *p, size_t n, const char *name)
{
	size_t i = 0, k = strlen(name);
	int c = 0;

	while (i < n) {
		if (n - i >= k && strncasecmp(p + i, name, k) == 0)
			c++;
		while (i < n && p[i] != '\n')
			i++;
		i++;
	}
	return c;
}

static void run(const lr_xsink_cfg *cfg, long status, int fail, const uint8_t *head, size_t hn,
		const uint8_t *body, size_t bn, size_t step, rec *r)
{
	void *x = lr_xsink_new(cfg, &inner, r);
	lr_up_result res;
	size_t i = 0, k;
	int stopped = 0;

	if (!x)
		__builtin_trap();
	memset(r, 0, sizeof(*r));
	memset(&res, 0, sizeof(res));
	if (lr_xsink.head(x, status, (const char *)head, hn) < 0)
		stopped = 1;
	while (!stopped && i < bn) { /* the client stops feeding at the first -1 */
		k = bn - i < step ? bn - i : step;
		stopped = lr_xsink.body(x, (const char *)body + i, k) < 0;
		i += k;
	}
	res.fail = stopped ? LR_OUT_ABORTED : fail;
	res.status = status;
	lr_xsink.done(x, &res); /* frees x */
}

static void check(const rec *r, int cut, int held_whole, int identity)
{
	const char *h = r->out.p;

	if (r->dones != 1 || r->heads > 1 || r->body_before_head)
		__builtin_trap();
	if (r->heads && ((!identity && count_lines(h, r->head_end, "content-type:") != 1) ||
			 count_lines(h, r->head_end, "content-length:") ||
			 count_lines(h, r->head_end, "transfer-encoding:")))
		__builtin_trap();
	if (cut && r->heads)
		__builtin_trap();
	if (held_whole && !identity) {
		size_t pos = 0;
		const char *b = r->out.p + r->head_end;
		size_t bn = r->out.len - r->head_end;

		if (r->heads != 1 || r->status < 100 || r->status > 599 || r->done_status != r->status ||
		    lr_json_skip_value(b, bn, &pos) < 0 || lr_json_skip_ws(b, bn, pos) != (int)bn)
			__builtin_trap();
	}
}

/* Two placeholders to put back ("[EMAIL_1]", "[PHONE_1]"). */
static int map_of(lr_redact_map *m)
{
	static const char *const ph[] = {"[EMAIL_1]", "[PHONE_1]"}, *const val[] = {"a@b.co", "+44 20 7946 0958"};
	int i;

	memset(m, 0, sizeof(*m));
	if (!(m->e = calloc(2, sizeof(*m->e))))
		return -1;
	for (i = 0; i < 2; i++, m->n++) {
		snprintf(m->e[i].ph, sizeof(m->e[i].ph), "%s", ph[i]);
		m->e[i].phlen = strlen(ph[i]);
		m->e[i].len = strlen(val[i]);
		if (!(m->e[i].val = strdup(val[i]))) {
			lr_redact_free(m);
			return -1;
		}
		m->e[i].kind = i ? LR_GK_PHONE : LR_GK_EMAIL;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	lr_xsink_cfg cfg;
	rec a, b;
	long status;
	int stream, fail, hold;
	size_t hn;

	if (n < 4)
		return 0;
	memset(&cfg, 0, sizeof(cfg));
	if ((d[2] & 0x80) && map_of(&cfg.rm) < 0)
		return 0;
	cfg.identity = (d[2] & 0x40) != 0;
	cfg.app_fmt = fmts[(d[0] / 6) % 6];
	strcpy(cfg.model, "m-t");
	cfg.cx = (lr_xlate_ctx){fmts[d[0] % 6], fmts[(d[0] / 6) % 6], d[1] >> 7, 1700000000,
				fmts[d[0] % 6] == LR_XF_GEMINI && (d[0] & 0x80), NULL};
	status = statuses[(d[1] & 0x0f) % 12];
	stream = (d[1] >> 4) & 1;
	fail = fails[(d[1] >> 5) & 3];
	cfg.stream = stream;
	hn = d[3] < n - 4 ? d[3] : n - 4;
	hold = !(stream && status >= 200 && status <= 299);
	if (!cfg.identity)
		cfg.app_fmt = cfg.cx.app;
	run(&cfg, status, fail, d + 4, hn, d + 4 + hn, n - 4 - hn, n, &a);
	run(&cfg, status, fail, d + 4, hn, d + 4 + hn, n - 4 - hn, 1 + (d[2] & 0x3f), &b);
	lr_redact_free(&cfg.rm);
	if (a.out.len != b.out.len || (a.out.len && memcmp(a.out.p, b.out.p, a.out.len)) ||
	    a.heads != b.heads || a.status != b.status || a.done_fail != b.done_fail)
		__builtin_trap();
	/* held: cut (any failure) gives no head; completed, one JSON value */
	check(&a, hold && a.done_fail != LR_OUT_OK, hold && a.done_fail == LR_OUT_OK, cfg.identity);
	lr_xbuf_free(&a.out);
	lr_xbuf_free(&b.out);
	return 0;
}
