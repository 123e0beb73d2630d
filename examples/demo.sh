#!/bin/bash
# demo.sh BUILD_DIR - `make demo`: reftrack end to end on a throwaway
# cluster (tests/cluster.sh).
#
# First the draft tool's README example, run through
# BUILD_DIR/reference-tracker, with the tracker's bytes read back by the
# plain `rados` tool, so anyone can see the on-RADOS format for themselves.
# Then the main job: the pools the example batches name are created, the
# trackers those batches change are set up with `reftrack add`, every batch
# in examples/ is submitted to a journal of the demo's own, `reftrack
# replay --dry-run` says what a replay would do, `reftrack replay` applies
# them, and `reftrack status`, `show-entry` and `show` show what happened.
# Last, the failure path: a batch naming pools that do not exist, its
# failed and blocked entries, `retry` once the pool is there and `skip`
# for the one that never will be.  Every result is compared with what the
# batches imply; the demo exits non-zero if any differs.
set -u

prog=${0##*/}
if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $prog BUILD_DIR" >&2
	exit 64
fi
root=$(cd "$(dirname "$0")/.." && pwd -P)
build=$(cd "$1" && pwd -P)
rt=$build/reference-tracker
if [ ! -x "$rt" ]; then
	echo "$prog: $rt not found; run make first" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/reftrack-demo.XXXXXX") || exit 1
cluster=$work/cluster
mkdir "$cluster"
cleanup() {
	"$root/tests/cluster.sh" stop "$cluster"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

problems=0
say() { printf '\n==> %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; }
bad() {
	echo "!!! $*"
	problems=$((problems + 1))
}
# expect WHAT GOT WANT
expect() {
	if [ "$2" = "$3" ]; then
		echo "    ok: $1 is $3"
	else
		bad "$1 is '$2', expected '$3'"
	fi
}
hex() { od -An -tx1 -v | tr -d ' \n'; }

obj=hello-reference-tracker

# run_rt WANT ARGS...: runs reference-tracker with ARGS, shows what it says,
# and checks its exit status and that its last stdout line is WANT.
run_rt() {
	local want=$1 status last
	shift
	show "reference-tracker $*"
	"$rt" "$@" >"$work/out" 2>"$work/err"
	status=$?
	sed 's/^/    /' "$work/out"
	sed 's/^/    (stderr) /' "$work/err"
	last=$(tail -n 1 "$work/out")
	expect "exit status" "$status" 0
	expect "last line" "$last" "$want"
}

# check_tracker COUNT KEY...: the tracker's bytes, read with rados(8) only.
check_tracker() {
	local count=$1 key keys
	shift
	show "rados -p rt getxattr $obj csi.ceph.com/rt-version | od -An -tx1"
	rados -p rt getxattr "$obj" csi.ceph.com/rt-version >"$work/xattr"
	od -An -tx1 "$work/xattr" | sed "s/^/   /"
	expect "version xattr (uint32 big-endian 1)" "$(hex <"$work/xattr")" 00000001

	show "rados -p rt get $obj - | od -An -tx1"
	rados -p rt get "$obj" "$work/data"
	od -An -tx1 "$work/data" | sed "s/^/   /"
	expect "data (uint32 big-endian reference count)" "$(hex <"$work/data")" \
		"$(printf '%08x' "$count")"

	show "rados -p rt listomapvals $obj"
	rados -p rt listomapvals "$obj" | sed 's/^/    /'
	keys=$(rados -p rt listomapkeys "$obj" | sort | paste -sd' ')
	expect "omap keys" "$keys" "$(printf '%s\n' "$@" | sort | paste -sd' ')"
	for key in "$@"; do
		rados -p rt getomapval "$obj" "$key" "$work/val" >/dev/null 2>&1 ||
			: >"$work/val"
		expect "omap value of $key (01 = normal reference)" "$(hex <"$work/val")" 01
	done
}

say "Starting a throwaway Ceph cluster (one mon, one memstore OSD, cephx) in $work"
"$root/tests/cluster.sh" start "$cluster" || exit 1
# shellcheck disable=SC1091
. "$cluster/env"
echo "    CEPH_CONF=$CEPH_CONF, pool rt"

say "Adding three references to a new tracker: it is created (created=1)"
run_rt created=1 -i admin -p rt -c "$CEPH_CONF" -k key1,key2,key3 -o add

say "The tracker in RADOS: version 1, count 3, three normal keys"
check_tracker 3 key1 key2 key3

say "Removing key3, key4, key5: only key3 was there, two references remain (deleted=0)"
run_rt deleted=0 -i admin -p rt -c "$CEPH_CONF" -k key3,key4,key5 -o rem

say "The tracker in RADOS now: count 2, keys key1 and key2"
check_tracker 2 key1 key2

# ---- the main job: batches, the journal, the replayer -------------------

reftrack=$build/reftrack
journal=$work/journal
# The demo's own journal: never the user's (or, as root, /var/lib/reftrack).
export REFTRACK_JOURNAL=$journal

# run_rk WANT_STATUS ARGS...: runs reftrack with ARGS, shows what it says,
# checks its exit status; leaves its stdout in $work/out.
run_rk() {
	local want=$1 status
	shift
	show "reftrack $*"
	"$reftrack" "$@" >"$work/out" 2>"$work/err"
	status=$?
	sed 's/^/    /' "$work/out"
	sed 's/^/    (stderr) /' "$work/err"
	expect "exit status" "$status" "$want"
}

# expect_line WHAT REGEX: some line of the last output matches REGEX.
expect_line() {
	if grep -Eq -- "$2" "$work/out"; then
		echo "    ok: $1"
	else
		bad "$1: no line matching /$2/ above"
	fi
}

# check_show POOL NS TRACKER REFCOUNT "TYPE KEY"...: `reftrack show` says
# exactly this; REFCOUNT "absent" means the tracker must be gone.
check_show() {
	local pool=$1 tr=$3 count=$4 got want
	local -a where=(-p "$pool")
	[ -n "$2" ] && where+=(-N "$2")
	shift 4
	if [ "$count" = absent ]; then
		run_rk 66 "${where[@]}" show "$tr"
		return
	fi
	run_rk 0 "${where[@]}" show "$tr"
	expect "refcount" "$(sed -n 's/^refcount: //p' "$work/out")" "$count"
	got=$(awk 'on { print $1, $2 } /^refs:/ { on = 1 }' "$work/out" | sort | paste -sd' ')
	want=$(printf '%s\n' "$@" | sort | paste -sd' ')
	expect "references" "$got" "$want"
}

# The example batches, with the names they use.
ns_new=csi-v2
ns_old=csi
fs=cephfs.myfs.meta
T1=csi.snap.4f1c2a9e-8b1d-4c55-a0e2-6a9d3f0b7c11
T2=csi.snap.9a7e3c15-2b4d-4f6a-8c1e-5d0b7a9f3e22
T3=csi.snap.c2b8d4f0-6e1a-4b3c-9d7f-0a5e2c8b1f93
V_KEEP=csi-vol-2a8e5c1f-0b7d-4e3a-9f6c-8d1b4a7e2c05

say "The main job.  First the pools the example batches name"
# make_pools POOL...: creates the pools and waits until each serves I/O:
# a new pool does once its placement groups are active (the replayer would
# wait too, but the demo should not spend its op timeout on that).
make_pools() {
	local p tries
	for p in "$@"; do
		show "ceph osd pool create $p 8"
		ceph osd pool create "$p" 8 2>&1 | sed 's/^/    /'
	done
	for p in "$@"; do
		tries=0
		until rados -p "$p" put demo-probe /dev/null 2>/dev/null; do
			tries=$((tries + 1))
			if [ "$tries" -ge 60 ]; then
				bad "pool $p serves no I/O after 30 s"
				break
			fi
			sleep 0.5
		done
		rados -p "$p" rm demo-probe 2>/dev/null
	done
}
make_pools rbd rbd-ssd "$fs"

say "The trackers as they stand before the batches: the old namespace of the migration, and three CephFS snapshots"
run_rk 0 -p rbd -N "$ns_old" add csi.snap.0001 csi-vol-clone-0001a csi-vol-clone-0001b
run_rk 0 -p rbd-ssd -N "$ns_old" add csi.snap.0002 csi-vol-clone-0002a
run_rk 0 -p rbd add csi.snap.0003 csi-vol-clone-0003a
run_rk 0 -p "$fs" -N csi add "$T1" csi-vol-0c5e7d2a-1f3b-4e8a-9c6d-2b7a4e1f9d30 \
	csi-vol-7b2d9e41-5a6c-4f0b-8e3d-1c9a2f6b4e57 \
	csi-vol-e3a1f6c9-2d4b-4a7e-b5c8-9f0d3e2a1b64 "$V_KEEP"
run_rk 0 -p "$fs" -N csi add "$T2" csi-vol-1d6f0a3c-7e9b-4c2d-a8f5-3b1e6d9c0a48
run_rk 0 -p "$fs" -N csi add "$T3" csi-vol-5f9c2e7a-3b0d-4e6f-a1c8-7d2b9e4f0a15 \
	csi-vol-8e0a4d6b-9c2f-4a1e-b7d3-5c6f1a0e8b29

say "Submitting the batches into a new journal ($journal); step 2 of the migration waits for step 1 (see its comment)"
for b in namespace-migration-1 small-add snapshot-cleanup; do
	run_rk 0 submit "$root/examples/$b.yaml"
	expect_line "$b.yaml went in whole" '^batch [0-9a-f]{64}: [0-9]+ entries submitted'
done
run_rk 0 submit "$root/examples/small-add.yaml"
expect_line "the same bytes again add nothing" 'already submitted.*nothing added'

say "A dry run first: what would the replay do?  It reads the trackers, plans every entry, and writes nothing"
run_rk 0 replay --dry-run
expect_line "8 entries would be applied" '^dry run: 8 entries would be applied \(5 created, 1 changed, 2 deleted, 0 no-op\), 0 would fail, 0 blocked'
expect_line "entry 7 would delete its snapshot's tracker" "^entry 7: deleted .*tracker '$T2'"
run_rk 0 status
expect_line "the dry run changed nothing: 8 entries still pending" '^ +pending +8$'
check_show "$fs" csi "$T2" 1 "normal csi-vol-1d6f0a3c-7e9b-4c2d-a8f5-3b1e6d9c0a48"

say "Replaying the journal: every pending entry applied once"
run_rk 0 replay
expect_line "8 entries applied, none failed" '^replay: 8 applied, 0 failed, 0 blocked, 0 needs-review, 0 pending'

say "Step 2 of the migration, now that step 1 is applied"
run_rk 0 submit "$root/examples/namespace-migration-2.yaml"
run_rk 0 replay
expect_line "3 entries applied, none failed" '^replay: 3 applied, 0 failed, 0 blocked, 0 needs-review, 0 pending'

say "The journal's status"
run_rk 0 status
expect_line "11 entries in all" '^entries: 11 total'
expect_line "all 11 done" '^ +done +11$'
expect_line "none pending" '^ +pending +0$'
expect_line "none failed" '^ +failed +0$'
expect_line "4 batches" '^batches: 4$'

say "What each entry did (reftrack show-entry SEQ)"
run_rk 0 show-entry 6
outcomes=(created created created created created changed deleted deleted
	deleted deleted deleted)
for seq in $(seq 1 11); do
	"$reftrack" show-entry "$seq" >"$work/out" 2>&1
	got=$(sed -n 's/^outcome  *\([a-z-]*\).*/\1/p' "$work/out")
	expect "entry $seq's outcome" "$got" "${outcomes[seq - 1]}"
done

say "The trackers now"
check_show rbd "$ns_new" csi.snap.0001 2 "normal csi-vol-clone-0001a" "normal csi-vol-clone-0001b"
check_show rbd-ssd "$ns_new" csi.snap.0002 1 "normal csi-vol-clone-0002a"
check_show rbd "$ns_new" csi.snap.0003 1 "normal csi-vol-clone-0003a"
check_show rbd "" hello-reference-tracker 3 "normal key1" "normal key2" "normal key3"
check_show rbd "" hello-reference-tracker-2 1 "normal key1"
check_show "$fs" csi "$T1" 1 "normal $V_KEEP" "mask csi-vol-e3a1f6c9-2d4b-4a7e-b5c8-9f0d3e2a1b64"
echo "    (the old trackers and the two emptied snapshots are gone:)"
check_show rbd "$ns_old" csi.snap.0001 absent
check_show rbd-ssd "$ns_old" csi.snap.0002 absent
check_show rbd "" csi.snap.0003 absent
check_show "$fs" csi "$T2" absent
check_show "$fs" csi "$T3" absent

say "When entries fail: a batch naming a pool not created yet (rbd-new) and one retired for good (rbd-retired)"
cat >"$work/new-pools.yaml" <<EOF
version: 1
defaults: {pool: rbd-new}
requests:
  - {tracker: csi.snap.0100, add: [csi-vol-0100a]}
  - {tracker: csi.snap.0100, add: [csi-vol-0100b]}
  - {tracker: csi.snap.0200, pool: rbd-retired, add: [csi-vol-0200a]}
EOF
show "cat new-pools.yaml"
sed 's/^/    /' "$work/new-pools.yaml"
run_rk 0 submit "$work/new-pools.yaml"
expect_line "3 entries submitted as 12-14" 'entries submitted \(seq 12-14\)'
run_rk 1 replay --dry-run
expect_line "entry 12 would fail" "^entry 12: would fail: pool 'rbd-new' .*pool not found"
expect_line "entry 13 would wait behind it" '^entry 13: would be blocked: .*waits behind entry 12'
expect_line "entry 14 would fail" "^entry 14: would fail: pool 'rbd-retired' "
run_rk 1 replay
expect_line "as the dry run said: 2 failed, 1 blocked" '^replay: 0 applied, 2 failed, 1 blocked'

say "The operator creates rbd-new, retries entry 12, and skips entry 14 with a reason"
make_pools rbd-new
run_rk 0 retry --entry 12
expect_line "entry 12 back to pending" '^retry: 1 entry back to pending'
run_rk 0 skip 14 --reason "pool rbd-retired was retired"
run_rk 0 replay
expect_line "entries 12 and 13 applied" '^replay: 2 applied, 0 failed, 0 blocked, 0 needs-review, 0 pending'
check_show rbd-new "" csi.snap.0100 2 "normal csi-vol-0100a" "normal csi-vol-0100b"
run_rk 0 status
expect_line "13 done" '^ +done +13$'
expect_line "1 skipped" '^ +skipped +1$'
expect_line "none failed" '^ +failed +0$'

say "A second replay finds nothing to do, and changes nothing"
run_rk 0 replay
expect_line "nothing applied twice" '^replay: 0 applied, 0 failed'
check_show rbd "$ns_new" csi.snap.0001 2 "normal csi-vol-clone-0001a" "normal csi-vol-clone-0001b"

if [ "$problems" -ne 0 ]; then
	say "demo FAILED: $problems unexpected results (see !!! above)"
	exit 1
fi
say "demo done: every result as expected; the cluster is being removed"
