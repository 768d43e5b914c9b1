#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""API-driven ember runs for tests/seccomp/run.sh (Python 3, standard library).

Usage: api_flow.py FLOW EMBER TMPDIR GUEST [EXPECTED_STATUS]

Starts EMBER --api-sock TMPDIR/<flow>.sock (stdin /dev/null, stdout and
stderr to TMPDIR/<flow>.out, .err), drives it through FLOW, waits (at most
30 s) for it to exit and checks its exit status (default 0):
  start     boot GUEST (apiguest.elf) with 2 vCPUs, then nothing more: for
            EMBER_SECCOMP_TEST_VIOLATE=vmm, whose VMM filter goes on at
            InstanceStart (expect 148);
  threads   boot GUEST with 2 vCPUs, print the Seccomp: mode of every thread
            (/proc/PID/task/*/status) as "seccomp <comm> <mode>", then
            SendCtrlAltDel;
  workload  logger and metrics on FIFOs (read by this script), a drive,
            2 vCPUs, InstanceStart, Paused/Resumed three times, FlushMetrics,
            PATCH /drives (a new backing file), GET /vm/config, then
            SendCtrlAltDel.
Prints "ok <flow>" or "FAIL <flow>: <why>"; exits 1 on failure.
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def fail(flow, why):
    print("FAIL %s: %s" % (flow, why))
    sys.exit(1)


def drain(path):
    """Read a FIFO until every writer is gone (a thread, so ember never blocks)."""
    def run():
        with open(path, "rb") as f:
            while f.read(65536):
                pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def main():
    flow, ember, tmp, guest = sys.argv[1:5]
    want = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    sock = os.path.join(tmp, flow + ".sock")
    out = open(os.path.join(tmp, flow + ".out"), "wb")
    err_path = os.path.join(tmp, flow + ".err")
    err = open(err_path, "wb")
    proc = subprocess.Popen([ember, "--api-sock", sock], stdin=subprocess.DEVNULL,
                            stdout=out, stderr=err, start_new_session=True)

    def stderr():
        with open(err_path, "rb") as f:
            return f.read().decode("utf-8", "replace").strip().replace("\n", " | ")[-400:]

    conn = None

    def req(method, path, body=None, ok=(200, 204), may_die=False):
        nonlocal conn
        for _ in range(2):
            try:
                if conn is None:
                    conn = UnixHTTP(sock)
                conn.request(method, path, body=json.dumps(body) if body is not None else None,
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
                if r.status not in ok:
                    fail(flow, "%s %s: %d %r" % (method, path, r.status, data[:200]))
                return data
            except (OSError, http.client.HTTPException) as e:
                conn = None
                last = e
                if may_die and proc.wait(timeout=10) is not None:
                    return None
                if proc.poll() is not None:
                    break
        fail(flow, "%s %s: %s (ember: status %s, stderr: %s)" % (method, path, last,
                                                                  proc.poll(), stderr()))

    try:
        deadline = time.time() + 10
        while not os.path.exists(sock):
            if proc.poll() is not None or time.time() > deadline:
                fail(flow, "no API socket (status %s, stderr: %s)" % (proc.poll(), stderr()))
            time.sleep(0.02)
        time.sleep(0.05)
        if flow == "workload":
            for name in ("log.fifo", "metrics.fifo"):
                p = os.path.join(tmp, name)
                os.mkfifo(p, 0o600)
                drain(p)
            req("PUT", "/logger", {"log_path": os.path.join(tmp, "log.fifo"), "level": "Debug"})
            req("PUT", "/metrics", {"metrics_path": os.path.join(tmp, "metrics.fifo")})
            for name in ("d1.img", "d2.img"):
                with open(os.path.join(tmp, name), "wb") as f:
                    f.truncate(1 << 20)
            req("PUT", "/drives/d1", {"drive_id": "d1", "path_on_host": os.path.join(tmp, "d1.img"),
                                      "is_root_device": False, "is_read_only": False})
        req("PUT", "/boot-source", {"kernel_image_path": guest,
                                    "boot_args": "loops=100000000 tick=0"})
        req("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 64})
        # The start flow's ember dies (148) while it answers.
        req("PUT", "/actions", {"action_type": "InstanceStart"}, may_die=flow == "start")
        if flow == "threads":
            time.sleep(0.3)
            for t in sorted(os.listdir("/proc/%d/task" % proc.pid)):
                try:
                    with open("/proc/%d/task/%s/comm" % (proc.pid, t)) as f:
                        comm = f.read().strip()
                    with open("/proc/%d/task/%s/status" % (proc.pid, t)) as f:
                        mode = [l.split()[1] for l in f if l.startswith("Seccomp:")][0]
                except OSError:
                    continue
                if comm.startswith("kvm-"):
                    continue  # KVM's kernel worker, listed with the process
                print("seccomp %s %s" % (comm, mode))
        if flow == "workload":
            for _ in range(3):
                req("PATCH", "/vm", {"state": "Paused"})
                req("PATCH", "/vm", {"state": "Resumed"})
            req("PUT", "/actions", {"action_type": "FlushMetrics"})
            req("PATCH", "/drives/d1", {"drive_id": "d1",
                                        "path_on_host": os.path.join(tmp, "d2.img")})
            req("GET", "/vm/config")
            req("GET", "/machine-config")
        if flow in ("threads", "workload"):
            req("PUT", "/actions", {"action_type": "SendCtrlAltDel"})
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            fail(flow, "ember still running after 30 s")
        if rc != want:
            fail(flow, "exit status %d, want %d (stderr: %s)" % (rc, want, stderr()))
        print("ok %s" % flow)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if os.path.exists(sock):
            os.unlink(sock)


if __name__ == "__main__":
    main()
