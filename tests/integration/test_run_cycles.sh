#!/bin/bash
# test_run_cycles.sh - the acceptance test of `reftrack run`: 20 cron-like
# cycles against the throwaway cluster, with new batch files dropped into
# the spool (by rename, as writers must) before each one.  Two files are
# invalid, one is a byte-for-byte copy of a file applied and pruned long
# before, one cycle is SIGKILLed in the middle of its replay and another in
# the middle of its spool step, and one cycle first meets a run that holds
# the journal lock (it must exit 75 at once and touch nothing), then two
# real runs started together.  Afterwards:
#   - every valid request is applied exactly once: the trackers, read back
#     with the python rados bindings, equal the model (run_cycles.py; the
#     duplicate is planted so that a second application would show)
#   - the journal counted every valid entry once, and applied all of them
#   - the invalid files sit in rejected/ with the parser's message
#   - after every cycle the metrics file parses and matches the journal
#     (tests/check_metrics.py against `status --json`)
#   - data.mdb after cycle 20 is no bigger than after cycle 10 (bar a few
#     pages), though cycles 11-20 submit ~1800 more entries
# Run by tests/run-integration.sh (CEPH_CONF, RT_TEST_POOL, RT_BUILD,
# RT_SRC).  RT_CYCLES_SEED replays a given workload.
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require run-cycles CEPH_CONF RT_TEST_POOL RT_BUILD RT_SRC

pool=$RT_TEST_POOL
rt=$RT_BUILD/reftrack
py=/usr/bin/python3
cycles_py=$RT_SRC/tests/integration/run_cycles.py
check_metrics=$RT_SRC/tests/check_metrics.py
export CEPH_CONF
unset CEPH_ARGS REFTRACK_FAILPOINT REFTRACK_JOURNAL

seed=${RT_CYCLES_SEED:-$(($(date +%s) % 100000))}
echo "test_run_cycles.sh: seed $seed (RT_CYCLES_SEED=$seed to run the same workload)"

tl_tmpdir rt-cycles
bg_pids=()
on_exit() {
	local p
	for p in ${bg_pids[@]+"${bg_pids[@]}"}; do
		kill -9 "$p" 2>/dev/null
	done
}

# check NAME: closes one checked step (a cycle, or a final check).
check() {
	if [ "$case_failures" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL $case_name" >&2
	fi
	case_failures=0
}

ns="rcyc-$$"
spool=$tmp/spool
journal=$tmp/journal
metrics=$tmp/metrics/reftrack.prom
gen=$tmp/gen
mkdir -p "$spool" "$tmp/metrics"

case_name=gen
"$py" "$cycles_py" gen --seed "$seed" --pool "$pool" --ns "$ns" --out "$gen" ||
	fail "run_cycles.py gen failed"
check
plan=$gen/plan.json

# plan_get EXPR: a Python expression on the plan `p`.
plan_get() {
	"$py" -c 'import json, sys; p = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$plan" "$1"
}

# drop C: the files of cycle C arrive, each written under a temporary name
# and renamed into place, as the writer protocol says.
drop() {
	local f name
	for f in "$gen"/c"$(printf %02d "$1")"/*.yaml; do
		name=${f##*/}
		cp "$f" "$spool/.$name.tmp"
		mv "$spool/.$name.tmp" "$spool/$name"
	done
}

# cycle_run [ENV...]: one cron-like run; leaves $out, $err, $rc.  Odd
# cycles log text, even ones JSON lines.
cycle_run() {
	local fmt=text
	[ $((cycle % 2)) -eq 0 ] && fmt=json
	out=$(env "$@" "$rt" run --spool "$spool" --journal "$journal" \
		--metrics-file "$metrics" --retention 1s --log-format "$fmt" \
		2>"$tmp/err")
	rc=$?
	err=$(cat "$tmp/err")
	if [ "$fmt" = json ] && [ -n "$out" ]; then
		printf '%s\n' "$out" | "$py" -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    assert {"time", "level", "event", "message"} <= set(e), e
' 2>"$tmp/py.err" || fail "cycle $cycle: log lines are not JSON objects: $(cat "$tmp/py.err")"
	fi
}

expect_rc() {
	[ "$rc" -eq "$1" ] || fail "cycle $cycle: exit $rc, want $1
  stdout: $out
  stderr: $err"
}

# metrics_match EXPECTATION...: the metrics file parses and agrees with the
# journal, and with each NAME{LABELS}=VALUE given.
metrics_match() {
	"$rt" status --journal "$journal" --json >"$tmp/status.json" ||
		fail "cycle $cycle: status --json failed"
	"$py" "$check_metrics" "$metrics" "$tmp/status.json" "$@" >/dev/null 2>"$tmp/mc.err" ||
		fail "cycle $cycle: $(cat "$tmp/mc.err")"
}

# hold_lock SECONDS: tl_hold_lock on the journal; the holder is stopped on
# the way out.
hold_lock() {
	tl_hold_lock "$journal" "$1"
	bg_pids+=("$holder")
}

size_at10=0
size_at20=0
for cycle in $(seq 1 20); do
	case_name="cycle $cycle"
	drop "$cycle"
	want_total=$(plan_get "p['cycles'][$cycle - 1]['entries_total']")
	files_rej=$(plan_get "sum(1 for f in p['cycles'][$cycle - 1]['files'] if not f['valid'])")
	files_dup=$(plan_get "sum(1 for f in p['cycles'][$cycle - 1]['files'] if f.get('duplicate'))")
	case $cycle in
	5)
		# A writer still busy with a file: never taken.
		printf 'version: 1\nrequests:\n  - {tracker: half' >"$spool/.c05-late.yaml.tmp"
		echo "notes, not a batch" >"$spool/README.txt"
		cycle_run
		expect_rc 0
		;;
	7)
		# SIGKILL in the middle of the replay (the replayer's own
		# failpoint, after its 3rd completed write).
		rt=$tl_hooks/reftrack cycle_run REFTRACK_FAILPOINT=after-write:3
		expect_rc 137
		;;
	11)
		# Overlap: a run holds the lock, a second one starts.
		hold_lock 30
		before=$(md5sum "$metrics" "$journal/data.mdb")
		t0=$(date +%s%N)
		cycle_run
		ms=$((($(date +%s%N) - t0) / 1000000))
		expect_rc 75
		# "At once": long before the holder lets go (a sanitizer build
		# takes a second or two just to start).
		[ "$ms" -lt 10000 ] || fail "cycle 11: the refused run took $ms ms"
		case $err$out in *"by pid $holder"*) ;; *) fail "cycle 11: holder not named: $err$out" ;; esac
		[ "$before" = "$(md5sum "$metrics" "$journal/data.mdb")" ] ||
			fail "cycle 11: the refused run changed the metrics or the journal"
		for f in "$gen"/c11/*.yaml; do
			[ -f "$spool/${f##*/}" ] || fail "cycle 11: the refused run moved ${f##*/}"
		done
		kill "$holder"
		wait "$holder" 2>/dev/null
		cycle_run
		expect_rc 0
		;;
	13)
		# Two real runs started together: one does the work, the other
		# finds the lock held (exit 75) or, if the first was done by
		# then, nothing left to do.
		"$rt" run --spool "$spool" --journal "$journal" --metrics-file "$metrics" \
			--retention 1s >"$tmp/a.out" 2>"$tmp/a.err" &
		a=$!
		bg_pids+=("$a")
		"$rt" run --spool "$spool" --journal "$journal" --metrics-file "$metrics" \
			--retention 1s >"$tmp/b.out" 2>"$tmp/b.err"
		rc_b=$?
		wait "$a"
		rc_a=$?
		echo "cycle 13: concurrent runs exited $rc_a and $rc_b"
		case "$rc_a $rc_b" in
		"0 75" | "75 0" | "0 0") ;;
		*) fail "cycle 13: concurrent runs exited $rc_a and $rc_b
  a: $(cat "$tmp/a.out" "$tmp/a.err")
  b: $(cat "$tmp/b.out" "$tmp/b.err")" ;;
		esac
		# Whatever the interleaving, the metrics file is whole and, a
		# run later, current.
		cycle_run
		expect_rc 0
		;;
	17)
		# SIGKILL after the spool step journalled the first file and
		# before it moved it: the next cycle takes it as a duplicate.
		rt=$tl_hooks/reftrack cycle_run REFTRACK_FAILPOINT=spool-after-submit:1
		expect_rc 137
		f=$(ls "$gen"/c17/ | head -n 1)
		[ -f "$spool/$f" ] || fail "cycle 17: $f is not in the spool after the kill"
		;;
	*)
		cycle_run
		if [ "$files_rej" -gt 0 ]; then
			# Rejected files need an operator.
			expect_rc 1
		else
			expect_rc 0
		fi
		;;
	esac
	if [ "$rc" -ne 137 ]; then
		# Exactly once, by the journal's own accounting: every valid
		# entry counted once, and applied.
		dups=$files_dup
		[ "$cycle" -eq 18 ] && dups=1 # the file cycle 17 left behind
		metrics_match "reftrack_entries_submitted_total=$want_total" \
			"reftrack_entries_applied_total=$want_total" \
			'reftrack_last_run_finished=1' \
			"reftrack_last_run_files{result=\"rejected\"}=$files_rej" \
			"reftrack_last_run_files{result=\"duplicate\"}=$dups" \
			'reftrack_entries{state="pending"}=0' \
			'reftrack_entries{state="failed"}=0' \
			'reftrack_entries{state="needs-review"}=0' \
			'reftrack_spool_files{state="waiting"}=0'
	fi
	[ "$cycle" -eq 10 ] && size_at10=$(stat -c %s "$journal/data.mdb")
	[ "$cycle" -eq 20 ] && size_at20=$(stat -c %s "$journal/data.mdb")
	check
	# Retention 1s: what this cycle applied is pruned by the next.
	sleep 1
done

case_name="trackers match the model"
"$py" "$cycles_py" check --plan "$plan" >"$tmp/model.out" 2>&1 ||
	fail "$(cat "$tmp/model.out")"
sed 's/^/  /' "$tmp/model.out"
check

case_name="rejected files and their messages"
got=$(cd "$spool/rejected" && ls | tr '\n' ' ')
[ "$got" = "c04-2-invalid.yaml c04-2-invalid.yaml.error c12-1-invalid.yaml c12-1-invalid.yaml.error " ] ||
	fail "rejected/ holds: $got"
grep -q '^c04-2-invalid.yaml:5:[0-9]*: .*tracker' "$spool/rejected/c04-2-invalid.yaml.error" ||
	fail "c04 message: $(cat "$spool/rejected/c04-2-invalid.yaml.error")"
grep -q '^c12-1-invalid.yaml:1:[0-9]*: .*version' "$spool/rejected/c12-1-invalid.yaml.error" ||
	fail "c12 message: $(cat "$spool/rejected/c12-1-invalid.yaml.error")"
check

case_name="spool and accepted/"
want_acc=$(plan_get "sum(1 for c in p['cycles'] for f in c['files'] if f['valid'])")
got_acc=$(find "$spool/accepted" -type f | wc -l)
[ "$got_acc" -eq "$want_acc" ] || fail "accepted/ holds $got_acc files, want $want_acc"
left=$(cd "$spool" && find . -maxdepth 1 -type f | sort | tr '\n' ' ')
[ "$left" = "./.c05-late.yaml.tmp ./README.txt " ] || fail "left in the spool: $left"
check

case_name="journal size stable"
echo "data.mdb: $size_at10 bytes after cycle 10, $size_at20 after cycle 20"
[ "$size_at20" -gt 0 ] && [ "$size_at20" -le $((size_at10 + 65536)) ] ||
	fail "data.mdb grew from $size_at10 to $size_at20 bytes"
check

# A batch far bigger than the time budget (30,000 entries take several
# seconds here): the run stops starting entries when --max-time is spent,
# exits 75 and says so in the metrics; the next run finishes the rest.
case_name="time budget"
cycle=21
before_applied=$(plan_get "p['cycles'][-1]['entries_total']")
awk -v ns="$ns-budget" -v pool="$pool" 'BEGIN {
	printf "version: 1\ndefaults: {pool: %s, namespace: %s}\nrequests:\n", pool, ns
	for (i = 0; i < 30000; i++) printf "  - {tracker: b%04d, add: [k%d]}\n", i % 6000, i
}' >"$tmp/big.yaml.part"
mv "$tmp/big.yaml.part" "$spool/c21-big.yaml"
out=$("$rt" run --spool "$spool" --journal "$journal" --metrics-file "$metrics" \
	--retention 1s --max-time 1 2>"$tmp/err")
rc=$?
err=$(cat "$tmp/err")
expect_rc 75
"$rt" status --journal "$journal" --json >"$tmp/status.json"
"$py" "$check_metrics" "$metrics" "$tmp/status.json" 'reftrack_last_run_finished=0' \
	'reftrack_last_run_exit_status=75' >/dev/null 2>"$tmp/mc.err" ||
	fail "after the budget run: $(cat "$tmp/mc.err")"
pending=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["pending"])' "$tmp/status.json")
[ "$pending" -gt 0 ] || fail "the budget run left nothing pending: $out"
out=$("$rt" run --spool "$spool" --journal "$journal" --metrics-file "$metrics" \
	--retention 1s 2>"$tmp/err")
rc=$?
err=$(cat "$tmp/err")
expect_rc 0
metrics_match "reftrack_entries_applied_total=$((before_applied + 30000))" \
	'reftrack_last_run_finished=1'
n=$(rados -p "$pool" -N "$ns-budget" ls | wc -l)
[ "$n" -eq 6000 ] || fail "$n trackers in $ns-budget, want 6000"
check

finish run-cycles
