/*
 * llmroutectl_train.h - what `llmroutectl train` (llmroutectl_train.c)
 * hands to its report on the held-out examples (llmroutectl_train_report.c).
 */
#ifndef LLMROUTECTL_TRAIN_H
#define LLMROUTECTL_TRAIN_H
#include "lr_classify.h"

typedef struct {
	lr_clf_vec *v;
	char *text;      /* the user text, for the split by phrasing */
	int cls, test;
	uint64_t group;  /* the phrasing's hash (0 for a split by marks) */
} example;

typedef struct {
	example *ex;
	int n, cap;
	char *names[LR_CLF_MAX_CLASSES];
	int ncls;
} dataset;

/* Prints the held-out figures of the model (w, b) on d: accuracy per
 * intent and overall, the confusion matrix, the calibration before and
 * after temperature scaling, the threshold table, and with precision > 0
 * the threshold it suggests.  Returns the fitted temperature (1 when
 * nothing is held out); *acc gets the accuracy, *nt the held-out count. */
double train_report(const dataset *d, const float *w, const float *b, double precision, double *acc,
		    int *nt);

#endif
