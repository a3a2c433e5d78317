/*
 * lr_audit.h - one audit record per LLM request, as one JSON line.
 *
 * Field names follow the OpenTelemetry GenAI semantic conventions where
 * they have one; the rest are under "llmroute.".  A record never holds
 * prompt or response text, a credential, or a header value: the struct
 * below has no field that could carry them.
 *
 *   time                         RFC 3339 UTC with milliseconds
 *   gen_ai.provider.name         openai, anthropic, gcp.gemini, ...
 *   gen_ai.operation.name        chat, text_completion, embeddings, generate_content
 *   gen_ai.request.model         the model sent upstream
 *   gen_ai.response.model        the model the answer names, or null
 *   gen_ai.usage.input_tokens    integer or null
 *   gen_ai.usage.output_tokens   integer or null
 *   gen_ai.usage.cache_read.input_tokens      how many of the input tokens
 *                                were read from the provider's prompt cache
 *   gen_ai.usage.cache_creation.input_tokens  how many were written to it
 *                                (both integers, null when input_tokens is)
 *   server.address, server.port  where the request was sent
 *   http.response.status_code    integer, or null when no answer came
 *   error.type                   null, "denied", "http_NNN", a libcurl error name,
 *                                or "incomplete", "unframed", "unpaired"
 *   llmroute.rule                the matching route's name, or null
 *   llmroute.action              route, pass, deny, none
 *   llmroute.applied             true: the decision went out as decided (a route
 *                                applied, a pass, a deny); false: a route was
 *                                decided but not applied, and the request went
 *                                out as the app made it; null: no route matched
 *   llmroute.not_applied         why not (lr_plan.h: "tls_cannot_move_host",
 *                                "socket_not_redirected", "body_not_rewritable",
 *                                "rewrite_failed", "no_memory",
 *                                "url_without_scheme"), or null
 *   llmroute.target              the catalogue target a pool or budget chose, or null
 *   llmroute.intent              the request's intent (rules or learned), or null
 *   llmroute.intent_confidence   its confidence (1 for a rule), or null
 *   llmroute.uncertain           the route whose intent_confidence the request did
 *                                not reach, which handed it to its "when_unsure"
 *                                route (llmroute.rule), or null
 *   llmroute.guard.findings      {"email": 2, "card": 1}: the detectors that fired
 *                                (lr_guard.h) and how often, never a value; null
 *                                when the table runs no detector or none fired
 *   llmroute.guard.action        what was done about them: "deny", "redact",
 *                                "redact_not_applied", "route" (a route matched on
 *                                them), "none" (found, nothing asked); or null
 *   llmroute.original_model      the model the app asked for
 *   llmroute.original_server     host:port the app asked for
 *   llmroute.transport           curl, socket or tls
 *   llmroute.stream              true/false
 *   llmroute.duration_ms         start of the transfer to its end
 *   llmroute.ttfb_ms             start to the first response byte, or null
 *   llmroute.request_bytes       body bytes sent
 *   llmroute.response_bytes      body bytes received
 *   llmroute.cost_usd            number, or null when the model has no price
 *   llmroute.tokens_estimated    true when the counts are estimates
 *   llmroute.table_generation    generation of the routing table used
 *   process.pid, process.executable.name
 * Only for a request under a route with fallbacks, escalation or a cache
 * (one record per attempt, all with the app request's id):
 *   llmroute.request_id          one id per request the app made
 *   llmroute.attempt             1, 2, ... in the order they were sent
 *   llmroute.via                 null (the first), "retry" (the same target
 *                                again: after a Retry-After or our back-off),
 *                                "fallback", "context" (the one before said
 *                                the request is too long for its context
 *                                window), "escalation", "health"
 *                                (the routed target was cooling down),
 *                                "without_timeout" (a step we cut, sent again),
 *                                "original" (the route is gone: decided afresh)
 *   llmroute.wait_ms             how long this attempt waited before it went
 *                                (a Retry-After or our back-off), 0 if not
 *   llmroute.delivered           true for the one answer the app got
 *   llmroute.gate                the escalation condition this answer met, or null
 *   llmroute.cache               "hit", "stored", "miss" or null (not cacheable)
 */
#ifndef LR_AUDIT_H
#define LR_AUDIT_H
#include <stddef.h>
#include <stdint.h>

#define LR_AUDIT_MAX_LINE 4096

typedef struct {
	int64_t time_ms;              /* unix time in milliseconds */
	const char *provider, *operation;
	const char *request_model, *response_model;  /* NULL = null */
	long long input_tokens, output_tokens;       /* < 0 = null */
	long long cache_read_tokens, cache_write_tokens; /* < 0 = null */
	const char *server_address;
	int server_port;
	int status;                   /* <= 0 = null */
	const char *error_type;       /* NULL = null */
	const char *rule;             /* NULL = null */
	const char *target, *intent;  /* NULL = null */
	double intent_confidence;     /* null when intent is */
	const char *uncertain;        /* NULL = null */
	const unsigned *guard_count;  /* [LR_GK_N] findings per kind; NULL = null */
	const char *guard_action;     /* NULL = null */
	const char *action;
	const char *not_applied;      /* NULL: applied (or no route) */
	const char *original_model, *original_server;
	const char *transport;
	int stream;
	double duration_ms, ttfb_ms;  /* ttfb < 0 = null */
	long long request_bytes, response_bytes;
	double cost_usd;              /* < 0 = null */
	int tokens_estimated;
	unsigned long long generation;
	long pid;
	const char *process;
	int attempt;                  /* 0: no resilience fields */
	const char *request_id, *via, *gate, *cache; /* NULL = null */
	int delivered;
	unsigned wait_ms;
} lr_audit_rec;

/* Formats r as one JSON line ending in '\n' into buf (cap bytes; strings
 * are escaped and cut to fit).  Returns the length, or LR_ETOOBIG. */
int lr_audit_format(const lr_audit_rec *r, char *buf, size_t cap);

/* Opens `path` for appending (O_APPEND | O_CREAT, mode 0640).  Refused:
 * a symlink as the file itself; a symlink as a directory on the way unless
 * root or the euid made it in a directory only they can change (or a
 * sticky one); anything but a regular file; a file owned by another user
 * than the euid or root; a file with other hard links.  Returns the
 * descriptor, or LR_EIO with *why (static text; why may be NULL) saying
 * which rule refused it. */
int lr_audit_open_why(const char *path, const char **why);
int lr_audit_open(const char *path);

/* Writes one formatted line with a single write(2): on an O_APPEND
 * descriptor, lines from many processes and threads never interleave.
 * A record is whole or absent: when the disk fills up mid-line, the bytes
 * that went are overwritten with spaces ending in '\n' (a blank line,
 * which readers skip), so the next record starts a line of its own.
 * Returns 0, or LR_EIO (disk full, closed, read-only: the record is lost,
 * the caller counts it). */
int lr_audit_write(int fd, const char *line, size_t len);

#endif
