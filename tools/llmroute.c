/*
 * llmroute.c - the launcher: run a command with the shim preloaded.
 *
 *   llmroute [--table NAME] [--audit FILE] [--log LEVEL] CMD [ARGS...]
 *
 * Like proxychains4: it finds libllmroute.so next to itself (build tree),
 * in ../lib/llmroute beside its directory (`make install PREFIX=...`, which
 * may be moved), or in LR_LIBDIR, the directory the build was told it would
 * be installed in (`make LIBDIR=...`; the Debian package's
 * /usr/lib/<multiarch>), in that order; puts it first in LD_PRELOAD, sets
 * the LLMROUTE_* variables the options name, and execs CMD.  Exit status 127
 * when CMD cannot be run, 1 on a usage error, otherwise CMD's own.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef LR_LIBDIR
#define LR_LIBDIR "/usr/local/lib/llmroute"
#endif

static const char usage[] =
	"usage: llmroute [--table NAME] [--audit FILE] [--log off|error|info|debug] CMD [ARGS...]\n"
	"  run CMD with libllmroute.so preloaded, so its LLM API requests follow\n"
	"  the live routing table (see `llmroutectl show`).\n";

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

int main(int argc, char **argv)
{
	char lib[PATH_MAX];
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(o, "--")) {
			i++;
			break;
		}
		if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			fputs(usage, stdout);
			return 0;
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
	}
	if (i >= argc || argv[i][0] == '-') {
		fputs(usage, stderr);
		return 1;
	}
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
