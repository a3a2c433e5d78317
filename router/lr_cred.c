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

int lr_cred_is_credential_header(const char *name, size_t n)
{
	static const char *const words[] = {"auth", "api-key", "apikey", "api_key", "token", "secret",
					    "password", "credential", "jwt", "cookie", "subscription-key"};
	size_t i, k, w;

	if (lr_cred_is_key_header(name, n))
		return 1;
	if (n >= 6 && strncasecmp(name, "proxy-", 6) == 0)
		return 0; /* for the app's proxy, which the request still goes through */
	for (w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		k = strlen(words[w]);
		for (i = 0; i + k <= n; i++)
			if (strncasecmp(name + i, words[w], k) == 0)
				return 1;
	}
	return 0;
}
