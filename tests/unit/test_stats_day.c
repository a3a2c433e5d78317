/*
 * test_stats_day.c - the day counters budgets read: a slot counts one UTC
 * day, the first add of a new day starts it afresh (so the slots never
 * fill up with past days), and a read for another day sees nothing.
 */
#include "lr_error.h"
#include "lr_stats.h"
#include "lr_test.h"
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	char name[64];
	lr_stats_seg *s;
	lr_stats_totals t;
	lr_stats_delta d = {1, 0, 10, 5, 0.25, 3, 0, 0};
	const long long day1 = 1795000000, day2 = day1 + 86400;
	int i;

	const char *note, *why;

	snprintf(name, sizeof(name), "/lrtest-day-%ld", (long)getpid());
	CHECK_INT(lr_stats_ensure(name, &note, &why), 0);
	s = lr_stats_attach(name, 1, NULL, NULL, NULL);
	CHECK(s != NULL);
	if (!s)
		return lr_test_done("test_stats_day");
	CHECK_INT(lr_stats_add_day(s, LR_STATS_DAY_ROUTE, "r", day1, &d), 0);
	CHECK_INT(lr_stats_add_day(s, LR_STATS_DAY_ROUTE, "r", day1 + 60, &d), 0);
	CHECK_INT(lr_stats_get_day(s, LR_STATS_DAY_ROUTE, "r", day1, &t), 0);
	CHECK(t.cost_usd > 0.49 && t.cost_usd < 0.51);
	CHECK_INT(t.requests, 2);
	/* the next day starts from zero, in the same slot */
	CHECK_INT(lr_stats_get_day(s, LR_STATS_DAY_ROUTE, "r", day2, &t), LR_ENOTFOUND);
	CHECK_INT(lr_stats_add_day(s, LR_STATS_DAY_ROUTE, "r", day2, &d), 0);
	CHECK_INT(lr_stats_get_day(s, LR_STATS_DAY_ROUTE, "r", day2, &t), 0);
	CHECK_INT(t.requests, 1);
	CHECK_INT(lr_stats_get_day(s, LR_STATS_DAY_ROUTE, "r", day1, &t), LR_ENOTFOUND);
	/* a late writer with yesterday's clock does not reset today */
	CHECK_INT(lr_stats_add_day(s, LR_STATS_DAY_ROUTE, "r", day1, &d), 0);
	CHECK_INT(lr_stats_get_day(s, LR_STATS_DAY_ROUTE, "r", day2, &t), 0);
	CHECK_INT(t.requests, 1);
	/* 3000 days of one route take one slot */
	for (i = 0; i < 3000; i++)
		lr_stats_add_day(s, LR_STATS_DAY_ROUTE, "many", day1 + (long long)i * 86400, &d);
	CHECK_INT(atomic_load(&s->dropped), 0);
	CHECK_INT(lr_stats_get_day(s, LR_STATS_DAY_ROUTE, "many", day1 + 2999LL * 86400, &t), 0);
	CHECK_INT(t.requests, 1);
	lr_stats_detach(s);
	lr_stats_remove(name);
	return lr_test_done("test_stats_day");
}
