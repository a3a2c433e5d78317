/*
 * lr_xlate.c - the format-neutral half of the translator (see lr_xlate.h):
 * the arena and JSON writer, the request driver (parse the app's format,
 * check what the target can honour, write the target's format, its path
 * and headers), the answer and error drivers, and the stream core (the
 * SSE / NDJSON reader on the target's side, the neutral events on which
 * every app format's emitter hangs).
 *
 * Nothing here knows a format's field names: those live in one file per
 * format, reached through the xfmt table.
 */
#include "lr_xlate_int.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffers and the arena ---------------------------------------------- */

void lr_xbuf_free(lr_xbuf *b)
{
	if (!b)
		return;
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Appends n bytes, keeping a NUL after them.  0, LR_ETOOBIG, LR_ENOMEM. */
int xbuf_put(lr_xbuf *b, const char *p, size_t n)
{
	size_t cap;
	char *q;

	if (n > LR_XLATE_MAX_OUT || b->len > LR_XLATE_MAX_OUT - n)
		return LR_ETOOBIG;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(q = realloc(b->p, cap)))
			return LR_ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

struct xblock {
	xblock *next;
	size_t size;
	max_align_t align[];
};

void *xa_alloc(xarena *a, size_t n)
{
	xblock *b;

	if (a->err || n > LR_XLATE_MAX_OUT) {
		a->err = a->err ? a->err : LR_ETOOBIG;
		return NULL;
	}
	if (!(b = malloc(sizeof(*b) + n + 1))) {
		a->err = LR_ENOMEM;
		return NULL;
	}
	b->next = a->head;
	b->size = n;
	a->head = b;
	return b->align;
}

void xa_free(xarena *a)
{
	xblock *b, *next;

	for (b = a->head; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
}

lr_span xa_lit(const char *s)
{
	lr_span v = {s, strlen(s)};
	return v;
}

lr_span xa_encode(xarena *a, const char *p, size_t n)
{
	lr_span none = {0};
	size_t cap = n * 6 + 3;
	char *out = xa_alloc(a, cap);
	int k;

	if (!out)
		return none;
	if ((k = lr_json_str_encode(p, n, out, cap)) < 0) {
		a->err = k;
		return none;
	}
	return (lr_span){out, (size_t)k};
}

lr_span xa_decode(xarena *a, lr_span tok)
{
	lr_span none = {0};
	char *out = xa_alloc(a, tok.len + 1);
	int k;

	if (!out)
		return none;
	if ((k = lr_json_str_decode(tok, out, tok.len + 1)) < 0) {
		a->err = LR_EPARSE;
		return none;
	}
	return (lr_span){out, (size_t)k};
}

lr_span xa_join(xarena *a, const lr_span *toks, size_t n, const char *sep)
{
	lr_span none = {0};
	size_t i, total = 0, sl = strlen(sep), o = 0;
	char *buf;

	for (i = 0; i < n; i++)
		total += toks[i].len + sl;
	if (!(buf = xa_alloc(a, total + 1)))
		return none;
	for (i = 0; i < n; i++) {
		if (i) {
			memcpy(buf + o, sep, sl);
			o += sl;
		}
		if (lr_json_str_decode(toks[i], buf + o, total + 1 - o) < 0) {
			a->err = LR_EPARSE;
			return none;
		}
		o += (size_t)lr_json_str_decode(toks[i], buf + o, total + 1 - o);
	}
	return xa_encode(a, buf, o);
}

/* ---- the JSON writer ---------------------------------------------------- */

void jw_init(jw *w, lr_xbuf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
	w->first[0] = 1;
}

void jw_bytes(jw *w, const char *p, size_t n)
{
	int rc;

	if (!w->err && (rc = xbuf_put(w->b, p, n)) < 0)
		w->err = rc;
}

/* The comma before a value or key, if it is not the first. */
static void jw_sep(jw *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (!w->first[w->depth])
		jw_bytes(w, ",", 1);
	w->first[w->depth] = 0;
}

static void jw_open(jw *w, char c)
{
	jw_sep(w);
	jw_bytes(w, &c, 1);
	if (w->depth + 1 >= JW_DEPTH) {
		w->err = LR_ETOOBIG;
		return;
	}
	w->first[++w->depth] = 1;
	w->close[w->depth] = c == '{' ? '}' : ']';
}

void jw_obj(jw *w) { jw_open(w, '{'); }
void jw_arr(jw *w) { jw_open(w, '['); }

void jw_end(jw *w)
{
	if (w->depth <= 0) {
		w->err = w->err ? w->err : LR_EINVAL;
		return;
	}
	jw_bytes(w, &w->close[w->depth], 1);
	w->depth--;
}

void jw_key(jw *w, const char *k)
{
	jw_sep(w);
	jw_bytes(w, "\"", 1);
	jw_bytes(w, k, strlen(k));
	jw_bytes(w, "\":", 2);
	w->after_key = 1;
}

void jw_raw(jw *w, lr_span v)
{
	jw_sep(w);
	if (!v.p) {
		jw_bytes(w, "null", 4);
		return;
	}
	jw_bytes(w, v.p, v.len);
}

void jw_strn(jw *w, const char *p, size_t n)
{
	char small[512], *tmp = small;
	size_t cap = n * 6 + 3;
	int k;

	jw_sep(w);
	if (cap > sizeof(small) && !(tmp = malloc(cap))) {
		w->err = LR_ENOMEM;
		return;
	}
	k = lr_json_str_encode(p, n, tmp, cap);
	if (k < 0)
		w->err = k;
	else
		jw_bytes(w, tmp, (size_t)k);
	if (tmp != small)
		free(tmp);
}

void jw_str(jw *w, const char *s) { jw_strn(w, s, strlen(s)); }

void jw_int(jw *w, long long v)
{
	char n[32];
	int k = snprintf(n, sizeof(n), "%lld", v);

	jw_sep(w);
	jw_bytes(w, n, (size_t)k);
}

void jw_bool(jw *w, int v)
{
	jw_sep(w);
	jw_bytes(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(jw *w)
{
	jw_sep(w);
	jw_bytes(w, "null", 4);
}

void jw_kraw(jw *w, const char *k, lr_span v) { jw_key(w, k); jw_raw(w, v); }
void jw_kstr(jw *w, const char *k, const char *s) { jw_key(w, k); jw_str(w, s); }
void jw_kint(jw *w, const char *k, long long v) { jw_key(w, k); jw_int(w, v); }

/* ---- the formats -------------------------------------------------------- */

static const xfmt *fmt_of(int xf)
{
	switch (xf) {
	case LR_XF_OPENAI: return &lr_xf_openai;
	case LR_XF_AZURE: return &lr_xf_azure;
	case LR_XF_RESPONSES: return &lr_xf_responses;
	case LR_XF_ANTHROPIC: return &lr_xf_anthropic;
	case LR_XF_GEMINI: return &lr_xf_gemini;
	case LR_XF_OLLAMA: return &lr_xf_ollama;
	}
	return NULL;
}

static const char *const fmt_names[LR_XF_COUNT] = {
	"none", "openai", "azure", "responses", "anthropic", "gemini", "ollama",
};

const char *lr_xlate_format_name(int xf)
{
	return xf > 0 && xf < LR_XF_COUNT ? fmt_names[xf] : "none";
}

int lr_xlate_format_from_name(const char *name)
{
	for (int i = 1; name && i < LR_XF_COUNT; i++)
		if (strcmp(name, fmt_names[i]) == 0)
			return i;
	return LR_XF_NONE;
}

int lr_xlate_format(int detect_format, const char *op)
{
	if (!op)
		return LR_XF_NONE;
	switch (detect_format) {
	case 1: /* LR_FMT_OPENAI */
		return strcmp(op, "chat") == 0 ? LR_XF_OPENAI :
			strcmp(op, "responses") == 0 ? LR_XF_RESPONSES : LR_XF_NONE;
	case 2: /* LR_FMT_AZURE */
		return strcmp(op, "chat") == 0 ? LR_XF_AZURE : LR_XF_NONE;
	case 3: /* LR_FMT_ANTHROPIC */
		return strcmp(op, "messages") == 0 || strcmp(op, "chat") == 0 ? LR_XF_ANTHROPIC : LR_XF_NONE;
	case 4: /* LR_FMT_GEMINI */
		return strcmp(op, "generate") == 0 ? LR_XF_GEMINI : LR_XF_NONE;
	case 5: /* LR_FMT_OLLAMA */
		return strcmp(op, "chat") == 0 ? LR_XF_OLLAMA : LR_XF_NONE;
	}
	return LR_XF_NONE;
}

const char *lr_xlate_content_type(int app, int stream)
{
	if (!stream)
		return "application/json";
	return app == LR_XF_OLLAMA ? "application/x-ndjson" : "text/event-stream";
}

/* ---- requests: the representation -------------------------------------- */

#define GROW(arr, n, cap, fail) do { \
	if ((n) == (cap)) { \
		size_t nc_ = (cap) ? (cap) * 2 : 8; \
		void *np_ = realloc((arr), nc_ * sizeof(*(arr))); \
		if (!np_) { fail; } \
		(arr) = np_; \
		(cap) = nc_; \
	} \
} while (0)

xmsg *xr_msg(xreq *r, int role)
{
	xmsg *m;

	GROW(r->msgs, r->nmsgs, r->capmsgs, r->arena.err = LR_ENOMEM; return NULL);
	m = &r->msgs[r->nmsgs++];
	m->role = role;
	m->first = r->nparts;
	m->n = 0;
	return m;
}

xpart *xr_part(xreq *r, int kind)
{
	static xpart sink;
	xpart *p;

	if (!r->nmsgs)
		return memset(&sink, 0, sizeof(sink));
	GROW(r->parts, r->nparts, r->capparts,
		r->arena.err = LR_ENOMEM; return memset(&sink, 0, sizeof(sink)));
	p = &r->parts[r->nparts++];
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	r->msgs[r->nmsgs - 1].n++;
	return p;
}

xtool *xr_tool(xreq *r)
{
	static xtool sink;
	xtool *t;

	GROW(r->tools, r->ntools, r->captools,
		r->arena.err = LR_ENOMEM; return memset(&sink, 0, sizeof(sink)));
	t = &r->tools[r->ntools++];
	memset(t, 0, sizeof(*t));
	return t;
}

xpart *xa_part(xans *a, int kind)
{
	static xpart sink;
	xpart *p;

	GROW(a->parts, a->nparts, a->capparts,
		a->arena.err = LR_ENOMEM; return memset(&sink, 0, sizeof(sink)));
	p = &a->parts[a->nparts++];
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	return p;
}

/* Appends ", word" (or "word") to a message buffer, cut at its size. */
static void note(char *buf, const char *word, size_t wn)
{
	size_t l = strlen(buf);

	if (l + wn + 3 >= LR_XLATE_MAX_MSG)
		return;
	if (l) {
		memcpy(buf + l, ", ", 2);
		l += 2;
	}
	memcpy(buf + l, word, wn);
	buf[l + wn] = '\0';
}

void xr_ignore(xreq *r, lr_span key)
{
	if (key.len >= 2 && key.len < 64)
		note(r->ignored, key.p + 1, key.len - 2);
}

int xr_data_url(xarena *a, lr_span tok, lr_span *mime, lr_span *data)
{
	lr_span s = xa_decode(a, tok);
	const char *comma, *semi;

	if (!s.p || s.len < 5 || memcmp(s.p, "data:", 5) != 0)
		return LR_EPARSE;
	comma = memchr(s.p, ',', s.len);
	if (!comma)
		return LR_EPARSE;
	semi = memchr(s.p, ';', (size_t)(comma - s.p));
	if (!semi || (size_t)(comma - semi) != 7 || memcmp(semi, ";base64", 7) != 0)
		return LR_EPARSE;
	mime->p = s.p + 5;
	mime->len = (size_t)(semi - mime->p);
	data->p = comma + 1;
	data->len = s.len - (size_t)(data->p - s.p);
	for (size_t i = 0; i < mime->len; i++)
		if ((unsigned char)mime->p[i] < 0x20 || mime->p[i] == '"' || mime->p[i] == '\\')
			return LR_EPARSE;
	for (size_t i = 0; i < data->len; i++) {
		char c = data->p[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || c == '=' || c == '-' || c == '_'))
			return LR_EPARSE;
	}
	return 0;
}

void xw_image_url(jw *w, const xpart *p)
{
	if (XSET(p->url)) {
		jw_raw(w, p->url);
		return;
	}
	jw_raw(w, xa_lit("\"data:"));
	/* jw_raw wrote the comma; the rest of the token is raw bytes */
	jw_bytes(w, p->mime.p, p->mime.len);
	jw_bytes(w, ";base64,", 8);
	jw_bytes(w, p->data.p, p->data.len);
	jw_bytes(w, "\"", 1);
}

lr_span xr_args_string(xarena *a, lr_span obj)
{
	return xa_encode(a, obj.p, obj.len);
}

int xr_args_object(xarena *a, lr_span tok, lr_span *obj)
{
	lr_span d = xa_decode(a, tok);
	size_t pos = 0;
	int rc;

	if (!d.p)
		return a->err ? a->err : LR_EINVAL;
	if ((rc = lr_json_skip_ws(d.p, d.len, 0)) >= 0 && (size_t)rc == d.len) {
		*obj = xa_lit("{}");
		return 0;
	}
	if (lr_json_skip_value(d.p, d.len, &pos) < 0 || lr_json_skip_ws(d.p, d.len, pos) != (int)d.len)
		return LR_EINVAL;
	rc = lr_json_skip_ws(d.p, d.len, 0);
	if (d.p[rc] != '{')
		return LR_EINVAL;
	obj->p = d.p + rc;
	obj->len = pos - (size_t)rc;
	return 0;
}

/* OpenAI-style {"type":"function","function":{name, description,
 * parameters}} tools (nested), or Responses' flat {"type":"function",
 * name, ...}. */
int xr_openai_tools(xreq *r, lr_span v, int nested)
{
	lr_json_iter it, it2;
	lr_span t, k, x;

	if (!XARRP(v))
		return LR_EPARSE;
	XARR(it, v, t) {
		lr_span fn = t, type = lr_json_member(t, "type");
		xtool *tool;

		if (!XOBJP(t))
			return LR_EPARSE;
		if (XSET(type) && !XEQ(type, "function")) {
			r->features |= XF_BUILTIN_TOOL;
			continue;
		}
		if (nested)
			fn = lr_json_member(t, "function");
		if (!XOBJP(fn))
			return LR_EPARSE;
		tool = xr_tool(r);
		XOBJ(it2, fn, k, x) {
			if (XEQ(k, "name") && XSTR(x))
				tool->name = x;
			else if (XEQ(k, "description") && XSTR(x))
				tool->desc = x;
			else if (XEQ(k, "parameters") && XOBJP(x))
				tool->params = x;
		}
		if (!XSET(tool->name))
			return LR_EPARSE;
	}
	return 0;
}

/* "none" | "auto" | "required" | {"type":"function","function":{"name"}}
 * (or Responses' {"type":"function","name"}). */
int xr_openai_choice(xreq *r, lr_span v)
{
	lr_span fn, name;

	if (XSTR(v)) {
		r->tool_choice = XEQ(v, "none") ? XTC_NONE : XEQ(v, "required") ? XTC_ANY : XTC_AUTO;
		if (r->tool_choice == XTC_ANY)
			r->features |= XF_TOOL_FORCE;
		return 0;
	}
	if (!XOBJP(v))
		return LR_EPARSE;
	fn = lr_json_member(v, "function");
	name = XOBJP(fn) ? lr_json_member(fn, "name") : lr_json_member(v, "name");
	if (!XSTR(name))
		return LR_EPARSE;
	r->tool_choice = XTC_NAMED;
	r->tool_choice_name = name;
	r->features |= XF_TOOL_FORCE;
	return 0;
}

static int span_same(lr_span a, lr_span b)
{
	return a.len == b.len && a.p && b.p && memcmp(a.p, b.p, a.len) == 0;
}

/* Gives calls without an id one ("call_N") and pairs results without an
 * id or a name with the call they answer, by name or by id (Gemini and
 * Ollama name calls; OpenAI and Anthropic number them). */
static void fix_calls(xreq *r)
{
	char id[32];
	size_t i, j, lo, k = 0;

	for (i = 0; i < r->nparts; i++) {
		xpart *p = &r->parts[i];

		if (p->kind == XP_CALL && !XSET(p->id)) {
			snprintf(id, sizeof(id), "call_%zu", k++);
			p->id = xa_encode(&r->arena, id, strlen(id));
		}
		if (p->kind != XP_RESULT || (XSET(p->id) && XSET(p->name)))
			continue;
		lo = i > 1024 ? i - 1024 : 0;
		for (j = i; j-- > lo;) {
			xpart *c = &r->parts[j];
			if (c->kind != XP_CALL)
				continue;
			if (!XSET(p->id) && XSET(p->name) && span_same(c->name, p->name)) {
				p->id = c->id;
				break;
			}
			if (XSET(p->id) && span_same(c->id, p->id)) {
				p->name = c->name;
				break;
			}
		}
		if (!XSET(p->id))
			p->id = xa_lit("\"call_unknown\"");
		if (!XSET(p->name))
			p->name = xa_lit("\"unknown\"");
	}
}

/* ---- requests: capabilities --------------------------------------------- */

static const char *const feature_names[XF_NFEATURES] = {
	"n > 1 (several choices)", "logprobs", "top_k", "seed",
	"presence/frequency penalties", "logit_bias", "JSON mode", "a JSON response schema",
	"stop sequences", "an image by URL", "parallel_tool_calls false",
	"a forced tool choice", "reasoning / thinking settings",
	"provider-run tools (search, code, files)", "documents, audio or files",
	"server-side conversation state (previous_response_id, cachedContent)",
	"safety settings", "an image in a tool result", "cache_control",
};

/* Clears in r what drop says the target cannot take. */
static void drop_features(xreq *r, unsigned drop)
{
	if (drop & XF_N)
		r->n = 1;
	if (drop & XF_TOP_K)
		r->top_k = (lr_span){0};
	if (drop & XF_SEED)
		r->seed = (lr_span){0};
	if (drop & XF_PENALTIES)
		r->presence = r->frequency = (lr_span){0};
	if (drop & (XF_JSON_MODE | XF_SCHEMA))
		r->json = 0;
	if (drop & XF_STOP)
		r->nstop = 0;
	if (drop & XF_SERIAL_TOOLS)
		r->parallel = -1;
	if (drop & XF_TOOL_FORCE)
		r->tool_choice = XTC_AUTO;
	for (size_t i = 0; (drop & XF_IMAGE_URL) && i < r->nparts; i++)
		if (r->parts[i].kind == XP_IMAGE && XSET(r->parts[i].url))
			r->parts[i].kind = -1;
}

static int check_features(xreq *r, const lr_xlate_opts *o, const xfmt *app,
	const xfmt *tgt, lr_xlate_req *out)
{
	unsigned missing = r->features & ~tgt->can;

	if ((tgt->xf == LR_XF_OPENAI || tgt->xf == LR_XF_AZURE) && r->nstop > 4)
		missing |= XF_STOP;
	if (!missing)
		return 0;
	for (int i = 0; i < XF_NFEATURES; i++) {
		if (!(missing & (1u << i)))
			continue;
		if (o->flags & LR_XLATE_DROP) {
			note(out->dropped, feature_names[i], strlen(feature_names[i]));
			continue;
		}
		snprintf(out->refusal, sizeof(out->refusal),
			"llmroute cannot translate this %s request to the %s API: %s%s is not supported there",
			app->name, tgt->name, feature_names[i],
			(tgt->xf == LR_XF_OPENAI || tgt->xf == LR_XF_AZURE) && i == 8 ? " (more than 4)" : "");
		return LR_EINVAL;
	}
	drop_features(r, missing);
	return 0;
}

/* ---- requests: path and headers ----------------------------------------- */

/* Writes the model decoded (at most 255 bytes, no '/', '?', '#', ':'). */
static int model_plain(xarena *a, lr_span tok, char *out, size_t cap)
{
	lr_span d = xa_decode(a, tok);

	if (!d.p || d.len == 0 || d.len >= cap)
		return LR_EINVAL;
	for (size_t i = 0; i < d.len; i++)
		if (d.p[i] == '/' || d.p[i] == '?' || d.p[i] == '#' || (unsigned char)d.p[i] <= ' ' ||
		    d.p[i] == '%' || d.p[i] == '\\' || (unsigned char)d.p[i] >= 0x7f)
			return LR_EINVAL;
	memcpy(out, d.p, d.len);
	out[d.len] = '\0';
	return 0;
}

static int make_path(xreq *r, const lr_xlate_opts *o, lr_xlate_req *out)
{
	char model[256];
	const char *v = o->azure_api_version ? o->azure_api_version : "2024-10-21";
	int n = 0;

	switch (o->target) {
	case LR_XF_OPENAI:
		n = snprintf(out->path, sizeof(out->path), "/v1/chat/completions");
		out->op_off = 3;
		break;
	case LR_XF_RESPONSES:
		n = snprintf(out->path, sizeof(out->path), "/v1/responses");
		out->op_off = 3;
		break;
	case LR_XF_ANTHROPIC:
		n = snprintf(out->path, sizeof(out->path), "/v1/messages");
		out->op_off = 3;
		out->headers[out->nheaders++] = (lr_xlate_header){"anthropic-version", "2023-06-01"};
		break;
	case LR_XF_OLLAMA:
		n = snprintf(out->path, sizeof(out->path), "/api/chat");
		out->op_off = 0;
		break;
	case LR_XF_GEMINI:
	case LR_XF_AZURE:
		if (model_plain(&r->arena, r->model, model, sizeof(model)) < 0) {
			snprintf(out->refusal, sizeof(out->refusal),
				"llmroute cannot translate this request to the %s API: no usable model name for its URL",
				lr_xlate_format_name(o->target));
			return LR_EINVAL;
		}
		for (const char *c = v; *c; c++)
			if (*c == '&' || *c == '#' || (unsigned char)*c <= ' ')
				return LR_EINVAL;
		if (o->target == LR_XF_GEMINI) {
			n = snprintf(out->path, sizeof(out->path), "/v1beta/models/%s:%s", model,
				r->stream ? "streamGenerateContent?alt=sse" : "generateContent");
			out->op_off = 7;
		} else {
			n = snprintf(out->path, sizeof(out->path),
				"/openai/deployments/%s/chat/completions?api-version=%s", model, v);
			out->op_off = 0;
		}
		break;
	default:
		return LR_EINVAL;
	}
	if (n < 0 || (size_t)n >= sizeof(out->path))
		return LR_ETOOBIG;
	out->headers[out->nheaders++] = (lr_xlate_header){"content-type", "application/json"};
	return 0;
}

/* ---- requests: the driver ----------------------------------------------- */

static void xreq_free(xreq *r)
{
	free(r->msgs);
	free(r->parts);
	free(r->tools);
	xa_free(&r->arena);
}

void lr_xlate_req_free(lr_xlate_req *r)
{
	if (r)
		lr_xbuf_free(&r->body);
}

/* The model, max_tokens default and the checks every target shares. */
static int settle(xreq *r, const lr_xlate_opts *o, const xfmt *app, const xfmt *tgt,
	lr_xlate_req *out)
{
	char n[32];

	if (o->model && *o->model)
		r->model = xa_encode(&r->arena, o->model, strlen(o->model));
	if (!XSET(r->model) && tgt->xf != LR_XF_GEMINI && tgt->xf != LR_XF_AZURE)
		r->model = xa_lit("\"\"");
	if (r->n > 1)
		r->features |= XF_N;
	if (tgt->xf == LR_XF_ANTHROPIC && !XSET(r->max_tokens)) {
		if (o->max_tokens_default <= 0) {
			snprintf(out->refusal, sizeof(out->refusal),
				"llmroute cannot translate this %s request to the anthropic API: it needs max_tokens",
				app->name);
			return LR_EINVAL;
		}
		snprintf(n, sizeof(n), "%ld", o->max_tokens_default);
		r->max_tokens = xa_encode(&r->arena, n, strlen(n));
		r->max_tokens.p++;  /* the digits, without the quotes */
		r->max_tokens.len -= 2;
	}
	if (!r->nmsgs) {
		snprintf(out->refusal, sizeof(out->refusal),
			"llmroute cannot translate this %s request: it has no messages", app->name);
		return LR_EINVAL;
	}
	return check_features(r, o, app, tgt, out);
}

int lr_xlate_request(const lr_xlate_opts *o, const char *body, size_t len, lr_xlate_req *out)
{
	const xfmt *app, *tgt;
	xreq r;
	jw w;
	int rc;

	if (!out)
		return LR_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!o || !body || !(app = fmt_of(o->app)) || !(tgt = fmt_of(o->target)))
		return LR_EINVAL;
	if (len > LR_XLATE_MAX_IN)
		return LR_ETOOBIG;
	memset(&r, 0, sizeof(r));
	r.parallel = -1;
	r.n = 1;
	r.stream = o->app == LR_XF_GEMINI && o->app_stream_in_path;
	rc = app->req_parse(&r, (lr_span){body, len});
	if (rc >= 0 && r.arena.err)
		rc = r.arena.err;
	if (rc < 0) {
		if (rc == LR_EINVAL || rc == LR_EPARSE)
			snprintf(out->refusal, sizeof(out->refusal),
				"llmroute cannot translate this %s request%s%s", app->name,
				r.why[0] ? ": " : " (not a valid request body)", r.why);
		goto out;
	}
	fix_calls(&r);
	if ((rc = settle(&r, o, app, tgt, out)) < 0 || (rc = make_path(&r, o, out)) < 0)
		goto out;
	out->stream = r.stream;
	out->include_usage = app->xf == LR_XF_OPENAI || app->xf == LR_XF_AZURE ? r.include_usage : 1;
	memcpy(out->ignored, r.ignored, sizeof(out->ignored));
	jw_init(&w, &out->body);
	rc = tgt->req_emit(&r, o, &w);
	if (rc >= 0)
		rc = w.err ? w.err : r.arena.err;
	if (rc == LR_EINVAL && !out->refusal[0])
		snprintf(out->refusal, sizeof(out->refusal),
			"llmroute cannot translate this %s request to the %s API%s%s", app->name,
			tgt->name, r.why[0] ? ": " : "", r.why);
out:
	if (rc < 0) {
		lr_xbuf_free(&out->body);
		out->nheaders = 0;
		out->path[0] = '\0';
	}
	xreq_free(&r);
	return rc < 0 ? rc : 0;
}

/* ---- answers and errors ------------------------------------------------- */

int xe_class_of_status(int status)
{
	switch (status) {
	case 400: case 422: return XE_INVALID;
	case 401: return XE_AUTH;
	case 403: return XE_PERMISSION;
	case 404: return XE_NOT_FOUND;
	case 408: case 504: return XE_TIMEOUT;
	case 413: return XE_TOO_LARGE;
	case 429: return XE_RATE;
	case 503: case 529: return XE_OVERLOADED;
	}
	return status >= 500 || status < 400 ? XE_SERVER : XE_INVALID;
}

int xe_class_of_type(lr_span t)
{
	static const struct { const char *name; int cls; } m[] = {
		{"invalid_request_error", XE_INVALID}, {"INVALID_ARGUMENT", XE_INVALID},
		{"FAILED_PRECONDITION", XE_INVALID}, {"authentication_error", XE_AUTH},
		{"UNAUTHENTICATED", XE_AUTH}, {"invalid_api_key", XE_AUTH},
		{"permission_error", XE_PERMISSION}, {"PERMISSION_DENIED", XE_PERMISSION},
		{"not_found_error", XE_NOT_FOUND}, {"NOT_FOUND", XE_NOT_FOUND},
		{"model_not_found", XE_NOT_FOUND}, {"request_too_large", XE_TOO_LARGE},
		{"rate_limit_error", XE_RATE}, {"rate_limit_exceeded", XE_RATE},
		{"RESOURCE_EXHAUSTED", XE_RATE}, {"insufficient_quota", XE_RATE},
		{"overloaded_error", XE_OVERLOADED}, {"UNAVAILABLE", XE_OVERLOADED},
		{"service_unavailable", XE_OVERLOADED}, {"api_error", XE_SERVER},
		{"INTERNAL", XE_SERVER}, {"server_error", XE_SERVER},
		{"DEADLINE_EXCEEDED", XE_TIMEOUT}, {"timeout_error", XE_TIMEOUT},
	};
	for (size_t i = 0; XSTR(t) && i < sizeof(m) / sizeof(m[0]); i++)
		if (lr_json_str_eq(t, m[i].name))
			return m[i].cls;
	return -1;
}

int lr_xlate_error_body(int app, int status, const char *message, lr_xbuf *out)
{
	const xfmt *f = fmt_of(app);
	xerr e = {xe_class_of_status(status), {0}, message ? message : ""};
	jw w;

	if (!f || !out)
		return LR_EINVAL;
	jw_init(&w, out);
	f->err_emit(&e, status, &w);
	return w.err;
}

int lr_xlate_error(const lr_xlate_ctx *c, int status, const char *body, size_t len,
	lr_xbuf *out, int *app_status)
{
	const xfmt *app = fmt_of(c->app), *tgt = fmt_of(c->target);
	lr_span b = {body ? body : "", body ? len : 0};
	xerr e = {xe_class_of_status(status), {0}, NULL};
	char plain[96];
	jw w;

	if (!app || !tgt)
		return LR_EINVAL;
	if (len > LR_XLATE_MAX_IN || tgt->err_parse(b, &e) != 0 || (!XSET(e.message) && !e.plain)) {
		e.cls = xe_class_of_status(status);
		e.message = (lr_span){0};
		snprintf(plain, sizeof(plain), "the %s upstream answered HTTP %d", tgt->name, status);
		e.plain = plain;
	}
	*app_status = app->app_status(e.cls);
	jw_init(&w, out);
	app->err_emit(&e, *app_status, &w);
	return w.err;
}

int lr_xlate_answer(const lr_xlate_ctx *c, int status, const char *body, size_t len,
	lr_xbuf *out, int *app_status)
{
	const xfmt *app = fmt_of(c->app), *tgt = fmt_of(c->target);
	size_t mark = out ? out->len : 0;
	xans a;
	jw w;
	int rc;

	if (!app || !tgt || !out || !app_status)
		return LR_EINVAL;
	if (status >= 400 || status < 200)
		return lr_xlate_error(c, status, body, len, out, app_status);
	memset(&a, 0, sizeof(a));
	a.in = a.out = a.cached = a.cache_write = -1;
	rc = len > LR_XLATE_MAX_IN || !body ? LR_ETOOBIG : tgt->ans_parse(&a, (lr_span){body, len});
	if (rc >= 0 && a.arena.err)
		rc = a.arena.err;
	if (rc >= 0 && !XSET(a.model) && c->model && *c->model)
		a.model = xa_encode(&a.arena, c->model, strlen(c->model));
	if (rc >= 0) {
		jw_init(&w, out);
		app->ans_emit(&a, c, &w);
		rc = w.err ? w.err : a.arena.err;
		*app_status = 200;
	}
	free(a.parts);
	xa_free(&a.arena);
	if (rc == LR_ENOMEM || (rc == LR_ETOOBIG && len <= LR_XLATE_MAX_IN))
		return rc;
	if (rc < 0) {
		out->len = mark;
		if (out->p)
			out->p[mark] = '\0';
		*app_status = 502;
		rc = lr_xlate_error_body(c->app, 502, rc == LR_EINVAL ?
			"llmroute could not translate the upstream's answer (tool call arguments are not a JSON object)" :
			"llmroute could not translate the upstream's answer (not an answer of its API)", out);
		return rc < 0 ? rc : 1;
	}
	return 0;
}

/* ---- streams: the core -------------------------------------------------- */

long long xs_num(lr_span v)
{
	double d;

	if (!XNUM(v) || lr_json_num(v, &d) < 0 || d < 0 || d > 9e15)
		return -1;
	return (long long)d;
}

lr_xlate_stream *lr_xlate_stream_new(const lr_xlate_ctx *c)
{
	lr_xlate_stream *s;

	if (!c || !fmt_of(c->app) || !fmt_of(c->target) || !(s = calloc(1, sizeof(*s))))
		return NULL;
	s->c = *c;
	s->c.model = NULL;
	s->app = fmt_of(c->app);
	s->tgt = fmt_of(c->target);
	s->in = s->out = s->cached = s->cache_write = -1;
	s->block = -1;
	s->text_item = -1;
	if (c->model && strlen(c->model) < sizeof(s->model))
		strcpy(s->model, c->model);
	return s;
}

void lr_xlate_stream_free(lr_xlate_stream *s)
{
	if (!s)
		return;
	lr_xbuf_free(&s->line);
	lr_xbuf_free(&s->data);
	lr_xbuf_free(&s->text);
	for (int i = 0; i < s->ntools; i++)
		lr_xbuf_free(&s->tools[i].args);
	free(s);
}

size_t lr_xlate_stream_events(const lr_xlate_stream *s)
{
	return s ? s->events : 0;
}

/* Copies a raw string token, decoded, into a fixed buffer (cut if long). */
static void plain_into(lr_span tok, char *dst, size_t cap)
{
	char tmp[512];
	int n;

	if (!XSTR(tok) || tok.len >= sizeof(tmp))
		return;
	n = lr_json_str_decode(tok, tmp, sizeof(tmp));
	if (n <= 0 || (size_t)n >= cap || memchr(tmp, 0, (size_t)n))
		return;
	memcpy(dst, tmp, (size_t)n + 1);
}

void xs_meta(xstream *s, lr_span id, lr_span model)
{
	if (XSET(id))
		plain_into(id, s->id, sizeof(s->id));
	if (XSET(model))
		plain_into(model, s->model, sizeof(s->model));
}

void xs_usage(xstream *s, long long in, long long out, long long cached, long long write)
{
	if (in >= 0)
		s->in = in;
	if (out >= 0)
		s->out = out;
	if (cached >= 0)
		s->cached = cached;
	if (write >= 0)
		s->cache_write = write;
}

/* A content delta: an empty text after the first changes nothing. */
void xs_text(xstream *s, lr_span tok)
{
	if (s->dead || s->ended || !XSTR(tok))
		return;
	if (tok.len <= 2 && s->has_text)
		return;
	s->has_text = 1;
	s->app->st_text(s, tok, 0);
}

void xs_refusal(xstream *s, lr_span tok)
{
	if (s->dead || s->ended || !XSTR(tok) || tok.len <= 2)
		return;
	s->has_text = 1;
	if (s->finish == XFIN_NONE)
		s->finish = XFIN_REFUSAL;
	s->app->st_text(s, tok, 1);
}

xtoolst *xs_tool_find(xstream *s, long key)
{
	for (int i = 0; i < s->ntools; i++)
		if (s->tools[i].key == key && !s->tools[i].done)
			return &s->tools[i];
	return NULL;
}

xtoolst *xs_tool_begin(xstream *s, long key, lr_span id, lr_span name)
{
	xtoolst *t;
	char gen[32];

	if (s->dead || s->ended)
		return NULL;
	if (s->ntools >= LR_XLATE_MAX_TOOLS) {
		xs_fail(s, XE_SERVER, (lr_span){0}, "llmroute: too many tool calls in one streamed answer");
		return NULL;
	}
	t = &s->tools[s->ntools];
	memset(t, 0, sizeof(*t));
	t->used = t->open = 1;
	t->key = key;
	t->app_index = s->ntools++;
	plain_into(id, t->id, sizeof(t->id));
	plain_into(name, t->name, sizeof(t->name));
	if (!t->id[0]) {
		snprintf(gen, sizeof(gen), "call_%d", t->app_index);
		strcpy(t->id, gen);
	}
	s->has_tool = 1;
	if (!s->app->whole_args)
		s->app->st_tool_begin(s, t);
	return t;
}

/* Keeps decoded argument text for an app that needs it whole. */
static void hold_args(xstream *s, xtoolst *t, const char *p, size_t n)
{
	if (s->held + n > LR_XLATE_MAX_HOLD) {
		xs_fail(s, XE_SERVER, (lr_span){0}, "llmroute: a streamed tool call is too large to translate");
		return;
	}
	s->held += n;
	if (xbuf_put(&t->args, p, n) < 0)
		xs_fail(s, XE_SERVER, (lr_span){0}, "llmroute: out of memory translating a stream");
}

void xs_tool_args(xstream *s, xtoolst *t, lr_span v)
{
	xarena a = {0};
	lr_span d;

	if (!t || s->dead || s->ended || !t->open)
		return;
	if (XSTR(v)) {
		if (s->app->whole_args || s->app->xf == LR_XF_RESPONSES) {
			d = xa_decode(&a, v);
			if (d.p)
				hold_args(s, t, d.p, d.len);
		}
		if (!s->app->whole_args && v.len > 2)
			s->app->st_tool_args(s, t, v);
	} else if (XOBJP(v)) {
		if (s->app->whole_args || s->app->xf == LR_XF_RESPONSES)
			hold_args(s, t, v.p, v.len);
		if (!s->app->whole_args) {
			d = xa_encode(&a, v.p, v.len);
			if (d.p)
				s->app->st_tool_args(s, t, d);
		}
	}
	xa_free(&a);
}

void xs_tool_end(xstream *s, xtoolst *t)
{
	xarena a = {0};
	lr_span obj = xa_lit("{}");
	lr_span tok;

	if (!t || !t->open || s->dead)
		return;
	t->open = 0;
	t->done = 1;
	if (s->app->whole_args) {
		if (t->args.len) {
			tok = xa_encode(&a, t->args.p, t->args.len);
			if (!tok.p || xr_args_object(&a, tok, &obj) < 0) {
				xa_free(&a);
				xs_fail(s, XE_SERVER, (lr_span){0},
					"llmroute: the upstream's tool call arguments are not a JSON object");
				return;
			}
		}
		s->app->st_tool_end(s, t, obj);
	} else {
		s->app->st_tool_end(s, t, (lr_span){0});
	}
	xa_free(&a);
}

void xs_close_tools(xstream *s)
{
	for (int i = 0; i < s->ntools && !s->dead; i++)
		if (s->tools[i].open)
			xs_tool_end(s, &s->tools[i]);
}

void xs_finish(xstream *s, int fin)
{
	if (fin != XFIN_NONE && s->finish != XFIN_REFUSAL)
		s->finish = fin;
}

void xs_end(xstream *s)
{
	if (s->dead || s->ended)
		return;
	xs_close_tools(s);
	if (s->dead)
		return;
	if (s->finish == XFIN_NONE || (s->finish == XFIN_STOP && s->has_tool))
		s->finish = s->has_tool ? XFIN_TOOL : XFIN_STOP;
	s->ended = 1;
	s->app->st_end(s);
}

void xs_fail(xstream *s, int cls, lr_span msg, const char *plain)
{
	xerr e = {cls, msg, plain};

	if (s->dead || s->ended)
		return;
	if (!XSET(msg) && !plain)
		e.plain = "llmroute: the upstream stream could not be translated";
	s->dead = 1;
	s->app->st_error(s, &e);
}

void xs_write_sse(xstream *s, const char *event, lr_xbuf *data)
{
	int rc = 0;

	s->events++;
	if (event) {
		rc |= xbuf_put(s->dst, "event: ", 7);
		rc |= xbuf_put(s->dst, event, strlen(event));
		rc |= xbuf_put(s->dst, "\n", 1);
	}
	rc |= xbuf_put(s->dst, "data: ", 6);
	rc |= xbuf_put(s->dst, data->p ? data->p : "", data->len);
	rc |= xbuf_put(s->dst, "\n\n", 2);
	if (rc < 0 && !s->err)
		s->err = LR_ENOMEM;
}

/* One complete event of the target (SSE: its data lines joined; NDJSON:
 * one line). */
static void dispatch(xstream *s)
{
	lr_span d = {s->data.p ? s->data.p : "", s->data.len};
	size_t pos = 0;
	int ws;

	if (s->dead || s->ended) {
		s->data.len = 0;
		return;
	}
	ws = lr_json_skip_ws(d.p, d.len, 0);
	if (ws >= 0 && (size_t)ws == d.len)
		goto done;
	if (d.len == 6 && memcmp(d.p, "[DONE]", 6) == 0) {
		s->tgt->ev_parse(s, "[DONE]", d);
		goto done;
	}
	if (lr_json_skip_value(d.p, d.len, &pos) < 0 || lr_json_skip_ws(d.p, d.len, pos) != (int)d.len ||
	    d.p[ws] != '{') {
		xs_fail(s, XE_SERVER, (lr_span){0}, "llmroute: the upstream sent a stream event that is not JSON");
		goto done;
	}
	d.p += ws;
	d.len -= (size_t)ws;
	s->tgt->ev_parse(s, s->event[0] ? s->event : NULL, d);
done:
	s->data.len = 0;
	s->event[0] = '\0';
}

/* One line of the target's stream, without its line end. */
static void line(xstream *s, const char *p, size_t n)
{
	if (s->tgt->ndjson) {
		s->data.len = 0;
		if (xbuf_put(&s->data, p, n) < 0)
			xs_fail(s, XE_SERVER, (lr_span){0}, "llmroute: out of memory translating a stream");
		dispatch(s);
		return;
	}
	if (n == 0) {
		if (s->data.len)
			dispatch(s);
		s->event[0] = '\0';
		return;
	}
	if (p[0] == ':')
		return;
	if (n >= 5 && memcmp(p, "data:", 5) == 0) {
		size_t k = n > 5 && p[5] == ' ' ? 6 : 5;
		if ((s->data.len && xbuf_put(&s->data, "\n", 1) < 0) || xbuf_put(&s->data, p + k, n - k) < 0 ||
		    s->data.len > LR_XLATE_MAX_LINE)
			xs_fail(s, XE_SERVER, (lr_span){0}, "llmroute: a stream event is too large to translate");
		return;
	}
	if (n >= 6 && memcmp(p, "event:", 6) == 0) {
		size_t k = n > 6 && p[6] == ' ' ? 7 : 6;
		if (n - k < sizeof(s->event)) {
			memcpy(s->event, p + k, n - k);
			s->event[n - k] = '\0';
		}
	}
}

static int feed_result(xstream *s)
{
	if (s->err)
		return s->err;
	return s->dead ? 1 : 0;
}

int lr_xlate_stream_feed(lr_xlate_stream *s, const char *p, size_t n, lr_xbuf *out)
{
	const char *nl;
	size_t k;

	if (!s || !out || (!p && n))
		return LR_EINVAL;
	s->dst = out;
	while (n && !s->dead && !s->ended && !s->err) {
		nl = memchr(p, '\n', n);
		k = nl ? (size_t)(nl - p) : n;
		if (s->skipping) {
			/* the rest of a line too long to keep */
		} else if (s->line.len + k > LR_XLATE_MAX_LINE) {
			s->skipping = 1;
			s->line.len = 0;
			xs_fail(s, XE_SERVER, (lr_span){0}, "llmroute: a stream line is too long to translate");
		} else if (nl && !s->line.len) {
			line(s, p, k && p[k - 1] == '\r' ? k - 1 : k);
		} else if (xbuf_put(&s->line, p, k) < 0) {
			xs_fail(s, XE_SERVER, (lr_span){0}, "llmroute: out of memory translating a stream");
		} else if (nl) {
			k = s->line.len;
			s->line.len = 0;
			line(s, s->line.p, k && s->line.p[k - 1] == '\r' ? k - 1 : k);
		}
		if (!nl)
			break;
		s->skipping = 0;
		k = (size_t)(nl - p) + 1;
		p += k;
		n -= k;
	}
	return feed_result(s);
}

int lr_xlate_stream_finish(lr_xlate_stream *s, lr_xbuf *out)
{
	if (!s || !out)
		return LR_EINVAL;
	s->dst = out;
	if (s->finished)
		return feed_result(s);
	s->finished = 1;
	if (!s->dead && !s->ended && !s->skipping && s->line.len) {
		size_t k = s->line.len;
		s->line.len = 0;
		line(s, s->line.p, k);
	}
	if (!s->dead && !s->ended && !s->tgt->ndjson && s->data.len)
		dispatch(s);
	if (!s->dead && !s->ended) {
		if (s->tgt->xf == LR_XF_GEMINI && s->finish != XFIN_NONE)
			xs_end(s);
		else
			xs_fail(s, XE_SERVER, (lr_span){0},
				"llmroute: the upstream stream ended before its end event");
	}
	return feed_result(s);
}
