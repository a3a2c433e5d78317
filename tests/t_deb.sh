# t_deb.sh - the Debian package (debian/): `dpkg-buildpackage -us -uc -b`
# builds it from a copy of the tree; it holds the library in the multiarch
# directory, both programs, the conffile /etc/llmroute/routes.json and
# everything `make install` installs; lintian finds no error; its
# Build-Depends are tools/deps.sh's build packages.  Then the package is
# unpacked (dpkg -x, never installed on this machine) and laid over /usr and
# /etc in a private mount namespace, where the installed launcher preloads
# the installed library into curl, and the installed llmroutectl loads the
# installed routes.json, which routes a request to the mock upstream as
# that file says.
# needs: unsanitized (the package is built without sanitizers)
. "$(dirname "$0")/lib.sh"
lr_setup deb
if [ "$(id -u)" != 0 ]; then
	echo "deb: needs root for its mount namespace" >&2
	exit 1
fi
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
S=$T/src
mkdir -p "$S"
(cd "$ROOT" && git ls-files -co --exclude-standard -z | xargs -0 tar cf -) | tar xf - -C "$S"

# The copy builds in its own build/: not the BUILD of the tests, nor with
# the flags of the make that runs them.
clean_env() { env -u BUILD -u SANITIZE -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$@"; }
start=$(date +%s)
(cd "$S" && DEB_BUILD_OPTIONS="parallel=2 nocheck" clean_env dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1
check "dpkg-buildpackage -us -uc -b builds the package" test $? -eq 0
echo "# built in $(($(date +%s) - start)) s"
DEB=$(ls "$T"/llmroute_*_*.deb 2>/dev/null | head -n 1)
if [ -z "$DEB" ]; then
	tail -n 30 "$T/build.log" >&2
	exit 1
fi

# --- what it holds ----------------------------------------------------------
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|' >"$T/files"
for f in /usr/lib/$MA/libllmroute.so /usr/bin/llmroute /usr/bin/llmroutectl /etc/llmroute/routes.json; do
	check "holds $f" grep -qx "$f" "$T/files"
done
check "the example routes are a conffile" sh -c \
	"dpkg-deb --ctrl-tarfile '$DEB' | tar xOf - ./conffiles | grep -qx /etc/llmroute/routes.json"
check "the library has a SONAME and an ldconfig trigger" sh -c \
	"dpkg-deb --ctrl-tarfile '$DEB' | tar xOf - ./triggers | grep -qx 'activate-noawait ldconfig'"
# Everything `make install` puts under /usr and /etc (the tree the package
# was built from, with the package's directories) is in the package;
# dh_compress may have compressed it.
clean_env make -s -C "$S" install DESTDIR="$T/mi" PREFIX=/usr LIBDIR="/usr/lib/$MA" \
	UNITDIR=/lib/systemd/system >"$T/mi.log" 2>&1 # as debian/rules does
check "make install into a DESTDIR" test $? -eq 0
(cd "$T/mi" && find . ! -type d | sed 's|^\.||') >"$T/mi.files"
missing=$(while read -r f; do grep -qx -e "$f" -e "$f.gz" "$T/files" || echo "$f"; done <"$T/mi.files")
check "the package holds all $(wc -l <"$T/mi.files") files make install installs${missing:+; not: $missing}" \
	test -z "$missing"
# The systemd units are registered but enabled by no one but the admin:
# dh_installsystemd --no-enable re-enables only a unit the admin had
# enabled before ("debian-installed"), and deb-systemd-invoke starts only
# enabled units.
dpkg-deb --ctrl-tarfile "$DEB" | tar xOf - ./postinst >"$T/postinst" 2>/dev/null
units=$(grep -c '^/lib/systemd/system/llmroute-.*\.service$' "$T/files")
check "the systemd units of make install ($units) are registered, not enabled" sh -c \
	"[ $units -ge 1 ] && [ \$(grep -c \"deb-systemd-helper debian-installed 'llmroute-\" '$T/postinst') -eq $units ] && [ \$(grep -c 'deb-systemd-helper update-state' '$T/postinst') -eq $units ]"
# Build-Depends are deps.sh's build packages (gcc, make: build-essential).
sed -n '/^need /p; /^if \[ "\$want" = test \]/q' "$ROOT/tools/deps.sh" | awk '{ print $2 }' |
	grep -vx -e gcc -e make | sort >"$T/deps.build"
sed -n '/^Build-Depends:/,/^[A-Z]/p' "$ROOT/debian/control" | sed '$d; s/^Build-Depends://' |
	tr ',' '\n' | sed 's/ *(.*//; s/^ *//; s/ *$//' | grep -v -e '^$' -e '^debhelper-compat' | sort >"$T/deps.control"
check "Build-Depends = tools/deps.sh build ($(tr '\n' ' ' <"$T/deps.build"))" cmp -s "$T/deps.build" "$T/deps.control"

# --- lintian: no errors; warnings are printed ----------------------------------
lintian --tag-display-limit 0 "$T"/llmroute_*.changes >"$T/lintian.log" 2>&1
sed 's/^/# /' "$T/lintian.log"
check "lintian: no errors" expect_fail grep -q '^E:' "$T/lintian.log"

# --- the installed files, in a private mount namespace ------------------------------
R=$T/root
dpkg -x "$DEB" "$R"
check "this machine has no libllmroute.so of its own in /usr/lib/$MA" test ! -e "/usr/lib/$MA/libllmroute.so"
start_mock
cat >"$T/inside.sh" <<EOF
set -u
command -v llmroutectl
llmroute sh -c 'echo \$LD_PRELOAD'
llmroutectl load /etc/llmroute/routes.json >/dev/null || exit 1
chat() { printf '{"model": "%s", "messages": [{"role": "user", "content": "hi"}]}' "\$1"; }
# api.openai.com resolved to the mock: the example's host match sees the name.
llmroute curl -sS --max-time 10 --resolve api.openai.com:$MOCK_PORT:127.0.0.1 \
	"http://api.openai.com:$MOCK_PORT/v1/chat/completions" -d "\$(chat gpt-4-turbo)" >/dev/null
llmroute curl -sS --max-time 10 --resolve api.openai.com:$MOCK_PORT:127.0.0.1 \
	"http://api.openai.com:$MOCK_PORT/v1/chat/completions" -d "\$(chat o1-pro)" -o $T/denied
llmroutectl audit $T/audit.jsonl --json >$T/audit.json
EOF
LLMROUTE_AUDIT=$T/audit.jsonl unshare --mount sh -c '
	mount -t overlay overlay -o lowerdir="$1/usr":/usr /usr &&
	mount -t overlay overlay -o lowerdir="$1/etc":/etc /etc &&
	exec sh "$2"' sh "$R" "$T/inside.sh" >"$T/inside.out" 2>"$T/inside.err"
check "the installed programs ran" test $? -eq 0
sed 's/^/# /' "$T/inside.err"
check "the installed llmroutectl is the one run" sh -c "sed -n 1p '$T/inside.out' | grep -qx /usr/bin/llmroutectl"
check "the installed launcher preloads /usr/lib/$MA/libllmroute.so" sh -c \
	"sed -n 2p '$T/inside.out' | grep -qx /usr/lib/$MA/libllmroute.so"
check "routed as /etc/llmroute/routes.json says: gpt-4-turbo went out as gpt-4o-mini" \
	last_req 'd["model"] == "gpt-4o-mini" and d["headers"].get("Host", d["headers"].get("host", "")).startswith("api.openai.com")'
check "o1-pro was denied, never sent" test "$(mock_count)" -eq 1
check "the installed shim audited both, by the example's routes" audit_ok "$T/audit.jsonl" \
	'[x["llmroute.rule"] for x in a] == ["defs-to-mini", "no-o1-pro"] and a[0]["llmroute.original_model"] == "gpt-4-turbo"'
check "the installed llmroutectl summarizes the audit" json_ok "$T/audit.json" 'd[-1]["requests"] == 2'
check "nothing leaked out of the namespace" test ! -e "/etc/llmroute/routes.json" -a ! -e /usr/bin/llmroutectl
