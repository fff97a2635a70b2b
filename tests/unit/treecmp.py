#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""treecmp.py A B - compare two directory trees as a filesystem image must
keep them: the same names, and for each its type, mode, owner, mtime (whole
seconds), size (not for directories), device numbers, link count (not for
directories), symlink target, content, xattrs, and which names share an
inode. Prints each difference; exits 1 if there is one."""
import hashlib
import os
import stat
import sys


def describe(root):
    entries, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        names = [os.path.join(dirpath, n) for n in dirnames + filenames]
        if dirpath == root:
            names.append(root)
        for path in names:
            rel = os.path.relpath(path, root).encode("utf-8", "surrogateescape")
            st = os.lstat(path)
            d = {
                "mode": oct(st.st_mode),
                "owner": (st.st_uid, st.st_gid),
                "mtime": int(st.st_mtime),
            }
            if not stat.S_ISDIR(st.st_mode):
                d["size"] = st.st_size
                d["nlink"] = st.st_nlink
                inodes.setdefault(st.st_ino, []).append(rel)
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                d["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
            if stat.S_ISLNK(st.st_mode):
                d["target"] = os.readlink(path)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    d["sha256"] = hashlib.sha256(f.read()).hexdigest()
            try:
                names_x = os.listxattr(path, follow_symlinks=False)
            except OSError:
                names_x = []
            d["xattrs"] = sorted(
                (n, os.getxattr(path, n, follow_symlinks=False)) for n in names_x
            )
            entries[rel] = d
    links = sorted(sorted(v) for v in inodes.values() if len(v) > 1)
    return entries, links


def main():
    a, la = describe(sys.argv[1])
    b, lb = describe(sys.argv[2])
    bad = 0
    for rel in sorted(set(a) | set(b)):
        if rel not in a or rel not in b:
            print(f"{rel!r}: only in {'B' if rel in b else 'A'}")
            bad += 1
        elif a[rel] != b[rel]:
            diff = {k: (a[rel].get(k), b[rel].get(k))
                    for k in set(a[rel]) | set(b[rel])
                    if a[rel].get(k) != b[rel].get(k)}
            print(f"{rel!r}: {diff}")
            bad += 1
    if la != lb:
        print(f"hard links differ: {la} / {lb}")
        bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
