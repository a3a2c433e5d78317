/*
 * lr_redact_stream.c - placeholders put back in a streamed answer (see the
 * header).  Events are cut at their separator (a blank line for SSE, a
 * newline for NDJSON) and handled whole; the text delta is found as raw
 * bytes by its key, so an event is rewritten only where its text is.
 */
#include "lr_redact_stream.h"
#include "lr_error.h"
#include "lr_xlate_int.h"

#include <stdlib.h>
#include <string.h>

#define HOLD_MAX 32 /* longer than any placeholder ("[NATIONAL_ID_128]") */

struct lr_redact_stream {
	const lr_redact_map *m;
	int fmt;
	int raw;          /* an event too long to hold: the rest passes as it comes */
	lr_xbuf ev;       /* the event being received */
	lr_xbuf tpl;      /* the last text event, its text cut out at tpl_at */
	size_t tpl_at;
	char held[HOLD_MAX];
	size_t hlen;
};

lr_redact_stream *lr_redact_stream_new(const lr_redact_map *m, int fmt)
{
	lr_redact_stream *s;

	if (fmt <= LR_XF_NONE || fmt >= LR_XF_COUNT || !(s = calloc(1, sizeof(*s))))
		return NULL;
	s->m = m;
	s->fmt = fmt;
	return s;
}

void lr_redact_stream_free(lr_redact_stream *s)
{
	if (!s)
		return;
	lr_xbuf_free(&s->ev);
	lr_xbuf_free(&s->tpl);
	free(s);
}

/* The raw content of the string value of key ("\"text\"") in p[0..n): 1
 * with *off, *len, or 0.  A raw `"key":` cannot sit inside a string value
 * (its quotes would be escaped). */
static int string_of(const char *p, size_t n, const char *key, size_t *off, size_t *len)
{
	size_t kl = strlen(key), i = 0, j;
	const char *k;

	while (i < n && (k = memmem(p + i, n - i, key, kl))) {
		j = (size_t)(k - p) + kl;
		i = j;
		while (j < n && (p[j] == ' ' || p[j] == ':'))
			j++;
		if (j >= n || p[j] != '"' || p[j - 1] == '"')
			continue;
		*off = ++j;
		while (j < n && p[j] != '"')
			j += p[j] == '\\' ? 2 : 1;
		if (j >= n)
			return 0;
		*len = j - *off;
		return 1;
	}
	return 0;
}

/* Where an event's text delta is, by format: 1 with *off, *len, or 0 (no
 * text delta: a start, a finish, a usage, a tool call). */
static int text_of(int fmt, const char *p, size_t n, size_t *off, size_t *len)
{
	switch (fmt) {
	case LR_XF_OPENAI:
	case LR_XF_AZURE:
		return string_of(p, n, "\"content\"", off, len);
	case LR_XF_RESPONSES:
		return memmem(p, n, "\"response.output_text.delta\"", 28) && string_of(p, n, "\"delta\"", off, len);
	case LR_XF_ANTHROPIC:
		return memmem(p, n, "\"text_delta\"", 12) && string_of(p, n, "\"text\"", off, len);
	case LR_XF_GEMINI:
		return string_of(p, n, "\"text\"", off, len);
	case LR_XF_OLLAMA:
		return string_of(p, n, "\"content\"", off, len) || string_of(p, n, "\"response\"", off, len);
	default:
		return 0;
	}
}

/* Where the tail of t[0..n) that could still become a placeholder starts
 * (a proper prefix of one in the map), or n. */
static size_t hold_from(const lr_redact_map *m, const char *t, size_t n)
{
	size_t k = n > HOLD_MAX - 1 ? n - (HOLD_MAX - 1) : 0, e;

	for (; k < n; k++) {
		if (t[k] != '[')
			continue;
		for (e = 0; e < m->n; e++)
			if (n - k < m->e[e].phlen && memcmp(m->e[e].ph, t + k, n - k) == 0)
				return k;
	}
	return n;
}

/* p[0..n) to out with the placeholders in it replaced. */
static int put_restored(const lr_redact_stream *s, const char *p, size_t n, lr_xbuf *out)
{
	char *o;
	size_t on;
	int rc;

	if (!memchr(p, '[', n))
		return xbuf_put(out, p, n);
	if ((rc = lr_redact_restore(s->m, p, n, &o, &on)) < 0)
		return rc;
	if (rc == 0)
		return xbuf_put(out, p, n);
	rc = xbuf_put(out, o, on);
	free(o);
	return rc;
}

/* The held text out, in a copy of the last text event. */
static int flush_held(lr_redact_stream *s, lr_xbuf *out)
{
	int rc = 0;

	if (!s->hlen)
		return 0;
	rc |= xbuf_put(out, s->tpl.p, s->tpl_at);
	rc |= put_restored(s, s->held, s->hlen, out);
	rc |= xbuf_put(out, s->tpl.p + s->tpl_at, s->tpl.len - s->tpl_at);
	s->hlen = 0;
	return rc < 0 ? LR_ENOMEM : 0;
}

/* A text event: held + its text, restored but for a tail held back. */
static int text_event(lr_redact_stream *s, const char *p, size_t n, size_t off, size_t len, lr_xbuf *out)
{
	lr_xbuf t = {0};
	size_t h;
	int rc = 0;

	if (xbuf_put(&t, s->held, s->hlen) < 0 || xbuf_put(&t, p + off, len) < 0) {
		lr_xbuf_free(&t);
		return LR_ENOMEM;
	}
	h = hold_from(s->m, t.p, t.len);
	s->tpl.len = 0;
	rc |= xbuf_put(&s->tpl, p, off);
	rc |= xbuf_put(&s->tpl, p + off + len, n - off - len);
	s->tpl_at = off;
	rc |= xbuf_put(out, p, off);
	rc |= put_restored(s, t.p, h, out);
	rc |= xbuf_put(out, p + off + len, n - off - len);
	memcpy(s->held, t.p + h, t.len - h);
	s->hlen = t.len - h;
	lr_xbuf_free(&t);
	return rc < 0 ? LR_ENOMEM : 0;
}

static int event(lr_redact_stream *s, const char *p, size_t n, lr_xbuf *out)
{
	size_t off, len;

	/* an empty text (Ollama's last line) ends the text: what is held goes first */
	if (text_of(s->fmt, p, n, &off, &len) && len)
		return text_event(s, p, n, off, len, out);
	if (flush_held(s, out) < 0)
		return LR_ENOMEM;
	return put_restored(s, p, n, out);
}

/* The end of the first whole event in p[0..n) (past its separator), or 0. */
static size_t event_end(int fmt, const char *p, size_t n)
{
	const char *q;
	size_t i = 0;

	if (fmt == LR_XF_OLLAMA)
		return (q = memchr(p, '\n', n)) ? (size_t)(q - p) + 1 : 0;
	while (i < n && (q = memchr(p + i, '\n', n - i))) {
		i = (size_t)(q - p) + 1;
		if (i < n && p[i] == '\n')
			return i + 1;
		if (i + 1 < n && p[i] == '\r' && p[i + 1] == '\n')
			return i + 2;
	}
	return 0;
}

int lr_redact_stream_feed(lr_redact_stream *s, const char *p, size_t n, lr_xbuf *out)
{
	size_t e, done = 0;
	int rc;

	if (s->raw)
		return xbuf_put(out, p, n);
	if (xbuf_put(&s->ev, p, n) < 0)
		return LR_ENOMEM;
	while ((e = event_end(s->fmt, s->ev.p + done, s->ev.len - done))) {
		if ((rc = event(s, s->ev.p + done, e, out)) < 0)
			return rc;
		done += e;
	}
	memmove(s->ev.p, s->ev.p + done, s->ev.len - done);
	s->ev.len -= done;
	if (s->ev.len > LR_XLATE_MAX_LINE) { /* no event this long: give up, pass it */
		s->raw = 1;
		rc = flush_held(s, out);
		return xbuf_put(out, s->ev.p, s->ev.len) < 0 || rc < 0 ? LR_ENOMEM : (s->ev.len = 0, 0);
	}
	return 0;
}

int lr_redact_stream_finish(lr_redact_stream *s, lr_xbuf *out)
{
	int rc = 0;

	if (s->ev.len && !s->raw)
		rc = event(s, s->ev.p, s->ev.len, out);
	s->ev.len = 0;
	if (rc == 0)
		rc = flush_held(s, out);
	return rc;
}

void lr_redact_stream_apply(lr_redact_stream **s, lr_xbuf *out, int fin)
{
	lr_xbuf o = {0};
	int rc;

	if (!*s)
		return;
	rc = lr_redact_stream_feed(*s, out->p ? out->p : "", out->len, &o);
	if (rc == 0 && fin)
		rc = lr_redact_stream_finish(*s, &o);
	if (rc < 0) {
		lr_xbuf_free(&o);
		lr_redact_stream_free(*s);
		*s = NULL;
		return;
	}
	lr_xbuf_free(out);
	*out = o;
}
