/*
 * llmroutectl_http.c - requests through a libcurl loaded at run time (see
 * llmroutectl_http.h).
 *
 * Only the handful of entry points used here are looked up; a libcurl that
 * lacks one, or refuses an option that keeps requests safe (protocols,
 * verification), is refused as a whole rather than used half-safely.
 */
#include "llmroutectl_http.h"
#include "llmroutectl.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLcode (*global_init)(long);
	int loaded;
} cu;

#define SYM(field, name)                                                        \
	do {                                                                    \
		void *p_ = dlsym(h, name);                                      \
		if (!p_) {                                                      \
			*why = "libcurl.so.4 lacks " name;                      \
			return -1;                                              \
		}                                                               \
		memcpy(&cu.field, &p_, sizeof(p_));                             \
	} while (0)

int ctl_http_init(const char **why)
{
	void *h;

	if (cu.loaded)
		return 0;
	if (!(h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL))) {
		*why = "cannot load libcurl.so.4 (install libcurl4)";
		return -1;
	}
	SYM(easy_init, "curl_easy_init");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
	SYM(global_init, "curl_global_init");
	if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*why = "curl_global_init failed";
		return -1;
	}
	cu.loaded = 1;
	return 0;
}

typedef struct {
	ctl_http_res *res;
	size_t cap, max;
	int toobig;
} sink;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	sink *s = ud;
	size_t len = size * n;
	char *nb;

	if (s->res->len + len > s->max) {
		s->toobig = 1;
		return 0; /* libcurl stops: CURLE_WRITE_ERROR */
	}
	if (s->res->len + len + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 16384;
		while (cap < s->res->len + len + 1)
			cap *= 2;
		if (!(nb = realloc(s->res->body, cap)))
			return 0;
		s->res->body = nb;
		s->cap = cap;
	}
	memcpy(s->res->body + s->res->len, p, len);
	s->res->len += len;
	s->res->body[s->res->len] = '\0';
	return len;
}

/* Keeps the ETag of the final answer (a redirect's is replaced). */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	ctl_http_res *r = ud;
	size_t len = size * n, v;

	if (len > 5 && !strncasecmp(p, "HTTP/", 5))
		r->etag[0] = '\0';
	if (len < 5 || strncasecmp(p, "etag:", 5))
		return len;
	for (v = 5; v < len && (p[v] == ' ' || p[v] == '\t'); v++)
		;
	while (len > v && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' '))
		len--;
	if (len - v < sizeof(r->etag) && len > v) {
		memcpy(r->etag, p + v, len - v);
		r->etag[len - v] = '\0';
	}
	return size * n;
}

/* A signal waiting on abort_fd stops a transfer, so SIGTERM is not held up
 * by a slow server for the whole time-out. */
static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	const ctl_http_req *q = ud;
	struct pollfd pf = {q->abort_fd, POLLIN, 0};

	return q->abort_fd >= 0 && poll(&pf, 1, 0) > 0;
}

/* The options that keep the request safe; any refused is an error. */
static int set_safe(CURL *c, const ctl_http_req *q)
{
	CURLcode e = CURLE_OK;

	e |= cu.easy_setopt(c, CURLOPT_URL, q->url);
	e |= cu.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	e |= cu.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	e |= cu.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	e |= cu.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	e |= cu.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (q->cacert)
		e |= cu.easy_setopt(c, CURLOPT_CAINFO, q->cacert);
	if (q->token) {
		e |= cu.easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		e |= cu.easy_setopt(c, CURLOPT_XOAUTH2_BEARER, q->token);
	}
	return e == CURLE_OK ? 0 : -1;
}

static void set_rest(CURL *c, const ctl_http_req *q, sink *s, struct curl_slist *hdr)
{
	cu.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	cu.easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	cu.easy_setopt(c, CURLOPT_TIMEOUT_MS, q->timeout_ms);
	cu.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, q->timeout_ms < 10000 ? q->timeout_ms : 10000L);
	cu.easy_setopt(c, CURLOPT_USERAGENT, "llmroutectl");
	cu.easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	cu.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	cu.easy_setopt(c, CURLOPT_WRITEDATA, s);
	cu.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	cu.easy_setopt(c, CURLOPT_HEADERDATA, s->res);
	cu.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	cu.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	cu.easy_setopt(c, CURLOPT_XFERINFODATA, q);
	if (q->post) {
		cu.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->post_len);
		cu.easy_setopt(c, CURLOPT_POSTFIELDS, q->post);
	}
	cu.easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
}

static struct curl_slist *headers(const ctl_http_req *q)
{
	struct curl_slist *h = NULL, *n;
	char inm[CTL_HTTP_ETAG_MAX + 32];

	if (q->post && !(h = cu.slist_append(h, "Content-Type: application/json")))
		return NULL;
	if (q->if_none_match && *q->if_none_match) {
		snprintf(inm, sizeof(inm), "If-None-Match: %s", q->if_none_match);
		if (!(n = cu.slist_append(h, inm))) {
			cu.slist_free_all(h);
			return NULL;
		}
		h = n;
	}
	return h;
}

int ctl_http_do(const ctl_http_req *q, ctl_http_res *res)
{
	sink s = {res, 0, q->max_body, 0};
	char ebuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr;
	CURLcode rc;
	CURL *c;

	memset(res, 0, sizeof(*res));
	if (!(c = cu.easy_init())) {
		snprintf(res->error, sizeof(res->error), "curl_easy_init failed");
		return -1;
	}
	hdr = headers(q);
	if (set_safe(c, q) < 0) {
		snprintf(res->error, sizeof(res->error), "this libcurl refuses a required option (7.85 or later needed)");
		rc = CURLE_UNSUPPORTED_PROTOCOL;
		goto out;
	}
	set_rest(c, q, &s, hdr);
	cu.easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf); /* says which certificate check failed */
	rc = cu.easy_perform(c);
	if (rc == CURLE_OK)
		cu.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
	else if (s.toobig)
		snprintf(res->error, sizeof(res->error), "answer larger than %zu bytes", q->max_body);
	else if ((res->aborted = rc == CURLE_ABORTED_BY_CALLBACK))
		snprintf(res->error, sizeof(res->error), "stopped");
	else
		snprintf(res->error, sizeof(res->error), "%s", ebuf[0] ? ebuf : cu.easy_strerror(rc));
out:
	cu.slist_free_all(hdr);
	cu.easy_cleanup(c);
	return rc == CURLE_OK ? 0 : -1;
}

void ctl_http_res_free(ctl_http_res *res)
{
	free(res->body);
	res->body = NULL;
	res->len = 0;
}

const char *ctl_http_url_for_log(const char *url, char *buf, size_t n)
{
	const char *sep = strstr(url, "://");
	const char *host = sep ? sep + 3 : url, *at, *end;
	int scheme = sep ? (int)(host - url) : 0;

	end = host + strcspn(host, "?#");
	at = memchr(host, '@', strcspn(host, "/?#"));
	if (at)
		host = at + 1;
	snprintf(buf, n, "%.*s%.*s", scheme, url, (int)(end - host), host);
	return buf;
}

const char *ctl_http_url_check(const char *url)
{
	size_t auth;

	if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
		return "the URL must start with http:// or https://";
	url = strstr(url, "://") + 3;
	auth = strcspn(url, "/?#");
	if (memchr(url, '@', auth))
		return "no user:password in the URL: give a token with --token-env";
	return auth ? NULL : "the URL has no host";
}

const char *ctl_http_token_env(const char *verb, const char *var)
{
	const char *t = getenv(var), *p;

	if (!t || !*t)
		ctl_die(EX_USAGE, "%s: --token-env %s: the variable is not set or empty", verb, var);
	for (p = t; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			ctl_die(EX_USAGE, "%s: --token-env %s: the token has a control character", verb, var);
	return t;
}
