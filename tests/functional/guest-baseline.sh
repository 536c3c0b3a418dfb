#!/usr/bin/env bash
# The real Linux guest (scripts/guest/) on the two set-ups around the
# accelerated SMMU, so that a failure of guest-accel can be placed:
#  - QEMU's emulated arm-smmuv3 (the project's hooks in smmuv3.c must leave
#    it working) with a pci-testdev: dma_map_benchmark maps through it;
#  - the stand-in's PCI function with vfio-pci,iommufd= and no vIOMMU: the
#    guest sees the function, DMA is direct, the stand-in leaks nothing.
# TAP output. Environment: QAC_BUILD, QAC_TOP (set by scripts/check.py).
set -uo pipefail
top=${QAC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${QAC_BUILD:-$top/build}
. "$top/tests/functional/lib/tap.bash"
tap_plan 9
tap_need_guest
tap_workdir guest-base

boot() {   # boot MODE: console in $work/MODE.log, boot.sh's output in $work/MODE.out
    local m=$1; shift
    local t0; t0=$(date +%s)
    "$top/scripts/guest/boot.sh" --iommu="$m" --run=bench,iommu --secs=2 --timeout=120 \
        --guest="$guest" --log="$work/$m.log" --quiet "$@" >"$work/$m.out" 2>&1
    local rc=$?
    tr -d '\r' < "$work/$m.log" > "$work/$m.tmp" && mv "$work/$m.tmp" "$work/$m.log"
    echo "# $m: boot.sh exit $rc after $(( $(date +%s) - t0 ))s"
    return $rc
}

boot emulated; rc=$?
t "emulated SMMU: the guest boots, runs the benchmark and powers off" \
    sh -c "[ $rc = 0 ] || { tail -n 30 '$work/emulated.out'; exit 1; }"
t "emulated SMMU: the guest's arm-smmu-v3 driver probed it" \
    grep -E 'arm-smmu-v3 arm-smmu-v3\.[0-9.]*auto: ias [0-9]+-bit, oas [0-9]+-bit' "$work/emulated.log"
t "emulated SMMU: the pci-testdev sits in an IOMMU group with a DMA domain" \
    grep -E '^QAC: bench: iommu_group [0-9]+ type DMA$' "$work/emulated.log"
t "emulated SMMU: dma_map_benchmark ran, no SMMU error" \
    sh -c "grep -E '^QAC: bench: average unmap latency' '$work/emulated.log' &&
           ! grep -iE 'arm-smmu-v3.*(error|fail|timeout|event 0x)|WARNING:|Oops|BUG:' '$work/emulated.log'"
t "emulated SMMU: no IORT RMR (the guest's own MSI window only, nothing 1:1)" \
    sh -c "grep -E '^QAC: iommu: group [0-9]+ resv 0x0*8000000 0x0*80fffff msi$' '$work/emulated.log' &&
           ! grep -E '^QAC: iommu: group [0-9]+ resv .* direct' '$work/emulated.log'"

boot none --dump="$work/none.json"; rc=$?
t "no vIOMMU: the guest boots, runs the benchmark and powers off" \
    sh -c "[ $rc = 0 ] || { tail -n 30 '$work/none.out'; exit 1; }"
t "no vIOMMU: the guest sees the stand-in's function (10de:2342)" \
    grep -E '^QAC: bench: device 0000:00:02.0 vendor 0x10de device 0x2342' "$work/none.log"
t "no vIOMMU: direct DMA (no IOMMU group), dma_map_benchmark ran" \
    sh -c "grep -x 'QAC: bench: no iommu_group' '$work/none.log' &&
           grep -E '^QAC: bench: average unmap latency' '$work/none.log'"
t "no vIOMMU: nothing leaked at QEMU's exit" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("leaks", d.get("leaks"), "rejected", d.get("rejected_destroys"))
assert d.get("leaks") == [] and d.get("rejected_destroys") == []
' "$work/none.json"
[ "$failed" = 0 ]
