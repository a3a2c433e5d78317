/*
 * progress_restore.c - an app with its own progress callback
 * (XFERINFOFUNCTION, NOPROGRESS 0) sends a request under a route with a
 * first-byte time-out (our progress callback stands in front), then a
 * plain GET on the same handle.  After the first transfer the handle must
 * hold the app's callback again: it is called for the second transfer,
 * and libcurl prints nothing of its own (its meter, or the newline it
 * ends the meter with) to stderr.
 * usage: progress_restore LLM_URL MODEL PLAIN_URL
 * Prints "first rc=R calls=N" and "second rc=R calls=N".
 */
#include <curl/curl.h>
#include <stdio.h>

static int calls;

static int on_progress(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)p, (void)dt, (void)dn, (void)ut, (void)un;
	calls++;
	return 0;
}

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
	(void)p, (void)ud;
	return size * n;
}

int main(int argc, char **argv)
{
	static char body[256];
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *c = curl_easy_init();
	CURLcode rc;

	if (argc != 4)
		return 2;
	snprintf(body, sizeof(body), "{\"model\": \"%s\", \"messages\": []}", argv[2]);
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	rc = curl_easy_perform(c);
	printf("first rc=%d calls=%d\n", rc, calls > 0);
	calls = 0;
	curl_easy_setopt(c, CURLOPT_URL, argv[3]);
	curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	rc = curl_easy_perform(c);
	printf("second rc=%d calls=%d\n", rc, calls > 0);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return 0;
}
