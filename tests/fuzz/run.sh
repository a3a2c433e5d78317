#!/bin/sh
# tests/fuzz/run.sh - build and run the libFuzzer targets: the JSON scanner
# and body rewriter (fuzz_body.c), the response usage parser
# (fuzz_usage.c), the HTTP/1.1 request framer (fuzz_http.c), the
# response framer (fuzz_http_resp.c), the format translator's answers,
# streams, requests and errors (fuzz_xlate.c) and the stream splicer
# (fuzz_splice.c) and the served path's answer translator, the sink in
# front of a served request (fuzz_xsink.c: shim/lr_xsink.c), each for
# FUZZ_SECONDS.
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

mkdir -p "$corpus" "$out/corpus_usage" "$out/corpus_http" "$out/corpus_resp" "$out/corpus_xlate" "$out/corpus_splice" "$out/corpus_xsink"

# build NAME SOURCES...: one libFuzzer binary in $out.
build() {
	name=$1
	shift
	if ! "$FUZZ_CC" -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Irouter "$@" -o "$out/$name" -lm; then
		echo "run.sh: cannot build $name (needs clang with libFuzzer)" >&2
		exit 2
	fi
}
build fuzz_body tests/fuzz/fuzz_body.c router/lr_body.c router/lr_json.c router/lr_error.c router/lr_extract.c
build fuzz_usage tests/fuzz/fuzz_usage.c router/lr_usage.c router/lr_usage_keys.c router/lr_json.c router/lr_error.c \
	router/lr_detect.c router/lr_url.c router/lr_body.c router/lr_request.c router/lr_match.c \
	router/lr_glob.c router/lr_route_index.c router/lr_extract.c
build fuzz_http tests/fuzz/fuzz_http.c router/lr_http.c router/lr_cred.c router/lr_json.c router/lr_error.c
build fuzz_http_resp tests/fuzz/fuzz_http_resp.c router/lr_http_resp.c router/lr_error.c
build fuzz_xlate tests/fuzz/fuzz_xlate.c router/lr_xlate.c router/lr_xlate_openai.c \
	router/lr_xlate_anthropic.c router/lr_xlate_gemini.c router/lr_xlate_ollama.c \
	router/lr_xlate_responses.c router/lr_json.c router/lr_error.c
build fuzz_splice tests/fuzz/fuzz_splice.c router/lr_splice.c router/lr_splice_body.c \
	router/lr_splice_more.c router/lr_json.c router/lr_error.c
build fuzz_guard tests/fuzz/fuzz_guard.c router/lr_guard.c router/lr_redact.c router/lr_redact_stream.c router/lr_error.c \
	router/lr_xlate.c router/lr_xlate_openai.c router/lr_xlate_anthropic.c router/lr_xlate_gemini.c \
	router/lr_xlate_ollama.c router/lr_xlate_responses.c router/lr_json.c
build fuzz_xsink -Ishim tests/fuzz/fuzz_xsink.c shim/lr_xsink.c router/lr_xlate.c router/lr_xlate_openai.c \
	router/lr_xlate_anthropic.c router/lr_xlate_gemini.c router/lr_xlate_ollama.c \
	router/lr_xlate_responses.c router/lr_json.c router/lr_error.c router/lr_redact.c router/lr_redact_stream.c \
	router/lr_guard.c

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

# The usage parser starts from the mock's real answers, if a test left some.
printf '\001{"model":"m","usage":{"prompt_tokens":3,"completion_tokens":4}}' >"$out/corpus_usage/seed-openai"
printf '\012data: {"type":"message_delta","usage":{"output_tokens":4}}\n\n' >"$out/corpus_usage/seed-sse"

# HTTP framer seeds: a flags byte (1 = hold; 073 = hold + body + replace
# key + target + host), a split seed, then the stream.
printf '\001\045POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer k\r\nContent-Length: 17\r\n\r\n{"model":"gpt-4"}' >"$out/corpus_http/seed-cl"
printf '\073\011POST /v1/messages HTTP/1.1\r\nx-api-key: k\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\nGET / HTTP/1.0\n\n' >"$out/corpus_http/seed-chunked"
cat > "$out/http.dict" <<'EOF'
"\x0d\x0a\x0d\x0a"
" HTTP/1.1\x0d\x0a"
"Content-Length: "
"Transfer-Encoding: chunked\x0d\x0a"
"Expect: 100-continue\x0d\x0a"
"Authorization: Bearer "
"x-api-key: "
"Upgrade: "
"0\x0d\x0a\x0d\x0a"
"PRI * HTTP/2.0"
"\x16\x03\x01"
EOF

printf '\000\007HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n\r\n' >"$out/corpus_resp/seed-mixed"
printf '\001\003HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nHTTP/1.0 204 No\r\n\r\nHTTP/1.0 200 OK\r\n\r\nrest' >"$out/corpus_resp/seed-head"

# Translator seeds: app/target byte (app + 6 * target), mode byte (0 answer,
# 1 stream, 2 request, 3 error; 0x80 asks for usage), then the bytes.
printf '\022\000{"type":"message","content":[{"type":"text","text":"hi"},{"type":"tool_use","id":"t","name":"f","input":{"a":1}}],"stop_reason":"tool_use","usage":{"input_tokens":3,"output_tokens":4}}' >"$out/corpus_xlate/seed-answer"
printf '\003\201data: {"choices":[{"delta":{"content":"a","tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1}}\n\ndata: [DONE]\n\n' >"$out/corpus_xlate/seed-sse"
printf '\036\041event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":2}}}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"f"}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n' >"$out/corpus_xlate/seed-anthropic"
printf '\005\001{"model":"m","message":{"content":"a","tool_calls":[{"function":{"name":"f","arguments":{}}}]},"done":true,"done_reason":"stop"}\n' >"$out/corpus_xlate/seed-ndjson"
printf '\024\002{"model":"x","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"t"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"r"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"stream":true}' >"$out/corpus_xlate/seed-request"
printf '\003\003{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}' >"$out/corpus_xlate/seed-error"
cat > "$out/xlate.dict" <<'EOF'
"data: "
"event: "
"\x0a\x0a"
"[DONE]"
"\"type\""
"\"content\""
"\"text\""
"\"tool_calls\""
"\"arguments\""
"\"function\""
"\"index\""
"\"delta\""
"\"message_start\""
"\"content_block_start\""
"\"content_block_delta\""
"\"input_json_delta\""
"\"partial_json\""
"\"message_stop\""
"\"tool_use\""
"\"candidates\""
"\"parts\""
"\"functionCall\""
"\"finishReason\""
"\"done\""
"\"response.output_text.delta\""
"\"response.output_item.added\""
"\"response.completed\""
"\"function_call\""
"\"messages\""
"\"error\""
EOF
# Splicer seeds: format and slice byte, a cut stream, 0xff, its continuation.
printf '\000data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\ndata: {"error":{}}\n\n\377data: {"choices":[{"delta":{"content":"lo"}}],"usage":{"completion_tokens":2,"total_tokens":5}}\n\ndata: [DONE]\n\n' >"$out/corpus_splice/seed-openai"
printf '\005event: message_start\ndata: {"type":"message_start"}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text"}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a \\u00e9 "}}\n\n\377event: message_start\ndata: {"type":"message_start"}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text"}}\n\nevent: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":3}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n' >"$out/corpus_splice/seed-anthropic"

# Served-answer seeds: formats byte, status/stream/end byte, slice byte,
# head length, the head lines, the body.
printf '\003\000\005\057Content-Type: application/json\r\nRetry-After: 1\r\n{"type":"message","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":4}}' >"$out/corpus_xsink/seed-held"
printf '\022\020\003\047Content-Type: text/event-stream\nX-Req: 1\n\ndata: {"choices":[{"delta":{"content":"a"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n' >"$out/corpus_xsink/seed-stream"
printf '\003\011\001\000{"error":{"message":"slow down","type":"rate_limit_exceeded"}}' >"$out/corpus_xsink/seed-429"
printf '\000\020\303\047Content-Type: text/event-stream\nX-Req: 1\n\ndata: {"choices":[{"delta":{"content":"[EMA"}}]}\n\ndata: {"choices":[{"delta":{"content":"IL_1]"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n' >"$out/corpus_xsink/seed-restore-stream"
printf '\000\000\302\000{"choices":[{"message":{"content":"to [EMAIL_1] or [PHONE_1]"}}]}' >"$out/corpus_xsink/seed-restore-held"

status=0
for name in fuzz_body fuzz_usage fuzz_http fuzz_http_resp fuzz_xlate fuzz_splice fuzz_xsink fuzz_guard; do
	c=$corpus
	d=$out/json.dict
	[ "$name" = fuzz_usage ] && c=$out/corpus_usage
	[ "$name" = fuzz_http ] && c=$out/corpus_http && d=$out/http.dict
	[ "$name" = fuzz_http_resp ] && c=$out/corpus_resp && d=$out/http.dict
	[ "$name" = fuzz_xlate ] && c=$out/corpus_xlate && d=$out/xlate.dict
	[ "$name" = fuzz_splice ] && c=$out/corpus_splice && d=$out/xlate.dict
	[ "$name" = fuzz_xsink ] && c=$out/corpus_xsink && d=$out/xlate.dict
	"$out/$name" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
		-artifact_prefix="$out/$name-" -dict="$d" -print_final_stats=1 \
		"$c" || status=$?
	if [ "$status" -ne 0 ]; then
		echo "run.sh: $name found a problem (exit $status); see $out/" >&2
		exit "$status"
	fi
done
exit 0
