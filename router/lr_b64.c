/* lr_b64.c - base64 (see lr_b64.h). */
#include "lr_b64.h"
#include "lr_error.h"

static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t lr_b64_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = abc[p[i] >> 2];
		out[o++] = abc[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[o++] = abc[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		out[o++] = abc[p[i + 2] & 63];
	}
	if (i < n) {
		out[o++] = abc[p[i] >> 2];
		if (i + 1 < n) {
			out[o++] = abc[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			out[o++] = abc[(p[i + 1] & 15) << 2];
		} else {
			out[o++] = abc[(p[i] & 3) << 4];
			out[o++] = '=';
		}
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static int val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

long lr_b64_decode(const char *s, size_t n, void *out)
{
	unsigned char *o = out;
	size_t i, w = 0;
	int a, b, c, d;

	if (n % 4)
		return LR_EPARSE;
	for (i = 0; i < n; i += 4) {
		a = val(s[i]);
		b = val(s[i + 1]);
		c = s[i + 2] == '=' && i + 4 == n ? 0 : val(s[i + 2]);
		d = s[i + 3] == '=' && i + 4 == n ? 0 : val(s[i + 3]);
		if (a < 0 || b < 0 || c < 0 || d < 0 || (s[i + 2] == '=' && s[i + 3] != '='))
			return LR_EPARSE;
		o[w++] = (unsigned char)(a << 2 | b >> 4);
		if (s[i + 2] != '=')
			o[w++] = (unsigned char)((b & 15) << 4 | c >> 2);
		if (s[i + 3] != '=')
			o[w++] = (unsigned char)((c & 3) << 6 | d);
	}
	return (long)w;
}
