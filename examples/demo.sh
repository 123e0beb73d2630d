#!/bin/bash
# demo.sh BUILD_DIR - `make demo`: the draft tool's README example, run
# through BUILD_DIR/reference-tracker against a throwaway cluster
# (tests/cluster.sh), then the tracker's bytes read back with the plain
# `rados` tool, so anyone can see the on-RADOS format for themselves.
# Exits non-zero if any result differs from what the format promises.
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

if [ "$problems" -ne 0 ]; then
	say "demo FAILED: $problems unexpected results (see !!! above)"
	exit 1
fi
say "demo done: every result as expected; the cluster is being removed"
