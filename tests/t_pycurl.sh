# t_pycurl.sh - Python with Debian's python3-pycurl (libcurl-gnutls loaded
# RTLD_LOCAL) under the shim: easy, read-callback upload, multi with a
# deny, and a live table change followed by a running process.
. "$(dirname "$0")/lib.sh"
lr_setup pycurl
start_mock
OAI=https://api.openai.com/v1/chat/completions
client() { shim "$PY" "$ROOT/tests/clients/pycurl_client.py" "$@"; }
# Audited too, so that sanitized runs cover the audit path (Python takes an
# ASan runtime in LD_PRELOAD; Debian's curl binary does not).
LLMROUTE_AUDIT=$T/audit.jsonl
export LLMROUTE_AUDIT

load_rules '{"routes": [
 {"name": "mini", "match": {"model": "gpt-4*"}, "set": {"model": "gpt-4o-mini", "endpoint": "'"$MOCK"'/v1"}},
 {"name": "no-o1-pro", "match": {"model": "o1-pro"}, "deny": "o1-pro is not allowed here"}]}'

client easy "$OAI" gpt-4o >"$T/out"
check "easy: routed answer" grep -qx "easy 200 gpt-4o-mini" "$T/out"
check "easy: upstream saw the routed model, no app key" last_req "d['model'] == 'gpt-4o-mini' and 'authorization' not in d['headers']"
client upload "$OAI" gpt-4-turbo >"$T/out"
check "READFUNCTION upload: routed" grep -qx "upload 200 gpt-4o-mini" "$T/out"
check "READFUNCTION upload: body intact" last_req "json.loads(d['raw'])['messages'][0]['content'] == 'Define X'"
client multi "$OAI" gpt-4o o1-pro gpt-4.1 >"$T/out"
check "multi: two routed" test "$(grep -c 'ok gpt-4o-mini' "$T/out")" -eq 2
check "multi: o1-pro denied with the route's message" grep -q "multi o1-pro error 9 llmroute: denied by route no-o1-pro" "$T/out"

# A running process follows a table change on its next request.
mkdir "$T/sync"
client live "$MOCK/v1/chat/completions" claude-3-opus "$T/sync" >"$T/live" &
cpid=$!
i=0
while [ ! -f "$T/sync/ready" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
"$CTL" route add claude-cheap --first --match 'model=claude-*' --set model=claude-3-5-haiku >/dev/null
touch "$T/sync/go"
wait $cpid
check "live: first request as asked" grep -qx "live 1 claude-3-opus" "$T/live"
check "live: after route add, the same process is routed" grep -qx "live 2 claude-3-5-haiku" "$T/live"

# A process started before any table existed follows the first load at once.
"$CTL" unload >/dev/null
mkdir "$T/sync2"
client live "$MOCK/v1/chat/completions" gpt-4o "$T/sync2" >"$T/live2" &
cpid=$!
i=0
while [ ! -f "$T/sync2/ready" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
load_rules '{"routes": [{"name": "late", "set": {"model": "late-model"}}]}'
touch "$T/sync2/go"
wait $cpid
check "no table yet: first request as asked" grep -qx "live 1 gpt-4o" "$T/live2"
check "table loaded later: the very next request is routed" grep -qx "live 2 late-model" "$T/live2"

check "audit: one valid record per LLM request (9), the denied one included" "$PY" -c "
import json
r = [json.loads(l) for l in open('$T/audit.jsonl')]
assert len(r) == 9, len(r)
assert sum(1 for x in r if x['error.type'] == 'denied') == 1
assert all(x['process.executable.name'].startswith('python') for x in r)"
