# lib_https.sh - a private HTTPS world for a test, sourced after lib.sh.
#
# Real provider names (api.openai.com, ...) answered by local mock upstreams
# with certificates of a private CA that every client trusts through its
# usual default (no SSL_CERT_FILE, REQUESTS_CA_BUNDLE or --cacert), without
# changing anything on the machine:
#
#   https_ns_enter "$@"  first, before lr_setup: runs the calling test again
#                        as PID 1 of new mount, network, PID and IPC
#                        namespaces, and brings up their loopback. Not root,
#                        or no unshare: the test is skipped (exit 0, "SKIP"
#                        on stdout), except under CI=true or
#                        LR_HTTPS_REQUIRE=1, where that is a failure.
#   https_world          after lr_setup: a tmpfs over $T; a private CA; a
#                        certificate per name in HTTPS_HOSTS; /etc/hosts and
#                        the system trust store (/etc/ssl/certs, so also
#                        /etc/ssl/certs/ca-certificates.crt and the OpenSSL
#                        default /usr/lib/ssl/cert.pem that points there)
#                        replaced by bind mounts of private files
#   https_mocks          tools/mock_upstream.py per name in HTTPS_HOSTS on
#                        IP:443 (TLS) and IP:80 (plain), logs in
#                        $T/m/NAME.https.log and $T/m/NAME.http.log
#
# Names, each NAME=IP on loopback (set before https_world to change them):
#   HTTPS_HOSTS        certificate from the private CA, two mocks each
#   HTTPS_EXTRA_HOSTS  in /etc/hosts only: no certificate, nothing listening
#   HTTPS_ROGUE_HOSTS  a TLS mock whose certificate is from another CA, one
#                      no client trusts (NAME.https.log)
#
# Helpers:
#   https_fault MOCK MATCH KIND [COUNT]  inject a fault (tools/mock_upstream.py)
#                        into MOCK, e.g. api.openai.com.https model=gpt-x 503 1
#   https_reset          clear the faults (of the mocks that had some), the
#                        health and counters (llmroutectl stats --reset);
#                        start new mock logs and a new $A (the old ones are
#                        kept in *.all)
#   https_forget         drop the *.all files (a new client starts)
#   mocks_ok EXPR        EXPR over the mocks' logs must be true:
#                          m("NAME.https") the records since https_reset,
#                          text("NAME") the raw lines of both of NAME's mocks
#                          since https_reset, text("NAME", True) since
#                          https_forget, auth(rec) its Authorization header
#
# Teardown: everything lives in the namespaces and on tmpfs mounts of their
# own (/tmp, /dev/shm and $T), which the kernel takes down with their last
# process: PID 1 is the test itself, so when it ends, however (kill -9
# too), the mocks die, and the mounts, the loopback addresses, the files
# and the shared memory go with them. On a normal exit the mocks are
# stopped and $T unmounted first, so lr_cleanup can remove it.

HTTPS_HOSTS=${HTTPS_HOSTS:-"api.openai.com=127.0.0.11 api.anthropic.com=127.0.0.12 alt.llm.test=127.0.0.13 far.llm.test=127.0.0.14"}
HTTPS_EXTRA_HOSTS=${HTTPS_EXTRA_HOSTS:-}
HTTPS_ROGUE_HOSTS=${HTTPS_ROGUE_HOSTS:-}
https_pids=""

https_ns_enter() {
	tn=$(basename "$0" .sh)
	if [ -n "${LR_HTTPS_NS:-}" ]; then
		# Inside. $$ is 1 only in a PID namespace of our own: anything
		# else is an inherited variable, and the machine's mounts are near.
		if [ "$$" != 1 ]; then
			echo "$tn: LR_HTTPS_NS is set but this is not a private namespace; refusing" >&2
			exit 1
		fi
		unset LR_HTTPS_NS SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE CURL_CA_BUNDLE
		mount --make-rprivate / || exit 1
		ip link set lo up || exit 1
		# The table, counters and cache segments of this run, and its
		# temporary files, stay in here (unless the tree itself is there).
		for d in /dev/shm /tmp; do
			case $ROOT/ in "$d"/*) continue ;; esac
			case $BUILD/ in "$d"/*) continue ;; esac
			mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$d" || exit 1
		done
		return 0
	fi
	why=""
	if [ "$(id -u)" != 0 ]; then
		why="needs root (unshare of mount and network namespaces)"
	else
		for c in unshare ip openssl mount; do
			command -v "$c" >/dev/null 2>&1 || why="$why no $c;"
		done
		if [ -z "$why" ] && ! err=$(unshare --mount --net --pid --ipc --fork --kill-child --mount-proc true 2>&1); then
			why="unshare failed: $err"
		fi
	fi
	if [ -n "$why" ]; then
		required=${LR_HTTPS_REQUIRE:-${CI:-0}}
		case $required in "" | 0 | false) ;; *)
			echo "$tn: cannot run: $why (and it must: CI=${CI:-} LR_HTTPS_REQUIRE=${LR_HTTPS_REQUIRE:-})" >&2
			exit 1
			;;
		esac
		echo "SKIP $tn: $why"
		echo "$tn: SKIP: $why" >&2
		exit 0
	fi
	# --kill-child: if unshare is killed, so is the test (and with it the
	# whole PID namespace).
	LR_HTTPS_NS=1 exec unshare --mount --net --pid --ipc --fork --kill-child --mount-proc \
		-- /bin/sh "$0" "$@"
}

# A key pair and a certificate for NAME from the CA in DIR (ca.pem, ca.key).
https_leaf() { # DIR NAME OUTBASE
	printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=serverAuth" "subjectAltName=DNS:$2" "subjectKeyIdentifier=hash" \
		"authorityKeyIdentifier=keyid" >"$3.ext"
	if ! openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$3.key" \
		-out "$3.csr" -subj "/CN=$2" -config /dev/null 2>"$3.err" ||
		! openssl x509 -req -in "$3.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" -CAcreateserial \
			-CAserial "$1/ca.srl" -days 2 -extfile "$3.ext" -out "$3.pem" 2>>"$3.err"; then
		cat "$3.err" >&2
		return 1
	fi
}

https_ca() { # DIR CN
	mkdir -p "$1"
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/ca.key" \
		-out "$1/ca.pem" -days 2 -subj "/CN=$2" -config /dev/null \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" 2>"$1/ca.err" || {
		cat "$1/ca.err" >&2
		return 1
	}
}

https_world() {
	[ "$$" = 1 ] || {
		echo "$TNAME: https_world outside the private namespace (call https_ns_enter first)" >&2
		exit 1
	}
	# $T itself on a tmpfs of this namespace: a CA key never reaches a disk.
	mount -t tmpfs -o mode=0700,size=64m tmpfs "$T" || exit 1
	trap 'https_cleanup; lr_cleanup' EXIT
	mkdir "$T/pki" "$T/m" "$T/certs"
	(
		umask 077
		https_ca "$T/pki" "llmroute test CA $$-$(date +%s)" || exit 1
		https_ca "$T/pki/rogue" "llmroute rogue CA (trusted by nobody)" || exit 1
		for e in $HTTPS_HOSTS; do
			https_leaf "$T/pki" "${e%%=*}" "$T/pki/${e%%=*}" || exit 1
		done
		for e in $HTTPS_ROGUE_HOSTS; do
			https_leaf "$T/pki/rogue" "${e%%=*}" "$T/pki/${e%%=*}" || exit 1
		done
	) || {
		echo "$TNAME: could not make the private CA and certificates" >&2
		exit 1
	}
	HTTPS_CA=$T/pki/ca.pem
	# /etc/hosts
	{
		echo "127.0.0.1 localhost"
		echo "::1 localhost ip6-localhost ip6-loopback"
		for e in $HTTPS_HOSTS $HTTPS_EXTRA_HOSTS $HTTPS_ROGUE_HOSTS; do
			echo "${e#*=} ${e%%=*}"
		done
	} >"$T/hosts"
	chmod 0644 "$T/hosts"
	mount --bind "$T/hosts" /etc/hosts || exit 1
	# The system trust store holds our CA and nothing else: the bundle
	# (ca-certificates.crt, what curl, certifi and OpenSSL's cert.pem name)
	# and the hashed directory (OpenSSL's default certs directory).
	cp "$HTTPS_CA" "$T/certs/ca-certificates.crt"
	cp "$HTTPS_CA" "$T/certs/$(openssl x509 -hash -noout -in "$HTTPS_CA").0"
	chmod 0755 "$T/certs"
	chmod 0644 "$T/certs"/*
	mkdir -p /etc/ssl/certs
	mount --bind "$T/certs" /etc/ssl/certs || exit 1
	# OpenSSL's own defaults, if they are not links into /etc/ssl/certs.
	d=$(openssl version -d | sed 's/^OPENSSLDIR: "\(.*\)"$/\1/')
	for f in "$d/cert.pem" /usr/lib/ssl/cert.pem; do
		r=$(readlink -f "$f" 2>/dev/null) || continue
		[ -f "$r" ] && ! cmp -s "$r" "$HTTPS_CA" && mount --bind "$T/certs/ca-certificates.crt" "$r"
	done
	for f in "$d/certs" /usr/lib/ssl/certs; do
		r=$(readlink -f "$f" 2>/dev/null) || continue
		[ -d "$r" ] && [ "$r" != /etc/ssl/certs ] && mount --bind "$T/certs" "$r"
	done
	return 0
}

https_mock() { # NAME IP PORT SCHEME [TLS-ARGS...]
	n=$1.$4
	ip=$2 port=$3
	shift 4
	"$PY" "$ROOT/tools/mock_upstream.py" --host "$ip" --port "$port" --port-file "$T/m/$n.port" \
		--log "$T/m/$n.log" "$@" 2>"$T/m/$n.err" &
	https_pids="$https_pids $!"
	: >"$T/m/$n.log"
	echo "$n" >>"$T/m/list"
}

https_mocks() {
	for e in $HTTPS_HOSTS; do
		h=${e%%=*}
		https_mock "$h" "${e#*=}" 443 https --tls-cert "$T/pki/$h.pem" --tls-key "$T/pki/$h.key"
		https_mock "$h" "${e#*=}" 80 http
	done
	for e in $HTTPS_ROGUE_HOSTS; do
		h=${e%%=*}
		https_mock "$h" "${e#*=}" 443 https --tls-cert "$T/pki/$h.pem" --tls-key "$T/pki/$h.key"
	done
	i=0
	while read -r n; do
		while [ ! -s "$T/m/$n.port" ]; do
			i=$((i + 1))
			if [ $i -gt 200 ]; then
				echo "$TNAME: mock $n did not start" >&2
				cat "$T/m/$n.err" >&2
				exit 1
			fi
			sleep 0.05
		done
	done <"$T/m/list"
}

https_cleanup() {
	for p in $https_pids; do kill "$p" 2>/dev/null; done
	for p in $https_pids; do wait "$p" 2>/dev/null; done
	https_pids=""
	cd / && umount "$T" 2>/dev/null
}

# The mock NAME.SCHEME's control API (not through the shim).
https_ctl() { # MOCK PATH [JSON]
	h=${1%.*}
	s=${1##*.}
	curl -sS --max-time 5 -o /dev/null -X POST "$s://$h/_mock/$2" -d "${3:-}"
}

https_fault() { # MOCK MATCH KIND [COUNT]
	echo "$1" >>"$T/m/faulted"
	https_ctl "$1" fault '{"match": "'"$2"'", "fault": "'"$3"'", "count": '"${4:-1}"'}'
}

https_reset() {
	while read -r n; do
		cat "$T/m/$n.log" >>"$T/m/$n.all"
		: >"$T/m/$n.log"
	done <"$T/m/list"
	if [ -n "${A:-}" ]; then
		[ -f "$A" ] && cat "$A" >>"$A.all"
		: >"$A"
	fi
	if [ -f "$T/m/faulted" ]; then
		sort -u "$T/m/faulted" | while read -r n; do https_ctl "$n" reset; done
		rm -f "$T/m/faulted"
	fi
	"$CTL" stats --reset >/dev/null
}

https_forget() {
	rm -f "$T/m"/*.all
	[ -n "${A:-}" ] && rm -f "$A.all"
	return 0
}

mocks_ok() { # EXPR
	"$PY" - "$T/m" "$1" <<'PYEOF'
import glob, json, os, sys
d = sys.argv[1]
def m(name):
    try:
        return [json.loads(l) for l in open(os.path.join(d, name + ".log"))]
    except FileNotFoundError:
        return []
def text(host, whole=False):
    files = glob.glob(os.path.join(d, glob.escape(host) + ".*.log"))
    if whole:
        files += glob.glob(os.path.join(d, glob.escape(host) + ".*.all"))
    return "".join(open(f, errors="replace").read() for f in sorted(files))
def auth(r):
    return r["headers"].get("authorization")
ok = eval(sys.argv[2], {"m": m, "text": text, "auth": auth, "json": json})
if not ok:
    for name in open(os.path.join(d, "list")).read().split():
        for r in m(name):
            sys.stderr.write("  %s got: %s %s model=%s sni=%s host=%s auth=%s fault=%s\n" % (
                name, r["method"], r["path"], r["model"], r.get("sni"), r["headers"].get("host"),
                auth(r), r["fault"]))
sys.exit(0 if ok else 1)
PYEOF
}
