/*
 * lr_catalog.c - LiteLLM's price catalogue format (see lr_catalog.h).
 *
 * One pass over the file with the allocation-free scanner: each member of
 * the top-level object is one model, checked and converted as it comes;
 * the entries are then sorted once, which also finds a model named twice.
 * Memory is the entries array (grown to at most LR_CATALOG_MAX_MODELS) and
 * one copy of each model name kept.
 */
#include "lr_catalog.h"
#include "lr_error.h"
#include "lr_json.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME_MAX_LEN 255
#define MAX_COST 1.0    /* USD per token: nothing costs a dollar a token */
#define MAX_WINDOW 1e10 /* tokens */

/* The fields read; the rest are ignored. */
enum { F_IN, F_OUT, F_READ, F_WRITE, F_MAX_IN, F_MAX, NFIELDS };
static const struct {
	const char *key;
	double max;
} fields[NFIELDS] = {
	{"input_cost_per_token", MAX_COST},
	{"output_cost_per_token", MAX_COST},
	{"cache_read_input_token_cost", MAX_COST},
	{"cache_creation_input_token_cost", MAX_COST},
	{"max_input_tokens", MAX_WINDOW},
	{"max_tokens", MAX_WINDOW},
};

typedef struct {
	const char *text;
	size_t len;
	lr_catalog *c;
	size_t cap_v;
	char *err;
	size_t err_cap;
	char model[NAME_MAX_LEN + 1];
} ctx;

static int say(ctx *x, int code, const char *at, const char *fmt, ...)
{
	va_list ap;
	int line = 0, col = 0, n = 0;

	if (at) {
		lr_json_linecol(x->text, x->len, (size_t)(at - x->text), &line, &col);
		n = snprintf(x->err, x->err_cap, "line %d: ", line);
	}
	if (n < 0 || (size_t)n >= x->err_cap)
		return code;
	va_start(ap, fmt);
	vsnprintf(x->err + n, x->err_cap - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

/* 1 if the decoded name is usable as a model: 1-255 bytes, no control byte. */
static int name_ok(const char *s, int n)
{
	int i;

	if (n <= 0 || n > NAME_MAX_LEN || strlen(s) != (size_t)n)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* One known field: *out set, or left < 0 when null.  Returns 0 or LR_EINVAL. */
static int read_field(ctx *x, int f, lr_span v, double *out)
{
	double d;

	if (lr_json_is_null(v))
		return 0;
	if (lr_json_num(v, &d) < 0)
		return say(x, LR_EINVAL, v.p, "model \"%s\": %s is not a number", x->model, fields[f].key);
	if (!isfinite(d) || d < 0 || d > fields[f].max)
		return say(x, LR_EINVAL, v.p, "model \"%s\": %s is %s (0 to %g)", x->model, fields[f].key,
			   d < 0 ? "negative" : "out of range", fields[f].max);
	*out = d;
	return 0;
}

/* The entry of one model.  Returns 0 (filled), 1 (no token price: skipped)
 * or LR_EINVAL / LR_EPARSE. */
static int read_entry(ctx *x, lr_span obj, lr_catalog_entry *e)
{
	double val[NFIELDS] = {-1, -1, -1, -1, -1, -1};
	lr_json_iter it;
	lr_span k, v;
	int f, rc;

	if (lr_json_type_of(obj) != LR_JSON_OBJECT)
		return say(x, LR_EINVAL, obj.p, "model \"%s\": not an object", x->model);
	lr_json_iter_init(&it, obj.p, obj.len, 0);
	while ((rc = lr_json_obj_next(&it, &k, &v)) > 0)
		for (f = 0; f < NFIELDS; f++)
			if (lr_json_str_eq(k, fields[f].key) && (rc = read_field(x, f, v, &val[f])) < 0)
				return rc;
	if (rc < 0)
		return say(x, LR_EPARSE, obj.p, "model \"%s\": malformed JSON", x->model);
	if (val[F_IN] < 0)
		return 1;
	e->price.input_per_mtok = val[F_IN] * 1e6;
	e->price.output_per_mtok = val[F_OUT] >= 0 ? val[F_OUT] * 1e6 : 0;
	e->price.cache_read_per_mtok = val[F_READ] >= 0 ? val[F_READ] * 1e6 : -1;
	e->price.cache_write_per_mtok = val[F_WRITE] >= 0 ? val[F_WRITE] * 1e6 : -1;
	e->context_window = val[F_MAX_IN] >= 0 ? val[F_MAX_IN] : val[F_MAX] >= 0 ? val[F_MAX] : 0;
	return 0;
}

static int add(ctx *x, const lr_catalog_entry *e)
{
	lr_catalog *c = x->c;
	lr_catalog_entry *nv;
	size_t ncap;

	if (c->n == x->cap_v) {
		ncap = x->cap_v ? x->cap_v * 2 : 256;
		if (!(nv = realloc(c->v, ncap * sizeof(*nv))))
			return LR_ENOMEM;
		c->v = nv;
		x->cap_v = ncap;
	}
	c->v[c->n] = *e;
	if (!(c->v[c->n].model = strdup(x->model)))
		return LR_ENOMEM;
	c->n++;
	return 0;
}

/* One member of the top-level object. */
static int member(ctx *x, lr_span k, lr_span v)
{
	lr_catalog_entry e;
	int n = lr_json_str_decode(k, x->model, sizeof(x->model)), rc;

	if (n == LR_ETOOBIG)
		return say(x, LR_EINVAL, k.p, "a model name is longer than %d bytes", NAME_MAX_LEN);
	if (!name_ok(x->model, n))
		return say(x, LR_EINVAL, k.p, "a model name is empty or has control characters");
	if (strcmp(x->model, "sample_spec") == 0) {
		x->c->skipped++;
		return 0;
	}
	if (x->c->n + x->c->skipped >= LR_CATALOG_MAX_MODELS)
		return say(x, LR_ETOOBIG, k.p, "more than %u models", LR_CATALOG_MAX_MODELS);
	memset(&e, 0, sizeof(e));
	if ((rc = read_entry(x, v, &e)) < 0)
		return rc;
	if (rc == 1) {
		x->c->skipped++;
		return 0;
	}
	return add(x, &e);
}

static int by_model(const void *a, const void *b)
{
	return strcmp(((const lr_catalog_entry *)a)->model, ((const lr_catalog_entry *)b)->model);
}

int lr_catalog_parse(const char *text, size_t len, lr_catalog *c, char *err, size_t cap)
{
	ctx x = {text, len, c, 0, err, cap, ""};
	lr_json_iter it;
	lr_span k, v;
	size_t i, bad;
	int rc;

	memset(c, 0, sizeof(*c));
	if (cap)
		err[0] = '\0';
	if (len > LR_CATALOG_MAX_BYTES)
		return say(&x, LR_ETOOBIG, NULL, "larger than %u bytes", LR_CATALOG_MAX_BYTES);
	if (lr_json_text_utf8(text, len, &bad) < 0)
		return say(&x, LR_EPARSE, text + bad, "not UTF-8 text");
	if (lr_json_iter_init(&it, text, len, 0) < 0)
		return say(&x, LR_EPARSE, NULL, "not a JSON object of models");
	while ((rc = lr_json_obj_next(&it, &k, &v)) > 0)
		if ((rc = member(&x, k, v)) < 0)
			return rc;
	if (rc < 0 || (size_t)lr_json_skip_ws(text, len, it.pos) != len)
		return say(&x, rc == LR_ENOMEM ? LR_ENOMEM : LR_EPARSE, text + (it.pos < len ? it.pos : len),
			   "malformed JSON");
	if (c->n)
		qsort(c->v, c->n, sizeof(*c->v), by_model);
	for (i = 1; i < c->n; i++)
		if (strcmp(c->v[i - 1].model, c->v[i].model) == 0)
			return say(&x, LR_EINVAL, NULL, "model \"%s\" is listed twice", c->v[i].model);
	return 0;
}

int lr_catalog_load(const char *path, lr_catalog *c, char *err, size_t cap)
{
	int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC), rc = LR_EIO;
	struct stat st;
	char *buf = NULL;
	ssize_t got = 0;

	memset(c, 0, sizeof(*c));
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, cap, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, cap, "not a regular file");
		goto out;
	}
	if (st.st_size > (off_t)LR_CATALOG_MAX_BYTES) {
		snprintf(err, cap, "larger than %u bytes", LR_CATALOG_MAX_BYTES);
		rc = LR_ETOOBIG;
		goto out;
	}
	/* one byte more than the size: a file that grew is seen, not cut */
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		rc = LR_ENOMEM;
		goto out;
	}
	while ((size_t)got <= (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, cap, "%s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += n;
	}
	if ((size_t)got != (size_t)st.st_size) {
		snprintf(err, cap, "the file changed while it was read");
		goto out;
	}
	rc = lr_catalog_parse(buf, (size_t)got, c, err, cap);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

const lr_catalog_entry *lr_catalog_find(const lr_catalog *c, const char *model)
{
	lr_catalog_entry key;

	if (!c || !c->n || !model)
		return NULL;
	key.model = (char *)model;
	return bsearch(&key, c->v, c->n, sizeof(*c->v), by_model);
}

void lr_catalog_free(lr_catalog *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++)
		free(c->v[i].model);
	free(c->v);
	memset(c, 0, sizeof(*c));
}
