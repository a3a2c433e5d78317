# t_report.sh - `llmroutectl audit --html` in a real browser (headless
# Chromium, tests/report_browser.py): an audit made by real requests
# through the shim (curl and a renamed copy of it, a routed model, a
# fallback after a 500, a deny, a model with no price) gives a page whose
# charts render with a nonzero size, with no script error, and whose every
# number equals `audit --json --savings --by ...` on the same file.  A
# crafted audit with markup and script in every string the page shows
# must come out as text, never as elements.  The checker itself is shown
# to catch a changed number and an injected script.
# needs: unsanitized (it preloads the shim into Debian's curl)
. "$(dirname "$0")/lib.sh"
lr_setup report
start_mock
A=$T/audit.jsonl
export LLMROUTE_AUDIT="$A"
URL=$MOCK/v1/chat/completions
CHROME_CHECK="$PY $ROOT/tests/report_browser.py"

# Prices for the models asked and sent; mystery-model has none.
cat >"$T/rules.json" <<EOF
{"prices": {"app-fb": {"input_per_mtok": 5, "output_per_mtok": 15}},
 "targets": {
   "cheap": {"model": "gpt-cheap", "endpoint": "$MOCK/v1", "input_per_mtok": 0.1, "output_per_mtok": 0.4},
   "big": {"model": "gpt-big", "endpoint": "$MOCK/v1", "input_per_mtok": 2, "output_per_mtok": 8}},
 "routes": [
   {"name": "to-mini", "match": {"model": "gpt-4o"}, "set": {"model": "gpt-4o-mini"}},
   {"name": "fb", "match": {"model": "app-fb"}, "pool": {"targets": ["cheap"]},
    "fallbacks": ["big"], "retry_after_max_ms": 0, "retries": 0},
   {"name": "no-o1-pro", "match": {"model": "o1-pro"}, "deny": "not here"}]}
EOF
"$CTL" load "$T/rules.json" >/dev/null || exit 1

mkdir -p "$T/bin"
cp "$(command -v curl)" "$T/bin/batch-job" # another process name, the same program
ask() { # PROGRAM MODEL [CONTENT]
	shim "$1" -sS -o /dev/null --max-time 10 -H 'Content-Type: application/json' \
		-d '{"model": "'"$2"'", "messages": [{"role": "user", "content": "'"${3:-hello}"'"}]}' "$URL"
}
ask curl gpt-4o
ask curl gpt-4o "a longer question for more input tokens"
ask "$T/bin/batch-job" gpt-4o
ask "$T/bin/batch-job" mystery-model
ask curl o1-pro 2>/dev/null
curl -sS -o /dev/null -X POST "$MOCK/_mock/fault" -d '{"match":"model=gpt-cheap","fault":"500","count":1}'
ask "$T/bin/batch-job" app-fb
ask curl app-fb
check "the mock saw the routed model, the fallback, no o1-pro" "$PY" -c "
import json, sys
m = [json.loads(l)['model'] for l in open('$T/mock.log')]
sys.exit(0 if m == ['gpt-4o-mini'] * 3 + ['mystery-model', 'gpt-cheap', 'gpt-big', 'gpt-cheap'] else m)"
check "audit: 8 records, a routed model, a fallback, a deny" audit_ok "$A" \
	'len(a) == 8 and sum(r["gen_ai.request.model"] == "gpt-4o-mini" for r in a) == 3 and sum(r.get("llmroute.via") == "fallback" for r in a) == 1 and sum(r["error.type"] == "denied" for r in a) == 1'

# page_ok BROWSER.json DIR: the browser's view of a page against the JSON
# summaries DIR/by.json; prints what differs.
page_ok() {
	"$PY" - "$1" "$2" <<'PYEOF'
import json, sys
b = json.load(open(sys.argv[1]))
bad = []
def same(k, h, j):  # cJSON prints 15 significant digits when they read back close
    if j is None:
        return h == ""
    return h != "" and abs(float(h) - j) <= 1e-12 * max(1.0, abs(j))
for by in ("model", "rule", "process", "server", "day"):
    want = json.load(open("%s/%s.json" % (sys.argv[2], by)))
    rows = b["tables"].get(by, [])
    if [r["group"] for r in rows] != [g["group"] for g in want]:
        bad.append("%s: groups %s, json %s" % (by, [r["group"] for r in rows], [g["group"] for g in want]))
        continue
    for r, g in zip(rows, want):
        if r["header"] != (g["group"] if g["group"] is not None else "TOTAL"):
            bad.append("%s: row header %r for %r" % (by, r["header"], g["group"]))
        g = dict(g)
        n = g["requests"]
        g["error_rate"] = g["errors"] / n if n else None
        g["fallback_rate"] = g["fallbacks"] / n if n else None
        for k, v in g.items():
            if k in ("by", "group", "total"):
                continue
            if k not in r["values"] or not same(k, r["values"][k], v):
                bad.append("%s %r %s: page %r, json %r" % (by, g["group"], k, r["values"].get(k), v))
total = b["tables"]["model"][-1]["values"] if b["tables"].get("model") else {}
if len(b["cards"]) < 10:
    bad.append("cards: %s" % b["cards"])
for k, v in b["cards"].items():
    if v != total.get(k):
        bad.append("card %s: %r, the total row %r" % (k, v, total.get(k)))
for e in bad[:20]:
    sys.stderr.write("  " + e + "\n")
sys.exit(1 if bad else 0)
PYEOF
}

# render_ok BROWSER.json [CHART...]: every chart has a size, and bars drawn
# (all charts, or only those named); no error, no markup from the data
# (no script, no on* attribute, no img/iframe/object/embed).
render_ok() {
	"$PY" - "$@" <<'PYEOF'
import json, sys
b = json.load(open(sys.argv[1]))
want = {"chart-" + c for c in ("cost-day", "tokens-day", "cost-model", "tokens-model", "cost-rule",
        "cost-process", "savings-rule", "savings-model", "rates-model", "latency-model")}
drawn = {"chart-" + c for c in sys.argv[2:]} or want
bad = ["missing chart " + c for c in sorted(want - {c["id"] for c in b["charts"]})]
bad += ["chart %s: size %s, %d bars, %d drawn" % (c["id"], c["size"], c["bars"], c["drawn"])
        for c in b["charts"] if min(c["size"]) <= 0 or (c["id"] in drawn and c["drawn"] == 0)]
bad += ["page error: " + e for e in b["errors"]]
bad += ["probe %s: %s" % (k, v) for k, v in b["probes"].items() if v]
for e in bad:
    sys.stderr.write("  " + e + "\n")
sys.exit(1 if bad else 0)
PYEOF
}

summaries() { # AUDIT DIR [ARGS]: the JSON of every grouping into DIR
	audit=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	for by in model rule process server day; do
		"$CTL" audit "$audit" --json --savings --by "$by" "$@" >"$dir/$by.json" 2>/dev/null
	done
}

# --- the real audit -------------------------------------------------------
check "--html: writes the page" "$CTL" audit "$A" --html "$T/report.html" --rules "$T/rules.json"
check "--html: no temporary file left" test ! -e "$T/report.html.tmp"
check "--html: the page names no network resource" expect_fail grep -Eiq '(src|href)=|@import|url\(' "$T/report.html"
summaries "$A" "$T/j" --rules "$T/rules.json"
start=$(date +%s)
check "chromium: the page loads" $CHROME_CHECK "$T/report.html" "$T/b.json"
check "chromium: charts render with a size, no errors, no markup from the data" render_ok "$T/b.json"
check "chromium: every number is the --json --savings number" page_ok "$T/b.json" "$T/j"
check "chromium took under 20 s" test $(($(date +%s) - start)) -lt 20
check "the numbers are real: a fallback, a saving, an unpriced model" json_ok "$T/j/rule.json" \
	'd[-1]["fallbacks"] == 1 and d[-1]["saved_usd"] > 0 and d[-1]["unpriced"] == 1 and d[-1]["p99_ms"] > 0'
check "unknown prices are said: unpriced and not compared" sh -c \
	"grep -q 'id=\"unpriced-note\">1 of 8 requests' '$T/report.html' && grep -q 'id=\"savings-note\">' '$T/report.html'"
# The live table's prices, as --savings takes them: the same page.
"$CTL" audit "$A" --html "$T/live.html" 2>/dev/null
check "--html without --rules: the live table's prices" cmp -s "$T/live.html" "$T/report.html"
"$CTL" unload >/dev/null
"$CTL" audit - --html - <"$A" >"$T/stdout.html" 2>/dev/null
check "--html - writes the page to stdout" grep -q 'id="by-model"' "$T/stdout.html"

# --- the checker fails when it should -----------------------------------------
sed 's/data-k="cost_usd" data-v="[^"]*"/data-k="cost_usd" data-v="1"/' "$T/report.html" >"$T/wrong.html"
$CHROME_CHECK "$T/wrong.html" "$T/bw.json"
check "checker: a changed number is caught" expect_fail page_ok "$T/bw.json" "$T/j" 2>/dev/null
sed 's|<h1>|<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2"><h1>|' \
	"$T/report.html" >"$T/evil.html"
$CHROME_CHECK "$T/evil.html" "$T/be.json"
check "checker: injected markup is caught" expect_fail render_ok "$T/be.json" 2>/dev/null
check "checker: the policy blocked the injected script and said so" json_ok "$T/be.json" \
	'd["probes"]["scripts"] == 1 and not d["probes"]["pwned"] and any("Content Security Policy" in e for e in d["errors"])'

# --- injection: hostile strings in every field the page shows -----------------------
H1='<script>window.__pwned=1</script>'
H2='"><img src=x onerror=window.__pwned=2>'
H3="</title></svg><svg onload='window.__pwned=3'>"
H4='&lt;b&gt; & <!-- --> <iframe src="javascript:window.__pwned=4">'
export H1 H2 H3 H4
X="$T/in<b>ject\"'.jsonl"
"$PY" - "$X" <<'PYEOF'
import json, os, sys
h = [os.environ[k] for k in ("H1", "H2", "H3", "H4")]
with open(sys.argv[1], "w") as f:
    for i, day in enumerate(("2026-11-20", "2026-11-21", "2026-11-22", "2026-11-22")):
        f.write(json.dumps({"time": day + "T10:00:00.000Z",
            "gen_ai.request.model": h[i], "llmroute.original_model": h[(i + 1) % 4],
            "llmroute.rule": h[(i + 2) % 4], "process.executable.name": h[(i + 3) % 4],
            "server.address": h[i], "server.port": 443, "http.response.status_code": 200,
            "error.type": None, "gen_ai.usage.input_tokens": 1000 * (i + 1),
            "gen_ai.usage.output_tokens": 100, "llmroute.cost_usd": 0.001 * (i + 1),
            "llmroute.duration_ms": 10 * (i + 1), "llmroute.via": h[i]}) + "\n")
PYEOF
check "injection: --html writes the page" "$CTL" audit "$X" --html "$T/inj.html"
summaries "$X" "$T/ji"
check "injection: no raw markup from the data in the file" expect_fail grep -Eq '<(script|img|iframe|svg onload)' "$T/inj.html"
$CHROME_CHECK "$T/inj.html" "$T/bi.json"
# no prices and no errors: the savings and rates charts have no bars
check "injection: charts render, no script, no handler, no element from the data" render_ok "$T/bi.json" \
	cost-day tokens-day cost-model tokens-model cost-rule cost-process latency-model
check "injection: the hostile names are shown as text, numbers still match" page_ok "$T/bi.json" "$T/ji"
check "injection: the file name is text in the title and the page" json_ok "$T/bi.json" \
	"d['title'].endswith('''$X''') and d['source'] == '''$X'''"
check "injection: chart labels are the names as text" "$PY" -c "
import json, os, sys
labels = json.load(open('$T/bi.json'))['labels']
want = [os.environ[k][:28] for k in ('H1', 'H2', 'H3', 'H4')]
sys.exit(0 if all(any(l.startswith(w) for l in labels) for w in want) else 1)"

# --- nothing known, and usage errors ----------------------------------------------
printf '{"time": "2026-11-20T10:00:00Z", "gen_ai.request.model": "m1", "llmroute.original_model": "m0"}\n' >"$T/unknown.jsonl"
"$CTL" audit "$T/unknown.jsonl" --html "$T/unknown.html" 2>/dev/null
check "no price known: the page says savings are unknown" grep -q 'What routing saved is unknown' "$T/unknown.html"
: >"$T/empty.jsonl"
"$CTL" audit "$T/empty.jsonl" --html "$T/empty.html" 2>/dev/null
$CHROME_CHECK "$T/empty.html" "$T/b0.json"
check "an empty audit: the page loads, with no error" json_ok "$T/b0.json" \
	'not d["errors"] and d["cards"]["requests"] == "0" and d["cards"]["p50_ms"] == ""'
expect 1 "needs a value" "$CTL" audit "$A" --html
expect 1 "no --by or --json" "$CTL" audit "$A" --html "$T/x.html" --json
expect 1 "no --by or --json" "$CTL" audit "$A" --html "$T/x.html" --by day
expect 4 "No such file" "$CTL" audit "$A" --html "$T/no/such/dir/x.html"
check "a failed --html leaves no file" test ! -e "$T/x.html"
