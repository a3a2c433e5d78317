# t_keys.sh - a key never reaches a host the app did not address, with real
# clients: a route's key and a redirect from its endpoint (curl -L, pycurl
# with FOLLOWLOCATION), CURLOPT_PORT and CURLOPT_CONNECT_TO under a route
# (tests/progs/edge_port.c), and credentials in the query string (curl,
# pycurl, Python's http.client through a redirected connection).  The
# socket transport's refusal of bytes that are not HTTP/1 on a redirected
# connection is in t_sock.sh.
. "$(dirname "$0")/lib.sh"
lr_setup keys
# a second upstream: the host a redirect (or the app's PORT) points at,
# which must never see a key
"$PY" "$ROOT/tools/mock_upstream.py" --port-file "$T/other.port" --log "$T/other.log" 2>"$T/other.err" &
other_pid=$!
trap 'kill $other_pid 2>/dev/null; lr_cleanup' EXIT
i=0
while [ ! -s "$T/other.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
OTHER=$(cat "$T/other.port")
: >"$T/other.log"
# the endpoint answers every Anthropic call with a 307 to the other host
start_mock --fault "path=/v1/messages:redirect=$OTHER"
ROUTE_KEY=sk-ROUTE-SECRET
export ROUTE_KEY
# "ep" moves localhost to the mock with the route's key; "same" puts the
# route's key on the mock's own host; "claim" redirects connections to
# api.keys.test (socket transport) to the mock, dropping the app's key.
load_rules '{"routes": [
 {"name": "ep", "match": {"host": "localhost"}, "set": {"endpoint": "'"$MOCK"'/v1", "api_key_env": "ROUTE_KEY"}},
 {"name": "portsame", "match": {"host": "127.0.0.1", "model": "*-portkey"}, "set": {"endpoint": "'"$MOCK"'/v1"}},
 {"name": "same", "match": {"host": "127.0.0.1", "model": "*-keyed"}, "set": {"api_key_env": "ROUTE_KEY"}},
 {"name": "claim", "match": {"host": "api.keys.test"}, "set": {"endpoint": "'"$MOCK"'/v1"}}]}'
routed_to_mock() { # N0: the mock logged a request since, with the route's key
	grep -qx 'routed rc=0 code=200' "$T/out" && [ "$(mock_count)" -gt "$1" ] && last_req \
		"d['path'] == '/v1/chat/completions' and d['headers'].get('authorization') == 'Bearer sk-ROUTE-SECRET'"
}
no_key_at_other() { ! grep -q 'ROUTE-SECRET\|APP-SECRET' "$T/other.log"; }
ANTH='{"model":"claude-3","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'

# --- a redirect from the endpoint ----------------------------------------------
if [ -z "${SANITIZE:-}" ]; then # an ASan runtime preloaded into Debian's curl hangs it
	code=$(shim curl -sS -L --max-time 10 -o "$T/body" -w '%{http_code}' http://localhost:9/v1/messages \
		-H 'x-api-key: sk-APP-SECRET' -H 'Content-Type: application/json' -d "$ANTH")
	check "curl -L, route's key in x-api-key, endpoint answers 307: the app gets the 307" test "$code" = 307
	check "curl -L: the endpoint got the route's key" last_req "d['path'] == '/v1/messages' and d['headers'].get('x-api-key') == 'sk-ROUTE-SECRET'"
	check "curl -L: the host in Location got no request and no key" sh -c "[ ! -s '$T/other.log' ]"
	code=$(shim curl -sS -L --max-time 10 -o "$T/body" -w '%{http_code}' "$MOCK/v1/messages" \
		-H 'x-api-key: sk-APP-SECRET' -H 'Content-Type: application/json' \
		-d '{"model":"claude-keyed","max_tokens":5,"messages":[]}')
	check "curl -L, route's key on the app's own host, 307 to another port: not followed" test "$code" = 307
	check "curl -L, same host: the other port got nothing" sh -c "[ ! -s '$T/other.log' ]"
	code=$(shim curl -sS -L --max-time 10 -o "$T/body" -w '%{http_code}' "$MOCK/v1/messages" \
		-H 'x-api-key: sk-APP-SECRET' -H 'Content-Type: application/json' \
		-d '{"model":"claude-3","max_tokens":5,"messages":[]}')
	check "curl -L, no route: the app's own redirect is followed as before" sh -c \
		"[ '$code' = 200 ] && grep -q '/v1/messages' '$T/other.log'"
	: >"$T/other.log"
fi
cat >"$T/pyc.py" <<'PYEOF'
import io, sys, pycurl
c = pycurl.Curl()
out = io.BytesIO()
c.setopt(pycurl.URL, sys.argv[1])
c.setopt(pycurl.HTTPHEADER, ["x-api-key: sk-APP-SECRET", "Content-Type: application/json"])
c.setopt(pycurl.POSTFIELDS, sys.argv[2])
c.setopt(pycurl.FOLLOWLOCATION, 1)
c.setopt(pycurl.UNRESTRICTED_AUTH, 1)
c.setopt(pycurl.WRITEDATA, out)
c.setopt(pycurl.TIMEOUT, 10)
c.perform()
print(c.getinfo(pycurl.RESPONSE_CODE))
PYEOF
shim "$PY" "$T/pyc.py" http://localhost:9/v1/messages "$ANTH" >"$T/out" 2>&1
check "pycurl FOLLOWLOCATION + UNRESTRICTED_AUTH, route's key, 307 from the endpoint: the app gets the 307" grep -qx 307 "$T/out"
check "pycurl: the host in Location got nothing" sh -c "[ ! -s '$T/other.log' ]"

# --- CURLOPT_PORT and CURLOPT_CONNECT_TO --------------------------------------------
for mode in port connect_to; do
	: >"$T/other.log"
	n0=$(mock_count)
	shim "$BUILD/tests/edge_port" "$MOCK_PORT" "$OTHER" $mode >"$T/out" 2>&1
	check "$mode: the routed request went to the endpoint with the route's key" routed_to_mock "$n0"
	check "$mode: not to the app's port" no_key_at_other
	check "$mode: the next, unrouted transfer goes where the app's option says" sh -c \
		"grep -qx 'after rc=0 code=200' '$T/out' && grep -q '\"/echo\"' '$T/other.log'"
done

# CURLOPT_PORT names the origin the app addressed: the URL's port equals the
# endpoint's, but the app's key was meant for its PORT, so it must not go.
: >"$T/other.log"
n0=$(mock_count)
shim "$BUILD/tests/edge_port" "$MOCK_PORT" "$OTHER" port_same >"$T/out" 2>&1
check "CURLOPT_PORT elsewhere: the routed request reached the endpoint" sh -c "[ \$(wc -l <'$T/mock.log') -gt $n0 ]"
check "CURLOPT_PORT elsewhere: the app's key did not go to the endpoint" \
	last_req "'authorization' not in d['headers'] and 'APP-PORTKEY' not in str(d)"
check "CURLOPT_PORT elsewhere: nothing at the app's port" no_key_at_other

# --- credentials in the query string ------------------------------------------------
Q='api_key=APP-SECRET-1&x=1&%6Bey=APP-SECRET-2&Access_Token=APP-SECRET-3&sig=APP-SECRET-4&user=u'
if [ -z "${SANITIZE:-}" ]; then
	shim curl -sS --max-time 10 -o /dev/null "http://localhost:9/v1/chat/completions?$Q" \
		-H 'Content-Type: application/json' -d '{"model":"gpt-4o","messages":[]}'
	check "curl to a new host: credential query parameters dropped, others kept" \
		last_req "d['query'] == 'x=1&user=u' and d['headers'].get('authorization') == 'Bearer sk-ROUTE-SECRET'"
	shim curl -sS --max-time 10 -o /dev/null \
		"$MOCK/v1beta/models/gemini-1.5-keyed:generateContent?alt=json&key=APP-SECRET-5&KEY=APP-SECRET-6" \
		-H 'Content-Type: application/json' -d '{"contents":[]}'
	check "curl, the route's key on the same host: the app's key= parameters go, the route's key in the header" \
		last_req "d['query'] == 'alt=json' and d['headers'].get('x-goog-api-key') == 'sk-ROUTE-SECRET'"
fi
cat >"$T/hc.py" <<'PYEOF'
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10)
c.request("POST", sys.argv[3], sys.argv[4], {"Content-Type": "application/json", "Authorization": "Bearer sk-APP-SECRET"})
r = c.getresponse()
r.read()
print(r.status)
PYEOF
shim "$PY" "$T/hc.py" api.keys.test 80 "/v1/chat/completions?$Q" '{"model":"gpt-4o","messages":[]}' >"$T/out" 2>&1
check "http.client, redirected connection: answered" grep -qx 200 "$T/out"
check "http.client, redirected connection: credential query parameters and the app's key dropped" \
	last_req "d['query'] == 'x=1&user=u' and 'authorization' not in d['headers']"
shim "$PY" "$T/hc.py" 127.0.0.1 "$MOCK_PORT" "/v1beta/models/gemini-1.5-keyed:generateContent?key=APP-SECRET-5&alt=json" \
	'{"contents":[]}' >"$T/out" 2>&1
check "http.client, the route's key on the same host: key= replaced by the route's header" \
	last_req "d['query'] == 'alt=json' and d['headers'].get('x-goog-api-key') == 'sk-ROUTE-SECRET'"
check "no app secret from the query reached any upstream" sh -c "! grep -q 'APP-SECRET-[0-9]' '$T/mock.log' '$T/other.log'"
