# t_systemd.sh - the systemd units of dist/systemd as `make install` writes
# them: paths filled in, `systemd-analyze verify` clean (and a broken copy
# is not, so the check can fail), `systemd-analyze security --offline`
# exposure at most 2.0, none of the options that would cut the service off
# from the host's /dev/shm or System V IPC, and each unit's ExecStart and
# ExecReload command run for real against a test table.
# Not checked: the units running under systemd itself (this container's PID
# 1 is not systemd), so the sandbox (seccomp filter, ProtectSystem=, the
# capability bounding set) is verified as configuration, not exercised.
. "$(dirname "$0")/lib.sh"
lr_setup systemd
P=$T/prefix
E=$T/etc
make -s -C "$ROOT" install PREFIX="$P" SYSCONFDIR="$E" BUILD="$BUILD" >"$T/make.log" 2>&1
check "make install succeeded" [ $? -eq 0 ]
U=$P/lib/systemd/system
check "units installed to PREFIX/lib/systemd/system, mode 0644" \
	sh -c "[ \"\$(stat -c %a '$U/llmroute-load.service' '$U/llmroute-watch.service')\" = \"\$(printf '644\n644')\" ]"
check "paths filled in: no @VAR@ left" sh -c "! grep -q '@[A-Z]*@' '$U'/*.service"
check "load: ExecStart is the installed llmroutectl on SYSCONFDIR's routes.json" \
	grep -qx "ExecStart=$P/bin/llmroutectl load $E/llmroute/routes.json" "$U/llmroute-load.service"
check "watch: ExecStart is llmroutectl watch on it" \
	grep -qx "ExecStart=$P/bin/llmroutectl watch $E/llmroute/routes.json" "$U/llmroute-watch.service"
make -s -C "$ROOT" install PREFIX="$T/p2" UNITDIR="$T/units" BUILD="$BUILD" >"$T/make2.log" 2>&1
check "UNITDIR= puts them elsewhere" [ -f "$T/units/llmroute-watch.service" ]
check "the default SYSCONFDIR is /etc" grep -q "^ExecStart=$T/p2/bin/llmroutectl watch /etc/llmroute/routes.json$" "$T/units/llmroute-watch.service"

# verify: --man=no because the man page is not installed where man(1)
# looks; everything else (syntax, every key known, executables present,
# dependencies loadable) is checked, and any message at all fails.
for u in llmroute-load llmroute-watch; do
	(cd "$U" && systemd-analyze verify --man=no "./$u.service") >"$T/verify.out" 2>&1
	rc=$?
	check "systemd-analyze verify $u.service: exit 0, no message ($(head -c 300 "$T/verify.out"))" \
		sh -c "[ $rc -eq 0 ] && [ ! -s '$T/verify.out' ]"
	# --threshold counts tenths: 20 is an exposure of 2.0 ("OK" is below 5)
	systemd-analyze security --offline=yes --man=no --threshold=20 "$U/$u.service" >"$T/sec.out" 2>&1
	rc=$?
	check "systemd-analyze security $u.service: exposure <= 2.0 ($(grep -o 'exposure level.*' "$T/sec.out"))" \
		sh -c "[ $rc -eq 0 ] && grep -q 'exposure level' '$T/sec.out'"
done
mkdir "$T/bad"
sed -e 's/^RemainAfterExit=/RemainAfterExi=/' -e 's|^ExecStart=.*|ExecStart=llmroutectl-missing load x|' \
	"$U/llmroute-load.service" >"$T/bad/llmroute-load.service"
(cd "$T/bad" && systemd-analyze verify --man=no ./llmroute-load.service) >"$T/verify.out" 2>&1
check "verify catches an unknown key and a missing program in a broken copy" \
	sh -c "grep -q 'RemainAfterExi' '$T/verify.out' && grep -q 'llmroutectl-missing' '$T/verify.out'"

# Options that would hide the host's /dev/shm or System V IPC from the
# service (or remove its segments): none, in either unit.
for u in "$U"/*.service; do
	check "$(basename "$u"): runs as root, no PrivateIPC/RemoveIPC/DynamicUser/PrivateUsers/PrivateDevices, /dev untouched" \
		sh -c "grep -qx 'User=root' '$u' && ! grep -Eq '^(PrivateIPC|RemoveIPC|DynamicUser|PrivateUsers|PrivateDevices)=(yes|true|1|on)' '$u' && ! grep -Eq '^(TemporaryFileSystem|InaccessiblePaths|ReadOnlyPaths)=.*/dev' '$u' && grep -qx 'ReadWritePaths=/dev/shm' '$u'"
done
check "load: oneshot, RemainAfterExit" sh -c "grep -qx 'Type=oneshot' '$U/llmroute-load.service' && grep -qx 'RemainAfterExit=yes' '$U/llmroute-load.service'"

# The units' commands, run as systemd would run them (its environment
# aside): ExecStart publishes, ExecReload of watch republishes, SIGTERM
# (systemd's KillSignal) stops watch with exit 0.
mkdir -p "$E/llmroute"
printf '{"routes": [{"name": "boot", "match": {"model": "x"}, "deny": "no"}]}\n' >"$E/llmroute/routes.json"
cmd=$(sed -n 's/^ExecStart=//p' "$U/llmroute-load.service")
$cmd >"$T/load.out" 2>&1
check "load's ExecStart publishes the file" sh -c "'$CTL' show | grep -q ' boot '"
cmd=$(sed -n 's/^ExecStart=//p' "$U/llmroute-watch.service")
JOURNAL_STREAM=8:1 $cmd 2>"$T/watch.log" &
MAINPID=$!
i=0
until grep -q "^<6>published" "$T/watch.log" 2>/dev/null || [ $i -gt 300 ]; do i=$((i + 1)); sleep 0.1; done
g=$("$CTL" show --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["generation"])')
reload=$(sed -n 's/^ExecReload=//p' "$U/llmroute-watch.service" | sed "s/\$MAINPID/$MAINPID/")
$reload
i=0
until [ "$("$CTL" show --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["generation"])')" -gt "$g" ] || [ $i -gt 300 ]; do
	i=$((i + 1))
	sleep 0.1
done
check "watch's ExecReload ($reload) publishes again" [ $i -le 300 ]
kill -TERM "$MAINPID"
wait "$MAINPID"
check "watch stops on SIGTERM with exit 0 (systemd: a clean stop)" [ $? -eq 0 ]
