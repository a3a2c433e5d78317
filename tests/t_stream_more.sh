# t_stream_more.sh - cut streams continued for OpenAI Responses, legacy
# completions and Ollama (chat, raw generate), the continuation's token
# limit lowered by what was delivered (and a stream whose limit is used
# ended as its provider would), and a held stream cut at the last step
# ending with our error event.  Apps: the curl command line (easy),
# `curl --parallel` (multi) and Python's http.client (the shim's own
# client), unmodified, against the mock's stream faults.
# needs: unsanitized (Debian's curl under an ASan runtime)
. "$(dirname "$0")/lib.sh"
lr_setup stream_more
start_mock
LLMROUTE_AUDIT=$T/audit.jsonl
export LLMROUTE_AUDIT
cat >"$T/rules.in" <<EOF2
{"targets": {
   "cheap": {"model": "gpt-cheap", "endpoint": "$MOCK/v1"},
   "big": {"model": "gpt-big", "endpoint": "$MOCK/v1"},
   "ccheap": {"model": "claude-cheap", "endpoint": "$MOCK/v1"},
   "cbig": {"model": "claude-big", "endpoint": "$MOCK/v1"},
   "ocheap": {"model": "llama-cheap", "endpoint": "$MOCK"},
   "obig": {"model": "llama-big", "endpoint": "$MOCK"}},
 "health": {"failures": 100, "cooldown_s": 60},
 "routes": [
   {"name": "two", "match": {"model": "app-two"}, "pool": {"targets": ["cheap"]}, "fallbacks": ["big"], "retries": 0},
   {"name": "ant", "match": {"model": "app-ant"}, "pool": {"targets": ["ccheap"]}, "fallbacks": ["cbig"], "retries": 0},
   {"name": "oll", "match": {"model": "app-oll"}, "pool": {"targets": ["ocheap"]}, "fallbacks": ["obig"], "retries": 0},
   {"name": "hold", "match": {"model": "app-hold"}, "pool": {"targets": ["cheap"]}, "fallbacks": ["big"],
    "stream_hold": true, "retries": 0}]}
EOF2
"$CTL" load "$T/rules.in" >/dev/null || exit 1
printf '{"model": "app-two", "stream": true, "input": "hi"}' >"$T/explain.json"
"$CTL" explain --url "$MOCK/v1/responses" --body "$T/explain.json" >"$T/explain" 2>&1
check "explain: a Responses stream is continued" grep -q 'continued by the next step' "$T/explain"

fault() { curl -sS -o /dev/null -X POST "$MOCK/_mock/fault" -d '{"match":"model='"$1"'","fault":"'"$2"'","count":'"${3:-1}"'}'; }
reset() { curl -sS -o /dev/null -X POST "$MOCK/_mock/reset"; : >"$T/audit.jsonl"; }
models_seen() { curl -sS "$MOCK/_mock/requests" | "$PY" -c 'import json,sys; print(" ".join(r["model"] for r in json.load(sys.stdin)))'; }
req_is() { # N EXPR over request N's body d
	curl -sS "$MOCK/_mock/requests" >"$T/requests.json"
	"$PY" - "$T/requests.json" "$1" "$2" <<'PYEOF'
import json, sys
reqs = json.load(open(sys.argv[1]))
d = json.loads(reqs[int(sys.argv[2]) - 1]["body"])
ok = eval(sys.argv[3], {"d": d})
if not ok:
    sys.stderr.write("  request %s: %.500s\n" % (sys.argv[2], json.dumps(d)))
sys.exit(0 if ok else 1)
PYEOF
}
post() { # PATH BODY OUT: curl under the shim
	printf '%s' "$2" >"$T/req.json"
	shim curl -sS -N -o "$3" -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-app' \
		-H 'x-api-key: sk-app' -H 'anthropic-version: 2023-06-01' --data-binary @"$T/req.json" "$MOCK$1" 2>"$T/err"
}
# sse_is FILE EXPR: over names, events (data objects), raw data lines (datas)
sse_is() {
	"$PY" - "$1" "$2" <<'PYEOF'
import json, sys
raw = open(sys.argv[1]).read()
names, events, datas = [], [], []
for block in raw.replace("\r\n", "\n").split("\n\n"):
    name = data = None
    for line in block.split("\n"):
        if line.startswith("event:"): name = line[6:].strip()
        elif line.startswith("data:"): data = line[5:].strip()
    if data is None: continue
    datas.append(data); names.append(name)
    events.append(None if data == "[DONE]" else json.loads(data))
ok = eval(sys.argv[2], {"names": names, "events": events, "datas": datas})
if not ok: sys.stderr.write("  stream: %.900r\n" % raw)
sys.exit(0 if ok else 1)
PYEOF
}
# ndjson_is FILE EXPR: over lines (objects)
ndjson_is() {
	"$PY" - "$1" "$2" <<'PYEOF'
import json, sys
raw = open(sys.argv[1]).read()
lines = [json.loads(l) for l in raw.splitlines() if l.strip()]
ok = eval(sys.argv[2], {"lines": lines})
if not ok: sys.stderr.write("  lines: %.900r\n" % raw)
sys.exit(0 if ok else 1)
PYEOF
}
RESP_TEXT='"".join(e["delta"] for e in events if e and e["type"] == "response.output_text.delta")'
RESP_OK="$RESP_TEXT == 'mock reply mock reply from gpt-big' and names.count('response.completed') == 1 and names[-1] == 'response.completed' and names.count('response.created') == 1 and names.count('response.output_item.added') == 1 and [e['sequence_number'] for e in events] == list(range(len(events))) and events[-1]['response']['output'][0]['content'][0]['text'] == 'mock reply mock reply from gpt-big' and 'error' not in names"

# --- Responses -----------------------------------------------------------------------
for f in cutmid nodone midstream; do
	reset
	fault gpt-cheap "$f"
	post /v1/responses '{"model": "app-two", "stream": true, "input": "hello there"}' "$T/r.body"
	check "responses, $f, curl: one stream, renumbered, one response.completed with the whole text" sse_is "$T/r.body" "$RESP_OK"
done
check "responses: big was asked with the text as an assistant message, then the ask" req_is 2 \
	'd["input"][0] == {"role": "user", "content": "hello there"} and d["input"][1] == {"role": "assistant", "content": "mock reply "} and "Continue" in d["input"][2]["content"]'
reset
fault gpt-cheap cutmid
post /v1/responses '{"model": "app-two", "stream": true, "max_output_tokens": 40, "input": [{"role": "user", "content": "hi"}]}' "$T/r.body"
check "responses, a list input: two turns appended, max_output_tokens lowered by 2" req_is 2 \
	'len(d["input"]) == 3 and d["input"][1]["role"] == "assistant" and d["max_output_tokens"] == 38'
check "responses, usage: the first part's estimate added" sse_is "$T/r.body" \
	'events[-1]["response"]["usage"]["output_tokens"] == 4 + 3'
reset
fault gpt-cheap cutmid
fault gpt-big 400
post /v1/responses '{"model": "app-two", "stream": true, "input": "hello"}' "$T/r.body"
check "responses, continuation refused: our error event (event: error), no response.completed" sse_is "$T/r.body" \
	'names[-1] == "error" and events[-1]["code"] == "llmroute_stream_cut" and "response.completed" not in names'

# --- completions ------------------------------------------------------------------------
reset
fault gpt-cheap cutmid
post /v1/completions '{"model": "app-two", "stream": true, "prompt": "Say:", "max_tokens": 30}' "$T/c.body"
check "completions, curl: the text spliced, one [DONE]" sse_is "$T/c.body" \
	'"".join(c["text"] for e in events if e for c in e["choices"]) == "mock reply mock reply from gpt-big" and datas.count("[DONE]") == 1 and datas[-1] == "[DONE]"'
check "completions: the text appended to the prompt, max_tokens lowered by 2" req_is 2 \
	'd["prompt"] == "Say:mock reply " and d["max_tokens"] == 28'

# --- Ollama --------------------------------------------------------------------------------
OLL_OK='"".join(l["message"]["content"] for l in lines) == "mock reply mock reply from llama-big" and sum(1 for l in lines if l["done"]) == 1 and lines[-1]["done"] and not any("error" in l for l in lines)'
for f in cutmid midstream; do
	reset
	fault llama-cheap "$f"
	post /api/chat '{"model": "app-oll", "messages": [{"role": "user", "content": "hello"}], "options": {"num_predict": 20}}' "$T/o.body"
	check "ollama chat, $f, curl: one NDJSON stream, one done line" ndjson_is "$T/o.body" "$OLL_OK"
done
check "ollama chat: a trailing assistant message, num_predict lowered by 2" req_is 2 \
	'd["messages"][-1] == {"role": "assistant", "content": "mock reply "} and len(d["messages"]) == 2 and d["options"]["num_predict"] == 18'
check "ollama chat: the done line counts the first part" ndjson_is "$T/o.body" 'lines[-1]["eval_count"] == 4 + 3'
reset
fault llama-cheap cutmid
post /api/generate '{"model": "app-oll", "raw": true, "prompt": "[INST] hi [/INST]"}' "$T/g.body"
check "ollama generate (raw): spliced" ndjson_is "$T/g.body" \
	'"".join(l["response"] for l in lines) == "mock reply mock reply from llama-big" and lines[-1]["done"]'
check "ollama generate (raw): the text appended to the prompt" req_is 2 'd["prompt"] == "[INST] hi [/INST]mock reply "'
reset
fault llama-cheap cutmid
post /api/generate '{"model": "app-oll", "prompt": "hi"}' "$T/g.body"
check "ollama generate (templated): not continued exactly, so our error line ends it" ndjson_is "$T/g.body" \
	'"llmroute_stream_cut" not in str(lines[:-1]) and "could not be continued" in lines[-1]["error"] and not any(l.get("done") for l in lines)'
check "ollama generate (templated): nothing asked of big" test "$(models_seen)" = "llama-cheap"

# --- the token limit ---------------------------------------------------------------------------
reset
fault gpt-cheap cutmid
post /v1/chat/completions '{"model": "app-two", "stream": true, "max_completion_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}' "$T/l.body"
check "chat: max_completion_tokens lowered by the 2 tokens delivered" req_is 2 'd["max_completion_tokens"] == 8'
reset
fault gpt-cheap cutmid
post /v1/chat/completions '{"model": "app-two", "stream": true, "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}' "$T/l.body"
check "chat, limit used: finish_reason length, one [DONE], no error" sse_is "$T/l.body" \
	'datas[-1] == "[DONE]" and datas.count("[DONE]") == 1 and events[-2]["choices"][0]["finish_reason"] == "length" and not any(e and "error" in e for e in events)'
check "chat, limit used: no continuation asked" test "$(models_seen)" = "gpt-cheap"
reset
fault claude-cheap cutmid
post /v1/messages '{"model": "app-ant", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "hi"}]}' "$T/a.body"
check "anthropic: max_tokens lowered by the 2 tokens delivered" req_is 2 'd["max_tokens"] == 48'
reset
fault claude-cheap cutmid
post /v1/messages '{"model": "app-ant", "max_tokens": 1, "stream": true, "messages": [{"role": "user", "content": "hi"}]}' "$T/a.body"
check "anthropic, limit used: the block stopped, stop_reason max_tokens, one message_stop" sse_is "$T/a.body" \
	'names[-3:] == ["content_block_stop", "message_delta", "message_stop"] and events[-2]["delta"]["stop_reason"] == "max_tokens" and names.count("message_stop") == 1'
reset
fault llama-cheap cutmid
post /api/chat '{"model": "app-oll", "messages": [{"role": "user", "content": "hello"}], "options": {"num_predict": 2}}' "$T/o.body"
check "ollama, limit used: a done line with done_reason length" ndjson_is "$T/o.body" \
	'lines[-1]["done"] and lines[-1]["done_reason"] == "length" and sum(1 for l in lines if l["done"]) == 1'

# --- stream_hold, cut at the last step: our error event, never a truncated success ----------------
reset
fault gpt-cheap cutmid
fault gpt-big nodone
post /v1/chat/completions '{"model": "app-hold", "stream": true, "messages": [{"role": "user", "content": "hi"}]}' "$T/h.body"
check "stream_hold, cut at the last step (curl): its events, then our error event, no [DONE]" sse_is "$T/h.body" \
	'"[DONE]" not in datas and events[-1]["error"]["code"] == "llmroute_stream_cut" and "gpt-big" in str(events[0])'
reset
fault gpt-cheap cutmid
fault gpt-big midstream
shim "$PY" "$ROOT/tests/clients/http_client.py" streamto "$MOCK/v1/chat/completions" app-hold "$T/hy.body" >"$T/w"
check "stream_hold, cut at the last step (http.client): our error event, not the upstream's" sse_is "$T/hy.body" \
	'"[DONE]" not in datas and events[-1]["error"]["code"] == "llmroute_stream_cut" and "mock fault midstream" not in str(events)'

# --- curl --parallel and http.client: a Responses stream and an Ollama one ------------------------
reset
fault gpt-cheap cutmid 1
fault llama-cheap cutmid 1
printf '{"model": "app-two", "stream": true, "input": "hello there"}' >"$T/p0.json"
printf '{"model": "app-oll", "messages": [{"role": "user", "content": "hello"}]}' >"$T/p1.json"
shim curl -sS --parallel --parallel-immediate -N -H Content-Type:application/json --data-binary @"$T/p0.json" \
	-o "$T/p0.body" "$MOCK/v1/responses" --next -N -H Content-Type:application/json --data-binary @"$T/p1.json" \
	-o "$T/p1.body" "$MOCK/api/chat" 2>"$T/err"
check "curl --parallel: the Responses stream continued" sse_is "$T/p0.body" "$RESP_OK"
check "curl --parallel: the Ollama stream continued" ndjson_is "$T/p1.body" "$OLL_OK"
reset
fault gpt-cheap cutmid
"$PY" - "$MOCK" >"$T/hc.py" <<'PYEOF'
import sys
print('''import http.client, json, sys
u = sys.argv[1].split("//")[1]
c = http.client.HTTPConnection(u)
c.request("POST", sys.argv[2], body=sys.argv[3], headers={"Content-Type": "application/json"})
r = c.getresponse()
open(sys.argv[4], "wb").write(r.read())
''')
PYEOF
shim "$PY" "$T/hc.py" "$MOCK" /v1/responses '{"model": "app-two", "stream": true, "input": "hello there"}' "$T/hr.body"
check "http.client: the Responses stream continued" sse_is "$T/hr.body" "$RESP_OK"
reset
fault llama-cheap nodone
shim "$PY" "$T/hc.py" "$MOCK" /api/chat '{"model": "app-oll", "messages": [{"role": "user", "content": "hello"}]}' "$T/ho.body"
check "http.client: the Ollama stream continued" ndjson_is "$T/ho.body" "$OLL_OK"
