#!/usr/bin/env python3
"""vsock against virtio-net/TAP, and the memory the balloon and free page reporting give back, same run.

usage: vsock_balloon.py WISP IMAGE INITRD [runs]      (as root: the TAP figures need a network namespace)

Streams: an echo server in the guest (wisp-echo, on vsock port 52 and on TCP port 5200) and a client on the
host. "echo" sends 32 MiB and reads the same bytes back (checked) while it sends: MB/s (10^6 bytes per second)
of data that went host -> guest -> host. "round trip" is a 64-byte message sent and read back, one at a time:
the median in microseconds. vsock goes through wisp's Unix socket (uds_path, "CONNECT 52"); TCP through a TAP
interface in a private namespace, to wisp's virtio-net and to QEMU's (qemu-system-riscv64 -machine virt, its
user-space virtio-net: no vhost; QEMU's vsock needs vhost-vsock in the host kernel and is left out).

Memory: the guest touches and frees 200 MiB (its free memory is then resident, as after a while of work), then
touches and frees 100 MiB; "balloon" is how far the VMM's RSS (/proc/PID/smaps_rollup) falls when the balloon
is inflated to 150 MiB; "reporting" is how far it falls, with free page reporting on and no balloon, after
the guest frees 100 MiB it held. The same for QEMU's virtio-balloon (QMP "balloon"; free-page-reporting=on).

Prints a table of medians over the runs and the ratios.
"""
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from api import api, expect, shell  # noqa: E402
from guest import Guest, connect_retry  # noqa: E402

MB = 1000 * 1000
ECHO_BYTES = 32 << 20
MSG = 64
ROUND_TRIPS = 2000
HOST_IP, GUEST_IP = "10.79.0.1", "10.79.0.2"
TAP = "wvbench0"
MEM = 256
ARGS = "console=ttyS0 panic=1"
VSOCK_PORT, TCP_PORT = 52, 5200


# ---- the host's client (run as a child process: in the namespace for TCP) ---------------------------------

def open_stream(kind, where):
    if kind == "vsock":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(where)
        s.sendall(f"CONNECT {VSOCK_PORT}\n".encode())
        line = b""
        while not line.endswith(b"\n"):
            c = s.recv(1)
            if not c:
                raise AssertionError("vsock: closed before OK")
            line += c
        assert line.startswith(b"OK "), line
    else:
        s = connect_retry((where, TCP_PORT), pause=0.2)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(300)
    return s


def recv_exact(s, n):
    got = bytearray()
    while len(got) < n:
        c = s.recv(n - len(got))
        if not c:
            raise AssertionError("closed early")
        got += c
    return bytes(got)


def client(kind, where):
    """Round trips, then the echo stream; prints one JSON line."""
    s = open_stream(kind, where)
    msg = bytes(range(MSG))
    for _ in range(50):  # warm up (translations, caches)
        s.sendall(msg)
        recv_exact(s, MSG)
    rtt = []
    for _ in range(ROUND_TRIPS):
        t0 = time.perf_counter()
        s.sendall(msg)
        back = recv_exact(s, MSG)
        rtt.append(time.perf_counter() - t0)
    assert back == msg
    s.close()

    data = os.urandom(1 << 20) * (ECHO_BYTES >> 20)
    s = open_stream(kind, where)

    def sender():
        view = memoryview(data)
        for off in range(0, len(data), 1 << 16):
            s.sendall(view[off:off + (1 << 16)])
        s.shutdown(socket.SHUT_WR)

    h, got = hashlib.sha256(), 0
    t0 = time.perf_counter()
    th = threading.Thread(target=sender)
    th.start()
    while True:
        c = s.recv(1 << 16)
        if not c:
            break
        h.update(c)
        got += len(c)
    t = time.perf_counter() - t0
    th.join()
    s.close()
    assert got == len(data) and h.digest() == hashlib.sha256(data).digest(), f"{kind}: echo lost or changed bytes"
    print(json.dumps({"echo": got / t / MB, "rtt": statistics.median(rtt) * 1e6}), flush=True)


def run_client(kind, where, ns=None):
    argv = [sys.executable, os.path.abspath(__file__), "--client", kind, where]
    if ns:
        argv = ["ip", "netns", "exec", ns] + argv
    out = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise AssertionError(f"{kind} client failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- streams -----------------------------------------------------------------------------------------------

def netns_up(ns):
    for cmd in (["ip", "netns", "add", ns], ["ip", "-n", ns, "link", "set", "lo", "up"],
                ["ip", "-n", ns, "tuntap", "add", "dev", TAP, "mode", "tap"],
                ["ip", "-n", ns, "addr", "add", f"{HOST_IP}/24", "dev", TAP],
                ["ip", "-n", ns, "link", "set", TAP, "up"]):
        subprocess.run(cmd, check=True)


def boot(g):
    if b"panic" in g.expect(rb"wisp guest: init done|Kernel panic", 600).group(0):
        raise AssertionError(f"{g.name}: the guest kernel panicked")
    g.send("\n")
    g.expect(rb"/ # ", 60)


def streams(peer, wisp, image, initrd, tmp, ns):
    """One boot of `peer`: {figure: value}."""
    uds = f"{tmp}/v{time.monotonic_ns()}.sock"
    if peer == "wisp":
        argv = [wisp, "--kernel", image, "--initrd", initrd, "--mem", str(MEM), "--cmdline", ARGS,
                "--vsock", f"3,{uds}"] + (["--net", f"tap={TAP}"] if ns else [])
    else:
        argv = ["qemu-system-riscv64", "-machine", "virt", "-nographic", "-m", str(MEM), "-kernel", image,
                "-initrd", initrd, "-append", ARGS, "-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no",
                "-device", "virtio-net-device,netdev=n0"]
    g = Guest(["ip", "netns", "exec", ns] + argv if ns else argv, peer)
    res = {}
    try:
        boot(g)
        if peer == "wisp":
            g.run(f"wisp-echo {VSOCK_PORT} > /tmp/v.out & sleep 1; cat /tmp/v.out", rb"LISTENING")
            r = run_client("vsock", uds)
            res["vsock echo (MB/s)"], res["vsock round trip (us)"] = r["echo"], r["rtt"]
        if ns:
            g.run(f"ip addr add {GUEST_IP}/24 dev eth0; ip link set eth0 up; ping -c 1 -W 10 {HOST_IP}",
                  rb"1 packets received", 60)
            g.run(f"wisp-echo -t {TCP_PORT} > /tmp/t.out & sleep 1; cat /tmp/t.out", rb"LISTENING")
            r = run_client("tcp", GUEST_IP, ns)
            res["tap echo (MB/s)"], res["tap round trip (us)"] = r["echo"], r["rtt"]
        g.send("poweroff\n")
        g.wait_exit(120)
        return res
    finally:
        g.close()


# ---- memory ------------------------------------------------------------------------------------------------

def rss_mib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no Rss")


def until(fn, timeout=120, pause=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(pause)
    raise AssertionError("timed out")


def touch(g, mib):
    g.run(f"wisp-memtouch {mib}", rf"TOUCHED {mib} OK(?s:.*?)\n/ # ".encode(), 300)


def hold_and_free(g, pid):
    """The guest holds 100 MiB, then frees it: (RSS while held, RSS once it stopped falling)."""
    g.run("wisp-memtouch 100 hold < /dev/zero > /tmp/hold.out & sleep 0.5; echo H""OLD", rb"\nHOLD")
    g.run("sleep 3; cat /tmp/hold.out", rb"TOUCHED 100 OK", 120)
    held = rss_mib(pid)
    g.run("killall wisp-memtouch; echo K""ILLED", rb"\nKILLED")
    # Free page reporting works in the background (the guest waits ~2 s before it reports): the lowest RSS
    # seen until it stops falling for a few seconds.
    low, still = held, 0
    while still < 8:
        time.sleep(0.5)
        r = rss_mib(pid)
        still = still + 1 if r > low - 1 else 0
        low = min(low, r)
    return held, low


class Qmp:
    def __init__(self, path):
        self.s = connect_unix(path)
        self.f = self.s.makefile("rwb")
        self.read()
        self.cmd("qmp_capabilities")

    def read(self):
        while True:
            m = json.loads(self.f.readline())
            if "event" not in m:
                return m

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        self.f.flush()
        r = self.read()
        assert "return" in r, r
        return r["return"]


def connect_unix(path):
    until(lambda: os.path.exists(path), 60, 0.1)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def memory_wisp(wisp, image, initrd, tmp):
    res = {}
    # The balloon.
    sock = f"{tmp}/b{time.monotonic_ns()}.sock"
    g = Guest([wisp, "--api-sock", sock], "wisp-balloon")
    try:
        until(lambda: os.path.exists(sock), 10, 0.02)
        expect(api(sock, "PUT", "/boot-source", {"kernel_image_path": image, "initrd_path": initrd,
                                                 "boot_args": ARGS}), 204)
        expect(api(sock, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": MEM}), 204)
        expect(api(sock, "PUT", "/balloon", {"amount_mib": 0, "deflate_on_oom": True, "stats_polling_interval_s": 1}),
               204)
        expect(api(sock, "PUT", "/actions", {"action_type": "InstanceStart"}), 204)
        shell(g)
        touch(g, 200)
        touch(g, 100)
        before = rss_mib(g.proc.pid)
        expect(api(sock, "PATCH", "/balloon", {"amount_mib": 150}), 204)
        until(lambda: expect(api(sock, "GET", "/balloon/statistics"), 200)["actual_mib"] == 150)
        res["balloon 150 MiB: RSS given back (MiB)"] = before - rss_mib(g.proc.pid)
        g.send("poweroff\n")
        g.wait_exit(120)
    finally:
        g.close()
    # Free page reporting, no balloon.
    sock = f"{tmp}/r{time.monotonic_ns()}.sock"
    g = Guest([wisp, "--api-sock", sock], "wisp-reporting")
    try:
        until(lambda: os.path.exists(sock), 10, 0.02)
        expect(api(sock, "PUT", "/boot-source", {"kernel_image_path": image, "initrd_path": initrd,
                                                 "boot_args": ARGS}), 204)
        expect(api(sock, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": MEM}), 204)
        expect(api(sock, "PUT", "/balloon", {"amount_mib": 0, "deflate_on_oom": False,
                                             "free_page_reporting": True}), 204)
        expect(api(sock, "PUT", "/actions", {"action_type": "InstanceStart"}), 204)
        shell(g)
        touch(g, 200)
        held, low = hold_and_free(g, g.proc.pid)
        res["reporting: RSS given back (MiB)"] = held - low
        g.send("poweroff\n")
        g.wait_exit(120)
    finally:
        g.close()
    return res


def memory_qemu(image, initrd, tmp):
    res = {}
    for mode in ("balloon", "reporting"):
        qmp = f"{tmp}/q{time.monotonic_ns()}.qmp"
        dev = "virtio-balloon-device,deflate-on-oom=on" if mode == "balloon" else \
            "virtio-balloon-device,free-page-reporting=on"
        g = Guest(["qemu-system-riscv64", "-machine", "virt", "-nographic", "-m", str(MEM), "-kernel", image,
                   "-initrd", initrd, "-append", ARGS, "-device", dev, "-qmp", f"unix:{qmp},server=on,wait=off"],
                  f"qemu-{mode}")
        try:
            boot(g)
            q = Qmp(qmp)
            touch(g, 200)
            if mode == "balloon":
                touch(g, 100)
                before = rss_mib(g.proc.pid)
                q.cmd("balloon", value=(MEM - 150) << 20)  # QEMU's value: what the guest keeps
                until(lambda: q.cmd("query-balloon")["actual"] == (MEM - 150) << 20)
                res["balloon 150 MiB: RSS given back (MiB)"] = before - rss_mib(g.proc.pid)
            else:
                held, low = hold_and_free(g, g.proc.pid)
                res["reporting: RSS given back (MiB)"] = held - low
            g.send("poweroff\n")
            g.wait_exit(120)
        finally:
            g.close()
    return res


def main():
    if sys.argv[1] == "--client":
        client(sys.argv[2], sys.argv[3])
        return
    wisp, image, initrd = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    use_net = os.geteuid() == 0
    if not use_net:
        print("vsock_balloon: not root: no TAP figures (they need a network namespace)")
    tmp = tempfile.mkdtemp(prefix="wisp-bench-vb-")
    res = {"wisp": [], "qemu": []}
    try:
        for _ in range(runs):
            ns = f"wisp-vbench-{os.getpid()}" if use_net else None
            if ns:
                netns_up(ns)
            try:
                w = streams("wisp", wisp, image, initrd, tmp, ns)
                q = streams("qemu", wisp, image, initrd, tmp, ns) if ns else {}
            finally:
                if ns:
                    subprocess.run(["ip", "netns", "del", ns])
            w.update(memory_wisp(wisp, image, initrd, tmp))
            q.update(memory_qemu(image, initrd, tmp))
            res["wisp"].append(w)
            res["qemu"].append(q)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(peer, k):
        vals = [r[k] for r in res[peer] if k in r]
        return statistics.median(vals) if vals else None

    def cell(v):
        return f"{v:12.1f}" if v is not None else f"{'-':>12}"

    print("\n(us rows: lower is better, wisp/qemu < 1 means wisp is faster; the others: higher is better)")
    print(f"{'figure (median of %d)' % runs:40}{'wisp':>12}{'qemu':>12}{'wisp/qemu':>11}")
    for k in res["wisp"][0]:
        w, q = med("wisp", k), med("qemu", k)
        print(f"{k:40}{cell(w)}{cell(q)}" + (f"{w / q:11.2f}" if w and q else f"{'-':>11}"))
    if use_net:
        echo = med("wisp", "vsock echo (MB/s)") / med("wisp", "tap echo (MB/s)")
        rtt = med("wisp", "vsock round trip (us)") / med("wisp", "tap round trip (us)")
        print(f"\nwisp vsock / wisp TAP: {echo:.2f}x the echo throughput, {rtt:.2f}x the round trip time")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
