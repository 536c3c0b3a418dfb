#!/usr/bin/env bash
# The real Linux guest's tegra241-cmdqv driver on arm-smmuv3,accel=on,cmdqv=on
# (the stand-in host has CMDQV): it must find the NVDA200C device, take its
# window, allocate and enable its logical queues (dyndbg of tegra241-cmdqv.c),
# and the benchmark's TLB invalidations must reach the stand-in's VCMDQ
# hardware directly (vcmdq_executed_total), not IOMMU_HWPT_INVALIDATE only.
#
# The 6.12 driver takes the window only from an ACPI address-space
# descriptor (QWordMemory / DWordMemory) in the NVDA200C device's _CRS,
# which is what the DSDT gives it. QAC_GUEST_DIR=<dir> runs another guest
# build.
#
# Environment: QAC_BUILD, QAC_TOP (set by scripts/check.py).
set -uo pipefail
top=${QAC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${QAC_BUILD:-$top/build}
ctl=$build/native/subprojects/standin/tools/standin-ctl
. "$top/tests/functional/lib/tap.bash"
tap_plan 12
if [ -n "${QAC_GUEST_DIR:-}" ]; then guest=$QAC_GUEST_DIR   # another guest build
else tap_need_guest
fi
tap_workdir guest-cmdqv

t0=$(date +%s)
"$top/scripts/guest/boot.sh" --iommu=accel-cmdqv --run=bench,iommu \
    --append='loglevel=8 dyndbg="file tegra241-cmdqv.c +p"'  --secs=3 --smp=2 \
    --timeout=170 --guest="$guest" --log="$con" --quiet --dump="$dump" \
    --standin-dir="$work/standin" --qmp="$work/qmp.sock" >"$work/boot.out" 2>&1 &
bpid=$!
# While the benchmark runs, the host kernel's objects are live: take a dump.
while kill -0 "$bpid" 2>/dev/null; do
    if grep -q '^QAC: bench: driver' "$con" 2>/dev/null; then
        "$ctl" -d "$work/standin" -r dump >"$live" 2>/dev/null || true
        # QEMU's view twice while the benchmark runs (3 s)
        sleep 0.5
        /usr/bin/python3 "$top/scripts/qmp.py" "$work/qmp.sock" query-smmuv3-accel \
            >"$work/qmp1.json" 2>/dev/null || true
        sleep 1
        /usr/bin/python3 "$top/scripts/qmp.py" "$work/qmp.sock" query-smmuv3-accel \
            >"$work/qmp2.json" 2>/dev/null || true
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

t "the guest boots, runs init and powers off (boot.sh status 0)" \
    sh -c "[ $brc = 0 ] || { tail -n 30 '$work/boot.out'; exit 1; }"
t "the guest's SMMU driver found the companion CMDQV device NVDA200C" \
    grep -E 'arm-smmu-v3.*found companion CMDQV device: NVDA200C' "$con"
t "tegra241-cmdqv took the window and did not fall back to the SMMU's queue" \
    sh -c "! grep -E 'tegra241_cmdqv|Falling back to standard SMMU CMDQ' '$con' | grep -iE 'fail|fall|error|unexpected'"
t "tegra241-cmdqv inited its logical queue 0 of VINTF0 (dyndbg)" \
    grep -E 'VINTF0.*LVCMDQ0.*inited' "$con"
t "no SMMU or CMDQV error, warning or oops in the guest's log" \
    sh -c "! grep -iE '(arm-smmu-v3|tegra241).*(error|timeout|event 0x|unexpected|abort|service failure)|WARNING:|Oops|BUG:|Unable to handle|Internal error' '$con'"
t "dma_map_benchmark ran through the IOMMU (DMA domain, latencies printed)" \
    sh -c "grep -E '^QAC: bench: iommu_group [0-9]+ type DMA$' '$con' &&
           grep -E '^QAC: bench: average unmap latency' '$con' && grep -x 'QAC: done status=0' '$con'"
t "live: a tegra241_cmdqv vIOMMU with HW queues allocated (IOMMU_HW_QUEUE_ALLOC)" py '
import json, sys
d = json.load(open(sys.argv[1]))
v = [o for o in d["objects"] if o["type"] == "viommu"]
q = [o for o in d["objects"] if o["type"] == "hw_queue"]
print("viommus", v, "hw_queues", q)
assert any(o["viommu_type"] == "tegra241_cmdqv" for o in v)
assert q and any(o["enabled"] for o in q)
' "$live"
t "the benchmark's TLB invalidations ran on the VCMDQs (vcmdq_executed_total > 0, TLBI_NH_VA)" py '
import json, sys
d = json.load(open(sys.argv[1]))
print("vcmdq_executed_total", d["vcmdq_executed_total"], "invalidation_ioctls", d["invalidation_ioctls"])
assert d["vcmdq_executed_total"] > 0
assert any(c["op"] in ("TLBI_NH_VA", "TLBI_NH_ASID") for c in d["vcmdq_executed"])
' "$dump"
t "QMP: the guest's 2 queues are backed by host HW queues 0 and 1, page mapped direct" py '
import json, sys
i = json.load(open(sys.argv[1]))[0]
qs = i["cmdqv-queues"]
print(qs)
assert i["cmdqv"] and i["cmdqv-vcmdqs"] == 2 and len(qs) == 2
for n, q in enumerate(qs):
    assert q["host-index"] == n and q["page"] == "direct", q
' "$work/qmp1.json"
t "configuration went through the trapped queue: CFGI_STE made the device's nested S1 HWPT" py '
import json, sys
i = json.load(open(sys.argv[1]))[0]
d = json.load(open(sys.argv[2]))
dev = [o for o in d["objects"] if o["type"] == "device"][0]
hw = [o for o in d["objects"] if o["id"] == dev["attached"]][0]
print("consumed", i["commands-consumed"], "attached", hw)
assert i["commands-consumed"] > 0
assert hw["type"] == "hwpt_nested" and (int(hw["ste"][0], 16) >> 1) & 7 == 5
' "$work/qmp1.json" "$live"
t "during the benchmark: no trapped page-0 access and no trapped-queue command" py '
import json, sys
a, b = (json.load(open(f))[0] for f in sys.argv[1:3])
ta = sum(q["traps"] for q in a["cmdqv-queues"])
tb = sum(q["traps"] for q in b["cmdqv-queues"])
print("traps", ta, tb, "consumed", a["commands-consumed"], b["commands-consumed"])
assert ta == tb and a["commands-consumed"] == b["commands-consumed"]
' "$work/qmp1.json" "$work/qmp2.json"
t_exit_clean "$dump"
[ "$failed" = 0 ]
