/* lr_stats.c - shared live counters (see lr_stats.h). */
#include "lr_stats.h"
#include "lr_table.h"
#include "lr_error.h"
#include "lr_shm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

/* A name is looked for in at most this many slots from its hash: with the
 * segment writable by every user, no update may cost more than a bounded
 * scan, whatever state someone left the slots in. */
#define MAX_PROBES 64

key_t lr_stats_key(const char *table)
{
	char buf[320];
	int n = snprintf(buf, sizeof(buf), "llmroute counters %s", table ? table : "");
	uint64_t h = lr_fnv1a64(buf, n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	uint32_t k = (uint32_t)(h ^ (h >> 32));

	return (key_t)(k == 0 || k == 0xffffffffu ? 0x4c52 : k); /* never IPC_PRIVATE */
}

static uint64_t magic_word(void)
{
	uint64_t m;

	memcpy(&m, LR_STATS_MAGIC, 8);
	return m;
}

static int uid_ok(uid_t u)
{
	return u == 0 || u == geteuid();
}

static int fail(int *err, int rc, const char **why, const char *msg)
{
	if (err)
		*err = rc;
	if (why)
		*why = msg;
	return rc;
}

/* The trust rule on a segment's metadata (see the header). */
static int meta_ok(const struct shmid_ds *ds, int *err, const char **why)
{
	if (!uid_ok(ds->shm_perm.cuid) || !uid_ok(ds->shm_perm.uid)) {
		fail(err, LR_EUNTRUSTED, why, "made or owned by another user");
		return 0;
	}
	if (ds->shm_segsz != sizeof(lr_stats_seg)) {
		fail(err, LR_EVERSION, why, "not an llmroute counters segment (size)");
		return 0;
	}
	return 1;
}

static int header_state(const lr_stats_seg *s)
{
	uint64_t m = atomic_load_explicit(&s->magic, memory_order_acquire);

	if (m == 0)
		return LR_EBUSY;
	return m == magic_word() && s->layout == LR_STATS_LAYOUT && s->nslots == LR_STATS_SLOTS ? 0 : LR_EVERSION;
}

lr_stats_seg *lr_stats_attach(const char *table, int writable, int *shmid, int *err, const char **why)
{
	struct shmid_ds ds;
	lr_stats_seg *s;
	int id = shmget(lr_stats_key(table), 0, 0), rc;

	if (shmid)
		*shmid = id;
	if (id < 0) {
		/* EACCES: still mode 0600, as its creator left it half-way */
		fail(err, errno == ENOENT ? LR_ENOTFOUND : errno == EACCES ? LR_EBUSY : LR_EIO, why,
		     errno == ENOENT ? "no counters segment" : errno == EACCES ? "not open to us (yet)" : strerror(errno));
		return NULL;
	}
	s = shmat(id, NULL, writable ? 0 : SHM_RDONLY);
	if (s == (void *)-1) {
		fail(err, errno == EACCES ? LR_EBUSY : LR_EIO, why, errno == EACCES ? "not open to us (yet)" : strerror(errno));
		return NULL;
	}
	/* after shmat: the size and creator of this id can no longer change */
	if (shmctl(id, IPC_STAT, &ds) < 0) {
		fail(err, LR_ENOTFOUND, why, "removed meanwhile");
		shmdt(s);
		return NULL;
	}
	if (!meta_ok(&ds, err, why)) {
		shmdt(s);
		return NULL;
	}
	if ((rc = header_state(s)) < 0) {
		fail(err, rc, why, rc == LR_EBUSY ? "its header is not written yet" : "not an llmroute counters segment (magic or layout)");
		shmdt(s);
		return NULL;
	}
	if (err)
		*err = 0;
	return s;
}

void lr_stats_detach(lr_stats_seg *s)
{
	if (s)
		shmdt(s);
}

int lr_stats_current_id(const char *table)
{
	return shmget(lr_stats_key(table), 0, 0);
}

/* Writes a whole header over a segment we made (fresh, or left half-way);
 * the magic last, so no reader uses a header not yet whole. */
static void init_seg(lr_stats_seg *s, int wipe)
{
	atomic_store(&s->magic, 0);
	if (wipe)
		memset((char *)s + sizeof(s->magic), 0, sizeof(*s) - sizeof(s->magic));
	s->layout = LR_STATS_LAYOUT;
	s->nslots = LR_STATS_SLOTS;
	atomic_store_explicit(&s->magic, magic_word(), memory_order_release);
}

/* Completes segment `id` (ours): a whole header, then mode 0666.  Only a
 * segment we did not just make gets a note. */
static int complete(int id, int fresh, const char **note, const char **why)
{
	struct shmid_ds ds;
	lr_stats_seg *s = shmat(id, NULL, 0);
	int st;

	if (s == (void *)-1) {
		*why = strerror(errno);
		return LR_EIO;
	}
	st = header_state(s);
	if (st == LR_EBUSY) {
		init_seg(s, 0);
		if (!fresh)
			*note = "completed a counters segment left without a header by an interrupted load";
	} else if (st == LR_EVERSION) {
		init_seg(s, 1); /* a scribbled header: start the counters afresh */
		*note = "the counters' header was damaged: counters reset";
	}
	shmdt(s);
	if (shmctl(id, IPC_STAT, &ds) < 0) {
		*why = strerror(errno);
		return LR_EIO;
	}
	if ((ds.shm_perm.mode & 0777) != 0666) {
		/* Every user's programs count here: see the header. */
		ds.shm_perm.mode = (ds.shm_perm.mode & ~0777u) | 0666;
		if (shmctl(id, IPC_SET, &ds) < 0) {
			*why = strerror(errno);
			return LR_EIO;
		}
		if (!fresh)
			*note = *note ? *note : "opened the counters segment up to every user (mode 0666)";
	}
	return 0;
}

/* The id at `key` if it can be ours, -1 if the key is free (maybe freed
 * here, as root), or an error (another user's segment). */
static int existing(key_t key, const char **note, const char **why)
{
	static char msg[160];
	struct shmid_ds ds;
	int id = shmget(key, 0, 0);

	if (id < 0 && errno == ENOENT)
		return -1;
	if (id < 0 || shmctl(id, IPC_STAT, &ds) < 0) {
		snprintf(msg, sizeof(msg), "key 0x%08x is held by a segment we may not use (%s; see `ipcs -m`)",
			 (unsigned)key, strerror(errno));
		*why = msg;
		return errno == EACCES ? LR_EUNTRUSTED : LR_EIO;
	}
	if (meta_ok(&ds, NULL, NULL))
		return id;
	if (uid_ok(ds.shm_perm.cuid) && uid_ok(ds.shm_perm.uid)) { /* ours, another size */
		if (shmctl(id, IPC_RMID, NULL) < 0)
			goto taken;
		*note = "replaced a counters segment of another size (an older llmroute?)";
		return -1;
	}
	if (geteuid() == 0 && shmctl(id, IPC_RMID, NULL) == 0) {
		snprintf(msg, sizeof(msg), "removed a segment under the counters' key 0x%08x made by uid %u: not ours",
			 (unsigned)key, (unsigned)ds.shm_perm.cuid);
		*note = msg;
		return -1;
	}
taken:
	snprintf(msg, sizeof(msg), "key 0x%08x is held by a segment made by uid %u, %zu bytes (see `ipcs -m`; "
		 "its owner or root can remove it with `ipcrm -M 0x%08x`)", (unsigned)key,
		 (unsigned)ds.shm_perm.cuid, (size_t)ds.shm_segsz, (unsigned)key);
	*why = msg;
	return LR_EUNTRUSTED;
}

int lr_stats_ensure(const char *table, const char **note, const char **why)
{
	key_t key = lr_stats_key(table);
	int tries, id;

	*note = NULL;
	for (tries = 0; tries < 4; tries++) {
		id = existing(key, note, why);
		if (id >= 0)
			return complete(id, 0, note, why);
		if (id < -1)
			return id;
		/* 0600 until whole: nobody else can attach a half-made one */
		id = shmget(key, sizeof(lr_stats_seg), IPC_CREAT | IPC_EXCL | 0600);
		if (id >= 0)
			return complete(id, 1, note, why);
		if (errno != EEXIST) {
			*why = strerror(errno);
			return LR_EIO;
		}
	}
	*why = "the counters' key keeps changing hands";
	return LR_EIO;
}

int lr_stats_remove(const char *table)
{
	int id = shmget(lr_stats_key(table), 0, 0);

	if (id < 0)
		return errno == ENOENT ? LR_ENOTFOUND : LR_EIO;
	return shmctl(id, IPC_RMID, NULL) == 0 ? 0 : LR_EIO;
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

static const double lat_bounds_ms[] = LR_STATS_LAT_BOUNDS_MS;
_Static_assert(sizeof(lat_bounds_ms) / sizeof(lat_bounds_ms[0]) == LR_STATS_LAT_BUCKETS - 1,
	       "one bound per bucket but the last");

int lr_stats_lat_bucket(double ms)
{
	int i = 0;

	while (i < LR_STATS_LAT_BUCKETS - 1 && ms > lat_bounds_ms[i]) /* le: a bound is in its bucket */
		i++;
	return i;
}

double lr_stats_lat_bound_ms(int i)
{
	return i >= 0 && i < LR_STATS_LAT_BUCKETS - 1 ? lat_bounds_ms[i] : -1;
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
		atomic_fetch_add_explicit(&sl->latency_bucket[lr_stats_lat_bucket(d->duration_ms)], 1,
					  memory_order_relaxed);
		old = atomic_load_explicit(&sl->ema_us, memory_order_relaxed);
		do /* the first sample sets it; each next one moves it 1/8 of the way */
			nu = old ? old - old / 8 + x / 8 : (x ? x : 1);
		while (!atomic_compare_exchange_weak(&sl->ema_us, &old, nu));
		atomic_store_explicit(&sl->last_s, (uint64_t)time(NULL), memory_order_relaxed);
	}
	if (d->via > 0 && d->via < LR_STATS_VIAS)
		atomic_fetch_add_explicit(&sl->via[d->via], 1, memory_order_relaxed);
	if (d->timeout > 0 && d->timeout < LR_STATS_TIMEOUTS)
		atomic_fetch_add_explicit(&sl->timeouts[d->timeout], 1, memory_order_relaxed);
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

	if (day > 100000000ULL || !gmtime_r(&t, &tm)) { /* any user can write the day */
		snprintf(buf, cap, "day-%llu", day);
		return buf;
	}
	snprintf(buf, cap, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	return buf;
}

static void zero(lr_stats_slot *sl)
{
	int i;

	for (i = 0; i < LR_STATS_LAT_BUCKETS; i++)
		atomic_store(&sl->latency_bucket[i], 0);
	atomic_store(&sl->requests, 0);
	atomic_store(&sl->errors, 0);
	atomic_store(&sl->input_tokens, 0);
	atomic_store(&sl->output_tokens, 0);
	atomic_store(&sl->cost_nusd, 0);
	atomic_store(&sl->latency_us, 0);
	atomic_store(&sl->fails_in_row, 0);
	atomic_store(&sl->down_until, 0);
	atomic_store(&sl->cooldowns, 0);
	for (i = 0; i < LR_STATS_VIAS; i++)
		atomic_store(&sl->via[i], 0);
	for (i = 0; i < LR_STATS_TIMEOUTS; i++)
		atomic_store(&sl->timeouts[i], 0);
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

const char *lr_stats_fleet_key(int per, const char *name, char *buf, size_t cap)
{
	static const char *const pers[] = {"", "route", "process", "model"};

	snprintf(buf, cap, "%s:%s", per >= 1 && per <= 3 ? pers[per] : "?", name ? name : "");
	return buf;
}

double lr_stats_fleet_spent(const lr_stats_seg *s, int per, const char *name, long long now, int *known)
{
	char key[LR_STATS_NAME_MAX];
	lr_stats_totals fleet, pending, local;
	double v = 0;
	int k;

	lr_stats_fleet_key(per, name, key, sizeof(key));
	k = lr_stats_get_day(s, LR_STATS_FLEET_TOTAL, key, now, &fleet) == 0 && fleet.last_s > 0;
	/* a slot claimed but not yet read, or of another day, adds 0 */
	if (k)
		v = fleet.cost_usd;
	if (lr_stats_get(s, LR_STATS_FLEET_PENDING, key, &pending) == 0)
		v += pending.cost_usd;
	if (per >= LR_BUDGET_ROUTE && per <= LR_BUDGET_MODEL &&
	    lr_stats_get_day(s, LR_STATS_DAY_ROUTE + per - LR_BUDGET_ROUTE, name, now, &local) == 0 &&
	    local.cost_usd > v)
		v = local.cost_usd; /* Redis not reached today: this host's own spend is a floor */
	if (known)
		*known = k;
	return v;
}

int lr_stats_set_total(lr_stats_seg *s, int kind, const char *name, uint64_t day, long long nusd, long long at)
{
	lr_stats_slot *sl;

	if (!s || !name || !*name)
		return LR_EINVAL;
	if (!(sl = find_or_claim(s, kind, name))) {
		atomic_fetch_add(&s->dropped, 1);
		return LR_ETOOBIG;
	}
	if (nusd < 0)
		return 0;
	/* the day first: a reader that sees the new day with the old total
	 * reads yesterday's figure for one refresh, never today's as zero */
	atomic_store(&sl->day, day);
	atomic_store(&sl->cost_nusd, (uint64_t)nusd);
	atomic_store(&sl->last_s, at > 0 ? (uint64_t)at : 0);
	return 0;
}

uint64_t lr_stats_take(lr_stats_seg *s, uint32_t i, int kind, char *name, size_t cap)
{
	lr_stats_slot *sl;

	if (!s || i >= LR_STATS_SLOTS)
		return 0;
	sl = &s->slot[i];
	if (atomic_load_explicit(&sl->state, memory_order_acquire) != 2 || sl->kind != (uint32_t)kind ||
	    !atomic_load(&sl->cost_nusd))
		return 0;
	snprintf(name, cap, "%.*s", LR_STATS_NAME_MAX - 1, sl->name);
	return atomic_exchange(&sl->cost_nusd, 0);
}

void lr_stats_give_back(lr_stats_seg *s, int kind, const char *name, uint64_t n)
{
	lr_stats_slot *sl;

	if (s && name && *name && n && (sl = find_or_claim(s, kind, name)))
		atomic_fetch_add(&sl->cost_nusd, n);
}

/* Raises *v to at least x (never lowers: another process may have set a
 * later end). */
static void raise_to(_Atomic uint64_t *v, uint64_t x)
{
	uint64_t old = atomic_load(v);

	while (old < x && !atomic_compare_exchange_weak(v, &old, x))
		;
}

/* A new cool-down, unless one runs: the k-th in a row lasts
 * min_s * 2^(k-1), at most max_s.  One process wins starting it. */
void lr_stats_health_raise(lr_stats_seg *s, const char *name, long long until, unsigned long long fails)
{
	lr_stats_slot *sl;

	if (!s || !name || !*name || until <= 0 || !(sl = find_or_claim(s, LR_STATS_TARGET, name)))
		return;
	raise_to(&sl->down_until, (uint64_t)until);
	raise_to(&sl->fails_in_row, fails);
}

static void cool_down(lr_stats_slot *sl, long long now, unsigned min_s, unsigned max_s)
{
	uint64_t old = atomic_load(&sl->down_until), k = atomic_load(&sl->cooldowns), len;

	if (old > (uint64_t)now)
		return;
	if (!min_s || min_s > max_s)
		min_s = max_s;
	for (len = min_s; k > 0 && len < max_s; k--)
		len *= 2;
	if (len > max_s)
		len = max_s;
	if (atomic_compare_exchange_strong(&sl->down_until, &old, (uint64_t)now + len))
		atomic_fetch_add(&sl->cooldowns, 1);
}

long long lr_stats_health_fail(lr_stats_seg *s, const char *name, long long now, unsigned threshold,
			       unsigned cooldown_min_s, unsigned cooldown_s, unsigned retry_after_s)
{
	lr_stats_slot *sl;
	uint64_t row;

	if (!s || !name || !*name || now <= 0 || !(sl = find_or_claim(s, LR_STATS_TARGET, name)))
		return 0;
	row = atomic_fetch_add(&sl->fails_in_row, 1) + 1;
	if (threshold && row >= threshold)
		cool_down(sl, now, cooldown_min_s, cooldown_s);
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
	if (atomic_load(&sl->cooldowns))
		atomic_store(&sl->cooldowns, 0);
}

int lr_stats_health_state(const lr_stats_seg *s, const char *name, long long now, unsigned threshold)
{
	uint64_t h, row = 0, until = 0, u;
	uint32_t i;

	if (!s || !name)
		return 0;
	h = hash_key(LR_STATS_TARGET, name);
	for (i = 0; i < MAX_PROBES; i++) {
		lr_stats_slot *sl = (lr_stats_slot *)&s->slot[(h + i) % LR_STATS_SLOTS];
		if (!slot_is(sl, LR_STATS_TARGET, h, name))
			continue;
		if ((u = atomic_load(&sl->down_until)) > until)
			until = u;
		if ((u = atomic_load(&sl->fails_in_row)) > row)
			row = u;
	}
	if ((long long)until > now)
		return 1;
	return until && threshold && row >= threshold ? 2 : 0;
}

static const char *const via_names[] = LR_STATS_VIA_NAMES;
static const char *const timeout_names[] = LR_STATS_TIMEOUT_NAMES;

static int index_of(const char *const *names, int n, const char *name, size_t len)
{
	int i;

	for (i = 1; name && i < n; i++)
		if (strlen(names[i]) == len && strncmp(names[i], name, len) == 0)
			return i;
	return 0;
}

int lr_stats_via_index(const char *name)
{
	return name ? index_of(via_names, (int)(sizeof(via_names) / sizeof(via_names[0])), name, strlen(name)) : 0;
}

int lr_stats_timeout_index(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n > 8 && strcmp(name + n - 8, "_timeout") == 0)
		n -= 8;
	return index_of(timeout_names, (int)(sizeof(timeout_names) / sizeof(timeout_names[0])), name, n);
}

const char *lr_stats_via_name(int i)
{
	return i > 0 && i < (int)(sizeof(via_names) / sizeof(via_names[0])) ? via_names[i] : NULL;
}

const char *lr_stats_timeout_name(int i)
{
	return i > 0 && i < (int)(sizeof(timeout_names) / sizeof(timeout_names[0])) ? timeout_names[i] : NULL;
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
