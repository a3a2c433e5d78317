/*
 * edge_port.c - an app that points libcurl elsewhere than its URL says:
 * CURLOPT_PORT, or a CURLOPT_CONNECT_TO entry with an empty host (any
 * host), aimed at OTHER.  A route that moves the request to an endpoint
 * must send it there, not to OTHER; the next, unrouted transfer on the
 * handle must see the app's option again.
 * port_same: the URL names MOCK_PORT and CURLOPT_PORT names OTHER_PORT,
 * with the app's key: a route to MOCK_PORT leaves the origin the app
 * addressed, so the app's key must not go with it.
 * usage: edge_port MOCK_PORT OTHER_PORT port|connect_to|port_same
 * Run by tests/t_keys.sh.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t sink(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

int main(int argc, char **argv)
{
	char llm[256], echo[256], to[128];
	struct curl_slist *ct = NULL;
	long code1 = 0, code2 = 0;
	CURLcode rc1, rc2;
	CURL *h;

	if (argc != 4)
		return 2;
	snprintf(llm, sizeof(llm), "http://localhost:%s/v1/chat/completions", argv[1]);
	snprintf(echo, sizeof(echo), "http://127.0.0.1:%s/echo", argv[1]);
	snprintf(to, sizeof(to), "::127.0.0.1:%s", argv[2]);
	h = curl_easy_init();
	if (strcmp(argv[3], "port_same") == 0) {
		struct curl_slist *hd = curl_slist_append(NULL, "Authorization: Bearer sk-APP-PORTKEY");

		snprintf(llm, sizeof(llm), "http://127.0.0.1:%s/v1/chat/completions", argv[1]);
		curl_easy_setopt(h, CURLOPT_PORT, atol(argv[2]));
		curl_easy_setopt(h, CURLOPT_URL, llm);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{\"model\":\"gpt-4o-portkey\",\"messages\":[]}");
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
		rc1 = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code1);
		printf("routed rc=%d code=%ld\n", rc1, code1);
		curl_easy_cleanup(h);
		curl_slist_free_all(hd);
		return 0;
	}
	if (strcmp(argv[3], "port") == 0) {
		curl_easy_setopt(h, CURLOPT_PORT, atol(argv[2]));
	} else {
		ct = curl_slist_append(NULL, to);
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, ct);
	}
	curl_easy_setopt(h, CURLOPT_URL, llm);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{\"model\":\"gpt-4o\",\"messages\":[]}");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	rc1 = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code1);
	curl_easy_setopt(h, CURLOPT_URL, echo);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, "after");
	rc2 = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code2);
	printf("routed rc=%d code=%ld\nafter rc=%d code=%ld\n", rc1, code1, rc2, code2);
	curl_easy_cleanup(h);
	curl_slist_free_all(ct);
	return 0;
}
