/* lr_request.c - features of one request (see lr_request.h). */
#include "lr_request.h"
#include "lr_body.h"
#include "lr_error.h"
#include "lr_json.h"

#include <stddef.h>
#include <string.h>

static void model_from_path(lr_request *r, const char *url)
{
	size_t n = r->det.model_len;

	if (n >= sizeof(r->model))
		n = sizeof(r->model) - 1;
	memcpy(r->model, url + r->det.model_off, n);
	r->model[n] = '\0';
	r->model_from_path = 1;
}

/* lr_body_get_str(body, "model") in the same walk that notes "stream"
 * for lr_request_streams: one pass over a large body instead of two. */
static int model_from_body(lr_request *r, const char *body, size_t blen)
{
	static const char *const keys[] = {"model", "stream"};
	lr_span v[2];
	size_t nv[2];
	int rc = lr_body_members_n(body, blen, keys, 2, v, nv);

	r->model[0] = '\0';
	if (rc == LR_ETOOBIG)
		return rc; /* past LR_BODY_MAX: lr_request_streams walks it itself */
	r->walked = body;
	r->walked_len = blen;
	r->walked_whole = rc == 0;
	r->walked_stream = v[1];
	r->walked_model = v[0];
	r->walked_nmodel = nv[0];
	if (rc < 0)
		return rc;
	if (lr_json_type_of(v[0]) != LR_JSON_STRING)
		return LR_ENOTFOUND;
	return lr_json_str_decode(v[0], r->model, sizeof(r->model));
}

static void features(lr_request *r)
{
	const lr_extract *x = &r->x;
	int stream = x->stream || r->det.stream_in_path;

	/* Ollama streams unless told not to (embeddings never do) */
	if (r->det.format == LR_FMT_OLLAMA && !x->stream_seen && strcmp(r->det.operation, "embeddings") != 0)
		stream = 1;
	lr_features_set(&r->f, LR_F_USER_TEXT, x->user, x->user_len);
	lr_features_set(&r->f, LR_F_SYSTEM_TEXT, x->system, x->system_len);
	lr_features_num(&r->f, LR_F_PROMPT_TOKENS, x->prompt_tokens);
	lr_features_num(&r->f, LR_F_MAX_TOKENS, x->max_tokens);
	lr_features_num(&r->f, LR_F_STREAM, stream);
	lr_features_num(&r->f, LR_F_TOOLS, x->tools);
	lr_features_num(&r->f, LR_F_IMAGES, x->images);
	lr_features_num(&r->f, LR_F_JSON, x->json);
	lr_features_num(&r->f, LR_F_MESSAGES, x->messages);
	lr_features_num(&r->f, LR_F_INTENT_CONFIDENCE, 0);
	lr_features_num(&r->f, LR_F_TEMPERATURE, x->temperature);
}

void lr_request_features(lr_request *r, const char *body, size_t blen)
{
	if (body && blen && lr_extract_body(body, blen, &r->x) == 0)
		r->body_ok = 1;
	else if (!body || !blen)
		lr_extract_body(NULL, 0, &r->x);
	features(r);
}

int lr_request_init(lr_request *r, const char *url, size_t ulen,
		    const char *body, size_t blen, const char *process)
{
	return lr_request_init_as(r, url, ulen, body, blen, process, 1);
}

int lr_request_init_as(lr_request *r, const char *url, size_t ulen, const char *body, size_t blen,
		       const char *process, int want_features)
{
	int rc;

	/* the 8 KB of texts are written by the extractor, not cleared here */
	memset(r, 0, offsetof(lr_request, x));
	r->x.user[0] = r->x.system[0] = '\0';
	r->x.user_len = r->x.system_len = 0;
	r->x.max_tokens = -1;
	r->x.prompt_tokens = r->x.messages = 0;
	r->x.stream = r->x.tools = r->x.images = r->x.json = r->x.stream_seen = 0;
	if (lr_detect_url(url, ulen, &r->det) < 0)
		return LR_ENOTFOUND;
	if (r->det.model_len) {
		model_from_path(r, url);
	} else if (body && blen) {
		rc = model_from_body(r, body, blen);
		r->body_ok = rc >= 0 || rc == LR_ENOTFOUND || rc == LR_ETOOBIG;
		r->model_unread = rc < 0 && rc != LR_ENOTFOUND;
		if (rc < 0)
			r->model[0] = '\0';
	}
	if (want_features)
		lr_request_features(r, body, blen);
	else
		lr_features_num(&r->f, LR_F_MAX_TOKENS, -1);
	lr_features_set(&r->f, LR_F_MODEL, r->model[0] ? r->model : NULL, strlen(r->model));
	lr_features_set(&r->f, LR_F_HOST, r->det.url.host, r->det.url.host_len);
	lr_features_set(&r->f, LR_F_OPERATION, r->det.operation, strlen(r->det.operation));
	lr_features_set(&r->f, LR_F_PROVIDER, r->det.provider, strlen(r->det.provider));
	if (process)
		lr_features_set(&r->f, LR_F_PROCESS, process, strlen(process));
	return 0;
}

/* The fields a body gives: all but host, operation, provider and process. */
static unsigned long long body_fields(int model_known)
{
	unsigned long long m = 0;
	int k;

	for (k = LR_F_NUM; k < LR_F_NUM_END; k++)
		m |= 1ULL << k;
	m |= 1ULL << LR_F_INTENT | 1ULL << LR_F_USER_TEXT | 1ULL << LR_F_SYSTEM_TEXT;
	if (!model_known)
		m |= 1ULL << LR_F_MODEL;
	return m;
}

static int body_readable(const lr_request *r, const char *body, size_t blen)
{
	int at;
	size_t pos;

	if (!r->model_from_path)
		return !r->model_unread;
	if (r->body_ok)
		return 1;
	if (blen > LR_BODY_MAX || (at = lr_json_skip_ws(body, blen, 0)) < 0 || (size_t)at >= blen ||
	    body[at] != '{')
		return 0;
	pos = (size_t)at;
	return lr_json_skip_value(body, blen, &pos) == 0 && lr_json_skip_ws(body, blen, pos) == (int)blen;
}

int lr_request_guard(const lr_table *t, const lr_request *r, const char *body, size_t blen,
		     int unread, lr_decision *d)
{
	lr_decision u;

	if (!t || d->action == LR_ACTION_DENY || (!unread && (!body || !blen)))
		return 0;
	/* which denies could apply is cheap; reading a path-model body is not */
	if (!lr_decide_unknown(t, &r->f, body_fields(r->model_from_path), &u))
		return 0;
	if (!unread && body_readable(r, body, blen))
		return 0;
	*d = u;
	return 1;
}

int lr_request_streams(const lr_request *r, const char *body, size_t blen)
{
	static const char *const path[] = {"stream"};
	lr_span v = r->walked_stream;
	int found;

	/* what lr_json_find would say: the body whole, its last "stream" */
	if (body && body == r->walked && blen == r->walked_len)
		found = r->walked_whole && v.p;
	else
		found = body && lr_json_find(body, blen, path, 1, &v) == 0;

	if (r->det.stream_in_path)
		return 1;
	if (r->det.format == LR_FMT_OLLAMA)
		return strcmp(r->det.operation, "embeddings") != 0 && !(found && lr_json_is_false(v));
	return found && lr_json_is_true(v);
}

int lr_request_set_model(const lr_request *r, const char *body, size_t blen, const char *model,
	char **out, size_t *outlen)
{
	/* a duplicated "model" needs every copy replaced: the full walk does */
	if (r && body && body == r->walked && blen == r->walked_len && r->walked_whole &&
	    r->walked_nmodel == 1)
		return lr_body_set_model_at(body, blen, r->walked_model, model, out, outlen);
	return lr_body_set_model(body, blen, model, out, outlen);
}
