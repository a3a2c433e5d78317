/*
 * lr_log.h - the shim's only voice: stderr, gated by LLMROUTE_LOG.
 *
 * Levels: off, error (default), info, debug.  Each message is formatted
 * into a stack buffer and written with one write(2) to fd 2, prefixed with
 * "llmroute[PID]: ", so lines from many threads do not interleave and the
 * host's stdio buffers are never touched.  errno is preserved.
 */
#ifndef LR_LOG_H
#define LR_LOG_H

enum { LR_LOG_OFF, LR_LOG_ERROR, LR_LOG_INFO, LR_LOG_DEBUG };

/* The level from LLMROUTE_LOG, read once. */
int lr_log_level(void);

void lr_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs once per distinct `key` value per process (e.g. a generation or a
 * reason code), so a broken table is reported once, not per request. */
void lr_log_once(int level, unsigned key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
