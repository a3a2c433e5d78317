/*
 * lr_curl_apply.h - route one libcurl transfer, and undo it afterwards.
 *
 * lr_curl_prepare() runs when the app starts a transfer (curl_easy_perform
 * or curl_multi_add_handle).  From the app's recorded options it builds the
 * request, asks the router, and, for a route, computes every change first
 * (URL, body, headers, credentials) and sets them with the real
 * curl_easy_setopt only when all of them could be made: a route is never
 * half-applied.  lr_curl_restore() puts the app's own values back when the
 * transfer is over, so the next transfer is decided from the app's request
 * again and a handle that the app reuses or duplicates holds what it set.
 */
#ifndef LR_CURL_APPLY_H
#define LR_CURL_APPLY_H
#include "lr_curl_sym.h"
#include "lr_easy.h"

enum lr_prep {
	LR_PREP_PASS,   /* send as the app made it */
	LR_PREP_ROUTED, /* options changed: call lr_curl_restore() afterwards */
	LR_PREP_DENY,   /* do not send; e->deny_msg says why */
};

/* Decides and applies for the locked record e.  Never fails: anything
 * unexpected yields LR_PREP_PASS with the handle as the app left it.
 * resil_ok: the caller runs the attempts of a resilient transfer when
 * e->rs is set (curl_easy_perform through lr_resil_perform(), curl_multi
 * through lr_multi.h). */
int lr_curl_prepare(const lr_curl_lib *lib, lr_easy *e, int resil_ok);

/* For the next attempt of a resilient transfer: puts the app's options
 * back, then applies route `route_name` toward `step` (a target name,
 * "original", or "" for the route's own target) from the live table, and
 * begins that attempt's record.  0, or < 0 with the app's options in
 * place (the route or target is gone, the body cannot be rewritten). */
int lr_curl_reroute(const lr_curl_lib *lib, lr_easy *e, const char *route_name, const char *step);

/* For a resilient transfer whose route is gone from the live table: puts
 * the app's options back and decides its request afresh, as a new
 * transfer would be (one attempt, no resilience).  LR_PREP_PASS,
 * LR_PREP_ROUTED, LR_PREP_DENY (e->deny_msg set, the denial recorded), or
 * LR_ENOMEM. */
int lr_curl_as_app(const lr_curl_lib *lib, lr_easy *e);

/* Is this header line a credential (Authorization, x-api-key, ...)? */
int lr_curl_is_auth_header(const char *line);

/* Restores the app's values, if prepare changed any. */
void lr_curl_restore(const lr_curl_lib *lib, lr_easy *e);

/* Writes the deny message into the app's error buffer, if it set one. */
void lr_curl_deny_errbuf(const lr_easy *e);

#endif
