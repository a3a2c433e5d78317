#!/bin/sh
# t_mock_upstream.sh - check tools/mock_upstream.py with plain curl.
#
# Starts the mock on an ephemeral port and checks the answers other tests rely
# on: models and usage numbers, streaming shapes, chunked uploads, faults and
# the request log.  Exits 0 on success, 1 with a message on the first failure.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
dir=$(mktemp -d)
pid=""

cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "t_mock_upstream: FAIL: $*" >&2
	[ -s "$dir/stderr" ] && sed 's/^/  mock: /' "$dir/stderr" >&2
	exit 1
}

# check FILE EXPR WHAT: the Python expression EXPR, with d = the JSON in FILE,
# must be true.
check() {
	"$PY" - "$1" "$2" <<'EOF' || fail "$3 (file $1: $(head -c 400 "$1"))"
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
sys.exit(0 if eval("(" + sys.argv[2] + ")", {"d": d}) else 1)
EOF
}

# req ARGS...: curl with a time limit; the response body goes to $dir/out.
req() {
	curl -sS --max-time 5 -o "$dir/out" "$@"
}

# header NAME: the value of header NAME in $dir/hdr (curl -D).
header() {
	tr -d '\r' <"$dir/hdr" |
		awk -v n="$1" 'tolower(substr($0, 1, length(n) + 2)) == n ": " { v = substr($0, length(n) + 3) }
			END { print v }'
}

"$PY" "$root/tools/mock_upstream.py" --port-file "$dir/port" --log "$dir/log" \
	--fault 'model=drop-*:drop' 2>"$dir/stderr" &
pid=$!
i=0
while [ ! -s "$dir/port" ]; do
	i=$((i + 1))
	[ "$i" -le 50 ] || fail "mock did not write its port file within 5 s"
	kill -0 "$pid" 2>/dev/null || fail "mock exited at start"
	sleep 0.1
done
base="http://127.0.0.1:$(cat "$dir/port")"
logged=0 # LLM/echo requests sent, i.e. lines the log must hold

req "$base/_mock/health" || fail "health check"
[ "$(cat "$dir/out")" = ok ] || fail "health did not answer ok"

# OpenAI chat: model echoed back, usage = body bytes // 4 and 4 reply words.
body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}]}'
in_tok=$(($(printf %s "$body" | wc -c) / 4))
req -D "$dir/hdr" -H 'Authorization: Bearer sk-test-123' \
	-H 'Content-Type: application/json' -d "$body" "$base/v1/chat/completions" ||
	fail "chat request"
logged=$((logged + 1))
check "$dir/out" "d['model'] == 'gpt-4o-mini' and d['usage'] == {'prompt_tokens': $in_tok,
	'completion_tokens': 4, 'total_tokens': $in_tok + 4}
	and d['choices'][0]['message']['content'] == 'mock reply from gpt-4o-mini'" \
	"chat answer model/usage"
[ "$(header x-mock-input-tokens)" = "$in_tok" ] || fail "x-mock-input-tokens"
[ "$(header x-mock-output-tokens)" = 4 ] || fail "x-mock-output-tokens"
[ "$(header x-mock-model)" = gpt-4o-mini ] || fail "x-mock-model"
[ "$(header x-mock-request)" = 1 ] || fail "x-mock-request"

# OpenAI streaming with include_usage: a usage chunk, then [DONE].
req -N -d '{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}' \
	"$base/v1/chat/completions" || fail "chat stream request"
logged=$((logged + 1))
grep -q '"completion_tokens": 4' "$dir/out" || fail "chat stream has no usage chunk"
[ "$(tail -n 2 "$dir/out" | head -n 1)" = "data: [DONE]" ] || fail "chat stream does not end with [DONE]"

# Anthropic streaming.
req -N -D "$dir/hdr" -H 'x-api-key: sk-ant-test' \
	-d '{"model":"claude-3-5-haiku","stream":true,"max_tokens":10}' \
	"$base/v1/messages" || fail "anthropic stream request"
logged=$((logged + 1))
header content-type | grep -q '^text/event-stream' || fail "anthropic stream content type"
header transfer-encoding | grep -qi chunked || fail "anthropic stream is not chunked"
for ev in message_start content_block_delta message_delta message_stop; do
	grep -q "^event: $ev\$" "$dir/out" || fail "anthropic stream lacks $ev"
done
grep -q '"usage": {"output_tokens": 4}' "$dir/out" || fail "anthropic message_delta usage"

# Gemini: model from the path, usageMetadata.
body='{"contents":[{"parts":[{"text":"hi"}]}]}'
in_tok=$(($(printf %s "$body" | wc -c) / 4))
req -d "$body" "$base/v1beta/models/gemini-1.5-flash:generateContent?key=k" ||
	fail "gemini request"
logged=$((logged + 1))
check "$dir/out" "d['modelVersion'] == 'gemini-1.5-flash' and d['usageMetadata'] ==
	{'promptTokenCount': $in_tok, 'candidatesTokenCount': 4, 'totalTokenCount': $in_tok + 4}" \
	"gemini usageMetadata"
req -N -d "$body" "$base/v1beta/models/gemini-1.5-flash:streamGenerateContent?alt=sse" ||
	fail "gemini sse request"
logged=$((logged + 1))
[ "$(grep -c '^data: ' "$dir/out")" -ge 2 ] || fail "gemini sse has fewer than 2 events"
grep '^data: ' "$dir/out" | tail -n 1 | grep -q usageMetadata || fail "gemini sse last event lacks usageMetadata"

# Ollama /api/chat, not streamed.
req -d '{"model":"llama3.2","stream":false,"messages":[{"role":"user","content":"hi"}]}' \
	"$base/api/chat" || fail "ollama request"
logged=$((logged + 1))
check "$dir/out" "d['model'] == 'llama3.2' and d['done'] is True and d['eval_count'] == 4
	and d['prompt_eval_count'] >= 1 and d['message']['content'] == 'mock reply from llama3.2'" \
	"ollama answer"

# Chunked upload from stdin, echoed back byte for byte.
printf 'chunked upload body\n' | req -T - "$base/echo" || fail "chunked upload"
logged=$((logged + 1))
[ "$(cat "$dir/out")" = "chunked upload body" ] || fail "echo did not return the chunked body"

# Unknown path and a malformed body: JSON errors, server keeps running.
code=$(req -w '%{http_code}' "$base/no/such/endpoint") || fail "unknown path request"
logged=$((logged + 1))
[ "$code" = 404 ] || fail "unknown path gave $code, not 404"
code=$(req -w '%{http_code}' -d '{not json' "$base/v1/chat/completions") || fail "bad body request"
logged=$((logged + 1))
[ "$code" = 400 ] || fail "malformed body gave $code, not 400"
check "$dir/out" "'message' in d['error']" "400 error body"

# A 429 fault for one request, then success.
req -d '{"match":"model=gpt-4o","fault":"429","count":1}' "$base/_mock/fault" ||
	fail "adding a fault"
code=$(req -D "$dir/hdr" -w '%{http_code}' -d '{"model":"gpt-4o"}' "$base/v1/chat/completions") ||
	fail "faulted request"
logged=$((logged + 1))
[ "$code" = 429 ] || fail "fault gave $code, not 429"
[ "$(header retry-after)" = 1 ] || fail "429 without Retry-After: 1"
code=$(req -w '%{http_code}' -d '{"model":"gpt-4o"}' "$base/v1/chat/completions") ||
	fail "request after the fault"
logged=$((logged + 1))
[ "$code" = 200 ] || fail "request after a count=1 fault gave $code, not 200"

# drop (from the command line): no response at all.
rc=0
curl -sS --max-time 5 -o /dev/null -d '{"model":"drop-me"}' "$base/v1/chat/completions" \
	2>/dev/null || rc=$?
logged=$((logged + 1))
[ "$rc" = 52 ] || [ "$rc" = 56 ] || fail "drop made curl exit $rc, not 52 or 56"

# JSON mode: the reply text is {"reply": "mock reply from MODEL"}, 5 words.
reply='{"reply": "mock reply from m"}'
req -d '{"model":"m","response_format":{"type":"json_object"}}' "$base/v1/chat/completions" ||
	fail "chat json request"
logged=$((logged + 1))
check "$dir/out" "d['choices'][0]['message']['content'] == '$reply'
	and d['usage']['completion_tokens'] == 5" "chat json_object reply"
req -d '{"model":"m","text":{"format":{"type":"json_schema","name":"r","schema":{}}}}' \
	"$base/v1/responses" || fail "responses json request"
logged=$((logged + 1))
check "$dir/out" "d['output'][0]['content'][0]['text'] == '$reply'" "responses json_schema reply"
req -d '{"generationConfig":{"responseMimeType":"application/json"}}' \
	"$base/v1beta/models/m:generateContent" || fail "gemini json request"
logged=$((logged + 1))
check "$dir/out" "d['candidates'][0]['content']['parts'][0]['text'] == '$reply'
	and d['usageMetadata']['candidatesTokenCount'] == 5" "gemini json reply"
req -d '{"model":"m","stream":false,"format":"json"}' "$base/api/chat" || fail "ollama json request"
logged=$((logged + 1))
check "$dir/out" "d['message']['content'] == '$reply' and d['eval_count'] == 5" "ollama format json reply"
req -d '{"model":"m","stream":false,"format":{"type":"object"}}' "$base/api/generate" ||
	fail "ollama schema request"
logged=$((logged + 1))
check "$dir/out" "d['response'] == '$reply'" "ollama format schema reply"
req -d '{"model":"m","response_format":{"type":"text"}}' "$base/v1/chat/completions" ||
	fail "chat text-format request"
logged=$((logged + 1))
check "$dir/out" "d['choices'][0]['message']['content'] == 'mock reply from m'" \
	"chat text format is not JSON mode"
req -d '{"model":"m","max_tokens":9}' "$base/v1/messages" || fail "anthropic plain request"
logged=$((logged + 1))
check "$dir/out" "d['content'][0]['text'] == 'mock reply from m'" "anthropic has no JSON mode"

# afault KIND: the next LLM request gets answer fault KIND (logged in $faults).
faults=""
afault() {
	req -d "{\"match\":\"*\",\"fault\":\"$1\",\"count\":1}" "$base/_mock/fault" ||
		fail "adding fault $1"
	faults="$faults $1"
}

# empty: "" and 0 output tokens, streamed or not.
afault empty
req -D "$dir/hdr" -d '{"model":"m"}' "$base/v1/chat/completions" || fail "empty request"
logged=$((logged + 1))
check "$dir/out" "d['choices'][0]['message']['content'] == '' and d['usage']['completion_tokens'] == 0
	and d['choices'][0]['finish_reason'] == 'stop'" "empty chat answer"
[ "$(header x-mock-fault)" = empty ] || fail "empty answer without x-mock-fault: empty"
[ "$(header x-mock-output-tokens)" = 0 ] || fail "empty answer x-mock-output-tokens"
afault empty
req -N -d '{"model":"m","stream":true}' "$base/v1/messages" || fail "empty anthropic stream"
logged=$((logged + 1))
grep -q '"text_delta", "text": ""' "$dir/out" || fail "empty anthropic stream has no empty delta"
grep -q '"text_delta", "text": "[^"]' "$dir/out" && fail "empty anthropic stream has text"
grep -q '"usage": {"output_tokens": 0}' "$dir/out" || fail "empty anthropic stream usage"

# length: each API's finish reason says the limit was hit; the text is kept.
length_case() { # PATH BODY EXPR
	afault length
	req -d "$2" "$base$1" || fail "length request $1"
	logged=$((logged + 1))
	check "$dir/out" "$3" "length answer of $1"
}
length_case /v1/chat/completions '{"model":"m"}' "d['choices'][0]['finish_reason'] == 'length'
	and d['choices'][0]['message']['content'] == 'mock reply from m'"
length_case /v1/completions '{"model":"m"}' "d['choices'][0]['finish_reason'] == 'length'"
length_case /v1/responses '{"model":"m"}' "d['status'] == 'incomplete'
	and d['incomplete_details'] == {'reason': 'max_output_tokens'}"
length_case /v1/messages '{"model":"m"}' "d['stop_reason'] == 'max_tokens'"
length_case /v1beta/models/m:generateContent '{}' "d['candidates'][0]['finishReason'] == 'MAX_TOKENS'"
length_case /api/chat '{"model":"m","stream":false}' "d['done_reason'] == 'length'"
length_case /api/generate '{"model":"m","stream":false}' "d['done_reason'] == 'length'
	and d['response'] == 'mock reply from m'"
afault length
req -N -d '{"model":"m","stream":true}' "$base/v1/chat/completions" || fail "length chat stream"
logged=$((logged + 1))
grep -q '"finish_reason": "length"' "$dir/out" || fail "length chat stream has no finish_reason length"
grep -q '"finish_reason": "stop"' "$dir/out" && fail "length chat stream still says stop"
afault length
req -N -d '{"model":"m","stream":true}' "$base/v1/responses" || fail "length responses stream"
logged=$((logged + 1))
grep -q '^event: response.incomplete$' "$dir/out" || fail "length responses stream lacks response.incomplete"
grep -q '^event: response.completed$' "$dir/out" && fail "length responses stream has response.completed"
afault length
req -N -d '{"model":"m"}' "$base/api/generate" || fail "length ollama stream"
logged=$((logged + 1))
tail -n 1 "$dir/out" | grep -q '"done_reason": "length"' || fail "length ollama stream done_reason"

# refusal: the refusal text; OpenAI's refusal field in JSON mode.
refusal="I'm sorry, but I can't help with that."
afault refusal
req -D "$dir/hdr" -d '{"model":"m"}' "$base/v1/chat/completions" || fail "refusal request"
logged=$((logged + 1))
check "$dir/out" "d['choices'][0]['message']['content'] == \"$refusal\"
	and d['choices'][0]['message']['refusal'] is None and d['usage']['completion_tokens'] == 8" \
	"refusal chat answer"
[ "$(header x-mock-fault)" = refusal ] || fail "refusal answer without x-mock-fault: refusal"
afault refusal
req -d '{"model":"m","response_format":{"type":"json_schema"}}' "$base/v1/chat/completions" ||
	fail "refusal json request"
logged=$((logged + 1))
check "$dir/out" "d['choices'][0]['message']['content'] is None
	and d['choices'][0]['message']['refusal'] == \"$refusal\"" "refusal chat answer in JSON mode"
afault refusal
req -d '{"model":"m","text":{"format":{"type":"json_object"}}}' "$base/v1/responses" ||
	fail "refusal responses request"
logged=$((logged + 1))
check "$dir/out" "d['output'][0]['content'] == [{'type': 'refusal', 'refusal': \"$refusal\"}]" \
	"refusal responses answer in JSON mode"
afault refusal
req -d '{}' "$base/v1beta/models/m:generateContent" || fail "refusal gemini request"
logged=$((logged + 1))
check "$dir/out" "d['candidates'][0]['content']['parts'][0]['text'] == \"$refusal\"" \
	"refusal gemini answer"
afault refusal
req -N -d '{"model":"m","stream":true}' "$base/v1/chat/completions" || fail "refusal chat stream"
logged=$((logged + 1))
"$PY" - "$dir/out" "$refusal" <<'EOF' || fail "refusal chat stream text"
import json, sys
chunks = [json.loads(l[6:]) for l in open(sys.argv[1]) if l.startswith("data: {")]
text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
sys.exit(0 if text == sys.argv[2] else 1)
EOF

# badjson: the JSON reply in a ```json fence, which a JSON parser rejects.
afault badjson
req -d '{"model":"m","response_format":{"type":"json_object"}}' "$base/v1/chat/completions" ||
	fail "badjson request"
logged=$((logged + 1))
check "$dir/out" "d['choices'][0]['message']['content'] == '\`\`\`json\n' + '$reply' + '\n\`\`\`'
	and d['usage']['completion_tokens'] == 7" "badjson chat answer"
"$PY" -c 'import json, sys; json.loads(json.load(open(sys.argv[1]))["choices"][0]["message"]["content"])' \
	"$dir/out" 2>/dev/null && fail "badjson chat answer is valid JSON"
afault badjson
req -d '{"model":"m","stream":false,"format":"json"}' "$base/api/chat" || fail "badjson ollama request"
logged=$((logged + 1))
check "$dir/out" "d['message']['content'] == '\`\`\`json\n' + '$reply' + '\n\`\`\`'" "badjson ollama answer"

# tool: a call to the first tool offered, in each API's shape, streamed or not.
W='"name":"get_weather"'
ARGS='{"q": "mock"}'
tool_case() { # PATH BODY EXPR
	afault tool
	req -d "$2" "$base$1" || fail "tool request $1"
	logged=$((logged + 1))
	check "$dir/out" "$3" "tool answer of $1"
}
tool_case /v1/chat/completions "{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{$W}}]}" \
	"d['choices'][0]['finish_reason'] == 'tool_calls' and d['choices'][0]['message']['content'] is None
	and d['choices'][0]['message']['tool_calls'][0]['function'] == {'name': 'get_weather', 'arguments': '$ARGS'}
	and d['usage']['completion_tokens'] == 5"
tool_case /v1/responses "{\"model\":\"m\",\"tools\":[{\"type\":\"function\",$W}]}" \
	"d['output'][0]['type'] == 'function_call' and d['output'][0]['name'] == 'get_weather'
	and d['output'][0]['arguments'] == '$ARGS'"
tool_case /v1/messages "{\"model\":\"m\",\"max_tokens\":9,\"tools\":[{$W,\"input_schema\":{}}]}" \
	"d['stop_reason'] == 'tool_use' and d['content'][0]['type'] == 'tool_use'
	and d['content'][0]['name'] == 'get_weather' and d['content'][0]['input'] == {'q': 'mock'}"
tool_case /v1beta/models/m:generateContent "{\"tools\":[{\"functionDeclarations\":[{$W}]}]}" \
	"d['candidates'][0]['content']['parts'][0]['functionCall'] == {'name': 'get_weather', 'args': {'q': 'mock'}}"
tool_case /api/chat "{\"model\":\"m\",\"stream\":false,\"tools\":[{\"type\":\"function\",\"function\":{$W}}]}" \
	"d['message']['tool_calls'][0]['function'] == {'name': 'get_weather', 'arguments': {'q': 'mock'}}
	and d['done'] is True"
tool_case /v1/chat/completions '{"model":"m"}' \
	"d['choices'][0]['message']['tool_calls'][0]['function']['name'] == 'mock_tool'"
tool_stream() { # API PATH BODY
	afault tool
	req -N -d "$3" "$base$2" || fail "tool stream $2"
	logged=$((logged + 1))
	"$PY" - "$1" "$dir/out" <<'EOF' || fail "tool stream of $2: $(head -c 600 "$dir/out")"
import json, sys
api, text = sys.argv[1], open(sys.argv[2]).read()
if api == "ollama":
    evs = [json.loads(l) for l in text.splitlines() if l]
else:
    evs = [json.loads(l[6:]) for l in text.splitlines() if l.startswith("data: {")]
name, args = None, ""
for e in evs:
    if api == "chat":
        for ch in e.get("choices", []):
            for tc in ch["delta"].get("tool_calls", []):
                name = tc["function"].get("name") or name
                args += tc["function"].get("arguments", "")
    elif api == "anthropic":
        if e["type"] == "content_block_start":
            name = e["content_block"]["name"]
        if e["type"] == "content_block_delta":
            args += e["delta"]["partial_json"]
    elif api == "responses":
        if e["type"] == "response.output_item.added":
            name = e["item"]["name"]
        if e["type"] == "response.function_call_arguments.delta":
            args += e["delta"]
    elif api == "gemini":
        for p in e["candidates"][0]["content"]["parts"]:
            if "functionCall" in p:
                name, args = p["functionCall"]["name"], json.dumps(p["functionCall"]["args"])
    elif api == "ollama":
        for tc in e["message"].get("tool_calls", []):
            name, args = tc["function"]["name"], json.dumps(tc["function"]["arguments"])
sys.exit(0 if name == "get_weather" and json.loads(args) == {"q": "mock"} else 1)
EOF
}
tool_stream chat /v1/chat/completions "{\"model\":\"m\",\"stream\":true,\"tools\":[{\"type\":\"function\",\"function\":{$W}}]}"
tool_stream responses /v1/responses "{\"model\":\"m\",\"stream\":true,\"tools\":[{\"type\":\"function\",$W}]}"
tool_stream anthropic /v1/messages "{\"model\":\"m\",\"stream\":true,\"tools\":[{$W}]}"
tool_stream gemini '/v1beta/models/m:streamGenerateContent?alt=sse' "{\"tools\":[{\"functionDeclarations\":[{$W}]}]}"
tool_stream ollama /api/chat "{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":{$W}}]}"

# midstream: the first text, then an error event in the API's shape.
mid_case() { # PATH BODY EXPR-ON-LAST-EVENT
	afault midstream
	req -N -d "$2" "$base$1" || fail "midstream request $1"
	logged=$((logged + 1))
	"$PY" - "$dir/out" "$3" <<'EOF' || fail "midstream of $1: $(head -c 600 "$dir/out")"
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l]
evs = [json.loads(l[6:] if l.startswith("data: ") else l) for l in lines if not l.startswith("event: ")]
d = evs[-1]
sys.exit(0 if len(evs) >= 2 and "[DONE]" not in open(sys.argv[1]).read() and eval(sys.argv[2]) else 1)
EOF
}
mid_case /v1/chat/completions '{"model":"m","stream":true}' "d['error']['message'] == 'mock fault midstream'"
mid_case /v1/messages '{"model":"m","stream":true}' "d == {'type': 'error', 'error': {'type': 'overloaded_error', 'message': 'mock fault midstream'}}"
mid_case /v1/responses '{"model":"m","stream":true}' "d['type'] == 'error' and d['message'] == 'mock fault midstream'"
mid_case '/v1beta/models/m:streamGenerateContent?alt=sse' '{}' "d['error']['status'] == 'UNAVAILABLE'"
mid_case /api/chat '{"model":"m"}' "d == {'error': 'mock fault midstream'}"

# 529: Anthropic's overloaded status.
afault 529
code=$(req -w '%{http_code}' -d '{"model":"m"}' "$base/v1/messages") || fail "529 request"
logged=$((logged + 1))
[ "$code" = 529 ] || fail "529 fault gave $code"
check "$dir/out" "d['error']['type'] == 'overloaded_error'" "529 error body"

# Embeddings have no text: an answer fault is used up but changes nothing.
afault empty
req -D "$dir/hdr" -d '{"model":"e","input":"x"}' "$base/v1/embeddings" || fail "faulted embeddings"
logged=$((logged + 1))
check "$dir/out" "len(d['data'][0]['embedding']) == 8" "embeddings under an answer fault"
[ -z "$(header x-mock-fault)" ] || fail "embeddings answer says x-mock-fault"
req "$base/_mock/faults" || fail "GET /_mock/faults"
check "$dir/out" "d == [{'match': 'model=drop-*', 'fault': 'drop', 'count': None}]" \
	"answer faults left after count=1"

# A bad kind is refused by the control API and the command line, naming the
# answer faults.
code=$(req -w '%{http_code}' -d '{"match":"*","fault":"garbled"}' "$base/_mock/fault") ||
	fail "bad fault kind request"
[ "$code" = 400 ] || fail "bad fault kind gave $code, not 400"
check "$dir/out" "'refusal, badjson or long=BYTES' in d['error']['message']" "bad fault kind message"
"$PY" "$root/tools/mock_upstream.py" --fault '*:nope' 2>"$dir/err" && fail "--fault '*:nope' accepted"
grep -q 'refusal, badjson or long=BYTES' "$dir/err" || fail "--fault error does not name the answer faults"
"$PY" "$root/tools/mock_upstream.py" --help | tr -s ' \n' '  ' | grep -q 'empty, length, refusal, badjson or long=BYTES' ||
	fail "--help does not name the answer faults"

# The log: one line per request, with all headers and the body.
[ "$(wc -l <"$dir/log")" -eq "$logged" ] || fail "log has $(wc -l <"$dir/log") lines, want $logged"
"$PY" - "$dir/log" "$faults" <<'EOF' || fail "log content"
import base64, hashlib, json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
def need(ok, what):
    if not ok:
        sys.exit(f"log: {what}")
need([e["n"] for e in lines] == list(range(1, len(lines) + 1)), "n is not 1..N")
for e in lines:
    need("host" in e["headers"] and "user-agent" in e["headers"], f"headers of {e['n']}")
    body = base64.b64decode(e["body_b64"])
    need(hashlib.sha256(body).hexdigest() == e["body_sha256"], f"sha256 of {e['n']}")
first = lines[0]
need(first["headers"].get("authorization") == "Bearer sk-test-123", "authorization header")
need(first["model"] == "gpt-4o-mini" and first["path"] == "/v1/chat/completions", "first entry")
need(lines[2]["headers"].get("x-api-key") == "sk-ant-test", "x-api-key header")
need(lines[3]["model"] == "gemini-1.5-flash" and lines[3]["query"] == "key=k", "gemini entry")
echo = [e for e in lines if e["path"] == "/echo"][0]
need(echo["headers"].get("transfer-encoding") == "chunked", "echo was not chunked")
need(echo["body"] == "chunked upload body\n", "echo body")
need([e["fault"] for e in lines if e["fault"]] == ["429", "drop"] + sys.argv[2].split(),
     "fault fields")
EOF

# long=N: the reply padded to N bytes (for benchmarks of big answers).
afault long=300
req -d '{"model":"m","messages":[]}' "$base/v1/chat/completions" || fail "long=300 request"
logged=$((logged + 1))
check "$dir/out" "len(d['choices'][0]['message']['content']) == 300 and d['choices'][0]['message']['content'].startswith('mock reply from m lorem')" "long=300 answer"

# /_mock/responses: digests of exactly what was sent, head and body.
req -D "$dir/hdr" -d '{"model":"m","messages":[]}' "$base/v1/chat/completions" || fail "request for /_mock/responses"
logged=$((logged + 1))
cp "$dir/out" "$dir/body"
req "$base/_mock/responses" || fail "GET /_mock/responses"
"$PY" - "$dir/out" "$dir/body" "$dir/hdr" <<'EOF' || fail "/_mock/responses digests"
import hashlib, json, sys
r = json.load(open(sys.argv[1]))[-1]
body, head = open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()
sys.exit(0 if r["status"] == 200 and r["body_sha256"] == hashlib.sha256(body).hexdigest()
         and r["head_sha256"] == hashlib.sha256(head).hexdigest() else 1)
EOF

# The in-memory log matches; reset clears it.
req "$base/_mock/requests" || fail "GET /_mock/requests"
check "$dir/out" "len(d) == $logged" "/_mock/requests length"
req -X POST "$base/_mock/reset" || fail "reset"
req "$base/_mock/requests" || fail "GET /_mock/requests after reset"
check "$dir/out" "d == []" "/_mock/requests after reset"
req "$base/_mock/responses" || fail "GET /_mock/responses after reset"
check "$dir/out" "d == []" "/_mock/responses after reset"
kill -0 "$pid" 2>/dev/null || fail "mock died"

echo "t_mock_upstream: ok ($logged requests)"
