/*
 * lr_audit.c - audit records as JSON lines (see lr_audit.h).
 *
 * Formatting is a bounded append into the caller's buffer: no allocation,
 * so a record costs a few microseconds and cannot fail for lack of memory.
 */
#include "lr_audit.h"
#include "lr_error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
	char *p;
	size_t len, cap;
	int full;
} out;

static void put(out *o, const char *s, size_t n)
{
	if (o->full || n > o->cap - o->len) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void putf(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->full = 1;
	else
		o->len += (size_t)n;
}

/* A JSON string, or null.  Control bytes are escaped; anything else,
 * including UTF-8, is copied (names and models only, never text). */
static void put_str(out *o, const char *s)
{
	char esc[8];

	if (!s) {
		put(o, "null", 4);
		return;
	}
	put(o, "\"", 1);
	for (; *s && !o->full; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(o, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(o, esc, 6);
		} else {
			put(o, (const char *)&c, 1);
		}
	}
	put(o, "\"", 1);
}

static void key(out *o, const char *k)
{
	putf(o, ",\"%s\":", k);
}

static void put_int_or_null(out *o, long long v)
{
	if (v < 0)
		put(o, "null", 4);
	else
		putf(o, "%lld", v);
}

static void put_time(out *o, int64_t ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char ts[32];

	gmtime_r(&s, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	putf(o, "{\"time\":\"%s.%03dZ\"", ts, (int)(ms % 1000));
}

int lr_audit_format(const lr_audit_rec *r, char *buf, size_t cap)
{
	out o = {buf, 0, cap > 0 ? cap - 1 : 0, 0};

	put_time(&o, r->time_ms);
	key(&o, "gen_ai.provider.name"); put_str(&o, r->provider);
	key(&o, "gen_ai.operation.name"); put_str(&o, r->operation);
	key(&o, "gen_ai.request.model"); put_str(&o, r->request_model);
	key(&o, "gen_ai.response.model"); put_str(&o, r->response_model);
	key(&o, "gen_ai.usage.input_tokens"); put_int_or_null(&o, r->input_tokens);
	key(&o, "gen_ai.usage.output_tokens"); put_int_or_null(&o, r->output_tokens);
	key(&o, "server.address"); put_str(&o, r->server_address);
	key(&o, "server.port"); putf(&o, "%d", r->server_port);
	key(&o, "http.response.status_code"); put_int_or_null(&o, r->status > 0 ? r->status : -1);
	key(&o, "error.type"); put_str(&o, r->error_type);
	key(&o, "llmroute.rule"); put_str(&o, r->rule);
	key(&o, "llmroute.action"); put_str(&o, r->action);
	key(&o, "llmroute.original_model"); put_str(&o, r->original_model);
	key(&o, "llmroute.original_server"); put_str(&o, r->original_server);
	key(&o, "llmroute.transport"); put_str(&o, r->transport);
	key(&o, "llmroute.stream"); putf(&o, "%s", r->stream ? "true" : "false");
	key(&o, "llmroute.duration_ms"); putf(&o, "%.3f", r->duration_ms);
	key(&o, "llmroute.ttfb_ms");
	if (r->ttfb_ms < 0)
		put(&o, "null", 4);
	else
		putf(&o, "%.3f", r->ttfb_ms);
	key(&o, "llmroute.request_bytes"); putf(&o, "%lld", r->request_bytes);
	key(&o, "llmroute.response_bytes"); putf(&o, "%lld", r->response_bytes);
	key(&o, "llmroute.cost_usd");
	if (r->cost_usd < 0)
		put(&o, "null", 4);
	else
		putf(&o, "%.9g", r->cost_usd);
	key(&o, "llmroute.tokens_estimated"); putf(&o, "%s", r->tokens_estimated ? "true" : "false");
	key(&o, "llmroute.table_generation"); putf(&o, "%llu", r->generation);
	key(&o, "process.pid"); putf(&o, "%ld", r->pid);
	key(&o, "process.executable.name"); put_str(&o, r->process);
	put(&o, "}\n", 2);
	if (o.full)
		return LR_ETOOBIG;
	buf[o.len] = '\0';
	return (int)o.len;
}

int lr_audit_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

	return fd < 0 ? LR_EIO : fd;
}

int lr_audit_write(int fd, const char *line, size_t len)
{
	ssize_t n;

	do
		n = write(fd, line, len);
	while (n < 0 && errno == EINTR);
	/* A short write to a regular file means the disk filled up mid-line:
	 * the line is lost either way; say so. */
	return n == (ssize_t)len ? 0 : LR_EIO;
}
