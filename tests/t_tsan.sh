#!/bin/sh
# t_tsan.sh - ThreadSanitizer over the shim: builds the shim and
# tests/progs/{threads,multi}_client with -fsanitize=thread (through the
# Makefile: BUILD=$TSAN_BUILD SANITIZE=thread) and runs 8 threads x 50
# routed requests, each thread on its own reused handle, while another
# process republishes the routing table every few milliseconds, so the
# shim's record table, table view and refresh run concurrently.  Then the
# multi, dup and reset modes of multi_client.  Any ThreadSanitizer report
# fails the test (halt_on_error=1).  The TSan runtime comes from the
# programs themselves, so LD_PRELOAD names only the shim.
# needs: unsanitized (it builds its own ThreadSanitizer copy)
. "$(dirname "$0")/lib.sh"
lr_setup tsan

# Under $BUILD, so .gitignore and `make clean` cover it.
TSAN_BUILD=${TSAN_BUILD:-$BUILD/tsan}
TLIB=$TSAN_BUILD/libllmroute.so
TTHREADS=$TSAN_BUILD/tests/threads_client
TMULTI=$TSAN_BUILD/tests/multi_client
URL=https://api.openai.com/v1/chat/completions
TSAN_OPTIONS=halt_on_error=1:report_signal_unsafe=0
export TSAN_OPTIONS

# WERROR is cleared: gcc warns that TSan does not model atomic_thread_fence
# (router/lr_shm.c), which is expected here.
if ! make -s -C "$ROOT" BUILD="$TSAN_BUILD" SANITIZE=thread WERROR= \
	"$TLIB" "$TTHREADS" "$TMULTI" >"$T/make.log" 2>&1; then
	sed 's/^/  make: /' "$T/make.log" >&2
	fail "build the shim and the test programs with -fsanitize=thread"
	exit 1
fi
ok "built the shim and the test programs with -fsanitize=thread"

# tsan OUT CMD...: run CMD with the TSan shim, stdout to OUT, stderr to
# $T/err.  Some kernels randomize mmap more widely than TSan's memory layout
# allows: then retry once with randomization off.
tsan() {
	out=$1
	shift
	LD_PRELOAD=$TLIB "$@" >"$out" 2>"$T/err"
	rc=$?
	if grep -q "unexpected memory mapping" "$T/err" && command -v setarch >/dev/null; then
		setarch "$(uname -m)" -R env LD_PRELOAD="$TLIB" "$@" >"$out" 2>"$T/err"
		rc=$?
	fi
	return "$rc"
}

# no_report WHAT: stderr of the last run holds no ThreadSanitizer report.
no_report() {
	if grep -q "ThreadSanitizer" "$T/err"; then
		sed -n '/ThreadSanitizer/,+60p' "$T/err" | head -80 >&2
		fail "$1: ThreadSanitizer reported nothing"
	else
		ok "$1: ThreadSanitizer reported nothing"
	fi
}

start_mock
rules='{"version": 1, "routes": [
 {"name": "mini", "match": {"model": "gpt-4*"},
  "set": {"model": "gpt-4o-mini", "endpoint": "'"$MOCK"'/v1"}},
 {"name": "no-o1", "match": {"model": "o1-pro"}, "deny": "o1-pro is not allowed here"},
 {"name": "claude", "match": {"model": "claude-*"}, "set": {"endpoint": "'"$MOCK"'/v1"}}]}'
load_rules "$rules"

# The same rules, republished (a new generation each time) during the run.
(
	while [ ! -f "$T/stop" ]; do
		"$CTL" load "$T/rules.json" >/dev/null 2>>"$T/reload.err"
		sleep 0.02
	done
) &
reloader=$!

n0=$(mock_count)
LLMROUTE_LOG=debug tsan "$T/out" "$TTHREADS" "$URL" 8 50
rc=$?
touch "$T/stop"
wait "$reloader"
echo "  threads: $(cat "$T/out")"
check "threads: exit status 0" [ "$rc" -eq 0 ]
check "threads: ok 400 bad 0" grep -qx "ok 400 bad 0" "$T/out"
check "threads: the mock logged 400 requests" [ "$(($(mock_count) - n0))" -eq 400 ]
refreshes=$(grep -c "llmroute.*: debug: table .* generation [0-9]*: " "$T/err")
echo "  threads: the shim took up $refreshes table generations during the run"
check "threads: the table was swapped while requests ran (more than one generation)" \
	[ "$refreshes" -gt 1 ]
check "threads: every republish worked" [ ! -s "$T/reload.err" ]
no_report "threads"

for mode in multi dup reset; do
	tsan "$T/$mode.out" "$TMULTI" "$URL" "$mode" "$MOCK/echo"
	check "$mode: exit status 0" [ $? -eq 0 ]
	no_report "$mode"
done
# routed_count FILE: how many transfers in FILE were answered as gpt-4o-mini.
routed_count() {
	grep -c "^handle [0-9] result 0 http 200 body-model gpt-4o-mini\$" "$1"
}
check "multi: two transfers routed" [ "$(routed_count "$T/multi.out")" -eq 2 ]
check "multi: the o1-pro transfer denied" \
	grep -q "^handle 2 result 9 http 0 body-model - error llmroute: denied by route no-o1" "$T/multi.out"
check "dup: all five LLM transfers routed" [ "$(routed_count "$T/dup.out")" -eq 5 ]
check "dup: the COPYPOSTFIELDS copy sent its body unchanged" grep -qx "dup-echo-identical yes" "$T/dup.out"
check "reset: the echo body came back unchanged" grep -qx "echo-identical yes" "$T/reset.out"
