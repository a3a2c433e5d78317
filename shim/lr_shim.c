/* lr_shim.c - process-wide shim state (see lr_shim.h). */
#include "lr_shim.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

__thread int lr_depth;
__thread int lr_up_self __attribute__((tls_model("initial-exec")));

static int disabled;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void read_env(void)
{
	const char *v = secure_getenv("LLMROUTE_DISABLE");

	disabled = v && *v && strcmp(v, "0") != 0;
}

int lr_disabled(void)
{
	pthread_once(&once, read_env);
	return disabled;
}

const char *lr_process_name(void)
{
	return program_invocation_short_name;
}
