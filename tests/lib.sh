# lib.sh - shared helpers for the shell tests (sourced, POSIX sh).
#
# Each test script sources this file, calls lr_setup NAME, and then uses:
#   start_mock [ARGS]   start tools/mock_upstream.py; sets MOCK (base URL)
#   load_rules TEXT     publish rules given as JSON text
#   shim CMD...         run CMD under build/llmroute (the launcher)
#   last_req EXPR       Python expression on the last request the mock got
#                       (d = its log record) must be true
#   ok / fail MSG       report one check
#   expect_fail CMD...  CMD must exit non-zero
#   expect CODE PAT CMD... CMD must exit CODE and print PAT (stdout or stderr)
# Every script gets its own table name, temp dir and mock, all removed at
# exit, so scripts can run in any order.
PY=/usr/bin/python3
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
CTL=$BUILD/llmroutectl
LIB=$BUILD/libllmroute.so
LAUNCHER=$BUILD/llmroute
checks=0
failed=0
mock_pid=""

lr_setup() {
	TNAME=$1
	T=$(mktemp -d "/tmp/llmroute-$TNAME.XXXXXX")
	LLMROUTE_TABLE="/lrtest-$TNAME-$$"
	export LLMROUTE_TABLE
	unset LLMROUTE_AUDIT LLMROUTE_DISABLE
	LLMROUTE_LOG=${LLMROUTE_LOG:-error}
	export LLMROUTE_LOG
	trap lr_cleanup EXIT
	trap 'exit 1' INT TERM
}

lr_cleanup() {
	[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
	if [ -n "$U2" ]; then
		pkill -KILL -u "$U2" 2>/dev/null
		userdel "$U2" 2>/dev/null
	fi
	"$CTL" unload --force >/dev/null 2>&1
	rm -rf "$T"
	echo "$TNAME: $checks checks, $failed failed" >&2
	[ "$failed" -eq 0 ] && [ "$checks" -gt 0 ] || exit 1
}

ok() {
	checks=$((checks + 1))
	echo "ok - $*"
}

fail() {
	checks=$((checks + 1))
	failed=$((failed + 1))
	echo "not ok - $*" >&2
}

# check COND_CMD... -- MSG: ok if the command succeeds.
check() {
	msg=$1
	shift
	if "$@"; then ok "$msg"; else fail "$msg"; fi
}

expect_fail() {
	! "$@"
}

# expect CODE PATTERN CMD...: exit code CODE and PATTERN in the output.
expect() {
	code=$1 pat=$2
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq "$code" ] && grep -q -- "$pat" "$T/err" "$T/out"; then
		ok "exit $code /$pat/: $*"
	else
		fail "expected exit $code and /$pat/ from: $* (got $rc: $(cat "$T/err"))"
	fi
}

start_mock() {
	rm -f "$T/mock.port"
	"$PY" "$ROOT/tools/mock_upstream.py" --port-file "$T/mock.port" --log "$T/mock.log" "$@" \
		2>"$T/mock.err" &
	mock_pid=$!
	i=0
	while [ ! -s "$T/mock.port" ]; do
		i=$((i + 1))
		if [ "$i" -gt 100 ] || ! kill -0 "$mock_pid" 2>/dev/null; then
			echo "$TNAME: the mock upstream did not start" >&2
			cat "$T/mock.err" >&2
			exit 1
		fi
		sleep 0.05
	done
	MOCK_PORT=$(cat "$T/mock.port")
	MOCK="http://127.0.0.1:$MOCK_PORT"
}

load_rules() {
	printf '%s\n' "$1" >"$T/rules.json"
	"$CTL" load "$T/rules.json" >/dev/null
}

# With a sanitized build (SANITIZE=address,...) the sanitizer runtime must
# come first in LD_PRELOAD, which the launcher does not know how to find.
shim() {
	if [ -n "${SANITIZE:-}" ]; then
		rt=$(${CC:-cc} -print-file-name=libasan.so)
		LD_PRELOAD="$rt:$LIB" ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 "$@"
	else
		"$LAUNCHER" "$@"
	fi
}

# Number of requests the mock has logged.
mock_count() {
	[ -f "$T/mock.log" ] && wc -l <"$T/mock.log" | tr -d ' ' || echo 0
}

# last_req EXPR [N]: EXPR over the Nth-last logged request (default 1).
last_req() {
	"$PY" - "$T/mock.log" "$1" "${2:-1}" <<'PYEOF'
import json, sys, base64
lines = open(sys.argv[1]).read().splitlines()
d = json.loads(lines[-int(sys.argv[3])])
d["raw"] = base64.b64decode(d["body_b64"])
ok = eval(sys.argv[2], {"d": d, "json": json})
if not ok:
    sys.stderr.write("  last request: %s %s model=%s headers=%s body=%.300s\n" % (
        d["method"], d["path"], d["model"], d["headers"], d["body"]))
sys.exit(0 if ok else 1)
PYEOF
}

# json_ok FILE EXPR: EXPR over the JSON document in FILE (d).
json_ok() {
	"$PY" - "$1" "$2" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2], {"d": d}) else 1)
PYEOF
}

# audit_ok FILE EXPR: EXPR over the audit records in FILE (a: a list, r: the
# last one) must be true.
audit_ok() {
	"$PY" - "$1" "$2" <<'PYEOF'
import json, sys
try:
    a = [json.loads(l) for l in open(sys.argv[1])]
except FileNotFoundError:
    a = []
r = a[-1] if a else {}
ok = eval(sys.argv[2], {"a": a, "r": r})
if not ok:
    sys.stderr.write("  %d audit records; last: %s\n" % (len(a), json.dumps(r)[:600]))
sys.exit(0 if ok else 1)
PYEOF
}

# second_user: creates a throwaway unprivileged user for attack tests (needs
# root; removed by lr_cleanup) and sets U2 (its name) and U2_UID.
# as_user2 CMD... runs CMD as that user, with no supplementary groups.
U2=""
second_user() {
	if [ "$(id -u)" != 0 ]; then
		echo "$TNAME: the attack tests need root to create a second user" >&2
		exit 1
	fi
	U2="lr2u$$"
	useradd --no-create-home --shell /usr/sbin/nologin "$U2" 2>"$T/useradd.err" || {
		cat "$T/useradd.err" >&2
		exit 1
	}
	U2_UID=$(id -u "$U2")
	U2_GID=$(id -g "$U2")
	chmod 0755 "$T"
}

as_user2() {
	setpriv --reuid="$U2_UID" --regid="$U2_GID" --clear-groups --reset-env "$@"
}
