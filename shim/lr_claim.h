/*
 * lr_claim.h - HTTPS connections the shim answers from the handshake on.
 *
 * A route that matches on the host alone (lr_claim_host_tls) decides every
 * request of a connection before one is written.  For such a host on port
 * 443 whose connect fails (nothing listens, no route to it, no address at
 * all), the connect hook connects the app's socket to a loopback endpoint
 * of the shim's own instead (lr_claim_connect),
 * the app's TLS handshake is completed there by the shim
 * (lr_claim_handshake, from the SSL_connect / SSL_do_handshake hooks), and
 * every request of the connection is then sent by the shim's own client
 * (lr_serve.h), which checks the real upstream's certificate against the
 * app's own trust.  So a program whose hard-coded host has no listener (a
 * retired endpoint, an air-gapped machine) still works.  A host that
 * answers is never claimed.  A program whose TLS does not run on its socket
 * through the shim's hooks (memory BIOs: asyncio, Node.js; or a TLS
 * library the shim does not hook) writes its ClientHello itself: its
 * connection then goes to the shim's own TLS endpoint (lr_tlsend.h).
 *
 * The app's session trusts, for this one connection only, a certificate
 * for the host name minted in memory by a CA made in memory at the first
 * claim (a P-256 key that never leaves the process): the per-session
 * verify store (SSL_set1_verify_cert_store) holds that CA; the app's
 * SSL_CTX and its store are not touched.  The app's own checks (chain,
 * host name, its verify callback) run as usual against it.
 *
 * Claimed only when all of this holds, else the connect goes to the host
 * as before: the app's TLS goes through the shim's SSL_* hooks (libssl is
 * loaded and the program does not carry its own OpenSSL, as nodesource's
 * Node.js does), the shim's own client can run (LLMROUTE_OWN_CLIENT),
 * LLMROUTE_TLS_CLAIM is not "off", and the in-process endpoint could be
 * made.  An app that pins the server's certificate refuses the claimed
 * connection (as it would behind any TLS-inspecting proxy).
 */
#ifndef LR_CLAIM_H
#define LR_CLAIM_H
#include <stddef.h>
#include <sys/socket.h>

/* Can a connection of this process be claimed now?  (Cheap after the
 * first call; may load the shim's own client.) */
int lr_claim_possible(void);

/* The connect hook, for a host a route takes whole on port 443: fd (a
 * stream socket about to speak TLS to host:port for route `route`) goes to
 * the host's real address first (real, reallen; NULL: the host has none).
 * Only when that fails in a way the host's absence explains (refused,
 * unreachable, timed out; or no address at all) is fd connected to the
 * shim's in-process endpoint instead: the claim.  A non-blocking connect
 * in progress is a candidate whose outcome the app learns later
 * (lr_claim_so_error, lr_claim_connect_again).  Returns connect's result
 * (0, or -1 with errno), or -2 when claims cannot be made here (errno
 * untouched: connect as usual). */
int lr_claim_connect(int fd, const char *host, int port, const char *route, const struct sockaddr *real,
		     socklen_t reallen, int (*real_connect)(int, const struct sockaddr *, socklen_t));

/* TLS interception (LLMROUTE_TLS_INTERCEPT=1, `llmroute --intercept`):
 * on for this process when it was asked for, the program's TLS does not
 * reach the shim's hooks (nodesource's Node.js, GnuTLS, Java), the shim's
 * own client can run, and the local CA (llmroutectl ca init) loads, owned
 * by this user or root and private.  Then connections on port 443 to a
 * known LLM API host or a host a route names are connected to the shim's
 * TLS endpoint (lr_tlsend.h) at once, with certificates minted from that
 * CA, which the program must trust (the launcher sets the variables
 * programs read).  Is host one of them (interception on)? */
int lr_claim_intercept_host(const char *host);

/* Connects fd to the endpoint for an intercepted host (no attempt at the
 * host itself).  As lr_claim_connect. */
int lr_claim_intercept(int fd, const char *host, const struct sockaddr *real, socklen_t reallen,
		       int (*real_connect)(int, const struct sockaddr *, socklen_t));

/* 1 while any descriptor is a candidate, claimed or watched (two atomic
 * loads). */
int lr_claim_pending(void);

/* The app calls connect again on fd (after EINPROGRESS, to learn the
 * outcome): for a candidate the host's answer, or the claim when it failed
 * (0); for a claimed socket the real call (EISCONN).  -2: fd is neither. */
int lr_claim_connect_again(int fd, const struct sockaddr *sa, socklen_t len,
			   int (*real_connect)(int, const struct sockaddr *, socklen_t));

/* getsockopt(SO_ERROR) on fd said err: for a candidate whose connect
 * failed, the claim is made now and 0 is what the app reads.  Returns the
 * value the app gets. */
int lr_claim_so_error(int fd, int err, int (*real_connect)(int, const struct sockaddr *, socklen_t));

/* Is fd a claimed connection?  Then 1 and (each may be NULL) the host
 * name, the route and the real address as "a.b.c.d:port" ("" if the host
 * had none) copied out (256, 128, 64 bytes). */
int lr_claim_of(int fd, char *host, char *route, char *peer);

/* The handshake hooks: ssl's descriptor fd is claimed and its handshake is
 * not done yet?  Then the shim completes it and this returns 1 (done) or
 * -1 (failed: ssl is in an error state, SSL_get_error says SSL).  0: not
 * claimed, the real call goes on. */
int lr_claim_handshake(void *ssl, int fd, int connect_state);

/* The app writes to fd itself (not through the shim's handshake): for a
 * claimed connection whose handshake has not started, its TLS is the
 * app's own (memory BIOs, or a library the shim does not hook), and the
 * connection goes to the shim's TLS endpoint (lr_tlsend.h).  1 if so. */
int lr_claim_raw(int fd, const void *p, size_t n);

/* fd connected to a port 443 as the app asked (not claimed): its first
 * bytes are looked at (lr_claim_raw) for a TLS ClientHello to an LLM host
 * that is not sent through the shim's hooks (a TLS library the shim does
 * not reach): logged once per process and counted (llmroutectl stats:
 * UNREACHED), so a deny that cannot hold is not silent. */
void lr_claim_watch(int fd);

/* An OpenSSL function of the app's libssl or libcrypto, or NULL. */
void *lr_claim_sym(const char *name);

/* A handshake on a session with no descriptor (memory BIOs: asyncio,
 * Node.js on the system OpenSSL): if its server name is a claimed host
 * whose handshake has not started, the session trusts our CA (its bytes
 * reach our endpoint when the app writes them to the socket) and 1 is
 * returned: the session's plaintext is then the endpoint's to route, not
 * the hooks' (lr_ssl.c ignores the session). */
int lr_claim_trust(void *ssl);

/* The app closed fd (or a dup2 replaced it): its claim ends.  _range:
 * for every descriptor from first to last (close_range, closefrom). */
void lr_claim_forget(int fd);
void lr_claim_forget_range(unsigned first, unsigned last);

/* Nothing more will come from the in-process endpoint (a refusal was
 * served): the app's next read of the session sees the end. */
void lr_claim_shut(int fd);

void lr_claim_atfork(int phase);

#endif
