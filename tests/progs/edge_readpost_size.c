/*
 * edge_readpost_size.c - a POST whose body comes from the read callback,
 * with its length given by CURLOPT_POSTFIELDSIZE (and INFILESIZE), the
 * way some bindings do.  A route that changes the body's length must send
 * the new length: libcurl takes a POST's Content-Length from
 * POSTFIELDSIZE.  Two transfers on one handle: the second must again be
 * the app's own sizes, routed again.
 * usage: edge_readpost_size PORT
 * Prints "N rc=R code=C" per transfer.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

typedef struct {
	const char *p;
	size_t n, off;
} src;

static size_t rd(char *b, size_t size, size_t n, void *ud)
{
	src *s = ud;
	size_t k = s->n - s->off;

	if (k > size * n)
		k = size * n;
	memcpy(b, s->p + s->off, k);
	s->off += k;
	return k;
}

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

int main(int argc, char **argv)
{
	const char *body = "{\"model\": \"gpt-4o\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}";
	src s = {body, strlen(body), 0};
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char url[128];
	CURL *c = curl_easy_init();
	int i;

	if (argc != 2)
		return 2;
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/v1/chat/completions", argv[1]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, rd);
	curl_easy_setopt(c, CURLOPT_READDATA, &s);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)s.n);
	curl_easy_setopt(c, CURLOPT_INFILESIZE, (long)s.n);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	for (i = 1; i <= 2; i++) {
		long code = 0;
		CURLcode rc;
		s.off = 0;
		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		printf("%d rc=%d code=%ld\n", i, rc, code);
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return 0;
}
