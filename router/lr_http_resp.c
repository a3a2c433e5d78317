/*
 * lr_http_resp.c - incremental HTTP/1.x response framing (see the header).
 *
 * States: the status line, header lines, then the body by its framing:
 * a Content-Length count, chunks (size line, data, CRLF; trailers after
 * the last), or everything until the connection ends.  Lines are gathered
 * one at a time in r->line; body bytes are passed to the callback straight
 * from the caller's buffer.
 */
#include "lr_http_resp.h"
#include "lr_error.h"

#include <string.h>
#include <strings.h>

enum { ST_STATUS, ST_HEADER, ST_BODY, ST_CLOSE, ST_CK_SIZE, ST_CK_DATA, ST_CK_CRLF, ST_CK_TRAILER };

void lr_http_resp_init(lr_http_resp *r)
{
	memset(r, 0, sizeof(*r) - sizeof(r->line));
	r->st = ST_STATUS;
}

int lr_http_resp_idle(const lr_http_resp *r)
{
	return r->st == ST_STATUS && r->len == 0 && !r->stopped;
}

static int stop(lr_http_resp *r)
{
	r->stopped = 1;
	return LR_EPARSE;
}

/* Parses "HTTP/1.x NNN reason" (line without its end). */
static int status_line(lr_http_resp *r, const char *s, size_t n)
{
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ' ||
	    s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' ||
	    (n > 12 && s[12] != ' '))
		return LR_EPARSE;
	r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	r->interim = r->status < 200;
	r->chunked = 0;
	r->close_delimited = 1;
	r->left = 0;
	return 0;
}

static int is_name(const char *s, size_t n, const char *name)
{
	size_t k = strlen(name);

	return n == k && strncasecmp(s, name, k) == 0;
}

static int header_line(lr_http_resp *r, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n), *v, *e = s + n;
	uint64_t x = 0;

	if (!colon || colon == s)
		return LR_EPARSE;
	for (v = colon + 1; v < e && (*v == ' ' || *v == '\t'); v++)
		;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (is_name(s, (size_t)(colon - s), "content-length")) {
		if (v == e)
			return LR_EPARSE;
		for (; v < e; v++) {
			if (*v < '0' || *v > '9' || x > (UINT64_MAX - 9) / 10)
				return LR_EPARSE;
			x = x * 10 + (uint64_t)(*v - '0');
		}
		if (!r->chunked) {
			r->left = x;
			r->close_delimited = 0;
		}
	} else if (is_name(s, (size_t)(colon - s), "transfer-encoding")) {
		/* chunked must be the last coding; anything else reads to close */
		size_t vl = (size_t)(e - v);
		r->chunked = vl >= 7 && strncasecmp(e - 7, "chunked", 7) == 0;
		r->close_delimited = !r->chunked;
	}
	return 0;
}

/* The head is complete: decide how the body is framed. */
static int head_done(lr_http_resp *r, lr_http_resp_cb cb, void *ud)
{
	int body;

	if (r->interim) { /* 100 Continue and friends: the real answer follows */
		r->st = ST_STATUS;
		return 0;
	}
	body = cb(ud, LR_HTTP_RESP_HEAD, r->status, NULL, 0);
	if (!body || r->status == 204 || r->status == 304 || (!r->chunked && !r->close_delimited && r->left == 0)) {
		cb(ud, LR_HTTP_RESP_DONE, r->status, NULL, 0);
		r->st = ST_STATUS;
	} else if (r->chunked) {
		r->st = ST_CK_SIZE;
	} else {
		r->st = r->close_delimited ? ST_CLOSE : ST_BODY;
	}
	return 0;
}

static int chunk_size(lr_http_resp *r, const char *s, size_t n)
{
	uint64_t x = 0;
	size_t i;
	int d;

	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			break;
		if (x > (UINT64_MAX >> 4))
			return LR_EPARSE;
		x = (x << 4) | (uint64_t)d;
	}
	if (i == 0 || (i < n && s[i] != ';' && s[i] != ' ' && s[i] != '\t'))
		return LR_EPARSE;
	r->left = x;
	r->st = x ? ST_CK_DATA : ST_CK_TRAILER;
	return 0;
}

/* One complete line (without its end) in a line state. */
static int on_line(lr_http_resp *r, const char *s, size_t n, lr_http_resp_cb cb, void *ud)
{
	switch (r->st) {
	case ST_STATUS:
		if (n == 0) /* tolerate empty lines between responses */
			return 0;
		if (status_line(r, s, n) < 0)
			return LR_EPARSE;
		r->st = ST_HEADER;
		return 0;
	case ST_HEADER:
		return n == 0 ? head_done(r, cb, ud) : header_line(r, s, n);
	case ST_CK_SIZE:
		return chunk_size(r, s, n);
	case ST_CK_CRLF:
		if (n != 0)
			return LR_EPARSE;
		r->st = ST_CK_SIZE;
		return 0;
	case ST_CK_TRAILER:
		if (n == 0) {
			cb(ud, LR_HTTP_RESP_DONE, r->status, NULL, 0);
			r->st = ST_STATUS;
		}
		return 0;
	}
	return LR_EPARSE;
}

/* Gathers a line; returns bytes consumed (the line end included when the
 * line completed). */
static int line_bytes(lr_http_resp *r, const char *p, size_t n, lr_http_resp_cb cb, void *ud,
		      size_t *used)
{
	const char *nl = memchr(p, '\n', n);
	size_t take = nl ? (size_t)(nl - p) : n;

	if (r->len + take > sizeof(r->line))
		return LR_EPARSE;
	memcpy(r->line + r->len, p, take);
	r->len += take;
	*used = take;
	if (!nl)
		return 0;
	*used = take + 1;
	take = r->len;
	r->len = 0;
	if (take && r->line[take - 1] == '\r')
		take--;
	return on_line(r, r->line, take, cb, ud);
}

int lr_http_resp_feed(lr_http_resp *r, const char *p, size_t n, lr_http_resp_cb cb, void *ud)
{
	size_t used, k;

	if (r->stopped)
		return LR_EPARSE;
	while (n) {
		if (r->st == ST_CLOSE) {
			cb(ud, LR_HTTP_RESP_BODY, r->status, p, n);
			return 0;
		}
		if (r->st == ST_BODY || r->st == ST_CK_DATA) {
			k = r->left < n ? (size_t)r->left : n;
			cb(ud, LR_HTTP_RESP_BODY, r->status, p, k);
			r->left -= k;
			p += k;
			n -= k;
			if (r->left == 0 && r->st == ST_CK_DATA) {
				r->st = ST_CK_CRLF;
			} else if (r->left == 0) {
				cb(ud, LR_HTTP_RESP_DONE, r->status, NULL, 0);
				r->st = ST_STATUS;
			}
			continue;
		}
		if (line_bytes(r, p, n, cb, ud, &used) < 0)
			return stop(r);
		p += used;
		n -= used;
	}
	return 0;
}

int lr_http_resp_eof(lr_http_resp *r, lr_http_resp_cb cb, void *ud)
{
	if (r->stopped)
		return 1;
	if (r->st == ST_CLOSE) {
		cb(ud, LR_HTTP_RESP_DONE, r->status, NULL, 0);
		r->st = ST_STATUS;
		return 0;
	}
	return !lr_http_resp_idle(r);
}
