#!/bin/bash
# test_dry_run.sh - `reftrack replay --dry-run` against a real cluster: it
# writes nothing (every object's version, data, xattrs and omap, and the
# journal's export and data file, are the same before and after), and each
# of its predictions is what the real replay that follows records, entry by
# entry.  Run by tests/run-integration.sh (CEPH_CONF, RT_TEST_POOL,
# RT_TEST_POOL2, RT_BUILD, RT_SRC).
#
# The journal: a few thousand generated entries (creates, masks, removals
# that delete trackers, on 150 trackers; replay_model.py gen), some left in
# flight by a replay killed at a failpoint, some failed and blocked by an
# earlier run, entries on a pool that does not exist and on a corrupt
# tracker, and entries of one tracker spread over groups with a delete and
# a re-create in between.
#
# Knobs: RT_DRY_SEED (the workload's seed; printed).
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require dry_run CEPH_CONF RT_TEST_POOL RT_TEST_POOL2 RT_BUILD RT_SRC

tl_replay_env
pool2=$RT_TEST_POOL2
tool_py=$RT_SRC/tests/integration/dry_run_tool.py

seed=${RT_DRY_SEED:-$(( $(date +%s) % 100000 ))}
echo "test_dry_run.sh: seed $seed (RT_DRY_SEED=$seed to run the same workload)"

tl_tmpdir rt-dry
tl_timed=1
ns=
jdir=
case_setup() {
	ns="dry-$$-$1"
	jdir=$tmp/$1/journal
	mkdir -p "$tmp/$1"
}

rtk() {
	run "$reftrack" "$@"
}

# state NAME: the cluster (both pools, the case's namespace) and the
# journal, into $tmp/CASE/NAME.{objects,export,mdb}.
state() {
	local base=$tmp/$case_name/$1
	"$py" "$tool_py" snapshot --pool "$pool" --pool "$pool2" --ns "$ns" \
		>"$base.objects" || fail "snapshot $1 failed"
	"$reftrack" export --journal "$jdir" >"$base.export" ||
		fail "export $1 failed"
	cksum <"$jdir/data.mdb" >"$base.mdb"
}

# same_state A B: nothing moved between snapshots A and B.
same_state() {
	local a=$tmp/$case_name/$1 b=$tmp/$case_name/$2 what
	for what in objects export mdb; do
		cmp -s "$a.$what" "$b.$what" ||
			fail "the $what changed between $1 and $2:
$(diff "$a.$what" "$b.$what" | head -20)"
	done
}

# The failing parts of the journal, in their own batch: a pool that does not
# exist (every entry of its trackers fails or is blocked), a corrupt
# tracker (a 3-byte count), and a tracker whose entries go through a
# delete and a re-create.
extra_batch() {
	local i
	echo "version: 1"
	echo "defaults: {pool: $pool, namespace: $ns}"
	echo "requests:"
	for i in 0 1 2 3 4 5 6 7 8 9; do
		echo "  - {tracker: gone-$((i % 3)), pool: rt-no-such-pool-$$, add: [k$i]}"
	done
	echo "  - {tracker: corrupt, add: [a]}"
	echo "  - {tracker: corrupt, remove: [a]}"
	echo "  - {tracker: cycle, add: [a, b]}"
	echo "  - {tracker: cycle, mask: [a]}"
	echo "  - {tracker: cycle, remove: [b]}"
	echo "  - {tracker: cycle, add: [b, c]}"
	echo "  - {tracker: cycle, mask: [c]}"
	echo "  - {tracker: cycle, add: [a]}"
	echo "  - {tracker: cycle, remove: [b]}"
	echo "  - {tracker: cycle, remove: [nothing-here]}"
}

case_predictions() {
	local gen=$tmp/$case_name/gen files
	"$py" "$model_py" gen --seed "$seed" --entries 3000 --batches 3 \
		--trackers t:150:mask --keys 4 --pool "$pool" --ns "$ns" \
		--out "$gen" >/dev/null || { fail "replay_model.py gen"; return; }
	files=("$gen"/batch-*.yaml)
	extra_batch >"$tmp/$case_name/extra.yaml"

	# History: the first batch half applied by a replay killed with
	# writes in flight; the failing batch replayed once (failed and
	# blocked entries stay so), then the rest submitted.
	rtk submit --journal "$jdir" "${files[0]}"
	expect_rc 0
	REFTRACK_FAILPOINT=mid-window:20 reftrack=$tl_hooks/reftrack rtk replay --journal "$jdir" --inflight 16
	expect_rc 137
	rtk submit --journal "$jdir" "$tmp/$case_name/extra.yaml"
	expect_rc 0
	printf 'abc' | rados -p "$pool" -N "$ns" put corrupt - ||
		fail "cannot write the corrupt tracker"
	rtk submit --journal "$jdir" "${files[1]}"
	expect_rc 0
	rtk submit --journal "$jdir" "${files[2]}"
	expect_rc 0
	state before
	grep -q '"state":"in-flight"' "$tmp/$case_name/before.export" ||
		fail "the killed replay left no entry in flight"

	rtk replay --dry-run --json --journal "$jdir"
	expect_rc 1
	printf '%s\n' "$out" >"$tmp/$case_name/dry.json"
	state after-dry-run
	same_state before after-dry-run

	# The same, in text, for one batch only; still nothing written.
	rtk replay --dry-run -q --journal "$jdir" --batch \
		"$(sha256sum <"$tmp/$case_name/extra.yaml" | cut -c1-64)"
	expect_rc 1
	[ "$(printf '%s\n' "$out" | grep -c '^entry ')" -eq 20 ] ||
		fail "--batch: want 20 entry lines, got: $out"
	case $out in
	*"would fail: pool 'rt-no-such-pool-$$' namespace '$ns' tracker 'gone-0': pool not found"*) ;;
	*) fail "--batch: no line for the missing pool: $out" ;;
	esac
	state after-text
	same_state before after-text

	rtk replay --journal "$jdir"
	expect_rc 1
	"$reftrack" export --journal "$jdir" >"$tmp/$case_name/replayed.export"
	"$py" "$tool_py" compare "$tmp/$case_name/dry.json" \
		"$tmp/$case_name/before.export" "$tmp/$case_name/replayed.export" \
		>"$tmp/$case_name/compare.out" 2>&1 ||
		fail "predictions differ from the replay:
$(cat "$tmp/$case_name/compare.out")"
	sed 's/^/  /' "$tmp/$case_name/compare.out"
}

# Nothing pending: no cluster needed; no journal: 66, and none created.
case_nothing_to_do() {
	rtk replay --dry-run --journal "$jdir"
	expect_rc 66
	[ ! -e "$jdir" ] || fail "a dry run created a journal"
	rtk submit --journal "$jdir" - <<<"version: 1
requests: [{pool: $pool, namespace: $ns, tracker: x, add: [k]}]"
	expect_rc 0
	rtk replay --journal "$jdir"
	expect_rc 0
	CEPH_CONF=/nonexistent rtk replay --dry-run --json --journal "$jdir"
	expect_rc 0
	"$py" -c 'import json, sys
d = json.loads(sys.argv[1])
assert d["entries"] == [] and d["summary"]["total"] == 0, d' "$out" ||
		fail "empty dry run: $out"
	# --batch alone is a usage error; an unknown batch is 66.
	rtk replay --batch "$(printf '%064d' 0)" --journal "$jdir"
	expect_rc 64
	rtk replay --dry-run --batch "$(printf '%064d' 0)" --journal "$jdir"
	expect_rc 66
}

run_case case_predictions
run_case case_nothing_to_do

finish dry_run
