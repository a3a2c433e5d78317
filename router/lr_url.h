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

/*
 * The URL as libcurl 7.88 sends it, and as routing matches it, so that no
 * spelling libcurl accepts walks around a route:
 *   - the scheme in lower case; none at all is http (as libcurl guesses;
 *     a guess of another scheme, "ftp.host/...", is LR_EPARSE), and one to
 *     three slashes after it;
 *   - the host %-decoded, IPv4 in libcurl's octal, hex and short forms as
 *     a dotted quad (0x7f.1 is 127.0.0.1), one trailing dot dropped (the
 *     same host); IPv6 as written;
 *   - the port without leading zeros; an empty port dropped;
 *   - the path: %XX of unreserved bytes decoded, runs of '/' as one, "."
 *     and ".." segments removed, "/" when empty;
 *   - the query as written; the fragment dropped.
 * lr_url_canon_needed() says, in one scan and without writing, whether the
 * URL is already so (the common case): then callers use it as it is.
 * lr_url_canon() writes the form to out[0..cap) with a NUL; returns its
 * length, LR_EPARSE for what libcurl would not send as http(s), or
 * LR_ETOOBIG when it does not fit.
 */
int lr_url_canon_needed(const char *s, size_t n);
int lr_url_canon(const char *s, size_t n, char *out, size_t cap);

#endif
