/*
 * lr_fmath.h - exp and sqrt for the code that runs in the preloaded
 * library, without libm.
 *
 * Linking libm into libllmroute.so put libm in the global symbol scope of
 * every process that preloads it (curl and most C programs do not load
 * libm themselves), and the dynamic linker then
 * checks one more object for each of the thousands of symbols a process
 * binds at start-up: about 0.4M instructions per process start (issue 19).
 * The classifier is the only user (a softmax and a vector norm).
 */
#ifndef LR_FMATH_H
#define LR_FMATH_H

/* e**x, within 1 ulp (fdlibm's e_exp.c method); +inf past the double
 * range, 0 below it, NaN for NaN. */
double lr_exp(double x);

/* The correctly rounded square root (IEEE 754, as libm's); NaN for x < 0. */
double lr_sqrt(double x);

#endif
