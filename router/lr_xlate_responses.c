/*
 * lr_xlate_responses.c - the OpenAI Responses API to and from the neutral
 * representation.
 *
 * Request: instructions; input as a string or items (messages with
 * input_text / output_text / input_image parts, function_call,
 * function_call_output); max_output_tokens, temperature, top_p,
 * text.format (json_object, json_schema), function tools, tool_choice,
 * parallel_tool_calls, stream.  previous_response_id and other server-side
 * state cannot be translated (the other formats are stateless).  Written
 * with "store": false: a translated request did not ask the provider to
 * keep it.  Answers: the message items' text and refusal parts and the
 * function_call items; status "incomplete" carries the reason.  Streams:
 * the typed events (response.created, output_item.added,
 * output_text.delta, function_call_arguments.delta, ..., response.completed);
 * as the app's format, the text and arguments are kept (up to
 * LR_XLATE_MAX_HOLD) because the closing events repeat them whole.
 */
#include "lr_xlate_int.h"

#include <stdio.h>
#include <string.h>

/* ---- request ------------------------------------------------------------ */

static int content(xreq *r, lr_span c)
{
	lr_json_iter it;
	lr_span part;

	if (XSTR(c)) {
		xr_part(r, XP_TEXT)->text = c;
		return 0;
	}
	if (!XARRP(c))
		return LR_EPARSE;
	XARR(it, c, part) {
		lr_span type = lr_json_member(part, "type");
		if (XEQ(type, "input_text") || XEQ(type, "output_text") || XEQ(type, "text")) {
			lr_span t = lr_json_member(part, "text");
			if (!XSTR(t))
				return LR_EPARSE;
			xr_part(r, XP_TEXT)->text = t;
		} else if (XEQ(type, "refusal")) {
			lr_span t = lr_json_member(part, "refusal");
			if (XSTR(t))
				xr_part(r, XP_REFUSAL)->text = t;
		} else if (XEQ(type, "input_image") && XSTR(lr_json_member(part, "image_url"))) {
			lr_span u = lr_json_member(part, "image_url");
			xpart *p = xr_part(r, XP_IMAGE);
			if (xr_data_url(&r->arena, u, &p->mime, &p->data) < 0) {
				r->arena.err = 0;
				p->url = u;
				r->features |= XF_IMAGE_URL;
			}
		} else {
			r->features |= XF_FILE;  /* input_file, input_audio, an image by file_id */
		}
	}
	return 0;
}

/* The message to add a call or a result to: the last one if it has the
 * role, else a new one. */
static void into(xreq *r, int role)
{
	if (!r->nmsgs || r->msgs[r->nmsgs - 1].role != role)
		xr_msg(r, role);
}

static int item(xreq *r, lr_span it)
{
	lr_span type = lr_json_member(it, "type"), role = lr_json_member(it, "role");
	xpart *p;

	if (!XOBJP(it))
		return LR_EPARSE;
	if (XSTR(role) && (!XSET(type) || XEQ(type, "message"))) {
		if (XEQ(role, "user"))
			xr_msg(r, XR_USER);
		else if (XEQ(role, "assistant"))
			xr_msg(r, XR_ASSISTANT);
		else if (XEQ(role, "system") || XEQ(role, "developer"))
			xr_msg(r, XR_SYSTEM);
		else
			return LR_EPARSE;
		return content(r, lr_json_member(it, "content"));
	}
	if (XEQ(type, "function_call")) {
		lr_span args = lr_json_member(it, "arguments");
		into(r, XR_ASSISTANT);
		p = xr_part(r, XP_CALL);
		p->id = lr_json_member(it, "call_id");
		p->name = lr_json_member(it, "name");
		if (!XSTR(p->id) || !XSTR(p->name) || !XSTR(args))
			return LR_EPARSE;
		if (xr_args_object(&r->arena, args, &p->args) < 0) {
			snprintf(r->why, sizeof(r->why), "tool call arguments are not a JSON object");
			return LR_EINVAL;
		}
		return 0;
	}
	if (XEQ(type, "function_call_output")) {
		lr_span out = lr_json_member(it, "output");
		into(r, XR_TOOL);
		p = xr_part(r, XP_RESULT);
		p->id = lr_json_member(it, "call_id");
		if (XARRP(out)) {
			lr_span texts[64], x;
			size_t n = 0;
			lr_json_iter i2;
			XARR(i2, out, x) {
				lr_span t = lr_json_member(x, "text");
				if (XSTR(t) && n < 64)
					texts[n++] = t;
				else
					r->features |= XF_RESULT_IMAGE;
			}
			out = xa_join(&r->arena, texts, n, "\n");
		}
		if (!XSTR(p->id) || !XSTR(out))
			return LR_EPARSE;
		p->text = out;
		return 0;
	}
	if (XEQ(type, "reasoning"))
		return 0;
	if (XEQ(type, "item_reference"))
		r->features |= XF_STATE;
	else
		r->features |= XF_BUILTIN_TOOL;  /* web_search_call, computer_call, ... */
	return 0;
}

static int input(xreq *r, lr_span v)
{
	lr_json_iter it;
	lr_span x;
	int rc;

	if (XSTR(v)) {
		xr_msg(r, XR_USER);
		xr_part(r, XP_TEXT)->text = v;
		return 0;
	}
	if (!XARRP(v))
		return LR_EPARSE;
	XARR(it, v, x)
		if ((rc = item(r, x)) < 0)
			return rc;
	return 0;
}

static int text_format(xreq *r, lr_span t)
{
	lr_span f = lr_json_member(t, "format"), type = lr_json_member(f, "type");

	if (XEQ(type, "json_object"))
		r->json = 1, r->features |= XF_JSON_MODE;
	else if (XEQ(type, "json_schema")) {
		r->json = 2;
		r->features |= XF_SCHEMA;
		r->schema = lr_json_member(f, "schema");
		r->schema_name = lr_json_member(f, "name");
		if (!XOBJP(r->schema))
			r->schema = xa_lit("{}");
		if (!XSTR(r->schema_name))
			r->schema_name = (lr_span){0};
	}
	return 0;
}

static int quiet(lr_span k)
{
	static const char *const q[] = {"store", "metadata", "user", "service_tier", "truncation",
		"include", "prompt_cache_key", "safety_identifier", "max_tool_calls", "stream_options"};
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++)
		if (XEQ(k, q[i]))
			return 1;
	return 0;
}

static int member(xreq *r, lr_span k, lr_span v)
{
	if (XEQ(k, "model"))
		r->model = XSTR(v) ? v : r->model;
	else if (XEQ(k, "input"))
		return input(r, v);
	else if (XEQ(k, "max_output_tokens"))
		r->max_tokens = XNUM(v) ? v : r->max_tokens;
	else if (XEQ(k, "temperature"))
		r->temperature = XNUM(v) ? v : r->temperature;
	else if (XEQ(k, "top_p"))
		r->top_p = XNUM(v) ? v : r->top_p;
	else if (XEQ(k, "text") && XOBJP(v))
		return text_format(r, v);
	else if (XEQ(k, "tools"))
		return xr_openai_tools(r, v, 0);
	else if (XEQ(k, "tool_choice"))
		return xr_openai_choice(r, v);
	else if (XEQ(k, "parallel_tool_calls")) {
		r->parallel = lr_json_is_false(v) ? 0 : 1;
		if (!r->parallel)
			r->features |= XF_SERIAL_TOOLS;
	} else if (XEQ(k, "stream"))
		r->stream = lr_json_is_true(v);
	else if (XEQ(k, "previous_response_id") || XEQ(k, "conversation") || XEQ(k, "prompt") ||
		 XEQ(k, "background"))
		r->features |= lr_json_is_null(v) || lr_json_is_false(v) ? 0 : XF_STATE;
	else if (XEQ(k, "reasoning"))
		r->features |= lr_json_is_null(v) ? 0 : XF_REASONING;
	else if (XEQ(k, "top_logprobs"))
		r->features |= XF_LOGPROBS;
	else if (!XEQ(k, "instructions") && !quiet(k) && !lr_json_is_null(v))
		xr_ignore(r, k);
	return 0;
}

static int req_parse(xreq *r, lr_span body)
{
	lr_json_iter it;
	lr_span k, v, ins = {0};
	int rc;

	if (lr_json_iter_init(&it, body.p, body.len, 0) < 0)
		return LR_EPARSE;
	while ((rc = lr_json_obj_next(&it, &k, &v)) == 1)
		if (XEQ(k, "instructions"))
			ins = v;
	if (rc < 0 || lr_json_skip_ws(body.p, body.len, it.pos) != (int)body.len)
		return LR_EPARSE;
	if (XSTR(ins)) {
		xr_msg(r, XR_SYSTEM);
		xr_part(r, XP_TEXT)->text = ins;
	}
	lr_json_iter_init(&it, body.p, body.len, 0);
	while ((rc = lr_json_obj_next(&it, &k, &v)) == 1)
		if ((rc = member(r, k, v)) < 0)
			return rc;
	return rc < 0 ? rc : 0;
}

static int plain_part(int kind)
{
	return kind == XP_TEXT || kind == XP_REFUSAL || kind == XP_IMAGE;
}

/* One message item of the parts [from, to) of m that are plain content. */
static void write_parts(const xreq *r, const xmsg *m, size_t from, size_t to, jw *w)
{
	int asst = m->role == XR_ASSISTANT;
	size_t i;

	jw_obj(w);
	jw_kstr(w, "role", asst ? "assistant" : "user");
	jw_key(w, "content");
	jw_arr(w);
	for (i = from; i < to; i++) {
		const xpart *p = &r->parts[m->first + i];
		if (p->kind == XP_TEXT) {
			jw_obj(w);
			jw_kstr(w, "type", asst ? "output_text" : "input_text");
			jw_kraw(w, "text", p->text);
			jw_end(w);
		} else if (p->kind == XP_REFUSAL && asst) {
			jw_obj(w);
			jw_kstr(w, "type", "refusal");
			jw_kraw(w, "refusal", p->text);
			jw_end(w);
		} else if (p->kind == XP_IMAGE && !asst) {
			jw_obj(w);
			jw_kstr(w, "type", "input_image");
			jw_key(w, "image_url");
			xw_image_url(w, p);
			jw_end(w);
		}
	}
	jw_end(w);
	jw_end(w);
}

static void write_items(const xreq *r, const xmsg *m, jw *w)
{
	xarena *a = (xarena *)&r->arena;
	size_t i, run;

	/* in order: runs of plain content become message items, calls and
	 * results items of their own */
	for (i = 0; i < m->n; i++) {
		const xpart *p = &r->parts[m->first + i];
		if (plain_part(p->kind)) {
			for (run = i; run < m->n && plain_part(r->parts[m->first + run].kind); run++)
				;
			write_parts(r, m, i, run, w);
			i = run - 1;
		} else if (p->kind == XP_CALL) {
			jw_obj(w);
			jw_kstr(w, "type", "function_call");
			jw_kraw(w, "call_id", p->id);
			jw_kraw(w, "name", p->name);
			jw_kraw(w, "arguments", xr_args_string(a, p->args));
			jw_end(w);
		} else if (p->kind == XP_RESULT) {
			jw_obj(w);
			jw_kstr(w, "type", "function_call_output");
			jw_kraw(w, "call_id", p->id);
			jw_kraw(w, "output", p->result_json ? xa_encode(a, p->text.p, p->text.len) : p->text);
			jw_end(w);
		}
	}
}

static void write_instructions(const xreq *r, jw *w)
{
	lr_span texts[64];
	size_t i, j, n = 0;

	for (i = 0; i < r->nmsgs; i++)
		for (j = 0; r->msgs[i].role == XR_SYSTEM && j < r->msgs[i].n; j++)
			if (r->parts[r->msgs[i].first + j].kind == XP_TEXT && n < 64)
				texts[n++] = r->parts[r->msgs[i].first + j].text;
	if (n)
		jw_kraw(w, "instructions", n == 1 ? texts[0] : xa_join((xarena *)&r->arena, texts, n, "\n\n"));
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
		jw_kraw(w, "name", r->tools[i].name);
		if (XSET(r->tools[i].desc))
			jw_kraw(w, "description", r->tools[i].desc);
		jw_kraw(w, "parameters", XSET(r->tools[i].params) ? r->tools[i].params :
			xa_lit("{\"type\":\"object\",\"properties\":{}}"));
		jw_kraw(w, "strict", xa_lit("false"));
		jw_end(w);
	}
	jw_end(w);
	if (r->tool_choice == XTC_NAMED) {
		jw_key(w, "tool_choice");
		jw_obj(w);
		jw_kstr(w, "type", "function");
		jw_kraw(w, "name", r->tool_choice_name);
		jw_end(w);
	} else if (r->tool_choice != XTC_DEFAULT) {
		jw_kstr(w, "tool_choice", r->tool_choice == XTC_NONE ? "none" :
			r->tool_choice == XTC_ANY ? "required" : "auto");
	}
	if (r->parallel == 0)
		jw_kraw(w, "parallel_tool_calls", xa_lit("false"));
}

static int req_emit(const xreq *r, const lr_xlate_opts *o, jw *w)
{
	size_t i;

	(void)o;
	jw_obj(w);
	jw_kraw(w, "model", r->model);
	write_instructions(r, w);
	jw_key(w, "input");
	jw_arr(w);
	for (i = 0; i < r->nmsgs; i++)
		if (r->msgs[i].role != XR_SYSTEM)
			write_items(r, &r->msgs[i], w);
	jw_end(w);
	if (XSET(r->max_tokens))
		jw_kraw(w, "max_output_tokens", r->max_tokens);
	if (XSET(r->temperature))
		jw_kraw(w, "temperature", r->temperature);
	if (XSET(r->top_p))
		jw_kraw(w, "top_p", r->top_p);
	if (r->json) {
		jw_key(w, "text");
		jw_obj(w);
		jw_key(w, "format");
		jw_obj(w);
		jw_kstr(w, "type", r->json == 1 ? "json_object" : "json_schema");
		if (r->json == 2) {
			jw_kraw(w, "name", XSET(r->schema_name) ? r->schema_name : xa_lit("\"response\""));
			jw_kraw(w, "schema", r->schema);
		}
		jw_end(w);
		jw_end(w);
	}
	write_tools(r, w);
	if (r->stream)
		jw_kraw(w, "stream", xa_lit("true"));
	jw_kraw(w, "store", xa_lit("false"));
	jw_end(w);
	return 0;
}

/* ---- answers ------------------------------------------------------------ */

static int finish_of(lr_span status, lr_span details)
{
	lr_span reason = lr_json_member(details, "reason");

	if (XEQ(status, "incomplete"))
		return XEQ(reason, "content_filter") ? XFIN_FILTER : XFIN_LENGTH;
	return XSTR(status) ? XFIN_STOP : XFIN_NONE;
}

static void usage_of(lr_span u, long long *in, long long *out, long long *cached)
{
	lr_span d = lr_json_member(u, "input_tokens_details");

	if (!XOBJP(u))
		return;
	*in = xs_num(lr_json_member(u, "input_tokens"));
	*out = xs_num(lr_json_member(u, "output_tokens"));
	if (XOBJP(d))
		*cached = xs_num(lr_json_member(d, "cached_tokens"));
}

static int output_item(xans *a, lr_span it)
{
	lr_json_iter i2;
	lr_span type = lr_json_member(it, "type"), c, part;

	if (XEQ(type, "message")) {
		c = lr_json_member(it, "content");
		if (XARRP(c))
			XARR(i2, c, part) {
				lr_span pt = lr_json_member(part, "type");
				if (XEQ(pt, "output_text") && XSTR(lr_json_member(part, "text")))
					xa_part(a, XP_TEXT)->text = lr_json_member(part, "text");
				else if (XEQ(pt, "refusal") && XSTR(lr_json_member(part, "refusal")))
					xa_part(a, XP_REFUSAL)->text = lr_json_member(part, "refusal");
			}
	} else if (XEQ(type, "function_call")) {
		xpart *p = xa_part(a, XP_CALL);
		lr_span args = lr_json_member(it, "arguments");
		p->id = lr_json_member(it, "call_id");
		p->name = lr_json_member(it, "name");
		if (!XSTR(p->id) || !XSTR(p->name) || !XSTR(args))
			return LR_EPARSE;
		if (xr_args_object(&a->arena, args, &p->args) < 0)
			return LR_EINVAL;
	}
	return 0;
}

static int ans_parse(xans *a, lr_span body)
{
	lr_json_iter it;
	lr_span out, x, status;
	int rc;

	if (!XOBJP(body))
		return LR_EPARSE;
	out = lr_json_member(body, "output");
	status = lr_json_member(body, "status");
	if (!XARRP(out) || XEQ(status, "failed"))
		return LR_EPARSE;
	a->id = lr_json_member(body, "id");
	a->model = lr_json_member(body, "model");
	a->id = XSTR(a->id) ? a->id : (lr_span){0};
	a->model = XSTR(a->model) ? a->model : (lr_span){0};
	XARR(it, out, x)
		if ((rc = output_item(a, x)) < 0)
			return rc;
	a->finish = finish_of(status, lr_json_member(body, "incomplete_details"));
	usage_of(lr_json_member(body, "usage"), &a->in, &a->out, &a->cached);
	return 0;
}

static void usage_json(jw *w, long long in, long long out, long long cached)
{
	in = in < 0 ? 0 : in;
	out = out < 0 ? 0 : out;
	jw_key(w, "usage");
	jw_obj(w);
	jw_kint(w, "input_tokens", in);
	jw_key(w, "input_tokens_details");
	jw_obj(w);
	jw_kint(w, "cached_tokens", cached < 0 ? 0 : cached);
	jw_end(w);
	jw_kint(w, "output_tokens", out);
	jw_kraw(w, "output_tokens_details", xa_lit("{\"reasoning_tokens\":0}"));
	jw_kint(w, "total_tokens", in + out);
	jw_end(w);
}

static void message_item(jw *w, const lr_span *texts, size_t nt, lr_span refusal, int done)
{
	size_t i;

	jw_obj(w);
	jw_kstr(w, "type", "message");
	jw_kstr(w, "id", "msg_llmroute");
	jw_kstr(w, "status", done ? "completed" : "in_progress");
	jw_kstr(w, "role", "assistant");
	jw_key(w, "content");
	jw_arr(w);
	for (i = 0; i < nt; i++) {
		jw_obj(w);
		jw_kstr(w, "type", "output_text");
		jw_kraw(w, "text", texts[i]);
		jw_kraw(w, "annotations", xa_lit("[]"));
		jw_end(w);
	}
	if (XSET(refusal)) {
		jw_obj(w);
		jw_kstr(w, "type", "refusal");
		jw_kraw(w, "refusal", refusal);
		jw_end(w);
	}
	jw_end(w);
	jw_end(w);
}

static void call_item(jw *w, const char *id, lr_span idtok, const char *name, lr_span ntok,
	lr_span args_tok, int done)
{
	char fid[160];

	jw_obj(w);
	jw_kstr(w, "type", "function_call");
	if (id) {
		snprintf(fid, sizeof(fid), "fc_%s", id);
		jw_kstr(w, "id", fid);
		jw_kstr(w, "call_id", id);
		jw_kstr(w, "name", name);
	} else {
		jw_kraw(w, "call_id", idtok);
		jw_kraw(w, "name", ntok);
	}
	jw_kraw(w, "arguments", args_tok);
	jw_kstr(w, "status", done ? "completed" : "in_progress");
	jw_end(w);
}

/* The response object's fields other than output and usage. */
static void response_head(jw *w, const char *id, lr_span idtok, const char *model, lr_span mtok,
	long long created, const char *status, int fin)
{
	jw_obj(w);
	if (id)
		jw_kstr(w, "id", id);
	else
		jw_kraw(w, "id", XSET(idtok) ? idtok : xa_lit("\"resp_llmroute\""));
	jw_kstr(w, "object", "response");
	jw_kint(w, "created_at", created);
	jw_kstr(w, "status", status);
	if (model)
		jw_kstr(w, "model", model);
	else
		jw_kraw(w, "model", XSET(mtok) ? mtok : xa_lit("\"\""));
	jw_key(w, "incomplete_details");
	if (strcmp(status, "incomplete") == 0) {
		jw_obj(w);
		jw_kstr(w, "reason", fin == XFIN_LENGTH ? "max_output_tokens" : "content_filter");
		jw_end(w);
	} else {
		jw_null(w);
	}
	jw_kraw(w, "error", (lr_span){0});
	jw_kraw(w, "parallel_tool_calls", xa_lit("true"));
	jw_kstr(w, "tool_choice", "auto");
	jw_kraw(w, "tools", xa_lit("[]"));
}

static const char *status_of(int fin)
{
	return fin == XFIN_LENGTH || fin == XFIN_FILTER ? "incomplete" : "completed";
}

static void ans_emit(const xans *a, const lr_xlate_ctx *c, jw *w)
{
	xarena *ar = (xarena *)&a->arena;
	lr_span texts[256], refusal = {0};
	size_t i, nt = 0;

	for (i = 0; i < a->nparts; i++) {
		if (a->parts[i].kind == XP_TEXT && nt < 256)
			texts[nt++] = a->parts[i].text;
		if (a->parts[i].kind == XP_REFUSAL)
			refusal = a->parts[i].text;
	}
	response_head(w, NULL, a->id, NULL, a->model, c->created, status_of(a->finish), a->finish);
	jw_key(w, "output");
	jw_arr(w);
	if (nt || XSET(refusal))
		message_item(w, texts, nt, refusal, 1);
	for (i = 0; i < a->nparts; i++)
		if (a->parts[i].kind == XP_CALL)
			call_item(w, NULL, a->parts[i].id, NULL, a->parts[i].name,
				xr_args_string(ar, a->parts[i].args), 1);
	jw_end(w);
	if (a->in >= 0 || a->out >= 0)
		usage_json(w, a->in, a->out, a->cached);
	jw_end(w);
}

/* ---- streams: the target's events --------------------------------------- */

static void ev_parse(xstream *s, const char *event, lr_span d)
{
	lr_span type = lr_json_member(d, "type"), resp = lr_json_member(d, "response"), it;
	long idx = (long)xs_num(lr_json_member(d, "output_index"));
	long long in = -1, out = -1, cached = -1;
	xerr e = {XE_SERVER, {0}, NULL};

	(void)event;
	if (XOBJP(resp))
		xs_meta(s, lr_json_member(resp, "id"), lr_json_member(resp, "model"));
	if (XEQ(type, "response.output_text.delta")) {
		xs_text(s, lr_json_member(d, "delta"));
	} else if (XEQ(type, "response.refusal.delta")) {
		xs_refusal(s, lr_json_member(d, "delta"));
	} else if (XEQ(type, "response.output_item.added")) {
		it = lr_json_member(d, "item");
		if (XEQ(lr_json_member(it, "type"), "function_call")) {
			xtoolst *t = xs_tool_begin(s, idx, lr_json_member(it, "call_id"), lr_json_member(it, "name"));
			lr_span args = lr_json_member(it, "arguments");
			if (t && XSTR(args) && args.len > 2)
				xs_tool_args(s, t, args);
		}
	} else if (XEQ(type, "response.function_call_arguments.delta")) {
		xs_tool_args(s, xs_tool_find(s, idx), lr_json_member(d, "delta"));
	} else if (XEQ(type, "response.output_item.done")) {
		xs_tool_end(s, xs_tool_find(s, idx));
	} else if (XEQ(type, "response.completed") || XEQ(type, "response.incomplete")) {
		usage_of(lr_json_member(resp, "usage"), &in, &out, &cached);
		xs_usage(s, in, out, cached, -1);
		xs_finish(s, finish_of(lr_json_member(resp, "status"), lr_json_member(resp, "incomplete_details")));
		xs_end(s);
	} else if (XEQ(type, "response.failed")) {
		xo_err_parse(resp, &e);
		xs_fail(s, e.cls, e.message, "the upstream response failed");
	} else if (XEQ(type, "error")) {
		xo_err_parse(d, &e);
		xs_fail(s, e.cls, e.message, NULL);
	}
}

/* ---- streams: the app's events ------------------------------------------ */

/* Writes one typed event: {"type":NAME,"sequence_number":N, ...fields}. */
static void event_open(xstream *s, jw *w, const char *name)
{
	jw_init(w, w->b);
	jw_obj(w);
	jw_kstr(w, "type", name);
	jw_kint(w, "sequence_number", s->chunks++);
}

static void event_close(xstream *s, jw *w, const char *name)
{
	jw_end(w);
	if (w->err)
		s->err = w->err;
	else
		xs_write_sse(s, name, w->b);
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
	event_open(s, &w, "response.created");
	jw_key(&w, "response");
	response_head(&w, s->id[0] ? s->id : "resp_llmroute", (lr_span){0}, s->model, (lr_span){0},
		s->c.created, "in_progress", 0);
	jw_kraw(&w, "output", xa_lit("[]"));
	jw_end(&w);
	event_close(s, &w, "response.created");
	lr_xbuf_free(&b);
}

static void ids(jw *w, int index)
{
	jw_kstr(w, "item_id", "msg_llmroute");
	jw_kint(w, "output_index", index);
	jw_kint(w, "content_index", 0);
}

static lr_span text_tok(xstream *s, xarena *a)
{
	return xa_encode(a, s->text.p ? s->text.p : "", s->text.len);
}

static void text_close(xstream *s)
{
	xarena a = {0};
	lr_xbuf b = {0};
	lr_span full;
	jw w;

	if (s->block < 0 || s->block_kind != XP_TEXT)
		return;
	full = text_tok(s, &a);
	jw_init(&w, &b);
	event_open(s, &w, "response.output_text.done");
	ids(&w, s->block);
	jw_kraw(&w, "text", full);
	event_close(s, &w, "response.output_text.done");
	event_open(s, &w, "response.content_part.done");
	ids(&w, s->block);
	jw_key(&w, "part");
	jw_obj(&w);
	jw_kstr(&w, "type", "output_text");
	jw_kraw(&w, "text", full);
	jw_kraw(&w, "annotations", xa_lit("[]"));
	jw_end(&w);
	event_close(s, &w, "response.content_part.done");
	event_open(s, &w, "response.output_item.done");
	jw_kint(&w, "output_index", s->block);
	jw_key(&w, "item");
	message_item(&w, &full, 1, (lr_span){0}, 1);
	event_close(s, &w, "response.output_item.done");
	lr_xbuf_free(&b);
	xa_free(&a);
	s->block = -1;
}

static void st_text(xstream *s, lr_span tok, int refusal)
{
	xarena a = {0};
	lr_xbuf b = {0};
	lr_span d;
	jw w;

	(void)refusal;
	ensure_start(s);
	jw_init(&w, &b);
	if (s->block < 0 || s->block_kind != XP_TEXT) {
		if (s->text_item >= 0) {
			/* text after a tool call: a second message item would need its
			 * own text; keep one item, as the neutral stream has one text */
		}
		s->block = s->text_item = s->nblocks++;
		s->block_kind = XP_TEXT;
		event_open(s, &w, "response.output_item.added");
		jw_kint(&w, "output_index", s->block);
		jw_key(&w, "item");
		message_item(&w, NULL, 0, (lr_span){0}, 0);
		event_close(s, &w, "response.output_item.added");
		event_open(s, &w, "response.content_part.added");
		ids(&w, s->block);
		jw_kraw(&w, "part", xa_lit("{\"type\":\"output_text\",\"text\":\"\",\"annotations\":[]}"));
		event_close(s, &w, "response.content_part.added");
	}
	d = xa_decode(&a, tok);
	if (d.p && s->held + d.len <= LR_XLATE_MAX_HOLD && xbuf_put(&s->text, d.p, d.len) == 0) {
		s->held += d.len;
		if (tok.len > 2) {
			event_open(s, &w, "response.output_text.delta");
			ids(&w, s->block);
			jw_kraw(&w, "delta", tok);
			event_close(s, &w, "response.output_text.delta");
		}
	} else {
		lr_xbuf_free(&b);
		xa_free(&a);
		xs_fail(s, XE_SERVER, (lr_span){0}, d.p ? "llmroute: a streamed answer is too large to translate" :
			"llmroute: the upstream's streamed text cannot be decoded");
		return;
	}
	lr_xbuf_free(&b);
	xa_free(&a);
}

static void st_tool_begin(xstream *s, xtoolst *t)
{
	lr_xbuf b = {0};
	jw w;

	ensure_start(s);
	text_close(s);
	t->app_index = s->nblocks++;
	jw_init(&w, &b);
	event_open(s, &w, "response.output_item.added");
	jw_kint(&w, "output_index", t->app_index);
	jw_key(&w, "item");
	call_item(&w, t->id, (lr_span){0}, t->name, (lr_span){0}, xa_lit("\"\""), 0);
	event_close(s, &w, "response.output_item.added");
	lr_xbuf_free(&b);
}

static void st_tool_args(xstream *s, xtoolst *t, lr_span frag)
{
	lr_xbuf b = {0};
	char fid[160];
	jw w;

	snprintf(fid, sizeof(fid), "fc_%s", t->id);
	jw_init(&w, &b);
	event_open(s, &w, "response.function_call_arguments.delta");
	jw_kstr(&w, "item_id", fid);
	jw_kint(&w, "output_index", t->app_index);
	jw_kraw(&w, "delta", frag);
	event_close(s, &w, "response.function_call_arguments.delta");
	lr_xbuf_free(&b);
}

static void st_tool_end(xstream *s, xtoolst *t, lr_span args)
{
	xarena a = {0};
	lr_xbuf b = {0};
	lr_span full = xa_encode(&a, t->args.p ? t->args.p : "", t->args.len);
	char fid[160];
	jw w;

	(void)args;
	snprintf(fid, sizeof(fid), "fc_%s", t->id);
	jw_init(&w, &b);
	event_open(s, &w, "response.function_call_arguments.done");
	jw_kstr(&w, "item_id", fid);
	jw_kint(&w, "output_index", t->app_index);
	jw_kraw(&w, "arguments", full);
	event_close(s, &w, "response.function_call_arguments.done");
	event_open(s, &w, "response.output_item.done");
	jw_kint(&w, "output_index", t->app_index);
	jw_key(&w, "item");
	call_item(&w, t->id, (lr_span){0}, t->name, (lr_span){0}, full, 1);
	event_close(s, &w, "response.output_item.done");
	lr_xbuf_free(&b);
	xa_free(&a);
}

static void st_end(xstream *s)
{
	xarena a = {0};
	lr_xbuf b = {0};
	const char *status = status_of(s->finish);
	char name[64];
	lr_span full;
	jw w;
	int i;

	ensure_start(s);
	text_close(s);
	full = text_tok(s, &a);
	snprintf(name, sizeof(name), "response.%s", status);
	jw_init(&w, &b);
	event_open(s, &w, name);
	jw_key(&w, "response");
	response_head(&w, s->id[0] ? s->id : "resp_llmroute", (lr_span){0}, s->model, (lr_span){0},
		s->c.created, status, s->finish);
	jw_key(&w, "output");
	jw_arr(&w);
	for (i = 0; i < s->nblocks; i++) {
		if (i == s->text_item)
			message_item(&w, &full, 1, (lr_span){0}, 1);
		for (int k = 0; k < s->ntools; k++)
			if (s->tools[k].app_index == i && s->tools[k].used)
				call_item(&w, s->tools[k].id, (lr_span){0}, s->tools[k].name, (lr_span){0},
					xa_encode(&a, s->tools[k].args.p ? s->tools[k].args.p : "",
						s->tools[k].args.len), 1);
	}
	jw_end(&w);
	usage_json(&w, s->in, s->out, s->cached);
	jw_end(&w);
	event_close(s, &w, name);
	lr_xbuf_free(&b);
	xa_free(&a);
}

static void st_error(xstream *s, const xerr *e)
{
	lr_xbuf b = {0};
	jw w;

	jw_init(&w, &b);
	event_open(s, &w, "error");
	jw_kstr(&w, "code", xe_openai_type(e->cls));
	jw_key(&w, "message");
	if (XSET(e->message))
		jw_raw(&w, e->message);
	else
		jw_str(&w, e->plain ? e->plain : "");
	jw_kraw(&w, "param", (lr_span){0});
	event_close(s, &w, "error");
	lr_xbuf_free(&b);
}

const xfmt lr_xf_responses = {
	LR_XF_RESPONSES, "responses",
	XF_JSON_MODE | XF_SCHEMA | XF_IMAGE_URL | XF_SERIAL_TOOLS | XF_TOOL_FORCE, 0, 0,
	req_parse, req_emit, ans_parse, ans_emit, xo_err_parse, xo_err_emit, xo_app_status,
	ev_parse, st_text, st_tool_begin, st_tool_args, st_tool_end, st_end, st_error,
};
