#!/usr/bin/env bash
# Runs every libFuzzer target for a fixed budget:
#   tests/fuzz/run.sh FUZZ_BUILD BUILD SECONDS [TARGET...]
# Each target fuzzes a scratch copy of its corpus (tests/fuzz/<target>/,
# plus, for the journal codec, seeds freshly made by BUILD's journal_seeds
# from the current encoder and a real journal), so the committed corpus
# only changes by hand.  A crash, leak, timeout or failed invariant fails
# the run; its input is kept under FUZZ_BUILD/artifacts/<target>/ and the
# command that reproduces it is printed.  RT_FUZZ_JOBS=2 runs two targets
# at a time.
set -uo pipefail
cd "$(dirname "$0")/../.."

fb=${1:?usage: run.sh FUZZ_BUILD BUILD SECONDS [TARGET...]}
b=${2:?}
secs=${3:?}
shift 3
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		t=${f##*/fuzz_}
		targets+=("${t%.c}")
	done
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rt-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

run_one() {
	local t=$1 bin=$fb/fuzz_$1 corpus=$work/$1 art=$fb/artifacts/$1
	local log=$work/$1.log dict=() rc
	mkdir -p "$corpus" "$art"
	if [ -d "tests/fuzz/$t" ]; then
		cp -R "tests/fuzz/$t/." "$corpus/"
	fi
	if [ "$t" = journal ]; then
		"$b/tests/fuzz/journal_seeds" "$corpus" tests/data/batch/valid/*.yaml \
			>/dev/null || return 1
	fi
	[ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
	# -timeout: one input taking longer is a finding (a hang); the rss
	# limit catches unbounded growth well below what the machine has.
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
		-print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" \
		"$corpus" >"$log" 2>&1
	rc=$?
	# The last status line: executions, coverage (cov) and features (ft).
	local last execs
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ $rc -ne 0 ]; then
		tail -n 40 "$log"
		local found
		found=$(grep -o "Test unit written to .*" "$log" | sed 's/Test unit written to //' | tail -n 1)
		echo "fuzz: $t FAILED (exit $rc) after ${execs:-?} runs"
		[ -n "$found" ] && echo "fuzz: reproduce with: $bin $found"
		return 1
	fi
	echo "fuzz: $t ok: ${execs:-?} runs in ${secs}s; ${last:-no status line}"
	return 0
}

passed=0 failed=0
jobs=${RT_FUZZ_JOBS:-1}
if [ "$jobs" -gt 1 ]; then
	pids=() names=()
	for t in "${targets[@]}"; do
		run_one "$t" >"$work/$t.out" 2>&1 &
		pids+=($!)
		names+=("$t")
		if [ ${#pids[@]} -ge "$jobs" ]; then
			if wait "${pids[0]}"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
			cat "$work/${names[0]}.out"
			pids=("${pids[@]:1}") names=("${names[@]:1}")
		fi
	done
	for i in "${!pids[@]}"; do
		if wait "${pids[$i]}"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
		cat "$work/${names[$i]}.out"
	done
else
	for t in "${targets[@]}"; do
		if run_one "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
	done
fi
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
