/*
 * lr_resp.h - a tiny Redis client: RESP2 over one TCP connection, for the
 * few commands the fleet counters need (AUTH, SELECT, INCRBY, EXPIRE, GET,
 * SET).  No library: the shim must not gain a link-time dependency, and
 * five commands do not justify loading hiredis.
 *
 * Invariants:
 *   - every wait is bounded by the caller's timeout (non-blocking socket,
 *     poll), so a slow or dead Redis costs the calling thread at most that;
 *   - the socket calls are made as system calls, not through the shim's
 *     own hooks of connect/send/recv (this client is not an app's traffic);
 *   - each system call on the descriptor is made with `mu` held and the
 *     descriptor checked first, and lr_resp_closing() (called when the host
 *     closes descriptors: close, dup2 over it, closefrom) forgets it under
 *     the same lock: so we never write to a number the host has reused for
 *     a file of its own.  mu is never held across a wait.
 *   - replies are scalars only (no arrays); a string longer than
 *     LR_RESP_STR_MAX is an error, as is any reply larger than the buffer.
 *   - with TLS (lr_resp_connect_tls, shim/lr_resp_tls.c) OpenSSL never
 *     touches the descriptor: it reads and writes memory buffers, and the
 *     bytes move through the same guarded system calls and bounded waits.
 */
#ifndef LR_RESP_H
#define LR_RESP_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#define LR_RESP_STR_MAX 128
#define LR_RESP_OUT_MAX (256u << 10) /* commands queued before one exchange */

typedef struct {
	char type;              /* '+' status, '-' error, ':' integer, '$' string */
	int nil;                /* a '$' reply with no value (key absent) */
	long long num;          /* ':' */
	char str[LR_RESP_STR_MAX]; /* '+', '-', '$' (NUL-terminated, may be cut for '-') */
} lr_resp_reply;

typedef struct {
	_Atomic int fd;         /* -1: not connected */
	pthread_mutex_t mu;     /* see above */
	char in[4096];
	size_t inlen;
	char *out;
	size_t outlen, outcap;
	void *tls;              /* lr_resp_tls.c's session; NULL: plain TCP */
} lr_resp;

/* Initialises r (not connected). */
void lr_resp_init(lr_resp *r);

/* Connects to host (an IP address or a name) at port within timeout_ms.
 * Returns 0, or -1 (r stays unconnected; errno says why). */
int lr_resp_connect(lr_resp *r, const char *host, unsigned port, int timeout_ms);

/* lr_resp_connect, then a TLS handshake within the same timeout_ms: the
 * server's certificate is checked against ca_file (NULL: the system's
 * trust) and its name against host; SNI is host.  OpenSSL (libssl.so.3)
 * is loaded at the first call.  Returns 0, or -1 with a short reason in
 * why[cap] (r stays unconnected; nothing was sent but the handshake). */
int lr_resp_connect_tls(lr_resp *r, const char *host, unsigned port, const char *ca_file, int timeout_ms,
			char *why, size_t cap);

/* Queues one command of argc arguments (binary-safe: lens[i] bytes of
 * argv[i]; lens NULL: strlen).  Returns 0, or -1 past LR_RESP_OUT_MAX. */
int lr_resp_append(lr_resp *r, int argc, const char *const *argv, const size_t *lens);

/* Sends what is queued and reads n replies into rep[], all within
 * timeout_ms.  Returns the number of replies read (n on success); fewer
 * means the connection failed or timed out, and it is closed: replies past
 * that count never came (their commands may or may not have run). */
int lr_resp_exchange(lr_resp *r, lr_resp_reply *rep, int n, int timeout_ms);

/* Closes the connection (if any) and drops what is queued. */
void lr_resp_close(lr_resp *r);

/* The host is closing descriptors first..last: if ours is among them it
 * is forgotten (not closed: the host does that).  Safe from any thread. */
void lr_resp_closing(lr_resp *r, unsigned first, unsigned last);

/* Frees the queue buffer (after lr_resp_close). */
void lr_resp_free(lr_resp *r);

/* --- between lr_resp.c and lr_resp_tls.c only ----------------------------- */

/* The monotonic clock in milliseconds (the deadlines above). */
long long lr_resp_now_ms(void);
/* One guarded system call on r's descriptor: op 0 send, 1 recv.  As the
 * system call returns (-1 and errno; EBADF once the host closed it). */
long lr_resp_sys(lr_resp *r, int op, void *buf, size_t n);
/* Waits for r's descriptor to be ready for events until deadline: 1 ready,
 * 0 timed out, -1 error. */
int lr_resp_wait(lr_resp *r, short events, long long deadline);
/* The TLS side of send and recv: as lr_resp_sys (recv: -1 EAGAIN means
 * wait for POLLIN); send sends all of buf or fails.  lr_resp_tls_end frees
 * the session (lr_resp_close calls it). */
long lr_resp_tls_send(lr_resp *r, const void *buf, size_t n, long long deadline);
long lr_resp_tls_recv(lr_resp *r, void *buf, size_t n, long long deadline);
void lr_resp_tls_end(lr_resp *r);

#endif
