#!/bin/bash
# test_privilege.sh - least privilege: what a client may change is exactly
# what its caps allow, and its secret never shows (run by
# tests/run-integration.sh, which exports CEPH_CONF, RT_TEST_POOL,
# RT_TEST_POOL2, RT_TEST_RO_KEYRING, RT_TEST_RO_ID and RT_BUILD).
#
# A client made for the test with
#     mon 'allow r' osd 'allow rw pool=P namespace=N'
# applies batch entries inside N; entries outside N (another namespace of P,
# P's default namespace, another pool) fail with a permission error naming
# the pool and namespace, are marked failed once (not retried by the next
# replay), and nothing outside N changes: every object of both pools
# outside N is dumped with the admin client before and after.  The
# cluster's read-only client (RT_TEST_RO_*) changes nothing at all: add, rm,
# replay and run are refused with exit 77.  Finally neither client's secret
# (the base64 key of its keyring) appears in anything the tools printed
# (stdout and stderr of every command above, also as JSON and JSON logs), in
# the metrics file, or in any file of the journals.
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require privilege CEPH_CONF RT_TEST_POOL RT_TEST_POOL2 RT_TEST_RO_KEYRING \
	RT_BUILD

pool=$RT_TEST_POOL
pool2=$RT_TEST_POOL2
reftrack=$RT_BUILD/reftrack
ro_keyring=$RT_TEST_RO_KEYRING
ro_id=${RT_TEST_RO_ID:-rtro}
export CEPH_CONF
unset CEPH_ARGS REFTRACK_JOURNAL

tl_tmpdir rt-privilege
ns=priv-$$
other=priv-$$-other
# Trackers of the default namespace are shared by every test: unique names.
pfx=priv-$$
lp_id=rtpriv$$
lp_keyring=$tmp/keyring.$lp_id
made_client=0
on_exit() {
	[ "$made_client" = 1 ] && ceph auth del "client.$lp_id" >/dev/null 2>&1
}

# Everything the tools print goes into one file, which the secret check
# greps at the end.
all=$tmp/all-output
: >"$all"
trun() {
	run "$@"
	printf '%s\n%s\n' "$out" "$err" >>"$all"
}
# The scoped client and the read-only one, by flags.
as_lp() { trun "$reftrack" --id "$lp_id" --keyring "$lp_keyring" "$@"; }
as_ro() { trun "$reftrack" --id "$ro_id" --keyring "$ro_keyring" "$@"; }
# The admin client (CEPH_CONF's default).
admin() {
	"$reftrack" "$@" >/dev/null 2>"$tmp/admin.err" ||
		fail "admin: reftrack $* failed: $(cat "$tmp/admin.err")"
}

# Every object of both pools (all namespaces) but those of namespace `skip`
# of the main pool, one line each: "pool ns obj xattr=.. data=.. omap=k:v,..",
# sorted; values in hex, the default namespace as "".  One client for all of it (the rados tool would
# take a process per read).  Other tests' trackers are in it too; only
# before/after equality counts.
dump_objects() {
	/usr/bin/python3 - "$pool" "$pool2" "$1" <<'PY'
import hashlib
import subprocess
import sys
import rados
pools, skip = sys.argv[1:3], sys.argv[3]
r = rados.Rados(conffile="")
r.connect()
lines = []
for p in pools:
    io = r.open_ioctx(p)
    io.set_namespace(rados.LIBRADOS_ALL_NSPACES)
    objs = [(o.nspace, o.key) for o in io.list_objects()]
    for ns, key in objs:
        if skip and p == pools[0] and ns == skip:
            continue
        io.set_namespace(ns)
        try:
            x = io.get_xattr(key, "csi.ceph.com/rt-version").hex()
        except rados.Error:
            x = "-"
        d = io.read(key, 1 << 20).hex()
        try:
            with rados.ReadOpCtx() as op:
                it, _ = io.get_omap_vals(op, "", "", 100000)
                io.operate_read_op(op, key)
                # An empty value comes back as None (other tests plant
                # draft-layout trackers, whose values are empty).
                om = ",".join("%s:%s" % (k, (v or b"").hex()) for k, v in it)
        except UnicodeDecodeError:
            # The bindings decode keys as UTF-8, and other tests plant
            # binary keys: the rados tool's listing, hashed, still shows
            # any change.
            out = subprocess.run(["rados", "-p", p, "-N", ns, "listomapvals",
                                  key], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL).stdout
            om = "sha256:" + hashlib.sha256(out).hexdigest()
        lines.append("%s %s %s xattr=%s data=%s omap=%s" % (p, ns or "\"\"", key, x, d, om))
    io.close()
r.shutdown()
for l in sorted(lines):
    print(l)
PY
}

expect_same_objects() {
	if ! cmp -s "$1" "$2"; then
		fail "objects changed:
$(diff "$1" "$2" | head -n 20)"
	fi
}

# tracker_is NS OBJ WANT: the one-line view of a tracker of the main pool
# (as dump_objects prints it, without pool, namespace and name) is WANT.
tracker_is() {
	local got
	got=$(dump_objects "" | awk -v p="$pool" -v n="$1" -v o="$2" \
		'$1 == p && $2 == n && $3 == o { $1 = $2 = $3 = ""; sub(/^ +/, ""); print }')
	[ -n "$got" ] || got=absent
	[ "$got" = "$3" ] || fail "tracker $1/$2 is $got, want $3"
}

# export_journal JOURNAL: takes `reftrack export` once, for entry_field.
export_journal() {
	"$reftrack" export --journal "$1" >"$tmp/export.jsonl" 2>"$tmp/export.err" ||
		fail "export of $1 failed: $(cat "$tmp/export.err")"
}

# entry_field SEQ FIELD: one field of an entry in the last export.
entry_field() {
	/usr/bin/python3 -c '
import json, sys
seq, field = int(sys.argv[1]), sys.argv[2]
for line in open(sys.argv[3]):
    e = json.loads(line)
    if e["seq"] == seq:
        print(e[field] if e[field] is not None else "null")
' "$1" "$2" "$tmp/export.jsonl"
}

# ---- setup: the scoped client and trackers on both sides of its fence ---

if ! ceph auth get-or-create "client.$lp_id" mon 'allow r' \
	osd "allow rw pool=$pool namespace=$ns" -o "$lp_keyring" \
	>"$tmp/auth.out" 2>&1; then
	fail "ceph auth get-or-create failed: $(cat "$tmp/auth.out")"
	finish privilege
fi
made_client=1
lp_secret=$(sed -n 's/^[[:space:]]*key = //p' "$lp_keyring")
ro_secret=$(sed -n 's/^[[:space:]]*key = //p' "$ro_keyring")
if [ ${#lp_secret} -lt 20 ] || [ ${#ro_secret} -lt 20 ]; then
	fail "no key in $lp_keyring or $ro_keyring"
	finish privilege
fi

admin -p "$pool" -N "$other" add OUT1 x
admin -p "$pool" add "$pfx-OUT2" x
admin -p "$pool2" -N "$ns" add OUT3 x
admin -p "$pool" -N "$ns" add IN0 keep gone

# ---- cases ------------------------------------------------------------------

# The scoped client's own commands: inside N they work, outside they are
# refused (77) with the pool and namespace named.
case_scoped_commands() {
	dump_objects "$ns" >"$tmp/before"
	as_lp -p "$pool" -N "$ns" add IN1 a b
	expect_rc 0
	tracker_is "$ns" IN1 "xattr=00000001 data=00000002 omap=a:01,b:01"
	as_lp -p "$pool" -N "$other" add OUT1 y
	expect_rc 77
	expect_err_has "pool '$pool' namespace '$other'"
	as_lp -p "$pool" -N "$other" rm OUT1 x
	expect_rc 77
	expect_err_has "pool '$pool' namespace '$other'"
	as_lp -p "$pool" rm --mask "$pfx-OUT2" x
	expect_rc 77
	expect_err_has "pool '$pool'"
	expect_err_has "'$pfx-OUT2'"
	as_lp -p "$pool2" -N "$ns" add OUT3 y
	expect_rc 77
	expect_err_has "pool '$pool2' namespace '$ns'"
	as_lp -p "$pool2" -N "$ns" show OUT3
	expect_rc 77
	dump_objects "$ns" >"$tmp/after"
	expect_same_objects "$tmp/before" "$tmp/after"
}

# A batch across the fence, replayed by the scoped client: the entries in N
# are done, the others failed (permission, pool and namespace named) and
# the later entries of their trackers blocked; the replay says 77.  A
# second replay retries nothing.  Nothing outside N changed.
case_scoped_replay() {
	local j=$tmp/journal-lp seq state err att
	cat >"$tmp/fence.yaml" <<EOF
version: 1
defaults:
  pool: $pool
  namespace: $ns
requests:
  - tracker: IN2
    add: [a, b]
  - tracker: OUT1
    namespace: $other
    add: [y]
  - tracker: OUT1
    namespace: $other
    remove: [x]
  - tracker: $pfx-OUT2
    namespace: ""
    mask: [x]
  - tracker: OUT3
    pool: $pool2
    remove: [x]
  - tracker: IN2
    remove: [a]
  - tracker: IN0
    remove: [keep, gone]
EOF
	trun "$reftrack" submit --journal "$j" "$tmp/fence.yaml"
	expect_rc 0
	dump_objects "$ns" >"$tmp/before"
	as_lp replay --journal "$j" --max-attempts 3
	expect_rc 77
	expect_err_has "pool '$pool' namespace '$other' tracker 'OUT1'"
	expect_err_has "pool '$pool2' namespace '$ns' tracker 'OUT3'"
	expect_err_has "tracker '$pfx-OUT2'"
	expect_err_has "not permitted"
	export_journal "$j"
	for seq in 1 6 7; do
		state=$(entry_field $seq state)
		[ "$state" = done ] || fail "entry $seq is $state, want done"
	done
	for seq in 2 4 5; do
		state=$(entry_field $seq state)
		err=$(entry_field $seq error)
		att=$(entry_field $seq attempts)
		[ "$state" = failed ] || fail "entry $seq is $state, want failed"
		case $err in
		*"not permitted"*) ;;
		*) fail "entry $seq error '$err' is not a permission error" ;;
		esac
		case $seq:$err in
		2:*"pool '$pool' namespace '$other'"* | \
			4:*"pool '$pool' namespace ''"* | \
			5:*"pool '$pool2' namespace '$ns'"*) ;;
		*) fail "entry $seq error '$err' does not name its pool and namespace" ;;
		esac
		# A permission error is not transient: at most the one try.
		[ "$att" -le 1 ] 2>/dev/null ||
			fail "entry $seq has $att attempts, want at most 1"
		echo "$att" >"$tmp/att.$seq"
	done
	state=$(entry_field 3 state)
	[ "$state" = blocked ] || fail "entry 3 is $state, want blocked"
	tracker_is "$ns" IN2 "xattr=00000001 data=00000001 omap=b:01"
	tracker_is "$ns" IN0 absent
	dump_objects "$ns" >"$tmp/after"
	expect_same_objects "$tmp/before" "$tmp/after"

	# Not retried for ever: the next replay leaves them as they are.
	as_lp replay --journal "$j" --json
	expect_rc 1
	export_journal "$j"
	for seq in 2 4 5; do
		state=$(entry_field $seq state)
		att=$(entry_field $seq attempts)
		[ "$state" = failed ] || fail "entry $seq is $state after a second replay"
		[ "$att" = "$(cat "$tmp/att.$seq")" ] ||
			fail "entry $seq was tried again ($att attempts)"
	done
	dump_objects "$ns" >"$tmp/after2"
	expect_same_objects "$tmp/before" "$tmp/after2"
	trun "$reftrack" status --journal "$j"
	trun "$reftrack" show-entry --journal "$j" 2
	trun "$reftrack" export --journal "$j"
}

# The read-only client changes nothing: not its own commands, not a replay,
# not a run; each is refused with 77 and names the pool and namespace.
case_read_only() {
	local j=$tmp/journal-ro spool=$tmp/spool seq state
	admin -p "$pool" -N "$ns" add RO1 a
	dump_objects "" >"$tmp/before"
	as_ro -p "$pool" -N "$ns" add RO1 b
	expect_rc 77
	expect_err_has "pool '$pool' namespace '$ns'"
	as_ro -p "$pool" -N "$ns" rm RO1 a
	expect_rc 77
	expect_err_has "pool '$pool' namespace '$ns'"
	as_ro -p "$pool" -N "$ns" rm --mask RO1 a
	expect_rc 77
	expect_err_has "pool '$pool' namespace '$ns'"
	as_ro -p "$pool" -N "$ns" add RO2 a
	expect_rc 77
	expect_err_has "pool '$pool' namespace '$ns'"
	as_ro -p "$pool" -N "$ns" show RO1
	expect_rc 0

	cat >"$tmp/ro.yaml" <<EOF
version: 1
requests:
  - pool: $pool
    namespace: $ns
    tracker: RO1
    remove: [a]
  - pool: $pool
    namespace: $ns
    tracker: RO3
    add: [a]
EOF
	trun "$reftrack" submit --journal "$j" "$tmp/ro.yaml"
	expect_rc 0
	as_ro replay --journal "$j"
	expect_rc 77
	expect_err_has "pool '$pool' namespace '$ns' tracker 'RO1'"
	expect_err_has "pool '$pool' namespace '$ns' tracker 'RO3'"
	export_journal "$j"
	for seq in 1 2; do
		state=$(entry_field $seq state)
		[ "$state" = failed ] || fail "entry $seq is $state, want failed"
	done

	mkdir -p "$spool"
	sed 's/RO3/RO4/' "$tmp/ro.yaml" >"$spool/ro.yaml.tmp"
	mv "$spool/ro.yaml.tmp" "$spool/ro.yaml"
	as_ro run --journal "$j" --spool "$spool" --metrics-file "$tmp/metrics.prom" \
		--log-format json
	expect_rc 77
	case $out in
	*"pool '$pool' namespace '$ns'"* | *"\"pool\":\"$pool\""*) ;;
	*) case $err in
		*"pool '$pool' namespace '$ns'"*) ;;
		*) fail "run names no pool and namespace: $out $err" ;;
		esac ;;
	esac
	[ -s "$tmp/metrics.prom" ] || fail "run wrote no metrics file"
	dump_objects "" >"$tmp/after"
	expect_same_objects "$tmp/before" "$tmp/after"
}

# The secret: the scoped client's commands also with the key itself in
# CEPH_ARGS (--key), once allowed and once refused; then a grep of all
# output, the metrics file and every file of the journals.
case_no_secret() {
	local f hits=
	CEPH_ARGS="--id $lp_id --key $lp_secret" trun "$reftrack" \
		-p "$pool" -N "$ns" add IN3 a
	expect_rc 0
	CEPH_ARGS="--id $lp_id --key $lp_secret" trun "$reftrack" \
		-p "$pool" -N "$other" add OUT1 z
	expect_rc 77
	# A wrong key: refused at connect, and not echoed either.
	CEPH_ARGS="--id $lp_id --key AQ$lp_secret" trun "$reftrack" \
		-p "$pool" -N "$ns" show IN3
	[ "$rc" -ne 0 ] || fail "a wrong key was accepted"
	case $out$err in *"AQ$lp_secret"*) fail "the wrong key was printed" ;; esac
	as_lp -p "$pool" -N "$ns" show --json IN3
	as_ro replay --journal "$tmp/journal-ro" --json
	# Louder and other output forms, where the tool has them (their exit
	# statuses are other tests' business; only what they print counts).
	if "$reftrack" --help 2>&1 | grep -q -- '--verbose'; then
		as_lp --verbose -p "$pool" -N "$other" add OUT1 z
		as_ro --verbose -p "$pool" -N "$ns" add RO1 z
	fi
	if "$reftrack" --help 2>&1 | grep -q -- '--format'; then
		as_lp --format json -p "$pool" -N "$other" add OUT1 z
		as_ro --format json replay --journal "$tmp/journal-ro"
	fi

	for f in "$all" "$tmp/metrics.prom"; do
		[ -f "$f" ] || { fail "$f is missing"; continue; }
		grep -qaF -e "$lp_secret" -e "$ro_secret" "$f" && hits="$hits $f"
	done
	for f in "$tmp"/journal-*/*; do
		[ -f "$f" ] || continue
		grep -qaF -e "$lp_secret" -e "$ro_secret" "$f" && hits="$hits $f"
	done
	[ -z "$hits" ] || fail "a secret appears in:$hits"
	# The check itself sees the secret where it is.
	grep -qaF "$lp_secret" "$lp_keyring" || fail "the grep finds nothing"
	[ -s "$all" ] || fail "no output was collected"
}

run_case case_scoped_commands
run_case case_scoped_replay
run_case case_read_only
run_case case_no_secret
finish privilege
