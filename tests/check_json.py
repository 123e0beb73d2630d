#!/usr/bin/env python3
"""check_json.py [--many] SCHEMA JSON [PRETTY]: reftrack's JSON output
against its schema (JSON Schema 2020-12, python3-jsonschema).

JSON is what a command printed with --format json: one document on one line
(--many: one or more, one per line, as export and run print).  PRETTY, if
given, is what the same command printed with --format json-pretty: the same
documents, indented, which must parse to the same values (keys that differ
from one run to the next, "seconds", "time" and "pid", are left out of that
comparison, and so is a log event's "message").  Prints what is wrong on stderr; exit 0 if nothing is.
"""
import json
import sys

import jsonschema

VOLATILE = {"seconds", "time", "pid"}


def documents(text):
    dec = json.JSONDecoder()
    docs, i = [], 0
    while True:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i == len(text):
            return docs
        doc, i = dec.raw_decode(text, i)
        docs.append(doc)


def strip(doc):
    if isinstance(doc, dict):
        # A log event's message has the seconds in it too.
        skip = VOLATILE | ({"message"} if "event" in doc else set())
        return {k: strip(v) for k, v in doc.items() if k not in skip}
    if isinstance(doc, list):
        return [strip(v) for v in doc]
    return doc


def main(argv):
    many = argv[:1] == ["--many"]
    if many:
        argv = argv[1:]
    schema_path, path = argv[0], argv[1]
    pretty_path = argv[2] if len(argv) > 2 else None
    errors = []
    with open(schema_path) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    with open(path) as f:
        text = f.read()
    try:
        docs = documents(text)
    except ValueError as e:
        print("%s: not JSON: %s: %r" % (path, e, text[:200]), file=sys.stderr)
        return 1
    if not docs:
        errors.append("no JSON document")
    if not many and len(docs) > 1:
        errors.append("%d documents, want one" % len(docs))
    lines = [l for l in text.split("\n") if l.strip()]
    if len(lines) != len(docs):
        errors.append("%d lines for %d documents: json is one line each"
                      % (len(lines), len(docs)))
    for n, doc in enumerate(docs):
        for e in validator.iter_errors(doc):
            errors.append("document %d: %s: %s" % (
                n + 1, "/".join(map(str, e.path)) or "(top)", e.message))
    if pretty_path:
        with open(pretty_path) as f:
            ptext = f.read()
        try:
            pdocs = documents(ptext)
        except ValueError as e:
            errors.append("%s: not JSON: %s" % (pretty_path, e))
            pdocs = None
        if pdocs is not None:
            if list(map(strip, pdocs)) != list(map(strip, docs)):
                errors.append("json-pretty parses to other values than json")
            if docs and ptext.count("\n") <= len(docs):
                errors.append("json-pretty is not indented")
    for e in errors:
        print("%s (%s): %s" % (path, schema_path, e), file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
