# t_bodies.sh - the corpus of tricky bodies (tests/data/bodies), sent by the
# curl command line under the shim, checked byte for byte at the upstream
# against NAME.expected (model set to gpt-4o-mini; fail-open cases expect
# the body exactly as sent).  Also a multi-megabyte body.
# needs: unsanitized (an ASan runtime preloaded into Debian's curl binary
# deadlocks in setlocale before main, shim or not)
. "$(dirname "$0")/lib.sh"
lr_setup bodies
start_mock
# The route changes the model only, so fail-open cases reach the mock too.
load_rules '{"routes": [{"name": "mini", "match": {"host": "127.0.0.1"},
  "set": {"model": "gpt-4o-mini"}}]}'

for f in "$ROOT"/tests/data/bodies/*.json; do
	n=$(basename "$f" .json)
	case $n in
	anthropic) url=$MOCK/v1/messages ;;
	*) url=$MOCK/v1/chat/completions ;;
	esac
	shim curl -sS --max-time 10 -o /dev/null "$url" --data-binary @"$f" -H 'Content-Type: application/json'
	check "body $n: upstream bytes equal $n.expected" last_req \
		"d['raw'] == open('${f%.json}.expected', 'rb').read()"
done

# 4 MB of content: rewritten, everything else intact, Content-Length right.
"$PY" -c "
import json
print(json.dumps({'model': 'gpt-4o', 'messages': [{'role': 'user', 'content': 'x' * (4 << 20)}]}), end='')" >"$T/big.json"
shim curl -sS --max-time 30 -o /dev/null "$MOCK/v1/chat/completions" --data-binary @"$T/big.json"
check "4 MB body: only the model changed" last_req \
	"d['raw'] == open('$T/big.json','rb').read().replace(b'\"gpt-4o\"', b'\"gpt-4o-mini\"', 1) and int(d['headers']['content-length']) == len(d['raw'])"
