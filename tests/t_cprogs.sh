#!/bin/sh
# t_cprogs.sh - tests the libcurl hooks under real C clients (tests/progs):
# concurrent transfers through one multi handle (routed, and denied with
# CURLE_REMOTE_ACCESS_DENIED and the route's message in the error buffer),
# curl_easy_duphandle and handle reuse without setting options again,
# curl_easy_reset followed by a non-LLM request whose body must pass
# untouched, and 8 threads x 200 requests each on its own reused handle.
# The app's Authorization header must never reach the mock: the routes move
# requests to another host and name no key.
. "$(dirname "$0")/lib.sh"
lr_setup cprogs

URL=https://api.openai.com/v1/chat/completions
MULTI=$BUILD/tests/multi_client
THREADS=$BUILD/tests/threads_client

# `make test` has built them already; run alone, this brings them up to date.
make -s -C "$ROOT" BUILD="$BUILD" "$MULTI" "$THREADS" >"$T/make.log" 2>&1 || {
	sed 's/^/  make: /' "$T/make.log" >&2
	fail "build tests/progs/multi_client.c and threads_client.c"
	exit 1
}

start_mock
load_rules '{"version": 1, "routes": [
 {"name": "mini", "match": {"model": "gpt-4*"},
  "set": {"model": "gpt-4o-mini", "endpoint": "'"$MOCK"'/v1"}},
 {"name": "no-o1", "match": {"model": "o1-pro"}, "deny": "o1-pro is not allowed here"},
 {"name": "claude", "match": {"model": "claude-*"}, "set": {"endpoint": "'"$MOCK"'/v1"}}]}'

# line FILE N: the output line for handle N.
line() {
	grep "^handle $2 " "$1"
}

# routed FILE N: handle N succeeded, answered by the mock as gpt-4o-mini.
routed() {
	line "$1" "$2" | grep -q "^handle $2 result 0 http 200 body-model gpt-4o-mini\$"
}

# no_app_key FIRST: no LLM request (not /echo, which the shim leaves
# alone) from number FIRST on carried the app's key.
no_app_key() {
	"$PY" - "$T/mock.log" "$1" <<'PYEOF'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2]):]
reqs = [r for r in reqs if r["path"] != "/echo"]
bad = [r for r in reqs if "authorization" in r["headers"]]
for r in bad[:3]:
    sys.stderr.write("  request %d carried authorization: %s\n" % (r["n"], r["headers"]["authorization"]))
sys.exit(1 if bad or not reqs else 0)
PYEOF
}

# --- multi: three concurrent transfers, one denied ------------------------
n0=$(mock_count)
shim "$MULTI" "$URL" multi >"$T/multi.out" 2>"$T/multi.err"
check "multi: the program ran" [ $? -eq 0 ]
sed 's/^/  multi: /' "$T/multi.out"
check "multi: gpt-4o handle 0 routed to gpt-4o-mini" routed "$T/multi.out" 0
check "multi: gpt-4o handle 1 routed to gpt-4o-mini" routed "$T/multi.out" 1
check "multi: o1-pro handle 2 failed with CURLE_REMOTE_ACCESS_DENIED (9)" \
	grep -q "^handle 2 result 9 http 0 " "$T/multi.out"
check "multi: the error buffer holds the route's message" \
	grep -qx "handle 2 result 9 http 0 body-model - error llmroute: denied by route no-o1: o1-pro is not allowed here" "$T/multi.out"
check "multi: the mock got exactly the two routed requests" [ "$(($(mock_count) - n0))" -eq 2 ]
mini='d["path"] == "/v1/chat/completions" and d["model"] == "gpt-4o-mini"'
check "multi: the first at the mock's /v1/chat/completions as gpt-4o-mini" last_req "$mini" 2
check "multi: the second at the mock's /v1/chat/completions as gpt-4o-mini" last_req "$mini" 1
check "multi: no o1-pro request reached the mock" expect_fail grep -q o1-pro "$T/mock.log"
check "multi: the app's Authorization header was not forwarded" no_app_key "$n0"

# --- dup: duphandle, reuse without setting options again ------------------
n0=$(mock_count)
shim "$MULTI" "$URL" dup "$MOCK/echo" >"$T/dup.out" 2>"$T/dup.err"
check "dup: the program ran" [ $? -eq 0 ]
sed 's/^/  dup: /' "$T/dup.out"
check "dup: first perform routed" routed "$T/dup.out" 0
check "dup: the duplicate routed" routed "$T/dup.out" 1
check "dup: the original, performed again as it was, routed" routed "$T/dup.out" 2
check "dup: a copy made while the original was in a multi handle routed" routed "$T/dup.out" 3
check "dup: a COPYPOSTFIELDS handle routed" routed "$T/dup.out" 4
check "dup: its copy, outliving it and sent to /echo, carried the app's body unchanged" \
	grep -qx "dup-echo-identical yes" "$T/dup.out"
check "dup: the mock got five gpt-4o-mini requests, then the /echo one" \
	"$PY" -c 'import json, sys, base64
r = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2]):]
sys.exit(not (len(r) == 6 and r[5]["path"] == "/echo" and
    base64.b64decode(r[5]["body_b64"]) == sys.argv[3].encode() and
    all(x["model"] == "gpt-4o-mini" and x["path"] == "/v1/chat/completions" for x in r[:5])))' \
	"$T/mock.log" "$n0" '{"model":"gpt-4o","messages":[{"role":"user","content":"two"}]}'
check "dup: the app's Authorization header was not forwarded" no_app_key "$n0"

# --- reset: the handle forgets the LLM request ----------------------------
n0=$(mock_count)
shim "$MULTI" "$URL" reset "$MOCK/echo" >"$T/reset.out" 2>"$T/reset.err"
check "reset: the program ran" [ $? -eq 0 ]
sed 's/^/  reset: /' "$T/reset.out"
check "reset: the LLM request before the reset routed" routed "$T/reset.out" 0
check "reset: the echo request succeeded" \
	grep -q "^handle 1 result 0 http 200 body-model gpt-4o\$" "$T/reset.out"
check "reset: the echoed body is byte-identical to what the app sent" \
	grep -qx "echo-identical yes" "$T/reset.out"
check "reset: the mock's /echo got the body unchanged" \
	last_req 'd["path"] == "/echo" and d["raw"] == b"{\"model\":\"gpt-4o\",\"note\":\"not an LLM call\",\"n\":[1,2.5,\"x\"]}"'
check "reset: the mock got two requests" [ "$(($(mock_count) - n0))" -eq 2 ]

# --- threads: 8 x 200 on reused handles -----------------------------------
n0=$(mock_count)
start=$(date +%s)
shim "$THREADS" "$URL" 8 200 >"$T/threads.out" 2>"$T/threads.err"
rc=$?
echo "  threads: $(cat "$T/threads.out") in $(($(date +%s) - start)) s"
[ -s "$T/threads.err" ] && sed 's/^/  threads: /' "$T/threads.err" | head -n 5 >&2
check "threads: exit status 0" [ "$rc" -eq 0 ]
check "threads: ok 1600 bad 0" grep -qx "ok 1600 bad 0" "$T/threads.out"
check "threads: the mock logged 1600 requests" [ "$(($(mock_count) - n0))" -eq 1600 ]
check "threads: 800 arrived as gpt-4o-mini and 800 as claude-x, none unchanged" \
	"$PY" -c 'import json, sys, collections
r = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2]):]
c = collections.Counter(x["model"] for x in r)
sys.exit(not (c == {"gpt-4o-mini": 800, "claude-x": 800}))' \
	"$T/mock.log" "$n0"
check "threads: the app's Authorization header was not forwarded" no_app_key "$n0"
