#!/bin/sh
# run.sh - `make bench`: the engine micro-benchmarks ($BUILD/tests/bench)
# and the whole-process cost of the shim in real curl processes against the
# mock upstream (tools/mock_upstream.py).
#
#   5. REQS sequential keep-alive chat requests in one curl process (one -K
#      config, `next` between requests): (a) under the shim, sent to
#      api.openai.com and routed to the mock by the table; (b) without the
#      shim, sent straight to the mock with the body (a) ends up sending.
#      Target: median(a) / median(b) <= 1.05.
#   6. REQS sequential non-LLM requests (POST /echo), with and without the
#      shim (table loaded, nothing detected): both medians and the gap.
#   7. Instructions per request (callgrind), when valgrind is installed.
#   8. The shim's cost per write() on a TCP socket carrying no LLM traffic
#      (tests/progs/bench_sockwrite.c).  Target: < 50 ns median.
#   9. REQS sequential keep-alive requests from Python's http.client, (a)
#      under the shim with the model rewritten on the socket, (b) without
#      it, sending the rewritten model itself.  Target: ratio <= 1.05.
#      9b: the same per-request cost with a C client and server, where
#      nothing else moves (tests/progs/bench_sockreq.c).
#  10. A response cache hit for a ~4 KB answer, seen by a C libcurl app:
#      curl_easy_perform to its return, the answer through the app's write
#      callback (tests/progs/bench_cachehit.c).  Target: < 50 us median.
#  11. An HTTPS request moved to another host, sent by the shim's own client
#      (libcurl) while the app reads the answer through its SSL_read, against
#      the same request sent straight to that host: a C OpenSSL client and
#      two in-process TLS servers (tests/progs/bench_tlsmove.c), 2000
#      keep-alive requests a run, 5 alternating pairs.  Target: at most
#      100 us added per request.
#  12. The router's pieces in instructions (callgrind, tests/bench/bench_instr.c,
#      when valgrind is installed), each beside its target: the decision on
#      10,000 routes against 1 route (<= 2x), a 200-event stream's usage
#      (<= 100k), a 1 MB body (<= 3 per byte), a 242-byte answer's usage.
#  13. `llmroutectl load` of 10,000 routes on literal models and hosts.
#      Target: < 0.2 s.
#
# Uses hyperfine when it is installed (never installs it), else a loop
# timed with `date +%s%N`, runs alternating.  Timing never fails the run:
# the exit status is 1 only when something breaks (missing build product or
# program, mock not starting, a curl failing, requests not all reaching the
# mock, which is how an unrouted request shows).
# Environment: BUILD (build), BENCH_RUNS (15 per variant), BENCH_REQS (500),
# BENCH_NO_HYPERFINE=1 (use the date loop even with hyperfine installed),
# BENCH_ONLY="engine routed echo instructions instr load10k sockwrite python
# sockreq cachehit tlsmove" (a subset, by name).
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
PY=/usr/bin/python3
LIB=$BUILD/libllmroute.so
CTL=$BUILD/llmroutectl
BENCH=$BUILD/tests/bench
RUNS=${BENCH_RUNS:-15}
REQS=${BENCH_REQS:-500}
T=""
mock_pid=""

want() { # NAME: whether BENCH_ONLY (if set) names it
	[ -z "${BENCH_ONLY:-}" ] && return 0
	case " $BENCH_ONLY " in *" $1 "*) return 0 ;; esac
	return 1
}
die() {
	echo "bench: $*" >&2
	exit 1
}

cleanup() {
	[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
	[ -n "$T" ] && "$CTL" unload --force >/dev/null 2>&1
	[ -n "$T" ] && rm -rf "$T"
}

machine() {
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	echo "llmroute benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $(uname -sr)," \
		"load average $(cut -d ' ' -f 1-3 /proc/loadavg)"
}

# As tests/lib.sh does.
start_mock() {
	"$PY" "$ROOT/tools/mock_upstream.py" --port-file "$T/mock.port" --log "$T/mock.log" \
		2>"$T/mock.err" &
	mock_pid=$!
	i=0
	while [ ! -s "$T/mock.port" ]; do
		i=$((i + 1))
		if [ "$i" -gt 100 ] || ! kill -0 "$mock_pid" 2>/dev/null; then
			cat "$T/mock.err" >&2
			die "the mock upstream did not start"
		fi
		sleep 0.05
	done
	MOCK_PORT=$(cat "$T/mock.port")
}

# ratios A B: the ratio of the medians of $T/A.ns over $T/B.ns against the
# 1.05 target, and the median of the run-by-run ratios.
ratios() {
	awk -v a="$(median "$T/$1.ns")" -v b="$(median "$T/$2.ns")" 'BEGIN {
		printf "  %-48s %6.3f          target <= 1.05  %s\n", "ratio of the medians (a)/(b)", a / b,
			(a / b <= 1.05 ? "ok" : "OVER TARGET") }'
	paste "$T/$1.ns" "$T/$2.ns" | awk '{ printf "%.6f\n", $1 / $2 }' >"$T/$1.ratio"
	awk -v r="$(sort -n "$T/$1.ratio" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" 'BEGIN {
		printf "  %-48s %6.3f          (run i of (a) over run i of (b))\n", "median of the paired ratios", r }'
}

mock_count() {
	if [ -f "$T/mock.log" ]; then wc -l <"$T/mock.log" | tr -d ' '; else echo 0; fi
}

# gen_config URL MODEL: REQS requests for one curl process, `next` between.
gen_config() {
	awk -v url="$1" -v model="$2" -v n="$REQS" 'BEGIN {
		for (i = 0; i < n; i++) {
			if (i)
				print "next"
			printf "url = \"%s\"\n", url
			printf "data = \"{\\\"model\\\":\\\"%s\\\",\\\"messages\\\":[{\\\"role\\\":\\\"system\\\",", model
			printf "\\\"content\\\":\\\"You are terse.\\\"},{\\\"role\\\":\\\"user\\\",\\\"content\\\":"
			printf "\\\"Say hello, request %d.\\\"}],\\\"temperature\\\":0.2}\"\n", i
			print "header = \"Content-Type: application/json\""
			print "fail"
		}
	}'
}

# run_curl SHIM CONFIG: one curl process, with the shim preloaded if SHIM=1.
# `env` on both sides so both pay the same exec.
run_curl() {
	if [ "$1" = 1 ]; then
		env LD_PRELOAD="$LIB" curl -sS --fail-early -K "$2"
	else
		env -u LD_PRELOAD curl -sS --fail-early -K "$2"
	fi
}

# timed NAME SHIM CONFIG [warm-up]: one run, checked; its wall time (ns)
# appended to $T/NAME.ns unless it is a warm-up.
timed() {
	before=$(mock_count)
	t0=$(date +%s%N)
	run_curl "$2" "$3" >/dev/null 2>"$T/curl.err"
	rc=$?
	t1=$(date +%s%N)
	if [ "$rc" -ne 0 ]; then
		cat "$T/curl.err" >&2
		die "$1${4:+ $4}: curl exited $rc"
	fi
	got=$(($(mock_count) - before))
	[ "$got" -eq "$REQS" ] || die "$1${4:+ $4}: the mock got $got of $REQS requests (not routed?)"
	[ -n "${4:-}" ] || echo $((t1 - t0)) >>"$T/$1.ns"
}

# compare A_NAME A_SHIM A_CONFIG B_NAME B_SHIM B_CONFIG: a warm-up of each,
# then RUNS of each, alternating which goes first.
compare() {
	if command -v hyperfine >/dev/null 2>&1 && [ -z "${BENCH_NO_HYPERFINE:-}" ]; then
		compare_hyperfine "$@"
		return
	fi
	timed "$1" "$2" "$3" warm-up
	timed "$4" "$5" "$6" warm-up
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		if [ $((i % 2)) -eq 0 ]; then
			timed "$1" "$2" "$3"
			timed "$4" "$5" "$6"
		else
			timed "$4" "$5" "$6"
			timed "$1" "$2" "$3"
		fi
		i=$((i + 1))
	done
}

hf_cmd() { # SHIM CONFIG: the command line for hyperfine -N
	if [ "$1" = 1 ]; then
		echo "env LD_PRELOAD=$LIB curl -sS --fail-early -K $2"
	else
		echo "env -u LD_PRELOAD curl -sS --fail-early -K $2"
	fi
}

compare_hyperfine() {
	before=$(mock_count)
	if ! hyperfine -N --style basic --warmup 1 --runs "$RUNS" --export-json "$T/hf.json" \
		-n "$1" "$(hf_cmd "$2" "$3")" -n "$4" "$(hf_cmd "$5" "$6")" >"$T/hf.out" 2>&1; then
		cat "$T/hf.out" >&2
		die "hyperfine failed"
	fi
	got=$(($(mock_count) - before))
	want=$((2 * (RUNS + 1) * REQS))
	[ "$got" -eq "$want" ] || die "the mock got $got of $want requests (not routed?)"
	"$PY" - "$T/hf.json" "$T" <<'EOF' || die "cannot read hyperfine's results"
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    with open("%s/%s.ns" % (sys.argv[2], r["command"]), "w") as f:
        f.writelines("%d\n" % round(t * 1e9) for t in r["times"])
EOF
}

median() { # FILE of numbers: the median
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		if (NR % 2) printf "%.0f\n", v[(NR + 1) / 2]
		else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# line LABEL NAME: median of NAME's runs in ms, per request, and every run.
line() {
	m=$(median "$T/$2.ns")
	runs=$(sort -n "$T/$2.ns" | awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $1 / 1e6 }')
	awk -v l="$1" -v m="$m" -v n="$REQS" -v r="$runs" 'BEGIN {
		printf "  %-48s median %9.1f ms  (%6.3f ms/request)  runs: %s ms\n",
			l, m / 1e6, m / 1e6 / n, r }'
}

bench_routed() {
	gen_config "https://api.openai.com/v1/chat/completions" gpt-4o >"$T/routed.cfg"
	gen_config "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" gpt-4o-mini >"$T/direct.cfg"
	echo
	echo "5. $REQS sequential keep-alive chat requests, one curl process (-K config), mock upstream;" \
		"median of $RUNS runs each"
	compare routed 1 "$T/routed.cfg" direct 0 "$T/direct.cfg"
	last=$(tail -n 1 "$T/mock.log")
	case $last in
	*'"model": "gpt-4o-mini"'*) ;;
	*) die "the routed request did not reach the mock as gpt-4o-mini: $last" ;;
	esac
	line "(a) shim, api.openai.com routed by the table" routed
	line "(b) no shim, straight to the mock" direct
	ratios routed direct
}

bench_echo() {
	gen_config "http://127.0.0.1:$MOCK_PORT/echo" gpt-4o >"$T/echo.cfg"
	echo
	echo "6. $REQS sequential non-LLM requests (POST /echo), one curl process, table loaded;" \
		"median of $RUNS runs each"
	compare echo_shim 1 "$T/echo.cfg" echo_plain 0 "$T/echo.cfg"
	line "with the shim (nothing detected)" echo_shim
	line "without the shim" echo_plain
	awk -v a="$(median "$T/echo_shim.ns")" -v b="$(median "$T/echo_plain.ns")" -v n="$REQS" 'BEGIN {
		printf "  %-48s %+8.1f ms  (%+.1f us/request, %+.1f%%)\n", "difference", (a - b) / 1e6,
			(a - b) / 1e3 / n, (a - b) / b * 100 }'
}

[ -x "$BENCH" ] || die "$BENCH is missing (make bench builds it)"
if [ ! -f "$LIB" ] || [ ! -x "$CTL" ]; then
	die "$LIB or $CTL is missing (make all)"
fi
for p in curl "$PY" openssl; do
	command -v "$p" >/dev/null 2>&1 || die "$p is missing (sh tools/deps.sh test)"
done

machine
echo
echo "Engine ($BENCH: router objects only, no shim; median and p99 over batches, per call)"
if want engine; then "$BENCH" || die "the engine benchmark failed"; fi

T=$(mktemp -d /tmp/llmroute-bench.XXXXXX) || exit 1
LLMROUTE_TABLE="/lrbench-run-$$"
LLMROUTE_LOG=error
export LLMROUTE_TABLE LLMROUTE_LOG
unset LLMROUTE_AUDIT LLMROUTE_DISABLE
trap cleanup EXIT
trap 'exit 1' INT TERM

echo
if command -v hyperfine >/dev/null 2>&1 && [ -z "${BENCH_NO_HYPERFINE:-}" ]; then
	echo "Whole process (curl $(curl --version | awk 'NR == 1 { print $2 }'), timed with $(hyperfine --version))"
else
	echo "Whole process (curl $(curl --version | awk 'NR == 1 { print $2 }'), timed with date +%s%N; runs alternate)"
fi
start_mock
printf '{"routes":[{"name":"openai-to-mock","match":{"host":"api.openai.com"},"set":{"endpoint":"http://127.0.0.1:%s/v1","model":"gpt-4o-mini"}}]}\n' \
	"$MOCK_PORT" >"$T/rules.json"
"$CTL" load "$T/rules.json" >/dev/null || die "cannot load the rules"
echo "  mock upstream: Python, 127.0.0.1:$MOCK_PORT (its per-request cost dominates and is the same for both)"
want routed && bench_routed
want echo && bench_echo

# 7. What the shim costs per request in instructions (callgrind counts
# instructions, so this does not move with the machine's load): the
# difference between a 50-request and a 10-request run of one curl process,
# per request, with the shim (routed and counted) and without.
instructions() { # SHIM CONFIG -> total instructions of the curl process
	rm -f "$T"/cg.*
	if [ "$1" = 1 ]; then
		valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$T/cg.%p" \
			env LD_PRELOAD="$LIB" curl -sS -K "$2" >/dev/null 2>&1
	else
		valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$T/cg.%p" \
			env -u LD_PRELOAD curl -sS -K "$2" >/dev/null 2>&1
	fi
	f=$(ls -S "$T"/cg.* | head -n 1)
	callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}
bench_instructions() {
	command -v valgrind >/dev/null 2>&1 || { echo "7. (valgrind not installed: instruction counts skipped)"; return; }
	for n in 10 50; do
		REQS=$n gen_config "https://api.openai.com/v1/chat/completions" gpt-4o >"$T/i$n-routed.conf"
		REQS=$n gen_config "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" gpt-4o-mini >"$T/i$n-direct.conf"
	done
	a10=$(instructions 1 "$T/i10-routed.conf"); a50=$(instructions 1 "$T/i50-routed.conf")
	b10=$(instructions 0 "$T/i10-direct.conf"); b50=$(instructions 0 "$T/i50-direct.conf")
	echo
	echo "7. Instructions per request in the curl process (callgrind, (50-run - 10-run) / 40)"
	awk -v a10="$a10" -v a50="$a50" -v b10="$b10" -v b50="$b50" 'BEGIN {
		a = (a50 - a10) / 40; b = (b50 - b10) / 40
		printf "  %-48s %9.0f instructions\n", "with the shim (routed, counted)", a
		printf "  %-48s %9.0f instructions\n", "without the shim", b
		printf "  %-48s %9.0f instructions (%+.1f%% of the client side)\n", "added by the shim", a - b, (a - b) * 100 / b
		printf "  %-48s %9.0f instructions\n", "added once, at process start", (a10 - 10 * a) - (b10 - 10 * b) }'
}
want instructions && bench_instructions

bench_sockwrite() {
	echo
	echo "8. Added cost of write() on a TCP socket that carries no LLM traffic" \
		"(zero-byte writes, hook vs libc's write, median of 301 batches of 2000)"
	for i in 1 2 3; do
		LD_PRELOAD="$LIB" "$BUILD/tests/bench_sockwrite" || die "bench_sockwrite failed"
	done | sort -n -k 3 | sed -n 2p | awk '{
		printf "  %-48s %6.1f ns\n  %-48s %6.1f ns\n  %-48s %6.1f ns   target < 50  %s\n",
			"write() through the shim", $1, "libc write()", $2, "added by the shim (middle of 3 runs)", $3,
			($3 < 50 ? "ok" : "OVER TARGET") }'
}

load_mini() { # the model rewrite on 127.0.0.1 that items 9 and 9b route by
	printf '{"routes":[{"name":"py-mini","match":{"host":"127.0.0.1","model":"gpt-4o"},"set":{"model":"gpt-4o-mini"}}]}\n' \
		>"$T/py-rules.json"
	"$CTL" load "$T/py-rules.json" >/dev/null || die "cannot load the rules"
}
bench_python() {
	url=http://127.0.0.1:$MOCK_PORT/v1/chat/completions
	load_mini
	echo
	echo "9. $REQS sequential keep-alive requests from Python http.client, one process;" \
		"median of $RUNS runs each, alternating"
	i=0
	while [ "$i" -le "$RUNS" ]; do
		a=$(env LD_PRELOAD="$LIB" "$PY" "$ROOT/tests/bench/py_keepalive.py" "$url" gpt-4o "$REQS") ||
			die "python under the shim failed"
		b=$(env -u LD_PRELOAD "$PY" "$ROOT/tests/bench/py_keepalive.py" "$url" gpt-4o-mini "$REQS") ||
			die "python without the shim failed"
		if [ "$i" -gt 0 ]; then # the first pair warms up
			echo "$a" >>"$T/py_shim.ns"
			echo "$b" >>"$T/py_plain.ns"
		fi
		i=$((i + 1))
	done
	line "(a) shim, model rewritten on the socket" py_shim
	line "(b) no shim" py_plain
	ratios py_shim py_plain
}

# 9b. The same cost without the Python mock's noise: a C client and a C
# server thread in one process (tests/progs/bench_sockreq.c), 4000
# keep-alive requests, routed on the socket vs not; 5 alternating pairs.
bench_sockreq() {
	load_mini
	echo
	echo "9b. Per request, C client + in-process C server over loopback TCP (median of batches of 50;" \
		"middle of 5 alternating runs)"
	: >"$T/sr_a"
	: >"$T/sr_b"
	for i in 1 2 3 4 5; do
		env LD_PRELOAD="$LIB" "$BUILD/tests/bench_sockreq" 4000 gpt-4o-mini >>"$T/sr_a" ||
			die "bench_sockreq under the shim failed (not routed?)"
		env -u LD_PRELOAD "$BUILD/tests/bench_sockreq" 4000 gpt-4o >>"$T/sr_b" ||
			die "bench_sockreq failed"
	done
	awk -v a="$(median "$T/sr_a")" -v b="$(median "$T/sr_b")" 'BEGIN {
		printf "  %-48s %8.1f us\n  %-48s %8.1f us\n  %-48s %+8.1f us per request\n",
			"routed and counted by the shim", a / 1e3, "no shim", b / 1e3, "added by the shim", (a - b) / 1e3 }'
}
# 10. A cache hit: the first request fills the cache with a ~4 KB answer
# (the mock's long=4096 fault), 2000 more are served from it.
bench_cachehit() {
	echo
	echo "10. A response cache hit, 4 KB answer, C libcurl app (curl_easy_perform to return; 2000 hits)"
	printf '{"routes":[{"name":"cached","match":{"model":"app-cached"},"set":{"model":"bench-cached","endpoint":"http://127.0.0.1:%s/v1"},"cache":{"ttl_s":600,"max_temperature":0}}]}\n' \
		"$MOCK_PORT" >"$T/rules-cache.json"
	"$CTL" load "$T/rules-cache.json" >/dev/null || die "cannot load the cache rules"
	"$CTL" cache clear >/dev/null
	curl -sS -o /dev/null -X POST "http://127.0.0.1:$MOCK_PORT/_mock/fault" \
		-d '{"match":"model=bench-cached","fault":"long=4096","count":1}' || die "mock fault"
	before=$(mock_count)
	out=$(env LD_PRELOAD="$LIB" "$BUILD/tests/bench_cachehit" "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" \
		2000 4096) || die "bench_cachehit failed"
	[ "$(($(mock_count) - before))" -eq 1 ] || die "cache hits reached the mock"
	echo "$out" | awk '{ printf "  %-48s %8.1f us (p99 %.1f us), answer %d bytes; target < 50 us\n",
		"served from the cache (median)", $1, $2, $3 }'
	"$CTL" cache stats | sed 's/^/  /' | grep -E 'hits|entries'
	"$CTL" cache clear >/dev/null
}
# 11. A TLS request moved by the shim to another host: server A gets the
# app's connection and nothing else, B every request, through the shim's
# own client (verified against the app's store, which trusts the throw-away
# certificate of both).  The program fails when B did not see all of them
# as bench-moved, or A saw one.
bench_tlsmove() {
	echo
	echo "11. Per request, an HTTPS request moved to another host by the shim's own client, C OpenSSL client" \
		"+ in-process TLS servers over loopback (median of batches of 50; middle of 5 alternating runs of 2000)"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls-key.pem" -out "$T/tls-cert.pem" -days 1 \
		-subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" 2>"$T/openssl.err" ||
		die "cannot make the certificate: $(cat "$T/openssl.err")"
	pb=$("$BUILD/tests/bench_tlsmove" port) || die "bench_tlsmove cannot find a free port"
	printf '{"routes":[{"name":"tlsmove","match":{"model":"app-moved"},"set":{"model":"bench-moved","endpoint":"https://127.0.0.1:%s/v1"}}]}\n' \
		"$pb" >"$T/rules-tls.json"
	"$CTL" load "$T/rules-tls.json" >/dev/null || die "cannot load the TLS rules"
	: >"$T/tm_a"
	: >"$T/tm_b"
	for i in 1 2 3 4 5; do
		if [ $((i % 2)) -eq 1 ]; then
			tm_moved
			tm_direct
		else
			tm_direct
			tm_moved
		fi
	done
	awk -v a="$(median_col tm_a 1)" -v b="$(median_col tm_b 1)" -v fa="$(median_col tm_a 2)" \
		-v fb="$(median_col tm_b 2)" -v c="$(cut -d ' ' -f 3 "$T/tm_a" | sort -un | tr '\n' ' ')" 'BEGIN {
		printf "  %-48s %8.1f us\n  %-48s %8.1f us\n", "moved by the shim (to A, sent to B)", a / 1e3,
			"direct to B, no shim", b / 1e3
		printf "  %-48s %+8.1f us per request   target <= 100 us  %s\n", "added by the shim", (a - b) / 1e3,
			((a - b) / 1e3 <= 100 ? "ok" : "OVER TARGET")
		printf "  %-48s %8.2f\n", "ratio of the medians moved / direct", a / b
		printf "  %-48s %8.1f ms moved (loads libcurl, handshake to B), %.1f ms direct\n",
			"first request (median; not in the batches)", fa / 1e6, fb / 1e6
		sub(/ +$/, "", c)
		printf "  %-48s %8s %s\n", "connections B accepted in a moved run", c,
			(c == "1" ? "(libcurl reused it for every request)" : "(libcurl did not reuse it)") }'
}
median_col() { # NAME COLUMN: the median of that column of $T/NAME
	cut -d ' ' -f "$2" "$T/$1" >"$T/$1.col"
	median "$T/$1.col"
}
tm_moved() {
	env LD_PRELOAD="$LIB" "$BUILD/tests/bench_tlsmove" moved 2000 "$T/tls-cert.pem" "$T/tls-key.pem" "$pb" \
		>>"$T/tm_a" || die "bench_tlsmove under the shim failed (not moved?)"
}
tm_direct() {
	env -u LD_PRELOAD "$BUILD/tests/bench_tlsmove" direct 2000 "$T/tls-cert.pem" "$T/tls-key.pem" "$pb" \
		>>"$T/tm_b" || die "bench_tlsmove failed"
}
# 12. bench_instr PIECE N under callgrind for two N: the difference, per N.
instr_piece() { # PIECE N1 N2 -> instructions per iteration
	a=$(instr_run "$1" "$2"); b=$(instr_run "$1" "$3")
	echo $(((b - a) / ($3 - $2)))
}
instr_run() {
	rm -f "$T"/bi.*
	valgrind --tool=callgrind --callgrind-out-file="$T/bi.out" "$BUILD/tests/bench_instr" "$1" "$2" \
		>/dev/null 2>&1 || die "bench_instr $1 failed"
	callgrind_annotate "$T/bi.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}
bench_router_instr() {
	echo
	command -v valgrind >/dev/null 2>&1 || { echo "12. (valgrind not installed: router instruction counts skipped)"; return; }
	[ -x "$BUILD/tests/bench_instr" ] || die "$BUILD/tests/bench_instr is missing (make bench builds it)"
	echo "12. The router's pieces, instructions per call (callgrind, tests/bench/bench_instr.c)"
	d1=$(instr_piece decide1 1 11); dk=$(instr_piece decide10k 1 11)
	st=$(instr_piece stream200 1 3); bo=$(instr_piece body1m 1 2); us=$(instr_piece usage242 1 21)
	awk -v d1="$d1" -v dk="$dk" -v st="$st" -v bo="$bo" -v us="$us" 'BEGIN {
		printf "  %-48s %9d instructions\n", "decision, 1 route", d1
		printf "  %-48s %9d instructions (%.2fx)  target <= 2x  %s\n", "decision, 10,000 routes (only the last matches)",
			dk, dk / d1, (dk <= 2 * d1 ? "ok" : "OVER TARGET")
		printf "  %-48s %9d instructions  target <= 100000  %s\n", "usage of a 200-event SSE stream", st,
			(st <= 100000 ? "ok" : "OVER TARGET")
		printf "  %-48s %9d instructions (%.2f per byte)  target <= 3  %s\n", "1 MB body: model, decision, stream, rewrite",
			bo, bo / 1048576, (bo / 1048576 <= 3 ? "ok" : "OVER TARGET")
		printf "  %-48s %9d instructions\n", "usage of a 242-byte answer", us }'
}
# 13. load of 10,000 routes, the middle of 3.
bench_load10k() {
	"$PY" -c 'import json, sys
r = [{"name": "r%d" % i, "match": {"model": "m%d" % i, "host": "h%d.example" % i}, "set": {"model": "x"}} for i in range(10000)]
json.dump({"routes": r}, sys.stdout)' >"$T/r10k.json"
	for i in 1 2 3; do
		t0=$(date +%s%N)
		"$CTL" load "$T/r10k.json" >/dev/null || die "cannot load 10,000 routes"
		echo $(($(date +%s%N) - t0))
	done | sort -n | sed -n 2p | awk '{ printf "\n13. llmroutectl load of 10,000 routes\n  %-48s %8.3f s   target < 0.2 s  %s\n",
		"middle of 3 runs", $1 / 1e9, ($1 < 2e8 ? "ok" : "OVER TARGET") }'
}
want instr && bench_router_instr
want load10k && bench_load10k
want sockwrite && bench_sockwrite
want python && bench_python
want sockreq && bench_sockreq
want cachehit && bench_cachehit
want tlsmove && bench_tlsmove
exit 0
