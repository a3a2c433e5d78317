/*
 * bench_sockreq.c - what the socket transport adds to one routed LLM
 * request (make bench, item 9b), without a Python mock's noise: a C client
 * sends N keep-alive chat requests over loopback TCP to a C server thread
 * in the same process that answers each at once with a fixed OpenAI-style
 * answer (with usage).  Run with and without the shim; prints the median
 * over batches of the time per request in ns, and checks that the model
 * the server saw is argv[2] (so a run that was not routed is caught).
 * usage: bench_sockreq N EXPECTED_MODEL
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 50

static const char answer_body[] =
	"{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
	"\"message\":{\"role\":\"assistant\",\"content\":\"Hello.\"},\"finish_reason\":\"stop\"}],"
	"\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":2,\"total_tokens\":21}}";
static char seen_model[64];

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Reads one HTTP message (head + Content-Length body) into buf. */
static ssize_t read_msg(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	char *end, *cl;

	for (;;) {
		buf[n] = '\0';
		if ((end = strstr(buf, "\r\n\r\n"))) {
			cl = strcasestr(buf, "content-length:");
			size_t want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
			if (n >= want)
				return (ssize_t)n;
		}
		if (n + 1 >= cap || (r = read(fd, buf + n, cap - 1 - n)) <= 0)
			return -1;
		n += (size_t)r;
	}
}

static void *serve(void *arg)
{
	int ls = *(int *)arg, fd = accept(ls, NULL, NULL), one = 1;
	char buf[65536], out[1024], *m;
	int n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n%s", strlen(answer_body), answer_body);

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (read_msg(fd, buf, sizeof(buf)) > 0) {
		if ((m = strstr(buf, "\"model\":\"")))
			sscanf(m + 9, "%63[^\"]", seen_model);
		if (write(fd, out, (size_t)n) != n)
			break;
	}
	close(fd);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int n = argc > 1 ? atoi(argv[1]) : 2000, ls = socket(AF_INET, SOCK_STREAM, 0), fd, i, b, one = 1;
	int nb = n / BATCH;
	double *t = calloc((size_t)nb, sizeof(double)), t0;
	char req[2048], buf[65536];
	const char *body = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"You are terse.\"},"
			   "{\"role\":\"user\",\"content\":\"Say hello.\"}],\"temperature\":0.2}";
	int rl = snprintf(req, sizeof(req), "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			  "Authorization: Bearer sk-bench\r\nContent-Type: application/json\r\n"
			  "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	pthread_t th;

	if (argc < 3 || !t || nb < 1 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1) ||
	    getsockname(ls, (struct sockaddr *)&a, &al))
		return 2;
	pthread_create(&th, NULL, serve, &ls);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (b = 0; b < nb; b++) {
		t0 = now_ns();
		for (i = 0; i < BATCH; i++)
			if (write(fd, req, (size_t)rl) != rl || read_msg(fd, buf, sizeof(buf)) < 0)
				return 1;
		t[b] = (now_ns() - t0) / BATCH;
	}
	close(fd);
	pthread_join(th, NULL);
	if (strcmp(seen_model, argv[2]) != 0) {
		fprintf(stderr, "bench_sockreq: the server saw model %s, not %s\n", seen_model, argv[2]);
		return 1;
	}
	qsort(t, (size_t)nb, sizeof(double), cmp);
	printf("%.0f\n", t[nb / 2]);
	return 0;
}
