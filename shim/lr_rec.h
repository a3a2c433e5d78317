/*
 * lr_rec.h - the audit record and live counters of one LLM request, for
 * every transport (libcurl, plain sockets, TLS).
 *
 * A transport calls lr_rec_begin() once it has decided a request (NULL back
 * means nobody listens: no audit file, no counters segment), feeds the
 * response body the app received through lr_rec_body(), and ends it with
 * lr_rec_end(), which writes one audit line and adds to the counters.  A
 * denied request is recorded at once with lr_rec_denied().  The transport
 * owns the lr_rec until it ends or frees it; nothing here is shared between
 * two requests, except the audit descriptor and the counters mapping,
 * which are looked up under one mutex.
 */
#ifndef LR_REC_H
#define LR_REC_H
#include "lr_match.h"
#include "lr_plan.h"
#include "lr_price.h"
#include "lr_request.h"
#include "lr_stats.h"
#include "lr_table.h"
#include "lr_usage.h"
#include <stdint.h>

typedef struct lr_rec {
	lr_usage usage;
	int64_t start_ns, first_ns;
	int64_t end_ns;               /* when it ended, if before lr_rec_end (0: at lr_rec_end) */
	char rule[72];
	char target[72];              /* the catalogue target chosen, "" if none */
	char intent[72];              /* the request's intent, "" if none */
	double intent_confidence;
	char uncertain[72];           /* the route unsure of it ("when_unsure"), "" if none */
	unsigned guard_count[LR_GK_N]; /* the detectors' findings per kind (never values) */
	const char *guard_action;     /* what was done about them (lr_audit.h), NULL if none found */
	const char *action, *provider, *operation, *transport;
	const char *not_applied;      /* the route was not applied: why (lr_plan.h) */
	char original_model[LR_MODEL_MAX], sent_model[LR_MODEL_MAX];
	char original_server[300], server[256];
	int port, stream, has_price;
	int in_headers, body_started; /* for the libcurl transport's CURLOPT_HEADER */
	lr_price price;
	long long request_bytes;
	unsigned long long generation;
	/* one attempt of a request under a resilient route (lr_resil.h) */
	char request_id[24];
	int attempt, delivered;       /* attempt 0: not such a request */
	const char *via, *gate, *cache;
	unsigned wait_ms;             /* the wait before this attempt went */
	const char *error_type;       /* when lr_rec_end is given none: this, not http_NNN */
	int cache_hit;                /* served from the cache: costs nothing */
} lr_rec;

/* Starts the record of a request decided as d from table t (its view lock
 * held); p may be NULL (not routed).  sent_url is where it goes, body the
 * body sent.  transport is a static string ("curl", "socket", "tls").
 * Returns NULL when nobody listens or memory is short. */
lr_rec *lr_rec_begin(const lr_table *t, const lr_request *r, const lr_decision *d,
		     const lr_plan *p, const char *sent_url, const char *body, size_t blen,
		     const char *transport);

/* The route decided for x was not applied (why: LR_UNAPPLIED_*): the
 * request went out as the app made it, so x must have been begun with no
 * plan and the app's URL.  Its price is the app's model's, and it is
 * counted apart from the route's routed requests.  x may be NULL. */
void lr_rec_unapplied(lr_rec *x, const lr_table *t, int why);

/* Says so on stderr: the first time per process for each route and
 * reason at the default level (error), with what the user can do; every
 * time at info.  Call with the view lock held (t). */
void lr_rec_log_unapplied(const lr_table *t, const lr_decision *d, const lr_request *r, int why,
			  const char *transport);

/* At info: one line per routed request, on every transport (the route,
 * the model asked and sent, where it went). */
void lr_rec_log_routed(const lr_table *t, const lr_decision *d, const lr_request *r,
		       const char *model, const char *url, const char *transport);

/* n bytes of response body the app received (time of first byte, usage). */
void lr_rec_body(lr_rec *x, const char *p, size_t n);

/* Completes the record, writes it, frees x.  status <= 0: no answer came.
 * error_type: NULL for x->error_type, or when that is NULL too, derived
 * from the status ("http_NNN" from 400). */
void lr_rec_end(lr_rec *x, long status, const char *error_type);

/* Records a denied request (nothing was sent). */
void lr_rec_denied(const lr_table *t, const lr_request *r, const lr_decision *d,
		   size_t blen, const char *transport);

/* The same for a later attempt of a resilient request: the record carries
 * link's request id, attempt and via, and is the one delivered. */
void lr_rec_denied_as(const lr_table *t, const lr_request *r, const lr_decision *d,
		      size_t blen, const char *transport, const lr_rec *link);

/* A copy of record x as it was begun (x must not have been fed a byte
 * yet), for another attempt at the same step (a Retry-After), or NULL. */
lr_rec *lr_rec_clone(const lr_rec *x);

/* The request goes out only now (after delay_ms): its latency counts from
 * then, not from when the record was begun (a later attempt's record is
 * begun with the first's). */
void lr_rec_restart(lr_rec *x, unsigned delay_ms);

/* Frees a record without writing it (NULL is fine). */
void lr_rec_free(lr_rec *x);

/* Does the request ask for a streamed answer? */
int lr_rec_wants_stream(const lr_request *r, const char *body, size_t blen);

/* The live numbers routing policy reads (lr_choose.h): today's spend and
 * targets' latency, from the counters segment. */
struct lr_live;
const struct lr_live *lr_rec_live(const lr_table *t);

/* Target health for the attempt engine (lr_attempt_env), in the counters
 * segment, with the thresholds of the table the request was decided by:
 * ud of the env is *cfg, which must live as long as the attempts. */
typedef struct lr_health_cfg {
	unsigned fails, cooldown_s, cooldown_min_s;
} lr_health_cfg;
struct lr_attempt_env;
void lr_rec_health_env(struct lr_attempt_env *env, const lr_health_cfg *cfg);

/* The counters segment, or NULL (for target health, lr_stats.h). */
lr_stats_seg *lr_rec_stats(void);

/* Records that could not be written (disk full, unwritable file). */
unsigned long long lr_rec_dropped(void);

/* The host is about to close descriptors first..last (close, closefrom,
 * close_range, dup2 onto one): if the audit file's is among them, it is
 * forgotten (never closed or written by us again) and the path reopened
 * at the next record.  One load and compare when it is not. */
void lr_rec_closing(unsigned first, unsigned last);

#endif
