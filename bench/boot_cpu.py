#!/usr/bin/env python3
"""Boot time to the shell prompt and a CPU figure, wisp against qemu-system-riscv64 (TCG), same guest.

usage: boot_cpu.py WISP IMAGE INITRD [runs]
Prints a table: figure, wisp, qemu, ratio (qemu time / wisp time: > 1 means wisp is faster).
"""
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
from guest import Guest  # noqa: E402

# Shell-level CPU workloads (busybox): hashing, and branchy interpreted shell arithmetic.
WORKLOADS = {
    "md5sum 32 MiB": "dd if=/dev/zero bs=1M count=32 2>/dev/null | md5sum",
    "sh loop 200k": "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo $i",
}


def measure(argv, name):
    g = Guest(argv, name)
    try:
        t0 = time.monotonic()
        g.expect(rb"wisp guest: init done", 300)
        g.send("\n")
        g.expect(rb"/ # ", 60)
        res = {"boot to prompt (s)": time.monotonic() - t0}
        for label, cmd in WORKLOADS.items():
            mark = len(g.out)
            g.send(f"time sh -c '{cmd}'\n")
            m = g.expect(rb"real\s+(?:(\d+)m\s*)?([\d.]+)s", 600, since=mark)
            res[label + " (s)"] = int(m.group(1) or 0) * 60 + float(m.group(2))
        g.send("poweroff\n")
        g.wait_exit(60)
        return res
    finally:
        g.close()


def main():
    wisp, image, initrd = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    cmdline = "console=ttyS0"
    peers = {
        "wisp": [wisp, "--kernel", image, "--initrd", initrd, "--mem", "256", "--cmdline", cmdline],
        "qemu": ["qemu-system-riscv64", "-machine", "virt", "-nographic", "-m", "256", "-kernel", image,
                 "-initrd", initrd, "-append", cmdline],
    }
    results = {p: [] for p in peers}
    for _ in range(runs):
        for p, argv in peers.items():
            results[p].append(measure(argv, p))
    keys = list(results["wisp"][0].keys())
    print(f"\n{'figure (median of %d)' % runs:32} {'wisp':>10} {'qemu':>10} {'qemu/wisp':>10}")
    for k in keys:
        w = statistics.median(r[k] for r in results["wisp"])
        q = statistics.median(r[k] for r in results["qemu"])
        print(f"{k:32} {w:10.3f} {q:10.3f} {q / w:10.2f}")


if __name__ == "__main__":
    main()
