# t_xlate_e2e.sh - routes between API formats, end to end (issue 17): an
# app speaking one API, unmodified, sent by a route to a target speaking
# another (the route's "format"), against the mock upstream, which answers
# each API in its own shape.  Apps: Python's http.client speaking OpenAI
# chat and Anthropic messages (tests/clients/xlate_client.py, on the
# socket transport: the shim's own client carries every translated
# request), the curl command line (the libcurl transport), the Node.js
# `openai` package (OpenAI -> Anthropic); each app
# format to each other target format, streamed and not, tool calls, the
# target's errors in the app's shape and status, a feature the target
# cannot honour (the app's own 400), a fallback from an Anthropic target
# to an OpenAI one, the credential header per target format, the audit
# (the target's provider, model and token counts), show and explain.
# needs: unsanitized (Debian's curl and Node.js under an ASan runtime)
. "$(dirname "$0")/lib.sh"
lr_setup xlate_e2e
start_mock
LLMROUTE_AUDIT=$T/audit.jsonl
export LLMROUTE_AUDIT
ANT_KEY=sk-ant-route GEM_KEY=gem-route OAI_KEY=sk-oai-route AZ_KEY=az-route
export ANT_KEY GEM_KEY OAI_KEY AZ_KEY
OAI_URL=$MOCK/v1/chat/completions
ANT_URL=$MOCK/v1/messages
cat >"$T/rules.in" <<EOF2
{"targets": {
   "claude": {"model": "claude-t", "endpoint": "$MOCK/v1", "format": "anthropic", "api_key_env": "ANT_KEY"},
   "gpt": {"model": "gpt-t", "endpoint": "$MOCK/v1", "format": "openai", "api_key_env": "OAI_KEY"},
   "gem": {"model": "gemini-t", "endpoint": "$MOCK/v1beta", "format": "gemini", "api_key_env": "GEM_KEY"}},
 "health": {"failures": 100, "cooldown_s": 60},
 "cache": {"size_mb": 4, "max_entry_kb": 64},
 "routes": [
   {"name": "o2anthropic", "match": {"model": "o-anthropic"},
    "set": {"model": "claude-t", "endpoint": "$MOCK/v1", "format": "anthropic", "api_key_env": "ANT_KEY"}},
   {"name": "o2gemini", "match": {"model": "o-gemini"},
    "set": {"model": "gemini-t", "endpoint": "$MOCK/v1beta", "format": "gemini", "api_key_env": "GEM_KEY"}},
   {"name": "o2ollama", "match": {"model": "o-ollama"},
    "set": {"model": "llama-t", "endpoint": "$MOCK", "format": "ollama"}},
   {"name": "o2responses", "match": {"model": "o-responses"},
    "set": {"model": "gpt-r", "endpoint": "$MOCK/v1", "format": "responses", "api_key_env": "OAI_KEY"}},
   {"name": "a2openai", "match": {"model": "a-openai"},
    "set": {"model": "gpt-t", "endpoint": "$MOCK/v1", "format": "openai", "api_key_env": "OAI_KEY"}},
   {"name": "a2gemini", "match": {"model": "a-gemini"},
    "set": {"model": "gemini-t", "endpoint": "$MOCK/v1beta", "format": "gemini", "api_key_env": "GEM_KEY"}},
   {"name": "a2ollama", "match": {"model": "a-ollama"},
    "set": {"model": "llama-t", "endpoint": "$MOCK", "format": "ollama"}},
   {"name": "a2responses", "match": {"model": "a-responses"},
    "set": {"model": "gpt-r", "endpoint": "$MOCK/v1", "format": "responses", "api_key_env": "OAI_KEY"}},
   {"name": "to-openai", "match": {"model": "to-openai"},
    "set": {"model": "gpt-t", "endpoint": "$MOCK/v1", "format": "openai", "api_key_env": "OAI_KEY"}},
   {"name": "to-anthropic", "match": {"model": "to-anthropic"},
    "set": {"model": "claude-t", "endpoint": "$MOCK/v1", "format": "anthropic", "api_key_env": "ANT_KEY"}},
   {"name": "to-gemini", "match": {"model": "to-gemini"},
    "set": {"model": "gemini-t", "endpoint": "$MOCK/v1beta", "format": "gemini", "api_key_env": "GEM_KEY"}},
   {"name": "to-ollama", "match": {"model": "to-ollama"},
    "set": {"model": "llama-t", "endpoint": "$MOCK", "format": "ollama"}},
   {"name": "to-responses", "match": {"model": "to-responses"},
    "set": {"model": "gpt-r", "endpoint": "$MOCK/v1", "format": "responses", "api_key_env": "OAI_KEY"}},
   {"name": "to-azure", "match": {"model": "to-azure"},
    "set": {"model": "az-t", "endpoint": "$MOCK", "format": "azure", "api_key_env": "AZ_KEY"}},
   {"name": "nokey", "match": {"model": "o-nokey"},
    "set": {"model": "claude-n", "endpoint": "$MOCK/v1", "format": "anthropic"}},
   {"name": "mix", "match": {"model": "o-mix"}, "pool": {"targets": ["claude"]}, "fallbacks": ["gpt"],
    "retries": 0},
   {"name": "mix2", "match": {"model": "o-mix2"}, "pool": {"targets": ["claude"]}, "fallbacks": ["gem"],
    "retries": 0},
   {"name": "amix", "match": {"model": "a-mix"}, "pool": {"targets": ["gpt"]}, "fallbacks": ["gem", "claude"],
    "retries": 0},
   {"name": "ccache", "match": {"model": "o-cache"},
    "set": {"model": "claude-t", "endpoint": "$MOCK/v1", "format": "anthropic", "api_key_env": "ANT_KEY"},
    "cache": {"ttl_s": 600}},
   {"name": "esc", "match": {"model": "o-esc"}, "pool": {"targets": ["claude"]},
    "escalate": {"when": ["length"], "to": ["gem"]}}]}
EOF2
"$CTL" load "$T/rules.in" >/dev/null || exit 1

fault() { # MODEL KIND [COUNT]
	curl -sS -o /dev/null -X POST "$MOCK/_mock/fault" -d '{"match":"model='"$1"'","fault":"'"$2"'","count":'"${3:-1}"'}'
}
app() { # URL API MODEL [FLAGS...]: the app's answer summary in $T/out
	shim "$PY" "$ROOT/tests/clients/xlate_client.py" "$@" >"$T/out" 2>"$T/err"
}
got() { json_ok "$T/out" "$1" || { echo "  got: $(cat "$T/out" "$T/err")" >&2; return 1; }; }

# --- rules, show, explain -------------------------------------------------
"$CTL" show >"$T/show"
check "show: the route's format" grep -q 'format=anthropic' "$T/show"
printf '{"routes": [{"name": "x", "match": {"model": "y"}, "set": {"endpoint": "%s", "format": "cohere"}}]}' "$MOCK" >"$T/bad.json"
expect 2 'format is one of' "$CTL" check "$T/bad.json"
printf '{"routes": [{"name": "x", "match": {"model": "y"}, "set": {"format": "anthropic"}}]}' >"$T/bad.json"
expect 2 'needs an endpoint' "$CTL" check "$T/bad.json"
printf '{"model": "o-anthropic", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}' >"$T/req.json"
"$CTL" explain --url "$OAI_URL" --body "$T/req.json" --show-body >"$T/explain" 2>&1
check "explain --show-body: the Anthropic request the target gets" sh -c \
	"grep -q '^format: *openai -> anthropic' '$T/explain' && grep -q '\"system\":\"be brief\"' '$T/explain' && grep -q '\"max_tokens\":4096' '$T/explain' && grep -q 'anthropic-version: 2023-06-01' '$T/explain' && grep -q -- '-> $MOCK/v1/messages' '$T/explain' && grep -q 'x-api-key: replaced' '$T/explain'"
printf '{"model": "o-anthropic", "logprobs": true, "messages": [{"role": "user", "content": "hi"}]}' >"$T/req.json"
"$CTL" explain --url "$OAI_URL" --body "$T/req.json" >"$T/explain" 2>&1
check "explain: a feature the target cannot honour is the app's 400" grep -q 'refused: the app gets a 400.*logprobs' "$T/explain"

# --- each app format to each other target format, streamed and not ---------
# pair APP_URL APP MODEL TARGET_PATH KEY_HEADER: both ways, checked at the
# mock (what the target got) and in the app (what it read)
pair() {
	for mode in plain stream; do
		flags=""
		[ $mode = stream ] && flags=stream
		app "$1" "$2" "$3" $flags
		if got "d['status'] == 200 and d['text'].startswith('mock reply from') and d['finish'] in ('stop', 'end_turn') and d['usage'] and d['usage'][1] == 4"; then
			ok "$2 app -> $3 ($mode): answer in the app's shape"
		else
			fail "$2 app -> $3 ($mode): answer in the app's shape"
		fi
		check "$2 app -> $3 ($mode): the target got its own API ($4)" \
			last_req "d['path'].startswith('$4') and 'sk-app' not in json.dumps(d['headers']) and ('$5' == '' or '$5' in d['headers'])"
	done
}
pair "$OAI_URL" openai o-anthropic /v1/messages x-api-key
check "openai app -> anthropic: anthropic-version, system and max_tokens in the target's request" \
	last_req "d['headers'].get('anthropic-version') == '2023-06-01' and json.loads(d['raw'])['system'] == 'be brief' and json.loads(d['raw'])['max_tokens'] == 4096 and d['headers']['x-api-key'] == 'sk-ant-route'"
pair "$OAI_URL" openai o-gemini /v1beta/models/gemini-t: x-goog-api-key
check "openai app -> gemini: the model in the path, systemInstruction" \
	last_req "'systemInstruction' in json.loads(d['raw']) and d['query'] == 'alt=sse'"
pair "$OAI_URL" openai o-ollama /api/chat ""
pair "$OAI_URL" openai o-responses /v1/responses authorization
check "openai app -> responses: the route's key as a bearer" last_req "d['headers']['authorization'] == 'Bearer sk-oai-route'"
pair "$ANT_URL" anthropic a-openai /v1/chat/completions authorization
check "anthropic app -> openai: no anthropic-version, the route's bearer key" \
	last_req "'anthropic-version' not in d['headers'] and d['headers']['authorization'] == 'Bearer sk-oai-route' and json.loads(d['raw'])['messages'][0]['role'] == 'system'"
pair "$ANT_URL" anthropic a-gemini /v1beta/models/gemini-t x-goog-api-key
pair "$ANT_URL" anthropic a-ollama /api/chat ""
pair "$ANT_URL" anthropic a-responses /v1/responses authorization

# --- Gemini, Responses, Ollama and Azure apps, and Azure as a target: every
# pair, streamed and not, a tool call and an error per app format, from one
# Python process (tests/clients/xlate_matrix.py: one line per check) -------
matrix() { # CASE...: each "ok"/"not ok" line of the client is one check
	shim "$PY" "$ROOT/tests/clients/xlate_matrix.py" "$MOCK" "$T/mock.log" "$MOCK" "$@" >"$T/mx" 2>"$T/mxerr"
	[ -s "$T/mx" ] || fail "xlate_matrix.py ran no case: $(cat "$T/mxerr")"
	while IFS= read -r l; do
		case $l in "ok - "*) ok "${l#ok - }" ;; *) fail "${l#not ok - }" ;; esac
	done <"$T/mx"
}
set --
for a in gemini responses ollama azure; do
	for t in openai anthropic gemini ollama responses azure; do
		[ $a = $t ] && continue
		set -- "$@" "$a>$t" "$a>$t/stream"
	done
done
set -- "$@" "openai>azure" "openai>azure/stream" "anthropic>azure" "anthropic>azure/stream"
for c in gemini\>openai responses\>anthropic ollama\>gemini azure\>anthropic openai\>ollama anthropic\>responses; do
	set -- "$@" "$c/tool" "$c/tool/stream"
done
set -- "$@" "gemini>anthropic/err=429" "responses>gemini/err=429" "ollama>openai/err=429" \
	"azure>anthropic/err=429" "gemini>ollama/err=429/stream" "responses>openai/err=429/stream"
# the same app formats from the curl command line (the libcurl transport)
for c in gemini\>openai gemini\>anthropic responses\>anthropic responses\>gemini ollama\>openai \
	ollama\>anthropic azure\>anthropic azure\>gemini; do
	set -- "$@" "$c/curl" "$c/stream/curl"
done
set -- "$@" "gemini>openai/tool/curl" "responses>anthropic/tool/stream/curl" "ollama>gemini/err=429/curl" \
	"azure>openai/err=429/stream/curl"
matrix "$@"

# --- tool calls --------------------------------------------------------------
for pt in o-anthropic:claude-t o-gemini:gemini-t; do
	for mode in "" stream; do
		fault "${pt#*:}" tool
		app "$OAI_URL" openai "${pt%:*}" tool $mode
		check "openai app -> ${pt%:*} ($mode): the tool call as OpenAI's, arguments a JSON string" \
			got "d['tools'] == [['get_weather', {'q': 'mock'}]] and d['finish'] == 'tool_calls'"
	done
done
for mode in "" stream; do
	fault gpt-t tool
	app "$ANT_URL" anthropic a-openai tool $mode
	check "anthropic app -> openai ($mode): the tool call as a tool_use block" \
		got "d['tools'] == [['get_weather', {'q': 'mock'}]] and d['finish'] == 'tool_use'"
	check "anthropic app -> openai ($mode): the tool as an OpenAI function" \
		last_req "json.loads(d['raw'])['tools'][0]['function']['name'] == 'get_weather'"
done

# --- errors, in the app's shape and status -----------------------------------
fault claude-t 429
app "$OAI_URL" openai o-anthropic
check "openai app, anthropic target's 429: an OpenAI rate-limit error" \
	got "d['status'] == 429 and d['error_type'] in ('rate_limit_error', 'rate_limit_exceeded')"
fault gpt-t 503
app "$ANT_URL" anthropic a-openai
check "anthropic app, openai target's 503: Anthropic's overloaded error (529)" \
	got "d['status'] == 529 and d['error_type'] == 'overloaded_error'"
fault gpt-t 400
app "$ANT_URL" anthropic a-openai stream
check "anthropic app, openai target's 400 to a stream: an Anthropic invalid_request_error" \
	got "d['status'] == 400 and d['error_type'] == 'invalid_request_error'"
fault claude-t midstream
app "$OAI_URL" openai o-anthropic stream
check "openai app, anthropic stream cut by an error event: the text, then one error chunk" \
	got "d['status'] == 200 and d['error'] and d['text'].startswith('mock')"
n=$(mock_count)
shim "$PY" - "$MOCK" >"$T/out" <<'PYEOF'
import http.client, json, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
c.request("POST", "/v1/chat/completions", json.dumps({"model": "o-anthropic", "logprobs": True,
          "messages": [{"role": "user", "content": "hi"}]}), {"Content-Type": "application/json"})
r = c.getresponse()
print(json.dumps({"status": r.status, "body": json.loads(r.read())}))
PYEOF
check "logprobs to an Anthropic target: the app's own 400 naming it" \
	json_ok "$T/out" "d['status'] == 400 and 'logprobs' in d['body']['error']['message'] and d['body']['error']['type'] == 'invalid_request_error'"
check "logprobs to an Anthropic target: nothing sent" test "$(mock_count)" -eq "$n"

# --- the app's key never goes to another API ----------------------------------
app "$OAI_URL" openai o-nokey key=sk-app-secret
check "no route key: the app's OpenAI key is not sent to the Anthropic target" \
	last_req "'sk-app-secret' not in json.dumps(d['headers']) and d['path'] == '/v1/messages'"

# --- a fallback across formats, and the audit ---------------------------------
: >"$T/audit.jsonl"
fault claude-t 529
app "$OAI_URL" openai o-mix
check "fallback: anthropic target overloaded, the openai target answers the openai app" \
	got "d['status'] == 200 and d['text'] == 'mock reply from gpt-t'"
check "audit: two attempts, the first to anthropic (529), the second delivered by openai" audit_ok "$T/audit.jsonl" \
	"len(a) == 2 and a[0]['gen_ai.provider.name'] == 'anthropic' and a[0]['http.response.status_code'] in (503, 529) and not a[0]['llmroute.delivered'] and a[1]['llmroute.delivered'] and a[1]['gen_ai.request.model'] == 'gpt-t' and a[1]['gen_ai.usage.output_tokens'] == 4"
: >"$T/audit.jsonl"
app "$OAI_URL" openai o-gemini stream
check "audit: the target's provider and model, its token counts from the translated stream" audit_ok "$T/audit.jsonl" \
	"r['gen_ai.provider.name'] == 'gcp.gemini' and r['gen_ai.request.model'] == 'gemini-t' and r['llmroute.original_model'] == 'o-gemini' and r['gen_ai.usage.output_tokens'] == 4 and r['gen_ai.usage.input_tokens'] > 0 and r['llmroute.stream']"

# --- the curl command line (the libcurl transport: its callbacks get the
# translated answer) -----------------------------------------------------------
ccurl() { # URL API MODEL [stream] [tool]: the app's request with curl
	url=$1 api=$2 model=$3
	shift 3
	"$PY" - "$api" "$model" "$@" >"$T/creq.json" <<'PYEOF'
import json, sys
api, model, flags = sys.argv[1], sys.argv[2], sys.argv[3:]
msgs = [{"role": "user", "content": "Say hello"}]
tool = {"name": "get_weather", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}
if api == "openai":
    b = {"model": model, "messages": msgs}
    if "tool" in flags:
        b["tools"] = [{"type": "function", "function": tool}]
else:
    b = {"model": model, "max_tokens": 50, "messages": msgs}
    if "tool" in flags:
        b["tools"] = [{"name": tool["name"], "input_schema": tool["parameters"]}]
if "stream" in flags:
    b["stream"] = True
print(json.dumps(b))
PYEOF
	if [ "$api" = openai ]; then h='Authorization: Bearer sk-app'; else h='x-api-key: sk-app'; fi
	code=$(shim curl -sS -N -o "$T/cbody" -D "$T/chead" -w '%{http_code}' -H 'Content-Type: application/json' \
		-H "$h" --data-binary @"$T/creq.json" "$url" 2>"$T/cerr")
	echo "curl rc $? code $code" >"$T/crc"
	st=$(sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' "$T/chead" | tr -d '\r')
	"$PY" "$ROOT/tests/clients/xlate_client.py" --parse "$api" "${st:-0}" "$T/cbody" "$@" >"$T/out" 2>"$T/err"
}
ccurl "$OAI_URL" openai o-anthropic
check "curl, openai -> anthropic: the answer in OpenAI's shape" got "d['text'] == 'mock reply from claude-t' and d['finish'] == 'stop' and d['usage'][1] == 4"
check "curl, openai -> anthropic: the app's Content-Type, no stale Content-Length" sh -c \
	"grep -qi '^content-type: application/json' '$T/chead' && ! grep -qi '^content-length' '$T/chead'"
ccurl "$OAI_URL" openai o-anthropic stream
check "curl, openai -> anthropic, streamed: OpenAI chunks and [DONE]" got "d['text'] == 'mock reply from claude-t' and d['finish'] == 'stop'"
check "curl, streamed: text/event-stream" grep -qi '^content-type: text/event-stream' "$T/chead"
fault claude-t tool
ccurl "$OAI_URL" openai o-anthropic tool stream
check "curl, openai -> anthropic, streamed tool call" got "d['tools'] == [['get_weather', {'q': 'mock'}]] and d['finish'] == 'tool_calls'"
ccurl "$ANT_URL" anthropic a-openai stream
check "curl, anthropic -> openai, streamed: Anthropic events" got "d['text'] == 'mock reply from gpt-t' and d['finish'] == 'end_turn'"
ccurl "$ANT_URL" anthropic a-gemini
check "curl, anthropic -> gemini: an Anthropic message" got "d['text'] == 'mock reply from gemini-t' and d['usage'][1] == 4"
check "curl, anthropic -> gemini: the Gemini key header, not the app's" \
	last_req "d['headers'].get('x-goog-api-key') == 'gem-route' and 'x-api-key' not in d['headers']"
fault gpt-t 503
ccurl "$ANT_URL" anthropic a-openai
check "curl, anthropic app, openai target's 503: Anthropic's overloaded error as the status line" \
	got "d['status'] == 529 and d['error_type'] == 'overloaded_error'"
n=$(mock_count)
printf '{"model": "o-anthropic", "logprobs": true, "messages": [{"role": "user", "content": "hi"}]}' >"$T/req.json"
expect 9 'logprobs is not supported' shim curl -sS -H 'Content-Type: application/json' --data-binary @"$T/req.json" "$OAI_URL"
check "curl: a refused feature is not sent" test "$(mock_count)" -eq "$n"

# --- libcurl: fallbacks and pools mixing formats, the cache and escalation:
# each attempt is translated with its own target's format ----------------------
fault claude-t 529
ccurl "$OAI_URL" openai o-mix2
check "curl, openai app: the anthropic target's 529, the gemini fallback answers in OpenAI's shape" \
	got "d['status'] == 200 and d['text'] == 'mock reply from gemini-t' and d['finish'] == 'stop' and d['usage'][1] == 4"
check "curl, fallback: the gemini target got its own API and key, no app key" \
	last_req "d['path'].startswith('/v1beta/models/gemini-t:') and d['headers'].get('x-goog-api-key') == 'gem-route' and 'sk-app' not in json.dumps(d['headers'])"
check "curl, fallback: the anthropic attempt before it got its own API" \
	last_req "d['path'] == '/v1/messages' and d['headers'].get('x-api-key') == 'sk-ant-route'" 2
fault claude-t 529
ccurl "$OAI_URL" openai o-mix stream
check "curl, openai app, streamed: the anthropic target's 529, the openai fallback's stream" \
	got "d['text'] == 'mock reply from gpt-t' and d['finish'] == 'stop'"
ccurl "$OAI_URL" openai o-mix2 stream
check "curl, openai app, streamed, no failure: the pool's anthropic target, translated" \
	got "d['text'] == 'mock reply from claude-t' and d['finish'] == 'stop'"
fault gpt-t 503
fault gemini-t 503
ccurl "$ANT_URL" anthropic a-mix
check "curl, anthropic app: openai 503, gemini 503, the anthropic fallback (the app's own format)" \
	got "d['status'] == 200 and d['text'] == 'mock reply from claude-t' and d['finish'] == 'end_turn'"
fault claude-t 529
fault gemini-t 500
ccurl "$OAI_URL" openai o-mix2
check "curl, openai app: every target fails: the last (gemini's 500) in OpenAI's shape" \
	got "d['status'] == 500 and d['error_type'] == 'server_error'"
ccurl "$OAI_URL" openai o-cache
n=$(mock_count)
ccurl "$OAI_URL" openai o-cache
check "curl, cache: a translated answer stored in the app's shape, served again" \
	got "d['text'] == 'mock reply from claude-t' and d['finish'] == 'stop'"
check "curl, cache: the second request sent nothing" test "$(mock_count)" -eq "$n"
fault claude-t length
ccurl "$OAI_URL" openai o-esc
check "curl, escalation: the anthropic answer cut (max_tokens), escalated to the gemini target" \
	got "d['text'] == 'mock reply from gemini-t' and d['finish'] == 'stop'"
"$PY" -c 'import json; print(json.dumps({"model": "o-mix2", "messages": [{"role": "user", "content": "hi"}]}))' >"$T/preq.json"
fault claude-t 529
shim curl -sS --parallel -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-app' \
	--data-binary @"$T/preq.json" "$OAI_URL" -o "$T/p1" "$OAI_URL" -o "$T/p2" 2>"$T/cerr"
check "curl --parallel (curl_multi): one transfer falls back to gemini, the other goes to anthropic, both in OpenAI's shape" \
	"$PY" -c "import json, sys; t = sorted(json.load(open(f))['choices'][0]['message']['content'] for f in sys.argv[1:]); sys.exit(t != ['mock reply from claude-t', 'mock reply from gemini-t'])" "$T/p1" "$T/p2"
if "$PY" -c 'import pycurl' 2>/dev/null; then
	fault claude-t 529
	shim "$PY" - "$OAI_URL" >"$T/out" 2>"$T/err" <<'PYEOF'
import io, json, sys, pycurl
b, h = io.BytesIO(), io.BytesIO()
c = pycurl.Curl()
c.setopt(c.URL, sys.argv[1])
c.setopt(c.POSTFIELDS, json.dumps({"model": "o-mix2", "messages": [{"role": "user", "content": "hi"}]}))
c.setopt(c.HTTPHEADER, ["Content-Type: application/json", "Authorization: Bearer sk-app"])
c.setopt(c.WRITEDATA, b)
c.setopt(c.HEADERFUNCTION, h.write)
c.perform()
d = json.loads(b.getvalue())
print(json.dumps({"status": c.getinfo(c.RESPONSE_CODE), "text": d["choices"][0]["message"]["content"],
                  "object": d["object"], "ctype": [l for l in h.getvalue().decode().split("\r\n") if l.lower().startswith("content-type")]}))
PYEOF
	check "pycurl, openai app: anthropic 529, the gemini fallback's answer as an OpenAI chat completion" \
		got "d['text'] == 'mock reply from gemini-t' and d['object'] == 'chat.completion' and d['ctype'] == ['Content-Type: application/json']"
else
	fail "pycurl is needed (python3-pycurl)"
fi

# --- the Node.js openai package, OpenAI app -> Anthropic target ----------------
if command -v node >/dev/null && [ -d "$ROOT/tests/node/node_modules/openai" ]; then
	node_app() { shim node "$ROOT/tests/node/openai_xlate.mjs" "$MOCK/v1" "$@" >"$T/out" 2>"$T/err"; }
	node_app o-anthropic
	check "node openai SDK -> anthropic: the answer" got "d['text'] == 'mock reply from claude-t' and d['finish'] == 'stop' and d['usage'][1] == 4"
	node_app o-anthropic stream
	check "node openai SDK -> anthropic: the stream, with its usage chunk" got "d['text'] == 'mock reply from claude-t' and d['usage'][1] == 4"
	fault claude-t tool
	node_app o-anthropic tool
	check "node openai SDK -> anthropic: a tool call" got "d['tools'] == [['get_weather', {'q': 'mock'}]]"
	fault claude-t 429
	node_app o-anthropic
	check "node openai SDK -> anthropic: a 429 raised as the SDK's RateLimitError" got "d['status'] == 429 and d['type'] == 'RateLimitError'"
else
	fail "node and tests/node/node_modules/openai are needed (tools/deps.sh test)"
fi

# --- the Anthropic SDK (@anthropic-ai/sdk), Anthropic app -> OpenAI target ------
if command -v node >/dev/null && [ -d "$ROOT/tests/node/node_modules/@anthropic-ai/sdk" ]; then
	ant_app() { shim node "$ROOT/tests/node/anthropic_xlate.mjs" "$MOCK" "$@" >"$T/out" 2>"$T/err"; }
	ant_app a-openai
	check "node Anthropic SDK -> openai: the answer" got "d['text'] == 'mock reply from gpt-t' and d['stop'] == 'end_turn' and d['usage'][1] > 0"
	ant_app a-openai stream
	check "node Anthropic SDK -> openai: the stream (messages.stream, finalMessage)" got "d['text'] == 'mock reply from gpt-t' and d['stop'] == 'end_turn'"
	fault gpt-t tool
	ant_app a-openai tool
	check "node Anthropic SDK -> openai: a tool call, its input an object" got "d['tools'] == [['get_weather', {'q': 'mock'}]] and d['stop'] == 'tool_use'"
	fault gpt-t 429
	ant_app a-openai
	check "node Anthropic SDK -> openai: a 429 raised as the SDK's RateLimitError" got "d['status'] == 429 and d['type'] == 'RateLimitError'"
	fault gpt-t 503
	ant_app a-openai
	check "node Anthropic SDK -> openai: the target's 503 raised as the SDK's 529 overloaded error" got "d['status'] == 529 and d['type'] == 'InternalServerError'"
else
	fail "node and tests/node/node_modules/@anthropic-ai/sdk are needed (tools/deps.sh test)"
fi
