#!/usr/bin/env python3
"""End to end: virtio-vsock with Firecracker's Unix-socket host side.

A microVM from --config-file (its "vsock" section) with the API on: an echo server in the guest (wisp-echo) on
vsock port 52. Through uds_path with "CONNECT 52": 64 MiB each way come back identical; 100 connections at
once each get their own bytes back; a port nobody listens on closes the client without "OK". Guest-initiated:
`wisp-vsock 2 5000 ...` in the guest reaches a host program listening on <uds_path>_5000; a port without a
host listener is refused. Metrics count the traffic. Then a connection is held open from the guest, the VM is
paused and snapshotted, and a new wisp loads it with vsock_override (its own uds_path): the held connection is
reset in the guest (VIRTIO_VSOCK_EVENT_TRANSPORT_RESET), the guest's listener survives, and new connections
both ways work.

usage: vsock.py WISP IMAGE INITRD
"""
import hashlib
import json
import os
import signal
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from api import api, expect, shell, wait_for, poweroff  # noqa: E402
from guest import Guest  # noqa: E402

CID = 3
BIG = 64 << 20
PROMPT = rb"/ # "


def pattern(n, seed=b""):
    out, block, i = bytearray(), seed, 0
    while len(out) < n:
        block = hashlib.sha256(block + i.to_bytes(8, "little")).digest()
        out += block * 64
        i += 1
    return bytes(out[:n])


def host_connect(uds, port, timeout=60):
    """Firecracker's handshake: CONNECT <port>\\n, then OK <host_port>\\n. Returns (socket, host_port)."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(timeout)
    c.connect(uds)
    c.sendall(f"CONNECT {port}\n".encode())
    line = b""
    while not line.endswith(b"\n"):
        b = c.recv(1)
        if not b:
            raise ConnectionError(f"closed during the handshake after {line!r}")
        line += b
    assert line.startswith(b"OK ") and int(line[3:]) > 0, line
    return c, int(line[3:])


def recv_exact(c, n):
    buf = bytearray()
    while len(buf) < n:
        b = c.recv(min(1 << 20, n - len(buf)))
        if not b:
            break
        buf += b
    return bytes(buf)


def echo_big(uds):
    c, _ = host_connect(uds, 52)
    data = pattern(BIG)
    got = []
    reader = threading.Thread(target=lambda: got.append(recv_exact(c, BIG)))
    reader.start()
    t0 = time.monotonic()
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    reader.join(600)
    dt = time.monotonic() - t0
    assert got and len(got[0]) == BIG, f"echoed {len(got[0]) if got else 0} of {BIG} bytes"
    assert got[0] == data, "the echoed 64 MiB differ from what was sent"
    assert c.recv(1) == b"", "the echo server should close after the end of stream"
    c.close()
    print(f"\nvsock: 64 MiB echoed intact in {dt:.1f}s ({BIG / dt / 1e6:.1f} MB/s each way)")


def concurrent(uds, n=100):
    conns = [host_connect(uds, 52)[0] for _ in range(n)]
    msgs = [pattern(1000 + 37 * i, seed=bytes([i])) for i in range(n)]
    for c, m in zip(conns, msgs):
        c.sendall(m)
    for i, (c, m) in enumerate(zip(conns, msgs)):
        got = recv_exact(c, len(m))
        assert got == m, f"connection {i} got {len(got)} bytes back, not its own {len(m)}"
    host_ports = set()
    for c in conns:
        c.close()
    print(f"vsock: {n} concurrent connections each echoed their own bytes")
    return host_ports


def refused_port(uds):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(60)
    c.connect(uds)
    c.sendall(b"CONNECT 4444\n")
    try:
        assert c.recv(100) == b"", "a port without a listener in the guest must not answer OK"
    except ConnectionResetError:
        pass
    c.close()


class HostListener:
    """A host program on <uds_path>_<port>: answers every connection with 'reply:' + what it read."""

    def __init__(self, path, hold=False):
        self.path = path
        self.hold = hold
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.bind(path)
        self.s.listen(16)
        self.conns = []
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            self.conns.append(c)
            if self.hold:
                continue  # never answers, never closes
            data = b""
            while True:
                b = c.recv(4096)
                if not b:
                    break
                data += b
            c.sendall(b"reply:" + data)
            c.close()

    def close(self):
        self.s.close()
        for c in self.conns:
            c.close()
        os.unlink(self.path)


def guest_initiated(g, uds):
    lst = HostListener(f"{uds}_5000")
    g.run("wisp-vsock 2 5000 hello-from-guest", rb"reply:hello-from-guest", 60)
    g.run("wisp-vsock 2 5009 nobody; echo RC=$?", rb"RC=1", 60)
    lst.close()
    print("vsock: guest-initiated connection to the host listener on uds_path_5000 answered")


def metrics(sock, path):
    expect(api(sock, "PUT", "/actions", {"action_type": "FlushMetrics"}), 204)
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    total = {}
    for line in lines:
        for k, v in line.get("vsock", {}).items():
            total[k] = total.get(k, 0) + v
    assert total.get("rx_bytes_count", 0) >= BIG and total.get("tx_bytes_count", 0) >= BIG, total
    assert total.get("conns_added", 0) >= 102 and total.get("rx_packets_count", 0) > 0, total
    print(f"vsock: metrics {total}")


def main():
    wisp, image, initrd = sys.argv[1:4]
    tmp = tempfile.mkdtemp(prefix="wisp-e2e-vsock-")
    uds, api_sock, mpath = f"{tmp}/v.sock", f"{tmp}/api.sock", f"{tmp}/metrics.json"
    state, mem = f"{tmp}/vm.state", f"{tmp}/vm.mem"
    cfg = {
        "boot-source": {"kernel_image_path": image, "initrd_path": initrd,
                        "boot_args": "console=ttyS0 panic=1"},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
        "vsock": {"guest_cid": CID, "uds_path": uds},
        "metrics": {"metrics_path": mpath},
    }
    with open(f"{tmp}/vm.json", "w") as f:
        json.dump(cfg, f)
    g = Guest([wisp, "--config-file", f"{tmp}/vm.json", "--api-sock", api_sock, "--timeout", "900", "--seccomp-trap"], "vsock")
    try:
        shell(g)
        wait_for(uds)
        got = expect(api(api_sock, "GET", "/vm/config"), 200)
        assert got["vsock"] == {"guest_cid": CID, "uds_path": uds}, got
        g.run("wisp-echo 52 > /tmp/echo.out & sleep 1; cat /tmp/echo.out", rb"LISTENING 52")
        echo_big(uds)
        concurrent(uds)
        refused_port(uds)
        guest_initiated(g, uds)
        metrics(api_sock, mpath)

        # A connection held open across the snapshot: the guest must see it reset after the restore.
        hold = HostListener(f"{uds}_5001", hold=True)
        g.run("(wisp-vsock 2 5001 held; echo HELD_RC=$?) > /tmp/held.out 2>&1 & sleep 1; echo B""G", rb"\nBG")
        expect(api(api_sock, "PATCH", "/vm", {"state": "Paused"}), 204)
        expect(api(api_sock, "PUT", "/snapshot/create", {"snapshot_path": state, "mem_file_path": mem}), 204)
        g.proc.send_signal(signal.SIGKILL)
        g.proc.wait(30)
        hold.close()
        os.unlink(uds)  # the killed wisp could not remove it
    finally:
        g.close()

    uds2, api2 = f"{tmp}/clone.sock", f"{tmp}/api2.sock"
    g = Guest([wisp, "--api-sock", api2, "--timeout", "900", "--seccomp-trap"], "vsock-clone")
    try:
        wait_for(api2)
        load = {"snapshot_path": state, "mem_backend": {"backend_type": "File", "backend_path": mem},
                "resume_vm": True, "vsock_override": {"uds_path": uds2}}
        bad = dict(load, vsock_override={"uds_path": f"{tmp}/no/such/dir/x.sock"})
        expect(api(api2, "PUT", "/snapshot/load", bad), 400, "Load snapshot error")
        expect(api(api2, "PUT", "/snapshot/load", load), 204)
        wait_for(uds2)
        assert not os.path.exists(uds), "the clone must listen on its vsock_override path only"
        g.send("\n")
        g.expect(PROMPT, 60)
        g.run("sleep 1; cat /tmp/held.out", rb"HELD_RC=1", 60)
        print("vsock: the connection held across the snapshot was reset in the restored guest")
        c, _ = host_connect(uds2, 52)
        c.sendall(b"after restore")
        assert recv_exact(c, 13) == b"after restore"
        c.close()
        guest_initiated(g, uds2)
        print("vsock: new connections both ways work after the restore")
        poweroff(g)
        assert not os.path.exists(uds2), "wisp removes its vsock socket at exit"
    finally:
        g.close()
    print("vsock: OK")


if __name__ == "__main__":
    main()
