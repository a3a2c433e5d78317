/* lr_url.c - URL splitting (see lr_url.h). */
#include "lr_url.h"
#include "lr_error.h"

#include <string.h>
#include <stdio.h>
#include <strings.h>

/* First c in [p, end), or end. */
static const char *find(const char *p, const char *end, int c)
{
	const char *hit = memchr(p, c, (size_t)(end - p));

	return hit ? hit : end;
}

/* End of the authority: the first '/' or '?'. */
static const char *authority_end(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p == '/' || *p == '?')
			return p;
	return end;
}

static int parse_port(const char *p, const char *end, int *port)
{
	int v = 0;

	if (p == end || end - p > 5)
		return LR_EPARSE;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return LR_EPARSE;
		v = v * 10 + (*p - '0');
	}
	if (v < 1 || v > 65535)
		return LR_EPARSE;
	*port = v;
	return 0;
}

/* Host and port from the authority [userinfo@]host[:port]. */
static int parse_authority(const char *a, const char *end, lr_url *u)
{
	const char *at = a, *p, *colon = NULL;

	for (p = a; (p = memchr(p, '@', (size_t)(end - p))) != NULL; p++)
		at = p + 1;
	a = at;
	if (a < end && *a == '[') {
		p = find(a, end, ']');
		if (p == end)
			return LR_EPARSE;
		p++;
		if (p < end && *p == ':')
			colon = p;
		else if (p != end)
			return LR_EPARSE;
	} else {
		colon = find(a, end, ':');
		if (colon == end)
			colon = NULL;
	}
	u->host = a;
	u->host_len = (size_t)((colon ? colon : end) - a);
	if (u->host_len == 0)
		return LR_EPARSE;
	u->port = u->tls ? 443 : 80;
	if (colon) {
		u->has_port = 1;
		return parse_port(colon + 1, end, &u->port);
	}
	return 0;
}

int lr_url_parse(const char *s, size_t n, lr_url *u)
{
	const char *end = s + n, *p, *auth_end, *frag;

	memset(u, 0, sizeof(*u));
	frag = find(s, end, '#');
	end = frag;
	u->end = (size_t)(frag - s);
	if (n >= 7 && strncasecmp(s, "http://", 7) == 0) {
		u->scheme_len = 4;
	} else if (n >= 8 && strncasecmp(s, "https://", 8) == 0) {
		u->scheme_len = 5;
		u->tls = 1;
	} else {
		return LR_EPARSE;
	}
	u->scheme = s;
	p = s + u->scheme_len + 3;
	auth_end = authority_end(p, end);
	if (parse_authority(p, auth_end, u) < 0)
		return LR_EPARSE;
	u->path = auth_end;
	p = find(auth_end, end, '?');
	u->path_len = (size_t)(p - auth_end);
	if (p < end) {
		u->has_query = 1;
		u->query = p + 1;
		u->query_len = (size_t)(end - p - 1);
	}
	return 0;
}

/* --- the URL as libcurl sends it (lr_url_canon) ---------------------------- */

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int hexval(int c)
{
	if (is_digit(c))
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int is_unreserved(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* A dotted quad with no leading zeros: what lr_url_canon leaves alone. */
static int plain_ipv4(const char *h, size_t n)
{
	size_t i = 0, len;
	int parts = 0, v;

	while (i < n) {
		for (len = 0, v = 0; i < n && is_digit(h[i]); i++, len++)
			v = v * 10 + (h[i] - '0');
		if (len == 0 || len > 3 || v > 255 || (len > 1 && h[i - len] == '0'))
			return 0;
		parts++;
		if (i < n && (h[i] != '.' || ++i == n))
			return 0;
	}
	return parts == 4;
}

/* Could libcurl read host h as an IPv4 number (0x7f.1, 017700000001)? */
static int numeric_host(const char *h, size_t n)
{
	size_t i;

	if (!n || !is_digit(h[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (h[i] != '.' && h[i] != 'x' && h[i] != 'X' && hexval(h[i]) < 0)
			return 0;
	return !plain_ipv4(h, n);
}

int lr_url_canon_needed(const char *s, size_t n)
{
	size_t i, hs, he;

	if (n >= 7 && memcmp(s, "http://", 7) == 0)
		i = 7;
	else if (n >= 8 && memcmp(s, "https://", 8) == 0)
		i = 8;
	else
		return 1;
	for (hs = i; i < n && s[i] != '/' && s[i] != '?' && s[i] != '#'; i++)
		if (s[i] == '%' || s[i] == '\\')
			return 1;
		else if (s[i] == '@')
			hs = i + 1;
	if (hs < i && s[hs] == '[') {
		he = (size_t)(find(s + hs, s + i, ']') - s);
		he = he < i ? he + 1 : i;
	} else {
		he = (size_t)(find(s + hs, s + i, ':') - s);
	}
	if (he == hs || s[he - 1] == '.' || numeric_host(s + hs, he - hs))
		return 1;
	if (he < i && (he + 1 == i || s[he + 1] == '0'))
		return 1; /* an empty port, or leading zeros */
	if (i == n || s[i] != '/')
		return i < n && s[i] == '?'; /* no path: libcurl sends "/" */
	for (; i < n && s[i] != '?' && s[i] != '#'; i++) {
		if (s[i] == '%' || s[i] == '\\')
			return 1;
		if (s[i] == '/' && i + 1 < n && (s[i + 1] == '/' || s[i + 1] == '.')) {
			size_t j = i + 1;
			if (s[j] == '/')
				return 1;
			j += j + 1 < n && s[j + 1] == '.' ? 2 : 1; /* "/." or "/.." */
			if (j == n || s[j] == '/' || s[j] == '?' || s[j] == '#')
				return 1;
		}
	}
	return 0;
}

typedef struct {
	char *p;
	size_t len, cap;
	int err;
} obuf;

static void oput(obuf *o, const char *s, size_t n)
{
	if (o->err || n >= o->cap - o->len) {
		o->err = LR_ETOOBIG;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void oputc(obuf *o, char c)
{
	oput(o, &c, 1);
}

/* libcurl's IPv4 forms: 1 to 4 parts, each decimal, octal (0...) or hex
 * (0x...); the last part fills the bytes left.  Returns 1 and writes the
 * dotted quad, or 0 when h is a host name (as libcurl then treats it). */
static int ipv4_put(obuf *o, const char *h, size_t n)
{
	unsigned long long part[4];
	size_t i = 0;
	int k = 0, base, d;
	unsigned long long v, ip;
	char buf[16];

	while (i < n) {
		if (k == 4 || !is_digit(h[i]))
			return 0;
		base = 10;
		if (h[i] == '0' && i + 1 < n && (h[i + 1] == 'x' || h[i + 1] == 'X')) {
			base = 16;
			i += 2;
			if (i == n || hexval(h[i]) < 0)
				return 0;
		} else if (h[i] == '0') {
			base = 8;
		}
		for (v = 0; i < n && h[i] != '.'; i++) {
			if ((d = hexval(h[i])) < 0 || d >= base || (v = v * (unsigned)base + (unsigned)d) > 0xffffffffULL)
				return 0;
		}
		part[k++] = v;
		if (i < n && ++i == n)
			return 0; /* a trailing dot */
	}
	for (d = 0; d < k - 1; d++)
		if (part[d] > 255)
			return 0;
	if (k == 0 || part[k - 1] > (0xffffffffULL >> (8 * (k - 1))))
		return 0;
	ip = part[k - 1];
	for (d = 0; d < k - 1; d++)
		ip |= part[d] << (8 * (3 - d));
	snprintf(buf, sizeof(buf), "%u.%u.%u.%u", (unsigned)(ip >> 24), (unsigned)(ip >> 16) & 255,
		 (unsigned)(ip >> 8) & 255, (unsigned)ip & 255);
	oput(o, buf, strlen(buf));
	return 1;
}

/* The host, %-decoded; a byte libcurl refuses in a host name is an error. */
static int host_put(obuf *o, const char *h, size_t n)
{
	char dec[256];
	size_t i, k = 0;
	int hi, lo;
	unsigned char c;

	if (n && h[0] == '[') { /* IPv6: as written */
		oput(o, h, n);
		return 0;
	}
	for (i = 0; i < n; i++) {
		c = (unsigned char)h[i];
		if (c == '%') {
			if (i + 2 >= n || (hi = hexval(h[i + 1])) < 0 || (lo = hexval(h[i + 2])) < 0)
				return LR_EPARSE;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (c <= 0x20 || c == 0x7f || strchr("/\\?#@:%[]", c) || k == sizeof(dec))
			return LR_EPARSE;
		dec[k++] = (char)c;
	}
	if (k > 1 && dec[k - 1] == '.') /* the same host: routes match it without */
		k--;
	if (!k)
		return LR_EPARSE;
	if (!ipv4_put(o, dec, k))
		oput(o, dec, k);
	return 0;
}

static int port_put(obuf *o, const char *p, size_t n)
{
	size_t i = 0;
	unsigned long v = 0;
	char buf[8];

	if (!n)
		return 0; /* "host:" is the default port */
	for (; i < n; i++) {
		if (!is_digit(p[i]) || (v = v * 10 + (unsigned long)(p[i] - '0')) > 65535)
			return LR_EPARSE;
	}
	snprintf(buf, sizeof(buf), ":%lu", v);
	oput(o, buf, strlen(buf));
	return 0;
}

/* Removes "." and ".." segments from the path p[0..n) (starting with '/',
 * no "//"), in place, as libcurl does.  Returns the new length. */
static size_t remove_dots(char *p, size_t n)
{
	size_t r = 0, w = 0, e, sl;

	while (r < n) {
		for (e = r + 1; e < n && p[e] != '/'; e++)
			;
		sl = e - r - 1;
		if (sl == 1 && p[r + 1] == '.') {
			if (e == n)
				p[w++] = '/';
		} else if (sl == 2 && p[r + 1] == '.' && p[r + 2] == '.') {
			while (w > 0 && p[w - 1] != '/')
				w--;
			if (w > 0)
				w--;
			if (e == n)
				p[w++] = '/';
		} else {
			memmove(p + w, p + r, e - r);
			w += e - r;
		}
		r = e;
	}
	if (w == 0)
		p[w++] = '/';
	return w;
}

/* The path, with %XX of unreserved bytes decoded, "//" runs as one '/',
 * and dot segments removed. */
static void path_put(obuf *o, const char *p, size_t n)
{
	size_t start = o->len, i;
	int hi, lo;
	char c;

	oputc(o, '/');
	for (i = 0; i < n && !o->err; i++) {
		c = p[i];
		if (c == '%' && i + 2 < n && (hi = hexval(p[i + 1])) >= 0 &&
		    (lo = hexval(p[i + 2])) >= 0 && is_unreserved(hi * 16 + lo)) {
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '/' && o->p[o->len - 1] == '/')
			continue;
		oputc(o, c);
	}
	if (!o->err)
		o->len = start + remove_dots(o->p + start, o->len - start);
}

/* Where the scheme ends: after "http://" (1 to 3 slashes, as libcurl), or
 * 0 for a URL without one (libcurl guesses http).  LR_EPARSE for a scheme
 * that is not http(s), or a guess that would not be. */
static int scheme_len(const char *s, size_t n, int *tls)
{
	size_t i = 0, k;

	*tls = 0;
	if (n && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
		for (i = 1; i < n && (is_digit(s[i]) || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') ||
				      s[i] == '+' || s[i] == '.' || s[i] == '-'); i++)
			;
	if (i && i + 1 < n && s[i] == ':' && s[i + 1] == '/') {
		if (!(i == 4 && strncasecmp(s, "http", 4) == 0) && !(i == 5 && strncasecmp(s, "https", 5) == 0))
			return LR_EPARSE;
		*tls = i == 5;
		for (k = i + 1; k < n && s[k] == '/'; k++)
			;
		return k - i - 1 <= 3 ? (int)k : LR_EPARSE;
	}
	if ((i == 4 && strncasecmp(s, "http:", 5) == 0) || (i == 5 && strncasecmp(s, "https:", 6) == 0))
		return LR_EPARSE; /* libcurl refuses "http:host" */
	{
		static const char *const other[] = {"ftp.", "dict.", "ldap.", "imap.", "smtp.", "pop3."};
		for (k = 0; k < sizeof(other) / sizeof(other[0]); k++)
			if (n >= strlen(other[k]) && strncasecmp(s, other[k], strlen(other[k])) == 0)
				return LR_EPARSE;
	}
	return 0;
}

int lr_url_canon(const char *s, size_t n, char *out, size_t cap)
{
	obuf o = {out, 0, cap, 0};
	const char *end, *a, *ae, *hs, *he, *q;
	int tls, k, rc;

	if (!cap)
		return LR_ETOOBIG;
	end = find(s, s + n, '#');
	if ((k = scheme_len(s, (size_t)(end - s), &tls)) < 0)
		return LR_EPARSE;
	oput(&o, tls ? "https://" : "http://", tls ? 8 : 7);
	a = s + k;
	for (ae = a; ae < end && *ae != '/' && *ae != '?' && *ae != '\\'; ae++)
		;
	if (ae < end && *ae == '\\')
		return LR_EPARSE;
	for (hs = a, q = a; q < ae; q++)
		if (*q == '@')
			hs = q + 1;
	oput(&o, a, (size_t)(hs - a)); /* userinfo, as written */
	if (hs < ae && *hs == '[') {
		he = find(hs, ae, ']');
		he = he < ae ? he + 1 : ae;
	} else {
		he = find(hs, ae, ':');
	}
	if ((rc = host_put(&o, hs, (size_t)(he - hs))) < 0 ||
	    (he < ae && (*he != ':' || (rc = port_put(&o, he + 1, (size_t)(ae - he - 1))) < 0)))
		return LR_EPARSE;
	q = find(ae, end, '?');
	path_put(&o, ae < q && *ae == '/' ? ae + 1 : ae, (size_t)(q - ae) - (ae < q && *ae == '/'));
	oput(&o, q, (size_t)(end - q));
	oputc(&o, '\0');
	if (o.err)
		return o.err;
	return (int)o.len - 1;
}
