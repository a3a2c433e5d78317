# t_policy.sh - routing policy with unmodified clients: one app sends a
# "Define ..." request and a compliance question; intents send them to
# different models with different overrides, the same way through libcurl
# (the curl tool) and through a socket (Python's http.client).
# needs: unsanitized (it runs Debian's curl binary, which an ASan runtime in LD_PRELOAD hangs)
. "$(dirname "$0")/lib.sh"
lr_setup policy
start_mock
A=$T/audit.jsonl
LLMROUTE_AUDIT=$A
export LLMROUTE_AUDIT

load_rules '{
 "intents": [
  {"name": "define", "keywords": ["define", "what is", "meaning of"]},
  {"name": "compliance", "keywords": ["gdpr", "hipaa", "compliance"],
   "patterns": ["\\bpolic(y|ies)\\b"], "include_system": true}],
 "routes": [
  {"name": "define-small", "match": {"host": "127.0.0.1", "intent": "define"},
   "set": {"model": "gpt-4o-mini", "cap": {"max_tokens": 256}, "params": {"temperature": 0}}},
  {"name": "compliance-big", "match": {"host": "127.0.0.1", "intent": "compliance"},
   "set": {"model": "gpt-4.1", "system_prefix": "Answer carefully and cite the policy."}},
  {"name": "long-prompts", "match": {"host": "127.0.0.1", "prompt_tokens": {"gt": 2000}},
   "set": {"model": "gpt-4.1-long"}}]}'

define='{"model":"gpt-4o","max_tokens":2000,"messages":[{"role":"user","content":"Define entropy in one line."}]}'
policy='{"model":"gpt-4o","messages":[{"role":"user","content":"Does our data retention policy allow keeping logs for 2 years?"}]}'
URL=$MOCK/v1/chat/completions

# the curl command line (libcurl transport)
for b in "$define" "$policy"; do
	shim curl -sS --max-time 10 "$URL" -H 'Content-Type: application/json' -d "$b" >/dev/null
	cp "$T/mock.log" "$T/after.$(mock_count)"
done
check "curl, Define: the small model, max_tokens capped, temperature set" last_req \
	"d['model'] == 'gpt-4o-mini' and json.loads(d['raw'])['max_tokens'] == 256 and json.loads(d['raw'])['temperature'] == 0" 2
check "curl, compliance: the big model with the system instruction first" last_req \
	"d['model'] == 'gpt-4.1' and json.loads(d['raw'])['messages'][0] == {'role': 'system', 'content': 'Answer carefully and cite the policy.'} and len(json.loads(d['raw'])['messages']) == 2"
check "curl: the rest of the body untouched" last_req \
	"json.loads(d['raw'])['messages'][1]['content'].startswith('Does our data retention policy')"

# the same app logic over a socket (Python http.client)
cat >"$T/app.py" <<PYEOF
import http.client, json
for body in [$(printf '%s' "$define" | sed 's/true/True/g'), $(printf '%s' "$policy")]:
    c = http.client.HTTPConnection("127.0.0.1", $MOCK_PORT)
    c.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    print(r.status, json.loads(r.read())["model"])
PYEOF
shim "$PY" "$T/app.py" >"$T/out"
check "socket transport: the same two decisions" sh -c "printf '200 gpt-4o-mini\n200 gpt-4.1\n' | cmp -s - '$T/out'"
check "socket transport, compliance: system instruction first" last_req \
	"json.loads(d['raw'])['messages'][0]['content'] == 'Answer carefully and cite the policy.'"
check "audit: each request names its route, curl and socket alike" audit_ok "$A" \
	"[x['llmroute.rule'] for x in a] == ['define-small', 'compliance-big'] * 2 and [x['llmroute.transport'] for x in a] == ['curl', 'curl', 'socket', 'socket'] and [x['llmroute.intent'] for x in a] == ['define', 'compliance'] * 2"

# a long prompt, by estimated size
long=$("$PY" -c "import json; print(json.dumps({'model': 'gpt-4o', 'messages': [{'role': 'user', 'content': 'summarize: ' + 'word ' * 2000}]}))")
shim curl -sS --max-time 10 "$URL" -H 'Content-Type: application/json' -d "$long" >/dev/null
check "prompt_tokens > 2000: the long-context model" last_req "d['model'] == 'gpt-4.1-long'"

# show lists every kind of condition and action
"$CTL" show >"$T/show"
check "show: intent, numeric bound and overrides listed" sh -c \
	"grep -q 'intent=define' '$T/show' && grep -q 'prompt_tokens>2000' '$T/show' && grep -q 'overrides=2' '$T/show'"

# explain says why
printf '%s' "$policy" >"$T/policy.json"
expect 0 "intent:      compliance (confidence 1.00)" "$CTL" explain --url "$URL" --body "$T/policy.json"
expect 0 'system:      prepends "Answer carefully' "$CTL" explain --url "$URL" --body "$T/policy.json"
