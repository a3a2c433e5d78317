# t_fuzz.sh - a short libFuzzer run of the body rewriter and JSON scanner
# (tests/fuzz/fuzz_body.c), the usage parser (fuzz_usage.c) and the
# HTTP/1.1 request and response framers (fuzz_http.c, fuzz_http_resp.c) and
# the format translator (fuzz_xlate.c), the stream splicer (fuzz_splice.c)
# the served path's answer translator (fuzz_xsink.c, shim/lr_xsink.c) and
# the guardrail detectors and redaction (fuzz_guard.c), 7 s each; `make
# fuzz` runs each for FUZZ_SECONDS (default 300).
# needs: unsanitized (it builds its own sanitized fuzzer)
cd "$(dirname "$0")/.." || exit 1
FUZZ_SECONDS=${FUZZ_SECONDS:-7} sh tests/fuzz/run.sh
