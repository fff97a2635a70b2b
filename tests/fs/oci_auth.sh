#!/usr/bin/env bash
# oci_auth.sh - the registry client against fakereg.py (the tests' own
# registry serving the demo image's OCI layout): bearer tokens from the
# WWW-Authenticate challenge, Basic credentials from a docker config.json
# ($DOCKER_CONFIG) for the token endpoint, refused and missing
# credentials, blobs redirected to a storage port that must not see our
# Authorization header, transient 503s retried, a transfer cut short
# resumed with a Range request, and plain HTTP refused for a registry that
# is not localhost unless insecure.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/oci_lib.sh"
ensure_demo

# start_fakereg NAME [fakereg.py options]: sets <NAME>_PORT <NAME>_LOG
start_fakereg() {
	local name=$1 pf=$T/$1.ports pid api storage
	shift
	setsid python3 "$HERE/fakereg.py" "$DEMO_IMAGE_OCI" --port-file "$pf" \
		--log "$T/$name.log" "$@" </dev/null >"$T/$name.out" 2>&1 &
	pid=$!
	at_exit "kill_group $pid"
	wait_for 10 test -s "$pf" || fail "fakereg $name did not start: $(cat "$T/$name.out")"
	read -r api storage <"$pf"
	printf -v "${name}_PORT" %s "$api"
	printf -v "${name}_STORAGE" %s "$storage"
	printf -v "${name}_LOG" %s "$T/$name.log"
	: >>"$T/$name.log"
}

# log_count LOG PYTHON-EXPR: responses for which EXPR (over r) is true
log_count() {
	python3 - "$1" "$2" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    n += bool(eval(sys.argv[2], {}, {"r": r}))
print(n)
PY
}

docker_config() { # DIR HOST USER:PASS
	mkdir -p "$1"
	printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$2" "$(printf %s "$3" | base64)" >"$1/config.json"
}

# token auth with credentials, a redirect to storage, 503s, a cut
start_fakereg reg --user demo:s3cret --redirect --fail 1 --cut 200000
R=127.0.0.1:$reg_PORT
docker_config "$T/cfg" "$R" demo:s3cret
export DOCKER_CONFIG=$T/cfg
must_pull "$T/state" "$R/demo:latest" --debug
check_image "token auth, redirects, retries"
[ "$(log_count "$reg_LOG" 'r["path"] == "/v2/" and r["status"] == 401')" -ge 1 ] || fail "no challenge"
[ "$(log_count "$reg_LOG" 'r["path"].startswith("/token") and r["status"] == 200 and r["auth"]')" = 1 ] ||
	fail "expected one token request with Basic credentials"
pass "401 challenge, then one token fetched with the config.json credentials"
[ "$(log_count "$reg_LOG" "r['port'] == $reg_STORAGE and r['auth']")" = 0 ] ||
	fail "the Authorization header reached the storage host"
[ "$(log_count "$reg_LOG" "r['port'] == $reg_STORAGE and r['status'] in (200, 206)")" -ge 4 ] ||
	fail "blobs did not come from the storage host"
pass "blobs followed to the storage port without our Authorization header"
[ "$(log_count "$reg_LOG" 'r["status"] == 503')" = 4 ] || fail "expected 4 answers 503"
grep -q "HTTP 503; retrying" "$PULL_LOG" || fail "retries not logged"
[ "$(log_count "$reg_LOG" 'r["status"] == 206 and r["range"] == "bytes=200000-"')" -ge 1 ] ||
	fail "the cut transfer was not resumed with a Range"
pass "every blob's first 503 retried; transfers cut at 200000 bytes resumed with Range: bytes=200000-"

# the same pull again: one manifest request, no blob
before=$(log_count "$reg_LOG" '"/blobs/" in r["path"]')
must_pull "$T/state" "$R/demo:latest"
[ "$(log_count "$reg_LOG" '"/blobs/" in r["path"]')" = "$before" ] || fail "second pull asked for blobs"
pass "second pull: manifest only"

# wrong and missing credentials
docker_config "$T/cfg-bad" "$R" demo:wrong
DOCKER_CONFIG=$T/cfg-bad must_refuse "$T/s2" "$R/demo:latest" "HTTP 401 \(the registry refused the credentials\)"
DOCKER_CONFIG=$T/nowhere must_refuse "$T/s2" "$R/demo:latest" "HTTP 401 \(no credentials for this registry\)"
# $HOME/.docker/config.json when DOCKER_CONFIG is not set
docker_config "$T/home/.docker" "$R" demo:s3cret
(unset DOCKER_CONFIG; HOME=$T/home must_pull "$T/s3" "$R/demo:$DEMO_VERSION") || exit 1
pass "wrong credentials, no credentials refused clearly; \$HOME/.docker/config.json used"

# anonymous tokens (no --user): no config at all
start_fakereg anon
DOCKER_CONFIG=$T/nowhere must_pull "$T/s4" "127.0.0.1:$anon_PORT/demo:latest"
[ "$(log_count "$anon_LOG" 'r["path"].startswith("/token") and not r["auth"]')" = 1 ] || fail "anonymous token"
pass "anonymous bearer token"

# plain HTTP: only for localhost names unless insecure
start_fakereg other --bind 127.0.0.2
O=127.0.0.2:$other_PORT
DOCKER_CONFIG=$T/nowhere must_refuse "$T/s5" "$O/demo:latest" "https://127.0.0.2:$other_PORT/v2/.*allow-insecure-registries"
[ "$(log_count "$other_LOG" 'r["path"] == "/v2/"')" = 0 ] || fail "plain HTTP was used without insecure"
DOCKER_CONFIG=$T/nowhere must_pull "$T/s5" "$O/demo:latest" --insecure
check_image "127.0.0.2 with insecure"
pass "127.0.0.2 over plain HTTP refused without insecure, pulled with it"
