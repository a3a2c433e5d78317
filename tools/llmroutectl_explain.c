/*
 * llmroutectl_explain.c - `llmroutectl explain`: what would happen to a
 * request, and why, without sending anything.
 *
 * It runs the very functions the shim runs (lr_request_init,
 * lr_intent_apply, lr_decide, lr_plan_make, lr_plan_body) on the live table
 * or on a rules file, and
 * prints each route's verdict, so an operator can see why a rule did or did
 * not fire.
 */
#include "llmroutectl.h"
#include "lr_body.h"
#include "lr_error.h"
#include "lr_engine.h"
#include "lr_guard.h"
#include "lr_choose.h"
#include "lr_glob.h"
#include "lr_shm.h"
#include "lr_answer.h"
#include "lr_attempt.h"
#include "lr_splice.h"
#include "lr_stats.h"
#include "lr_intent.h"
#include "lr_plan.h"
#include "lr_plan_xlate.h"
#include "lr_request.h"
#include "lr_url.h"
#include "lr_table.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char explain_usage[] =
	"usage: llmroutectl explain --url URL [--body FILE|-] [--process NAME]\n"
	"                           [--rules FILE] [--show-body]\n"
	"  print the routing decision for a request without sending it:\n"
	"  detection, each route's verdict, the rewritten URL, model and\n"
	"  credentials.  --rules explains against a file instead of the live table.\n";

static const char *field_name[LR_F_NSTR] = {"model", "host", "operation", "provider", "process",
					    "intent", "user_text", "system_text"};
static const char *num_name[LR_F_NNUM] = {"prompt_tokens", "max_tokens", "stream", "tools", "images",
					  "json", "messages", "intent_confidence", "temperature"};
static const char *op_name[] = {"", "glob", ">", ">=", "<", "<=", "=="};

typedef struct {
	const char *url, *body_file, *process, *rules;
	int show_body;
} opts;

static void parse_opts(int argc, char **argv, opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (ctl_is_help(a)) {
			fputs(explain_usage, stdout);
			exit(EX_DONE);
		}
		if (!strcmp(a, "--show-body")) {
			o->show_body = 1;
			continue;
		}
		if (!v)
			ctl_die(EX_USAGE, "%s needs a value\n%s", a, explain_usage);
		i++;
		if (!strcmp(a, "--url"))
			o->url = v;
		else if (!strcmp(a, "--body"))
			o->body_file = v;
		else if (!strcmp(a, "--process"))
			o->process = v;
		else if (!strcmp(a, "--rules"))
			o->rules = v;
		else
			ctl_die(EX_USAGE, "unknown option %s\n%s", a, explain_usage);
	}
	if (!o->url)
		ctl_die(EX_USAGE, "--url is required\n%s", explain_usage);
}

static lr_table *load_table(const opts *o, char *label, size_t cap)
{
	size_t len, blen;
	uint64_t gen;
	lr_shm s;
	lr_table *t;
	char *text;

	if (o->rules) {
		text = ctl_read_file(o->rules, &len);
		t = ctl_compile(o->rules, text, len, &blen);
		free(text);
		snprintf(label, cap, "rules file %s", o->rules);
		return t;
	}
	if (ctl_attach(&s) == EX_NOTFOUND) {
		snprintf(label, cap, "no table at %s", lr_shm_name());
		return NULL;
	}
	t = ctl_snapshot(&s, &len, &gen);
	snprintf(label, cap, "table %s generation %llu", lr_shm_name(), (unsigned long long)gen);
	lr_shm_close(&s);
	return t;
}

static void print_verdicts(const lr_table *t, const lr_request *r, int chosen)
{
	uint32_t i, k;

	for (i = 0; t && i < t->nroutes; i++) {
		const lr_route *rt = &lr_table_routes(t)[i];
		const lr_cond *c = lr_table_conds(t) + rt->cond_first;
		printf("  %3u %-20s ", i + 1, lr_table_str(t, rt->name));
		if (!(rt->flags & LR_ROUTE_ENABLED)) {
			puts("skipped: disabled");
			continue;
		}
		if ((int)i > chosen && chosen >= 0) {
			puts("not reached: an earlier route matched");
			continue;
		}
		for (k = 0; k < rt->cond_count && lr_cond_holds(t, &c[k], &r->f); k++)
			;
		if (k == rt->cond_count) {
			puts(rt->cond_count ? "MATCH: every condition holds" : "MATCH: no conditions");
			continue;
		}
		if (c[k].field >= LR_F_NUM)
			printf("no: %s is %g, not %s %g\n", num_name[c[k].field - LR_F_NUM],
			       r->f.num[c[k].field - LR_F_NUM], op_name[c[k].op], c[k].num);
		else
			printf("no: %s \"%.*s\" does not match \"%s\"\n", field_name[c[k].field],
			       (int)(r->f.len[c[k].field] > 80 ? 80 : r->f.len[c[k].field]),
			       r->f.str[c[k].field] ? r->f.str[c[k].field] : "", lr_table_str(t, c[k].str));
	}
}

static const char *cred_text(const lr_plan *p)
{
	switch (p->cred) {
	case LR_CRED_REPLACE: return "replaced by the value of $";
	case LR_CRED_DROP: return "dropped: the request leaves for another host";
	}
	return "kept as the app sent them";
}

static void print_params(const lr_table *t, const lr_decision *d)
{
	const lr_param_rec *p = lr_table_params(t) + d->route->param_first;
	uint32_t i;

	for (i = 0; i < d->route->param_count; i++) {
		if (p[i].op == LR_PARAM_SYSTEM_PREFIX)
			printf("system:      prepends \"%s\"\n", lr_table_str(t, p[i].raw));
		else
			printf("parameter:   %s %s %s\n", lr_table_str(t, p[i].key),
			       p[i].op == LR_PARAM_CAP ? "capped at" : "set to", lr_table_str(t, p[i].raw));
	}
}

/* --- resilience: fallbacks, health, escalation, cache ----------------------- */

static const char *chain_name(const lr_table *t, uint32_t target)
{
	return target == LR_TARGET_ORIGINAL ? "original" : lr_table_str(t, lr_table_targets(t)[target].name);
}

static void print_cooling(const lr_stats_seg *seg, const lr_table *t, const char *name)
{
	long long now = (long long)time(NULL), until = seg ? lr_stats_down_until(seg, name, now) : 0;

	if (until)
		printf("health:      %s cooling down for %lld s more\n", name, until - now);
	else if (seg && lr_stats_health_state(seg, name, now, t->health_failures) == LR_HEALTH_PROBATION)
		printf("health:      %s on probation (its cool-down ended, nothing answered since):\n"
		       "             the next attempt goes to it, without retries; a failure cools it again\n", name);
}

/* Retries, and the targets a context overflow goes to (as the shim
 * computes them for this request). */
static void print_retries_context(const lr_table *t, const lr_decision *d, const lr_request *r)
{
	const lr_route *rt = d->route;
	lr_attempt_env env = {0};
	lr_attempt a;
	int i, base, n = 0;

	if (rt->retries)
		printf("retries:     %u at the same target (5xx, 408, 429 without Retry-After, refused or reset\n"
		       "             connection, nothing back), back-off up to %u ms doubling each time, full jitter\n",
		       rt->retries, rt->retry_backoff_ms);
	else
		printf("retries:     none: a failure goes to the next step at once\n");
	if (!rt->context_mode || lr_attempt_init(&a, t, d, &env, r, 0) < 0)
		return;
	base = 1 + a.nfall + a.nesc;
	printf("context:     a 400 saying the request is too long (window %s%.0f) goes to",
	       a.window[0] > 0 ? "" : "unknown, ", a.window[0]);
	for (i = base; i < base + a.nctx; i++) {
		if (strcmp(a.step[i], a.step[0]) == 0 || (a.window[i] > 0 && a.window[0] > 0 && a.window[i] <= a.window[0]))
			continue; /* never the same target, nor a smaller window (lr_attempt) */
		if (a.window[i] > 0)
			printf(" %s (%.0f)", a.step[i], a.window[i]);
		else
			printf(" %s (window unknown)", a.step[i]);
		n++;
	}
	printf("%s\n", n ? ", in that order" : " nothing (no target of the route has a larger known window): the app gets it");
	lr_attempt_free(&a);
}

/* The route's stream keys, and what they do to this request. */
static void print_streams(const lr_route *rt, const lr_request *r)
{
	int can = lr_splice_supported(r->det.format, r->det.operation);

	if (rt->first_token_ms)
		printf("first token: %u ms from the answer head to its first body byte (a stream: data event),\n"
		       "             per attempt while a later step is left; the head is held until then\n",
		       rt->first_token_ms);
	if (rt->idle_ms)
		printf("idle:        %u ms at most between a stream's chunks, while a later step is left\n", rt->idle_ms);
	if (rt->flags & LR_ROUTE_STREAM_HOLD)
		printf("streams:     held until complete, then passed (a cut one goes to the next step)\n");
	else if (rt->fallback_count && rt->stream_continue != LR_CONTINUE_OFF)
		printf("streams:     one cut after text reached the app is continued by %s%s\n",
		       rt->stream_continue == LR_CONTINUE_SAME ? "the same target, then the next step"
							       : "the next step",
		       can ? "" : " (not this request's format: it is not followed)");
	else if (rt->fallback_count)
		printf("streams:     a stream cut after text reached the app is the app's (stream_continue off)\n");
}

static void print_resil(const lr_table *t, const lr_decision *d, const lr_request *r, const lr_stats_seg *seg)
{
	const lr_route *rt = d->route;
	const lr_chain_rec *ch = lr_table_chains(t) + rt->chain_first;
	char key[100];
	uint32_t i, k;

	if (!lr_attempt_wanted(d))
		return;
	snprintf(key, sizeof(key), "route:%s", lr_table_str(t, rt->name));
	print_cooling(seg, t, d->target >= 0 ? lr_table_str(t, lr_table_targets(t)[d->target].name) : key);
	print_retries_context(t, d, r);
	if (rt->fallback_count) {
		printf("fallbacks:   ");
		for (i = 0; i < rt->fallback_count; i++)
			printf("%s%s", i ? ", " : "", chain_name(t, ch[i].target));
		printf("  (on no connection, %snothing or garbage back, a connection dropped before\n"
		       "             the answer reached the app, 408, 429, 5xx; Retry-After up to %u ms waited for)\n",
		       rt->timeout_ms ? "no answer head in time, " : "", rt->retry_after_max_ms);
		for (i = 0; i < rt->fallback_count; i++)
			if (ch[i].target != LR_TARGET_ORIGINAL)
				print_cooling(seg, t, chain_name(t, ch[i].target));
	}
	if (rt->timeout_ms)
		printf("time-out:    %u ms for the answer head, per attempt while a later step is left\n"
		       "             (a step cut short is sent again without it if every later step fails)\n",
		       rt->timeout_ms);
	print_streams(rt, r);
	if (rt->escalate_count) {
		printf("escalate:    when");
		for (k = 1; k <= LR_GATE_INVALID_JSON; k <<= 1)
			if (rt->escalate_when & k)
				printf(" %s", lr_gate_name(k));
		printf(" (non-streaming answers) to");
		for (i = rt->fallback_count; i < rt->fallback_count + rt->escalate_count; i++)
			printf(" %s", chain_name(t, ch[i].target));
		printf("\n");
	}
	if (rt->cache_ttl_s) {
		printf("cache:       answers kept %u s", rt->cache_ttl_s);
		if (rt->cache_max_temperature >= 0)
			printf(", for requests with temperature <= %g", rt->cache_max_temperature);
		printf(" (llmroutectl cache stats)\n");
	}
}

/* --- live numbers: the counters segment, read-only ---------------------------- */

static double ex_spent(void *ud, int per, const char *name, long long now)
{
	lr_stats_totals tot;

	if (ud && (per & LR_LIVE_FLEET)) /* this host's view of the fleet's spend */
		return lr_stats_fleet_spent(ud, per & ~LR_LIVE_FLEET, name, now, NULL);
	return ud && lr_stats_get_day(ud, LR_STATS_DAY_ROUTE + per - LR_BUDGET_ROUTE, name, now, &tot) == 0 ?
		tot.cost_usd : 0;
}

/* As the shim (shim/lr_rec.c): a latency older than
 * LLMROUTE_LATENCY_STALE_S (60) seconds counts as unknown. */
static double ex_latency(void *ud, const char *target)
{
	const char *e = getenv("LLMROUTE_LATENCY_STALE_S");
	long stale = e && *e ? strtol(e, NULL, 10) : 60;
	lr_stats_totals tot;

	if (!ud || lr_stats_get(ud, LR_STATS_TARGET, target, &tot) < 0)
		return -1;
	return time(NULL) - tot.last_s > (stale < 0 ? 60 : stale) ? -1 : tot.ema_ms;
}

static int ex_down(void *ud, const char *target, long long now)
{
	return ud && lr_stats_down_until(ud, target, now) > 0;
}

static void print_choice(const lr_table *t, const lr_decision *d, const lr_choice *c)
{
	int k;

	if (!d->route || (!d->route->pool_count && !d->route->budget_per))
		return;
	if (d->route->budget_per)
		printf("budget:      %g USD/day per %s; spent today %g%s\n", d->route->budget_usd,
		       d->route->budget_per == LR_BUDGET_ROUTE ? "route" :
		       d->route->budget_per == LR_BUDGET_PROCESS ? "process" : "model",
		       c->spent < 0 ? 0 : c->spent, d->over_budget ? " (reached)" : "");
	if (c->ncands)
		printf("candidates:  (score = %g x quality - %g x cost/max - %g x latency/max)\n",
		       d->route->w_quality, d->route->w_cost, d->route->w_latency);
	for (k = 0; k < c->ncands; k++) {
		const lr_cand *cd = &c->cands[k];
		printf("  %-20s quality %.2f  cost $%.6f  latency %s%.0f ms  ",
		       lr_table_str(t, lr_table_targets(t)[cd->target].name), cd->quality, cd->cost,
		       cd->latency_ms < 0 ? "~" : "", cd->latency_ms < 0 ? 0 : cd->latency_ms);
		if (cd->dropped)
			printf("dropped: %s\n", cd->dropped);
		else
			printf("score %.3f%s\n", cd->score, cd->target == d->target ? "  <- chosen" : "");
	}
	if (c->why)
		printf("choice:      %s%s%s\n", c->why, d->target >= 0 ? ": " : "",
		       d->target >= 0 ? lr_table_str(t, lr_table_targets(t)[d->target].name) : "");
}

/* The detectors' findings, kinds and counts (the operator's own body:
 * still no value, as in the audit).  A table that runs no detector is
 * scanned here anyway, so a user can see what a pii route would meet. */
static void print_guard(const lr_table *t, lr_request *r, const char *body, size_t blen)
{
	int k;

	if (!t || !(t->needs & LR_NEED_GUARD))
		lr_guard_scan(body, body ? blen : 0, &r->guard);
	printf("guard:      ");
	if (!r->guard.mask)
		printf(" no findings");
	for (k = 0; k < LR_GK_N; k++)
		if (r->guard.count[k])
			printf(" %s=%u", lr_guard_kind_name(k), r->guard.count[k]);
	printf("%s%s\n", r->guard.truncated ? " (more than can be redacted)" : "",
	       t && (t->needs & LR_NEED_GUARD) ? "" : " (no route of this table tests them)");
}

/* The features the routes were tested on. */
static void print_features(const lr_request *r)
{
	const lr_extract *x = &r->x;

	printf("features:    prompt_tokens~%g max_tokens=%g stream=%s tools=%s images=%s json=%s messages=%g\n",
	       r->f.num[LR_F_PROMPT_TOKENS - LR_F_NUM], x->max_tokens,
	       r->f.num[LR_F_STREAM - LR_F_NUM] ? "yes" : "no", x->tools ? "yes" : "no",
	       x->images ? "yes" : "no", x->json ? "yes" : "no", x->messages);
	printf("user text:   \"%.*s%s\"\n", (int)(x->user_len > 100 ? 100 : x->user_len), x->user,
	       x->user_len > 100 ? "..." : "");
	if (x->system_len)
		printf("system text: \"%.*s%s\"\n", (int)(x->system_len > 100 ? 100 : x->system_len),
		       x->system, x->system_len > 100 ? "..." : "");
	printf("intent:      %s (confidence %.2f)\n", r->intent[0] ? r->intent : "(none)",
	       r->intent_confidence);
}

/* Socket transport: does a route take connections to this host? */
static void print_claim(const lr_table *t, const lr_request *r)
{
	char host[256];
	int i;

	snprintf(host, sizeof(host), "%.*s", (int)r->det.url.host_len, r->det.url.host);
	i = lr_claim_host(t, host, strlen(host), r->f.str[LR_F_PROCESS]);
	if (i < 0)
		return;
	printf("connections: programs reached through sockets that look up %s get a\n"
	       "             placeholder address; their connections on any port but 443 go to\n"
	       "             route %s's endpoint %s\n", host,
	       lr_table_str(t, lr_table_routes(t)[i].name), lr_table_str(t, lr_table_routes(t)[i].set_endpoint));
}

/* Does route `a` send to where the connections route `b` claims go? */
static int same_endpoint(const lr_table *t, const lr_route *a, const lr_route *b)
{
	return a == b || (a->set_endpoint.off && b->set_endpoint.off &&
			  !strcmp(lr_table_str(t, a->set_endpoint), lr_table_str(t, b->set_endpoint)));
}

/* Can the shim's own client (libcurl.so.4, loaded by the shim at run
 * time) be loaded on this machine? */
static int own_client(void)
{
	static int known = -1;
	void *h;

	const char *v = getenv("LLMROUTE_OWN_CLIENT");

	if (v && (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no")))
		return 0; /* as the shim reads it */
	if (known < 0) {
		h = dlopen("libcurl.so.4", RTLD_LAZY | RTLD_LOCAL);
		known = h != NULL;
		if (h)
			dlclose(h);
	}
	return known;
}

/* why: lr_plan_carried's answer for the app's connection; chain: the
 * route has fallbacks, escalation or a cache, which a socket or TLS
 * connection gets only through the shim's own client. */
static void print_carried(const char *what, int why, int chain)
{
	int by_client = (why == LR_UNAPPLIED_TLS_HOST || why == LR_UNAPPLIED_SOCKET_HOST || (!why && chain)) &&
			own_client();

	if (by_client)
		printf("  %-31s applied: sent by the shim's own client (the app's connection is\n"
		       "%34staken over; its answer is fed back through it)\n", what, "");
	else if (why)
		printf("  %-31s not applied (%s): sent as the app made it;\n%34s%s\n", what,
		       lr_unapplied_code(why), "", lr_unapplied_advice(why));
	else if (chain)
		printf("  %-31s applied, one attempt: fallbacks, escalation and the cache need the\n"
		       "%34sshim's own client (libcurl.so.4), which cannot be loaded\n", what, "");
	else
		printf("  %-31s applied\n", what);
}

/* Per transport, what happens to this routed request: the same test the
 * shim makes (lr_plan_carried), and body_why when the body cannot be
 * rewritten on any of them. */
static void print_transports(const lr_table *t, const lr_decision *d, const lr_request *r,
			     const lr_plan *p, int body_why)
{
	char host[256];
	/* a translated answer comes back through the shim's own client only */
	int claim, tls = r->det.url.tls, chain = lr_attempt_wanted(d) || p->xtarget;

	snprintf(host, sizeof(host), "%.*s", (int)r->det.url.host_len, r->det.url.host);
	claim = tls || r->det.url.port == 443 ? -1 :
		lr_claim_host(t, host, strlen(host), r->f.str[LR_F_PROCESS]);
	printf("transports:\n");
	print_carried("libcurl (easy and multi):", body_why ? body_why : lr_plan_carried(p, LR_CARRIER_CURL), 0);
	if (tls)
		printf("  %-31s not this request: it is https://\n", "socket, redirected at connect:");
	else if (claim < 0)
		printf("  %-31s no connection to %s is redirected: no route claims the host\n",
		       "socket, redirected at connect:", host);
	else if (!same_endpoint(t, d->route, &lr_table_routes(t)[claim]))
		printf("  %-31s handled by route %s, which claims %s: sent to its endpoint %s\n",
		       "socket, redirected at connect:", lr_table_str(t, lr_table_routes(t)[claim].name), host,
		       lr_table_str(t, lr_table_routes(t)[claim].set_endpoint));
	else
		print_carried("socket, redirected at connect:",
			      body_why ? body_why : lr_plan_carried(p, LR_CARRIER_SOCKET_MOVED), !body_why && chain);
	if (tls)
		printf("  %-31s not this request: it is https://\n", "socket, not redirected:");
	else
		print_carried("socket, not redirected:", body_why ? body_why : lr_plan_carried(p, LR_CARRIER_SOCKET),
			      !body_why && chain);
	if (!tls)
		printf("  %-31s not this request: it is http://\n", "tls (system OpenSSL):");
	else
		print_carried("tls (system OpenSSL):", body_why ? body_why : lr_plan_carried(p, LR_CARRIER_TLS),
			      !body_why && chain);
}

/* A route whose endpoint speaks another format: the request as the
 * target gets it (lr_plan_xlate, as every transport makes it).  Returns
 * an LR_UNAPPLIED_* when it is not applied, else 0; *refused when the app
 * gets a 400 instead. */
static int print_xlate(lr_plan *p, const lr_request *r, const opts *o, const char *body, size_t blen,
		       int *refused)
{
	lr_xlate_req x;
	int rc, i;

	*refused = 0;
	printf("format:      %s -> %s\n", p->xapp ? lr_xlate_format_name(p->xapp) : r->det.operation,
	       lr_xlate_format_name(p->xtarget));
	if (!p->xapp) {
		printf("translation: none for this operation: the route is not applied (%s)\n",
		       lr_unapplied_code(LR_UNAPPLIED_XLATE));
		return LR_UNAPPLIED_XLATE;
	}
	if (!body) {
		printf("translation: needs the request body (--body)\n");
		return 0;
	}
	rc = lr_plan_xlate(p, r, body, blen, &x);
	if (rc == LR_EINVAL || rc == LR_EPARSE) {
		printf("translation: refused: the app gets a 400 in its own format: %s\n", x.refusal);
		*refused = 1;
		return 0;
	}
	if (rc < 0)
		ctl_die(EX_SYSTEM, "translation failed: %s", lr_strerror(rc));
	printf("translation: %s, headers:", p->xstream ? "streamed" : "not streamed");
	for (i = 0; i < x.nheaders; i++)
		printf(" %s: %s%s", x.headers[i].name, x.headers[i].value, i + 1 < x.nheaders ? "," : "");
	printf("\n");
	if (x.dropped[0])
		printf("dropped:     %s (format_drop)\n", x.dropped);
	if (x.ignored[0])
		printf("ignored:     %s\n", x.ignored);
	if (o->show_body)
		printf("body:\n%.*s\n", (int)x.body.len, x.body.p);
	else
		printf("body:        %zu -> %zu bytes, translated (--show-body prints it)\n", blen, x.body.len);
	lr_xlate_req_free(&x);
	return 0;
}

static void print_plan(const lr_table *t, const lr_decision *d, const lr_request *r,
		       const opts *o, const char *body, size_t blen)
{
	lr_plan p;
	char *nb = NULL;
	size_t nlen = 0;
	int rc, xwhy = 0, refused = 0;

	if (lr_plan_make(t, d, &r->det, o->url, strlen(o->url), NULL, &p) < 0)
		ctl_die(EX_SYSTEM, "out of memory");
	if (p.xtarget && body) { /* the URL is the target's once translated */
		rc = lr_plan_body(t, d, r, &p, body, blen, &nb, &nlen);
		if (rc >= 0 || rc == LR_ENOTFOUND)
			xwhy = print_xlate(&p, r, o, nb ? nb : body, nb ? nlen : blen, &refused);
		free(nb);
		nb = NULL;
	} else if (p.xtarget) {
		xwhy = print_xlate(&p, r, o, NULL, 0, &refused);
	}
	printf("url:         %s%s%s\n", o->url, p.url ? " -> " : " (unchanged)", p.url ? p.url : "");
	if (p.model)
		printf("model:       %s -> %s (%s)\n", r->model[0] ? r->model : "(none)", p.model,
		       p.model_in_path ? "in the URL path" : "in the body");
	printf("credentials: %s%s%s", p.auth_header ? p.auth_header : "(none)", ": ", cred_text(&p));
	printf("%s\n", p.cred == LR_CRED_REPLACE ? p.key_env : "");
	print_claim(t, r);
	print_params(t, d);
	rc = 0;
	if (refused) {
		printf("transports:  every one answers the 400; nothing is sent\n");
		lr_plan_free(&p);
		return;
	}
	if (body && !p.xtarget && ((p.model && !p.model_in_path) || d->route->param_count)) {
		rc = lr_plan_body(t, d, r, &p, body, blen, &nb, &nlen);
		if (rc < 0 && rc != LR_ENOTFOUND)
			printf("body:        not rewritten (%s): the request would go out unchanged\n", lr_strerror(rc));
		else if (!nb)
			printf("body:        unchanged\n");
		else if (o->show_body)
			printf("body:\n%.*s\n", (int)nlen, nb);
		else
			printf("body:        %zu -> %zu bytes (--show-body prints it)\n", blen, nlen);
	}
	print_transports(t, d, r, &p, xwhy ? xwhy : rc < 0 && rc != LR_ENOTFOUND ? lr_unapplied_of(rc, 1) : 0);
	free(nb);
	lr_plan_free(&p);
}

int ctl_explain(int argc, char **argv)
{
	opts o;
	char label[256], *body = NULL;
	size_t blen = 0;
	lr_table *t;
	lr_request r;
	lr_decision d;
	lr_intent_cache *ic;
	lr_engine_ctx cx;
	int unread;
	static lr_choice choice;
	lr_live live = {ex_spent, ex_latency, ex_down, NULL};
	static const char *action[] = {"none: no route matched, sent as the app made it",
				       "pass: the route changes nothing", "route", "deny"};

	parse_opts(argc, argv, &o);
	if (lr_url_canon_needed(o.url, strlen(o.url))) { /* as libcurl sends it (lr_url.h) */
		static char canon[8192];
		if (lr_url_canon(o.url, strlen(o.url), canon, sizeof(canon)) >= 0)
			o.url = canon;
	}
	if (o.body_file)
		body = ctl_read_file(o.body_file, &blen);
	t = load_table(&o, label, sizeof(label));
	if (lr_request_init(&r, o.url, strlen(o.url), body, blen, o.process) < 0) {
		printf("request:     %s\nverdict:     not an LLM API request: passed through untouched\n", o.url);
		free(body);
		free(t);
		return EX_DONE;
	}
	printf("request:     POST %s\n", o.url);
	printf("detected:    provider=%s format=%s operation=%s model=%s%s process=%s\n",
	       r.det.provider, lr_detect_format_name(r.det.format), r.det.operation,
	       r.model[0] ? r.model : "(none)", r.model_from_path ? " (from the path)" : "",
	       o.process ? o.process : "(not given)");
	ic = t ? lr_intent_cache_new(t) : NULL;
	live.ud = o.rules ? NULL : lr_stats_attach(lr_shm_name(), 0, NULL, NULL, NULL);
	cx = (lr_engine_ctx){t, ic, &live, (long long)time(NULL)};
	unread = lr_engine_decide(&cx, &r, body, blen, 0, &d, &choice);
	lr_intent_cache_free(ic);
	print_features(&r);
	print_guard(t, &r, body, blen);
	printf("table:       %s\nroutes:\n", label);
	print_verdicts(t, &r, d.index);
	print_choice(t, &d, &choice);
	printf("decision:    %s%s%s%s\n", action[d.action], d.route ? " by route \"" : "",
	       d.route ? lr_table_str(t, d.route->name) : "", d.route ? "\"" : "");
	if (d.uncertain >= 0)
		printf("uncertain:   route \"%s\" matched but for its intent_confidence; its when_unsure"
		       " named this route\n", lr_table_str(t, lr_table_routes(t)[d.uncertain].name));
	if (d.action == LR_ACTION_DENY) {
		char msg[1024];
		lr_engine_deny_message(t, &d, unread, msg, sizeof(msg));
		printf("message:     %s\n", msg);
	}
	if (d.action == LR_ACTION_ROUTE)
		print_plan(t, &d, &r, &o, body, blen);
	if (d.action == LR_ACTION_ROUTE || d.action == LR_ACTION_PASS)
		print_resil(t, &d, &r, live.ud);
	free(body);
	free(t);
	return EX_DONE;
}
