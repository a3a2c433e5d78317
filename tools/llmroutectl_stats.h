/*
 * llmroutectl_stats.h - what `stats` and its Prometheus export share: the
 * sums of the live counters' slots (router/lr_stats.h).
 */
#ifndef LLMROUTECTL_STATS_H
#define LLMROUTECTL_STATS_H
#include <stdint.h>
#include "lr_stats.h"

typedef struct {
	unsigned long long requests, errors, in, out, cost_nusd, latency_us;
	unsigned long long bucket[LR_STATS_LAT_BUCKETS]; /* durations per bucket, not cumulative */
	unsigned long long via[LR_STATS_VIAS];         /* attempts by kind (routes) */
	unsigned long long timeouts[LR_STATS_TIMEOUTS]; /* attempts ended by each time-out (routes) */
} ctl_totals;

/* Sums every slot of slot i's kind and name into *t (two processes
 * claiming one name at once can give it two slots).  Returns 0 if an
 * earlier slot had that kind and name (it was counted there), else 1. */
int ctl_stats_gather(const lr_stats_seg *s, uint32_t i, ctl_totals *t);

/* `stats --prometheus [--textfile FILE [--interval S]]`; argv as ctl_stats
 * got it.  Returns an exit code; dies on usage errors. */
int ctl_stats_prom(int argc, char **argv, const char *usage);

#endif
