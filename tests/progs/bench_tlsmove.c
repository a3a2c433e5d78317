/*
 * bench_tlsmove.c - what the shim adds to an HTTPS request it moves to
 * another host (make bench, item 11): the app's TLS session is taken over
 * and the request sent by the shim's own client (libcurl), while the app
 * reads the answer through its own SSL_read.  One process: two TLS server
 * threads, A and B, that answer every keep-alive HTTP/1.1 request at once
 * with a fixed OpenAI-style answer (with Content-Length), and a plain
 * OpenSSL client that verifies the server (CERT, host 127.0.0.1) and sends
 * N keep-alive chat requests on one connection:
 *
 *   moved   to A, model "app-moved" (the table moves it to B as "bench-moved")
 *   direct  to B, model "bench-moved" (no shim)
 *
 * Both must end with B having seen N requests, all "bench-moved", and A
 * none (so a run that was not moved fails).  Prints the median over
 * batches of the time per request in ns, the first request's time in ns,
 * and how many connections B accepted.  Exit 1 when a check fails, 2 on
 * bad arguments or a setup failure.
 * A third mode, for t_https: checked is moved, plus what a guest owes its
 * host around every SSL_write: the app's OpenSSL error queue as it was
 * (a marker pushed before each write is the only entry after it), its
 * signal mask and cancel state as they were, its signals delivered (a
 * thread sends SIGUSR1 all along), and every 10th answer 5 ms late (past
 * the time an app's thread drives its own request: the rest is the
 * client thread's).  Exit 1 when one of those fails.
 * usage: bench_tlsmove moved|direct|checked N CERT KEY PORT_B
 *        bench_tlsmove port        (prints a free loopback port)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 50
#define BUF 65536

static const char answer_body[] =
	"{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"bench-moved\",\"choices\":[{\"index\":0,"
	"\"message\":{\"role\":\"assistant\",\"content\":\"Hello.\"},\"finish_reason\":\"stop\"}],"
	"\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":2,\"total_tokens\":21}}";

/* One server: what it saw.  Counted before the answer is written, so the
 * client has read its last answer only after the last count. */
typedef struct {
	int ls;
	SSL_CTX *ctx;
	const char *want;        /* the model every request must carry */
	atomic_int conns, reqs, ok;
	int slow_every;           /* every slow_every-th answer waits 5 ms (0: none) */
	pthread_mutex_t mu;
	char last_model[64];
} server;

/* A keep-alive reader: bytes past the message it returned stay in buf. */
typedef struct {
	SSL *ssl;
	char buf[BUF];
	size_t n;
} reader;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The length of the chunked body at p (n bytes), trailer included, or 0
 * while it is incomplete, -1 when it is malformed. */
static long chunked_len(const char *p, size_t n)
{
	size_t at = 0, size;
	char *end;
	const char *eol, *t;

	for (;;) {
		if (!(eol = memmem(p + at, n - at, "\r\n", 2)))
			return 0;
		size = strtoul(p + at, &end, 16);
		if (end == p + at)
			return -1;
		at = (size_t)(eol - p) + 2;
		if (size == 0)
			break;
		if (n < at + size + 2)
			return 0;
		at += size + 2;
	}
	if (n - at >= 2 && p[at] == '\r' && p[at + 1] == '\n') /* no trailer */
		return (long)(at + 2);
	t = memmem(p + at, n - at, "\r\n\r\n", 4);
	return t ? (long)(t + 4 - p) : 0;
}

/* The length of the HTTP message at the head of buf (head, and a body of
 * Content-Length or chunked), 0 while incomplete, -1 when malformed. */
static long msg_len(char *buf, size_t n)
{
	char *end, *cl;
	size_t head;
	long body = 0;
	int chunked;

	buf[n] = '\0';
	if (!(end = strstr(buf, "\r\n\r\n")))
		return 0;
	head = (size_t)(end + 4 - buf);
	*end = '\0'; /* header lookups stay in the head */
	chunked = strcasestr(buf, "\r\ntransfer-encoding: chunked") != NULL;
	if (!chunked && (cl = strcasestr(buf, "\r\ncontent-length:")))
		body = strtol(cl + 17, NULL, 10);
	*end = '\r';
	if (chunked && (body = chunked_len(buf + head, n - head)) <= 0)
		return body;
	return n >= head + (size_t)body ? (long)(head + (size_t)body) : 0;
}

/* Reads one whole message into r->buf.  Returns its length (the caller
 * drops it with next_msg), or -1 at the end or on an error. */
static long get_msg(reader *r)
{
	long m;
	int k;

	while ((m = msg_len(r->buf, r->n)) == 0) {
		if (r->n + 1 >= sizeof(r->buf) ||
		    (k = SSL_read(r->ssl, r->buf + r->n, (int)(sizeof(r->buf) - 1 - r->n))) <= 0)
			return -1;
		r->n += (size_t)k;
	}
	return m;
}

static void next_msg(reader *r, long m)
{
	memmove(r->buf, r->buf + m, r->n - (size_t)m);
	r->n -= (size_t)m;
}

static void saw(server *s, const char *req)
{
	const char *m = strstr(req, "\"model\":\"");
	char model[64] = "";

	if (m)
		sscanf(m + 9, "%63[^\"]", model);
	pthread_mutex_lock(&s->mu);
	snprintf(s->last_model, sizeof(s->last_model), "%s", model);
	pthread_mutex_unlock(&s->mu);
	s->reqs++;
	if (strcmp(model, s->want) == 0)
		s->ok++;
}

typedef struct {
	server *s;
	int fd;
} conn_arg;

/* One connection.  At its end it frees nothing: the process may be
 * exiting (OpenSSL's cleanup) while a peer closes. */
static void *serve_conn(void *arg)
{
	conn_arg ca = *(conn_arg *)arg;
	reader *r = calloc(1, sizeof(*r));
	char out[1024];
	int n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n%s", strlen(answer_body), answer_body), one = 1;
	long m;

	free(arg);
	setsockopt(ca.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!r || !(r->ssl = SSL_new(ca.s->ctx)) || !SSL_set_fd(r->ssl, ca.fd) || SSL_accept(r->ssl) != 1) {
		ERR_print_errors_fp(stderr);
		goto out;
	}
	while ((m = get_msg(r)) > 0) {
		saw(ca.s, r->buf);
		next_msg(r, m);
		if (ca.s->slow_every && ca.s->reqs % ca.s->slow_every == 0)
			usleep(5000);
		if (SSL_write(r->ssl, out, n) != n)
			break;
	}
out:
	close(ca.fd);
	return NULL;
}

static void *serve(void *arg)
{
	server *s = arg;
	pthread_t th;
	conn_arg *ca;
	int fd;

	while ((fd = accept(s->ls, NULL, NULL)) >= 0) {
		s->conns++;
		if (!(ca = malloc(sizeof(*ca)))) {
			close(fd);
			continue;
		}
		*ca = (conn_arg){s, fd};
		if (pthread_create(&th, NULL, serve_conn, ca) == 0)
			pthread_detach(th);
		else {
			free(ca);
			close(fd);
		}
	}
	return NULL;
}

/* A loopback listener on port (0: any).  Returns the socket, or -1. */
static int listen_on(int port, int *bound)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				.sin_port = htons((unsigned short)port)};
	socklen_t al = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (ls < 0)
		return -1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 16) ||
	    getsockname(ls, (struct sockaddr *)&a, &al)) {
		close(ls);
		return -1;
	}
	*bound = ntohs(a.sin_port);
	return ls;
}

static int server_start(server *s, int port, const char *cert, const char *key, const char *want, int *bound)
{
	pthread_t th;

	s->want = want;
	pthread_mutex_init(&s->mu, NULL);
	if (!(s->ctx = SSL_CTX_new(TLS_server_method())) ||
	    SSL_CTX_use_certificate_file(s->ctx, cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(s->ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    (s->ls = listen_on(port, bound)) < 0 || pthread_create(&th, NULL, serve, s) != 0)
		return -1;
	pthread_detach(th);
	return 0;
}

/* The client's session to 127.0.0.1:port, verified against cert alone. */
static SSL *client_connect(const char *cert, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				.sin_port = htons((unsigned short)port)};
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	int fd, one = 1;

	if (!ctx || SSL_CTX_load_verify_locations(ctx, cert, NULL) != 1)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (!(ssl = SSL_new(ctx)) || !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1"))
		return NULL;
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!SSL_set_fd(ssl, fd) || SSL_connect(ssl) != 1) {
		ERR_print_errors_fp(stderr);
		return NULL;
	}
	return ssl;
}

/* One request and its answer, which must be a 200.  Returns 0, or -1. */
static int checked;             /* the guest checks of mode checked */
static atomic_int signals;
static pthread_t main_thread;

static void on_usr1(int sig)
{
	(void)sig;
	signals++;
}

/* Sends SIGUSR1 to the main thread every 200 us while it runs. */
static void *signaller(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_kill(main_thread, SIGUSR1);
		usleep(200);
	}
	return NULL;
}

/* SSL_write, with mode checked's checks around it. */
static int write_checked(SSL *ssl, const char *req, int len)
{
	sigset_t before, after;
	unsigned long e;
	static int nth;
	int w, cs;

	if (!checked)
		return SSL_write(ssl, req, len);
	nth++;
	ERR_clear_error();
	ERR_raise(ERR_LIB_USER, 42);
	sigemptyset(&before); /* the kernel fills 8 bytes of the 128 */
	sigemptyset(&after);
	pthread_sigmask(SIG_SETMASK, NULL, &before);
	w = SSL_write(ssl, req, len);
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &cs);
	e = ERR_get_error();
	if (ERR_GET_LIB(e) != ERR_LIB_USER || ERR_GET_REASON(e) != 42 || ERR_get_error() != 0) {
		char es[256];

		ERR_error_string_n(e, es, sizeof(es));
		fprintf(stderr, "bench_tlsmove: the app's OpenSSL error queue changed across SSL_write %d: %s\n", nth, es);
		ERR_print_errors_fp(stderr);
		return -1;
	}
	for (int sig = 1; sig < 65; sig++)
		if (sigismember(&before, sig) != sigismember(&after, sig)) {
			fprintf(stderr, "bench_tlsmove: signal %d %s blocked across SSL_write\n", sig,
				sigismember(&after, sig) ? "became" : "is no longer");
			return -1;
		}
	if (cs != PTHREAD_CANCEL_ENABLE) {
		fprintf(stderr, "bench_tlsmove: SSL_write left the thread not cancellable\n");
		return -1;
	}
	return w;
}

static int exchange(reader *r, const char *req, int len)
{
	long m;
	int ok;

	if (write_checked(r->ssl, req, len) != len || (m = get_msg(r)) <= 0)
		return -1;
	ok = strncmp(r->buf, "HTTP/1.1 200 ", 13) == 0 && strstr(r->buf, "\"total_tokens\":21");
	if (!ok)
		fprintf(stderr, "bench_tlsmove: unexpected answer: %.300s\n", r->buf);
	next_msg(r, m);
	return ok ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* N requests on one session; t[] gets the per-request time of each batch.
 * Returns 0, or -1. */
static int run(reader *r, const char *model, int n, double *t, double *first)
{
	char req[2048], body[512];
	int bl = snprintf(body, sizeof(body), "{\"model\":\"%s\",\"messages\":[{\"role\":\"system\","
			  "\"content\":\"You are terse.\"},{\"role\":\"user\",\"content\":\"Say hello.\"}],"
			  "\"temperature\":0.2}", model);
	int rl = snprintf(req, sizeof(req), "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			  "Authorization: Bearer sk-bench\r\nContent-Type: application/json\r\n"
			  "Content-Length: %d\r\n\r\n%s", bl, body);
	double t0 = now_ns(), tb;
	int b, i;

	if (exchange(r, req, rl) < 0)
		return -1;
	*first = now_ns() - t0;
	for (b = 0; b < (n - 1) / BATCH; b++) {
		tb = now_ns();
		for (i = 0; i < BATCH; i++)
			if (exchange(r, req, rl) < 0)
				return -1;
		t[b] = (now_ns() - tb) / BATCH;
	}
	for (i = 1 + b * BATCH; i < n; i++) /* the rest, untimed, so every run sends N */
		if (exchange(r, req, rl) < 0)
			return -1;
	return 0;
}

static int free_port(void)
{
	int port, ls = listen_on(0, &port);

	if (ls < 0)
		return 2;
	close(ls);
	printf("%d\n", port);
	return 0;
}

int main(int argc, char **argv)
{
	static server sa, sb;
	static reader r;
	int moved, n, pa, pb, nb;
	double *t, first;

	/* as servers do: A's session tickets can meet the connection the
	 * shim has just closed (EPIPE, not a signal) */
	signal(SIGPIPE, SIG_IGN);
	if (argc == 2 && strcmp(argv[1], "port") == 0)
		return free_port();
	if (argc != 6 || (strcmp(argv[1], "moved") && strcmp(argv[1], "direct") && strcmp(argv[1], "checked"))) {
		fprintf(stderr, "usage: bench_tlsmove moved|direct|checked N CERT KEY PORT_B | bench_tlsmove port\n");
		return 2;
	}
	checked = strcmp(argv[1], "checked") == 0;
	moved = checked || strcmp(argv[1], "moved") == 0;
	n = atoi(argv[2]);
	nb = (n - 1) / BATCH;
	if (nb < 1 || !(t = calloc((size_t)nb, sizeof(double))))
		return 2;
	/* A expects nothing that could arrive: every request it sees is wrong */
	if (server_start(&sa, 0, argv[3], argv[4], "", &pa) < 0 ||
	    server_start(&sb, atoi(argv[5]), argv[3], argv[4], "bench-moved", &pb) < 0) {
		fprintf(stderr, "bench_tlsmove: cannot start the servers (port %s)\n", argv[5]);
		ERR_print_errors_fp(stderr);
		return 2;
	}
	sb.slow_every = checked ? 10 : 0;
	if (checked) {
		struct sigaction sa_usr1 = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
		pthread_t th;

		sigaction(SIGUSR1, &sa_usr1, NULL);
		main_thread = pthread_self();
		if (pthread_create(&th, NULL, signaller, NULL) != 0)
			return 2;
		pthread_detach(th);
	}
	if (!(r.ssl = client_connect(argv[3], moved ? pa : pb))) {
		fprintf(stderr, "bench_tlsmove: cannot connect to 127.0.0.1:%d\n", moved ? pa : pb);
		return 2;
	}
	if (run(&r, moved ? "app-moved" : "bench-moved", n, t, &first) < 0) {
		fprintf(stderr, "bench_tlsmove: %s: a request failed\n", argv[1]);
		fflush(stderr);
		_exit(1); /* not through OpenSSL's teardown, with threads still in it */
	}
	if (sb.reqs != n || sb.ok != n || sa.reqs != 0) {
		fprintf(stderr, "bench_tlsmove: %s: B saw %d requests (%d as bench-moved, last %s), A %d (last %s);"
			" want %d, %d, 0\n", argv[1], (int)sb.reqs, (int)sb.ok, sb.last_model, (int)sa.reqs,
			sa.last_model, n, n);
		return 1;
	}
	if (checked && signals == 0) {
		fprintf(stderr, "bench_tlsmove: checked: the main thread got none of the signals sent to it\n");
		return 1;
	}
	if (checked)
		fprintf(stderr, "bench_tlsmove: checked: %d requests, %d signals delivered\n", n, (int)signals);
	SSL_shutdown(r.ssl);
	qsort(t, (size_t)nb, sizeof(double), cmp);
	printf("%.0f %.0f %d\n", t[nb / 2], first, (int)sb.conns);
	return 0;
}
