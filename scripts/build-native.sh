#!/usr/bin/env bash
# Build the project's standalone code (the stand-in, pure-logic unit tests)
# in build/native. Needs the assembled QEMU tree for the uAPI headers.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
out=$build/native
hdrs=$build/qemu/linux-headers
[ -f "$hdrs/linux/iommufd.h" ] || { echo "build-native: no uAPI headers in $hdrs: run 'make qemu' first" >&2; exit 1; }
if ! [ -f "$out/build.ninja" ]; then
    meson setup -Dlinux_headers="$hdrs" "$out" "$top" >"$build/native-setup.log" 2>&1 ||
        { cat "$build/native-setup.log" >&2; rm -rf "$out"; echo "build-native: meson setup failed" >&2; exit 1; }
fi
ninja -C "$out"
