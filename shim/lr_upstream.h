/*
 * lr_upstream.h - the shim's own upstream HTTP client.
 *
 * When a request an app writes on a plain socket or through OpenSSL must go
 * somewhere the app's connection cannot reach, the connection layer hands it
 * here: it is sent with libcurl and the answer streams back through a sink.
 *
 * libcurl is never linked: libcurl.so.4 (Debian's OpenSSL flavour) is
 * loaded at run time by the first lr_up_available() and every curl_* it
 * needs is taken with dlsym from that handle, never through the shim's own
 * curl_* hooks.  One background thread per process, started by the first
 * lr_up_start, drives one curl multi handle: connection reuse across
 * requests, HTTP/2 over TLS when the server offers it (streams multiplexed
 * on one connection only with libcurl 8.4 or later: 7.88 stalls them),
 * HTTP/1.1 otherwise, proxies from the environment.  The thread blocks
 * every signal and runs at lr_depth 1, so the app's signals go to the app's
 * threads and every shim hook treats its calls as the shim's own.  Nothing
 * here prints: messages go through lr_log.
 *
 * What runs where: lr_up_start and lr_up_cancel run in the caller's thread
 * and only take a mutex for a moment (the first lr_up_available also loads
 * libcurl there); sending, receiving and every sink callback run on the
 * client's thread.
 *
 * Trust: https is verified with peer and host checks always on.  A request
 * with the app's X509_STORE is verified against exactly that store (a
 * certificate-verify callback installed through CURLOPT_SSL_CTX_FUNCTION;
 * the store is never modified) and never shares a connection or TLS session
 * with a request verified against anything else; see lr_upstream.c.
 *
 * The second half of this header is for the socket hooks (lr_sock.c): the
 * client's descriptors survive an app that closes every descriptor or
 * dup2()s onto their numbers (lr_upstream_fd.c).
 */
#ifndef LR_UPSTREAM_H
#define LR_UPSTREAM_H
#include "lr_attempt.h"

#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

/* A sink's body() or drain() answer: taken, but deliver nothing more for now. */
#define LR_UP_PAUSE 1

/* A request in flight.  Opaque: a handle, never dereferenced by callers;
 * one that has ended is never confused with a later request. */
typedef struct lr_up lr_up;

typedef struct lr_up_req {
	const char *method;          /* "POST", "GET", "HEAD", ... (an HTTP token) */
	const char *url;             /* absolute http:// or https:// URL */
	const char *const *headers;  /* "Name: value" lines, sent as given, in
	                              * this order.  The client itself sets Host
	                              * and Content-Length, and drops Host,
	                              * Content-Length, Transfer-Encoding,
	                              * Connection, Keep-Alive, Expect, TE,
	                              * Upgrade, Trailer and Proxy-* if passed.
	                              * Lines with CR or LF are dropped.  libcurl
	                              * adds no Accept, Content-Type or Expect of
	                              * its own. */
	int nheaders;
	const char *body;            /* the request body, copied by lr_up_start */
	size_t body_len;
	unsigned head_timeout_ms;    /* no answer head within this many ms of the
	                              * real start: the request ends with
	                              * timed_out = 1, fail = LR_OUT_ABORTED (0:
	                              * no limit).  Enforced by the client, so a
	                              * long stream is never cut. */
	unsigned delay_ms;           /* start only this long after lr_up_start (a
	                              * Retry-After wait): a timer of the client's
	                              * thread, nobody sleeps */
	void *x509_store;            /* the app's OpenSSL X509_STORE * to verify
	                              * https with (a reference is taken with
	                              * X509_STORE_up_ref, dropped when no longer
	                              * needed), or NULL: libcurl's default trust.
	                              * If it cannot be honoured (libcurl's TLS is
	                              * not OpenSSL, or not the app's OpenSSL) the
	                              * request fails LR_OUT_TRANSPORT with a
	                              * message saying so: never silently
	                              * ignored. */
	const char *connect_to;      /* "HOST:PORT:ADDR:APORT" (CURLOPT_CONNECT_TO):
	                              * connect to ADDR:APORT for the URL's
	                              * HOST:PORT (TLS still verified for HOST),
	                              * or NULL: the URL's host, resolved.  For a
	                              * request that goes where the app sent it:
	                              * to the address the app connected to, so
	                              * its key never meets another server. */
	unsigned first_token_ms;     /* the head, then no body byte within this
	                              * many ms: timed_out = LR_TO_FIRST_TOKEN,
	                              * fail = LR_OUT_ABORTED (0: no limit) */
	unsigned idle_ms;            /* no body bytes for this many ms after the
	                              * first ones: timed_out = LR_TO_IDLE (0: no
	                              * limit; not counted while the sink pauses) */
} lr_up_req;

typedef struct lr_up_result {
	int fail;                    /* enum lr_out_fail (router/lr_attempt.h):
	                              * LR_OUT_OK (complete answer),
	                              * LR_OUT_TRANSPORT (resolve, connect, TLS,
	                              * send, receive, a bad or cut answer, the
	                              * store refused), LR_OUT_ABORTED (a sink
	                              * callback said stop, or head_timeout_ms),
	                              * LR_OUT_OTHER (out of memory, a URL libcurl
	                              * refuses, ...) */
	int timed_out;               /* enum lr_out_timeout: LR_TO_HEAD (1):
	                              * head_timeout_ms passed before the head;
	                              * LR_TO_FIRST_TOKEN, LR_TO_IDLE: the body's */
	int transient;               /* LR_OUT_TRANSPORT a retry may cure: refused,
	                              * reset, nothing back */
	long status;                 /* the final answer's status, 0 if no head came */
	char error[256];             /* what went wrong (libcurl's message, or
	                              * ours), "" when fail is LR_OUT_OK */
	long long head_us, total_us; /* from the real start (after delay_ms) to
	                              * the head (0 if none) and to the end */
} lr_up_result;

/* The caller's side of a request.  Every callback runs on the client's
 * thread, one at a time per request, never inside the caller's
 * lr_up_start.  Any callback may call lr_up_start; a callback of one
 * request may lr_up_cancel another. */
typedef struct lr_up_sink {
	/* The final answer's head (never a 1xx): its status, and its header
	 * lines "Name: value\r\n" as received (HTTP/2: as libcurl renders
	 * them), without the status line or the blank line.  0 to go on, -1
	 * to stop (fail = LR_OUT_ABORTED).  NULL: always go on. */
	int (*head)(void *ud, long status, const char *lines, size_t n);
	/* Body bytes as they arrive: transfer coding removed, content coding
	 * as sent (no Accept-Encoding is added, nothing is decoded).  0: taken.
	 * LR_UP_PAUSE: taken, but deliver nothing more until wait_fd is
	 * writable and drain() says go (HTTP/1: libcurl stops reading the
	 * socket; HTTP/2: the client holds what comes meanwhile, up to 16 MB,
	 * and hands it over in one call after drain()).  -1: stop (fail =
	 * LR_OUT_ABORTED).  NULL: bytes are dropped. */
	int (*body)(void *ud, const char *p, size_t n);
	/* While paused, wait_fd became writable (or reported an error or
	 * hang-up; with wait_fd < 0, every 10 ms): 0 go on, LR_UP_PAUSE still
	 * full, -1 stop.  On a descriptor that is no longer open, LR_UP_PAUSE
	 * counts as -1.  NULL: go on. */
	int (*drain)(void *ud);
	/* The end, exactly once per request that was not cancelled, with its
	 * result (valid during the call).  After it the client never touches
	 * ud again and the handle is dead.  Required. */
	void (*done)(void *ud, const lr_up_result *r);
} lr_up_sink;

/* fn (NULL: none) runs on the client's thread after each pass over
 * libcurl and the callbacks it made, before the thread waits: a sink that
 * gathers what its callbacks produced sends it there.  Set once. */
void lr_up_on_idle(void (*fn)(void));

/* An app's thread may drive the requests it starts itself, for a moment,
 * instead of handing them to the client's thread: two thread wake-ups
 * fewer per request (the app's thread waits in libcurl for the upstream
 * instead of in its read for the client's thread).  A hook that may
 * start a request calls lr_up_lead_arm() before, and lr_up_lead(fd) after,
 * holding no lock of the shim's, with the app's descriptor: if a request
 * was started meanwhile, the client's thread was idle and fd is blocking,
 * the thread drives libcurl until every running transfer has its first
 * body bytes in the app's descriptor, for at most 2 ms, every signal
 * blocked; then the client's thread goes on with what is left.
 * Otherwise the client's thread takes the request as it would have. */
void lr_up_lead_arm(void);
void lr_up_lead(int app_fd);
int lr_up_lead_pending(void); /* 1 if this thread owes an lr_up_lead */

/* 1 if libcurl can be loaded (dlopen once, cached; the first call pays
 * for loading it), else 0 (logged once). */
int lr_up_available(void);

/* Starts a request: copies rq (method, URL, headers, body), and returns at
 * once; ud and wait_fd (the descriptor whose writability ends a pause, or
 * -1) are the caller's and must stay valid until done() or a successful
 * cancel.  Any thread, the client's own included.  NULL if it cannot start
 * (not an http(s) URL, a bad method, libcurl unavailable, no memory, the
 * process is exiting); then no callback will run. */
lr_up *lr_up_start(const lr_up_req *rq, const lr_up_sink *s, void *ud, int wait_fd);

/* Stops a request.  Returns 1 if it was stopped before its done(): when
 * lr_up_cancel returns, no callback of it runs any more (one in progress
 * has returned) and done() will never be called; ud is the caller's again.
 * Returns 0 if done() was called (if it is running on the client's thread
 * right now, lr_up_cancel waits for it to return first) or x is unknown:
 * calling it on an ended handle is harmless.  Any thread; on the client's
 * own thread (from a callback of another request) it does not wait.  It
 * waits for a callback in progress, so do not hold a lock that the sink's
 * callbacks take while calling it. */
int lr_up_cancel(lr_up *x);

/* pthread_atfork phases (lr_fork.h).  Prepare parks the client's thread at
 * a point where it holds no lock and is outside libcurl and OpenSSL (at
 * most 2 s of waiting), so the child inherits no half-held lock of theirs;
 * the parent's thread then goes on.  In the child the thread does not
 * exist: the client is "not started", the parent's requests are forgotten
 * (their sinks are never called there), the parent's libcurl handles are
 * leaked (never cleaned up: their connections are the parent's), the
 * inherited descriptors of the client are closed (only our copy; the
 * parent's connections are unaffected); the child's first lr_up_start
 * starts a fresh thread and multi handle. */
void lr_up_atfork(int phase);

/* Was the system's libssl in the process before the client loaded libcurl
 * (which brings it)?  1 or 0; -1 while libcurl is not loaded. */
int lr_up_ssl_before(void);

/* --- for the socket hooks (lr_sock.c; implemented in lr_upstream_fd.c) ---
 *
 * The client owns its wake-up descriptor (an eventfd), every socket libcurl
 * opens for it and the socketpairs libcurl makes on its thread.  They are
 * close-on-exec and sit at or above a floor (256, lower under a small
 * RLIMIT_NOFILE), away from the numbers apps dup2() onto.  Once the client
 * has run in this process (lr_up_watching), the close hooks call these:
 *   close(one of ours)          -> 0, left open (libcurl's own closes pass)
 *   close_range / closefrom     -> the range minus ours
 *   dup2/dup3 onto our wake-up  -> ours moves to another number first
 *   dup2/dup3 onto a libcurl    -> the app's dup2 happens (the number is its
 *     socket or socketpair end     to choose); the number is marked stolen
 *                                  first, and from then on the client's
 *                                  send/recv on it fail with EBADF, so libcurl
 *                                  never reads or writes the app's file: its
 *                                  transfers on that connection fail
 *                                  (LR_OUT_TRANSPORT) and its close of the
 *                                  number leaves the app's file open.
 * In a forked child whose client never started, lr_up_watching() is 0: the
 * hooks close what they are asked to.
 */
extern _Atomic int lr_up_watch;

/* 1 once the client has run in this process: one load (acquire, a plain
 * load on x86: the table it guards is made before it is set). */
static inline int lr_up_watching(void)
{
	return atomic_load_explicit(&lr_up_watch, memory_order_acquire);
}

/* Any thread: fd (made close-on-exec by the caller) becomes one of the
 * client's descriptors, guarded like them (moved above the floor, kept
 * open through the app's close calls, closed in a forked child); the
 * shim's served connections use it for their end of the socketpair
 * (lr_serve.h).  Returns the number to use from now on (fd itself when no
 * number above the floor is free), or -1 (fd was closed).
 * lr_upfd_release closes it and forgets it. */
int lr_upfd_adopt(int fd);
void lr_upfd_release(int fd);

/* 1 for descriptors the client owns right now (which the app's close calls
 * leave open). */
int lr_up_owns_fd(int fd);

/* close(fd) for the close hook: `real` unless fd is ours (then 0 and fd
 * stays open).  caller: the hook's return address (libcurl closing its own
 * socketpair goes through).  errno as `real` leaves it. */
int lr_up_close(int fd, const void *caller, int (*real)(int));

/* close_range(first, last, flags) without CLOSE_RANGE_CLOEXEC, and
 * closefrom(first) (last = ~0u): the real calls on the pieces of the range
 * between our descriptors.  range or from may be NULL (then the pieces are
 * closed one by one, or with the other).  0, or -1 with errno of the first
 * piece that failed. */
int lr_up_close_range(unsigned first, unsigned last, int flags,
		      int (*range)(unsigned, unsigned, int), void (*from)(int));

/* Brackets the real dup2/dup3 onto fd: begin moves our wake-up descriptor
 * out of the way or marks a libcurl descriptor stolen, and keeps our table
 * still until end.  Pass begin's value to end. */
int lr_up_dup_begin(int fd);
void lr_up_dup_end(int token);

/* send/recv on the client's thread (lr_up_self): the real call, or -1 with
 * EBADF on a number the app has taken from libcurl.  The socket hooks'
 * connection tracking is bypassed on that thread: a sink callback must
 * not expect a send() of its own to be framed as the app's. */
ssize_t lr_up_send(int fd, const void *buf, size_t n, int flags,
		   ssize_t (*real)(int, const void *, size_t, int));
ssize_t lr_up_recv(int fd, void *buf, size_t n, int flags, ssize_t (*real)(int, void *, size_t, int));

#endif
