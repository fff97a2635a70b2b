#!/usr/bin/env python3
"""oci_flatten.py ROOTFS LAYER.tar... - apply image layers bottom first, as
the OCI image spec says (a ".wh.NAME" entry deletes NAME from the layers
below; ".wh..wh..opq" hides the lower layers' children of its directory,
whatever its place in the tar), and compare the result with the directory
ROOTFS: the same paths, types, modes, owners, sizes, contents, link
targets. Hard links must point inside the result. Prints what it compared;
exit 1 with the differences."""
import hashlib
import os
import stat
import sys
import tarfile


def flatten(layers):
    tree = {}  # path -> (type, mode, uid, gid, size, sha256|target|dev)
    for path in layers:
        with tarfile.open(path) as t:
            members = t.getmembers()
            opaque = [os.path.dirname(m.name.rstrip("/")) for m in members
                      if os.path.basename(m.name) == ".wh..wh..opq"]
            for d in opaque:  # lower children of d go, d itself stays
                for p in [p for p in tree if p.startswith(d + "/")]:
                    del tree[p]
            for m in members:
                name = os.path.normpath(m.name).lstrip("/")
                base = os.path.basename(name)
                if base == ".wh..wh..opq":
                    continue
                if base.startswith(".wh."):
                    gone = os.path.join(os.path.dirname(name), base[4:])
                    for p in [p for p in tree if p == gone or p.startswith(gone + "/")]:
                        del tree[p]
                    continue
                if m.isdir():
                    v = ("dir", m.mode, m.uid, m.gid, 0, None)
                elif m.issym():
                    v = ("sym", 0, m.uid, m.gid, 0, m.linkname)
                elif m.islnk():
                    target = tree.get(os.path.normpath(m.linkname))
                    if target is None:
                        sys.exit("hard link %s -> %s points nowhere" % (name, m.linkname))
                    v = target
                elif m.ischr() or m.isblk():
                    v = ("dev", m.mode, m.uid, m.gid, 0, (m.devmajor, m.devminor))
                else:
                    data = t.extractfile(m).read()
                    v = ("file", m.mode, m.uid, m.gid, len(data), hashlib.sha256(data).hexdigest())
                tree[name] = v
    return tree


def scan(root):
    tree = {}
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                v = ("dir", mode, st.st_uid, st.st_gid, 0, None)
            elif stat.S_ISLNK(st.st_mode):
                v = ("sym", 0, st.st_uid, st.st_gid, 0, os.readlink(full))
            elif stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    v = ("file", mode, st.st_uid, st.st_gid, st.st_size,
                         hashlib.sha256(f.read()).hexdigest())
            else:
                v = ("dev", mode, st.st_uid, st.st_gid, 0, (os.major(st.st_rdev), os.minor(st.st_rdev)))
            tree[rel] = v
    return tree


def main():
    want, got = scan(sys.argv[1]), flatten(sys.argv[2:])
    bad = sorted(set(want) ^ set(got)) + sorted(p for p in set(want) & set(got) if want[p] != got[p])
    for p in bad[:20]:
        print("differs: %s: rootfs %s, layers %s" % (p, want.get(p), got.get(p)))
    if bad:
        sys.exit(1)
    kinds = {}
    for v in got.values():
        kinds[v[0]] = kinds.get(v[0], 0) + 1
    print("flattened %d layers = rootfs: %s" % (
        len(sys.argv) - 2, ", ".join("%d %s" % (kinds[k], k) for k in sorted(kinds))))


if __name__ == "__main__":
    main()
