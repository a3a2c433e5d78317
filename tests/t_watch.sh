# t_watch.sh - llmroutectl watch: the live table follows a rules file through
# real file operations (edit in place, rename over, an editor's
# move-aside-and-write, delete and recreate, a ConfigMap-style ..data
# symlink swap); a broken file leaves the table as it was and is published
# once fixed; SIGHUP republishes; SIGTERM and SIGINT stop it with exit 0.
# Every wait is for a condition (the table's routes, a log line), never a
# fixed sleep.
. "$(dirname "$0")/lib.sh"
lr_setup watch

rules() { # rules NAME...: a rules file with one deny route per name
	printf '{"routes": ['
	sep=""
	for n in "$@"; do
		printf '%s{"name": "%s", "match": {"model": "m-%s"}, "deny": "no"}' "$sep" "$n" "$n"
		sep=", "
	done
	printf ']}\n'
}

# wait_for CMD...: true once CMD succeeds, false after 30 s.
wait_for() {
	i=0
	until "$@" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -gt 300 ] && return 1
		sleep 0.1
	done
}

# routes_are NAMES: the live table's route names, space-separated.
routes_are() {
	"$CTL" show --json >"$T/show.json" 2>/dev/null &&
		json_ok "$T/show.json" "' '.join(r['name'] for r in d['rules']['routes']) == '$1'"
}

gen() {
	"$CTL" show --json >"$T/gen.json" 2>/dev/null &&
		"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["generation"])' "$T/gen.json"
}

# logged N PATTERN: the watcher's log has at least N lines matching PATTERN.
logged() {
	[ "$(grep -c -- "$2" "$T/watch.log")" -ge "$1" ]
}

expect 1 "usage: llmroutectl watch" "$CTL" watch
expect 1 "debounce" "$CTL" watch "$T/x.json" --debounce soon
expect 2 "No such file" "$CTL" watch "$T/no/such/dir/routes.json"
expect 0 "SIGHUP" "$CTL" watch --help

D=$T/etc
mkdir "$D"
F=$D/routes.json
rules a >"$F"
"$CTL" watch "$F" --debounce 100 2>"$T/watch.log" &
wpid=$!
check "publishes the file at start" wait_for routes_are "a"
check "the log says what it published" grep -q "^llmroutectl watch: published $F as $LLMROUTE_TABLE generation [0-9]*: 1 routes$" "$T/watch.log"

rules b >"$F" # in place: truncate and write
check "edit in place is published" wait_for routes_are "b"

rules c >"$D/.routes.json.tmp"
mv "$D/.routes.json.tmp" "$F"
check "rename over the file is published" wait_for routes_are "c"

mv "$F" "$F~" && rules d >"$F" && rm "$F~" # an editor's backup-and-write
check "move aside and write anew is published" wait_for routes_are "d"

g=$(gen)
printf '{"routes": [\n  {"name": "e", "deny": }\n]}\n' >"$F"
check "broken JSON is reported in one line with file:line:col" \
	wait_for logged 1 "^llmroutectl watch: $F:2:.*malformed JSON.*not published, the live table stays at generation $g$"
check "broken JSON: the live table is unchanged" routes_are "d"
check "broken JSON: the generation is unchanged" [ "$(gen)" = "$g" ]
check "broken JSON: the watcher keeps running" kill -0 "$wpid"
printf '{"routes": [{"name": "e", "bad_key": 1}]}\n' >"$F"
check "a rules error (not JSON) is reported too" wait_for logged 1 "$F:.*unknown key.*not published"
check "rules error: the generation is unchanged" [ "$(gen)" = "$g" ]

rules e f >"$F"
check "the fixed file is published" wait_for routes_are "e f"
check "the fix is one generation later" [ "$(gen)" = "$((g + 1))" ]

g=$(gen)
kill -HUP "$wpid"
check "SIGHUP publishes the same bytes again" wait_for sh -c "[ \"\$('$CTL' show --json | '$PY' -c 'import json,sys; print(json.load(sys.stdin)[\"generation\"])')\" = $((g + 1)) ]"

rm "$F"
check "a deleted file is reported" wait_for logged 1 "$F: No such file or directory; the live table stays at generation"
check "deleted: the live table is unchanged" routes_are "e f"
rules g >"$F"
check "the recreated file is published" wait_for routes_are "g"

rm -r "$D"
check "a removed directory is reported" wait_for logged 1 "directory $D is gone; waiting for it"
mkdir "$D" && rules h >"$F"
check "the recreated directory's file is published" wait_for routes_are "h"

for i in 1 2 3 4 5 6 7 8 9 10; do # a burst: the last one wins
	rules "burst$i" >"$F"
done
check "after a burst of writes the last one is live" wait_for routes_are "burst10"

kill -TERM "$wpid"
wait "$wpid"
rc=$?
check "SIGTERM: exit 0" [ "$rc" -eq 0 ]
check "SIGTERM: logged" grep -q "stopping on SIGTERM" "$T/watch.log"
check "one line per event, no color" sh -c "! grep -q \"\$(printf '\\033')\" '$T/watch.log' && ! grep -v '^llmroutectl watch: ' '$T/watch.log'"

# A Kubernetes ConfigMap volume: routes.json -> ..data/routes.json, and
# ..data -> ..<timestamp>, swapped by renaming a new symlink over it.
C=$T/cm
mkdir -p "$C/..2024_01"
rules cm1 >"$C/..2024_01/routes.json"
ln -s ..2024_01 "$C/..data"
ln -s ..data/routes.json "$C/routes.json"
JOURNAL_STREAM=8:1 "$CTL" watch "$C/routes.json" 2>"$T/watch.log" &
wpid=$!
check "configmap: published at start" wait_for routes_are "cm1"
mkdir "$C/..2024_02"
rules cm2 >"$C/..2024_02/routes.json"
ln -s ..2024_02 "$C/..data_tmp"
mv -T "$C/..data_tmp" "$C/..data"
rm -rf "$C/..2024_01"
check "configmap: the ..data swap is published" wait_for routes_are "cm2"
rules cm3 >"$C/..2024_02/routes.json" # the real file edited where it lives
check "configmap: an edit of the symlink's target is published" wait_for routes_are "cm3"
kill -INT "$wpid"
wait "$wpid"
rc=$?
check "SIGINT: exit 0" [ "$rc" -eq 0 ]
check "under journald each line has a priority prefix" sh -c "! grep -qv '^<[36]>' '$T/watch.log' && grep -q '^<6>published' '$T/watch.log' && grep -q '^<6>stopping on SIGINT' '$T/watch.log'"
