/*
 * llmroutectl_otlp.c - `llmroutectl audit --follow --otlp URL`: tails the
 * audit file and exports each record as an OpenTelemetry log record over
 * OTLP/HTTP JSON, so a Collector can ship it anywhere.
 *
 * Each record becomes one logRecord: its "time" the timeUnixNano, its
 * fields the attributes under the same names (they already are the GenAI
 * semantic conventions' where those have one: docs/audit.md), null fields
 * left out, an error.type making it an ERROR.  Records go in batches of at
 * most --batch per request, in file order.
 *
 * Delivery is at least once: the tail's position (llmroutectl_tail.c) is
 * saved only after the receiver answered 2xx, so a crash, a kill or a
 * failed answer repeats at most the batch in flight, and no record is
 * skipped.  A network failure, 429, 5xx and any other status but 400 are
 * retried with the batch unchanged, waiting 250 ms doubling to 30 s; a 400
 * (the receiver says the data is malformed: sending it again cannot help)
 * is logged and the batch dropped.  Lines that are not JSON objects are
 * skipped (blank lines are the audit writer's filler after a full disk).
 */
#include "llmroutectl.h"
#include "llmroutectl_audit.h"
#include "llmroutectl_http.h"
#include "llmroutectl_publish.h"
#include "llmroutectl_tail.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define READ_MAX (4u << 20)  /* bytes of lines looked at per batch */
#define IDLE_MS 200          /* how often a quiet file is looked at */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000

typedef struct {
	ctl_http_req q;
	char shown[512];
	unsigned batch;
	char host[256];
	char last_err[300];
	int sfd;
	unsigned long long skipped;
} exporter;

/* "2026-11-23T12:00:00.123Z" as nanoseconds since the epoch; 0 if not. */
static long long time_ns(const char *s)
{
	struct tm tm = {0};
	int ms = 0, n = 0;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
			 &tm.tm_min, &tm.tm_sec, &ms, &n) != 7 || !n)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return ((long long)timegm(&tm) * 1000 + ms) * 1000000LL;
}

static cJSON *any_value(const cJSON *v)
{
	cJSON *o = cJSON_CreateObject();
	char num[32];

	if (cJSON_IsString(v)) {
		cJSON_AddStringToObject(o, "stringValue", v->valuestring);
	} else if (cJSON_IsBool(v)) {
		cJSON_AddBoolToObject(o, "boolValue", cJSON_IsTrue(v));
	} else if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble &&
		   v->valuedouble < 9e15 && v->valuedouble > -9e15) {
		snprintf(num, sizeof(num), "%lld", (long long)v->valuedouble); /* OTLP JSON: int64 as a string */
		cJSON_AddStringToObject(o, "intValue", num);
	} else if (cJSON_IsNumber(v)) {
		cJSON_AddNumberToObject(o, "doubleValue", v->valuedouble);
	} else {
		char *p = cJSON_PrintUnformatted(v);
		cJSON_AddStringToObject(o, "stringValue", p ? p : "");
		free(p);
	}
	return o;
}

static cJSON *attr(const char *key, cJSON *value)
{
	cJSON *a = cJSON_CreateObject();

	cJSON_AddStringToObject(a, "key", key);
	cJSON_AddItemToObject(a, "value", value);
	return a;
}

static void add_ns(cJSON *o, const char *key, long long ns)
{
	char num[32];

	snprintf(num, sizeof(num), "%lld", ns);
	cJSON_AddStringToObject(o, key, num);
}

/* One audit record as an OTLP logRecord. */
static cJSON *log_record(const cJSON *rec, long long observed)
{
	const cJSON *f, *err = cJSON_GetObjectItemCaseSensitive(rec, "error.type");
	const cJSON *tm = cJSON_GetObjectItemCaseSensitive(rec, "time");
	cJSON *lr = cJSON_CreateObject(), *attrs = cJSON_CreateArray(), *body = cJSON_CreateObject();
	int is_err = cJSON_IsString(err);
	long long ns = time_ns(cJSON_IsString(tm) ? tm->valuestring : NULL);

	add_ns(lr, "timeUnixNano", ns ? ns : observed);
	add_ns(lr, "observedTimeUnixNano", observed);
	cJSON_AddNumberToObject(lr, "severityNumber", is_err ? 17 : 9); /* ERROR, INFO */
	cJSON_AddStringToObject(lr, "severityText", is_err ? "ERROR" : "INFO");
	cJSON_AddStringToObject(body, "stringValue", "llmroute audit record");
	cJSON_AddItemToObject(lr, "body", body);
	cJSON_ArrayForEach(f, rec)
		if (strcmp(f->string, "time") && !cJSON_IsNull(f))
			cJSON_AddItemToArray(attrs, attr(f->string, any_value(f)));
	cJSON_AddItemToObject(lr, "attributes", attrs);
	return lr;
}

/* The envelope: resourceLogs[1] / scopeLogs[1] / logRecords = records. */
static cJSON *envelope(const exporter *x, cJSON *records)
{
	cJSON *root = cJSON_CreateObject(), *rl = cJSON_CreateArray(), *r = cJSON_CreateObject();
	cJSON *res = cJSON_CreateObject(), *ra = cJSON_CreateArray(), *sl = cJSON_CreateArray();
	cJSON *s = cJSON_CreateObject(), *scope = cJSON_CreateObject();

	cJSON_AddItemToArray(ra, attr("service.name", cJSON_CreateObject()));
	cJSON_AddStringToObject(cJSON_GetArrayItem(ra, 0)->child->next, "stringValue", "llmroute");
	cJSON_AddItemToArray(ra, attr("host.name", cJSON_CreateObject()));
	cJSON_AddStringToObject(cJSON_GetArrayItem(ra, 1)->child->next, "stringValue", x->host);
	cJSON_AddItemToObject(res, "attributes", ra);
	cJSON_AddItemToObject(r, "resource", res);
	cJSON_AddStringToObject(scope, "name", "llmroute.audit");
	cJSON_AddItemToObject(s, "scope", scope);
	cJSON_AddItemToObject(s, "logRecords", records);
	cJSON_AddItemToArray(sl, s);
	cJSON_AddItemToObject(r, "scopeLogs", sl);
	cJSON_AddItemToArray(rl, r);
	cJSON_AddItemToObject(root, "resourceLogs", rl);
	return root;
}

static long long real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Turns whole lines of `data` into log records, at most x->batch of them.
 * Returns the bytes used (through the last line taken). */
static size_t encode(exporter *x, const char *data, size_t len, cJSON *records, unsigned *n)
{
	long long now = real_ns();
	size_t used = 0;

	*n = 0;
	while (used < len && *n < x->batch) {
		const char *nl = memchr(data + used, '\n', len - used);
		size_t ll = nl ? (size_t)(nl - (data + used)) : len - used;
		cJSON *rec = cJSON_ParseWithLength(data + used, ll);
		if (cJSON_IsObject(rec)) {
			cJSON_AddItemToArray(records, log_record(rec, now));
			(*n)++;
		} else if (strspn(data + used, " \t\r") < ll) {
			x->skipped++;
		}
		cJSON_Delete(rec);
		used += ll + (nl != NULL);
	}
	return used;
}

/* Waits `ms` on the signal fd.  Returns 1 if told to stop. */
static int wait_or_stop(exporter *x, long long ms)
{
	struct pollfd pf = {x->sfd, POLLIN, 0};
	int sig;

	if (poll(&pf, 1, (int)ms) < 0 && errno != EINTR)
		ctl_die(EX_SYSTEM, "audit: poll: %s", strerror(errno));
	while ((sig = ctl_read_signal(x->sfd)))
		if (sig != SIGHUP) {
			ctl_log(CTL_LOG_INFO, "stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return 1;
		}
	return 0;
}

/* One POST.  Returns 1 delivered (or dropped as malformed), 0 to retry. */
static int post(exporter *x, const char *body, unsigned n)
{
	ctl_http_res r;
	char why[300];
	int rc = ctl_http_do(&(ctl_http_req){.url = x->q.url, .token = x->q.token, .cacert = x->q.cacert,
					     .post = body, .post_len = strlen(body), .max_body = 1 << 20,
					     .timeout_ms = x->q.timeout_ms, .abort_fd = x->sfd},
			     &r);

	if (rc == 0 && r.status / 100 == 2) {
		if (x->last_err[0])
			ctl_log(CTL_LOG_INFO, "%s: delivering again", x->shown);
		x->last_err[0] = '\0';
	} else if (rc == 0 && r.status == 400) {
		ctl_log(CTL_LOG_ERR, "%s: HTTP status 400 (malformed data): %u records dropped", x->shown, n);
	} else {
		snprintf(why, sizeof(why), "%s", rc ? r.error : "");
		if (!rc)
			snprintf(why, sizeof(why), "HTTP status %ld", r.status);
		if (strcmp(why, x->last_err) && !r.aborted)
			ctl_log(CTL_LOG_ERR, "%s: %s; retrying with back-off, nothing is skipped", x->shown, why);
		snprintf(x->last_err, sizeof(x->last_err), "%s", why);
		rc = -1;
	}
	ctl_http_res_free(&r);
	return rc == 0;
}

/* Delivers one batch, retrying until done.  Returns 1 if told to stop. */
static int deliver(exporter *x, cJSON *records, unsigned n)
{
	cJSON *root = envelope(x, records);
	char *body = cJSON_PrintUnformatted(root);
	long long backoff = BACKOFF_MIN_MS;
	int stop = 0;

	cJSON_Delete(root);
	if (!body)
		ctl_die(EX_SYSTEM, "audit: out of memory");
	while (!post(x, body, n)) {
		if ((stop = wait_or_stop(x, backoff)))
			break;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	free(body);
	return stop;
}

static int run(exporter *x, ctl_tail *t)
{
	char events[128];
	const char *data;
	size_t len, used;
	unsigned n;

	for (;;) {
		if (ctl_tail_read(t, &data, &len, READ_MAX, events) < 0)
			ctl_die(EX_SYSTEM, "audit: out of memory");
		if (events[0])
			ctl_log(CTL_LOG_INFO, "%s", events);
		if (!len) {
			if (wait_or_stop(x, IDLE_MS))
				return EX_DONE;
			continue;
		}
		cJSON *records = cJSON_CreateArray();
		used = encode(x, data, len, records, &n);
		if (n && deliver(x, records, n))
			return EX_DONE; /* not committed: sent again at the next start */
		if (!n)
			cJSON_Delete(records);
		if (ctl_tail_commit(t, used) < 0)
			ctl_log(CTL_LOG_ERR, "state %s: %s; a restart would send some records again", t->state,
				strerror(errno));
	}
}

static unsigned number(const char *opt, const char *v, long max)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*end || end == v || n < 1 || n > max)
		ctl_die(EX_USAGE, "audit: %s: a number from 1 to %ld", opt, max);
	return (unsigned)n;
}

/* Options of --follow; returns the audit file named, or NULL. */
static const char *parse(exporter *x, int argc, char **argv, const char **state)
{
	const char *file = NULL, *why;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--follow"))
			continue;
		if (a[0] != '-') {
			if (file)
				ctl_die(EX_USAGE, "audit: one FILE only, not also \"%s\"", a);
			file = a;
			continue;
		}
		if (!v)
			ctl_die(EX_USAGE, "audit: %s needs a value (or it does not go with --follow)", a);
		i++;
		if (!strcmp(a, "--otlp"))
			x->q.url = v;
		else if (!strcmp(a, "--state"))
			*state = v;
		else if (!strcmp(a, "--batch"))
			x->batch = number(a, v, 10000);
		else if (!strcmp(a, "--token-env"))
			x->q.token = ctl_http_token_env("audit", v);
		else if (!strcmp(a, "--cacert"))
			x->q.cacert = v;
		else
			ctl_die(EX_USAGE, "audit: %s does not go with --follow", a);
	}
	if (!x->q.url)
		ctl_die(EX_USAGE, "audit: --follow needs --otlp URL (an OTLP/HTTP logs endpoint)");
	if ((why = ctl_http_url_check(x->q.url)))
		ctl_die(EX_USAGE, "audit: --otlp: %s", why);
	return file;
}

int ctl_audit_follow(int argc, char **argv)
{
	exporter x = {.q = {.timeout_ms = 10000}, .batch = 512};
	const char *state = NULL, *path, *why;
	char defstate[4200];
	ctl_tail t;

	path = parse(&x, argc, argv, &state);
	if (!path)
		path = audit_default_file();
	if (!state) {
		snprintf(defstate, sizeof(defstate), "%s.otlp-state", path);
		state = defstate;
	}
	ctl_log_init("audit");
	ctl_http_url_for_log(x.q.url, x.shown, sizeof(x.shown));
	if (gethostname(x.host, sizeof(x.host)) < 0)
		snprintf(x.host, sizeof(x.host), "unknown");
	if (ctl_http_init(&why) < 0)
		ctl_die(EX_SYSTEM, "audit: %s", why);
	if ((x.sfd = ctl_signal_fd()) < 0)
		ctl_die(EX_SYSTEM, "audit: %s", strerror(errno));
	if (ctl_tail_open(&t, path, state) < 0 && errno != ENOENT)
		ctl_die(EX_INVALID, "audit: %s: %s", path, strerror(errno));
	ctl_log(CTL_LOG_INFO, "following %s from offset %lld, exporting to %s", path, (long long)t.off, x.shown);
	int rc = run(&x, &t);
	if (x.skipped)
		ctl_log(CTL_LOG_WARN, "%llu lines skipped: not JSON objects", x.skipped);
	ctl_tail_close(&t);
	return rc;
}
