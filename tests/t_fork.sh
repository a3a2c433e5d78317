# t_fork.sh - the shim across fork() and descriptor sweeps, with real
# clients.
#  - fork without exec in a threaded libcurl program: threads loop on LLM
#    requests while the main thread forks children that each make one
#    (tests/progs/fork_client.c); no child may hang on a lock another
#    thread held at fork time, and each child's request is routed and
#    audited under its own pid.  Then Python's multiprocessing (fork start
#    method) with threads making requests through http.client.
#  - closefrom(3), as daemons do, then a file of the app's own that reuses
#    the shim's descriptor: no audit line lands in it, the audit file gets
#    them, and a table published afterwards (a deny) is followed.
# needs: unsanitized (fork_client is not built with the sanitizer)
. "$(dirname "$0")/lib.sh"
lr_setup fork
start_mock
A=$T/audit.jsonl
export LLMROUTE_AUDIT="$A"
URL=$MOCK/v1/chat/completions
FC=$BUILD/tests/fork_client
load_rules '{"routes": [{"name": "mini", "match": {"model": "gpt-4o"}, "set": {"model": "gpt-4o-mini"}}]}'

# --- fork in a threaded program ------------------------------------------------
CHILDREN=${FORK_CHILDREN:-300}
shim "$FC" fork "$URL" 4 "$CHILDREN" >"$T/fork.out" 2>"$T/fork.err"
rc=$?
if [ "$rc" -eq 0 ] && grep -q "^children $CHILDREN hung 0 failed 0$" "$T/fork.out"; then
	ok "fork: $CHILDREN children of a 4-thread libcurl program, none hung, each answered"
else
	cp "$T/fork.err" /tmp/fork.err.last 2>/dev/null
	fail "fork: $(cat "$T/fork.out") (exit $rc) $(head -c 600 "$T/fork.err")"
fi
check "fork: every child's request routed and audited under its own pid" audit_ok "$A" \
	"len({x['process.pid'] for x in a}) >= $CHILDREN + 1 and all(x['llmroute.rule'] == 'mini' and x['gen_ai.request.model'] == 'gpt-4o-mini' for x in a)"

cat >"$T/mp.py" <<'PYEOF'
import http.client, json, multiprocessing as mp, sys, threading, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
def post():
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    c.request("POST", u.path, body, {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status
def child():
    sys.exit(0 if post() == 200 else 1)
stop = False
def loop():
    while not stop:
        post()
ths = [threading.Thread(target=loop) for _ in range(3)]
for t in ths:
    t.start()
ctx = mp.get_context("fork")
hung = bad = 0
for i in range(int(sys.argv[2])):
    p = ctx.Process(target=child)
    p.start()
    p.join(10)
    if p.is_alive():
        hung += 1
        p.kill()
        p.join()
    elif p.exitcode != 0:
        bad += 1
stop = True
for t in ths:
    t.join()
print("hung %d failed %d" % (hung, bad))
PYEOF
: >"$A"
shim "$PY" "$T/mp.py" "$URL" "${FORK_PY_CHILDREN:-60}" >"$T/mp.out" 2>"$T/mp.err"
check "multiprocessing (fork) beside threads: no child hung or failed" grep -q "^hung 0 failed 0$" "$T/mp.out"
check "multiprocessing: the children's requests are audited under their pids" audit_ok "$A" \
	"len({x['process.pid'] for x in a}) >= ${FORK_PY_CHILDREN:-60} + 1"

# --- closefrom ---------------------------------------------------------------------
: >"$A"
rm -f "$T/go"
shim "$FC" sweep "$URL" "$T/app.txt" "$T/go" >"$T/sweep.out" 2>"$T/sweep.err" &
sw=$!
i=0
while n=$(grep -c '^status' "$T/sweep.out" 2>/dev/null); [ "${n:-0}" -lt 3 ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
load_rules '{"routes": [{"name": "no-4o", "match": {"model": "gpt-4o"}, "deny": "not here"}]}'
touch "$T/go"
wait $sw
sweep_ok() { # on failure, what the app printed and the shim said
	test "$(grep '^status' "$T/sweep.out" | head -3 | tr '\n' ' ')" = "status 200 status 200 status 200 " && return 0
	sed 's/^/      app: /' "$T/sweep.out" "$T/sweep.err" | head -20
	return 1
}
check "closefrom: the app's requests were answered" sweep_ok
check "closefrom: the app's own file holds only what the app wrote" \
	test "$(cat "$T/app.txt")" = "app"
check "closefrom: the audit file got every record" audit_ok "$A" \
	"len(a) == 4 and [x['llmroute.rule'] for x in a] == ['mini', 'mini', 'mini', 'no-4o']"
check "closefrom: the table published after the sweep is followed (the deny holds)" \
	test "$(grep '^status' "$T/sweep.out" | tail -1)" = "status -9"
