/* lr_error.c - names for the LR_E* codes (see lr_error.h). */
#include "lr_error.h"

const char *lr_strerror(int code)
{
	switch (code) {
	case LR_OK: return "ok";
	case LR_ENOMEM: return "out of memory";
	case LR_EPARSE: return "malformed input";
	case LR_ENOTFOUND: return "not found";
	case LR_ETOOBIG: return "too big";
	case LR_EINVAL: return "invalid";
	case LR_EIO: return "system call failed";
	case LR_EVERSION: return "unknown layout version";
	case LR_EUNTRUSTED: return "untrusted owner or mode";
	case LR_EBUSY: return "busy";
	case LR_ECORRUPT: return "corrupt";
	}
	return "unknown error";
}
