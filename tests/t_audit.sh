# t_audit.sh - the audit trail and live counters with real programs: one
# JSON line per LLM request with the tokens the upstream reported (every
# provider format, streamed and not) and its cost; many processes and
# threads into one file; the app's output unchanged whatever its write
# callback; an unwritable audit file; no prompt text and no key recorded.
# needs: unsanitized (it preloads the shim into Debian's curl)
. "$(dirname "$0")/lib.sh"
lr_setup audit
start_mock
A=$T/audit.jsonl
export LLMROUTE_AUDIT="$A"
C="curl -sS --max-time 10 -o /dev/null"
load_rules '{"prices": {"local-*": {"input_per_mtok": 1, "output_per_mtok": 2}},
 "routes": [
 {"name": "mini", "match": {"model": "gpt-4o", "host": "api.openai.com"},
  "set": {"model": "gpt-4o-mini", "endpoint": "'"$MOCK"'/v1"}},
 {"name": "no-o1-pro", "match": {"model": "o1-pro"}, "deny": "o1-pro is not allowed here"}]}'

# rec EXPR [N]: EXPR over the Nth-last audit record (r) and the Nth-last
# request the mock saw (q, with q['raw'] its body bytes).
rec() {
	"$PY" - "$A" "$T/mock.log" "$1" "${2:-1}" <<'PYEOF'
import json, sys, base64
recs = [json.loads(l) for l in open(sys.argv[1])]
reqs = [json.loads(l) for l in open(sys.argv[2])]
n = int(sys.argv[4])
r = recs[-n]
q = reqs[-n] if len(reqs) >= n else {}
if q:
    q["raw"] = base64.b64decode(q["body_b64"])
price = {"gpt-4o-mini": (0.15, 0.6), "claude-3-5-haiku-latest": (0.8, 4.0),
         "gemini-1.5-flash": (0.075, 0.3), "local-llama": (1.0, 2.0)}
def cost(model, i, o):
    p = price[model]
    return (i * p[0] + o * p[1]) / 1e6
ok = eval(sys.argv[3], {"r": r, "q": q, "cost": cost, "abs": abs})
if not ok:
    sys.stderr.write("  record: %s\n" % json.dumps(r))
sys.exit(0 if ok else 1)
PYEOF
}
mock_in() { echo "len(q['raw']) // 4"; }

chat='{"model":"gpt-4o","messages":[{"role":"user","content":"Define entropy SECRET-PROMPT-TEXT"}]}'
shim $C https://api.openai.com/v1/chat/completions -H 'Authorization: Bearer sk-secret-key-123' -d "$chat"
check "openai chat: one record, routed, tokens from the answer" rec \
	"r['gen_ai.usage.input_tokens'] == $(mock_in) and r['gen_ai.usage.output_tokens'] == 4 and not r['llmroute.tokens_estimated']"
check "openai chat: models, rule, servers" rec \
	"r['gen_ai.request.model'] == 'gpt-4o-mini' and r['llmroute.original_model'] == 'gpt-4o' and r['llmroute.rule'] == 'mini' and r['llmroute.original_server'] == 'api.openai.com:443' and r['server.address'] == '127.0.0.1' and r['server.port'] == $MOCK_PORT"
check "openai chat: status, provider, operation, transport, process" rec \
	"r['http.response.status_code'] == 200 and r['gen_ai.provider.name'] == 'openai' and r['gen_ai.operation.name'] == 'chat' and r['llmroute.transport'] == 'curl' and r['process.executable.name'] == 'curl' and r['error.type'] is None"
check "openai chat: cost from the built-in gpt-4o-mini price" rec \
	"abs(r['llmroute.cost_usd'] - cost('gpt-4o-mini', $(mock_in), 4)) < 1e-12"
check "openai chat: response model, sizes, timings" rec \
	"r['gen_ai.response.model'] == 'gpt-4o-mini' and r['llmroute.request_bytes'] == len(q['raw']) and r['llmroute.response_bytes'] > 100 and 0 <= r['llmroute.ttfb_ms'] <= r['llmroute.duration_ms']"

shim $C https://api.openai.com/v1/chat/completions -d '{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[]}'
check "openai stream with include_usage: exact tokens" rec \
	"r['llmroute.stream'] and r['gen_ai.usage.input_tokens'] == $(mock_in) and r['gen_ai.usage.output_tokens'] == 4 and not r['llmroute.tokens_estimated']"
shim $C https://api.openai.com/v1/chat/completions -d '{"model":"gpt-4o","stream":true,"messages":[]}'
check "openai stream without usage: estimated" rec \
	"r['llmroute.stream'] and r['llmroute.tokens_estimated'] and r['gen_ai.usage.output_tokens'] >= 1 and r['gen_ai.usage.input_tokens'] >= 1"
shim $C "$MOCK/v1/responses" -d '{"model":"local-llama","input":"hi"}'
check "responses API: tokens, cost from the rules file's price" rec \
	"r['gen_ai.usage.input_tokens'] == $(mock_in) and r['gen_ai.usage.output_tokens'] == 4 and abs(r['llmroute.cost_usd'] - cost('local-llama', $(mock_in), 4)) < 1e-12 and r['llmroute.rule'] is None and r['llmroute.action'] == 'none'"
shim $C "$MOCK/v1/responses" -d '{"model":"local-llama","input":"hi","stream":true}'
check "responses API stream: tokens from response.completed" rec \
	"r['gen_ai.usage.input_tokens'] == $(mock_in) and r['gen_ai.usage.output_tokens'] == 4 and not r['llmroute.tokens_estimated']"
shim $C "$MOCK/v1/embeddings" -d '{"model":"nomic-embed","input":"hi"}'
check "embeddings: input tokens, no price: cost null" rec \
	"r['gen_ai.usage.input_tokens'] == $(mock_in) and r['gen_ai.usage.output_tokens'] == 0 and r['llmroute.cost_usd'] is None and r['gen_ai.operation.name'] == 'embeddings'"
for s in false true; do
	shim $C "$MOCK/v1/messages" -H 'x-api-key: sk-ant-secret' -d '{"model":"claude-3-5-haiku-latest","max_tokens":5,"stream":'$s',"messages":[]}'
	check "anthropic stream=$s: tokens and cost" rec \
		"r['gen_ai.usage.input_tokens'] == $(mock_in) and r['gen_ai.usage.output_tokens'] == 4 and abs(r['llmroute.cost_usd'] - cost('claude-3-5-haiku-latest', $(mock_in), 4)) < 1e-12 and r['llmroute.stream'] == ('$s' == 'true')"
done
shim $C "$MOCK/v1beta/models/gemini-1.5-flash:generateContent" -d '{"contents":[{"parts":[{"text":"hi"}]}]}'
check "gemini: tokens from usageMetadata, model from the path" rec \
	"r['gen_ai.usage.input_tokens'] == $(mock_in) and r['gen_ai.usage.output_tokens'] == 4 and r['gen_ai.request.model'] == 'gemini-1.5-flash' and r['gen_ai.provider.name'] == 'gcp.gemini'"
shim $C "$MOCK/v1beta/models/gemini-1.5-flash:streamGenerateContent?alt=sse" -d '{"contents":[]}'
check "gemini stream: tokens" rec \
	"r['llmroute.stream'] and r['gen_ai.usage.input_tokens'] == $(mock_in) and r['gen_ai.usage.output_tokens'] == 4"
shim $C "$MOCK/api/chat" -d '{"model":"llama3","stream":false,"messages":[]}'
check "ollama: prompt_eval_count and eval_count" rec \
	"r['gen_ai.usage.input_tokens'] == $(mock_in) and r['gen_ai.usage.output_tokens'] == 4 and r['gen_ai.provider.name'] == 'ollama' and not r['llmroute.stream']"
shim $C "$MOCK/api/generate" -d '{"model":"llama3","prompt":"hi"}'
check "ollama NDJSON stream (the default): tokens from the last line" rec \
	"r['llmroute.stream'] and r['gen_ai.usage.input_tokens'] == $(mock_in) and r['gen_ai.usage.output_tokens'] == 4"

# errors and denials are records too
shim curl -sS --max-time 10 -o /dev/null https://api.openai.com/v1/chat/completions -d '{"model":"o1-pro"}' 2>/dev/null
check "deny: a record with error.type denied, nothing sent" sh -c \
	"tail -n 1 '$A' | grep -q '\"error.type\":\"denied\"' && tail -n 1 '$A' | grep -q '\"llmroute.rule\":\"no-o1-pro\"'"
curl -sS -o /dev/null -X POST "$MOCK/_mock/fault" -d '{"match":"model=gpt-4o-mini","fault":"429","count":1}'
shim $C https://api.openai.com/v1/chat/completions -d "$chat"
check "upstream 429: status, error.type, nothing billed" rec "r['http.response.status_code'] == 429 and r['error.type'] == 'http_429' and r['gen_ai.usage.output_tokens'] == 0 and r['llmroute.cost_usd'] == 0 and not r['llmroute.tokens_estimated']"
shim $C http://127.0.0.1:1/v1/chat/completions -d "$chat" 2>/dev/null
check "connection refused: error.type, no status" sh -c \
	"tail -n 1 '$A' | grep -q '\"error.type\":\"COULDNT_CONNECT\"' && tail -n 1 '$A' | grep -q '\"http.response.status_code\":null'"

# non-LLM requests are not audited
n=$(wc -l <"$A")
shim $C "$MOCK/echo" -d '{"model":"gpt-4o"}'
check "non-LLM request: no record" test "$(wc -l <"$A")" -eq "$n"

# Nothing secret in the file.
check "no prompt text in the audit" sh -c "! grep -q 'SECRET-PROMPT-TEXT' '$A'"
check "no key in the audit" sh -c "! grep -q 'sk-secret-key-123' '$A' && ! grep -q 'sk-ant-secret' '$A'"
check "every record is one valid JSON object" "$PY" -c "
import json
for l in open('$A'):
    assert isinstance(json.loads(l), dict)"

# Live counters, across the processes above.
"$CTL" stats --json >"$T/stats.json"
check "stats: per route and per model" json_ok "$T/stats.json" \
	"[x for x in d['routes'] if x['name'] == 'mini'][0]['requests'] >= 4 and [x for x in d['models'] if x['name'] == 'gpt-4o-mini'][0]['output_tokens'] >= 12"
check "stats: errors counted" json_ok "$T/stats.json" "[x for x in d['routes'] if x['name'] == 'no-o1-pro'][0]['errors'] == 1"
"$CTL" stats >"$T/stats.txt"
check "stats: a table" grep -q "^mini .* [0-9]" "$T/stats.txt"
"$CTL" stats --reset >/dev/null
"$CTL" stats --json >"$T/stats.json"
check "stats --reset zeroes the counters" json_ok "$T/stats.json" "all(x['requests'] == 0 for x in d['routes'] + d['models'])"

# A running process follows the counters to a new segment after
# `unload --force` and `load` (the pycurl client waits between requests).
mkdir "$T/sync"
LLMROUTE_AUDIT= shim "$PY" "$ROOT/tests/clients/pycurl_client.py" live "$MOCK/v1/chat/completions" gpt-4o "$T/sync" >"$T/live" &
cpid=$!
i=0
while [ ! -f "$T/sync/ready" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
"$CTL" unload --force >/dev/null
load_rules '{"routes": [{"name": "after-reload", "set": {"model": "gpt-4o-mini"}}]}'
sleep 1.1 # the shim checks the counters segment's identity once a second
touch "$T/sync/go"
wait $cpid
"$CTL" stats --json >"$T/stats.json"
check "after unload --force and load, a running process follows the new table" grep -qx "live 2 gpt-4o-mini" "$T/live"
check "counters: a running process counts into the new segment after a reload" json_ok "$T/stats.json" \
	"[x for x in d['routes'] if x['name'] == 'after-reload'][0]['requests'] == 1"

# 4 processes x 8 threads x 100 requests into one file.
: >"$A"
load_rules '{"routes": [{"name": "mini", "match": {"model": "gpt-4*"}, "set": {"model": "gpt-4o-mini", "endpoint": "'"$MOCK"'/v1"}},
 {"name": "claude", "match": {"model": "claude-*"}, "set": {"endpoint": "'"$MOCK"'/v1"}}]}'
pids=""
for i in 1 2 3 4; do
	shim "$BUILD/tests/threads_client" https://api.openai.com/v1/chat/completions 8 100 >"$T/th$i" &
	pids="$pids $!"
done
wait $pids # not a bare wait: that would wait for the mock too
check "4 processes x 8 threads x 100 requests: all answered" sh -c "cat '$T'/th? | grep -c '^ok 800 bad 0' | grep -qx 4"
check "exactly 3200 audit lines, each valid JSON, none torn" "$PY" -c "
import json
lines = open('$A').read().split('\n')
assert lines[-1] == '' and len(lines) == 3201, len(lines)
recs = [json.loads(l) for l in lines[:-1]]
assert len({r['process.pid'] for r in recs}) == 4"

# The app's output is byte-identical whatever its write callback (no route
# changes the request here, so both runs get the same answer).
load_rules '{"routes": []}'
norm() { sed -E 's/mock[0-9]+/mockN/g; s/"created": ?[0-9]+/"created":T/g; /^[Dd]ate:/d; /^x-mock-request:/d' "$1"; }
for style in default writedata function pause headerdata; do
	"$BUILD/tests/write_styles" "$MOCK/v1/chat/completions" $style "$T/plain.$style"
	rc1=$?
	n=$(wc -l <"$A")
	shim "$BUILD/tests/write_styles" "$MOCK/v1/chat/completions" $style "$T/shim.$style"
	rc2=$?
	norm "$T/plain.$style" >"$T/a"
	norm "$T/shim.$style" >"$T/b"
	check "write style $style: same result code and bytes" sh -c "[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && [ -s '$T/a' ] && cmp -s '$T/a' '$T/b'"
	check "write style $style: audited with the stream's tokens" sh -c \
		"[ \$(wc -l <'$A') -eq $((n + 1)) ] && tail -n 1 '$A' | grep -q '\"llmroute.stream\":true'"
done

# An audit file that cannot be written never breaks the app.
LLMROUTE_AUDIT=/proc/llmroute-audit.jsonl shim curl -sS --max-time 10 "$MOCK/v1/chat/completions" -d "$chat" >"$T/out" 2>"$T/err"
check "unwritable audit path: the app still succeeds" grep -q '"object": "chat.completion"' "$T/out"
check "unwritable audit path: said once on stderr" grep -q "cannot open audit file" "$T/err"
# A write that fails (here: a file size limit of 0, with SIGXFSZ ignored
# so the write returns EFBIG as on a full disk) loses the record, not the app.
# Output goes through a pipe: the limit applies to every regular file.
: >"$T/full.jsonl"
LLMROUTE_AUDIT="$T/full.jsonl" sh -c 'trap "" XFSZ; ulimit -f 0; exec "$@"' sh \
	"$LAUNCHER" curl -sS --max-time 10 "$MOCK/v1/chat/completions" -d "$chat" 2>&1 | cat >"$T/out"
check "failed write (full disk): the app still succeeds" grep -q '"object": "chat.completion"' "$T/out"
check "failed write (full disk): the loss is reported" grep -q "cannot write to audit file" "$T/out"
mkfifo "$T/fifo"
LLMROUTE_AUDIT="$T/fifo" timeout 10 "$LAUNCHER" curl -sS --max-time 5 "$MOCK/v1/chat/completions" -d "$chat" >"$T/out" 2>"$T/err"
check "an audit path that is a FIFO with no reader: refused, the app does not hang" \
	grep -q '"object": "chat.completion"' "$T/out"
LLMROUTE_AUDIT="$T/odd.jsonl" LD_PRELOAD="$LIB" "$PY" -c "
import os, subprocess
args = [b'-sS', b'-o', b'/dev/null', b'$MOCK/v1/chat/completions', b'-d', b'{\"model\":\"m\"}']
for name in (b'caf\xe9-tool', b'x' * 5000):
    subprocess.run([name] + args, executable='/usr/bin/curl')" 2>/dev/null
check "odd process names (invalid UTF-8, 5 KB): records valid JSON, names cut" "$PY" -c "
import json
r = [json.loads(l) for l in open('$T/odd.jsonl')]
assert len(r) == 2, len(r)
assert r[0]['process.executable.name'] == 'caf\ufffd-tool', r[0]['process.executable.name']
assert len(r[1]['process.executable.name']) == 256"
