/*
 * llmroute.c - the launcher: run a command with the shim preloaded.
 *
 *   llmroute [--table NAME] [--audit FILE] [--log LEVEL] [--intercept] CMD [ARGS...]
 *
 * Like proxychains4: it finds libllmroute.so next to itself (build tree),
 * in ../lib/llmroute beside its directory (`make install PREFIX=...`, which
 * may be moved), or in LR_LIBDIR, the directory the build was told it would
 * be installed in (`make LIBDIR=...`; the Debian package's
 * /usr/lib/<multiarch>), in that order; puts it first in LD_PRELOAD, sets
 * the LLMROUTE_* variables the options name, and execs CMD.  Exit status 127
 * when CMD cannot be run, 1 on a usage error or when --intercept finds no
 * CA it may use, otherwise CMD's own.
 *
 * --intercept (or LLMROUTE_TLS_INTERCEPT=1, on or yes already in the
 * environment, which the shim takes for "on"):
 * TLS interception by the shim, with the local CA of `llmroutectl ca init`
 * (docs/ca.md).  The CA must be there and fit (lr_cadir.c) or nothing is
 * run: a program half configured would trust nothing the shim presents.
 * Then the variables that make the usual TLS stacks trust that CA are set
 * (OpenSSL, Python, curl: bundle.pem; Node.js: ca.pem; Java:
 * truststore.p12).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lr_cadir.h"

#ifndef LR_LIBDIR
#define LR_LIBDIR "/usr/local/lib/llmroute"
#endif

static const char usage[] =
	"usage: llmroute [--table NAME] [--audit FILE] [--log off|error|info|debug] [--intercept]\n"
	"                CMD [ARGS...]\n"
	"  run CMD with libllmroute.so preloaded, so its LLM API requests follow\n"
	"  the live routing table (see `llmroutectl show`).\n"
	"  --intercept: TLS interception with the local CA (`llmroutectl ca init`);\n"
	"  CMD's TLS libraries are told to trust it (SSL_CERT_FILE, NODE_EXTRA_CA_CERTS,\n"
	"  JAVA_TOOL_OPTIONS, ...).\n";

/* Candidate library paths relative to the directory of our executable,
 * then the one the build names. */
static int find_lib(char *out, size_t cap)
{
	static const char *const rel[] = {"libllmroute.so", "../lib/llmroute/libllmroute.so"};
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	size_t i;

	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		int n2 = snprintf(out, cap, "%s/%s", self, rel[i]);
		if (n2 > 0 && (size_t)n2 < cap && access(out, R_OK) == 0)
			return 0;
	}
	n = snprintf(out, cap, "%s/libllmroute.so", LR_LIBDIR);
	return n > 0 && (size_t)n < cap && access(out, R_OK) == 0 ? 0 : -1;
}

static void set_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	size_t n = strlen(lib) + (old ? strlen(old) : 0) + 2;
	char *v = malloc(n);

	if (!v) {
		perror("llmroute");
		exit(1);
	}
	/* A sanitizer runtime must stay first, so append after it if present. */
	if (old && *old && strstr(old, "libclang_rt.") == old)
		snprintf(v, n, "%s:%s", old, lib);
	else if (old && *old)
		snprintf(v, n, "%s:%s", lib, old);
	else
		snprintf(v, n, "%s", lib);
	setenv("LD_PRELOAD", v, 1);
	free(v);
}

static void put(const char *name, const char *dir, const char *file)
{
	char v[PATH_MAX + 64];
	const char *old = getenv(name);

	snprintf(v, sizeof(v), "%s%s%s", dir, file ? "/" : "", file ? file : "");
	if (old && *old && strcmp(old, v) != 0 && strcmp(name, "LLMROUTE_CA_DIR") != 0)
		fprintf(stderr, "llmroute: --intercept: %s was %s; now %s\n", name, old, v);
	setenv(name, v, 1);
}

/* Java reads JAVA_TOOL_OPTIONS at start; ours come last, so they win. */
static void put_java(const char *dir)
{
	const char *old = getenv("JAVA_TOOL_OPTIONS");
	char v[3 * PATH_MAX];

	snprintf(v, sizeof(v),
		 "%s%s-Djavax.net.ssl.trustStore=%s/" LR_CA_TRUSTSTORE
		 " -Djavax.net.ssl.trustStorePassword=" LR_CA_STOREPASS " -Djavax.net.ssl.trustStoreType=PKCS12",
		 old && *old ? old : "", old && *old ? " " : "", dir);
	setenv("JAVA_TOOL_OPTIONS", v, 1);
}

/* The CA directory, absolute, if it holds a CA this user may use; else
 * says why and what to do.  Returns 0 or -1. */
static int intercept_dir(char *dir, size_t cap)
{
	char path[PATH_MAX];
	const char *why = "";
	int rc;

	if (lr_cadir_path(path, sizeof(path)) < 0) {
		fputs("llmroute: --intercept: cannot tell where the CA is: set LLMROUTE_CA_DIR or HOME\n", stderr);
		return -1;
	}
	rc = lr_cadir_check(path, 0, &why);
	if (rc == 0 && (rc = lr_cadir_key_check(path, &why)) == -1)
		errno = ENOENT;
	if (rc == 0 && (!lr_cadir_file(path, LR_CA_CERT, NULL) || !lr_cadir_file(path, LR_CA_BUNDLE, NULL)))
		rc = -1, errno = ENOENT;
	if (rc == -2) {
		fprintf(stderr, "llmroute: --intercept: %s: %s; not running the command\n", path, why);
		return -1;
	}
	if (rc == -1) {
		fprintf(stderr, "llmroute: --intercept: no local CA in %s (%s): make one with "
				"`llmroutectl ca init`; not running the command\n", path, strerror(errno));
		return -1;
	}
	if (!realpath(path, dir) || strlen(dir) + 32 > cap) {
		fprintf(stderr, "llmroute: --intercept: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int set_intercept(void)
{
	char dir[PATH_MAX];

	if (intercept_dir(dir, sizeof(dir)) < 0)
		return -1;
	setenv("LLMROUTE_TLS_INTERCEPT", "1", 1);
	put("LLMROUTE_CA_DIR", dir, NULL);
	put("NODE_EXTRA_CA_CERTS", dir, LR_CA_CERT);
	put("SSL_CERT_FILE", dir, LR_CA_BUNDLE);
	put("REQUESTS_CA_BUNDLE", dir, LR_CA_BUNDLE);
	put("CURL_CA_BUNDLE", dir, LR_CA_BUNDLE);
	if (lr_cadir_file(dir, LR_CA_TRUSTSTORE, NULL))
		put_java(dir);
	else
		fprintf(stderr, "llmroute: --intercept: no %s/" LR_CA_TRUSTSTORE
				": Java will not trust the CA (see `llmroutectl ca show`)\n", dir);
	return 0;
}

int main(int argc, char **argv)
{
	char lib[PATH_MAX];
	const char *env = getenv("LLMROUTE_TLS_INTERCEPT");
	/* the values the shim takes for "on" (shim/lr_claim.c) */
	int i = 1, intercept = env && (!strcmp(env, "1") || !strcmp(env, "on") || !strcmp(env, "yes"));

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(o, "--")) {
			i++;
			break;
		}
		if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			fputs(usage, stdout);
			return 0;
		}
		if (!strcmp(o, "--intercept")) {
			intercept = 1;
			continue;
		}
		if (!v)
			break;
		if (!strcmp(o, "--table"))
			setenv("LLMROUTE_TABLE", v, 1);
		else if (!strcmp(o, "--audit"))
			setenv("LLMROUTE_AUDIT", v, 1);
		else if (!strcmp(o, "--log"))
			setenv("LLMROUTE_LOG", v, 1);
		else
			break;
		i++;
	}
	if (i >= argc || argv[i][0] == '-') {
		fputs(usage, stderr);
		return 1;
	}
	if (intercept && set_intercept() < 0)
		return 1;
	if (find_lib(lib, sizeof(lib)) < 0) {
		fprintf(stderr, "llmroute: cannot find libllmroute.so next to this program, in "
			"../lib/llmroute or in " LR_LIBDIR "\n");
		return 127;
	}
	set_preload(lib);
	execvp(argv[i], argv + i);
	fprintf(stderr, "llmroute: %s: %s\n", argv[i], strerror(errno));
	return 127;
}
