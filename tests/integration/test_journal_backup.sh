#!/bin/bash
# test_journal_backup.sh - `reftrack backup` of a live journal and a restore
# that stays exactly once, on a real cluster.  Run by
# tests/run-integration.sh (CEPH_CONF, RT_TEST_POOL, RT_BUILD, RT_SRC).
#
#   1. 2,400 entries on 60 anchored trackers (never deleted, so every one
#      keeps this journal's marker) in 3 batches: the first is submitted
#      and replayed, the other two submitted; with the OSDs paused
#      (cluster.sh pause, so that the replay is certainly running and
#      holding the journal lock, whatever the load) a replay starts and
#      `reftrack backup` copies the journal under it.  The OSDs resume and
#      the replay finishes; `check` finds the copy clean and it holds the
#      last two batches pending.
#   2. The backup is restored in place of the journal and replayed again:
#      every entry it held pending had landed after the backup; each one
#      that landed with a write is recognised by the tracker's marker and
#      recorded "already applied" without a write (one whose write was not
#      needed is found a no-op again); the trackers and every other
#      entry's outcome equal the model (replay_model.py check --restored),
#      and the restored journal checks clean.
#   3. A batch submitted to the restored journal gets seqs above any the
#      original can have used, and is applied normally.
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require journal-backup CEPH_CONF RT_TEST_POOL RT_BUILD RT_SRC RT_CLUSTER_DIR

tl_replay_env

tl_tmpdir rt-jbackup
replay_pid=
paused=
on_exit() {
	if [ -n "$paused" ]; then
		"$RT_SRC/tests/cluster.sh" unpause "$RT_CLUSTER_DIR" >/dev/null
	fi
	if [ -n "$replay_pid" ] && kill -0 "$replay_pid" 2>/dev/null; then
		kill -9 "$replay_pid" 2>/dev/null
		wait "$replay_pid" 2>/dev/null
	fi
}

ns="jbak-$$"
jdir=$tmp/journal
bk=$tmp/backup
gen=$tmp/gen

model() { "$py" "$model_py" "$@"; }

# count_of JOURNAL STATE: the number of entries in STATE.
count_of() {
	"$reftrack" status --journal "$1" --json |
		"$py" -c 'import json, sys; print(json.load(sys.stdin)["counts"][sys.argv[1]])' "$2"
}

# markers: "TRACKER VALUE" of this journal's marker on every tracker.
markers() {
	local t id
	id=$("$reftrack" status --journal "$jdir" --json |
		"$py" -c 'import json, sys; print(json.load(sys.stdin)["journal"]["id"])')
	while read -r t; do
		echo "$t $(rados -p "$pool" -N "$ns" getxattr "$t" "reftrack.j.$id" 2>/dev/null)"
	done <"$gen/anchors.txt"
}

check_model() {
	model check --plan "$gen/plan.json" --reftrack "$reftrack" --journal "$jdir" \
		--all-done "$@" >"$tmp/model.out" 2>&1
	local st=$?
	sed 's/^/  /' "$tmp/model.out"
	[ "$st" -eq 0 ] || fail "the cluster or the journal differs from the model"
}

case_backup_restore() {
	local t i n f total pending_bk

	model gen --seed 4711 --entries 2400 --batches 3 --trackers a:60:anchor \
		--keys 3 --pool "$pool" --ns "$ns" --out "$gen" >/dev/null ||
		{ fail "replay_model.py gen"; return; }
	while read -r t; do
		run "$reftrack" -p "$pool" -N "$ns" add "$t" anchor
		expect_rc 0
	done <"$gen/anchors.txt"
	# Batch 0 applied before the backup, batches 1 and 2 after it.
	for f in "$gen"/batch-00.yaml; do
		run "$reftrack" submit --journal "$jdir" "$f"
		expect_rc 0
	done
	run "$reftrack" replay --journal "$jdir"
	expect_rc 0
	for f in "$gen"/batch-0[12].yaml; do
		run "$reftrack" submit --journal "$jdir" "$f"
		expect_rc 0
	done
	total=$(count_of "$jdir" total)

	# 1. A backup while a replay runs: with the OSDs paused the replay
	# holds the journal lock and waits on its reads, whatever the load.
	"$RT_SRC/tests/cluster.sh" pause "$RT_CLUSTER_DIR" >/dev/null ||
		{ fail "cannot pause the cluster"; return; }
	paused=1
	"$reftrack" replay --journal "$jdir" \
		>"$tmp/replay1.out" 2>"$tmp/replay1.err" &
	replay_pid=$!
	for i in $(seq 1 300); do
		[ "$(cat "$jdir/replay.lock" 2>/dev/null)" = "$replay_pid" ] && break
		kill -0 "$replay_pid" 2>/dev/null || break
		sleep 0.1
	done
	[ "$(cat "$jdir/replay.lock" 2>/dev/null)" = "$replay_pid" ] && pass ||
		fail "the replay did not take the journal lock"
	run "$reftrack" backup --journal "$jdir" "$bk"
	expect_rc 0
	kill -0 "$replay_pid" 2>/dev/null && pass ||
		fail "the replay was not running during the backup"
	"$RT_SRC/tests/cluster.sh" unpause "$RT_CLUSTER_DIR" >/dev/null ||
		fail "cannot unpause the cluster"
	paused=
	wait "$replay_pid"
	rc=$?
	replay_pid=
	[ "$rc" -eq 0 ] || fail "the replay during the backup exited $rc: $(cat "$tmp/replay1.err")"
	run "$reftrack" check --journal "$bk"
	expect_rc 0
	pending_bk=$(count_of "$bk" pending)
	echo "  backup taken with $pending_bk of $total entries pending"
	[ "$pending_bk" -gt 0 ] && [ "$pending_bk" -lt "$total" ] && pass ||
		fail "the backup holds $pending_bk pending entries of $total: not taken during the replay"
	check_model
	markers >"$tmp/markers1"
	[ -s "$tmp/markers1" ] || fail "no tracker carries a marker"

	# 2. Restore it and replay again.
	mv "$jdir" "$tmp/journal.orig"
	cp -a "$bk" "$jdir"
	run "$reftrack" check --journal "$jdir"
	expect_rc 0
	run "$reftrack" replay --journal "$jdir"
	expect_rc 0
	check_model --restored
	# Each entry that landed with a write is recognised by the marker;
	# one whose write was not needed (the tracker already agreed) left no
	# marker and is simply found a no-op again, as the model says.
	n=$(sed -n 's/^replay_model: \([0-9]*\) entries recognised.*/\1/p' "$tmp/model.out")
	echo "  $n of the $pending_bk entries pending in the backup recognised by the marker"
	[ "${n:-0}" -gt 0 ] && [ "${n:-0}" -le "$pending_bk" ] && pass ||
		fail "entries recognised as already applied: ${n:-none} (of $pending_bk pending)"
	# Nothing was written again: every write sets the marker to the seq
	# of its group's last entry, so a second write of anything would have
	# left a marker other than the first replay's.
	markers >"$tmp/markers2"
	cmp -s "$tmp/markers1" "$tmp/markers2" && pass ||
		fail "the replay of the restored journal wrote again: markers before/after:
$(diff "$tmp/markers1" "$tmp/markers2" | head -10)"
	run "$reftrack" check --journal "$jdir"
	expect_rc 0

	# 3. New entries after the restore: seqs above the original's.
	printf 'version: 1\nrequests:\n  - {tracker: a000, pool: %s, namespace: %s, add: [after-restore]}\n' \
		"$pool" "$ns" >"$tmp/after.yaml"
	run "$reftrack" submit --journal "$jdir" "$tmp/after.yaml"
	expect_rc 0
	case "$out" in
	*"(seq $((total + 1))-"*) fail "the restored journal reused seq $((total + 1)): $out" ;;
	*) pass ;;
	esac
	run "$reftrack" replay --journal "$jdir"
	expect_rc 0
	[ "$(model dump --pool "$pool" --ns "$ns" a000 | grep -c after-restore:01)" -eq 1 ] &&
		pass || fail "the entry submitted after the restore was not applied"
	run "$reftrack" check --journal "$jdir"
	expect_rc 0
}
run_case case_backup_restore

finish journal-backup
