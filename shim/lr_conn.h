/*
 * lr_conn.h - route and audit the HTTP/1.1 requests a program writes on one
 * connection, whatever carries the bytes (a TCP socket, or an OpenSSL
 * session whose plaintext we see).
 *
 * The transport hooks hand every slice the app writes to lr_conn_write()
 * and every slice it reads to lr_conn_read().  On the write side the
 * request framer (lr_http.h) finds each request:
 *   - its head is kept until it is complete (nothing of a request leaves
 *     before we know where it goes);
 *   - a request that is not an LLM API request is sent on as written; its
 *     body passes straight through with the app's own send semantics
 *     (partial writes and EAGAIN reach the app as they happen);
 *   - an LLM request is held whole, decided exactly as libcurl requests are
 *     (lr_request, lr_decide, lr_plan), rewritten (lr_http_rewrite: model,
 *     credentials, Host, target, Content-Length), and sent; or refused, and
 *     the app then reads a 403 answer from us.
 * The read side frames the answers (lr_http_resp.h), pairs them with the
 * requests in order, and feeds the audit record of each LLM request.
 *
 * Anything unexpected (not HTTP/1, a malformed or oversized request, a
 * rewrite that fails) and the connection goes back to plain pass-through
 * from that byte on: what we held goes out exactly as written.
 *
 * Memory: about 15 KB per connection, plus one request's head (at most
 * LR_HTTP_MAX_HEAD) and, while an LLM request is held, its body (at most
 * LR_HTTP_MAX_BODY; a larger one is sent unrouted).
 *
 * Locking: the transport serialises calls on one connection (lr_conn.mu)
 * and keeps the object alive while it is in use (refs).
 */
#ifndef LR_CONN_H
#define LR_CONN_H
#include "lr_http.h"
#include "lr_http_resp.h"
#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

enum { LR_CONN_SOCKET, LR_CONN_TLS };

enum {                     /* lr_conn.state */
	LR_CONN_ON,            /* framing requests */
	LR_CONN_OFF,           /* pass-through for good: the transport may forget it */
	LR_CONN_DENIED,        /* a request was refused: the app reads our answer */
};

#define LR_CONN_PENDING 32 /* requests in flight whose answers we pair */

typedef struct lr_conn lr_conn;

/* How a connection sends.  send: one attempt with the app's semantics,
 * bytes sent or -1 with errno (EAGAIN when it would block).  wait: blocks
 * until a send may progress, at most timeout_ms (only lr_conn_drain uses
 * it); 0, or -1 (timeout, error).  shut: stop sending (after a deny), may
 * be NULL. */
typedef struct {
	ssize_t (*send)(lr_conn *c, const char *p, size_t n);
	int (*wait)(lr_conn *c, int timeout_ms);
	void (*shut)(lr_conn *c);
} lr_conn_io;

typedef struct {
	struct lr_rec *rec;    /* audit of an LLM request, or NULL */
	int no_body;           /* answers a HEAD request */
	int deny;              /* our refusal goes here */
} lr_conn_pending;

#define LR_CONN_MAXFD 8    /* descriptors (dup) sharing one tracked connection */

struct lr_conn {
	pthread_mutex_t mu;    /* the write side; held across the app's write calls */
	pthread_mutex_t rmu;   /* the read side: answers, pending queue, our refusal.
	                        * Never held across a system call, so a reader is
	                        * never stuck behind a writer blocked in send */
	int refs;              /* owned by the transport's table */
	int fds[LR_CONN_MAXFD];/* the descriptors that name it (dup, dup2, F_DUPFD) */
	int nfds;
	_Atomic int closed;    /* its last descriptor was closed: send nothing more */
	int kind;              /* LR_CONN_SOCKET, LR_CONN_TLS */
	int state;
	int fd;                /* the socket (TLS: the session's, or -1) */
	void *tls;             /* the SSL object, for LR_CONN_TLS */
	int flags;             /* send flags of the current app call */
	const lr_conn_io *io;
	/* where the app meant to go, and where the connection really goes */
	char peer[64];         /* the address connected to, as "host:port" */
	int redirected;        /* connected to a route's endpoint instead */
	char claimed_host[256];/* the host name the app resolved */
	char route[128];       /* the route that redirected it */
	char ep_host[256];
	int ep_port;
	/* write side */
	int started;           /* the first byte was seen */
	int passing;           /* the current request's body passes through */
	int holding;           /* the current request is held for a decision */
	int unsent;            /* the framer holds bytes the app wrote that are not sent */
	size_t ahead;          /* framed bytes the app has not yet had sent */
	size_t owed;           /* taken bytes the app will send again (lr_conn_write) */
	char *out;             /* bytes of ours still to send */
	size_t out_len, out_off;
	lr_http_framer fr;
	/* read side */
	int resp_off;          /* answers are no longer framed */
	lr_http_resp rs;
	lr_conn_pending q[LR_CONN_PENDING];
	int qh, qn;
	char *inject;          /* our answer to a refused request */
	size_t inject_len, inject_off;
	int eof;
	/* served by the shim's own client (lr_serve.h) */
	int served;            /* every request from here on is ours to answer */
	struct lr_pipe *pipe;  /* our end of the app's descriptor */
	int tls_err;           /* TLS: the SSL_get_error value of our last read */
	int claimed;           /* TLS ending in the shim (lr_claim.h): no host behind it,
	                        * every request is ours to serve */
	char claim_peer[64];   /* the claimed host's real address, "" if none */
};

/* Does anything here want to see HTTP traffic: a table, or an audit file?
 * (A connection made while nothing does is never tracked.) */
int lr_conn_wanted(void);

/* A new connection (refs 1); NULL on allocation failure. */
lr_conn *lr_conn_new(int kind, int fd, void *tls, const lr_conn_io *io);

/* Frees it; records in flight are written as incomplete.  Sends nothing:
 * the transport gives unsent bytes their last try while the descriptor
 * is still the app's (see lr_sock.c). */
void lr_conn_free(lr_conn *c);

/* 1 when the connection is off for good and owes nothing (no bytes of ours
 * waiting, none the app must send again): the transport may forget it. */
int lr_conn_done(const lr_conn *c);

/* The app writes iov; c->flags are its send flags.  Returns what the app's
 * call returns (bytes taken, or -1 with errno).  Called with c->mu held. */
ssize_t lr_conn_write(lr_conn *c, const struct iovec *iov, int iovcnt);

/* Sends what is still unsent (see lr_conn.c); 0, or -1 (nothing more can
 * be done: the caller shuts the connection).  Called with c->mu held. */
int lr_conn_drain(lr_conn *c, int wait_ms);

/* Our answer to a refused request, when it is due: copies up to cap bytes
 * into buf and returns how many (0: nothing due now).  With peek the bytes
 * stay.  Called with c->rmu held. */
size_t lr_conn_inject(lr_conn *c, void *buf, size_t cap, int peek);

/* The app received n bytes (n == 0: the peer closed).  Called with c->rmu
 * held. */
void lr_conn_read(lr_conn *c, const char *p, size_t n);

#endif
