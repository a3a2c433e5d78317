/*
 * lr_url.h - split an absolute http(s) URL into pointer+length parts.
 *
 * No allocation, no decoding: the parts point into the caller's string,
 * which need not be NUL-terminated.  Only what routing needs is understood:
 * scheme, optional userinfo (skipped), host (IPv6 in brackets kept with its
 * brackets), port, path, query.  The fragment is dropped (never sent).
 */
#ifndef LR_URL_H
#define LR_URL_H
#include <stddef.h>

typedef struct {
	const char *scheme; size_t scheme_len;   /* "http" or "https", any case */
	const char *host; size_t host_len;
	const char *path; size_t path_len;       /* "" or starts with '/' */
	const char *query; size_t query_len;     /* without the '?'; may be empty */
	int has_query;
	int port;                                /* explicit, else 80/443 */
	int has_port;
	int tls;                                 /* scheme is https */
	size_t end;                              /* bytes used (fragment excluded) */
} lr_url;

/* Parses `s` (n bytes).  Returns 0, or LR_EPARSE for anything that is not an
 * absolute http:// or https:// URL with a host. */
int lr_url_parse(const char *s, size_t n, lr_url *u);

#endif
