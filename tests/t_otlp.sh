# t_otlp.sh - llmroutectl audit --follow --otlp URL: audit records made by
# curl under the shim (Python's http.client in a sanitized build), then synthetic ones, exported to a receiver
# (tests/otlp_receiver.py) that checks the OTLP/HTTP JSON shape strictly;
# each record's fields arrive as attributes, batched; the file is followed
# across logrotate's copytruncate (shrunk, and regrown past the position)
# and rename, a receiver answering 503 then recovering loses nothing, a
# restart resumes from the saved position (also after a rename while
# stopped); no record is lost or sent twice in any of these; the bearer
# token reaches the receiver and no log.
. "$(dirname "$0")/lib.sh"
lr_setup otlp
rcv_pid=""
fpid=""
trap 'for p in $rcv_pid $fpid; do kill "$p" 2>/dev/null; done; lr_cleanup' EXIT
A=$T/audit.jsonl
R=$T/got.jsonl
S=$T/state

wait_for() { # CMD...: true once CMD succeeds, false after 20 s
	i=0
	until "$@" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -gt 200 ] && return 1
		sleep 0.1
	done
}

got() { # EXPR: true over recs (the received records, in order)
	"$PY" -c 'import json,sys
recs = [json.loads(l) for l in open(sys.argv[1])] if __import__("os").path.exists(sys.argv[1]) else []
seqs = [r["seq"] for r in recs if "seq" in r]
sys.exit(0 if eval(sys.argv[2]) else 1)' "$R" "$1"
}

emit() { # FROM TO [PAD]: synthetic audit records with "seq" FROM..TO appended to $A
	"$PY" -c 'import json,sys
with open(sys.argv[1], "a") as f:
    for n in range(int(sys.argv[2]), int(sys.argv[3]) + 1):
        f.write(json.dumps({"time": "2026-01-02T03:04:05.678Z", "gen_ai.request.model": "m",
                            "seq": n, "error.type": None, "pad": "x" * int(sys.argv[4])}) + "\n")' \
		"$A" "$1" "$2" "${3:-8}"
}

follow() {
	"$CTL" audit "$A" --follow --otlp "http://127.0.0.1:$RP/v1/logs" --state "$S" --batch 7 \
		--token-env OTLP_TOKEN >>"$T/follow.out" 2>>"$T/follow.log" &
	fpid=$!
}

"$PY" "$ROOT/tests/otlp_receiver.py" --port-file "$T/rcv.port" --out "$R" --status-file "$T/status" 2>"$T/rcv.err" &
rcv_pid=$!
wait_for test -s "$T/rcv.port" || { cat "$T/rcv.err" >&2; exit 1; }
RP=$(cat "$T/rcv.port")

# --- usage ------------------------------------------------------------------
expect 1 "needs --otlp URL" "$CTL" audit "$A" --follow
expect 1 "http:// or https://" "$CTL" audit "$A" --follow --otlp "ftp://x/v1/logs"
expect 1 "a number from 1 to 10000" "$CTL" audit "$A" --follow --otlp "http://127.0.0.1:1/v1/logs" --batch 0
expect 1 "does not go with --follow" "$CTL" audit "$A" --follow --otlp "http://127.0.0.1:1/v1/logs" --json x
expect 0 "--otlp" "$CTL" audit --help

# --- real records from curl under the shim ------------------------------------
start_mock
export LLMROUTE_AUDIT="$A"
load_rules '{"routes": [{"name": "mini", "match": {"model": "gpt-4o"}, "set": {"model": "gpt-4o-mini", "endpoint": "'"$MOCK"'/v1"}},
 {"name": "no-o1", "match": {"model": "o1-pro"}, "deny": "no"}]}'
ask() { # MODEL: one request; curl, or Python's http.client in a sanitized build
	# (an ASan runtime preloaded into Debian's curl hangs it)
	if [ -z "${SANITIZE:-}" ]; then
		shim curl -sS --max-time 10 -o /dev/null "$MOCK/v1/chat/completions" \
			-d '{"model":"'"$1"'","messages":[{"role":"user","content":"hi"}]}' 2>/dev/null
	else
		shim "$PY" -c 'import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("POST", "/v1/chat/completions", json.dumps({"model": sys.argv[2], "messages": [{"role": "user", "content": "hi"}]}), {"Content-Type": "application/json"})
c.getresponse().read()' "$MOCK_PORT" "$1" 2>/dev/null
	fi
}
for m in gpt-4o gpt-4o o1-pro; do
	ask "$m"
done
unset LLMROUTE_AUDIT
check "the app under the shim wrote 3 audit records" [ "$(wc -l <"$A")" -eq 3 ]
OTLP_TOKEN=otlp-Tk-77-secret
export OTLP_TOKEN
follow
check "the 3 records arrive" wait_for got "len(recs) == 3"
check "the receiver found no shape error" test ! -e "$R.bad"
check "each record's non-null fields are its attributes, same values, time as timeUnixNano" "$PY" -c '
import json, sys, calendar, datetime
recs = [json.loads(l) for l in open(sys.argv[1])]
src = [json.loads(l) for l in open(sys.argv[2])]
for r, s in zip(recs, src):
    want = {k: v for k, v in s.items() if k != "time" and v is not None}
    have = {k: v for k, v in r.items() if not k.startswith("_")}
    assert have == want, (have, want)
    t = datetime.datetime.strptime(s["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    assert r["_time"] == round(t.timestamp() * 1000) * 1000000, (r["_time"], s["time"])
    assert r["_sev"] == ("ERROR" if s.get("error.type") else "INFO")
assert len(recs) == len(src) == 3
assert recs[0]["gen_ai.request.model"] == "gpt-4o-mini" and recs[0]["llmroute.original_model"] == "gpt-4o"
assert recs[2]["error.type"] == "denied"
' "$R" "$A"
check "the bearer token reached the receiver" grep -qx "Bearer $OTLP_TOKEN" "$R.auth"

# --- synthetic records, batches, copytruncate ----------------------------------
emit 1 20
check "records 1..20 arrive" wait_for got "20 in seqs"
check "batches hold at most --batch 7 records" got "max(__import__('collections').Counter(r['_batch'] for r in recs).values()) <= 7"
cp "$A" "$A.1" && : >"$A" # copytruncate, the file now shorter than the position
emit 21 30
check "copytruncate (shrunk): 21..30 arrive" wait_for got "30 in seqs"
cp "$A" "$A.1" && : >"$A"
emit 31 70 300 # copytruncate, regrown past the position before it is looked at
check "copytruncate (regrown): 31..70 arrive" wait_for got "70 in seqs"
check "the log says truncated" grep -q "was truncated (copytruncate)" "$T/follow.log"

# --- rename -------------------------------------------------------------------
mv "$A" "$A.1"
emit 71 80
check "rename: 71..80 from the new file arrive" wait_for got "80 in seqs"
check "the log says rotated" grep -q "was rotated (renamed)" "$T/follow.log"

# --- a receiver that fails, then recovers --------------------------------------
echo 503 >"$T/status"
n=$(wc -l <"$R.auth")
emit 81 90
check "a 503 is logged" wait_for grep -q "HTTP status 503; retrying with back-off" "$T/follow.log"
check "and retried" wait_for sh -c "[ \$(wc -l <'$R.auth') -ge $((n + 3)) ]"
check "the 503 is logged once" [ "$(grep -c 'HTTP status 503' "$T/follow.log")" -eq 1 ]
check "nothing arrived meanwhile" got "max(seqs) == 80"
rm "$T/status"
check "recovered: 81..90 arrive" wait_for got "90 in seqs"
check "the log says delivering again" grep -q "delivering again" "$T/follow.log"

# --- restart --------------------------------------------------------------------
kill -TERM "$fpid"
wait "$fpid"
check "SIGTERM: exit 0" [ $? -eq 0 ]
check "the state file names the file's inode" grep -q "^llmroute-tail 1 [0-9]* $(stat -c %i "$A") [0-9]*$" "$S"
emit 91 100
follow
check "restart: 91..100 arrive" wait_for got "100 in seqs"
check "restart: resumed at the saved offset, not the start" grep -q "following $A from offset [1-9]" "$T/follow.log"
kill -TERM "$fpid"
wait "$fpid"
emit 101 105
mv "$A" "$A.1"
emit 106 110
follow
check "restart after a rename while stopped: 101..110 arrive" wait_for got "110 in seqs"
kill -TERM "$fpid"
wait "$fpid"
fpid=""

check "every record 1..110 arrived, in order, none twice" got "seqs == list(range(1, 111))"
check "the receiver found no shape error at all" test ! -e "$R.bad"
check "the token is in no log" expect_fail grep -q "$OTLP_TOKEN" "$T/follow.log" "$T/follow.out" "$S"
