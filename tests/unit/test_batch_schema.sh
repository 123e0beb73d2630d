#!/bin/sh
# test_batch_schema.sh - the C parser and the published JSON Schema agree.
#
# Every file in tests/data/batch/valid/, tests/data/batch/invalid/ and
# examples/ goes to both judges:
#   C       $RT_BUILD/tests/unit/test_batch --check FILE  ("ok" or an error)
#   Python  PyYAML's SafeLoader + jsonschema's Draft202012Validator with
#           schemas/batch.schema.json (no format checks)
# and the test fails when they disagree, or when a verdict does not match
# the directory (valid/ and examples/ must pass, invalid/ must fail).
#
# Python applies, beside the schema, the rules a JSON Schema cannot see.
# Each is a rule of reftrack-batch(5), enforced in C as well:
#   YAML level (on the bytes and the event stream, before any schema):
#     - at most 1 GiB (RT_BATCH_MAX_BYTES); UTF-8, no NUL bytes
#     - one document; %YAML 1.1 or 1.2 if a directive is given
#     - no anchors, no aliases; no merge keys (<<)
#     - only the tags !!str !!int !!float !!bool !!null on scalars,
#       !!seq on sequences, !!map on mappings
#     - no duplicate keys in a mapping
#     - no node over about 1 MiB (RT_BATCH_MAX_NODE_BYTES; approximated
#       here by the distance between events)
#   Beyond the schema (on the loaded document, once the schema passes):
#     - length limits in bytes of UTF-8 (maxLength counts characters)
#     - a key in both `remove` and `mask` of one request
#     - `defaults` before `requests` in the file
# Schema level: everything else (fields, types, required, minItems,
# maxItems, uniqueItems, minLength, the add / remove+mask exclusivity,
# a pool for every request).
#
# A last case checks the C scalar typer against PyYAML's own resolver
# over generated strings (plain scalars: yes/no/on/off, ints, floats,
# sexagesimals, timestamps, null), since both judges' agreement rests on it.
#
# Run from the repo root; RT_BUILD (default build) names the build tree,
# RT_TEST_DATA the corpus, PYTHON the interpreter.
set -u
cd "$(dirname "$0")/../.." || exit 1
build=${RT_BUILD:-build}
bin=$build/tests/unit/test_batch
if [ ! -x "$bin" ]; then
	echo "test_batch_schema: $bin is missing; build it first (make B=$build)"
	echo "batch-schema: 0 passed, 1 failed"
	exit 1
fi
exec "${PYTHON:-python3}" - "$bin" "${RT_TEST_DATA:-tests/data/batch}" \
	schemas/batch.schema.json examples <<'PYEOF'
import glob
import json
import os
import random
import subprocess
import sys

try:
    import jsonschema
    import yaml
except ImportError as e:
    print("test_batch_schema: %s (apt-get install python3-yaml "
          "python3-jsonschema)" % e)
    print("batch-schema: 0 passed, 1 failed")
    sys.exit(1)

BIN, DATA, SCHEMA, EXAMPLES = sys.argv[1:5]

MAX_BYTES = 1 << 30
MAX_NODE = 1 << 20
BYTE_LIMITS = {"tracker": 2048, "pool": 256, "namespace": 2048, "id": 256}
KEY_MAX = 2048
STD = "tag:yaml.org,2002:"
SCALAR_TAGS = {STD + t for t in ("str", "int", "float", "bool", "null")}


class Reject(Exception):
    pass


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate and merge keys."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = []
            for key_node, _ in node.value:
                if key_node.tag == STD + "merge":
                    raise Reject("merge key")
                key = self.construct_object(key_node, deep=True)
                if any(type(k) is type(key) and k == key for k in seen):
                    raise Reject("duplicate key %r" % (key,))
                seen.append(key)
        return super().construct_mapping(node, deep)


StrictLoader.add_constructor(
    STD + "map", lambda loader, node: loader.construct_mapping(node, True))


def yaml_level(raw):
    """The YAML-level rules; returns the text to load."""
    if len(raw) > MAX_BYTES:
        raise Reject("over RT_BATCH_MAX_BYTES")
    if b"\0" in raw:
        raise Reject("NUL byte")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Reject("not UTF-8: %s" % e)
    docs = 0
    last = 0
    for ev in yaml.parse(text, Loader=yaml.SafeLoader):
        if ev.end_mark.index - last > MAX_NODE:
            raise Reject("node over RT_BATCH_MAX_NODE_BYTES")
        last = ev.end_mark.index
        if isinstance(ev, yaml.DocumentStartEvent):
            docs += 1
            if docs > 1:
                raise Reject("more than one document")
            if ev.version not in (None, (1, 1), (1, 2)):
                raise Reject("YAML version %r" % (ev.version,))
        if isinstance(ev, yaml.AliasEvent):
            raise Reject("alias")
        if isinstance(ev, (yaml.ScalarEvent, yaml.SequenceStartEvent,
                           yaml.MappingStartEvent)):
            if ev.anchor is not None:
                raise Reject("anchor")
            if ev.tag is not None:
                ok = (SCALAR_TAGS if isinstance(ev, yaml.ScalarEvent)
                      else {STD + "seq"}
                      if isinstance(ev, yaml.SequenceStartEvent)
                      else {STD + "map"})
                if ev.tag not in ok:
                    raise Reject("tag %s" % ev.tag)
    return text


def beyond_schema(doc):
    """Rules the schema cannot express, on a schema-valid document."""
    keys = list(doc)
    if "defaults" in doc and keys.index("defaults") > keys.index("requests"):
        raise Reject("defaults after requests")

    def nbytes(s, what, limit):
        try:
            n = len(s.encode("utf-8"))
        except UnicodeEncodeError:
            raise Reject("%s is not encodable as UTF-8" % what)
        if n > limit:
            raise Reject("%s is %d bytes, over %d" % (what, n, limit))

    for field in ("pool", "namespace"):
        if field in doc.get("defaults", {}):
            nbytes(doc["defaults"][field], field, BYTE_LIMITS[field])
    for i, req in enumerate(doc["requests"]):
        for field, limit in BYTE_LIMITS.items():
            if field in req:
                nbytes(req[field], "requests[%d].%s" % (i, field), limit)
        for op in ("add", "remove", "mask"):
            for k in req.get(op, []):
                nbytes(k, "requests[%d].%s key" % (i, op), KEY_MAX)
        both = set(req.get("remove", [])) & set(req.get("mask", []))
        if both:
            raise Reject("requests[%d]: %r in remove and mask" % (i, both))


def python_verdict(path, validator):
    """None if valid, else why not."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = yaml_level(raw)
        doc = yaml.load(text, Loader=StrictLoader)
    except Reject as e:
        return "yaml-level: %s" % e
    except Exception as e:  # any loader failure is a rejection
        return "yaml: %s" % str(e).replace("\n", " ")
    errors = sorted(validator.iter_errors(doc), key=lambda e: e.path)
    if errors:
        e = errors[0]
        return "schema: %s: %s" % ("/".join(map(str, e.path)), e.message)
    try:
        beyond_schema(doc)
    except Reject as e:
        return "beyond-schema: %s" % e
    return None


def c_verdict(path):
    p = subprocess.run([BIN, "--check", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    out = p.stdout.decode("utf-8", "replace").strip()
    if p.returncode == 0 and out == "ok":
        return None
    if p.returncode == 1:
        return out
    raise RuntimeError("%s --check %s: exit %d: %s" %
                       (BIN, path, p.returncode, out))


def resolver_case():
    """The C scalar typer against PyYAML's resolver and constructors."""
    rng = random.Random(20240611)
    alphabet = "0123456789_:.-+eExXbBo aAfFinNtTyYsSlLuU~<=Z\t"
    samples = set()
    for _ in range(60000):
        n = rng.randint(0, 12)
        samples.add("".join(rng.choice(alphabet) for _ in range(n)))
    digits = "0123456789"
    for _ in range(20000):
        # shapes close to the patterns, where mistakes would hide
        shape = rng.choice([
            "%s%s%s", "%s:%s:%s", "%s.%se%s%s", "0%s%s", "%s-%s-%s",
            "%s-%s-%sT%s:%s:%s", "%s-%s-%s %s:%s:%s.%s %s", ".%s%s",
            "%s:%s.%s",
        ])
        parts = []
        for _ in range(shape.count("%s")):
            parts.append("".join(rng.choice(digits + "_-+xb:")
                                 if rng.random() < 0.15 else
                                 rng.choice(digits)
                                 for _ in range(rng.randint(1, 4))))
        samples.add(shape % tuple(parts))
    samples |= {"yes", "No", "oN", "OFF", "~", "null", "Null", "nULL", "<<",
                "=", "<", "==", ".inf", "-.Inf", "+.INF", ".nan", "-.nan",
                "0b", "0x", "0o17", "1_", "_1", "1__0", "190:20:30",
                "1:60", "0:30", "1.5e5", "1.5e+5", "2001-12-14",
                "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5",
                "2002-12-14 ", "1.0", "0001.0", "0b1", "0x01", "+1", "01"}
    samples = sorted(s for s in samples if "\n" not in s)
    p = subprocess.run([BIN, "--resolve"], input="\n".join(samples) + "\n",
                       stdout=subprocess.PIPE, universal_newlines=True)
    got = p.stdout.split("\n")
    resolver = yaml.resolver.Resolver()
    constructor = yaml.SafeLoader("")
    bad = []
    for s, g in zip(samples, got):
        tag = resolver.resolve(yaml.ScalarNode, s, (True, False))
        name = tag[len(STD):]
        want = name
        if name in ("int", "float"):
            node = yaml.ScalarNode(tag, s)
            try:
                v = (constructor.construct_yaml_int(node) if name == "int"
                     else constructor.construct_yaml_float(node))
                one = v == 1
            except Exception:
                one = False
            want = "%s %d" % (name, one)
        if g != want:
            bad.append("%r: C says %r, PyYAML %r" % (s, g, want))
    if len(got) - 1 != len(samples):
        bad.append("C answered %d of %d" % (len(got) - 1, len(samples)))
    return len(samples), bad


def main():
    with open(SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    passed = failed = 0
    files = ([(p, True) for p in sorted(glob.glob(DATA + "/valid/*.yaml"))] +
             [(p, True) for p in sorted(glob.glob(EXAMPLES + "/*.yaml"))] +
             [(p, False) for p in sorted(glob.glob(DATA + "/invalid/*.yaml"))])
    if len(files) < 50:
        print("too few corpus files (%d) under %s" % (len(files), DATA))
        failed += 1
    for path, want_valid in files:
        py = python_verdict(path, validator)
        c = c_verdict(path)
        if (py is None) != (c is None):
            failed += 1
            print("DISAGREE %s\n  C:      %s\n  Python: %s" %
                  (path, c or "ok", py or "ok"))
        elif (py is None) != want_valid:
            failed += 1
            print("WRONG %s: both say %s\n  C:      %s\n  Python: %s" %
                  (path, "valid" if py is None else "invalid",
                   c or "ok", py or "ok"))
        else:
            passed += 1
            if os.environ.get("VERBOSE"):
                print("%s\n  C:      %s\n  Python: %s" %
                      (path, c or "ok", py or "ok"))
    n, bad = resolver_case()
    if bad:
        failed += 1
        print("resolver: %d of %d strings typed differently:" % (len(bad), n))
        for line in bad[:20]:
            print("  " + line)
    else:
        passed += 1
        print("resolver: %d plain scalars typed as PyYAML types them" % n)
    print("batch-schema: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


sys.exit(main())
PYEOF
