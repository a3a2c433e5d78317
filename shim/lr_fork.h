/*
 * lr_fork.h - the shim across fork() in a threaded host.
 *
 * fork() copies only the calling thread.  A lock another thread held at
 * that instant stays held for ever in the child, which then hangs at its
 * first LLM request (prefork servers, Python's multiprocessing with the
 * fork start method).  So one pthread_atfork handler (lr_fork.c) takes
 * every process-wide lock of the shim before fork, in one fixed order
 * (outer locks first, as they nest), and gives them back after it: the
 * parent unlocks them, the child re-initialises them and whatever
 * per-process state it keeps (the cached pid).
 *
 * Each module with such a lock has one lr_*_atfork(phase) below.  None of
 * these locks is held across a call into the app (a libcurl callback, a
 * dlopen'ed constructor), so an app that forks from its own code never
 * finds one held by its own thread.  Per-handle and per-connection locks
 * (lr_easy, lr_conn) are not taken: a child that goes on with a transfer
 * or connection another thread of its parent had in progress is outside
 * what fork() allows anyway.
 */
#ifndef LR_FORK_H
#define LR_FORK_H
#include <pthread.h>

enum { LR_FORK_PREPARE, LR_FORK_PARENT, LR_FORK_CHILD };

/* The usual handling of one plain mutex. */
static inline void lr_fork_mutex(pthread_mutex_t *m, int phase)
{
	if (phase == LR_FORK_PREPARE)
		pthread_mutex_lock(m);
	else if (phase == LR_FORK_PARENT)
		pthread_mutex_unlock(m);
	else
		pthread_mutex_init(m, NULL); /* its owner was a thread of the parent */
}

/* In the order lr_fork.c takes them (outer first).  lr_up_atfork
 * (lr_upstream.h) comes first: it waits for the shim's own client thread
 * to stop outside every lock before any is taken, then holds its own. */
void lr_up_atfork(int phase);
void lr_got_atfork(int phase);
void lr_ssl_atfork(int phase);
void lr_easy_atfork(int phase);
void lr_sock_atfork(int phase);
void lr_curl_sym_atfork(int phase);
void lr_view_atfork(int phase);
void lr_resil_atfork(int phase);
void lr_multi_atfork(int phase);
void lr_resolve_atfork(int phase);
void lr_claim_atfork(int phase);
void lr_rec_atfork(int phase);
void lr_fleet_atfork(int phase); /* lr_fleet.h */
void lr_log_atfork(int phase);

#endif
