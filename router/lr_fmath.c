/*
 * lr_fmath.c - exp and sqrt without libm (see lr_fmath.h).
 *
 * exp follows fdlibm's e_exp.c (Sun Microsystems, freely distributable):
 * x = k*ln2 + r with |r| <= ln2/2, ln2 split in two so that r is exact,
 * e**r from a degree-5 rational approximation in r*r, then scaled by 2**k
 * built from its bits (ldexp is libm's too).  Error below 1 ulp.
 */
#include "lr_fmath.h"
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define LR_LN2_HI 6.93147180369123816490e-01
#define LR_LN2_LO 1.90821492927058770002e-10
#define LR_INV_LN2 1.44269504088896338700e+00
#define LR_EXP_MAX 7.09782712893383973096e+02   /* above: overflow */
#define LR_EXP_MIN (-7.45133219101941108420e+02) /* below: underflow to 0 */

/* 2**k for -1022 <= k <= 1023, from its bits. */
static double lr_pow2(int k)
{
	uint64_t b = (uint64_t)(k + 1023) << 52;
	double d;

	memcpy(&d, &b, sizeof d);
	return d;
}

/* y * 2**k for the k exp can produce (-1075 < k <= 1024), in two steps
 * where one power of two would leave the normal range. */
static double lr_scale(double y, int k)
{
	if (k > 1023)
		return y * lr_pow2(1023) * lr_pow2(k - 1023);
	if (k < -1021)
		return y * lr_pow2(k + 1000) * lr_pow2(-1000);
	return y * lr_pow2(k);
}

double lr_exp(double x)
{
	static const double p1 = 1.66666666666666019037e-01, p2 = -2.77777777770155933842e-03,
			    p3 = 6.61375632143793436117e-05, p4 = -1.65339022054652515390e-06,
			    p5 = 4.13813679705723846039e-08;
	double hi, lo, r, t, c, y;
	int k;

	if (x != x)
		return x;
	if (x > LR_EXP_MAX)
		return x * 1e308 * 10; /* +inf, without naming HUGE_VAL's libm */
	if (x < LR_EXP_MIN)
		return 0.0;
	k = (int)(x * LR_INV_LN2 + (x < 0 ? -0.5 : 0.5));
	hi = x - k * LR_LN2_HI; /* exact: k has at most 11 bits */
	lo = k * LR_LN2_LO;
	r = hi - lo;
	t = r * r;
	c = r - t * (p1 + t * (p2 + t * (p3 + t * (p4 + t * p5))));
	y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
	return k ? lr_scale(y, k) : y;
}

double lr_sqrt(double x)
{
#if defined(__SSE2__)
	return _mm_cvtsd_f64(_mm_sqrt_sd(_mm_set_sd(x), _mm_set_sd(x)));
#else
	return __builtin_sqrt(x); /* may call libm's sqrt: link -lm there */
#endif
}
