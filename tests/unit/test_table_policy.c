/*
 * test_table_policy.c - lr_table_validate refuses policy sections a
 * corrupt or foreign shared segment could carry: intents whose term ranges
 * overlap (the shim's keyword index writes one entry per term), NaN
 * weights, qualities and route numbers, a budget target out of range, and
 * it keeps accepting the table the compiler made.
 */
#include "lr_error.h"
#include "lr_rules.h"
#include "lr_table.h"
#include "lr_test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char rules[] =
	"{\"intents\": [{\"name\": \"a\", \"keywords\": [\"x\", \"y\"]}, {\"name\": \"b\", \"keywords\": [\"z\"]}],"
	" \"targets\": {\"t\": {\"model\": \"m\", \"quality\": {\"a\": 0.5}}},"
	" \"routes\": [{\"name\": \"r\", \"pool\": {\"targets\": [\"t\"]}, \"budget\": {\"usd_per_day\": 1, \"fallback\": \"t\"}}]}";

static lr_table *fresh(size_t *len)
{
	void *blob = NULL;
	lr_rules_error e;

	if (lr_rules_compile(rules, strlen(rules), &blob, len, &e) < 0) {
		fprintf(stderr, "rules: %s %s\n", e.path, e.msg);
		return NULL;
	}
	return blob;
}

int main(void)
{
	size_t len;
	lr_table *t = fresh(&len);
	lr_intent_rec *in;
	lr_route *r;

	CHECK(t != NULL);
	if (!t)
		return lr_test_done("test_table_policy");
	CHECK_INT(lr_table_validate(t, len), 0);

	in = (lr_intent_rec *)((char *)t + t->intents_off);
	in[1].term_first = 0; /* b claims a's terms too */
	CHECK_INT(lr_table_validate(t, len), LR_ECORRUPT);
	free(t);

	t = fresh(&len);
	((lr_quality_rec *)((char *)t + t->qualities_off))[0].value = NAN;
	CHECK_INT(lr_table_validate(t, len), LR_ECORRUPT);
	free(t);

	t = fresh(&len);
	r = (lr_route *)((char *)t + t->routes_off);
	r->budget_target = 7;
	CHECK_INT(lr_table_validate(t, len), LR_ECORRUPT);
	r->budget_target = 0;
	r->w_cost = INFINITY;
	CHECK_INT(lr_table_validate(t, len), LR_ECORRUPT);
	r->w_cost = 1;
	r->pool_count = 5;
	CHECK_INT(lr_table_validate(t, len), LR_ECORRUPT);
	free(t);

	t = fresh(&len);
	((lr_pool_rec *)((char *)t + t->pools_off))[0].target = 3;
	CHECK_INT(lr_table_validate(t, len), LR_ECORRUPT);
	free(t);
	{ /* a classifier with a NaN weight */
		static const char *const names[] = {"a", "b"};
		float w[256 * 2] = {0}, bias[2] = {0};
		lr_table_builder *b = lr_table_builder_new();
		void *blob = NULL;
		size_t blen = 0;
		CHECK(lr_table_builder_classifier(b, 256, 2, names, w, bias) == 0);
		CHECK(lr_table_builder_finish(b, &blob, &blen) == 0);
		CHECK_INT(lr_table_validate(blob, blen), 0);
		((float *)((char *)blob + ((lr_table *)blob)->clf_weights_off))[77] = NAN;
		CHECK_INT(lr_table_validate(blob, blen), LR_ECORRUPT);
		free(blob);
		lr_table_builder_free(b);
	}
	return lr_test_done("test_table_policy");
}
