# Shared body of guest-reboot.sh (MODE=accel) and guest-reboot-cmdqv.sh
# (MODE=accel-cmdqv): three boots of the real guest on one QEMU, then a
# SIGTERM exit; sourced with MODE and top set. TAP output.
. "$top/tests/functional/lib/tap.bash"
tap_plan 6
tap_need_guest
tap_workdir "guest-reboot-$MODE"

t0=$(date +%s)
extra=()
[ "$MODE" = accel ] || extra=(--append='loglevel=8 dyndbg="file tegra241-cmdqv.c +p"')
"$top/scripts/guest/boot.sh" --iommu="$MODE" "${extra[@]}" --reboot --boots=3 --run=bench,reboot --secs=1 \
    --timeout=150 --guest="$guest" --log="$con" --quiet --dump="$dump" >"$work/boot.out" 2>&1
brc=$?
echo "# boot.sh exit $brc after $(( $(date +%s) - t0 ))s"
tr -d '\r' < "$con" > "$con.tmp" && mv "$con.tmp" "$con"

t "three boots, each one's init finished without failure (boot.sh status 0)" \
    sh -c "[ $brc = 0 ] && [ \$(grep -c '^QAC: done status=0' '$con') -ge 3 ] ||
           { tail -n 30 '$work/boot.out'; exit 1; }"
if [ "$MODE" = accel ]; then
t "the guest's arm-smmu-v3 driver probed the SMMU at every boot" \
    sh -c "[ \$(grep -cE 'arm-smmu-v3 arm-smmu-v3\.[0-9.]*auto: ias [0-9]+-bit' '$con') -ge 3 ]"
else
t "tegra241-cmdqv inited VINTF0's queues again at every boot" \
    sh -c "[ \$(grep -cE 'VINTF0.*LVCMDQ0.*inited' '$con') -ge 3 ] &&
           [ \$(grep -cE 'VINTF0.*LVCMDQ1.*inited' '$con') -ge 3 ] &&
           ! grep -E 'Falling back to standard SMMU CMDQ' '$con'"
fi
t "every boot mapped and unmapped through a DMA domain" \
    sh -c "[ \$(grep -cE '^QAC: bench: iommu_group [0-9]+ type DMA$' '$con') -ge 3 ] &&
           [ \$(grep -cE '^QAC: bench: average unmap latency' '$con') -ge 3 ]"
t "no SMMU error, warning or oops in any boot" \
    sh -c "! grep -iE '(arm-smmu-v3|tegra241).*(error|fail|timeout|event 0x|unexpected|abort|service failure)|WARNING:|Oops|BUG:|Unable to handle|Internal error' '$con'"
t "the invalidations reached the host (trapped queue, or VCMDQs with CMDQV), none refused" /usr/bin/python3 -c '
import json, sys
d, mode = json.load(open(sys.argv[1])), sys.argv[2]
print("invalidation_ioctls", d["invalidation_ioctls"], "vcmdq_executed_total",
      d["vcmdq_executed_total"], "ioctls", d["ioctls"])
if mode == "accel":
    assert d["invalidation_ioctls"] > 0
else:
    assert d["vcmdq_executed_total"] > 0
    assert d["ioctls"].get("IOMMU_HW_QUEUE_ALLOC", 0) >= 2
assert all(i["errno"] == 0 for i in d.get("invalidations", []))
' "$dump" "$MODE"
t_exit_clean "$dump"
[ "$failed" = 0 ]
