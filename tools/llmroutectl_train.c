/*
 * llmroutectl_train.c - `llmroutectl train`: learn intents from labelled
 * examples and publish the classifier with the live table.
 *
 * EXAMPLES.jsonl holds one {"text": ..., "intent": ..., "split": "test"?}
 * per line.  Examples marked "split": "test" are held out (without any
 * marks, every fifth is).  The model is multinomial logistic regression
 * over hashed word unigrams and bigrams (router/lr_classify.h, the very
 * features the shim computes), fitted by stochastic gradient descent with
 * a fixed seed, so the same file always gives the same model.  It prints
 * the accuracy on the held-out examples, per intent and overall, writes
 * the model file, and republishes the live rules with "classifier"
 * pointing at it.
 */
#include "llmroutectl.h"
#include "lr_b64.h"
#include "lr_classify.h"
#include "lr_error.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char train_usage[] =
	"usage: llmroutectl train EXAMPLES.jsonl [--out MODEL] [--dim N] [--epochs N] [--no-publish]\n"
	"  learn intents from lines of {\"text\": ..., \"intent\": ..., \"split\": \"test\"}\n"
	"  (held out: the lines marked test, else every fifth), print the held-out\n"
	"  accuracy, write MODEL (default: EXAMPLES with .model.json), and publish the\n"
	"  live rules with \"classifier\": MODEL.  --dim: hashed features (power of\n"
	"  two, default 16384); --epochs: passes over the examples (default 30).\n";

typedef struct {
	lr_clf_vec *v;
	int cls, test;
} example;

typedef struct {
	example *ex;
	int n, cap;
	char *names[LR_CLF_MAX_CLASSES];
	int ncls;
} dataset;

static int class_of(dataset *d, const char *name)
{
	int k;

	for (k = 0; k < d->ncls; k++)
		if (!strcmp(d->names[k], name))
			return k;
	if (d->ncls == LR_CLF_MAX_CLASSES)
		ctl_die(EX_INVALID, "more than %d intents", LR_CLF_MAX_CLASSES);
	d->names[d->ncls] = strdup(name);
	return d->ncls++;
}

static void read_examples(const char *path, uint32_t dim, dataset *d)
{
	size_t len;
	char *text = ctl_read_file(path, &len), *line, *save = NULL;
	int lineno = 0, marked = 0, i;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *o = cJSON_Parse(line), *t, *in, *sp;
		lineno++;
		if (!o && strspn(line, " \t\r") == strlen(line))
			continue;
		t = cJSON_GetObjectItemCaseSensitive(o, "text");
		in = cJSON_GetObjectItemCaseSensitive(o, "intent");
		sp = cJSON_GetObjectItemCaseSensitive(o, "split");
		if (!cJSON_IsString(t) || !cJSON_IsString(in) || !*in->valuestring)
			ctl_die(EX_INVALID, "%s:%d: want {\"text\": STRING, \"intent\": STRING}", path, lineno);
		if (strlen(in->valuestring) > 64 ||
		    strspn(in->valuestring, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") !=
			    strlen(in->valuestring))
			ctl_die(EX_INVALID, "%s:%d: an intent name is 1-64 of A-Z a-z 0-9 _ . : -", path, lineno);
		if (d->n == d->cap) {
			d->cap = d->cap ? 2 * d->cap : 256;
			if (!(d->ex = realloc(d->ex, (size_t)d->cap * sizeof(example))))
				ctl_die(EX_SYSTEM, "out of memory");
		}
		if (!(d->ex[d->n].v = malloc(sizeof(lr_clf_vec))))
			ctl_die(EX_SYSTEM, "out of memory");
		lr_clf_features(t->valuestring, strlen(t->valuestring), dim, d->ex[d->n].v);
		d->ex[d->n].cls = class_of(d, in->valuestring);
		d->ex[d->n].test = cJSON_IsString(sp) && !strcmp(sp->valuestring, "test");
		marked |= d->ex[d->n].test;
		d->n++;
		cJSON_Delete(o);
	}
	if (!marked)
		for (i = 0; i < d->n; i++)
			d->ex[i].test = i % 5 == 4;
	if (d->n < 2 || d->ncls < 2)
		ctl_die(EX_INVALID, "%s: need examples of at least two intents", path);
	free(text);
}

/* SGD on the softmax loss with L2, over the training examples in a fixed
 * pseudo-random order per epoch. */
static void fit(const dataset *d, uint32_t dim, int epochs, float *w, float *b)
{
	int k, e, i, K = d->ncls, *order = malloc(sizeof(int) * (size_t)d->n), n = 0;
	double s[LR_CLF_MAX_CLASSES], prob[LR_CLF_MAX_CLASSES], lr;
	uint64_t seed = 42;
	uint32_t j;

	if (!order)
		ctl_die(EX_SYSTEM, "out of memory");
	for (i = 0; i < d->n; i++)
		if (!d->ex[i].test)
			order[n++] = i;
	for (e = 0; e < epochs; e++) {
		lr = 0.5 / (1 + 0.2 * e);
		for (i = n - 1; i > 0; i--) { /* Fisher-Yates with a fixed LCG */
			int r, tmp;
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			r = (int)((seed >> 33) % (uint64_t)(i + 1));
			tmp = order[i];
			order[i] = order[r];
			order[r] = tmp;
		}
		for (i = 0; i < n; i++) {
			const example *x = &d->ex[order[i]];
			lr_clf_predict(x->v, w, b, (uint32_t)K, prob);
			for (k = 0; k < K; k++)
				s[k] = prob[k] - (k == x->cls); /* gradient of the loss by the score */
			for (k = 0; k < K; k++)
				b[k] -= (float)(lr * s[k]);
			for (j = 0; j < x->v->n; j++) {
				float *row = w + (size_t)x->v->idx[j] * (size_t)K;
				for (k = 0; k < K; k++)
					row[k] -= (float)(lr * (s[k] * x->v->val[j] + 1e-6 * row[k]));
			}
		}
	}
	free(order);
}

static double evaluate(const dataset *d, uint32_t dim, const float *w, const float *b, int *nt)
{
	int right[LR_CLF_MAX_CLASSES] = {0}, total[LR_CLF_MAX_CLASSES] = {0}, ok = 0, k, i;
	double prob[LR_CLF_MAX_CLASSES];

	(void)dim;
	*nt = 0;
	for (i = 0; i < d->n; i++) {
		if (!d->ex[i].test)
			continue;
		k = lr_clf_predict(d->ex[i].v, w, b, (uint32_t)d->ncls, prob);
		total[d->ex[i].cls]++;
		right[d->ex[i].cls] += k == d->ex[i].cls;
		ok += k == d->ex[i].cls;
		(*nt)++;
	}
	for (k = 0; k < d->ncls; k++)
		printf("  %-24s %3d of %3d held-out examples right\n", d->names[k], right[k], total[k]);
	return *nt ? (double)ok / *nt : 0;
}

static void write_model(const char *path, const dataset *d, uint32_t dim, const float *w, const float *b)
{
	size_t nbytes = (size_t)dim * (size_t)d->ncls * sizeof(float);
	char *b64 = malloc(4 * (nbytes / 3 + 2) + 1), *out;
	cJSON *m = cJSON_CreateObject(), *cls = cJSON_CreateArray(), *bias = cJSON_CreateArray();
	FILE *f;
	int k;

	if (!b64 || !m)
		ctl_die(EX_SYSTEM, "out of memory");
	lr_b64_encode(w, nbytes, b64);
	for (k = 0; k < d->ncls; k++) {
		cJSON_AddItemToArray(cls, cJSON_CreateString(d->names[k]));
		cJSON_AddItemToArray(bias, cJSON_CreateNumber(b[k]));
	}
	cJSON_AddStringToObject(m, "format", "llmroute-intents");
	cJSON_AddNumberToObject(m, "version", 1);
	cJSON_AddNumberToObject(m, "dim", dim);
	cJSON_AddItemToObject(m, "classes", cls);
	cJSON_AddItemToObject(m, "bias", bias);
	cJSON_AddStringToObject(m, "weights", b64);
	out = cJSON_PrintUnformatted(m);
	if (!out || !(f = fopen(path, "w")) || fputs(out, f) < 0 || fclose(f) != 0)
		ctl_die(EX_SYSTEM, "cannot write %s", path);
	free(out);
	free(b64);
	cJSON_Delete(m);
}

int ctl_train(int argc, char **argv)
{
	const char *in = NULL, *out = NULL;
	char defout[PATH_MAX], abs[PATH_MAX];
	uint32_t dim = 16384;
	int epochs = 30, publish = 1, i, nt;
	dataset d = {0};
	float *w, b[LR_CLF_MAX_CLASSES] = {0};
	double acc;
	lr_shm sh;
	cJSON *root;

	for (i = 1; i < argc; i++) {
		if (ctl_is_help(argv[i])) {
			fputs(train_usage, stdout);
			return EX_DONE;
		} else if (!strcmp(argv[i], "--no-publish")) {
			publish = 0;
		} else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			out = argv[++i];
		} else if (!strcmp(argv[i], "--dim") && i + 1 < argc) {
			dim = (uint32_t)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) {
			epochs = atoi(argv[++i]);
		} else if (argv[i][0] != '-' && !in) {
			in = argv[i];
		} else {
			fputs(train_usage, stderr);
			return EX_USAGE;
		}
	}
	if (!in || dim < 256 || dim > (1u << 20) || (dim & (dim - 1)) || epochs < 1 || epochs > 1000) {
		fputs(train_usage, stderr);
		return EX_USAGE;
	}
	if (!out) {
		snprintf(defout, sizeof(defout), "%.*s.model.json",
			 (int)(strlen(in) > 6 && !strcmp(in + strlen(in) - 6, ".jsonl") ? strlen(in) - 6 : strlen(in)), in);
		out = defout;
	}
	read_examples(in, dim, &d);
	if (!(w = calloc((size_t)dim * (size_t)d.ncls, sizeof(float))))
		ctl_die(EX_SYSTEM, "out of memory");
	fit(&d, dim, epochs, w, b);
	printf("trained on %d examples of %d intents (%u hashed features, %d epochs)\n", d.n, d.ncls, dim, epochs);
	acc = evaluate(&d, dim, w, b, &nt);
	printf("held-out accuracy: %.3f (%d examples)\n", acc, nt);
	write_model(out, &d, dim, w, b);
	printf("model written to %s\n", out);
	if (publish) {
		if (!realpath(out, abs))
			ctl_die(EX_SYSTEM, "cannot resolve %s", out);
		ctl_open_writer(&sh, 0);
		root = ctl_live_rules(&sh);
		cJSON_DeleteItemFromObjectCaseSensitive(root, "classifier");
		cJSON_AddStringToObject(root, "classifier", abs);
		ctl_commit(&sh, root, "classifier");
		cJSON_Delete(root);
		lr_shm_close(&sh);
	}
	for (i = 0; i < d.n; i++)
		free(d.ex[i].v);
	for (i = 0; i < d.ncls; i++)
		free(d.names[i]);
	free(d.ex);
	free(w);
	return EX_DONE;
}
