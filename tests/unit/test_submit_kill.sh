#!/bin/sh
# kill -9 during `reftrack submit` of a 100,000-entry batch, at random
# moments spread over the whole run (journal creation, hashing, parsing,
# the write transaction, the commit): afterwards the journal holds the whole
# batch or none of it, whatever it held before is intact, and `status`
# works.  Then one submit runs to the end.
# Run from the repository root; the tool is $RT_BUILD/reftrack.
set -u
build=${RT_BUILD:-build}
rt=$build/reftrack
kills=${KILLS:-24}
entries=100000
# Debian's python3 is the one `make deps` gives jsonschema to.
py=${PYTHON:-python3}
[ -z "${PYTHON:-}" ] && [ -x /usr/bin/python3 ] && py=/usr/bin/python3
. "$(dirname "$0")/../testlib.sh"
tl_tmpdir rt-submit-kill

tl_require_built submit-kill "$rt"

# 100,000 one-key requests over 5,000 trackers.
awk -v n=$entries 'BEGIN {
	print "version: 1\ndefaults:\n  pool: rbd\n  namespace: csi\nrequests:"
	for (i = 0; i < n; i++)
		printf "  - tracker: csi-vol-%06d\n    add: [csi-snap-%08d]\n", i % 5000, i
}' >"$tmp/big.yaml"
printf 'version: 1\ndefaults:\n  pool: rbd\nrequests:\n  - tracker: a\n    add: [k1]\n  - tracker: b\n    add: [k2]\n  - tracker: a\n    remove: [k1]\n' >"$tmp/small.yaml"

# How long a whole submit takes here, so the kills cover all of it.
start=$(date +%s%N)
"$rt" submit --journal "$tmp/timing" "$tmp/big.yaml" >/dev/null || fail "timing submit failed"
full_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$full_ms" -lt 20 ] && full_ms=20
echo "a full submit takes ${full_ms} ms; killing at random points in 0..$((full_ms * 11 / 10)) ms"

# total and pending entries and batches, as status --json reports them
counts() {
	"$rt" status --journal "$1" --json >"$tmp/status.json" 2>"$tmp/status.err" || return 1
	"$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["counts"]["total"], d["counts"]["pending"], len(d["batches"]))' "$tmp/status.json"
}

whole=0
none=0
i=1
while [ "$i" -le "$kills" ]; do
	j=$tmp/j$i
	base=0
	bbase=0
	# Every other run starts from a journal that already holds a batch,
	# which must come through untouched.
	if [ $((i % 2)) -eq 0 ]; then
		"$rt" submit --journal "$j" "$tmp/small.yaml" >/dev/null || fail "small submit"
		base=3
		bbase=1
	fi
	delay_ms=$(awk -v seed="$$$i" -v max=$((full_ms * 11 / 10)) 'BEGIN { srand(seed); printf "%d", rand() * max }')
	"$rt" submit --journal "$j" "$tmp/big.yaml" >/dev/null 2>&1 &
	pid=$!
	sleep "$(awk -v ms="$delay_ms" 'BEGIN { printf "%.3f", ms / 1000 }')"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null

	if [ ! -e "$j/data.mdb" ] && [ "$base" -eq 0 ]; then
		# Killed before the journal existed: nothing, as it should be;
		# status says there is no journal.
		"$rt" status --journal "$j" >/dev/null 2>&1
		if [ $? -eq 66 ]; then pass; none=$((none + 1)); else fail "kill $i: status of a missing journal"; fi
	elif got=$(counts "$j"); then
		if [ "$got" = "$base $base $bbase" ]; then
			pass
			none=$((none + 1))
		elif [ "$got" = "$((base + entries)) $((base + entries)) $((bbase + 1))" ]; then
			pass
			whole=$((whole + 1))
		else
			fail "kill $i after ${delay_ms} ms: journal holds '$got' (total pending batches)"
		fi
	else
		fail "kill $i after ${delay_ms} ms: status failed: $(cat "$tmp/status.err")"
	fi
	[ "$i" -lt "$kills" ] && rm -rf "$j"
	i=$((i + 1))
done
echo "kills: $whole left the whole batch, $none left nothing"

# The last journal takes the batch to the end; a second submit adds nothing.
j=$tmp/j$kills
out=$("$rt" submit --journal "$j" "$tmp/big.yaml") || fail "final submit failed"
out=$("$rt" submit --journal "$j" "$tmp/big.yaml")
case $out in *"already submitted"*) pass ;; *) fail "resubmit: $out" ;; esac
got=$(counts "$j")
case $got in "$entries $entries 1" | "$((entries + 3)) $((entries + 3)) 2") pass ;;
*) fail "final journal holds '$got'" ;; esac

finish submit-kill
