#!/usr/bin/env python3
"""Process start -> guest running: how long wisp takes to get a guest going, per way of starting it.

usage: startup.py WISP [OTHER_WISP] [--runs N]

Each case is a whole wisp process whose guest stops right after it started running (so the time is exec,
dynamic loading, set-up, the first guest instructions and the exit, which is short and the same everywhere):
  elf        --elf, a program that reports through HTIF at its first instruction
  kernel     --kernel, an Image whose first instructions ask the SBI to shut down
  no-api     --config-file --no-api, the same Image
  restore    --restore of a snapshot of a spinning guest, with --timeout 0.001
  api        --api-sock and --kernel (the API is served, so its libraries are loaded), the same Image
Prints the median and quartiles of N runs per case; with OTHER_WISP, both side by side and the ratio
(OTHER / WISP), measured alternately in the same run. Needs riscv64-linux-gnu-gcc for the ELF case.
"""
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def header(code0, image_size):
    return struct.pack("<IIQQQIIQ8sII", code0, 0, 0x200000, image_size, 0, 2, 0, 0, b"RISCV\0\0\0", 0x05435352, 0)


def make_inputs(tmp, wisp):
    off = os.path.join(tmp, "off.img")  # jal +64 to `li a7, 8; ecall`: the legacy SBI shutdown
    with open(off, "wb") as f:
        f.write(header(0x0400006F, 8192) + struct.pack("<II", 0x00800893, 0x00000073) + bytes(4096 - 72))
    spin = os.path.join(tmp, "spin.img")  # jal +64 to `j .`
    with open(spin, "wb") as f:
        f.write(header(0x0400006F, 8192) + struct.pack("<I", 0x6F) + bytes(4096 - 68))
    cfg = os.path.join(tmp, "vm.json")
    with open(cfg, "w") as f:
        f.write('{"boot-source": {"kernel_image_path": "%s"}, "machine-config": {"vcpu_count": 1, '
                '"mem_size_mib": 64}}' % off)
    state, mem = os.path.join(tmp, "state"), os.path.join(tmp, "mem")
    subprocess.run([wisp, "--kernel", spin, "--mem", "64", "--snapshot-save", f"{state},{mem}", "--snapshot-after",
                    "0.1", "--snapshot-exit"], stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=60)
    cases = {
        "kernel": ["--kernel", off, "--mem", "64"],
        "no-api": ["--no-api", "--config-file", cfg],
        "restore": ["--restore", f"{state},{mem}", "--timeout", "0.001"],
        "api": ["--api-sock", os.path.join(tmp, "api.sock"), "--kernel", off, "--mem", "64"],
    }
    cc = shutil.which("riscv64-linux-gnu-gcc")
    if cc:
        src = os.path.join(tmp, "exit.S")
        with open(src, "w") as f:
            f.write(".section .text.init\n.globl _start\n_start:\n li t0, 1\n la t1, tohost\n sd t0, 0(t1)\n"
                    "1: j 1b\n.section .tohost, \"aw\", @progbits\n.balign 64\n.globl tohost\ntohost: .dword 0\n"
                    ".globl fromhost\nfromhost: .dword 0\n")
        elf = os.path.join(tmp, "exit.elf")
        subprocess.run([cc, "-march=rv64gc", "-mabi=lp64d", "-nostdlib", "-nostartfiles", "-static", "-no-pie",
                        "-Wl,--build-id=none", "-T", os.path.join(HERE, "..", "tests", "isa", "link.ld"), "-o", elf,
                        src], check=True)
        cases = {"elf": ["--elf", elf], **cases}
    return cases


def once(wisp, args):
    """(wall ms, CPU ms = user + system) of one whole process."""
    t0 = time.perf_counter()
    p = subprocess.Popen([wisp, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _, _, ru = os.wait4(p.pid, 0)
    p.returncode = 0
    return (time.perf_counter() - t0) * 1e3, (ru.ru_utime + ru.ru_stime) * 1e3


def main():
    argv = sys.argv[1:]
    runs = 100
    if "--runs" in argv:
        i = argv.index("--runs")
        runs = int(argv[i + 1])
        del argv[i:i + 2]
    wisps = [os.path.abspath(w) for w in argv]
    with tempfile.TemporaryDirectory(prefix="wisp-startup-bench-") as tmp:
        cases = make_inputs(tmp, wisps[0])
        print(f"process start -> guest running -> exit: median [q1, q3] of {runs} runs, ms of wall time and of "
              "CPU time (user + system, less sensitive to a busy host)")
        for k, w in enumerate(wisps):
            print(f"  {'AB'[k]} = {w}")
        print("case     " + "".join(f"{'wall ' + 'AB'[k]:>28}  " for k in range(len(wisps))) +
              ("   B / A" if len(wisps) == 2 else "") +
              "".join(f"{'CPU ' + 'AB'[k]:>28}  " for k in range(len(wisps))) + ("   B / A" if len(wisps) == 2 else ""))
        for name, args in cases.items():
            for w in wisps:
                once(w, args)  # warm the page cache
            samples = [[] for _ in wisps]
            for _ in range(runs):
                for k, w in enumerate(wisps):
                    samples[k].append(once(w, args))
            line = f"{name:<9}"
            for which in (0, 1):
                meds = []
                for t in samples:
                    v = [x[which] for x in t]
                    q = statistics.quantiles(v, n=4)
                    meds.append(statistics.median(v))
                    line += f"{meds[-1]:>14.2f} [{q[0]:5.2f}, {q[2]:5.2f}]"
                line += f"   {meds[1] / meds[0]:.2f}x" if len(wisps) == 2 else ""
            print(line)


if __name__ == "__main__":
    main()
