#!/bin/bash
# test_replay_signals.sh - SIGTERM and SIGINT in the middle of `replay` and
# `run` on the throwaway cluster (issue 10): the process stops sending,
# settles what is in flight, commits, prints its summary with "interrupted;
# the next run continues" and exits 75, leaving no entry in flight; a rerun
# finishes and the cluster and journal match the model (replay_model.py).
# A second signal while settling ends the process at once, by that signal;
# the next run still finishes exactly once.  Run by
# tests/run-integration.sh.
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require replay-signals CEPH_CONF RT_TEST_POOL RT_BUILD RT_SRC

tl_replay_env

bg=	# the replay or run in the background, while it may run
on_exit() {
	if [ -n "$bg" ]; then
		kill -KILL "$bg" 2>/dev/null
		wait "$bg" 2>/dev/null
	fi
}
tl_tmpdir rt-replay-signals
tl_timed=1

ns=
jdir=
case_setup() {
	ns="rsig-$$-$1"
	jdir=$tmp/$1/journal
	mkdir -p "$tmp/$1"
}

model() {
	"$py" "$model_py" "$@"
}

# A workload slow enough to be caught in the middle: 4,000 entries on 200
# trackers, replayed two trackers at a time.
workload() {
	model gen --pool "$pool" --ns "$ns" --out "$tmp/$case_name/gen" \
		--seed "$1" --entries 4000 --trackers t:200:mask --keys 4 \
		>/dev/null || fail "replay_model.py gen"
}

count_of() {
	"$reftrack" status --journal "$jdir" --json 2>/dev/null |
		"$py" -c 'import json, sys; print(json.load(sys.stdin)["counts"][sys.argv[1]])' "$1"
}

# wait_done N: until at least N entries are done (the replay is under way),
# at most 120 s.  Fails if the background process ended first.
wait_done() {
	local i n
	for i in $(seq 1200); do
		n=$(count_of done)
		[ "${n:-0}" -ge "$1" ] && return 0
		kill -0 "$bg" 2>/dev/null || {
			fail "the process ended before $1 entries were done"
			return 1
		}
		sleep 0.1
	done
	fail "fewer than $1 entries done after 120 s"
	return 1
}

# reap: waits for the background process; its status in $rc, its output
# in $out and $err.
reap() {
	wait "$bg"
	rc=$?
	bg=
	out=$(cat "$tmp/$case_name/out")
	err=$(cat "$tmp/$case_name/err")
	last_cmd="the interrupted $1"
}

check_model() {
	model check --plan "$tmp/$case_name/gen/plan.json" --reftrack "$reftrack" \
		--journal "$jdir" --all-done >"$tmp/model.out" 2>&1 ||
		fail "the cluster or the journal differs from the model:
$(sed 's/^/  /' "$tmp/model.out")"
}

finish_and_check() {
	run "$reftrack" replay --journal "$jdir"
	expect_rc 0
	check_model
}

# The background processes get SIGINT and SIGTERM at their default action:
# a non-interactive shell starts background jobs with SIGINT ignored, and
# reftrack keeps a signal ignored at start ignored.
bgrun() {
	# exec: $! must be the pid of reftrack itself, not of a subshell.
	exec env --default-signal=INT,TERM "$@"
}

# start_replay SEED [ARGS...]: the workload submitted and a replay of it
# (with ARGS) under way in the background, 50 entries done.
start_replay() {
	workload "$1"
	shift
	"$reftrack" submit --journal "$jdir" "$tmp/$case_name/gen/batch-00.yaml" \
		>/dev/null || fail "submit"
	bgrun "$reftrack" replay --journal "$jdir" --inflight 2 "$@" \
		>"$tmp/$case_name/out" 2>"$tmp/$case_name/err" &
	bg=$!
	wait_done 50
}

# One signal in the middle of a replay.
graceful_replay() {
	local sig=$1 inflight
	start_replay "$2" || return
	kill -"$sig" "$bg"
	reap replay
	expect_rc 75
	case $out in
	"replay: "*"interrupted; the next run continues; exit 75") pass ;;
	*) fail "summary line: '$out'" ;;
	esac
	expect_err_has "SIG$sig: stopping"
	inflight=$(count_of in_flight)
	[ "$inflight" -eq 0 ] || fail "$inflight entries left in flight"
	[ "$(count_of pending)" -gt 0 ] ||
		fail "nothing left pending: the signal came too late to test"
	finish_and_check
}

case_sigterm_replay() { graceful_replay TERM 101; }
case_sigint_replay() { graceful_replay INT 102; }

# --json: still one JSON object, saying it was interrupted.
case_sigterm_replay_json() {
	start_replay 103 --json || return
	kill -TERM "$bg"
	reap "replay --json"
	expect_rc 75
	"$py" -c 'import json, sys
d = json.loads(sys.stdin.read())
assert d["interrupted"] is True and d["exit"] == 75 and d["pending"] > 0, d
assert d["stopped"] == "interrupted; the next run continues", d' <<<"$out" ||
		fail "JSON summary: $out"
	finish_and_check
}

# Two signals: the process is stopped, sent SIGTERM and SIGINT, and let go,
# so that the second is certain to arrive while the first is handled.  It
# ends by a signal, at once; whatever it left in flight, the next run
# resolves, exactly once.
case_second_signal() {
	start_replay 104 || return
	kill -STOP "$bg"
	kill -TERM "$bg"
	kill -INT "$bg"
	kill -CONT "$bg"
	reap replay
	case $rc in
	130 | 143) pass ;;
	*) fail "exit $rc after two signals, want death by SIGINT or SIGTERM (130/143): $err" ;;
	esac
	finish_and_check
}

# `run` under systemd's stop: SIGTERM, summary, 75, metrics say 75.
case_sigterm_run() {
	local inflight
	workload 105
	mkdir -p "$tmp/$case_name/spool"
	cp "$tmp/$case_name/gen/batch-00.yaml" "$tmp/$case_name/spool/a.yaml"
	bgrun "$reftrack" run --spool "$tmp/$case_name/spool" --journal "$jdir" \
		--inflight 2 --metrics-file "$tmp/$case_name/run.prom" \
		>"$tmp/$case_name/out" 2>"$tmp/$case_name/err" &
	bg=$!
	wait_done 50 || return
	kill -TERM "$bg"
	reap run
	expect_rc 75
	case $out in
	"run: "*"interrupted; the next run continues; exit 75") pass ;;
	*) fail "summary line: '$out'" ;;
	esac
	grep -q '^reftrack_last_run_exit_status{.*} 75$' "$tmp/$case_name/run.prom" ||
		fail "metrics: $(grep exit_status "$tmp/$case_name/run.prom")"
	inflight=$(count_of in_flight)
	[ "$inflight" -eq 0 ] || fail "$inflight entries left in flight"
	run "$reftrack" run --spool "$tmp/$case_name/spool" --journal "$jdir"
	expect_rc 0
	check_model
}

run_case case_sigterm_replay
run_case case_sigint_replay
run_case case_sigterm_replay_json
run_case case_second_signal
run_case case_sigterm_run
finish replay-signals
