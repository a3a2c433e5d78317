/*
 * lr_fleet.h - fleet budgets and target health shared through Redis.
 *
 * A table with "fleet" makes each shim process run one background thread
 * (started at the first decision under such a table, every signal
 * blocked, restarted lazily in a forked child) that every refresh_ms:
 *   1. adds this host's spend not yet in Redis (the counters segment's
 *      LR_STATS_FLEET_PENDING slots, taken with an atomic exchange) to the
 *      day's key PREFIX budget:PER:NAME:YYYY-MM-DD with INCRBY (nano-USD,
 *      exact) and EXPIRE 3 days; the INCRBY's answer is the fleet total;
 *   2. reads the fleet totals of every budget this host checks (GET) into
 *      the LR_STATS_FLEET_TOTAL slots;
 *   3. publishes the targets this host has put in cool-down (SET
 *      PREFIX health:TARGET "UNTIL FAILS" with an expiry) and raises the
 *      local cool-down of any target another host cooled down.
 * The request path never talks to Redis: a fleet budget's spend is the
 * segment's total plus this host's pending spend (a few atomic loads),
 * and at least this host's own day spend.
 *
 * Redis slow or down: the thread gives up an exchange after IO_MS, logs
 * once, and retries every RETRY_MS; the pending slots keep growing (the
 * host goes on with its own counters), and the next successful flush adds
 * all of it.  A reply lost with the connection may make a spend count
 * twice, never zero times (budgets err on the safe side).
 */
#ifndef LR_FLEET_H
#define LR_FLEET_H
#include "lr_stats.h"
#include "lr_table.h"

/* The table in force has a "fleet": start the thread if it is not running
 * (and take the table's settings).  Cheap when it runs.  Never blocks. */
void lr_fleet_kick(const lr_table *t);

/* A fleet budget's spend today (USD): per is LR_BUDGET_*, name the route,
 * process or model.  -1 when there is no counters segment. */
double lr_fleet_spent(lr_stats_seg *seg, int per, const char *name, long long now);

/* A request of a route with a fleet budget cost nusd nano-dollars: counted
 * as pending for the thread to add to Redis. */
void lr_fleet_count(lr_stats_seg *seg, int per, const char *name, uint64_t nusd);

/* The host is closing descriptors first..last (lr_sock.c's hooks). */
void lr_fleet_closing(unsigned first, unsigned last);

/* For lr_fork.c. */
void lr_fleet_atfork(int phase);

#endif
