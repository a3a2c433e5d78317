/*
 * lr_http_resp.h - incremental HTTP/1.x response framing, for auditing what
 * a server answers on a connection the shim watches.
 *
 * The read side of a connection is fed in arbitrary slices (exactly the
 * bytes the app received, in order).  The framer reports, through one
 * callback: the status of each final response (1xx interim responses are
 * skipped), its body bytes (de-chunked), and its end.  The caller says per
 * response whether it can have a body (an answer to HEAD cannot), by the
 * callback's return value.  Bodies end by Content-Length, by the last
 * chunk, or by the end of the connection (lr_http_resp_eof).
 *
 * It keeps no body: one header line at a time (at most
 * LR_HTTP_RESP_MAX_LINE bytes) is all it buffers, so its memory is fixed.
 * Anything it cannot frame (not HTTP/1, an overlong line, a bad length or
 * chunk) stops it for good (sticky), and the caller stops auditing the
 * connection; the bytes themselves are never touched.
 */
#ifndef LR_HTTP_RESP_H
#define LR_HTTP_RESP_H
#include <stddef.h>
#include <stdint.h>

#define LR_HTTP_RESP_MAX_LINE 8192

enum {                    /* callback events */
	LR_HTTP_RESP_HEAD,    /* a final response's head: status in `status` */
	LR_HTTP_RESP_BODY,    /* body bytes p[0..n) */
	LR_HTTP_RESP_DONE,    /* the response is complete */
};

/* Return value matters for LR_HTTP_RESP_HEAD only: 0 when the response has
 * no body whatever its headers say (an answer to HEAD), else 1. */
typedef int (*lr_http_resp_cb)(void *ud, int ev, int status, const char *p, size_t n);

typedef struct {
	int st, status, stopped;
	int chunked, close_delimited, interim;
	uint64_t left;        /* Content-Length or chunk bytes still to come */
	size_t len;           /* bytes in line */
	char line[LR_HTTP_RESP_MAX_LINE];
} lr_http_resp;

void lr_http_resp_init(lr_http_resp *r);

/* Feeds n bytes; calls cb for what they complete.  Returns 0, or LR_EPARSE
 * (sticky: every later call returns it at once). */
int lr_http_resp_feed(lr_http_resp *r, const char *p, size_t n, lr_http_resp_cb cb, void *ud);

/* The connection ended: a body delimited by the close is complete (DONE is
 * reported).  Returns 1 if a response was cut short (or one was
 * incomplete), 0 if the framer was between responses. */
int lr_http_resp_eof(lr_http_resp *r, lr_http_resp_cb cb, void *ud);

/* 1 when the framer is between responses (nothing of the next one seen). */
int lr_http_resp_idle(const lr_http_resp *r);

#endif
