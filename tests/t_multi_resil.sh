# t_multi_resil.sh - fallbacks, Retry-After, escalation and the response
# cache for transfers driven by libcurl's multi interface: `curl --parallel`
# and PHP's curl_multi_exec, unmodified, against the mock's faults.  The
# app never sees a failed attempt; a Retry-After wait does not hold up the
# other transfers of the batch; every attempt is audited and exactly one
# per request is delivered.
# needs: unsanitized (Debian's curl and PHP under an ASan runtime)
. "$(dirname "$0")/lib.sh"
lr_setup multi_resil
start_mock
LLMROUTE_AUDIT=$T/audit.jsonl
export LLMROUTE_AUDIT
URL=$MOCK/v1/chat/completions
cat >"$T/rules.in" <<EOF2
{"targets": {
   "cheap": {"model": "gpt-cheap", "endpoint": "$MOCK/v1"},
   "big": {"model": "gpt-big", "endpoint": "$MOCK/v1"}},
 "cache": {"size_mb": 4, "max_entry_kb": 64},
 "routes": [
   {"name": "fb", "match": {"model": "app-fb"}, "pool": {"targets": ["cheap"]}, "fallbacks": ["big"],
    "retries": 0},
   {"name": "ra", "match": {"model": "app-ra"}, "pool": {"targets": ["cheap"]},
    "fallbacks": ["big"], "retry_after_max_ms": 2000, "retries": 0},
   {"name": "esc", "match": {"model": "app-esc"}, "pool": {"targets": ["cheap"]},
    "escalate": {"when": ["empty", "length"], "to": ["big"]}},
   {"name": "cached", "match": {"model": "app-cached"}, "set": {"model": "gpt-cached"},
    "cache": {"ttl_s": 600}}]}
EOF2
"$CTL" load "$T/rules.in" >/dev/null || exit 1

fault() { # MODEL KIND [COUNT]
	curl -sS -o /dev/null -X POST "$MOCK/_mock/fault" -d '{"match":"model='"$1"'","fault":"'"$2"'","count":'"${3:-1}"'}'
}
reset() {
	curl -sS -o /dev/null -X POST "$MOCK/_mock/reset"
	"$CTL" stats --reset >/dev/null
	: >"$T/audit.jsonl"
}
# parallel OUT MODEL...: one `curl --parallel` run, a transfer per model;
# transfer N's body in OUT.N.body, head in OUT.N.head; one line per
# transfer as it completes: "done MODEL CODE TYPE SIZE TIME".
parallel() {
	out=$1
	shift
	set -- "$@"
	i=0
	args=""
	for m in "$@"; do
		printf '{"model": "%s", "messages": [{"role": "user", "content": "hello"}]}' "$m" >"$out.$i.req"
		[ $i -gt 0 ] && args="$args --next"
		args="$args -H Content-Type:application/json -H Authorization:Bearer_sk-app --data-binary @$out.$i.req"
		args="$args -D $out.$i.head -o $out.$i.body -w done_${m}_%{http_code}_%{content_type}_%{size_download}_%{time_total}\\n $URL"
		i=$((i + 1))
	done
	# shellcheck disable=SC2086
	shim curl -sS --parallel --parallel-max 4 $args | tr '_' ' '
}
php_multi() { # OUT MODEL...
	out=$1
	shift
	shim php "$ROOT/tests/clients/php_multi_resil.php" "$URL" "$out" "$@"
}
# sent_ok MODEL OUT: OUT.body and OUT.head are byte for byte what the mock
# sent for its last request for MODEL.
sent_ok() {
	curl -sS "$MOCK/_mock/requests" >"$T/requests.json"
	curl -sS "$MOCK/_mock/responses" >"$T/responses.json"
	"$PY" - "$T/requests.json" "$T/responses.json" "$1" "$2" <<'PYEOF'
import hashlib, json, sys
reqs, rs = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
model, out = sys.argv[3], sys.argv[4]
n = [q["n"] for q in reqs if q["model"] == model][-1]
r = [x for x in rs if x["request"] == n][-1]
body, head = open(out + ".body", "rb").read(), open(out + ".head", "rb").read()
ok = hashlib.sha256(body).hexdigest() == r["body_sha256"] and hashlib.sha256(head).hexdigest() == r["head_sha256"]
if not ok:
    sys.stderr.write("  app got %d bytes %.200r / head %.200r; mock sent for request %s: %s\n" % (len(body), body, head, n, r))
sys.exit(0 if ok else 1)
PYEOF
}
models_seen() {
	curl -sS "$MOCK/_mock/requests" |
		"$PY" -c 'import json,sys; print(" ".join(r["model"] for r in json.load(sys.stdin)))'
}
audit_is() { # EXPR over the audit records `a` and `by` (request id -> its records)
	"$PY" - "$T/audit.jsonl" "$1" <<'PYEOF'
import collections, json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
by = collections.defaultdict(list)
for r in a:
    if r.get("llmroute.request_id"):
        by[r["llmroute.request_id"]].append(r)
ok = eval(sys.argv[2], {"a": a, "by": by})
if not ok:
    for r in a:
        sys.stderr.write("  %s %s %s %s id=%s attempt=%s via=%s delivered=%s gate=%s cache=%s\n" % (
            r["llmroute.rule"], r["gen_ai.request.model"], r["http.response.status_code"], r["error.type"],
            r.get("llmroute.request_id"), r.get("llmroute.attempt"), r.get("llmroute.via"),
            r.get("llmroute.delivered"), r.get("llmroute.gate"), r.get("llmroute.cache")))
sys.exit(0 if ok else 1)
PYEOF
}
one_each='all(sum(1 for r in rs if r["llmroute.delivered"]) == 1 for rs in by.values())'
seen_has() { models_seen | tr ' ' '\n' | sort | tr '\n' ' ' | grep -qx "$1"; }

for app in curl php; do
	run() { if [ $app = curl ]; then parallel "$@"; else php_multi "$@"; fi; }
	# --- a 503 falls back; the other transfers go on as they are -------------
	reset
	fault gpt-cheap 503
	run "$T/f" app-fb other >"$T/w"
	check "$app multi, 503: the app got the fallback's answer byte-exact" sent_ok gpt-big "$T/f.0"
	check "$app multi, 503: the other transfer answered as usual" sent_ok other "$T/f.1"
	check "$app multi, 503: upstream asked cheap, big and the other" seen_has "gpt-big gpt-cheap other "
	check "$app multi, 503: two attempts of one request, the fallback delivered" audit_is \
		'len(by) == 1 and [(r["llmroute.attempt"], r["llmroute.via"], r["llmroute.delivered"]) for r in list(by.values())[0]] == [(1, None, False), (2, "fallback", True)]'
	if [ $app = curl ]; then
		check "$app multi, 503: -w (getinfo) says 200 for both" sh -c "test \$(grep -c '^done .* 200 ' '$T/w') -eq 2"
	else
		check "$app multi, 503: curl_multi_info_read and getinfo say OK, 200" grep -q '^done app-fb 0 200 gpt-big' "$T/w"
	fi

	# --- Retry-After: the same target after the wait, the others meanwhile ----
	reset
	fault gpt-cheap 429
	fault other slow=300
	start=$(date +%s%N)
	run "$T/r" app-ra other >"$T/w"
	waited=$(( ($(date +%s%N) - start) / 1000000 ))
	check "$app multi, Retry-After 1 s: the same target answered after it (${waited} ms)" \
		sh -c "{ test '$(models_seen)' = 'gpt-cheap other gpt-cheap' || test '$(models_seen)' = 'other gpt-cheap gpt-cheap'; } && test $waited -ge 1000"
	check "$app multi, Retry-After: byte-exact" sent_ok gpt-cheap "$T/r.0"
	check "$app multi, Retry-After: the other transfer completed first, not held up by the wait" \
		sh -c "head -n 1 '$T/w' | grep -q '^done other '"
	if [ $app = curl ]; then
		check "$app multi, Retry-After: the other transfer took its own 0.3 s, not the wait" \
			awk '/^done other / { exit !($6 < 0.9) }' "$T/w"
	else
		check "$app multi, Retry-After: the other transfer was done within 0.9 s" \
			awk '/^done other / { exit !($6 < 900) }' "$T/w"
	fi
	check "$app multi, Retry-After: audited as a retry" audit_is \
		'[(r["llmroute.via"], r["llmroute.delivered"]) for r in list(by.values())[0]] == [(None, False), ("retry", True)]'

	# --- escalation on a poor answer --------------------------------------------
	for f in empty length; do
		reset
		fault gpt-cheap "$f"
		run "$T/e" app-esc other >"$T/w"
		check "$app multi, escalation $f: the app got big's answer byte-exact" sent_ok gpt-big "$T/e.0"
		check "$app multi, escalation $f: audited with the condition, big delivered" audit_is \
			'[(r["llmroute.gate"], r["llmroute.via"], r["llmroute.delivered"]) for r in list(by.values())[0]] == [("'$f'", None, False), (None, "escalation", True)]'
	done

	# --- every step fails: the last failure, as it came -------------------------
	reset
	fault 'gpt-*' 500 2
	run "$T/a" app-fb >"$T/w"
	check "$app multi, all fail: the app gets big's 500 byte-exact" sent_ok gpt-big "$T/a.0"
	check "$app multi, all fail: the last attempt is the one delivered" audit_is \
		'[r["llmroute.delivered"] for r in a] == [False, True]'

	# --- the cache: a hit is served with no request upstream ---------------------
	reset
	"$CTL" cache clear >/dev/null
	run "$T/k1" app-cached >"$T/w1"
	n=$(mock_count)
	run "$T/k2" app-cached app-cached other >"$T/w2"
	check "$app multi, cache: the two hits never reached the upstream, the other did" test "$(mock_count)" -eq $((n + 1))
	check "$app multi, cache: both hits byte-exact the stored answer, headers too" sh -c \
		"cmp -s '$T/k1.0.body' '$T/k2.0.body' && cmp -s '$T/k1.0.head' '$T/k2.0.head' && cmp -s '$T/k1.0.body' '$T/k2.1.body' && cmp -s '$T/k1.0.head' '$T/k2.1.head'"
	if [ $app = curl ]; then
		check "$app multi, cache: -w (getinfo) reads the same status, type and size" sh -c \
			"test \"\$(grep '^done app-cached' '$T/w2' | cut -d' ' -f1-5 | sort -u)\" = \"\$(cut -d' ' -f1-5 '$T/w1')\""
	else
		check "$app multi, cache: info_read says OK, getinfo 200" sh -c "test \$(grep -c '^done app-cached 0 200 gpt-cached' '$T/w2') -eq 2"
	fi
	check "$app multi, cache: stored once, then two hits delivered at no cost" audit_is \
		'[r["llmroute.cache"] for r in a if r["llmroute.rule"] == "cached"] == ["stored", "hit", "hit"] and all(r["llmroute.delivered"] and r["llmroute.cost_usd"] == 0 for r in a if r.get("llmroute.cache") == "hit")'
done

# --- several requests of one batch, faults mixed: one delivered each ----------
reset
fault gpt-cheap 503 2
parallel "$T/x" app-fb app-fb app-fb other >"$T/w"
check "curl multi, four transfers with faults: every one answered 200" sh -c "test \$(grep -c '^done .* 200 ' '$T/w') -eq 4"
check "curl multi, four transfers: one delivered attempt per request id, two fell back" audit_is "$one_each and len(by) == 3 and sum(len(rs) for rs in by.values()) == 5"
