/*
 * threads_client.c - a multi-threaded libcurl client, run under the shim
 * by tests/t_cprogs.sh (and, built with ThreadSanitizer, by t_tsan.sh).
 *
 *   threads_client URL THREADS REQUESTS
 *
 * Each of THREADS threads owns one easy handle and reuses it for REQUESTS
 * POSTs to URL, alternating the body's model between gpt-4o and claude-x
 * and changing the body each time.  The test's routing table sends gpt-4*
 * to gpt-4o-mini and claude-* elsewhere unchanged, so each answer (the
 * mock echoes the model it was asked for) must be HTTP 200 naming
 * gpt-4o-mini or claude-x respectively.  Prints "ok N bad M"; exit status
 * 0 if M is 0, 1 if not, 2 on a usage error.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESP_CAP 65536
#define MAX_THREADS 256

/* api.openai.com resolves to a closed local port: a request the shim did
 * not route fails at once and never leaves the machine. */
static struct curl_slist *no_dns;

typedef struct {
	char data[RESP_CAP];
	size_t len;
} buf;

typedef struct {
	const char *url;
	int id, requests;
	long ok, bad;
} job;

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	buf *b = ud;
	size_t len = size * n;

	if (b->len + len >= RESP_CAP)
		return 0;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

/* Does the JSON answer say "model": "want"?  A crude scan is enough for
 * the mock's compact answers. */
static int has_model(const buf *b, const char *want)
{
	char key[160];

	snprintf(key, sizeof(key), "\"model\": \"%s\"", want);
	if (strstr(b->data, key))
		return 1;
	snprintf(key, sizeof(key), "\"model\":\"%s\"", want);
	return strstr(b->data, key) != NULL;
}

/* One request; returns 1 if the answer is what the route promises. */
static int one(job *j, CURL *h, buf *resp, int i)
{
	static const char *const sent[] = {"gpt-4o", "claude-x"};
	static const char *const want[] = {"gpt-4o-mini", "claude-x"};
	char body[256];
	long status = 0;
	CURLcode rc;
	int k = i % 2;

	snprintf(body, sizeof(body),
		 "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"t%d r%d\"}]}",
		 sent[k], j->id, i);
	curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body);
	resp->len = 0;
	resp->data[0] = '\0';
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK && status == 200 && has_model(resp, want[k]))
		return 1;
	if (j->bad < 3)
		fprintf(stderr, "threads_client: thread %d request %d (%s): curl %d http %ld: %.200s\n",
			j->id, i, sent[k], (int)rc, status, resp->data);
	return 0;
}

static void *worker(void *arg)
{
	job *j = arg;
	buf *resp = malloc(sizeof(*resp));
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *h = curl_easy_init();
	int i;

	if (!resp || !hdrs || !h) {
		j->bad = j->requests;
		goto out;
	}
	hdrs = curl_slist_append(hdrs, "Authorization: Bearer sk-app");
	curl_easy_setopt(h, CURLOPT_URL, j->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(h, CURLOPT_RESOLVE, no_dns);
	for (i = 0; i < j->requests; i++) {
		if (one(j, h, resp, i))
			j->ok++;
		else
			j->bad++;
	}
out:
	if (h)
		curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(resp);
	return NULL;
}

int main(int argc, char **argv)
{
	static job jobs[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	int created[MAX_THREADS];
	int n, per, i, started = 0;
	long ok = 0, bad = 0;

	if (argc != 4 || (n = atoi(argv[2])) < 1 || n > MAX_THREADS || (per = atoi(argv[3])) < 1) {
		fprintf(stderr, "usage: threads_client URL THREADS(1-%d) REQUESTS\n", MAX_THREADS);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    !(no_dns = curl_slist_append(NULL, "api.openai.com:443:127.0.0.1")))
		return 1;
	for (i = 0; i < n; i++) {
		jobs[i] = (job){.url = argv[1], .id = i, .requests = per};
		created[i] = pthread_create(&tid[i], NULL, worker, &jobs[i]) == 0;
		if (created[i])
			started++;
		else
			jobs[i].bad = per;
	}
	for (i = 0; i < n; i++)
		if (created[i])
			pthread_join(tid[i], NULL);
	for (i = 0; i < n; i++) {
		ok += jobs[i].ok;
		bad += jobs[i].bad;
	}
	printf("ok %ld bad %ld\n", ok, bad);
	curl_slist_free_all(no_dns);
	curl_global_cleanup();
	return bad > 0 || started < n;
}
