#!/usr/bin/env bash
# Soak of the real Linux guest on arm-smmuv3,accel=on,cmdqv=on: N reboots
# on one QEMU (QAC_SOAK_BOOTS, default 50), each one running the firmware
# and the kernel again, whose tegra241-cmdqv driver re-initialises VINTF0's
# queues over QEMU's live host HW queues, and a DMA benchmark. QEMU's VmRSS
# and open fd count are sampled at boot 5 and boot N (same point of the
# boot: the benchmark's driver bound); then, in boot N+1, QEMU gets SIGTERM
# while the benchmark runs with the VCMDQs live. The stand-in's exit dump
# must show no leak and no refused destroy. TAP output.
#
# The guest runs under TCG with a 64 MiB translation buffer (tb-size=64,
# through a wrapper around QEMU) so that TCG's code cache, which otherwise
# grows towards 1 GiB as boots translate new code, is full and recycled
# within the warm-up and does not hide QEMU's own memory in VmRSS.
#
# About 4 minutes for 50 boots on 2 cores (TCG); QAC_SOAK_BOOTS=N for
# fewer or more.
#
# Environment: QAC_BUILD, QAC_TOP (set by scripts/check.py), QAC_SOAK_BOOTS.
set -uo pipefail
top=${QAC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${QAC_BUILD:-$top/build}
ctl=$build/native/subprojects/standin/tools/standin-ctl
qemu=${QAC_QEMU:-$build/qemu-build/qemu-system-aarch64}
BOOTS=${QAC_SOAK_BOOTS:-50}
WARM=5
# VmRSS growth allowed from boot 5 to boot N, per boot, in kB. By boot 5
# the guest's RAM (the pages its boots touch) and TCG's 64 MiB code buffer
# are resident and stay flat (measured with /proc/PID/smaps). What still
# grows is anonymous memory of QEMU's threads (malloc arenas: TCG's
# translation metadata, the firmware's and the kernel's device set-up),
# in steps of ~2 MiB: the same guest booted without any vIOMMU
# (boot.sh --iommu=none) grows ~235 kB a boot, with accel and CMDQV
# ~360-430 kB a boot. The project's own per-boot lifecycle (SMMU and CMDQV
# reset, host HW queues freed and allocated again) is flat over 200 resets
# in qac-soak-test. 700 kB a boot (31.5 MiB over 45 boots) leaves ~1.7x
# margin over the measured growth and catches a leak of the order of the
# guest's DMA working set (a benchmark's mapping, a BAR) at every boot.
RSS_PER_BOOT_MAX_KB=700
RSS_GROWTH_MAX_KB=$((RSS_PER_BOOT_MAX_KB * (BOOTS - WARM)))
. "$top/tests/functional/lib/tap.bash"
tap_plan 8

if [ "$BOOTS" -le "$WARM" ]; then
    echo "guest-soak: QAC_SOAK_BOOTS must be above $WARM" >&2
    exit 2
fi
tap_need_guest
tap_workdir guest-soak

# QEMU with TCG's code buffer capped (exec: same pid as the wrapper)
cat > "$work/qemu" <<EOF
#!/usr/bin/env bash
args=()
prev=
for a in "\$@"; do
    [ "\$prev" = -accel ] && [ "\$a" = tcg ] && a=tcg,tb-size=64
    args+=("\$a"); prev=\$a
done
exec "$qemu" "\${args[@]}"
EOF
chmod +x "$work/qemu"

count() { grep -c "$1" "$con" 2>/dev/null || true; }
qemu_pid() {    # the QEMU writing our console (its -chardev names the file)
    local p
    for p in /proc/[0-9]*; do
        tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -qE "path=$con(,| )" &&
            { echo "${p#/proc/}"; return 0; }
    done
    return 1
}
sample() {      # sample PID -> "RSS_KB FDS"
    local rss fds
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status")
    fds=$(ls "/proc/$1/fd" | wc -l)
    echo "$rss $fds"
}

t0=$(date +%s)
# One boot more than measured: the last is stopped by SIGTERM mid-benchmark
"$top/scripts/guest/boot.sh" --iommu=accel-cmdqv --qemu="$work/qemu" \
    --append='loglevel=8 dyndbg="file tegra241-cmdqv.c +p"' \
    --reboot --boots=$((BOOTS + 2)) --run=bench,reboot --secs=2 \
    --timeout=$((60 + 12 * BOOTS)) --guest="$guest" --log="$con" --quiet \
    --dump="$dump" --standin-dir="$work/standin" >"$work/boot.out" 2>&1 &
bpid=$!

pid= warm= end= killed= tkill=
while kill -0 "$bpid" 2>/dev/null; do
    [ -n "$pid" ] || pid=$(qemu_pid) || pid=
    bound=$(count '^QAC: bench: iommu_group')
    if [ -n "$pid" ] && [ -z "$warm" ] && [ "$bound" -ge "$WARM" ]; then
        warm=$(sample "$pid")
        twarm=$(date +%s)
    fi
    if [ -n "$pid" ] && [ -z "$end" ] && [ "$bound" -ge "$BOOTS" ]; then
        end=$(sample "$pid")
        tend=$(date +%s)
    fi
    if [ -n "$pid" ] && [ -z "$killed" ] && [ "$bound" -ge $((BOOTS + 1)) ]; then
        # Boot N+1's benchmark is mapping and unmapping: queues live
        sleep 0.3
        "$ctl" -d "$work/standin" -r dump >"$live" 2>/dev/null || true
        kill -TERM "$pid"
        killed=1
        tkill=$(date +%s)
    fi
    sleep 0.1
done
wait "$bpid"; brc=$?
bpid=
elapsed=$(( $(date +%s) - t0 ))
tr -d '\r' < "$con" > "$con.tmp" && mv "$con.tmp" "$con"
echo "# $BOOTS boots (+1 stopped by SIGTERM) in ${elapsed}s;" \
     "boot $WARM to boot $BOOTS: $(( ${tend:-0} - ${twarm:-0} ))s"
read -r rss0 fds0 <<<"${warm:-0 0}"
read -r rss1 fds1 <<<"${end:-0 0}"
echo "# soak: $BOOTS boots: RSS $rss0 kB -> $rss1 kB ($((rss1 - rss0)) kB" \
     "over $((BOOTS - WARM)) boots), fds $fds0 -> $fds1"

t "QEMU ran $BOOTS boots and was stopped by SIGTERM in the next one (boot.sh status 0)" \
    sh -c "[ $brc = 0 ] && [ -n '$killed' ] &&
           [ \$(grep -c '^QAC: done status=0' '$con') -ge $BOOTS ] &&
           ! grep -q '^QAC: done status=1' '$con' &&
           [ \$(grep -c '^QAC: guest init started' '$con') = $((BOOTS + 1)) ] ||
           { tail -n 30 '$work/boot.out'; exit 1; }"
t "tegra241-cmdqv inited VINTF0's queues again at every boot" \
    sh -c "[ \$(grep -cE 'VINTF0.*LVCMDQ0.*inited' '$con') -ge $((BOOTS + 1)) ] &&
           [ \$(grep -cE 'VINTF0.*LVCMDQ1.*inited' '$con') -ge $((BOOTS + 1)) ] &&
           ! grep -E 'Falling back to standard SMMU CMDQ' '$con'"
t "every boot mapped and unmapped through a DMA domain" \
    sh -c "[ \$(grep -cE '^QAC: bench: iommu_group [0-9]+ type DMA$' '$con') -ge $((BOOTS + 1)) ] &&
           [ \$(grep -cE '^QAC: bench: average unmap latency' '$con') -ge $BOOTS ]"
t "no SMMU error, warning or oops in any boot" \
    sh -c "! grep -iE '(arm-smmu-v3|tegra241).*(error|fail|timeout|event 0x|unexpected|abort|service failure)|WARNING:|Oops|BUG:|Unable to handle|Internal error' '$con'"
t "QEMU's open fds at boot $BOOTS equal those at boot $WARM ($fds0 -> $fds1)" \
    sh -c "[ -n '$warm' ] && [ -n '$end' ] && [ $fds0 -gt 0 ] && [ $fds0 = $fds1 ]"
if [ -n "${QAC_SANITIZED:-}" ]; then
    # make check-asan: RSS holds ASan's quarantine; LeakSanitizer judges
    # leaks at QEMU's exit instead
    tap_skip "QEMU's VmRSS growth from boot $WARM to boot $BOOTS" \
        "under a sanitizer RSS measures its quarantine ($((rss1 - rss0)) kB)"
else
t "QEMU's VmRSS grew by less than $RSS_GROWTH_MAX_KB kB from boot $WARM to boot $BOOTS ($((rss1 - rss0)) kB)" \
    sh -c "[ -n '$warm' ] && [ -n '$end' ] && [ $rss0 -gt 0 ] &&
           [ $((rss1 - rss0)) -lt $RSS_GROWTH_MAX_KB ]"
fi
t "at the SIGTERM the benchmark ran on live VCMDQs (2 HW queues, enabled, executing)" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
q = [o for o in d["objects"] if o["type"] == "hw_queue"]
print("hw_queues", q, "vcmdq_executed_total", d["vcmdq_executed_total"])
assert len(q) == 2 and all(o["enabled"] for o in q)
assert d["vcmdq_executed_total"] > 0
' "$live"
t "no leaked host-kernel object and no refused destroy at QEMU's exit" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("leaks", d.get("leaks"), "rejected", d.get("rejected_destroys"),
      "HW_QUEUE_ALLOC", d["ioctls"].get("IOMMU_HW_QUEUE_ALLOC"))
assert d.get("leaks") == [] and d.get("rejected_destroys") == []
assert d["ioctls"].get("IOMMU_HW_QUEUE_ALLOC", 0) >= 2 * (int(sys.argv[2]) + 1)
' "$dump" "$BOOTS"
[ "$failed" = 0 ]
