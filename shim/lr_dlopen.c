/*
 * lr_dlopen.c - the dlopen hook: reach libcurl in RTLD_DEEPBIND modules.
 *
 * PHP loads every extension, php-curl included, with RTLD_DEEPBIND: the
 * module binds to libcurl directly and our curl_* hooks are never called.
 * After such a module is loaded we point its GOT entries for the hooked
 * curl_* functions at our hooks (lr_got.h).  Any successful dlopen may also
 * have brought in a libcurl (pycurl's RTLD_LOCAL libcurl-gnutls), so the
 * libcurl registry is told to look again.
 *
 * glibc resolves a bare file name with the RUNPATH of dlopen's caller.  To
 * keep that caller the app's, a bare name is handed on as the last action
 * of the hook (a sibling call at -O2); only names with a '/', where no
 * search happens, are loaded from our frame and then patched.
 */
#include "lr_curl_sym.h"
#include "lr_got.h"
#include "lr_log.h"
#include "lr_shim.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <string.h>

#undef curl_easy_setopt
#undef curl_easy_getinfo

/* The hooks, defined in lr_curl.c. */
extern CURL *curl_easy_init(void);
extern CURLcode curl_easy_setopt(CURL *, CURLoption, ...);
extern CURLcode curl_easy_perform(CURL *);
extern void curl_easy_cleanup(CURL *);
extern void curl_easy_reset(CURL *);
extern CURL *curl_easy_duphandle(CURL *);
extern CURLMcode curl_multi_add_handle(CURLM *, CURL *);
extern CURLMcode curl_multi_remove_handle(CURLM *, CURL *);
extern CURLMsg *curl_multi_info_read(CURLM *, int *);
extern CURLcode curl_easy_getinfo(CURL *, CURLINFO, ...);
extern CURLMcode curl_multi_perform(CURLM *, int *);
extern CURLMcode curl_multi_poll(CURLM *, struct curl_waitfd[], unsigned, int, int *);
extern CURLMcode curl_multi_wait(CURLM *, struct curl_waitfd[], unsigned, int, int *);
extern CURLMcode curl_multi_timeout(CURLM *, long *);
extern CURLMcode curl_multi_cleanup(CURLM *);
extern CURLMcode curl_multi_socket_action(CURLM *, curl_socket_t, int, int *);

static void *(*real_dlopen)(const char *, int);
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void resolve(void)
{
	void *p = dlsym(RTLD_NEXT, "dlopen");

	memcpy(&real_dlopen, &p, sizeof(p));
}

static void patch_deepbind(void)
{
	const lr_got_hook hooks[] = {
		{"curl_easy_init", (void *)curl_easy_init},
		{"curl_easy_setopt", (void *)curl_easy_setopt},
		{"curl_easy_perform", (void *)curl_easy_perform},
		{"curl_easy_cleanup", (void *)curl_easy_cleanup},
		{"curl_easy_reset", (void *)curl_easy_reset},
		{"curl_easy_duphandle", (void *)curl_easy_duphandle},
		{"curl_multi_add_handle", (void *)curl_multi_add_handle},
		{"curl_multi_remove_handle", (void *)curl_multi_remove_handle},
		{"curl_multi_info_read", (void *)curl_multi_info_read},
		{"curl_easy_getinfo", (void *)curl_easy_getinfo},
		{"curl_multi_perform", (void *)curl_multi_perform},
		{"curl_multi_poll", (void *)curl_multi_poll},
		{"curl_multi_wait", (void *)curl_multi_wait},
		{"curl_multi_timeout", (void *)curl_multi_timeout},
		{"curl_multi_cleanup", (void *)curl_multi_cleanup},
		{"curl_multi_socket_action", (void *)curl_multi_socket_action},
	};
	int n = lr_got_patch_all(hooks, sizeof(hooks) / sizeof(hooks[0]), (void *)patch_deepbind);

	if (n > 0)
		lr_log(LR_LOG_DEBUG, "patched %d libcurl imports of RTLD_DEEPBIND modules", n);
	else if (n < 0)
		lr_log(LR_LOG_DEBUG, "cannot patch RTLD_DEEPBIND modules: %d", n);
}

LR_EXPORT void *dlopen(const char *file, int mode)
{
	void *h;
	int saved;

	pthread_once(&once, resolve);
	if (!real_dlopen)
		return NULL;
	/* A no-load lookup (ours among them) loads nothing new. */
	if (!(mode & RTLD_NOLOAD))
		lr_curl_sym_invalidate(); /* before the load: it may be the last act */
	if (!file || !strchr(file, '/') || lr_disabled())
		return real_dlopen(file, mode);
	h = real_dlopen(file, mode);
	if (!h)
		return h;
	saved = errno;
	if (mode & RTLD_DEEPBIND)
		patch_deepbind();
	errno = saved;
	return h;
}
