# t_ctl.sh - llmroutectl: every verb, each expected failure with its exit
# code and message, and after every failure the live table is unchanged.
. "$(dirname "$0")/lib.sh"
lr_setup ctl

good='{"audit": "/tmp/x.jsonl", "prices": {"local-*": {"input_per_mtok": 0.5, "output_per_mtok": 1}}, "routes": [
  {"name": "defs-to-mini", "match": {"model": "gpt-4*", "host": "api.openai.com"}, "set": {"model": "gpt-4o-mini"}},
  {"name": "no-o1-pro", "match": {"model": "o1-pro"}, "deny": "o1-pro is not allowed here"}]}'
printf '%s\n' "$good" >"$T/good.json"

unchanged() { # the live table is still generation $1 with its routes
	"$CTL" show --json >"$T/show.json" &&
		json_ok "$T/show.json" "d['generation'] == $1 and [r['name'] for r in d['rules']['routes']] == $2"
}

expect 3 "no table published" "$CTL" show
expect 0 "ok, 2 routes" "$CTL" check "$T/good.json"
expect 3 "no table published" "$CTL" show
expect 0 "generation 1: 2 routes" "$CTL" load "$T/good.json"
expect 0 "generation 1, published" "$CTL" show
check "show lists the routes" grep -q "defs-to-mini.*model=gpt-4\* host=api.openai.com.*model=gpt-4o-mini" "$T/out"
check "show lists the prices" grep -q 'price local-\*: \$0.5 in, \$1 out per million tokens' "$T/out"
check "show --json round-trips the rules" sh -c "'$CTL' show --json > '$T/s.json'"
check "show --json has the generation and audit" json_ok "$T/s.json" "d['generation'] == 1 and d['rules']['audit'] == '/tmp/x.jsonl'"
before='["defs-to-mini", "no-o1-pro"]'

# Each bad input: a clear error with file:line:col, exit 2, table untouched.
printf '{"routes": [\n  {"name": "a", "match": {"modle": "x"}}\n]}\n' >"$T/unknown.json"
expect 2 "unknown.json:2:.*routes\[0\].match.modle: unknown key" "$CTL" load "$T/unknown.json"
check "unknown key: table unchanged" unchanged 1 "$before"
printf '{"routes": [\n  {"name": "a",\n   "match": {"model": "gpt-[4"}}]}\n' >"$T/glob.json"
expect 2 "glob.json:3:.*bad glob" "$CTL" load "$T/glob.json"
check "bad glob: table unchanged" unchanged 1 "$before"
printf '{"routes": [\n  {"name": "a", "set": {"model": "x"}},\n' >"$T/trunc.json"
expect 2 "trunc.json:2:40: malformed JSON" "$CTL" load "$T/trunc.json"
check "malformed JSON: table unchanged" unchanged 1 "$before"
printf '{"routes": [{"name": "a"}, {"name": "a"}]}' >"$T/clash.json"
expect 2 "used twice" "$CTL" load "$T/clash.json"
check "name clash: table unchanged" unchanged 1 "$before"
# JSON text is UTF-8 (issue 12, item 7): each bad sequence, raw or as a \u
# escape, is refused at its line and column and the table stays as it was.
for bad in '\300\257' '\355\240\200' '\364\220\200\200' '\342\202' '\377' '\\ud800' '\\udc00'; do
	printf '{"routes": [\n {"name": "a", "deny": "no %b here"}]}\n' "$bad" >"$T/utf8.json"
	expect 2 "utf8.json:2:.*\(invalid UTF-8\|lone surrogate\)" "$CTL" load "$T/utf8.json"
	check "invalid UTF-8 ($bad): table unchanged" unchanged 1 "$before"
done
expect 2 "No such file" "$CTL" load "$T/missing.json"
# Policy keys: bad regular expression, bad bounds, forbidden overrides.
printf '{"intents": [\n {"name": "i", "patterns": ["(unclosed"]}], "routes": []}' >"$T/re.json"
expect 2 "re.json:2:.*intents\[0\].patterns\[0\]: bad regular expression" "$CTL" load "$T/re.json"
printf '{"routes": [{"name": "a", "match": {"prompt_tokens": {"gt": "many"}}}]}' >"$T/bound.json"
expect 2 "prompt_tokens.gt.*needs a number" "$CTL" load "$T/bound.json"
printf '{"routes": [{"name": "a", "match": {"stream": "yes"}}]}' >"$T/bool.json"
expect 2 "match.stream: true or false" "$CTL" load "$T/bool.json"
printf '{"routes": [{"name": "a", "set": {"params": {"stream": true}}}]}' >"$T/param.json"
expect 2 "set.params.stream.*cannot be overridden" "$CTL" load "$T/param.json"
printf '{"routes": [{"name": "a", "set": {"cap": {"max_tokens": "x"}}}]}' >"$T/cap.json"
expect 2 "a cap is a number" "$CTL" load "$T/cap.json"
# Resilience keys.
T1='"targets": {"big": {"model": "b"}}'
printf '{%s, "routes": [{"name": "a", "set": {"model": "x"}, "fallbacks": ["huge"]}]}' "$T1" >"$T/fb.json"
expect 2 "fallbacks\[0\]: no target named \"huge\"" "$CTL" load "$T/fb.json"
printf '{%s, "routes": [{"name": "a", "set": {"model": "x"}, "escalate": {"when": ["meh"], "to": ["big"]}}]}' "$T1" >"$T/esc.json"
expect 2 "escalate.when\[0\]: \"empty\", \"length\"" "$CTL" load "$T/esc.json"
printf '{%s, "routes": [{"name": "a", "set": {"model": "x"}, "escalate": {"when": ["refusal"], "refusal": "(x", "to": ["big"]}}]}' "$T1" >"$T/escre.json"
expect 2 "escalate.refusal: not a valid POSIX" "$CTL" load "$T/escre.json"
printf '{%s, "routes": [{"name": "a", "set": {"model": "x"}, "escalate": {"when": ["empty"]}}]}' "$T1" >"$T/escto.json"
expect 2 "needs \"to\"" "$CTL" load "$T/escto.json"
printf '{"routes": [{"name": "a", "set": {"model": "x"}, "cache": {"ttl_s": 0}}]}' >"$T/cache.json"
expect 2 "cache.ttl_s: a number from 1" "$CTL" load "$T/cache.json"
printf '{"routes": [{"name": "a", "deny": "no", "cache": {"ttl_s": 5}}]}' >"$T/denycache.json"
expect 2 "a route that denies has no fallbacks" "$CTL" load "$T/denycache.json"
printf '{"health": {"failures": 0}, "routes": []}' >"$T/health.json"
expect 2 "health.failures: a number from 1" "$CTL" load "$T/health.json"
printf '{"cache": {"size_mb": 100000}, "routes": []}' >"$T/csize.json"
expect 2 "cache.size_mb: a number from 1 to 1024" "$CTL" load "$T/csize.json"
check "policy errors: table unchanged" unchanged 1 "$before"
check "missing file: table unchanged" unchanged 1 "$before"
printf '{"routes": [{"name": "a", "set": {"model": "x"}, "deny": "no"}]}' >"$T/both.json"
expect 2 "either sets or denies" "$CTL" load "$T/both.json"
printf '{"routes": [{"name": "a", "set": {"api_key_env": "sk-live-123"}}]}' >"$T/key.json"
expect 2 "names an environment variable" "$CTL" load "$T/key.json"
printf '{"routes": [{"name": "a", "set": {"endpoint": "ftp://x/v1"}}]}' >"$T/ep.json"
expect 2 "must be an http" "$CTL" load "$T/ep.json"
printf '{"routes": [], "extra": 1}' >"$T/top.json"
expect 2 "unknown key \"extra\"" "$CTL" load "$T/top.json"
printf '{"routes": [{"name": "a", "match": {"model": "x", "model": "y"}}]}' >"$T/dup.json"
expect 2 "duplicate key" "$CTL" load "$T/dup.json"
check "after all failures: table unchanged" unchanged 1 "$before"

# Edits.
expect 0 "generation 2" "$CTL" route add cheap --match 'model=gpt-3*' --set model=gpt-4o-mini
expect 2 "exists already" "$CTL" route add cheap --set model=x
expect 2 "bad glob" "$CTL" route add bad --match 'model=[x'
expect 1 "KEY=VALUE" "$CTL" route add bad --match model
expect 1 "unknown option" "$CTL" route add bad --frobnicate 1
check "failed edits: table unchanged" unchanged 2 '["defs-to-mini", "no-o1-pro", "cheap"]'
expect 0 "generation 3" "$CTL" route add first --first --json '{"match": {"process": "legacy-*"}, "set": {"endpoint": "http://127.0.0.1:11434/v1", "api_key_env": "LOCAL_KEY"}}'
expect 0 "generation 4" "$CTL" route add mid --before no-o1-pro --deny "not here"
check "placement: --first and --before" unchanged 4 '["first", "defs-to-mini", "mid", "no-o1-pro", "cheap"]'
expect 0 "generation 5" "$CTL" route disable mid
check "disabled route shows disabled" sh -c "'$CTL' show | grep -q 'mid .*disabled'"
expect 0 "generation 6" "$CTL" route enable mid
expect 0 "generation 7" "$CTL" route del mid
expect 3 "no route named" "$CTL" route del mid
expect 3 "no route named" "$CTL" route disable nosuch
check "edits applied in order" unchanged 7 '["first", "defs-to-mini", "no-o1-pro", "cheap"]'

# Concurrent edits lose nothing: 20 writers at once.
i=0
while [ $i -lt 20 ]; do
	"$CTL" route add "par$i" --set model=m$i >/dev/null 2>"$T/par$i.err" &
	i=$((i + 1))
done
wait
"$CTL" show --json >"$T/s.json"
check "20 concurrent route adds all landed" json_ok "$T/s.json" \
	"len([r for r in d['rules']['routes'] if r['name'].startswith('par')]) == 20 and d['generation'] == 27"

# explain
printf '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}' >"$T/body.json"
expect 0 'decision:    route by route "defs-to-mini"' "$CTL" explain --url https://api.openai.com/v1/chat/completions --body "$T/body.json"
check "explain shows the model change" grep -q "gpt-4o -> gpt-4o-mini (in the body)" "$T/out"
expect 0 'decision:    deny by route "no-o1-pro"' sh -c "printf '{\"model\":\"o1-pro\"}' | '$CTL' explain --url https://api.openai.com/v1/responses --body -"
expect 0 "not an LLM API request" "$CTL" explain --url https://example.com/v2/items
expect 0 'route by route "first"' "$CTL" explain --url https://api.openai.com/v1/chat/completions --body "$T/body.json" --process legacy-app
check "explain: new URL and key variable" sh -c "grep -q 'http://127.0.0.1:11434/v1/chat/completions' '$T/out' && grep -q 'LOCAL_KEY' '$T/out'"
printf '{"model": "claude-x"}' >"$T/claude.json"
expect 0 'no: model "claude-x" does not match "gpt-4\*"' "$CTL" explain --url https://api.openai.com/v1/chat/completions --body "$T/claude.json" --rules "$T/good.json" --process x
check "explain --rules: no route matched" grep -q "decision:    none" "$T/out"
expect 1 "--url is required" "$CTL" explain
expect 2 "unknown key" "$CTL" explain --url https://api.openai.com/v1/chat/completions --rules "$T/unknown.json"

# help on every verb, usage errors
for v in load check show route explain unload; do
	"$CTL" $v --help >"$T/h" 2>&1
	check "$v --help prints usage" grep -q "usage: llmroutectl $v" "$T/h"
done
expect 1 "unknown verb" "$CTL" frobnicate
expect 1 "usage" "$CTL"

# The segment's mode is part of trust.
check "segment is 0644" sh -c "stat -c %a /dev/shm${LLMROUTE_TABLE} | grep -qx 644"

# A foreign segment: refused with a clear error, removable with --force.
"$CTL" unload >/dev/null
expect 3 "no table published" "$CTL" show
printf 'this is not a table' >"/dev/shm${LLMROUTE_TABLE}"
chmod 644 "/dev/shm${LLMROUTE_TABLE}"
expect 4 "not an llmroute table" "$CTL" load "$T/good.json"
expect 4 "too small" "$CTL" show
expect 0 "removed" "$CTL" unload --force
expect 0 "generation 1" "$CTL" load "$T/good.json"

# A valid non-ASCII rules file round-trips through show --json as JSON.
printf '{"routes": [{"name": "cafe", "match": {"model": "m\303\251-*"}, "deny": "non \303\240 \\u00e9 \360\237\230\200 \\ud83d\\ude00 \342\202\254"}]}\n' >"$T/nonascii.json"
expect 0 "generation" "$CTL" load "$T/nonascii.json"
"$CTL" show --json >"$T/show.json"
check "non-ASCII rules: show --json is valid JSON with the same text" json_ok "$T/show.json" \
	"d['rules']['routes'][0]['deny'] == 'non \\u00e0 \\u00e9 \\U0001f600 \\U0001f600 \\u20ac' and d['rules']['routes'][0]['match']['model'] == 'm\\u00e9-*'"
