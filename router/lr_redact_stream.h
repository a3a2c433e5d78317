/*
 * lr_redact_stream.h - the redacted values put back in a streamed answer
 * (issue 20): SSE events (OpenAI, Azure, Responses, Anthropic, Gemini) or
 * NDJSON lines (Ollama), in the app's format, as they arrive.
 *
 * A model writes "[EMAIL_1]" over several events ("[", "EMA", "IL_1]").
 * Each event's text delta (its raw JSON string content) is appended to
 * what was held back, the placeholders in it are replaced, and only a tail
 * that could still become a placeholder (a prefix of one in the map) is
 * held until the next delta completes or breaks it.  An event that is no
 * text delta (a finish, a usage, "[DONE]") first gets the held text out,
 * in a copy of the last text event.  Events without a '[' and with nothing
 * held pass byte for byte.  Values are raw JSON string content (as the
 * request had them), valid wherever a placeholder stood.
 */
#ifndef LR_REDACT_STREAM_H
#define LR_REDACT_STREAM_H
#include "lr_redact.h"
#include "lr_xlate.h"

typedef struct lr_redact_stream lr_redact_stream;

/* A restorer for the stream of format fmt (enum lr_xfmt, the format the
 * app reads) with the values of m (borrowed: it must outlive the stream).
 * NULL when out of memory or fmt is LR_XF_NONE. */
lr_redact_stream *lr_redact_stream_new(const lr_redact_map *m, int fmt);

/* Feeds n bytes of the stream; appends what the app may have now to out.
 * 0, or LR_ENOMEM / LR_ETOOBIG (out holds what could be written: the
 * caller passes the rest through unchanged). */
int lr_redact_stream_feed(lr_redact_stream *s, const char *p, size_t n, lr_xbuf *out);

/* The end of the stream: an unfinished event and any held text, to out. */
int lr_redact_stream_finish(lr_redact_stream *s, lr_xbuf *out);

void lr_redact_stream_free(lr_redact_stream *s);

/* The values put back in the bytes about to go, *out, in place (fin: the
 * stream's end).  A restore that fails lets the bytes go as they are,
 * placeholders and all, frees *s and sets it NULL (no more restoring): a
 * partial event is never sent.  Nothing when *s is NULL. */
void lr_redact_stream_apply(lr_redact_stream **s, lr_xbuf *out, int fin);

#endif
