#!/bin/sh
# deps.sh - make sure the Debian packages llmroute needs are installed.
#
# Usage: tools/deps.sh build|test
#   build: headers and libraries to compile llmroute.
#   test:  also the real programs the tests run under the shim.
# As root, missing packages are installed with apt-get; otherwise the exact
# install command is printed and the script exits 1.  Each package is checked
# by a file it ships, so a complete machine costs no apt call at all.
set -eu

want=${1:-build}
missing=""

need() { # need PACKAGE PATH-OR-GLOB: the package ships a file matching it
	for f in $2; do
		[ -e "$f" ] && return 0
	done
	missing="$missing $1"
}

multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
need gcc /usr/bin/gcc
need make /usr/bin/make
need libcurl4-openssl-dev "/usr/include/$multiarch/curl/curl.h"
need libcjson-dev /usr/include/cjson/cJSON.h
need uthash-dev /usr/include/uthash.h
# OpenSSL's libcrypto: llmroutectl's `ca init` (also the headers of
# tests/upstream/up_client.c and tests/progs/bench_tlsmove.c)
need libssl-dev /usr/include/openssl/ssl.h

if [ "$want" = test ]; then
	need curl /usr/bin/curl
	# t_https: a TLS stack the hooks do not reach (GnuTLS)
	need wget /usr/bin/wget
	# t_https, t_ca: Java (JSSE) and keytool for its trust store
	need default-jre-headless /usr/bin/keytool
	need python3 /usr/bin/python3
	need python3-pycurl "/usr/lib/python3/dist-packages/pycurl*"
	need python3-requests /usr/lib/python3/dist-packages/requests
	need openssl /usr/bin/openssl
	need nodejs /usr/bin/node
	[ -e /usr/bin/node ] && need npm /usr/bin/npm
	need php-cli /usr/bin/php
	need php-curl "/usr/lib/php/*/curl.so"
	# t_https: HTTPS clients on the system OpenSSL, in a private namespace
	need python3-httpx /usr/lib/python3/dist-packages/httpx
	need ruby /usr/bin/ruby
	need iproute2 "/usr/sbin/ip /sbin/ip /bin/ip"
	need util-linux "/usr/bin/unshare /bin/unshare"
	# t_docs: the manual pages rendered, the bash completion run
	need groff-base /usr/bin/groff
	need man-db /usr/bin/man
	need bash /bin/bash
	# t_prom: the Prometheus project's own parser checks the exposition
	need python3-prometheus-client /usr/lib/python3/dist-packages/prometheus_client
	# t_fleet: a real Redis the hosts share fleet budgets and health through
	need redis-server /usr/bin/redis-server
	# t_systemd: systemd-analyze verify on the units in dist/systemd
	need systemd /usr/bin/systemd-analyze
	need clang /usr/bin/clang
	need libclang-rt-14-dev "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a"
	# t_report: `llmroutectl audit --html` rendered by a headless browser
	need chromium /usr/bin/chromium
	# t_deb: the Debian package built (debian/control's Build-Depends) and linted
	need dpkg-dev /usr/bin/dpkg-buildpackage
	need debhelper /usr/bin/dh
	need lintian /usr/bin/lintian
	# t_https: Debian's own Node.js (below) runs on these
	need libc-ares2 "/usr/lib/$multiarch/libcares.so.2"
	need libuv1 "/usr/lib/$multiarch/libuv.so.1"
	need libicu72 "/usr/lib/$multiarch/libicuuc.so.72"
	need libnghttp2-14 "/usr/lib/$multiarch/libnghttp2.so.14"
	need libbrotli1 "/usr/lib/$multiarch/libbrotlidec.so.1"
fi

# The Node.js test clients' packages (tests/node/package-lock.json: the
# openai and @anthropic-ai/sdk SDKs), from the npm registry, once.
node_packages() {
	[ "$want" = test ] || return 0
	dir=$(cd "$(dirname "$0")/../tests/node" && pwd)
	[ -e "$dir/node_modules/openai/package.json" ] &&
		[ -e "$dir/node_modules/@anthropic-ai/sdk/package.json" ] && return 0
	echo "llmroute: installing the Node.js test packages in $dir" >&2
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
}

# Debian's own Node.js for t_https: its TLS is the system libssl (the
# /usr/bin/node of nodesource or nodejs.org carries its own OpenSSL).  When
# /usr/bin/node is not Debian's, Debian's packages are fetched and unpacked
# into tests/.debnode (never installed: the machine's node stays); the test
# overlays its /usr/share inside its private mount namespace.
debian_node() {
	[ "$want" = test ] || return 0
	dir=$(cd "$(dirname "$0")/../tests" && pwd)/.debnode
	[ -x "$dir/root/usr/bin/node" ] && return 0
	ver=$(apt-cache madison nodejs 2>/dev/null | awk -F'|' '$3 ~ /debian/ && $2 !~ /nodesource/ {gsub(/ /, "", $2); print $2; exit}')
	[ -n "$ver" ] || { echo "llmroute: Debian's nodejs is not in the package lists (t_https skips it)" >&2; return 0; }
	echo "llmroute: fetching Debian's Node.js $ver into $dir (not installed)" >&2
	rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/debs" && (
		cd "$dir.tmp/debs" &&
		apt-get download -q "nodejs=$ver" "libnode108=$ver" node-cjs-module-lexer node-acorn node-xtend \
			node-undici node-busboy >/dev/null 2>&1 &&
		for f in ./*.deb; do dpkg -x "$f" ../root || exit 1; done
	) && mv "$dir.tmp" "$dir" || { rm -rf "$dir.tmp"; echo "llmroute: could not fetch Debian's Node.js" >&2; }
}

if [ -z "$missing" ]; then
	node_packages
	debian_node
	exit 0
fi

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "llmroute: missing packages:$missing" >&2
	echo "llmroute: install them as root with:" >&2
	echo "    apt-get update && $cmd" >&2
	exit 1
fi
echo "llmroute: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || true
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
node_packages
debian_node
