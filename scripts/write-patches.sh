#!/usr/bin/env bash
# Write the commits of build/qemu on top of the base (tag qac-base) back to
# patches/ as the ordered series, one file per commit.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tree=${BUILD_DIR:-$top/build}/qemu
die() { echo "patches: $*" >&2; exit 1; }
[ -d "$tree/.git" ] || die "no assembled tree in $tree: run 'make' first"
git -C "$tree" diff --quiet && git -C "$tree" diff --cached --quiet ||
    die "build/qemu has uncommitted changes to QEMU's files: commit them there (one commit per patch) first"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$tree" format-patch -q -N --zero-commit --no-signature --no-stat \
    --full-index -o "$tmp" qac-base..HEAD
rm -f "$top"/patches/*.patch
mkdir -p "$top/patches"
cp "$tmp"/*.patch "$top/patches/" 2>/dev/null || true
# The tree now matches the series: record it so assemble.sh does not re-apply.
cat /dev/null "$top"/patches/*.patch | sha256sum | cut -d' ' -f1 > "$tree/.git/qac-patches"
git -C "$tree" rev-parse HEAD > "$tree/.git/qac-head"
ls "$top/patches"
