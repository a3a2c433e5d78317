/* lr_cred.c - which request headers are credentials (see lr_cred.h). */
#include "lr_cred.h"

#include <string.h>
#include <strings.h>

static int name_is(const char *name, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(name, lit, n) == 0;
}


int lr_cred_is_key_header(const char *name, size_t n)
{
	return name_is(name, n, "authorization") || name_is(name, n, "x-api-key") ||
	       name_is(name, n, "x-goog-api-key") || name_is(name, n, "api-key");
}

static const char *const words[] = {"auth", "api-key", "apikey", "api_key", "token", "secret",
				    "password", "credential", "jwt", "cookie", "subscription-key"};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Whether word w (lower case) starts at name[i..n). */
static int word_at(const char *name, size_t i, size_t n, const char *w)
{
	for (; *w; w++, i++)
		if (i == n || lower((unsigned char)name[i]) != *w)
			return 0;
	return 1;
}

/* Whether any of the nw words (lower case) occurs in name, ignoring case.
 * One pass: a word is tried only where its first letter is (every header
 * of every request comes here). */
static int has_word(const char *name, size_t n, const char *const *w, size_t nw)
{
	unsigned char first[256] = {0};
	size_t i, k;
	int c;

	for (k = 0; k < nw; k++)
		first[(unsigned char)w[k][0]] = 1;
	for (i = 0; i < n; i++) {
		c = lower((unsigned char)name[i]);
		if (!first[c])
			continue;
		for (k = 0; k < nw; k++)
			if (w[k][0] == c && word_at(name, i, n, w[k]))
				return 1;
	}
	return 0;
}

int lr_cred_is_credential_header(const char *name, size_t n)
{
	if (lr_cred_is_key_header(name, n))
		return 1;
	if (n >= 6 && strncasecmp(name, "proxy-", 6) == 0)
		return 0; /* for the app's proxy, which the request still goes through */
	return has_word(name, n, words, sizeof(words) / sizeof(words[0]));
}

static int hexval(unsigned char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The name as a server decodes it; -1 if it does not fit out[cap]. */
static int decode(const char *s, size_t n, char *out, size_t cap, size_t *len)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++, o++) {
		if (o == cap)
			return -1;
		if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
		    hexval((unsigned char)s[i + 2]) >= 0) {
			out[o] = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
			i += 2;
		} else {
			out[o] = s[i] == '+' ? ' ' : s[i];
		}
	}
	*len = o;
	return 0;
}

static int key_param(const char *d, size_t n)
{
	return name_is(d, n, "key") || name_is(d, n, "api_key") || name_is(d, n, "api-key") ||
	       name_is(d, n, "apikey") || name_is(d, n, "access_token");
}

int lr_cred_is_key_param(const char *name, size_t n)
{
	char d[256];
	size_t len;

	return decode(name, n, d, sizeof(d), &len) == 0 && key_param(d, len);
}

int lr_cred_is_credential_param(const char *name, size_t n)
{
	static const char *const more[] = {"signature"};
	char d[256];
	size_t len;

	if (decode(name, n, d, sizeof(d), &len) < 0)
		return 1;
	return key_param(d, len) || has_word(d, len, words, sizeof(words) / sizeof(words[0])) ||
	       has_word(d, len, more, 1) || name_is(d, len, "sig") || name_is(d, len, "pass") ||
	       name_is(d, len, "passwd") || name_is(d, len, "pwd");
}
