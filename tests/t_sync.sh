# t_sync.sh - llmroutectl sync URL: central rules from a local static file
# server (tests/sync_server.py: strong ETags, 304 to a matching
# If-None-Match, every request logged).  A new version is published; 304s
# publish nothing; a version that does not compile, a 404 and a 503 leave
# the live table as it was and are reported once; the bearer token from
# --token-env reaches the server and nowhere else (log, table, stdout);
# HTTPS with a private CA is verified (refused without --cacert, refused
# for a certificate of another name); SIGHUP republishes, SIGTERM stops it
# with exit 0.  Every wait is for a condition, never a fixed sleep.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_https.sh"
lr_setup sync
srv_pids=""
trap 'for p in $srv_pids; do kill "$p" 2>/dev/null; done; lr_cleanup' EXIT

rules() { # rules NAME...: a rules file with one deny route per name
	printf '{"routes": ['
	sep=""
	for n in "$@"; do
		printf '%s{"name": "%s", "match": {"model": "m-%s"}, "deny": "no"}' "$sep" "$n" "$n"
		sep=", "
	done
	printf ']}\n'
}

wait_for() { # CMD...: true once CMD succeeds, false after 20 s
	i=0
	until "$@" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -gt 200 ] && return 1
		sleep 0.1
	done
}

routes_are() {
	"$CTL" show --json >"$T/show.json" 2>/dev/null &&
		json_ok "$T/show.json" "' '.join(r['name'] for r in d['rules']['routes']) == '$1'"
}

gen() {
	"$CTL" show --json 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["generation"])'
}

logged() { # N PATTERN: the sync log has at least N lines matching PATTERN
	[ "$(grep -c -- "$2" "$T/sync.log")" -ge "$1" ]
}

served() { # N EXPR: at least N requests in the server log with EXPR true (r: the record)
	"$PY" -c 'import json,sys
n = sum(1 for l in open(sys.argv[1]) for r in [json.loads(l)] if eval(sys.argv[3]))
sys.exit(0 if n >= int(sys.argv[2]) else 1)' "$T/srv.log" "$1" "$2"
}

start_srv() { # NAME ARGS...: sets PORT
	n=$1
	shift
	rm -f "$T/$n.port"
	"$PY" "$ROOT/tests/sync_server.py" --dir "$T/www" --port-file "$T/$n.port" "$@" 2>"$T/$n.err" &
	srv_pids="$srv_pids $!"
	wait_for test -s "$T/$n.port" || { cat "$T/$n.err" >&2; exit 1; }
	PORT=$(cat "$T/$n.port")
}

mkdir "$T/www"
rules a >"$T/www/routes.json"
start_srv plain --log "$T/srv.log" --status-file "$T/status"
U=http://127.0.0.1:$PORT/routes.json

# --- usage --------------------------------------------------------------------
expect 1 "usage: llmroutectl sync" "$CTL" sync
expect 1 "http:// or https://" "$CTL" sync "ftp://127.0.0.1/routes.json"
expect 1 "no user:password" "$CTL" sync "https://u:p@127.0.0.1/routes.json"
expect 1 "NO_SUCH_VAR: the variable is not set" env -u NO_SUCH_VAR "$CTL" sync "$U" --token-env NO_SUCH_VAR
expect 1 "seconds from 1" "$CTL" sync "$U" --interval 0
expect 0 "If-None-Match" "$CTL" sync --help
check "usage errors published nothing" expect_fail "$CTL" show

# --- --once -------------------------------------------------------------------
expect 0 "published .*routes.json as $LLMROUTE_TABLE generation 1: 1 routes" "$CTL" sync "$U" --once
check "--once publishes the URL's rules" routes_are "a"
check "the log shows the URL without its query" \
	sh -c "'$CTL' sync '$U?X-Amz-Signature=sig123' --once 2>&1 | grep -q 'published http://127.0.0.1:$PORT/routes.json as' && \
	! '$CTL' sync '$U?X-Amz-Signature=sig123' --once 2>&1 | grep -q sig123"
g=$(gen)
printf '{"routes": [{"name": "x", "bad_key": 1}]}\n' >"$T/www/bad.json"
expect 2 "unknown key.*not published, the live table stays at generation $g" "$CTL" sync "http://127.0.0.1:$PORT/bad.json" --once
check "--once: invalid rules leave the table" routes_are "a"
expect 4 "HTTP status 404; the live table stays at generation $g" "$CTL" sync "http://127.0.0.1:$PORT/none.json" --once
expect 4 "127.0.0.1:1/routes.json: .*the live table stays" "$CTL" sync "http://127.0.0.1:1/routes.json" --once
check "--once failures: the generation is unchanged" [ "$(gen)" = "$g" ]

# --- polling --------------------------------------------------------------------
: >"$T/srv.log"
SYNC_TOKEN=tok-Zq81-secret-do-not-print
export SYNC_TOKEN
"$CTL" sync "$U" --interval 1 --token-env SYNC_TOKEN >"$T/sync.out" 2>"$T/sync.log" &
spid=$!
check "polls the URL and publishes it at start, as watch does" wait_for logged 1 "published .* generation"
g=$(gen)
check "unchanged: later requests are conditional and answered 304" wait_for served 3 "r['status'] == 304 and r['conditional']"
check "304s do not republish" [ "$(gen)" = "$g" ]
check "304s are not logged" [ "$(grep -c published "$T/sync.log")" -eq 1 ]
check "the token is sent as a bearer token on every request" \
	served "$(wc -l <"$T/srv.log")" "r['auth'] == 'Bearer $SYNC_TOKEN'"

rules b c >"$T/www/routes.json"
check "a new version is published" wait_for routes_are "b c"
check "the log says what it published" logged 1 "^llmroutectl sync: published http://127.0.0.1:$PORT/routes.json as $LLMROUTE_TABLE generation [0-9]*: 2 routes$"
g=$(gen)

printf '{"routes": [\n  {"name": "e", "deny": }\n]}\n' >"$T/www/routes.json"
check "broken JSON is reported with line:col" wait_for logged 1 "routes.json:2:.*malformed JSON.*not published, the live table stays at generation $g$"
n304=$(grep -c '"status": 304' "$T/srv.log")
check "then 304s again" wait_for served "$((n304 + 2))" "r['status'] == 304"
check "broken JSON: reported once" [ "$(grep -c 'malformed JSON' "$T/sync.log")" -eq 1 ]
check "broken JSON: the last good table stays" routes_are "b c"
check "broken JSON: the generation is unchanged" [ "$(gen)" = "$g" ]

echo 503 >"$T/status"
check "a 503 is reported" wait_for logged 1 "routes.json: HTTP status 503; the live table stays at generation $g"
n503=$(grep -c '"status": 503' "$T/srv.log")
check "more 503s" wait_for served "$((n503 + 2))" "r['status'] == 503"
check "a 503 is reported once" [ "$(grep -c 'HTTP status 503' "$T/sync.log")" -eq 1 ]
check "a 503: the last good table stays" routes_are "b c"
rm "$T/status"
rules f >"$T/www/routes.json"
check "the fixed version is published after the outage" wait_for routes_are "f"
check "the log says reachable again" logged 1 "routes.json: reachable again"

g=$(gen)
kill -HUP "$spid"
check "SIGHUP publishes the same bytes again" wait_for sh -c "[ \"\$('$CTL' show --json | '$PY' -c 'import json,sys; print(json.load(sys.stdin)[\"generation\"])')\" = $((g + 1)) ]"
check "the SIGHUP fetch was unconditional" served 1 "r['status'] == 200 and not r['conditional']"

kill -TERM "$spid"
wait "$spid"
check "SIGTERM: exit 0" [ $? -eq 0 ]
check "SIGTERM: logged" logged 1 "stopping on SIGTERM; the live table stays at generation"
check "the token is not in the log" expect_fail grep -q "$SYNC_TOKEN" "$T/sync.log" "$T/sync.out"
"$CTL" show --json >"$T/show.json"
check "the token is not in the table" expect_fail grep -q "$SYNC_TOKEN" "$T/show.json"

# --- no ETag: compared by bytes --------------------------------------------------
start_srv noetag --log "$T/srv2.log" --no-etag
g=$(gen)
"$CTL" sync "http://127.0.0.1:$PORT/routes.json" --interval 1 2>"$T/sync2.log" &
spid=$!
check "without ETags, polls go on" wait_for sh -c "[ \$(wc -l <'$T/srv2.log') -ge 3 ]"
kill -TERM "$spid"
wait "$spid"
check "without ETags, the same bytes are published once" [ "$(grep -c published "$T/sync2.log")" -eq 1 ]
check "without ETags: one generation more" [ "$(gen)" = "$((g + 1))" ]

# --- HTTPS with a private CA -----------------------------------------------------
https_ca "$T/ca" "llmroute sync test CA" || exit 1
https_leaf "$T/ca" localhost "$T/leaf" || exit 1
https_leaf "$T/ca" other.test "$T/other" || exit 1
rules h >"$T/www/routes.json"
start_srv tls --log "$T/srv3.log" --cert "$T/leaf.pem" --key "$T/leaf.key"
UT=https://localhost:$PORT/routes.json
g=$(gen)
expect 4 "certificate.*the live table stays at generation $g" "$CTL" sync "$UT" --once
check "TLS: an untrusted certificate publishes nothing" [ "$(gen)" = "$g" ]
expect 0 "published https://localhost:$PORT/routes.json" "$CTL" sync "$UT" --once --cacert "$T/ca/ca.pem"
check "TLS: with the CA, published" routes_are "h"
start_srv tls2 --log "$T/srv4.log" --cert "$T/other.pem" --key "$T/other.key"
g=$(gen)
expect 4 "subject name.*the live table stays" "$CTL" sync "https://localhost:$PORT/routes.json" --once --cacert "$T/ca/ca.pem"
check "TLS: a certificate for another name is refused" [ "$(gen)" = "$g" ]
