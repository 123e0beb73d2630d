#!/bin/bash
# test_cli_tracker.sh - the two tools, reference-tracker and reftrack,
# against the throwaway cluster (run by tests/run-integration.sh, which
# exports CEPH_CONF, RT_TEST_POOL, RT_TEST_RO_KEYRING and RT_BUILD).
#
# What the tools write is read back with the rados command-line tool alone
# (getxattr, get, listomapkeys/getomapval piped through od): a second,
# independent reader of the v1 format.  Trackers made byte by byte with the
# rados tool are read and changed by reftrack: the other direction.
#
# Every case works in a namespace of its own ("clitest-PID-CASE"); the
# README example runs exactly as written, in the default namespace, on the
# default tracker name, which it removes first and last.
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require cli-tracker CEPH_CONF RT_TEST_POOL RT_TEST_RO_KEYRING RT_BUILD

pool=$RT_TEST_POOL
rtool=$RT_BUILD/reference-tracker
reftrack=$RT_BUILD/reftrack
ro_keyring=$RT_TEST_RO_KEYRING
ro_id=${RT_TEST_RO_ID:-rtro}
export CEPH_CONF
unset CEPH_ARGS

tl_tmpdir rt-cli-tracker
dead_pid=
on_exit() { [ -n "$dead_pid" ] && kill "$dead_pid" 2>/dev/null; }

ns=
# Every case runs in a fresh namespace.
case_setup() { ns="clitest-$$-$1"; }

# expect_last LINE: the last line of stdout is exactly LINE.
expect_last() {
	local got
	got=$(printf '%s\n' "$out" | tail -n 1)
	[ "$got" = "$1" ] || fail "last stdout line is '$got', want '$1': $last_cmd"
}

expect_out_line() {
	printf '%s\n' "$out" | grep -qxF -- "$1" ||
		fail "stdout has no line '$1': $last_cmd
  stdout: $out"
}

expect_no_out_line() {
	! printf '%s\n' "$out" | grep -qxF -- "$1" ||
		fail "stdout has a line '$1': $last_cmd"
}

# ---- the second reader: the rados tool and od ---------------------------

# raw_dump NS OBJ: one line describing the whole object, e.g.
# "xattr=00000001 data=00000002 omap=key1:01,key2:01", or "absent".
raw_dump() {
	local n=$1 obj=$2 x d o="" k
	if ! rados_ns "$n" stat "$obj" >/dev/null 2>&1; then
		echo absent
		return
	fi
	x=$(rados_ns "$n" getxattr "$obj" csi.ceph.com/rt-version 2>/dev/null | hex)
	d=$(rados_ns "$n" get "$obj" - 2>/dev/null | hex)
	while IFS= read -r k; do
		rados_ns "$n" getomapval "$obj" "$k" "$tmp/val" >/dev/null 2>&1 ||
			{ o="$o${o:+,}$k:?"; continue; }
		o="$o${o:+,}$k:$(hex <"$tmp/val")"
	done < <(rados_ns "$n" listomapkeys "$obj" 2>/dev/null)
	echo "xattr=$x data=$d omap=$o"
}

expect_raw() {
	local got
	got=$(raw_dump "$1" "$2")
	[ "$got" = "$3" ] || fail "object $2 in '$1' is
  $got
  want
  $3"
}

# craft NS OBJ XATTR_HEX DATA_HEX KEY:VALHEX...: writes an object byte by
# byte with the rados tool ("-" as XATTR_HEX: no version xattr).
craft() {
	local n=$1 obj=$2 x=$3 d=$4 kv
	shift 4
	rados_ns "$n" rm "$obj" >/dev/null 2>&1
	unhex "$d" >"$tmp/data"
	rados_ns "$n" put "$obj" "$tmp/data" || fail "craft: put $obj"
	if [ "$x" != - ]; then
		unhex "$x" | rados_ns "$n" setxattr "$obj" csi.ceph.com/rt-version ||
			fail "craft: setxattr $obj"
	fi
	for kv in "$@"; do
		unhex "${kv#*:}" >"$tmp/val"
		rados_ns "$n" setomapval "$obj" "${kv%%:*}" --input-file "$tmp/val" ||
			fail "craft: setomapval $obj $kv"
	done
}

rt() {
	run "$rtool" -i admin -p "$pool" -c "$CEPH_CONF" "$@"
}

rtk() {
	run "$reftrack" "$@"
}

# ---- reference-tracker ---------------------------------------------------

# The two commands of the draft tool's README, as written there.
case_rt_readme_example() {
	local obj=hello-reference-tracker
	rados -p "$pool" rm "$obj" >/dev/null 2>&1
	run "$rtool" -i admin -p "$pool" -c "$CEPH_CONF" -k key1,key2,key3 -o add
	expect_rc 0
	expect_last created=1
	expect_raw "" "$obj" "xattr=00000001 data=00000003 omap=key1:01,key2:01,key3:01"
	run "$rtool" -i admin -p "$pool" -c "$CEPH_CONF" -k key3,key4,key5 -o rem
	expect_rc 0
	expect_last deleted=0
	# key1..key3 minus key3: two normal references.
	expect_raw "" "$obj" "xattr=00000001 data=00000002 omap=key1:01,key2:01"
	rados -p "$pool" rm "$obj" >/dev/null 2>&1
}

case_rt_add_rem() {
	rt -n "$ns" -r t1 -k a,b -o add
	expect_rc 0
	expect_last created=1
	rt -n "$ns" -r t1 -k b,c -o add
	expect_rc 0
	expect_last created=0
	expect_raw "$ns" t1 "xattr=00000001 data=00000003 omap=a:01,b:01,c:01"
	rt -n "$ns" -r t1 -k x -o rem
	expect_rc 0
	expect_last deleted=0
	expect_raw "$ns" t1 "xattr=00000001 data=00000003 omap=a:01,b:01,c:01"
	rt -n "$ns" -r t1 -k a,b,c,x -o rem
	expect_rc 0
	expect_last deleted=1
	expect_raw "$ns" t1 absent
	# Already gone: still deleted=1, nothing made.
	rt -n "$ns" -r t1 -k a -o rem
	expect_rc 0
	expect_last deleted=1
	expect_raw "$ns" t1 absent
}

case_rt_mask() {
	rt -n "$ns" -r m -k a,b -o add
	expect_rc 0
	rt -n "$ns" -r m -k a -o rem -t mask
	expect_rc 0
	expect_last deleted=0
	expect_raw "$ns" m "xattr=00000001 data=00000001 omap=a:02,b:01"
	rt -n "$ns" -r m -k a,c -o add
	expect_rc 0
	expect_last created=0
	expect_raw "$ns" m "xattr=00000001 data=00000002 omap=a:02,b:01,c:01"
	rt -n "$ns" -r m -k b,c -o rem -t normal
	expect_rc 0
	expect_last deleted=1
	expect_raw "$ns" m absent
}

# The draft tool counted -k a,a twice.
case_rt_duplicate_keys() {
	rt -n "$ns" -r d -k a,a -o add
	expect_rc 0
	expect_last created=1
	expect_raw "$ns" d "xattr=00000001 data=00000001 omap=a:01"
	rt -n "$ns" -r d -k a,a -o rem
	expect_rc 0
	expect_last deleted=1
	expect_raw "$ns" d absent
}

case_rt_verbose() {
	rt -n "$ns" -r v -k a -o add -v
	expect_rc 0
	expect_last created=1
	[ -n "$err" ] || fail "-v narrated nothing on stderr"
	rt -n "$ns" -r v -k a -o rem -v
	expect_rc 0
	expect_last deleted=1
}

case_rt_usage() {
	rt -n "$ns" -r u -o add
	expect_rc 64
	rt -n "$ns" -r u -k a -o frob
	expect_rc 64
	rt -n "$ns" -r u -k a
	expect_rc 64
	rt -n "$ns" -r u -k a -o add -Z
	expect_rc 64
	rt -n "$ns" -r u -k a -o rem -t sometimes
	expect_rc 64
	run "$rtool" -i admin -c "$CEPH_CONF" -n "$ns" -r u -k a -o add
	expect_rc 64
	expect_raw "$ns" u absent
	run "$rtool" -h
	expect_rc 0
}

case_rt_corrupt() {
	craft "$ns" bad 00000002 00000001 k:01
	rt -n "$ns" -r bad -k k2 -o add
	expect_rc 65
	expect_err_has bad
	expect_err_has "unknown tracker version 2"
	rt -n "$ns" -r bad -k k -o rem
	expect_rc 65
	expect_err_has bad
	rt -n "$ns" -r bad -k k -o rem -t mask
	expect_rc 65
	expect_raw "$ns" bad "xattr=00000002 data=00000001 omap=k:01"
	# A bad type byte: the message names the tracker.
	craft "$ns" badtype 00000001 00000001 k:07
	rt -n "$ns" -r badtype -k k -o rem
	expect_rc 65
	expect_err_has badtype
	expect_raw "$ns" badtype "xattr=00000001 data=00000001 omap=k:07"
}

case_rt_read_only() {
	rt -n "$ns" -r ro -k a -o add
	expect_rc 0
	CEPH_ARGS="--keyring $ro_keyring" run "$rtool" -i "$ro_id" -p "$pool" \
		-c "$CEPH_CONF" -n "$ns" -r ro -k b -o add
	expect_rc 77
	CEPH_ARGS="--keyring $ro_keyring" run "$rtool" -i "$ro_id" -p "$pool" \
		-c "$CEPH_CONF" -n "$ns" -r ro -k a -o rem
	expect_rc 77
	CEPH_ARGS="--keyring $ro_keyring" run "$rtool" -i "$ro_id" -p "$pool" \
		-c "$CEPH_CONF" -n "$ns" -r ro-new -k a -o add
	expect_rc 77
	expect_raw "$ns" ro "xattr=00000001 data=00000001 omap=a:01"
	expect_raw "$ns" ro-new absent
}

case_rt_missing_pool() {
	run "$rtool" -i admin -p "no-such-pool-$$" -c "$CEPH_CONF" -k a -o add
	expect_rc 66
	expect_err_has "no-such-pool-$$"
}

# A cluster nobody answers for: the config of ours with the monitor moved to
# port 1 on loopback, where nothing listens.
dead_conf=$tmp/dead.conf
sed 's/^mon_host = .*/mon_host = [v2:127.0.0.1:1]/' "$CEPH_CONF" >"$dead_conf"

# reference-tracker has no timeout flag, so its connection waits the full
# default bound (30 s): started here in the background, judged at the end.
"$rtool" -i admin -p "$pool" -c "$dead_conf" -r u -k a -o add \
	>"$tmp/dead.out" 2>"$tmp/dead.err" </dev/null &
dead_pid=$!

case_rt_unreachable() {
	wait "$dead_pid"
	rc=$?
	out=$(cat "$tmp/dead.out")
	err=$(cat "$tmp/dead.err")
	last_cmd="reference-tracker -c $dead_conf (in the background)"
	expect_rc 69
	expect_err_has "no monitor answered"
	[ -z "$out" ] || fail "printed '$out' on stdout while failing"
}

# ---- reftrack ------------------------------------------------------------

case_rtk_add_rm_show() {
	rtk -p "$pool" -N "$ns" add T a b c
	expect_rc 0
	expect_last "created=1 added=3 refcount=3"
	rtk -p "$pool" -N "$ns" add T c d
	expect_rc 0
	expect_last "created=0 added=1 refcount=4"
	rtk -p "$pool" -N "$ns" rm T a zz
	expect_rc 0
	expect_last "deleted=0 removed=1 masked=0 refcount=3"
	rtk -p "$pool" -N "$ns" rm --mask T b new
	expect_rc 0
	expect_last "deleted=0 removed=0 masked=2 refcount=2"
	expect_raw "$ns" T "xattr=00000001 data=00000002 omap=b:02,c:01,d:01,new:02"

	rtk -p "$pool" -N "$ns" show T
	expect_rc 0
	expect_out_line "refcount: 2"
	expect_out_line "mask b"
	expect_out_line "normal c"
	expect_out_line "normal d"
	expect_out_line "mask new"
	expect_no_out_line "normal a"
	expect_no_out_line "normal b"

	rtk -p "$pool" -N "$ns" show --json T
	expect_rc 0
	printf '%s' "$out" >"$tmp/show.json"
	/usr/bin/python3 - "$tmp/show.json" "$pool" "$ns" <<'EOF' ||
import json, sys
path, pool, ns = sys.argv[1:4]
with open(path) as f:
    j = json.load(f)
want_refs = [{"key": "b", "type": "mask"}, {"key": "c", "type": "normal"},
             {"key": "d", "type": "normal"}, {"key": "new", "type": "mask"}]
errors = []
def check(cond, what):
    if not cond:
        errors.append(what)
check(isinstance(j, dict), "not an object")
check(set(j) >= {"pool", "namespace", "tracker", "object_version",
                 "format_version", "refcount", "refs"}, "fields: %s" % sorted(j))
check(j.get("pool") == pool, "pool %r" % j.get("pool"))
check(j.get("namespace") == ns, "namespace %r" % j.get("namespace"))
check(j.get("tracker") == "T", "tracker %r" % j.get("tracker"))
v = j.get("object_version")
check(isinstance(v, int) and not isinstance(v, bool) and v > 0,
      "object_version %r" % v)
check(j.get("format_version") == 1, "format_version %r" % j.get("format_version"))
check(j.get("refcount") == 2, "refcount %r" % j.get("refcount"))
check(j.get("refs") == want_refs, "refs %r" % j.get("refs"))
if errors:
    print("show --json: " + "; ".join(errors), file=sys.stderr)
    sys.exit(1)
EOF
		fail "show --json output is wrong: $out"

	rtk -p "$pool" -N "$ns" rm T c d
	expect_rc 0
	expect_last "deleted=1 removed=2 masked=0 refcount=0"
	expect_raw "$ns" T absent
	rtk -p "$pool" -N "$ns" show T
	expect_rc 66
	expect_err_has "'T'"
	expect_err_has "not found"
	rtk -p "$pool" -N "$ns" show --json T
	expect_rc 66
	rtk -p "$pool" -N "$ns" rm T a
	expect_rc 0
	expect_last "deleted=1 removed=0 masked=0 refcount=0"
}

case_rtk_duplicates() {
	rtk -p "$pool" -N "$ns" add D a a
	expect_rc 0
	expect_last "created=1 added=1 refcount=1"
	expect_raw "$ns" D "xattr=00000001 data=00000001 omap=a:01"
	rtk -p "$pool" -N "$ns" rm --mask D a a
	expect_rc 0
	expect_last "deleted=1 removed=0 masked=1 refcount=0"
	expect_raw "$ns" D absent
}

# Connection options before or after the subcommand; -c and the long forms.
case_rtk_option_placement() {
	rtk add -p "$pool" -N "$ns" P a
	expect_rc 0
	expect_last "created=1 added=1 refcount=1"
	rtk -p "$pool" add -N "$ns" P b
	expect_rc 0
	expect_last "created=0 added=1 refcount=2"
	rtk --pool "$pool" --namespace "$ns" -c "$CEPH_CONF" --id admin show P
	expect_rc 0
	expect_out_line "refcount: 2"
	rtk show -p "$pool" -N "$ns" --json P
	expect_rc 0
	rtk rm --mask -p "$pool" -N "$ns" P a
	expect_rc 0
	expect_last "deleted=0 removed=0 masked=1 refcount=1"
	# No CEPH_CONF in the environment: -c alone finds the cluster.
	run env -u CEPH_CONF "$reftrack" -c "$CEPH_CONF" -p "$pool" -N "$ns" rm P b
	expect_rc 0
	expect_last "deleted=1 removed=1 masked=0 refcount=0"
	expect_raw "$ns" P absent
}

case_rtk_ceph_args() {
	CEPH_ARGS="--id admin" run "$reftrack" -p "$pool" -N "$ns" add C a
	expect_rc 0
	expect_last "created=1 added=1 refcount=1"
	# The read-only client, by flags and by CEPH_ARGS: can read, not write.
	rtk --id "$ro_id" --keyring "$ro_keyring" -p "$pool" -N "$ns" add C b
	expect_rc 77
	CEPH_ARGS="--id $ro_id --keyring $ro_keyring" run "$reftrack" \
		-p "$pool" -N "$ns" add C b
	expect_rc 77
	CEPH_ARGS="--id $ro_id --keyring $ro_keyring" run "$reftrack" \
		-p "$pool" -N "$ns" rm C a
	expect_rc 77
	CEPH_ARGS="--id $ro_id --keyring $ro_keyring" run "$reftrack" \
		-p "$pool" -N "$ns" show C
	expect_rc 0
	expect_out_line "normal a"
	expect_raw "$ns" C "xattr=00000001 data=00000001 omap=a:01"
	rtk -p "$pool" -N "$ns" rm C a
	expect_rc 0
}

case_rtk_usage() {
	rtk -p "$pool" -N "$ns"
	expect_rc 64
	rtk -p "$pool" -N "$ns" frobnicate X a
	expect_rc 64
	rtk -p "$pool" -N "$ns" add X
	expect_rc 64
	rtk -p "$pool" -N "$ns" rm X
	expect_rc 64
	rtk -p "$pool" -N "$ns" show
	expect_rc 64
	rtk -N "$ns" add X a
	expect_rc 64
	rtk -p "$pool" -N "$ns" add --no-such-flag X a
	expect_rc 64
	expect_raw "$ns" X absent
}

case_rtk_unreachable() {
	grep -q '^mon_host = \[v2:127.0.0.1:1\]$' "$dead_conf" ||
		fail "could not point $dead_conf at a dead monitor"
	rtk -c "$dead_conf" --op-timeout 2 -p "$pool" -N "$ns" add X a
	expect_rc 69
	expect_err_has "no monitor answered"
	rtk -c "$dead_conf" --op-timeout 2 -p "$pool" -N "$ns" show X
	expect_rc 69
}

case_rtk_corrupt() {
	craft "$ns" V2 00000002 00000001 k:01
	rtk -p "$pool" -N "$ns" show V2
	expect_rc 65
	expect_err_has V2
	expect_err_has "unknown tracker version 2"
	rtk -p "$pool" -N "$ns" add V2 z
	expect_rc 65
	rtk -p "$pool" -N "$ns" rm V2 k
	expect_rc 65
	rtk -p "$pool" -N "$ns" rm --mask V2 k
	expect_rc 65
	expect_raw "$ns" V2 "xattr=00000002 data=00000001 omap=k:01"
	# The draft tool's layout: 8 data bytes, empty omap values.
	craft "$ns" DRAFT 00000001 0000000100000002 a: b:
	rtk -p "$pool" -N "$ns" rm DRAFT a
	expect_rc 65
	expect_err_has DRAFT
	expect_raw "$ns" DRAFT "xattr=00000001 data=0000000100000002 omap=a:,b:"
}

# A tracker written with the rados tool alone is one reftrack understands.
case_rtk_reads_foreign_writer() {
	craft "$ns" F 00000001 00000002 a:01 b:02 c:01
	rtk -p "$pool" -N "$ns" show F
	expect_rc 0
	expect_out_line "refcount: 2"
	expect_out_line "normal a"
	expect_out_line "mask b"
	expect_out_line "normal c"
	rtk -p "$pool" -N "$ns" add F b d
	expect_rc 0
	expect_last "created=0 added=1 refcount=3"
	expect_raw "$ns" F "xattr=00000001 data=00000003 omap=a:01,b:02,c:01,d:01"
	rt -n "$ns" -r F -k a,c,d -o rem
	expect_rc 0
	expect_last deleted=1
	expect_raw "$ns" F absent
}

for tool in "$rtool" "$reftrack"; do
	if [ ! -x "$tool" ]; then
		echo "test_cli_tracker.sh: $tool is missing (make all first)" >&2
	fi
done

run_case case_rt_readme_example
run_case case_rt_add_rem
run_case case_rt_mask
run_case case_rt_duplicate_keys
run_case case_rt_verbose
run_case case_rt_usage
run_case case_rt_corrupt
run_case case_rt_read_only
run_case case_rt_missing_pool
run_case case_rtk_add_rm_show
run_case case_rtk_duplicates
run_case case_rtk_option_placement
run_case case_rtk_ceph_args
run_case case_rtk_usage
run_case case_rtk_unreachable
run_case case_rtk_corrupt
run_case case_rtk_reads_foreign_writer
run_case case_rt_unreachable

finish cli-tracker
