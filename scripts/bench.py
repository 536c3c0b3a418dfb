#!/usr/bin/env python3
"""make bench: the real Linux guest's dma_map_benchmark under four set-ups.

  (a) QEMU's emulated SMMUv3 (pci-testdev)      --iommu=emulated
  (b) accel SMMUv3, CMDQV off (stand-in GPU)    --iommu=accel
  (c) accel SMMUv3 with CMDQV                   --iommu=accel-cmdqv
  (d) no IOMMU (stand-in GPU)                   --iommu=none

Each is run REPS times (1 thread, granule 1, iommu.strict=1 so every unmap
invalidates); (b) and (c) with 1, 2 and 4 guest CPUs. The guest's
dma_map_benchmark is patched (scripts/guest/map-benchmark-percentiles.patch)
to report the per-call latency's p50/p90/p99 and max besides the mean, and
the number of map/unmap pairs, so the per-unmap counts are exact.

Reported (medians over the runs): map mean, unmap mean, p50 and p99; the
stand-in's invalidation ioctls and VCMDQ commands per unmap; QEMU's
device-model work per unmap (commands its trapped command queue consumed
plus trapped CMDQV page accesses) and, for the trapped path, the guest's
commands per QEMU exit (commands consumed per trapped CMDQ_PROD write),
both from query-smmuv3-accel sampled while the benchmark runs; then the
stand-in's own figures (tools/bench.c: PROD-to-CONS latency of its VCMDQ
engine, the cost of an idle allocated queue) and the issue-16 targets.
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
from migrate import migrate  # noqa: E402
MIG_REPS = int(os.environ.get("QAC_BENCH_MIG_REPS", "3"))


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
            return (info["commands-consumed"], traps, info.get("cmdq-runs", 0),
                    time.time())
        time.sleep(0.3)
        a = work()
        time.sleep(1.5)
        b = work()
        dt = b[3] - a[3]
        result["consumed_per_s"] = (b[0] - a[0]) / dt
        result["traps_per_s"] = (b[1] - a[1]) / dt
        result["runs_per_s"] = (b[2] - a[2]) / dt
        if b[2] > a[2]:
            result["cmds_per_exit"] = (b[0] - a[0]) / (b[2] - a[2])
    except Exception as e:  # the guest may have finished: no sample
        result["qmp_error"] = str(e)


def num(pattern, text):
    m = re.search(pattern, text)
    return float(m.group(1)) if m else None


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
        res = {"map": num(r"average map latency\(us\):([\d.]+)", text),
               "unmap": num(r"average unmap latency\(us\):([\d.]+)", text)}
        if r.returncode or res["map"] is None or res["unmap"] is None:
            raise RuntimeError("%s smp=%d failed (status %d): %s" %
                               (iommu, smp, r.returncode, text[-2000:]))
        pct = re.search(r"unmap latency percentiles\(us\): p50:([\d.]+) "
                        r"p90:([\d.]+) p99:([\d.]+) max:([\d.]+)", text)
        if pct:
            (res["unmap_p50"], res["unmap_p90"], res["unmap_p99"],
             res["unmap_max"]) = (float(x) for x in pct.groups())
        pairs = num(r"map/unmap pairs: (\d+)", text)
        # without the patched benchmark: estimated from the mean latencies
        unmaps = pairs or SECS * 1e6 / (res["map"] + res["unmap"])
        res["unmaps"] = unmaps
        if os.path.exists(dump):
            dd = json.load(open(dump))
            res["inv_per_unmap"] = dd.get("invalidation_ioctls", 0) / unmaps
            res["vcmdq_per_unmap"] = dd.get("vcmdq_executed_total", 0) / unmaps
        if "consumed_per_s" in sample:
            rate = unmaps / SECS
            res["handler_per_unmap"] = (sample["consumed_per_s"] +
                                        sample["traps_per_s"]) / rate
        if "cmds_per_exit" in sample:
            res["cmds_per_exit"] = sample["cmds_per_exit"]
        return res


def standin_bench():
    """The stand-in's own figures (tools/bench.c), as JSON, or {}."""
    tools = os.path.join(BUILD, "native/subprojects/standin/tools")
    exe = os.path.join(tools, "standin-bench")
    lib = os.path.join(BUILD, "native/subprojects/standin/libstandin.so")
    if not os.path.exists(exe):
        return {}
    with tempfile.TemporaryDirectory(prefix="qac-standin-bench.") as d:
        env = dict(os.environ, LD_PRELOAD=lib, STANDIN_DIR=d,
                   STANDIN_CONFIG=os.path.join(TOP, "subprojects/standin/tools/bench.conf"))
        r = subprocess.run([exe, "-j"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        print("standin-bench failed: %s" % r.stderr[-500:], file=sys.stderr)
        return {}


def migration_downtime(iommu):
    """Downtimes (ms, query-migrate) of MIG_REPS migrations of the guest
    while it runs dma_map_benchmark, one new destination each."""
    with tempfile.TemporaryDirectory(prefix="qac-bench-mig.") as d:
        con = os.path.join(d, "console.log")
        procs, res = [], []

        def boot(n, *extra):
            host = os.path.join(d, "host%s" % "AB"[n % 2])
            cmd = [os.path.join(TOP, "scripts/guest/boot.sh"), "--iommu=" + iommu,
                   "--run=bench", "--secs=%d" % (MIG_REPS * 8 + 10), "--smp=2",
                   "--log=" + con, "--quiet", "--standin-dir=" + host,
                   "--qmp=" + os.path.join(d, "q%d.sock" % n), "--migratable",
                   "--timeout=600"] + list(extra)
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        boot(0)
        for _ in range(1200):
            if os.path.exists(con) and "QAC: bench: driver" in open(con).read():
                break
            time.sleep(0.1)
        for n in range(1, MIG_REPS + 1):
            uri = "unix:" + os.path.join(d, "m%d.sock" % n)
            boot(n, "--incoming=" + uri)
            r = migrate(os.path.join(d, "q%d.sock" % (n - 1)),
                        os.path.join(d, "q%d.sock" % n), uri)
            procs[n - 1].wait()
            if r["status"] != "completed":
                break
            res.append(r["downtime"])
            print("%-22s migration %d: downtime %d ms, total %d ms" %
                  (iommu, n, r["downtime"], r["total-time"]), flush=True)
        for p in procs:
            p.wait()
        return res


def med(rs, k):
    v = [r[k] for r in rs if r.get(k) is not None]
    return statistics.median(v) if v else None


def fmt(v, f="%.2f"):
    return "n/a" if v is None else f % v


def yes(ok):
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def main():
    os.makedirs(OUT, exist_ok=True)
    setups = [("(a) emulated SMMUv3", "emulated", 1),
              ("(b) accel, CMDQV off", "accel", 1),
              ("(c) accel + CMDQV", "accel-cmdqv", 1),
              ("(d) no IOMMU", "none", 1),
              ("(b) accel, CMDQV off", "accel", 2),
              ("(c) accel + CMDQV", "accel-cmdqv", 2),
              ("(b) accel, CMDQV off", "accel", 4),
              ("(c) accel + CMDQV", "accel-cmdqv", 4)]
    rows = []
    for name, iommu, smp in setups:
        rs = []
        for i in range(REPS):
            rs.append(run(iommu, smp))
            print("%-22s %d CPU%s run %d: map %.2f us, unmap %.2f us (p50 %s, p99 %s)" %
                  (name, smp, "s" if smp > 1 else " ", i + 1, rs[-1]["map"],
                   rs[-1]["unmap"], fmt(rs[-1].get("unmap_p50")),
                   fmt(rs[-1].get("unmap_p99"))), flush=True)
        rows.append((name, iommu, smp, rs))
    sb = standin_bench()
    mig = [("(b) accel, CMDQV off", migration_downtime("accel")),
           ("(c) accel + CMDQV", migration_downtime("accel-cmdqv"))]

    md = ["# dma_map_benchmark on the real Linux guest (TCG, stand-in host)", "",
          "%d runs each, %d s, 1 benchmark thread, granule 1, iommu.strict=1; "
          "medians over the runs. Latencies in us: the benchmark's mean and the "
          "per-call p50/p99 (a histogram in the guest kernel). Per-unmap counts "
          "use the benchmark's own count of map/unmap pairs. Guest cmds / exit: "
          "commands QEMU consumed per trapped CMDQ_PROD write." % (REPS, SECS), "",
          "| set-up | guest CPUs | map mean | unmap mean | unmap p50 | unmap p99 "
          "| invalidation ioctls / unmap | VCMDQ commands / unmap "
          "| QEMU handler calls / unmap | guest cmds / exit |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for name, iommu, smp, rs in rows:
        md.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, smp, fmt(med(rs, "map")), fmt(med(rs, "unmap")),
            fmt(med(rs, "unmap_p50")), fmt(med(rs, "unmap_p99")),
            fmt(med(rs, "inv_per_unmap")), fmt(med(rs, "vcmdq_per_unmap")),
            fmt(med(rs, "handler_per_unmap")),
            fmt(med(rs, "cmds_per_exit")) if iommu == "accel" else "-"))

    def get(iommu, smp):
        return next((r[3] for r in rows if r[1] == iommu and r[2] == smp), [])

    a = get("emulated", 1)
    md += ["", "## The stand-in's VCMDQ engine (tools/bench.c)", ""]
    if sb:
        md += ["| figure | value |", "|---|---|",
               "| PROD write -> CONS update, median | %s us |" % fmt(sb.get("prod_to_cons_us_median"), "%.1f"),
               "| PROD write -> CONS update, p99 | %s us |" % fmt(sb.get("prod_to_cons_us_p99"), "%.1f"),
               "| PROD write -> CONS update, max | %s us |" % fmt(sb.get("prod_to_cons_us_max"), "%.1f"),
               "| the same after 20 ms idle, median | %s us |" % fmt(sb.get("after_idle_us_median"), "%.1f"),
               "| one idle allocated queue (3 VINTFs, 6 queues mapped) | %s %% of a core |" % fmt(sb.get("idle_queue_core_pct"), "%.3f"),
               "| VCMDQ throughput, one queue | %s commands/s |" % fmt(sb.get("vcmdq_one_queue_cmds_per_s"), "%.0f")]
    else:
        md += ["standin-bench did not run."]

    md += ["", "## Live migration downtime (query-migrate)", "",
           "The guest migrated %d times while it runs the benchmark (2 CPUs), "
           "each to a new QEMU on the other stand-in host, over a UNIX socket."
           % MIG_REPS, "", "| set-up | downtime median (ms) | each (ms) |",
           "|---|---|---|"]
    for name, ds in mig:
        md.append("| %s | %s | %s |" % (
            name, fmt(statistics.median(ds) if ds else None, "%.0f"),
            ", ".join(str(x) for x in ds) or "failed"))
    md += ["", "## Targets (issue 16)", "", "| target | figures | met |", "|---|---|---|"]
    for smp in (1, 2, 4):
        for k, what in (("unmap_p50", "p50"), ("unmap", "mean")):
            b, c = med(get("accel", smp), k), med(get("accel-cmdqv", smp), k)
            md.append("| (c) unmap %s <= (b), %d CPU%s | %s vs %s | %s |" % (
                what, smp, "s" if smp > 1 else "", fmt(c), fmt(b),
                yes(None if b is None or c is None else c <= b)))
    for k, what in (("unmap_p50", "p50"), ("unmap", "mean")):
        av, c = med(a, k), med(get("accel-cmdqv", 1), k)
        md.append("| (c) unmap %s <= 1.5 x (a), 1 CPU | %s vs %s | %s |" % (
            what, fmt(c), fmt(None if av is None else 1.5 * av),
            yes(None if av is None or c is None else c <= 1.5 * av)))
    p99 = sb.get("prod_to_cons_us_p99")
    idle = sb.get("idle_queue_core_pct")
    md.append("| engine PROD->CONS p99 < 100 us | %s us | %s |" %
              (fmt(p99, "%.1f"), yes(None if p99 is None else p99 < 100)))
    md.append("| idle allocated queue < 1%% of a core | %s %% | %s |" %
              (fmt(idle, "%.3f"), yes(None if idle is None or idle < 0 else idle < 1)))

    open(os.path.join(OUT, "bench.md"), "w").write("\n".join(md) + "\n")
    with open(os.path.join(OUT, "bench.dat"), "w") as fh:
        for name, iommu, smp, rs in rows:
            label = "%s, %d CPU%s" % (name.split(")")[0] + ")", smp, "s" if smp > 1 else "")
            fh.write('"%s" %f %f %f %f\n' % (
                label, med(rs, "map"), med(rs, "unmap"),
                med(rs, "unmap_p50") or med(rs, "unmap"),
                med(rs, "unmap_p99") or med(rs, "unmap")))
    gp = ("set terminal pngcairo size 1100,520 noenhanced; set output '%s';"
          "set style data histograms; set style histogram clustered gap 1;"
          "set style fill solid 0.8 border -1; set logscale y; set yrange [0.5:*];"
          "set ylabel 'latency (us, median of runs, log scale)'; set xtics rotate by -25;"
          "set key top left;"
          "set title 'dma_map_benchmark: (a) emulated, (b) accel trapped, (c) accel + CMDQV, "
          "(d) no IOMMU (real guest, TCG, stand-in host)';"
          "plot '%s' using 2:xtic(1) title 'map mean', '' using 3 title 'unmap mean', "
          "'' using 4 title 'unmap p50', '' using 5 title 'unmap p99'" %
          (os.path.join(OUT, "bench.png"), os.path.join(OUT, "bench.dat")))
    try:
        subprocess.run(["gnuplot", "-e", gp], check=False)
    except FileNotFoundError:
        print("gnuplot not found (scripts/deps.sh bench installs it): no chart",
              file=sys.stderr)
    print("\n".join(md))
    print("\nwritten: %s, %s" % (os.path.join(OUT, "bench.md"),
                                 os.path.join(OUT, "bench.png")))


main()
