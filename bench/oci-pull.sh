#!/usr/bin/env bash
# oci-pull.sh - how fast a container image gets into the layer store.
#
# A docker-registry on loopback holds two images: the demo OS (three
# layers, 11 MB of gzip) and a synthetic one with one large gzip layer
# and one large zstd layer made from /usr (SIZE_MIB of tar each). For
# each, a cold pull with aurorafs-pull (fetch, verify, decompress,
# verify, fsync) is timed against skopeo copying the same image into an
# OCI layout (the baseline: fetch and verify only, no decompression, no
# fsync); then a warm pull (everything stored: manifests only). Prints
# seconds, MB/s of compressed and of uncompressed bytes, the ratio to the
# baseline, and the store's size.
#
# Usage: bench/oci-pull.sh [SIZE_MIB]   (default 256; needs docker-registry
# and skopeo; builds the demo OS if needed)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PULL=${AURORAFS_PULL:-$ROOT/build/tools/aurorafs-pull}
SIZE_MIB=${1:-256}
RUNS=${RUNS:-3}
[ -x "$PULL" ] || { echo "build first: $PULL"; exit 1; }
for t in docker-registry skopeo zstd; do
	command -v $t >/dev/null || { echo "needs $t (tools/deps.sh)"; exit 1; }
done
DEMO_DIR=${DEMO_DIR:-$ROOT/build/demo}
"$ROOT/tools/demo-os/build.sh" "$DEMO_DIR" >/dev/null 2>&1
# shellcheck disable=SC1091
. "$DEMO_DIR/demo.env"

T=$(mktemp -d /tmp/aurorafs-bench.XXXXXX)
REG_PID=
cleanup() {
	[ -n "$REG_PID" ] && kill -- "-$REG_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$T/reg.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $T/reg
http:
  addr: 127.0.0.1:$PORT
EOF
setsid docker-registry serve "$T/reg.yml" >"$T/reg.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/v2/" -o /dev/null && break; sleep 0.1; done
R=127.0.0.1:$PORT

# the synthetic image: SIZE_MIB of /usr as a tar, as gzip and as zstd
python3 - "$T/big" "$SIZE_MIB" <<'PY'
import gzip, hashlib, io, json, os, subprocess, sys, tarfile
out, size = sys.argv[1], int(sys.argv[2]) << 20
files = []
for d, dirs, names in os.walk("/usr"):
    dirs.sort()
    files += [os.path.join(d, f) for f in sorted(names)
              if os.path.isfile(os.path.join(d, f)) and not os.path.islink(os.path.join(d, f))]
def make_tar(it):
    buf, total = io.BytesIO(), 0
    with tarfile.open(fileobj=buf, mode="w") as t:
        for p in it:
            if total > size:
                break
            t.add(p)
            total += os.path.getsize(p)
    return buf.getvalue()
it = iter(files)
tars = [make_tar(it), make_tar(it)]
blobs = {}
def put(b):
    d = hashlib.sha256(b).hexdigest()
    blobs[d] = b
    return "sha256:" + d
layers = [gzip.compress(tars[0], 6, mtime=0),
          subprocess.run(["zstd", "-q", "-3", "-T0", "-c"], input=tars[1], stdout=subprocess.PIPE, check=True).stdout]
diffs = ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars]
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg), "size": len(cfg)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(layers[0]), "size": len(layers[0])},
               {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": put(layers[1]), "size": len(layers[1])}]}).encode()
md = put(man)
os.makedirs(out + "/blobs/sha256")
for d, b in blobs.items():
    open(out + "/blobs/sha256/" + d, "wb").write(b)
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": md, "size": len(man), "annotations": {"org.opencontainers.image.ref.name": "latest"}}]},
    open(out + "/index.json", "w"))
print("synthetic image: tars of %d and %d bytes, as gzip %d and zstd %d" % (
    len(tars[0]), len(tars[1]), len(layers[0]), len(layers[1])))
PY
skopeo copy -q --dest-tls-verify=false "oci:$DEMO_IMAGE_OCI:latest" "docker://$R/demo:latest"
skopeo copy -q --dest-tls-verify=false --preserve-digests "oci:$T/big:latest" "docker://$R/big:latest"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
secs() { # COMMAND...: wall seconds
	local s e
	s=$(date +%s%N)
	"$@" >/dev/null 2>&1
	e=$(date +%s%N)
	echo "$(((e - s) / 1000000))" | awk '{ printf "%.3f\n", $1 / 1000 }'
}
bench() { # NAME REF
	local name=$1 ref=$2 cold warm base comp tar store
	cold=$(for _ in $(seq "$RUNS"); do rm -rf "$T/st"; sync; secs "$PULL" "$T/st" "$ref"; done | median)
	warm=$(for _ in $(seq "$RUNS"); do secs "$PULL" "$T/st" "$ref"; done | median)
	base=$(for _ in $(seq "$RUNS"); do rm -rf "$T/sk"; sync; secs skopeo copy -q --src-tls-verify=false \
		"docker://$ref" "oci:$T/sk:x"; done | median)
	comp=$(du -sb "$T/sk/blobs" | cut -f1)
	tar=$("$PULL" "$T/st" "$ref" 2>/dev/null | awk '$1 == "layer" { s += $3 } END { print s }')
	store=$(du -sb "$T/st" | cut -f1)
	awk -v n="$name" -v c="$cold" -v w="$warm" -v b="$base" -v cb="$comp" -v tb="$tar" -v sb="$store" 'BEGIN {
		printf "%-5s cold %.2f s (%.0f MB/s compressed, %.0f MB/s of tar)  skopeo to a layout %.2f s  ratio %.2f\n",
			n, c, cb / c / 1e6, tb / c / 1e6, b, c / b
		printf "%-5s warm %.3f s (manifest only)  store %d bytes for %d tar bytes (+%d)\n", n, w, sb, tb, sb - tb }'
}
bench demo "$R/demo:latest"
bench big "$R/big:latest"
