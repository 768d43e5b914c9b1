#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Firecracker's API on ember, end to end: python3 tests/api/test_api.py BUILD [NAME...]

Starts build/ember (EMBER=path overrides) with an API socket in a temporary
directory for every case, talks to it with http.client over AF_UNIX (and raw
sockets for the hostile cases) and checks statuses, bodies and
fault_messages against Firecracker's semantics. Post-boot cases boot
BUILD/tests/api/apiguest.elf on /dev/kvm: it keeps running (ticking on the
serial console) until SendCtrlAltDel or its loop count ends.

Prints "ok <case>" or "FAIL <case>: <why>" per case, then "N passed, N
failed"; exits 1 if any case failed. Standard library only.
"""

import fcntl
import hashlib
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import traceback

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
ONLY = set(sys.argv[2:])
EMBER = os.path.abspath(os.environ.get("EMBER", os.path.join(BUILD, "ember")))
GUEST = os.path.abspath(os.path.join(BUILD, "tests", "api", "apiguest.elf"))
UFFD_HANDLER = os.path.abspath(os.path.join(BUILD, "uffd-handler"))
JAILER = os.path.abspath(os.path.join(BUILD, "ember-jailer"))
# What a jail executes: an ELF (test-seccomp's EMBER is a strace wrapper script;
# it names the binary it wraps here).
EMBER_ELF = os.path.abspath(os.environ.get("EMBER_ELF", EMBER))
BLKFLOOD = os.path.abspath(os.path.join(BUILD, "tests", "guests", "blkflood.elf"))
NETFLOOD = os.path.abspath(os.path.join(BUILD, "tests", "guests", "netflood.elf"))
NOT_AFTER = "The requested operation is not supported after starting the microVM."
NOT_BEFORE = "The requested operation is not supported before starting the microVM."
SERDE = "An error occurred when deserializing the json body of a request"
TIMEOUT = 10          # seconds for any one socket operation or wait


class Fail(Exception):
    pass


def md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def check(cond, why):
    if not cond:
        raise Fail(why)


def wait_for(pred, what, timeout=TIMEOUT):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise Fail("timed out waiting for " + what)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=TIMEOUT):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = unix_connect(self.unix_path, self.timeout)


def unix_connect(path, timeout=TIMEOUT):
    """Connect, retrying while the listen backlog is full (EAGAIN on AF_UNIX)."""
    end = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.01)


class Resp:
    def __init__(self, status, body, headers):
        self.status = status
        self.raw = body
        self.headers = headers
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def fault(self):
        return self.json.get("fault_message", "") if isinstance(self.json, dict) else ""

    def __repr__(self):
        return "%d %r" % (self.status, self.raw[:300])


class Ember:
    """One ember process with its API socket, stdout and stderr files."""

    def __init__(self, tmp, args=(), api=True, name="ember", stdout=None):
        """stdout: a file descriptor for ember's standard output (default a file)."""
        self.tmp = tmp
        self.sock = os.path.join(tmp, name + ".sock")
        self.out_path = os.path.join(tmp, name + ".out")
        self.err_path = os.path.join(tmp, name + ".err")
        argv = [EMBER] + (["--api-sock", self.sock] if api else []) + list(args)
        self.out = open(self.out_path, "wb")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.out if stdout is None else stdout,
                                     stderr=self.err, start_new_session=True)
        if api:
            # The socket file appears at bind(), a moment before listen():
            # wait until it accepts connections.
            wait_for(lambda: self._accepts() or self.proc.poll() is not None,
                     "the API socket")
            check(self.proc.poll() is None, "ember exited at start: %s" % self.stderr())
        self.conn = None

    def _accepts(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.sock)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def request(self, method, path, body=None, raw=None, headers=None, new=False):
        """One request on a kept-alive connection; body is JSON-encoded unless raw.
        A kept-alive connection the server closed while idle (its keep-alive
        timeout) is opened anew once, as HTTP clients do."""
        reused = self.conn is not None and not new
        if self.conn is None or new:
            if self.conn:
                self.conn.close()
            self.conn = UnixHTTPConnection(self.sock)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = {"Accept": "application/json"}
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        try:
            self.conn.request(method, path, body=data, headers=hdrs)
            r = self.conn.getresponse()
            out = Resp(r.status, r.read().decode("utf-8", "replace"), r.getheaders())
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.conn.close()
            self.conn = None
            if not reused:
                raise
            return self.request(method, path, body, raw, headers, new=True)
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        if r.will_close:
            self.conn.close()
            self.conn = None
        return out

    def get(self, path):
        return self.request("GET", path)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def alive(self):
        """The process runs and answers GET / on a new connection."""
        check(self.proc.poll() is None, "ember died (status %s): %s" %
              (self.proc.returncode, self.stderr()[-500:]))
        r = self.request("GET", "/", new=True)
        check(r.status == 200 and r.json.get("app_name") == "ember", "GET / gave %r" % r)

    def wait(self, timeout=TIMEOUT):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Fail("ember still running after %ss" % timeout)

    def stop(self):
        if self.conn:
            self.conn.close()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.out.close()
        self.err.close()


def expect(r, status, fault=None):
    check(r.status == status, "want %d, got %r" % (status, r))
    if fault is not None:
        check(fault in r.fault, "want fault_message containing %r, got %r" % (fault, r))
        check("\n" not in r.fault, "multi-line fault_message %r" % r.fault)


def raw_exchange(sock_path, data, timeout=TIMEOUT, shut=True):
    """Send raw bytes (then end the input: shut), read until the server closes or
    timeout; the bytes read."""
    s = unix_connect(sock_path, timeout)
    try:
        if data:
            s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        got = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not b:
                break
            got += b
        return got
    finally:
        s.close()


def statuses(raw):
    """The status codes of the HTTP responses in raw."""
    return [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", raw)]


# --- shared set-ups ------------------------------------------------------------

def guest_args(loops=3000000, tick=2000, extra=""):
    return "console=ttyS0 reboot=k panic=1 loops=%d tick=%d%s" % (loops, tick, extra)


def boot(e, loops=3000000, tick=2000, drives=(), mem=32):
    expect(e.put("/boot-source", {"kernel_image_path": GUEST,
                                  "boot_args": guest_args(loops, tick)}), 204)
    expect(e.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": mem}), 204)
    for d in drives:
        expect(e.put("/drives/" + d["drive_id"], d), 204)
    expect(e.put("/actions", {"action_type": "InstanceStart"}), 204)
    wait_for(lambda: "APIGUEST start" in e.stdout(), "the guest to start")


def disk(tmp, name, size=1 << 20):
    p = os.path.join(tmp, name)
    with open(p, "wb") as f:
        f.truncate(size)
    return p


CASES = []


def case(fn):
    CASES.append(fn)
    return fn


# --- pre-boot endpoints ------------------------------------------------------------

@case
def instance_info(tmp):
    e = Ember(tmp)
    try:
        r = e.get("/")
        expect(r, 200)
        check(r.json == {"id": "anonymous-instance", "state": "Not started",
                         "vmm_version": r.json.get("vmm_version"), "app_name": "ember"},
              "GET / = %r" % r.json)
        ver = subprocess.run([EMBER, "--version"], capture_output=True, text=True).stdout
        check(ver.strip() == "ember " + r.json["vmm_version"], "--version says %r" % ver)
        expect(e.get("/version"), 200)
        check(e.get("/version").json == {"firecracker_version": r.json["vmm_version"]},
              "GET /version = %r" % e.get("/version"))
        expect(e.request("GET", "/", raw=b"{}"), 400, "GET request cannot have a body.")
    finally:
        e.stop()
    e = Ember(tmp, ["--id", "my-vm-01"], name="id")
    try:
        check(e.get("/").json["id"] == "my-vm-01", "--id not in GET /")
    finally:
        e.stop()


@case
def vm_config_defaults(tmp):
    e = Ember(tmp)
    try:
        r = e.get("/vm/config")
        expect(r, 200)
        j = r.json
        check(j["boot-source"] == {"kernel_image_path": "", "initrd_path": None,
                                   "boot_args": None}, "boot-source %r" % j["boot-source"])
        check(j["machine-config"] == {"vcpu_count": 1, "mem_size_mib": 128, "smt": False,
                                      "track_dirty_pages": False, "huge_pages": "None"},
              "machine-config %r" % j["machine-config"])
        check(j["drives"] == [] and j["network-interfaces"] == [], "devices %r" % j)
        for k in ("balloon", "vsock", "logger", "metrics", "mmds-config", "cpu-config", "entropy",
                  "memory-hotplug"):
            check(k in j and j[k] is None, "%s: %r" % (k, j.get(k, "(absent)")))
        check(j.get("pmem") == [], "pmem: %r" % j.get("pmem", "(absent)"))
        expect(e.get("/machine-config"), 200)
        check(e.get("/machine-config").json == j["machine-config"], "GET /machine-config")
    finally:
        e.stop()


@case
def machine_config(tmp):
    e = Ember(tmp)
    try:
        expect(e.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256,
                                         "track_dirty_pages": True}), 204)
        mc = e.get("/machine-config").json
        check(mc["vcpu_count"] == 2 and mc["mem_size_mib"] == 256 and mc["track_dirty_pages"],
              "after PUT: %r" % mc)
        expect(e.patch("/machine-config", {"vcpu_count": 4}), 204)
        mc = e.get("/machine-config").json
        check(mc["vcpu_count"] == 4 and mc["mem_size_mib"] == 256, "after PATCH: %r" % mc)
        bad = [
            ({"vcpu_count": 2}, "missing field `mem_size_mib`"),
            ({"vcpu_count": 0, "mem_size_mib": 128}, "The number of vCPUs"),
            ({"vcpu_count": 33, "mem_size_mib": 128}, "The number of vCPUs"),
            ({"vcpu_count": 1, "mem_size_mib": 0}, "memory size (MiB) is either 0"),
            ({"vcpu_count": 3, "mem_size_mib": 128, "smt": True},
             "must be 1 or an even number if SMT is enabled"),
            ({"vcpu_count": 1, "mem_size_mib": 128, "cpu_template": "C3"}, "CPU template"),
            ({"vcpu_count": 1, "mem_size_mib": 127, "huge_pages": "2M"},
             "not a multiple of the configured page size"),
            ({"vcpu_count": 1, "mem_size_mib": 128, "huge_pages": "1G"}, "unknown variant `1G`"),
            ({"vcpu_count": 1, "mem_size_mib": 128, "bogus": 1}, "unknown field `bogus`"),
            ({"vcpu_count": "1", "mem_size_mib": 128}, "invalid type: string"),
            ({"vcpu_count": None, "mem_size_mib": 128}, "invalid type: null"),
        ]
        for body, want in bad:
            expect(e.put("/machine-config", body), 400, want)
        expect(e.put("/machine-config", raw=b'{"vcpu_count": 1.0, "mem_size_mib": 128}'),
               400, "floating point")
        expect(e.patch("/machine-config", {}), 400, "Empty PATCH request.")
        expect(e.put("/machine-config", raw=b""), 400, "Empty PUT request.")
        expect(e.patch("/machine-config", raw=b""), 400, "Empty PATCH request.")
        # nothing above changed the configuration
        mc = e.get("/machine-config").json
        check(mc["vcpu_count"] == 4 and mc["mem_size_mib"] == 256 and not mc["smt"],
              "refusals changed the config: %r" % mc)
        # SMT: taken and reported (the topology is test-guests' boot-elf-4cpus-smt)
        expect(e.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 128, "smt": True}),
               204)
        check(e.get("/machine-config").json["smt"] is True, "smt not reported")
        # huge pages: taken, reported (the boots are test-guests' hugetlb cases)
        expect(e.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128,
                                         "huge_pages": "2M"}), 204)
        check(e.get("/machine-config").json["huge_pages"] == "2M", "huge_pages not reported")
    finally:
        e.stop()


@case
def boot_source(tmp):
    e = Ember(tmp)
    try:
        initrd = disk(tmp, "initrd", 4096)
        expect(e.put("/boot-source", {"kernel_image_path": GUEST, "initrd_path": initrd,
                                      "boot_args": "console=ttyS0 quiet"}), 204)
        bs = e.get("/vm/config").json["boot-source"]
        check(bs == {"kernel_image_path": GUEST, "initrd_path": initrd,
                     "boot_args": "console=ttyS0 quiet"}, "boot-source %r" % bs)
        # Firecracker's words (BootSourceConfigError, Rust's io::Error)
        expect(e.put("/boot-source", {"kernel_image_path": tmp + "/missing"}), 400,
               "Boot source error: The kernel file cannot be opened: No such file or "
               "directory (os error 2)")
        expect(e.put("/boot-source", {"kernel_image_path": GUEST, "initrd_path": tmp + "/no"}),
               400, "The initrd file cannot be opened")
        # A FIFO would block whoever opens it: refused before the 204, the
        # API still answering (a hang times the request out).
        fifo = tmp + "/fifo"
        os.mkfifo(fifo)
        expect(e.put("/boot-source", {"kernel_image_path": fifo}), 400,
               "The kernel file cannot be opened: %s is not a regular file" % fifo)
        expect(e.put("/boot-source", {"kernel_image_path": GUEST, "initrd_path": fifo}), 400,
               "The initrd file cannot be opened: %s is not a regular file" % fifo)
        expect(e.put("/boot-source", {"kernel_image_path": "/dev/null"}), 400,
               "/dev/null is not a regular file")
        expect(e.put("/boot-source", {"boot_args": "x"}), 400,
               "missing field `kernel_image_path`")
        expect(e.put("/boot-source", {"kernel_image_path": GUEST, "boot_args": "\u00e9"}),
               400, "printable ASCII")
        expect(e.put("/boot-source", {"kernel_image_path": GUEST, "kernel": 1}), 400,
               "unknown field `kernel`")
        expect(e.put("/boot-source", {"kernel_image_path": [GUEST]}), 400, "invalid type")
        bs2 = e.get("/vm/config").json["boot-source"]
        check(bs2 == bs, "refusals changed the boot source: %r" % bs2)
    finally:
        e.stop()


@case
def drives_pre_boot(tmp):
    e = Ember(tmp)
    try:
        root, data = disk(tmp, "root.img"), disk(tmp, "data.img")
        expect(e.put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": root,
                                        "is_root_device": True, "is_read_only": False}), 204)
        expect(e.put("/drives/data_1", {"drive_id": "data_1", "path_on_host": data,
                                        "is_root_device": False, "is_read_only": True,
                                        "cache_type": "Writeback", "io_engine": "Sync"}), 204)
        ds = e.get("/vm/config").json["drives"]
        check([d["drive_id"] for d in ds] == ["rootfs", "data_1"], "drives %r" % ds)
        check(ds[1]["is_read_only"] and ds[1]["cache_type"] == "Writeback" and
              ds[0]["is_root_device"] and ds[0]["path_on_host"] == root, "drives %r" % ds)
        expect(e.put("/drives/other", {"drive_id": "other", "path_on_host": data,
                                       "is_root_device": True}), 400,
               "A root block device already exists!")
        expect(e.put("/drives/x", {"drive_id": "y", "path_on_host": data,
                                   "is_root_device": False}), 400,
               "The id from the path does not match the id from the body!")
        expect(e.put("/drives/a-b", {"drive_id": "a-b", "path_on_host": data,
                                     "is_root_device": False}), 400,
               "API Resource IDs can only contain alphanumeric characters and underscores.")
        expect(e.put("/drives/", {"drive_id": "", "path_on_host": data,
                                  "is_root_device": False}), 400, "The ID cannot be empty.")
        expect(e.put("/drives/x", {"drive_id": "x", "path_on_host": tmp + "/none",
                                   "is_root_device": False}), 400,
               "Unable to create the virtio block device")
        fifo = tmp + "/fifo"
        os.mkfifo(fifo)
        for ro in (False, True):
            expect(e.put("/drives/x", {"drive_id": "x", "path_on_host": fifo,
                                       "is_root_device": False, "is_read_only": ro}), 400,
                   "%s is not a regular file or block device" % fifo)
        expect(e.put("/drives/x", {"drive_id": "x", "path_on_host": data,
                                   "is_root_device": False, "io_engine": "Async"}), 400,
               "Async")
        # a rate limiter is kept and reported (not enforced yet: a warning)
        lim = {"bandwidth": {"size": 1000, "one_time_burst": None, "refill_time": 100},
               "ops": None}
        expect(e.put("/drives/x", {"drive_id": "x", "path_on_host": data,
                                   "is_root_device": False, "rate_limiter": lim}), 204)
        got = [d for d in e.get("/vm/config").json["drives"] if d["drive_id"] == "x"]
        check(got and got[0]["rate_limiter"] == lim, "rate_limiter reported: %r" % got)
        check("not enforced by ember yet" in e.stderr(), "no warning for the rate limiter")
        expect(e.put("/drives/x", {"drive_id": "x", "path_on_host": data}), 400,
               "missing field `is_root_device`")
        expect(e.put("/drives/x/y", {"drive_id": "x", "path_on_host": data,
                                     "is_root_device": False}), 400,
               "Invalid request method and/or path")
        expect(e.patch("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": data}), 400,
               NOT_BEFORE)
        check(len(e.get("/vm/config").json["drives"]) == 3, "refusals added drives")
    finally:
        e.stop()


@case
def network_interfaces_pre_boot(tmp):
    e = Ember(tmp)
    try:
        expect(e.put("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "tap0",
                                                  "guest_mac": "06:00:AC:10:00:02"}), 204)
        ns = e.get("/vm/config").json["network-interfaces"]
        check(len(ns) == 1 and ns[0]["iface_id"] == "eth0" and ns[0]["host_dev_name"] == "tap0"
              and ns[0]["guest_mac"].lower() == "06:00:ac:10:00:02", "nets %r" % ns)
        expect(e.put("/network-interfaces/eth1", {"iface_id": "eth0", "host_dev_name": "tap1"}),
               400, "The id from the path [eth1] does not match the id from the body [eth0]!")
        expect(e.put("/network-interfaces/eth1", {"iface_id": "eth1", "host_dev_name": "tap1",
                                                  "guest_mac": "zz:00:AC:10:00:02"}), 400,
               "guest_mac")
        expect(e.put("/network-interfaces/eth1", {"iface_id": "eth1", "host_dev_name": "tap0"}),
               400, "already used")
        expect(e.put("/network-interfaces/eth1", {"iface_id": "eth1"}), 400,
               "missing field `host_dev_name`")
        expect(e.patch("/network-interfaces/eth0", {"iface_id": "eth0"}), 400, NOT_BEFORE)
        # the TAP is opened at once, as Firecracker creates the device then
        # (test_api_network.py: "Could not create the network device")
        expect(e.put("/network-interfaces/eth2", {"iface_id": "eth2", "host_dev_name": "lo"}),
               400, "Network config error: Could not create the network device: Open tap "
               "device failed: cannot open TAP 'lo'")
        check(len(e.get("/vm/config").json["network-interfaces"]) == 1, "eth2 was kept")
    finally:
        e.stop()


@case
def logger_and_metrics(tmp):
    e = Ember(tmp)
    try:
        log = os.path.join(tmp, "fc.log")
        metrics = os.path.join(tmp, "fc.metrics")
        expect(e.put("/logger", {"log_path": log, "level": "Info", "show_level": True,
                                 "show_log_origin": False}), 204)
        e.get("/machine-config")
        wait_for(lambda: os.path.exists(log) and "Get request on \"/machine-config\"" in
                 open(log).read(), "the API request in the log")
        check(":INFO]" in open(log).read(), "show_level: no level in %r" % open(log).read()[:300])
        expect(e.put("/logger", {"level": "Loud"}), 400, "Invalid LevelFilter")
        expect(e.put("/logger", {"log_path": tmp + "/no/such/dir/log"}), 400, "Logger error")
        expect(e.put("/metrics", {"metrics_path": metrics}), 204)
        expect(e.put("/metrics", {"metrics_path": metrics, "properties": {"a": 1}}), 400,
               "expected a string")
        wait_for(lambda: os.path.exists(metrics) and "utc_timestamp_ms" in open(metrics).read(),
                 "a metrics line")
        first = json.loads(open(metrics).read().splitlines()[0])
        check("put_api_requests" in first and "id" not in first and "properties" not in first,
              "metrics line %r" % first)
        expect(e.put("/metrics", {"metrics_path": metrics}), 400,
               "Metrics error: Cannot initialize the metrics system due to bad user input: "
               "Reinitialization of metrics not allowed.")
        expect(e.put("/metrics", {}), 400, "missing field `metrics_path`")
        expect(e.put("/actions", {"action_type": "FlushMetrics"}), 400, NOT_BEFORE)
        cfg = e.get("/vm/config").json
        check(cfg["logger"]["log_path"] == log and cfg["metrics"]["metrics_path"] == metrics,
              "GET /vm/config logger/metrics %r %r" % (cfg["logger"], cfg["metrics"]))
    finally:
        e.stop()
    # emit_id and properties: top-level members after the timestamp on every line
    # (Firecracker's logger/metrics.rs: test_instance_id_serialize_enabled,
    # test_metrics_properties_serialize_set)
    e = Ember(tmp, ["--id", "vm-7"], name="ember2")
    try:
        metrics = os.path.join(tmp, "fc2.metrics")
        props = {"customer_id": "1234", "bundle_id": "fn-abc"}
        expect(e.put("/metrics", {"metrics_path": metrics, "emit_id": True,
                                  "properties": props}), 204)
        wait_for(lambda: os.path.exists(metrics) and "utc_timestamp_ms" in open(metrics).read(),
                 "a metrics line")
        line = open(metrics).read().splitlines()[0]
        check(line.startswith('{"utc_timestamp_ms":') and
              ',"id":"vm-7","properties":{"bundle_id":"fn-abc","customer_id":"1234"},"api_server"'
              in line, "metrics line %r" % line[:200])
        check(e.get("/vm/config").json["metrics"] ==
              {"metrics_path": metrics, "emit_id": True, "properties": props},
              "GET /vm/config metrics %r" % e.get("/vm/config").json["metrics"])
    finally:
        e.stop()


@case
def actions_and_vm_pre_boot(tmp):
    e = Ember(tmp)
    try:
        expect(e.put("/actions", {"action_type": "InstanceStart"}), 400,
               "Start microvm error: Cannot start microvm without kernel configuration.")
        expect(e.put("/actions", {"action_type": "SendCtrlAltDel"}), 400, NOT_BEFORE)
        expect(e.put("/actions", {"action_type": "Reboot"}), 400, "unknown variant `Reboot`")
        expect(e.put("/actions", {}), 400, "missing field `action_type`")
        expect(e.patch("/vm", {"state": "Paused"}), 400, NOT_BEFORE)
        expect(e.patch("/vm", {"state": "Frozen"}), 400, "unknown variant `Frozen`")
        check(e.get("/").json["state"] == "Not started", "state changed")
        # a kernel that is not a kernel: InstanceStart fails, the API keeps serving
        junk = disk(tmp, "junk", 4096)
        expect(e.put("/boot-source", {"kernel_image_path": junk}), 204)
        expect(e.put("/actions", {"action_type": "InstanceStart"}), 400, "Start microvm error")
        e.alive()
        check(e.get("/").json["state"] == "Not started", "state after a failed start")
    finally:
        e.stop()


@case
def unsupported_and_unknown(tmp):
    e = Ember(tmp)
    try:
        for m, p, b in [("PUT", "/vsock", {"guest_cid": 3, "uds_path": "/v"}),
                        ("GET", "/balloon", None),
                        ("PUT", "/hotplug/memory", {"total_size_mib": 256}),
                        ("PUT", "/entropy", {}), ("PUT", "/cpu-config", {})]:
            expect(e.request(m, p, b), 400, "The requested operation is not supported")
        for m, p, b in [("GET", "/foo", None), ("PUT", "/foo", {"a": 1}),
                        ("GET", "/boot-source", None), ("PATCH", "/boot-source", {"a": 1}),
                        ("PUT", "/vm", {"state": "Paused"}), ("GET", "/vm/state", None),
                        ("PATCH", "/actions", {"action_type": "InstanceStart"})]:
            expect(e.request(m, p, b), 400, "Invalid request method and/or path")
        r = e.request("DELETE", "/drives/x", new=True)
        check(400 <= r.status < 500, "DELETE gave %r" % r)
        e.alive()
    finally:
        e.stop()


BAD_BODIES = [
    (b"{", "EOF while parsing"),
    (b"[]", "invalid type: sequence"),
    (b"null", "invalid type: null"),
    (b"42", "invalid type: integer"),
    (b"\"text\"", "invalid type: string"),
    (b"true", "invalid type: boolean"),
    (b"{\"vcpu_count\": 1, \"mem_size_mib\": 128}}", "trailing characters"),
    (b"{\"vcpu_count\": 1, \"vcpu_count\": 2, \"mem_size_mib\": 128}", "duplicate field"),
    (b"{\"vcpu_count\": 1e0, \"mem_size_mib\": 128}", "floating point"),
    (b"{\"vcpu_count\": 01, \"mem_size_mib\": 128}", "leading zero"),
    (b"{\"vcpu_count\": 1, \"mem_size_mib\": 1" + b"0" * 400 + b"}", "invalid type"),
    (b"{\"vcpu_count\": -1, \"mem_size_mib\": 128}", "invalid type: integer `-1`"),
    (b"{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"x\": \"\xff\"}", "UTF-8"),
    (b"{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"x\": \"\xed\xa0\x80\"}", "UTF-8"),
    (b"{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"x\": \"a\\u0000\"}", "\\u0000"),
    (b"{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"x\": \"a\tb\"}", "control character"),
    (b"{vcpu_count: 1}", "expected value"),
    (b"{\"vcpu_count\": NaN, \"mem_size_mib\": 128}", "expected value"),
    (b"[" * 20000 + b"]" * 20000, ""),
    (b"{\"a\":" * 5000 + b"1" + b"}" * 5000, ""),
    (b"\x00\x01\x02", ""),
]


@case
def bad_json(tmp):
    e = Ember(tmp)
    try:
        for body, want in BAD_BODIES:
            r = e.put("/machine-config", raw=body, new=True)
            check(r.status == 400 and r.fault and "\n" not in r.fault and want in r.fault,
                  "body %r: %r (want %r)" % (body[:40], r, want))
        e.alive()
        check(e.get("/machine-config").json["vcpu_count"] == 1, "a bad body changed the config")
    finally:
        e.stop()


@case
def payload_limit(tmp):
    e = Ember(tmp, ["--http-api-max-payload-size", "100"])
    try:
        expect(e.put("/machine-config", raw=b'{"vcpu_count": 1, "mem_size_mib": 128}'), 204)
        body = b'{"vcpu_count": 1, "mem_size_mib": 128' + b" " * 100 + b"}"
        # refused on its headers, in micro-http's words and shape
        r = e.put("/machine-config", raw=body, new=True)
        expect(r, 400)
        check(r.raw == '{ "error": "Request payload with size 138 is larger than the limit of '
              '100 allowed by server.\nAll previous unanswered requests will be dropped." }',
              "micro-http's error body: %r" % r.raw)
        check(r.raw.startswith('{ "error": "') and
              r.raw.endswith('\nAll previous unanswered requests will be dropped." }'),
              "micro-http's error body: %r" % r.raw)
        e.alive()
    finally:
        e.stop()


# --- post-boot: the test guest runs -------------------------------------------------

@case
def post_boot_rules(tmp):
    e = Ember(tmp)
    try:
        root, other = disk(tmp, "root.img"), disk(tmp, "other.img", 2 << 20)
        boot(e, drives=[{"drive_id": "rootfs", "path_on_host": root, "is_root_device": True,
                         "is_read_only": False}])
        check(e.get("/").json["state"] == "Running", "state %r" % e.get("/").json)
        out = e.stdout()
        check("root=/dev/vda rw" in out and "loops=3000000" in out and "virtio_mmio.device=" in out,
              "the guest's command line: %r" % out[:400])
        refused = [
            ("PUT", "/boot-source", {"kernel_image_path": GUEST}),
            ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64}),
            ("PATCH", "/machine-config", {"vcpu_count": 2}),
            ("PUT", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": other,
                                       "is_root_device": True}),
            ("PUT", "/drives/new", {"drive_id": "new", "path_on_host": other,
                                    "is_root_device": False}),
            ("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "tap0"}),
            ("PUT", "/logger", {"level": "Debug"}),
            ("PUT", "/metrics", {"metrics_path": tmp + "/m"}),
            ("PUT", "/serial", {"serial_out_path": tmp + "/s"}),
            ("PUT", "/actions", {"action_type": "InstanceStart"}),
        ]
        for m, p, b in refused:
            expect(e.request(m, p, b), 400, NOT_AFTER)
        # a malformed body is still a malformed body
        expect(e.put("/machine-config", {"vcpu_count": 1, "bogus": 2}), 400, SERDE)
        cfg = e.get("/vm/config").json
        check(cfg["machine-config"]["mem_size_mib"] == 32 and len(cfg["drives"]) == 1,
              "a refused request changed the config: %r" % cfg)
        # PATCH /drives swaps the backing file
        expect(e.patch("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": other}), 204)
        check(e.get("/vm/config").json["drives"][0]["path_on_host"] == other,
              "GET /vm/config after PATCH /drives")
        # a rate limiter on a running drive: kept and reported (not enforced yet)
        ops = {"bandwidth": None, "ops": {"size": 100, "one_time_burst": 10, "refill_time": 1000}}
        expect(e.patch("/drives/rootfs", {"drive_id": "rootfs", "rate_limiter": ops}), 204)
        check(e.get("/vm/config").json["drives"][0]["rate_limiter"] == ops,
              "rate_limiter after PATCH /drives")
        expect(e.patch("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": tmp + "/none"}),
               400, "Unable to patch the block device")
        # a FIFO on the running VM's VMM thread: refused at once, the guest runs on
        fifo = tmp + "/fifo"
        os.mkfifo(fifo)
        expect(e.patch("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": fifo}), 400,
               "%s is not a regular file or block device" % fifo)
        check(e.get("/").json["state"] == "Running", "state after a FIFO PATCH")
        expect(e.patch("/drives/nope", {"drive_id": "nope", "path_on_host": other}), 400,
               "no drive")
        expect(e.patch("/drives/rootfs", {"drive_id": "x", "path_on_host": other}), 400,
               "does not match")
        expect(e.patch("/drives/rootfs", {"drive_id": "rootfs", "is_read_only": True}), 400,
               "unknown field")
        expect(e.patch("/drives/rootfs", {"drive_id": "rootfs"}), 204)
        expect(e.patch("/network-interfaces/eth0", {"iface_id": "eth0"}), 400,
               "no network interface")
        expect(e.put("/actions", {"action_type": "FlushMetrics"}), 204)
        check(e.proc.poll() is None, "ember exited")
    finally:
        e.stop()


@case
def metrics_after_boot(tmp):
    e = Ember(tmp)
    try:
        metrics = os.path.join(tmp, "m.json")
        expect(e.put("/metrics", {"metrics_path": metrics}), 204)
        boot(e, drives=[{"drive_id": "rootfs", "path_on_host": disk(tmp, "r.img"),
                         "is_root_device": True}])
        expect(e.put("/actions", {"action_type": "FlushMetrics"}), 204)
        last = json.loads(open(metrics).read().splitlines()[-1])
        check("block_rootfs" in last, "no block_rootfs in %r" % sorted(last))
        check(last["put_api_requests"]["actions_count"] >= 1, "actions_count %r" %
              last["put_api_requests"])
    finally:
        e.stop()


@case
def sigterm(tmp):
    e = Ember(tmp)
    try:
        boot(e)
        e.proc.send_signal(signal.SIGTERM)
        rc = e.wait()
        err = e.stderr()
        check(rc == 1 and "ember: stopped by signal 15" in err, "exit %d, %r" % (rc, err[-200:]))
        check(not os.path.exists(e.sock), "the API socket is left behind")
    finally:
        e.stop()


def timed(what, fn, limit=2.0):
    """fn() answers within limit seconds (a stalled VMM thread could not)."""
    t = time.monotonic()
    r = fn()
    dt = time.monotonic() - t
    check(dt < limit, "%s took %.2f s (limit %.1f s)" % (what, dt, limit))
    return r


@case
def console_output_full(tmp):
    """A console nobody reads: the guest's output is dropped and counted; the
    vCPU, the API, pause/resume and Ctrl-Alt-Del go on."""
    r, w = os.pipe()
    # The smallest pipe (a page): full soon even where each exit is slow.
    fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ
    metrics = os.path.join(tmp, "metrics.json")
    e = Ember(tmp, stdout=w)
    os.close(w)
    try:
        expect(e.put("/metrics", {"metrics_path": metrics}), 204)
        expect(e.put("/boot-source", {"kernel_image_path": GUEST,
                                      "boot_args": guest_args(tick=1)}), 204)
        expect(e.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 32}), 204)
        expect(e.put("/actions", {"action_type": "InstanceStart"}), 204)
        size = fcntl.fcntl(r, 1032)  # F_GETPIPE_SZ
        wait_for(lambda: struct.unpack("i", fcntl.ioctl(r, termios.FIONREAD, b"\0" * 4))[0]
                 >= size - 64, "the console pipe to fill up", 60)
        time.sleep(0.5)  # the guest runs on into the full pipe
        check(timed("GET /", lambda: e.get("/")).json["state"] == "Running", "not running")
        expect(timed("PATCH /vm Paused", lambda: e.patch("/vm", {"state": "Paused"})), 204)
        expect(timed("PATCH /vm Resumed", lambda: e.patch("/vm", {"state": "Resumed"})), 204)
        expect(timed("FlushMetrics", lambda: e.put("/actions", {"action_type": "FlushMetrics"})),
               204)
        last = json.loads(open(metrics).read().strip().splitlines()[-1])
        check(last["uart"]["missed_write_count"] > 0 and last["uart"]["write_count"] > 0,
              "uart metrics %r" % last.get("uart"))
        expect(e.put("/actions", {"action_type": "SendCtrlAltDel"}), 204)
        check(e.wait() == 0, "exit status %s: %s" % (e.proc.returncode, e.stderr()[-300:]))
        data = os.read(r, 1 << 20).decode("ascii", "replace")
        check(data.startswith("APIGUEST cmdline"), "console %r" % data[:100])
    finally:
        os.close(r)
        e.stop()


def answers_while_flooded(e):
    """GET /, pause and resume answer in time while a guest floods a device."""
    for _ in range(5):
        check(timed("GET /", lambda: e.get("/")).json["state"] == "Running", "not running")
    expect(timed("PATCH /vm Paused", lambda: e.patch("/vm", {"state": "Paused"})), 204)
    expect(timed("PATCH /vm Resumed", lambda: e.patch("/vm", {"state": "Resumed"})), 204)
    check(timed("GET / after resuming", lambda: e.get("/")).json["state"] == "Running",
          "not running")


def stopped_by_sigterm(e):
    """The guest failed nothing, and SIGTERM ends ember (status 1, one line)."""
    check("FAIL" not in e.stdout(), "the guest: %r" % e.stdout()[-300:])
    e.proc.send_signal(signal.SIGTERM)
    rc = e.wait()
    check(rc == 1 and "ember: stopped by signal 15" in e.stderr(),
          "exit %d, %r" % (rc, e.stderr()[-200:]))


@case
def flood_blk(tmp):
    """A guest that keeps its virtio-blk queue full of 4 MiB reads cannot hold
    the VMM thread: GET / and pause/resume answer, SIGTERM ends ember. (Where
    guest kernel code is instruction-emulated the guest cannot outrun the
    device; in the nested test host, or on hardware, it does: there ember
    without a budget never answered.)"""
    e = Ember(tmp)
    try:
        expect(e.put("/boot-source", {"kernel_image_path": BLKFLOOD,
                                      "boot_args": "console=ttyS0 rounds=1000000000"}), 204)
        expect(e.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64}), 204)
        expect(e.put("/drives/flood", {"drive_id": "flood", "path_on_host": disk(tmp, "flood.img",
                                       8 << 20), "is_root_device": False,
                                       "is_read_only": True}), 204)
        expect(e.put("/actions", {"action_type": "InstanceStart"}), 204)
        wait_for(lambda: "BLKFLOOD start" in e.stdout(), "the flood to start", 30)
        answers_while_flooded(e)
        stopped_by_sigterm(e)
    finally:
        e.stop()


def make_tap(name):
    """A TAP without addresses or IPv6, up; a one-line Fail if it cannot be made."""
    check(os.path.exists("/dev/net/tun"), "/dev/net/tun is missing: cannot make a TAP")
    for argv in (["ip", "tuntap", "add", "dev", name, "mode", "tap"],
                 ["ip", "link", "set", name, "up"]):
        r = subprocess.run(argv, capture_output=True, text=True)
        check(r.returncode == 0, "%s: %s" % (" ".join(argv), r.stderr.strip()))
        if argv[1] == "tuntap":
            try:
                with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % name, "w") as f:
                    f.write("1")
            except OSError:
                pass


def metric_sum(path, group, name):
    total = 0
    for line in open(path).read().splitlines():
        total += json.loads(line).get(group, {}).get(name, 0)
    return total


@case
def flood_net(tmp):
    """A guest that keeps both virtio-net queues full (TX: a frame made
    available again as soon as it is sent; RX: every buffer posted again at
    once) while the host floods its TAP cannot hold the VMM thread: GET /
    and pause/resume answer, SIGTERM ends ember. Like flood_blk, the guest
    outruns the device only where its code is not instruction-emulated."""
    tap = "embf%d" % os.getpid()
    mac = "02:00:00:00:00:09"
    stop = threading.Event()
    sent = [0]

    def flood():
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((tap, 0))
        frame = bytes.fromhex(mac.replace(":", "")) + bytes.fromhex("020000000001") + \
            b"\x88\xb7" + bytes(46)
        while not stop.is_set():
            for _ in range(64):
                try:
                    s.send(frame)
                    sent[0] += 1
                except OSError:
                    pass   # the TAP's queue is full: ember is behind
        s.close()

    make_tap(tap)
    e = None
    flooder = threading.Thread(target=flood, daemon=True)
    try:
        e = Ember(tmp)
        metrics = os.path.join(tmp, "fc.metrics")
        expect(e.put("/metrics", {"metrics_path": metrics}), 204)
        expect(e.put("/boot-source", {"kernel_image_path": NETFLOOD,
                                      "boot_args": "console=ttyS0 rounds=1000000000"}), 204)
        expect(e.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64}), 204)
        expect(e.put("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": tap,
                                                  "guest_mac": mac}), 204)
        expect(e.put("/actions", {"action_type": "InstanceStart"}), 204)
        wait_for(lambda: "NETFLOOD start" in e.stdout(), "the flood to start", 30)
        flooder.start()
        wait_for(lambda: sent[0] > 1000, "the host's flood to start")
        answers_while_flooded(e)
        expect(timed("FlushMetrics", lambda: e.put("/actions", {"action_type": "FlushMetrics"})),
               204)
        check(metric_sum(metrics, "net", "tx_packets_count") > 0, "the guest sent nothing")
        check(metric_sum(metrics, "net", "rx_packets_count") > 0, "the guest received nothing")
        stopped_by_sigterm(e)
    finally:
        stop.set()
        if flooder.is_alive():
            flooder.join(5)
        if e:
            e.stop()
        subprocess.run(["ip", "link", "del", tap], capture_output=True)


def out_len(e):
    return len(e.stdout())


@case
def pause_resume_ctrl_alt_del(tmp):
    e = Ember(tmp)
    try:
        boot(e, tick=300)
        wait_for(lambda: "APIGUEST tick 3" in e.stdout(), "guest ticks")
        expect(e.patch("/vm", {"state": "Paused"}), 204)
        check(e.get("/").json["state"] == "Paused", "state %r" % e.get("/").json)
        time.sleep(0.2)
        n = out_len(e)
        time.sleep(1.0)
        check(out_len(e) == n, "the guest printed while Paused")
        expect(e.patch("/vm", {"state": "Paused"}), 204)   # again: no change
        expect(e.patch("/vm", {"state": "Resumed"}), 204)
        check(e.get("/").json["state"] == "Running", "state %r" % e.get("/").json)
        wait_for(lambda: out_len(e) > n, "the guest to tick again after Resumed")
        expect(e.patch("/vm", {"state": "Resumed"}), 204)
        expect(e.put("/actions", {"action_type": "SendCtrlAltDel"}), 204)
        rc = e.wait()
        check(rc == 0, "exit status %d after Ctrl-Alt-Del: %s" % (rc, e.stderr()[-300:]))
        check("APIGUEST key" in e.stdout(), "the guest saw no key: %r" % e.stdout()[-200:])
        check(not os.path.exists(e.sock), "the API socket is left behind")
    finally:
        e.stop()


def ticks(text):
    """The numbers of the complete tick lines: a console file read while the
    guest writes may end in the middle of one ("APIGUEST tick 1" of 14)."""
    return [int(t) for t in re.findall(r"APIGUEST tick (\d+)\r?\n", text)]


def snapshot_of_ticking_guest(tmp, name="snap"):
    """Boot apiguest (with a drive), pause it, snapshot it, kill ember: the
    snapshot's and memory file's paths and the console's text."""
    e = Ember(tmp, name=name)
    snap, mem = os.path.join(tmp, name + ".state"), os.path.join(tmp, name + ".mem")
    try:
        boot(e, tick=300, drives=[{"drive_id": "data", "path_on_host": disk(tmp, "d.img"),
                                   "is_root_device": False, "is_read_only": False}])
        wait_for(lambda: "APIGUEST tick 3" in e.stdout(), "guest ticks")
        expect(e.put("/snapshot/create", {"snapshot_path": snap, "mem_file_path": mem}), 400,
               "must be paused")
        expect(e.patch("/vm", {"state": "Paused"}), 204)
        time.sleep(0.2)
        last = ticks(e.stdout())[-1]
        expect(e.put("/snapshot/create", {"snapshot_type": "Diff", "snapshot_path": snap,
                                          "mem_file_path": mem}), 400, "dirty page tracking")
        expect(e.put("/snapshot/create", {"snapshot_type": "Full", "snapshot_path": snap,
                                          "mem_file_path": mem}), 204)
        check(os.path.getsize(mem) == 32 << 20, "memory file of %d bytes" % os.path.getsize(mem))
        check(os.stat(mem).st_blocks * 512 < 8 << 20,
              "the memory file is not sparse: %d blocks" % os.stat(mem).st_blocks)
        with open(snap, "rb") as f:
            check(f.read(8) == b"EMBERSNP", "no EMBERSNP magic")
        check(e.get("/").json["state"] == "Paused", "not paused after the snapshot")
        check(ticks(e.stdout())[-1] == last, "the guest ran during the snapshot")
        return snap, mem, e.stdout()
    finally:
        e.stop()


def check_continues(e, before):
    """The restored guest's console goes on from before (the snapshotted
    ember's), a line cut by the pause included: one start, then every tick
    once, in order."""
    wait_for(lambda: len(ticks(e.stdout())) >= 3, "the restored guest to tick")
    both = before + e.stdout()
    t = ticks(both)
    check(both.count("APIGUEST start") == 1, "the restored guest booted anew: %r" % e.stdout()[:200])
    check(t == list(range(t[0], t[0] + len(t))) and t[-1] > ticks(before)[-1],
          "ticks before and after the restore %r" % t[-12:])
    expect(e.put("/actions", {"action_type": "SendCtrlAltDel"}), 204)
    rc = e.wait()
    check(rc == 0, "exit status %d after Ctrl-Alt-Del: %s" % (rc, e.stderr()[-300:]))
    check("APIGUEST key" in e.stdout(), "the restored guest saw no key")


@case
def snapshot_round_trip(tmp):
    snap, mem, before = snapshot_of_ticking_guest(tmp)
    # PUT /snapshot/load in a new process, resumed at once.
    e = Ember(tmp, name="load")
    try:
        expect(e.put("/snapshot/load", {"snapshot_path": snap, "resume_vm": True,
                                        "mem_backend": {"backend_type": "File",
                                                        "backend_path": mem}}), 204)
        check(e.get("/").json["state"] == "Running", "state %r" % e.get("/").json)
        cfg = e.get("/vm/config").json
        check(cfg["machine-config"]["mem_size_mib"] == 32 and
              cfg["drives"][0]["drive_id"] == "data", "GET /vm/config after load: %r" % cfg)
        expect(e.put("/snapshot/load", {"snapshot_path": snap, "mem_file_path": mem}), 400,
               NOT_AFTER)
        check_continues(e, before)
    finally:
        e.stop()
    # The command line's --restore, paused until PATCH /vm.
    e = Ember(tmp, ["--restore", snap, "--restore-mem", mem], name="cli")
    try:
        check(e.get("/").json["state"] == "Paused", "state %r" % e.get("/").json)
        time.sleep(0.3)
        check(not ticks(e.stdout()), "the guest ran before it was resumed")
        expect(e.patch("/vm", {"state": "Resumed"}), 204)
        check_continues(e, before)
    finally:
        e.stop()
    # The memory file is read, never written: a second load starts from the same point.
    e = Ember(tmp, ["--restore", snap, "--restore-mem", mem, "--resume"], name="again")
    try:
        check_continues(e, before)
    finally:
        e.stop()


def check_unmerged(state, mem, last):
    """A Diff's state loaded on the memory of the Full snapshot before it,
    whose guest had printed tick `last` when the Diff was taken: the pages it
    wrote since the Full one are missing. Back in its loop, the guest finds
    them missing at its next tick ("APIGUEST bad page"); or, when the Diff
    caught it inside print() (its stack is among the missing pages, the Full
    one's stale copy in their place), it returns into the loop with the Full
    snapshot's counters and goes on from there: a tick line numbered `last`
    or less. Either shows the missing pages; a third tick line past `last`,
    or nothing within 30 s, does not. (The first line may be the rest of the
    print() the Diff caught: only whole "APIGUEST" lines count.)"""
    proc = subprocess.Popen([EMBER, "--no-api", "--restore", state, "--restore-mem", mem,
                             "--resume"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    out, seen, verdict = b"", [], None
    deadline = time.monotonic() + 30
    try:
        while verdict is None and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
            chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
            if not chunk:
                break
            out += chunk
            lines = out.split(b"\n")[:-1]
            if any(l.startswith(b"APIGUEST bad page") for l in lines):
                verdict = "bad page"
            seen = [int(m.group(1)) for m in (re.match(rb"APIGUEST tick (\d+)\r?$", l)
                                              for l in lines) if m]
            if verdict is None and any(n <= last for n in seen):
                verdict = "went back to tick %d" % min(seen)
            if verdict is None and len(seen) >= 3:
                break
    finally:
        proc.kill()
        proc.wait()
    check(verdict is not None, "the Diff's state on the unmerged memory (the Diff at tick %d): "
          "neither a bad page nor an earlier tick: %r" % (last, out[-200:]))
    return verdict


@case
def snapshot_diff(tmp):
    """track_dirty_pages: a Full snapshot, more ticks (each writes a page, and
    all 8 MiB at 24 MiB), a Diff snapshot of only the pages written since
    (at least those 8 MiB, at most 12 MiB), and a Full one of the same paused
    VM; the Diff merged onto the first Full one's memory is byte for byte the
    second's, loads and goes on, every page there; without the merge the
    guest finds its pages missing."""
    e = Ember(tmp, name="diff")
    p = {n: os.path.join(tmp, n) for n in ("base.state", "base.mem", "diff.state", "diff.mem",
                                           "full.state", "full.mem")}
    try:
        expect(e.put("/boot-source", {"kernel_image_path": GUEST,
                                      "boot_args": guest_args(tick=300, extra=" dirty=1 touch=2048 touch_at=24")}), 204)
        expect(e.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 32,
                                         "track_dirty_pages": True}), 204)
        expect(e.put("/actions", {"action_type": "InstanceStart"}), 204)
        wait_for(lambda: "APIGUEST tick 3" in e.stdout(), "guest ticks")
        expect(e.patch("/vm", {"state": "Paused"}), 204)
        expect(e.put("/snapshot/create", {"snapshot_path": p["base.state"],
                                          "mem_file_path": p["base.mem"]}), 204)
        base_last = ticks(e.stdout())[-1]
        expect(e.patch("/vm", {"state": "Resumed"}), 204)
        wait_for(lambda: ticks(e.stdout())[-1] >= base_last + 6, "more ticks")
        expect(e.patch("/vm", {"state": "Paused"}), 204)
        time.sleep(0.2)
        expect(e.put("/snapshot/create", {"snapshot_type": "Diff",
                                          "snapshot_path": p["diff.state"],
                                          "mem_file_path": p["diff.mem"]}), 204)
        expect(e.put("/snapshot/create", {"snapshot_path": p["full.state"],
                                          "mem_file_path": p["full.mem"]}), 204)
        before = e.stdout()
    finally:
        e.stop()
    st = os.stat(p["diff.mem"])
    check(st.st_size == 32 << 20, "diff memory file of %d bytes" % st.st_size)
    check(8 << 20 <= st.st_blocks * 512 <= 12 << 20,
          "the diff holds %d bytes: want the 8 MiB written since the Full one, at most 12 MiB" %
          (st.st_blocks * 512))
    merged = os.path.join(tmp, "merged.mem")
    shutil.copyfile(p["base.mem"], merged)
    r = subprocess.run([EMBER, "--merge-diff", p["diff.mem"], "--into", merged],
                       capture_output=True, timeout=20)
    check(r.returncode == 0 and b"merged" in r.stdout, "merge: %d %r %r" %
          (r.returncode, r.stdout, r.stderr))
    check(md5(merged) == md5(p["full.mem"]),
          "the Diff merged onto the first Full snapshot differs from the second Full one")
    e = Ember(tmp, ["--restore", p["diff.state"], "--restore-mem", merged, "--resume"],
              name="merged")
    try:
        check_continues(e, before)
        check("bad page" not in e.stdout(), "after the merge: %r" % e.stdout()[:300])
    finally:
        e.stop()
    # The Diff's state on the Full one's memory alone: the pages of the ticks since are missing.
    print("  the Diff's state on the unmerged memory: %s" %
          check_unmerged(p["diff.state"], p["base.mem"], ticks(before)[-1]))
    one_line_exit2([EMBER, "--merge-diff", p["diff.mem"], "--into", p["base.state"]],
                   "not the same guest", tmp)
    one_line_exit2([EMBER, "--merge-diff", p["diff.mem"]], "--into", tmp)
    # Without dirty tracking: no Diff.
    e = Ember(tmp, name="notrack")
    try:
        boot(e, tick=300)
        expect(e.patch("/vm", {"state": "Paused"}), 204)
        expect(e.put("/snapshot/create", {"snapshot_type": "Diff",
                                          "snapshot_path": p["diff.state"],
                                          "mem_file_path": p["diff.mem"]}), 400,
               "dirty page tracking")
    finally:
        e.stop()


def vmm_pid(pid):
    """The ember process at or below pid: pid itself, or, under a wrapper
    (test-seccomp's strace), the first descendant running an ember binary."""
    while True:
        try:
            exe = os.path.basename(os.readlink("/proc/%d/exe" % pid))
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            return pid
        if exe.startswith("ember") or len(kids) != 1:
            return pid
        pid = kids[0]


def private_dirty_kib(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        return sum(int(l.split()[1]) for l in f if l.startswith("Private_Dirty:"))


def snapshot_128(tmp, name, extra):
    """A 128 MiB apiguest (boot_args extra) snapshotted after 3 ticks: the
    state's and memory's paths and the console."""
    e = Ember(tmp, name=name)
    state, mem = os.path.join(tmp, name + ".state"), os.path.join(tmp, name + ".mem")
    try:
        expect(e.put("/boot-source", {"kernel_image_path": GUEST,
                                      "boot_args": guest_args(tick=100, extra=extra)}), 204)
        expect(e.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}), 204)
        expect(e.put("/actions", {"action_type": "InstanceStart"}), 204)
        wait_for(lambda: "APIGUEST tick 3" in e.stdout(), "guest ticks")
        expect(e.patch("/vm", {"state": "Paused"}), 204)
        time.sleep(0.2)
        expect(e.put("/snapshot/create", {"snapshot_path": state, "mem_file_path": mem}), 204)
        return state, mem, e.stdout()
    finally:
        e.stop()


class CloneApi(Ember):
    """The API and console file of one clone of `ember --clones` (no process
    of its own here)."""

    def __init__(self, sock, out_path):
        self.sock, self.out_path, self.conn = sock, out_path, None

    def stdout(self):
        if not os.path.exists(self.out_path):
            return ""
        return super().stdout()

    def stop(self):
        if self.conn:
            self.conn.close()


@case
def snapshot_clones(tmp):
    """ember --clones 4: four clones of one 128 MiB snapshot, each with its own
    API socket, id and console file, each dirtying 8 MiB: they share the
    memory file (each one's private dirty memory is what it wrote plus
    ember's); Ctrl-Alt-Del on each ends them, and ember with status 0."""
    state, mem, before = snapshot_128(tmp, "origin", " touch=512")
    last = ticks(before)[-1]
    for argv, word in ((["--clones", "2", "--api-sock", os.path.join(tmp, "x.sock")], "%d"),
                       (["--clones", "2", "--no-api", "--net-override", "eth0=tap0"], "%d"),
                       (["--clones", "0", "--no-api"], "from 1 to 256"),
                       (["--clones", "2", "--no-api", "--id", "c-%x"], "only %d"),
                       (["--no-api", "--net-override", "eth0"], "is not IFACE=TAP"),
                       (["--no-api", "--net-override", "nope=tap1"],
                        "no network interface 'nope'"),
                       (["--no-api", "--serial-out", os.path.join(tmp, "none", "out")],
                        "--serial-out")):
        one_line_exit2([EMBER, "--restore", state, "--restore-mem", mem] + argv, word, tmp)
    one_line_exit2([EMBER, "--clones", "2", "--api-sock", "x%d"], "--clones needs --restore", tmp)
    e = Ember(tmp, ["--restore", state, "--restore-mem", mem, "--resume", "--clones", "4",
                    "--api-sock", os.path.join(tmp, "clone%d.sock"), "--id", "clone-%d",
                    "--serial-out", os.path.join(tmp, "clone%d.out")], api=False, name="clones")
    clones = [CloneApi(os.path.join(tmp, "clone%d.sock" % i), os.path.join(tmp, "clone%d.out" % i))
              for i in range(4)]
    try:
        for i, c in enumerate(clones):
            wait_for(lambda: c._accepts() or e.proc.poll() is not None, "clone %d's API" % i)
            check(e.proc.poll() is None, "ember --clones ended: %r" % e.stderr()[-300:])
            r = c.get("/")
            check(r.json.get("id") == "clone-%d" % i and r.json.get("state") == "Running",
                  "GET / of clone %d: %r" % (i, r.json))
        # 4 ticks of 512 pages: all 8 MiB written by each (6 to be sure).
        for i, c in enumerate(clones):
            try:
                wait_for(lambda: ticks(c.stdout()) and ticks(c.stdout())[-1] >= last + 6,
                         "clone %d to tick 6 times" % i, timeout=120)
            except Fail:
                got = [(ticks(x.stdout()) or ["none"])[-1] for x in clones]
                raise Fail("clone %d did not reach tick %d within 120 s: the clones' last "
                           "ticks are %s (the snapshot's was %d); ember %s; clone %d's "
                           "console ends %r" %
                           (i, last + 6, got, last,
                            "running" if e.proc.poll() is None else "exited %d" % e.proc.poll(),
                            i, c.stdout()[-200:]))
        vmm = vmm_pid(e.proc.pid)
        with open("/proc/%d/task/%d/children" % (vmm, vmm)) as f:
            pids = [int(x) for x in f.read().split()]
        check(len(pids) == 4, "ember --clones has children %r" % pids)
        kib = [private_dirty_kib(p) for p in pids]
        total = sum(kib)
        print("  clones' Private_Dirty (KiB): %s, total %d" % (kib, total))
        check(total <= 4 * 16 * 1024, "the 4 clones have %d KiB of private dirty memory" % total)
        check(all(k >= 8 * 1024 for k in kib), "a clone has less than the 8 MiB it wrote: %s" % kib)
        check(e.stdout() == "", "the consoles went to ember's standard output: %r" %
              e.stdout()[:200])
        for c in clones:
            expect(c.put("/actions", {"action_type": "SendCtrlAltDel"}), 204)
        rc = e.wait()
        check(rc == 0, "ember --clones: exit %d: %r" % (rc, e.stderr()[-300:]))
        for i, c in enumerate(clones):
            check("APIGUEST key" in c.stdout(), "clone %d saw no key" % i)
            check(not os.path.exists(c.sock), "clone %d left its API socket" % i)
    finally:
        for c in clones:
            c.stop()
        e.stop()


class UffdHandler:
    """tests/api/uffd-handler.c serving mem on a socket of its own."""

    def __init__(self, tmp, mem, name, die_after=None):
        self.sock = os.path.join(tmp, name + ".uffd")
        self.out_path = os.path.join(tmp, name + ".handler")
        argv = [UFFD_HANDLER, self.sock, mem]
        if die_after:
            argv += ["--die-after", str(die_after)]
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None,
                 "the page fault handler's socket")

    def finish(self):
        """(exit status, pages served, pages in all) once the VMM is gone."""
        try:
            rc = self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Fail("the page fault handler outlived its VMM")
        text = open(self.out_path).read()
        m = re.search(r"served (\d+) pages of (\d+)", text)
        return rc, (int(m.group(1)) if m else None), (int(m.group(2)) if m else None), text

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@case
def snapshot_uffd(tmp):
    """The Uffd backend, with our example handler: the guest goes on with
    every page it wrote; the handler serves only the pages touched (at most
    10% more than the guest's own working set plus the 8 MiB it writes); a
    handler that dies ends ember with a one-line error before the guest can
    read a page it never got."""
    # A guest that writes a page a tick and checks those of the ticks before (dirty=1).
    state, mem, before = snapshot_128(tmp, "checker", " dirty=1")
    last = ticks(before)[-1]
    h = UffdHandler(tmp, mem, "h-api")
    e = Ember(tmp, name="uffd-api")
    try:
        expect(e.put("/snapshot/load", {"snapshot_path": state, "resume_vm": True,
                                        "mem_backend": {"backend_type": "Uffd",
                                                        "backend_path": h.sock}}), 204)
        wait_for(lambda: ticks(e.stdout()) and ticks(e.stdout())[-1] >= last + 8,
                 "the restored guest to tick 8 times")
        check("bad page" not in e.stdout(), "a page came wrong: %r" % e.stdout()[-200:])
        check_continues(e, before)
        rc, base, total, text = h.finish()
        check(rc == 0 and base, "handler: exit %d, %r" % (rc, text[-300:]))
        print("  pages served to the checking guest: %d of %d" % (base, total))
        check(base < total // 50, "the handler served %d pages of %d" % (base, total))
    finally:
        e.stop()
        h.stop()
    # A guest that writes all 8 MiB (2048 pages) at 16 MiB after the restore:
    # loaded by the command line.
    state2, mem2, before2 = snapshot_128(tmp, "toucher", " touch=512")
    last2 = ticks(before2)[-1]
    h = UffdHandler(tmp, mem2, "h-cli")
    e = Ember(tmp, ["--restore", state2, "--restore-uffd", h.sock, "--resume"], name="uffd-cli")
    try:
        wait_for(lambda: ticks(e.stdout()) and ticks(e.stdout())[-1] >= last2 + 5,
                 "the restored guest to write its 8 MiB")
        check_continues(e, before2)
        rc, served, total, text = h.finish()
        check(rc == 0 and served, "handler: exit %d, %r" % (rc, text[-300:]))
        print("  pages served to the writing guest: %d (at most 1.1 x (2048 + %d))" %
              (served, base))
        check(2048 <= served <= 1.1 * (2048 + base),
              "the handler served %d pages for 2048 written and %d of working set" %
              (served, base))
    finally:
        e.stop()
        h.stop()
    # Jailed (uid 1000, no capabilities): the userfaultfd comes from the jail's
    # dev/userfaultfd; the handler, outside, listens on a socket inside the jail.
    if os.geteuid() == 0 and os.path.exists("/dev/userfaultfd"):
        jid = "uffd-%d" % os.getpid()
        root = os.path.join(tmp, os.path.basename(EMBER_ELF), jid, "root")
        os.makedirs(root)
        shutil.copyfile(state, os.path.join(root, "c.state"))
        os.chown(os.path.join(root, "c.state"), 1000, 1000)
        h = UffdHandler(tmp, mem, "h-jail")
        os.rename(h.sock, os.path.join(root, "h.sock"))
        os.chown(os.path.join(root, "h.sock"), 1000, 1000)
        try:
            outp = os.path.join(tmp, "jailed.out")
            with open(outp, "wb") as o:
                j = subprocess.Popen([JAILER, "--id", jid, "--exec-file", EMBER_ELF, "--uid", "1000",
                                      "--gid", "1000", "--chroot-base-dir", tmp, "--",
                                      "--no-api", "--restore", "/c.state", "--restore-uffd",
                                      "/h.sock", "--resume"], stdin=subprocess.DEVNULL,
                                     stdout=o, stderr=subprocess.STDOUT)
            try:
                out = lambda: open(outp, errors="replace").read()
                wait_for(lambda: ticks(out())[-1:] > [last + 3] or j.poll() is not None,
                         "the jailed guest to tick")
                check(ticks(out())[-1:] > [last + 3] and "bad page" not in out(),
                      "the jailed ember: %r" % out()[-400:])
            finally:
                if j.poll() is None:
                    j.terminate()
                j.wait()
            rc, served, _, text = h.finish()
            check(rc == 0 and served, "the jailed ember's handler: %d %r" % (rc, text))
        finally:
            h.stop()
    else:
        print("  not root or no /dev/userfaultfd here: no jailed load")
    # A handler that dies after 20 pages: ember stops, the guest never reads a page it lacks.
    h = UffdHandler(tmp, mem, "h-dies", die_after=20)
    e = Ember(tmp, ["--no-api", "--restore", state, "--restore-uffd", h.sock, "--resume"],
              api=False, name="uffd-dies")
    try:
        try:
            rc = e.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Fail("ember still runs after its page fault handler died")
        err = e.stderr()
        check(rc == 1, "exit status %d after the handler died: %r" % (rc, err[-300:]))
        line = err.rstrip("\n").split("\n")[-1]
        check(line.startswith("ember: the page fault handler") and
              "closed its connection" in line, "ember's error: %r" % err[-400:])
        check("bad page" not in e.stdout(), "the guest read a page it never got: %r" %
              e.stdout()[-300:])
        check(h.proc.wait(timeout=TIMEOUT) == 3, "the handler did not die as told")
    finally:
        e.stop()
        h.stop()
    # No handler on the socket: refused in one line, the process usable.
    e = Ember(tmp, name="uffd-none")
    try:
        expect(e.put("/snapshot/load", {"snapshot_path": state,
                                        "mem_backend": {"backend_type": "Uffd",
                                                        "backend_path": h.sock}}), 400,
               "cannot connect to the page fault handler")
        check(e.get("/").json["state"] == "Not started", "state after a refused load")
        expect(e.put("/snapshot/load", {"snapshot_path": state, "resume_vm": True,
                                        "mem_backend": {"backend_type": "File",
                                                        "backend_path": mem}}), 204)
    finally:
        e.stop()
    one_line_exit2([EMBER, "--restore", state, "--restore-uffd", h.sock], "page fault handler",
                   tmp)
    one_line_exit2([EMBER, "--restore", state, "--restore-uffd", h.sock, "--restore-mem", mem],
                   "one memory backend", tmp)
    one_line_exit2([EMBER, "--restore", state, "--restore-uffd", "/" + "u" * 200],
                   "longer than a Unix socket path", tmp)


@case
def snapshot_refusals(tmp):
    snap, mem, _ = snapshot_of_ticking_guest(tmp)
    data = open(snap, "rb").read()
    bad = {}
    flip = bytearray(data)
    flip[len(data) // 2] ^= 0x01
    bad["flipped"] = (bytes(flip), "CRC")
    bad["truncated"] = (data[:len(data) - 100], "")
    newer = bytearray(data)
    newer[8] += 1
    bad["newer"] = (bytes(newer), "version")
    for what, (content, word) in bad.items():
        p = os.path.join(tmp, what + ".state")
        with open(p, "wb") as f:
            f.write(content)
        e = Ember(tmp, name="bad-" + what)
        try:
            r = e.put("/snapshot/load", {"snapshot_path": p,
                                         "mem_backend": {"backend_type": "File",
                                                         "backend_path": mem}})
            expect(r, 400, word)
            e.alive()
            check(e.get("/").json["state"] == "Not started", "state after a refused load")
        finally:
            e.stop()
        one_line_exit2([EMBER, "--restore", p, "--restore-mem", mem], word, tmp)
    # A memory file of another size, a FIFO, a missing file.
    short = os.path.join(tmp, "short.mem")
    with open(short, "wb") as f:
        f.truncate(16 << 20)
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    for m, word in ((short, "MiB"), (fifo, "not a regular file"),
                    (os.path.join(tmp, "none"), "No such file")):
        one_line_exit2([EMBER, "--restore", snap, "--restore-mem", m], word, tmp)
    e = Ember(tmp, name="rules")
    try:
        body = {"snapshot_path": snap, "mem_backend": {"backend_type": "File",
                                                       "backend_path": mem}}
        expect(e.put("/snapshot/load", dict(body, mem_file_path=mem)), 400, "exclusively")
        expect(e.put("/snapshot/load", {"snapshot_path": snap}), 400, "mem_backend")
        # Uffd, with a memory file where the handler's socket should be.
        expect(e.put("/snapshot/load", dict(body, mem_backend={"backend_type": "Uffd",
                                                               "backend_path": mem})),
               400, "cannot connect to the page fault handler")
        check(e.get("/").json["state"] == "Not started", "state after a refused Uffd load")
        expect(e.put("/snapshot/create", {"snapshot_path": snap, "mem_file_path": mem}), 400,
               NOT_BEFORE)
        expect(e.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 32}), 204)
        expect(e.put("/snapshot/load", body), 400, "after configuring boot-specific")
    finally:
        e.stop()
    one_line_exit2([EMBER, "--restore", snap], "--restore-mem", tmp)
    one_line_exit2([EMBER, "--restore", snap, "--restore-mem", mem, "--kernel", GUEST],
                   "cannot be combined", tmp)


@case
def serial_out_path(tmp):
    e = Ember(tmp)
    try:
        serial = os.path.join(tmp, "serial.log")
        expect(e.put("/serial", {"serial_out_path": serial}), 204)
        expect(e.put("/serial", {"serial_out_path": 5}), 400, "invalid type")
        expect(e.put("/boot-source", {"kernel_image_path": GUEST,
                                      "boot_args": guest_args(loops=2000, tick=0)}), 204)
        expect(e.put("/actions", {"action_type": "InstanceStart"}), 204)
        rc = e.wait(30)
        check(rc == 0, "exit %d: %s" % (rc, e.stderr()[-300:]))
        text = open(serial).read()
        check("APIGUEST start" in text and "APIGUEST timeout" in text, "serial file %r" % text)
        check("APIGUEST" not in e.stdout(), "the console still went to stdout")
    finally:
        e.stop()


def config_doc(tmp, loops, extra=None):
    doc = {
        "boot-source": {"kernel_image_path": GUEST, "boot_args": guest_args(loops, 0),
                        "initrd_path": None},
        "drives": [{"drive_id": "rootfs", "path_on_host": disk(tmp, "cfg-root.img"),
                    "is_root_device": True, "is_read_only": True, "partuuid": None,
                    "cache_type": "Unsafe", "io_engine": "Sync", "rate_limiter": None}],
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 32, "smt": False},
        "network-interfaces": [],
        "balloon": None, "vsock": None, "mmds-config": None,
    }
    doc.update(extra or {})
    path = os.path.join(tmp, "vm.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    return path


@case
def config_file_with_api(tmp):
    path = config_doc(tmp, 3000000, {"logger": {"log_path": tmp + "/cfg.log", "level": "Debug"}})
    e = Ember(tmp, ["--config-file", path])
    try:
        check(e.get("/").json["state"] == "Running", "not running: %r" % e.get("/").json)
        cfg = e.get("/vm/config").json
        check(cfg["drives"][0]["is_read_only"] and cfg["machine-config"]["mem_size_mib"] == 32,
              "GET /vm/config %r" % cfg)
        expect(e.put("/boot-source", {"kernel_image_path": GUEST}), 400, NOT_AFTER)
        wait_for(lambda: "root=/dev/vda ro" in e.stdout(), "the guest's command line")
        check(os.path.exists(tmp + "/cfg.log"), "the config file's logger")
        expect(e.put("/actions", {"action_type": "SendCtrlAltDel"}), 204)
        check(e.wait() == 0, "exit status %s" % e.proc.returncode)
    finally:
        e.stop()


@case
def config_file_no_api(tmp):
    path = config_doc(tmp, 3000)
    default_sock = "/run/firecracker.socket"
    existed = os.path.exists(default_sock)
    p = subprocess.run([EMBER, "--no-api", "--config-file", path], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60, cwd=tmp)
    check(p.returncode == 0, "exit %d: %r" % (p.returncode, p.stderr[-300:]))
    check(b"APIGUEST timeout" in p.stdout, "guest output %r" % p.stdout[-300:])
    check(os.path.exists(default_sock) == existed, "--no-api made " + default_sock)
    # GET /vm/config output, fed back as a config file, boots the same VM
    # (from a long-running copy, then with the short loop count back)
    e = Ember(tmp, ["--config-file", config_doc(tmp, 3000000)], name="again")
    try:
        cfg = e.get("/vm/config").json
    finally:
        e.stop()
    check(cfg["boot-source"]["boot_args"] == guest_args(3000000, 0), "boot_args %r" % cfg)
    cfg["boot-source"]["boot_args"] = guest_args(3000, 0)
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.run([EMBER, "--no-api", "--config-file", path], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60)
    check(p.returncode == 0 and b"APIGUEST timeout" in p.stdout,
          "GET /vm/config as --config-file: exit %d %r" % (p.returncode, p.stderr[-300:]))


@case
def memory_limit(tmp):
    # --cgroup-memory-limit (as ember-jailer passes it): a guest larger than
    # the limit is refused at InstanceStart with a 400 and ember stays up;
    # one that fits with less than 16 MiB to spare boots, with a warning.
    e = Ember(tmp, ["--cgroup-memory-limit", str(40 << 20)])
    try:
        expect(e.put("/boot-source", {"kernel_image_path": GUEST,
                                      "boot_args": guest_args()}), 204)
        expect(e.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64}), 204)
        expect(e.put("/actions", {"action_type": "InstanceStart"}), 400,
               "the guest's 64 MiB of memory do not fit the cgroup memory limit of 40 MiB")
        e.alive()
        check(e.get("/").json["state"] == "Not started", "state after the refused start")
        check("leaves ember" not in e.stderr(), "a warning for a refused guest")
        expect(e.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 32}), 204)
        expect(e.put("/actions", {"action_type": "InstanceStart"}), 204)
        wait_for(lambda: "APIGUEST start" in e.stdout(), "the guest to start")
        check("limit of 40 MiB (given by --cgroup-memory-limit) leaves ember 8192 KiB" in
              e.stderr(), "no warning about the 8 MiB left: %r" % e.stderr()[-300:])
        expect(e.put("/actions", {"action_type": "SendCtrlAltDel"}), 204)
        check(e.wait() == 0, "exit status %s" % e.proc.returncode)
    finally:
        e.stop()
    # the config-file boot: exit status 2, one line
    one_line_exit2([EMBER, "--no-api", "--cgroup-memory-limit", str(16 << 20), "--config-file",
                    config_doc(tmp, 3000)],
                   "the guest's 32 MiB of memory do not fit the cgroup memory limit of 16 MiB", tmp)


MMDS_NOT_INIT = "MMDS error: The MMDS data store is not initialized."
MMDS_TOO_BIG = "MMDS limit exceeded error: The MMDS patch request doesn't fit."


def header(r, name):
    return [v for k, v in r.headers if k.lower() == name.lower()]


@case
def mmds_api(tmp):
    """PUT/PATCH/GET /mmds and PUT /mmds/config as Firecracker answers them
    (src/vmm/src/mmds/data_store.rs, rpc_interface.rs, request/mmds.rs,
    resources.rs; test_mmds.py's test_mmds_dummy, test_mmds_limit_scenario,
    test_deprecated_mmds_config; test_api.py's test_api_mmds_config)."""
    tap = "embm%d" % os.getpid()
    make_tap(tap)
    e = Ember(tmp, ["--mmds-size-limit", "100"])
    try:
        r = e.get("/mmds")
        check(r.status == 200 and r.raw == "{}", "GET /mmds at first: %r" % r)
        expect(e.patch("/mmds", {"a": 1}), 400, MMDS_NOT_INIT)
        # any JSON value; keys sorted, the last of duplicates, floats kept
        expect(e.request("PUT", "/mmds", raw=b'{"b":{"c":"d"},"a":[1.5],"b":{"x":"y"},"z":null}'),
               204)
        check(e.get("/mmds").raw == '{"a":[1.5],"b":{"x":"y"},"z":null}', "GET /mmds after PUT")
        check(e.get("/mmds/anything/below").raw == e.get("/mmds").raw, "GET /mmds/...")
        # merge patch: null removes, objects merge
        expect(e.patch("/mmds", {"b": {"x": None, "n": {"k": "v"}}, "z": None}), 204)
        check(e.get("/mmds").raw == '{"a":[1.5],"b":{"n":{"k":"v"}}}', "after PATCH: %r"
              % e.get("/mmds").raw)
        # the limit (--mmds-size-limit 100) on the compact JSON: 413, nothing changed
        before = e.get("/mmds").raw
        r = e.put("/mmds", {"k": "v" * 100})
        expect(r, 413, MMDS_TOO_BIG)
        expect(e.patch("/mmds", {"k": "v" * 100}), 413, MMDS_TOO_BIG)
        check(e.get("/mmds").raw == before, "a refused PUT/PATCH changed the store")
        expect(e.put("/mmds/foo", {"a": 1}), 400, "Unrecognized PUT request path `foo`.")
        expect(e.request("PUT", "/mmds", raw=b"{bad"), 400, SERDE)
        # /mmds/config: the checks in Firecracker's order
        for body, fault in [
            ({}, "missing field `network_interfaces`"),
            ({"network_interfaces": ["eth0"], "version": "V3"},
             "unknown variant `V3`, expected `V1` or `V2`"),
            ({"network_interfaces": ["eth0"], "ipv4_address": ""}, "invalid IPv4 address syntax"),
            ({"network_interfaces": ["eth0"], "ipv4_address": "1.1.1.1"},
             "MMMDS config error: The MMDS IPv4 address is not link local."),
            ({"network_interfaces": ["eth0"], "ipv4_address": "169.254.0.2"},
             "MMMDS config error: The MMDS IPv4 address is not link local."),
            ({"network_interfaces": []}, "MMMDS config error: The list of network interface IDs "
             "that allow forwarding MMDS requests is empty."),
            ({"network_interfaces": ["eth0"]}, "MMMDS config error: The list of network "
             "interface IDs provided contains at least one ID that does not correspond to any "
             "existing network interface."),
            ({"network_interfaces": ["eth0"], "bogus": 1}, "unknown field `bogus`"),
        ]:
            expect(e.put("/mmds/config", body), 400, fault)
        check(e.get("/vm/config").json["mmds-config"] is None, "mmds-config after refusals")
        expect(e.put("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": tap}), 204)
        # V1 (given or by default) is deprecated: a Deprecation header, success or not
        for body, status, dep in [({"network_interfaces": ["eth0"]}, 204, True),
                                  ({"network_interfaces": ["eth0"], "version": "V1"}, 204, True),
                                  ({"network_interfaces": [], "version": "V1"}, 400, True),
                                  ({"network_interfaces": ["eth0"], "version": "V2",
                                    "ipv4_address": "169.254.170.2", "imds_compat": True},
                                   204, False)]:
            r = e.put("/mmds/config", body)
            expect(r, status)
            check((header(r, "Deprecation") == ["true"]) == dep,
                  "%r: Deprecation header %r" % (body, header(r, "Deprecation")))
        check(e.get("/vm/config").json["mmds-config"] ==
              {"version": "V2", "network_interfaces": ["eth0"], "ipv4_address": "169.254.170.2",
               "imds_compat": True}, "mmds-config %r" % e.get("/vm/config").json["mmds-config"])
        boot(e)
        # after boot: the store works on, the configuration is fixed
        expect(e.patch("/mmds", {"c": "d"}), 204)
        check(e.get("/mmds").json == {"a": [1.5], "b": {"n": {"k": "v"}}, "c": "d"},
              "GET /mmds after boot")
        expect(e.put("/mmds/config", {"network_interfaces": ["eth0"], "version": "V2"}), 400,
               NOT_AFTER)
        e.alive()
    finally:
        e.stop()
        subprocess.run(["ip", "link", "del", tap], capture_output=True)
    # a VM booted without an MMDS interface has no store to reach
    e = Ember(tmp, name="ember2")
    try:
        boot(e)
        for m, b in [("GET", None), ("PUT", {"a": 1}), ("PATCH", {"a": 1})]:
            expect(e.request(m, "/mmds", b), 400, MMDS_NOT_INIT)
    finally:
        e.stop()
    # --metadata and the config file's mmds-config
    meta = os.path.join(tmp, "meta.json")
    with open(meta, "w") as f:
        f.write('{"latest": {"meta-data": {"ami-id": "ami-1"}}}')
    e = Ember(tmp, ["--metadata", meta], name="ember3")
    try:
        check(e.get("/mmds").raw == '{"latest":{"meta-data":{"ami-id":"ami-1"}}}',
              "GET /mmds after --metadata: %r" % e.get("/mmds").raw)
    finally:
        e.stop()


def one_line_exit2(argv, want, tmp):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=20, cwd=tmp)
    err = p.stderr.decode("utf-8", "replace")
    check(p.returncode == 2, "%r: exit %d, stderr %r" % (argv[1:], p.returncode, err))
    check(err.startswith("ember: ") and err.count("\n") == 1 and err.endswith("\n"),
          "%r: want one 'ember: ' line, got %r" % (argv[1:], err))
    check(want in err, "%r: %r lacks %r" % (argv[1:], err, want))
    check(p.stdout == b"", "%r: stdout %r" % (argv[1:], p.stdout))


@case
def same_refusal_everywhere(tmp):
    """One check per field (api-socket/vm_config.c): a bad TAP name, MAC, vCPU
    count, memory size or drive id gets the same reason from the command
    line, the API and --config-file (before, the API took "tap%d" and a
    multicast MAC that --net refused)."""
    img = disk(tmp, "same.img")
    bad = [
        # (what, --net/--drive spec, API resource, API body, config-file key, entry, reason)
        ("TAP template", ["--net", "tap=tap%d"], "/network-interfaces/eth0",
         {"iface_id": "eth0", "host_dev_name": "tap%d"}, "network-interfaces",
         'TAP name "tap%d" has an invalid character'),
        ("long TAP", ["--net", "tap=0123456789abcdef"], "/network-interfaces/eth0",
         {"iface_id": "eth0", "host_dev_name": "0123456789abcdef"}, "network-interfaces",
         'TAP name "0123456789abcdef" is longer than 15 characters'),
        ("multicast MAC", ["--net", "tap=t0,mac=01:00:5e:00:00:01"], "/network-interfaces/eth0",
         {"iface_id": "eth0", "host_dev_name": "t0", "guest_mac": "01:00:5e:00:00:01"},
         "network-interfaces", "MAC 01:00:5e:00:00:01 is a multicast address"),
        ("zero MAC", ["--net", "tap=t0,mac=00:00:00:00:00:00"], "/network-interfaces/eth0",
         {"iface_id": "eth0", "host_dev_name": "t0", "guest_mac": "00:00:00:00:00:00"},
         "network-interfaces", "MAC 00:00:00:00:00:00 is all zeroes"),
        ("vCPUs", ["--vcpus", "33"], "/machine-config", {"vcpu_count": 33, "mem_size_mib": 128},
         "machine-config", "The number of vCPUs must be greater than 0, less than 33"),
        ("no memory", ["--mem-mib", "0"], "/machine-config", {"vcpu_count": 1, "mem_size_mib": 0},
         "machine-config", "The memory size (MiB) is either 0"),
        # the API takes any size but 0 and refuses it at InstanceStart, as Firecracker
        ("little memory", ["--mem-mib", "4"], "/machine-config",
         {"vcpu_count": 1, "mem_size_mib": 4}, "machine-config",
         "ember needs a memory size from 8 to 1048576 MiB (got 4)."),
        ("too much memory", ["--mem-mib", "18446744073709551615"], "/machine-config",
         {"vcpu_count": 1, "mem_size_mib": 18446744073709551615}, "machine-config",
         "ember needs a memory size from 8 to 1048576 MiB (got 18446744073709551615)."),
        ("drive id", ["--drive", "path=%s,id=a-b" % img], None,
         {"drive_id": "a-b", "path_on_host": img, "is_root_device": False}, "drives",
         '"a-b": 1 to 64 letters, digits and underscores'),
    ]
    for i, (what, cli, resource, body, key, reason) in enumerate(bad):
        one_line_exit2([EMBER, "--kernel", GUEST] + cli, reason, tmp)
        doc = {"boot-source": {"kernel_image_path": GUEST}, "drives": []}
        doc[key] = body if key == "machine-config" else [body]
        path = os.path.join(tmp, "same.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        one_line_exit2([EMBER, "--no-api", "--config-file", path], reason, tmp)
        if resource:
            e = Ember(tmp, name="same%d" % i)
            try:
                if "memory size from" in reason:
                    expect(e.put(resource, body), 204)
                    check(e.get("/machine-config").json["mem_size_mib"] == body["mem_size_mib"],
                          "GET /machine-config: %r" % e.get("/machine-config").raw)
                    expect(e.put("/boot-source", {"kernel_image_path": GUEST}), 204)
                    expect(e.put("/actions", {"action_type": "InstanceStart"}), 400,
                           "Start microvm error: " + reason)
                else:
                    expect(e.put(resource, body), 400, reason)
            finally:
                e.stop()
    # the API's path ids follow the same grammar (Firecracker's words there)
    e = Ember(tmp, name="same-path")
    try:
        expect(e.put("/drives/a-b", {"drive_id": "a-b", "path_on_host": img,
                                     "is_root_device": False}), 400,
               "API Resource IDs can only contain alphanumeric characters and underscores.")
    finally:
        e.stop()


@case
def firecracker_http_shapes(tmp):
    """The bytes Firecracker's clients see (its micro-http and parsed_request.rs):
    - tests/integration_tests/functional/test_cmd_line_start.py
      test_config_start_with_limit: a Content-Length over
      --http-api-max-payload-size is refused on the headers, byte for byte;
    - micro-http src/common/mod.rs Method::try_from: an unknown method is
      "Invalid HTTP Method: Unsupported HTTP method.";
    - parsed_request.rs try_from: DELETE is no route ("Invalid request
      method and/or path: DELETE machine-config."), a PUT or PATCH without a
      body is "Empty PUT request."/"Empty PATCH request." on any path, a GET
      with one "GET request cannot have a body."; its describe() log line,
      and api_server/mod.rs's "API server started.";
    - serde_json's error positions ("missing field `vcpu_count` at line 1
      column 21")."""
    log = os.path.join(tmp, "fc.log")
    e = Ember(tmp, ["--http-api-max-payload-size", "250", "--log-path", log])
    try:
        r = raw_exchange(e.sock, b"PUT /mmds/config HTTP/1.1\r\nHost: localhost\r\n"
                         b"Content-Length: 260\r\nAccept: application/json\r\n\r\nsome body")
        want = (b"HTTP/1.1 400 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
                b"Content-Type: application/json\r\nContent-Length: 145\r\n\r\n"
                b"{ \"error\": \"Request payload with size 260 is larger than the limit of 250 "
                b"allowed by server.\nAll previous unanswered requests will be dropped.\" }")
        check(r == want, "payload over the limit: %r" % r)
        r = raw_exchange(e.sock, b"POST / HTTP/1.1\r\n\r\n")
        check(r.startswith(b"HTTP/1.1 400 \r\n") and
              b'{ "error": "Invalid HTTP Method: Unsupported HTTP method.\n' in r,
              "unknown method: %r" % r)
        r = raw_exchange(e.sock, b"DELETE /machine-config HTTP/1.1\r\n\r\n", shut=True)
        check(r.endswith(b'{"fault_message":"Invalid request method and/or path: DELETE '
                         b'machine-config."}'), "DELETE: %r" % r)
        for method in ("PUT", "PATCH"):
            r = raw_exchange(e.sock, b"%s /no-such-thing HTTP/1.1\r\n\r\n" % method.encode(),
                             shut=True)
            check(b'{"fault_message":"Empty %s request."}' % method.encode() in r,
                  "%s without a body: %r" % (method, r))
        expect(e.request("GET", "/", raw=b"{}"), 400, "GET request cannot have a body.")
        # serde_json's position of the error (the issue's example)
        expect(e.put("/machine-config", raw=b'{"mem_size_mib": 128}'), 400,
               "An error occurred when deserializing the json body of a request: missing field "
               "`vcpu_count` at line 1 column 21.")
        r = e.get("/")
        check(dict((k.lower(), v) for k, v in r.headers).get("server") == "Firecracker API",
              "Server header %r" % r.headers)
        expect(e.patch("/machine-config", {"vcpu_count": 2}), 204)
        wait_for(lambda: 'with body "{\\"vcpu_count\\": 2}".' in open(log).read(),
                 "the request line in the log")
        text = open(log).read()
        check("API server started." in text, "no 'API server started.' in %r" % text[:300])
        check('The API server received a Patch request on "/machine-config" with body '
              '"{\\"vcpu_count\\": 2}".' in text, "request line %r" % text[-600:])
        check("The request was executed successfully. Status code: 204 No Content." in text,
              "no success line in %r" % text[-400:])
    finally:
        e.stop()


@case
def flags(tmp):
    sock = os.path.join(tmp, "f.sock")
    bad_cfg = os.path.join(tmp, "bad.json")
    with open(bad_cfg, "w") as f:
        f.write('{"boot-source": {"kernel_image_path": "%s"}, "drives": [], "frobnicate": {}}'
                % GUEST)
    broken_cfg = os.path.join(tmp, "broken.json")
    with open(broken_cfg, "w") as f:
        f.write('{"boot-source": ')
    bad_meta = os.path.join(tmp, "bad-meta.json")
    with open(bad_meta, "w") as f:
        f.write('{"a": ')
    big_meta = os.path.join(tmp, "big-meta.json")
    with open(big_meta, "w") as f:
        f.write('{"a": "0123456789"}')
    cases = [
        ([EMBER, "--no-api"], "--no-api needs --config-file"),
        ([EMBER, "--kernel", GUEST, "--api-sock", sock], "cannot be combined"),
        ([EMBER, "--mem-mib", "64", "--config-file", bad_cfg], "cannot be combined"),
        ([EMBER, "--frobnicate"], "unknown option"),
        ([EMBER, "--api-sock"], "needs a value"),
        ([EMBER, "--api-sock", ""], "empty path"),
        ([EMBER, "--id", "bad id!", "--api-sock", sock], "--id"),
        ([EMBER, "--id", "x" * 65, "--api-sock", sock], "--id"),
        ([EMBER, "--level", "loud", "--api-sock", sock], "--level"),
        ([EMBER, "--seccomp-filter", "/f", "--api-sock", sock], "--seccomp-filter"),
        ([EMBER, "--metadata", tmp + "/none.json", "--api-sock", sock],
         "--metadata: cannot open"),
        ([EMBER, "--metadata", bad_meta, "--api-sock", sock],
         "MMDS error: metadata provided not valid json"),
        ([EMBER, "--metadata", big_meta, "--mmds-size-limit", "10", "--api-sock", sock],
         "Populating MMDS from file failed: The MMDS patch request doesn't fit."),
        ([EMBER, "--http-api-max-payload-size", "0", "--api-sock", sock], "not a number"),
        ([EMBER, "--http-api-max-payload-size", "999999", "--api-sock", sock], "not a number"),
        ([EMBER, "--no-api", "--config-file", bad_cfg], "unknown field `frobnicate`"),
        ([EMBER, "--no-api", "--config-file", broken_cfg], "EOF while parsing"),
        ([EMBER, "--no-api", "--config-file", tmp + "/none.json"], "cannot open"),
        ([EMBER, "--no-api", "--config-file", tmp], "not a regular file"),
        ([EMBER, "--api-sock", sock, "extra"], "unexpected argument"),
    ]
    for argv, want in cases:
        one_line_exit2(argv, want, tmp)
        check(not os.path.exists(sock), "%r left a socket" % argv[1:])
    # an existing path is refused, and left alone
    with open(sock, "w") as f:
        f.write("precious")
    one_line_exit2([EMBER, "--api-sock", sock], "--api-sock", tmp)
    check(open(sock).read() == "precious", "the existing file was touched")
    # Firecracker's words in the log file (test_api_socket_in_use in its tests)
    log = os.path.join(tmp, "inuse.log")
    one_line_exit2([EMBER, "--api-sock", sock, "--log-path", log], "--api-sock", tmp)
    check("Failed to open the API socket at: %s. Check that it is not already used." % sock
          in open(log).read(), "log: %r" % open(log).read()[-300:])
    os.unlink(sock)
    p = subprocess.run([EMBER, "--help"], capture_output=True, text=True, timeout=10)
    check(p.returncode == 0 and "--api-sock" in p.stdout and "--config-file" in p.stdout,
          "--help")
    # Firecracker's jailer passes these: accepted
    e = Ember(tmp, ["--id", "jailed-1", "--start-time-us", "1", "--start-time-cpu-us", "1",
                    "--parent-cpu-time-us", "5", "--no-seccomp"], name="jail")
    try:
        e.alive()
    finally:
        e.stop()


# --- hostile clients ------------------------------------------------------------------

GET = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"


@case
def hostile_headers_and_bodies(tmp):
    e = Ember(tmp)
    try:
        s = e.sock
        big_head = b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 9000 + b"\r\n\r\n"
        r = raw_exchange(s, big_head)
        check(statuses(r) in ([400], []), "oversized header: %r" % r[:200])
        many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(100)) + b"\r\n"
        check(statuses(raw_exchange(s, many)) in ([400], []), "100 headers")
        huge = (b"PUT /machine-config HTTP/1.1\r\nContent-Length: 60000\r\n\r\n" + b"{" * 60000)
        check(statuses(raw_exchange(s, huge)) in ([400], []), "oversized body")
        # no Content-Length: no body ("Empty PUT request."), the rest is garbage
        no_len = b"PUT /machine-config HTTP/1.1\r\n\r\n{\"vcpu_count\": 1, \"mem_size_mib\": 128}"
        r = raw_exchange(s, no_len, shut=True)
        check(statuses(r)[:1] == [400] and b"Empty PUT request." in r,
              "missing Content-Length: %r" % r[:300])
        chunked = (b"PUT /machine-config HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5\r\n{\"a\":\r\n0\r\n\r\n")
        check(statuses(raw_exchange(s, chunked))[:1] == [400], "chunked")
        two_len = (b"PUT /machine-config HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n"
                   b"\r\n{}")
        check(statuses(raw_exchange(s, two_len))[:1] == [400], "conflicting Content-Length")
        neg_len = b"PUT /machine-config HTTP/1.1\r\nContent-Length: -1\r\n\r\n"
        check(statuses(raw_exchange(s, neg_len))[:1] == [400], "negative Content-Length")
        # a lying (short) body then EOF: an error or a close, never a hang
        short = b"PUT /machine-config HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"vcpu_count\": 1}"
        r = raw_exchange(s, short, shut=True)
        check(statuses(r) in ([400], []), "short body + EOF: %r" % r[:200])
        # a too long body: the rest is read as the next request, which is garbage
        long_ = (b"PUT /machine-config HTTP/1.1\r\nContent-Length: 10\r\n\r\n"
                 b"{\"vcpu_count\": 1, \"mem_size_mib\": 128}")
        r = raw_exchange(s, long_, shut=True)
        check(statuses(r)[:1] == [400] and len(statuses(r)) <= 2, "long body: %r" % r[:300])
        bad_utf8_path = b"GET /\xff HTTP/1.1\r\n\r\n"
        check(statuses(raw_exchange(s, bad_utf8_path))[:1] == [400], "invalid path byte")
        http10 = b"GET / HTTP/1.0\r\n\r\n"
        check(statuses(raw_exchange(s, http10))[:1] == [400], "HTTP/1.0")
        garbage = bytes(range(256)) * 4
        check(statuses(raw_exchange(s, garbage))[:1] in ([400], []), "binary garbage")
        e.alive()
        check(e.get("/machine-config").json["vcpu_count"] == 1, "hostile input changed config")
    finally:
        e.stop()


@case
def slow_vanished_pipelined(tmp):
    e = Ember(tmp)
    try:
        s = e.sock
        # one byte at a time
        c = unix_connect(s)
        body = b"{\"vcpu_count\": 2, \"mem_size_mib\": 64}"
        req = b"PUT /machine-config HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        for b in req:
            c.send(bytes([b]))
            time.sleep(0.003)
        got = c.recv(4096)
        check(statuses(got) == [204], "slow client: %r" % got)
        c.close()
        check(e.get("/machine-config").json["vcpu_count"] == 2, "slow PUT not applied")
        # a client stalled mid-request does not hold up the others
        stalled = unix_connect(s)
        stalled.send(b"PUT /machine-config HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        t0 = time.monotonic()
        e.alive()
        check(time.monotonic() - t0 < 2, "a stalled client delayed others")
        # vanished clients: half requests, requests whose response nobody reads
        for i in range(30):
            v = unix_connect(s)
            v.send(GET if i % 2 else GET[:10])
            v.close()
        for i in range(10):
            v = unix_connect(s)
            v.send(GET * 50)
            v.shutdown(socket.SHUT_RDWR)
            v.close()
        e.alive()
        stalled.close()
        # pipelining: three requests in one write, three answers in order
        pipe = (GET + b"GET /version HTTP/1.1\r\n\r\n" +
                b"PUT /machine-config HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}" +
                b"GET /machine-config HTTP/1.1\r\nConnection: close\r\n\r\n")
        r = raw_exchange(s, pipe)
        check(statuses(r) == [200, 200, 400, 200], "pipelined: %r" % statuses(r))
        check(r.index(b"app_name") < r.index(b"firecracker_version") <
              r.index(b"missing field") < r.index(b"\"vcpu_count\":2"), "out of order: %r" % r)
        # keep-alive with http.client: many requests on one connection
        conn = UnixHTTPConnection(s)
        for i in range(20):
            conn.request("GET", "/")
            resp = conn.getresponse()
            resp.read()
            check(resp.status == 200, "keep-alive request %d: %d" % (i, resp.status))
        conn.close()
    finally:
        e.stop()


@case
def concurrent_connections(tmp):
    e = Ember(tmp)
    try:
        results = []
        lock = threading.Lock()

        def worker(i):
            try:
                c = UnixHTTPConnection(e.sock)
                if i % 2:
                    body = json.dumps({"vcpu_count": 1 + i % 4, "mem_size_mib": 128})
                    c.request("PUT", "/machine-config", body=body)
                else:
                    c.request("GET", "/")
                r = c.getresponse()
                r.read()
                c.close()
                with lock:
                    results.append(r.status)
            except Exception as ex:  # noqa: BLE001 - reported below
                with lock:
                    results.append(repr(ex))

        # 50 connections open at once, then all send
        socks = []
        for _ in range(50):
            socks.append(unix_connect(e.sock))
        for c in socks:
            c.send(GET)
        answers = [statuses(c.recv(4096)) for c in socks]
        for c in socks:
            c.close()
        check(all(a == [200] for a in answers), "50 open connections: %r" % answers)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT * 2)
        check(sorted(map(str, results)) == sorted(["200"] * 25 + ["204"] * 25),
              "50 concurrent requests: %r" % results)
        # more connections than the server keeps: refused ones are closed, it goes on
        many = []
        for _ in range(100):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(TIMEOUT)
            try:
                c.connect(e.sock)
            except OSError:
                c.close()
                continue
            many.append(c)
        for c in many:
            c.close()

        def serves():
            try:
                return e.request("GET", "/", new=True).status == 200
            except OSError:
                return False
        wait_for(serves, "the server to serve again after 100 connections")
        e.alive()
    finally:
        e.stop()


def main():
    if not os.path.exists(EMBER):
        print("FAIL setup: no %s (make)" % EMBER)
        return 1
    if not os.path.exists(GUEST):
        print("FAIL setup: no %s (make test-api builds it)" % GUEST)
        return 1
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("FAIL setup: /dev/kvm is not usable: the post-boot cases need it")
        return 1
    passed = failed = 0
    for fn in CASES:
        if ONLY and fn.__name__ not in ONLY:
            continue
        tmp = tempfile.mkdtemp(prefix="ember-api-")
        t0 = time.monotonic()
        try:
            fn(tmp)
            print("ok %s (%.1fs)" % (fn.__name__, time.monotonic() - t0))
            passed += 1
        except Fail as ex:
            print("FAIL %s: %s" % (fn.__name__, str(ex).replace("\n", "|")[:1500]))
            failed += 1
        except Exception:  # noqa: BLE001 - a crash in a case is a failed case
            tb = traceback.format_exc().strip().splitlines()
            # where in this file it happened, and what was raised
            here = [l.strip() for l in tb if "test_api.py" in l][-2:]
            print("FAIL %s: %s" % (fn.__name__, " | ".join(here + tb[-3:])[:1500]))
            failed += 1
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
