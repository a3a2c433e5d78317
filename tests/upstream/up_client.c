/*
 * up_client.c - drives the shim's own upstream client (shim/lr_upstream.h)
 * for tests/t_upstream.sh.  It is linked with the whole shim (its hooks
 * interpose in this program as they would when preloaded, and are exported
 * so libcurl's calls reach them) and with OpenSSL, only to build the
 * X509_STOREs an app would have.
 *
 *   up_client CHECK ARGS...    runs one check, prints "ok - ..." lines,
 *                              exits 0 if all passed (1 otherwise)
 *   up_client bench URL N      prints median timings
 * Every check waits with a time limit: a hang fails, it never blocks.
 */
#include "lr_shim.h"
#include "lr_upstream.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures, checks;

#define CHECK(cond, ...)                                            \
	do {                                                        \
		checks++;                                           \
		if (cond) {                                         \
			printf("ok - ");                            \
		} else {                                            \
			failures++;                                 \
			printf("not ok - ");                        \
		}                                                   \
		printf(__VA_ARGS__);                                \
		printf("\n");                                       \
		fflush(stdout);                                     \
	} while (0)

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* --- a sink that records everything ------------------------------------------- */

typedef struct rec {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ndone, nhead, nbody, ncb_after;
	long status;
	char *head, *body;
	size_t head_len, body_len;
	lr_up_result r;
	long long t_start, t_head, t_done;
	pid_t cb_tid;
	_Atomic int stopped;          /* cancel returned: nothing may come */
	int pause_always;             /* body: pause and never drain */
	_Atomic int ncb;
} rec;

static void rec_init(rec *x)
{
	memset(x, 0, sizeof(*x));
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->cv, NULL);
}

static void rec_free(rec *x)
{
	free(x->head);
	free(x->body);
}

static void append(char **b, size_t *len, const char *p, size_t n)
{
	*b = realloc(*b, *len + n + 1);
	memcpy(*b + *len, p, n);
	*len += n;
	(*b)[*len] = '\0';
}

static void after_cancel(rec *x)
{
	atomic_fetch_add(&x->ncb, 1);
	if (atomic_load(&x->stopped))
		x->ncb_after++;
}

static int on_head(void *ud, long status, const char *lines, size_t n)
{
	rec *x = ud;

	after_cancel(x);
	pthread_mutex_lock(&x->mu);
	x->nhead++;
	x->status = status;
	x->t_head = now_us();
	x->cb_tid = (pid_t)syscall(SYS_gettid);
	append(&x->head, &x->head_len, lines, n);
	pthread_mutex_unlock(&x->mu);
	return 0;
}

static int on_body(void *ud, const char *p, size_t n)
{
	rec *x = ud;

	after_cancel(x);
	pthread_mutex_lock(&x->mu);
	x->nbody++;
	append(&x->body, &x->body_len, p, n);
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	return x->pause_always ? LR_UP_PAUSE : 0;
}

static int on_drain(void *ud)
{
	rec *x = ud;

	after_cancel(x);
	return x->pause_always ? LR_UP_PAUSE : 0;
}

static void on_done(void *ud, const lr_up_result *r)
{
	rec *x = ud;

	after_cancel(x);
	pthread_mutex_lock(&x->mu);
	x->ndone++;
	x->r = *r;
	x->t_done = now_us();
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
}

static const lr_up_sink rec_sink = {on_head, on_body, on_drain, on_done};

/* Waits until x is done (or has n body bytes if n > 0).  0, or -1 on timeout. */
static int rec_wait(rec *x, int ms, size_t n)
{
	struct timespec dl;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&x->mu);
	while (rc == 0 && (n ? x->body_len < n && !x->ndone : !x->ndone))
		rc = pthread_cond_timedwait(&x->cv, &x->mu, &dl);
	pthread_mutex_unlock(&x->mu);
	return rc ? -1 : 0;
}

static lr_up *start(rec *x, const char *method, const char *url, const char *const *hdrs, int nh,
		    const char *body, unsigned head_to, unsigned delay, void *store)
{
	lr_up_req rq = {method, url, hdrs, nh, body, body ? strlen(body) : 0, head_to, delay, store, NULL, 0, 0};

	x->t_start = now_us();
	return lr_up_start(&rq, &rec_sink, x, -1);
}

/* One request, waited for. */
static int fetch(rec *x, const char *method, const char *url, const char *body, void *store)
{
	static const char *const h[] = {"Content-Type: application/json", "X-Test: 1"};

	rec_init(x);
	if (!start(x, method, url, h, 2, body, 0, 0, store))
		return -1;
	return rec_wait(x, 10000, 0);
}

static char *url_of(const char *base, const char *path)
{
	char *u = malloc(strlen(base) + strlen(path) + 1);

	strcpy(u, base);
	strcat(u, path);
	return u;
}

static int head_has(const rec *x, const char *line)
{
	return x->head && strstr(x->head, line) != NULL;
}

/* Writes a file for the shell to compare with what the mock sent. */
static void save(const char *path, const char *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f) {
		fwrite(p, 1, n, f);
		fclose(f);
	}
}

/* --- checks --------------------------------------------------------------------- */

static void t_plain(const char *base, const char *dir)
{
	static const char *const h[] = {
		"Content-Type: application/json", "Authorization: Bearer sk-test", "X-Empty:",
		"Host: wrong.example", "Connection: close", "Transfer-Encoding: chunked", "Expect: 100-continue",
		"X-Dup: a", "X-Dup: b", "Bad Header: x", "X-CRLF: a\r\nInjected: 1"};
	const char *body = "{\"hello\": \"world\", \"n\": 12345}";
	char *u = url_of(base, "/echo"), path[4096];
	rec x;

	rec_init(&x);
	CHECK(lr_up_available(), "libcurl loads");
	CHECK(start(&x, "POST", u, h, 11, body, 0, 0, NULL) != NULL, "POST starts");
	CHECK(rec_wait(&x, 10000, 0) == 0, "POST: done() came");
	CHECK(x.ndone == 1 && x.nhead == 1, "POST: one head, one done");
	CHECK(x.r.fail == LR_OUT_OK && x.r.status == 200 && x.status == 200 && !x.r.error[0],
	      "POST: 200, fail OK (%d %ld '%s')", x.r.fail, x.r.status, x.r.error);
	CHECK(x.body_len == strlen(body) && memcmp(x.body, body, x.body_len) == 0, "POST: body exact (echo)");
	CHECK(head_has(&x, "Content-Type: application/octet-stream\r\n") && head_has(&x, "x-mock-request: "),
	      "POST: head lines as received");
	CHECK(x.head && strncmp(x.head, "HTTP/", 5) != 0 && x.head_len >= 2 &&
		      memcmp(x.head + x.head_len - 2, "\r\n", 2) == 0 && !strstr(x.head, "\r\n\r\n"),
	      "POST: no status line, no blank line, every line ends in CRLF");
	CHECK(x.r.head_us > 0 && x.r.total_us >= x.r.head_us, "POST: head_us %lld <= total_us %lld",
	      x.r.head_us, x.r.total_us);
	snprintf(path, sizeof(path), "%s/post.head", dir);
	save(path, x.head, x.head_len);
	snprintf(path, sizeof(path), "%s/post.body", dir);
	save(path, x.body, x.body_len);
	rec_free(&x);

	free(u);
	u = url_of(base, "/echo?x=1&y=two");
	CHECK(fetch(&x, "GET", u, NULL, NULL) == 0 && x.r.fail == LR_OUT_OK && x.r.status == 200 &&
		      x.body_len == 0 && x.nbody == 0,
	      "GET: 200, empty body, no body callback");
	snprintf(path, sizeof(path), "%s/get.head", dir);
	save(path, x.head, x.head_len);
	rec_free(&x);
	free(u);

	u = url_of(base, "/echo");
	CHECK(fetch(&x, "HEAD", u, NULL, NULL) == 0 && x.r.fail == LR_OUT_OK && x.nbody == 0,
	      "HEAD: done, no body (%d %ld)", x.r.fail, x.r.status);
	rec_free(&x);
	CHECK(fetch(&x, "PUT", u, "put-body", NULL) == 0 && x.r.status == 200 && x.body_len == 8 &&
		      memcmp(x.body, "put-body", 8) == 0,
	      "PUT with a body: echoed");
	rec_free(&x);
	free(u);

	u = url_of(base, "/nope");
	CHECK(fetch(&x, "GET", u, NULL, NULL) == 0 && x.r.fail == LR_OUT_OK && x.r.status == 404 &&
		      x.body_len > 0,
	      "a 404 is an answer: fail OK, status 404, its body");
	rec_free(&x);
	free(u);

	CHECK(fetch(&x, "GET", "http://127.0.0.1:1/x", NULL, NULL) == 0 && x.r.fail == LR_OUT_TRANSPORT &&
		      x.r.status == 0 && x.r.error[0] && x.nhead == 0,
	      "connection refused: TRANSPORT, no head (%s)", x.r.error);
	rec_free(&x);
	CHECK(fetch(&x, "GET", "http://no-such-host.invalid/x", NULL, NULL) == 0 &&
		      x.r.fail == LR_OUT_TRANSPORT,
	      "unknown host: TRANSPORT (%s)", x.r.error);
	rec_free(&x);
	{
		lr_up_req rq = {"POST", "ftp://127.0.0.1/x", NULL, 0, NULL, 0, 0, 0, NULL, NULL, 0, 0};
		lr_up_req bad = {"PO ST", "http://127.0.0.1/x", NULL, 0, NULL, 0, 0, 0, NULL, NULL, 0, 0};
		CHECK(!lr_up_start(&rq, &rec_sink, &x, -1) && !lr_up_start(&bad, &rec_sink, &x, -1),
		      "an ftp URL or a bad method does not start");
	}
}

/* SSE through a sink that writes into a small socketpair and pauses when it
 * is full; a slow reader on the other end. */
typedef struct {
	int fd, peer;
	char *pend;
	size_t plen, poff;
	int pauses, drains, chunks, ndone;
	lr_up_result r;
	char *got;
	size_t got_len;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *head;
	size_t head_len;
} pipe_sink;

static int ps_flush(pipe_sink *s)
{
	ssize_t w;

	while (s->poff < s->plen) {
		w = send(s->fd, s->pend + s->poff, s->plen - s->poff, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0)
			s->poff += (size_t)w;
		else if (w < 0 && errno == EINTR)
			continue;
		else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return LR_UP_PAUSE;
		else
			return -1;
	}
	s->plen = s->poff = 0;
	return 0;
}

static int ps_head(void *ud, long status, const char *lines, size_t n)
{
	pipe_sink *s = ud;

	append(&s->head, &s->head_len, lines, n);
	return status == 200 ? 0 : -1;
}

static int ps_body(void *ud, const char *p, size_t n)
{
	pipe_sink *s = ud;
	int r;

	s->chunks++;
	s->pend = realloc(s->pend, s->plen + n);
	memcpy(s->pend + s->plen, p, n);
	s->plen += n;
	r = ps_flush(s);
	if (r == LR_UP_PAUSE)
		s->pauses++;
	return r;
}

static int ps_drain(void *ud)
{
	pipe_sink *s = ud;

	s->drains++;
	return ps_flush(s);
}

static void ps_done(void *ud, const lr_up_result *r)
{
	pipe_sink *s = ud;
	int fl = fcntl(s->fd, F_GETFL);

	fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK);
	while (s->poff < s->plen) { /* the test's own end: the reader drains it */
		ssize_t w = send(s->fd, s->pend + s->poff, s->plen - s->poff, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		s->poff += (size_t)w;
	}
	shutdown(s->fd, SHUT_WR);
	pthread_mutex_lock(&s->mu);
	s->r = *r;
	s->ndone++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void *slow_reader(void *arg)
{
	pipe_sink *s = arg;
	char buf[2048];
	ssize_t n;

	while ((n = read(s->peer, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
		if (n > 0)
			append(&s->got, &s->got_len, buf, (size_t)n);
		sleep_ms(1);
	}
	return NULL;
}

static void t_sse(const char *base, const char *dir)
{
	static const lr_up_sink sink = {ps_head, ps_body, ps_drain, ps_done};
	static const char *const h[] = {"Content-Type: application/json", "Accept: text/event-stream"};
	const char *body = "{\"model\": \"long-stream\", \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}";
	char *u = url_of(base, "/v1/chat/completions"), path[4096];
	pipe_sink s;
	int sp[2], sz = 4096, i;
	pthread_t rd;
	lr_up_req rq = {"POST", u, h, 2, body, strlen(body), 200, 0, NULL, NULL, 0, 0};

	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cv, NULL);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	s.fd = sp[0];
	s.peer = sp[1];
	pthread_create(&rd, NULL, slow_reader, &s);
	CHECK(lr_up_start(&rq, &sink, &s, sp[0]) != NULL, "SSE: starts with the socketpair as wait_fd");
	pthread_mutex_lock(&s.mu);
	for (i = 0; i < 300 && !s.ndone; i++) {
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_nsec += 100000000;
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s.cv, &s.mu, &dl);
	}
	pthread_mutex_unlock(&s.mu);
	pthread_join(rd, NULL);
	CHECK(s.ndone == 1 && s.r.fail == LR_OUT_OK && s.r.status == 200,
	      "SSE: completed (%d %ld '%s')", s.r.fail, s.r.status, s.r.error);
	CHECK(s.pauses > 0 && s.drains > 0, "SSE: the sink paused %d times, drained %d times", s.pauses, s.drains);
	CHECK(s.chunks > 1, "SSE: delivered in %d pieces", s.chunks);
	CHECK(!s.r.timed_out, "SSE: a 200 ms head timeout does not cut a stream paused far longer");
	CHECK(s.got_len > 300000 && strstr(s.got, "data: [DONE]") != NULL, "SSE: %zu bytes read by the app end",
	      s.got_len);
	snprintf(path, sizeof(path), "%s/sse.body", dir);
	save(path, s.got, s.got_len);
	snprintf(path, sizeof(path), "%s/sse.head", dir);
	save(path, s.head, s.head_len);
	close(sp[0]);
	close(sp[1]);
	free(u);
}

static int store_objects(X509_STORE *st)
{
	return sk_X509_OBJECT_num(X509_STORE_get0_objects(st));
}

static X509_STORE *store_of(const char *pem)
{
	X509_STORE *st = X509_STORE_new();

	if (st && pem && X509_STORE_load_file(st, pem) != 1) {
		X509_STORE_free(st);
		return NULL;
	}
	return st;
}

static void t_tls(const char *base, const char *ca, const char *other)
{
	X509_STORE *good = store_of(ca), *bad = store_of(other), *both = store_of(ca);
	char *u = url_of(base, "/echo");
	int before = store_objects(good);
	rec x;

	X509_STORE_load_file(both, other);
	CHECK(good && bad && before == 1, "TLS: stores built (%d object)", before);
	CHECK(fetch(&x, "POST", u, "tls-body", good) == 0 && x.r.fail == LR_OUT_OK && x.r.status == 200 &&
		      x.body_len == 8 && memcmp(x.body, "tls-body", 8) == 0,
	      "TLS: the right store verifies (%d %ld '%s')", x.r.fail, x.r.status, x.r.error);
	rec_free(&x);
	CHECK(store_objects(good) == before, "TLS: the app's store is not modified (%d objects)",
	      store_objects(good));
	CHECK(fetch(&x, "POST", u, "tls-body", bad) == 0 && x.r.fail == LR_OUT_TRANSPORT && x.nhead == 0 &&
		      strstr(x.r.error, "certificate") != NULL,
	      "TLS: a store without the CA fails TRANSPORT right after a verified request to the same host "
	      "(no reuse): '%s'",
	      x.r.error);
	rec_free(&x);
	CHECK(fetch(&x, "POST", u, "tls-body", NULL) == 0 && x.r.fail == LR_OUT_TRANSPORT && x.nhead == 0,
	      "TLS: libcurl's default trust does not know the private CA: TRANSPORT ('%s')", x.r.error);
	rec_free(&x);
	CHECK(fetch(&x, "POST", u, "again", good) == 0 && x.r.fail == LR_OUT_OK && x.body_len == 5,
	      "TLS: the right store again");
	rec_free(&x);
	CHECK(fetch(&x, "POST", u, "both", both) == 0 && x.r.fail == LR_OUT_OK,
	      "TLS: a store with the CA among others verifies");
	rec_free(&x);
	{ /* many requests on one store: reuse, and the store freed by the app meanwhile */
		X509_STORE *t = store_of(ca);
		int ok = 0, i;
		for (i = 0; i < 20; i++) {
			if (fetch(&x, "POST", u, "n", t) == 0 && x.r.fail == LR_OUT_OK)
				ok++;
			rec_free(&x);
			if (i == 0)
				X509_STORE_free(t); /* our reference keeps it alive */
		}
		CHECK(ok == 20, "TLS: 20 requests with one store, the app dropped its reference after the first");
	}
	X509_STORE_free(good);
	X509_STORE_free(bad);
	X509_STORE_free(both);
	free(u);
}

static void t_timeout(const char *base)
{
	char *hang = url_of(base, "/hang/echo"), *slow = url_of(base, "/slow/echo");
	rec x;

	rec_init(&x);
	start(&x, "POST", hang, NULL, 0, "x", 300, 0, NULL);
	CHECK(rec_wait(&x, 5000, 0) == 0, "head timeout: done() came");
	CHECK(x.r.timed_out == 1 && x.r.fail == LR_OUT_ABORTED && x.r.status == 0 && x.nhead == 0,
	      "head timeout (hang): timed_out, ABORTED (%d '%s')", x.r.fail, x.r.error);
	CHECK(x.t_done - x.t_start >= 300000 && x.t_done - x.t_start < 2000000,
	      "head timeout: ended after %lld ms", (x.t_done - x.t_start) / 1000);
	rec_free(&x);
	rec_init(&x);
	start(&x, "POST", slow, NULL, 0, "x", 300, 0, NULL);
	CHECK(rec_wait(&x, 5000, 0) == 0 && x.r.timed_out == 1 && x.nhead == 0,
	      "head timeout (slow 800 ms upstream, 300 ms limit): timed out");
	rec_free(&x);
	rec_init(&x);
	start(&x, "POST", slow, NULL, 0, "x", 3000, 0, NULL);
	CHECK(rec_wait(&x, 6000, 0) == 0 && x.r.fail == LR_OUT_OK && !x.r.timed_out && x.r.status == 200,
	      "slow 800 ms upstream within a 3 s limit: answered");
	rec_free(&x);
	free(hang);
	free(slow);
}

/* The body's time-outs: a stream whose head comes, then nothing (the mock's
 * stall); one that stops after its first text (stallmid). */
static void t_body_timeouts(const char *base)
{
	static const char *const h[] = {"Content-Type: application/json"};
	char *u = url_of(base, "/v1/chat/completions");
	const char *stall = "{\"model\": \"stall-x\", \"stream\": true, \"messages\": []}";
	const char *mid = "{\"model\": \"stallmid-x\", \"stream\": true, \"messages\": []}";
	lr_up_req rq = {"POST", u, h, 1, stall, strlen(stall), 0, 0, NULL, NULL, 300, 0};
	rec x;

	rec_init(&x);
	x.t_start = now_us();
	lr_up_start(&rq, &rec_sink, &x, -1);
	CHECK(rec_wait(&x, 5000, 0) == 0 && x.r.timed_out == LR_TO_FIRST_TOKEN && x.r.fail == LR_OUT_ABORTED &&
		      x.r.status == 200 && x.nhead == 1 && x.body_len == 0,
	      "first token (a head, then nothing): timed out (%d %d '%s')", x.r.timed_out, x.r.fail, x.r.error);
	CHECK(x.t_done - x.t_start >= 300000, "first token: not before 300 ms (%lld ms)", (x.t_done - x.t_start) / 1000);
	rec_free(&x);
	rec_init(&x);
	rq.body = mid;
	rq.body_len = strlen(mid);
	rq.first_token_ms = 0;
	rq.idle_ms = 300;
	x.t_start = now_us();
	lr_up_start(&rq, &rec_sink, &x, -1);
	CHECK(rec_wait(&x, 5000, 0) == 0 && x.r.timed_out == LR_TO_IDLE && x.r.fail == LR_OUT_ABORTED &&
		      x.r.status == 200 && x.body_len > 0,
	      "idle (text, then nothing): timed out after %zu bytes (%d '%s')", x.body_len, x.r.timed_out, x.r.error);
	rec_free(&x);
	rec_init(&x); /* a stream that goes on is not cut */
	rq.body = "{\"model\": \"m\", \"stream\": true, \"messages\": []}";
	rq.body_len = strlen(rq.body);
	rq.first_token_ms = 300;
	x.t_start = now_us();
	lr_up_start(&rq, &rec_sink, &x, -1);
	CHECK(rec_wait(&x, 5000, 0) == 0 && x.r.fail == LR_OUT_OK && !x.r.timed_out && x.body && strstr(x.body, "[DONE]"),
	      "a whole stream under both time-outs: not cut (%d '%s')", x.r.fail, x.r.error);
	rec_free(&x);
	free(u);
}

static void t_delay(const char *base)
{
	char *u = url_of(base, "/echo");
	rec a, b;
	long long t0, t1;

	rec_init(&a);
	rec_init(&b);
	t0 = now_us();
	start(&a, "POST", u, NULL, 0, "late", 0, 400, NULL);
	t1 = now_us();
	start(&b, "POST", u, NULL, 0, "early", 0, 0, NULL);
	CHECK(t1 - t0 < 20000, "delay: lr_up_start returned in %lld us", t1 - t0);
	CHECK(rec_wait(&b, 5000, 0) == 0 && b.r.fail == LR_OUT_OK && a.ndone == 0,
	      "delay: a request without delay is answered while the delayed one waits");
	CHECK(rec_wait(&a, 5000, 0) == 0 && a.r.fail == LR_OUT_OK && a.body_len == 4, "delay: the delayed one too");
	CHECK(a.t_done - t0 >= 400000, "delay: answered %lld ms after the start (>= 400)", (a.t_done - t0) / 1000);
	CHECK(a.r.total_us < a.t_done - t0 - 350000, "delay: its total_us (%lld us) counts from the real start",
	      a.r.total_us);
	rec_free(&a);
	rec_free(&b);
	free(u);
}

static void t_cancel(const char *base)
{
	const char *body = "{\"model\": \"long-stream\", \"stream\": true, \"messages\": []}";
	char *u = url_of(base, "/v1/chat/completions"), *e = url_of(base, "/echo");
	int i, ok, n1, n2;
	rec x;
	lr_up *h;

	rec_init(&x);
	x.pause_always = 1;
	h = start(&x, "POST", u, NULL, 0, body, 0, 0, NULL);
	CHECK(h && rec_wait(&x, 5000, 1) == 0 && x.nbody >= 1, "cancel: the stream started (%d body calls)",
	      x.nbody);
	sleep_ms(50);
	/* The sink is called again every few ms while it stays paused, so the
	 * count is taken once cancel has returned, not before (CI saw one more
	 * callback land between a count taken before and the cancel). */
	CHECK(lr_up_cancel(h) == 1, "cancel mid-stream returns 1");
	n1 = atomic_load(&x.ncb);
	atomic_store(&x.stopped, 1);
	sleep_ms(300);
	n2 = atomic_load(&x.ncb);
	CHECK(x.ndone == 0 && x.ncb_after == 0 && n2 == n1,
	      "cancel: no callback after it returned, no done (done %d, after %d, %d -> %d)", x.ndone, x.ncb_after,
	      n1, n2);
	CHECK(lr_up_cancel(h) == 1 || lr_up_cancel(h) == 0, "cancel again: harmless");
	rec_free(&x);

	CHECK(fetch(&x, "POST", e, "z", NULL) == 0 && x.ndone == 1, "cancel: a request that ended...");
	rec_free(&x);
	rec_init(&x);
	h = start(&x, "POST", e, NULL, 0, "z", 0, 0, NULL);
	rec_wait(&x, 5000, 0);
	sleep_ms(20);
	CHECK(lr_up_cancel(h) == 0 && x.ndone == 1, "cancel after done: returns 0, nothing else happens");
	rec_free(&x);

	rec_init(&x);
	h = start(&x, "POST", e, NULL, 0, "z", 0, 1000, NULL);
	CHECK(lr_up_cancel(h) == 1, "cancel during its delay: 1");
	atomic_store(&x.stopped, 1);
	sleep_ms(1300);
	CHECK(x.ndone == 0 && atomic_load(&x.ncb) == 0, "cancel during its delay: never sent, no callback");
	rec_free(&x);

	/* cancels racing with ends: each request gets done exactly once, or
	 * was cancelled (1) and got nothing after */
	ok = 0;
	for (i = 0; i < 60; i++) {
		rec r;
		lr_up *hh;
		int c;
		rec_init(&r);
		hh = start(&r, "POST", e, NULL, 0, "race", 0, 0, NULL);
		sleep_ms(i % 7);
		c = lr_up_cancel(hh);
		atomic_store(&r.stopped, 1);
		if (c == 0)
			rec_wait(&r, 5000, 0);
		sleep_ms(2);
		if ((c == 1 && r.ndone == 0 && r.ncb_after == 0) || (c == 0 && r.ndone == 1))
			ok++;
		rec_free(&r);
	}
	CHECK(ok == 60, "cancel racing the answer: 60 of 60 consistent (%d)", ok);
	free(u);
	free(e);
}

/* --- many threads -------------------------------------------------------------------- */

static const char *g_base;
static _Atomic int g_good, g_bad;

static void *worker(void *arg)
{
	long t = (long)arg;
	rec r[25];
	char bodies[25][64];
	char *u = url_of(g_base, "/echo");
	int i;

	for (i = 0; i < 25; i++) {
		rec_init(&r[i]);
		snprintf(bodies[i], sizeof(bodies[i]), "thread %ld request %d", t, i);
		if (!start(&r[i], "POST", u, NULL, 0, bodies[i], 0, 0, NULL))
			atomic_fetch_add(&g_bad, 1);
	}
	for (i = 0; i < 25; i++) {
		if (rec_wait(&r[i], 20000, 0) == 0 && r[i].ndone == 1 && r[i].r.fail == LR_OUT_OK &&
		    r[i].body_len == strlen(bodies[i]) && memcmp(r[i].body, bodies[i], r[i].body_len) == 0)
			atomic_fetch_add(&g_good, 1);
		else
			atomic_fetch_add(&g_bad, 1);
	}
	sleep_ms(50);
	for (i = 0; i < 25; i++) {
		if (r[i].ndone != 1)
			atomic_fetch_add(&g_bad, 1);
		rec_free(&r[i]);
	}
	free(u);
	return NULL;
}

static void t_threads(const char *base)
{
	pthread_t th[4];
	long i;

	g_base = base;
	for (i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	CHECK(g_good == 100 && g_bad == 0, "4 threads x 25 requests: %d delivered once and exact, %d wrong",
	      (int)g_good, (int)g_bad);
}

/* --- fork --------------------------------------------------------------------------------- */

static void t_fork(const char *base)
{
	char *slow = url_of(base, "/slow/echo"), *e = url_of(base, "/echo");
	rec p, warm;
	pid_t pid;
	int st = 0;

	CHECK(fetch(&warm, "POST", e, "warm", NULL) == 0 && warm.r.fail == LR_OUT_OK, "fork: the client runs");
	rec_free(&warm);
	rec_init(&p);
	start(&p, "POST", slow, NULL, 0, "parent", 0, 0, NULL);
	sleep_ms(100);
	pid = fork();
	if (pid == 0) {
		rec c;
		int good = fetch(&c, "POST", e, "child", NULL) == 0 && c.r.fail == LR_OUT_OK && c.body_len == 5 &&
			   memcmp(c.body, "child", 5) == 0 && p.ndone == 0;
		_exit(good ? 0 : 3);
	}
	CHECK(pid > 0, "fork: forked");
	CHECK(rec_wait(&p, 5000, 0) == 0 && p.ndone == 1 && p.r.fail == LR_OUT_OK && p.body_len == 6,
	      "fork: the parent's in-flight request completes (%d '%s')", p.r.fail, p.r.error);
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "fork: the child made its own request and got its answer; the parent's sink was not called there");
	CHECK(fetch(&warm, "POST", e, "after", NULL) == 0 && warm.r.fail == LR_OUT_OK,
	      "fork: the parent goes on");
	rec_free(&warm);
	rec_free(&p);
	/* a child whose client never ran its own: the inherited descriptors are not ours there */
	pid = fork();
	if (pid == 0) {
		int fd, ours = 0;
		for (fd = 0; fd < 4096; fd++)
			ours += lr_up_owns_fd(fd);
		_exit(ours == 0 && !lr_up_watching() ? 0 : 4);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork: in a child the client owns no descriptor");
	free(slow);
	free(e);
}

/* --- programs that close everything ----------------------------------------------------- */

static int ours(int *fds, int max)
{
	int fd, n = 0;

	for (fd = 0; fd < 65536 && n < max; fd++)
		if (lr_up_owns_fd(fd))
			fds[n++] = fd;
	return n;
}

static int all_open(const int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (fcntl(fds[i], F_GETFD) < 0 || !(fcntl(fds[i], F_GETFD) & FD_CLOEXEC))
			return 0;
	return 1;
}

static int fd_kind(int fd, const char *what)
{
	char p[64], l[256];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, l, sizeof(l) - 1);
	if (n < 0)
		return 0;
	l[n] = '\0';
	return strstr(l, what) != NULL;
}

static void t_closeall(const char *base)
{
	char *slow = url_of(base, "/slow/echo"), *e = url_of(base, "/echo");
	int fds[256], n, i, fd, low = 65536, wake = -1, sock = -1, pp[2];
	rec x;
	char buf[64];

	CHECK(fetch(&x, "POST", e, "warm", NULL) == 0 && x.r.fail == LR_OUT_OK, "closeall: the client runs");
	rec_free(&x);
	rec_init(&x);
	start(&x, "POST", slow, NULL, 0, "survive", 0, 0, NULL);
	sleep_ms(200);
	n = ours(fds, 256);
	for (i = 0; i < n; i++)
		low = fds[i] < low ? fds[i] : low;
	CHECK(n >= 2, "closeall: the client owns %d descriptors, from %d up", n, low);
	CHECK(low >= 3 && all_open(fds, n), "closeall: all open and close-on-exec, none of 0-2");
	closefrom(3);
	CHECK(all_open(fds, n), "closefrom(3): the client's descriptors are still open");
	CHECK(rec_wait(&x, 5000, 0) == 0 && x.r.fail == LR_OUT_OK && x.body_len == 7,
	      "closefrom(3) mid-request: the request completes (%d '%s')", x.r.fail, x.r.error);
	rec_free(&x);
	fd = open("/dev/null", O_RDONLY);
	CHECK(fd >= 3 && close(fd) == 0 && fcntl(fd, F_GETFD) < 0, "closefrom(3): the app's own descriptors closed");

	rec_init(&x);
	start(&x, "POST", slow, NULL, 0, "again", 0, 0, NULL);
	sleep_ms(200);
	n = ours(fds, 256);
	close_range(3, ~0u, 0);
	for (fd = 3; fd < 2048; fd++)
		close(fd);
	CHECK(all_open(fds, n), "close_range(3, ~0) and close(3..2047): still open");
	CHECK(rec_wait(&x, 5000, 0) == 0 && x.r.fail == LR_OUT_OK && x.body_len == 5,
	      "... and that request completes too");
	rec_free(&x);

	/* dup2 onto the wake-up descriptor: it moves */
	n = ours(fds, 256);
	for (i = 0; i < n; i++)
		if (fd_kind(fds[i], "eventfd"))
			wake = fds[i];
	fd = open("/dev/null", O_RDONLY);
	CHECK(wake >= 0 && dup2(fd, wake) == wake && fd_kind(wake, "/dev/null"),
	      "dup2 onto the wake-up descriptor %d: the app gets its file there", wake);
	close(fd);
	n = ours(fds, 256);
	for (i = 0, fd = -1; i < n; i++)
		if (fd_kind(fds[i], "eventfd"))
			fd = fds[i];
	CHECK(fd >= 0 && fd != wake && !lr_up_owns_fd(wake), "... and the wake-up moved to %d", fd);
	CHECK(fetch(&x, "POST", e, "moved", NULL) == 0 && x.r.fail == LR_OUT_OK && x.t_done - x.t_start < 1500000,
	      "... the client still wakes up (%lld ms)", (x.t_done - x.t_start) / 1000);
	rec_free(&x);
	close(wake);

	/* dup2 onto a libcurl socket mid-request: the app's dup2 wins, libcurl
	 * never writes into or reads from the app's file */
	rec_init(&x);
	start(&x, "POST", slow, NULL, 0, "stolen", 0, 0, NULL);
	sleep_ms(200);
	n = ours(fds, 256);
	for (i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (getsockname(fds[i], (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET)
			sock = fds[i];
	}
	pipe(pp);
	CHECK(sock >= 0 && dup2(pp[1], sock) == sock, "dup2 onto libcurl's socket %d mid-request", sock);
	CHECK(rec_wait(&x, 5000, 0) == 0 && x.r.fail == LR_OUT_TRANSPORT,
	      "... that request fails TRANSPORT ('%s')", x.r.error);
	fcntl(pp[0], F_SETFL, O_NONBLOCK);
	close(pp[1]);
	CHECK(fcntl(sock, F_GETFD) >= 0 && read(pp[0], buf, sizeof(buf)) < 0 && errno == EAGAIN,
	      "... the app's file at %d stays open and nothing was written into it", sock);
	close(sock);
	close(pp[0]);
	rec_free(&x);
	CHECK(fetch(&x, "POST", e, "after", NULL) == 0 && x.r.fail == LR_OUT_OK, "... and the next request works (%d %s)", x.r.fail, x.r.error);
	rec_free(&x);
	free(slow);
	free(e);
}

/* --- HTTP/2 (needs an h2 server: nghttpd) --------------------------------------------- */

typedef struct {
	pipe_sink s;
	pthread_t rd;
	int sp[2];
} h2job;

static int inet_sockets(void)
{
	int fds[256], n = ours(fds, 256), i, k = 0;

	for (i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (getsockname(fds[i], (struct sockaddr *)&ss, &sl) == 0 &&
		    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
			k++;
	}
	return k;
}

/* 8 streams of a 2 MB file at once, each into a small socketpair read
 * slowly (so each pauses many times), and 8 small ones beside them. */
static void t_h2(const char *base, const char *ca)
{
	static const lr_up_sink sink = {ps_head, ps_body, ps_drain, ps_done};
	X509_STORE *st = store_of(ca);
	char *big = url_of(base, "/big"), *small = url_of(base, "/small");
	h2job j[8];
	rec r[8];
	int i, k, sz = 8192, good = 0, pauses = 0, most = 0, sgood = 0;

	for (i = 0; i < 8; i++) {
		lr_up_req rq = {"GET", big, NULL, 0, NULL, 0, 0, 0, st, NULL, 0, 0};
		memset(&j[i], 0, sizeof(j[i]));
		pthread_mutex_init(&j[i].s.mu, NULL);
		pthread_cond_init(&j[i].s.cv, NULL);
		socketpair(AF_UNIX, SOCK_STREAM, 0, j[i].sp);
		setsockopt(j[i].sp[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(j[i].sp[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		fcntl(j[i].sp[0], F_SETFL, O_NONBLOCK);
		j[i].s.fd = j[i].sp[0];
		j[i].s.peer = j[i].sp[1];
		pthread_create(&j[i].rd, NULL, slow_reader, &j[i].s);
		lr_up_start(&rq, &sink, &j[i].s, j[i].sp[0]);
	}
	for (i = 0; i < 8; i++) {
		rec_init(&r[i]);
		start(&r[i], "GET", small, NULL, 0, NULL, 0, 0, st);
	}
	for (k = 0; k < 600; k++) {
		int n = inet_sockets(), left = 0;
		most = n > most ? n : most;
		for (i = 0; i < 8; i++)
			left += !j[i].s.ndone;
		if (!left)
			break;
		if (k == 200 && getenv("UP_DEBUG"))
			for (i = 0; i < 8; i++)
				fprintf(stderr, "job %d: done %d got %zu pending %zu pauses %d drains %d chunks %d\n", i,
					j[i].s.ndone, j[i].s.got_len, j[i].s.plen - j[i].s.poff, j[i].s.pauses, j[i].s.drains,
					j[i].s.chunks);
		sleep_ms(50);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(j[i].rd, NULL);
		size_t b;
		int same = j[i].s.got_len == 2000000;
		for (b = 0; same && b < j[i].s.got_len; b++)
			same = (unsigned char)j[i].s.got[b] == (unsigned char)(b % 251);
		good += j[i].s.ndone == 1 && j[i].s.r.fail == LR_OUT_OK && same;
		pauses += j[i].s.pauses;
		close(j[i].sp[0]);
		close(j[i].sp[1]);
		sgood += rec_wait(&r[i], 5000, 0) == 0 && r[i].r.fail == LR_OUT_OK && r[i].body_len == 5;
		rec_free(&r[i]);
	}
	CHECK(good == 8, "HTTP/2: 8 paused 2 MB streams complete, every byte in order (%d)", good);
	CHECK(pauses >= 8, "HTTP/2: the sinks paused %d times", pauses);
	CHECK(sgood == 8, "HTTP/2: 8 small requests beside them answered (%d)", sgood);
	CHECK(most >= 1 && most <= 16, "HTTP/2: %d connection(s) at most at once (one per stream where libcurl "
	      "cannot multiplex safely)", most);
	X509_STORE_free(st);
	free(big);
	free(small);
}

/* --- signals ---------------------------------------------------------------------------------- */

static _Atomic pid_t sig_tids[256];
static _Atomic int nsig;

static void on_sig(int s)
{
	int i = atomic_fetch_add(&nsig, 1);

	(void)s;
	if (i < 256)
		sig_tids[i] = (pid_t)syscall(SYS_gettid);
}

static int sigblk_all(pid_t tid)
{
	char p[64], line[256];
	unsigned long long m = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/self/task/%d/status", (int)tid);
	if (!(f = fopen(p, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigBlk: %llx", &m) == 1)
			break;
	fclose(f);
	return (m & (1ull << (SIGUSR1 - 1))) && (m & (1ull << (SIGALRM - 1))) && (m & (1ull << (SIGINT - 1))) &&
	       (m & (1ull << (SIGTERM - 1))) && (m & (1ull << (SIGPIPE - 1))) && (m & (1ull << (SIGCHLD - 1)));
}

static void t_signal(const char *base)
{
	char *e = url_of(base, "/echo");
	struct sigaction sa;
	struct itimerval it = {{0, 5000}, {0, 5000}};
	int i, bad = 0, done = 0;
	pid_t client = 0;
	rec x;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	for (i = 0; i < 40; i++) {
		kill(getpid(), SIGUSR1);
		if (fetch(&x, "POST", e, "sig", NULL) == 0 && x.r.fail == LR_OUT_OK)
			done++;
		client = x.cb_tid;
		rec_free(&x);
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	for (i = 0; i < atomic_load(&nsig) && i < 256; i++)
		bad += sig_tids[i] == client;
	CHECK(done == 40, "signals: 40 requests answered while SIGALRM fires every 5 ms and SIGUSR1 is sent");
	CHECK(atomic_load(&nsig) > 40 && client > 0 && bad == 0,
	      "signals: %d handled, none on the client's thread %d", (int)atomic_load(&nsig), (int)client);
	CHECK(sigblk_all(client), "signals: the client's thread blocks them (/proc SigBlk)");
	free(e);
}

/* --- the shim's own hooks leave the client's traffic alone ------------------------------ */

static void t_hooks(const char *base, const char *tls_base, const char *ca, const char *claimed)
{
	const char *body = "{\"model\": \"gpt-4o\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}";
	char *u = url_of(base, "/v1/chat/completions"), *t = url_of(tls_base, "/v1/chat/completions");
	X509_STORE *st = store_of(ca);
	rec x;

	CHECK(fetch(&x, "POST", u, body, NULL) == 0 && x.r.fail == LR_OUT_OK && head_has(&x, "x-mock-model: gpt-4o\r\n"),
	      "hooks: plain request to a host a route claims is sent as given");
	rec_free(&x);
	CHECK(fetch(&x, "POST", t, body, st) == 0 && x.r.fail == LR_OUT_OK && head_has(&x, "x-mock-model: gpt-4o\r\n"),
	      "hooks: TLS request to it too ('%s')", x.r.error);
	rec_free(&x);
	CHECK(fetch(&x, "POST", claimed, body, NULL) == 0 && x.r.fail == LR_OUT_TRANSPORT && x.nhead == 0,
	      "hooks: a host only a route knows is not resolved for the client ('%s')", x.r.error);
	rec_free(&x);
	X509_STORE_free(st);
	free(u);
	free(t);
}

/* --- timings ------------------------------------------------------------------------------ */

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static long long median(long long *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_ll);
	return v[n / 2];
}

static long long bench_head_at;

static long long cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t bench_hdr(char *p, size_t s, size_t n, void *u)
{
	(void)u;
	if (s * n <= 2 && (p[0] == '\r' || p[0] == '\n'))
		bench_head_at = now_us();
	return s * n;
}

static size_t bench_write(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

/* A tiny keep-alive HTTP/1.1 server in this process, so the timings show
 * the client rather than the mock: every request gets "ok". */
static void *serve_conn(void *arg)
{
	static const char ans[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
	int fd = (int)(long)arg;
	char buf[65536];
	size_t have = 0;
	ssize_t r;
	char *end;

	for (;;) {
		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			if ((r = recv(fd, buf + have, sizeof(buf) - have, 0)) <= 0) {
				close(fd);
				return NULL;
			}
			have += (size_t)r;
		}
		size_t head = (size_t)(end + 4 - buf), body = 0;
		char *cl = strcasestr(buf, "content-length:");
		if (cl && cl < end)
			body = (size_t)strtoul(cl + 15, NULL, 10);
		while (have < head + body) {
			if ((r = recv(fd, buf + have, sizeof(buf) - have, 0)) <= 0) {
				close(fd);
				return NULL;
			}
			have += (size_t)r;
		}
		memmove(buf, buf + head + body, have - head - body);
		have -= head + body;
		if (send(fd, ans, sizeof(ans) - 1, MSG_NOSIGNAL) < 0) {
			close(fd);
			return NULL;
		}
	}
}

static void *serve(void *arg)
{
	int ls = (int)(long)arg, fd, one = 1;
	pthread_t t;

	while ((fd = accept(ls, NULL, NULL)) >= 0) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_create(&t, NULL, serve_conn, (void *)(long)fd);
		pthread_detach(t);
	}
	return NULL;
}

static char *local_server(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	static char url[64];
	pthread_t t;

	bind(ls, (struct sockaddr *)&a, sizeof(a));
	listen(ls, 16);
	getsockname(ls, (struct sockaddr *)&a, &al);
	pthread_create(&t, NULL, serve, (void *)(long)ls);
	pthread_detach(t);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/chat/completions", ntohs(a.sin_port));
	return url;
}

/* The bench's sink: timestamps only; the caller is woken once, at done. */
typedef struct {
	long long t_head, t_done;
	int fail;
	_Atomic int done;
	pthread_mutex_t mu;
	pthread_cond_t cv;
} bsink;

static int b_head(void *ud, long st, const char *l, size_t n)
{
	(void)st;
	(void)l;
	(void)n;
	((bsink *)ud)->t_head = now_us();
	return 0;
}

static void b_done(void *ud, const lr_up_result *r)
{
	bsink *b = ud;

	b->t_done = now_us();
	b->fail = r->fail;
	pthread_mutex_lock(&b->mu);
	atomic_store(&b->done, 1);
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* Interleaved, so that a machine that gets busier affects both alike:
 * request i through lr_up, then the same request with curl_easy_perform on
 * one reused handle (this process's libcurl, called directly). */
static void bench(const char *url, int n, int serial)
{
	static const char *const hdrs[] = {"Content-Type: application/json"};
	static const lr_up_sink bs = {b_head, NULL, NULL, b_done};
	long long *uh = calloc((size_t)n, sizeof(long long)), *ud = calloc((size_t)n, sizeof(long long));
	long long *eh = calloc((size_t)n, sizeof(long long)), *ed = calloc((size_t)n, sizeof(long long));
	long long *us = calloc((size_t)n, sizeof(long long)), *dh = calloc((size_t)n, sizeof(long long));
	long long *dd = calloc((size_t)n, sizeof(long long)), t0;
	void *lib = dlopen("libcurl.so.4", RTLD_LAZY | RTLD_LOCAL);
	CURL *(*init)(void) = (CURL * (*)(void)) dlsym(lib, "curl_easy_init");
	CURLcode (*setopt)(CURL *, CURLoption, ...) = (CURLcode(*)(CURL *, CURLoption, ...))dlsym(lib, "curl_easy_setopt");
	CURLcode (*perform)(CURL *) = (CURLcode(*)(CURL *))dlsym(lib, "curl_easy_perform");
	struct curl_slist *(*sl_append)(struct curl_slist *, const char *) =
		(struct curl_slist * (*)(struct curl_slist *, const char *)) dlsym(lib, "curl_slist_append");
	struct curl_slist *sl = NULL;
	CURL *c;
	bsink b;
	int i, ok = 0, eok = 0;
	long long cpu_up = 0, cpu_easy = 0, c0 = 0;

	if (!strcmp(url, "local"))
		url = local_server();
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	c = init();
	sl = sl_append(sl, "Content-Type: application/json");
	sl = sl_append(sl, "Expect:");
	setopt(c, CURLOPT_URL, url);
	setopt(c, CURLOPT_HTTPHEADER, sl);
	setopt(c, CURLOPT_POSTFIELDS, "{\"bench\": 1}");
	setopt(c, CURLOPT_HEADERFUNCTION, bench_hdr);
	setopt(c, CURLOPT_WRITEFUNCTION, bench_write);
	setopt(c, CURLOPT_NOSIGNAL, 1L);
	const char *only = getenv("UP_BENCH_ONLY"); /* "up" or "easy": one side (for callgrind) */

	for (i = -20; i < n && !(only && !strcmp(only, "easy")); i++) { /* 20 to warm up */
		lr_up_req rq = {"POST", url, hdrs, 1, "{\"bench\": 1}", 12, 0, 0, NULL, NULL, 0, 0};
		if (i == 0)
			c0 = cpu_us();
		atomic_store(&b.done, 0);
		t0 = now_us();
		lr_up_start(&rq, &bs, &b, -1);
		if (i >= 0)
			us[i] = now_us() - t0;
		pthread_mutex_lock(&b.mu);
		while (!atomic_load(&b.done))
			pthread_cond_wait(&b.cv, &b.mu);
		pthread_mutex_unlock(&b.mu);
		if (i >= 0) {
			uh[i] = b.t_head - t0;
			ud[i] = b.t_done - t0;
			ok += b.fail == LR_OUT_OK;
		}
		if (serial)
			continue;
		lr_depth++; /* as inside the client: the shim's curl hooks pass through */
		t0 = now_us();
		CURLcode rc = perform(c);
		long long t1 = now_us();
		lr_depth--;
		if (i >= 0) {
			eh[i] = bench_head_at - t0;
			ed[i] = t1 - t0;
			eok += rc == CURLE_OK;
			dh[i] = uh[i] - eh[i];
			dd[i] = ud[i] - ed[i];
		}
	}
	if (serial)
		cpu_up = cpu_us() - c0;
	for (i = -20; serial && i < n && !(only && !strcmp(only, "up")); i++) {
		if (i == 0)
			c0 = cpu_us();
		lr_depth++;
		t0 = now_us();
		CURLcode rc = perform(c);
		long long t1 = now_us();
		lr_depth--;
		if (i >= 0) {
			eh[i] = bench_head_at - t0;
			ed[i] = t1 - t0;
			eok += rc == CURLE_OK;
			dh[i] = uh[i] - eh[i];
			dd[i] = ud[i] - ed[i];
		}
	}
	if (serial)
		cpu_easy = cpu_us() - c0;
	printf("%s, %d requests each way, %s\n", url, n, serial ? "one way then the other" : "interleaved");
	if (serial)
		printf("CPU time of the whole process (the in-process server included) per request: lr_up %lld us, "
		       "easy_perform %lld us: +%lld us\n",
		       cpu_up / n, cpu_easy / n, (cpu_up - cpu_easy) / n);
	printf("lr_up (%d ok): median lr_up_start() %lld us, start->head %lld us, start->done %lld us\n", ok,
	       median(us, n), median(uh, n), median(ud, n));
	printf("curl_easy_perform, one handle, connection reused (%d ok): start->head %lld us, start->done %lld us\n",
	       eok, median(eh, n), median(ed, n));
	printf("the client's own overhead (median of pairwise differences): head +%lld us, done +%lld us\n",
	       median(dh, n), median(dd, n));
	free(uh), free(ud), free(eh), free(ed), free(us), free(dh), free(dd);
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(what, "plain") && argc == 4)
		t_plain(argv[2], argv[3]);
	else if (!strcmp(what, "sse") && argc == 4)
		t_sse(argv[2], argv[3]);
	else if (!strcmp(what, "tls") && argc == 5)
		t_tls(argv[2], argv[3], argv[4]);
	else if (!strcmp(what, "timeout") && argc == 3)
		t_timeout(argv[2]);
	else if (!strcmp(what, "bodytimeouts") && argc == 3)
		t_body_timeouts(argv[2]);
	else if (!strcmp(what, "delay") && argc == 3)
		t_delay(argv[2]);
	else if (!strcmp(what, "cancel") && argc == 3)
		t_cancel(argv[2]);
	else if (!strcmp(what, "threads") && argc == 3)
		t_threads(argv[2]);
	else if (!strcmp(what, "fork") && argc == 3)
		t_fork(argv[2]);
	else if (!strcmp(what, "closeall") && argc == 3)
		t_closeall(argv[2]);
	else if (!strcmp(what, "signal") && argc == 3)
		t_signal(argv[2]);
	else if (!strcmp(what, "h2") && argc == 4)
		t_h2(argv[2], argv[3]);
	else if (!strcmp(what, "hooks") && argc == 6)
		t_hooks(argv[2], argv[3], argv[4], argv[5]);
	else if (!strcmp(what, "bench") && (argc == 4 || argc == 5))
		bench(argv[2], atoi(argv[3]), argc == 5 && !strcmp(argv[4], "serial"));
	else {
		fprintf(stderr, "usage: up_client plain|sse|tls|timeout|delay|cancel|threads|fork|closeall|signal|hooks|bench ...\n");
		return 2;
	}
	if (strcmp(what, "bench") != 0 && !checks)
		failures++;
	return failures ? 1 : 0;
}
