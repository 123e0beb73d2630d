#!/bin/bash
# test_compat.sh - the v1 tracker format against a second, independent
# implementation of it, built on the rados command-line tool alone (run by
# tests/run-integration.sh, which exports CEPH_CONF, RT_TEST_POOL, RT_BUILD).
#
# The second implementation ("rf_*" below) shares no code with reftrack:
# it reads a tracker with `rados get`, `getxattr` and `listomapvals`,
# insists on every rule of the format (version xattr exactly 00000001, data
# exactly 4 bytes, omap values exactly 01 or 02, count equal to the number
# of normal keys), and changes one with `put`, `setxattr`, `setomapval`,
# `rmomapkey` and `rm` following the same add/remove rules.  It is not
# safe against concurrent writers and need not be: the steps here run one
# at a time.
#
# Each step is made by one implementation, then the tracker is read back by
# both and compared with a model of what the steps imply, so every object
# reftrack writes is accepted by the other implementation and every object
# the other writes is read and changed correctly by reftrack.  A directed
# prologue makes sure the interesting hand-overs happen (one creates, the
# other masks, adds over the mask, deletes with masks left over); seeded
# random steps follow (RT_COMPAT_SEED to repeat, RT_COMPAT_STEPS to
# lengthen).  Keys include one with a space and one in Cyrillic, so the
# bytes of a key must survive both ways.
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require compat CEPH_CONF RT_TEST_POOL RT_BUILD

pool=$RT_TEST_POOL
reftrack=$RT_BUILD/reftrack
rtool=$RT_BUILD/reference-tracker
export CEPH_CONF
unset CEPH_ARGS
export LC_ALL=C

tl_tmpdir rt-compat

tohex() {
	printf '%s' "$1" | hex
}

# ---- the second implementation ------------------------------------------

# listomapvals prints "KEY" (or "key (N bytes):" and a hex dump when the key
# is not printable), then "value (N bytes) :" and a hex dump, then a blank
# line.  This turns that into "KEYHEX VALHEX" lines; keys go to hex so that
# no byte of them is lost or reinterpreted on the way.
rf_parse_omap() {
	awk '
	BEGIN { for (i = 32; i < 127; i++) ord[sprintf("%c", i)] = sprintf("%02x", i) }
	function hexdump_bytes(line,   n, f, i, out) {
		n = split(line, f, " ")
		out = ""
		for (i = 2; i <= n; i++) {
			if (f[i] !~ /^[0-9a-f][0-9a-f]$/) break
			out = out f[i]
		}
		return out
	}
	function text_hex(s,   i, out) {
		out = ""
		for (i = 1; i <= length(s); i++) out = out ord[substr(s, i, 1)]
		return out
	}
	state == 0 && /^key \([0-9]+ bytes\):$/ { key = ""; state = 1; next }
	state == 0 { key = text_hex($0); state = 2; next }
	state == 1 && /^value \([0-9]+ bytes\) :$/ { val = ""; state = 3; next }
	state == 1 { key = key hexdump_bytes($0); next }
	state == 2 && /^value \([0-9]+ bytes\) :$/ { val = ""; state = 3; next }
	state == 2 { print "parse error near: " $0; exit 1 }
	state == 3 && $0 == "" { print key, (val == "" ? "-" : val); state = 0; next }
	state == 3 { val = val hexdump_bytes($0); next }
	END { if (state == 3) print key, (val == "" ? "-" : val) }
	'
}

# rf_load NS OBJ: reads a tracker, checking every rule of the format.  Sets
# rf_state (absent, ok, or "corrupt: WHY"), rf_count and rf_type[KEYHEX]
# (01 or 02).
declare -A rf_type
rf_load() {
	local n=$1 obj=$2 x d k v normals=0
	rf_type=()
	rf_count=0
	if ! rados_ns "$n" get "$obj" "$tmp/rf.data" 2>"$tmp/rf.err"; then
		if grep -q 'No such file' "$tmp/rf.err"; then
			rf_state=absent
		else
			rf_state="error: $(cat "$tmp/rf.err")"
		fi
		return
	fi
	x=$(rados_ns "$n" getxattr "$obj" csi.ceph.com/rt-version 2>/dev/null | hex)
	if [ "$x" != 00000001 ]; then
		rf_state="corrupt: version xattr '$x'"
		return
	fi
	d=$(hex <"$tmp/rf.data")
	if [ "${#d}" -ne 8 ]; then
		rf_state="corrupt: data is $((${#d} / 2)) bytes"
		return
	fi
	rf_count=$((16#$d))
	if ! rados_ns "$n" listomapvals "$obj" >"$tmp/rf.omap" 2>"$tmp/rf.err" ||
		! rf_parse_omap <"$tmp/rf.omap" >"$tmp/rf.kv"; then
		rf_state="error: listomapvals: $(cat "$tmp/rf.err" "$tmp/rf.kv")"
		return
	fi
	while read -r k v; do
		case $v in
		01) normals=$((normals + 1)) ;;
		02) ;;
		*)
			rf_state="corrupt: key $k has value '$v'"
			return
			;;
		esac
		rf_type[$k]=$v
	done <"$tmp/rf.kv"
	if [ "$normals" -ne "$rf_count" ]; then
		rf_state="corrupt: count $rf_count, $normals normal keys"
		return
	fi
	rf_state=ok
}

# rf_canon: the loaded tracker as one line, keys sorted by their bytes.
rf_canon() {
	local k
	case $rf_state in
	ok) ;;
	*)
		echo "$rf_state"
		return
		;;
	esac
	printf 'count=%d' "$rf_count"
	for k in "${!rf_type[@]}"; do
		printf '%s:%s\n' "$k" "${rf_type[$k]}"
	done | sort | paste -sd, - | sed 's/^/ refs=/'
	[ "${#rf_type[@]}" -eq 0 ] && printf ' refs='
	echo
}

rf_put_count() {
	local n=$1 obj=$2 c=$3
	unhex "$(printf '%08x' "$c")" >"$tmp/rf.put"
	rados_ns "$n" put "$obj" "$tmp/rf.put"
}

rf_set_type() {
	local n=$1 obj=$2 khex=$3 t=$4
	unhex "$t" >"$tmp/rf.val"
	rados_ns "$n" setomapval "$obj" "$(unhex "$khex")" --input-file "$tmp/rf.val"
}

# rf_add NS OBJ KEY...: prints created=0|1, as reference-tracker does.
rf_add() {
	local n=$1 obj=$2 k h changed=0
	shift 2
	rf_load "$n" "$obj"
	case $rf_state in
	absent)
		for k in "$@"; do
			rf_type[$(tohex "$k")]=01
		done
		rf_put_count "$n" "$obj" "${#rf_type[@]}" || return 1
		unhex 00000001 | rados_ns "$n" setxattr "$obj" csi.ceph.com/rt-version ||
			return 1
		for h in "${!rf_type[@]}"; do
			rf_set_type "$n" "$obj" "$h" 01 || return 1
		done
		echo created=1
		return 0
		;;
	ok) ;;
	*)
		echo "rf_add: $obj: $rf_state" >&2
		return 1
		;;
	esac
	for k in "$@"; do
		h=$(tohex "$k")
		[ -n "${rf_type[$h]:-}" ] && continue
		rf_set_type "$n" "$obj" "$h" 01 || return 1
		rf_type[$h]=01
		rf_count=$((rf_count + 1))
		changed=1
	done
	if [ "$changed" -eq 1 ]; then
		rf_put_count "$n" "$obj" "$rf_count" || return 1
	fi
	echo created=0
}

# rf_rm NS OBJ normal|mask KEY...: prints deleted=0|1.
rf_rm() {
	local n=$1 obj=$2 t=$3 k h cur count op i
	local -a ops=()
	shift 3
	rf_load "$n" "$obj"
	case $rf_state in
	absent)
		echo deleted=1
		return 0
		;;
	ok) ;;
	*)
		echo "rf_rm: $obj: $rf_state" >&2
		return 1
		;;
	esac
	count=$rf_count
	for k in "$@"; do
		h=$(tohex "$k")
		cur=${rf_type[$h]:-}
		case $t/$cur in
		normal/01) ops+=("rm $h"); count=$((count - 1)) ;;
		normal/02) ops+=("rm $h") ;;
		mask/01) ops+=("mask $h"); count=$((count - 1)) ;;
		mask/) ops+=("mask $h") ;;
		*) continue ;;
		esac
		# A key named twice acts once.
		if [ "$t" = mask ]; then
			rf_type[$h]=02
		else
			unset "rf_type[$h]"
		fi
	done
	if [ "$count" -lt 0 ]; then
		echo "rf_rm: $obj: count would go below 0" >&2
		return 1
	fi
	if [ "$count" -eq 0 ]; then
		rados_ns "$n" rm "$obj" || return 1
		echo deleted=1
		return 0
	fi
	for ((i = 0; i < ${#ops[@]}; i++)); do
		op=${ops[$i]%% *}
		h=${ops[$i]#* }
		if [ "$op" = rm ]; then
			rados_ns "$n" rmomapkey "$obj" "$(unhex "$h")" || return 1
		else
			rf_set_type "$n" "$obj" "$h" 02 || return 1
		fi
	done
	if [ "$count" -ne "$rf_count" ]; then
		rf_put_count "$n" "$obj" "$count" || return 1
	fi
	echo deleted=0
}

# ---- reftrack's view, in the same canonical form --------------------------

# The bytes of a key as `reftrack show` prints it, escaped (reftrack(1)):
# \" for a quote, then printf's %b for \\ \n \r \t and \xHH.
unescape_hex() {
	local k=${1//\\\"/\"}
	printf '%b' "$k" | hex
}

# rt_canon NS OBJ: `reftrack show`, keys as hex of their bytes.  Its
# reference lines are "TYPE KEY", the key escaped, up to the newline.
rt_canon() {
	local n=$1 obj=$2 rc line on=0 count=
	local -a refs=()
	"$reftrack" -p "$pool" -N "$n" show "$obj" >"$tmp/rt.out" 2>"$tmp/rt.err"
	rc=$?
	if [ "$rc" -eq 66 ]; then
		echo absent
		return
	fi
	if [ "$rc" -ne 0 ]; then
		echo "reftrack show exit $rc: $(cat "$tmp/rt.err")"
		return
	fi
	while IFS= read -r line; do
		if [ "$on" -eq 1 ]; then
			case ${line%% *} in
			normal) refs+=("$(unescape_hex "${line#* }"):01") ;;
			mask) refs+=("$(unescape_hex "${line#* }"):02") ;;
			*) refs+=("?$line") ;;
			esac
			continue
		fi
		case $line in
		"refcount: "*) count=${line#refcount: } ;;
		"refs: "*) on=1 ;;
		esac
	done <"$tmp/rt.out"
	printf 'count=%s refs=' "$count"
	[ "${#refs[@]}" -gt 0 ] && printf '%s\n' "${refs[@]}" | sort | paste -sd, - | tr -d '\n'
	echo
}

# ---- the model --------------------------------------------------------------

# model_* keep, per tracker ("NS/OBJ"), KEYHEX -> 01|02 in model[TRACKER
# KEYHEX]; a tracker with no entry is absent.
declare -A model
model_keys() {
	local id=$1 mk
	for mk in "${!model[@]}"; do
		[ "${mk%% *}" = "$id" ] && echo "${mk#* }"
	done
}

model_canon() {
	local id=$1 h c=0 refs=""
	local -a keys
	mapfile -t keys < <(model_keys "$id" | sort)
	if [ "${#keys[@]}" -eq 0 ]; then
		echo absent
		return
	fi
	for h in "${keys[@]}"; do
		[ "${model[$id $h]}" = 01 ] && c=$((c + 1))
		refs="$refs${refs:+,}$h:${model[$id $h]}"
	done
	echo "count=$c refs=$refs"
}

model_count() {
	local id=$1 h c=0
	for h in $(model_keys "$id"); do
		[ "${model[$id $h]}" = 01 ] && c=$((c + 1))
	done
	echo "$c"
}

# model_add ID KEY...: sets model_said to the created=0|1 it implies (not
# printed: the model must not change in a subshell).
model_add() {
	local id=$1 k h created=0
	shift
	[ -z "$(model_keys "$id")" ] && created=1
	for k in "$@"; do
		h=$(tohex "$k")
		[ -n "${model[$id $h]:-}" ] || model[$id $h]=01
	done
	model_said="created=$created"
}

# model_rm ID normal|mask KEY...: sets model_said to the deleted=0|1 it
# implies.
model_rm() {
	local id=$1 t=$2 k h cur
	shift 2
	if [ -z "$(model_keys "$id")" ]; then
		model_said=deleted=1
		return
	fi
	for k in "$@"; do
		h=$(tohex "$k")
		cur=${model[$id $h]:-}
		case $t/$cur in
		normal/01 | normal/02) unset "model[$id $h]" ;;
		mask/01 | mask/) model[$id $h]=02 ;;
		esac
	done
	if [ "$(model_count "$id")" -eq 0 ]; then
		for h in $(model_keys "$id"); do
			unset "model[$id $h]"
		done
		model_said=deleted=1
		return
	fi
	model_said=deleted=0
}

# ---- steps --------------------------------------------------------------------

steps=0

# step WHO NS OBJ add|normal|mask KEY...: one change by one implementation
# (rf: the rados tool; rt: reftrack; ref: reference-tracker), then both
# read the tracker back and must agree with the model.
step() {
	local who=$1 n=$2 obj=$3 op=$4 want got line rc a b m
	shift 4
	steps=$((steps + 1))
	if [ "$op" = add ]; then
		model_add "$n/$obj" "$@"
	else
		model_rm "$n/$obj" "$op" "$@"
	fi
	want=$model_said
	case $who/$op in
	rf/add) got=$(rf_add "$n" "$obj" "$@") ;;
	rf/*) got=$(rf_rm "$n" "$obj" "$op" "$@") ;;
	rt/add) got=$("$reftrack" -p "$pool" -N "$n" add "$obj" "$@") ;;
	rt/normal) got=$("$reftrack" -p "$pool" -N "$n" rm "$obj" "$@") ;;
	rt/mask) got=$("$reftrack" -p "$pool" -N "$n" rm --mask "$obj" "$@") ;;
	ref/*)
		# reference-tracker takes one comma-separated list.
		a=$(IFS=,; printf '%s' "$*")
		if [ "$op" = add ]; then
			got=$("$rtool" -i admin -p "$pool" -c "$CEPH_CONF" -n "$n" \
				-r "$obj" -k "$a" -o add)
		else
			got=$("$rtool" -i admin -p "$pool" -c "$CEPH_CONF" -n "$n" \
				-r "$obj" -k "$a" -o rem -t "$op")
		fi
		;;
	esac
	rc=$?
	line="step $steps: $who $op '$obj' in '$n': $*"
	if [ "$rc" -ne 0 ]; then
		fail "$line: exit $rc"
		return
	fi
	# reftrack's line is "created=1 added=2 refcount=2"; its first word
	# is what the others print alone.
	got=$(printf '%s\n' "$got" | tail -n 1)
	[ "${got%% *}" = "$want" ] || fail "$line: said '$got', want '$want'"
	# The other implementation reads what this one wrote.  (Each case
	# ends with both reading everything: see check_both.)
	if [ "$who" = rf ]; then
		check_rt "$n" "$obj" "$line"
	else
		check_rf "$n" "$obj" "$line"
	fi
}

check_rf() {
	local m a
	m=$(model_canon "$1/$2")
	rf_load "$1" "$2"
	a=$(rf_canon)
	[ "$a" = "$m" ] || fail "$3: the rados reader sees
    $a
  want
    $m"
}

check_rt() {
	local m b
	m=$(model_canon "$1/$2")
	b=$(rt_canon "$1" "$2")
	[ "$b" = "$m" ] || fail "$3: reftrack sees
    $b
  want
    $m"
}

# check_both NS/OBJ...: both readers on each tracker, at the end of a case.
check_both() {
	local o
	for o in "$@"; do
		check_rf "${o%%/*}" "${o#*/}" "end of $case_name: '$o'"
		check_rt "${o%%/*}" "${o#*/}" "end of $case_name: '$o'"
	done
}

ns="compat-$$"
K1=key1
K2=key2
K3="key three"
K4="ключ"
K5=key5

# Each implementation creates what the other then masks, adds over the
# mask (it stays masked), and deletes with the mask left over.
case_handover() {
	local o=hand
	step rt "$ns" $o add "$K1" "$K2" "$K4"
	step rf "$ns" $o mask "$K1" "$K5"
	step rt "$ns" $o add "$K1" "$K3"
	step rf "$ns" $o normal "$K2" "$K3" "$K5"
	step rt "$ns" $o normal "$K4" "$K1"
	step rf "$ns" $o normal "$K1"
	step rf "$ns" $o add "$K4" "$K3"
	step rt "$ns" $o mask "$K3" "$K2"
	step rf "$ns" $o add "$K2" "$K5"
	step ref "$ns" $o mask "$K5"
	step rf "$ns" $o add "$K3" "$K1"
	step rt "$ns" $o normal "$K2" "$K1"
	step rf "$ns" $o normal "$K4"
	step rt "$ns" $o add "$K4" "$K5"
	check_both "$ns/$o"
	step rf "$ns" $o normal "$K4" "$K5"
	check_both "$ns/$o"
}

# The same in the default namespace, by reference-tracker.
case_handover_default_ns() {
	local o="compat-$$"
	step ref "" "$o" add "$K3" "$K4"
	step rf "" "$o" mask "$K4"
	step ref "" "$o" add "$K4" "$K1"
	check_both "/$o"
	step rf "" "$o" normal "$K1" "$K3"
	check_both "/$o"
}

case_random() {
	local seed=${RT_COMPAT_SEED:-$$} n=${RT_COMPAT_STEPS:-16} i who op o nk
	local -a keys=("$K1" "$K2" "$K3" "$K4" "$K5") pick
	local -a whos=(rf rt rf rt ref) objs=("$ns/r1" "$ns/r2" "/compat-r-$$")
	echo "  compat: $n random steps, seed $seed (RT_COMPAT_SEED to repeat)"
	RANDOM=$seed
	for ((i = 0; i < n; i++)); do
		who=${whos[RANDOM % ${#whos[@]}]}
		o=${objs[RANDOM % ${#objs[@]}]}
		case $((RANDOM % 10)) in
		[0-4]) op=add ;;
		[5-7]) op=normal ;;
		*) op=mask ;;
		esac
		nk=$((1 + RANDOM % 3))
		pick=()
		while [ "${#pick[@]}" -lt "$nk" ]; do
			pick+=("${keys[RANDOM % ${#keys[@]}]}")
		done
		# Duplicates in one request are allowed; each acts once.
		step "$who" "${o%%/*}" "${o#*/}" "$op" "${pick[@]}"
		[ "$case_failures" -eq 0 ] || break
	done
	check_both "${objs[@]}"
}

# The second reader is a real check: it refuses what breaks the format,
# and so does reftrack.
case_reader_rejects() {
	local obj v rc
	for v in "00000002 00000001 6b:01" "00000001 000001 6b:01" \
		"00000001 0000000100000001 6b:01" "00000001 00000001 6b:03" \
		"00000001 00000002 6b:01" "- 00000001 6b:01"; do
		# shellcheck disable=SC2086
		set -- $v
		obj="bad-$steps"
		steps=$((steps + 1))
		rados_ns "$ns" rm "$obj" >/dev/null 2>&1
		unhex "$2" >"$tmp/data"
		rados_ns "$ns" put "$obj" "$tmp/data"
		[ "$1" = - ] || unhex "$1" | rados_ns "$ns" setxattr "$obj" csi.ceph.com/rt-version
		rf_set_type "$ns" "$obj" "${3%%:*}" "${3#*:}"
		rf_load "$ns" "$obj"
		case $rf_state in
		corrupt:*) ;;
		*) fail "xattr $1 data $2 omap $3: the rados reader says '$rf_state'" ;;
		esac
		"$reftrack" -p "$pool" -N "$ns" show "$obj" >/dev/null 2>&1
		rc=$?
		[ "$rc" -eq 65 ] || fail "xattr $1 data $2 omap $3: reftrack show exit $rc, want 65"
		rados_ns "$ns" rm "$obj"
	done
}

for tool in "$reftrack" "$rtool"; do
	[ -x "$tool" ] || echo "test_compat.sh: $tool is missing (make all first)" >&2
done

run_case case_reader_rejects
run_case case_handover
run_case case_handover_default_ns
run_case case_random

# What the steps left behind, so that a rerun on the same cluster starts
# clean; the default-namespace names carry our pid.
for o in hand r1 r2; do
	rados_ns "$ns" rm "$o" >/dev/null 2>&1
done
rados_ns "" rm "compat-$$" >/dev/null 2>&1
rados_ns "" rm "compat-r-$$" >/dev/null 2>&1

echo "  compat: $steps steps"
finish compat
