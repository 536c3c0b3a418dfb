#!/usr/bin/env python3
"""Migrate a running QEMU to a waiting one (-incoming) over QMP.

  migrate.py SRC_QMP_SOCKET DST_QMP_SOCKET URI [OUT.json]

Turns the return-path capability on at both ends (so that a failure on the
destination reaches the source), migrates, waits for the end, and once the
destination runs, records its query-smmuv3-accel and quits the source.
Prints one line and writes {"status", "downtime", "total-time", "dst"} to
OUT.json. Used by tests/functional/guest-cmdqv-migration.sh and make bench.
"""
import json, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import QMP  # noqa: E402


def migrate(src_sock, dst_sock, uri, settle=0.5):
    for _ in range(600):
        if os.path.exists(dst_sock):
            break
        time.sleep(0.05)
    src, dst = QMP(src_sock, timeout=30), QMP(dst_sock, timeout=30)
    cap = {"capabilities": [{"capability": "return-path", "state": True}]}
    src.cmd("migrate-set-capabilities", cap)
    dst.cmd("migrate-set-capabilities", cap)
    src.cmd("migrate", {"uri": uri})
    info = {}
    for _ in range(6000):
        info = src.cmd("query-migrate")
        if info.get("status") in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.02)
    res = {"status": info.get("status"), "downtime": info.get("downtime"),
           "total-time": info.get("total-time")}
    if res["status"] == "completed":
        for _ in range(500):
            if dst.cmd("query-status").get("running"):
                break
            time.sleep(0.02)
        time.sleep(settle)          # the guest goes on there for a while
        res["dst"] = dst.cmd("query-smmuv3-accel")
        src.cmd("quit")
    return res


if __name__ == "__main__":
    res = migrate(*sys.argv[1:4])
    if len(sys.argv) > 4:
        json.dump(res, open(sys.argv[4], "w"))
    print("# migrated to %s: %s, downtime %s ms, total %s ms" % (
          sys.argv[3], res["status"], res["downtime"], res["total-time"]))
    sys.exit(0 if res["status"] == "completed" else 1)
