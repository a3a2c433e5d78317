/*
 * llmroutectl_publish.h - what the long-running verbs (`watch`, `sync`,
 * `audit --follow`) share: their one-line log, their signals, and
 * publishing a rules text exactly as `llmroutectl load` does.
 */
#ifndef LLMROUTECTL_PUBLISH_H
#define LLMROUTECTL_PUBLISH_H
#include <stddef.h>

enum { CTL_LOG_ERR = 3, CTL_LOG_WARN = 4, CTL_LOG_INFO = 6 };

/* Names the verb in each log line ("watch" -> "llmroutectl watch: ...");
 * under systemd (JOURNAL_STREAM set) lines carry an sd-daemon "<N>" prefix
 * instead, so journald files errors as errors. */
void ctl_log_init(const char *verb);

/* One line on stderr: newlines in the message (a rules error's text)
 * become spaces. */
void ctl_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The generation of the live table, 0 when there is none (for the log). */
unsigned long long ctl_live_generation(void);

/* Compiles and publishes `text` (named `what` in the log) under the
 * writer's lock, with the counters beside it, as `load` does.  Returns 0
 * when published, 1 when refused as invalid (the live table stays; trying
 * the same bytes again would not help), -1 when it should be retried (a
 * system error).  Every outcome is logged. */
int ctl_publish_text(const char *what, const char *text, size_t len);

/* A signalfd for SIGTERM, SIGINT and SIGHUP (blocked first); -1 on error. */
int ctl_signal_fd(void);

/* The signal read from `sfd`, 0 if none. */
int ctl_read_signal(int sfd);

/* Monotonic milliseconds. */
long long ctl_now_ms(void);

#endif
