# t_curl.sh - the unmodified curl command line under the shim: every way
# curl sends a body, serial and parallel transfers, credentials, deny,
# pass-through of non-LLM traffic, trust, and programs without libcurl.

# needs: unsanitized (an ASan runtime preloaded into Debian's curl binary
# deadlocks in setlocale before main, shim or not)
. "$(dirname "$0")/lib.sh"
lr_setup curl
start_mock
OAI=https://api.openai.com/v1/chat/completions
C="curl -sS --max-time 10"

load_rules '{"routes": [
 {"name": "mini", "match": {"model": "gpt-4*", "host": "api.openai.com"},
  "set": {"model": "gpt-4o-mini", "endpoint": "'"$MOCK"'/v1"}},
 {"name": "keyed", "match": {"model": "keyed-*"},
  "set": {"model": "local-model", "endpoint": "'"$MOCK"'/v1", "api_key_env": "LR_TEST_KEY"}},
 {"name": "kept", "match": {"model": "kept-*"},
  "set": {"endpoint": "'"$MOCK"'/v1", "keep_credentials": true}},
 {"name": "claude", "match": {"provider": "anthropic"},
  "set": {"model": "claude-3-5-haiku-latest", "endpoint": "'"$MOCK"'/v1", "api_key_env": "LR_TEST_KEY"}},
 {"name": "gem-same-host", "match": {"model": "gemini-2.0-pro"},
  "set": {"model": "gemini-2.0-flash", "api_key_env": "LR_UNSET_KEY"}},
 {"name": "gemini", "match": {"provider": "gcp.gemini"},
  "set": {"model": "gemini-1.5-flash", "endpoint": "'"$MOCK"'/v1beta"}},
 {"name": "no-o1-pro", "match": {"model": "o1-pro"}, "deny": "o1-pro is not allowed here"}
]}'
body='{"model":"gpt-4o","messages":[{"role":"user","content":"Define entropy"}]}'

# -d
shim $C "$OAI" -H 'Authorization: Bearer sk-app-secret' -H 'Content-Type: application/json' -d "$body" >"$T/out"
check "-d: the app gets the routed answer" grep -q '"model": "gpt-4o-mini"' "$T/out"
check "-d: upstream saw the new model, path kept" last_req "d['model'] == 'gpt-4o-mini' and d['path'] == '/v1/chat/completions'"
check "-d: body otherwise byte-identical" last_req "d['raw'] == b'$(printf '%s' "$body" | sed 's/gpt-4o"/gpt-4o-mini"/')'"
check "-d: the app's key did not follow to the new host" last_req "'authorization' not in d['headers']"
check "-d: Host and Content-Length match the new request" last_req "d['headers']['host'] == '127.0.0.1:$MOCK_PORT' and int(d['headers']['content-length']) == len(d['raw'])"

# --data-binary @file, pretty-printed, with a Host header the app set
printf '{\n  "model" : "gpt-4-turbo",\n  "messages": [ {"role": "user", "content": "x"} ],\n  "temperature": 1.50\n}\n' >"$T/pretty.json"
shim $C "$OAI" -H 'Host: api.openai.com' --data-binary @"$T/pretty.json" >"$T/out"
check "--data-binary @file: routed" last_req "d['model'] == 'gpt-4o-mini'"
check "--data-binary @file: whitespace and number spelling kept" last_req \
	"d['raw'] == open('$T/pretty.json','rb').read().replace(b'\"gpt-4-turbo\"', b'\"gpt-4o-mini\"')"
check "app-set Host: header follows the new endpoint" last_req "d['headers']['host'] == '127.0.0.1:$MOCK_PORT'"

# --json
shim $C "$OAI" --json '{"model":"gpt-4o","messages":[]}' >"$T/out"
check "--json: routed" last_req "d['model'] == 'gpt-4o-mini' and d['headers']['content-type'] == 'application/json'"

# -T: the body comes from the read callback (known size)
printf '{"model":"gpt-4o","messages":[{"role":"user","content":"upload"}]}' >"$T/up.json"
shim $C -X POST -T "$T/up.json" "$OAI" >"$T/out"
check "-T upload (read callback): routed and complete" last_req \
	"d['model'] == 'gpt-4o-mini' and d['raw'] == open('$T/up.json','rb').read().replace(b'gpt-4o\"', b'gpt-4o-mini\"')"

# several transfers in one -K config, one keep-alive connection
: >"$T/k.conf"
sep=""
for m in gpt-4o gpt-4o-2024-08-06 keyed-a gpt-4.1; do
	printf '%surl = "%s"\ndata = "{\\"model\\":\\"%s\\"}"\noutput = "/dev/null"\n' "$sep" "$OAI" "$m" >>"$T/k.conf"
	sep="next
"
done
n0=$(mock_count)
LR_TEST_KEY=sk-route-key shim $C -K "$T/k.conf"
check "-K: four transfers reached the mock" test "$(($(mock_count) - n0))" -eq 4
check "-K: first routed to mini" last_req "d['model'] == 'gpt-4o-mini'" 4
check "-K: last routed to mini" last_req "d['model'] == 'gpt-4o-mini'" 1
check "-K: keyed route carries the route's key" last_req "d['model'] == 'local-model' and d['headers']['authorization'] == 'Bearer sk-route-key'" 2

# --parallel (multi interface)
n0=$(mock_count)
shim $C --parallel --parallel-immediate "$OAI" -d '{"model":"gpt-4o"}' -o "$T/p1" \
	--next "$OAI" -d '{"model":"gpt-4o-mini-2"}' -o "$T/p2" \
	--next "$OAI" -d '{"model":"o1-pro"}' -o "$T/p3" 2>"$T/perr"
check "--parallel: two LLM transfers reached the mock" test "$(($(mock_count) - n0))" -eq 2
check "--parallel: answers are the routed ones" sh -c "grep -q gpt-4o-mini '$T/p1' && grep -q gpt-4o-mini '$T/p2'"
check "--parallel: the denied transfer failed with the route's message" grep -q "o1-pro is not allowed here" "$T/perr"

# deny
n0=$(mock_count)
shim $C "$OAI" -d '{"model":"o1-pro"}' 2>"$T/err"
rc=$?
check "deny: curl fails with CURLE_REMOTE_ACCESS_DENIED (9)" test "$rc" -eq 9
check "deny: the route's message in curl's error" grep -q "denied by route no-o1-pro: o1-pro is not allowed here" "$T/err"
check "deny: nothing was sent" test "$(mock_count)" -eq "$n0"

# credentials by provider
LR_TEST_KEY=sk-ant-route shim $C https://api.anthropic.com/v1/messages -H 'x-api-key: sk-ant-app' \
	-H 'anthropic-version: 2023-06-01' -d '{"model":"claude-3-opus-latest","max_tokens":5,"messages":[]}' >"$T/out"
check "anthropic: x-api-key replaced by the route's key" last_req \
	"d['headers']['x-api-key'] == 'sk-ant-route' and d['model'] == 'claude-3-5-haiku-latest' and d['headers']['anthropic-version'] == '2023-06-01'"
shim $C "https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-pro:generateContent?key=AIza-app" \
	-H 'x-goog-api-key: AIza-app' -d '{"contents":[{"parts":[{"text":"hi"}]}]}' >"$T/out"
check "gemini: model swapped in the path, key dropped from header and query" last_req \
	"d['path'] == '/v1beta/models/gemini-1.5-flash:generateContent' and 'key=' not in d['query'] and 'x-goog-api-key' not in d['headers']"
shim $C "$MOCK/v1beta/models/gemini-2.0-pro:generateContent?key=AIza-app" -d '{"contents":[]}' >"$T/out" 2>"$T/err"
check "gemini, same host, key variable unset: the app's key= stays" last_req \
	"d['path'] == '/v1beta/models/gemini-2.0-flash:generateContent' and d['query'] == 'key=AIza-app'"
shim $C "$OAI" -H 'Authorization: Bearer sk-keep' -d '{"model":"kept-1"}' >"$T/out"
check "keep_credentials: the app's key goes to the new host" last_req "d['headers']['authorization'] == 'Bearer sk-keep'"
shim $C "$OAI" -u user:pw -d '{"model":"gpt-4o"}' >"$T/out"
check "basic-auth credentials are dropped too" last_req "'authorization' not in d['headers']"
shim $C "$OAI" -H 'Authorization: Bearer sk-app' -d '{"model":"keyed-x"}' >"$T/out" 2>"$T/err"
check "key variable unset: an error says why" grep -q 'LR_TEST_KEY is not set' "$T/err"
check "key variable unset: no key at all on the new host" last_req "'authorization' not in d['headers']"

LR_TEST_KEY="$(printf 'sk-x\r\nX-Injected: 1')" shim $C "$OAI" -d '{"model":"keyed-x"}' >"$T/out" 2>"$T/err"
check "a key with CR/LF is refused, not injected" last_req "'x-injected' not in d['headers'] and 'authorization' not in d['headers']"

# non-LLM traffic is untouched
printf '{"model":"gpt-4o","note":"not an LLM call"}' >"$T/echo.json"
shim $C "$MOCK/echo" --data-binary @"$T/echo.json" -o "$T/echo.out"
check "non-LLM POST with a model key: byte-identical" cmp -s "$T/echo.json" "$T/echo.out"
check "non-LLM POST: upstream got it as sent" last_req "d['raw'] == open('$T/echo.json','rb').read()"
shim $C "$MOCK/v1/chat/completions" -d '{"model":"claude-x"}' >"$T/out"
check "LLM request no route matches: sent as made" last_req "d['model'] == 'claude-x'"

# off switch, and no table
LLMROUTE_DISABLE=1 shim $C "$MOCK/v1/chat/completions" -d '{"model":"gpt-4o"}' -H 'Host: api.openai.com' >"$T/out"
check "LLMROUTE_DISABLE=1: untouched" last_req "d['model'] == 'gpt-4o'"
LLMROUTE_TABLE=/lrtest-none-$$ shim $C "$MOCK/v1/chat/completions" -d '{"model":"gpt-4o"}' >"$T/out"
check "no table: passes through" last_req "d['model'] == 'gpt-4o'"

# trust: a table anyone may write is ignored, and said once
chmod 666 "/dev/shm$LLMROUTE_TABLE"
shim $C "$MOCK/v1/chat/completions" -H 'Host: api.openai.com' -d '{"model":"gpt-4o"}' -o /dev/null 2>"$T/err"
check "table mode 0666: ignored" last_req "d['model'] == 'gpt-4o'"
check "table mode 0666: the reason is logged" grep -q "writable by group or others" "$T/err"
chmod 644 "/dev/shm$LLMROUTE_TABLE"
if [ "$(id -u)" -eq 0 ]; then
	chown 12345 "/dev/shm$LLMROUTE_TABLE"
	shim $C "$OAI" -d '{"model":"gpt-4o"}' -o /dev/null 2>"$T/err"
	check "table owned by another uid: ignored, said why" grep -q "owned by another user" "$T/err"
	chown 0 "/dev/shm$LLMROUTE_TABLE"
fi

# a segment of another layout version: ignored, said once
"$PY" - "/dev/shm$LLMROUTE_TABLE" <<'PYEOF'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(8)
    f.write(struct.pack("<I", 99))
PYEOF
shim $C "$MOCK/v1/chat/completions" "$MOCK/v1/chat/completions" -H 'Host: api.openai.com' \
	-d '{"model":"gpt-4o"}' -o /dev/null -o /dev/null 2>"$T/err"
check "unknown layout version: ignored" last_req "d['model'] == 'gpt-4o'"
check "unknown layout version: ignored for the second request too" last_req "d['model'] == 'gpt-4o'" 2
check "unknown layout version: said once for two requests" test "$(grep -c 'unknown magic, layout version' "$T/err")" -eq 1

# programs with no libcurl, bound eagerly
check "LD_BIND_NOW=1 /bin/true" env LD_BIND_NOW=1 LD_PRELOAD="$LIB" /bin/true
check "LD_BIND_NOW=1 sh -c" sh -c "LD_BIND_NOW=1 LD_PRELOAD='$LIB' sh -c 'echo hi' | grep -qx hi"
check "the shim does not load libcurl into programs without it" sh -c \
	"LD_PRELOAD='$LIB' cat /proc/self/maps | grep -vq libcurl && ! LD_PRELOAD='$LIB' cat /proc/self/maps | grep -q libcurl"
check "nothing on stdout from the shim" sh -c "LLMROUTE_LOG=debug LD_PRELOAD='$LIB' true | wc -c | grep -qx 0"
