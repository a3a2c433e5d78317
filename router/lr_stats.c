/* lr_stats.c - shared live counters (see lr_stats.h). */
#include "lr_stats.h"
#include "lr_error.h"
#include "lr_shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A name is looked for in at most this many slots from its hash: with the
 * segment writable by every user, no update may cost more than a bounded
 * scan, whatever state someone left the slots in. */
#define MAX_PROBES 64

const char *lr_stats_name(const char *table, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s.stats", table);
	return buf;
}

static int owner_ok(int fd, const char **why)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		*why = strerror(errno);
		return 0;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		*why = "owned by another user";
		return 0;
	}
	if ((size_t)st.st_size != 0 && (size_t)st.st_size != sizeof(lr_stats_seg)) {
		*why = "not an llmroute counters segment (size)";
		return 0;
	}
	return 1;
}

lr_stats_seg *lr_stats_open(const char *name, int create, int writable, const char **why)
{
	int fd = shm_open(name, (writable ? O_RDWR : O_RDONLY) | (create ? O_CREAT : 0) | O_CLOEXEC, 0666);
	lr_stats_seg *s = MAP_FAILED;
	struct stat st;
	const char *dummy;

	if (!why)
		why = &dummy;
	if (fd < 0) {
		*why = strerror(errno);
		return NULL;
	}
	if (!owner_ok(fd, why) || fstat(fd, &st) < 0)
		goto out;
	if (st.st_size == 0 && create) {
		/* Every user's programs count here: see the header. */
		if (fchmod(fd, 0666) < 0 || ftruncate(fd, sizeof(lr_stats_seg)) < 0) {
			*why = strerror(errno);
			goto out;
		}
	} else if ((size_t)st.st_size != sizeof(lr_stats_seg)) {
		*why = "not an llmroute counters segment (size)";
		goto out;
	}
	s = mmap(NULL, sizeof(*s), writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
	if (s == MAP_FAILED) {
		*why = strerror(errno);
		goto out;
	}
	if (st.st_size == 0 && create) {
		memcpy(s->magic, LR_STATS_MAGIC, 8);
		s->layout = LR_STATS_LAYOUT;
		s->nslots = LR_STATS_SLOTS;
	} else if (memcmp(s->magic, LR_STATS_MAGIC, 8) != 0 || s->layout != LR_STATS_LAYOUT ||
		   s->nslots != LR_STATS_SLOTS) {
		*why = "not an llmroute counters segment (magic or layout)";
		munmap(s, sizeof(*s));
		s = MAP_FAILED;
	}
out:
	close(fd);
	return s == MAP_FAILED ? NULL : s;
}

static uint64_t hash_key(int kind, const char *name)
{
	return lr_fnv1a64(name, strlen(name)) ^ (uint64_t)kind * 0x9e3779b97f4a7c15ULL;
}

/* A slot being claimed (state 1) is skipped, not waited for: at worst a
 * name gets two slots, which the readers add up. */
static int slot_is(lr_stats_slot *sl, int kind, uint64_t h, const char *name)
{
	uint32_t st = atomic_load_explicit(&sl->state, memory_order_acquire);

	return st == 2 && sl->kind == (uint32_t)kind && sl->hash == h &&
	       strncmp(sl->name, name, LR_STATS_NAME_MAX - 1) == 0;
}

static lr_stats_slot *find_or_claim(lr_stats_seg *s, int kind, const char *name)
{
	uint64_t h = hash_key(kind, name);
	uint32_t i;

	for (i = 0; i < MAX_PROBES; i++) {
		lr_stats_slot *sl = &s->slot[(h + i) % LR_STATS_SLOTS];
		uint32_t free_state = 0;
		if (slot_is(sl, kind, h, name))
			return sl;
		if (atomic_compare_exchange_strong(&sl->state, &free_state, 1)) {
			sl->kind = (uint32_t)kind;
			sl->hash = h;
			snprintf(sl->name, sizeof(sl->name), "%s", name);
			atomic_store_explicit(&sl->state, 2, memory_order_release);
			return sl;
		}
		/* claimed meanwhile: it may be ours now */
		if (slot_is(sl, kind, h, name))
			return sl;
	}
	return NULL;
}

/* Adds d to a claimed slot: atomic adds only (see the header). */
static void add_to(lr_stats_slot *sl, const lr_stats_delta *d)
{
	atomic_fetch_add_explicit(&sl->requests, (uint64_t)d->requests_add, memory_order_relaxed);
	atomic_fetch_add_explicit(&sl->errors, (uint64_t)d->errors_add, memory_order_relaxed);
	if (d->input_tokens > 0)
		atomic_fetch_add_explicit(&sl->input_tokens, (uint64_t)d->input_tokens, memory_order_relaxed);
	if (d->output_tokens > 0)
		atomic_fetch_add_explicit(&sl->output_tokens, (uint64_t)d->output_tokens, memory_order_relaxed);
	if (d->cost_usd > 0)
		atomic_fetch_add_explicit(&sl->cost_nusd, (uint64_t)(d->cost_usd * 1e9 + 0.5), memory_order_relaxed);
	if (d->duration_ms > 0) {
		uint64_t x = (uint64_t)(d->duration_ms * 1e3), old, nu;
		atomic_fetch_add_explicit(&sl->latency_us, x, memory_order_relaxed);
		old = atomic_load_explicit(&sl->ema_us, memory_order_relaxed);
		do /* the first sample sets it; each next one moves it 1/8 of the way */
			nu = old ? old - old / 8 + x / 8 : (x ? x : 1);
		while (!atomic_compare_exchange_weak(&sl->ema_us, &old, nu));
		atomic_store_explicit(&sl->last_s, (uint64_t)time(NULL), memory_order_relaxed);
	}
}

int lr_stats_add(lr_stats_seg *s, int kind, const char *name, const lr_stats_delta *d)
{
	lr_stats_slot *sl;

	if (!s || !name || !*name)
		return LR_EINVAL;
	sl = find_or_claim(s, kind, name);
	if (!sl) {
		atomic_fetch_add(&s->dropped, 1);
		return LR_ETOOBIG;
	}
	add_to(sl, d);
	return 0;
}

/* Sums the slots (kind, name); with only_day, those holding that day. */
static int gather(const lr_stats_seg *s, int kind, const char *name, int only_day, uint64_t day,
		  lr_stats_totals *out)
{
	uint64_t h, ema = 0, last;
	uint32_t i, found = 0;

	memset(out, 0, sizeof(*out));
	out->ema_ms = -1;
	if (!s || !name)
		return LR_ENOTFOUND;
	h = hash_key(kind, name);
	for (i = 0; i < MAX_PROBES; i++) {
		lr_stats_slot *sl = (lr_stats_slot *)&s->slot[(h + i) % LR_STATS_SLOTS];
		if (!slot_is(sl, kind, h, name) || (only_day && atomic_load(&sl->day) != day))
			continue;
		found++;
		out->requests += atomic_load_explicit(&sl->requests, memory_order_relaxed);
		out->errors += atomic_load_explicit(&sl->errors, memory_order_relaxed);
		out->cost_usd += (double)atomic_load_explicit(&sl->cost_nusd, memory_order_relaxed) / 1e9;
		if (!ema)
			ema = atomic_load_explicit(&sl->ema_us, memory_order_relaxed);
		last = atomic_load_explicit(&sl->last_s, memory_order_relaxed);
		if ((long long)last > out->last_s)
			out->last_s = (long long)last;
	}
	if (ema)
		out->ema_ms = (double)ema / 1e3;
	return found ? 0 : LR_ENOTFOUND;
}

int lr_stats_get(const lr_stats_seg *s, int kind, const char *name, lr_stats_totals *out)
{
	return gather(s, kind, name, 0, 0, out);
}

const char *lr_stats_day_str(unsigned long long day, char *buf, size_t cap)
{
	time_t t = (time_t)(day * 86400);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, cap, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	return buf;
}

static void zero(lr_stats_slot *sl)
{
	atomic_store(&sl->requests, 0);
	atomic_store(&sl->errors, 0);
	atomic_store(&sl->input_tokens, 0);
	atomic_store(&sl->output_tokens, 0);
	atomic_store(&sl->cost_nusd, 0);
	atomic_store(&sl->latency_us, 0);
	atomic_store(&sl->fails_in_row, 0);
	atomic_store(&sl->down_until, 0);
}

int lr_stats_add_day(lr_stats_seg *s, int kind, const char *name, long long now, const lr_stats_delta *d)
{
	uint64_t today = now > 0 ? (uint64_t)now / 86400 : 0, old;
	lr_stats_slot *sl;

	if (!s || !name || !*name)
		return LR_EINVAL;
	if (!(sl = find_or_claim(s, kind, name))) {
		atomic_fetch_add(&s->dropped, 1);
		return LR_ETOOBIG;
	}
	old = atomic_load(&sl->day);
	/* one process wins the change of day and starts the slot afresh; an
	 * add racing with it at midnight may land on either day */
	if (old < today && atomic_compare_exchange_strong(&sl->day, &old, today))
		zero(sl);
	if (old <= today) /* a clock behind the others' counts nothing */
		add_to(sl, d);
	return 0;
}

int lr_stats_get_day(const lr_stats_seg *s, int kind, const char *name, long long now, lr_stats_totals *out)
{
	return gather(s, kind, name, 1, now > 0 ? (uint64_t)now / 86400 : 0, out);
}

/* Raises *v to at least x (never lowers: another process may have set a
 * later end). */
static void raise_to(_Atomic uint64_t *v, uint64_t x)
{
	uint64_t old = atomic_load(v);

	while (old < x && !atomic_compare_exchange_weak(v, &old, x))
		;
}

long long lr_stats_health_fail(lr_stats_seg *s, const char *name, long long now, unsigned threshold,
			       unsigned cooldown_s, unsigned retry_after_s)
{
	lr_stats_slot *sl;
	uint64_t row;

	if (!s || !name || !*name || now <= 0 || !(sl = find_or_claim(s, LR_STATS_TARGET, name)))
		return 0;
	row = atomic_fetch_add(&sl->fails_in_row, 1) + 1;
	if (threshold && row >= threshold)
		raise_to(&sl->down_until, (uint64_t)now + cooldown_s);
	if (retry_after_s)
		raise_to(&sl->down_until, (uint64_t)now + (retry_after_s < cooldown_s ? retry_after_s : cooldown_s));
	return (long long)atomic_load(&sl->down_until) > now ? (long long)atomic_load(&sl->down_until) : 0;
}

void lr_stats_health_ok(lr_stats_seg *s, const char *name)
{
	lr_stats_slot *sl;

	if (!s || !name || !*name || !(sl = find_or_claim(s, LR_STATS_TARGET, name)))
		return;
	if (atomic_load(&sl->fails_in_row))
		atomic_store(&sl->fails_in_row, 0);
	if (atomic_load(&sl->down_until))
		atomic_store(&sl->down_until, 0);
}

long long lr_stats_down_until(const lr_stats_seg *s, const char *name, long long now)
{
	uint64_t h, until = 0, u;
	uint32_t i;

	if (!s || !name)
		return 0;
	h = hash_key(LR_STATS_TARGET, name);
	for (i = 0; i < MAX_PROBES; i++) {
		lr_stats_slot *sl = (lr_stats_slot *)&s->slot[(h + i) % LR_STATS_SLOTS];
		if (slot_is(sl, LR_STATS_TARGET, h, name) && (u = atomic_load(&sl->down_until)) > until)
			until = u;
	}
	return (long long)until > now ? (long long)until : 0;
}

void lr_stats_reset(lr_stats_seg *s)
{
	uint32_t i;

	for (i = 0; i < LR_STATS_SLOTS; i++) {
		lr_stats_slot *sl = &s->slot[i];
		zero(sl);
		atomic_store(&sl->ema_us, 0);
		atomic_store(&sl->last_s, 0);
		atomic_store(&sl->day, 0);
	}
	atomic_store(&s->dropped, 0);
}
