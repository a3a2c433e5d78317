# t_edge.sh - libcurl corner cases a review found, each a small C program
# (tests/progs/edge_*.c) run under the shim and checked at the upstream:
# handles libcurl frees itself, duphandle after a route, an upload after
# POSTFIELDS, credential order, COPYPOSTFIELDS sizes, CURLOPT_CURLU, a
# read-callback POST sized by POSTFIELDSIZE.
. "$(dirname "$0")/lib.sh"
lr_setup edge
start_mock
B=$BUILD/tests
# "ep" moves localhost to 127.0.0.1 (a new host: credentials follow the
# rule); "mini" rewrites the model on 127.0.0.1 itself.
load_rules '{"routes": [
 {"name": "ep", "match": {"host": "localhost"}, "set": {"endpoint": "'"$MOCK"'/v1", "api_key_env": "ROUTE_KEY"}},
 {"name": "mini", "match": {"model": "gpt-4o", "host": "127.0.0.1"}, "set": {"model": "gpt-4o-mini"}}]}'
export LLMROUTE_AUDIT="$T/audit.jsonl" # the write callback in front, as in production

shim "$B/edge_doh_reuse" "$MOCK_PORT" >"$T/out" 2>&1
check "a handle libcurl freed itself leaves nothing to the next one" grep -q survived "$T/out"

shim "$B/edge_dup_after_route" "$MOCK_PORT" >"$T/out" 2>&1
check "duphandle after a route: the copy works and writes to its own WRITEDATA" \
	grep -Eq 'dup: rc=0, bytes to dup.s WRITEDATA: [1-9]' "$T/out"
check "duphandle after a route: the copy carries the app's credentials again" \
	last_req "d['path'] == '/v1/models' and d['headers'].get('authorization') == 'Basic YWxpY2U6c2VjcmV0'"

shim "$B/edge_readpost_size" "$MOCK_PORT" >"$T/out" 2>&1
check "read-callback POST sized by POSTFIELDSIZE, body rewritten: the new length goes out, twice" \
	sh -c "grep -qx '1 rc=0 code=200' '$T/out' && grep -qx '2 rc=0 code=200' '$T/out'"
check "read-callback POST: the upstream got the whole routed body" \
	last_req "json.loads(d['raw'])['model'] == 'gpt-4o-mini' and json.loads(d['raw'])['messages'][0]['content'] == 'hi'"

shim "$B/edge_stale_postfields" "$MOCK_PORT" >"$T/out" 2>&1
check "upload after POSTFIELDS: the upload is what goes out" \
	last_req "d['method'] == 'PUT' and b'SECOND' in d['raw'] and b'FIRST' not in d['raw']"
check "upload after POSTFIELDS: and it is routed" last_req "d['model'] == 'gpt-4o-mini'"
shim "$B/edge_stale_postfields" "$MOCK_PORT" free >"$T/out" 2>&1
check "upload after freeing the old POSTFIELDS buffer: no crash" grep -q "second transfer rc=0" "$T/out"

ROUTE_KEY=sk-route shim "$B/edge_creds_order" "$MOCK_PORT" >"$T/out" 2>&1
check "credentials: the routed request carries the route's key only" \
	last_req "d['path'] == '/v1/chat/completions' and d['headers'].get('authorization') == 'Bearer sk-route'" 2
check "credentials: afterwards the handle holds alice:secret as libcurl had it" \
	last_req "d['path'] == '/echo' and d['headers'].get('authorization') == 'Basic YWxpY2U6c2VjcmV0'"

shim "$B/edge_copypostfields_size" "$MOCK_PORT" >"$T/out" 2>&1
check "COPYPOSTFIELDS then a larger POSTFIELDSIZE: runs to the end" test $? -eq 0

n=$(mock_count)
ROUTE_KEY=ROUTE-SECRET shim "$B/edge_curlu" "$MOCK_PORT" >"$T/out" 2>&1
check "CURLOPT_CURLU: sent where libcurl says, with the app's own key" \
	last_req "d['path'] == '/partner/v1/chat/completions' and d['headers'].get('authorization') == 'Bearer APP-KEY'"
check "CURLOPT_CURLU: the route's key went nowhere" sh -c "! grep -q ROUTE-SECRET '$T/mock.log'"

# Found by a second review of the audit path (audit on, as above).
shim "$B/edge_default_stdout" "$MOCK_PORT" >"$T/out" 2>"$T/err"
check "no WRITEDATA (stdout): the next transfer on the handle still writes to stdout" sh -c \
	"grep -q 'rc1=0' '$T/err' && grep -q 'rc2=0' '$T/err' && grep -q 'mock reply' '$T/out'"
for mode in 1 2; do
	shim "$B/edge_callback_switch" "$MOCK_PORT" $mode >"$T/out" 2>"$T/err"
	check "callback switched mid-transfer (mode $mode): the app's own userdata, all bytes" sh -c \
		"! grep -q WRONG '$T/err' && grep -Eq 'rc=0 n=[1-9]' '$T/out'"
done
shim "$B/edge_header_in_body" "$MOCK_PORT" '{"model":"gpt-4o-mini","messages":[]}' "$T/hdr.out" >/dev/null
check "CURLOPT_HEADER: the app still gets headers and body" sh -c "head -n 1 '$T/hdr.out' | grep -q '^HTTP/1' && grep -q 'mock reply' '$T/hdr.out'"
check "CURLOPT_HEADER: tokens come from the body, not an estimate over the headers" "$PY" -c "
import json
r = [json.loads(l) for l in open('$T/audit.jsonl')][-1]
assert r['gen_ai.usage.output_tokens'] == 4 and not r['llmroute.tokens_estimated'], r
assert r['gen_ai.response.model'] == 'gpt-4o-mini', r"
