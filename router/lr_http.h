/*
 * lr_http.h - HTTP/1.1 request framing, head parsing and rewriting for the
 * bytes a client writes on one connection.
 *
 * The socket hooks see a program's writes as arbitrary slices of one byte
 * stream.  Three layers, each usable alone:
 *   - lr_http_parse_head: a complete request head to spans (no allocation);
 *   - lr_http_framer: an incremental state machine fed arbitrary slices
 *     that finds where each request starts, where its head ends and where
 *     its body ends (Content-Length, chunked, or none), and that can hold a
 *     whole request in memory so the caller sends nothing before deciding;
 *   - lr_http_rewrite / lr_http_error_response: the bytes to send instead.
 *
 * Invariants:
 *   - nothing reads at or past the length given, whatever the bytes are;
 *   - hard caps: a head (request line, headers, blank line, and any empty
 *     lines before the request line) is at most LR_HTTP_MAX_HEAD bytes and
 *     LR_HTTP_MAX_HEADERS field lines; a held body is at most
 *     LR_HTTP_MAX_BODY bytes as received.  Over a cap is LR_ETOOBIG and the
 *     caller passes the bytes through unchanged;
 *   - the framer's buffer holds exactly the input bytes of the current
 *     request from its first byte: the head always, the body only once the
 *     caller asked to hold it.  So a caller that gives up can always send
 *     what it held, unchanged, and carry on;
 *   - a framing error (malformed, not HTTP/1, head over its cap, CONNECT or
 *     Upgrade tunnel) is sticky: the framer answers every later call with
 *     the same code at no cost, and the caller stops looking at the
 *     connection.  Only a held body over its cap is not sticky (see feed);
 *   - we are stricter than most servers (single SP in the request line, no
 *     whitespace before ':', no obs-fold, one Host, one Content-Length,
 *     Transfer-Encoding exactly "chunked" and never with Content-Length),
 *     so whatever we frame, a server frames the same way: anything else is
 *     LR_EPARSE and goes through untouched.
 * Errors follow lr_error.h.
 */
#ifndef LR_HTTP_H
#define LR_HTTP_H
#include "lr_json.h"
#include <stddef.h>
#include <stdint.h>

#define LR_HTTP_MAX_HEAD ((size_t)64 << 10)   /* bytes in a head */
#define LR_HTTP_MAX_BODY ((size_t)64 << 20)   /* held body bytes, as received */
#define LR_HTTP_MAX_HEADERS 100               /* field lines in a head */
#define LR_HTTP_MAX_METHOD 32                 /* bytes in a method token */
#define LR_HTTP_MAX_CHUNK_LINE 4096           /* chunk-size line with extensions */
#define LR_HTTP_MAX_ERRMSG 4096               /* message bytes in an error response */

/* --- head parser ------------------------------------------------------------ */

typedef struct {
	lr_span name;   /* as spelled, without the ':' */
	lr_span value;  /* without leading/trailing SP and HT */
	lr_span line;   /* the whole field line, line ending included */
} lr_http_header;

typedef struct {
	const char *p;          /* the head's first byte (the request line) */
	size_t len;             /* head bytes, blank line included */
	lr_span method, target; /* target as sent: origin-form "/path?query", or
	                         * absolute-, authority- or asterisk-form */
	int minor;              /* HTTP/1.minor */
	lr_span line;           /* request line, line ending included */
	size_t nheaders;
	lr_http_header headers[LR_HTTP_MAX_HEADERS];
} lr_http_head;

/*
 * Parses the request head at the start of p[0..n) (bytes after it, such as
 * the body, are ignored).  Line ends are CRLF or a bare LF.  Fills *h with
 * spans into p; allocates nothing.  Returns the head's length in bytes
 * (through the blank line); LR_ENOTFOUND if p holds no blank line yet (the
 * head is incomplete: more bytes may still make it valid or malformed);
 * LR_ETOOBIG if there are more than LR_HTTP_MAX_HEADERS field lines, or no
 * blank line within the first LR_HTTP_MAX_HEAD bytes; LR_EPARSE if the
 * bytes are not an HTTP/1.x request head (including a method longer than
 * LR_HTTP_MAX_METHOD, the HTTP/2 preface's PRI method, obs-fold, a bare CR,
 * control bytes, whitespace before ':').  *h is only meaningful on success.
 */
int lr_http_parse_head(const char *p, size_t n, lr_http_head *h);

/* 1 if the header's name is `name` (NUL-terminated, ASCII case-insensitive,
 * locale-independent), else 0. */
int lr_http_header_is(const lr_http_header *hd, const char *name);

/* Returns the index (>= from) of the first header named `name` (compared as
 * lr_http_header_is does), or LR_ENOTFOUND.  Iterate duplicates by passing
 * the previous index + 1. */
int lr_http_header_find(const lr_http_head *h, const char *name, size_t from);

/*
 * Judges the first bytes of a connection (empty lines first are skipped, as
 * the framer does).  Returns 1 if they start like an HTTP/1 request line (a
 * method token then SP), 0 if there are too few bytes to tell, LR_EPARSE if
 * they cannot be HTTP/1: a TLS record (0x16...), the HTTP/2 preface
 * ("PRI * HTTP/2.0"), or any byte a method cannot contain.  Looks at no
 * more than LR_HTTP_MAX_METHOD + 1 bytes past the empty lines.
 */
int lr_http_sniff(const char *p, size_t n);

/* --- framer ---------------------------------------------------------------- */

enum {                        /* lr_http_req.body */
	LR_HTTP_BODY_NONE,
	LR_HTTP_BODY_LENGTH,      /* Content-Length */
	LR_HTTP_BODY_CHUNKED,     /* Transfer-Encoding: chunked */
};

enum {                        /* lr_http_framer.ev bits */
	LR_HTTP_EV_HEAD = 1,      /* the head just completed; see req and head */
	LR_HTTP_EV_DONE = 2,      /* the request just completed (may come with HEAD) */
};

enum {                        /* lr_http_framer.stop: why feed fails for good */
	LR_HTTP_STOP_NONE,
	LR_HTTP_STOP_NOT_HTTP1,   /* the request line is not HTTP/1 (TLS, h2, ...) */
	LR_HTTP_STOP_MALFORMED,   /* a head or chunked body that is not valid */
	LR_HTTP_STOP_TOOBIG,      /* head, header count or chunk line over its cap */
	LR_HTTP_STOP_TUNNEL,      /* bytes after CONNECT or Upgrade: another protocol */
	LR_HTTP_STOP_NOMEM,
};

/* One request as the framer sees it.  Offsets count bytes of the stream
 * from the first byte ever fed; request k owns stream[start, end). */
typedef struct {
	uint64_t start;          /* its first byte (empty lines before the head included) */
	uint64_t head_start;     /* the request line's first byte */
	uint64_t head_end;       /* just past the head's blank line */
	uint64_t end;            /* just past the body's last byte; valid once done */
	lr_span method, target;  /* into the framer's buffer, like host */
	lr_span host;            /* the Host value; p == NULL if there is none */
	int minor;               /* HTTP/1.minor */
	int body;                /* LR_HTTP_BODY_* */
	uint64_t content_length; /* LR_HTTP_BODY_LENGTH: the declared length */
	uint64_t body_len;       /* body bytes (de-chunked) received so far */
	int expect_continue;     /* Expect: 100-continue: the client may wait for a
	                          * 100 before it sends the body, so holding the body
	                          * needs the caller to answer "100 Continue" itself */
	int tunnel;              /* CONNECT or Upgrade: framing ends after this one */
	int held;                /* the body is being held in the buffer */
	int done;                /* the body is complete */
} lr_http_req;

/*
 * One direction of one connection.  Readable: ev, stop, pos, req, head
 * (valid from the HEAD event until the next request starts); the rest is
 * private.  Initialise with lr_http_framer_init, release with
 * lr_http_framer_free.  About 5 KB, plus the buffer: at most
 * LR_HTTP_MAX_HEAD unless a body is held (LR_HTTP_MAX_HEAD +
 * LR_HTTP_MAX_BODY, and the de-chunked copy lr_http_body makes).
 */
typedef struct {
	int ev;                  /* LR_HTTP_EV_* bits set by the last feed */
	int stop;                /* LR_HTTP_STOP_* once feed failed for good */
	uint64_t pos;            /* stream bytes consumed so far */
	lr_http_req req;         /* the current (or just completed) request */
	lr_http_head head;       /* its parsed head, spans into the buffer */
	/* private */
	int st, hs, err, rl_ok;
	size_t head_off, rl_end; /* request line start / end in buf */
	uint64_t left;           /* Content-Length bytes still to come */
	struct lr_http_chunk {
		int st, digits;
		uint64_t size;
		size_t line, trailer;
	} ck;                    /* chunked-body decoder */
	char *buf;
	size_t len, cap;
	char *dechunked;
} lr_http_framer;

void lr_http_framer_init(lr_http_framer *f);
void lr_http_framer_free(lr_http_framer *f);

/*
 * Feeds the next slice of the stream.  Consumes bytes up to the first event
 * (the end of a head, the end of a request) or the end of p, at most
 * INT_MAX, and returns how many; the caller feeds the rest again (several
 * pipelined requests take several calls).  If n > 0 and no error, at least
 * one byte is consumed.  f->ev tells what happened (0: only consumed).
 * After LR_HTTP_EV_HEAD alone, the caller may lr_http_hold before feeding
 * more.  After LR_HTTP_EV_DONE the buffer, req and head stay valid until
 * the next call that consumes a byte.
 *
 * Errors: LR_EPARSE (not HTTP/1, malformed, or data after a tunnel
 * request), LR_ETOOBIG (a head, header count or chunk line over its cap),
 * LR_ENOMEM: all sticky, f->stop says why; bytes before the error were
 * consumed in earlier calls, none in this one.  The one non-sticky error:
 * LR_ETOOBIG with f->stop == LR_HTTP_STOP_NONE means the held body would
 * pass LR_HTTP_MAX_BODY: holding stopped (req.held = 0), nothing of p was
 * consumed, the buffer still holds the bytes held so far; send them, then
 * feed p again (the framer stays in step, it just holds no more).
 */
int lr_http_feed(lr_http_framer *f, const char *p, size_t n);

/*
 * Asks the framer to keep the current request's body in its buffer too.
 * Call it right after the HEAD event, before feeding body bytes.  Returns
 * 0 (also when there is no body: the buffer already holds everything);
 * LR_ETOOBIG if the Content-Length exceeds LR_HTTP_MAX_BODY (nothing is
 * held; the framer carries on); LR_EINVAL if body bytes were already
 * consumed or there is no current head; LR_ENOMEM (nothing held).
 */
int lr_http_hold(lr_http_framer *f);

/* The bytes held for the current request: stream[req.start, req.start +
 * len), head first.  Valid until the next feed that consumes a byte. */
lr_span lr_http_held(const lr_http_framer *f);

/*
 * The complete body of a held (or bodiless) request, de-chunked, in *body.
 * A Content-Length body points into the buffer; a chunked one is decoded
 * into a copy the framer owns (chunk extensions and trailers dropped).
 * Valid until the next feed that consumes a byte.  Returns 0; LR_EINVAL
 * unless req.done and the body was held (or there is none); LR_ENOMEM.
 */
int lr_http_body(lr_http_framer *f, lr_span *body);

/* --- rewriter ---------------------------------------------------------------- */

/*
 * What to change.  A span with p == NULL means "keep".  cred is an enum
 * lr_cred (lr_plan.h): KEEP sends the auth headers as they are; DROP removes
 * every Authorization, x-api-key, x-goog-api-key and api-key header (any
 * case), and with `moved` every credential header (lr_cred_is_credential_
 * header: the request leaves for another host); REPLACE removes the same
 * and adds "auth_name: auth_value" (both NUL-terminated, e.g.
 * "Authorization" and "Bearer sk-...").
 */
typedef struct {
	lr_span target;          /* new request-target (path?query) */
	lr_span host;            /* new Host value */
	lr_span body;            /* new body */
	int cred;
	int moved;               /* the request goes to another host */
	const char *auth_name, *auth_value;
	/* a translated request (lr_plan_xlate.h): header lines whose name
	 * drop() says 1 for go, and add[0..nadd) (name, value; static or
	 * checked strings) are added before the key */
	int (*drop)(const char *name, size_t n);
	struct { const char *name, *value; } add[4];
	int nadd;
} lr_http_edits;

/*
 * Builds the request to send from head h (as parsed), its complete
 * de-chunked body, and edits e.  The request line and every field line keep
 * their order and bytes, except:
 *   - the target, if given (method, version and line end kept);
 *   - Host: its value replaced (name spelling and line end kept), or
 *     "Host: X" added after the request line if there was none;
 *   - the auth headers, as e->cred says; a replacement goes last;
 *   - Content-Length: its value is the length of the body sent (line kept
 *     when its value already is that number, "017" included).  A chunked body is sent with
 *     Content-Length instead, its Transfer-Encoding line replaced by
 *     "Content-Length: N": we rewrite bodies only once we hold them whole,
 *     and re-chunking would buy nothing but a second framing to get right.
 *     A body where there was none gets "Content-Length: N" last;
 *   - "Expect: 100-continue" is dropped whenever the body sent is ours (new
 *     or de-chunked): the client already sent the whole body (to us), we
 *     send head and body back to back, so a server's go-ahead has nothing
 *     left to gate, and a server or proxy that does not do 100-continue
 *     would answer 417 to a request the client never meant to stall.
 * Added lines end in CRLF.  On success returns 0 and *out is a malloc'ed
 * buffer of *outlen bytes (plus a NUL not counted) the caller frees.  Errors
 * (*out = NULL, *outlen = 0): LR_EINVAL (NULL h/out/outlen; a target, host,
 * auth name or value that would break the head: control bytes, CR/LF, SP
 * in target or host, a name that is not a token; REPLACE without name and
 * value; an unknown cred; a bodiless request given a body to keep);
 * LR_EPARSE (h's framing headers are ones the framer rejects); LR_ETOOBIG
 * (the new head over LR_HTTP_MAX_HEAD or LR_HTTP_MAX_HEADERS, the body over
 * LR_BODY_MAX_OUT); LR_ENOMEM.
 */
int lr_http_rewrite(const lr_http_head *h, const char *body, size_t body_len,
	const lr_http_edits *e, char **out, size_t *outlen);

/*
 * Builds a complete HTTP/1.1 response refusing a request: status line
 * (400..599), Content-Type: application/json, Content-Length,
 * Connection: close, and the body
 *   {"error":{"message":MSG,"type":"llmroute_denied","code":CODE}}
 * with message and code JSON-escaped (code NULL gives null).  Returns 0 with
 * *out malloc'ed (*outlen bytes plus a NUL) for the caller to free;
 * LR_EINVAL (status out of range, NULL message/out/outlen, message or code
 * not UTF-8), LR_ETOOBIG (message or code over LR_HTTP_MAX_ERRMSG bytes),
 * LR_ENOMEM.  On error *out = NULL.
 */
int lr_http_error_response(int status, const char *code, const char *message,
	char **out, size_t *outlen);

#endif
