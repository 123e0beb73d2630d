#!/bin/bash
# run-integration.sh BUILD_DIR - runs the integration tests on one throwaway
# cluster (tests/cluster.sh) and adds up their closing
# "SUITE: N passed, N failed" lines, as tests/run-suite.sh does.
#
# Tests: every executable BUILD_DIR/tests/integration/test_* and every
# tests/integration/test_*.sh (run with bash), from the repository root, with
# the cluster's env sourced (CEPH_CONF, RT_TEST_POOL, RT_TEST_POOL2,
# RT_TEST_RO_KEYRING, RT_TEST_RO_ID, RT_CLUSTER_DIR) and RT_BUILD (absolute
# BUILD_DIR) and RT_SRC (the repository root) exported.  A test that exits non-zero, times
# out or prints no summary counts as a failure, and its output is shown.
#
# Knobs:
#   RT_TEST_TIMEOUT  seconds per test (default 600)
#   RT_TEST_ENV      extra VAR=VALUE words for every test's environment, e.g.
#                    RT_TEST_ENV="ASAN_OPTIONS=detect_leaks=0" for a
#                    sanitizer build; set by the Makefile, empty by default
#   RT_TEST_FILTER   only tests whose file name contains this string
#   RT_TEST_SUITE    the tests' directory under tests/ and BUILD_DIR/tests/
#                    and the summary's name (default integration; `make
#                    check-faults` runs faults, with RT_CLUSTER_STORE=bluestore
#                    for tests/cluster.sh)
#
# The cluster is stopped on every way out: success, a failed test, ^C.
set -u

prog=${0##*/}
if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $prog BUILD_DIR" >&2
	exit 64
fi
root=$(cd "$(dirname "$0")/.." && pwd -P)
build=$(cd "$1" && pwd -P)
per_test=${RT_TEST_TIMEOUT:-600}
filter=${RT_TEST_FILTER:-}
suite=${RT_TEST_SUITE:-integration}
# Word splitting is wanted: RT_TEST_ENV is a list of VAR=VALUE words.
read -r -a test_env <<<"${RT_TEST_ENV:-}"

work=$(mktemp -d "${TMPDIR:-/tmp}/reftrack-it.XXXXXX") || exit 1
cluster=$work/cluster
mkdir "$cluster" "$work/logs"

child=	# the running test's timeout(1), to stop it with us
cleanup() {
	[ -n "$child" ] && kill -TERM "$child" 2>/dev/null && wait "$child"
	"$root/tests/cluster.sh" stop "$cluster"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! "$root/tests/cluster.sh" start "$cluster"; then
	echo "$suite: 0 passed, 1 failed"
	exit 1
fi
# shellcheck disable=SC1091
. "$cluster/env"
export RT_BUILD=$build RT_SRC=$root
# The tests get the cluster from CEPH_CONF alone; a test of CEPH_ARGS sets
# its own.
unset CEPH_ARGS

tests=()
for t in "$build/tests/$suite"/test_*; do
	case $t in *.o | *.d | *.sh) continue ;; esac
	if [ -f "$t" ] && [ -x "$t" ]; then
		tests+=("$t")
	fi
done
for t in "$root/tests/$suite"/test_*.sh; do
	[ -f "$t" ] && tests+=("$t")
done

cd "$root" || exit 1
# tl_summary_of; sets passed=0, failed=0.
# shellcheck disable=SC1091
. "$root/tests/testlib.sh"
for t in ${tests[@]+"${tests[@]}"}; do
	name=${t##*/}
	case $name in *"$filter"*) ;; *) continue ;; esac
	log=$work/logs/$name.log
	case $t in
	*.sh) cmd=(bash "$t") ;;
	*) cmd=("$t") ;;
	esac
	start_s=$(date +%s)
	# In the background and waited for, so that a signal to us runs the
	# trap at once instead of after the test.
	env ${test_env[@]+"${test_env[@]}"} \
		timeout -k 10 "$per_test" "${cmd[@]}" </dev/null >"$log" 2>&1 &
	child=$!
	wait "$child"
	status=$?
	child=
	secs=$(($(date +%s) - start_s))
	tl_summary_of "$log" "$status"
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		why="exited $status"
		[ "$status" -eq 124 ] || [ "$status" -eq 137 ] &&
			why="timed out after ${per_test}s (status $status)"
		echo "--- $name ($suite) $why after ${secs}s:"
		cat "$log"
	else
		echo "$name ($suite): $p passed (${secs}s)"
		# The fault tests' measurements (tests/faults/faultlib.sh).
		grep '^  figures: ' "$log"
	fi
done
echo "$suite: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
