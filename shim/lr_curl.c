/*
 * lr_curl.c - the exported libcurl hooks.
 *
 * curl_easy_setopt records the options routing needs and forwards every
 * call unchanged; curl_easy_perform and curl_multi_add_handle route the
 * transfer; curl_easy_cleanup / reset / duphandle and
 * curl_multi_remove_handle / info_read keep the per-handle records right.
 * Every hook saves errno, does its part only for the app's own calls and
 * when the shim is enabled, and forwards to the libcurl the caller was
 * bound to.  "The app's own": curl_easy_setopt ignores calls made from
 * inside libcurl (lr_curl_is_internal: DoH probes and the like); the
 * transfer hooks ignore calls nested in a curl_easy_perform (lr_depth),
 * which is how libcurl drives its own multi interface.  With no real function to call, it
 * returns the error libcurl gives for a handle it cannot use.
 */
#include "lr_curl_apply.h"
#include "lr_curl_sym.h"
#include "lr_easy.h"
#include "lr_capture.h"
#include "lr_log.h"
#include "lr_multi.h"
#include "lr_resil.h"
#include "lr_shim.h"
#include "lr_xfer.h"
#include "lr_xcurl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#undef curl_easy_setopt
#undef curl_easy_getinfo

#define CALLER __builtin_return_address(0)

/* The denied multi transfer fails at once on this unknown scheme; the
 * result the app reads is then replaced in curl_multi_info_read. */
#define DENIED_URL "llmroute-denied://request.denied/"

static char *dup_str(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = dup_str(v);
}

/* Which options routing needs to see.  Everything else costs one switch. */
static int interesting(CURLoption opt)
{
	switch (opt) {
	case CURLOPT_URL: case CURLOPT_CURLU:
	case CURLOPT_POSTFIELDS: case CURLOPT_COPYPOSTFIELDS:
	case CURLOPT_POSTFIELDSIZE: case CURLOPT_POSTFIELDSIZE_LARGE:
	case CURLOPT_POST: case CURLOPT_HTTPGET: case CURLOPT_UPLOAD: case CURLOPT_NOBODY:
	case CURLOPT_MIMEPOST: case CURLOPT_HTTPPOST:
	case CURLOPT_HTTPHEADER: case CURLOPT_ERRORBUFFER:
	case CURLOPT_READFUNCTION: case CURLOPT_READDATA:
	case CURLOPT_SEEKFUNCTION: case CURLOPT_SEEKDATA:
	case CURLOPT_INFILESIZE: case CURLOPT_INFILESIZE_LARGE:
	case CURLOPT_XOAUTH2_BEARER: case CURLOPT_USERPWD: case CURLOPT_COOKIE:
	case CURLOPT_USERNAME: case CURLOPT_PASSWORD:
	case CURLOPT_WRITEFUNCTION: case CURLOPT_WRITEDATA:
	case CURLOPT_HEADERFUNCTION: case CURLOPT_HEADERDATA: case CURLOPT_HEADER:
	case CURLOPT_XFERINFOFUNCTION: case CURLOPT_PROGRESSFUNCTION: case CURLOPT_XFERINFODATA:
	case CURLOPT_NOPROGRESS:
	case CURLOPT_FOLLOWLOCATION: case CURLOPT_PORT: case CURLOPT_CONNECT_TO:
		return 1;
	default:
		return 0;
	}
}

/* Is opt one of the callbacks our own stand in front of right now? */
static int ours_in_front(const lr_easy *e, CURLoption opt)
{
	if (opt == CURLOPT_WRITEFUNCTION || opt == CURLOPT_WRITEDATA)
		return e->changed_write;
	if (opt == CURLOPT_HEADERFUNCTION || opt == CURLOPT_HEADERDATA)
		return e->changed_header;
	if (opt == CURLOPT_XFERINFOFUNCTION || opt == CURLOPT_PROGRESSFUNCTION ||
	    opt == CURLOPT_XFERINFODATA || opt == CURLOPT_NOPROGRESS)
		return e->changed_progress;
	if (opt == CURLOPT_HEADER)
		return e->changed_header_opt;
	return 0;
}

static void record_copy_post(lr_easy *e, const char *p)
{
	size_t n = e->post_size >= 0 ? (size_t)e->post_size : (p ? strlen(p) : 0);

	free(e->post_copy);
	e->post_copy = p ? malloc(n + 1) : NULL;
	e->post_copy_len = e->post_copy ? n : 0;
	if (e->post_copy) {
		memcpy(e->post_copy, p, n);
		e->post_copy[n] = '\0';
	}
	e->post = e->post_copy;
	e->method = LR_M_POST;
}

/* A size larger than libcurl's private copy makes libcurl drop the copy. */
static void record_post_size(lr_easy *e, curl_off_t size)
{
	e->post_size = size;
	if (e->post && e->post == e->post_copy && size > (curl_off_t)e->post_copy_len)
		e->post = NULL;
}

/* USERPWD sets both halves, split at the first colon, as libcurl does. */
static void record_userpwd(lr_easy *e, const char *v)
{
	const char *colon = v ? strchr(v, ':') : NULL;

	free(e->user);
	free(e->pass);
	e->user = v ? (colon ? strndup(v, (size_t)(colon - v)) : strdup(v)) : NULL;
	e->pass = colon ? strdup(colon + 1) : NULL;
}

static void record_method(lr_easy *e, CURLoption opt, long l)
{
	switch (opt) {
	case CURLOPT_POST: e->method = l ? LR_M_POST : LR_M_GET; break;
	case CURLOPT_HTTPGET: if (l) e->method = LR_M_GET; break;
	case CURLOPT_UPLOAD: e->method = l ? LR_M_PUT : LR_M_GET; break;
	case CURLOPT_NOBODY: e->method = l ? LR_M_HEAD : (e->method == LR_M_HEAD ? LR_M_GET : e->method); break;
	default: e->method = LR_M_OTHER_BODY; break; /* MIMEPOST, HTTPPOST */
	}
}

static void record(lr_easy *e, CURLoption opt, long l, void *p, curl_off_t o)
{
	switch (opt) {
	case CURLOPT_URL: set_str(&e->url, p); break;
	case CURLOPT_CURLU: e->curlu = p != NULL; break;
	case CURLOPT_POSTFIELDS: e->post = p; e->method = LR_M_POST; break;
	case CURLOPT_COPYPOSTFIELDS: record_copy_post(e, p); break;
	case CURLOPT_POSTFIELDSIZE: record_post_size(e, l); break;
	case CURLOPT_POSTFIELDSIZE_LARGE: record_post_size(e, o); break;
	case CURLOPT_HTTPHEADER: e->headers = p; break;
	case CURLOPT_ERRORBUFFER: e->errbuf = p; break;
	case CURLOPT_READFUNCTION: memcpy(&e->read_cb, &p, sizeof(p)); break;
	case CURLOPT_READDATA: e->read_data = p; break;
	case CURLOPT_SEEKFUNCTION: memcpy(&e->seek_cb, &p, sizeof(p)); break;
	case CURLOPT_SEEKDATA: e->seek_data = p; break;
	case CURLOPT_WRITEFUNCTION: memcpy(&e->write_cb, &p, sizeof(p)); break;
	case CURLOPT_WRITEDATA: e->write_data = p; break;
	case CURLOPT_HEADERFUNCTION: memcpy(&e->header_cb, &p, sizeof(p)); break;
	case CURLOPT_HEADERDATA: e->header_data = p; break;
	case CURLOPT_HEADER: e->header_opt = l != 0; break;
	case CURLOPT_XFERINFOFUNCTION: memcpy(&e->xferinfo_cb, &p, sizeof(p)); break;
	case CURLOPT_PROGRESSFUNCTION: memcpy(&e->progress_cb, &p, sizeof(p)); break;
	case CURLOPT_XFERINFODATA: e->progress_data = p; break;
	case CURLOPT_NOPROGRESS: e->noprogress = l != 0; break;
	case CURLOPT_INFILESIZE: e->infile_size = l; break;
	case CURLOPT_INFILESIZE_LARGE: e->infile_size = o; break;
	case CURLOPT_XOAUTH2_BEARER: set_str(&e->bearer, p); break;
	case CURLOPT_COOKIE: set_str(&e->cookie, p); break;
	case CURLOPT_USERPWD: record_userpwd(e, p); break;
	case CURLOPT_USERNAME: set_str(&e->user, p); break;
	case CURLOPT_PASSWORD: set_str(&e->pass, p); break;
	case CURLOPT_FOLLOWLOCATION: e->follow = l; break;
	case CURLOPT_PORT: e->port = l; break;
	case CURLOPT_CONNECT_TO: e->connect_to = p; break;
	default: record_method(e, opt, l); break;
	}
}

/* libcurl reads one argument whose type follows from the option number:
 * read exactly that and forward exactly that. */
LR_EXPORT CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	const lr_curl_lib *lib = lr_curl_lib_for_caller(CALLER);
	int saved = errno;
	long l = 0;
	void *p = NULL;
	curl_off_t o = 0;
	va_list ap;

	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		l = va_arg(ap, long);
	else if (opt < CURLOPTTYPE_OFF_T && opt >= CURLOPTTYPE_FUNCTIONPOINT)
		p = (void *)va_arg(ap, void (*)(void));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		p = va_arg(ap, void *);
	else if (opt < CURLOPTTYPE_BLOB)
		o = va_arg(ap, curl_off_t);
	else
		p = va_arg(ap, void *);
	va_end(ap);
	if (!lib || !lib->easy_setopt)
		return CURLE_FAILED_INIT;
	/* The app's calls are recorded, including those from its callbacks
	 * during a transfer; libcurl's calls to itself are not. */
	if (h && interesting(opt) && !lr_disabled() && !lr_curl_is_internal(CALLER)) {
		lr_easy *e = lr_easy_get(h, 1);
		if (e) {
			int ours;
			if (e->lib < 0)
				e->lib = lr_curl_lib_index(lib);
			record(e, opt, l, p, o);
			ours = ours_in_front(e, opt);
			lr_easy_put(e);
			/* Our write callback reads the app's choice at each call:
			 * passing this on would put the app's callback in front
			 * of ours with our userdata, or the reverse. */
			if (ours) {
				errno = saved;
				return CURLE_OK;
			}
		}
	}
	errno = saved;
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		return lib->easy_setopt(h, opt, l);
	if (opt < CURLOPTTYPE_OFF_T && opt >= CURLOPTTYPE_OBJECTPOINT)
		return lib->easy_setopt(h, opt, p);
	if (opt < CURLOPTTYPE_BLOB)
		return lib->easy_setopt(h, opt, o);
	return lib->easy_setopt(h, opt, p);
}

/* The end of a transfer: write its record (or drop it), then give the
 * handle the app's own option values back. */
static void finish(const lr_curl_lib *lib, CURL *h, int rc, int record)
{
	int saved = errno;
	lr_easy *e = lr_easy_get(h, 0);

	if (!e)
		return;
	lr_xcurl_finish(e); /* a held translated answer: the app's before the record */
	if (record)
		lr_xfer_end(lib, e, rc);
	else
		lr_xfer_free(e);
	lr_resil_free(e);
	lr_curl_restore(lib, e);
	lr_easy_put(e);
	errno = saved;
}

LR_EXPORT CURLcode curl_easy_perform(CURL *h)
{
	const lr_curl_lib *lib = lr_curl_lib_for_caller(CALLER);
	int saved = errno, prep = LR_PREP_PASS, rs = 0;
	lr_easy *e = NULL;
	CURLcode rc;
	const lr_curl_lib *inner;

	if (!lib || !lib->easy_perform)
		return CURLE_FAILED_INIT;
	if (lr_depth == 0 && !lr_disabled() && (e = lr_easy_get(h, 0))) {
		prep = lr_curl_prepare(lib, e, 1);
		if (prep == LR_PREP_DENY) {
			lr_curl_deny_errbuf(e);
			lr_easy_clear_applied(e);
			lr_easy_put(e);
			errno = saved;
			return CURLE_REMOTE_ACCESS_DENIED;
		}
		rs = e->rs != NULL;
		lr_easy_put(e);
	}
	errno = saved;
	if (rs) {
		/* the record stays ours: this thread is inside the app's
		 * perform on this handle, as its callbacks are */
		rc = lr_resil_perform(lib, e);
		finish(lib, h, rc, 1);
		errno = saved;
		return rc;
	}
	inner = lr_multi_inner_lib;
	lr_multi_inner_lib = lib; /* libcurl's own multi calls, in there */
	lr_depth++;
	rc = lib->easy_perform(h);
	lr_depth--;
	lr_multi_inner_lib = inner;
	if (prep == LR_PREP_ROUTED)
		finish(lib, h, rc, 1);
	return rc;
}

LR_EXPORT CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
	const lr_curl_lib *lib = lr_curl_lib_for_caller(CALLER);
	int saved = errno, resil = 0;
	lr_easy *e;

	if (!lib || !lib->multi_add_handle)
		return CURLM_INTERNAL_ERROR;
	CURLMcode rc;

	if (lr_depth == 0 && !lr_disabled() && (e = lr_easy_get(h, 0))) {
		if (lr_curl_prepare(lib, e, 1) == LR_PREP_DENY) {
			/* libcurl fails it at once; info_read reports our reason */
			lib->easy_setopt(h, CURLOPT_URL, DENIED_URL);
			e->applied = e->changed_url = 1;
		} else if (e->rs) { /* fallbacks, escalation, cache: lr_multi.h */
			lr_multi_start(lib, e);
			resil = 1;
		}
		lr_easy_put(e);
	}
	errno = saved;
	rc = lib->multi_add_handle(m, h);
	if (rc == CURLM_OK && resil)
		lr_multi_track(m, h);
	/* not added (already in a multi, called from a callback...): the
	 * handle must hold the app's values again, and nothing is recorded */
	if (rc != CURLM_OK && lr_depth == 0)
		finish(lib, h, 0, 0);
	return rc;
}

LR_EXPORT CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
	const lr_curl_lib *lib = lr_curl_lib_for_caller(CALLER);
	CURLMcode rc;

	if (!lib || !lib->multi_remove_handle)
		return CURLM_INTERNAL_ERROR;
	rc = lib->multi_remove_handle(m, h);
	/* Refused (e.g. called from a callback): the transfer goes on.  The
	 * record is written here if the app never read the result. */
	if (rc == CURLM_OK && lr_depth == 0) {
		finish(lib, h, -1, 1);
		if (lr_multi_any()) /* out of our queue and wait list too */
			lr_multi_forget(h);
	}
	return rc;
}

LR_EXPORT CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
	const lr_curl_lib *lib = lr_curl_lib_for_caller(CALLER);
	CURLMsg *msg;
	int saved;
	lr_easy *e;

	if (!lib || !lib->multi_info_read)
		return NULL;
	msg = lr_depth ? lib->multi_info_read(m, left) : lr_multi_info_read(lib, m, left);
	if (!msg || msg->msg != CURLMSG_DONE || lr_depth)
		return msg;
	saved = errno;
	if ((e = lr_easy_get(msg->easy_handle, 0))) {
		if (e->deny_msg) {
			msg->data.result = CURLE_REMOTE_ACCESS_DENIED;
			lr_curl_deny_errbuf(e);
		}
		lr_xcurl_finish(e);
		lr_xfer_end(lib, e, msg->data.result);
		lr_easy_put(e);
	}
	errno = saved;
	return msg;
}

/* A new handle may reuse the address of one libcurl freed internally
 * (curl_multi_cleanup of its own handles): start with no record. */
LR_EXPORT CURL *curl_easy_init(void)
{
	const lr_curl_lib *lib = lr_curl_lib_for_caller(CALLER);
	CURL *h;
	int saved;

	if (!lib || !lib->easy_init)
		return NULL;
	h = lib->easy_init();
	saved = errno;
	if (h && lr_depth == 0)
		lr_easy_drop(h);
	errno = saved;
	return h;
}

LR_EXPORT void curl_easy_cleanup(CURL *h)
{
	const lr_curl_lib *lib = lr_curl_lib_for_caller(CALLER);
	int saved = errno;

	if (lr_depth == 0) {
		lr_easy_drop(h);
		if (lr_multi_any())
			lr_multi_forget(h);
	}
	errno = saved;
	if (lib && lib->easy_cleanup)
		lib->easy_cleanup(h);
}

LR_EXPORT void curl_easy_reset(CURL *h)
{
	const lr_curl_lib *lib = lr_curl_lib_for_caller(CALLER);
	int saved = errno;
	lr_easy *e;

	if (lib && lib->easy_reset)
		lib->easy_reset(h);
	if (lr_depth == 0 && (e = lr_easy_get(h, 0))) {
		lr_easy_clear_applied(e);
		lr_easy_clear_app(e);
		lr_resil_free(e);
		lr_served_clear(e);
		lr_easy_put(e);
	}
	errno = saved;
}

LR_EXPORT CURL *curl_easy_duphandle(CURL *h)
{
	const lr_curl_lib *lib = lr_curl_lib_for_caller(CALLER);
	CURL *d;
	int saved;
	lr_easy *e;

	if (!lib || !lib->easy_duphandle)
		return NULL;
	d = lib->easy_duphandle(h);
	saved = errno;
	/* Any depth: an app may duplicate from inside a callback mid-transfer. */
	if (d && !lr_disabled() && !lr_curl_is_internal(CALLER)) {
		lr_easy_dup(h, d);
		/* Copied while our values were set, the copy holds them (and
		 * callbacks pointing at the original's record): give it the
		 * app's, every one of them. */
		if ((e = lr_easy_get(h, 0))) {
			int applied = e->applied;
			lr_easy_put(e);
			if (applied && (e = lr_easy_get(d, 0))) {
				e->applied = e->changed_url = e->changed_body = e->changed_headers = 1;
				e->changed_creds = e->changed_read = e->changed_write = e->changed_cookie = 1;
				e->changed_header = e->changed_progress = e->changed_header_opt = 1;
				e->changed_where = 1;
				lr_curl_restore(lib, e);
				lr_easy_put(e);
			}
		}
	}
	errno = saved;
	return d;
}

/* Answers for an answer we served (a cache hit, an earlier attempt's):
 * only when some handle has one, so other calls cost one atomic load.
 * Every CURLINFO takes one pointer. */
LR_EXPORT CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	const lr_curl_lib *lib = lr_curl_lib_for_caller(CALLER);
	void *arg;
	va_list ap;
	lr_easy *e;
	int saved, done = 0;

	va_start(ap, info);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!lib || !lib->easy_getinfo)
		return CURLE_BAD_FUNCTION_ARGUMENT;
	if (atomic_load_explicit(&lr_served_handles, memory_order_relaxed) > 0 && lr_depth == 0) {
		saved = errno;
		if ((e = lr_easy_get(h, 0))) {
			done = lr_served_getinfo(e, info, arg);
			lr_easy_put(e);
		}
		errno = saved;
		if (done)
			return CURLE_OK;
	}
	return lib->easy_getinfo(h, info, arg);
}
