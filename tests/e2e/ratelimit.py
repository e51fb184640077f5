#!/usr/bin/env python3
"""End to end: rate limiters (Firecracker's token buckets) on a running guest, through the API.

usage: ratelimit.py SCENARIO WISP IMAGE INITRD
  blk  a drive limited in bandwidth: dd in the guest (O_DIRECT) measures the rate within generous bounds of
       the limit; its one-time burst passes at full speed first; PATCH /drives changes the rate of the running
       guest, then an operations limit; PATCH path_on_host swaps in a bigger file (the guest sees the new size);
       the entropy device limited likewise; the throttling counters in the metrics
  net  rx and tx limited separately on a TAP interface in a private network namespace (root; 77 = skipped):
       a transfer each way measures its own limit, the other way stays fast; PATCH changes the tx rate

The bounds are wide (a functional test of the limiter over seconds, not a performance assertion): the rate
measured must not exceed the limit by more than the bucket allows, and must reach a fraction of it.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from api import api, expect, poweroff, shell, wait_for  # noqa: E402
from guest import Guest  # noqa: E402

SKIP = 77
MIB = 1 << 20


def dd_rate(g, cmd):
    """Run a dd command in the guest; its byte count and seconds (busybox's third status line)."""
    m = g.run(cmd + " 2>&1 | tail -1", rb"(\d+) bytes \([^)]*\) copied, ([0-9.]+) seconds", timeout=300)
    return int(m.group(1)), float(m.group(2))


def flush_metrics(sock, path):
    expect(api(sock, "PUT", "/actions", {"action_type": "FlushMetrics"}), 204)
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    return json.loads(lines[-1])


def bucket(rate, seconds=0.25, burst=None):
    """A bucket of `rate` per second that refills in `seconds` (so it holds rate × seconds)."""
    b = {"size": int(rate * seconds), "refill_time": int(seconds * 1000)}
    if burst is not None:
        b["one_time_burst"] = burst
    return b


def within(what, rate, limit, bucket_bytes, total):
    """The measured rate may exceed the limit only by what a full bucket lends, and must reach 40% of it."""
    ceiling = limit * total / max(total - bucket_bytes, 1) * 1.15
    print(f"{what}: {rate / MIB:.2f} MiB/s against a limit of {limit / MIB:.2f} MiB/s "
          f"(accepted {0.4 * limit / MIB:.2f}..{ceiling / MIB:.2f})", flush=True)
    assert 0.4 * limit <= rate <= ceiling, f"{what}: {rate / MIB:.2f} MiB/s is not near {limit / MIB:.2f} MiB/s"


def scenario_blk(wisp, image, initrd, tmp):
    sock = os.path.join(tmp, "api.sock")
    metrics = os.path.join(tmp, "metrics.json")
    disk = os.path.join(tmp, "data.img")
    with open(disk, "wb") as f:
        f.truncate(64 * MIB)
    limit, burst = 4 * MIB, 8 * MIB
    cfg = {
        "boot-source": {"kernel_image_path": image, "initrd_path": initrd, "boot_args": "console=ttyS0 panic=1"},
        "drives": [{"drive_id": "data", "path_on_host": disk, "is_root_device": False, "is_read_only": False,
                    "rate_limiter": {"bandwidth": bucket(limit, burst=burst)}}],
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
        "entropy": {"rate_limiter": {"bandwidth": bucket(2000, seconds=0.5)}},
        "metrics": {"metrics_path": metrics},
    }
    path = os.path.join(tmp, "vm.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    g = Guest([wisp, "--api-sock", sock, "--config-file", path], "ratelimit-blk")
    try:
        shell(g)
        wait_for(sock)
        dd = "dd if=/dev/vda of=/dev/null bs=256k iflag=direct"
        # The one-time burst first: 8 MiB at full speed (the unlimited rate is many times the limit).
        n, t = dd_rate(g, f"{dd} count=32")
        fast = n / t
        print(f"burst: {fast / MIB:.2f} MiB/s", flush=True)
        assert fast > 2 * limit, f"the one-time burst did not pass at full speed: {fast / MIB:.2f} MiB/s"
        # Then the limit: 16 MiB at 4 MiB/s.
        n, t = dd_rate(g, f"{dd} skip=32 count=64")
        within("bandwidth 4 MiB/s", n / t, limit, limit // 4, n)
        # PATCH on the running guest: half the rate.
        expect(api(sock, "PATCH", "/drives/data", {"drive_id": "data",
                                                   "rate_limiter": {"bandwidth": bucket(2 * MIB)}}), 204)
        n, t = dd_rate(g, f"{dd} skip=96 count=32")
        within("bandwidth 2 MiB/s after PATCH", n / t, 2 * MIB, MIB // 2, n)
        # Operations: bandwidth off, 40 requests a second (4 KiB each: 160 KiB/s).
        expect(api(sock, "PATCH", "/drives/data", {
            "drive_id": "data", "rate_limiter": {"bandwidth": {"size": 0, "refill_time": 0},
                                                 "ops": bucket(40)}}), 204)
        n, t = dd_rate(g, "dd if=/dev/vda of=/dev/null bs=4k iflag=direct skip=10000 count=120")
        ops = (n / 4096) / t
        print(f"ops: {ops:.1f} requests/s against a limit of 40", flush=True)
        assert 16 <= ops <= 40 * 120 / (120 - 10) * 1.15, f"{ops:.1f} requests/s is not near 40"
        # The limit off again: full speed.
        expect(api(sock, "PATCH", "/drives/data", {"drive_id": "data",
                                                   "rate_limiter": {"ops": {"size": 0, "refill_time": 0}}}), 204)
        n, t = dd_rate(g, f"{dd} skip=128 count=32")
        assert n / t > 2 * limit, f"unlimited again: {n / t / MIB:.2f} MiB/s"
        got = expect(api(sock, "GET", "/vm/config"), 200)["drives"][0]["rate_limiter"]
        assert got["ops"]["size"] == 0 and got["bandwidth"]["size"] == 0, got

        # A new backing file twice the size: the guest's capacity follows (config interrupt).
        g.run("cat /sys/block/vda/size", rb"\n131072\r?\n")
        bigger = os.path.join(tmp, "bigger.img")
        with open(bigger, "wb") as f:
            f.truncate(128 * MIB)
            f.seek(0)
            f.write(b"wisp-new-backing")
        expect(api(sock, "PATCH", "/drives/data", {"drive_id": "data", "path_on_host": "/nonexistent.img"}), 400)
        expect(api(sock, "PATCH", "/drives/data", {"drive_id": "data", "path_on_host": bigger}), 204)
        g.run("sleep 1; cat /sys/block/vda/size", rb"\n262144\r?\n")
        g.run("echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=16 count=1 2>/dev/null; echo",
              rb"wisp-new-backing")
        assert expect(api(sock, "GET", "/vm/config"), 200)["drives"][0]["path_on_host"] == bigger

        # Entropy: 2000 bytes a second; 6000 bytes take at least two seconds.
        n, t = dd_rate(g, "dd if=/dev/hwrng of=/dev/null bs=500 count=12")
        rate = n / t
        print(f"entropy: {rate:.0f} bytes/s against a limit of 2000", flush=True)
        assert rate <= 2000 * 6000 / (6000 - 1000) * 1.15, f"entropy at {rate:.0f} bytes/s"

        m = flush_metrics(sock, metrics)
        assert m["block"]["rate_limiter_throttled_events"] > 0, m["block"]
        assert m["entropy"]["entropy_rate_limiter_throttled"] > 0, m["entropy"]
        poweroff(g)
        print("ratelimit-blk: OK")
    finally:
        g.close()


# ---- net: a TAP in a private namespace ----------------------------------------------------------------------

HOST_IP, GUEST_IP, TAP = "10.78.0.1", "10.78.0.2", "wisprl0"


def sh(*argv):
    subprocess.run(list(argv), check=True)


def in_ns(ns, *argv):
    return ["ip", "netns", "exec", ns, *argv]


def host_sink(ns, port):
    """A host-side receiver in the namespace: prints the bytes and seconds of one connection."""
    code = ("import socket,sys,time\n"
            f"s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('{HOST_IP}',{port}))\n"
            "s.listen(1);print('LISTENING',flush=True);c,_=s.accept();n=0;t0=None\n"
            "while True:\n"
            " b=c.recv(65536)\n"
            " if not b: break\n"
            " t0=t0 or time.monotonic();n+=len(b)\n"
            "print('GOT',n,time.monotonic()-t0,flush=True)\n")
    return subprocess.Popen(in_ns(ns, sys.executable, "-c", code), stdout=subprocess.PIPE, text=True)


def host_source(ns, port, size):
    """A host-side sender in the namespace: one connection gets `size` bytes, then the end of the stream."""
    code = ("import socket\n"
            f"s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('{HOST_IP}',{port}))\n"
            f"s.listen(1);print('LISTENING',flush=True);c,_=s.accept();c.sendall(b'x'*{size});c.close()\n")
    return subprocess.Popen(in_ns(ns, sys.executable, "-c", code), stdout=subprocess.PIPE, text=True)


def guest_to_host(g, ns, port, size):
    sink = host_sink(ns, port)
    assert sink.stdout.readline().strip() == "LISTENING"
    g.run(f"dd if=/dev/zero bs=64k count={size // 65536} 2>/dev/null | nc {HOST_IP} {port}; echo SENT",
          rb"SENT\r?\n", timeout=300)
    out, _ = sink.communicate(timeout=300)
    _, n, t = out.split()
    return int(n) / float(t)


def host_to_guest(g, ns, port, size):
    src = host_source(ns, port, size)
    assert src.stdout.readline().strip() == "LISTENING"
    n, t = dd_rate(g, f"nc {HOST_IP} {port} < /dev/null | dd of=/dev/null bs=64k")
    src.wait(timeout=60)
    assert n == size, f"the guest received {n} bytes of {size}"
    return n / t


def scenario_net(wisp, image, initrd, tmp):
    if os.geteuid() != 0:
        print("ratelimit-net: SKIPPED: needs root for a network namespace and a TAP interface")
        sys.exit(SKIP)
    ns = f"wisp-rl-{os.getpid()}"
    sh("ip", "netns", "add", ns)
    g = None
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "tuntap", "add", "dev", TAP, "mode", "tap")
        sh("ip", "-n", ns, "addr", "add", f"{HOST_IP}/24", "dev", TAP)
        sh("ip", "-n", ns, "link", "set", TAP, "up")
        sock = os.path.join(tmp, "api.sock")
        tx_limit, rx_limit = 256 * 1024, 512 * 1024
        cfg = {
            "boot-source": {"kernel_image_path": image, "initrd_path": initrd,
                            "boot_args": "console=ttyS0 panic=1"},
            "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
            "network-interfaces": [{"iface_id": "eth0", "host_dev_name": TAP, "guest_mac": "52:54:00:78:00:02",
                                    "rx_rate_limiter": {"bandwidth": bucket(rx_limit)},
                                    "tx_rate_limiter": {"bandwidth": bucket(tx_limit)}}],
        }
        path = os.path.join(tmp, "vm.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        g = Guest(in_ns(ns, wisp, "--api-sock", sock, "--config-file", path), "ratelimit-net")
        shell(g)
        wait_for(sock)
        g.run(f"ip addr add {GUEST_IP}/24 dev eth0 && ip link set eth0 up; echo UP=$?", rb"UP=0")
        g.run(f"ping -c 1 -W 5 {HOST_IP}", rb"1 packets received", timeout=60)
        size = 2 * MIB
        within("tx 256 KiB/s", guest_to_host(g, ns, 6001, size), tx_limit, tx_limit // 4, size)
        rate = host_to_guest(g, ns, 6002, 4 * MIB)
        within("rx 512 KiB/s", rate, rx_limit, rx_limit // 4 + 256 * 1024, 4 * MIB)
        expect(api(sock, "PATCH", "/network-interfaces/eth0", {
            "iface_id": "eth0", "tx_rate_limiter": {"bandwidth": bucket(1024 * 1024)}}), 204)
        expect(api(sock, "PATCH", "/network-interfaces/nope", {"iface_id": "nope"}), 400)
        within("tx 1 MiB/s after PATCH", guest_to_host(g, ns, 6003, 4 * MIB), MIB, MIB // 4, 4 * MIB)
        got = expect(api(sock, "GET", "/vm/config"), 200)["network-interfaces"][0]
        assert got["tx_rate_limiter"]["bandwidth"]["size"] == MIB // 4, got
        assert got["rx_rate_limiter"]["bandwidth"]["size"] == rx_limit // 4, got
        poweroff(g)
        print("ratelimit-net: OK")
    finally:
        if g:
            g.close()
        subprocess.run(["ip", "netns", "del", ns])


def main():
    scenario, wisp, image, initrd = sys.argv[1:5]
    tmp = tempfile.mkdtemp(prefix="wisp-rl-")
    try:
        {"blk": scenario_blk, "net": scenario_net}[scenario](wisp, image, initrd, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
