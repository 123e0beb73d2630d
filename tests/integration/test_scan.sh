#!/bin/bash
# test_scan.sh - `reftrack scan` (issue 14) on 1,000 trackers across two
# namespaces of a pool of its own: 20 of them broken in every way the scan
# checks for, plus sound oddities (a counted empty key, masks) and objects
# that are no trackers; 50 stale references against a live-key list.
# Asserts: the scan reports exactly the broken ones, each with its kind, in
# every namespace and in each; the journal markers; --emit-batch removes
# exactly the stale references (submit --dry-run, submit, replay, rescan:
# no stale reference left); the mass-release guard trips on an empty list
# and writes nothing; no object's version changes during the scans.
#
# Run by tests/run-integration.sh (CEPH_CONF, RT_BUILD, RT_SRC).
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require scan CEPH_CONF RT_BUILD RT_SRC

pool=scan-$$
nsa=scan-a nsb=scan-b
reftrack=$RT_BUILD/reftrack
planter=$RT_SRC/tests/integration/scan_plant.py
export CEPH_CONF
unset CEPH_ARGS
tl_tmpdir rt-scan
j=$tmp/journal

on_exit() {
	ceph osd pool rm "$pool" "$pool" --yes-i-really-really-mean-it \
		>/dev/null 2>&1
}

# t I: the name of tracker I (0..999); trackers 0..499 live in nsa.
t() { printf 't%04d' "$1"; }
ns_of() { if [ "$1" -lt 500 ]; then echo "$nsa"; else echo "$nsb"; fi; }

# The broken ones (tracker, how, kind), all in nsb, and the sound odd ones.
broken=(
	900:ver-len:version 901:ver-2:version 902:ver-len:version
	903:data-3:data-size 904:data-0:data-size 905:data-5:data-size
	906:draft:foreign 907:draft-val:foreign 908:draft:foreign
	909:type-03:type-byte 910:type-long:type-byte 911:type-03:type-byte
	912:nul-key:nul-key 913:nul-key:nul-key
	914:under:count 915:over:count 916:zero:count
	917:empty:empty-key 918:empty:empty-key 919:empty:empty-key
)

setup() {
	local i b
	ceph osd pool create "$pool" 8 8 >/dev/null 2>&1 ||
		{ fail "creating pool $pool"; return 1; }
	ceph osd pool application enable "$pool" rados >/dev/null 2>&1
	# Every tracker holds KEYa KEYb KEYc; 200..209 also a mask.
	{
		printf 'version: 1\ndefaults: {pool: %s}\nrequests:\n' "$pool"
		for i in $(seq 0 999); do
			printf '  - {tracker: %s, namespace: %s, add: [%sa, %sb, %sc]}\n' \
				"$(t "$i")" "$(ns_of "$i")" "$(t "$i")" "$(t "$i")" "$(t "$i")"
		done
		for i in $(seq 200 209); do
			printf '  - {tracker: %s, namespace: %s, mask: [m%s]}\n' \
				"$(t "$i")" "$nsa" "$(t "$i")"
		done
	} >"$tmp/plant.yaml"
	run "$reftrack" submit --journal "$j" "$tmp/plant.yaml"
	expect_rc 0
	run "$reftrack" replay --journal "$j" --no-progress
	expect_rc 0
	{
		for b in "${broken[@]}"; do
			i=${b%%:*}
			b=${b#*:}
			echo "$(ns_of "$i") $(t "$i") ${b%%:*}"
		done
		echo "$nsa $(t 300) empty-ok"
		for i in $(seq 1 15); do echo "$nsa plain$i plain"; done
		for i in $(seq 1 15); do echo "$nsb plain$i plain"; done
		for i in $(seq 1 5); do echo "- plain$i plain"; done
	} >"$tmp/break"
	/usr/bin/python3 "$planter" "$CEPH_CONF" "$pool" break "$tmp/break" ||
		{ fail "planting the broken ones"; return 1; }
	# The live-key list: every key but the 50 stale ones, KEYb of
	# t0100..t0134 (35) and all three keys of t0600..t0604 (15).
	for i in $(seq 0 999); do
		[ "$i" -ge 600 ] && [ "$i" -le 604 ] && continue
		printf '%sa\n' "$(t "$i")"
		[ "$i" -ge 100 ] && [ "$i" -le 134 ] || printf '%sb\r\n' "$(t "$i")"
		printf '%sc\n\n' "$(t "$i")"
	done >"$tmp/live"
	for i in $(seq 100 134); do echo "$nsa $(t "$i") $(t "$i")b"; done >"$tmp/stale.want"
	for i in $(seq 600 604); do
		printf '%s %s %sa\n%s %s %sb\n%s %s %sc\n' "$nsb" "$(t "$i")" "$(t "$i")" \
			"$nsb" "$(t "$i")" "$(t "$i")" "$nsb" "$(t "$i")" "$(t "$i")"
	done >>"$tmp/stale.want"
	sort -o "$tmp/stale.want" "$tmp/stale.want"
	for b in "${broken[@]}"; do
		echo "$nsb $(t "${b%%:*}") ${b##*:}"
	done | sort >"$tmp/broken.want"
}

versions() {
	/usr/bin/python3 "$planter" "$CEPH_CONF" "$pool" versions "$1" ||
		fail "reading the object versions"
}

rs() { run "$reftrack" -p "$pool" --journal "$j" --no-progress "$@"; }

# check_json FILE WANT_TRACKERS: the JSON lines' broken trackers are
# broken.want (in namespaces NSS, "" for all), every line valid against the
# schema; prints nothing, fails on a difference.
check_json() {
	/usr/bin/python3 - "$1" "$tmp/broken.want" "$2" "$RT_SRC" <<'EOF' ||
import json, sys
sys.path.insert(0, sys.argv[4] + "/tests")
lines = open(sys.argv[1]).read().splitlines()
recs = [json.loads(l) for l in lines]
summary = recs.pop()
want = {tuple(l.split()[:2]): l.split()[2]
        for l in open(sys.argv[2]).read().splitlines()}
nss = set(sys.argv[3].split(",")) if sys.argv[3] else None
if nss is not None:
    want = {k: v for k, v in want.items() if k[0] in nss}
got = {(r["namespace"], r["tracker"]): r["problem"] for r in recs
       if r["problem"]}
assert got == want, "problems: got %s, want %s" % (sorted(got.items()),
                                                   sorted(want.items()))
assert all(r["record"] == "tracker" for r in recs)
assert summary["record"] == "summary"
assert summary["trackers"] == len(recs), summary
assert summary["problem_trackers"] == len(want), summary
for r in recs:
    if r["tracker"] == "t0300":
        assert r["problem"] is None and r["empty_key"] == "normal", r
        assert r["normal"] == 4 and r["refcount"] == 4, r
    if r["tracker"] in ["t%04d" % i for i in range(200, 210)]:
        assert r["masks"] == 1 and r["normal"] == 3, r
    # Every tracker was written by this test's journal.
    assert [m["local"] for m in r["journals"]] == [True], r
assert summary["with_local_marker"] == len(recs), summary
EOF
		fail "scan JSON output: see above"
}

case_scan_reports_exactly_the_broken() {
	versions "$tmp/v0"
	rs scan --all-namespaces --json
	expect_rc 1
	printf '%s\n' "$out" >"$tmp/all.json"
	check_json "$tmp/all.json" ""
	/usr/bin/python3 "$RT_SRC/tests/check_json.py" --many \
		"$RT_SRC/schemas/scan.schema.json" "$tmp/all.json" 2>"$tmp/schema.err" ||
		fail "scan --json against schemas/scan.schema.json: $(cat "$tmp/schema.err")"
	printf '%s\n' "$out" | tail -n 1 | grep -q '"trackers":1000,' ||
		fail "not 1000 trackers: $(printf '%s\n' "$out" | tail -n 1)"
	printf '%s\n' "$out" | tail -n 1 | grep -q '"skipped":35,' ||
		fail "not 35 objects skipped"
	# Each namespace alone, and a sequential scan (one read at a time).
	rs scan -N "$nsa" --json
	expect_rc 0
	printf '%s\n' "$out" >"$tmp/a.json"
	check_json "$tmp/a.json" "$nsa"
	rs scan -N "$nsb" --json --inflight 1
	expect_rc 1
	printf '%s\n' "$out" >"$tmp/b.json"
	check_json "$tmp/b.json" "$nsb"
	# Plain: one line per problem naming pool, namespace and tracker.
	rs scan --all-namespaces
	expect_rc 1
	[ "$(printf '%s\n' "$out" | grep -c '^pool ')" = 20 ] ||
		fail "plain: not 20 problem lines: $out"
	printf '%s\n' "$out" | grep -qxF "pool \"$pool\" namespace \"$nsb\" tracker \"t0916\": count: refcount 0 but 3 normal keys" ||
		fail "plain: no count line for t0916: $out"
	printf '%s\n' "$out" | grep -qF 'tracker "t0912": nul-key: key '"'"'t0912c\x00x'"'" ||
		fail "plain: nul-key line not escaped: $(printf '%s\n' "$out" | grep t0912)"
	printf '%s\n' "$out" | grep -q "^problems: 20 trackers (version 3, data-size 3, foreign 3, type-byte 3, nul-key 2, count 3, empty-key 3)$" ||
		fail "plain summary: $out"
	versions "$tmp/v1"
	cmp -s "$tmp/v0" "$tmp/v1" || fail "object versions changed during the scans: $(diff "$tmp/v0" "$tmp/v1" | head -n 5)"
}

# On a terminal: a progress bar on stderr, erased before each problem
# line, and the summary starting at the left margin.
case_progress_on_a_terminal() {
	local pty=$RT_SRC/tests/integration/pty_run.py n
	/usr/bin/python3 "$pty" run "$tmp/pty.out" -- "$reftrack" -p "$pool" \
		--journal "$j" scan --all-namespaces >"$tmp/pty.rc"
	[ "$(cat "$tmp/pty.rc")" = 1 ] || fail "scan on a pty: exit $(cat "$tmp/pty.rc"), want 1"
	n=$(/usr/bin/python3 "$pty" count "$tmp/pty.out" "scan [")
	[ "$n" -ge 1 ] || fail "no progress bar drawn"
	/usr/bin/python3 "$pty" render "$tmp/pty.out" >"$tmp/pty.screen"
	grep -q '^|scanned pool "'"$pool"'", every namespace' "$tmp/pty.screen" ||
		fail "summary not at the left margin: $(cat "$tmp/pty.screen")"
	[ "$(grep -c '^|pool "' "$tmp/pty.screen")" = 20 ] ||
		fail "not 20 problem lines at the left margin: $(cat "$tmp/pty.screen")"
}

case_mass_release_guard() {
	versions "$tmp/v0"
	rs scan --all-namespaces --live-keys /dev/null --emit-batch "$tmp/none.yaml"
	expect_rc 65
	# t0300's counted empty key is never stale: 979 of 980.
	expect_err_has "979 of 980 sound trackers"
	expect_err_has "--allow-mass-release"
	[ -e "$tmp/none.yaml" ] && fail "the refused batch was written"
	ls -a "$tmp" | grep -q '^\.reftrack-scan' && fail "a temporary batch was left"
	# A low threshold trips on the 5 trackers the real list releases.
	rs scan --all-namespaces --live-keys "$tmp/live" --mass-release-threshold 0.1 \
		--emit-batch "$tmp/none.yaml"
	expect_rc 65
	expect_err_has "5 of 980 sound trackers"
	[ -e "$tmp/none.yaml" ] && fail "the refused batch was written"
	versions "$tmp/v1"
	cmp -s "$tmp/v0" "$tmp/v1" || fail "object versions changed during the scans"
}

case_emit_batch_releases_exactly_the_stale() {
	local n
	versions "$tmp/v0"
	rs scan --all-namespaces --live-keys - --emit-batch "$tmp/release.yaml" \
		<"$tmp/live"
	expect_rc 1
	[ "$(printf '%s\n' "$out" | grep -c ': stale: ')" = 50 ] ||
		fail "not 50 stale lines: $out"
	printf '%s\n' "$out" | grep -q '^stale references: 50 on 40 trackers (live-key list: 2950 keys); 5 trackers would lose every reference$' ||
		fail "stale summary: $out"
	versions "$tmp/v1"
	cmp -s "$tmp/v0" "$tmp/v1" || fail "object versions changed during the scan"
	[ -f "$tmp/release.yaml" ] || { fail "no batch written"; return; }
	# The batch removes exactly the stale references, and says why.
	/usr/bin/python3 - "$tmp/release.yaml" "$pool" >"$tmp/stale.got" <<'EOF' ||
import sys, yaml
b = yaml.safe_load(open(sys.argv[1]))
assert b["version"] == 1
for r in b["requests"]:
    assert r["pool"] == sys.argv[2] and set(r) == {"tracker", "pool",
                                                   "namespace", "remove"}, r
    for k in r["remove"]:
        print(r["namespace"], r["tracker"], k)
EOF
		fail "the batch does not parse"
	sort -o "$tmp/stale.got" "$tmp/stale.got"
	cmp -s "$tmp/stale.got" "$tmp/stale.want" ||
		fail "batch removes $(wc -l <"$tmp/stale.got") keys: $(diff "$tmp/stale.want" "$tmp/stale.got" | head -n 5)"
	n=$(grep -c '^  # stale: ' "$tmp/release.yaml")
	[ "$n" = 40 ] || fail "$n request comments, want 40"
	grep -q 'removing them deletes the tracker' "$tmp/release.yaml" ||
		fail "no comment says a request deletes its tracker"
	run "$reftrack" submit --dry-run --journal "$j" "$tmp/release.yaml"
	expect_rc 0
	run "$reftrack" submit --journal "$j" "$tmp/release.yaml"
	expect_rc 0
	run "$reftrack" replay --journal "$j" --no-progress
	expect_rc 0
	# Rescan: no stale reference left; the released trackers are gone;
	# the broken ones are still reported (nothing repairs them).
	rs scan --all-namespaces --live-keys "$tmp/live" --json
	expect_rc 1
	printf '%s\n' "$out" | tail -n 1 >"$tmp/summary.json"
	grep -q '"stale":0,' "$tmp/summary.json" || fail "stale left: $(cat "$tmp/summary.json")"
	grep -q '"trackers":995,' "$tmp/summary.json" || fail "not 995 trackers: $(cat "$tmp/summary.json")"
	grep -q '"problem_trackers":20,' "$tmp/summary.json" || fail "broken ones: $(cat "$tmp/summary.json")"
	rs scan -N "$nsa" --live-keys "$tmp/live"
	expect_rc 0
}

# Keys a batch file must quote or escape, and ones it cannot name, in a
# namespace of their own: the batch spells each stale key exactly, leaves
# out what it cannot name (with a comment), and never a key the list
# cannot spell (a newline in it).
case_odd_keys() {
	local tn keys
	tn=$(printf 'odd\nname')
	keys=("$(printf 'a\nb')" 'q"uote' 'back\slash' "$(printf 'tab\tkey')" \
		'ünï' "$(printf '\177del')" "$(printf '\377bin')" keep)
	run "$reftrack" -p "$pool" -N scan-odd add "$tn" "${keys[@]}"
	expect_rc 0
	echo keep >"$tmp/odd.live"
	rs scan -N scan-odd --live-keys "$tmp/odd.live" --emit-batch "$tmp/odd.yaml"
	expect_rc 1
	[ "$(printf '%s\n' "$out" | grep -c ': stale: ')" = 6 ] ||
		fail "not 6 stale lines: $out"
	printf '%s\n' "$out" | grep -qxF 'pool "'"$pool"'" namespace "scan-odd" tracker "odd\nname": stale: "\xffbin" is not in the live-key list' ||
		fail "stale lines not escaped: $out"
	! printf '%s' "$out" | LC_ALL=C grep -q '[[:cntrl:]]' ||
		fail "a control byte reached the output"
	expect_err_has "1 stale references are left out of the batch"
	grep -q '^# not in this batch: key "\\xffbin"' "$tmp/odd.yaml" ||
		fail "no comment for the key a batch cannot name: $(cat "$tmp/odd.yaml")"
	/usr/bin/python3 - "$tmp/odd.yaml" <<'PY' || fail "odd batch: $(cat "$tmp/odd.yaml")"
import sys, yaml
b = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
(r,) = b["requests"]
assert r["tracker"] == "odd\nname" and r["namespace"] == "scan-odd", r
assert sorted(r["remove"]) == sorted(['q"uote', "back\\slash", "tab\tkey",
                                      "\u00fcn\u00ef", "\x7fdel"]), r
PY
	run "$reftrack" submit --dry-run --journal "$j" "$tmp/odd.yaml"
	expect_rc 0
	run "$reftrack" submit --journal "$j" "$tmp/odd.yaml"
	expect_rc 0
	run "$reftrack" replay --journal "$j" --no-progress
	expect_rc 0
	run "$reftrack" -p "$pool" -N scan-odd show --json "$tn"
	expect_rc 0
	printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["refcount"] == 3, d
assert sorted(r["key"] for r in d["refs"]) == sorted(["a\nb", "\ufffdbin", "keep"]), d' ||
		fail "after the odd batch: $out"
}

# A tracker of 2,500 keys (three pages of a whole read) beside small ones,
# 2,400 of its keys stale: the scan pages through it among reads in
# flight, and the batch splits its removals into lists of at most 1,000,
# each under a comment.
case_big_tracker() {
	local i
	run "$reftrack" -p "$pool" -N scan-big add big $(seq -f 'k%05g' 0 2499)
	expect_rc 0
	for i in $(seq 1 50); do
		"$reftrack" -p "$pool" -N scan-big add "s$i" "s$i" >/dev/null ||
			fail "adding s$i"
	done
	{ seq -f 'k%05g' 2400 2499; seq -f 's%g' 1 50; } >"$tmp/big.live"
	rs scan -N scan-big --json --live-keys "$tmp/big.live" --emit-batch "$tmp/big.yaml"
	expect_rc 1
	printf '%s\n' "$out" | /usr/bin/python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin.read().splitlines()]
s = recs.pop()
(big,) = [r for r in recs if r["tracker"] == "big"]
assert big["problem"] is None and big["normal"] == 2500, big
assert big["stale"] == ["k%05d" % i for i in range(2400)], big["stale"][:3]
assert s["trackers"] == 51 and s["stale"] == 2400 and s["stale_trackers"] == 1, s
assert s["batch_requests"] == 3, s' || fail "big tracker scan: $(printf '%s\n' "$out" | tail -n 1)"
	[ "$(grep -c '^  # stale' "$tmp/big.yaml")" = 3 ] ||
		fail "not one comment per request: $(grep '#' "$tmp/big.yaml")"
	run "$reftrack" submit --journal "$j" "$tmp/big.yaml"
	expect_rc 0
	run "$reftrack" replay --journal "$j" --no-progress
	expect_rc 0
	rs scan -N scan-big --live-keys "$tmp/big.live"
	expect_rc 0
	printf '%s\n' "$out" | grep -q '^references: 150 normal, 0 masks$' ||
		fail "after the release: $out"
}

# A writer changing a 3,000-key tracker (three pages) all through five
# scans: each page after the first is guarded on the first one's version,
# so a scan reads it again rather than mix two states, and never reports
# a sound tracker as broken.
case_concurrent_writer() {
	local wpid i
	run "$reftrack" -p "$pool" -N scan-busy add busy $(seq -f 'k%05g' 0 2999)
	expect_rc 0
	(
		for i in $(seq 1 400); do
			"$reftrack" -p "$pool" -N scan-busy add busy "w$i" >/dev/null &&
				"$reftrack" -p "$pool" -N scan-busy rm busy "w$i" >/dev/null ||
				exit 1
			[ -e "$tmp/stop-writer" ] && exit 0
		done
	) &
	wpid=$!
	for i in 1 2 3 4 5; do
		rs scan -N scan-busy --inflight 4 --json
		expect_rc 0
		printf '%s\n' "$out" | head -n 1 | grep -q '"problem":null,' ||
			fail "scan $i under a writer: $out"
	done
	: >"$tmp/stop-writer"
	wait "$wpid" || fail "the writer failed"
}

case_usage() {
	rs scan -N x --all-namespaces
	expect_rc 64
	rs scan --emit-batch "$tmp/x.yaml"
	expect_rc 64
	expect_err_has "--emit-batch needs --live-keys"
	rs scan --all-namepsaces
	expect_rc 64
	expect_err_has "did you mean"
	rs scan --all-namespaces --live-keys "$tmp/absent"
	expect_rc 66
	rs scan --mass-release-threshold 200 --all-namespaces
	expect_rc 64
	run "$reftrack" -p no-such-pool scan
	expect_rc 66
}

if setup; then
	run_case case_scan_reports_exactly_the_broken
	run_case case_progress_on_a_terminal
	run_case case_mass_release_guard
	run_case case_emit_batch_releases_exactly_the_stale
	run_case case_odd_keys
	run_case case_big_tracker
	run_case case_concurrent_writer
	run_case case_usage
fi
finish scan
