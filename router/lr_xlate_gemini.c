/*
 * lr_xlate_gemini.c - Gemini generateContent / streamGenerateContent to and
 * from the neutral representation.
 *
 * Request: contents (user / model / function roles) of text, inlineData,
 * fileData (an image URI), functionCall and functionResponse parts;
 * systemInstruction; generationConfig (maxOutputTokens, temperature, topP,
 * topK, stopSequences, seed, penalties, candidateCount, responseMimeType,
 * responseSchema / responseJsonSchema); tools' functionDeclarations;
 * toolConfig.functionCallingConfig.  The model is in the URL, not the
 * body: the caller names the target's.  Written with parametersJsonSchema
 * and responseJsonSchema (JSON Schema as the other formats carry it).
 * Gemini calls have no ids: calls are numbered call_N and results paired
 * with calls by name.  A tool result that is text becomes
 * {"result": TEXT} (Gemini wants an object), unless the text is itself a
 * JSON object.  Answers: candidates[0] only.  Streams: each event is a
 * whole GenerateContentResponse; the last carries finishReason and usage,
 * and there is no end event (the stream ends after a finishReason).
 */
#include "lr_xlate_int.h"

#include <stdio.h>
#include <string.h>

/* ---- request ------------------------------------------------------------ */

static lr_span either(lr_span obj, const char *a, const char *b)
{
	lr_span v = lr_json_member(obj, a);
	return XSET(v) ? v : lr_json_member(obj, b);
}

static int part(xreq *r, lr_span p)
{
	lr_span v;
	xpart *x;

	if (!XOBJP(p))
		return LR_EPARSE;
	if (lr_json_is_true(lr_json_member(p, "thought")))
		return 0;
	if (XSET(v = lr_json_member(p, "text"))) {
		if (!XSTR(v))
			return LR_EPARSE;
		xr_part(r, XP_TEXT)->text = v;
	} else if (XSET(v = either(p, "inlineData", "inline_data"))) {
		lr_span mt = either(v, "mimeType", "mime_type"), data = lr_json_member(v, "data");
		if (!XSTR(mt) || !XSTR(data))
			return LR_EPARSE;
		x = xr_part(r, XP_IMAGE);
		x->mime = xa_decode(&r->arena, mt);
		x->data = xa_decode(&r->arena, data);
		for (size_t i = 0; x->mime.p && i < x->mime.len; i++)
			if ((unsigned char)x->mime.p[i] < 0x20 || x->mime.p[i] == '"' || x->mime.p[i] == '\\')
				return LR_EPARSE;
		for (size_t i = 0; x->data.p && i < x->data.len; i++)
			if ((unsigned char)x->data.p[i] <= ' ' || x->data.p[i] == '"' || x->data.p[i] == '\\')
				return LR_EPARSE;
		if (x->mime.p && x->mime.len >= 6 && memcmp(x->mime.p, "image/", 6) != 0)
			r->features |= XF_FILE;
	} else if (XSET(v = either(p, "fileData", "file_data"))) {
		lr_span mt = either(v, "mimeType", "mime_type"), uri = either(v, "fileUri", "file_uri");
		lr_span dm = XSTR(mt) ? xa_decode(&r->arena, mt) : (lr_span){0};
		if (!XSTR(uri))
			return LR_EPARSE;
		if (!dm.p || dm.len < 6 || memcmp(dm.p, "image/", 6) != 0) {
			r->features |= XF_FILE;
			return 0;
		}
		x = xr_part(r, XP_IMAGE);
		x->url = uri;
		r->features |= XF_IMAGE_URL;
	} else if (XSET(v = either(p, "functionCall", "function_call"))) {
		x = xr_part(r, XP_CALL);
		x->name = lr_json_member(v, "name");
		x->args = lr_json_member(v, "args");
		x->id = lr_json_member(v, "id");
		if (!XSTR(x->id))
			x->id = (lr_span){0};
		if (!XSET(x->args))
			x->args = xa_lit("{}");
		if (!XSTR(x->name) || !XOBJP(x->args))
			return LR_EPARSE;
	} else if (XSET(v = either(p, "functionResponse", "function_response"))) {
		x = xr_part(r, XP_RESULT);
		x->name = lr_json_member(v, "name");
		x->text = lr_json_member(v, "response");
		x->id = lr_json_member(v, "id");
		x->result_json = 1;
		if (!XSTR(x->id))
			x->id = (lr_span){0};
		if (!XSTR(x->name) || !XOBJP(x->text))
			return LR_EPARSE;
	} else if (XSET(lr_json_member(p, "executableCode")) || XSET(lr_json_member(p, "codeExecutionResult"))) {
		r->features |= XF_BUILTIN_TOOL;
	} else {
		r->features |= XF_FILE;
	}
	return 0;
}

static int parts(xreq *r, lr_span c)
{
	lr_json_iter it;
	lr_span p;
	int rc;

	c = lr_json_member(c, "parts");
	if (!XARRP(c))
		return LR_EPARSE;
	XARR(it, c, p)
		if ((rc = part(r, p)) < 0)
			return rc;
	return 0;
}

static int contents(xreq *r, lr_span v)
{
	lr_json_iter it;
	lr_span c;
	int rc;

	if (!XARRP(v))
		return LR_EPARSE;
	XARR(it, v, c) {
		lr_span role = lr_json_member(c, "role");
		if (!XOBJP(c))
			return LR_EPARSE;
		xr_msg(r, XEQ(role, "model") ? XR_ASSISTANT : XEQ(role, "function") ? XR_TOOL : XR_USER);
		if ((rc = parts(r, c)) < 0)
			return rc;
	}
	return 0;
}

static void gen_config(xreq *r, lr_span g)
{
	lr_json_iter it;
	lr_span k, v, s;

	XOBJ(it, g, k, v) {
		if (XEQ(k, "maxOutputTokens") || XEQ(k, "max_output_tokens"))
			r->max_tokens = XNUM(v) ? v : r->max_tokens;
		else if (XEQ(k, "temperature"))
			r->temperature = XNUM(v) ? v : r->temperature;
		else if (XEQ(k, "topP") || XEQ(k, "top_p"))
			r->top_p = XNUM(v) ? v : r->top_p;
		else if ((XEQ(k, "topK") || XEQ(k, "top_k")) && XNUM(v))
			r->top_k = v, r->features |= XF_TOP_K;
		else if (XEQ(k, "seed") && XNUM(v))
			r->seed = v, r->features |= XF_SEED;
		else if (XEQ(k, "presencePenalty") && XNUM(v))
			r->presence = v, r->features |= XF_PENALTIES;
		else if (XEQ(k, "frequencyPenalty") && XNUM(v))
			r->frequency = v, r->features |= XF_PENALTIES;
		else if (XEQ(k, "candidateCount") && XNUM(v))
			r->n = xs_num(v) > 1 ? 2 : 1;
		else if ((XEQ(k, "stopSequences") || XEQ(k, "stop_sequences")) && XARRP(v)) {
			lr_json_iter i2;
			XARR(i2, v, s)
				if (XSTR(s) && r->nstop < sizeof(r->stop) / sizeof(r->stop[0]))
					r->stop[r->nstop++] = s;
			if (r->nstop)
				r->features |= XF_STOP;
		} else if (XEQ(k, "responseMimeType") || XEQ(k, "response_mime_type")) {
			if (XEQ(v, "application/json") && r->json < 1)
				r->json = 1, r->features |= XF_JSON_MODE;
			else if (XEQ(v, "text/x.enum"))
				r->features |= XF_SCHEMA;
		} else if ((XEQ(k, "responseSchema") || XEQ(k, "responseJsonSchema") ||
			    XEQ(k, "response_schema")) && XOBJP(v)) {
			r->json = 2;
			r->schema = v;
			r->features |= XF_SCHEMA;
		} else if (XEQ(k, "responseLogprobs") || XEQ(k, "logprobs"))
			r->features |= lr_json_is_false(v) ? 0 : XF_LOGPROBS;
		else if (XEQ(k, "thinkingConfig"))
			r->features |= XF_REASONING;
		else if (XEQ(k, "responseModalities") || XEQ(k, "speechConfig"))
			r->features |= XF_FILE;
		else if (!lr_json_is_null(v))
			xr_ignore(r, k);
	}
	if (r->json == 2)
		r->features &= ~XF_JSON_MODE;
}

static int tools(xreq *r, lr_span v)
{
	lr_json_iter it, i2;
	lr_span t, f;

	if (!XARRP(v))
		return LR_EPARSE;
	XARR(it, v, t) {
		lr_span decls = either(t, "functionDeclarations", "function_declarations");
		if (!XARRP(decls)) {
			r->features |= XF_BUILTIN_TOOL;
			continue;
		}
		XARR(i2, decls, f) {
			xtool *x = xr_tool(r);
			x->name = lr_json_member(f, "name");
			x->desc = lr_json_member(f, "description");
			x->params = either(f, "parametersJsonSchema", "parameters");
			if (!XSTR(x->name))
				return LR_EPARSE;
			if (!XSTR(x->desc))
				x->desc = (lr_span){0};
			if (!XOBJP(x->params))
				x->params = (lr_span){0};
		}
	}
	return 0;
}

static int tool_config(xreq *r, lr_span v)
{
	lr_span fc = either(v, "functionCallingConfig", "function_calling_config");
	lr_span mode = lr_json_member(fc, "mode"), names = either(fc, "allowedFunctionNames",
		"allowed_function_names"), one = {0}, n;
	lr_json_iter it;
	size_t count = 0;

	if (XEQ(mode, "NONE"))
		r->tool_choice = XTC_NONE;
	else if (XEQ(mode, "ANY")) {
		r->tool_choice = XTC_ANY;
		r->features |= XF_TOOL_FORCE;
		if (XARRP(names))
			XARR(it, names, n)
				if (XSTR(n))
					one = n, count++;
		if (count == 1)
			r->tool_choice = XTC_NAMED, r->tool_choice_name = one;
	} else if (XSTR(mode))
		r->tool_choice = XTC_AUTO;
	return 0;
}

static int member(xreq *r, lr_span k, lr_span v)
{
	if (XEQ(k, "contents"))
		return contents(r, v);
	if (XEQ(k, "generationConfig") || XEQ(k, "generation_config"))
		gen_config(r, v);
	else if (XEQ(k, "tools"))
		return tools(r, v);
	else if (XEQ(k, "toolConfig") || XEQ(k, "tool_config"))
		return tool_config(r, v);
	else if (XEQ(k, "safetySettings") || XEQ(k, "safety_settings"))
		r->features |= XARRP(v) && v.len > 2 ? XF_SAFETY : 0;
	else if (XEQ(k, "cachedContent") || XEQ(k, "cached_content"))
		r->features |= XF_STATE;
	else if (XEQ(k, "model"))
		r->model = XSTR(v) ? v : r->model;
	else if (!XEQ(k, "labels") && !XEQ(k, "systemInstruction") && !XEQ(k, "system_instruction") &&
		 !lr_json_is_null(v))
		xr_ignore(r, k);
	return 0;
}

static int req_parse(xreq *r, lr_span body)
{
	lr_json_iter it;
	lr_span k, v, sys = {0};
	int rc;

	if (lr_json_iter_init(&it, body.p, body.len, 0) < 0)
		return LR_EPARSE;
	while ((rc = lr_json_obj_next(&it, &k, &v)) == 1)
		if (XEQ(k, "systemInstruction") || XEQ(k, "system_instruction"))
			sys = v;
	if (rc < 0 || lr_json_skip_ws(body.p, body.len, it.pos) != (int)body.len)
		return LR_EPARSE;
	if (XOBJP(sys)) {
		xr_msg(r, XR_SYSTEM);
		if ((rc = parts(r, sys)) < 0)
			return rc;
	}
	lr_json_iter_init(&it, body.p, body.len, 0);
	while ((rc = lr_json_obj_next(&it, &k, &v)) == 1)
		if ((rc = member(r, k, v)) < 0)
			return rc;
	if (XSTR(r->model) && r->model.len > 9 && memcmp(r->model.p, "\"models/", 8) == 0) {
		lr_span d = xa_decode(&r->arena, r->model);  /* "models/M" -> "M" */
		if (d.p && d.len > 7)
			r->model = xa_encode(&r->arena, d.p + 7, d.len - 7);
	}
	return rc < 0 ? rc : 0;
}

/* A tool result as the object Gemini wants. */
static lr_span result_object(xarena *a, const xpart *p)
{
	lr_span d, obj;
	char *buf;
	size_t pos = 0;
	int ws;

	if (p->result_json)
		return p->text;
	d = xa_decode(a, p->text);
	if (d.p && (ws = lr_json_skip_ws(d.p, d.len, 0)) >= 0 && (size_t)ws < d.len && d.p[ws] == '{') {
		pos = (size_t)ws;
		if (lr_json_skip_value(d.p, d.len, &pos) == 0 && lr_json_skip_ws(d.p, d.len, pos) == (int)d.len)
			return (lr_span){d.p + ws, pos - (size_t)ws};
	}
	if (!(buf = xa_alloc(a, p->text.len + 16)))
		return xa_lit("{}");
	obj.len = (size_t)snprintf(buf, p->text.len + 16, "{\"result\":%.*s}", (int)p->text.len, p->text.p);
	obj.p = buf;
	return obj;
}

static void write_part(xarena *a, const xpart *p, jw *w)
{
	if (p->kind < 0 || ((p->kind == XP_TEXT || p->kind == XP_REFUSAL) && p->text.len <= 2))
		return;
	jw_obj(w);
	switch (p->kind) {
	case XP_TEXT: case XP_REFUSAL:
		jw_kraw(w, "text", p->text);
		break;
	case XP_IMAGE:
		if (XSET(p->url)) {
			jw_key(w, "fileData");
			jw_obj(w);
			jw_kraw(w, "fileUri", p->url);
		} else {
			jw_key(w, "inlineData");
			jw_obj(w);
			jw_key(w, "mimeType");
			jw_strn(w, p->mime.p, p->mime.len);
			jw_key(w, "data");
			jw_strn(w, p->data.p, p->data.len);
		}
		jw_end(w);
		break;
	case XP_CALL:
		jw_key(w, "functionCall");
		jw_obj(w);
		jw_kraw(w, "name", p->name);
		jw_kraw(w, "args", p->args);
		jw_end(w);
		break;
	case XP_RESULT:
		jw_key(w, "functionResponse");
		jw_obj(w);
		jw_kraw(w, "name", p->name);
		jw_kraw(w, "response", result_object(a, p));
		jw_end(w);
		break;
	}
	jw_end(w);
}

static size_t parts_of(const xreq *r, const xmsg *m)
{
	size_t j, n = 0;

	for (j = 0; j < m->n; j++) {
		const xpart *p = &r->parts[m->first + j];
		n += p->kind >= 0 && !((p->kind == XP_TEXT || p->kind == XP_REFUSAL) && p->text.len <= 2);
	}
	return n;
}

static void write_contents(const xreq *r, jw *w, int system)
{
	xarena *a = (xarena *)&r->arena;
	const char *open = NULL, *role;
	size_t i, j;

	for (i = 0; i < r->nmsgs; i++) {
		const xmsg *m = &r->msgs[i];
		if ((m->role == XR_SYSTEM) != system || !parts_of(r, m))
			continue;
		role = m->role == XR_ASSISTANT ? "model" : "user";
		if (!open || (!system && strcmp(open, role) != 0)) {
			if (open) {
				jw_end(w);
				jw_end(w);
			}
			if (system && open)
				break;
			open = role;
			jw_obj(w);
			if (!system)
				jw_kstr(w, "role", role);
			jw_key(w, "parts");
			jw_arr(w);
		}
		for (j = 0; j < m->n; j++)
			write_part(a, &r->parts[m->first + j], w);
	}
	if (open) {
		jw_end(w);
		jw_end(w);
	}
}

static int has_system(const xreq *r)
{
	for (size_t i = 0; i < r->nmsgs; i++)
		if (r->msgs[i].role == XR_SYSTEM && parts_of(r, &r->msgs[i]))
			return 1;
	return 0;
}

static void write_config(const xreq *r, jw *w)
{
	size_t i;

	jw_key(w, "generationConfig");
	jw_obj(w);
	if (XSET(r->max_tokens))
		jw_kraw(w, "maxOutputTokens", r->max_tokens);
	if (XSET(r->temperature))
		jw_kraw(w, "temperature", r->temperature);
	if (XSET(r->top_p))
		jw_kraw(w, "topP", r->top_p);
	if (XSET(r->top_k))
		jw_kraw(w, "topK", r->top_k);
	if (XSET(r->seed))
		jw_kraw(w, "seed", r->seed);
	if (XSET(r->presence))
		jw_kraw(w, "presencePenalty", r->presence);
	if (XSET(r->frequency))
		jw_kraw(w, "frequencyPenalty", r->frequency);
	if (r->nstop) {
		jw_key(w, "stopSequences");
		jw_arr(w);
		for (i = 0; i < r->nstop; i++)
			jw_raw(w, r->stop[i]);
		jw_end(w);
	}
	if (r->json)
		jw_kstr(w, "responseMimeType", "application/json");
	if (r->json == 2)
		jw_kraw(w, "responseJsonSchema", r->schema);
	jw_end(w);
}

static void write_tools(const xreq *r, jw *w)
{
	size_t i;

	if (!r->ntools)
		return;
	jw_key(w, "tools");
	jw_arr(w);
	jw_obj(w);
	jw_key(w, "functionDeclarations");
	jw_arr(w);
	for (i = 0; i < r->ntools; i++) {
		jw_obj(w);
		jw_kraw(w, "name", r->tools[i].name);
		if (XSET(r->tools[i].desc))
			jw_kraw(w, "description", r->tools[i].desc);
		if (XSET(r->tools[i].params))
			jw_kraw(w, "parametersJsonSchema", r->tools[i].params);
		jw_end(w);
	}
	jw_end(w);
	jw_end(w);
	jw_end(w);
	if (r->tool_choice == XTC_DEFAULT)
		return;
	jw_key(w, "toolConfig");
	jw_obj(w);
	jw_key(w, "functionCallingConfig");
	jw_obj(w);
	jw_kstr(w, "mode", r->tool_choice == XTC_NONE ? "NONE" : r->tool_choice == XTC_AUTO ? "AUTO" : "ANY");
	if (r->tool_choice == XTC_NAMED) {
		jw_key(w, "allowedFunctionNames");
		jw_arr(w);
		jw_raw(w, r->tool_choice_name);
		jw_end(w);
	}
	jw_end(w);
	jw_end(w);
}

static int req_emit(const xreq *r, const lr_xlate_opts *o, jw *w)
{
	(void)o;
	jw_obj(w);
	if (has_system(r)) {
		jw_key(w, "systemInstruction");
		write_contents(r, w, 1);
	}
	jw_key(w, "contents");
	jw_arr(w);
	write_contents(r, w, 0);
	jw_end(w);
	write_config(r, w);
	write_tools(r, w);
	jw_end(w);
	return 0;
}

/* ---- answers ------------------------------------------------------------ */

static int finish_of(lr_span f)
{
	static const char *const filter[] = {"SAFETY", "RECITATION", "BLOCKLIST",
		"PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE"};
	if (XEQ(f, "MAX_TOKENS"))
		return XFIN_LENGTH;
	for (size_t i = 0; i < sizeof(filter) / sizeof(filter[0]); i++)
		if (XEQ(f, filter[i]))
			return XFIN_FILTER;
	return XSTR(f) ? XFIN_STOP : XFIN_NONE;
}

static const char *finish_name(int fin)
{
	switch (fin) {
	case XFIN_LENGTH: return "MAX_TOKENS";
	case XFIN_FILTER: case XFIN_REFUSAL: return "SAFETY";
	}
	return "STOP";
}

static void usage_of(lr_span u, long long *in, long long *out, long long *cached)
{
	long long c, t;

	if (!XOBJP(u))
		return;
	*in = xs_num(lr_json_member(u, "promptTokenCount"));
	c = xs_num(lr_json_member(u, "candidatesTokenCount"));
	t = xs_num(lr_json_member(u, "thoughtsTokenCount"));
	*out = c < 0 && t < 0 ? -1 : (c > 0 ? c : 0) + (t > 0 ? t : 0);
	*cached = xs_num(lr_json_member(u, "cachedContentTokenCount"));
}

/* The first candidate's parts, into the answer (calls numbered). */
static int cand_parts(xans *a, lr_span cand)
{
	lr_json_iter it;
	lr_span p, ps = lr_json_member(lr_json_member(cand, "content"), "parts"), v;
	char id[32];

	if (!XARRP(ps))
		return 0;
	XARR(it, ps, p) {
		if (lr_json_is_true(lr_json_member(p, "thought")))
			continue;
		if (XSTR(v = lr_json_member(p, "text")))
			xa_part(a, XP_TEXT)->text = v;
		else if (XOBJP(v = lr_json_member(p, "functionCall"))) {
			xpart *x = xa_part(a, XP_CALL);
			x->name = lr_json_member(v, "name");
			x->args = lr_json_member(v, "args");
			x->id = lr_json_member(v, "id");
			if (!XSTR(x->id)) {
				snprintf(id, sizeof(id), "call_%zu", a->nparts - 1);
				x->id = xa_encode(&a->arena, id, strlen(id));
			}
			if (!XSET(x->args))
				x->args = xa_lit("{}");
			if (!XSTR(x->name) || !XOBJP(x->args))
				return LR_EPARSE;
		}
	}
	return 0;
}

static int ans_parse(xans *a, lr_span body)
{
	lr_json_iter it;
	lr_span cands, cand = {0}, fb, br;
	char msg[160];

	if (!XOBJP(body))
		return LR_EPARSE;
	cands = lr_json_member(body, "candidates");
	fb = lr_json_member(body, "promptFeedback");
	br = lr_json_member(fb, "blockReason");
	if (!XARRP(cands) && !XSTR(br))
		return LR_EPARSE;
	a->id = lr_json_member(body, "responseId");
	a->model = lr_json_member(body, "modelVersion");
	a->id = XSTR(a->id) ? a->id : (lr_span){0};
	a->model = XSTR(a->model) ? a->model : (lr_span){0};
	usage_of(lr_json_member(body, "usageMetadata"), &a->in, &a->out, &a->cached);
	if (XARRP(cands) && lr_json_arr_init(&it, cands.p, cands.len, 0) == 0 &&
	    lr_json_arr_next(&it, &cand) == 1) {
		if (cand_parts(a, cand) < 0)
			return LR_EPARSE;
		a->finish = finish_of(lr_json_member(cand, "finishReason"));
		return 0;
	}
	if (!XSTR(br) || br.len > 64)
		return LR_EPARSE;
	snprintf(msg, sizeof(msg), "The prompt was blocked by the provider (%.*s).",
		(int)(br.len - 2), br.p + 1);
	xa_part(a, XP_REFUSAL)->text = xa_encode(&a->arena, msg, strlen(msg));
	a->finish = XFIN_FILTER;
	return 0;
}

static void usage_json(jw *w, long long in, long long out, long long cached)
{
	in = in < 0 ? 0 : in;
	out = out < 0 ? 0 : out;
	jw_key(w, "usageMetadata");
	jw_obj(w);
	jw_kint(w, "promptTokenCount", in);
	jw_kint(w, "candidatesTokenCount", out);
	jw_kint(w, "totalTokenCount", in + out);
	if (cached > 0)
		jw_kint(w, "cachedContentTokenCount", cached);
	jw_end(w);
}

/* {"candidates":[{"content":{"role":"model","parts":[ ...parts... ]}, */
static void cand_open(jw *w)
{
	jw_obj(w);
	jw_key(w, "candidates");
	jw_arr(w);
	jw_obj(w);
	jw_key(w, "content");
	jw_obj(w);
	jw_kstr(w, "role", "model");
	jw_key(w, "parts");
	jw_arr(w);
}

static void cand_close(jw *w, const char *finish, const char *model, lr_span mtok, const char *id)
{
	jw_end(w);
	jw_end(w);
	if (finish)
		jw_kstr(w, "finishReason", finish);
	jw_kint(w, "index", 0);
	jw_end(w);
	jw_end(w);
	if (model)
		jw_kstr(w, "modelVersion", model);
	else
		jw_kraw(w, "modelVersion", XSET(mtok) ? mtok : xa_lit("\"\""));
	if (id)
		jw_kstr(w, "responseId", id);
}

static void ans_emit(const xans *a, const lr_xlate_ctx *c, jw *w)
{
	size_t i;
	int fin = a->finish, calls = 0;

	(void)c;
	for (i = 0; i < a->nparts; i++)
		calls |= a->parts[i].kind == XP_CALL;
	if (fin == XFIN_TOOL || fin == XFIN_NONE)
		fin = XFIN_STOP;
	(void)calls;
	cand_open(w);
	for (i = 0; i < a->nparts; i++)
		write_part((xarena *)&a->arena, &a->parts[i], w);
	cand_close(w, finish_name(fin), NULL, a->model, NULL);
	if (XSET(a->id))
		jw_kraw(w, "responseId", a->id);
	if (a->in >= 0 || a->out >= 0)
		usage_json(w, a->in, a->out, a->cached);
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
	if ((cls = xe_class_of_type(lr_json_member(err, "status"))) >= 0)
		e->cls = cls;
	return 0;
}

static void err_emit(const xerr *e, int status, jw *w)
{
	static const char *const st[] = {"INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED",
		"NOT_FOUND", "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL",
		"DEADLINE_EXCEEDED"};
	jw_obj(w);
	jw_key(w, "error");
	jw_obj(w);
	jw_kint(w, "code", status);
	jw_key(w, "message");
	if (XSET(e->message))
		jw_raw(w, e->message);
	else
		jw_str(w, e->plain ? e->plain : "");
	jw_kstr(w, "status", e->cls >= 0 && e->cls <= XE_TIMEOUT ? st[e->cls] : "INTERNAL");
	jw_end(w);
	jw_end(w);
}

static int app_status(int cls)
{
	static const int st[] = {400, 401, 403, 404, 400, 429, 503, 500, 504};
	return cls >= 0 && cls <= XE_TIMEOUT ? st[cls] : 500;
}

/* ---- streams: the target's events --------------------------------------- */

static void ev_parse(xstream *s, const char *event, lr_span d)
{
	lr_json_iter it;
	lr_span cands, cand = {0}, ps, p, v, br;
	long long in = -1, out = -1, cached = -1;
	xerr e = {XE_SERVER, {0}, NULL};

	(void)event;
	if (err_parse(d, &e) == 0) {
		xs_fail(s, e.cls, e.message, NULL);
		return;
	}
	xs_meta(s, lr_json_member(d, "responseId"), lr_json_member(d, "modelVersion"));
	usage_of(lr_json_member(d, "usageMetadata"), &in, &out, &cached);
	xs_usage(s, in, out, cached, -1);
	cands = lr_json_member(d, "candidates");
	br = lr_json_member(lr_json_member(d, "promptFeedback"), "blockReason");
	if (!XARRP(cands) || lr_json_arr_init(&it, cands.p, cands.len, 0) < 0 ||
	    lr_json_arr_next(&it, &cand) != 1) {
		if (XSTR(br)) {
			xs_refusal(s, xa_lit("\"The prompt was blocked by the provider.\""));
			xs_finish(s, XFIN_FILTER);
		}
		return;
	}
	ps = lr_json_member(lr_json_member(cand, "content"), "parts");
	if (XARRP(ps))
		XARR(it, ps, p) {
			if (lr_json_is_true(lr_json_member(p, "thought")))
				continue;
			if (XSTR(v = lr_json_member(p, "text")))
				xs_text(s, v);
			else if (XOBJP(v = lr_json_member(p, "functionCall"))) {
				xtoolst *t = xs_tool_begin(s, 1000 + s->ntools, lr_json_member(v, "id"),
					lr_json_member(v, "name"));
				lr_span args = lr_json_member(v, "args");
				if (t && XOBJP(args))
					xs_tool_args(s, t, args);
				xs_tool_end(s, t);
			}
		}
	v = lr_json_member(cand, "finishReason");
	if (XSTR(v))
		xs_finish(s, finish_of(v));
}

/* ---- streams: the app's events ------------------------------------------ */

static void emit(xstream *s, jw *w)
{
	if (w->err) {
		s->err = w->err;
	} else if (s->c.gemini_array) {
		s->events++;
		if (xbuf_put(s->dst, s->chunks ? ",\r\n" : "[", s->chunks ? 3 : 1) < 0 ||
		    xbuf_put(s->dst, w->b->p, w->b->len) < 0)
			s->err = LR_ENOMEM;
	} else {
		xs_write_sse(s, NULL, w->b);
	}
	s->chunks++;
	w->b->len = 0;
}

static void chunk(xstream *s, const xpart *p, const char *finish, int usage)
{
	lr_xbuf b = {0};
	jw w;

	jw_init(&w, &b);
	cand_open(&w);
	if (p)
		write_part(NULL, p, &w);
	cand_close(&w, finish, s->model, (lr_span){0}, s->id[0] ? s->id : NULL);
	if (usage)
		usage_json(&w, s->in, s->out, s->cached);
	jw_end(&w);
	emit(s, &w);
	lr_xbuf_free(&b);
}

static void st_text(xstream *s, lr_span tok, int refusal)
{
	xpart p;

	memset(&p, 0, sizeof(p));
	p.kind = XP_TEXT;

	(void)refusal;
	p.text = tok;
	if (tok.len > 2)
		chunk(s, &p, NULL, 0);
}

static void st_tool_begin(xstream *s, xtoolst *t) { (void)s; (void)t; }
static void st_tool_args(xstream *s, xtoolst *t, lr_span f) { (void)s; (void)t; (void)f; }

static void st_tool_end(xstream *s, xtoolst *t, lr_span args)
{
	xarena a = {0};
	xpart p;

	memset(&p, 0, sizeof(p));
	p.kind = XP_CALL;

	p.name = xa_encode(&a, t->name, strlen(t->name));
	p.args = args;
	if (p.name.p)
		chunk(s, &p, NULL, 0);
	xa_free(&a);
}

static void st_end(xstream *s)
{
	chunk(s, NULL, finish_name(s->finish), 1);
	if (s->c.gemini_array && xbuf_put(s->dst, "]", 1) < 0)
		s->err = LR_ENOMEM;
}

static void st_error(xstream *s, const xerr *e)
{
	lr_xbuf b = {0};
	jw w;

	jw_init(&w, &b);
	err_emit(e, app_status(e->cls), &w);
	emit(s, &w);
	if (s->c.gemini_array && xbuf_put(s->dst, "]", 1) < 0)
		s->err = LR_ENOMEM;
	lr_xbuf_free(&b);
}

const xfmt lr_xf_gemini = {
	LR_XF_GEMINI, "gemini",
	XF_TOP_K | XF_SEED | XF_PENALTIES | XF_JSON_MODE | XF_SCHEMA | XF_STOP | XF_TOOL_FORCE, 0, 1,
	req_parse, req_emit, ans_parse, ans_emit, err_parse, err_emit, app_status,
	ev_parse, st_text, st_tool_begin, st_tool_args, st_tool_end, st_end, st_error,
};
