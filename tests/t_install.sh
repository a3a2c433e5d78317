# t_install.sh - `make install PREFIX=...` puts the library, both programs
# and the docs in place, and the installed launcher finds the installed
# library.
# needs: unsanitized (it preloads the installed shim into sh)
. "$(dirname "$0")/lib.sh"
lr_setup install
P=$T/prefix
make -s -C "$ROOT" install PREFIX="$P" BUILD="$BUILD" >"$T/make.log" 2>&1
check "make install succeeded" test $? -eq 0
check "library installed" test -f "$P/lib/llmroute/libllmroute.so"
check "llmroutectl installed" test -x "$P/bin/llmroutectl"
check "launcher installed" test -x "$P/bin/llmroute"
check "docs installed" test -f "$P/share/doc/llmroute/README.md"
check "the installed launcher preloads the installed library" sh -c \
	"'$P/bin/llmroute' sh -c 'echo \$LD_PRELOAD' | grep -qx '$P/bin/../lib/llmroute/libllmroute.so'"
check "the installed llmroutectl runs" sh -c "'$P/bin/llmroutectl' --help | grep -q 'usage: llmroutectl'"
check "launcher: a missing command exits 127" sh -c "'$P/bin/llmroute' /nonexistent/cmd 2>/dev/null; test \$? -eq 127"
check "launcher: no command is a usage error" sh -c "'$P/bin/llmroute' 2>/dev/null; test \$? -eq 1"
