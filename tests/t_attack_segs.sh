# t_attack_segs.sh - the segments the shim maps, under attack by a second
# local user and under kills.  (a) truncating the table, the counters or
# the cache while a root process under the shim makes requests: it lives
# and its requests succeed; (b) a hard link planted under a name root will
# load: refused, the linked file untouched; (c) random bytes written over
# the counters while requests run: no crash; (d) `load` killed at random
# points while it creates a fresh table: a plain `load` always works after,
# with counters on; (e) counters left without a header by a killed creator
# are completed by the next `load`; (f) a flock by another user makes
# `load` fail after 5 s, never hang.
# needs: unsanitized (it runs Debian's curl binary, which an ASan runtime in LD_PRELOAD hangs)
. "$(dirname "$0")/lib.sh"
lr_setup attack
second_user
start_mock
cat >"$T/rules.in" <<EOF2
{"targets": {"mini": {"model": "gpt-4o-mini", "endpoint": "$MOCK/v1"}},
 "routes": [{"name": "r", "match": {"host": "127.0.0.1"}, "pool": {"targets": ["mini"]},
             "cache": {"ttl_s": 3600}}]}
EOF2
"$CTL" load "$T/rules.in" >/dev/null || fail "load"
printf '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}' >"$T/body.json"
chmod 644 "$T/body.json"

# requests N: a root process under the shim making N requests, 20 a second
# (one curl, serial transfers), in the background; its output in $T/req.
requests() {
	set --
	i=0
	while [ "$i" -lt 60 ]; do set -- "$@" -o /dev/null "$MOCK/v1/chat/completions"; i=$((i + 1)); done
	shim curl -sS --rate 20/s -w '%{http_code}\n' -X POST \
		-H 'Content-Type: application/json' -d @"$T/body.json" "$@" >"$T/req" 2>"$T/req.err" &
	req_pid=$!
	sleep 0.8
}

# requests_ok MSG: the process lived and every request succeeded.
requests_ok() {
	wait "$req_pid"
	rc=$?
	if [ "$rc" -eq 0 ] && [ "$(grep -c '^200$' "$T/req")" -eq 60 ]; then
		ok "$1"
	else
		fail "$1 (exit $rc, $(grep -c '^200$' "$T/req") of 60 requests answered; $(head -c 300 "$T/req.err"))"
	fi
}

key=$("$CTL" stats --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["key"])')
check "counters have a System V key" test -n "$key"

# shmtool OP KEY: System V calls through ctypes.  rmid/grow/shrink must fail
# for the second user; scribble writes random bytes over the whole segment
# for a second; create makes a headerless 0600 segment (what a killed
# creator leaves).  Falls back to the old file in /dev/shm when there is one.
cat >"$T/shm.py" <<'PYEOF'
import ctypes, os, random, sys, time
op, key, path = sys.argv[1], int(sys.argv[2] or "0", 16), sys.argv[3]
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
key = ctypes.c_int32(key).value
if op == "create":
    sys.exit(0 if libc.shmget(key, int(sys.argv[4]), 0o1000 | 0o2000 | 0o600) >= 0 else 1)
sid = libc.shmget(key, 0, 0)
if sid < 0:
    if op == "scribble" and os.path.exists(path):   # the old home of the counters
        n = os.path.getsize(path)
        end = time.time() + 1
        with open(path, "r+b") as f:
            while time.time() < end:
                f.seek(0); f.write(os.urandom(n)); f.flush()
        sys.exit(0)
    sys.exit(3)
if op == "rmid":
    sys.exit(0 if libc.shmctl(sid, 0, None) == 0 else 1)
if op == "grow":
    sys.exit(0 if libc.shmget(key, 1 << 24, 0) >= 0 else 1)
if op == "scribble":
    ds = (ctypes.c_char * 256)()
    libc.shmctl(sid, 2, ds)                      # IPC_STAT: shm_segsz at offset 48
    size = ctypes.c_size_t.from_buffer(ds, 48).value
    addr = libc.shmat(sid, None, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        sys.exit(4)
    end = time.time() + 1
    while time.time() < end:
        ctypes.memmove(addr, os.urandom(size), size)
    sys.exit(0)
sys.exit(5)
PYEOF
chmod 644 "$T/shm.py"

# (a) truncation of every segment the shim maps
requests
"$CTL" stats >/dev/null 2>&1
for f in "/dev/shm$LLMROUTE_TABLE" "/dev/shm$LLMROUTE_TABLE.cache.0" "/dev/shm$LLMROUTE_TABLE.stats"; do
	as_user2 truncate -c -s 0 "$f" 2>/dev/null
done
as_user2 "$PY" "$T/shm.py" rmid "$key" - 2>/dev/null && fail "the second user removed the counters"
as_user2 "$PY" "$T/shm.py" grow "$key" - 2>/dev/null && fail "the second user resized the counters"
requests_ok "(a) truncating the table, cache and counters: the process lives, its requests succeed"
check "(a) the table and the cache kept their size" sh -c \
	"test -s '/dev/shm$LLMROUTE_TABLE' && test -s '/dev/shm$LLMROUTE_TABLE.cache.0'"

# (c) random bytes over the counters while requests run
requests
as_user2 "$PY" "$T/shm.py" scribble "$key" "/dev/shm$LLMROUTE_TABLE.stats" || fail "(c) could not scribble"
requests_ok "(c) random bytes over the counters: no crash, requests succeed"
"$CTL" stats >/dev/null 2>&1
"$CTL" load "$T/rules.in" >"$T/load.out" 2>&1
check "(c) the next load starts scribbled counters afresh" sh -c "'$CTL' stats --json >/dev/null"

# (b) hard links planted by the second user under names root will load:
# a root-owned file the second user may write (mode 0666), linked as a
# table and as the counters of another table
vic="/dev/shm/lrtest-victim-$$"
printf 'victim' >"$vic"
chmod 666 "$vic"
: >"$vic.empty"
chmod 666 "$vic.empty"
as_user2 ln "$vic" "/dev/shm$LLMROUTE_TABLE.b" || fail "(b) the second user could not link"
as_user2 ln "$vic.empty" "/dev/shm$LLMROUTE_TABLE.c.stats" || fail "(b) the second user could not link"
expect 4 "hard link" env LLMROUTE_TABLE="$LLMROUTE_TABLE.b" "$CTL" load "$T/rules.in"
LLMROUTE_TABLE="$LLMROUTE_TABLE.c" "$CTL" load "$T/rules.in" >/dev/null 2>&1
check "(b) the linked files' mode and contents are unchanged" sh -c \
	"test \"\$(stat -c %a:%s '$vic' '$vic.empty' | tr '\n' ' ')\" = '666:6 666:0 ' && grep -qx victim '$vic'"
LLMROUTE_TABLE="$LLMROUTE_TABLE.c" "$CTL" unload --force >/dev/null 2>&1
rm -f "$vic" "$vic.empty" "/dev/shm$LLMROUTE_TABLE.b" "/dev/shm$LLMROUTE_TABLE.c.stats"

# (d) load killed at random points while it creates a fresh table
cat >"$T/kill.py" <<'PYEOF'
import os, random, signal, subprocess, sys, time
ctl, rules, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
bad = []
quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
random.seed(os.getpid())
t0 = time.time()
subprocess.run([ctl, "unload", "--force"], **quiet)
subprocess.run([ctl, "load", rules], **quiet)
one = max(time.time() - t0, 0.002)               # about how long a load takes
for i in range(n):
    subprocess.run([ctl, "unload", "--force"], **quiet)
    p = subprocess.Popen([ctl, "load", rules], **quiet)
    time.sleep(random.uniform(0, one))
    p.send_signal(signal.SIGKILL)
    p.wait()
    r = subprocess.run([ctl, "load", rules], capture_output=True, text=True)
    s = subprocess.run([ctl, "stats", "--json"], capture_output=True, text=True)
    if r.returncode or s.returncode:
        bad.append("kill %d: load %d %s / stats %d %s" % (i, r.returncode, r.stderr.strip()[:120],
                                                           s.returncode, s.stderr.strip()[:120]))
print("%d kills, %d left a table or counters a plain load did not mend" % (n, len(bad)))
for b in bad[:5]:
    print("  " + b)
sys.exit(1 if bad else 0)
PYEOF
if "$PY" "$T/kill.py" "$CTL" "$T/rules.in" 300 >"$T/kill.out" 2>&1; then
	ok "(d) $(head -n 1 "$T/kill.out")"
else
	fail "(d) $(cat "$T/kill.out")"
fi
check "(d) stray temporaries are swept" test "$(ls /dev/shm | grep -c "^${LLMROUTE_TABLE#/}\.new\.")" -le 1
shim curl -sS -o /dev/null -X POST -H 'Content-Type: application/json' -d @"$T/body.json" \
	"$MOCK/v1/chat/completions"
check "(d) counters are on after the kills" sh -c \
	"'$CTL' stats --json | '$PY' -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if any(r[\"requests\"] for r in d[\"routes\"]) else 1)'"

# (e) counters left without a header (a creator killed after shmget)
key=$("$CTL" stats --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["key"])')
size=$(ipcs -m | awk -v k="$key" '$1 == k { print $5 }')
"$CTL" unload --force >/dev/null 2>&1
"$PY" "$T/shm.py" create "$key" - "$size" || fail "(e) could not make a headerless segment"
expect 4 "not" "$CTL" stats
expect 0 "interrupted load" "$CTL" load "$T/rules.in"
shim curl -sS -o /dev/null -X POST -H 'Content-Type: application/json' -d @"$T/body.json" \
	"$MOCK/v1/chat/completions"
check "(e) after the next load the counters count" sh -c \
	"'$CTL' stats --json | '$PY' -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if any(r[\"requests\"] for r in d[\"routes\"]) else 1)'"

# (f) any user who can read the table can flock it: load waits a bounded
# time, then says so (it must not hang)
mkdir -p "$T/u2" && chmod 0777 "$T/u2"
as_user2 "$PY" -c '
import fcntl, sys, time
f = open(sys.argv[1], "rb")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(12)' "/dev/shm/${LLMROUTE_TABLE#/}" "$T/u2/flocked" &
locker=$!
i=0
while [ ! -e "$T/u2/flocked" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
t0=$(date +%s)
expect 4 "held the table's lock" "$CTL" load "$T/rules.in"
check "(f) load gave up within 8 s" test $(($(date +%s) - t0)) -le 8
pkill -KILL -u "$U2" 2>/dev/null
wait "$locker" 2>/dev/null
check "(f) load works once the lock is let go" sh -c "'$CTL' load '$T/rules.in' >/dev/null"
