/*
 * lr_xlate_int.h - the neutral representation every format file reads into
 * and writes from, the JSON writer, and the per-format operations table.
 * Private to lr_xlate*.c.
 *
 * Strings in the representation are kept as raw JSON string tokens (quotes
 * and escapes as the input had them), so text goes from one format to the
 * other without being decoded; raw values (tool parameters, arguments
 * objects, schemas) are kept as the raw JSON value.  Spans point into the
 * caller's body or into the arena, which owns what was made (decoded
 * arguments, joined texts).  All spans were validated by lr_json.
 */
#ifndef LR_XLATE_INT_H
#define LR_XLATE_INT_H
#include "lr_error.h"
#include "lr_json.h"
#include "lr_xlate.h"

#include <stddef.h>

/* ---- arena -------------------------------------------------------------- */

typedef struct xblock xblock;
typedef struct {
	xblock *head;
	int err;           /* sticky LR_E* */
} xarena;

void *xa_alloc(xarena *a, size_t n);
void xa_free(xarena *a);
/* The raw string token of plain text p[0..n) (LR_EINVAL: not UTF-8). */
lr_span xa_encode(xarena *a, const char *p, size_t n);
/* The decoded text of a raw string token (NUL-terminated in the arena). */
lr_span xa_decode(xarena *a, lr_span tok);
/* One raw string token: the decoded texts of toks joined by sep. */
lr_span xa_join(xarena *a, const lr_span *toks, size_t n, const char *sep);
lr_span xa_lit(const char *s);  /* a span over a static C string */

/* ---- JSON writer -------------------------------------------------------- */

#define JW_DEPTH 32
typedef struct {
	lr_xbuf *b;
	int err;                    /* sticky LR_E* */
	int depth;
	unsigned char first[JW_DEPTH];
	char close[JW_DEPTH];
	int after_key;
} jw;

void jw_init(jw *w, lr_xbuf *b);
void jw_bytes(jw *w, const char *p, size_t n);  /* raw bytes, no comma logic */
void jw_obj(jw *w);
void jw_arr(jw *w);
void jw_end(jw *w);                 /* closes the innermost object or array */
void jw_key(jw *w, const char *k);  /* k is plain ASCII without escapes */
void jw_raw(jw *w, lr_span v);      /* a raw JSON value */
void jw_str(jw *w, const char *s);  /* a plain C string, encoded */
void jw_strn(jw *w, const char *p, size_t n);
void jw_int(jw *w, long long v);
void jw_bool(jw *w, int v);
void jw_null(jw *w);
/* key + value shorthands */
void jw_kraw(jw *w, const char *k, lr_span v);
void jw_kstr(jw *w, const char *k, const char *s);
void jw_kint(jw *w, const char *k, long long v);
/* Writes a raw string token's decoded text into a string being written by
 * jw_bytes (no quotes): used to build "data:...;base64,..." URLs. */
int xbuf_put(lr_xbuf *b, const char *p, size_t n);

/* ---- requests ----------------------------------------------------------- */

enum { XR_SYSTEM, XR_USER, XR_ASSISTANT, XR_TOOL };
enum { XP_TEXT, XP_IMAGE, XP_CALL, XP_RESULT, XP_REFUSAL };

typedef struct {
	int kind;
	lr_span text;      /* TEXT, REFUSAL: raw string token; RESULT: raw string token,
	                    * or a raw JSON value when result_json */
	int result_json;
	lr_span url;       /* IMAGE by URL: raw string token; empty for base64 */
	lr_span mime, data;/* IMAGE base64: plain bytes (mime type; base64 text) */
	lr_span id, name;  /* CALL, RESULT: raw string tokens (may be empty) */
	lr_span args;      /* CALL: raw JSON object */
	int is_error;      /* RESULT */
} xpart;

typedef struct {
	int role;
	size_t first, n;   /* parts [first, first + n) */
} xmsg;

typedef struct {
	lr_span name, desc, params;  /* raw string, raw string (opt), raw object (opt) */
} xtool;

enum { XTC_DEFAULT, XTC_AUTO, XTC_NONE, XTC_ANY, XTC_NAMED };

/* Features a target may not honour: one bit each, see lr_xlate.c's table. */
enum {
	XF_N = 1u << 0,           /* more than one choice */
	XF_LOGPROBS = 1u << 1,
	XF_TOP_K = 1u << 2,
	XF_SEED = 1u << 3,
	XF_PENALTIES = 1u << 4,   /* presence / frequency penalty */
	XF_LOGIT_BIAS = 1u << 5,
	XF_JSON_MODE = 1u << 6,   /* JSON output without a schema */
	XF_SCHEMA = 1u << 7,      /* JSON output with a schema */
	XF_STOP = 1u << 8,        /* stop sequences */
	XF_IMAGE_URL = 1u << 9,   /* an image by URL (not inline data) */
	XF_SERIAL_TOOLS = 1u << 10,/* parallel tool calls turned off */
	XF_TOOL_FORCE = 1u << 11, /* tool_choice required / a named tool */
	XF_REASONING = 1u << 12,  /* reasoning effort, thinking budgets */
	XF_BUILTIN_TOOL = 1u << 13,/* provider-run tools (web search, code, ...) */
	XF_FILE = 1u << 14,       /* documents, audio, files by id */
	XF_STATE = 1u << 15,      /* server-side conversation state */
	XF_SAFETY = 1u << 16,     /* Gemini safety settings */
	XF_RESULT_IMAGE = 1u << 17,/* an image inside a tool result */
	XF_CACHE_CTRL = 1u << 18, /* Anthropic cache_control, Gemini cachedContent */
};
#define XF_NFEATURES 19

typedef struct {
	lr_span model;               /* raw string token */
	xmsg *msgs;
	size_t nmsgs, capmsgs;
	xpart *parts;
	size_t nparts, capparts;
	xtool *tools;
	size_t ntools, captools;
	lr_span max_tokens, temperature, top_p, top_k, seed;  /* raw numbers */
	lr_span presence, frequency;
	lr_span stop[16];            /* raw string tokens */
	size_t nstop;
	int json;                    /* 0 text, 1 JSON mode, 2 schema */
	lr_span schema, schema_name; /* raw object, raw string */
	int tool_choice;             /* XTC_* */
	lr_span tool_choice_name;    /* raw string */
	int parallel;                /* -1 unset, 0 off, 1 on */
	int stream, include_usage;
	unsigned features;           /* XF_* asked */
	int n;                       /* choices asked (1 if unset) */
	xarena arena;
	char ignored[LR_XLATE_MAX_MSG];
	char why[256];  /* a parse problem worth telling the app */
} xreq;

xmsg *xr_msg(xreq *r, int role);       /* starts a message */
xpart *xr_part(xreq *r, int kind);     /* appends a part to the last message */
xtool *xr_tool(xreq *r);
void xr_ignore(xreq *r, lr_span key);  /* notes an unknown member */
/* Parses an OpenAI-style tool list / tool_choice (chat, Ollama). */
int xr_openai_tools(xreq *r, lr_span v, int nested);
int xr_openai_choice(xreq *r, lr_span v);
/* Parses an image data: URL into mime and data; 0 or LR_EPARSE. */
int xr_data_url(xarena *a, lr_span tok, lr_span *mime, lr_span *data);
/* Writes an image as an OpenAI-style URL string (data: URL for base64). */
void xw_image_url(jw *w, const xpart *p);
/* The args of a call as a JSON string token (OpenAI) or object. */
lr_span xr_args_string(xarena *a, lr_span obj);
/* Decodes a JSON-string arguments token into an object; LR_EINVAL if it is
 * not one JSON object ("" counts as {}). */
int xr_args_object(xarena *a, lr_span tok, lr_span *obj);

/* ---- answers ------------------------------------------------------------ */

enum { XFIN_NONE, XFIN_STOP, XFIN_LENGTH, XFIN_TOOL, XFIN_FILTER, XFIN_REFUSAL };

typedef struct {
	lr_span id, model;           /* raw string tokens, may be empty */
	xpart *parts;                /* TEXT, REFUSAL, CALL */
	size_t nparts, capparts;
	int finish;                  /* XFIN_* */
	long long in, out, cached, cache_write;  /* -1 unknown */
	xarena arena;
} xans;

xpart *xa_part(xans *a, int kind);

/* ---- errors ------------------------------------------------------------- */

enum { XE_INVALID, XE_AUTH, XE_PERMISSION, XE_NOT_FOUND, XE_TOO_LARGE, XE_RATE,
	XE_OVERLOADED, XE_SERVER, XE_TIMEOUT };

typedef struct {
	int cls;                     /* XE_* */
	lr_span message;             /* raw string token, may be empty */
	const char *plain;           /* or a plain message */
} xerr;

int xe_class_of_status(int status);
int xe_class_of_type(lr_span tok);   /* from a type/status/code string, -1 if unknown */

/* ---- streams ------------------------------------------------------------ */

typedef struct xtoolst {
	int used, open, done;
	long key;                    /* the target's index of the call */
	int app_index;               /* the app's index (OpenAI index, block index) */
	char id[128], name[256];     /* plain */
	lr_xbuf args;                /* decoded arguments text, when kept */
} xtoolst;

struct lr_xlate_stream {
	lr_xlate_ctx c;
	const struct xfmt *app, *tgt;
	lr_xbuf line, data;          /* unfinished line; data lines of the event */
	char event[64];
	int skipping;                /* inside an over-long line */
	int started, ended, dead, finished;
	int finish;                  /* XFIN_* */
	int has_tool, has_text;
	long long in, out, cached, cache_write;
	char id[128], model[256];
	xtoolst tools[LR_XLATE_MAX_TOOLS];
	int ntools;
	size_t held;                 /* bytes kept for the app's end */
	size_t events;
	/* app emitter state */
	int block, block_kind;       /* open content block (Anthropic, Responses), -1 none */
	int nblocks;                 /* blocks / output items opened */
	int chunks;                  /* events written (OpenAI role, Gemini commas, sequence) */
	lr_xbuf text;                /* the text so far (Responses app) */
	int text_item;               /* Responses: output index of the message item, -1 */
	/* target parser state */
	int tgt_block_tool[256];     /* Anthropic target: block index -> tool slot + 1 */
	int tgt_refusal;             /* Responses target: a refusal part is streaming */
	lr_xbuf *dst;                /* where this feed writes */
	int err;                     /* LR_E* from the output buffer */
};

typedef struct lr_xlate_stream xstream;

/* The neutral stream events the target parsers call. */
void xs_meta(xstream *s, lr_span id, lr_span model);   /* raw tokens, empty ignored */
void xs_usage(xstream *s, long long in, long long out, long long cached, long long write);
void xs_text(xstream *s, lr_span tok);                  /* raw string token */
void xs_refusal(xstream *s, lr_span tok);
xtoolst *xs_tool_begin(xstream *s, long key, lr_span id, lr_span name);
xtoolst *xs_tool_find(xstream *s, long key);
void xs_tool_args(xstream *s, xtoolst *t, lr_span v);   /* string fragment or object */
void xs_tool_end(xstream *s, xtoolst *t);
void xs_finish(xstream *s, int fin);
void xs_end(xstream *s);
void xs_fail(xstream *s, int cls, lr_span msg_tok, const char *plain);

/* Helpers shared by the emitters. */
void xs_write_sse(xstream *s, const char *event, lr_xbuf *data);
void xs_close_tools(xstream *s);     /* ends every open call (before the end) */
long long xs_num(lr_span v);         /* a JSON number as integer, -1 if not one */

/* ---- per-format operations ---------------------------------------------- */

typedef struct xfmt {
	int xf;
	const char *name;
	unsigned can;                /* XF_* the format honours */
	int ndjson;                  /* its stream is NDJSON, else SSE */
	int whole_args;              /* its stream carries whole argument objects */
	int (*req_parse)(xreq *r, lr_span body);
	int (*req_emit)(const xreq *r, const lr_xlate_opts *o, jw *w);
	int (*ans_parse)(xans *a, lr_span body);
	void (*ans_emit)(const xans *a, const lr_xlate_ctx *c, jw *w);
	int (*err_parse)(lr_span body, xerr *e);   /* 0 if the body had this shape */
	void (*err_emit)(const xerr *e, int status, jw *w);
	int (*app_status)(int cls);
	/* stream: parse one target event; write the app's events */
	void (*ev_parse)(xstream *s, const char *event, lr_span data);
	void (*st_text)(xstream *s, lr_span tok, int refusal);
	void (*st_tool_begin)(xstream *s, xtoolst *t);
	void (*st_tool_args)(xstream *s, xtoolst *t, lr_span frag);  /* raw string token */
	void (*st_tool_end)(xstream *s, xtoolst *t, lr_span args);   /* whole object if whole_args */
	void (*st_end)(xstream *s);
	void (*st_error)(xstream *s, const xerr *e);
} xfmt;

extern const xfmt lr_xf_openai, lr_xf_azure, lr_xf_responses, lr_xf_anthropic,
	lr_xf_gemini, lr_xf_ollama;

/* Shared between the OpenAI chat and Azure tables and Responses. */
int xo_err_parse(lr_span body, xerr *e);
void xo_err_emit(const xerr *e, int status, jw *w);
int xo_app_status(int cls);
const char *xe_openai_type(int cls);

/* Iteration shorthand: for each member of an object / element of an array. */
#define XOBJ(it, obj, k, v) \
	for (int it##_rc = lr_json_iter_init(&(it), (obj).p, (obj).len, 0); \
	     it##_rc == 0 && lr_json_obj_next(&(it), &(k), &(v)) == 1; )
#define XARR(it, arr, v) \
	for (int it##_rc = lr_json_arr_init(&(it), (arr).p, (arr).len, 0); \
	     it##_rc == 0 && lr_json_arr_next(&(it), &(v)) == 1; )

#define XEQ(k, lit) lr_json_str_eq((k), (lit))
#define XIS(v, t) (lr_json_type_of(v) == (t))
#define XSTR(v) XIS(v, LR_JSON_STRING)
#define XOBJP(v) XIS(v, LR_JSON_OBJECT)
#define XARRP(v) XIS(v, LR_JSON_ARRAY)
#define XNUM(v) XIS(v, LR_JSON_NUMBER)
#define XSET(v) ((v).p != NULL)

#endif
