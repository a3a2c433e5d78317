/*
 * lr_b64.h - base64 (RFC 4648, with padding), for the classifier's weights
 * in its model file.
 */
#ifndef LR_B64_H
#define LR_B64_H
#include <stddef.h>

/* Encodes n bytes into out (4 * ((n + 2) / 3) + 1 bytes, NUL-terminated).
 * Returns the length written. */
size_t lr_b64_encode(const void *in, size_t n, char *out);

/* Decodes s[0..n) into out (at most 3 * n / 4 bytes).  Returns the byte
 * count, or LR_EPARSE for anything that is not padded base64. */
long lr_b64_decode(const char *s, size_t n, void *out);

#endif
