/*
 * lr_answer.h - the quality gate on a complete, non-streamed LLM answer.
 *
 * A route may re-send a request to a stronger model when the cheap model's
 * answer is empty, cut off by the token limit, a refusal, or not JSON when
 * JSON was asked.  lr_answer_parse reads the answer once into the few facts
 * those conditions need; lr_gate_check says which condition, if any, the
 * answer meets.  Shapes read (first choice / candidate / message only):
 *   OpenAI and Azure chat   choices[0].message: content (a string or text
 *                           parts), refusal, tool_calls, function_call;
 *                           choices[0].finish_reason
 *   OpenAI completions      choices[0].text, choices[0].finish_reason
 *   Responses API           the first output item of type "message":
 *                           output_text parts, refusal parts; function_call
 *                           (and other client-side *_call) items; status
 *                           "incomplete" + incomplete_details.reason
 *   Anthropic messages      content[] text and tool_use blocks, stop_reason
 *   Gemini generateContent  candidates[0].content.parts[] text (thought
 *                           parts skipped) and functionCall, finishReason,
 *                           promptFeedback.blockReason
 *   Ollama chat / generate  message.content, message.tool_calls / response,
 *                           done_reason
 * The wire format and operation choose the shape (an answer of another
 * shape, or an error object, is not parsed: gated answers must be read
 * right, and one we cannot read is delivered as it is).  Embeddings answers
 * are parsed but never meet a condition.
 *
 * Refusal fields: OpenAI message.refusal (a non-empty string) and
 * finish_reason "content_filter", Responses refusal parts and
 * incomplete_details.reason "content_filter", Anthropic stop_reason
 * "refusal", Gemini finishReason SAFETY, RECITATION, PROHIBITED_CONTENT,
 * BLOCKLIST, SPII, IMAGE_SAFETY and promptFeedback.blockReason.
 * Length: finish_reason "length", Responses "max_output_tokens", Anthropic
 * "max_tokens" and "model_context_window_exceeded", Gemini "MAX_TOKENS",
 * Ollama done_reason "length".
 *
 * The text is decoded and kept up to LR_ANSWER_MAX_TEXT bytes (cut at a
 * UTF-8 character boundary, `truncated` set).  Plenty for a refusal
 * pattern; for INVALID_JSON a cut text is judged by its first non-blank
 * byte only (not '{' or '[': invalid; otherwise it cannot be judged and
 * counts as valid).  Transient memory while decoding is at most the size of
 * the largest text string in the body plus the kept text.
 * Errors follow lr_error.h.  Nothing here logs.
 */
#ifndef LR_ANSWER_H
#define LR_ANSWER_H
#include <regex.h>
#include <stddef.h>

#define LR_ANSWER_MAX_TEXT (1u << 20)

enum lr_gate_cond {
	LR_GATE_EMPTY = 1u << 0,        /* no text content, no tool/function call, no refusal field */
	LR_GATE_LENGTH = 1u << 1,       /* cut off by the output token limit */
	LR_GATE_REFUSAL = 1u << 2,      /* a refusal field, or the text matches the refusal pattern */
	LR_GATE_INVALID_JSON = 1u << 3, /* JSON asked, the text is not one JSON object/array */
};

#define LR_GATE_ALL (LR_GATE_EMPTY | LR_GATE_LENGTH | LR_GATE_REFUSAL | LR_GATE_INVALID_JSON)

/* One optional apostrophe, straight or typographic (U+2019): models write
 * both. */
#define LR_GATE_APOS_ "('|\xe2\x80\x99)?"

/*
 * The default refusal pattern: an ERE, to compile with REG_EXTENDED |
 * REG_ICASE | REG_NOSUB, matched against the start of the text.  An apology
 * counts only when a decline follows it ("I'm sorry, but I ..."), so that
 * "I'm sorry for the confusion, here is the fix" is an answer, not a
 * refusal.
 */
#define LR_GATE_DEFAULT_REFUSAL \
	"^[[:space:]]*(" \
	"((i" LR_GATE_APOS_ "m|i am) (so |very |really |truly )?sorry|sorry|i apologi[sz]e|(my )?apologies)" \
	"[,.!]?( but)?,? (i|that|this)( |'|\xe2\x80\x99)" \
	"|(unfortunately,? )?i (can" LR_GATE_APOS_ "t|cannot|can not|won" LR_GATE_APOS_ "t|will not|must not)" \
	" (help|assist|comply|provide|fulfill|do that|support|answer|create|generate|write|share|engage|discuss)" \
	"|(unfortunately,? )?(i" LR_GATE_APOS_ "m|i am) (not able|unable) to" \
	"|i must (respectfully )?(decline|refuse)" \
	"|as an ai)"

enum lr_finish {
	LR_FINISH_UNKNOWN,  /* no finish reason in the answer */
	LR_FINISH_STOP,     /* a natural end (stop, end_turn, STOP, completed) */
	LR_FINISH_LENGTH,   /* the output token limit */
	LR_FINISH_OTHER,    /* tool calls, filters, anything else */
};

typedef struct {
	int parsed;          /* the body was a JSON object of the expected answer shape */
	int embeddings;      /* an embeddings answer: never gated */
	int finish;          /* enum lr_finish */
	int has_tool_call;
	int refusal_field;   /* see the list above */
	int truncated;       /* the text was cut at LR_ANSWER_MAX_TEXT */
	char *text;          /* decoded text of the first choice/candidate/message,
	                      * parts concatenated; malloc'ed, NUL-terminated (it may
	                      * hold NULs from "\u0000"); NULL if no text field */
	size_t text_len;
} lr_answer;

/*
 * Reads the complete answer body[0..len) of wire format `format` (enum
 * lr_format) for `operation` (lr_detect's: "chat", "completions",
 * "responses", "embeddings", "messages", "generate").  Returns 0 (then
 * out->parsed says whether the shape was known), LR_EPARSE if the body is
 * not one JSON value (truncated included; out->parsed is 0), LR_ENOMEM
 * (out->parsed is 0), LR_EINVAL if out is NULL.  A text that does not
 * decode (a lone surrogate escape) leaves the answer unparsed: it is not
 * known to be empty.  *out is always initialised, and lr_answer_free is
 * always safe afterwards; out->text belongs to *out.
 */
int lr_answer_parse(int format, const char *operation, const char *body, size_t len,
	lr_answer *out);

/* Frees a->text; a is left empty.  Safe on a zeroed or freed lr_answer. */
void lr_answer_free(lr_answer *a);

/*
 * Which of the conditions in `when` (LR_GATE_* bits) the answer meets: the
 * first met in the order EMPTY, LENGTH, REFUSAL, INVALID_JSON, as one bit;
 * 0 when none, when the answer was not parsed, or for embeddings.
 * `refusal` is a compiled ERE (REG_EXTENDED | REG_ICASE | REG_NOSUB) tried
 * on the text, or NULL for refusal fields only.  `json_asked`: the request
 * asked for JSON output; a text that is only a tool call is not judged.
 */
unsigned lr_gate_check(const lr_answer *a, unsigned when, const regex_t *refusal, int json_asked);

/* "empty", "length", "refusal" or "invalid_json" for one bit; NULL for
 * anything else. */
const char *lr_gate_name(unsigned bit);

/* The bit named `name` (as lr_gate_name spells it), or 0. */
unsigned lr_gate_from_name(const char *name);

#endif
