#!/bin/sh
# `reftrack status --json` validates against schemas/status.schema.json
# (JSON Schema 2020-12, checked with python3-jsonschema): for an empty
# journal, and for one with batches, a duplicate and a rejected submit.
# Run from the repository root; the tool is $RT_BUILD/reftrack.
set -u
build=${RT_BUILD:-build}
rt=$build/reftrack
schema=schemas/status.schema.json
# Debian's python3 is the one `make deps` gives jsonschema to.
py=${PYTHON:-python3}
[ -z "${PYTHON:-}" ] && [ -x /usr/bin/python3 ] && py=/usr/bin/python3
. "$(dirname "$0")/../testlib.sh"
tl_tmpdir rt-status-schema

validate() { # name file
	if "$py" - "$schema" "$2" <<'EOF'
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
doc = json.load(open(sys.argv[2]))
errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc),
                key=lambda e: list(e.path))
for e in errors:
    print("  %s: %s" % ("/".join(map(str, e.path)) or "(top)", e.message),
          file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
	then pass; else fail "$1: status --json does not match the schema"; fi
}

field() { # file python-expression-on-d
	"$py" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

tl_require_built status-schema "$rt"

j=$tmp/journal
# A rejected batch creates no journal; a run with an empty spool makes an
# empty one (nothing pending: no cluster needed).
printf 'version: 1\nrequests: []\nbogus: 1\n' >"$tmp/bad.yaml"
"$rt" submit --journal "$j" "$tmp/bad.yaml" 2>/dev/null
[ $? -eq 65 ] && pass || fail "invalid batch: exit status is not 65"
[ ! -e "$j" ] && pass || fail "a rejected batch created the journal"
mkdir "$tmp/spool"
"$rt" run --journal "$j" --spool "$tmp/spool" >/dev/null 2>&1

"$rt" status --journal "$j" --json >"$tmp/empty.json"
[ $? -eq 0 ] && pass || fail "status --json of an empty journal failed"
validate empty "$tmp/empty.json"
[ "$(field "$tmp/empty.json" "d['counts']['total'], len(d['batches'])")" = "0 0" ] &&
	pass || fail "empty journal: counts or batches not empty"

cat >"$tmp/one.yaml" <<'EOF'
version: 1
defaults:
  pool: rbd
  namespace: csi
requests:
  - tracker: vol-1
    add: [snap-1, snap-2]
  - tracker: "vol-\"2\"\t"
    id: "r\u00e9q\u0001"
    remove: [snap-1]
    mask: [snap-2]
EOF
cat >"$tmp/two.yaml" <<'EOF'
version: 1
defaults:
  pool: other
requests:
  - tracker: vol-3
    add: [a]
EOF
"$rt" submit --journal "$j" "$tmp/one.yaml" >/dev/null &&
	"$rt" submit --journal "$j" "$tmp/two.yaml" >/dev/null &&
	"$rt" submit --journal "$j" "$tmp/one.yaml" >/dev/null &&
	"$rt" submit --journal "$j" - <"$tmp/two.yaml" >/dev/null
[ $? -eq 0 ] && pass || fail "submits failed"

"$rt" status --journal "$j" --json >"$tmp/full.json"
[ $? -eq 0 ] && pass || fail "status --json failed"
validate batches "$tmp/full.json"
[ "$(field "$tmp/full.json" "d['counts']['pending'], d['counts']['total'], len(d['batches']), d['journal']['next_seq']")" = "3 3 2 4" ] &&
	pass || fail "journal with batches: wrong counts"
# show-entry --json is well-formed JSON and escapes what needs it.
"$rt" show-entry --journal "$j" --json 2 >"$tmp/entry.json" &&
	[ "$(field "$tmp/entry.json" "repr(d['tracker']), repr(d['request_id']), d['refs'][1]['type']")" = "'vol-\"2\"\\t' 'réq\\x01' mask" ]
[ $? -eq 0 ] && pass || fail "show-entry --json"
# The plain status works too.
"$rt" status --journal "$j" >/dev/null
[ $? -eq 0 ] && pass || fail "status failed"

finish status-schema
