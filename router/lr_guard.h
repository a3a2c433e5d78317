/*
 * lr_guard.h - detectors for personal data and secrets in a request body,
 * and the redaction that hides them from the upstream (issue 20).
 *
 * The detectors run over the raw bytes of the body's JSON string values
 * (object keys are skipped): a finding is an offset and a length into the
 * caller's body, never a copy, so scanning allocates nothing.  A JSON
 * escape (\n, \u0040, ...) inside a value separates words: a value written
 * with escapes in the middle of it is not seen (a PEM key's \n are the
 * exception: the private-key detector reads across them).  Since a finding
 * starts and ends outside any escape, replacing its bytes by a placeholder
 * keeps the body valid JSON, and its bytes are valid JSON string content
 * wherever they are put back.
 *
 * Detectors (enum lr_guard_kind), each with a check that rules out the
 * near misses: e-mail (a dotted domain with an alphabetic TLD), phone
 * (E.164 "+" and 8-15 digits, or a national format with separators and
 * 10-11 digits), IBAN (country, length, mod-97), payment card (13-19
 * digits, Luhn), national ID (US SSN dashed, area/group/serial rules),
 * IP (IPv4 dotted quad without leading zeros, not a version "v1.2.3.4" nor
 * part of a longer dotted run; IPv6 as inet_pton reads it), API keys
 * (OpenAI, Anthropic, Google, AWS, GitHub, Slack, Stripe prefixes with
 * their lengths; JWTs), private keys (PEM "-----BEGIN ... PRIVATE KEY-----"
 * to its END line).  No I/O, no allocation.
 */
#ifndef LR_GUARD_H
#define LR_GUARD_H
#include <stddef.h>
#include <stdint.h>

enum lr_guard_kind {
	LR_GK_EMAIL, LR_GK_PHONE, LR_GK_IBAN, LR_GK_CARD, LR_GK_NATIONAL_ID, LR_GK_IP,
	LR_GK_API_KEY, LR_GK_PRIVATE_KEY, LR_GK_N
};
#define LR_GUARD_ALL ((1u << LR_GK_N) - 1)
#define LR_GUARD_MAX_HITS 128 /* past this, findings are counted, not located */

typedef struct {
	uint32_t off, len; /* into the scanned body */
	uint32_t kind;
} lr_guard_hit;

typedef struct {
	uint32_t mask;                 /* 1 << kind for every kind found */
	uint32_t count[LR_GK_N];
	uint32_t n;                    /* located hits, in body order */
	int truncated;                 /* more than LR_GUARD_MAX_HITS: not all located */
	lr_guard_hit hit[LR_GUARD_MAX_HITS];
} lr_guard_findings;

/* The kind's name in rules and audit ("email", "card", ...), or NULL. */
const char *lr_guard_kind_name(int kind);

/* The kind called name (n bytes), or -1. */
int lr_guard_kind_of(const char *name, size_t n);

/* Scans the JSON string values of body[0..len) (any bytes: a body that is
 * not JSON is read as far as its strings go).  Fills *g.  Returns the
 * number of findings (counted, located or not). */
uint32_t lr_guard_scan(const char *body, size_t len, lr_guard_findings *g);

/* Scans one raw text s[0..n) (JSON string content), adding hits with
 * offsets + base.  For the unit tests and the fuzzer. */
void lr_guard_scan_text(const char *s, size_t n, size_t base, lr_guard_findings *g);

#endif
