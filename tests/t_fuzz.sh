# t_fuzz.sh - a short libFuzzer run of the body rewriter and JSON scanner
# (tests/fuzz/fuzz_body.c); `make fuzz` runs a long one.
# needs: unsanitized (it builds its own sanitized fuzzer)
cd "$(dirname "$0")/.." || exit 1
FUZZ_SECONDS=${FUZZ_SECONDS:-20} sh tests/fuzz/run.sh
