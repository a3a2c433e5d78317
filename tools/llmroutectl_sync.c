/*
 * llmroutectl_sync.c - `llmroutectl sync URL`: central rules.  Fetches URL
 * now and every --interval seconds and publishes each new valid version,
 * as `load` would, until SIGTERM or SIGINT (exit 0).
 *
 * It mirrors `watch`: the same log lines, SIGHUP to fetch and publish
 * again even if unchanged, a version that does not compile reported once
 * while the live table stays.  Requests are conditional (If-None-Match
 * with the last ETag), so a static file server or an object store answers
 * 304 and nothing is read, compiled or published; an answer without ETag
 * is compared by its bytes, so the same version is never published twice
 * either way.  A failure to reach URL, or an answer other than 200 or 304,
 * is reported once (and again only when the reason changes) with the
 * generation that stays live; "reachable again" when it ends.
 *
 * Secrets: the bearer token comes from an environment variable named by
 * --token-env (never a command-line argument, which `ps` shows), and the
 * URL is logged without user information or query (presigned URLs).
 */
#include "llmroutectl.h"
#include "llmroutectl_http.h"
#include "llmroutectl_publish.h"
#include "lr_table.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MS 1000 /* a publish that failed for a system reason */

static const char sync_usage[] =
	"usage: llmroutectl sync URL [--interval S] [--token-env VAR] [--cacert FILE]\n"
	"                            [--timeout S] [--once]\n"
	"  fetch rules from URL (http or https, TLS verified) now and every S\n"
	"  seconds, and publish each new valid version as `load` does; a version\n"
	"  that does not compile, or an error fetching it, is reported and the\n"
	"  live table stays.  Requests carry If-None-Match: a 304 costs nothing.\n"
	"  --interval S      seconds between polls (default 30, 1 to 86400)\n"
	"  --token-env VAR   send the token in environment variable VAR as\n"
	"                    Authorization: Bearer (never logged)\n"
	"  --cacert FILE     trust the CAs in FILE (PEM) instead of the system's\n"
	"  --timeout S       give up a request after S seconds (default 30)\n"
	"  --once            fetch and publish once, then exit: 0 published or\n"
	"                    unchanged, 2 invalid rules, 4 not fetched\n"
	"  SIGHUP fetches and publishes again even if unchanged; SIGTERM or SIGINT\n"
	"  stop it (exit 0).  Log: stderr, one line per event.\n";

typedef struct {
	ctl_http_req q;
	char shown[512];            /* URL as the log shows it */
	char etag[CTL_HTTP_ETAG_MAX];
	uint64_t last_hash;         /* of the bytes last tried (published or refused) */
	int have_last;
	char last_err[300];         /* the failure last reported, "" if none */
	int retry;                  /* a publish failed for a system reason */
	int refused;                /* the last version tried did not compile */
	unsigned interval_s;
	int once;
} syncer;

/* Reports a failure once per distinct reason. */
static void failed(syncer *s, const char *why)
{
	if (!strcmp(s->last_err, why))
		return;
	snprintf(s->last_err, sizeof(s->last_err), "%s", why);
	ctl_log(CTL_LOG_ERR, "%s: %s; the live table stays at generation %llu, trying again in %u s", s->shown,
		why, ctl_live_generation(), s->interval_s);
}

/* A 200: publish the bytes if they are new (or `force`). */
static void take(syncer *s, const ctl_http_res *r, int force)
{
	uint64_t h = lr_fnv1a64(r->body ? r->body : "", r->len);
	int rc;

	if (!force && s->have_last && h == s->last_hash) {
		snprintf(s->etag, sizeof(s->etag), "%s", r->etag);
		return;
	}
	rc = ctl_publish_text(s->shown, r->body ? r->body : "", r->len);
	s->retry = rc < 0;
	s->refused = rc == 1;
	s->have_last = rc >= 0;
	s->last_hash = h;
	/* Remember the ETag only once the version was dealt with: after a
	 * system failure the next poll must fetch it again, not get a 304. */
	snprintf(s->etag, sizeof(s->etag), "%s", rc >= 0 ? r->etag : "");
}

/* One poll.  Returns 0 done, -1 aborted by a signal. */
static int poll_url(syncer *s, int force)
{
	ctl_http_res r;
	char why[300];

	s->q.if_none_match = force || s->retry ? NULL : s->etag;
	if (ctl_http_do(&s->q, &r) < 0) {
		if (!r.aborted)
			failed(s, r.error);
		s->retry = 0;
		ctl_http_res_free(&r);
		return r.aborted ? -1 : 0;
	}
	if (s->last_err[0] && (r.status == 200 || r.status == 304))
		ctl_log(CTL_LOG_INFO, "%s: reachable again", s->shown);
	if (r.status == 200 || r.status == 304)
		s->last_err[0] = '\0';
	if (r.status == 200) {
		take(s, &r, force);
	} else if (r.status != 304) {
		snprintf(why, sizeof(why), "HTTP status %ld", r.status);
		failed(s, why);
	}
	ctl_http_res_free(&r);
	return 0;
}

static int run(syncer *s, int sfd)
{
	long long next = 0;
	int force = 0, sig;

	for (;;) {
		long long t = ctl_now_ms();
		if (t >= next) {
			if (poll_url(s, force) == 0)
				force = 0;
			next = ctl_now_ms() + (s->retry ? RETRY_MS : (long long)s->interval_s * 1000);
			continue;
		}
		struct pollfd pf = {sfd, POLLIN, 0};
		if (poll(&pf, 1, (int)(next - t)) < 0 && errno != EINTR)
			ctl_die(EX_SYSTEM, "sync: poll: %s", strerror(errno));
		while ((sig = ctl_read_signal(sfd))) {
			if (sig != SIGHUP) {
				ctl_log(CTL_LOG_INFO, "stopping on %s; the live table stays at generation %llu",
					sig == SIGTERM ? "SIGTERM" : "SIGINT", ctl_live_generation());
				return EX_DONE;
			}
			force = 1;
			next = 0;
		}
	}
}

static unsigned seconds(const char *opt, const char *v, long max)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*end || end == v || n < 1 || n > max)
		ctl_die(EX_USAGE, "sync: %s: seconds from 1 to %ld", opt, max);
	return (unsigned)n;
}

static void parse(syncer *s, int argc, char **argv)
{
	const char *why;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (ctl_is_help(a)) {
			fputs(sync_usage, stdout);
			exit(EX_DONE);
		} else if (!strcmp(a, "--once")) {
			s->once = 1;
		} else if (a[0] != '-' && !s->q.url) {
			s->q.url = a;
		} else if (!v || a[0] != '-') {
			fputs(sync_usage, stderr);
			exit(EX_USAGE);
		} else if (!strcmp(a, "--interval")) {
			s->interval_s = seconds(a, argv[++i], 86400);
		} else if (!strcmp(a, "--timeout")) {
			s->q.timeout_ms = (long)seconds(a, argv[++i], 3600) * 1000;
		} else if (!strcmp(a, "--token-env")) {
			s->q.token = ctl_http_token_env("sync", argv[++i]);
		} else if (!strcmp(a, "--cacert")) {
			s->q.cacert = argv[++i];
		} else {
			fputs(sync_usage, stderr);
			exit(EX_USAGE);
		}
	}
	if (!s->q.url) {
		fputs(sync_usage, stderr);
		exit(EX_USAGE);
	}
	if ((why = ctl_http_url_check(s->q.url)))
		ctl_die(EX_USAGE, "sync: %s", why);
}

int ctl_sync(int argc, char **argv)
{
	syncer s = {.q = {.timeout_ms = 30000, .max_body = CTL_MAX_INPUT, .abort_fd = -1}, .interval_s = 30};
	const char *why;
	int sfd;

	parse(&s, argc, argv);
	ctl_log_init("sync");
	ctl_http_url_for_log(s.q.url, s.shown, sizeof(s.shown));
	if (ctl_http_init(&why) < 0)
		ctl_die(EX_SYSTEM, "sync: %s", why);
	if (s.once) {
		poll_url(&s, 1);
		return s.last_err[0] || s.retry ? EX_SYSTEM : s.refused ? EX_INVALID : EX_DONE;
	}
	if ((sfd = ctl_signal_fd()) < 0)
		ctl_die(EX_SYSTEM, "sync: %s", strerror(errno));
	s.q.abort_fd = sfd;
	ctl_log(CTL_LOG_INFO, "polling %s every %u s", s.shown, s.interval_s);
	return run(&s, sfd);
}
