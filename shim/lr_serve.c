/*
 * lr_serve.c - requests the shim answers itself (see the header).
 *
 * Two objects.  The pipe is our end of the app's descriptor, shared by
 * the connection and the requests on it (reference counted), with the
 * answer bytes the socket could not take yet.  A served request lives
 * from lr_serve_start until its answer is delivered, and is then freed on
 * the client's thread (served_free).  One request at a time writes into a
 * pipe (`cur`): a request the app sends before the last answer is wholly
 * ours (it read the last byte, we have not yet let go) waits in `next`
 * and starts when the one before is freed.
 */
#include "lr_serve.h"
#include "lr_error.h"
#include "lr_cred.h"
#include "lr_log.h"
#include "lr_overflow.h"
#include "lr_resil.h"
#include "lr_shim.h"
#include "lr_splice.h"
#include "lr_upstream.h"
#include "lr_url.h"
#include "lr_xsink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define PAUSE_AT (1u << 20)   /* buffered answer bytes past which the client pauses */
#define GO_AT (256u << 10)    /* ... and below which it goes on */
#define MAX_LINES 128
#define MAX_HELD (8u << 20)   /* an answer held for the escalation gate */
#define MAX_FAILED (64u << 10) /* what is kept of a failed answer */
#define CORK_MAX (64u << 10)  /* answer bytes a pipe gathers on the client's thread before a send */

struct served;

typedef struct lr_pipe {
	pthread_mutex_t mu;
	int fd;                   /* our end, -1 once closed */
	int refs;
	int broken;               /* the app's end is gone */
	int shut;                 /* shut our end for writing once buf is empty */
	char *buf;
	size_t len, off;
	_Atomic int waiting;      /* buf holds bytes the socket has not taken (read without the lock) */
	int corked;               /* buf gathers a pass's answer bytes (on the client's corked list) */
	struct lr_pipe *cnext;
	struct served *cur;       /* the request whose answer the app reads now */
	struct served *next;      /* the one after it, not started yet */
	char peer[64];            /* where the app's connection went: "a.b.c.d:p", "[v6]:p" */
} lr_pipe;

/* An answer we hold: a failed attempt's, or one an escalation may beat. */
typedef struct {
	long status;
	char *head;               /* header lines as received */
	size_t head_len;
	char *body;
	size_t body_len;
	lr_rec *rec;              /* its audit record, written when we know its fate */
	const char *err;
} kept;

enum { PENDING, PASS, SWALLOW, HOLD, WAIT }; /* what the attempt under way does with its answer
					       * (WAIT: its head, until its first body byte) */

typedef struct served {
	lr_pipe *pipe;
	int no_body;
	int nsteps;               /* 1: one attempt; more: a resilient route's chain */
	lr_serve_step steps[LR_ATTEMPT_STEPS];
	lr_attempt a;             /* the chain (nsteps > 1) */
	lr_health_cfg health;     /* its health thresholds: a.env.ud */
	int resilient;
	void *store;              /* the app's trust, for https */
	/* the response cache */
	unsigned ttl_s;           /* 0: not cached */
	size_t max_entry, cache_size;
	lr_cache_key key;
	char *copy;               /* a passed answer's body, to store */
	size_t copy_len;
	int copy_over;
	char request_id[24];
	int close_after;          /* the app asked for Connection: close (or spoke HTTP/1.0) */
	int http10;               /* HTTP/1.0: no chunked answer; its end is our end */
	/* the attempt under way */
	int step;
	lr_rec *rec;
	int state;
	size_t hold_cap;          /* HOLD: how much of the body (an escalation's, or an error's) */
	long status, retry_after_s;
	long long expect_len, got_len; /* the upstream's Content-Length (-1: none), body bytes passed */
	int finished;             /* answered whole before the client's done() */
	kept cur;                 /* its head and body while they are not the app's */
	kept fail, best;
	/* streams followed event by event (lr_splice.h), continued when cut */
	int track;
	lr_splice sp;
	char *cont_body;          /* the continuation's body, while it is sent */
	int cut;                  /* the splicer cut the attempt (an error or malformed event) */
	int fail_cut;             /* `fail` is a held stream that was cut (stream_hold) */
	const char *cut_why;
	char *raw;                /* its request (the header lines point into it) */
	const char *lines[MAX_LINES];
	int nlines;
} served;

/* --- the pipe --------------------------------------------------------------- */

static void pipe_unref(lr_pipe *p)
{
	int last;

	pthread_mutex_lock(&p->mu);
	last = --p->refs == 0;
	pthread_mutex_unlock(&p->mu);
	if (!last)
		return;
	lr_upfd_release(p->fd);
	free(p->buf);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* Sends what waits; with the lock held.  0, or -1 when the app's end is
 * gone. */
static int flush_locked(lr_pipe *p)
{
	ssize_t w;
	int raised = 0;

	while (p->off < p->len && !p->broken) {
		w = send(p->fd, p->buf + p->off, p->len - p->off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			p->off += (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* the socket is full: raise the flag an app's read looks
			 * at (lr_serve_pump) and try once more, so a read that
			 * made room before it saw the flag is not missed.  Raised
			 * only now: an app woken by a send that took everything
			 * never takes the lock we hold. */
			if (raised)
				return 0;
			atomic_store(&p->waiting, 1);
			raised = 1;
		} else {
			p->broken = 1;
		}
	}
	if (p->off == p->len) {
		p->off = p->len = 0;
		if (p->shut && !p->broken)
			shutdown(p->fd, SHUT_WR);
	}
	if (raised || atomic_load(&p->waiting))
		atomic_store(&p->waiting, p->off < p->len && !p->broken);
	return p->broken ? -1 : 0;
}

/* Pipes with bytes gathered during the client thread's pass over libcurl
 * (its own list: only that thread corks), sent when the pass ends
 * (flush_corked, lr_up_on_idle): an answer whose head, body and end
 * arrive in one pass wakes the app once, not once per piece. */
static __thread lr_pipe *corked;

static void flush_corked(void)
{
	lr_pipe *p;

	while ((p = corked)) {
		corked = p->cnext;
		pthread_mutex_lock(&p->mu);
		p->corked = 0;
		p->cnext = NULL;
		flush_locked(p);
		pthread_mutex_unlock(&p->mu);
		pipe_unref(p); /* the list's reference */
	}
}

/* Whether the add bytes join the gathered ones (lock held): on the
 * client's thread, while nothing waits for room in the socket and the
 * total stays small (a big answer goes out as it comes: the app reads
 * while we receive). */
static int cork_locked(lr_pipe *p, size_t add)
{
	if (!lr_up_self || p->broken || p->shut || atomic_load(&p->waiting) ||
	    p->len - p->off + add > CORK_MAX)
		return 0;
	if (!p->corked) {
		p->corked = 1;
		p->refs++;
		p->cnext = corked;
		corked = p;
	}
	return 1;
}

/* Queues the n pieces for the app and sends what the socket takes, in
 * one call: each send may wake the app's read, so an answer's head goes
 * in one, and a chunk with its framing in one.  Returns the bytes still
 * waiting, or -1 when the app's end is gone. */
static long putv(lr_pipe *p, const struct iovec *v, int n)
{
	size_t add = 0, at;
	char *b;
	long left;
	int i;

	for (i = 0; i < n; i++)
		add += v[i].iov_len;
	pthread_mutex_lock(&p->mu);
	if (add && !p->broken) {
		if (p->off && p->off == p->len)
			p->off = p->len = 0;
		if (!(b = realloc(p->buf, p->len + add))) {
			p->broken = 1;
		} else {
			for (i = 0, at = p->len; i < n; at += v[i].iov_len, i++)
				memcpy(b + at, v[i].iov_base, v[i].iov_len);
			p->buf = b;
			p->len += add;
		}
	}
	if (add && cork_locked(p, 0))
		left = 0; /* sent when the pass ends */
	else
		left = flush_locked(p) < 0 ? -1 : (long)(p->len - p->off);
	pthread_mutex_unlock(&p->mu);
	return left;
}

static long put(lr_pipe *p, const char *s, size_t n)
{
	struct iovec v = {(void *)s, n};

	return putv(p, &v, s ? 1 : 0);
}

static void put_str(lr_pipe *p, const char *s)
{
	put(p, s, strlen(s));
}

/* --- takeover ---------------------------------------------------------------- */

/* The app's descriptors of connection c. */
static int app_fds(const lr_conn *c, int *fds)
{
	int n = 0, i;

	if (c->kind == LR_CONN_TLS) {
		if ((fds[0] = lr_ssl_fd(c->tls)) >= 0)
			n = 1;
		return n;
	}
	for (i = 0; i < c->nfds; i++)
		fds[n++] = c->fds[i];
	return n;
}

/* LLMROUTE_OWN_CLIENT=off: the shim never opens connections of its own
 * (a route its connections cannot carry is then not applied, and says so). */
static int client_allowed(void)
{
	static int allowed = -1;
	const char *v;

	if (allowed < 0) {
		v = secure_getenv("LLMROUTE_OWN_CLIENT");
		allowed = !(v && (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no")));
	}
	return allowed;
}

int lr_serve_allowed(void)
{
	return client_allowed() && lr_up_available();
}

int lr_serve_possible(const lr_conn *c)
{
	int fds[LR_CONN_MAXFD];

	return !atomic_load(&c->closed) && client_allowed() && app_fds(c, fds) > 0 && lr_up_available();
}

/* The address a connected TCP socket goes to, as libcurl's CONNECT_TO
 * wants it ("a.b.c.d:port", "[v6]:port").  0, or -1. */
static int peer_of(int fd, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char a[INET6_ADDRSTRLEN];

	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *v4 = (const void *)&ss;
		inet_ntop(AF_INET, &v4->sin_addr, a, sizeof(a));
		snprintf(out, cap, "%s:%d", a, ntohs(v4->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const void *)&ss;
		inet_ntop(AF_INET6, &v6->sin6_addr, a, sizeof(a));
		snprintf(out, cap, "[%s]:%d", a, ntohs(v6->sin6_port));
	} else {
		return -1;
	}
	return 0;
}

/* The CONNECT_TO entry of a step that goes to the app's own host:
 * "HOST:PORT:ADDR:APORT", HOST:PORT as the URL names them. */
static char *pin_of(const char *url, const char *peer)
{
	lr_url u;
	char *out;
	size_t cap;

	if (!peer[0] || lr_url_parse(url, strlen(url), &u) < 0)
		return NULL;
	cap = u.host_len + strlen(peer) + 16;
	if ((out = malloc(cap)))
		snprintf(out, cap, "%.*s:%d:%s", (int)u.host_len, u.host, u.port, peer);
	return out;
}

/* Swaps every descriptor of c for our socketpair's app end, keeping what
 * the app set on them. */
/* p becomes c's pipe, with our end fd; c is served from now on. */
static void pipe_attach(lr_conn *c, lr_pipe *p, int fd, const char *peer)
{
	pthread_mutex_init(&p->mu, NULL);
	p->fd = fd;
	p->broken = p->fd < 0;
	snprintf(p->peer, sizeof(p->peer), "%s", peer);
	if (!c->peer[0]) /* a TLS session's: for the log, and app_url without a Host */
		snprintf(c->peer, sizeof(c->peer), "%s", peer);
	p->refs = 1;
	c->pipe = p;
	c->served = 1;
}

static int takeover(lr_conn *c)
{
	int fds[LR_CONN_MAXFD], n = app_fds(c, fds), sp[2], i, fl, fdfl;
	struct timeval rto = {0}, sto = {0};
	socklen_t tl = sizeof(rto);
	char peer[64];
	lr_pipe *p;

	if (n <= 0 || (fl = fcntl(fds[0], F_GETFL)) < 0)
		return LR_EINVAL;
	if (c->claimed) /* connected to the shim: the host's real address, if it has one */
		snprintf(peer, sizeof(peer), "%s", c->claim_peer);
	else if (peer_of(fds[0], peer, sizeof(peer)) < 0)
		return LR_EINVAL; /* where it went is what a request the app addressed is pinned to */
	getsockopt(fds[0], SOL_SOCKET, SO_RCVTIMEO, &rto, &tl);
	tl = sizeof(sto);
	getsockopt(fds[0], SOL_SOCKET, SO_SNDTIMEO, &sto, &tl);
	if (!(p = calloc(1, sizeof(*p))))
		return LR_ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		free(p);
		return LR_EINVAL;
	}
	fcntl(sp[0], F_SETFL, fl & O_NONBLOCK);
	fcntl(sp[1], F_SETFL, O_NONBLOCK);
	setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &rto, sizeof(rto));
	setsockopt(sp[0], SOL_SOCKET, SO_SNDTIMEO, &sto, sizeof(sto));
	for (i = 0; i < n; i++) {
		fdfl = fcntl(fds[i], F_GETFD);
		/* the raw call: our dup3 hook would forget the connection */
		if (syscall(SYS_dup3, sp[0], fds[i], fdfl > 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
			lr_log(LR_LOG_ERROR, "could not take connection %d over: %s", fds[i], strerror(errno));
			break;
		}
	}
	syscall(SYS_close, sp[0]);
	if (i < n && i == 0) {
		syscall(SYS_close, sp[1]);
		free(p);
		return LR_EINVAL;
	}
	/* ours, guarded like the client's own: above the numbers apps dup2
	 * onto, and left open by an app that closes every descriptor */
	pipe_attach(c, p, lr_upfd_adopt(sp[1]), peer);
	if (c->kind == LR_CONN_TLS)
		lr_ssl_served();
	lr_log(LR_LOG_DEBUG, "connection %d to %s is served by the shim from now on", fds[0], c->peer);
	return 0;
}

int lr_serve_attach(lr_conn *c, int fd, const char *peer)
{
	lr_pipe *p;

	if (fd < 0 || c->pipe || !(p = calloc(1, sizeof(*p)))) {
		lr_upfd_release(fd);
		return LR_EINVAL;
	}
	pipe_attach(c, p, fd, peer);
	return 0;
}

static void lr_serve_shut_pipe(lr_pipe *p)
{
	pthread_mutex_lock(&p->mu);
	p->shut = 1;
	flush_locked(p);
	pthread_mutex_unlock(&p->mu);
}

/* --- the request -------------------------------------------------------------- */

static int hop_by_hop(const char *l, size_t n)
{
	static const char *const names[] = {"host", "content-length", "transfer-encoding", "connection",
					    "keep-alive", "expect", "te", "upgrade", "proxy-connection",
					    "proxy-authorization", "trailer"};
	size_t i, k;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		k = strlen(names[i]);
		if (n > k && strncasecmp(l, names[i], k) == 0 && l[k] == ':')
			return 1;
	}
	return 0;
}

/* Splits the request of step i into header lines for the client. */
static int parse_step(served *s, int i, const char **method, const char **body, size_t *blen)
{
	const lr_serve_step *st = &s->steps[i];
	char *end, *l, *e, *sp;

	free(s->raw);
	s->nlines = 0;
	if (!(s->raw = malloc(st->raw_len + 1)))
		return LR_ENOMEM;
	memcpy(s->raw, st->raw, st->raw_len);
	s->raw[st->raw_len] = '\0';
	if (!(end = memmem(s->raw, st->raw_len, "\r\n\r\n", 4)))
		return LR_EPARSE;
	*body = end + 4;
	*blen = st->raw_len - (size_t)(end + 4 - s->raw);
	*end = '\0';
	l = s->raw;
	if (!(e = strstr(l, "\r\n")))
		e = end;
	*e = '\0';
	if (!(sp = strchr(l, ' ')))
		return LR_EPARSE;
	*sp = '\0';
	*method = l;
	if ((sp = strrchr(sp + 1, ' ')) && strcmp(sp + 1, "HTTP/1.0") == 0)
		s->http10 = s->close_after = 1;
	for (l = e + 2; e != end && l < end && s->nlines < MAX_LINES; l = e + 2) {
		if (!(e = strstr(l, "\r\n")))
			e = end;
		*e = '\0';
		if (strncasecmp(l, "connection:", 11) == 0 && strcasestr(l + 11, "close"))
			s->close_after = 1;
		if (*l && !hop_by_hop(l, strlen(l)))
			s->lines[s->nlines++] = l;
	}
	return 0;
}

/* --- the answer, on the client's thread --------------------------------------- */

static const char *reason(long st)
{
	switch (st) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

static int has_body(const served *s, long status)
{
	return !s->no_body && status != 204 && status != 304;
}

/* Is the answer's body sent in chunks (else as it comes, ended by our end
 * of the connection: HTTP/1.0)? */
static int chunked(const served *s, long status)
{
	return has_body(s, status) && !s->http10;
}

/* An answer's head, as HTTP/1.1 to the app: its framing is ours (chunked),
 * everything else as it came. */
static void emit_head(served *s, long status, const char *lines, size_t n)
{
	char line[64], *h = malloc(n + 128), *o = h;
	const char *l = lines, *e, *end = lines + n;

	if (!h) {
		put(s->pipe, NULL, 0);
		return;
	}
	o += sprintf(o, "HTTP/1.1 %ld %s\r\n", status, reason(status));
	for (; l < end; l = e + 2) {
		if (!(e = memmem(l, (size_t)(end - l), "\r\n", 2)))
			e = end;
		if (e > l && !hop_by_hop(l, (size_t)(e - l))) {
			memcpy(o, l, (size_t)(e - l));
			o += e - l;
			*o++ = '\r';
			*o++ = '\n';
		}
		if (e == end)
			break;
	}
	snprintf(line, sizeof(line), "%s%s", s->close_after ? "Connection: close\r\n" : "",
		 chunked(s, status) ? "Transfer-Encoding: chunked\r\n\r\n" : "\r\n");
	o += sprintf(o, "%s", line);
	put(s->pipe, h, (size_t)(o - h));
	free(h);
}

/* One chunk; returns the bytes waiting, or -1 (the app's end is gone). */
static long emit_body(served *s, long status, const char *p, size_t n)
{
	char len[24];

	if (!n || !has_body(s, status))
		return put(s->pipe, NULL, 0);
	if (!chunked(s, status))
		return put(s->pipe, p, n);
	snprintf(len, sizeof(len), "%zx\r\n", n);
	{
		struct iovec v[3] = {{len, strlen(len)}, {(void *)p, n}, {"\r\n", 2}};
		return putv(s->pipe, v, 3);
	}
}

static void emit_end(served *s, long status)
{
	if (chunked(s, status))
		put_str(s->pipe, "0\r\n\r\n");
	if (s->close_after) /* as the server would: the app reads to our end */
		lr_serve_shut_pipe(s->pipe);
}

/* A held answer, whole. */
static void emit_kept(served *s, const kept *k)
{
	emit_head(s, k->status, k->head ? k->head : "", k->head_len);
	emit_body(s, k->status, k->body, k->body_len);
	emit_end(s, k->status);
}

/* A held stream cut at the last step: its whole events, then our error
 * event, as a passed one ends (never a truncated success). */
static void emit_cut_held(served *s, const kept *k)
{
	char ev[512];
	size_t n = lr_splice_error_event(&s->sp, s->fail.err ? s->fail.err : "stream_incomplete", ev, sizeof(ev));

	emit_head(s, k->status, k->head ? k->head : "", k->head_len);
	emit_body(s, k->status, k->body, lr_splice_whole_prefix(&s->sp, k->body, k->body_len));
	emit_body(s, k->status, ev, n);
	emit_end(s, k->status);
}

static int add(char **b, size_t *len, const char *p, size_t n, size_t cap)
{
	char *nb;

	if (*len + n > cap)
		return -1;
	if (!(nb = realloc(*b, *len + n + 1)))
		return -1;
	memcpy(nb + *len, p, n);
	*len += n;
	nb[*len] = '\0';
	*b = nb;
	return 0;
}

static void kept_free(kept *k)
{
	free(k->head);
	free(k->body);
	lr_rec_free(k->rec);
	memset(k, 0, sizeof(*k));
}

static long parse_retry_after(const char *lines, size_t n)
{
	const char *l = lines, *end = lines + n, *e;
	long v;

	for (; l < end; l = e + 2) {
		if (!(e = memmem(l, (size_t)(end - l), "\r\n", 2)))
			e = end;
		if (e - l > 12 && strncasecmp(l, "retry-after:", 12) == 0) {
			for (l += 12; l < e && (*l == ' ' || *l == '\t'); l++)
				;
			if (l == e || *l < '0' || *l > '9')
				return -1; /* an HTTP date: not honoured */
			for (v = 0; l < e && *l >= '0' && *l <= '9' && v < 86400; l++)
				v = v * 10 + (*l - '0');
			return v;
		}
		if (e == end)
			break;
	}
	return -1;
}

static void close_rec(lr_rec *x, long status, const char *err, int delivered, const char *gate)
{
	if (!x)
		return;
	x->delivered = delivered;
	x->gate = gate;
	lr_rec_end(x, status, err);
}

/* The value of header `name` ("content-length:") in lines, or NULL. */
static const char *header_value(const char *lines, size_t n, const char *name)
{
	const char *l = lines, *end = lines + n, *e;
	size_t k = strlen(name);

	for (; l < end; l = e + 2) {
		if (!(e = memmem(l, (size_t)(end - l), "\r\n", 2)))
			e = end;
		if ((size_t)(e - l) > k && strncasecmp(l, name, k) == 0) {
			for (l += k; l < e && (*l == ' ' || *l == '\t'); l++)
				;
			return l;
		}
		if (e == end)
			break;
	}
	return NULL;
}

static int on_head(void *ud, long status, const char *lines, size_t n)
{
	served *s = ud;
	const char *cl = header_value(lines, n, "content-length:");

	s->status = status;
	s->expect_len = cl && *cl >= '0' && *cl <= '9' ? strtoll(cl, NULL, 10) : -1;
	s->got_len = 0;
	s->retry_after_s = parse_retry_after(lines, n);
	if (s->resilient && (lr_attempt_retryable(status) || lr_attempt_hold(&s->a) ||
			     (lr_attempt_hold_error(&s->a) && lr_overflow_status(status)))) {
		/* its fate is judged at its end: nothing reaches the app yet */
		s->state = lr_attempt_retryable(status) ? SWALLOW : HOLD;
		s->hold_cap = lr_attempt_hold(&s->a) ? MAX_HELD : LR_ATTEMPT_ERROR_HOLD;
		s->cur.status = status;
		return add(&s->cur.head, &s->cur.head_len, lines, n, MAX_HELD) < 0 ? -1 : 0;
	}
	if (s->resilient && lr_attempt_continuing(&s->a) && (status < 200 || status > 299)) {
		s->state = SWALLOW; /* a continuation refused: never the app's */
		s->cur.status = status;
		return add(&s->cur.head, &s->cur.head_len, lines, n, MAX_HELD) < 0 ? -1 : 0;
	}
	if (s->resilient && lr_attempt_first_token(&s->a)) {
		s->state = WAIT; /* nothing reaches the app before the first body byte */
		s->cur.status = status;
		return add(&s->cur.head, &s->cur.head_len, lines, n, MAX_HELD) < 0 ? -1 : 0;
	}
	s->state = PASS;
	if (s->resilient && lr_attempt_continuing(&s->a))
		return 0; /* the app has its stream's head */
	if (s->ttl_s) { /* kept to store the answer */
		free(s->cur.head);
		s->cur.head = NULL;
		s->cur.head_len = 0;
		add(&s->cur.head, &s->cur.head_len, lines, n, MAX_HELD);
	}
	emit_head(s, status, lines, n);
	return s->pipe->broken ? -1 : 0;
}

/* A whole event of a followed stream, to the app. */
static int emit_event(void *ud, const char *p, size_t n)
{
	served *s = ud;

	return emit_body(s, s->status, p, n) < 0 ? -1 : 0;
}

static int on_body(void *ud, const char *p, size_t n)
{
	served *s = ud;
	long left;

	lr_rec_body(s->rec, p, n);
	if (s->state == SWALLOW) {
		add(&s->cur.body, &s->cur.body_len, p, n, MAX_FAILED); /* the rest is dropped */
		return 0;
	}
	if (s->state == HOLD) {
		if (add(&s->cur.body, &s->cur.body_len, p, n, s->hold_cap) == 0)
			return 0;
		/* too big to hold: what came so far goes, escalation is off */
		s->state = PASS;
		emit_head(s, s->status, s->cur.head, s->cur.head_len);
		emit_body(s, s->status, s->cur.body, s->cur.body_len);
		kept_free(&s->cur);
	}
	if (s->state == WAIT) { /* the first body byte: the head goes now */
		s->state = PASS;
		if (!lr_attempt_continuing(&s->a))
			emit_head(s, s->status, s->cur.head, s->cur.head_len);
		if (!s->ttl_s)
			kept_free(&s->cur);
	}
	if (s->ttl_s && !s->copy_over && add(&s->copy, &s->copy_len, p, n, s->max_entry) < 0)
		s->copy_over = 1; /* too big to store: it still goes to the app */
	if (s->track) {
		int rc = lr_splice_feed(&s->sp, p, n, emit_event, s);

		if (rc < 0 && !s->pipe->broken)
			s->cut = 1; /* an error or malformed event: not passed, the attempt ends */
		if (rc < 0)
			return -1;
		left = put(s->pipe, NULL, 0);
	} else if ((left = emit_body(s, s->status, p, n)) < 0) {
		return -1;
	}
	s->got_len += (long long)n;
	if (!s->resilient && s->expect_len >= 0 && s->got_len >= s->expect_len && !s->finished) {
		/* whole by its length: the app has its end now, not after
		 * libcurl's clean-up; the record first, as in deliver_current */
		close_rec(s->rec, s->status, NULL, 1, NULL);
		s->rec = NULL;
		emit_end(s, s->status);
		s->finished = 1;
	}
	return left > PAUSE_AT ? LR_UP_PAUSE : 0;
}

static int on_drain(void *ud)
{
	served *s = ud;
	long left = put(s->pipe, NULL, 0);

	if (left < 0)
		return -1;
	return left > GO_AT ? LR_UP_PAUSE : 0;
}


static void begin(served *s);

static void served_free(served *s)
{
	lr_pipe *p = s->pipe;
	served *next = NULL;
	int i;

	pthread_mutex_lock(&p->mu);
	if (p->cur == s) {
		p->cur = next = p->next;
		p->next = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < s->nsteps; i++) {
		free(s->steps[i].raw);
		free(s->steps[i].url);
		free(s->steps[i].connect_to);
		lr_xsink_cfg_free(s->steps[i].xlate);
		lr_rec_free(s->steps[i].rec);
	}
	lr_rec_free(s->rec);
	kept_free(&s->cur);
	kept_free(&s->fail);
	kept_free(&s->best);
	if (s->resilient)
		lr_attempt_free(&s->a);
	lr_splice_free(&s->sp);
	free(s->cont_body);
	free(s->raw);
	free(s->copy);
	free(s);
	if (next)
		begin(next); /* holds its own reference to p */
	pipe_unref(p);
}

/* The app gets a JSON error in the shape its SDK reads, and the
 * connection's end: its next request opens a new one. */
static void answer_error(served *s, const lr_up_result *r)
{
	char msg[512], *resp = NULL;
	size_t n = 0;
	const char *url = s->steps[s->step].url, *h = strstr(url, "://"), *e;
	int hl;

	h = h ? h + 3 : url;
	e = strchr(h, '/');
	hl = e ? (int)(e - h) : (int)strlen(h);
	/* the host only: a path or query is the app's business */
	snprintf(msg, sizeof(msg), "llmroute: the shim could not reach %.*s: %.300s", hl > 200 ? 200 : hl, h,
		 r->error[0] ? r->error : r->timed_out ? "timed out" : "failed");
	if (lr_http_error_response(r->timed_out ? 504 : 502, "llmroute_upstream", msg, &resp, &n) == 0)
		put(s->pipe, resp, n);
	free(resp);
	lr_serve_shut_pipe(s->pipe);
	lr_log(LR_LOG_ERROR, "%s", msg);
}

/* Was the followed stream of the attempt just done cut short: passed,
 * or held whole, a 2xx without its end marker? */
static int cut_short(const served *s)
{
	if (!s->track || s->pipe->broken || s->status < 200 || s->status > 299)
		return 0;
	if (s->state == PASS)
		return !s->sp.done;
	return s->state == HOLD && s->a.stream_hold && !lr_splice_complete_like(&s->sp, s->cur.body, s->cur.body_len);
}

static const char *err_of(const served *s, const lr_up_result *r)
{
	if (r->timed_out)
		return r->timed_out == LR_TO_IDLE ? "idle_timeout"
		     : r->timed_out == LR_TO_FIRST_TOKEN ? "first_token_timeout" : "first_byte_timeout";
	if (s->cut)
		return "stream_error_event";
	if (r->fail == LR_OUT_OK)
		return cut_short(s) ? "stream_incomplete" : NULL;
	return r->status ? "incomplete" : "upstream_unreachable";
}

static int start_attempt(served *s, int step, unsigned delay_ms);

/* The attempt under way ended as r: its outcome for the chain. */
/* Has the text the app has used its token limit (the request's, as sent
 * at the first step)? */
static int limit_used(const served *s)
{
	const char *method, *body;
	size_t blen;

	return s->track && s->sp.tlen && parse_step((served *)s, 0, &method, &body, &blen) == 0 &&
	       lr_splice_limit(&s->sp, body, blen) == 0;
}

static void outcome_of(const served *s, const lr_up_result *r, lr_outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->status = s->status;
	o->fail = r->fail;
	o->timeout = r->timed_out;
	o->transient = r->transient;
	/* a continuation has passed something once one of its events did */
	o->passed = s->state == PASS && (!s->track || !lr_attempt_continuing(&s->a) || s->sp.events > 0);
	o->retry_after_s = s->retry_after_s;
	o->held = s->state == HOLD;
	o->body = s->cur.body;
	o->body_len = s->cur.body_len;
	o->app_stopped = s->pipe->broken;
	o->stream_cut = cut_short(s);
	o->no_continue = (o->stream_cut && o->passed && !lr_splice_can_continue(&s->sp)) || (s->track && s->sp.foreign);
	o->limit_reached = o->stream_cut && o->passed && limit_used(s);
}

/* A good answer goes into the cache (store: the chain said it may). */
static void store(served *s, const lr_up_result *r)
{
	const char *body = s->state == PASS ? s->copy : s->cur.body;
	size_t blen = s->state == PASS ? s->copy_len : s->cur.body_len;
	lr_cache *k;

	if (!s->ttl_s || r->fail != LR_OUT_OK || s->status < 200 || s->status > 299 ||
	    (s->state == PASS && s->copy_over) || !(k = lr_resil_cache(s->cache_size)))
		return;
	if (lr_cache_put(k, &s->key, (long long)time(NULL), (int)s->ttl_s, s->max_entry, (int)s->status,
			 s->cur.head, s->cur.head_len, body, blen) == 0 && s->rec)
		s->rec->cache = "stored";
}

/* Ends the request with the answer of the attempt just done.  The record
 * is written first: an app that exits on the answer's last byte must find
 * it in the audit (it cannot wait for our thread). */
static void deliver_current(served *s, const lr_up_result *r, const char *gate, int may_store)
{
	if (may_store)
		store(s, r);
	close_rec(s->rec, s->status, err_of(s, r), 1, gate);
	s->rec = NULL;
	if (s->state == PASS && r->fail == LR_OUT_OK) {
		emit_end(s, s->status);
	} else if (s->state == PASS) {
		lr_serve_shut_pipe(s->pipe); /* cut after the head: a broken answer, not a whole one */
	} else if (s->state != PENDING && s->cur.head) {
		s->cur.status = s->status;
		emit_kept(s, &s->cur);
	} else {
		answer_error(s, r);
	}
	served_free(s);
}

static void on_done(void *ud, const lr_up_result *r)
{
	served *s = ud;
	lr_outcome o;
	lr_act x;

	if (s->finished) { /* answered whole already (on_body) */
		served_free(s);
		return;
	}
	if (!s->resilient) {
		deliver_current(s, r, NULL, 0);
		return;
	}
	outcome_of(s, r, &o);
	x = lr_attempt_judge(&s->a, &o);
	if (x.partial) { /* the app has part of this answer: its record is written now */
		s->cut_why = err_of(s, r) ? err_of(s, r) : "stream_incomplete";
		lr_log(LR_LOG_INFO, "route %s: the stream was cut (%s) after %zu bytes of text: %s", s->a.route,
		       s->cut_why, s->sp.tlen, x.kind == LR_ACT_DELIVER_CUT ? "it cannot be continued" : "continuing it");
		close_rec(s->rec, s->status, s->cut_why, 1, NULL);
		s->rec = NULL;
	}
	if (x.settle_best && s->best.rec) {
		close_rec(s->best.rec, s->best.status, NULL, 0, s->best.rec->gate);
		s->best.rec = NULL;
	}
	if (x.keep == LR_KEEP_FAIL || x.keep == LR_KEEP_BEST) {
		kept *k = x.keep == LR_KEEP_FAIL ? &s->fail : &s->best;
		if (x.keep == LR_KEEP_FAIL)
			s->fail_cut = o.stream_cut && !o.passed;
		kept_free(k);
		*k = s->cur;
		memset(&s->cur, 0, sizeof(s->cur));
		k->status = s->status;
		k->err = err_of(s, r);
		k->rec = s->rec;
		s->rec = NULL;
		if (k->rec)
			k->rec->gate = x.gate;
		if (k->rec && x.overflow)
			k->rec->error_type = "context_length_exceeded";
		if (x.keep == LR_KEEP_BEST && x.overflow)
			lr_log(LR_LOG_INFO, "route %s: too long for the context window: to a larger target",
			       s->a.route);
		else if (x.keep == LR_KEEP_BEST)
			lr_log(LR_LOG_INFO, "route %s: the answer is %s: escalating", s->a.route, x.gate);
	} else if (x.overflow && s->rec) {
		s->rec->error_type = "context_length_exceeded";
	}
	for (;;) {
		switch (x.kind) {
		case LR_ACT_SEND:
		case LR_ACT_WAIT_SEND:
			lr_attempt_sent(&s->a, &x); /* first: the attempt's time-out and hold are its step's */
			if (start_attempt(s, x.step, x.kind == LR_ACT_WAIT_SEND ? x.wait_ms : 0) == 0) {
				if (s->rec) {
					s->rec->attempt = s->a.attempt;
					s->rec->via = s->a.via;
					s->rec->wait_ms = x.kind == LR_ACT_WAIT_SEND ? x.wait_ms : 0;
				}
				/* the failure before it is not the app's answer any more */
				close_rec(s->fail.rec, s->fail.status, s->fail.err, 0, NULL);
				s->fail.rec = NULL;
				return;
			}
			x = lr_attempt_unsendable(&s->a, &x);
			continue;
		case LR_ACT_DELIVER_BEST:
			close_rec(s->fail.rec, s->fail.status, s->fail.err, 0, NULL);
			s->fail.rec = NULL;
			close_rec(s->best.rec, s->best.status, NULL, 1, s->best.rec ? s->best.rec->gate : NULL);
			s->best.rec = NULL;
			emit_kept(s, &s->best);
			served_free(s);
			return;
		case LR_ACT_DELIVER_FAIL:
			close_rec(s->fail.rec, s->fail.status, s->fail.err, 1, NULL);
			s->fail.rec = NULL;
			if (s->fail.head && s->fail_cut)
				emit_cut_held(s, &s->fail);
			else if (s->fail.head)
				emit_kept(s, &s->fail);
			else
				answer_error(s, r);
			served_free(s);
			return;
		case LR_ACT_DELIVER_END: { /* the app's limit was used: the end its provider gives */
			size_t n = 0;
			char *ev = lr_splice_end_event(&s->sp, &n);

			close_rec(s->fail.rec, s->fail.status, s->fail.err, 0, NULL);
			s->fail.rec = NULL;
			if (ev)
				emit_body(s, 200, ev, n);
			free(ev);
			emit_end(s, 200);
			served_free(s);
			return;
		}
		case LR_ACT_DELIVER_CUT: { /* the app's stream ends with our error, never as a success */
			char ev[512];
			size_t n = lr_splice_error_event(&s->sp, s->cut_why ? s->cut_why : "stream_incomplete", ev,
							 sizeof(ev));
			long st = 200; /* the app's stream is a 2xx answer's */

			close_rec(s->fail.rec, s->fail.status, s->fail.err, 0, NULL);
			s->fail.rec = NULL;
			lr_rec_free(s->rec);
			s->rec = NULL;
			emit_body(s, st, ev, n);
			emit_end(s, st);
			served_free(s);
			return;
		}
		case LR_ACT_AS_APP: /* every step was decided when the request came: not reached */
			x = lr_attempt_unsendable(&s->a, &x);
			continue;
		default:
			deliver_current(s, r, x.gate, x.store);
			return;
		}
	}
}

static const lr_up_sink sink = {on_head, on_body, on_drain, on_done};

/* lr_up_start for step `step`, its answer translated into the app's
 * format first when the step's target speaks another (lr_xsink.h). */
static lr_up *start_up(served *s, int step, const lr_up_req *rq)
{
	void *x;
	lr_up *u;

	if (!s->steps[step].xlate)
		return lr_up_start(rq, &sink, s, s->pipe->fd);
	if (!(x = lr_xsink_new(s->steps[step].xlate, &sink, s)))
		return NULL;
	if (!(u = lr_up_start(rq, &lr_xsink, x, s->pipe->fd)))
		lr_xsink_free(x);
	return u;
}

/* Sends step `step` (after delay_ms).  0, or < 0 (nothing sent). */
static int start_attempt(served *s, int step, unsigned delay_ms)
{
	lr_up_req rq;
	const char *method, *body;
	size_t blen;

	if (step < 0 || step >= s->nsteps || !s->steps[step].raw || parse_step(s, step, &method, &body, &blen) < 0)
		return LR_EINVAL;
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = s->steps[step].url;
	rq.headers = s->lines;
	rq.nheaders = s->nlines;
	rq.body = body;
	rq.body_len = blen;
	rq.delay_ms = delay_ms;
	rq.head_timeout_ms = s->resilient ? lr_attempt_timeout(&s->a) : 0;
	rq.first_token_ms = s->resilient ? lr_attempt_first_token(&s->a) : 0;
	rq.idle_ms = s->resilient ? lr_attempt_idle(&s->a) : 0;
	if (s->resilient && lr_attempt_continuing(&s->a)) { /* the same request, asked for the rest */
		char *cb;
		size_t cl;

		if (lr_splice_body(&s->sp, body, blen, &cb, &cl) < 0)
			return LR_EINVAL;
		free(s->cont_body);
		rq.body = s->cont_body = cb;
		rq.body_len = cl;
	}
	if (s->track)
		lr_splice_attempt(&s->sp, s->resilient && lr_attempt_continuing(&s->a));
	s->cut = 0;
	rq.x509_store = s->store;
	rq.connect_to = s->steps[step].connect_to;
	if (s->steps[step].app_host && !rq.connect_to) /* never resolved anew with the app's key */
		return LR_EINVAL;
	kept_free(&s->cur);
	lr_rec_free(s->rec);
	s->rec = s->steps[step].rec;
	/* a spare for the same step sent again (after a Retry-After) */
	s->steps[step].rec = s->resilient ? lr_rec_clone(s->rec) : NULL;
	if (s->rec && s->resilient) {
		snprintf(s->rec->request_id, sizeof(s->rec->request_id), "%s", s->request_id);
		s->rec->cache = s->ttl_s ? "miss" : NULL;
	}
	free(s->copy);
	s->copy = NULL;
	s->copy_len = 0;
	s->copy_over = 0;
	lr_rec_restart(s->rec, delay_ms);
	s->step = step;
	s->state = PENDING;
	s->status = 0;
	s->retry_after_s = -1;
	if (!start_up(s, step, &rq)) {
		lr_rec_free(s->steps[step].rec);
		s->steps[step].rec = s->rec; /* not sent */
		s->rec = NULL;
		return LR_EINVAL;
	}
	return 0;
}

/* --- the app's side ------------------------------------------------------------- */


/* The key of what step 0 sends: its URL, its body, and the headers that
 * say who asks and what answer they want (credentials, API versions). */
static void cache_key(served *s)
{
	const char *method, *body;
	size_t blen;
	lr_cache_part parts[3];
	lr_cache_key acc;
	int i;

	if (parse_step(s, 0, &method, &body, &blen) < 0) {
		s->ttl_s = 0;
		return;
	}
	parts[0] = (lr_cache_part){"llmroute served request", 23};
	parts[1] = (lr_cache_part){s->steps[0].url, strlen(s->steps[0].url)};
	parts[2] = (lr_cache_part){body, blen};
	acc = lr_cache_key_of(parts, 3);
	for (i = 0; i < s->nlines; i++) {
		const char *l = s->lines[i], *colon = strchr(l, ':');
		if (!colon || !(lr_cred_is_credential_header(l, (size_t)(colon - l)) || lr_resil_shapes_answer(l)))
			continue;
		parts[0] = (lr_cache_part){&acc, sizeof(acc)};
		parts[1] = (lr_cache_part){l, strlen(l)};
		acc = lr_cache_key_of(parts, 2);
	}
	s->key = acc;
}

/* A live cache hit: the app gets it now, nothing is sent.  1 if served. */
static int serve_hit(served *s)
{
	lr_cache_hit hit;
	lr_cache *k;
	kept a;

	if (!s->ttl_s || !(k = lr_resil_cache(s->cache_size)) ||
	    lr_cache_get(k, &s->key, (long long)time(NULL), &hit) < 0)
		return 0;
	memset(&a, 0, sizeof(a));
	a.status = hit.status;
	a.head = hit.headers;
	a.head_len = hit.headers_len;
	a.body = hit.body;
	a.body_len = hit.body_len;
	s->rec = s->steps[0].rec;
	s->steps[0].rec = NULL;
	if (s->rec) { /* written before the app can have the answer (see deliver_current) */
		snprintf(s->rec->request_id, sizeof(s->rec->request_id), "%s", s->request_id);
		s->rec->attempt = 1;
		s->rec->cache = "hit";
		s->rec->cache_hit = 1;
		s->rec->delivered = 1;
		lr_rec_body(s->rec, hit.body, hit.body_len);
		lr_rec_end(s->rec, hit.status, NULL);
		s->rec = NULL;
	}
	emit_kept(s, &a);
	lr_cache_hit_free(&hit);
	return 1;
}

static int any_xlate(const served *s)
{
	int i;

	for (i = 0; i < s->nsteps; i++)
		if (s->steps[i].xlate)
			return 1;
	return 0;
}

int lr_serve_start(lr_conn *c, lr_serve_job *j)
{
	served *s;
	int i, wait = 0, busy = 0;

	if (!c->served && (!lr_serve_possible(c) || takeover(c) < 0))
		return LR_EINVAL;
	lr_up_on_idle(flush_corked);
	if (!(s = calloc(1, sizeof(*s))))
		return LR_ENOMEM;
	s->nsteps = j->nsteps;
	for (i = 0; i < j->nsteps; i++) { /* taken */
		s->steps[i] = j->steps[i];
		memset(&j->steps[i], 0, sizeof(j->steps[i]));
		if (s->steps[i].app_host && s->steps[i].url)
			s->steps[i].connect_to = pin_of(s->steps[i].url, c->pipe->peer);
	}
	if (j->attempts) {
		s->a = *j->attempts;
		memset(j->attempts, 0, sizeof(*j->attempts));
		s->health = j->health;
		s->a.env.ud = &s->health; /* the job's copy goes with the job */
		s->resilient = 1;
		lr_resil_request_id(s->request_id, sizeof(s->request_id));
		/* a continuation is asked of a step in the app's format */
		s->track = lr_attempt_track(&s->a) && lr_splice_supported(s->a.format, s->a.operation) &&
			   !any_xlate(s);
		lr_splice_init_op(&s->sp, s->a.format, s->a.operation);
	}
	s->no_body = j->no_body;
	s->store = c->kind == LR_CONN_TLS ? lr_ssl_store(c->tls) : NULL;
	s->ttl_s = s->resilient ? j->cache_ttl_s : 0;
	s->max_entry = j->cache_max_entry;
	s->cache_size = j->cache_size;
	s->pipe = c->pipe;
	pthread_mutex_lock(&c->pipe->mu);
	c->pipe->refs++;
	if (!c->pipe->cur)
		c->pipe->cur = s;
	else if (!c->pipe->next)
		c->pipe->next = s, wait = 1;
	else
		busy = 1;
	pthread_mutex_unlock(&c->pipe->mu);
	if (busy) { /* a client pipelining requests on a served connection */
		served_free(s);
		return LR_EBUSY;
	}
	if (!wait)
		begin(s);
	return 0;
}

/* The request's turn: a cache hit, or its first attempt. */
static void begin(served *s)
{
	lr_act x = {0};

	if (s->pipe->broken) { /* the connection ended before its turn: never sent */
		lr_rec_end(s->steps[0].rec, 0, "incomplete");
		s->steps[0].rec = NULL;
		served_free(s);
		return;
	}
	if (s->ttl_s)
		cache_key(s);
	if (s->ttl_s && serve_hit(s)) {
		served_free(s);
		return;
	}
	if (s->resilient) {
		x = lr_attempt_first(&s->a, 0);
		if (x.kind == LR_ACT_SEND && x.drop_record)
			lr_attempt_sent(&s->a, &x);
	}
	if (start_attempt(s, x.kind == LR_ACT_SEND ? x.step : 0, 0) < 0) {
		lr_up_result r = {.fail = LR_OUT_OTHER};
		snprintf(r.error, sizeof(r.error), "the shim's own client could not start");
		s->resilient = s->resilient ? (lr_attempt_free(&s->a), 0) : 0;
		deliver_current(s, &r, NULL, 0); /* the app gets our 502 */
	} else if (s->rec && s->resilient) {
		s->rec->attempt = s->a.attempt;
		s->rec->via = s->a.via;
	}
}

void lr_serve_shut(lr_conn *c)
{
	if (c->pipe)
		lr_serve_shut_pipe(c->pipe);
}

void lr_serve_pump(lr_conn *c)
{
	/* nothing waiting (nearly always): no lock, which the client's thread
	 * may hold while it sends */
	if (c->pipe && atomic_load(&c->pipe->waiting))
		put(c->pipe, NULL, 0);
}

/* The connection is gone.  What is in flight is the client thread's: it
 * finds our end broken at its next write, stops, writes its records as
 * incomplete and frees itself (never waited for here). */
void lr_serve_conn_free(lr_conn *c)
{
	lr_pipe *p = c->pipe;

	if (!p)
		return;
	c->pipe = NULL;
	pthread_mutex_lock(&p->mu);
	p->broken = 1;
	shutdown(p->fd, SHUT_RDWR);
	pthread_mutex_unlock(&p->mu);
	pipe_unref(p);
}

ssize_t lr_serve_read(lr_conn *c, void *buf, size_t n)
{
	int fd = lr_ssl_fd(c->tls);
	ssize_t r;

	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	r = syscall(SYS_recvfrom, fd, buf, n, 0, NULL, NULL);
	if (r >= 0)
		lr_serve_pump(c);
	else if (errno == EINTR)
		errno = EAGAIN; /* as OpenSSL's socket BIO: retry, after the app's signal handling */
	return r;
}
