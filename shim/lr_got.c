/*
 * lr_got.c - GOT rewriting for imports that symbol interposition cannot
 * reach (RTLD_DEEPBIND modules such as PHP's curl.so); the contract is in
 * lr_got.h.
 *
 * How an object is read: dl_iterate_phdr gives its load bias, program
 * headers and PT_DYNAMIC; the dynamic section gives the symbol and string
 * tables, the hash tables and the RELA tables.  Invariants:
 * - Every pointer taken from the dynamic section, a hash table or a
 *   relocation is checked to lie inside one of the object's readable PT_LOAD
 *   segments before it is read, so an odd object (vdso, no DT_SYMTAB, a
 *   foreign layout) yields 0 patched slots rather than a fault.
 * - glibc stores DT_* addresses relocated (absolute) when the dynamic
 *   section is writable and leaves them as offsets when it is read-only
 *   (vdso; musl never relocates them).  lr_got_dptr() accepts either and
 *   tries glibc's choice first.
 * - The work for one object happens inside its dl_iterate_phdr callback:
 *   the loader's lock keeps the object mapped while we read and write it.
 * - A page's protection is derived from the program headers (PT_LOAD flags;
 *   PT_GNU_RELRO rounded the way ld.so rounds it), never read from /proc.
 * - One mutex serializes all patching, so two threads never race on the
 *   mprotect/write/mprotect of one page.  glibc's dl_iterate_phdr holds its
 *   own lock around the callbacks too; the mutex keeps us correct where it
 *   does not (musl).
 */
/* dl_iterate_phdr, dlinfo and struct dl_phdr_info are GNU extensions. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "lr_fork.h"
#include "lr_got.h"
#include "lr_error.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Unsupported architectures compile the same code with relocation types that
 * match nothing, and the public functions bail out first. */
#if defined(__x86_64__)
#define LR_GOT_SUPPORTED 1
#define LR_R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define LR_R_GLOB_DAT R_X86_64_GLOB_DAT
#elif defined(__aarch64__)
#define LR_GOT_SUPPORTED 1
#define LR_R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define LR_R_GLOB_DAT R_AARCH64_GLOB_DAT
#else
#define LR_GOT_SUPPORTED 0
#define LR_R_JUMP_SLOT 0xfffffffful
#define LR_R_GLOB_DAT 0xfffffffful
#endif

/* link.h gives ElfW() but not the matching R_SYM/R_TYPE accessors. */
#if UINTPTR_MAX > 0xffffffffu
#define LR_R_SYM(i) ELF64_R_SYM(i)
#define LR_R_TYPE(i) ELF64_R_TYPE(i)
#else
#define LR_R_SYM(i) ELF32_R_SYM(i)
#define LR_R_TYPE(i) ELF32_R_TYPE(i)
#endif

_Static_assert(LR_GOT_MAX_HOOKS <= 64, "job.skip has one bit per hook");

static pthread_mutex_t lr_got_lock = PTHREAD_MUTEX_INITIALIZER;

/* What we know about one loaded object; all pointers are checked ones. */
struct lr_got_obj {
	uintptr_t base;               /* load bias (l_addr / dlpi_addr) */
	const ElfW(Phdr) *phdr;
	size_t phnum;
	const ElfW(Dyn) *dyn;
	size_t ndyn;
	int dyn_relocated;            /* glibc would have made d_ptr absolute */
	uintptr_t relro_lo, relro_hi; /* pages ld.so made PROT_READ */
	const ElfW(Sym) *symtab;
	const char *strtab;
	size_t strsz;
	const uint32_t *gnu_hash;
	const uint32_t *sysv_hash;
	const ElfW(Rela) *jmprel;
	size_t njmprel;
	const ElfW(Rela) *rela;
	size_t nrela;
};

/* One call's request and tally, shared with the dl_iterate_phdr callback. */
struct lr_got_job {
	const lr_got_hook *hooks;
	size_t nhooks;
	const struct link_map *lm; /* lr_got_patch: the only object wanted */
	const void *self_addr;     /* lr_got_patch_all: the object to leave */
	uint64_t skip;             /* bit i: hook i not applied to this object */
	int found;
	int patched;
	int failed;                /* first LR_E* seen while writing, or 0 */
};

/* The PT_LOAD segment holding all of [p, p + len), or NULL. */
static const ElfW(Phdr) *lr_got_seg(const struct lr_got_obj *o, uintptr_t p, size_t len)
{
	for (size_t i = 0; i < o->phnum; i++) {
		const ElfW(Phdr) *ph = &o->phdr[i];
		uintptr_t lo = o->base + ph->p_vaddr;

		if (ph->p_type != PT_LOAD || p < lo)
			continue;
		/* Written so that no sum can wrap around. */
		if (len <= ph->p_memsz && p - lo <= ph->p_memsz - len)
			return ph;
	}
	return NULL;
}

static int lr_got_readable(const struct lr_got_obj *o, uintptr_t p, size_t len)
{
	const ElfW(Phdr) *ph = lr_got_seg(o, p, len);

	return ph && (ph->p_flags & PF_R);
}

/* A d_ptr value as a checked address, absolute or relative; 0 if neither
 * reading is inside the object (or the tag was absent). */
static uintptr_t lr_got_dptr(const struct lr_got_obj *o, ElfW(Addr) v, size_t len)
{
	uintptr_t abs = v, rel = o->base + v;
	uintptr_t first = o->dyn_relocated ? abs : rel;
	uintptr_t second = o->dyn_relocated ? rel : abs;

	/* Offset 0 is the ELF header, never a table: treat it as "absent". */
	if (v == 0 || len == 0)
		return 0;
	if (lr_got_readable(o, first, len))
		return first;
	if (lr_got_readable(o, second, len))
		return second;
	return 0;
}

/* ld.so protects [align_down(start), align_down(end)): the partial last
 * page stays writable (glibc _dl_protect_relro). */
static void lr_got_note_relro(struct lr_got_obj *o, const ElfW(Phdr) *ph)
{
	uintptr_t mask = ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1);
	uintptr_t start = o->base + ph->p_vaddr;

	o->relro_lo = start & mask;
	o->relro_hi = (start + ph->p_memsz) & mask;
}

/* Fills base, program headers, PT_DYNAMIC and RELRO.  Returns 0, or
 * LR_ENOTFOUND if the object has no readable dynamic section. */
static int lr_got_obj_init(struct lr_got_obj *o, const struct dl_phdr_info *info)
{
	memset(o, 0, sizeof(*o));
	o->base = info->dlpi_addr;
	o->phdr = info->dlpi_phdr;
	o->phnum = o->phdr ? info->dlpi_phnum : 0;
	for (size_t i = 0; i < o->phnum; i++) {
		const ElfW(Phdr) *ph = &o->phdr[i];

		if (ph->p_type == PT_DYNAMIC) {
			o->dyn = (const ElfW(Dyn) *)(o->base + ph->p_vaddr);
			o->ndyn = ph->p_memsz / sizeof(ElfW(Dyn));
			/* glibc's own rule (l_ld_readonly) for relocating d_ptr. */
			o->dyn_relocated = (ph->p_flags & PF_W) != 0;
		} else if (ph->p_type == PT_GNU_RELRO) {
			lr_got_note_relro(o, ph);
		}
	}
	if (!o->dyn || !lr_got_readable(o, (uintptr_t)o->dyn, o->ndyn * sizeof(ElfW(Dyn))))
		return LR_ENOTFOUND;
	return 0;
}

/* Raw d_val/d_ptr of the tags we use, 0 when absent. */
struct lr_got_tags {
	ElfW(Addr) v[DT_NUM];
	ElfW(Addr) gnu_hash;
};

static void lr_got_read_tags(const struct lr_got_obj *o, struct lr_got_tags *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < o->ndyn && o->dyn[i].d_tag != DT_NULL; i++) {
		ElfW(Sxword) tag = o->dyn[i].d_tag;

		if (tag >= 0 && tag < DT_NUM)
			t->v[tag] = o->dyn[i].d_un.d_ptr;
		else if (tag == DT_GNU_HASH)
			t->gnu_hash = o->dyn[i].d_un.d_ptr;
	}
}

/* A RELA table as a checked pointer and entry count; empty if unusable. */
static void lr_got_rela_table(const struct lr_got_obj *o, ElfW(Addr) ptr, ElfW(Addr) size,
	const ElfW(Rela) **tab, size_t *n)
{
	uintptr_t p = lr_got_dptr(o, ptr, size);

	*tab = p ? (const ElfW(Rela) *)p : NULL;
	*n = p ? size / sizeof(ElfW(Rela)) : 0;
}

/* Locates the tables.  Returns 0, or LR_ENOTFOUND if there is no usable
 * symbol or string table (nothing can be imported by name then). */
static int lr_got_obj_tables(struct lr_got_obj *o)
{
	struct lr_got_tags t;

	lr_got_read_tags(o, &t);
	o->strsz = t.v[DT_STRSZ];
	o->strtab = (const char *)lr_got_dptr(o, t.v[DT_STRTAB], o->strsz);
	o->symtab = (const ElfW(Sym) *)lr_got_dptr(o, t.v[DT_SYMTAB], sizeof(ElfW(Sym)));
	if (t.v[DT_SYMENT] != 0 && t.v[DT_SYMENT] != sizeof(ElfW(Sym)))
		o->symtab = NULL;
	if (!o->strtab || !o->symtab)
		return LR_ENOTFOUND;
	o->gnu_hash = (const uint32_t *)lr_got_dptr(o, t.gnu_hash, 4 * sizeof(uint32_t));
	o->sysv_hash = (const uint32_t *)lr_got_dptr(o, t.v[DT_HASH], 2 * sizeof(uint32_t));
	/* x86_64 and aarch64 use RELA only; a REL PLT table is not ours to read. */
	if (t.v[DT_PLTREL] == DT_RELA)
		lr_got_rela_table(o, t.v[DT_JMPREL], t.v[DT_PLTRELSZ], &o->jmprel, &o->njmprel);
	if (t.v[DT_RELAENT] == 0 || t.v[DT_RELAENT] == sizeof(ElfW(Rela)))
		lr_got_rela_table(o, t.v[DT_RELA], t.v[DT_RELASZ], &o->rela, &o->nrela);
	return 0;
}

/* Dynamic symbol `i`, or NULL if it would lie outside the object. */
static const ElfW(Sym) *lr_got_sym(const struct lr_got_obj *o, size_t i)
{
	uintptr_t p = (uintptr_t)o->symtab + (uintptr_t)i * sizeof(ElfW(Sym));

	if (p < (uintptr_t)o->symtab || !lr_got_readable(o, p, sizeof(ElfW(Sym))))
		return NULL;
	return (const ElfW(Sym) *)p;
}

/* Whether string-table offset `off` holds exactly `name`; never reads past
 * DT_STRSZ, whatever the table holds. */
static int lr_got_name_is(const struct lr_got_obj *o, size_t off, const char *name)
{
	size_t len = strlen(name);

	if (off >= o->strsz || len >= o->strsz - off)
		return 0;
	return memcmp(o->strtab + off, name, len) == 0 && o->strtab[off + len] == '\0';
}

static int lr_got_sym_defines(const struct lr_got_obj *o, size_t i, const char *name)
{
	const ElfW(Sym) *s = lr_got_sym(o, i);

	return s && s->st_shndx != SHN_UNDEF && lr_got_name_is(o, s->st_name, name);
}

static uint32_t lr_got_gnu_hash_of(const char *s)
{
	uint32_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* Lookup in DT_GNU_HASH (the bloom filter is only a shortcut: skipped). */
static int lr_got_gnu_defines(const struct lr_got_obj *o, const char *name)
{
	const uint32_t *h = o->gnu_hash;
	uint32_t nbuckets = h[0], symoffset = h[1], hash = lr_got_gnu_hash_of(name);
	uintptr_t buckets = (uintptr_t)(h + 4) + (uintptr_t)h[2] * sizeof(ElfW(Addr));
	uintptr_t chain = buckets + (uintptr_t)nbuckets * 4;
	uint32_t i;

	if (nbuckets == 0 || !lr_got_readable(o, buckets, (size_t)nbuckets * 4))
		return 0;
	i = ((const uint32_t *)buckets)[hash % nbuckets];
	/* The segment bound ends the walk even on a chain with no end bit. */
	for (; i >= symoffset; i++) {
		uintptr_t c = chain + (uintptr_t)(i - symoffset) * 4;
		uint32_t ch;

		if (!lr_got_readable(o, c, 4))
			return 0;
		ch = *(const uint32_t *)c;
		if ((ch | 1) == (hash | 1) && lr_got_sym_defines(o, i, name))
			return 1;
		if (ch & 1)
			return 0;
	}
	return 0;
}

static uint32_t lr_got_sysv_hash_of(const char *s)
{
	uint32_t h = 0, g;

	while (*s) {
		h = (h << 4) + (unsigned char)*s++;
		g = h & 0xf0000000u;
		h ^= g >> 24;
		h &= ~g;
	}
	return h;
}

/* Lookup in DT_HASH, for objects linked with --hash-style=sysv. */
static int lr_got_sysv_defines(const struct lr_got_obj *o, const char *name)
{
	const uint32_t *h = o->sysv_hash;
	uint32_t nbucket = h[0], nchain = h[1], i, steps;

	if (nbucket == 0 || !lr_got_readable(o, (uintptr_t)h, (2 + (size_t)nbucket + nchain) * 4))
		return 0;
	i = h[2 + lr_got_sysv_hash_of(name) % nbucket];
	/* A corrupt chain could loop: never take more steps than there are symbols. */
	for (steps = 0; i != 0 && i < nchain && steps < nchain; steps++) {
		if (lr_got_sym_defines(o, i, name))
			return 1;
		i = h[2 + nbucket + i];
	}
	return 0;
}

/* Whether the object exports a definition of `name` (any version). */
static int lr_got_defines(const struct lr_got_obj *o, const char *name)
{
	if (o->gnu_hash)
		return lr_got_gnu_defines(o, name);
	if (o->sysv_hash)
		return lr_got_sysv_defines(o, name);
	return 0;
}

/* The protection the page holding `slot` has now, or -1 if the slot is not
 * somewhere a GOT can be (outside the object, or in a segment that was never
 * writable: rewriting code or constants is not our business). */
static int lr_got_prot_of(const struct lr_got_obj *o, uintptr_t slot)
{
	const ElfW(Phdr) *ph = lr_got_seg(o, slot, sizeof(void *));

	if (!ph || slot % sizeof(void *) != 0 || !(ph->p_flags & PF_W))
		return -1;
	if (slot >= o->relro_lo && slot < o->relro_hi)
		return PROT_READ;
	return PROT_READ | PROT_WRITE | ((ph->p_flags & PF_X) ? PROT_EXEC : 0);
}

/* Puts `hook` in the slot.  Returns 1 if written, 0 if it already held it,
 * LR_EIO if the page could not be made writable or be restored. */
static int lr_got_store(uintptr_t slot, void *hook, int prot)
{
	void **p = (void **)slot;
	uintptr_t pagesz = (uintptr_t)sysconf(_SC_PAGESIZE);
	void *page = (void *)(slot & ~(pagesz - 1));

	if (__atomic_load_n(p, __ATOMIC_RELAXED) == hook)
		return 0;
	/* Aligned pointer stores are atomic here, so a thread calling through
	 * the slot sees the old or the new target, never half of each. */
	if (prot & PROT_WRITE) {
		__atomic_store_n(p, hook, __ATOMIC_RELEASE);
		return 1;
	}
	if (mprotect(page, (size_t)pagesz, prot | PROT_WRITE) != 0)
		return LR_EIO;
	__atomic_store_n(p, hook, __ATOMIC_RELEASE);
	if (mprotect(page, (size_t)pagesz, prot) != 0)
		return LR_EIO;
	return 1;
}

/* The index of the wanted, not skipped hook named by symbol `symi`, or -1. */
static int lr_got_hook_for(const struct lr_got_obj *o, const struct lr_got_job *job, size_t symi)
{
	const ElfW(Sym) *s = symi ? lr_got_sym(o, symi) : NULL;

	if (!s)
		return -1;
	for (size_t i = 0; i < job->nhooks; i++) {
		if (i < LR_GOT_MAX_HOOKS && ((job->skip >> i) & 1))
			continue;
		if (lr_got_name_is(o, s->st_name, job->hooks[i].name))
			return (int)i;
	}
	return -1;
}

static void lr_got_apply_one(const struct lr_got_obj *o, struct lr_got_job *job, const ElfW(Rela) *r)
{
	unsigned long type = (unsigned long)LR_R_TYPE(r->r_info);
	uintptr_t slot = o->base + r->r_offset;
	int i, prot, rc;

	if (type != LR_R_JUMP_SLOT && type != LR_R_GLOB_DAT)
		return;
	i = lr_got_hook_for(o, job, (size_t)LR_R_SYM(r->r_info));
	if (i < 0 || (prot = lr_got_prot_of(o, slot)) < 0)
		return;
	rc = lr_got_store(slot, job->hooks[i].hook, prot);
	if (rc > 0)
		job->patched++;
	else if (rc < 0 && !job->failed)
		job->failed = rc;
}

/* Some linkers let DT_RELASZ cover .rela.plt too: those entries are visited
 * through DT_JMPREL only, so no slot is counted twice. */
static int lr_got_in_jmprel(const struct lr_got_obj *o, const ElfW(Rela) *r)
{
	uintptr_t p = (uintptr_t)r, lo = (uintptr_t)o->jmprel;

	return o->jmprel && p >= lo && p < lo + o->njmprel * sizeof(ElfW(Rela));
}

/* Patches one object (tables located) for the hooks not in job->skip. */
static void lr_got_apply(const struct lr_got_obj *o, struct lr_got_job *job)
{
	for (size_t k = 0; k < o->njmprel; k++)
		lr_got_apply_one(o, job, &o->jmprel[k]);
	for (size_t k = 0; k < o->nrela; k++)
		if (!lr_got_in_jmprel(o, &o->rela[k]))
			lr_got_apply_one(o, job, &o->rela[k]);
}

/* dl_iterate_phdr callback of lr_got_patch: finds job->lm by its l_addr and
 * l_ld (unique per object), patches it, stops. */
static int lr_got_patch_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct lr_got_job *job = arg;
	struct lr_got_obj o;

	(void)size;
	if (info->dlpi_addr != job->lm->l_addr || lr_got_obj_init(&o, info) < 0)
		return 0;
	if ((const void *)o.dyn != (const void *)job->lm->l_ld)
		return 0;
	job->found = 1;
	if (lr_got_obj_tables(&o) == 0)
		lr_got_apply(&o, job);
	return 1;
}

/* dl_iterate_phdr callback of lr_got_patch_all. */
static int lr_got_patch_all_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct lr_got_job *job = arg;
	struct lr_got_obj o;

	(void)size;
	if (lr_got_obj_init(&o, info) < 0)
		return 0;
	if (job->self_addr && lr_got_seg(&o, (uintptr_t)job->self_addr, 1))
		return 0;
	if (lr_got_obj_tables(&o) < 0)
		return 0;
	job->skip = 0;
	for (size_t i = 0; i < job->nhooks; i++)
		if (lr_got_defines(&o, job->hooks[i].name))
			job->skip |= (uint64_t)1 << i;
	lr_got_apply(&o, job);
	return 0;
}

static int lr_got_hooks_valid(const lr_got_hook *hooks, size_t nhooks)
{
	if (nhooks && !hooks)
		return 0;
	for (size_t i = 0; i < nhooks; i++)
		if (!hooks[i].name || !hooks[i].hook)
			return 0;
	return 1;
}

/* Runs the walk under the lock with errno preserved; returns the job's result. */
static int lr_got_run(struct lr_got_job *job, int (*cb)(struct dl_phdr_info *, size_t, void *))
{
	int saved = errno;

	pthread_mutex_lock(&lr_got_lock);
	dl_iterate_phdr(cb, job);
	pthread_mutex_unlock(&lr_got_lock);
	errno = saved;
	return job->failed ? job->failed : job->patched;
}

int lr_got_patch(struct link_map *lm, const lr_got_hook *hooks, size_t nhooks)
{
	struct lr_got_job job = { .hooks = hooks, .nhooks = nhooks, .lm = lm };
	int rc;

	if (!lm || !lr_got_hooks_valid(hooks, nhooks))
		return LR_EINVAL;
	if (!LR_GOT_SUPPORTED)
		return LR_ENOTFOUND;
	rc = lr_got_run(&job, lr_got_patch_cb);
	return job.found ? rc : LR_ENOTFOUND;
}

int lr_got_patch_all(const lr_got_hook *hooks, size_t nhooks, const void *self_addr)
{
	struct lr_got_job job = { .hooks = hooks, .nhooks = nhooks, .self_addr = self_addr };

	if (!lr_got_hooks_valid(hooks, nhooks))
		return LR_EINVAL;
	if (nhooks > LR_GOT_MAX_HOOKS)
		return LR_ETOOBIG;
	if (!LR_GOT_SUPPORTED)
		return LR_ENOTFOUND;
	return lr_got_run(&job, lr_got_patch_all_cb);
}

void lr_got_atfork(int phase)
{
	lr_fork_mutex(&lr_got_lock, phase);
}
