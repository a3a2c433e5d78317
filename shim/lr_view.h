/*
 * lr_view.h - the shim's read-only view of the live routing table.
 *
 * The first request attaches to the segment (each request tries again
 * while there is none), and each request compares the segment's generation
 * with the one it compiled last: one atomic load when nothing changed.  On a
 * change, one thread copies the new table out, checks it (lr_table_validate)
 * and swaps it in; a table that fails the checks is reported once and the
 * previous good one stays.  A table is used only while its segment passes
 * the trust rule (owner root or us, no group/other write).
 */
#ifndef LR_VIEW_H
#define LR_VIEW_H
#include "lr_table.h"

/* The current table, or NULL (no table, disabled, untrusted).  A non-NULL
 * result is valid until lr_view_release(); hold it for microseconds only. */
const lr_table *lr_view_acquire(void);
void lr_view_release(const lr_table *t);

/* The compiled intent patterns of t (the table lr_view_acquire returned,
 * still held), or NULL (keywords only). */
struct lr_intent_cache;
const struct lr_intent_cache *lr_view_intents(const lr_table *t);

/* Generation of the table lr_view_acquire() returned last (for audit). */
unsigned long long lr_view_generation(void);

#endif
