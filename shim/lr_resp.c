/*
 * lr_resp.c - a tiny RESP2 client with bounded waits (see lr_resp.h).
 */
#include "lr_resp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void lr_resp_init(lr_resp *r)
{
	memset(r, 0, sizeof(*r));
	atomic_store(&r->fd, -1);
	pthread_mutex_init(&r->mu, NULL);
}

long long lr_resp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for `events` until the monotonic deadline.
 * 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = {fd, events, 0};
	long long left = deadline - lr_resp_now_ms();
	int rc;

	if (left <= 0)
		return 0;
	do
		rc = poll(&p, 1, (int)left);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -1 : rc > 0;
}

static int resolve(const char *host, unsigned port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return 0;
	}
	if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res || res->ai_addrlen > sizeof(*ss)) {
		if (res)
			freeaddrinfo(res);
		errno = EHOSTUNREACH;
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET)
		a4->sin_port = htons((uint16_t)port);
	else
		a6->sin6_port = htons((uint16_t)port);
	return 0;
}

/* One system call on r's descriptor with mu held, so lr_resp_closing never
 * lets the number change under it.  op: 0 send, 1 recv, 2 SO_ERROR. */
static long guarded(lr_resp *r, int op, void *buf, size_t n)
{
	long rc;
	int fd;
	socklen_t sl = sizeof(int);

	pthread_mutex_lock(&r->mu);
	fd = atomic_load(&r->fd);
	if (fd < 0)
		rc = (errno = EBADF, -1);
	else if (op == 0)
		rc = syscall(SYS_sendto, fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT, NULL, 0);
	else if (op == 1)
		rc = syscall(SYS_recvfrom, fd, buf, n, MSG_DONTWAIT, NULL, NULL);
	else
		rc = syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR, buf, &sl);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

long lr_resp_sys(lr_resp *r, int op, void *buf, size_t n)
{
	return guarded(r, op == 0 ? 0 : 1, buf, n);
}

int lr_resp_wait(lr_resp *r, short events, long long deadline)
{
	int fd = atomic_load(&r->fd);

	return fd < 0 ? (errno = EBADF, -1) : wait_fd(fd, events, deadline);
}

int lr_resp_connect(lr_resp *r, const char *host, unsigned port, int timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	long long deadline = lr_resp_now_ms() + timeout_ms;
	int fd, err = 0, one = 1;

	lr_resp_close(r);
	if (resolve(host, port, &ss, &len) < 0)
		return -1;
	fd = (int)syscall(SYS_socket, ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	syscall(SYS_setsockopt, fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	atomic_store(&r->fd, fd);
	if (syscall(SYS_connect, fd, &ss, len) < 0 && errno != EINPROGRESS)
		goto fail;
	if (wait_fd(fd, POLLOUT, deadline) <= 0 || guarded(r, 2, &err, 0) < 0 || err) {
		errno = err ? err : ETIMEDOUT;
		goto fail;
	}
	return 0;
fail:
	err = errno;
	lr_resp_close(r);
	errno = err;
	return -1;
}

static int put(lr_resp *r, const char *p, size_t n)
{
	char *np;
	size_t cap;

	if (r->outlen + n > LR_RESP_OUT_MAX)
		return -1;
	if (r->outlen + n > r->outcap) {
		cap = r->outcap ? r->outcap * 2 : 4096;
		while (cap < r->outlen + n)
			cap *= 2;
		if (!(np = realloc(r->out, cap)))
			return -1;
		r->out = np;
		r->outcap = cap;
	}
	memcpy(r->out + r->outlen, p, n);
	r->outlen += n;
	return 0;
}

int lr_resp_append(lr_resp *r, int argc, const char *const *argv, const size_t *lens)
{
	char hd[32];
	size_t before = r->outlen, n;
	int i;

	snprintf(hd, sizeof(hd), "*%d\r\n", argc);
	if (put(r, hd, strlen(hd)) < 0)
		goto fail;
	for (i = 0; i < argc; i++) {
		n = lens ? lens[i] : strlen(argv[i]);
		snprintf(hd, sizeof(hd), "$%zu\r\n", n);
		if (put(r, hd, strlen(hd)) < 0 || put(r, argv[i], n) < 0 || put(r, "\r\n", 2) < 0)
			goto fail;
	}
	return 0;
fail:
	r->outlen = before; /* never half a command on the wire */
	return -1;
}

static int send_all(lr_resp *r, long long deadline)
{
	size_t off = 0;
	long n;

	if (r->tls) {
		if (lr_resp_tls_send(r, r->out, r->outlen, deadline) < 0)
			return -1;
		r->outlen = 0;
		return 0;
	}
	while (off < r->outlen) {
		n = guarded(r, 0, r->out + off, r->outlen - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (wait_fd(atomic_load(&r->fd), POLLOUT, deadline) <= 0)
			return -1;
	}
	r->outlen = 0;
	return 0;
}

/* One reply from the front of r->in: bytes used, 0 if not all there yet,
 * -1 if malformed or too large. */
static long parse_one(const lr_resp *r, lr_resp_reply *rep)
{
	const char *p = r->in, *nl = memchr(p, '\n', r->inlen), *end;
	char *e;
	long long v;
	size_t line;

	if (!nl)
		return r->inlen >= sizeof(r->in) ? -1 : 0;
	if (nl == p || nl[-1] != '\r')
		return -1;
	line = (size_t)(nl - p) + 1;
	memset(rep, 0, sizeof(*rep));
	rep->type = p[0];
	if (p[0] == '+' || p[0] == '-') {
		snprintf(rep->str, sizeof(rep->str), "%.*s", (int)(line - 3), p + 1);
		return (long)line;
	}
	v = strtoll(p + 1, &e, 10);
	if (e != nl - 1)
		return -1;
	if (p[0] == ':') {
		rep->num = v;
		return (long)line;
	}
	if (p[0] != '$' || v >= LR_RESP_STR_MAX)
		return -1;
	if (v < 0) {
		rep->nil = 1;
		return (long)line;
	}
	end = nl + 1 + v;
	if ((size_t)(end + 2 - p) > r->inlen)
		return 0;
	memcpy(rep->str, nl + 1, (size_t)v);
	return (long)(end + 2 - p);
}

static int read_reply(lr_resp *r, lr_resp_reply *rep, long long deadline)
{
	long used, n;

	for (;;) {
		if ((used = parse_one(r, rep)) < 0)
			return -1;
		if (used > 0) {
			memmove(r->in, r->in + used, r->inlen - (size_t)used);
			r->inlen -= (size_t)used;
			return 0;
		}
		n = r->tls ? lr_resp_tls_recv(r, r->in + r->inlen, sizeof(r->in) - r->inlen, deadline)
			   : guarded(r, 1, r->in + r->inlen, sizeof(r->in) - r->inlen);
		if (n > 0) {
			r->inlen += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
		if (wait_fd(atomic_load(&r->fd), POLLIN, deadline) <= 0)
			return -1;
	}
}

int lr_resp_exchange(lr_resp *r, lr_resp_reply *rep, int n, int timeout_ms)
{
	long long deadline = lr_resp_now_ms() + timeout_ms;
	int i = 0;

	if (atomic_load(&r->fd) < 0 || send_all(r, deadline) < 0)
		goto fail;
	for (; i < n; i++)
		if (read_reply(r, &rep[i], deadline) < 0)
			goto fail;
	return n;
fail:
	lr_resp_close(r);
	return i;
}

void lr_resp_close(lr_resp *r)
{
	int fd;

	pthread_mutex_lock(&r->mu);
	fd = atomic_exchange(&r->fd, -1);
	if (fd >= 0)
		syscall(SYS_close, fd);
	pthread_mutex_unlock(&r->mu);
	lr_resp_tls_end(r); /* the owner's thread only, like every call but closing */
	r->inlen = r->outlen = 0;
}

void lr_resp_closing(lr_resp *r, unsigned first, unsigned last)
{
	int fd;

	if (atomic_load(&r->fd) < 0)
		return;
	pthread_mutex_lock(&r->mu);
	fd = atomic_load(&r->fd);
	if (fd >= 0 && (unsigned)fd >= first && (unsigned)fd <= last)
		atomic_store(&r->fd, -1);
	pthread_mutex_unlock(&r->mu);
}

void lr_resp_free(lr_resp *r)
{
	free(r->out);
	r->out = NULL;
	r->outcap = r->outlen = 0;
}
