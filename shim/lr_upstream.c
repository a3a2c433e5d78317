/*
 * lr_upstream.c - the shim's own upstream HTTP client (see lr_upstream.h).
 *
 * Threading.  One thread per process, started by the first lr_up_start
 * with every signal blocked (it is created with the caller's mask set to
 * all-blocked, and keeps it; libcurl's resolver threads inherit it), runs
 * one curl multi handle for its whole life at lr_depth 1.  Other threads
 * only touch the state under S.mu: they queue new requests and
 * cancellations and wake the thread through our own eventfd
 * (lr_upstream_fd.c), on which it waits with curl_multi_wait next to
 * libcurl's sockets and the descriptors of paused sinks.  Not
 * curl_multi_poll/curl_multi_wakeup: libcurl's wake-up socketpair cannot be
 * moved when an app dup2()s onto its number, ours can; libcurl never
 * touches its own pair when curl_multi_poll is not used.
 *
 * Lifetime.  A request lives in a hash by id (the handle the caller gets:
 * ids are never reused, so a late lr_up_cancel finds nothing instead of
 * another request).  Before each sink callback the thread marks it "in a
 * callback" under S.mu unless it was cancelled, so a cancel that returns
 * 1 has seen no callback in progress and none will start.  Cancelled
 * requests are taken apart by the thread (libcurl handles belong to it);
 * finished ones are freed after done() returns.
 *
 * Trust and reuse.  Each distinct X509_STORE (by pointer, with a reference
 * held so the pointer cannot be reused for another store), and the default
 * trust, has its own curl share handle holding the connection cache and
 * the TLS session cache.  A connection or TLS session verified against one
 * store is therefore never reused for a request verified against another,
 * while requests with the same store reuse connections and multiplex over
 * HTTP/2 (CURLOPT_PIPEWAIT); the multi handle's own connection cache is
 * never used.  Idle groups beyond MAX_IDLE_GROUPS are dropped, oldest
 * first (their connections closed, the store reference given back).  The
 * store is applied with a certificate-verify callback that runs
 * X509_verify_cert against the app's store alone (SSL_CTX_set_cert_
 * verify_callback, from CURLOPT_SSL_CTX_FUNCTION), never by installing the
 * store in libcurl's SSL_CTX: libcurl 7.87+ sets its CA store up after
 * that callback and would load the system CAs into the app's store
 * (widening the app's own trust too) or swap in its cached default store.
 * libcurl still checks the host name itself.  A store is refused (the
 * request fails LR_OUT_TRANSPORT, saying why) when libcurl's TLS is not
 * OpenSSL or when more than one libcrypto is loaded (the store may belong
 * to another one).  With an HTTPS proxy from the environment, the proxy's
 * certificate is checked against the same store.
 *
 * Fork and exit.  The fork handler parks the thread at the top of its loop
 * (outside libcurl, OpenSSL and every lock) before the fork and lets it go
 * after; the child forgets everything (lr_up_atfork).  At exit the thread
 * is parked for good before OpenSSL's own atexit cleanup runs (our handler
 * is registered after libcurl initialised OpenSSL, so it runs first), so
 * the process never dies of a TLS read racing OpenSSL's teardown.
 */
#include "lr_upstream.h"
#include "lr_upstream_fd.h"
#include "lr_curl_sym.h"
#include "lr_fork.h"
#include "lr_log.h"
#include "lr_shim.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uthash.h>

#define MAX_HEAD (256u << 10)     /* an answer head larger than this is refused */
#define MAX_IDLE_GROUPS 8         /* trust groups kept with nothing in flight */
#define MAX_SPARE 8               /* easy handles kept for reuse per group */
#define MAX_HOLD (16u << 20)      /* HTTP/2 body bytes held for a paused sink */
#define PARK_WAIT_MS 2000         /* fork waits at most this long for the thread */
#define EXIT_WAIT_MS 1000
#define IDLE_WAIT_MS 60000
#define X509_V_ERR_UNSPECIFIED 1

/* --- libcurl, loaded at run time ---------------------------------------------- */

static struct {
	int ok;                       /* every function below is there */
	int openssl;                  /* libcurl's TLS is OpenSSL, with what a store needs */
	int err_saved;                /* the error-queue functions below are there */
	int multiplex;                /* HTTP/2 streams may share a connection */
	void *h;                      /* dlopen handle, never closed */
	const void *base;             /* its load address */
	CURLcode (*global_init)(long);
	curl_version_info_data *(*version_info)(CURLversion);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_pause)(CURL *, int);
	const char *(*easy_strerror)(CURLcode);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_wait)(CURLM *, struct curl_waitfd *, unsigned, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLSH *(*share_init)(void);
	CURLSHcode (*share_setopt)(CURLSH *, CURLSHoption, ...);
	CURLSHcode (*share_cleanup)(CURLSH *);
	/* OpenSSL, from libcurl's own scope (void * for its types) */
	void (*set_verify_cb)(void *, int (*)(void *, void *), void *);
	int (*store_up_ref)(void *);
	void (*store_free)(void *);
	void *(*sctx_new)(void);
	int (*sctx_init)(void *, void *, void *, void *);
	void *(*sctx_get0_cert)(void *);
	void *(*sctx_get0_untrusted)(void *);
	int (*sctx_set_default)(void *, const char *);
	/* OpenSSL 3: an app thread's lead saves its error queue and puts it back
	 * (libcurl clears the queue before its calls, marks included) */
	unsigned long (*err_get_all)(const char **, int *, const char **, const char **, int *);
	void (*err_new)(void);
	void (*err_set_debug)(const char *, int, const char *);
	void (*err_set_error)(int, int, const char *, ...);
	int (*verify_cert)(void *);
	int (*sctx_get_error)(void *);
	void (*sctx_set_error)(void *, int);
	int (*sctx_get_error_depth)(void *);
	void (*sctx_set_error_depth)(void *, int);
	void (*sctx_free)(void *);
} C;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;

/* dlsym on libcurl's handle, refusing anything of our own object. */
static void *sym(const char *name)
{
	Dl_info a, b;
	void *p = dlsym(C.h, name);

	if (p && dladdr(p, &a) && dladdr((void *)sym, &b) && a.dli_fbase == b.dli_fbase)
		return NULL;
	return p;
}

#define SYM(f, name) (*(void **)&C.f = sym(name), C.f != NULL)

static int load_curl(void)
{
	return SYM(global_init, "curl_global_init") & SYM(version_info, "curl_version_info") &
	       SYM(easy_init, "curl_easy_init") & SYM(easy_setopt, "curl_easy_setopt") &
	       SYM(easy_getinfo, "curl_easy_getinfo") & SYM(easy_cleanup, "curl_easy_cleanup") & SYM(easy_reset, "curl_easy_reset") &
	       SYM(easy_pause, "curl_easy_pause") & SYM(easy_strerror, "curl_easy_strerror") &
	       SYM(multi_init, "curl_multi_init") & SYM(multi_setopt, "curl_multi_setopt") &
	       SYM(multi_add_handle, "curl_multi_add_handle") &
	       SYM(multi_remove_handle, "curl_multi_remove_handle") &
	       SYM(multi_perform, "curl_multi_perform") & SYM(multi_wait, "curl_multi_wait") &
	       SYM(multi_info_read, "curl_multi_info_read") & SYM(slist_append, "curl_slist_append") &
	       SYM(slist_free_all, "curl_slist_free_all") & SYM(share_init, "curl_share_init") &
	       SYM(share_setopt, "curl_share_setopt") & SYM(share_cleanup, "curl_share_cleanup");
}

static int load_openssl(void)
{
	const curl_version_info_data *v = C.version_info(CURLVERSION_NOW);

	if (!v || !v->ssl_version || strncmp(v->ssl_version, "OpenSSL/", 8) != 0)
		return 0;
	C.err_saved = SYM(err_get_all, "ERR_get_error_all") & SYM(err_new, "ERR_new") &
		      SYM(err_set_debug, "ERR_set_debug") & SYM(err_set_error, "ERR_set_error");
	return SYM(set_verify_cb, "SSL_CTX_set_cert_verify_callback") & SYM(store_up_ref, "X509_STORE_up_ref") &
	       SYM(store_free, "X509_STORE_free") & SYM(sctx_new, "X509_STORE_CTX_new") &
	       SYM(sctx_init, "X509_STORE_CTX_init") & SYM(sctx_get0_cert, "X509_STORE_CTX_get0_cert") &
	       SYM(sctx_get0_untrusted, "X509_STORE_CTX_get0_untrusted") &
	       SYM(sctx_set_default, "X509_STORE_CTX_set_default") & SYM(verify_cert, "X509_verify_cert") &
	       SYM(sctx_get_error, "X509_STORE_CTX_get_error") & SYM(sctx_set_error, "X509_STORE_CTX_set_error") &
	       SYM(sctx_get_error_depth, "X509_STORE_CTX_get_error_depth") &
	       SYM(sctx_set_error_depth, "X509_STORE_CTX_set_error_depth") & SYM(sctx_free, "X509_STORE_CTX_free");
}

static _Atomic int ssl_before = -1; /* libssl was in the process before libcurl (-1: not loaded yet) */

static void load(void)
{
	Dl_info di;
	void *ssl = dlopen("libssl.so.3", RTLD_NOLOAD | RTLD_LAZY);

	atomic_store(&ssl_before, ssl != NULL);
	if (ssl)
		dlclose(ssl);
	C.h = dlopen("libcurl.so.4", RTLD_LAZY | RTLD_LOCAL);
	if (!C.h) {
		lr_log(LR_LOG_ERROR, "the shim's own client is unavailable: cannot load libcurl.so.4 (%s)", dlerror());
		return;
	}
	lr_curl_sym_invalidate(); /* libcurl's calls to its own API reach our hooks: they must find it */
	if (!load_curl()) {
		lr_log(LR_LOG_ERROR, "the shim's own client is unavailable: libcurl.so.4 lacks a function it needs");
		return;
	}
	C.base = dladdr((void *)C.easy_init, &di) ? di.dli_fbase : NULL;
	C.openssl = load_openssl();
	/* libcurl before 8.4 can stall an HTTP/2 stream for good when several
	 * share a connection (seen with 7.88.1: parallel downloads, no pause
	 * involved): there each request gets a connection of its own (still
	 * HTTP/2, reused one request after another). */
	C.multiplex = C.version_info(CURLVERSION_NOW)->version_num >= 0x080400;
	C.ok = 1;
}

int lr_up_ssl_before(void)
{
	return atomic_load(&ssl_before);
}

int lr_up_available(void)
{
	pthread_once(&load_once, load);
	return C.ok;
}

/* Exactly one libcrypto in the process (libcurl's): then the app's store is
 * one of its.  Cached by the loader's load/unload counters. */
struct crypto_scan {
	unsigned long long adds, subs;
	int n, first, same;
};

static _Atomic unsigned long long crypto_key;
static _Atomic int crypto_one;

static int count_crypto(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct crypto_scan *s = arg;
	const char *name = info->dlpi_name, *slash;

	(void)size;
	if (s->first) {
		s->first = 0;
		s->adds = info->dlpi_adds;
		s->subs = info->dlpi_subs;
		if (atomic_load(&crypto_key) == ((s->adds << 20) ^ s->subs) + 1) {
			s->same = 1;
			return 1;
		}
	}
	slash = name ? strrchr(name, '/') : NULL;
	if (name && strncmp(slash ? slash + 1 : name, "libcrypto.so", 12) == 0)
		s->n++;
	return 0;
}

static int one_crypto(void)
{
	struct crypto_scan s = {.first = 1};

	dl_iterate_phdr(count_crypto, &s);
	if (s.same)
		return atomic_load(&crypto_one);
	atomic_store(&crypto_one, s.n == 1);
	atomic_store(&crypto_key, ((s.adds << 20) ^ s.subs) + 1);
	return s.n == 1;
}

/* --- requests ------------------------------------------------------------------ */

enum { R_NEW, R_WAIT, R_RUN, R_END };

typedef struct group group;

typedef struct req {
	unsigned long long id;
	UT_hash_handle hh;            /* S.reqs */
	struct req *next;             /* S.inq */
	struct req *cnext;            /* S.cancelq */
	/* under S.mu */
	int cancelled, in_cb, done_started;
	/* the client's thread only, from here on */
	lr_up_sink sink;
	void *ud;
	int wait_fd;
	char *url, *body, *method;
	size_t body_len;
	struct curl_slist *hdrs;
	struct curl_slist *connect_to;
	unsigned head_timeout_ms, delay_ms, first_token_ms, idle_ms;
	void *store;                  /* our reference, until its group takes it */
	char refuse[160];             /* why it cannot be sent: done at once */
	group *grp;
	CURL *easy;
	int state;
	int got_head, got_body, paused, stop, big, in_paused;
	int h2, curl_paused;          /* HTTP/2 answer; libcurl itself paused (CURL_WRITEFUNC_PAUSE) */
	char *held;                   /* HTTP/2: what came while the sink was paused */
	size_t held_len, held_cap;
	int end_pending;              /* libcurl finished, held bytes still to deliver */
	CURLcode end_code;
	long status;
	long long t_start, timer_at;
	int heap_i;                   /* in T.heap, or -1 */
	struct req *pprev, *pnext;    /* T.paused */
	struct req *rprev, *rnext;    /* T.running */
	unsigned long conn_key;       /* its connection: local port << 16 | peer port */
	char *hdr;
	size_t hdr_len, hdr_cap;
	lr_up_result res;
} req;

struct group {
	group *next;
	void *store;                  /* a reference, or NULL: the default trust */
	CURLSH *share;                /* its connection and TLS session caches */
	int busy;                     /* requests using it */
	long long idle_since;
	CURL *spare[MAX_SPARE];       /* reset handles on this share, for the next requests */
	int nspare;
};

/* Shared with other threads, under mu. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cond;          /* a callback ended, a request ended, the thread parked */
	int started, broken, exiting;
	int park, parked, waiters;
	int lead;                     /* who drives libcurl (T): LEAD_NONE, LEAD_CLIENT, LEAD_APP */
	int owed;                     /* app threads that queued work and will call lr_up_lead */
	pthread_t tid;
	req *inq, **inq_tail, *cancelq;
	req *reqs;
	unsigned long long next_id;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .lead = 1};

enum { LEAD_NONE, LEAD_CLIENT, LEAD_APP };
#define LEAD_US 2000              /* how long an app's thread drives a request it just sent */

/* An app's thread that may lead (lr_up_lead_arm), and owes a call to
 * lr_up_lead because it queued work the client's thread was not told of. */
static __thread int may_lead, lead_owed;

/* The client's thread's own. */
static struct {
	CURLM *multi;
	group *groups;
	req **heap;
	int nheap, heap_cap;
	req *paused;
	req *running;
	unsigned stolen_seen;
	struct curl_waitfd *wfds;
	struct pollfd *pfds;
	int wcap;
} T;

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int is_token_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int valid_method(const char *m)
{
	size_t i;

	for (i = 0; m && m[i]; i++)
		if (!is_token_char((unsigned char)m[i]) || i >= 32)
			return 0;
	return m && i > 0;
}

static int valid_url(const char *u)
{
	if (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0)
		return 0;
	for (; *u; u++)
		if ((unsigned char)*u <= ' ' || *u == 0x7f)
			return 0;
	return 1;
}

/* Headers the client sets or drops itself. */
static int dropped_header(const char *l, size_t n)
{
	static const char *const names[] = {"host", "content-length", "transfer-encoding", "connection",
					    "keep-alive", "expect", "te", "upgrade", "trailer"};
	size_t i;

	if (n >= 6 && strncasecmp(l, "proxy-", 6) == 0)
		return 1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && strncasecmp(l, names[i], n) == 0)
			return 1;
	return 0;
}

/* One caller line as libcurl takes it: "Name: value", or "Name;" for an
 * empty value ("Name:" alone would remove the header).  NULL to drop. */
static char *header_line(const char *l, int *has_accept, int *has_ctype)
{
	const char *colon = strchr(l, ':'), *v;
	size_t n, i;
	char *out;

	if (!colon || colon == l || strpbrk(l, "\r\n"))
		return NULL;
	n = (size_t)(colon - l);
	for (i = 0; i < n; i++)
		if (!is_token_char((unsigned char)l[i]))
			return NULL;
	if (dropped_header(l, n))
		return NULL;
	*has_accept |= n == 6 && strncasecmp(l, "accept", 6) == 0;
	*has_ctype |= n == 12 && strncasecmp(l, "content-type", 12) == 0;
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (*v)
		return strdup(l);
	if ((out = malloc(n + 2))) {
		memcpy(out, l, n);
		memcpy(out + n, ";", 2);
	}
	return out;
}

static int add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *n = C.slist_append(*list, line);

	if (!n)
		return -1;
	*list = n;
	return 0;
}

/* The header list libcurl sends: the caller's, minus what is dropped, and
 * the defaults libcurl would add switched off. */
static int build_headers(req *x, const lr_up_req *rq)
{
	int i, accept = 0, ctype = 0, bad = 0;
	char *l;

	for (i = 0; i < rq->nheaders && !bad; i++) {
		if (!rq->headers || !rq->headers[i] || !(l = header_line(rq->headers[i], &accept, &ctype)))
			continue;
		bad = add_header(&x->hdrs, l) < 0;
		free(l);
	}
	if (!bad)
		bad = add_header(&x->hdrs, "Expect:") < 0 || (!accept && add_header(&x->hdrs, "Accept:") < 0) ||
		      (!ctype && add_header(&x->hdrs, "Content-Type:") < 0);
	return bad ? -1 : 0;
}

static void req_free(req *x)
{
	if (x->hdrs)
		C.slist_free_all(x->hdrs);
	if (x->connect_to)
		C.slist_free_all(x->connect_to);
	if (x->store)
		C.store_free(x->store);
	free(x->url);
	free(x->body);
	free(x->method);
	free(x->hdr);
	free(x->held);
	free(x);
}

/* Why the app's store cannot be honoured here, or NULL. */
static const char *store_refusal(void)
{
	if (!C.openssl)
		return "the app's TLS trust cannot be applied: the shim's libcurl does not use OpenSSL";
	if (!one_crypto())
		return "the app's TLS trust cannot be applied: more than one OpenSSL is loaded";
	return NULL;
}

static req *req_new(const lr_up_req *rq, const lr_up_sink *s, void *ud, int wait_fd)
{
	req *x = calloc(1, sizeof(*x));
	const char *why;

	if (!x)
		return NULL;
	x->sink = *s;
	x->ud = ud;
	x->wait_fd = wait_fd;
	x->heap_i = -1;
	x->head_timeout_ms = rq->head_timeout_ms;
	x->first_token_ms = rq->first_token_ms;
	x->idle_ms = rq->idle_ms;
	x->delay_ms = rq->delay_ms;
	x->url = strdup(rq->url);
	x->method = strdup(rq->method);
	x->body_len = rq->body ? rq->body_len : 0;
	x->body = x->body_len < ((size_t)1 << 31) ? malloc(x->body_len + 1) : NULL;
	if (!x->url || !x->method || !x->body || build_headers(x, rq) < 0 ||
	    (rq->connect_to && add_header(&x->connect_to, rq->connect_to) < 0)) {
		req_free(x);
		return NULL;
	}
	if (x->body_len)
		memcpy(x->body, rq->body, x->body_len);
	x->body[x->body_len] = '\0';
	if (rq->x509_store) {
		if ((why = store_refusal()))
			snprintf(x->refuse, sizeof(x->refuse), "%s", why);
		else if (C.store_up_ref(rq->x509_store) == 1)
			x->store = rq->x509_store;
		else
			snprintf(x->refuse, sizeof(x->refuse), "the app's TLS trust cannot be applied: no reference");
	}
	return x;
}

/* --- sink callbacks: never after a cancel ----------------------------------------- */

static int cb_enter(req *x)
{
	pthread_mutex_lock(&S.mu);
	if (x->cancelled) {
		pthread_mutex_unlock(&S.mu);
		return 0;
	}
	x->in_cb = 1;
	pthread_mutex_unlock(&S.mu);
	lr_upfd_adopting = 0;
	return 1;
}

static void cb_leave(req *x, int in_curl)
{
	lr_upfd_adopting = in_curl;
	pthread_mutex_lock(&S.mu);
	x->in_cb = 0;
	if (S.waiters)
		pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.mu);
}

/* A libcurl call on the client's thread: socketpairs it makes are ours. */
#define CURLCALL(expr) (lr_upfd_adopting = 1, (expr), lr_upfd_adopting = 0)

/* --- timers: a binary heap by timer_at -------------------------------------------- */

static void heap_swap(int i, int j)
{
	req *t = T.heap[i];

	T.heap[i] = T.heap[j];
	T.heap[j] = t;
	T.heap[i]->heap_i = i;
	T.heap[j]->heap_i = j;
}

static void heap_fix(int i)
{
	int c;

	while (i > 0 && T.heap[(i - 1) / 2]->timer_at > T.heap[i]->timer_at) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		c = 2 * i + 1;
		if (c >= T.nheap)
			break;
		if (c + 1 < T.nheap && T.heap[c + 1]->timer_at < T.heap[c]->timer_at)
			c++;
		if (T.heap[c]->timer_at >= T.heap[i]->timer_at)
			break;
		heap_swap(i, c);
		i = c;
	}
}

static int heap_add(req *x, long long at)
{
	req **h;

	if (T.nheap == T.heap_cap) {
		if (!(h = realloc(T.heap, (size_t)(T.heap_cap ? 2 * T.heap_cap : 64) * sizeof(*h))))
			return -1;
		T.heap = h;
		T.heap_cap = T.heap_cap ? 2 * T.heap_cap : 64;
	}
	x->timer_at = at;
	x->heap_i = T.nheap;
	T.heap[T.nheap++] = x;
	heap_fix(x->heap_i);
	return 0;
}

static void heap_del(req *x)
{
	int i = x->heap_i;

	if (i < 0)
		return;
	x->heap_i = -1;
	if (i != --T.nheap) {
		T.heap[i] = T.heap[T.nheap];
		T.heap[i]->heap_i = i;
		heap_fix(i);
	}
}

/* --- paused sinks ----------------------------------------------------------------- */

static void paused_add(req *x)
{
	if (x->in_paused)
		return;
	x->in_paused = 1;
	x->pprev = NULL;
	x->pnext = T.paused;
	if (T.paused)
		T.paused->pprev = x;
	T.paused = x;
}

static void paused_del(req *x)
{
	if (!x->in_paused)
		return;
	x->in_paused = 0;
	if (x->pprev)
		x->pprev->pnext = x->pnext;
	else
		T.paused = x->pnext;
	if (x->pnext)
		x->pnext->pprev = x->pprev;
}

static void running_add(req *x)
{
	x->rprev = NULL;
	x->rnext = T.running;
	if (T.running)
		T.running->rprev = x;
	T.running = x;
}

static void running_del(req *x)
{
	if (x->rprev)
		x->rprev->rnext = x->rnext;
	else
		T.running = x->rnext;
	if (x->rnext)
		x->rnext->rprev = x->rprev;
	x->rprev = x->rnext = NULL;
}

/* --- trust groups ------------------------------------------------------------------ */

static group *group_new(void *store)
{
	group *g = calloc(1, sizeof(*g));

	if (!g || !(g->share = C.share_init())) {
		free(g);
		return NULL;
	}
	if (C.share_setopt(g->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
	    C.share_setopt(g->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		C.share_cleanup(g->share);
		free(g);
		return NULL;
	}
	g->store = store;
	g->next = T.groups;
	T.groups = g;
	return g;
}

/* x's group, made if new.  The group holds one reference to its store:
 * a new group takes x's, an existing one makes x's redundant. */
static group *group_for(req *x)
{
	group *g;

	for (g = T.groups; g; g = g->next)
		if (g->store == x->store)
			break;
	if (g) {
		if (x->store)
			C.store_free(x->store);
	} else if (!(g = group_new(x->store))) {
		return NULL; /* x keeps its reference, given back with x */
	}
	x->store = NULL;
	g->busy++;
	g->idle_since = 0;
	x->grp = g;
	return g;
}

static void group_trim(void)
{
	group **pp, **oldest;
	int idle;

	for (;;) {
		idle = 0;
		oldest = NULL;
		for (pp = &T.groups; *pp; pp = &(*pp)->next) {
			if ((*pp)->busy || !(*pp)->store)
				continue;
			idle++;
			if (!oldest || (*pp)->idle_since < (*oldest)->idle_since)
				oldest = pp;
		}
		if (idle <= MAX_IDLE_GROUPS || !oldest)
			return;
		group *g = *oldest;
		while (g->nspare > 0)
			CURLCALL(C.easy_cleanup(g->spare[--g->nspare]));
		if (C.share_cleanup(g->share) != CURLSHE_OK)
			return; /* still in use (cannot be): keep it */
		*oldest = g->next;
		C.store_free(g->store);
		free(g);
	}
}

static void group_release(req *x)
{
	group *g = x->grp;

	if (!g)
		return;
	x->grp = NULL;
	if (--g->busy == 0) {
		g->idle_since = now_us();
		group_trim();
	}
}

/* --- libcurl's callbacks ------------------------------------------------------------ */

/* Chain verification against the app's store alone (libcurl then checks
 * the host name).  The error goes where OpenSSL and libcurl look for it. */
static int verify_chain(void *sctx, void *store)
{
	void *v = C.sctx_new();
	int ok = 0;

	if (v && C.sctx_init(v, store, C.sctx_get0_cert(sctx), C.sctx_get0_untrusted(sctx)) == 1) {
		C.sctx_set_default(v, "ssl_server");
		ok = C.verify_cert(v) == 1;
		C.sctx_set_error(sctx, C.sctx_get_error(v));
		C.sctx_set_error_depth(sctx, C.sctx_get_error_depth(v));
	} else {
		C.sctx_set_error(sctx, X509_V_ERR_UNSPECIFIED);
	}
	if (v)
		C.sctx_free(v);
	return ok;
}

static CURLcode on_ssl_ctx(CURL *e, void *ssl_ctx, void *store)
{
	(void)e;
	C.set_verify_cb(ssl_ctx, verify_chain, store);
	return CURLE_OK;
}

static curl_socket_t on_open_socket(void *p, curlsocktype purpose, struct curl_sockaddr *a)
{
	int fd;

	(void)p;
	(void)purpose;
	fd = lr_upfd_socket(a->family, a->socktype, a->protocol);
	return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

static int on_close_socket(void *p, curl_socket_t fd)
{
	(void)p;
	lr_upfd_close_socket(fd);
	return 0;
}

/* A connection is established or reused for x: which one it is. */
static int on_prereq(void *arg, char *peer_ip, char *local_ip, int peer_port, int local_port)
{
	req *x = arg;

	(void)peer_ip;
	(void)local_ip;
	x->conn_key = ((unsigned long)local_port << 16) | (unsigned)peer_port;
	return CURL_PREREQFUNC_OK;
}

static long status_of(const char *line, size_t n)
{
	const char *sp = memchr(line, ' ', n);
	long st = 0;
	int i;

	if (n < 5 || strncmp(line, "HTTP/", 5) != 0 || !sp)
		return 0;
	for (i = 1; i <= 3 && sp + i < line + n && sp[i] >= '0' && sp[i] <= '9'; i++)
		st = st * 10 + (sp[i] - '0');
	return i == 4 ? st : 0;
}

/* The final head is complete: hand it to the sink.  0, or -1 to stop. */
static int head_done(req *x)
{
	const char *eol = memchr(x->hdr, '\n', x->hdr_len), *lines, *end;
	size_t n;
	int r = 0;

	x->got_head = 1;
	x->h2 = x->hdr_len > 6 && strncmp(x->hdr, "HTTP/2", 6) == 0;
	x->res.head_us = now_us() - x->t_start;
	heap_del(x); /* its head timer */
	if (x->first_token_ms && heap_add(x, now_us() + (long long)x->first_token_ms * 1000) < 0)
		x->first_token_ms = 0;
	end = x->hdr + x->hdr_len - (x->hdr_len >= 2 && x->hdr[x->hdr_len - 2] == '\r' ? 2 : 1);
	lines = eol ? eol + 1 : end;
	n = lines < end ? (size_t)(end - lines) : 0;
	if (x->sink.head) {
		if (!cb_enter(x))
			return -1;
		r = x->sink.head(x->ud, x->status, lines, n);
		cb_leave(x, 1);
	}
	free(x->hdr);
	x->hdr = NULL;
	x->hdr_len = x->hdr_cap = 0;
	return r < 0 ? -1 : 0;
}

static size_t on_header(char *p, size_t size, size_t nitems, void *arg)
{
	req *x = arg;
	size_t n = size * nitems, cap;
	char *b;

	if (x->got_head)
		return n; /* trailers are not passed on */
	if (x->hdr_len + n > MAX_HEAD) {
		x->big = 1;
		return 0;
	}
	if (x->hdr_len + n + 1 > x->hdr_cap) {
		cap = x->hdr_cap ? 2 * x->hdr_cap : 1024;
		while (cap < x->hdr_len + n + 1)
			cap *= 2;
		if (!(b = realloc(x->hdr, cap)))
			return 0;
		x->hdr = b;
		x->hdr_cap = cap;
	}
	memcpy(x->hdr + x->hdr_len, p, n);
	x->hdr_len += n;
	if (!(n == 2 && p[0] == '\r' && p[1] == '\n') && !(n == 1 && p[0] == '\n'))
		return n;
	x->status = status_of(x->hdr, x->hdr_len);
	if (x->status >= 100 && x->status < 200) {
		x->hdr_len = 0; /* an interim answer: not the sink's */
		return n;
	}
	if (head_done(x) < 0) {
		x->stop = 1;
		return 0;
	}
	return n;
}

/* The sink is paused and bytes come.  HTTP/1: libcurl keeps them and stops
 * reading the socket (CURL_WRITEFUNC_PAUSE).  HTTP/2: we hold them, up to
 * MAX_HOLD: libcurl 7.88 can stall a paused HTTP/2 stream for good when
 * the rest of its data was already read off the socket, and its stream
 * window (32 MB) means it buffers that much anyway. */
static size_t hold(req *x, const char *p, size_t n)
{
	size_t cap;
	char *b;

	if (!x->h2 || x->held_len + n > MAX_HOLD) {
		x->curl_paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (x->held_len + n > x->held_cap) {
		cap = x->held_cap ? 2 * x->held_cap : 65536;
		while (cap < x->held_len + n)
			cap *= 2;
		if (!(b = realloc(x->held, cap))) {
			x->curl_paused = 1;
			return CURL_WRITEFUNC_PAUSE;
		}
		x->held = b;
		x->held_cap = cap;
	}
	memcpy(x->held + x->held_len, p, n);
	x->held_len += n;
	return n;
}

static size_t on_write(char *p, size_t size, size_t nitems, void *arg)
{
	req *x = arg;
	size_t n = size * nitems;
	int r = 0;

	if (x->paused)
		return hold(x, p, n);
	if (!x->got_head)
		return 0;
	if (n && (!x->got_body || x->idle_ms)) { /* the first-token timer is done, the idle one starts again */
		x->got_body = 1;
		heap_del(x);
		if (x->idle_ms && heap_add(x, now_us() + (long long)x->idle_ms * 1000) < 0)
			x->idle_ms = 0;
	}
	if (x->sink.body) {
		if (!cb_enter(x))
			return 0;
		r = x->sink.body(x->ud, p, n);
		cb_leave(x, 1);
	}
	if (r < 0) {
		x->stop = 1;
		return 0;
	}
	if (r == LR_UP_PAUSE) {
		x->paused = 1;
		paused_add(x);
	}
	return n;
}

/* --- starting and ending -------------------------------------------------------------- */

#define SET(opt, val) (bad |= C.easy_setopt(e, opt, val) != CURLE_OK)

static int set_method(req *x, CURL *e)
{
	int bad = 0, body = x->body_len > 0 || strcmp(x->method, "POST") == 0 ||
			    strcmp(x->method, "PUT") == 0 || strcmp(x->method, "PATCH") == 0;

	if (strcmp(x->method, "HEAD") == 0)
		return C.easy_setopt(e, CURLOPT_NOBODY, 1L) != CURLE_OK;
	if (strcmp(x->method, "GET") == 0 && !body)
		return C.easy_setopt(e, CURLOPT_HTTPGET, 1L) != CURLE_OK;
	if (body) {
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
		SET(CURLOPT_POSTFIELDS, x->body);
	}
	if (strcmp(x->method, "POST") != 0)
		SET(CURLOPT_CUSTOMREQUEST, x->method);
	return bad;
}

static int easy_setup(req *x)
{
	group *g = x->grp;
	CURL *e = g->nspare ? g->spare[--g->nspare] : C.easy_init();
	int bad = 0;

	if (!(x->easy = e))
		return -1;
	SET(CURLOPT_PRIVATE, x);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_URL, x->url);
	if (C.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
		SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	SET(CURLOPT_PIPEWAIT, (long)C.multiplex);
	SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	SET(CURLOPT_HEADEROPT, (long)CURLHEADER_SEPARATE);
	SET(CURLOPT_HTTP_CONTENT_DECODING, 0L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_HTTPHEADER, x->hdrs);
	SET(CURLOPT_CONNECT_TO, x->connect_to); /* NULL clears a spare handle's */
	SET(CURLOPT_ERRORBUFFER, x->res.error);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	SET(CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
	SET(CURLOPT_SHARE, x->grp->share);
	if (x->grp->store) {
		SET(CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
		SET(CURLOPT_SSL_CTX_DATA, x->grp->store);
	}
	bad |= set_method(x, e);
	/* 7.80+: which connection it uses, for when the app takes its socket */
	if (C.easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq) == CURLE_OK)
		C.easy_setopt(e, CURLOPT_PREREQDATA, x);
	return bad ? -1 : 0;
}

/* Detaches x from libcurl and from the thread's lists. */
static void detach(req *x)
{
	heap_del(x);
	paused_del(x);
	if (x->easy) {
		if (x->state == R_RUN) {
			CURLCALL(C.multi_remove_handle(T.multi, x->easy));
			running_del(x);
		}
		/* reset: nothing of x (callbacks, buffers, headers, body) stays in it */
		if (x->grp && x->grp->nspare < MAX_SPARE)
			CURLCALL((C.easy_reset(x->easy), x->grp->spare[x->grp->nspare++] = x->easy));
		else
			CURLCALL(C.easy_cleanup(x->easy));
		x->easy = NULL;
	}
	group_release(x);
	x->state = R_END;
}

/* Frees x: out of the hash first, so a late cancel finds nothing. */
static void req_drop(req *x)
{
	pthread_mutex_lock(&S.mu);
	HASH_DEL(S.reqs, x);
	if (S.waiters)
		pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.mu);
	req_free(x);
}

/* x ended as `fail` (why: our message, or NULL for libcurl's): done(),
 * unless it was cancelled (then the cancel queue frees it). */
static void finish(req *x, int fail, const char *why)
{
	detach(x);
	x->res.fail = fail;
	x->res.status = x->got_head ? x->status : 0;
	x->res.total_us = x->t_start ? now_us() - x->t_start : 0;
	if (fail == LR_OUT_OK)
		x->res.error[0] = '\0';
	else if (why)
		snprintf(x->res.error, sizeof(x->res.error), "%s", why);
	pthread_mutex_lock(&S.mu);
	if (x->cancelled) {
		pthread_mutex_unlock(&S.mu);
		return;
	}
	x->done_started = x->in_cb = 1;
	pthread_mutex_unlock(&S.mu);
	x->sink.done(x->ud, &x->res);
	req_drop(x);
}

static int fail_of(CURLcode c)
{
	switch (c) {
	case CURLE_OK:
		return LR_OUT_OK;
	case CURLE_OUT_OF_MEMORY: case CURLE_FAILED_INIT: case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL: case CURLE_BAD_FUNCTION_ARGUMENT: case CURLE_UNKNOWN_OPTION:
	case CURLE_NOT_BUILT_IN: case CURLE_ABORTED_BY_CALLBACK:
		return c == CURLE_ABORTED_BY_CALLBACK ? LR_OUT_ABORTED : LR_OUT_OTHER;
	default: /* resolve, connect, TLS, send, receive, HTTP/2, a bad or cut answer */
		return LR_OUT_TRANSPORT;
	}
}

/* x's connection and handle go back to libcurl; x waits for its paused
 * sink to take what is held, then ends as `code`. */
static void end_later(req *x, CURLcode code)
{
	int in_paused = x->in_paused;

	x->end_pending = 1;
	x->end_code = code;
	detach(x);
	if (in_paused)
		paused_add(x);
}

/* libcurl says x is over. */
static void ended(req *x, CURLcode code)
{
	if (code == CURLE_OK && x->held_len && !x->stop) {
		end_later(x, code);
	} else if (x->stop) {
		finish(x, LR_OUT_ABORTED, "stopped by the sink");
	} else if (x->big) {
		finish(x, LR_OUT_TRANSPORT, "the answer head is larger than 256 KiB");
	} else {
		if (code != CURLE_OK && !x->res.error[0])
			snprintf(x->res.error, sizeof(x->res.error), "%s", C.easy_strerror(code));
		x->res.transient = code == CURLE_COULDNT_CONNECT || code == CURLE_SEND_ERROR ||
				   code == CURLE_RECV_ERROR || code == CURLE_GOT_NOTHING;
		finish(x, fail_of(code), NULL);
	}
}

/* Into the multi handle now (after its delay). */
static void run(req *x)
{
	x->t_start = now_us();
	if (easy_setup(x) < 0) {
		finish(x, LR_OUT_OTHER, "libcurl refused the request's options");
		return;
	}
	if (C.multi_add_handle(T.multi, x->easy) != CURLM_OK) {
		finish(x, LR_OUT_OTHER, "libcurl refused the request");
		return;
	}
	x->state = R_RUN;
	running_add(x);
	if (x->head_timeout_ms && heap_add(x, x->t_start + (long long)x->head_timeout_ms * 1000) < 0)
		x->head_timeout_ms = 0;
}

static void begin(req *x)
{
	if (x->refuse[0]) {
		finish(x, LR_OUT_TRANSPORT, x->refuse);
		return;
	}
	if (!group_for(x)) {
		finish(x, LR_OUT_OTHER, "no memory for a connection cache");
		return;
	}
	if (x->delay_ms && heap_add(x, now_us() + (long long)x->delay_ms * 1000) == 0) {
		x->state = R_WAIT;
		return;
	}
	run(x);
}

/* Hands the held HTTP/2 bytes to the sink.  Returns its answer. */
static int deliver_held(req *x)
{
	int r = 0;

	if (!x->held_len)
		return 0;
	if (x->sink.body) {
		if (!cb_enter(x))
			return -1;
		r = x->sink.body(x->ud, x->held, x->held_len);
		cb_leave(x, 0);
	}
	x->held_len = 0;
	return r < 0 ? -1 : r;
}

/* A paused sink's descriptor is writable (or broken): ask it, then go on. */
static void drain(req *x, int gone)
{
	CURLcode rc = CURLE_OK;
	int r = 0;

	if (x->sink.drain) {
		if (!cb_enter(x))
			return;
		r = x->sink.drain(x->ud);
		cb_leave(x, 0);
	}
	if (r == 0)
		r = deliver_held(x);
	if (r == LR_UP_PAUSE && !gone)
		return; /* still paused (maybe with fewer bytes held) */
	if (r != 0) {
		x->stop = 1;
		finish(x, LR_OUT_ABORTED, "stopped by the sink");
		return;
	}
	x->paused = 0;
	paused_del(x);
	if (x->end_pending) {
		finish(x, fail_of(x->end_code), NULL);
		return;
	}
	if (x->curl_paused) {
		x->curl_paused = 0;
		CURLCALL(rc = C.easy_pause(x->easy, CURLPAUSE_CONT)); /* may deliver at once */
	}
	if (rc != CURLE_OK)
		finish(x, x->stop ? LR_OUT_ABORTED : LR_OUT_TRANSPORT,
		       x->stop ? "stopped by the sink" : C.easy_strerror(rc));
}

/* --- the thread's loop -------------------------------------------------------------- */

/* Takes what other threads queued: new requests begin, cancelled ones are
 * taken apart (after the new ones: a request can be in both). */
static void take_work(void)
{
	req *in, *cq, *x, *nx;

	pthread_mutex_lock(&S.mu);
	in = S.inq;
	cq = S.cancelq;
	S.inq = NULL;
	S.inq_tail = &S.inq;
	S.cancelq = NULL;
	pthread_mutex_unlock(&S.mu);
	for (x = in; x; x = nx) {
		nx = x->next;
		pthread_mutex_lock(&S.mu);
		int c = x->cancelled;
		pthread_mutex_unlock(&S.mu);
		if (!c)
			begin(x);
	}
	for (x = cq; x; x = nx) {
		nx = x->cnext;
		detach(x);
		req_drop(x);
	}
}

/* The app dup2'ed over sockets of ours: the requests on those connections
 * fail now (one that only waits for its answer would wait for ever). */
static void take_stolen(void)
{
	unsigned long keys[LR_UPFD_NSTOLEN];
	req *x, *nx;
	int n, i;

	T.stolen_seen = lr_upfd_stolen(T.stolen_seen, keys, &n);
	for (x = T.running; x && n; x = nx) {
		nx = x->rnext;
		for (i = 0; i < n; i++)
			if (x->conn_key && x->conn_key == keys[i]) {
				finish(x, LR_OUT_TRANSPORT, "the app took the connection's descriptor");
				break;
			}
	}
}

static void fire_timers(void)
{
	long long now = now_us();
	req *x;

	while (T.nheap && (x = T.heap[0])->timer_at <= now) {
		heap_del(x);
		if (x->state == R_WAIT) {
			run(x);
		} else if (x->state == R_RUN && !x->got_head) {
			char why[64];
			snprintf(why, sizeof(why), "no answer head within %u ms", x->head_timeout_ms);
			x->res.timed_out = LR_TO_HEAD;
			finish(x, LR_OUT_ABORTED, why);
		} else if (x->state == R_RUN && !x->got_body && x->first_token_ms) {
			char why[64];
			snprintf(why, sizeof(why), "no answer body within %u ms of its head", x->first_token_ms);
			x->res.timed_out = LR_TO_FIRST_TOKEN;
			finish(x, LR_OUT_ABORTED, why);
		} else if (x->state == R_RUN && x->got_body && x->idle_ms && (x->paused || x->curl_paused)) {
			heap_add(x, now + (long long)x->idle_ms * 1000); /* the app is slow, not the server */
		} else if (x->state == R_RUN && x->got_body && x->idle_ms) {
			char why[64];
			snprintf(why, sizeof(why), "the answer stopped for %u ms", x->idle_ms);
			x->res.timed_out = LR_TO_IDLE;
			finish(x, LR_OUT_ABORTED, why);
		}
	}
}

static void read_done(void)
{
	CURLMsg *m;
	CURLcode code;
	req *x;
	int left;

	for (;;) {
		CURLCALL(m = C.multi_info_read(T.multi, &left));
		if (!m)
			break;
		if (m->msg != CURLMSG_DONE)
			continue;
		code = m->data.result;
		x = NULL;
		C.easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x)
			ended(x, code);
	}
}

/* The descriptors to wait on besides libcurl's: the wake-up one, then the
 * paused sinks'.  Returns how many. */
static int wait_set(int *no_fd)
{
	int n = 0, need = 1, fd = lr_upfd_wake_fd();
	req *x;

	*no_fd = fd < 0;
	for (x = T.paused; x; x = x->pnext)
		need++;
	if (need > T.wcap) {
		struct curl_waitfd *w = realloc(T.wfds, (size_t)need * 2 * sizeof(*w));
		struct pollfd *p = realloc(T.pfds, (size_t)need * 2 * sizeof(*p));
		if (w)
			T.wfds = w;
		if (p)
			T.pfds = p;
		if (!w || !p)
			return 0;
		T.wcap = need * 2;
	}
	if (fd >= 0)
		T.wfds[n++] = (struct curl_waitfd){.fd = fd, .events = CURL_WAIT_POLLIN};
	for (x = T.paused; x; x = x->pnext) {
		if (x->wait_fd < 0)
			*no_fd = 1;
		else
			T.wfds[n++] = (struct curl_waitfd){.fd = x->wait_fd, .events = CURL_WAIT_POLLOUT};
	}
	return n;
}

static int wait_ms(int no_fd)
{
	long long ms = IDLE_WAIT_MS;

	if (T.nheap)
		ms = (T.heap[0]->timer_at - now_us() + 999) / 1000;
	if (no_fd && ms > 10)
		ms = 10;
	if (lr_upfd_moved() && ms > 1000)
		ms = 1000;
	return ms < 0 ? 0 : (int)ms;
}

/* After the wait: what the paused sinks' descriptors say, exactly (libcurl
 * reports only POLLIN/POLLOUT for extra descriptors, not errors). */
static void after_wait(int nw)
{
	int i, k = 0, woke = nw > 0 && T.wfds[0].fd == lr_upfd_wake_fd() && (T.wfds[0].revents & CURL_WAIT_POLLIN);
	req *x, *nx;

	if (woke)
		lr_upfd_drained();
	for (x = T.paused; x; x = x->pnext)
		if (x->wait_fd >= 0)
			T.pfds[k++] = (struct pollfd){.fd = x->wait_fd, .events = POLLOUT};
	if (k && poll(T.pfds, (nfds_t)k, 0) < 0)
		return;
	for (x = T.paused, i = 0; x; x = nx) {
		nx = x->pnext;
		if (x->wait_fd < 0) {
			drain(x, 0);
			continue;
		}
		short re = T.pfds[i++].revents;
		if (re)
			drain(x, (re & POLLNVAL) != 0);
	}
}

static void (*_Atomic idle_fn)(void);

void lr_up_on_idle(void (*fn)(void))
{
	atomic_store(&idle_fn, fn);
}

/* One pass over everything: what other threads queued, the timers,
 * libcurl, the transfers that ended, and the sinks' idle hook. */
static void pass(void)
{
	void (*idle)(void);
	int running;

	take_work();
	take_stolen();
	fire_timers();
	CURLCALL(C.multi_perform(T.multi, &running));
	read_done();
	if ((idle = atomic_load(&idle_fn)))
		idle();
}

/* Waits for libcurl's sockets, the wake-up descriptor and the paused
 * sinks' descriptors, at most ms (-1: as the timers say). */
static void wait_once(int ms)
{
	int nw, no_fd, w;

	nw = wait_set(&no_fd);
	w = wait_ms(no_fd);
	if (ms >= 0 && ms < w)
		w = ms;
	CURLCALL(C.multi_wait(T.multi, T.wfds, (unsigned)nw, w, NULL));
	after_wait(nw);
}

static int in_flight(void)
{
	return T.running || T.nheap || T.paused;
}

/* The client's thread, before each pass (S.mu not held): stops while fork
 * or exit wants it still, and waits while an app's thread leads or there
 * is nothing to do.  Nothing to do: it lets go of the lead (LEAD_NONE), so
 * that an app's thread that sends a request may drive it itself
 * (lr_up_lead) without waking this one.  Returns with the lead. */
static void client_lead(void)
{
	struct timespec dl;
	int rc;

	pthread_mutex_lock(&S.mu);
	for (;;) {
		if (S.park > 0) {
			S.parked = 1;
			pthread_cond_broadcast(&S.cond);
			pthread_cond_wait(&S.cond, &S.mu);
			continue;
		}
		S.parked = 0;
		if (S.lead == LEAD_CLIENT)
			break;
		/* T is ours to look at while nobody leads */
		if (S.lead == LEAD_NONE && ((S.inq && !S.owed) || S.cancelq || in_flight())) {
			S.lead = LEAD_CLIENT;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += IDLE_WAIT_MS / 1000;
		rc = pthread_cond_clockwait(&S.cond, &S.mu, CLOCK_MONOTONIC, &dl);
		if (rc == ETIMEDOUT && S.lead == LEAD_NONE) {
			S.lead = LEAD_CLIENT; /* a pass now and then: idle connection groups are trimmed */
			break;
		}
	}
	pthread_mutex_unlock(&S.mu);
}

/* After a pass: 1 if the client's thread let go of the lead (nothing in
 * flight, nothing queued). */
static int client_let_go(void)
{
	int gone = 0;

	if (in_flight())
		return 0;
	pthread_mutex_lock(&S.mu);
	if (!S.inq && !S.cancelq && S.park == 0) {
		S.lead = LEAD_NONE;
		gone = 1;
	}
	pthread_mutex_unlock(&S.mu);
	return gone;
}

static void loop(void)
{
	for (;;) {
		client_lead();
		pass();
		if (!client_let_go())
			wait_once(-1);
	}
}

/* --- an app's thread drives its own request --------------------------------------------- */

/* Whether every running transfer has its first body bytes (or waits for
 * the app to read): what the app waits for is in its descriptor. */
static int lead_done(void)
{
	req *x;

	for (x = T.running; x; x = x->rnext)
		if (!x->got_body && !x->paused && !x->curl_paused)
			return 0;
	return 1;
}

static int lead_stop(void)
{
	int stop;

	pthread_mutex_lock(&S.mu);
	stop = S.park > 0 || S.exiting;
	pthread_mutex_unlock(&S.mu);
	return stop;
}

/* The app thread's OpenSSL error queue, taken out for a lead and put
 * back after it (libcurl's calls clear the queue, marks included). */
#define SAVED_ERRS 16
/* ERR_GET_LIB / ERR_GET_REASON of OpenSSL 3 (err.h is not included: the
 * shim builds without OpenSSL's headers for its libcurl half) */
#define ERR_SYSTEM_BIT (1UL << 31)
#define ERR_LIB_OF(c) ((c) & ERR_SYSTEM_BIT ? 2 /* ERR_LIB_SYS */ : (int)(((c) >> 23) & 0xFF))
#define ERR_REASON_OF(c) ((c) & ERR_SYSTEM_BIT ? (int)((c) & 0x7FFFFFFF) : (int)((c) & 0x7FFFFF))

typedef struct {
	unsigned long code;
	char file[96], func[64]; /* copies: the queue's own are freed with its entries */
	char *data;
	int line;
} saved_err;

static int errs_take(saved_err *q)
{
	const char *file, *func, *data;
	int n = 0, line, flags;
	unsigned long code;

	while (n < SAVED_ERRS && (code = C.err_get_all(&file, &line, &func, &data, &flags)) != 0) {
		q[n].code = code;
		q[n].line = line;
		q[n].data = NULL;
		snprintf(q[n].file, sizeof(q[n].file), "%s", file ? file : "");
		snprintf(q[n].func, sizeof(q[n].func), "%s", func ? func : "");
		if (data && (flags & 0x02 /* ERR_TXT_STRING */))
			q[n].data = strdup(data);
		n++;
	}
	return n;
}

static void errs_put_back(saved_err *q, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		C.err_new();
		C.err_set_debug(q[i].file[0] ? q[i].file : NULL, q[i].line, q[i].func[0] ? q[i].func : NULL);
		if (q[i].data)
			C.err_set_error(ERR_LIB_OF(q[i].code), ERR_REASON_OF(q[i].code), "%s", q[i].data);
		else
			C.err_set_error(ERR_LIB_OF(q[i].code), ERR_REASON_OF(q[i].code), NULL);
		free(q[i].data);
	}
}

/* The passes, on the app's thread, as the client's thread would run them:
 * every signal blocked (delivered when the lead ends, at most LEAD_US
 * later; libcurl's resolver threads started now inherit the mask), not
 * cancellable, marked as the shim's own client (lr_up_self: the hooks
 * pass libcurl's calls through), with the thread's errno and OpenSSL
 * error queue as they were. */
static void lead_run(void)
{
	sigset_t all, old;
	int e = errno, cs, self = lr_up_self, nerr = 0;
	long long until = now_us() + LEAD_US, left;
	saved_err q[SAVED_ERRS];

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
	lr_up_self = 1;
	lr_depth++;
	if (C.err_saved)
		nerr = errs_take(q);
	for (;;) {
		pass();
		if (lead_done() || (left = until - now_us()) <= 0 || lead_stop())
			break;
		wait_once((int)((left + 999) / 1000));
	}
	if (C.err_saved) {
		while (C.err_get_all(NULL, NULL, NULL, NULL, NULL) != 0)
			; /* libcurl's own, not the app's */
		errs_put_back(q, nerr);
	}
	lr_depth--;
	lr_up_self = self;
	pthread_setcancelstate(cs, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
}

void lr_up_lead_arm(void)
{
	may_lead = 1;
}

int lr_up_lead_pending(void)
{
	return lead_owed;
}

void lr_up_lead(int app_fd)
{
	int fl, owed = lead_owed, lead = 0;

	may_lead = lead_owed = 0;
	if (!owed)
		return;
	/* a non-blocking app has other things to do than wait in its write */
	fl = app_fd >= 0 ? fcntl(app_fd, F_GETFL) : -1;
	pthread_mutex_lock(&S.mu);
	S.owed--;
	if (S.lead == LEAD_NONE && fl >= 0 && !(fl & O_NONBLOCK) && !S.park && !S.exiting && !S.broken &&
	    (!C.openssl || (C.err_saved && one_crypto()))) {
		S.lead = LEAD_APP;
		lead = 1;
	} else if (S.lead == LEAD_NONE) {
		pthread_cond_broadcast(&S.cond); /* the client's thread takes it */
	}
	fl = S.lead;
	pthread_mutex_unlock(&S.mu);
	if (!lead) {
		if (fl == LEAD_APP)
			lr_upfd_wake(); /* another app's thread leads: its wait sees the queue */
		return;
	}
	lead_run();
	lead = in_flight(); /* T is still ours */
	pthread_mutex_lock(&S.mu);
	S.lead = LEAD_NONE;
	/* the client's thread takes what is left, parkers look again; woken
	 * only then (an idle wake-up per request costs the other CPU) */
	if (lead || S.inq || S.cancelq || S.park)
		pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.mu);
}

/* --- the thread ----------------------------------------------------------------------- */

static void at_exit(void);

static int client_init(void)
{
	static _Atomic int exit_registered;

	if (C.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	/* after libcurl initialised OpenSSL: our handler runs before its cleanup */
	if (!atomic_exchange(&exit_registered, 1))
		atexit(at_exit);
	if (lr_upfd_init(C.base) < 0)
		return -1;
	memset(&T, 0, sizeof(T));
	CURLCALL(T.multi = C.multi_init());
	if (!T.multi)
		return -1;
	C.multi_setopt(T.multi, CURLMOPT_PIPELINING, C.multiplex ? (long)CURLPIPE_MULTIPLEX : (long)CURLPIPE_NOTHING);
	return 0;
}

/* The thread could not start libcurl: what is queued fails, and so does
 * every later lr_up_start.  The thread then ends. */
static void fail_all(void)
{
	req *in, *cq, *x, *nx;
	int c;

	lr_log(LR_LOG_ERROR, "the shim's own client could not start libcurl");
	pthread_mutex_lock(&S.mu);
	S.broken = 1;
	in = S.inq;
	cq = S.cancelq;
	S.inq = S.cancelq = NULL;
	S.inq_tail = &S.inq;
	pthread_mutex_unlock(&S.mu);
	for (x = in; x; x = nx) {
		nx = x->next;
		pthread_mutex_lock(&S.mu);
		c = x->cancelled;
		pthread_mutex_unlock(&S.mu);
		if (!c)
			finish(x, LR_OUT_OTHER, "the shim's own client could not start libcurl");
	}
	for (x = cq; x; x = nx) {
		nx = x->cnext;
		req_drop(x);
	}
}

static void *thread_main(void *arg)
{
	sigset_t all;

	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	lr_depth = 1;
	lr_up_self = 1;
	pthread_setname_np(pthread_self(), "llmroute-up");
	if (client_init() < 0) {
		fail_all();
		return NULL;
	}
	loop();
	return NULL;
}

/* With S.mu held. */
static int start_thread_locked(void)
{
	sigset_t all, old;
	pthread_attr_t at;
	int rc;

	sigfillset(&all);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread starts with every signal blocked */
	rc = pthread_create(&S.tid, &at, thread_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	if (rc != 0) {
		lr_log(LR_LOG_ERROR, "the shim's own client could not start its thread: %s", strerror(rc));
		return -1;
	}
	S.started = 1;
	return 0;
}

static int on_client_thread(void)
{
	return lr_up_self;
}

/* Parks the thread (S.mu held; released while waiting): S.park counts
 * who wants it parked (two threads may fork at once).  1 if this call
 * counted, to be undone by the caller's S.park--. */
static int park_locked(int ms)
{
	struct timespec dl;

	if (!S.started || S.broken || on_client_thread())
		return 0;
	S.park++;
	lr_upfd_wake();                  /* in libcurl's wait */
	pthread_cond_broadcast(&S.cond); /* or idle, in client_lead */
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	while (!S.parked || S.lead == LEAD_APP)
		if (pthread_cond_clockwait(&S.cond, &S.mu, CLOCK_MONOTONIC, &dl) == ETIMEDOUT)
			break;
	if (!S.parked || S.lead == LEAD_APP)
		lr_log(LR_LOG_DEBUG, "upstream client: the thread did not stop within %d ms", ms);
	return 1;
}

static void at_exit(void)
{
	pthread_mutex_lock(&S.mu);
	S.exiting = 1;
	park_locked(EXIT_WAIT_MS); /* and never let go */
	pthread_mutex_unlock(&S.mu);
}

void lr_up_atfork(int phase)
{
	static __thread int counted;

	if (phase == LR_FORK_PREPARE) {
		pthread_mutex_lock(&S.mu);
		counted = park_locked(PARK_WAIT_MS);
	} else if (phase == LR_FORK_PARENT) {
		if (counted && --S.park == 0)
			pthread_cond_broadcast(&S.cond);
		counted = 0;
		pthread_mutex_unlock(&S.mu);
	} else {
		/* one thread, ours: everything of the parent's client is left as it
		 * was (never called again), its descriptors closed */
		pthread_mutex_init(&S.mu, NULL);
		pthread_cond_init(&S.cond, NULL);
		S.started = S.broken = S.park = S.parked = S.waiters = 0;
		S.lead = LEAD_CLIENT; /* a new thread starts with it */
		S.owed = 0;
		counted = 0;
		S.inq = S.cancelq = NULL;
		S.inq_tail = &S.inq;
		S.reqs = NULL;
		memset(&T, 0, sizeof(T));
		lr_upfd_child();
	}
}

/* --- the API ------------------------------------------------------------------------ */

lr_up *lr_up_start(const lr_up_req *rq, const lr_up_sink *s, void *ud, int wait_fd)
{
	unsigned long long id;
	int wake;
	req *x;

	if (!rq || !s || !s->done || !rq->url || !valid_url(rq->url) || !valid_method(rq->method) ||
	    !lr_up_available())
		return NULL;
	if (!(x = req_new(rq, s, ud, wait_fd)))
		return NULL;
	pthread_mutex_lock(&S.mu);
	if (S.exiting || S.broken || (!S.started && start_thread_locked() < 0)) {
		pthread_mutex_unlock(&S.mu);
		req_free(x);
		return NULL;
	}
	id = x->id = ++S.next_id;
	HASH_ADD(hh, S.reqs, id, sizeof(x->id), x);
	if (!S.inq_tail)
		S.inq_tail = &S.inq;
	wake = S.inq == NULL;
	*S.inq_tail = x;
	S.inq_tail = &x->next;
	if (S.lead == LEAD_NONE) { /* the client's thread waits on S.cond, not in libcurl */
		wake = 0;
		if (may_lead && !lr_up_self) {
			S.owed += !lead_owed;
			lead_owed = 1; /* lr_up_lead, soon, on this thread */
		} else {
			pthread_cond_broadcast(&S.cond);
		}
	}
	pthread_mutex_unlock(&S.mu);
	if (wake)
		lr_upfd_wake();
	return (lr_up *)(uintptr_t)id;
}

static req *find_locked(unsigned long long id)
{
	req *x = NULL;

	HASH_FIND(hh, S.reqs, &id, sizeof(id), x);
	return x;
}

int lr_up_cancel(lr_up *h)
{
	unsigned long long id = (uintptr_t)h;
	int self = on_client_thread(), rc = 0;
	req *x;

	if (!h)
		return 0;
	pthread_mutex_lock(&S.mu);
	S.waiters++;
	if (!(x = find_locked(id))) {
		rc = 0;
	} else if (x->done_started) {
		while (!self && find_locked(id)) /* done() is running: it returns first */
			pthread_cond_wait(&S.cond, &S.mu);
	} else {
		rc = 1;
		if (!x->cancelled) {
			x->cancelled = 1;
			x->cnext = S.cancelq;
			S.cancelq = x;
			if (S.lead == LEAD_NONE)
				pthread_cond_broadcast(&S.cond); /* the client's thread is not in libcurl's wait */
		}
		while (!self && (x = find_locked(id)) && x->in_cb)
			pthread_cond_wait(&S.cond, &S.mu);
	}
	S.waiters--;
	pthread_mutex_unlock(&S.mu);
	if (rc)
		lr_upfd_wake();
	return rc;
}
