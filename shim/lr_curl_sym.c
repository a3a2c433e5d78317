/*
 * lr_curl_sym.c - registry of loaded libcurls (see lr_curl_sym.h).
 *
 * Scanning walks dl_iterate_phdr for objects named libcurl*, takes a
 * RTLD_NOLOAD handle on each and looks up every function we forward to with
 * dlsym on that handle (so RTLD_LOCAL libraries work); the libcurl in the
 * global scope is read through RTLD_NEXT instead, which costs far less.  A symbol that turns
 * out to be our own hook is rejected: that would loop forever.
 *
 * With one libcurl (the usual case) every call goes to it.  With several,
 * the caller's object decides: libcurl calling itself stays in itself; any
 * other object gets what dlsym() on its own handle resolves, which is the
 * libcurl in its dependency scope; the main program's scope falls back to
 * the first library found.  Answers are cached per calling object.
 */
#include "lr_curl_sym.h"
#include "lr_fork.h"
#include "lr_log.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define CALLER_CACHE 16

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static lr_curl_lib libs[LR_CURL_MAX_LIBS];
static _Atomic int nlibs;
static _Atomic int scanned;
static struct {
	const void *base;
	int lib;
} cache[CALLER_CACHE];
static int ncache;

/* Our own address range, to reject symbols that resolve back to us. */
static int is_ours(const void *p)
{
	Dl_info a, b;

	return p && dladdr(p, &a) && dladdr((void *)is_ours, &b) &&
	       a.dli_fbase == b.dli_fbase;
}

#define LOAD(lib, field, name)                                          \
	do {                                                            \
		void *p_ = dlsym((lib)->handle, name);                  \
		if (is_ours(p_))                                        \
			p_ = NULL;                                      \
		memcpy(&(lib)->field, &p_, sizeof(p_));                 \
	} while (0)

static void load_syms(lr_curl_lib *l)
{
	LOAD(l, easy_init, "curl_easy_init");
	LOAD(l, easy_setopt, "curl_easy_setopt");
	LOAD(l, easy_perform, "curl_easy_perform");
	LOAD(l, easy_cleanup, "curl_easy_cleanup");
	LOAD(l, easy_reset, "curl_easy_reset");
	LOAD(l, easy_duphandle, "curl_easy_duphandle");
	LOAD(l, easy_getinfo, "curl_easy_getinfo");
	LOAD(l, multi_add_handle, "curl_multi_add_handle");
	LOAD(l, multi_remove_handle, "curl_multi_remove_handle");
	LOAD(l, multi_info_read, "curl_multi_info_read");
	LOAD(l, multi_cleanup, "curl_multi_cleanup");
	LOAD(l, multi_perform, "curl_multi_perform");
	LOAD(l, multi_poll, "curl_multi_poll");
	LOAD(l, multi_wait, "curl_multi_wait");
	LOAD(l, multi_timeout, "curl_multi_timeout");
	LOAD(l, multi_socket_action, "curl_multi_socket_action");
}

#define NEXT(lib, field, name)                                          \
	do {                                                            \
		void *p_ = dlsym(RTLD_NEXT, name);                      \
		if ((uintptr_t)p_ < (lib)->lo || (uintptr_t)p_ >= (lib)->hi) \
			return 0;                                       \
		memcpy(&(lib)->field, &p_, sizeof(p_));                 \
	} while (0)

/*
 * load_syms without a handle, for the libcurl in the global scope (linked
 * by the program: the usual case).  An RTLD_NOLOAD dlopen costs about 0.2M
 * instructions, a fifth of what the library adds to a process's start
 * (issue 19); a symbol found through RTLD_NEXT inside this libcurl's
 * mapping is the one dlsym on its handle gives (its own definition comes
 * first in its own scope).  Returns 1 when every symbol was found so, else
 * 0 and the caller takes the handle's way (l->lo/hi must be set).
 */
static int load_syms_next(lr_curl_lib *l)
{
	NEXT(l, easy_init, "curl_easy_init");
	NEXT(l, easy_setopt, "curl_easy_setopt");
	NEXT(l, easy_perform, "curl_easy_perform");
	NEXT(l, easy_cleanup, "curl_easy_cleanup");
	NEXT(l, easy_reset, "curl_easy_reset");
	NEXT(l, easy_duphandle, "curl_easy_duphandle");
	NEXT(l, easy_getinfo, "curl_easy_getinfo");
	NEXT(l, multi_add_handle, "curl_multi_add_handle");
	NEXT(l, multi_remove_handle, "curl_multi_remove_handle");
	NEXT(l, multi_info_read, "curl_multi_info_read");
	NEXT(l, multi_cleanup, "curl_multi_cleanup");
	NEXT(l, multi_perform, "curl_multi_perform");
	NEXT(l, multi_poll, "curl_multi_poll");
	NEXT(l, multi_wait, "curl_multi_wait");
	NEXT(l, multi_timeout, "curl_multi_timeout");
	NEXT(l, multi_socket_action, "curl_multi_socket_action");
	return 1;
}

static int known_base(const void *base)
{
	int i, n = atomic_load(&nlibs);

	for (i = 0; i < n; i++)
		if (libs[i].base == base)
			return 1;
	return 0;
}

static void set_range(lr_curl_lib *l, const struct dl_phdr_info *info)
{
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	int i;

	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < lo)
			lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
			hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	l->lo = lo;
	l->hi = hi;
}

int lr_curl_is_internal(const void *caller)
{
	uintptr_t a = (uintptr_t)caller;
	int i, n = atomic_load(&nlibs);

	for (i = 0; i < n; i++)
		if (a >= libs[i].lo && a < libs[i].hi)
			return 1;
	return 0;
}

static int scan_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	const char *name = info->dlpi_name, *slash;
	lr_curl_lib *l;
	Dl_info di;
	int n = atomic_load(&nlibs);

	(void)size;
	(void)arg;
	if (!name || !*name || n >= LR_CURL_MAX_LIBS)
		return 0;
	slash = strrchr(name, '/');
	if (strncmp(slash ? slash + 1 : name, "libcurl", 7) != 0)
		return 0;
	l = &libs[n];
	memset(l, 0, sizeof(*l));
	set_range(l, info);
	if (!load_syms_next(l)) {
		l->handle = dlopen(name, RTLD_NOLOAD | RTLD_LAZY);
		if (!l->handle)
			return 0;
		load_syms(l);
	}
	if (!l->easy_setopt || !dladdr((void *)l->easy_setopt, &di) || known_base(di.dli_fbase))
		return 0;
	l->base = di.dli_fbase;
	atomic_store(&nlibs, n + 1);
	lr_log(LR_LOG_DEBUG, "found libcurl %s", name);
	return 0;
}

static void scan_locked(void)
{
	dl_iterate_phdr(scan_one, NULL);
	ncache = 0;
	atomic_store(&scanned, 1);
}

void lr_curl_sym_invalidate(void)
{
	atomic_store(&scanned, 0);
}

const lr_curl_lib *lr_curl_lib_at(int i)
{
	return (i >= 0 && i < atomic_load(&nlibs)) ? &libs[i] : NULL;
}

int lr_curl_lib_index(const lr_curl_lib *lib)
{
	return lib ? (int)(lib - libs) : -1;
}

/* Which registry entry does the object at `base` (file `fname`) bind to? */
static int resolve_caller(const void *base, const char *fname)
{
	int i, n = atomic_load(&nlibs);
	void *h, *p;

	for (i = 0; i < n; i++)
		if (libs[i].base == base)
			return i;
	h = fname && *fname ? dlopen(fname, RTLD_NOLOAD | RTLD_LAZY) : NULL;
	p = h ? dlsym(h, "curl_easy_setopt") : NULL;
	if (h)
		dlclose(h);
	for (i = 0; p && i < n; i++)
		if ((void *)libs[i].easy_setopt == p)
			return i;
	return 0;
}

const lr_curl_lib *lr_curl_lib_for_caller(const void *caller)
{
	Dl_info di;
	int i, idx = 0;

	if (!atomic_load(&scanned) || atomic_load(&nlibs) == 0) {
		pthread_mutex_lock(&mu);
		if (!atomic_load(&scanned) || atomic_load(&nlibs) == 0)
			scan_locked();
		pthread_mutex_unlock(&mu);
	}
	if (atomic_load(&nlibs) <= 1)
		return atomic_load(&nlibs) ? &libs[0] : NULL;
	if (!caller || !dladdr(caller, &di))
		return &libs[0];
	pthread_mutex_lock(&mu);
	for (i = 0; i < ncache; i++)
		if (cache[i].base == di.dli_fbase) {
			idx = cache[i].lib;
			goto out;
		}
	idx = resolve_caller(di.dli_fbase, di.dli_fname);
	if (ncache < CALLER_CACHE) {
		cache[ncache].base = di.dli_fbase;
		cache[ncache++].lib = idx;
	}
out:
	pthread_mutex_unlock(&mu);
	return &libs[idx];
}

int lr_caller_is_curl(const void *caller)
{
	Dl_info di;
	const char *base;

	if (lr_curl_is_internal(caller))
		return 1;
	if (!dladdr(caller, &di) || !di.dli_fname)
		return 0;
	base = strrchr(di.dli_fname, '/');
	return strncmp(base ? base + 1 : di.dli_fname, "libcurl", 7) == 0;
}

void lr_curl_sym_atfork(int phase)
{
	lr_fork_mutex(&mu, phase);
}
