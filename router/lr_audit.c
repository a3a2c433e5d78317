/*
 * lr_audit.c - audit records as JSON lines (see lr_audit.h).
 *
 * Formatting is a bounded append into the caller's buffer: no allocation,
 * so a record costs a few microseconds and cannot fail for lack of memory.
 */
#include "lr_audit.h"
#include "lr_guard.h"
#include "lr_error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
	char *p;
	size_t len, cap;
	int full;
} out;

static void put(out *o, const char *s, size_t n)
{
	if (o->full || n > o->cap - o->len) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void putf(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->full = 1;
	else
		o->len += (size_t)n;
}

#define MAX_STR 256 /* bytes of one value; longer ones are cut */

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	n = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (n == 0 || (n == 2 && s[0] < 0xc2))
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A JSON string, or null.  Control bytes are escaped, invalid UTF-8 (a
 * process name can be anything) becomes U+FFFD, and a value is cut at
 * MAX_STR bytes: names and models only, never text. */
static void put_str(out *o, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t used = 0, k;
	char esc[8];

	if (!s) {
		put(o, "null", 4);
		return;
	}
	put(o, "\"", 1);
	for (; *s && !o->full && used < MAX_STR; s += k, used += k) {
		k = utf8_len(s);
		if (k == 0) {
			put(o, "\\ufffd", 6);
			k = 1;
		} else if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*s;
			put(o, esc, 2);
		} else if (*s < 0x20 || *s == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *s);
			put(o, esc, 6);
		} else {
			put(o, (const char *)s, k);
		}
	}
	put(o, "\"", 1);
}

static void key(out *o, const char *k)
{
	put(o, ",\"", 2);
	put(o, k, strlen(k));
	put(o, "\":", 2);
}

/* Integers by hand: printf's machinery is most of a record's cost. */
static void put_ll(out *o, long long v);

/* {"kind": count, ...} of the kinds that fired: names and numbers only. */
static void put_findings(out *o, const unsigned *count)
{
	int k, first = 1;

	if (!count) {
		put(o, "null", 4);
		return;
	}
	put(o, "{", 1);
	for (k = 0; k < LR_GK_N; k++) {
		if (!count[k])
			continue;
		if (!first)
			put(o, ",", 1);
		first = 0;
		put_str(o, lr_guard_kind_name(k));
		put(o, ":", 1);
		put_ll(o, count[k]);
	}
	put(o, "}", 1);
}

static void put_ll(out *o, long long v)
{
	char b[24], *p = b + sizeof(b);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	put(o, p, (size_t)(b + sizeof(b) - p));
}

static void put_int_or_null(out *o, long long v)
{
	if (v < 0)
		put(o, "null", 4);
	else
		put_ll(o, v);
}

/* Milliseconds with three decimals, from whole microseconds. */
static void put_ms(out *o, double ms)
{
	long long us = (long long)(ms * 1000.0 + 0.5);
	char frac[4];

	if (us < 0)
		us = 0;
	put_ll(o, us / 1000);
	frac[0] = '.';
	frac[1] = (char)('0' + us / 100 % 10);
	frac[2] = (char)('0' + us / 10 % 10);
	frac[3] = (char)('0' + us % 10);
	put(o, frac, 4);
}

static void put_bool(out *o, int b)
{
	if (b)
		put(o, "true", 4);
	else
		put(o, "false", 5);
}

static void put_time(out *o, int64_t ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char ts[32];

	gmtime_r(&s, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	putf(o, "{\"time\":\"%s.%03dZ\"", ts, (int)(ms % 1000));
}

int lr_audit_format(const lr_audit_rec *r, char *buf, size_t cap)
{
	out o = {buf, 0, cap > 0 ? cap - 1 : 0, 0};

	put_time(&o, r->time_ms);
	key(&o, "gen_ai.provider.name"); put_str(&o, r->provider);
	key(&o, "gen_ai.operation.name"); put_str(&o, r->operation);
	key(&o, "gen_ai.request.model"); put_str(&o, r->request_model);
	key(&o, "gen_ai.response.model"); put_str(&o, r->response_model);
	key(&o, "gen_ai.usage.input_tokens"); put_int_or_null(&o, r->input_tokens);
	key(&o, "gen_ai.usage.output_tokens"); put_int_or_null(&o, r->output_tokens);
	key(&o, "gen_ai.usage.cache_read.input_tokens"); put_int_or_null(&o, r->cache_read_tokens);
	key(&o, "gen_ai.usage.cache_creation.input_tokens"); put_int_or_null(&o, r->cache_write_tokens);
	key(&o, "server.address"); put_str(&o, r->server_address);
	key(&o, "server.port"); put_int_or_null(&o, r->server_port > 0 ? r->server_port : -1);
	key(&o, "http.response.status_code"); put_int_or_null(&o, r->status > 0 ? r->status : -1);
	key(&o, "error.type"); put_str(&o, r->error_type);
	key(&o, "llmroute.rule"); put_str(&o, r->rule);
	key(&o, "llmroute.action"); put_str(&o, r->action);
	key(&o, "llmroute.applied");
	if (!r->action || !strcmp(r->action, "none"))
		put(&o, "null", 4);
	else
		put_bool(&o, !r->not_applied);
	key(&o, "llmroute.not_applied"); put_str(&o, r->not_applied);
	key(&o, "llmroute.target"); put_str(&o, r->target);
	key(&o, "llmroute.intent"); put_str(&o, r->intent);
	key(&o, "llmroute.intent_confidence");
	if (r->intent)
		put_ms(&o, r->intent_confidence > 0 ? r->intent_confidence : 0); /* three decimals */
	else
		put(&o, "null", 4);
	key(&o, "llmroute.uncertain"); put_str(&o, r->uncertain);
	key(&o, "llmroute.guard.findings"); put_findings(&o, r->guard_count);
	key(&o, "llmroute.guard.action"); put_str(&o, r->guard_action);
	key(&o, "llmroute.original_model"); put_str(&o, r->original_model);
	key(&o, "llmroute.original_server"); put_str(&o, r->original_server);
	key(&o, "llmroute.transport"); put_str(&o, r->transport);
	key(&o, "llmroute.stream"); put_bool(&o, r->stream);
	key(&o, "llmroute.duration_ms"); put_ms(&o, r->duration_ms);
	key(&o, "llmroute.ttfb_ms");
	if (r->ttfb_ms < 0)
		put(&o, "null", 4);
	else
		put_ms(&o, r->ttfb_ms);
	key(&o, "llmroute.request_bytes"); put_ll(&o, r->request_bytes);
	key(&o, "llmroute.response_bytes"); put_ll(&o, r->response_bytes);
	key(&o, "llmroute.cost_usd");
	if (r->cost_usd < 0)
		put(&o, "null", 4);
	else
		putf(&o, "%.9g", r->cost_usd);
	key(&o, "llmroute.tokens_estimated"); put_bool(&o, r->tokens_estimated);
	key(&o, "llmroute.table_generation"); put_ll(&o, (long long)r->generation);
	if (r->attempt > 0) { /* only under a route with fallbacks, escalation or a cache */
		key(&o, "llmroute.request_id"); put_str(&o, r->request_id);
		key(&o, "llmroute.attempt"); put_ll(&o, r->attempt);
		key(&o, "llmroute.via"); put_str(&o, r->via);
		key(&o, "llmroute.wait_ms"); put_ll(&o, (long long)r->wait_ms);
		key(&o, "llmroute.delivered"); put_bool(&o, r->delivered);
		key(&o, "llmroute.gate"); put_str(&o, r->gate);
		key(&o, "llmroute.cache"); put_str(&o, r->cache);
	}
	key(&o, "process.pid"); put_ll(&o, r->pid);
	key(&o, "process.executable.name"); put_str(&o, r->process);
	put(&o, "}\n", 2);
	if (o.full)
		return LR_ETOOBIG;
	buf[o.len] = '\0';
	return (int)o.len;
}

/* May a symlink met on the way to the audit file be followed?  Only one
 * that root or we made, in a directory that only root or we can change
 * (or a sticky one, where nobody else can replace our link): the rule of
 * Linux's fs.protected_symlinks plus the directory's owner, checked here
 * because that sysctl may be off. */
static int trusted_link(int dirfd, const char *name, uid_t me)
{
	struct stat dir, lnk;

	if (fstat(dirfd, &dir) < 0 || fstatat(dirfd, name, &lnk, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (!S_ISLNK(lnk.st_mode) || (lnk.st_uid != 0 && lnk.st_uid != me))
		return 0;
	if (dir.st_uid != 0 && dir.st_uid != me)
		return 0;
	return !(dir.st_mode & (S_IWGRP | S_IWOTH)) || (dir.st_mode & S_ISVTX);
}

/* The directory holding path's last component, opened O_PATH one
 * component at a time; *base points at the last component.  Returns the
 * descriptor, or -1 with *why set. */
static int open_parent(const char *path, const char **base, const char **why)
{
	char comp[256];
	const char *p = path, *slash;
	uid_t me = geteuid();
	int dirfd, next;

	dirfd = open(*p == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		*why = "cannot open its directory";
		return -1;
	}
	for (;;) {
		while (*p == '/')
			p++;
		if (!(slash = strchr(p, '/')))
			break;
		if ((size_t)(slash - p) >= sizeof(comp)) {
			*why = "a directory name is too long";
			goto fail;
		}
		memcpy(comp, p, (size_t)(slash - p));
		comp[slash - p] = '\0';
		p = slash;
		next = openat(dirfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && (errno == ENOTDIR || errno == ELOOP) && trusted_link(dirfd, comp, me))
			next = openat(dirfd, comp, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (next < 0) {
			*why = errno == ENOTDIR || errno == ELOOP ?
				"a directory on its path is a symlink that another user could have planted" :
				"a directory on its path cannot be opened";
			goto fail;
		}
		close(dirfd);
		dirfd = next;
	}
	if (!*p) {
		*why = "it names a directory";
		goto fail;
	}
	*base = p;
	return dirfd;
fail:
	close(dirfd);
	return -1;
}

int lr_audit_open_why(const char *path, const char **why)
{
	const char *base, *dummy;
	struct stat st;
	uid_t me = geteuid();
	int dirfd, fd;

	if (!why)
		why = &dummy;
	if ((dirfd = open_parent(path, &base, why)) < 0)
		return LR_EIO;
	/* O_NOFOLLOW: a symlink planted as the file itself is refused.
	 * O_NONBLOCK and a regular file only: a FIFO or a device must not make
	 * the app wait for a reader that never comes. */
	fd = openat(dirfd, base, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
		    O_NOFOLLOW, 0640);
	if (fd < 0) /* ELOOP, or EACCES when fs.protected_symlinks is on */
		*why = errno == ELOOP || (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
					  S_ISLNK(st.st_mode)) ?
			"it is a symlink" : "it cannot be opened for appending";
	close(dirfd);
	if (fd < 0)
		return LR_EIO;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		*why = "it is not a regular file";
	else if (st.st_uid != me && st.st_uid != 0)
		*why = "another user owns it";
	else if (st.st_nlink != 1)
		*why = "it has other hard links";
	else
		return fd;
	close(fd);
	return LR_EIO;
}

int lr_audit_open(const char *path)
{
	return lr_audit_open_why(path, NULL);
}

/* Turns the n bytes of a record cut short at `end` (the offset after
 * them) into a blank line: spaces ending in '\n', through a descriptor
 * without O_APPEND (on Linux pwrite on an O_APPEND descriptor appends).
 * Another writer may have appended after them already: only these bytes
 * change.  Returns 0 or -1. */
static int blank_out(int fd, off_t end, size_t n)
{
	char proc[64], sp[512];
	off_t at = end - (off_t)n;
	ssize_t w;
	int wfd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if ((wfd = open(proc, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
		return -1;
	memset(sp, ' ', sizeof(sp));
	while (at < end) {
		size_t k = (size_t)(end - at) < sizeof(sp) ? (size_t)(end - at) : sizeof(sp);
		if (at + (off_t)k == end)
			sp[k - 1] = '\n';
		w = pwrite(wfd, sp, k, at);
		if (w <= 0 && errno != EINTR)
			break;
		if (w > 0)
			at += w;
	}
	close(wfd);
	return at == end ? 0 : -1;
}

int lr_audit_write(int fd, const char *line, size_t len)
{
	ssize_t n;
	off_t end;

	do
		n = write(fd, line, len);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	if (n <= 0)
		return LR_EIO; /* nothing written: the record is absent */
	/* A short write to a regular file means the disk filled up mid-line.
	 * The part written must not stay: the next record would be glued to
	 * it.  Our offset is just past our bytes (O_APPEND). */
	end = lseek(fd, 0, SEEK_CUR);
	if (end < n || blank_out(fd, end, (size_t)n) < 0) {
		/* last resort, safe only if nobody wrote after us: cut it off */
		struct stat st;
		if (end >= n && fstat(fd, &st) == 0 && st.st_size == end)
			(void)!ftruncate(fd, end - n);
	}
	return LR_EIO;
}
