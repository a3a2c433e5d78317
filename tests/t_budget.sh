# t_budget.sh - live policy across processes: a daily route budget spent by
# one process switches a second process to the fallback target; a pool
# target made slow at the mock loses to an equal one once its observed
# latency (the moving average in the live counters) is known.  Clients are
# unmodified Python programs (http.client over a socket).
. "$(dirname "$0")/lib.sh"
lr_setup budget
start_mock
cat >"$T/rules.in" <<EOF2
{"targets": {
   "big": {"model": "gpt-4.1", "endpoint": "$MOCK/v1", "input_per_mtok": 2, "output_per_mtok": 8},
   "mini": {"model": "gpt-4o-mini", "endpoint": "$MOCK/v1", "input_per_mtok": 0.15, "output_per_mtok": 0.6},
   "east": {"model": "twin-east", "endpoint": "$MOCK/v1", "input_per_mtok": 1, "output_per_mtok": 1, "quality": 0.7},
   "west": {"model": "twin-west", "endpoint": "$MOCK/v1", "input_per_mtok": 1, "output_per_mtok": 1, "quality": 0.7}},
 "routes": [
   {"name": "twins", "match": {"host": "127.0.0.1", "model": "ask-twins"},
    "pool": {"targets": ["east", "west"], "weights": {"quality": 1, "cost": 1, "latency": 1}}},
   {"name": "capped", "match": {"host": "127.0.0.1", "model": "ask-capped"}, "pool": {"targets": ["big"]},
    "budget": {"usd_per_day": 0.0001, "fallback": "mini"}}]}
EOF2
"$CTL" load "$T/rules.in" >/dev/null
cat >"$T/app.py" <<'PYEOF'
import http.client, json, sys
port, model, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for _ in range(n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    c.request("POST", "/v1/chat/completions", json.dumps({"model": model, "messages": [{"role": "user", "content": "hello"}]}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    print(r.status, json.loads(r.read())["model"])
PYEOF

# The mock bills 19 + 4 tokens a request: 7e-5 USD at big's prices, so
# the 1e-4 budget is spent after two requests.
shim "$PY" "$T/app.py" "$MOCK_PORT" ask-capped 2 >"$T/p1"
check "process 1: under budget, the pool's target" test "$(grep -c '^200 gpt-4.1$' "$T/p1")" -eq 2
shim "$PY" "$T/app.py" "$MOCK_PORT" ask-capped 1 >"$T/p2"
check "process 2: the budget process 1 spent sends it to the fallback" grep -qx "200 gpt-4o-mini" "$T/p2"
printf '{"model": "ask-capped", "messages": []}' >"$T/capped.json"
"$CTL" explain --url "$MOCK/v1/chat/completions" --body "$T/capped.json" >"$T/explain" 2>&1
check "explain: the budget reached, and the fallback" sh -c \
	"grep -q 'budget:      0.0001 USD/day per route; spent today .*(reached)' '$T/explain' && grep -q 'fallback target: mini' '$T/explain'"

# Equal twins; east is made slow at the mock.  An untried target counts
# as fast, so: east first (a tie goes to the earlier), then west (untried),
# then west again (measured fast, east measured slow).
curl -sS -o /dev/null -X POST "$MOCK/_mock/fault" -d '{"match":"model=twin-east","fault":"slow=400"}'
shim "$PY" "$T/app.py" "$MOCK_PORT" ask-twins 3 >"$T/t1"
check "twins: east, then the untried west, then west for its lower latency" \
	sh -c "printf '200 twin-east\n200 twin-west\n200 twin-west\n' | cmp -s - '$T/t1'"
printf '{"model": "ask-twins", "messages": []}' >"$T/twins.json"
"$CTL" explain --url "$MOCK/v1/chat/completions" --body "$T/twins.json" >"$T/explain" 2>&1
check "explain: east dropped behind on observed latency, west chosen" sh -c \
	"grep -Eq 'east .*latency [0-9]{3} ms' '$T/explain' && grep -q 'west.*<- chosen' '$T/explain'"
# A latency not measured for LLMROUTE_LATENCY_STALE_S (60 by default) is
# forgotten: east, no longer slow, is tried again and wins back.
curl -sS -o /dev/null -X POST "$MOCK/_mock/reset"
sleep 2.1
LLMROUTE_LATENCY_STALE_S=1 shim "$PY" "$T/app.py" "$MOCK_PORT" ask-twins 1 >"$T/t3"
check "twins: east's stale latency is forgotten, east is tried again" grep -qx "200 twin-east" "$T/t3"
"$CTL" stats --json >"$T/stats.json"
check "stats: today's spend per route counted across both processes" json_ok "$T/stats.json" \
	"any(x['name'] == 'capped' and x['day'] == __import__('time').strftime('%Y-%m-%d', __import__('time').gmtime()) and x['per'] == 'route' and x['requests'] == 3 and x['cost_usd'] >= 0.0001 for x in d['spend_today']) and [x['name'] for x in d['targets'] if x['latency_ms_moving_average'] > 300] == ['east']"
