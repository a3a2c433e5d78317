/*
 * lr_plan.h - turn a decision into the concrete request to send.
 *
 * Given the detected request and the matching route, the plan says: the
 * URL to use (endpoint swapped, model in the path replaced), the model to
 * write into the body, and what to do with credentials.  The credential
 * rule is the security core of llmroute: when the request leaves for a host
 * other than the one the app chose, the app's key is dropped unless the
 * route names a replacement (`api_key_env`) or says `keep_credentials`.
 * Transports (libcurl hooks, socket hooks, explain) apply the plan; none of
 * them decides anything on its own.
 */
#ifndef LR_PLAN_H
#define LR_PLAN_H
#include "lr_detect.h"
#include "lr_match.h"
#include "lr_request.h"

enum lr_cred {
	LR_CRED_KEEP,    /* send the app's auth headers as they are */
	LR_CRED_REPLACE, /* replace them with the value of key_env */
	LR_CRED_DROP,    /* remove them: the request goes to another host */
};

typedef struct {
	char *url;              /* new URL (malloc'ed) or NULL if unchanged; a
				 * credential in the query follows the header
				 * rule (lr_cred_is_key_param) */
	const char *model;      /* model to put in the body, or NULL */
	int model_in_path;      /* the model was rewritten in the URL instead */
	int endpoint;           /* the route names the endpoint: url says where
				 * the request goes, and nothing else may */
	int host_changed;       /* scheme, host or port differ from the app's */
	int cred;               /* enum lr_cred */
	const char *key_env;    /* the route's key variable, or NULL */
	const char *key;        /* LR_CRED_REPLACE: its value (not owned) */
	int key_missing;        /* key_env unset, empty or with control bytes:
				 * fell back (below) */
	const char *auth_header;/* header carrying the key for this format (the
				 * target's, when translated) */
	int auth_bearer;        /* value is "Bearer KEY" rather than "KEY" */
	/* translation between API formats (lr_plan_xlate.h): the route's
	 * endpoint speaks xtarget (LR_XF_*), the app xapp; xtarget 0: none */
	int xapp, xtarget;
	int xdrop;              /* drop what the target cannot honour (format_drop) */
	const char *xendpoint;  /* the endpoint the target's path goes after */
	int xstream, xusage;    /* set by lr_plan_xlate: the app asked for a stream
				 * (and its usage in it) */
	int xgemini_array;      /* a Gemini app's stream without alt=sse: a JSON array */
} lr_plan;

/* Reads an environment variable in the app's process (secure_getenv). */
typedef char *(*lr_getenv_fn)(const char *name);

/* Builds the plan for `url` (n bytes), detected as `d`, decided as `dec`
 * from table `t`.  `getkey` reads the route's key variable; if it is unset
 * the plan falls back to the safe rule (drop when the host changed, else
 * keep) before the URL is built, and sets key_missing.  getkey NULL means
 * "assume it is set" (explain).  Strings in the plan point into `t` or the
 * environment, except `url`.  Returns 0 or LR_ENOMEM.  Call lr_plan_free()
 * after. */
int lr_plan_make(const lr_table *t, const lr_decision *dec, const lr_detect *d,
		 const char *url, size_t n, lr_getenv_fn getkey, lr_plan *p);

void lr_plan_free(lr_plan *p);

/* A request target (path, '?', query; n bytes) without the query
 * parameters the credential rule of p (cred, host_changed) drops, for a
 * request sent somewhere without a plan's URL.  Returns the number dropped:
 * > 0 with a malloc'ed *out (*outlen bytes, NUL-terminated) the caller
 * frees, 0 (*out NULL: the target stays), or LR_ENOMEM. */
int lr_plan_strip_query(const lr_plan *p, const char *target, size_t n, char **out, size_t *outlen);


/*
 * The body to send for a routed request: the plan's model (unless it goes
 * in the URL), then the route's parameter overrides (set, cap), then its
 * system prefix, each touching nothing but its own member (lr_body.h).
 * A system prefix the body has no place for (Gemini, embeddings) is left
 * out.  Returns the number of changes: > 0 with a malloc'ed *out (and
 * *outlen) the caller frees, 0 when the body stays as it is (*out NULL),
 * or < 0 (the body cannot be rewritten: the transport then sends the
 * request unrouted).  A plan with a model and a body without a "model"
 * member is LR_ENOTFOUND, as lr_body_set_model.
 */
int lr_plan_body(const lr_table *t, const lr_decision *d, const lr_request *r, const lr_plan *p,
		 const char *body, size_t len, char **out, size_t *outlen);

/*
 * Decided but not applied.  A transport applies a route entirely or not at
 * all; when it cannot, the request goes out as the app made it and says
 * why with one of these (the audit's llmroute.not_applied, the log, the
 * counters, explain).
 */
enum lr_unapplied {
	LR_UNAPPLIED_NONE,        /* applied */
	LR_UNAPPLIED_TLS_HOST,    /* over TLS the host is fixed at the handshake */
	LR_UNAPPLIED_SOCKET_HOST, /* a plain connection not redirected at connect */
	LR_UNAPPLIED_BODY,        /* the body cannot be rewritten (not a JSON object, none) */
	LR_UNAPPLIED_REWRITE,     /* the request head cannot be rewritten */
	LR_UNAPPLIED_NOMEM,       /* out of memory */
	LR_UNAPPLIED_SCHEME,      /* libcurl: the app's URL has no scheme to keep */
	LR_UNAPPLIED_XLATE,       /* the route's format differs and this request's API
				   * (embeddings, legacy completions...) is not translated */
	LR_UNAPPLIED_XLATE_CURL,  /* libcurl: a translated transfer with CURLOPT_HEADER */
	LR_UNAPPLIED_GUARD,       /* a redacting route whose answer the shim cannot restore
				   * here (a stream, a resilient transfer, sockets and TLS) */
	LR_UNAPPLIED_N
};

/* How a request reaches the shim: what each can carry differs. */
enum lr_carrier {
	LR_CARRIER_CURL,          /* libcurl, easy or multi: the shim sets the URL */
	LR_CARRIER_SOCKET_MOVED,  /* a plain socket redirected at connect to the
				   * endpoint of the route that claims its host */
	LR_CARRIER_SOCKET,        /* a plain socket to the host the app chose */
	LR_CARRIER_TLS,           /* OpenSSL plaintext: the host is fixed */
};

/* Can `carrier` send plan p where it says on the app's own connection?
 * LR_UNAPPLIED_NONE, or the reason it cannot (a connection already made
 * cannot change its host; a redirected one goes where the claiming route
 * sends it).  The one place this is asked: where the connection cannot,
 * the shim's own client (shim/lr_serve.h) carries the request, and the
 * reason is reported only when that client cannot be used either. */
int lr_plan_carried(const lr_plan *p, int carrier);

/* The reason's code for the audit ("tls_cannot_move_host", ...), and one
 * sentence on what happened and what the user can do.  Static strings. */
const char *lr_unapplied_code(int why);
const char *lr_unapplied_advice(int why);

/* The edits every transport makes the same way.  lr_plan_host: the Host
 * value for the plan's URL ("host" or "host:port"), "" when it has none.
 * lr_plan_auth: for LR_CRED_REPLACE, the header that carries the route's
 * key and its value ("Bearer KEY" or "KEY"); returns the header name. */
void lr_plan_host(const lr_plan *p, char *out, size_t cap);
const char *lr_plan_auth(const lr_plan *p, char *value, size_t cap);

/* The reason for an lr_plan_body or rewrite error code. */
int lr_unapplied_of(int rc, int body);

#endif
