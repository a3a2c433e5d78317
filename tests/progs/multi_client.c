/*
 * multi_client.c - an ordinary libcurl client, run under the shim by
 * tests/t_cprogs.sh.  It knows nothing about llmroute: it talks to the URL
 * it is given and prints what came back, so the test can see what routing
 * did to handles used through the multi interface, duplicated, reused and
 * reset.
 *
 *   multi_client URL multi        3 transfers at once through one multi
 *                                 handle (models gpt-4o, gpt-4o, o1-pro)
 *   multi_client URL dup ECHO     perform, duphandle + perform the copy,
 *                                 perform the original again, then a copy
 *                                 made while the original sits in a multi;
 *                                 then a COPYPOSTFIELDS handle: perform,
 *                                 duplicate, clean the original up, and
 *                                 send the copy's body to ECHO unchanged
 *   multi_client URL reset ECHO   perform, curl_easy_reset, then POST a
 *                                 JSON body naming a model to ECHO (not an
 *                                 LLM API) and check it comes back as sent
 *
 * Each transfer prints
 *   handle N result CODE http STATUS body-model MODEL [error ERRBUF]
 * where MODEL is the "model" of the JSON answer ("-" if none) and ERRBUF
 * the CURLOPT_ERRORBUFFER text of a failed transfer.  Exit status: 0 when
 * every call into libcurl worked (a transfer may still have failed: that
 * is for the test to judge), 1 otherwise, 2 on a usage error.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESP_CAP (1 << 20)

/* api.openai.com resolves to a closed local port: a request the shim did
 * not route fails at once (CURLE_COULDNT_CONNECT) and never leaves the
 * machine. */
static struct curl_slist *no_dns;

typedef struct {
	char *data;
	size_t len;
} buf;

typedef struct {
	CURL *h;
	buf resp;
	char errbuf[CURL_ERROR_SIZE];
	CURLcode result;
	int done;
} xfer;

static const char *const bodies[] = {
	"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"one\"}]}",
	"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"two\"}]}",
	"{\"model\":\"o1-pro\",\"messages\":[{\"role\":\"user\",\"content\":\"three\"}]}",
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	buf *b = ud;
	size_t len = size * n;
	char *np;

	if (b->len + len > RESP_CAP)
		return 0;
	np = realloc(b->data, b->len + len + 1);
	if (!np)
		return 0;
	memcpy(np + b->len, p, len);
	b->data = np;
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

static void buf_clear(buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

/* The string value of "model" in a JSON answer, crudely: the first
 * occurrence of the key.  Writes "-" when there is none. */
static void body_model(const buf *b, char *out, size_t cap)
{
	const char *p = b->data ? strstr(b->data, "\"model\"") : NULL;
	size_t n = 0;

	snprintf(out, cap, "-");
	if (!p)
		return;
	p += 7;
	while (*p == ' ' || *p == ':')
		p++;
	if (*p++ != '"')
		return;
	while (p[n] && p[n] != '"' && n + 1 < cap)
		n++;
	memcpy(out, p, n);
	out[n] = '\0';
}

static void report(int n, CURL *h, CURLcode result, xfer *x)
{
	char model[128];
	long status = 0;

	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	body_model(&x->resp, model, sizeof(model));
	printf("handle %d result %d http %ld body-model %s", n, (int)result, status, model);
	if (result != CURLE_OK)
		printf(" error %s", x->errbuf);
	printf("\n");
	fflush(stdout);
}

/* Options every handle gets, among them the app's own key, which a route
 * that moves the request to another host must not pass on. */
static int setup(xfer *x, const char *url, const char *body, struct curl_slist *hdrs)
{
	memset(x, 0, sizeof(*x));
	x->h = curl_easy_init();
	if (!x->h)
		return -1;
	curl_easy_setopt(x->h, CURLOPT_URL, url);
	if (body)
		curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(x->h, CURLOPT_WRITEDATA, &x->resp);
	curl_easy_setopt(x->h, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(x->h, CURLOPT_RESOLVE, no_dns);
	return 0;
}

static struct curl_slist *app_headers(void)
{
	struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/json");

	return l ? curl_slist_append(l, "Authorization: Bearer sk-app") : NULL;
}

/* Performs h, whose WRITEDATA and ERRORBUFFER are x's (a duplicate of x->h
 * shares them), and reports it as handle n. */
static void perform(int n, CURL *h, xfer *x)
{
	CURLcode r;

	buf_clear(&x->resp);
	x->errbuf[0] = '\0';
	r = curl_easy_perform(h);
	report(n, h, r, x);
}

static int run_multi(const char *url, struct curl_slist *hdrs)
{
	xfer x[3];
	CURLM *m = curl_multi_init();
	int i, running = 1, left, rc = 0;
	CURLMsg *msg;

	if (!m)
		return 1;
	for (i = 0; i < 3; i++) {
		if (setup(&x[i], url, bodies[i], hdrs) < 0 || curl_multi_add_handle(m, x[i].h) != CURLM_OK)
			return 1;
	}
	while (running) {
		if (curl_multi_perform(m, &running) != CURLM_OK ||
		    curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK) {
			rc = 1;
			break;
		}
		while ((msg = curl_multi_info_read(m, &left))) {
			for (i = 0; msg->msg == CURLMSG_DONE && i < 3; i++)
				if (x[i].h == msg->easy_handle) {
					x[i].result = msg->data.result;
					x[i].done = 1;
				}
		}
	}
	for (i = 0; i < 3; i++) {
		if (!x[i].done) {
			fprintf(stderr, "multi_client: handle %d never finished\n", i);
			rc = 1;
		}
		report(i, x[i].h, x[i].result, &x[i]);
		curl_multi_remove_handle(m, x[i].h);
		curl_easy_cleanup(x[i].h);
		buf_clear(&x[i].resp);
	}
	curl_multi_cleanup(m);
	return rc;
}

/* A copy made while the original sits in a multi handle, that is while it
 * holds whatever options the shim set for it, must still be routed from
 * the app's request when performed on its own. */
static int dup_in_multi(xfer *x)
{
	CURLM *m = curl_multi_init();
	CURL *d;

	if (!m || curl_multi_add_handle(m, x->h) != CURLM_OK)
		return 1;
	d = curl_easy_duphandle(x->h);
	curl_multi_remove_handle(m, x->h);
	curl_multi_cleanup(m);
	if (!d)
		return 1;
	perform(3, d, x);
	curl_easy_cleanup(d);
	return 0;
}

/* A handle whose body was given with COPYPOSTFIELDS is performed (routed),
 * duplicated and cleaned up; the copy, pointed at ECHO (not an LLM API),
 * must send the app's body as it was: the copy's body must not live in
 * anything freed with the original. */
static int dup_copied_body(const char *url, const char *echo_url, struct curl_slist *hdrs)
{
	xfer x;
	CURL *d;
	char body[256];
	int same;

	if (setup(&x, url, NULL, hdrs) < 0)
		return 1;
	snprintf(body, sizeof(body), "%s", bodies[1]);
	/* libcurl 7.88's duphandle fails on a COPYPOSTFIELDS body without a
	 * size, so give the size first, as the documentation asks. */
	curl_easy_setopt(x.h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(x.h, CURLOPT_COPYPOSTFIELDS, body);
	memset(body, 'x', sizeof(body) - 1); /* libcurl has its own copy */
	perform(4, x.h, &x);
	d = curl_easy_duphandle(x.h);
	curl_easy_cleanup(x.h);
	if (!d)
		return 1;
	curl_easy_setopt(d, CURLOPT_URL, echo_url);
	perform(5, d, &x);
	same = x.resp.len == strlen(bodies[1]) && memcmp(x.resp.data, bodies[1], x.resp.len) == 0;
	printf("dup-echo-identical %s\n", same ? "yes" : "no");
	curl_easy_cleanup(d);
	buf_clear(&x.resp);
	return 0;
}

/* perform; duphandle and perform the copy; perform the original again
 * without setting anything; the copy made inside a multi; then the copy of
 * a COPYPOSTFIELDS handle. */
static int run_dup(const char *url, const char *echo_url, struct curl_slist *hdrs)
{
	xfer x;
	CURL *d;
	int rc;

	if (setup(&x, url, bodies[0], hdrs) < 0)
		return 1;
	perform(0, x.h, &x);
	d = curl_easy_duphandle(x.h);
	if (!d)
		return 1;
	perform(1, d, &x);
	curl_easy_cleanup(d);
	perform(2, x.h, &x);
	rc = dup_in_multi(&x);
	curl_easy_cleanup(x.h);
	buf_clear(&x.resp);
	return rc | dup_copied_body(url, echo_url, hdrs);
}

static int run_reset(const char *url, const char *echo_url, struct curl_slist *hdrs)
{
	static const char sent[] = "{\"model\":\"gpt-4o\",\"note\":\"not an LLM call\",\"n\":[1,2.5,\"x\"]}";
	xfer x;
	int same;

	if (setup(&x, url, bodies[0], hdrs) < 0)
		return 1;
	perform(0, x.h, &x);
	curl_easy_reset(x.h);
	curl_easy_setopt(x.h, CURLOPT_URL, echo_url);
	curl_easy_setopt(x.h, CURLOPT_POSTFIELDS, sent);
	curl_easy_setopt(x.h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(x.h, CURLOPT_WRITEDATA, &x.resp);
	curl_easy_setopt(x.h, CURLOPT_ERRORBUFFER, x.errbuf);
	curl_easy_setopt(x.h, CURLOPT_TIMEOUT, 20L);
	perform(1, x.h, &x);
	same = x.resp.len == strlen(sent) && memcmp(x.resp.data, sent, x.resp.len) == 0;
	printf("echo %s\n", x.resp.data ? x.resp.data : "");
	printf("echo-identical %s\n", same ? "yes" : "no");
	curl_easy_cleanup(x.h);
	buf_clear(&x.resp);
	return 0;
}

int main(int argc, char **argv)
{
	struct curl_slist *hdrs;
	int rc;

	if (argc < 3 || (strcmp(argv[2], "multi") != 0 && argc < 4)) {
		fprintf(stderr, "usage: multi_client URL multi | URL dup|reset ECHO_URL\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(hdrs = app_headers()) ||
	    !(no_dns = curl_slist_append(NULL, "api.openai.com:443:127.0.0.1")))
		return 1;
	if (strcmp(argv[2], "multi") == 0)
		rc = run_multi(argv[1], hdrs);
	else if (strcmp(argv[2], "dup") == 0)
		rc = run_dup(argv[1], argv[3], hdrs);
	else if (strcmp(argv[2], "reset") == 0)
		rc = run_reset(argv[1], argv[3], hdrs);
	else
		rc = 2;
	curl_slist_free_all(hdrs);
	curl_slist_free_all(no_dns);
	curl_global_cleanup();
	return rc;
}
