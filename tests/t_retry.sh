# t_retry.sh - issue 16, "never worse": retries at the same target before
# the fallbacks (a 503 once, a reset connection, a 429 without
# Retry-After), a context overflow moved to a target with a larger window
# (OpenAI and Anthropic wording; streamed too) while any other 400 is the
# app's in one attempt, and a flapping target used again once it recovers
# with no request failing meanwhile.  Apps: the curl command line, pycurl,
# `curl --parallel` and Python's http.client over plain http (the shim's
# own client), unmodified, against the mock's faults.  The audit and
# `llmroutectl stats` say what each attempt was.
# needs: unsanitized (Debian's curl under an ASan runtime)
. "$(dirname "$0")/lib.sh"
lr_setup retry
start_mock
LLMROUTE_AUDIT=$T/audit.jsonl
export LLMROUTE_AUDIT
URL=$MOCK/v1/chat/completions
cat >"$T/rules.in" <<EOF2
{"targets": {
   "cheap": {"model": "gpt-cheap", "endpoint": "$MOCK/v1", "context_window": 128000},
   "small": {"model": "gpt-small", "endpoint": "$MOCK/v1", "context_window": 128000},
   "mid": {"model": "gpt-mid", "endpoint": "$MOCK/v1", "context_window": 100000},
   "big": {"model": "gpt-big", "endpoint": "$MOCK/v1", "context_window": 1000000},
   "flap": {"model": "gpt-flap", "endpoint": "$MOCK/v1"},
   "steady": {"model": "gpt-steady", "endpoint": "$MOCK/v1"}},
 "health": {"failures": 2, "cooldown_s": 4, "cooldown_min_s": 2},
 "routes": [
   {"name": "rt", "match": {"model": "app-rt"}, "pool": {"targets": ["cheap"]}, "fallbacks": ["big"],
    "retries": 1, "retry_backoff_ms": 50},
   {"name": "ctx", "match": {"model": "app-ctx"}, "pool": {"targets": ["small"]}, "fallbacks": ["mid", "big"],
    "retries": 0, "on_context_overflow": "larger"},
   {"name": "ctxl", "match": {"model": "app-ctxl"}, "set": {"model": "gpt-own"}, "on_context_overflow": ["big"]},
   {"name": "flap", "match": {"model": "app-flap"}, "pool": {"targets": ["flap"]}, "fallbacks": ["steady"],
    "retry_backoff_ms": 50}]}
EOF2
"$CTL" load "$T/rules.in" >/dev/null || exit 1

fault() { # MODEL KIND [COUNT]  (COUNT 0: until cleared)
	if [ "${3:-1}" = 0 ]; then
		curl -sS -o /dev/null -X POST "$MOCK/_mock/fault" -d '{"match":"model='"$1"'","fault":"'"$2"'"}'
	else
		curl -sS -o /dev/null -X POST "$MOCK/_mock/fault" -d '{"match":"model='"$1"'","fault":"'"$2"'","count":'"${3:-1}"'}'
	fi
}
reset() {
	curl -sS -o /dev/null -X POST "$MOCK/_mock/reset"
	"$CTL" stats --reset >/dev/null
	: >"$T/audit.jsonl"
}
body() { printf '{"model": "%s", "messages": [{"role": "user", "content": "hello there"}]%s}' "$1" "${2:-}"; }
app_curl() { # MODEL OUT [EXTRA-JSON] [URL]
	body "$1" "${3:-}" >"$T/req.json"
	shim curl -sS -D "$2.head" -o "$2.body" -w '%{http_code} %{content_type}\n' \
		-H 'Content-Type: application/json' -H 'Authorization: Bearer sk-app' -H 'anthropic-version: 2023-06-01' \
		--data-binary @"$T/req.json" "${4:-$URL}"
}
app_pycurl() { shim "$PY" "$ROOT/tests/clients/pycurl_resil.py" "$URL" "$@"; }
app_py() { shim "$PY" "$ROOT/tests/clients/http_client.py" httpclient "$URL" "$1" 1; }
models_seen() {
	curl -sS "$MOCK/_mock/requests" |
		"$PY" -c 'import json,sys; print(" ".join(r["model"] for r in json.load(sys.stdin)))'
}
# sent_ok MODEL OUT: OUT.body is byte for byte what the mock sent for its
# last request for MODEL
sent_ok() {
	curl -sS "$MOCK/_mock/requests" >"$T/requests.json"
	curl -sS "$MOCK/_mock/responses" >"$T/responses.json"
	"$PY" - "$T/requests.json" "$T/responses.json" "$1" "$2" <<'PYEOF'
import hashlib, json, sys
reqs, rs = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
n = [q["n"] for q in reqs if q["model"] == sys.argv[3]][-1]
r = [x for x in rs if x["request"] == n][-1]
body = open(sys.argv[4] + ".body", "rb").read()
ok = hashlib.sha256(body).hexdigest() == r["body_sha256"]
if not ok:
    sys.stderr.write("  app got %d bytes %.200r; mock sent for request %s: %s\n" % (len(body), body, n, r))
sys.exit(0 if ok else 1)
PYEOF
}
audit_is() { # EXPR over the audit records `a`, in the order written
	"$PY" - "$T/audit.jsonl" "$1" <<'PYEOF'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
a.sort(key=lambda r: (r.get("llmroute.request_id") or "", r.get("llmroute.attempt") or 0))
ok = eval(sys.argv[2], {"a": a})
if not ok:
    for r in a:
        sys.stderr.write("  %s %s %s %s attempt=%s via=%s wait=%s delivered=%s\n" % (
            r["llmroute.rule"], r["gen_ai.request.model"], r["http.response.status_code"], r["error.type"],
            r.get("llmroute.attempt"), r.get("llmroute.via"), r.get("llmroute.wait_ms"),
            r.get("llmroute.delivered")))
sys.exit(0 if ok else 1)
PYEOF
}
vias() { echo "[r.get('llmroute.via') for r in a] == $1 and [r.get('llmroute.delivered') for r in a] == [False] * (len(a) - 1) + [True]"; }

# --- the table: keys, show, explain, refusals --------------------------------
"$CTL" show >"$T/show"
check "show: retries and back-off, context targets" sh -c \
	"grep -q 'retries=1(backoff<=50ms)' '$T/show' && grep -q 'context_overflow=larger' '$T/show' && grep -q 'context_overflow=big' '$T/show' && grep -q 'retries=1(backoff<=200ms)' '$T/show'"
body app-ctx >"$T/ex.json"
"$CTL" explain --url "$URL" --body "$T/ex.json" >"$T/explain"
check "explain: retries none, context overflow to mid? no: larger only (big 1000000)" sh -c \
	"grep -q 'retries:     none' '$T/explain' && grep -q 'context:.*window 128000.* big (1000000)' '$T/explain' && ! grep -q 'context:.*mid' '$T/explain'"
body app-rt >"$T/ex.json"
"$CTL" explain --url "$URL" --body "$T/ex.json" >"$T/explain"
check "explain: retries 1 with the back-off" grep -q 'retries:     1 at the same target.*' "$T/explain"
for bad in '"retries": 9' '"retries": 1.5' '"retry_backoff_ms": 20000' '"on_context_overflow": "bigger"' \
	'"on_context_overflow": []' '"on_context_overflow": ["nope"]'; do
	printf '{"targets": {"t": {"model": "m", "endpoint": "http://127.0.0.1:1/v1"}}, "routes": [{"name": "x", "match": {"model": "m"}, "fallbacks": ["t"], %s}]}' "$bad" >"$T/bad.json"
	check "check refuses $bad" sh -c "! '$CTL' check '$T/bad.json' 2>/dev/null"
done
printf '{"routes": [{"name": "x", "match": {"model": "m"}, "deny": "no", "retries": 2}]}' >"$T/bad.json"
check "check refuses retries on a deny route" sh -c "! '$CTL' check '$T/bad.json' 2>/dev/null"
printf '{"health": {"cooldown_s": 4, "cooldown_min_s": 5}, "routes": []}' >"$T/bad.json"
check "check refuses cooldown_min_s above cooldown_s" sh -c "! '$CTL' check '$T/bad.json' 2>/dev/null"

# --- retries at the same target: curl, pycurl, http.client ---------------------
for f in 503 reset 429noretry; do
	reset
	fault gpt-cheap "$f"
	app_curl app-rt "$T/c" >"$T/w"
	check "curl, $f once: the app got 200 from the same target" grep -q '^200 application/json' "$T/w"
	check "curl, $f once: byte-exact as the retry's answer" sent_ok gpt-cheap "$T/c"
	check "curl, $f once: cheap asked twice, the fallback never" test "$(models_seen)" = "gpt-cheap gpt-cheap"
	check "curl, $f once: audit: first, then a retry within the back-off's ceiling, delivered" audit_is \
		"$(vias "[None, 'retry']") and a[1]['llmroute.wait_ms'] <= 50 and a[0]['llmroute.wait_ms'] == 0 and a[0]['error.type'] is not None"
	reset
	fault gpt-cheap "$f"
	app_pycurl app-rt "$T/p" >"$T/w"
	check "pycurl, $f once: getinfo says 200; the retry answered" sh -c \
		"grep -q '^1 200 application/json' '$T/w' && [ \"\$(cat '$T/p.body1' | head -c 1)\" = '{' ]"
	check "pycurl, $f once: cheap twice" test "$(models_seen)" = "gpt-cheap gpt-cheap"
	reset
	fault gpt-cheap "$f"
	app_py app-rt >"$T/w"
	check "http.client (the shim's own client), $f once: 200 from the retry" grep -qx '200 gpt-cheap' "$T/w"
	check "http.client, $f once: cheap twice" test "$(models_seen)" = "gpt-cheap gpt-cheap"
	check "http.client, $f once: cheap twice, audit first then retry" audit_is \
		"$(vias "[None, 'retry']") and a[0]['llmroute.transport'] == 'socket'"
done
reset
fault gpt-cheap 503 2
app_curl app-rt "$T/c" >"$T/w"
check "curl, 503 twice: retried once, then the fallback answered" sh -c \
	"grep -q '^200 ' '$T/w' && [ \"\$(echo \$(curl -sS '$MOCK/_mock/requests' | '$PY' -c 'import json,sys; print(\" \".join(r[\"model\"] for r in json.load(sys.stdin)))'))\" = 'gpt-cheap gpt-cheap gpt-big' ]"
check "curl, 503 twice: audit: retry, then fallback" audit_is "$(vias "[None, 'retry', 'fallback']")"
"$CTL" stats >"$T/stats"
"$CTL" stats --json >"$T/stats.json"
check "stats: ATTEMPTS for rt: one retry, one fallback" sh -c \
	"grep -q '^ATTEMPTS (route)' '$T/stats' && '$PY' -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1]))[\"routes\"] if x[\"name\"]==\"rt\"][0]; sys.exit(0 if r[\"attempts\"][\"retry\"]==1 and r[\"attempts\"][\"fallback\"]==1 and r[\"attempts\"][\"context\"]==0 else 1)' '$T/stats.json'"
check "stats --prometheus: llmroute_route_attempts_total by via" sh -c \
	"'$CTL' stats --prometheus | grep -q '^llmroute_route_attempts_total{route=\"rt\",via=\"retry\"} 1\$'"
reset
fault gpt-cheap 400
app_curl app-rt "$T/c" >"$T/w"
check "curl, a 400: the app's, one attempt, no retry" sh -c \
	"grep -q '^400 ' '$T/w' && [ \"\$(curl -sS '$MOCK/_mock/requests' | '$PY' -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 1 ]"

# --- context overflow ---------------------------------------------------------------
reset
fault gpt-small context
app_curl app-ctx "$T/c" >"$T/w"
check "curl, context too long (OpenAI wording): the app got the larger target's 200" grep -q '^200 ' "$T/w"
check "curl, context: byte-exact as big sent it" sent_ok gpt-big "$T/c"
check "curl, context: small, then big (the smallest larger window; mid is smaller)" test "$(models_seen)" = "gpt-small gpt-big"
check "curl, context: audit: the 400 says context_length_exceeded, the move via context" audit_is \
	"$(vias "[None, 'context']") and a[0]['http.response.status_code'] == 400 and a[0]['error.type'] == 'context_length_exceeded' and a[1]['gen_ai.request.model'] == 'gpt-big'"
check "stats: the context move counted for ctx" sh -c \
	"'$CTL' stats --json | '$PY' -c 'import json,sys; r=[x for x in json.load(sys.stdin)[\"routes\"] if x[\"name\"]==\"ctx\"][0]; sys.exit(0 if r[\"attempts\"][\"context\"]==1 else 1)'"
reset
fault gpt-small context
app_curl app-ctx "$T/c" '' "$MOCK/v1/messages" >"$T/w"
check "curl, Anthropic's \"prompt is too long\": moved to big, 200" sh -c \
	"grep -q '^200 ' '$T/w' && [ \"\$(curl -sS '$MOCK/_mock/requests' | '$PY' -c 'import json,sys; print(\" \".join(r[\"model\"]+r[\"path\"] for r in json.load(sys.stdin)))')\" = 'gpt-small/v1/messages gpt-big/v1/messages' ]"
reset
fault gpt-small context
app_curl app-ctx "$T/c" ', "stream": true' >"$T/w"
check "curl, streamed request, context too long: big's stream reached the app" sh -c \
	"grep -q '^200 text/event-stream' '$T/w' && grep -q 'data: \\[DONE\\]' '$T/c.body' && [ \"\$(curl -sS '$MOCK/_mock/requests' | '$PY' -c 'import json,sys; print(\" \".join(r[\"model\"] for r in json.load(sys.stdin)))')\" = 'gpt-small gpt-big' ]"
check "curl, streamed: byte-exact" sent_ok gpt-big "$T/c"
reset
fault gpt-small 400
app_curl app-ctx "$T/c" >"$T/w"
check "curl, another 400 (not about the context): delivered as it came, one attempt" sh -c \
	"grep -q '^400 ' '$T/w' && [ \"\$(curl -sS '$MOCK/_mock/requests' | '$PY' -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 1 ]"
check "curl, another 400: byte-exact" sent_ok gpt-small "$T/c"
check "curl, another 400: one record, delivered" audit_is "len(a) == 1 and a[0]['llmroute.delivered'] and a[0]['error.type'] == 'http_400'"
reset
fault gpt-own context
fault gpt-big context
app_curl app-ctxl "$T/c" >"$T/w"
check "curl, a list route: own model, then big; too long for both: the app gets a 400, never the same target twice" sh -c \
	"grep -q '^400 ' '$T/w' && [ \"\$(curl -sS '$MOCK/_mock/requests' | '$PY' -c 'import json,sys; print(\" \".join(r[\"model\"] for r in json.load(sys.stdin)))')\" = 'gpt-own gpt-big' ]"
check "curl, both too long: two records, one delivered" audit_is "$(vias "[None, 'context']")"
reset
fault gpt-small context
app_pycurl app-ctx "$T/p" >"$T/w"
check "pycurl, context: getinfo 200, big answered" sh -c "grep -q '^1 200 application/json' '$T/w'"
cp "$T/p.body1" "$T/p.body"
check "pycurl, context: byte-exact" sent_ok gpt-big "$T/p"
reset
fault gpt-small context
app_py app-ctx >"$T/w"
check "http.client, context: 200 from big" grep -qx '200 gpt-big' "$T/w"
check "http.client, context: audit via context" audit_is "$(vias "[None, 'context']") and a[0]['error.type'] == 'context_length_exceeded'"
reset
fault gpt-small 400
app_py app-ctx >"$T/w"
check "http.client, another 400: the app reads it, one attempt" sh -c \
	"grep -q '^400 error mock fault 400' '$T/w' && [ \"\$(curl -sS '$MOCK/_mock/requests' | '$PY' -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 1 ]"

# --- curl --parallel: a retry and a context move in one batch ------------------------
reset
fault gpt-cheap 503
fault gpt-small context
body app-rt >"$T/par.0"
body app-ctx >"$T/par.1"
body app-flap >"$T/par.2"
shim curl -sS --parallel --parallel-max 3 \
	-H Content-Type:application/json --data-binary @"$T/par.0" -o "$T/par.0.body" -w 'done rt %{http_code}\n' "$URL" --next \
	-H Content-Type:application/json --data-binary @"$T/par.1" -o "$T/par.1.body" -w 'done ctx %{http_code}\n' "$URL" --next \
	-H Content-Type:application/json --data-binary @"$T/par.2" -o "$T/par.2.body" -w 'done flap %{http_code}\n' "$URL" >"$T/w"
check "curl --parallel: all three answered 200" test "$(grep -c ' 200$' "$T/w")" = 3
check "curl --parallel: the retry, byte-exact" sent_ok gpt-cheap "$T/par.0"
check "curl --parallel: the context move, byte-exact" sent_ok gpt-big "$T/par.1"
check "curl --parallel: audit: a retry for rt, a context move for ctx, one delivered each" audit_is \
	"sorted((r['llmroute.rule'], r.get('llmroute.via') or '', r['llmroute.delivered']) for r in a) == sorted([('rt', '', False), ('rt', 'retry', True), ('ctx', '', False), ('ctx', 'context', True), ('flap', '', True)])"

# --- a flapping target: 503 for a while, then healthy -----------------------------
# health: 2 failures in a row cool it for 2 s, then 4 s; the fault is
# toggled through the mock's per-target control while requests go on.
reset
fault gpt-flap 503 0
: >"$T/flap.codes"
app_curl app-flap "$T/f" >>"$T/flap.codes"
check "flap: the first request: flap, its retry, then steady" audit_is "$(vias "[None, 'retry', 'fallback']")"
i=0
while [ $i -lt 4 ]; do # during the outage: every request answered (by steady)
	app_curl app-flap "$T/f" >>"$T/flap.codes"
	sleep 1
	i=$((i + 1))
done
check "flap: no request failed during the outage" sh -c "[ \$(grep -c '^200 ' '$T/flap.codes') = 5 ] && [ \$(wc -l <'$T/flap.codes') = 5 ]"
check "flap: during the outage the cooling target was skipped (via health) and, once its cool-down ended, tried once without a retry" audit_is \
	"any(r.get('llmroute.via') == 'health' for r in a) and all(not (r.get('llmroute.via') == 'retry' and r['gen_ai.request.model'] == 'gpt-flap') for r in a[3:])"
curl -sS -o /dev/null -X POST "$MOCK/_mock/fault/clear" -d '{"match":"model=gpt-flap"}'
: >"$T/audit.jsonl"
n=0
while [ $n -lt 30 ]; do # healthy again: back on flap within its cool-down (at most 4 s), bounded at 15 s
	app_curl app-flap "$T/f" >>"$T/flap.codes"
	"$PY" -c 'import json,sys; a=[json.loads(l) for l in open(sys.argv[1])]; sys.exit(0 if any(r["gen_ai.request.model"] == "gpt-flap" and r["llmroute.delivered"] for r in a) else 1)' "$T/audit.jsonl" && break
	sleep 0.5
	n=$((n + 1))
done
check "flap: recovered: a request answered by flap itself" audit_is \
	"any(r['gen_ai.request.model'] == 'gpt-flap' and r['llmroute.delivered'] for r in a)"
check "flap: no request failed, before or after" sh -c "! grep -v '^200 ' '$T/flap.codes'"
: >"$T/audit.jsonl"
app_curl app-flap "$T/f" >"$T/w"
check "flap: after recovery the next request goes straight to flap (one attempt)" audit_is \
	"len(a) == 1 and a[0]['gen_ai.request.model'] == 'gpt-flap' and a[0]['llmroute.delivered']"
