/*
 * test_calib.c - the learned classifier's calibration and training aids:
 * temperature scaling, calibration error, the threshold for a precision
 * (lr_calib.h), the split by phrasing (lr_phrasing.h), character 3-grams
 * (lr_classify.h), and a route's "when_unsure" in lr_decide.
 */
#include "lr_calib.h"
#include "lr_classify.h"
#include "lr_error.h"
#include "lr_match.h"
#include "lr_phrasing.h"
#include "lr_table.h"
#include "lr_test.h"

#include <math.h>
#include <stdlib.h>

/* 100 two-class rows, all saying 0.99 for class 0, right 70 times: an
 * over-confident model.  Fitting must soften it (T > 1) to about 0.7. */
static void test_temperature(void)
{
	double logp[200], conf[100];
	int label[100], right[100], i;
	double t, before, after;

	for (i = 0; i < 100; i++) {
		logp[2 * i] = log(0.99);
		logp[2 * i + 1] = log(0.01);
		label[i] = i < 70 ? 0 : 1;
	}
	for (i = 0; i < 100; i++)
		right[i] = lr_calib_top(logp + 2 * i, 2, 1, &conf[i]) == label[i];
	before = lr_calib_ece(conf, right, 100, 10);
	t = lr_calib_fit(logp, label, 100, 2);
	CHECK(t > 1);
	for (i = 0; i < 100; i++)
		lr_calib_top(logp + 2 * i, 2, t, &conf[i]);
	after = lr_calib_ece(conf, right, 100, 10);
	CHECK(fabs(before - 0.29) < 0.01);
	CHECK(after < 0.02);
	CHECK(fabs(conf[0] - 0.7) < 0.02);
	CHECK(lr_calib_nll(logp, label, 100, 2, t) < lr_calib_nll(logp, label, 100, 2, 1));
	CHECK(lr_calib_fit(logp, label, 0, 2) == 1);
}

static void test_threshold(void)
{
	/* confidences 0.0 .. 0.9: wrong below 0.5, right from 0.5 */
	double conf[10] = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
	int right[10] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1}, routed, ok;

	lr_calib_at(conf, right, 10, 0.5, &routed, &ok);
	CHECK_INT(routed, 5);
	CHECK_INT(ok, 5);
	CHECK(fabs(lr_calib_threshold(conf, right, 10, 1.0) - 0.41) < 1e-9);
	/* 0.8 precision allows one wrong among five routed: from 0.31 */
	CHECK(fabs(lr_calib_threshold(conf, right, 10, 0.8) - 0.31) < 1e-9);
	right[9] = 0; /* the most confident is wrong: nothing reaches 1.0 */
	CHECK(lr_calib_threshold(conf, right, 10, 1.0) < 0);
}

/* Two phrasings of each of two intents, crossed with five subjects: a
 * subject is in two lines (rare), a phrasing in five (common).  Lines of
 * one phrasing are held out together, never split. */
static void test_phrasing(void)
{
	static const char *const subj[] = {"entropy", "osmosis", "a monad", "the hash table", "GDP"};
	static const char *const tpl[][2] = {{"Define ", "."}, {"What does ", " mean?"},
					     {"Translate ", " to French"}, {"Please render ", ", in Dutch"}};
	char buf[20][64];
	const char *texts[20];
	int label[20], held[20], i, j, n = 0, g;
	uint64_t group[20];

	for (i = 0; i < 4; i++)
		for (j = 0; j < 5; j++) {
			snprintf(buf[n], sizeof(buf[n]), "%s%s%s", tpl[i][0], subj[j], tpl[i][1]);
			texts[n] = buf[n];
			label[n++] = i / 2;
		}
	g = lr_phrasing_split(texts, label, n, 2, held, group);
	CHECK_INT(g, 2); /* the second phrasing of each intent */
	for (i = 0; i < n; i += 5)
		for (j = 1; j < 5; j++) {
			CHECK(group[i] == group[i + j]); /* one phrasing, any subject */
			CHECK(held[i] == held[i + j]);
		}
	CHECK(group[0] != group[5] && group[10] != group[15]);
	CHECK(held[0] != held[5] && held[10] != held[15]);
	CHECK_INT(lr_phrasing_split(texts, label, n, 1, held, NULL), LR_EINVAL);
}

/* A typo shares most of its 3-grams with the word: with chars on, the
 * two texts' vectors are close; with words alone they share nothing. */
static double cosine(const char *a, const char *b, uint32_t flags)
{
	static lr_clf_vec va, vb;
	lr_clf_text ta = {a, NULL, strlen(a), 0}, tb = {b, NULL, strlen(b), 0};
	double dot = 0;
	uint32_t i, j;

	lr_clf_features_in(&ta, 16384, flags, &va);
	lr_clf_features_in(&tb, 16384, flags, &vb);
	for (i = 0; i < va.n; i++)
		for (j = 0; j < vb.n; j++)
			if (va.idx[i] == vb.idx[j])
				dot += (double)va.val[i] * vb.val[j];
	return dot;
}

static void test_chars(void)
{
	lr_clf_text sys = {"hello", "define things", 5, 13};
	static lr_clf_vec v0, v1;

	CHECK(cosine("summarize", "summarise", 0) < 1e-9);
	CHECK(cosine("summarize", "summarise", LR_CLF_CHARS) > 0.2); /* the words differ, 6 of 9 3-grams do not */
	CHECK(cosine("summarize", "translate", LR_CLF_CHARS) < 0.05);
	/* the system prompt counts only when the model asks for it */
	lr_clf_features_in(&sys, 16384, 0, &v0);
	lr_clf_features_in(&sys, 16384, LR_CLF_SYSTEM, &v1);
	CHECK_INT(v0.n, 1);
	CHECK_INT(v1.n, 4);
}

/* "small" takes define at confidence 0.8; below it, "strong" (named by
 * when_unsure) takes the request whatever its own match says. */
static void test_unsure(void)
{
	lr_table_builder *b = lr_table_builder_new();
	lr_route r = {0};
	lr_cond c = {0};
	lr_features f = {0};
	lr_decision d;
	void *blob;
	size_t len;

	r.flags = LR_ROUTE_ENABLED;
	r.budget_target = -1;
	r.name = lr_table_builder_str(b, "small");
	r.set_model = lr_table_builder_str(b, "mini");
	CHECK(lr_table_builder_route(b, &r) == 0);
	c.field = LR_F_INTENT;
	c.op = LR_OP_GLOB;
	c.str = lr_table_builder_str(b, "define");
	CHECK(lr_table_builder_cond(b, &c) == 0);
	c.field = LR_F_INTENT_CONFIDENCE;
	c.op = LR_OP_GE;
	c.num = 0.8;
	CHECK(lr_table_builder_cond(b, &c) == 0);
	r.name = lr_table_builder_str(b, "strong");
	r.set_model = lr_table_builder_str(b, "big");
	CHECK(lr_table_builder_route(b, &r) == 0);
	c.field = LR_F_MODEL;
	c.op = LR_OP_GLOB;
	c.str = lr_table_builder_str(b, "never");
	CHECK(lr_table_builder_cond(b, &c) == 0);
	CHECK(lr_table_builder_route_unsure(b, 0, 0) == LR_EINVAL);
	CHECK(lr_table_builder_route_unsure(b, 0, 1) == 0);
	CHECK(lr_table_builder_finish(b, &blob, &len) == 0);
	CHECK(lr_table_validate(blob, len) == 0);
	lr_features_set(&f, LR_F_INTENT, "define", 6);
	lr_features_num(&f, LR_F_INTENT_CONFIDENCE, 0.9);
	lr_decide(blob, &f, &d);
	CHECK(d.index == 0 && d.uncertain == -1);
	lr_features_num(&f, LR_F_INTENT_CONFIDENCE, 0.6);
	lr_decide(blob, &f, &d);
	CHECK(d.index == 1 && d.uncertain == 0 && d.action == LR_ACTION_ROUTE);
	lr_features_set(&f, LR_F_INTENT, "code", 4); /* another intent: not unsure, no match */
	lr_decide(blob, &f, &d);
	CHECK(d.index == -1 && d.uncertain == -1);
	((lr_route *)lr_table_routes(blob))[0].unsure_route = 9; /* out of range */
	CHECK(lr_table_validate(blob, len) == LR_ECORRUPT);
	free(blob);
	lr_table_builder_free(b);
}

int main(void)
{
	test_temperature();
	test_threshold();
	test_phrasing();
	test_chars();
	test_unsure();
	return lr_test_done("test_calib");
}
