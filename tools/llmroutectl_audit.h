/*
 * llmroutectl_audit.h - the summary of an audit file that `llmroutectl
 * audit` computes once and prints as text, JSON (llmroutectl_audit.c) or
 * an HTML report (llmroutectl_html.c), so the three always agree.
 *
 * A summary holds one or more groupings of the same records (by model, by
 * rule, ...) and their total.  "requests" are audit records: under a route
 * with fallbacks there is one per attempt.  Every duration is kept, so
 * percentiles are exact (nearest rank).  Groups are sorted by name before
 * printing.
 */
#ifndef LLMROUTECTL_AUDIT_H
#define LLMROUTECTL_AUDIT_H
#include <stddef.h>
#include <stdio.h>

enum { BY_MODEL, BY_RULE, BY_PROCESS, BY_SERVER, BY_DAY, BY_INTENT, BY_N };
extern const char *const audit_by_name[BY_N]; /* "model", "rule", ... */

typedef struct {
	char *key;               /* NULL for the total */
	unsigned long long requests, errors, fallbacks, unpriced, excluded;
	unsigned long long firsts;     /* records of an app's request: its first attempt */
	unsigned long long escalated;  /* attempts sent because the answer before failed
	                                * the answer gate (llmroute.via "escalation") */
	unsigned long long uncertain;  /* routed by a "when_unsure" */
	long long in, out;
	double cost, asked, actual;
	double *dur;             /* sorted once the file is read */
	size_t ndur, capdur;
} audit_group;

typedef struct {
	int by;
	audit_group **g;         /* sorted by key once the file is read */
	size_t n, cap;
	size_t *slot, nslot;     /* open addressing: index into g plus 1, 0 = empty */
} audit_grouping;

typedef struct {
	audit_grouping by[BY_N];
	size_t nby;
	audit_group total;
	unsigned long long bad;
	unsigned long long bad_line[10]; /* the first unreadable lines, 1-based */
} audit_summary;

/* The p-th percentile of g's durations (nearest rank: always one that was
 * measured), or -1 when it has none. */
double audit_pct(const audit_group *g, unsigned p);

/* Writes sm (every grouping, with savings) as one self-contained HTML page
 * to f: inline CSS and SVG, no script, nothing fetched.  Every string from
 * the audit is escaped.  `source` names the audit file in the page.  The
 * caller checks f for write errors. */
void audit_html(FILE *f, const audit_summary *sm, const char *source);

/* The audit file when none is named: $LLMROUTE_AUDIT, then the live
 * table's "audit"; dies with EX_NOTFOUND when neither says. */
const char *audit_default_file(void);

/* `audit --follow --otlp URL ...` (llmroutectl_otlp.c). */
int ctl_audit_follow(int argc, char **argv);

#endif
