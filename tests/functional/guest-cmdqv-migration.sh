#!/usr/bin/env bash
# Live migration of the real Linux guest with arm-smmuv3,accel=on,cmdqv=on
# while it runs dma_map_benchmark: 10 hops between two stand-in hosts (A, B,
# A, ...), each hop a new QEMU with -incoming over a UNIX socket, the
# source quit once the destination runs. The guest must finish its
# benchmark with no SMMU or CMDQV error, every QEMU's stand-in must report
# no leak, and on every host the benchmark's invalidations must have run on
# that host's HW queues (the page direct there).
#
# Environment: QAC_BUILD, QAC_TOP (set by scripts/check.py);
# QAC_MIGRATION_HOPS (default 10).
set -uo pipefail
top=${QAC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${QAC_BUILD:-$top/build}
hops=${QAC_MIGRATION_HOPS:-10}
. "$top/tests/functional/lib/tap.bash"
tap_plan 8
tap_need_guest
tap_workdir guest-cmdqv-migration

pids=()
boot() {    # boot N [options]: QEMU N on host A (even) or B (odd)
    local n=$1 host=A; shift
    [ $((n % 2)) = 1 ] && host=B
    "$top/scripts/guest/boot.sh" --iommu=accel-cmdqv --run=bench --secs=$(( hops * 8 + 10 )) \
        --smp=2 --timeout=600 --guest="$guest" --log="$con" --quiet \
        --standin-dir="$work/host$host" --dump="$work/dump$n.json" \
        --qmp="$work/qmp$n.sock" --migratable "$@" >"$work/boot$n.out" 2>&1 &
    pids[$n]=$!
}

boot 0
for _ in $(seq 1 600); do
    grep -q '^QAC: bench: driver' "$con" 2>/dev/null && break
    sleep 0.2
done
t0=$(date +%s)
last=0
for i in $(seq 1 "$hops"); do
    last=$i
    boot "$i" --incoming="unix:$work/mig$i.sock"
    /usr/bin/python3 "$top/scripts/migrate.py" "$work/qmp$((i - 1)).sock" \
        "$work/qmp$i.sock" "unix:$work/mig$i.sock" "$work/hop$i.json"
    wait "${pids[$((i - 1))]}" 2>/dev/null
    [ -s "$work/hop$i.json" ] && grep -q '"completed"' "$work/hop$i.json" || break
done
echo "# $hops hops in $(( $(date +%s) - t0 ))s"
wait "${pids[$last]}"; brc=$?
tr -d '\r' < "$con" > "$con.tmp" && mv "$con.tmp" "$con"
export work hops

py() { /usr/bin/python3 -c "$@"; }

t "every hop completed ($hops)" py '
import json, os
w, n = os.environ["work"], int(os.environ["hops"])
for i in range(1, n + 1):
    r = json.load(open("%s/hop%d.json" % (w, i)))
    assert r["status"] == "completed", (i, r)
'
t "the guest finished its benchmark on the last QEMU and powered off" \
    sh -c "[ $brc = 0 ] || { tail -n 30 '$work/boot$hops.out'; exit 1; }"
t "dma_map_benchmark ran through the IOMMU to the end (latencies printed)" \
    sh -c "grep -E '^QAC: bench: iommu_group [0-9]+ type DMA$' '$con' &&
           grep -E '^QAC: bench: average unmap latency' '$con' && grep -x 'QAC: done status=0' '$con'"
t "no SMMU or CMDQV error, warning or oops in the guest's log" \
    sh -c "! grep -iE '(arm-smmu-v3|tegra241).*(error|timeout|event 0x|unexpected|abort|service failure)|WARNING:|Oops|BUG:|Unable to handle|Internal error' '$con'"
t "after each hop the guest's 2 queues are host HW queues there, page direct" py '
import json, os
w, n = os.environ["work"], int(os.environ["hops"])
for i in range(1, n + 1):
    qs = json.load(open("%s/hop%d.json" % (w, i)))["dst"][0]["cmdqv-queues"]
    assert len(qs) == 2 and all(q["page"] == "direct" and "host-index" in q for q in qs), (i, qs)
'
t "every QEMU's host ran VCMDQ commands (the benchmark's invalidations)" py '
import json, os
w, n = os.environ["work"], int(os.environ["hops"])
for i in range(0, n + 1):
    d = json.load(open("%s/dump%d.json" % (w, i)))
    print(i, d["vcmdq_executed_total"])
    assert d["vcmdq_executed_total"] > 0, i
'
t "no leaked host-kernel object on any host, no refused destroy" py '
import json, os
w, n = os.environ["work"], int(os.environ["hops"])
for i in range(0, n + 1):
    d = json.load(open("%s/dump%d.json" % (w, i)))
    assert d.get("leaks") == [] and d.get("rejected_destroys") == [], (i, d.get("leaks"))
'
t "downtime of each hop reported (query-migrate)" py '
import json, os
w, n = os.environ["work"], int(os.environ["hops"])
d = [json.load(open("%s/hop%d.json" % (w, i)))["downtime"] for i in range(1, n + 1)]
print("downtime ms:", d)
assert all(isinstance(x, int) and x >= 0 for x in d)
'
[ "$failed" = 0 ]
