/*
 * lr_fork.c - one pthread_atfork handler for the whole shim (see
 * lr_fork.h), registered once when the shim is loaded.
 */
#include "lr_fork.h"

static void (*const order[])(int) = {
	lr_up_atfork, /* first: parks the client's thread, which may take any lock below */
	lr_got_atfork, lr_ssl_atfork, lr_easy_atfork, lr_sock_atfork, lr_curl_sym_atfork,
	lr_view_atfork, lr_resil_atfork, lr_multi_atfork, lr_resolve_atfork, lr_claim_atfork, lr_rec_atfork, lr_fleet_atfork, lr_log_atfork,
};
#define N (sizeof(order) / sizeof(order[0]))

static void prepare(void)
{
	for (unsigned i = 0; i < N; i++)
		order[i](LR_FORK_PREPARE);
}

static void parent(void)
{
	for (unsigned i = N; i-- > 0;)
		order[i](LR_FORK_PARENT);
}

static void child(void)
{
	for (unsigned i = N; i-- > 0;)
		order[i](LR_FORK_CHILD);
}

__attribute__((constructor)) static void fork_init(void)
{
	pthread_atfork(prepare, parent, child);
}
