/*
 * lr_view.c - live table access inside a host process (see lr_view.h).
 *
 * Locking: `swap_mu` serializes attach and refresh (rare); `rw` protects
 * the current table pointer: requests hold it shared while they decide, a
 * refresh holds it exclusively only to swap the pointer.  Mappings of
 * retired segments are never unmapped, because another thread may be
 * loading their generation at that moment; there is one per `unload`.
 *
 * No descriptor is kept: the segment is mapped, then its descriptor closed,
 * so a host that closes descriptors it did not open (closefrom, a sweep of
 * /proc/self/fd) cannot take the table away.  The trust rule is checked
 * again at each new generation on a descriptor opened by name for that
 * check only; if the name now names another segment, that one is attached.
 */
#include "lr_view.h"
#include "lr_intent.h"
#include "lr_error.h"
#include "lr_fork.h"
#include "lr_log.h"
#include "lr_shm.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t swap_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static lr_shm seg = {.fd = -1};
static dev_t seg_dev; /* identity of the attached segment */
static ino_t seg_ino;
static _Atomic(lr_shm_hdr *) live_hdr;
static lr_table *current;
static lr_intent_cache *current_intents; /* the current table's compiled patterns */
static _Atomic unsigned long long current_gen;

static void attach_locked(void)
{
	const char *why = "";
	int rc;

	if (atomic_load(&live_hdr))
		return;
	rc = lr_shm_attach(lr_shm_name(), &seg, &why);
	if (rc == 0) {
		struct stat st;
		seg_dev = seg_ino = 0;
		if (fstat(seg.fd, &st) == 0) {
			seg_dev = st.st_dev;
			seg_ino = st.st_ino;
		}
		close(seg.fd); /* the mapping stays; see top */
		seg.fd = -1;
		atomic_store(&live_hdr, seg.hdr);
		lr_log(LR_LOG_DEBUG, "attached to table %s", lr_shm_name());
		return;
	}
	if (rc == LR_ENOTFOUND)
		lr_log_once(LR_LOG_DEBUG, 1, "no table %s yet: passing requests through", lr_shm_name());
	else
		lr_log_once(LR_LOG_ERROR, 2 + (unsigned)-rc, "ignoring table %s: %s (%s)",
			    lr_shm_name(), lr_strerror(rc), why);
}

static void install(lr_table *t, unsigned long long gen)
{
	lr_table *old;
	lr_intent_cache *old_ic, *ic = t ? lr_intent_cache_new(t) : NULL;

	if (t && !ic)
		lr_log_once(LR_LOG_ERROR, 60, "cannot compile the intents' patterns: keywords only");
	pthread_rwlock_wrlock(&rw);
	old = current;
	old_ic = current_intents;
	current = t;
	current_intents = ic;
	atomic_store(&current_gen, gen);
	pthread_rwlock_unlock(&rw);
	free(old);
	lr_intent_cache_free(old_ic);
}

/* The trust rule on the attached segment, by its name: 0 (trusted), 1 (the
 * name is gone or names another segment now: let this one go), -1. */
static int check_trust(void)
{
	struct stat st;
	/* O_NONBLOCK: a FIFO planted at the name must not hang the host */
	int fd = shm_open(lr_shm_name(), O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0), rc;

	if (fd < 0)
		return errno == ENOENT ? 1 : -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		rc = -1;
	else if (st.st_dev != seg_dev || st.st_ino != seg_ino)
		rc = 1;
	else
		rc = lr_shm_check_trust(fd, NULL) < 0 ? -1 : 0;
	close(fd);
	return rc;
}

static void refresh_locked(unsigned long long want)
{
	void *blob;
	size_t len;
	uint64_t gen;
	int rc, trust = 0;

	if (atomic_load(&current_gen) == want)
		return; /* another thread did it */
	if (atomic_load(&seg.hdr->retired) || (trust = check_trust()) == 1) {
		atomic_store(&live_hdr, NULL); /* mapping stays: see top */
		install(NULL, 0);
		lr_log(LR_LOG_INFO, "table %s was unloaded: passing requests through", lr_shm_name());
		return;
	}
	if (trust < 0) { /* a chmod after attach counts */
		lr_log_once(LR_LOG_ERROR, 40, "ignoring table %s: its owner or mode changed", lr_shm_name());
		install(NULL, want);
		return;
	}
	rc = lr_shm_snapshot(&seg, &blob, &len, &gen);
	if (rc == 0 && blob && (rc = lr_table_validate(blob, len)) < 0)
		free(blob);
	if (rc < 0) {
		lr_log_once(LR_LOG_ERROR, 50 + (unsigned)-rc, "table %s generation %llu: %s; keeping the previous one",
			    lr_shm_name(), want, lr_strerror(rc));
		atomic_store(&current_gen, want); /* do not retry every request */
		return;
	}
	install(blob, gen);
	lr_log(LR_LOG_DEBUG, "table %s generation %llu: %u routes", lr_shm_name(),
	       (unsigned long long)gen, blob ? ((lr_table *)blob)->nroutes : 0);
}

/* The segment's header, attaching first if no thread has.  Threads that
 * arrive while another one attaches wait for it: they must not send their
 * request unrouted just because the table is being mapped.  Only a failed
 * attach holds off further tries, for a second. */
/* No rate limit: only LLM requests get here, and a failed attach (one
 * shm_open) costs a microsecond or two, so a table loaded after the program
 * started is followed from the very next request. */
static lr_shm_hdr *attach(void)
{
	lr_shm_hdr *h;

	pthread_mutex_lock(&swap_mu);
	if (!atomic_load(&live_hdr))
		attach_locked();
	h = atomic_load(&live_hdr);
	pthread_mutex_unlock(&swap_mu);
	return h;
}

const lr_table *lr_view_acquire(void)
{
	lr_shm_hdr *h = atomic_load_explicit(&live_hdr, memory_order_acquire);
	unsigned long long gen;
	int pass;

	/* Twice at most: a retired segment found on the first pass is let go,
	 * and the one that replaced it (unload, then load) is used at once. */
	for (pass = 0; pass < 2; pass++) {
		if (!h && !(h = attach()))
			return NULL;
		gen = atomic_load_explicit(&h->generation, memory_order_acquire);
		if (gen != atomic_load_explicit(&current_gen, memory_order_relaxed)) {
			pthread_mutex_lock(&swap_mu);
			if (atomic_load(&live_hdr) == h)
				refresh_locked(gen);
			pthread_mutex_unlock(&swap_mu);
		}
		if ((h = atomic_load(&live_hdr)) != NULL)
			break;
	}
	pthread_rwlock_rdlock(&rw);
	if (!current) {
		pthread_rwlock_unlock(&rw);
		return NULL;
	}
	return current;
}

void lr_view_release(const lr_table *t)
{
	if (t)
		pthread_rwlock_unlock(&rw);
}

const lr_intent_cache *lr_view_intents(const lr_table *t)
{
	return t && t == current ? current_intents : NULL;
}

unsigned long long lr_view_generation(void)
{
	return atomic_load(&current_gen);
}

/* swap_mu is taken, so no thread is inside install(): the table pointer is
 * consistent and rw can only be held by readers, threads the child does
 * not have.  Waiting for rw itself could take long behind readers. */
void lr_view_atfork(int phase)
{
	lr_fork_mutex(&swap_mu, phase);
	if (phase == LR_FORK_CHILD)
		pthread_rwlock_init(&rw, NULL);
}
