/*
 * lr_serve.h - requests the shim answers itself, on a socket or TLS
 * connection the app made.
 *
 * A connection is fixed to the host the app chose.  When a routed request
 * must go somewhere else (another host or scheme: a TLS session, or a
 * plain socket not redirected at connect time), the connection adapter
 * (lr_conn.c) hands it here instead of leaving the route unapplied:
 *
 *   1. takeover: the app's descriptor (every dup of it) is swapped, with
 *      dup3 onto the same numbers, for one end of a socketpair whose other
 *      end is ours.  File status flags (O_NONBLOCK), close-on-exec and the
 *      receive/send time-outs are kept, so the app waits for our answer
 *      exactly as it waits for a server (blocking read, poll, select,
 *      non-blocking reads with EAGAIN).  The connection to the original
 *      host is closed: it never carried a byte of the request.  From then
 *      on the connection is "served": every request on it, routed or not,
 *      goes through the shim's own client.
 *   2. the edited request (lr_http_rewrite's bytes: credentials dropped or
 *      replaced exactly as for any other transport) is sent by the shim's
 *      own client (lr_upstream.h, libcurl loaded at run time), which runs
 *      on its own thread;
 *   3. the answer is written into our end as an HTTP/1.1 response
 *      (chunked, whatever the upstream spoke), streaming as it arrives.
 *      The app reads it through its own calls: plain read/recv on a
 *      socket; for TLS, the SSL_read hooks read the socketpair instead of
 *      the session (lr_ssl.c).  Bytes the socketpair cannot take now wait
 *      in a buffer, pushed by the client's thread when the socket drains
 *      and by the app's own reads.
 * A failure before the answer head reaches the app as a 502 with a JSON
 * error; after it, as a cut connection (the app must not take half an
 * answer for a whole one).
 *
 * What runs where: deciding, editing and the takeover run in the app's
 * thread, inside its write call; sending and receiving run on the
 * client's thread; the app's reads run in its own thread.
 */
#ifndef LR_SERVE_H
#define LR_SERVE_H
#include "lr_conn.h"
#include "lr_attempt.h"
#include "lr_rec.h"

#include <stddef.h>
#include <sys/types.h>

/* One attempt's request, made when the request came (so a chain is sent
 * as the table was then). */
typedef struct lr_serve_step {
	char *url;                /* where it goes: absolute http(s) URL (malloc'ed) */
	char *raw;                /* the edited request, head and body (HTTP/1.1, malloc'ed) */
	size_t raw_len;
	lr_rec *rec;              /* its audit record, or NULL */
	int app_host;             /* it goes to the app's own host: connected to
	                           * the address the app connected to, never to
	                           * whatever the name resolves to now */
	char *connect_to;         /* lr_serve's, made from that address */
	struct lr_xsink_cfg *xlate; /* its answer is translated into the app's format
	                           * (lr_xsink.h; malloc'ed), or NULL */
} lr_serve_step;

/* One request to serve: one step, or a resilient route's chain (steps in
 * the order of attempts->step[]). */
typedef struct lr_serve_job {
	lr_serve_step steps[LR_ATTEMPT_STEPS];
	int nsteps;
	lr_attempt *attempts;     /* the chain, or NULL (one step) */
	int no_body;              /* a HEAD request: the answer has no body */
	lr_health_cfg health;     /* the chain's health thresholds (its env's ud) */
	/* the response cache: ttl_s 0 when this request is not cached */
	unsigned cache_ttl_s;
	size_t cache_max_entry, cache_size;
} lr_serve_job;

/* Can the shim serve requests on c (its descriptor is known, its own
 * client can be loaded)?  Called with c->mu held. */
int lr_serve_possible(const lr_conn *c);

/* May the shim's own client serve requests in this process at all
 * (LLMROUTE_OWN_CLIENT, libcurl loads)? */
int lr_serve_allowed(void);

/* Takes c over if not yet, and starts serving j, whose steps and chain
 * it takes (zeroed in j).  0, or < 0 with nothing taken and nothing
 * changed on a connection not yet served (the caller frees j and goes on
 * as before).  Called with c->mu held, in the app's thread. */
int lr_serve_start(lr_conn *c, lr_serve_job *j);

/* c is served from now on, its answers written into fd (a guarded
 * descriptor, taken in every case) whose other end a reader of the
 * shim's own holds (lr_tlsend.h); peer: where requests to the app's own
 * host go ("" for nowhere).  0, or < 0. */
int lr_serve_attach(lr_conn *c, int fd, const char *peer);

/* After our refusal on a served connection: the app reads it, then EOF. */
void lr_serve_shut(lr_conn *c);

/* The app took bytes from a served connection: push what waits. */
void lr_serve_pump(lr_conn *c);

/* The connection is gone: stops what is in flight, drops our end. */
void lr_serve_conn_free(lr_conn *c);

/* TLS on a served connection: the app's SSL_read reads our socketpair.
 * Returns bytes, 0 at EOF, -1 with errno (EAGAIN). */
ssize_t lr_serve_read(lr_conn *c, void *buf, size_t n);

/* From lr_ssl.c: a session's descriptor, and the trust its SSL_CTX uses
 * (X509_STORE *), or -1 / NULL. */
int lr_ssl_fd(void *ssl);
void *lr_ssl_store(void *ssl);
void lr_ssl_served(void);      /* a session became served: SSL_get_error looks */
int lr_ssl_inside(void);       /* this thread is in an SSL_* call of the app's through our hooks */

#endif
