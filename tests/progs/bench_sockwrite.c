/*
 * bench_sockwrite.c - what the shim adds to a write() on a TCP socket that
 * carries no LLM traffic (make bench, item 8).
 *
 * Connects to an in-process listener (through the hooked connect, so with
 * a table loaded the socket is tracked at first), sends one non-HTTP
 * message (the shim then stops tracking it), and times zero-byte write()s
 * on it two ways, in alternating batches: through the symbol the program
 * links against (the shim's hook when preloaded) and through libc's own
 * write, looked up in libc.so.6.  Both make the same system call, so the
 * difference of the medians is the hook's cost.  Prints both medians (ns
 * per call) and the difference.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 2000
#define BATCHES 301

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	ssize_t (*libc_write)(int, const void *, size_t);
	void *libc = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	static double hook[BATCHES], real[BATCHES];
	int ls = socket(AF_INET, SOCK_STREAM, 0), fd = socket(AF_INET, SOCK_STREAM, 0), b, i;
	char c = 'x', msg[] = "\x01\x02 not http\n";
	double t0;

	if (!libc || !(libc_write = (ssize_t (*)(int, const void *, size_t))dlsym(libc, "write")))
		return 1;
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1) ||
	    getsockname(ls, (struct sockaddr *)&a, &al) || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return 1;
	if (write(fd, msg, sizeof(msg) - 1) != (ssize_t)(sizeof(msg) - 1))
		return 1;
	for (b = 0; b < BATCHES; b++) {
		t0 = now_ns();
		for (i = 0; i < BATCH; i++)
			if (write(fd, &c, 0) != 0)
				return 1;
		hook[b] = (now_ns() - t0) / BATCH;
		t0 = now_ns();
		for (i = 0; i < BATCH; i++)
			if (libc_write(fd, &c, 0) != 0)
				return 1;
		real[b] = (now_ns() - t0) / BATCH;
	}
	qsort(hook, BATCHES, sizeof(double), cmp);
	qsort(real, BATCHES, sizeof(double), cmp);
	printf("%.1f %.1f %.1f\n", hook[BATCHES / 2], real[BATCHES / 2], hook[BATCHES / 2] - real[BATCHES / 2]);
	return 0;
}
