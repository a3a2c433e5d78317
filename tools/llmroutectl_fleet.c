/*
 * llmroutectl_fleet.c - `llmroutectl stats --fleet`: the fleet-wide view
 * straight from the rules' Redis (shim/lr_resp.h): each fleet budget's
 * spend today against its limit, and each target's shared cool-down.
 *
 * Budgets per route are listed from the table; per-process and per-model
 * ones by the names this host has checked (its counters segment), since
 * the table cannot know them.  The password comes from the variable the
 * rules name and is sent, never printed.
 */
#include "llmroutectl.h"
#include "lr_resp.h"
#include "lr_shm.h"
#include "lr_stats.h"
#include "lr_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IO_MS 2000

/* One GET; 1 and *v when there is a value, 0 when absent. */
static int get(lr_resp *c, const char *key, char *v, size_t cap)
{
	const char *argv[] = {"GET", key};
	lr_resp_reply rep;

	if (lr_resp_append(c, 2, argv, NULL) < 0 || lr_resp_exchange(c, &rep, 1, IO_MS) != 1)
		ctl_die(EX_SYSTEM, "fleet: Redis stopped answering");
	if (rep.type == '-')
		ctl_die(EX_SYSTEM, "fleet: Redis refused GET: %s", rep.str);
	snprintf(v, cap, "%s", rep.nil ? "" : rep.str);
	return !rep.nil;
}

static void greet(lr_resp *c, const lr_table *t)
{
	const char *env = lr_table_str(t, t->fleet_password_env), *pw = env ? getenv(env) : NULL;
	const char *host = lr_table_str(t, t->fleet_host);
	char db[16], why[160];
	lr_resp_reply rep[2];
	int n = 0;

	if (t->fleet_tls) {
		/* the same client and checks as the shim's (no password before them) */
		if (lr_resp_connect_tls(c, host, t->fleet_port, lr_table_str(t, t->fleet_ca_file), IO_MS, why,
					sizeof(why)) < 0)
			ctl_die(EX_SYSTEM, "fleet: no TLS connection to Redis at %s:%u: %s", host, t->fleet_port, why);
	} else if (lr_resp_connect(c, host, t->fleet_port, IO_MS) < 0)
		ctl_die(EX_SYSTEM, "fleet: cannot connect to Redis at %s:%u", host, t->fleet_port);
	if (pw && *pw) {
		const char *auth[] = {"AUTH", pw};
		lr_resp_append(c, 2, auth, NULL);
		n++;
	}
	snprintf(db, sizeof(db), "%u", t->fleet_db);
	const char *sel[] = {"SELECT", db};
	lr_resp_append(c, 2, sel, NULL);
	n++;
	if (lr_resp_exchange(c, rep, n, IO_MS) != n || rep[0].type == '-' || rep[n - 1].type == '-')
		ctl_die(EX_SYSTEM, "fleet: Redis refused %s", n == 2 ? "the password (or SELECT)" : "SELECT");
}

static void budget_line(lr_resp *c, const lr_table *t, const char *key, double limit)
{
	char rkey[512], day[16], v[LR_RESP_STR_MAX];

	lr_stats_day_str((unsigned long long)time(NULL) / 86400, day, sizeof(day));
	snprintf(rkey, sizeof(rkey), "%sbudget:%s:%s", lr_table_str(t, t->fleet_prefix), key, day);
	get(c, rkey, v, sizeof(v));
	printf("  %-40s %.6f of %g USD today\n", key, v[0] ? strtod(v, NULL) / 1e9 : 0.0, limit);
}

static void budgets(lr_resp *c, const lr_table *t)
{
	const lr_stats_seg *seg = lr_stats_attach(lr_shm_name(), 0, NULL, NULL, NULL);
	char key[LR_STATS_NAME_MAX];
	uint32_t i, k;

	printf("fleet budgets (spent of limit):\n");
	for (i = 0; i < t->nroutes; i++) {
		const lr_route *rt = &lr_table_routes(t)[i];
		if (!(rt->flags & LR_ROUTE_BUDGET_FLEET))
			continue;
		if (rt->budget_per == LR_BUDGET_ROUTE) {
			budget_line(c, t, lr_stats_fleet_key(LR_BUDGET_ROUTE, lr_table_str(t, rt->name), key, sizeof(key)),
				    rt->budget_usd);
			continue;
		}
		/* per process or model: the names this host has checked */
		lr_stats_fleet_key((int)rt->budget_per, "", key, sizeof(key));
		for (k = 0; seg && k < LR_STATS_SLOTS; k++)
			if (atomic_load(&seg->slot[k].state) == 2 && seg->slot[k].kind == LR_STATS_FLEET_TOTAL &&
			    !strncmp(seg->slot[k].name, key, strlen(key)))
				budget_line(c, t, seg->slot[k].name, rt->budget_usd);
	}
	if (seg)
		lr_stats_detach((lr_stats_seg *)seg);
}

static void health(lr_resp *c, const lr_table *t)
{
	char key[512], v[LR_RESP_STR_MAX];
	long long until, now = (long long)time(NULL);
	unsigned long long fails;
	uint32_t i;

	printf("fleet target health:\n");
	for (i = 0; i < t->ntargets; i++) {
		const char *name = lr_table_str(t, lr_table_targets(t)[i].name);
		snprintf(key, sizeof(key), "%shealth:%s", lr_table_str(t, t->fleet_prefix), name);
		until = 0;
		fails = 0;
		if (get(c, key, v, sizeof(v)))
			sscanf(v, "%lld %llu", &until, &fails);
		if (until > now)
			printf("  %-40s cooling down for %lld s more (%llu failures in a row)\n", name, until - now, fails);
		else
			printf("  %-40s healthy\n", name);
	}
}

int ctl_stats_fleet(void)
{
	lr_shm s;
	size_t len;
	uint64_t gen;
	lr_table *t;
	lr_resp c;

	if (ctl_attach(&s) == EX_NOTFOUND)
		ctl_die(EX_NOTFOUND, "no table at %s", lr_shm_name());
	t = ctl_snapshot(&s, &len, &gen);
	lr_shm_close(&s);
	if (!t)
		ctl_die(EX_NOTFOUND, "no table at %s", lr_shm_name());
	if (!t->fleet_host.off)
		ctl_die(EX_USAGE, "the rules of %s have no \"fleet\"", lr_shm_name());
	lr_resp_init(&c);
	greet(&c, t);
	printf("fleet: Redis %s:%u db %u%s, prefix \"%s\"\n", lr_table_str(t, t->fleet_host), t->fleet_port,
	       t->fleet_db, t->fleet_tls ? " over TLS" : "", lr_table_str(t, t->fleet_prefix));
	budgets(&c, t);
	health(&c, t);
	lr_resp_close(&c);
	lr_resp_free(&c);
	free(t);
	return 0;
}
