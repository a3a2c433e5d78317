# t_docs.sh - the manual pages render without warnings and document what
# the code has: every verb and option of llmroutectl (its verb table,
# `llmroutectl --verbs`, and each `VERB --help`), every key of the rules
# file (the parser's key table, `llmroutectl --rules-keys`), every
# LLMROUTE_* variable the sources read; the complete example in
# llmroute-rules(5) loads.  Each check is also run on a page with one entry
# taken out, and must fail there.  The bash completion, generated from the
# same verb table, completes verbs, sub-verbs, options, option values and
# route names.
# needs: groff, man (tools/deps.sh test)
. "$(dirname "$0")/lib.sh"
lr_setup docs
MAN=$ROOT/man

# --- rendering ----------------------------------------------------------------
for p in llmroute.1 llmroutectl.1 llmroute-rules.5; do
	LC_ALL=C.UTF-8 groff -mandoc -ww -z -Tutf8 "$MAN/$p" >"$T/groff.out" 2>&1
	check "$p: groff -ww renders it without a warning" test $? -eq 0 -a ! -s "$T/groff.out"
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$MAN/$p" >"$T/page.txt" 2>"$T/man.err"
	check "$p: man --warnings renders it without a warning" test ! -s "$T/man.err"
	check "$p: the rendered page has NAME and SEE ALSO" \
		sh -c "grep -q '^NAME' '$T/page.txt' && grep -q '^SEE ALSO' '$T/page.txt'"
done

# --- llmroutectl(1): verbs and options --------------------------------------
"$CTL" --verbs >"$T/verbs" 2>&1
cut -d ' ' -f 1 "$T/verbs" >"$T/verb_names"
check "--verbs lists the verb table (at least the 11 verbs of issue 15)" \
	test "$(wc -l <"$T/verb_names")" -ge 11
for v in load check show route explain unload stats audit train cache completion; do
	check "--verbs has $v" grep -qx "$v" "$T/verb_names"
done
check "--verbs lists route's sub-verbs" grep -qx "route add del enable disable" "$T/verbs"
check "--verbs lists ca's sub-verbs (issue 18)" grep -qx "ca init show install uninstall" "$T/verbs"

# verb_block PAGE VERB: the text of VERB's entries (.It Cm VERB ...) in the
# COMMANDS list of PAGE, up to the next entry of that list.
verb_block() {
	awk -v verb="$2" '
	/^\.Sh / { insec = ($2 == "COMMANDS"); depth = 0; on = 0; next }
	!insec { next }
	/^\.Bl/ { depth++ }
	/^\.El/ { if (depth == 1) on = 0; depth-- }
	depth == 1 && /^\.It / { on = ($2 == "Cm" && $3 == verb) }
	on { print }' "$1"
}

# ctl_undocumented PAGE: prints each verb, and each VERB --OPTION from its
# --help, that PAGE does not document; exit 1 if any.
ctl_undocumented() {
	bad=0
	while read -r v; do
		verb_block "$1" "$v" >"$T/block"
		if [ ! -s "$T/block" ]; then
			echo "verb $v"
			bad=1
			continue
		fi
		for o in $("$CTL" "$v" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u); do
			[ "$o" = --help ] && continue
			grep -qE -- "Fl -${o#--}([^a-z-]|\$)" "$T/block" || { echo "$v $o"; bad=1; }
		done
	done <"$T/verb_names"
	return $bad
}
ctl_undocumented "$MAN/llmroutectl.1" >"$T/undoc" 2>&1
check "llmroutectl(1) documents every verb and every option of its --help$(sed 's/^/; missing: /' "$T/undoc" | tr -d '\n')" \
	test ! -s "$T/undoc"
opts=0
while read -r v; do
	n=$("$CTL" "$v" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u | grep -cvx -- --help)
	opts=$((opts + n))
done <"$T/verb_names"
check "the options found in the verbs' --help are many (got $opts, at least 25)" test "$opts" -ge 25
grep -v '^\.It Cm stats' "$MAN/llmroutectl.1" >"$T/no_stats.1"
ctl_undocumented "$T/no_stats.1" >"$T/undoc1"
check "the check fails on a page without the stats entry, and names it" grep -qx "verb stats" "$T/undoc1"
sed 's/Fl -show-body/Fl -shown-body/g' "$MAN/llmroutectl.1" >"$T/no_opt.1"
ctl_undocumented "$T/no_opt.1" >"$T/undoc2"
check "the check fails on a page without explain --show-body, and names it" \
	grep -qx "explain --show-body" "$T/undoc2"

for v in $(cat "$T/verb_names"); do
	"$CTL" "$v" --help >"$T/h" 2>&1 </dev/null
	rc=$?
	check "$v --help exits 0 with its usage (the completion runs it)" \
		sh -c "test $rc -eq 0 && grep -q 'usage: llmroutectl $v' '$T/h'"
	check "llmroutectl --help lists $v" sh -c "'$CTL' --help | grep -q '^  $v '"
done

# --- llmroute-rules(5): every key the parser accepts -------------------------
"$CTL" --rules-keys >"$T/keys" 2>&1
check "--rules-keys lists the parser's keys (at least 89)" test "$(wc -l <"$T/keys")" -ge 89
for k in "top routes" "top classifier" "route name" "route.match model" "route.match.bounds gt" \
	"route.set api_key_env" "route.pool.member weight" "route.escalate when" "target quality" \
	"price output_per_mtok" "intent min_quality" "health cooldown_s" "cache max_entry_kb"; do
	check "--rules-keys has \"$k\"" grep -qx "$k" "$T/keys"
done
check "--rules-keys has 18 kinds of object" test "$(cut -d ' ' -f 1 "$T/keys" | sort -u | wc -l)" -eq 18

# section_block PAGE SECTION: the page's lines from the marker comment
# `.\" section: SECTION` to the next marker.
section_block() {
	awk -v s="$2" '/^\.\\" section: / { on = ($3 == s); next } on { print }' "$1"
}

# rules_undocumented PAGE: prints each "SECTION KEY" of the parser that PAGE
# has no ".It Ic KEY" for under SECTION's marker, and each ".It Ic KEY" under
# a marker the parser does not have; exit 1 if any.
rules_undocumented() {
	bad=0
	while read -r s k; do
		section_block "$1" "$s" | grep -qE "^\.It Ic $k( |\$)" || { echo "$s $k"; bad=1; }
	done <"$T/keys"
	for s in $(sed -n 's/^\.\\" section: //p' "$1"); do
		[ "$s" = end ] && continue
		for k in $(section_block "$1" "$s" | sed -n 's/^\.It Ic \([^ ]*\).*/\1/p'); do
			grep -qx "$s $k" "$T/keys" || { echo "stale: $s $k"; bad=1; }
		done
	done
	return $bad
}
rules_undocumented "$MAN/llmroute-rules.5" >"$T/undoc" 2>&1
check "llmroute-rules(5) documents every key the parser accepts, and no other$(sed 's/^/; /' "$T/undoc" | tr -d '\n')" \
	test ! -s "$T/undoc"
awk '/section: route.set/ { s = 1 } s && /^\.It Ic cap$/ { s = 0; next } { print }' \
	"$MAN/llmroute-rules.5" >"$T/no_cap.5"
rules_undocumented "$T/no_cap.5" >"$T/undoc2"
check "the check fails on a page without route.set cap, and names it" grep -qx "route.set cap" "$T/undoc2"
sed 's/^\.It Ic ttl_s$/.It Ic ttl_seconds/' "$MAN/llmroute-rules.5" >"$T/stale.5"
rules_undocumented "$T/stale.5" >"$T/undoc3"
check "the check fails on a page documenting a key the parser lacks" grep -qx "stale: route.cache ttl_seconds" "$T/undoc3"

sed -n '/^\.\\" example: begin/,/^\.\\" example: end/p' "$MAN/llmroute-rules.5" |
	sed '1,2d;$d' | sed '$d' | sed 's/\\e/\\/g' >"$T/example.json"
check "the complete example is a page of JSON" test "$(wc -l <"$T/example.json")" -ge 20
expect 0 "ok, 4 routes" "$CTL" check "$T/example.json"

# --- llmroute(1): every LLMROUTE_* variable the sources read ----------------
grep -rhoE 'getenv\("LLMROUTE_[A-Z_]+"' "$ROOT/shim" "$ROOT/router" "$ROOT/tools" |
	sed 's/.*"\(.*\)"/\1/' | sort -u >"$T/envs"
check "the sources read at least 6 LLMROUTE_* variables" test "$(wc -l <"$T/envs")" -ge 6
check "... LLMROUTE_TABLE among them" grep -qx LLMROUTE_TABLE "$T/envs"
env_undocumented() {
	bad=0
	while read -r e; do
		grep -qE "^\.It Ev $e( |\$)" "$1" || { echo "$e"; bad=1; }
	done <"$T/envs"
	return $bad
}
env_undocumented "$MAN/llmroute.1" >"$T/undoc"
check "llmroute(1) documents every LLMROUTE_* variable$(sed 's/^/; missing /' "$T/undoc" | tr -d '\n')" \
	test ! -s "$T/undoc"
grep -v '^\.It Ev LLMROUTE_DISABLE' "$MAN/llmroute.1" >"$T/no_env.1"
env_undocumented "$T/no_env.1" >"$T/undoc2"
check "the check fails on a page without LLMROUTE_DISABLE, and names it" grep -qx LLMROUTE_DISABLE "$T/undoc2"

# --- bash completion, from the same verb table -------------------------------
"$CTL" completion bash >"$T/completion.bash"
check "completion bash prints a script bash accepts" bash -n "$T/completion.bash"
expect 1 "usage: llmroutectl completion bash" "$CTL" completion zsh

# compl WORD...: what completing the last WORD of `llmroutectl WORD...` offers
compl() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _llmroutectl
		[ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"' sh "$T/completion.bash" "$CTL" "$@" 2>/dev/null |
		sort | tr '\n' ' '
}
# expect_compl "EXPECTED" WORD...
expect_compl() {
	want=$1
	shift
	got=$(compl "$@")
	if [ "$got" = "$want" ]; then ok "completing '$*' offers: $want"; else fail "completing '$*': got '$got', want '$want'"; fi
}
expect_compl "route " ro
expect_compl "ca cache check completion " c
expect_compl "init install " ca i
expect_compl "--force " ca init --f
expect_compl "" frob
expect_compl "del disable " route d
expect_compl "clear stats " cache ""
expect_compl "--reset " stats --r
expect_compl "--savings --since --state " audit --s
expect_compl "rule " audit --by r
expect_compl "bash " completion ""
for v in $(cat "$T/verb_names"); do
	case " $(compl "$v") " in *" $v "*) ok "completing '$v' offers $v" ;; *) fail "completing '$v'" ;; esac
done
printf '{"routes":[{"name":"alpha","match":{"model":"a*"},"set":{"model":"x"}},{"name":"beta","deny":"no"}]}\n' >"$T/r.json"
"$CTL" load "$T/r.json" >/dev/null
expect_compl "alpha " route del a
expect_compl "alpha beta " route disable ""
expect_compl "beta " route add x --before b
expect_compl "$T/r.json " check "$T/r.j"

# --- README and docs/: links resolve, every page is linked ---------------
# md_links FILE...: prints each relative link (file or #anchor) that does
# not resolve, as FILE: TARGET; exit 1 if any.
md_links() {
	"$PY" - "$@" <<'PYEOF'
import os, re, sys
def slugs(path):
    out = set()
    inside = False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            inside = not inside
        m = None if inside else re.match(r"#+ (.*)", line)
        if m:
            s = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(s)
    return out
bad = 0
for f in sys.argv[1:]:
    text = re.sub(r"```.*?```", "", open(f, encoding="utf-8").read(), flags=re.S)
    for t in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", t):
            continue
        path, _, anchor = t.partition("#")
        target = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
        if not os.path.exists(target) or (anchor and target.endswith(".md") and anchor not in slugs(target)):
            print("%s: %s" % (f, t))
            bad = 1
sys.exit(bad)
PYEOF
}
md_links "$ROOT/README.md" "$ROOT"/docs/*.md "$ROOT/tests/README.md" >"$T/links" 2>&1
check "every link in README.md, docs/ and tests/README.md resolves$(sed 's/^/; /' "$T/links" | tr -d '\n')" \
	test ! -s "$T/links"
printf 'see [x](docs/nowhere.md) and [y](README.md#no-such-heading)\n' >"$T/bad.md"
cp "$ROOT/README.md" "$T/README.md"
md_links "$T/bad.md" >"$T/links2"
check "the link check finds a missing file and a missing anchor" \
	test "$(wc -l <"$T/links2")" -eq 2
for d in "$ROOT"/docs/*.md "$ROOT/tests/README.md"; do
	rel=${d#"$ROOT/"}
	check "README.md links to $rel" grep -qF "]($rel)" "$ROOT/README.md"
done
check "docs/ has the pages the README was split into (at least 8)" \
	test "$(ls "$ROOT"/docs/*.md | wc -l)" -ge 8
check "README.md stays a newcomer's page (at most 300 lines; it has $(wc -l <"$ROOT/README.md"))" \
	test "$(wc -l <"$ROOT/README.md")" -le 300
check "README.md keeps its Source layout section" grep -q '^## Source layout' "$ROOT/README.md"
