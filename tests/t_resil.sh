# t_resil.sh - "cheaper, and never worse": fallbacks on 429, 500, a slow
# and a dropped upstream; Retry-After; streaming; the shared health
# cool-down seen by a second process; escalation on a poor answer; the
# response cache; and the audit of every attempt.  Apps are the curl
# command line and Python with pycurl, unmodified; only the upstream is
# mocked.  "Byte-exact" is checked against the mock's own record of what
# it sent (/_mock/responses).
. "$(dirname "$0")/lib.sh"
lr_setup resil
start_mock
LLMROUTE_AUDIT=$T/audit.jsonl
export LLMROUTE_AUDIT
URL=$MOCK/v1/chat/completions
cat >"$T/rules.in" <<EOF2
{"targets": {
   "cheap": {"model": "gpt-cheap", "endpoint": "$MOCK/v1", "input_per_mtok": 0.1, "output_per_mtok": 0.4},
   "big": {"model": "gpt-big", "endpoint": "$MOCK/v1", "input_per_mtok": 2, "output_per_mtok": 8},
   "flaky": {"model": "gpt-flaky", "endpoint": "$MOCK/v1"},
   "steady": {"model": "gpt-steady", "endpoint": "$MOCK/v1"},
   "dead": {"model": "gpt-dead", "endpoint": "http://127.0.0.1:9/v1"}},
 "health": {"failures": 2, "cooldown_s": 60},
 "cache": {"size_mb": 4, "max_entry_kb": 64},
 "routes": [
   {"name": "fb", "match": {"model": "app-fb"}, "pool": {"targets": ["cheap"]},
    "fallbacks": ["big"], "timeout_ms": 1000, "retry_after_max_ms": 0, "retries": 0},
   {"name": "ra", "match": {"model": "app-ra"}, "pool": {"targets": ["cheap"]},
    "fallbacks": ["big"], "retry_after_max_ms": 2000, "retries": 0},
   {"name": "dead", "match": {"model": "app-dead"}, "pool": {"targets": ["dead"]}, "fallbacks": ["original"],
    "retries": 0},
   {"name": "health", "match": {"model": "app-health"}, "pool": {"targets": ["flaky"]}, "fallbacks": ["steady"],
    "retries": 0},
   {"name": "esc", "match": {"model": "app-esc"}, "pool": {"targets": ["cheap"]},
    "escalate": {"when": ["empty", "length", "refusal", "invalid_json"], "to": ["big"]}},
   {"name": "cached", "match": {"model": "app-cached"}, "set": {"model": "gpt-cheap"},
    "cache": {"ttl_s": 600, "max_temperature": 0}},
   {"name": "brief", "match": {"model": "app-brief"}, "set": {"model": "gpt-brief"}, "cache": {"ttl_s": 2}},
   {"name": "esc2", "match": {"model": "app-esc2"}, "pool": {"targets": ["cheap"]},
    "escalate": {"when": ["length"], "to": ["big", "steady"]}},
   {"name": "away", "match": {"model": "app-away"}, "set": {"model": "gpt-away", "endpoint": "$MOCK/v1"}},
   {"name": "samekey", "match": {"model": "app-samekey"}, "set": {"api_key_env": "RESIL_KEY"}},
   {"name": "esct", "match": {"model": "app-esct"}, "pool": {"targets": ["cheap"]}, "timeout_ms": 1000,
    "escalate": {"when": ["empty"], "to": ["big"]}}]}
EOF2
"$CTL" load "$T/rules.in" >/dev/null || exit 1
"$CTL" show >"$T/show"
check "show: fallbacks, escalation and cache of the routes" sh -c \
	"grep -q 'fallbacks=big ' '$T/show' && grep -q 'fallbacks=original' '$T/show' && grep -q 'escalate=big' '$T/show' && grep -q 'cache=600s' '$T/show'"

fault() { # MODEL KIND [COUNT]
	curl -sS -o /dev/null -X POST "$MOCK/_mock/fault" -d '{"match":"model='"$1"'","fault":"'"$2"'","count":'"${3:-1}"'}'
}
reset() {
	curl -sS -o /dev/null -X POST "$MOCK/_mock/reset"
	"$CTL" stats --reset >/dev/null
	: >"$T/audit.jsonl"
}
body() { printf '{"model": "%s", "messages": [{"role": "user", "content": "hello there"}]%s}' "$1" "${2:-}"; }
app_curl() { # MODEL OUT [EXTRA-JSON]: body to OUT.body, headers to OUT.head
	body "$1" "${3:-}" >"$T/req.json"
	shim curl -sS -D "$2.head" -o "$2.body" -w '%{http_code} %{content_type} %{size_download}\n' \
		-H 'Content-Type: application/json' -H 'Authorization: Bearer sk-app' \
		--data-binary @"$T/req.json" "$URL"
}
app_pycurl() { shim "$PY" "$ROOT/tests/clients/pycurl_resil.py" "$URL" "$@"; }
if [ -n "${SANITIZE:-}" ]; then
	# An ASan runtime in LD_PRELOAD hangs Debian's curl binary: sanitized
	# runs send the same requests from pycurl, the way curl would.
	app_curl() { app_pycurl "$1" "$2" single extra="${3:-}"; }
fi
# sent_ok MODEL OUT: OUT.body (and OUT.head, when it exists) are byte for
# byte what the mock sent for the last request for MODEL since the reset
# (matched by request number: a slow answer from an earlier case may still
# be on its way).
sent_ok() {
	curl -sS "$MOCK/_mock/requests" >"$T/requests.json"
	curl -sS "$MOCK/_mock/responses" >"$T/responses.json"
	"$PY" - "$T/requests.json" "$T/responses.json" "$1" "$2" <<'PYEOF'
import hashlib, json, os, sys
reqs, rs = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
model, out = sys.argv[3], sys.argv[4]
n = [q["n"] for q in reqs if q["model"] == model][-1]
r = [x for x in rs if x["request"] == n][-1]
body = open(out + ".body", "rb").read()
ok = hashlib.sha256(body).hexdigest() == r["body_sha256"]
if os.path.exists(out + ".head"):
    ok = ok and hashlib.sha256(open(out + ".head", "rb").read()).hexdigest() == r["head_sha256"]
if not ok:
    sys.stderr.write("  app got %d bytes %.200r; mock sent for request %s: %s\n" % (len(body), body, n, r))
sys.exit(0 if ok else 1)
PYEOF
}
models_seen() { # the models the mock was asked for since the last reset, in order
	curl -sS "$MOCK/_mock/requests" |
		"$PY" -c 'import json,sys; print(" ".join(r["model"] for r in json.load(sys.stdin)))'
}
audit_is() { # EXPR over the list of audit records `a`
	"$PY" - "$T/audit.jsonl" "$1" <<'PYEOF'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
ok = eval(sys.argv[2], {"a": a})
if not ok:
    for r in a:
        sys.stderr.write("  %s %s %s %s attempt=%s via=%s delivered=%s gate=%s cache=%s\n" % (
            r["llmroute.rule"], r["gen_ai.request.model"], r["http.response.status_code"], r["error.type"],
            r.get("llmroute.attempt"), r.get("llmroute.via"), r.get("llmroute.delivered"),
            r.get("llmroute.gate"), r.get("llmroute.cache")))
sys.exit(0 if ok else 1)
PYEOF
}
one_request_two_attempts='len(a) == 2 and a[0]["llmroute.request_id"] == a[1]["llmroute.request_id"] and [r["llmroute.attempt"] for r in a] == [1, 2] and [r["llmroute.delivered"] for r in a] == [False, True] and a[1]["llmroute.via"] == "fallback" and a[1]["gen_ai.request.model"] == "gpt-big"'

# --- fallbacks: each fault, curl command line and pycurl ------------------
for f in 429 500 slow=4000 drop; do
	reset
	fault gpt-cheap "$f"
	app_curl app-fb "$T/c" >"$T/w"
	check "curl, $f: the app got the fallback's answer, status 200" grep -q '^200 application/json' "$T/w"
	check "curl, $f: body and headers byte-exact as the fallback sent them" sent_ok gpt-big "$T/c"
	check "curl, $f: upstream asked cheap, then big" test "$(models_seen)" = "gpt-cheap gpt-big"
	check "curl, $f: one request, two attempts in the audit" audit_is "$one_request_two_attempts"
	reset
	fault gpt-cheap "$f"
	app_pycurl app-fb "$T/p" >"$T/w"
	mv "$T/p.body1" "$T/p.body"
	mv "$T/p.head1" "$T/p.head"
	check "pycurl, $f: getinfo says 200, application/json" grep -q '^1 200 application/json' "$T/w"
	check "pycurl, $f: body and headers byte-exact as the fallback sent them" sent_ok gpt-big "$T/p"
	check "pycurl, $f: one request, two attempts in the audit" audit_is "$one_request_two_attempts"
done
reset
fault gpt-cheap slow=4000
app_curl app-fb "$T/c" >/dev/null
check "slow: the first attempt ended by the first-byte time-out" \
	audit_is 'a[0]["error.type"] == "first_byte_timeout" and a[0]["llmroute.duration_ms"] < 3900'
reset
fault gpt-cheap 429
app_curl app-fb "$T/c" >/dev/null
check "429: recorded as http_429, not delivered" audit_is 'a[0]["error.type"] == "http_429" and not a[0]["llmroute.delivered"]'

# --- Retry-After within the bound: the same target after the wait ---------
reset
fault gpt-cheap 429
start=$(date +%s%N)
app_curl app-ra "$T/c" >"$T/w"
waited=$(( ($(date +%s%N) - start) / 1000000 ))
check "Retry-After 1 s (bound 2 s): the same target answered" test "$(models_seen)" = "gpt-cheap gpt-cheap"
check "Retry-After: the app waited for it (${waited} ms)" test "$waited" -ge 1000
check "Retry-After: audited as a retry" audit_is 'a[1]["llmroute.via"] == "retry" and a[1]["llmroute.delivered"]'
check "Retry-After: byte-exact" sent_ok gpt-cheap "$T/c"

# --- streaming falls back before anything reached the app -----------------
reset
fault gpt-cheap 500
app_curl app-fb "$T/s" ', "stream": true' >"$T/w"
check "stream, 500: the app got the fallback's event stream byte-exact" sent_ok gpt-big "$T/s"
check "stream, 500: it is an event stream of big's" sh -c "grep -q 'gpt-big' '$T/s.body' && grep -q '^data: \[DONE\]' '$T/s.body'"

# --- never worse: every target fails, the app gets the last failure as is --
reset
fault 'gpt-*' 500 2
app_curl app-fb "$T/c" >"$T/w"
check "all fail: the app gets the last answer as it came (500)" sh -c "grep -q '^500 ' '$T/w'"
check "all fail: byte-exact" sent_ok gpt-big "$T/c"
check "all fail: the last attempt is the one delivered" audit_is '[r["llmroute.delivered"] for r in a] == [False, True]'
reset
app_curl app-dead "$T/c" >"$T/w"
check "a target that refuses connections: the app's own request as the fallback" test "$(models_seen)" = "app-dead"
check "the \"original\" fallback kept the app's model and key" last_req "d['model'] == 'app-dead' and d['headers'].get('authorization') == 'Bearer sk-app'"
check "original: audited as pass after COULDNT_CONNECT" \
	audit_is 'a[0]["error.type"] == "COULDNT_CONNECT" and a[1]["llmroute.action"] == "pass" and a[1]["llmroute.delivered"]'

# --- health: a second process skips the target cooling down --------------
reset
fault gpt-flaky 500 2
app_curl app-health "$T/h1" >/dev/null
app_curl app-health "$T/h2" >/dev/null
check "process 1 and 2: flaky failed twice, steady answered" test "$(models_seen)" = "gpt-flaky gpt-steady gpt-flaky gpt-steady"
: >"$T/audit.jsonl"
app_pycurl app-health "$T/h3" >"$T/w"
check "process 3 (pycurl): flaky is cooling down, not asked" test "$(models_seen)" = "gpt-flaky gpt-steady gpt-flaky gpt-steady gpt-steady"
check "process 3: answered by steady, audited as sent for health" \
	audit_is 'len(a) == 1 and a[0]["llmroute.via"] == "health" and a[0]["gen_ai.request.model"] == "gpt-steady"'
"$CTL" stats >"$T/stats"
"$CTL" stats --json >"$T/stats.json"
check "stats: flaky's failures in a row and its cool-down" sh -c \
	"grep -q '^flaky .* 2 failures in a row, cooling down for' '$T/stats'"
check "stats --json: the same" json_ok "$T/stats.json" \
	'[t for t in d["targets"] if t["name"] == "flaky" and t["failures_in_row"] == 2 and t["cooling_down_until"]]'
body app-health >"$T/health.json"
"$CTL" explain --url "$URL" --body "$T/health.json" >"$T/explain" 2>&1
check "explain: flaky cooling down, steady next" sh -c "grep -q 'flaky .*cooling down' '$T/explain' && grep -q 'fallbacks: *steady' '$T/explain'"

# --- escalation -----------------------------------------------------------
for f in empty length refusal; do
	reset
	fault gpt-cheap "$f"
	app_curl app-esc "$T/e" >"$T/w"
	check "escalation, $f: the app got big's answer byte-exact" sent_ok gpt-big "$T/e"
	check "escalation, $f: cheap, then big" test "$(models_seen)" = "gpt-cheap gpt-big"
	check "escalation, $f: audited with the condition" \
		audit_is 'a[0]["llmroute.gate"] == "'"$f"'" and not a[0]["llmroute.delivered"] and a[1]["llmroute.via"] == "escalation" and a[1]["llmroute.delivered"]'
done
reset
fault gpt-cheap badjson
app_pycurl app-esc "$T/e" json >"$T/w"
check "escalation, invalid JSON asked as JSON (pycurl): big's answer" grep -q 'gpt-big' "$T/e.body1"
check "escalation, invalid JSON: audited" audit_is 'a[0]["llmroute.gate"] == "invalid_json"'
reset
app_curl app-esc "$T/e" ', "response_format": {"type": "json_object"}' >/dev/null
check "no escalation for a good answer: one request, cheap" test "$(models_seen)" = "gpt-cheap"

# --- the response cache -----------------------------------------------------
reset
"$CTL" cache clear >/dev/null
app_curl app-cached "$T/k1" ', "temperature": 0' >"$T/w1"
n=$(mock_count)
app_curl app-cached "$T/k2" ', "temperature": 0' >"$T/w2"
check "cache, curl: the second request never reached the upstream" test "$(mock_count)" -eq "$n"
check "cache, curl: the hit is byte-exact the first answer, headers too" sh -c "cmp -s '$T/k1.body' '$T/k2.body' && cmp -s '$T/k1.head' '$T/k2.head'"
check "cache, curl: -w (getinfo) reads the same status, type and size" cmp -s "$T/w1" "$T/w2"
check "cache: audited as stored, then hit at no cost" \
	audit_is 'a[0]["llmroute.cache"] == "stored" and a[1]["llmroute.cache"] == "hit" and a[1]["llmroute.cost_usd"] == 0 and a[1]["llmroute.delivered"]'
app_pycurl app-cached "$T/kp" temperature=0 n=2 >"$T/wp"
check "cache, pycurl: its request (its own body) stored once, then hit" test "$(mock_count)" -eq $((n + 1))
check "cache, pycurl: getinfo the same for the hit" sh -c "test \"\$(cut -d' ' -f2- '$T/wp' | sort -u | wc -l)\" -eq 1 && grep -q '^2 200 application/json' '$T/wp'"
check "cache, pycurl: byte-exact" sh -c "cmp -s '$T/kp.body1' '$T/kp.body2' && cmp -s '$T/kp.head1' '$T/kp.head2'"
app_pycurl app-cached "$T/kq" temperature=0 'header=x-portkey-api-key: tenant-a' >/dev/null
app_pycurl app-cached "$T/kr" temperature=0 'header=x-portkey-api-key: tenant-b' >/dev/null
check "cache: another tenant's gateway key (x-portkey-api-key) is another key" test "$(mock_count)" -eq $((n + 3))
n=$((n + 2))
app_curl app-cached "$T/k3" ', "temperature": 0.7' >/dev/null
check "cache: temperature 0.7 is not cacheable, it goes upstream" test "$(mock_count)" -eq $((n + 2))
"$CTL" cache stats --json >"$T/cs.json"
check "cache stats --json: 2 hits, 4 stores, 4 entries" json_ok "$T/cs.json" 'd["hits"] == 2 and d["stores"] == 4 and d["entries"] == 4'
"$CTL" cache clear >/dev/null
app_curl app-cached "$T/k4" ', "temperature": 0' >/dev/null
check "cache clear: the next request goes upstream again" test "$(mock_count)" -eq $((n + 3))

# TTL and the size bound.  Two requests back to back in one process, then
# one after the TTL.
app_pycurl app-brief "$T/b" n=2 >/dev/null
n=$(mock_count)
sleep 2.2
app_pycurl app-brief "$T/b3" >/dev/null
check "cache: within its TTL a hit, after it the upstream again" \
	sh -c "cmp -s '$T/b.body1' '$T/b.body2' && test $(mock_count) -eq $((n + 1))"
fault gpt-brief long=70000
app_curl app-brief "$T/b4" ', "user": "big"' >/dev/null
app_curl app-brief "$T/b5" ', "user": "big"' >/dev/null
check "cache: an answer over max_entry_kb (64) is not kept" test "$(mock_count)" -eq $((n + 3))
check "cache: ... and the app got all of it" test "$(wc -c <"$T/b4.body")" -gt 70000

# --- review regressions -------------------------------------------------------
# The last step of the chain runs with no time-out of ours: both slow, the
# app still gets an answer (it would have without the shim).
reset
fault gpt-cheap slow=4000
fault gpt-big slow=1500
app_curl app-fb "$T/c" >"$T/w"
check "time-out: the last step is not cut short, the app gets its answer" grep -q '^200 ' "$T/w"
check "time-out: ... byte-exact as the fallback sent it" sent_ok gpt-big "$T/c"
check "time-out: attempt 1 timed out, attempt 2 (not timed) delivered" \
	audit_is 'a[0]["error.type"] == "first_byte_timeout" and a[1]["llmroute.delivered"] and a[1]["http.response.status_code"] == 200'
# An escalation target that answers worse (a 400) does not replace the
# cheap 2xx the app would have had.
reset
fault gpt-cheap length
fault gpt-big 400
app_curl app-esc "$T/e" >"$T/w"
check "escalation answered 400: the app gets the cheap 200" grep -q '^200 ' "$T/w"
check "escalation answered 400: ... byte-exact as cheap sent it" sent_ok gpt-cheap "$T/e"
check "escalation answered 400: audited, the cheap answer delivered" \
	audit_is 'a[0]["http.response.status_code"] == 400 and not a[0]["llmroute.delivered"] and a[1]["llmroute.gate"] == "length" and a[1]["llmroute.delivered"]'
# A handle copied mid-transfer holds the app's options, not ours.
reset
shim "$BUILD/tests/dup_midxfer" "$URL" app-fb "$MOCK/_mock/health" >"$T/w" 2>&1
check "duphandle inside a resilient transfer: the copy works, with the app's CURLOPT_HEADER" grep -q 'copy: rc=0 headers=yes' "$T/w"
# The app's own progress callback is back after the transfer, and libcurl
# prints nothing of its own.
shim "$BUILD/tests/progress_restore" "$URL" app-fb "$MOCK/_mock/health" >"$T/w" 2>"$T/err"
check "progress callback: the app's, called in both transfers" \
	sh -c "grep -qx 'first rc=0 calls=1' '$T/w' && grep -qx 'second rc=0 calls=1' '$T/w'"
check "progress callback: nothing printed by libcurl on stderr" test ! -s "$T/err"
# A table change between attempts: the route is gone when attempt 1 times
# out, so the request goes as the app made it (not failed by our time-out).
reset
fault gpt-cheap slow=4000
sed 's/"name": "fb", "match": {"model": "app-fb"}/"name": "fb-gone", "match": {"model": "app-nomore"}/' "$T/rules.in" >"$T/rules2.in"
grep -q fb-gone "$T/rules2.in" || fail "rules2: the sed did not apply"
app_curl app-fb "$T/g" >"$T/w" &
app=$!
i=0 # attempt 1 is under way once the mock has it (it answers 2.5 s later)
while [ "$(models_seen)" != gpt-cheap ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
"$CTL" load "$T/rules2.in" >/dev/null
wait $app
check "table changed between attempts: the app's own request answered" grep -q '^200 ' "$T/w"
check "table changed between attempts: upstream asked cheap, then the app's model" test "$(models_seen)" = "gpt-cheap app-fb"
check "table changed between attempts: one answer delivered, as the app made it" \
	audit_is 'len(a) == 2 and [r["llmroute.delivered"] for r in a] == [False, True] and a[1]["llmroute.via"] == "original"'
"$CTL" load "$T/rules.in" >/dev/null
"$CTL" stats --reset >/dev/null # the cut above made cheap slow for health

# We cut a slow step short and every later one failed: that step again,
# with no time-out of ours (without the shim the app had its answer).
reset
fault gpt-cheap slow=4000
fault gpt-big 500
app_curl app-fb "$T/c" >"$T/w"
check "cut short, fallback failed: the slow answer after all, 200" grep -q '^200 ' "$T/w"
check "cut short, fallback failed: cheap, big, cheap again" test "$(models_seen)" = "gpt-cheap gpt-big gpt-cheap"
check "cut short, fallback failed: byte-exact" sent_ok gpt-cheap "$T/c"
check "cut short, fallback failed: audited" \
	audit_is '[r["llmroute.via"] for r in a] == [None, "fallback", "without_timeout"] and [r["llmroute.delivered"] for r in a] == [False, False, True]'

# A table change to a deny while attempt 1 is cut short: the request is
# refused as a new one would be, nothing more is sent.
reset
fault gpt-cheap slow=4000
cat >"$T/rules3.in" <<EOF2
{"routes": [{"name": "no-fb", "match": {"model": "app-fb"}, "deny": "app-fb is off"}]}
EOF2
app_curl app-fb "$T/d" >"$T/w" 2>&1 &
app=$!
i=0
while [ "$(models_seen)" != gpt-cheap ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
"$CTL" load "$T/rules3.in" >/dev/null
wait $app
check "table changed to a deny between attempts: nothing more sent" test "$(models_seen)" = "gpt-cheap"
check "table changed to a deny: the refusal is the one delivered attempt of the request" \
	audit_is '[(r["error.type"], r["llmroute.rule"], r["llmroute.attempt"], r["llmroute.via"]) for r in a if r["llmroute.delivered"]] == [("denied", "no-fb", 2, "original")] and len({r["llmroute.request_id"] for r in a}) == 1'
check "table changed to a deny: the app's error says so (curl 9)" grep -Eq '\(9\)|error 9' "$T/w"
"$CTL" load "$T/rules.in" >/dev/null

# Two escalation steps: every answer is audited (and counted).
reset
fault gpt-cheap length
fault gpt-big length
app_curl app-esc2 "$T/e2" >/dev/null
check "two escalation steps: three records, the last delivered" \
	audit_is 'len(a) == 3 and sorted(r["gen_ai.request.model"] for r in a) == ["gpt-big", "gpt-cheap", "gpt-steady"] and [r["llmroute.delivered"] for r in a if r["gen_ai.request.model"] == "gpt-steady"] == [True]'

# A request moved to another host drops every credential-like header:
# gateway keys, subscription keys, cookies (the app's key stays home).
reset
shim "$PY" "$ROOT/tests/clients/pycurl_resil.py" "http://localhost:$MOCK_PORT/v1/chat/completions" app-away "$T/a" \
	single 'header=x-portkey-api-key: pk-tenant|Ocp-Apim-Subscription-Key: sub-1|Cookie: session=abc|X-Trace: t1' >/dev/null
check "another host: no Authorization, gateway key, subscription key or cookie; other headers kept" \
	last_req "not any(k in d['headers'] for k in ('authorization', 'x-portkey-api-key', 'ocp-apim-subscription-key', 'cookie')) and d['headers'].get('x-trace') == 't1'"
shim "$PY" "$ROOT/tests/clients/pycurl_resil.py" "http://localhost:$MOCK_PORT/v1/chat/completions" app-away "$T/a" \
	single cookie='sid=COOKIE-SECRET' 'header=Helicone-Auth: Bearer gw|Idempotency-Key: idem-1|x-session-affinity: s7' >/dev/null
check "another host: a CURLOPT_COOKIE cookie and Helicone-Auth dropped, Idempotency-Key and session affinity kept" \
	last_req "'cookie' not in d['headers'] and 'helicone-auth' not in d['headers'] and d['headers'].get('idempotency-key') == 'idem-1' and d['headers'].get('x-session-affinity') == 's7'"
# The same host with a key of the route's: only the provider key changes.
RESIL_KEY=sk-route shim "$PY" "$ROOT/tests/clients/pycurl_resil.py" "$URL" app-samekey "$T/a" \
	single 'header=Helicone-Auth: Bearer gw|Cookie: c=1' >/dev/null
check "same host, api_key_env: the route's key, the gateway key and cookie kept" \
	last_req "d['headers'].get('authorization') == 'Bearer sk-route' and d['headers'].get('helicone-auth') == 'Bearer gw' and d['headers'].get('cookie') == 'c=1'"

# CURLOPT_COOKIE is part of the cache key: another session, another answer.
reset
app_pycurl app-cached "$T/ck1" temperature=0 cookie='session=TENANT-A' >/dev/null
app_pycurl app-cached "$T/ck2" temperature=0 cookie='session=TENANT-B' >/dev/null
check "cache: two CURLOPT_COOKIE sessions are two keys" test "$(models_seen)" = "gpt-cheap gpt-cheap"

# The last escalation step is not cut by the time-out either.
reset
fault gpt-cheap empty
fault gpt-big slow=2500
app_curl app-esct "$T/et" >"$T/w"
check "escalation: a slow stronger target is waited for (last step)" \
	audit_is '[r["gen_ai.request.model"] for r in a if r["llmroute.delivered"]] == ["gpt-big"] and not any(r["error.type"] for r in a)'

# stats: failed attempts count as the target's requests and errors.
"$CTL" stats --reset >/dev/null
fault gpt-cheap 500
app_curl app-fb "$T/c" >/dev/null
"$CTL" stats --json >"$T/stats.json"
check "stats: a failed attempt is one of the target's requests and errors" json_ok "$T/stats.json" \
	'[t for t in d["targets"] if t["name"] == "cheap" and t["requests"] == 1 and t["errors"] == 1]'
