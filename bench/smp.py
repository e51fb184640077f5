#!/usr/bin/env python3
"""SMP scaling: wisp against QEMU (MTTCG, one host thread per vCPU) on the same guest, in the same run.

The guest's wisp-smp-test (guest/tools) shares W million iterations of a private integer loop among T
threads, one pinned to each CPU. For each peer: 1 thread on a 1-vCPU guest, then N threads on an N-vCPU
guest (N = 2, the host's cores, by default). Printed: the times, the speed-up N vCPUs give each peer, and
QEMU's time over wisp's (above 1: wisp is faster).

usage: smp.py WISP GUEST_DIR [--work MILLIONS] [--cpus N] [--runs R] [--backends jit,interp]
"""
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from guest import Guest  # noqa: E402


def run(argv, name, work, threads):
    g = Guest(argv, name)
    try:
        g.expect(rb"wisp guest: init done", 600)
        g.send("\n")
        g.expect(rb"/ # ", 120)
        m = g.run(f"wisp-smp-test bench {work} {threads}", rb"SMP-BENCH threads=(\d+) ms=(\d+) result=(\d+)", 1800)
        assert int(m.group(1)) == threads
        g.send("poweroff\n")
        g.wait_exit(120)
        return int(m.group(2)) / 1000.0, m.group(3)
    finally:
        g.close()


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        raise SystemExit(__doc__)
    wisp, guest_dir = os.path.abspath(args[0]), os.path.abspath(args[1])
    opt = {k: args[args.index(k) + 1] for k in ("--work", "--cpus", "--runs", "--backends") if k in args}
    work, n, runs = int(opt.get("--work", 60)), int(opt.get("--cpus", 2)), int(opt.get("--runs", 1))
    backends = opt.get("--backends", "jit").split(",")
    image, initrd = os.path.join(guest_dir, "Image"), os.path.join(guest_dir, "initrd.cpio.gz")

    def argv(peer, cpus):
        if peer == "qemu":
            return ["qemu-system-riscv64", "-machine", "virt", "-nographic", "-m", "256", "-smp", str(cpus),
                    "-accel", "tcg,thread=multi", "-kernel", image, "-initrd", initrd, "-append", "console=ttyS0"]
        return [wisp, "--cpu-backend", peer[5:], "--kernel", image, "--initrd", initrd, "--mem", "256",
                "--cpus", str(cpus), "--cmdline", "console=ttyS0"]

    peers = [f"wisp-{b}" for b in backends] + ["qemu"]
    t = {}
    results = set()
    for p in peers:
        for cpus in (1, n):
            times = []
            for _ in range(runs):
                s, res = run(argv(p, cpus), f"{p}-{cpus}", work, cpus)
                times.append(s)
                results.add(res)
            t[(p, cpus)] = statistics.median(times)
    assert len(results) <= 2, f"the guest computed different results: {results}"  # 1 thread vs N threads

    w = 12
    print(f"\nwisp-smp-test bench {work} (median of {runs}; seconds)")
    print(f"{'peer':12}{'1 vCPU':>{w}}{f'{n} vCPUs':>{w}}{'speed-up':>{w}}{'qemu/peer 1':>{w}}{f'qemu/peer {n}':>{w}}")
    for p in peers:
        a, b = t[(p, 1)], t[(p, n)]
        r1, rn = t[("qemu", 1)] / a, t[("qemu", n)] / b
        print(f"{p:12}{a:{w}.3f}{b:{w}.3f}{a / b:{w}.2f}{r1:{w}.2f}{rn:{w}.2f}")


if __name__ == "__main__":
    main()
