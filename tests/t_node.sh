# t_node.sh - Node.js with the `openai` npm package (installed from the npm
# registry by tools/deps.sh into tests/node), unchanged, under the shim:
# baseURL is an http:// host that does not exist and that a route
# redirects to the mock upstream.  Plain, streamed, and denied.
. "$(dirname "$0")/lib.sh"
lr_setup node
start_mock
A=$T/audit.jsonl
LLMROUTE_AUDIT=$A
export LLMROUTE_AUDIT
node_client() { shim node "$ROOT/tests/node/openai_client.mjs" "$@"; }

load_rules '{"routes": [
 {"name": "no-o1", "match": {"model": "o1-pro"}, "deny": "o1-pro is not allowed here"},
 {"name": "llm-test", "match": {"host": "api.llm.test"},
  "set": {"endpoint": "'"$MOCK"'/v1", "model": "small-1"}}]}'

node_client http://api.llm.test/v1 gpt-4o 3 >"$T/out" 2>"$T/err"
check "openai npm: 3 requests to a redirected host answered by the route's model" \
	test "$(grep -c '^200 small-1$' "$T/out")" -eq 3
check "openai npm: the upstream saw the routed model, its own Host, no app key" last_req \
	"d['model'] == 'small-1' and d['headers']['host'] == '127.0.0.1:$MOCK_PORT' and 'authorization' not in d['headers']"
check "openai npm: audited as socket traffic" audit_ok "$A" \
	"len(a) == 3 and all(x['llmroute.transport'] == 'socket' and x['llmroute.original_server'] == 'api.llm.test:80' and x['gen_ai.usage.output_tokens'] > 0 for x in a)"
node_client http://api.llm.test/v1 gpt-4o 1 stream >"$T/out" 2>"$T/err"
check "openai npm: streamed answer" grep -qx "200 small-1" "$T/out"
check "openai npm: stream usage audited" audit_ok "$A" "r['llmroute.stream'] and not r['llmroute.tokens_estimated']"
n0=$(mock_count)
node_client http://api.llm.test/v1 o1-pro 1 >"$T/out" 2>"$T/err"
check "openai npm: a deny surfaces as the SDK's 403 error with the route's message" \
	grep -qx "403 error llmroute: denied by route no-o1: o1-pro is not allowed here" "$T/out"
check "openai npm: denied request never reached the upstream" test "$(mock_count)" -eq "$n0"
