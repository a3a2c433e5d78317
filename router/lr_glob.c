/*
 * lr_glob.c - glob matching (see lr_glob.h).
 *
 * The matcher is the classic iterative one with a single backtrack point: on
 * a mismatch after a `*`, retry one byte further along.  That is linear in
 * practice and quadratic at worst, with no recursion, so a hostile pattern
 * cannot blow the stack of the process we are a guest in.
 */
#include "lr_glob.h"
#include "lr_error.h"

static int lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Matches one byte against the set starting after '[' at pat; on return
 * *end points past the closing ']'.  Returns 1/0, or -1 if unterminated. */
static int match_set(const char *pat, int c, int fold, const char **end)
{
	int neg = 0, hit = 0;
	const char *p = pat;

	if (*p == '!' || *p == '^') {
		neg = 1;
		p++;
	}
	if (*p == ']') { /* a leading ']' is literal */
		hit |= (c == ']');
		p++;
	}
	while (*p && *p != ']') {
		int lo = (unsigned char)*p, hi;
		if (lo == '\\' && p[1])
			lo = (unsigned char)*++p;
		hi = lo;
		if (p[1] == '-' && p[2] && p[2] != ']') {
			p += 2;
			if (*p == '\\' && p[1])
				p++;
			hi = (unsigned char)*p;
		}
		if (fold)
			hit |= (lower(c) >= lower(lo) && lower(c) <= lower(hi));
		else
			hit |= (c >= lo && c <= hi);
		p++;
	}
	if (*p != ']')
		return -1;
	*end = p + 1;
	return hit != neg;
}

int lr_glob_check(const char *pat, const char **why)
{
	const char *p = pat, *end;

	if (!pat || !*pat) {
		if (why)
			*why = "empty pattern";
		return LR_EPARSE;
	}
	for (; *p; p++) {
		if (*p == '\\') {
			if (!p[1]) {
				if (why)
					*why = "trailing backslash";
				return LR_EPARSE;
			}
			p++;
		} else if (*p == '[') {
			if (match_set(p + 1, 'a', 0, &end) < 0) {
				if (why)
					*why = "unterminated '[' set";
				return LR_EPARSE;
			}
			p = end - 1;
		}
	}
	return 0;
}

int lr_glob_match(const char *pat, const char *s, size_t n, int fold)
{
	const char *p = pat, *star_p = NULL;
	size_t i = 0, star_i = 0;

	while (i < n || *p) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			star_p = p;
			star_i = i;
			continue;
		}
		if (i < n && *p) {
			int c = (unsigned char)s[i], ok;
			const char *next = p + 1;
			if (*p == '?') {
				ok = 1;
			} else if (*p == '[') {
				ok = match_set(p + 1, c, fold, &next);
				if (ok < 0)
					return 0;
			} else {
				int pc = (unsigned char)*p;
				if (pc == '\\' && p[1]) {
					pc = (unsigned char)p[1];
					next = p + 2;
				}
				ok = fold ? lower(pc) == lower(c) : pc == c;
			}
			if (ok) {
				p = next;
				i++;
				continue;
			}
		}
		if (!star_p || star_i >= n)
			return 0;
		p = star_p;
		i = ++star_i;
	}
	return 1;
}
