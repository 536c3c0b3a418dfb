#!/usr/bin/env bash
# The real Linux guest reboots on the accelerated SMMU: each boot runs the
# firmware and the kernel again, whose SMMU driver resets the SMMU (SMMUEN
# off, new stream table) while QEMU's host objects (vIOMMU, vDEVICE, nested
# HWPTs) are still alive; each boot binds dma_map_benchmark and maps through
# the SMMU again. Three boots, then QEMU is stopped with SIGTERM (a clean
# exit) and the stand-in must hold no leaked object. TAP output.
# Environment: QAC_BUILD, QAC_TOP (set by scripts/check.py).
set -uo pipefail
top=${QAC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
N=6
echo "1..$N"

if ! guest=$("$top/scripts/guest/build-guest.sh" --path); then
    for i in $(seq 1 $N); do echo "ok $i - # SKIP the guest is not built (make guest)"; done
    exit 0
fi

work=$(mktemp -d /tmp/qac-guest-reboot.XXXXXX)
trap 'rm -rf "$work"' EXIT
con=$work/console.log dump=$work/exit-dump.json

n=0 failed=0
t() {   # t DESCRIPTION COMMAND...
    local d=$1; shift
    n=$((n + 1))
    if "$@" >"$work/t.out" 2>&1; then
        echo "ok $n - $d"
    else
        echo "not ok $n - $d"
        failed=$((failed + 1))
        sed 's/^/# /' "$work/t.out" | tail -n 20
    fi
}

t0=$(date +%s)
"$top/scripts/guest/boot.sh" --iommu=accel --reboot --boots=3 --run=bench,reboot --secs=1 \
    --timeout=150 --guest="$guest" --log="$con" --quiet --dump="$dump" >"$work/boot.out" 2>&1
brc=$?
echo "# boot.sh exit $brc after $(( $(date +%s) - t0 ))s"
tr -d '\r' < "$con" > "$con.tmp" && mv "$con.tmp" "$con"

t "three boots, each one's init finished without failure (boot.sh status 0)" \
    sh -c "[ $brc = 0 ] && [ \$(grep -c '^QAC: done status=0' '$con') -ge 3 ] ||
           { tail -n 30 '$work/boot.out'; exit 1; }"
t "the guest's arm-smmu-v3 driver probed the SMMU at every boot" \
    sh -c "[ \$(grep -cE 'arm-smmu-v3 arm-smmu-v3\.[0-9.]*auto: ias [0-9]+-bit' '$con') -ge 3 ]"
t "every boot mapped and unmapped through a DMA domain" \
    sh -c "[ \$(grep -cE '^QAC: bench: iommu_group [0-9]+ type DMA$' '$con') -ge 3 ] &&
           [ \$(grep -cE '^QAC: bench: average unmap latency' '$con') -ge 3 ]"
t "no SMMU error, warning or oops in any boot" \
    sh -c "! grep -iE '(arm-smmu-v3|tegra241).*(error|fail|timeout|event 0x|unexpected|abort|service failure)|WARNING:|Oops|BUG:|Unable to handle|Internal error' '$con'"
t "the stand-in received invalidations, none refused" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("invalidation_ioctls", d["invalidation_ioctls"], "ioctls", d["ioctls"])
assert d["invalidation_ioctls"] > 0
assert all(i["errno"] == 0 for i in d.get("invalidations", []))
' "$dump"
t "no leaked host-kernel object and no refused destroy at QEMU's exit" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("leaks", d.get("leaks"), "rejected", d.get("rejected_destroys"))
assert d.get("leaks") == [] and d.get("rejected_destroys") == []
' "$dump"
[ "$failed" = 0 ]
