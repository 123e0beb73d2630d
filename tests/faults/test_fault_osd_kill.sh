#!/bin/bash
# test_fault_osd_kill.sh - the OSD is killed with SIGKILL mid-replay and
# started again 10 s later with the same command line (BlueStore: it keeps
# what it acknowledged).  The replay must either carry on once the OSD is
# back or stop with exit 75 within a bound (a small multiple of the op
# timeout after the restart), never grind on; the next run finishes the
# journal, exactly once.  With the default op timeout (30 s) the ops wait
# for the OSD; with --op-timeout 3 they time out while it is down and are
# resent.  See faultlib.sh.
set -u
. "$(dirname "$0")/faultlib.sh"
fl_init test_fault_osd_kill.sh

[ -f "$RT_CLUSTER_DIR/osd/osd.0/block" ] ||
	echo "$suite: warning: the OSD is not on BlueStore; it loses its objects when killed (RT_CLUSTER_STORE=bluestore)"

# killed OP-TIMEOUT SEED-OFFSET: 10000 entries on 400 trackers, 16 in
# flight, the OSD killed once 500 are done.
killed() {
	local tmo=$1 t0 tk tu at secs opt=() bound
	[ "$tmo" = default ] || opt=(--op-timeout "$tmo")
	# After the restart: the stall bound (4 op timeouts) and the time to
	# settle the ops still out (one more), with room for a loaded machine.
	bound=$((6 * ${tmo/default/30} + 30))
	fl_gen 10000 400 "$2"
	t0=$SECONDS
	fl_bg_replay $((60 + 10 + bound)) --inflight 16 ${opt[@]+"${opt[@]}"}
	fl_await_done 500 || { fl_stop_bg; return; }
	"$cluster_sh" osd-kill "$RT_CLUSTER_DIR" || { fail "osd-kill failed"; fl_stop_bg; return; }
	osd_down=1
	tk=$SECONDS
	at=$(fl_count done)
	# The time the OSD stays down, not a wait for a condition.
	sleep 10
	"$cluster_sh" osd-start "$RT_CLUSTER_DIR" || { fail "osd-start failed"; fl_stop_bg; return; }
	osd_down=0
	tu=$SECONDS
	# The replay must be over within the bound after the restart.
	while kill -0 "$bg" 2>/dev/null && [ $((SECONDS - tu)) -le "$bound" ]; do
		sleep 0.2
	done
	if kill -0 "$bg" 2>/dev/null; then
		fail "the replay (op timeout $tmo) still runs ${bound}s after the OSD came back ($(fl_count done) of $entries done, was $at at the kill): stopped"
		fl_stop_bg
		return
	fi
	fl_bg_wait
	secs=$((SECONDS - tu))
	case $rc in
	0 | 75) ;;
	*) fail "the replay exited $rc: $(tail -n 3 "$d/runs.err")"; return ;;
	esac
	if [ "$rc" -ne 0 ]; then
		fl_until_done 3 120 || return
	fi
	fl_check
	fl_figures "OSD SIGKILLed at $at done, down $((tu - tk)) s (op timeout $tmo);" \
		"first run ended $secs s after the restart"
}

case_osd_kill_default_timeout() { killed default 7; }
case_osd_kill_3s_timeout() { killed 3 8; }

run_case case_osd_kill_default_timeout
run_case case_osd_kill_3s_timeout
finish test_fault_osd_kill.sh
