/*
 * lr_test.h - the smallest test harness that does the job: CHECK records a
 * failure with file:line and carries on; lr_test_done() prints a summary and
 * returns the exit code.  Every unit test binary is one main() using these.
 */
#ifndef LR_TEST_H
#define LR_TEST_H
#include <stdio.h>
#include <string.h>

static int lr_test_failed, lr_test_checks;

#define CHECK(cond) do { \
	lr_test_checks++; \
	if (!(cond)) { \
		lr_test_failed++; \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	lr_test_checks++; \
	if (!a_ || !b_ || strcmp(a_, b_) != 0) { \
		lr_test_failed++; \
		fprintf(stderr, "%s:%d: CHECK_STR failed: %s == \"%s\", expected \"%s\"\n", \
			__FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
	} \
} while (0)

#define CHECK_INT(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	lr_test_checks++; \
	if (a_ != b_) { \
		lr_test_failed++; \
		fprintf(stderr, "%s:%d: CHECK_INT failed: %s == %lld, expected %lld\n", \
			__FILE__, __LINE__, #a, a_, b_); \
	} \
} while (0)

static inline int lr_test_done(const char *name)
{
	fprintf(stderr, "%s: %d checks, %d failed\n", name, lr_test_checks, lr_test_failed);
	return lr_test_failed ? 1 : (lr_test_checks ? 0 : 1); /* no checks = failure */
}
#endif
