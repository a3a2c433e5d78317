/*
 * llmroutectl_cache.h - `llmroutectl cache`: the per-user response cache
 * (router/lr_cache.h).
 */
#ifndef LLMROUTECTL_CACHE_H
#define LLMROUTECTL_CACHE_H

/* argv[0] is "cache".  Returns an exit code (see llmroutectl.h); dies on
 * errors with "llmroutectl: cache: ...". */
int ctl_cache(int argc, char **argv);

#endif
