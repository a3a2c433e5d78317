/*
 * lr_cadir.h - where the opt-in local CA lives, and whether it may be used
 * (issue 18; docs/ca.md is the contract with the shim, which mints from it).
 *
 * Shared by llmroutectl (`ca init|show|install|uninstall`) and the launcher
 * (`llmroute --intercept`), so both name the same directory by the same
 * rule.  The files in it: ca.key (0600), ca.pem, bundle.pem and
 * truststore.p12 (0644).  Nothing here reads the key.
 */
#ifndef LR_CADIR_H
#define LR_CADIR_H
#include <stddef.h>

#define LR_CA_KEY "ca.key"
#define LR_CA_CERT "ca.pem"
#define LR_CA_BUNDLE "bundle.pem"
#define LR_CA_TRUSTSTORE "truststore.p12"
#define LR_CA_STOREPASS "changeit"
#define LR_CA_SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define LR_CA_SYSTEM_COPY "/usr/local/share/ca-certificates/llmroute.crt"

/* Writes the CA directory to out: $LLMROUTE_CA_DIR if set and not empty;
 * else /etc/llmroute/ca when the effective uid is 0; else
 * ${XDG_DATA_HOME:-$HOME/.local/share}/llmroute/ca.  Returns 0, or -1 when
 * neither XDG_DATA_HOME nor HOME is set or the path does not fit in cap. */
int lr_cadir_path(char *out, size_t cap);

/* May this process use the directory `dir` as its CA directory?  It must
 * be a directory owned by the effective uid (any owner when any_owner, for
 * root installing another user's certificate), not writable by group or
 * others, in a parent that others cannot write unless it is sticky (checked
 * first, so also for a directory not made yet).  Returns 0; -1 with errno
 * from stat (ENOENT: there is none); -2 when it is unfit, with a reason in
 * why (a static string). */
int lr_cadir_check(const char *dir, int any_owner, const char **why);

/* Does dir/name exist as a regular file (lstat: not a symlink)?  Returns
 * 1 and its permission bits in *mode (when mode is not NULL), or 0. */
int lr_cadir_file(const char *dir, const char *name, unsigned *mode);

/* Is dir/ca.key a regular file owned by the effective uid that nobody else
 * may read or write?  Returns 0; -1 when there is none; -2 when it is
 * unfit, with a reason in why (a static string). */
int lr_cadir_key_check(const char *dir, const char **why);

#endif
