/* lr_request.c - features of one request (see lr_request.h). */
#include "lr_request.h"
#include "lr_body.h"
#include "lr_error.h"

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

int lr_request_init(lr_request *r, const char *url, size_t ulen,
		    const char *body, size_t blen, const char *process)
{
	int rc;

	memset(r, 0, sizeof(*r));
	if (lr_detect_url(url, ulen, &r->det) < 0)
		return LR_ENOTFOUND;
	if (r->det.model_len) {
		model_from_path(r, url);
	} else if (body && blen) {
		rc = lr_body_get_str(body, blen, "model", r->model, sizeof(r->model));
		r->body_ok = rc >= 0 || rc == LR_ENOTFOUND || rc == LR_ETOOBIG;
		if (rc < 0)
			r->model[0] = '\0';
	}
	lr_features_set(&r->f, LR_F_MODEL, r->model[0] ? r->model : NULL, strlen(r->model));
	lr_features_set(&r->f, LR_F_HOST, r->det.url.host, r->det.url.host_len);
	lr_features_set(&r->f, LR_F_OPERATION, r->det.operation, strlen(r->det.operation));
	lr_features_set(&r->f, LR_F_PROVIDER, r->det.provider, strlen(r->det.provider));
	if (process)
		lr_features_set(&r->f, LR_F_PROCESS, process, strlen(process));
	return 0;
}
