#!/usr/bin/env python3
"""Virtio I/O throughput measured inside the guest, wisp against qemu-system-riscv64 -machine virt (TCG) with
virtio-mmio devices, same kernel, same root filesystem, same run.

usage: virtio_io.py WISP IMAGE ROOTFS_EXT4 [runs]      (as root for the network figures)

Block: a scratch disk (/dev/vdb, a sparse host file) written with dd conv=fsync and read back after dropping the
guest's page cache, with buffered and O_DIRECT I/O. Network: a TAP interface in a private network namespace,
TCP through busybox nc in the guest and Python on the host side, each way. Peers: wisp (virtio-net offloads:
checksum, TSO, merged rx buffers; the scratch disk with io_engine Async, io_uring), QEMU with its defaults
(the same offloads) and QEMU with those off. Prints a table of medians in MB/s (10^6 bytes per second);
wisp/qemu > 1 means wisp is faster than default QEMU.
"""
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from guest import Guest, connect_retry  # noqa: E402

MB = 1000 * 1000
BLOCK_MIB = 64
NET_BYTES = 32 << 20
HOST_IP, GUEST_IP = "10.78.0.1", "10.78.0.2"
TAP = "wbench0"
CMDLINE = "console=ttyS0 root=/dev/vda rw"

BLOCK = {
    "blk write (MB/s)": f"dd if=/dev/zero of=/dev/vdb bs=1M count={BLOCK_MIB} conv=fsync",
    "blk read (MB/s)": f"echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vdb of=/dev/null bs=1M count={BLOCK_MIB}",
    "blk write direct (MB/s)": f"dd if=/dev/zero of=/dev/vdb bs=1M count={BLOCK_MIB} oflag=direct",
    "blk read direct (MB/s)": f"dd if=/dev/vdb of=/dev/null bs=1M count={BLOCK_MIB} iflag=direct",
}


# QEMU without virtio-net offloads: no checksum/segmentation offloads, no merged buffers.
NO_OFFLOADS = ",".join(f"{p}=off" for p in ("csum", "gso", "guest_csum", "guest_ecn", "guest_tso4", "guest_tso6",
                                              "guest_ufo", "host_ecn", "host_tso4", "host_tso6", "host_ufo",
                                              "mrg_rxbuf"))
PEERS = ("wisp", "qemu", "qemu-nooff")


def argv_for(peer, wisp, image, root, scratch):
    if peer == "wisp":
        return [wisp, "--kernel", image, "--mem", "256", "--cmdline", CMDLINE, "--drive", root, "--drive", scratch + ",async",
                "--net", f"tap={TAP}"]
    return ["qemu-system-riscv64", "-machine", "virt", "-nographic", "-m", "256", "-kernel", image,
            "-append", CMDLINE,
            "-drive", f"file={root},format=raw,if=none,id=d0", "-device", "virtio-blk-device,drive=d0",
            "-drive", f"file={scratch},format=raw,if=none,id=d1", "-device", "virtio-blk-device,drive=d1",
            "-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no", "-device", "virtio-net-device,netdev=n0" + ("," + NO_OFFLOADS if peer == "qemu-nooff" else "")]


def dd_rate(g, cmd):
    mark = len(g.out)
    g.send(cmd + "\n")
    m = g.expect(rb"(\d+) bytes \([^)]*\) copied, ([\d.]+) seconds", 900, since=mark)
    return int(m.group(1)) / float(m.group(2)) / MB


def in_ns(ns, argv):
    return ["ip", "netns", "exec", ns] + argv


def host_helper(ns, mode, port):
    return subprocess.Popen(in_ns(ns, [sys.executable, os.path.abspath(__file__), mode, str(port)]),
                            stdout=subprocess.PIPE, text=True)


def serve(port):
    """Host side: receive NET_BYTES, print the rate from the first byte to the last."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST_IP, port))
    s.listen(1)
    print("LISTENING", flush=True)
    c, _ = s.accept()
    got, t0 = 0, None
    while got < NET_BYTES:
        chunk = c.recv(1 << 16)
        if not chunk:
            break
        t0 = t0 or time.monotonic()
        got += len(chunk)
    print(f"RATE {got / (time.monotonic() - t0) / MB:.3f}", flush=True)


def send(port):
    """Host side: send NET_BYTES to the guest, print the rate until the guest has read everything and closed."""
    c = connect_retry((GUEST_IP, port), pause=0.2)
    c.settimeout(600)
    buf = b"\0" * (1 << 16)
    t0 = time.monotonic()
    for _ in range(NET_BYTES // len(buf)):
        c.sendall(buf)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    print(f"RATE {NET_BYTES / (time.monotonic() - t0) / MB:.3f}", flush=True)


def net_rates(g, ns):
    res = {}
    g.run(f"ip addr add {GUEST_IP}/24 dev eth0; ip link set eth0 up; ping -c 1 -W 10 {HOST_IP}",
          rb"1 packets received", 60)
    srv = host_helper(ns, "--serve", 5100)
    srv.stdout.readline()
    g.send(f"dd if=/dev/zero bs=65536 count={NET_BYTES // 65536} 2>/dev/null | nc {HOST_IP} 5100\n")
    res["tcp guest->host (MB/s)"] = float(srv.communicate(timeout=900)[0].split("RATE")[1])
    g.send("\x03\n")  # busybox nc waits for the host to close; interrupt it
    g.run("nc -l -p 5101 < /dev/null > /dev/null & echo LISTENING=$!", rb"LISTENING=\d+")
    snd = host_helper(ns, "--send", 5101)
    res["tcp host->guest (MB/s)"] = float(snd.communicate(timeout=900)[0].split("RATE")[1])
    return res


def measure(peer, argv, ns):
    g = Guest(in_ns(ns, argv) if ns else argv, peer)
    try:
        if b"panic" in g.expect(rb"wisp guest: init done|Kernel panic", 600).group(0):
            raise AssertionError(f"{peer}: the guest kernel panicked")
        g.send("\n")
        g.expect(rb"/ # ", 60)
        res = {label: dd_rate(g, cmd) for label, cmd in BLOCK.items()}
        if ns:
            res.update(net_rates(g, ns))
        g.send("poweroff\n")
        g.wait_exit(120)
        return res
    finally:
        g.close()


def netns_up(ns):
    for cmd in (["ip", "netns", "add", ns], ["ip", "-n", ns, "link", "set", "lo", "up"],
                ["ip", "-n", ns, "tuntap", "add", "dev", TAP, "mode", "tap"],
                ["ip", "-n", ns, "addr", "add", f"{HOST_IP}/24", "dev", TAP],
                ["ip", "-n", ns, "link", "set", TAP, "up"]):
        subprocess.run(cmd, check=True)


def one_run(peer, wisp, image, rootfs, tmp, use_net):
    root, scratch = os.path.join(tmp, f"{peer}-root.ext4"), os.path.join(tmp, f"{peer}-scratch.img")
    shutil.copyfile(rootfs, root)
    with open(scratch, "wb") as f:
        f.truncate(2 * BLOCK_MIB << 20)
    ns = f"wisp-bench-{os.getpid()}" if use_net else None
    if ns:
        netns_up(ns)
    try:
        return measure(peer, argv_for(peer, wisp, image, root, scratch), ns)
    finally:
        if ns:
            subprocess.run(["ip", "netns", "del", ns])
        os.unlink(root)
        os.unlink(scratch)


def main():
    if sys.argv[1] in ("--serve", "--send"):
        (serve if sys.argv[1] == "--serve" else send)(int(sys.argv[2]))
        return
    wisp, image, rootfs = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    use_net = os.geteuid() == 0
    if not use_net:
        print("virtio_io: not root: block figures only (the network needs a namespace and a TAP)")
    tmp = tempfile.mkdtemp(prefix="wisp-bench-")
    results = {p: [] for p in PEERS}
    try:
        for _ in range(runs):
            for peer in results:
                results[peer].append(one_run(peer, wisp, image, rootfs, tmp, use_net))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{'figure (median of %d)' % runs:28}" + "".join(f"{p:>12}" for p in PEERS) + f"{'wisp/qemu':>11}")
    for k in results["wisp"][0]:
        med = [statistics.median(r[k] for r in results[p]) for p in PEERS]
        print(f"{k:28}" + "".join(f"{v:12.2f}" for v in med) + f"{med[0] / med[1]:11.2f}")


if __name__ == "__main__":
    main()
