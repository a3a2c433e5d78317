/*
 * lr_xlate_openai.c - OpenAI chat completions (and Azure OpenAI, the same
 * body on another path) to and from the neutral representation.
 *
 * Request: messages (system/developer, user, assistant with tool_calls,
 * tool), string or multi-part content (text, image_url with a URL or a
 * data: URL), max_tokens / max_completion_tokens, temperature, top_p,
 * stop, n, seed, penalties, logit_bias, logprobs, response_format, tools
 * (and the legacy functions), tool_choice, parallel_tool_calls, stream and
 * stream_options.include_usage.  Written back with max_tokens (the name
 * OpenAI-compatible servers share).  Answers: choices[0] only.  Streams:
 * chat.completion.chunk events, tool calls by index, the usage chunk,
 * data: [DONE].
 */
#include "lr_xlate_int.h"

#include <stdio.h>
#include <string.h>

/* ---- request ------------------------------------------------------------ */

static int content_parts(xreq *r, lr_span c)
{
	lr_json_iter it;
	lr_span part;

	if (XSTR(c)) {
		xr_part(r, XP_TEXT)->text = c;
		return 0;
	}
	if (!XSET(c) || lr_json_is_null(c))
		return 0;
	if (!XARRP(c))
		return LR_EPARSE;
	XARR(it, c, part) {
		lr_span type = lr_json_member(part, "type");
		if (XEQ(type, "text")) {
			lr_span t = lr_json_member(part, "text");
			if (!XSTR(t))
				return LR_EPARSE;
			xr_part(r, XP_TEXT)->text = t;
		} else if (XEQ(type, "refusal")) {
			lr_span t = lr_json_member(part, "refusal");
			if (XSTR(t))
				xr_part(r, XP_REFUSAL)->text = t;
		} else if (XEQ(type, "image_url")) {
			lr_span u = lr_json_member(part, "image_url");
			xpart *p;
			if (XOBJP(u))
				u = lr_json_member(u, "url");
			if (!XSTR(u))
				return LR_EPARSE;
			p = xr_part(r, XP_IMAGE);
			if (xr_data_url(&r->arena, u, &p->mime, &p->data) < 0) {
				r->arena.err = 0;
				p->url = u;
				r->features |= XF_IMAGE_URL;
			}
		} else {
			r->features |= XF_FILE;
		}
	}
	return 0;
}

static int tool_calls(xreq *r, lr_span v)
{
	lr_json_iter it;
	lr_span c;

	XARR(it, v, c) {
		lr_span fn = lr_json_member(c, "function"), args;
		xpart *p;
		if (!XOBJP(fn))
			return LR_EPARSE;
		p = xr_part(r, XP_CALL);
		p->id = lr_json_member(c, "id");
		p->name = lr_json_member(fn, "name");
		args = lr_json_member(fn, "arguments");
		if (!XSTR(p->name) || (XSET(p->id) && !XSTR(p->id)))
			return LR_EPARSE;
		if (!XSET(args))
			args = xa_lit("\"\"");
		if (!XSTR(args) || xr_args_object(&r->arena, args, &p->args) < 0) {
			snprintf(r->why, sizeof(r->why), "tool call arguments are not a JSON object");
			return LR_EINVAL;
		}
	}
	return 0;
}

static int message(xreq *r, lr_span m)
{
	lr_span role = lr_json_member(m, "role"), content = lr_json_member(m, "content");
	lr_span v;
	int rc;

	if (!XOBJP(m) || !XSTR(role))
		return LR_EPARSE;
	if (XEQ(role, "system") || XEQ(role, "developer"))
		xr_msg(r, XR_SYSTEM);
	else if (XEQ(role, "user"))
		xr_msg(r, XR_USER);
	else if (XEQ(role, "assistant"))
		xr_msg(r, XR_ASSISTANT);
	else if (XEQ(role, "tool") || XEQ(role, "function")) {
		xpart *p;
		lr_span texts[64];
		size_t n = 0;
		lr_json_iter it;
		xr_msg(r, XR_TOOL);
		p = xr_part(r, XP_RESULT);
		p->id = lr_json_member(m, "tool_call_id");
		if (XEQ(role, "function"))
			p->name = lr_json_member(m, "name");
		if (XARRP(content)) {
			XARR(it, content, v) {
				lr_span t = lr_json_member(v, "text");
				if (XSTR(t) && n < 64)
					texts[n++] = t;
			}
			content = xa_join(&r->arena, texts, n, "");
		}
		if (!XSTR(content) || (XSET(p->id) && !XSTR(p->id)) || (XSET(p->name) && !XSTR(p->name)))
			return LR_EPARSE;
		p->text = content;
		return 0;
	} else
		return LR_EPARSE;
	if ((rc = content_parts(r, content)) < 0)
		return rc;
	v = lr_json_member(m, "refusal");
	if (XSTR(v))
		xr_part(r, XP_REFUSAL)->text = v;
	v = lr_json_member(m, "tool_calls");
	if (XARRP(v) && (rc = tool_calls(r, v)) < 0)
		return rc;
	v = lr_json_member(m, "function_call");
	if (XOBJP(v)) {
		xpart *p = xr_part(r, XP_CALL);
		lr_span args = lr_json_member(v, "arguments");
		p->name = lr_json_member(v, "name");
		if (!XSTR(p->name) || !XSTR(args) || xr_args_object(&r->arena, args, &p->args) < 0)
			return LR_EPARSE;
	}
	return 0;
}

static int response_format(xreq *r, lr_span v)
{
	lr_span type = lr_json_member(v, "type"), js;

	if (XEQ(type, "json_object")) {
		r->json = 1;
		r->features |= XF_JSON_MODE;
	} else if (XEQ(type, "json_schema")) {
		js = lr_json_member(v, "json_schema");
		r->json = 2;
		r->features |= XF_SCHEMA;
		r->schema = lr_json_member(js, "schema");
		r->schema_name = lr_json_member(js, "name");
		if (!XOBJP(r->schema))
			r->schema = xa_lit("{}");
		if (!XSTR(r->schema_name))
			r->schema_name = (lr_span){0};
	} else if (!XEQ(type, "text")) {
		return LR_EPARSE;
	}
	return 0;
}

static int stops(xreq *r, lr_span v)
{
	lr_json_iter it;
	lr_span s;

	if (XSTR(v)) {
		r->stop[r->nstop++] = v;
	} else if (XARRP(v)) {
		XARR(it, v, s) {
			if (!XSTR(s))
				return LR_EPARSE;
			if (r->nstop == sizeof(r->stop) / sizeof(r->stop[0]))
				return LR_EPARSE;
			r->stop[r->nstop++] = s;
		}
	} else if (!lr_json_is_null(v)) {
		return LR_EPARSE;
	}
	if (r->nstop)
		r->features |= XF_STOP;
	return 0;
}

/* Members taken silently: hints that change nothing a target answers. */
static int quiet(lr_span k)
{
	static const char *const q[] = {"user", "metadata", "store", "service_tier",
		"prediction", "safety_identifier", "prompt_cache_key", "stream_options"};
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++)
		if (XEQ(k, q[i]))
			return 1;
	return 0;
}

static int member(xreq *r, lr_span k, lr_span v)
{
	lr_json_iter it;
	lr_span m;
	int rc = 0;

	if (XEQ(k, "model"))
		r->model = XSTR(v) ? v : r->model;
	else if (XEQ(k, "messages")) {
		if (!XARRP(v))
			return LR_EPARSE;
		XARR(it, v, m)
			if ((rc = message(r, m)) < 0)
				return rc;
	} else if (XEQ(k, "max_tokens") || XEQ(k, "max_completion_tokens"))
		r->max_tokens = XNUM(v) ? v : r->max_tokens;
	else if (XEQ(k, "temperature"))
		r->temperature = XNUM(v) ? v : r->temperature;
	else if (XEQ(k, "top_p"))
		r->top_p = XNUM(v) ? v : r->top_p;
	else if (XEQ(k, "seed") && XNUM(v))
		r->seed = v, r->features |= XF_SEED;
	else if (XEQ(k, "presence_penalty") && XNUM(v))
		r->presence = v, r->features |= XF_PENALTIES;
	else if (XEQ(k, "frequency_penalty") && XNUM(v))
		r->frequency = v, r->features |= XF_PENALTIES;
	else if (XEQ(k, "logit_bias") && XOBJP(v))
		r->features |= XF_LOGIT_BIAS;
	else if ((XEQ(k, "logprobs") && lr_json_is_true(v)) || (XEQ(k, "top_logprobs") && XNUM(v)))
		r->features |= XF_LOGPROBS;
	else if (XEQ(k, "n") && XNUM(v))
		r->n = (int)(xs_num(v) > 1 ? 2 : 1);
	else if (XEQ(k, "stop"))
		rc = stops(r, v);
	else if (XEQ(k, "response_format") && XOBJP(v))
		rc = response_format(r, v);
	else if (XEQ(k, "tools") || XEQ(k, "functions"))
		rc = xr_openai_tools(r, v, XEQ(k, "tools"));
	else if (XEQ(k, "tool_choice") || XEQ(k, "function_call"))
		rc = xr_openai_choice(r, v);
	else if (XEQ(k, "parallel_tool_calls"))
		r->parallel = lr_json_is_false(v) ? 0 : 1;
	else if (XEQ(k, "stream"))
		r->stream = lr_json_is_true(v);
	else if (XEQ(k, "reasoning_effort") || XEQ(k, "reasoning"))
		r->features |= XF_REASONING;
	else if (XEQ(k, "modalities") || XEQ(k, "audio"))
		r->features |= lr_json_is_null(v) ? 0 : XF_FILE;
	else if (XEQ(k, "web_search_options"))
		r->features |= XF_BUILTIN_TOOL;
	else if (!quiet(k) && !lr_json_is_null(v))
		xr_ignore(r, k);
	if (r->parallel == 0)
		r->features |= XF_SERIAL_TOOLS;
	return rc;
}

static int req_parse(xreq *r, lr_span body)
{
	lr_json_iter it;
	lr_span k, v, so;
	int rc;

	if (lr_json_iter_init(&it, body.p, body.len, 0) < 0)
		return LR_EPARSE;
	while ((rc = lr_json_obj_next(&it, &k, &v)) == 1)
		if ((rc = member(r, k, v)) < 0)
			return rc;
	if (rc < 0 || lr_json_skip_ws(body.p, body.len, it.pos) != (int)body.len)
		return LR_EPARSE;
	so = lr_json_member(body, "stream_options");
	r->include_usage = XOBJP(so) && lr_json_is_true(lr_json_member(so, "include_usage"));
	return 0;
}

/* Texts of a message: a string for one, parts for several. */
static void write_content(const xreq *r, const xmsg *m, jw *w, int images)
{
	size_t i, texts = 0, imgs = 0;
	const xpart *one = NULL;

	for (i = 0; i < m->n; i++) {
		const xpart *p = &r->parts[m->first + i];
		texts += p->kind == XP_TEXT;
		imgs += p->kind == XP_IMAGE;
		one = p->kind == XP_TEXT ? p : one;
	}
	jw_key(w, "content");
	if (texts == 1 && !(imgs && images)) {
		jw_raw(w, one->text);
		return;
	}
	if (!texts && !(imgs && images)) {
		if (m->role == XR_ASSISTANT)
			jw_null(w);
		else
			jw_raw(w, xa_lit("\"\""));
		return;
	}
	jw_arr(w);
	for (i = 0; i < m->n; i++) {
		const xpart *p = &r->parts[m->first + i];
		if (p->kind == XP_TEXT) {
			jw_obj(w);
			jw_kstr(w, "type", "text");
			jw_kraw(w, "text", p->text);
			jw_end(w);
		} else if (p->kind == XP_IMAGE && images) {
			jw_obj(w);
			jw_kstr(w, "type", "image_url");
			jw_key(w, "image_url");
			jw_obj(w);
			jw_key(w, "url");
			xw_image_url(w, p);
			jw_end(w);
			jw_end(w);
		}
	}
	jw_end(w);
}

static void write_result(xarena *a, const xpart *p, jw *w)
{
	jw_obj(w);
	jw_kstr(w, "role", "tool");
	jw_kraw(w, "tool_call_id", p->id);
	jw_key(w, "content");
	jw_raw(w, p->result_json ? xa_encode(a, p->text.p, p->text.len) : p->text);
	jw_end(w);
}

static void write_calls(xarena *a, const xreq *r, const xmsg *m, jw *w)
{
	size_t i, n = 0;

	for (i = 0; i < m->n; i++)
		n += r->parts[m->first + i].kind == XP_CALL;
	if (!n)
		return;
	jw_key(w, "tool_calls");
	jw_arr(w);
	for (i = 0; i < m->n; i++) {
		const xpart *p = &r->parts[m->first + i];
		if (p->kind != XP_CALL)
			continue;
		jw_obj(w);
		jw_kraw(w, "id", p->id);
		jw_kstr(w, "type", "function");
		jw_key(w, "function");
		jw_obj(w);
		jw_kraw(w, "name", p->name);
		jw_kraw(w, "arguments", xr_args_string(a, p->args));
		jw_end(w);
		jw_end(w);
	}
	jw_end(w);
}

static void write_message(const xreq *r, const xmsg *m, jw *w)
{
	static const char *const roles[] = {"system", "user", "assistant", "tool"};
	xarena *a = (xarena *)&r->arena;
	size_t i, rest = 0;

	for (i = 0; i < m->n; i++) {
		const xpart *p = &r->parts[m->first + i];
		if (p->kind == XP_RESULT)
			write_result(a, p, w);
		else if (p->kind >= 0)
			rest++;
	}
	if (!rest || m->role == XR_TOOL)
		return;
	jw_obj(w);
	jw_kstr(w, "role", roles[m->role]);
	write_content(r, m, w, m->role == XR_USER);
	for (i = 0; m->role == XR_ASSISTANT && i < m->n; i++)
		if (r->parts[m->first + i].kind == XP_REFUSAL)
			jw_kraw(w, "refusal", r->parts[m->first + i].text);
	if (m->role == XR_ASSISTANT)
		write_calls(a, r, m, w);
	jw_end(w);
}

static void write_tools(const xreq *r, jw *w)
{
	size_t i;

	if (!r->ntools)
		return;
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
	if (r->tool_choice == XTC_AUTO || r->tool_choice == XTC_NONE || r->tool_choice == XTC_ANY)
		jw_kstr(w, "tool_choice", r->tool_choice == XTC_AUTO ? "auto" :
			r->tool_choice == XTC_NONE ? "none" : "required");
	else if (r->tool_choice == XTC_NAMED) {
		jw_key(w, "tool_choice");
		jw_obj(w);
		jw_kstr(w, "type", "function");
		jw_key(w, "function");
		jw_obj(w);
		jw_kraw(w, "name", r->tool_choice_name);
		jw_end(w);
		jw_end(w);
	}
	if (r->parallel == 0)
		jw_kraw(w, "parallel_tool_calls", xa_lit("false"));
}

static int req_emit(const xreq *r, const lr_xlate_opts *o, jw *w)
{
	size_t i;

	jw_obj(w);
	if (o->target != LR_XF_AZURE)
		jw_kraw(w, "model", r->model);
	jw_key(w, "messages");
	jw_arr(w);
	for (i = 0; i < r->nmsgs; i++)
		write_message(r, &r->msgs[i], w);
	jw_end(w);
	if (XSET(r->max_tokens))
		jw_kraw(w, "max_tokens", r->max_tokens);
	if (XSET(r->temperature))
		jw_kraw(w, "temperature", r->temperature);
	if (XSET(r->top_p))
		jw_kraw(w, "top_p", r->top_p);
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
	if (r->json) {
		jw_key(w, "response_format");
		jw_obj(w);
		jw_kstr(w, "type", r->json == 1 ? "json_object" : "json_schema");
		if (r->json == 2) {
			jw_key(w, "json_schema");
			jw_obj(w);
			jw_kraw(w, "name", XSET(r->schema_name) ? r->schema_name : xa_lit("\"response\""));
			jw_kraw(w, "schema", r->schema);
			jw_end(w);
		}
		jw_end(w);
	}
	write_tools(r, w);
	if (r->stream) {
		jw_kraw(w, "stream", xa_lit("true"));
		jw_kraw(w, "stream_options", xa_lit("{\"include_usage\":true}"));
	}
	jw_end(w);
	return 0;
}

/* ---- answers ------------------------------------------------------------ */

static int finish_of(lr_span f)
{
	if (XEQ(f, "stop"))
		return XFIN_STOP;
	if (XEQ(f, "length"))
		return XFIN_LENGTH;
	if (XEQ(f, "tool_calls") || XEQ(f, "function_call"))
		return XFIN_TOOL;
	if (XEQ(f, "content_filter"))
		return XFIN_FILTER;
	return XSTR(f) ? XFIN_STOP : XFIN_NONE;
}

static const char *finish_name(int fin)
{
	switch (fin) {
	case XFIN_LENGTH: return "length";
	case XFIN_TOOL: return "tool_calls";
	case XFIN_FILTER: case XFIN_REFUSAL: return "content_filter";
	}
	return "stop";
}

static void usage_of(lr_span u, long long *in, long long *out, long long *cached)
{
	lr_span d = lr_json_member(u, "prompt_tokens_details");

	if (!XOBJP(u))
		return;
	*in = xs_num(lr_json_member(u, "prompt_tokens"));
	*out = xs_num(lr_json_member(u, "completion_tokens"));
	if (XOBJP(d))
		*cached = xs_num(lr_json_member(d, "cached_tokens"));
}

static int ans_parse(xans *a, lr_span body)
{
	lr_json_iter it;
	lr_span choices, ch = {0}, msg, v, c;

	if (!XOBJP(body))
		return LR_EPARSE;
	choices = lr_json_member(body, "choices");
	if (!XARRP(choices) || lr_json_arr_init(&it, choices.p, choices.len, 0) < 0 ||
	    lr_json_arr_next(&it, &ch) != 1 || !XOBJP(ch))
		return LR_EPARSE;
	a->id = lr_json_member(body, "id");
	a->model = lr_json_member(body, "model");
	a->id = XSTR(a->id) ? a->id : (lr_span){0};
	a->model = XSTR(a->model) ? a->model : (lr_span){0};
	msg = lr_json_member(ch, "message");
	if (!XOBJP(msg))
		return LR_EPARSE;
	v = lr_json_member(msg, "content");
	if (XSTR(v))
		xa_part(a, XP_TEXT)->text = v;
	else if (XARRP(v))
		XARR(it, v, c) {
			lr_span t = lr_json_member(c, "text");
			if (XSTR(t))
				xa_part(a, XP_TEXT)->text = t;
		}
	v = lr_json_member(msg, "refusal");
	if (XSTR(v))
		xa_part(a, XP_REFUSAL)->text = v;
	v = lr_json_member(msg, "tool_calls");
	if (XARRP(v))
		XARR(it, v, c) {
			lr_span fn = lr_json_member(c, "function"), args;
			xpart *p = xa_part(a, XP_CALL);
			p->id = lr_json_member(c, "id");
			p->name = lr_json_member(fn, "name");
			args = lr_json_member(fn, "arguments");
			if (!XSTR(p->name) || (XSET(p->id) && !XSTR(p->id)))
				return LR_EPARSE;
			if (!XSET(p->id))
				p->id = xa_lit("\"call_0\"");
			if (!XSTR(args) || xr_args_object(&a->arena, args, &p->args) < 0)
				return LR_EINVAL;
		}
	a->finish = finish_of(lr_json_member(ch, "finish_reason"));
	usage_of(lr_json_member(body, "usage"), &a->in, &a->out, &a->cached);
	return 0;
}

static void usage_json(jw *w, long long in, long long out, long long cached)
{
	jw_key(w, "usage");
	jw_obj(w);
	jw_kint(w, "prompt_tokens", in < 0 ? 0 : in);
	jw_kint(w, "completion_tokens", out < 0 ? 0 : out);
	jw_kint(w, "total_tokens", (in < 0 ? 0 : in) + (out < 0 ? 0 : out));
	if (cached >= 0) {
		jw_key(w, "prompt_tokens_details");
		jw_obj(w);
		jw_kint(w, "cached_tokens", cached);
		jw_end(w);
	}
	jw_end(w);
}

static void ans_emit(const xans *a, const lr_xlate_ctx *c, jw *w)
{
	xarena *ar = (xarena *)&a->arena;
	lr_span texts[256], refusal = {0};
	size_t i, nt = 0, ncalls = 0;
	int fin = a->finish;

	for (i = 0; i < a->nparts; i++) {
		if (a->parts[i].kind == XP_TEXT && nt < 256)
			texts[nt++] = a->parts[i].text;
		if (a->parts[i].kind == XP_REFUSAL)
			refusal = a->parts[i].text;
		ncalls += a->parts[i].kind == XP_CALL;
	}
	if (ncalls && (fin == XFIN_STOP || fin == XFIN_NONE))
		fin = XFIN_TOOL;
	jw_obj(w);
	jw_kraw(w, "id", XSET(a->id) ? a->id : xa_lit("\"chatcmpl-llmroute\""));
	jw_kstr(w, "object", "chat.completion");
	jw_kint(w, "created", c->created);
	jw_kraw(w, "model", XSET(a->model) ? a->model : xa_lit("\"\""));
	jw_key(w, "choices");
	jw_arr(w);
	jw_obj(w);
	jw_kint(w, "index", 0);
	jw_key(w, "message");
	jw_obj(w);
	jw_kstr(w, "role", "assistant");
	jw_key(w, "content");
	if (nt == 1)
		jw_raw(w, texts[0]);
	else if (nt)
		jw_raw(w, xa_join(ar, texts, nt, ""));
	else
		jw_null(w);
	jw_key(w, "refusal");
	jw_raw(w, refusal);
	if (ncalls) {
		jw_key(w, "tool_calls");
		jw_arr(w);
		for (i = 0; i < a->nparts; i++) {
			const xpart *p = &a->parts[i];
			if (p->kind != XP_CALL)
				continue;
			jw_obj(w);
			jw_kraw(w, "id", p->id);
			jw_kstr(w, "type", "function");
			jw_key(w, "function");
			jw_obj(w);
			jw_kraw(w, "name", p->name);
			jw_kraw(w, "arguments", xr_args_string(ar, p->args));
			jw_end(w);
			jw_end(w);
		}
		jw_end(w);
	}
	jw_end(w);
	jw_kraw(w, "logprobs", (lr_span){0});
	jw_kstr(w, "finish_reason", finish_name(fin == XFIN_NONE ? XFIN_STOP : fin));
	jw_end(w);
	jw_end(w);
	if (a->in >= 0 || a->out >= 0)
		usage_json(w, a->in, a->out, a->cached);
	jw_end(w);
}

/* ---- errors ------------------------------------------------------------- */

int xo_err_parse(lr_span body, xerr *e)
{
	lr_span err = lr_json_member(body, "error"), v;
	int cls;

	if (!XOBJP(err)) {
		/* Responses stream errors: {"type":"error","code":..,"message":..} */
		if (!XEQ(lr_json_member(body, "type"), "error"))
			return LR_ENOTFOUND;
		err = body;
	}
	v = lr_json_member(err, "message");
	e->message = XSTR(v) ? v : (lr_span){0};
	if ((cls = xe_class_of_type(lr_json_member(err, "code"))) >= 0 ||
	    (cls = xe_class_of_type(lr_json_member(err, "type"))) >= 0)
		e->cls = cls;
	return 0;
}

const char *xe_openai_type(int cls)
{
	switch (cls) {
	case XE_AUTH: return "authentication_error";
	case XE_PERMISSION: return "permission_error";
	case XE_NOT_FOUND: return "not_found_error";
	case XE_RATE: return "rate_limit_error";
	case XE_OVERLOADED: case XE_SERVER: return "server_error";
	case XE_TIMEOUT: return "timeout_error";
	}
	return "invalid_request_error";
}

static const char *openai_code(int cls)
{
	switch (cls) {
	case XE_AUTH: return "invalid_api_key";
	case XE_NOT_FOUND: return "model_not_found";
	case XE_TOO_LARGE: return "request_too_large";
	case XE_RATE: return "rate_limit_exceeded";
	case XE_OVERLOADED: return "service_unavailable";
	}
	return NULL;
}

void xo_err_emit(const xerr *e, int status, jw *w)
{
	const char *code = openai_code(e->cls);

	(void)status;
	jw_obj(w);
	jw_key(w, "error");
	jw_obj(w);
	jw_key(w, "message");
	if (XSET(e->message))
		jw_raw(w, e->message);
	else
		jw_str(w, e->plain ? e->plain : "");
	jw_kstr(w, "type", xe_openai_type(e->cls));
	jw_kraw(w, "param", (lr_span){0});
	jw_key(w, "code");
	if (code)
		jw_str(w, code);
	else
		jw_null(w);
	jw_end(w);
	jw_end(w);
}

int xo_app_status(int cls)
{
	static const int st[] = {400, 401, 403, 404, 413, 429, 503, 500, 504};
	return cls >= 0 && cls <= XE_TIMEOUT ? st[cls] : 500;
}

/* ---- streams: the target's events --------------------------------------- */

static void ev_tool_deltas(xstream *s, lr_span arr)
{
	lr_json_iter it;
	lr_span d;

	XARR(it, arr, d) {
		lr_span fn = lr_json_member(d, "function");
		long key = (long)xs_num(lr_json_member(d, "index"));
		lr_span id = lr_json_member(d, "id"), name = lr_json_member(fn, "name");
		xtoolst *t = xs_tool_find(s, key);
		if (!t && (XSTR(id) || XSTR(name)))
			t = xs_tool_begin(s, key, id, name);
		if (t)
			xs_tool_args(s, t, lr_json_member(fn, "arguments"));
	}
}

static void ev_parse(xstream *s, const char *event, lr_span d)
{
	lr_json_iter it;
	lr_span ch, delta, v, choices;
	xerr e = {XE_SERVER, {0}, NULL};
	long long in = -1, out = -1, cached = -1;

	if (event && strcmp(event, "[DONE]") == 0) {
		xs_end(s);
		return;
	}
	if (xo_err_parse(d, &e) == 0) {
		xs_fail(s, e.cls, e.message, NULL);
		return;
	}
	xs_meta(s, lr_json_member(d, "id"), lr_json_member(d, "model"));
	choices = lr_json_member(d, "choices");
	if (XARRP(choices))
		XARR(it, choices, ch) {
			if (xs_num(lr_json_member(ch, "index")) > 0)
				continue;
			delta = lr_json_member(ch, "delta");
			xs_text(s, lr_json_member(delta, "content"));
			xs_refusal(s, lr_json_member(delta, "refusal"));
			v = lr_json_member(delta, "tool_calls");
			if (XARRP(v))
				ev_tool_deltas(s, v);
			v = lr_json_member(ch, "finish_reason");
			if (XSTR(v))
				xs_finish(s, finish_of(v));
		}
	usage_of(lr_json_member(d, "usage"), &in, &out, &cached);
	xs_usage(s, in, out, cached, -1);
}

/* ---- streams: the app's events ------------------------------------------ */

/* {"id":..,"object":"chat.completion.chunk",...,"choices":[{"index":0,"delta":{ */
static void chunk_open(xstream *s, jw *w)
{
	jw_obj(w);
	jw_key(w, "id");
	jw_str(w, s->id[0] ? s->id : "chatcmpl-llmroute");
	jw_kstr(w, "object", "chat.completion.chunk");
	jw_kint(w, "created", s->c.created);
	jw_kstr(w, "model", s->model);
	jw_key(w, "choices");
	jw_arr(w);
	jw_obj(w);
	jw_kint(w, "index", 0);
	jw_key(w, "delta");
	jw_obj(w);
	if (!s->chunks++)
		jw_kstr(w, "role", "assistant");
}

static void chunk_close(xstream *s, jw *w, const char *finish)
{
	lr_xbuf b = {0};

	jw_end(w);
	jw_kraw(w, "logprobs", (lr_span){0});
	jw_key(w, "finish_reason");
	if (finish)
		jw_str(w, finish);
	else
		jw_null(w);
	jw_end(w);
	jw_end(w);
	jw_end(w);
	if (w->err) {
		s->err = w->err;
		return;
	}
	b = *w->b;
	xs_write_sse(s, NULL, &b);
	w->b->len = 0;
}

static void st_text(xstream *s, lr_span tok, int refusal)
{
	lr_xbuf b = {0};
	jw w;

	jw_init(&w, &b);
	chunk_open(s, &w);
	jw_kraw(&w, refusal ? "refusal" : "content", tok);
	chunk_close(s, &w, NULL);
	lr_xbuf_free(&b);
}

static void tool_delta(xstream *s, xtoolst *t, lr_span frag, int first)
{
	lr_xbuf b = {0};
	jw w;

	jw_init(&w, &b);
	chunk_open(s, &w);
	jw_key(&w, "tool_calls");
	jw_arr(&w);
	jw_obj(&w);
	jw_kint(&w, "index", t->app_index);
	if (first) {
		jw_kstr(&w, "id", t->id);
		jw_kstr(&w, "type", "function");
	}
	jw_key(&w, "function");
	jw_obj(&w);
	if (first)
		jw_kstr(&w, "name", t->name);
	jw_kraw(&w, "arguments", first ? xa_lit("\"\"") : frag);
	jw_end(&w);
	jw_end(&w);
	jw_end(&w);
	chunk_close(s, &w, NULL);
	lr_xbuf_free(&b);
}

static void st_tool_begin(xstream *s, xtoolst *t) { tool_delta(s, t, (lr_span){0}, 1); }
static void st_tool_args(xstream *s, xtoolst *t, lr_span frag) { tool_delta(s, t, frag, 0); }
static void st_tool_end(xstream *s, xtoolst *t, lr_span args) { (void)s; (void)t; (void)args; }

static void st_end(xstream *s)
{
	lr_xbuf b = {0};
	jw w;

	jw_init(&w, &b);
	chunk_open(s, &w);
	chunk_close(s, &w, finish_name(s->finish));
	if (s->c.include_usage) {
		jw_init(&w, &b);
		jw_obj(&w);
		jw_key(&w, "id");
		jw_str(&w, s->id[0] ? s->id : "chatcmpl-llmroute");
		jw_kstr(&w, "object", "chat.completion.chunk");
		jw_kint(&w, "created", s->c.created);
		jw_kstr(&w, "model", s->model);
		jw_kraw(&w, "choices", xa_lit("[]"));
		usage_json(&w, s->in, s->out, s->cached);
		jw_end(&w);
		if (w.err)
			s->err = w.err;
		else
			xs_write_sse(s, NULL, &b);
	}
	b.len = 0;
	xbuf_put(&b, "[DONE]", 6);
	xs_write_sse(s, NULL, &b);
	lr_xbuf_free(&b);
}

static void st_error(xstream *s, const xerr *e)
{
	lr_xbuf b = {0};
	jw w;

	jw_init(&w, &b);
	xo_err_emit(e, 0, &w);
	if (w.err)
		s->err = w.err;
	else
		xs_write_sse(s, NULL, &b);
	lr_xbuf_free(&b);
}

#define OPENAI_CAN (XF_SEED | XF_PENALTIES | XF_LOGIT_BIAS | XF_JSON_MODE | XF_SCHEMA | \
	XF_STOP | XF_IMAGE_URL | XF_SERIAL_TOOLS | XF_TOOL_FORCE)

const xfmt lr_xf_openai = {
	LR_XF_OPENAI, "openai", OPENAI_CAN, 0, 0,
	req_parse, req_emit, ans_parse, ans_emit, xo_err_parse, xo_err_emit, xo_app_status,
	ev_parse, st_text, st_tool_begin, st_tool_args, st_tool_end, st_end, st_error,
};

const xfmt lr_xf_azure = {
	LR_XF_AZURE, "azure", OPENAI_CAN, 0, 0,
	req_parse, req_emit, ans_parse, ans_emit, xo_err_parse, xo_err_emit, xo_app_status,
	ev_parse, st_text, st_tool_begin, st_tool_args, st_tool_end, st_end, st_error,
};
