#!/bin/bash
# test_stall.sh - a replay against a cluster that answers nothing stops
# within the stall bound (4 op timeouts, then the ops out settle) with exit
# 75, instead of grinding on (issue 9, defect 3: each tracker tried 8 times
# an op timeout apiece, 16 at a time, so 400 trackers took ~400 s with
# --op-timeout 2), and the next run finishes exactly once.  The OSDs are
# paused (`ceph osd pause`) to make the cluster silent.  Run by
# tests/run-integration.sh.
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require stall CEPH_CONF RT_TEST_POOL RT_BUILD RT_SRC

tl_replay_env
tl_tmpdir rt-stall
paused=0
on_exit() {
	[ "$paused" = 1 ] && ceph osd unpause >/dev/null 2>&1
}

case_paused_osds() {
	local ns="stall-$$" j=$tmp/j t0 secs
	"$py" "$model_py" gen --seed "$$" --pool "$pool" --ns "$ns" --out "$tmp/gen" \
		--entries 2000 --trackers t:400:mask --keys 3 >/dev/null || {
		fail "replay_model.py gen"
		return
	}
	run "$reftrack" submit --journal "$j" "$tmp/gen/batch-00.yaml"
	expect_rc 0
	ceph osd pause >/dev/null 2>&1 || { fail "ceph osd pause failed"; return; }
	paused=1
	t0=$SECONDS
	# The bound: 4 x 2 s without progress, one op timeout to settle, and
	# room for a loaded machine; the old replayer needed minutes.
	run timeout --foreground -s KILL 60 "$reftrack" replay --journal "$j" \
		--op-timeout 2 --inflight 16
	secs=$((SECONDS - t0))
	ceph osd unpause >/dev/null 2>&1 || fail "ceph osd unpause failed"
	paused=0
	expect_rc 75
	expect_err_has "answered nothing for 4 op timeouts"
	echo "  stalled replay: exit $rc after $secs s"
	run "$reftrack" replay --journal "$j"
	expect_rc 0
	"$py" "$model_py" check --plan "$tmp/gen/plan.json" --reftrack "$reftrack" \
		--journal "$j" --all-done >"$tmp/model.out" 2>&1 ||
		fail "the cluster or the journal differs from the model: $(cat "$tmp/model.out")"
}

run_case case_paused_osds
finish stall
