#!/bin/bash
# test_run_spool.sh - `reftrack run`, `prune` and `export` without a
# cluster: the spool step (what is taken, what is ignored, accepted/,
# rejected/ with .error notes, duplicates, reused names, a kill between
# submit and move), the metrics file (parsed by tests/check_metrics.py and
# checked against `status --json`), JSON log lines, the lock (a second run
# exits 75 at once and touches nothing), exit statuses, and prune/export.
#
# "The cluster" is a config naming a monitor address nothing listens on,
# so a run that connects fails fast with 75 and entries stay pending; a
# run with nothing to apply must not connect at all.
# Run from the repository root; the tool is $RT_BUILD/reftrack.
set -u
build=${RT_BUILD:-build}
rt=$build/reftrack
py=/usr/bin/python3
[ -x "$py" ] || py=python3
check_metrics="$py tests/check_metrics.py"
. "$(dirname "$0")/../testlib.sh"
tl_tmpdir rt-run-spool

tl_require_built run-spool "$rt" "$tl_hooks/reftrack"
# Nothing answers on port 1; 2 s bounds the attempt.  A well-formed
# configuration with a key, so that "unreachable" (75) is what is tested,
# not a configuration without a keyring (78).
printf '[client.admin]\n\tkey = AQBvaBFfAAAAABAAmfoo5Ugv8uQE7GsH2Q5VQw==\n' \
	>"$tmp/keyring"
printf '[global]\nmon_host = 127.0.0.1:1\nkeyring = %s\n' "$tmp/keyring" \
	>"$tmp/ceph.conf"
export CEPH_CONF=$tmp/ceph.conf
unset CEPH_ARGS REFTRACK_FAILPOINT REFTRACK_JOURNAL
conn=(--op-timeout 2)

expect_file() { [ -f "$1" ] || fail "missing $1"; }
expect_no_file() { [ ! -e "$1" ] || fail "$1 should not exist"; }

# batch NAME TRACKER KEY...: a valid one-request batch file.
batch() {
	local f=$1 t=$2
	shift 2
	printf 'version: 1\nrequests:\n  - {tracker: %s, pool: rt, add: [%s]}\n' \
		"$t" "$(
			IFS=,
			echo "$*"
		)" >"$f"
}

status_json() {
	"$rt" status --journal "$1" --json >"$tmp/status.json" || fail "status --json failed"
}
count() { # count STATE: entries in STATE per the last status_json
	"$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"][sys.argv[2]])' \
		"$tmp/status.json" "$1"
}

# ---- cases ------------------------------------------------------------------

test_spool_takes_complete_files_only() {
	local s=$tmp/s1 j=$tmp/j1
	mkdir -p "$s"
	batch "$s/10-a.yaml" ta k1 k2
	batch "$s/20-b.yaml" tb k1
	printf 'version: 1\nrequests:\n  - {tracker: tc, pool: rt, add: []}\n' >"$s/30-bad.yaml"
	printf 'version: 1\nrequests: [\n' >"$s/40-broken.yaml"
	cp "$s/10-a.yaml" "$s/50-again.yaml" # the same bytes: a duplicate
	# Temporary and hidden names, never touched.
	batch "$s/.60-hidden.yaml" th k
	batch "$s/70-c.yaml.tmp" tt k
	batch "$s/80-d.yaml~" tt k
	batch "$s/90-e.tmp" tt k
	mkdir "$s/95-dir.yaml"

	run "$rt" run --spool "$s" --journal "$j" "${conn[@]}" --metrics-file "$tmp/m1.prom"
	# Rejections need an operator: 1 wins over "cluster unreachable".
	expect_rc 1
	for f in 10-a.yaml 20-b.yaml 50-again.yaml; do expect_file "$s/accepted/$f"; done
	for f in 30-bad.yaml 40-broken.yaml; do
		expect_file "$s/rejected/$f"
		expect_file "$s/rejected/$f.error"
	done
	grep -q '^30-bad.yaml:3:[0-9]*: .*empty key list' "$s/rejected/30-bad.yaml.error" ||
		fail "30-bad.yaml.error: $(cat "$s/rejected/30-bad.yaml.error")"
	grep -q '^40-broken.yaml:[0-9]*:[0-9]*: ' "$s/rejected/40-broken.yaml.error" ||
		fail "40-broken.yaml.error: $(cat "$s/rejected/40-broken.yaml.error")"
	for f in .60-hidden.yaml 70-c.yaml.tmp 80-d.yaml~ 90-e.tmp; do expect_file "$s/$f"; done
	[ -d "$s/95-dir.yaml" ] || fail "the directory was moved"
	case $err in *"95-dir.yaml left in place: not a regular file"*) ;; *) fail "no word on 95-dir.yaml: $err" ;; esac
	case $err in *"rejected 30-bad.yaml:3:"*) ;; *) fail "no word on 30-bad.yaml: $err" ;; esac
	# The directory is still there, and counts as waiting (an alert on a
	# spool that does not drain should see it).
	# One line on stdout.
	[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "stdout is not one line: $out"
	case $out in "run: 2 files accepted, 1 duplicate, 2 rejected, 1 held;"*" 2 pending;"*"exit 1") ;;
	*) fail "summary: $out" ;; esac

	status_json "$j"
	[ "$(count pending)" = 2 ] || fail "pending $(count pending), want 2"
	# The batch records name the file where it now lies.
	grep -q "$(cd "$s" && pwd -P)/accepted/10-a.yaml" "$tmp/status.json" ||
		fail "batch file name is not its accepted/ path"
	$check_metrics "$tmp/m1.prom" "$tmp/status.json" \
		'reftrack_last_run_files{result="accepted"}=2' \
		'reftrack_last_run_files{result="duplicate"}=1' \
		'reftrack_last_run_files{result="rejected"}=2' \
		'reftrack_last_run_files{result="held"}=1' \
		'reftrack_last_run_entries_submitted=2' \
		'reftrack_last_run_finished=0' 'reftrack_last_run_exit_status=1' \
		'reftrack_spool_files{state="rejected"}=2' \
		'reftrack_spool_files{state="waiting"}=1' \
		'reftrack_batches{state="incomplete"}=2' >/dev/null 2>"$tmp/mc.err" ||
		fail "metrics: $(cat "$tmp/mc.err")"
	[ "$(stat -c %a "$tmp/m1.prom")" = 644 ] || fail "metrics file mode $(stat -c %a "$tmp/m1.prom")"
	ls "$tmp" | grep -q '^m1.prom\.' && fail "a temporary metrics file was left: $(ls "$tmp")"

	# A name reused by a writer (new bytes) goes beside the first, never
	# over it; so does a rejected one.
	batch "$s/10-a.yaml" ta k3
	printf 'version: 1\nrequests:\n  - {tracker: tc, pool: rt, add: []}\n' >"$s/30-bad.yaml"
	echo "# another" >>"$s/30-bad.yaml"
	run "$rt" run --spool "$s" --journal "$j" "${conn[@]}"
	expect_rc 1
	expect_file "$s/accepted/10-a.2.yaml"
	grep -q k1 "$s/accepted/10-a.yaml" || fail "accepted/10-a.yaml was overwritten"
	expect_file "$s/rejected/30-bad.2.yaml"
	expect_file "$s/rejected/30-bad.2.yaml.error"
}

test_json_log_lines() {
	local s=$tmp/s2 j=$tmp/j2
	mkdir -p "$s"
	batch "$s/a.yaml" ta k1
	printf 'version: 2\n' >"$s/b.yaml"
	run "$rt" run --spool "$s" --journal "$j" "${conn[@]}" --log-format json
	expect_rc 1
	[ -z "$err" ] || fail "stderr in json mode: $err"
	printf '%s\n' "$out" >"$tmp/log.jsonl"
	"$py" - "$tmp/log.jsonl" "$rc" <<'EOF' || fail "json log: $(cat "$tmp/py.err")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
events = [json.loads(l) for l in lines]
for e in events:
    for k in ("time", "level", "pid", "event", "message"):
        assert k in e, (k, e)
    assert e["level"] in ("info", "warning", "error"), e
    assert e["time"].endswith("Z"), e
names = [e["event"] for e in events]
assert names[0] == "run.start", names
assert names[-1] == "run.end", names
assert "spool.accepted" in names and "spool.rejected" in names, names
assert "cluster.unavailable" in names, names
rej = [e for e in events if e["event"] == "spool.rejected"][0]
assert rej["file"] == "b.yaml" and rej["line"] >= 1 and rej["error"], rej
end = events[-1]
assert end["exit"] == int(sys.argv[2]), end
assert end["files_accepted"] == 1 and end["files_rejected"] == 1, end
assert end["pending"] == 1 and end["finished"] is False, end
EOF
} 2>"$tmp/py.err"

# Killed after the submit committed and before the file moved: the next
# run finds the same bytes in the journal and moves the file on as a
# duplicate; nothing is journalled twice.
test_kill_between_submit_and_move() {
	local s=$tmp/s3 j=$tmp/j3
	mkdir -p "$s"
	batch "$s/a.yaml" ta k1
	batch "$s/b.yaml" tb k1
	# In a subshell whose stderr is closed, so that its "Killed" notice
	# does not end up in the log.
	rc=$( (
		REFTRACK_FAILPOINT=spool-after-submit:2 "$tl_hooks/reftrack" run --spool "$s" \
			--journal "$j" "${conn[@]}" >/dev/null 2>&1
		echo $?
	) 2>/dev/null)
	[ "$rc" -eq 137 ] || fail "failpoint run exited $rc, want 137 (SIGKILL)"
	expect_file "$s/accepted/a.yaml"
	expect_file "$s/b.yaml"
	status_json "$j"
	[ "$(count pending)" = 2 ] || fail "after the kill: $(count pending) pending, want 2"
	run "$rt" run --spool "$s" --journal "$j" "${conn[@]}" --log-format json
	expect_rc 75
	expect_file "$s/accepted/b.yaml"
	expect_no_file "$s/b.yaml"
	printf '%s\n' "$out" | grep -q '"event":"spool.duplicate","file":"b.yaml"' ||
		fail "b.yaml not reported as a duplicate: $out"
	status_json "$j"
	[ "$(count pending)" = 2 ] || fail "after the next run: $(count pending) pending, want 2"
}

# A second run while the journal is locked exits 75 at once, and neither
# the spool nor the metrics file nor the journal changes.  --wait waits.
test_overlapping_run() {
	local s=$tmp/s4 j=$tmp/j4 before after t0 t1
	mkdir -p "$s"
	run "$rt" run --spool "$s" --journal "$j" "${conn[@]}" --metrics-file "$tmp/m4.prom"
	expect_rc 0
	batch "$s/a.yaml" ta k1
	before=$(md5sum "$tmp/m4.prom" "$j/data.mdb")
	tl_hold_lock "$j" 60
	t0=$(date +%s%N)
	run "$rt" run --spool "$s" --journal "$j" "${conn[@]}" --metrics-file "$tmp/m4.prom"
	t1=$(date +%s%N)
	expect_rc 75
	# "At once": long before the holder lets go (a sanitizer build takes
	# a second or two just to start).
	[ $(((t1 - t0) / 1000000)) -lt 10000 ] || fail "the busy run took $(((t1 - t0) / 1000000)) ms"
	case $err in *"is being replayed by pid $holder"*) ;; *) fail "busy message: $err" ;; esac
	[ -z "$out" ] || fail "a busy run printed a summary: $out"
	expect_file "$s/a.yaml"
	after=$(md5sum "$tmp/m4.prom" "$j/data.mdb")
	[ "$before" = "$after" ] || fail "a busy run changed the metrics or the journal"
	kill "$holder"
	wait "$holder" 2>/dev/null
	# --wait: it waits for a holder that lets go after 2 s, then works.
	tl_hold_lock "$j" 2
	t0=$(date +%s%N)
	run "$rt" run --spool "$s" --journal "$j" "${conn[@]}" --wait=30
	t1=$(date +%s%N)
	expect_rc 75 # the work done, the cluster not found
	[ $(((t1 - t0) / 1000000)) -ge 1000 ] || fail "--wait did not wait: $(((t1 - t0) / 1000000)) ms"
	expect_file "$s/accepted/a.yaml"
	wait "$holder"
}

# retry and skip while another process holds the lock: the library takes
# the lock for them (issue 12), so each exits 75 at once naming the holder,
# and the journal does not change.  Once it is free they work.
test_operator_action_locked() {
	local j=$tmp/j8 before after
	batch "$tmp/b8.yaml" t8 k1 >/dev/null
	run "$rt" submit --journal "$j" "$tmp/b8.yaml"
	expect_rc 0
	before=$(md5sum <"$j/data.mdb")
	tl_hold_lock "$j" 60
	run "$rt" skip --journal "$j" 1 --reason "not wanted"
	expect_rc 75
	case $err in *"is being replayed by pid $holder"*) ;; *) fail "busy skip message: $err" ;; esac
	run "$rt" retry --journal "$j" --failed
	expect_rc 75
	case $err in *"is being replayed by pid $holder"*) ;; *) fail "busy retry message: $err" ;; esac
	after=$(md5sum <"$j/data.mdb")
	[ "$before" = "$after" ] || fail "a refused skip or retry changed the journal"
	kill "$holder"
	wait "$holder" 2>/dev/null
	run "$rt" skip --journal "$j" 1 --reason "not wanted"
	expect_rc 0
	status_json "$j"
	[ "$(count skipped)" = 1 ] || fail "after the skip: $(count skipped) skipped, want 1"
}

# Nothing to apply: no connection at all, so no cluster is needed, and the
# run is finished.
test_idle_run_does_not_connect() {
	local s=$tmp/s5 j=$tmp/j5 t0 t1
	mkdir -p "$s"
	t0=$(date +%s%N)
	run "$rt" run --spool "$s" --journal "$j" --op-timeout 30 --metrics-file "$tmp/m5.prom"
	t1=$(date +%s%N)
	expect_rc 0
	[ $(((t1 - t0) / 1000000)) -lt 15000 ] || fail "an idle run took $(((t1 - t0) / 1000000)) ms"
	status_json "$j"
	$check_metrics "$tmp/m5.prom" "$tmp/status.json" 'reftrack_last_run_finished=1' \
		'reftrack_last_run_exit_status=0' >/dev/null 2>"$tmp/mc.err" ||
		fail "metrics: $(cat "$tmp/mc.err")"
}

# prune and export on a journal whose entries an operator skipped; then
# run's own prune; a resubmission after pruning is still a duplicate.
test_prune_export() {
	local s=$tmp/s6 j=$tmp/j6 id
	mkdir -p "$s"
	batch "$s/a.yaml" ta k1
	batch "$s/b.yaml" tb k1
	run "$rt" run --spool "$s" --journal "$j" "${conn[@]}"
	expect_rc 75
	run "$rt" export --journal "$j"
	expect_rc 0
	[ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] || fail "export: $out"
	printf '%s\n' "$out" | "$py" -c '
import json, sys
want = {"schema_version", "seq", "batch_id", "request_index", "request_id", "pool", "namespace",
        "tracker", "op", "refs", "state", "attempts", "error", "outcome",
        "guard_version", "submitted_at", "updated_at", "done_at"}
for line in sys.stdin:
    e = json.loads(line)
    assert set(e) == want, set(e) ^ want
    assert e["state"] == "pending" and e["refs"] == [{"key": "k1", "type": "normal"}], e
' 2>"$tmp/py.err" || fail "export lines: $(cat "$tmp/py.err")"
	id=$(printf '%s\n' "$out" | head -n 1 | "$py" -c 'import json,sys; print(json.load(sys.stdin)["batch_id"])')
	run "$rt" skip --journal "$j" 1 --reason "test"
	expect_rc 0
	run "$rt" export --journal "$j" --state skipped
	[ "$(printf '%s\n' "$out" | grep -c '"seq":1,')" -eq 1 ] || fail "export --state skipped: $out"
	run "$rt" export --journal "$j" --batch "$id" --state pending
	expect_rc 0
	[ -z "$out" ] || fail "export --batch --state pending: $out"
	run "$rt" export --journal "$j" --state nonsense
	expect_rc 64
	run "$rt" export --journal "$j" --batch 1234
	expect_rc 64
	run "$rt" export --journal "$j" --batch "$(printf '%064d' 0)"
	expect_rc 66
	run "$rt" export --journal "$tmp/none"
	expect_rc 66

	run "$rt" prune --journal "$j" --done-older-than 1h
	expect_rc 0
	case $out in "prune: 0 entries"*) ;; *) fail "prune 1h: $out" ;; esac
	run "$rt" prune --journal "$j" --done-older-than 0 --json
	expect_rc 0
	"$py" -c 'import json,sys; d=json.load(sys.stdin); assert d["entries"]==1 and d["skipped"]==1, d' \
		<<<"$out" 2>"$tmp/py.err" || fail "prune --json: $out $(cat "$tmp/py.err")"
	run "$rt" export --journal "$j" --batch "$id"
	[ -z "$out" ] || fail "pruned entry still exported: $out"
	# The batch is a tombstone now: its bytes are still a duplicate.
	cp "$s/accepted/a.yaml" "$s/a-again.yaml"
	run "$rt" run --spool "$s" --journal "$j" "${conn[@]}" --log-format json
	printf '%s\n' "$out" | grep -q '"event":"spool.duplicate","file":"a-again.yaml"' ||
		fail "resubmission after prune not a duplicate: $out"
	status_json "$j"
	[ "$(count total)" = 1 ] || fail "journal holds $(count total) entries, want 1"
	# run prunes on its own: skip the last entry, run with retention 0s.
	run "$rt" skip --journal "$j" 2 --reason "test"
	run "$rt" run --spool "$s" --journal "$j" "${conn[@]}" --retention 0s --metrics-file "$tmp/m6.prom"
	expect_rc 0
	status_json "$j"
	[ "$(count total)" = 0 ] || fail "run did not prune: $(count total) entries left"
	$check_metrics "$tmp/m6.prom" "$tmp/status.json" 'reftrack_entries_pruned_total=2' \
		'reftrack_entries_skipped_total=2' 'reftrack_batches{state="pruned"}=2' \
		'reftrack_last_run_entries_pruned=1' >/dev/null 2>"$tmp/mc.err" ||
		fail "metrics: $(cat "$tmp/mc.err")"
	# --batch-retention 0s forgets the tombstones: the same bytes are new.
	run "$rt" prune --journal "$j" --done-older-than 0 --batch-retention 0s
	case $out in *"2 batch records forgotten"*) ;; *) fail "forget: $out" ;; esac
}

test_usage_errors() {
	run "$rt" run --journal "$tmp/j7"
	expect_rc 64
	run "$rt" run --spool "$tmp" --journal "$tmp/j7" --log-format xml
	expect_rc 64
	run "$rt" run --spool "$tmp" --journal "$tmp/j7" --retention 7
	expect_rc 64
	run "$rt" prune --journal "$tmp/j7"
	expect_rc 64
	run "$rt" prune --journal "$tmp/j7" --done-older-than 3x
	expect_rc 64
	run "$rt" run --spool "$tmp/no-such-spool" --journal "$tmp/j7"
	expect_rc 66
}

run_case test_spool_takes_complete_files_only
run_case test_json_log_lines
run_case test_kill_between_submit_and_move
run_case test_overlapping_run
run_case test_operator_action_locked
run_case test_idle_run_does_not_connect
run_case test_prune_export
run_case test_usage_errors
finish run-spool
