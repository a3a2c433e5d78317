/*
 * lr_route_index.h - the table's route index: which routes a request can
 * possibly match, without walking all of them.
 *
 * A route whose conditions include a literal model (a glob with no `*`,
 * `?`, `[` or `\`) can only match a request asking for exactly that model;
 * one with a literal host, only a request to that host (ASCII case folded,
 * as host conditions are matched).  The builder files each such route under
 * the hash of one of those keys (the model first), and every other route in
 * a "scan" list.  A request's candidates are then the scan list, the bucket
 * of its model's hash and the bucket of its host's hash: every route it can
 * match is in one of them, so walking their union in table order and taking
 * the first route whose conditions all hold gives exactly the decision of
 * the full scan (first match wins).  A bucket may hold routes of other keys
 * (collisions): they are tested like any other, so collisions cost time,
 * never correctness.
 *
 * In the blob (lr_table.h: idx_nbuckets, idx_off) the index is one array of
 * uint32_t: nbuckets + 2 starts (bucket b's routes are entries
 * [start[b], start[b+1]); bucket nbuckets is the scan list), then nroutes
 * route indices, strictly increasing within each list.  nbuckets == 0: no
 * index, lr_decide scans.  lr_route_index_ok() checks all of this, so a
 * reader never leaves the blob whatever its bytes.
 */
#ifndef LR_ROUTE_INDEX_H
#define LR_ROUTE_INDEX_H
#include <stddef.h>
#include <stdint.h>
#include "lr_table.h"

/* The bucket count a table of n routes gets: a power of two, about 2n. */
uint32_t lr_route_index_buckets(size_t n);

/* The size in bytes of the index section for n routes in nb buckets. */
size_t lr_route_index_size(uint32_t nb, size_t n);

/* Fills `out` (lr_route_index_size bytes, 4-aligned) with the index of
 * routes[0..n) whose conditions are conds[] and strings pool[].  Allocates
 * nothing. */
void lr_route_index_build(uint32_t *out, uint32_t nb, const lr_route *routes, size_t n,
			  const lr_cond *conds, const char *pool);

/* 1 if the index section of a table otherwise validated is sound (in the
 * blob, aligned, starts in order, entries < nroutes and increasing within
 * each list), else 0.  Which route sits in which list is the builder's
 * business: a table's writer is trusted (lr_shm.h), its bytes are not. */
int lr_route_index_ok(const lr_table *t);

/* The hash a key of `field` (LR_F_MODEL or LR_F_HOST) has; hosts are
 * folded to ASCII lower case first. */
uint32_t lr_route_index_hash(int field, const char *s, size_t n);

/* The candidate lists of a request: up to three sorted runs of route
 * indices (the scan list, the model's bucket, the host's bucket). */
typedef struct {
	const uint32_t *at[3], *end[3];
} lr_route_cands;

/* Sets c to the candidates of a request whose model is model[0..mlen) and
 * host host[0..hlen) (NULL = absent, matched as ""). */
void lr_route_index_cands(const lr_table *t, const char *model, size_t mlen, const char *host,
			  size_t hlen, lr_route_cands *c);

/* The next candidate in table order, or -1 when there is none left. */
static inline int64_t lr_route_cands_next(lr_route_cands *c)
{
	int k, best = -1;

	for (k = 0; k < 3; k++)
		if (c->at[k] < c->end[k] && (best < 0 || *c->at[k] < *c->at[best]))
			best = k;
	if (best < 0)
		return -1;
	return (int64_t)*c->at[best]++;
}

#endif
