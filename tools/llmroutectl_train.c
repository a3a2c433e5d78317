/*
 * llmroutectl_train.c - `llmroutectl train`: learn intents from labelled
 * examples and publish the classifier with the live table.
 *
 * EXAMPLES.jsonl holds one {"text": ..., "intent": ..., "system": ...?,
 * "split": "test"?} per line.  The held-out examples are whole phrasings
 * (lr_phrasing.h), or with --split marked the lines marked "test".  The
 * model is multinomial logistic regression over hashed word unigrams and
 * bigrams, character 3-grams and the system prompt's words
 * (router/lr_classify.h, the very features the shim computes), fitted by
 * stochastic gradient descent with a fixed seed, so the same file always
 * gives the same model.  The report on the held-out examples
 * (llmroutectl_train_report.c) ends with the temperature that calibrates
 * the probabilities; the model is then fitted again on every example and
 * stored with that temperature.  Then the model file is
 * written and the live rules republished with "classifier" pointing at it.
 */
#include "llmroutectl.h"
#include "llmroutectl_train.h"
#include "lr_b64.h"
#include "lr_classify.h"
#include "lr_error.h"
#include "lr_phrasing.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char train_usage[] =
	"usage: llmroutectl train EXAMPLES.jsonl [--out MODEL] [--precision P] [--split phrasing|marked]\n"
	"                         [--features LIST] [--dim N] [--epochs N] [--no-publish]\n"
	"  learn intents from lines of {\"text\": ..., \"intent\": ..., \"system\": ...}; report on\n"
	"  held-out phrasings (--split marked: the lines with \"split\": \"test\") the accuracy\n"
	"  per intent, the confusion matrix, the calibration and a threshold table.\n"
	"  --precision: suggest the lowest intent_confidence whose routed requests are\n"
	"  right at least P of the time.  Writes MODEL (default: EXAMPLES with\n"
	"  .model.json) with its temperature, and publishes the live rules with\n"
	"  \"classifier\": MODEL.  --features: chars,system (the default) or words;\n"
	"  --dim: hashed features (power of two, default 16384); --epochs: passes\n"
	"  over the examples (default 30).\n";

typedef struct {
	const char *in, *out;
	uint32_t dim, flags;
	int epochs, publish, marked;
	double precision;
} train_opts;

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

/* One line into d, its features computed now (the text is kept for the
 * split by phrasing). */
static void add_example(dataset *d, const train_opts *o, cJSON *line, const char *where)
{
	cJSON *t = cJSON_GetObjectItemCaseSensitive(line, "text");
	cJSON *in = cJSON_GetObjectItemCaseSensitive(line, "intent");
	cJSON *sys = cJSON_GetObjectItemCaseSensitive(line, "system");
	cJSON *sp = cJSON_GetObjectItemCaseSensitive(line, "split");
	lr_clf_text txt = {0};
	example *x;

	if (!cJSON_IsString(t) || !cJSON_IsString(in) || !*in->valuestring || (sys && !cJSON_IsString(sys)))
		ctl_die(EX_INVALID, "%s: want {\"text\": STRING, \"intent\": STRING, \"system\": STRING?}", where);
	if (strlen(in->valuestring) > 64 ||
	    strspn(in->valuestring, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") !=
		    strlen(in->valuestring))
		ctl_die(EX_INVALID, "%s: an intent name is 1-64 of A-Z a-z 0-9 _ . : -", where);
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 256;
		if (!(d->ex = realloc(d->ex, (size_t)d->cap * sizeof(example))))
			ctl_die(EX_SYSTEM, "out of memory");
	}
	x = &d->ex[d->n];
	memset(x, 0, sizeof(*x));
	if (!(x->v = malloc(sizeof(lr_clf_vec))) || !(x->text = strdup(t->valuestring)))
		ctl_die(EX_SYSTEM, "out of memory");
	txt.user = t->valuestring;
	txt.user_len = strlen(t->valuestring);
	txt.system = sys ? sys->valuestring : NULL;
	txt.system_len = sys ? strlen(sys->valuestring) : 0;
	lr_clf_features_in(&txt, o->dim, o->flags, x->v);
	x->cls = class_of(d, in->valuestring);
	x->test = o->marked && cJSON_IsString(sp) && !strcmp(sp->valuestring, "test");
	d->n++;
}

static void read_examples(const train_opts *o, dataset *d)
{
	size_t len;
	char *text = ctl_read_file(o->in, &len), *line, *save = NULL, where[PATH_MAX + 32];
	int lineno = 0;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *obj = cJSON_Parse(line);
		lineno++;
		if (!obj && strspn(line, " \t\r") == strlen(line))
			continue;
		snprintf(where, sizeof(where), "%s:%d", o->in, lineno);
		add_example(d, o, obj, where);
		cJSON_Delete(obj);
	}
	if (d->n < 2 || d->ncls < 2)
		ctl_die(EX_INVALID, "%s: need examples of at least two intents", o->in);
	free(text);
}

/* Held out by phrasing: every fifth phrasing of each intent. */
static void split_by_phrasing(dataset *d)
{
	const char **texts = malloc(sizeof(char *) * (size_t)d->n);
	int *label = malloc(sizeof(int) * (size_t)d->n), *held = malloc(sizeof(int) * (size_t)d->n), i, g;
	uint64_t *group = malloc(sizeof(uint64_t) * (size_t)d->n);

	if (!texts || !label || !held || !group)
		ctl_die(EX_SYSTEM, "out of memory");
	for (i = 0; i < d->n; i++) {
		texts[i] = d->ex[i].text;
		label[i] = d->ex[i].cls;
	}
	if ((g = lr_phrasing_split(texts, label, d->n, 5, held, group)) < 0)
		ctl_die(EX_SYSTEM, "out of memory");
	for (i = 0; i < d->n; i++) {
		d->ex[i].test = held[i];
		d->ex[i].group = group[i];
	}
	printf("held out by phrasing: %d phrasings\n", g);
	free(texts);
	free(label);
	free(held);
	free(group);
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

static void write_model(const char *path, const dataset *d, const train_opts *o, const float *w,
			const float *b, double temp)
{
	size_t nbytes = (size_t)o->dim * (size_t)d->ncls * sizeof(float);
	char *b64 = malloc(4 * (nbytes / 3 + 2) + 1), *out;
	cJSON *m = cJSON_CreateObject(), *cls = cJSON_CreateArray(), *bias = cJSON_CreateArray();
	cJSON *feat = cJSON_CreateArray();
	FILE *f;
	int k;

	if (!b64 || !m || !cls || !bias || !feat)
		ctl_die(EX_SYSTEM, "out of memory");
	lr_b64_encode(w, nbytes, b64);
	for (k = 0; k < d->ncls; k++) {
		cJSON_AddItemToArray(cls, cJSON_CreateString(d->names[k]));
		cJSON_AddItemToArray(bias, cJSON_CreateNumber(b[k]));
	}
	if (o->flags & LR_CLF_CHARS)
		cJSON_AddItemToArray(feat, cJSON_CreateString("chars"));
	if (o->flags & LR_CLF_SYSTEM)
		cJSON_AddItemToArray(feat, cJSON_CreateString("system"));
	cJSON_AddStringToObject(m, "format", "llmroute-intents");
	cJSON_AddNumberToObject(m, "version", 2);
	cJSON_AddNumberToObject(m, "dim", o->dim);
	cJSON_AddItemToObject(m, "features", feat);
	cJSON_AddNumberToObject(m, "temperature", temp);
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

static uint32_t parse_features(const char *s)
{
	if (!strcmp(s, "words"))
		return 0;
	if (!strcmp(s, "chars,system") || !strcmp(s, "system,chars"))
		return LR_CLF_CHARS | LR_CLF_SYSTEM;
	if (!strcmp(s, "chars"))
		return LR_CLF_CHARS;
	if (!strcmp(s, "system"))
		return LR_CLF_SYSTEM;
	return ~0u;
}

/* Returns 0, -1 for --help, or EX_USAGE. */
static int parse_opts(int argc, char **argv, train_opts *o)
{
	int i;

	*o = (train_opts){NULL, NULL, 16384, LR_CLF_CHARS | LR_CLF_SYSTEM, 30, 1, 0, 0};
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (ctl_is_help(a))
			return -1;
		else if (!strcmp(a, "--no-publish"))
			o->publish = 0;
		else if (!strcmp(a, "--out") && v && ++i)
			o->out = v;
		else if (!strcmp(a, "--dim") && v && ++i)
			o->dim = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--epochs") && v && ++i)
			o->epochs = atoi(v);
		else if (!strcmp(a, "--precision") && v && ++i)
			o->precision = strtod(v, NULL);
		else if (!strcmp(a, "--features") && v && ++i)
			o->flags = parse_features(v);
		else if (!strcmp(a, "--split") && v && ++i && (!strcmp(v, "marked") || !strcmp(v, "phrasing")))
			o->marked = !strcmp(v, "marked");
		else if (a[0] != '-' && !o->in)
			o->in = a;
		else
			return EX_USAGE;
	}
	if (!o->in || o->dim < 256 || o->dim > (1u << 20) || (o->dim & (o->dim - 1)) || o->epochs < 1 ||
	    o->epochs > 1000 || o->flags == ~0u || !(o->precision >= 0 && o->precision <= 1))
		return EX_USAGE;
	return 0;
}

static void publish_model(const char *out)
{
	char abs[PATH_MAX];
	lr_shm sh;
	cJSON *root;

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

int ctl_train(int argc, char **argv)
{
	char defout[PATH_MAX];
	int i, nt, rc;
	train_opts o;
	dataset d = {0};
	float *w, b[LR_CLF_MAX_CLASSES] = {0};
	double acc, temp;

	if ((rc = parse_opts(argc, argv, &o)) != 0) {
		fputs(train_usage, rc == EX_USAGE ? stderr : stdout);
		return rc == EX_USAGE ? EX_USAGE : EX_DONE;
	}
	if (!o.out) {
		size_t n = strlen(o.in);
		snprintf(defout, sizeof(defout), "%.*s.model.json",
			 (int)(n > 6 && !strcmp(o.in + n - 6, ".jsonl") ? n - 6 : n), o.in);
		o.out = defout;
	}
	read_examples(&o, &d);
	if (!o.marked)
		split_by_phrasing(&d);
	else /* the report's two halves (cross-fitting): alternate lines */
		for (i = 0; i < d.n; i++)
			d.ex[i].group = (uint64_t)(i & 1) << 7;
	if (!(w = calloc((size_t)o.dim * (size_t)d.ncls, sizeof(float))))
		ctl_die(EX_SYSTEM, "out of memory");
	fit(&d, o.dim, o.epochs, w, b);
	printf("trained on %d examples of %d intents (%u hashed features, %d epochs)\n", d.n, d.ncls, o.dim,
	       o.epochs);
	temp = train_report(&d, w, b, o.precision, &acc, &nt);
	printf("held-out accuracy: %.3f (%d examples)\n", acc, nt);
	/* The figures are the held-out ones; the model shipped learns from
	 * every example (a phrasing held out is one users write too), with
	 * the temperature fitted above. */
	for (i = 0; i < d.n; i++)
		d.ex[i].test = 0;
	memset(w, 0, sizeof(float) * (size_t)o.dim * (size_t)d.ncls);
	memset(b, 0, sizeof(b));
	fit(&d, o.dim, o.epochs, w, b);
	printf("refitted on all %d examples\n", d.n);
	write_model(o.out, &d, &o, w, b, temp);
	printf("model written to %s\n", o.out);
	if (o.publish)
		publish_model(o.out);
	for (i = 0; i < d.n; i++) {
		free(d.ex[i].v);
		free(d.ex[i].text);
	}
	for (i = 0; i < d.ncls; i++)
		free(d.names[i]);
	free(d.ex);
	free(w);
	return EX_DONE;
}
