/*
 * lr_phrasing.h - a held-out split by phrasing, for `llmroutectl train`.
 *
 * Labelled examples are usually written as a few phrasings crossed with
 * many subjects ("Define X.", "What does X mean?").  A split by random
 * lines puts "Define entropy." in training and "Define osmosis." in the
 * held-out set, and the accuracy it reports is recall of a phrasing seen,
 * not what the model does with new wording.  So lines are grouped by
 * their phrasing, and whole groups are held out.
 *
 * A line's phrasing is its leading words (lowercased runs of letters,
 * digits and bytes >= 0x80) that are common in its intent - in at least
 * one of its lines in LR_PHRASING_SHARE, and in at least 3 - up to the
 * first rarer word, which is taken to start its subject; a few function
 * words ("a", "the", "this"...) are skipped.  "Define entropy." and
 * "Define a monad." are both "define"; "What does GDP mean?" is "what
 * does", "Is X allowed under GDPR?" and "Is X a HIPAA violation?" both
 * "is" (coarser groups only make the held-out set stricter).  A heuristic
 * for files written as phrasings crossed with subjects; `train --split
 * marked` takes the file's own marks instead.  Groups are per intent; in
 * each intent the groups are ordered by a hash of their phrasing and every
 * `every`-th is held out, starting with the second (so an intent with two
 * or more phrasings always has one held out).  Deterministic: the same
 * file gives the same split.
 */
#ifndef LR_PHRASING_H
#define LR_PHRASING_H
#include <stdint.h>

#define LR_PHRASING_SHARE 10

/* texts[n], label[n] (an intent index per line, 0..63): sets heldout[i] to 1 for
 * held-out lines, else 0, and group[i] (may be NULL) to the phrasing's
 * hash.  every >= 2.  Returns the number of held-out groups, or LR_ENOMEM
 * / LR_EINVAL (heldout then untouched). */
int lr_phrasing_split(const char *const *texts, const int *label, int n, int every, int *heldout,
		      uint64_t *group);

#endif
