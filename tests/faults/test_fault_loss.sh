#!/bin/bash
# test_fault_loss.sh - message loss between the replayer and the cluster:
# the client's messenger drops its connection on 1 socket operation in
# 500, then 1 in 20 (`ms inject socket failures`, through CEPH_ARGS).
# Every op is resent on a new connection, so the journal must still end
# exactly once, and under the harsh rate the replay must keep making
# progress (each run either finishes or moves entries on).  See
# faultlib.sh.
set -u
. "$(dirname "$0")/faultlib.sh"
fl_init test_fault_loss.sh

# loss RATE MAX-RUNS SEED-OFFSET: 3000 entries on 300 trackers, replayed
# with the client losing 1 socket operation in RATE, each run given 60 s
# (--max-time) to start entries.
loss() {
	local t0
	fl_gen 3000 300 "$3"
	t0=$SECONDS
	CEPH_ARGS="--ms-inject-socket-failures $1" fl_until_done "$2" 180 --max-time 60 ||
		return
	local secs=$((SECONDS - t0))
	fl_check
	fl_figures "1 in $1 socket operations fails (client)," \
		"$secs s of replay, $((entries / (secs > 0 ? secs : 1))) entries/s"
}

case_loss_1_in_500() { loss 500 3 1; }
case_loss_1_in_20() { loss 20 8 2; }

run_case case_loss_1_in_500
run_case case_loss_1_in_20
finish test_fault_loss.sh
