#!/usr/bin/env bash
# The real Linux guest with CMDQV, QEMU under libvirt's default seccomp
# filter (-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,
# resourcecontrol=deny): the accel SMMU, CMDQV and the stand-in (loaded
# into QEMU, its engine thread included) work inside it, and the filter is
# really on (QEMU's /proc status shows seccomp mode 2 while it runs).
#
# Environment: QAC_BUILD, QAC_TOP (set by scripts/check.py).
set -uo pipefail
top=${QAC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${QAC_BUILD:-$top/build}
. "$top/tests/functional/lib/tap.bash"
tap_plan 5
tap_need_guest
tap_workdir guest-cmdqv-sandbox

"$top/scripts/guest/boot.sh" --iommu=accel-cmdqv --run=bench,iommu --sandbox \
    --secs=2 --smp=2 --timeout=170 --guest="$guest" --log="$con" --quiet \
    --dump="$dump" --standin-dir="$work/standin" >"$work/boot.out" 2>&1 &
bpid=$!
seccomp=
while kill -0 "$bpid" 2>/dev/null; do
    if grep -q '^QAC: bench: driver' "$con" 2>/dev/null; then
        for p in $(pgrep -f qemu-system-aarch64); do
            if tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx "STANDIN_DIR=$work/standin"; then
                seccomp=$(awk '/^Seccomp:/ {print $2}' /proc/$p/status)
                break
            fi
        done
        break
    fi
    sleep 0.5
done
wait "$bpid"; brc=$?
bpid=
tr -d '\r' < "$con" > "$con.tmp" && mv "$con.tmp" "$con"

t "the guest boots under -sandbox, runs init and powers off (status 0)" \
    sh -c "[ $brc = 0 ] || { tail -n 30 '$work/boot.out'; exit 1; }"
t "QEMU ran with its seccomp filter on (Seccomp: 2 in /proc/PID/status)" \
    sh -c "echo seccomp=$seccomp; [ '$seccomp' = 2 ]"
t "tegra241-cmdqv found NVDA200C and did not fall back" \
    sh -c "grep -qE 'found companion CMDQV device: NVDA200C' '$con' &&
           ! grep -E 'Falling back to standard SMMU CMDQ|failed to reset impl' '$con'"
t "the benchmark's invalidations ran on the stand-in's VCMDQs" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("vcmdq_executed_total", d["vcmdq_executed_total"])
assert d["vcmdq_executed_total"] > 0
' "$dump"
t_exit_clean "$dump"
[ "$failed" = 0 ]
