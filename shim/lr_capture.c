/*
 * lr_capture.c - holding and handing over one libcurl answer (see the
 * header).
 */
#include "lr_capture.h"
#include "lr_attempt.h"
#include "lr_error.h"
#include "lr_overflow.h"
#include "lr_rec.h"
#include "lr_resil.h"
#include "lr_splice.h"
#include "lr_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_HEAD (1u << 20)      /* a longer answer head is not ours to hold */
#define MAX_HOLD (64u << 20)     /* a held body past this is passed on */
#define MAX_FAILED (1u << 20)    /* of a failure's body, kept for the last resort */
#define PAUSE_TRIES 200          /* a paused delivery is retried this often, */
#define PAUSE_WAIT_NS 5000000L   /* this far apart */

_Atomic int lr_served_handles;

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int lr_buf_add(lr_buf *b, const void *p, size_t n, size_t max)
{
	size_t ncap;
	char *np;

	if (n > max || b->len > max - n)
		return LR_ETOOBIG;
	if (b->len + n > b->cap) {
		ncap = b->cap ? b->cap : 4096;
		while (ncap < b->len + n)
			ncap *= 2;
		if (!(np = realloc(b->p, ncap)))
			return LR_ENOMEM;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

void lr_buf_free(lr_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int lr_capture_retryable(long status)
{
	return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

int lr_capture_holding(const lr_capture *c)
{
	return c->hold || (c->hold_err && lr_overflow_status(c->status)) || (c->wait_data && !c->got_data);
}

void lr_capture_reset(lr_capture *c, int hold, size_t max_body, unsigned timeout_ms)
{
	lr_capture_free(c);
	c->hold = hold;
	c->max_body = max_body;
	c->timeout_ms = timeout_ms;
	c->retry_after_s = -1;
	c->start_ns = mono_ns();
}

void lr_capture_stream(lr_capture *c, unsigned first_token_ms, unsigned idle_ms, int wait_data,
		       struct lr_splice *sp, int cont)
{
	c->first_token_ms = first_token_ms;
	c->idle_ms = idle_ms;
	c->wait_data = wait_data;
	c->sp = sp;
	c->cont = cont;
}

void lr_capture_free(lr_capture *c)
{
	lr_buf_free(&c->hdr);
	lr_buf_free(&c->body);
	memset(c, 0, sizeof(*c));
}

/* --- the app's callbacks, called as libcurl would ---------------------- */

static size_t app_write(curl_write_callback cb, char *p, size_t n, void *data)
{
	if (cb)
		return cb(p, 1, n, data);
	return fwrite(p, 1, n, data ? data : stdout);
}

/* One header line: to the write callback with CURLOPT_HEADER, then to the
 * header callback, or with HEADERDATA alone to the write callback. */
static size_t app_header(lr_easy *e, char *line, size_t n)
{
	size_t r = n;

	if (e->header_opt)
		r = app_write(e->write_cb, line, n, e->write_data);
	if (r != n)
		return r;
	if (e->header_cb)
		return e->header_cb(line, 1, n, e->header_data);
	if (e->header_data)
		return app_write(e->write_cb, line, n, e->header_data);
	return n;
}

/* Out of a transfer, a pause cannot be resumed by libcurl: offer the same
 * bytes again a little later, a bounded number of times. */
static int give_body(lr_easy *e, char *p, size_t n)
{
	return lr_capture_give(e, p, n);
}

int lr_capture_give(lr_easy *e, const char *cp, size_t n)
{
	char *p = (char *)cp; /* write callbacks take char *, and do not write */
	struct timespec ts = {0, PAUSE_WAIT_NS};
	size_t r;
	int i;

	for (i = 0; i < PAUSE_TRIES; i++) {
		r = app_write(e->write_cb, p, n, e->write_data);
		if (r == n)
			return 0;
		if (r != CURL_WRITEFUNC_PAUSE)
			return -1;
		nanosleep(&ts, NULL);
	}
	return -1;
}

static int give_head(lr_easy *e, lr_buf *h)
{
	size_t i = 0, j;

	while (i < h->len) {
		for (j = i; j < h->len && h->p[j] != '\n'; j++)
			;
		j = j < h->len ? j + 1 : j;
		if (app_header(e, h->p + i, j - i) != j - i)
			return -1;
		i = j;
	}
	return 0;
}

CURLcode lr_capture_deliver(lr_easy *e, lr_capture *c)
{
	size_t off, n;

	if (c->state == LR_CAP_PENDING || c->state == LR_CAP_SWALLOW) {
		if (give_head(e, &c->hdr) < 0)
			return CURLE_WRITE_ERROR;
		for (off = 0; off < c->body.len; off += n) {
			n = c->body.len - off < CURL_MAX_WRITE_SIZE ? c->body.len - off : CURL_MAX_WRITE_SIZE;
			if (give_body(e, c->body.p + off, n) < 0)
				return CURLE_WRITE_ERROR;
		}
		c->state = LR_CAP_PASS;
	}
	return CURLE_OK;
}

/* --- our callbacks ------------------------------------------------------ */

static long parse_status(const char *p, size_t n)
{
	size_t i = 5;
	long s = 0;

	while (i < n && p[i] != ' ')
		i++;
	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '9' && s < 1000; i++)
		s = s * 10 + (p[i] - '0');
	return s;
}

static long parse_retry_after(const char *p, size_t n)
{
	size_t i = sizeof("retry-after:") - 1;
	long s = 0;

	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i >= n || p[i] < '0' || p[i] > '9')
		return -1; /* an HTTP date: not honoured, the next target is tried */
	for (; i < n && p[i] >= '0' && p[i] <= '9' && s < 86400; i++)
		s = s * 10 + (p[i] - '0');
	return s;
}

static void head_line(lr_capture *c, const char *p, size_t n)
{
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		c->status = parse_status(p, n);
		c->retry_after_s = -1;
		c->got_head |= c->status >= 200; /* a 100 Continue is not the answer yet */
		if (c->status >= 200)
			c->head_ns = mono_ns();
	} else if (n > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		c->retry_after_s = parse_retry_after(p, n);
	}
}

static size_t cap_header(char *p, size_t size, size_t nmemb, void *ud)
{
	lr_easy *e = ud;
	lr_capture *c = e->rs ? &e->rs->cap : NULL;
	size_t n = size * nmemb;

	if (!c || c->state == LR_CAP_PASS) /* no capture (a stray copy), trailers, a redirect's head */ /* trailers, or the head of a followed redirect */
		return app_header(e, p, n);
	head_line(c, p, n);
	if (lr_buf_add(&c->hdr, p, n, MAX_HEAD) < 0) {
		c->app_stopped = 1; /* cannot hold it: give up the attempt as the app would */
		return 0;
	}
	return n;
}

/* The held head goes to the app; from now on bytes pass. */
static int start_passing(lr_easy *e, lr_capture *c)
{
	c->state = LR_CAP_PASS;
	if (!c->cont && give_head(e, &c->hdr) < 0) { /* a continuation's head is not the app's */
		c->app_stopped = 1;
		return -1;
	}
	return 0;
}

static int emit_app(void *ud, const char *p, size_t n)
{
	return lr_capture_give(ud, p, n);
}

/* A followed stream: whole events to the app, through the splicer. */
static size_t pass_events(lr_easy *e, lr_capture *c, char *p, size_t n, int counted)
{
	int rc = lr_splice_feed(c->sp, p, n, emit_app, e);

	if (e->x && !counted)
		lr_rec_body(e->x, p, n);
	if (!c->body_over && lr_buf_add(&c->body, p, n, c->max_body) < 0)
		c->body_over = 1;
	if (rc == LR_EIO)
		c->app_stopped = 1;
	else if (rc < 0)
		c->cut = 1; /* an error or malformed event: the attempt ends here */
	return rc < 0 ? 0 : n;
}

static size_t pass(lr_easy *e, lr_capture *c, char *p, size_t n, int counted)
{
	size_t r;

	if (c->sp)
		return pass_events(e, c, p, n, counted);
	r = app_write(e->write_cb, p, n, e->write_data);

	if (r == n) {
		if (e->x && !counted) /* after a pause, libcurl offers the same bytes again */
			lr_rec_body(e->x, p, n);
		if (!c->body_over && lr_buf_add(&c->body, p, n, c->max_body) < 0)
			c->body_over = 1;
	} else if (r != CURL_WRITEFUNC_PAUSE) {
		c->app_stopped = 1;
	} else {
		c->app_paused = 1; /* the app is slow, not the server: no idle time-out meanwhile */
	}
	return r;
}

/* A continuation that is not a 2xx never reaches the app: the app's
 * stream had its answer's head, this one's is not its business. */
static int refused(const lr_capture *c)
{
	return c->cont && (c->status < 200 || c->status > 299);
}

/* Is there a data event (an SSE "data:" line; for another stream, a
 * whole line) in what is held? */
static int has_event(const lr_capture *c)
{
	const char *b = c->body.p;
	size_t i, n = c->body.len;
	int sse = 0;

	for (i = 0; i + 17 <= c->hdr.len && !sse; i++)
		sse = strncasecmp(c->hdr.p + i, "text/event-stream", 17) == 0;
	for (i = 0; i < n; i++) {
		if (sse && (i == 0 || b[i - 1] == '\n') && n - i >= 5 && memcmp(b + i, "data:", 5) == 0)
			return 1;
		if (!sse && b[i] == '\n')
			return 1;
	}
	return 0;
}

/* Under a first-token time-out, the head and body are held until the
 * first data event: then the head and what came go to the app. */
static size_t wait_data(lr_easy *e, lr_capture *c, char *p, size_t n)
{
	lr_buf held;

	if (lr_buf_add(&c->body, p, n, LR_ATTEMPT_ERROR_HOLD) < 0) {
		c->got_data = 1; /* no event in 64 KiB: not a stream we know */
		c->body_over = 1;
	} else if (!has_event(c)) {
		return n;
	}
	c->got_data = 1;
	if (lr_capture_holding(c)) /* held whole for another reason */
		return n;
	if (c->body_over && lr_capture_deliver(e, c) != CURLE_OK) {
		c->app_stopped = 1;
		return 0;
	}
	if (c->body_over)
		return pass(e, c, p, n, 1);
	held = c->body;
	memset(&c->body, 0, sizeof(c->body));
	if (start_passing(e, c) < 0 || pass(e, c, held.p, held.len, 1) != held.len) {
		lr_buf_free(&held);
		return 0;
	}
	lr_buf_free(&held);
	return n;
}

static size_t cap_write(char *p, size_t size, size_t nmemb, void *ud)
{
	lr_easy *e = ud;
	lr_capture *c = e->rs ? &e->rs->cap : NULL;
	size_t n = size * nmemb;

	if (!c) /* a handle copied mid-transfer still pointing here: the app's */
		return app_write(e->write_cb, p, n, e->write_data);
	c->last_ns = mono_ns();
	c->app_paused = 0;
	if (!c->wait_data)
		c->got_data = 1;
	if (e->x && c->state != LR_CAP_PASS && !(c->state == LR_CAP_PENDING && !lr_capture_holding(c) &&
						     !lr_capture_retryable(c->status) && !refused(c)))
		lr_rec_body(e->x, p, n); /* bytes we take; passed ones count when the app took them */
	if (c->state == LR_CAP_PENDING && (lr_capture_retryable(c->status) || refused(c)))
		c->state = LR_CAP_SWALLOW;
	if (c->state == LR_CAP_PENDING && c->wait_data && !c->got_data)
		return wait_data(e, c, p, n);
	if (c->state == LR_CAP_SWALLOW) {
		lr_buf_add(&c->body, p, n, MAX_FAILED); /* the rest is dropped */
		return n;
	}
	if (c->state == LR_CAP_PENDING && lr_capture_holding(c)) {
		if (lr_buf_add(&c->body, p, n, c->hold ? MAX_HOLD : LR_ATTEMPT_ERROR_HOLD) == 0)
			return n;
		/* too big to hold: what came so far goes, escalation is off */
		c->body_over = 1;
		if (lr_capture_deliver(e, c) != CURLE_OK) {
			c->app_stopped = 1;
			return 0;
		}
		return pass(e, c, p, n, 1); /* counted above, as held */
	}
	if (c->state == LR_CAP_PENDING && start_passing(e, c) < 0)
		return 0;
	return pass(e, c, p, n, 0);
}

/* Which of our time-outs has passed, if any (enum lr_out_timeout). */
static int late(const lr_capture *c)
{
	int64_t now = mono_ns();

	if (c->timeout_ms && !c->got_head && now - c->start_ns > (int64_t)c->timeout_ms * 1000000)
		return LR_TO_HEAD;
	if (c->first_token_ms && c->got_head && !c->got_data &&
	    now - c->head_ns > (int64_t)c->first_token_ms * 1000000)
		return LR_TO_FIRST_TOKEN;
	if (c->idle_ms && c->got_data && !c->app_paused && now - c->last_ns > (int64_t)c->idle_ms * 1000000)
		return LR_TO_IDLE;
	return LR_TO_NONE;
}

__thread lr_capture *lr_capture_inner __attribute__((tls_model("initial-exec")));

/* The moment the earliest of our armed time-outs passes, 0 if none. */
static int64_t due_ns(const lr_capture *c)
{
	int64_t due = 0, d;

	if (c->timed_out)
		return 0;
	if (c->timeout_ms && !c->got_head)
		due = c->start_ns + (int64_t)c->timeout_ms * 1000000;
	if (c->first_token_ms && c->got_head && !c->got_data &&
	    (d = c->head_ns + (int64_t)c->first_token_ms * 1000000) && (!due || d < due))
		due = d;
	if (c->idle_ms && c->got_data && !c->app_paused && (d = c->last_ns + (int64_t)c->idle_ms * 1000000) &&
	    (!due || d < due))
		due = d;
	return due;
}

int lr_capture_due_ms(const lr_capture *c)
{
	int64_t due = c ? due_ns(c) : 0, left;

	if (!due)
		return -1;
	left = due - mono_ns();
	/* late() wants the time strictly past: 1 ms more, rounded up */
	return left < 0 ? 0 : (int)((left + 999999) / 1000000) + 1;
}

int lr_capture_wait_cap(const lr_capture *c, int timeout_ms)
{
	int due = lr_capture_due_ms(c);

	return due >= 0 && (timeout_ms < 0 || due < timeout_ms) ? due : timeout_ms;
}

static int cap_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	lr_easy *e = ud;
	lr_capture *c = e->rs ? &e->rs->cap : NULL;

	if (c && !c->timed_out && (c->timed_out = late(c)))
		return 1;
	if (e->noprogress)
		return 0;
	if (e->xferinfo_cb)
		return e->xferinfo_cb(e->progress_data, dt, dn, ut, un);
	if (e->progress_cb)
		return e->progress_cb(e->progress_data, (double)dt, (double)dn, (double)ut, (double)un);
	return CURL_PROGRESSFUNC_CONTINUE; /* libcurl's own meter, as the app had it */
}

size_t lr_capture_header_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	return cap_header(p, size, nmemb, ud);
}

size_t lr_capture_write_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	return cap_write(p, size, nmemb, ud);
}

void lr_capture_install(const lr_curl_lib *lib, lr_easy *e)
{
	lib->easy_setopt(e->h, CURLOPT_WRITEFUNCTION, cap_write);
	lib->easy_setopt(e->h, CURLOPT_WRITEDATA, e);
	lib->easy_setopt(e->h, CURLOPT_HEADERFUNCTION, cap_header);
	lib->easy_setopt(e->h, CURLOPT_HEADERDATA, e);
	e->changed_write = e->changed_header = 1;
	if (e->header_opt) { /* headers come through our header callback only */
		lib->easy_setopt(e->h, CURLOPT_HEADER, 0L);
		e->changed_header_opt = 1;
	}
	if (e->rs->cap.timeout_ms || e->rs->cap.first_token_ms || e->rs->cap.idle_ms) {
		lib->easy_setopt(e->h, CURLOPT_XFERINFOFUNCTION, cap_progress);
		lib->easy_setopt(e->h, CURLOPT_XFERINFODATA, e);
		lib->easy_setopt(e->h, CURLOPT_NOPROGRESS, 0L);
		e->changed_progress = 1;
	}
	e->applied = 1;
}

void lr_capture_uninstall(const lr_curl_lib *lib, lr_easy *e)
{
	if (e->changed_header_opt)
		lib->easy_setopt(e->h, CURLOPT_HEADER, (long)e->header_opt);
	if (e->changed_progress) {
		/* libcurl keeps "a callback is set" from the last of the two set:
		 * the app's own last, so a set one is not switched off */
		if (e->xferinfo_cb) {
			lib->easy_setopt(e->h, CURLOPT_PROGRESSFUNCTION, e->progress_cb);
			lib->easy_setopt(e->h, CURLOPT_XFERINFOFUNCTION, e->xferinfo_cb);
		} else {
			lib->easy_setopt(e->h, CURLOPT_XFERINFOFUNCTION, e->xferinfo_cb);
			lib->easy_setopt(e->h, CURLOPT_PROGRESSFUNCTION, e->progress_cb);
		}
		lib->easy_setopt(e->h, CURLOPT_XFERINFODATA, e->progress_data);
		lib->easy_setopt(e->h, CURLOPT_NOPROGRESS, (long)e->noprogress);
	}
	e->changed_header_opt = e->changed_progress = 0;
}

/* --- answers for curl_easy_getinfo ------------------------------------ */

static char *content_type(const lr_buf *h)
{
	size_t i = 0, j, k;
	char *out = NULL;

	while (i < h->len) { /* the last Content-Type wins: the final answer's */
		for (j = i; j < h->len && h->p[j] != '\n'; j++)
			;
		if (j - i > 13 && strncasecmp(h->p + i, "content-type:", 13) == 0) {
			for (k = i + 13; k < j && (h->p[k] == ' ' || h->p[k] == '\t'); k++)
				;
			free(out);
			out = strndup(h->p + k, j - k - (j > k && h->p[j - 1] == '\r'));
		}
		i = j + 1;
	}
	return out;
}

static long http_version(const lr_buf *h)
{
	if (h->len >= 8 && memcmp(h->p, "HTTP/1.0", 8) == 0)
		return CURL_HTTP_VERSION_1_0;
	if (h->len >= 6 && memcmp(h->p, "HTTP/2", 6) == 0)
		return CURL_HTTP_VERSION_2_0;
	return CURL_HTTP_VERSION_1_1;
}

void lr_served_set(lr_easy *e, const lr_capture *c, int cache_hit, int64_t total_us, const char *url)
{
	lr_served *s = e->served ? e->served : calloc(1, sizeof(*s));
	lr_url u;

	if (!s)
		return;
	if (!e->served) {
		e->served = s;
		atomic_fetch_add(&lr_served_handles, 1);
	}
	free(s->content_type);
	s->status = c->status;
	s->header_size = (long)c->hdr.len;
	s->size_download = (curl_off_t)c->body.len;
	s->content_type = content_type(&c->hdr);
	s->http_version = http_version(&c->hdr);
	s->cache_hit = cache_hit;
	s->total_us = total_us;
	s->protocol = CURLPROTO_HTTPS;
	snprintf(s->scheme, sizeof(s->scheme), "HTTPS");
	if (url && lr_url_parse(url, strlen(url), &u) == 0 && !u.tls) {
		s->protocol = CURLPROTO_HTTP;
		snprintf(s->scheme, sizeof(s->scheme), "HTTP");
	}
}

void lr_served_clear(lr_easy *e)
{
	if (!e->served)
		return;
	free(e->served->content_type);
	free(e->served);
	e->served = NULL;
	atomic_fetch_sub(&lr_served_handles, 1);
}

static int timing(const lr_served *s, CURLINFO info, void *arg)
{
	switch (info) {
	case CURLINFO_TOTAL_TIME: case CURLINFO_STARTTRANSFER_TIME:
		*(double *)arg = (double)s->total_us / 1e6;
		return 1;
	case CURLINFO_TOTAL_TIME_T: case CURLINFO_STARTTRANSFER_TIME_T:
		*(curl_off_t *)arg = s->total_us;
		return 1;
	case CURLINFO_NAMELOOKUP_TIME: case CURLINFO_CONNECT_TIME: case CURLINFO_APPCONNECT_TIME:
	case CURLINFO_PRETRANSFER_TIME: case CURLINFO_SIZE_UPLOAD:
		*(double *)arg = 0;
		return 1;
	case CURLINFO_NAMELOOKUP_TIME_T: case CURLINFO_CONNECT_TIME_T: case CURLINFO_APPCONNECT_TIME_T:
	case CURLINFO_PRETRANSFER_TIME_T: case CURLINFO_SIZE_UPLOAD_T:
		*(curl_off_t *)arg = 0;
		return 1;
	case CURLINFO_NUM_CONNECTS: case CURLINFO_REQUEST_SIZE:
		*(long *)arg = 0;
		return 1;
	case CURLINFO_EFFECTIVE_METHOD:
		*(const char **)arg = "POST";
		return 1;
	case CURLINFO_PRIMARY_IP: case CURLINFO_LOCAL_IP:
		*(const char **)arg = "";
		return 1;
	case CURLINFO_PRIMARY_PORT: case CURLINFO_LOCAL_PORT:
		*(long *)arg = 0;
		return 1;
	case CURLINFO_PROTOCOL:
		*(long *)arg = s->protocol;
		return 1;
	case CURLINFO_SCHEME:
		*(const char **)arg = s->scheme;
		return 1;
	default:
		return 0;
	}
}

int lr_served_getinfo(const lr_easy *e, CURLINFO info, void *arg)
{
	const lr_served *s = e->served;

	if (!s || !arg)
		return 0;
	switch (info) {
	case CURLINFO_RESPONSE_CODE:
		*(long *)arg = s->status;
		return 1;
	case CURLINFO_CONTENT_TYPE:
		*(const char **)arg = s->content_type;
		return 1;
	case CURLINFO_SIZE_DOWNLOAD:
		*(double *)arg = (double)s->size_download;
		return 1;
	case CURLINFO_SIZE_DOWNLOAD_T:
		*(curl_off_t *)arg = s->size_download;
		return 1;
	case CURLINFO_HEADER_SIZE:
		*(long *)arg = s->header_size;
		return 1;
	case CURLINFO_CONTENT_LENGTH_DOWNLOAD:
		*(double *)arg = (double)s->size_download;
		return 1;
	case CURLINFO_CONTENT_LENGTH_DOWNLOAD_T:
		*(curl_off_t *)arg = s->size_download;
		return 1;
	case CURLINFO_HTTP_VERSION:
		*(long *)arg = s->http_version;
		return 1;
	default:
		return s->cache_hit ? timing(s, info, arg) : 0;
	}
}
