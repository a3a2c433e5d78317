/*
 * llmroutectl_train_report.c - what `llmroutectl train` says about its
 * model on the held-out examples, and the temperature it calibrates.
 *
 * Every figure is on examples the model was not fitted on (the split is
 * by phrasing, lr_phrasing.h).  The temperature is fitted on all of them;
 * the calibration error it reports "after" is cross-fitted - the
 * temperature fitted on one half of the phrasings, measured on the other,
 * and the other way round - so the figure is not graded by its own fit.
 */
#include "llmroutectl.h"
#include "llmroutectl_train.h"
#include "lr_calib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BINS 10

typedef struct {
	double *logp;  /* nt x K log-probabilities at T = 1 */
	int *label, *fold, nt, K;
	double *conf;  /* scratch: confidence per row */
	int *right;
} heldout;

static void collect(const dataset *d, const float *w, const float *b, heldout *h)
{
	double prob[LR_CLF_MAX_CLASSES];
	int i, k;

	h->K = d->ncls;
	h->logp = malloc(sizeof(double) * (size_t)(d->n + 1) * (size_t)h->K);
	h->label = malloc(sizeof(int) * (size_t)(d->n + 1));
	h->fold = malloc(sizeof(int) * (size_t)(d->n + 1));
	h->conf = malloc(sizeof(double) * (size_t)(d->n + 1));
	h->right = malloc(sizeof(int) * (size_t)(d->n + 1));
	if (!h->logp || !h->label || !h->fold || !h->conf || !h->right)
		ctl_die(EX_SYSTEM, "out of memory");
	for (h->nt = i = 0; i < d->n; i++) {
		if (!d->ex[i].test)
			continue;
		lr_clf_predict(d->ex[i].v, w, b, (uint32_t)h->K, prob);
		for (k = 0; k < h->K; k++) /* a probability of 0 would make the NLL infinite */
			h->logp[(size_t)h->nt * h->K + k] = log(prob[k] > 1e-300 ? prob[k] : 1e-300);
		h->label[h->nt] = d->ex[i].cls;
		h->fold[h->nt] = (int)(d->ex[i].group >> 7 & 1);
		h->nt++;
	}
}

/* Fills conf[] and right[] at temperature temp; returns how many are right. */
static int at_temp(heldout *h, double temp)
{
	int i, ok = 0;

	for (i = 0; i < h->nt; i++) {
		int k = lr_calib_top(h->logp + (size_t)i * h->K, h->K, temp, &h->conf[i]);
		ok += h->right[i] = k == h->label[i];
	}
	return ok;
}

static void per_intent(const dataset *d, heldout *h)
{
	int conf[LR_CLF_MAX_CLASSES][LR_CLF_MAX_CLASSES] = {{0}}, i, k, j;
	double c;

	for (i = 0; i < h->nt; i++)
		conf[h->label[i]][lr_calib_top(h->logp + (size_t)i * h->K, h->K, 1, &c)]++;
	for (k = 0; k < d->ncls; k++) {
		int total = 0;
		for (j = 0; j < d->ncls; j++)
			total += conf[k][j];
		printf("  %-24s %3d of %3d held-out examples right\n", d->names[k], conf[k][k], total);
	}
	printf("confusion (rows: the true intent, columns: the one predicted):\n  %-12s", "");
	for (j = 0; j < d->ncls; j++)
		printf(" %6.6s", d->names[j]);
	putchar('\n');
	for (k = 0; k < d->ncls; k++) {
		printf("  %-12.12s", d->names[k]);
		for (j = 0; j < d->ncls; j++)
			printf(" %6d", conf[k][j]);
		putchar('\n');
	}
}

/* The calibration error of a temperature fitted on the other half of the
 * phrasings, for each half, weighted by the halves' sizes. */
static double cross_fitted_ece(heldout *h)
{
	double *lp = malloc(sizeof(double) * (size_t)(h->nt + 1) * (size_t)h->K), sum = 0;
	int *lab = malloc(sizeof(int) * (size_t)(h->nt + 1)), f, i, m, k;

	if (!lp || !lab)
		ctl_die(EX_SYSTEM, "out of memory");
	for (f = 0; f < 2; f++) {
		double t;
		for (m = i = 0; i < h->nt; i++)
			if (h->fold[i] != f) {
				memcpy(lp + (size_t)m * h->K, h->logp + (size_t)i * h->K, sizeof(double) * (size_t)h->K);
				lab[m++] = h->label[i];
			}
		t = m ? lr_calib_fit(lp, lab, m, h->K) : 1;
		for (m = i = 0; i < h->nt; i++)
			if (h->fold[i] == f) {
				k = lr_calib_top(h->logp + (size_t)i * h->K, h->K, t, &h->conf[m]);
				h->right[m++] = k == h->label[i];
			}
		sum += lr_calib_ece(h->conf, h->right, m, BINS) * m;
	}
	free(lp);
	free(lab);
	return h->nt ? sum / h->nt : 0;
}

static void threshold_table(heldout *h, double precision)
{
	static const double ts[] = {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99};
	int routed, ok;
	size_t i;
	double t;

	printf("threshold table (intent_confidence ge T, calibrated: share of held-out requests routed,"
	       " accuracy among them):\n");
	for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		lr_calib_at(h->conf, h->right, h->nt, ts[i], &routed, &ok);
		if (routed)
			printf("  ge %.2f  routed %5.1f%%  accuracy %.3f\n", ts[i], 100.0 * routed / h->nt,
			       (double)ok / routed);
		else
			printf("  ge %.2f  routed   0.0%%  accuracy -\n", ts[i]);
	}
	if (precision <= 0)
		return;
	if ((t = lr_calib_threshold(h->conf, h->right, h->nt, precision)) < 0) {
		printf("no threshold reaches precision %.3f on the held-out examples\n", precision);
		return;
	}
	lr_calib_at(h->conf, h->right, h->nt, t, &routed, &ok);
	printf("suggested: \"intent_confidence\": {\"ge\": %.2f} (precision %.3f: routes %.1f%% of held-out"
	       " requests, %.3f of them right)\n", t, precision, 100.0 * routed / h->nt, (double)ok / routed);
}

double train_report(const dataset *d, const float *w, const float *b, double precision, double *acc,
		    int *nt)
{
	heldout h = {0};
	double temp = 1;

	collect(d, w, b, &h);
	*nt = h.nt;
	per_intent(d, &h);
	*acc = h.nt ? (double)at_temp(&h, 1) / h.nt : 0;
	if (h.nt) {
		double before = lr_calib_ece(h.conf, h.right, h.nt, BINS), cross;
		temp = lr_calib_fit(h.logp, h.label, h.nt, h.K);
		cross = cross_fitted_ece(&h);
		at_temp(&h, temp);
		printf("calibration: temperature %.3f; expected calibration error %.3f before, %.3f after"
		       " (cross-fitted), %.3f on the fitting set\n",
		       temp, before, cross, lr_calib_ece(h.conf, h.right, h.nt, BINS));
		threshold_table(&h, precision);
	}
	free(h.logp);
	free(h.label);
	free(h.fold);
	free(h.conf);
	free(h.right);
	return temp;
}
