#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""iso_property.py - random edits of ISO images, checked with readers we
did not write.

Each edit adds files (0 bytes to a few MiB), links and directories to a
base ISO: into new and existing directories, deep trees, hundreds of files
in one directory (so that directories span blocks and move), names at
every sort position and of every kind (upper and lower case, digits,
punctuation, long names, names that collide once reduced to 8.3 or ISO
d-characters, names of base files - which are then replaced), a path
added twice (the later wins). It is applied with aurorafs-mkiso, and a
fraction through a real mount (iso.overlay_iso plus a cloud-config). The
result must show, to:

  osirrox -extract /          the base's files plus the additions, byte for
                              byte, file modes and link targets
  isoinfo -R -f / -J -f / -f  exactly the expected paths (Joliet: no links,
                              names cut at 64 characters; plain ISO 9660:
                              as many entries, all different)
  xorriso -report_el_torito / -report_system_area
                              the base's boot entries and partitions, moved
                              or grown by the inserted delta
  fdisk -l                    every partition holding ISO 9660 descriptors
                              shows the same tree (isoinfo on the partition)

Bases. For speed, most edits use small bases of the four layouts that this
script makes itself with the tools the demo OS uses: xorriso with
AuroraBoot's options (GRUB hybrid MBR, partition_offset=16, appended EFI
partition, Joliet), grub-mkrescue (APM, HFS+, no Joliet), xorriso -as
mkisofs with isolinux's isohybrid MBR and GPT (Joliet) and plain El Torito
(no Joliet). Each small base holds a directory spanning several blocks, a
deep tree, mixed-case names and a link. A few edits (ISO_PROPERTY_DEMO, one
per layout by default) use the demo OS's own ISOs from $DEMO_DIR.

Environment (or the matching --options):
  ISO_PROPERTY_EDITS   number of edits (default: ISO_PROPERTY_DEFAULT_EDITS,
                       which meson sets per build, else 2000)
  ISO_PROPERTY_SEED    seed to replay (default: random, printed)
  ISO_PROPERTY_FIRST   index of the first edit
  ISO_PROPERTY_ONLY    run edit i of such a run only (a replay)
  ISO_PROPERTY_MOUNTS  how many edits go through a mount instead (default 1%,
                       at least 8)
  ISO_PROPERTY_DEMO    edits on the demo ISOs (default 4)
  ISO_PROPERTY_JOBS    parallel edits (default 2)
  ISO_PROPERTY_KEEP    keep the work directory of a failure
  ISO_PROPERTY_TMP     where to work (default /dev/shm when it has room)
  ISO_PROPERTY_LAYOUTS a subset of auroraboot,mkrescue,isolinux,eltorito
--long runs 20000 edits (200 through a mount): a hand-run soak.

On failure it prints the seed, the edit's index and a minimal edit (the
additions that still make it fail), and exits 1. Exit 77 (skip) when the
tools are missing.
"""

import argparse
import hashlib
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

MKISO = os.environ.get("MKISO")
AURORAFS = os.environ.get("AURORAFS")
DEMO_DIR = os.environ.get("DEMO_DIR", "")
EPOCH = "1700000000"
LAYOUTS = ["auroraboot", "mkrescue", "isolinux", "eltorito"]
JOLIET_MAX, JOLIET_EXT_MAX = 64, 16


def sh(args, check=True, **kw):
    """Run a command, capturing its output."""
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(
            "%s: exit %d: %s" % (" ".join(map(str, args))[:300], p.returncode,
                                 p.stderr.decode(errors="replace")[-2000:]))
    return p


def digest(data):
    return hashlib.blake2b(data, digest_size=16).hexdigest()


# ---------------------------------------------------------------- views


def tree_of(root):
    """{path: ("d",) | ("f", digest, mode) | ("l", target)} of a directory."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = dirpath[len(root):] or "/"
        for n in dirnames + filenames:
            full = os.path.join(dirpath, n)
            p = (rel.rstrip("/") + "/" + n)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                out[p] = ("l", os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                out[p] = ("d",)
            else:
                with open(full, "rb") as f:
                    out[p] = ("f", digest(f.read()), stat.S_IMODE(st.st_mode))
        # links to directories are not walked (os.walk does not follow)
    return out


def jname(name, is_dir):
    """The Joliet name the editor gives @name (no collision)."""
    u = "".join("_" if (c < " " or c in "*/:;?\\" or ord(c) > 0xFFFF) else c for c in name)
    if len(u) <= JOLIET_MAX:
        return u
    ext = ""
    if not is_dir and "." in u:
        ext = u[u.rindex("."):]
        if len(ext) > JOLIET_EXT_MAX:
            ext = ""
    return u[:JOLIET_MAX - len(ext)] + ext


def jvisible(n):
    """What readers compare: no trailing dots."""
    s = n.rstrip(".")
    return s if s else n[:1]


def jpath(path, model):
    parts = path.strip("/").split("/")
    out = []
    for i, c in enumerate(parts):
        full = "/" + "/".join(parts[:i + 1])
        out.append(jname(c, model[full][0] == "d"))
    return "/" + "/".join(out)


def listing(iso, flag):
    p = sh(["isoinfo", flag, "-f", "-i", iso] if flag else ["isoinfo", "-f", "-i", iso])
    return [l for l in p.stdout.decode("utf-8", errors="surrogateescape").split("\n") if l]


REPORT_KEEP = re.compile(r"^(El Torito|System area|ISO image|Partition offset|MBR|GPT|APM)")


def report(iso):
    p = sh(["xorriso", "-indev", "stdio:" + iso, "-report_el_torito", "plain",
            "-report_system_area", "plain"])
    return parse_report(p)


def parse_report(p):
    text = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    bad = [l for l in text.split("\n") if re.search(r"FAILURE|SORRY|FATAL|MISHAP", l)]
    return [l for l in p.stdout.decode(errors="replace").split("\n") if REPORT_KEEP.match(l)], bad


def shifted_report(lines, at, by):
    """The report lines of the base with @by bytes inserted at byte @at."""

    def sh512(x, unit=512):
        return x if x * unit < at else x + by // unit

    out, apm_unit = [], 2048
    for l in lines:
        key, _, val = l.partition(":")
        f = val.split()
        k = key.strip()
        if k == "El Torito catalog":
            f[0] = str(sh512(int(f[0]), 2048))
        elif k == "El Torito boot img":
            f[-1] = str(sh512(int(f[-1]), 2048))
        elif k == "ISO image size/512":
            f[0] = str(sh512(int(f[0])))
        elif k in ("MBR partition", "GPT start and size", "APM start and size"):
            unit = apm_unit if k.startswith("APM") else 512
            i = 3 if k == "MBR partition" else 1
            s, n = int(f[i]), int(f[i + 1])
            ns = sh512(s, unit)
            f[i], f[i + 1] = str(ns), str(sh512(s + n, unit) - ns)
        elif k == "GPT lba range":
            f = [str(sh512(int(f[0]))), str(sh512(int(f[1]) + 1) - 1), str(sh512(int(f[2])))]
        elif k == "APM block size":
            apm_unit = int(f[0])
        out.append(k + " : " + " ".join(f))
    return out


def normal_report(lines):
    out = []
    for l in lines:
        key, _, val = l.partition(":")
        out.append(key.strip() + " : " + " ".join(val.split()))
    return out



def partitions(iso):
    """(start sector, sectors) of every partition fdisk lists."""
    p = sh(["fdisk", "-l", "-o", "Start,Sectors", iso], check=False)
    out = []
    for l in p.stdout.decode(errors="replace").split("\n"):
        m = re.match(r"^\s*(\d+)\s+(\d+)\s*$", l)
        if m:
            out.append((int(m.group(1)), int(m.group(2))))
    return out


def holds_iso9660(iso, start):
    with open(iso, "rb") as f:
        f.seek(start * 512 + 16 * 2048)
        return f.read(6) == b"\x01CD001"


# ---------------------------------------------------------------- bases


class Base:
    pass


def base_tree(root, layout, rnd):
    """The payload every small base shares."""
    def put(path, data, mode=0o644):
        full = root + path
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
        os.chmod(full, mode)

    put("/boot/kernel", rnd.randbytes(30000))
    put("/boot/initrd", rnd.randbytes(12000))
    os.symlink("kernel", root + "/boot/vmlinuz")
    put("/rootfs.squashfs", rnd.randbytes(150000))
    put("/boot/grub2/grub.cfg", b"set timeout=1\n")
    put("/EFI/BOOT/grub.cfg", b"search --file /rootfs.squashfs\n")
    for i in range(90):  # several blocks of directory records
        put("/big/entry-number-%03d.conf" % i, b"entry %d\n" % i)
    put("/deep/a/b/c/d/e/file.txt", b"deep\n")
    put("/Mixed/CamelCase.TXT", b"x")
    put("/Mixed/lower.txt", b"y", 0o600)
    put("/Mixed/UPPER", b"z", 0o755)
    put("/docs/readme.md", rnd.randbytes(5000))
    put("/empty", b"")


def make_base(work, layout):
    rnd = random.Random("base-" + layout)
    tree = os.path.join(work, "tree-" + layout)
    shutil.rmtree(tree, ignore_errors=True)
    os.makedirs(tree)
    base_tree(tree, layout, rnd)
    iso = os.path.join(work, layout + ".iso")
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    bootimg = tree + "/boot/eltorito.img"
    uefi = os.path.join(work, "uefi-" + layout + ".img")
    with open(uefi, "wb") as f:
        f.write(rnd.randbytes(256 * 1024))
    if layout == "auroraboot":
        with open(bootimg, "wb") as f:
            f.write(rnd.randbytes(4096))
        shutil.copy(uefi, tree + "/boot/uefi.img")
        shutil.copy("/usr/lib/grub/i386-pc/boot_hybrid.img", tree + "/boot/boot_hybrid.img")
        sh(["xorriso", "-volid", "COS_LIVE", "-joliet", "on", "-padding", "0",
            "-outdev", "stdio:" + iso, "-map", tree, "/", "-chmod", "0755", "--",
            "-boot_image", "grub", "bin_path=/boot/eltorito.img",
            "-boot_image", "grub", "grub2_mbr=" + tree + "/boot/boot_hybrid.img",
            "-boot_image", "grub", "grub2_boot_info=on",
            "-boot_image", "any", "partition_offset=16",
            "-boot_image", "any", "cat_path=/boot/boot.catalog",
            "-boot_image", "any", "cat_hidden=on",
            "-boot_image", "any", "boot_info_table=on",
            "-boot_image", "any", "platform_id=0x00",
            "-boot_image", "any", "emul_type=no_emulation",
            "-boot_image", "any", "load_size=2048",
            "-boot_image", "any", "next",
            "-boot_image", "any", "platform_id=0xef",
            "-boot_image", "any", "emul_type=no_emulation",
            "-append_partition", "2", "0xef", uefi,
            "-boot_image", "any", "efi_path=--interval:appended_partition_2:all::",
            "-boot_image", "any", "appended_part_as=gpt",
            "-boot_image", "any", "mbr_force_bootable=on"], env=env)
    elif layout == "mkrescue":
        os.makedirs(tree + "/boot/grub", exist_ok=True)
        shutil.copy(tree + "/boot/grub2/grub.cfg", tree + "/boot/grub/grub.cfg")
        tmp = tempfile.mkdtemp(dir=work)
        sh(["grub-mkrescue", "-o", iso, "--compress=xz", "--fonts=", "--locales=",
            "--themes=", "--install-modules=normal configfile iso9660", tree, "--",
            "-volid", "COS_LIVE"], env=dict(env, TMPDIR=tmp))
        shutil.rmtree(tmp, ignore_errors=True)
    elif layout == "isolinux":
        os.makedirs(tree + "/isolinux")
        shutil.copy("/usr/lib/ISOLINUX/isolinux.bin", tree + "/isolinux/")
        shutil.copy(uefi, tree + "/boot/uefi.img")
        sh(["xorriso", "-as", "mkisofs", "-o", "stdio:" + iso, "-V", "COS_LIVE", "-R", "-J",
            "-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin",
            "-c", "isolinux/boot.cat", "-b", "isolinux/isolinux.bin",
            "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
            "-eltorito-alt-boot", "-e", "boot/uefi.img", "-no-emul-boot",
            "-isohybrid-gpt-basdat", tree], env=env)
    else:
        with open(bootimg, "wb") as f:
            f.write(rnd.randbytes(4096))
        shutil.copy(uefi, tree + "/boot/uefi.img")
        sh(["xorriso", "-as", "mkisofs", "-o", "stdio:" + iso, "-V", "COS_LIVE", "-R",
            "-c", "boot/boot.catalog", "-b", "boot/eltorito.img",
            "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
            "-eltorito-alt-boot", "-e", "boot/uefi.img", "-no-emul-boot", tree], env=env)
    return iso


def delta_from_map(text):
    """Where the delta starts, from the extent map aurorafs-mkiso -v prints."""
    for l in text.split("\n"):
        m = re.match(r"^\s*(\d+)\s+(\d+)\s+(.*)$", l)
        if m and m.group(3) not in ("base ISO", "patched block"):
            return int(m.group(1))
    return 1 << 62


def load_base(work, layout, iso, demo):
    b = Base()
    b.layout, b.iso, b.demo = layout, iso, demo
    b.size = os.path.getsize(iso)
    d = os.path.join(work, "x-" + layout + ("-demo" if demo else ""))
    shutil.rmtree(d, ignore_errors=True)
    sh(["osirrox", "-indev", "stdio:" + iso, "-extract", "/", d])
    b.model = tree_of(d)
    shutil.rmtree(d, ignore_errors=True)
    b.joliet = "Joliet with UCS" in sh(["isoinfo", "-d", "-i", iso]).stdout.decode(errors="replace")
    b.report, bad = report(iso)
    if bad:
        raise RuntimeError("%s: xorriso complains about the base: %s" % (iso, bad))
    b.report = normal_report(b.report)
    # boot images and the catalog stay as they are: not replaced
    b.protected = set()
    for l in b.report:
        m = re.match(r"^(El Torito cat path|El Torito img path|MBR partition path|"
                     r"GPT partition path)\s*:\s*(?:\d+\s+)?(/\S*)", l)
        if m:
            b.protected.add(m.group(2))
    # sanity: the model of the base is what the readers list
    rr = set(listing(iso, "-R"))
    if rr != set(b.model):
        raise RuntimeError("%s: the Rock Ridge listing is not the extracted tree: %s" %
                           (iso, sorted(rr ^ set(b.model))[:10]))
    if b.joliet:
        jl = set(listing(iso, "-J"))
        want = {jpath(p, b.model) for p, n in b.model.items() if n[0] != "l"}
        if jl != want:
            raise RuntimeError("%s: the Joliet listing is not the expected one: %s" %
                               (iso, sorted(jl ^ want)[:10]))
    # where the delta goes depends on the base only
    probe = os.path.join(work, "probe")
    with open(probe, "wb") as f:
        f.write(b"probe")
    p = sh([MKISO, "-v", iso, "/dev/null", "/probe-file=" + probe])
    b.delta_at = delta_from_map(p.stderr.decode())
    b.dirs = sorted(p for p, n in b.model.items() if n[0] == "d" and p not in b.protected)
    b.files = sorted(p for p, n in b.model.items() if n[0] != "d" and p not in b.protected)
    return b


# ---------------------------------------------------------------- edits


PUNCT = " !#$%&'()+,-.;=@[]^_`{}~"
NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + PUNCT
NASTY = "*:?\\"  # Joliet replaces them
SORT_NAMES = ["config.yaml", "config.yam", "CONFIG.YAML", "Config.yaml", "config.yamlx",
              "config-yaml", "config_yaml", "config.yaml.bak", "config", "CONFIG",
              "a", "A", "0", "00", "_", "~", "zzz", "Z", "aa.b", "a.bb", "a b", "a.b.c",
              ".hidden", "x.", "abc.", "1.2.3", "file", "file.txt", "FILE.TXT",
              "kernel", "initrd", "readme.md", "grub.cfg", "vmlinuz", "entry-number-000.conf"]


class Addition:
    __slots__ = ("path", "kind", "data", "mode", "target")

    def __init__(self, path, kind, data=b"", mode=0o644, target=""):
        self.path, self.kind, self.data, self.mode, self.target = path, kind, data, mode, target

    def describe(self):
        if self.kind == "f":
            return "%s (file, %d bytes, %o)" % (self.path, len(self.data), self.mode)
        if self.kind == "l":
            return "%s -> %s" % (self.path, self.target)
        return "%s/ (directory)" % self.path


class Edit:
    def __init__(self, index, base, adds, mount, invalid=False, cloud_config=None):
        self.index, self.base, self.adds, self.mount = index, base, adds, mount
        self.invalid, self.cloud_config = invalid, cloud_config

    def describe(self):
        s = "edit %d on %s%s (%s), %d additions%s:\n" % (
            self.index, self.base.layout, " demo ISO" if self.base.demo else "",
            "mount" if self.mount else "aurorafs-mkiso", len(self.adds),
            " - expected to be refused" if self.invalid else "")
        return s + "".join("  " + a.describe() + "\n" for a in self.adds)


def apply(model, adds):
    """The model after @adds, or None if one of them is impossible."""
    m = dict(model)
    for a in adds:
        parts = a.path.strip("/").split("/")
        for i in range(1, len(parts)):
            p = "/" + "/".join(parts[:i])
            if p in m and m[p][0] != "d":
                return None
            m.setdefault(p, ("d",))
        node = m.get(a.path)
        if a.kind == "d":
            if node and node[0] != "d":
                return None
            m.setdefault(a.path, ("d",))
        else:
            if node and node[0] == "d":
                return None
            m[a.path] = ("f", digest(a.data), a.mode) if a.kind == "f" else ("l", a.target)
    return m


def parent_of(path):
    return path.rsplit("/", 1)[0] or "/"


def joliet_index(model):
    """{directory: {visible Joliet name: path}} of what Joliet shows."""
    idx = {}
    for p, n in model.items():
        if n[0] != "l":
            idx.setdefault(parent_of(p), {})[jvisible(jname(p.rsplit("/", 1)[1], n[0] == "d"))] = p
    return idx


def joliet_update(idx, old, new, path):
    """Update @idx for @path and its new parents going from @old to @new;
    False if a name would collide in Joliet (the editor would then add a
    serial number, which the listing check does not predict)."""
    parts = path.strip("/").split("/")
    changes = []
    for i in range(len(parts)):
        q = "/" + "/".join(parts[:i + 1])
        was, now = old.get(q), new.get(q)
        shown_before = was is not None and was[0] != "l"
        shown_after = now is not None and now[0] != "l"
        vis = jvisible(jname(parts[i], now is not None and now[0] == "d"))
        if shown_after and not shown_before:
            holder = idx.get(parent_of(q), {}).get(vis)
            if holder is not None and holder != q:
                return False
            changes.append((q, vis, True))
        elif shown_before and not shown_after:
            changes.append((q, vis, False))
    for q, vis, add in changes:
        d = idx.setdefault(parent_of(q), {})
        if add:
            d[vis] = q
        elif d.get(vis) == q:
            del d[vis]
    return True


FILES_ONLY = False  # --files-only: what an older aurorafs-mkiso can express


def random_name(r):
    k = r.random()
    if k < 0.30:
        n = r.choice(SORT_NAMES)
    elif k < 0.75:
        n = "".join(r.choice(NAME_CHARS) for _ in range(r.randint(1, 12)))
    elif k < 0.85:
        n = "".join(r.choice(NAME_CHARS + NASTY) for _ in range(r.randint(1, 20)))
    elif k < 0.95:
        n = "".join(r.choice(NAME_CHARS) for _ in range(r.randint(25, 90)))
    else:
        n = "".join(r.choice(NAME_CHARS) for _ in range(r.randint(90, 255)))
    if n in (".", "..") or "->" in n:
        n = "n" + n
    if FILES_ONLY:
        n = n.replace("=", "_")
    if r.random() < 0.3:
        n = n.upper() if r.random() < 0.5 else n.lower()
    return n.replace("/", "_")


def random_data(r, big):
    k = r.random()
    if k < 0.1:
        n = 0
    elif k < 0.7:
        n = r.randint(1, 4096)
    elif k < 0.95 or not big:
        n = r.randint(4097, 200000)
    else:
        n = r.randint(1 << 20, 3 << 20)
    return r.randbytes(n)


def random_dir(r, base, made):
    k = r.random()
    if k < 0.35 and base.dirs:
        return r.choice(base.dirs)
    if k < 0.55 and made:
        return r.choice(made)
    if k < 0.6:
        return "/"
    parent = r.choice(base.dirs + ["/"] + made)
    depth = r.choice([1, 1, 1, 2, 3, 6, 10])
    for _ in range(depth):
        parent = parent.rstrip("/") + "/" + random_name(r)[:40]
    return parent


def generate(index, seed, base, mount):
    r = random.Random("%s:%d" % (seed, index))
    k = r.random()
    if k < 0.70:
        n = r.randint(1, 6)
    elif k < 0.90:
        n = r.randint(7, 30)
    else:
        n = r.randint(100, 400)
    many = n >= 100
    one_dir = random_dir(r, base, []) if many else None
    adds, made = [], []
    model = base.model
    if mount and model.get("/config.yaml", ("f",))[0] != "d":
        # the cloud-config goes there last: nothing may go under it, and
        # nothing may take its Joliet name
        model = dict(model)
        model["/config.yaml"] = ("f", "cloud-config", 0o644)
    jidx = joliet_index(model) if base.joliet else None
    if mount and r.random() < 0.5 and model.get("/config.yaml", ("f",))[0] == "f":
        # the overlay's own config.yaml, which the cloud-config replaces
        adds.append(Addition("/config.yaml", "f", b"overlay config\n", 0o600))
    tries = 0
    while len(adds) < n and tries < n * 20:
        tries += 1
        kind = r.choices("fld", weights=[85, 10, 5])[0]
        if FILES_ONLY:
            kind = "f"
        if adds and r.random() < 0.08 and not mount:
            prev = r.choice(adds)  # the same path again: the later wins
            path = prev.path
            if prev.kind == "d":
                continue
        elif r.random() < 0.15 and base.files and not many:
            path = r.choice(base.files)  # replace a base file
        else:
            d = one_dir if many and r.random() < 0.9 else random_dir(r, base, made)
            path = d.rstrip("/") + "/" + random_name(r)
        if any(path == p or path.startswith(p + "/") for p in base.protected):
            continue
        if kind == "f":
            a = Addition(path, "f", random_data(r, not many),
                         r.choice([0o644, 0o644, 0o600, 0o755, 0o640, 0o444, 0o700]))
        elif kind == "l":
            a = Addition(path, "l", target=r.choice(
                ["/etc/shadow", "../boot/kernel", "kernel", ".", "..", "/",
                 "a/./b/../c", "/" + "/".join(random_name(r)[:30] for _ in range(r.randint(1, 30)))]))
        else:
            a = Addition(path, "d")
        m = apply(model, [a])
        if m is None or len(path.encode()) > 1000:
            continue
        if mount and path == "/config.yaml" and kind == "d":
            continue
        if jidx is not None and not joliet_update(jidx, model, m, path):
            continue
        model = m
        adds.append(a)
        if kind == "d" or "/" in path.strip("/"):
            made.append(path if kind == "d" else path.rsplit("/", 1)[0])
    invalid = False
    if not mount and r.random() < 0.02 and base.files and not FILES_ONLY:
        # something the editor must refuse: a file under a file, or a
        # file over a directory
        f = r.choice(base.files)
        bad = f + "/x" if r.random() < 0.5 else r.choice([d for d in base.dirs] or ["/boot"])
        adds.insert(r.randint(0, len(adds)), Addition(bad, "f", b"bad", 0o644))
        invalid = True
    cc = r.randbytes(r.randint(10, 3000)) if mount else None
    return Edit(index, base, adds, mount, invalid, cc)


# ---------------------------------------------------------------- running


class Failure(Exception):
    pass


def expected_model(e):
    adds = list(e.adds)
    if e.mount:
        adds.append(Addition("/config.yaml", "f", e.cloud_config, 0o644))
    return apply(e.base.model, adds)


def materialise(e, d):
    """Local files for the additions: mkiso arguments, or an overlay tree
    (for a mount: the final state of every added path)."""
    args = []
    os.makedirs(d, exist_ok=True)
    if e.mount:
        ov = os.path.join(d, "overlay")
        os.makedirs(ov)
        final = apply(e.base.model, e.adds)
        touched = set()
        for a in e.adds:
            parts = a.path.strip("/").split("/")
            touched.update("/" + "/".join(parts[:i + 1]) for i in range(len(parts)))
        for p in sorted(touched):
            n, full = final[p], ov + p
            if n[0] == "d":
                os.makedirs(full, exist_ok=True)
            elif n[0] == "l":
                os.symlink(n[1], full)
        for a in e.adds:  # contents: the last addition of each path
            if a.kind == "f" and final[a.path] == ("f", digest(a.data), a.mode):
                with open(ov + a.path, "wb") as f:
                    f.write(a.data)
                os.chmod(ov + a.path, a.mode)
        return ov
    for i, a in enumerate(e.adds):
        if a.kind == "f":
            local = os.path.join(d, "f%d" % i)
            with open(local, "wb") as f:
                f.write(a.data)
            os.chmod(local, a.mode)
            args.append(a.path + "=" + local)
        elif a.kind == "l":
            args.append(a.path + "->" + a.target)
        else:
            args.append(a.path + "/")
    return args


def check_image(e, out, d, model):
    b = e.base
    # the boot records and partition tables, and an extraction, in one run
    x = os.path.join(d, "x")
    p = sh(["xorriso", "-indev", "stdio:" + out, "-report_el_torito", "plain",
            "-report_system_area", "plain", "-osirrox", "on", "-extract", "/", x], check=False)
    lines, bad = parse_report(p)
    if p.returncode != 0 or bad:
        raise Failure("xorriso: exit %d %s" % (p.returncode, (bad or [p.stderr.decode()[-500:]])[:3]))
    grown = os.path.getsize(out) - b.size
    at = b.delta_at
    want = shifted_report(b.report, at, grown)
    got = normal_report(lines)
    if want != got:
        diff = [("-" + w, "+" + g) for w, g in zip(want, got) if w != g]
        raise Failure("boot records/partitions differ (delta of %d bytes at %d): %s%s" % (
            grown, at, diff[:4], " and the line counts" if len(want) != len(got) else ""))
    # contents, modes, links
    have = tree_of(x)
    if have != model:
        missing = sorted(set(model) - set(have))[:5]
        extra = sorted(set(have) - set(model))[:5]
        wrong = sorted(p for p in model if p in have and have[p] != model[p])[:5]
        raise Failure("osirrox: missing %s, unexpected %s, different %s" % (
            missing, extra, [(p, model[p], have[p]) for p in wrong]))
    shutil.rmtree(x, ignore_errors=True)
    check_listings(out, model, b.joliet, "")
    # every partition with its own descriptors shows the same tree
    for start, sectors in partitions(out):
        if start == 0 or not holds_iso9660(out, start):
            continue
        part = os.path.join(d, "part.img")
        with open(out, "rb") as f, open(part, "wb") as g:
            f.seek(start * 512)
            g.write(f.read(sectors * 512))
        check_listings(part, model, b.joliet, "partition at sector %d: " % start)
        # and the contents of a few added files
        for a in [a for a in e.adds if a.kind == "f" and model.get(a.path) ==
                  ("f", digest(a.data), a.mode) and len(a.data) < 300000][:2]:
            got = sh(["isoinfo", "-R", "-i", part, "-x", a.path]).stdout
            if got != a.data:
                raise Failure("partition at sector %d: %s has %d other bytes" % (
                    start, a.path, len(got)))
        os.unlink(part)


def check_listings(iso, model, joliet, what):
    rr = listing(iso, "-R")
    if len(rr) != len(set(rr)) or set(rr) != set(model):
        raise Failure("%sisoinfo -R -f: missing %s, unexpected %s" % (
            what, sorted(set(model) - set(rr))[:5], sorted(set(rr) - set(model))[:5]))
    if joliet:
        jl = listing(iso, "-J")
        want = {jpath(p, model) for p, n in model.items() if n[0] != "l"}
        if len(jl) != len(set(jl)) or set(jl) != want:
            raise Failure("%sisoinfo -J -f: missing %s, unexpected %s" % (
                what, sorted(want - set(jl))[:5], sorted(set(jl) - want)[:5]))
    plain = listing(iso, None)
    if len(plain) != len(model) or len(set(p.upper() for p in plain)) != len(plain):
        raise Failure("%sisoinfo -f: %d entries for %d, or two that look alike" % (
            what, len(plain), len(model)))


def run_mkiso(e, d):
    out = os.path.join(d, "out.iso")
    args = materialise(e, os.path.join(d, "in"))
    p = sh([MKISO, "-v", e.base.iso, out] + args, check=False)
    err = p.stderr.decode(errors="replace")
    if e.invalid:
        if p.returncode == 0 or os.path.exists(out) and os.path.getsize(out):
            raise Failure("an impossible addition was accepted")
        if not re.search(r"is not a directory|cannot replace", err):
            raise Failure("no clear message for an impossible addition: %s" % err[-300:])
        return
    if p.returncode != 0:
        raise Failure("aurorafs-mkiso: exit %d: %s" % (p.returncode, err[-1500:]))
    at = delta_from_map(err)
    if at != 1 << 62 and at != e.base.delta_at:
        raise Failure("the delta is at byte %d, not %d" % (at, e.base.delta_at))
    check_image(e, out, d, expected_model(e))


mount_lock = threading.Lock()


def run_mount(e, d, work):
    b = e.base
    rel = release_for(work, b)
    ov = materialise(e, os.path.join(d, "in"))
    cc = os.path.join(d, "cc.yaml")
    with open(cc, "wb") as f:
        f.write(e.cloud_config)
    mnt, state = os.path.join(d, "mnt"), os.path.join(d, "state")
    os.makedirs(mnt)
    log = open(os.path.join(d, "aurorafs.log"), "wb")
    proc = subprocess.Popen(
        [AURORAFS, "-f", "--set", "disable_netboot=true", "--set", "disable_http_server=true",
         "--set", "release_server=file://" + rel, "--set", "repository=acme/os",
         "--set", "release_version=v3.0.0", "--set", "artifact_version=v3.0.0",
         "--set", "flavor=prop", "--set", "flavor_release=1.0", "--set", "state_dir=" + state,
         "--cloud-config", cc, "--set", "iso.overlay_iso=" + ov, mnt],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    try:
        for _ in range(300):
            if os.path.ismount(mnt):
                break
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        else:
            raise Failure("aurorafs did not mount")
        if not os.path.ismount(mnt):
            raise Failure("aurorafs exited: %s" % open(log.name, errors="replace").read()[-800:])
        iso = [n for n in os.listdir(mnt + "/iso") if n.endswith(".custom.iso")]
        if len(iso) != 1:
            raise Failure("no custom ISO in the mount: %s" % os.listdir(mnt + "/iso"))
        out = mnt + "/iso/" + iso[0]
        try:
            os.path.getsize(out)
        except OSError as x:
            raise Failure("the custom ISO was not built: %s: %s" % (
                x, open(log.name, errors="replace").read()[-800:]))
        check_image(e, out, d, expected_model(e))
    finally:
        subprocess.run(["fusermount3", "-u", mnt], stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    text = open(log.name, errors="replace").read()
    if re.search(r"Sanitizer|runtime error:", text):
        raise Failure("sanitizer report from aurorafs: %s" % text[-2000:])


releases = {}


def release_for(work, b):
    with mount_lock:
        if b.layout in releases:
            return releases[b.layout]
        rel = os.path.join(work, "rel-" + b.layout)
        d = rel + "/acme/os/releases/download/v3.0.0"
        os.makedirs(d)
        name = "kairos-prop-1.0-core-amd64-generic-v3.0.0.iso"
        os.symlink(b.iso, d + "/" + name)
        with open(b.iso, "rb") as f:
            h = hashlib.sha256(f.read()).hexdigest()
        with open(d + "/" + name + ".sha256", "w") as f:
            f.write("%s  %s\n" % (h, name))
        releases[b.layout] = rel
        return rel


def run_edit(e, work, keep):
    d = tempfile.mkdtemp(prefix="e%d-" % e.index, dir=work)
    try:
        if e.mount:
            run_mount(e, d, work)
        else:
            run_mkiso(e, d)
        shutil.rmtree(d, ignore_errors=True)
        return None
    except (Failure, RuntimeError, OSError) as x:
        if not keep:
            shutil.rmtree(d, ignore_errors=True)
        return "%s%s" % (x, (" (kept in %s)" % d) if keep else "")


def shrink(e, work, err):
    """The smallest list of additions (greedily) that still fails."""
    adds = list(e.adds)
    budget = 60
    i = len(adds) - 1
    while i >= 0 and budget > 0 and len(adds) > 1:
        trial = adds[:i] + adds[i + 1:]
        budget -= 1
        t = Edit(e.index, e.base, trial, e.mount, e.invalid, e.cloud_config)
        if apply(e.base.model, trial) is not None or e.invalid:
            r = run_edit(t, work, False)
            if r:
                adds, err = trial, r
        i = min(i - 1, len(adds) - 1)
    return Edit(e.index, e.base, adds, e.mount, e.invalid, e.cloud_config), err


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--edits", type=int, default=int(
        os.environ.get("ISO_PROPERTY_EDITS") or os.environ.get("ISO_PROPERTY_DEFAULT_EDITS") or "2000"))
    ap.add_argument("--seed", default=os.environ.get("ISO_PROPERTY_SEED"))
    ap.add_argument("--first", type=int, default=int(os.environ.get("ISO_PROPERTY_FIRST", "0")))
    ap.add_argument("--mounts", type=int, default=None if "ISO_PROPERTY_MOUNTS" not in os.environ
                    else int(os.environ["ISO_PROPERTY_MOUNTS"]))
    ap.add_argument("--demo", type=int, default=int(os.environ.get("ISO_PROPERTY_DEMO", "4")))
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("ISO_PROPERTY_JOBS", "2")))
    ap.add_argument("--only", type=int, default=int(os.environ.get("ISO_PROPERTY_ONLY", "-1")),
                    help="run this edit of the run only (a replay)")
    ap.add_argument("--keep", action="store_true", default=bool(os.environ.get("ISO_PROPERTY_KEEP")))
    ap.add_argument("--long", action="store_true", help="20000 edits, 200 through a mount")
    ap.add_argument("--layouts", default=os.environ.get("ISO_PROPERTY_LAYOUTS", ",".join(LAYOUTS)),
                    help="comma-separated subset of " + ",".join(LAYOUTS))
    ap.add_argument("--files-only", action="store_true",
                    help="only files, no '=' in names (for an aurorafs-mkiso without links)")
    o = ap.parse_args()
    global FILES_ONLY
    FILES_ONLY = o.files_only
    if o.long:
        o.edits = 20000
    if o.mounts is None:
        o.mounts = max(8, o.edits // 100)
    if not MKISO:
        print("MKISO must name aurorafs-mkiso", file=sys.stderr)
        return 2
    for tool in ("xorriso", "osirrox", "isoinfo", "fdisk"):
        if not shutil.which(tool):
            print("SKIP: no %s" % tool)
            return 77
    can_mount = (os.geteuid() == 0 and os.path.exists("/dev/fuse") and AURORAFS and
                 shutil.which("fusermount3"))
    if not can_mount:
        o.mounts = 0
    seed = o.seed or "%d" % random.SystemRandom().randrange(1 << 40)
    print("iso_property: seed %s, edits %d..%d, %d through a mount, %d on demo ISOs, %d jobs" % (
        seed, o.first, o.first + o.edits - 1, o.mounts, o.demo, o.jobs), flush=True)
    print("  replay: ISO_PROPERTY_SEED=%s with the same counts (ISO_PROPERTY_ONLY=i: edit i)" % seed,
          flush=True)
    # lots of small files written and read back: tmpfs if there is one
    tmp = os.environ.get("ISO_PROPERTY_TMP") or (
        "/dev/shm" if os.access("/dev/shm", os.W_OK) and
        shutil.disk_usage("/dev/shm").free > 2 << 30 else None)
    work = tempfile.mkdtemp(prefix="aurorafs-prop.", dir=tmp)
    t0 = time.time()
    try:
        small, demo = {}, {}
        for layout in [l for l in LAYOUTS if l in o.layouts.split(",")]:
            if layout == "mkrescue" and not shutil.which("grub-mkrescue"):
                print("  no grub-mkrescue: layout %s left out" % layout)
                continue
            small[layout] = load_base(work, layout, make_base(work, layout), False)
        env_file = os.path.join(DEMO_DIR, "demo.env")
        if o.demo and os.path.exists(env_file):
            env = dict(re.findall(r"^(DEMO_ISO_\w+)='([^']*)'", open(env_file).read(), re.M))
            for layout in LAYOUTS:
                iso = env.get("DEMO_ISO_" + layout.upper())
                if iso and os.path.exists(iso) and layout in small:
                    demo[layout] = load_base(work, layout, iso, True)
        layouts = sorted(small)
        print("  bases ready in %.1fs: %s" % (time.time() - t0, ", ".join(
            "%s %d KiB%s" % (l, small[l].size >> 10, "" if small[l].joliet else " (no Joliet)")
            for l in layouts)), flush=True)

        # mounts and demo edits spread over the run, by index
        every_m = max(1, o.edits // max(1, o.mounts))
        every_d = max(1, o.edits // max(1, o.demo))
        mounts = {o.first + 1 + j * every_m for j in range(o.mounts)}
        demos = {o.first + 2 + j * every_d for j in range(o.demo)}

        def edit_for(i):
            layout = layouts[i % len(layouts)]
            base = demo[layout] if i in demos and layout in demo else small[layout]
            return generate(i, seed, base, i in mounts)

        failures = []
        counts = {"mkiso": 0, "mount": 0, "invalid": 0, "additions": 0}
        lock = threading.Lock()
        stop = threading.Event()

        def one(i):
            if stop.is_set():
                return
            e = edit_for(i)
            err = run_edit(e, work, o.keep)
            with lock:
                counts["mount" if e.mount else "mkiso"] += 1
                counts["invalid"] += e.invalid
                counts["additions"] += len(e.adds)
                done = counts["mount"] + counts["mkiso"]
                if done % 250 == 0:
                    print("  %d edits, %.0fs" % (done, time.time() - t0), flush=True)
            if err:
                stop.set()
                with lock:
                    failures.append((e, err))

        with ThreadPoolExecutor(max_workers=max(1, o.jobs)) as pool:
            todo = [o.only] if o.only >= 0 else range(o.first, o.first + o.edits)
            list(pool.map(one, todo))
        if failures:
            e, err = sorted(failures, key=lambda f: f[0].index)[0]
            print("FAIL: seed %s, edit %d: %s" % (seed, e.index, err), flush=True)
            small_e, small_err = shrink(e, work, err)
            print("minimal edit that fails (%s):\n%s" % (small_err, small_e.describe()))
            print("replay: ISO_PROPERTY_SEED=%s ISO_PROPERTY_FIRST=%d ISO_PROPERTY_EDITS=%d "
                  "ISO_PROPERTY_MOUNTS=%d ISO_PROPERTY_DEMO=%d ISO_PROPERTY_ONLY=%d %s" % (
                      seed, o.first, o.edits, o.mounts, o.demo, e.index, sys.argv[0]))
            return 1
        print("ok: %d edits (%d through a mount, %d refused as they should), %d additions, "
              "in %.0fs; seed %s" % (counts["mkiso"] + counts["mount"], counts["mount"],
                                     counts["invalid"], counts["additions"], time.time() - t0,
                                     seed), flush=True)
        return 0
    finally:
        if not o.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
