#!/usr/bin/env python3
"""End to end: wisp's Firecracker-compatible API, configuration file, metrics, logger and boot timer.

usage: api.py SCENARIO WISP IMAGE INITRD ROOTFS
  boot      Firecracker's getting-started requests with curl (plus a scripted client), full boot,
            runtime requests, pause/resume (guest time stops), metrics, logger, poweroff
  config    --config-file with the API: boots at once, GET /vm/config, pause/resume, poweroff
  noapi     --config-file --no-api: boots, no socket, poweroff; --no-api alone is refused
  errors    bad input of every kind on a microVM that is not started; the server keeps serving
  boottimer the boot timer device with a bare-metal program (needs riscv64-linux-gnu-gcc)
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from guest import Guest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77
NOT_STARTED = "The requested operation is not supported before starting the microVM."
STARTED = "The requested operation is not supported after starting the microVM."


class UnixHTTPConnection(http.client.HTTPConnection):
    """The scripted client: Python's HTTP/1.1 client over the API's Unix socket."""

    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def api(sock, method, path, body=None, raw=None):
    """One request with the scripted client; returns (status, parsed JSON body or None)."""
    conn = UnixHTTPConnection(sock)
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    text = r.read()
    conn.close()
    return r.status, (json.loads(text) if text else None)


def curl(sock, method, path, data=None, extra=()):
    """One request with curl, as in Firecracker's getting-started guide; returns (status, body JSON or None)."""
    argv = ["curl", "--unix-socket", sock, "-s", "-o", "-", "-w", "\n%{http_code}", "-X", method,
            f"http://localhost{path}", "-H", "Accept: application/json", "-H", "Content-Type: application/json",
            *extra]
    if data is not None:
        argv += ["-d", data if isinstance(data, str) else json.dumps(data)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout
    text, _, code = out.rpartition("\n")
    return int(code), (json.loads(text) if text.strip() else None)


def expect(result, status, fault=None):
    got, body = result
    assert got == status, f"status {got}, expected {status}: {body}"
    if fault is not None:
        assert body and fault in body.get("fault_message", ""), f"fault {body!r} lacks {fault!r}"
        assert list(body) == ["fault_message"], f"extra keys in {body!r}"
    return body


def wait_for(path, timeout=10):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear")
        time.sleep(0.02)


def shell(g):
    g.expect(rb"wisp guest: init done", 300)
    g.send("\n")
    g.expect(rb"/ # ", 60)


def uptime(g):
    m = g.run("cat /proc/uptime", rb"\n(\d+\.\d+) \d+\.\d+\r?\n/ # ")
    return float(m.group(1))


def poweroff(g):
    g.send("poweroff\n")
    code = g.wait_exit(120)
    assert code == 0, f"wisp exit status {code}, expected 0"


def last_metrics(path):
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    assert lines, "no metrics written"
    return [json.loads(line) for line in lines]


def copy_rootfs(rootfs, tmp):
    dst = os.path.join(tmp, "rootfs.ext4")
    shutil.copyfile(rootfs, dst)
    return dst


# ---- scenarios ---------------------------------------------------------------------------------------


def scenario_boot(wisp, image, initrd, rootfs, tmp):
    sock = os.path.join(tmp, "firecracker.socket")
    log = os.path.join(tmp, "wisp.log")
    metrics = os.path.join(tmp, "metrics.json")
    disk = copy_rootfs(rootfs, tmp)
    g = Guest([wisp, "--api-sock", sock, "--id", "e2e-api", "--boot-timer"], "api-boot")
    try:
        wait_for(sock)
        expect(curl(sock, "PUT", "/logger", {"log_path": log, "level": "Info", "show_level": True,
                                              "show_log_origin": False}), 204)
        expect(curl(sock, "PUT", "/metrics", {"metrics_path": metrics}), 204)
        info = expect(curl(sock, "GET", "/"), 200)
        assert info == {"id": "e2e-api", "state": "Not started", "vmm_version": info["vmm_version"],
                        "app_name": "wisp"}, info
        # Firecracker's getting-started guide, request for request.
        expect(curl(sock, "PUT", "/boot-source", f'''{{
            "kernel_image_path": "{image}",
            "initrd_path": "{initrd}",
            "boot_args": "console=ttyS0 reboot=k panic=1 pci=off"
        }}'''), 204)
        expect(curl(sock, "PUT", "/drives/rootfs", f'''{{
            "drive_id": "rootfs",
            "path_on_host": "{disk}",
            "is_root_device": true,
            "is_read_only": false
        }}'''), 204)
        # The guide's optional machine configuration, 2 vCPUs (with less memory); 33 is too many.
        expect(curl(sock, "PUT", "/machine-config", '{"vcpu_count": 33, "mem_size_mib": 256}'), 400, "vCPU")
        expect(curl(sock, "PUT", "/machine-config", '{"vcpu_count": 2, "mem_size_mib": 256}'), 204)
        assert expect(api(sock, "GET", "/machine-config"), 200)["mem_size_mib"] == 256
        expect(api(sock, "PATCH", "/vm", {"state": "Paused"}), 400, NOT_STARTED)
        t0 = time.monotonic()
        expect(curl(sock, "PUT", "/actions", '{"action_type": "InstanceStart"}'), 204)
        assert expect(api(sock, "GET", "/"), 200)["state"] == "Running"

        shell(g)
        print(f"\napi-boot: prompt {time.monotonic() - t0:.2f}s after InstanceStart")
        g.run("cat /proc/cmdline", rb"pci=off root=/dev/vda rw")
        g.run("grep -c vda /proc/partitions", rb"\n1\r?\n")
        g.run("echo CPUS=$(nproc)", rb"CPUS=2\r?\n")

        # The API answers while the guest runs; pre-boot resources are refused.
        assert expect(api(sock, "GET", "/machine-config"), 200)["vcpu_count"] == 2
        expect(api(sock, "PUT", "/boot-source", {"kernel_image_path": image}), 400, STARTED)
        expect(api(sock, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}), 400, STARTED)
        expect(api(sock, "PUT", "/drives/x", {"drive_id": "x", "path_on_host": disk, "is_root_device": False}),
               400, STARTED)
        expect(api(sock, "PUT", "/actions", {"action_type": "InstanceStart"}), 400, STARTED)
        expect(api(sock, "PUT", "/actions", {"action_type": "SendCtrlAltDel"}), 400, "not supported on RISC-V")
        cfg = expect(api(sock, "GET", "/vm/config"), 200)
        assert cfg["boot-source"]["kernel_image_path"] == image, cfg
        assert cfg["drives"][0]["drive_id"] == "rootfs" and cfg["drives"][0]["is_root_device"], cfg
        assert cfg["machine-config"]["mem_size_mib"] == 256, cfg

        # Pause: the guest stops (no console echo, guest clock frozen); resume: it goes on.
        u1 = uptime(g)
        h1 = time.monotonic()
        expect(curl(sock, "PATCH", "/vm", '{"state": "Paused"}'), 204)
        assert expect(api(sock, "GET", "/"), 200)["state"] == "Paused"
        expect(api(sock, "PATCH", "/vm", {"state": "Paused"}), 204)  # pausing a paused VM is fine
        mark = len(g.out)
        g.send("cat /proc/uptime\n")
        time.sleep(3)
        g._read(0.1)
        assert len(g.out) == mark, f"guest produced output while paused: {g.out[mark:]!r}"
        expect(curl(sock, "PATCH", "/vm", '{"state": "Resumed"}'), 204)
        m = g.expect(rb"\n(\d+\.\d+) \d+\.\d+\r?\n/ # ", 30, since=mark)
        u2 = float(m.group(1))
        h2 = time.monotonic()
        print(f"api-boot: host {h2 - h1:.2f}s, guest {u2 - u1:.2f}s across a 3 s pause")
        assert u2 - u1 < (h2 - h1) - 2.5, f"guest time advanced while paused: guest {u2 - u1}, host {h2 - h1}"
        assert expect(api(sock, "GET", "/"), 200)["state"] == "Running"
        g.run("echo after-resume-$((40+2))", rb"after-resume-42")

        # Metrics on demand.
        expect(curl(sock, "PUT", "/actions", '{"action_type": "FlushMetrics"}'), 204)
        lines = last_metrics(metrics)
        total = {}
        for line in lines:
            assert "utc_timestamp_ms" in line
            for group, values in line.items():
                if isinstance(values, dict):
                    for k, v in values.items():
                        total[f"{group}.{k}"] = total.get(f"{group}.{k}", 0) + v
        assert total["uart.write_count"] > 1000, total
        assert total["uart.read_count"] > 10, total
        assert total["vcpu.instructions"] > 10**6, total
        assert total["put_api_requests.actions_count"] >= 3, total
        assert total["put_api_requests.machine_cfg_fails"] >= 1, total
        assert total["block.read_count"] > 0, total

        # The shipped guest kernel has /dev/mem (CONFIG_DEVMEM): its init signals the boot timer.
        g.run("[ -c /dev/mem ] && echo y''es || echo n''o", rb"yes")
        poweroff(g)
        assert not os.path.exists(sock), "API socket left behind"
        with open(log) as f:
            text = f.read()
        assert "[e2e-api:api:INFO] Successfully started the microVM" in text, text[-2000:]
        assert "The API server received a PUT request on \"/actions\"" in text
        assert re.search(r"Guest-boot-time = +\d+ us \d+ ms", text), "no Guest-boot-time in the log"
        print("api-boot: OK")
    finally:
        g.close()


def vm_config(image, initrd, disk, tmp):
    return {
        "boot-source": {"kernel_image_path": image, "initrd_path": initrd,
                        "boot_args": "console=ttyS0 reboot=k panic=1 pci=off"},
        "drives": [{"drive_id": "rootfs", "path_on_host": disk, "is_root_device": True, "is_read_only": False}],
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 256, "smt": False},
        "network-interfaces": [],
        "logger": {"log_path": os.path.join(tmp, "wisp.log"), "level": "Info"},
        "metrics": {"metrics_path": os.path.join(tmp, "metrics.json")},
    }


def scenario_config(wisp, image, initrd, rootfs, tmp):
    sock = os.path.join(tmp, "api.sock")
    disk = copy_rootfs(rootfs, tmp)
    cfg = vm_config(image, initrd, disk, tmp)
    path = os.path.join(tmp, "vm.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    g = Guest([wisp, "--api-sock", sock, "--config-file", path], "api-config")
    try:
        shell(g)
        wait_for(sock)
        assert expect(api(sock, "GET", "/"), 200)["state"] == "Running"
        got = expect(api(sock, "GET", "/vm/config"), 200)
        assert got["boot-source"] == cfg["boot-source"], got
        assert got["machine-config"]["mem_size_mib"] == 256, got
        assert got["drives"][0]["path_on_host"] == disk, got
        assert got["logger"]["log_path"] == cfg["logger"]["log_path"], got
        assert got["metrics"] == cfg["metrics"], got
        expect(api(sock, "PATCH", "/vm", {"state": "Paused"}), 204)
        expect(api(sock, "PATCH", "/vm", {"state": "Resumed"}), 204)
        g.run("cat /proc/cmdline", rb"root=/dev/vda rw")
        poweroff(g)
        assert not os.path.exists(sock)
        assert last_metrics(cfg["metrics"]["metrics_path"]), "no metrics at exit"
        print("api-config: OK")
    finally:
        g.close()


def scenario_noapi(wisp, image, initrd, rootfs, tmp):
    r = subprocess.run([wisp, "--no-api"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--no-api needs --config-file" in r.stderr, r
    disk = copy_rootfs(rootfs, tmp)
    cfg = vm_config(image, initrd, disk, tmp)
    path = os.path.join(tmp, "vm.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    before = set(os.listdir(tmp))
    g = Guest([wisp, "--no-api", "--config-file", path], "api-noapi")
    try:
        shell(g)
        g.run("uname -m", rb"riscv64")
        created = set(os.listdir(tmp)) - before
        assert not [n for n in created if n.endswith(".sock") or n.endswith(".socket")], created
        poweroff(g)
        print("api-noapi: OK")
    finally:
        g.close()


def scenario_errors(wisp, image, initrd, rootfs, tmp):
    sock = os.path.join(tmp, "api.sock")
    # A socket path that exists is refused, as in Firecracker.
    with open(sock, "w"):
        pass
    r = subprocess.run([wisp, "--api-sock", sock], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "already exists" in r.stderr, r
    os.unlink(sock)
    # Invalid command lines and configuration files.
    r = subprocess.run([wisp, "--config-file", "/nonexistent.json", "--no-api"], capture_output=True, text=True)
    assert r.returncode == 1 and "cannot open the configuration file" in r.stderr, r
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        f.write('{"boot-source": {"kernel_image_path": "%s", "initrd": "x"}}' % image)
    r = subprocess.run([wisp, "--config-file", bad, "--no-api"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "boot-source: unknown field `initrd`" in r.stderr, r
    r = subprocess.run([wisp, "--config-file", bad, "--kernel", image], capture_output=True, text=True)
    assert r.returncode == 2, r
    r = subprocess.run([wisp, "--id", "bad id!", "--api-sock", sock], capture_output=True, text=True)
    assert r.returncode == 2 and "--id" in r.stderr, r

    p = subprocess.Popen([wisp, "--api-sock", sock, "--http-api-max-payload-size", "51200"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(sock)
        des = "An error occurred when deserializing the json body of a request"
        expect(curl(sock, "PUT", "/boot-source", '{"kernel_image_path": '), 400, des)
        expect(curl(sock, "PUT", "/boot-source", "not json"), 400, des)
        expect(curl(sock, "PUT", "/boot-source", {"kernel_image_path": image, "bogus": 1}), 400,
               "unknown field `bogus`")
        expect(curl(sock, "PUT", "/boot-source", {"kernel_image_path": 42}), 400,
               "invalid type for `kernel_image_path`")
        expect(curl(sock, "PUT", "/boot-source", {"initrd_path": initrd}), 400, "missing field `kernel_image_path`")
        expect(curl(sock, "PUT", "/boot-source", {"kernel_image_path": "/no/such/kernel"}), 400,
               "The kernel file cannot be opened")
        expect(curl(sock, "PUT", "/machine-config", {"vcpu_count": "one", "mem_size_mib": 128}), 400,
               "invalid type for `vcpu_count`")
        expect(curl(sock, "PUT", "/machine-config", {"vcpu_count": 1}), 400, "missing field `mem_size_mib`")
        expect(curl(sock, "PATCH", "/machine-config", {"mem_size_mib": 1}), 400, "memory size")
        expect(curl(sock, "PUT", "/machine-config", '{"vcpu_count": 1, "vcpu_count": 1, "mem_size_mib": 64}'),
               400, "duplicate field `vcpu_count`")
        expect(curl(sock, "PUT", "/drives/rootfs", {"drive_id": "other", "path_on_host": rootfs,
                                                    "is_root_device": True}), 400, "does not match")
        expect(curl(sock, "PUT", "/drives/a-b", {"drive_id": "a-b", "path_on_host": rootfs,
                                                 "is_root_device": True}), 400, "alphanumeric")
        expect(curl(sock, "PUT", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "/no/disk",
                                                    "is_root_device": True}), 400, "Unable to open")
        expect(curl(sock, "PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "tap0",
                                                              "guest_mac": "zz"}), 400, "guest_mac")
        expect(curl(sock, "PUT", "/actions", {"action_type": "Reboot"}), 400, "unknown variant `Reboot`")
        expect(curl(sock, "PUT", "/actions", {"action_type": "InstanceStart"}), 400,
               "Cannot start microvm without kernel configuration.")
        expect(curl(sock, "PUT", "/vsock", {"guest_cid": 2, "uds_path": "/tmp/v.sock"}), 400, "at least 3")
        expect(curl(sock, "PUT", "/balloon", {"amount_mib": 1}), 400, "deflate_on_oom")
        expect(curl(sock, "PUT", "/snapshot/create", {"snapshot_path": "/s", "mem_file_path": "/m"}), 400,
               NOT_STARTED)
        # Nothing boot-specific was accepted above, so this is a load, refused for its missing file (snapshot
        # loads themselves: api_snapshot.py).
        expect(curl(sock, "PUT", "/snapshot/load", {"snapshot_path": "/s", "mem_file_path": "/m"}), 400,
               "Load snapshot error: cannot open the snapshot state file")
        expect(curl(sock, "GET", "/no/such/path"), 400, "Invalid request method and/or path: GET /no/such/path.")
        expect(curl(sock, "DELETE", "/drives/rootfs"), 400, "Invalid request method and/or path: DELETE")
        expect(curl(sock, "POST", "/actions", {"action_type": "InstanceStart"}), 400, "Invalid request method")
        expect(curl(sock, "GET", "/", "{}"), 400, "GET request cannot have a body.")
        expect(curl(sock, "PUT", "/boot-source"), 400, "Empty PUT request.")
        expect(api(sock, "PATCH", "/vm", raw=""), 400, "Empty PATCH request.")
        expect(api(sock, "PUT", "/boot-source", raw='{"kernel_image_path": "a\\u0000b"}'), 400, "\\u0000")
        # Bodies over the limit: declared, streamed (chunked), and through curl's 100-continue.
        huge = json.dumps({"kernel_image_path": "x" * 60000})
        expect(curl(sock, "PUT", "/boot-source", huge), 400, "larger than the limit of 51200")
        expect(curl(sock, "PUT", "/boot-source", huge, extra=["-H", "Transfer-Encoding: chunked"]), 400,
               "larger than the limit of 51200")
        expect(api(sock, "PUT", "/boot-source", raw=huge), 400, "larger than the limit")
        # A huge declared length is answered before any of it is sent.
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(sock)
            s.sendall(b"PUT /boot-source HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000000\r\n\r\n{")
            reply = s.recv(4096)
            assert reply.startswith(b"HTTP/1.1 400") and b"size 100000000 is larger" in reply, reply
        # Not HTTP at all.
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(sock)
            s.sendall(b"HELLO THERE\r\n\r\n")
            reply = s.recv(4096)
            assert reply.startswith(b"HTTP/1.1 4"), reply
        # Nothing was half-applied, and the server still answers.
        cfg = expect(api(sock, "GET", "/vm/config"), 200)
        assert "boot-source" not in cfg and cfg["drives"] == [] and cfg["network-interfaces"] == [], cfg
        assert cfg["machine-config"] == {"vcpu_count": 1, "mem_size_mib": 128, "smt": False,
                                         "track_dirty_pages": False, "huge_pages": "None"}, cfg
        assert expect(api(sock, "GET", "/version"), 200)["firecracker_version"]
        assert expect(api(sock, "GET", "/"), 200)["state"] == "Not started"
        # A signal ends an unstarted wisp cleanly.
        p.send_signal(signal.SIGTERM)
        assert p.wait(30) == 128 + signal.SIGTERM
        assert not os.path.exists(sock), "API socket left behind"
        print("api-errors: OK")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def scenario_boottimer(wisp, image, initrd, rootfs, tmp):
    cc = shutil.which("riscv64-linux-gnu-gcc")
    if not cc:
        print("boottimer: riscv64-linux-gnu-gcc missing, skipped")
        sys.exit(SKIP)
    isa = os.path.join(HERE, "..", "isa")
    elf = os.path.join(tmp, "boottimer.elf")
    subprocess.run([cc, "-march=rv64gc", "-mabi=lp64d", "-fno-pie", "-no-pie", "-nostdlib", "-nostartfiles",
                    "-static", "-mcmodel=medany", "-Wl,--build-id=none", "-I" + isa, "-T",
                    os.path.join(isa, "link.ld"), "-o", elf, os.path.join(HERE, "boottimer.S")], check=True)
    log = os.path.join(tmp, "boot.log")
    r = subprocess.run([wisp, "--elf", elf, "--boot-timer", "--timeout", "20", "--log-path", log, "--level", "Info"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    with open(log) as f:
        text = f.read()
    m = re.search(r"Guest-boot-time = +(\d+) us (\d+) ms, +(\d+) CPU us (\d+) CPU ms", text)
    assert m, text
    # Without the device the store faults: the program's trap handler reports 200 + 7.
    r = subprocess.run([wisp, "--elf", elf, "--timeout", "20"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 207, r
    print(f"boottimer: OK ({m.group(0)})")


def main():
    scenario, wisp, image, initrd, rootfs = sys.argv[1:6]
    image, initrd, rootfs = (os.path.abspath(p) for p in (image, initrd, rootfs))
    if not shutil.which("curl"):
        print("curl missing (apt-get install curl), skipped")
        sys.exit(SKIP)
    fn = globals()[f"scenario_{scenario}"]
    with tempfile.TemporaryDirectory(prefix=f"wisp-api-{scenario}-") as tmp:
        fn(os.path.abspath(wisp), image, initrd, rootfs, tmp)


if __name__ == "__main__":
    main()
