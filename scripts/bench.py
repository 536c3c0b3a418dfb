#!/usr/bin/env python3
"""make bench: the real Linux guest's dma_map_benchmark under four set-ups.

  (a) QEMU's emulated SMMUv3 (pci-testdev)      --iommu=emulated
  (b) accel SMMUv3, CMDQV off (stand-in GPU)    --iommu=accel
  (c) accel SMMUv3 with CMDQV                   --iommu=accel-cmdqv
  (d) no IOMMU (stand-in GPU)                   --iommu=none

Each is run REPS times (1 thread, granule 1, iommu.strict=1 so every unmap
invalidates); (c) also with 1, 2 and 4 guest CPUs. Reported: median map and
unmap latency, the stand-in's invalidation ioctls per unmap, QEMU's
device-model work per unmap (commands its trapped command queue consumed
plus trapped CMDQV page accesses, from query-smmuv3-accel sampled while the
benchmark runs), and (c)/(b). Unmap counts are estimated from the measured
latencies (the benchmark prints averages only): secs * 1e6 / (map + unmap).
Writes build/bench/bench.md and build/bench/bench.png (gnuplot).
"""
import json, os, re, statistics, subprocess, sys, tempfile, threading, time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD_DIR", os.path.join(TOP, "build"))
OUT = os.path.join(BUILD, "bench")
REPS = int(os.environ.get("QAC_BENCH_REPS", "3"))
SECS = int(os.environ.get("QAC_BENCH_SECS", "3"))
sys.path.insert(0, os.path.join(TOP, "scripts"))
from qmp import QMP  # noqa: E402


def sample_accel(sock, console, result):
    """Sample query-smmuv3-accel at the benchmark's start and 1.5 s later."""
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if "QAC: bench: iommu_group" in open(console).read():
                break
        except OSError:
            pass
        time.sleep(0.05)
    else:
        return
    try:
        q = QMP(sock, timeout=5)
        def work():
            info = q.cmd("query-smmuv3-accel")[0]
            traps = sum(v.get("traps", 0) for v in info.get("cmdqv-queues", []))
            return info["commands-consumed"], traps, time.time()
        time.sleep(0.3)
        a = work()
        time.sleep(1.5)
        b = work()
        result["consumed_per_s"] = (b[0] - a[0]) / (b[2] - a[2])
        result["traps_per_s"] = (b[1] - a[1]) / (b[2] - a[2])
    except Exception as e:  # the guest may have finished: no sample
        result["qmp_error"] = str(e)


def run(iommu, smp=1):
    with tempfile.TemporaryDirectory(prefix="qac-bench.") as d:
        con, dump, sock = (os.path.join(d, n) for n in
                           ("console.log", "dump.json", "qmp.sock"))
        cmd = [os.path.join(TOP, "scripts/guest/boot.sh"), "--iommu=" + iommu,
               "--run=bench", "--secs=%d" % SECS, "--smp=%d" % smp,
               "--log=" + con, "--quiet", "--dump=" + dump, "--qmp=" + sock,
               "--timeout=300"]
        sample = {}
        th = None
        if iommu.startswith("accel"):
            th = threading.Thread(target=sample_accel, args=(sock, con, sample))
            th.start()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if th:
            th.join()
        text = open(con).read()
        m = re.search(r"average map latency\(us\):([\d.]+)", text)
        u = re.search(r"average unmap latency\(us\):([\d.]+)", text)
        if r.returncode or not m or not u:
            raise RuntimeError("%s smp=%d failed (status %d): %s" %
                               (iommu, smp, r.returncode, text[-2000:]))
        res = {"map": float(m.group(1)), "unmap": float(u.group(1))}
        unmaps = SECS * 1e6 / (res["map"] + res["unmap"])
        if os.path.exists(dump):
            dd = json.load(open(dump))
            res["inv_per_unmap"] = dd.get("invalidation_ioctls", 0) / unmaps
            res["vcmdq_per_unmap"] = dd.get("vcmdq_executed_total", 0) / unmaps
        if "consumed_per_s" in sample:
            rate = 1e6 / (res["map"] + res["unmap"])
            res["handler_per_unmap"] = (sample["consumed_per_s"] +
                                        sample["traps_per_s"]) / rate
        return res


def med(rs, k):
    v = [r[k] for r in rs if k in r]
    return statistics.median(v) if v else None


def fmt(v, f="%.2f"):
    return "n/a" if v is None else f % v


def main():
    os.makedirs(OUT, exist_ok=True)
    setups = [("(a) emulated SMMUv3", "emulated", 1), ("(b) accel, CMDQV off", "accel", 1),
              ("(c) accel + CMDQV", "accel-cmdqv", 1), ("(d) no IOMMU", "none", 1),
              ("(c) accel + CMDQV, 2 CPUs", "accel-cmdqv", 2),
              ("(c) accel + CMDQV, 4 CPUs", "accel-cmdqv", 4)]
    rows = []
    for name, iommu, smp in setups:
        rs = []
        for i in range(REPS):
            rs.append(run(iommu, smp))
            print("%-28s run %d: map %.2f us, unmap %.2f us" %
                  (name, i + 1, rs[-1]["map"], rs[-1]["unmap"]), flush=True)
        rows.append((name, iommu, smp, rs))
    md = ["# dma_map_benchmark on the real Linux guest (TCG, stand-in host)", "",
          "%d runs each, %d s, 1 benchmark thread, granule 1, iommu.strict=1; "
          "medians. Unmap counts estimated from the latencies." % (REPS, SECS), "",
          "| set-up | guest CPUs | map (us) | unmap (us) | invalidation ioctls / unmap "
          "| VCMDQ commands / unmap | QEMU handler calls / unmap |",
          "|---|---|---|---|---|---|---|"]
    for name, iommu, smp, rs in rows:
        md.append("| %s | %d | %s | %s | %s | %s | %s |" % (
            name, smp, fmt(med(rs, "map")), fmt(med(rs, "unmap")),
            fmt(med(rs, "inv_per_unmap")), fmt(med(rs, "vcmdq_per_unmap")),
            fmt(med(rs, "handler_per_unmap"))))
    b = next(r for r in rows if r[1] == "accel" and r[2] == 1)[3]
    c = next(r for r in rows if r[1] == "accel-cmdqv" and r[2] == 1)[3]
    md += ["", "(c)/(b): map %s, unmap %s" % (
        fmt(med(c, "map") / med(b, "map")), fmt(med(c, "unmap") / med(b, "unmap")))]
    open(os.path.join(OUT, "bench.md"), "w").write("\n".join(md) + "\n")
    with open(os.path.join(OUT, "bench.dat"), "w") as fh:
        for name, iommu, smp, rs in rows:
            fh.write('"%s" %f %f\n' % (name.replace("accel + CMDQV", "CMDQV"),
                                        med(rs, "map"), med(rs, "unmap")))
    gp = ("set terminal pngcairo size 1000,500 noenhanced; set output '%s';"
          "set style data histograms; set style fill solid 0.8 border -1;"
          "set ylabel 'latency (us, median)'; set xtics rotate by -20;"
          "set title 'dma_map_benchmark: map and unmap latency (real guest, TCG, stand-in host)';"
          "plot '%s' using 2:xtic(1) title 'map', '' using 3 title 'unmap'" %
          (os.path.join(OUT, "bench.png"), os.path.join(OUT, "bench.dat")))
    subprocess.run(["gnuplot", "-e", gp], check=False)
    print("\n".join(md))
    print("\nwritten: %s, %s" % (os.path.join(OUT, "bench.md"),
                                 os.path.join(OUT, "bench.png")))


main()
