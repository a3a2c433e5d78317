# t_train.sh - learned intents end to end: `llmroutectl train` on the
# shipped examples (tests/data/intents.jsonl, from make_intents.py) prints
# its held-out accuracy, publishes the classifier with the live table, and
# an unmodified client's requests are routed by the learned intent, with a
# minimum confidence.  The accuracy floor, 0.85: six intents (chance is
# 0.17), and every held-out example has a subject or a phrasing no training
# example has; the shipped set measures 0.93.
. "$(dirname "$0")/lib.sh"
lr_setup train
start_mock
load_rules '{"routes": [
 {"name": "define-small", "match": {"host": "127.0.0.1", "intent": "define", "intent_confidence": {"ge": 0.5}},
  "set": {"model": "gpt-4o-mini"}},
 {"name": "compliance-big", "match": {"host": "127.0.0.1", "intent": "compliance", "intent_confidence": {"ge": 0.5}},
  "set": {"model": "gpt-4.1"}}]}'

"$CTL" train "$ROOT/tests/data/intents.jsonl" --out "$T/intents.model.json" >"$T/train.out" 2>&1
check "train: exits 0 and publishes" sh -c "grep -q '^published ' '$T/train.out'"
acc=$(sed -n 's/^held-out accuracy: \([0-9.]*\) .*/\1/p' "$T/train.out")
check "train: held-out accuracy printed ($acc) and at least 0.85" "$PY" -c "import sys; sys.exit(not float('$acc') >= 0.85)"
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
expect 0 "intent:      define (confidence 0\\." "$CTL" explain --url "$MOCK/v1/chat/completions" --body "$T/req.json"

# A minimum confidence the classifier does not reach stops the route.
"$CTL" route add strict --first --json '{"match": {"host": "127.0.0.1", "intent": "chitchat", "intent_confidence": {"ge": 0.9999}}, "set": {"model": "never"}}' >/dev/null
"$CTL" route add loose --json '{"match": {"host": "127.0.0.1", "intent": "chitchat", "intent_confidence": {"ge": 0.3}}, "set": {"model": "chitchat-small"}}' >/dev/null
got=$(ask 'Hey! Any thoughts on rainy Sundays?')
check "min confidence: the 0.9999 route passes, the next one (0.3) takes it ($got)" [ "$got" = chitchat-small ]

# A file that is not a model is refused, the table unchanged.
expect 2 "not a model file" sh -c "printf '{\"x\":1}' >'$T/bad.json'; printf '{\"classifier\": \"%s\", \"routes\": []}' '$T/bad.json' >'$T/r.json'; \"$CTL\" load '$T/r.json'"
