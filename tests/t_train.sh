# t_train.sh - learned intents end to end: `llmroutectl train` on the
# shipped examples (tests/data/intents.jsonl, from make_intents.py) prints
# its held-out accuracy, publishes the classifier with the live table, and
# an unmodified client's requests are routed by the learned intent, with a
# minimum confidence, and a route's "when_unsure" sends what it is not sure
# of to the route it names, audited as uncertain (audit --by intent).
# Accuracy floors: by phrasing (the default split: every held-out phrasing
# unseen) 0.7, measured 0.80; on the file's own marks 0.85, measured 0.95.
# Six intents: chance is 0.17.
. "$(dirname "$0")/lib.sh"
lr_setup train
start_mock
A=$T/audit.jsonl
LLMROUTE_AUDIT=$A
export LLMROUTE_AUDIT
load_rules '{"routes": [
 {"name": "define-small", "match": {"host": "127.0.0.1", "intent": "define", "intent_confidence": {"ge": 0.5}},
  "set": {"model": "gpt-4o-mini"}},
 {"name": "compliance-big", "match": {"host": "127.0.0.1", "intent": "compliance", "intent_confidence": {"ge": 0.5}},
  "set": {"model": "gpt-4.1"}}]}'

"$CTL" train "$ROOT/tests/data/intents.jsonl" --out "$T/intents.model.json" --precision 0.98 >"$T/train.out" 2>&1
check "train: exits 0 and publishes" sh -c "grep -q '^published ' '$T/train.out'"
acc=$(sed -n 's/^held-out accuracy: \([0-9.]*\) .*/\1/p' "$T/train.out")
check "train: held out by phrasing, accuracy printed ($acc) and at least 0.7" "$PY" -c "import sys; sys.exit(not float('$acc') >= 0.7)"
check "train: held-out phrasings: 13 (2 or 3 of each intent's 8)" grep -q '^held out by phrasing: 13 phrasings' "$T/train.out"
check "train: a confusion matrix, each row summing to the intent's held-out count" "$PY" -c '
import re, sys
t = open(sys.argv[1]).read()
per = {m[0]: int(m[2]) for m in re.findall(r"^  (\S+) +(\d+) of +(\d+) held-out", t, re.M)}
rows = re.search(r"^confusion.*\n.*\n((?:  \S+(?: +\d+){6}\n){6})", t, re.M).group(1).splitlines()
sys.exit(not all(sum(map(int, r.split()[1:])) == per[r.split()[0]] for r in rows) or len(per) != 6)' "$T/train.out"
check "train: calibration error lower after temperature scaling (cross-fitted)" "$PY" -c '
import re, sys
m = re.search(r"^calibration: temperature ([0-9.]+); expected calibration error ([0-9.]+) before, ([0-9.]+) after", open(sys.argv[1]).read(), re.M)
sys.exit(not (m and float(m.group(3)) < float(m.group(2))))' "$T/train.out"
check "train: a threshold table whose share routed falls as the threshold rises" "$PY" -c '
import re, sys
r = [float(x) for x in re.findall(r"^  ge [0-9.]+  routed +([0-9.]+)%", open(sys.argv[1]).read(), re.M)]
sys.exit(not (len(r) == 11 and r == sorted(r, reverse=True) and r[0] > r[-1]))' "$T/train.out"
check "train: --precision 0.98 suggests a threshold that reaches it" "$PY" -c '
import re, sys
m = re.search(r"^suggested: .intent_confidence.: \{.ge.: ([0-9.]+)\} \(precision 0.980: routes ([0-9.]+)% of held-out requests, ([0-9.]+) of them right", open(sys.argv[1]).read(), re.M)
sys.exit(not (m and float(m.group(3)) >= 0.98 and 0 < float(m.group(2)) < 100))' "$T/train.out"
check "train: the model file has its temperature and features" "$PY" -c '
import json, sys
m = json.load(open(sys.argv[1]))
sys.exit(not (m["version"] == 2 and m["features"] == ["chars", "system"] and 0.05 <= m["temperature"] <= 20))' "$T/intents.model.json"
"$CTL" train "$ROOT/tests/data/intents.jsonl" --out "$T/marked.model.json" --split marked --no-publish >"$T/marked.out" 2>&1
acc=$(sed -n 's/^held-out accuracy: \([0-9.]*\) .*/\1/p' "$T/marked.out")
check "train --split marked: the file's marks, accuracy ($acc) at least 0.85" "$PY" -c "import sys; sys.exit(not float('$acc') >= 0.85)"
expect 1 "usage: llmroutectl train" "$CTL" train "$ROOT/tests/data/intents.jsonl" --precision 2
check "train: the live table carries the classifier" sh -c "\"$CTL\" show --json | grep -q 'intents.model.json'"

ask() { # TEXT: the model the upstream saw, through Python's http.client
	shim "$PY" -c '
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
c.request("POST", "/v1/chat/completions", json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": sys.argv[2]}]}),
          {"Content-Type": "application/json"})
print(json.loads(c.getresponse().read())["model"])' "$MOCK_PORT" "$1"
}
got=$(ask 'What does idempotence mean?')
check "learned intent define: a subject never seen in training ($got)" [ "$got" = gpt-4o-mini ]
got=$(ask 'Is storing IP addresses allowed under our privacy policy?')
check "learned intent compliance: another unseen subject ($got)" [ "$got" = gpt-4.1 ]
got=$(ask 'Hey! Any thoughts on rainy Sundays?')
check "learned intent chitchat: no route takes it, sent as asked ($got)" [ "$got" = gpt-4o ]
printf '{"model":"gpt-4o","messages":[{"role":"user","content":"Define idempotence."}]}' >"$T/req.json"
expect 0 "intent:      define (confidence [01]\\." "$CTL" explain --url "$MOCK/v1/chat/completions" --body "$T/req.json"

# A minimum confidence the classifier does not reach stops the route.
"$CTL" route add strict --first --json '{"match": {"host": "127.0.0.1", "intent": "chitchat", "intent_confidence": {"ge": 1.01}}, "set": {"model": "never"}}' >/dev/null
"$CTL" route add loose --json '{"match": {"host": "127.0.0.1", "intent": "chitchat", "intent_confidence": {"ge": 0.3}}, "set": {"model": "chitchat-small"}}' >/dev/null
got=$(ask 'Hey! Any thoughts on rainy Sundays?')
check "min confidence: the 1.01 route passes, the next one (0.3) takes it ($got)" [ "$got" = chitchat-small ]

# A file that is not a model is refused, the table unchanged.
expect 2 "not a model file" sh -c "printf '{\"x\":1}' >'$T/bad.json'; printf '{\"classifier\": \"%s\", \"routes\": []}' '$T/bad.json' >'$T/r.json'; \"$CTL\" load '$T/r.json'"

# when_unsure: "define" below 1.01 (any learned confidence) goes to the route it names.
load_rules '{"classifier": "'"$T/intents.model.json"'", "routes": [
 {"name": "define-small", "match": {"host": "127.0.0.1", "intent": "define", "intent_confidence": {"ge": 1.01}},
  "set": {"model": "gpt-4o-mini"}, "when_unsure": "strong"},
 {"name": "strong", "match": {"model": "no-such-model"}, "set": {"model": "gpt-4.1"}}]}'
: >"$A"
got=$(ask 'What does idempotence mean?')
check "when_unsure: below the confidence, the named route's model ($got)" [ "$got" = gpt-4.1 ]
check "when_unsure: the audit says the decision was uncertain" audit_ok "$A" \
	"r['llmroute.rule'] == 'strong' and r['llmroute.uncertain'] == 'define-small' and r['llmroute.intent'] == 'define' and 0 < r['llmroute.intent_confidence'] <= 1"
got=$(ask 'Hey! Any thoughts on rainy Sundays?')
check "when_unsure: another intent is not this route's to doubt ($got)" [ "$got" = gpt-4o ]
expect 0 "uncertain:   route \"define-small\"" "$CTL" explain --url "$MOCK/v1/chat/completions" --body "$T/req.json"
expect 2 "when_unsure needs" sh -c "printf '{\"routes\": [{\"name\": \"a\", \"match\": {\"intent\": \"x\"}, \"set\": {\"model\": \"m\"}, \"when_unsure\": \"b\"}, {\"name\": \"b\", \"set\": {\"model\": \"n\"}}]}' >'$T/u.json'; \"$CTL\" check '$T/u.json'"
expect 2 "no route is named" sh -c "printf '{\"routes\": [{\"name\": \"a\", \"match\": {\"intent_confidence\": {\"ge\": 0.5}}, \"set\": {\"model\": \"m\"}, \"when_unsure\": \"zz\"}]}' >'$T/u.json'; \"$CTL\" check '$T/u.json'"

# audit --by intent: requests, cost, escalations and uncertain decisions per intent.
"$CTL" audit "$A" --by intent >"$T/byintent.out" 2>&1
check "audit --by intent: the define row, one uncertain; chitchat none" sh -c \
	"awk '\$1 == \"define\" && \$2 == 1 && \$NF == 1 {d=1} \$1 == \"chitchat\" && \$NF == 0 {c=1} END {exit !(d && c)}' '$T/byintent.out'"
printf '%s\n' '{"time":"2026-01-01T00:00:00Z","llmroute.intent":"define","llmroute.attempt":1,"llmroute.cost_usd":0.001}' \
	'{"time":"2026-01-01T00:00:00Z","llmroute.intent":"define","llmroute.attempt":2,"llmroute.via":"escalation","llmroute.cost_usd":0.01}' \
	'{"time":"2026-01-01T00:00:01Z","llmroute.intent":"define","llmroute.attempt":1,"llmroute.cost_usd":0.001}' >"$T/esc.jsonl"
"$CTL" audit "$T/esc.jsonl" --by intent --json >"$T/esc.json" 2>&1
check "audit --by intent --json: escalations and their rate per app request" json_ok "$T/esc.json" \
	"d[0]['group'] == 'define' and d[0]['requests'] == 3 and d[0]['escalations'] == 1 and d[0]['escalation_rate'] == 0.5 and abs(d[0]['cost_usd'] - 0.012) < 1e-12"
