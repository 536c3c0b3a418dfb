#!/usr/bin/env bash
# The project's main job: the virt machine with an accelerated SMMUv3 and a
# PCI function of the stand-in host (no Grace hardware needed), shown to a
# person over QMP and through the stand-in's own view of the host kernel.
#
# QAC_NO_STANDIN=1 with QAC_VFIO_HOST=<BDF> runs the same on a real host.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
qemu=$build/qemu-build/qemu-system-aarch64
lib=$build/native/subprojects/standin/libstandin.so
ctl=$build/native/subprojects/standin/tools/standin-ctl
work=$(mktemp -d /tmp/qac-run.XXXXXX)
qpid=
cleanup() { [ -n "$qpid" ] && kill "$qpid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

if [ -n "${QAC_NO_STANDIN:-}" ]; then
    dev="host=${QAC_VFIO_HOST:?set QAC_VFIO_HOST to the BDF of a vfio-pci bound device}"
    env=()
else
    cat > "$work/host.conf" <<'CONF'
# A Grace-like host: one SMMUv3 with nesting and CMDQV, one GPU function.
[host]
page_size = 64K
[smmu smmu0]
nesting = yes
cmdqv = yes
[pci 0009:01:00.0]
smmu = smmu0
vendor = 0x10de
device = 0x2342
class = 0x030200
sid = 0x10100
bar0 = 16M
bar2 = 64M
CONF
    dev="sysfsdev=$work/sys/bus/pci/devices/0009:01:00.0"
    env=(LD_PRELOAD="$lib" STANDIN_CONFIG="$work/host.conf" STANDIN_DIR="$work"
         STANDIN_DUMP="$work/exit-dump.json")
fi

cmd=("$qemu" -M virt -cpu max -display none -nodefaults -S
     -object iommufd,id=iommufd0
     -device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on
     -device vfio-pci,id=gpu0,bus=pcie.0,addr=2.0,iommufd=iommufd0,$dev
     -qmp unix:"$work/qmp.sock",server=on,wait=off)
echo "== starting: ${cmd[*]}" | sed "s|$work|\$STANDIN_DIR|g; s|$top/||g"
env "${env[@]}" "${cmd[@]}" &
qpid=$!

q() { /usr/bin/python3 "$top/scripts/qmp.py" "$work/qmp.sock" "$@"; }
hmp() { q human-monitor-command "{\"command-line\":\"$1\"}" |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin), end="")'; }

echo
echo "== the accelerated SMMU, as QEMU sees it (HMP info smmuv3-accel)"
hmp "info smmuv3-accel" | sed 's/^/  /'
echo
echo "== the device the guest will see (info pci)"
hmp "info pci" | grep -A3 "Bus  0, device   2" | sed 's/^/  /'
if [ -z "${QAC_NO_STANDIN:-}" ]; then
    echo
    echo "== the host kernel's objects, as the stand-in sees them"
    "$ctl" -d "$work" -r dump | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
for o in d["objects"]:
    extra = {k: v for k, v in o.items() if k not in ("id", "type", "holders")}
    held = (" held by " + ",".join(map(str, o["holders"]))) if o.get("holders") else ""
    print("  %3d %-12s%s  %s" % (o["id"], o["type"], held,
          " ".join("%s=%s" % kv for kv in sorted(extra.items()))))
print("  ioctls: " + ", ".join("%s %d" % kv for kv in sorted(d["ioctls"].items())))
'
fi
q quit >/dev/null 2>&1 || true
wait "$qpid" 2>/dev/null || true
qpid=
if [ -z "${QAC_NO_STANDIN:-}" ]; then
    echo
    printf '== at QEMU exit: '
    /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("%d leaked objects, %d rejected destroys" % (len(d.get("leaks", [])), len(d.get("rejected_destroys", []))))
' "$work/exit-dump.json"
fi
