# t_audit_cli.sh - `llmroutectl audit` on a synthetic audit file: exact
# numbers per model, rule, process, server and day, --since, --json, and
# --savings against hand-computed costs (built-in prices from
# router/lr_price.c, a --rules file, the live table); garbage lines are
# skipped and counted; the documented exit codes.
. "$(dirname "$0")/lib.sh"
lr_setup audit_cli
A=$T/audit.jsonl

# rec TIME SENT ASKED RULE PROCESS ADDRESS PORT STATUS ERROR IN OUT COST MS:
# one record as the shim writes it; "null" stays null, strings are quoted.
q() { if [ "$1" = null ]; then printf null; else printf '"%s"' "$1"; fi; }
rec() {
	printf '{"time":"%s","gen_ai.provider.name":"openai","gen_ai.operation.name":"chat",' "$1"
	printf '"gen_ai.request.model":%s,"gen_ai.response.model":null,' "$(q "$2")"
	printf '"gen_ai.usage.input_tokens":%s,"gen_ai.usage.output_tokens":%s,' "${10}" "${11}"
	printf '"server.address":%s,"server.port":%s,"http.response.status_code":%s,' "$(q "$6")" "$7" "$8"
	printf '"error.type":%s,"llmroute.rule":%s,"llmroute.action":"route",' "$(q "$9")" "$(q "$4")"
	printf '"llmroute.original_model":%s,"llmroute.original_server":"api.openai.com:443",' "$(q "$3")"
	printf '"llmroute.transport":"curl","llmroute.stream":false,"llmroute.duration_ms":%s,' "${13}"
	printf '"llmroute.ttfb_ms":null,"llmroute.request_bytes":10,"llmroute.response_bytes":20,'
	printf '"llmroute.cost_usd":%s,"llmroute.tokens_estimated":false,' "${12}"
	printf '"llmroute.table_generation":1,"process.pid":42,"process.executable.name":%s}\n' "$(q "$5")"
}

# Costs at the built-in prices, per Mtok: gpt-4o-mini 0.15/0.6, gpt-4o
# 2.5/10, claude-3-5-haiku 0.8/4, claude-*sonnet* 3/15; local-llama has none.
{
	rec 2026-11-20T09:00:00.000Z gpt-4o-mini gpt-4o mini python3 127.0.0.1 8080 200 null 10000 2000 0.0027 100
	rec 2026-11-20T10:00:00.000Z gpt-4o-mini gpt-4o mini python3 127.0.0.1 8080 200 null 20000 1000 0.0036 200
	rec 2026-11-20T11:00:00.000Z gpt-4o gpt-4o null curl api.openai.com 443 200 null 1000 1000 0.0125 50
	rec 2026-11-20T23:59:59.999Z o1-pro o1-pro no-o1-pro node api.openai.com 443 null denied null null 0 0.5
	echo 'this is not JSON {"time": "2026-11-20T00:00:00.000Z"'
	rec 2026-11-21T08:00:00.000Z gpt-4o-mini gpt-4o mini python3 127.0.0.1 8080 200 null 5000 5000 0.00375 300
	rec 2026-11-21T09:00:00.000Z gpt-4o-mini gpt-4o mini python3 127.0.0.1 8080 200 null 1000 500 0.00045 400
	echo '[1, 2, 3]'
	rec 2026-11-21T13:00:00.000Z claude-3-5-haiku-latest claude-3-5-sonnet-latest haiku node api.anthropic.com 443 200 null 10000 1000 0.012 150
	rec 2026-11-21T14:00:00.000Z local-llama gpt-4o local node ::1 11434 200 null 500 100 null 800
	echo
	rec 2026-11-22T00:00:00.000Z gpt-4o-mini gpt-4o-mini null curl api.openai.com 443 200 null 4000 1000 0.0012 500
	rec 2026-11-22T01:00:00.000Z gpt-4o-mini gpt-4o mini python3 127.0.0.1 8080 500 http_500 null null 0 1000
	rec 2026-11-22T02:00:00.000Z gpt-4o gpt-4o null curl api.openai.com 443 404 null 2000 500 0.01 70
	rec 2026-11-22T03:00:00.000Z claude-3-5-haiku-latest claude-3-5-sonnet-latest haiku node api.anthropic.com 443 200 null 3000 2000 0.0104 250
	"$PY" -c 'print("{\"time\": \"2026-11-22T04:00:00Z\", \"x\": \"" + "y" * 70000 + "\"}")'
	echo '{"time": "yesterday", "gen_ai.request.model": "gpt-4o"}'
} >"$A"

# row FILE NAME EXPECTED: the text row for NAME, columns after the name.
row() {
	got=$(awk -v k="$2" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$1")
	if [ "$got" = "$3" ]; then ok "$2: $3"; else fail "$2: expected '$3', got '$got'"; fi
}

# By model (the default): requests errors in out cost unpriced p50 p95.
check "by model: runs" sh -c "'$CTL' audit '$A' >'$T/model' 2>'$T/model.err'"
row "$T/model" MODEL "REQUESTS ERRORS TOKENS_IN TOKENS_OUT COST_USD UNPRICED P50_MS P95_MS"
row "$T/model" gpt-4o-mini "6 1 40000 9500 0.011700 0 300.0 1000.0"
row "$T/model" gpt-4o "2 1 3000 1500 0.022500 0 50.0 70.0"
row "$T/model" claude-3-5-haiku-latest "2 0 13000 3000 0.022400 0 150.0 250.0"
row "$T/model" local-llama "1 0 500 100 0.000000 1 800.0 800.0"
row "$T/model" o1-pro "1 1 0 0 0.000000 0 0.5 0.5"
row "$T/model" TOTAL "12 3 56500 14100 0.056600 1 200.0 1000.0"
check "by model: groups sorted by name, total last" sh -c \
	"awk 'NR > 1 { print \$1 }' '$T/model' | tr '\n' ' ' | grep -qx 'claude-3-5-haiku-latest gpt-4o gpt-4o-mini local-llama o1-pro TOTAL '"
check "garbage lines counted on stderr" grep -q "audit: 4 lines skipped" "$T/model.err"
check "stdin as -" sh -c "'$CTL' audit - <'$A' 2>/dev/null | cmp -s - '$T/model'"

"$CTL" audit "$A" --by rule >"$T/rule" 2>/dev/null
row "$T/rule" "(none)" "3 1 7000 2500 0.023700 0 70.0 500.0"
row "$T/rule" mini "5 1 36000 8500 0.010500 0 300.0 1000.0"
row "$T/rule" haiku "2 0 13000 3000 0.022400 0 150.0 250.0"
row "$T/rule" local "1 0 500 100 0.000000 1 800.0 800.0"
row "$T/rule" no-o1-pro "1 1 0 0 0.000000 0 0.5 0.5"
row "$T/rule" TOTAL "12 3 56500 14100 0.056600 1 200.0 1000.0"

"$CTL" audit "$A" --by process >"$T/proc" 2>/dev/null
row "$T/proc" python3 "5 1 36000 8500 0.010500 0 300.0 1000.0"
row "$T/proc" curl "3 1 7000 2500 0.023700 0 70.0 500.0"
row "$T/proc" node "4 1 13500 3100 0.022400 1 150.0 800.0"

"$CTL" audit "$A" --by server >"$T/srv" 2>/dev/null
row "$T/srv" 127.0.0.1:8080 "5 1 36000 8500 0.010500 0 300.0 1000.0"
row "$T/srv" api.openai.com:443 "4 2 7000 2500 0.023700 0 50.0 500.0"
row "$T/srv" api.anthropic.com:443 "2 0 13000 3000 0.022400 0 150.0 250.0"
row "$T/srv" "[::1]:11434" "1 0 500 100 0.000000 1 800.0 800.0"

"$CTL" audit "$A" --by day >"$T/day" 2>/dev/null
row "$T/day" 2026-11-20 "4 1 31000 4000 0.018800 0 50.0 200.0"
row "$T/day" 2026-11-21 "4 0 16500 6600 0.016200 1 300.0 800.0"
row "$T/day" 2026-11-22 "4 2 9000 3500 0.021600 0 250.0 1000.0"
row "$T/day" TOTAL "12 3 56500 14100 0.056600 1 200.0 1000.0"

# --since: a date, a date and time (UTC), and relative times.
"$CTL" audit "$A" --by day --since 2026-11-21 >"$T/since" 2>/dev/null
row "$T/since" TOTAL "8 2 25500 10100 0.037800 1 300.0 1000.0"
check "--since a date drops the earlier day" expect_fail grep -q 2026-11-20 "$T/since"
"$CTL" audit "$A" --since 2026-11-21T12:00 >"$T/since" 2>/dev/null
row "$T/since" TOTAL "6 2 19500 4600 0.033600 1 250.0 1000.0"
"$CTL" audit "$A" --since 2026-11-20T23:59:59 --by rule >"$T/since" 2>/dev/null
row "$T/since" no-o1-pro "1 1 0 0 0.000000 0 0.5 0.5"
"$PY" - "$T/recent.jsonl" <<'PYEOF'
import sys, time
def ts(ago):
    t = time.time() - ago
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"
with open(sys.argv[1], "w") as f:
    for ago in (60, 2 * 3600, 2 * 86400, 10 * 86400):
        f.write('{"time": "%s", "gen_ai.request.model": "m", "llmroute.duration_ms": %d}\n' % (ts(ago), ago))
PYEOF
for s in "30m 1" "3h 2" "24h 2" "7d 3" "30d 4"; do
	set -- $s
	"$CTL" audit "$T/recent.jsonl" --since "$1" >"$T/rel" 2>/dev/null
	check "--since $1: $2 records" sh -c "awk '\$1 == \"TOTAL\" { exit \$2 != $2 }' '$T/rel'"
done

# --json: parseable, one object per group then the total, stable keys.
"$CTL" audit "$A" --json >"$T/j.json" 2>/dev/null
keys="['by', 'group', 'total', 'requests', 'errors', 'fallbacks', 'input_tokens', 'output_tokens', 'cost_usd', 'unpriced', 'p50_ms', 'p90_ms', 'p95_ms', 'p99_ms']"
check "--json: groups then the total" json_ok "$T/j.json" \
	"[g['group'] for g in d] == ['claude-3-5-haiku-latest', 'gpt-4o', 'gpt-4o-mini', 'local-llama', 'o1-pro', None] and [g['total'] for g in d] == [False] * 5 + [True]"
check "--json: stable keys" json_ok "$T/j.json" "all(list(g) == $keys for g in d)"
check "--json: the totals" json_ok "$T/j.json" \
	"(lambda t: t['by'] == 'model' and t['requests'] == 12 and t['errors'] == 3 and t['input_tokens'] == 56500 and t['output_tokens'] == 14100 and abs(t['cost_usd'] - 0.0566) < 1e-12 and t['unpriced'] == 1 and t['p50_ms'] == 200 and t['p95_ms'] == 1000)(d[-1])"
# nearest rank over 12 durations: p90 is the 11th (800), p99 the 12th
check "--json: p90, p99 and fallbacks" json_ok "$T/j.json" \
	"(lambda t: t['p90_ms'] == 800 and t['p99_ms'] == 1000 and t['fallbacks'] == 0)(d[-1])"
check "--json: a group" json_ok "$T/j.json" \
	"(lambda g: g['requests'] == 6 and abs(g['cost_usd'] - 0.0117) < 1e-12 and g['p50_ms'] == 300 and g['p95_ms'] == 1000)(d[2])"
"$CTL" audit "$A" --json --since 2030-01-01 >"$T/j0.json" 2>/dev/null
check "--json with nothing selected: only the total, null percentiles" json_ok "$T/j0.json" \
	"len(d) == 1 and d[0]['requests'] == 0 and d[0]['p50_ms'] is None"

# --savings with built-in prices.  Asked (gpt-4o 2.5/10 per Mtok):
# 10000/2000 -> 0.045, 20000/1000 -> 0.06, 5000/5000 -> 0.0625,
# 1000/500 -> 0.0075, the failed request 0; not rerouted: asked = actual.
# Sonnet (3/15) for haiku: 10000/1000 -> 0.045, 3000/2000 -> 0.039.
# local-llama has no price: excluded.
"$CTL" audit "$A" --savings >"$T/sav" 2>/dev/null
row "$T/sav" gpt-4o-mini "6 1 40000 9500 0.011700 0 300.0 1000.0 0.176200 0.011700 0.164500 0"
row "$T/sav" gpt-4o "2 1 3000 1500 0.022500 0 50.0 70.0 0.022500 0.022500 0.000000 0"
row "$T/sav" claude-3-5-haiku-latest "2 0 13000 3000 0.022400 0 150.0 250.0 0.084000 0.022400 0.061600 0"
row "$T/sav" local-llama "1 0 500 100 0.000000 1 800.0 800.0 0.000000 0.000000 0.000000 1"
row "$T/sav" TOTAL "12 3 56500 14100 0.056600 1 200.0 1000.0 0.282700 0.056600 0.226100 1"
check "--savings: header" grep -q "ASKED_USD *ACTUAL_USD *SAVED_USD *EXCLUDED" "$T/sav"
"$CTL" audit "$A" --savings --json --by rule >"$T/sav.json" 2>/dev/null
check "--savings --json: the totals" json_ok "$T/sav.json" \
	"(lambda t: abs(t['asked_cost_usd'] - 0.2827) < 1e-12 and abs(t['actual_cost_usd'] - 0.0566) < 1e-12 and abs(t['saved_usd'] - 0.2261) < 1e-12 and t['savings_excluded'] == 1)(d[-1])"

# A rules file overrides gpt-4o (5/20) and prices local-*: (1/2).  Asked for
# mini: 0.09 + 0.12 + 0.125 + 0.015 + 0 + 0.0012; local-llama: asked 0.0045,
# actual 0.0007 from the sent model's price since the record has none.
printf '{"prices": {"gpt-4o": {"input_per_mtok": 5, "output_per_mtok": 20},
 "local-*": {"input_per_mtok": 1, "output_per_mtok": 2}}, "routes": []}\n' >"$T/rules.json"
"$CTL" audit "$A" --savings --rules "$T/rules.json" >"$T/savr" 2>/dev/null
row "$T/savr" gpt-4o-mini "6 1 40000 9500 0.011700 0 300.0 1000.0 0.351200 0.011700 0.339500 0"
row "$T/savr" gpt-4o "2 1 3000 1500 0.022500 0 50.0 70.0 0.022500 0.022500 0.000000 0"
row "$T/savr" local-llama "1 0 500 100 0.000000 1 800.0 800.0 0.004500 0.000700 0.003800 0"
row "$T/savr" TOTAL "12 3 56500 14100 0.056600 1 200.0 1000.0 0.462200 0.057300 0.404900 0"

# Saved can be negative: a route to a dearer model.
rec 2026-11-23T00:00:00.000Z gpt-4o gpt-4o-mini up curl api.openai.com 443 200 null 1000 1000 0.0125 10 >"$T/up.jsonl"
"$CTL" audit "$T/up.jsonl" --savings >"$T/up" 2>/dev/null
row "$T/up" gpt-4o "1 0 1000 1000 0.012500 0 10.0 10.0 0.000750 0.012500 -0.011750 0"

# No FILE: LLMROUTE_AUDIT, else the live table's "audit" (the shim's
# order); and the live table's prices.
expect 3 "no audit file" "$CTL" audit
expect 0 "TOTAL .* 12 " env LLMROUTE_AUDIT="$A" "$CTL" audit
load_rules '{"audit": "'"$A"'", "prices": {"gpt-4o": {"input_per_mtok": 5, "output_per_mtok": 20},
 "local-*": {"input_per_mtok": 1, "output_per_mtok": 2}}, "routes": []}'
"$CTL" audit --savings >"$T/live" 2>/dev/null
row "$T/live" TOTAL "12 3 56500 14100 0.056600 1 200.0 1000.0 0.462200 0.057300 0.404900 0"
expect 0 "TOTAL .* 4 " env LLMROUTE_AUDIT="$T/recent.jsonl" "$CTL" audit
printf '{"routes": []}\n' >"$T/noprices.json"
"$CTL" audit "$A" --savings --rules "$T/noprices.json" >"$T/live" 2>/dev/null
row "$T/live" TOTAL "12 3 56500 14100 0.056600 1 200.0 1000.0 0.282700 0.056600 0.226100 1"
"$CTL" unload >/dev/null

# Errors.
expect 0 "usage: llmroutectl audit" "$CTL" audit --help
expect 0 "audit \[FILE\]" "$CTL" --help
expect 2 "No such file" "$CTL" audit "$T/missing.jsonl"
expect 2 "Is a directory" "$CTL" audit "$T"
expect 3 "no audit file" "$CTL" audit
expect 1 "--by takes" "$CTL" audit "$A" --by week
expect 1 "needs a value" "$CTL" audit "$A" --by
expect 1 "--since takes" "$CTL" audit "$A" --since yesterday
expect 1 "--since takes" "$CTL" audit "$A" --since 2026-02-30
expect 1 "--since takes" "$CTL" audit "$A" --since 24x
expect 1 "unknown option" "$CTL" audit "$A" --frobnicate
expect 1 "one FILE only" "$CTL" audit "$A" "$A"
expect 1 "for --savings or --html only" "$CTL" audit "$A" --rules "$T/rules.json"
printf '{"routes": [{"name": "a", "match": {"modle": "x"}}]}\n' >"$T/bad.json"
expect 2 "unknown key" "$CTL" audit "$A" --savings --rules "$T/bad.json"
head -c 100000 /dev/urandom >"$T/noise"
expect 0 "TOTAL  *0 " "$CTL" audit "$T/noise"
