#!/usr/bin/env bash
# The real Linux guest's tegra241-cmdqv driver on QEMU's emulated SMMUv3
# (arm-smmuv3,cmdqv=on,cmdqv-vcmdqs=2, accel=off) with a pci-testdev: no
# host, no stand-in. QEMU runs the VCMDQs itself and sends their TLB
# invalidations to the emulated SMMU. The guest must probe CMDQV (no
# fallback, no timeout) and dma_map_benchmark's invalidations must go
# through the VCMDQs (QEMU's executed-by-qemu counter), not the SMMU's own
# command queue (its smmuv3_cmdq_opcode trace).
#
# Then the host's view (cmdqv-vintfs=2): the same kernel owns VINTF0
# (HYP_OWN reads back 1) and sends it every SMMU command, so after the
# probe the SMMU's own queue carries nothing, not even the CFGI_STE that
# attaches the device (a guest-owned VINTF leaves those to it).
#
# Environment: QAC_BUILD, QAC_TOP (set by scripts/check.py).
set -uo pipefail
top=${QAC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${QAC_BUILD:-$top/build}
. "$top/tests/functional/lib/tap.bash"
tap_plan 14
tap_need_guest
tap_workdir guest-cmdqv-emulated

qmp() { /usr/bin/python3 "$top/scripts/qmp.py" "$work/qmp.sock" query-smmuv3-accel \
            >"$1" 2>/dev/null || true; }

t0=$(date +%s)
"$top/scripts/guest/boot.sh" --iommu=emulated-cmdqv --run=bench,iommu \
    --append='loglevel=8 dyndbg="file tegra241-cmdqv.c +p"' --secs=3 --smp=2 \
    --timeout=170 --guest="$guest" --log="$con" --quiet --qmp="$work/qmp.sock" \
    --trace=smmuv3_cmdq_opcode --trace-log="$work/trace.log" >"$work/boot.out" 2>&1 &
bpid=$!
qmp "$work/qmp0.json"                       # may be too early: not asserted
while kill -0 "$bpid" 2>/dev/null; do
    if grep -q '^QAC: bench: iommu_group' "$con" 2>/dev/null; then
        sleep 0.3
        qmp "$work/qmp1.json"
        sleep 1.5
        qmp "$work/qmp2.json"
        break
    fi
    sleep 0.2
done
wait "$bpid"; brc=$?
bpid=
echo "# boot.sh exit $brc after $(( $(date +%s) - t0 ))s"
tr -d '\r' < "$con" > "$con.tmp" && mv "$con.tmp" "$con"

py() { /usr/bin/python3 -c "$@"; }

t "the guest boots, runs init and powers off (boot.sh status 0)" \
    sh -c "[ $brc = 0 ] || { tail -n 30 '$work/boot.out'; exit 1; }"
t "the guest's SMMU driver found the companion CMDQV device NVDA200C" \
    grep -E 'arm-smmu-v3.*found companion CMDQV device: NVDA200C' "$con"
t "tegra241-cmdqv inited logical queues 0 and 1 of VINTF0 (dyndbg)" \
    sh -c "grep -E 'VINTF0.*LVCMDQ0.*inited' '$con' && grep -E 'VINTF0.*LVCMDQ1.*inited' '$con'"
t "no fallback to the SMMU's queue, no SMMU or CMDQV error, warning or oops" \
    sh -c "! grep -iE 'Falling back|(arm-smmu-v3|tegra241).*(error|fail|timeout|event 0x|unexpected|abort)|WARNING:|Oops|BUG:|Unable to handle|Internal error' '$con'"
t "dma_map_benchmark ran through the IOMMU (DMA domain, latencies printed)" \
    sh -c "grep -E '^QAC: bench: iommu_group [0-9]+ type DMA$' '$con' &&
           grep -E '^QAC: bench: average unmap latency' '$con' && grep -x 'QAC: done status=0' '$con'"
t "QMP: an emulated SMMU (accel false) with 2 queues in state emulated" py '
import json, sys
i = json.load(open(sys.argv[1]))[0]
qs = i["cmdqv-queues"]
print(i["accel"], [(q["index"], q["state"], q["page"]) for q in qs])
assert i["accel"] is False and i["cmdqv"] and i["cmdqv-vcmdqs"] == 2 and len(qs) == 2
assert all(q["state"] == "emulated" and q["page"] == "trapped" for q in qs)
assert i["cmdqv-hw-queue-allocs"] == 0
' "$work/qmp1.json"
t "during the benchmark QEMU ran its invalidations on the VCMDQs (executed-by-qemu grew)" py '
import json, sys
a, b = (json.load(open(f))[0] for f in sys.argv[1:3])
ea = sum(q["executed-by-qemu"] for q in a["cmdqv-queues"])
eb = sum(q["executed-by-qemu"] for q in b["cmdqv-queues"])
print("executed-by-qemu", ea, "->", eb)
assert eb - ea > 100
' "$work/qmp1.json" "$work/qmp2.json"
t "at least 2 VCMDQ commands (TLBI + CMD_SYNC) per unmap the benchmark made" py '
import json, re, sys
con = open(sys.argv[3]).read()
m = float(re.search(r"average map latency\(us\):([\d.]+)", con).group(1))
u = float(re.search(r"average unmap latency\(us\):([\d.]+)", con).group(1))
a, b = (json.load(open(f))[0] for f in sys.argv[1:3])
ea = sum(q["executed-by-qemu"] for q in a["cmdqv-queues"])
eb = sum(q["executed-by-qemu"] for q in b["cmdqv-queues"])
# the samples are ~1.5 s apart; unmaps in that time, from the latencies
unmaps = 1.5e6 / (m + u)
print("map", m, "unmap", u, "unmaps ~%.0f" % unmaps, "commands", eb - ea)
assert eb - ea >= unmaps                 # 2 per unmap, with a margin of 2
' "$work/qmp1.json" "$work/qmp2.json" "$con"
t "the SMMU's own command queue carried no TLBI_NH_VA (it is the fallback path)" \
    sh -c "n=\$(grep -c 'SMMU_CMD_TLBI_NH_VA' '$work/trace.log'); echo \"TLBI_NH_VA on the SMMU's queue: \$n\"; [ \"\$n\" = 0 ]"

# --- the host's view ---------------------------------------------------------
hcon=$work/host.log
t0=$(date +%s)
"$top/scripts/guest/boot.sh" --iommu=emulated-cmdqv-host --run=bench,iommu \
    --append='loglevel=8 dyndbg="file tegra241-cmdqv.c +p"' --secs=2 --smp=2 \
    --timeout=170 --guest="$guest" --log="$hcon" --quiet \
    --trace=smmuv3_cmdq_opcode --trace-log="$work/host-trace.log" >"$work/host.out" 2>&1
hrc=$?
echo "# host view: boot.sh exit $hrc after $(( $(date +%s) - t0 ))s"
tr -d '\r' < "$hcon" > "$hcon.tmp" && mv "$hcon.tmp" "$hcon"

t "host view: the guest boots, runs the benchmark and powers off" \
    sh -c "[ $hrc = 0 ] || { tail -n 30 '$work/host.out'; exit 1; }"
t "host view: tegra241-cmdqv inited VINTF0's logical queues 0 and 1" \
    sh -c "grep -E 'VINTF0.*LVCMDQ0.*inited' '$hcon' && grep -E 'VINTF0.*LVCMDQ1.*inited' '$hcon'"
t "host view: no fallback, no SMMU or CMDQV error, warning or oops" \
    sh -c "! grep -iE 'Falling back|(arm-smmu-v3|tegra241).*(error|fail|timeout|event 0x|unexpected|abort)|WARNING:|Oops|BUG:|Unable to handle|Internal error' '$hcon'"
t "host view: dma_map_benchmark ran through the IOMMU" \
    sh -c "grep -E '^QAC: bench: iommu_group [0-9]+ type DMA$' '$hcon' &&
           grep -E '^QAC: bench: average unmap latency' '$hcon' && grep -x 'QAC: done status=0' '$hcon'"
t "host view: VINTF0 is the kernel's: CFGI_STE went to the VCMDQs (guest view: the SMMU's queue)" \
    sh -c "h=\$(grep -cE 'SMMU_CMD_(CFGI_STE|CFGI_CD|TLBI_NH_VA)\$' '$work/host-trace.log');
           g=\$(grep -cE 'SMMU_CMD_CFGI_STE\$' '$work/trace.log');
           echo \"host view, on the SMMU's queue: \$h; guest view, CFGI_STE there: \$g\";
           [ \"\$h\" = 0 ] && [ \"\$g\" -gt 0 ]"
[ "$failed" = 0 ]
