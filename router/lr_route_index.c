/*
 * lr_route_index.c - the table's route index (see lr_route_index.h).
 *
 * Built once by the table builder, read by every decision.  The hash is
 * FNV-1a over the key's bytes with the field mixed in first, so a model
 * and a host with the same spelling land apart.
 */
#include "lr_route_index.h"

#include <string.h>

#define SCAN_LIST(nb) (nb)

static unsigned char fold(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

uint32_t lr_route_index_hash(int field, const char *s, size_t n)
{
	uint32_t h = 2166136261u ^ (uint32_t)field;
	size_t i;

	h *= 16777619u;
	if (field == LR_F_HOST)
		for (i = 0; i < n; i++)
			h = (h ^ fold((unsigned char)s[i])) * 16777619u;
	else
		for (i = 0; i < n; i++)
			h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

uint32_t lr_route_index_buckets(size_t n)
{
	uint32_t nb = 1;

	while (nb < 2 * n && nb < (1u << 20))
		nb <<= 1;
	return nb;
}

size_t lr_route_index_size(uint32_t nb, size_t n)
{
	return ((size_t)nb + 2 + n) * sizeof(uint32_t);
}

/* A glob that matches one string only: itself (lr_glob.c). */
static int literal(const char *g)
{
	return !strpbrk(g, "*?[\\");
}

/* The bucket route r is filed under, or SCAN_LIST(nb): its first literal
 * model condition, else its first literal host condition. */
static uint32_t bucket_of(const lr_route *r, const lr_cond *conds, const char *pool, uint32_t nb)
{
	static const int fields[] = {LR_F_MODEL, LR_F_HOST};
	const lr_cond *c = conds + r->cond_first;
	uint32_t i, k;

	for (k = 0; k < 2; k++)
		for (i = 0; i < r->cond_count; i++) {
			const char *g = pool + c[i].str.off;
			if (c[i].field == fields[k] && c[i].op == LR_OP_GLOB && literal(g))
				return lr_route_index_hash(fields[k], g, c[i].str.len) & (nb - 1);
		}
	return SCAN_LIST(nb);
}

/* Counting sort by bucket: stable, so each list stays in table order. */
void lr_route_index_build(uint32_t *out, uint32_t nb, const lr_route *routes, size_t n,
			  const lr_cond *conds, const char *pool)
{
	uint32_t *start = out, *entry = out + nb + 2, b;
	size_t i;

	memset(start, 0, ((size_t)nb + 2) * sizeof(uint32_t));
	for (i = 0; i < n; i++)
		start[bucket_of(&routes[i], conds, pool, nb) + 1]++;
	for (b = 0; b <= nb; b++)
		start[b + 1] += start[b];
	/* start[b] is now where bucket b begins; fill, advancing each */
	for (i = 0; i < n; i++)
		entry[start[bucket_of(&routes[i], conds, pool, nb)]++] = (uint32_t)i;
	/* every start moved to its bucket's end, the next one's start */
	memmove(start + 1, start, ((size_t)nb + 1) * sizeof(uint32_t));
	start[0] = 0;
}

int lr_route_index_ok(const lr_table *t)
{
	const uint32_t *start, *entry;
	uint32_t nb = t->idx_nbuckets, b, i;

	if (nb == 0)
		return 1;
	if ((nb & (nb - 1)) || nb > (1u << 20) || t->idx_off % 8 || t->idx_off > t->size ||
	    lr_route_index_size(nb, t->nroutes) > t->size - t->idx_off)
		return 0;
	start = (const uint32_t *)((const char *)t + t->idx_off);
	entry = start + nb + 2;
	if (start[0] != 0 || start[nb + 1] != t->nroutes)
		return 0;
	for (b = 0; b <= nb; b++) {
		if (start[b] > start[b + 1])
			return 0;
		for (i = start[b]; i < start[b + 1]; i++)
			if (entry[i] >= t->nroutes || (i > start[b] && entry[i] <= entry[i - 1]))
				return 0;
	}
	return 1;
}

static void run(const uint32_t *start, const uint32_t *entry, uint32_t b, lr_route_cands *c, int k)
{
	c->at[k] = entry + start[b];
	c->end[k] = entry + start[b + 1];
}

void lr_route_index_cands(const lr_table *t, const char *model, size_t mlen, const char *host,
			  size_t hlen, lr_route_cands *c)
{
	uint32_t nb = t->idx_nbuckets, bm, bh;
	const uint32_t *start = (const uint32_t *)((const char *)t + t->idx_off), *entry = start + nb + 2;

	run(start, entry, SCAN_LIST(nb), c, 0);
	bm = lr_route_index_hash(LR_F_MODEL, model ? model : "", model ? mlen : 0) & (nb - 1);
	bh = lr_route_index_hash(LR_F_HOST, host ? host : "", host ? hlen : 0) & (nb - 1);
	run(start, entry, bm, c, 1);
	run(start, entry, bh, c, 2);
	if (bh == bm) /* one bucket holds both keys' routes: walk it once */
		c->end[2] = c->at[2];
}
