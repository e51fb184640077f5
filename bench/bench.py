#!/usr/bin/env python3
"""wisp (both CPU backends) against qemu-system-riscv64 (TCG) on the same guest programs, in the same run.

usage: bench.py WISP GUEST_DIR [--quick] [--runs N] [--json FILE] [--backends interp,jit]

A backend may carry extra wisp options after a colon, e.g. `--backends jit,jit:--no-seccomp` measures what
the seccomp filters cost (two peers, same run).

Workloads: bare-metal CPU kernels (bench/elf/kernels.c, run with --elf / QEMU's spike machine),
Linux boot to the shell prompt, shell-level workloads inside the guest (interpreted shell loop,
hashing, a syscall-heavy copy), the host memory (RSS) of an idle guest, the host CPU an idle booted
guest uses, and the translator's code cache after the Linux run. Each figure is the median of N
runs; ratio = QEMU time / wisp time (> 1 means wisp is faster). Timing never fails: a guest run that
fails does, loudly.
"""
import json
import re
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from guest import Guest  # noqa: E402

CROSS = "riscv64-linux-gnu-gcc"
CFLAGS = ["-O2", "-march=rv64gc", "-mabi=lp64d", "-fno-pie", "-no-pie", "-nostdlib", "-nostartfiles",
          "-static", "-mcmodel=medany", "-ffreestanding", "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments"]
# kernel: (SCALE for a full run, class)
KERNELS = {
    "hash": (10, "integer"), "sort": (3, "integer"), "interp": (1, "integer/branchy"),
    "chase": (10, "memory"), "copy": (4, "memory"), "matmul": (8, "fp"), "nbody": (4, "fp"),
}
SHELL = {
    "sh loop 100k": "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done",
    "md5sum 16 MiB": "dd if=/dev/zero bs=1M count=16 2>/dev/null | md5sum",
    "syscalls: dd bs=1 100k": "dd if=/dev/zero of=/dev/null bs=1 count=100000 2>/dev/null",
}


def build_elf(name, scale, outdir):
    out = os.path.join(outdir, f"{name}.elf")
    src = [os.path.join(HERE, "elf", "crt.S"), os.path.join(HERE, "elf", "kernels.c")]
    cmd = [CROSS, *CFLAGS, "-T", os.path.join(HERE, "elf", "link.ld"), f"-DKERNEL={name}",
           f"-DSCALE={scale}", *src, "-o", out, "-lgcc"]
    subprocess.run(cmd, check=True)
    return out


def timed(argv):
    t0 = time.monotonic()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit(f"bench: {argv[0]} failed with status {r.returncode}: {r.stderr.decode()[-500:]}")
    return dt


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def linux_run(argv, name, shell, env=None):
    g = Guest(argv, name, env=env)
    res = {}
    try:
        t0 = time.monotonic()
        g.expect(rb"wisp guest: init done", 600)
        g.send("\n")
        g.expect(rb"/ # ", 120)
        res["boot to prompt"] = time.monotonic() - t0
        for label, cmd in shell.items():
            mark = len(g.out)
            g.send(f"time sh -c '{cmd}'\n")
            m = g.expect(rb"real\s+(?:(\d+)m\s*)?([\d.]+)s", 900, since=mark)
            res[label] = int(m.group(1) or 0) * 60 + float(m.group(2))
        time.sleep(1)
        res["idle RSS (MiB)"] = rss_kib(g.proc.pid) / 1024
        c0, t0 = cpu_seconds(g.proc.pid), time.monotonic()
        time.sleep(3)
        res["idle host CPU (%)"] = 100 * (cpu_seconds(g.proc.pid) - c0) / (time.monotonic() - t0)
        mark = len(g.out)
        g.send("poweroff\n")
        g.wait_exit(120)
        m = re.search(rb"translator: .* ([0-9]+) KiB of code", g.out[mark:])
        if m:
            res["code cache (KiB)"] = float(m.group(1))
    finally:
        g.close()
    return res


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        raise SystemExit(__doc__)
    wisp, guest_dir = os.path.abspath(args[0]), os.path.abspath(args[1])
    quick = "--quick" in args
    runs = int(args[args.index("--runs") + 1]) if "--runs" in args else (1 if quick else 3)
    out_json = args[args.index("--json") + 1] if "--json" in args else os.path.join(os.path.dirname(wisp), "bench.json")
    backends = (args[args.index("--backends") + 1] if "--backends" in args else "interp,jit").split(",")
    elfdir = os.path.join(os.path.dirname(wisp), "bench-elf")
    os.makedirs(elfdir, exist_ok=True)
    peers = [f"wisp-{b}" for b in backends] + ["qemu"]

    def wisp_argv(b):
        name, _, extra = b.partition(":")
        return [wisp, "--cpu-backend", name, *(extra.split(",") if extra else [])]

    rows = []  # (figure, class, {peer: value})
    for name, (scale, cls) in KERNELS.items():
        elf = build_elf(name, 1 if quick else scale, elfdir)
        v = {}
        for b in backends:
            v[f"wisp-{b}"] = statistics.median(
                timed([*wisp_argv(b), "--elf", elf, "--timeout", "600"]) for _ in range(runs))
        v["qemu"] = statistics.median(timed(["qemu-system-riscv64", "-machine", "spike", "-bios", "none",
                                             "-nographic", "-kernel", elf]) for _ in range(runs))
        rows.append((f"elf {name} (s)", cls, v))

    image, initrd = os.path.join(guest_dir, "Image"), os.path.join(guest_dir, "initrd.cpio.gz")
    cmdline = "console=ttyS0"
    shell = dict(list(SHELL.items())[:1]) if quick else SHELL
    argvs = {f"wisp-{b}": [*wisp_argv(b), "--kernel", image, "--initrd", initrd, "--mem", "256",
                           "--cmdline", cmdline] for b in backends}
    argvs["qemu"] = ["qemu-system-riscv64", "-machine", "virt", "-nographic", "-m", "256", "-kernel", image,
                     "-initrd", initrd, "-append", cmdline]
    env = dict(os.environ, WISP_STATS="1")
    lin = {p: [linux_run(argv, p, shell, env) for _ in range(runs)] for p, argv in argvs.items()}
    keys = []
    for p in peers:
        for k in lin[p][0]:
            if k not in keys:
                keys.append(k)
    for key in keys:
        v = {p: statistics.median(r[key] for r in lin[p]) for p in peers if key in lin[p][0]}
        unit = "" if "(" in key else " (s)"
        rows.append((key + unit, "linux", v))

    w = 11
    head = "".join(f"{p:>{w}}" for p in peers) + "".join(f"{'qemu/' + p[5:]:>{w}}" for p in peers[:-1])
    print(f"\n{'figure (median of %d)' % runs:34} {'class':16}{head}")
    ratios = {p: [] for p in peers[:-1]}
    for fig, cls, v in rows:
        line = "".join(f"{v[p]:{w}.3f}" if p in v else f"{'-':>{w}}" for p in peers)
        timed_row = "(s)" in fig
        for p in peers[:-1]:
            if timed_row and p in v and "qemu" in v and v[p]:
                r = v["qemu"] / v[p]
                line += f"{r:{w}.2f}"
                if fig.startswith("elf "):
                    ratios[p].append(r)
            else:
                line += f"{'':>{w}}"
        print(f"{fig:34} {cls:16}{line}")
    geo = {p: statistics.geometric_mean(r) for p, r in ratios.items() if r}
    print(f"{'CPU geometric mean (elf kernels)':34} {'':16}{'':>{w * len(peers)}}" +
          "".join(f"{geo.get(p, 0):{w}.2f}" for p in peers[:-1]))
    with open(out_json, "w") as f:
        json.dump({"runs": runs, "quick": quick, "cpu_geomean_ratio": geo,
                   "rows": [{"figure": a, "class": b, "values": c} for a, b, c in rows]}, f, indent=1)
    print(f"(JSON: {out_json})")


if __name__ == "__main__":
    main()
