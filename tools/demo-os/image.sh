#!/usr/bin/env bash
#
# image.sh OUTDIR - the demo OS's root filesystem (OUTDIR/rootfs) as a
# container image, for the container_image tests:
#
#   OUTDIR/image/oci               OCI image layout, gzip layers; tags
#                                  "latest", "$DEMO_VERSION", and "multi"
#                                  (an index: linux/amd64 + linux/arm64)
#   OUTDIR/image/oci-zstd          the same image with zstd layers
#   OUTDIR/image/oci-archive.tar   OUTDIR/image/oci as one tar
#   OUTDIR/image/docker-archive.tar  docker save format, plain layers
#   OUTDIR/image/image.vars        NAME VALUE lines for demo.env
#
# Three layers whose flattened result is exactly the rootfs tree:
#   1. base: the rootfs minus /etc and /boot's files, plus things the
#      upper layers remove: a stale /etc, /usr/bin/stale-tool, and
#      /var/cache/demo with a hard link, a device node and a symlink
#      (the rootfs has none of the first two, so they live there)
#   2. etc:  /etc as an opaque directory (.wh..wh..opq) with the real
#      files, and whiteouts of /usr/bin/stale-tool and /var/cache
#   3. boot: the kernel and initrd
# Deterministic: sorted entries, owners and modes from the rootfs, times
# from SOURCE_DATE_EPOCH, gzip without timestamps. Re-running on the same
# inputs is a no-op (OUTDIR/image/.stamp).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $# -eq 1 ]] || {
	echo "usage: $0 OUTDIR" >&2
	exit 2
}
OUT=$(cd "$1" && pwd)
ROOTFS=$OUT/rootfs
IMG=$OUT/image
EPOCH=${SOURCE_DATE_EPOCH:-1704067200}
DEMO_VERSION=${DEMO_VERSION:-v3.0.0}
[[ -d $ROOTFS ]] || {
	echo "image.sh: no rootfs in $OUT" >&2
	exit 1
}
for tool in python3 zstd; do
	command -v "$tool" >/dev/null || {
		echo "image.sh: missing tool: $tool" >&2
		exit 1
	}
done

stamp() {
	{
		echo "epoch=$EPOCH version=$DEMO_VERSION out=$OUT"
		zstd --version
		cat "$HERE/image.sh"
		(cd "$ROOTFS" && find . -printf '%p %y %m %U %G %s %T@ %l\n' | LC_ALL=C sort)
	} | sha256sum | cut -d' ' -f1
}
STAMP=$(stamp)
if [[ -f $IMG/.stamp && $(cat "$IMG/.stamp") == "$STAMP" && -f $IMG/image.vars ]]; then
	exit 0
fi
rm -rf "$IMG"
mkdir -p "$IMG"

python3 - "$ROOTFS" "$IMG" "$EPOCH" "$DEMO_VERSION" <<'PY'
import gzip, hashlib, io, json, os, stat, subprocess, sys, tarfile

rootfs, img, epoch, version = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def walk(top):
    """Paths below the rootfs, relative, sorted, parents first."""
    out = []
    for dirpath, dirs, files in os.walk(os.path.join(rootfs, top) if top else rootfs):
        dirs.sort()
        for n in sorted(dirs + files):
            out.append(os.path.relpath(os.path.join(dirpath, n), rootfs))
    return sorted(out)


class Layer:
    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)
        self.inodes = {}

    def info(self, name, kind, mode, size=0, mtime=None):
        t = tarfile.TarInfo(name)
        t.type, t.mode, t.size = kind, mode, size
        t.mtime = epoch if mtime is None else mtime
        t.uid = t.gid = 0
        t.uname = t.gname = ""
        return t

    def from_rootfs(self, rel):
        full = os.path.join(rootfs, rel)
        st = os.lstat(full)
        t = self.info(rel, tarfile.REGTYPE, stat.S_IMODE(st.st_mode), mtime=int(st.st_mtime))
        t.uid, t.gid = st.st_uid, st.st_gid
        if stat.S_ISDIR(st.st_mode):
            t.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(st.st_mode):
            t.type, t.linkname = tarfile.SYMTYPE, os.readlink(full)
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.inodes:
                t.type, t.linkname = tarfile.LNKTYPE, self.inodes[key]
            else:
                self.inodes[key] = rel
                t.size = st.st_size
                with open(full, "rb") as f:
                    self.tar.addfile(t, f)
                return
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            t.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            t.devmajor, t.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        else:
            raise SystemExit("image.sh: cannot put %s in a layer" % rel)
        self.tar.addfile(t)

    def add(self, t, data=b""):
        t.size = len(data)
        self.tar.addfile(t, io.BytesIO(data))

    def bytes(self):
        self.tar.close()
        return self.buf.getvalue()


# 1. base
base = Layer()
for rel in walk(""):
    top = rel.split("/")[0]
    if top == "etc" and rel != "etc" or rel.startswith("boot/"):
        continue
    base.from_rootfs(rel)
    if rel == "etc":
        base.add(base.info("etc/hostname", tarfile.REGTYPE, 0o644), b"stale\n")
        base.add(base.info("etc/stale.conf", tarfile.REGTYPE, 0o644), b"hidden by the opaque /etc\n")
    if rel == "usr/bin":
        base.add(base.info("usr/bin/stale-tool", tarfile.REGTYPE, 0o755), b"#!/bin/sh\nexit 1\n")
    if rel == "var":
        for d in ("var/cache", "var/cache/demo"):
            base.add(base.info(d, tarfile.DIRTYPE, 0o755))
        base.add(base.info("var/cache/demo/file-a", tarfile.REGTYPE, 0o644), b"linked twice\n")
        t = base.info("var/cache/demo/file-b", tarfile.LNKTYPE, 0o644)
        t.linkname = "var/cache/demo/file-a"
        base.tar.addfile(t)
        t = base.info("var/cache/demo/null", tarfile.CHRTYPE, 0o666)
        t.devmajor, t.devminor = 1, 3
        base.tar.addfile(t)
        t = base.info("var/cache/demo/link", tarfile.SYMTYPE, 0o777)
        t.linkname = "file-a"
        base.tar.addfile(t)

# 2. etc (opaque) and whiteouts
etc = Layer()
for rel in ["etc"] + [p for p in walk("etc")]:
    etc.from_rootfs(rel)
    if rel == "etc":
        etc.add(etc.info("etc/.wh..wh..opq", tarfile.REGTYPE, 0o644))
for d in ("usr", "usr/bin"):
    etc.from_rootfs(d)
etc.add(etc.info("usr/bin/.wh.stale-tool", tarfile.REGTYPE, 0o644))
etc.from_rootfs("var")
etc.add(etc.info("var/.wh.cache", tarfile.REGTYPE, 0o644))

# 3. boot
boot = Layer()
for rel in ["boot"] + walk("boot"):
    boot.from_rootfs(rel)

tars = [base.bytes(), etc.bytes(), boot.bytes()]
diff_ids = [sha(t) for t in tars]
history = ["base: busybox userland, stale files", "etc: opaque /etc, whiteouts", "boot: kernel and initrd"]


def config(arch):
    created = "%s" % __import__("time").strftime("%Y-%m-%dT%H:%M:%SZ", __import__("time").gmtime(epoch))
    return json.dumps({
        "architecture": arch, "os": "linux", "created": created,
        "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"],
                   "Labels": {"org.opencontainers.image.version": version}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": created, "created_by": h} for h in history],
    }, sort_keys=True, separators=(",", ":")).encode()


def zstd(b):
    return subprocess.run(["zstd", "-q", "-3", "-T1", "-c"], input=b, check=True,
                          stdout=subprocess.PIPE).stdout


class Layout:
    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.join(path, "blobs", "sha256"))
        self.entries = []

    def blob(self, data):
        d = sha(data)
        with open(os.path.join(self.path, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(data)
        return d

    def manifest(self, cfg, layers, media):
        m = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": self.blob(cfg), "size": len(cfg)},
            "layers": [{"mediaType": media, "digest": self.blob(l), "size": len(l)} for l in layers],
        }, separators=(",", ":")).encode()
        return {"mediaType": OCI_MANIFEST, "digest": self.blob(m), "size": len(m)}

    def tag(self, desc, name):
        self.entries.append(dict(desc, annotations={"org.opencontainers.image.ref.name": name}))

    def close(self):
        with open(os.path.join(self.path, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.entries},
                      f, separators=(",", ":"))


gz = [gzip.compress(t, compresslevel=6, mtime=0) for t in tars]
zs = [zstd(t) for t in tars]
amd64 = config("amd64")

oci = Layout(os.path.join(img, "oci"))
m_gz = oci.manifest(amd64, gz, LAYER + "+gzip")
m_arm = oci.manifest(config("arm64"), gz, LAYER + "+gzip")
index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
    dict(m_gz, platform={"architecture": "amd64", "os": "linux"}),
    dict(m_arm, platform={"architecture": "arm64", "os": "linux", "variant": "v8"}),
]}, separators=(",", ":")).encode()
oci.tag(m_gz, "latest")
oci.tag(m_gz, version)
oci.tag({"mediaType": OCI_INDEX, "digest": oci.blob(index), "size": len(index)}, "multi")
oci.close()

zst = Layout(os.path.join(img, "oci-zstd"))
m_zs = zst.manifest(amd64, zs, LAYER + "+zstd")
zst.tag(m_zs, "latest")
zst.tag(m_zs, version)
zst.close()


def archive(path, members):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            i = tarfile.TarInfo(name)
            i.mtime, i.mode, i.uname, i.gname = epoch, 0o644, "", ""
            if data is None:
                i.type, i.mode = tarfile.DIRTYPE, 0o755
                t.addfile(i)
            else:
                i.size = len(data)
                t.addfile(i, io.BytesIO(data))


def tree(top):
    out = []
    for dirpath, dirs, files in os.walk(top):
        dirs.sort()
        rel = os.path.relpath(dirpath, top)
        if rel != ".":
            out.append((rel, None))
        for n in sorted(files):
            with open(os.path.join(dirpath, n), "rb") as f:
                out.append((os.path.normpath(os.path.join(rel, n)), f.read()))
    return sorted(out, key=lambda m: m[0])


archive(os.path.join(img, "oci-archive.tar"), tree(os.path.join(img, "oci")))
cfg_name = sha(amd64)[7:] + ".json"
layers = ["%s/layer.tar" % d[7:] for d in diff_ids]
manifest = json.dumps([{"Config": cfg_name, "RepoTags": ["aurorafs/demo:latest", "aurorafs/demo:" + version],
                        "Layers": layers}], separators=(",", ":")).encode()
archive(os.path.join(img, "docker-archive.tar"),
        [(cfg_name, amd64)] + list(zip(layers, tars)) + [("manifest.json", manifest)])

with open(os.path.join(img, "image.vars"), "w") as f:
    v = {
        "DEMO_IMAGE_OCI": os.path.join(img, "oci"),
        "DEMO_IMAGE_OCI_ZSTD": os.path.join(img, "oci-zstd"),
        "DEMO_IMAGE_OCI_ARCHIVE": os.path.join(img, "oci-archive.tar"),
        "DEMO_IMAGE_DOCKER_ARCHIVE": os.path.join(img, "docker-archive.tar"),
        "DEMO_IMAGE_TAGS": "latest %s multi" % version,
        "DEMO_IMAGE_CONFIG_DIGEST": sha(amd64),
        "DEMO_IMAGE_MANIFEST_GZIP": m_gz["digest"],
        "DEMO_IMAGE_MANIFEST_ZSTD": m_zs["digest"],
        "DEMO_IMAGE_DIFF_IDS": " ".join(diff_ids),
        "DEMO_IMAGE_SIZE": str(sum(len(t) for t in tars)),
    }
    for k in v:
        f.write("%s %s\n" % (k, v[k]))
PY
find "$IMG" -exec touch -h -d "@$EPOCH" {} +
echo "$STAMP" >"$IMG/.stamp"
