/*
 * conn_stubs.h - the rest of the shim as test_conn sees it (conn_stubs.c):
 * the routing table is one the test compiled from JSON rules (no shared
 * memory), audit records are captured in memory for the test to read, and
 * the log is quiet (LR_TEST_LOG=1 prints it).  Linked with shim/lr_conn.o
 * and the router objects instead of the rest of the shim.
 */
#ifndef CONN_STUBS_H
#define CONN_STUBS_H
#include "lr_rec.h"
#include "lr_table.h"
#include <stddef.h>

#define STUB_MAX_RECS 64

/* One lr_rec_begin, and what happened to it since. */
typedef struct {
	lr_rec *x;              /* handed to lr_conn; NULL once ended or freed */
	char route[72];         /* the decision's route, "" if none */
	int action;             /* the decision's action (lr_match.h) */
	int routed;             /* begun with a plan */
	char model[64];         /* the model the app asked for */
	char sent_model[64];    /* the plan's model, "" if none or not routed */
	char url[512];          /* where it went */
	char transport[8];
	char sent_body[2048];   /* the body sent, as given to lr_rec_begin */
	int why;                /* lr_rec_unapplied's reason (LR_UNAPPLIED_*) */
	char got[4096];         /* answer body fed through lr_rec_body */
	size_t got_len;
	int ended, freed;
	long status;            /* lr_rec_end's */
	char error_type[32];    /* lr_rec_end's, "" for NULL */
} stub_rec;

typedef struct {
	char route[72], model[64], transport[8];
	size_t blen;
} stub_denied;

typedef struct {
	const lr_table *table;  /* what lr_view_acquire returns (NULL: no table) */
	int held;               /* lr_view_acquire calls not yet released */
	int nrec;
	stub_rec rec[STUB_MAX_RECS];
	int null_ends;          /* lr_rec_end(NULL, ...): answers to unrecorded requests */
	int ndenied;
	stub_denied denied[8];
	int unapplied_logs, unapplied_why; /* lr_rec_log_unapplied: count, last reason */
	int routed_logs;        /* lr_rec_log_routed */
	int errors;             /* lr_log at LR_LOG_ERROR */
	char last_log[512];
} stub_state;

extern stub_state S;

/* Compiles rules (JSON text) into the table lr_view_acquire hands out,
 * replacing the previous one; NULL removes it.  0, or < 0 (message on
 * stderr). */
int stubs_set_rules(const char *json);

/* Forgets every captured call (the table stays).  Records still open are
 * a test's leak: reported and counted as failures by the caller. */
void stubs_reset(void);

/* The captured record begun index-th (0-based), or NULL. */
const stub_rec *stubs_rec(int index);

/* Frees the table (end of the run, so sanitizers see no leak). */
void stubs_free(void);

#endif
