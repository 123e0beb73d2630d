#!/bin/bash
# test_repair.sh - `reftrack repair TRACKER --recount` (issue 14) on trackers
# planted by another client (plant_omap.py through librados, the rados tool
# for the odd bytes):
#  - under- and over-counted trackers, one whose normal keys are all gone,
#    one whose only disagreement is the empty key "" and one of 1,500 keys
#    (two pages) are fixed with --yes: the data is exactly the 4 bytes
#    ceph-csi writes (the count, big-endian), and nothing else changed;
#  - without --yes nothing changes (exit 1, object version and bytes as
#    before); a sound tracker is left alone (exit 0);
#  - a writer between the dry run and the write (made deterministic: the
#    test writes after the dry run, then repairs with the version the dry
#    run printed) is refused with 75 and nothing is written; so is one
#    between a run's own read and its write (the run stops itself there,
#    REFTRACK_FAILPOINT=recount-before-write, until the test has written);
#  - every other flaw (bad type byte, a NUL in a key, unknown version, the
#    draft layout, wrong data size, no version xattr) is refused with 65,
#    even when the count is wrong too, naming the
#    object and giving the rados commands to inspect it, its bytes as
#    planted; no such tracker is 66;
#  - --format json matches schemas/repair.schema.json for each result.
#
# Run by tests/run-integration.sh (CEPH_CONF, RT_TEST_POOL, RT_BUILD,
# RT_SRC).  Everything lives in the namespace repair-PID.
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require repair CEPH_CONF RT_TEST_POOL RT_BUILD RT_SRC

pool=$RT_TEST_POOL
ns=repair-$$
reftrack=$RT_BUILD/reftrack
planter=$RT_SRC/tests/integration/plant_omap.py
py=/usr/bin/python3
export CEPH_CONF
unset CEPH_ARGS
tl_tmpdir rt-repair

R() { rados_ns "$ns" "$@"; }

# plant OBJ NKEYS COUNT [BAD_INDEX BAD_HEX]: keys k00000.. = 01 (BAD_INDEX's
# value is BAD_HEX), data = COUNT, version xattr 1 (plant_omap.py).
plant() {
	"$py" "$planter" "$CEPH_CONF" "$pool" "$ns" "$@" ||
		fail "planting $*"
}

# meta OBJ: the parts a recount may not touch: the version xattr and the
# omap, "" included.
meta() {
	R getxattr "$1" csi.ceph.com/rt-version 2>/dev/null | hex
	echo
	R listomapvals "$1" 2>/dev/null
	R getomapval "$1" "" "$tmp/ev" >/dev/null 2>&1 &&
		{ printf '""='; hex <"$tmp/ev"; }
}

# snap OBJ: the whole object as the rados tool sees it, mtime included (a
# rewrite of the same bytes still shows), for "nothing written".
snap() {
	{
		R stat "$1" 2>/dev/null || echo absent
		R get "$1" - 2>/dev/null | hex
		echo
		meta "$1"
	} | md5sum
}

data_hex() { R get "$1" - 2>/dev/null | hex; }

rtk() { run "$reftrack" -p "$pool" -N "$ns" "$@"; }

expect_out_has() {
	case $out in
	*"$1"*) ;;
	*) fail "stdout does not mention '$1': $last_cmd
  stdout: $out" ;;
	esac
}

# The object version a plain repair run printed ("before: ..., object
# version V").
printed_version() {
	printf '%s\n' "$out" | sed -n 's/^before: .*object version \([0-9]*\)$/\1/p'
}

# fixes OBJ WANT_HEX BEFORE_LINE: a dry run changes nothing and exits 1,
# --yes writes WANT_HEX as the data and nothing else, and a second --yes
# finds nothing to do.
fixes() {
	local obj=$1 want=$2 before_line=$3 b k v
	b=$(snap "$obj")
	k=$(meta "$obj" | md5sum)
	rtk repair "$obj" --recount
	expect_rc 1
	expect_err_has "dry run, nothing written"
	case $out in *"$before_line"*) ;; *) fail "$obj: dry run does not say '$before_line': $out" ;; esac
	v=$(printed_version)
	[ -n "$v" ] || fail "$obj: no object version printed: $out"
	[ "$(snap "$obj")" = "$b" ] || fail "$obj: changed by a dry run"
	rtk repair "$obj" --recount --yes
	expect_rc 0
	case $out in *"$before_line"*) ;; *) fail "$obj: --yes does not say '$before_line': $out" ;; esac
	printf '%s\n' "$out" | grep -q "^after: refcount $((16#$want)), .*object version $((v + 1))$" ||
		fail "$obj: no after line with refcount $((16#$want)) and version $((v + 1)): $out"
	[ "$(data_hex "$obj")" = "$want" ] ||
		fail "$obj: data is $(data_hex "$obj"), want $want"
	[ "$(meta "$obj" | md5sum)" = "$k" ] || fail "$obj: keys or xattr changed"
	b=$(snap "$obj")
	rtk repair "$obj" --recount --yes
	expect_rc 0
	expect_out_has "nothing to repair"
	[ "$(snap "$obj")" = "$b" ] || fail "$obj: a sound tracker was written"
	# And the tracker is sound for everyone else now.
	rtk show "$obj"
	expect_rc 0
}

case_counts() {
	plant under 3 1
	fixes under 00000003 "before: refcount 1, normal keys 3, mask keys 0"
	# k00001 is a mask: one normal key.
	plant over 2 5 1 02
	fixes over 00000001 "before: refcount 5, normal keys 1, mask keys 1"
	# No normal key left: count 0, the object and its mask kept.
	plant nonormal 1 2 0 02
	fixes nonormal 00000000 "before: refcount 2, normal keys 0, mask keys 1"
	R stat nonormal >/dev/null 2>&1 || fail "nonormal was deleted"
	# The empty key, which no listing shows, is counted.
	plant withempty 1 1
	printf '\001' >"$tmp/v01"
	R setomapval withempty "" --input-file "$tmp/v01" || fail "setting \"\""
	fixes withempty 00000002 "before: refcount 1, normal keys 2, mask keys 0"
	# Two pages of keys.
	plant big 1500 1000
	fixes big 000005dc "before: refcount 1000, normal keys 1500, mask keys 0"
}

case_sound() {
	local b
	plant sound 2 2
	b=$(snap sound)
	rtk repair sound --recount
	expect_rc 0
	expect_out_has "nothing to repair"
	rtk repair sound --recount --yes
	expect_rc 0
	[ "$(snap sound)" = "$b" ] || fail "sound: written"
	rtk repair nosuch --recount --yes
	expect_rc 66
	expect_err_has "'nosuch': tracker not found"
	R stat nosuch >/dev/null 2>&1 && fail "nosuch was created"
	rtk repair sound
	expect_rc 64
	expect_err_has "--recount"
}

# A writer between the dry run and the write: the write is refused.
case_concurrent() {
	local v b
	plant raced 2 1
	rtk repair raced --recount
	expect_rc 1
	v=$(printed_version)
	[ -n "$v" ] || { fail "no version printed: $out"; return; }
	# The other writer: a key and the count, as a client would.
	printf '\001' >"$tmp/v01"
	R setomapval raced k9 --input-file "$tmp/v01" || fail "other writer"
	b=$(snap raced)
	rtk repair raced --recount --yes --expect-version "$v"
	expect_rc 75
	expect_err_has "not $v as expected"
	expect_err_has "nothing written"
	[ "$(snap raced)" = "$b" ] || fail "raced: written despite the change"
	[ "$(data_hex raced)" = 00000001 ] || fail "raced: data changed"
	# Read again, it is repaired with the other writer's key counted.
	rtk repair raced --recount
	expect_rc 1
	v=$(printed_version)
	rtk repair raced --recount --yes --expect-version "$v"
	expect_rc 0
	[ "$(data_hex raced)" = 00000003 ] ||
		fail "raced: data $(data_hex raced), want 00000003"
}

# A writer between the read and the write of one run: the write asserts
# the version read, so the OSD refuses it.  The run stops itself (SIGSTOP,
# REFTRACK_FAILPOINT) after its read; the test waits until it is stopped,
# writes, and resumes it: no timing involved.
case_guard() {
	local b
	plant guarded 2 1
	REFTRACK_FAILPOINT=recount-before-write "$tl_hooks/reftrack" -p "$pool" \
		-N "$ns" repair guarded --recount --yes >"$tmp/g.out" 2>"$tmp/g.err" &
	tl_stopped=$!
	tl_wait_stopped "$tl_stopped" || return
	printf '\001' >"$tmp/v01"
	R setomapval guarded k9 --input-file "$tmp/v01" || fail "other writer"
	b=$(snap guarded)
	kill -CONT "$tl_stopped"
	wait "$tl_stopped"
	rc=$?
	tl_stopped=
	[ "$rc" -eq 75 ] || fail "exit $rc, want 75: $(cat "$tmp/g.err")"
	grep -q "changed after it was read at object version" "$tmp/g.err" ||
		fail "no conflict message: $(cat "$tmp/g.err")"
	[ "$(snap guarded)" = "$b" ] || fail "guarded: written over the change"
	[ "$(data_hex guarded)" = 00000001 ] || fail "guarded: data changed"
}

# refused OBJ NEEDLE: 65, the flaw and the object named, the rados
# commands given, the object as planted.
refused() {
	local obj=$1 needle=$2 b flag
	b=$(snap "$obj")
	for flag in "" --yes; do
		rtk repair "$obj" --recount $flag
		expect_rc 65
		expect_err_has "tracker '$obj': "
		expect_err_has "$needle"
		expect_err_has "rados -p $pool -N $ns listomapvals $obj"
		expect_err_has "rados -p $pool -N $ns getxattr $obj csi.ceph.com/rt-version"
		expect_err_has "rados -p $pool -N $ns stat $obj"
		expect_err_has "rados -p $pool -N $ns get $obj -"
		[ -z "$out" ] || fail "$obj: output on stdout: $out"
	done
	[ "$(snap "$obj")" = "$b" ] || fail "$obj: changed by repair"
}

case_other_flaws() {
	plant badtype 3 1 1 03
	refused badtype "key 'k00001': omap value 0x03"
	# A NUL byte in a key (k\0x), on a tracker whose count is wrong too.
	plant nulkey 3 2 1 01 6b0078
	refused nulkey "key 'k\\x00x' holds a NUL byte"
	plant draftval 2 1 1 ""
	refused draftval "key 'k00001': empty omap value"
	plant version2 1 3
	printf '\000\000\000\002' >"$tmp/v2"
	R setxattr version2 csi.ceph.com/rt-version <"$tmp/v2" || fail "v2"
	refused version2 "unknown tracker version 2"
	plant draft 1 3
	printf '\000\000\000\007\000\000\000\003' >"$tmp/d8"
	R put draft "$tmp/d8" || fail "draft data"
	refused draft "foreign layout"
	plant short 1 3
	printf '\000\001' >"$tmp/d2"
	R put short "$tmp/d2" || fail "short data"
	refused short "data is 2 bytes"
	plant noxattr 1 3
	R rmxattr noxattr csi.ceph.com/rt-version || fail "rmxattr"
	refused noxattr "no csi.ceph.com/rt-version xattr"
}

case_json() {
	local f
	plant jdry 2 1
	for f in json json-pretty; do
		rtk repair jdry --recount -f "$f"
		expect_rc 1
		printf '%s\n' "$out" >"$tmp/dry.$f"
	done
	"$py" "$RT_SRC/tests/check_json.py" "$RT_SRC/schemas/repair.schema.json" \
		"$tmp/dry.json" "$tmp/dry.json-pretty" || fail "dry run: schema"
	rtk repair jdry --recount --yes --json
	expect_rc 0
	printf '%s\n' "$out" >"$tmp/fixed.json"
	rtk repair jdry --recount --json
	expect_rc 0
	printf '%s\n' "$out" >"$tmp/sound.json"
	for f in fixed sound; do
		"$py" "$RT_SRC/tests/check_json.py" \
			"$RT_SRC/schemas/repair.schema.json" "$tmp/$f.json" ||
			fail "$f: schema"
	done
	"$py" - "$tmp/dry.json" "$tmp/fixed.json" "$tmp/sound.json" <<'PY' ||
import json, sys
dry, fixed, sound = (json.load(open(f)) for f in sys.argv[1:])
assert dry["result"] == "dry_run" and dry["after"]["object_version"] is None, dry
assert dry["before"]["refcount"] == 1 and dry["after"]["refcount"] == 2, dry
v = dry["before"]["object_version"]
assert fixed["result"] == "repaired" and fixed["before"]["object_version"] == v, fixed
assert fixed["after"] == {"refcount": 2, "normal_keys": 2, "mask_keys": 0,
                          "object_version": v + 1}, fixed
assert sound["result"] == "consistent" and sound["after"] == sound["before"], sound
PY
		fail "json: fields"
	plant jbad 1 1 0 03
	rtk repair jbad --recount --json
	expect_rc 65
	printf '%s\n' "$out" >"$tmp/err.json"
	"$py" "$RT_SRC/tests/check_json.py" "$RT_SRC/schemas/error.schema.json" \
		"$tmp/err.json" || fail "json error object: schema"
}

run_case case_counts
run_case case_sound
run_case case_concurrent
run_case case_guard
run_case case_other_flaws
run_case case_json

finish repair
