#!/usr/bin/env bash
# Assemble the QEMU tree this project builds: the base (Debian's QEMU 10.2.2,
# or QEMU_SRC), then the patch series under patches/ as one git commit each,
# then this repo's new files symlinked in at their QEMU paths.
#
# The assembled tree, build/qemu, is a git repository: its first commit
# (tag qac-base) is the base, each later commit one patch. To change a patch,
# commit in build/qemu (amend, rebase -i, new commit) and run `make patches`.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
tree=$build/qemu
OVERLAY_DIRS="hw include backends qapi tests docs system util stubs monitor"

die() { echo "assemble: $*" >&2; exit 1; }
g() { git -C "$tree" -c user.name=qemu-accel-cmdqv -c user.email=build@localhost \
        -c advice.detachedHead=false -c core.autocrlf=false "$@"; }

base=$("$top/scripts/fetch-qemu.sh")

# 1. The base, as a git repository. Rebuilt only when the base changes.
base_id="$base $(cat "$base/VERSION")"
if [ "$(cat "$tree/.git/qac-base-id" 2>/dev/null)" != "$base_id" ]; then
    echo "assemble: copying the QEMU base from $base" >&2
    rm -rf "$tree" "$tree.tmp"
    mkdir -p "$build"
    cp -a "$base" "$tree.tmp"
    rm -f "$tree.tmp/.unpacked-ok"
    rm -rf "$tree.tmp/.git" "$tree.tmp/.pc"
    (cd "$tree.tmp" && git init -q && git add -A -f . &&
     git -c user.name=qemu-accel-cmdqv -c user.email=build@localhost commit -q -m "QEMU base: $base_id" &&
     git tag qac-base) || { rm -rf "$tree.tmp"; die "could not make the base repository in $tree.tmp"; }
    mv "$tree.tmp" "$tree"
    echo "$base_id" > "$tree/.git/qac-base-id"
fi

# 2. The patch series. Re-applied only when patches/ changed.
shopt -s nullglob
series=("$top"/patches/*.patch)
sum=$(cat /dev/null "${series[@]}" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$tree/.git/qac-patches" 2>/dev/null)" != "$sum" ]; then
    if [ -n "$(g status --porcelain --untracked-files=no)" ] || \
       { [ -f "$tree/.git/qac-patches" ] && [ "$(g rev-parse HEAD)" != "$(cat "$tree/.git/qac-head" 2>/dev/null)" ]; }; then
        die "build/qemu has commits or changes not written back to patches/; run 'make patches' first, or 'rm -rf build/qemu' to drop them"
    fi
    rm -f "$tree/.git/qac-patches"
    g checkout -q --detach qac-base
    g reset -q --hard qac-base
    for p in "${series[@]}"; do
        if ! g am -q --keep-cr "$p" >/dev/null 2>&1; then
            g am --abort >/dev/null 2>&1 || true
            g reset -q --hard qac-base
            die "patch $(basename "$p") does not apply to $(cat "$tree/.git/qac-base-id"): rebase it onto the base (cd build/qemu; git am -3 $p; fix; git am --continue; make patches)"
        fi
    done
    g rev-parse HEAD > "$tree/.git/qac-head"
    echo "$sum" > "$tree/.git/qac-patches"
fi

# 3. The overlay: this repo's files, symlinked at their QEMU paths, so an edit
#    here is seen by ninja as a change of that one file.
exclude="$tree/.git/info/exclude"
: > "$exclude.new"
cd "$top"
while IFS= read -r f; do
    [ -f "$f" ] || continue
    if g ls-files --error-unmatch "$f" >/dev/null 2>&1; then
        die "$f exists in QEMU's own tree: change it with a patch under patches/, not as an overlay file"
    fi
    mkdir -p "$tree/$(dirname "$f")"
    [ "$(readlink "$tree/$f" 2>/dev/null)" = "$top/$f" ] || ln -sfn "$top/$f" "$tree/$f"
    echo "/$f" >> "$exclude.new"
done < <(git ls-files --cached --others --exclude-standard -- $OVERLAY_DIRS)
# Drop links to files this repo no longer has.
if [ -f "$exclude" ]; then
    while IFS= read -r f; do
        f=${f#/}
        grep -qxF "/$f" "$exclude.new" || { [ -L "$tree/$f" ] && rm -f "$tree/$f"; }
    done < "$exclude"
fi
mv "$exclude.new" "$exclude"
echo "$tree"
