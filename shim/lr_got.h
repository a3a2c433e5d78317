/*
 * lr_got.h - redirect a loaded object's imports of chosen symbols to our
 * hooks by rewriting its GOT slots.
 *
 * Why: a module dlopen'ed with RTLD_DEEPBIND (PHP loads every extension,
 * php-curl included, that way) resolves its imports in its own dependency
 * scope first, so it binds straight to libcurl and a preloaded
 * curl_easy_perform is never called.  After the module is loaded, its
 * JUMP_SLOT and GLOB_DAT relocations against "curl_easy_perform" say exactly
 * which pointer-sized slots it calls through; writing the hook's address
 * there makes it call the hook whatever the symbol lookup said.
 *
 * Invariants and limits:
 * - Only x86_64 and aarch64 (ELF RELA, JUMP_SLOT + GLOB_DAT).  On any other
 *   architecture both functions do nothing and return LR_ENOTFOUND.
 * - A slot is written only if it lies inside one of the object's PT_LOAD
 *   segments; slots in the full-RELRO pages that ld.so made read-only are
 *   made writable with mprotect for the one write and set back to PROT_READ.
 *   No other memory is ever written, and nothing here allocates.
 * - A slot that already holds the hook is left alone and not counted, so
 *   patching again is harmless and returns 0.
 * - Taking the address of a patched import (GLOB_DAT) now yields the hook:
 *   code comparing it with dlsym()'s answer sees a difference.
 * - With lazy binding, a thread that is resolving the same JUMP_SLOT at the
 *   moment we write it may store the real address after us; the window is
 *   the first call only.
 * - Calls no libcurl function and needs only libc/libdl.
 *
 * Thread safety: both functions serialize on one internal mutex.  They are
 * meant to be called from the shim's dlopen hook after the real dlopen has
 * returned, never from inside a dl_iterate_phdr callback or a constructor
 * run by ld.so (the loader's locks are held there).  Not async-signal-safe.
 */
#ifndef LR_GOT_H
#define LR_GOT_H
#include <stddef.h>

struct link_map;

/* One symbol to redirect: imports of `name` (any version) are pointed at
 * `hook`.  Both must be non-NULL. */
typedef struct {
	const char *name;
	void *hook;
} lr_got_hook;

/* lr_got_patch_all() refuses longer hook lists (it keeps one bit per hook). */
#define LR_GOT_MAX_HOOKS 64

/*
 * Points every import of hooks[i].name in the loaded object `lm` (from
 * dlinfo(RTLD_DI_LINKMAP) or the link_map chain) at hooks[i].hook, even if
 * `lm` defines that symbol itself.
 *
 * Returns the number of slots changed (>= 0; 0 when the object imports none
 * of the names, or they already point at the hooks); LR_EINVAL for a NULL
 * `lm` or a hook with a NULL name/hook; LR_ENOTFOUND if `lm` is not a loaded
 * object or the architecture is not supported; LR_EIO if some slot could not
 * be made writable (the other slots are still patched).  errno is preserved.
 */
int lr_got_patch(struct link_map *lm, const lr_got_hook *hooks, size_t nhooks);

/*
 * lr_got_patch() on every loaded object, except the object whose mapped
 * segments contain `self_addr` (pass any address inside our own library; NULL
 * skips nothing), and except that an object which itself defines
 * hooks[i].name (libcurl for curl_*) is not patched for hook i: its internal
 * calls to its own API must keep going where they went.
 *
 * Returns the total number of slots changed (>= 0); LR_EINVAL for bad hooks;
 * LR_ETOOBIG if nhooks > LR_GOT_MAX_HOOKS; LR_ENOTFOUND if the architecture
 * is not supported; LR_EIO if some slot could not be made writable (all
 * others are still patched).  errno is preserved.
 */
int lr_got_patch_all(const lr_got_hook *hooks, size_t nhooks, const void *self_addr);

#endif
