# t_upstream.sh - the shim's own upstream client (shim/lr_upstream.h),
# driven by $BUILD/tests/up_client (the shim linked into a test program)
# against tools/mock_upstream.py, plain and TLS with a throw-away CA:
# answers exact, an SSE stream through a sink that pauses, TLS trust
# from the app's store (and never weaker), head, first-token and idle
# timeouts, delay, cancel,
# 4 threads x 25 requests, fork, programs that close every descriptor or
# dup2 over ours, signals, and the shim's own hooks leaving the client's
# traffic alone.  Timings: up_client bench (printed, not checked).
. "$(dirname "$0")/lib.sh"
lr_setup upstream
UP=$BUILD/tests/up_client
[ -x "$UP" ] || { echo "t_upstream: $UP is not built (make test builds it)" >&2; exit 1; }
export ASAN_OPTIONS=detect_leaks=0 # the client's thread and handles live as long as the process

start_mock --fault 'path=/slow/*:slow=800' --fault 'path=/hang/*:hang' --fault 'model=long-*:long=300000' \
	--fault 'model=stall-*:stall' --fault 'model=stallmid-*:stallmid'

# A private CA, a certificate for 127.0.0.1 signed by it, and an unrelated CA.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" -days 1 \
	-subj /CN=llmroute-test-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/leaf.csr" -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$T/leaf.ext"
openssl x509 -req -in "$T/leaf.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
	-out "$T/cert.pem" -days 1 -extfile "$T/leaf.ext" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -out "$T/other.pem" -days 1 \
	-subj /CN=some-other-ca 2>/dev/null
"$PY" "$ROOT/tools/mock_upstream.py" --port-file "$T/tls.port" --log "$T/tls.log" \
	--tls-cert "$T/cert.pem" --tls-key "$T/key.pem" 2>"$T/tls.err" &
tls_pid=$!
i=0
while [ ! -s "$T/tls.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
TLS=https://127.0.0.1:$(cat "$T/tls.port")
trap 'kill $tls_pid 2>/dev/null; lr_cleanup' EXIT

# up NAME ARGS...: one check program; its "ok -" / "not ok -" lines count here.
up() {
	name=$1
	shift
	"$UP" "$name" "$@" >"$T/$name.out" 2>"$T/$name.err"
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*) fail "${line#not ok - }" ;;
		esac
	done <"$T/$name.out"
	[ "$rc" -eq 0 ] || fail "up_client $name exited $rc: $(tail -n 5 "$T/$name.err")"
}

# responses EXPR: EXPR over the mock's /_mock/responses (r: that list,
# f(path): the bytes of a file) must be true.
responses() {
	curl -s "$MOCK/_mock/responses" >"$T/responses.json"
	"$PY" - "$T/responses.json" "$1" "$T" <<'PYEOF'
import hashlib, json, sys
r = json.load(open(sys.argv[1]))
def f(name):
    return open(sys.argv[3] + "/" + name, "rb").read()
def sha(b):
    return hashlib.sha256(b).hexdigest()
def answer(head_file):
    """The mock's record of the answer whose head we saved."""
    n = int([l for l in f(head_file).split(b"\r\n") if l.lower().startswith(b"x-mock-request:")][0].split(b":")[1])
    return [x for x in r if x["request"] == n][0]
ok = eval(sys.argv[2])
if not ok:
    sys.stderr.write("  responses: %s\n" % json.dumps(r)[:800])
sys.exit(0 if ok else 1)
PYEOF
}

# --- plain http: answers exact -------------------------------------------------
up plain "$MOCK" "$T"
check "POST: the head is byte for byte what the mock sent (status line aside)" responses \
	"sha(b'HTTP/1.1 200 OK\r\n' + f('post.head') + b'\r\n') == answer('post.head')['head_sha256']"
check "POST: the body too" responses "sha(f('post.body')) == answer('post.head')['body_sha256']"
check "GET: the head too" responses \
	"sha(b'HTTP/1.1 200 OK\r\n' + f('get.head') + b'\r\n') == answer('get.head')['head_sha256']"
check "POST: the upstream got the caller's headers, ours dropped, libcurl's defaults off" "$PY" - "$T/mock.log" <<'PYEOF'
import json, sys
d = [json.loads(l) for l in open(sys.argv[1]) if '"POST"' in l and '"/echo"' in l][0]
h = d["headers"]
want = {"content-type": "application/json", "authorization": "Bearer sk-test", "x-empty": "", "x-dup": "a, b"}
ok = all(h.get(k) == v for k, v in want.items()) and h["host"].startswith("127.0.0.1:") \
    and h["content-length"] == str(len(d["body"])) and not {"accept", "expect", "connection", "transfer-encoding",
    "bad header", "x-crlf", "injected"} & set(h)
if not ok:
    print(h, file=sys.stderr)
sys.exit(0 if ok else 1)
PYEOF

# --- SSE through a sink that pauses -------------------------------------------
up sse "$MOCK" "$T"
check "SSE: what the app end read is the streamed body, byte for byte, in order" responses \
	"sha(f('sse.body')) == answer('sse.head')['body_sha256']"

# --- TLS ------------------------------------------------------------------------
up tls "$TLS" "$T/ca.pem" "$T/other.pem"

# --- HTTP/2: only where an HTTP/2 server is installed (Debian's nghttp2-server) ------
if command -v nghttpd >/dev/null 2>&1; then
	mkdir -p "$T/h2"
	"$PY" -c "import sys; open(sys.argv[1] + '/big', 'wb').write(bytes(i % 251 for i in range(2000000))); open(sys.argv[1] + '/small', 'wb').write(b'small')" "$T/h2"
	nghttpd -d "$T/h2" 0 "$T/key.pem" "$T/cert.pem" >"$T/h2.log" 2>&1 &
	h2_pid=$!
	trap 'kill $tls_pid $h2_pid 2>/dev/null; lr_cleanup' EXIT
	i=0
	while [ -z "$H2PORT" ] && [ $i -lt 100 ]; do
		H2PORT=$(ss -ltnpH 2>/dev/null | grep "pid=$h2_pid," | grep -o '0.0.0.0:[0-9]*' | cut -d: -f2 | head -n 1)
		sleep 0.05
		i=$((i + 1))
	done
	up h2 "https://127.0.0.1:$H2PORT" "$T/ca.pem"
else
	echo "# HTTP/2 checks skipped: no nghttpd (apt-get install nghttp2-server)"
fi

# --- time ------------------------------------------------------------------------
up timeout "$MOCK"
up bodytimeouts "$MOCK"
up delay "$MOCK"
up cancel "$MOCK"

# --- many at once, fork, descriptors, signals ------------------------------------
up threads "$MOCK"
up fork "$MOCK"
up closeall "$MOCK"
up signal "$MOCK"

# --- the shim's own hooks leave the client's traffic alone ------------------------
# A table that claims 127.0.0.1 (model rewrite) and a host only a route knows,
# and an audit file: had any hook (socket, resolver, TLS, libcurl) acted on the
# client's requests, the upstream would see another model, the made-up host
# would resolve, or a record would be written.
A=$T/audit.jsonl
load_rules '{"routes": [
 {"name": "rewrite", "match": {"host": "127.0.0.1"}, "set": {"model": "rewritten"}},
 {"name": "made-up", "match": {"host": "api.up.test"}, "set": {"endpoint": "'"$MOCK"'/v1"}}]}'
LLMROUTE_AUDIT=$A up hooks "$MOCK" "$TLS" "$T/ca.pem" "http://api.up.test:$MOCK_PORT/v1/chat/completions"
check "hooks: no audit record for the client's own requests" test ! -s "$A"
check "hooks: the upstream saw the model as sent" last_req "d['model'] == 'gpt-4o'"
"$CTL" unload --force >/dev/null 2>&1

# --- timings (reported, not checked) -----------------------------------------------
if "$UP" bench local 200 serial >"$T/bench.out" 2>&1; then
	sed 's/^/  /' "$T/bench.out"
	ok "bench ran"
else
	fail "bench: $(cat "$T/bench.out")"
fi
