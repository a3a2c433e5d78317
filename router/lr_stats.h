/*
 * lr_stats.h - live counters shared by every process on the host.
 *
 * A System V shared-memory segment beside the routing table (its key is a
 * hash of the table's name, lr_stats_key; `ipcs -m` lists it), so the
 * table itself stays read-only for the shim.
 * It is a fixed array of slots, one per (kind, name): a route or a model
 * (rarely two, when two processes claim one name at once: readers add up
 * slots with the same kind and name).
 * A slot is claimed once with a compare-and-swap and then only ever added
 * to with atomic adds, so any number of processes and threads update it
 * without locks, and a reader sees each counter whole (never torn, though
 * the counters of one slot are not a snapshot of one instant).
 *
 * `llmroutectl load` creates the segment with mode 0666 so that programs
 * of every user can count.  Its size is fixed when it is made and only its
 * creator, its owner or root can remove it, so no other user can make a
 * process that has it attached fault.  Any local user can change its
 * contents: every read here is bounded (fixed slots, at most MAX_PROBES
 * probes, names compared and printed with bounds), so arbitrary bytes give
 * wrong numbers, never a crash.  The numbers are advisory: routing policy
 * reads them (pool latency, daily budgets, cool-downs), a cost control
 * among cooperating programs, not a security boundary.
 *
 * Trust: a segment is used only if its creator and owner are root or our
 * effective uid, its size is ours and its header (magic stored last) is
 * whole; a header not yet whole reads as "not yet" (LR_EBUSY), and the next
 * `load` completes one left so by a killed creator.
 */
#ifndef LR_STATS_H
#define LR_STATS_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LR_STATS_MAGIC "LLMRSTA\0"
#define LR_STATS_LAYOUT 6u
#define LR_STATS_SLOTS 1024
#define LR_STATS_NAME_MAX 120

/* Latency histogram: the upper bounds (ms) of its buckets, the last one
 * open-ended; each duration counted lands in exactly one bucket, so their
 * sum is the number of durations (lr_stats_slot.latency_us is their sum). */
#define LR_STATS_LAT_BOUNDS_MS {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000}
#define LR_STATS_LAT_BUCKETS 15

enum {
	LR_STATS_ROUTE = 1, LR_STATS_MODEL = 2,
	LR_STATS_TARGET = 3,      /* a catalogue target: its latency moving average */
	LR_STATS_DAY_ROUTE = 4,   /* spend on the slot's day (UTC), for budgets: the */
	LR_STATS_DAY_PROCESS = 5, /* first add on a new day starts the slot afresh */
	LR_STATS_DAY_MODEL = 6,
	LR_STATS_UNAPPLIED = 7,   /* a route decided but not applied: the request
				   * went out as the app made it (not in ROUTE) */
	LR_STATS_UNREACHED = 8,   /* by host: TLS connections to an LLM host the
				   * shim could not see into (shim/lr_claim.h) */
	LR_STATS_FLEET_PENDING = 9, /* fleet budgets (shim/lr_fleet.h), by "PER:NAME": this
				     * host's spend not yet added to Redis (cost_nusd) */
	LR_STATS_FLEET_TOTAL = 10,  /* ... the fleet's spend on `day` as Redis last said
				     * (cost_nusd, stored whole), read at last_s */
};

/* What the attempts of resilient requests did, counted per route (by the
 * audit's llmroute.via of each attempt), and which of our time-outs ended
 * attempts (by error.type NAME_timeout).  Index 0 is "none"; the spare
 * rows leave room for kinds to come without a new layout. */
#define LR_STATS_VIA_NAMES {"", "retry", "fallback", "context", "escalation", "health", \
			    "without_timeout", "original", "continuation"}
#define LR_STATS_VIAS 12
#define LR_STATS_TIMEOUT_NAMES {"", "first_byte", "first_token", "idle"}
#define LR_STATS_TIMEOUTS 6

typedef struct {
	_Atomic uint32_t state;     /* 0 free, 1 being claimed, 2 in use */
	uint32_t kind;
	uint64_t hash;
	char name[LR_STATS_NAME_MAX];
	_Atomic uint64_t requests, errors;
	_Atomic uint64_t input_tokens, output_tokens;
	_Atomic uint64_t cost_nusd;   /* cost in nano-dollars */
	_Atomic uint64_t latency_us;  /* sum of request durations */
	_Atomic uint64_t ema_us;      /* moving average of durations (1/8 weight to the newest) */
	_Atomic uint64_t last_s;      /* unix time of the last duration counted */
	_Atomic uint64_t day;         /* day kinds: the day (since 1970, UTC) counted */
	_Atomic uint64_t fails_in_row;/* TARGET: failed attempts since the last success */
	_Atomic uint64_t down_until;  /* TARGET: unix time its cool-down ends, 0 if none */
	_Atomic uint64_t latency_bucket[LR_STATS_LAT_BUCKETS]; /* durations per bucket (not cumulative) */
	_Atomic uint64_t cooldowns;   /* TARGET: cool-downs in a row (each doubles the next) */
	_Atomic uint64_t via[LR_STATS_VIAS];         /* ROUTE: attempts made by each kind */
	_Atomic uint64_t timeouts[LR_STATS_TIMEOUTS]; /* ROUTE: attempts ended by each time-out */
} lr_stats_slot;

typedef struct {
	_Atomic uint64_t magic;       /* LR_STATS_MAGIC's 8 bytes, stored last (release) */
	uint32_t layout, nslots;
	_Atomic uint64_t dropped;     /* updates that found no free slot */
	uint64_t reserved[4];
	lr_stats_slot slot[LR_STATS_SLOTS];
} lr_stats_seg;

typedef struct {
	long long requests_add, errors_add, input_tokens, output_tokens;
	double cost_usd, duration_ms;
	int via, timeout;             /* indexes in the names above, 0: none */
} lr_stats_delta;

/* The index of a via or time-out kind by its name ("fallback";
 * "first_byte" or "first_byte_timeout"), 0 when unknown or NULL; the name
 * of index i, NULL past the last. */
int lr_stats_via_index(const char *name);
int lr_stats_timeout_index(const char *name);
const char *lr_stats_via_name(int i);
const char *lr_stats_timeout_name(int i);

/* The System V IPC key of the counters of table `table` (a hash of its
 * name; never IPC_PRIVATE). */
key_t lr_stats_key(const char *table);

/* Attaches the counters of table `table`, read-write if `writable`.
 * Returns the mapping (lr_stats_detach), or NULL with *err (may be NULL):
 * LR_ENOTFOUND (none), LR_EBUSY (its header is not whole yet: try again
 * later), LR_EUNTRUSTED (made or owned by another user), LR_EVERSION (not
 * our size, magic or layout) or LR_EIO; *why (may be NULL) says why.
 * *shmid (may be NULL) gets the segment's id. */
lr_stats_seg *lr_stats_attach(const char *table, int writable, int *shmid, int *err, const char **why);
void lr_stats_detach(lr_stats_seg *s);

/* The id of the segment at the key of `table` now, or -1: one system call,
 * for holders to notice that `unload --force` and `load` replaced it. */
int lr_stats_current_id(const char *table);

/* For `llmroutectl load`: makes the counters of `table` exist and be whole.
 * A new segment is created exclusively, mode 0600, its header filled (magic
 * last), then opened up to 0666.  One of ours left without a header, with a
 * damaged one or a narrower mode is completed; as root, one made by another
 * user or of another size under our key is removed first.  Returns 0 with
 * *note NULL or a static sentence saying what was repaired or replaced;
 * LR_EUNTRUSTED when another user's segment holds the key (*why names the
 * key); LR_EIO. */
int lr_stats_ensure(const char *table, const char **note, const char **why);

/* Removes the counters of `table` (`unload --force`): the key is free at
 * once, attached processes keep their mapping.  Returns 0, LR_ENOTFOUND
 * or LR_EIO (not ours, errno says why). */
int lr_stats_remove(const char *table);

/* Adds d to the slot (kind, name), claiming it if new.  Returns 0, or
 * LR_ETOOBIG when every slot is taken (counted in `dropped`). */
int lr_stats_add(lr_stats_seg *s, int kind, const char *name, const lr_stats_delta *d);

typedef struct {
	unsigned long long requests, errors;
	double cost_usd;
	double ema_ms;                /* < 0 when no duration was counted */
	long long last_s;             /* unix time of the last duration, 0 if none */
} lr_stats_totals;

/* Adds up the slots (kind, name) into *out.  Returns 0, or LR_ENOTFOUND
 * when there is none (out zeroed, ema_ms -1). */
int lr_stats_get(const lr_stats_seg *s, int kind, const char *name, lr_stats_totals *out);

/* For the day kinds: adds d to (kind, name) for the UTC day of unix time
 * `now`; a slot still holding an earlier day is zeroed first, so one slot
 * per name serves every day.  Returns as lr_stats_add. */
int lr_stats_add_day(lr_stats_seg *s, int kind, const char *name, long long now, const lr_stats_delta *d);

/* For the day kinds: what (kind, name) counted on the UTC day of `now`
 * (zero when its slot holds another day).  Returns as lr_stats_get. */
int lr_stats_get_day(const lr_stats_seg *s, int kind, const char *name, long long now, lr_stats_totals *out);

/* The counters' name of a fleet budget (per: LR_BUDGET_*, name: the
 * route, process or model): "route:NAME", "process:NAME", "model:NAME". */
const char *lr_stats_fleet_key(int per, const char *name, char *buf, size_t cap);

/* What a fleet budget has spent on the UTC day of `now`, as this host
 * knows it: the fleet's total Redis last gave, plus this host's spend not
 * yet in Redis; never less than this host's own day spend (the day kind
 * of per).  *known (may be NULL) is 1 when Redis has given a total today. */
double lr_stats_fleet_spent(const lr_stats_seg *s, int per, const char *name, long long now, int *known);

/* For LR_STATS_FLEET_TOTAL: makes (kind, name) hold `nusd` for `day`
 * (stored, not added), read at unix time `at`; with nusd < 0 only claims
 * the slot (so the shim's fleet thread starts reading it).  Returns as
 * lr_stats_add. */
int lr_stats_set_total(lr_stats_seg *s, int kind, const char *name, uint64_t day, long long nusd, long long at);

/* For LR_STATS_FLEET_PENDING: takes what slot i counted (cost_nusd, set to
 * 0 in one atomic exchange, so two takers never both get it) and its name.
 * Returns the nano-dollars taken, 0 for a slot of another kind or empty. */
uint64_t lr_stats_take(lr_stats_seg *s, uint32_t i, int kind, char *name, size_t cap);

/* Gives back n nano-dollars taken from (kind, name) that could not be
 * handed on (Redis failed before it said it had them). */
void lr_stats_give_back(lr_stats_seg *s, int kind, const char *name, uint64_t n);

/* The bucket of a duration of `ms` milliseconds: 0 .. LR_STATS_LAT_BUCKETS-1. */
int lr_stats_lat_bucket(double ms);

/* The upper bound of bucket i in milliseconds; < 0 for the last (+Inf). */
double lr_stats_lat_bound_ms(int i);

/* "YYYY-MM-DD" for a day number, into buf. */
const char *lr_stats_day_str(unsigned long long day, char *buf, size_t cap);

/*
 * Health of a target (kind LR_STATS_TARGET), shared by every process:
 * lr_stats_health_fail() counts a failed attempt; `threshold` failures in
 * a row put the target in cool-down: the first for cooldown_min_s, each
 * next one in a row (its probe failed) twice as long, up to cooldown_s.
 * A Retry-After of retry_after_s (> 0) cools it at once, for that long
 * (capped at cooldown_s).  A failure while it cools down already does not
 * lengthen the cool-down.  Returns the end of the cool-down (unix time) or 0.
 * lr_stats_health_ok() counts a success: the row, the cool-downs and their
 * end.  lr_stats_down_until() is the cool-down's end if it is later than
 * `now`, else 0.  lr_stats_health_state() is 0 (healthy), 1 (cooling down)
 * or 2 (on probation: a cool-down ended and nothing succeeded since, so
 * its next failure cools it again at once).
 */
long long lr_stats_health_fail(lr_stats_seg *s, const char *name, long long now, unsigned threshold,
			       unsigned cooldown_min_s, unsigned cooldown_s, unsigned retry_after_s);
void lr_stats_health_ok(lr_stats_seg *s, const char *name);
long long lr_stats_down_until(const lr_stats_seg *s, const char *name, long long now);
int lr_stats_health_state(const lr_stats_seg *s, const char *name, long long now, unsigned threshold);

/* Another host (through the fleet's Redis) has target `name` cooling down
 * until `until` after `fails` failures in a row: raises this host's
 * cool-down end and row to at least those (never lowers them). */
void lr_stats_health_raise(lr_stats_seg *s, const char *name, long long until, unsigned long long fails);

/* Zeroes every counter (names stay). */
void lr_stats_reset(lr_stats_seg *s);

#endif
