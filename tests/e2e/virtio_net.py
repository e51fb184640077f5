#!/usr/bin/env python3
"""End to end, virtio-net over TAP: in a private network namespace with its own TAP interface, the guest gets
an address, pings the host side and is pinged back, and a TCP transfer goes each way (busybox nc in the guest,
Python on the host side). No traffic leaves the namespace. Needs root (exits 77 = skipped otherwise).

usage: virtio_net.py WISP IMAGE INITRD [big]
  big: also 256 MiB each way (32 MiB under the interpreter), streamed through md5sum on both sides (the guest has no room to
       keep them), with the offloads the TAP negotiates (checksum, TSO, mergeable buffers)
"""
import hashlib
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from guest import Guest, connect_retry  # noqa: E402

SKIP = 77
HOST_IP, GUEST_IP = "10.77.0.1", "10.77.0.2"
TAP = "wisptap0"
MAC = "52:54:00:77:00:02"
SIZE = 1 << 20
# Under the interpreter (the NAME@interp twin) the guest hashes several times slower: a smaller big transfer.
BIG = (32 if os.environ.get("WISP_CPU_BACKEND") == "interp" else 256) << 20


def pattern(n):
    """Deterministic, incompressible-looking bytes."""
    out, block, i = bytearray(), b"", 0
    while len(out) < n:
        block = hashlib.sha256(block + i.to_bytes(8, "little")).digest()
        out += block
        i += 1
    return bytes(out[:n])


def serve(port, size):
    """Host side, inside the namespace: accept one connection, read `size` bytes, print their md5."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST_IP, port))
    s.listen(1)
    print("LISTENING", flush=True)
    c, _ = s.accept()
    md5, got = hashlib.md5(), 0
    while got < size:
        chunk = c.recv(1 << 16)
        if not chunk:
            break
        md5.update(chunk)
        got += len(chunk)
    c.close()
    print(f"RECEIVED {got} {md5.hexdigest()}", flush=True)


def send(port, size):
    """Host side, inside the namespace: connect to the guest (retrying until it listens), send, close."""
    block = pattern(min(size, 1 << 20))
    c = connect_retry((GUEST_IP, port), pause=0.3)
    c.settimeout(120)
    t0 = time.monotonic()
    for _ in range(size // len(block)):
        c.sendall(block)
    c.close()
    print(f"SENT {size} in {time.monotonic() - t0:.2f}s", flush=True)


def sh(*argv, **kw):
    return subprocess.run(list(argv), check=True, **kw)


def setup(ns):
    sh("ip", "netns", "add", ns)
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "-n", ns, "tuntap", "add", "dev", TAP, "mode", "tap")
    sh("ip", "-n", ns, "addr", "add", f"{HOST_IP}/24", "dev", TAP)
    sh("ip", "-n", ns, "link", "set", TAP, "up")


def in_ns(ns, *argv):
    return ["ip", "netns", "exec", ns, *argv]


def helper(ns, mode, port, size):
    return subprocess.Popen(in_ns(ns, sys.executable, os.path.abspath(__file__), mode, str(port), str(size)),
                            stdout=subprocess.PIPE, text=True)


def big_transfers(g, ns, size):
    """Streamed both ways: the guest hashes what it receives and what it sends on the fly."""
    block = pattern(1 << 20)
    want = hashlib.md5(block * (size // len(block))).hexdigest()
    g.run(f"nc -l -p 5003 < /dev/null | head -c {size} | md5sum > /tmp/rxsum & echo NC_PID=$!", rb"NC_PID=\d+")
    sender = helper(ns, "--send", 5003, size)
    out, _ = sender.communicate(timeout=600)
    assert sender.returncode == 0, "host side could not send"
    print(out)
    g.run("while [ ! -s /tmp/rxsum ]; do sleep 0.5; done; cat /tmp/rxsum; killall nc 2>/dev/null",
          want.encode() + rb"\s+-", timeout=600)
    server = helper(ns, "--serve", 5004, size)
    assert server.stdout.readline().strip() == "LISTENING"
    g.run("rm -f /tmp/txf; mkfifo /tmp/txf; md5sum < /tmp/txf > /tmp/txsum & "
          f"dd if=/dev/urandom bs=65536 count={size // 65536} 2>/dev/null | tee /tmp/txf | nc {HOST_IP} 5004 "
          "> /dev/null & echo STARTED", rb"STARTED\r?\n")
    out, _ = server.communicate(timeout=900)
    print(out)
    m = g.run("while [ ! -s /tmp/txsum ]; do sleep 0.5; done; cat /tmp/txsum", rb"([0-9a-f]{32})\s+-", timeout=300)
    assert f"RECEIVED {size} {m.group(1).decode()}" in out, f"guest to host transfer: {out!r}"
    g.run("killall nc 2>/dev/null; echo KILLED", rb"KILLED\r?\n")


def guest_checks(g, ns):
    g.run("cat /sys/class/net/eth0/address", MAC.encode())
    g.run(f"ip addr add {GUEST_IP}/24 dev eth0 && ip link set eth0 up; echo UP=$?", rb"UP=0")
    g.run(f"ping -c 3 -W 5 {HOST_IP}", rb"3 packets transmitted, 3 packets received", timeout=60)
    r = subprocess.run(in_ns(ns, "ping", "-c", "3", "-W", "5", GUEST_IP), capture_output=True, text=True)
    print(r.stdout)
    assert r.returncode == 0, f"host cannot ping the guest: {r.stdout}{r.stderr}"

    # Host to guest. (busybox nc keeps running after end of stream: it runs in the background, fed from
    # /dev/null so it never eats console input, and the guest waits for the byte count.)
    g.run("nc -l -p 5001 < /dev/null > /tmp/rx & echo NC_PID=$!", rb"NC_PID=\d+")
    sender = helper(ns, "--send", 5001, SIZE)
    out, _ = sender.communicate(timeout=300)
    assert sender.returncode == 0, "host side could not send"
    print(out)
    want = hashlib.md5(pattern(SIZE)).hexdigest()
    g.run(f"while [ $(wc -c < /tmp/rx) -lt {SIZE} ]; do sleep 0.2; done; md5sum /tmp/rx; killall nc 2>/dev/null",
          want.encode() + rb"\s+/tmp/rx", timeout=120)

    # Guest to host.
    server = helper(ns, "--serve", 5002, SIZE)
    assert server.stdout.readline().strip() == "LISTENING"
    m = g.run(f"dd if=/dev/urandom of=/tmp/tx bs=1024 count={SIZE // 1024} 2>/dev/null; md5sum /tmp/tx; "
              f"nc {HOST_IP} 5002 < /tmp/tx > /dev/null &", rb"([0-9a-f]{32})\s+/tmp/tx", timeout=120)
    out, _ = server.communicate(timeout=300)
    print(out)
    assert f"RECEIVED {SIZE} {m.group(1).decode()}" in out, f"guest to host transfer: {out!r}"
    g.run("killall nc 2>/dev/null; echo KILLED", rb"KILLED\r?\n")


def main():
    if sys.argv[1] in ("--serve", "--send"):
        (serve if sys.argv[1] == "--serve" else send)(int(sys.argv[2]), int(sys.argv[3]))
        return
    wisp, image, initrd = sys.argv[1:4]
    big = sys.argv[4:] == ["big"]
    if os.geteuid() != 0:
        print("virtio_net: SKIPPED: needs root to create a network namespace and a TAP interface")
        sys.exit(SKIP)
    ns = f"wisp-net-{os.getpid()}"
    setup(ns)
    g = None
    try:
        t0 = time.monotonic()
        g = Guest(in_ns(ns, wisp, "--kernel", image, "--initrd", initrd, "--mem", "256", "--timeout", "600",
                        "--net", f"tap={TAP},mac={MAC}"), "net")
        g.expect(rb"wisp guest: init done", 300)
        g.send("\n")
        g.expect(rb"/ # ", 60)
        guest_checks(g, ns)
        if big:
            big_transfers(g, ns, BIG)
        mark = len(g.out)
        g.send("poweroff\n")
        assert g.wait_exit(120) == 0
        assert b"reboot: Power down" in g.out[mark:]
        print(f"\nvirtio_net: OK in {time.monotonic() - t0:.1f}s (ping both ways, TCP {SIZE} bytes each way"
              + (f", {BIG >> 20} MiB each way" if big else "") + ")")
    finally:
        if g:
            g.close()
        subprocess.run(["ip", "netns", "del", ns])


if __name__ == "__main__":
    main()
