/*
 * test_claim.c - which routes claim connections to a host (lr_claim_host),
 * for the socket transport's endpoint redirection: only routes that test
 * nothing but host (and process), name the host (no bare "*"), send to an
 * http:// endpoint, and are enabled and not denies; lr_claim_host_tls, for
 * TLS connections the shim answers itself, also takes https:// endpoints.
 */
#include "lr_error.h"
#include "lr_match.h"
#include "lr_rules.h"
#include "lr_table.h"
#include "lr_test.h"
#include <stdlib.h>
#include <string.h>

static lr_table *compile(const char *json)
{
	void *blob = NULL;
	size_t n = 0;
	lr_rules_error err;

	if (lr_rules_compile(json, strlen(json), &blob, &n, &err) < 0) {
		fprintf(stderr, "rules do not compile: %s\n", err.msg);
		return NULL;
	}
	return blob;
}

static int claim(const lr_table *t, const char *host, const char *process)
{
	return lr_claim_host(t, host, strlen(host), process);
}

int main(void)
{
	lr_table *t = compile("{\"routes\": ["
		"{\"name\": \"model-too\", \"match\": {\"host\": \"a.test\", \"model\": \"gpt-4*\"},"
		" \"set\": {\"endpoint\": \"http://10.0.0.1:81/v1\"}},"
		"{\"name\": \"tls-ep\", \"match\": {\"host\": \"b.test\"}, \"set\": {\"endpoint\": \"https://10.0.0.2/v1\"}},"
		"{\"name\": \"no-ep\", \"match\": {\"host\": \"c.test\"}, \"set\": {\"model\": \"m\"}},"
		"{\"name\": \"deny\", \"match\": {\"host\": \"d.test\"}, \"deny\": \"no\"},"
		"{\"name\": \"off\", \"enabled\": false, \"match\": {\"host\": \"e.test\"}, \"set\": {\"endpoint\": \"http://10.0.0.5/\"}},"
		"{\"name\": \"star\", \"match\": {\"host\": \"*\"}, \"set\": {\"endpoint\": \"http://10.0.0.6/\"}},"
		"{\"name\": \"proc\", \"match\": {\"host\": \"p.test\", \"process\": \"node\"}, \"set\": {\"endpoint\": \"http://10.0.0.7/\"}},"
		"{\"name\": \"glob\", \"match\": {\"host\": \"*.llm.test\"}, \"set\": {\"endpoint\": \"http://10.0.0.8:9000/v1\"}},"
		"{\"name\": \"a-plain\", \"match\": {\"host\": \"a.test\"}, \"set\": {\"endpoint\": \"http://10.0.0.9/v1\"}}"
		"]}");

	CHECK(t != NULL);
	if (!t)
		return lr_test_done("test_claim");
	CHECK_INT(lr_claim_host(NULL, "a.test", 6, NULL), LR_ENOTFOUND);
	/* a route that also tests the model never claims; the next one does */
	CHECK_INT(claim(t, "a.test", "python3"), lr_table_find(t, "a-plain"));
	CHECK_INT(claim(t, "A.TEST", "python3"), lr_table_find(t, "a-plain")); /* hosts fold case */
	CHECK_INT(claim(t, "b.test", "python3"), LR_ENOTFOUND); /* https endpoint */
	CHECK_INT(claim(t, "c.test", "python3"), LR_ENOTFOUND); /* no endpoint */
	CHECK_INT(claim(t, "d.test", "python3"), LR_ENOTFOUND); /* deny */
	CHECK_INT(claim(t, "e.test", "python3"), LR_ENOTFOUND); /* disabled */
	CHECK_INT(claim(t, "anything.example", "python3"), LR_ENOTFOUND); /* bare "*" */
	CHECK_INT(claim(t, "p.test", "node"), lr_table_find(t, "proc"));
	CHECK_INT(claim(t, "p.test", "python3"), LR_ENOTFOUND);
	CHECK_INT(claim(t, "p.test", NULL), LR_ENOTFOUND);
	CHECK_INT(claim(t, "api.llm.test", "x"), lr_table_find(t, "glob"));
	CHECK_INT(claim(t, "llm.test", "x"), LR_ENOTFOUND);
	/* for a TLS connection the shim answers itself: an https endpoint
	 * claims too, everything else as above */
	CHECK_INT(lr_claim_host_tls(t, "b.test", 6, "python3"), lr_table_find(t, "tls-ep"));
	CHECK_INT(lr_claim_host_tls(t, "a.test", 6, "python3"), lr_table_find(t, "a-plain"));
	CHECK_INT(lr_claim_host_tls(t, "c.test", 6, "python3"), LR_ENOTFOUND);
	CHECK_INT(lr_claim_host_tls(t, "d.test", 6, "python3"), LR_ENOTFOUND);
	CHECK_INT(lr_claim_host_tls(t, "e.test", 6, "python3"), LR_ENOTFOUND);
	CHECK_INT(lr_claim_host_tls(t, "zzz.example", 11, "python3"), LR_ENOTFOUND);
	CHECK_INT(lr_claim_host_tls(NULL, "b.test", 6, NULL), LR_ENOTFOUND);
	free(t);
	return lr_test_done("test_claim");
}
