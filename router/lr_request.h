/*
 * lr_request.h - one LLM request as the router sees it.
 *
 * Built from what every transport has: the URL, the body (if known yet) and
 * the process name.  It holds the detection result and the features the
 * route conditions test (lr_extract.h), with the model and texts copied out
 * (bodies are the app's memory and may change after we look).  Building one
 * allocates nothing, except for a single text over LR_TEXT_MAX.  About
 * 9 KB: fine on a stack.
 */
#ifndef LR_REQUEST_H
#define LR_REQUEST_H
#include "lr_detect.h"
#include "lr_extract.h"
#include "lr_json.h"
#include "lr_guard.h"
#include "lr_match.h"

#define LR_MODEL_MAX 256

typedef struct {
	lr_detect det;
	char model[LR_MODEL_MAX]; /* as asked by the app; "" if none */
	int model_from_path;
	int body_ok;              /* the body parsed as a JSON object */
	int model_unread;         /* a body was given, its model could not be read
	                           * (not a JSON object, model over LR_MODEL_MAX) */
	char intent[72];          /* set by lr_intent_apply; "" if none */
	double intent_confidence;
	lr_features f;
	/* the walk that took the model from the body also saw its "stream"
	 * (lr_request_streams answers from it for that same body) */
	const char *walked;       /* the body walked, NULL if none */
	size_t walked_len;
	int walked_whole;         /* it was one whole JSON object */
	lr_span walked_stream;    /* its last top-level "stream", p NULL if none */
	lr_span walked_model;     /* its last top-level "model", p NULL if none */
	size_t walked_nmodel;     /* how many top-level "model" members it has */
	lr_guard_findings guard;  /* the detectors' findings (lr_guard.h), when the table
	                           * asks for them (LR_NEED_GUARD); offsets into the body */
	lr_extract x;             /* texts and numbers the policy looks at (last:
	                           * lr_request_init clears only what comes before) */
} lr_request;

/* Detects and takes the model; features as lr_request_features when
 * `features`, else texts empty and numbers 0 (max_tokens -1).  `body` may
 * be NULL (blen 0) when not known.  Returns 0 for an LLM API request,
 * LR_ENOTFOUND for anything else. */
int lr_request_init_as(lr_request *r, const char *url, size_t ulen, const char *body, size_t blen,
		       const char *process, int features);

/* lr_request_init_as with features. */
int lr_request_init(lr_request *r, const char *url, size_t ulen,
		    const char *body, size_t blen, const char *process);

/* Reads the policy features (lr_extract.h) from the body: the transports
 * call it only for tables that test them (LR_NEED_FEATURES). */
void lr_request_features(lr_request *r, const char *body, size_t blen);

/* 1 if the request asks for a streamed answer: a streaming path, a true
 * top-level "stream" in `body` (blen bytes), or an Ollama request (they
 * stream unless told not to; embeddings never do).  Allocates nothing. */
int lr_request_streams(const lr_request *r, const char *body, size_t blen);

/*
 * lr_body_set_model(body, blen, model, out, outlen), with the same results;
 * for the body the request was made from, with one "model" member, the
 * member found by that walk is replaced without walking the body again.
 */
int lr_request_set_model(const lr_request *r, const char *body, size_t blen, const char *model,
	char **out, size_t *outlen);

/*
 * A deny is a control: it must not fail open because the body could not be
 * read.  Call after lr_decide when it did not deny, for an LLM request with
 * a body: `unread` says the transport could not get the body at all (a read
 * callback of unknown size, a multipart form, over the 64 MiB cap, an
 * Expect: 100-continue), else `body` (blen bytes) is checked (for a model
 * taken from the body, lr_request_init_as already did).  When the body
 * cannot be read and some deny route could match whatever it says
 * (lr_decide_unknown, the body's features unknown), sets *d to that deny and
 * returns 1; else 0, *d untouched (the request goes on as decided).  One
 * function for every transport.
 */
int lr_request_guard(const lr_table *t, const lr_request *r, const char *body, size_t blen,
		     int unread, lr_decision *d);

#endif
