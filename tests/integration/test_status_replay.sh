#!/bin/bash
# test_status_replay.sh - `reftrack status --json` of a journal that has been
# replayed on the throwaway cluster, with entries in every state an operator
# meets (done, failed, blocked, skipped), validated against
# schemas/status.schema.json; and the operator's way out: skip, retry, and a
# replay that finishes the job.  (tests/unit/test_status_schema.sh covers
# journals that were never replayed.)  Run by tests/run-integration.sh.
set -u

. "$(dirname "$0")/../testlib.sh"
tl_require status-replay CEPH_CONF RT_TEST_POOL RT_BUILD RT_SRC

pool=$RT_TEST_POOL
rt=$RT_BUILD/reftrack
schema=$RT_SRC/schemas/status.schema.json
py=/usr/bin/python3
ns="status-$$"
export CEPH_CONF
unset CEPH_ARGS REFTRACK_JOURNAL

tl_tmpdir rt-status-replay
j=$tmp/journal

# status_json NAME [ARGS...]: status --json into $tmp/NAME.json, validated.
status_json() {
	local name=$1
	shift
	if ! "$rt" status --journal "$j" --json "$@" >"$tmp/$name.json" 2>"$tmp/err"; then
		fail "$name: status --json failed: $(cat "$tmp/err")"
		return
	fi
	if "$py" - "$schema" "$tmp/$name.json" <<'EOF'; then pass; else fail "$name: status --json does not match the schema"; fi
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
for e in errors:
    print("  %s: %s" % ("/".join(map(str, e.path)) or "(top)", e.message),
          file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
}

# expect_json NAME PYTHON-EXPR WANT: the expression over d (the document)
# prints WANT.
expect_json() {
	local got
	got=$("$py" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$tmp/$1.json" 2>&1)
	if [ "$got" = "$3" ]; then pass; else fail "$1: $2 is '$got', want '$3'"; fi
}

# expect_exit STATUS WANT WHAT: one check of an exit status.
expect_exit() {
	if [ "$1" -eq "$2" ]; then pass; else fail "$3: exit $1, want $2: $(cat "$tmp/err")"; fi
}

counts='" ".join(str(d["counts"][s]) for s in ("total","pending","done","failed","blocked","skipped","needs_review"))'

# A tracker of an unknown format version, made with the rados tool: the
# replayer must refuse to touch it.
printf '\0\0\0\1' >"$tmp/data"
rados -p "$pool" -N "$ns" put bad "$tmp/data"
printf '\0\0\0\2' | rados -p "$pool" -N "$ns" setxattr bad csi.ceph.com/rt-version
printf '\1' >"$tmp/one"
rados -p "$pool" -N "$ns" setomapval bad k --input-file "$tmp/one"

cat >"$tmp/b.yaml" <<EOF
version: 1
defaults: {pool: $pool, namespace: $ns}
requests:
  - {tracker: good, add: [a, b], id: first}
  - {tracker: lost, pool: no-such-pool-$$, add: [a]}
  - {tracker: bad, remove: [k]}
  - {tracker: bad, add: [z]}
  - {tracker: good, remove: [a]}
EOF
"$rt" submit --journal "$j" "$tmp/b.yaml" >/dev/null 2>"$tmp/err"
expect_exit $? 0 "submit"
status_json before
expect_json before "$counts" "5 5 0 0 0 0 0"

"$rt" replay --journal "$j" >"$tmp/out" 2>"$tmp/err"
expect_exit $? 1 "replay with failing entries"
status_json after
expect_json after "$counts" "5 0 2 2 1 0 0"
expect_json after '[e["seq"] for e in d["failed"]["entries"]]' "[2, 3]"
expect_json after 'd["failed"]["total"], d["failed"]["truncated"]' "2 False"
expect_json after '"pool not found" in d["failed"]["entries"][0]["error"]' True
expect_json after '"unknown tracker version 2" in d["failed"]["entries"][1]["error"]' True
expect_json after '[b["counts"]["failed"] for b in d["batches"]]' "[2]"
status_json limited --limit 1
expect_json limited 'len(d["failed"]["entries"]), d["failed"]["total"], d["failed"]["truncated"]' "1 2 True"

# The operator: gives up on the missing pool, repairs the tracker, retries.
"$rt" skip --journal "$j" 2 --reason "pool retired" >/dev/null 2>"$tmp/err"
expect_exit $? 0 "skip"
printf '\0\0\0\1' | rados -p "$pool" -N "$ns" setxattr bad csi.ceph.com/rt-version
"$rt" retry --journal "$j" --failed >/dev/null 2>"$tmp/err"
expect_exit $? 0 "retry --failed"
status_json retried
expect_json retried "$counts" "5 2 2 0 0 1 0"
"$rt" replay --journal "$j" >"$tmp/out" 2>"$tmp/err"
expect_exit $? 0 "replay after the repair"
status_json end
expect_json end "$counts" "5 0 4 0 0 1 0"
expect_json end 'd["failed"]["total"], d["failed"]["entries"]' "0 []"

# The repaired tracker: removing k took its count to 0 and deleted it; the
# add of z, blocked until then, made it again.
"$rt" -p "$pool" -N "$ns" show bad >"$tmp/out" 2>&1
if [ "$(sed -n 's/^refcount: //p' "$tmp/out")" = 1 ] &&
	[ "$(tail -n 1 "$tmp/out")" = "normal z" ]; then
	pass
else
	fail "tracker bad is not just 'normal z': $(cat "$tmp/out")"
fi

rados -p "$pool" -N "$ns" rm bad 2>/dev/null
rados -p "$pool" -N "$ns" rm good 2>/dev/null
finish status-replay
