/*
 * lr_cred.h - which request headers are credentials.
 *
 * The credential rule (lr_plan.h) drops or replaces the app's key when a
 * route says so; these say which header lines that covers, for every
 * transport (libcurl's header list, the socket rewriter) and for the
 * response cache's key; and which query parameters are credentials, for
 * the URL the plan builds (lr_plan.c).  Names only: values are never
 * looked at.
 */
#ifndef LR_CRED_H
#define LR_CRED_H
#include <stddef.h>

/* Is a header named name[0..n) a provider's key header (Authorization,
 * x-api-key, x-goog-api-key, api-key; any case)?  These are what a route's
 * api_key_env replaces. */
int lr_cred_is_key_header(const char *name, size_t n);

/* Is it any credential, dropped (or replaced) when a request leaves for
 * another host?  The key headers, and names containing "auth", "api-key",
 * "apikey", "api_key", "token", "secret", "password", "credential", "jwt",
 * "cookie" or "subscription-key" (any case): gateways' keys
 * (Helicone-Auth, x-portkey-api-key, Ocp-Apim-Subscription-Key), cookies.
 * Not Proxy-* headers (for the app's proxy), and not names that merely
 * contain "key" or "session" (Idempotency-Key, x-session-affinity: the
 * new endpoint may need them). */
int lr_cred_is_credential_header(const char *name, size_t n);

/* The same two questions for a query parameter named name[0..n), as it is
 * written in the URL: percent-escapes are decoded ("%6Bey" is "key") and a
 * '+' counts as a space before the name is compared (any case).
 *
 * A provider's key parameter, which a route's key replaces as it replaces
 * the key header: "key" (Google's APIs), "api_key", "api-key", "apikey",
 * "access_token" (the query form of a bearer token, RFC 6750). */
int lr_cred_is_key_param(const char *name, size_t n);

/* Any credential parameter, dropped when a request leaves for another
 * host: the key parameters, names containing one of the header words
 * above, "signature" (X-Amz-Signature), and the names "sig" (Azure SAS),
 * "pass", "passwd" and "pwd".  A name over 255 bytes counts as
 * a credential (it is not decoded). */
int lr_cred_is_credential_param(const char *name, size_t n);

#endif
