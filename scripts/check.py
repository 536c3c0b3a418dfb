#!/usr/bin/env python3
"""Run every test of the project and print one summary line.

Test programs speak TAP (GLib's --tap); each test case counts once:
  - the standalone tests meson knows in build/native (stand-in, unit tests);
  - the project's qtests (tests/qtest/qac-tests.txt) and QEMU's own qtests that
    touch what the project changes, against build/qemu-build;
  - shell-level tests in tests/functional/*.sh (TAP on stdout).
Ends with 'N passed, N failed[, N skipped]' and exits non-zero on any failure.

With --asan (make check-asan): the project's qtests, the CMDQV guest test and
a short guest soak against the ASan + UBSan build in build/qemu-asan; every
sanitizer report (QEMU's or a test program's, written under
build/test-logs/asan/) counts as a failure.
"""
import glob, json, os, re, shutil, subprocess, sys, time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD_DIR", os.path.join(TOP, "build"))
ASAN = "--asan" in sys.argv[1:]
QBUILD = os.environ.get("QEMU_BUILD", os.path.join(BUILD, "qemu-asan" if ASAN else "qemu-build"))
NATIVE = os.path.join(BUILD, "native")
LOGDIR = os.path.join(BUILD, "test-logs")
SANDIR = os.path.join(LOGDIR, "asan")
# The sanitizer build runs the guest test with the most moving parts, and
# a short guest soak (reboots, SIGTERM mid-benchmark) for LeakSanitizer.
ASAN_FUNCTIONAL = {"guest-cmdqv.sh": {}, "guest-soak.sh": {"QAC_SOAK_BOOTS": "6"}}
# QEMU's own qtests that touch what the project changes. qom-test and
# test-hmp walk every machine; Debian's +ds source lacks the boot ROMs of
# some boards, so they run on the machines this project changes (virt*).
QEMU_OWN_QTESTS = [("qom-test", r"/virt(-[0-9.]+)?$"),
                   ("device-introspect-test", None),
                   ("test-hmp", r"/virt(-[0-9.]+)?$")]
ONLY = [a for a in sys.argv[1:] if a != "--asan"]  # optional name filters
# The oldest host kernel the stand-in models (subprojects/standin/INTERFACE.md)
# and the qtests that run on it too.
OLDEST_KERNEL = "6.17"
OLDEST_KERNEL_QTESTS = ("smmuv3-accel-test", "tegra241-cmdqv-test")

totals = {"passed": 0, "failed": 0, "skipped": 0}
failures = []


def parse_tap(text):
    p = f = s = 0
    names = []
    for line in text.splitlines():
        m = re.match(r"^(not ok|ok)\b\s*\d*\s*-?\s*(.*)$", line.strip())
        if not m:
            continue
        desc = m.group(2)
        if re.search(r"#\s*(SKIP|skip)", desc):
            s += 1
        elif m.group(1) == "ok":
            p += 1
        elif re.search(r"#\s*TODO", desc):
            s += 1
        else:
            f += 1
            names.append(desc)
    return p, f, s, names


def run(name, cmd, env=None, cwd=None, timeout=900):
    if ONLY and not any(o in name for o in ONLY):
        return
    os.makedirs(LOGDIR, exist_ok=True)
    log = os.path.join(LOGDIR, re.sub(r"[^\w.-]", "_", name) + ".log")
    # QAC_TEST_TIMEOUT (seconds): for long runs such as make fuzz
    timeout = int(os.environ.get("QAC_TEST_TIMEOUT", timeout))
    full_env = dict(os.environ)
    full_env.update(sanitizer_env())
    full_env.update(env or {})
    if ASAN:
        timeout *= 4
    t0 = time.time()
    try:
        r = subprocess.run(cmd, env=full_env, cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        out, rc = r.stdout.decode(errors="replace"), r.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") + "\n# TIMEOUT\n"
        rc = -1
    with open(log, "w") as fh:
        fh.write(out)
    p, f, s, names = parse_tap(out)
    if rc != 0 and f == 0:
        # A crash or an exit status the TAP stream does not explain.
        f += 1
        names.append("%s exited with status %d" % (name, rc))
    if p + f + s == 0:
        f += 1
        names.append("%s ran no test" % name)
    totals["passed"] += p
    totals["failed"] += f
    totals["skipped"] += s
    for n in names:
        failures.append("%s: %s (log: %s)" % (name, n, os.path.relpath(log, TOP)))
    print("%-40s %4d passed %3d failed %3d skipped  %5.1fs" %
          (name, p, f, s, time.time() - t0), flush=True)
    if f:
        tail = out.strip().splitlines()[-15:]
        print("\n".join("    | " + l for l in tail), flush=True)


def sanitizer_env():
    """Sanitizer options for every process of the run (QEMU and tests)."""
    if not ASAN:
        return {}
    libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"],
                             stdout=subprocess.PIPE).stdout.decode().strip()
    common = "log_path=%s/report:print_stacktrace=1" % SANDIR
    return {
        "ASAN_OPTIONS": common + ":detect_leaks=1:halt_on_error=1"
                        ":detect_stack_use_after_return=0",
        "LSAN_OPTIONS": "suppressions=%s" % os.path.join(TOP, "scripts", "lsan.supp"),
        "UBSAN_OPTIONS": common + ":halt_on_error=1",
        # ASan's runtime must be the first object loaded (before the stand-in)
        "QAC_PRELOAD_FIRST": os.path.realpath(libasan),
        "QAC_QEMU": os.path.join(QBUILD, "qemu-system-aarch64"),
        # memory figures measure the sanitizer's quarantine, not QEMU
        "QAC_SANITIZED": "1",
    }


def sanitizer_reports():
    """Each report file is one failure, its head printed."""
    for f in sorted(glob.glob(os.path.join(SANDIR, "report*"))):
        text = open(f, errors="replace").read()
        # ASan's note on QEMU's coroutines (makecontext/swapcontext) is a
        # warning, not a finding: only errors and UBSan reports count.
        if not re.search(r"ERROR: \w+Sanitizer|runtime error:|SUMMARY: ", text):
            continue
        totals["failed"] += 1
        failures.append("sanitizer report %s" % os.path.relpath(f, TOP))
        print("sanitizer report %s:" % os.path.relpath(f, TOP))
        print("\n".join("    | " + l for l in text.strip().splitlines()[:40]))


def native_tests():
    path = os.path.join(NATIVE, "meson-info", "intro-tests.json")
    if not os.path.exists(path):
        return
    with open(path) as fh:
        tests = json.load(fh)
    for t in tests:
        env = t.get("env") or {}
        run("native/" + t["name"], t["cmd"], env=env, cwd=t.get("workdir") or NATIVE,
            timeout=int(t.get("timeout") or 300) * 2)


def qtests():
    qemu = os.path.join(QBUILD, "qemu-system-aarch64")
    ours = []
    lst = os.path.join(TOP, "tests", "qtest", "qac-tests.txt")
    if os.path.exists(lst):
        ours = [l.strip() for l in open(lst) if l.strip() and not l.startswith("#")]
    env = {
        "QTEST_QEMU_BINARY": qemu,
        "QTEST_QEMU_STORAGE_DAEMON_BINARY": "/bin/false",
        "QAC_STANDIN_LIB": os.path.join(NATIVE, "subprojects", "standin", "libstandin.so"),
        "QAC_STANDIN_CTL": os.path.join(NATIVE, "subprojects", "standin", "tools", "standin-ctl"),
        "QAC_TOP": TOP,
        "G_TEST_DBUS_DAEMON": "/bin/true",
        "MALLOC_PERTURB_": "42",
    }
    for t, only in [(t, None) for t in ours] + ([] if ASAN else QEMU_OWN_QTESTS):
        args = []
        exe = os.path.join(QBUILD, "tests", "qtest", t)
        if ONLY and not any(o in "qtest/" + t for o in ONLY):
            continue
        if not os.path.exists(exe):
            totals["failed"] += 1
            failures.append("qtest/%s: not built (%s)" % (t, exe))
            print("%-40s missing" % ("qtest/" + t), flush=True)
            continue
        if only:
            listing = subprocess.run([exe, "-l"], env=dict(os.environ, **env),
                                     stdout=subprocess.PIPE).stdout.decode()
            for path in listing.split():
                if re.search(only, path):
                    args += ["-p", path]
        run("qtest/" + t, [os.path.join(QBUILD, "tests", "qtest", t), "--tap", "-k"] + args,
            env=env, cwd=QBUILD)
        if t in OLDEST_KERNEL_QTESTS:
            # The stand-in defaults to the newest kernel model; the accel
            # SMMU and CMDQV qtests run on the oldest one as well.
            run("qtest/%s@kernel-%s" % (t, OLDEST_KERNEL),
                [exe, "--tap", "-k"] + args,
                env=dict(env, QAC_STANDIN_KERNEL=OLDEST_KERNEL), cwd=QBUILD)


def functional():
    d = os.path.join(TOP, "tests", "functional")
    if not os.path.isdir(d):
        return
    for f in sorted(os.listdir(d)):
        if f.endswith(".sh") and (not ASAN or f in ASAN_FUNCTIONAL):
            env = {"QAC_BUILD": BUILD, "QAC_TOP": TOP}
            env.update(ASAN_FUNCTIONAL.get(f, {}) if ASAN else {})
            run("functional/" + f[:-3], ["bash", os.path.join(d, f)],
                env=env, cwd=TOP, timeout=1800)


if ASAN:
    shutil.rmtree(SANDIR, ignore_errors=True)
    os.makedirs(SANDIR)
else:
    native_tests()
qtests()
functional()
if ASAN:
    sanitizer_reports()
if failures:
    print("\nFailures:")
    for f in failures:
        print("  " + f)
line = "%d passed, %d failed" % (totals["passed"], totals["failed"])
if totals["skipped"]:
    line += ", %d skipped" % totals["skipped"]
print(line)
sys.exit(1 if totals["failed"] else 0)
