#!/usr/bin/env bash
# Configure (once, or when the options change) and build qemu-system-aarch64
# and the qtest binaries the project runs, in build/qemu-build.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
tree=$build/qemu
out=${QEMU_BUILD:-$build/qemu-build}
extra_cflags=${QEMU_EXTRA_CFLAGS:-}

die() { echo "build-qemu: $*" >&2; exit 1; }

CONFIGURE_OPTS=(--target-list=aarch64-softmmu --disable-docs --disable-tools
    --disable-user --without-default-features --enable-fdt=system
    --enable-trace-backends=log --disable-download --enable-werror
    --disable-install-blobs --enable-seccomp --python=/usr/bin/python3
    --firmwarepath=/usr/lib/ipxe/qemu:/usr/share/qemu-efi-aarch64:/usr/share/qemu)
if [ -n "${QEMU_CONFIGURE_EXTRA:-}" ]; then
    # configure keeps the first of --enable-werror/--disable-werror: an
    # extra --disable-werror (the sanitizer build) replaces ours.
    case " $QEMU_CONFIGURE_EXTRA " in
        *" --disable-werror "*)
            opts=(); for o in "${CONFIGURE_OPTS[@]}"; do
                [ "$o" = --enable-werror ] || opts+=("$o"); done
            CONFIGURE_OPTS=("${opts[@]}") ;;
    esac
    CONFIGURE_OPTS+=($QEMU_CONFIGURE_EXTRA)
fi
[ -n "$extra_cflags" ] && CONFIGURE_OPTS+=("--extra-cflags=$extra_cflags" "--extra-ldflags=$extra_cflags")

# ccache: same cache for every clone of the project on this machine.
# QEMU's configure names the compiler itself, so meson would not add ccache:
# its masquerade directory comes first in PATH instead.
if [ -d /usr/lib/ccache ]; then
    export PATH=/usr/lib/ccache:$PATH
    CONFIGURE_OPTS+=(--cc=/usr/lib/ccache/cc)
fi
export CCACHE_BASEDIR=$build
export CCACHE_NOHASHDIR=1

want="${CONFIGURE_OPTS[*]}"
if [ "$(cat "$out/.qac-configure" 2>/dev/null)" != "$want" ] || ! [ -f "$out/build.ninja" ]; then
    rm -rf "$out"; mkdir -p "$out"
    (cd "$out" && "$tree/configure" "${CONFIGURE_OPTS[@]}" > configure.log 2>&1) ||
        { tail -30 "$out/configure.log" >&2; die "configure failed (full log: $out/configure.log)"; }
    echo "$want" > "$out/.qac-configure"
fi
# configure writes werror = true into its meson native file for a git tree
# (build/qemu is one): meson takes it over -Dwerror=false whenever it
# regenerates build.ninja, and GCC's false warnings under ASan then fail
# the sanitizer build. Keep the file in line with the command line.
case " $want " in
    *" --disable-werror "*) sed -i 's/^werror = true$/werror = false/' "$out/config-meson.cross" ;;
esac

# Qtest binaries: QEMU's own that touch what we change, and ours (named
# in tests/qtest/qac-tests.txt, one per line).
targets=(qemu-system-aarch64 tests/qtest/qom-test tests/qtest/device-introspect-test
         tests/qtest/test-hmp)
if [ -f "$top/tests/qtest/qac-tests.txt" ]; then
    while read -r t; do [ -n "$t" ] && targets+=("tests/qtest/$t"); done < <(grep -v '^#' "$top/tests/qtest/qac-tests.txt")
fi
ninja -C "$out" "${targets[@]}" || die "build failed (see the compiler output above)"

# Run from the build tree, QEMU looks for firmware under qemu-bundle/<path>:
# point those at the system's ROMs (ipxe-qemu, qemu-efi-aarch64).
for d in /usr/lib/ipxe/qemu /usr/share/qemu-efi-aarch64; do
    [ -d "$d" ] || continue
    mkdir -p "$out/qemu-bundle$(dirname "$d")"
    ln -sfn "$d" "$out/qemu-bundle$d"
done
