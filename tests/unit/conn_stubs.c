/*
 * conn_stubs.c - the shim functions shim/lr_conn.c calls, outside the
 * connection engine, for test_conn (see conn_stubs.h): the table view
 * (lr_view_*), the audit record (lr_rec_*), the log, and the process facts.
 *
 * Each stub keeps what the real one was asked in S, so a test can assert
 * what would have been recorded.  Records are real allocations, so a
 * sanitizer reports a record lr_conn forgets to end or free.
 */
#include "conn_stubs.h"
#include "lr_intent.h"
#include "lr_log.h"
#include "lr_serve.h"
#include "lr_rules.h"
#include "lr_shim.h"
#include "lr_view.h"
#include "lr_xsink.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

stub_state S;
static lr_table *table;
static lr_intent_cache *intents;

/* s, cut to fit (NULL as "") */
static void copy(char *dst, size_t cap, const char *s)
{
	size_t n = s ? strnlen(s, cap - 1) : 0;

	memcpy(dst, s ? s : "", n);
	dst[n] = '\0';
}

int stubs_set_rules(const char *json)
{
	lr_rules_error e;
	void *blob = NULL;
	size_t blen = 0;
	int rc = 0;

	stubs_free();
	if (json && (rc = lr_rules_compile(json, strlen(json), &blob, &blen, &e)) < 0) {
		fprintf(stderr, "rules do not compile: %s %s\n", e.path, e.msg);
		return rc;
	}
	table = blob;
	intents = table ? lr_intent_cache_new(table) : NULL;
	S.table = table;
	return 0;
}

void stubs_free(void)
{
	lr_intent_cache_free(intents);
	free(table);
	intents = NULL;
	table = NULL;
	S.table = NULL;
}

void stubs_reset(void)
{
	int i;

	for (i = 0; i < S.nrec; i++) /* a record lr_conn never ended: the caller checks */
		free(S.rec[i].x);
	memset(&S, 0, sizeof(S));
	S.table = table;
}

const stub_rec *stubs_rec(int index)
{
	return index >= 0 && index < S.nrec ? &S.rec[index] : NULL;
}

static stub_rec *find(const lr_rec *x)
{
	int i;

	for (i = 0; x && i < S.nrec; i++)
		if (S.rec[i].x == x)
			return &S.rec[i];
	return NULL;
}

/* --- the view ------------------------------------------------------------- */

const lr_table *lr_view_acquire(void)
{
	if (S.table)
		S.held++;
	return S.table;
}

void lr_view_release(const lr_table *t)
{
	if (t)
		S.held--;
}

const struct lr_intent_cache *lr_view_intents(const lr_table *t)
{
	return t && t == table ? intents : NULL;
}

/* --- the audit record -------------------------------------------------------- */

lr_rec *lr_rec_begin(const lr_table *t, const lr_request *r, const lr_decision *d,
		     const lr_plan *p, const char *sent_url, const char *body, size_t blen,
		     const char *transport)
{
	stub_rec *s;

	if (S.nrec == STUB_MAX_RECS)
		return NULL;
	s = &S.rec[S.nrec];
	memset(s, 0, sizeof(*s));
	if (!(s->x = calloc(1, sizeof(*s->x))))
		return NULL;
	S.nrec++;
	copy(s->route, sizeof(s->route), d->route ? lr_table_str(t, d->route->name) : NULL);
	s->action = d->action;
	s->routed = p != NULL;
	copy(s->model, sizeof(s->model), r->model);
	copy(s->sent_model, sizeof(s->sent_model), p ? p->model : NULL);
	copy(s->url, sizeof(s->url), sent_url);
	copy(s->transport, sizeof(s->transport), transport);
	snprintf(s->sent_body, sizeof(s->sent_body), "%.*s", (int)blen, body ? body : "");
	s->status = -1;
	return s->x;
}

void lr_rec_unapplied(lr_rec *x, const lr_table *t, int why)
{
	stub_rec *s = find(x);

	if (s)
		s->why = why;
}

void lr_rec_log_unapplied(const lr_table *t, const lr_decision *d, const lr_request *r, int why,
			  const char *transport)
{
	S.unapplied_logs++;
	S.unapplied_why = why;
}

void lr_rec_log_routed(const lr_table *t, const lr_decision *d, const lr_request *r,
		       const char *model, const char *url, const char *transport)
{
	S.routed_logs++;
}

void lr_rec_body(lr_rec *x, const char *p, size_t n)
{
	stub_rec *s = find(x);
	size_t k;

	if (!s)
		return;
	k = n < sizeof(s->got) - 1 - s->got_len ? n : sizeof(s->got) - 1 - s->got_len;
	memcpy(s->got + s->got_len, p, k);
	s->got_len += k;
}

void lr_rec_end(lr_rec *x, long status, const char *error_type)
{
	stub_rec *s = find(x);

	if (!x) {
		S.null_ends++;
		return;
	}
	if (s) {
		s->ended = 1;
		s->status = status;
		copy(s->error_type, sizeof(s->error_type), error_type);
		s->x = NULL;
	}
	free(x);
}

void lr_rec_free(lr_rec *x)
{
	stub_rec *s = find(x);

	if (s) {
		s->freed = 1;
		s->x = NULL;
	}
	free(x);
}

void lr_rec_denied(const lr_table *t, const lr_request *r, const lr_decision *d,
		   size_t blen, const char *transport)
{
	stub_denied *s;

	if (S.ndenied == 8)
		return;
	s = &S.denied[S.ndenied++];
	copy(s->route, sizeof(s->route), d->route ? lr_table_str(t, d->route->name) : NULL);
	copy(s->model, sizeof(s->model), r->model);
	copy(s->transport, sizeof(s->transport), transport);
	s->blen = blen;
}

const struct lr_live *lr_rec_live(const lr_table *t)
{
	return NULL; /* no counters: nothing spent, no latency known */
}

/* --- the log and the process -------------------------------------------------- */

void lr_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(S.last_log, sizeof(S.last_log), fmt, ap);
	va_end(ap);
	if (level == LR_LOG_ERROR)
		S.errors++;
	if (getenv("LR_TEST_LOG"))
		fprintf(stderr, "log[%d]: %s\n", level, S.last_log);
}

int lr_disabled(void)
{
	return 0;
}

const char *lr_process_name(void)
{
	return "conn-test";
}

/* --- the rest of the shim lr_conn reaches: the counters segment, and the
 * shim's own client (never available here: lr_conn carries requests on
 * its connection or reports them not applied) -------------------------- */

lr_stats_seg *lr_rec_stats(void)
{
	return NULL;
}

int lr_rec_wants_stream(const lr_request *r, const char *body, size_t blen)
{
	(void)r;
	(void)body;
	(void)blen;
	return 0;
}

int lr_serve_possible(const lr_conn *c)
{
	(void)c;
	return 0;
}

int lr_serve_start(lr_conn *c, lr_serve_job *j)
{
	(void)c;
	(void)j;
	return -1;
}

/* A translated step's answer sink (lr_xsink.c): a copy, never run here. */
lr_xsink_cfg *lr_xsink_cfg_dup(lr_xsink_cfg *cfg)
{
	lr_xsink_cfg *c = malloc(sizeof(*c));

	if (c) {
		*c = *cfg;
		memset(&cfg->rm, 0, sizeof(cfg->rm));
	}
	return c;
}

void lr_xsink_cfg_free(lr_xsink_cfg *cfg)
{
	if (cfg)
		lr_redact_free(&cfg->rm);
	free(cfg);
}

void lr_serve_shut(lr_conn *c)
{
	(void)c;
}

int lr_ssl_fd(void *ssl)
{
	(void)ssl;
	return -1;
}

void lr_claim_shut(int fd)
{
	(void)fd;
}

void lr_serve_conn_free(lr_conn *c)
{
	(void)c;
}

void lr_rec_health_env(struct lr_attempt_env *env, const lr_health_cfg *cfg)
{
	(void)env;
	(void)cfg;
}
