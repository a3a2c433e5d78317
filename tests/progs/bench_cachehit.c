/*
 * bench_cachehit.c - what a response cache hit costs the app (make bench,
 * item 10): one libcurl easy handle, the same chat request (temperature 0)
 * N times.  The first perform goes upstream and fills the cache (not
 * timed); each next one is timed from the app's curl_easy_perform call to
 * its return, the answer handed to the app's write callback.  Prints the
 * median and p99 in microseconds, and the answer's size; exits non-zero
 * when an answer differs from the first (a hit must be byte-exact) or is
 * smaller than MIN_BYTES (the mock was not asked for a big answer).
 * usage: bench_cachehit URL N MIN_BYTES
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
	char *p;
	size_t len, cap;
} buf;

static size_t take(char *p, size_t size, size_t n, void *ud)
{
	buf *b = ud;
	size_t k = size * n;

	if (b->len + k > b->cap) {
		b->cap = (b->len + k) * 2;
		if (!(b->p = realloc(b->p, b->cap)))
			return 0;
	}
	memcpy(b->p + b->len, p, k);
	b->len += k;
	return k;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *body = "{\"model\": \"app-cached\", \"temperature\": 0, "
			   "\"messages\": [{\"role\": \"user\", \"content\": \"Write a long answer.\"}]}";
	struct curl_slist *h = NULL;
	buf first = {0}, got = {0};
	double *t;
	int n, i;
	size_t min;
	CURL *c;

	if (argc != 4 || (n = atoi(argv[2])) < 1)
		return fprintf(stderr, "usage: bench_cachehit URL N MIN_BYTES\n"), 2;
	min = (size_t)atol(argv[3]);
	t = calloc((size_t)n, sizeof(*t));
	c = curl_easy_init();
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &first);
	if (curl_easy_perform(c) != CURLE_OK || first.len < min)
		return fprintf(stderr, "bench_cachehit: the first answer (%zu bytes) is short\n", first.len), 1;
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
	for (i = 0; i < n; i++) {
		double t0 = now_us();
		got.len = 0;
		if (curl_easy_perform(c) != CURLE_OK)
			return fprintf(stderr, "bench_cachehit: perform failed\n"), 1;
		t[i] = now_us() - t0;
		if (got.len != first.len || memcmp(got.p, first.p, got.len) != 0)
			return fprintf(stderr, "bench_cachehit: answer %d differs from the first\n", i + 1), 1;
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("%.1f %.1f %zu\n", t[n / 2], t[(n * 99) / 100], first.len);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(first.p);
	free(got.p);
	free(t);
	return 0;
}
