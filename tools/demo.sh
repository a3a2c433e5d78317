#!/bin/sh
# demo.sh - `make demo`: llmroute routing an unmodified program, live.
#
# Starts the built-in mock upstream, publishes an example routing table
# (in its own shared-memory segment, so a live /llmroute is not touched),
# runs the stock `curl` against https://api.openai.com (routed to the mock:
# no network needed) and a Python standard-library client against a host
# name a route claims, shows what the apps asked for and what was sent, then
# edits a route while one long-running curl process keeps sending, and
# shows its next requests following the new route without a restart.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
CTL=$BUILD/llmroutectl
RUN=$BUILD/llmroute
PY=/usr/bin/python3
T=$(mktemp -d /tmp/llmroute-demo.XXXXXX)
LLMROUTE_TABLE=/llmroute-demo-$$
LLMROUTE_AUDIT=$T/audit.jsonl
export LLMROUTE_TABLE LLMROUTE_AUDIT
mock=""

cleanup() {
	[ -n "$mock" ] && kill "$mock" 2>/dev/null
	"$CTL" unload --force >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

if [ -t 1 ]; then bold='\033[1m' plain='\033[0m'; else bold='' plain=''; fi
say() { printf "\n${bold}== %s${plain}\n" "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# What the mock received: request N onwards, one line each.
received() {
	"$PY" - "$T/mock.log" "${1:-1}" <<'EOF2'
import json, sys
for line in open(sys.argv[1]).read().splitlines()[int(sys.argv[2]) - 1:]:
    d = json.loads(line)
    auth = d["headers"].get("authorization", "(none)")
    print("   upstream got: %s %s  model=%s  authorization=%s" % (d["method"], d["path"], d["model"], auth))
EOF2
}
count() { wc -l <"$T/mock.log" | tr -d ' '; }

"$PY" "$ROOT/tools/mock_upstream.py" --port-file "$T/port" --log "$T/mock.log" 2>"$T/mock.err" &
mock=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -s "$T/port" ] || { cat "$T/mock.err"; exit 1; }
MOCK=http://127.0.0.1:$(cat "$T/port")
: >"$T/mock.log"

say "1. The routing table: compliance questions to a careful model, cheap model for the rest of gpt-4*, a local endpoint for legacy apps, no o1-pro"
cat >"$T/routes.json" <<EOF2
{
  "intents": [
    {"name": "compliance", "keywords": ["gdpr", "hipaa", "compliance", "retention policy"]}
  ],
  "targets": {
    "cheap": {"model": "gpt-4o-mini", "endpoint": "$MOCK/v1", "input_per_mtok": 0.15, "output_per_mtok": 0.6},
    "strong": {"model": "gpt-4.1", "endpoint": "$MOCK/v1", "input_per_mtok": 2, "output_per_mtok": 8}
  },
  "routes": [
    {"name": "assistant-never-worse", "match": {"model": "assistant"}, "pool": {"targets": ["cheap"]},
     "fallbacks": ["strong"], "escalate": {"when": ["empty", "length", "refusal"], "to": ["strong"]},
     "cache": {"ttl_s": 600, "max_temperature": 0}},
    {"name": "compliance-careful", "match": {"intent": "compliance", "host": "api.openai.com"},
     "set": {"model": "gpt-4.1", "endpoint": "$MOCK/v1", "params": {"temperature": 0},
             "system_prefix": "Answer carefully and cite the relevant rule."}},
    {"name": "defs-to-mini", "match": {"model": "gpt-4*", "host": "api.openai.com"},
     "set": {"model": "gpt-4o-mini", "endpoint": "$MOCK/v1"}},
    {"name": "internal-llm", "match": {"host": "llm.internal.example"},
     "set": {"endpoint": "$MOCK/v1", "model": "llama3.1:8b"}},
    {"name": "legacy-local", "match": {"process": "legacy-*"},
     "set": {"endpoint": "$MOCK/v1", "model": "llama3.1:8b", "api_key_env": "LOCAL_KEY"}},
    {"name": "no-o1-pro", "match": {"model": "o1-pro"}, "deny": "o1-pro is not allowed here"}
  ]
}
EOF2
cat "$T/routes.json"
run "$CTL" load "$T/routes.json"
run "$CTL" show

say "2. An unmodified curl asks api.openai.com for gpt-4o"
n=$(count)
run "$RUN" curl -sS https://api.openai.com/v1/chat/completions \
	-H 'Authorization: Bearer sk-app-key' -H 'Content-Type: application/json' \
	-d '{"model": "gpt-4o", "messages": [{"role": "user", "content": "Define entropy"}]}'
echo
echo "   app asked for: POST https://api.openai.com/v1/chat/completions  model=gpt-4o"
received $((n + 1))
echo "   (the app's key stayed home: the request went to another host)"

say "2b. No libcurl: Python's standard library, on a host that does not even exist"
n=$(count)
run "$RUN" "$PY" -c 'import http.client, json
c = http.client.HTTPConnection("llm.internal.example")
c.request("POST", "/v1/chat/completions", json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "Define entropy"}]}),
          {"Content-Type": "application/json", "Authorization": "Bearer sk-app-key"})
r = c.getresponse()
print(r.status, "answered by", json.loads(r.read())["model"])'
received $((n + 1))
echo "   (the shim answered the lookup, redirected the connection and rewrote the request on the socket)"

say "2c. Same app, same model asked, a compliance question: the intent picks a stronger model"
n=$(count)
run "$RUN" curl -sS -o /dev/null https://api.openai.com/v1/chat/completions -H 'Content-Type: application/json' \
	-d '{"model": "gpt-4o", "messages": [{"role": "user", "content": "Does our GDPR retention policy allow 2 years of logs?"}]}'
received $((n + 1))
echo "   (intent \"compliance\": gpt-4.1, temperature 0, and a system instruction put first)"

say "3. A denied model: nothing is sent, curl reports the route's message"
run "$RUN" curl -sS https://api.openai.com/v1/chat/completions -d '{"model": "o1-pro", "messages": []}'
echo "   curl exit status: $?"

say "4. Why? llmroutectl explain, without sending anything"
printf '{"model": "gpt-4-turbo", "messages": []}' >"$T/req.json"
run "$CTL" explain --url https://api.openai.com/v1/chat/completions --body "$T/req.json"

say "5. A live change: one curl process sends 6 requests, 2 per second"
: >"$T/k.conf"
sep=""
for i in 1 2 3 4 5 6; do
	printf '%surl = "https://api.openai.com/v1/chat/completions"\ndata = "{\\"model\\": \\"gpt-4.1\\", \\"messages\\": []}"\noutput = "/dev/null"\n' "$sep" >>"$T/k.conf"
	sep="next
"
done
n=$(count)
"$RUN" curl -sS --rate 2/s -K "$T/k.conf" &
client=$!
i=0
while [ "$(count)" -lt $((n + 3)) ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
echo "   ... after 3 requests, while it runs:"
run "$CTL" route add premium --first --match 'model=gpt-4.1' --set model=gpt-4.1-mini --set endpoint="$MOCK/v1"
wait $client
received $((n + 1))
echo "   the same process followed the new route from its next request on (no restart)"

say "5b. Cheaper, and never worse: fallback, escalation and the response cache (model \"assistant\")"
ask() { "$RUN" curl -sS -o /dev/null -w "   app got HTTP %{http_code}, %{size_download} bytes\n" \
	https://api.openai.com/v1/chat/completions -H 'Content-Type: application/json' \
	-d "{\"model\": \"assistant\", \"temperature\": $1, \"messages\": [{\"role\": \"user\", \"content\": \"$2\"}]}"; }
attempts() { # the audit records of the last request the app made
	"$PY" - "$T/audit.jsonl" <<'EOF2'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
last = recs[-1]["llmroute.request_id"]
for r in recs:
    if r.get("llmroute.request_id") == last:
        print("   audit: attempt %s %-12s status %s%s%s%s%s" % (r["llmroute.attempt"], r["gen_ai.request.model"],
              r["http.response.status_code"], " " + r["error.type"] if r["error.type"] else "",
              " gate=" + r["llmroute.gate"] if r["llmroute.gate"] else "",
              " cache=%s cost=%s" % (r["llmroute.cache"], r["llmroute.cost_usd"]) if r["llmroute.cache"] else "",
              "  <- what the app got" if r["llmroute.delivered"] else ""))
EOF2
}
with_fault() { # KIND QUESTION: the mock's next gpt-4o-mini answer gets the fault
	curl -sS -o /dev/null -X POST "$MOCK/_mock/fault" -d '{"match": "model=gpt-4o-mini", "fault": "'"$1"'", "count": 1}'
	n=$(count)
	ask 0.7 "$2"
	received $((n + 1))
	attempts
}
echo "   the cheap model is overloaded (the mock answers its next request 503):"
with_fault 503 "Summarise our meeting notes"
echo "   the cheap model's answer is cut by its token limit (finish_reason length):"
with_fault length "Write the release notes"
echo "   the same question twice at temperature 0: the second answer comes from the cache"
n=$(count)
ask 0 "Define entropy"
ask 0 "Define entropy"
echo "   upstream got $(($(count) - n)) request(s) for the two"
attempts
run "$CTL" cache stats

say "6. What did it cost, and what did routing save? (every request was audited)"
run "$CTL" audit --savings
echo
run "$CTL" stats

say "Done. More: llmroutectl --help, man -l man/llmroutectl.1, README.md, docs/"
