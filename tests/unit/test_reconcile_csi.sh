#!/bin/bash
# test_reconcile_csi.sh - examples/reconcile-csi.sh's argument handling and
# flow, without a cluster: stub `rados` and `reftrack` commands on PATH
# answer from fixed data and record how they were called.  This checks the
# script's own logic only (which live keys it derives from a listing, what
# it hands scan, when it drops a batch into the spool, its exit statuses);
# nothing here says anything about RADOS or about the real scan.
# Run from the repository root.
set -u
. "$(dirname "$0")/../testlib.sh"
tl_tmpdir rt-reconcile

script=$PWD/examples/reconcile-csi.sh
stubs=$tmp/bin
mkdir "$stubs"

# The listing a CephFS metadata pool's "csi" namespace could show: two
# volumes (one with csi.imagename, one without: the csi-vol-UUID fallback),
# one snapshot in the journal and trackers for it and for a gone one.
u1=11111111-1111-1111-1111-111111111111
u2=22222222-2222-2222-2222-222222222222
s1=0001-0009-rook-ceph-0000000000000001-33333333-3333-3333-3333-333333333333
s2=0001-0009-rook-ceph-0000000000000001-44444444-4444-4444-4444-444444444444
cat >"$tmp/listing" <<EOF
csi.volumes.default
csi.volume.$u1
csi.volume.$u2
csi.snaps.default
csi.snap.33333333-3333-3333-3333-333333333333
rt-backingsnapshot-$s1
rt-backingsnapshot-$s2
EOF

# rados: `ls` prints the listing (or fails with RADOS_LS_FAIL set);
# `getomapval OBJ csi.imagename FILE` writes a name for u1 only.
cat >"$stubs/rados" <<'EOF'
#!/bin/bash
printf '%s\n' "$*" >>"$STUB_LOG/rados.args"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	case ${args[i]} in
	ls) [ -z "${RADOS_LS_FAIL:-}" ] || exit 2; cat "$STUB_LISTING"; exit 0 ;;
	getomapval)
		case ${args[i + 1]} in
		*1111-111111111111) printf 'pvc-vol-one' >"${args[i + 3]}"; exit 0 ;;
		*) echo "No such key" >&2; exit 1 ;;
		esac ;;
	esac
done
exit 9
EOF
# reftrack: `scan` records its stdin and writes a batch of STUB_ENTRIES
# requests (none: no file) and exits STUB_SCAN_RC; `submit --dry-run`
# counts them.
cat >"$stubs/reftrack" <<'EOF'
#!/bin/bash
printf '%s\n' "$*" >>"$STUB_LOG/reftrack.args"
case " $* " in
*" scan "*)
	cat >"$STUB_LOG/live"
	args=("$@")
	for ((i = 0; i < ${#args[@]}; i++)); do
		[ "${args[i]}" = --emit-batch ] && out=${args[i + 1]}
	done
	if [ "${STUB_ENTRIES:-0}" -gt 0 ] && [ "${STUB_SCAN_RC:-1}" != 65 ]; then
		printf 'version: 1\nrequests:\n' >"$out"
		for ((i = 0; i < STUB_ENTRIES; i++)); do
			printf '  - {tracker: t%d, remove: [k]}\n' "$i" >>"$out"
		done
	fi
	echo "scan report"
	exit "${STUB_SCAN_RC:-1}" ;;
*" submit "*)
	n=$(grep -c 'tracker:' "${!#}")
	printf '{"schema_version":1,"entries":%d,"dry_run":true}\n' "$n"
	exit 0 ;;
esac
exit 9
EOF
chmod +x "$stubs/rados" "$stubs/reftrack"
export STUB_LISTING=$tmp/listing STUB_LOG=$tmp/log
mkdir "$STUB_LOG" "$tmp/spool"

# go ARGS...: the script with the stubs first on PATH, fresh logs and out.
go() {
	rm -rf "${STUB_LOG:?}"/* "$tmp/out"
	run env PATH="$stubs:$PATH" "$script" --out "$tmp/out" "$@"
}

spool_files() { find "$tmp/spool" -mindepth 1 | wc -l; }

# ---- usage ----------------------------------------------------------------
go
expect_rc 64
expect_err_has "no pool given"
go -p meta --submit
expect_rc 64
expect_err_has "--submit needs --spool"
go -p meta --bogus
expect_rc 64
expect_err_has "unknown argument '--bogus'"
go -p
expect_rc 64
expect_err_has "needs a value"
go -p meta --spool "$tmp/nospool"
expect_rc 64
expect_err_has "no spool directory"
[ ! -e "$STUB_LOG/rados.args" ] || fail "usage errors ran rados"
go --help
expect_rc 0
case $out in *"usage: reconcile-csi.sh -p METADATA_POOL"*) pass ;; *) fail "--help: $out" ;; esac

# ---- the live keys and the scan's command line ---------------------------------
STUB_ENTRIES=2 go -p meta --id rt -c /etc/ceph/x.conf --mass-release-threshold 5
expect_rc 1
expect_err_has "review it"
printf '%s\n' "$s1" "csi-vol-$u2" pvc-vol-one | sort >"$tmp/want"
cmp -s "$tmp/want" "$STUB_LOG/live" && pass ||
	fail "live keys: $(diff "$tmp/want" "$STUB_LOG/live")"
grep -qx -- "--id rt -c /etc/ceph/x.conf scan -p meta -N csi --live-keys - --emit-batch $tmp/out/stale-[0-9TZ]*.yaml --mass-release-threshold 5" \
	"$STUB_LOG/reftrack.args" && pass ||
	fail "scan args: $(cat "$STUB_LOG/reftrack.args")"
grep -q -- "^--id rt -c /etc/ceph/x.conf -p meta -N csi ls$" "$STUB_LOG/rados.args" &&
	pass || fail "rados args: $(cat "$STUB_LOG/rados.args")"
[ "$(spool_files)" -eq 0 ] && pass || fail "batch dropped without --submit"
ls "$tmp"/out/stale-*.yaml >/dev/null 2>&1 && pass || fail "no batch kept for review"

# -N and --allow-mass-release reach scan (and rados).
STUB_ENTRIES=1 go -p meta -N other --allow-mass-release
expect_rc 1
grep -q -- " -N other --live-keys - .* --allow-mass-release$" "$STUB_LOG/reftrack.args" &&
	pass || fail "scan args: $(cat "$STUB_LOG/reftrack.args")"

# ---- --submit ------------------------------------------------------------------
STUB_ENTRIES=3 go -p meta --submit --spool "$tmp/spool"
expect_rc 1
expect_err_has "3 requests submitted"
[ "$(find "$tmp/spool" -name '*-reconcile-csi.yaml' | wc -l)" -eq 1 ] && pass ||
	fail "spool: $(ls -A "$tmp/spool")"
[ "$(find "$tmp/spool" -name '.*' | wc -l)" -eq 0 ] && pass ||
	fail "a temporary file left in the spool"
rm -f "$tmp"/spool/*

# Nothing stale: exit 0, nothing dropped, no batch kept.
STUB_ENTRIES=0 STUB_SCAN_RC=0 go -p meta --submit --spool "$tmp/spool"
expect_rc 0
[ "$(spool_files)" -eq 0 ] && pass || fail "an empty batch was dropped"
[ -z "$err" ] && pass || fail "a clean run wrote to stderr: $err"

# ---- failures stop it ------------------------------------------------------------
# The guard: 65 passed on, nothing dropped.
STUB_ENTRIES=3 STUB_SCAN_RC=65 go -p meta --submit --spool "$tmp/spool"
expect_rc 65
expect_err_has "mass-release"
[ "$(spool_files)" -eq 0 ] && pass || fail "dropped after the guard refused"
# A failed listing: no scan at all.
RADOS_LS_FAIL=1 STUB_ENTRIES=3 go -p meta --submit --spool "$tmp/spool"
expect_rc 2
expect_err_has "listing pool 'meta' namespace 'csi' failed"
[ ! -e "$STUB_LOG/reftrack.args" ] && pass || fail "scan ran after a failed listing"
[ "$(spool_files)" -eq 0 ] && pass || fail "dropped after a failed listing"
# Another run holding the lock: 75 at once.
mkdir -p "$tmp/out"
exec 8>"$tmp/out/.lock"
flock 8
run env PATH="$stubs:$PATH" "$script" --out "$tmp/out" -p meta
expect_rc 75
exec 8>&-

finish reconcile-csi
