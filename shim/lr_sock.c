/*
 * lr_sock.c - the socket hooks: connect, the send and receive calls, close
 * and dup2, for programs that speak HTTP without libcurl.
 *
 * A TCP connection is tracked from its connect (when a routing table or an
 * audit file exists, and the caller is not libcurl, whose requests its own
 * hooks handle) until it is closed or turns out not to be HTTP/1.  Tracked
 * descriptors index a table of lr_conn pointers; every hook on any other
 * descriptor costs one bounds check and one load before the real call.
 *
 * Lifetime: the table holds one reference to each connection, each hook
 * call in progress another; the last one out frees it.  close() takes the
 * connection out of the table first, so a descriptor number reused by the
 * next open() is never mistaken for the old connection.
 */
#include "lr_claim.h"
#include "lr_conn.h"
#include "lr_curl_sym.h"
#include "lr_fork.h"
#include "lr_log.h"
#include "lr_rec.h"
#include "lr_resolve.h"
#include "lr_serve.h"
#include "lr_shim.h"
#include "lr_upstream.h"
#include "lr_view.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <linux/close_range.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FD 65536 /* descriptors above are not tracked */

static lr_conn *_Atomic *tab;
static pthread_mutex_t tab_mu = PTHREAD_MUTEX_INITIALIZER;

/* --- the real functions ------------------------------------------------------ */

static struct {
	int (*connect)(int, const struct sockaddr *, socklen_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	int (*close)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	int (*dup3)(int, int, int);
	int (*fclose)(FILE *);
	ssize_t (*sendfile)(int, int, off_t *, size_t);
	ssize_t (*sendfile64)(int, int, off64_t *, size_t);
	int (*sendmmsg)(int, struct mmsghdr *, unsigned int, int);
	int (*close_range)(unsigned int, unsigned int, int);
	void (*closefrom)(int);
	ssize_t (*__read_chk)(int, void *, size_t, size_t);
	ssize_t (*__recv_chk)(int, void *, size_t, size_t, int);
	ssize_t (*__recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
} R;

static void resolve_all(void)
{
#define GET(f) (*(void **)&R.f = dlsym(RTLD_NEXT, #f))
	GET(connect); GET(write); GET(send); GET(sendto); GET(writev); GET(sendmsg);
	GET(read); GET(recv); GET(recvfrom); GET(readv); GET(recvmsg);
	GET(close); GET(dup); GET(dup2); GET(dup3); GET(fcntl); GET(fcntl64); GET(fclose); GET(sendfile);
	GET(sendfile64); GET(sendmmsg); GET(close_range); GET(closefrom);
	GET(__read_chk); GET(__recv_chk); GET(__recvfrom_chk); GET(getsockopt);
#undef GET
}

static pthread_once_t real_once = PTHREAD_ONCE_INIT;

/* Every hook calls this first: one predictable branch once resolved. */
#define REAL(f) (__builtin_expect(R.f != NULL, 1) ? R.f : (pthread_once(&real_once, resolve_all), R.f))

__attribute__((constructor)) static void sock_init(void)
{
	pthread_once(&real_once, resolve_all);
}

/* --- how a tracked socket sends ------------------------------------------------ */

static ssize_t io_send(lr_conn *c, const char *p, size_t n)
{
	if (c->fd < 0 || atomic_load(&c->closed)) { /* the number may name another file now */
		errno = EBADF;
		return -1;
	}
	/* write() for the app's write calls: the same on a socket, and right
	 * even if fd stopped being one behind our back (a raw close syscall) */
	if (!c->flags)
		return REAL(write)(c->fd, p, n);
	return REAL(send)(c->fd, p, n, c->flags);
}

static int io_wait(lr_conn *c, int timeout_ms)
{
	struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
	int r;

	do
		r = poll(&pf, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r == 1 && !(pf.revents & (POLLERR | POLLNVAL)) ? 0 : -1;
}

static void io_shut(lr_conn *c)
{
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_WR);
}

static const lr_conn_io sock_io = {io_send, io_wait, io_shut};

/* --- the table ---------------------------------------------------------------- */

static lr_conn *acquire(int fd)
{
	lr_conn *c;

	if ((unsigned)fd >= MAX_FD || !atomic_load_explicit(&tab, memory_order_acquire) ||
	    !atomic_load_explicit(&tab[fd], memory_order_relaxed))
		return NULL;
	pthread_mutex_lock(&tab_mu);
	c = atomic_load(&tab[fd]);
	if (c)
		c->refs++;
	pthread_mutex_unlock(&tab_mu);
	return c;
}

static void release(lr_conn *c)
{
	int last;

	pthread_mutex_lock(&tab_mu);
	last = --c->refs == 0;
	pthread_mutex_unlock(&tab_mu);
	if (last)
		lr_conn_free(c);
}

/* Takes fd's connection out of the table; returns it with the table's
 * reference (the caller releases it), or NULL. */
static lr_conn *take(int fd)
{
	lr_conn *c;

	if ((unsigned)fd >= MAX_FD || !atomic_load_explicit(&tab, memory_order_acquire) ||
	    !atomic_load_explicit(&tab[fd], memory_order_relaxed))
		return NULL;
	pthread_mutex_lock(&tab_mu);
	c = atomic_exchange(&tab[fd], NULL);
	pthread_mutex_unlock(&tab_mu);
	return c;
}

/* Takes fd's connection out of the table only if it still is `want`
 * (another thread may have closed fd and connected it anew meanwhile). */
static lr_conn *take_if(int fd, lr_conn *want)
{
	lr_conn *c = want;

	if ((unsigned)fd >= MAX_FD || !atomic_load(&tab))
		return NULL;
	pthread_mutex_lock(&tab_mu);
	if (!atomic_compare_exchange_strong(&tab[fd], &c, NULL))
		c = NULL;
	pthread_mutex_unlock(&tab_mu);
	return c;
}

/* Forgets descriptor fd of connection c (taken out of the table with the
 * table's reference).  While other descriptors still name the connection
 * (dup), only fd goes.  With the last one, unsent bytes get one last
 * non-blocking try (lr_conn_drain: never raw on a redirected one) - unless
 * another thread is inside a write on it: then close must not wait for
 * that write, and the connection is just marked closed. */
static void forget(lr_conn *c, int fd)
{
	int i, left;

	if (!c)
		return;
	pthread_mutex_lock(&tab_mu);
	for (i = 0; i < c->nfds; i++) {
		if (c->fds[i] == fd) {
			c->fds[i] = c->fds[--c->nfds];
			break;
		}
	}
	left = c->nfds;
	if (left && c->fd == fd)
		c->fd = c->fds[0];
	pthread_mutex_unlock(&tab_mu);
	if (left) {
		release(c);
		return;
	}
	atomic_store(&c->closed, 1);
	if (pthread_mutex_trylock(&c->mu) == 0) {
		if (c->state == LR_CONN_ON && c->fd >= 0) {
			atomic_store(&c->closed, 0); /* the fd is still ours for this last try */
			c->flags = MSG_DONTWAIT | MSG_NOSIGNAL;
			lr_conn_drain(c, 0);
			atomic_store(&c->closed, 1);
		}
		c->state = LR_CONN_OFF;
		c->fd = -1;
		lr_http_framer_free(&c->fr);
		pthread_mutex_unlock(&c->mu);
	}
	release(c);
}

static void untrack(int fd)
{
	forget(take(fd), fd);
	lr_claim_forget(fd);
}

/* newfd now names the same connection as oldfd (dup, dup2, dup3,
 * F_DUPFD): track it too, so bytes written through the copy are framed
 * like the rest (on a redirected connection they must never go raw).  A
 * connection already named by LR_CONN_MAXFD descriptors is shut instead:
 * the copy would escape the framing. */
static void share(int oldfd, int newfd)
{
	lr_conn *c = acquire(oldfd), *_Atomic *t = atomic_load(&tab);
	int ok = 0;

	if (!c)
		return;
	if ((unsigned)newfd < MAX_FD) {
		pthread_mutex_lock(&tab_mu);
		if (!atomic_load(&t[newfd]) && c->nfds < LR_CONN_MAXFD) {
			c->fds[c->nfds++] = newfd;
			c->refs++; /* the new entry's */
			atomic_store(&t[newfd], c);
			ok = 1;
		}
		pthread_mutex_unlock(&tab_mu);
	}
	if (!ok && c->redirected)
		shutdown(oldfd, SHUT_RDWR);
	release(c);
}

static void track(int fd, const lr_redirect *rd, const struct sockaddr *peer)
{
	lr_conn *c, *_Atomic *t, *old;

	if ((unsigned)fd >= MAX_FD)
		return;
	if (!atomic_load(&tab)) {
		pthread_mutex_lock(&tab_mu);
		if (!atomic_load(&tab) && (t = calloc(MAX_FD, sizeof(*t))))
			atomic_store_explicit(&tab, t, memory_order_release);
		pthread_mutex_unlock(&tab_mu);
		if (!atomic_load(&tab))
			return;
	}
	if (!(c = lr_conn_new(LR_CONN_SOCKET, fd, NULL, &sock_io)))
		return;
	if (peer->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)peer;
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		snprintf(c->peer, sizeof(c->peer), "%s:%d", a, ntohs(s->sin_port));
	} else {
		const struct sockaddr_in6 *s = (const void *)peer;
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		snprintf(c->peer, sizeof(c->peer), "[%s]:%d", a, ntohs(s->sin6_port));
	}
	if (rd && rd->route[0]) {
		c->redirected = 1;
		snprintf(c->claimed_host, sizeof(c->claimed_host), "%s", rd->claimed_host);
		snprintf(c->route, sizeof(c->route), "%s", rd->route);
		snprintf(c->ep_host, sizeof(c->ep_host), "%s", rd->ep_host);
		c->ep_port = rd->ep_port;
	}
	pthread_mutex_lock(&tab_mu);
	old = atomic_exchange(&tab[fd], c);
	pthread_mutex_unlock(&tab_mu);
	if (old) /* a connect on a descriptor we never saw closed */
		forget(old, fd);
}

/* --- connect ---------------------------------------------------------------- */

static int port_of(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}

static int is_stream(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

LR_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	const void *caller = __builtin_return_address(0);
	struct sockaddr_storage to;
	socklen_t tolen = 0;
	lr_redirect rd;
	const struct sockaddr *dst = sa;
	int how, rc, e;

	if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return REAL(connect)(fd, sa, len);
	if (__builtin_expect(lr_claim_pending(), 0) && (rc = lr_claim_connect_again(fd, sa, len, REAL(connect))) != -2)
		return rc; /* a second connect, to learn how the first ended */
	how = lr_resolve_connect(sa, len, caller, &to, &tolen, &rd);
	if (how == LR_RESOLVE_CLAIM_TLS) {
		untrack(fd); /* whatever fd was before */
		rc = lr_claim_connect(fd, rd.claimed_host, rd.port, rd.route, tolen ? (struct sockaddr *)&to : NULL,
				      tolen, REAL(connect));
		if (rc != -2) /* to the host, or claimed: the TLS session's hooks take it from here */
			return rc;
		how = tolen ? LR_RESOLVE_REAL : LR_RESOLVE_FAIL;
	}
	if (how == LR_RESOLVE_INTERCEPT) {
		untrack(fd);
		rc = lr_claim_intercept(fd, rd.claimed_host, tolen ? (struct sockaddr *)&to : NULL, tolen, REAL(connect));
		if (rc != -2) /* to the shim's TLS endpoint (lr_tlsend.h) */
			return rc;
		how = tolen ? LR_RESOLVE_REAL : LR_RESOLVE_FAIL; /* as the program made it */
	}
	if (how == LR_RESOLVE_FAIL) {
		errno = EHOSTUNREACH;
		return -1;
	}
	if (how != LR_RESOLVE_AS_IS) {
		dst = (const struct sockaddr *)&to;
		len = tolen;
	}
	rc = REAL(connect)(fd, dst, len);
	e = errno;
	if ((rc == 0 || e == EINPROGRESS) && port_of(dst) == 443 && !lr_caller_is_curl(caller))
		lr_claim_watch(fd); /* a TLS library we do not hook shows in its first bytes */
	/* a new connection replaces what was tracked on fd; a failed call
	 * (EISCONN, EALREADY on a connection in progress) keeps it.  The
	 * cheap questions first: the caller lookup may cost a dladdr. */
	if (rc == 0 || e == EINPROGRESS) {
		if ((how == LR_RESOLVE_REDIRECT || lr_conn_wanted()) && is_stream(fd) &&
		    !lr_caller_is_curl(caller))
			track(fd, how == LR_RESOLVE_REDIRECT ? &rd : NULL, dst);
		else
			untrack(fd);
	}
	errno = e;
	return rc;
}

/* How a non-blocking connect ended, as the app asks: for a socket whose
 * host a route takes whole, a failure is where the shim claims it
 * (lr_claim.h), and the app reads 0. */
LR_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	int rc = REAL(getsockopt)(fd, level, name, val, len), e = errno;

	if (__builtin_expect(lr_claim_pending(), 0) && rc == 0 && level == SOL_SOCKET && name == SO_ERROR && val &&
	    len && *len >= sizeof(int)) {
		*(int *)val = lr_claim_so_error(fd, *(int *)val, REAL(connect));
		errno = e;
	}
	return rc;
}

/* --- sending ------------------------------------------------------------------ */

static ssize_t out(lr_conn *c, int fd, const struct iovec *iov, int cnt, int flags)
{
	ssize_t r;
	int e, off;

	lr_up_lead_arm();
	pthread_mutex_lock(&c->mu);
	c->flags = flags;
	r = lr_conn_write(c, iov, cnt);
	e = errno;
	off = lr_conn_done(c);
	pthread_mutex_unlock(&c->mu);
	if (off)
		forget(take_if(fd, c), fd);
	release(c);
	lr_up_lead(fd);
	errno = e;
	return r;
}

/* Bytes the app sends: a claimed connection's own TLS goes to the shim's
 * endpoint, and the first bytes on port 443 show a TLS library we do not
 * hook (lr_claim_raw).  One atomic load when neither is pending. */
static inline void raw_out(int fd, const void *p, size_t n)
{
	if (__builtin_expect(lr_claim_pending(), 0))
		lr_claim_raw(fd, p, n);
}

LR_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	lr_conn *c;
	struct iovec v = {(void *)buf, n};

	raw_out(fd, buf, n);
	if (!(c = acquire(fd)))
		return REAL(write)(fd, buf, n);
	return out(c, fd, &v, 1, 0);
}

LR_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	if (__builtin_expect(lr_up_self, 0)) /* the shim's own client (lr_upstream.h) */
		return lr_up_send(fd, buf, n, flags, REAL(send));
	lr_conn *c;
	struct iovec v = {(void *)buf, n};

	raw_out(fd, buf, n);
	if (!(c = acquire(fd)))
		return REAL(send)(fd, buf, n, flags);
	return out(c, fd, &v, 1, flags);
}

/*
 * Bytes are about to go out on fd by a call we do not frame (sendfile, a
 * sendto with an address, ancillary data).  What we hold goes first, in
 * full (waiting for the socket, bounded), then fd is no longer tracked.
 * When that cannot be done safely (a redirected connection holding part of
 * a request) the connection is shut, so the call fails as on a broken
 * connection rather than sending bytes out of order or to the wrong host.
 */
static int unseen_send(int fd)
{
	lr_conn *c = acquire(fd);
	int rc = 0;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->mu);
	c->flags = MSG_NOSIGNAL;
	/* on a redirected connection, bytes we cannot see may carry the app's
	 * key to a host it did not choose: refused */
	if (c->redirected && c->state != LR_CONN_OFF)
		rc = -1;
	else if (c->state == LR_CONN_ON)
		rc = lr_conn_drain(c, 30000);
	if (rc < 0)
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&c->mu);
	forget(take_if(fd, c), fd);
	release(c);
	if (rc < 0)
		errno = EPIPE;
	return rc;
}

LR_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			 const struct sockaddr *to, socklen_t tolen)
{
	lr_conn *c;
	struct iovec v = {(void *)buf, n};

	raw_out(fd, buf, n);
	if (!(c = acquire(fd)))
		return REAL(sendto)(fd, buf, n, flags, to, tolen);
	/* an address on a connected stream socket is ignored by the kernel:
	 * framed like a send */
	(void)to;
	(void)tolen;
	return out(c, fd, &v, 1, flags);
}

LR_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	lr_conn *c;

	raw_out(fd, cnt > 0 && iov ? iov[0].iov_base : NULL, cnt > 0 && iov ? iov[0].iov_len : 0);
	if (!(c = acquire(fd)))
		return REAL(writev)(fd, iov, cnt);
	if (cnt < 0 || cnt > IOV_MAX) {
		release(c);
		return REAL(writev)(fd, iov, cnt);
	}
	return out(c, fd, iov, cnt, 0);
}

LR_EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	lr_conn *c;

	raw_out(fd, m && m->msg_iovlen ? m->msg_iov[0].iov_base : NULL, m && m->msg_iovlen ? m->msg_iov[0].iov_len : 0);
	if (!(c = acquire(fd)))
		return REAL(sendmsg)(fd, m, flags);
	if (!m || m->msg_controllen || m->msg_iovlen > IOV_MAX) { /* msg_name: as sendto */
		release(c);
		if (unseen_send(fd) < 0)
			return -1;
		return REAL(sendmsg)(fd, m, flags);
	}
	return out(c, fd, m->msg_iov, (int)m->msg_iovlen, flags);
}

LR_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	if (unseen_send(out_fd) < 0)
		return -1;
	return REAL(sendfile)(out_fd, in_fd, offset, count);
}

LR_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count)
{
	if (unseen_send(out_fd) < 0)
		return -1;
	return REAL(sendfile64)(out_fd, in_fd, offset, count);
}

LR_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
	if (unseen_send(fd) < 0)
		return -1;
	return REAL(sendmmsg)(fd, v, n, flags);
}

/* --- receiving ---------------------------------------------------------------- */

/* Our refusal, when due, instead of reading the socket. */
static ssize_t inject(lr_conn *c, void *buf, size_t cap, int peek)
{
	size_t k;

	pthread_mutex_lock(&c->rmu);
	k = lr_conn_inject(c, buf, cap, peek);
	pthread_mutex_unlock(&c->rmu);
	return (ssize_t)k;
}

/* After a real read of r bytes into iov: feed the answer framer.  Returns
 * what the app's call returns (our refusal may follow the peer's close). */
static ssize_t received(lr_conn *c, const struct iovec *iov, int cnt, ssize_t r, int peek)
{
	int e = errno, i;
	size_t left;
	ssize_t k;

	if (r < 0 || peek)
		goto done;
	pthread_mutex_lock(&c->rmu);
	if (r == 0) {
		lr_conn_read(c, NULL, 0);
	} else {
		for (i = 0, left = (size_t)r; i < cnt && left; i++) {
			size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
			lr_conn_read(c, iov[i].iov_base, n);
			left -= n;
		}
	}
	pthread_mutex_unlock(&c->rmu);
	if (c->served)
		lr_serve_pump(c); /* room in the socket for what waits */
	if (r == 0 && cnt > 0 && (k = inject(c, iov[0].iov_base, iov[0].iov_len, 0)) > 0)
		r = k;
done:
	release(c);
	errno = e;
	return r;
}

LR_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	lr_conn *c = acquire(fd);
	struct iovec v = {buf, n};
	ssize_t k;

	if (!c)
		return REAL(read)(fd, buf, n);
	if (n && (k = inject(c, buf, n, 0)) > 0) {
		release(c);
		return k;
	}
	return received(c, &v, 1, REAL(read)(fd, buf, n), 0);
}

LR_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	if (__builtin_expect(lr_up_self, 0)) /* the shim's own client (lr_upstream.h) */
		return lr_up_recv(fd, buf, n, flags, REAL(recv));
	lr_conn *c = acquire(fd);
	struct iovec v = {buf, n};
	ssize_t k;

	if (!c)
		return REAL(recv)(fd, buf, n, flags);
	if (n && (k = inject(c, buf, n, flags & MSG_PEEK)) > 0) {
		release(c);
		return k;
	}
	return received(c, &v, 1, REAL(recv)(fd, buf, n, flags), flags & MSG_PEEK);
}

LR_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
			   socklen_t *fromlen)
{
	lr_conn *c = acquire(fd);
	struct iovec v = {buf, n};
	ssize_t k;

	if (!c)
		return REAL(recvfrom)(fd, buf, n, flags, from, fromlen);
	if (n && (k = inject(c, buf, n, flags & MSG_PEEK)) > 0) {
		release(c);
		return k;
	}
	return received(c, &v, 1, REAL(recvfrom)(fd, buf, n, flags, from, fromlen), flags & MSG_PEEK);
}

LR_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	lr_conn *c = acquire(fd);
	ssize_t k;

	if (!c)
		return REAL(readv)(fd, iov, cnt);
	if (cnt > 0 && iov[0].iov_len && (k = inject(c, iov[0].iov_base, iov[0].iov_len, 0)) > 0) {
		release(c);
		return k;
	}
	return received(c, iov, cnt, REAL(readv)(fd, iov, cnt), 0);
}

LR_EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	lr_conn *c = acquire(fd);
	ssize_t k;

	if (!c)
		return REAL(recvmsg)(fd, m, flags);
	if (m && m->msg_iovlen > 0 && m->msg_iov[0].iov_len &&
	    (k = inject(c, m->msg_iov[0].iov_base, m->msg_iov[0].iov_len, flags & MSG_PEEK)) > 0) {
		release(c);
		return k;
	}
	k = REAL(recvmsg)(fd, m, flags);
	return received(c, m ? m->msg_iov : NULL, m ? (int)m->msg_iovlen : 0, k, flags & MSG_PEEK);
}

/* --- the end of a descriptor ------------------------------------------------------ */

LR_EXPORT int close(int fd)
{
	untrack(fd);
	if (fd >= 0)
		lr_rec_closing((unsigned)fd, (unsigned)fd);
	if (lr_up_watching()) /* the shim's own client's descriptors stay open (lr_upstream.h) */
		return lr_up_close(fd, __builtin_return_address(0), REAL(close));
	return REAL(close)(fd);
}

LR_EXPORT int dup(int old)
{
	int fd = REAL(dup)(old), e = errno;

	if (fd >= 0)
		share(old, fd);
	errno = e;
	return fd;
}

LR_EXPORT int dup2(int old, int fd)
{
	int r, e, up = 0;

	if (old != fd) {
		untrack(fd);
		if (fd >= 0)
			lr_rec_closing((unsigned)fd, (unsigned)fd);
		if (lr_up_watching()) /* the shim's own client gives way first (lr_upstream.h) */
			up = lr_up_dup_begin(fd);
	}
	r = REAL(dup2)(old, fd);
	e = errno;
	lr_up_dup_end(up);
	if (r >= 0 && old != fd)
		share(old, r);
	errno = e;
	return r;
}

LR_EXPORT int dup3(int old, int fd, int flags)
{
	int r, e, up = 0;

	if (old != fd) {
		untrack(fd);
		if (fd >= 0)
			lr_rec_closing((unsigned)fd, (unsigned)fd);
		if (lr_up_watching()) /* the shim's own client gives way first (lr_upstream.h) */
			up = lr_up_dup_begin(fd);
	}
	r = REAL(dup3)(old, fd, flags);
	e = errno;
	lr_up_dup_end(up);
	if (r >= 0)
		share(old, r);
	errno = e;
	return r;
}

/* fcntl is variadic; every command reads at most one argument, an int or
 * a pointer, which a long carries on this ABI.  F_DUPFD and
 * F_DUPFD_CLOEXEC make a descriptor that must be tracked like dup's. */
static int fcntl_common(int (*fn)(int, int, ...), int fd, int cmd, long arg)
{
	int r = fn(fd, cmd, arg), e = errno;

	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		share(fd, r);
	errno = e;
	return r;
}

LR_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return fcntl_common(REAL(fcntl), fd, cmd, arg);
}

LR_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return fcntl_common(REAL(fcntl64) ? REAL(fcntl64) : REAL(fcntl), fd, cmd, arg);
}

LR_EXPORT int fclose(FILE *f)
{
	int fd = f ? fileno(f) : -1;

	if (fd >= 0) {
		untrack(fd);
		lr_rec_closing((unsigned)fd, (unsigned)fd);
	}
	return REAL(fclose)(f);
}

/* close_range and closefrom (Python's os.closerange, daemons) close many
 * descriptors inside libc: forget every tracked one in the range, and the
 * audit file's if it is in it (lr_rec_closing). */
static void untrack_range(unsigned first, unsigned last)
{
	unsigned fd;

	lr_claim_forget_range(first, last);
	if (!atomic_load(&tab))
		return;
	for (fd = first; fd <= last && fd < MAX_FD; fd++)
		if (atomic_load_explicit(&tab[fd], memory_order_relaxed))
			untrack((int)fd);
}

LR_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	if (!(flags & CLOSE_RANGE_CLOEXEC)) {
		untrack_range(first, last);
		lr_rec_closing(first, last);
	}
	if (!REAL(close_range)) {
		errno = ENOSYS;
		return -1;
	}
	if (lr_up_watching() && !(flags & CLOSE_RANGE_CLOEXEC)) /* around the shim's own client's */
		return lr_up_close_range(first, last, flags, R.close_range, NULL);
	return R.close_range(first, last, flags);
}

LR_EXPORT void closefrom(int lowfd)
{
	if (lowfd >= 0) {
		untrack_range((unsigned)lowfd, MAX_FD - 1);
		lr_rec_closing((unsigned)lowfd, ~0u);
	}
	if (lowfd >= 0 && lr_up_watching()) /* around the shim's own client's descriptors */
		lr_up_close_range((unsigned)lowfd, ~0u, 0, R.close_range, REAL(closefrom));
	else if (REAL(closefrom))
		R.closefrom(lowfd);
}

/* --- fortified reads (_FORTIFY_SOURCE builds call these instead) ------------- */

LR_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen || (unsigned)fd >= MAX_FD || !atomic_load(&tab) || !atomic_load(&tab[fd]))
		return REAL(__read_chk)(fd, buf, n, buflen); /* it reports the overflow */
	return read(fd, buf, n);
}

LR_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (n > buflen || (unsigned)fd >= MAX_FD || !atomic_load(&tab) || !atomic_load(&tab[fd]))
		return REAL(__recv_chk)(fd, buf, n, buflen, flags);
	return recv(fd, buf, n, flags);
}

LR_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				 struct sockaddr *from, socklen_t *fromlen)
{
	if (n > buflen || (unsigned)fd >= MAX_FD || !atomic_load(&tab) || !atomic_load(&tab[fd]))
		return REAL(__recvfrom_chk)(fd, buf, n, buflen, flags, from, fromlen);
	return recvfrom(fd, buf, n, flags, from, fromlen);
}

void lr_sock_atfork(int phase)
{
	lr_fork_mutex(&tab_mu, phase);
}
