#!/usr/bin/env python3
"""End to end: SMP guests.

Linux boots with --cpus N (the built-in SBI starts the secondary harts through HSM; with --firmware, OpenSBI
does): nproc says N, one busy loop pinned to each CPU (taskset) all finish with the right sums, a CPU goes
offline and comes back (/sys/devices/system/cpu/cpuN/online: SBI hart_stop and hart_start), and with
`snapshot`, a 2-vCPU guest is snapshotted while a computation runs on each CPU, killed, restored: both
computations end with the right values. If the guest has wisp-smp-test (guest/tools), its pthreads,
C11-atomics and futex checks must pass too.

usage: smp.py WISP IMAGE INITRD N [--firmware FW]
       smp.py snapshot WISP IMAGE INITRD
"""
import json
import os
import shutil
import signal
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from guest import Guest  # noqa: E402

PROMPT = rb"/ # "


def loop_sum(n, mod=1000003):
    s = 0
    for i in range(n):
        s = (s * 7 + i) % mod
    return s


def pinned_loops(cpus, n):
    """Shell: one computation pinned to each CPU, results in /tmp/r<cpu>."""
    return " ".join(f"(taskset -c {c} sh -c 's=0; i=0; while [ $i -lt {n} ]; do s=$(( (s*7 + i) % 1000003 )); "
                    f"i=$((i+1)); done; echo $s > /tmp/r{c}') &" for c in range(cpus))


def boot(argv, name):
    g = Guest(argv, name)
    g.expect(rb"wisp guest: init done", 300)
    g.send("\n")
    g.expect(PROMPT, 60)
    return g


def check_results(g, cpus, n):
    want = loop_sum(n)
    for c in range(cpus):
        m = g.run(f"echo R{c}=$(cat /tmp/r{c})", rf"R{c}=(\d+)\r?\n".encode(), 120)
        assert int(m.group(1)) == want, f"cpu {c}: {m.group(1).decode()}, expected {want}"


def check_metrics(path, n, sbi_in_vmm):
    """The metrics written at exit: one group per vCPU, each having run, counted WFI time and exits."""
    lines = [json.loads(x) for x in open(path) if x.strip()]
    assert lines, "no metrics written"
    tot = {}
    for line in lines:  # counters are deltas: add them up
        for h in range(n):
            for k, v in line.get(f"vcpu{h}", {}).items():
                tot[(h, k)] = tot.get((h, k), 0) + v
    for h in range(n):
        assert tot.get((h, "instructions"), 0) > 1000000, f"vcpu{h} retired {tot.get((h, 'instructions'))}"
        assert tot.get((h, "exit_budget"), 0) + tot.get((h, "exit_wfi"), 0) > 0, f"vcpu{h}: no exits counted"
        assert tot.get((h, "interrupts"), 0) > 0, f"vcpu{h}: no interrupts counted"
    assert f"vcpu{n}" not in lines[-1], f"a group for vcpu{n} of {n}"
    if n > 1 and sbi_in_vmm:  # under OpenSBI, IPIs are CLINT writes that wisp's SBI never sees
        assert sum(tot.get((h, "ipis_sent"), 0) for h in range(n)) > 0, "an SMP Linux sent no IPI"
    if n > 1:
        assert sum(tot.get((h, "wfi_time_us"), 0) for h in range(n)) > 0, "no vCPU idled in WFI"


def smp_boot(wisp, image, initrd, n, extra):
    tmp = tempfile.mkdtemp(prefix="wisp-smp-")
    metrics = os.path.join(tmp, "metrics.json")
    g = boot([wisp, "--kernel", image, "--initrd", initrd, "--mem", "256", "--cpus", str(n), "--timeout", "600",
              "--metrics-path", metrics, *extra], f"smp-{n}")
    try:
        g.run("echo CPUS=$(nproc)", rf"CPUS={n}\r?\n".encode())
        g.run("cat /sys/devices/system/cpu/online", (rf"0-{n - 1}" if n > 1 else r"0").encode())
        g.run(pinned_loops(n, 3000) + " wait; echo LOOPS-DONE", rb"LOOPS-DONE\r?\n", 300)
        check_results(g, n, 3000)
        if n > 1:
            last = n - 1
            g.run(f"echo 0 > /sys/devices/system/cpu/cpu{last}/online; echo CPUS=$(nproc)", rf"CPUS={n - 1}\r?\n".encode())
            g.run(f"echo 1 > /sys/devices/system/cpu/cpu{last}/online; echo CPUS=$(nproc)", rf"CPUS={n}\r?\n".encode())
            g.run(f"taskset -c {last} sh -c 'echo on-$((40+2))'", rb"on-42")
        m = g.run("wisp-smp-test", rb"(SMP-TEST OK threads=\d+|FAIL.*|not found)\r?\n", 300)
        assert m.group(1).startswith(b"SMP-TEST OK"), m.group(1)
        mark = len(g.out)
        g.send("poweroff\n")
        assert g.wait_exit(120) == 0
        assert b"Power down" in g.out[mark:]
        check_metrics(metrics, n, "--firmware" not in extra)
        print(f"\nsmp: {n} vCPUs {' '.join(extra)}: OK")
    finally:
        g.close()
        shutil.rmtree(tmp, ignore_errors=True)


def smp_snapshot(wisp, image, initrd):
    tmp = tempfile.mkdtemp(prefix="wisp-smp-snap-")
    state, mem = f"{tmp}/s.state", f"{tmp}/s.mem"
    guests = []
    try:
        a = boot([wisp, "--kernel", image, "--initrd", initrd, "--mem", "256", "--cpus", "2", "--timeout", "600",
                  "--snapshot-save", f"{state},{mem}"], "smp-snap")
        guests.append(a)
        a.run(pinned_loops(2, 20000) + " echo STARTED", rb"STARTED\r?\n")
        a.run("sleep 1; ls /tmp/r0 /tmp/r1", rb"No such file")
        mark = len(a.out)
        a.proc.send_signal(signal.SIGUSR1)
        a.expect(rb"snapshot written", 60, since=mark)
        a.proc.kill()
        a.wait_exit(30)
        b = Guest([wisp, "--restore", f"{state},{mem}", "--timeout", "600"], "smp-restore")
        guests.append(b)
        b.expect(rb"guest running", 30)
        b.send("\n")
        b.expect(PROMPT, 30)
        b.run("echo CPUS=$(nproc)", rb"CPUS=2\r?\n")
        b.run("wait; echo LOOPS-DONE", rb"LOOPS-DONE\r?\n", 300)
        check_results(b, 2, 20000)
        b.send("poweroff\n")
        assert b.wait_exit(120) == 0
        print("\nsmp snapshot: both computations finished after restore with the right values")
    finally:
        for g in guests:
            g.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if sys.argv[1] == "snapshot":
        smp_snapshot(*sys.argv[2:5])
    else:
        wisp, image, initrd, n, *extra = sys.argv[1:]
        smp_boot(wisp, image, initrd, int(n), extra)


if __name__ == "__main__":
    main()
