# t_audit_safe.sh - where the audit trail may go, and whole records only.
#  - Attacks by a real second user (created and removed here) on a root
#    process's audit path in a sticky world-writable directory: a symlink
#    planted as the file, a symlink planted as a directory on the way, a
#    file pre-created by that user, a hard link to a root file.  Each is
#    refused: the target is unchanged, nothing is written, a log line at
#    the default level says why, and the app's request goes through.
#  - A full disk (a 64 KiB tmpfs in a private mount namespace): several
#    processes write records until it is full and beyond, then space is
#    freed and more are written.  Every non-blank line is a whole JSON
#    record, and `llmroutectl audit` reads them all without complaint; a
#    torn line put there by hand is reported with its line number.
# needs: unsanitized (it preloads the shim into Debian's curl)
. "$(dirname "$0")/lib.sh"
lr_setup audit_safe
start_mock
second_user
URL=$MOCK/v1/chat/completions
load_rules '{"routes": [{"name": "mini", "match": {"model": "gpt-4o"}, "set": {"model": "gpt-4o-mini"}}]}'
C="curl -sS --max-time 10 -o /dev/null -w %{http_code}"
BODY='{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}'

# --- the path ----------------------------------------------------------------------
S=$T/shared
mkdir "$S" "$T/secret" && chmod 1777 "$S"
printf 'precious\n' >"$T/victim" && chmod 0644 "$T/victim"
printf 'precious\n' >"$T/victim2" && chmod 0644 "$T/victim2"
as_user2 ln -s "$T/victim" "$S/link.jsonl"
as_user2 ln -s "$T/secret" "$S/dir"
as_user2 sh -c "umask 0; : >'$S/pre.jsonl'"
as_user2 ln "$T/victim2" "$S/hard.jsonl" 2>/dev/null
unset LLMROUTE_LOG # the default level

# refused PATH WHY WHAT: a root curl audited to PATH is answered, writes
# nothing, and says WHY once.
refused() {
	out=$(LLMROUTE_AUDIT=$1 shim $C "$URL" -d "$BODY" 2>"$T/err")
	check "$3: the request still goes through" test "$out" = 200
	check "$3: refused, and the log says why" grep -q "cannot open audit file $1 ($2)" "$T/err"
}
refused "$S/link.jsonl" "it is a symlink" "symlink planted as the audit file"
check "symlink planted as the audit file: its target is unchanged" \
	test "$(cat "$T/victim")" = precious
refused "$S/dir/audit.jsonl" "a directory on its path is a symlink that another user could have planted" \
	"symlink planted as a directory"
check "symlink planted as a directory: nothing created where it points" test ! -e "$T/secret/audit.jsonl"
refused "$S/pre.jsonl" "another user owns it" "file pre-created by another user"
check "file pre-created by another user: still empty" test ! -s "$S/pre.jsonl"
if [ -f "$S/hard.jsonl" ]; then
	refused "$S/hard.jsonl" "it has other hard links" "hard link to a root file"
	check "hard link to a root file: unchanged" test "$(cat "$T/victim2")" = precious
fi
LLMROUTE_AUDIT=$T/mine.jsonl shim $C "$URL" -d "$BODY" >/dev/null 2>"$T/err"
check "a path of our own is written" audit_ok "$T/mine.jsonl" "len(a) == 1"
# a symlinked directory we made ourselves, in a directory only we can
# change, is followed
ln -s "$T" "$T/own-dir"
LLMROUTE_AUDIT=$T/own-dir/mine.jsonl shim $C "$URL" -d "$BODY" >/dev/null 2>"$T/err"
check "our own symlinked directory is followed" audit_ok "$T/mine.jsonl" "len(a) == 2"
LLMROUTE_LOG=error
export LLMROUTE_LOG

# --- a full disk -------------------------------------------------------------------
F=$T/full
mkdir "$F"
cat >"$T/full.sh" <<SHEOF
mount -t tmpfs -o size=64k,mode=0755 lrtest "$F" || exit 3
head -c 40000 /dev/zero >"$F/filler" 2>/dev/null
export LLMROUTE_AUDIT="$F/audit.jsonl"
for i in 1 2 3; do
	"$LAUNCHER" "$BUILD/tests/fork_client" fork "$URL" 2 25 >"$T/w\$i.out" 2>&1 &
done
wait
df -k "$F" | tail -1 >"$T/df.full"
rm -f "$F/filler"
for i in 1 2; do
	"$LAUNCHER" "$BUILD/tests/fork_client" fork "$URL" 0 10 >"$T/v\$i.out" 2>&1 &
done
wait
cp "$F/audit.jsonl" "$T/full.jsonl"
umount "$F"
SHEOF
unshare --mount sh "$T/full.sh"
check "full disk: the writers' requests were all answered" sh -c "cat '$T'/w*.out '$T'/v*.out | grep -c '^children .* hung 0 failed 0\$' | grep -qx 5"
check "full disk: the disk did fill up" awk '$4 < 4 { ok = 1 } END { exit !ok }' "$T/df.full"
"$PY" - "$T/full.jsonl" >"$T/full.check" 2>&1 <<'PYEOF'
import json, sys
bad, n, blank = [], 0, 0
for i, l in enumerate(open(sys.argv[1], "rb").read().split(b"\n")[:-1], 1):
    if not l.strip():
        blank += 1
        continue
    try:
        r = json.loads(l)
        assert r["llmroute.rule"] == "mini"
        n += 1
    except Exception:
        bad.append(i)
print("records %d blank %d torn %s" % (n, blank, bad[:10]))
sys.exit(1 if bad or n == 0 else 0)
PYEOF
check "full disk: every non-blank line is a whole record ($(cat "$T/full.check"))" test $? -eq 0
"$CTL" audit "$T/full.jsonl" >/dev/null 2>"$T/ctl.err"
check "full disk: llmroutectl audit reads them all, no complaint" test ! -s "$T/ctl.err"
check "full disk: records written after space was freed" \
	test "$(tail -c 2000 "$T/full.jsonl" | grep -c '"llmroute.rule": *"mini"')" -gt 0

# a torn line (as an older writer left them) is reported, with its number
head -n 3 "$T/full.jsonl" | grep -v '^ *$' | head -n 2 >"$T/torn.jsonl"
printf '{"time": "2025-01-01T00:00:00.000Z", "gen_ai.prov' >>"$T/torn.jsonl"
head -n 1 "$T/torn.jsonl" >>"$T/torn.jsonl"
expect 0 "1 line skipped: .*: line 3$" "$CTL" audit "$T/torn.jsonl"
