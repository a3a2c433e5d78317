# t_php.sh - PHP with Debian's php-curl (loaded RTLD_DEEPBIND) under the
# shim: curl_exec and curl_multi_exec are routed and denied like any other.
# needs: unsanitized (the sanitizer runtime refuses RTLD_DEEPBIND)
. "$(dirname "$0")/lib.sh"
lr_setup php
start_mock
OAI=https://api.openai.com/v1/chat/completions

load_rules '{"targets": {"big": {"model": "gpt-big", "endpoint": "'"$MOCK"'/v1"}}, "routes": [
 {"name": "fb", "match": {"model": "php-fb"}, "set": {"model": "gpt-cheap", "endpoint": "'"$MOCK"'/v1"},
  "fallbacks": ["big"], "retries": 0},
 {"name": "mini", "match": {"model": "gpt-4*"}, "set": {"model": "gpt-4o-mini", "endpoint": "'"$MOCK"'/v1"}},
 {"name": "no-o1-pro", "match": {"model": "o1-pro"}, "deny": "o1-pro is not allowed here"}]}'

shim php "$ROOT/tests/clients/php_client.php" "$OAI" gpt-4o o1-pro gpt-4-turbo >"$T/out" 2>"$T/err"
check "curl_exec: routed" grep -qx "exec gpt-4o-mini" "$T/out"
check "curl_multi_exec: routed" sh -c "grep -qx 'multi gpt-4o gpt-4o-mini' '$T/out' && grep -qx 'multi gpt-4-turbo gpt-4o-mini' '$T/out'"
check "curl_multi_exec: denied with the route's message" grep -q "multi o1-pro error 9 llmroute: denied by route no-o1-pro" "$T/out"
check "three requests reached the mock, none with the app's key" "$PY" -c "
import json; r=[json.loads(l) for l in open('$T/mock.log')]
assert len(r) == 3 and all(x['model'] == 'gpt-4o-mini' and 'authorization' not in x['headers'] for x in r)"
shim php "$ROOT/tests/clients/php_client.php" "$OAI" o1-pro >"$T/out" 2>"$T/err"
check "curl_exec: denied" grep -qx "exec error 9 llmroute: denied by route no-o1-pro: o1-pro is not allowed here" "$T/out"

# A fallback through curl_exec: the cheap model answers 500, the app gets
# the fallback's answer (curl_multi_exec: t_multi_resil).
curl -sS -o /dev/null -X POST "$MOCK/_mock/fault" -d '{"match":"model=gpt-cheap","fault":"500","count":1}'
shim php "$ROOT/tests/clients/php_client.php" "$OAI" php-fb >"$T/out" 2>"$T/err"
check "curl_exec: a 500 falls back, the app gets the fallback's answer" grep -qx "exec gpt-big" "$T/out"
check "curl_exec: the mock saw the failed attempt, then the fallback" "$PY" -c "
import json; r=[json.loads(l)['model'] for l in open('$T/mock.log')][-3:]
assert r == ['gpt-cheap', 'gpt-big', 'gpt-cheap'], r"
