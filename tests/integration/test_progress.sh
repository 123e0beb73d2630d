#!/bin/bash
# test_progress.sh - the progress bar on a terminal, as the bytes written to
# a pseudo-terminal show it (pty_run.py): the final state drawn once and
# the line ended before the summary when a replay finishes, stops at
# --max-time with entries left, or is interrupted (no half-drawn bar left
# on the screen); --no-progress and -q; the bar of a dry run; no bar when
# stderr is not a terminal.  Run by tests/run-integration.sh (CEPH_CONF,
# RT_TEST_POOL, RT_BUILD, RT_SRC).
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require progress CEPH_CONF RT_TEST_POOL RT_BUILD RT_SRC

pool=$RT_TEST_POOL
reftrack=$RT_BUILD/reftrack
py=/usr/bin/python3
pty_py=$RT_SRC/tests/integration/pty_run.py
export CEPH_CONF
unset CEPH_ARGS REFTRACK_FAILPOINT REFTRACK_JOURNAL

tl_tmpdir rt-progress
tl_timed=1
ns=
jdir=
case_setup() {
	ns="prog-$$-$1"
	jdir=$tmp/$1/journal
	mkdir -p "$tmp/$1"
}

# submit_many N: N entries, each on its own tracker, so that a replay with
# --inflight 1 takes a round trip per entry.
submit_many() {
	local i
	{
		echo "version: 1"
		echo "defaults: {pool: $pool, namespace: $ns}"
		echo "requests:"
		for ((i = 0; i < $1; i++)); do
			echo "  - {tracker: p$i, add: [k]}"
		done
	} >"$tmp/$case_name/batch.yaml"
	"$reftrack" submit --journal "$jdir" "$tmp/$case_name/batch.yaml" \
		>/dev/null || fail "submit failed"
}

# on_pty NAME [--interrupt-on TEXT] -- CMD...: runs CMD on a terminal; the
# bytes go to $tmp/CASE/NAME.raw, the screen to NAME.screen ("|line|"), the
# exit status to $rc.
on_pty() {
	local name=$1
	shift
	raw=$tmp/$case_name/$name.raw
	screen=$tmp/$case_name/$name.screen
	rc=$("$py" "$pty_py" run "$raw" "$@")
	"$py" "$pty_py" render "$raw" >"$screen"
}

# The screen is tidy: the cursor is left on an empty line, and no line
# holds a bar and a summary or message after it.
tidy_screen() {
	[ "$(tail -n 1 "$screen")" = "||" ] ||
		fail "$1: the cursor is left after text: '$(tail -n 1 "$screen")'
$(od -c "$raw" | tail -4)"
	! grep -E '\] [0-9]+/[0-9]+ .*(replay:|dry run:|reftrack:)' "$screen" ||
		fail "$1: a summary or message is glued to the bar"
}

# drawn TEXT: how often TEXT was written.
drawn() {
	"$py" "$pty_py" count "$raw" "$1"
}

case_finished() {
	submit_many 300
	on_pty finished -- "$reftrack" replay --journal "$jdir" --inflight 8
	[ "$rc" = 0 ] || fail "replay exited $rc"
	tidy_screen "a finished replay"
	[ "$(drawn "300/300 ")" = 1 ] ||
		fail "the final state was drawn $(drawn "300/300 ") times, want once"
	grep -q '^|replay \[#*\] 300/300 ' "$screen" ||
		fail "the finished bar is not on a line of its own: $(cat "$screen")"
	grep -q '^|replay: 300 applied' "$screen" ||
		fail "no summary line of its own: $(cat "$screen")"
}

case_max_time() {
	submit_many 3000
	# One tracker at a time: 3000 round trips take longer than a second
	# on any machine.
	on_pty stopped -- "$reftrack" replay --journal "$jdir" --inflight 1 \
		--max-time 1
	[ "$rc" = 75 ] || fail "replay exited $rc, want 75"
	tidy_screen "a replay stopped by --max-time"
	grep -q '^|replay: [0-9]* applied.* pending' "$screen" ||
		fail "no summary line of its own: $(cat "$screen")"
}

case_interrupted() {
	submit_many 3000
	on_pty interrupted --interrupt-on "/3000 " -- "$reftrack" replay \
		--journal "$jdir" --inflight 1
	# Killed by the signal, or stopped gracefully by a handler.
	case $rc in 130 | 75) ;; *) fail "replay exited $rc after SIGINT" ;; esac
	tidy_screen "an interrupted replay"
}

case_quiet() {
	submit_many 50
	on_pty no-progress -- "$reftrack" replay --journal "$jdir" --no-progress
	[ "$rc" = 0 ] || fail "--no-progress: exit $rc"
	! grep -qF $'\033[K' "$raw" && ! grep -qF 'replay [' "$raw" ||
		fail "--no-progress drew a bar: $(od -c "$raw" | head)"
	grep -q '^|replay: 50 applied' "$screen" || fail "--no-progress: no summary"
	submit_many 60
	on_pty quiet -- "$reftrack" replay --journal "$jdir" -q
	[ "$rc" = 0 ] || fail "-q: exit $rc"
	[ ! -s "$raw" ] || fail "-q wrote: $(od -c "$raw" | head)"
	on_pty quiet-json -- "$reftrack" replay --journal "$jdir" --quiet --json
	grep -q '"applied":0' "$raw" || fail "--quiet --json: no JSON: $(cat "$raw")"
	# stderr not a terminal: no bar.
	submit_many 70
	"$reftrack" replay --journal "$jdir" >/dev/null 2>"$tmp/$case_name/err" ||
		fail "replay without a terminal failed"
	[ ! -s "$tmp/$case_name/err" ] ||
		fail "a bar without a terminal: $(od -c "$tmp/$case_name/err" | head)"
}

case_dry_run() {
	submit_many 400
	on_pty dry -- "$reftrack" replay --dry-run --journal "$jdir"
	[ "$rc" = 0 ] || fail "dry run exited $rc"
	tidy_screen "a dry run"
	[ "$(drawn "400/400 ")" = 1 ] ||
		fail "the final state was drawn $(drawn "400/400 ") times, want once"
	grep -q '^|dry run \[#*\] 400/400 ' "$screen" || fail "no dry run bar"
	grep -q '^|dry run: 400 entries would be applied' "$screen" ||
		fail "no dry run summary of its own: $(tail -3 "$screen")"
}

run_case case_finished
run_case case_max_time
run_case case_interrupted
run_case case_quiet
run_case case_dry_run

finish progress
