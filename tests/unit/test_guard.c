/*
 * test_guard.c - the detectors (lr_guard.h), positives and near misses for
 * each; the body scan (keys skipped, offsets); redaction and restore
 * (lr_redact.h); and the rules: "pii" in a match, "guard.redact", a deny
 * on findings, and a deny that an unread body cannot walk around.
 */
#include "lr_test.h"
#include "lr_engine.h"
#include "lr_error.h"
#include "lr_guard.h"
#include "lr_redact.h"
#include "lr_rules.h"

#include <stdlib.h>
#include <string.h>

/* The text's first finding is `want` of kind `kind` (-1: no finding). */
static void one(const char *text, int kind, const char *want)
{
	lr_guard_findings g;

	memset(&g, 0, sizeof(g));
	lr_guard_scan_text(text, strlen(text), 0, &g);
	if (kind < 0) {
		if (g.n)
			fprintf(stderr, "false positive in \"%s\": %s \"%.*s\"\n", text,
				lr_guard_kind_name((int)g.hit[0].kind), (int)g.hit[0].len, text + g.hit[0].off);
		CHECK_INT(g.n, 0);
		return;
	}
	CHECK_INT(g.n, 1);
	if (g.n < 1) {
		fprintf(stderr, "missed in \"%s\"\n", text);
		return;
	}
	CHECK_STR(lr_guard_kind_name((int)g.hit[0].kind), lr_guard_kind_name(kind));
	CHECK_INT(g.hit[0].len, strlen(want));
	CHECK(strncmp(text + g.hit[0].off, want, strlen(want)) == 0);
}

static void emails(void)
{
	one("write to jane.doe+x@example.co.uk. thanks", LR_GK_EMAIL, "jane.doe+x@example.co.uk");
	one("a_b@sub-domain.example.org", LR_GK_EMAIL, "a_b@sub-domain.example.org");
	one("user@localhost", -1, NULL);
	one("x@1.2", -1, NULL);
	one("@example.com", -1, NULL);
	one("name@.com", -1, NULL);
	one("use git@ or so", -1, NULL);
}

static void phones(void)
{
	one("call +44 20 7946 0958 now", LR_GK_PHONE, "+44 20 7946 0958");
	one("+14155552671", LR_GK_PHONE, "+14155552671");
	one("(555) 123-4567", LR_GK_PHONE, "(555) 123-4567");
	one("tel 555-123-4567.", LR_GK_PHONE, "555-123-4567");
	one("030 1234 5678", LR_GK_PHONE, "030 1234 5678");
	one("+12 34", -1, NULL);             /* too few digits */
	one("+1234567890123456", -1, NULL);  /* more than E.164's 15 */
	one("on 2024-01-15 at", -1, NULL);   /* a date */
	one("id 5551234567", -1, NULL);      /* ten digits without groups: no telling */
}

static void ibans(void)
{
	one("IBAN DE89 3704 0044 0532 0130 00 ok", LR_GK_IBAN, "DE89 3704 0044 0532 0130 00");
	one("GB82WEST12345698765432", LR_GK_IBAN, "GB82WEST12345698765432");
	one("DE89 3704 0044 0532 0130 01", -1, NULL); /* mod-97 fails */
	one("GB82WEST1234569876543", -1, NULL);       /* a character short */
	one("XX89370400440532013000", -1, NULL);      /* no such country */
}

static void cards(void)
{
	one("card 4111 1111 1111 1111 exp", LR_GK_CARD, "4111 1111 1111 1111");
	one("5500-0000-0000-0004", LR_GK_CARD, "5500-0000-0000-0004");
	one("378282246310005", LR_GK_CARD, "378282246310005");
	one("4111111111111112", -1, NULL);           /* Luhn fails */
	one("0000 0000 0000 0000", -1, NULL);        /* Luhn passes, no card */
	one("12345678901234567890123", -1, NULL);    /* too long, nor a tail of it */
	one("order 4111 1111 1111 1112 5", -1, NULL);
}

static void national_ids(void)
{
	one("SSN 123-45-6789", LR_GK_NATIONAL_ID, "123-45-6789");
	one("000-12-3456", -1, NULL);
	one("666-12-3456", -1, NULL);
	one("900-12-3456", -1, NULL);
	one("123-00-4567", -1, NULL);
	one("123-45-0000", -1, NULL);
	one("123-45-678", -1, NULL);
}

static void ips(void)
{
	one("host 10.0.0.1 is", LR_GK_IP, "10.0.0.1");
	one("192.168.1.254.", LR_GK_IP, "192.168.1.254");
	one("at 2001:db8::1 now", LR_GK_IP, "2001:db8::1");
	one("fe80::1ff:fe23:4567:890a", LR_GK_IP, "fe80::1ff:fe23:4567:890a");
	one("version 1.2.3.4.5", -1, NULL);
	one("256.1.1.1", -1, NULL);
	one("01.2.3.4", -1, NULL);
	one("release v1.2.3.4", -1, NULL);
	one("at 12:30:45", -1, NULL);
	one("std::map", -1, NULL);
	one("cafe::babe", -1, NULL); /* no digit: prose, not an address */
}

static void keys(void)
{
	one("key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0f", LR_GK_API_KEY,
	    "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0f");
	one("sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa-xyz", LR_GK_API_KEY,
	    "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa-xyz");
	one("sk-1234567890abcdefghijKLMN", LR_GK_API_KEY, "sk-1234567890abcdefghijKLMN");
	one("AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", LR_GK_API_KEY, "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q");
	one("AKIAIOSFODNN7EXAMPLE", LR_GK_API_KEY, "AKIAIOSFODNN7EXAMPLE");
	one("ASIAY34FZKBOKMUTVV7A", LR_GK_API_KEY, "ASIAY34FZKBOKMUTVV7A");
	one("ghp_1234567890abcdefghijABCDEFGHIJ123456", LR_GK_API_KEY, "ghp_1234567890abcdefghijABCDEFGHIJ123456");
	one("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123", LR_GK_API_KEY,
	    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123");
	one("xoxb-123456789012-abcdefABCDEF", LR_GK_API_KEY, "xoxb-123456789012-abcdefABCDEF");
	one("sk_live_4eC39HqLyjWDarjtT1zdp7dc", LR_GK_API_KEY, "sk_live_4eC39HqLyjWDarjtT1zdp7dc");
	one("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
	    LR_GK_API_KEY,
	    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U");
	one("use sk-learn for this", -1, NULL);
	one("a risk-free1234567890abcdefghij plan", -1, NULL); /* not at a word start */
	one("sk-this-is-not-a-real-key-at-all", -1, NULL);      /* no digit */
	one("AKIA1234", -1, NULL);
	one("AKIAIOSFODNN7EXAMPLEX", -1, NULL);                 /* one too long */
	one("ghp_short1", -1, NULL);
	one("eyJhbGciOiJIUzI1NiJ9 alone", -1, NULL);
}

static void private_keys(void)
{
	const char *pem = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEA\\n-----END RSA PRIVATE KEY-----";
	char text[256];

	snprintf(text, sizeof(text), "here: %s done", pem);
	one(text, LR_GK_PRIVATE_KEY, pem);
	one("-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg", LR_GK_PRIVATE_KEY,
	    "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg"); /* cut: to the end */
	one("-----BEGIN PUBLIC KEY-----\\nMIIBIjANBgkq\\n-----END PUBLIC KEY-----", -1, NULL);
	one("-----BEGIN CERTIFICATE-----", -1, NULL);
}

/* A finding right after a JSON escape is still at a word start. */
static void escapes(void)
{
	one("line\\n4111 1111 1111 1111", LR_GK_CARD, "4111 1111 1111 1111");
	one("x\\u00204111111111111111", LR_GK_CARD, "4111111111111111");
}

#define BODY "{\"model\":\"gpt-4o\",\"jane@example.com\":1,\"messages\":[{\"role\":\"user\"," \
	"\"content\":\"mail jane@example.com or bob@example.org, card 4111 1111 1111 1111, again jane@example.com\"}]}"

/* A copy (the served path's sink keeps its own) restores as the
 * original, and outlives it. */
static void dup_restores(const lr_redact_map *m, const char *answer)
{
	lr_redact_map d, empty = {0};
	char *a = NULL, *b = NULL;
	size_t alen, blen;

	CHECK_INT(lr_redact_dup(m, &d), 0);
	CHECK_INT(d.n, m->n);
	CHECK(d.n && d.e[0].val != m->e[0].val);
	CHECK_INT(lr_redact_restore(m, answer, strlen(answer), &a, &alen), 3);
	CHECK_INT(lr_redact_restore(&d, answer, strlen(answer), &b, &blen), 3);
	CHECK(a && b && alen == blen && memcmp(a, b, alen) == 0);
	free(a);
	free(b);
	lr_redact_free(&d);
	CHECK_INT(lr_redact_dup(&empty, &d), 0);
	CHECK(d.n == 0 && d.e == NULL);
}

static void scan_and_redact(void)
{
	static lr_guard_findings g;
	lr_redact_map m;
	char *out = NULL, *back = NULL;
	size_t olen, blen;
	const char *answer = "{\"content\":\"Sent to [EMAIL_1] and [EMAIL_2]; [CARD_1] charged; [EMAIL_9] [email_1]\"}";

	CHECK_INT(lr_guard_scan(BODY, strlen(BODY), &g), 4); /* the key is skipped */
	CHECK_INT(g.count[LR_GK_EMAIL], 3);
	CHECK_INT(g.count[LR_GK_CARD], 1);
	CHECK_INT(g.mask, (1u << LR_GK_EMAIL) | (1u << LR_GK_CARD));
	CHECK(strncmp(BODY + g.hit[0].off, "jane@example.com", 16) == 0);

	CHECK_INT(lr_redact_body(BODY, strlen(BODY), &g, 1u << LR_GK_EMAIL, &m, &out, &olen), 3);
	CHECK(out && strstr(out, "mail [EMAIL_1] or [EMAIL_2], card 4111 1111 1111 1111, again [EMAIL_1]\""));
	CHECK(out && strstr(out, "\"jane@example.com\":1")); /* keys are not values */
	CHECK_INT(m.n, 2);
	free(out);
	lr_redact_free(&m);

	CHECK_INT(lr_redact_body(BODY, strlen(BODY), &g, LR_GUARD_ALL, &m, &out, &olen), 4);
	CHECK(out && strstr(out, "card [CARD_1], again"));
	CHECK(out && !strstr(out + 40, "@example"));
	CHECK_INT(lr_redact_restore(&m, answer, strlen(answer), &back, &blen), 3);
	CHECK_STR(back, "{\"content\":\"Sent to jane@example.com and bob@example.org; 4111 1111 1111 1111 charged; "
			"[EMAIL_9] [email_1]\"}");
	free(back);
	CHECK_INT(lr_redact_restore(&m, "no placeholder [", 16, &back, &blen), 0);
	CHECK(back == NULL);
	free(out);
	dup_restores(&m, answer);
	lr_redact_free(&m);

	CHECK_INT(lr_redact_body(BODY, strlen(BODY), &g, 1u << LR_GK_IBAN, &m, &out, &olen), 0);
	CHECK(out == NULL);
	g.truncated = 1; /* not every finding located: no partial promise */
	CHECK_INT(lr_redact_body(BODY, strlen(BODY), &g, LR_GUARD_ALL, &m, &out, &olen), LR_ETOOBIG);
	CHECK(out == NULL);
}

static void many(void)
{
	static lr_guard_findings g;
	char *body = malloc(200 * 24 + 64);
	size_t n = 0;
	int k;

	strcpy(body, "{\"input\":\"");
	n = strlen(body);
	for (k = 0; k < 200; k++)
		n += (size_t)sprintf(body + n, "u%d@example.com ", k);
	strcpy(body + n, "\"}");
	CHECK_INT(lr_guard_scan(body, strlen(body), &g), 200);
	CHECK_INT(g.n, LR_GUARD_MAX_HITS);
	CHECK(g.truncated);
	free(body);
}

static const char *RULES =
	"{\"routes\": ["
	" {\"name\": \"keys-no\", \"match\": {\"pii\": [\"api_key\", \"private_key\"]}, \"deny\": \"no keys\"},"
	" {\"name\": \"pii-local\", \"match\": {\"pii\": [\"card\"]}, \"set\": {\"model\": \"local\"}},"
	" {\"name\": \"redact\", \"match\": {\"pii\": true}, \"guard\": {\"redact\": [\"email\"]}},"
	" {\"name\": \"clean\", \"match\": {\"pii\": false}, \"set\": {\"model\": \"cheap\"}}]}";

static void decide(lr_engine_ctx *cx, const char *text, int unread, const char *want_route, int action)
{
	char body[512];
	const char *url = "https://api.openai.com/v1/chat/completions";
	static lr_request r;
	lr_decision d;

	snprintf(body, sizeof(body), "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}", text);
	lr_request_init_as(&r, url, strlen(url), unread ? NULL : body, unread ? 0 : strlen(body), "app", 0);
	lr_engine_decide(cx, &r, unread ? NULL : body, unread ? 0 : strlen(body), unread, &d, NULL);
	CHECK_INT(d.action, action);
	CHECK_STR(d.route ? lr_table_str(cx->t, d.route->name) : "", want_route);
}

static void rules(void)
{
	void *blob = NULL;
	size_t n = 0;
	lr_rules_error err;
	lr_engine_ctx cx = {NULL, NULL, NULL, 1795000000};
	const char *bad = "{\"routes\": [{\"name\": \"x\", \"match\": {\"pii\": [\"dna\"]}}]}";
	const char *bad2 = "{\"routes\": [{\"name\": \"x\", \"deny\": \"no\", \"guard\": {\"redact\": true}}]}";

	CHECK_INT(lr_rules_compile(RULES, strlen(RULES), &blob, &n, &err), 0);
	cx.t = blob;
	CHECK(cx.t && (cx.t->needs & LR_NEED_GUARD));
	decide(&cx, "my key is AKIAIOSFODNN7EXAMPLE", 0, "keys-no", LR_ACTION_DENY);
	decide(&cx, "card 4111 1111 1111 1111", 0, "pii-local", LR_ACTION_ROUTE);
	decide(&cx, "mail jane@example.com", 0, "redact", LR_ACTION_ROUTE);
	decide(&cx, "nothing personal", 0, "clean", LR_ACTION_ROUTE);
	decide(&cx, "", 1, "keys-no", LR_ACTION_DENY); /* unread: the deny could match */
	free(blob);
	CHECK(lr_rules_compile(bad, strlen(bad), &blob, &n, &err) < 0);
	CHECK(strstr(err.msg, "dna") != NULL);
	CHECK(lr_rules_compile(bad2, strlen(bad2), &blob, &n, &err) < 0);
}

int main(void)
{
	emails();
	phones();
	ibans();
	cards();
	national_ids();
	ips();
	keys();
	private_keys();
	escapes();
	scan_and_redact();
	many();
	rules();
	return lr_test_done("test_guard");
}
