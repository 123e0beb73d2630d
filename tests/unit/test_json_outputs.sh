#!/bin/bash
# test_json_outputs.sh - every subcommand's --format json output, success
# and error, against its JSON Schema in schemas/ (tests/check_json.py), and
# json-pretty parsing to the same value as json; without a cluster (add, rm
# and show succeed only with one: tests/integration/test_cli_conventions.sh
# covers them, and their errors are here).
# A command that changes the journal runs on two copies of it, one per
# format, so that both see the same journal.
# Run from the repository root; the tool is $RT_BUILD/reftrack.
set -u
build=${RT_BUILD:-build}
rt=$build/reftrack
py=${PYTHON:-python3}
[ -z "${PYTHON:-}" ] && [ -x /usr/bin/python3 ] && py=/usr/bin/python3
. "$(dirname "$0")/../testlib.sh"
tl_tmpdir rt-json-outputs

tl_require_built json-outputs "$rt"

# both NAME SCHEMA WANT_RC [--many] [--copy] -- ARGS...: runs reftrack ARGS
# with --format json and with -f json-pretty (each on a fresh copy of $j,
# at the same path, with --copy), checks the exit status of both, and the
# outputs against SCHEMA and each other.
both() {
	local name=$1 schema=schemas/$2.schema.json want=$3 many= copy=0 rc1 rc2
	local jj=$j f
	shift 3
	while [ "$1" != -- ]; do
		case $1 in
		--many) many=--many ;;
		--copy) copy=1 ;;
		esac
		shift
	done
	shift
	[ $copy -eq 1 ] && jj=$tmp/copy
	local rcs=()
	for f in json json-pretty; do
		if [ $copy -eq 1 ]; then
			rm -rf "$jj"
			if [ -d "$j" ]; then cp -a "$j" "$jj"; fi
		fi
		${before_each:+eval "$before_each"}
		"$rt" --journal "$jj" "$@" --format "$f" >"$tmp/$name.$f" \
			2>"$tmp/$name.err-$f"
		rcs+=($?)
	done
	rc1=${rcs[0]}
	rc2=${rcs[1]}
	cp "$tmp/$name.err-json" "$tmp/$name.err"
	[ "$rc1" -eq "$want" ] && [ "$rc2" -eq "$want" ] && pass ||
		fail "$name: exit $rc1 (json), $rc2 (json-pretty), want $want: $(cat "$tmp/$name.err")"
	# shellcheck disable=SC2086
	"$py" tests/check_json.py $many "$schema" "$tmp/$name.json" \
		"$tmp/$name.json-pretty" &&
		pass || fail "$name: output does not match $schema"
}

# error NAME WANT_RC ARGS...: the command fails with WANT_RC, prints one
# error object (schemas/error.schema.json) naming that status on stdout, in
# both formats, and its message on stderr.
error() {
	local name=$1 want=$2
	shift 2
	both "$name" error "$want" -- "$@"
	[ -s "$tmp/$name.err" ] && pass || fail "$name: no message on stderr"
	"$py" - "$tmp/$name.json" "$want" "$tmp/$name.err" <<'PY' && pass || fail "$name: error object does not say exit $want or the message"
import json, sys
d = json.load(open(sys.argv[1]))
err = open(sys.argv[3]).read()
assert d["exit"] == int(sys.argv[2]), d
assert d["error"] in err, (d["error"], err)
PY
}

j=$tmp/journal
cat >"$tmp/b1.yaml" <<'YAML'
version: 1
defaults:
  pool: rbd
requests:
  - tracker: t1
    add: [k1, k2]
  - tracker: t2
    remove: [k3]
    mask: [k4]
  - tracker: t3
    id: r3
    add: [k5]
YAML

# ---- submit ---------------------------------------------------------------
both submit-dry submit 0 -- submit --dry-run "$tmp/b1.yaml"
both submit-new submit 0 --copy -- submit "$tmp/b1.yaml"
"$rt" submit --journal "$j" "$tmp/b1.yaml" >/dev/null 2>&1 && pass ||
	fail "submit into $j failed"
both submit-again submit 0 -- submit "$tmp/b1.yaml"
"$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["already_present"] and d["entries"] == 3, d' \
	"$tmp/submit-again.json" && pass || fail "submit again: not already_present with 3 entries"

# ---- status, show-entry, export --------------------------------------------
both status status 0 -- status
"$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); c=d["counts"]; assert "in_flight" in c and "needs_review" in c and "in-flight" not in c, c' \
	"$tmp/status.json" && pass || fail "status: counts keys are not snake_case"
both show-entry entry 0 -- show-entry 2
both export entry 0 --many -- export
[ "$(wc -l <"$tmp/export.json")" -eq 3 ] && pass || fail "export: not 3 lines"
both export-state entry 0 --many -- export --state pending

# ---- check, backup, replay --dry-run -------------------------------------------
both check check 0 -- check
before_each='rm -rf "$tmp/bk"'
both backup backup 0 --copy -- backup "$tmp/bk"
before_each=
"$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["destination"] == sys.argv[2], d' \
	"$tmp/backup.json" "$tmp/bk" && pass || fail "backup: destination"
rm -rf "$tmp/bk"

# ---- skip, retry, prune, replay, run: each on two copies -----------------------
both skip skip 0 --copy -- skip 3 --reason "not wanted"
both retry retry 0 --copy -- retry --failed
"$rt" skip --journal "$j" 1 --reason x >/dev/null && "$rt" skip --journal "$j" 2 --reason x >/dev/null &&
	"$rt" skip --journal "$j" 3 --reason x >/dev/null && pass || fail "skipping every entry"
both prune prune 0 --copy -- prune --done-older-than 0
# Nothing left to apply: replay, its dry run and run do not connect.
both replay replay 0 --copy -- replay
both replay-dry replay-dry-run 0 -- replay --dry-run
mkdir -p "$tmp/spool"
both run run-event 0 --copy --many -- run --spool "$tmp/spool"
"$py" -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
assert evs[-1]["event"] == "run.end" and evs[-1]["exit"] == 0, evs[-1]' "$tmp/run.json" &&
	pass || fail "run: the last event is not run.end with exit 0"

# ---- errors, for every subcommand -------------------------------------------------
none=$tmp/no-journal
error e-status 66 status --journal "$none"
error e-show-entry 66 show-entry 1 --journal "$none"
error e-show-entry-seq 66 show-entry 99
error e-export 66 export --journal "$none"
error e-prune 66 prune --done-older-than 7d --journal "$none"
error e-retry 66 retry --entry 99
error e-skip 66 skip 99 --reason x
error e-submit 66 submit "$tmp/no-such.yaml"
error e-check 66 check --journal "$none"
error e-backup 64 backup
error e-backup-none 66 backup "$tmp/bk2" --journal "$none"
error e-replay-dry 66 replay --dry-run --journal "$none"
error e-replay-batch 64 replay --batch 0000
printf 'version: 1\nrequests: [\n' >"$tmp/bad.yaml"
error e-submit-bad 65 submit "$tmp/bad.yaml"
error e-run 64 run
error e-replay-usage 64 replay --inflight x
error e-status-usage 64 status --bogus
error e-prune-unit 64 prune --done-older-than 1
error e-export-state 64 export --state pendng
error e-add 64 add T k
error e-rm 64 rm T k
error e-show 64 show T
error e-repair 64 repair T --recount
error e-repair-what 64 -p rbd repair T
# Connecting with a configuration file that is not there: 78.
error e-show-conf 78 -c "$tmp/no.conf" -p rbd show T
error e-unknown-sub 64 statsu
error e-scan 64 scan -N x --all-namespaces
error e-scan-emit 64 scan --emit-batch "$tmp/out.yaml"
error e-scan-live 66 scan --live-keys "$tmp/no-such-list"
error e-scan-conf 78 -c "$tmp/no.conf" -p rbd scan
"$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["command"] is None and "did you mean" in d["error"], d' \
	"$tmp/e-unknown-sub.json" && pass || fail "unknown subcommand: error object: $(cat "$tmp/e-unknown-sub.json")"

# --json is --format json.
"$rt" status --journal "$j" --json >"$tmp/alias.json" 2>/dev/null
"$py" -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); assert a == b' \
	"$tmp/alias.json" "$tmp/status.json" 2>/dev/null
# (status changed since: compare shapes instead)
"$py" tests/check_json.py schemas/status.schema.json "$tmp/alias.json" && pass ||
	fail "--json: not the status schema's one-line JSON"

# Every schema names its version in $id and requires schema_version.
for s in schemas/*.schema.json; do
	case $s in schemas/batch.schema.json) continue ;; esac
	"$py" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert "/schemas/1/" in d["$id"], d["$id"]
assert "schema_version" in d["required"], d["required"]' "$s" && pass ||
		fail "$s: no version in \$id or schema_version not required"
done

finish json-outputs
