#!/usr/bin/env bash
# mkiso.sh - aurorafs-mkiso as a command: standard output on a pipe and
# appended to a file (written front to back), the issue's /boot/zkernel
# case, the link and directory forms, and a clear error for an impossible
# addition. (tests/fs/iso_property.py runs it on thousands of random edits.)
. "$(dirname "$0")/lib.sh"
ensure_demo
: "${MKISO:?MKISO must name aurorafs-mkiso}"
BASE=$DEMO_ISO_AURORABOOT

# extract C DIR: osirrox's view of the ISO C
extract() {
	rm -rf "$2"
	osirrox -indev "$1" -extract / "$2" >/dev/null 2>&1 || fail "osirrox cannot extract $1"
}

echo kernel-bytes >"$T/k"
echo initrd-bytes >"$T/i"

# -- standard output: a pipe, and a file opened for appending --
"$MKISO" "$BASE" "$T/file.iso" /boot/zkernel="$T/k" /boot/ainitrd="$T/i" || fail "mkiso to a file"
"$MKISO" "$BASE" - /boot/zkernel="$T/k" /boot/ainitrd="$T/i" 2>"$T/mkiso.err" | cat >"$T/pipe.iso" ||
	fail "mkiso to a pipe: $(cat "$T/mkiso.err")" # (pipefail)
cmp "$T/file.iso" "$T/pipe.iso" || fail "mkiso to a pipe differs"
echo prefix >"$T/app.iso"
"$MKISO" "$BASE" - /boot/zkernel="$T/k" /boot/ainitrd="$T/i" >>"$T/app.iso" || fail "mkiso appended"
tail -c +8 "$T/app.iso" | cmp - "$T/file.iso" || fail "mkiso to stdout did not write front to back"
pass "aurorafs-mkiso writes to a pipe and appends to a file"

# -- the issue's case: two new files in /boot --
extract "$T/file.iso" "$T/x"
cmp "$T/x/boot/zkernel" "$T/k" || fail "/boot/zkernel is not the kernel"
cmp "$T/x/boot/ainitrd" "$T/i" || fail "/boot/ainitrd is not the initrd"
pass "/boot/zkernel and /boot/ainitrd hold their files"

# -- the link and directory forms --
"$MKISO" "$BASE" "$T/forms.iso" "/boot/lnk->../etc" /emptydir/ /emptydir/f="$T/k" "/boot/lnk->/x" ||
	fail "mkiso with a link and a directory"
extract "$T/forms.iso" "$T/x"
[ "$(readlink "$T/x/boot/lnk")" = /x ] || fail "no /boot/lnk -> /x (the later addition)"
cmp "$T/x/emptydir/f" "$T/k" || fail "no /emptydir/f"
pass "aurorafs-mkiso adds links and directories"

# -- what cannot be done: a clear message and no output --
"$MKISO" "$BASE" "$T/bad.iso" /boot/kernel/x="$T/k" 2>"$T/mkiso.err" && fail "a file under a file was accepted"
grep -q "is not a directory" "$T/mkiso.err" || fail "no clear message: $(cat "$T/mkiso.err")"
"$MKISO" "$BASE" "$T/bad.iso" /boot="$T/k" 2>"$T/mkiso.err" && fail "a file over a directory was accepted"
grep -q "cannot replace '/boot': it is a directory" "$T/mkiso.err" || fail "no clear message: $(cat "$T/mkiso.err")"
pass "aurorafs-mkiso refuses impossible additions with a message"
