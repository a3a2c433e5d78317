/*
 * test_url.c - lr_url_canon against libcurl itself: every spelling libcurl
 * accepts comes out as libcurl sends it (curl_url_get of CURLUPART_URL,
 * libcurl found at run time, so this binary does not link it), and the
 * forms routing adds (one '/' for runs, unreserved %XX decoded, no
 * trailing dot on the host) are checked as literals.
 */
#include "lr_error.h"
#include "lr_test.h"
#include "lr_url.h"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef void *(*url_new_fn)(void);
typedef int (*url_set_fn)(void *, int, const char *, unsigned);
typedef int (*url_get_fn)(void *, int, char **, unsigned);
typedef void (*url_free_fn)(void *);
typedef void (*str_free_fn)(void *);

static url_new_fn url_new;
static url_set_fn url_set;
static url_get_fn url_get;
static url_free_fn url_cleanup;
static str_free_fn str_free;

#define CURLUPART_URL 0
#define CURLU_NON_SUPPORT_SCHEME (1 << 3)
#define CURLU_GUESS_SCHEME (1 << 9)

static int load_curl(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);

	if (!h)
		h = dlopen("libcurl-gnutls.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return -1;
	*(void **)&url_new = dlsym(h, "curl_url");
	*(void **)&url_set = dlsym(h, "curl_url_set");
	*(void **)&url_get = dlsym(h, "curl_url_get");
	*(void **)&url_cleanup = dlsym(h, "curl_url_cleanup");
	*(void **)&str_free = dlsym(h, "curl_free");
	return url_new && url_set && url_get && url_cleanup && str_free ? 0 : -1;
}

/* libcurl's URL for s, or "" if it refuses s. */
static void curl_form(const char *s, char *out, size_t cap)
{
	void *u = url_new();
	char *p = NULL;

	out[0] = '\0';
	if (url_set(u, CURLUPART_URL, s, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) == 0 &&
	    url_get(u, CURLUPART_URL, &p, 0) == 0)
		snprintf(out, cap, "%s", p);
	str_free(p);
	url_cleanup(u);
}

static void same_as_curl(const char *s)
{
	char ours[512], theirs[512];
	int n = lr_url_canon(s, strlen(s), ours, sizeof(ours));

	curl_form(s, theirs, sizeof(theirs));
	if (strchr(theirs, '#')) /* never sent */
		*strchr(theirs, '#') = '\0';
	if (strncmp(theirs, "http", 4) != 0) {
		CHECK_INT(n, LR_EPARSE);
		return;
	}
	CHECK(n > 0);
	if (n <= 0 || strcmp(ours, theirs) != 0)
		fprintf(stderr, "  %s: ours %s, libcurl %s\n", s, n > 0 ? ours : "(refused)", theirs);
	CHECK(n > 0 && strcmp(ours, theirs) == 0);
	/* and what libcurl sends is left as it is */
	CHECK(lr_url_canon(theirs, strlen(theirs), ours, sizeof(ours)) > 0 && strcmp(ours, theirs) == 0);
}

static void test_against_libcurl(void)
{
	static const char *const urls[] = {
		"http://127.0.0.%31:8080/v1/chat/completions",
		"http://0x7f.1:080/v1/./chat/../chat/completions",
		"http://017700000001/v1/chat/completions",
		"http://0X7F.0.0.1/v1/messages",
		"http://127.0.0.01/x",
		"http://127.1/a/b/..",
		"http://1.2.3/x",
		"http://4294967295/x",
		"http://4294967296/x",
		"http://256.1/x",
		"http://08.1.1.1/x",
		"api.openai.com/v1/chat/completions",
		"localhost:8080/v1/chat/completions",
		"127.0.0.1:8080/v1/chat/completions",
		"HTTP://api.openai.com/v1/chat/completions",
		"HtTpS://api.openai.com/v1/chat/completions",
		"http://127.0.0.1:00000080/x",
		"http://127.0.0.1:65536/x",
		"http://h:+80/x",
		"http://host:/x",
		"http:/host/x",
		"http:///host/x",
		"http:host/x",
		"http://a%2eb/v1/chat/completions",
		"http://%41pi.openai.com/v1/chat/completions",
		"http://h%00x/",
		"http://h%2f/",
		"http://a b/x",
		"http://u:p@127.0.0.1/x",
		"http://[::1]:8080/v1/chat/completions",
		"http://h/a/./b/../../..",
		"http://h/a?x=/../",
		"http://h/a/..?q",
		"http://h?x",
		"http://h/v1/chat/completions?a=1#frag",
		"ftp://h/x",
		"ftp.example.com/x",
		"https://api.openai.com/v1/chat/completions",
		"http://127.0.0.1:8080/v1/chat/completions",
	};
	size_t i;

	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
		same_as_curl(urls[i]);
}

static void canon_is(const char *in, const char *want)
{
	char out[512];
	int n = lr_url_canon(in, strlen(in), out, sizeof(out));

	if (n < 0 || strcmp(out, want) != 0)
		fprintf(stderr, "  %s: got %s, want %s\n", in, n >= 0 ? out : "(error)", want);
	CHECK(n >= 0 && strcmp(out, want) == 0);
	/* the fast path never hides a change */
	CHECK(lr_url_canon_needed(in, strlen(in)) || strcmp(in, want) == 0);
}

/* What routing reads beyond libcurl: the server's reading of the path. */
static void test_routing_forms(void)
{
	canon_is("http://h/v1//chat///completions", "http://h/v1/chat/completions");
	canon_is("http://h//v1/chat/completions", "http://h/v1/chat/completions");
	canon_is("http://h/v1/%63hat/completions", "http://h/v1/chat/completions");
	canon_is("http://h/v1/chat%2Fcompletions", "http://h/v1/chat%2Fcompletions");
	canon_is("http://h/v1/%2e/chat/completions", "http://h/v1/chat/completions");
	canon_is("http://api.openai.com./v1/chat/completions", "http://api.openai.com/v1/chat/completions");
	canon_is("http://0x7f.1.:80/x", "http://127.0.0.1:80/x");
	canon_is("http://127.0.0.1:8080/v1/chat/completions", "http://127.0.0.1:8080/v1/chat/completions");
	canon_is("https://api.openai.com/v1/chat/completions?x=1", "https://api.openai.com/v1/chat/completions?x=1");
	canon_is("http://h/.well/..x/a..", "http://h/.well/..x/a..");
	{
		char small[8];
		CHECK_INT(lr_url_canon("http://h/abcdef", 15, small, sizeof(small)), LR_ETOOBIG);
	}
}

int main(void)
{
	if (load_curl() == 0)
		test_against_libcurl();
	else
		fprintf(stderr, "test_url: no libcurl to compare with\n");
	test_routing_forms();
	return lr_test_done("test_url");
}
