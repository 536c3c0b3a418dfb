#!/usr/bin/env bash
# Install what the project needs on a Debian 12 machine, idempotently.
#
# - adds bookworm-backports (deb + deb-src) and sid (deb-src only) in a
#   sources file of the project's own, reusing the archive URI the machine
#   already has configured (no host name is written anywhere in the repo);
# - installs only the packages that are missing.
#
# Usage: scripts/deps.sh [build|guest|bench|all]   (default: build)
set -euo pipefail

what=${1:-build}
SRC_FILE=/etc/apt/sources.list.d/qemu-accel-cmdqv.sources

die() { echo "deps: $*" >&2; exit 1; }

# Packages for building QEMU, the stand-in and the tests (libseccomp-dev:
# QEMU's -sandbox, which libvirt turns on whenever QEMU offers it).
BUILD_PKGS="build-essential pkg-config ninja-build python3 python3-venv
 libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev flex bison ccache
 dpkg-dev acpica-tools jq ipxe-qemu libseccomp-dev"
# meson must be >= 1.5: taken from bookworm-backports.
# Packages for the real Linux guest (issue 6).
GUEST_PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross bc libssl-dev libelf-dev
 kmod cpio xz-utils qemu-efi-aarch64 busybox-static:arm64"

archive_uri() {
    # The Debian archive URI the machine already uses (deb822 or one-line format).
    local uri=""
    if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
        uri=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/*.sources 2>/dev/null |
              grep -v -- '-security' | grep '/debian/\?$' | head -n1 || true)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
              /etc/apt/sources.list || true)
    fi
    [ -n "$uri" ] || die "no Debian archive URI found in /etc/apt/sources.list{,.d}; add one and rerun"
    echo "${uri%/}"
}

need_root() {
    [ "$(id -u)" = 0 ] || die "missing: $*
run as root, or install them first:  sudo apt-get install $*"
}

ensure_sources() {
    [ -f "$SRC_FILE" ] && grep -q bookworm-backports "$SRC_FILE" && return 0
    need_root "apt sources for bookworm-backports and deb-src (file $SRC_FILE)"
    local uri; uri=$(archive_uri)
    cat > "$SRC_FILE" <<SRC
# Written by qemu-accel-cmdqv scripts/deps.sh: backports for meson >= 1.5,
# source indexes for QEMU's and Linux's source packages.
Types: deb deb-src
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: $uri
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    rm -f /var/lib/apt/.qemu-accel-cmdqv-updated
}

apt_update_once() {
    [ -f /var/lib/apt/.qemu-accel-cmdqv-updated ] && return 0
    apt-get update -qq || die "apt-get update failed: is the package archive reachable? (see the errors above)"
    touch /var/lib/apt/.qemu-accel-cmdqv-updated
}

missing_pkgs() {
    local p out=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out="$out $p"
    done
    echo "$out"
}

meson_ok() {
    command -v meson >/dev/null 2>&1 || return 1
    dpkg --compare-versions "$(meson --version)" ge 1.5
}

install_build() {
    local miss; miss=$(missing_pkgs $BUILD_PKGS)
    if [ -n "$miss" ] || ! meson_ok; then
        need_root "$miss $(meson_ok || echo 'meson>=1.5 (bookworm-backports)')"
        ensure_sources; apt_update_once
        [ -n "$miss" ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $miss
        meson_ok || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports meson
        meson_ok || die "meson >= 1.5 could not be installed from bookworm-backports"
    fi
    # Source indexes are needed to fetch QEMU's source even when all packages are present.
    if [ -z "${QEMU_SRC:-}" ] && ! grep -q sid "$SRC_FILE" 2>/dev/null; then
        need_root "deb-src entries"; ensure_sources; apt_update_once
    fi
}

install_guest() {
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        need_root "the arm64 architecture (dpkg --add-architecture arm64)"
        dpkg --add-architecture arm64
        rm -f /var/lib/apt/.qemu-accel-cmdqv-updated
    fi
    local miss; miss=$(missing_pkgs $GUEST_PKGS)
    if [ -n "$miss" ]; then
        need_root "$miss"
        ensure_sources; apt_update_once
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $miss
    fi
}

install_bench() {
    local miss; miss=$(missing_pkgs gnuplot-nox)
    if [ -n "$miss" ]; then
        need_root "$miss"
        ensure_sources; apt_update_once
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $miss
    fi
}

case "$what" in
    build) install_build ;;
    guest) install_guest ;;
    bench) install_bench ;;
    all) install_build; install_guest; install_bench ;;
    *) die "usage: $0 [build|guest|bench|all]" ;;
esac
