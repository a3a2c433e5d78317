/*
 * dup_midxfer.c - an app that duplicates its handle from inside its write
 * callback while a resilient transfer runs (our callbacks in front), then
 * frees the original and performs the copy on a plain URL.  The copy must
 * hold the app's options, not ours: its write callback gets the answer,
 * with the header lines first since the app set CURLOPT_HEADER, and no
 * callback of ours runs on the freed original's record.
 * usage: dup_midxfer LLM_URL MODEL PLAIN_URL
 * Prints "copy: rc=N headers=yes|no bytes=N"; exits 0 when rc is 0 and
 * the headers came.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CURL *copy;

static size_t dup_in_callback(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	if (!copy)
		copy = curl_easy_duphandle(ud);
	return size * n;
}

typedef struct {
	char data[65536];
	size_t len;
} buf;

static size_t keep(char *p, size_t size, size_t n, void *ud)
{
	buf *b = ud;
	size_t k = size * n;

	if (k > sizeof(b->data) - b->len)
		k = sizeof(b->data) - b->len;
	memcpy(b->data + b->len, p, k);
	b->len += k;
	return size * n;
}

int main(int argc, char **argv)
{
	static char body[512];
	static buf got;
	struct curl_slist *h = NULL;
	CURL *c;
	CURLcode rc;

	if (argc != 4)
		return fprintf(stderr, "usage: dup_midxfer LLM_URL MODEL PLAIN_URL\n"), 2;
	snprintf(body, sizeof(body), "{\"model\": \"%s\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", argv[2]);
	h = curl_slist_append(h, "Content-Type: application/json");
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HEADER, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dup_in_callback);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, c);
	rc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK || !copy)
		return fprintf(stderr, "dup_midxfer: first transfer rc=%d copy=%p\n", rc, (void *)copy), 1;
	curl_easy_setopt(copy, CURLOPT_URL, argv[3]);
	curl_easy_setopt(copy, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(copy, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(copy, CURLOPT_WRITEDATA, &got);
	rc = curl_easy_perform(copy);
	curl_easy_cleanup(copy);
	curl_slist_free_all(h);
	printf("copy: rc=%d headers=%s bytes=%zu\n", rc, got.len > 5 && !memcmp(got.data, "HTTP/", 5) ? "yes" : "no",
	       got.len);
	return rc == CURLE_OK && got.len > 5 && !memcmp(got.data, "HTTP/", 5) ? 0 : 1;
}
