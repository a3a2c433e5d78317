/*
 * lr_tlsend.c - the shim's own TLS endpoint (see lr_tlsend.h).
 *
 * One thread, one poll() over every session: the shim's end of the app's
 * loopback connection (`srv`, encrypted) and the end of the socketpair
 * the shim's client writes each answer into (`ans`, plaintext: lr_serve
 * sees it as the app's end of a served connection).  Per session:
 *   handshake   SSL_do_handshake on srv until done;
 *   requests    SSL_read on srv -> lr_conn_write: framed, decided, and
 *               handed to the shim's client, as on any served connection;
 *   answers     read ans -> lr_conn_read (the pairing, a refusal's turn)
 *               -> SSL_write on srv; ans at EOF (Connection: close, a
 *               refusal) -> the refusal if one is due, close_notify, close.
 * The app closing its side ends the session.  Encrypted output the socket
 * cannot take waits in OpenSSL (SSL_write is retried with the same bytes):
 * ans is not read meanwhile, so a slow app slows the answer, nothing more.
 */
#include "lr_tlsend.h"
#include "lr_claim.h"
#include "lr_conn.h"
#include "lr_fork.h"
#include "lr_log.h"
#include "lr_serve.h"
#include "lr_upstream.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/ssl.h>

#define MAX_SESSIONS 1024
#define BUF 16384

static struct {
	int ok;
	SSL *(*ssl_new)(SSL_CTX *);
	void (*ssl_free)(SSL *);
	int (*set_fd)(SSL *, int);
	void (*accept_state)(SSL *);
	int (*do_handshake)(SSL *);
	int (*read)(SSL *, void *, int);
	int (*write)(SSL *, const void *, int);
	int (*get_error)(const SSL *, int);
	int (*shutdown)(SSL *);
	void (*err_clear)(void);
} O;

typedef struct session {
	int srv, ans;       /* encrypted side (ours of the app's connection), answers side */
	SSL *ssl;
	lr_conn *c;
	int shaken;         /* handshake done */
	int ans_eof;        /* the answers' side is at its end */
	char *out;          /* plaintext SSL_write must be retried with */
	int out_len;
	int want_write;     /* OpenSSL waits for srv to take bytes */
	int dead;
	char host[256];
	struct session *next;
} session;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static session *incoming;   /* handed over, not yet the thread's */
static int wake_fd = -1;
static int running;

static void o_resolve(void)
{
	int ok = 1;

#define S(f, n) (*(void **)&O.f = lr_claim_sym(n), ok &= O.f != NULL)
	S(ssl_new, "SSL_new"); S(ssl_free, "SSL_free"); S(set_fd, "SSL_set_fd");
	S(accept_state, "SSL_set_accept_state"); S(do_handshake, "SSL_do_handshake"); S(read, "SSL_read");
	S(write, "SSL_write"); S(get_error, "SSL_get_error"); S(shutdown, "SSL_shutdown");
	S(err_clear, "ERR_clear_error");
#undef S
	O.ok = ok;
}

/* --- how an endpoint connection "sends": it never does in-band ------------------- */

static ssize_t io_send(lr_conn *c, const char *p, size_t n)
{
	(void)c, (void)p, (void)n;
	errno = EPIPE;
	return -1;
}

static int io_wait(lr_conn *c, int timeout_ms)
{
	(void)c, (void)timeout_ms;
	return -1;
}

static const lr_conn_io endpoint_io = {io_send, io_wait, NULL};

/* --- sessions ------------------------------------------------------------------------ */

static void session_free(session *s)
{
	if (s->ssl)
		O.ssl_free(s->ssl);
	if (s->c) {
		atomic_store(&s->c->closed, 1);
		lr_conn_free(s->c); /* the session held its only reference */
	}
	lr_upfd_release(s->srv);
	lr_upfd_release(s->ans);
	free(s->out);
	free(s);
}

/* Queues plaintext for the app; 0, or -1 (the session is over). */
static int send_app(session *s, const char *p, int n)
{
	int r, err;

	if (!s->out) {
		if (!(s->out = malloc((size_t)n)))
			return -1;
		memcpy(s->out, p, (size_t)n);
		s->out_len = n;
	}
	r = O.write(s->ssl, s->out, s->out_len);
	if (r > 0) {
		free(s->out);
		s->out = NULL;
		s->want_write = 0;
		return 0;
	}
	err = O.get_error(s->ssl, r);
	O.err_clear();
	if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
		s->want_write = 1;
		return 0;
	}
	return -1;
}

/* Our refusal, if one is due now: to the app. */
static int send_inject(session *s)
{
	char buf[BUF];
	size_t k;

	pthread_mutex_lock(&s->c->rmu);
	k = lr_conn_inject(s->c, buf, sizeof(buf), 0);
	pthread_mutex_unlock(&s->c->rmu);
	return k ? send_app(s, buf, (int)k) : 0;
}

/* The app's side is readable: the handshake, or requests. */
static void on_srv(session *s)
{
	char buf[BUF];
	struct iovec v;
	int r, err;

	if (!s->shaken) {
		r = O.do_handshake(s->ssl);
		if (r == 1) {
			s->shaken = 1;
			lr_log(LR_LOG_DEBUG, "claimed connection to %s: TLS handshake done by the shim's endpoint",
			       s->host);
		} else {
			err = O.get_error(s->ssl, r);
			O.err_clear();
			if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
				lr_log(LR_LOG_ERROR, "claimed connection to %s: the app's TLS refused the shim's "
				       "certificate or failed (does the app trust the shim's CA?)", s->host);
				s->dead = 1;
			}
			return;
		}
	}
	while (!s->dead && !s->out) {
		r = O.read(s->ssl, buf, sizeof(buf));
		if (r <= 0) {
			err = O.get_error(s->ssl, r);
			O.err_clear();
			if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
				s->dead = 1; /* the app closed, or its TLS failed */
			return;
		}
		v.iov_base = buf;
		v.iov_len = (size_t)r;
		pthread_mutex_lock(&s->c->mu);
		s->c->flags = 0;
		lr_conn_write(s->c, &v, 1);
		pthread_mutex_unlock(&s->c->mu);
		if (send_inject(s) < 0)
			s->dead = 1;
	}
}

/* Answer bytes from the shim's client: to the app. */
static void on_ans(session *s)
{
	char buf[BUF];
	ssize_t r = syscall(SYS_recvfrom, s->ans, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL);

	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	pthread_mutex_lock(&s->c->rmu);
	lr_conn_read(s->c, r > 0 ? buf : NULL, r > 0 ? (size_t)r : 0);
	pthread_mutex_unlock(&s->c->rmu);
	lr_serve_pump(s->c);
	if (r > 0) {
		if (send_app(s, buf, (int)r) < 0)
			s->dead = 1;
		return;
	}
	/* the end of what the client sends on this connection */
	s->ans_eof = 1;
	if (send_inject(s) < 0)
		s->dead = 1;
}

/* Its end: a close_notify when all was said, then the app sees EOF. */
static void finish(session *s)
{
	if (s->ans_eof && !s->out && s->shaken) {
		O.shutdown(s->ssl);
		O.err_clear();
		s->dead = 1;
	}
}

/* --- the thread -------------------------------------------------------------------------- */

static void *run(void *arg)
{
	session *list = NULL, **pp, *s;
	struct pollfd *pf = NULL;
	size_t cap = 0, n;
	uint64_t v;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&mu);
		while (incoming) {
			s = incoming;
			incoming = s->next;
			s->next = list;
			list = s;
		}
		pthread_mutex_unlock(&mu);
		for (n = 0, s = list; s; s = s->next)
			n++;
		if (n + 1 > cap) {
			struct pollfd *np = realloc(pf, (n + 1) * 2 * sizeof(*pf));
			if (np) {
				pf = np;
				cap = (n + 1) * 2;
			}
		}
		if (!pf)
			break;
		pf[0] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
		n = 1;
		for (s = list; s && n + 2 <= cap; s = s->next) {
			pf[n++] = (struct pollfd){.fd = s->srv, .events = (short)(POLLIN | (s->want_write ? POLLOUT : 0))};
			pf[n++] = (struct pollfd){.fd = s->out || s->ans_eof ? -1 : s->ans, .events = POLLIN};
		}
		if (poll(pf, (nfds_t)n, -1) < 0 && errno != EINTR)
			break;
		if (pf[0].revents & POLLIN)
			(void)!read(wake_fd, &v, sizeof(v));
		n = 1;
		for (s = list; s && n + 2 <= cap; s = s->next, n += 2) {
			if (s->out && (pf[n].revents & (POLLOUT | POLLIN)) && send_app(s, NULL, 0) < 0)
				s->dead = 1;
			if (!s->dead && (pf[n].revents & (POLLIN | POLLHUP | POLLERR)))
				on_srv(s);
			if (!s->dead && !s->out && (pf[n + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				on_ans(s);
			if (!s->dead)
				finish(s);
		}
		for (pp = &list; *pp;) {
			s = *pp;
			if (s->dead) {
				*pp = s->next;
				session_free(s);
			} else {
				pp = &s->next;
			}
		}
	}
	lr_log(LR_LOG_ERROR, "the shim's TLS endpoint stopped");
	return NULL;
}

static int start_locked(void)
{
	pthread_t t;
	pthread_attr_t at;
	sigset_t all, old;
	int rc;

	if (running)
		return 0;
	if (wake_fd < 0) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0)
			return -1;
		wake_fd = lr_upfd_adopt(fd);
	}
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread starts with every signal blocked */
	rc = pthread_create(&t, &at, run, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	if (rc != 0)
		return -1;
	running = 1;
	return 0;
}

int lr_tlsend_adopt(int srv, void *ctx, const char *host, const char *route, const char *peer)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	session *s = NULL;
	int sp[2] = {-1, -1};
	uint64_t one = 1;

	pthread_once(&once, o_resolve);
	if (!O.ok || !(s = calloc(1, sizeof(*s))))
		goto fail;
	s->srv = srv;
	s->ans = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		goto fail;
	s->ans = lr_upfd_adopt(sp[0]);
	sp[0] = -1;
	snprintf(s->host, sizeof(s->host), "%s", host);
	fcntl(srv, F_SETFL, fcntl(srv, F_GETFL) | O_NONBLOCK);
	fcntl(s->ans, F_SETFL, fcntl(s->ans, F_GETFL) | O_NONBLOCK);
	if (!(s->ssl = O.ssl_new(ctx)) || !O.set_fd(s->ssl, srv))
		goto fail;
	O.accept_state(s->ssl);
	if (!(s->c = lr_conn_new(LR_CONN_TLS, -1, NULL, &endpoint_io)))
		goto fail;
	s->c->claimed = 1;
	snprintf(s->c->claimed_host, sizeof(s->c->claimed_host), "%s", host);
	snprintf(s->c->route, sizeof(s->c->route), "%s", route);
	snprintf(s->c->claim_peer, sizeof(s->c->claim_peer), "%s", peer);
	if (lr_serve_attach(s->c, lr_upfd_adopt(sp[1]), peer) < 0) {
		sp[1] = -1;
		goto fail;
	}
	sp[1] = -1;
	pthread_mutex_lock(&mu);
	if (start_locked() < 0) {
		pthread_mutex_unlock(&mu);
		goto fail;
	}
	s->next = incoming;
	incoming = s;
	pthread_mutex_unlock(&mu);
	(void)!write(wake_fd, &one, sizeof(one));
	lr_log(LR_LOG_INFO, "claimed connection to %s: its TLS is served by the shim's endpoint", host);
	return 0;
fail:
	if (sp[0] >= 0)
		syscall(SYS_close, sp[0]);
	if (sp[1] >= 0)
		syscall(SYS_close, sp[1]);
	if (s) {
		session_free(s);
	} else {
		lr_upfd_release(srv);
	}
	lr_log(LR_LOG_ERROR, "claimed connection to %s: the shim's TLS endpoint could not take it", host);
	return -1;
}

void lr_tlsend_atfork(int phase)
{
	if (phase == LR_FORK_CHILD) {
		/* the thread is not in the child: its sessions are left as they
		 * were (their descriptors closed with the client's), a new
		 * hand-over starts a new thread */
		pthread_mutex_init(&mu, NULL);
		incoming = NULL;
		running = 0;
		wake_fd = -1;
		return;
	}
	lr_fork_mutex(&mu, phase);
}
