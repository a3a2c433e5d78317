/* lr_url.c - URL splitting (see lr_url.h). */
#include "lr_url.h"
#include "lr_error.h"

#include <string.h>
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
