#!/bin/sh
# test_no_hooks.sh - the test hooks stay out of what ships: the shipped
# tools and library ($RT_BUILD) hold no failpoint name, no
# REFTRACK_FAILPOINT and no test-hook symbol, and a failpoint set for them
# does nothing; the test tree ($RT_BUILD/hooks) holds every failpoint and
# dies at one.
# Run from the repository root (the test targets build both trees).
set -u
build=${RT_BUILD:-build}
. "$(dirname "$0")/../testlib.sh"
tl_tmpdir rt-no-hooks

# The failpoints and stop points of src/lib/failpoint.h, the variable that
# arms them, and the symbols only the test build defines.
names="REFTRACK_FAILPOINT after-inflight-commit mid-window after-write
final-commit mid-commit spool-after-submit recount-before-write"
symbols="rt__failpoint rt__test_journal_map rt__test_journal_presize
rt__test_submit_stage_bytes rt__test_submit_run_pairs"

tl_require_built no-hooks "$build/reftrack" "$build/reference-tracker" \
	"$build/libreftrack.a" "$tl_hooks/reftrack" "$tl_hooks/libreftrack.a"

# has FILE WORD: FILE's printable strings include WORD.
has() { strings -a "$1" | grep -q -F -e "$2"; }
# defines ARCHIVE SYMBOL
defines() { nm -g --defined-only "$1" 2>/dev/null | grep -q " $2\$"; }

for f in reftrack reference-tracker libreftrack.a; do
	for n in $names; do
		if has "$build/$f" "$n"; then fail "shipped $build/$f contains '$n'"; else pass; fi
	done
done
for s in $symbols; do
	if defines "$build/libreftrack.a" "$s"; then
		fail "shipped $build/libreftrack.a defines $s"
	else
		pass
	fi
	if defines "$build/hooks/libreftrack.a" "$s"; then pass; else
		fail "test tree's $build/hooks/libreftrack.a lacks $s"
	fi
done
for n in $names; do
	if has "$build/hooks/reftrack" "$n"; then pass; else
		fail "test tree's $build/hooks/reftrack lacks '$n'"
	fi
done

# The spool step passes spool-after-submit before the run needs a cluster
# (a missing configuration then ends it with 78).
spool_run() { # spool_run TOOL DIR: the exit status, stderr dropped
	mkdir -p "$2/spool"
	printf 'version: 1\nrequests:\n  - {tracker: t, pool: p, add: [k]}\n' \
		>"$2/spool/a.yaml"
	(
		REFTRACK_FAILPOINT=spool-after-submit CEPH_CONF=$2/missing.conf \
			"$1" run --spool "$2/spool" --journal "$2/journal" \
			>/dev/null 2>&1
		echo $?
	) 2>/dev/null
}
rc=$(spool_run "$build/reftrack" "$tmp/shipped")
if [ "$rc" -eq 78 ] && [ -f "$tmp/shipped/spool/accepted/a.yaml" ]; then pass; else
	fail "shipped reftrack with a failpoint set: exit $rc, want 78 and the file accepted"
fi
rc=$(spool_run "$build/hooks/reftrack" "$tmp/hooks")
if [ "$rc" -eq 137 ] && [ -f "$tmp/hooks/spool/a.yaml" ]; then pass; else
	fail "test tree's reftrack at spool-after-submit: exit $rc, want 137 (SIGKILL) and the file still in the spool"
fi

finish no-hooks
