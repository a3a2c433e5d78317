# t_prices.sh - a LiteLLM price catalogue (tests/data/litellm_prices.json)
# named by the rules' prices_file and by `llmroutectl prices import`, and
# the audit cost of cached prompt tokens: the stock curl under the shim
# against the mock, which reports cache reads and writes in each provider's
# format (x-mock-cache).  Every expected cost is computed here, in Python,
# from the catalogue file itself, not from llmroute's numbers.
# needs: unsanitized (it preloads the shim into Debian's curl)
. "$(dirname "$0")/lib.sh"
lr_setup prices
start_mock
A=$T/audit.jsonl
export LLMROUTE_AUDIT="$A"
CAT=$ROOT/tests/data/litellm_prices.json
C="curl -sS --max-time 10 -o /dev/null"
load_rules '{"prices_file": "'"$CAT"'",
 "routes": [{"name": "to-acme", "match": {"model": "gpt-4o", "host": "api.openai.com"},
             "set": {"model": "acme-large", "endpoint": "'"$MOCK"'/v1"}}]}'

# priced CATALOGUE MODEL [N]: the Nth-last record's cost is the one the
# catalogue gives for its tokens: fresh input at input_cost_per_token, cache
# reads at cache_read_input_token_cost, writes at
# cache_creation_input_token_cost (each the input rate when absent), output
# at output_cost_per_token; and its cache counts are those the mock sent.
priced() {
	"$PY" - "$A" "$T/mock.log" "$1" "$2" "${3:-1}" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
reqs = [json.loads(l) for l in open(sys.argv[2])]
cat = json.load(open(sys.argv[3]))
n = int(sys.argv[5])
r, q, p = recs[-n], reqs[-n], cat[sys.argv[4]]
spec = {k.lower(): v for k, v in q["headers"].items()}.get("x-mock-cache", "0,0").split(",") + ["0"]
i = r["gen_ai.usage.input_tokens"]
rd, wr = min(int(spec[0]), i), min(int(spec[1]), i - min(int(spec[0]), i))
if "anthropic" not in q["path"] and "messages" not in q["path"]:
    wr = 0  # only Anthropic reports cache writes
o = r["gen_ai.usage.output_tokens"]
inp = p["input_cost_per_token"]
want = ((i - rd - wr) * inp + rd * p.get("cache_read_input_token_cost", inp)
        + wr * p.get("cache_creation_input_token_cost", inp) + o * p.get("output_cost_per_token", 0))
ok = (r["gen_ai.request.model"] == sys.argv[4] and i == max(1, len(q["body"].encode()) // 4)
      and r["gen_ai.usage.cache_read.input_tokens"] == rd
      and r["gen_ai.usage.cache_creation.input_tokens"] == wr
      and r["llmroute.cost_usd"] is not None and abs(r["llmroute.cost_usd"] - want) <= 1e-12
      and not r["llmroute.tokens_estimated"])
if not ok:
    sys.stderr.write("  want cost %.9g (read %d, write %d); record: %s\n" % (want, rd, wr, json.dumps(r)))
sys.exit(0 if ok else 1)
PYEOF
}

long='"messages":[{"role":"user","content":"a long shared prefix that the provider has cached for us already, many tokens of it"}]'

# OpenAI chat, routed to a model only the catalogue prices (cache read 1/10 of input)
shim $C https://api.openai.com/v1/chat/completions -H 'x-mock-cache: 20' -d '{"model":"gpt-4o",'"$long"'}'
check "openai chat routed to acme-large: cached tokens at the catalogue's cache read rate" priced "$CAT" acme-large
shim $C https://api.openai.com/v1/chat/completions -H 'x-mock-cache: 20' \
	-d '{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},'"$long"'}'
check "openai chat stream: the same from the usage chunk" priced "$CAT" acme-large
shim $C https://api.openai.com/v1/chat/completions -d '{"model":"gpt-4o",'"$long"'}'
check "openai chat without a cache: 0 cached, all at the input rate" priced "$CAT" acme-large
check "openai chat without a cache: the cache fields are 0, not null" audit_ok "$A" \
	"r['gen_ai.usage.cache_read.input_tokens'] == 0 and r['gen_ai.usage.cache_creation.input_tokens'] == 0"
# Responses API: input_tokens_details.cached_tokens
shim $C "$MOCK/v1/responses" -H 'x-mock-cache: 16' -d '{"model":"gpt-5-mini","input":"a long shared prefix, cached"}'
check "responses API gpt-5-mini: input_tokens_details.cached_tokens priced at the cache rate" priced "$CAT" gpt-5-mini
# Anthropic: reads and writes, body and stream
for s in false true; do
	shim $C "$MOCK/v1/messages" -H 'x-mock-cache: 12,6' \
		-d '{"model":"claude-sonnet-4-5","max_tokens":5,"stream":'$s','"$long"'}'
	check "anthropic stream=$s claude-sonnet-4-5: cache reads and writes at their rates" priced "$CAT" claude-sonnet-4-5
done
# Gemini: cachedContentTokenCount; no write rate in the catalogue
shim $C "$MOCK/v1beta/models/gemini-2.5-flash:generateContent" -H 'x-mock-cache: 9' \
	-d '{"contents":[{"parts":[{"text":"a long shared prefix that the provider has cached"}]}]}'
check "gemini-2.5-flash: cachedContentTokenCount at the catalogue's cache read rate" priced "$CAT" gemini-2.5-flash
# cached tokens really cost less: the same request, cached or not
check "a cached prompt costs less than the same prompt uncached" audit_ok "$A" \
	"a[0]['llmroute.cost_usd'] < a[2]['llmroute.cost_usd'] and a[0]['gen_ai.usage.input_tokens'] == a[2]['gen_ai.usage.input_tokens']"
# a model the catalogue does not list: the built-in list, with its cache rates
shim $C "$MOCK/v1/messages" -H 'x-mock-cache: 12,6' -d '{"model":"claude-haiku-4-5","max_tokens":5,'"$long"'}'
check "claude-haiku-4-5 (not in the catalogue): the built-in \$1 / \$0.10 / \$1.25 / \$5" audit_ok "$A" \
	"abs(r['llmroute.cost_usd'] - ((r['gen_ai.usage.input_tokens'] - 18) * 1.0 + 12 * 0.1 + 6 * 1.25 + r['gen_ai.usage.output_tokens'] * 5.0) / 1e6) < 1e-12"

# --- llmroutectl prices ----------------------------------------------------
expect 0 "catalogue (prices_file)" "$CTL" prices show acme-large
expect 0 "cache read \$0.4, cache write \$5; context window 64000" "$CTL" prices show acme-large
expect 0 "built-in \"gpt-5\*\"" "$CTL" prices show gpt-5
expect 3 "no price" "$CTL" prices show no-such-model
expect 1 "usage" "$CTL" prices frobnicate

gen_of() { "$CTL" show --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["generation"])'; }
g0=$(gen_of)
# bad catalogues: a clear error, exit 2, the live table as it was
printf '{"acme-large": {"input_cost_per_token": -4e-06}}' >"$T/neg.json"
expect 2 'model "acme-large": input_cost_per_token is negative' "$CTL" prices import "$T/neg.json"
printf '{"acme-large": {"input_cost_per_token": 4e-06}' >"$T/cut.json"
expect 2 "malformed JSON" "$CTL" prices import "$T/cut.json"
expect 2 "not a regular file" "$CTL" prices import /dev/zero
expect 2 "cannot resolve" "$CTL" prices import "$T/missing.json"
"$PY" -c 'import sys; sys.stdout.write("{" + " " * (32 << 20) + "}")' >"$T/huge.json"
expect 2 "larger than 33554432 bytes" "$CTL" prices import "$T/huge.json"
check "refused imports published nothing" test "$(gen_of)" = "$g0"
shim $C https://api.openai.com/v1/chat/completions -H 'x-mock-cache: 20' -d '{"model":"gpt-4o",'"$long"'}'
check "after refused imports: still priced from the first catalogue" priced "$CAT" acme-large

# a new catalogue: acme-large at other prices, published atomically
"$PY" - "$CAT" "$T/new.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["acme-large"].update(input_cost_per_token=1e-06, cache_read_input_token_cost=5e-08, output_cost_per_token=3e-06)
json.dump(d, open(sys.argv[2], "w"), indent=4)
PYEOF
expect 0 "5 models, 2 entries without a token price skipped" "$CTL" prices import "$T/new.json"
g1=$(gen_of)
check "import published a new generation" test "$g1" -gt "$g0"
"$CTL" show --json >"$T/show.json"
check "show --json: prices_file is the imported path, the route is kept" json_ok "$T/show.json" \
	"d['rules']['prices_file'] == '$T/new.json' and d['rules']['routes'][0]['name'] == 'to-acme'"
shim $C https://api.openai.com/v1/chat/completions -H 'x-mock-cache: 20' -d '{"model":"gpt-4o",'"$long"'}'
check "after the import: the next request is priced from the new catalogue" priced "$T/new.json" acme-large
check "after the import: cheaper than before" audit_ok "$A" "a[-1]['llmroute.cost_usd'] < a[-2]['llmroute.cost_usd']"

# the rules file path: a bad prices_file refuses the whole load
printf '{"prices_file": "%s", "routes": []}\n' "$T/neg.json" >"$T/bad_rules.json"
expect 2 "prices_file: price catalogue $T/neg.json" "$CTL" load "$T/bad_rules.json"
check "a refused load published nothing" test "$(gen_of)" = "$g1"

# audit --savings: what the routed requests would have cost on gpt-4o (the
# built-in $2.50 in, $1.25 cached, $10 out), cached tokens at its cache rate
"$CTL" audit "$A" --savings --json >"$T/savings.jsonl"
saved_ok() {
	"$PY" - "$A" "$T/savings.jsonl" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
d = json.load(open(sys.argv[2]))
groups = d if isinstance(d, list) else d.get("groups", [d])
tot = [g for g in groups if g.get("total")][0]
want = flat = 0.0
for r in recs:
    if r["llmroute.rule"] == "to-acme":
        i, o, rd = r["gen_ai.usage.input_tokens"], r["gen_ai.usage.output_tokens"], r["gen_ai.usage.cache_read.input_tokens"]
        want += ((i - rd) * 2.5 + rd * 1.25 + o * 10) / 1e6 - r["llmroute.cost_usd"]
        flat += (i * 2.5 + o * 10) / 1e6 - r["llmroute.cost_usd"]
# (acme-large costs more than gpt-4o: the "saving" is negative)
ok = abs(tot["saved_usd"] - want) < 1e-12 and abs(want - flat) > 1e-6
if not ok:
    sys.stderr.write("  saved %r, want %r\n" % (tot["saved_usd"], want))
sys.exit(0 if ok else 1)
PYEOF
}
check "audit --savings prices the asked model's cached tokens at its cache rate" saved_ok
