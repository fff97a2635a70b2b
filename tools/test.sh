#!/usr/bin/env bash
# test.sh - everything CI runs, from a fresh machine: install what is
# missing, check formatting and banned functions, build twice (gcc with
# warnings as errors; clang with ASan and UBSan), then run every suite:
# unit, fs and netboot on both builds, boot on the first.
#
# Usage: tools/test.sh [SUITE...]      (default: unit fs netboot boot)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then SUITES=("$@"); else SUITES=(unit fs netboot boot); fi

tools/deps.sh
tools/lint.sh

setup() { # DIR ARGS...: configure once, reconfigure if options changed
	local dir=$1
	shift
	if [ -d "$dir" ]; then
		meson configure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@"
	fi
	ninja -C "$dir"
}
setup build -Dwerror=true
CC=clang setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false

# shared by both builds: the demo OS is built once into build/demo
export DEMO_DIR=$PWD/build/demo
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

for s in "${SUITES[@]}"; do
	meson test -C build --suite "$s" --print-errorlogs
	case $s in
	unit | fs | netboot) meson test -C build-asan --suite "$s" --print-errorlogs ;;
	esac
done
echo "test.sh: all suites passed (${SUITES[*]})"
