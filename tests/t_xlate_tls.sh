# t_xlate_tls.sh - routes between API formats on the TLS transport (issue
# 17): unmodified HTTPS apps (Python's http.client on the system OpenSSL,
# tests/clients/xlate_matrix.py) in a private network where api.openai.com,
# api.anthropic.com and alt.llm.test are local mocks with certificates of a
# private CA (tests/lib_https.sh).  An OpenAI chat app at
# https://api.openai.com is sent to an Anthropic target at
# https://alt.llm.test, plain, streamed, with a tool call and with the
# target's 429 in OpenAI's shape; an Anthropic app at
# https://api.anthropic.com to an OpenAI target there, plain, streamed and
# a tool call; and a Gemini app to each.  Neither the app's key nor any
# request reaches the app's own host, and no app key reaches the translated
# target's host, with or without a route key.  The translated request is
# carried by the shim's own client (shim/lr_upstream.c) and its answer
# translated in front of the served request (shim/lr_xsink.c).  A
# redacting route (issue 20) on TLS: the app's own host sees placeholders
# only, the app reads its values back, whole and streamed, and after a
# translation too.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib_https.sh
. "$(dirname "$0")/lib_https.sh"
https_ns_enter "$@"
lr_setup xlate_tls
https_world
https_mocks
A=$T/audit.jsonl
LLMROUTE_AUDIT=$A
ANT_KEY=sk-ant-route OAI_KEY=sk-oai-route GEM_KEY=gem-route
export LLMROUTE_AUDIT ANT_KEY OAI_KEY GEM_KEY
ALT=https://alt.llm.test
cat >"$T/rules.json" <<EOF
{"routes": [
   {"name": "to-anthropic", "match": {"model": "to-anthropic"},
    "set": {"model": "claude-t", "endpoint": "$ALT/v1", "format": "anthropic", "api_key_env": "ANT_KEY"}},
   {"name": "to-openai", "match": {"model": "to-openai"},
    "set": {"model": "gpt-t", "endpoint": "$ALT/v1", "format": "openai", "api_key_env": "OAI_KEY"}},
   {"name": "nokey-anthropic", "match": {"model": "nokey-anthropic"},
    "set": {"model": "claude-t", "endpoint": "$ALT/v1", "format": "anthropic"}},
   {"name": "nokey-openai", "match": {"model": "nokey-openai"},
    "set": {"model": "gpt-t", "endpoint": "$ALT/v1", "format": "openai"}},
   {"name": "red-anthropic", "match": {"model": "red-anthropic"}, "guard": {"redact": ["email"]},
    "set": {"model": "claude-t", "endpoint": "$ALT/v1", "format": "anthropic", "api_key_env": "ANT_KEY"}},
   {"name": "hide-mail", "match": {"pii": ["email"]}, "guard": {"redact": ["email"]}}]}
EOF
"$CTL" load "$T/rules.json" >/dev/null || exit 1

# matrix APP_BASE CASE...: each "ok"/"not ok" line of the client is a check
matrix() {
	base=$1
	shift
	shim "$PY" "$ROOT/tests/clients/xlate_matrix.py" "$base" "$T/m/alt.llm.test.https.log" "$ALT" "$@" \
		>"$T/mx" 2>"$T/mxerr"
	[ -s "$T/mx" ] || fail "xlate_matrix.py ran no case: $(cat "$T/mxerr")"
	while IFS= read -r l; do
		case $l in "ok - "*) ok "TLS: ${l#ok - }" ;; *) fail "TLS: ${l#not ok - }" ;; esac
	done <"$T/mx"
}

https_reset
matrix https://api.openai.com "openai>anthropic" "openai>anthropic/stream" "openai>anthropic/tool/stream" \
	"openai>anthropic/err=429" "openai>anthropic/nokey" "openai>anthropic/nokey/stream" \
	"gemini>anthropic/stream"
check "TLS, openai app: nothing reached https://api.openai.com, every request reached alt" mocks_ok \
	"m('api.openai.com.https') == [] and len(m('alt.llm.test.https')) == 7 and all(r['path'] == '/v1/messages' for r in m('alt.llm.test.https'))"
check "TLS, openai app: the target's SNI and Host are alt.llm.test" mocks_ok \
	"all(r.get('sni') == 'alt.llm.test' and r['headers']['host'] == 'alt.llm.test' for r in m('alt.llm.test.https'))"
check "TLS, openai app: no app key at the translated target's host, the route key as x-api-key" mocks_ok \
	"'sk-app' not in text('alt.llm.test') and 'sk-app' not in text('api.openai.com') and [r['headers'].get('x-api-key') for r in m('alt.llm.test.https')].count('sk-ant-route') == 5"
check "TLS, openai app: the audit names the anthropic target and its token counts" audit_ok "$A" \
	"len(a) == 7 and all(x['gen_ai.provider.name'] == 'anthropic' and x['gen_ai.request.model'] == 'claude-t' for x in a) and a[0]['gen_ai.usage.output_tokens'] == 4 and 'sk-app' not in open('$A').read()"

https_reset
matrix https://api.anthropic.com "anthropic>openai" "anthropic>openai/stream" "anthropic>openai/tool" \
	"anthropic>openai/nokey"
check "TLS, anthropic app: nothing reached https://api.anthropic.com, every request reached alt" mocks_ok \
	"m('api.anthropic.com.https') == [] and len(m('alt.llm.test.https')) == 4 and all(r['path'] == '/v1/chat/completions' for r in m('alt.llm.test.https'))"
check "TLS, anthropic app: no app key at the translated target's host, no anthropic-version" mocks_ok \
	"'sk-app' not in text('alt.llm.test') and all('anthropic-version' not in r['headers'] for r in m('alt.llm.test.https'))"

# Redaction on TLS: an https://api.openai.com app with an address in its
# prompt; the shim's own client carries it to the app's own host with a
# placeholder, and restores the answer (whole, then streamed with the
# placeholder cut across events: x-mock-echo: split).
https_reset
MAIL=jane.doe@example.com
shim "$PY" - "$MAIL" >"$T/red.out" 2>"$T/red.err" <<'PYEOF'
import http.client, json, ssl, sys
c = http.client.HTTPSConnection("api.openai.com", 443, timeout=10, context=ssl.create_default_context())
h = {"Content-Type": "application/json", "Authorization": "Bearer sk-app"}
body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "write to " + sys.argv[1]}]}
c.request("POST", "/v1/chat/completions", json.dumps(body), dict(h, **{"x-mock-echo": "1"}))
r = c.getresponse()
print(r.status, json.loads(r.read())["choices"][0]["message"]["content"])
body["stream"] = True
c.request("POST", "/v1/chat/completions", json.dumps(body), dict(h, **{"x-mock-echo": "split"}))
r = c.getresponse()
text = ""
for line in r.read().decode().splitlines():
    if line.startswith("data: {"):
        text += json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
print(r.status, text)
PYEOF
check "TLS redact: the app got its value back, whole" grep -qx "200 you said: write to $MAIL" "$T/red.out"
check "TLS redact: and streamed" sh -c "sed -n 2p '$T/red.out' | grep -qx '200 you said: write to $MAIL'"
check "TLS redact: the app's host saw placeholders only" mocks_ok \
	"len(m('api.openai.com.https')) == 2 and '[EMAIL_1]' in text('api.openai.com') and 'example.com' not in text('api.openai.com')"
check "TLS redact: audit says redact, applied, on tls" audit_ok "$A" \
	"len(a) == 2 and all(x['llmroute.transport'] == 'tls' and x['llmroute.guard.action'] == 'redact' and x['llmroute.applied'] is True for x in a) and 'example.com' not in open('$A').read()"

# Redacted and translated: the Anthropic target sees the placeholder, the
# OpenAI app reads its value in its own format, whole and streamed.
https_reset
shim "$PY" - "$MAIL" >"$T/redx.out" 2>"$T/redx.err" <<'PYEOF'
import http.client, json, ssl, sys
c = http.client.HTTPSConnection("api.openai.com", 443, timeout=10, context=ssl.create_default_context())
h = {"Content-Type": "application/json", "Authorization": "Bearer sk-app"}
body = {"model": "red-anthropic", "messages": [{"role": "user", "content": "mail " + sys.argv[1]}]}
c.request("POST", "/v1/chat/completions", json.dumps(body), dict(h, **{"x-mock-echo": "1"}))
r = c.getresponse()
print(r.status, json.loads(r.read())["choices"][0]["message"]["content"])
body["stream"] = True
c.request("POST", "/v1/chat/completions", json.dumps(body), dict(h, **{"x-mock-echo": "split"}))
r = c.getresponse()
text = ""
for line in r.read().decode().splitlines():
    if line.startswith("data: {"):
        for ch in json.loads(line[6:])["choices"]:
            text += (ch.get("delta") or {}).get("content") or ""
print(r.status, text)
PYEOF
check "TLS redact+translate: whole answer restored in the app's format" grep -qx "200 you said: mail $MAIL" "$T/redx.out"
check "TLS redact+translate: streamed" sh -c "sed -n 2p '$T/redx.out' | grep -qx '200 you said: mail $MAIL'"
check "TLS redact+translate: the anthropic target saw placeholders only" mocks_ok \
	"len(m('alt.llm.test.https')) == 2 and all(r['path'] == '/v1/messages' for r in m('alt.llm.test.https')) and '[EMAIL_1]' in text('alt.llm.test') and 'example.com' not in text('alt.llm.test') and m('api.openai.com.https') == []"
