/*
 * lr_plan_xlate.h - the translation step of a plan: a routed request whose
 * target speaks another API format than the app (lr_plan.xtarget).
 *
 * After lr_plan_body (the model, overrides and system prefix, written in
 * the app's format), the body is translated into the target's format
 * (lr_xlate.h), and the plan's URL becomes the route's endpoint followed by
 * the target's operation path (its base split as lr_detect splits URLs:
 * "/messages" after ".../v1").  The app's query belongs to the app's API
 * and is not carried over.  Every transport and `llmroutectl explain` call
 * this one function, so a translated request is the same everywhere.
 */
#ifndef LR_PLAN_XLATE_H
#define LR_PLAN_XLATE_H
#include "lr_plan.h"
#include "lr_request.h"
#include "lr_xlate.h"

/* max_tokens written for a target that requires it (Anthropic) when the
 * app did not ask for a limit. */
#define LR_XLATE_MAX_TOKENS_DEFAULT 4096

/*
 * Translates body[0..len) (the app's format, after lr_plan_body) for plan
 * p (p->xtarget set, p->xapp not LR_XF_NONE) of request r.  Returns 0 with
 * *out filled (the caller frees it: lr_xlate_req_free), p->url replaced by
 * the target's URL and p->xstream, p->xusage, p->xgemini_array set;
 * LR_EINVAL when the target cannot honour the request (out->refusal says
 * why, in words for the app: answer it with lr_xlate_error_body, a 400);
 * LR_EPARSE (not a request of the app's format: out->refusal too);
 * LR_ENOMEM, LR_ETOOBIG.  On error p is unchanged.
 */
int lr_plan_xlate(lr_plan *p, const lr_request *r, const char *body, size_t len, lr_xlate_req *out);

/* The translation of an answer for plan p (after lr_plan_xlate): the
 * context lr_xlate_answer and the stream translator take.  model: the
 * target's (may be NULL). */
void lr_plan_xlate_ctx(const lr_plan *p, const char *model, lr_xlate_ctx *c);

/* Is a request header line named name[0..n) one the app's format owns
 * (anthropic-*, openai-*, x-goog-*), or one that a translated request must
 * not carry (Content-Type: the target's is added; Accept-Encoding: the
 * answer must come readable, to be translated)?  Credentials follow the
 * plan's rule, not this. */
int lr_plan_xlate_drops_header(const char *name, size_t n);

#endif
