#!/usr/bin/env python3
"""End to end: snapshots through Firecracker's API (PUT /snapshot/create, PUT /snapshot/load).

Boot through the API with a data drive and the entropy device, start a counter in the guest and write a token
to the drive, pause, PUT /snapshot/create, kill wisp. A new wisp with --api-sock: corrupt, truncated and
missing files and the Uffd backend are refused with 400 and the process keeps serving (still Not started);
then PUT /snapshot/load with resume_vm true: the shell answers, the counter continues, the drive and the
entropy device work, pre-boot requests and a second load are refused. A third wisp loads the same snapshot
paused, with its serial output in a file (PUT /serial), and runs once resumed. Also: create only while
paused, load only before boot-specific configuration.

usage: api_snapshot.py WISP IMAGE INITRD
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from api import STARTED, api, curl, expect, wait_for  # noqa: E402
from guest import Guest  # noqa: E402

SKIP = 77
PROMPT = rb"/ # "
LOAD_NOT_ALLOWED = "Loading a microVM snapshot not allowed after configuring boot-specific resources."


def read_int(g, path):
    m = g.run(f"echo V=$(cat {path})", rb"V=(\d+)\r?\n")
    return int(m.group(1))


def load_body(state, mem, resume, backend="File"):
    return {"snapshot_path": state, "mem_backend": {"backend_type": backend, "backend_path": mem},
            "enable_diff_snapshots": False, "resume_vm": resume}


def origin(wisp, image, initrd, data, state, mem, tmp, token):
    """Boot through the API, run a workload, pause, snapshot, kill. Returns the counter at the snapshot."""
    sock = os.path.join(tmp, "origin.sock")
    g = Guest([wisp, "--api-sock", sock, "--id", "snap-origin"], "api-snap-origin")
    try:
        wait_for(sock)
        expect(curl(sock, "PUT", "/boot-source", {"kernel_image_path": image, "initrd_path": initrd,
                                                  "boot_args": "console=ttyS0 reboot=k panic=1 pci=off"}), 204)
        # Boot-specific configuration given: this process boots, it cannot load a snapshot any more.
        expect(curl(sock, "PUT", "/snapshot/load", load_body(state, mem, True)), 400, LOAD_NOT_ALLOWED)
        expect(curl(sock, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}), 204)
        expect(curl(sock, "PUT", "/drives/data", {"drive_id": "data", "path_on_host": data,
                                                  "is_root_device": False, "is_read_only": False}), 204)
        expect(curl(sock, "PUT", "/entropy", {}), 204)
        expect(curl(sock, "PUT", "/actions", {"action_type": "InstanceStart"}), 204)
        g.expect(rb"wisp guest: init done", 300)
        g.send("\n")
        g.expect(PROMPT, 60)
        g.run(f"echo {token}-before | dd of=/dev/vda conv=fsync 2>/dev/null; echo D=$?", rb"D=0")
        g.run("(i=0; while :; do i=$((i+1)); echo $i > /tmp/c.tmp; mv /tmp/c.tmp /tmp/counter; sleep 0.2; done) &", PROMPT)
        time.sleep(1.5)
        c0 = read_int(g, "/tmp/counter")
        assert c0 >= 2, f"counter did not run: {c0}"
        body = {"snapshot_type": "Full", "snapshot_path": state, "mem_file_path": mem}
        expect(curl(sock, "PUT", "/snapshot/create", body), 400, "Create snapshot only allowed while paused")
        expect(curl(sock, "PUT", "/snapshot/load", load_body(state, mem, True)), 400, STARTED)
        expect(curl(sock, "PATCH", "/vm", {"state": "Paused"}), 204)
        t0 = time.monotonic()
        expect(curl(sock, "PUT", "/snapshot/create", body), 204)
        print(f"\napi-snapshot: snapshot/create took {1000 * (time.monotonic() - t0):.1f} ms (request to answer), "
              f"state {os.path.getsize(state)} bytes, memory {os.stat(mem).st_blocks * 512 >> 20} MiB on disk")
        assert expect(api(sock, "GET", "/"), 200)["state"] == "Paused"
        bad = dict(body, snapshot_path=os.path.join(tmp, "no", "such", "dir", "x.state"))
        expect(curl(sock, "PUT", "/snapshot/create", bad), 400, "Create snapshot error: ")
        assert expect(api(sock, "GET", "/"), 200)["state"] == "Paused"
        g.proc.send_signal(signal.SIGKILL)
        g.proc.wait(30)
        return c0
    finally:
        g.close()


def refused_loads(sock, state, mem, tmp):
    """Bad files: 400, nothing built, the process still serves and can load."""
    data = bytearray(open(state, "rb").read())
    bad = os.path.join(tmp, "bad.state")
    corrupt = bytearray(data)
    corrupt[len(corrupt) // 2] ^= 0x40
    open(bad, "wb").write(corrupt)
    expect(curl(sock, "PUT", "/snapshot/load", load_body(bad, mem, True)), 400, "Load snapshot error: ")
    assert "CRC-32" in api(sock, "PUT", "/snapshot/load", load_body(bad, mem, True))[1]["fault_message"]
    open(bad, "wb").write(data[: len(data) - 64])
    expect(curl(sock, "PUT", "/snapshot/load", load_body(bad, mem, True)), 400, "truncated")
    expect(curl(sock, "PUT", "/snapshot/load", load_body(state, os.path.join(tmp, "missing.mem"), True)), 400,
           "Load snapshot error: ")
    short = os.path.join(tmp, "short.mem")
    with open(mem, "rb") as src, open(short, "wb") as dst:
        dst.write(src.read(1 << 20))
    expect(curl(sock, "PUT", "/snapshot/load", load_body(state, short, True)), 400, "1048576 bytes")
    expect(curl(sock, "PUT", "/snapshot/load", load_body(state, mem, True, backend="Uffd")), 400,
           "Uffd memory backend is not supported")
    expect(curl(sock, "PUT", "/snapshot/load", {"snapshot_path": state}), 400,
           "exactly one of `mem_file_path` and `mem_backend`")
    assert expect(api(sock, "GET", "/"), 200)["state"] == "Not started"
    assert expect(api(sock, "GET", "/version"), 200)["firecracker_version"]


def clone_running(wisp, state, mem, data, tmp, token, c0):
    sock = os.path.join(tmp, "clone.sock")
    g = Guest([wisp, "--api-sock", sock, "--id", "snap-clone"], "api-snap-clone")
    try:
        wait_for(sock)
        assert expect(api(sock, "GET", "/"), 200)["state"] == "Not started"
        # The logger is not boot-specific: a load may follow it.
        expect(curl(sock, "PUT", "/logger", {"log_path": os.path.join(tmp, "clone.log"), "level": "Info"}), 204)
        refused_loads(sock, state, mem, tmp)
        t0 = time.monotonic()
        expect(curl(sock, "PUT", "/snapshot/load", load_body(state, mem, True)), 204)
        ms = 1000 * (time.monotonic() - t0)
        assert expect(api(sock, "GET", "/"), 200)["state"] == "Running"
        g.send("\n")
        g.expect(PROMPT, 30)
        print(f"\napi-snapshot: snapshot/load answered in {ms:.1f} ms (curl included), shell answered "
              f"{1000 * (time.monotonic() - t0):.0f} ms after the request")
        c1 = read_int(g, "/tmp/counter")
        assert c1 >= c0, f"counter went back: {c0} -> {c1}"
        deadline = time.monotonic() + 120  # polled: a loaded host may take a while
        while (c2 := read_int(g, "/tmp/counter")) <= c1 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert c2 > c1, f"counter stopped after the load: {c1} -> {c2}"
        g.run("dd if=/dev/vda bs=512 count=1 2>/dev/null | head -n 1", (token + "-before").encode())
        g.run(f"echo {token}-after | dd of=/dev/vda bs=512 seek=1 conv=fsync 2>/dev/null; echo W=$?", rb"W=0")
        g.run("dd if=/dev/hwrng bs=16 count=1 2>/dev/null | wc -c", rb"\n\s*16\r?\n")
        # A restored microVM is a started one.
        mc = expect(api(sock, "GET", "/machine-config"), 200)
        assert mc["mem_size_mib"] == 256 and mc["vcpu_count"] == 1, mc
        expect(curl(sock, "PUT", "/snapshot/load", load_body(state, mem, True)), 400, STARTED)
        expect(curl(sock, "PUT", "/boot-source", {"kernel_image_path": wisp}), 400, STARTED)
        expect(curl(sock, "PUT", "/actions", {"action_type": "InstanceStart"}), 400, STARTED)
        expect(curl(sock, "PATCH", "/vm", {"state": "Paused"}), 204)
        assert expect(api(sock, "GET", "/"), 200)["state"] == "Paused"
        expect(curl(sock, "PATCH", "/vm", {"state": "Resumed"}), 204)
        g.run("echo resumed-$((40+2))", rb"resumed-42")
        expect(curl(sock, "PUT", "/actions", {"action_type": "FlushMetrics"}), 204)
        g.send("poweroff\n")
        assert g.wait_exit(120) == 0, "poweroff after the load"
        assert not os.path.exists(sock), "API socket left behind"
        with open(os.path.join(tmp, "clone.log")) as f:
            log = f.read()
        assert "Loaded the snapshot" in log, log[-2000:]
        with open(data, "rb") as f:
            head = f.read(1024)
        assert head.startswith(f"{token}-before\n".encode()), head[:64]
        assert head[512:].startswith(f"{token}-after\n".encode()), head[512:576]
    finally:
        g.close()


def clone_paused(wisp, state, mem, tmp):
    """resume_vm false: Paused after the load (nothing runs), Running after PATCH /vm Resumed."""
    sock = os.path.join(tmp, "paused.sock")
    out = os.path.join(tmp, "serial.out")
    p = subprocess.Popen([wisp, "--api-sock", sock], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        wait_for(sock)
        expect(curl(sock, "PUT", "/serial", {"serial_out_path": out}), 204)
        # The deprecated mem_file_path form, as older SDKs send it.
        expect(curl(sock, "PUT", "/snapshot/load", {"snapshot_path": state, "mem_file_path": mem,
                                                    "resume_vm": False}), 204)
        assert expect(api(sock, "GET", "/"), 200)["state"] == "Paused"
        p.stdin.write(b"echo loaded-$((6*7))\n")
        p.stdin.flush()
        time.sleep(1.5)
        assert b"loaded-42" not in open(out, "rb").read(), "the guest ran while paused"
        expect(curl(sock, "PATCH", "/vm", {"state": "Resumed"}), 204)
        deadline = time.monotonic() + 30
        while b"loaded-42" not in open(out, "rb").read():
            assert time.monotonic() < deadline, "no answer after resume: " + open(out, "rb").read()[-300:].decode()
            time.sleep(0.1)
        p.stdin.write(b"poweroff\n")
        p.stdin.flush()
        assert p.wait(120) == 0, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def main():
    wisp, image, initrd = (os.path.abspath(a) for a in sys.argv[1:4])
    if not shutil.which("curl"):
        print("curl missing (apt-get install curl), skipped")
        sys.exit(SKIP)
    with tempfile.TemporaryDirectory(prefix="wisp-api-snapshot-") as tmp:
        data = os.path.join(tmp, "data.img")
        with open(data, "wb") as f:
            f.truncate(1 << 20)
        state, mem = os.path.join(tmp, "vm.state"), os.path.join(tmp, "vm.mem")
        token = f"wisp-api-snap-{os.getpid()}"
        c0 = origin(wisp, image, initrd, data, state, mem, tmp, token)
        clone_running(wisp, state, mem, data, tmp, token, c0)
        clone_paused(wisp, state, mem, tmp)
        print("\napi-snapshot: OK")


if __name__ == "__main__":
    main()
