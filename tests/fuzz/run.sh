#!/bin/sh
# tests/fuzz/run.sh - build and run the libFuzzer target for the JSON scanner
# and body rewriter (tests/fuzz/fuzz_body.c).
#
#   BUILD=build FUZZ_SECONDS=20 sh tests/fuzz/run.sh
#
# Builds into $BUILD/fuzz/, seeds $BUILD/fuzz/corpus_body from
# tests/data/bodies (the corpus directory is kept and grows across runs),
# and fuzzes for FUZZ_SECONDS.  Exit status: 0 if nothing was found, the
# fuzzer's non-zero status if it found a crash, leak, timeout or broken
# invariant (the reproducer is left in $BUILD/fuzz/ as crash-*, leak-*,
# timeout-*), 2 if the target could not be built.  Runs from the repo root.
set -eu

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
FUZZ_CC=${FUZZ_CC:-clang}
out="$BUILD/fuzz"
corpus="$out/corpus_body"

mkdir -p "$corpus"
if ! "$FUZZ_CC" -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Irouter tests/fuzz/fuzz_body.c router/lr_body.c router/lr_json.c \
	router/lr_error.c -o "$out/fuzz_body" -lm; then
	echo "run.sh: cannot build the fuzzer (needs clang with libFuzzer)" >&2
	exit 2
fi

for f in tests/data/bodies/*.json tests/data/bodies/*.expected; do
	[ -f "$f" ] && cp "$f" "$corpus/seed-$(basename "$f")"
done

# Tokens that take the fuzzer past the structure quickly.
cat > "$out/json.dict" <<'EOF'
"{"
"}"
"["
"]"
":"
","
"\""
"\\u"
"\\ud83d\\ude00"
"true"
"false"
"null"
"-0.0e+1"
"\"model\""
"\"mod\\u0065l\""
"\"max_tokens\""
"\"temperature\""
"\"messages\""
"\xef\xbb\xbf"
"\xf0\x9f\x98\x80"
EOF

status=0
"$out/fuzz_body" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
	-artifact_prefix="$out/" -dict="$out/json.dict" -print_final_stats=1 \
	"$corpus" || status=$?
if [ "$status" -ne 0 ]; then
	echo "run.sh: fuzz_body found a problem (exit $status); see $out/" >&2
fi
exit "$status"
