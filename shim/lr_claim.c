/*
 * lr_claim.c - HTTPS connections the shim answers from the handshake on
 * (see lr_claim.h).
 *
 * Three parts: the in-memory CA and the per-host server contexts it signs
 * (mint_*), the table of claimed descriptors, and the handshake pump that
 * runs the app's client session against our server session over the
 * loopback connection, in the app's own thread, with no thread of ours.
 *
 * OpenSSL is never linked: its functions are looked up in the app's
 * libssl and libcrypto at the first claim (OpenSSL 3 only; without them
 * nothing is claimed).  The headers give the types and constants.
 */
#include "lr_claim.h"
#include "lr_rec.h"
#include "lr_stats.h"
#include "lr_detect.h"
#include "lr_match.h"
#include "lr_view.h"
#include "lr_fork.h"
#include "lr_log.h"
#include "lr_serve.h"
#include "lr_shim.h"
#include "lr_tlsend.h"
#include "lr_upstream.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define HANDSHAKE_MS 10000 /* the pump gives up after this */
#define MAX_CLAIMS 4096    /* claimed connections open at once */
#define MAX_HOSTS 64       /* server contexts kept (one per host name) */

/* --- OpenSSL, as the app loaded it ----------------------------------------------- */

static struct {
	int ok;
	EVP_PKEY *(*keygen)(OSSL_LIB_CTX *, const char *, const char *, ...);
	void (*pkey_free)(EVP_PKEY *);
	X509 *(*x_new)(void);
	void (*x_free)(X509 *);
	int (*x_set_version)(X509 *, long);
	ASN1_INTEGER *(*x_serial)(X509 *);
	int (*asn1_int_set)(ASN1_INTEGER *, long);
	ASN1_TIME *(*x_not_before)(const X509 *);
	ASN1_TIME *(*x_not_after)(const X509 *);
	ASN1_TIME *(*gmtime_adj)(ASN1_TIME *, long);
	int (*x_set_pubkey)(X509 *, EVP_PKEY *);
	X509_NAME *(*x_subject)(const X509 *);
	int (*name_add)(X509_NAME *, const char *, int, const unsigned char *, int, int, int);
	int (*x_set_issuer)(X509 *, const X509_NAME *);
	void (*v3_set_ctx)(X509V3_CTX *, X509 *, X509 *, X509_REQ *, X509_CRL *, int);
	X509_EXTENSION *(*ext_conf_nid)(void *, X509V3_CTX *, int, const char *);
	int (*x_add_ext)(X509 *, X509_EXTENSION *, int);
	void (*ext_free)(X509_EXTENSION *);
	int (*x_sign)(X509 *, EVP_PKEY *, const EVP_MD *);
	const EVP_MD *(*sha256)(void);
	X509_STORE *(*store_new)(void);
	int (*store_add)(X509_STORE *, X509 *);
	const SSL_METHOD *(*server_method)(void);
	SSL_CTX *(*ctx_new)(const SSL_METHOD *);
	void (*ctx_free)(SSL_CTX *);
	int (*ctx_use_cert)(SSL_CTX *, X509 *);
	int (*ctx_use_key)(SSL_CTX *, EVP_PKEY *);
	int (*ctx_num_tickets)(SSL_CTX *, size_t);
	int (*ctx_up_ref)(SSL_CTX *);
	SSL *(*ssl_new)(SSL_CTX *);
	void (*ssl_free)(SSL *);
	int (*set_fd)(SSL *, int);
	void (*accept_state)(SSL *);
	void (*connect_state)(SSL *);
	int (*do_handshake)(SSL *);
	int (*get_error)(const SSL *, int);
	int (*get_fd)(const SSL *);
	long (*ctrl)(SSL *, int, long, void *);
	int (*in_init)(const SSL *);
	void (*err_clear)(void);
	const char *(*servername)(const SSL *, int);
	EVP_PKEY *(*pem_key)(FILE *, EVP_PKEY **, pem_password_cb *, void *);
	X509 *(*pem_x509)(FILE *, X509 **, pem_password_cb *, void *);
	int (*check_key)(const X509 *, const EVP_PKEY *);
	int (*err_mark)(void);
	int (*err_pop_mark)(void);
} O;

static int ours(void *f);

/* The OpenSSL the app's own calls reach: the global scope's (a program
 * that carries its own OpenSSL, as nodesource's Node.js, exports it there,
 * and libcurl's calls bind to it too), but never our hooks (then the next
 * definition after us); else the system's libssl or libcrypto as loaded
 * (RTLD_LOCAL by Python, or with libcurl).  One OpenSSL for every call:
 * objects of one copy handed to another would break. */
void *lr_claim_sym(const char *name)
{
	static const char *const sonames[] = {"libssl.so.3", "libcrypto.so.3"};
	void *f = dlsym(RTLD_DEFAULT, name), *h;
	size_t i;

	if (f && ours(f))
		f = dlsym(RTLD_NEXT, name);

	for (i = 0; !f && i < sizeof(sonames) / sizeof(sonames[0]); i++) {
		h = dlopen(sonames[i], RTLD_NOLOAD | RTLD_LAZY);
		if (h) {
			f = dlsym(h, name);
			dlclose(h);
		}
	}
	return f;
}

#define OSYM(field, name) (*(void **)&O.field = lr_claim_sym(name), ok &= O.field != NULL)

static void o_resolve(void)
{
	int ok = 1;

	OSYM(keygen, "EVP_PKEY_Q_keygen"); OSYM(pkey_free, "EVP_PKEY_free");
	OSYM(x_new, "X509_new"); OSYM(x_free, "X509_free"); OSYM(x_set_version, "X509_set_version");
	OSYM(x_serial, "X509_get_serialNumber"); OSYM(asn1_int_set, "ASN1_INTEGER_set");
	OSYM(x_not_before, "X509_getm_notBefore"); OSYM(x_not_after, "X509_getm_notAfter");
	OSYM(gmtime_adj, "X509_gmtime_adj"); OSYM(x_set_pubkey, "X509_set_pubkey");
	OSYM(x_subject, "X509_get_subject_name"); OSYM(name_add, "X509_NAME_add_entry_by_txt");
	OSYM(x_set_issuer, "X509_set_issuer_name"); OSYM(v3_set_ctx, "X509V3_set_ctx");
	OSYM(ext_conf_nid, "X509V3_EXT_conf_nid"); OSYM(x_add_ext, "X509_add_ext");
	OSYM(ext_free, "X509_EXTENSION_free"); OSYM(x_sign, "X509_sign"); OSYM(sha256, "EVP_sha256");
	OSYM(store_new, "X509_STORE_new"); OSYM(store_add, "X509_STORE_add_cert");
	OSYM(server_method, "TLS_server_method"); OSYM(ctx_new, "SSL_CTX_new"); OSYM(ctx_free, "SSL_CTX_free");
	OSYM(ctx_use_cert, "SSL_CTX_use_certificate"); OSYM(ctx_use_key, "SSL_CTX_use_PrivateKey");
	OSYM(ctx_num_tickets, "SSL_CTX_set_num_tickets"); OSYM(ctx_up_ref, "SSL_CTX_up_ref"); OSYM(ssl_new, "SSL_new"); OSYM(ssl_free, "SSL_free");
	OSYM(set_fd, "SSL_set_fd"); OSYM(accept_state, "SSL_set_accept_state");
	OSYM(connect_state, "SSL_set_connect_state"); OSYM(do_handshake, "SSL_do_handshake");
	OSYM(get_error, "SSL_get_error"); OSYM(get_fd, "SSL_get_fd"); OSYM(ctrl, "SSL_ctrl");
	OSYM(in_init, "SSL_in_init"); OSYM(err_clear, "ERR_clear_error");
	OSYM(err_mark, "ERR_set_mark"); OSYM(servername, "SSL_get_servername");
	OSYM(pem_key, "PEM_read_PrivateKey"); OSYM(pem_x509, "PEM_read_X509"); OSYM(check_key, "X509_check_private_key"); OSYM(err_pop_mark, "ERR_pop_to_mark");
	O.ok = ok;
}

/* --- the in-memory CA and the server contexts ------------------------------------ */

static pthread_mutex_t mint_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int o_ok; /* O is complete */
static EVP_PKEY *ca_key, *leaf_key;
static X509 *ca_cert;
static int ca_persistent;      /* ca_key and ca_cert are the local CA's files */
static int enabled = 1;        /* LLMROUTE_TLS_CLAIM is not off */
static int intercept;          /* LLMROUTE_TLS_INTERCEPT is on */
static X509_STORE *ca_store;
static struct {
	char host[256];
	SSL_CTX *ctx;
} hosts[MAX_HOSTS];
static int nhosts, next_host;

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v;
	X509_EXTENSION *e;
	int ok;

	memset(&v, 0, sizeof(v));
	O.v3_set_ctx(&v, issuer, x, NULL, NULL, 0);
	if (!(e = O.ext_conf_nid(NULL, &v, nid, value)))
		return -1;
	ok = O.x_add_ext(x, e, -1);
	O.ext_free(e);
	return ok ? 0 : -1;
}

/* A certificate for subject CN `cn` with key `key`, signed by issuer (NULL:
 * itself) and its key, valid from an hour ago for `days`.  NULL on failure. */
static X509 *mint(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, int days)
{
	X509 *x = O.x_new();
	long serial = 0;
	int ok;

	if (!x)
		return NULL;
	if (getrandom(&serial, sizeof(serial), 0) != sizeof(serial))
		serial = (long)time(NULL) ^ (long)getpid();
	serial &= 0x7fffffffffffffffL;
	ok = O.x_set_version(x, 2) && O.asn1_int_set(O.x_serial(x), serial ? serial : 1) &&
	     O.gmtime_adj(O.x_not_before(x), -3600) && O.gmtime_adj(O.x_not_after(x), (long)days * 86400) &&
	     O.x_set_pubkey(x, key) &&
	     O.name_add(O.x_subject(x), "O", MBSTRING_ASC, (const unsigned char *)"llmroute", -1, -1, 0) &&
	     O.name_add(O.x_subject(x), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) &&
	     O.x_set_issuer(x, O.x_subject(issuer ? issuer : x));
	if (ok && !issuer) /* the CA */
		ok = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") == 0 &&
		     add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") == 0 &&
		     add_ext(x, x, NID_subject_key_identifier, "hash") == 0;
	if (ok && issuer) { /* a server's */
		char san[300];
		snprintf(san, sizeof(san), "DNS:%s", cn);
		ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
		     add_ext(x, issuer, NID_key_usage, "critical,digitalSignature") == 0 &&
		     add_ext(x, issuer, NID_ext_key_usage, "serverAuth") == 0 &&
		     add_ext(x, issuer, NID_subject_key_identifier, "hash") == 0 &&
		     add_ext(x, issuer, NID_authority_key_identifier, "keyid:always") == 0 &&
		     add_ext(x, issuer, NID_subject_alt_name, san) == 0;
	}
	if (!ok || !O.x_sign(x, ikey ? ikey : key, O.sha256())) {
		O.x_free(x);
		return NULL;
	}
	return x;
}

/* The local CA's directory (llmroutectl ca init): LLMROUTE_CA_DIR, else
 * /etc/llmroute/ca for root, else the user's data directory. */
static int ca_dir(char *out, size_t cap)
{
	const char *d = secure_getenv("LLMROUTE_CA_DIR"), *x, *h;

	if (d && *d)
		return snprintf(out, cap, "%s", d) < (int)cap ? 0 : -1;
	if (geteuid() == 0)
		return snprintf(out, cap, "/etc/llmroute/ca") < (int)cap ? 0 : -1;
	if ((x = secure_getenv("XDG_DATA_HOME")) && *x)
		return snprintf(out, cap, "%s/llmroute/ca", x) < (int)cap ? 0 : -1;
	if ((h = secure_getenv("HOME")) && *h)
		return snprintf(out, cap, "%s/.local/share/llmroute/ca", h) < (int)cap ? 0 : -1;
	return -1;
}

/* path, opened only if it is a regular file of ours (or root's) that no
 * one else may write (key: nor read).  The stream, or NULL. */
static FILE *open_trusted(const char *path, int secret)
{
	struct stat st;
	FILE *f;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0) ||
	    (st.st_mode & (secret ? 077 : 022)) || !(f = fdopen(fd, "r"))) {
		lr_log(LR_LOG_ERROR, "local CA: %s is not a %s file of this user's: not used", path,
		       secret ? "private (mode 0600)" : "protected");
		close(fd);
		return NULL;
	}
	return f;
}

/* The local CA's key and certificate, checked: 0, or -1. */
static int ca_load(void)
{
	char dir[512], path[600];
	struct stat st;
	FILE *f;

	if (ca_dir(dir, sizeof(dir)) < 0 || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    (st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 022))
		return -1;
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	if (!(f = open_trusted(path, 1)))
		return -1;
	ca_key = O.pem_key(f, NULL, NULL, NULL);
	fclose(f);
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	if (!ca_key || !(f = open_trusted(path, 0)))
		return -1;
	ca_cert = O.pem_x509(f, NULL, NULL, NULL);
	fclose(f);
	if (!ca_cert || !O.check_key(ca_cert, ca_key)) {
		lr_log(LR_LOG_ERROR, "local CA in %s: the key and the certificate do not match", dir);
		return -1;
	}
	lr_log(LR_LOG_DEBUG, "local CA in %s", dir);
	return 0;
}

/* The CA, made once per process.  0, or -1.  Under mint_mu. */
static int ca_ready(void)
{
	char cn[64];

	if (ca_store)
		return 0;
	if (intercept && ca_load() == 0) {
		ca_persistent = 1;
		if (!leaf_key && !(leaf_key = O.keygen(NULL, NULL, "EC", "P-256")))
			return -1;
		if (!(ca_store = O.store_new()) || !O.store_add(ca_store, ca_cert))
			return -1;
		return 0;
	}
	snprintf(cn, sizeof(cn), "llmroute in-process CA %d", (int)getpid());
	if (!ca_key && !(ca_key = O.keygen(NULL, NULL, "EC", "P-256")))
		return -1;
	if (!leaf_key && !(leaf_key = O.keygen(NULL, NULL, "EC", "P-256")))
		return -1;
	if (!ca_cert && !(ca_cert = mint(cn, ca_key, NULL, NULL, 30)))
		return -1;
	if (!(ca_store = O.store_new()))
		return -1;
	if (!O.store_add(ca_store, ca_cert)) {
		ca_store = NULL; /* leaked: a failure that does not repeat */
		return -1;
	}
	return 0;
}

/* A server context with a certificate for host, with a reference for the
 * caller (O.ctx_free it): the cache may evict it meanwhile. */
static SSL_CTX *server_ctx(const char *host)
{
	SSL_CTX *ctx = NULL;
	X509 *leaf;
	int i;

	pthread_mutex_lock(&mint_mu);
	for (i = 0; i < nhosts; i++)
		if (strcasecmp(hosts[i].host, host) == 0) {
			ctx = hosts[i].ctx;
			break;
		}
	if (!ctx && ca_ready() == 0 && (leaf = mint(host, leaf_key, ca_cert, ca_key, 30))) {
		if ((ctx = O.ctx_new(O.server_method())) &&
		    (!O.ctx_use_cert(ctx, leaf) || !O.ctx_use_key(ctx, leaf_key))) {
			O.ctx_free(ctx);
			ctx = NULL;
		}
		O.x_free(leaf); /* the context holds its own reference */
		if (ctx) {
			O.ctx_num_tickets(ctx, 0); /* nothing after the handshake: the app never reads this session */
			i = nhosts < MAX_HOSTS ? nhosts++ : next_host++ % MAX_HOSTS;
			if (hosts[i].ctx)
				O.ctx_free(hosts[i].ctx); /* sessions made from it keep their own reference */
			snprintf(hosts[i].host, sizeof(hosts[i].host), "%s", host);
			hosts[i].ctx = ctx;
		}
	}
	if (ctx && !O.ctx_up_ref(ctx))
		ctx = NULL;
	pthread_mutex_unlock(&mint_mu);
	return ctx;
}

/* --- claimed descriptors ----------------------------------------------------------- */

enum {
	C_CANDIDATE,       /* connecting to the host: claimed if that fails */
	C_CLAIMED,         /* connected to our endpoint */
};

typedef struct {
	int fd;
	int state;
	int srv;           /* our end of the loopback connection (guarded, lr_upfd_adopt), or -1 */
	int done;          /* the handshake is complete (or failed) */
	struct sockaddr_storage real; /* the host's real address (reallen 0: none) */
	socklen_t reallen;
	char host[256], route[128], peer[64];
	UT_hash_handle hh;
} claim;

static claim *claims;
static _Atomic int nclaims;   /* in the table, either state */
static _Atomic int nbio;      /* claimed, handshake not started */
#define MAX_FRESH 65536
static _Atomic(_Atomic unsigned char *) fresh; /* connected to port 443, no byte sent yet */
static _Atomic int nfresh;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int possible_cached = -1;

static int ours(void *f)
{
	Dl_info a, b;

	return f && dladdr(f, &a) && dladdr((void *)lr_claim_possible, &b) && a.dli_fbase == b.dli_fbase;
}

static void init(void)
{
	const char *v = secure_getenv("LLMROUTE_TLS_CLAIM");

	enabled = !(v && (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no")));
	v = secure_getenv("LLMROUTE_TLS_INTERCEPT");
	intercept = v && (!strcmp(v, "1") || !strcmp(v, "on") || !strcmp(v, "yes"));
}

/* Is the system's libssl in the process already (not loaded by us)? */
static int dlopen_noload_ssl(void)
{
	void *h = dlopen("libssl.so.3", RTLD_NOLOAD | RTLD_LAZY);

	if (h)
		dlclose(h);
	return h != NULL;
}

/* OpenSSL's functions: 0 once found (looked up again until they are). */
static int o_ready(void)
{
	if (!atomic_load(&o_ok)) {
		pthread_mutex_lock(&mint_mu);
		if (!O.ok)
			o_resolve();
		atomic_store(&o_ok, O.ok);
		pthread_mutex_unlock(&mint_mu);
	}
	return O.ok ? 0 : -1;
}

/* The app's TLS reaches our hooks: its libssl is loaded (found without
 * loading libcurl's) and no OpenSSL of the program's own (nodesource's
 * Node.js) comes first in the global scope. */
static int hooked(void)
{
	int before = lr_up_ssl_before(); /* libcurl's libssl is not the app's */

	return (before >= 0 ? before : dlopen_noload_ssl()) && ours(dlsym(RTLD_DEFAULT, "SSL_do_handshake")) &&
	       ours(dlsym(RTLD_DEFAULT, "SSL_connect"));
}

/* Node.js (its addon API is exported): its TLS runs on memory BIOs, so
 * even on the system OpenSSL (Debian's) a request its connection cannot
 * carry is not taken over; with interception asked for, it is
 * intercepted like a TLS the hooks do not reach. */
static int node_runtime(void)
{
	return dlsym(RTLD_DEFAULT, "node_module_register") != NULL;
}

int lr_claim_possible(void)
{
	pthread_once(&once, init);
	if (!enabled || o_ready() < 0 || !hooked())
		return 0;
	if (possible_cached < 0)
		possible_cached = lr_serve_allowed();
	return possible_cached;
}

/* Interception on for this process (see lr_claim_intercept_host). */
static int intercepting(void)
{
	static _Atomic int state = -1; /* -1 not known yet, 0 off, 1 on */
	int st = atomic_load(&state);

	if (st >= 0)
		return st;
	pthread_once(&once, init);
	/* the shim's own client first: it loads the libssl our endpoint uses */
	st = enabled && intercept && (!hooked() || node_runtime()) && lr_serve_allowed() && o_ready() == 0;
	if (st) {
		pthread_mutex_lock(&mint_mu);
		st = ca_ready() == 0 && ca_persistent;
		pthread_mutex_unlock(&mint_mu);
		if (!st)
			lr_log(LR_LOG_ERROR, "TLS interception is asked for (LLMROUTE_TLS_INTERCEPT) but the local "
			       "CA cannot be used (llmroutectl ca show): HTTPS goes out as the program makes it");
	}
	atomic_store(&state, st);
	return st;
}

int lr_claim_intercept_host(const char *host)
{
	const lr_table *t;
	size_t n = strlen(host);
	int yes;

	if (!intercepting())
		return 0;
	if (lr_detect_api_host(host, n))
		return 1;
	t = lr_view_acquire();
	yes = lr_match_names_host(t, host, n);
	lr_view_release(t);
	return yes;
}

static void peer_text(const struct sockaddr *sa, socklen_t len, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN];

	out[0] = 0;
	if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *v4 = (const void *)sa;
		inet_ntop(AF_INET, &v4->sin_addr, a, sizeof(a));
		snprintf(out, cap, "%s:%d", a, ntohs(v4->sin_port));
	} else if (sa && sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *v6 = (const void *)sa;
		inet_ntop(AF_INET6, &v6->sin6_addr, a, sizeof(a));
		snprintf(out, cap, "[%s]:%d", a, ntohs(v6->sin6_port));
	}
}

/* A loopback listener of the socket's family on an ephemeral port; its
 * address in *la.  The descriptor, or -1. */
static int listener(int fam, struct sockaddr_storage *la, socklen_t *lalen)
{
	int l = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(la, 0, sizeof(*la));
	if (fam == AF_INET) {
		struct sockaddr_in *a = (void *)la;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*lalen = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (void *)la;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		*lalen = sizeof(*a);
	}
	if (l < 0 || bind(l, (struct sockaddr *)la, *lalen) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)la, lalen) < 0) {
		if (l >= 0)
			syscall(SYS_close, l);
		return -1;
	}
	return l;
}

/* Accepts on l the connection from the app's socket fd and no other (a
 * local user may connect to the port in between).  The descriptor, or -1. */
static int accept_app(int l, int fd)
{
	struct sockaddr_storage me, them;
	socklen_t mlen = sizeof(me), tlen;
	struct pollfd pf = {.fd = l, .events = POLLIN};
	int i, s;

	if (getsockname(fd, (struct sockaddr *)&me, &mlen) < 0) {
		lr_log(LR_LOG_DEBUG, "claim: getsockname: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < 8; i++) {
		if (poll(&pf, 1, 2000) != 1) {
			lr_log(LR_LOG_DEBUG, "claim: poll: %s", strerror(errno));
			return -1;
		}
		tlen = sizeof(them);
		if ((s = accept4(l, (struct sockaddr *)&them, &tlen, SOCK_CLOEXEC)) < 0) {
			lr_log(LR_LOG_DEBUG, "claim: accept: %s", strerror(errno));
			return -1;
		}
		if (tlen == mlen && memcmp(&them, &me, mlen) == 0)
			return s;
		lr_log(LR_LOG_DEBUG, "claim: a connection from elsewhere (%u %u)", (unsigned)tlen, (unsigned)mlen);
		syscall(SYS_close, s);
	}
	return -1;
}

/* Puts c in the table (replacing whatever fd was). */
static void put(claim *c)
{
	claim *old;

	pthread_mutex_lock(&mu);
	HASH_FIND_INT(claims, &c->fd, old);
	if (old) {
		HASH_DEL(claims, old);
		atomic_fetch_sub(&nclaims, 1);
		if (old->state == C_CLAIMED && !old->done)
			atomic_fetch_sub(&nbio, 1);
	}
	HASH_ADD_INT(claims, fd, c);
	atomic_fetch_add(&nclaims, 1);
	if (c->state == C_CLAIMED)
		atomic_fetch_add(&nbio, 1);
	pthread_mutex_unlock(&mu);
	if (old) {
		lr_upfd_release(old->srv);
		free(old);
	}
}

/* Takes fd's entry out of the table; NULL if none. */
static claim *take(int fd)
{
	claim *c;

	pthread_mutex_lock(&mu);
	HASH_FIND_INT(claims, &fd, c);
	if (c) {
		HASH_DEL(claims, c);
		atomic_fetch_sub(&nclaims, 1);
		if (c->state == C_CLAIMED && !c->done)
			atomic_fetch_sub(&nbio, 1);
	}
	pthread_mutex_unlock(&mu);
	return c;
}

static void drop(claim *c)
{
	if (c) {
		lr_upfd_release(c->srv);
		free(c);
	}
}

/* A failed connect the host's absence explains: claimed instead. */
static int claimable(int e)
{
	return e == ECONNREFUSED || e == ENETUNREACH || e == EHOSTUNREACH || e == ETIMEDOUT ||
	       e == EHOSTDOWN || e == ENETDOWN || e == ECONNRESET;
}

/* Connects fd to a new in-process endpoint and makes c (taken by the
 * caller, not in the table) its claim.  Returns connect's result (0, or -1
 * with EINPROGRESS), -1 with ECONNREFUSED when fd went to the endpoint but
 * it failed, or -2 (nothing done: errno untouched). */
static int claim_now(int fd, claim *c, int (*real_connect)(int, const struct sockaddr *, socklen_t))
{
	struct sockaddr_storage ss, la;
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	socklen_t sl = sizeof(ss), lalen;
	int l, rc, e, s, saved = errno;
	SSL_CTX *ctx = server_ctx(c->host); /* the certificate can be made: else no claim */

	if (ctx)
		O.ctx_free(ctx);
	if (!ctx || getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) || (l = listener(ss.ss_family, &la, &lalen)) < 0) {
		errno = saved;
		return -2;
	}
	real_connect(fd, &unspec, sizeof(unspec)); /* after a failed connect: unconnected again */
	rc = real_connect(fd, (struct sockaddr *)&la, lalen);
	e = errno;
	s = rc == 0 || e == EINPROGRESS ? accept_app(l, fd) : -1;
	syscall(SYS_close, l);
	if (s < 0) {
		lr_log(LR_LOG_ERROR, "connection to %s: the in-process endpoint failed (%s)", c->host,
		       rc == 0 || e == EINPROGRESS ? "accept" : strerror(e));
		if (rc == 0 || e == EINPROGRESS) {
			errno = ECONNREFUSED;
			return -1;
		}
		errno = saved;
		return -2;
	}
	c->fd = fd;
	c->state = C_CLAIMED;
	c->srv = lr_upfd_adopt(s);
	put(c);
	lr_log(LR_LOG_INFO, "connection to %s claimed by route %s (%s): its TLS ends in the shim", c->host,
	       c->route, c->route[0] == '(' ? "intercepted" : c->reallen ? "the host does not answer" : "the host has no address");
	errno = e;
	return rc;
}

int lr_claim_connect(int fd, const char *host, int port, const char *route, const struct sockaddr *real,
		     socklen_t reallen, int (*real_connect)(int, const struct sockaddr *, socklen_t))
{
	claim *c;
	int rc, e;

	if (!lr_claim_possible() || atomic_load(&nclaims) >= MAX_CLAIMS || !(c = calloc(1, sizeof(*c))))
		return -2;
	c->fd = fd;
	c->srv = -1;
	snprintf(c->host, sizeof(c->host), "%s", host);
	snprintf(c->route, sizeof(c->route), "%s", route);
	if (real && reallen <= sizeof(c->real)) {
		memcpy(&c->real, real, reallen);
		c->reallen = reallen;
		peer_text(real, reallen, c->peer, sizeof(c->peer));
		/* the host first: only a host that cannot be reached is claimed
		 * (a program whose TLS does not use its socket, asyncio or
		 * Node.js, cannot have its handshake completed by the shim) */
		rc = real_connect(fd, real, reallen);
		e = errno;
		if (rc == 0 || !claimable(e)) {
			if (rc < 0 && e == EINPROGRESS) {
				c->state = C_CANDIDATE;
				put(c); /* the outcome comes with SO_ERROR or a second connect */
			} else {
				free(c);
			}
			errno = e;
			return rc;
		}
	}
	e = errno;
	rc = claim_now(fd, c, real_connect);
	if (rc == -2) {
		free(c);
		errno = reallen ? e : EHOSTUNREACH;
		return -1;
	}
	(void)port;
	return rc;
}

int lr_claim_intercept(int fd, const char *host, const struct sockaddr *real, socklen_t reallen,
		       int (*real_connect)(int, const struct sockaddr *, socklen_t))
{
	claim *c;
	int rc;

	if (atomic_load(&nclaims) >= MAX_CLAIMS || !(c = calloc(1, sizeof(*c))))
		return -2;
	c->fd = fd;
	c->srv = -1;
	snprintf(c->host, sizeof(c->host), "%s", host);
	snprintf(c->route, sizeof(c->route), "(interception)");
	if (real && reallen <= sizeof(c->real)) {
		memcpy(&c->real, real, reallen);
		c->reallen = reallen;
		peer_text(real, reallen, c->peer, sizeof(c->peer));
	}
	if ((rc = claim_now(fd, c, real_connect)) == -2)
		free(c);
	return rc;
}

/* The state of fd's entry (-1: none), and a copy of it in *out. */
static int state_of(int fd, claim *out)
{
	claim *c;
	int st = -1;

	if (!atomic_load(&nclaims))
		return -1;
	pthread_mutex_lock(&mu);
	HASH_FIND_INT(claims, &fd, c);
	if (c) {
		st = c->state;
		if (out)
			*out = *c;
	}
	pthread_mutex_unlock(&mu);
	return st;
}

/* A candidate's connect failed with e: claimed now?  1 (fd is connected to
 * our endpoint, or on its way: EINPROGRESS in *rc_errno), 0 (forgotten). */
static int candidate_failed(int fd, int e, int (*real_connect)(int, const struct sockaddr *, socklen_t),
			    int *rc_errno)
{
	claim *c = take(fd);
	int rc;

	*rc_errno = 0;
	if (!c || c->state != C_CANDIDATE || !claimable(e)) {
		drop(c);
		return 0;
	}
	rc = claim_now(fd, c, real_connect);
	if (rc == -2 || (rc < 0 && errno != EINPROGRESS)) {
		if (rc == -2)
			free(c);
		return 0;
	}
	*rc_errno = rc < 0 ? errno : 0;
	return 1;
}

int lr_claim_connect_again(int fd, const struct sockaddr *sa, socklen_t len,
			   int (*real_connect)(int, const struct sockaddr *, socklen_t))
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	claim c;
	int st = state_of(fd, &c), rc, e, how;

	if (st < 0)
		return -2;
	if (st == C_CLAIMED) {
		if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
			drop(take(fd)); /* not the socket we connected: a number reused behind our back */
			return -2;
		}
		return real_connect(fd, sa, len); /* EISCONN, as for any connected socket */
	}
	rc = real_connect(fd, (struct sockaddr *)&c.real, c.reallen);
	e = errno;
	if (rc == 0 || e == EISCONN) {
		drop(take(fd)); /* the host answered */
	} else if (claimable(e) && candidate_failed(fd, e, real_connect, &how)) {
		return 0; /* connected to us (a loopback connect is complete by now) */
	} else if (e != EALREADY && e != EINPROGRESS && e != EINTR) {
		drop(take(fd));
	}
	errno = e;
	return rc;
}

int lr_claim_so_error(int fd, int err, int (*real_connect)(int, const struct sockaddr *, socklen_t))
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int how;

	if (state_of(fd, NULL) != C_CANDIDATE)
		return err;
	if (err == 0) {
		if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
			drop(take(fd)); /* connected to the host */
		return 0;
	}
	return candidate_failed(fd, err, real_connect, &how) ? 0 : err;
}

int lr_claim_pending(void)
{
	return atomic_load(&nclaims) > 0 || atomic_load(&nfresh) > 0;
}

/* --- programs the shim does not reach ------------------------------------------------ */

void lr_claim_watch(int fd)
{
	_Atomic unsigned char *f = atomic_load(&fresh);

	if (fd < 0 || fd >= MAX_FRESH)
		return;
	if (!f) {
		_Atomic unsigned char *n = calloc(MAX_FRESH, 1), *none = NULL;
		if (!n)
			return;
		if (!atomic_compare_exchange_strong(&fresh, &none, n))
			free(n);
		f = atomic_load(&fresh);
	}
	if (!atomic_exchange(&f[fd], 1))
		atomic_fetch_add(&nfresh, 1);
}

/* The server name of a TLS ClientHello record in p (n bytes), into name:
 * 0, or -1 (not one, or none named). */
static int client_hello_sni(const unsigned char *p, size_t n, char *name, size_t cap)
{
	size_t i, end, el, l;

	if (n < 43 || p[0] != 0x16 || p[1] != 3 || p[5] != 1)
		return -1;
	end = 5 + ((size_t)p[3] << 8 | p[4]);
	if (end > n)
		end = n; /* the first slice: enough for the name in practice */
	i = 5 + 4 + 2 + 32;                                /* header, version, random */
	if (i >= end || (i += 1 + p[i]) + 2 > end)         /* session id */
		return -1;
	i += 2 + ((size_t)p[i] << 8 | p[i + 1]);           /* cipher suites */
	if (i >= end || (i += 1 + p[i]) + 2 > end)         /* compression methods */
		return -1;
	i += 2;                                            /* extensions' length */
	while (i + 4 <= end) {
		el = (size_t)p[i + 2] << 8 | p[i + 3];
		if (p[i] == 0 && p[i + 1] == 0 && i + 9 <= end && p[i + 6] == 0) { /* server_name, host_name */
			l = (size_t)p[i + 7] << 8 | p[i + 8];
			if (i + 9 + l > end || l == 0 || l >= cap)
				return -1;
			memcpy(name, p + i + 9, l);
			name[l] = 0;
			return 0;
		}
		i += 4 + el;
	}
	return -1;
}

/* The first bytes the app sends itself on a connection to port 443. */
static void first_bytes(int fd, const void *p, size_t n)
{
	static _Atomic int said;
	_Atomic unsigned char *f = atomic_load(&fresh);
	const lr_table *t;
	lr_stats_seg *seg;
	lr_stats_delta one = {1, 0, 0, 0, 0, 0, 0, 0};
	char host[256];
	int llm;

	if (!f || fd < 0 || fd >= MAX_FRESH || !atomic_exchange(&f[fd], 0))
		return;
	atomic_fetch_sub(&nfresh, 1);
	/* OpenSSL's records, written inside the app's call to our hooks, are reached */
	if (!p || lr_ssl_inside() || client_hello_sni(p, n, host, sizeof(host)) < 0)
		return;
	t = lr_view_acquire();
	llm = lr_detect_api_host(host, strlen(host)) || lr_match_names_host(t, host, strlen(host));
	lr_view_release(t);
	if (!llm)
		return;
	if ((seg = lr_rec_stats()))
		lr_stats_add(seg, LR_STATS_UNREACHED, host, &one);
	if (!atomic_exchange(&said, 1))
		lr_log(LR_LOG_ERROR, "this program speaks TLS to %s with a TLS library the shim does not hook "
		       "(not the system OpenSSL): its requests are not routed, denied or audited; run it with "
		       "`llmroute --intercept` (docs/ca.md), or through libcurl or the system OpenSSL", host);
}

int lr_claim_of(int fd, char *host, char *route, char *peer)
{
	claim c;

	if (state_of(fd, &c) != C_CLAIMED)
		return 0;
	if (host)
		memcpy(host, c.host, sizeof(c.host));
	if (route)
		memcpy(route, c.route, sizeof(c.route));
	if (peer)
		memcpy(peer, c.peer, sizeof(c.peer));
	return 1;
}

/* fd is no longer watched for its first bytes. */
static void unwatch(int fd)
{
	_Atomic unsigned char *f = atomic_load(&fresh);

	if (f && fd >= 0 && fd < MAX_FRESH && atomic_exchange(&f[fd], 0))
		atomic_fetch_sub(&nfresh, 1);
}

void lr_claim_forget(int fd)
{
	if (atomic_load(&nfresh)) /* closed before it sent a byte */
		unwatch(fd);
	if (atomic_load(&nclaims))
		drop(take(fd));
}

void lr_claim_forget_range(unsigned first, unsigned last)
{
	claim *c, *tmp, *gone = NULL;
	unsigned fd;

	for (fd = first; atomic_load(&nfresh) && fd <= last && fd < MAX_FRESH; fd++)
		unwatch((int)fd);
	if (!atomic_load(&nclaims))
		return;
	pthread_mutex_lock(&mu);
	HASH_ITER(hh, claims, c, tmp) {
		if ((unsigned)c->fd >= first && (unsigned)c->fd <= last) {
			HASH_DEL(claims, c);
			atomic_fetch_sub(&nclaims, 1);
			if (c->state == C_CLAIMED && !c->done)
				atomic_fetch_sub(&nbio, 1);
			c->hh.next = gone; /* a list of the taken, freed outside the lock */
			gone = c;
		}
	}
	pthread_mutex_unlock(&mu);
	while (gone) {
		c = gone;
		gone = c->hh.next;
		drop(c);
	}
}

void lr_claim_shut(int fd)
{
	claim *c;
	int srv = -1;

	if (!atomic_load(&nclaims))
		return;
	pthread_mutex_lock(&mu);
	HASH_FIND_INT(claims, &fd, c);
	if (c && c->srv >= 0) {
		srv = c->srv;
		c->srv = -1;
	}
	pthread_mutex_unlock(&mu);
	if (srv >= 0)
		lr_upfd_release(srv);
}

/* A session to the real host under a claimed name would fail to verify:
 * the CA is trusted only while such a claim waits. */
int lr_claim_trust(void *ssl)
{
	const char *name;
	claim *c, *tmp;
	int hit = 0;

	if (!atomic_load(&nbio) || !O.in_init(ssl) || !(name = O.servername(ssl, 0 /* TLSEXT_NAMETYPE_host_name */)))
		return 0;
	pthread_mutex_lock(&mu);
	HASH_ITER(hh, claims, c, tmp) {
		if (c->state == C_CLAIMED && !c->done && strcasecmp(c->host, name) == 0) {
			hit = 1;
			break;
		}
	}
	pthread_mutex_unlock(&mu);
	if (hit)
		O.ctrl(ssl, SSL_CTRL_SET_VERIFY_CERT_STORE, 1, ca_store);
	return hit;
}

int lr_claim_raw(int fd, const void *p, size_t n)
{
	char host[256], route[128], peer[64];
	claim *c;
	SSL_CTX *ctx;
	int srv = -1, rc;

	if (atomic_load(&nfresh))
		first_bytes(fd, p, n);
	if (!atomic_load(&nclaims))
		return 0;
	pthread_mutex_lock(&mu);
	HASH_FIND_INT(claims, &fd, c);
	if (c && c->state == C_CLAIMED && !c->done && c->srv >= 0) {
		c->done = 1; /* the app's own TLS on its socket: our endpoint's from now on */
		atomic_fetch_sub(&nbio, 1);
		srv = c->srv;
		c->srv = -1;
		memcpy(host, c->host, sizeof(host));
		memcpy(route, c->route, sizeof(route));
		memcpy(peer, c->peer, sizeof(peer));
	}
	pthread_mutex_unlock(&mu);
	if (srv < 0)
		return 0;
	if (!(ctx = server_ctx(host))) {
		lr_upfd_release(srv);
		return 0;
	}
	rc = lr_tlsend_adopt(srv, ctx, host, route, peer) == 0; /* its session holds its own reference */
	O.ctx_free(ctx);
	return rc;
}

/* --- the handshake ------------------------------------------------------------------ */

static int nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl);
	return fl;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One step of one side: 1 done, 0 wants more, -1 failed. */
static int step(SSL *s, int *done)
{
	int r, err;

	if (*done)
		return 1;
	r = O.do_handshake(s);
	if (r == 1)
		return *done = 1;
	err = O.get_error(s, r);
	return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/* Runs both sides until both are done.  0, or -1 (*why says which side). */
static int pump(SSL *app, SSL *srv, int fd, int sfd, const char **why)
{
	long long end = now_ms() + HANDSHAKE_MS;
	int cd = 0, sd = 0, a, b;

	for (;;) {
		if ((a = step(app, &cd)) < 0) { /* its errors stay queued: they are what the app reports */
			*why = "the app's side of the handshake failed";
			return -1;
		}
		/* the thread's error queue is the app's: nothing of our side's may stay in it */
		O.err_mark();
		b = step(srv, &sd);
		O.err_pop_mark();
		if (b < 0) {
			*why = "the shim's side of the handshake failed";
			return -1;
		}
		if (cd && sd)
			return 0;
		if (now_ms() > end) {
			*why = "timed out";
			return -1;
		}
		struct pollfd pf[2] = {{.fd = fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		poll(pf, 2, 5);
	}
}

int lr_claim_handshake(void *ssl, int fd, int connect_state)
{
	char host[256];
	const char *why = "";
	SSL *srv = NULL;
	SSL_CTX *ctx = NULL;
	claim *c;
	int sfd = -1, fl, sfl, rc;

	if (fd < 0 || !atomic_load(&nbio))
		return 0;
	pthread_mutex_lock(&mu);
	HASH_FIND_INT(claims, &fd, c);
	if (c && c->state == C_CLAIMED && !c->done) {
		c->done = 1; /* one try: a second call goes to OpenSSL, which says how the first ended */
		atomic_fetch_sub(&nbio, 1);
		sfd = c->srv;
		memcpy(host, c->host, sizeof(host));
	}
	pthread_mutex_unlock(&mu);
	if (sfd < 0)
		return 0;
	if (connect_state)
		O.connect_state(ssl);
	if (!(ctx = server_ctx(host)) || !(srv = O.ssl_new(ctx)) || !O.set_fd(srv, sfd)) {
		why = "no server session";
		rc = -1;
	} else {
		O.accept_state(srv);
		/* the app's trust for this session: our CA, for the certificate we present */
		O.ctrl(ssl, SSL_CTRL_SET_VERIFY_CERT_STORE, 1, ca_store);
		fl = nonblock(fd, 1);
		sfl = nonblock(sfd, 1);
		rc = pump(ssl, srv, fd, sfd, &why);
		if (fl >= 0)
			fcntl(fd, F_SETFL, fl);
		if (sfl >= 0)
			fcntl(sfd, F_SETFL, sfl);
	}
	if (srv)
		O.ssl_free(srv);
	if (ctx)
		O.ctx_free(ctx);
	if (rc == 0) {
		O.err_clear();
		lr_log(LR_LOG_DEBUG, "connection %d: TLS handshake for %s completed by the shim", fd, host);
		return 1;
	}
	lr_log(LR_LOG_ERROR, "connection %d to %s: the claimed handshake failed (%s): the app sees a TLS error "
	       "(does it pin the server's certificate?)", fd, host, why);
	lr_claim_shut(fd);
	return -1;
}

void lr_claim_atfork(int phase)
{
	lr_fork_mutex(&mu, phase);
	lr_fork_mutex(&mint_mu, phase);
	lr_tlsend_atfork(phase);
}
