# t_timer.sh - our time-outs on the libcurl transports fire on time, not
# at libcurl's once-a-second progress tick: timeout_ms (no head), first_token_ms
# (a head, then nothing) and idle_ms (text, then nothing), each set to
# 1200 ms, through curl_easy_perform (the curl command line, pycurl) and
# curl_multi (`curl --parallel`).  The cut attempt's audited duration must
# be at least the time-out and less than 700 ms past it (without the
# shortened waits it is about 2 s: the second tick).
# needs: unsanitized (Debian's curl under an ASan runtime)
. "$(dirname "$0")/lib.sh"
lr_setup timer
start_mock
LLMROUTE_AUDIT=$T/audit.jsonl
export LLMROUTE_AUDIT
URL=$MOCK/v1/chat/completions
cat >"$T/rules.in" <<EOF2
{"targets": {
   "cheap": {"model": "gpt-cheap", "endpoint": "$MOCK/v1"},
   "big": {"model": "gpt-big", "endpoint": "$MOCK/v1"}},
 "health": {"failures": 100, "cooldown_s": 60},
 "routes": [
   {"name": "head", "match": {"model": "app-head"}, "pool": {"targets": ["cheap"]}, "fallbacks": ["big"],
    "timeout_ms": 1200, "retries": 0},
   {"name": "ft", "match": {"model": "app-ft"}, "pool": {"targets": ["cheap"]}, "fallbacks": ["big"],
    "first_token_ms": 1200, "retries": 0},
   {"name": "idle", "match": {"model": "app-idle"}, "pool": {"targets": ["cheap"]}, "fallbacks": ["big"],
    "idle_ms": 1200, "retries": 0}]}
EOF2
"$CTL" load "$T/rules.in" >/dev/null || exit 1

fault() { curl -sS -o /dev/null -X POST "$MOCK/_mock/fault" -d '{"match":"model='"$1"'","fault":"'"$2"'","count":'"${3:-1}"'}'; }
reset() { curl -sS -o /dev/null -X POST "$MOCK/_mock/reset"; : >"$T/audit.jsonl"; }
body() { printf '{"model": "%s", "stream": true, "messages": [{"role": "user", "content": "hello"}]}' "$1" >"$T/req.$1.json"; }
# on_time ERR: the first attempt ended by ERR, within [1200, 1900) ms, and
# big answered the app
on_time() {
	"$PY" - "$T/audit.jsonl" "$1" <<'PYEOF'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
first = [r for r in a if r["error.type"] == sys.argv[2]]
ok = len(first) >= 1 and all(1200 <= r["llmroute.duration_ms"] < 1900 for r in first)
ok = ok and len([r for r in a if r["llmroute.delivered"]]) >= 1
sys.stderr.write("  %s: %s\n" % (sys.argv[2], [(r["error.type"], r["llmroute.duration_ms"]) for r in a]))
sys.exit(0 if ok else 1)
PYEOF
}
for m in app-head app-ft app-idle; do body $m; done
kind_of() { case $1 in app-head) echo hang ;; app-ft) echo stall ;; *) echo stallmid ;; esac; }
err_of() { case $1 in app-head) echo first_byte_timeout ;; app-ft) echo first_token_timeout ;; *) echo idle_timeout ;; esac; }

for m in app-head app-ft app-idle; do
	reset
	fault gpt-cheap "$(kind_of $m)"
	shim curl -sS -N -o "$T/c.body" -H 'Content-Type: application/json' --data-binary @"$T/req.$m.json" "$URL"
	check "curl (easy), $m: cut on time" on_time "$(err_of $m)"
	check "curl (easy), $m: big answered" grep -q gpt-big "$T/c.body"
	reset
	fault gpt-cheap "$(kind_of $m)"
	shim "$PY" "$ROOT/tests/clients/pycurl_resil.py" "$URL" "$m" "$T/p" single stream >/dev/null
	check "pycurl, $m: cut on time" on_time "$(err_of $m)"
done

# curl --parallel: two transfers in one multi, both cut on time
# (--parallel-immediate: otherwise curl holds the second back until the
# first connection says whether it multiplexes, and its head comes late)
for m in app-head app-ft app-idle; do
	reset
	fault gpt-cheap "$(kind_of $m)" 2
	shim curl -sS --parallel --parallel-immediate --parallel-max 4 \
		-N -H Content-Type:application/json --data-binary @"$T/req.$m.json" -o "$T/m0.body" "$URL" --next \
		-N -H Content-Type:application/json --data-binary @"$T/req.$m.json" -o "$T/m1.body" "$URL" 2>"$T/err"
	check "curl --parallel (multi), $m: both cut on time" on_time "$(err_of $m)"
	check "curl --parallel, $m: two cut" test "$(grep -c "\"$(err_of $m)\"" "$T/audit.jsonl")" -eq 2
	check "curl --parallel, $m: big answered both" sh -c "grep -q gpt-big '$T/m0.body' && grep -q gpt-big '$T/m1.body'"
done
