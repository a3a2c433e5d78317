/*
 * test_route_index.c - the route index (router/lr_route_index.c) gives the
 * decision of the full scan: randomized tables of literal and glob models
 * and hosts (hosts in mixed case), process, operation and numeric
 * conditions, disabled and deny routes, routes with no condition, tried on
 * random requests whose model and host are taken from the tables' own keys
 * (so routes do match), and on absent ones; lr_decide must equal
 * lr_decide_scan every time.  Also: lr_table_validate refuses an index
 * pointing outside the table or out of order, and a 10,000-route compiled
 * table picks its last route.
 */
#include "lr_error.h"
#include "lr_match.h"
#include "lr_route_index.h"
#include "lr_rules.h"
#include "lr_table.h"
#include "lr_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t seed = 19;

static unsigned rnd(unsigned n)
{
	seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((seed >> 33) % n);
}

/* Keys from a small set, so requests and routes meet often. */
static const char *const models[] = {"gpt-4o", "gpt-4o-mini", "m1", "m2", "M1", "", "claude"};
static const char *const hosts[] = {"api.openai.com", "API.OpenAI.com", "h1.example", "H1.EXAMPLE",
				    "h2.example", "localhost"};
static const char *const globs[] = {"*", "gpt-*", "m?", "[mM]1", "h1.*", "*.example", "a\\pi*"};
static const char *const others[] = {"chat", "embeddings", "curl", "python3"};

static void add_cond(lr_table_builder *b, int field, const char *s)
{
	lr_cond c = {.field = (uint16_t)field, .op = LR_OP_GLOB};

	c.str = lr_table_builder_str(b, s);
	lr_table_builder_cond(b, &c);
}

static const char *pick_key(int field)
{
	if (rnd(4) == 0)
		return globs[rnd(sizeof(globs) / sizeof(*globs))];
	return field == LR_F_MODEL ? models[rnd(sizeof(models) / sizeof(*models))]
				   : hosts[rnd(sizeof(hosts) / sizeof(*hosts))];
}

/* A route of 0 to 4 conditions, in a random order of fields. */
static void add_route(lr_table_builder *b, int i)
{
	char name[32];
	lr_route r = {0};
	int k, n = (int)rnd(5);

	snprintf(name, sizeof(name), "r%d", i);
	r.name = lr_table_builder_str(b, name);
	r.flags = rnd(8) ? LR_ROUTE_ENABLED : 0;
	r.flags |= rnd(5) ? 0 : LR_ROUTE_DENY;
	r.budget_target = -1;
	if (rnd(2))
		r.set_model = lr_table_builder_str(b, "x");
	lr_table_builder_route(b, &r);
	for (k = 0; k < n; k++) {
		unsigned what = rnd(6);
		if (what < 2) {
			add_cond(b, LR_F_MODEL, pick_key(LR_F_MODEL));
		} else if (what < 4) {
			add_cond(b, LR_F_HOST, pick_key(LR_F_HOST));
		} else if (what == 4) {
			add_cond(b, rnd(2) ? LR_F_OPERATION : LR_F_PROCESS, others[rnd(4)]);
		} else {
			lr_cond c = {.field = LR_F_MAX_TOKENS, .op = LR_OP_GT, .num = (double)rnd(3) * 100};
			lr_table_builder_cond(b, &c);
		}
	}
}

static lr_table *random_table(int nroutes, size_t *len)
{
	lr_table_builder *b = lr_table_builder_new();
	void *blob = NULL;
	int i;

	for (i = 0; i < nroutes; i++)
		add_route(b, i);
	if (lr_table_builder_finish(b, &blob, len) < 0)
		blob = NULL;
	lr_table_builder_free(b);
	return blob;
}

static void set_str(lr_features *f, int field, const char *s)
{
	lr_features_set(f, field, s, s ? strlen(s) : 0);
}

static void random_request(lr_features *f)
{
	memset(f, 0, sizeof(*f));
	set_str(f, LR_F_MODEL, rnd(8) ? models[rnd(sizeof(models) / sizeof(*models))] : NULL);
	set_str(f, LR_F_HOST, rnd(8) ? hosts[rnd(sizeof(hosts) / sizeof(*hosts))] : NULL);
	set_str(f, LR_F_OPERATION, others[rnd(2)]);
	set_str(f, LR_F_PROCESS, others[2 + rnd(2)]);
	lr_features_num(f, LR_F_MAX_TOKENS, (double)rnd(4) * 100 - 1);
}

static int same(const lr_decision *a, const lr_decision *b)
{
	return a->action == b->action && a->index == b->index && a->route == b->route;
}

static void randomized(void)
{
	int round, q, bad = 0, indexed = 0, matched = 0;

	for (round = 0; round < 400; round++) {
		size_t len;
		lr_table *t = random_table(1 + (int)rnd(round < 300 ? 12 : 300), &len);
		if (!t) {
			CHECK(t != NULL);
			return;
		}
		CHECK_INT(lr_table_validate(t, len), 0);
		indexed += t->idx_nbuckets != 0;
		for (q = 0; q < 200; q++) {
			lr_features f;
			lr_decision a, b;
			random_request(&f);
			lr_decide(t, &f, &a);
			lr_decide_scan(t, &f, &b);
			bad += !same(&a, &b);
			matched += a.index >= 0;
		}
		free(t);
	}
	CHECK_INT(bad, 0);
	CHECK(indexed > 300);   /* most tables have a literal key somewhere */
	CHECK(matched > 20000); /* and requests do match routes */
}

/* The compiled 10,000-route table of the bench: only the last matches. */
static void big_table(void)
{
	size_t cap = 10000 * 120, n = 0, len;
	char *s = malloc(cap);
	void *blob = NULL;
	lr_rules_error e;
	lr_features f;
	lr_decision d;
	int i;

	n += (size_t)snprintf(s + n, cap - n, "{\"routes\":[");
	for (i = 0; i < 9999; i++)
		n += (size_t)snprintf(s + n, cap - n, "{\"name\":\"r%d\",\"match\":{\"model\":\"m%d\",\"host\":"
				      "\"h%d.example\"},\"set\":{\"model\":\"x\"}},", i, i, i);
	n += (size_t)snprintf(s + n, cap - n, "{\"name\":\"last\",\"match\":{\"model\":\"gpt-4o\",\"host\":"
			      "\"API.openai.com\"},\"set\":{\"model\":\"y\"}}]}");
	CHECK_INT(lr_rules_compile(s, n, &blob, &len, &e), 0);
	CHECK_INT(lr_table_validate(blob, len), 0);
	CHECK(((lr_table *)blob)->idx_nbuckets >= 16384);
	memset(&f, 0, sizeof(f));
	set_str(&f, LR_F_MODEL, "gpt-4o");
	set_str(&f, LR_F_HOST, "api.openai.com");
	lr_decide(blob, &f, &d);
	CHECK_INT(d.index, 9999);
	set_str(&f, LR_F_MODEL, "m77");
	lr_decide(blob, &f, &d);
	CHECK_INT(d.index, -1); /* m77's route wants h77.example */
	set_str(&f, LR_F_HOST, "H77.example");
	lr_decide(blob, &f, &d);
	CHECK_INT(d.index, 77);
	free(blob);
	free(s);
}

/* A damaged index is refused before anything reads it. */
static void corrupt(void)
{
	size_t len;
	lr_table *t;
	uint32_t *idx, nb, saved;

	seed = 7;
	do
		t = random_table(40, &len);
	while (t && !t->idx_nbuckets && (free(t), 1));
	if (!t) {
		CHECK(t != NULL);
		return;
	}
	nb = t->idx_nbuckets;
	idx = (uint32_t *)((char *)t + t->idx_off);
	CHECK_INT(lr_table_validate(t, len), 0);
	saved = idx[nb + 2];
	idx[nb + 2] = 40; /* a route that is not there */
	CHECK_INT(lr_table_validate(t, len), LR_ECORRUPT);
	idx[nb + 2] = saved;
	saved = idx[1];
	idx[1] = 41; /* a bucket running past the entries */
	CHECK_INT(lr_table_validate(t, len), LR_ECORRUPT);
	idx[1] = saved;
	t->idx_nbuckets = nb * 4; /* the section runs past the blob */
	CHECK_INT(lr_table_validate(t, len), LR_ECORRUPT);
	t->idx_nbuckets = 3; /* not a power of two */
	CHECK_INT(lr_table_validate(t, len), LR_ECORRUPT);
	t->idx_nbuckets = nb;
	t->idx_off = 4; /* misaligned */
	CHECK_INT(lr_table_validate(t, len), LR_ECORRUPT);
	free(t);
}

int main(void)
{
	randomized();
	big_table();
	corrupt();
	return lr_test_done("test_route_index");
}
