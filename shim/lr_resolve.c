/*
 * lr_resolve.c - name lookup hooks and placeholder addresses (see
 * lr_resolve.h).
 *
 * Placeholders: slot i of `names` (a host name the app looked up) is
 * 240.77.(i >> 8).(i & 255), for IPv6 callers the IPv4-mapped form of
 * the same.  Slots are never reused within a process (a placeholder an app
 * cached must keep its meaning); past LR_RESOLVE_SLOTS names, lookups are
 * no longer redirected.  Answers are built by calling the real resolver
 * with the placeholder as a numeric host, so they are ordinary libc
 * results that freeaddrinfo frees.
 */
#include "lr_resolve.h"
#include "lr_claim.h"
#include "lr_fork.h"
#include "lr_curl_sym.h"
#include "lr_log.h"
#include "lr_match.h"
#include "lr_shim.h"
#include "lr_table.h"
#include "lr_view.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LR_RESOLVE_SLOTS 4096
#define NET 0xF04D0000u /* 240.77.0.0/16 */

static char (*names)[256];
static _Atomic int nnames;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
typedef struct hostent *(*ghbn_fn)(const char *);
typedef struct hostent *(*ghbn2_fn)(const char *, int);
typedef int (*ghbnr_fn)(const char *, struct hostent *, char *, size_t, struct hostent **, int *);
typedef int (*ghbn2r_fn)(const char *, int, struct hostent *, char *, size_t, struct hostent **, int *);

static void *real(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

static int real_getaddrinfo(const char *node, const char *service, const struct addrinfo *h,
			    struct addrinfo **res)
{
	static gai_fn fn;

	if (!fn)
		fn = (gai_fn)real("getaddrinfo");
	return fn ? fn(node, service, h, res) : EAI_SYSTEM;
}

/* Does a route claim `host` (tls: for a TLS connection the shim answers
 * itself, lr_claim.h)?  Then the route's index, else < 0. */
static int claimed(const char *host, lr_redirect *rd, int tls)
{
	const lr_table *t;
	int i;

	if (!host || !*host || lr_disabled())
		return -1;
	t = lr_view_acquire();
	i = tls ? lr_claim_host_tls(t, host, strlen(host), lr_process_name()) :
		  lr_claim_host(t, host, strlen(host), lr_process_name());
	if (i >= 0 && rd) {
		const lr_route *r = &lr_table_routes(t)[i];
		snprintf(rd->claimed_host, sizeof(rd->claimed_host), "%s", host);
		snprintf(rd->route, sizeof(rd->route), "%s", lr_table_str(t, r->name));
		snprintf(rd->ep_host, sizeof(rd->ep_host), "%s", lr_table_str(t, r->ep_host));
		rd->ep_port = (int)r->ep_port;
	}
	lr_view_release(t);
	return i;
}

/* The placeholder slot for `host`, made if new; < 0 when out of slots.
 * Slot 0 is never used (240.77.0.0 names no host). */
static int slot_of(const char *host)
{
	int i, n, out = -1;

	if (strlen(host) >= sizeof(names[0]))
		return -1;
	pthread_mutex_lock(&mu);
	if (!names)
		names = calloc(LR_RESOLVE_SLOTS, sizeof(*names));
	n = atomic_load(&nnames);
	if (n == 0)
		n = 1;
	for (i = 1; names && i < n; i++) {
		if (strcasecmp(names[i], host) == 0) {
			out = i;
			break;
		}
	}
	if (names && out < 0 && n < LR_RESOLVE_SLOTS) {
		snprintf(names[n], sizeof(names[n]), "%s", host);
		atomic_store(&nnames, n + 1);
		out = n;
	}
	pthread_mutex_unlock(&mu);
	return out;
}

/* The placeholder as text, for the real resolver to parse. */
static void placeholder(int slot, int v6, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s240.77.%d.%d", v6 ? "::ffff:" : "", (slot >> 8) & 255, slot & 255);
}

static int is_literal(const char *node)
{
	unsigned char b[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, node, b) == 1 || inet_pton(AF_INET6, node, b) == 1;
}

/* Should a lookup of node for service (hints h) be answered with a
 * placeholder?  Returns the slot, or < 0. */
static int want_placeholder(const char *node, const char *service, const struct addrinfo *h,
			    const void *caller)
{
	if (!node || (h && (h->ai_flags & AI_NUMERICHOST)) ||
	    (h && h->ai_socktype && h->ai_socktype != SOCK_STREAM) ||
	    (h && h->ai_family != AF_UNSPEC && h->ai_family != AF_INET && h->ai_family != AF_INET6))
		return -1;
	if (is_literal(node))
		return -1; /* an address the app chose: it gets that address */
	if (lr_caller_is_curl(caller))
		return -1;
	if (service && (strcmp(service, "443") == 0 || strcasecmp(service, "https") == 0)) {
		/* TLS: only a host the shim answers itself (lr_claim.h) */
		if (!(claimed(node, NULL, 1) >= 0 && lr_claim_possible()) && !lr_claim_intercept_host(node))
			return -1;
	} else if (claimed(node, NULL, 1) < 0 && !lr_claim_intercept_host(node)) {
		return -1;
	}
	return slot_of(node);
}

LR_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
			  struct addrinfo **res)
{
	struct addrinfo h;
	char lit[64];
	int slot = want_placeholder(node, service, hints, __builtin_return_address(0));

	if (slot < 0)
		return real_getaddrinfo(node, service, hints, res);
	memset(&h, 0, sizeof(h));
	if (hints)
		h = *hints;
	placeholder(slot, h.ai_family == AF_INET6, lit, sizeof(lit));
	h.ai_flags = (h.ai_flags & ~(AI_ADDRCONFIG | AI_CANONNAME)) | AI_NUMERICHOST;
	if (h.ai_family == AF_INET6)
		h.ai_flags &= ~AI_V4MAPPED;
	lr_log(LR_LOG_DEBUG, "lookup of %s answered with placeholder %s", node, lit);
	return real_getaddrinfo(lit, service, &h, res);
}

LR_EXPORT struct hostent *gethostbyname(const char *name)
{
	static ghbn_fn fn;
	char lit[64];
	int slot = want_placeholder(name, NULL, NULL, __builtin_return_address(0));

	if (!fn)
		fn = (ghbn_fn)real("gethostbyname");
	if (!fn)
		return NULL;
	if (slot < 0)
		return fn(name);
	placeholder(slot, 0, lit, sizeof(lit));
	return fn(lit);
}

LR_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	static ghbn2_fn fn;
	char lit[64];
	int slot = want_placeholder(name, NULL, NULL, __builtin_return_address(0));

	if (!fn)
		fn = (ghbn2_fn)real("gethostbyname2");
	if (!fn)
		return NULL;
	if (slot < 0)
		return fn(name, af);
	placeholder(slot, af == AF_INET6, lit, sizeof(lit));
	return fn(lit, af);
}

LR_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
			      struct hostent **result, int *h_errnop)
{
	static ghbnr_fn fn;
	char lit[64];
	int slot = want_placeholder(name, NULL, NULL, __builtin_return_address(0));

	if (!fn)
		fn = (ghbnr_fn)real("gethostbyname_r");
	if (!fn)
		return ENOSYS;
	if (slot < 0)
		return fn(name, ret, buf, buflen, result, h_errnop);
	placeholder(slot, 0, lit, sizeof(lit));
	return fn(lit, ret, buf, buflen, result, h_errnop);
}

LR_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
			       size_t buflen, struct hostent **result, int *h_errnop)
{
	static ghbn2r_fn fn;
	char lit[64];
	int slot = want_placeholder(name, NULL, NULL, __builtin_return_address(0));

	if (!fn)
		fn = (ghbn2r_fn)real("gethostbyname2_r");
	if (!fn)
		return ENOSYS;
	if (slot < 0)
		return fn(name, af, ret, buf, buflen, result, h_errnop);
	placeholder(slot, af == AF_INET6, lit, sizeof(lit));
	return fn(lit, af, ret, buf, buflen, result, h_errnop);
}

/* --- connect ------------------------------------------------------------------ */

/* The placeholder slot sa stands for, with its port; < 0 if none. */
static int slot_of_addr(const struct sockaddr *sa, socklen_t len, int *port)
{
	uint32_t a;

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s = (const void *)sa;
		a = ntohl(s->sin_addr.s_addr);
		*port = ntohs(s->sin_port);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s = (const void *)sa;
		if (!IN6_IS_ADDR_V4MAPPED(&s->sin6_addr))
			return -1;
		memcpy(&a, &s->sin6_addr.s6_addr[12], 4);
		a = ntohl(a);
		*port = ntohs(s->sin6_port);
	} else {
		return -1;
	}
	if ((a & 0xFFFF0000u) != NET || (int)(a & 0xFFFF) >= atomic_load(&nnames) || (a & 0xFFFF) == 0)
		return -1;
	return (int)(a & 0xFFFF);
}

/* Resolves host:port for a socket of family fam into *to. */
static int lookup(const char *host, int port, int fam, struct sockaddr_storage *to, socklen_t *tolen)
{
	struct addrinfo h, *res = NULL, *ai;
	char svc[16];
	int rc = -1;

	memset(&h, 0, sizeof(h));
	h.ai_family = fam;
	h.ai_socktype = SOCK_STREAM;
	h.ai_flags = fam == AF_INET6 ? (AI_V4MAPPED | AI_ALL) : 0;
	snprintf(svc, sizeof(svc), "%d", port);
	if (real_getaddrinfo(host, svc, &h, &res) != 0)
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == fam && ai->ai_addrlen <= sizeof(*to)) {
			memcpy(to, ai->ai_addr, ai->ai_addrlen);
			*tolen = ai->ai_addrlen;
			rc = 0;
			break;
		}
	}
	freeaddrinfo(res);
	return rc;
}

int lr_resolve_connect(const struct sockaddr *sa, socklen_t len, const void *caller,
		       struct sockaddr_storage *to, socklen_t *tolen, lr_redirect *rd)
{
	char host[256];
	int port, slot = slot_of_addr(sa, len, &port);

	if (slot < 0)
		return LR_RESOLVE_AS_IS;
	pthread_mutex_lock(&mu);
	snprintf(host, sizeof(host), "%s", names[slot]);
	pthread_mutex_unlock(&mu);
	memset(rd, 0, sizeof(*rd));
	rd->port = port;
	if (port != 443 && !lr_caller_is_curl(caller) && claimed(host, rd, 0) >= 0 &&
	    lookup(rd->ep_host, rd->ep_port, sa->sa_family, to, tolen) == 0) {
		lr_log(LR_LOG_INFO, "connection to %s:%d redirected to %s:%d by route %s", host, port,
		       rd->ep_host, rd->ep_port, rd->route);
		return LR_RESOLVE_REDIRECT;
	}
	if (port == 443 && !lr_caller_is_curl(caller) && claimed(host, rd, 1) >= 0 && lr_claim_possible()) {
		/* the host's real address, if it has one: for the requests the
		 * app addresses to its own host, and for a claim that fails */
		if (lookup(host, port, sa->sa_family, to, tolen) < 0)
			*tolen = 0;
		return LR_RESOLVE_CLAIM_TLS;
	}
	if (port == 443 && !lr_caller_is_curl(caller) && lr_claim_intercept_host(host)) {
		memset(rd, 0, sizeof(*rd));
		snprintf(rd->claimed_host, sizeof(rd->claimed_host), "%s", host);
		rd->port = port;
		if (lookup(host, port, sa->sa_family, to, tolen) < 0)
			*tolen = 0;
		return LR_RESOLVE_INTERCEPT;
	}
	memset(rd, 0, sizeof(*rd));
	if (lookup(host, port, sa->sa_family, to, tolen) == 0)
		return LR_RESOLVE_REAL;
	lr_log(LR_LOG_INFO, "connection to %s:%d: host not found", host, port);
	return LR_RESOLVE_FAIL;
}

void lr_resolve_atfork(int phase)
{
	lr_fork_mutex(&mu, phase);
}
