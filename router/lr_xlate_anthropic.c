/*
 * lr_xlate_anthropic.c - Anthropic messages to and from the neutral
 * representation.
 *
 * Request: top-level system (string or text blocks), user / assistant
 * messages of text, image (base64 or URL source), tool_use and
 * tool_result blocks, max_tokens (required: the driver supplies the
 * caller's default), temperature, top_p, top_k, stop_sequences, tools
 * (input_schema), tool_choice (auto, any, tool, none,
 * disable_parallel_tool_use), stream.  Written back with consecutive
 * messages of one role merged (tool results of parallel calls must share
 * one user message) and empty text blocks left out (Anthropic refuses
 * them).  Usage: Anthropic's input_tokens leave out cache reads and
 * writes; the neutral input counts them, as OpenAI's prompt_tokens do.
 */
#include "lr_xlate_int.h"

#include <stdio.h>
#include <string.h>

/* ---- request ------------------------------------------------------------ */

static int image_block(xreq *r, lr_span b, xpart *p)
{
	lr_span src = lr_json_member(b, "source"), type = lr_json_member(src, "type");

	if (XEQ(type, "base64")) {
		lr_span mt = lr_json_member(src, "media_type"), data = lr_json_member(src, "data");
		char tmp[64];
		if (!XSTR(mt) || !XSTR(data) || mt.len > sizeof(tmp))
			return LR_EPARSE;
		p->mime = xa_decode(&r->arena, mt);
		p->data = xa_decode(&r->arena, data);
		for (size_t i = 0; p->mime.p && i < p->mime.len; i++)
			if ((unsigned char)p->mime.p[i] < 0x20 || p->mime.p[i] == '"' || p->mime.p[i] == '\\')
				return LR_EPARSE;
		for (size_t i = 0; p->data.p && i < p->data.len; i++)
			if ((unsigned char)p->data.p[i] <= ' ' || p->data.p[i] == '"' || p->data.p[i] == '\\')
				return LR_EPARSE;
		return 0;
	}
	if (XEQ(type, "url") && XSTR(lr_json_member(src, "url"))) {
		p->url = lr_json_member(src, "url");
		r->features |= XF_IMAGE_URL;
		return 0;
	}
	r->features |= XF_FILE;
	p->kind = -1;
	return 0;
}

/* tool_result content: a string, or text (and image) blocks. */
static int result_block(xreq *r, lr_span b)
{
	lr_span c = lr_json_member(b, "content"), e = lr_json_member(b, "is_error"), x;
	lr_span texts[64];
	size_t n = 0;
	lr_json_iter it;
	xpart *p = xr_part(r, XP_RESULT);

	p->id = lr_json_member(b, "tool_use_id");
	if (!XSTR(p->id))
		return LR_EPARSE;
	p->is_error = lr_json_is_true(e);
	if (XARRP(c)) {
		XARR(it, c, x) {
			lr_span t = lr_json_member(x, "text");
			if (XSTR(t) && n < 64)
				texts[n++] = t;
			else if (XEQ(lr_json_member(x, "type"), "image"))
				r->features |= XF_RESULT_IMAGE;
		}
		c = xa_join(&r->arena, texts, n, "\n");
	} else if (!XSET(c)) {
		c = xa_lit("\"\"");
	}
	if (!XSTR(c))
		return LR_EPARSE;
	p->text = c;
	return 0;
}

static int block(xreq *r, lr_span b)
{
	lr_span type = lr_json_member(b, "type");
	xpart *p;

	if (!XOBJP(b))
		return LR_EPARSE;
	if (XSET(lr_json_member(b, "cache_control")) && !strstr(r->ignored, "cache_control"))
		xr_ignore(r, xa_lit("\"cache_control\""));
	if (XEQ(type, "text")) {
		p = xr_part(r, XP_TEXT);
		p->text = lr_json_member(b, "text");
		return XSTR(p->text) ? 0 : LR_EPARSE;
	}
	if (XEQ(type, "image"))
		return image_block(r, b, xr_part(r, XP_IMAGE));
	if (XEQ(type, "tool_use")) {
		p = xr_part(r, XP_CALL);
		p->id = lr_json_member(b, "id");
		p->name = lr_json_member(b, "name");
		p->args = lr_json_member(b, "input");
		return XSTR(p->id) && XSTR(p->name) && XOBJP(p->args) ? 0 : LR_EPARSE;
	}
	if (XEQ(type, "tool_result"))
		return result_block(r, b);
	if (XEQ(type, "thinking") || XEQ(type, "redacted_thinking"))
		return 0;  /* earlier turns' reasoning: only Anthropic reads it */
	if (XEQ(type, "server_tool_use") || XEQ(type, "web_search_tool_result"))
		r->features |= XF_BUILTIN_TOOL;
	else
		r->features |= XF_FILE;  /* document, search_result, container_upload */
	return 0;
}

static int content(xreq *r, lr_span c)
{
	lr_json_iter it;
	lr_span b;
	int rc;

	if (XSTR(c)) {
		xr_part(r, XP_TEXT)->text = c;
		return 0;
	}
	if (!XARRP(c))
		return LR_EPARSE;
	XARR(it, c, b)
		if ((rc = block(r, b)) < 0)
			return rc;
	return 0;
}

static int messages(xreq *r, lr_span v)
{
	lr_json_iter it;
	lr_span m;
	int rc;

	if (!XARRP(v))
		return LR_EPARSE;
	XARR(it, v, m) {
		lr_span role = lr_json_member(m, "role");
		if (XEQ(role, "user"))
			xr_msg(r, XR_USER);
		else if (XEQ(role, "assistant"))
			xr_msg(r, XR_ASSISTANT);
		else
			return LR_EPARSE;
		if ((rc = content(r, lr_json_member(m, "content"))) < 0)
			return rc;
	}
	return 0;
}

static int tools(xreq *r, lr_span v)
{
	lr_json_iter it;
	lr_span t;

	if (!XARRP(v))
		return LR_EPARSE;
	XARR(it, v, t) {
		lr_span type = lr_json_member(t, "type");
		xtool *x;
		if (XSET(type) && !XEQ(type, "custom")) {
			r->features |= XF_BUILTIN_TOOL;
			continue;
		}
		x = xr_tool(r);
		x->name = lr_json_member(t, "name");
		x->desc = lr_json_member(t, "description");
		x->params = lr_json_member(t, "input_schema");
		if (!XSTR(x->name))
			return LR_EPARSE;
		if (!XSTR(x->desc))
			x->desc = (lr_span){0};
		if (!XOBJP(x->params))
			x->params = (lr_span){0};
	}
	return 0;
}

static int tool_choice(xreq *r, lr_span v)
{
	lr_span type = lr_json_member(v, "type");

	if (!XOBJP(v))
		return LR_EPARSE;
	if (lr_json_is_true(lr_json_member(v, "disable_parallel_tool_use"))) {
		r->parallel = 0;
		r->features |= XF_SERIAL_TOOLS;
	}
	if (XEQ(type, "auto"))
		r->tool_choice = XTC_AUTO;
	else if (XEQ(type, "none"))
		r->tool_choice = XTC_NONE;
	else if (XEQ(type, "any"))
		r->tool_choice = XTC_ANY, r->features |= XF_TOOL_FORCE;
	else if (XEQ(type, "tool") && XSTR(lr_json_member(v, "name"))) {
		r->tool_choice = XTC_NAMED;
		r->tool_choice_name = lr_json_member(v, "name");
		r->features |= XF_TOOL_FORCE;
	} else
		return LR_EPARSE;
	return 0;
}

static int member(xreq *r, lr_span k, lr_span v)
{
	lr_json_iter it;
	lr_span s;
	int rc = 0;

	if (XEQ(k, "model"))
		r->model = XSTR(v) ? v : r->model;
	else if (XEQ(k, "system")) {
		xr_msg(r, XR_SYSTEM);
		rc = content(r, v);
	} else if (XEQ(k, "messages"))
		rc = messages(r, v);
	else if (XEQ(k, "max_tokens"))
		r->max_tokens = XNUM(v) ? v : r->max_tokens;
	else if (XEQ(k, "temperature"))
		r->temperature = XNUM(v) ? v : r->temperature;
	else if (XEQ(k, "top_p"))
		r->top_p = XNUM(v) ? v : r->top_p;
	else if (XEQ(k, "top_k") && XNUM(v))
		r->top_k = v, r->features |= XF_TOP_K;
	else if (XEQ(k, "stop_sequences") && XARRP(v)) {
		XARR(it, v, s) {
			if (!XSTR(s) || r->nstop == sizeof(r->stop) / sizeof(r->stop[0]))
				return LR_EPARSE;
			r->stop[r->nstop++] = s;
		}
		if (r->nstop)
			r->features |= XF_STOP;
	} else if (XEQ(k, "stream"))
		r->stream = lr_json_is_true(v);
	else if (XEQ(k, "tools"))
		rc = tools(r, v);
	else if (XEQ(k, "tool_choice"))
		rc = tool_choice(r, v);
	else if (XEQ(k, "thinking"))
		r->features |= XEQ(lr_json_member(v, "type"), "enabled") ? XF_REASONING : 0;
	else if (XEQ(k, "mcp_servers") || XEQ(k, "container"))
		r->features |= XF_BUILTIN_TOOL;
	else if (!XEQ(k, "metadata") && !XEQ(k, "service_tier") && !lr_json_is_null(v))
		xr_ignore(r, k);
	return rc;
}

static int req_parse(xreq *r, lr_span body)
{
	lr_json_iter it;
	lr_span k, v, sys = {0};
	int rc;

	if (lr_json_iter_init(&it, body.p, body.len, 0) < 0)
		return LR_EPARSE;
	/* the system prompt goes first whatever the member order */
	while ((rc = lr_json_obj_next(&it, &k, &v)) == 1)
		if (XEQ(k, "system"))
			sys = v;
	if (rc < 0 || lr_json_skip_ws(body.p, body.len, it.pos) != (int)body.len)
		return LR_EPARSE;
	if (XSET(sys) && (rc = member(r, xa_lit("\"system\""), sys)) < 0)
		return rc;
	lr_json_iter_init(&it, body.p, body.len, 0);
	while ((rc = lr_json_obj_next(&it, &k, &v)) == 1)
		if (!XEQ(k, "system") && (rc = member(r, k, v)) < 0)
			return rc;
	return rc < 0 ? rc : 0;
}

static int is_empty_text(const xpart *p)
{
	return (p->kind == XP_TEXT || p->kind == XP_REFUSAL) && p->text.len <= 2;
}

static void write_block(xarena *a, const xpart *p, jw *w)
{
	if (p->kind < 0 || is_empty_text(p))
		return;
	jw_obj(w);
	switch (p->kind) {
	case XP_TEXT: case XP_REFUSAL:
		jw_kstr(w, "type", "text");
		jw_kraw(w, "text", p->text);
		break;
	case XP_IMAGE:
		jw_kstr(w, "type", "image");
		jw_key(w, "source");
		jw_obj(w);
		if (XSET(p->url)) {
			jw_kstr(w, "type", "url");
			jw_kraw(w, "url", p->url);
		} else {
			jw_kstr(w, "type", "base64");
			jw_key(w, "media_type");
			jw_strn(w, p->mime.p, p->mime.len);
			jw_key(w, "data");
			jw_strn(w, p->data.p, p->data.len);
		}
		jw_end(w);
		break;
	case XP_CALL:
		jw_kstr(w, "type", "tool_use");
		jw_kraw(w, "id", p->id);
		jw_kraw(w, "name", p->name);
		jw_kraw(w, "input", p->args);
		break;
	case XP_RESULT:
		jw_kstr(w, "type", "tool_result");
		jw_kraw(w, "tool_use_id", p->id);
		jw_kraw(w, "content", p->result_json ? xa_encode(a, p->text.p, p->text.len) : p->text);
		if (p->is_error)
			jw_kraw(w, "is_error", xa_lit("true"));
		break;
	}
	jw_end(w);
}

static const char *role_of(int role)
{
	return role == XR_ASSISTANT ? "assistant" : "user";
}

static void write_system(const xreq *r, jw *w)
{
	size_t i, j, n = 0;
	const xpart *one = NULL;

	for (i = 0; i < r->nmsgs; i++)
		for (j = 0; r->msgs[i].role == XR_SYSTEM && j < r->msgs[i].n; j++)
			if (r->parts[r->msgs[i].first + j].kind == XP_TEXT && !is_empty_text(&r->parts[r->msgs[i].first + j]))
				n++, one = &r->parts[r->msgs[i].first + j];
	if (!n)
		return;
	jw_key(w, "system");
	if (n == 1) {
		jw_raw(w, one->text);
		return;
	}
	jw_arr(w);
	for (i = 0; i < r->nmsgs; i++)
		for (j = 0; r->msgs[i].role == XR_SYSTEM && j < r->msgs[i].n; j++)
			if (r->parts[r->msgs[i].first + j].kind == XP_TEXT)
				write_block((xarena *)&r->arena, &r->parts[r->msgs[i].first + j], w);
	jw_end(w);
}

/* Blocks a message will write (empty texts and dropped parts do not). */
static size_t blocks_of(const xreq *r, const xmsg *m)
{
	size_t j, n = 0;

	for (j = 0; j < m->n; j++) {
		const xpart *p = &r->parts[m->first + j];
		n += p->kind >= 0 && !is_empty_text(p);
	}
	return n;
}

static void write_messages(const xreq *r, jw *w)
{
	size_t i, j;
	const char *open = NULL;

	jw_key(w, "messages");
	jw_arr(w);
	for (i = 0; i < r->nmsgs; i++) {
		const xmsg *m = &r->msgs[i];
		if (m->role == XR_SYSTEM || !blocks_of(r, m))
			continue;
		if (!open || strcmp(open, role_of(m->role)) != 0) {
			if (open) {
				jw_end(w);
				jw_end(w);
			}
			open = role_of(m->role);
			jw_obj(w);
			jw_kstr(w, "role", open);
			jw_key(w, "content");
			jw_arr(w);
		}
		for (j = 0; j < m->n; j++)
			write_block((xarena *)&r->arena, &r->parts[m->first + j], w);
	}
	if (open) {
		jw_end(w);
		jw_end(w);
	}
	jw_end(w);
}

static void write_tools(const xreq *r, jw *w)
{
	size_t i;

	if (r->ntools) {
		jw_key(w, "tools");
		jw_arr(w);
		for (i = 0; i < r->ntools; i++) {
			jw_obj(w);
			jw_kraw(w, "name", r->tools[i].name);
			if (XSET(r->tools[i].desc))
				jw_kraw(w, "description", r->tools[i].desc);
			jw_kraw(w, "input_schema", XSET(r->tools[i].params) ? r->tools[i].params :
				xa_lit("{\"type\":\"object\",\"properties\":{}}"));
			jw_end(w);
		}
		jw_end(w);
	}
	if (!r->ntools || (r->tool_choice == XTC_DEFAULT && r->parallel != 0))
		return;
	jw_key(w, "tool_choice");
	jw_obj(w);
	jw_kstr(w, "type", r->tool_choice == XTC_NONE ? "none" : r->tool_choice == XTC_ANY ? "any" :
		r->tool_choice == XTC_NAMED ? "tool" : "auto");
	if (r->tool_choice == XTC_NAMED)
		jw_kraw(w, "name", r->tool_choice_name);
	if (r->parallel == 0 && r->tool_choice != XTC_NONE)
		jw_kraw(w, "disable_parallel_tool_use", xa_lit("true"));
	jw_end(w);
}

static int req_emit(const xreq *r, const lr_xlate_opts *o, jw *w)
{
	size_t i;

	(void)o;
	jw_obj(w);
	jw_kraw(w, "model", r->model);
	write_system(r, w);
	write_messages(r, w);
	jw_kraw(w, "max_tokens", r->max_tokens);
	if (XSET(r->temperature))
		jw_kraw(w, "temperature", r->temperature);
	if (XSET(r->top_p))
		jw_kraw(w, "top_p", r->top_p);
	if (XSET(r->top_k))
		jw_kraw(w, "top_k", r->top_k);
	if (r->nstop) {
		jw_key(w, "stop_sequences");
		jw_arr(w);
		for (i = 0; i < r->nstop; i++)
			jw_raw(w, r->stop[i]);
		jw_end(w);
	}
	write_tools(r, w);
	if (r->stream)
		jw_kraw(w, "stream", xa_lit("true"));
	jw_end(w);
	return 0;
}

/* ---- answers ------------------------------------------------------------ */

static int finish_of(lr_span f)
{
	if (XEQ(f, "max_tokens") || XEQ(f, "model_context_window_exceeded"))
		return XFIN_LENGTH;
	if (XEQ(f, "tool_use"))
		return XFIN_TOOL;
	if (XEQ(f, "refusal"))
		return XFIN_REFUSAL;
	return XSTR(f) ? XFIN_STOP : XFIN_NONE;
}

static const char *finish_name(int fin)
{
	switch (fin) {
	case XFIN_LENGTH: return "max_tokens";
	case XFIN_TOOL: return "tool_use";
	case XFIN_FILTER: case XFIN_REFUSAL: return "refusal";
	}
	return "end_turn";
}

static void usage_of(lr_span u, long long *in, long long *out, long long *cached, long long *write)
{
	long long i, r, c;

	if (!XOBJP(u))
		return;
	i = xs_num(lr_json_member(u, "input_tokens"));
	r = xs_num(lr_json_member(u, "cache_read_input_tokens"));
	c = xs_num(lr_json_member(u, "cache_creation_input_tokens"));
	if (i >= 0) {
		*in = i + (r > 0 ? r : 0) + (c > 0 ? c : 0);
		*cached = r > 0 ? r : 0;
		*write = c > 0 ? c : 0;
	}
	*out = xs_num(lr_json_member(u, "output_tokens"));
}

static int ans_parse(xans *a, lr_span body)
{
	lr_json_iter it;
	lr_span c, b;

	if (!XOBJP(body) || !XEQ(lr_json_member(body, "type"), "message"))
		return LR_EPARSE;
	c = lr_json_member(body, "content");
	if (!XARRP(c))
		return LR_EPARSE;
	a->id = lr_json_member(body, "id");
	a->model = lr_json_member(body, "model");
	a->id = XSTR(a->id) ? a->id : (lr_span){0};
	a->model = XSTR(a->model) ? a->model : (lr_span){0};
	XARR(it, c, b) {
		lr_span type = lr_json_member(b, "type");
		if (XEQ(type, "text") && XSTR(lr_json_member(b, "text")))
			xa_part(a, XP_TEXT)->text = lr_json_member(b, "text");
		else if (XEQ(type, "tool_use")) {
			xpart *p = xa_part(a, XP_CALL);
			p->id = lr_json_member(b, "id");
			p->name = lr_json_member(b, "name");
			p->args = lr_json_member(b, "input");
			if (!XSTR(p->id) || !XSTR(p->name) || !XOBJP(p->args))
				return LR_EPARSE;
		}
	}
	a->finish = finish_of(lr_json_member(body, "stop_reason"));
	usage_of(lr_json_member(body, "usage"), &a->in, &a->out, &a->cached, &a->cache_write);
	return 0;
}

static void usage_json(jw *w, long long in, long long out, long long cached, long long write,
	int with_input)
{
	long long c = cached > 0 ? cached : 0, wr = write > 0 ? write : 0;
	long long fresh = in < 0 ? 0 : in - c - wr;

	jw_key(w, "usage");
	jw_obj(w);
	if (with_input) {
		jw_kint(w, "input_tokens", fresh < 0 ? 0 : fresh);
		jw_kint(w, "cache_creation_input_tokens", wr);
		jw_kint(w, "cache_read_input_tokens", c);
	}
	jw_kint(w, "output_tokens", out < 0 ? 0 : out);
	jw_end(w);
}

static void ans_emit(const xans *a, const lr_xlate_ctx *c, jw *w)
{
	size_t i;
	int fin = a->finish, calls = 0;

	(void)c;
	for (i = 0; i < a->nparts; i++) {
		calls |= a->parts[i].kind == XP_CALL;
		if (a->parts[i].kind == XP_REFUSAL && fin != XFIN_LENGTH)
			fin = XFIN_REFUSAL;
	}
	if (calls && (fin == XFIN_STOP || fin == XFIN_NONE))
		fin = XFIN_TOOL;
	jw_obj(w);
	jw_kraw(w, "id", XSET(a->id) ? a->id : xa_lit("\"msg_llmroute\""));
	jw_kstr(w, "type", "message");
	jw_kstr(w, "role", "assistant");
	jw_kraw(w, "model", XSET(a->model) ? a->model : xa_lit("\"\""));
	jw_key(w, "content");
	jw_arr(w);
	for (i = 0; i < a->nparts; i++)
		write_block((xarena *)&a->arena, &a->parts[i], w);
	jw_end(w);
	jw_kstr(w, "stop_reason", finish_name(fin));
	jw_kraw(w, "stop_sequence", (lr_span){0});
	usage_json(w, a->in, a->out, a->cached, a->cache_write, 1);
	jw_end(w);
}

/* ---- errors ------------------------------------------------------------- */

static int err_parse(lr_span body, xerr *e)
{
	lr_span err = lr_json_member(body, "error"), v;
	int cls;

	if (!XOBJP(err))
		return LR_ENOTFOUND;
	v = lr_json_member(err, "message");
	e->message = XSTR(v) ? v : (lr_span){0};
	if ((cls = xe_class_of_type(lr_json_member(err, "type"))) >= 0)
		e->cls = cls;
	return 0;
}

static const char *type_name(int cls)
{
	static const char *const t[] = {"invalid_request_error", "authentication_error",
		"permission_error", "not_found_error", "request_too_large", "rate_limit_error",
		"overloaded_error", "api_error", "api_error"};
	return cls >= 0 && cls <= XE_TIMEOUT ? t[cls] : "api_error";
}

static void err_emit(const xerr *e, int status, jw *w)
{
	(void)status;
	jw_obj(w);
	jw_kstr(w, "type", "error");
	jw_key(w, "error");
	jw_obj(w);
	jw_kstr(w, "type", type_name(e->cls));
	jw_key(w, "message");
	if (XSET(e->message))
		jw_raw(w, e->message);
	else
		jw_str(w, e->plain ? e->plain : "");
	jw_end(w);
	jw_end(w);
}

static int app_status(int cls)
{
	static const int st[] = {400, 401, 403, 404, 413, 429, 529, 500, 504};
	return cls >= 0 && cls <= XE_TIMEOUT ? st[cls] : 500;
}

/* ---- streams: the target's events --------------------------------------- */

static void ev_block_start(xstream *s, lr_span d)
{
	long idx = (long)xs_num(lr_json_member(d, "index"));
	lr_span b = lr_json_member(d, "content_block"), type = lr_json_member(b, "type");

	if (XEQ(type, "text")) {
		lr_span t = lr_json_member(b, "text");
		if (XSTR(t) && t.len > 2)
			xs_text(s, t);
	} else if (XEQ(type, "tool_use")) {
		xtoolst *t = xs_tool_begin(s, idx, lr_json_member(b, "id"), lr_json_member(b, "name"));
		lr_span in = lr_json_member(b, "input");
		if (t && XOBJP(in) && in.len > 2)
			xs_tool_args(s, t, in);
	}
}

static void ev_parse(xstream *s, const char *event, lr_span d)
{
	lr_span type = lr_json_member(d, "type"), v;
	long long in = -1, out = -1, cached = -1, write = -1;
	xerr e = {XE_SERVER, {0}, NULL};

	(void)event;
	if (XEQ(type, "message_start")) {
		v = lr_json_member(d, "message");
		xs_meta(s, lr_json_member(v, "id"), lr_json_member(v, "model"));
		usage_of(lr_json_member(v, "usage"), &in, &out, &cached, &write);
		xs_usage(s, in, -1, cached, write);
	} else if (XEQ(type, "content_block_start")) {
		ev_block_start(s, d);
	} else if (XEQ(type, "content_block_delta")) {
		lr_span delta = lr_json_member(d, "delta"), dt = lr_json_member(delta, "type");
		if (XEQ(dt, "text_delta"))
			xs_text(s, lr_json_member(delta, "text"));
		else if (XEQ(dt, "input_json_delta"))
			xs_tool_args(s, xs_tool_find(s, (long)xs_num(lr_json_member(d, "index"))),
				lr_json_member(delta, "partial_json"));
	} else if (XEQ(type, "content_block_stop")) {
		xs_tool_end(s, xs_tool_find(s, (long)xs_num(lr_json_member(d, "index"))));
	} else if (XEQ(type, "message_delta")) {
		v = lr_json_member(lr_json_member(d, "delta"), "stop_reason");
		if (XSTR(v))
			xs_finish(s, finish_of(v));
		usage_of(lr_json_member(d, "usage"), &in, &out, &cached, &write);
		xs_usage(s, in, out, in >= 0 ? cached : -1, in >= 0 ? write : -1);
	} else if (XEQ(type, "message_stop")) {
		xs_end(s);
	} else if (XEQ(type, "error")) {
		err_parse(d, &e);
		xs_fail(s, e.cls, e.message, NULL);
	}
}

/* ---- streams: the app's events ------------------------------------------ */

static void emit(xstream *s, const char *event, jw *w)
{
	if (w->err)
		s->err = w->err;
	else
		xs_write_sse(s, event, w->b);
	w->b->len = 0;
}

static void ensure_start(xstream *s)
{
	lr_xbuf b = {0};
	jw w;

	if (s->started)
		return;
	s->started = 1;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "type", "message_start");
	jw_key(&w, "message");
	jw_obj(&w);
	jw_kstr(&w, "id", s->id[0] ? s->id : "msg_llmroute");
	jw_kstr(&w, "type", "message");
	jw_kstr(&w, "role", "assistant");
	jw_kstr(&w, "model", s->model);
	jw_kraw(&w, "content", xa_lit("[]"));
	jw_kraw(&w, "stop_reason", (lr_span){0});
	jw_kraw(&w, "stop_sequence", (lr_span){0});
	usage_json(&w, s->in, 0, s->cached, s->cache_write, 1);
	jw_end(&w);
	jw_end(&w);
	emit(s, "message_start", &w);
	lr_xbuf_free(&b);
}

static void block_stop(xstream *s)
{
	lr_xbuf b = {0};
	jw w;

	if (s->block < 0)
		return;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "type", "content_block_stop");
	jw_kint(&w, "index", s->block);
	jw_end(&w);
	emit(s, "content_block_stop", &w);
	lr_xbuf_free(&b);
	s->block = -1;
}

/* Opens a block: text (t NULL) or tool_use. */
static void block_start(xstream *s, xtoolst *t)
{
	lr_xbuf b = {0};
	jw w;

	block_stop(s);
	s->block = s->nblocks++;
	s->block_kind = t ? XP_CALL : XP_TEXT;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "type", "content_block_start");
	jw_kint(&w, "index", s->block);
	jw_key(&w, "content_block");
	jw_obj(&w);
	if (t) {
		t->app_index = s->block;
		jw_kstr(&w, "type", "tool_use");
		jw_kstr(&w, "id", t->id);
		jw_kstr(&w, "name", t->name);
		jw_kraw(&w, "input", xa_lit("{}"));
	} else {
		jw_kstr(&w, "type", "text");
		jw_kraw(&w, "text", xa_lit("\"\""));
	}
	jw_end(&w);
	jw_end(&w);
	emit(s, "content_block_start", &w);
	lr_xbuf_free(&b);
}

static void delta(xstream *s, int index, const char *type, const char *key, lr_span tok)
{
	lr_xbuf b = {0};
	jw w;

	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "type", "content_block_delta");
	jw_kint(&w, "index", index);
	jw_key(&w, "delta");
	jw_obj(&w);
	jw_kstr(&w, "type", type);
	jw_kraw(&w, key, tok);
	jw_end(&w);
	jw_end(&w);
	emit(s, "content_block_delta", &w);
	lr_xbuf_free(&b);
}

static void st_text(xstream *s, lr_span tok, int refusal)
{
	(void)refusal;
	ensure_start(s);
	if (s->block < 0 || s->block_kind != XP_TEXT)
		block_start(s, NULL);
	if (tok.len > 2)
		delta(s, s->block, "text_delta", "text", tok);
}

static void st_tool_begin(xstream *s, xtoolst *t)
{
	ensure_start(s);
	block_start(s, t);
}

static void st_tool_args(xstream *s, xtoolst *t, lr_span frag)
{
	delta(s, t->app_index, "input_json_delta", "partial_json", frag);
}

static void st_tool_end(xstream *s, xtoolst *t, lr_span args)
{
	(void)args;
	if (s->block == t->app_index)
		block_stop(s);
}

static void st_end(xstream *s)
{
	lr_xbuf b = {0};
	jw w;

	ensure_start(s);
	block_stop(s);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kstr(&w, "type", "message_delta");
	jw_key(&w, "delta");
	jw_obj(&w);
	jw_kstr(&w, "stop_reason", finish_name(s->finish));
	jw_kraw(&w, "stop_sequence", (lr_span){0});
	jw_end(&w);
	usage_json(&w, s->in, s->out, s->cached, s->cache_write, s->in >= 0);
	jw_end(&w);
	emit(s, "message_delta", &w);
	xbuf_put(&b, "{\"type\":\"message_stop\"}", 23);
	xs_write_sse(s, "message_stop", &b);
	lr_xbuf_free(&b);
}

static void st_error(xstream *s, const xerr *e)
{
	lr_xbuf b = {0};
	jw w;

	jw_init(&w, &b);
	err_emit(e, 0, &w);
	emit(s, "error", &w);
	lr_xbuf_free(&b);
}

const xfmt lr_xf_anthropic = {
	LR_XF_ANTHROPIC, "anthropic",
	XF_TOP_K | XF_STOP | XF_IMAGE_URL | XF_SERIAL_TOOLS | XF_TOOL_FORCE, 0, 0,
	req_parse, req_emit, ans_parse, ans_emit, err_parse, err_emit, app_status,
	ev_parse, st_text, st_tool_begin, st_tool_args, st_tool_end, st_end, st_error,
};
