/* lr_easy.c - per-handle records (see lr_easy.h). */
#include "lr_easy.h"
#include "lr_xcurl.h"
#include "lr_fork.h"
#include "lr_resil.h"
#include "lr_xfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static lr_easy *table;
static unsigned count;

static void free_slist(struct curl_slist *l)
{
	while (l) {
		struct curl_slist *n = l->next;
		free(l->data);
		free(l);
		l = n;
	}
}

lr_easy *lr_easy_get(CURL *h, int create)
{
	lr_easy *e;

	pthread_mutex_lock(&table_mu);
	HASH_FIND_PTR(table, &h, e);
	if (!e && create && count < LR_EASY_MAX && (e = calloc(1, sizeof(*e)))) {
		e->h = h;
		e->post_size = -1;
		e->infile_size = -1;
		e->write_data = stdout; /* libcurl's defaults, so a restore */
		e->read_data = stdin;   /* gives back what the app had */
		e->lib = -1;
		e->noprogress = 1;
		pthread_mutex_init(&e->mu, NULL);
		HASH_ADD_PTR(table, h, e);
		count++;
	}
	pthread_mutex_unlock(&table_mu);
	if (e)
		pthread_mutex_lock(&e->mu);
	return e;
}

void lr_easy_put(lr_easy *e)
{
	if (e)
		pthread_mutex_unlock(&e->mu);
}

void lr_easy_clear_applied(lr_easy *e)
{
	lr_xcurl_free(e);
	free(e->new_url);
	free(e->new_body);
	free(e->deny_msg);
	free_slist(e->new_headers);
	e->new_url = e->new_body = e->deny_msg = NULL;
	e->new_headers = NULL;
	e->new_body_len = e->read_pos = e->replay_len = 0;
	e->read_tail = 0;
	e->applied = e->changed_url = e->changed_body = 0;
	e->changed_headers = e->changed_creds = e->changed_read = e->changed_cookie = 0;
	e->changed_where = 0;
}

void lr_easy_clear_app(lr_easy *e)
{
	free(e->url);
	free(e->req_url);
	e->req_url = NULL;
	free(e->post_copy);
	free(e->bearer);
	free(e->user);
	free(e->pass);
	free(e->cookie);
	e->url = e->post_copy = e->bearer = e->user = e->pass = e->cookie = NULL;
	e->post_copy_len = 0;
	e->method = LR_M_GET;
	e->curlu = 0;
	e->post = NULL;
	e->post_size = e->infile_size = -1;
	e->headers = NULL;
	e->errbuf = NULL;
	e->read_cb = NULL;
	e->read_data = stdin;
	e->write_cb = e->header_cb = NULL;
	e->write_data = stdout;
	e->header_data = NULL;
	e->seek_cb = NULL;
	e->seek_data = NULL;
	e->header_opt = 0;
	e->xferinfo_cb = NULL;
	e->progress_cb = NULL;
	e->progress_data = NULL;
	e->noprogress = 1;
	e->follow = e->port = 0;
	e->connect_to = NULL;
}

static void free_record(lr_easy *e)
{
	lr_resil_free(e);
	lr_served_clear(e);
	lr_xfer_free(e);
	lr_easy_clear_applied(e);
	lr_easy_clear_app(e);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

void lr_easy_drop(CURL *h)
{
	lr_easy *e;

	pthread_mutex_lock(&table_mu);
	HASH_FIND_PTR(table, &h, e);
	if (e) {
		HASH_DEL(table, e);
		count--;
	}
	pthread_mutex_unlock(&table_mu);
	if (e) {
		/* Wait for a thread still inside this record to leave. */
		pthread_mutex_lock(&e->mu);
		pthread_mutex_unlock(&e->mu);
		free_record(e);
	}
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void lr_easy_dup(CURL *src, CURL *dst)
{
	lr_easy *s = lr_easy_get(src, 0), *d;

	if (!s)
		return;
	d = lr_easy_get(dst, 1);
	if (d) {
		d->lib = s->lib;
		d->url = dup_or_null(s->url);
		d->post = s->post;
		d->post_size = s->post_size;
		if (s->post_copy && s->post == s->post_copy) {
			size_t n = s->post_copy_len;
			d->post_copy = malloc(n + 1);
			if (d->post_copy) {
				memcpy(d->post_copy, s->post_copy, n + 1);
				d->post_copy_len = n;
			}
			d->post = d->post_copy;
		}
		d->headers = s->headers;
		d->errbuf = s->errbuf;
		d->read_cb = s->read_cb;
		d->read_data = s->read_data;
		d->seek_cb = s->seek_cb;
		d->write_cb = s->write_cb;
		d->write_data = s->write_data;
		d->header_cb = s->header_cb;
		d->header_data = s->header_data;
		d->header_opt = s->header_opt;
		d->xferinfo_cb = s->xferinfo_cb;
		d->progress_cb = s->progress_cb;
		d->progress_data = s->progress_data;
		d->noprogress = s->noprogress;
		d->seek_data = s->seek_data;
		d->infile_size = s->infile_size;
		d->bearer = dup_or_null(s->bearer);
		d->user = dup_or_null(s->user);
		d->pass = dup_or_null(s->pass);
		d->cookie = dup_or_null(s->cookie);
		d->follow = s->follow;
		d->port = s->port;
		d->connect_to = s->connect_to;
		d->method = s->method;
		d->curlu = s->curlu;
		lr_easy_put(d);
	}
	lr_easy_put(s);
}

void lr_easy_atfork(int phase)
{
	lr_fork_mutex(&table_mu, phase);
}
