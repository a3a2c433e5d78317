/*
 * bench.c - micro-benchmarks of the routing engine (router/ only, no shim).
 *
 * Measures what the shim pays per request and what `llmroutectl` pays per
 * publish, each against the figure it has to stay under:
 *   1. generation check + first-match decision over 100 routes, only the
 *      last matching, on a table published in a real shared-memory segment
 *      (and the same with the rwlock lr_view_acquire/release take);
 *   2. compiling a 100-route rules file, and publishing the compiled table;
 *   3. detection + decision + URL plan + body rewrite, as the shim does it,
 *      for a 1 KB and a 1 MB chat body;
 *   4. detection of a URL that is not an LLM API call;
 *   7. translating a 1 KB request and its answer between API formats, and
 *      a stream per translated event (lr_xlate); the same answer and
 *      stream through the served path's sink (shim/lr_xsink.c: head
 *      rewrite, held answer or stream, hand-over to the served request's
 *      sink), the shim-side glue a translated socket or TLS request adds
 *      on the client's thread.
 *
 * Method: warm up, calibrate a batch size so one batch lasts at least a
 * given time (sub-microsecond work) or is a single call (everything else),
 * time many batches with CLOCK_MONOTONIC and report the median and p99 of
 * the per-call time over the batches.  Results feed a volatile sink and
 * the router functions live in other translation units, so the compiler
 * cannot drop the work.  Timing never fails the run: the exit status is 1
 * only when something is broken (a call fails, a decision or rewrite is
 * not the expected one, the segment cannot be created).  The segment is
 * /lrbench-PID, removed at exit.
 */
#include "lr_guard.h"
#include "lr_body.h"
#include "lr_choose.h"
#include "lr_intent.h"
#include "lr_classify.h"
#include "lr_audit.h"
#include "lr_detect.h"
#include "lr_price.h"
#include "lr_usage.h"
#include "lr_xlate.h"
#include "lr_xsink.h"
#include "lr_error.h"
#include "lr_match.h"
#include "lr_plan.h"
#include "lr_request.h"
#include "lr_rules.h"
#include "lr_shm.h"
#include "lr_table.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define NROUTES 100
#define LLM_URL "https://api.openai.com/v1/chat/completions"
#define ROUTED_URL "http://127.0.0.1:8080/v1/chat/completions"
#define OTHER_URL "https://example.com/api/v2/items?x=1"
#define PROCESS "bench"

static volatile uint64_t sink;
static char shm_name[64];

/* Keeps the compiler from caching memory across iterations. */
#define CLOBBER() __asm__ volatile("" ::: "memory")

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench: %s: %s\n", what, rc < 0 ? lr_strerror(rc) : "unexpected result");
	exit(1);
}

/* Opens the segment for writing (taking the writer lock) or exits. */
static void open_writer(lr_shm *w)
{
	const char *why = "";
	int rc = lr_shm_open_writer(shm_name, w, 0, &why);

	if (rc < 0) {
		fprintf(stderr, "bench: segment %s: %s (%s)\n", shm_name, lr_strerror(rc), why);
		exit(1);
	}
}

static void remove_segment(void)
{
	if (shm_name[0])
		shm_unlink(shm_name);
}

static void on_signal(int sig)
{
	remove_segment();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- measuring ---------------------------------------------------------- */

/* Does the work `n` times; records failures in its context, never exits. */
typedef void (*work_fn)(void *ctx, size_t n);

typedef struct {
	double median, p99; /* ns per call */
	size_t per_batch;
	int batches;
} result;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double time_batch(work_fn fn, void *ctx, size_t n)
{
	uint64_t t0 = now_ns();

	fn(ctx, n);
	return (double)(now_ns() - t0);
}

/* Batches of calls lasting >= min_batch_ns (1 call per batch if 0), after
 * warm_ns of warm-up. */
static result measure(work_fn fn, void *ctx, double min_batch_ns, int batches, double warm_ns)
{
	result r = {.per_batch = 1, .batches = batches};
	double *v = malloc(sizeof(double) * (size_t)batches);
	uint64_t end = now_ns() + (uint64_t)warm_ns;
	int i;

	if (!v)
		die("malloc", LR_ENOMEM);
	do
		fn(ctx, 1);
	while (now_ns() < end);
	while (min_batch_ns > 0 && r.per_batch < ((size_t)1 << 30) &&
	       time_batch(fn, ctx, r.per_batch) < min_batch_ns)
		r.per_batch *= 2;
	for (i = 0; i < batches; i++)
		v[i] = time_batch(fn, ctx, r.per_batch) / (double)r.per_batch;
	qsort(v, (size_t)batches, sizeof(double), cmp_double);
	r.median = batches % 2 ? v[batches / 2] : (v[batches / 2 - 1] + v[batches / 2]) / 2;
	r.p99 = v[(int)ceil(0.99 * batches) - 1];
	free(v);
	return r;
}

static const char *fmt_ns(double ns, char *buf, size_t cap)
{
	if (ns < 1e3)
		snprintf(buf, cap, "%.1f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, cap, "%.2f us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, cap, "%.3f ms", ns / 1e6);
	else
		snprintf(buf, cap, "%.3f s", ns / 1e9);
	return buf;
}

/* One line: what, median, p99, target (0 = none) and the verdict. */
static void report(const char *what, result r, double target_ns, const char *note)
{
	char m[32], p[32], t[32], per[48];

	snprintf(per, sizeof(per), "%zu x %d", r.per_batch, r.batches);
	printf("  %-50s median %10s  p99 %10s", what, fmt_ns(r.median, m, sizeof(m)),
	       fmt_ns(r.p99, p, sizeof(p)));
	if (target_ns > 0)
		printf("  target < %-8s %s", fmt_ns(target_ns, t, sizeof(t)),
		       r.median < target_ns ? "ok" : "OVER TARGET");
	else
		printf("  %-27s", note ? note : "");
	printf("  [%s]\n", per);
	fflush(stdout);
}

/* ---- fixtures ----------------------------------------------------------- */

/* 99 routes that the request fails, then one it matches. */
static char *make_rules(size_t *len)
{
	size_t cap = 64 + NROUTES * 160, n = 0;
	char *s = malloc(cap);
	int i;

	if (!s)
		die("malloc", LR_ENOMEM);
	n += (size_t)snprintf(s + n, cap - n, "{\"version\":1,\"routes\":[\n");
	for (i = 1; i < NROUTES; i++)
		n += (size_t)snprintf(s + n, cap - n,
			"{\"name\":\"r%d\",\"match\":{\"model\":\"m%d-*\",\"host\":\"h%d.example\"},"
			"\"set\":{\"model\":\"x\"}},\n", i, i, i);
	n += (size_t)snprintf(s + n, cap - n,
		"{\"name\":\"last\",\"match\":{\"model\":\"gpt-4o\",\"host\":\"api.openai.com\"},"
		"\"set\":{\"model\":\"gpt-4o-mini\",\"endpoint\":\"http://127.0.0.1:8080/v1\"}}\n]}\n");
	if (n >= cap)
		die("rules buffer too small", 0);
	*len = n;
	return s;
}

static void put(char *b, size_t *n, const char *s, size_t len)
{
	memcpy(b + *n, s, len);
	*n += len;
}

/* A chat body of exactly `size` bytes: a conversation of ~500-byte user
 * messages with escapes in them, "model" after "messages" as the OpenAI
 * Python SDK writes it. */
static char *make_body(size_t size)
{
	static const char head[] = "{\"messages\":[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"}";
	static const char open[] = ",{\"role\":\"user\",\"content\":\"";
	static const char close[] = "\"}";
	static const char tail[] = "],\"model\":\"gpt-4o\",\"temperature\":0.2,\"max_tokens\":512,\"stream\":false}";
	static const char text[] = "Summarize the \\\"quarterly\\\" report, line by line.\\n ";
	size_t fixed = sizeof(open) - 1 + sizeof(close) - 1, chunk = 10 * (sizeof(text) - 1);
	size_t n = 0, i;
	char *b = malloc(size + 1);

	if (!b || size < sizeof(head) + fixed + sizeof(tail))
		die("body size", LR_EINVAL);
	put(b, &n, head, sizeof(head) - 1);
	while (n + 2 * fixed + chunk + sizeof(tail) - 1 <= size) {
		put(b, &n, open, sizeof(open) - 1);
		for (i = 0; i < 10; i++)
			put(b, &n, text, sizeof(text) - 1);
		put(b, &n, close, sizeof(close) - 1);
	}
	put(b, &n, open, sizeof(open) - 1);
	while (n + sizeof(close) - 1 + sizeof(tail) - 1 < size)
		b[n++] = 'a';
	put(b, &n, close, sizeof(close) - 1);
	put(b, &n, tail, sizeof(tail) - 1);
	b[n] = '\0';
	if (n != size)
		die("body size", 0);
	return b;
}

/* ---- 1. generation check + decision ------------------------------------- */

typedef struct {
	const lr_shm *seg;
	const lr_table *t;
	uint64_t gen;
	lr_request req;
	pthread_rwlock_t rw;
	int bad;
} decide_ctx;

static void work_decide(void *p, size_t n)
{
	decide_ctx *c = p;
	uint64_t acc = 0;
	lr_decision d;
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t g = lr_shm_generation(c->seg);
		if (g != c->gen)
			c->bad = 1; /* the shim would refresh here: never in this run */
		lr_decide(c->t, &c->req.f, &d);
		acc += (uint64_t)d.index + g;
		CLOBBER();
	}
	sink += acc;
}

static void work_decide_locked(void *p, size_t n)
{
	decide_ctx *c = p;
	uint64_t acc = 0;
	lr_decision d;
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t g = lr_shm_generation(c->seg);
		if (g != c->gen)
			c->bad = 1;
		pthread_rwlock_rdlock(&c->rw);
		lr_decide(c->t, &c->req.f, &d);
		pthread_rwlock_unlock(&c->rw);
		acc += (uint64_t)d.index + g;
		CLOBBER();
	}
	sink += acc;
}

/* ---- 2. compile and publish --------------------------------------------- */

typedef struct {
	const char *rules;
	size_t rules_len;
	const void *blob;
	size_t blen;
	lr_shm *w;
	int rc;
} publish_ctx;

static void work_compile(void *p, size_t n)
{
	publish_ctx *c = p;
	lr_rules_error err;
	void *blob;
	size_t blen, i;

	for (i = 0; i < n; i++) {
		int rc = lr_rules_compile(c->rules, c->rules_len, &blob, &blen, &err);
		if (rc < 0) {
			c->rc = rc;
			continue;
		}
		sink += blen;
		free(blob);
	}
}

static void work_publish(void *p, size_t n)
{
	publish_ctx *c = p;
	uint64_t gen;
	size_t i;

	for (i = 0; i < n; i++) {
		int rc = lr_shm_publish(c->w, c->blob, c->blen, &gen);
		if (rc < 0)
			c->rc = rc;
		sink += gen;
	}
}

/* What `llmroutectl load` does around the publish: open, lock, map. */
static void work_open_publish(void *p, size_t n)
{
	publish_ctx *c = p;
	lr_shm w;
	uint64_t gen;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if ((rc = lr_shm_open_writer(shm_name, &w, 0, NULL)) < 0) {
			c->rc = rc;
			continue;
		}
		if ((rc = lr_shm_publish(&w, c->blob, c->blen, &gen)) < 0)
			c->rc = rc;
		sink += gen;
		lr_shm_close(&w);
	}
}

/* ---- 3. the shim's decision and rewrite --------------------------------- */

typedef struct {
	const lr_shm *seg;
	const lr_table *t;
	const char *url, *body;
	size_t ulen, blen;
	int rc;
} rewrite_ctx;

/* One request as shim/lr_curl_apply.c handles it; returns < 0 or the size
 * of the new body, and the new URL in *url if wanted. */
static long rewrite_once(const rewrite_ctx *c, char **url_out, char **body_out)
{
	lr_request r;
	lr_decision d;
	lr_plan p;
	char *out = NULL;
	size_t olen = 0;
	int rc;

	if ((rc = lr_request_init(&r, c->url, c->ulen, c->body, c->blen, PROCESS)) < 0)
		return rc;
	sink += lr_shm_generation(c->seg);
	lr_decide(c->t, &r.f, &d);
	if (d.action != LR_ACTION_ROUTE)
		return LR_EINVAL;
	if ((rc = lr_plan_make(c->t, &d, &r.det, c->url, c->ulen, NULL, &p)) < 0)
		return rc;
	rc = lr_body_set_model(c->body, c->blen, p.model, &out, &olen);
	if (rc > 0 && body_out)
		*body_out = out;
	else
		free(out);
	if (url_out) {
		*url_out = p.url;
		p.url = NULL;
	}
	sink += p.url ? (uint64_t)p.url[0] : 0;
	lr_plan_free(&p);
	return rc < 0 ? rc : (long)olen;
}

static void work_rewrite(void *p, size_t n)
{
	rewrite_ctx *c = p;
	size_t i;

	for (i = 0; i < n; i++) {
		long rc = rewrite_once(c, NULL, NULL);
		if (rc < 0)
			c->rc = (int)rc;
		sink += (uint64_t)rc;
	}
}

/* Checks the rewrite once outside the timing: routed URL, model replaced,
 * every other byte kept. */
static void check_rewrite(const rewrite_ctx *c)
{
	static const char from[] = "\"model\":\"gpt-4o\"", to[] = "\"model\":\"gpt-4o-mini\"";
	char *url = NULL, *body = NULL;
	long olen = rewrite_once(c, &url, &body);
	const char *at = strstr(c->body, from);
	size_t pre = at ? (size_t)(at - c->body) : 0, post;

	if (olen < 0)
		die("rewrite", (int)olen);
	if (!url || strcmp(url, ROUTED_URL) != 0 || !body || !at ||
	    (size_t)olen != c->blen + sizeof(to) - sizeof(from))
		die("rewrite gave an unexpected URL or body", 0);
	post = c->blen - pre - (sizeof(from) - 1);
	if (memcmp(body, c->body, pre) != 0 || memcmp(body + pre, to, sizeof(to) - 1) != 0 ||
	    memcmp(body + pre + sizeof(to) - 1, at + sizeof(from) - 1, post) != 0)
		die("rewrite changed other bytes", 0);
	free(url);
	free(body);
}

/* ---- 4. detection of a non-LLM URL -------------------------------------- */

typedef struct {
	const char *url;
	size_t len;
	int want;
	int bad;
} detect_ctx;

static void work_detect(void *p, size_t n)
{
	detect_ctx *c = p;
	lr_detect d;
	uint64_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int rc = lr_detect_url(c->url, c->len, &d);
		if (rc != c->want)
			c->bad = 1;
		acc += (uint64_t)rc;
		CLOBBER();
	}
	sink += acc;
}

/* ---- main --------------------------------------------------------------- */

static void bench_publish(publish_ctx *pc)
{
	lr_shm w;
	result r;

	printf("\n2. Compiling and publishing a %d-route table (%zu-byte rules, %zu-byte blob)\n",
	       NROUTES, pc->rules_len, pc->blen);
	r = measure(work_compile, pc, 0, 300, 50e6);
	report("lr_rules_compile (JSON -> table)", r, 0, "(informational)");
	open_writer(&w);
	pc->w = &w;
	r = measure(work_publish, pc, 0, 2000, 50e6);
	lr_shm_close(&w); /* the next part takes the lock itself */
	pc->w = NULL;
	report("lr_shm_publish (writer lock held)", r, 1e6, NULL);
	r = measure(work_open_publish, pc, 0, 500, 50e6);
	report("open writer + lock + publish + close", r, 0, "(informational)");
	if (pc->rc < 0)
		die("compile/publish", pc->rc);
}

static void bench_decide(decide_ctx *dc)
{
	lr_decision d;
	result r;

	lr_decide(dc->t, &dc->req.f, &d);
	if (d.action != LR_ACTION_ROUTE || d.index != NROUTES - 1)
		die("the decision is not the last route", 0);
	printf("\n1. Generation check + match against %d routes (only the last matches)\n", NROUTES);
	r = measure(work_decide, dc, 200e3, 1000, 100e6);
	report("lr_shm_generation + lr_decide", r, 1e3, NULL);
	r = measure(work_decide_locked, dc, 200e3, 1000, 50e6);
	report("... + rwlock rdlock/unlock (as lr_view)", r, 1e3, NULL);
	if (dc->bad)
		die("the generation changed during the run", 0);
}

static void bench_rewrite(const lr_shm *seg, const lr_table *t)
{
	static const size_t sizes[] = {1024, 1024 * 1024};
	static const double targets[] = {10e3, 1e6};
	static const int batches[] = {20000, 300};
	size_t i;

	printf("\n3. Request init + decide + plan + body rewrite, as the shim (%d routes, last matches)\n",
	       NROUTES);
	for (i = 0; i < 2; i++) {
		rewrite_ctx rc = {.seg = seg, .t = t, .url = LLM_URL, .ulen = strlen(LLM_URL)};
		char what[80], thr[48];
		result r;

		rc.body = make_body(sizes[i]);
		rc.blen = sizes[i];
		check_rewrite(&rc);
		r = measure(work_rewrite, &rc, 0, batches[i], 100e6);
		snprintf(what, sizeof(what), "%s chat body", i ? "1 MB" : "1 KB");
		report(what, r, targets[i], NULL);
		if (i) {
			snprintf(thr, sizeof(thr), "%.0f MB/s of body", (double)rc.blen / r.median * 1e3);
			printf("  %-50s %s\n", "", thr);
		}
		if (rc.rc < 0)
			die("rewrite", rc.rc);
		free((char *)rc.body);
	}
}

static void bench_detect(void)
{
	detect_ctx other = {.url = OTHER_URL, .len = strlen(OTHER_URL), .want = LR_ENOTFOUND};
	detect_ctx llm = {.url = LLM_URL, .len = strlen(LLM_URL), .want = 0};
	result r;

	printf("\n4. Detection (lr_detect_url)\n");
	r = measure(work_detect, &other, 100e3, 1000, 50e6);
	/* The target is whole-process: "no measurable difference" for
	 * a non-LLM transfer (item 6 of run.sh); this is its per-call cost. */
	report("non-LLM URL " OTHER_URL, r, 0, "(per transfer; see 6)");
	r = measure(work_detect, &llm, 100e3, 1000, 50e6);
	report("LLM URL (OpenAI chat), for comparison", r, 0, "(informational)");
	if (other.bad || llm.bad)
		die("detection gave the wrong answer", 0);
}

/* ---- 5. auditing one request ------------------------------------------- */

typedef struct {
	int fd;
	const char *answer;
	size_t len;
} audit_ctx;

/* What the shim does at the end of a transfer: parse the answer's usage,
 * price it, format the record, write it. */
static void work_audit(void *p, size_t n)
{
	audit_ctx *c = p;
	char line[LR_AUDIT_MAX_LINE];
	lr_price price;
	size_t i;

	for (i = 0; i < n; i++) {
		lr_usage u;
		lr_audit_rec r = {.time_ms = 1795430000000LL, .provider = "openai", .operation = "chat",
				  .request_model = "gpt-4o-mini", .server_address = "127.0.0.1",
				  .server_port = 8080, .status = 200, .action = "route", .rule = "mini",
				  .original_model = "gpt-4o", .original_server = "api.openai.com:443",
				  .transport = "curl", .duration_ms = 12.5, .ttfb_ms = 3.25,
				  .request_bytes = 1024, .pid = 1, .process = PROCESS};
		int len;
		lr_usage_init(&u, LR_FMT_OPENAI, 0, 1024);
		lr_usage_feed(&u, c->answer, c->len);
		lr_usage_finish(&u);
		r.response_model = u.model;
		r.input_tokens = u.input_tokens;
		r.output_tokens = u.output_tokens;
		r.response_bytes = (long long)u.response_bytes;
		r.cost_usd = lr_price_lookup(NULL, r.request_model, &price) == 0
			? lr_price_cost(&price, u.input_tokens, u.output_tokens) : -1;
		len = lr_audit_format(&r, line, sizeof(line));
		if (len < 0 || lr_audit_write(c->fd, line, (size_t)len) < 0)
			die("audit", len);
		sink += (uint64_t)u.input_tokens;
	}
}

static void bench_audit(void)
{
	char path[64], answer[1200];
	audit_ctx c;
	result r;
	int n;

	n = snprintf(answer, sizeof(answer),
		     "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini-2024-07-18\","
		     "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"%0800d\"},"
		     "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":256,\"completion_tokens\":200,"
		     "\"total_tokens\":456}}", 0);
	snprintf(path, sizeof(path), "/tmp/lrbench-audit-%ld.jsonl", (long)getpid());
	c.fd = lr_audit_open(path);
	if (c.fd < 0)
		die("audit file", c.fd);
	c.answer = answer;
	c.len = (size_t)n;
	printf("\n5. Auditing one request (usage from a %d-byte answer + price + record + one write)\n", n);
	r = measure(work_audit, &c, 0, 5000, 50e6);
	report("record built and written", r, 20e3, NULL);
	close(c.fd);
	unlink(path);
}

/* Compiles the rules, publishes them in a new segment and returns a
 * validated copy of the live table, as the shim holds it. */
static lr_table *setup(publish_ctx *pc, lr_shm *rd, uint64_t *gen)
{
	lr_rules_error err;
	const char *why = "";
	void *blob, *copy;
	size_t len;
	lr_shm w;
	int rc;

	pc->rules = make_rules(&pc->rules_len);
	if (lr_rules_compile(pc->rules, pc->rules_len, &blob, &pc->blen, &err) < 0) {
		fprintf(stderr, "bench: rules %d:%d %s: %s\n", err.line, err.col, err.path, err.msg);
		exit(1);
	}
	pc->blob = blob;
	open_writer(&w);
	if ((rc = lr_shm_publish(&w, blob, pc->blen, gen)) < 0)
		die("publish", rc);
	lr_shm_close(&w);
	if ((rc = lr_shm_attach(shm_name, rd, &why)) < 0) {
		fprintf(stderr, "bench: attach %s: %s (%s)\n", shm_name, lr_strerror(rc), why);
		exit(1);
	}
	if ((rc = lr_shm_snapshot(rd, &copy, &len, gen)) < 0 || !copy)
		die("snapshot", rc);
	if ((rc = lr_table_validate(copy, len)) < 0)
		die("validate", rc);
	return copy;
}

/* ---- 6. the full policy decision ------------------------------------------- */

#define NTARGETS 20

typedef struct {
	const lr_table *t;
	lr_intent_cache *ic;
	const char *body;
	size_t blen;
	int target, bad;
} policy_ctx;

static double fixed_spent(void *ud, int per, const char *name, long long now)
{
	(void)now;
	(void)ud;
	(void)per;
	return name[strlen(name) - 1] == '7' ? 100 : 0.01; /* model t7 is over its budget */
}

static double fixed_latency(void *ud, const char *target)
{
	(void)ud;
	return 100 + (double)(target[strlen(target) - 1] - '0') * 10;
}

static char *make_policy_rules(void)
{
	static const char *const intents[] = {"define", "compliance", "code", "summarize", "translate"};
	size_t cap = 256 * 1024, n = 0;
	char *s = malloc(cap);
	int i, k;

	if (!s)
		die("malloc", LR_ENOMEM);
	n += (size_t)snprintf(s + n, cap - n, "{\"targets\":{");
	for (i = 0; i < NTARGETS; i++) {
		n += (size_t)snprintf(s + n, cap - n, "%s\"t%d\":{\"model\":\"model-%d\",\"endpoint\":"
				      "\"http://10.0.0.%d:8000/v1\",\"input_per_mtok\":%d,\"output_per_mtok\":%d,"
				      "\"context_window\":%d,\"quality\":{", i ? "," : "", i, i, i + 1, i + 1,
				      4 * (i + 1), 8000 + i * 4000);
		for (k = 0; k < 5; k++)
			n += (size_t)snprintf(s + n, cap - n, "%s\"%s\":0.%d", k ? "," : "", intents[k], (i * 7 + k * 3) % 9 + 1);
		n += (size_t)snprintf(s + n, cap - n, ",\"*\":0.5}}");
	}
	n += (size_t)snprintf(s + n, cap - n, "},\"intents\":[");
	for (k = 0; k < 5; k++)
		n += (size_t)snprintf(s + n, cap - n,
			"%s{\"name\":\"%s\",\"min_quality\":0.3,\"keywords\":[\"%s-a\",\"%s-b\",\"%s-c\",\"%s-d\",\"%s-e\","
			"\"%s-f\",\"%s-g\",\"%s-h\"],\"patterns\":[\"%s-[0-9]+x\"]}", k ? "," : "", intents[k],
			intents[k], intents[k], intents[k], intents[k], intents[k], intents[k], intents[k], intents[k],
			intents[k]);
	n += (size_t)snprintf(s + n, cap - n, ",{\"name\":\"hit\",\"keywords\":[\"needle\"]}],\"routes\":[");
	for (i = 1; i < NROUTES; i++)
		n += (size_t)snprintf(s + n, cap - n,
			"{\"name\":\"r%d\",\"match\":{\"model\":\"m%d-*\",\"prompt_tokens\":{\"gt\":%d}},"
			"\"set\":{\"model\":\"x\"}},", i, i, i * 10);
	n += (size_t)snprintf(s + n, cap - n, "{\"name\":\"last\",\"match\":{\"intent\":\"hit\"},"
			      "\"budget\":{\"usd_per_day\":1,\"per\":\"model\",\"fallback\":\"t0\"},"
			      "\"pool\":{\"targets\":[");
	for (i = 0; i < NTARGETS; i++)
		n += (size_t)snprintf(s + n, cap - n, "%s\"t%d\"", i ? "," : "", i);
	n += (size_t)snprintf(s + n, cap - n, "]}}]}");
	if (n >= cap)
		die("policy rules too long", LR_ETOOBIG);
	return s;
}

/* A chat request whose last user message is 4 KB of text, the intent's
 * keyword near its end. */
static char *make_policy_body(size_t *len)
{
	size_t cap = 8192, n = 0;
	char *s = malloc(cap);

	if (!s)
		die("malloc", LR_ENOMEM);
	n += (size_t)snprintf(s, cap, "{\"model\":\"gpt-4o\",\"max_tokens\":300,\"messages\":["
			      "{\"role\":\"system\",\"content\":\"You are terse.\"},{\"role\":\"user\",\"content\":\"");
	while (n < 4000)
		n += (size_t)snprintf(s + n, cap - n, "lorem ipsum dolor sit amet ");
	n += (size_t)snprintf(s + n, cap - n, "needle\"}]}");
	*len = n;
	return s;
}

static void work_policy(void *p, size_t n)
{
	policy_ctx *c = p;
	lr_live live = {fixed_spent, fixed_latency, NULL, NULL};
	lr_request r;
	lr_decision d;
	size_t i;

	for (i = 0; i < n; i++) {
		if (lr_request_init(&r, LLM_URL, strlen(LLM_URL), c->body, c->blen, PROCESS) < 0) {
			c->bad = 1;
			continue;
		}
		lr_intent_apply(c->t, c->ic, &r);
		lr_decide(c->t, &r.f, &d);
		lr_choose(c->t, &d, &r, &live, 1795000000, NULL);
		c->target = d.target;
		sink += (uint64_t)d.target;
	}
}

typedef struct {
	policy_ctx *c;
	lr_request r;
	int part;
} part_ctx;

/* One part of the decision alone, on a prepared request. */
static void work_part(void *p, size_t n)
{
	part_ctx *pc = p;
	lr_live live = {fixed_spent, fixed_latency, NULL, NULL};
	lr_decision d;
	size_t i;

	for (i = 0; i < n; i++) {
		if (pc->part == 0) {
			sink += (uint64_t)lr_request_init(&pc->r, LLM_URL, strlen(LLM_URL), pc->c->body, pc->c->blen, PROCESS);
		} else if (pc->part == 1) {
			lr_intent_apply(pc->c->t, pc->c->ic, &pc->r);
		} else {
			lr_decide(pc->c->t, &pc->r.f, &d);
			if (pc->part == 3)
				lr_choose(pc->c->t, &d, &pc->r, &live, 1795000000, NULL);
			sink += (uint64_t)d.target;
		}
	}
}

static void bench_policy(void)
{
	char *rules = make_policy_rules();
	void *blob = NULL;
	size_t blen = 0;
	lr_rules_error err;
	policy_ctx c = {0};
	result r;
	int rc;

	if ((rc = lr_rules_compile(rules, strlen(rules), &blob, &blen, &err)) < 0) {
		fprintf(stderr, "bench: policy rules: %s %s\n", err.path, err.msg);
		die("policy rules", rc);
	}
	c.t = blob;
	c.ic = lr_intent_cache_new(c.t);
	c.body = make_policy_body(&c.blen);
	printf("\n6. Full policy decision: features + intent (6 intents, 41 terms) + %d routes + pool of %d"
	       " targets with a per-model budget, %zu-byte body (4 KB user message)\n", NROUTES, NTARGETS, c.blen);
	work_policy(&c, 1);
	if (c.bad || c.target < 0)
		die("the policy decision chose no target", 0);
	printf("  %-50s %s\n", "chosen:", lr_table_str(c.t, lr_table_targets(c.t)[c.target].name));
	r = measure(work_policy, &c, 100e3, 2000, 100e6);
	report("request init + intent + decide + choose", r, 20e3, NULL);
	{
		static const char *const parts[] = {"  of which: request init (features, texts)", "  of which: intent",
						    "  of which: decide (100 routes)", "  of which: decide + choose (pool of 20)"};
		part_ctx *pc = calloc(1, sizeof(*pc));
		int k;
		if (!pc)
			die("malloc", LR_ENOMEM);
		pc->c = &c;
		lr_request_init(&pc->r, LLM_URL, strlen(LLM_URL), c.body, c.blen, PROCESS);
		lr_intent_apply(c.t, c.ic, &pc->r);
		for (k = 0; k < 4; k++) {
			pc->part = k;
			report(parts[k], measure(work_part, pc, 100e3, 1000, 20e6), 0, "(informational)");
		}
		free(pc);
	}
	lr_intent_cache_free(c.ic);
	free((char *)c.body);
	free(blob);
	free(rules);
}

/* The learned classifier alone: a 6-intent model of 16384 buckets with
 * pseudo-random weights (the cost does not depend on their values), on the
 * same 4 KB user message. */
static void work_learned(void *p, size_t n)
{
	part_ctx *pc = p;
	size_t i;

	for (i = 0; i < n; i++) {
		pc->r.intent[0] = '\0';
		lr_intent_apply(pc->c->t, NULL, &pc->r);
		sink += (uint64_t)pc->r.intent[0];
	}
}

static void bench_learned(void)
{
	static const char *const names[] = {"define", "compliance", "code", "summarize", "translate", "chitchat"};
	const uint32_t dim = 16384, k = 6;
	lr_table_builder *b = lr_table_builder_new();
	float *w = malloc(sizeof(float) * dim * k), bias[6] = {0};
	uint64_t seed = 7;
	void *blob = NULL;
	size_t blen, i;
	policy_ctx c = {0};
	part_ctx *pc = calloc(1, sizeof(*pc));
	int rc;

	if (!b || !w || !pc)
		die("malloc", LR_ENOMEM);
	for (i = 0; i < (size_t)dim * k; i++) {
		seed = seed * 6364136223846793005ULL + 1;
		w[i] = (float)((double)(seed >> 40) / (double)(1ULL << 24) - 0.5);
	}
	if ((rc = lr_table_builder_classifier(b, dim, k, names, w, bias)) < 0 ||
	    (rc = lr_table_builder_finish(b, &blob, &blen)) < 0)
		die("classifier table", rc);
	c.t = blob;
	c.body = make_policy_body(&c.blen);
	pc->c = &c;
	lr_request_init(&pc->r, LLM_URL, strlen(LLM_URL), c.body, c.blen, PROCESS);
	work_learned(pc, 1);
	if (!pc->r.intent[0])
		die("the classifier gave no intent", 0);
	report("learned intent (6 classes, 16384 buckets), 4 KB", measure(work_learned, pc, 100e3, 1000, 50e6),
	       20e3, NULL);
	/* the features of train's models: character 3-grams (first 1 KB) and
	 * the system prompt's words, calibrated */
	((lr_table *)blob)->clf_flags = LR_CLF_CHARS | LR_CLF_SYSTEM;
	((lr_table *)blob)->clf_temp = 0.5f;
	report("learned intent, + 3-grams and system prompt, 4 KB", measure(work_learned, pc, 100e3, 1000, 50e6),
	       20e3, NULL);
	free(pc);
	free((char *)c.body);
	free(blob);
	free(w);
	lr_table_builder_free(b);
}

/* ---- 7. translating between API formats --------------------------------- */

typedef struct {
	const char *req, *ans, *stream;
	size_t rlen, alen, slen;
	int mode;       /* 0 request, 1 answer, 2 both, 3 stream; 4 request + answer,
			 * 5 stream, through lr_xsink */
	size_t events;  /* app events of one stream */
	int bad;
} xlate_ctx;

/* An OpenAI chat request of about 1 KB: system, user turns, a tool. */
static char *make_xlate_request(size_t *len)
{
	size_t cap = 2048, n;
	char *s = malloc(cap);

	if (!s)
		die("malloc", LR_ENOMEM);
	n = (size_t)snprintf(s, cap, "{\"model\":\"gpt-4o\",\"max_tokens\":300,\"temperature\":0.2,"
		"\"messages\":[{\"role\":\"system\",\"content\":\"You are a terse assistant.\"},"
		"{\"role\":\"user\",\"content\":\"");
	while (n < 850)
		n += (size_t)snprintf(s + n, cap - n, "lorem ipsum dolor sit amet ");
	n += (size_t)snprintf(s + n, cap - n, "\"}],\"tools\":[{\"type\":\"function\",\"function\":"
		"{\"name\":\"get_weather\",\"description\":\"Weather\",\"parameters\":{\"type\":\"object\","
		"\"properties\":{\"city\":{\"type\":\"string\"}}}}}],\"stream\":false}");
	*len = n;
	return s;
}

static const char xlate_answer[] =
	"{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":["
	"{\"type\":\"text\",\"text\":\"The weather in Paris is sunny, 21 degrees, with a light breeze "
	"from the west and no rain expected before the evening.\"}],\"stop_reason\":\"end_turn\","
	"\"usage\":{\"input_tokens\":250,\"cache_read_input_tokens\":20,\"output_tokens\":30}}";

/* An Anthropic stream of 100 text deltas. */
static char *make_xlate_stream(size_t *len)
{
	size_t cap = 64 * 1024, n = 0;
	char *s = malloc(cap);
	int i;

	if (!s)
		die("malloc", LR_ENOMEM);
	n += (size_t)snprintf(s + n, cap - n, "event: message_start\ndata: {\"type\":\"message_start\","
		"\"message\":{\"id\":\"msg_1\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":250}}}\n\n"
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
		"\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(s + n, cap - n, "event: content_block_delta\ndata: {\"type\":"
			"\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"word%d \"}}\n\n", i);
	n += (size_t)snprintf(s + n, cap - n, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
		"\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
		"\"end_turn\"},\"usage\":{\"output_tokens\":100}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
	*len = n;
	return s;
}

/* The served request's own sink, standing in: takes everything. */
static int xs_head(void *ud, long status, const char *lines, size_t n)
{
	sink += (size_t)status + n;
	return 0;
}

static int xs_body(void *ud, const char *p, size_t n)
{
	sink += n;
	return 0;
}

static void xs_done(void *ud, const lr_up_result *r)
{
	*(int *)ud |= r->fail != LR_OUT_OK;
}

static const lr_up_sink xs_inner = {xs_head, xs_body, NULL, xs_done};

/* One answer through lr_xsink as the shim's client hands it over: the
 * head, the body in 16 KB reads, the end. */
static void xsink_once(xlate_ctx *c, const char *body, size_t len, int stream)
{
	static const char head[] = "Content-Type: application/json\r\nRequest-Id: req_1\r\n"
		"Content-Length: 512\r\n";
	lr_xsink_cfg cfg = {.cx = {LR_XF_OPENAI, LR_XF_ANTHROPIC, 1, 1700000000, 0, NULL}, .stream = stream, .model = "claude-x"};
	lr_up_result r = {0};
	void *x = lr_xsink_new(&cfg, &xs_inner, &c->bad);
	size_t i, k;

	if (!x || lr_xsink.head(x, 200, head, sizeof(head) - 1) < 0) {
		c->bad = 1;
		lr_xsink_free(x);
		return;
	}
	for (i = 0; i < len; i += k) {
		k = len - i < 16384 ? len - i : 16384;
		c->bad |= lr_xsink.body(x, body + i, k) < 0;
	}
	r.status = 200;
	lr_xsink.done(x, &r); /* frees x */
}

static void work_xlate(void *p, size_t n)
{
	xlate_ctx *c = p;
	lr_xlate_opts o = {LR_XF_OPENAI, LR_XF_ANTHROPIC, "claude-x", 1024, 0, NULL, 0};
	lr_xlate_ctx x = {LR_XF_OPENAI, LR_XF_ANTHROPIC, 1, 1700000000, 0, NULL};
	lr_xlate_req r;
	lr_xbuf out = {0};
	int st;
	size_t i;

	for (i = 0; i < n; i++) {
		if (c->mode == 0 || c->mode == 2) {
			c->bad |= lr_xlate_request(&o, c->req, c->rlen, &r) != 0;
			sink += r.body.len;
			lr_xlate_req_free(&r);
		}
		if (c->mode == 1 || c->mode == 2) {
			out.len = 0;
			c->bad |= lr_xlate_answer(&x, 200, c->ans, c->alen, &out, &st) != 0;
			sink += out.len;
		}
		if (c->mode == 4) {
			lr_xlate_opts o2 = o;
			c->bad |= lr_xlate_request(&o2, c->req, c->rlen, &r) != 0;
			sink += r.body.len;
			lr_xlate_req_free(&r);
			xsink_once(c, c->ans, c->alen, 0);
		}
		if (c->mode == 5)
			xsink_once(c, c->stream, c->slen, 1);
		if (c->mode == 3) {
			lr_xlate_stream *s = lr_xlate_stream_new(&x);
			out.len = 0;
			c->bad |= !s || lr_xlate_stream_feed(s, c->stream, c->slen, &out) != 0 ||
				lr_xlate_stream_finish(s, &out) != 0;
			c->events = lr_xlate_stream_events(s);
			sink += out.len;
			lr_xlate_stream_free(s);
		}
	}
	lr_xbuf_free(&out);
}

static void bench_xlate(void)
{
	static const char *const what[] = {"request, 1 KB OpenAI chat -> Anthropic",
		"its answer, Anthropic -> OpenAI", "request + answer (the added cost)"};
	xlate_ctx c = {0};
	char line[96];
	result r;
	int i;

	c.req = make_xlate_request(&c.rlen);
	c.ans = xlate_answer;
	c.alen = sizeof(xlate_answer) - 1;
	c.stream = make_xlate_stream(&c.slen);
	printf("\n7. Translating between API formats (lr_xlate; %zu-byte request, %zu-byte answer)\n",
	       c.rlen, c.alen);
	for (i = 0; i < 3; i++) {
		c.mode = i;
		r = measure(work_xlate, &c, 100e3, 2000, 50e6);
		report(what[i], r, i == 2 ? 20e3 : 0, i == 2 ? NULL : "(informational)");
	}
	c.mode = 3;
	r = measure(work_xlate, &c, 0, 2000, 50e6);
	snprintf(line, sizeof(line), "stream Anthropic -> OpenAI, per app event (%zu events)", c.events);
	r.median /= (double)c.events;
	r.p99 /= (double)c.events;
	report(line, r, 0, "(informational)");
	c.mode = 4;
	r = measure(work_xlate, &c, 100e3, 2000, 50e6);
	report("request + answer via lr_xsink (served path)", r, 20e3, NULL);
	c.mode = 5;
	r = measure(work_xlate, &c, 0, 2000, 50e6);
	r.median /= (double)c.events;
	r.p99 /= (double)c.events;
	report("stream via lr_xsink, per app event", r, 0, "(informational)");
	if (c.bad || c.events < 100)
		die("translation failed", 0);
	free((char *)c.req);
	free((char *)c.stream);
}

/* ---- guardrails: the detectors over a 4 KB prompt ------------------------ */

typedef struct {
	char body[4600];
	size_t len;
	lr_guard_findings g;
} guard_ctx;

static void work_guard(void *p, size_t n)
{
	guard_ctx *gc = p;
	size_t i;

	for (i = 0; i < n; i++)
		sink += lr_guard_scan(gc->body, gc->len, &gc->g);
}

/* A chat body whose user text is 4 KB of prose with numbers, versions
 * and dashes (near misses), with or without one of each finding. */
static void make_guard_body(guard_ctx *gc, int findings)
{
	static const char prose[] = "Release 2.4.1 shipped on 2024-05-17 with 37 fixes; the risk-free "
		"plan costs 1200 per month and build v7.1.2.9 is next - see section 4.2 (page 118). ";
	static const char found[] = "Mail jane.doe@example.com or +44 20 7946 0958, card 4111 1111 1111 1111, "
		"IBAN DE89 3704 0044 0532 0130 00, SSN 123-45-6789, host 10.0.0.1, key AKIAIOSFODNN7EXAMPLE. ";
	size_t n = (size_t)snprintf(gc->body, sizeof(gc->body),
				    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"");

	if (findings)
		n += (size_t)snprintf(gc->body + n, sizeof(gc->body) - n, "%s", found);
	while (n < 4096 + 40)
		n += (size_t)snprintf(gc->body + n, sizeof(gc->body) - n, "%s", prose);
	n += (size_t)snprintf(gc->body + n, sizeof(gc->body) - n, "\"}]}");
	gc->len = n;
}

static void bench_guard(void)
{
	static guard_ctx gc;
	result r;

	printf("13. Guardrails: the detectors over a 4 KB prompt (lr_guard_scan, every detector)\n");
	make_guard_body(&gc, 0);
	if (work_guard(&gc, 1), gc.g.mask)
		die("guard: a finding in the clean prompt", 0);
	r = measure(work_guard, &gc, 2e6, 31, 2e7);
	report("4 KB prompt, no findings", r, 20e3, NULL);
	make_guard_body(&gc, 1);
	if (work_guard(&gc, 1), gc.g.n != 7)
		die("guard: the findings prompt should have 7 findings", (int)gc.g.n);
	r = measure(work_guard, &gc, 2e6, 31, 2e7);
	report("4 KB prompt, 7 findings (one per kind but private_key)", r, 20e3, NULL);
}

int main(void)
{
	static const char small[] = "{\"model\":\"gpt-4o\",\"messages\":[]}";
	publish_ctx pc = {0};
	decide_ctx dc = {0};
	lr_table *t;
	lr_shm rd;
	int rc;

	snprintf(shm_name, sizeof(shm_name), "/lrbench-%ld", (long)getpid());
	atexit(remove_segment);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	t = setup(&pc, &rd, &dc.gen);
	dc.seg = &rd;
	dc.t = t;
	pthread_rwlock_init(&dc.rw, NULL);
	if ((rc = lr_request_init(&dc.req, LLM_URL, strlen(LLM_URL), small, strlen(small),
				  PROCESS)) < 0)
		die("request", rc);
	bench_decide(&dc);
	bench_publish(&pc); /* bumps the generation: part 1 is over by now */
	bench_rewrite(&rd, t);
	bench_detect();
	bench_audit();
	bench_policy();
	bench_learned();
	bench_xlate();
	bench_guard();

	lr_shm_close(&rd);
	free(t);
	free((void *)pc.blob);
	free((char *)pc.rules);
	return 0;
}
