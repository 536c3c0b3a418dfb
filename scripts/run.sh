#!/usr/bin/env bash
# The project's main job: a real Linux guest on the virt machine with an
# accelerated SMMUv3 and Tegra241 CMDQV, on the stand-in host (no Grace
# hardware needed). It shows a person what happened: the guest's CMDQV probe
# lines, its queues and their host HW queues over QMP while it runs, the
# commands the stand-in's VCMDQ hardware executed, the benchmark's map/unmap
# latency, and the leak report at QEMU's exit.
#
# On a real Grace host (Linux 6.17+, the device bound to vfio-pci):
#   QAC_VFIO_HOST=0009:01:00.0 make run
# The guest's CMDQV driver on QEMU's emulated SMMUv3 (accel=off,cmdqv=on,
# a pci-testdev; QEMU runs the queues, no host and no stand-in):
#   make run MODE=emulated-cmdqv
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
ctl=$build/native/subprojects/standin/tools/standin-ctl
work=$(mktemp -d /tmp/qac-run.XXXXXX)
bpid=
cleanup() { [ -n "$bpid" ] && kill "$bpid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

mode=${MODE:-accel-cmdqv}
host=() standin=
case "$mode" in
    accel-cmdqv)
        [ -z "${QAC_VFIO_HOST:-}" ] || host=(--vfio-host="$QAC_VFIO_HOST")
        [ -n "${QAC_VFIO_HOST:-}" ] || standin=1
        echo "== booting Linux on virt + arm-smmuv3,accel=on,cmdqv=on ${QAC_VFIO_HOST:+(host device $QAC_VFIO_HOST)}${QAC_VFIO_HOST:-(stand-in host)}" ;;
    emulated-cmdqv)
        echo "== booting Linux on virt + arm-smmuv3,accel=off,cmdqv=on (QEMU runs the queues) + pci-testdev" ;;
    *) echo "make run: MODE=accel-cmdqv (default) or MODE=emulated-cmdqv, not '$mode'" >&2; exit 2 ;;
esac
"$top/scripts/guest/boot.sh" --iommu="$mode" --run=bench,iommu --secs=5 \
    --append='loglevel=8 dyndbg="file tegra241-cmdqv.c +p"' \
    --log="$work/console.log" --quiet --standin-dir="$work/host" \
    --dump="$work/exit-dump.json" --qmp="$work/qmp.sock" "${host[@]}" &
bpid=$!

hmp() { /usr/bin/python3 "$top/scripts/qmp.py" "$work/qmp.sock" human-monitor-command \
            "{\"command-line\":\"$1\"}" |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin), end="")'; }

# While the benchmark runs: the operator's view and the host's objects.
for _ in $(seq 1 600); do
    grep -q "QAC: bench: device" "$work/console.log" 2>/dev/null && break
    kill -0 "$bpid" 2>/dev/null || break
    sleep 0.2
done
sleep 1
if kill -0 "$bpid" 2>/dev/null; then
    echo
    echo "== while the guest runs its benchmark: info smmuv3-accel"
    hmp "info smmuv3-accel" | sed 's/^/  /' || true
    if [ -n "$standin" ]; then
        echo
        echo "== the host kernel's objects (stand-in)"
        "$ctl" -d "$work/host" -r dump | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
for o in d["objects"]:
    t = o["type"]
    if t == "hw_queue":
        print("  hw_queue %d: index %d iova %#x len %#x enabled %s, %d commands executed" %
              (o["id"], o["index"], o["iova"], o["length"], o["enabled"], o["executed"]))
    elif t in ("viommu", "vdevice", "veventq"):
        extra = {k: v for k, v in o.items() if k in ("viommu_type", "vintf", "virt_id", "psid", "veventq_type", "vmid")}
        print("  %s %d: %s" % (t, o["id"], " ".join("%s=%s" % kv for kv in sorted(extra.items()))))
' || true
    fi
fi
brc=0
wait "$bpid" || brc=$?
bpid=

echo
echo "== the guest's CMDQV driver (dmesg)"
grep -E "tegra241|cmdqv|CMDQV|arm-smmu-v3" "$work/console.log" | grep -v "^QAC" |
    sed 's/^/  /' | head -20
echo
echo "== the benchmark (dma_map_benchmark, 1 thread, granule 1, iommu.strict=1)"
grep -E "average (map|unmap) latency|QAC: (bench|iommu)" "$work/console.log" | sed 's/^/  /'
if [ -n "$standin" ] && [ -f "$work/exit-dump.json" ]; then
    echo
    echo "== the stand-in at QEMU's exit"
    /usr/bin/python3 - "$work/exit-dump.json" <<'PY'
import collections, json, sys
d = json.load(open(sys.argv[1]))
ops = collections.Counter(c["op"] for c in d.get("vcmdq_executed", []))
print("  commands executed by the VCMDQ hardware: %d (last %d: %s)" % (
      d.get("vcmdq_executed_total", 0), sum(ops.values()),
      ", ".join("%s %d" % kv for kv in ops.most_common())))
print("  invalidations through the trapped queue: %d ioctls, %d commands" % (
      d.get("invalidation_ioctls", 0), d.get("invalidation_cmds", 0)))
print("  HW queues allocated: %d" % d["ioctls"].get("IOMMU_HW_QUEUE_ALLOC", 0))
print("  leaks: %d, refused destroys: %d" % (len(d.get("leaks", [])),
      len(d.get("rejected_destroys", []))))
PY
fi
echo
[ "$brc" = 0 ] && echo "== done: the guest ran and powered off cleanly" ||
    { echo "== the guest run failed (boot.sh status $brc); console tail:"; tail -20 "$work/console.log"; exit 1; }
