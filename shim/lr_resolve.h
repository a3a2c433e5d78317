/*
 * lr_resolve.h - endpoint redirection for any TCP client: name lookups of
 * hosts a route claims, and the connects that follow them.
 *
 * A route claims a host when it names it in `match.host` and sends to an
 * http:// endpoint (lr_claim_host).  A lookup of a claimed host
 * (getaddrinfo, gethostbyname and friends) answers with a placeholder
 * address, 240.77.X.Y (in 240.0.0.0/4, reserved and never routed; not
 * 198.18.0.0/15, which fake-IP proxies such as Clash hand out), one per
 * host name, which stands for "that host, decided
 * at connect time".  The connect hook turns it into a real address with
 * the table live at that moment:
 *   - still claimed, port other than 443: the route's endpoint address and
 *     port; the connection is marked redirected (lr_redirect);
 *   - port 443 (the app is about to speak TLS, which a plaintext endpoint
 *     cannot answer): claimed by the shim itself when a route takes the
 *     host whole and the app's TLS goes through the shim's hooks
 *     (lr_claim.h), else the host's real address, looked up then;
 *   - no longer claimed: the host's real address.
 * Lookups made by libcurl get real answers: its requests are routed by its
 * own hooks.  Every other lookup and connect goes straight to libc.
 */
#ifndef LR_RESOLVE_H
#define LR_RESOLVE_H
#include <sys/socket.h>

typedef struct {
	char claimed_host[256];  /* the name the app looked up */
	char route[128];         /* the claiming route */
	char ep_host[256];       /* its endpoint */
	int ep_port;
	int port;                /* the port the app connects to */
} lr_redirect;

enum {
	LR_RESOLVE_AS_IS,        /* connect where the app asked */
	LR_RESOLVE_REDIRECT,     /* connect to *to: a route's endpoint (rd filled) */
	LR_RESOLVE_REAL,         /* connect to *to: the placeholder's real host */
	LR_RESOLVE_FAIL,         /* a placeholder that cannot be resolved: fail
	                          * the connect with EHOSTUNREACH */
	LR_RESOLVE_INTERCEPT,    /* port 443 of an LLM host, TLS interception on
	                          * (lr_claim.h): *to as for CLAIM_TLS */
	LR_RESOLVE_CLAIM_TLS,    /* port 443 of a host a route claims whole:
	                          * the shim answers the TLS (lr_claim.h); *to
	                          * is the host's real address (*tolen 0: none) */
};

/* What a connect to sa should do.  Cheap unless sa is a placeholder.
 * caller: the connect's caller; if it is libcurl, whose requests its own
 * hooks route, a placeholder only ever means the real host
 * (LR_RESOLVE_REAL).  Looked at only for placeholders. */
int lr_resolve_connect(const struct sockaddr *sa, socklen_t len, const void *caller,
		       struct sockaddr_storage *to, socklen_t *tolen, lr_redirect *rd);

#endif
