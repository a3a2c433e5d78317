/*
 * llmroutectl_http.h - the one HTTP client of llmroutectl's long-running
 * verbs (`sync` fetches rules, `audit --follow --otlp` posts logs).
 *
 * libcurl is loaded at run time (dlopen of libcurl.so.4), as the shim does
 * and `explain` checks: llmroutectl does not link it, so every other verb
 * works on a machine without libcurl.  TLS is always verified (peer and
 * host name) against the system store or `cacert`; only http and https
 * are spoken, redirects included.  A bearer token is sent with libcurl's
 * own bearer option, which does not follow a redirect to another host, and
 * is never logged: errors name the URL and libcurl's error text only.
 */
#ifndef LLMROUTECTL_HTTP_H
#define LLMROUTECTL_HTTP_H
#include <stddef.h>

#define CTL_HTTP_ETAG_MAX 256

typedef struct {
	const char *url;
	const char *token;        /* bearer token or NULL; never logged */
	const char *cacert;       /* PEM file of trusted CAs, or NULL: the system's */
	const char *if_none_match;/* an ETag, or NULL */
	const char *post;         /* a body to POST (JSON), or NULL for a GET */
	size_t post_len;
	size_t max_body;          /* a bigger answer is an error */
	long timeout_ms;
	int abort_fd;             /* the transfer stops when this fd is readable (-1: never) */
} ctl_http_req;

typedef struct {
	long status;              /* 0 when no answer came */
	char *body;               /* malloc'ed, NUL-terminated (may be NULL) */
	size_t len;
	char etag[CTL_HTTP_ETAG_MAX]; /* the answer's ETag, "" if none or too long */
	char error[256];          /* why no answer: libcurl's words, or "" */
	int aborted;              /* stopped by abort_fd */
} ctl_http_res;

/* Loads libcurl once.  Returns 0, or -1 with `why` saying what is missing. */
int ctl_http_init(const char **why);

/* Performs `q`.  Returns 0 when an answer came (any status: see
 * res->status), -1 when none did (res->error says why).  The caller frees
 * res->body with ctl_http_res_free. */
int ctl_http_do(const ctl_http_req *q, ctl_http_res *res);

void ctl_http_res_free(ctl_http_res *res);

/* `url` as logs may show it: scheme, host and path, without user
 * information or query (a presigned object-store URL carries its
 * signature there).  Writes at most n bytes to buf and returns buf. */
const char *ctl_http_url_for_log(const char *url, char *buf, size_t n);

/* Checks a URL given on the command line: http:// or https://, no user
 * information (credentials belong in --token-env).  Returns NULL if fit,
 * else why not. */
const char *ctl_http_url_check(const char *url);

/* The bearer token in environment variable `var` (--token-env).  Dies with
 * a usage error if unset, empty or not a single header-safe line; the
 * message names the variable, never the value. */
const char *ctl_http_token_env(const char *verb, const char *var);

#endif
