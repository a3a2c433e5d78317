# t_prom.sh - llmroutectl stats --prometheus: real requests through the shim
# (curl), then the exposition is parsed with the Prometheus project's own
# parser (python3-prometheus-client) and every value is checked against
# `stats --json`, `cache stats --json` and `show --json`: counters per
# route, model and target, the latency histograms, target health, today's
# spend, budgets, the cache, the table; label escaping with a model name
# holding a quote, a backslash and a newline.  Then --textfile: the file is
# replaced whole (rename), mode 0644, no temporary left, never seen
# half-written by a reader while --interval rewrites it; SIGTERM ends it.
# needs: unsanitized (it preloads the shim into Debian's curl)
. "$(dirname "$0")/lib.sh"
lr_setup prom
start_mock
cat >"$T/rules.json" <<EOF
{"prices": {"gpt-4o-mini": {"input_per_mtok": 0.15, "output_per_mtok": 0.6}},
 "targets": {
   "big": {"model": "gpt-4.1", "endpoint": "$MOCK/v1", "input_per_mtok": 2, "output_per_mtok": 8},
   "dead": {"model": "gpt-dead", "endpoint": "http://127.0.0.1:9/v1"}},
 "health": {"failures": 1, "cooldown_s": 600},
 "routes": [
   {"name": "mini", "match": {"model": "gpt-4o"}, "set": {"model": "gpt-4o-mini"}},
   {"name": "capped", "match": {"model": "ask-capped"}, "pool": {"targets": ["big"]},
    "budget": {"usd_per_day": 1.5, "fallback": "big"}},
   {"name": "flaky", "match": {"model": "ask-flaky"}, "pool": {"targets": ["dead"]}, "fallbacks": ["big"], "retries": 0},
   {"name": "cached", "match": {"model": "app-cached"}, "set": {"model": "gpt-cheap"},
    "cache": {"ttl_s": 600, "max_temperature": 0}}]}
EOF
"$CTL" load "$T/rules.json" >/dev/null || fail "load the rules"

ask() { # ask BODY: one chat request by curl under the shim
	shim curl -sS --max-time 20 -o /dev/null -H 'Content-Type: application/json' \
		"$MOCK/v1/chat/completions" -d "$1"
}
ask '{"model": "gpt-4o", "messages": [{"role": "user", "content": "one"}]}'
ask '{"model": "gpt-4o", "messages": [{"role": "user", "content": "two, a longer one"}]}'
ask '{"model": "ask-capped", "messages": [{"role": "user", "content": "three"}]}'
ask '{"model": "ask-flaky", "messages": [{"role": "user", "content": "four"}]}'
ask '{"model": "app-cached", "temperature": 0, "messages": [{"role": "user", "content": "five"}]}'
ask '{"model": "app-cached", "temperature": 0, "messages": [{"role": "user", "content": "five"}]}'
# the mock echoes the model in a header, which the newline breaks: curl's
# complaint about it is not the point here
ask '{"model": "we\"ird\\na\nme", "messages": []}' 2>/dev/null
check "the mock got the requests" [ "$(mock_count)" -ge 6 ]

"$CTL" stats --prometheus >"$T/prom.txt"
check "stats --prometheus: exit 0" [ $? -eq 0 ]
"$CTL" stats --json >"$T/stats.json"
"$CTL" cache stats --json >"$T/cache.json"
"$CTL" show --json >"$T/show.json"

# prom_ok EXPR: EXPR over the parsed exposition must be true.  m: family
# name -> (type, {(sample name, labels as sorted tuples): value}); v(name,
# **labels) one value; j, c, sh: stats --json, cache stats --json, show --json.
prom_ok() {
	"$PY" - "$T/prom.txt" "$T/stats.json" "$T/cache.json" "$T/show.json" "$1" <<'PYEOF'
import json, sys, time
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
m = {}
for f in text_string_to_metric_families(text):
    m[f.name] = (f.type, {(s.name, tuple(sorted(s.labels.items()))): s.value for s in f.samples})
j, c, sh = (json.load(open(p)) for p in sys.argv[2:5])
def v(_n, **labels):
    for fam in m.values():
        x = fam[1].get((_n, tuple(sorted(labels.items()))))
        if x is not None:
            return x
    raise KeyError("%s %s" % (_n, labels))
def close(a, b, eps=1e-6):
    return abs(a - b) <= eps * max(1.0, abs(b))
def same_counters(dim, rows):
    for r in rows:
        n = r["name"]
        for k, name in (("requests", "requests_total"), ("errors", "errors_total"),
                        ("input_tokens", "input_tokens_total"), ("output_tokens", "output_tokens_total")):
            if v("llmroute_%s_%s" % (dim, name), **{dim: n}) != r[k]:
                sys.stderr.write("  %s %s %s: %s != %s\n" % (dim, n, k, v("llmroute_%s_%s" % (dim, name), **{dim: n}), r[k]))
                return False
        if not close(v("llmroute_%s_cost_usd_total" % dim, **{dim: n}), r["cost_usd"]):
            return False
    return len(rows) > 0
def histo_ok(dim, rows):
    p = "llmroute_%s_request_duration_seconds" % dim
    for r in rows:
        n = r["name"]
        b = sorted((float(dict(k[1])["le"]), x) for k, x in m[p][1].items()
                   if k[0] == p + "_bucket" and dict(k[1])[dim] == n)
        cnt = v(p + "_count", **{dim: n})
        if [x for _, x in b] != sorted(x for _, x in b) or b[-1][0] != float("inf") or b[-1][1] != cnt:
            return False
        if not close(v(p + "_sum", **{dim: n}) * 1000, r["latency_ms_sum"], 1e-3):
            return False
        if r["errors"] == 0 and cnt != r["requests"]:
            return False
    return m[p][0] == "histogram"
ok = eval(sys.argv[5])
if not ok:
    sys.stderr.write("  exposition:\n" + "".join("    " + l + "\n" for l in text.splitlines()[:400]))
sys.exit(0 if ok else 1)
PYEOF
}

check "the exposition parses, HELP and TYPE for every family" \
	prom_ok "len(m) > 20 and text.count('# HELP ') == text.count('# TYPE ') == len(m)"
check "counters are counters with _total" \
	prom_ok "all(t == 'counter' for f, (t, s) in m.items() if any(n.endswith('_total') for n, _ in s))"
check "per route: requests, errors, tokens, cost as stats --json" prom_ok "same_counters('route', j['routes'])"
check "per model: the same" prom_ok "same_counters('model', j['models'])"
check "per target: the same" prom_ok "same_counters('target', j['targets'])"
check "the routes counted are the ones used" \
	prom_ok "v('llmroute_route_requests_total', route='mini') == 2 and v('llmroute_route_requests_total', route='cached') == 2"
check "cost is the table's price for the tokens the upstream reported" \
	prom_ok "v('llmroute_route_cost_usd_total', route='mini') > 0 and close(v('llmroute_model_cost_usd_total', model='gpt-4o-mini'), (v('llmroute_model_input_tokens_total', model='gpt-4o-mini') * 0.15 + v('llmroute_model_output_tokens_total', model='gpt-4o-mini') * 0.6) / 1e6)"
check "latency histograms per route, model, target: cumulative, +Inf = _count, _sum = stats' sum" \
	prom_ok "histo_ok('route', j['routes']) and histo_ok('model', j['models']) and histo_ok('target', j['targets'])"
check "a label with a quote, a backslash and a newline round-trips" \
	prom_ok "v('llmroute_model_requests_total', model='we\"ird\\\\na\\nme') == 1"
check "and is escaped in the text" grep -qF 'model="we\"ird\\na\nme"' "$T/prom.txt"
check "target health: the dead target's failures and cool-down" \
	prom_ok "[t for t in j['targets'] if t['name'] == 'dead'][0]['failures_in_row'] == v('llmroute_target_failures_in_row', target='dead') >= 1 and 0 < v('llmroute_target_cooldown_remaining_seconds', target='dead') <= 600 and v('llmroute_target_cooldown_remaining_seconds', target='big') == 0"
check "target latency moving average as stats --json" \
	prom_ok "close(v('llmroute_target_latency_moving_average_seconds', target='big') * 1000, [t for t in j['targets'] if t['name'] == 'big'][0]['latency_ms_moving_average'], 1e-3)"
check "today's spend as stats --json's spend_today" \
	prom_ok "len(j['spend_today']) > 0 and all(close(v('llmroute_spend_today_usd', name=s['name'], per=s['per']), s['cost_usd']) for s in j['spend_today'] if s['day'] == time.strftime('%Y-%m-%d', time.gmtime()))"
check "the route's daily budget from the table" prom_ok "v('llmroute_route_budget_per_day_usd', route='capped', per='route') == 1.5"
check "cache hits, misses, stores as cache stats --json" \
	prom_ok "c['hits'] == 1 and all(v('llmroute_cache_%s_total' % k, uid=str(__import__('os').geteuid())) == c[k] for k in ('hits', 'misses', 'stores', 'evictions', 'expired', 'too_big')) and v('llmroute_cache_entries', uid=str(__import__('os').geteuid())) == c['entries']"
check "the table's generation and routes as show --json" \
	prom_ok "v('llmroute_table_generation') == sh['generation'] and v('llmroute_table_routes') == len(sh['rules']['routes']) and v('llmroute_table_published_timestamp_seconds') == sh['published_at']"
check "counters available, none dropped" prom_ok "v('llmroute_counters_available') == 1 and v('llmroute_counters_dropped_total') == j['dropped'] == 0"

expect 1 "needs --textfile" "$CTL" stats --prometheus --interval 5
expect 1 "seconds from 1" "$CTL" stats --prometheus --textfile "$T/x.prom" --interval 0
expect 1 "usage: llmroutectl stats" "$CTL" stats --prometheus --json
expect 4 "No such file" "$CTL" stats --prometheus --textfile "$T/no/such/dir/llmroute.prom"

# --textfile, once.
D=$T/textfile
mkdir "$D"
"$CTL" stats --prometheus --textfile "$D/llmroute.prom"
check "--textfile: exit 0" [ $? -eq 0 ]
check "--textfile: mode 0644 (node_exporter runs as another user)" [ "$(stat -c %a "$D/llmroute.prom")" = 644 ]
check "--textfile: no temporary left behind" [ "$(ls -A "$D")" = llmroute.prom ]
cp "$D/llmroute.prom" "$T/prom.txt"
check "--textfile: the same exposition as stdout" \
	prom_ok "same_counters('route', j['routes']) and histo_ok('model', j['models']) and v('llmroute_cache_hits_total', uid=str(__import__('os').geteuid())) == 1"

# --interval: a reader polling the file never sees a partial one, and the
# file is replaced (a new inode) on each write, never rewritten in place.
"$CTL" stats --prometheus --textfile "$D/llmroute.prom" --interval 1 2>"$T/loop.err" &
lpid=$!
"$PY" - "$D/llmroute.prom" >"$T/reader.out" 2>&1 <<'PYEOF'
import os, sys, time
from prometheus_client.parser import text_string_to_metric_families
path, inodes, reads, bad = sys.argv[1], set(), 0, 0
deadline = time.time() + 60
while len(inodes) < 4 and time.time() < deadline:
    try:
        with open(path) as f:
            ino, text = os.fstat(f.fileno()).st_ino, f.read()
    except FileNotFoundError:
        bad += 1
        continue
    inodes.add(ino)
    reads += 1
    try:
        names = {x.name for x in text_string_to_metric_families(text)}
        if not text.endswith("\n") or "llmroute_cache_capacity_bytes" not in names:
            bad += 1
    except Exception as e:
        bad += 1
    time.sleep(0.01)
print("inodes %d reads %d bad %d" % (len(inodes), reads, bad))
PYEOF
check "--interval: the file is replaced by rename, 4 versions seen" grep -q "^inodes 4 " "$T/reader.out"
check "--interval: every read saw a whole file ($(cat "$T/reader.out"))" grep -q " bad 0$" "$T/reader.out"
wait_file_has() { # the textfile shows N requests for route mini, within 30 s
	i=0
	until grep -q "^llmroute_route_requests_total{route=\"mini\"} $1\$" "$D/llmroute.prom"; do
		i=$((i + 1))
		[ "$i" -gt 300 ] && return 1
		sleep 0.1
	done
}
check "--interval: the file has what was counted" wait_file_has 2
ask '{"model": "gpt-4o", "messages": [{"role": "user", "content": "six"}]}'
check "--interval: a new request shows in a later write" wait_file_has 3
kill -TERM "$lpid"
wait "$lpid"
check "--interval: SIGTERM ends it with exit 0" [ $? -eq 0 ]
check "--interval: no temporary left behind" [ "$(ls -A "$D")" = llmroute.prom ]
check "--interval: nothing on stderr" [ ! -s "$T/loop.err" ]

# No counters: a scrape says so rather than failing.
"$CTL" unload --force >/dev/null
"$CTL" stats --prometheus >"$T/prom.txt"
check "no counters: exit 0" [ $? -eq 0 ]
check "no counters: llmroute_counters_available 0, no table metrics" \
	prom_ok "v('llmroute_counters_available') == 0 and 'llmroute_table_generation' not in m"
