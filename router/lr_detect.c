/*
 * lr_detect.c - LLM API detection from the URL (see lr_detect.h).
 *
 * Everything is suffix tests on the path: the cheapest thing that tells an
 * LLM call from the rest.  Most non-LLM URLs fail on the first byte compare
 * of each candidate suffix.  The API's own segments compare ignoring ASCII
 * case (/V1/Chat/Completions is detected: a deny must not depend on how the
 * app spelled what the server accepts); models and deployments keep theirs.
 * The URL is expected in lr_url_canon's form (dot segments, "//", host
 * spellings): callers canonicalise first.
 */
#include "lr_detect.h"
#include "lr_error.h"

#include <string.h>
#include <strings.h>

typedef struct {
	const char *suffix;
	size_t len; /* strlen(suffix), so a miss costs one compare */
	const char *operation, *otel;
} op_suffix;

#define OP(suffix, op, otel) {suffix, sizeof(suffix) - 1, op, otel}

static const op_suffix openai_ops[] = {
	OP("/chat/completions", "chat", "chat"),
	OP("/completions", "completions", "text_completion"),
	OP("/responses", "responses", "chat"),
	OP("/embeddings", "embeddings", "embeddings"),
};

static const op_suffix ollama_ops[] = {
	OP("/api/chat", "chat", "chat"),
	OP("/api/generate", "generate", "text_completion"),
	OP("/api/embed", "embeddings", "embeddings"),
	OP("/api/embeddings", "embeddings", "embeddings"),
};

static const op_suffix gemini_ops[] = {
	OP(":generateContent", "generate", "generate_content"),
	OP(":streamGenerateContent", "generate", "generate_content"),
	OP(":embedContent", "embeddings", "embeddings"),
	OP(":batchEmbedContents", "embeddings", "embeddings"),
};

/* Known API hosts name their provider; any other host is named after the
 * wire format it speaks. */
static const struct {
	const char *host;
	const char *provider;
} known_hosts[] = {
	{"api.openai.com", "openai"},
	{"api.anthropic.com", "anthropic"},
	{"generativelanguage.googleapis.com", "gcp.gemini"},
	{"aiplatform.googleapis.com", "gcp.vertex_ai"},
	{"api.groq.com", "groq"},
	{"api.deepseek.com", "deepseek"},
	{"api.mistral.ai", "mistral_ai"},
	{"api.x.ai", "x_ai"},
	{"api.perplexity.ai", "perplexity"},
	{"openrouter.ai", "openrouter"},
};

static int ends_with(const char *s, size_t n, const op_suffix *op, size_t *at)
{
	size_t k = op->len;

	if (n < k || (s[n - 1] | 0x20) != (op->suffix[k - 1] | 0x20) ||
	    strncasecmp(s + n - k, op->suffix, k) != 0)
		return 0;
	*at = n - k;
	return 1;
}

/* The path segment that ends at `end` (exclusive): its start. */
static size_t seg_start(const char *p, size_t end)
{
	while (end > 0 && p[end - 1] != '/')
		end--;
	return end;
}

static int is_version_seg(const char *s, size_t n)
{
	return (n >= 2 && (s[0] | 0x20) == 'v' && s[1] >= '0' && s[1] <= '9') ||
	       (n == 6 && strncasecmp(s, "openai", 6) == 0);
}

static void set_op(lr_detect *d, int fmt, const op_suffix *op, size_t base_in_path)
{
	d->format = fmt;
	d->operation = op->operation;
	d->otel_operation = op->otel;
	d->base_len = (size_t)(d->url.path - d->url.scheme) + base_in_path;
}

/* First `key` (k bytes, lower case) in p[0..n), ignoring ASCII case. */
static const char *find_ci(const char *p, size_t n, const char *key, size_t k)
{
	size_t i;

	for (i = 0; i + k <= n; i++)
		if ((p[i] | 0x20) == key[0] && strncasecmp(p + i, key, k) == 0)
			return p + i;
	return NULL;
}

/* /openai/deployments/D/<openai op> */
static int try_azure(lr_detect *d, const char *p, size_t n)
{
	static const char key[] = "/openai/deployments/";
	const char *hit = find_ci(p, n, key, sizeof(key) - 1);
	size_t dep, dep_end, at;
	unsigned i;

	if (!hit)
		return 0;
	dep = (size_t)(hit - p) + sizeof(key) - 1;
	for (dep_end = dep; dep_end < n && p[dep_end] != '/'; dep_end++)
		;
	if (dep_end == dep || dep_end == n)
		return 0;
	for (i = 0; i < sizeof(openai_ops) / sizeof(openai_ops[0]); i++) {
		if (ends_with(p, n, &openai_ops[i], &at) && at == dep_end) {
			set_op(d, LR_FMT_AZURE, &openai_ops[i], (size_t)(hit - p));
			d->model_off = (size_t)(p - d->url.scheme) + dep;
			d->model_len = dep_end - dep;
			return 1;
		}
	}
	return 0;
}

static int try_openai(lr_detect *d, const char *p, size_t n)
{
	size_t at, seg;
	unsigned i;

	for (i = 0; i < sizeof(openai_ops) / sizeof(openai_ops[0]); i++) {
		if (!ends_with(p, n, &openai_ops[i], &at))
			continue;
		seg = seg_start(p, at);
		if (at > 0 && is_version_seg(p + seg, at - seg)) {
			set_op(d, LR_FMT_OPENAI, &openai_ops[i], at);
			return 1;
		}
	}
	return 0;
}

static int try_anthropic(lr_detect *d, const char *p, size_t n)
{
	static const op_suffix msg = OP("/messages", "messages", "chat");
	size_t at, seg;

	if (!ends_with(p, n, &msg, &at))
		return 0;
	seg = seg_start(p, at);
	if (at == 0 || !is_version_seg(p + seg, at - seg))
		return 0;
	set_op(d, LR_FMT_ANTHROPIC, &msg, at);
	return 1;
}

/* .../models/M:method, base = everything before the first "/models/" that
 * starts the last two segments (Vertex AI puts projects/... in between). */
static int try_gemini(lr_detect *d, const char *p, size_t n)
{
	size_t at, seg, m;
	unsigned i;

	for (i = 0; i < sizeof(gemini_ops) / sizeof(gemini_ops[0]); i++) {
		if (!ends_with(p, n, &gemini_ops[i], &at))
			continue;
		seg = seg_start(p, at);
		if (seg == at || seg < 8 || strncasecmp(p + seg - 8, "/models/", 8) != 0)
			return 0;
		m = seg - 7; /* index of "models/" */
		/* base: up to the version segment, the first segment of the path */
		at = 1;
		while (at < m && p[at] != '/')
			at++;
		if (at >= m)
			at = m - 1;
		set_op(d, LR_FMT_GEMINI, &gemini_ops[i], at);
		d->model_off = (size_t)(p - d->url.scheme) + seg;
		d->model_len = n - seg - gemini_ops[i].len;
		d->stream_in_path = (i == 1);
		return 1;
	}
	return 0;
}

static int try_ollama(lr_detect *d, const char *p, size_t n)
{
	size_t at;
	unsigned i;

	for (i = 0; i < sizeof(ollama_ops) / sizeof(ollama_ops[0]); i++) {
		if (ends_with(p, n, &ollama_ops[i], &at)) {
			set_op(d, LR_FMT_OLLAMA, &ollama_ops[i], at);
			return 1;
		}
	}
	return 0;
}

int lr_detect_api_host(const char *host, size_t n)
{
	unsigned i;

	for (i = 0; i < sizeof(known_hosts) / sizeof(known_hosts[0]); i++)
		if (strlen(known_hosts[i].host) == n && strncasecmp(host, known_hosts[i].host, n) == 0)
			return 1;
	return (n > 17 && strncasecmp(host + n - 17, ".openai.azure.com", 17) == 0) ||
	       (n > 25 && strncasecmp(host + n - 25, "-aiplatform.googleapis.com", 25) == 0);
}

static const char *provider_for(const lr_url *u, int fmt)
{
	unsigned i;

	for (i = 0; i < sizeof(known_hosts) / sizeof(known_hosts[0]); i++)
		if (strlen(known_hosts[i].host) == u->host_len &&
		    strncasecmp(u->host, known_hosts[i].host, u->host_len) == 0)
			return known_hosts[i].provider;
	if (u->host_len > 17 &&
	    strncasecmp(u->host + u->host_len - 17, ".openai.azure.com", 17) == 0)
		return "azure.ai.openai";
	if (fmt == LR_FMT_GEMINI && u->host_len > 25 &&
	    strncasecmp(u->host + u->host_len - 25, "-aiplatform.googleapis.com", 25) == 0)
		return "gcp.vertex_ai";
	return lr_detect_format_name(fmt);
}

int lr_detect_url(const char *url, size_t n, lr_detect *d)
{
	const char *p;
	size_t pn;

	memset(d, 0, sizeof(*d));
	if (lr_url_parse(url, n, &d->url) < 0)
		return LR_ENOTFOUND;
	p = d->url.path;
	pn = d->url.path_len;
	while (pn > 1 && p[pn - 1] == '/') /* tolerate a trailing slash */
		pn--;
	if (!(try_azure(d, p, pn) || try_openai(d, p, pn) ||
	      try_anthropic(d, p, pn) || try_gemini(d, p, pn) ||
	      try_ollama(d, p, pn)))
		return LR_ENOTFOUND;
	d->provider = provider_for(&d->url, d->format);
	return 0;
}

const char *lr_detect_auth_header(int format)
{
	switch (format) {
	case LR_FMT_OPENAI: return "authorization";
	case LR_FMT_AZURE: return "api-key";
	case LR_FMT_ANTHROPIC: return "x-api-key";
	case LR_FMT_GEMINI: return "x-goog-api-key";
	}
	return NULL;
}

const char *lr_detect_format_name(int format)
{
	switch (format) {
	case LR_FMT_OPENAI: return "openai";
	case LR_FMT_AZURE: return "azure.ai.openai";
	case LR_FMT_ANTHROPIC: return "anthropic";
	case LR_FMT_GEMINI: return "gcp.gemini";
	case LR_FMT_OLLAMA: return "ollama";
	}
	return "none";
}
