# t_sock.sh - programs that speak HTTP without libcurl, under the shim:
# Python's http.client and python3-requests over plain sockets and over
# TLS (OpenSSL through Python's ssl module), to an endpoint a route claims
# by host and to one reached through a redirected lookup and connect;
# requests split into many writes and pipelined; streaming; denies read as
# HTTP errors; unrelated socket traffic byte-identical; curl audited once.
. "$(dirname "$0")/lib.sh"
lr_setup sock
start_mock
A=$T/audit.jsonl
LLMROUTE_AUDIT=$A
export LLMROUTE_AUDIT
C=$ROOT/tests/clients/http_client.py
py() { shim "$PY" "$C" "$@"; }
URL=$MOCK/v1/chat/completions

# A throw-away certificate for a local TLS upstream that the clients trust.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
	-subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
"$PY" "$ROOT/tools/mock_upstream.py" --port-file "$T/tls.port" --log "$T/tls.log" \
	--tls-cert "$T/cert.pem" --tls-key "$T/key.pem" 2>"$T/tls.err" &
tls_pid=$!
i=0
while [ ! -s "$T/tls.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
TURL=https://127.0.0.1:$(cat "$T/tls.port")/v1/chat/completions
trap 'kill $tls_pid 2>/dev/null; lr_cleanup' EXIT

ROUTE_KEY=sk-route-key
export ROUTE_KEY
load_rules '{"routes": [
 {"name": "mini", "match": {"host": "127.0.0.1", "model": "gpt-4*"}, "set": {"model": "gpt-4o-mini"}},
 {"name": "keyed", "match": {"host": "127.0.0.1", "model": "claude-*"},
  "set": {"model": "keyed-model", "api_key_env": "ROUTE_KEY"}},
 {"name": "moved", "match": {"host": "127.0.0.1", "model": "move-me"},
  "set": {"model": "moved-model", "endpoint": "'"$MOCK"'/v1"}},
 {"name": "no-o1", "match": {"model": "o1-pro"}, "deny": "o1-pro is not allowed here"},
 {"name": "redir", "match": {"host": "api.llm.test"},
  "set": {"endpoint": "'"$MOCK"'/v1", "model": "small-1"}}]}'

# --- plain sockets, endpoint claimed by host ---------------------------------
py httpclient "$URL" gpt-4o 3 >"$T/out"
check "http.client: 3 keep-alive requests routed" test "$(grep -c '^200 gpt-4o-mini$' "$T/out")" -eq 3
check "http.client: the upstream saw the routed model" last_req "d['model'] == 'gpt-4o-mini'"
check "http.client: the app's key kept (same host)" last_req "d['headers'].get('authorization') == 'Bearer sk-app-key'"
check "http.client: Content-Length matches the rewritten body" last_req "int(d['headers']['content-length']) == len(d['raw'])"
check "http.client: 3 audit lines, transport socket, tokens, status" audit_ok "$A" \
	"len(a) == 3 and all(x['llmroute.transport'] == 'socket' and x['gen_ai.request.model'] == 'gpt-4o-mini' and x['llmroute.original_model'] == 'gpt-4o' and x['http.response.status_code'] == 200 and x['gen_ai.usage.input_tokens'] > 0 and not x['llmroute.tokens_estimated'] for x in a)"
py requests "$URL" gpt-4-turbo 2 >"$T/out"
check "requests: 2 requests on one session routed" test "$(grep -c '^200 gpt-4o-mini$' "$T/out")" -eq 2
check "requests: audited" audit_ok "$A" "len(a) == 5 and r['llmroute.rule'] == 'mini'"
py httpclient "$URL" claude-3-opus >"$T/out"
check "api_key_env: the route's key replaces the app's" last_req \
	"d['model'] == 'keyed-model' and d['headers'].get('authorization') == 'Bearer sk-route-key'"
py httpclient "$URL" llama-3 >"$T/out"
check "no route: sent exactly as written" last_req "d['model'] == 'llama-3' and d['headers'].get('authorization') == 'Bearer sk-app-key'"
check "no route: audited as none" audit_ok "$A" "r['llmroute.action'] == 'none' and r['gen_ai.request.model'] == 'llama-3'"

# --- requests split into many writes, and pipelined ----------------------------
py split "$URL" gpt-4o >"$T/out"
check "split into 7-byte writes: routed" grep -qx "200 gpt-4o-mini" "$T/out"
check "split: body intact" last_req "json.loads(d['raw'])['messages'][0]['content'] == 'Define X'"
n0=$(mock_count)
py pipeline "$URL" gpt-4o >"$T/out"
check "pipelined: both answered in order, both routed" test "$(grep -c '^200 gpt-4o-mini$' "$T/out")" -eq 2
check "pipelined: two requests reached the upstream" test "$(mock_count)" -eq $((n0 + 2))
check "pipelined: both audited" audit_ok "$A" "[x['gen_ai.request.model'] for x in a[-2:]] == ['gpt-4o-mini'] * 2"

# --- streaming ------------------------------------------------------------------
py stream "$URL" gpt-4o >"$T/out"
check "SSE stream: answer read" grep -qx "200 stream True" "$T/out"
check "SSE stream: usage from the final chunk" audit_ok "$A" \
	"r['llmroute.stream'] and r['gen_ai.usage.output_tokens'] > 0 and not r['llmroute.tokens_estimated']"

# --- deny ------------------------------------------------------------------------
n0=$(mock_count)
py httpclient "$URL" o1-pro >"$T/out"
check "deny: http.client reads a 403 with the route's message" \
	grep -qx "403 error llmroute: denied by route no-o1: o1-pro is not allowed here" "$T/out"
py requests "$URL" o1-pro >"$T/out"
check "deny: requests reads it too" grep -q "^403 error llmroute: denied by route no-o1" "$T/out"
check "deny: nothing reached the upstream" test "$(mock_count)" -eq "$n0"
check "deny: audited" audit_ok "$A" "r['error.type'] == 'denied' and r['llmroute.transport'] == 'socket'"

# --- a forked child audits under its own pid ------------------------------------
cat >"$T/fork.py" <<PYEOF
import http.client, json, os
def ask():
    c = http.client.HTTPConnection("127.0.0.1", $MOCK_PORT)
    c.request("POST", "/v1/chat/completions", json.dumps({"model": "gpt-4o", "messages": []}), {"Content-Type": "application/json"})
    c.getresponse().read()
ask()
pid = os.fork()
if pid == 0:
    ask()
    print(os.getpid())
    os._exit(0)
os.waitpid(pid, 0)
PYEOF
child=$(shim "$PY" "$T/fork.py")
check "fork: the child's record carries the child's pid" audit_ok "$A" "r['process.pid'] == $child and a[-2]['process.pid'] != $child"

# A request the shim's own client served (a moved one), then fork: the
# client's thread, idle, must stop for the fork at once (it waits on a
# condition, not in libcurl; a fork that had to wait for it took 2 s).
cat >"$T/fork_served.py" <<PYEOF
import http.client, json, os, time
def ask():
    c = http.client.HTTPConnection("127.0.0.1", $MOCK_PORT)
    c.request("POST", "/v1/chat/completions", json.dumps({"model": "move-me", "messages": []}), {"Content-Type": "application/json"})
    r = c.getresponse()
    return json.loads(r.read())["model"]
first = ask()
time.sleep(0.1)
t = time.monotonic()
pid = os.fork()
if pid == 0:
    os._exit(0 if ask() == "moved-model" else 1)
took = time.monotonic() - t
_, st = os.waitpid(pid, 0)
print(first, "%.3f" % took, os.WEXITSTATUS(st))
PYEOF
out=$(shim "$PY" "$T/fork_served.py")
check "fork after a served request: the child is served too ($out)" test "$(echo "$out" | cut -d' ' -f1,3)" = "moved-model 0"
check "fork after a served request: fork returns at once, not after the client's 2 s park limit ($out)" \
	awk -v t="$(echo "$out" | cut -d' ' -f2)" 'BEGIN { exit !(t < 1.0) }'

# --- redirected lookup and connect ------------------------------------------------
py httpclient http://api.llm.test/v1/chat/completions gpt-4o 2 >"$T/out"
check "redirect: http.client to a host that does not exist reaches the route's endpoint" \
	test "$(grep -c '^200 small-1$' "$T/out")" -eq 2
check "redirect: Host is the endpoint's, the app's key dropped" last_req \
	"d['headers']['host'] == '127.0.0.1:$MOCK_PORT' and 'authorization' not in d['headers'] and d['model'] == 'small-1'"
py requests http://api.llm.test/v1/chat/completions gpt-4o 1 >"$T/out"
check "redirect: requests too" grep -qx "200 small-1" "$T/out"
check "redirect: audited with the original server" audit_ok "$A" \
	"r['llmroute.original_server'] == 'api.llm.test:80' and r['server.port'] == $MOCK_PORT and r['llmroute.rule'] == 'redir'"
check "redirect: lookups of other hosts untouched" "$PY" -c "
import socket, sys
sys.exit(socket.getaddrinfo('localhost', 80)[0][4][0] not in ('127.0.0.1', '::1'))"
check "redirect: the claimed host resolves to a placeholder under the shim" shim "$PY" -c "
import socket, sys
sys.exit(not socket.gethostbyname('api.llm.test').startswith('240.77.'))"

printf '{"model":"gpt-4o","messages":[]}' >"$T/body.json"
expect 0 "route redir's endpoint $MOCK/v1" "$CTL" explain --url http://api.llm.test/v1/chat/completions --body "$T/body.json"
expect 0 "tls (system OpenSSL): *applied: sent by the shim's own client" "$CTL" explain --url https://api.llm.test/v1/chat/completions --body "$T/body.json"
LLMROUTE_OWN_CLIENT=off expect 0 "tls (system OpenSSL): *not applied (tls_cannot_move_host)" "$CTL" explain --url https://api.llm.test/v1/chat/completions --body "$T/body.json"

# --- TLS through OpenSSL -----------------------------------------------------------
py httpclient "$TURL" gpt-4o 2 "$T/cert.pem" >"$T/out"
check "TLS http.client: routed" test "$(grep -c '^200 gpt-4o-mini$' "$T/out")" -eq 2
check "TLS: the upstream saw the routed model" sh -c "tail -1 '$T/tls.log' | grep -q '\"model\": \"gpt-4o-mini\"'"
check "TLS: audited as tls with usage" audit_ok "$A" \
	"r['llmroute.transport'] == 'tls' and r['gen_ai.request.model'] == 'gpt-4o-mini' and r['gen_ai.usage.input_tokens'] > 0"
py requests "$TURL" gpt-4o 1 "$T/cert.pem" >"$T/out"
check "TLS requests: routed" grep -qx "200 gpt-4o-mini" "$T/out"
py stream "$TURL" gpt-4o 1 "$T/cert.pem" >"$T/out"
check "TLS stream: usage from the stream" audit_ok "$A" "r['llmroute.transport'] == 'tls' and r['llmroute.stream'] and not r['llmroute.tokens_estimated']"
py httpclient "$TURL" o1-pro 1 "$T/cert.pem" >"$T/out"
check "TLS deny: read as a 403" grep -q "^403 error llmroute: denied by route no-o1" "$T/out"
# a move to another host (here: another port, plain http) the TLS session
# cannot carry: the shim's own client sends it, the app reads the answer
# through its session (t_https does this against real host names)
py httpclient "$TURL" move-me 2 "$T/cert.pem" >"$T/out"
check "TLS: a route that moves the endpoint is carried by the shim's client, twice on one connection" \
	test "$(grep -c '^200 moved-model$' "$T/out")" -eq 2
check "TLS: the moved endpoint got the routed model" last_req "d['model'] == 'moved-model'"
check "TLS: the TLS server got nothing of it" sh -c "! grep -q 'move-me\\|moved-model' '$T/tls.log'"
# an HTTP/1.0 client reads to the end of the connection: a plain body, then EOF
py http10 "$TURL" move-me 1 "$T/cert.pem" >"$T/out"
check "TLS: an HTTP/1.0 request carried by the shim's client is answered unchunked, then the end" \
	sh -c "grep -qx '200 moved-model' '$T/out' && grep -qx 'not-chunked' '$T/out'"
# the connection is the shim's from then on: a request the app makes next on
# it, not an LLM one, goes where the app sent it (the address it connected
# to), with its own key, through the shim's client: the TLS mock answers
# (its request list has no moved request; the moved endpoint's would)
py then-get "$TURL" move-me 1 "$T/cert.pem" >"$T/out"
check "TLS: on a served connection, the next (non-LLM) request reaches the app's own server" \
	sh -c "grep -qx '200 moved-model' '$T/out' && grep -qx 'get 200 app-host' '$T/out'"
check "TLS: and the audit says applied, with the real server" audit_ok "$A" \
	"r['llmroute.rule'] == 'moved' and r['llmroute.applied'] is True and r['llmroute.transport'] == 'tls' and r['gen_ai.request.model'] == 'moved-model' and r['http.response.status_code'] == 200 and r['gen_ai.usage.input_tokens'] > 0"

# --- unrelated traffic --------------------------------------------------------------
"$PY" "$ROOT/tests/clients/echo_client.py" >"$T/echo.plain"
shim "$PY" "$ROOT/tests/clients/echo_client.py" >"$T/echo.shim"
check "echo traffic byte-identical with and without the shim (10 cases)" \
	sh -c "[ \$(wc -l <'$T/echo.plain') -eq 10 ] && cmp -s '$T/echo.plain' '$T/echo.shim'"

# --- corner cases, against raw recording servers (tests/clients/sink.py) ------------
start_sink() { # NAME ARGS...: sets SINK_PORT
	name=$1
	shift
	"$PY" "$ROOT/tests/clients/sink.py" "$T/$name.port" "$T/$name.log" "$@" 2>/dev/null &
	echo $! >>"$T/sinks"
	i=0
	while [ ! -s "$T/$name.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	SINK_PORT=$(cat "$T/$name.port")
}
trap 'kill $tls_pid $(cat "$T/sinks" 2>/dev/null) 2>/dev/null; lr_cleanup' EXIT
start_sink sink --answer
SINK=$SINK_PORT
start_sink slow --answer --slow 1
SLOW=$SINK_PORT
# sink_has NAME EXPR: EXPR over the connections' bytes (c: list of bytes)
sink_has() {
	sleep 0.3
	"$PY" - "$T/$1.log" "$2" <<'PYEOF'
import json, os, sys, time
# the sink may still be receiving or writing a big record (a loaded
# machine): judge once every line is whole and the log has stopped
# growing for 0.3 s, at most 15 s from now
last, steady, c = -1, 0, None
for i in range(150):
    size = os.path.getsize(sys.argv[1]) if os.path.exists(sys.argv[1]) else 0
    steady = steady + 1 if size == last else 0
    last = size
    try:
        c = [bytes.fromhex(json.loads(l)["bytes"]) for l in open(sys.argv[1])]
    except (ValueError, OSError):
        c = None
    if c is not None and steady >= 3:
        break
    time.sleep(0.1)
if c is None:
    sys.stderr.write("  the sink's log never became whole\n")
    sys.exit(1)
ok = eval(sys.argv[2], {"c": c})
if not ok:
    sys.stderr.write("  sink got: %r\n" % [x[:300] for x in c])
sys.exit(0 if ok else 1)
PYEOF
}
load_rules '{"routes": [
 {"name": "mini", "match": {"host": "127.0.0.1", "model": "gpt-4*"}, "set": {"model": "gpt-4o-mini"}},
 {"name": "no-o1", "match": {"model": "o1-pro"}, "deny": "o1-pro is not allowed here"},
 {"name": "to-sink", "match": {"host": "sink.llm.test"}, "set": {"endpoint": "http://127.0.0.1:'"$SINK"'/v1"}}]}'
edge() { shim "$PY" "$ROOT/tests/clients/sock_edge.py" "$@" 2>&1; }

edge smtp 127.0.0.1 "$SINK" >/dev/null
check "a line protocol that looks like HTTP goes out once, unchanged" \
	sink_has sink "c[-1] == b'EHLO client.example.com\\r\\nQUIT\\r\\n'"
: >"$T/sink.log"
for c in "longurl 413 target over 8 KB" "malformed 502 unparseable head" \
	"expect 417 Expect: 100-continue" "bigcl 413 Content-Length over 64 MiB"; do
	set -- $c
	edge "$1" sink.llm.test 80 >"$T/out"
	shift
	code=$1
	shift
	check "redirected, $*: refused $code" grep -q "answer HTTP/1.1 $code" "$T/out"
done
edge closemid sink.llm.test 80 >/dev/null
edge sendfile sink.llm.test 80 >/dev/null
edge dup sink.llm.test 80 >"$T/out.dup"
edge sendto sink.llm.test 80 >"$T/out.sendto"
check "redirected fallbacks (long URL, bad head, Expect, big body, close, sendfile, dup, sendto): the app's key never reached the endpoint" \
	sink_has sink "not any(b'sk-APP-SECRET' in x for x in c)"
check "redirected: a request written through dup() or sendto() is routed like any other" sh -c \
	"grep -q 'answer HTTP/1.1 200' '$T/out.dup' && grep -q 'answer HTTP/1.1 200' '$T/out.sendto'"
# first bytes the framer does not take for HTTP/1, each followed by the key
: >"$T/sink.log"
for c in h2 lonecr tab longmethod garbage; do
	edge $c sink.llm.test 80 >"$T/out"
	check "redirected, not HTTP/1 ($c) first: the app reads a 502" grep -q "answer HTTP/1.1 502" "$T/out"
done
edge tls sink.llm.test 80 >"$T/out"
check "redirected, a TLS client on the plain connection: its handshake fails" grep -q "tls error" "$T/out"
check "redirected, not HTTP/1 first (h2, lone CR, tab, long method, binary, TLS): not a byte reached the endpoint" \
	sink_has sink "len(c) == 6 and not any(c)"
edge nonblock 127.0.0.1 "$SLOW" >"$T/out"
check "non-blocking 12 MB LLM request to a slow reader: EAGAIN reached the app, answer read" \
	sh -c "grep -q 'eagain True' '$T/out' && grep -q 'answer HTTP/1.1 200' '$T/out'"
check "non-blocking: the request arrived whole, routed, its Content-Length right" sink_has slow "(
len(c) == 1 and b'\"model\":\"gpt-4o-mini\"' in c[0] and
int(c[0].split(b'Content-Length: ')[1].split(b'\\r\\n')[0]) == len(c[0].split(b'\\r\\n\\r\\n', 1)[1]))"
# a head over the framer's cap, non-blocking, small send buffer, slow reader
: >"$T/slow.log"
edge bighead 127.0.0.1 "$SLOW" >"$T/out"
check "a 70 KB head on a non-blocking socket arrives byte-exact, once" sink_has slow \
	"c[-1] == b'GET /x HTTP/1.1\\r\\nHost: a\\r\\nX-Big: ' + b'A' * 70000 + b'\\r\\n\\r\\nGET /y HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n'"
"$PY" -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 0)); s.listen(4)
open("'"$T"'/echo.port", "w").write(str(s.getsockname()[1]))
def h(c):
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=h, args=(c,), daemon=True).start()
' &
echo $! >>"$T/sinks"
i=0
while [ ! -s "$T/echo.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
edge duplex 127.0.0.1 "$(cat "$T/echo.port")" >"$T/out"
check "a writer and a reader on one socket: no deadlock, every byte echoed" grep -qx "echoed True" "$T/out"
edge closer 127.0.0.1 0 >"$T/out"
check "dup2 over a socket whose writer is blocked returns at once" grep -qx "dup2 took 0.0 s" "$T/out"
shim "$BUILD/tests/fortify_read" "$SINK" o1-pro >"$T/out"
check "a _FORTIFY_SOURCE reader (__read_chk) reads the 403 of a deny" grep -qx 'HTTP/1.1 403 Forbidden' "$T/out"

# --- curl: its own hooks, not the socket layer ---------------------------------------
# (not in sanitized runs: an ASan runtime preloaded into Debian's curl hangs it)
if [ -z "${SANITIZE:-}" ]; then
	n0=$(wc -l <"$A")
	shim curl -sS --max-time 10 "$URL" -H 'Content-Type: application/json' \
		-d '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}' >"$T/out"
	shim curl -sS --max-time 10 --cacert "$T/cert.pem" "$TURL" -H 'Content-Type: application/json' \
		-d '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}' >>"$T/out"
	check "curl over http and https: each request audited once, as curl" audit_ok "$A" \
		"len(a) == $n0 + 2 and [x['llmroute.transport'] for x in a[-2:]] == ['curl', 'curl']"
	: >"$T/sink.log"
	shim curl -sS --max-time 10 http://sink.llm.test/v1/models -H 'Authorization: Bearer sk-APP-SECRET' >"$T/out"
	check "curl to a claimed host, not an LLM call: real lookup (no placeholder), fails as without the shim" \
		sh -c "! grep -q ok '$T/out' && ! grep -q sk-APP-SECRET '$T/sink.log'"
fi
