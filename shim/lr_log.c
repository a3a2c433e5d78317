/* lr_log.c - diagnostics to stderr (see lr_log.h). */
#include "lr_log.h"
#include "lr_fork.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int level = -1;
static pthread_once_t level_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t once_mu = PTHREAD_MUTEX_INITIALIZER; /* lr_log_once */

static void read_level(void)
{
	const char *v = secure_getenv("LLMROUTE_LOG");

	level = LR_LOG_ERROR;
	if (!v)
		return;
	if (!strcmp(v, "off") || !strcmp(v, "0"))
		level = LR_LOG_OFF;
	else if (!strcmp(v, "info"))
		level = LR_LOG_INFO;
	else if (!strcmp(v, "debug"))
		level = LR_LOG_DEBUG;
}

int lr_log_level(void)
{
	pthread_once(&level_once, read_level);
	return level;
}

static void vlog(int lvl, const char *fmt, va_list ap)
{
	static const char *names[] = {"", "error: ", "", "debug: "};
	char buf[1024];
	int n, saved = errno;

	n = snprintf(buf, sizeof(buf), "llmroute[%d]: %s", (int)getpid(), names[lvl]);
	if (n > 0 && (size_t)n < sizeof(buf))
		n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (n < 0)
		goto out;
	if ((size_t)n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(2, buf, (size_t)n) < 0) {
		/* nowhere left to complain */
	}
out:
	errno = saved;
}

void lr_log(int lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl > lr_log_level() || lvl == LR_LOG_OFF)
		return;
	va_start(ap, fmt);
	vlog(lvl, fmt, ap);
	va_end(ap);
}

void lr_log_once(int lvl, unsigned key, const char *fmt, ...)
{
	static unsigned seen[16];
	static int nseen;
	va_list ap;
	int i, fresh = 1;

	if (lvl > lr_log_level() || lvl == LR_LOG_OFF)
		return;
	pthread_mutex_lock(&once_mu);
	for (i = 0; i < nseen && i < 16; i++)
		if (seen[i] == key)
			fresh = 0;
	if (fresh)
		seen[nseen++ % 16] = key;
	pthread_mutex_unlock(&once_mu);
	if (!fresh)
		return;
	va_start(ap, fmt);
	vlog(lvl, fmt, ap);
	va_end(ap);
}

void lr_log_atfork(int phase)
{
	lr_fork_mutex(&once_mu, phase);
}
