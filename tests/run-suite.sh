#!/bin/sh
# Runs test programs and adds up their closing "SUITE: N passed, N failed"
# lines.  Usage: run-suite.sh unit|valgrind PROGRAM...
# A program that exits non-zero or prints no summary counts as a failure.
set -u
mode=$1
shift
# tl_summary_of; sets passed=0, failed=0.
. "$(dirname "$0")/testlib.sh"
for prog in "$@"; do
	log=$(mktemp)
	case $mode in
	valgrind)
		case $prog in *.sh) rm -f "$log"; continue ;; esac
		valgrind -q --error-exitcode=99 --leak-check=full \
			--errors-for-leak-kinds=definite,indirect \
			"$prog" >"$log" 2>&1
		;;
	*)
		"$prog" >"$log" 2>&1
		;;
	esac
	status=$?
	tl_summary_of "$log" "$status"
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		echo "--- $prog ($mode) exited $status:"
		cat "$log"
	else
		echo "$prog ($mode): $p passed"
	fi
	rm -f "$log"
done
echo "$mode: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
