/*
 * lr_multi.h - fallbacks, Retry-After, escalation and the cache for
 * transfers an app drives with curl_multi (curl --parallel, PHP
 * curl_multi_exec, event-driven C programs), without blocking its loop.
 *
 * The attempts are lr_resil's (and so lr_attempt's); this is the multi
 * adapter.  A multi that holds a resilient transfer gets a small state:
 *   - libcurl's DONE messages are read as soon as curl_multi_perform
 *     returns (and in curl_multi_info_read), so that a transfer is judged
 *     even in an app that never reads them; the app gets them from our
 *     queue, in order, with the result of the request, not the attempt;
 *   - a failed attempt is taken out of the multi, set up for the next
 *     step and added again: its DONE is swallowed, the app never sees it;
 *   - a Retry-After is waited for without blocking: the handle stays out
 *     of the multi until it is due, counted in *running_handles, and
 *     curl_multi_poll/wait/timeout wait no longer than that.  An app that
 *     drives the multi only with curl_multi_socket_action and its own
 *     timer gets no wake-up from us, so there the next step goes at once
 *     instead of waiting (a transfer added again fires its timer callback
 *     and stays counted in *running_handles);
 *   - the app's curl_multi_poll/wait/timeout wait no longer than the
 *     next of our time-outs of its resilient transfers is due, so the
 *     progress callback that ends such an attempt runs in time;
 *   - a cache hit is pointed at a URL libcurl fails at once; when that
 *     DONE comes, the stored answer goes through the app's callbacks and
 *     the DONE says CURLE_OK.
 * All of it runs in the app's thread, inside the curl_multi_* call it
 * made.  Per-multi state lives until curl_multi_cleanup.
 */
#ifndef LR_MULTI_H
#define LR_MULTI_H
#include "lr_curl_sym.h"
#include "lr_easy.h"

/* The libcurl whose curl_easy_perform this thread is inside (set around
 * the real call): libcurl's own multi calls need no caller lookup. */
extern __thread const lr_curl_lib *lr_multi_inner_lib __attribute__((tls_model("initial-exec")));

/* Any multi state at all?  The hooks' fast path. */
int lr_multi_any(void);

/* A resilient transfer e (locked, prepared) is being added to m: its first
 * step and our callbacks; for a cache hit the handle is pointed at a URL
 * libcurl fails at once.  Call lr_multi_track() once the add succeeded. */
void lr_multi_start(const lr_curl_lib *lib, lr_easy *e);
void lr_multi_track(CURLM *m, CURL *h);

/* The next DONE (or other) message for the app: curl_multi_info_read
 * with our queue and judgement in front.  Like libcurl's: NULL when none,
 * *left the number still queued. */
CURLMsg *lr_multi_info_read(const lr_curl_lib *lib, CURLM *m, int *left);

/* The handle leaves its multi for good (removed by the app, cleaned up):
 * forget it in any queue or wait list. */
void lr_multi_forget(CURL *h);

#endif
