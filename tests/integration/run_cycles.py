#!/usr/bin/python3
"""run_cycles.py - the workload and the checker of test_run_cycles.sh (the
acceptance test of `reftrack run` over cron-like cycles).

  gen    writes the files that arrive before each cycle into OUT/cNN/, and
         OUT/plan.json saying which are valid, which are invalid, which is
         a duplicate, and the expected totals after each cycle
  check  reads every tracker of the namespace back (python rados bindings,
         through replay_model.read_trackers) and compares it with the model:
         every valid file's requests applied exactly once, in the order the
         spool takes them (cycle by cycle, by name within a cycle); the
         duplicate applied not at all

The batch semantics are replay_model.apply, the replay tests' model,
written from the issue and not from src/lib.  The workload steers itself by
the model's state so that adds, removes, masks, deletes and re-creations
all happen, and it plants one pair that makes a second application of the
duplicated file visible: that file adds key "dupk" to a tracker which a
later file removes, so applying the duplicate again would bring it back.
"""
import argparse
import json
import os
import random
import sys

# No __pycache__ in the source tree from a test run.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replay_model import MASK, NORMAL, apply, fmt, read_trackers  # noqa: E402

CYCLES = 20
DUP_SOURCE_CYCLE = 3    # the file that is dropped again ...
DUP_CYCLE = 15          # ... here, under another name
DUP_REMOVE_CYCLE = 8    # where "dupk" is removed again
INVALID = {4: "c04-2-invalid.yaml", 12: "c12-1-invalid.yaml"}
DUP_TRACKER = "dupt"


def write_batch(path, pool, ns, reqs, comment):
    with open(path, "w") as f:
        f.write("# %s\nversion: 1\ndefaults: {pool: %s, namespace: %s}\n"
                "requests:\n" % (comment, json.dumps(pool), json.dumps(ns)))
        for r in reqs:
            f.write("  - {tracker: %s" % r["tracker"])
            for field in ("add", "remove", "mask"):
                if r.get(field):
                    f.write(", %s: [%s]" % (field, ", ".join(r[field])))
            f.write("}\n")


def make_requests(rng, state, trackers, keys, n):
    reqs = []
    for _ in range(n):
        t = rng.choice(trackers)
        st = state.get(t)
        if st is None or rng.random() < 0.45:
            req = {"tracker": t, "op": "add",
                   "add": rng.sample(keys, rng.randint(1, 3))}
        else:
            held = sorted(k for k in st if k in keys)
            pick = set(rng.sample(held, min(len(held), rng.randint(1, 2))))
            if rng.random() < 0.3 or not pick:
                pick.add(rng.choice(keys))
            order = sorted(pick)
            rng.shuffle(order)
            remove, mask = [], []
            for k in order:
                (mask if rng.random() < 0.3 else remove).append(k)
            req = {"tracker": t, "op": "remove", "remove": remove,
                   "mask": mask}
        state[t], _ = apply(st, req)
        reqs.append(req)
    return reqs


def gen(args):
    rng = random.Random(args.seed)
    trackers = ["ct%02d" % i for i in range(args.trackers)]
    keys = ["k%d" % i for i in range(6)]
    state = {}
    cycles = []
    applied_total = 0
    dup_source = None
    for c in range(1, CYCLES + 1):
        d = os.path.join(args.out, "c%02d" % c)
        os.makedirs(d, exist_ok=True)
        files = []
        nfiles = 1 + (c % 2)
        for i in range(1, nfiles + 1):
            name = "c%02d-%d.yaml" % (c, i)
            reqs = make_requests(rng, state, trackers, keys, args.entries)
            if c == DUP_SOURCE_CYCLE and i == 1:
                req = {"tracker": DUP_TRACKER, "op": "add",
                       "add": ["dupk", "stay"]}
                state[DUP_TRACKER], _ = apply(state.get(DUP_TRACKER), req)
                reqs.append(req)
            if c == DUP_REMOVE_CYCLE and i == 1:
                req = {"tracker": DUP_TRACKER, "op": "remove",
                       "remove": ["dupk"], "mask": []}
                state[DUP_TRACKER], _ = apply(state.get(DUP_TRACKER), req)
                reqs.append(req)
            path = os.path.join(d, name)
            write_batch(path, args.pool, args.ns, reqs,
                        "run cycles test, seed %d, cycle %d" % (args.seed, c))
            files.append({"name": name, "valid": True, "requests": reqs})
            applied_total += len(reqs)
            if c == DUP_SOURCE_CYCLE and i == 1:
                dup_source = path
        if c in INVALID:
            name = INVALID[c]
            with open(os.path.join(d, name), "w") as f:
                if c == 4:
                    # A request without a tracker, at line 5.
                    f.write("version: 1\ndefaults: {pool: %s}\nrequests:\n"
                            "  - {tracker: ok, add: [a]}\n"
                            "  - {add: [b]}\n" % json.dumps(args.pool))
                else:
                    f.write("version: 7\nrequests: []\n")
            files.append({"name": name, "valid": False})
        if c == DUP_CYCLE:
            name = "c%02d-9-resent.yaml" % c
            with open(dup_source, "rb") as src, \
                    open(os.path.join(d, name), "wb") as dst:
                dst.write(src.read())
            files.append({"name": name, "valid": True, "duplicate": True})
        files.sort(key=lambda f: f["name"])
        cycles.append({"cycle": c, "files": files,
                       "entries_total": applied_total})
    plan = {"seed": args.seed, "pool": args.pool, "ns": args.ns,
            "cycles": cycles}
    with open(os.path.join(args.out, "plan.json"), "w") as f:
        json.dump(plan, f)
    # The duplicate must matter: applied again at the end, it would change
    # the final state.
    again, _ = apply(state.get(DUP_TRACKER),
                     {"tracker": DUP_TRACKER, "op": "add",
                      "add": ["dupk", "stay"]})
    assert again != state.get(DUP_TRACKER), "duplicate would not be visible"
    return 0


def check(args):
    with open(args.plan) as f:
        plan = json.load(f)
    state = {}
    for cyc in plan["cycles"]:
        for fl in cyc["files"]:
            if not fl["valid"] or fl.get("duplicate"):
                continue
            for req in fl["requests"]:
                state[req["tracker"]], _ = apply(state.get(req["tracker"]),
                                                 req)
    objs = read_trackers(plan["pool"], plan["ns"])
    errors = []
    for t in sorted(set(objs) | {t for t, s in state.items() if s}):
        want = state.get(t) or {}
        if t not in objs:
            errors.append("%s: missing, want %s" % (t, fmt(want)))
            continue
        _, data, omap = objs[t]
        bad = {k: v for k, v in omap.items() if v not in (b"\x01", b"\x02")}
        if bad:
            errors.append("%s: keys with bad values %r" % (t, bad))
            continue
        got = {k: NORMAL if v == b"\x01" else MASK for k, v in omap.items()}
        if got != want:
            errors.append("%s: keys %s, want %s" % (t, fmt(got), fmt(want)))
    print("run_cycles: %d trackers in the model, %d objects, %d differences"
          % (sum(1 for s in state.values() if s), len(objs), len(errors)))
    for e in errors[:40]:
        print("  " + e, file=sys.stderr)
    return 1 if errors else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--seed", type=int, required=True)
    g.add_argument("--pool", required=True)
    g.add_argument("--ns", required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--entries", type=int, default=120)
    g.add_argument("--trackers", type=int, default=30)
    c = sub.add_parser("check")
    c.add_argument("--plan", required=True)
    args = ap.parse_args()
    return gen(args) if args.cmd == "gen" else check(args)


if __name__ == "__main__":
    sys.exit(main())
