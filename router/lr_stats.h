/*
 * lr_stats.h - live counters shared by every process on the host.
 *
 * A second shared-memory segment beside the routing table (its name is the
 * table's plus ".stats"), so the table itself stays read-only for the shim.
 * It is a fixed array of slots, one per (kind, name): a route or a model
 * (rarely two, when two processes claim one name at once: readers add up
 * slots with the same kind and name).
 * A slot is claimed once with a compare-and-swap and then only ever added
 * to with atomic adds, so any number of processes and threads update it
 * without locks, and a reader sees each counter whole (never torn, though
 * the counters of one slot are not a snapshot of one instant).
 *
 * The segment is created by `llmroutectl load` with mode 0666 so that
 * programs of every user can count: the counters are advisory, and any
 * local user can change them.  Routing policy reads them (pool latency,
 * daily budgets): a cost control among cooperating programs, not a
 * security boundary.
 */
#ifndef LR_STATS_H
#define LR_STATS_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define LR_STATS_MAGIC "LLMRSTA\0"
#define LR_STATS_LAYOUT 3u
#define LR_STATS_SLOTS 1024
#define LR_STATS_NAME_MAX 120

enum {
	LR_STATS_ROUTE = 1, LR_STATS_MODEL = 2,
	LR_STATS_TARGET = 3,      /* a catalogue target: its latency moving average */
	LR_STATS_DAY_ROUTE = 4,   /* spend on the slot's day (UTC), for budgets: the */
	LR_STATS_DAY_PROCESS = 5, /* first add on a new day starts the slot afresh */
	LR_STATS_DAY_MODEL = 6,
};

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
} lr_stats_slot;

typedef struct {
	char magic[8];
	uint32_t layout, nslots;
	_Atomic uint64_t dropped;     /* updates that found no free slot */
	uint64_t reserved[4];
	lr_stats_slot slot[LR_STATS_SLOTS];
} lr_stats_seg;

typedef struct {
	long long requests_add, errors_add, input_tokens, output_tokens;
	double cost_usd, duration_ms;
} lr_stats_delta;

/* "NAME.stats" for table NAME, into buf.  Returns buf. */
const char *lr_stats_name(const char *table, char *buf, size_t cap);

/* Opens (creating with `create`, mode 0666) and maps the segment.
 * Returns the mapping or NULL (*why says why).  A reader (!writable) maps it
 * read-only.  The segment must carry our magic, layout and size. */
lr_stats_seg *lr_stats_open(const char *name, int create, int writable, const char **why);

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

/* "YYYY-MM-DD" for a day number, into buf. */
const char *lr_stats_day_str(unsigned long long day, char *buf, size_t cap);

/*
 * Health of a target (kind LR_STATS_TARGET), shared by every process:
 * lr_stats_health_fail() counts a failed attempt; `threshold` failures in
 * a row put the target in cool-down for `cooldown_s`, and a Retry-After of
 * retry_after_s (> 0) does at once, for that long (capped at cooldown_s
 * unless that is shorter).  Returns the end of the cool-down (unix time) or 0.
 * lr_stats_health_ok() counts a success: the row and the cool-down end.
 * lr_stats_down_until() is the cool-down's end if it is later than `now`,
 * else 0.
 */
long long lr_stats_health_fail(lr_stats_seg *s, const char *name, long long now, unsigned threshold,
			       unsigned cooldown_s, unsigned retry_after_s);
void lr_stats_health_ok(lr_stats_seg *s, const char *name);
long long lr_stats_down_until(const lr_stats_seg *s, const char *name, long long now);

/* Zeroes every counter (names stay). */
void lr_stats_reset(lr_stats_seg *s);

#endif
