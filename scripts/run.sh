#!/usr/bin/env bash
# The project's main job: start the virt machine with an SMMUv3 on pcie.0 and
# show it over QMP.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
qemu=$build/qemu-build/qemu-system-aarch64
work=$(mktemp -d /tmp/qac-run.XXXXXX)
trap 'kill $qpid 2>/dev/null || true; rm -rf "$work"' EXIT

"$qemu" -M virt -cpu max -display none -nodefaults -S \
    -device arm-smmuv3,primary-bus=pcie.0,id=smmu0 \
    -qmp unix:"$work/qmp.sock",server=on,wait=off &
qpid=$!

q() { /usr/bin/python3 "$top/scripts/qmp.py" "$work/qmp.sock" "$@"; }
echo "== QEMU $(q query-version | /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin)["qemu"]; print("%d.%d.%d" % (v["major"], v["minor"], v["micro"]))'), machine virt, SMMUv3 on pcie.0"
echo "== the SMMU (qom-list-properties of arm-smmuv3 / values of smmu0)"
for p in accel stage bus_num smmu_per_bus primary-bus; do
    printf '  %-14s %s\n' "$p" "$(q qom-get "{\"path\":\"smmu0\",\"property\":\"$p\"}")"
done
echo "== where it sits (info qtree)"
q human-monitor-command '{"command-line":"info qtree"}' |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin))' |
    grep -B2 -A8 'arm-smmuv3' | sed 's/^/  /'
q quit >/dev/null || true
wait $qpid 2>/dev/null || true
