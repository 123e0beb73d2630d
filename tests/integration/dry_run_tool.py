#!/usr/bin/python3
"""dry_run_tool.py - what test_dry_run.sh needs besides the CLI.

  snapshot --pool P [--pool P ...] --ns NS
      Prints every object of namespace NS in the pools, sorted, with its
      RADOS object version, data, xattrs and omap, as one JSON document:
      two snapshots are equal only if no object was written in between
      (every write moves the version).  Read with the python rados
      bindings, independently of the library.
  compare DRY_RUN_JSON EXPORT_BEFORE EXPORT_AFTER
      Compares each prediction of `replay --dry-run --json` with the entry
      as `reftrack export` recorded it after the real replay: state,
      outcome and error text.  Every entry a replay would look at
      (pending, in flight or blocked in EXPORT_BEFORE) must have exactly
      one prediction, and no other entry any.  Prints each difference and
      a count; exits 1 if there is any.
"""
import argparse
import json
import sys

import rados


def snapshot(args):
    cluster = rados.Rados(conffile="")
    cluster.connect()
    objs = []
    try:
        for pool in args.pool:
            io = cluster.open_ioctx(pool)
            io.set_namespace(args.ns)
            names = sorted(o.key for o in io.list_objects())
            for name in names:
                with rados.ReadOpCtx() as op:
                    it, _ = io.get_omap_vals(op, "", "", 1 << 30)
                    io.operate_read_op(op, name)
                    omap = [(k, (v or b"").hex()) for k, v in it]
                version = io.get_last_version()
                data = io.read(name, 1 << 20).hex()
                xattrs = sorted((k, v.hex()) for k, v in io.get_xattrs(name))
                objs.append({"pool": pool, "object": name,
                             "version": version, "data": data,
                             "xattrs": xattrs, "omap": omap})
            io.close()
    finally:
        cluster.shutdown()
    json.dump(objs, sys.stdout, indent=1, sort_keys=True)
    print()


def load_export(path):
    entries = {}
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            entries[e["seq"]] = e
    return entries


def compare(args):
    with open(args.dry_run) as f:
        dry = json.load(f)
    before = load_export(args.export_before)
    after = load_export(args.export_after)
    waiting = {s for s, e in before.items()
               if e["state"] in ("pending", "in-flight", "blocked")}
    diffs = []
    seen = set()
    for p in dry["entries"]:
        seq = p["seq"]
        if seq in seen:
            diffs.append("entry %d: predicted twice" % seq)
            continue
        seen.add(seq)
        if seq not in waiting:
            diffs.append("entry %d: predicted, but it was %s before"
                         % (seq, before.get(seq, {}).get("state")))
            continue
        got = after[seq]
        for field in ("state", "outcome", "error"):
            if p[field] != got[field]:
                diffs.append("entry %d: %s predicted %r, replay recorded %r"
                             % (seq, field, p[field], got[field]))
    for seq in sorted(waiting - seen):
        diffs.append("entry %d (%s): no prediction"
                     % (seq, before[seq]["state"]))
    for d in diffs[:40]:
        print(d)
    states = {}
    for p in dry["entries"]:
        states[p["state"]] = states.get(p["state"], 0) + 1
    print("%d predictions (%s), %d differences"
          % (len(dry["entries"]),
             ", ".join("%s %d" % kv for kv in sorted(states.items())),
             len(diffs)))
    return 1 if diffs else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snapshot")
    s.add_argument("--pool", action="append", required=True)
    s.add_argument("--ns", required=True)
    c = sub.add_parser("compare")
    c.add_argument("dry_run")
    c.add_argument("export_before")
    c.add_argument("export_after")
    args = ap.parse_args()
    if args.cmd == "snapshot":
        snapshot(args)
        return 0
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
