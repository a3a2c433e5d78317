/*
 * lr_redact.c - placeholders in, values back out (see lr_redact.h).
 */
#include "lr_redact.h"
#include "lr_error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lr_redact_free(lr_redact_map *m)
{
	size_t k;

	for (k = 0; k < m->n; k++)
		free(m->e[k].val);
	free(m->e);
	memset(m, 0, sizeof(*m));
}

int lr_redact_dup(const lr_redact_map *src, lr_redact_map *dst)
{
	size_t k;

	memset(dst, 0, sizeof(*dst));
	if (!src->n)
		return 0;
	if (!(dst->e = calloc(src->n, sizeof(*dst->e))))
		return LR_ENOMEM;
	memcpy(dst->count, src->count, sizeof(dst->count));
	for (k = 0; k < src->n; k++, dst->n++) {
		dst->e[k] = src->e[k];
		if (!(dst->e[k].val = malloc(src->e[k].len + 1))) {
			lr_redact_free(dst);
			return LR_ENOMEM;
		}
		memcpy(dst->e[k].val, src->e[k].val, src->e[k].len);
		dst->e[k].val[src->e[k].len] = '\0';
	}
	return 0;
}

/* The entry for value v (kind), added if new.  NULL on ENOMEM. */
static const lr_redact_ent *entry(lr_redact_map *m, int kind, const char *v, size_t len)
{
	lr_redact_ent *e, *ne;
	const char *name = lr_guard_kind_name(kind);
	size_t k;

	for (k = 0; k < m->n; k++)
		if (m->e[k].kind == kind && m->e[k].len == len && memcmp(m->e[k].val, v, len) == 0)
			return &m->e[k];
	if (!(ne = realloc(m->e, (m->n + 1) * sizeof(*ne))))
		return NULL;
	m->e = ne;
	e = &m->e[m->n];
	if (!(e->val = malloc(len ? len : 1)))
		return NULL;
	memcpy(e->val, v, len);
	e->len = len;
	e->kind = kind;
	e->phlen = (size_t)snprintf(e->ph, sizeof(e->ph), "[%s_%u]", name, ++m->count[kind]);
	for (k = 1; k < e->phlen; k++)
		e->ph[k] = (char)toupper((unsigned char)e->ph[k]);
	m->n++;
	return e;
}

/* Appends n bytes to out (cap grown); -1 on ENOMEM. */
static int put(char **out, size_t *len, size_t *cap, const char *p, size_t n)
{
	char *np;
	size_t nc = *cap ? *cap : 256;

	while (nc < *len + n + 1)
		nc *= 2;
	if (nc != *cap) {
		if (!(np = realloc(*out, nc)))
			return -1;
		*out = np;
		*cap = nc;
	}
	memcpy(*out + *len, p, n);
	*len += n;
	(*out)[*len] = 0;
	return 0;
}

int lr_redact_body(const char *body, size_t len, const lr_guard_findings *g, unsigned mask,
		   lr_redact_map *m, char **out, size_t *outlen)
{
	const lr_redact_ent *e;
	size_t at = 0, olen = 0, cap = 0, k;
	char *o = NULL;
	int done = 0;

	memset(m, 0, sizeof(*m));
	*out = NULL;
	*outlen = 0;
	if (!(g->mask & mask))
		return 0;
	if (g->truncated)
		return LR_ETOOBIG;
	for (k = 0; k < g->n; k++) {
		const lr_guard_hit *h = &g->hit[k];
		if (!(mask & (1u << h->kind)) || h->off < at || (size_t)h->off + h->len > len)
			continue;
		if (!(e = entry(m, (int)h->kind, body + h->off, h->len)) ||
		    put(&o, &olen, &cap, body + at, h->off - at) < 0 || put(&o, &olen, &cap, e->ph, e->phlen) < 0)
			goto nomem;
		at = h->off + h->len;
		done++;
	}
	if (put(&o, &olen, &cap, body + at, len - at) < 0)
		goto nomem;
	*out = o;
	*outlen = olen;
	return done;
nomem:
	free(o);
	lr_redact_free(m);
	return LR_ENOMEM;
}

/* The entry whose placeholder starts at p (n bytes left), or NULL. */
static const lr_redact_ent *at_placeholder(const lr_redact_map *m, const char *p, size_t n)
{
	size_t k;

	for (k = 0; k < m->n; k++)
		if (m->e[k].phlen <= n && memcmp(m->e[k].ph, p, m->e[k].phlen) == 0)
			return &m->e[k];
	return NULL;
}

int lr_redact_restore(const lr_redact_map *m, const char *in, size_t n, char **out, size_t *outlen)
{
	const lr_redact_ent *e;
	const char *b;
	size_t at = 0, i = 0, olen = 0, cap = 0;
	char *o = NULL;
	int done = 0;

	*out = NULL;
	*outlen = 0;
	while (m->n && i < n && (b = memchr(in + i, '[', n - i))) {
		i = (size_t)(b - in);
		if (!(e = at_placeholder(m, in + i, n - i))) {
			i++;
			continue;
		}
		if (put(&o, &olen, &cap, in + at, i - at) < 0 || put(&o, &olen, &cap, e->val, e->len) < 0) {
			free(o);
			return LR_ENOMEM;
		}
		i = at = i + e->phlen;
		done++;
	}
	if (!done)
		return 0;
	if (put(&o, &olen, &cap, in + at, n - at) < 0) {
		free(o);
		return LR_ENOMEM;
	}
	*out = o;
	*outlen = olen;
	return done;
}
