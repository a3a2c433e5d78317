/*
 * lr_tlsend.h - the shim's own TLS endpoint, for claimed connections whose
 * handshake the app does not make through the shim's hooks on its socket.
 *
 * A claimed connection (lr_claim.h) is normally completed in the app's own
 * thread, inside its SSL_connect.  A program whose TLS runs on memory BIOs
 * (Python's asyncio, Node.js) or in a TLS library the shim does not hook
 * writes its ClientHello to the socket itself: then the connection is
 * handed here.  One thread of the shim's (signals blocked, started at the
 * first hand-over) runs a real TLS server session on the shim's end of the
 * loopback connection, with the certificate lr_claim minted for the host;
 * the plaintext requests it decrypts go through the same connection engine
 * as every transport (lr_conn.h), every request served by the shim's own
 * client (lr_serve.h); the answers are encrypted back to the app.
 *
 * The app's TLS must trust the certificate: a session through the shim's
 * hooks is told to (lr_claim sets its verify store from the server name);
 * any other needs the CA in its trust.
 */
#ifndef LR_TLSEND_H
#define LR_TLSEND_H

/* Serves the claimed connection whose shim end is srv (a guarded
 * descriptor, lr_upfd_adopt; taken in every case), for host, with the
 * server context ctx (an SSL_CTX *; the session holds its own reference),
 * the claiming route and the host's real address ("" if none).  0, or -1
 * (srv released). */
int lr_tlsend_adopt(int srv, void *ctx, const char *host, const char *route, const char *peer);

void lr_tlsend_atfork(int phase);

#endif
