#!/bin/sh
# Runs test programs and adds up their closing "SUITE: N passed, N failed"
# lines.  Usage: run-suite.sh unit|valgrind PROGRAM...
# A program that exits non-zero or prints no summary counts as a failure.
set -u
mode=$1
shift
passed=0
failed=0
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
	line=$(grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
		f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
	else
		p=0
		f=1
	fi
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
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
