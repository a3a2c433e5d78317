# t_ca.sh - the opt-in local CA (issue 18, docs/ca.md): `llmroutectl ca
# init|show|install|uninstall` and `llmroute --intercept`.
#
# Runs as PID 1 of private mount, network, PID and IPC namespaces
# (tests/lib_https.sh: https_ns_enter) with private copies of the system
# trust store bind-mounted over /etc/ssl/certs and
# /usr/local/share/ca-certificates, and a recording hook over
# /etc/ca-certificates/update.d (so Debian's ca-certificates-java hook,
# which would queue dpkg triggers, never runs): `ca install` and `ca
# uninstall` change nothing on the machine, which is checked through
# read-only views of the real directories.
#
#   init: the files, their modes and owner, the certificate's every field,
#     the key (P-256, matches), bundle.pem = system bundle + ca.pem,
#     truststore.p12 (system CAs + ours) or a note without keytool; the
#     default directory for root, for a user (HOME, XDG_DATA_HOME); an
#     existing CA refused without --force and replaced with it; modes never
#     weakened; a directory of another user, or writable by group or
#     others, or in a parent others can write, refused; no key on stdout,
#     no shared memory made
#   show: text and JSON, before and after install
#   install/uninstall: root only; openssl verify, Python's default context
#     trust a leaf from the CA after install and not after uninstall; the
#     hook told; another user's CA installed with a warning
#   llmroute --intercept: every variable; LLMROUTE_TLS_INTERCEPT=1 does the
#     same; JAVA_TOOL_OPTIONS appended; without a CA (or with an unfit one)
#     it says `llmroutectl ca init` and runs nothing; Python (SSL_CERT_FILE),
#     curl (CURL_CA_BUNDLE), Node.js (NODE_EXTRA_CA_CERTS) and Java
#     (JAVA_TOOL_OPTIONS) trust a leaf from the CA under it and not without
# needs: root, unshare, openssl; keytool and java (openjdk) for the Java
# checks, node for Node.js's (each skipped, and said, when missing)
# needs: unsanitized (the launcher and llmroutectl under test, not the shim: it runs Debian's curl, Node.js and Java under the launcher)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_https.sh"
https_ns_enter "$@"
lr_setup ca
unset LLMROUTE_CA_DIR LLMROUTE_TLS_INTERCEPT XDG_DATA_HOME NODE_EXTRA_CA_CERTS JAVA_TOOL_OPTIONS \
	SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE CURL_CA_BUNDLE
umask 022
chmod 0755 "$T"

# --- a private system trust store ---------------------------------------------
SYS=$T/sys
mkdir -p "$SYS/local" "$SYS/hooks"
cp -a /etc/ssl/certs "$SYS/certs" || exit 1
cp -a /usr/local/share/ca-certificates/. "$SYS/local/" 2>/dev/null
# Read-only views of the machine's own directories, to check they stay as
# they were: outside $T (which lr_cleanup removes) and unmounted first.
REAL=$(mktemp -d /tmp/llmroute-ca-views.XXXXXX)
mkdir "$REAL/certs" "$REAL/local"
ca_cleanup() {
	for d in "$REAL/certs" "$REAL/local"; do
		mountpoint -q "$d" && umount "$d"
	done
	rmdir "$REAL/certs" "$REAL/local" "$REAL" 2>/dev/null
	lr_cleanup
}
trap ca_cleanup EXIT
mount --bind /etc/ssl/certs "$REAL/certs" && mount -o remount,bind,ro "$REAL/certs" || exit 1
mount --bind /usr/local/share/ca-certificates "$REAL/local" &&
	mount -o remount,bind,ro "$REAL/local" || exit 1
cat >"$SYS/hooks/jks-keystore" <<EOF
#!/bin/sh
cat >>"$SYS/hook.log"
EOF
chmod 0755 "$SYS/hooks/jks-keystore"
mount --bind "$SYS/certs" /etc/ssl/certs || exit 1
mount --bind "$SYS/local" /usr/local/share/ca-certificates || exit 1
mount --bind "$SYS/hooks" /etc/ca-certificates/update.d || exit 1
for d in /etc/ssl/certs /usr/local/share/ca-certificates /etc/ca-certificates/update.d; do
	mountpoint -q "$d" || { echo "ca: $d is not a private mount; refusing to go on" >&2; exit 1; }
done
BUNDLE=/etc/ssl/certs/ca-certificates.crt

# --- helpers -------------------------------------------------------------------
leaf() { # CADIR NAME OUTBASE: a server certificate for NAME from the CA in CADIR
	printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=serverAuth" "subjectAltName=DNS:$2" "authorityKeyIdentifier=keyid" >"$3.ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$3.key" \
		-out "$3.csr" -subj "/CN=$2" -config /dev/null 2>"$3.err" &&
		openssl x509 -req -in "$3.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" -CAcreateserial \
			-CAserial "$T/ca.srl" -days 2 -extfile "$3.ext" -out "$3.pem" 2>>"$3.err" ||
		{ cat "$3.err" >&2; return 1; }
}
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^.*=//'; }
mode() { stat -c %a "$1"; }
owner() { stat -c %u "$1"; }
# in_pem_bundle CERT BUNDLE: is CERT one of the certificates of BUNDLE?
in_pem_bundle() {
	"$PY" - "$1" "$2" <<'PYEOF'
import re, sys
pems = lambda t: re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", t, re.S)
mine = pems(open(sys.argv[1]).read())[0]
sys.exit(0 if mine in pems(open(sys.argv[2]).read()) else 1)
PYEOF
}
# Python's default context (the system store, or SSL_CERT_FILE) against a
# server with the leaf: a TLS handshake on memory BIOs, no socket at all.
cat >"$T/pytrust.py" <<'PYEOF'
import ssl, sys
cert, key, name = sys.argv[1:4]
srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
srv.load_cert_chain(cert, key)
cli = ssl.create_default_context()
ci, co, si, so = (ssl.MemoryBIO() for _ in range(4))
c = cli.wrap_bio(ci, co, server_hostname=name)
s = srv.wrap_bio(si, so, server_side=True)
done = {"c": False, "s": False}
for _ in range(50):
    for k, o in (("c", c), ("s", s)):
        if done[k]:
            continue
        try:
            o.do_handshake()
            done[k] = True
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as e:
            print("refused (%s): %s" % (k, e))
            sys.exit(1)
    si.write(co.read())
    ci.write(so.read())
    if done["c"] and done["s"]:
        print("trusted")
        sys.exit(0)
print("no handshake")
sys.exit(2)
PYEOF
pytrust() { "$PY" "$T/pytrust.py" "$T/leaf.pem" "$T/leaf.key" trust.llmroute.test; }
# run CMD under the launcher with the shim doing nothing: what is tested is
# the environment the launcher makes
intercepted() { LLMROUTE_DISABLE=1 "$LAUNCHER" --intercept "$@"; }

# --- ca init -------------------------------------------------------------------------
CA=$T/ca
export LLMROUTE_CA_DIR=$CA
ls -A /dev/shm >"$T/shm.before"
"$CTL" ca init >"$T/init.out" 2>"$T/init.err"
rc=$?
check "ca init makes a CA (exit $rc)" test $rc -eq 0 || cat "$T/init.err" >&2
check "ca init says where and what (directory, subject, SHA-256)" \
	sh -c "grep -qF '$CA' '$T/init.out' && grep -q 'llmroute local CA' '$T/init.out' && grep -qF '$(fp "$CA/ca.pem")' '$T/init.out'"
check "ca init prints no private key" expect_fail grep -qi 'PRIVATE KEY' "$T/init.out" "$T/init.err"
ls -A /dev/shm >"$T/shm.after"
check "ca init makes no shared memory (the key never goes into the table)" cmp -s "$T/shm.before" "$T/shm.after"
check "the CA directory is 0700, ours" sh -c "[ $(mode "$CA") = 700 ] && [ $(owner "$CA") = 0 ]"
check "ca.key is 0600, ours" sh -c "[ $(mode "$CA/ca.key") = 600 ] && [ $(owner "$CA/ca.key") = 0 ]"
check "ca.pem and bundle.pem are 0644" sh -c "[ $(mode "$CA/ca.pem") = 644 ] && [ $(mode "$CA/bundle.pem") = 644 ]"
check "no temporary file is left" sh -c "[ -z \"\$(ls -A '$CA' | grep tmp)\" ]"
openssl pkey -in "$CA/ca.key" -noout -text >"$T/key.txt" 2>&1
check "ca.key is an EC P-256 private key (PEM)" \
	sh -c "grep -q 'BEGIN PRIVATE KEY' '$CA/ca.key' && grep -q 'ASN1 OID: prime256v1' '$T/key.txt'"
check "ca.key is the key of ca.pem" sh -c \
	"[ \"\$(openssl pkey -in '$CA/ca.key' -pubout)\" = \"\$(openssl x509 -in '$CA/ca.pem' -noout -pubkey)\" ]"
openssl x509 -in "$CA/ca.pem" -noout -text >"$T/ca.txt"
check "ca.pem: basicConstraints critical, CA:TRUE, pathlen:0" \
	sh -c "grep -A1 'Basic Constraints: critical' '$T/ca.txt' | grep -q 'CA:TRUE, pathlen:0'"
check "ca.pem: keyUsage critical, keyCertSign and cRLSign only" \
	sh -c "grep -A1 'Key Usage: critical' '$T/ca.txt' | grep -qx ' *Certificate Sign, CRL Sign'"
check "ca.pem: a subjectKeyIdentifier" grep -q 'Subject Key Identifier' "$T/ca.txt"
sub=$(openssl x509 -in "$CA/ca.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
iss=$(openssl x509 -in "$CA/ca.pem" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')
check "ca.pem: CN \"llmroute local CA (root@$(hostname))\" (got $sub)" \
	test "$sub" = "CN=llmroute local CA (root@$(hostname))"
check "ca.pem: self-signed (issuer = subject, its own signature verifies)" \
	sh -c "[ '$iss' = '$sub' ] && openssl verify -CAfile '$CA/ca.pem' '$CA/ca.pem' >/dev/null"
check "ca.pem is valid 825 days from now" "$PY" -c "
import ssl, sys, time
d = ssl._ssl._test_decode_cert('$CA/ca.pem')
nb, na = ssl.cert_time_to_seconds(d['notBefore']), ssl.cert_time_to_seconds(d['notAfter'])
sys.exit(0 if na - nb == 825 * 86400 and abs(nb - time.time()) < 120 else 1)"
cat "$BUNDLE" "$CA/ca.pem" >"$T/bundle.want"
check "bundle.pem is the system bundle followed by ca.pem" cmp -s "$T/bundle.want" "$CA/bundle.pem"
have_keytool=0
command -v keytool >/dev/null 2>&1 && have_keytool=1
if [ $have_keytool = 1 ]; then
	check "truststore.p12 is there, 0644" sh -c "[ \$(stat -c %a '$CA/truststore.p12') = 644 ]"
	keytool -list -keystore "$CA/truststore.p12" -storetype PKCS12 -storepass changeit >"$T/ks.txt" 2>&1
	check "truststore.p12 (PKCS#12, password changeit) holds our CA" \
		grep -qi "llmroute-local-ca.*trustedCertEntry" "$T/ks.txt"
	n=$(grep -c trustedCertEntry "$T/ks.txt")
	check "truststore.p12 holds the system's CAs too ($n entries)" test "$n" -gt 50
	check "the CA in truststore.p12 is ours" grep -qF "$(fp "$CA/ca.pem")" "$T/ks.txt"
else
	echo "# no keytool: truststore.p12 checks skipped"
fi

# refusals and --force
FP1=$(fp "$CA/ca.pem")
expect 2 "already holds a CA" "$CTL" ca init
check "... and the CA is unchanged" test "$(fp "$CA/ca.pem")" = "$FP1"
chmod 0600 "$CA/ca.pem"
chmod 0750 "$CA"
"$CTL" ca init --force >"$T/force.out" 2>&1
rc=$?
check "ca init --force replaces it (exit $rc, a new fingerprint)" \
	sh -c "[ $rc -eq 0 ] && [ '$(fp "$CA/ca.pem")' != '$FP1' ]"
check "--force never weakens: ca.pem kept at 0600, ca.key 0600" \
	sh -c "[ $(mode "$CA/ca.pem") = 600 ] && [ $(mode "$CA/ca.key") = 600 ]"
check "--force tightens the directory to 0700" test "$(mode "$CA")" = 700
chmod 0644 "$CA/ca.pem"
cat "$BUNDLE" "$CA/ca.pem" >"$T/bundle.want"
check "--force: bundle.pem has the new CA" cmp -s "$T/bundle.want" "$CA/bundle.pem"
if [ $have_keytool = 1 ]; then
	keytool -list -keystore "$CA/truststore.p12" -storetype PKCS12 -storepass changeit >"$T/ks.txt" 2>&1
	check "--force: truststore.p12 has the new CA" grep -qF "$(fp "$CA/ca.pem")" "$T/ks.txt"
fi
mkdir -m 0700 "$T/theirs"
chown 65534:65534 "$T/theirs"
LLMROUTE_CA_DIR=$T/theirs expect 4 "owned by another user" "$CTL" ca init
check "... nothing is written there" test -z "$(ls -A "$T/theirs")"
mkdir -m 0770 "$T/grp"
chmod 0770 "$T/grp"
LLMROUTE_CA_DIR=$T/grp expect 4 "writable by group or others" "$CTL" ca init
check "... nothing is written there" test -z "$(ls -A "$T/grp")"
mkdir -m 0777 "$T/ww"
chmod 0777 "$T/ww"
LLMROUTE_CA_DIR=$T/ww/ca expect 4 "parent directory is writable by others" "$CTL" ca init
check "... nothing is made there" test ! -e "$T/ww/ca"
expect 1 "usage: llmroutectl ca" "$CTL" ca init --frob
expect 1 "usage: llmroutectl ca" "$CTL" ca
expect 0 "usage: llmroutectl ca" "$CTL" ca --help

# the default directories
env -u LLMROUTE_CA_DIR "$CTL" ca show --json >"$T/root.json" 2>/dev/null
check "root's CA directory is /etc/llmroute/ca" json_ok "$T/root.json" 'd["dir"] == "/etc/llmroute/ca"'
mkdir -m 0755 "$T/nobody"
chown 65534:65534 "$T/nobody"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env -u LLMROUTE_CA_DIR HOME="$T/nobody" "$@"; }
as_nobody PATH=/nonexistent "$CTL" ca init >"$T/nobody.out" 2>"$T/nobody.err"
rc=$?
check "a user's ca init (exit $rc)" test $rc -eq 0 || cat "$T/nobody.err" >&2
U=$T/nobody/.local/share/llmroute/ca
check "a user's CA is in \$HOME/.local/share/llmroute/ca, 0700, theirs" \
	sh -c "[ $(mode "$U" 2>/dev/null) = 700 ] && [ $(owner "$U" 2>/dev/null) = 65534 ]"
check "... ca.key 0600, theirs" sh -c "[ $(mode "$U/ca.key" 2>/dev/null) = 600 ] && [ $(owner "$U/ca.key" 2>/dev/null) = 65534 ]"
check "... named after them (nobody@$(hostname))" sh -c \
	"openssl x509 -in '$U/ca.pem' -noout -subject | grep -qF 'llmroute local CA (nobody@$(hostname))'"
check "without keytool: no truststore.p12, and a note says so" \
	sh -c "[ ! -e '$U/truststore.p12' ] && grep -q 'keytool not found' '$T/nobody.err'"
as_nobody XDG_DATA_HOME="$T/nobody/xdg" "$CTL" ca show --json >"$T/xdg.json" 2>/dev/null
check "XDG_DATA_HOME: \$XDG_DATA_HOME/llmroute/ca" json_ok "$T/xdg.json" "d['dir'] == '$T/nobody/xdg/llmroute/ca'"
as_nobody XDG_DATA_HOME= "$CTL" ca show --json >"$T/xdg.json" 2>/dev/null
check "an empty XDG_DATA_HOME: \$HOME/.local/share" json_ok "$T/xdg.json" "d['dir'] == '$U' and d['exists']"

# --- ca show --------------------------------------------------------------------------
"$CTL" ca show >"$T/show.txt" 2>&1
check "ca show: directory, subject, fingerprint, not-after" sh -c \
	"grep -qF '$CA' '$T/show.txt' && grep -q 'CN=llmroute local CA' '$T/show.txt' && grep -qF '$(fp "$CA/ca.pem")' '$T/show.txt' && grep -q '^not after *20[0-9-]*T' '$T/show.txt'"
check "ca show: not installed; Node.js through NODE_EXTRA_CA_CERTS, Java through JAVA_TOOL_OPTIONS" sh -c \
	"grep -q 'not installed' '$T/show.txt' && grep -q 'NODE_EXTRA_CA_CERTS' '$T/show.txt' && grep -q 'JAVA_TOOL_OPTIONS' '$T/show.txt'"
"$CTL" ca show --json >"$T/show.json"
check "ca show --json: the facts" json_ok "$T/show.json" "d['exists'] and d['dir'] == '$CA' and d['sha256'] == '$(fp "$CA/ca.pem")' and d['key_ok'] and not d['expired'] and d['files']['ca.key'] == '0600' and d['not_after'].endswith('Z')"
check "ca show --json: not in the system store; under --intercept every kind but GnuTLS" json_ok "$T/show.json" \
	"not d['system_store']['installed'] and [t['intercept'] for t in d['trust']] == [True, False, True, $([ $have_keytool = 1 ] && echo True || echo False)] and not any(t['system'] for t in d['trust'])"
LLMROUTE_CA_DIR=$T/none expect 3 "llmroutectl ca init" "$CTL" ca show
LLMROUTE_CA_DIR=$T/none "$CTL" ca show --json >"$T/none.json" 2>/dev/null
check "ca show --json without a CA: exists false (exit 3)" json_ok "$T/none.json" "d['exists'] is False"

# --- llmroute --intercept ---------------------------------------------------------------
leaf "$CA" trust.llmroute.test "$T/leaf" || exit 1
check "a leaf from the CA is not trusted by the system store yet (openssl verify)" \
	expect_fail openssl verify "$T/leaf.pem"
check "... nor by Python's default context" expect_fail pytrust
intercepted env >"$T/env" 2>"$T/env.err"
check "llmroute --intercept env runs (exit 0)" test $? -eq 0
for kv in "LLMROUTE_TLS_INTERCEPT=1" "LLMROUTE_CA_DIR=$CA" "NODE_EXTRA_CA_CERTS=$CA/ca.pem" \
	"SSL_CERT_FILE=$CA/bundle.pem" "REQUESTS_CA_BUNDLE=$CA/bundle.pem" "CURL_CA_BUNDLE=$CA/bundle.pem"; do
	check "--intercept sets $kv" grep -qxF "$kv" "$T/env"
done
J="-Djavax.net.ssl.trustStore=$CA/truststore.p12 -Djavax.net.ssl.trustStorePassword=changeit -Djavax.net.ssl.trustStoreType=PKCS12"
if [ $have_keytool = 1 ]; then
	check "--intercept sets JAVA_TOOL_OPTIONS to the trust store" grep -qxF "JAVA_TOOL_OPTIONS=$J" "$T/env"
	JAVA_TOOL_OPTIONS=-Xmx64m intercepted env >"$T/env2"
	check "--intercept appends to JAVA_TOOL_OPTIONS" grep -qxF "JAVA_TOOL_OPTIONS=-Xmx64m $J" "$T/env2"
fi
for v in 1 on yes; do
	LLMROUTE_TLS_INTERCEPT=$v LLMROUTE_DISABLE=1 "$LAUNCHER" env >"$T/env3"
	check "LLMROUTE_TLS_INTERCEPT=$v in the environment (on for the shim) does what --intercept does" sh -c \
		"grep -qxF 'SSL_CERT_FILE=$CA/bundle.pem' '$T/env3' && grep -qxF 'NODE_EXTRA_CA_CERTS=$CA/ca.pem' '$T/env3' && grep -qxF 'LLMROUTE_TLS_INTERCEPT=1' '$T/env3'"
done
LLMROUTE_TLS_INTERCEPT=0 LLMROUTE_DISABLE=1 "$LAUNCHER" env >"$T/env3"
check "LLMROUTE_TLS_INTERCEPT=0: nothing set" expect_fail grep -q '^SSL_CERT_FILE=' "$T/env3"
LLMROUTE_DISABLE=1 "$LAUNCHER" env >"$T/env4"
check "without it the launcher sets none of them" expect_fail grep -qE '^(NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|LLMROUTE_TLS_INTERCEPT)=' "$T/env4"
SSL_CERT_FILE=/x intercepted true 2>"$T/env5"
check "--intercept says when it replaces a variable" grep -q 'SSL_CERT_FILE was /x' "$T/env5"
LLMROUTE_CA_DIR=$T/none expect 1 "llmroutectl ca init" "$LAUNCHER" --intercept touch "$T/ran"
check "... and without a CA runs nothing" test ! -e "$T/ran"
LLMROUTE_CA_DIR=$T/none LLMROUTE_TLS_INTERCEPT=1 expect 1 "llmroutectl ca init" "$LAUNCHER" touch "$T/ran"
check "... LLMROUTE_TLS_INTERCEPT=1 without a CA: runs nothing" test ! -e "$T/ran"
cp -a "$CA" "$T/ca2"
chmod 0640 "$T/ca2/ca.key"
LLMROUTE_CA_DIR=$T/ca2 expect 1 "chmod 600" "$LAUNCHER" --intercept touch "$T/ran"
chmod 0600 "$T/ca2/ca.key"
chmod 0770 "$T/ca2"
LLMROUTE_CA_DIR=$T/ca2 expect 1 "writable by group" "$LAUNCHER" --intercept touch "$T/ran"
check "... an unfit CA: runs nothing" test ! -e "$T/ran"
as_nobody LLMROUTE_DISABLE=1 "$LAUNCHER" --intercept env >"$T/env6" 2>"$T/env6.err"
check "a user's CA: --intercept uses theirs; no truststore.p12: no JAVA_TOOL_OPTIONS, and says so" sh -c \
	"grep -qxF 'SSL_CERT_FILE=$U/bundle.pem' '$T/env6' && ! grep -q '^JAVA_TOOL_OPTIONS=' '$T/env6' && grep -q 'Java will not trust' '$T/env6.err'"
setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$T/nobody" LLMROUTE_CA_DIR="$CA" \
	"$LAUNCHER" --intercept touch "$T/nobody/ran" 2>"$T/env7.err"
check "root's CA is refused to another user (owned by another user), nothing run" sh -c \
	"[ ! -e '$T/nobody/ran' ] && grep -q 'owned by another user' '$T/env7.err'"

out=$(intercepted "$PY" "$T/pytrust.py" "$T/leaf.pem" "$T/leaf.key" trust.llmroute.test 2>&1)
check "Python's default context trusts the leaf under --intercept (SSL_CERT_FILE): $out" test "$out" = trusted
out=$(intercepted "$PY" "$T/pytrust.py" "$T/leaf.pem" "$T/leaf.key" other.llmroute.test 2>&1)
check "... and still checks the host name" sh -c "echo '$out' | grep -q 'refused (c)'"

# curl and Node.js against a TLS server with the leaf (on this namespace's loopback)
openssl s_server -quiet -www -accept 127.0.0.1:8443 -cert "$T/leaf.pem" -key "$T/leaf.key" >"$T/s_server.log" 2>&1 &
srv=$!
i=0
URL=https://trust.llmroute.test:8443/
RES=trust.llmroute.test:8443:127.0.0.1
while ! curl -sk -o /dev/null --resolve "$RES" "$URL" && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.05
done
check "curl does not trust the server without --intercept" expect_fail curl -sS -o /dev/null --resolve "$RES" "$URL"
check "curl trusts it under --intercept (CURL_CA_BUNDLE)" intercepted curl -sS -o /dev/null --resolve "$RES" "$URL"
if command -v node >/dev/null 2>&1; then
	cat >"$T/nodetrust.js" <<'EOF'
const tls = require("tls");
const s = tls.connect({host: "127.0.0.1", port: 8443, servername: "trust.llmroute.test"}, () => {
	console.log("trusted");
	s.end();
});
s.on("error", (e) => { console.log("refused: " + e.code); process.exit(1); });
EOF
	check "Node.js does not trust it without --intercept" expect_fail node "$T/nodetrust.js"
	out=$(intercepted node "$T/nodetrust.js" 2>&1)
	check "Node.js trusts it under --intercept (NODE_EXTRA_CA_CERTS): $out" test "$out" = trusted
else
	echo "# no node: Node.js checks skipped"
fi
kill $srv 2>/dev/null
wait $srv 2>/dev/null

if [ $have_keytool = 1 ] && command -v java >/dev/null 2>&1; then
	cat >"$T/TrustCheck.java" <<'EOF'
import java.io.FileInputStream;
import java.security.KeyStore;
import java.security.cert.*;
import javax.net.ssl.*;

public class TrustCheck {
	public static void main(String[] a) throws Exception {
		X509Certificate leaf = (X509Certificate) CertificateFactory.getInstance("X.509")
			.generateCertificate(new FileInputStream(a[0]));
		TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
		f.init((KeyStore) null);
		X509TrustManager tm = (X509TrustManager) f.getTrustManagers()[0];
		System.out.println("anchors " + tm.getAcceptedIssuers().length);
		try {
			tm.checkServerTrusted(new X509Certificate[] {leaf}, "ECDHE_ECDSA");
			System.out.println("trusted");
		} catch (CertificateException e) {
			System.out.println("refused: " + e.getMessage());
			System.exit(1);
		}
	}
}
EOF
	java "$T/TrustCheck.java" "$T/leaf.pem" >"$T/java1" 2>&1
	check "Java does not trust the leaf without --intercept" sh -c "grep -q '^refused' '$T/java1'"
	intercepted java "$T/TrustCheck.java" "$T/leaf.pem" >"$T/java2" 2>&1
	check "Java trusts it under --intercept (JAVA_TOOL_OPTIONS, truststore.p12)$(grep -v '^Picked up' "$T/java2" | head -c 300 | tr '\n' ' ')" \
		grep -qx trusted "$T/java2"
	n=$(sed -n 's/^anchors //p' "$T/java2")
	check "... and still trusts the system's CAs ($n anchors)" test "${n:-0}" -gt 50
else
	echo "# no keytool or java: Java checks skipped"
fi

# --- ca install / uninstall ------------------------------------------------------------
as_nobody LLMROUTE_CA_DIR="$U" "$CTL" ca install >"$T/inst0" 2>&1
rc=$?
check "ca install as a user: refused (exit $rc, 4: run it as root)" sh -c "[ $rc -eq 4 ] && grep -q 'as root' '$T/inst0'"
check "... nothing copied" test ! -e /usr/local/share/ca-certificates/llmroute.crt
"$CTL" ca install >"$T/inst.out" 2>&1
rc=$?
check "ca install (exit $rc)" test $rc -eq 0 || cat "$T/inst.out" >&2
check "ca install copies ca.pem to /usr/local/share/ca-certificates/llmroute.crt, 0644" sh -c \
	"cmp -s '$CA/ca.pem' /usr/local/share/ca-certificates/llmroute.crt && [ \$(stat -c %a /usr/local/share/ca-certificates/llmroute.crt) = 644 ]"
check "... update-ca-certificates put it in $BUNDLE" in_pem_bundle "$CA/ca.pem" "$BUNDLE"
check "... the hooks were told (+/etc/ssl/certs/llmroute.pem)" grep -qx '+/etc/ssl/certs/llmroute.pem' "$SYS/hook.log"
check "... it says what Java and Node.js need" sh -c "grep -q '^Java:' '$T/inst.out' && grep -q '^Node.js:.*NODE_EXTRA_CA_CERTS' '$T/inst.out'"
check "openssl verify trusts the leaf after install" openssl verify "$T/leaf.pem"
out=$(pytrust 2>&1)
check "Python's default context trusts it after install: $out" test "$out" = trusted
"$CTL" ca show --json >"$T/show2.json"
check "ca show --json: installed; the system store's programs trust it now" json_ok "$T/show2.json" \
	"d['system_store']['installed'] and d['system_store']['in_bundle'] and d['trust'][0]['system'] and d['trust'][1]['system']"
"$CTL" ca show | grep -q '^system store *installed'
check "ca show: installed" test $? -eq 0
check "the machine's own store is untouched (no llmroute.crt, not in its bundle)" sh -c \
	"[ ! -e '$REAL/local/llmroute.crt' ] && ! grep -qF \"\$(sed -n 2p '$CA/ca.pem')\" '$REAL/certs/ca-certificates.crt'"

: >"$SYS/hook.log"
"$CTL" ca uninstall >"$T/uninst.out" 2>&1
rc=$?
check "ca uninstall (exit $rc)" test $rc -eq 0 || cat "$T/uninst.out" >&2
check "... removes llmroute.crt" test ! -e /usr/local/share/ca-certificates/llmroute.crt
check "... and it is no longer in $BUNDLE" expect_fail in_pem_bundle "$CA/ca.pem" "$BUNDLE"
check "... the hooks were told (-/etc/ssl/certs/llmroute.pem: Java's drops it)" \
	grep -qx -- '-/etc/ssl/certs/llmroute.pem' "$SYS/hook.log"
check "... no link to it is left in /etc/ssl/certs" sh -c \
	"[ ! -L /etc/ssl/certs/llmroute.pem ] && [ -z \"\$(find /etc/ssl/certs -xtype l)\" ]"
check "openssl verify no longer trusts the leaf" expect_fail openssl verify "$T/leaf.pem"
check "nor does Python's default context" expect_fail pytrust
"$CTL" ca show --json >"$T/show3.json"
check "ca show --json: not installed" json_ok "$T/show3.json" "not d['system_store']['installed'] and not d['system_store']['in_bundle']"
expect 0 "not installed" "$CTL" ca uninstall
check "the CA itself stays after uninstall" test -f "$CA/ca.key"

# root installing another user's CA: allowed, with a warning naming them
"$CTL" ca install >/dev/null 2>&1
: >"$SYS/hook.log"
LLMROUTE_CA_DIR=$U "$CTL" ca install >"$T/inst2.out" 2>&1
rc=$?
check "ca install of another user's CA (exit $rc) warns who can then impersonate any site" sh -c \
	"[ $rc -eq 0 ] && grep -q 'belongs to nobody' '$T/inst2.out' && cmp -s '$U/ca.pem' /usr/local/share/ca-certificates/llmroute.crt"
"$CTL" ca show >"$T/show4.txt" 2>&1
check "ca show: llmroute.crt holds another certificate" grep -q 'holds another certificate' "$T/show4.txt"
check "a CA installed over another: the new one is in the bundle" in_pem_bundle "$U/ca.pem" "$BUNDLE"
check "... the old one is not" expect_fail in_pem_bundle "$CA/ca.pem" "$BUNDLE"
check "... and the hooks heard of the new one (+/etc/ssl/certs/llmroute.pem)" \
	grep -qx '+/etc/ssl/certs/llmroute.pem' "$SYS/hook.log"
"$CTL" ca uninstall >/dev/null 2>&1
check "... uninstalled again" expect_fail in_pem_bundle "$U/ca.pem" "$BUNDLE"
