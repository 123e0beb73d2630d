#!/usr/bin/python3
"""check_metrics.py - checks a metrics file written by `reftrack run`.

Usage: check_metrics.py METRICS STATUS_JSON [NAME{LABELS}=VALUE ...]

Parses METRICS strictly as the Prometheus text exposition format that
node_exporter's textfile collector reads (a HELP and a TYPE line before
each family's samples, valid names and label syntax, float values, no
series twice, counters named *_total), then checks it against STATUS_JSON,
the output of `reftrack status --json` taken right after the run:
entries by state, the number of batches, and entries ever submitted.
Each further argument is an expected sample, e.g.
'reftrack_last_run_finished=1' or
'reftrack_last_run_files{result="rejected"}=2' (the journal label is
implied).  Prints what is wrong and exits 1, or prints "metrics ok".
"""
import json
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)\})? (\S+)$" % (NAME, LABEL, LABEL))


def parse(text):
    errors = []
    families = {}  # name -> {"type":..., "help":...}
    samples = {}   # (name, frozenset(labels)) -> value
    current = None
    if not text.endswith("\n"):
        errors.append("file does not end with a newline")
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not re.fullmatch(NAME, parts[2]):
                errors.append("line %d: bad HELP: %r" % (n, line))
                continue
            if parts[2] in families:
                errors.append("line %d: second HELP for %s" % (n, parts[2]))
            families[parts[2]] = {"help": parts[3], "type": None}
            current = parts[2]
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[2] != current:
                errors.append("line %d: TYPE not right after its HELP: %r" % (n, line))
                continue
            if parts[3] not in ("gauge", "counter"):
                errors.append("line %d: unexpected type %s" % (n, parts[3]))
            families[current]["type"] = parts[3]
            if parts[3] == "counter" and not current.endswith("_total"):
                errors.append("line %d: counter %s is not named *_total" % (n, current))
            if parts[3] == "gauge" and current.endswith("_total"):
                errors.append("line %d: gauge %s is named like a counter" % (n, current))
            continue
        if line.startswith("#") or not line:
            errors.append("line %d: unexpected line %r" % (n, line))
            continue
        m = SAMPLE.match(line)
        if not m:
            errors.append("line %d: not a sample: %r" % (n, line))
            continue
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        if name != current or families[name]["type"] is None:
            errors.append("line %d: sample of %s outside its family" % (n, name))
        try:
            v = float(value)
        except ValueError:
            errors.append("line %d: value %r is not a number" % (n, value))
            continue
        pairs = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels))
        key = (name, pairs)
        if key in samples:
            errors.append("line %d: series %s{%s} twice" % (n, name, labels))
        samples[key] = v
    return families, samples, errors


def get(samples, name, **labels):
    for (n, pairs), v in samples.items():
        d = dict(pairs)
        d.pop("journal", None)
        if n == name and d == labels:
            return v
    return None


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 64
    with open(sys.argv[1]) as f:
        families, samples, errors = parse(f.read())
    with open(sys.argv[2]) as f:
        status = json.load(f)

    journals = {dict(p).get("journal") for (_, p) in samples}
    if journals != {status["journal"]["dir"]}:
        errors.append("journal labels %r, want only %r" % (journals, status["journal"]["dir"]))
    for state, count in status["counts"].items():
        if state == "total":
            continue
        got = get(samples, "reftrack_entries", state=state.replace("_", "-"))
        if got != count:
            errors.append("reftrack_entries{state=%r} is %r, journal has %d" % (state, got, count))
    nb = sum(get(samples, "reftrack_batches", state=s) or 0
             for s in ("complete", "incomplete", "attention", "pruned"))
    if nb != len(status["batches"]):
        errors.append("reftrack_batches add up to %r, journal has %d batches" % (nb, len(status["batches"])))
    got = get(samples, "reftrack_entries_submitted_total")
    if got != status["journal"]["next_seq"] - 1:
        errors.append("reftrack_entries_submitted_total is %r, journal's next seq is %d"
                      % (got, status["journal"]["next_seq"]))
    applied = get(samples, "reftrack_entries_applied_total")
    pruned = get(samples, "reftrack_entries_pruned_total")
    if applied is None or pruned is None or applied < status["counts"]["done"]:
        errors.append("reftrack_entries_applied_total %r is below the done entries %d"
                      % (applied, status["counts"]["done"]))
    start = get(samples, "reftrack_last_run_start_timestamp_seconds")
    end = get(samples, "reftrack_last_run_end_timestamp_seconds")
    if start is None or end is None or not 1e9 < start <= end:
        errors.append("run timestamps %r .. %r" % (start, end))

    for want in sys.argv[3:]:
        m = re.fullmatch(r"(%s)(?:\{(.*)\})?=(\S+)" % NAME, want)
        if not m:
            errors.append("bad expectation %r" % want)
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"', m.group(2) or ""))
        got = get(samples, m.group(1), **labels)
        if got != float(m.group(3)):
            errors.append("%s is %r, want %s" % (want.split("=")[0] if not m.group(2) else
                                                 want.rsplit("=", 1)[0], got, m.group(3)))
    for e in errors:
        print("metrics: " + e, file=sys.stderr)
    if errors:
        return 1
    print("metrics ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
