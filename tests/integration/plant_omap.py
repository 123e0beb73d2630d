#!/usr/bin/env python3
"""plant_omap.py - plants one big tracker-like object straight through
librados (ctypes), for tests/integration/test_hostile.sh: the rados tool
sets one omap key per process, far too slow for 20,000 keys.

usage: plant_omap.py CONF POOL NS OBJ NKEYS COUNT [BAD_INDEX BAD_HEX [KEY_HEX]]

Writes OBJ afresh: version xattr 00000001, data = COUNT as 4 bytes BE,
omap keys k00000.. (NKEYS of them) = 01, except key BAD_INDEX whose value
is the bytes BAD_HEX ("" for an empty value) and whose name, with KEY_HEX,
is those bytes instead (a NUL byte too: keys go with their lengths).
Exit 0, or 1 with a message.
"""
import ctypes
import ctypes.util
import struct
import sys


def main():
    if len(sys.argv) not in (7, 9, 10):
        sys.exit(__doc__.split("\n\n")[1])
    conf, pool, ns, obj = (a.encode() for a in sys.argv[1:5])
    nkeys, count = int(sys.argv[5]), int(sys.argv[6])
    bad_at, bad, bad_key = -1, b"", None
    if len(sys.argv) >= 9:
        bad_at, bad = int(sys.argv[7]), bytes.fromhex(sys.argv[8])
    if len(sys.argv) == 10:
        bad_key = bytes.fromhex(sys.argv[9])
    lib = ctypes.CDLL(ctypes.util.find_library("rados") or "librados.so.2")
    vp = ctypes.c_void_p

    def check(r, what):
        if r < 0:
            sys.exit("plant_omap.py: %s: errno %d" % (what, -r))

    cluster, io = vp(), vp()
    check(lib.rados_create(ctypes.byref(cluster), None), "rados_create")
    check(lib.rados_conf_read_file(cluster, conf), "reading " + sys.argv[1])
    check(lib.rados_connect(cluster), "connecting")
    check(lib.rados_ioctx_create(cluster, pool, ctypes.byref(io)), "pool")
    lib.rados_ioctx_set_namespace(io, ns)
    lib.rados_create_write_op.restype = vp
    lib.rados_remove(io, obj)
    data = struct.pack(">I", count)
    ver = struct.pack(">I", 1)
    chunk = 1000
    for start in range(0, max(nkeys, 1), chunk):
        n = min(chunk, nkeys - start) if nkeys else 0
        op = vp(lib.rados_create_write_op())
        if start == 0:
            lib.rados_write_op_create(op, 1, None)
            lib.rados_write_op_write_full(op, data, ctypes.c_size_t(4))
            lib.rados_write_op_setxattr(op, b"csi.ceph.com/rt-version", ver,
                                        ctypes.c_size_t(4))
        if n:
            keys = (ctypes.c_char_p * n)()
            vals = (ctypes.c_char_p * n)()
            klens = (ctypes.c_size_t * n)()
            lens = (ctypes.c_size_t * n)()
            for i in range(n):
                k = start + i
                v = bad if k == bad_at else b"\x01"
                name = bad_key if k == bad_at and bad_key is not None \
                    else b"k%05d" % k
                keys[i] = name
                klens[i] = len(name)
                vals[i] = v
                lens[i] = len(v)
            lib.rados_write_op_omap_set2(op, keys, vals, klens, lens,
                                         ctypes.c_size_t(n))
        r = lib.rados_write_op_operate(op, io, obj, None, 0)
        lib.rados_release_write_op(op)
        check(r, "writing " + sys.argv[4])
    lib.rados_ioctx_destroy(io)
    lib.rados_shutdown(cluster)


main()
