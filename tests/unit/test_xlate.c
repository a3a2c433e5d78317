/*
 * test_xlate.c - unit tests for the format translator (router/lr_xlate*.c).
 *
 * Every pair of formats goes through one table: the same conversation
 * written in each app format is translated to each target, and the target
 * body is read back (with cJSON, independently of the translator) into the
 * few facts that must survive: system prompt, texts, images, tool
 * definitions, calls and results, limits and sampling.  Answers and
 * streams: one fixture per target format (text, a tool call, usage with
 * cached tokens) is translated to each app format and read back the same
 * way; streams are also fed split at every byte boundary and must give the
 * same bytes as fed whole.  Then round trips (app -> target -> app equals
 * app -> app), refusals and drops, paths and headers, errors and their
 * statuses, hostile input.
 */
#include "lr_error.h"
#include "lr_xlate.h"
#include "lr_test.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int fmts[] = {LR_XF_OPENAI, LR_XF_AZURE, LR_XF_RESPONSES, LR_XF_ANTHROPIC,
	LR_XF_GEMINI, LR_XF_OLLAMA};
#define NF (sizeof(fmts) / sizeof(fmts[0]))

/* ---- reading JSON back -------------------------------------------------- */

static cJSON *at(cJSON *j, const char *path)
{
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); j && tok; tok = strtok_r(NULL, ".", &save)) {
		if (tok[0] >= '0' && tok[0] <= '9')
			j = cJSON_GetArrayItem(j, atoi(tok));
		else
			j = cJSON_GetObjectItemCaseSensitive(j, tok);
	}
	return j;
}

static const char *str_at(cJSON *j, const char *path)
{
	cJSON *v = at(j, path);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_at(cJSON *j, const char *path)
{
	cJSON *v = at(j, path);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* ---- the conversation in every app format -------------------------------- */

/* System "Be brief.", user "Weather in Paris?" + a PNG as base64, the
 * assistant calls get_weather {"city":"Paris"} (id call_1), the tool
 * answers "sunny", user "Thanks"; one tool; max 100 tokens, temperature
 * 0.5, top_p 0.9, stop "END"; streamed. */
#define PNG "iVBORw0KGgo="
static const char *const conv[] = {
	[LR_XF_OPENAI] = "{\"model\":\"gpt-4o\",\"messages\":["
		"{\"role\":\"system\",\"content\":\"Be brief.\"},"
		"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Weather in Paris?\"},"
		"{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64," PNG "\"}}]},"
		"{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
		"\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"},"
		"{\"role\":\"user\",\"content\":\"Thanks\"}],"
		"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather\","
		"\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}],"
		"\"max_tokens\":100,\"temperature\":0.5,\"top_p\":0.9,\"stop\":[\"END\"],\"stream\":true,"
		"\"stream_options\":{\"include_usage\":true}}",
	[LR_XF_ANTHROPIC] = "{\"model\":\"claude\",\"system\":\"Be brief.\",\"messages\":["
		"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Weather in Paris?\"},"
		"{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"" PNG "\"}}]},"
		"{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"get_weather\","
		"\"input\":{\"city\":\"Paris\"}}]},"
		"{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\",\"content\":\"sunny\"},"
		"{\"type\":\"text\",\"text\":\"Thanks\"}]}],"
		"\"tools\":[{\"name\":\"get_weather\",\"description\":\"Weather\",\"input_schema\":{\"type\":\"object\","
		"\"properties\":{\"city\":{\"type\":\"string\"}}}}],"
		"\"max_tokens\":100,\"temperature\":0.5,\"top_p\":0.9,\"stop_sequences\":[\"END\"],\"stream\":true}",
	[LR_XF_GEMINI] = "{\"systemInstruction\":{\"parts\":[{\"text\":\"Be brief.\"}]},\"contents\":["
		"{\"role\":\"user\",\"parts\":[{\"text\":\"Weather in Paris?\"},{\"inlineData\":{\"mimeType\":\"image/png\","
		"\"data\":\"" PNG "\"}}]},"
		"{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}}]},"
		"{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":\"get_weather\",\"response\":{\"result\":\"sunny\"}}},"
		"{\"text\":\"Thanks\"}]}],"
		"\"tools\":[{\"functionDeclarations\":[{\"name\":\"get_weather\",\"description\":\"Weather\","
		"\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}]}],"
		"\"generationConfig\":{\"maxOutputTokens\":100,\"temperature\":0.5,\"topP\":0.9,\"stopSequences\":[\"END\"]}}",
	[LR_XF_OLLAMA] = "{\"model\":\"llama3\",\"messages\":["
		"{\"role\":\"system\",\"content\":\"Be brief.\"},"
		"{\"role\":\"user\",\"content\":\"Weather in Paris?\",\"images\":[\"" PNG "\"]},"
		"{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"get_weather\","
		"\"arguments\":{\"city\":\"Paris\"}}}]},"
		"{\"role\":\"tool\",\"content\":\"sunny\",\"tool_name\":\"get_weather\"},"
		"{\"role\":\"user\",\"content\":\"Thanks\"}],"
		"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather\","
		"\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}],"
		"\"options\":{\"num_predict\":100,\"temperature\":0.5,\"top_p\":0.9,\"stop\":[\"END\"]}}",
	[LR_XF_RESPONSES] = "{\"model\":\"gpt-4o\",\"instructions\":\"Be brief.\",\"input\":["
		"{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"Weather in Paris?\"},"
		"{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64," PNG "\"}]},"
		"{\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"get_weather\","
		"\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"},"
		"{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"sunny\"},"
		"{\"role\":\"user\",\"content\":\"Thanks\"}],"
		"\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"description\":\"Weather\","
		"\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}],"
		"\"max_output_tokens\":100,\"temperature\":0.5,\"top_p\":0.9,\"stream\":true}",
};

/* What a translated request says, read with cJSON. */
typedef struct {
	char system[64], user1[64], user2[64], img_mime[32], img_data[32];
	char call_name[32], call_city[32], result[64], tool_name[32], tool_prop[32];
	double max_tokens, temperature, top_p;
	char stop[16];
	int stream;
} facts;

static void copy(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s ? s : "");
}

/* The city of an arguments object or JSON string. */
static void city_of(cJSON *args, char *dst, size_t cap)
{
	cJSON *o = cJSON_IsString(args) ? cJSON_Parse(args->valuestring) : args;
	copy(dst, cap, str_at(o, "city"));
	if (o != args)
		cJSON_Delete(o);
}

/* A tool result as text: Gemini's {"result": ...} unwrapped. */
static void result_of(cJSON *v, char *dst, size_t cap)
{
	cJSON *o;

	if (cJSON_IsObject(v)) {
		copy(dst, cap, str_at(v, "result"));
		return;
	}
	if (!cJSON_IsString(v))
		return;
	o = cJSON_Parse(v->valuestring);
	if (cJSON_IsObject(o))
		copy(dst, cap, str_at(o, "result"));
	else
		copy(dst, cap, v->valuestring);
	cJSON_Delete(o);
}

/* Openai-shaped messages (OpenAI, Azure, Ollama). */
static void read_chat(cJSON *j, facts *f, int ollama)
{
	cJSON *m;
	int users = 0;

	cJSON_ArrayForEach(m, cJSON_GetObjectItem(j, "messages")) {
		const char *role = str_at(m, "role");
		cJSON *c = at(m, "content");
		if (!role)
			continue;
		if (!strcmp(role, "system"))
			copy(f->system, sizeof(f->system), cJSON_IsString(c) ? c->valuestring : str_at(c, "0.text"));
		if (!strcmp(role, "user")) {
			const char *t = cJSON_IsString(c) ? c->valuestring : str_at(c, "0.text");
			copy(users++ ? f->user2 : f->user1, sizeof(f->user1), t);
			if (ollama && at(m, "images.0")) {
				copy(f->img_data, sizeof(f->img_data), str_at(m, "images.0"));
				copy(f->img_mime, sizeof(f->img_mime), "image/png");
			}
			if (!ollama && str_at(c, "1.image_url.url")) {
				const char *u = str_at(c, "1.image_url.url"), *comma = strchr(u, ',');
				if (!strncmp(u, "data:", 5) && comma) {
					snprintf(f->img_mime, sizeof(f->img_mime), "%.*s", (int)(strchr(u, ';') - u - 5), u + 5);
					copy(f->img_data, sizeof(f->img_data), comma + 1);
				}
			}
		}
		if (!strcmp(role, "assistant") && at(m, "tool_calls.0")) {
			copy(f->call_name, sizeof(f->call_name), str_at(m, "tool_calls.0.function.name"));
			city_of(at(m, "tool_calls.0.function.arguments"), f->call_city, sizeof(f->call_city));
		}
		if (!strcmp(role, "tool"))
			result_of(at(m, "content"), f->result, sizeof(f->result));
	}
	copy(f->tool_name, sizeof(f->tool_name), str_at(j, "tools.0.function.name"));
	copy(f->tool_prop, sizeof(f->tool_prop), str_at(j, "tools.0.function.parameters.properties.city.type"));
	if (ollama) {
		f->max_tokens = num_at(j, "options.num_predict");
		f->temperature = num_at(j, "options.temperature");
		f->top_p = num_at(j, "options.top_p");
		copy(f->stop, sizeof(f->stop), str_at(j, "options.stop.0"));
	} else {
		f->max_tokens = num_at(j, "max_tokens");
		f->temperature = num_at(j, "temperature");
		f->top_p = num_at(j, "top_p");
		copy(f->stop, sizeof(f->stop), str_at(j, "stop.0"));
	}
	f->stream = cJSON_IsTrue(at(j, "stream"));
}

static void read_anthropic(cJSON *j, facts *f)
{
	cJSON *m, *b;
	int users = 0;

	copy(f->system, sizeof(f->system), str_at(j, "system"));
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(j, "messages")) {
		int user = !strcmp(str_at(m, "role") ? str_at(m, "role") : "", "user");
		cJSON_ArrayForEach(b, at(m, "content")) {
			const char *type = str_at(b, "type");
			if (!type)
				continue;
			if (!strcmp(type, "text") && user)
				copy(users++ ? f->user2 : f->user1, sizeof(f->user1), str_at(b, "text"));
			if (!strcmp(type, "image")) {
				copy(f->img_mime, sizeof(f->img_mime), str_at(b, "source.media_type"));
				copy(f->img_data, sizeof(f->img_data), str_at(b, "source.data"));
			}
			if (!strcmp(type, "tool_use")) {
				copy(f->call_name, sizeof(f->call_name), str_at(b, "name"));
				city_of(at(b, "input"), f->call_city, sizeof(f->call_city));
			}
			if (!strcmp(type, "tool_result"))
				result_of(at(b, "content"), f->result, sizeof(f->result));
		}
	}
	copy(f->tool_name, sizeof(f->tool_name), str_at(j, "tools.0.name"));
	copy(f->tool_prop, sizeof(f->tool_prop), str_at(j, "tools.0.input_schema.properties.city.type"));
	f->max_tokens = num_at(j, "max_tokens");
	f->temperature = num_at(j, "temperature");
	f->top_p = num_at(j, "top_p");
	copy(f->stop, sizeof(f->stop), str_at(j, "stop_sequences.0"));
	f->stream = cJSON_IsTrue(at(j, "stream"));
}

static void read_gemini(cJSON *j, facts *f)
{
	cJSON *c, *p;
	int users = 0;

	copy(f->system, sizeof(f->system), str_at(j, "systemInstruction.parts.0.text"));
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "contents")) {
		cJSON_ArrayForEach(p, at(c, "parts")) {
			if (str_at(p, "text"))
				copy(users++ ? f->user2 : f->user1, sizeof(f->user1), str_at(p, "text"));
			if (at(p, "inlineData")) {
				copy(f->img_mime, sizeof(f->img_mime), str_at(p, "inlineData.mimeType"));
				copy(f->img_data, sizeof(f->img_data), str_at(p, "inlineData.data"));
			}
			if (at(p, "functionCall")) {
				copy(f->call_name, sizeof(f->call_name), str_at(p, "functionCall.name"));
				city_of(at(p, "functionCall.args"), f->call_city, sizeof(f->call_city));
			}
			if (at(p, "functionResponse"))
				result_of(at(p, "functionResponse.response"), f->result, sizeof(f->result));
		}
	}
	copy(f->tool_name, sizeof(f->tool_name), str_at(j, "tools.0.functionDeclarations.0.name"));
	copy(f->tool_prop, sizeof(f->tool_prop),
		str_at(j, "tools.0.functionDeclarations.0.parametersJsonSchema.properties.city.type"));
	f->max_tokens = num_at(j, "generationConfig.maxOutputTokens");
	f->temperature = num_at(j, "generationConfig.temperature");
	f->top_p = num_at(j, "generationConfig.topP");
	copy(f->stop, sizeof(f->stop), str_at(j, "generationConfig.stopSequences.0"));
	f->stream = -1;  /* in the path */
}

static void read_responses(cJSON *j, facts *f)
{
	cJSON *it;
	int users = 0;

	copy(f->system, sizeof(f->system), str_at(j, "instructions"));
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "input")) {
		const char *type = str_at(it, "type"), *role = str_at(it, "role");
		if (role && !strcmp(role, "user")) {
			cJSON *c = at(it, "content");
			copy(users++ ? f->user2 : f->user1, sizeof(f->user1),
				cJSON_IsString(c) ? c->valuestring : str_at(c, "0.text"));
			if (str_at(c, "1.image_url")) {
				const char *u = str_at(c, "1.image_url"), *comma = strchr(u, ',');
				if (comma && strchr(u, ';')) {
					snprintf(f->img_mime, sizeof(f->img_mime), "%.*s", (int)(strchr(u, ';') - u - 5), u + 5);
					copy(f->img_data, sizeof(f->img_data), comma + 1);
				}
			}
		}
		if (type && !strcmp(type, "function_call")) {
			copy(f->call_name, sizeof(f->call_name), str_at(it, "name"));
			city_of(at(it, "arguments"), f->call_city, sizeof(f->call_city));
		}
		if (type && !strcmp(type, "function_call_output"))
			result_of(at(it, "output"), f->result, sizeof(f->result));
	}
	copy(f->tool_name, sizeof(f->tool_name), str_at(j, "tools.0.name"));
	copy(f->tool_prop, sizeof(f->tool_prop), str_at(j, "tools.0.parameters.properties.city.type"));
	f->max_tokens = num_at(j, "max_output_tokens");
	f->temperature = num_at(j, "temperature");
	f->top_p = num_at(j, "top_p");
	copy(f->stop, sizeof(f->stop), "END");  /* Responses has no stop: dropped, see below */
	f->stream = cJSON_IsTrue(at(j, "stream"));
}

static int read_request(int xf, const char *body, facts *f)
{
	cJSON *j = cJSON_Parse(body);

	memset(f, 0, sizeof(*f));
	if (!j)
		return -1;
	if (xf == LR_XF_OPENAI || xf == LR_XF_AZURE || xf == LR_XF_OLLAMA)
		read_chat(j, f, xf == LR_XF_OLLAMA);
	else if (xf == LR_XF_ANTHROPIC)
		read_anthropic(j, f);
	else if (xf == LR_XF_GEMINI)
		read_gemini(j, f);
	else
		read_responses(j, f);
	cJSON_Delete(j);
	return 0;
}

static void check_facts(const facts *f, int app, int tgt)
{
	int ok = 1;

#define FACT(c) do { CHECK(c); ok &= (c) ? 1 : 0; } while (0)
	FACT(!strcmp(f->system, "Be brief."));
	FACT(!strcmp(f->user1, "Weather in Paris?"));
	FACT(!strcmp(f->user2, "Thanks"));
	FACT(!strcmp(f->img_mime, "image/png"));
	FACT(!strcmp(f->img_data, PNG));
	FACT(!strcmp(f->call_name, "get_weather"));
	FACT(!strcmp(f->call_city, "Paris"));
	FACT(!strcmp(f->result, "sunny"));
	FACT(!strcmp(f->tool_name, "get_weather"));
	FACT(!strcmp(f->tool_prop, "string"));
	FACT(f->max_tokens == 100);
	FACT(f->temperature == 0.5);
	FACT(f->top_p == 0.9);
	if (app != LR_XF_RESPONSES)
		FACT(!strcmp(f->stop, "END"));
#undef FACT
	if (!ok)
		fprintf(stderr, "  ... in the request %s -> %s\n", lr_xlate_format_name(app),
			lr_xlate_format_name(tgt));
}

/* Every app format to every target: the facts survive. */
static void test_request_matrix(void)
{
	for (size_t a = 0; a < NF; a++) {
		int app = fmts[a];
		const char *body = conv[app == LR_XF_AZURE ? LR_XF_OPENAI : app];
		for (size_t t = 0; t < NF; t++) {
			lr_xlate_opts o = {app, fmts[t], "target-model", 0, 0, NULL, 0};
			lr_xlate_req r;
			facts f;
			int rc;

			/* Responses has no stop sequences */
			o.flags = fmts[t] == LR_XF_RESPONSES ? LR_XLATE_DROP : 0;
			rc = lr_xlate_request(&o, body, strlen(body), &r);
			CHECK_INT(rc, 0);
			if (rc < 0) {
				fprintf(stderr, "  %s -> %s: %s\n", lr_xlate_format_name(app),
					lr_xlate_format_name(fmts[t]), r.refusal);
				continue;
			}
			CHECK(read_request(fmts[t], r.body.p, &f) == 0);
			check_facts(&f, app, fmts[t]);
			if (fmts[t] == LR_XF_RESPONSES)
				CHECK(app == LR_XF_RESPONSES || strstr(r.dropped, "stop sequences"));
			if (app != LR_XF_GEMINI && fmts[t] != LR_XF_GEMINI)
				CHECK_INT(f.stream, 1);
			CHECK_INT(r.stream, app != LR_XF_GEMINI);
			if (fmts[t] != LR_XF_AZURE && fmts[t] != LR_XF_GEMINI) {
				cJSON *j = cJSON_Parse(r.body.p);
				CHECK_STR(str_at(j, "model"), "target-model");
				cJSON_Delete(j);
			}
			lr_xlate_req_free(&r);
		}
	}
}

/* ---- paths, headers, options --------------------------------------------- */

static void test_paths(void)
{
	static const struct { int tgt, stream; const char *path, *op; } c[] = {
		{LR_XF_OPENAI, 0, "/v1/chat/completions", "/chat/completions"},
		{LR_XF_RESPONSES, 1, "/v1/responses", "/responses"},
		{LR_XF_ANTHROPIC, 1, "/v1/messages", "/messages"},
		{LR_XF_GEMINI, 0, "/v1beta/models/m-1:generateContent", "/models/m-1:generateContent"},
		{LR_XF_GEMINI, 1, "/v1beta/models/m-1:streamGenerateContent?alt=sse",
			"/models/m-1:streamGenerateContent?alt=sse"},
		{LR_XF_OLLAMA, 0, "/api/chat", "/api/chat"},
		{LR_XF_AZURE, 0, "/openai/deployments/m-1/chat/completions?api-version=2024-10-21",
			"/openai/deployments/m-1/chat/completions?api-version=2024-10-21"},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char body[128];
		lr_xlate_opts o = {LR_XF_OPENAI, c[i].tgt, "m-1", 256, 0, NULL, 0};
		lr_xlate_req r;
		int anth = 0, ct = 0;

		snprintf(body, sizeof(body), "{\"model\":\"x\",\"stream\":%s,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
			c[i].stream ? "true" : "false");
		CHECK_INT(lr_xlate_request(&o, body, strlen(body), &r), 0);
		CHECK_STR(r.path, c[i].path);
		CHECK_STR(r.path + r.op_off, c[i].op);
		for (int h = 0; h < r.nheaders; h++) {
			anth += !strcmp(r.headers[h].name, "anthropic-version") && !strcmp(r.headers[h].value, "2023-06-01");
			ct += !strcmp(r.headers[h].name, "content-type") && !strcmp(r.headers[h].value, "application/json");
		}
		CHECK_INT(anth, c[i].tgt == LR_XF_ANTHROPIC);
		CHECK_INT(ct, 1);
		lr_xlate_req_free(&r);
	}
	/* a model that would break the URL is refused, not spliced in */
	{
		lr_xlate_opts o = {LR_XF_OPENAI, LR_XF_GEMINI, "../x?y", 0, 0, NULL, 0};
		lr_xlate_req r;
		const char *b = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
		CHECK_INT(lr_xlate_request(&o, b, strlen(b), &r), LR_EINVAL);
		CHECK(strstr(r.refusal, "model") != NULL);
		CHECK(r.body.p == NULL);
	}
	/* Azure: the api-version the caller gives; the deployment is the model */
	{
		lr_xlate_opts o = {LR_XF_ANTHROPIC, LR_XF_AZURE, "dep", 0, 0, "2025-01-01-preview", 0};
		lr_xlate_req r;
		const char *b = "{\"model\":\"c\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
		CHECK_INT(lr_xlate_request(&o, b, strlen(b), &r), 0);
		CHECK_STR(r.path, "/openai/deployments/dep/chat/completions?api-version=2025-01-01-preview");
		CHECK(strstr(r.body.p, "\"model\"") == NULL);
		lr_xlate_req_free(&r);
	}
	CHECK_INT(lr_xlate_format(1, "chat"), LR_XF_OPENAI);
	CHECK_INT(lr_xlate_format(1, "responses"), LR_XF_RESPONSES);
	CHECK_INT(lr_xlate_format(1, "embeddings"), LR_XF_NONE);
	CHECK_INT(lr_xlate_format(2, "chat"), LR_XF_AZURE);
	CHECK_INT(lr_xlate_format(3, "messages"), LR_XF_ANTHROPIC);
	CHECK_INT(lr_xlate_format(4, "generate"), LR_XF_GEMINI);
	CHECK_INT(lr_xlate_format(5, "chat"), LR_XF_OLLAMA);
	CHECK_INT(lr_xlate_format(5, "generate"), LR_XF_NONE);
	CHECK_INT(lr_xlate_format_from_name("gemini"), LR_XF_GEMINI);
	CHECK_INT(lr_xlate_format_from_name("nope"), LR_XF_NONE);
}

/* ---- refusals and drops --------------------------------------------------- */

static void refused(int app, int tgt, const char *body, const char *word)
{
	lr_xlate_opts o = {app, tgt, "m", 512, 0, NULL, 0};
	lr_xlate_req r;
	int rc = lr_xlate_request(&o, body, strlen(body), &r);

	CHECK_INT(rc, LR_EINVAL);
	CHECK(strstr(r.refusal, word) != NULL);
	if (rc != LR_EINVAL || !strstr(r.refusal, word))
		fprintf(stderr, "  refusal for %s: \"%s\"\n", word, r.refusal);
	CHECK(r.body.p == NULL);
	o.flags = LR_XLATE_DROP;
	rc = lr_xlate_request(&o, body, strlen(body), &r);
	CHECK_INT(rc, 0);
	CHECK(strstr(r.dropped, word) != NULL);
	lr_xlate_req_free(&r);
}

static void test_refusals(void)
{
	const char *u = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
	char b[512];

	snprintf(b, sizeof(b), "{\"model\":\"x\",%s,\"logprobs\":true}", u);
	refused(LR_XF_OPENAI, LR_XF_ANTHROPIC, b, "logprobs");
	snprintf(b, sizeof(b), "{\"model\":\"x\",%s,\"n\":3}", u);
	refused(LR_XF_OPENAI, LR_XF_GEMINI, b, "n > 1");
	snprintf(b, sizeof(b), "{\"model\":\"x\",%s,\"response_format\":{\"type\":\"json_schema\","
		"\"json_schema\":{\"name\":\"r\",\"schema\":{\"type\":\"object\"}}}}", u);
	refused(LR_XF_OPENAI, LR_XF_ANTHROPIC, b, "schema");
	snprintf(b, sizeof(b), "{\"model\":\"x\",%s,\"seed\":7}", u);
	refused(LR_XF_OPENAI, LR_XF_ANTHROPIC, b, "seed");
	snprintf(b, sizeof(b), "{\"model\":\"x\",\"max_tokens\":9,%s,\"stop_sequences\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", u);
	refused(LR_XF_ANTHROPIC, LR_XF_OPENAI, b, "stop sequences");
	snprintf(b, sizeof(b), "{\"model\":\"x\",\"max_tokens\":9,%s,\"top_k\":5}", u);
	refused(LR_XF_ANTHROPIC, LR_XF_OPENAI, b, "top_k");
	snprintf(b, sizeof(b), "{\"model\":\"x\",%s,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
		"\"tool_choice\":\"required\"}", u);
	refused(LR_XF_OPENAI, LR_XF_OLLAMA, b, "forced tool");
	snprintf(b, sizeof(b), "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
		"\"image_url\":{\"url\":\"https://example.com/a.png\"}}]}]}");
	refused(LR_XF_OPENAI, LR_XF_GEMINI, b, "image by URL");
	snprintf(b, sizeof(b), "{\"model\":\"x\",\"input\":\"hi\",\"previous_response_id\":\"resp_1\"}");
	refused(LR_XF_RESPONSES, LR_XF_ANTHROPIC, b, "server-side");
	snprintf(b, sizeof(b), "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}],\"safetySettings\":[{\"category\":\"x\"}]}");
	refused(LR_XF_GEMINI, LR_XF_OPENAI, b, "safety");
	snprintf(b, sizeof(b), "{\"model\":\"x\",\"max_tokens\":9,%s,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":99}}", u);
	refused(LR_XF_ANTHROPIC, LR_XF_GEMINI, b, "reasoning");
	snprintf(b, sizeof(b), "{\"model\":\"x\",\"max_tokens\":9,%s,\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"w\"}]}", u);
	refused(LR_XF_ANTHROPIC, LR_XF_OPENAI, b, "provider-run tools");

	/* Anthropic needs max_tokens: the caller's default, or a refusal */
	{
		lr_xlate_opts o = {LR_XF_OPENAI, LR_XF_ANTHROPIC, "c", 0, 0, NULL, 0};
		lr_xlate_req r;
		cJSON *j;
		snprintf(b, sizeof(b), "{\"model\":\"x\",%s}", u);
		CHECK_INT(lr_xlate_request(&o, b, strlen(b), &r), LR_EINVAL);
		CHECK(strstr(r.refusal, "max_tokens") != NULL);
		o.max_tokens_default = 4096;
		CHECK_INT(lr_xlate_request(&o, b, strlen(b), &r), 0);
		j = cJSON_Parse(r.body.p);
		CHECK(num_at(j, "max_tokens") == 4096);
		cJSON_Delete(j);
		lr_xlate_req_free(&r);
	}
	/* unknown members are ignored and named */
	{
		lr_xlate_opts o = {LR_XF_OPENAI, LR_XF_GEMINI, "g", 0, 0, NULL, 0};
		lr_xlate_req r;
		snprintf(b, sizeof(b), "{\"model\":\"x\",%s,\"frobnicate\":1,\"user\":\"u\"}", u);
		CHECK_INT(lr_xlate_request(&o, b, strlen(b), &r), 0);
		CHECK_STR(r.ignored, "frobnicate");
		lr_xlate_req_free(&r);
	}
	/* what the target has is kept: JSON mode to Gemini, top_k to Ollama */
	{
		lr_xlate_opts o = {LR_XF_OPENAI, LR_XF_GEMINI, "g", 0, 0, NULL, 0};
		lr_xlate_req r;
		cJSON *j;
		snprintf(b, sizeof(b), "{\"model\":\"x\",%s,\"response_format\":{\"type\":\"json_schema\","
			"\"json_schema\":{\"name\":\"r\",\"schema\":{\"type\":\"object\"}}},\"seed\":3}", u);
		CHECK_INT(lr_xlate_request(&o, b, strlen(b), &r), 0);
		j = cJSON_Parse(r.body.p);
		CHECK_STR(str_at(j, "generationConfig.responseMimeType"), "application/json");
		CHECK_STR(str_at(j, "generationConfig.responseJsonSchema.type"), "object");
		CHECK(num_at(j, "generationConfig.seed") == 3);
		cJSON_Delete(j);
		lr_xlate_req_free(&r);
		o = (lr_xlate_opts){LR_XF_ANTHROPIC, LR_XF_OLLAMA, "l", 0, 0, NULL, 0};
		snprintf(b, sizeof(b), "{\"model\":\"x\",\"max_tokens\":9,%s,\"top_k\":5,"
			"\"tools\":[{\"name\":\"f\",\"input_schema\":{}}],\"tool_choice\":{\"type\":\"none\"}}", u);
		CHECK_INT(lr_xlate_request(&o, b, strlen(b), &r), 0);
		j = cJSON_Parse(r.body.p);
		CHECK(num_at(j, "options.top_k") == 5);
		CHECK(at(j, "tools") == NULL);  /* tool_choice none: Ollama gets no tools */
		CHECK(cJSON_IsFalse(at(j, "stream")));
		cJSON_Delete(j);
		lr_xlate_req_free(&r);
	}
	/* bad input: not JSON, no messages, arguments that are not an object */
	{
		lr_xlate_opts o = {LR_XF_OPENAI, LR_XF_ANTHROPIC, "c", 10, 0, NULL, 0};
		lr_xlate_req r;
		CHECK_INT(lr_xlate_request(&o, "{\"model\":", 9, &r), LR_EPARSE);
		CHECK(r.refusal[0] != '\0');
		CHECK_INT(lr_xlate_request(&o, "{\"model\":\"x\"}", 13, &r), LR_EINVAL);
		CHECK(strstr(r.refusal, "no messages") != NULL);
		snprintf(b, sizeof(b), "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\","
			"\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"[1,2\"}}]}]}");
		CHECK_INT(lr_xlate_request(&o, b, strlen(b), &r), LR_EINVAL);
		CHECK(strstr(r.refusal, "arguments") != NULL);
		o.app = 99;
		CHECK_INT(lr_xlate_request(&o, b, strlen(b), &r), LR_EINVAL);
	}
}

/* Parallel tool results share one Anthropic user message; Gemini results
 * find their call's name; OpenAI ids are made for Gemini calls. */
static void test_tool_pairing(void)
{
	const char *oa = "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"go\"},"
		"{\"role\":\"assistant\",\"tool_calls\":["
		"{\"id\":\"a\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}},"
		"{\"id\":\"b\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"\"}}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"a\",\"content\":\"1\"},"
		"{\"role\":\"tool\",\"tool_call_id\":\"b\",\"content\":\"{\\\"v\\\":2}\"}],"
		"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}},"
		"{\"type\":\"function\",\"function\":{\"name\":\"g\"}}],\"parallel_tool_calls\":false}";
	const char *gm = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"go\"}]},"
		"{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":{}}},"
		"{\"functionCall\":{\"name\":\"g\",\"args\":{\"x\":1}}}]},"
		"{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":\"g\",\"response\":{\"v\":2}}},"
		"{\"functionResponse\":{\"name\":\"f\",\"response\":{\"result\":\"1\"}}}]}]}";
	lr_xlate_opts o = {LR_XF_OPENAI, LR_XF_ANTHROPIC, "c", 10, 0, NULL, 0};
	lr_xlate_req r;
	cJSON *j;

	CHECK_INT(lr_xlate_request(&o, oa, strlen(oa), &r), 0);
	j = cJSON_Parse(r.body.p);
	CHECK_INT(cJSON_GetArraySize(at(j, "messages")), 3);
	CHECK_STR(str_at(j, "messages.2.role"), "user");
	CHECK_STR(str_at(j, "messages.2.content.0.tool_use_id"), "a");
	CHECK_STR(str_at(j, "messages.2.content.1.tool_use_id"), "b");
	CHECK(cJSON_IsObject(at(j, "messages.1.content.1.input")));  /* "" became {} */
	CHECK(cJSON_IsTrue(at(j, "tool_choice.disable_parallel_tool_use")));
	cJSON_Delete(j);
	lr_xlate_req_free(&r);
	o.target = LR_XF_GEMINI;
	o.flags = LR_XLATE_DROP;
	CHECK_INT(lr_xlate_request(&o, oa, strlen(oa), &r), 0);
	j = cJSON_Parse(r.body.p);
	CHECK_STR(str_at(j, "contents.2.parts.0.functionResponse.name"), "f");
	CHECK_STR(str_at(j, "contents.2.parts.0.functionResponse.response.result"), "1");
	CHECK(num_at(j, "contents.2.parts.1.functionResponse.response.v") == 2);  /* JSON text: the object */
	CHECK(strstr(r.dropped, "parallel_tool_calls") != NULL);
	cJSON_Delete(j);
	lr_xlate_req_free(&r);
	o = (lr_xlate_opts){LR_XF_GEMINI, LR_XF_OPENAI, "g", 0, 0, NULL, 0};
	CHECK_INT(lr_xlate_request(&o, gm, strlen(gm), &r), 0);
	j = cJSON_Parse(r.body.p);
	CHECK_STR(str_at(j, "messages.1.tool_calls.0.id"), "call_0");
	CHECK_STR(str_at(j, "messages.1.tool_calls.1.id"), "call_1");
	CHECK_STR(str_at(j, "messages.2.tool_call_id"), "call_1");  /* g answered first */
	CHECK_STR(str_at(j, "messages.3.tool_call_id"), "call_0");
	CHECK_STR(str_at(j, "messages.2.content"), "{\"v\":2}");
	cJSON_Delete(j);
	lr_xlate_req_free(&r);
}

/* app -> target -> app gives what app -> app gives, for the conversation
 * (where the target carries all of it). */
static void test_round_trip(void)
{
	for (size_t a = 0; a < NF; a++) {
		int app = fmts[a];
		const char *body = conv[app == LR_XF_AZURE ? LR_XF_OPENAI : app];
		lr_xlate_opts o = {app, app, "m", 0, 0, NULL, app == LR_XF_GEMINI};
		lr_xlate_req same, there, back;

		if (lr_xlate_request(&o, body, strlen(body), &same) < 0) {
			CHECK(0);
			continue;
		}
		for (size_t t = 0; t < NF; t++) {
			lr_xlate_opts go = {app, fmts[t], "m", 0, 0, NULL, app == LR_XF_GEMINI};
			lr_xlate_opts come = {fmts[t], app, "m", 0, 0, NULL, 0};
			int ids = app != LR_XF_GEMINI && app != LR_XF_OLLAMA;
			if (fmts[t] == LR_XF_RESPONSES && app != LR_XF_RESPONSES)
				continue;  /* no stop sequences there */
			/* what cannot come back: call ids through Gemini and Ollama
			 * (they have none: calls are renumbered), a text tool result
			 * through Gemini (it becomes {"result": TEXT}) */
			if ((ids && (fmts[t] == LR_XF_GEMINI || fmts[t] == LR_XF_OLLAMA)) ||
			    (app == LR_XF_OLLAMA && fmts[t] == LR_XF_GEMINI))
				continue;
			CHECK_INT(lr_xlate_request(&go, body, strlen(body), &there), 0);
			come.app_stream_in_path = fmts[t] == LR_XF_GEMINI && there.stream;
			CHECK_INT(lr_xlate_request(&come, there.body.p, there.body.len, &back), 0);
			CHECK_STR(back.body.p, same.body.p);
			if (back.body.p && strcmp(back.body.p, same.body.p))
				fprintf(stderr, "  round trip %s -> %s:\n  %s\n  %s\n", lr_xlate_format_name(app),
					lr_xlate_format_name(fmts[t]), same.body.p, back.body.p);
			lr_xlate_req_free(&there);
			lr_xlate_req_free(&back);
		}
		lr_xlate_req_free(&same);
	}
}

/* ---- answers -------------------------------------------------------------- */

/* Each target's answer: "Hello world", get_weather {"city":"Paris"},
 * input 20 (5 cached), output 7. */
static const char *const answer_fx[] = {
	[LR_XF_OPENAI] = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\","
		"\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello world\","
		"\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
		"\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}],"
		"\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":7,\"total_tokens\":27,"
		"\"prompt_tokens_details\":{\"cached_tokens\":5}}}",
	[LR_XF_ANTHROPIC] = "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
		"\"content\":[{\"type\":\"text\",\"text\":\"Hello world\"},{\"type\":\"tool_use\",\"id\":\"call_1\","
		"\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}],\"stop_reason\":\"tool_use\","
		"\"usage\":{\"input_tokens\":15,\"cache_read_input_tokens\":5,\"cache_creation_input_tokens\":0,"
		"\"output_tokens\":7}}",
	[LR_XF_GEMINI] = "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hello world\"},"
		"{\"functionCall\":{\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}}]},\"finishReason\":\"STOP\"}],"
		"\"usageMetadata\":{\"promptTokenCount\":20,\"candidatesTokenCount\":7,\"totalTokenCount\":27,"
		"\"cachedContentTokenCount\":5},\"modelVersion\":\"m\"}",
	[LR_XF_OLLAMA] = "{\"model\":\"m\",\"created_at\":\"2025-01-01T00:00:00Z\",\"message\":{\"role\":\"assistant\","
		"\"content\":\"Hello world\",\"tool_calls\":[{\"function\":{\"name\":\"get_weather\","
		"\"arguments\":{\"city\":\"Paris\"}}}]},\"done\":true,\"done_reason\":\"stop\","
		"\"prompt_eval_count\":20,\"eval_count\":7}",
	[LR_XF_RESPONSES] = "{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"model\":\"m\","
		"\"output\":[{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
		"\"text\":\"Hello world\"}]},{\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"get_weather\","
		"\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}],\"usage\":{\"input_tokens\":20,\"output_tokens\":7,"
		"\"input_tokens_details\":{\"cached_tokens\":5}}}",
};

typedef struct {
	char text[4096], call[64], city[64], finish[32], error[256];
	double in, out, cached;
	int ncalls, done;
} result;

/* The expected finish of a tool-calling answer in each app format. */
static const char *tool_finish(int app)
{
	switch (app) {
	case LR_XF_ANTHROPIC: return "tool_use";
	case LR_XF_GEMINI: return "STOP";
	case LR_XF_OLLAMA: return "stop";
	case LR_XF_RESPONSES: return "completed";
	}
	return "tool_calls";
}

static void read_answer(int app, cJSON *j, result *r)
{
	cJSON *x;

	if (app == LR_XF_OPENAI || app == LR_XF_AZURE) {
		copy(r->text, sizeof(r->text), str_at(j, "choices.0.message.content"));
		copy(r->call, sizeof(r->call), str_at(j, "choices.0.message.tool_calls.0.function.name"));
		city_of(at(j, "choices.0.message.tool_calls.0.function.arguments"), r->city, sizeof(r->city));
		copy(r->finish, sizeof(r->finish), str_at(j, "choices.0.finish_reason"));
		r->in = num_at(j, "usage.prompt_tokens");
		r->out = num_at(j, "usage.completion_tokens");
		r->cached = num_at(j, "usage.prompt_tokens_details.cached_tokens");
		copy(r->error, sizeof(r->error), str_at(j, "error.type"));
	} else if (app == LR_XF_ANTHROPIC) {
		cJSON_ArrayForEach(x, at(j, "content")) {
			if (str_at(x, "text"))
				strncat(r->text, str_at(x, "text"), sizeof(r->text) - strlen(r->text) - 1);
			if (str_at(x, "name")) {
				copy(r->call, sizeof(r->call), str_at(x, "name"));
				city_of(at(x, "input"), r->city, sizeof(r->city));
			}
		}
		copy(r->finish, sizeof(r->finish), str_at(j, "stop_reason"));
		r->cached = num_at(j, "usage.cache_read_input_tokens");
		r->in = num_at(j, "usage.input_tokens") + r->cached + num_at(j, "usage.cache_creation_input_tokens");
		r->out = num_at(j, "usage.output_tokens");
		copy(r->error, sizeof(r->error), str_at(j, "error.type"));
	} else if (app == LR_XF_GEMINI) {
		cJSON_ArrayForEach(x, at(j, "candidates.0.content.parts")) {
			if (str_at(x, "text"))
				strncat(r->text, str_at(x, "text"), sizeof(r->text) - strlen(r->text) - 1);
			if (str_at(x, "functionCall.name")) {
				copy(r->call, sizeof(r->call), str_at(x, "functionCall.name"));
				city_of(at(x, "functionCall.args"), r->city, sizeof(r->city));
			}
		}
		copy(r->finish, sizeof(r->finish), str_at(j, "candidates.0.finishReason"));
		r->in = num_at(j, "usageMetadata.promptTokenCount");
		r->out = num_at(j, "usageMetadata.candidatesTokenCount");
		r->cached = num_at(j, "usageMetadata.cachedContentTokenCount");
		copy(r->error, sizeof(r->error), str_at(j, "error.status"));
	} else if (app == LR_XF_OLLAMA) {
		copy(r->text, sizeof(r->text), str_at(j, "message.content"));
		copy(r->call, sizeof(r->call), str_at(j, "message.tool_calls.0.function.name"));
		city_of(at(j, "message.tool_calls.0.function.arguments"), r->city, sizeof(r->city));
		copy(r->finish, sizeof(r->finish), str_at(j, "done_reason"));
		r->in = num_at(j, "prompt_eval_count");
		r->out = num_at(j, "eval_count");
		r->cached = -1;
		copy(r->error, sizeof(r->error), str_at(j, "error"));
	} else {
		cJSON_ArrayForEach(x, at(j, "output")) {
			if (str_at(x, "content.0.text"))
				copy(r->text, sizeof(r->text), str_at(x, "content.0.text"));
			if (str_at(x, "name")) {
				copy(r->call, sizeof(r->call), str_at(x, "name"));
				city_of(at(x, "arguments"), r->city, sizeof(r->city));
			}
		}
		copy(r->finish, sizeof(r->finish), str_at(j, "status"));
		r->in = num_at(j, "usage.input_tokens");
		r->out = num_at(j, "usage.output_tokens");
		r->cached = num_at(j, "usage.input_tokens_details.cached_tokens");
		copy(r->error, sizeof(r->error), str_at(j, "error.type"));
	}
}

static void check_result(const result *r, int app, int tgt, const char *what)
{
	int ok = 1;

#define RES(c) do { CHECK(c); ok &= (c) ? 1 : 0; } while (0)
	RES(!strcmp(r->text, "Hello world"));
	RES(!strcmp(r->call, "get_weather"));
	RES(!strcmp(r->city, "Paris"));
	RES(!strcmp(r->finish, tool_finish(app)));
	RES(r->in == 20);
	RES(r->out == 7);
	if (tgt != LR_XF_OLLAMA && app != LR_XF_OLLAMA)
		RES(r->cached == 5);
#undef RES
	if (!ok)
		fprintf(stderr, "  ... %s %s -> %s: text '%s' call '%s' city '%s' finish '%s' in %g out %g cached %g\n",
			what, lr_xlate_format_name(tgt), lr_xlate_format_name(app), r->text, r->call, r->city,
			r->finish, r->in, r->out, r->cached);
}

static void test_answer_matrix(void)
{
	for (size_t t = 0; t < NF; t++) {
		int tgt = fmts[t];
		const char *body = answer_fx[tgt == LR_XF_AZURE ? LR_XF_OPENAI : tgt];
		for (size_t a = 0; a < NF; a++) {
			lr_xlate_ctx c = {fmts[a], tgt, 0, 1700000000, 0, NULL};
			lr_xbuf out = {0};
			int st = 0;
			result r;
			cJSON *j;

			memset(&r, 0, sizeof(r));
			CHECK_INT(lr_xlate_answer(&c, 200, body, strlen(body), &out, &st), 0);
			CHECK_INT(st, 200);
			j = cJSON_Parse(out.p);
			CHECK(j != NULL);
			read_answer(fmts[a], j, &r);
			check_result(&r, fmts[a], tgt, "answer");
			cJSON_Delete(j);
			lr_xbuf_free(&out);
		}
	}
}

/* Finish reasons and refusals, one at a time. */
static void test_answer_finish(void)
{
	static const struct { int tgt, app; const char *body, *path, *want; } c[] = {
		{LR_XF_ANTHROPIC, LR_XF_OPENAI, "{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}],"
			"\"stop_reason\":\"max_tokens\"}", "choices.0.finish_reason", "length"},
		{LR_XF_ANTHROPIC, LR_XF_OPENAI, "{\"type\":\"message\",\"content\":[],\"stop_reason\":\"refusal\"}",
			"choices.0.finish_reason", "content_filter"},
		{LR_XF_OPENAI, LR_XF_ANTHROPIC, "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"No.\"},"
			"\"finish_reason\":\"stop\"}]}", "stop_reason", "refusal"},
		{LR_XF_OPENAI, LR_XF_ANTHROPIC, "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"No.\"},"
			"\"finish_reason\":\"stop\"}]}", "content.0.text", "No."},
		{LR_XF_OPENAI, LR_XF_GEMINI, "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"length\"}]}",
			"candidates.0.finishReason", "MAX_TOKENS"},
		{LR_XF_GEMINI, LR_XF_OPENAI, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},"
			"\"finishReason\":\"SAFETY\"}]}", "choices.0.finish_reason", "content_filter"},
		{LR_XF_GEMINI, LR_XF_OPENAI, "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}",
			"choices.0.message.refusal", "The prompt was blocked by the provider (SAFETY)."},
		{LR_XF_GEMINI, LR_XF_ANTHROPIC, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"},"
			"{\"text\":\"b\",\"thought\":true}]},\"finishReason\":\"STOP\"}]}", "content.0.text", "a"},
		{LR_XF_OLLAMA, LR_XF_RESPONSES, "{\"model\":\"m\",\"message\":{\"content\":\"x\"},\"done\":true,"
			"\"done_reason\":\"length\"}", "incomplete_details.reason", "max_output_tokens"},
		{LR_XF_RESPONSES, LR_XF_OLLAMA, "{\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":"
			"\"max_output_tokens\"},\"output\":[]}", "done_reason", "length"},
		{LR_XF_RESPONSES, LR_XF_OPENAI, "{\"status\":\"completed\",\"output\":[{\"type\":\"message\","
			"\"content\":[{\"type\":\"refusal\",\"refusal\":\"No.\"}]}]}", "choices.0.message.refusal", "No."},
		{LR_XF_ANTHROPIC, LR_XF_OLLAMA, "{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
			"{\"type\":\"text\",\"text\":\"b\"}],\"stop_reason\":\"end_turn\"}", "message.content", "ab"},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		lr_xlate_ctx x = {c[i].app, c[i].tgt, 0, 0, 0, "fallback-model"};
		lr_xbuf out = {0};
		int st;
		cJSON *j;

		CHECK_INT(lr_xlate_answer(&x, 200, c[i].body, strlen(c[i].body), &out, &st), 0);
		j = cJSON_Parse(out.p);
		CHECK_STR(str_at(j, c[i].path), c[i].want);
		if (!str_at(j, c[i].path) || strcmp(str_at(j, c[i].path), c[i].want))
			fprintf(stderr, "  case %zu: %s\n", i, out.p);
		cJSON_Delete(j);
		lr_xbuf_free(&out);
	}
	/* no model in a Gemini answer: the caller's */
	{
		lr_xlate_ctx x = {LR_XF_OPENAI, LR_XF_GEMINI, 0, 0, 0, "gemini-x"};
		lr_xbuf out = {0};
		int st;
		const char *b = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},\"finishReason\":\"STOP\"}]}";
		cJSON *j;
		CHECK_INT(lr_xlate_answer(&x, 200, b, strlen(b), &out, &st), 0);
		j = cJSON_Parse(out.p);
		CHECK_STR(str_at(j, "model"), "gemini-x");
		CHECK(at(j, "usage") == NULL);  /* none known: none made up */
		cJSON_Delete(j);
		lr_xbuf_free(&out);
	}
}

/* A bad answer becomes an error of the app's shape, 502. */
static void test_answer_bad(void)
{
	static const char *const bad[] = {"", "{", "[]", "{\"choices\":7}", "null", "{\"x\":1}",
		"\xff\xfe", "{\"type\":\"message\",\"content\":[{\"type\":\"tool_use\"}]}"};
	for (size_t t = 0; t < NF; t++)
		for (size_t a = 0; a < NF; a++)
			for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
				lr_xlate_ctx c = {fmts[a], fmts[t], 0, 0, 0, NULL};
				lr_xbuf out = {0};
				int st = 0, rc;
				result r;
				cJSON *j;

				memset(&r, 0, sizeof(r));
				rc = lr_xlate_answer(&c, 200, bad[i], strlen(bad[i]), &out, &st);
				if (fmts[t] == LR_XF_ANTHROPIC && i == 7)
					CHECK_INT(rc, 1);
				if (rc == 0)
					continue;  /* a shape this target may answer, e.g. {} to nothing */
				CHECK_INT(rc, 1);
				CHECK_INT(st, 502);
				j = cJSON_Parse(out.p);
				CHECK(j != NULL);
				read_answer(fmts[a], j, &r);
				CHECK(r.error[0] != '\0');
				cJSON_Delete(j);
				lr_xbuf_free(&out);
			}
	/* every target refuses these shapes */
	for (size_t t = 0; t < NF; t++) {
		lr_xlate_ctx c = {LR_XF_OPENAI, fmts[t], 0, 0, 0, NULL};
		lr_xbuf out = {0};
		int st;
		CHECK_INT(lr_xlate_answer(&c, 200, "{\"x\":1}", 7, &out, &st), 1);
		CHECK(strstr(out.p, "could not translate") != NULL);
		lr_xbuf_free(&out);
	}
}

/* ---- errors ---------------------------------------------------------------- */

static void test_errors(void)
{
	static const struct { int tgt, app, status; const char *body; int want; const char *path, *value; } c[] = {
		{LR_XF_ANTHROPIC, LR_XF_OPENAI, 529, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
			"\"message\":\"Overloaded\"}}", 503, "error.message", "Overloaded"},
		{LR_XF_ANTHROPIC, LR_XF_OPENAI, 529, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
			"\"message\":\"Overloaded\"}}", 503, "error.code", "service_unavailable"},
		{LR_XF_OPENAI, LR_XF_ANTHROPIC, 429, "{\"error\":{\"message\":\"Slow down\",\"type\":\"requests\","
			"\"code\":\"rate_limit_exceeded\"}}", 429, "error.type", "rate_limit_error"},
		{LR_XF_OPENAI, LR_XF_ANTHROPIC, 429, "{\"error\":{\"message\":\"Slow down\"}}", 429, "type", "error"},
		{LR_XF_OPENAI, LR_XF_ANTHROPIC, 503, "{\"error\":{\"message\":\"busy\"}}", 529, "error.type", "overloaded_error"},
		{LR_XF_GEMINI, LR_XF_ANTHROPIC, 400, "{\"error\":{\"code\":400,\"message\":\"bad\",\"status\":"
			"\"INVALID_ARGUMENT\"}}", 400, "error.type", "invalid_request_error"},
		{LR_XF_GEMINI, LR_XF_OPENAI, 429, "{\"error\":{\"code\":429,\"message\":\"quota\",\"status\":"
			"\"RESOURCE_EXHAUSTED\"}}", 429, "error.message", "quota"},
		{LR_XF_OPENAI, LR_XF_GEMINI, 401, "{\"error\":{\"message\":\"key\",\"type\":\"invalid_request_error\","
			"\"code\":\"invalid_api_key\"}}", 401, "error.status", "UNAUTHENTICATED"},
		{LR_XF_OLLAMA, LR_XF_OPENAI, 404, "{\"error\":\"model 'x' not found\"}", 404, "error.message",
			"model 'x' not found"},
		{LR_XF_OPENAI, LR_XF_OLLAMA, 500, "<html>oops</html>", 500, "error",
			"the openai upstream answered HTTP 500"},
		{LR_XF_RESPONSES, LR_XF_GEMINI, 503, "", 503, "error.status", "UNAVAILABLE"},
		{LR_XF_ANTHROPIC, LR_XF_RESPONSES, 413, "{\"type\":\"error\",\"error\":{\"type\":\"request_too_large\","
			"\"message\":\"big\"}}", 413, "error.code", "request_too_large"},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		lr_xlate_ctx x = {c[i].app, c[i].tgt, 0, 0, 0, NULL};
		lr_xbuf out = {0};
		int st = 0;
		cJSON *j;

		CHECK_INT(lr_xlate_answer(&x, c[i].status, c[i].body, strlen(c[i].body), &out, &st), 0);
		CHECK_INT(st, c[i].want);
		j = cJSON_Parse(out.p);
		CHECK_STR(str_at(j, c[i].path), c[i].value);
		if (!str_at(j, c[i].path) || strcmp(str_at(j, c[i].path), c[i].value))
			fprintf(stderr, "  error case %zu: %d %s\n", i, st, out.p);
		cJSON_Delete(j);
		lr_xbuf_free(&out);
	}
	/* our own refusal, in each app's shape */
	for (size_t a = 0; a < NF; a++) {
		lr_xbuf out = {0};
		result r;
		cJSON *j;
		memset(&r, 0, sizeof(r));
		CHECK_INT(lr_xlate_error_body(fmts[a], 400, "llmroute cannot translate \"this\"", &out), 0);
		j = cJSON_Parse(out.p);
		read_answer(fmts[a], j, &r);
		CHECK(r.error[0] != '\0');
		CHECK(strstr(out.p, "cannot translate \\\"this\\\"") != NULL);
		cJSON_Delete(j);
		lr_xbuf_free(&out);
	}
	CHECK_STR(lr_xlate_content_type(LR_XF_OLLAMA, 1), "application/x-ndjson");
	CHECK_STR(lr_xlate_content_type(LR_XF_ANTHROPIC, 1), "text/event-stream");
	CHECK_STR(lr_xlate_content_type(LR_XF_GEMINI, 0), "application/json");
}

/* ---- streams --------------------------------------------------------------- */

/* Each target's stream: "Hel" "lo wor" "ld", get_weather {"city":"Paris"}
 * in two argument pieces where the format streams them, input 20 (5
 * cached), output 7. */
static const char *const stream_fx[] = {
	[LR_XF_OPENAI] =
		"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,"
		"\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n"
		"data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo wor\"}}]}\n\n"
		"data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ld\"}}]}\r\n\r\n"
		"data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
		"\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n"
		"data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
		"\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n"
		"data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
		"\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]}}]}\n\n"
		"data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
		"data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":7,"
		"\"prompt_tokens_details\":{\"cached_tokens\":5}}}\n\n"
		"data: [DONE]\n\n",
	[LR_XF_ANTHROPIC] =
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
		"\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":15,"
		"\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\n"
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
		"{\"type\":\"text\",\"text\":\"\"}}\n\n"
		"event: ping\ndata: {\"type\":\"ping\"}\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
		"{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
		"{\"type\":\"text_delta\",\"text\":\"lo wor\"}}\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
		"{\"type\":\"text_delta\",\"text\":\"ld\"}}\n\n"
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":"
		"{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"get_weather\",\"input\":{}}}\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
		"{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\"}}\n\n"
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
		"{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Paris\\\"}\"}}\n\n"
		"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
		"\"stop_sequence\":null},\"usage\":{\"output_tokens\":7}}\n\n"
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
	[LR_XF_GEMINI] =
		"data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hel\"}]},\"index\":0}],"
		"\"modelVersion\":\"m\",\"responseId\":\"r1\"}\r\n\r\n"
		"data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"lo wor\"}]},\"index\":0}],"
		"\"modelVersion\":\"m\"}\r\n\r\n"
		"data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"ld\"},{\"functionCall\":"
		"{\"name\":\"get_weather\",\"args\":{\"city\":\"Paris\"}}}]},\"finishReason\":\"STOP\",\"index\":0}],"
		"\"usageMetadata\":{\"promptTokenCount\":20,\"candidatesTokenCount\":7,\"totalTokenCount\":27,"
		"\"cachedContentTokenCount\":5},\"modelVersion\":\"m\"}\r\n\r\n",
	[LR_XF_OLLAMA] =
		"{\"model\":\"m\",\"created_at\":\"t\",\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"done\":false}\n"
		"{\"model\":\"m\",\"created_at\":\"t\",\"message\":{\"role\":\"assistant\",\"content\":\"lo wor\"},\"done\":false}\n"
		"{\"model\":\"m\",\"created_at\":\"t\",\"message\":{\"role\":\"assistant\",\"content\":\"ld\"},\"done\":false}\n"
		"{\"model\":\"m\",\"created_at\":\"t\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":"
		"[{\"function\":{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}}]},\"done\":false}\n"
		"{\"model\":\"m\",\"created_at\":\"t\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
		"\"done_reason\":\"stop\",\"prompt_eval_count\":20,\"eval_count\":7}\n",
	[LR_XF_RESPONSES] =
		"event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":"
		"{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\",\"model\":\"m\",\"output\":[]}}\n\n"
		"event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":0,"
		"\"item\":{\"type\":\"message\",\"id\":\"msg_1\",\"role\":\"assistant\",\"content\":[]}}\n\n"
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"output_index\":0,"
		"\"content_index\":0,\"delta\":\"Hel\"}\n\n"
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"output_index\":0,"
		"\"content_index\":0,\"delta\":\"lo wor\"}\n\n"
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"output_index\":0,"
		"\"content_index\":0,\"delta\":\"ld\"}\n\n"
		"event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":0,"
		"\"item\":{\"type\":\"message\"}}\n\n"
		"event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":1,"
		"\"item\":{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_1\",\"name\":\"get_weather\","
		"\"arguments\":\"\"}}\n\n"
		"event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\","
		"\"output_index\":1,\"delta\":\"{\\\"city\\\":\"}\n\n"
		"event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\","
		"\"output_index\":1,\"delta\":\"\\\"Paris\\\"}\"}\n\n"
		"event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":1,"
		"\"item\":{\"type\":\"function_call\"}}\n\n"
		"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\","
		"\"status\":\"completed\",\"model\":\"m\",\"output\":[],\"usage\":{\"input_tokens\":20,\"output_tokens\":7,"
		"\"input_tokens_details\":{\"cached_tokens\":5}}}}\n\n",
};

/* Reads the app's stream back: concatenated text, the call, finish and
 * usage, any error, and whether it ended as the format ends. */
static void read_event(int app, cJSON *j, const char *event, result *r)
{
	cJSON *x;
	const char *type = str_at(j, "type");

	if (app == LR_XF_OPENAI || app == LR_XF_AZURE) {
		if (str_at(j, "choices.0.delta.content"))
			strncat(r->text, str_at(j, "choices.0.delta.content"), sizeof(r->text) - strlen(r->text) - 1);
		if (str_at(j, "choices.0.delta.tool_calls.0.function.name")) {
			copy(r->call, sizeof(r->call), str_at(j, "choices.0.delta.tool_calls.0.function.name"));
			r->ncalls++;
		}
		if (str_at(j, "choices.0.delta.tool_calls.0.function.arguments"))
			strncat(r->city, str_at(j, "choices.0.delta.tool_calls.0.function.arguments"),
				sizeof(r->city) - strlen(r->city) - 1);
		if (str_at(j, "choices.0.finish_reason"))
			copy(r->finish, sizeof(r->finish), str_at(j, "choices.0.finish_reason"));
		if (at(j, "usage.prompt_tokens")) {
			r->in = num_at(j, "usage.prompt_tokens");
			r->out = num_at(j, "usage.completion_tokens");
			r->cached = num_at(j, "usage.prompt_tokens_details.cached_tokens");
		}
		if (str_at(j, "error.message"))
			copy(r->error, sizeof(r->error), str_at(j, "error.message"));
	} else if (app == LR_XF_ANTHROPIC) {
		if (!type || !event || strcmp(type, event) != 0)
			copy(r->error, sizeof(r->error), "event name and type differ");
		else if (!strcmp(type, "message_start")) {
			r->cached = num_at(j, "message.usage.cache_read_input_tokens");
			r->in = num_at(j, "message.usage.input_tokens") + r->cached +
				num_at(j, "message.usage.cache_creation_input_tokens");
		} else if (!strcmp(type, "content_block_start") && str_at(j, "content_block.name")) {
			copy(r->call, sizeof(r->call), str_at(j, "content_block.name"));
			r->ncalls++;
		} else if (!strcmp(type, "content_block_delta")) {
			if (str_at(j, "delta.text"))
				strncat(r->text, str_at(j, "delta.text"), sizeof(r->text) - strlen(r->text) - 1);
			if (str_at(j, "delta.partial_json"))
				strncat(r->city, str_at(j, "delta.partial_json"), sizeof(r->city) - strlen(r->city) - 1);
		} else if (!strcmp(type, "message_delta")) {
			copy(r->finish, sizeof(r->finish), str_at(j, "delta.stop_reason"));
			r->out = num_at(j, "usage.output_tokens");
			if (at(j, "usage.input_tokens")) {
				r->cached = num_at(j, "usage.cache_read_input_tokens");
				r->in = num_at(j, "usage.input_tokens") + r->cached +
					num_at(j, "usage.cache_creation_input_tokens");
			}
		} else if (!strcmp(type, "message_stop"))
			r->done = 1;
		else if (!strcmp(type, "error"))
			copy(r->error, sizeof(r->error), str_at(j, "error.message"));
	} else if (app == LR_XF_GEMINI) {
		cJSON_ArrayForEach(x, at(j, "candidates.0.content.parts")) {
			if (str_at(x, "text"))
				strncat(r->text, str_at(x, "text"), sizeof(r->text) - strlen(r->text) - 1);
			if (at(x, "functionCall")) {
				copy(r->call, sizeof(r->call), str_at(x, "functionCall.name"));
				r->ncalls++;
				x = at(x, "functionCall.args");
				char *s = cJSON_PrintUnformatted(x);
				copy(r->city, sizeof(r->city), s);
				free(s);
				break;
			}
		}
		if (str_at(j, "candidates.0.finishReason")) {
			copy(r->finish, sizeof(r->finish), str_at(j, "candidates.0.finishReason"));
			r->done = 1;
		}
		if (at(j, "usageMetadata")) {
			r->in = num_at(j, "usageMetadata.promptTokenCount");
			r->out = num_at(j, "usageMetadata.candidatesTokenCount");
			r->cached = num_at(j, "usageMetadata.cachedContentTokenCount");
		}
		if (str_at(j, "error.message"))
			copy(r->error, sizeof(r->error), str_at(j, "error.message"));
	} else if (app == LR_XF_OLLAMA) {
		if (str_at(j, "message.content"))
			strncat(r->text, str_at(j, "message.content"), sizeof(r->text) - strlen(r->text) - 1);
		if (str_at(j, "message.tool_calls.0.function.name")) {
			char *s = cJSON_PrintUnformatted(at(j, "message.tool_calls.0.function.arguments"));
			copy(r->call, sizeof(r->call), str_at(j, "message.tool_calls.0.function.name"));
			copy(r->city, sizeof(r->city), s);
			free(s);
			r->ncalls++;
		}
		if (cJSON_IsTrue(at(j, "done"))) {
			r->done = 1;
			copy(r->finish, sizeof(r->finish), str_at(j, "done_reason"));
			r->in = num_at(j, "prompt_eval_count");
			r->out = num_at(j, "eval_count");
			r->cached = -1;
		}
		if (str_at(j, "error"))
			copy(r->error, sizeof(r->error), str_at(j, "error"));
	} else {
		if (!type || !event || strcmp(type, event) != 0)
			copy(r->error, sizeof(r->error), "event name and type differ");
		else if (!strcmp(type, "response.output_text.delta"))
			strncat(r->text, str_at(j, "delta"), sizeof(r->text) - strlen(r->text) - 1);
		else if (!strcmp(type, "response.output_item.added") && str_at(j, "item.name")) {
			copy(r->call, sizeof(r->call), str_at(j, "item.name"));
			r->ncalls++;
		} else if (!strcmp(type, "response.function_call_arguments.delta"))
			strncat(r->city, str_at(j, "delta"), sizeof(r->city) - strlen(r->city) - 1);
		else if (!strcmp(type, "response.completed") || !strcmp(type, "response.incomplete")) {
			r->done = 1;
			copy(r->finish, sizeof(r->finish), str_at(j, "response.status"));
			r->in = num_at(j, "response.usage.input_tokens");
			r->out = num_at(j, "response.usage.output_tokens");
			r->cached = num_at(j, "response.usage.input_tokens_details.cached_tokens");
			/* the closing object repeats the text and the call */
			if (strcmp(str_at(j, "response.output.0.content.0.text") ? str_at(j, "response.output.0.content.0.text") : "", r->text))
				copy(r->error, sizeof(r->error), "response.completed text differs");
			if (strcmp(str_at(j, "response.output.1.arguments") ? str_at(j, "response.output.1.arguments") : "", r->city))
				copy(r->error, sizeof(r->error), "response.completed arguments differ");
		} else if (!strcmp(type, "error"))
			copy(r->error, sizeof(r->error), str_at(j, "message"));
	}
}

/* Splits the app's stream into events and reads each. */
static int read_stream(int app, const char *s, size_t n, result *r, int gemini_array)
{
	char *copyb = malloc(n + 1), *line, *save = NULL, event[128] = "";
	int events = 0;

	memset(r, 0, sizeof(*r));
	r->in = r->out = r->cached = -1;
	memcpy(copyb, s, n);
	copyb[n] = '\0';
	if (gemini_array) {
		cJSON *arr = cJSON_Parse(copyb), *x;
		if (!cJSON_IsArray(arr))
			copy(r->error, sizeof(r->error), "not a JSON array");
		cJSON_ArrayForEach(x, arr) {
			read_event(app, x, NULL, r);
			events++;
		}
		cJSON_Delete(arr);
		free(copyb);
		return events;
	}
	for (line = strtok_r(copyb, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *data = line;
		cJSON *j;
		if (app != LR_XF_OLLAMA) {
			if (!strncmp(line, "event: ", 7)) {
				copy(event, sizeof(event), line + 7);
				continue;
			}
			if (strncmp(line, "data: ", 6) != 0) {
				copy(r->error, sizeof(r->error), "a line that is not SSE");
				continue;
			}
			data = line + 6;
			if (!strcmp(data, "[DONE]")) {
				r->done = 1;
				continue;
			}
		}
		j = cJSON_Parse(data);
		if (!j)
			copy(r->error, sizeof(r->error), "an event that is not JSON");
		else
			read_event(app, j, event[0] ? event : NULL, r);
		cJSON_Delete(j);
		event[0] = '\0';
		events++;
	}
	free(copyb);
	return events;
}

/* Feeds `in` in two pieces split at `cut` (or whole with cut == n), then
 * one byte at a time when cut is (size_t)-1; returns the app's bytes. */
static lr_xbuf run_stream(const lr_xlate_ctx *c, const char *in, size_t n, size_t cut, int *rc)
{
	lr_xlate_stream *s = lr_xlate_stream_new(c);
	lr_xbuf out = {0};

	*rc = 0;
	if (!s) {
		*rc = -100;
		return out;
	}
	if (cut == (size_t)-1) {
		for (size_t i = 0; i < n; i++)
			*rc |= lr_xlate_stream_feed(s, in + i, 1, &out);
	} else {
		*rc |= lr_xlate_stream_feed(s, in, cut, &out);
		*rc |= lr_xlate_stream_feed(s, in + cut, n - cut, &out);
	}
	*rc |= lr_xlate_stream_finish(s, &out);
	lr_xlate_stream_free(s);
	return out;
}

static void test_stream_matrix(void)
{
	for (size_t t = 0; t < NF; t++) {
		int tgt = fmts[t];
		const char *fx = stream_fx[tgt == LR_XF_AZURE ? LR_XF_OPENAI : tgt];
		size_t n = strlen(fx);
		for (size_t a = 0; a < NF; a++) {
			for (int arr = 0; arr <= (fmts[a] == LR_XF_GEMINI); arr++) {
				lr_xlate_ctx c = {fmts[a], tgt, 1, 1700000000, arr, "fallback"};
				int rc, events, same = 1;
				lr_xbuf whole = run_stream(&c, fx, n, n, &rc);
				result r;

				CHECK_INT(rc, 0);
				events = read_stream(fmts[a], whole.p ? whole.p : "", whole.len, &r, arr);
				CHECK(events >= 3);
				CHECK_STR(r.error, "");
				CHECK_INT(r.ncalls, 1);
				CHECK(r.done || fmts[a] == LR_XF_OPENAI || fmts[a] == LR_XF_AZURE ? 1 : 0);
				if (fmts[a] == LR_XF_OPENAI || fmts[a] == LR_XF_AZURE)
					CHECK_INT(r.done, 1);  /* data: [DONE] */
				/* arguments: JSON text; compare by what it says */
				{
					cJSON *args = cJSON_Parse(r.city);
					copy(r.city, sizeof(r.city), str_at(args, "city"));
					cJSON_Delete(args);
				}
				check_result(&r, fmts[a], tgt, arr ? "stream (array)" : "stream");
				/* every split point gives the same bytes */
				for (size_t cut = 0; cut <= n && same; cut++) {
					lr_xbuf part = run_stream(&c, fx, n, cut, &rc);
					same = rc == 0 && part.len == whole.len && memcmp(part.p, whole.p, whole.len) == 0;
					if (!same)
						fprintf(stderr, "  %s -> %s split at %zu differs\n", lr_xlate_format_name(tgt),
							lr_xlate_format_name(fmts[a]), cut);
					lr_xbuf_free(&part);
				}
				CHECK(same);
				{
					lr_xbuf bytes = run_stream(&c, fx, n, (size_t)-1, &rc);
					CHECK(rc == 0 && bytes.len == whole.len && !memcmp(bytes.p, whole.p, whole.len));
					lr_xbuf_free(&bytes);
				}
				lr_xbuf_free(&whole);
			}
		}
	}
}

/* OpenAI's usage chunk only when the app asked for it. */
static void test_stream_usage_flag(void)
{
	lr_xlate_ctx c = {LR_XF_OPENAI, LR_XF_ANTHROPIC, 0, 0, 0, NULL};
	const char *fx = stream_fx[LR_XF_ANTHROPIC];
	int rc;
	lr_xbuf out = run_stream(&c, fx, strlen(fx), strlen(fx), &rc);

	CHECK_INT(rc, 0);
	CHECK(strstr(out.p, "\"usage\"") == NULL);
	CHECK(strstr(out.p, "data: [DONE]\n\n") != NULL);
	lr_xbuf_free(&out);
}

/* Broken streams end with one error event in the app's shape. */
static void test_stream_errors(void)
{
	static const struct { int tgt; const char *in; const char *msg; } c[] = {
		{LR_XF_OPENAI, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {oops\n\n", "not JSON"},
		{LR_XF_OPENAI, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n", "ended before"},
		{LR_XF_ANTHROPIC, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
			"\"message\":\"Overloaded\"}}\n\n", "Overloaded"},
		{LR_XF_GEMINI, "data: {\"error\":{\"code\":500,\"message\":\"boom\",\"status\":\"INTERNAL\"}}\n\n", "boom"},
		{LR_XF_GEMINI, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\n\n", "ended before"},
		{LR_XF_OLLAMA, "{\"error\":\"model gone\"}\n", "model gone"},
		{LR_XF_OLLAMA, "[1,2]\n", "not JSON"},
		{LR_XF_RESPONSES, "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"sorry\"}\n\n",
			"sorry"},
		{LR_XF_RESPONSES, "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":"
			"\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"failed here\"}}}\n\n", "failed here"},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		for (size_t a = 0; a < NF; a++) {
			lr_xlate_ctx x = {fmts[a], c[i].tgt, 1, 0, 0, NULL};
			int rc;
			lr_xbuf out = run_stream(&x, c[i].in, strlen(c[i].in), strlen(c[i].in) / 2, &rc);
			result r;

			CHECK_INT(rc, 1);
			read_stream(fmts[a], out.p ? out.p : "", out.len, &r, 0);
			CHECK(strstr(r.error, c[i].msg) != NULL);
			if (!strstr(r.error, c[i].msg))
				fprintf(stderr, "  stream error %zu -> %s: '%s' in %s\n", i,
					lr_xlate_format_name(fmts[a]), r.error, out.p ? out.p : "(nothing)");
			lr_xbuf_free(&out);
		}
	/* a line past the cap: one error, nothing kept */
	{
		lr_xlate_ctx x = {LR_XF_ANTHROPIC, LR_XF_OPENAI, 1, 0, 0, NULL};
		lr_xlate_stream *s = lr_xlate_stream_new(&x);
		char *big = malloc(LR_XLATE_MAX_LINE + 10);
		lr_xbuf out = {0};
		result r;
		memset(big, 'a', LR_XLATE_MAX_LINE + 10);
		memcpy(big, "data: ", 6);
		CHECK_INT(lr_xlate_stream_feed(s, big, LR_XLATE_MAX_LINE + 10, &out), 1);
		CHECK_INT(lr_xlate_stream_feed(s, "\n\n", 2, &out), 1);
		CHECK_INT(lr_xlate_stream_finish(s, &out), 1);
		read_stream(LR_XF_ANTHROPIC, out.p, out.len, &r, 0);
		CHECK(strstr(r.error, "too long") != NULL);
		lr_xlate_stream_free(s);
		lr_xbuf_free(&out);
		free(big);
	}
	/* a lone surrogate escape is passed on as the upstream wrote it, except
	 * where the text must be decoded (Responses repeats it whole) */
	for (size_t a = 0; a < NF; a++) {
		const char *in = "data: {\"choices\":[{\"delta\":{\"content\":\"\\ud800\"}}]}\n\ndata: [DONE]\n\n";
		lr_xlate_ctx x = {fmts[a], LR_XF_OPENAI, 1, 0, 0, NULL};
		int rc;
		lr_xbuf out = run_stream(&x, in, strlen(in), 9, &rc);
		CHECK_INT(rc, fmts[a] == LR_XF_RESPONSES);
		if (fmts[a] == LR_XF_RESPONSES)
			CHECK(strstr(out.p, "cannot be decoded") != NULL);
		else
			CHECK(strstr(out.p, "\\ud800") != NULL);
		lr_xbuf_free(&out);
	}
	CHECK(lr_xlate_stream_new(&(lr_xlate_ctx){0, 1, 0, 0, 0, NULL}) == NULL);
}

/* Garbage in any slicing never crashes and always ends in a closed or
 * failed stream. */
static void test_stream_garbage(void)
{
	unsigned seed = 12345;
	char buf[600];

	for (int round = 0; round < 400; round++) {
		size_t n = (size_t)(round % 50) * 12;
		for (size_t i = 0; i < n; i++) {
			static const char alphabet[] = "data: {}[]\":,\n\r event message_stop [DONE] \\u00 text";
			seed = seed * 1103515245u + 12345u;
			buf[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		for (size_t a = 0; a < NF; a++) {
			lr_xlate_ctx c = {fmts[a], fmts[round % NF], 1, 0, 0, NULL};
			int rc;
			lr_xbuf out = run_stream(&c, buf, n, n / 3, &rc);
			CHECK(rc == 0 || rc == 1);
			lr_xbuf_free(&out);
		}
	}
}

int main(void)
{
	test_request_matrix();
	test_paths();
	test_refusals();
	test_tool_pairing();
	test_round_trip();
	test_answer_matrix();
	test_answer_finish();
	test_answer_bad();
	test_errors();
	test_stream_matrix();
	test_stream_usage_flag();
	test_stream_errors();
	test_stream_garbage();
	return lr_test_done("test_xlate");
}
