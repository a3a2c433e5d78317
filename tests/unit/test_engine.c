/*
 * test_engine.c - the one decision chain (router/lr_engine.h): what every
 * transport and explain call.  The whole-table cases are test_router's
 * (it runs lr_engine_decide on each); here the parts only the engine has:
 * the decision of one attempt of a resilient route (a fallback, "original",
 * a route or target gone from the table), the unread-body guard as the
 * chain's last word, and the refusal text.
 */
#include "lr_test.h"
#include "lr_engine.h"
#include "lr_error.h"
#include "lr_rules.h"

#include <stdlib.h>
#include <string.h>

static const char *RULES =
	"{\"targets\": {"
	" \"cheap\": {\"endpoint\": \"http://127.0.0.1:9/v1\", \"model\": \"m-cheap\"},"
	" \"big\": {\"endpoint\": \"http://127.0.0.1:9/v1\", \"model\": \"m-big\"}},"
	" \"routes\": ["
	"  {\"name\": \"no-secrets\", \"match\": {\"user_text\": \"*SECRET*\"},"
	"   \"deny\": \"no secrets\"},"
	"  {\"name\": \"fb\", \"match\": {\"model\": \"app-fb\"}, \"pool\": {\"targets\": [\"cheap\"]},"
	"   \"fallbacks\": [\"big\", \"original\"]},"
	"  {\"name\": \"plain\", \"match\": {\"model\": \"app-plain\"}}]}";

static lr_table *table(void)
{
	void *blob = NULL;
	size_t n = 0;
	lr_rules_error err;

	if (lr_rules_compile(RULES, strlen(RULES), &blob, &n, &err) < 0) {
		fprintf(stderr, "rules do not compile: %s %s\n", err.path, err.msg);
		return NULL;
	}
	return blob;
}

static int req(lr_request *r, const char *body)
{
	const char *url = "https://api.openai.com/v1/chat/completions";

	return lr_request_init_as(r, url, strlen(url), body, body ? strlen(body) : 0, "app", 0);
}

#define BODY(model, text) \
	"{\"model\": \"" model "\", \"messages\": [{\"role\": \"user\", \"content\": \"" text "\"}]}"

int main(void)
{
	lr_table *t = table();
	lr_engine_ctx cx = {t, NULL, NULL, 1795000000};
	lr_intent_cache *ic;
	lr_request r;
	lr_decision d;
	char msg[512];
	const char *b;

	CHECK(t != NULL);
	if (!t)
		return lr_test_done("test_engine");
	ic = lr_intent_cache_new(t);
	cx.intents = ic;

	/* the chain: first match, then the pool's choice */
	b = BODY("app-fb", "hello");
	CHECK_INT(req(&r, b), 0);
	CHECK_INT(lr_engine_decide(&cx, &r, b, strlen(b), 0, &d, NULL), 0);
	CHECK_INT(d.action, LR_ACTION_ROUTE);
	CHECK_STR(lr_table_str(t, d.route->name), "fb");
	CHECK(d.target >= 0 && strcmp(lr_table_str(t, lr_table_targets(t)[d.target].name), "cheap") == 0);

	/* a deny that reads the body */
	b = BODY("app-fb", "the SECRET plan");
	req(&r, b);
	CHECK_INT(lr_engine_decide(&cx, &r, b, strlen(b), 0, &d, NULL), 0);
	CHECK_INT(d.action, LR_ACTION_DENY);
	lr_engine_deny_message(t, &d, 0, msg, sizeof(msg));
	CHECK_STR(msg, "llmroute: denied by route no-secrets: no secrets");

	/* a body the transport could not read: the deny could match it, so
	 * the chain refuses, and says why */
	req(&r, NULL);
	CHECK_INT(lr_engine_decide(&cx, &r, NULL, 0, 1, &d, NULL), 1);
	CHECK_INT(d.action, LR_ACTION_DENY);
	lr_engine_deny_message(t, &d, 1, msg, sizeof(msg));
	CHECK(strstr(msg, "no secrets (the request body could not be read") != NULL);

	/* a body that is not JSON: unreadable too */
	b = "{\"model\": \"app-fb\", \"messages\": [";
	req(&r, b);
	CHECK_INT(lr_engine_decide(&cx, &r, b, strlen(b), 0, &d, NULL), 1);
	CHECK_INT(d.action, LR_ACTION_DENY);

	/* the attempts of route fb */
	b = BODY("app-fb", "hello");
	req(&r, b);
	CHECK_INT(lr_engine_decide_step(&cx, &r, b, strlen(b), "fb", "big", &d), 0);
	CHECK_INT(d.action, LR_ACTION_ROUTE);
	CHECK(d.target >= 0 && strcmp(lr_table_str(t, lr_table_targets(t)[d.target].name), "big") == 0);
	CHECK_INT(lr_engine_decide_step(&cx, &r, b, strlen(b), "fb", "original", &d), 0);
	CHECK_INT(d.action, LR_ACTION_PASS);
	CHECK_STR(lr_table_str(t, d.route->name), "fb");
	/* a route that sets nothing: its own step is the app's request */
	CHECK_INT(lr_engine_decide_step(&cx, &r, b, strlen(b), "plain", "", &d), 0);
	CHECK_INT(d.action, LR_ACTION_PASS);
	/* gone from the table: the transport decides afresh */
	CHECK_INT(lr_engine_decide_step(&cx, &r, b, strlen(b), "fb", "gone", &d), LR_ENOTFOUND);
	CHECK_INT(lr_engine_decide_step(&cx, &r, b, strlen(b), "gone", "big", &d), LR_ENOTFOUND);
	CHECK(d.route == NULL);
	cx.t = NULL;
	CHECK_INT(lr_engine_decide_step(&cx, &r, b, strlen(b), "fb", "big", &d), LR_ENOTFOUND);

	/* no table: nothing matches, nothing refused */
	CHECK_INT(lr_engine_decide(&cx, &r, b, strlen(b), 1, &d, NULL), 0);
	CHECK_INT(d.action, LR_ACTION_NONE);

	lr_intent_cache_free(ic);
	free(t);
	return lr_test_done("test_engine");
}
