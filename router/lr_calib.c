/*
 * lr_calib.c - temperature scaling and calibration figures (see
 * lr_calib.h).
 */
#include "lr_calib.h"

#include <math.h>

int lr_calib_top(const double *logp, int k, double temp, double *conf)
{
	double max, sum = 0;
	int j, best = 0;

	for (j = 1; j < k; j++)
		if (logp[j] > logp[best])
			best = j;
	max = logp[best];
	for (j = 0; j < k; j++)
		sum += exp((logp[j] - max) / temp);
	*conf = 1 / sum; /* the best class's term is exp(0) */
	return best;
}

double lr_calib_nll(const double *logp, const int *label, int n, int k, double temp)
{
	double total = 0, max, sum;
	int i, j;

	for (i = 0; i < n; i++) {
		const double *row = logp + (long)i * k;
		for (max = row[0], j = 1; j < k; j++)
			max = row[j] > max ? row[j] : max;
		for (sum = 0, j = 0; j < k; j++)
			sum += exp((row[j] - max) / temp);
		total += log(sum) - (row[label[i]] - max) / temp;
	}
	return n ? total / n : 0;
}

double lr_calib_fit(const double *logp, const int *label, int n, int k)
{
	const double phi = 0.6180339887498949;
	double a = log(0.05), b = log(20), c, d;
	int it;

	if (n == 0)
		return 1;
	for (it = 0; it < 60; it++) {
		c = b - phi * (b - a);
		d = a + phi * (b - a);
		if (lr_calib_nll(logp, label, n, k, exp(c)) < lr_calib_nll(logp, label, n, k, exp(d)))
			b = d;
		else
			a = c;
	}
	return exp((a + b) / 2);
}

double lr_calib_ece(const double *conf, const int *right, int n, int bins)
{
	double sconf[64] = {0}, ece = 0;
	int cnt[64] = {0}, ok[64] = {0}, i, b;

	if (bins < 1 || bins > 64 || n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		b = (int)(conf[i] * bins);
		b = b < 0 ? 0 : b >= bins ? bins - 1 : b;
		cnt[b]++;
		ok[b] += right[i] != 0;
		sconf[b] += conf[i];
	}
	for (b = 0; b < bins; b++)
		if (cnt[b])
			ece += fabs((double)ok[b] / cnt[b] - sconf[b] / cnt[b]) * cnt[b] / n;
	return ece;
}

void lr_calib_at(const double *conf, const int *right, int n, double t, int *routed, int *ok)
{
	int i;

	*routed = *ok = 0;
	for (i = 0; i < n; i++)
		if (conf[i] >= t) {
			(*routed)++;
			*ok += right[i] != 0;
		}
}

double lr_calib_threshold(const double *conf, const int *right, int n, double precision)
{
	int step, routed, ok, best = -1;

	/* from the top down: the answer is the last step of an unbroken run */
	for (step = 99; step >= 0; step--) {
		lr_calib_at(conf, right, n, step / 100.0, &routed, &ok);
		if (!routed)
			continue;
		if (ok < precision * routed)
			break;
		best = step;
	}
	return best < 0 ? -1 : best / 100.0;
}
