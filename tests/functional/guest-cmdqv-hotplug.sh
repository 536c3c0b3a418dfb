#!/usr/bin/env bash
# The real Linux guest on arm-smmuv3,accel=on,cmdqv=on,cmdqv-vcmdqs=2 with
# no device at boot (issue 13): its tegra241-cmdqv driver brings its queues
# up on QEMU's own engine (no timeout, no fallback, the SMMU probes), a
# device is hotplugged over QMP and the benchmark runs on host HW queues
# with the page mapped direct; the device is unplugged (the guest's pciehp
# powers the slot off), the queues go back to QEMU and keep working; a
# second hotplug puts them on host HW queues again.
#
# Environment: QAC_BUILD, QAC_TOP (set by scripts/check.py).
set -uo pipefail
top=${QAC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${QAC_BUILD:-$top/build}
ctl=$build/native/subprojects/standin/tools/standin-ctl
. "$top/tests/functional/lib/tap.bash"
tap_plan 10
tap_need_guest
tap_workdir guest-cmdqv-hotplug
qmp=$work/qmp.sock
q() { /usr/bin/python3 "$top/scripts/qmp.py" "$qmp" "$@"; }

"$top/scripts/guest/boot.sh" --iommu=accel-cmdqv-hotplug \
    --run=iommu,waitdev,bench,waitgone,waitdev,bench \
    --append='loglevel=8 dyndbg="file tegra241-cmdqv.c +p" qac.wait=100' \
    --secs=2 --smp=2 --timeout=280 --guest="$guest" --log="$con" --quiet \
    --dump="$dump" --standin-dir="$work/standin" --qmp="$qmp" \
    >"$work/boot.out" 2>&1 &
bpid=$!

# wait_line N PATTERN: until the console has N lines matching PATTERN
wait_line() {
    while kill -0 "$bpid" 2>/dev/null; do
        local c; c=$(grep -c "$2" "$con" 2>/dev/null)
        [ "${c:-0}" -ge "$1" ] && return 0
        sleep 0.3
    done
    return 1
}
plug='{"driver": "vfio-pci", "id": "dev0", "bus": "rp0", "iommufd": "iommufd0", "host": "0009:01:00.0"}'
if wait_line 1 '^QAC: waitdev: waiting'; then
    q query-smmuv3-accel >"$work/qmp0.json" 2>&1
    q device_add "$plug" >"$work/plug1.out" 2>&1
fi
if wait_line 1 '^QAC: bench: driver'; then
    sleep 0.5
    "$ctl" -d "$work/standin" -r dump >"$work/live1.json" 2>/dev/null
    q query-smmuv3-accel >"$work/qmp1.json" 2>&1
fi
if wait_line 1 '^QAC: waitgone: waiting'; then
    q device_del '{"id": "dev0"}' >"$work/unplug.out" 2>&1
fi
if wait_line 2 '^QAC: waitdev: waiting'; then
    # the guest forgets the function before it powers the slot off, after
    # which QEMU deletes the device: wait for that (DEVICE_DELETED)
    for i in $(seq 1 100); do
        q qom-list '{"path": "/machine/peripheral/dev0"}' >/dev/null 2>&1 || break
        sleep 0.3
    done
    "$ctl" -d "$work/standin" -r dump >"$work/live2.json" 2>/dev/null
    q query-smmuv3-accel >"$work/qmp2.json" 2>&1
    q device_add "$plug" >"$work/plug2.out" 2>&1
fi
if wait_line 2 '^QAC: bench: driver'; then
    sleep 0.5
    "$ctl" -d "$work/standin" -r dump >"$work/live3.json" 2>/dev/null
fi
wait "$bpid"; brc=$?
bpid=
tr -d '\r' < "$con" > "$con.tmp" && mv "$con.tmp" "$con"

py() { /usr/bin/python3 -c "$@"; }

t "the guest boots with no device, runs both benchmarks and powers off (status 0)" \
    sh -c "[ $brc = 0 ] && grep -qx 'QAC: done status=0' '$con' || { tail -n 30 '$work/boot.out'; grep '^QAC' '$con' | tail; exit 1; }"
t "tegra241-cmdqv found NVDA200C and enabled its queues with no device (no timeout, no fallback)" \
    sh -c "grep -qE 'found companion CMDQV device: NVDA200C' '$con' &&
           grep -qE 'VINTF0.*LVCMDQ0.*inited' '$con' &&
           ! grep -E 'failed to enable|failed to reset impl|Falling back to standard SMMU CMDQ' '$con'"
t "QMP before the device: CMDQV on, both queues run by QEMU (no host)" py '
import json, sys
i = json.load(open(sys.argv[1]))[0]
print(i["cmdqv-queues"])
assert i["cmdqv"] and [q["state"] for q in i["cmdqv-queues"]] == ["no-host"] * 2
' "$work/qmp0.json"
t "the first device: host HW queues 0 and 1 back the guest's, the page direct" py '
import json, sys
i = json.load(open(sys.argv[1]))[0]
d = json.load(open(sys.argv[2]))
qs = i["cmdqv-queues"]
print(qs)
assert [(q["host-index"], q["page"]) for q in qs] == [(0, "direct"), (1, "direct")]
assert len([o for o in d["objects"] if o["type"] == "hw_queue" and o["enabled"]]) == 2
' "$work/qmp1.json" "$work/live1.json"
t "the guest took the device away (pciehp), the vIOMMU went with it" py '
import json, sys
d = json.load(open(sys.argv[1]))
print([o["type"] for o in d["objects"]])
assert not [o for o in d["objects"] if o["type"] in ("viommu", "hw_queue", "vdevice")]
' "$work/live2.json"
t "after the unplug: the guest's queues are QEMU's again (no host)" py '
import json, sys
i = json.load(open(sys.argv[1]))[0]
print(i["cmdqv-queues"], i["devices"])
assert not i["devices"]
assert [q["state"] for q in i["cmdqv-queues"]] == ["no-host"] * 2
' "$work/qmp2.json"
t "the second device: host HW queues again, the benchmark ran twice" sh -c "
    [ \$(grep -c '^QAC: bench: average unmap latency' '$con') = 2 ] &&
    /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len([o for o in d[\"objects\"] if o[\"type\"] == \"hw_queue\" and o[\"enabled\"]]) == 2
' '$work/live3.json'"
t "the benchmarks' invalidations ran on the host's VCMDQs" py '
import json, sys
d = json.load(open(sys.argv[1]))
print("vcmdq_executed_total", d["vcmdq_executed_total"], "hw queue allocs", d["ioctls"].get("IOMMU_HW_QUEUE_ALLOC"))
assert d["vcmdq_executed_total"] > 0 and d["ioctls"]["IOMMU_HW_QUEUE_ALLOC"] == 4
' "$dump"
t "no SMMU or CMDQV error, warning or oops in the guest's log" \
    sh -c "! grep -iE '(arm-smmu-v3|tegra241).*(error|timeout|event 0x|unexpected|abort|service failure)|WARNING:|Oops|BUG:|Unable to handle|Internal error' '$con'"
t_exit_clean "$dump"
[ "$failed" = 0 ]
