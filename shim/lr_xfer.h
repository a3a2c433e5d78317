/*
 * lr_xfer.h - audit and live counters for one LLM transfer made by libcurl.
 *
 * When a transfer is an LLM request and someone is listening (an audit file
 * is set, or the counters segment exists), lr_xfer_begin() takes note of the
 * request and the decision, and lr_xfer_install() slips our write callback
 * in front of the app's: the app still gets every byte, in order, with the
 * return codes it chose (CURL_WRITEFUNC_PAUSE included), and libcurl's
 * default (fwrite to WRITEDATA, or stdout) is reproduced when the app set
 * no callback.  Bytes the app accepted are fed to the usage parser.
 * lr_xfer_end() writes one audit line and adds to the counters when the
 * transfer completes, fails, or is denied (lr_xfer_denied()).
 */
#ifndef LR_XFER_H
#define LR_XFER_H
#include "lr_curl_sym.h"
#include "lr_easy.h"
#include "lr_match.h"
#include "lr_plan.h"
#include "lr_request.h"
#include "lr_table.h"

/* Starts the record for e's transfer; no-op when nobody listens.  t is the
 * table the decision came from (its view lock held), p may be NULL. */
void lr_xfer_begin(lr_easy *e, const lr_table *t, const lr_request *r,
		   const lr_decision *d, const lr_plan *p, const char *sent_url,
		   const char *body, size_t blen);

/* Puts our write (and, if needed, header) callback in front of the app's. */
void lr_xfer_install(const lr_curl_lib *lib, lr_easy *e);

/* n body bytes to the app's write callback (or libcurl's default), fed
 * to the audit as the app takes them; n header bytes to where libcurl
 * would put them for the app.  Return what the app's callback did. */
size_t lr_xfer_write(lr_easy *e, char *p, size_t n);
size_t lr_xfer_header(lr_easy *e, char *p, size_t n);

/* Puts the app's callbacks back (lr_curl_restore calls it). */
void lr_xfer_uninstall(const lr_curl_lib *lib, lr_easy *e);

/* Completes the record with libcurl's result and writes it.  rc < 0: the
 * result is not known (the app removed the handle without reading it). */
void lr_xfer_end(const lr_curl_lib *lib, lr_easy *e, int rc);

/* Records a denied request (nothing was sent); link: NULL, or the audit
 * fields of the resilient request it is a later attempt of. */
void lr_xfer_denied(const lr_table *t, const lr_request *r, const lr_decision *d,
		    size_t blen, const struct lr_rec *link);

/* The audit's error.type for a libcurl result ("COULDNT_CONNECT", ...). */
const char *lr_xfer_error_name(int rc);

/* Frees a transfer's record without writing it. */
void lr_xfer_free(lr_easy *e);

#endif
