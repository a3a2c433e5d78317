# t_stream.sh - "never worse, streams included" through libcurl: the
# first-token time-out (a head, then nothing: the next step, nothing having
# reached the app), the idle time-out and a reset, a malformed or error
# event and a stream without [DONE] after text reached the app (continued
# by the next step and spliced into one well-formed stream, OpenAI chat and
# Anthropic), a continuation refused (the app's stream ends with our error
# event, never the fallback's 400), stream_hold, stream_continue "off", the
# audit (tokens of a cut stream estimated) and the counters.  Apps: the
# curl command line, pycurl and `curl --parallel`, unmodified, against the
# mock's stream faults (stall, stallmid, cutmid, nodone, midstream).
# needs: unsanitized (Debian's curl under an ASan runtime)
. "$(dirname "$0")/lib.sh"
lr_setup stream
start_mock
LLMROUTE_AUDIT=$T/audit.jsonl
export LLMROUTE_AUDIT
URL=$MOCK/v1/chat/completions
cat >"$T/rules.in" <<EOF2
{"targets": {
   "cheap": {"model": "gpt-cheap", "endpoint": "$MOCK/v1", "input_per_mtok": 1, "output_per_mtok": 4},
   "big": {"model": "gpt-big", "endpoint": "$MOCK/v1"},
   "steady": {"model": "gpt-steady", "endpoint": "$MOCK/v1"},
   "ccheap": {"model": "claude-cheap", "endpoint": "$MOCK/v1"},
   "cbig": {"model": "claude-big", "endpoint": "$MOCK/v1"},
   "gcheap": {"model": "gemini-cheap", "endpoint": "$MOCK/v1beta"},
   "gbig": {"model": "gemini-big", "endpoint": "$MOCK/v1beta"}},
 "health": {"failures": 100, "cooldown_s": 60},
 "routes": [
   {"name": "ft", "match": {"model": "app-ft"}, "pool": {"targets": ["cheap"]}, "fallbacks": ["big"],
    "first_token_ms": 500, "retries": 0},
   {"name": "idle", "match": {"model": "app-idle"}, "pool": {"targets": ["cheap"]}, "fallbacks": ["big"],
    "idle_ms": 500, "retries": 0},
   {"name": "two", "match": {"model": "app-two"}, "pool": {"targets": ["cheap"]}, "fallbacks": ["big", "steady"],
    "retries": 0},
   {"name": "hold", "match": {"model": "app-hold"}, "pool": {"targets": ["cheap"]}, "fallbacks": ["big"],
    "stream_hold": true, "idle_ms": 500, "retries": 0},
   {"name": "off", "match": {"model": "app-off"}, "pool": {"targets": ["cheap"]}, "fallbacks": ["big"],
    "stream_continue": "off", "retries": 0},
   {"name": "same", "match": {"model": "app-same"}, "pool": {"targets": ["cheap"]}, "fallbacks": ["big"],
    "stream_continue": "same", "retries": 0},
   {"name": "plain", "match": {"model": "app-plain"}, "pool": {"targets": ["cheap"]}},
   {"name": "gem", "match": {"model": "app-gem"}, "pool": {"targets": ["gcheap"]}, "fallbacks": ["gbig"],
    "retries": 0},
   {"name": "ant", "match": {"model": "app-ant"}, "pool": {"targets": ["ccheap"]}, "fallbacks": ["cbig"],
    "retries": 0}]}
EOF2
"$CTL" load "$T/rules.in" >/dev/null || exit 1
"$CTL" show >"$T/show"
check "show: the stream keys of the routes" sh -c \
	"grep -q 'first_token=500ms' '$T/show' && grep -q 'idle=500ms' '$T/show' && grep -q 'stream_hold' '$T/show' && grep -q 'stream_continue=off' '$T/show' && grep -q 'stream_continue=same' '$T/show'"
printf '{"model": "app-idle", "stream": true, "messages": []}' >"$T/explain.json"
"$CTL" explain --url "$URL" --body "$T/explain.json" >"$T/explain" 2>&1
check "explain: the idle time-out and the continuation" sh -c \
	"grep -q '^idle: *500 ms' '$T/explain' && grep -q 'continued by the next step' '$T/explain'"
printf '{"routes": [{"name": "x", "match": {"model": "y"}, "stream_continue": "later"}]}' >"$T/bad.json"
expect 2 'stream_continue' "$CTL" load "$T/bad.json"

fault() { # MODEL KIND [COUNT]
	curl -sS -o /dev/null -X POST "$MOCK/_mock/fault" -d '{"match":"model='"$1"'","fault":"'"$2"'","count":'"${3:-1}"'}'
}
reset() {
	curl -sS -o /dev/null -X POST "$MOCK/_mock/reset"
	"$CTL" stats --reset >/dev/null
	: >"$T/audit.jsonl"
}
body() { printf '{"model": "%s", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hello there"}]}' "$1"; }
app_curl() { # MODEL OUT [URL]: the stream to OUT.body, headers to OUT.head
	body "$1" >"$T/req.json"
	shim curl -sS -N -D "$2.head" -o "$2.body" -w '%{http_code}\n' \
		-H 'Content-Type: application/json' -H 'Authorization: Bearer sk-app' \
		--data-binary @"$T/req.json" "${3:-$URL}"
}
app_pycurl() { # MODEL OUT
	shim "$PY" "$ROOT/tests/clients/pycurl_resil.py" "$URL" "$1" "$2" single stream \
		extra=', "stream_options": {"include_usage": true}'
}
if [ -n "${SANITIZE:-}" ]; then
	app_curl() { body "$1" >/dev/null; app_pycurl "$1" "$2"; }
fi
stream_is() { "$PY" "$ROOT/tests/clients/stream_check.py" "$1" "${3:-openai}" "$2"; }
audit_is() { # EXPR over the list of audit records `a`
	"$PY" - "$T/audit.jsonl" "$1" <<'PYEOF'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
ok = eval(sys.argv[2], {"a": a})
if not ok:
    for r in a:
        sys.stderr.write("  %s %s %s %s attempt=%s via=%s delivered=%s tokens=%s/%s est=%s cost=%s\n" % (
            r["llmroute.rule"], r["gen_ai.request.model"], r["http.response.status_code"], r["error.type"],
            r.get("llmroute.attempt"), r.get("llmroute.via"), r.get("llmroute.delivered"),
            r["gen_ai.usage.input_tokens"], r["gen_ai.usage.output_tokens"], r["llmroute.tokens_estimated"],
            r["llmroute.cost_usd"]))
sys.exit(0 if ok else 1)
PYEOF
}
models_seen() {
	curl -sS "$MOCK/_mock/requests" |
		"$PY" -c 'import json,sys; print(" ".join(r["model"] for r in json.load(sys.stdin)))'
}
# req_is N EXPR: EXPR over the body (d) of request N (from 1) since the reset
req_is() {
	curl -sS "$MOCK/_mock/requests" >"$T/requests.json"
	"$PY" - "$T/requests.json" "$1" "$2" <<'PYEOF'
import json, sys
reqs = json.load(open(sys.argv[1]))
d = json.loads(reqs[int(sys.argv[2]) - 1]["body"])
ok = eval(sys.argv[3], {"d": d})
if not ok:
    sys.stderr.write("  request %s: %.400s\n" % (sys.argv[2], json.dumps(d)))
sys.exit(0 if ok else 1)
PYEOF
}
stats_json() { "$CTL" stats --json >"$T/stats.json"; json_ok "$T/stats.json" "$1"; }
route_stat() { # the route's slot in stats --json: r
	stats_json "[r for r in d['routes'] if r['name'] == '$1'] and (lambda r: $2)([r for r in d['routes'] if r['name'] == '$1'][0])"
}
# the answer the continuation asked for: the user's message, the text
# delivered as the assistant's, then the ask
asked_rest='d["messages"][1] == {"role": "assistant", "content": "mock reply "} and d["messages"][2]["role"] == "user" and "Continue" in d["messages"][2]["content"]'
spliced='text == "mock reply mock reply from gpt-big" and done == 1 and last == "[DONE]" and not errors'

# --- first token: a head, then nothing --------------------------------------
reset
fault gpt-cheap stall
app_curl app-ft "$T/f" >"$T/w"
check "first token, curl: 200 and big's stream" sh -c "grep -q '^200' '$T/w' && grep -q gpt-big '$T/f.body'"
check "first token, curl: nothing of cheap reached the app (not its head either)" sh -c \
	"! grep -q gpt-cheap '$T/f.body' && ! grep -qi 'x-mock-fault' '$T/f.head'"
check "first token, curl: the stream is well-formed" stream_is "$T/f.body" 'text == "mock reply from gpt-big" and done == 1'
check "first token: audited as first_token_timeout, then a fallback" \
	audit_is 'a[0]["error.type"] == "first_token_timeout" and not a[0]["llmroute.delivered"] and a[1]["llmroute.via"] == "fallback" and a[1]["llmroute.delivered"]'
check "first token: counted per route" route_stat ft 'r["timeouts"].get("first_token") == 1'
reset
fault gpt-cheap stall
app_pycurl app-ft "$T/fp" >"$T/w"
check "first token, pycurl: big's stream, well-formed" stream_is "$T/fp.body" 'text == "mock reply from gpt-big" and done == 1'
reset
app_curl app-ft "$T/g" >/dev/null
check "first token, no fault: cheap's stream as it came" stream_is "$T/g.body" 'text == "mock reply from gpt-cheap" and done == 1'
check "first token, no fault: one attempt" test "$(models_seen)" = "gpt-cheap"

# --- idle: tokens, then nothing; continued --------------------------------------
reset
fault gpt-cheap stallmid
app_curl app-idle "$T/i" >"$T/w"
check "idle, curl: one well-formed stream, cheap's text then big's" stream_is "$T/i.body" "$spliced"
check "idle, curl: big was asked for the rest" req_is 2 "$asked_rest"
check "idle, curl: the usage chunk counts the first part (3 tokens estimated)" \
	stream_is "$T/i.body" 'usage["completion_tokens"] == 4 + 3 and usage["total_tokens"] == usage["prompt_tokens"] + 7'
check "idle: audited as idle_timeout (delivered, its tokens estimated), then a continuation" \
	audit_is 'a[0]["error.type"] == "idle_timeout" and a[0]["llmroute.delivered"] and a[0]["llmroute.tokens_estimated"] and a[0]["gen_ai.usage.output_tokens"] > 0 and a[0]["gen_ai.usage.input_tokens"] > 0 and a[0]["llmroute.cost_usd"] > 0 and a[1]["llmroute.via"] == "continuation" and a[1]["llmroute.delivered"]'
check "idle: counted per route (time-out idle, attempt continuation)" \
	route_stat idle 'r["timeouts"].get("idle") == 1 and r["attempts"].get("continuation") == 1'

# --- a reset, no [DONE], an error event, a malformed one: each continued -----------
for f in cutmid nodone midstream; do
	reset
	fault gpt-cheap "$f"
	app_curl app-two "$T/c" >"$T/w"
	check "$f, curl: one well-formed stream" stream_is "$T/c.body" "$spliced"
	check "$f, curl: big was asked for the rest" req_is 2 "$asked_rest"
	check "$f: the cut attempt delivered, with estimated tokens" \
		audit_is 'len(a) == 2 and a[0]["llmroute.delivered"] and a[0]["llmroute.tokens_estimated"] and a[0]["gen_ai.usage.output_tokens"] > 0 and a[1]["llmroute.via"] == "continuation"'
	reset
	fault gpt-cheap "$f"
	app_pycurl app-two "$T/p" >"$T/w"
	check "$f, pycurl: one well-formed stream" stream_is "$T/p.body" "$spliced"
done
check "midstream: the error event never reached the app" sh -c "! grep -q 'mock fault midstream' '$T/c.body' '$T/p.body'"

# --- the audit of a stream cut on a route with nothing to fall back on ---------------
reset
fault gpt-cheap cutmid
app_curl app-plain "$T/pl" >"$T/w" 2>"$T/err"
check "plain route, reset: the app has the cut stream, as without the shim" stream_is "$T/pl.body" \
	'text == "mock reply " and done == 0 and not errors'
check "plain route, reset: audited with estimated tokens (input from the request, output from the text) and a cost" \
	audit_is 'len(a) == 1 and a[0]["llmroute.tokens_estimated"] and a[0]["gen_ai.usage.input_tokens"] > 0 and a[0]["gen_ai.usage.output_tokens"] == len("mock reply ") // 4 and a[0]["llmroute.cost_usd"] > 0'
reset
fault gpt-cheap cutmid
shim "$PY" "$ROOT/tests/clients/http_client.py" streamto "$URL" app-plain "$T/pl2.body" >"$T/w"
check "plain route, reset (http.client): audited with estimated tokens" \
	audit_is 'len(a) == 1 and a[0]["llmroute.tokens_estimated"] and a[0]["gen_ai.usage.output_tokens"] > 0 and a[0]["llmroute.cost_usd"] > 0'

# --- the continuation fails: the next step; refused: our error event ---------------
reset
fault gpt-cheap cutmid
fault gpt-big 500
app_curl app-two "$T/n" >"$T/w"
check "continuation failed (500): steady continued it" stream_is "$T/n.body" \
	'text == "mock reply mock reply from gpt-steady" and done == 1 and not errors'
check "continuation failed: cheap, big, steady" test "$(models_seen)" = "gpt-cheap gpt-big gpt-steady"
reset
fault gpt-cheap cutmid
fault gpt-big 400
fault gpt-steady 400
app_curl app-two "$T/r" >"$T/w" 2>"$T/err"
rc=$?
check "continuation refused (400): the app's stream ends with our error event, no [DONE]" stream_is "$T/r.body" \
	'text == "mock reply " and done == 0 and len(errors) == 1 and errors[0]["error"]["code"] == "llmroute_stream_cut"'
check "continuation refused: the fallback's 400 never reached the app (getinfo: the app's 200)" sh -c \
	"! grep -q 'mock fault 400' '$T/r.body' && grep -q '^200' '$T/w'"
check "continuation refused: the app's call fails as the cut one did (18, partial file)" \
	sh -c "test $rc -eq 18 || grep -q '^error 18' '$T/w'"
reset
fault gpt-cheap cutmid
fault gpt-big 400
app_curl app-two "$T/r2" >"$T/w" 2>"$T/err"
check "continuation refused by big: steady is not asked (a 4xx ends it)" test "$(models_seen)" = "gpt-cheap gpt-big"

# --- stream_hold: nothing passes before the end ------------------------------------
reset
fault gpt-cheap cutmid
app_curl app-hold "$T/h" >"$T/w"
check "stream_hold, reset: the app got big's stream only" stream_is "$T/h.body" \
	'text == "mock reply from gpt-big" and done == 1 and not errors'
check "stream_hold, reset: audited as a failure, then a fallback" \
	audit_is 'not a[0]["llmroute.delivered"] and a[1]["llmroute.via"] == "fallback"'
reset
fault gpt-cheap nodone
app_pycurl app-hold "$T/hp" >"$T/w"
check "stream_hold, no [DONE] (pycurl): big's stream only" stream_is "$T/hp.body" \
	'text == "mock reply from gpt-big" and done == 1'
reset
fault gpt-cheap stallmid
app_curl app-hold "$T/hi" >"$T/w"
check "stream_hold, idle: big's stream only" stream_is "$T/hi.body" 'text == "mock reply from gpt-big" and done == 1'

# --- stream_continue off, and same ---------------------------------------------------
reset
fault gpt-cheap nodone
app_curl app-off "$T/o" >"$T/w"
check "off: the cut stream is the app's, as it came" stream_is "$T/o.body" 'text == "mock reply " and done == 0 and not errors'
check "off: one attempt" test "$(models_seen)" = "gpt-cheap"
reset
fault gpt-cheap nodone
app_curl app-same "$T/s" >"$T/w"
check "same: cheap continued its own stream" stream_is "$T/s.body" \
	'text == "mock reply mock reply from gpt-cheap" and done == 1'
check "same: cheap twice" test "$(models_seen)" = "gpt-cheap gpt-cheap"

# --- Anthropic: one message_start ... one message_stop --------------------------------
reset
fault claude-cheap cutmid
printf '{"model": "app-ant", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "hello"}]}' >"$T/ant.json"
shim curl -sS -N -o "$T/a.body" -H 'Content-Type: application/json' -H 'x-api-key: sk-ant' \
	-H 'anthropic-version: 2023-06-01' --data-binary @"$T/ant.json" "$MOCK/v1/messages" >/dev/null
check "anthropic, reset: one message_start, one message_stop, the text spliced" stream_is "$T/a.body" \
	'names.count("message_start") == 1 and names.count("message_stop") == 1 and names[-1] == "message_stop" and text == "mock reply mock reply from claude-big" and not errors' anthropic
check "anthropic: the text delivered is big's prefill (no ask)" \
	req_is 2 'd["messages"][-1] == {"role": "assistant", "content": "mock reply"} and len(d["messages"]) == 2'

# --- Gemini (alt=sse): a model turn, then the continuation's chunks -----------------------
reset
fault gemini-cheap cutmid
printf '{"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}' >"$T/gem.json"
shim curl -sS -N -o "$T/gm.body" -H 'Content-Type: application/json' -H 'x-goog-api-key: k' \
	--data-binary @"$T/gem.json" "$MOCK/v1beta/models/app-gem:streamGenerateContent?alt=sse" >/dev/null
check "gemini, reset: the text spliced, the last chunk with its finishReason" "$PY" - "$T/gm.body" <<'PYEOF'
import json, sys
ev = [json.loads(l[5:]) for l in open(sys.argv[1]).read().splitlines() if l.startswith("data:")]
text = "".join(p.get("text", "") for e in ev for c in e.get("candidates", []) for p in c.get("content", {}).get("parts", []))
ok = text == "mock reply mock reply from gemini-big" and ev[-1]["candidates"][0].get("finishReason") == "STOP"
ok = ok and sum(1 for e in ev if e["candidates"][0].get("finishReason")) == 1
sys.exit(0 if ok else (sys.stderr.write("  gemini stream: %r\n" % text) and 1))
PYEOF
check "gemini: big was asked for the rest (a model turn, then the ask)" \
	req_is 2 'd["contents"][1] == {"role": "model", "parts": [{"text": "mock reply "}]} and d["contents"][2]["role"] == "user"'
reset
fault gemini-cheap cutmid
shim curl -sS -N -o "$T/gj.body" -H 'Content-Type: application/json' -H 'x-goog-api-key: k' \
	--data-binary @"$T/gem.json" "$MOCK/v1beta/models/app-gem:streamGenerateContent" >/dev/null 2>&1
check "gemini without alt=sse (a JSON array): not followed, one attempt" test "$(models_seen)" = "gemini-cheap"

# --- curl --parallel (curl_multi) ---------------------------------------------------
reset
fault gpt-cheap cutmid 1
fault gpt-cheap stall 1
i=0
args=""
for m in app-two app-ft; do
	body "$m" >"$T/m.$i.req"
	[ $i -gt 0 ] && args="$args --next"
	args="$args -sS -N -H Content-Type:application/json --data-binary @$T/m.$i.req -o $T/m.$i.body $URL"
	i=$((i + 1))
done
if [ -z "${SANITIZE:-}" ]; then
	# shellcheck disable=SC2086
	shim curl -sS --parallel --parallel-max 4 $args 2>"$T/err"
	check "curl --parallel: the cut stream continued" stream_is "$T/m.0.body" "$spliced"
	check "curl --parallel: the stalled one went to big" stream_is "$T/m.1.body" 'text == "mock reply from gpt-big" and done == 1'
fi

# --- Python http.client over plain http (the shim's own client) ----------------------
app_py() { shim "$PY" "$ROOT/tests/clients/http_client.py" streamto "$URL" "$1" "$2.body"; }
reset
fault gpt-cheap stall
app_py app-ft "$T/y" >"$T/w"
check "http.client, first token: big's stream, nothing of cheap" stream_is "$T/y.body" \
	'text == "mock reply from gpt-big" and done == 1'
check "http.client, first token: audited as first_token_timeout" \
	audit_is 'a[0]["error.type"] == "first_token_timeout" and not a[0]["llmroute.delivered"] and a[0]["llmroute.transport"] == "socket"'
for f in stallmid cutmid midstream; do
	reset
	fault gpt-cheap "$f"
	case $f in stallmid) m=app-idle ;; *) m=app-two ;; esac
	app_py $m "$T/y" >"$T/w"
	check "http.client, $f: read whole, one well-formed stream" sh -c \
		"grep -q '^200 streamed' '$T/w' && $PY '$ROOT/tests/clients/stream_check.py' '$T/y.body' openai '$spliced'"
	check "http.client, $f: the cut attempt delivered, its tokens estimated; then a continuation" \
		audit_is 'a[0]["llmroute.delivered"] and a[0]["llmroute.tokens_estimated"] and a[0]["gen_ai.usage.output_tokens"] > 0 and a[1]["llmroute.via"] == "continuation"'
	[ $f = stallmid ] && check "http.client, idle: counted per route" route_stat idle 'r["timeouts"].get("idle") == 1'
done
reset
fault gpt-cheap cutmid
fault gpt-big 400
fault gpt-steady 400
app_py app-two "$T/y" >"$T/w"
check "http.client, continuation refused: our error event ends the stream, no [DONE], no 400" sh -c \
	"$PY '$ROOT/tests/clients/stream_check.py' '$T/y.body' openai 'done == 0 and len(errors) == 1 and errors[0][\"error\"][\"code\"] == \"llmroute_stream_cut\"' && ! grep -q 'mock fault 400' '$T/y.body'"
reset
fault gpt-cheap cutmid
app_py app-hold "$T/y" >"$T/w"
check "http.client, stream_hold: big's stream only" stream_is "$T/y.body" 'text == "mock reply from gpt-big" and done == 1'
