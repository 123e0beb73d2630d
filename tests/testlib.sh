# tests/testlib.sh - the helpers the shell tests share.  Sourced, not run;
# plain sh (dash and bash), so that both kinds of test can use it:
#
#	. "$(dirname "$0")/../testlib.sh"
#
# Sourcing it sets passed=0, failed=0 and case_name= (no case running).
#
# Setup:
#   tl_require NAME VAR...  exits at once, with NAME's summary line counting
#                    one failure, unless every VAR is set and non-empty (the
#                    integration tests get them from tests/run-integration.sh).
#   tl_require_built NAME FILE...  likewise unless every FILE exists: the
#                    build the test runs ($RT_BUILD; make's test targets
#                    set it).
#
# Counting (the script's totals are $passed and $failed):
#   pass             one check passed.
#   check WHAT CMD...  runs CMD: passes if it succeeds, else fail WHAT.
#   fail MSG...      inside a case (case_name non-empty): prints
#                    "SCRIPT: CASE: MSG" on stderr and counts a failure of
#                    the case in $case_failures; outside a case: prints
#                    "FAIL: MSG" on stderr and counts one failed check.
#   run_case FN      runs the function FN as one case: sets case_name=FN and
#                    case_failures=0, calls case_setup FN (a no-op unless the
#                    script redefines it; a non-zero return skips the case
#                    uncounted), calls FN, then counts one passed or one failed
#                    test ("FAIL FN" on stderr) and clears case_name.  With
#                    tl_timed=1 it also prints "ok FN (N s)" and times the
#                    FAIL line.
#   tl_summary_of LOG STATUS  sets p and f, the passed and failed counts of
#                    a test program from the last summary line in its LOG
#                    and its exit STATUS: no summary line, or a non-zero
#                    exit with nothing counted failed, is f=1 (the
#                    runners, tests/run-suite.sh and run-integration.sh).
#   finish NAME      prints "NAME: P passed, F failed" - the line
#                    tests/run-suite.sh and tests/run-integration.sh parse,
#                    so keep NAME stable - and exits 0 if nothing failed,
#                    1 otherwise.
#
# Commands:
#   run CMD...       runs CMD; sets $out (stdout), $err (stderr), $rc and
#                    $last_cmd (for messages).  Needs $tmp.
#   expect_rc N      fails unless $rc is N, quoting the command and output.
#   expect_err_has S fails unless $err contains S.
#
# The cluster (integration tests):
#   rados_ns NS ARGS...  the rados tool in pool $pool, namespace NS ("" =
#                    the default one).
#   hex              stdin as one line of lowercase hex pairs.
#   unhex HEX        the bytes HEX spells (any, NUL too) on stdout.
#
# The test tree:
#   tl_hooks         $RT_BUILD/hooks, the tools built with the test hooks
#                    (make's test targets build it).  The shipped tools in
#                    $RT_BUILD have no failpoints: a test that crashes a
#                    tool with REFTRACK_FAILPOINT (README.md, "Test hooks")
#                    runs $tl_hooks/reftrack for that step.
#
# Processes:
#   tl_wait_stopped PID  waits until PID is stopped (a tool that stopped
#                    itself at a REFTRACK_FAILPOINT stoppoint) or gone, at
#                    most 120 s; 0 if stopped, else fails the case naming
#                    the state seen.
#   tl_stopped       the PID of such a process while the test holds it
#                    stopped; the exit trap kills and reaps it (empty:
#                    none).
#
# The journal:
#   tl_hold_lock JOURNAL SECONDS  holds JOURNAL's replay lock from another
#                    process, as a running `reftrack run` would (flock, its
#                    pid in the file), until killed or SECONDS pass; sets
#                    $holder (its pid) once it holds the lock, or fails.
#                    Needs $tmp.
#
# Scratch space:
#   tl_tmpdir PREFIX makes $tmp, a fresh directory under ${TMPDIR:-/tmp};
#                    on exit calls on_exit (a no-op unless the script
#                    redefines it: to stop its background processes, say)
#                    and removes $tmp.  INT and TERM exit 130 and 143, so
#                    that the cleanup runs then too.

passed=0
failed=0
case_name=
case_failures=0
tl_timed=0
tl_hooks=${RT_BUILD:-build}/hooks

tl_require() {
	local tl_name=$1 tl_v
	shift
	for tl_v in "$@"; do
		eval "[ -n \"\${$tl_v:-}\" ]" && continue
		echo "${0##*/}: $tl_v is not set; run me through tests/run-integration.sh" >&2
		echo "$tl_name: 0 passed, 1 failed"
		exit 1
	done
}

tl_require_built() {
	local tl_name=$1 tl_f
	shift
	for tl_f in "$@"; do
		[ -e "$tl_f" ] && continue
		echo "${0##*/}: no $tl_f (set RT_BUILD)" >&2
		echo "$tl_name: 0 passed, 1 failed"
		exit 1
	done
}

pass() { passed=$((passed + 1)); }

fail() {
	if [ -n "$case_name" ]; then
		echo "${0##*/}: $case_name: $*" >&2
		case_failures=$((case_failures + 1))
	else
		failed=$((failed + 1))
		echo "FAIL: $*" >&2
	fi
}

case_setup() { :; }

check() {
	local tl_what=$1
	shift
	if "$@"; then pass; else fail "$tl_what"; fi
}
on_exit() { :; }

run_case() {
	local tl_start tl_secs
	tl_start=$(date +%s)
	case_setup "$1" || return 0
	case_name=$1
	case_failures=0
	"$1"
	case_name=
	tl_secs=
	[ "$tl_timed" = 1 ] && tl_secs=" ($(($(date +%s) - tl_start)) s)"
	if [ "$case_failures" -eq 0 ]; then
		passed=$((passed + 1))
		[ "$tl_timed" = 1 ] && echo "ok $1$tl_secs"
	else
		failed=$((failed + 1))
		echo "FAIL $1$tl_secs" >&2
	fi
	return 0
}

finish() {
	echo "$1: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

run() {
	last_cmd="$*"
	out=$("$@" 2>"$tmp/err")
	rc=$?
	err=$(cat "$tmp/err")
}

expect_rc() {
	[ "$rc" -eq "$1" ] ||
		fail "exit $rc, want $1: $last_cmd
  stdout: $out
  stderr: $err"
}

expect_err_has() {
	case $err in
	*"$1"*) ;;
	*) fail "stderr does not mention '$1': $last_cmd
  stderr: $err" ;;
	esac
}

tl_stopped=
tl_cleanup() {
	if [ -n "$tl_stopped" ]; then
		kill -KILL "$tl_stopped" 2>/dev/null
		kill -CONT "$tl_stopped" 2>/dev/null
		wait "$tl_stopped" 2>/dev/null
	fi
	on_exit
	[ -n "${tmp:-}" ] && rm -rf "$tmp"
}

tl_tmpdir() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 1
	trap tl_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

rados_ns() {
	local n=$1
	shift
	if [ -n "$n" ]; then
		rados -p "$pool" -N "$n" "$@"
	else
		rados -p "$pool" "$@"
	fi
}

unhex() {
	/usr/bin/printf '%b' "$(printf '%s' "$1" | sed 's/../\\x&/g')"
}

hex() {
	od -An -v -tx1 | tr -d ' \n'
}

# Setup shared by the tests that check replays against replay_model.py:
# $pool, $reftrack, $py (the system interpreter: it has the rados
# bindings) and $model_py, and an environment with nothing left over from
# the caller that would change a replay.
tl_replay_env() {
	pool=$RT_TEST_POOL
	reftrack=$RT_BUILD/reftrack
	py=/usr/bin/python3
	model_py=$RT_SRC/tests/integration/replay_model.py
	export CEPH_CONF
	unset CEPH_ARGS REFTRACK_FAILPOINT REFTRACK_JOURNAL
}

tl_wait_stopped() {
	local tl_i tl_state=
	# "T" in /proc/PID/stat: stopped.
	for tl_i in $(seq 1200); do
		tl_state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
		[ "$tl_state" = T ] && return 0
		[ -z "$tl_state" ] || [ "$tl_state" = Z ] && break
		sleep 0.1
	done
	fail "process $1 did not stop at its stoppoint (state '$tl_state')"
	return 1
}

tl_hold_lock() {
	local tl_i
	rm -f "$tmp/held"
	/usr/bin/python3 -c '
import fcntl, os, sys, time
f = open(sys.argv[1], "a+")
fcntl.flock(f, fcntl.LOCK_EX)
f.seek(0); f.truncate(); f.write("%d\n" % os.getpid()); f.flush()
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
' "$1/replay.lock" "$tmp/held" "$2" &
	holder=$!
	for tl_i in $(seq 100); do
		[ -e "$tmp/held" ] && return 0
		sleep 0.05
	done
	fail "the lock holder never got the lock"
}

tl_summary_of() {
	local tl_line
	tl_line=$(grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
	if [ -n "$tl_line" ]; then
		p=$(echo "$tl_line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
		f=$(echo "$tl_line" | sed -E 's/.* ([0-9]+) failed$/\1/')
	else
		p=0
		f=1
	fi
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
}
