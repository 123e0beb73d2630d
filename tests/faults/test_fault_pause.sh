#!/bin/bash
# test_fault_pause.sh - `ceph osd pause` mid-replay, held for longer than
# the op timeout, then `ceph osd unpause`.  While the cluster is paused no
# op is sent; an op that waits longer than the op timeout fails with a
# timeout and is retried.  With the default op timeout (30 s, longer than
# the pause) the run must simply finish; with a short one (3 s) it may
# exit 75, and the next run finishes the job.  Either way exactly once.
# See faultlib.sh.
set -u
. "$(dirname "$0")/faultlib.sh"
fl_init test_fault_pause.sh

# paused OP-TIMEOUT PAUSE-S SEED-OFFSET [MUST-FINISH]: 10000 entries on 400
# trackers, 16 in flight (slow enough for the pause to land mid-replay),
# paused once 500 are done.
paused_case() {
	local tmo=$1 hold=$2 t0 at secs opt=()
	[ "$tmo" = default ] || opt=(--op-timeout "$tmo")
	fl_gen 10000 400 "$3"
	t0=$SECONDS
	# The hard limit: the pause, then four op timeouts to notice and
	# retry, and room for the work itself on a loaded machine.
	fl_bg_replay $((hold + 4 * ${tmo/default/30} + 90)) --inflight 16 ${opt[@]+"${opt[@]}"}
	fl_await_done 500 || { fl_stop_bg; return; }
	"$cluster_sh" pause "$RT_CLUSTER_DIR" || { fail "ceph osd pause failed"; fl_stop_bg; return; }
	paused=1
	at=$(fl_count done)
	# The fault's length, not a wait for a condition.
	sleep "$hold"
	"$cluster_sh" unpause "$RT_CLUSTER_DIR" || fail "ceph osd unpause failed"
	paused=0
	fl_bg_wait
	secs=$((SECONDS - t0))
	case $rc in
	0) ;;
	75) [ -z "${5:-}" ] || fail "the run exited 75 although its op timeout outlasts the pause" ;;
	124 | 137) fail "the replay was still running ${secs}s after it started: killed"; return ;;
	*) fail "the replay exited $rc: $(tail -n 3 "$d/runs.err")"; return ;;
	esac
	if [ "$rc" -ne 0 ]; then
		fl_until_done 3 120 || return
	fi
	fl_check
	fl_figures "osd pause for ${hold}s at $at done (op timeout ${tmo})"
}

case_pause_default_timeout() { paused_case default 10 5 must-finish; }
case_pause_3s_timeout() { paused_case 3 10 6; }

run_case case_pause_default_timeout
run_case case_pause_3s_timeout
finish test_fault_pause.sh
