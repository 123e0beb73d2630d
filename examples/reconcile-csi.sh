#!/bin/bash
# reconcile-csi.sh - releases the references of ceph-csi's snapshot-backed
# (shallow, read-only) CephFS volumes whose holders no longer exist, from
# cron, through a reviewed batch.
#
#   reconcile-csi.sh -p METADATA_POOL [-N NAMESPACE] [--out DIR]
#                    [--submit --spool DIR] [--allow-mass-release]
#                    [--mass-release-threshold PCT]
#                    [-c CONF] [--id ID] [-k KEYRING] [--cluster NAME]
#
# What ceph-csi keeps, and so what this script assumes (ceph-csi's
# internal/cephfs/store/backingsnapshot.go and its CSI journal):
#  - a shallow volume's snapshot has one tracker, rt-backingsnapshot-SNAPID
#    (SNAPID: the CSI snapshot id), in the CephFS metadata pool, in the
#    RADOS namespace "csi" (ceph-csi's default; -N for another);
#  - its keys are SNAPID itself (normal while the snapshot exists, masked
#    once Kubernetes deletes it) and the volume name of each shallow volume
#    made from it (the CSI journal's csi.imagename, "csi-vol-UUID" unless
#    the storage class set volumeNamePrefix);
#  - a shallow volume has no CephFS subvolume: it is only its CSI journal
#    object, csi.volume.UUID, in the same pool and namespace.  So the list
#    of live holders comes from the journal objects, never from
#    `ceph fs subvolume ls`, which would leave out every shallow volume and
#    so release every reference;
#  - a snapshot is kept, with its journal object csi.snap.UUID (UUID: the
#    last 36 characters of SNAPID), until its tracker is gone.
# Live keys: the volume name of every csi.volume.UUID object (csi.imagename,
# or csi-vol-UUID when the object has none, as ceph-csi itself assumes), and
# SNAPID for every tracker whose csi.snap.UUID object exists.  Every other
# normal key of a tracker is stale; masks are never touched.
#
# Steps: list the pool's namespace once (rados ls), build the live list,
# run `reftrack scan --live-keys - --emit-batch` (read-only), and keep the
# batch in --out for review.  Only with --submit is the batch dropped into
# the spool of `reftrack run` (written under a dot name, then renamed, as
# the spool wants), which applies it through the journal.  scan's
# mass-release guard refuses a list that would release every reference of
# more than a threshold of trackers (an empty or truncated list); this
# script passes its exit status 65 on and drops nothing.
#
# Exit status: 0 nothing stale, no problem found; 1 stale references found
# (the batch is kept for review, or dropped into the spool with --submit)
# or the scan reported broken trackers: read the output; 64 usage; 65 the
# mass-release guard refused; 75 another reconcile-csi.sh holds --out's
# lock; any other: the status of the rados or reftrack command that failed.
#
# Standard output gets the live-key count and the scan's report; standard
# error only what needs an operator (a batch to review or submitted,
# problems the scan found, failures).  Cron, with this script copied to
# /usr/local/sbin and standard output sent to /dev/null, so that mail comes
# only when something needs review (/etc/cron.d/reftrack-reconcile):
#   17 3 * * *  reftrack  /usr/local/sbin/reconcile-csi.sh -p cephfs-metadata --id reftrack --out /var/lib/reftrack/reconcile >/dev/null
set -u -o pipefail

prog=${0##*/}
pool=
ns=csi
out=/var/lib/reftrack/reconcile
spool=
submit=0
scan_opts=()
ceph_opts=()

usage() {
	cat <<EOF
usage: $prog -p METADATA_POOL [-N NAMESPACE] [--out DIR]
         [--submit --spool DIR] [--allow-mass-release]
         [--mass-release-threshold PCT]
         [-c CONF] [--id ID] [-k KEYRING] [--cluster NAME]
Builds the list of live ceph-csi volume and snapshot keys from the CSI
journal in the CephFS metadata pool, runs 'reftrack scan --live-keys -
--emit-batch', and keeps the batch that releases the stale references in
--out (default /var/lib/reftrack/reconcile) for review; --submit drops it
into the spool of 'reftrack run' instead.  -N: the RADOS namespace of
ceph-csi's objects (default csi).  The comment at the top of this script
says what it assumes.
Exit status: 0 nothing stale; 1 stale references (batch kept or submitted)
or problems reported by the scan; 64 usage; 65 the mass-release guard
refused; 75 another run holds the lock; else the failed command's status.
EOF
}

bad_usage() {
	echo "$prog: $*" >&2
	echo "try '$prog --help'" >&2
	exit 64
}

need_value() {
	[ $# -ge 2 ] || bad_usage "option '$1' needs a value"
}

while [ $# -gt 0 ]; do
	case $1 in
	-p | --pool) need_value "$@"; pool=$2; shift ;;
	-N | --namespace) need_value "$@"; ns=$2; shift ;;
	--out) need_value "$@"; out=$2; shift ;;
	--spool) need_value "$@"; spool=$2; shift ;;
	--submit) submit=1 ;;
	--allow-mass-release) scan_opts+=("$1") ;;
	--mass-release-threshold) need_value "$@"; scan_opts+=("$1" "$2"); shift ;;
	-c | --conf | --id | --user | -k | --keyring | --cluster)
		need_value "$@"; ceph_opts+=("$1" "$2"); shift ;;
	-h | --help) usage; exit 0 ;;
	*) bad_usage "unknown argument '$1'" ;;
	esac
	shift
done
[ -n "$pool" ] || bad_usage "no pool given (-p: the CephFS metadata pool)"
[ "$submit" = 0 ] || [ -n "$spool" ] ||
	bad_usage "--submit needs --spool DIR (the spool of 'reftrack run')"
[ -z "$spool" ] || [ -d "$spool" ] || bad_usage "no spool directory '$spool'"

die() {
	local status=$1
	shift
	echo "$prog: $*" >&2
	exit "$status"
}

{ mkdir -p "$out" && chmod 700 "$out"; } || die 73 "cannot make '$out'"
# One reconcile at a time per --out: two would write the same batch twice.
exec 9>"$out/.lock" || die 73 "cannot open '$out/.lock'"
flock -n 9 || die 75 "another $prog holds '$out/.lock'"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
objects=$out/objects-$stamp.txt
snaps=$out/.snaps
live=$out/live-keys-$stamp.txt
batch=$out/stale-$stamp.yaml
report=$out/scan-$stamp.txt

R() { rados ${ceph_opts[@]+"${ceph_opts[@]}"} -p "$pool" -N "$ns" "$@"; }

# One listing: a partial one must stop us, not shrink the live list.
R ls >"$objects" || die $? "listing pool '$pool' namespace '$ns' failed"

# Volume names, from the CSI journal's per-volume objects.
while IFS= read -r obj; do
	case $obj in csi.volume.????????-????-????-????-????????????) ;; *) continue ;; esac
	uuid=${obj#csi.volume.}
	if R getomapval "$obj" csi.imagename "$out/.name" >/dev/null 2>&1 &&
		[ -s "$out/.name" ]; then
		cat "$out/.name"
		echo
	else
		echo "csi-vol-$uuid"
	fi
	rm -f "$out/.name"
done <"$objects" >"$live" || die 74 "writing '$live' failed"

# Snapshots' own keys, for trackers whose snapshot is still in the journal.
grep '^csi\.snap\.' "$objects" >"$snaps"
while IFS= read -r obj; do
	case $obj in rt-backingsnapshot-*) ;; *) continue ;; esac
	snapid=${obj#rt-backingsnapshot-}
	[ ${#snapid} -ge 36 ] || continue
	if grep -qxF "csi.snap.${snapid: -36}" "$snaps"; then
		echo "$snapid"
	fi
done <"$objects" >>"$live" || die 74 "writing '$live' failed"
sort -u -o "$live" "$live" || die 74 "sorting '$live' failed"

echo "$prog: $(wc -l <"$live") live keys from pool '$pool' namespace '$ns' ($live)"
reftrack ${ceph_opts[@]+"${ceph_opts[@]}"} scan -p "$pool" -N "$ns" --live-keys - \
	--emit-batch "$batch" ${scan_opts[@]+"${scan_opts[@]}"} \
	<"$live" >"$report"
status=$?
cat "$report"
case $status in
0 | 1) ;;
65) die 65 "scan refused (mass-release guard?): nothing written; see $report" ;;
*) die "$status" "scan failed with exit status $status" ;;
esac

# How many requests the batch holds: submit's own reading of it.
entries=0
if [ -s "$batch" ]; then
	entries=$(reftrack submit --dry-run --format json "$batch" |
		sed -n 's/.*"entries":\([0-9]*\).*/\1/p') ||
		die 65 "the batch '$batch' does not pass 'reftrack submit --dry-run'"
fi
if [ "${entries:-0}" -eq 0 ]; then
	rm -f "$batch"
	echo "$prog: no stale reference"
	[ "$status" -eq 0 ] ||
		echo "$prog: the scan found problems: see $report" >&2
	exit "$status"
fi
if [ "$submit" = 0 ]; then
	echo "$prog: $entries requests releasing stale references are in $batch;" \
		"review it, then drop it into the spool (or run with --submit)" >&2
	exit 1
fi
# The spool takes NAME.yaml files whole: write a dot name, then rename.
tmpname=$spool/.reconcile-csi-$stamp.yaml.tmp
if ! { cp "$batch" "$tmpname" &&
	mv "$tmpname" "$spool/$stamp-reconcile-csi.yaml"; }; then
	rm -f "$tmpname"
	die 74 "dropping the batch into '$spool' failed"
fi
echo "$prog: $entries requests submitted: $spool/$stamp-reconcile-csi.yaml" >&2
exit 1
