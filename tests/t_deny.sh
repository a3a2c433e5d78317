# t_deny.sh - a deny cannot be walked around (issue 12, item 5): each
# spelling or body that used to skip it, with the curl command line, a C
# program or Python, against the mock: denied, and the mock gets nothing.
. "$(dirname "$0")/lib.sh"
# needs: unsanitized (it runs Debian's curl binary, which an ASan runtime in LD_PRELOAD hangs)
lr_setup deny
start_mock
B=$BUILD/tests
P=$MOCK_PORT
U=/v1/chat/completions
load_rules '{"routes": [
 {"name": "no-4o", "match": {"model": "gpt-4o"}, "deny": "gpt-4o is not allowed"},
 {"name": "no-local-claude", "match": {"host": "127.0.0.1", "model": "claude-*"}, "deny": "not here"}]}'
J='{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}'
C='{"model":"claude-3","messages":[{"role":"user","content":"hi"}]}'

# denied CMD...: exit 9 from curl (CURLE_REMOTE_ACCESS_DENIED), or a 403,
# and the mock received nothing.
nothing_sent() {
	n=$(mock_count)
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ "$(mock_count)" = "$n" ] || { echo "  the mock got a request" >&2; return 1; }
	[ "$rc" = 9 ] || grep -q "rc=9\|403\|llmroute: denied" "$T/out" "$T/err" || {
		echo "  rc=$rc: $(cat "$T/out" "$T/err" | head -c 300)" >&2
		return 1
	}
}
ccurl() { shim curl -sS --max-time 10 -H 'Content-Type: application/json' "$@"; }

# The control: a plain request is denied, another model is not.
check "plain: denied" nothing_sent ccurl -d "$J" "$MOCK$U"
ccurl -o /dev/null -d '{"model":"gpt-4o-mini"}' "$MOCK$U"
check "plain: another model goes out" last_req "d['model'] == 'gpt-4o-mini'"

# A read callback sized by POSTFIELDSIZE alone (no INFILESIZE).
for m in "" large first; do
	check "read callback + POSTFIELDSIZE${m:+ ($m)}: denied" \
		nothing_sent shim "$B/edge_readpost_deny" "$MOCK$U" "$J" $m
done
check "pycurl READFUNCTION + POSTFIELDSIZE: denied" nothing_sent shim "$PY" -c "
import pycurl, io, sys
b = sys.argv[1].encode(); c = pycurl.Curl(); src = io.BytesIO(b)
c.setopt(pycurl.URL, sys.argv[2]); c.setopt(pycurl.POST, 1)
c.setopt(pycurl.READFUNCTION, src.read); c.setopt(pycurl.POSTFIELDSIZE, len(b))
c.setopt(pycurl.HTTPHEADER, ['Content-Type: application/json'])
c.setopt(pycurl.WRITEFUNCTION, lambda d: None)
try:
    c.perform(); print('code', c.getinfo(pycurl.RESPONSE_CODE))
except pycurl.error as e:
    print('rc=%d' % e.args[0], e.args[1])
" "$J" "$MOCK$U"

# JSON nested deeper than 128 before the model key.
deep=$("$PY" -c "print('{\"x\":' + '['*5000 + ']'*5000 + ',\"model\":\"gpt-4o\"}')")
check "model after 5000 levels of nesting: denied" nothing_sent ccurl -d "$deep" "$MOCK$U"

# Host and path spellings libcurl accepts.
check "host 127.0.0.%31: denied" nothing_sent ccurl -d "$C" "http://127.0.0.%31:$P$U"
check "host 0x7f.1 (hex, short): denied" nothing_sent ccurl -d "$C" "http://0x7f.1:$P$U"
check "host 017700000001 (octal): denied" nothing_sent ccurl -d "$C" "http://017700000001:$P$U"
check "port padded with zeros: denied" nothing_sent ccurl -d "$C" "http://127.0.0.1:000$P$U"
check "host with a trailing dot: denied" nothing_sent ccurl -d "$C" "http://127.0.0.1.:$P$U"
check "scheme-less URL: denied" nothing_sent ccurl -d "$C" "127.0.0.1:$P$U"
check "// in the path: denied" nothing_sent ccurl -d "$J" "$MOCK/v1//chat/completions"
check "/./ in the path (--path-as-is): denied" nothing_sent ccurl --path-as-is -d "$J" "$MOCK/v1/./chat/completions"
check "/../ in the path (--path-as-is): denied" nothing_sent ccurl --path-as-is -d "$J" "$MOCK/x/../v1/chat/completions"
check "upper-case path segments: denied" nothing_sent ccurl -d "$J" "$MOCK/V1/Chat/Completions"
check "%-encoded unreserved bytes in the path: denied" nothing_sent ccurl -d "$J" "$MOCK/v1/%63hat/completions"

# A body that cannot be read, where a deny could apply: refused.
check "malformed JSON body: denied" nothing_sent ccurl -d '{"model":"gpt-4o",' "$MOCK$U"
printf '%s' "$J" >"$T/body.json"
check "body of unknown size (-T -, chunked): denied" nothing_sent sh -c \
	"cat '$T/body.json' | '$LAUNCHER' curl -sS --max-time 10 -X POST -T - '$MOCK$U'"
check "multipart form to a chat URL: denied" nothing_sent ccurl -F "model=gpt-4o" "$MOCK$U"
check "the reason says the body could not be read" grep -q "could not be read" "$T/err"
# ... and where no deny could apply, it goes out as today.
load_rules '{"routes": [{"name": "no-local-claude", "match": {"host": "10.0.0.1"}, "deny": "x"}]}'
ccurl -o /dev/null -d '{"model":"gpt-4o",' "$MOCK$U"
check "malformed JSON, no deny could apply: sent as written" last_req "d['raw'] == b'{\"model\":\"gpt-4o\",'"

# The socket transport (Python http.client): the same spellings and bodies.
load_rules '{"routes": [
 {"name": "no-4o", "match": {"model": "gpt-4o"}, "deny": "gpt-4o is not allowed"},
 {"name": "no-local-claude", "match": {"host": "127.0.0.1", "model": "claude-*"}, "deny": "not here"}]}'
hc() { shim "$PY" -c "
import http.client, sys
c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]), timeout=10)
c.putrequest('POST', sys.argv[2], skip_host=True)
c.putheader('Host', sys.argv[3]); c.putheader('Content-Type', 'application/json')
b = sys.argv[4].encode(); c.putheader('Content-Length', str(len(b))); c.endheaders(b)
print(c.getresponse().status)
" "$P" "$@"; }
check "http.client, //v1/./chat/completions: denied" nothing_sent hc "//v1/./chat/completions" "127.0.0.1:$P" "$J"
check "http.client, /V1/Chat/Completions: denied" nothing_sent hc "/V1/Chat/Completions" "127.0.0.1:$P" "$J"
check "http.client, Host: 127.0.0.%31: denied" nothing_sent hc "$U" "127.0.0.%31:$P" "$C"
check "http.client, Host: 0x7f.1 with a padded port: denied" nothing_sent hc "$U" "0x7f.1:0$P" "$C"
check "http.client, model after 5000 levels: denied" nothing_sent hc "$U" "127.0.0.1:$P" "$deep"
check "http.client, malformed JSON: denied" nothing_sent hc "$U" "127.0.0.1:$P" '{"model":"gpt-4o",'
check "http.client: a 403 naming the unread body" grep -q "403" "$T/out"
