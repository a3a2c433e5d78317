# t_https.sh - the acceptance test of HTTPS programs on the system OpenSSL
# (issue 14): unmodified Python http.client, python3-requests, python3-httpx
# (HTTP/1.1), Ruby net/http and PHP streams, and the curl command line as the
# control (libcurl, which can do all of it today), each ask
# https://api.openai.com/v1/chat/completions with their own key, under the
# shim, in a private network where api.openai.com, alt.llm.test and
# far.llm.test are local mocks with certificates of a private CA that the
# system trust store holds (tests/lib_https.sh). Per client:
#   a  a model-only route on the same host (works over TLS today)
#   b  moved to another HTTPS host, with the route's key
#   c  moved to a plain http:// endpoint
#   d  the primary answers 503: the fallback at another host answers
#   e  429 with Retry-After: 1, then the same target answers
#   f  escalation: a cut answer (length) goes to a stronger target elsewhere
#   g  the response cache: a second run is answered with no request
#   h  a host-only route for a host where nothing listens at all: the
#      connection is claimed at connect and its TLS ends in the shim
#      (shim/lr_claim.h); a deny on that host still holds; with
#      LLMROUTE_TLS_CLAIM=off the app gets the refused connection it had
#   j  a route to a host whose certificate no trusted CA signed: refused
#   k  plain http:// to api.openai.com (the socket transport, not
#      redirected at connect): moved to https://alt.llm.test
#   l  plain http://: the primary (https) answers 503, the fallback answers
#   m  a route that changes nothing but names a fallback: the app's own
#      request answers 503, the fallback answers
#   o  the primary answers 503 once: retried at the same target after a
#      back-off, the app gets the primary's 200; then a 400 saying the
#      context is too long: moved to alt (a larger window); then a
#      content-policy-like 400: the app's, one attempt
#   s  (httpclient only) streams: the primary sends its head then nothing
#      (first_token_ms): alt's stream only; the primary's stream stalls
#      after its first text (idle_ms), or is reset: continued by alt, one
#      well-formed stream
#   i  keys: no route key at api.openai.com, the app's key at neither alt
#      nor far, on every path above; none in the audit
# Every check runs for every client.  LR_HTTPS_CHECKS="b d" and
# LR_HTTPS_CLIENTS="requests ruby" pick some.
# With a sanitized shim (SANITIZE set) only the Python clients run: Debian's
# curl hangs and PHP refuses RTLD_DEEPBIND under an ASan runtime, and the
# served path (lr_serve, lr_upstream) is the same for every client.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib_https.sh
. "$(dirname "$0")/lib_https.sh"
https_ns_enter "$@"
lr_setup https
# shellcheck disable=SC2034 # read by https_world and https_mocks
HTTPS_EXTRA_HOSTS="gone.llm.test=127.0.0.19"
# shellcheck disable=SC2034
HTTPS_ROGUE_HOSTS="rogue.llm.test=127.0.0.15"
https_world
https_mocks
A=$T/audit.jsonl
LLMROUTE_AUDIT=$A
OPENAI_API_KEY=sk-app-secret
ALT_KEY=sk-alt-route
FAR_KEY=sk-far-route
export LLMROUTE_AUDIT OPENAI_API_KEY ALT_KEY FAR_KEY
OAI=https://api.openai.com/v1/chat/completions

ALL_CHECKS="a b c d e f g h j k l m n o s i"
ALL_CLIENTS="httpclient requests httpx ruby php curl nodeint openaiint wgetint"
# Java's HttpClient (JSSE), when Java and keytool are there
command -v java >/dev/null && command -v keytool >/dev/null && ALL_CLIENTS="$ALL_CLIENTS javaint"
# Debian's own Node.js (tools/deps.sh unpacks it into tests/.debnode when
# /usr/bin/node is another build): TLS on the system libssl, on memory BIOs
DEBNODE=$ROOT/tests/.debnode/root
MULTIARCH=$(${CC:-cc} -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
if [ -x "$DEBNODE/usr/bin/node" ]; then
	ALL_CLIENTS="$ALL_CLIENTS debnode debnodeint"
else
	echo "t_https: Debian's Node.js is not unpacked in tests/.debnode (tools/deps.sh test): not run"
fi
if [ -n "${SANITIZE:-}" ]; then
	ALL_CLIENTS="httpclient requests httpx"
fi
CLIENTS=${LR_HTTPS_CLIENTS:-$ALL_CLIENTS}
# checks_for CLIENT: the checks that run for it.  The interception clients
# are about TLS: their plain http:// (k, l) is the socket transport's, tested
# with the others (and Java's is not served: a takeover swaps the socket
# under its epoll selector, which keeps watching the old one;
# docs/transports.md).  Node.js runs its TLS on
# memory BIOs, not on its socket: a request the connection cannot carry is
# not served by a takeover (the shim never sees the socket under the
# session), so it gets what the hooks do in-band (a: model, key, deny) and
# claimed hosts (h: the shim's TLS endpoint); its other cells are "not
# applied" (docs/transports.md).
checks_for() {
	if [ -n "${LR_HTTPS_CHECKS:-}" ]; then
		echo "$LR_HTTPS_CHECKS"
	elif [ "$1" = debnode ]; then
		echo "a h i"
	elif [ "$1" = javaint ] || [ "$1" = wgetint ] || [ "$1" = openaiint ] || [ "$1" = debnodeint ]; then
		echo "$ALL_CHECKS" | sed 's/ k l / /' # plain http: below
	else
		echo "$ALL_CHECKS"
	fi
}

cat >"$T/rules.json" <<'EOF'
{"targets": {
   "primary": {"model": "gpt-primary", "endpoint": "https://api.openai.com/v1", "context_window": 128000},
   "alt": {"model": "alt-model", "endpoint": "https://alt.llm.test/v1", "api_key_env": "ALT_KEY",
           "context_window": 1000000}},
 "cache": {"size_mb": 4, "max_entry_kb": 64},
 "routes": [
   {"name": "nodeny", "match": {"model": "app-deny"}, "deny": "app-deny is not allowed"},
   {"name": "gonedeny", "match": {"host": "gone.llm.test", "model": "app-gone-deny"}, "deny": "not on this host"},
   {"name": "nowhere", "match": {"host": "nowhere.llm.test"},
    "set": {"endpoint": "https://alt.llm.test/v1", "api_key_env": "ALT_KEY"}},
   {"name": "roguehost", "match": {"host": "rogue.llm.test"},
    "set": {"endpoint": "https://alt.llm.test/v1", "api_key_env": "ALT_KEY"}},
   {"name": "gone", "match": {"host": "gone.llm.test"},
    "set": {"endpoint": "https://alt.llm.test/v1", "api_key_env": "ALT_KEY"}},
   {"name": "mini", "match": {"host": "api.openai.com", "model": "app-mini"}, "set": {"model": "gpt-mini"}},
   {"name": "move", "match": {"model": "app-move"},
    "set": {"model": "alt-moved", "endpoint": "https://alt.llm.test/v1", "api_key_env": "ALT_KEY"}},
   {"name": "plain", "match": {"model": "app-plain"},
    "set": {"model": "far-model", "endpoint": "http://far.llm.test:80/v1", "api_key_env": "FAR_KEY"}},
   {"name": "fb", "match": {"model": "app-fb"}, "pool": {"targets": ["primary"]},
    "fallbacks": ["alt"], "retry_after_max_ms": 0, "retries": 0},
   {"name": "pfb", "match": {"model": "app-pfb"}, "fallbacks": ["alt"], "retry_after_max_ms": 0, "retries": 0},
   {"name": "rt", "match": {"model": "app-rt"}, "pool": {"targets": ["primary"]},
    "fallbacks": ["alt"], "retries": 1, "retry_backoff_ms": 50, "on_context_overflow": "larger"},
   {"name": "st", "match": {"model": "app-st"}, "pool": {"targets": ["primary"]}, "fallbacks": ["alt"],
    "first_token_ms": 500, "idle_ms": 500, "retries": 0},
   {"name": "ra", "match": {"model": "app-ra"}, "pool": {"targets": ["primary"]},
    "fallbacks": ["alt"], "retry_after_max_ms": 2000},
   {"name": "esc", "match": {"model": "app-esc"}, "pool": {"targets": ["primary"]},
    "escalate": {"when": ["length"], "to": ["alt"]}},
   {"name": "cached", "match": {"model": "app-cached"},
    "set": {"model": "alt-cached", "endpoint": "https://alt.llm.test/v1", "api_key_env": "ALT_KEY"},
    "cache": {"ttl_s": 600, "max_temperature": 0}},
   {"name": "rogue", "match": {"model": "app-rogue"},
    "set": {"endpoint": "https://rogue.llm.test/v1", "api_key_env": "ALT_KEY"}}]}
EOF
"$CTL" load "$T/rules.json" >/dev/null || exit 1

# --- the test bed itself ------------------------------------------------------
check "bed: the names resolve to their own loopback addresses" sh -c \
	"getent hosts api.openai.com | grep -q '^127.0.0.11 ' && getent hosts alt.llm.test | grep -q '^127.0.0.13 ' && getent hosts gone.llm.test | grep -q '^127.0.0.19 '"
check "bed: the default CA locations (Python ssl, certifi, OpenSSL, curl, Ruby, PHP) hold our CA only" \
	"$PY" - "$HTTPS_CA" <<'PYEOF'
import os, ssl, subprocess, sys
ca = open(sys.argv[1], "rb").read()
p = ssl.get_default_verify_paths()
files = {"python cafile": p.cafile, "openssl cafile": p.openssl_cafile}
import certifi
files["certifi (requests, httpx)"] = certifi.where()
for name, cmd in (("curl", ["curl-config", "--ca"]),
                  ("ruby", ["ruby", "-ropenssl", "-e", "print OpenSSL::X509::DEFAULT_CERT_FILE"]),
                  ("php", ["php", "-r", "echo openssl_get_cert_locations()['default_cert_file'];"])):
    try:
        files[name] = subprocess.run(cmd, capture_output=True, text=True).stdout.strip() or None
    except FileNotFoundError:
        pass
bad = []
for name, f in files.items():
    if not f or not os.path.isfile(f) or open(f, "rb").read() != ca:
        bad.append("%s: %s" % (name, f))
capath = p.openssl_capath
if sorted(open(os.path.join(capath, x), "rb").read() == ca for x in os.listdir(capath)) != [True] * 2:
    bad.append("capath %s: %s" % (capath, os.listdir(capath)))
if bad:
    sys.stderr.write("  not our CA: %s\n" % bad)
sys.exit(1 if bad else 0)
PYEOF
# shellcheck disable=SC2016 # $1 is expanded by sh -c
check "bed: curl, Python ssl, requests, httpx, Ruby and PHP reach https://api.openai.com with no CA option" sh -c '
	curl -sS --max-time 5 https://api.openai.com/_mock/health | grep -qx ok &&
	"$1" -c "
import ssl, urllib.request, requests, httpx
u = \"https://api.openai.com/_mock/health\"
assert urllib.request.urlopen(u, timeout=5).read() == b\"ok\"
assert requests.get(u, timeout=5).text == \"ok\"
assert httpx.get(u, timeout=5).text == \"ok\"" &&
	ruby -rnet/http -e "exit(Net::HTTP.get(URI(%q(https://api.openai.com/_mock/health))) == %q(ok))" &&
	php -r "exit(file_get_contents(\"https://api.openai.com/_mock/health\") === \"ok\" ? 0 : 1);"' sh "$PY"
# shellcheck disable=SC2016
check "bed: rogue.llm.test (a CA nobody trusts) is refused by curl and Python" sh -c '
	curl -sS --max-time 5 -o /dev/null https://rogue.llm.test/_mock/health 2>/dev/null; [ $? -eq 60 ] &&
	! "$1" -c "import urllib.request; urllib.request.urlopen(\"https://rogue.llm.test/_mock/health\", timeout=5)" 2>/dev/null' sh "$PY"
check "bed: nothing listens for gone.llm.test (connection refused)" sh -c \
	'curl -sS --max-time 5 -o /dev/null https://gone.llm.test/ 2>/dev/null; [ $? -eq 7 ]'
check "bed: the CA key is readable by its owner only" sh -c \
	"[ \"\$(stat -c %a '$T/pki/ca.key')\" = 600 ] && [ \"\$(stat -c %a '$T')\" = 700 ]"

# The local CA for TLS interception (llmroutectl ca init: key, certificate,
# bundle, and a Java trust store when keytool is there, made from the
# system's Java store: here the private network's, as ca-certificates-java
# would make it from the bundle).
if command -v keytool >/dev/null; then
	mkdir -p "$T/certs/java"
	keytool -importcert -noprompt -alias llmroute-test-ca -file "$HTTPS_CA" -keystore "$T/certs/java/cacerts" \
		-storetype PKCS12 -storepass changeit >/dev/null 2>&1
fi
LLMROUTE_CA_DIR=$T/ca "$CTL" ca init >"$T/ca-init.out" 2>&1 || {
	echo "t_https: llmroutectl ca init failed: $(cat "$T/ca-init.out")" >&2
	exit 1
}

# --- the apps -----------------------------------------------------------------
# app CLIENT URL MODEL [OUT]: run the app under the shim; its line in OUT
# (default $T/out), its stderr in OUT.err, its exit code in OUT.rc.
app() {
	o=${4:-$T/out}
	case $1 in
	httpclient | requests | httpx) shim "$PY" "$ROOT/tests/clients/https_app.py" "$1" "$2" "$3" ;;
	ruby) shim ruby "$ROOT/tests/clients/https_app.rb" "$2" "$3" ;;
	php) shim php "$ROOT/tests/clients/https_app.php" "$2" "$3" ;;
	curl) app_curl "$2" "$3" ;;
	node) shim node "$ROOT/tests/clients/https_app.js" "$2" "$3" ;;
	nodeint) # nodesource's Node.js (its own OpenSSL) under `llmroute --intercept`
		LLMROUTE_CA_DIR=$T/ca "$LAUNCHER" --intercept node "$ROOT/tests/clients/https_app.js" "$2" "$3" ;;
	openaiint) # the `openai` npm package on nodesource's Node.js, under `llmroute --intercept`
		LLMROUTE_CA_DIR=$T/ca "$LAUNCHER" --intercept node "$ROOT/tests/node/https_openai.mjs" "$2" "$3" ;;
	javaint) app_java "$2" "$3" ;;
	wgetint) app_wget "$2" "$3" int ;;
	wget) app_wget "$2" "$3" ;;
	java) # no interception: Java trusts the private network's CA (its Java store)
		JAVA_TOOL_OPTIONS="-Djavax.net.ssl.trustStore=$T/certs/java/cacerts -Djavax.net.ssl.trustStorePassword=changeit" \
			shim java "$ROOT/tests/clients/HttpsApp.java" "$2" "$3" 2>"$T/java.err"
		rc=$?
		grep -v '^Picked up JAVA_TOOL_OPTIONS' "$T/java.err" >&2
		(exit $rc) ;;
	debnodeint) # the same under `llmroute --intercept`: every request through the shim's TLS endpoint
		LLMROUTE_CA_DIR=$T/ca "$LAUNCHER" --intercept unshare --mount sh -c \
			'mount -t overlay overlay -o "lowerdir=$1/usr/share:/usr/share" /usr/share &&
			LD_LIBRARY_PATH="$1/usr/lib/$2" exec "$1/usr/bin/node" "$3" "$4" "$5"' sh \
			"$DEBNODE" "$MULTIARCH" "$ROOT/tests/clients/https_app.js" "$2" "$3" ;;
	debnode) # its built-in modules are looked up in /usr/share/nodejs: overlaid in a mount namespace of its own
		shim unshare --mount sh -c 'mount -t overlay overlay -o "lowerdir=$1/usr/share:/usr/share" /usr/share &&
			LD_LIBRARY_PATH="$1/usr/lib/$2" exec "$1/usr/bin/node" "$3" "$4" "$5"' sh \
			"$DEBNODE" "$MULTIARCH" "$ROOT/tests/clients/https_app.js" "$2" "$3" ;;
	esac >"$o" 2>"$o.err"
	echo $? >"$o.rc"
}
# app_java URL MODEL: Java's HttpClient (JSSE, no OpenSSL) under
# `llmroute --intercept` (the local CA's trust store in JAVA_TOOL_OPTIONS)
app_java() {
	LLMROUTE_CA_DIR=$T/ca "$LAUNCHER" --intercept java "$ROOT/tests/clients/HttpsApp.java" "$1" "$2" 2>"$T/java.err"
	rc=$?
	grep -v -e '^Picked up JAVA_TOOL_OPTIONS' -e '^llmroute: --intercept: ' "$T/java.err" >&2
	return $rc
}
# app_wget URL MODEL [int]: wget (GnuTLS); with `int`, interception, the
# local CA in the system bundle as `llmroutectl ca install` puts it (a
# private copy, bound in a mount namespace of its own)
app_wget() {
	cat /etc/ssl/certs/ca-certificates.crt "$T/ca/ca.pem" >"$T/ca/system-bundle.crt"
	printf '{"model": "%s", "temperature": 0, "messages": [{"role": "user", "content": "hello from wget"}]}' \
		"$2" >"$T/wget.req"
	if [ "${3:-}" = int ]; then set -- "$1" "$2" LLMROUTE_TLS_INTERCEPT=1; else set -- "$1" "$2" LLMROUTE_TLS_INTERCEPT=0; fi
	env "$3" LLMROUTE_CA_DIR="$T/ca" "$LAUNCHER" unshare --mount sh -c \
		'mount --bind "$1" /etc/ssl/certs/ca-certificates.crt && exec wget -q -S --content-on-error -T 20 -t 1 \
		-O "$2" --header="Content-Type: application/json" --header="Authorization: Bearer $OPENAI_API_KEY" \
		--post-file="$3" "$4"' sh "$T/ca/system-bundle.crt" "$T/wget.body" "$T/wget.req" "$1" 2>"$T/wget.hdr"
	code=$(sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' "$T/wget.hdr" | tail -n 1)
	[ -n "$code" ] || { echo "0 error wget: $(grep -v '^ ' "$T/wget.hdr" | tail -n 1)"; return 2; }
	"$PY" - "$code" "$T/wget.body" <<'PYEOF'
import json, sys
status, data = int(sys.argv[1]), open(sys.argv[2], "rb").read()
try:
    d = json.loads(data)
except ValueError:
    print(status, "error non-json", data[:80]); sys.exit(1)
if "error" in d:
    print(status, "error", d["error"].get("message")); sys.exit(1)
print(status, d.get("model"))
sys.exit(0 if status == 200 and d.get("choices") else 1)
PYEOF
}
app_curl() { # URL MODEL: the same request from the curl command line
	printf '{"model": "%s", "temperature": 0, "messages": [{"role": "user", "content": "hello from curl"}]}' \
		"$2" >"$T/curl.req"
	code=$(shim curl -sS --max-time 20 -o "$T/curl.body" -w '%{http_code}' -H 'Content-Type: application/json' \
		-H "Authorization: Bearer $OPENAI_API_KEY" --data-binary @"$T/curl.req" "$1") || {
		echo "0 error curl failed"
		return 2
	}
	"$PY" - "$code" "$T/curl.body" <<'PYEOF'
import json, sys
status, data = int(sys.argv[1]), open(sys.argv[2], "rb").read()
try:
    d = json.loads(data)
except ValueError:
    print(status, "error non-json", data[:80]); sys.exit(1)
if "error" in d:
    print(status, "error", d["error"].get("message")); sys.exit(1)
print(status, d.get("model"))
sys.exit(0 if status == 200 and d.get("choices") else 1)
PYEOF
}
# got MODEL [OUT]: the app exited 0 with "200 MODEL" (a 200 whose JSON it parsed)
got() {
	o=${2:-$T/out}
	[ "$(cat "$o.rc")" = 0 ] && grep -qx "200 $1" "$o" && return 0
	echo "  app exit $(cat "$o.rc"): $(cat "$o")" >&2
	sed 's/^/  app stderr: /' "$o.err" | head -n 5 >&2
	return 1
}
# audit_is EXPR: EXPR over the audit records since https_reset: a (as
# written), att (by attempt), r (the last one)
audit_is() {
	"$PY" - "$A" "$1" <<'PYEOF'
import json, sys
try:
    a = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
except FileNotFoundError:
    a = []
att = sorted(a, key=lambda x: x.get("llmroute.attempt") or 0)
r = a[-1] if a else {}
ok = eval(sys.argv[2], {"a": a, "att": att, "r": r})
if not ok:
    keys = ("llmroute.rule", "llmroute.transport", "llmroute.applied", "llmroute.not_applied",
            "gen_ai.request.model", "server.address", "server.port", "http.response.status_code",
            "error.type", "llmroute.attempt", "llmroute.via", "llmroute.delivered",
            "llmroute.gate", "llmroute.cache")
    sys.stderr.write("  %d audit records\n" % len(a))
    for x in a:
        sys.stderr.write("  audit: " + " ".join("%s=%s" % (k.split(".")[-1], x.get(k)) for k in keys) + "\n")
sys.exit(0 if ok else 1)
PYEOF
}
only() { # a Python expression: the one record of mock $1, or None
	echo "(lambda x: x[0] if len(x) == 1 else None)(m('$1'))"
}

# --- the checks -----------------------------------------------------------------
# Each runs one client ($c) from a clean state (https_reset).
check_a() {
	https_reset
	app "$c" "$OAI" app-mini
	check "(a) $c: a model-only route on the same host: the app got gpt-mini" got gpt-mini
	check "(a) $c: api.openai.com got gpt-mini with the app's key" mocks_ok \
		"(r := $(only api.openai.com.https)) and r['model'] == 'gpt-mini' and auth(r) == 'Bearer sk-app-secret' and r['sni'] == 'api.openai.com'"
	check "(a) $c: one audit record, transport $tr, applied" audit_is \
		"len(a) == 1 and r['llmroute.transport'] == '$tr' and r['llmroute.rule'] == 'mini' and r['llmroute.applied'] is True and r['gen_ai.request.model'] == 'gpt-mini' and r['llmroute.original_model'] == 'app-mini'"
	https_reset
	app "$c" "$OAI" app-deny
	# (libcurl's deny is an error of the transfer, not an answer)
	check "(a) $c: a deny on the app's own connection: the app read the shim's 403" sh -c \
		"grep -q '^403 error .*llmroute' '$T/out' || { [ $c = curl ] && grep -q 'llmroute: denied by route nodeny' '$T/out.err'; } ||
		{ cat '$T/out' '$T/out.err' >&2; exit 1; }"
	check "(a) $c: ... and api.openai.com got nothing" mocks_ok "text('api.openai.com') == ''"
}

check_b() {
	https_reset
	app "$c" "$OAI" app-move
	check "(b) $c: moved to https://alt.llm.test/v1: the app got alt's answer" got alt-moved
	check "(b) $c: alt.llm.test got it over TLS (SNI, Host, path) with the route's key" mocks_ok \
		"(r := $(only alt.llm.test.https)) and r['model'] == 'alt-moved' and auth(r) == 'Bearer sk-alt-route' and r['sni'] == 'alt.llm.test' and r['headers'].get('host') in ('alt.llm.test', 'alt.llm.test:443') and r['path'] == '/v1/chat/completions'"
	check "(b) $c: api.openai.com got nothing" mocks_ok "text('api.openai.com') == ''"
	check "(b) $c: the app's key never reached alt" mocks_ok "'sk-app-secret' not in text('alt.llm.test')"
	check "(b) $c: audited as applied, sent to alt.llm.test:443" audit_is \
		"len(a) == 1 and r['llmroute.rule'] == 'move' and r['llmroute.applied'] is True and r['server.address'] == 'alt.llm.test' and r['server.port'] == 443 and r['http.response.status_code'] == 200"
}

check_c() {
	https_reset
	app "$c" "$OAI" app-plain
	check "(c) $c: moved to http://far.llm.test:80/v1: the app got far's answer" got far-model
	check "(c) $c: far.llm.test got it in plain HTTP (Host, path) with the route's key" mocks_ok \
		"(r := $(only far.llm.test.http)) and r['model'] == 'far-model' and auth(r) == 'Bearer sk-far-route' and r['headers'].get('host') in ('far.llm.test', 'far.llm.test:80') and r['path'] == '/v1/chat/completions'"
	check "(c) $c: api.openai.com got nothing" mocks_ok "text('api.openai.com') == ''"
	check "(c) $c: the app's key never reached far" mocks_ok "'sk-app-secret' not in text('far.llm.test')"
	check "(c) $c: audited as applied, sent to far.llm.test:80" audit_is \
		"len(a) == 1 and r['llmroute.rule'] == 'plain' and r['llmroute.applied'] is True and r['server.address'] == 'far.llm.test' and r['server.port'] == 80 and r['http.response.status_code'] == 200"
}

check_d() {
	https_reset
	https_fault api.openai.com.https model=gpt-primary 503 1
	app "$c" "$OAI" app-fb
	check "(d) $c: the primary answered 503, the app got the fallback's 200 (alt)" got alt-model
	check "(d) $c: api.openai.com got the primary attempt, alt the fallback with the route's key" mocks_ok \
		"(p := $(only api.openai.com.https)) and p['model'] == 'gpt-primary' and p['fault'] == '503' and (r := $(only alt.llm.test.https)) and r['model'] == 'alt-model' and auth(r) == 'Bearer sk-alt-route'"
	check "(d) $c: the app's key never reached alt, the route's never api.openai.com" mocks_ok \
		"'sk-app-secret' not in text('alt.llm.test') and 'sk-alt-route' not in text('api.openai.com')"
	check "(d) $c: audit: two attempts of one request, only the fallback delivered" audit_is \
		"len(a) == 2 and len({x.get('llmroute.request_id') for x in a}) == 1 and [x.get('llmroute.attempt') for x in att] == [1, 2] and att[0]['error.type'] == 'http_503' and [x.get('llmroute.delivered') for x in att] == [False, True] and att[1].get('llmroute.via') == 'fallback' and att[1]['server.address'] == 'alt.llm.test'"
}

check_e() {
	https_reset
	https_fault api.openai.com.https model=gpt-primary 429 1
	app "$c" "$OAI" app-ra
	check "(e) $c: 429 with Retry-After: 1, then the same target: the app got its 200" got gpt-primary
	check "(e) $c: api.openai.com asked twice (429, then 200) a second or more apart; alt never" mocks_ok \
		"[(x['model'], x['fault']) for x in m('api.openai.com.https')] == [('gpt-primary', '429'), ('gpt-primary', None)] and 1.0 <= m('api.openai.com.https')[1]['time'] - m('api.openai.com.https')[0]['time'] < 3 and text('alt.llm.test') == ''"
	check "(e) $c: audit: the retry delivered, one request" audit_is \
		"len(a) == 2 and len({x.get('llmroute.request_id') for x in a}) == 1 and [x.get('llmroute.via') for x in att] == [None, 'retry'] and [x.get('llmroute.delivered') for x in att] == [False, True] and att[0]['error.type'] == 'http_429'"
}

check_f() {
	https_reset
	https_fault api.openai.com.https model=gpt-primary length 1
	app "$c" "$OAI" app-esc
	check "(f) $c: the cheap answer was cut (length): the app got alt's stronger answer" got alt-model
	check "(f) $c: api.openai.com gave the cut answer, alt the stronger one, with the route's key" mocks_ok \
		"(p := $(only api.openai.com.https)) and p['fault'] == 'length' and (r := $(only alt.llm.test.https)) and r['model'] == 'alt-model' and auth(r) == 'Bearer sk-alt-route' and 'sk-app-secret' not in text('alt.llm.test')"
	check "(f) $c: audit: the gate met, the escalation delivered" audit_is \
		"len(a) == 2 and len({x.get('llmroute.request_id') for x in a}) == 1 and att[0].get('llmroute.gate') == 'length' and [x.get('llmroute.delivered') for x in att] == [False, True] and att[1].get('llmroute.via') == 'escalation' and att[1]['server.address'] == 'alt.llm.test'"
}

check_g() {
	https_reset
	"$CTL" cache clear >/dev/null # another client may have sent the same request (nodeint, debnodeint)
	app "$c" "$OAI" app-cached "$T/out1"
	app "$c" "$OAI" app-cached "$T/out2"
	check "(g) $c: two runs, both answered with alt's alt-cached" got_both alt-cached
	check "(g) $c: alt got one request, with the route's key; the second was served from the cache" mocks_ok \
		"(r := $(only alt.llm.test.https)) and auth(r) == 'Bearer sk-alt-route' and 'sk-app-secret' not in text('alt.llm.test') and text('api.openai.com') == ''"
	check "(g) $c: audit: stored, then a hit at no cost" audit_is \
		"len(a) == 2 and a[0].get('llmroute.cache') == 'stored' and a[1].get('llmroute.cache') == 'hit' and a[1].get('llmroute.delivered') is True and a[1]['llmroute.cost_usd'] == 0"
}

got_both() { got "$1" "$T/out1" && got "$1" "$T/out2"; }

check_h() {
	https_reset
	app "$c" https://gone.llm.test/v1/chat/completions app-gone
	check "(h) $c: a host-only route, nothing listens on gone.llm.test: the app got the endpoint's answer" got app-gone
	check "(h) $c: alt got it with the route's key, and not the app's" mocks_ok \
		"(r := $(only alt.llm.test.https)) and r['model'] == 'app-gone' and auth(r) == 'Bearer sk-alt-route' and r['sni'] == 'alt.llm.test' and 'sk-app-secret' not in text('alt.llm.test')"
	check "(h) $c: audited as applied, sent to alt.llm.test" audit_is \
		"len(a) == 1 and r['llmroute.rule'] == 'gone' and r['llmroute.applied'] is True and r['server.address'] == 'alt.llm.test' and r['http.response.status_code'] == 200"
	[ "$c" = curl ] && return 0 # libcurl's own hooks route it: no claim
	[ "$c" = httpclient ] && check_h_trust
	https_reset
	app "$c" https://gone.llm.test/v1/chat/completions app-gone-deny
	check "(h) $c: a deny on the claimed host holds: the app read the shim's 403" sh -c \
		"grep -q '^403 error .*llmroute' '$T/out' || { cat '$T/out' '$T/out.err' >&2; exit 1; }"
	check "(h) $c: ... and nothing reached alt" mocks_ok "text('alt.llm.test') == ''"
	check "(h) $c: ... audited as denied" audit_is "len(a) == 1 and r['error.type'] == 'denied' and r['llmroute.transport'] == 'tls'"
	https_reset
	LLMROUTE_TLS_CLAIM=off app "$c" https://gone.llm.test/v1/chat/completions app-gone
	check "(h) $c: with LLMROUTE_TLS_CLAIM=off the app gets no answer (its host refuses: not claimed)" sh -c \
		"grep -q '^0 error' '$T/out' || { cat '$T/out' '$T/out.err' >&2; exit 1; }"
}

# What the app's TLS trusts on a claimed connection: the shim's in-process
# CA for that one session; nothing else in the process is widened.
check_h_trust() {
	https_reset
	# shellcheck disable=SC2016
	shim "$PY" - >"$T/trust.out" 2>"$T/trust.err" <<'PYEOF'
import socket, ssl
ctx = ssl.create_default_context()
with socket.create_connection(("gone.llm.test", 443), timeout=10) as s:
    with ctx.wrap_socket(s, server_hostname="gone.llm.test") as t:
        c = t.getpeercert()
        print("issuer", dict(x[0] for x in c["issuer"]).get("commonName", ""))
        print("san", c.get("subjectAltName"))
        print("version", t.version())
for host in ("rogue.llm.test", "gone.llm.test"):
    try:  # rogue: a CA nobody trusts; gone with the wrong name: both refused
        with socket.create_connection((host, 443), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname="other.llm.test" if host.startswith("gone") else host):
                print("accepted", host)
    except ssl.SSLCertVerificationError as e:
        print("refused", host, e.verify_code)
    except OSError as e:
        print("error", host, e)
PYEOF
	check "(h) trust: the claimed session's certificate is the shim's in-process CA's, for the host" sh -c \
		"grep -q '^issuer llmroute in-process CA' '$T/trust.out' && grep -q \"^san (('DNS', 'gone.llm.test'),)\" '$T/trust.out' || { cat '$T/trust.out' '$T/trust.err' >&2; exit 1; }"
	check "(h) trust: after it, the same process still refuses a CA nobody trusts" grep -q '^refused rogue.llm.test' "$T/trust.out"
	check "(h) trust: ... and the in-process CA's certificate under another name (the app's host name check runs)" \
		sh -c "grep -q '^refused gone.llm.test' '$T/trust.out' || { cat '$T/trust.out' >&2; exit 1; }"
	https_reset
	app httpclient https://rogue.llm.test/v1/chat/completions app-gone
	check "(h) a host that answers is not claimed: the app met rogue's untrusted certificate itself" sh -c \
		"grep -qi 'certificate verify failed' '$T/out' || { cat '$T/out' >&2; exit 1; }"
	# asyncio: its TLS runs on memory BIOs, not on the socket: the claimed
	# connection's TLS is served by the shim's own endpoint (lr_tlsend)
	https_reset
	shim "$PY" "$ROOT/tests/clients/https_app.py" httpxasync https://gone.llm.test/v1/chat/completions app-gone \
		>"$T/out" 2>"$T/out.err"
	echo $? >"$T/out.rc"
	check "(h) asyncio (httpx.AsyncClient, memory BIOs): the claimed host is served by the shim's TLS endpoint" got app-gone
	check "(h) asyncio: alt got it once, with the route's key" mocks_ok \
		"(r := $(only alt.llm.test.https)) and r['model'] == 'app-gone' and auth(r) == 'Bearer sk-alt-route' and 'sk-app-secret' not in text('alt.llm.test')"
	check "(h) asyncio: one audit record, applied (the app's own session is not counted again)" audit_is \
		"len(a) == 1 and r['llmroute.rule'] == 'gone' and r['llmroute.applied'] is True and r['server.address'] == 'alt.llm.test'"
	https_reset
	app httpclient https://nowhere.llm.test/v1/chat/completions app-gone
	check "(h) a claimed host with no address at all (not even in DNS) is moved too" got app-gone
	check "(h) ... to alt, with the route's key" mocks_ok \
		"(r := $(only alt.llm.test.https)) and auth(r) == 'Bearer sk-alt-route' and 'sk-app-secret' not in text('alt.llm.test')"
}

# A program whose TLS the shim does not hook (nodesource's Node.js, its own
# OpenSSL), interception off: not reached, and said so (issue 18).
check_unreached() {
	for u in node wget java; do
		[ "$u" = java ] && ! command -v keytool >/dev/null && continue
		https_reset
		app "$u" "$OAI" app-deny
		err=$T/out.err
		[ "$u" = wget ] && err=$T/wget.hdr
		check "unreached: $u without interception: the deny cannot hold (api.openai.com answered)" got app-deny
		check "unreached: $u: said once in the log, naming the host and the way out" sh -c \
			"[ \$(grep -c 'speaks TLS to api.openai.com with a TLS library the shim does not hook' '$err') = 1 ] &&
			grep -q 'llmroute --intercept' '$err' || { cat '$err' >&2; exit 1; }"
		check "unreached: $u: counted (llmroutectl stats, --json, --prometheus)" sh -c \
			"'$CTL' stats | grep -A2 '^UNREACHED' | grep -q '^api.openai.com  *1\$' &&
			'$CTL' stats --json | '$PY' -c 'import json,sys; d=json.load(sys.stdin); sys.exit(not [x for x in d[\"unreached\"] if x[\"name\"] == \"api.openai.com\" and x[\"requests\"] == 1])' &&
			'$CTL' stats --prometheus | grep -q '^llmroute_unreached_connections_total{host=\"api.openai.com\"} 1\$' ||
			{ '$CTL' stats >&2; exit 1; }"
		check "unreached: $u: no audit record (nothing was seen)" audit_is "len(a) == 0"
	done
	https_reset
	app httpclient "$OAI" app-mini
	check "unreached: a program on the system OpenSSL is reached, and not counted" sh -c \
		"! '$CTL' stats | grep -q '^UNREACHED'"
}

OAI_PLAIN=http://api.openai.com/v1/chat/completions

check_k() {
	https_reset
	app "$c" "$OAI_PLAIN" app-move
	check "(k) $c: http:// moved to https://alt.llm.test/v1: the app got alt's answer" got alt-moved
	check "(k) $c: alt got it over TLS with the route's key, api.openai.com nothing (neither port)" mocks_ok \
		"(r := $(only alt.llm.test.https)) and r['model'] == 'alt-moved' and auth(r) == 'Bearer sk-alt-route' and r['sni'] == 'alt.llm.test' and text('api.openai.com') == '' and 'sk-app-secret' not in text('alt.llm.test')"
	if [ "$c" = curl ]; then tr=curl; else tr=socket; fi
	check "(k) $c: audited as applied on the $tr transport, sent to alt.llm.test:443" audit_is \
		"len(a) == 1 and r['llmroute.transport'] == '$tr' and r['llmroute.rule'] == 'move' and r['llmroute.applied'] is True and r['server.address'] == 'alt.llm.test' and r['server.port'] == 443 and r['http.response.status_code'] == 200"
}

check_l() {
	https_reset
	https_fault api.openai.com.https model=gpt-primary 503 1
	app "$c" "$OAI_PLAIN" app-fb
	check "(l) $c: http://, the primary answered 503, the app got the fallback's 200 (alt)" got alt-model
	check "(l) $c: the primary's https got the first attempt, alt the fallback; the app's http:// host nothing" mocks_ok \
		"(p := $(only api.openai.com.https)) and p['fault'] == '503' and (r := $(only alt.llm.test.https)) and auth(r) == 'Bearer sk-alt-route' and m('api.openai.com.http') == [] and 'sk-app-secret' not in text('alt.llm.test')"
	check "(l) $c: audit: two attempts of one request, only the fallback delivered" audit_is \
		"len(a) == 2 and len({x.get('llmroute.request_id') for x in a}) == 1 and [x.get('llmroute.attempt') for x in att] == [1, 2] and [x.get('llmroute.delivered') for x in att] == [False, True] and att[1].get('llmroute.via') == 'fallback' and att[1]['server.address'] == 'alt.llm.test'"
}

check_m() {
	https_reset
	https_fault api.openai.com.https model=app-pfb 503 1
	app "$c" "$OAI" app-pfb
	check "(m) $c: a passing route's own request answered 503, the app got the fallback's 200 (alt)" got alt-model
	check "(m) $c: api.openai.com got the app's request with its own key, alt the fallback with the route's" mocks_ok \
		"(p := $(only api.openai.com.https)) and p['model'] == 'app-pfb' and auth(p) == 'Bearer sk-app-secret' and (r := $(only alt.llm.test.https)) and auth(r) == 'Bearer sk-alt-route' and 'sk-app-secret' not in text('alt.llm.test')"
	check "(m) $c: audit: two attempts of one request, only the fallback delivered" audit_is \
		"len(a) == 2 and len({x.get('llmroute.request_id') for x in a}) == 1 and [x.get('llmroute.delivered') for x in att] == [False, True] and att[1]['server.address'] == 'alt.llm.test'"
}

# n: (httpclient only) 8 threads x 5 keep-alive requests, each thread on its
# own HTTPS connection, all moved by the shim's client at once, while
# SIGALRM interrupts the reads every 5 ms
check_n() {
	[ "$c" = httpclient ] || return 0
	https_reset
	shim "$PY" "$ROOT/tests/clients/https_threads.py" "$OAI" app-move 8 5 alt-moved >"$T/out" 2>"$T/out.err"
	check "(n) $c: 8 threads x 5 moved requests on 8 connections, signals landing meanwhile: all answered by alt" \
		sh -c "grep -q '^ok 40 signals [1-9]' '$T/out' || { cat '$T/out' '$T/out.err' >&2; exit 1; }"
	check "(n) $c: alt got all 40, each with the route's key; api.openai.com nothing" mocks_ok \
		"len(m('alt.llm.test.https')) == 40 and all(auth(r) == 'Bearer sk-alt-route' for r in m('alt.llm.test.https')) and text('api.openai.com') == ''"
	check "(n) $c: 40 audit records, each applied and answered" audit_is \
		"len(a) == 40 and all(x['llmroute.applied'] is True and x['http.response.status_code'] == 200 for x in a)"
}

check_o() {
	https_reset
	https_fault api.openai.com.https model=gpt-primary 503 1
	app "$c" "$OAI" app-rt
	check "(o) $c: 503 once: retried at the same target, the app got the primary's 200" got gpt-primary
	check "(o) $c: api.openai.com asked twice, alt never" mocks_ok \
		"[x['fault'] for x in m('api.openai.com.https')] == ['503', None] and text('alt.llm.test') == ''"
	check "(o) $c: audit: the first, then a retry after at most the back-off's ceiling" audit_is \
		"len(a) == 2 and [x.get('llmroute.via') for x in att] == [None, 'retry'] and [x.get('llmroute.delivered') for x in att] == [False, True] and att[1].get('llmroute.wait_ms', 99) <= 50"
	https_reset
	https_fault api.openai.com.https model=gpt-primary context 1
	app "$c" "$OAI" app-rt
	check "(o) $c: context too long at the primary: moved to alt (a larger window), the app got its 200" got alt-model
	check "(o) $c: the primary once, alt once with the route's key" mocks_ok \
		"[x['fault'] for x in m('api.openai.com.https')] == ['context'] and (r := $(only alt.llm.test.https)) and auth(r) == 'Bearer sk-alt-route'"
	check "(o) $c: audit: context_length_exceeded, then via context, delivered" audit_is \
		"len(a) == 2 and att[0]['error.type'] == 'context_length_exceeded' and att[1].get('llmroute.via') == 'context' and [x.get('llmroute.delivered') for x in att] == [False, True]"
	https_reset
	https_fault api.openai.com.https model=gpt-primary 400 1
	app "$c" "$OAI" app-rt
	check "(o) $c: another 400: the app read it as it came (mock fault 400)" grep -q '^400 error mock fault 400' "$T/out"
	check "(o) $c: another 400: one record, delivered; alt never asked" audit_is \
		"len(a) == 1 and r['llmroute.delivered'] is True and r['error.type'] == 'http_400'"
}

check_s() {
	[ "$c" = httpclient ] || return 0
	https_reset
	https_fault api.openai.com.https model=gpt-primary stall 1
	shim "$PY" "$ROOT/tests/clients/http_client.py" streamto "$OAI" app-st "$T/s.body" >"$T/out" 2>"$T/out.err"
	check "(s) $c: a head, then nothing: the app read alt's stream only" "$PY" "$ROOT/tests/clients/stream_check.py" \
		"$T/s.body" openai 'text == "mock reply from alt-model" and done == 1 and not errors'
	check "(s) $c: audit: first_token_timeout, then the fallback" audit_is \
		"len(a) == 2 and att[0]['error.type'] == 'first_token_timeout' and not att[0]['llmroute.delivered'] and att[1]['llmroute.via'] == 'fallback'"
	for f in stallmid cutmid; do
		https_reset
		https_fault api.openai.com.https model=gpt-primary $f 1
		shim "$PY" "$ROOT/tests/clients/http_client.py" streamto "$OAI" app-st "$T/s.body" >"$T/out" 2>"$T/out.err"
		check "(s) $c, $f: one well-formed stream, the primary's text then alt's" "$PY" \
			"$ROOT/tests/clients/stream_check.py" "$T/s.body" openai \
			'text == "mock reply mock reply from alt-model" and done == 1 and not errors'
		check "(s) $c, $f: alt was asked for the rest, with the route's key" mocks_ok \
			"(r := $(only alt.llm.test.https)) and auth(r) == 'Bearer sk-alt-route' and json.loads(r['body'])['messages'][1] == {'role': 'assistant', 'content': 'mock reply '}"
		check "(s) $c, $f: audit: the cut attempt delivered with estimated tokens, then a continuation" audit_is \
			"len(a) == 2 and att[0]['llmroute.delivered'] and att[0]['llmroute.tokens_estimated'] and att[1]['llmroute.via'] == 'continuation' and att[1]['llmroute.delivered']"
	done
}

check_j() {
	https_reset
	app "$c" "$OAI" app-rogue
	check "(j) $c: a route to a host no trusted CA vouches for: refused, no request (no key) reached it" mocks_ok \
		"m('rogue.llm.test.https') == [] and 'sk-' not in text('rogue.llm.test')"
	check "(j) $c: the app got no answer from it, and the audit records the route tried and failed" j_failed
}
j_failed() {
	if [ "$(cat "$T/out.rc")" = 0 ] || grep -q '^200 ' "$T/out"; then
		echo "  app exit $(cat "$T/out.rc"): $(cat "$T/out")" >&2
		audit_is False
		return 1
	fi
	audit_is "len(a) == 1 and r['llmroute.rule'] == 'rogue' and r['llmroute.not_applied'] != 'tls_cannot_move_host' and r['error.type'] is not None and r['http.response.status_code'] != 200"
}

check_i() { # over every request of this client since https_forget
	https_reset
	check "(i) $c: no route key reached api.openai.com, on any path" mocks_ok \
		"not any(k in text('api.openai.com', True) for k in ('sk-alt-route', 'sk-far-route'))"
	check "(i) $c: the app's key reached neither alt nor far, on any path (route key seen at:${reached:- none asked})" mocks_ok \
		"'sk-app-secret' not in text('alt.llm.test', True) + text('far.llm.test', True) and all(k in text(h, True) for h, k in [$reach])"
	check "(i) $c: no key in the audit" sh -c "! grep -q -e sk-app-secret -e sk-alt-route -e sk-far-route '$A.all'"
}

[ -z "${LR_HTTPS_CHECKS:-}" ] && [ -z "${SANITIZE:-}" ] && check_unreached
for c in $CLIENTS; do
	case $c in curl) tr=curl ;; *) tr=tls ;; esac
	run=$(checks_for "$c")
	https_forget
	reach="" reached="" # the hosts this client's checks send the route's key to
	case " $run " in *" "[bdfghklmno]" "*) reach="('alt.llm.test', 'sk-alt-route')," reached=" alt" ;; esac
	case "$c $run " in "httpclient "*" s "*) reach="('alt.llm.test', 'sk-alt-route')," reached=" alt" ;; esac
	case " $run " in *" c "*) reach="$reach('far.llm.test', 'sk-far-route')," reached="$reached far" ;; esac
	for k in $run; do
		case $k in
		[abcdefghijklmnos]) "check_$k" ;;
		*)
			echo "t_https: unknown check $k" >&2
			exit 1
			;;
		esac
	done
done
