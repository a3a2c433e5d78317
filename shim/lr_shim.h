/*
 * lr_shim.h - process-wide facts the hooks share.
 *
 * The per-thread depth counter tells the app's calls from libcurl's calls
 * to its own API (curl_easy_perform runs curl_multi_* through the PLT):
 * only depth 0 is the app.  The shim is off entirely with
 * LLMROUTE_DISABLE=1.
 */
#ifndef LR_SHIM_H
#define LR_SHIM_H

extern __thread int lr_depth;

/* 1 on the thread of the shim's own upstream client (lr_upstream.h) and
 * nowhere else: the socket hooks hand that thread's send/recv to
 * lr_up_send/lr_up_recv.  Initial-exec: one load in the hooks. */
extern __thread int lr_up_self __attribute__((tls_model("initial-exec")));

/* 1 when LLMROUTE_DISABLE is set to a true value (read once). */
int lr_disabled(void);

/* The app's executable name, as route conditions and audit see it: the
 * basename of argv[0]. */
const char *lr_process_name(void);

#define LR_EXPORT __attribute__((visibility("default")))

#endif
