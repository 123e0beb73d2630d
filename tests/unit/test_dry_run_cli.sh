#!/bin/bash
# test_dry_run_cli.sh - the dry runs that need no cluster:
#
#   - `submit --dry-run --json` lists every request as the parser read it
#     (pool, namespace, tracker, op, id, refs with their types), from a file
#     and from standard input, and creates no journal;
#   - `prune --dry-run` counts the entries and batch records a prune would
#     delete, deletes nothing (export and data.mdb unchanged), and the prune
#     that follows deletes exactly that;
#   - `replay --dry-run` without a journal exits 66 and creates none;
#   - `submit` of a big file on a terminal draws a progress bar, finished
#     once on its own line before the summary; -q draws and prints nothing.
#
# Run from the repository root; the tool is $RT_BUILD/reftrack.
set -u
cd "$(dirname "$0")/../.." || exit 1
build=${RT_BUILD:-build}
rt=$build/reftrack
py=${PYTHON:-/usr/bin/python3}
. "$(dirname "$0")/../testlib.sh"
tl_tmpdir rt-dry-cli

tl_require_built dry-run-cli "$rt"

cat >"$tmp/b.yaml" <<'YAML'
version: 1
defaults: {pool: rbd, namespace: csi}
requests:
  - tracker: snap-1
    add: [vol-a, "vol b"]
    id: req/1
  - {tracker: snap-2, pool: ssd, namespace: "", remove: [vol-c], mask: [vol-d]}
YAML
want='[{"index": 0, "line": 4, "pool": "rbd", "namespace": "csi", "tracker": "snap-1", "op": "add", "id": "req/1", "refs": [{"key": "vol-a", "type": "normal"}, {"key": "vol b", "type": "normal"}]}, {"index": 1, "line": 7, "pool": "ssd", "namespace": "", "tracker": "snap-2", "op": "remove", "id": null, "refs": [{"key": "vol-c", "type": "normal"}, {"key": "vol-d", "type": "mask"}]}]'
requests() {
	"$py" -c 'import json, sys
d = json.load(sys.stdin)
assert d["dry_run"] is True and d["entries"] == 2, d
print(json.dumps(d["requests"]))'
}
run "$rt" submit --dry-run --json --journal "$tmp/j" "$tmp/b.yaml"
expect_rc 0
check "submit --dry-run --json from a file lists the requests: $out" \
	test "$(printf '%s' "$out" | requests)" = "$want"
run "$rt" submit --dry-run --json --journal "$tmp/j" - <"$tmp/b.yaml"
expect_rc 0
check "submit --dry-run --json from stdin lists the requests: $out" \
	test "$(printf '%s' "$out" | requests)" = "$want"
check "submit --dry-run created a journal" test ! -e "$tmp/j"
# An invalid file: the error, and no document.
printf 'version: 1\nrequests: [{tracker: x}]\n' >"$tmp/bad.yaml"
run "$rt" submit --dry-run --json --journal "$tmp/j" "$tmp/bad.yaml"
expect_rc 65
expect_err_has "bad.yaml:2:"

run "$rt" replay --dry-run --journal "$tmp/j"
expect_rc 66
check "replay --dry-run created a journal" test ! -e "$tmp/j"

# prune: three batches, entries skipped in two of them (one emptied).
for n in 1 2 3; do
	printf 'version: 1\nrequests:\n  - {pool: p, tracker: t%s, add: [a]}\n  - {pool: p, tracker: u%s, add: [b]}\n' \
		"$n" "$n" >"$tmp/p$n.yaml"
	"$rt" submit --journal "$tmp/j" "$tmp/p$n.yaml" >/dev/null ||
		fail "submit p$n"
done
for seq in 1 2 3; do
	"$rt" skip --journal "$tmp/j" "$seq" --reason test >/dev/null ||
		fail "skip $seq"
done
"$rt" export --journal "$tmp/j" >"$tmp/export.before"
cksum <"$tmp/j/data.mdb" >"$tmp/mdb.before"
run "$rt" prune --dry-run --json --journal "$tmp/j" --done-older-than 0 \
	--batch-retention 0
expect_rc 0
dry=$out
check "prune --dry-run counts: $dry" "$py" -c 'import json, sys
d = json.loads(sys.argv[1])
assert d["dry_run"] is True and d["entries"] == 3 and d["skipped"] == 3, d
assert d["batches_forgotten"] == 1, d' "$dry"
run "$rt" prune --dry-run --journal "$tmp/j" --done-older-than 0 \
	--batch-retention 0
expect_rc 0
check "prune --dry-run text: $out" test "$out" = "prune (dry run): 3 entries would go (0 done, 3 skipped), 1 batch record would be forgotten; nothing was deleted"
"$rt" export --journal "$tmp/j" >"$tmp/export.after"
cksum <"$tmp/j/data.mdb" >"$tmp/mdb.after"
check "prune --dry-run changed the entries" cmp -s "$tmp/export.before" "$tmp/export.after"
check "prune --dry-run changed data.mdb" cmp -s "$tmp/mdb.before" "$tmp/mdb.after"
run "$rt" prune --json --journal "$tmp/j" --done-older-than 0 --batch-retention 0
expect_rc 0
check "prune deleted what the dry run said: $out / $dry" "$py" -c 'import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for k in ("entries", "done", "skipped", "batches_forgotten", "transactions"):
    assert a[k] == b[k], (k, a, b)
assert a["dry_run"] is False' "$out" "$dry"
check "prune left 3 entries" test "$("$rt" export --journal "$tmp/j" | wc -l)" -eq 3

# submit of a big file on a terminal: a bar, its final state drawn once,
# on a line of its own before the summary; none with -q (nor a summary).
pty_run=tests/integration/pty_run.py
{
	echo "version: 1"
	echo "defaults: {pool: p, namespace: big}"
	echo "requests:"
	for ((i = 0; i < 30000; i++)); do
		echo "  - {tracker: t$i, add: [key-$i]}"
	done
} >"$tmp/big.yaml"
lines=$(wc -l <"$tmp/big.yaml")
rc=$("$py" "$pty_run" run "$tmp/bar.raw" -- "$rt" submit --journal "$tmp/jb" "$tmp/big.yaml")
check "submit on a terminal exits 0 ($rc)" test "$rc" = 0
"$py" "$pty_run" render "$tmp/bar.raw" >"$tmp/bar.screen"
check "submit: the bar's final state is drawn once: $(cat "$tmp/bar.screen")" \
	test "$("$py" "$pty_run" count "$tmp/bar.raw" "$lines/$lines ")" = 1
check "submit: the bar ends its line, then the summary: $(cat "$tmp/bar.screen")" \
	grep -q "^|batch [0-9a-f]*: 30000 entries submitted" "$tmp/bar.screen"
check "submit: the cursor is left on an empty line" test "$(tail -n 1 "$tmp/bar.screen")" = "||"
sed 's/key-/other-/' "$tmp/big.yaml" >"$tmp/big2.yaml"
rc=$("$py" "$pty_run" run "$tmp/quiet.raw" -- "$rt" submit -q --journal "$tmp/jb" "$tmp/big2.yaml")
check "submit -q exits 0 ($rc)" test "$rc" = 0
check "submit -q writes nothing: $(od -c "$tmp/quiet.raw" | head -3)" test ! -s "$tmp/quiet.raw"
rc=$("$py" "$pty_run" run "$tmp/small.raw" -- "$rt" submit --journal "$tmp/jb" "$tmp/b.yaml")
check "a small file gets no bar: $(od -c "$tmp/small.raw" | head -3)" \
	test "$("$py" "$pty_run" count "$tmp/small.raw" "submit [")" = 0

finish dry-run-cli
