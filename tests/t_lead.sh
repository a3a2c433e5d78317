# t_lead.sh - an app's thread driving the request it just sent (the
# shim's own client, lr_up_lead in shim/lr_upstream.c): a blocking C
# OpenSSL client whose requests a route moves to another HTTPS server,
# 300 keep-alive requests (tests/progs/bench_tlsmove.c, mode checked).
# Around every SSL_write the app's OpenSSL error queue (a marker pushed
# before it), signal mask and cancel state must be as they were, the
# signals another thread sends all along must reach it, and every 10th
# answer comes 5 ms late (past the 2 ms an app's thread drives its own
# request: the client's thread takes over).  The moved server must see
# every request as the route sent it, the first server none.
. "$(dirname "$0")/lib.sh"
lr_setup lead
P=$BUILD/tests/bench_tlsmove
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
	-subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
pb=$("$P" port) || { fail "no free port"; exit 1; }
load_rules '{"routes":[{"name":"tlsmove","match":{"model":"app-moved"},
 "set":{"model":"bench-moved","endpoint":"https://127.0.0.1:'"$pb"'/v1"}}]}'
for i in 1 2; do
	out=$(shim "$P" checked 300 "$T/cert.pem" "$T/key.pem" "$pb" 2>"$T/err.$i")
	rc=$?
	check "run $i: 300 moved requests; the app's error queue, signal mask and cancel state kept; its signals delivered ($(tail -n 1 "$T/err.$i"))" \
		test "$rc" -eq 0
	[ "$rc" -eq 0 ] || sed 's/^/    /' "$T/err.$i" | head -5
done
