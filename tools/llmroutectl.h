/*
 * llmroutectl.h - what the verbs of llmroutectl share.
 *
 * Exit codes (documented in llmroutectl(1) and in `llmroutectl --help`):
 *   0 done, 1 usage error, 2 invalid input (rules, route, body),
 *   3 not found (no table published, no such route), 4 system error
 *   (shared memory, permissions, untrusted or foreign segment, I/O).
 */
#ifndef LLMROUTECTL_H
#define LLMROUTECTL_H
#include <stddef.h>
#include <stdint.h>
#include "lr_rules.h"
#include "lr_shm.h"

enum { EX_DONE = 0, EX_USAGE = 1, EX_INVALID = 2, EX_NOTFOUND = 3, EX_SYSTEM = 4 };

#define CTL_MAX_INPUT (64u << 20)

/* Prints "llmroutectl: MSG" to stderr and exits with `code`. */
void ctl_die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

/* Reads a whole file ("-" is stdin), NUL-terminated; dies on error. */
char *ctl_read_file(const char *path, size_t *len);

/* Prints a rules error as FILE:LINE:COL: PATH: MSG. */
void ctl_print_rules_error(const char *file, const lr_rules_error *e);

/* Compiles `text`, dying with EX_INVALID on error (`what` names the input). */
void *ctl_compile(const char *what, const char *text, size_t len, size_t *blen);

/* Copies the live table of `s` out (validated).  Returns NULL when nothing
 * is published; dies on a corrupt or foreign table. */
void *ctl_snapshot(const lr_shm *s, size_t *len, uint64_t *gen);

/* Opens the live table read-only, dying with a clear message; returns 0 if
 * attached, or EX_NOTFOUND when there is no segment. */
int ctl_attach(lr_shm *s);

/* Is `arg` one of -h / --help? */
int ctl_is_help(const char *arg);

struct cJSON;
/* The live rules as cJSON (a fresh {"routes": []} when there is no table);
 * w is a writer (ctl_open_writer). */
struct cJSON *ctl_live_rules(const lr_shm *w);
/* Compiles root and publishes it, dying on error (`what` names the edit). */
void ctl_commit(lr_shm *w, struct cJSON *root, const char *what);
void ctl_open_writer(lr_shm *w, int reinit);

/* One verb: --help prints name, args and summary; `completion bash`
 * completes name, then subs (space-separated sub-verbs, or ""). */
typedef struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *subs, *args, *summary;
} ctl_verb;
extern const ctl_verb ctl_verbs[]; /* ends with a NULL name */

int ctl_route(int argc, char **argv);
int ctl_completion(int argc, char **argv);
int ctl_train(int argc, char **argv);
int ctl_explain(int argc, char **argv);
int ctl_stats(int argc, char **argv);
/* `stats --fleet` (llmroutectl_fleet.c). */
int ctl_stats_fleet(void);
int ctl_audit(int argc, char **argv);
int ctl_prices(int argc, char **argv);
int ctl_watch(int argc, char **argv);
int ctl_sync(int argc, char **argv);
int ctl_ca(int argc, char **argv);

/* Creates the live counters segment beside the table if missing. */
void ctl_ensure_stats(void);

#endif
