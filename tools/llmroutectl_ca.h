/*
 * llmroutectl_ca.h - what `llmroutectl ca`'s two files share: the CA's own
 * files (llmroutectl_ca.c) and the programs and system files around it
 * (llmroutectl_ca_sys.c: keytool, update-ca-certificates, the system
 * store).
 */
#ifndef LLMROUTECTL_CA_H
#define LLMROUTECTL_CA_H
#include <openssl/x509.h>
#include <stddef.h>

/* Runs argv[0] (a path) with argv, waiting for it, with `input` (may be
 * NULL: none; at most a pipe's worth) on its standard input.  quiet: its
 * output is kept and printed on stderr only if it fails.  Returns its exit
 * status, or -1 if it could not be run or was killed. */
int ca_run(char *const argv[], int quiet, const char *input);

/* Finds program `name` in PATH, then in each of the ':'-separated `extra`
 * directories (may be NULL).  Returns 0 with its path in out, or -1. */
int ca_find_prog(const char *name, const char *extra, char *out, size_t cap);

/* Is crt in the PEM bundle at path?  Returns 1 or 0; -1 when the bundle
 * cannot be read. */
int ca_in_bundle(X509 *crt, const char *path);

/* Reads the first certificate of a PEM file; NULL if there is none. */
X509 *ca_load_cert(const char *path);

/* Makes the Java trust store `out` (PKCS#12, password changeit): the
 * system's Java CAs and the certificate in `certfile`, with keytool.
 * Returns 0; -1 when it could not, after saying why on stderr (the caller
 * goes on without one). */
int ca_make_truststore(const char *certfile, const char *out);

/* Is Debian's ca-certificates-java hook there (it copies the system store
 * into Java's after update-ca-certificates)? */
int ca_java_hook(void);

int ca_install(void);
int ca_uninstall(void);

#endif
