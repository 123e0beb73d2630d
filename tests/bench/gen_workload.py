#!/usr/bin/env python3
"""gen_workload.py - the benchmark workloads, and the state they must leave.

    gen_workload.py SHAPE [--entries N] [--trackers T] [--initial-keys K]
                    [--prefix P] [--seed S] [--pool POOL] [--namespace NS]
                    [--yaml FILE] [--ops FILE] [--expect FILE]
                    [--noop-yaml FILE] [--noop-entries N]

SHAPE is w1, w1d, w2, w3 (see issue 5), w4, w5 or limits (issue 13):
  w1  one key per entry, trackers picked at random, adds and removes mixed
  w1d as w1, but every entry on a tracker of its own, so that a replayer
      has nothing to merge: one read and one write per entry, as the raw
      probe does
  w2  runs of entries on one tracker, mostly removals (a cleanup batch)
  w3  many entries for `reftrack submit` alone; no model, no expect file
  limits  requests at the documented limits: each adds 10,000 keys of
      2,048 bytes to a tracker of its own (50 of them make a 0.96 GiB file,
      within the 1 GiB limit); --yaml only
  w4  every entry adds one key to a tracker of its own that does not exist
      before the run (no --setup: the replayer creates them all)
  w5  --parts N workloads (default 2), one per replayer, over the same
      trackers: each part touches every tracker once, in an order of its
      own, and only keys of its own (the initial keys p<i> with i % N equal
      to the part's number, and the keys it adds, prefixed with its letter
      a, b, ...), so that the parts commute and one --expect file holds the
      state after all of them, whatever their interleaving

Trackers are PREFIX000000 .. (PREFIX defaults to "w1.t" etc.) and must exist
before the run, as `bench_raw --setup --keys K` makes them: the normal key
"base" and K normal keys p0 .. pK-1.  No entry touches "base", so no tracker
reaches zero.

Outputs (each optional):
  --yaml FILE       the batch (reftrack-batch(5), version 1), one request per
                    entry, defaults pool/namespace; for w5 FILE holds "{part}",
                    replaced by the part's number (one file per part)
  --ops FILE        the same entries as "TRACKER add|rm|mask KEY" lines, for
                    the probes that are not batch-driven (bench_sync, the CLI
                    loop)
  --expect FILE     the state after the entries, for bench_check --expect:
                    "NAME COUNT KEY=TYPE ..." (TYPE 1 normal, 2 mask)
  --noop-yaml FILE  --noop-entries entries (default: as many as the workload),
                    each adding a key its tracker holds at the end (normal or
                    mask): applied after the workload, every one is a no-op.
                    A replay still reads each tracker to learn that, but
                    writes nothing, so it measures the journal's own cost
                    with the cluster's part cut to reads

The same arguments always give the same files (seeded PRNG), so each
contender can get the identical workload in its own namespace.
"""

import argparse
import random
import sys

NORMAL, MASK = 1, 2

SHAPES = {
    # entries, trackers, initial keys besides "base"
    "w1": (20000, 1000, 4),
    "w1d": (20000, 20000, 4),
    "w2": (20000, 200, 60),
    "w3": (1000000, 10000, 0),
    "limits": (16, 16, 0),
    "w4": (20000, 20000, 0),
    "w5": (20000, 20000, 4),
}
KEYS_MAX, KEY_MAX = 10000, 2048  # RT_BATCH_KEYS_MAX, RT_KEY_MAX


class Model:
    """The tracker semantics of issue 2, on a dict of key -> type per
    tracker; written from the spec, independently of the library."""

    def __init__(self, names, initial_keys):
        self.trackers = {}
        if initial_keys is None:
            return  # no tracker exists yet
        for name in names:
            keys = {"base": NORMAL}
            for i in range(initial_keys):
                keys["p%d" % i] = NORMAL
            self.trackers[name] = keys

    def add(self, name, key):
        keys = self.trackers.setdefault(name, {})
        keys.setdefault(key, NORMAL)  # present (normal or mask): left alone

    def remove(self, name, key, typ):
        keys = self.trackers.get(name)
        if keys is None:
            return  # already gone
        cur = keys.get(key)
        if typ == NORMAL:
            if cur is not None:
                del keys[key]
        elif cur == NORMAL or cur is None:
            keys[key] = MASK
        if not any(t == NORMAL for t in keys.values()):
            del self.trackers[name]  # count 0: the object goes, masks too

    def count(self, name):
        keys = self.trackers.get(name, {})
        return sum(1 for t in keys.values() if t == NORMAL)


def tracker_names(prefix, n):
    return ["%s%06d" % (prefix, i) for i in range(n)]


def pick_op(rng, model, name, weights, serial, mine=None, fresh="a"):
    """One entry for tracker `name`: ("add"|"rm"|"mask", key).  `weights`
    gives add/rm/mask odds; a removal needs a key other than "base" (a mask
    a normal one), and one that `mine` accepts when given, and falls back to
    an add of a fresh key (`fresh` + serial)."""
    keys = model.trackers[name]
    op = rng.choices(("add", "rm", "mask"), weights)[0]
    if op == "rm":
        # Any key but base, normal or mask: removing a mask keeps the count.
        cand = [k for k in keys if k != "base"]
    elif op == "mask":
        cand = [k for k, t in keys.items() if k != "base" and t == NORMAL]
    else:
        cand = []
    if mine:
        cand = [k for k in cand if mine(k)]
    if cand:
        return op, rng.choice(sorted(cand))
    return "add", "%s%d" % (fresh, serial)


def gen_parts(parts, names, initial_keys, rng):
    """w5: the parts' entries (a list of op lists) and the model after all
    of them; see the module's doc."""
    model = Model(names, initial_keys)
    out = []
    for part in range(parts):
        tag = chr(ord("a") + part)
        own = set("p%d" % i for i in range(initial_keys) if i % parts == part)

        def mine(k, tag=tag, own=own):
            return k in own or k.startswith(tag)
        ops = []
        for i, name in enumerate(rng.sample(names, len(names))):
            ops.append((name,) + pick_op(rng, model, name, (50, 35, 15), i,
                                        mine, tag))
            apply(model, ops[-1])
        out.append(ops)
    return model, out


def gen_model_workload(shape, entries, names, initial_keys, rng):
    model = Model(names, None if shape == "w4" else initial_keys)
    ops = []
    if shape == "w4":
        if entries > len(names):
            sys.exit("gen_workload.py: w4 needs a tracker per entry")
        for i, name in enumerate(rng.sample(names, entries)):
            ops.append((name, "add", "k%d" % i))
            apply(model, ops[-1])
    elif shape in ("w1", "w1d"):
        if shape == "w1d":
            if entries > len(names):
                sys.exit("gen_workload.py: w1d needs a tracker per entry")
            order = rng.sample(names, entries)
        for i in range(entries):
            name = rng.choice(names) if shape == "w1" else order[i]
            ops.append((name,) + pick_op(rng, model, name, (50, 35, 15), i))
            apply(model, ops[-1])
    else:
        # w2: every tracker gets one run of consecutive entries, the runs
        # in random order and of varying length, summing to `entries`.
        order = names[:]
        rng.shuffle(order)
        base = entries // len(order)
        lengths = [base] * len(order)
        for i in range(entries - base * len(order)):
            lengths[i] += 1
        for i in range(0, len(order) - 1, 2):
            d = rng.randint(0, base // 2)
            lengths[i] += d
            lengths[i + 1] -= d
        serial = 0
        for name, n in zip(order, lengths):
            for _ in range(n):
                ops.append((name,) + pick_op(rng, model, name, (20, 60, 20),
                                            serial))
                apply(model, ops[-1])
                serial += 1
    return model, ops


def apply(model, op):
    name, kind, key = op
    if kind == "add":
        model.add(name, key)
    else:
        model.remove(name, key, NORMAL if kind == "rm" else MASK)


YAML_VERB = {"add": "add", "rm": "remove", "mask": "mask"}


def yaml_header(out, pool, ns, what):
    out.write("# %s - generated by tests/bench/gen_workload.py\n" % what)
    out.write("version: 1\n")
    out.write("defaults: {pool: %s, namespace: %s}\n" % (pool, ns or '""'))
    out.write("requests:\n")


def write_yaml(path, ops, pool, ns, what):
    with open(path, "w") as out:
        yaml_header(out, pool, ns, what)
        for name, kind, key in ops:
            out.write("  - {tracker: %s, %s: [%s]}\n"
                      % (name, YAML_VERB[kind], key))


def write_w3(path, entries, names, pool, ns, rng):
    """A large batch without a model: streamed, never held in memory."""
    with open(path, "w", buffering=1 << 20) as out:
        yaml_header(out, pool, ns, "w3, %d entries" % entries)
        verbs = ("add", "add", "add", "remove", "mask")
        n = len(names)
        buf = []
        for i in range(entries):
            buf.append("  - {tracker: %s, %s: [k%d]}\n"
                       % (names[rng.randrange(n)], verbs[i % 5], i))
            if len(buf) == 10000:
                out.write("".join(buf))
                buf = []
        out.write("".join(buf))


def write_limits(path, entries, names, pool, ns):
    """Maximum-size requests, one key per line, streamed."""
    with open(path, "w", buffering=1 << 20) as out:
        yaml_header(out, pool, ns, "limits, %d maximum-size requests" % entries)
        for i in range(entries):
            out.write("  - tracker: %s\n    add:\n" % names[i % len(names)])
            out.write("".join("      - %s\n" % ("r%dk%d-" % (i, k)).ljust(KEY_MAX, "x")
                              for k in range(KEYS_MAX)))
def write_expect(path, names, model):
    if not path:
        return
    with open(path, "w") as out:
        for name in names:
            keys = model.trackers.get(name, {})
            out.write("%s %d%s\n" % (
                name, model.count(name),
                "".join(" %s=%d" % kv for kv in sorted(keys.items()))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("shape", choices=sorted(SHAPES))
    ap.add_argument("--entries", type=int)
    ap.add_argument("--trackers", type=int)
    ap.add_argument("--initial-keys", type=int)
    ap.add_argument("--prefix")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--pool", default="rt")
    ap.add_argument("--namespace", default="")
    ap.add_argument("--yaml")
    ap.add_argument("--ops")
    ap.add_argument("--expect")
    ap.add_argument("--noop-yaml")
    ap.add_argument("--noop-entries", type=int)
    ap.add_argument("--parts", type=int, default=2)
    a = ap.parse_args()

    entries, ntrackers, initial_keys = SHAPES[a.shape]
    entries = a.entries or entries
    ntrackers = a.trackers or ntrackers
    initial_keys = initial_keys if a.initial_keys is None else a.initial_keys
    prefix = a.prefix or a.shape + ".t"
    rng = random.Random("%s/%d" % (a.shape, a.seed))
    names = tracker_names(prefix, ntrackers)

    if a.shape == "limits":
        if a.ops or a.expect or a.noop_yaml:
            sys.exit("gen_workload.py: limits has no model: --yaml only")
        if a.yaml:
            write_limits(a.yaml, entries, tracker_names(prefix, entries),
                         a.pool, a.namespace)
        return

    if a.shape == "w3":
        if a.ops or a.expect or a.noop_yaml:
            sys.exit("gen_workload.py: w3 has no model: --yaml only")
        if a.yaml:
            write_w3(a.yaml, entries, names, a.pool, a.namespace, rng)
        return

    if a.shape == "w5":
        if a.ops or a.noop_yaml or (a.yaml and "{part}" not in a.yaml):
            sys.exit("gen_workload.py: w5 takes --yaml with {part} and "
                     "--expect only")
        model, parts = gen_parts(a.parts, names, initial_keys, rng)
        for part, ops in enumerate(parts):
            if a.yaml:
                write_yaml(a.yaml.replace("{part}", str(part)), ops, a.pool,
                           a.namespace, "w5 part %d of %d, %d entries over "
                           "%d trackers" % (part, a.parts, len(ops),
                                            ntrackers))
        write_expect(a.expect, names, model)
        return

    model, ops = gen_model_workload(a.shape, entries, names, initial_keys, rng)
    if a.yaml:
        write_yaml(a.yaml, ops, a.pool, a.namespace,
                   "%s, %d entries over %d trackers" % (a.shape, entries,
                                                        ntrackers))
    if a.ops:
        with open(a.ops, "w") as out:
            for op in ops:
                out.write("%s %s %s\n" % op)
    write_expect(a.expect, names, model)
    if a.noop_yaml:
        # Each entry adds a key its tracker still holds, in the workload's
        # tracker order, repeated as often as needed (so w2's runs stay
        # runs).  Streamed: a million entries need not sit in a list.
        n = a.noop_entries or len(ops)
        held = {}
        with open(a.noop_yaml, "w", buffering=1 << 20) as out:
            yaml_header(out, a.pool, a.namespace,
                        "%s no-op adds, %d entries" % (a.shape, n))
            for i in range(n):
                name = ops[i % len(ops)][0]
                if name not in held:
                    held[name] = sorted(model.trackers[name])
                out.write("  - {tracker: %s, add: [%s]}\n"
                          % (name, rng.choice(held[name])))


if __name__ == "__main__":
    main()
