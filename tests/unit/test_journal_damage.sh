#!/bin/bash
# test_journal_damage.sh - damaged, unsafe and missing journals, through the
# tool (no cluster needed).  Each case builds a journal holding a submitted
# batch, copies it, damages the copy and checks that reftrack refuses it
# with the documented exit status, names the file or record, never dies of
# a signal and never starts a new journal over the old one:
#
#   - data.mdb truncated to 0 bytes, or missing beside lock.mdb: exit 65
#     naming the file; the applied batch is not accepted again;
#   - data.mdb truncated to half: exit 65 naming the file, no SIGBUS;
#   - bytes of one entry changed: `check` names the entry (exit 65, JSON
#     too), `export` refuses it (65); 4 KB of random bytes in the middle:
#     `check` reports damage (65), never a signal;
#   - `check` on a clean journal: exit 0; `backup` gives a copy that checks
#     clean, refuses a DEST that holds a journal; `run --backup` keeps the
#     last N copies, named by UTC time, and no temporary copy;
#   - a journal directory or data.mdb writable by group or others, or owned
#     by another user: exit 77 naming the path and the fix;
#   - replay, retry, skip, status, export, prune, check, backup on a
#     directory that does not exist: exit 66 "no journal at PATH", nothing
#     created (as root without --journal: not /var/lib/reftrack/journal);
#     a rejected submit (file or stdin) creates nothing; racing first
#     submits into one new journal all get in; a valid first
#     submit from stdin creates the journal.
#
# Run from the repository root; the tool is $RT_BUILD/reftrack.
set -u
cd "$(dirname "$0")/../.." || exit 1
build=${RT_BUILD:-build}
rt=$build/reftrack
py=${PYTHON:-/usr/bin/python3}
. "$(dirname "$0")/../testlib.sh"
tl_tmpdir rt-journal-damage

tl_require_built journal-damage "$rt"
unset REFTRACK_JOURNAL

# no_signal: fails if the last command died of a signal.
no_signal() {
	[ "$rc" -lt 128 ] && pass || fail "$last_cmd died of signal $((rc - 128))"
}
expect_has() {
	case "$err$out" in
	*"$1"*) pass ;;
	*) fail "$last_cmd: output lacks '$1': $err$out" ;;
	esac
}

# A batch whose tracker names are each in one entry only.
batch=$tmp/batch.yaml
{
	echo "version: 1"
	echo "defaults: {pool: rbd}"
	echo "requests:"
	for i in $(seq -w 1 40); do
		echo "  - {tracker: dmg-tracker-$i, add: [k-$i-a, k-$i-b]}"
	done
} >"$batch"
good=$tmp/good
run "$rt" submit --journal "$good" "$batch"
expect_rc 0
run "$rt" check --journal "$good"
expect_rc 0
expect_has "clean (40 entries"

# fresh NAME: a copy of the good journal at $tmp/NAME.
fresh() {
	rm -rf "${tmp:?}/$1"
	cp -a "$good" "$tmp/$1"
}

# ---- data.mdb empty or missing -----------------------------------------------

case_empty_data() {
	local j=$tmp/empty c
	fresh empty
	: >"$j/data.mdb"
	for c in status export check; do
		run "$rt" "$c" --journal "$j"
		expect_rc 65
		expect_err_has "$j/data.mdb is empty"
	done
	# The applied batch is not taken for a new one.
	run "$rt" submit --journal "$j" "$batch"
	expect_rc 65
	[ ! -s "$j/data.mdb" ] && pass || fail "submit wrote into the empty data.mdb"
	rm "$j/data.mdb"
	run "$rt" submit --journal "$j" "$batch"
	expect_rc 65
	expect_err_has "data.mdb is missing"
	[ ! -e "$j/data.mdb" ] && pass || fail "submit made a new data.mdb"
	# A directory with something else in it is not made a journal.
	mkdir "$tmp/other" && echo x >"$tmp/other/notes.txt"
	run "$rt" submit --journal "$tmp/other" "$batch"
	expect_rc 65
	expect_err_has "not empty"
}
run_case case_empty_data

# ---- truncated to half ---------------------------------------------------------

case_truncated() {
	local j=$tmp/half size c
	fresh half
	size=$(stat -c %s "$j/data.mdb")
	truncate -s $((size / 2)) "$j/data.mdb"
	for c in status export check replay; do
		run "$rt" "$c" --journal "$j"
		no_signal
		expect_rc 65
		expect_err_has "$j/data.mdb is $((size / 2)) bytes"
	done
	run "$rt" submit --journal "$j" "$batch"
	no_signal
	expect_rc 65
}
run_case case_truncated

# ---- damaged records -----------------------------------------------------------

# flip FILE TEXT: changes one byte inside every occurrence of TEXT.
flip() {
	"$py" - "$1" "$2" <<'EOF'
import sys
path, text = sys.argv[1], sys.argv[2].encode()
d = bytearray(open(path, "rb").read())
i, n = 0, 0
while True:
    i = d.find(text, i)
    if i < 0:
        break
    d[i + len(text) - 1] ^= 0x01
    i += 1
    n += 1
open(path, "wb").write(d)
print(n)
EOF
}

case_damaged_entry() {
	local j=$tmp/rec n
	fresh rec
	n=$(flip "$j/data.mdb" dmg-tracker-17)
	[ "$n" -ge 1 ] || fail "tracker name not found in data.mdb"
	run "$rt" check --journal "$j"
	expect_rc 65
	expect_has "entries 17: entry fails its checksum"
	expect_has "DAMAGED"
	run "$rt" check --journal "$j" --json
	expect_rc 65
	"$py" -c 'import json, sys
r = json.loads(sys.argv[1])
assert r["clean"] is False, r
assert any(p["table"] == "entries" and p["key"] == "17" for p in r["problems"]), r
' "$out" && pass || fail "check --json: $out"
	run "$rt" export --journal "$j"
	expect_rc 65
	expect_err_has "entry 17 is damaged (its checksum does not match)"
	run "$rt" show-entry --journal "$j" 17
	[ "$rc" -ne 0 ] && pass || fail "show-entry printed a damaged entry"
}
run_case case_damaged_entry

# Random bytes over a B-tree page may send LMDB anywhere: check reports
# the damage; no command dies of a signal on a read of data.mdb (a fault
# there is exit 65 with a message, cli_fault.c).
case_random_middle() {
	local j=$tmp/rnd size seed c
	for seed in 20240501 1 2 3 4 5 6; do
		fresh rnd
		size=$(stat -c %s "$j/data.mdb")
		"$py" - "$j/data.mdb" "$size" "$seed" <<'EOF'
import random, sys
random.seed(int(sys.argv[3]))
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]) // 2)
    f.write(bytes(random.getrandbits(8) for _ in range(4096)))
EOF
		run "$rt" check --journal "$j"
		no_signal
		expect_rc 65
		run "$rt" check --journal "$j" --json
		expect_rc 65
		case "$out" in *'"clean":false'*) pass ;; *) fail "check --json, seed $seed: $out" ;; esac
		for c in status export; do
			run "$rt" "$c" --journal "$j"
			no_signal
		done
	done
}
run_case case_random_middle

# ---- check and backup ----------------------------------------------------------

case_backup() {
	local bk=$tmp/bk spool=$tmp/spool n
	run "$rt" backup --journal "$good" "$tmp/copy"
	expect_rc 0
	[ "$(stat -c %a "$tmp/copy")" = 700 ] && pass || fail "backup dir mode"
	[ ! -e "$tmp/copy/data.mdb.tmp" ] && pass || fail "temporary file left"
	run "$rt" check --journal "$tmp/copy"
	expect_rc 0
	expect_has "clean (40 entries"
	run "$rt" backup --journal "$good" "$tmp/copy"
	expect_rc 64
	expect_err_has "already exists"
	run "$rt" backup --journal "$tmp/none" "$tmp/copy2"
	expect_rc 66
	[ ! -e "$tmp/copy2" ] && pass || fail "backup of no journal made $tmp/copy2"
	# run --backup: nothing pending needs no cluster.
	fresh runj
	mkdir "$spool"
	run "$rt" export --journal "$tmp/runj"
	expect_rc 0
	run "$rt" prune --journal "$tmp/runj" --done-older-than 0
	for n in 1 2 3; do
		run "$rt" run --spool "$spool" --journal "$tmp/runj" --backup "$bk" \
			--backup-keep 2 -c /dev/null --op-timeout 1
		# Pending entries and no cluster: 75 (or whatever the
		# exit-status policy gives), never a backup failure.
		case "$err" in *backup*) fail "run --backup: $err" ;; esac
		# Copies are named by the second: make the next one new.
		while [ -e "$bk/$(date -u +%Y%m%dT%H%M%SZ)" ]; do :; done
	done
	n=$(ls "$bk" | grep -cE '^[0-9]{8}T[0-9]{6}Z$')
	[ "$n" -eq 2 ] && pass || fail "run --backup-keep 2 left $n copies: $(ls -a "$bk")"
	[ -z "$(ls -A "$bk" | grep -vE '^[0-9]{8}T[0-9]{6}Z$')" ] && pass ||
		fail "temporary copies left in $bk: $(ls -A "$bk")"
	run "$rt" check --journal "$bk/$(ls "$bk" | tail -1)"
	expect_rc 0
}
run_case case_backup

# ---- ownership and modes -----------------------------------------------------------

case_modes() {
	local j=$tmp/modes
	fresh modes
	chmod g+w "$j"
	run "$rt" status --journal "$j"
	expect_rc 77
	expect_err_has "chmod 700 $j"
	chmod 700 "$j"
	chmod o+w "$j/data.mdb"
	run "$rt" submit --journal "$j" "$batch"
	expect_rc 77
	expect_err_has "chmod 600 $j/data.mdb"
	chmod 600 "$j/data.mdb"
	run "$rt" status --journal "$j"
	expect_rc 0
	if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
		chown nobody "$j"
		run "$rt" status --journal "$j"
		expect_rc 77
		expect_err_has "chown root $j"
		chown root "$j"
		chown nobody "$j/data.mdb"
		run "$rt" replay --journal "$j"
		expect_rc 77
		expect_err_has "owned by nobody"
		chown root "$j/data.mdb"
	else
		echo "  (not root: the chown cases are skipped)"
	fi
}
run_case case_modes

# ---- no journal ----------------------------------------------------------------------

case_no_journal() {
	local c missing=$tmp/typo
	for c in replay status export check "prune --done-older-than 1d" \
		"retry --entry 1" "skip 1 --reason x" "backup $tmp/dest"; do
		# shellcheck disable=SC2086 # the words are wanted
		run "$rt" $c --journal "$missing"
		expect_rc 66
		expect_err_has "no journal at $missing"
		[ ! -e "$missing" ] && pass || { fail "$c created $missing"; rm -rf "$missing"; }
	done
	[ ! -e "$tmp/dest" ] && pass || fail "backup of no journal made $tmp/dest"
	# Root's default journal is not created either.
	if [ "$(id -u)" -eq 0 ] && [ ! -e /var/lib/reftrack/journal ]; then
		run "$rt" replay
		expect_rc 66
		if [ -e /var/lib/reftrack/journal ]; then
			fail "replay created /var/lib/reftrack/journal"
			rm -rf /var/lib/reftrack/journal
			rmdir /var/lib/reftrack 2>/dev/null
		else
			pass
		fi
	fi
	# A rejected submit creates nothing, from a file or stdin.
	echo "version: 1
requests: [{tracker: t, pool: p, add: [\"\"]}]" >"$tmp/bad.yaml"
	run "$rt" submit --journal "$missing" "$tmp/bad.yaml"
	expect_rc 65
	[ ! -e "$missing" ] && pass || { fail "rejected submit created $missing"; rm -rf "$missing"; }
	run sh -c "\"$rt\" submit --journal \"$missing\" - <\"$tmp/bad.yaml\""
	expect_rc 65
	[ ! -e "$missing" ] && pass || { fail "rejected stdin submit created $missing"; rm -rf "$missing"; }
	# A valid first submit, from stdin, creates it.
	run sh -c "\"$rt\" submit --journal \"$missing\" - <\"$batch\""
	expect_rc 0
	run "$rt" status --journal "$missing" --format json-pretty
	expect_rc 0
	case "$out" in *'"pending": 40'*) pass ;; *) fail "stdin submit: $out" ;; esac
	# Four first submits at once into one new journal (each builds its
	# own beside it, one takes the place, the others go into that one):
	# every batch is in, nothing is left beside it.
	local i pids="" racer=$tmp/race/j
	for i in 1 2 3 4; do
		{ echo "version: 1"; echo "requests:"
		  for k in $(seq 1 500); do echo "  - {tracker: r$i-$k, pool: p, add: [k]}"; done
		} >"$tmp/race$i.yaml"
	done
	for i in 1 2 3 4; do
		"$rt" submit -q --journal "$racer" "$tmp/race$i.yaml" 2>"$tmp/race$i.err" &
		pids="$pids $!"
	done
	for i in $pids; do
		wait "$i" && pass || fail "a racing first submit failed: $(cat "$tmp"/race?.err)"
	done
	run "$rt" status --journal "$racer" --format json-pretty
	expect_rc 0
	case "$out" in *'"pending": 2000'*) pass ;; *) fail "racing submits: $out" ;; esac
	[ "$(ls -A "$tmp/race")" = j ] && pass || fail "left beside the journal: $(ls -A "$tmp/race")"
}
run_case case_no_journal

finish journal-damage
