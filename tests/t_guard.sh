# t_guard.sh - guardrails in the shim (issue 20): the curl command line and
# Python's http.client against the mock (which echoes the prompt back with
# x-mock-echo): routing on findings, a deny on a key, redaction with the
# values put back into the app's answer (and never seen by the mock), in a
# stream too (curl -N, placeholders cut across events), a socket client
# redacted through the shim's own client (plain and streamed), and an audit
# with the detectors' kinds and counts but no value.
. "$(dirname "$0")/lib.sh"
# needs: unsanitized (it runs Debian's curl binary, which an ASan runtime in LD_PRELOAD hangs)
lr_setup guard
start_mock
P=$MOCK_PORT
U=/v1/chat/completions
LLMROUTE_AUDIT=$T/audit.jsonl
export LLMROUTE_AUDIT
load_rules '{"routes": [
 {"name": "no-keys", "match": {"pii": ["api_key", "private_key"]}, "deny": "no secrets to the model"},
 {"name": "cards-local", "match": {"pii": ["card", "iban"]}, "set": {"model": "local-llm"}},
 {"name": "hide-mail", "match": {"pii": ["email", "phone"]}, "guard": {"redact": ["email", "phone"]}}]}'
MAIL=jane.doe@example.com
PHONE="+44 20 7946 0958"
body() { printf '{"model":"gpt-4o","messages":[{"role":"user","content":"%s"}]%s}' "$1" "${2:-}"; }
ccurl() { shim curl -sS --max-time 10 -H 'Content-Type: application/json' -H 'x-mock-echo: 1' "$@"; }

# Routing on a finding: a card goes to the local model, unchanged.
ccurl -o "$T/out" -d "$(body 'pay with 4111 1111 1111 1111')" "$MOCK$U"
check "card: routed to the local model" last_req "d['model'] == 'local-llm'"
check "card: the body is otherwise the app's" last_req "b'4111 1111 1111 1111' in d['raw']"
check "card: audit names the route and the kind" audit_ok "$LLMROUTE_AUDIT" \
	"r['llmroute.rule'] == 'cards-local' and r['llmroute.guard.findings'] == {'card': 1} and r['llmroute.guard.action'] == 'route'"

# A key is denied: curl exits 9, the mock gets nothing.
n=$(mock_count)
ccurl -o /dev/null -d "$(body 'my key AKIAIOSFODNN7EXAMPLE')" "$MOCK$U" 2>"$T/err"
rc=$?
check "key: denied (curl exit 9)" [ "$rc" = 9 ]
check "key: nothing reached the mock" [ "$(mock_count)" = "$n" ]
check "key: audit says deny, api_key" audit_ok "$LLMROUTE_AUDIT" \
	"r['llmroute.guard.action'] == 'deny' and r['llmroute.guard.findings'] == {'api_key': 1}"

# Redaction: the mock sees placeholders, the app gets its values back.
ccurl -o "$T/out" -d "$(body "mail $MAIL or call $PHONE, again $MAIL")" "$MOCK$U"
check "redact: the mock saw placeholders" last_req \
	"b'mail [EMAIL_1] or call [PHONE_1], again [EMAIL_1]' in d['raw'] and b'example.com' not in d['raw'] and b'7946' not in d['raw']"
check "redact: the app got the values back" json_ok "$T/out" \
	"d['choices'][0]['message']['content'] == 'you said: mail $MAIL or call $PHONE, again $MAIL'"
check "redact: audit has kinds and counts" audit_ok "$LLMROUTE_AUDIT" \
	"r['llmroute.guard.findings'] == {'email': 2, 'phone': 1} and r['llmroute.guard.action'] == 'redact' and r['llmroute.applied'] is True"

# The same through Python's http.client (a socket client): the shim's own
# client carries it redacted, and the answer is restored before the app
# reads it (held whole, re-framed).  A second request on the same
# connection (now served) is redacted too.
shim "$PY" - "$P" "$MAIL" "$PHONE" >"$T/py.out" 2>"$T/py.err" <<'PYEOF'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
for text in ("write to " + sys.argv[2], "call " + sys.argv[3] + " or " + sys.argv[2]):
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": text}]})
    c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json", "x-mock-echo": "1"})
    r = c.getresponse()
    print(r.status, json.loads(r.read())["choices"][0]["message"]["content"])
PYEOF
check "python: the app got its value back" grep -qx "200 you said: write to $MAIL" "$T/py.out"
check "python: the mock saw a placeholder" last_req "b'write to [EMAIL_1]' in d['raw'] and b'example.com' not in d['raw']" 2
check "python: a second request on the served connection, restored" \
	grep -qx "200 you said: call $PHONE or $MAIL" "$T/py.out"
check "python: its mock request had placeholders only" last_req \
	"b'call [PHONE_1] or [EMAIL_1]' in d['raw'] and b'example.com' not in d['raw'] and b'7946' not in d['raw']"
check "python: audit says redact, applied, on the socket" audit_ok "$LLMROUTE_AUDIT" \
	"r['llmroute.transport'] == 'socket' and r['llmroute.guard.action'] == 'redact' and r['llmroute.applied'] is True and r['llmroute.not_applied'] is None"

# A stream through libcurl (curl -N): the mock sees placeholders and
# streams them back cut across events ("[EMA", "IL_1"); the app reads its
# values in the deltas.
ccurl -N -H 'x-mock-echo: split' -o "$T/sse" -d "$(body "mail $MAIL or $PHONE" ',"stream":true')" "$MOCK$U"
check "stream: the mock saw placeholders" last_req "b'mail [EMAIL_1] or [PHONE_1]' in d['raw'] and b'example.com' not in d['raw']"
curl -sS -N --max-time 10 -H 'x-mock-echo: split' -o "$T/raw.sse" -d "$(body 'mail [EMAIL_1] or [PHONE_1]' ',"stream":true')" "$MOCK$U"
check "stream: the mock cuts placeholders across events" grep -q '"content": "il \["' "$T/raw.sse"
cat >"$T/deltas.py" <<'PYEOF'
import json, sys
text = ""
for line in open(sys.argv[1], encoding="utf-8"):
    if line.startswith("data: {"):
        for ch in json.loads(line[6:])["choices"]:
            text += (ch.get("delta") or {}).get("content") or ""
print(text)
PYEOF
check "stream: the app's deltas carry the values" sh -c "'$PY' '$T/deltas.py' '$T/sse' | grep -qx 'you said: mail $MAIL or $PHONE'"
check "stream: the SSE ends as it came" sh -c "tail -n 2 '$T/sse' | grep -q '^data: \[DONE\]'"
check "stream: audit says redact, applied" audit_ok "$LLMROUTE_AUDIT" \
	"r['llmroute.guard.action'] == 'redact' and r['llmroute.applied'] is True and r['llmroute.guard.findings'] == {'email': 1, 'phone': 1}"

# The multi interface (curl --parallel): two redacted requests at once,
# each answer with its own values back, the mock seeing placeholders only.
body "mail $MAIL now" >"$T/p1.json"
body "call $PHONE now" >"$T/p2.json"
shim curl -sS --max-time 10 --parallel --parallel-immediate -H 'Content-Type: application/json' -H 'x-mock-echo: 1' \
	--data-binary @"$T/p1.json" -o "$T/par1" "$MOCK$U" --next \
	-H 'Content-Type: application/json' -H 'x-mock-echo: 1' --data-binary @"$T/p2.json" -o "$T/par2" "$MOCK$U" 2>"$T/par.err"
check "multi (curl --parallel): each answer has its own value back" sh -c \
	"grep -q 'you said: mail $MAIL now' '$T/par1' && grep -q 'you said: call $PHONE now' '$T/par2'"
for i in 1 2; do
	check "multi: request $i reached the mock with a placeholder, not the value" last_req \
		"(b'[EMAIL_1]' in d['raw'] or b'[PHONE_1]' in d['raw']) and b'example.com' not in d['raw'] and b'7946' not in d['raw']" "$i"
done

# A stream through Python's http.client (a socket client): redacted, the
# placeholders cut across events restored delta by delta.
shim "$PY" - "$P" "$MAIL" >"$T/pys.out" 2>"$T/pys.err" <<'PYEOF'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
body = json.dumps({"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "mail " + sys.argv[2]}]})
c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json", "x-mock-echo": "split"})
r = c.getresponse()
text = ""
for line in r.read().decode().splitlines():
    if line.startswith("data: {"):
        text += json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
print(r.status, text)
PYEOF
check "python stream: the app's deltas carry the value" grep -qx "200 you said: mail $MAIL" "$T/pys.out"
check "python stream: the mock saw a placeholder" last_req "b'mail [EMAIL_1]' in d['raw'] and b'example.com' not in d['raw']"
check "python stream: audit says redact, applied" audit_ok "$LLMROUTE_AUDIT" \
	"r['llmroute.transport'] == 'socket' and r['llmroute.guard.action'] == 'redact' and r['llmroute.applied'] is True"

# Without the shim's own client (LLMROUTE_OWN_CLIENT=off) the values cannot
# be put back on a socket: sent as the app made it, and said so.
LLMROUTE_OWN_CLIENT=off shim "$PY" - "$P" "$MAIL" >"$T/pyo.out" 2>"$T/pyo.err" <<'PYEOF'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "write to " + sys.argv[2]}]})
c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json", "x-mock-echo": "1"})
r = c.getresponse()
print(r.status, json.loads(r.read())["choices"][0]["message"]["content"])
PYEOF
check "no own client: answered as without the shim" grep -qx "200 you said: write to $MAIL" "$T/pyo.out"
check "no own client: audit says the redaction was not applied" audit_ok "$LLMROUTE_AUDIT" \
	"r['llmroute.transport'] == 'socket' and r['llmroute.guard.action'] == 'redact_not_applied' and r['llmroute.not_applied'] == 'cannot_restore_redacted'"

# Nothing personal: no route, no findings in the audit.
ccurl -o /dev/null -d "$(body 'what is 2+2, version 1.2.3.4.5')" "$MOCK$U"
check "clean: sent unrouted" last_req "d['model'] == 'gpt-4o'"
check "clean: no findings" audit_ok "$LLMROUTE_AUDIT" "r['llmroute.guard.findings'] is None and r['llmroute.rule'] is None"

# Never a value in the audit file.
check "audit: no value of any finding" sh -c "! grep -q -e '$MAIL' -e '7946' -e '4111' -e 'AKIA' -e 'example.com' '$LLMROUTE_AUDIT'"

# explain shows the kinds for a body, not the values.
body "mail $MAIL, card 4111 1111 1111 1111" >"$T/body.json"
"$CTL" explain --url "$MOCK$U" --body "$T/body.json" >"$T/explain" 2>&1
check "explain: findings kinds" grep -q "^guard: .*email=1.*card=1" "$T/explain"
