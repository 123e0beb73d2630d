#!/usr/bin/python3
"""scan_plant.py - helpers for tests/integration/test_scan.sh, straight
through librados' Python binding (the rados tool takes one process per
omap key, far too slow for a thousand trackers).

usage: scan_plant.py CONF POOL break SPECFILE
       scan_plant.py CONF POOL versions OUT

break: SPECFILE has lines "NS OBJ HOW": each HOW breaks tracker NS/OBJ (an
existing, sound tracker holding its keys KEYa, KEYb, KEYc) one way:
  ver-len     version xattr of 3 bytes          (version)
  ver-2       version xattr says 2              (version)
  data-3      3 data bytes                      (data-size)
  data-0      no data at all                    (data-size)
  data-5      5 data bytes                      (data-size)
  draft       8 data bytes, the draft's layout  (foreign)
  draft-val   an empty omap value               (foreign)
  type-03     an omap value 03                  (type-byte)
  type-long   a 2-byte omap value               (type-byte)
  nul-key     a key holding a NUL byte          (nul-key)
  under       count 1 for 3 normal keys         (count)
  over        count 9 for 3 normal keys         (count)
  zero        count 0                           (count)
  empty       a normal "" the count leaves out  (empty-key)
  empty-ok    a normal "" the count includes    (sound)
  plain       an object that is no tracker      (skipped)
versions: writes "NS OBJ VERSION" for every object of the pool, every
namespace, sorted.
"""
import ctypes
import ctypes.util
import struct
import sys

import rados


def nul_key(conf, pool, ns, obj, key):
    """Sets the omap key `key` (bytes, a NUL inside) to 01: the binding's
    set_omap takes C strings, so this goes through librados' omap_set2,
    which takes lengths."""
    lib = ctypes.CDLL(ctypes.util.find_library("rados") or "librados.so.2")
    vp = ctypes.c_void_p
    cl, io = vp(), vp()
    assert lib.rados_create(ctypes.byref(cl), None) == 0
    assert lib.rados_conf_read_file(cl, conf.encode()) == 0
    assert lib.rados_connect(cl) == 0
    assert lib.rados_ioctx_create(cl, pool.encode(), ctypes.byref(io)) == 0
    lib.rados_ioctx_set_namespace(io, ns.encode())
    lib.rados_create_write_op.restype = vp
    op = vp(lib.rados_create_write_op())
    keys = (ctypes.c_char_p * 1)(key)
    vals = (ctypes.c_char_p * 1)(b"\1")
    klens = (ctypes.c_size_t * 1)(len(key))
    vlens = (ctypes.c_size_t * 1)(1)
    lib.rados_write_op_omap_set2(op, keys, vals, klens, vlens,
                                 ctypes.c_size_t(1))
    r = lib.rados_write_op_operate(op, io, obj.encode(), None, 0)
    lib.rados_release_write_op(op)
    lib.rados_ioctx_destroy(io)
    lib.rados_shutdown(cl)
    if r < 0:
        sys.exit("scan_plant.py: nul-key %s: errno %d" % (obj, -r))


def omap_set(io, obj, keys, vals):
    with rados.WriteOpCtx() as op:
        io.set_omap(op, tuple(keys), tuple(vals))
        io.operate_write_op(op, obj)


def omap_rm(io, obj, keys):
    with rados.WriteOpCtx() as op:
        io.remove_omap_keys(op, tuple(keys))
        io.operate_write_op(op, obj)


def break_one(io, conf, pool, ns, obj, how):
    k = obj.encode()
    if how == "ver-len":
        io.set_xattr(obj, "csi.ceph.com/rt-version", b"\0\0\1")
    elif how == "ver-2":
        io.set_xattr(obj, "csi.ceph.com/rt-version", struct.pack(">I", 2))
    elif how == "data-3":
        io.write_full(obj, b"\0\0\3")
    elif how == "data-0":
        io.write_full(obj, b"")
    elif how == "data-5":
        io.write_full(obj, b"\0\0\0\3\0")
    elif how == "draft":
        io.write_full(obj, struct.pack(">II", 7, 3))
    elif how == "draft-val":
        omap_set(io, obj, [obj + "c"], [b""])
    elif how == "type-03":
        omap_set(io, obj, [obj + "b"], [b"\3"])
    elif how == "type-long":
        omap_set(io, obj, [obj + "b"], [b"\1\1"])
    elif how == "nul-key":
        # Replaces KEYc, so that the count stays right.
        omap_rm(io, obj, [obj + "c"])
        nul_key(conf, pool, ns, obj, k + b"c\0x")
    elif how == "under":
        io.write_full(obj, struct.pack(">I", 1))
    elif how == "over":
        io.write_full(obj, struct.pack(">I", 9))
    elif how == "zero":
        io.write_full(obj, struct.pack(">I", 0))
    elif how == "empty":
        omap_set(io, obj, [""], [b"\1"])
    elif how == "empty-ok":
        omap_set(io, obj, [""], [b"\1"])
        io.write_full(obj, struct.pack(">I", 4))
    elif how == "plain":
        io.write_full(obj, b"not a tracker " + k)
    else:
        sys.exit("scan_plant.py: unknown HOW %s" % how)


def main():
    if len(sys.argv) != 5 or sys.argv[3] not in ("break", "versions"):
        sys.exit(__doc__.split("\n\n")[1])
    conf, pool, what, path = sys.argv[1:]
    r = rados.Rados(conffile=conf)
    r.connect()
    io = r.open_ioctx(pool)
    if what == "break":
        with open(path) as f:
            for line in f:
                ns, obj, how = line.split()
                ns = "" if ns == "-" else ns
                io.set_namespace(ns)
                break_one(io, conf, pool, ns, obj, how)
    else:
        io.set_namespace(rados.LIBRADOS_ALL_NSPACES)
        objs = [(o.nspace, o.key) for o in io.list_objects()]
        rows = []
        for ns, obj in objs:
            io.set_namespace(ns)
            io.stat(obj)
            rows.append("%s %s %d" % (ns or "-", obj,
                                      io.get_last_version()))
        with open(path, "w") as f:
            f.write("\n".join(sorted(rows)) + "\n")
    io.close()
    r.shutdown()


main()
