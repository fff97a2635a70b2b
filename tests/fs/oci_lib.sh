# shellcheck shell=bash
# oci_lib.sh - helpers of the container image tests (sourced after lib.sh).
#
# Images are pulled with aurorafs-pull, the same aur_oci_pull the
# filesystem calls; its key=value output and its log are what the tests
# read.

: "${AURORAFS_PULL:?AURORAFS_PULL must name the aurorafs-pull binary}"

# pull STATE SOURCE [OPTIONS...]: pull into STATE; sets PULL_OUT (stdout
# file), PULL_LOG (stderr file) and PULL_RC, and never fails itself
PULL_N=0
pull() {
	local state=$1 src=$2
	shift 2
	PULL_N=$((PULL_N + 1))
	PULL_OUT=$T/pull-$PULL_N.out
	PULL_LOG=$T/pull-$PULL_N.log
	PULL_RC=0
	"$AURORAFS_PULL" "$@" "$state" "$src" >"$PULL_OUT" 2>"$PULL_LOG" || PULL_RC=$?
	# sanitizer reports fail the test whatever the exit code
	if grep -q -E "Sanitizer|runtime error:" "$PULL_LOG"; then
		cat "$PULL_LOG" >&2
		fail "sanitizer report while pulling $src"
	fi
}

# must_pull STATE SOURCE [OPTIONS...]: pull, failing the test on an error
must_pull() {
	pull "$@"
	[ "$PULL_RC" = 0 ] || fail "pull $2: $(cat "$PULL_LOG")"
}

# must_refuse STATE SOURCE WORDS [OPTIONS...]: the pull fails and its log
# contains WORDS (a grep -E pattern)
must_refuse() {
	local state=$1 src=$2 words=$3
	shift 3
	pull "$state" "$src" "$@"
	[ "$PULL_RC" != 0 ] || fail "pull $src succeeded"
	grep -q -E "$words" "$PULL_LOG" || fail "pull $src: '$words' not in: $(cat "$PULL_LOG")"
}

# out KEY: a key=value of the last pull
out() { sed -n "s/^$1=//p" "$PULL_OUT"; }
# layers: the stored layer paths of the last pull, bottom first
layers() { awk '$1 == "layer" { print $4 }' "$PULL_OUT"; }
diff_ids() { awk '$1 == "layer" { print $2 }' "$PULL_OUT" | paste -sd' '; }

# check_image WHAT: the last pull gave the demo image: its config, its
# diff_ids, every stored layer hashing to its diff_id, and layers that
# flatten to exactly the demo rootfs
check_image() {
	local what=$1 l id
	[ "$(out config)" = "$DEMO_IMAGE_CONFIG_DIGEST" ] || fail "$what: config $(out config)"
	[ "$(diff_ids)" = "$DEMO_IMAGE_DIFF_IDS" ] || fail "$what: diff_ids $(diff_ids)"
	while read -r _ id _ l; do
		[ "sha256:$(sha256sum "$l" | cut -d' ' -f1)" = "$id" ] || fail "$what: $l is not $id"
	done < <(grep '^layer ' "$PULL_OUT")
	# shellcheck disable=SC2046
	python3 "$HERE/oci_flatten.py" "$DEMO_ROOTFS" $(layers) >"$T/flatten.out" ||
		fail "$what: layers do not flatten to the rootfs: $(cat "$T/flatten.out")"
	pass "$what: $(out origin), config and diff_ids right, $(cat "$T/flatten.out")"
}

# free_port: a TCP port on 127.0.0.1 nobody listens on now
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_registry NAME: docker-registry on loopback with its storage in
# $T/NAME; sets <NAME>_PORT, <NAME>_DATA and <NAME>_LOG
start_registry() {
	local name=$1 port pid
	command -v docker-registry >/dev/null || { echo "SKIP: no docker-registry"; exit 77; }
	port=$(free_port)
	mkdir -p "$T/$name"
	cat >"$T/$name.yml" <<-YAML
		version: 0.1
		log:
		  level: info
		storage:
		  filesystem:
		    rootdirectory: $T/$name
		  delete:
		    enabled: true
		http:
		  addr: 127.0.0.1:$port
	YAML
	setsid docker-registry serve "$T/$name.yml" </dev/null >"$T/$name.log" 2>&1 &
	pid=$!
	at_exit "kill_group $pid"
	wait_for 10 curl -sf "http://127.0.0.1:$port/v2/" -o /dev/null ||
		fail "docker-registry did not start: $(tail -5 "$T/$name.log")"
	printf -v "${name}_PORT" %s "$port"
	printf -v "${name}_PID" %s "$pid"
	printf -v "${name}_DATA" %s "$T/$name"
	printf -v "${name}_LOG" %s "$T/$name.log"
}

# push SRC DEST [skopeo options]: skopeo copy to a plain-HTTP registry
push() {
	local src=$1 dst=$2
	shift 2
	skopeo copy -q --dest-tls-verify=false "$@" "$src" "$dst" >"$T/skopeo.log" 2>&1 ||
		fail "skopeo copy $src $dst: $(cat "$T/skopeo.log")"
}

need_skopeo() {
	command -v skopeo >/dev/null || { echo "SKIP: no skopeo"; exit 77; }
}

# blob_gets LOG: blob GETs a docker-registry answered
blob_gets() { grep -c '"GET /v2/[^ ]*/blobs/' "$1" || true; }
