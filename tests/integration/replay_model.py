#!/usr/bin/python3
"""replay_model.py - the replay tests' model of batch semantics, their batch
generator and their checker (used by test_replay.sh).

The model is written from the semantics the replayer issue states, not
from src/lib: applying a journal's entries one after the other, in seq
order, to trackers that start missing.

  add     missing tracker: created, the keys normal (outcome "created").
          Present: absent keys become normal, normal and masked keys stay
          as they are ("changed" if any was added, else "no-op").
  remove  normal key: removed, count - 1; masked key: removed, count
          unchanged; absent: nothing.
  mask    normal key: becomes a mask, count - 1; absent: added as a mask;
          masked: nothing.
  A count that reaches 0 deletes the tracker, masks and all ("deleted");
  a remove or mask on a missing tracker is "deleted" too (already gone).
  Counts in an outcome: added (keys added as normal), removed (keys taken
  out of the omap by the request), masked (keys turned into or added as
  masks).

The checker reads the trackers back with the python rados bindings (a
reader independent of the library) and the entries' records with
`reftrack export` (one JSON object per entry, as `show-entry --json`).

  gen     writes batch files and plan.json, deterministically from a seed
  check   compares the cluster and the journal with the model; prints what
          differs and exits 1 if anything does
  expect  checks fields of single entries (SEQ:FIELD=VALUE ...)
  dump    one line per tracker named: "KEY:TYPE,... count=DATA-IN-HEX",
          types as hex bytes, or "absent"
  writer  another writer, for the concurrency case: adds and removes keys
          of its own on trackers as fast as it can, straight through
          librados in the v1 format (as ceph-csi would), until told to stop
"""
import argparse
import errno
import json
import os
import random
import struct
import subprocess
import sys
import time

NORMAL, MASK = 1, 2
VERSION_XATTR = "csi.ceph.com/rt-version"
MARKER_PREFIX = "reftrack.j."


def count(state):
    return sum(1 for t in state.values() if t == NORMAL)


def apply(state, req):
    """Applies one request to a tracker's state (dict key -> NORMAL/MASK, or
    None for a missing tracker).  Returns (new state, outcome dict)."""
    def outcome(result, added=0, removed=0, masked=0):
        return {"result": result, "added": added, "removed": removed,
                "masked": masked}

    if req["op"] == "add":
        if state is None:
            return ({k: NORMAL for k in req["add"]},
                    outcome("created", added=len(req["add"])))
        new = dict(state)
        added = 0
        for k in req["add"]:
            if k not in new:
                new[k] = NORMAL
                added += 1
        return new, outcome("changed" if added else "no-op", added=added)
    if state is None:
        return None, outcome("deleted")
    new = dict(state)
    removed = masked = 0
    for k in req["remove"]:
        if k in new:
            del new[k]
            removed += 1
    for k in req["mask"]:
        if new.get(k) != MASK:
            new[k] = MASK
            masked += 1
    if count(new) == 0:
        return None, outcome("deleted", removed=removed, masked=masked)
    return new, outcome("changed" if removed or masked else "no-op",
                        removed=removed, masked=masked)


def run_model(plan):
    """Applies the plan's requests in seq order.  Returns (final states by
    tracker, outcome by seq, seqs by tracker)."""
    states = {t: (dict(init) if init is not None else None)
              for t, init in plan["initial"].items()}
    outcomes, seqs_of = {}, {}
    for seq, req in enumerate(all_requests(plan), start=1):
        t = req["tracker"]
        states[t], outcomes[seq] = apply(states.get(t), req)
        seqs_of.setdefault(t, set()).add(seq)
    return states, outcomes, seqs_of


def all_requests(plan):
    for batch in plan["batches"]:
        yield from batch


# ---- generating a workload ----------------------------------------------

def gen(args):
    """Batch files whose requests are steered by the model's own state, so
    that adds, normal removes, masks, deletes and re-creations all happen
    often: each tracker draws its keys from a small set."""
    rng = random.Random(args.seed)
    groups = []  # (tracker names, masks allowed, anchored)
    for spec in args.trackers.split(","):
        prefix, n, kind = spec.split(":")
        names = ["%s%03d" % (prefix, i) for i in range(int(n))]
        groups.append((names, kind in ("mask", "anchor"), kind == "anchor"))
    trackers, masks_ok, initial = [], {}, {}
    for names, masks, anchored in groups:
        for t in names:
            trackers.append(t)
            masks_ok[t] = masks
            # An anchored tracker holds a normal key no entry touches, put
            # there before the replay: it is never deleted.
            initial[t] = {"anchor": NORMAL} if anchored else None
    keys = ["j%d" % i for i in range(args.keys)]
    state = {t: (dict(v) if v else None) for t, v in initial.items()}
    per_batch = -(-args.entries // args.batches)
    batches, left = [], args.entries
    while left > 0:
        batch = []
        for _ in range(min(per_batch, left)):
            t = rng.choice(trackers)
            st = state[t]
            if st is None and rng.random() < 0.85:
                req = {"tracker": t, "op": "add",
                       "add": rng.sample(keys, rng.randint(1, 3))}
            elif st is not None and rng.random() < 0.35:
                req = {"tracker": t, "op": "add",
                       "add": rng.sample(keys, rng.randint(1, 3))}
            else:
                # Mostly keys the tracker holds, sometimes absent ones.
                held = [k for k in keys if st and k in st]
                pick = set(rng.sample(held, min(len(held),
                                                rng.randint(1, 2))))
                if rng.random() < 0.4 or not pick:
                    pick.add(rng.choice(keys))
                remove, mask = [], []
                # Sorted first: a set's order depends on string hashing,
                # which changes from run to run.
                order = sorted(pick)
                rng.shuffle(order)
                for k in order:
                    (mask if masks_ok[t] and rng.random() < 0.4
                     else remove).append(k)
                req = {"tracker": t, "op": "remove", "remove": remove,
                       "mask": mask}
            state[t], _ = apply(st, req)
            batch.append(req)
        batches.append(batch)
        left -= len(batch)

    os.makedirs(args.out, exist_ok=True)
    files = []
    for i, batch in enumerate(batches):
        path = os.path.join(args.out, "batch-%02d.yaml" % i)
        with open(path, "w") as f:
            f.write("# replay test workload, seed %d, batch %d\n"
                    % (args.seed, i))
            f.write("version: 1\ndefaults: {pool: %s, namespace: %s}\n"
                    "requests:\n" % (json.dumps(args.pool),
                                     json.dumps(args.ns)))
            for r in batch:
                f.write("  - {tracker: %s" % r["tracker"])
                for field in ("add", "remove", "mask"):
                    if r.get(field):
                        f.write(", %s: [%s]" % (field, ", ".join(r[field])))
                f.write("}\n")
        files.append(path)
    plan = {"seed": args.seed, "pool": args.pool, "ns": args.ns,
            "initial": initial, "batches": batches, "files": files}
    with open(os.path.join(args.out, "plan.json"), "w") as f:
        json.dump(plan, f)
    with open(os.path.join(args.out, "anchors.txt"), "w") as f:
        for t in trackers:
            if initial[t]:
                f.write(t + "\n")
    for path in files:
        print(path)


# ---- reading the cluster -------------------------------------------------

def read_trackers(pool, ns, names=None):
    """Objects in pool/ns (all, or those in `names` that exist):
    {name: (xattrs, data, omap)}."""
    import rados  # python3-rados, with ceph-common

    cluster = rados.Rados(conffile=os.environ["CEPH_CONF"])
    cluster.connect(timeout=30)
    try:
        io = cluster.open_ioctx(pool)
        io.set_namespace(ns)
        out = {}
        if names is None:
            names = [obj.key for obj in io.list_objects()]
        for name in names:
            try:
                io.stat(name)
            except rados.ObjectNotFound:
                continue
            xattrs = dict(io.get_xattrs(name))
            data = io.read(name, 64)
            omap, after = {}, ""
            while True:
                with rados.ReadOpCtx() as op:
                    it, _ = io.get_omap_vals(op, after, "", 1000)
                    io.operate_read_op(op, name)
                    page = list(it)
                for k, v in page:
                    omap[k] = v
                if len(page) < 1000:
                    break
                after = page[-1][0]
            out[name] = (xattrs, data, omap)
        io.close()
        return out
    finally:
        cluster.shutdown()


# ---- a writer of our own -------------------------------------------------

def raw_update(io, obj, key, add):
    """Adds (add) or normally removes `key` on tracker `obj` the way the
    README describes the format's writers: read data and the key with the
    object version, then one write guarded on that version; a tracker is
    created exclusively and deleted in the write that takes it to 0.
    Returns the number of conflicts it went through."""
    import rados

    for conflicts in range(10000):
        try:
            data = io.read(obj, 16)
            ver = io.get_last_version()
        except rados.ObjectNotFound:
            if not add:
                return conflicts
            with rados.WriteOpCtx() as op:
                op.new(rados.LIBRADOS_CREATE_EXCLUSIVE)
                op.set_xattr(VERSION_XATTR, b"\x00\x00\x00\x01")
                op.write_full(struct.pack(">I", 1))
                io.set_omap(op, (key,), (b"\x01",))
                try:
                    io.operate_write_op(op, obj)
                    return conflicts
                except rados.ObjectExists:
                    continue
        if len(data) != 4:
            raise RuntimeError("%s: %d data bytes" % (obj, len(data)))
        try:
            with rados.ReadOpCtx() as rop:
                it, _ = io.get_omap_vals_by_keys(rop, (key,))
                io.operate_read_op(rop, obj)
                cur = dict(it).get(key)
        except rados.ObjectNotFound:
            continue
        # Data and omap read by two ops: the same version, the same state.
        if io.get_last_version() != ver:
            continue
        n = struct.unpack(">I", data)[0]
        if add == (cur is not None):
            return conflicts
        with rados.WriteOpCtx() as op:
            op.assert_version(ver)
            if add:
                n += 1
                io.set_omap(op, (key,), (b"\x01",))
            else:
                n -= 1 if cur == b"\x01" else 0
                io.remove_omap_keys(op, (key,))
            if n == 0:
                op.remove()
            else:
                op.write_full(struct.pack(">I", n))
            try:
                io.operate_write_op(op, obj)
                return conflicts
            except rados.Error as e:
                if getattr(e, "errno", None) not in (errno.ERANGE,
                                                     errno.EOVERFLOW,
                                                     errno.ENOENT):
                    raise
    raise RuntimeError("%s: no write got through" % obj)


def writer(args):
    """Until args.stop exists (and for at least 50 requests), adds and
    removes keys wID-0..2 on the trackers; then writes the keys it holds as
    "TRACKER KEY" lines.  Only this writer touches its keys, and every
    request's fate is known, so the list is exact.  It gives up after 300 s
    or when the stop file's directory is gone (the test died)."""
    import rados

    rng = random.Random(args.seed)
    cluster = rados.Rados(conffile=os.environ["CEPH_CONF"])
    cluster.connect(timeout=30)
    io = cluster.open_ioctx(args.pool)
    io.set_namespace(args.ns)
    trackers = args.trackers.split(",")
    held, ops, conflicts = set(), 0, 0
    give_up = time.monotonic() + 300
    while ops < 50 or not os.path.exists(args.stop):
        if (time.monotonic() > give_up or
                not os.path.isdir(os.path.dirname(args.stop))):
            sys.exit("writer %s: never told to stop" % args.id)
        t = rng.choice(trackers)
        k = "w%s-%d" % (args.id, rng.randrange(3))
        conflicts += raw_update(io, t, k, (t, k) not in held)
        held ^= {(t, k)}
        ops += 1
        # Room for the replay on a machine of two cores.
        time.sleep(rng.uniform(0.001, 0.004))
    io.close()
    cluster.shutdown()
    with open(args.out, "w") as f:
        for t, k in sorted(held):
            f.write("%s %s\n" % (t, k))
    print("%d %d" % (ops, conflicts))


# ---- the journal ---------------------------------------------------------

def export_entries(reftrack, journal):
    """{seq: entry JSON} of every entry, from `reftrack export`."""
    p = subprocess.run([reftrack, "export", "--journal", journal],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("reftrack export: exit %d: %s"
                 % (p.returncode, p.stderr.strip()))
    out = {}
    for line in p.stdout.splitlines():
        e = json.loads(line)
        out[e["seq"]] = e
    return out


def journal_status(reftrack, journal):
    p = subprocess.run([reftrack, "status", "--journal", journal, "--json"],
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


# ---- checking -----------------------------------------------------------

NOOP_OUTCOME = {"result": "no-op", "added": 0, "removed": 0, "masked": 0}


def check(args):
    with open(args.plan) as f:
        plan = json.load(f)
    states, outcomes, seqs_of = run_model(plan)
    requests = list(all_requests(plan))
    total = len(requests)
    errors = []

    def err(msg):
        errors.append(msg)

    writers = {}  # tracker -> set of writer keys expected present
    if args.writers:
        with open(args.writers) as f:
            for line in f:
                if line.strip():
                    t, k = line.split()
                    writers.setdefault(t, set()).add(k)
    relaxed = set(args.relaxed.split(",")) if args.relaxed else set()

    status = journal_status(args.reftrack, args.journal)
    jid = status["journal"]["id"]
    counts = status["counts"]
    if counts["total"] != total:
        err("journal holds %d entries, the plan %d" % (counts["total"], total))
    if args.all_done and counts["done"] != counts["total"]:
        err("not every entry is done: %s" % json.dumps(counts))

    # The trackers, every object of the namespace.
    objs = read_trackers(plan["pool"], plan["ns"])
    names = set(objs) | set(t for t, s in states.items() if s is not None) \
        | set(writers)
    for t in sorted(names):
        want = dict(states.get(t) or {})
        for k in writers.get(t, ()):
            want[k] = NORMAL
        if t not in objs:
            if want:
                err("%s: missing, want %s" % (t, fmt(want)))
            continue
        if t not in states and t not in writers:
            err("%s: an object the plan does not know" % t)
            continue
        xattrs, data, omap = objs[t]
        if not want:
            err("%s: exists, want it gone (omap %s)" % (t, fmt_raw(omap)))
            continue
        if xattrs.get(VERSION_XATTR) != b"\x00\x00\x00\x01":
            err("%s: version xattr %r" % (t, xattrs.get(VERSION_XATTR)))
        for name, val in xattrs.items():
            if name == VERSION_XATTR:
                continue
            if name != MARKER_PREFIX + jid:
                err("%s: unexpected xattr %s" % (t, name))
                continue
            # The marker names the last entry of a write of ours to this
            # tracker: an entry of this tracker.
            try:
                mseq = int(val.decode())
            except ValueError:
                mseq = None
            if mseq not in seqs_of.get(t, ()):
                err("%s: marker %r is not a seq of one of its entries"
                    % (t, val))
        got = {}
        for k, v in omap.items():
            if v == b"\x01":
                got[k] = NORMAL
            elif v == b"\x02":
                got[k] = MASK
            else:
                err("%s: key %s has value %r" % (t, k, v))
        if len(data) != 4:
            err("%s: %d data bytes" % (t, len(data)))
        else:
            n = struct.unpack(">I", data)[0]
            if n != count(got):
                err("%s: count %d, but %d normal keys" % (t, n, count(got)))
            if n != count(want):
                err("%s: count %d, want %d" % (t, n, count(want)))
        if got != want:
            err("%s: keys %s, want %s" % (t, fmt(got), fmt(want)))

    # Every entry's record.
    restored = 0
    entries = export_entries(args.reftrack, args.journal)
    if sorted(entries) != list(range(1, total + 1)):
        err("export lists seqs %s..., want 1..%d"
            % (sorted(entries)[:5], total))
    for seq in range(1, total + 1):
        if seq not in entries:
            continue
        e, req, want = entries[seq], requests[seq - 1], outcomes[seq]
        refs = sorted((r["key"], r["type"]) for r in e["refs"])
        want_refs = sorted([(k, "normal") for k in req.get("add", [])] +
                           [(k, "normal") for k in req.get("remove", [])] +
                           [(k, "mask") for k in req.get("mask", [])])
        if (e["tracker"], e["op"], refs) != (req["tracker"], req["op"],
                                              want_refs):
            err("entry %d is %s %s %s, the plan says %s %s %s"
                % (seq, e["op"], e["tracker"], refs, req["op"],
                   req["tracker"], want_refs))
            continue
        if e["state"] != "done":
            err("entry %d (%s): state %s, error %s"
                % (seq, req["tracker"], e["state"], e.get("error")))
            continue
        got = e["outcome"]
        if (args.restored and got == NOOP_OUTCOME and
                "already applied" in (e.get("error") or "")):
            # A journal restored from a backup: the entry landed after
            # the backup, and the replayer recognised it by the marker.
            restored += 1
            continue
        if req["tracker"] in relaxed:
            # Other writers' keys decide whether the tracker existed; the
            # counts depend on this journal's keys alone.
            ok = (got is not None and
                  all(got[c] == want[c]
                      for c in ("added", "removed", "masked")) and
                  got["result"] in allowed_results(req, want))
        else:
            ok = got == want
        if not ok:
            err("entry %d (%s %s %s): outcome %s, want %s"
                % (seq, req["op"], req["tracker"], want_refs,
                   json.dumps(got), json.dumps(want)))

    print("replay_model: %d trackers, %d entries, %d differences"
          % (len(names), total, len(errors)))
    if args.restored:
        print("replay_model: %d entries recognised as already applied"
              % restored)
    for e in errors[:40]:
        print("  " + e, file=sys.stderr)
    if len(errors) > 40:
        print("  ... and %d more" % (len(errors) - 40), file=sys.stderr)
    return 1 if errors else 0


def dump(args):
    objs = read_trackers(args.pool, args.ns, args.trackers)
    for t in args.trackers:
        if t not in objs:
            print("absent")
            continue
        _, data, omap = objs[t]
        print("%s count=%s" % (",".join("%s:%s" % (k, v.hex())
                                         for k, v in sorted(omap.items())),
                               data.hex()))
    return 0


def expect(args):
    """Checks single fields of entries; prints each mismatch."""
    entries = export_entries(args.reftrack, args.journal)
    bad = 0
    for w in args.what:
        seq, _, cond = w.partition(":")
        e = entries.get(int(seq))
        if "~" in cond:
            field, text = cond.split("~", 1)
            got = e and e.get(field)
            ok = got is not None and text in got
        else:
            field, want = cond.split("=", 1)
            if e is None:
                got = None
            elif field == "result":
                got = e["outcome"] and e["outcome"]["result"]
            else:
                got = e.get(field)
            ok = str(got) == want
        if not ok:
            print("entry %s: %s is %r, want %s" % (seq, field, got, cond),
                  file=sys.stderr)
            bad += 1
    return 1 if bad else 0


def allowed_results(req, want):
    if req["op"] == "add":
        return {"created", "changed"} if want["added"] else {"no-op"}
    if want["removed"] or want["masked"]:
        return {"changed", "deleted"}
    return {"no-op", "deleted"}


def fmt(state):
    return "{%s}" % ",".join("%s:%s" % (k, "n" if v == NORMAL else "m")
                             for k, v in sorted(state.items()))


def fmt_raw(omap):
    return "{%s}" % ",".join("%s:%s" % (k, v.hex())
                             for k, v in sorted(omap.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--seed", type=int, required=True)
    g.add_argument("--entries", type=int, required=True)
    g.add_argument("--batches", type=int, default=1)
    g.add_argument("--trackers", required=True,
                   help="PREFIX:N:KIND,... KIND mask, nomask or anchor")
    g.add_argument("--keys", type=int, default=4)
    g.add_argument("--pool", required=True)
    g.add_argument("--ns", required=True)
    g.add_argument("--out", required=True)
    c = sub.add_parser("check")
    c.add_argument("--plan", required=True)
    c.add_argument("--reftrack", required=True)
    c.add_argument("--journal", required=True)
    c.add_argument("--writers", help="file of 'TRACKER KEY' lines")
    c.add_argument("--relaxed", help="trackers other writers also changed")
    c.add_argument("--all-done", action="store_true")
    c.add_argument("--restored", action="store_true",
                   help="accept entries done as 'already applied' (no-op)")
    x = sub.add_parser("expect")
    x.add_argument("--reftrack", required=True)
    x.add_argument("--journal", required=True)
    x.add_argument("what", nargs="+",
                   help="SEQ:FIELD=VALUE (state, result, attempts) or "
                   "SEQ:error~TEXT (the error contains TEXT)")
    d = sub.add_parser("dump")
    d.add_argument("--pool", required=True)
    d.add_argument("--ns", required=True)
    d.add_argument("trackers", nargs="+")
    w = sub.add_parser("writer")
    w.add_argument("--id", required=True)
    w.add_argument("--seed", type=int, required=True)
    w.add_argument("--pool", required=True)
    w.add_argument("--ns", required=True)
    w.add_argument("--trackers", required=True)
    w.add_argument("--stop", required=True)
    w.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.cmd == "writer":
        writer(args)
        return 0
    if args.cmd == "gen":
        gen(args)
        return 0
    if args.cmd == "expect":
        return expect(args)
    if args.cmd == "dump":
        return dump(args)
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
