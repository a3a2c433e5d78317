/*
 * lr_xlate_ollama.c - Ollama /api/chat to and from the neutral
 * representation.
 *
 * Request: messages (system, user, assistant, tool) with string content,
 * base64 images (no media type: guessed from the data's first bytes),
 * tool_calls with arguments as an object, tool results named by
 * tool_name; tools in OpenAI's shape; format ("json" or a schema);
 * options (num_predict, temperature, top_p, top_k, stop, seed,
 * penalties); stream, which is on unless "stream": false.  Written back
 * with texts joined by newlines (Ollama content is one string) and
 * "stream" always explicit.  Ollama has no tool_choice: none leaves the
 * tools out, forcing a tool is refused.  Streams are NDJSON: one object a
 * line, the last with "done": true, its reason and counts.
 */
#include "lr_xlate_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- request ------------------------------------------------------------ */

static const char *guess_mime(lr_span b64)
{
	static const struct { const char *magic, *mime; } m[] = {
		{"iVBOR", "image/png"}, {"/9j/", "image/jpeg"}, {"R0lGOD", "image/gif"},
		{"UklGR", "image/webp"},
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (b64.len >= strlen(m[i].magic) && memcmp(b64.p, m[i].magic, strlen(m[i].magic)) == 0)
			return m[i].mime;
	return "image/jpeg";
}

static int images(xreq *r, lr_span v)
{
	lr_json_iter it;
	lr_span img;

	if (!XARRP(v))
		return !XSET(v) || lr_json_is_null(v) ? 0 : LR_EPARSE;
	XARR(it, v, img) {
		xpart *p;
		if (!XSTR(img))
			return LR_EPARSE;
		p = xr_part(r, XP_IMAGE);
		p->data = xa_decode(&r->arena, img);
		for (size_t i = 0; p->data.p && i < p->data.len; i++)
			if ((unsigned char)p->data.p[i] <= ' ' || p->data.p[i] == '"' || p->data.p[i] == '\\')
				return LR_EPARSE;
		p->mime = xa_lit(guess_mime(p->data));
	}
	return 0;
}

static int calls(xreq *r, lr_span v)
{
	lr_json_iter it;
	lr_span c;

	XARR(it, v, c) {
		lr_span fn = lr_json_member(c, "function");
		xpart *p = xr_part(r, XP_CALL);
		p->name = lr_json_member(fn, "name");
		p->args = lr_json_member(fn, "arguments");
		p->id = lr_json_member(c, "id");
		if (!XSTR(p->id))
			p->id = (lr_span){0};
		if (!XSET(p->args))
			p->args = xa_lit("{}");
		if (XSTR(p->args) && xr_args_object(&r->arena, p->args, &p->args) < 0)
			return LR_EINVAL;
		if (!XSTR(p->name) || !XOBJP(p->args))
			return LR_EPARSE;
	}
	return 0;
}

static int message(xreq *r, lr_span m)
{
	lr_span role = lr_json_member(m, "role"), c = lr_json_member(m, "content"), v;
	int rc;

	if (!XOBJP(m))
		return LR_EPARSE;
	if (XSET(c) && !XSTR(c) && !lr_json_is_null(c))
		return LR_EPARSE;
	if (XEQ(role, "tool")) {
		xpart *p;
		xr_msg(r, XR_TOOL);
		p = xr_part(r, XP_RESULT);
		p->text = XSTR(c) ? c : xa_lit("\"\"");
		p->name = lr_json_member(m, "tool_name");
		p->id = lr_json_member(m, "tool_call_id");
		if (!XSTR(p->name))
			p->name = (lr_span){0};
		if (!XSTR(p->id))
			p->id = (lr_span){0};
		return 0;
	}
	if (XEQ(role, "system"))
		xr_msg(r, XR_SYSTEM);
	else if (XEQ(role, "user"))
		xr_msg(r, XR_USER);
	else if (XEQ(role, "assistant"))
		xr_msg(r, XR_ASSISTANT);
	else
		return LR_EPARSE;
	if (XSTR(c))
		xr_part(r, XP_TEXT)->text = c;
	if ((rc = images(r, lr_json_member(m, "images"))) < 0)
		return rc;
	v = lr_json_member(m, "tool_calls");
	if (XARRP(v) && (rc = calls(r, v)) < 0) {
		if (rc == LR_EINVAL)
			snprintf(r->why, sizeof(r->why), "tool call arguments are not a JSON object");
		return rc;
	}
	return 0;
}

static void options(xreq *r, lr_span o)
{
	lr_json_iter it, i2;
	lr_span k, v, s;

	XOBJ(it, o, k, v) {
		if (XEQ(k, "num_predict"))
			r->max_tokens = XNUM(v) && xs_num(v) >= 0 ? v : r->max_tokens;
		else if (XEQ(k, "temperature"))
			r->temperature = XNUM(v) ? v : r->temperature;
		else if (XEQ(k, "top_p"))
			r->top_p = XNUM(v) ? v : r->top_p;
		else if (XEQ(k, "top_k") && XNUM(v))
			r->top_k = v, r->features |= XF_TOP_K;
		else if (XEQ(k, "seed") && XNUM(v))
			r->seed = v, r->features |= XF_SEED;
		else if (XEQ(k, "presence_penalty") && XNUM(v))
			r->presence = v, r->features |= XF_PENALTIES;
		else if (XEQ(k, "frequency_penalty") && XNUM(v))
			r->frequency = v, r->features |= XF_PENALTIES;
		else if (XEQ(k, "stop") && XARRP(v)) {
			XARR(i2, v, s)
				if (XSTR(s) && r->nstop < sizeof(r->stop) / sizeof(r->stop[0]))
					r->stop[r->nstop++] = s;
			if (r->nstop)
				r->features |= XF_STOP;
		}
		/* num_ctx, repeat_penalty, mirostat...: the local runner's knobs */
	}
}

static int member(xreq *r, lr_span k, lr_span v)
{
	lr_json_iter it;
	lr_span m;
	int rc;

	if (XEQ(k, "model"))
		r->model = XSTR(v) ? v : r->model;
	else if (XEQ(k, "messages")) {
		if (!XARRP(v))
			return LR_EPARSE;
		XARR(it, v, m)
			if ((rc = message(r, m)) < 0)
				return rc;
	} else if (XEQ(k, "tools"))
		return xr_openai_tools(r, v, 1);
	else if (XEQ(k, "format")) {
		if (XEQ(v, "json"))
			r->json = 1, r->features |= XF_JSON_MODE;
		else if (XOBJP(v))
			r->json = 2, r->schema = v, r->features |= XF_SCHEMA;
	} else if (XEQ(k, "options") && XOBJP(v))
		options(r, v);
	else if (XEQ(k, "stream"))
		r->stream = !lr_json_is_false(v);
	else if (XEQ(k, "think"))
		r->features |= lr_json_is_false(v) || lr_json_is_null(v) ? 0 : XF_REASONING;
	else if (!XEQ(k, "keep_alive") && !lr_json_is_null(v))
		xr_ignore(r, k);
	return 0;
}

static int req_parse(xreq *r, lr_span body)
{
	lr_json_iter it;
	lr_span k, v;
	int rc;

	r->stream = 1;
	if (lr_json_iter_init(&it, body.p, body.len, 0) < 0)
		return LR_EPARSE;
	while ((rc = lr_json_obj_next(&it, &k, &v)) == 1)
		if ((rc = member(r, k, v)) < 0)
			return rc;
	if (rc < 0 || lr_json_skip_ws(body.p, body.len, it.pos) != (int)body.len)
		return LR_EPARSE;
	return 0;
}

static void write_message(const xreq *r, const xmsg *m, jw *w)
{
	static const char *const roles[] = {"system", "user", "assistant", "tool"};
	xarena *a = (xarena *)&r->arena;
	lr_span texts[256];
	size_t i, nt = 0, ni = 0, nc = 0, rest = 0;

	for (i = 0; i < m->n; i++) {
		const xpart *p = &r->parts[m->first + i];
		if (p->kind == XP_RESULT) {
			jw_obj(w);
			jw_kstr(w, "role", "tool");
			jw_kraw(w, "content", p->result_json ? xa_encode(a, p->text.p, p->text.len) : p->text);
			jw_kraw(w, "tool_name", p->name);
			jw_end(w);
			continue;
		}
		if ((p->kind == XP_TEXT || p->kind == XP_REFUSAL) && nt < 256)
			texts[nt++] = p->text;
		ni += p->kind == XP_IMAGE;
		nc += p->kind == XP_CALL;
		rest += p->kind >= 0;
	}
	if (!rest)
		return;
	jw_obj(w);
	jw_kstr(w, "role", roles[m->role]);
	jw_kraw(w, "content", nt == 1 ? texts[0] : nt ? xa_join(a, texts, nt, "\n") : xa_lit("\"\""));
	if (ni) {
		jw_key(w, "images");
		jw_arr(w);
		for (i = 0; i < m->n; i++)
			if (r->parts[m->first + i].kind == XP_IMAGE)
				jw_strn(w, r->parts[m->first + i].data.p, r->parts[m->first + i].data.len);
		jw_end(w);
	}
	if (nc) {
		jw_key(w, "tool_calls");
		jw_arr(w);
		for (i = 0; i < m->n; i++) {
			const xpart *p = &r->parts[m->first + i];
			if (p->kind != XP_CALL)
				continue;
			jw_obj(w);
			jw_key(w, "function");
			jw_obj(w);
			jw_kraw(w, "name", p->name);
			jw_kraw(w, "arguments", p->args);
			jw_end(w);
			jw_end(w);
		}
		jw_end(w);
	}
	jw_end(w);
}

static void write_options(const xreq *r, jw *w)
{
	size_t i;

	if (!XSET(r->max_tokens) && !XSET(r->temperature) && !XSET(r->top_p) && !XSET(r->top_k) &&
	    !XSET(r->seed) && !XSET(r->presence) && !XSET(r->frequency) && !r->nstop)
		return;
	jw_key(w, "options");
	jw_obj(w);
	if (XSET(r->max_tokens))
		jw_kraw(w, "num_predict", r->max_tokens);
	if (XSET(r->temperature))
		jw_kraw(w, "temperature", r->temperature);
	if (XSET(r->top_p))
		jw_kraw(w, "top_p", r->top_p);
	if (XSET(r->top_k))
		jw_kraw(w, "top_k", r->top_k);
	if (XSET(r->seed))
		jw_kraw(w, "seed", r->seed);
	if (XSET(r->presence))
		jw_kraw(w, "presence_penalty", r->presence);
	if (XSET(r->frequency))
		jw_kraw(w, "frequency_penalty", r->frequency);
	if (r->nstop) {
		jw_key(w, "stop");
		jw_arr(w);
		for (i = 0; i < r->nstop; i++)
			jw_raw(w, r->stop[i]);
		jw_end(w);
	}
	jw_end(w);
}

static int req_emit(const xreq *r, const lr_xlate_opts *o, jw *w)
{
	size_t i;

	(void)o;
	jw_obj(w);
	jw_kraw(w, "model", r->model);
	jw_key(w, "messages");
	jw_arr(w);
	for (i = 0; i < r->nmsgs; i++)
		write_message(r, &r->msgs[i], w);
	jw_end(w);
	if (r->ntools && r->tool_choice != XTC_NONE) {
		jw_key(w, "tools");
		jw_arr(w);
		for (i = 0; i < r->ntools; i++) {
			jw_obj(w);
			jw_kstr(w, "type", "function");
			jw_key(w, "function");
			jw_obj(w);
			jw_kraw(w, "name", r->tools[i].name);
			if (XSET(r->tools[i].desc))
				jw_kraw(w, "description", r->tools[i].desc);
			jw_kraw(w, "parameters", XSET(r->tools[i].params) ? r->tools[i].params :
				xa_lit("{\"type\":\"object\",\"properties\":{}}"));
			jw_end(w);
			jw_end(w);
		}
		jw_end(w);
	}
	if (r->json == 1)
		jw_kstr(w, "format", "json");
	else if (r->json == 2)
		jw_kraw(w, "format", r->schema);
	write_options(r, w);
	jw_kraw(w, "stream", xa_lit(r->stream ? "true" : "false"));
	jw_end(w);
	return 0;
}

/* ---- answers ------------------------------------------------------------ */

static int finish_of(lr_span f)
{
	if (XEQ(f, "length"))
		return XFIN_LENGTH;
	return XSTR(f) ? XFIN_STOP : XFIN_NONE;
}

static int message_parts(xans *a, lr_span msg)
{
	lr_json_iter it;
	lr_span v = lr_json_member(msg, "content"), c;
	char id[32];

	if (XSTR(v) && v.len > 2)
		xa_part(a, XP_TEXT)->text = v;
	v = lr_json_member(msg, "tool_calls");
	if (XARRP(v))
		XARR(it, v, c) {
			lr_span fn = lr_json_member(c, "function");
			xpart *p = xa_part(a, XP_CALL);
			p->name = lr_json_member(fn, "name");
			p->args = lr_json_member(fn, "arguments");
			p->id = lr_json_member(c, "id");
			if (!XSTR(p->id)) {
				snprintf(id, sizeof(id), "call_%zu", a->nparts - 1);
				p->id = xa_encode(&a->arena, id, strlen(id));
			}
			if (!XSET(p->args))
				p->args = xa_lit("{}");
			if (!XSTR(p->name) || !XOBJP(p->args))
				return LR_EPARSE;
		}
	return 0;
}

static int ans_parse(xans *a, lr_span body)
{
	lr_span msg;

	if (!XOBJP(body))
		return LR_EPARSE;
	msg = lr_json_member(body, "message");
	if (!XOBJP(msg))
		return LR_EPARSE;
	a->model = lr_json_member(body, "model");
	a->model = XSTR(a->model) ? a->model : (lr_span){0};
	if (message_parts(a, msg) < 0)
		return LR_EPARSE;
	a->finish = finish_of(lr_json_member(body, "done_reason"));
	a->in = xs_num(lr_json_member(body, "prompt_eval_count"));
	a->out = xs_num(lr_json_member(body, "eval_count"));
	return 0;
}

static void created_at(long long t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%S.000000000Z", &tm))
		snprintf(out, cap, "1970-01-01T00:00:00Z");
}

static void head(jw *w, const char *model, lr_span mtok, long long created)
{
	char when[64];

	created_at(created, when, sizeof(when));
	jw_obj(w);
	if (model)
		jw_kstr(w, "model", model);
	else
		jw_kraw(w, "model", XSET(mtok) ? mtok : xa_lit("\"\""));
	jw_kstr(w, "created_at", when);
}

static void tail(jw *w, int fin, long long in, long long out)
{
	jw_kraw(w, "done", xa_lit("true"));
	jw_kstr(w, "done_reason", fin == XFIN_LENGTH ? "length" : "stop");
	if (in >= 0)
		jw_kint(w, "prompt_eval_count", in);
	if (out >= 0)
		jw_kint(w, "eval_count", out);
	jw_end(w);
}

static void ans_emit(const xans *a, const lr_xlate_ctx *c, jw *w)
{
	xarena *ar = (xarena *)&a->arena;
	lr_span texts[256];
	size_t i, nt = 0, nc = 0;

	for (i = 0; i < a->nparts; i++) {
		if ((a->parts[i].kind == XP_TEXT || a->parts[i].kind == XP_REFUSAL) && nt < 256)
			texts[nt++] = a->parts[i].text;
		nc += a->parts[i].kind == XP_CALL;
	}
	head(w, NULL, a->model, c->created);
	jw_key(w, "message");
	jw_obj(w);
	jw_kstr(w, "role", "assistant");
	jw_kraw(w, "content", nt == 1 ? texts[0] : nt ? xa_join(ar, texts, nt, "") : xa_lit("\"\""));
	if (nc) {
		jw_key(w, "tool_calls");
		jw_arr(w);
		for (i = 0; i < a->nparts; i++) {
			if (a->parts[i].kind != XP_CALL)
				continue;
			jw_obj(w);
			jw_key(w, "function");
			jw_obj(w);
			jw_kraw(w, "name", a->parts[i].name);
			jw_kraw(w, "arguments", a->parts[i].args);
			jw_end(w);
			jw_end(w);
		}
		jw_end(w);
	}
	jw_end(w);
	tail(w, a->finish, a->in, a->out);
}

/* ---- errors ------------------------------------------------------------- */

static int err_parse(lr_span body, xerr *e)
{
	lr_span err = lr_json_member(body, "error");

	if (XSTR(err)) {
		e->message = err;
		return 0;
	}
	return xo_err_parse(body, e);
}

static void err_emit(const xerr *e, int status, jw *w)
{
	(void)status;
	jw_obj(w);
	jw_key(w, "error");
	if (XSET(e->message))
		jw_raw(w, e->message);
	else
		jw_str(w, e->plain ? e->plain : "");
	jw_end(w);
}

/* ---- streams ------------------------------------------------------------ */

static void ev_parse(xstream *s, const char *event, lr_span d)
{
	lr_json_iter it;
	lr_span msg, v, c;
	xerr e = {XE_SERVER, {0}, NULL};

	(void)event;
	if (err_parse(d, &e) == 0) {
		xs_fail(s, e.cls, e.message, NULL);
		return;
	}
	xs_meta(s, (lr_span){0}, lr_json_member(d, "model"));
	msg = lr_json_member(d, "message");
	xs_text(s, lr_json_member(msg, "content"));
	v = lr_json_member(msg, "tool_calls");
	if (XARRP(v))
		XARR(it, v, c) {
			lr_span fn = lr_json_member(c, "function");
			xtoolst *t = xs_tool_begin(s, 1000 + s->ntools, lr_json_member(c, "id"),
				lr_json_member(fn, "name"));
			lr_span args = lr_json_member(fn, "arguments");
			if (t && (XOBJP(args) || XSTR(args)))
				xs_tool_args(s, t, args);
			xs_tool_end(s, t);
		}
	if (lr_json_is_true(lr_json_member(d, "done"))) {
		xs_finish(s, finish_of(lr_json_member(d, "done_reason")));
		xs_usage(s, xs_num(lr_json_member(d, "prompt_eval_count")),
			xs_num(lr_json_member(d, "eval_count")), -1, -1);
		xs_end(s);
	}
}

static void emit(xstream *s, jw *w)
{
	s->events++;
	if (w->err || xbuf_put(s->dst, w->b->p, w->b->len) < 0 || xbuf_put(s->dst, "\n", 1) < 0)
		s->err = w->err ? w->err : LR_ENOMEM;
	w->b->len = 0;
}

static void line(xstream *s, lr_span content, const xtoolst *t, lr_span args)
{
	lr_xbuf b = {0};
	jw w;

	jw_init(&w, &b);
	head(&w, s->model, (lr_span){0}, s->c.created);
	jw_key(&w, "message");
	jw_obj(&w);
	jw_kstr(&w, "role", "assistant");
	jw_kraw(&w, "content", content);
	if (t) {
		jw_key(&w, "tool_calls");
		jw_arr(&w);
		jw_obj(&w);
		jw_key(&w, "function");
		jw_obj(&w);
		jw_kstr(&w, "name", t->name);
		jw_kraw(&w, "arguments", args);
		jw_end(&w);
		jw_end(&w);
		jw_end(&w);
	}
	jw_end(&w);
	jw_kraw(&w, "done", xa_lit("false"));
	jw_end(&w);
	emit(s, &w);
	lr_xbuf_free(&b);
}

static void st_text(xstream *s, lr_span tok, int refusal)
{
	(void)refusal;
	if (tok.len > 2)
		line(s, tok, NULL, (lr_span){0});
}

static void st_tool_begin(xstream *s, xtoolst *t) { (void)s; (void)t; }
static void st_tool_args(xstream *s, xtoolst *t, lr_span f) { (void)s; (void)t; (void)f; }

static void st_tool_end(xstream *s, xtoolst *t, lr_span args)
{
	line(s, xa_lit("\"\""), t, args);
}

static void st_end(xstream *s)
{
	lr_xbuf b = {0};
	jw w;

	jw_init(&w, &b);
	head(&w, s->model, (lr_span){0}, s->c.created);
	jw_kraw(&w, "message", xa_lit("{\"role\":\"assistant\",\"content\":\"\"}"));
	tail(&w, s->finish, s->in, s->out);
	emit(s, &w);
	lr_xbuf_free(&b);
}

static void st_error(xstream *s, const xerr *e)
{
	lr_xbuf b = {0};
	jw w;

	jw_init(&w, &b);
	err_emit(e, 0, &w);
	emit(s, &w);
	lr_xbuf_free(&b);
}

const xfmt lr_xf_ollama = {
	LR_XF_OLLAMA, "ollama",
	XF_TOP_K | XF_SEED | XF_PENALTIES | XF_JSON_MODE | XF_SCHEMA | XF_STOP, 1, 1,
	req_parse, req_emit, ans_parse, ans_emit, err_parse, err_emit, xo_app_status,
	ev_parse, st_text, st_tool_begin, st_tool_args, st_tool_end, st_end, st_error,
};
