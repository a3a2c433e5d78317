/*
 * lr_splice_body.c - what a continuation sends, and how the app's stream
 * ends when it is not continued (see lr_splice.h): the request that asks
 * for the rest in each dialect's way, its token limit lowered by what was
 * delivered; the error event of ours; the end a provider gives a stream
 * its token limit cut; whether a held stream is complete.
 */
#include "lr_splice_int.h"
#include "lr_detect.h"
#include "lr_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the body that asks for the rest ----------------------------------------- */

/* The delivered text (n bytes of it) as a JSON string token, quotes
 * included when `quotes`; malloc'ed, or NULL (ENOMEM, not UTF-8). */
static char *encode(const lr_splice *s, size_t n, int quotes, size_t *len)
{
	size_t cap = 6 * n + 3;
	char *o = malloc(cap);
	int k;

	if (!o || (k = lr_json_str_encode(s->text, n, o, cap)) < 2) {
		free(o);
		return NULL;
	}
	if (!quotes) {
		memmove(o, o + 1, (size_t)k - 2);
		k -= 2;
	}
	o[k] = '\0';
	*len = (size_t)k;
	return o;
}

/* body with [at, end) replaced by the NUL-terminated pieces a, b, c. */
static int replace(const char *body, size_t len, size_t at, size_t end, const char *a, const char *b,
		   const char *c, char **out, size_t *outlen)
{
	size_t na = strlen(a), nb = strlen(b), nc = strlen(c), n = len - (end - at) + na + nb + nc;
	char *o = malloc(n + 1);

	if (!o)
		return LR_ENOMEM;
	memcpy(o, body, at);
	memcpy(o + at, a, na);
	memcpy(o + at + na, b, nb);
	memcpy(o + at + na + nb, c, nc);
	memcpy(o + at + na + nb + nc, body + end, len - end);
	o[n] = '\0';
	*out = o;
	*outlen = n;
	return 0;
}

/* A list (its key at the top level) with the turns appended:
 * {"role":ROLE,"content":TEXT} (Gemini: parts), then the ask unless none. */
static int append_turns(const lr_splice *s, const char *body, size_t len, const char *key, const char *role,
			int ask, size_t tl, char **out, size_t *outlen)
{
	const char *const path[] = {key};
	char *txt, *mid;
	lr_span list;
	size_t tn, close, cap;
	int gem = s->dialect == LR_SP_GEMINI, empty, rc;

	if (lr_json_find(body, len, path, 1, &list) < 0 || lr_json_type_of(list) != LR_JSON_ARRAY)
		return LR_EPARSE;
	if (!(txt = encode(s, tl, 1, &tn)))
		return LR_EINVAL;
	close = (size_t)(list.p - body) + list.len - 1;
	empty = lr_json_skip_ws(list.p, list.len - 1, 1) == (int)list.len - 1;
	cap = tn + sizeof(LR_SPLICE_ASK) + 160;
	if (!(mid = malloc(cap))) {
		free(txt);
		return LR_ENOMEM;
	}
	if (gem)
		snprintf(mid, cap, "%s{\"role\":\"%s\",\"parts\":[{\"text\":%s}]}%s", empty ? "" : ",", role, txt,
			 ask ? ",{\"role\":\"user\",\"parts\":[{\"text\":\"" LR_SPLICE_ASK "\"}]}" : "");
	else
		snprintf(mid, cap, "%s{\"role\":\"%s\",\"content\":%s}%s", empty ? "" : ",", role, txt,
			 ask ? ",{\"role\":\"user\",\"content\":\"" LR_SPLICE_ASK "\"}" : "");
	rc = replace(body, len, close, close, mid, "", "", out, outlen);
	free(mid);
	free(txt);
	return rc;
}

/* The delivered text appended inside the string at key (a prompt; or the
 * one string of a list). */
static int append_to_string(const lr_splice *s, const char *body, size_t len, const char *key, char **out,
			    size_t *outlen)
{
	const char *const path[] = {key};
	lr_span v, el;
	lr_json_iter it;
	char *txt;
	size_t tn;
	int rc, k = 0;

	if (lr_json_find(body, len, path, 1, &v) < 0)
		return LR_EPARSE;
	if (lr_json_type_of(v) == LR_JSON_ARRAY) { /* ["one prompt"]: that one */
		if (lr_json_arr_init(&it, v.p, v.len, 0) < 0)
			return LR_EPARSE;
		while (lr_json_arr_next(&it, &el) == 1)
			k++;
		if (k != 1 || lr_json_arr_init(&it, v.p, v.len, 0) < 0 || lr_json_arr_next(&it, &v) != 1)
			return LR_EPARSE;
	}
	if (lr_json_type_of(v) != LR_JSON_STRING)
		return LR_EPARSE; /* token ids: not ours to extend */
	if (!(txt = encode(s, s->tlen, 0, &tn)))
		return LR_EINVAL;
	rc = replace(body, len, (size_t)(v.p - body) + v.len - 1, (size_t)(v.p - body) + v.len - 1, txt, "", "", out,
		     outlen);
	free(txt);
	return rc;
}

/* Responses: `input` a list gets the two turns; a string becomes the list
 * [its user message, the assistant's, the ask]. */
static int responses_body(const lr_splice *s, const char *body, size_t len, char **out, size_t *outlen)
{
	static const char *const path[] = {"input"};
	static const char ask[] = "},{\"role\":\"user\",\"content\":\"" LR_SPLICE_ASK "\"}]";
	lr_span v;
	char *txt, *head;
	size_t tn, at;
	int rc;

	if (lr_json_find(body, len, path, 1, &v) < 0)
		return LR_EPARSE;
	if (lr_json_type_of(v) == LR_JSON_ARRAY)
		return append_turns(s, body, len, "input", "assistant", 1, s->tlen, out, outlen);
	if (lr_json_type_of(v) != LR_JSON_STRING)
		return LR_EPARSE;
	if (!(txt = encode(s, s->tlen, 1, &tn)))
		return LR_EINVAL;
	at = (size_t)(v.p - body);
	if (!(head = malloc(v.len + 64))) {
		free(txt);
		return LR_ENOMEM;
	}
	snprintf(head, v.len + 64, "[{\"role\":\"user\",\"content\":%.*s},{\"role\":\"assistant\",\"content\":",
		 (int)v.len, v.p);
	rc = replace(body, len, at, at + v.len, head, txt, ask, out, outlen);
	free(head);
	free(txt);
	return rc;
}

/* Ollama generate continues exactly only without its template (raw). */
static int ollama_gen_body(const lr_splice *s, const char *body, size_t len, char **out, size_t *outlen)
{
	static const char *const path[] = {"raw"};
	lr_span raw;

	if (lr_json_find(body, len, path, 1, &raw) < 0 || !lr_json_is_true(raw))
		return LR_EPARSE;
	return append_to_string(s, body, len, "prompt", out, outlen);
}

static int asking_body(const lr_splice *s, const char *body, size_t len, char **out, size_t *outlen)
{
	size_t tl = s->tlen;

	switch (s->dialect) {
	case LR_SP_ANTHROPIC: /* a trailing assistant turn is Anthropic's prefill: no white space at its end */
		while (tl && (s->text[tl - 1] == ' ' || s->text[tl - 1] == '\n' || s->text[tl - 1] == '\t' ||
			      s->text[tl - 1] == '\r'))
			tl--;
		return append_turns(s, body, len, "messages", "assistant", 0, tl, out, outlen);
	case LR_SP_GEMINI: return append_turns(s, body, len, "contents", "model", 1, tl, out, outlen);
	case LR_SP_RESPONSES: return responses_body(s, body, len, out, outlen);
	case LR_SP_COMPLETIONS: return append_to_string(s, body, len, "prompt", out, outlen);
	case LR_SP_OLLAMA_CHAT: return append_turns(s, body, len, "messages", "assistant", 0, tl, out, outlen);
	case LR_SP_OLLAMA_GEN: return ollama_gen_body(s, body, len, out, outlen);
	default: return append_turns(s, body, len, "messages", "assistant", 1, tl, out, outlen);
	}
}

/* --- the token limit ------------------------------------------------------------ */

typedef struct {
	const char *path[2];
	int depth;
} limit_key;

/* The keys that bound the answer's length in the dialect (chat has two). */
static int limit_keys(const lr_splice *s, limit_key *k)
{
	switch (s->dialect) {
	case LR_SP_GEMINI: k[0] = (limit_key){{"generationConfig", "maxOutputTokens"}, 2}; return 1;
	case LR_SP_RESPONSES: k[0] = (limit_key){{"max_output_tokens", NULL}, 1}; return 1;
	case LR_SP_OLLAMA_CHAT: case LR_SP_OLLAMA_GEN: k[0] = (limit_key){{"options", "num_predict"}, 2}; return 1;
	case LR_SP_CHAT:
		k[0] = (limit_key){{"max_completion_tokens", NULL}, 1};
		k[1] = (limit_key){{"max_tokens", NULL}, 1};
		return 2;
	default: k[0] = (limit_key){{"max_tokens", NULL}, 1}; return 1;
	}
}

long long lr_splice_delivered_tokens(const lr_splice *s)
{
	return s->tlen ? (s->tlen / 4 ? (long long)(s->tlen / 4) : 1) : 0;
}

/* The positive limit at key k in body, or -1 (absent, null, 0 or less:
 * Ollama's -1 and -2 mean none). */
static long long limit_at(const char *body, size_t len, const limit_key *k, lr_span *at)
{
	double v;

	if (lr_json_find(body, len, k->path, k->depth, at) < 0 || lr_json_type_of(*at) != LR_JSON_NUMBER ||
	    lr_json_num(*at, &v) < 0 || v < 1 || v > 1e15)
		return -1;
	return (long long)v;
}

long long lr_splice_limit(const lr_splice *s, const char *body, size_t len)
{
	limit_key k[2];
	lr_span at;
	long long lim = -1, v, left;
	int i, n = limit_keys(s, k);

	for (i = 0; i < n; i++)
		if ((v = limit_at(body, len, &k[i], &at)) > 0 && (lim < 0 || v < lim))
			lim = v;
	if (lim < 0)
		return -1;
	left = lim - lr_splice_delivered_tokens(s);
	return left > 0 ? left : 0;
}

/* Each limit key present in *body set to `left` (the buffer replaced). */
static int lower_limit(const lr_splice *s, char **body, size_t *len, long long left)
{
	limit_key k[2];
	lr_span at;
	char num[24], *o;
	size_t ol;
	int i, n = limit_keys(s, k), rc;

	snprintf(num, sizeof(num), "%lld", left);
	for (i = 0; i < n; i++) {
		if (limit_at(*body, *len, &k[i], &at) < 0)
			continue;
		if ((rc = replace(*body, *len, (size_t)(at.p - *body), (size_t)(at.p - *body) + at.len, num, "", "",
				  &o, &ol)) < 0)
			return rc;
		free(*body);
		*body = o;
		*len = ol;
	}
	return 0;
}

int lr_splice_body(const lr_splice *s, const char *body, size_t len, char **out, size_t *outlen)
{
	long long left;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (!s->tlen) /* nothing delivered: the request as it was */
		rc = replace(body, len, len, len, "", "", "", out, outlen);
	else
		rc = asking_body(s, body, len, out, outlen);
	if (rc < 0)
		return rc;
	if (s->tlen && (left = lr_splice_limit(s, body, len)) > 0 && (rc = lower_limit(s, out, outlen, left)) < 0) {
		free(*out);
		*out = NULL;
		return rc;
	}
	return 0;
}

/* --- how the app's stream ends ---------------------------------------------------- */

size_t lr_splice_error_event(const lr_splice *s, const char *why, char *out, size_t cap)
{
	static const char msg[] = "llmroute: the stream was cut (%s) and could not be continued";
	char m[200];
	int n;

	snprintf(m, sizeof(m), msg, why);
	if (s->dialect == LR_SP_ANTHROPIC)
		n = snprintf(out, cap, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"llmroute_stream_cut\","
			     "\"message\":\"%s\"}}\n\n", m);
	else if (s->dialect == LR_SP_RESPONSES)
		n = snprintf(out, cap, "event: error\ndata: {\"type\":\"error\",\"sequence_number\":%lld,"
			     "\"code\":\"llmroute_stream_cut\",\"message\":\"%s\",\"param\":null}\n\n", s->seq + 1, m);
	else if (lr_sp_ndjson(s))
		n = snprintf(out, cap, "{\"error\":\"%s\"}\n", m);
	else
		n = snprintf(out, cap, "data: {\"error\":{\"message\":\"%s\",\"type\":\"llmroute_stream_cut\","
			     "\"code\":\"llmroute_stream_cut\"}}\n\n", m);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Responses: response.incomplete with the whole text as its output. */
static char *responses_end(const lr_splice *s, long long est, size_t *outlen)
{
	size_t tn, cap;
	char *txt = encode(s, s->tlen, 1, &tn), *o;
	int n;

	if (!txt)
		return NULL;
	cap = tn + 512;
	if ((o = malloc(cap))) {
		n = snprintf(o, cap, "event: response.incomplete\ndata: {\"type\":\"response.incomplete\","
			     "\"sequence_number\":%lld,\"response\":{\"object\":\"response\",\"status\":\"incomplete\","
			     "\"incomplete_details\":{\"reason\":\"max_output_tokens\"},\"output\":[{\"type\":\"message\","
			     "\"role\":\"assistant\",\"status\":\"incomplete\",\"content\":[{\"type\":\"output_text\","
			     "\"text\":%s,\"annotations\":[]}]}],\"usage\":{\"output_tokens\":%lld}}}\n\n",
			     s->seq + 1, txt, est);
		*outlen = n > 0 ? (size_t)n : 0;
	}
	free(txt);
	return o;
}

char *lr_splice_end_event(const lr_splice *s, size_t *outlen)
{
	long long est = lr_splice_delivered_tokens(s);
	size_t cap = 1024;
	char *o;
	int n = 0;

	if (s->dialect == LR_SP_RESPONSES)
		return responses_end(s, est, outlen);
	if (!(o = malloc(cap)))
		return NULL;
	switch (s->dialect) {
	case LR_SP_ANTHROPIC:
		if (s->block_open)
			n = snprintf(o, cap, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":%ld}\n\n",
				     s->block);
		n += snprintf(o + n, cap - (size_t)n, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
			      "{\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":%lld}}\n\n"
			      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", est);
		break;
	case LR_SP_GEMINI:
		n = snprintf(o, cap, "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"\"}]},"
			     "\"finishReason\":\"MAX_TOKENS\",\"index\":0}],\"usageMetadata\":{\"candidatesTokenCount\":%lld}}\n\n",
			     est);
		break;
	case LR_SP_COMPLETIONS:
		n = snprintf(o, cap, "data: {\"object\":\"text_completion\",\"choices\":[{\"text\":\"\",\"index\":0,"
			     "\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n");
		break;
	case LR_SP_OLLAMA_CHAT: case LR_SP_OLLAMA_GEN:
		n = snprintf(o, cap, "{%s,\"done\":true,\"done_reason\":\"length\",\"eval_count\":%lld}\n",
			     s->dialect == LR_SP_OLLAMA_CHAT ? "\"message\":{\"role\":\"assistant\",\"content\":\"\"}"
							     : "\"response\":\"\"", est);
		break;
	default:
		n = snprintf(o, cap, "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},"
			     "\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n");
	}
	*outlen = (size_t)n;
	return o;
}

/* --- held streams ------------------------------------------------------------------ */

typedef struct {
	size_t n;
} counted;

static int count(void *ud, const char *p, size_t n)
{
	(void)p;
	((counted *)ud)->n += n;
	return 0;
}

static void init_like(lr_splice *t, const lr_splice *like)
{
	memset(t, 0, sizeof(*t));
	t->format = like->format;
	t->dialect = like->dialect;
	t->block = -1;
	t->seq = -1;
}

int lr_splice_complete_like(const lr_splice *like, const char *p, size_t n)
{
	lr_splice t;
	counted c = {0};
	int done;

	init_like(&t, like);
	done = lr_splice_feed(&t, p, n, count, &c) == 0 && t.done;
	lr_splice_free(&t);
	return done;
}

int lr_splice_complete(int format, const char *p, size_t n)
{
	lr_splice t;

	lr_splice_init(&t, format);
	return lr_splice_complete_like(&t, p, n);
}

size_t lr_splice_whole_prefix(const lr_splice *like, const char *p, size_t n)
{
	lr_splice t;
	counted c = {0};

	init_like(&t, like);
	lr_splice_feed(&t, p, n, count, &c); /* events before a first attempt's error pass raw */
	lr_splice_free(&t);
	return c.n < n ? c.n : n;
}
