/*
 * lr_http.c - HTTP/1.1 request framing, head parsing and rewriting (see
 * lr_http.h).
 *
 * The framer is a byte-stream state machine: F_HEAD copies bytes into the
 * buffer while a small scanner (hs) looks for the blank line; then one
 * body state (F_LENGTH counts down, F_CHUNKED runs the chunk decoder `ck`);
 * then F_START again, or F_TUNNEL.  The head is parsed only once it is
 * complete, by the same lr_http_parse_head callers use, so there is one
 * definition of a valid head.  The request line alone is checked as soon as
 * it is there (and the method as soon as its first byte is), so a TLS or
 * HTTP/2 connection is rejected on its first write.  The chunk decoder is
 * the same code that later de-chunks a held body, so framing and decoding
 * cannot disagree.  Invariants: buf[0..len) == stream[req.start, pos);
 * every span in req and head points into buf (re-derived after a realloc).
 */
#include "lr_http.h"
#include "lr_body.h"
#include "lr_error.h"
#include "lr_cred.h"
#include "lr_json.h"
#include "lr_plan.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_START, F_HEAD, F_LENGTH, F_CHUNKED, F_TUNNEL, F_ERR };
enum { H_LEAD, H_LEAD_CR, H_TEXT, H_NL, H_NL_CR };
enum {	/* order matters: size-line states first, then data, then trailer */
	C_SIZE, C_SIZE_WS, C_EXT, C_SIZE_LF,
	C_DATA, C_DATA_CR, C_DATA_LF,
	C_TRAILER, C_TRAILER_NAME, C_TRAILER_VALUE, C_TRAILER_LF, C_END_LF,
	C_DONE,
};

#define BUF_MIN 512
#define BUF_MAX (LR_HTTP_MAX_HEAD + LR_HTTP_MAX_BODY)

/* --- bytes ------------------------------------------------------------------ */

static int is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* request-target bytes: visible ASCII and (as servers accept) obs-text */
static int is_target(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

/* field-value bytes: VCHAR, obs-text, SP, HT; never CR, LF, NUL, DEL */
static int is_field(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* ASCII only: the host process may have set a locale where tolower('I') != 'i'. */
static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int span_ieq(lr_span v, const char *lit)
{
	size_t i;

	for (i = 0; i < v.len; i++)
		if (!lit[i] || lower((unsigned char)v.p[i]) != lower((unsigned char)lit[i]))
			return 0;
	return lit[i] == '\0';
}

static int all_bytes(lr_span v, int (*ok)(unsigned char))
{
	size_t i;

	for (i = 0; i < v.len; i++)
		if (!ok((unsigned char)v.p[i]))
			return 0;
	return 1;
}

/* --- head parser -------------------------------------------------------------- */

int lr_http_sniff(const char *p, size_t n)
{
	size_t i = 0, m = 0;

	while (i < n && (p[i] == '\r' || p[i] == '\n')) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] != '\n')
			return LR_EPARSE;
		i += p[i] == '\r' ? 2 : 1;
	}
	if (i >= n)
		return 0;
	while (i + m < n && m <= LR_HTTP_MAX_METHOD && is_tchar((unsigned char)p[i + m]))
		m++;
	if (m > LR_HTTP_MAX_METHOD)
		return LR_EPARSE;
	if (i + m == n)
		return 0;
	if (m == 0 || p[i + m] != ' ' || (m == 3 && memcmp(p + i, "PRI", 3) == 0))
		return LR_EPARSE;
	return 1;
}

/* The line starting at pos: returns the offset past its LF and sets *clen
 * to its length without the line end (LF or CRLF), or LR_ENOTFOUND.  A CR
 * anywhere else stays in the content, where every validator rejects it. */
static int next_line(const char *p, size_t lim, size_t pos, size_t *clen)
{
	const char *lf = pos < lim ? memchr(p + pos, '\n', lim - pos) : NULL;
	size_t e;

	if (!lf)
		return LR_ENOTFOUND;
	e = (size_t)(lf - p);
	*clen = e - pos - (e > pos && p[e - 1] == '\r');
	return (int)(e + 1);
}

/* method SP target SP HTTP/1.D; returns the line's length or an error. */
static int parse_request_line(const char *p, size_t lim, lr_http_head *h)
{
	size_t clen, i = 0, t;
	int end = next_line(p, lim, 0, &clen);

	if (end < 0)
		return end;
	while (i < clen && is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i > LR_HTTP_MAX_METHOD || i >= clen || p[i] != ' ' ||
	    (i == 3 && memcmp(p, "PRI", 3) == 0))
		return LR_EPARSE;
	h->method = (lr_span){ p, i };
	for (t = ++i; i < clen && is_target((unsigned char)p[i]); i++)
		;
	if (i == t || i >= clen || p[i] != ' ')
		return LR_EPARSE;
	h->target = (lr_span){ p + t, i - t };
	i++;
	if (clen - i != 8 || memcmp(p + i, "HTTP/1.", 7) != 0 ||
	    p[i + 7] < '0' || p[i + 7] > '9')
		return LR_EPARSE;
	h->minor = p[i + 7] - '0';
	h->line = (lr_span){ p, (size_t)end };
	return end;
}

/* name ":" OWS value OWS; no space before ':', no obs-fold (a leading SP). */
static int parse_field(const char *line, size_t clen, lr_http_header *hd)
{
	size_t i = 0, v, e;

	while (i < clen && is_tchar((unsigned char)line[i]))
		i++;
	if (i == 0 || i >= clen || line[i] != ':')
		return LR_EPARSE;
	hd->name = (lr_span){ line, i };
	for (v = i + 1; v < clen && is_ows((unsigned char)line[v]); v++)
		;
	for (e = clen; e > v && is_ows((unsigned char)line[e - 1]); e--)
		;
	hd->value = (lr_span){ line + v, e - v };
	return all_bytes(hd->value, is_field) ? 0 : LR_EPARSE;
}

int lr_http_parse_head(const char *p, size_t n, lr_http_head *h)
{
	size_t lim = n < LR_HTTP_MAX_HEAD ? n : LR_HTTP_MAX_HEAD, pos, clen;
	lr_http_header *hd;
	int end;

	if (!h || (!p && n))
		return LR_EINVAL;
	h->p = p;
	h->nheaders = 0;
	for (end = parse_request_line(p, lim, h); end >= 0;) {
		pos = (size_t)end;
		if ((end = next_line(p, lim, pos, &clen)) < 0)
			break;
		if (clen == 0) {
			h->len = (size_t)end;
			return end;
		}
		if (h->nheaders == LR_HTTP_MAX_HEADERS)
			return LR_ETOOBIG;
		hd = &h->headers[h->nheaders++];
		if (parse_field(p + pos, clen, hd) < 0)
			return LR_EPARSE;
		hd->line = (lr_span){ p + pos, (size_t)end - pos };
	}
	return end == LR_ENOTFOUND && lim == LR_HTTP_MAX_HEAD ? LR_ETOOBIG : end;
}

int lr_http_header_is(const lr_http_header *hd, const char *name)
{
	return hd && name && span_ieq(hd->name, name);
}

int lr_http_header_find(const lr_http_head *h, const char *name, size_t from)
{
	size_t i;

	for (i = from; h && i < h->nheaders; i++)
		if (lr_http_header_is(&h->headers[i], name))
			return (int)i;
	return LR_ENOTFOUND;
}

/* --- framing semantics ------------------------------------------------------- */

/* 1*DIGIT, at most INT64_MAX: no sign, no list, no spaces inside. */
static int parse_length(lr_span v, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (v.len == 0)
		return LR_EPARSE;
	for (i = 0; i < v.len; i++) {
		unsigned d = (unsigned)((unsigned char)v.p[i] - '0');
		if (d > 9 || x > ((uint64_t)INT64_MAX - d) / 10)
			return LR_EPARSE;
		x = x * 10 + d;
	}
	*out = x;
	return 0;
}

/*
 * Fills the head-derived fields of r.  Anything a server might frame
 * differently from us is LR_EPARSE: two Hosts (route by one, served by the
 * other), two Content-Lengths even if equal, a Transfer-Encoding other than
 * exactly "chunked" (a "gzip, chunked" body de-chunked and re-sent without
 * it would be misread), both framings at once, or chunked on HTTP/1.0.
 */
static int head_framing(const lr_http_head *h, lr_http_req *r)
{
	int nhost = 0, ncl = 0, nte = 0;
	size_t i;

	r->host = (lr_span){ NULL, 0 };
	r->content_length = 0;
	r->expect_continue = 0;
	r->tunnel = h->method.len == 7 && memcmp(h->method.p, "CONNECT", 7) == 0;
	for (i = 0; i < h->nheaders; i++) {
		const lr_http_header *hd = &h->headers[i];
		if (lr_http_header_is(hd, "host")) {
			if (nhost++)
				return LR_EPARSE;
			r->host = hd->value;
		} else if (lr_http_header_is(hd, "content-length")) {
			if (ncl++ || parse_length(hd->value, &r->content_length) < 0)
				return LR_EPARSE;
		} else if (lr_http_header_is(hd, "transfer-encoding")) {
			if (nte++ || !span_ieq(hd->value, "chunked"))
				return LR_EPARSE;
		} else if (lr_http_header_is(hd, "expect")) {
			r->expect_continue |= span_ieq(hd->value, "100-continue");
		} else if (lr_http_header_is(hd, "upgrade")) {
			r->tunnel = 1;
		}
	}
	if (nte && (ncl || h->minor == 0))
		return LR_EPARSE;
	r->body = nte ? LR_HTTP_BODY_CHUNKED : ncl ? LR_HTTP_BODY_LENGTH : LR_HTTP_BODY_NONE;
	r->minor = h->minor;
	r->method = h->method;
	r->target = h->target;
	return 0;
}

/* --- chunked decoder ---------------------------------------------------------- */

static void chunk_next(struct lr_http_chunk *c)
{
	c->st = C_SIZE;
	c->digits = 0;
	c->size = 0;
	c->line = 0;
}

static int hexval(unsigned char b)
{
	if (b >= '0' && b <= '9')
		return b - '0';
	b = lower(b);
	return b >= 'a' && b <= 'f' ? b - 'a' + 10 : -1;
}

static int size_line_end(struct lr_http_chunk *c)
{
	c->st = c->size ? C_DATA : C_TRAILER;
	return 0;
}

/* chunk-size [BWS ";" ext] CRLF: digits first, then the rest of the line. */
static int size_byte(struct lr_http_chunk *c, unsigned char b)
{
	int d = hexval(b);

	if (d >= 0) {
		if (c->size > (uint64_t)INT64_MAX >> 4)
			return LR_EPARSE;
		c->size = c->size << 4 | (uint64_t)d;
		c->digits++;
		return 0;
	}
	if (!c->digits)
		return LR_EPARSE;
	if (is_ows(b))
		c->st = C_SIZE_WS;
	else if (b == ';')
		c->st = C_EXT;
	else if (b == '\r')
		c->st = C_SIZE_LF;
	else if (b == '\n')
		return size_line_end(c);
	else
		return LR_EPARSE;
	return 0;
}

/* One byte of the size line (after the digits). */
static int size_rest_byte(struct lr_http_chunk *c, unsigned char b)
{
	switch (c->st) {
	case C_SIZE_WS:
		if (b == ';')
			c->st = C_EXT;
		return is_ows(b) || b == ';' ? 0 : LR_EPARSE;
	case C_EXT:
		if (b == '\r')
			c->st = C_SIZE_LF;
		else if (b == '\n')
			return size_line_end(c);
		return b == '\r' || is_field(b) ? 0 : LR_EPARSE;
	default: /* C_SIZE_LF */
		return b == '\n' ? size_line_end(c) : LR_EPARSE;
	}
}

/* CRLF after data, then trailer fields (name ":" value) up to a blank line. */
static int tail_byte(struct lr_http_chunk *c, unsigned char b)
{
	switch (c->st) {
	case C_DATA_CR:
		if (b == '\n')
			chunk_next(c);
		else if (b == '\r')
			c->st = C_DATA_LF;
		return b == '\n' || b == '\r' ? 0 : LR_EPARSE;
	case C_DATA_LF:
	case C_TRAILER_LF:
	case C_END_LF:
		if (b != '\n')
			return LR_EPARSE;
		if (c->st == C_DATA_LF)
			chunk_next(c);
		else
			c->st = c->st == C_END_LF ? C_DONE : C_TRAILER;
		return 0;
	case C_TRAILER:
		c->st = b == '\r' ? C_END_LF : b == '\n' ? C_DONE : C_TRAILER_NAME;
		return b == '\r' || b == '\n' || is_tchar(b) ? 0 : LR_EPARSE;
	case C_TRAILER_NAME:
		if (b == ':')
			c->st = C_TRAILER_VALUE;
		return b == ':' || is_tchar(b) ? 0 : LR_EPARSE;
	default: /* C_TRAILER_VALUE */
		if (b == '\r' || b == '\n')
			c->st = b == '\r' ? C_TRAILER_LF : C_TRAILER;
		return b == '\r' || b == '\n' || is_field(b) ? 0 : LR_EPARSE;
	}
}

static int chunk_byte(struct lr_http_chunk *c, unsigned char b)
{
	if (c->st <= C_SIZE_LF && ++c->line > LR_HTTP_MAX_CHUNK_LINE)
		return LR_ETOOBIG;
	if (c->st >= C_TRAILER && ++c->trailer > LR_HTTP_MAX_HEAD)
		return LR_ETOOBIG;
	if (c->st == C_SIZE)
		return size_byte(c, b);
	if (c->st <= C_SIZE_LF)
		return size_rest_byte(c, b);
	return tail_byte(c, b);
}

/*
 * Advances the decoder over p[0..n), n <= INT_MAX.  Returns the bytes
 * consumed: a run of chunk data (then *data is that count) or a run of
 * framing bytes (*data = 0), at least 1 if n >= 1 and the body is not done;
 * or LR_EPARSE / LR_ETOOBIG.
 */
static int chunk_step(struct lr_http_chunk *c, const char *p, size_t n, size_t *data)
{
	size_t i;
	int rc;

	*data = 0;
	if (c->st == C_DATA) {
		i = n < c->size ? n : (size_t)c->size;
		c->size -= i;
		if (!c->size)
			c->st = C_DATA_CR;
		*data = i;
		return (int)i;
	}
	for (i = 0; i < n && c->st != C_DATA && c->st != C_DONE; i++)
		if ((rc = chunk_byte(c, (unsigned char)p[i])) < 0)
			return rc;
	return (int)i;
}

/* --- framer: buffer ---------------------------------------------------------- */

void lr_http_framer_init(lr_http_framer *f)
{
	memset(f, 0, sizeof(*f));
	f->st = F_START;
}

void lr_http_framer_free(lr_http_framer *f)
{
	if (!f)
		return;
	free(f->buf);
	free(f->dechunked);
	lr_http_framer_init(f);
}

/* The stop reason for a failure past the request line. */
static int stop_for(int err)
{
	return err == LR_ETOOBIG ? LR_HTTP_STOP_TOOBIG :
	       err == LR_ENOMEM ? LR_HTTP_STOP_NOMEM : LR_HTTP_STOP_MALFORMED;
}

static int fail(lr_http_framer *f, int err, int stop)
{
	f->err = err;
	f->stop = stop;
	f->st = F_ERR;
	return err;
}

/* After the buffer moved: the head parsed before parses again, the same
 * (an error cannot happen, but a guest in a host process does not abort). */
static int rebase(lr_http_framer *f)
{
	size_t hn = f->head.len;

	if (f->st == F_HEAD || f->st == F_START)
		return 0; /* no head yet: no spans to move */
	if (lr_http_parse_head(f->buf + f->head_off, hn, &f->head) != (int)hn ||
	    head_framing(&f->head, &f->req) < 0)
		return LR_EPARSE;
	return 0;
}

static int reserve(lr_http_framer *f, size_t need)
{
	size_t cap = f->cap ? f->cap : BUF_MIN;
	char *nb;

	if (need <= f->cap)
		return 0;
	if (need > BUF_MAX)
		return LR_ETOOBIG;
	while (cap < need)
		cap = cap > BUF_MAX / 2 ? BUF_MAX : cap * 2;
	if (!(nb = realloc(f->buf, cap)))
		return LR_ENOMEM;
	f->buf = nb;
	f->cap = cap;
	return rebase(f);
}

static int append(lr_http_framer *f, const char *p, size_t n)
{
	int rc = reserve(f, f->len + n);

	if (rc == 0 && n) {
		memcpy(f->buf + f->len, p, n);
		f->len += n;
	}
	return rc;
}

/* --- framer: head ------------------------------------------------------------ */

static void start_request(lr_http_framer *f)
{
	if (f->cap > LR_HTTP_MAX_HEAD) { /* a held body: give the memory back */
		free(f->buf);
		f->buf = NULL;
		f->cap = 0;
	}
	free(f->dechunked);
	f->dechunked = NULL;
	f->len = f->head_off = f->rl_end = 0;
	f->hs = H_LEAD;
	f->rl_ok = 0;
	f->head.nheaders = 0;
	f->head.len = 0;
	memset(&f->req, 0, sizeof(f->req));
	f->req.start = f->req.head_start = f->pos;
	f->st = F_HEAD;
}

/* Scans p[0..n) for the blank line ending the head; empty lines before the
 * request line are skipped.  Returns the bytes that belong to the head (all
 * of them unless *end is set) or LR_EPARSE (a lone CR before the head). */
static int head_scan(lr_http_framer *f, const char *p, size_t n, int *end)
{
	size_t i = 0;
	const char *q;

	while (i < n) {
		unsigned char c = (unsigned char)p[i];
		switch (f->hs) {
		case H_LEAD:
			if (c != '\r' && c != '\n') {
				f->head_off = f->len + i;
				f->hs = H_TEXT;
				continue;
			}
			f->hs = c == '\r' ? H_LEAD_CR : H_LEAD;
			break;
		case H_LEAD_CR:
			if (c != '\n')
				return LR_EPARSE;
			f->hs = H_LEAD;
			break;
		case H_TEXT:
			if (!(q = memchr(p + i, '\n', n - i)))
				return (int)n;
			i = (size_t)(q - p);
			f->hs = H_NL;
			if (!f->rl_end)
				f->rl_end = f->len + i + 1;
			break;
		default: /* H_NL, H_NL_CR: at the start of a line */
			if (c == '\n') {
				*end = 1;
				return (int)(i + 1);
			}
			f->hs = c == '\r' && f->hs == H_NL ? H_NL_CR : H_TEXT;
			if (f->hs == H_TEXT)
				continue;
		}
		i++;
	}
	return (int)n;
}

/* The method as soon as it is there, the request line as soon as it ends:
 * a connection that is not HTTP/1 is given up on its first write. */
static int check_request_line(lr_http_framer *f)
{
	const char *rl = f->buf + f->head_off;

	if (f->rl_ok || f->hs == H_LEAD || f->hs == H_LEAD_CR)
		return 0;
	if (!f->rl_end)
		return lr_http_sniff(rl, f->len - f->head_off) < 0 ?
			fail(f, LR_EPARSE, LR_HTTP_STOP_NOT_HTTP1) : 0;
	if (parse_request_line(rl, f->rl_end - f->head_off, &f->head) < 0)
		return fail(f, LR_EPARSE, LR_HTTP_STOP_NOT_HTTP1);
	f->rl_ok = 1;
	return 0;
}

static void request_done(lr_http_framer *f, size_t used)
{
	f->req.done = 1;
	f->req.end = f->pos + used;
	f->ev |= LR_HTTP_EV_DONE;
	f->st = f->req.tunnel ? F_TUNNEL : F_START;
}

static int head_done(lr_http_framer *f, size_t used)
{
	size_t hn = f->len - f->head_off;
	int rc = lr_http_parse_head(f->buf + f->head_off, hn, &f->head);

	if (rc >= 0 && (size_t)rc != hn)
		rc = LR_EPARSE; /* cannot happen: the scan found the same blank line */
	if (rc >= 0)
		rc = head_framing(&f->head, &f->req);
	if (rc < 0)
		return fail(f, rc, stop_for(rc));
	f->req.head_start = f->req.start + f->head_off;
	f->req.head_end = f->pos + used;
	f->ev = LR_HTTP_EV_HEAD;
	if (f->req.body == LR_HTTP_BODY_CHUNKED) {
		memset(&f->ck, 0, sizeof(f->ck));
		chunk_next(&f->ck);
		f->st = F_CHUNKED;
	} else if (f->req.content_length > 0) {
		f->left = f->req.content_length;
		f->st = F_LENGTH;
	} else {
		request_done(f, used);
	}
	return (int)used;
}

static int head_step(lr_http_framer *f, const char *p, size_t n)
{
	size_t room = LR_HTTP_MAX_HEAD - f->len, k = n < room ? n : room;
	int end = 0, used, rc;

	if (f->len == 0 && lr_http_sniff(p, k) < 0) /* the usual first write */
		return fail(f, LR_EPARSE, LR_HTTP_STOP_NOT_HTTP1);
	if ((used = head_scan(f, p, k, &end)) < 0)
		return fail(f, used, LR_HTTP_STOP_NOT_HTTP1);
	if ((rc = append(f, p, (size_t)used)) < 0)
		return fail(f, rc, stop_for(rc));
	/* from here, an error takes back this call's bytes: the caller still
	 * has them, and the buffer must hold only bytes consumed before */
	if ((rc = check_request_line(f)) < 0 || (end && (rc = head_done(f, (size_t)used)) < 0) ||
	    (!end && k < n && (rc = fail(f, LR_ETOOBIG, LR_HTTP_STOP_TOOBIG)) < 0)) {
		f->len -= (size_t)used;
		return rc;
	}
	return end ? rc : used;
}

/* --- framer: body ------------------------------------------------------------ */

static size_t held_body(const lr_http_framer *f)
{
	return f->len - f->head_off - f->head.len;
}

static int length_step(lr_http_framer *f, const char *p, size_t n)
{
	size_t k = n < f->left ? n : (size_t)f->left;
	int rc;

	if (f->req.held && (rc = append(f, p, k)) < 0)
		return fail(f, rc, stop_for(rc));
	f->left -= k;
	f->req.body_len += k;
	if (!f->left)
		request_done(f, k);
	return (int)k;
}

static int chunked_step(lr_http_framer *f, const char *p, size_t n)
{
	size_t used = 0, data, room = LR_HTTP_MAX_BODY - held_body(f);
	int rc;

	if (f->req.held && room == 0) {
		f->req.held = 0; /* not sticky: the caller passes this body through */
		return LR_ETOOBIG;
	}
	if (f->req.held && n > room)
		n = room;
	while (used < n && f->ck.st != C_DONE) {
		if ((rc = chunk_step(&f->ck, p + used, n - used, &data)) < 0)
			return fail(f, rc, stop_for(rc));
		used += (size_t)rc;
		f->req.body_len += data;
	}
	if (f->req.held && (rc = append(f, p, used)) < 0)
		return fail(f, rc, stop_for(rc));
	if (f->ck.st == C_DONE)
		request_done(f, used);
	return (int)used;
}

int lr_http_feed(lr_http_framer *f, const char *p, size_t n)
{
	int rc;

	if (!f)
		return LR_EINVAL;
	f->ev = 0;
	if (f->err)
		return f->err;
	if (n == 0)
		return 0;
	if (!p)
		return LR_EINVAL;
	if (n > INT_MAX)
		n = INT_MAX;
	if (f->st == F_TUNNEL)
		return fail(f, LR_EPARSE, LR_HTTP_STOP_TUNNEL);
	if (f->st == F_START)
		start_request(f);
	if (f->st == F_HEAD)
		rc = head_step(f, p, n);
	else if (f->st == F_LENGTH)
		rc = length_step(f, p, n);
	else
		rc = chunked_step(f, p, n);
	if (rc > 0)
		f->pos += (uint64_t)rc;
	return rc;
}

int lr_http_hold(lr_http_framer *f)
{
	int rc;

	if (!f || f->err || f->req.head_end == 0 || f->pos != f->req.head_end)
		return LR_EINVAL;
	if (f->req.done || f->req.held) {
		f->req.held = 1;
		return 0;
	}
	if (f->req.body == LR_HTTP_BODY_LENGTH) {
		if (f->req.content_length > LR_HTTP_MAX_BODY)
			return LR_ETOOBIG;
		if ((rc = reserve(f, f->len + (size_t)f->req.content_length)) < 0)
			return rc;
	}
	f->req.held = 1;
	return 0;
}

lr_span lr_http_held(const lr_http_framer *f)
{
	lr_span s = { f->buf, f->len };

	return s;
}

/* Runs a fresh decoder over the held raw body: the framer's own rules. */
static int dechunk(lr_http_framer *f, const char *raw, size_t n)
{
	struct lr_http_chunk c;
	size_t pos = 0, out = 0, data;
	char *d = malloc(f->req.body_len ? (size_t)f->req.body_len : 1);
	int rc;

	if (!d)
		return LR_ENOMEM;
	memset(&c, 0, sizeof(c));
	chunk_next(&c);
	while (pos < n && c.st != C_DONE) {
		size_t k = n - pos < INT_MAX ? n - pos : INT_MAX;
		if ((rc = chunk_step(&c, raw + pos, k, &data)) < 0 || out + data > f->req.body_len) {
			free(d);
			return LR_EPARSE; /* cannot happen: the framer accepted these bytes */
		}
		memcpy(d + out, raw + pos, data);
		out += data;
		pos += (size_t)rc;
	}
	f->dechunked = d;
	return 0;
}

int lr_http_body(lr_http_framer *f, lr_span *body)
{
	size_t hl;
	int rc;

	if (!f || !body || !f->req.done || f->err ||
	    (!f->req.held && f->req.end != f->req.head_end))
		return LR_EINVAL;
	hl = f->head_off + f->head.len;
	if (f->req.body != LR_HTTP_BODY_CHUNKED) {
		*body = (lr_span){ f->buf + hl, f->len - hl };
		return 0;
	}
	if (!f->dechunked && (rc = dechunk(f, f->buf + hl, f->len - hl)) < 0)
		return rc;
	*body = (lr_span){ f->dechunked, (size_t)f->req.body_len };
	return 0;
}

/* --- rewriter ---------------------------------------------------------------- */

/* Writes when p is set, only counts when it is NULL: one emitter sizes and
 * fills the output, so the two can never disagree. */
typedef struct {
	char *p;
	size_t len;
} sink;

static void put(sink *s, const char *b, size_t n)
{
	if (s->p && n)
		memcpy(s->p + s->len, b, n);
	s->len += n;
}

static void put_span(sink *s, lr_span v)
{
	put(s, v.p, v.len);
}

typedef struct {
	const lr_http_head *h;
	const lr_http_edits *e;
	lr_span body;           /* the body to send */
	char cl[24];            /* its length, in decimal */
	int body_kind;          /* the original framing */
	int ours;               /* the body sent is new or de-chunked */
	int add_host, add_cl;
	size_t nheaders;        /* field lines emitted */
} rewrite_ctx;

static int is_auth(const lr_http_header *hd, int moved)
{
	return moved ? lr_cred_is_credential_header(hd->name.p, hd->name.len)
		     : lr_cred_is_key_header(hd->name.p, hd->name.len);
}

static lr_span line_end(lr_span line)
{
	size_t n = line.len >= 2 && line.p[line.len - 2] == '\r' ? 2 : 1;

	return (lr_span){ line.p + line.len - n, n };
}

/* "name: value" with the original line's name and line end. */
static void put_field(rewrite_ctx *c, sink *s, lr_span name, lr_span value, lr_span eol)
{
	put_span(s, name);
	put(s, ": ", 2);
	put_span(s, value);
	put_span(s, eol);
	c->nheaders++;
}

static void put_header(rewrite_ctx *c, sink *s, const lr_http_header *hd)
{
	const lr_http_edits *e = c->e;
	lr_span cl = { c->cl, strlen(c->cl) }, eol = line_end(hd->line);
	uint64_t len;

	if (e->cred != LR_CRED_KEEP && is_auth(hd, e->moved))
		return;
	if (e->drop && e->drop(hd->name.p, hd->name.len))
		return;
	if (c->ours && lr_http_header_is(hd, "expect") && span_ieq(hd->value, "100-continue"))
		return;
	if (e->host.p && lr_http_header_is(hd, "host"))
		put_field(c, s, hd->name, e->host, eol);
	else if (lr_http_header_is(hd, "transfer-encoding"))
		put_field(c, s, (lr_span){ "Content-Length", 14 }, cl, eol);
	else if (lr_http_header_is(hd, "content-length") &&
		 !(parse_length(hd->value, &len) == 0 && len == c->body.len))
		put_field(c, s, hd->name, cl, eol);
	else {
		put_span(s, hd->line);
		c->nheaders++;
	}
}

static void put_added(rewrite_ctx *c, sink *s, const char *name, lr_span value)
{
	put_field(c, s, (lr_span){ name, strlen(name) }, value, (lr_span){ "\r\n", 2 });
}

static void emit(rewrite_ctx *c, sink *s)
{
	const lr_http_head *h = c->h;
	const lr_http_edits *e = c->e;
	const char *after = h->line.p + h->line.len;
	size_t i;

	c->nheaders = 0;
	if (e->target.p) {
		put(s, h->line.p, (size_t)(h->target.p - h->line.p));
		put_span(s, e->target);
		put(s, h->target.p + h->target.len, (size_t)(after - h->target.p - h->target.len));
	} else {
		put_span(s, h->line);
	}
	if (c->add_host)
		put_added(c, s, "Host", e->host);
	for (i = 0; i < h->nheaders; i++) {
		put_header(c, s, &h->headers[i]);
		after = h->headers[i].line.p + h->headers[i].line.len;
	}
	if (c->add_cl)
		put_added(c, s, "Content-Length", (lr_span){ c->cl, strlen(c->cl) });
	for (i = 0; i < (size_t)e->nadd && i < 4; i++)
		put_added(c, s, e->add[i].name, (lr_span){ e->add[i].value, strlen(e->add[i].value) });
	if (e->cred == LR_CRED_REPLACE)
		put_added(c, s, e->auth_name,
			(lr_span){ e->auth_value, strlen(e->auth_value) });
	put(s, after, (size_t)(h->p + h->len - after)); /* the blank line */
}

static int is_host_byte(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* Nothing we add may end a line, start a field or change the framing: a
 * replacement key comes from the environment, a target from a rules file. */
static int check_edits(const lr_http_edits *e)
{
	lr_span v;

	if (e->target.p && (!e->target.len || !all_bytes(e->target, is_target)))
		return LR_EINVAL;
	if (e->host.p && (!e->host.len || !all_bytes(e->host, is_host_byte)))
		return LR_EINVAL;
	if (e->cred == LR_CRED_KEEP || e->cred == LR_CRED_DROP)
		return 0;
	if (e->cred != LR_CRED_REPLACE || !e->auth_name || !e->auth_value)
		return LR_EINVAL;
	v = (lr_span){ e->auth_name, strlen(e->auth_name) };
	if (!(span_ieq(v, "authorization") || span_ieq(v, "x-api-key") ||
	      span_ieq(v, "x-goog-api-key") || span_ieq(v, "api-key")))
		return LR_EINVAL;
	v = (lr_span){ e->auth_value, strlen(e->auth_value) };
	if (!v.len || is_ows((unsigned char)v.p[0]) || is_ows((unsigned char)v.p[v.len - 1]))
		return LR_EINVAL;
	return all_bytes(v, is_field) ? 0 : LR_EINVAL;
}

static int rewrite_plan(rewrite_ctx *c, const char *body, size_t body_len)
{
	lr_http_req r;
	int rc;

	if ((rc = check_edits(c->e)) < 0)
		return rc;
	if ((rc = head_framing(c->h, &r)) < 0)
		return rc;
	if (r.body == LR_HTTP_BODY_NONE && body_len && !c->e->body.p)
		return LR_EINVAL;
	if (body_len && !body)
		return LR_EINVAL;
	c->body = c->e->body.p ? c->e->body : (lr_span){ body, body_len };
	if (c->body.len > LR_BODY_MAX_OUT)
		return LR_ETOOBIG;
	snprintf(c->cl, sizeof(c->cl), "%zu", c->body.len);
	c->body_kind = r.body;
	c->ours = c->e->body.p != NULL || r.body == LR_HTTP_BODY_CHUNKED;
	c->add_host = c->e->host.p && !r.host.p;
	c->add_cl = r.body == LR_HTTP_BODY_NONE && c->body.len > 0;
	return 0;
}

int lr_http_rewrite(const lr_http_head *h, const char *body, size_t body_len,
	const lr_http_edits *e, char **out, size_t *outlen)
{
	rewrite_ctx c = { .h = h, .e = e };
	sink s = { NULL, 0 };
	int rc;

	if (out)
		*out = NULL;
	if (outlen)
		*outlen = 0;
	if (!h || !e || !out || !outlen)
		return LR_EINVAL;
	if ((rc = rewrite_plan(&c, body, body_len)) < 0)
		return rc;
	emit(&c, &s);
	if (s.len > LR_HTTP_MAX_HEAD || c.nheaders > LR_HTTP_MAX_HEADERS)
		return LR_ETOOBIG;
	if (!(s.p = malloc(s.len + c.body.len + 1)))
		return LR_ENOMEM;
	s.len = 0;
	emit(&c, &s);
	put_span(&s, c.body);
	s.p[s.len] = '\0';
	*out = s.p;
	*outlen = s.len;
	return 0;
}

/* --- error response ------------------------------------------------------------ */

static const char *reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Error";
}

#define ERR_HEAD "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n" \
	"Content-Length: %d\r\nConnection: close\r\n\r\n"
#define ERR_BODY "{\"error\":{\"message\":%s,\"type\":\"llmroute_denied\",\"code\":%s}}"

int lr_http_error_response(int status, const char *code, const char *message,
	char **out, size_t *outlen)
{
	size_t mlen, clen, mcap, ccap;
	char *enc, *buf, head[160];
	int m, c = 0, blen, hlen;

	if (out)
		*out = NULL;
	if (outlen)
		*outlen = 0;
	if (!out || !outlen || !message || status < 400 || status > 599)
		return LR_EINVAL;
	mlen = strlen(message);
	clen = code ? strlen(code) : 0;
	if (mlen > LR_HTTP_MAX_ERRMSG || clen > LR_HTTP_MAX_ERRMSG)
		return LR_ETOOBIG;
	mcap = 6 * mlen + 3; /* every byte \u00XX, quotes, NUL */
	ccap = 6 * clen + 5; /* or "null" and a NUL */
	if (!(enc = malloc(mcap + ccap)))
		return LR_ENOMEM;
	m = lr_json_str_encode(message, mlen, enc, mcap);
	if (code)
		c = lr_json_str_encode(code, clen, enc + mcap, ccap);
	else
		memcpy(enc + mcap, "null", 5);
	if (m < 0 || c < 0) {
		free(enc);
		return LR_EINVAL;
	}
	blen = snprintf(NULL, 0, ERR_BODY, enc, enc + mcap);
	hlen = snprintf(head, sizeof(head), ERR_HEAD, status, reason(status), blen);
	if (!(buf = malloc((size_t)hlen + (size_t)blen + 1))) {
		free(enc);
		return LR_ENOMEM;
	}
	memcpy(buf, head, (size_t)hlen);
	snprintf(buf + hlen, (size_t)blen + 1, ERR_BODY, enc, enc + mcap);
	free(enc);
	*out = buf;
	*outlen = (size_t)hlen + (size_t)blen;
	return 0;
}
