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
for d in "$ROOT"/docs/*.md; do
	check "docs/$(basename "$d") installed" test -f "$P/share/doc/llmroute/docs/$(basename "$d")"
done
for m in man1/llmroute.1 man1/llmroutectl.1 man5/llmroute-rules.5; do
	check "manual page $m installed" test -f "$P/share/man/$m"
done
check "man finds the installed llmroutectl(1)" sh -c \
	"MANPATH='$P/share/man' man -w llmroutectl | grep -qx '$P/share/man/man1/llmroutectl.1'"
check "man finds the installed llmroute-rules(5)" sh -c \
	"MANPATH='$P/share/man' man -w 5 llmroute-rules | grep -qx '$P/share/man/man5/llmroute-rules.5'"
C=$P/share/bash-completion/completions/llmroutectl
check "bash completion installed" test -f "$C"
check "the installed completion completes a verb" bash -c \
	". '$C'; COMP_WORDS=('$P/bin/llmroutectl' exp); COMP_CWORD=1; _llmroutectl; [ \"\${COMPREPLY[*]}\" = explain ]"
check "the installed launcher preloads the installed library" sh -c \
	"'$P/bin/llmroute' sh -c 'echo \$LD_PRELOAD' | grep -qx '$P/bin/../lib/llmroute/libllmroute.so'"
check "the installed llmroutectl runs" sh -c "'$P/bin/llmroutectl' --help | grep -q 'usage: llmroutectl'"
check "launcher: a missing command exits 127" sh -c "'$P/bin/llmroute' /nonexistent/cmd 2>/dev/null; test \$? -eq 127"
check "launcher: no command is a usage error" sh -c "'$P/bin/llmroute' 2>/dev/null; test \$? -eq 1"
