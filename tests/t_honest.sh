# t_honest.sh - a route that is decided but not applied is never reported
# as applied, on every transport: the audit says so (llmroute.applied
# false, llmroute.not_applied: why), the request goes out as the app made
# it, the log says so once per process and route at the default level,
# `stats` and `audit --by rule` keep it apart from the route's routed
# requests, and `explain` says per transport what will happen.  Also: a
# model-only route applies on every transport, and LLMROUTE_LOG=info logs
# one line per routed request on libcurl (easy and multi), socket and TLS.
. "$(dirname "$0")/lib.sh"
lr_setup honest
start_mock
A=$T/audit.jsonl
LLMROUTE_AUDIT=$A
export LLMROUTE_AUDIT
C=$ROOT/tests/clients/http_client.py
URL=$MOCK/v1/chat/completions
# A host move on a socket or TLS connection is carried by the shim's own
# client (t_https, t_sock); here the client is off, as an administrator may
# set it, so that every transport's "not applied" path is the one tested.
LLMROUTE_OWN_CLIENT=off
export LLMROUTE_OWN_CLIENT

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
	-subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
"$PY" "$ROOT/tools/mock_upstream.py" --port-file "$T/tls.port" --log "$T/tls.log" \
	--tls-cert "$T/cert.pem" --tls-key "$T/key.pem" 2>"$T/tls.err" &
tls_pid=$!
i=0
while [ ! -s "$T/tls.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
TPORT=$(cat "$T/tls.port")
TURL=https://127.0.0.1:$TPORT/v1/chat/completions
trap 'kill $tls_pid 2>/dev/null; lr_cleanup' EXIT

# "moved" changes the host; "mini" only the model; "raw" sets a model in
# bodies from curl (a body that is not JSON cannot be rewritten).
load_rules '{"routes": [
 {"name": "moved", "match": {"host": "127.0.0.1", "model": "move-me"},
  "set": {"model": "moved-model", "endpoint": "http://127.0.0.2:9/v1"}},
 {"name": "mini", "match": {"host": "127.0.0.1", "model": "gpt-4o"}, "set": {"model": "gpt-4o-mini"}},
 {"name": "raw", "match": {"host": "127.0.0.1", "process": "curl"}, "set": {"model": "raw-model"}},
 {"name": "redir", "match": {"host": "api.honest.test"}, "set": {"endpoint": "'"$MOCK"'/v1", "model": "small-1"}}]}'

# notapplied_ok TRANSPORT REASON N: the last N records are that route's
# requests, not applied, sent as the app made them.
notapplied_ok() {
	audit_ok "$A" "len(a) >= $3 and all(x['llmroute.transport'] == '$1' and x['llmroute.applied'] is False and x['llmroute.not_applied'] == '$2' and x['llmroute.action'] == 'route' for x in a[-$3:])"
}
# once_ok ERRFILE ROUTE REASON: one line at the default level says so.
once_ok() {
	test "$(grep -c "error: route $2 not applied ($3" "$1")" -eq 1
}

# --- TLS: a host move is not applied ----------------------------------------------
shim "$PY" "$C" httpclient "$TURL" move-me 2 "$T/cert.pem" >"$T/out" 2>"$T/err"
check "tls host move: the app's request went out as it made it, twice" sh -c \
	"[ \$(grep -c '^200 move-me\$' '$T/out') -eq 2 ] && tail -1 '$T/tls.log' | grep -q '\"model\": \"move-me\"'"
check "tls host move: audit applied false, tls_cannot_move_host" notapplied_ok tls tls_cannot_move_host 2
check "tls host move: audit names the route, the model and server that really went out" audit_ok "$A" \
	"r['llmroute.rule'] == 'moved' and r['gen_ai.request.model'] == 'move-me' and r['server.address'] == '127.0.0.1' and r['server.port'] == $TPORT"
check "tls host move: logged once at the default level for two requests" once_ok "$T/err" moved tls_cannot_move_host
check "tls host move: the log line says what to do" grep -q "use a libcurl client" "$T/err"

# --- plain socket, not redirected at connect: a host move is not applied ------------
n0=$(mock_count)
shim "$PY" "$C" httpclient "$URL" move-me 2 >"$T/out" 2>"$T/err"
check "socket host move: the app's server got both requests as the app made them" sh -c \
	"[ \$(grep -c '^200 move-me\$' '$T/out') -eq 2 ] && [ \$(wc -l <'$T/mock.log') -eq $((n0 + 2)) ]"
check "socket host move: no half-applied request (model, Host and key as the app sent them)" last_req \
	"d['model'] == 'move-me' and d['headers']['host'] == '127.0.0.1:$MOCK_PORT' and d['headers'].get('authorization') == 'Bearer sk-app-key'"
check "socket host move: audit applied false, socket_not_redirected" notapplied_ok socket socket_not_redirected 2
check "socket host move: audit server is the app's" audit_ok "$A" \
	"r['gen_ai.request.model'] == 'move-me' and r['server.port'] == $MOCK_PORT"
check "socket host move: logged once at the default level for two requests" once_ok "$T/err" moved socket_not_redirected

# --- a redirected connection: a body the route cannot rewrite still goes to the
# endpoint (never to the app's host), and the record says where it went
cat >"$T/raw.py" <<'PYEOF'
import http.client
c = http.client.HTTPConnection("api.honest.test", 80, timeout=10)
c.request("POST", "/v1/chat/completions", "not json", {"Content-Type": "application/json"})
print(c.getresponse().status)
PYEOF
shim "$PY" "$T/raw.py" >"$T/out" 2>"$T/err"
check "redirected, body not JSON: reached the endpoint" last_req "d['raw'] == b'not json'"
check "redirected, body not JSON: audit applied false, server the endpoint" audit_ok "$A" \
	"r['llmroute.rule'] == 'redir' and r['llmroute.applied'] is False and r['llmroute.not_applied'] == 'body_not_rewritable' and r['server.port'] == $MOCK_PORT"
check "redirected, body not JSON: logged once" once_ok "$T/err" redir body_not_rewritable

# --- model-only routes apply on every transport ----------------------------------
shim "$PY" "$C" httpclient "$URL" gpt-4o 1 >"$T/out" 2>"$T/err"
check "socket, model only: applied" sh -c "grep -qx '200 gpt-4o-mini' '$T/out'"
check "socket, model only: audit applied true" audit_ok "$A" "r['llmroute.applied'] is True and r['llmroute.not_applied'] is None"
shim "$PY" "$C" httpclient "$TURL" gpt-4o 1 "$T/cert.pem" >"$T/out" 2>"$T/err"
check "tls, model only: applied" sh -c "grep -qx '200 gpt-4o-mini' '$T/out'"
check "tls, model only: audit applied true" audit_ok "$A" "r['llmroute.applied'] is True and r['llmroute.transport'] == 'tls'"
check "no log line at the default level for applied routes" test ! -s "$T/err"
shim "$PY" "$C" httpclient "$URL" llama-3 1 >"$T/out" 2>&1
check "no route: audit applied null" audit_ok "$A" "r['llmroute.applied'] is None and r['llmroute.action'] == 'none'"

# --- libcurl: a body the route cannot rewrite --------------------------------------
if [ -z "${SANITIZE:-}" ]; then
	n0=$(mock_count)
	shim curl -sS --max-time 10 -o /dev/null -o /dev/null -d 'not json' "$URL" "$URL" 2>"$T/err"
	check "curl easy, body not JSON: both sent as the app made them" sh -c \
		"[ \$(wc -l <'$T/mock.log') -eq $((n0 + 2)) ]"
	check "curl easy, body not JSON: audit applied false, body_not_rewritable" notapplied_ok curl body_not_rewritable 2
	check "curl easy, body not JSON: logged once at the default level" once_ok "$T/err" raw body_not_rewritable
	shim curl -sS --max-time 10 --parallel --parallel-immediate -o /dev/null -o /dev/null \
		-d 'not json' "$URL" "$URL" 2>"$T/err"
	check "curl multi, body not JSON: audit applied false, body_not_rewritable" notapplied_ok curl body_not_rewritable 2
	check "curl multi, body not JSON: logged once at the default level" once_ok "$T/err" raw body_not_rewritable
fi

# --- counters and summaries keep them apart ----------------------------------------
"$CTL" stats --json >"$T/stats.json"
check "stats: the route that was never applied counts no routed request" json_ok "$T/stats.json" \
	"not any(x['name'] == 'moved' and x['requests'] for x in d['routes'])"
check "stats: counted as not applied (2 tls + 2 socket)" json_ok "$T/stats.json" \
	"[x['requests'] for x in d['not_applied'] if x['name'] == 'moved'] == [4]"
check "stats: the applied route counted as routed" json_ok "$T/stats.json" \
	"[x['requests'] for x in d['routes'] if x['name'] == 'mini'] == [2]"
if [ -z "${SANITIZE:-}" ]; then
	check "stats: curl's not-applied requests are not the route's" json_ok "$T/stats.json" \
		"not any(x['name'] == 'raw' for x in d['routes']) and [x['requests'] for x in d['not_applied'] if x['name'] == 'raw'] == [4]"
fi
"$CTL" stats >"$T/stats.txt"
check "stats text: a ROUTE (NOT APPLIED) table with the route" sh -c \
	"grep -q '^ROUTE (NOT APPLIED)' '$T/stats.txt' && grep -Eq '^moved +4 ' '$T/stats.txt'"
"$CTL" audit "$A" --by rule --json >"$T/sum.json"
check "audit --by rule: not counted as the route's" json_ok "$T/sum.json" \
	"not any(g['group'] == 'moved' for g in d) and [g['requests'] for g in d if g['group'] == 'moved (not applied)'] == [4]"
check "audit --by rule: applied routes as before" json_ok "$T/sum.json" \
	"[g['requests'] for g in d if g['group'] == 'mini'] == [2]"
"$CTL" audit "$A" --by rule >"$T/sum.txt"
check "audit --by rule text: the not-applied group" grep -q '^moved (not applied) ' "$T/sum.txt"

# --- LLMROUTE_LOG=info: one line per routed request, every transport ----------------
LLMROUTE_LOG=info shim "$PY" "$C" httpclient "$URL" gpt-4o 2 >/dev/null 2>"$T/err"
check "info: socket logs each routed request" test "$(grep -c 'route mini (socket): openai chat model gpt-4o -> gpt-4o-mini' "$T/err")" -eq 2
LLMROUTE_LOG=info shim "$PY" "$C" httpclient "$TURL" gpt-4o 2 "$T/cert.pem" >/dev/null 2>"$T/err"
check "info: tls logs each routed request" test "$(grep -c 'route mini (tls): openai chat model gpt-4o -> gpt-4o-mini' "$T/err")" -eq 2
if [ -z "${SANITIZE:-}" ]; then
	LLMROUTE_LOG=info shim curl -sS --max-time 10 -o /dev/null -o /dev/null -d '{"model":"gpt-4o"}' "$URL" "$URL" 2>"$T/err"
	check "info: curl easy logs each routed request" test "$(grep -c 'route mini (curl): openai chat model gpt-4o -> gpt-4o-mini' "$T/err")" -eq 2
	LLMROUTE_LOG=info shim curl -sS --max-time 10 --parallel --parallel-immediate -o /dev/null -o /dev/null \
		-d '{"model":"gpt-4o"}' "$URL" "$URL" 2>"$T/err"
	check "info: curl multi logs each routed request" test "$(grep -c 'route mini (curl): openai chat model gpt-4o -> gpt-4o-mini' "$T/err")" -eq 2
fi
LLMROUTE_LOG=info shim "$PY" "$C" httpclient "$URL" move-me 2 >/dev/null 2>"$T/err"
check "info: each not-applied request logged too" test "$(grep -c 'route moved not applied (socket_not_redirected, socket): model move-me sent unchanged' "$T/err")" -eq 2

# --- explain: per transport -----------------------------------------------------------
printf '{"model":"move-me","messages":[]}' >"$T/move.json"
"$CTL" explain --url "$URL" --body "$T/move.json" >"$T/ex" 2>&1
check "explain, http host move: libcurl applied" grep -Eq '^  libcurl \(easy and multi\): +applied$' "$T/ex"
check "explain, http host move: socket not redirected: not applied, why" \
	grep -Eq '^  socket, not redirected: +not applied \(socket_not_redirected\)' "$T/ex"
check "explain, http host move: no route claims the host" \
	grep -Eq '^  socket, redirected at connect: +no connection to 127.0.0.1 is redirected' "$T/ex"
"$CTL" explain --url "$TURL" --body "$T/move.json" >"$T/ex" 2>&1
check "explain, https host move: tls not applied, why" \
	grep -Eq '^  tls \(system OpenSSL\): +not applied \(tls_cannot_move_host\)' "$T/ex"
check "explain, https host move: libcurl applied" grep -Eq '^  libcurl \(easy and multi\): +applied$' "$T/ex"
printf '{"model":"gpt-4o","messages":[]}' >"$T/mini.json"
"$CTL" explain --url "$TURL" --body "$T/mini.json" >"$T/ex" 2>&1
check "explain, model only: tls applied" grep -Eq '^  tls \(system OpenSSL\): +applied$' "$T/ex"
printf 'not json' >"$T/raw.txt"
"$CTL" explain --url "$URL" --body "$T/raw.txt" --process curl >"$T/ex" 2>&1
check "explain, body not JSON: not applied on every transport" sh -c \
	"[ \$(grep -c 'not applied (body_not_rewritable)' '$T/ex') -eq 2 ] && grep -Eq '^  libcurl \(easy and multi\): +not applied \(body_not_rewritable\)' '$T/ex'"
