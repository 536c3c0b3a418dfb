#!/usr/bin/env bash
# A real Linux guest (Debian's 6.12 kernel, scripts/guest/) boots under TCG
# with arm-smmuv3,accel=on,cmdqv=off on pcie.0 and a PCI function of the
# stand-in host behind it, binds the kernel's dma_map_benchmark driver to the
# function and maps/unmaps through the IOMMU (iommu.strict=1: every unmap
# invalidates). Asserted from the guest console, from the stand-in while the
# benchmark runs, and from the stand-in's dump at QEMU's exit. TAP output.
#
# Environment: QAC_BUILD, QAC_TOP (set by scripts/check.py).
set -uo pipefail
top=${QAC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${QAC_BUILD:-$top/build}
ctl=$build/native/subprojects/standin/tools/standin-ctl
. "$top/tests/functional/lib/tap.bash"
tap_plan 13
tap_need_guest
tap_workdir guest-accel

t0=$(date +%s)
"$top/scripts/guest/boot.sh" --iommu=accel --run=bench,iommu --secs=3 --smp=2 \
    --timeout=170 --guest="$guest" --log="$con" --quiet --dump="$dump" \
    --standin-dir="$work/standin" >"$work/boot.out" 2>&1 &
bpid=$!
# While the benchmark runs, the host kernel's objects are live: take a dump.
while kill -0 "$bpid" 2>/dev/null; do
    if grep -q '^QAC: bench: driver' "$con" 2>/dev/null; then
        "$ctl" -d "$work/standin" -r dump >"$live" 2>/dev/null || true
        break
    fi
    sleep 0.5
done
wait "$bpid"; brc=$?
bpid=
elapsed=$(( $(date +%s) - t0 ))
echo "# boot.sh exit $brc after ${elapsed}s"
tr -d '\r' < "$con" > "$con.tmp" && mv "$con.tmp" "$con"   # the serial console ends lines with CR LF

py() { /usr/bin/python3 -c "$@"; }

t "the guest boots via UEFI with ACPI, runs init and powers off (boot.sh status 0)" \
    sh -c "[ $brc = 0 ] || { tail -n 30 '$work/boot.out'; exit 1; }"
t "the guest has ACPI tables (IORT) from the firmware" \
    grep -E 'ACPI: IORT 0x' "$con"
t "the guest's arm-smmu-v3 driver probed the SMMU" \
    grep -E 'arm-smmu-v3 arm-smmu-v3\.[0-9.]*auto: ias [0-9]+-bit, oas [0-9]+-bit' "$con"
t "no SMMU error, warning or oops in the guest's log" \
    sh -c "! grep -iE '(arm-smmu-v3|tegra241).*(error|fail|timeout|event 0x|unexpected|abort|service failure)|WARNING:|Oops|BUG:|Unable to handle|Internal error' '$con'"
t "the benchmark's PCI function sits in an IOMMU group with a DMA domain" \
    grep -E '^QAC: bench: iommu_group [0-9]+ type DMA$' "$con"
t "dma_map_benchmark bound to the function and ran (map and unmap latencies printed)" \
    sh -c "grep -q '^QAC: bench: driver dma_map_benchmark' '$con' &&
           grep -E '^QAC: bench: average map latency' '$con' &&
           grep -E '^QAC: bench: average unmap latency' '$con'"
t "the guest's init finished without failure" \
    grep -x 'QAC: done status=0' "$con"
t "the IORT RMR reached the guest: the device's group maps the host's MSI window 1:1" \
    grep -E '^QAC: iommu: group [0-9]+ resv 0x0*8000000 0x0*80fffff direct-relaxable$' "$con"

# From the stand-in, while the benchmark ran: the device is attached to a
# nested HWPT (an S1 STE of the guest) on the vIOMMU, with a vDEVICE whose
# virtual ID is the guest's stream ID for 00:02.0 (RID 0x10).
t "live: a vDEVICE for the function with the guest's vSID 0x10, on the vIOMMU" py '
import json, sys
d = json.load(open(sys.argv[1]))
vd = [o for o in d["objects"] if o["type"] == "vdevice"]
print(vd)
assert any(o["virt_id"] == 0x10 and o["psid"] == 0x10100 for o in vd), "no vDEVICE vSID 0x10 psid 0x10100"
' "$live"
t "live: the function is attached to a nested HWPT holding a stage-1 STE (HWPT_ALLOC)" py '
import json, sys
d = json.load(open(sys.argv[1]))
objs = {o["id"]: o for o in d["objects"]}
dev = [o for o in objs.values() if o["type"] == "device" and o["bdf"] == "0009:01:00.0"][0]
hw = objs.get(dev["attached"])
print("device", dev, "attached to", hw)
assert hw and hw["type"] == "hwpt_nested", "not attached to a nested HWPT"
ste0 = int(hw["ste"][0], 16)
assert ste0 & 1 and (ste0 >> 1) & 7 == 5, "STE word 0 %#x is not a valid S1-translate STE" % ste0
assert d["ioctls"].get("IOMMU_HWPT_ALLOC", 0) >= 1
' "$live"
t "the stand-in received the guest's invalidations (invalidation_ioctls > 0, TLBI_NH_VA/ASID, none refused)" py '
import json, sys
d = json.load(open(sys.argv[1]))
print("invalidation_ioctls", d["invalidation_ioctls"], "cmds", d["invalidation_cmds"])
assert d["invalidation_ioctls"] > 0
ops = {c["op"] for i in d.get("invalidations", []) for c in i["cmds"]}
print("ops", ops)
assert "TLBI_NH_VA" in ops or "TLBI_NH_ASID" in ops
assert all(i["errno"] == 0 for i in d.get("invalidations", []))
' "$dump"
t_exit_clean "$dump"
t "the whole run stays within 170 s (took ${elapsed}s)" [ "$elapsed" -lt 170 ]
[ "$failed" = 0 ]
