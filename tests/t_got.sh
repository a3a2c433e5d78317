#!/bin/sh
# t_got.sh - tests shim/lr_got.c, the GOT rewriting that reaches modules
# loaded with RTLD_DEEPBIND (PHP's curl.so) where symbol interposition cannot.
#
# Builds, into ${BUILD:-build}/tests/got/: libtarget.so (target_fn,
# target_late, and target_twice, which calls target_fn through its own PLT),
# libmod.so linked against it twice (lazy binding with partial RELRO, and
# -z now -z relro), a SysV-hash-only pair, libaux.so (an import of the driver
# itself), and tests/got/got_main.c linked directly with shim/lr_got.c and
# router/lr_error.c.  got_main then checks each module loaded with RTLD_NOW
# and RTLD_LAZY, with and without RTLD_DEEPBIND, and once more built with
# AddressSanitizer+UBSan.
#
# Exit status: 0 all passed; 1 a build or a check failed (the reason is
# printed).  The sanitizer run is skipped, with a note, only if ${CC:-cc}
# cannot build any sanitized program at all.
#
# Flag lists ($CF, $SAN) are split on purpose, and '$ORIGIN' is for ld.so.
# shellcheck disable=SC2086,SC2016
set -u
cd "$(dirname "$0")/.." || exit 1

CC=${CC:-cc}
OUT=${BUILD:-build}/tests/got
WARN="-Wall -Wextra -Wshadow -Wno-unused-parameter ${WERROR:+-Werror}"
CF="-std=c11 -D_GNU_SOURCE -O2 -g $WARN"
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
TIMEOUT=
command -v timeout >/dev/null 2>&1 && TIMEOUT="timeout 60"

fail() {
	echo "t_got: FAIL: $*" >&2
	exit 1
}

mkdir -p "$OUT" || fail "cannot create $OUT"

# -fPIC -fsemantic-interposition keep target_fn interposable (clang drops
# that at -O2 without the flag), so target_twice calls it via the PLT:
# that is the library-internal reference lr_got_patch_all must not touch.
cat >"$OUT/libtarget.c" <<'EOF'
int target_fn(int x) { return x + 1; }
int target_late(int x) { return x + 2; }
int target_twice(int x) { return target_fn(target_fn(x)); }
EOF

# The driver's own import, which lr_got_patch_all must skip ("self").
echo 'int aux_fn(int x) { return x + 5; }' >"$OUT/libaux.c"

# mod_call: a JUMP_SLOT; mod_fn_addr: a GLOB_DAT; mod_call_late: a JUMP_SLOT
# that the driver leaves unresolved (under lazy binding) until patched.
cat >"$OUT/libmod.c" <<'EOF'
int target_fn(int x);
int target_late(int x);
int mod_call(int x) { return target_fn(x); }
int mod_call_late(int x) { return target_late(x); }
int (*mod_fn_addr(void))(int) { return &target_fn; }
EOF

build() {
	what=$1
	shift
	$CC "$@" || fail "cannot build $what"
}

build libtarget.so $CF -fPIC -fsemantic-interposition -shared -Wl,-soname,libtarget.so \
	-o "$OUT/libtarget.so" "$OUT/libtarget.c"
build libaux.so $CF -fPIC -shared -o "$OUT/libaux.so" "$OUT/libaux.c"
build libmod_lazy.so $CF -fPIC -shared -Wl,-z,lazy -o "$OUT/libmod_lazy.so" \
	"$OUT/libmod.c" -L"$OUT" -ltarget -Wl,-rpath,'$ORIGIN'
build libmod_now.so $CF -fPIC -shared -Wl,-z,now -Wl,-z,relro \
	-o "$OUT/libmod_now.so" "$OUT/libmod.c" -L"$OUT" -ltarget -Wl,-rpath,'$ORIGIN'
# The same pair with only a SysV DT_HASH, the other table that tells
# lr_got_patch_all that libtarget defines target_fn.
mkdir -p "$OUT/sysv" || fail "cannot create $OUT/sysv"
build sysv/libtarget.so $CF -fPIC -fsemantic-interposition -shared -Wl,--hash-style=sysv -Wl,-soname,libtarget.so \
	-o "$OUT/sysv/libtarget.so" "$OUT/libtarget.c"
build sysv/libmod_now.so $CF -fPIC -shared -Wl,--hash-style=sysv -Wl,-z,now -Wl,-z,relro \
	-o "$OUT/sysv/libmod_now.so" "$OUT/libmod.c" -L"$OUT/sysv" -ltarget -Wl,-rpath,'$ORIGIN'
# -rdynamic exports the driver's target_fn, as a preloaded hook is exported.
build got_main $CF -Irouter -Ishim -Itests/unit -rdynamic -o "$OUT/got_main" \
	tests/got/got_main.c shim/lr_got.c router/lr_error.c \
	-L"$OUT" -laux -Wl,-rpath,'$ORIGIN' -ldl -lpthread

run() {
	bin=$1
	shift
	$TIMEOUT "$OUT/$bin" "$@" || fail "$bin $* (exit $?)"
}

for lib in libmod_lazy.so libmod_now.so; do
	for bind in now lazy; do
		run got_main "$OUT/$lib" $bind deep
	done
	run got_main "$OUT/$lib" now plain
done
# The lazily built module loaded lazily: target_late's slot is unresolved
# when patched, and the GOT is partly outside RELRO.
run got_main "$OUT/libmod_lazy.so" lazy plain
run got_main "$OUT/sysv/libmod_now.so" now deep

if echo 'int main(void){return 0;}' | $CC $SAN -x c -o "$OUT/san_probe" - 2>/dev/null; then
	build got_main_san $CF $SAN -Irouter -Ishim -Itests/unit -rdynamic \
		-o "$OUT/got_main_san" tests/got/got_main.c shim/lr_got.c router/lr_error.c \
		-L"$OUT" -laux -Wl,-rpath,'$ORIGIN' -ldl -lpthread
	# ASan refuses RTLD_DEEPBIND outright, so only the plain loads run here.
	for lib in libmod_lazy.so libmod_now.so; do
		run got_main_san "$OUT/$lib" lazy plain
		run got_main_san "$OUT/$lib" now plain
	done
else
	echo "t_got: note: $CC cannot build with $SAN; sanitizer run skipped" >&2
fi
echo "t_got: ok"
