# t_multi_c.sh - resilient routes for an event-driven C program
# (tests/progs/multi_events.c), both ways libcurl's multi interface is
# driven: curl_multi_perform + curl_multi_poll, and
# curl_multi_socket_action with the app's own socket and timer callbacks
# and poll(2).  A 503 falls back and a cache hit is served in both; a
# Retry-After is waited for where our hooks can wake the app's loop
# (perform/poll) and not held up the other transfers, and where they
# cannot (socket_action) the next step goes at once.  Runs sanitized.
. "$(dirname "$0")/lib.sh"
lr_setup multi_c
start_mock
LLMROUTE_AUDIT=$T/audit.jsonl
export LLMROUTE_AUDIT
URL=$MOCK/v1/chat/completions
PROG=$BUILD/tests/multi_events
[ -x "$PROG" ] || { fail "build tests/progs/multi_events.c"; exit 1; }
load_rules '{"targets": {
   "cheap": {"model": "gpt-cheap", "endpoint": "'"$MOCK"'/v1"},
   "big": {"model": "gpt-big", "endpoint": "'"$MOCK"'/v1"}},
 "cache": {"size_mb": 4, "max_entry_kb": 64},
 "routes": [
   {"name": "ra", "match": {"model": "app-ra"}, "pool": {"targets": ["cheap"]},
    "fallbacks": ["big"], "retry_after_max_ms": 2000, "retries": 0},
   {"name": "cached", "match": {"model": "app-cached"}, "set": {"model": "gpt-cached"}, "cache": {"ttl_s": 600}}]}' || exit 1

fault() {
	curl -sS -o /dev/null -X POST "$MOCK/_mock/fault" -d '{"match":"model='"$1"'","fault":"'"$2"'","count":'"${3:-1}"'}'
}
reset() {
	curl -sS -o /dev/null -X POST "$MOCK/_mock/reset"
	"$CTL" stats --reset >/dev/null
	: >"$T/audit.jsonl"
}
models_seen() {
	curl -sS "$MOCK/_mock/requests" |
		"$PY" -c 'import json,sys; print(" ".join(r["model"] for r in json.load(sys.stdin)))'
}
delivered_once() {
	"$PY" -c '
import collections, json, sys
by = collections.defaultdict(list)
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("llmroute.request_id"): by[r["llmroute.request_id"]].append(r["llmroute.delivered"])
sys.exit(0 if by and all(v.count(True) == 1 for v in by.values()) else 1)' "$T/audit.jsonl"
}

for mode in perform socket; do
	reset
	fault gpt-cheap 503
	MULTI_OUT=$T/o shim "$PROG" "$URL" "$mode" app-ra other >"$T/w" 2>"$T/err"
	check "$mode: a 503 falls back, the app sees result 0, http 200" grep -q '^done app-ra result 0 http 200 ' "$T/w"
	check "$mode: the app got big's answer" grep -q 'gpt-big' "$T/o.0"
	check "$mode: one delivered attempt per request" delivered_once

	reset
	fault gpt-cheap 429
	fault other slow=300
	MULTI_OUT=$T/o shim "$PROG" "$URL" "$mode" app-ra other >"$T/w" 2>"$T/err"
	check "$mode, 429 + Retry-After: answered 200" grep -q '^done app-ra result 0 http 200 ' "$T/w"
	if [ $mode = perform ]; then
		check "perform, 429: the other transfer completed first, not held up by the wait" \
			sh -c "head -n 1 '$T/w' | grep -q '^done other '"
		# the first two reach the mock in either order (a slow sanitized
		# build may send "other" first); the retry comes a second later
		check "perform, Retry-After: the same target after the wait" sh -c \
			"case '$(models_seen)' in 'gpt-cheap other gpt-cheap' | 'other gpt-cheap gpt-cheap') exit 0 ;; esac; exit 1"
		check "perform, Retry-After: the app waited about 1 s for it" \
			awk '/^done app-ra / { exit !($NF >= 950) }' "$T/w"
	else
		check "socket_action, Retry-After: no wake-up to wait with: the fallback at once" \
			test "$(models_seen | tr ' ' '\n' | sort | tr '\n' ' ')" = "gpt-big gpt-cheap other "
		check "socket_action: it did not wait" awk '/^done app-ra / { exit !($NF < 900) }' "$T/w"
	fi
	check "$mode, 429: one delivered attempt per request" delivered_once

	reset
	"$CTL" cache clear >/dev/null
	MULTI_OUT=$T/k1 shim "$PROG" "$URL" "$mode" app-cached >/dev/null 2>"$T/err"
	MULTI_OUT=$T/k2 shim "$PROG" "$URL" "$mode" app-cached app-cached >"$T/w" 2>"$T/err"
	check "$mode, cache: one request upstream for three transfers" test "$(models_seen)" = "gpt-cached"
	check "$mode, cache: the hits are the stored answer, byte for byte" sh -c \
		"cmp -s '$T/k1.0' '$T/k2.0' && cmp -s '$T/k1.0' '$T/k2.1'"
	check "$mode, cache: result 0, http 200, the body's size" sh -c \
		"test \$(grep -c \"^done app-cached result 0 http 200 body \$(wc -c <'$T/k1.0') \" '$T/w') -eq 2"
done
check "no sanitizer or shim complaint on stderr" sh -c "! grep -q -i 'sanitizer\|llmroute.*error' '$T/err'"
