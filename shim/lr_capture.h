/*
 * lr_capture.h - hold back one libcurl answer until we know the app should
 * have it, then hand it over as if it came from the network.
 *
 * Our write, header and (with a time-out) progress callbacks stand in front
 * of the app's for one attempt of a resilient transfer (lr_resil.h):
 *   - the answer head (status line, headers) is held;
 *   - at the first body byte the status decides: a failure status (408,
 *     429, 5xx) is swallowed whole (kept for a last resort); any other
 *     status is passed on: the held head, then the body as it comes, with
 *     the app's return codes (a pause included), unless the whole answer
 *     must be held (`hold`: an escalation needs to read it first);
 *   - bytes passed on are also kept up to max_body (for the cache);
 *   - no answer head within timeout_ms, no body byte (a stream: no data
 *     event) within first_token_ms of the head, or no body bytes for
 *     idle_ms aborts the attempt from the progress callback.  libcurl
 *     calls it each time it runs the transfer, which, while it waits,
 *     is once a second; so the waits of the loop that drives it
 *     (curl_easy_perform's own, or the app's curl_multi_poll/wait/timeout)
 *     are cut to the next of these moments (lr_capture_due_ms), and the
 *     callback runs within a few ms of it;
 *   - a followed stream (lr_splice.h) passes to the app event by event;
 *     an error or malformed event is not passed and cuts the attempt.
 * lr_capture_deliver() plays a held answer to the app's callbacks outside
 * a transfer, reproducing libcurl's rules (CURLOPT_HEADER, HEADERDATA
 * without a HEADERFUNCTION, fwrite to WRITEDATA or stdout by default).
 *
 * lr_served: after we delivered an answer libcurl did not just receive (a
 * cache hit, or an earlier attempt's answer), curl_easy_getinfo answers
 * for that answer: status, content type, sizes, times, protocol.
 */
#ifndef LR_CAPTURE_H
#define LR_CAPTURE_H
#include "lr_curl_sym.h"
#include "lr_easy.h"

#include <stdatomic.h>
#include <stdint.h>

typedef struct {
	char *p;
	size_t len, cap;
} lr_buf;

/* Appends n bytes unless that would pass max.  0, LR_ETOOBIG or LR_ENOMEM. */
int lr_buf_add(lr_buf *b, const void *p, size_t n, size_t max);
void lr_buf_free(lr_buf *b);

enum lr_cap_state {
	LR_CAP_PENDING, /* nothing reached the app yet */
	LR_CAP_PASS,    /* the head went to the app; the body follows as it comes */
	LR_CAP_SWALLOW, /* a failure: kept, not passed on */
};

typedef struct lr_capture {
	lr_buf hdr, body;
	int state;
	int hold;               /* hold the whole answer (until max_hold) */
	int hold_err;           /* hold a 400/413 answer (LR_ATTEMPT_ERROR_HOLD): a
				 * context overflow goes elsewhere */
	size_t max_body;        /* bytes of a passed-on body kept (cache); 0: none */
	int body_over;          /* the body passed max_body (or the hold cap) */
	long status;            /* of the last answer head seen, 0 before */
	long retry_after_s;     /* its Retry-After in seconds, -1 if none */
	int got_head;
	int app_stopped;        /* the app's callback refused data: its choice */
	int timed_out;          /* enum lr_out_timeout: which of ours aborted the attempt */
	unsigned timeout_ms;
	int64_t start_ns;
	/* streams (lr_capture_stream) */
	unsigned first_token_ms, idle_ms;
	int64_t head_ns, last_ns; /* the answer head came; the last body bytes came */
	int wait_data;          /* hold the head and body until the first data event */
	int got_data;           /* the first body byte (wait_data: data event) came */
	struct lr_splice *sp;   /* the body passes through it (a followed stream), or NULL */
	int cont;               /* a continuation: its head is not the app's, and only
				 * a 2xx passes */
	int cut;                /* sp cut the attempt (an error or malformed event) */
	int app_paused;         /* the app's write callback paused the transfer */
} lr_capture;

/* Is this a status after which another target should be tried? */
int lr_capture_retryable(long status);

/* Is the answer under way held whole (an escalation's, or an error a
 * context overflow may be)? */
int lr_capture_holding(const lr_capture *c);

/* Starts capturing a new attempt into c (emptied first). */
void lr_capture_reset(lr_capture *c, int hold, size_t max_body, unsigned timeout_ms);

/* The stream side of the attempt just reset: our first-token and idle
 * time-outs (0: none), whether to hold the head until the first data
 * event (a stream under a first-token time-out), the splicer its body
 * passes through (NULL: as it comes), and whether it is a continuation. */
void lr_capture_stream(lr_capture *c, unsigned first_token_ms, unsigned idle_ms, int wait_data,
		       struct lr_splice *sp, int cont);

/* The ms until the earliest of c's armed time-outs is due (the progress
 * callback then aborts the attempt), 0 if it is; -1 if none is armed. */
int lr_capture_due_ms(const lr_capture *c);

/* timeout_ms (-1: none) cut to lr_capture_due_ms(c). */
int lr_capture_wait_cap(const lr_capture *c, int timeout_ms);

/* The capture of the curl_easy_perform this thread is inside (set around
 * the real call by lr_resil_perform), or NULL: libcurl's own poll in
 * that perform waits no longer than it is due. */
extern __thread lr_capture *lr_capture_inner __attribute__((tls_model("initial-exec")));

/* Hands n bytes to the app's write callback, outside a transfer (a pause
 * is offered again a little later).  0, or -1 when the app refused. */
int lr_capture_give(lr_easy *e, const char *p, size_t n);
void lr_capture_free(lr_capture *c);

/* Puts our callbacks in front of the app's for the handle (its current
 * capture is e->rs->cap); lr_capture_uninstall() puts the app's back. */
void lr_capture_install(const lr_curl_lib *lib, lr_easy *e);

/* Our header and write callbacks themselves (ud: the lr_easy), for a
 * layer that stands in front of them: a translated attempt's answer
 * (lr_xcurl.h) reaches the capture in the app's format. */
size_t lr_capture_header_cb(char *p, size_t size, size_t nmemb, void *ud);
size_t lr_capture_write_cb(char *p, size_t size, size_t nmemb, void *ud);
void lr_capture_uninstall(const lr_curl_lib *lib, lr_easy *e);

/* Plays what c holds and the app has not had (the head if still pending,
 * the body if held) to the app's callbacks.  CURLE_OK, or
 * CURLE_WRITE_ERROR when the app's callback refused it. */
CURLcode lr_capture_deliver(lr_easy *e, lr_capture *c);

/* --- answers for curl_easy_getinfo ----------------------------------- */

typedef struct lr_served {
	long status, header_size, http_version;
	curl_off_t size_download;
	char *content_type;
	int cache_hit;          /* nothing was transferred: times, protocol too */
	curl_off_t total_us;
	long protocol;
	char scheme[8];
} lr_served;

/* Number of handles with a served answer (a getinfo fast path). */
extern _Atomic int lr_served_handles;

/* Records that the app got c's answer without libcurl's last transfer
 * having received it; total_us is how long serving took (cache hits). */
void lr_served_set(lr_easy *e, const lr_capture *c, int cache_hit, int64_t total_us, const char *url);
void lr_served_clear(lr_easy *e);

/* Answers `info` for a served handle into arg: 1 if answered, 0 if
 * libcurl should. */
int lr_served_getinfo(const lr_easy *e, CURLINFO info, void *arg);

#endif
