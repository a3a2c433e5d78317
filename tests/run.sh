#!/bin/sh
# run.sh - run every test: the unit binaries in $BUILD/tests/test_* and the
# scripts tests/t_*.sh, each in its own process with a time limit.
# Prints one line per test and a closing "N passed, N failed" line; exits
# non-zero if any failed.  TESTS="t_curl test_router" runs a subset.
# With SANITIZE set, scripts that cannot run sanitized (they preload the
# shim into programs not built with the sanitizer) are skipped and counted.
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export BUILD
pass=0
failn=0
skip=0
failed_names=""
logdir=$(mktemp -d /tmp/llmroute-tests.XXXXXX)

run_one() { # NAME LIMIT CMD...
	name=$1
	limit=$2
	shift 2
	start=$(date +%s)
	if timeout -k 5 "$limit" "$@" >"$logdir/$name.log" 2>&1; then
		pass=$((pass + 1))
		echo "PASS $name ($(($(date +%s) - start))s)"
	else
		rc=$?
		failn=$((failn + 1))
		failed_names="$failed_names $name"
		echo "FAIL $name (exit $rc, $(($(date +%s) - start))s)"
		# What failed first (a CI log may keep only the end), then the tail.
		grep -n -A2 -e '^not ok' -e 'exited [0-9]' -e 'ERROR' "$logdir/$name.log" | head -n 30 | sed 's/^/  ! /'
		sed 's/^/    /' "$logdir/$name.log" | tail -n 40
	fi
}

wanted() {
	[ -z "${TESTS:-}" ] && return 0
	case " $TESTS " in *" $1 "*) return 0 ;; esac
	return 1
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	wanted "$n" || continue
	run_one "$n" 300 "$t"
done
for t in tests/t_*.sh; do
	n=$(basename "$t" .sh)
	wanted "$n" || continue
	if [ -n "${SANITIZE:-}" ] && grep -q '^# needs: unsanitized' "$t"; then
		skip=$((skip + 1))
		echo "SKIP $n ($(sed -n 's/^# needs: unsanitized *//p' "$t" | tr -d '()'))"
		continue
	fi
	run_one "$n" 600 sh "$t"
done
rm -rf "$logdir"
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$pass passed, $failn failed, $skip skipped"
[ "$failn" -eq 0 ]
