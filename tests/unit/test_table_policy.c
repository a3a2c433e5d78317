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
	" \"routes\": [{\"name\": \"r\", \"pool\": {\"targets\": [\"t\"]}, \"budget\": {\"usd_per_day\": 1, \"fallback\": \"t\"},"
	"  \"fallbacks\": [\"t\", \"original\"], \"escalate\": {\"when\": [\"length\"], \"to\": [\"t\"]},"
	"  \"cache\": {\"ttl_s\": 60}}]}";

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

	/* the resilience chain: fallbacks t, original; escalation t */
	t = fresh(&len);
	r = (lr_route *)((char *)t + t->routes_off);
	CHECK_INT(t->nchains, 3);
	CHECK_INT(r->fallback_count, 2);
	CHECK_INT(r->escalate_count, 1);
	CHECK_INT(lr_table_chains(t)[1].target, LR_TARGET_ORIGINAL);
	CHECK_INT(t->health_failures, 3); /* the defaults */
	CHECK_INT(t->health_cooldown_s, 30);
	((lr_chain_rec *)((char *)t + t->chains_off))[2].target = 9; /* no such target */
	CHECK_INT(lr_table_validate(t, len), LR_ECORRUPT);
	((lr_chain_rec *)((char *)t + t->chains_off))[2].target = 0;
	CHECK_INT(lr_table_validate(t, len), 0);
	r->escalate_count = 2; /* past the chain array */
	CHECK_INT(lr_table_validate(t, len), LR_ECORRUPT);
	r->escalate_count = 1;
	r->chain_first = 2; /* 3 records from 2: past the end */
	CHECK_INT(lr_table_validate(t, len), LR_ECORRUPT);
	r->chain_first = 0;
	r->cache_max_temperature = NAN;
	CHECK_INT(lr_table_validate(t, len), LR_ECORRUPT);
	r->cache_max_temperature = -1;
	t->nchains = 1u << 30; /* the section past the blob */
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
