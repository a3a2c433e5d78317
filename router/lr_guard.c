/*
 * lr_guard.c - detectors for personal data and secrets (see lr_guard.h).
 *
 * One forward pass per string value.  Detectors are tried only where a
 * word starts (the byte before is not a letter or digit, or ends a JSON
 * escape), so a key or number is never found inside a longer word.  A
 * numeric run that no detector takes is skipped whole: "1.2.3.4.5" and
 * the tail of a 20-digit number are not tried again from the inside.
 */
#include "lr_guard.h"

#include <arpa/inet.h>
#include <string.h>

static const char *const kind_names[LR_GK_N] = {"email", "phone", "iban", "card", "national_id",
						"ip", "api_key", "private_key"};

const char *lr_guard_kind_name(int kind)
{
	return kind >= 0 && kind < LR_GK_N ? kind_names[kind] : NULL;
}

int lr_guard_kind_of(const char *name, size_t n)
{
	int k;

	for (k = 0; k < LR_GK_N; k++)
		if (strlen(kind_names[k]) == n && memcmp(kind_names[k], name, n) == 0)
			return k;
	return -1;
}

/* One table read per byte: what a byte is, for the detectors' loops. */
enum {
	C_DIG = 1, C_UP = 2, C_LO = 4, C_HEX = 8, /* C_HEX: a-f, A-F, 0-9 */
	C_LOCAL = 16,  /* an e-mail's local part: letters, digits, ._%+- */
	C_DOMAIN = 32, /* a domain: letters, digits, .- */
	C_B64 = 64,    /* base64url: letters, digits, -_ */
	C_START = 128  /* may begin a detector at a word start (see detect_at) */
};
#define C_ALNUM (C_DIG | C_UP | C_LO)
#define IN(c, a, b) ((c) >= (a) && (c) <= (b))
#define CLS(c)                                                                                        \
	((IN(c, '0', '9') ? C_DIG | C_HEX | C_LOCAL | C_DOMAIN | C_B64 | C_START : 0) |                  \
	 (IN(c, 'A', 'Z') ? C_UP | C_LOCAL | C_DOMAIN | C_B64 | C_START : 0) |                           \
	 (IN(c, 'a', 'z') ? C_LO | C_LOCAL | C_DOMAIN | C_B64 : 0) |                                     \
	 (IN(c, 'a', 'f') || IN(c, 'A', 'F') ? C_HEX | C_START : 0) |                                   \
	 ((c) == 's' || (c) == 'r' || (c) == 'g' || (c) == 'x' ? C_START : 0) |                          \
	 ((c) == '.' || (c) == '_' || (c) == '%' || (c) == '+' || (c) == '-' ? C_LOCAL : 0) |            \
	 ((c) == '.' || (c) == '-' ? C_DOMAIN : 0) | ((c) == '-' || (c) == '_' ? C_B64 : 0) |            \
	 ((c) == '+' || (c) == '(' || (c) == '-' || (c) == ':' ? C_START : 0))
#define R4(b) CLS(b), CLS((b) + 1), CLS((b) + 2), CLS((b) + 3)
#define R16(b) R4(b), R4((b) + 4), R4((b) + 8), R4((b) + 12)
#define R64(b) R16(b), R16((b) + 16), R16((b) + 32), R16((b) + 48)
static const unsigned char ctab[256] = {R64(0), R64(64), R64(128), R64(192)};

static int has(int c, int cls) { return ctab[(unsigned char)c] & cls; }
static int is_digit(int c) { return has(c, C_DIG); }
static int is_upper(int c) { return has(c, C_UP); }
static int is_lower(int c) { return has(c, C_LO); }
static int is_alnum(int c) { return has(c, C_ALNUM); }
static int is_hex(int c) { return has(c, C_HEX); }
static int is_b64url(int c) { return has(c, C_B64); }

/* A word may start at i: the byte before is no letter or digit, or is the
 * letter of a JSON escape (\n, \t, ...) or the last digit of a \uXXXX. */
static int word_start(const char *s, size_t i)
{
	if (i == 0 || !is_alnum(s[i - 1]))
		return 1;
	if (i >= 2 && s[i - 2] == '\\' && s[i - 1] != 'u')
		return 1;
	return i >= 6 && s[i - 6] == '\\' && s[i - 5] == 'u';
}

static int ends_word(const char *s, size_t n, size_t j)
{
	return j >= n || !is_alnum(s[j]);
}

/* --- e-mail ------------------------------------------------------------ */

static int local_char(int c) { return has(c, C_LOCAL); }
static int domain_char(int c) { return has(c, C_DOMAIN); }

/* The end of an e-mail address starting at i, or 0. */
static size_t email(const char *s, size_t n, size_t i)
{
	size_t j = i, d, dot = 0, k;

	while (j < n && local_char((unsigned char)s[j]))
		j++;
	if (j == i || j >= n || s[j] != '@' || s[i] == '.' || s[j - 1] == '.')
		return 0;
	d = ++j;
	while (j < n && domain_char((unsigned char)s[j]))
		j++;
	while (j > d && (s[j - 1] == '.' || s[j - 1] == '-')) /* the sentence's full stop */
		j--;
	for (k = d; k < j; k++)
		if (s[k] == '.')
			dot = k;
	if (!dot || dot == d || s[d] == '-' || j - dot < 3)
		return 0;
	for (k = dot + 1; k < j; k++)
		if (!is_upper((unsigned char)s[k]) && !is_lower((unsigned char)s[k]))
			return 0; /* a TLD is letters: not "a@1.2" */
	return j;
}

/* --- numbers: cards, phones, SSNs, IPv4 --------------------------------- */

/* Digits from i, single separators from seps allowed between them.  Sets
 * *nd (digits), *ns (separators), fills dig[] (up to cap).  Returns the end. */
static size_t digit_groups(const char *s, size_t n, size_t i, const char *seps, char *dig, size_t cap,
			   size_t *nd, size_t *ns)
{
	size_t j = i;

	*nd = *ns = 0;
	while (j < n) {
		if (is_digit((unsigned char)s[j])) {
			if (*nd < cap)
				dig[*nd] = s[j];
			(*nd)++;
			j++;
		} else if (*nd && strchr(seps, s[j]) && s[j] && j + 1 < n && is_digit((unsigned char)s[j + 1])) {
			(*ns)++;
			j++;
		} else {
			break;
		}
	}
	return j;
}

static int luhn(const char *d, size_t n)
{
	int sum = 0, dbl = 0, v, same = 1;
	size_t k;

	for (k = n; k-- > 0; dbl = !dbl) {
		v = d[k] - '0';
		if (dbl && (v *= 2) > 9)
			v -= 9;
		sum += v;
		same &= d[k] == d[0];
	}
	return sum % 10 == 0 && !same; /* "0000 0000 0000 0000" is no card */
}

static size_t card(const char *s, size_t n, size_t i)
{
	char d[24];
	size_t nd, ns, j = digit_groups(s, n, i, " -", d, sizeof(d), &nd, &ns);

	if (nd < 13 || nd > 19 || !ends_word(s, n, j) || !luhn(d, nd))
		return 0;
	return j;
}

/* US SSN, dashed: area 001-899 but 666, group 01-99, serial 0001-9999. */
static size_t ssn(const char *s, size_t n, size_t i)
{
	static const char shape[] = "ddd-dd-dddd";
	size_t k;
	int area;

	if (n - i < 11)
		return 0;
	for (k = 0; k < 11; k++)
		if (shape[k] == 'd' ? !is_digit((unsigned char)s[i + k]) : s[i + k] != '-')
			return 0;
	if (i + 11 < n && (is_alnum((unsigned char)s[i + 11]) || s[i + 11] == '-'))
		return 0;
	area = (s[i] - '0') * 100 + (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
	if (area == 0 || area == 666 || area >= 900 || memcmp(s + i + 4, "00", 2) == 0 ||
	    memcmp(s + i + 7, "0000", 4) == 0)
		return 0;
	return i + 11;
}

/* 1.2.3.4, no leading zeros, not inside a longer dotted run. */
static size_t ipv4(const char *s, size_t n, size_t i)
{
	size_t j = i, k;
	int part, v;

	if (i >= 2 && s[i - 1] == '.' && is_digit((unsigned char)s[i - 2]))
		return 0;
	for (part = 0; part < 4; part++) {
		if (part && (j >= n || s[j++] != '.'))
			return 0;
		for (k = j, v = 0; j < n && is_digit((unsigned char)s[j]) && j - k < 4; j++)
			v = v * 10 + (s[j] - '0');
		if (j == k || j - k > 3 || v > 255 || (s[k] == '0' && j - k > 1))
			return 0;
	}
	if (j < n && (is_alnum((unsigned char)s[j]) || (s[j] == '.' && j + 1 < n && is_digit((unsigned char)s[j + 1]))))
		return 0;
	return j;
}

/* "+" and 8-15 digits (E.164), or a national number of 10-11 digits in at
 * least three groups: (555) 123-4567, 555-123-4567, 030 1234 5678. */
static size_t phone(const char *s, size_t n, size_t i)
{
	char d[24];
	size_t nd, ns, j = i, k;
	int plus = s[i] == '+', paren = 0;

	if (plus)
		j++;
	if (j < n && s[j] == '(') {
		paren = 1;
		j++;
	}
	k = j;
	j = digit_groups(s, n, j, " -.", d, sizeof(d), &nd, &ns);
	if (paren && j < n && s[j] == ')' && nd) {
		size_t nd2, ns2;
		j++;
		if (j < n && s[j] == ' ')
			j++;
		j = digit_groups(s, n, j, " -.", d + (nd < sizeof(d) ? nd : sizeof(d)),
				 nd < sizeof(d) ? sizeof(d) - nd : 0, &nd2, &ns2);
		nd += nd2;
		ns += ns2 + 1;
	} else if (paren) {
		return 0;
	}
	if (j == k || !ends_word(s, n, j))
		return 0;
	if (plus)
		return nd >= 8 && nd <= 15 && d[0] != '0' ? j : 0;
	return nd >= 10 && nd <= 11 && ns >= 2 ? j : 0;
}

static int run_sep(int c)
{
	return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/' || c == ':';
}

/* Where a numeric run that nothing took ends: digits and the separators
 * between them, so no detector starts again inside it. */
static size_t num_run_end(const char *s, size_t n, size_t i)
{
	size_t j = i + 1;

	while (j < n && (is_digit(s[j]) || (run_sep(s[j]) && j + 1 < n && is_digit(s[j + 1]))))
		j++;
	return j;
}

/* --- IBAN ----------------------------------------------------------------- */

/* Country code and IBAN length (ISO 13616 registry, the common ones). */
static const char iban_len[] =
	"AD24AE23AL28AT20AZ28BA20BE16BG22BH22BR29CH21CR22CY28CZ24DE22DK18DO28EE20ES24FI18FO18"
	"FR27GB22GE22GI23GL18GR27GT28HR21HU28IE22IL23IS26IT27JO30KW30KZ20LB28LI21LT20LU20LV21"
	"MC27MD24ME22MK19MR27MT31MU30NL18NO15PK24PL28PS29PT25QA29RO24SA24SE24SI19SK24SM27TN24"
	"TR26UA29VG24XK20";

static int iban_length(const char *cc)
{
	size_t k;

	for (k = 0; iban_len[k]; k += 4)
		if (iban_len[k] == cc[0] && iban_len[k + 1] == cc[1])
			return (iban_len[k + 2] - '0') * 10 + (iban_len[k + 3] - '0');
	return 0;
}

static int mod97(const char *c, int len)
{
	int k, r = 0, v;

	for (k = 0; k < len; k++) {
		v = c[(k + 4) % len]; /* country and check digits go last */
		if (is_digit(v))
			r = (r * 10 + (v - '0')) % 97;
		else
			r = (r * 100 + (v - 'A' + 10)) % 97;
	}
	return r;
}

/* An IBAN at i, or 0 with *skip past what was read: the groups of a
 * failed IBAN are not tried again as a card or a phone. */
static size_t iban(const char *s, size_t n, size_t i, size_t *skip)
{
	char c[36];
	int want, got = 0;
	size_t j = i;

	if (n - i < 15 || !is_upper((unsigned char)s[i]) || !is_upper((unsigned char)s[i + 1]) ||
	    !is_digit((unsigned char)s[i + 2]) || !is_digit((unsigned char)s[i + 3]) || !(want = iban_length(s + i)))
		return 0;
	while (j < n && got < want) {
		if (is_upper((unsigned char)s[j]) || is_digit((unsigned char)s[j]))
			c[got++] = s[j++];
		else if (s[j] == ' ' && got % 4 == 0 && got) /* printed in groups of four */
			j++;
		else
			break;
	}
	if (got != want || !ends_word(s, n, j) || mod97(c, want) != 1) {
		*skip = j;
		return 0;
	}
	return j;
}

/* --- API keys and tokens ------------------------------------------------- */

typedef struct {
	const char *prefix;
	int min, max;       /* length of what follows the prefix */
	int cls;            /* 0: [A-Za-z0-9_-], 1: [A-Z0-9], 2: [A-Za-z0-9], 3: [A-Za-z0-9_] */
} key_shape;

static const key_shape keys[] = {
	{"sk-ant-", 32, 200, 0}, {"sk-proj-", 32, 200, 0}, {"sk-svcacct-", 32, 200, 0}, {"sk-", 20, 200, 0},
	{"sk_live_", 24, 120, 2}, {"rk_live_", 24, 120, 2}, {"AIza", 35, 35, 0},
	{"AKIA", 16, 16, 1}, {"ASIA", 16, 16, 1},
	{"ghp_", 36, 36, 2}, {"gho_", 36, 36, 2}, {"ghu_", 36, 36, 2}, {"ghs_", 36, 36, 2}, {"ghr_", 36, 36, 2},
	{"github_pat_", 40, 120, 3},
	{"xoxb-", 10, 200, 0}, {"xoxp-", 10, 200, 0}, {"xoxa-", 10, 200, 0}, {"xoxr-", 10, 200, 0},
	{"xoxs-", 10, 200, 0},
};

static int in_class(int c, int cls)
{
	switch (cls) {
	case 0: return is_b64url(c);
	case 1: return is_upper(c) || is_digit(c);
	case 2: return is_alnum(c);
	default: return is_alnum(c) || c == '_';
	}
}

/* The secret part has a digit and a letter: "sk-this-is-not-a-key-at-all"
 * (prose with a dash) is not taken for one. */
static int mixed(const char *s, size_t n)
{
	int dg = 0, al = 0;
	size_t k;

	for (k = 0; k < n; k++) {
		dg |= is_digit((unsigned char)s[k]);
		al |= is_upper((unsigned char)s[k]) || is_lower((unsigned char)s[k]);
	}
	return dg && al;
}

static size_t api_key(const char *s, size_t n, size_t i)
{
	size_t k, pl, j;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		pl = strlen(keys[k].prefix);
		if (n - i < pl || memcmp(s + i, keys[k].prefix, pl) != 0)
			continue;
		for (j = i + pl; j < n && in_class((unsigned char)s[j], keys[k].cls); j++)
			;
		if (j - i - pl >= (size_t)keys[k].min && j - i - pl <= (size_t)keys[k].max &&
		    mixed(s + i + pl, j - i - pl))
			return j;
		return 0; /* the longest prefix that fits decides */
	}
	return 0;
}

/* header.payload.signature, each base64url, the first two JSON objects. */
static size_t jwt(const char *s, size_t n, size_t i)
{
	size_t j = i, part, k;

	if (n - i < 20 || memcmp(s + i, "eyJ", 3) != 0)
		return 0;
	for (part = 0; part < 3; part++) {
		if (part && (j >= n || s[j++] != '.'))
			return 0;
		if (part == 1 && (n - j < 3 || memcmp(s + j, "eyJ", 3) != 0))
			return 0;
		for (k = j; j < n && is_b64url((unsigned char)s[j]); j++)
			;
		if (j - k < 8)
			return 0;
	}
	return j;
}

/* --- private keys and IPv6 ----------------------------------------------- */

static const char *find(const char *s, size_t n, const char *what)
{
	size_t w = strlen(what), k;

	for (k = 0; k + w <= n; k++)
		if (s[k] == what[0] && memcmp(s + k, what, w) == 0)
			return s + k;
	return NULL;
}

/* "-----BEGIN [RSA |EC |OPENSSH |ENCRYPTED ]PRIVATE KEY-----" to the END
 * line, or to the end of the text when cut. */
static size_t private_key(const char *s, size_t n, size_t i)
{
	const char *h, *e;
	size_t lim = n - i < 64 ? n - i : 64;

	if (n - i < 16 || memcmp(s + i, "-----BEGIN ", 11) != 0)
		return 0;
	if (!(h = find(s + i + 11, lim - 11, "PRIVATE KEY-----")))
		return 0;
	h += 16;
	if (!(e = find(h, (size_t)(s + n - h), "-----END ")))
		return n;
	if (!(e = find(e, (size_t)(s + n - e), "PRIVATE KEY-----")))
		return n;
	return (size_t)(e - s) + 16;
}

static size_t ipv6(const char *s, size_t n, size_t i)
{
	char buf[48];
	unsigned char out[16];
	size_t j = i;
	int colons = 0, digits = 0;

	if (i > 0 && s[i - 1] == ':')
		return 0;
	for (; j < n && (is_hex((unsigned char)s[j]) || s[j] == ':' || s[j] == '.') && j - i < 46; j++) {
		colons += s[j] == ':';
		digits += is_digit((unsigned char)s[j]);
	}
	while (j > i && s[j - 1] == '.')
		j--;
	if (colons < 2 || !digits || j - i >= sizeof(buf) || (j < n && (is_alnum((unsigned char)s[j]) || s[j] == ':')))
		return 0;
	memcpy(buf, s + i, j - i);
	buf[j - i] = 0;
	return inet_pton(AF_INET6, buf, out) == 1 ? j : 0;
}

/* --- the pass -------------------------------------------------------------- */

static void add(lr_guard_findings *g, int kind, size_t off, size_t len)
{
	g->mask |= 1u << kind;
	g->count[kind]++;
	if (g->n < LR_GUARD_MAX_HITS)
		g->hit[g->n++] = (lr_guard_hit){(uint32_t)off, (uint32_t)len, (uint32_t)kind};
	else
		g->truncated = 1;
}

/* At least min digits from i, separators " -." allowed between them: what
 * a card or a national phone number needs, checked before reading either. */
static int digits_ahead(const char *s, size_t n, size_t i, size_t min)
{
	size_t nd = 0;

	for (; i < n && nd < min; i++) {
		if (is_digit(s[i]))
			nd++;
		else if (!(s[i] == ' ' || s[i] == '-' || s[i] == '.') || !nd || i + 1 >= n || !is_digit(s[i + 1]))
			break;
	}
	return nd >= min;
}

/* IPv6 needs a colon after at most four hex digits: most words and numbers
 * are turned away without parsing (a '.' only comes after the colons). */
static int ipv6_may(const char *s, size_t n, size_t i)
{
	size_t k;

	for (k = i; k < n && k - i < 5; k++)
		if (s[k] == ':')
			return 1;
		else if (!is_hex(s[k]))
			return 0;
	return 0;
}

/* The detectors that may start at a digit, '+' or '('.  The first group
 * of digits and the byte after it choose which can: an IPv4 needs "d." to
 * "ddd.", an SSN "ddd-", IPv6 a hex byte or a colon. */
static size_t numeric(const char *s, size_t n, size_t i, int *kind)
{
	size_t j, g = i;
	int next;

	if (s[i] == '+' || s[i] == '(')
		return (*kind = LR_GK_PHONE, phone(s, n, i));
	while (g < n && g - i < 5 && is_digit(s[g]))
		g++;
	next = g < n ? (unsigned char)s[g] : 0;
	if (next == '.' && g - i <= 3 && (j = ipv4(s, n, i)))
		return (*kind = LR_GK_IP, j);
	if (next == '-' && g - i == 3 && (j = ssn(s, n, i)))
		return (*kind = LR_GK_NATIONAL_ID, j);
	if (digits_ahead(s, n, i, 10)) {
		if ((j = card(s, n, i)))
			return (*kind = LR_GK_CARD, j);
		if ((j = phone(s, n, i)))
			return (*kind = LR_GK_PHONE, j);
	}
	*kind = LR_GK_IP;
	return (next == ':' || is_hex(next)) && ipv6_may(s, n, i) ? ipv6(s, n, i) : 0;
}

/* The key prefixes' first two bytes (see keys[]): most words starting
 * with s, r, A, g or x are turned away here. */
static int key_may(const char *s, size_t n, size_t i)
{
	if (n - i < 4)
		return 0;
	switch (s[i]) {
	case 's': return s[i + 1] == 'k' && (s[i + 2] == '-' || s[i + 2] == '_');
	case 'r': return s[i + 1] == 'k' && s[i + 2] == '_';
	case 'A': return s[i + 1] == 'I' || s[i + 1] == 'K' || s[i + 1] == 'S';
	case 'g': return s[i + 1] == 'h' || s[i + 1] == 'i';
	case 'x': return s[i + 1] == 'o' && s[i + 2] == 'x';
	default: return 0;
	}
}

/* The detector that takes s at i, a word start whose byte may begin one
 * (C_START) or inside the local part before an '@' (in_mail): its end
 * (and *kind), or 0. */
static size_t detect_at(const char *s, size_t n, size_t i, int in_mail, int *kind, size_t *skip)
{
	int c = (unsigned char)s[i];
	size_t j;

	if (c == '-')
		return (*kind = LR_GK_PRIVATE_KEY, i + 1 < n && s[i + 1] == '-' ? private_key(s, n, i) : 0);
	if (in_mail && (j = email(s, n, i)))
		return (*kind = LR_GK_EMAIL, j);
	if (is_digit(c) || ((c == '+' || c == '(') && i + 1 < n && (is_digit(s[i + 1]) || s[i + 1] == '(')))
		return numeric(s, n, i, kind);
	if ((c == ':' || is_hex(c)) && ipv6_may(s, n, i) && (j = ipv6(s, n, i)))
		return (*kind = LR_GK_IP, j);
	if (is_upper(c) && (j = iban(s, n, i, skip)))
		return (*kind = LR_GK_IBAN, j);
	if (key_may(s, n, i) && (j = api_key(s, n, i)))
		return (*kind = LR_GK_API_KEY, j);
	if (c == 'e' && (j = jwt(s, n, i)))
		return (*kind = LR_GK_API_KEY, j);
	return 0;
}

/* The next '@' at or after i with local-part bytes before it (n if none),
 * and where that run starts: an e-mail can only begin in [*from, at). */
static size_t next_at(const char *s, size_t n, size_t i, size_t *from)
{
	const char *a;
	size_t at, k;

	while ((a = memchr(s + i, '@', n - i))) {
		for (at = k = (size_t)(a - s); k > 0 && local_char(s[k - 1]); k--)
			;
		if (k < at)
			return (*from = k, at);
		i = at + 1;
	}
	return (*from = n, n);
}

/* Where the scan goes on after a word start at i that nothing took. */
static size_t step(const char *s, size_t n, size_t i, size_t skip)
{
	if (skip > i)
		return skip;
	return is_digit(s[i]) ? num_run_end(s, n, i) : i + 1;
}

/* The first word start in [i, stop) whose byte may begin a detector, or
 * stop: the hot loop, one table read per byte. */
static size_t next_start(const char *s, size_t i, size_t stop)
{
	unsigned prev = i ? ctab[(unsigned char)s[i - 1]] : 0, c;

	for (; i < stop; i++, prev = c) {
		c = ctab[(unsigned char)s[i]];
		if (!(c & C_START))
			continue;
		if (!(prev & C_ALNUM))
			return i;
		/* inside a word: only an escape just before can start one */
		if (((i >= 2 && s[i - 2] == '\\') || (i >= 6 && s[i - 6] == '\\')) && word_start(s, i))
			return i;
	}
	return stop;
}

/* One pass: the detectors run only at word starts whose first byte fits
 * one of them, and through the local part before an '@' (an e-mail found
 * from its '@' backwards). */
void lr_guard_scan_text(const char *s, size_t n, size_t base, lr_guard_findings *g)
{
	size_t i = 0, j, from, at = next_at(s, n, 0, &from), skip;
	int kind, in_mail;

	while (i < n) {
		while (at < n && at <= i) /* each '@' once */
			at = next_at(s, n, at + 1, &from);
		in_mail = i >= from && i < at;
		if (!in_mail && (i = next_start(s, i, i < from ? from : n)) >= n)
			break;
		if (i == from && !in_mail)
			continue; /* reached the local part: read it byte by byte */
		if (in_mail && !word_start(s, i)) {
			i++;
			continue;
		}
		skip = 0;
		if (!(j = detect_at(s, n, i, in_mail, &kind, &skip))) {
			i = step(s, n, i, skip);
			continue;
		}
		add(g, kind, base + i, j - i);
		i = j;
	}
}

/* The end of the JSON string whose content starts at i (its closing quote). */
static size_t string_end(const char *b, size_t len, size_t i)
{
	const char *q;
	size_t k;

	while ((q = memchr(b + i, '"', len - i))) {
		for (k = (size_t)(q - b); k > i && b[k - 1] == '\\'; k--)
			;
		if (((size_t)(q - b) - k) % 2 == 0)
			return (size_t)(q - b); /* an even run of backslashes escapes none */
		i = (size_t)(q - b) + 1;
	}
	return len;
}

static int is_key(const char *b, size_t len, size_t q)
{
	size_t k = q + 1;

	while (k < len && (b[k] == ' ' || b[k] == '\t' || b[k] == '\n' || b[k] == '\r'))
		k++;
	return k < len && b[k] == ':';
}

uint32_t lr_guard_scan(const char *body, size_t len, lr_guard_findings *g)
{
	size_t i = 0, e, k;
	uint32_t total = 0;

	g->mask = 0;
	g->n = 0;
	g->truncated = 0;
	memset(g->count, 0, sizeof(g->count));
	while (body && i < len) {
		const char *q = memchr(body + i, '"', len - i);
		if (!q)
			break;
		i = (size_t)(q - body) + 1;
		e = string_end(body, len, i);
		if (!is_key(body, len, e))
			lr_guard_scan_text(body + i, e - i, i, g);
		i = e + 1;
	}
	for (k = 0; k < LR_GK_N; k++)
		total += g->count[k];
	return total;
}
