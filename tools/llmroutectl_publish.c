/*
 * llmroutectl_publish.c - the log, signals and publishing of the
 * long-running verbs (see llmroutectl_publish.h).
 *
 * Publishing mirrors `llmroutectl load`: the whole text is compiled before
 * the writer's lock is taken, and a text that does not compile leaves the
 * live table exactly as it was.  Log lines are one per event, without
 * color, so a log collector can take them as they come.
 */
#include "llmroutectl_publish.h"
#include "llmroutectl.h"
#include "lr_error.h"
#include "lr_stats.h"
#include "lr_table.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static const char *log_verb = "";
static int journal; /* stderr goes to journald */

void ctl_log_init(const char *verb)
{
	log_verb = verb;
	journal = getenv("JOURNAL_STREAM") != NULL;
}

void ctl_log(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	char *p;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (journal)
		fprintf(stderr, "<%d>%s\n", prio, line);
	else
		fprintf(stderr, "llmroutectl %s: %s\n", log_verb, line);
}

long long ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

unsigned long long ctl_live_generation(void)
{
	const char *why;
	lr_shm s;
	unsigned long long gen;

	if (lr_shm_attach(lr_shm_name(), &s, &why) < 0)
		return 0;
	gen = lr_shm_generation(&s);
	lr_shm_close(&s);
	return gen;
}

/* The counters beside the table, as `load` makes them; a failure only
 * turns counting off, so it is logged, not fatal. */
static void ensure_stats(void)
{
	const char *why = "", *note = NULL;

	if (lr_stats_ensure(lr_shm_name(), &note, &why) < 0)
		ctl_log(CTL_LOG_WARN, "no live counters (budgets and health are off): %s", why);
	else if (note)
		ctl_log(CTL_LOG_INFO, "counters of %s: %s", lr_shm_name(), note);
}

static void log_refused(const char *what, const lr_rules_error *e)
{
	char where[64] = "";

	if (e->line)
		snprintf(where, sizeof(where), "%d:%d:", e->line, e->col);
	ctl_log(CTL_LOG_ERR, "%s:%s %s%s%s; not published, the live table stays at generation %llu", what, where,
		e->path, e->path[0] ? ": " : "", e->msg, ctl_live_generation());
}

int ctl_publish_text(const char *what, const char *text, size_t len)
{
	lr_rules_error e;
	const char *why = "";
	void *blob = NULL;
	size_t blen;
	uint64_t gen;
	lr_shm s;
	int rc = lr_rules_compile(text, len, &blob, &blen, &e);

	if (rc == LR_ENOMEM) {
		ctl_log(CTL_LOG_ERR, "out of memory compiling %s; trying again", what);
		return -1;
	}
	if (rc < 0) {
		log_refused(what, &e);
		return 1;
	}
	if ((rc = lr_shm_open_writer(lr_shm_name(), &s, 0, &why)) < 0) {
		ctl_log(CTL_LOG_ERR, "table %s: %s (%s); trying again", lr_shm_name(), lr_strerror(rc), why);
		free(blob);
		return -1;
	}
	ensure_stats(); /* under the writer lock, as `load` */
	rc = lr_shm_publish(&s, blob, blen, &gen);
	lr_shm_close(&s);
	if (rc < 0)
		ctl_log(CTL_LOG_ERR, "%s: cannot publish: %s; the live table stays at generation %llu", what,
			lr_strerror(rc), ctl_live_generation());
	else
		ctl_log(CTL_LOG_INFO, "published %s as %s generation %llu: %u routes", what, lr_shm_name(),
			(unsigned long long)gen, ((const lr_table *)blob)->nroutes);
	free(blob);
	return rc < 0 ? -1 : 0;
}

int ctl_signal_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int ctl_read_signal(int sfd)
{
	struct signalfd_siginfo si;

	return read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) ? (int)si.ssi_signo : 0;
}
