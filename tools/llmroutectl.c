/*
 * llmroutectl.c - load, inspect and edit the live routing table.
 *
 * Every verb that changes the table does read-modify-write while holding
 * the segment's writer lock, and compiles the complete new rules before it
 * publishes anything: on any error the live table is left as it was.
 */
#include "llmroutectl.h"
#include "llmroutectl_cache.h"
#include "lr_answer.h"
#include "lr_cache.h"
#include "lr_error.h"
#include "lr_stats.h"
#include "lr_table.h"
#include "lr_xlate.h"

#include <cjson/cJSON.h>
#include "lr_json.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static int cmd_load(int argc, char **argv);
static int cmd_check(int argc, char **argv);
static int cmd_show(int argc, char **argv);
static int cmd_unload(int argc, char **argv);

/* The verbs: --help, `completion bash` and the manual's check
 * (tests/t_docs.sh) all read this one table. */
const ctl_verb ctl_verbs[] = {
	{"load", cmd_load, "", "FILE", "validate FILE and publish it atomically"},
	{"check", cmd_check, "", "FILE", "validate FILE only"},
	{"show", cmd_show, "", "[--json]", "the live table and its generation"},
	{"route", ctl_route, "add del enable disable", "add|del|enable|disable NAME ...",
	 "edit one route of the live table"},
	{"explain", ctl_explain, "", "--url URL [--body FILE] ...",
	 "decide a request without sending it"},
	{"unload", cmd_unload, "", "[--force]", "remove the live table (apps pass through)"},
	{"stats", ctl_stats, "", "[--json] [--reset] [--fleet] [--prometheus [--textfile FILE [--interval S]]]",
	 "live counters per route, model, target, day"},
	{"audit", ctl_audit, "", "[FILE] [--by KEY] ...", "summaries of an audit file"},
	{"train", ctl_train, "", "EXAMPLES.jsonl [--out MODEL]", "learn intents, publish them"},
	{"cache", ctl_cache, "stats clear", "stats [--json] | clear", "the response cache of this user"},
	{"prices", ctl_prices, "import show", "import FILE | show MODEL...",
	 "a LiteLLM price catalogue for the live table; a model's price"},
	{"watch", ctl_watch, "", "FILE [--debounce MS]", "publish FILE now and whenever it changes"},
	{"sync", ctl_sync, "", "URL [--interval S] [--token-env VAR] ...",
	 "publish rules fetched from an http(s) URL, on every new version"},
	{"ca", ctl_ca, "init show install uninstall", "init [--force] | show [--json] | install | uninstall",
	 "the local CA for TLS interception (llmroute --intercept)"},
	{"completion", ctl_completion, "bash", "bash", "print the bash completion script"},
	{NULL, NULL, NULL, NULL, NULL},
};

static void usage(FILE *f)
{
	const ctl_verb *v;
	char head[64];

	fputs("usage: llmroutectl VERB [ARGS]   (llmroutectl VERB --help for more)\n", f);
	for (v = ctl_verbs; v->name; v++) {
		snprintf(head, sizeof(head), "%s %s", v->name, v->args);
		fprintf(f, "  %-34s %s\n", head, v->summary);
	}
	fputs("environment: LLMROUTE_TABLE (segment name, default /llmroute)\n"
	      "exit codes: 0 done, 1 usage, 2 invalid input, 3 not found, 4 system error\n"
	      "manual: llmroutectl(1), llmroute(1), llmroute-rules(5)\n", f);
}

/* Hidden options for the manual's check: the verb table and the keys the
 * rules parser accepts, one per line. */
static int list_verbs(void)
{
	const ctl_verb *v;

	for (v = ctl_verbs; v->name; v++)
		printf("%s%s%s\n", v->name, *v->subs ? " " : "", v->subs);
	return EX_DONE;
}

static int list_rules_keys(void)
{
	const char *key, *section;
	size_t i;

	for (i = 0; (key = lr_rules_key(i, &section)); i++)
		printf("%s %s\n", section, key);
	return EX_DONE;
}

void ctl_die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("llmroutectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

int ctl_is_help(const char *arg)
{
	return arg && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0);
}

char *ctl_read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 65536, n = 0, got;
	char *buf;

	if (!f)
		ctl_die(EX_INVALID, "%s: %s", path, strerror(errno));
	buf = malloc(cap + 1);
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			if (cap >= CTL_MAX_INPUT)
				ctl_die(EX_INVALID, "%s: larger than %u bytes", path, CTL_MAX_INPUT);
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
	}
	if (!buf)
		ctl_die(EX_SYSTEM, "out of memory");
	if (ferror(f))
		ctl_die(EX_INVALID, "%s: %s", path, strerror(errno));
	if (f != stdin)
		fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

void ctl_print_rules_error(const char *file, const lr_rules_error *e)
{
	if (e->line)
		fprintf(stderr, "%s:%d:%d: ", file, e->line, e->col);
	else
		fprintf(stderr, "%s: ", file);
	if (e->path[0])
		fprintf(stderr, "%s: ", e->path);
	fprintf(stderr, "%s\n", e->msg);
}

void *ctl_compile(const char *what, const char *text, size_t len, size_t *blen)
{
	lr_rules_error e;
	void *blob;
	int rc = lr_rules_compile(text, len, &blob, blen, &e);

	if (rc == LR_ENOMEM)
		ctl_die(EX_SYSTEM, "out of memory");
	if (rc < 0) {
		ctl_print_rules_error(what, &e);
		exit(EX_INVALID);
	}
	return blob;
}

int ctl_attach(lr_shm *s)
{
	const char *why = "";
	int rc = lr_shm_attach(lr_shm_name(), s, &why);

	if (rc == LR_ENOTFOUND)
		return EX_NOTFOUND;
	if (rc < 0)
		ctl_die(EX_SYSTEM, "table %s: %s (%s)", lr_shm_name(), lr_strerror(rc), why);
	return 0;
}

void *ctl_snapshot(const lr_shm *s, size_t *len, uint64_t *gen)
{
	void *blob;
	int rc = lr_shm_snapshot(s, &blob, len, gen);

	if (rc < 0)
		ctl_die(EX_SYSTEM, "table %s: %s", lr_shm_name(), lr_strerror(rc));
	if (blob && (rc = lr_table_validate(blob, *len)) < 0)
		ctl_die(EX_SYSTEM, "table %s: %s (run `llmroutectl load` again)",
			lr_shm_name(), lr_strerror(rc));
	return blob;
}

/* --- load, check -------------------------------------------------------- */

static int cmd_check(int argc, char **argv)
{
	size_t len, blen;
	char *text;
	lr_table *t;

	if (argc != 2 || ctl_is_help(argv[1])) {
		fputs("usage: llmroutectl check FILE\n  validate a rules file; exit 2 and FILE:LINE:COL on errors\n", stderr);
		return argc == 2 ? EX_DONE : EX_USAGE;
	}
	text = ctl_read_file(argv[1], &len);
	t = ctl_compile(argv[1], text, len, &blen);
	printf("%s: ok, %u routes, %zu bytes compiled\n", argv[1], t->nroutes, blen);
	free(t);
	free(text);
	return EX_DONE;
}

static void publish_or_die(lr_shm *w, const void *blob, size_t blen, uint64_t *gen)
{
	int rc = lr_shm_publish(w, blob, blen, gen);

	if (rc < 0)
		ctl_die(EX_INVALID, "cannot publish: %s", lr_strerror(rc));
}

void ctl_open_writer(lr_shm *w, int reinit)
{
	const char *why = "";
	int rc = lr_shm_open_writer(lr_shm_name(), w, reinit, &why);

	if (rc < 0)
		ctl_die(EX_SYSTEM, "table %s: %s (%s)", lr_shm_name(), lr_strerror(rc), why);
}

/* The counters segment beside the table; programs count only if it exists. */
void ctl_ensure_stats(void)
{
	const char *why = "", *note = NULL;

	if (lr_stats_ensure(lr_shm_name(), &note, &why) < 0)
		fprintf(stderr, "llmroutectl: warning: no live counters (budgets and health are off): %s\n", why);
	else if (note)
		fprintf(stderr, "llmroutectl: counters of %s: %s\n", lr_shm_name(), note);
}

static int cmd_load(int argc, char **argv)
{
	size_t len, blen;
	char *text;
	lr_table *t;
	lr_shm w;
	uint64_t gen;

	if (argc != 2 || ctl_is_help(argv[1])) {
		fputs("usage: llmroutectl load FILE\n  validate FILE, then publish it atomically as the live table\n", stderr);
		return argc == 2 ? EX_DONE : EX_USAGE;
	}
	text = ctl_read_file(argv[1], &len);
	t = ctl_compile(argv[1], text, len, &blen); /* before touching the segment */
	ctl_open_writer(&w, 0);
	ctl_ensure_stats(); /* under the writer lock: one load makes or mends them */
	publish_or_die(&w, t, blen, &gen);
	lr_shm_close(&w);
	printf("published %s generation %llu: %u routes\n", lr_shm_name(),
	       (unsigned long long)gen, t->nroutes);
	free(t);
	free(text);
	return EX_DONE;
}

/* --- show --------------------------------------------------------------- */

static const char *field_names[LR_F_NSTR] = {"model", "host", "operation", "provider", "process",
					    "intent", "user_text", "system_text"};
static const char *num_names[LR_F_NNUM] = {"prompt_tokens", "max_tokens", "stream", "tools", "images",
					   "json", "messages", "intent_confidence", "temperature"};
static const char *op_names[] = {"", "=", ">", ">=", "<", "<=", "=="};

static void print_route(const lr_table *t, int i, const lr_route *r)
{
	const lr_cond *c = lr_table_conds(t) + r->cond_first;
	char match[512] = "*", act[768] = "";
	size_t n = 0;
	uint32_t k;

	for (k = 0; k < r->cond_count && n < sizeof(match); k++) {
		if (c[k].field >= LR_F_NUM)
			n += (size_t)snprintf(match + n, sizeof(match) - n, "%s%s%s%g", k ? " " : "",
					      num_names[c[k].field - LR_F_NUM], op_names[c[k].op], c[k].num);
		else
			n += (size_t)snprintf(match + n, sizeof(match) - n, "%s%s=%s", k ? " " : "",
					      field_names[c[k].field], lr_table_str(t, c[k].str));
	}
	n = 0;
	if (r->flags & LR_ROUTE_DENY)
		snprintf(act, sizeof(act), "deny \"%s\"", lr_table_str(t, r->deny));
	if (r->set_endpoint.off)
		n += (size_t)snprintf(act + n, sizeof(act) - n, "endpoint=%s ", lr_table_str(t, r->set_endpoint));
	if (r->set_model.off && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "model=%s ", lr_table_str(t, r->set_model));
	if (r->set_key_env.off && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "key=$%s ", lr_table_str(t, r->set_key_env));
	if ((r->flags & LR_ROUTE_KEEP_CREDENTIALS) && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "keep_credentials ");
	if (r->format && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "format=%s%s ", lr_xlate_format_name((int)r->format),
				      (r->flags & LR_ROUTE_FORMAT_DROP) ? "(drop)" : "");
	for (k = 0; k < r->pool_count && n < sizeof(act); k++)
		n += (size_t)snprintf(act + n, sizeof(act) - n, "%s%s%s", k ? "," : "pool=",
				      lr_table_str(t, lr_table_targets(t)[lr_table_pools(t)[r->pool_first + k].target].name),
				      k + 1 == r->pool_count ? " " : "");
	if (r->param_count && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "overrides=%u ", r->param_count);
	if (r->budget_per && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "budget=%g/day ", r->budget_usd);
	for (k = 0; k < r->fallback_count + r->escalate_count && n < sizeof(act); k++) {
		uint32_t g = lr_table_chains(t)[r->chain_first + k].target;
		const char *pre = k == r->fallback_count ? (k ? " escalate=" : "escalate=") : k ? "," : "fallbacks=";
		n += (size_t)snprintf(act + n, sizeof(act) - n, "%s%s%s", pre,
				      g == LR_TARGET_ORIGINAL ? "original" : lr_table_str(t, lr_table_targets(t)[g].name),
				      k + 1 == r->fallback_count + r->escalate_count ? " " : "");
	}
	if (r->timeout_ms && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "timeout=%ums ", r->timeout_ms);
	if (r->first_token_ms && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "first_token=%ums ", r->first_token_ms);
	if (r->idle_ms && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "idle=%ums ", r->idle_ms);
	if ((r->flags & LR_ROUTE_STREAM_HOLD) && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "stream_hold ");
	if (r->fallback_count && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "stream_continue=%s ",
				      r->stream_continue == LR_CONTINUE_SAME ? "same"
				      : r->stream_continue == LR_CONTINUE_OFF ? "off" : "next");
	if ((r->fallback_count || r->escalate_count) && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "retry_after<=%ums ", r->retry_after_max_ms);
	if ((r->fallback_count || r->escalate_count || r->cache_ttl_s || r->context_mode ||
	     (r->flags & LR_ROUTE_RETRIES)) && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "retries=%u(backoff<=%ums) ", r->retries,
				      r->retry_backoff_ms);
	if (r->context_mode == LR_CONTEXT_LARGER && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "context_overflow=larger ");
	for (k = 0; r->context_mode == LR_CONTEXT_LIST && k < r->context_count && n < sizeof(act); k++) {
		uint32_t g = lr_table_chains(t)[r->chain_first + r->fallback_count + r->escalate_count + k].target;
		n += (size_t)snprintf(act + n, sizeof(act) - n, "%s%s%s", k ? "," : "context_overflow=",
				      g == LR_TARGET_ORIGINAL ? "original" : lr_table_str(t, lr_table_targets(t)[g].name),
				      k + 1 == r->context_count ? " " : "");
	}
	for (k = 1; k <= LR_GATE_INVALID_JSON && n < sizeof(act); k <<= 1)
		if (r->escalate_when & k)
			n += (size_t)snprintf(act + n, sizeof(act) - n, "%s%s", lr_gate_name(k),
					      (r->escalate_when & ~(2 * k - 1)) ? "," : " (escalate when) ");
	if (r->cache_ttl_s && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "cache=%us ", r->cache_ttl_s);
	if (r->cache_ttl_s && r->cache_max_temperature >= 0 && n < sizeof(act))
		n += (size_t)snprintf(act + n, sizeof(act) - n, "(temperature<=%g) ", r->cache_max_temperature);
	if (!act[0])
		snprintf(act, sizeof(act), "pass");
	printf("%3d  %-20s %-8s %-40s %s\n", i + 1, lr_table_str(t, r->name),
	       (r->flags & LR_ROUTE_ENABLED) ? "enabled" : "disabled", match, act);
}

static void show_text(const lr_shm *s, const lr_table *t, uint64_t gen)
{
	time_t when = (time_t)s->hdr->published_at;
	char ts[64];
	uint32_t i;

	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S UTC", gmtime(&when));
	printf("table %s generation %llu, published %s by uid %u, %u routes\n",
	       lr_shm_name(), (unsigned long long)gen, ts, s->hdr->publisher_uid, t->nroutes);
	if (t->audit.off)
		printf("audit %s\n", lr_table_str(t, t->audit));
	for (i = 0; i < t->nprices; i++) {
		const lr_price_rec *p = &lr_table_prices(t)[i];
		printf("price %s: $%g in, $%g out per million tokens\n", lr_table_str(t, p->glob),
		       p->input_per_mtok, p->output_per_mtok);
	}
	if (t->ncatalog)
		printf("price catalogue (prices_file): %u models\n", t->ncatalog);
	if (t->nroutes)
		printf("%3s  %-20s %-8s %-40s %s\n", "#", "NAME", "STATE", "MATCH", "ACTION");
	for (i = 0; i < t->nroutes; i++)
		print_route(t, (int)i, &lr_table_routes(t)[i]);
}

/* Prints cJSON's text as valid JSON whatever the table holds (one published
 * before load checked UTF-8): a byte that is not well-formed UTF-8 can only
 * sit inside a string there, and is printed as \ufffd. */
static void put_json_text(const char *s)
{
	size_t n = strlen(s), i = 0;
	int k;

	while (i < n) {
		if ((k = lr_json_utf8_seq(s + i, n - i)) > 0) {
			fwrite(s + i, 1, (size_t)k, stdout);
			i += (size_t)k;
		} else {
			fputs("\\ufffd", stdout);
			i++;
		}
	}
	putchar('\n');
}

static void show_json(const lr_shm *s, const lr_table *t, uint64_t gen)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *rules = cJSON_Parse(lr_table_str(t, t->source));
	char *out;

	cJSON_AddStringToObject(o, "table", lr_shm_name());
	cJSON_AddNumberToObject(o, "generation", (double)gen);
	cJSON_AddNumberToObject(o, "published_at", (double)s->hdr->published_at);
	cJSON_AddNumberToObject(o, "publisher_uid", s->hdr->publisher_uid);
	cJSON_AddItemToObject(o, "rules", rules ? rules : cJSON_CreateNull());
	out = cJSON_Print(o);
	if (out)
		put_json_text(out);
	free(out);
	cJSON_Delete(o);
}

static int cmd_show(int argc, char **argv)
{
	int json = argc == 2 && strcmp(argv[1], "--json") == 0;
	lr_shm s;
	lr_table *t;
	size_t len;
	uint64_t gen;

	if (argc > 2 || (argc == 2 && !json)) {
		fputs("usage: llmroutectl show [--json]\n  print the live table, its generation and routes\n", stderr);
		return ctl_is_help(argv[1]) ? EX_DONE : EX_USAGE;
	}
	if (ctl_attach(&s) == EX_NOTFOUND)
		ctl_die(EX_NOTFOUND, "no table published at %s", lr_shm_name());
	t = ctl_snapshot(&s, &len, &gen);
	if (!t)
		ctl_die(EX_NOTFOUND, "no table published at %s", lr_shm_name());
	if (json)
		show_json(&s, t, gen);
	else
		show_text(&s, t, gen);
	free(t);
	lr_shm_close(&s);
	return EX_DONE;
}

/* --- unload ------------------------------------------------------------- */

static int cmd_unload(int argc, char **argv)
{
	int force = argc == 2 && strcmp(argv[1], "--force") == 0;
	lr_shm w;

	if (argc > 2 || (argc == 2 && !force)) {
		fputs("usage: llmroutectl unload [--force]\n"
		      "  remove the live table; running programs pass everything through\n"
		      "  the live counters stay (llmroutectl stats)\n"
		      "  --force: also remove a segment that is not a valid llmroute table,\n"
		      "  the counters, and this user's response cache\n", stderr);
		return ctl_is_help(argv[1]) ? EX_DONE : EX_USAGE;
	}
	if (force) {
		char stats[300];
		const char *why;
		/* A valid table is retired first, so running programs let go. */
		if (lr_shm_open_writer(lr_shm_name(), &w, 0, &why) == 0) {
			lr_shm_remove(&w, lr_shm_name());
			lr_shm_close(&w);
		}
		if (shm_unlink(lr_shm_name()) < 0 && errno != ENOENT)
			ctl_die(EX_SYSTEM, "%s: %s", lr_shm_name(), strerror(errno));
		lr_stats_remove(lr_shm_name());
		lr_cache_unlink(lr_cache_name(lr_shm_name(), stats, sizeof(stats)));
		printf("removed %s, its counters and this user's response cache\n", lr_shm_name());
		return EX_DONE;
	}
	ctl_open_writer(&w, 0);
	if (lr_shm_remove(&w, lr_shm_name()) < 0)
		ctl_die(EX_SYSTEM, "%s: %s", lr_shm_name(), strerror(errno));
	lr_shm_close(&w);
	printf("removed %s\n", lr_shm_name());
	return EX_DONE;
}

int main(int argc, char **argv)
{
	const ctl_verb *v;

	if (argc < 2 || ctl_is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_DONE;
	}
	if (argc == 2 && strcmp(argv[1], "--verbs") == 0)
		return list_verbs();
	if (argc == 2 && strcmp(argv[1], "--rules-keys") == 0)
		return list_rules_keys();
	for (v = ctl_verbs; v->name; v++)
		if (strcmp(argv[1], v->name) == 0)
			return v->fn(argc - 1, argv + 1);
	fprintf(stderr, "llmroutectl: unknown verb \"%s\"\n", argv[1]);
	usage(stderr);
	return EX_USAGE;
}
