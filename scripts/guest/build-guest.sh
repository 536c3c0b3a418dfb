#!/usr/bin/env bash
# Build what the real Linux guest needs, from Debian's archive, cached outside
# the checkout (nothing here is ever committed):
#
#   - the guest kernel Image: Debian's source package `linux` $LINUX_VERSION
#     (Debian's patches applied by dpkg-source), cross-compiled with
#     gcc-aarch64-linux-gnu from allnoconfig + scripts/guest/kernel.config
#     (CONFIG_TEGRA241_CMDQV, which Debian's arm64 kernels leave off);
#   - dma_map_benchmark, the kernel's selftest tool, static for arm64;
#   - scripts/guest/*.patch applied to Debian's source first (the
#     benchmark's latency percentiles and pair count);
#   - the initramfs: Debian's busybox-static:arm64, the project's init
#     (scripts/guest/init) and dma_map_benchmark.
#
# Output: $QAC_GUEST_CACHE/<linux version>-<hash of the fragment and patches>/{Image,
# initramfs.cpio.gz,dma_map_benchmark}; the directory is printed on the last
# line. A second run with nothing changed does nothing.
#
# --path: only print that directory (exit 1 if the guest is not built yet).
#
# Environment: QAC_GUEST_CACHE (default ~/.cache/qemu-accel-cmdqv/guest),
# QAC_GUEST_JOBS (default 2: the machine is shared).
set -euo pipefail

LINUX_VERSION=6.12.95-1~bpo12+1
here=$(cd "$(dirname "$0")" && pwd)
cache=${QAC_GUEST_CACHE:-$HOME/.cache/qemu-accel-cmdqv/guest}
jobs=${QAC_GUEST_JOBS:-2}
CROSS=aarch64-linux-gnu-
upver=${LINUX_VERSION%%-*}

die() { echo "build-guest: error: $*" >&2; exit 1; }
say() { echo "build-guest: $*" >&2; }

# The build's key: the config fragment and the patches to Debian's source
guest_key() { cat "$here/kernel.config" "$here"/*.patch 2>/dev/null | sha256sum | cut -c1-12; }
if [ "${1:-}" = --path ]; then
    d=$cache/$upver-$(guest_key)
    echo "$d"
    [ -f "$d/Image" ] && [ -f "$d/initramfs.cpio.gz" ]
    exit
fi

# --- what must be installed (scripts/deps.sh guest installs it) -------------
need_cmd() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: install the Debian package $2 (scripts/deps.sh guest, or: apt-get install $2)"; }
need_cmd ${CROSS}gcc gcc-aarch64-linux-gnu
need_cmd apt-get apt
need_cmd dpkg-source dpkg-dev
need_cmd bc bc
need_cmd flex flex
need_cmd bison bison
need_cmd gcc build-essential
need_cmd make make
need_cmd patch patch
need_cmd gzip gzip
[ -e /usr/aarch64-linux-gnu/lib/libc.a ] ||
    die "static arm64 libc missing: install the Debian package libc6-dev-arm64-cross"
[ -e /usr/share/qemu-efi-aarch64/QEMU_EFI.fd ] ||
    die "UEFI firmware missing: install the Debian package qemu-efi-aarch64"
busybox_deb_ver=$(dpkg-query -W -f='${Version}' busybox-static:arm64 2>/dev/null || true)
busybox=$(dpkg -L busybox-static:arm64 2>/dev/null | grep -m1 '/bin/busybox$' || true)
[ -n "$busybox_deb_ver" ] && [ -n "$busybox" ] && [ -x "$busybox" ] ||
    die "busybox for arm64 missing: install busybox-static:arm64 (needs 'dpkg --add-architecture arm64'; scripts/deps.sh guest does both)"

frag_hash=$(guest_key)
out=$cache/$upver-$frag_hash
src=$cache/src/linux-$LINUX_VERSION
obj=$cache/obj/$upver-$frag_hash
mkdir -p "$cache/dl" "$cache/src" "$out"

# --- the source: apt-get source --download-only, dpkg-source -x ------------
if [ ! -f "$src/.qac-extracted" ]; then
    dsc=$cache/dl/linux_$LINUX_VERSION.dsc
    if [ ! -f "$dsc" ] || [ ! -f "$cache/dl/linux_$upver.orig.tar.xz" ]; then
        say "fetching Debian's source package linux=$LINUX_VERSION (~150 MB)"
        versions=$(apt-cache showsrc linux 2>/dev/null | sed -n 's/^Version: //p' || true)
        grep -qxF "$LINUX_VERSION" <<<"$versions" ||
            die "source package linux=$LINUX_VERSION not in apt's source indexes: run scripts/deps.sh guest (it adds deb-src for bookworm-backports) and apt-get update"
        (cd "$cache/dl" && apt-get source --download-only "linux=$LINUX_VERSION") ||
            die "apt-get source linux=$LINUX_VERSION failed: is the package archive reachable? (see above)"
    fi
    say "unpacking the kernel source with Debian's patches"
    rm -rf "$src" "$src.tmp"
    dpkg-source -x "$dsc" "$src.tmp" >"$cache/extract.log" 2>&1 ||
        { tail -20 "$cache/extract.log" >&2; die "dpkg-source -x failed (log: $cache/extract.log)"; }
    rm -f "$cache/src/"*.orig.tar.* "$cache/src/"*.debian.tar.* "$cache/src/"*.dsc   # dpkg-source's copies
    touch "$src.tmp/.qac-extracted"
    mv "$src.tmp" "$src"
fi

# --- the project's patches (one shared source tree: the last set applied is
# recorded in it and reversed before another set is applied) ---------------
patches=$(cat "$here"/*.patch 2>/dev/null || true)
if [ "$patches" != "$(cat "$src/.qac-patches" 2>/dev/null || true)" ]; then
    if [ -s "$src/.qac-patches" ]; then
        say "reversing the previously applied patches"
        patch -s -R -p1 -d "$src" < "$src/.qac-patches" || die "could not reverse $src/.qac-patches"
    fi
    rm -f "$src/.qac-patches"
    for p in "$here"/*.patch; do
        [ -e "$p" ] || continue
        say "applying $(basename "$p")"
        patch -s -p1 -d "$src" < "$p" || die "could not apply $p"
    done
    cat "$here"/*.patch > "$src/.qac-patches" 2>/dev/null || true
fi

# --- the kernel --------------------------------------------------------------
kmake() { make -s -C "$src" O="$obj" ARCH=arm64 CROSS_COMPILE=$CROSS "$@"; }
if [ ! -f "$out/Image" ]; then
    mkdir -p "$obj"
    say "configuring the kernel (allnoconfig + kernel.config) in $obj"
    kmake KCONFIG_ALLCONFIG="$here/kernel.config" allnoconfig >/dev/null
    missing=""
    while IFS= read -r line; do
        case "$line" in
            CONFIG_*=*) grep -qx -- "$line" "$obj/.config" || missing="$missing ${line%%=*}" ;;
            "# CONFIG_"*" is not set")
                sym=${line#\# }; sym=${sym%% *}
                ! grep -q "^$sym=" "$obj/.config" || missing="$missing $sym(should be off)" ;;
        esac
    done < "$here/kernel.config"
    [ -z "$missing" ] || die "Kconfig did not keep:$missing (a dependency is missing from scripts/guest/kernel.config)"
    say "building the kernel Image with make -j$jobs (a few minutes; log: $obj/build.log)"
    t0=$(date +%s)
    if ! kmake -j"$jobs" Image >"$obj/build.log" 2>&1; then
        grep -E 'error|Error' "$obj/build.log" | head -20 >&2
        die "kernel build failed (log: $obj/build.log)"
    fi
    cp "$obj/arch/arm64/boot/Image" "$out/Image.tmp" && mv "$out/Image.tmp" "$out/Image"
    cp "$obj/.config" "$out/config"
    say "kernel built in $(( $(date +%s) - t0 ))s"
fi

# --- dma_map_benchmark, static for arm64 --------------------------------------
bench_src=$src/tools/testing/selftests/dma/dma_map_benchmark.c
if [ ! -f "$out/dma_map_benchmark" ] || [ "$bench_src" -nt "$out/dma_map_benchmark" ]; then
    say "building dma_map_benchmark (static, arm64)"
    kmake headers >/dev/null 2>&1 || kmake headers_install >/dev/null ||
        die "make headers failed"
    ${CROSS}gcc -static -O2 -Wall -I"$obj/usr/include" -I"$src/include" \
        -o "$out/dma_map_benchmark.tmp" "$bench_src" ||
        die "could not compile $bench_src"
    ${CROSS}strip "$out/dma_map_benchmark.tmp"
    mv "$out/dma_map_benchmark.tmp" "$out/dma_map_benchmark"
fi

# --- the initramfs ----------------------------------------------------------
gen=$cache/obj/gen_init_cpio
if [ ! -x "$gen" ] || [ "$src/usr/gen_init_cpio.c" -nt "$gen" ]; then
    gcc -O2 -o "$gen" "$src/usr/gen_init_cpio.c" || die "could not build gen_init_cpio"
fi
key=$( { sha256sum "$here/init" "$out/dma_map_benchmark" "$busybox"; echo "$busybox_deb_ver"; } |
       sha256sum | cut -c1-16)
if [ ! -f "$out/initramfs.cpio.gz" ] || [ "$(cat "$out/initramfs.key" 2>/dev/null)" != "$key" ]; then
    say "making the initramfs (busybox $busybox_deb_ver, scripts/guest/init, dma_map_benchmark)"
    list=$out/initramfs.list
    {
        echo "dir /dev 0755 0 0"
        echo "nod /dev/console 0600 0 0 c 5 1"
        echo "nod /dev/null 0666 0 0 c 1 3"
        for d in /bin /sbin /usr /usr/bin /usr/sbin /proc /sys /tmp /root /etc; do
            echo "dir $d 0755 0 0"
        done
        echo "file /bin/busybox $busybox 0755 0 0"
        echo "slink /bin/sh busybox 0777 0 0"
        echo "file /bin/dma_map_benchmark $out/dma_map_benchmark 0755 0 0"
        echo "file /init $here/init 0755 0 0"
    } > "$list"
    "$gen" "$list" | gzip -9n > "$out/initramfs.cpio.gz.tmp" || die "gen_init_cpio failed"
    mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
    echo "$key" > "$out/initramfs.key"
fi

say "guest ready: $out (Image, initramfs.cpio.gz, dma_map_benchmark)"
echo "$out"
