/*
 * lr_calib.h - calibrating the learned classifier's probabilities, and the
 * figures `llmroutectl train` reports about them.
 *
 * Temperature scaling: one number T divides every score before the
 * softmax.  It is fitted on held-out predictions by minimising their
 * negative log-likelihood (golden-section search on log T, which is
 * unimodal there), so it changes how sure the model says it is, never
 * which class it picks.  Everything works on log-probabilities at T = 1
 * (the softmax does not care about a constant added to every score).
 * Pure functions: no allocation, no I/O.
 */
#ifndef LR_CALIB_H
#define LR_CALIB_H

/* logp: n rows of k log-probabilities at T = 1; label: the true class of
 * each row.  Mean negative log-likelihood at temperature temp. */
double lr_calib_nll(const double *logp, const int *label, int n, int k, double temp);

/* The temperature in [0.05, 20] with the least lr_calib_nll; 1 for n == 0. */
double lr_calib_fit(const double *logp, const int *label, int n, int k);

/* Row logp (k classes) at temperature temp: the best class, its
 * probability in *conf. */
int lr_calib_top(const double *logp, int k, double temp, double *conf);

/* Expected calibration error over `bins` equal-width bins of confidence:
 * the mean, weighted by each bin's share, of |accuracy - mean confidence|.
 * conf[i] in [0, 1], right[i] 0 or 1.  0 for n == 0. */
double lr_calib_ece(const double *conf, const int *right, int n, int bins);

/* Among the rows with conf >= t: how many (*routed) and how many right
 * (*ok). */
void lr_calib_at(const double *conf, const int *right, int n, double t, int *routed, int *ok);

/* The lowest threshold t in 0.00, 0.01, ..., 0.99 such that at t and at
 * every higher one, the rows routed (conf >= t, at least one) are right at
 * least `precision` of the time.  Returns t, or -1 when none is. */
double lr_calib_threshold(const double *conf, const int *right, int n, double precision);

#endif
