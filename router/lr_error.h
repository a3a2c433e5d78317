/*
 * lr_error.h - the one error convention of llmroute.
 *
 * Every function in router/ and shim/ that can fail returns an int: 0 (or a
 * non-negative count/length where documented) on success and one of the
 * negative LR_E* codes below on failure.  Callers test `< 0`.  No function
 * sets errno as its way of reporting; the shim saves and restores errno
 * around everything it does in a host process.
 */
#ifndef LR_ERROR_H
#define LR_ERROR_H

enum {
	LR_OK = 0,
	LR_ENOMEM = -1,     /* allocation failed */
	LR_EPARSE = -2,     /* malformed input (JSON, URL, HTTP, glob) */
	LR_ENOTFOUND = -3,  /* the thing looked for is absent */
	LR_ETOOBIG = -4,    /* input exceeds a documented hard cap */
	LR_EINVAL = -5,     /* well-formed but semantically invalid */
	LR_EIO = -6,        /* a system call failed (errno describes it) */
	LR_EVERSION = -7,   /* unknown layout version or magic */
	LR_EUNTRUSTED = -8, /* shared segment with the wrong owner or mode */
	LR_EBUSY = -9,      /* concurrent writer; try again later */
	LR_ECORRUPT = -10,  /* checksum or bounds check failed */
};

/* Returns a static, human-readable name for an LR_E* code. */
const char *lr_strerror(int code);

#endif
