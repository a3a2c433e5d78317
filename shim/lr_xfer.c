/*
 * lr_xfer.c - audit of libcurl transfers (see lr_xfer.h): our callbacks in
 * front of the app's, and libcurl's results turned into lr_rec records.
 */
#include "lr_xfer.h"
#include "lr_rec.h"

#include <stdio.h>
#include <string.h>

void lr_xfer_begin(lr_easy *e, const lr_table *t, const lr_request *r,
		   const lr_decision *d, const lr_plan *p, const char *sent_url,
		   const char *body, size_t blen)
{
	lr_rec *x = lr_rec_begin(t, r, d, p, sent_url, body, blen, "curl");

	if (!x)
		return;
	lr_xfer_free(e);
	e->x = x;
}

/* --- the callbacks in front of the app's ---------------------------------- */

static size_t app_write(curl_write_callback cb, char *p, size_t size, size_t n, void *data)
{
	if (cb)
		return cb(p, size, n, data);
	/* libcurl's default: fwrite to WRITEDATA, stdout when unset */
	return fwrite(p, size, n, data ? data : stdout);
}

/* With CURLOPT_HEADER, libcurl writes each header line of each response
 * (a 100 Continue, redirects, the answer) to the write callback, one line a
 * call, before the body: those are not fed to the usage parser. */
static int header_line(lr_rec *x, const char *p, size_t n)
{
	if (!x->body_started && n >= 5 && memcmp(p, "HTTP/", 5) == 0)
		x->in_headers = 1;
	if (!x->in_headers) {
		x->body_started = 1;
		return 0;
	}
	if ((n == 2 && p[0] == '\r' && p[1] == '\n') || (n == 1 && p[0] == '\n'))
		x->in_headers = 0;
	return 1;
}

static size_t audit_write(char *p, size_t size, size_t n, void *ud)
{
	lr_easy *e = ud;
	size_t r = app_write(e->write_cb, p, size, n, e->write_data);

	if (e->header_opt && e->x && r == size * n && header_line(e->x, p, r))
		return r;
	/* Only bytes the app took: after a pause, libcurl delivers them again. */
	if (r == size * n && e->x)
		lr_rec_body(e->x, p, r);
	return r;
}

/* Headers go to the write callback with HEADERDATA when the app set
 * HEADERDATA but no HEADERFUNCTION: keep that, minus our WRITEDATA. */
static size_t audit_header(char *p, size_t size, size_t n, void *ud)
{
	lr_easy *e = ud;

	/* the app may have set a header function since (lr_curl.c keeps it) */
	if (e->header_cb)
		return e->header_cb(p, size, n, e->header_data);
	return app_write(e->write_cb, p, size, n, e->header_data);
}

size_t lr_xfer_write(lr_easy *e, char *p, size_t n)
{
	return audit_write(p, 1, n, e);
}

size_t lr_xfer_header(lr_easy *e, char *p, size_t n)
{
	if (e->header_cb)
		return e->header_cb(p, 1, n, e->header_data);
	if (e->header_data)
		return app_write(e->write_cb, p, 1, n, e->header_data);
	return n; /* libcurl's default: headers go nowhere */
}

void lr_xfer_install(const lr_curl_lib *lib, lr_easy *e)
{
	if (!e->x)
		return;
	lib->easy_setopt(e->h, CURLOPT_WRITEFUNCTION, audit_write);
	lib->easy_setopt(e->h, CURLOPT_WRITEDATA, e);
	if (!e->header_cb && e->header_data) {
		lib->easy_setopt(e->h, CURLOPT_HEADERFUNCTION, audit_header);
		lib->easy_setopt(e->h, CURLOPT_HEADERDATA, e);
		e->changed_header = 1;
	}
	e->changed_write = 1;
	e->applied = 1;
}

void lr_xfer_uninstall(const lr_curl_lib *lib, lr_easy *e)
{
	if (!e->changed_write)
		return;
	lib->easy_setopt(e->h, CURLOPT_WRITEFUNCTION, e->write_cb);
	lib->easy_setopt(e->h, CURLOPT_WRITEDATA, e->write_data);
	lib->easy_setopt(e->h, CURLOPT_HEADERFUNCTION, e->header_cb);
	lib->easy_setopt(e->h, CURLOPT_HEADERDATA, e->header_data);
	e->changed_write = e->changed_header = 0;
}

/* --- the record ------------------------------------------------------------ */

const char *lr_xfer_error_name(int rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST: return "COULDNT_RESOLVE_HOST";
	case CURLE_COULDNT_CONNECT: return "COULDNT_CONNECT";
	case CURLE_OPERATION_TIMEDOUT: return "OPERATION_TIMEDOUT";
	case CURLE_GOT_NOTHING: return "GOT_NOTHING";
	case CURLE_RECV_ERROR: return "RECV_ERROR";
	case CURLE_SEND_ERROR: return "SEND_ERROR";
	case CURLE_SSL_CONNECT_ERROR: return "SSL_CONNECT_ERROR";
	case CURLE_WRITE_ERROR: return "WRITE_ERROR";
	case CURLE_ABORTED_BY_CALLBACK: return "ABORTED_BY_CALLBACK";
	case CURLE_PARTIAL_FILE: return "PARTIAL_FILE";
	}
	return "curl_error";
}

void lr_xfer_end(const lr_curl_lib *lib, lr_easy *e, int rc)
{
	long status = 0;
	const char *err = NULL;

	if (!e->x)
		return;
	if (lib->easy_getinfo)
		lib->easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, &status);
	if (rc > 0)
		err = lr_xfer_error_name(rc);
	else if (rc < 0 && status <= 0) /* removed before any answer was read */
		err = "incomplete";
	lr_rec_end(e->x, status, err);
	e->x = NULL;
}

void lr_xfer_denied(const lr_table *t, const lr_request *r, const lr_decision *d, size_t blen,
		    const lr_rec *link)
{
	lr_rec_denied_as(t, r, d, blen, "curl", link);
}

void lr_xfer_free(lr_easy *e)
{
	lr_rec_free(e->x);
	e->x = NULL;
}
