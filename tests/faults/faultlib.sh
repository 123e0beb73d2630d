# tests/faults/faultlib.sh - what the fault tests share.  Sourced by
# tests/faults/test_*.sh, which tests/run-integration.sh runs with
# RT_TEST_SUITE=faults on a cluster of their own (`make check-faults`:
# BlueStore, so that the OSD survives a SIGKILL; tests/cluster.sh).
#
# Every case applies a batch of a few thousand entries over a few hundred
# trackers (replay_model.py gen) while a fault is injected, runs `reftrack
# replay` again until the journal is done (a bounded number of runs, each
# under a time limit), then compares every tracker and every entry's
# recorded outcome with the model (replay_model.py check --all-done):
# nothing lost, nothing applied twice.  Each case ends with a "figures:"
# line (entries, trackers, faults, runs and their exit codes, seconds).
#
# Knobs: RT_FAULT_SEED (the workloads' seed, printed), RT_FAULT_CASES (the
# names of the cases to run, default all).
#
# Every case has its own journal and RADOS namespace ("fault-PID-CASE").

. "$(dirname "$0")/../testlib.sh"

fl_init() {
	tl_require "$1" CEPH_CONF RT_TEST_POOL RT_BUILD RT_SRC RT_CLUSTER_DIR
	suite=$1
	pool=$RT_TEST_POOL
	reftrack=$RT_BUILD/reftrack
	cluster_sh=$RT_SRC/tests/cluster.sh
	# The system interpreter: it has the rados bindings (python3-rados).
	py=/usr/bin/python3
	model_py=$RT_SRC/tests/integration/replay_model.py
	export CEPH_CONF
	unset CEPH_ARGS REFTRACK_FAILPOINT REFTRACK_JOURNAL
	seed=${RT_FAULT_SEED:-$(($(date +%s) % 100000))}
	echo "$suite: seed $seed (RT_FAULT_SEED=$seed to run the same workloads)"
	tl_tmpdir rt-fault
	tl_timed=1
	bg=
	osd_down=0
	paused=0
}

ns=
jdir=
d=
case_setup() {
	case " ${RT_FAULT_CASES:-$1} " in *" $1 "*) ;; *) return 1 ;; esac
	ns="fault-$$-$1"
	d=$tmp/$1
	jdir=$d/journal
	mkdir -p "$d"
	case_t0=$SECONDS
	codes=
	runs=0
	checked=
	# A case that failed half-way must not leave the next one a paused
	# cluster or a dead OSD.
	fl_restore
}

# Puts the cluster back the way the cases expect it: unpaused, OSD up.
fl_restore() {
	if [ "$paused" = 1 ]; then
		"$cluster_sh" unpause "$RT_CLUSTER_DIR" && paused=0
	fi
	if [ "$osd_down" = 1 ]; then
		"$cluster_sh" osd-start "$RT_CLUSTER_DIR" && osd_down=0
	fi
}

# On the way out: stop the background replay (its timeout(1), which takes
# the replay along) and leave the cluster usable for its `stop`.
on_exit() {
	fl_stop_bg
	fl_restore
}

fl_stop_bg() {
	[ -n "$bg" ] || return 0
	kill -TERM "$bg" 2>/dev/null
	wait "$bg" 2>/dev/null
	bg=
}

model() {
	"$py" "$model_py" "$@"
}

# fl_gen ENTRIES TRACKERS SEED-OFFSET: the case's batch, submitted.
fl_gen() {
	entries=$1
	trackers=$2
	model gen --seed "$((seed + $3))" --entries "$1" --trackers "t:$2:mask" --keys 4 \
		--pool "$pool" --ns "$ns" --out "$d/gen" >/dev/null || fail "replay_model.py gen"
	run "$reftrack" submit --journal "$jdir" "$d/gen/batch-00.yaml"
	expect_rc 0
}

# fl_count STATE: the journal's number of entries in STATE (done, pending,
# in_flight, failed, ...; spelt with - or _).
fl_count() {
	"$reftrack" status --journal "$jdir" --json 2>/dev/null | "$py" -c '
import json, sys
c = {k.replace("-", "_"): v for k, v in json.load(sys.stdin)["counts"].items()}
print(c[sys.argv[1].replace("-", "_")])' "$1"
}

# fl_check: every tracker and every entry against the model.
fl_check() {
	model check --plan "$d/gen/plan.json" --reftrack "$reftrack" \
		--journal "$jdir" --all-done >"$d/model.out" 2>&1
	local st=$?
	sed 's/^/  /' "$d/model.out"
	[ "$st" -eq 0 ] || fail "the cluster or the journal differs from the model"
	checked=$([ "$st" -eq 0 ] && echo "nothing lost, nothing applied twice" || echo "MODEL DIFFERS")
}

# fl_replay LIMIT ARGS...: one `reftrack replay` under a hard time limit
# of LIMIT seconds (a run still going then is killed: a failure, it made
# no progress for too long).  Appends its exit status to $codes and counts
# it in $runs; sets $rc.
codes=
runs=0
fl_replay() {
	local limit=$1
	shift
	timeout -k 5 "$limit" "$reftrack" replay --journal "$jdir" "$@" \
		>>"$d/runs.out" 2>>"$d/runs.err"
	rc=$?
	runs=$((runs + 1))
	codes="$codes${codes:+,}$rc"
	case $rc in
	0 | 75) return 0 ;;
	124 | 137) fail "replay run $runs still running after ${limit}s: killed" ;;
	*) fail "replay run $runs exited $rc: $(tail -n 3 "$d/runs.err")" ;;
	esac
	return 1
}

# fl_until_done MAX-RUNS LIMIT ARGS...: replays until one exits 0, at most
# MAX-RUNS, each under LIMIT seconds; every run that exits 75 must have
# moved some entry on.
fl_until_done() {
	local max=$1 limit=$2 i before after
	shift 2
	for i in $(seq "$max"); do
		before=$(fl_count done)
		fl_replay "$limit" "$@" || return 1
		[ "$rc" -eq 0 ] && return 0
		after=$(fl_count done)
		[ "$after" -gt "$before" ] || [ "$(fl_count in_flight)" -gt 0 ] ||
			{ fail "replay run $runs exited 75 with no progress ($after done)"; return 1; }
	done
	fail "not done after $max runs (exit codes $codes): $(tail -n 3 "$d/runs.err")"
	return 1
}

# fl_bg_replay LIMIT ARGS...: a replay in the background ($bg, its
# timeout(1)) under a hard limit of LIMIT seconds.
fl_bg_replay() {
	local limit=$1
	shift
	timeout -k 5 "$limit" "$reftrack" replay --journal "$jdir" "$@" \
		>>"$d/runs.out" 2>>"$d/runs.err" &
	bg=$!
}

# fl_bg_wait: waits for the background replay; sets $rc, counts the run.
fl_bg_wait() {
	wait "$bg"
	rc=$?
	bg=
	runs=$((runs + 1))
	codes="$codes${codes:+,}$rc"
}

# fl_await_done N: waits until N entries are done while the background
# replay runs; fails if it ended first (the batch went through before the
# fault could be injected) or after 120 s.
fl_await_done() {
	local t0=$SECONDS
	while [ "$(fl_count done)" -lt "$1" ]; do
		if ! kill -0 "$bg" 2>/dev/null; then
			fail "the replay ended before $1 entries were done"
			return 1
		fi
		[ $((SECONDS - t0)) -lt 120 ] ||
			{ fail "fewer than $1 entries done after 120 s"; return 1; }
		sleep 0.05
	done
	# Still going: the fault lands mid-replay.
	kill -0 "$bg" 2>/dev/null || { fail "the replay ended before the fault"; return 1; }
}

# fl_figures FAULT...: the case's closing line.  Retries: the sum over
# the runs' summaries ("...; N retries; ...").
fl_figures() {
	local retries tried
	retries=$(grep -o '[0-9]* retries' "$d/runs.out" 2>/dev/null |
		awk '{ n += $1 } END { print n + 0 }')
	# Entries that took more than one attempt: a timeout or an error
	# made the replayer try them again.
	tried=$("$reftrack" export --journal "$jdir" 2>/dev/null | "$py" -c '
import json, sys
print(sum(1 for l in sys.stdin if json.loads(l).get("attempts", 1) > 1))')
	echo "  figures: $case_name: $entries entries, $trackers trackers; $*;" \
		"$runs runs (exit $codes), $retries retries, $tried entries tried more than once;" \
		"$((SECONDS - case_t0)) s;" \
		"${checked:-not checked}"
}
