#!/usr/bin/env bash
# Fetch QEMU 10.2.2 from Debian's source package, verify it and unpack it with
# Debian's patches applied. Prints the unpacked tree's path on stdout.
#
# The download is cached outside the checkout (CACHE_DIR), so a second build
# on the same machine does not fetch again. With QEMU_SRC set, that tree is
# checked and used instead.
set -euo pipefail

PKG_VERSION="1:10.2.2+ds-1"
ORIG=qemu_10.2.2+ds.orig.tar.xz
ORIG_SHA256=be05230fe47a6937cd29f28f562932c8125f9c93c2a82c625198f7a4aa601dfb
CACHE_DIR=${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qemu-accel-cmdqv}

die() { echo "fetch-qemu: $*" >&2; exit 1; }

check_tree() {
    local t=$1
    [ -f "$t/VERSION" ] && [ -f "$t/hw/arm/smmuv3.c" ] && [ -f "$t/meson.build" ] ||
        die "$t is not a QEMU source tree (no VERSION, meson.build or hw/arm/smmuv3.c); point QEMU_SRC at an unpacked qemu-10.2.x"
    case "$(cat "$t/VERSION")" in
        10.2.*) ;;
        *) die "$t is QEMU $(cat "$t/VERSION"), not 10.2.x; the patch series is written against 10.2. Unset QEMU_SRC to use Debian's 10.2.2" ;;
    esac
    [ -f "$t/linux-headers/linux/iommufd.h" ] && grep -q IOMMU_HW_QUEUE_ALLOC "$t/linux-headers/linux/iommufd.h" ||
        die "$t/linux-headers/linux/iommufd.h lacks IOMMU_HW_QUEUE_ALLOC; use QEMU 10.2.x"
}

if [ -n "${QEMU_SRC:-}" ]; then
    check_tree "$QEMU_SRC"
    echo "$QEMU_SRC"; exit 0
fi

tree="$CACHE_DIR/qemu-10.2.2"
if [ -f "$tree/.unpacked-ok" ]; then
    echo "$tree"; exit 0
fi

mkdir -p "$CACHE_DIR/dl"
cd "$CACHE_DIR/dl"
if ! [ -f "$ORIG" ] || ! echo "$ORIG_SHA256  $ORIG" | sha256sum -c --quiet - 2>/dev/null; then
    rm -f qemu_*
    echo "fetch-qemu: downloading Debian source package qemu $PKG_VERSION" >&2
    apt-get source --download-only -qq "qemu=$PKG_VERSION" >&2 ||
        die "apt-get source qemu=$PKG_VERSION failed: is the archive reachable, and are deb-src entries configured (run scripts/deps.sh)?"
fi
echo "$ORIG_SHA256  $ORIG" | sha256sum -c --quiet - ||
    { rm -f qemu_*; die "checksum mismatch for $ORIG (expected $ORIG_SHA256); the download was removed, rerun to fetch again"; }

rm -rf "$tree" "$tree.tmp"
dsc=$(ls qemu_10.2.2+ds-1.dsc)
# dpkg-source applies Debian's patch series (firmware blobs and pycotap dropped).
dpkg-source --no-check -x "$dsc" "$tree.tmp" >&2 ||
    { rm -rf "$tree.tmp"; die "dpkg-source could not unpack $dsc"; }
mv "$tree.tmp" "$tree"
check_tree "$tree"
touch "$tree/.unpacked-ok"
echo "$tree"
