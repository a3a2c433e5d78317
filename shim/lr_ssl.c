/*
 * lr_ssl.c - the TLS hooks: the plaintext an app hands OpenSSL
 * (SSL_write, SSL_write_ex) and gets back (SSL_read, SSL_read_ex) goes
 * through the same connection engine as plain sockets (lr_conn.h), with
 * transport "tls".
 *
 * libssl is never linked: the real functions are found at first use with
 * RTLD_NEXT, or, when the app's libssl was loaded RTLD_LOCAL (Python's
 * _ssl module), by its soname with RTLD_NOLOAD.  Sessions are kept in a
 * hash keyed by the SSL pointer from their first write until SSL_free.
 * A session that libcurl drives, or made while no table or audit file
 * exists, is remembered as ignored and costs one lookup per call.
 *
 * A request a session cannot carry (another host, a fallback, the cache)
 * is answered by the shim's own client (lr_serve.h): the served session's
 * reads come from the shim.  A connection a route claims whole has its
 * handshake completed by the shim (SSL_connect, SSL_do_handshake;
 * lr_claim.h) and every request of it served.
 */
#include "lr_claim.h"
#include "lr_conn.h"
#include "lr_fork.h"
#include "lr_curl_sym.h"
#include "lr_log.h"
#include "lr_serve.h"
#include "lr_shim.h"
#include "lr_upstream.h"

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uthash.h>

/* OpenSSL's values (stable across 1.1 and 3.x) */
#define SSL_ERROR_WANT_READ 2
#define SSL_ERROR_WANT_WRITE 3
#define SSL_ERROR_SYSCALL 5
#define SSL_ERROR_ZERO_RETURN 6

#define MAX_SESSIONS 65536 /* past this, new sessions are not tracked */

typedef struct {
	void *ssl;
	lr_conn *c;            /* NULL: ignored */
	UT_hash_handle hh;
} session;

static session *sessions;
static unsigned nsessions;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static struct {
	int (*write)(void *, const void *, int);
	int (*write_ex)(void *, const void *, size_t, size_t *);
	int (*read)(void *, void *, int);
	int (*read_ex)(void *, void *, size_t, size_t *);
	void (*free)(void *);
	int (*get_error)(const void *, int);
	int (*get_fd)(const void *);
	int (*shutdown)(void *);
	int (*peek)(void *, void *, int);
	int (*peek_ex)(void *, void *, size_t, size_t *);
	void *(*get_ctx)(const void *);
	void *(*ctx_store)(const void *);
	int (*do_handshake)(void *);
	int (*connect)(void *);
} R;

static __thread int inside; /* this thread is in one of our SSL_* calls */
static _Atomic int nserved; /* sessions served by the shim (lr_serve.h): SSL_get_error looks */

static void *sym(const char *name)
{
	static const char *const sonames[] = {"libssl.so.3", "libssl.so.1.1", "libssl.so"};
	void *f = dlsym(RTLD_NEXT, name), *h;
	size_t i;

	for (i = 0; !f && i < sizeof(sonames) / sizeof(sonames[0]); i++) {
		h = dlopen(sonames[i], RTLD_NOLOAD | RTLD_LAZY);
		if (h) {
			f = dlsym(h, name);
			dlclose(h);
		}
	}
	return f;
}

/* Resolved at first use, retried while missing (the app loads libssl
 * when it likes). */
static int resolve(void)
{
	if (R.get_error && R.get_fd)
		return 0;
	*(void **)&R.write = sym("SSL_write");
	*(void **)&R.write_ex = sym("SSL_write_ex");
	*(void **)&R.read = sym("SSL_read");
	*(void **)&R.read_ex = sym("SSL_read_ex");
	*(void **)&R.free = sym("SSL_free");
	*(void **)&R.get_fd = sym("SSL_get_fd");
	*(void **)&R.get_error = sym("SSL_get_error");
	*(void **)&R.shutdown = sym("SSL_shutdown");
	*(void **)&R.peek = sym("SSL_peek");
	*(void **)&R.peek_ex = sym("SSL_peek_ex");
	*(void **)&R.get_ctx = sym("SSL_get_SSL_CTX");
	*(void **)&R.ctx_store = sym("SSL_CTX_get_cert_store");
	*(void **)&R.do_handshake = sym("SSL_do_handshake");
	*(void **)&R.connect = sym("SSL_connect");
	return R.get_error && R.get_fd ? 0 : -1;
}

/* --- how a session sends ------------------------------------------------------- */

static ssize_t io_send(lr_conn *c, const char *p, size_t n)
{
	size_t w = 0;
	int rc, err;

	if (n > INT32_MAX)
		n = INT32_MAX;
	if (R.write_ex) {
		rc = R.write_ex(c->tls, p, n, &w);
	} else {
		rc = R.write(c->tls, p, (int)n);
		w = rc > 0 ? (size_t)rc : 0;
		rc = rc > 0;
	}
	if (rc == 1)
		return (ssize_t)w;
	err = R.get_error(c->tls, 0);
	c->flags = err; /* which way to wait */
	errno = (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) ? EAGAIN : EIO;
	return -1;
}

static int io_wait(lr_conn *c, int timeout_ms)
{
	struct pollfd pf = {.fd = R.get_fd(c->tls)};
	int r;

	pf.events = c->flags == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
	if (pf.fd < 0)
		return -1;
	do
		r = poll(&pf, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r == 1 && !(pf.revents & POLLNVAL) ? 0 : -1;
}

static void io_shut(lr_conn *c)
{
	int fd = R.get_fd(c->tls);

	if (fd >= 0)
		shutdown(fd, SHUT_WR);
}

static const lr_conn_io tls_io = {io_send, io_wait, io_shut};

/* --- sessions ---------------------------------------------------------------- */

/* The session's connection with a reference for the caller, or NULL when
 * it is ignored.  `caller` decides a session seen for the first time. */
static lr_conn *acquire(void *ssl, const void *caller, int create)
{
	session *s;
	lr_conn *c = NULL;

	pthread_mutex_lock(&mu);
	HASH_FIND_PTR(sessions, &ssl, s);
	if (!s && create && nsessions < MAX_SESSIONS && (s = calloc(1, sizeof(*s)))) {
		s->ssl = ssl;
		if (!lr_caller_is_curl(caller) && lr_conn_wanted())
			s->c = lr_conn_new(LR_CONN_TLS, -1, ssl, &tls_io);
		if (s->c && lr_claim_of(R.get_fd(ssl), s->c->claimed_host, s->c->route, s->c->claim_peer))
			s->c->claimed = 1; /* its handshake ended in the shim: every request is ours */
		HASH_ADD_PTR(sessions, ssl, s);
		nsessions++;
	}
	if (s && s->c) {
		c = s->c;
		c->refs++;
	}
	pthread_mutex_unlock(&mu);
	return c;
}

static void release(lr_conn *c)
{
	int last;

	pthread_mutex_lock(&mu);
	last = --c->refs == 0;
	pthread_mutex_unlock(&mu);
	if (last)
		lr_conn_free(c);
}

/* A session no longer framed: keep it as ignored. */
static void ignore(void *ssl)
{
	session *s;
	lr_conn *c = NULL;

	pthread_mutex_lock(&mu);
	HASH_FIND_PTR(sessions, &ssl, s);
	if (s) {
		c = s->c;
		s->c = NULL;
	}
	pthread_mutex_unlock(&mu);
	if (c)
		release(c);
}

/* --- the hooks ---------------------------------------------------------------- */

/* A session whose plaintext is not ours to frame: remembered as ignored. */
static void ignore_session(void *ssl)
{
	session *s;

	pthread_mutex_lock(&mu);
	HASH_FIND_PTR(sessions, &ssl, s);
	if (!s && nsessions < MAX_SESSIONS && (s = calloc(1, sizeof(*s)))) {
		s->ssl = ssl;
		HASH_ADD_PTR(sessions, ssl, s);
		nsessions++;
	}
	pthread_mutex_unlock(&mu);
}

/* A claimed connection's handshake (lr_claim.h): the shim's when the
 * session is on the socket (1 done, -1 failed); a session on memory BIOs
 * goes on, trusting our endpoint, whose plaintext it is.  0: as usual. */
static int claimed_handshake(void *ssl, int connect_state)
{
	int fd;

	if (lr_up_self || !lr_claim_pending())
		return 0;
	fd = R.get_fd(ssl);
	if (fd < 0) {
		if (lr_claim_trust(ssl))
			ignore_session(ssl);
		return 0;
	}
	return lr_claim_handshake(ssl, fd, connect_state);
}

/* OpenSSL makes the handshake inside the first SSL_read or SSL_write of a
 * session that was not told to (Node.js drives its handshake that way):
 * the same as in SSL_do_handshake.  -1: the claimed handshake failed. */
static inline int implicit_handshake(void *ssl)
{
	return __builtin_expect(lr_claim_pending(), 0) ? claimed_handshake(ssl, 0) : 0;
}


/* The shim's own client's sessions (its thread: lr_up_self) are libcurl's:
 * the hooks hand them straight to OpenSSL, without the session table.
 *
 * Returns bytes taken, or -1 (the real session's error state says why). */
static ssize_t out(lr_conn *c, const void *buf, size_t n)
{
	struct iovec v = {(void *)buf, n};
	ssize_t r;
	int off;

	int e, fd;

	lr_up_lead_arm();
	pthread_mutex_lock(&c->mu);
	r = lr_conn_write(c, &v, 1);
	off = lr_conn_done(c); /* not while OpenSSL still has our record to retry */
	pthread_mutex_unlock(&c->mu);
	fd = lr_up_lead_pending() ? lr_ssl_fd(c->tls) : -1;
	if (off)
		ignore(c->tls);
	release(c);
	e = errno;
	lr_up_lead(fd);
	errno = e;
	return r;
}

static int ssl_write_impl(void *ssl, const void *buf, int num)
{
	lr_conn *c;
	ssize_t r;

	if (resolve() < 0 || !R.write || implicit_handshake(ssl) < 0)
		return -1;
	if (num <= 0 || lr_up_self || lr_disabled() || !(c = acquire(ssl, __builtin_return_address(0), 1)))
		return R.write(ssl, buf, num);
	r = out(c, buf, (size_t)num);
	return r > 0 ? (int)r : -1;
}

static int ssl_write_ex_impl(void *ssl, const void *buf, size_t num, size_t *written)
{
	lr_conn *c;
	ssize_t r;

	if (resolve() < 0 || !R.write_ex || implicit_handshake(ssl) < 0)
		return 0;
	if (!num || lr_up_self || lr_disabled() || !(c = acquire(ssl, __builtin_return_address(0), 1)))
		return R.write_ex(ssl, buf, num, written);
	r = out(c, buf, num);
	if (r <= 0)
		return 0;
	if (written)
		*written = (size_t)r;
	return 1;
}

/* Our refusal, when due. */
static size_t inject(lr_conn *c, void *buf, size_t n)
{
	size_t k;

	pthread_mutex_lock(&c->rmu);
	k = lr_conn_inject(c, buf, n, 0);
	pthread_mutex_unlock(&c->rmu);
	return k;
}

/* After a real read: n bytes (rc 1), or the session's end. */
static size_t received(lr_conn *c, void *buf, size_t cap, int ok, size_t n, int rc)
{
	int e = errno, err = ok ? 0 : R.get_error(c->tls, rc);
	size_t k = 0;

	pthread_mutex_lock(&c->rmu);
	if (ok)
		lr_conn_read(c, buf, n);
	else if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && e == 0))
		lr_conn_read(c, NULL, 0);
	pthread_mutex_unlock(&c->rmu);
	if (!ok && err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
		k = inject(c, buf, cap);
	errno = e;
	return k;
}

/* A served session (lr_serve.h): the answer comes from our socketpair,
 * not from the session.  Returns bytes (the answer framer has seen them),
 * or 0 with *rc the SSL_read result and c->tls_err what SSL_get_error
 * will say: WANT_READ for EAGAIN, SYSCALL at our end (after our refusal,
 * if one is due, which it returns instead). */
static size_t served_read(lr_conn *c, void *buf, size_t n, int *rc)
{
	ssize_t r = lr_serve_read(c, buf, n);
	int e = errno;

	/* our end closes without a close_notify (there is no TLS on the pair):
	 * reported as OpenSSL reports a peer that just closes, SYSCALL with
	 * errno 0, which Python and Ruby read as the end of the stream */
	*rc = r > 0 ? (int)r : r == 0 ? 0 : -1;
	if (r == 0)
		e = 0;
	c->tls_err = r > 0 ? 0 : e == EAGAIN || e == EWOULDBLOCK ? SSL_ERROR_WANT_READ : SSL_ERROR_SYSCALL;
	pthread_mutex_lock(&c->rmu);
	if (r > 0)
		lr_conn_read(c, buf, (size_t)r);
	else if (r == 0)
		lr_conn_read(c, NULL, 0);
	pthread_mutex_unlock(&c->rmu);
	if (r == 0 && (r = (ssize_t)inject(c, buf, n)) > 0)
		c->tls_err = 0;
	errno = e;
	return r > 0 ? (size_t)r : 0;
}

static int ssl_read_impl(void *ssl, void *buf, int num)
{
	lr_conn *c;
	size_t k;
	int rc;

	if (resolve() < 0 || !R.read || implicit_handshake(ssl) < 0)
		return -1;
	if (num <= 0 || lr_up_self || !(c = acquire(ssl, NULL, 0)))
		return R.read(ssl, buf, num);
	if ((k = inject(c, buf, (size_t)num)) > 0) {
		release(c);
		return (int)k;
	}
	if (c->served) {
		k = served_read(c, buf, (size_t)num, &rc);
		release(c);
		return k ? (int)k : rc;
	}
	rc = R.read(ssl, buf, num);
	k = received(c, buf, (size_t)num, rc > 0, rc > 0 ? (size_t)rc : 0, rc);
	release(c);
	return k ? (int)k : rc;
}

static int ssl_read_ex_impl(void *ssl, void *buf, size_t num, size_t *readbytes)
{
	lr_conn *c;
	size_t k, got = 0;
	int rc;

	if (resolve() < 0 || !R.read_ex || implicit_handshake(ssl) < 0)
		return 0;
	if (!num || lr_up_self || !(c = acquire(ssl, NULL, 0)))
		return R.read_ex(ssl, buf, num, readbytes);
	if ((k = inject(c, buf, num)) == 0 && c->served) {
		k = served_read(c, buf, num, &rc);
		if (!k) {
			release(c);
			if (readbytes)
				*readbytes = 0;
			return 0;
		}
	} else if (k == 0) {
		rc = R.read_ex(ssl, buf, num, &got);
		k = received(c, buf, num, rc == 1, got, rc);
		if (!k) {
			release(c);
			if (readbytes)
				*readbytes = got;
			return rc;
		}
	}
	release(c);
	if (readbytes)
		*readbytes = k;
	return 1;
}

LR_EXPORT void SSL_free(void *ssl)
{
	session *s;
	lr_conn *c = NULL;

	if (resolve() < 0 || !R.free)
		return;
	pthread_mutex_lock(&mu);
	HASH_FIND_PTR(sessions, &ssl, s);
	if (s) {
		HASH_DEL(sessions, s);
		nsessions--;
		c = s->c;
		free(s);
	}
	pthread_mutex_unlock(&mu);
	if (c) {
		pthread_mutex_lock(&c->mu);
		c->tls = NULL;
		c->state = LR_CONN_OFF;
		pthread_mutex_unlock(&c->mu);
		release(c);
	}
	R.free(ssl);
}

/* SSL_peek on a session with our bytes to read (a served session, or our
 * refusal due): those bytes, left in place.  Returns them, or 0 with *rc
 * (served: the socketpair's state) when there are none; -2: not ours to
 * answer (the real SSL_peek). */
static int peek_ours(void *ssl, void *buf, size_t n, int *rc)
{
	lr_conn *c = n ? acquire(ssl, NULL, 0) : NULL;
	ssize_t r;
	size_t k;
	int fd, e;

	if (!c)
		return -2;
	pthread_mutex_lock(&c->rmu);
	k = lr_conn_inject(c, buf, n, 1);
	pthread_mutex_unlock(&c->rmu);
	if (k || !c->served) {
		release(c);
		return k ? (int)(k > INT32_MAX ? INT32_MAX : k) : -2;
	}
	fd = R.get_fd(ssl);
	r = fd < 0 ? -1 : recv(fd, buf, n, MSG_PEEK);
	e = r == 0 ? 0 : errno;
	c->tls_err = r > 0 ? 0 : (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) ? SSL_ERROR_WANT_READ
									  : SSL_ERROR_SYSCALL;
	release(c);
	*rc = r > 0 ? (int)r : r == 0 ? 0 : -1;
	errno = e == EINTR ? EAGAIN : e;
	return r > 0 ? (int)r : 0;
}

LR_EXPORT int SSL_peek(void *ssl, void *buf, int num)
{
	int rc = 0, k;

	if (resolve() < 0 || !R.peek)
		return -1;
	if (num <= 0 || (k = peek_ours(ssl, buf, (size_t)num, &rc)) == -2)
		return R.peek(ssl, buf, num);
	return k ? k : rc;
}

LR_EXPORT int SSL_peek_ex(void *ssl, void *buf, size_t num, size_t *readbytes)
{
	int rc = 0, k;

	if (resolve() < 0 || !R.peek_ex)
		return 0;
	if (!num || (k = peek_ours(ssl, buf, num, &rc)) == -2)
		return R.peek_ex(ssl, buf, num, readbytes);
	if (readbytes)
		*readbytes = k > 0 ? (size_t)k : 0;
	return k > 0;
}

/* A served session's last read error is ours, not the session's. */
LR_EXPORT int SSL_get_error(const void *ssl, int ret)
{
	lr_conn *c;
	int err;

	if (resolve() < 0)
		return SSL_ERROR_SYSCALL;
	if (!atomic_load_explicit(&nserved, memory_order_relaxed) || ret > 0 ||
	    !(c = acquire((void *)ssl, NULL, 0)))
		return R.get_error(ssl, ret);
	err = c->served ? c->tls_err : -1;
	release(c);
	return err >= 0 ? err : R.get_error(ssl, ret);
}

/* Nothing of a served session goes to its socket (our socketpair): its
 * peer is gone, and there is no TLS on the pair. */
LR_EXPORT int SSL_shutdown(void *ssl)
{
	lr_conn *c;
	int served;

	if (resolve() < 0 || !R.shutdown)
		return -1;
	if (!atomic_load_explicit(&nserved, memory_order_relaxed) || !(c = acquire(ssl, NULL, 0)))
		return R.shutdown(ssl);
	served = c->served;
	release(c);
	return served ? 1 : R.shutdown(ssl);
}

static int ssl_do_handshake_impl(void *ssl)
{
	int r;

	if (resolve() < 0 || !R.do_handshake)
		return -1;
	if ((r = claimed_handshake(ssl, 0)) != 0)
		return r > 0 ? 1 : -1;
	return R.do_handshake(ssl);
}

static int ssl_connect_impl(void *ssl)
{
	int r;

	if (resolve() < 0 || !R.connect)
		return -1;
	if ((r = claimed_handshake(ssl, 1)) != 0)
		return r > 0 ? 1 : -1;
	return R.connect(ssl);
}

/* The exported hooks: OpenSSL writes a handshake's records to the socket
 * inside these calls, which lr_ssl_inside() tells the socket hooks. */
LR_EXPORT int SSL_write(void *ssl, const void *buf, int num)
{
	int r;

	inside++;
	r = ssl_write_impl(ssl, buf, num);
	inside--;
	return r;
}

LR_EXPORT int SSL_write_ex(void *ssl, const void *buf, size_t num, size_t *written)
{
	int r;

	inside++;
	r = ssl_write_ex_impl(ssl, buf, num, written);
	inside--;
	return r;
}

LR_EXPORT int SSL_read(void *ssl, void *buf, int num)
{
	int r;

	inside++;
	r = ssl_read_impl(ssl, buf, num);
	inside--;
	return r;
}

LR_EXPORT int SSL_read_ex(void *ssl, void *buf, size_t num, size_t *readbytes)
{
	int r;

	inside++;
	r = ssl_read_ex_impl(ssl, buf, num, readbytes);
	inside--;
	return r;
}

LR_EXPORT int SSL_do_handshake(void *ssl)
{
	int r;

	inside++;
	r = ssl_do_handshake_impl(ssl);
	inside--;
	return r;
}

LR_EXPORT int SSL_connect(void *ssl)
{
	int r;

	inside++;
	r = ssl_connect_impl(ssl);
	inside--;
	return r;
}

int lr_ssl_inside(void)
{
	return inside;
}

int lr_ssl_fd(void *ssl)
{
	return ssl && resolve() == 0 ? R.get_fd(ssl) : -1;
}

void *lr_ssl_store(void *ssl)
{
	void *ctx;

	if (!ssl || resolve() < 0 || !R.get_ctx || !R.ctx_store || !(ctx = R.get_ctx(ssl)))
		return NULL;
	return R.ctx_store(ctx);
}

void lr_ssl_served(void)
{
	atomic_fetch_add(&nserved, 1);
}

void lr_ssl_atfork(int phase)
{
	lr_fork_mutex(&mu, phase);
}
