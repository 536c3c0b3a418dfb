#!/usr/bin/env python3
"""Run every test of the project and print one summary line.

Test programs speak TAP (GLib's --tap); each test case counts once:
  - the standalone tests meson knows in build/native (stand-in, unit tests);
  - the project's qtests (tests/qtest/qac-tests.txt) and QEMU's own qtests that
    touch what the project changes, against build/qemu-build;
  - shell-level tests in tests/functional/*.sh (TAP on stdout).
Ends with 'N passed, N failed[, N skipped]' and exits non-zero on any failure.
"""
import json, os, re, subprocess, sys, time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD_DIR", os.path.join(TOP, "build"))
QBUILD = os.environ.get("QEMU_BUILD", os.path.join(BUILD, "qemu-build"))
NATIVE = os.path.join(BUILD, "native")
LOGDIR = os.path.join(BUILD, "test-logs")
# QEMU's own qtests that touch what the project changes. qom-test and
# test-hmp walk every machine; Debian's +ds source lacks the boot ROMs of
# some boards, so they run on the machines this project changes (virt*).
QEMU_OWN_QTESTS = [("qom-test", r"/virt(-[0-9.]+)?$"),
                   ("device-introspect-test", None),
                   ("test-hmp", r"/virt(-[0-9.]+)?$")]
ONLY = sys.argv[1:]  # optional name filters

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
    full_env.update(env or {})
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
    for t, only in [(t, None) for t in ours] + QEMU_OWN_QTESTS:
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


def functional():
    d = os.path.join(TOP, "tests", "functional")
    if not os.path.isdir(d):
        return
    for f in sorted(os.listdir(d)):
        if f.endswith(".sh"):
            run("functional/" + f[:-3], ["bash", os.path.join(d, f)],
                env={"QAC_BUILD": BUILD, "QAC_TOP": TOP}, cwd=TOP, timeout=1800)


native_tests()
qtests()
functional()
if failures:
    print("\nFailures:")
    for f in failures:
        print("  " + f)
line = "%d passed, %d failed" % (totals["passed"], totals["failed"])
if totals["skipped"]:
    line += ", %d skipped" % totals["skipped"]
print(line)
sys.exit(1 if totals["failed"] else 0)
