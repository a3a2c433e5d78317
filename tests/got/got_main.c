/*
 * got_main.c - the driver of tests/t_got.sh for shim/lr_got.c.
 *
 * usage: got_main LIBMOD now|lazy deep|plain
 *
 * LIBMOD calls target_fn/target_late from libtarget.so and takes the address
 * of target_fn.  This program exports its own target_fn (linked -rdynamic),
 * the way a preloaded hook is exported, and imports aux_fn from libaux.so.
 * "deep" loads LIBMOD with RTLD_DEEPBIND, as PHP loads its extensions: the
 * module then binds to libtarget's target_fn and never calls ours, until
 * lr_got_patch rewrites its GOT.  "plain" loads it RTLD_LOCAL (the pycurl
 * way): ours is already called, and only target_late needs patching.  Under AddressSanitizer only
 * "plain" can run: the ASan runtime aborts on RTLD_DEEPBIND by design.
 *
 * Invariant checked throughout: pages that ld.so made read-only (RELRO) are
 * read-only again after every patch.
 */
/* dl_iterate_phdr, dlinfo and struct dl_phdr_info are GNU extensions. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "lr_error.h"
#include "lr_got.h"
#include "lr_test.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define GOT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GOT_ASAN 1
#endif
#endif
#ifndef GOT_ASAN
#define GOT_ASAN 0
#endif

typedef int (*int_fn)(int);

/* The hooks.  target_fn has the library function's name, like the shim's
 * curl_easy_perform; hook_late has its own name. */
int target_fn(int x) { return x + 1000; }
int hook_late(int x) { return x + 2000; }
int hook_aux(int x) { return x + 3000; }

/* This program's own import (from libaux.so, linked in): lr_got_patch_all
 * must leave it alone because we are the caller's "self". */
int aux_fn(int x);
int self_aux(int x) { return aux_fn(x); }

/* Any address inside this program: lr_got_patch_all must leave us alone. */
static const char self_marker;

struct mod {
	struct link_map *lm, *target_lm;
	int_fn call, call_late, twice, real_target, real_late;
	int_fn (*fn_addr)(void);
};

static int load(struct mod *m, const char *path, int flags)
{
	void *h = dlopen(path, flags), *t;

	if (!h) {
		fprintf(stderr, "got_main: dlopen %s: %s\n", path, dlerror());
		return -1;
	}
	t = dlopen("libtarget.so", RTLD_NOW | RTLD_NOLOAD);
	if (!t || dlinfo(h, RTLD_DI_LINKMAP, &m->lm) != 0 || dlinfo(t, RTLD_DI_LINKMAP, &m->target_lm) != 0)
		return -1;
	m->call = (int_fn)dlsym(h, "mod_call");
	m->call_late = (int_fn)dlsym(h, "mod_call_late");
	m->fn_addr = (int_fn (*)(void))dlsym(h, "mod_fn_addr");
	m->twice = (int_fn)dlsym(t, "target_twice");
	m->real_target = (int_fn)dlsym(t, "target_fn");
	m->real_late = (int_fn)dlsym(t, "target_late");
	return m->call && m->call_late && m->fn_addr && m->twice && m->real_target && m->real_late ? 0 : -1;
}

/* The pages ld.so made read-only in the object of `lm`, as it rounds them. */
struct relro_q {
	const struct link_map *lm;
	uintptr_t lo, hi;
};

static int relro_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct relro_q *q = arg;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), dyn = 0, lo = 0, hi = 0;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_DYNAMIC)
			dyn = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_GNU_RELRO) {
			lo = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
			hi = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(page - 1);
		}
	}
	if (info->dlpi_addr != q->lm->l_addr || dyn != (uintptr_t)q->lm->l_ld)
		return 0;
	q->lo = lo;
	q->hi = hi;
	return 1;
}

static struct relro_q relro_of(const struct link_map *lm)
{
	struct relro_q q = { .lm = lm };

	dl_iterate_phdr(relro_cb, &q);
	return q;
}

/* Bytes of [lo, hi) that /proc/self/maps says are writable; -1 on error. */
static long writable_bytes(uintptr_t lo, uintptr_t hi)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], perms[8];
	unsigned long a, b;
	long n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) != 3 || perms[1] != 'w')
			continue;
		if (a < hi && b > lo)
			n += (long)((b < hi ? b : hi) - (a > lo ? a : lo));
	}
	fclose(f);
	return n;
}

/* Whether some pointer-sized word in [lo, hi) holds `v`: after patching, a
 * GOT slot in the RELRO pages does, which proves mprotect was needed. */
static int range_holds(uintptr_t lo, uintptr_t hi, const void *v)
{
	for (uintptr_t p = lo; p + sizeof(void *) <= hi; p += sizeof(void *))
		if (*(void *const *)p == v)
			return 1;
	return 0;
}

static void check_relro_readonly(const struct link_map *lm)
{
	struct relro_q q = relro_of(lm);

	CHECK(q.hi > q.lo);
	CHECK_INT(writable_bytes(q.lo, q.hi), 0);
}

/* glibc on x86_64 rewrites d_ptr in l_ld to absolute addresses: verify, as
 * lr_got relies on telling the two apart. */
static void check_dyn_absolute(const struct link_map *lm)
{
	const char *strtab = NULL;
	size_t strsz = 0;

	for (const ElfW(Dyn) *d = lm->l_ld; d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_STRTAB)
			strtab = (const char *)d->d_un.d_ptr;
		if (d->d_tag == DT_STRSZ)
			strsz = d->d_un.d_val;
	}
	CHECK((uintptr_t)strtab > lm->l_addr);
	CHECK(strtab && memmem(strtab, strsz, "mod_call_late", sizeof("mod_call_late")) != NULL);
}

/* Every object in the process, vdso, ld.so and the main program included,
 * read without a crash and with nothing patched. */
static void check_odd_objects(void)
{
	lr_got_hook none = { "lr_got_no_such_symbol", (void *)hook_late };
	struct link_map *l = NULL;
	int objects = 0;

	CHECK(dlinfo(dlopen(NULL, RTLD_NOW), RTLD_DI_LINKMAP, &l) == 0 && l);
	while (l && l->l_prev)
		l = l->l_prev;
	for (; l; l = l->l_next, objects++)
		CHECK_INT(lr_got_patch(l, &none, 1), 0);
	CHECK(objects >= 4);
	CHECK_INT(lr_got_patch_all(&none, 1, NULL), 0);
}

static void check_bad_args(struct link_map *lm)
{
	lr_got_hook bad = { NULL, (void *)hook_late }, many[LR_GOT_MAX_HOOKS + 1];
	struct link_map fake;

	memset(&fake, 0, sizeof(fake));
	fake.l_addr = 4096;
	fake.l_ld = (ElfW(Dyn) *)&fake;
	for (size_t i = 0; i < LR_GOT_MAX_HOOKS + 1; i++)
		many[i] = (lr_got_hook){ "lr_got_no_such_symbol", (void *)hook_late };
	CHECK_INT(lr_got_patch(NULL, &bad, 0), LR_EINVAL);
	CHECK_INT(lr_got_patch(lm, &bad, 1), LR_EINVAL);
	CHECK_INT(lr_got_patch(lm, NULL, 1), LR_EINVAL);
	CHECK_INT(lr_got_patch(lm, NULL, 0), 0);
	CHECK_INT(lr_got_patch(&fake, many, 1), LR_ENOTFOUND);
	CHECK_INT(lr_got_patch(lm, many, LR_GOT_MAX_HOOKS + 1), 0);
	CHECK_INT(lr_got_patch_all(many, LR_GOT_MAX_HOOKS + 1, NULL), LR_ETOOBIG);
	CHECK_INT(lr_got_patch_all(&bad, 1, NULL), LR_EINVAL);
}

/* Threads flip target_late's slot between the hook and the real function
 * while calling through it.  In the full-RELRO build that slot is in a
 * read-only page, so one thread's mprotect back to PROT_READ must never land
 * inside another's write window (lr_got's mutex; on glibc dl_iterate_phdr's
 * own lock also serializes the callbacks, so this cannot tell the two
 * apart).  A caller must always see a whole pointer: one of the two
 * results.  Counts wrong results. */
static struct mod *race_mod;

static void *race(void *arg)
{
	lr_got_hook hooks[] = { { "target_fn", (void *)target_fn }, { "target_late", (void *)hook_late } };
	lr_got_hook flip = { "target_late", NULL };
	long bad = 0;

	for (int i = 0; i < 2000; i++) {
		int rc, v;

		flip.hook = (i & 1) ? (void *)hook_late : (void *)race_mod->real_late;
		rc = lr_got_patch(race_mod->lm, &flip, 1);
		v = race_mod->call_late(1);
		bad += rc < 0 || rc > 1 || (v != 3 && v != 2001) || race_mod->call(1) != 1001;
		if (i % 100 == 0)
			bad += lr_got_patch_all(hooks, 2, &self_marker) < 0;
	}
	return (void *)bad;
}

static void check_threads(struct mod *m)
{
	lr_got_hook hooks_late[] = { { "target_late", (void *)hook_late } };
	pthread_t t[4];
	void *bad;

	race_mod = m;
	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, race, NULL) == 0);
	for (int i = 0; i < 4; i++) {
		CHECK(pthread_join(t[i], &bad) == 0);
		CHECK(bad == NULL);
	}
	CHECK_INT(lr_got_patch_all(hooks_late, 1, &self_marker) >= 0, 1);
	CHECK_INT(m->call_late(1), 2001);
	check_relro_readonly(m->lm);
}

/* Before and after lr_got_patch on the module, for target_fn only. */
static void check_patch(struct mod *m, int deep)
{
	lr_got_hook h = { "target_fn", (void *)target_fn };
	struct relro_q q = relro_of(m->lm);
	int n;

	CHECK_INT(m->call(1), deep ? 2 : 1001);
	CHECK(m->fn_addr() == (deep ? m->real_target : target_fn));
	check_relro_readonly(m->lm);
	n = lr_got_patch(m->lm, &h, 1);
	/* Under DEEPBIND both slots (JUMP_SLOT, GLOB_DAT) change, unless the
	 * linker merged them into one GLOB_DAT; loaded plainly they already
	 * pointed at us. */
	if (deep)
		CHECK(n >= 1 && n <= 2);
	else
		CHECK_INT(n, 0);
	CHECK_INT(m->call(1), 1001);
	CHECK(m->fn_addr() == target_fn);
	check_relro_readonly(m->lm);
	/* The GLOB_DAT slot lives in .got, inside RELRO in both builds. */
	CHECK(range_holds(q.lo, q.hi, (void *)target_fn));
	CHECK_INT(lr_got_patch(m->lm, &h, 1), 0);
	CHECK_INT(m->call(1), 1001);
}

/* The main program (a PIE) can be patched when asked by its link_map. */
static void check_patch_self(const lr_got_hook *aux)
{
	struct link_map *lm = NULL;

	CHECK(dlinfo(dlopen(NULL, RTLD_NOW), RTLD_DI_LINKMAP, &lm) == 0 && lm);
	CHECK_INT(lr_got_patch(lm, aux, 1), 1);
	CHECK_INT(self_aux(1), 3001);
	check_relro_readonly(lm);
	CHECK_INT(lr_got_patch(lm, aux, 1), 0);
}

/* lr_got_patch_all: patches the module for target_late (never called yet,
 * so under lazy binding its slot is still unresolved), skips libtarget,
 * which defines both names, and skips this program's import of aux_fn. */
static void check_patch_all(struct mod *m, int deep)
{
	lr_got_hook hooks[] = { { "target_fn", (void *)target_fn }, { "target_late", (void *)hook_late },
		{ "aux_fn", (void *)hook_aux } };
	int twice = m->twice(1);

	/* libtarget's own call to target_fn stays inside it under DEEPBIND;
	 * loaded plainly it already reaches our exported target_fn. */
	CHECK_INT(twice, deep ? 3 : 2001);
	CHECK_INT(self_aux(1), 6);
	CHECK_INT(lr_got_patch_all(hooks, 3, &self_marker), 1);
	CHECK_INT(self_aux(1), 6);
	CHECK_INT(m->call_late(1), 2001);
	CHECK_INT(m->twice(1), twice);
	CHECK_INT(m->call(1), 1001);
	CHECK_INT(lr_got_patch_all(hooks, 3, &self_marker), 0);
	check_relro_readonly(m->lm);
	/* The skip was a choice: asked directly, libtarget can be patched. */
	CHECK_INT(lr_got_patch(m->target_lm, hooks, 1), deep ? 1 : 0);
	CHECK_INT(m->twice(1), 2001);
	check_relro_readonly(m->target_lm);
	check_patch_self(hooks + 2);
}

int main(int argc, char **argv)
{
	struct mod m;
	int deep, flags;

	if (argc != 4) {
		fprintf(stderr, "usage: got_main LIBMOD now|lazy deep|plain\n");
		return 2;
	}
	deep = strcmp(argv[3], "deep") == 0;
	if (deep && GOT_ASAN) {
		fprintf(stderr, "got_main: ASan aborts on RTLD_DEEPBIND; use plain\n");
		return 2;
	}
	flags = (strcmp(argv[2], "lazy") == 0 ? RTLD_LAZY : RTLD_NOW) | (deep ? RTLD_DEEPBIND : RTLD_LOCAL);
	if (load(&m, argv[1], flags) < 0) {
		fprintf(stderr, "got_main: cannot load %s and its symbols\n", argv[1]);
		return 1;
	}
	check_dyn_absolute(m.lm);
	check_bad_args(m.lm);
	check_patch(&m, deep);
	check_patch_all(&m, deep);
	check_odd_objects();
	check_threads(&m);
	return lr_test_done("t_got");
}
