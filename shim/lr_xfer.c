/*
 * lr_xfer.c - audit records and counters for libcurl transfers (see
 * lr_xfer.h).
 *
 * Process-wide state: the audit descriptor (opened on first use, reopened
 * if the configured path changes) and the counters mapping.  Both are
 * looked up under one mutex at the start of a transfer only; the write
 * callback itself touches nothing shared.
 */
#include "lr_xfer.h"
#include "lr_audit.h"
#include "lr_error.h"
#include "lr_json.h"
#include "lr_log.h"
#include "lr_price.h"
#include "lr_shim.h"
#include "lr_shm.h"
#include "lr_stats.h"
#include "lr_usage.h"
#include "lr_view.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct lr_xfer {
	lr_usage usage;
	int64_t start_ns, first_ns;
	char rule[72];
	const char *action, *provider, *operation;
	char original_model[LR_MODEL_MAX], sent_model[LR_MODEL_MAX];
	char original_server[300], server[256];
	int port, stream, has_price;
	int in_headers, body_started; /* CURLOPT_HEADER bookkeeping */
	lr_price price;
	long long request_bytes;
	unsigned long long generation;
} lr_xfer;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int audit_fd = -1;
static char audit_path[4096];
static lr_stats_seg *stats;
static _Atomic unsigned long long dropped;
static time_t audit_retry_at, stats_retry_at; /* after a failed open */

static const char *const action_names[] = {"none", "pass", "route", "deny"};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

unsigned long long lr_xfer_dropped(void)
{
	return atomic_load(&dropped);
}

/* The audit file: LLMROUTE_AUDIT wins over the table's "audit".  Opened
 * once per path; returns the descriptor or -1.  Called with mu held. */
static int audit_target(const lr_table *t)
{
	const char *path = secure_getenv("LLMROUTE_AUDIT");

	if ((!path || !*path) && t)
		path = lr_table_str(t, t->audit);
	if (!path || !*path)
		return -1;
	if (strcmp(path, audit_path) == 0 && (audit_fd >= 0 || time(NULL) < audit_retry_at))
		return audit_fd; /* open, or failed less than a second ago */
	if (audit_fd >= 0)
		close(audit_fd);
	snprintf(audit_path, sizeof(audit_path), "%s", path);
	audit_fd = lr_audit_open(path);
	if (audit_fd < 0) {
		audit_retry_at = time(NULL) + 1;
		lr_log_once(LR_LOG_ERROR, 70, "cannot open audit file %s: records are dropped", path);
	}
	return audit_fd;
}

/* Identity of a shared-memory object (Linux keeps them in /dev/shm). */
static ino_t shm_ino(const char *name)
{
	char path[320];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm%s", name);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* The counters segment beside the table, if `llmroutectl load` made one.
 * At most once a second, check it is still the same object (`unload
 * --force` and `load` make a new one); a missing one is looked for again
 * at most once a second.  A replaced mapping is left mapped: another
 * thread may be adding to it this instant.  Called with mu held. */
static lr_stats_seg *stats_target(void)
{
	static time_t check_at;
	static ino_t ino;
	time_t now = time(NULL);
	char name[300];

	if (stats && now < check_at)
		return stats;
	lr_stats_name(lr_shm_name(), name, sizeof(name));
	if (stats) {
		check_at = now + 1;
		if (shm_ino(name) == ino)
			return stats;
		stats = NULL;
	}
	if (now >= stats_retry_at) {
		stats = lr_stats_open(name, 0, 1, NULL);
		ino = stats ? shm_ino(name) : 0;
		check_at = now + 1;
		if (!stats)
			stats_retry_at = now + 1;
	}
	return stats;
}

/* Is anyone listening?  Called with mu held. */
static int wanted(const lr_table *t)
{
	int a = audit_target(t) >= 0 || audit_path[0];

	return a || stats_target() != NULL;
}

static void host_port(const char *url, char *host, size_t cap, int *port)
{
	lr_url u;

	host[0] = '\0';
	*port = 0;
	if (url && lr_url_parse(url, strlen(url), &u) == 0) {
		snprintf(host, cap, "%.*s", (int)u.host_len, u.host);
		*port = u.port;
	}
}

/* Does the request ask for a streamed answer? */
static int wants_stream(const lr_request *r, const char *body, size_t blen)
{
	static const char *const path[] = {"stream"};
	lr_span v;
	int found = body && lr_json_find(body, blen, path, 1, &v) == 0;

	if (r->det.stream_in_path)
		return 1;
	if (r->det.format == LR_FMT_OLLAMA) /* Ollama streams unless told not to */
		return strcmp(r->det.operation, "embeddings") != 0 && !(found && lr_json_is_false(v));
	return found && lr_json_is_true(v);
}

static void fill(lr_xfer *x, const lr_table *t, const lr_request *r, const lr_decision *d,
		 const lr_plan *p, const char *sent_url)
{
	snprintf(x->rule, sizeof(x->rule), "%s", d->route ? lr_table_str(t, d->route->name) : "");
	x->action = action_names[d->action];
	x->provider = r->det.provider;
	x->operation = r->det.otel_operation;
	snprintf(x->original_model, sizeof(x->original_model), "%s", r->model);
	snprintf(x->sent_model, sizeof(x->sent_model), "%s", p && p->model ? p->model : r->model);
	snprintf(x->original_server, sizeof(x->original_server), "%.*s:%d",
		 (int)r->det.url.host_len, r->det.url.host, r->det.url.port);
	host_port(sent_url, x->server, sizeof(x->server), &x->port);
	x->has_price = lr_price_lookup(t, x->sent_model, &x->price) == 0;
	x->generation = lr_view_generation();
}

void lr_xfer_begin(lr_easy *e, const lr_table *t, const lr_request *r,
		   const lr_decision *d, const lr_plan *p, const char *sent_url,
		   const char *body, size_t blen)
{
	lr_xfer *x;
	int want;

	pthread_mutex_lock(&mu);
	want = wanted(t);
	pthread_mutex_unlock(&mu);
	if (!want || !(x = calloc(1, sizeof(*x))))
		return;
	fill(x, t, r, d, p, sent_url);
	x->request_bytes = (long long)blen;
	x->stream = wants_stream(r, body, blen);
	lr_usage_init(&x->usage, r->det.format, x->stream, blen);
	x->start_ns = now_ns();
	lr_xfer_free(e);
	e->x = x;
}

/* --- the callbacks in front of the app's ---------------------------------- */

static size_t app_write(curl_write_callback cb, char *p, size_t size, size_t n, void *data)
{
	if (cb)
		return cb(p, size, n, data);
	/* libcurl's default: fwrite to WRITEDATA, stdout when unset */
	return fwrite(p, size, n, data ? data : stdout);
}

/* With CURLOPT_HEADER, libcurl writes each header line of each response
 * (a 100 Continue, redirects, the answer) to the write callback, one line a
 * call, before the body: those are not fed to the usage parser. */
static int header_line(lr_xfer *x, const char *p, size_t n)
{
	if (!x->body_started && n >= 5 && memcmp(p, "HTTP/", 5) == 0)
		x->in_headers = 1;
	if (!x->in_headers) {
		x->body_started = 1;
		return 0;
	}
	if ((n == 2 && p[0] == '\r' && p[1] == '\n') || (n == 1 && p[0] == '\n'))
		x->in_headers = 0;
	return 1;
}

static size_t audit_write(char *p, size_t size, size_t n, void *ud)
{
	lr_easy *e = ud;
	size_t r = app_write(e->write_cb, p, size, n, e->write_data);

	if (e->header_opt && e->x && r == size * n && header_line(e->x, p, r))
		return r;
	/* Only bytes the app took: after a pause, libcurl delivers them again. */
	if (r == size * n && e->x) {
		if (!e->x->first_ns)
			e->x->first_ns = now_ns();
		lr_usage_feed(&e->x->usage, p, r);
	}
	return r;
}

/* Headers go to the write callback with HEADERDATA when the app set
 * HEADERDATA but no HEADERFUNCTION: keep that, minus our WRITEDATA. */
static size_t audit_header(char *p, size_t size, size_t n, void *ud)
{
	lr_easy *e = ud;

	/* the app may have set a header function since (lr_curl.c keeps it) */
	if (e->header_cb)
		return e->header_cb(p, size, n, e->header_data);
	return app_write(e->write_cb, p, size, n, e->header_data);
}

void lr_xfer_install(const lr_curl_lib *lib, lr_easy *e)
{
	if (!e->x)
		return;
	lib->easy_setopt(e->h, CURLOPT_WRITEFUNCTION, audit_write);
	lib->easy_setopt(e->h, CURLOPT_WRITEDATA, e);
	if (!e->header_cb && e->header_data) {
		lib->easy_setopt(e->h, CURLOPT_HEADERFUNCTION, audit_header);
		lib->easy_setopt(e->h, CURLOPT_HEADERDATA, e);
		e->changed_header = 1;
	}
	e->changed_write = 1;
	e->applied = 1;
}

void lr_xfer_uninstall(const lr_curl_lib *lib, lr_easy *e)
{
	if (!e->changed_write)
		return;
	lib->easy_setopt(e->h, CURLOPT_WRITEFUNCTION, e->write_cb);
	lib->easy_setopt(e->h, CURLOPT_WRITEDATA, e->write_data);
	lib->easy_setopt(e->h, CURLOPT_HEADERFUNCTION, e->header_cb);
	lib->easy_setopt(e->h, CURLOPT_HEADERDATA, e->header_data);
	e->changed_write = e->changed_header = 0;
}

/* --- the record ------------------------------------------------------------ */

static const char *curl_error_type(int rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST: return "COULDNT_RESOLVE_HOST";
	case CURLE_COULDNT_CONNECT: return "COULDNT_CONNECT";
	case CURLE_OPERATION_TIMEDOUT: return "OPERATION_TIMEDOUT";
	case CURLE_GOT_NOTHING: return "GOT_NOTHING";
	case CURLE_RECV_ERROR: return "RECV_ERROR";
	case CURLE_SEND_ERROR: return "SEND_ERROR";
	case CURLE_SSL_CONNECT_ERROR: return "SSL_CONNECT_ERROR";
	case CURLE_WRITE_ERROR: return "WRITE_ERROR";
	case CURLE_ABORTED_BY_CALLBACK: return "ABORTED_BY_CALLBACK";
	case CURLE_PARTIAL_FILE: return "PARTIAL_FILE";
	}
	return "curl_error";
}

static void emit(const lr_audit_rec *rec, const lr_table *t)
{
	char line[LR_AUDIT_MAX_LINE];
	int n = 0, fd;
	lr_stats_seg *seg;
	lr_stats_delta dl = {1, rec->error_type != NULL, rec->input_tokens, rec->output_tokens,
			     rec->cost_usd, rec->duration_ms};

	pthread_mutex_lock(&mu);
	fd = audit_target(t);
	if (fd >= 0) /* formatted only when written: counters need no line */
		n = lr_audit_format(rec, line, sizeof(line));
	if (fd >= 0 && (n <= 0 || lr_audit_write(fd, line, (size_t)n) < 0)) {
		atomic_fetch_add(&dropped, 1);
		lr_log_once(LR_LOG_ERROR, 71, "cannot write to audit file %s: records are dropped", audit_path);
	} else if (fd < 0 && audit_path[0]) {
		atomic_fetch_add(&dropped, 1);
	}
	seg = stats_target();
	pthread_mutex_unlock(&mu);
	if (seg) { /* lock-free: see lr_stats.h */
		lr_stats_add(seg, LR_STATS_ROUTE, rec->rule ? rec->rule : "(none)", &dl);
		if (rec->request_model && *rec->request_model)
			lr_stats_add(seg, LR_STATS_MODEL, rec->request_model, &dl);
	}
}

static void base_rec(lr_audit_rec *rec, const lr_xfer *x)
{
	memset(rec, 0, sizeof(*rec));
	rec->time_ms = wall_ms();
	rec->provider = x->provider;
	rec->operation = x->operation;
	rec->request_model = x->sent_model[0] ? x->sent_model : NULL;
	rec->rule = x->rule[0] ? x->rule : NULL;
	rec->action = x->action;
	rec->original_model = x->original_model[0] ? x->original_model : NULL;
	rec->original_server = x->original_server;
	rec->server_address = x->server;
	rec->server_port = x->port;
	rec->transport = "curl";
	rec->stream = x->stream;
	rec->request_bytes = x->request_bytes;
	rec->generation = x->generation;
	rec->pid = (long)getpid();
	rec->process = lr_process_name();
	rec->input_tokens = rec->output_tokens = -1;
	rec->cost_usd = -1;
	rec->ttfb_ms = -1;
}

static void result_rec(lr_audit_rec *rec, lr_xfer *x, long status, int rc, char *errtype, size_t cap)
{
	int64_t end = now_ns();

	lr_usage_finish(&x->usage);
	rec->response_model = x->usage.model[0] ? x->usage.model : NULL;
	rec->input_tokens = x->usage.input_tokens;
	rec->output_tokens = x->usage.output_tokens;
	rec->tokens_estimated = x->usage.estimated;
	rec->response_bytes = (long long)x->usage.response_bytes;
	rec->status = (int)status;
	rec->duration_ms = (double)(end - x->start_ns) / 1e6;
	rec->ttfb_ms = x->first_ns ? (double)(x->first_ns - x->start_ns) / 1e6 : -1;
	/* A refused or failed call is not billed: no estimate for it. */
	if ((rc > 0 || status >= 400) && x->usage.estimated) {
		rec->input_tokens = rec->output_tokens = 0;
		rec->tokens_estimated = 0;
	}
	if (x->has_price && (rec->input_tokens >= 0 || rec->output_tokens >= 0))
		rec->cost_usd = lr_price_cost(&x->price, rec->input_tokens, rec->output_tokens);
	if (rc > 0)
		rec->error_type = curl_error_type(rc);
	else if (rc < 0 && status <= 0) /* removed before any answer was read */
		rec->error_type = "incomplete";
	else if (status >= 400) {
		snprintf(errtype, cap, "http_%03d", (int)(status % 1000));
		rec->error_type = errtype;
	}
}

void lr_xfer_end(const lr_curl_lib *lib, lr_easy *e, int rc)
{
	lr_xfer *x = e->x;
	lr_audit_rec rec;
	char errtype[24];
	long status = 0;
	const lr_table *t;

	if (!x)
		return;
	if (lib->easy_getinfo)
		lib->easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, &status);
	base_rec(&rec, x);
	result_rec(&rec, x, status, rc, errtype, sizeof(errtype));
	t = lr_view_acquire();
	emit(&rec, t);
	lr_view_release(t);
	lr_xfer_free(e);
}

void lr_xfer_denied(const lr_table *t, const lr_request *r, const lr_decision *d, size_t blen)
{
	lr_xfer x;
	lr_audit_rec rec;
	int want;

	pthread_mutex_lock(&mu);
	want = wanted(t);
	pthread_mutex_unlock(&mu);
	if (!want)
		return;
	memset(&x, 0, sizeof(x));
	fill(&x, t, r, d, NULL, NULL);
	x.request_bytes = (long long)blen;
	base_rec(&rec, &x);
	rec.server_address = NULL;
	rec.error_type = "denied";
	rec.input_tokens = rec.output_tokens = 0;
	rec.cost_usd = 0;
	emit(&rec, t);
}

void lr_xfer_free(lr_easy *e)
{
	if (e->x) {
		lr_usage_free(&e->x->usage);
		free(e->x);
		e->x = NULL;
	}
}
