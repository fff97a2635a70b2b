#!/usr/bin/env bash
# lint.sh - source rules that tools can check: the committed .clang-format,
# and no function that is easy to misuse with untrusted lengths.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h')
clang-format --dry-run -Werror "${files[@]}"
banned='\b(sprintf|vsprintf|strcpy|strcat|atoi|atol|gets|strtok|alloca|system)\s*\('
if grep -nE "$banned" "${files[@]}"; then
	echo "lint: banned functions above (use snprintf, strtok_r, aur_parse_u64, ...)" >&2
	exit 1
fi
echo "lint: ${#files[@]} files clean"
