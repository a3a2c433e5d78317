/*
 * lr_detect.h - is this URL an LLM API call, and of which kind?
 *
 * Detection looks only at the URL path (and the host, to name the
 * provider), never at the body, so that a non-LLM request costs one short
 * scan of its path and nothing else.  For an LLM call it also says where the
 * URL splits into the *base* (what a route's `endpoint` replaces) and the
 * *operation path* (kept), and where a model named in the path sits (Gemini
 * `models/M:generateContent`, Azure `deployments/D/...`).
 *
 *   wire format   path (any prefix before it)            base ends before
 *   openai        .../v1/chat/completions, /completions,  /chat/completions ...
 *                 /responses, /embeddings (after a
 *                 version segment or "openai")
 *   azure         /openai/deployments/D/chat/completions  /openai
 *   anthropic     .../v1/messages                         /messages
 *   gemini        .../v1beta/models/M:generateContent     /models
 *   ollama        .../api/chat, /api/generate, /api/embed /api
 */
#ifndef LR_DETECT_H
#define LR_DETECT_H
#include <stddef.h>
#include "lr_url.h"

enum lr_format {
	LR_FMT_NONE,
	LR_FMT_OPENAI,
	LR_FMT_AZURE,
	LR_FMT_ANTHROPIC,
	LR_FMT_GEMINI,
	LR_FMT_OLLAMA,
};

typedef struct {
	int format;                 /* enum lr_format */
	const char *provider;       /* OpenTelemetry gen_ai.provider.name */
	const char *operation;      /* llmroute operation name */
	const char *otel_operation; /* OpenTelemetry gen_ai.operation.name */
	int stream_in_path;         /* Gemini streamGenerateContent */
	lr_url url;
	size_t base_len;            /* URL bytes [0, base_len) are the base */
	size_t model_off, model_len;/* model in the URL path; len 0 if none */
} lr_detect;

/* Inspects `url` (n bytes).  Returns 0 and fills *d for an LLM API request,
 * LR_ENOTFOUND for anything else (including URLs that do not parse). */
int lr_detect_url(const char *url, size_t n, lr_detect *d);

/* Name of the header that carries the API key for a wire format
 * ("authorization", "x-api-key", "x-goog-api-key", "api-key"), or NULL
 * (Ollama has none). */
const char *lr_detect_auth_header(int format);

/* Name of a wire format, for explanations ("openai", ...). */
const char *lr_detect_format_name(int format);

/* 1 if host (n bytes) is a known LLM API host (api.openai.com,
 * api.anthropic.com, the Gemini and Vertex AI hosts, Azure OpenAI's
 * *.openai.azure.com, and the other providers lr_detect names). */
int lr_detect_api_host(const char *host, size_t n);

#endif
