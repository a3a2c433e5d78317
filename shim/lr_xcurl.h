/*
 * lr_xcurl.h - a libcurl transfer's answer translated into the app's API
 * format (issue 17), for a route whose target speaks another format.
 *
 * lr_curl_apply sends the translated request (URL, body, headers) with the
 * app's own handle; this module puts our write and header callbacks in
 * front of the app's (and of the audit's, lr_xfer.h, which then sees the
 * app's format) for that transfer:
 *   - a 2xx stream is translated event by event as it arrives, its head
 *     passed on at once with the app's Content-Type (no Content-Length);
 *   - any other answer (whole, or an error of any status) is held and
 *     translated when it ends: at its Content-Length, else when the
 *     transfer ends (lr_xcurl_finish, from curl_easy_perform and
 *     curl_multi_info_read), head and body in the app's shape and status.
 * A resilient route's transfer (fallbacks, pools, retries; lr_resil.h)
 * translates each attempt with that attempt's target format: the
 * attempt's answer goes through us to the capture (lr_capture.h), which
 * so judges, holds, caches and delivers it in the app's format; an
 * attempt to a target of the app's format has no lr_xcurl.
 * Limits (the route is then not applied, lr_plan.h): CURLOPT_HEADER, and
 * on a resilient route escalation and the response cache.  An app
 * write callback that takes less than it is given (a pause) ends the
 * transfer with CURLE_WRITE_ERROR: the translated bytes cannot be given
 * again.  CURLINFO_RESPONSE_CODE says the target's status.
 */
#ifndef LR_XCURL_H
#define LR_XCURL_H
#include "lr_curl_sym.h"
#include "lr_easy.h"
#include "lr_plan.h"
#include "lr_request.h"

/* Sets up the translation for e's transfer under plan p (after
 * lr_plan_xlate).  0, or LR_ENOMEM. */
int lr_xcurl_begin(const lr_curl_lib *lib, lr_easy *e, const lr_plan *p, const lr_request *r);

/*
 * A redacting route (lr_redact.h): the values of m are put back where
 * the answer repeats a placeholder, then given to the app with its own
 * head (Content-Length dropped: the length changed).  An answer that is
 * not streamed is held whole, as above; a 2xx stream (stream set, in the
 * app's format app_fmt, enum lr_xfmt) goes through lr_redact_stream as it
 * comes.  With lr_xcurl_begin too, the restore follows the translation.
 * Takes m (emptied).  0, or LR_ENOMEM.
 */
struct lr_redact_map;
int lr_xcurl_restore(lr_easy *e, struct lr_redact_map *m, int stream, int app_fmt);

/* Puts our callbacks in front, last (after lr_xfer_install): the audit
 * is fed the translated answer.  No-op without lr_xcurl_begin. */
void lr_xcurl_install(const lr_curl_lib *lib, lr_easy *e);

/* The same, for an attempt of a resilient transfer: our callbacks in
 * front of the capture's (after lr_capture_install), which stand in
 * front of the app's. */
void lr_xcurl_install_capture(const lr_curl_lib *lib, lr_easy *e);

/* The transfer ended: a held answer goes to the app's callbacks now. */
void lr_xcurl_finish(lr_easy *e);

/* Forgets it (lr_curl_restore; the callbacks come back with lr_xfer's). */
void lr_xcurl_free(lr_easy *e);

#endif
