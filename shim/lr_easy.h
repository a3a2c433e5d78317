/*
 * lr_easy.h - what the shim remembers about each libcurl easy handle.
 *
 * The app's own option values that routing reads or may replace (URL, body,
 * headers, credentials, read callback, error buffer) are recorded as the
 * app sets them, so that each transfer is decided from the app's request,
 * never from what we changed last time, and so that everything we changed
 * can be put back when the transfer is over (lr_curl_apply.h).
 *
 * Records live in a hash keyed by the handle pointer, behind one mutex;
 * lr_easy_get() returns a record locked for the caller (a per-record
 * mutex), so two threads never edit one record at once.  Handles are
 * dropped on curl_easy_cleanup.  The table is capped (LR_EASY_MAX): past it
 * new handles are simply not tracked, and so not routed (fail open).
 */
#ifndef LR_EASY_H
#define LR_EASY_H
#include <curl/curl.h>
#include <pthread.h>
#include <uthash.h>

#define LR_EASY_MAX 65536

/* The request method libcurl will use, mirrored from the options that set
 * it (last one wins, as in libcurl's setopt.c). */
enum lr_method { LR_M_GET, LR_M_POST, LR_M_PUT, LR_M_HEAD, LR_M_OTHER_BODY };

typedef struct lr_easy {
	CURL *h;
	int lib;                      /* registry index of its libcurl */
	pthread_mutex_t mu;
	/* the app's values */
	char *url;                    /* copy */
	char *req_url;                /* url as libcurl reads it (lr_url_canon), when
				       * that differs: what is detected and matched */
	const char *post;             /* POSTFIELDS pointer (app-owned) */
	char *post_copy;              /* our copy, for COPYPOSTFIELDS */
	curl_off_t post_size;         /* -1 = strlen */
	struct curl_slist *headers;   /* app-owned list */
	char *errbuf;                 /* app's CURLOPT_ERRORBUFFER */
	curl_read_callback read_cb;
	void *read_data;
	curl_seek_callback seek_cb;
	void *seek_data;
	curl_off_t infile_size;       /* -1 unknown */
	char *bearer, *user, *pass;   /* effective credentials, as libcurl keeps them */
	char *cookie;                 /* CURLOPT_COOKIE: sent to whatever host */
	long follow;                  /* CURLOPT_FOLLOWLOCATION */
	long port;                    /* CURLOPT_PORT: overrides the URL's port */
	struct curl_slist *connect_to;/* CURLOPT_CONNECT_TO (app-owned list) */
	size_t post_copy_len;
	int method;                   /* enum lr_method: what libcurl will send */
	int curlu;                    /* CURLOPT_CURLU set: the URL is not ours to see */
	curl_write_callback write_cb, header_cb;
	void *write_data, *header_data;
	/* what the shim changed for the current transfer */
	int applied;                  /* options to restore after the transfer */
	int changed_url, changed_body, changed_headers, changed_creds, changed_read;
	int changed_cookie;
	int changed_where;            /* FOLLOWLOCATION, PORT, CONNECT_TO cleared */
	char *new_url;
	char *new_body;
	size_t new_body_len;
	size_t read_pos;              /* our read callback's position */
	size_t replay_len;            /* bytes of new_body read from the app; */
	int read_tail;                /* then continue with the app's callback */
	struct curl_slist *new_headers;
	char *deny_msg;               /* set while a denied multi transfer runs */
	int changed_write;            /* our write callback is in front */
	int changed_header;           /* and our header callback */
	int header_opt;               /* CURLOPT_HEADER: headers reach the write callback */
	/* the app's progress callbacks, kept while ours stands in front (lr_resil.h) */
	curl_xferinfo_callback xferinfo_cb;
	curl_progress_callback progress_cb;
	void *progress_data;
	int noprogress;               /* the app's CURLOPT_NOPROGRESS (libcurl's default: 1) */
	int changed_progress;         /* our progress callback is in front */
	int changed_header_opt;       /* CURLOPT_HEADER is off while we capture */
	struct lr_resil *rs;          /* fallbacks, escalation, cache of this transfer */
	struct lr_served *served;     /* what curl_easy_getinfo answers for an answer we served */
	struct lr_rec *x;             /* audit of the current LLM transfer */
	struct lr_xcurl *xc;          /* its answer is translated (lr_xcurl.h), or NULL */
	UT_hash_handle hh;
} lr_easy;

/* The record for h, created if `create`; returned LOCKED, or NULL (not
 * tracked, or allocation failed).  Unlock with lr_easy_put(). */
lr_easy *lr_easy_get(CURL *h, int create);
void lr_easy_put(lr_easy *e);

/* Removes and frees the record for h, if any. */
void lr_easy_drop(CURL *h);

/* Copies the app's values of src's record into a new record for dst
 * (curl_easy_duphandle).  No-op if src is not tracked. */
void lr_easy_dup(CURL *src, CURL *dst);

/* Forgets the app's values (curl_easy_reset). */
void lr_easy_clear_app(lr_easy *e);

/* Frees what the shim allocated for the last transfer (not the app's). */
void lr_easy_clear_applied(lr_easy *e);

#endif
