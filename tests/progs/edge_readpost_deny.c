/*
 * edge_readpost_deny.c - a POST whose body comes from the read callback,
 * sized by CURLOPT_POSTFIELDSIZE (or _LARGE) alone, no INFILESIZE: libcurl
 * sends a Content-Length from POSTFIELDSIZE, so the body is "a read
 * callback of known size" and must be read, routed and denied like any.
 * usage: edge_readpost_deny URL BODY [large|first|nosize]
 *   large   POSTFIELDSIZE_LARGE instead of POSTFIELDSIZE
 *   first   the size set before CURLOPT_POST and the callback
 *   nosize  no size at all (libcurl sends it chunked)
 * Prints "rc=R code=C".
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
	const char *mode = argc > 3 ? argv[3] : "";
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *c = curl_easy_init();
	src s;
	long code = 0;
	CURLcode rc;

	if (argc < 3)
		return 2;
	s.p = argv[2];
	s.n = strlen(argv[2]);
	s.off = 0;
	if (strcmp(mode, "first") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)s.n);
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, rd);
	curl_easy_setopt(c, CURLOPT_READDATA, &s);
	if (strcmp(mode, "large") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s.n);
	else if (!mode[0])
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)s.n);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	printf("rc=%d code=%ld\n", rc, code);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return 0;
}
