#!/usr/bin/env python3
"""Minimal QMP client: qmp.py SOCKET COMMAND [JSON-ARGS] ...

Each COMMAND (with optional JSON arguments after it) is executed in turn and
its 'return' printed as JSON, one per line. Used by scripts/run.sh and the
shell-level tests.
"""
import json, socket, sys, time


class QMP:
    def __init__(self, path, timeout=30):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.f = self.sock.makefile("rw")
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError("QMP connection closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def cmd(self, name, args=None):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.f.write(json.dumps(req) + "\n")
        self.f.flush()
        resp = self._read()
        if "error" in resp:
            raise RuntimeError("%s: %s" % (name, resp["error"]["desc"]))
        return resp["return"]


if __name__ == "__main__":
    q = QMP(sys.argv[1])
    argv = sys.argv[2:]
    i = 0
    while i < len(argv):
        name, args = argv[i], None
        if i + 1 < len(argv) and argv[i + 1].startswith("{"):
            args = json.loads(argv[i + 1])
            i += 1
        print(json.dumps(q.cmd(name, args)))
        i += 1
