/*
 * lr_resp_tls.c - TLS for the RESP client (rediss://), see lr_resp.h.
 *
 * OpenSSL is never linked: libssl.so.3 is taken from the process if it is
 * there (RTLD_NOLOAD) and loaded privately (RTLD_LOCAL) otherwise, at the
 * first rediss:// connection; without it the connection fails with a
 * reason and the caller goes on without Redis.  The functions come from
 * dlsym on libssl's own handle, so the shim's hooks of SSL_read,
 * SSL_write, SSL_get_error, SSL_free never see this session: it is not
 * the app's traffic.
 *
 * The session reads and writes two memory BIOs, never the descriptor:
 * ciphertext moves through lr_resp_sys, so every system call on the
 * descriptor stays guarded against the host closing it (lr_resp_closing),
 * and every wait is lr_resp_wait against the caller's deadline.
 *
 * Checked: the chain up to ca_file (or the system's trust), the name (a
 * DNS name with SSL_set1_host, an IP address with X509_VERIFY_PARAM's),
 * TLS 1.2 at least.  SNI carries the name.
 */
#include "lr_resp.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#define F(name) __typeof__(&name) name
static struct {
	int ok;
	char why[96];
	F(TLS_client_method); F(SSL_CTX_new); F(SSL_CTX_free); F(SSL_CTX_set_verify); F(SSL_CTX_ctrl);
	F(SSL_CTX_load_verify_locations); F(SSL_CTX_set_default_verify_paths);
	F(SSL_new); F(SSL_free); F(SSL_set_bio); F(SSL_set_connect_state); F(SSL_do_handshake);
	F(SSL_read); F(SSL_write); F(SSL_get_error); F(SSL_ctrl); F(SSL_set1_host); F(SSL_get0_param);
	F(SSL_get_verify_result); F(X509_VERIFY_PARAM_set1_ip_asc); F(X509_verify_cert_error_string);
	F(BIO_new); F(BIO_free); F(BIO_s_mem); F(BIO_read); F(BIO_write); F(BIO_ctrl_pending);
	F(ERR_clear_error); F(ERR_get_error); F(ERR_error_string_n);
} O;
#undef F
static pthread_once_t once = PTHREAD_ONCE_INIT;

typedef struct {
	SSL_CTX *ctx;
	SSL *ssl;
	BIO *rb, *wb; /* ciphertext in, out: owned by ssl */
} session;

#define SYM(name) (*(void **)&O.name = dlsym(h, #name), missing = missing ? missing : O.name ? NULL : #name)

/* OpenSSL built into the program or another library (nodesource's node
 * exports its own, unversioned): a libssl.so.3 loaded now would bind its
 * libcrypto calls to that copy, of another version.  A libcrypto.so of
 * another version is no harm: symbol versions keep the two apart.
 * 1 if such a copy is there. */
static int foreign_crypto(void)
{
	void *f = dlsym(RTLD_DEFAULT, "OPENSSL_init_crypto");
	const char *name, *slash;
	Dl_info di;

	if (!f || !dladdr(f, &di) || !di.dli_fname)
		return 0;
	name = di.dli_fname;
	slash = strrchr(name, '/');
	return strncmp(slash ? slash + 1 : name, "libcrypto.so", 12) != 0;
}

static void load(void)
{
	const char *missing = NULL;
	void *h = dlopen("libssl.so.3", RTLD_NOLOAD | RTLD_LAZY);

	if (!h && foreign_crypto()) {
		snprintf(O.why, sizeof(O.why), "this program has its own OpenSSL built in: no TLS to Redis from it");
		return;
	}
	if (!h)
		h = dlopen("libssl.so.3", RTLD_LAZY | RTLD_LOCAL);
	if (!h) {
		snprintf(O.why, sizeof(O.why), "OpenSSL (libssl.so.3) cannot be loaded");
		return;
	}
	SYM(TLS_client_method); SYM(SSL_CTX_new); SYM(SSL_CTX_free); SYM(SSL_CTX_set_verify); SYM(SSL_CTX_ctrl);
	SYM(SSL_CTX_load_verify_locations); SYM(SSL_CTX_set_default_verify_paths);
	SYM(SSL_new); SYM(SSL_free); SYM(SSL_set_bio); SYM(SSL_set_connect_state); SYM(SSL_do_handshake);
	SYM(SSL_read); SYM(SSL_write); SYM(SSL_get_error); SYM(SSL_ctrl); SYM(SSL_set1_host); SYM(SSL_get0_param);
	SYM(SSL_get_verify_result); SYM(X509_VERIFY_PARAM_set1_ip_asc); SYM(X509_verify_cert_error_string);
	SYM(BIO_new); SYM(BIO_free); SYM(BIO_s_mem); SYM(BIO_read); SYM(BIO_write); SYM(BIO_ctrl_pending);
	SYM(ERR_clear_error); SYM(ERR_get_error); SYM(ERR_error_string_n);
	if (missing) /* the handle stays: other users of libssl may share it */
		snprintf(O.why, sizeof(O.why), "libssl.so.3 has no %s", missing);
	else
		O.ok = 1;
}
#undef SYM

/* OpenSSL's oldest queued error, or `dflt`, into why[cap]. */
static void ssl_reason(char *why, size_t cap, const char *dflt)
{
	unsigned long e = O.ERR_get_error();

	if (e)
		O.ERR_error_string_n(e, why, cap);
	else
		snprintf(why, cap, "%s", dflt);
	O.ERR_clear_error();
}

/* The context: whom to trust.  NULL with why[] on error. */
static SSL_CTX *new_ctx(const char *ca_file, char *why, size_t cap)
{
	SSL_CTX *ctx = O.SSL_CTX_new(O.TLS_client_method());

	if (!ctx)
		return ssl_reason(why, cap, "no TLS context"), NULL;
	O.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	O.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
	if (ca_file ? O.SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
		    : O.SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(why, cap, "%s cannot be read", ca_file ? "ca_file" : "the system's CA certificates");
		O.ERR_clear_error();
		O.SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* The session for host: its name checked, SNI set.  0, or -1 with why[]. */
static int new_ssl(session *s, const char *host, char *why, size_t cap)
{
	unsigned char ip[16];
	int is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;

	s->rb = O.BIO_new(O.BIO_s_mem());
	s->wb = O.BIO_new(O.BIO_s_mem());
	if (!s->rb || !s->wb || !(s->ssl = O.SSL_new(s->ctx))) {
		O.BIO_free(s->rb); /* BIO_free(NULL) is a no-op */
		O.BIO_free(s->wb);
		return ssl_reason(why, cap, "no TLS session"), -1;
	}
	O.SSL_set_bio(s->ssl, s->rb, s->wb); /* ssl owns them from here */
	O.SSL_set_connect_state(s->ssl);
	/* an address is checked against the certificate's IP entries and
	 * sent as no SNI (RFC 6066 allows names only) */
	if (is_ip ? O.X509_VERIFY_PARAM_set1_ip_asc(O.SSL_get0_param(s->ssl), host) != 1
		  : O.SSL_set1_host(s->ssl, host) != 1 ||
			    O.SSL_ctrl(s->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
				       (void *)host) != 1)
		return ssl_reason(why, cap, "the host name cannot be checked"), -1;
	return 0;
}

/* Sends every byte OpenSSL has queued, by the deadline.  0 or -1. */
static int flush_out(lr_resp *r, long long deadline)
{
	session *s = r->tls;
	char buf[16384];
	int n;
	size_t off;
	long k;

	while (O.BIO_ctrl_pending(s->wb) > 0) {
		if ((n = O.BIO_read(s->wb, buf, sizeof(buf))) <= 0)
			return -1;
		for (off = 0; off < (size_t)n;) {
			k = lr_resp_sys(r, 0, buf + off, (size_t)n - off);
			if (k > 0)
				off += (size_t)k;
			else if ((k < 0 && errno != EAGAIN && errno != EINTR) ||
				 lr_resp_wait(r, POLLOUT, deadline) <= 0)
				return -1;
		}
	}
	return 0;
}

/* What the server sent into OpenSSL: 1 some, 0 nothing yet (EAGAIN),
 * -1 the connection ended or failed. */
static int pull_in(lr_resp *r)
{
	session *s = r->tls;
	char buf[16384];
	long k = lr_resp_sys(r, 1, buf, sizeof(buf));

	if (k > 0)
		return O.BIO_write(s->rb, buf, (int)k) == (int)k ? 1 : -1;
	if (k == 0) {
		errno = ECONNRESET;
		return -1;
	}
	return errno == EAGAIN || errno == EINTR ? 0 : -1;
}

/* The handshake, by the deadline.  0, or -1 with why[]. */
static int handshake(lr_resp *r, long long deadline, char *why, size_t cap)
{
	session *s = r->tls;
	long vr;
	int rc, in;

	for (;;) {
		rc = O.SSL_do_handshake(s->ssl);
		if (flush_out(r, deadline) < 0)
			return snprintf(why, cap, "the handshake could not be sent"), -1;
		if (rc == 1)
			return 0;
		if (O.SSL_get_error(s->ssl, rc) != SSL_ERROR_WANT_READ)
			break;
		while ((in = pull_in(r)) == 0)
			if (lr_resp_wait(r, POLLIN, deadline) <= 0)
				return snprintf(why, cap, "no TLS handshake in time"), -1;
		if (in < 0)
			return snprintf(why, cap, "the server closed the connection in the handshake"), -1;
	}
	if ((vr = O.SSL_get_verify_result(s->ssl)) != X509_V_OK) {
		snprintf(why, cap, "its certificate is refused: %s", O.X509_verify_cert_error_string(vr));
		O.ERR_clear_error();
		return -1;
	}
	ssl_reason(why, cap, "the TLS handshake failed");
	return -1;
}

int lr_resp_connect_tls(lr_resp *r, const char *host, unsigned port, const char *ca_file, int timeout_ms,
			char *why, size_t cap)
{
	long long deadline = lr_resp_now_ms() + timeout_ms;
	session *s;
	long long left;

	pthread_once(&once, load);
	if (!O.ok)
		return lr_resp_close(r), snprintf(why, cap, "%s", O.why), -1;
	if (lr_resp_connect(r, host, port, timeout_ms) < 0)
		return snprintf(why, cap, "cannot connect: %s", strerror(errno)), -1;
	if (!(s = calloc(1, sizeof(*s))))
		return lr_resp_close(r), snprintf(why, cap, "out of memory"), -1;
	r->tls = s;
	O.ERR_clear_error();
	if (!(s->ctx = new_ctx(ca_file, why, cap)) || new_ssl(s, host, why, cap) < 0)
		goto fail;
	left = deadline - lr_resp_now_ms();
	/* reading the system's CA file may have used the time: at least one
	 * round trip's worth is left for the handshake itself */
	if (handshake(r, left < 50 ? lr_resp_now_ms() + 50 : deadline, why, cap) == 0)
		return 0;
fail:
	lr_resp_close(r);
	return -1;
}

long lr_resp_tls_send(lr_resp *r, const void *buf, size_t n, long long deadline)
{
	session *s = r->tls;

	/* into the memory BIO: it grows, so all of it is taken at once */
	if (n > (size_t)0x7fffffff || (n && O.SSL_write(s->ssl, buf, (int)n) != (int)n)) {
		O.ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
	return flush_out(r, deadline) < 0 ? -1 : (long)n;
}

long lr_resp_tls_recv(lr_resp *r, void *buf, size_t n, long long deadline)
{
	session *s = r->tls;
	int k, err, in;

	if (n > (size_t)0x7fffffff)
		n = 0x7fffffff;
	for (;;) {
		if ((k = O.SSL_read(s->ssl, buf, (int)n)) > 0)
			return k;
		err = O.SSL_get_error(s->ssl, k);
		O.ERR_clear_error();
		if (err == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (err != SSL_ERROR_WANT_READ)
			return errno = EPROTO, -1;
		/* a TLS 1.3 key update may have queued an answer */
		if (flush_out(r, deadline) < 0)
			return -1;
		if ((in = pull_in(r)) <= 0)
			return in == 0 ? (errno = EAGAIN, -1) : -1;
	}
}

void lr_resp_tls_end(lr_resp *r)
{
	session *s = r->tls;

	if (!s)
		return;
	r->tls = NULL;
	if (s->ssl)
		O.SSL_free(s->ssl); /* and its two BIOs */
	if (s->ctx)
		O.SSL_CTX_free(s->ctx);
	free(s);
}
