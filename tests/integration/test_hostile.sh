#!/bin/bash
# test_hostile.sh - trackers planted by another client with the rados tool
# (issue 9): every way a tracker can break the v1 format, plus the big, the
# odd-keyed and ceph-csi's empty key, against every operation that reads or
# changes a tracker: `show`, `add`, `rm`, `rm --mask`, and a batch entry
# (submit + replay).  For a broken tracker: the documented error naming it,
# exit 65 (replay: the entry failed, exit 1), and the object's bytes - data,
# every xattr, every omap key and value, "" included, and its mtime, all
# dumped with the rados tool - exactly as planted.  For a sound one: the
# right result.  Prints how many inputs x operations it tried.
#
# Run by tests/run-integration.sh (CEPH_CONF, RT_TEST_POOL, RT_BUILD,
# RT_SRC).  Everything lives in the namespace hostile-PID.
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require hostile CEPH_CONF RT_TEST_POOL RT_BUILD RT_SRC

pool=$RT_TEST_POOL
ns=hostile-$$
reftrack=$RT_BUILD/reftrack
planter=$RT_SRC/tests/integration/plant_omap.py
export CEPH_CONF
unset CEPH_ARGS
tl_tmpdir rt-hostile
tries=0

R() { rados_ns "$ns" "$@"; }

# plant OBJ XATTR_HEX DATA_HEX [KEY=VALHEX...]: the object, byte by byte
# ("-" as XATTR_HEX: no version xattr; "-" as DATA_HEX: no data write).
# A KEY may hold %0a-style escapes (printf %b after s/%/\\x/).
plant() {
	local obj=$1 x=$2 d=$3 kv k
	shift 3
	R rm "$obj" >/dev/null 2>&1
	if [ "$d" = - ]; then
		R create "$obj" || fail "plant: create $obj"
	else
		unhex "$d" >"$tmp/data"
		R put "$obj" "$tmp/data" || fail "plant: put $obj"
	fi
	if [ "$x" != - ]; then
		unhex "$x" | R setxattr "$obj" csi.ceph.com/rt-version ||
			fail "plant: setxattr $obj"
	fi
	for kv in "$@"; do
		k=$(printf '%b' "${kv%%=*}" | sed 's/%/\\x/g')
		k=$(printf '%b' "$k")
		unhex "${kv#*=}" >"$tmp/val"
		R setomapval "$obj" "$k" --input-file "$tmp/val" ||
			fail "plant: setomapval $obj $kv"
	done
}

# dump OBJ: every byte of the object as the rados tool sees it, and its
# mtime (a rewrite with the same bytes still shows).
dump() {
	local obj=$1 k
	{
		# stdout only: under load the rados tool may warn on stderr.
		R stat "$obj" 2>/dev/null || echo absent
		R get "$obj" - 2>/dev/null | hex
		echo
		R listxattr "$obj" 2>/dev/null | sort | while IFS= read -r k; do
			printf '%s=' "$k"
			R getxattr "$obj" "$k" 2>/dev/null | hex
			echo
		done
		R listomapvals "$obj" 2>/dev/null
		# The empty key, which no listing shows.
		R getomapval "$obj" "" "$tmp/ev" >/dev/null 2>&1 &&
			{ printf '""='; hex <"$tmp/ev"; echo; }
	} | md5sum
}

rtk() {
	run "$reftrack" -p "$pool" -N "$ns" "$@"
}

# fails_with OBJ WANT_RC NEEDLE CMD...: CMD exits WANT_RC and says NEEDLE
# and the tracker's name on stderr.
fails_with() {
	local obj=$1 want=$2 needle=$3
	shift 3
	tries=$((tries + 1))
	rtk "$@"
	expect_rc "$want"
	expect_err_has "$needle"
	expect_err_has "'$obj'"
}

# untouched OBJ WANT_RC NEEDLE CMD...: fails_with, and OBJ is as it was.
untouched() {
	local obj=$1 before
	before=$(dump "$obj")
	fails_with "$@"
	[ "$before" = "$(dump "$obj")" ] || fail "$obj changed by: $last_cmd"
}

# all_ops OBJ NEEDLE KEY: show, add, rm, rm --mask on a broken tracker, and
# the object exactly as planted after all of them (a write is never undone
# by a later one: each would show).
all_ops() {
	local obj=$1 needle=$2 key=$3 before
	before=$(dump "$obj")
	fails_with "$obj" 65 "$needle" show "$obj"
	fails_with "$obj" 65 "$needle" add "$obj" knew
	fails_with "$obj" 65 "$needle" rm "$obj" "$key"
	fails_with "$obj" 65 "$needle" rm --mask "$obj" "$key"
	# A request that would write nothing checks the whole tracker too.
	fails_with "$obj" 65 "$needle" rm "$obj" kabsent
	[ "$before" = "$(dump "$obj")" ] || fail "$obj changed by show/add/rm"
	batch_entry "$obj" "$needle" "$key"
}

# Batch entries, one per broken tracker, replayed together at the end:
# batch_entry OBJ NEEDLE KEY queues a removal of KEY.
batch_objs=()
batch_needles=()
batch_entry() {
	batch_objs+=("$1")
	batch_needles+=("$2")
	printf '  - tracker: "%s"\n    remove: ["%s"]\n' "$1" "$3" >>"$tmp/reqs"
	tries=$((tries + 1))
}

: >"$tmp/reqs"

# ---- the broken ones ----------------------------------------------------

case_broken_layouts() {
	plant datasize 00000001 000001 k1=01
	all_ops datasize "data is 3 bytes" k1
	plant nodata 00000001 - k1=01
	all_ops nodata "data is 0 bytes" k1
	plant version2 00000002 00000001 k1=01
	all_ops version2 "unknown tracker version 2" k1
	plant verlen 000001 00000001 k1=01
	all_ops verlen "xattr is 3 bytes" k1
	plant noxattr - 00000001 k1=01
	all_ops noxattr "no csi.ceph.com/rt-version xattr" k1
	plant draft 00000001 0000000700000001 k1=01
	all_ops draft "foreign layout" k1
}

case_bad_type_bytes() {
	# Named by the request, and not named (the request's key is fine).
	plant badnamed 00000001 00000001 k1=03
	all_ops badnamed "key 'k1': omap value 0x03" k1
	plant badunnamed 00000001 00000001 k1=01 k2=03
	all_ops badunnamed "key 'k2': omap value 0x03" k1
	plant longval 00000001 00000001 k1=01 k2=0101
	all_ops longval "key 'k2': omap value is 2 bytes" k1
	# The draft tool's empty values, on a key the request does not name.
	plant draftval 00000001 00000001 k1=01 k2=
	all_ops draftval "key 'k2': empty omap value" k1
}

case_bad_counts() {
	plant under 00000001 00000001 k1=01 k2=01 k3=01
	all_ops under "refcount 1 but 3 normal keys" k1
	plant over 00000001 00000005 k1=01 k2=02
	all_ops over "refcount 5 but 1 normal keys" k1
	plant zero 00000001 00000000 k1=01
	all_ops zero "refcount 0 but 1 normal keys" k1
	# An under-count that an empty key would not explain either.
	plant underempty 00000001 00000001 =01 k1=01
	all_ops underempty "refcount 1 but 2 normal keys" k1
}

case_big_broken() {
	# 20,000 keys; the flaw sits far behind the first read's listing.
	python3 "$planter" "$CEPH_CONF" "$pool" "$ns" bigbad 20000 20000 \
		19998 07 || fail "planting bigbad"
	all_ops bigbad "key 'k19998': omap value 0x07" k00001
	python3 "$planter" "$CEPH_CONF" "$pool" "$ns" bigunder 20000 19999 ||
		fail "planting bigunder"
	all_ops bigunder "refcount 19999 but 20000 normal keys" k00001
}

# ---- the sound ones: the right result -----------------------------------

case_big_sound() {
	local t0 t1
	python3 "$planter" "$CEPH_CONF" "$pool" "$ns" big 20000 20000 ||
		fail "planting big"
	tries=$((tries + 5))
	rtk show big
	expect_rc 0
	[ "$(printf '%s\n' "$out" | grep -c '^normal k')" = 20000 ] ||
		fail "show big: not 20000 normal keys"
	t0=$(date +%s%N)
	rtk add big knew
	t1=$(date +%s%N)
	expect_rc 0
	[ "$out" = "created=0 added=1 refcount=20001" ] || fail "add big: $out"
	echo "  add on a 20,000-key tracker: $(((t1 - t0) / 1000000)) ms"
	rtk rm big knew
	expect_rc 0
	[ "$out" = "deleted=0 removed=1 masked=0 refcount=20000" ] ||
		fail "rm big: $out"
	rtk rm --mask big k00000
	expect_rc 0
	[ "$out" = "deleted=0 removed=0 masked=1 refcount=19999" ] ||
		fail "rm --mask big: $out"
	printf '  - tracker: big\n    remove: [k00001]\n' >>"$tmp/reqs"
	batch_objs+=(big)
	batch_needles+=(-)
}

case_odd_keys() {
	local k8
	k8=$(head -c 8192 /dev/zero | tr '\0' k)
	# A newline, an escape sequence, a backslash, a quote, binary bytes,
	# an 8 KB key (beyond RT_KEY_MAX: reftrack cannot name it, but counts
	# and shows it).
	plant odd 00000001 00000006 'a%0ab=01' 'x%1b[2Jy=01' 'back%5cslash=01' \
		'q%22q=02' '%01%7f%ff=01' "$k8=01" plain=01
	tries=$((tries + 5))
	rtk show odd
	expect_rc 0
	printf '%s\n' "$out" | grep -qxF 'normal a\nb' ||
		fail "show odd: newline key not escaped: $out"
	printf '%s\n' "$out" | grep -qxF 'normal x\x1b[2Jy' ||
		fail "show odd: ESC not escaped"
	printf '%s\n' "$out" | grep -qxF 'normal back\\slash' ||
		fail "show odd: backslash not escaped"
	printf '%s\n' "$out" | grep -qxF 'mask q\"q' ||
		fail "show odd: quote not escaped"
	printf '%s\n' "$out" | grep -qxF 'normal \x01\x7f\xff' ||
		fail "show odd: binary key not escaped"
	[ "$(printf '%s\n' "$out" | wc -l)" -eq 14 ] ||
		fail "show odd: $(printf '%s\n' "$out" | wc -l) lines, want 14"
	! printf '%s' "$out" | LC_ALL=C grep -q '[[:cntrl:]]' ||
		fail "show odd: a control byte reached the output"
	rtk show --json odd
	expect_rc 0
	printf '%s' "$out" | python3 -c '
import json, sys
keys = {r["key"] for r in json.load(sys.stdin)["refs"]}
assert "a\nb" in keys and "x\x1b[2Jy" in keys, keys' ||
		fail "show --json odd: keys not round-tripped"
	rtk rm odd "$(printf 'a\nb')"
	expect_rc 0
	expect_last "deleted=0 removed=1 masked=0 refcount=5"
	rtk add odd "$(printf 'new\tkey')"
	expect_rc 0
	expect_last "created=0 added=1 refcount=6"
	rtk rm --mask odd "$(printf 'x\033[2Jy')"
	expect_rc 0
	expect_last "deleted=0 removed=0 masked=1 refcount=5"
	# Error messages name a key escaped too.
	plant oddbad 00000001 00000001 'a%0ab=05'
	untouched oddbad 65 "key 'a\\x0ab'" add oddbad k
	printf '%s' "$err" | LC_ALL=C grep -q "$(printf '\033')" &&
		fail "an error message carried a raw control byte"
	tries=$((tries + 1))
	printf '  - tracker: odd\n    remove: [plain]\n' >>"$tmp/reqs"
	batch_objs+=(odd)
	batch_needles+=(-)
}

expect_last() {
	local got
	got=$(printf '%s\n' "$out" | tail -n 1)
	[ "$got" = "$1" ] || fail "last stdout line is '$got', want '$1': $last_cmd"
}

# ceph-csi's empty key: count 2 including "", omap "" = 01 and k1 = 01.
case_empty_key() {
	plant csi 00000001 00000002 =01 k1=01
	tries=$((tries + 4))
	rtk show csi
	expect_rc 0
	printf '%s\n' "$out" | grep -qxF 'normal ""' ||
		fail "show csi: no empty key: $out"
	printf '%s\n' "$out" | grep -qxF 'refs: 2' || fail "show csi: $out"
	rtk rm csi k1
	expect_rc 0
	expect_last "deleted=0 removed=1 masked=0 refcount=1"
	rtk rm --mask csi kabsent
	expect_rc 0
	expect_last "deleted=0 removed=0 masked=1 refcount=1"
	rtk rm csi ""
	expect_rc 0
	expect_last "deleted=1 removed=1 masked=0 refcount=0"
	R stat csi >/dev/null 2>&1 && fail "csi still exists"
	# The replayer reads it the same way: the entry leaves "" alone.
	plant csib 00000001 00000002 =01 k1=01
	printf '  - tracker: csib\n    remove: [k1]\n' >>"$tmp/reqs"
	batch_objs+=(csib)
	batch_needles+=(-)
	tries=$((tries + 1))
}

# ---- the batch: one entry per tracker, one replay -----------------------

case_batch() {
	local i seq before=() obj
	{
		printf 'version: 1\ndefaults: {pool: %s, namespace: %s}\n' \
			"$pool" "$ns"
		printf 'requests:\n'
		cat "$tmp/reqs"
	} >"$tmp/batch.yaml"
	for obj in "${batch_objs[@]}"; do
		before+=("$(dump "$obj")")
	done
	run "$reftrack" submit --journal "$tmp/j" "$tmp/batch.yaml"
	expect_rc 0
	run "$reftrack" replay --journal "$tmp/j"
	# Failed entries need an operator: exit 1.
	expect_rc 1
	for i in "${!batch_objs[@]}"; do
		obj=${batch_objs[$i]}
		seq=$((i + 1))
		run "$reftrack" show-entry --journal "$tmp/j" --json "$seq"
		if [ "${batch_needles[$i]}" = - ]; then
			printf '%s' "$out" | grep -q '"state": *"done"' ||
				fail "entry $seq ($obj) not done: $out"
			continue
		fi
		printf '%s' "$out" | grep -q '"state": *"failed"' ||
			fail "entry $seq ($obj) not failed: $out"
		printf '%s' "$out" | grep -qF "${batch_needles[$i]}" ||
			fail "entry $seq ($obj): error lacks '${batch_needles[$i]}': $out"
		[ "$(dump "$obj")" = "${before[$i]}" ] ||
			fail "$obj changed by the replay"
	done
	rtk show big
	printf '%s\n' "$out" | grep -qxF 'refcount: 19998' ||
		fail "big after the batch: $(printf '%s\n' "$out" | sed -n 6p)"
	rtk show csib
	expect_rc 0
	printf '%s\n' "$out" | grep -qxF 'normal ""' || fail "csib: $out"
	printf '%s\n' "$out" | grep -qxF 'refcount: 1' || fail "csib: $out"
}

tl_timed=1
run_case case_broken_layouts
run_case case_bad_type_bytes
run_case case_bad_counts
run_case case_big_broken
run_case case_big_sound
run_case case_odd_keys
run_case case_empty_key
run_case case_batch
echo "test_hostile.sh: $tries bad or odd inputs x operations tried"
finish hostile
