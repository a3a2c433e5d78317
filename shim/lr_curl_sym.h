/*
 * lr_curl_sym.h - the real libcurl functions, however libcurl was loaded.
 *
 * A process may hold more than one libcurl (libcurl.so.4 for the curl tool
 * or the app, libcurl-gnutls.so.4 for Python's pycurl), loaded at start-up
 * or later by dlopen(RTLD_LOCAL), where dlsym(RTLD_NEXT) finds nothing.  So
 * the shim keeps a small registry of the libcurls it has seen, found by
 * walking the loaded objects, each with its own function pointers, and
 * calls into the one that created a handle (lr_curl_lib_for_caller() for
 * handle-creating calls).  Nothing here links libcurl: a process that never
 * loaded it costs one walk of its loaded objects, once.
 */
#ifndef LR_CURL_SYM_H
#define LR_CURL_SYM_H
#include <curl/curl.h>
#include <stdint.h>

#define LR_CURL_MAX_LIBS 4

typedef struct {
	void *handle;  /* dlopen(RTLD_NOLOAD) handle, never closed; NULL when the
	                * symbols came through RTLD_NEXT (load_syms_next) */
	void *base;    /* load address, to recognize calls from libcurl itself */
	uintptr_t lo, hi; /* its mapped range */
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURL *(*easy_duphandle)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned, int, int *);
	CURLMcode (*multi_wait)(CURLM *, struct curl_waitfd *, unsigned, int, int *);
	CURLMcode (*multi_timeout)(CURLM *, long *);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
} lr_curl_lib;

/* The library that code at `caller` (a return address) binds curl_* to.
 * Returns NULL when no libcurl is loaded.  Never returns our own hooks. */
const lr_curl_lib *lr_curl_lib_for_caller(const void *caller);

/* Is `caller` (a return address) inside a libcurl?  Then libcurl is
 * calling its own API (DoH probes, connection upkeep): not the app. */
int lr_curl_is_internal(const void *caller);

/* The library at index i of the registry, or NULL. */
const lr_curl_lib *lr_curl_lib_at(int i);

/* 1 if the code at `caller` belongs to any libcurl (registered or not:
 * falls back to dladdr, about a microsecond).  The socket and TLS hooks
 * leave libcurl's own traffic to the libcurl hooks. */
int lr_caller_is_curl(const void *caller);

/* Index of lib in the registry. */
int lr_curl_lib_index(const lr_curl_lib *lib);

/* Forget what was scanned: new objects were loaded (our dlopen hook). */
void lr_curl_sym_invalidate(void);

#endif
