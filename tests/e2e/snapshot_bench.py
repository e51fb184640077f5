#!/usr/bin/env python3
"""Snapshot figures (not a CTest test: it takes minutes and wants a quiet host).

  restore latency  N restores of one snapshot in new wisp processes, page cache warm, then cold (the memory
                   and state files evicted with posix_fadvise before each restore):
                     internal = wisp's main() entered -> guest running (wisp prints it),
                     external = fork/exec by this script -> that line read from wisp's stderr,
                     shell    = fork/exec -> the guest's shell answered a command (warm only);
  idle clone       RSS/PSS breakdown of one restored clone after it idled;
  density          up to --clones restored clones side by side: host MemAvailable and the clones' summed PSS
                   after each batch, then every clone is asked to answer on its console.

usage: snapshot_bench.py WISP IMAGE INITRD [--restores N] [--clones N] [--mem MIB]
"""
import argparse
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from guest import Guest  # noqa: E402


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))]


def summary(name, v):
    print(f"  {name:9s} median {statistics.median(v):7.3f} ms   p90 {pct(v, 90):7.3f} ms   "
          f"min {min(v):7.3f}   max {max(v):7.3f}   (n={len(v)})")


def evict(*paths):
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)


def meminfo(key):
    for line in open("/proc/meminfo"):
        if line.startswith(key + ":"):
            return int(line.split()[1])  # KiB
    raise KeyError(key)


def rollup(pid):
    out = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        m = re.match(r"(\w+):\s+(\d+) kB", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, clock ticks


def read_until(fd, pattern, timeout, buf=b""):
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while not rx.search(buf):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {pattern!r}: {buf[-300:]!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"wisp exited before {pattern!r}: {buf[-300:]!r}")
            buf += chunk
    return rx.search(buf), buf


def one_restore(wisp, state, mem, shell=False):
    t0 = time.monotonic()
    p = subprocess.Popen([wisp, "--restore", f"{state},{mem}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    m, _ = read_until(p.stderr.fileno(), rb"guest running ([\d.]+) ms", 30)
    t1 = time.monotonic()
    ts = None
    if shell:
        p.stdin.write(b"echo ans-$((40+2))\n")
        p.stdin.flush()
        read_until(p.stdout.fileno(), rb"ans-42", 30)
        ts = (time.monotonic() - t0) * 1000
    p.kill()
    p.wait()
    return float(m.group(1)), (t1 - t0) * 1000, ts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("wisp")
    ap.add_argument("image")
    ap.add_argument("initrd")
    ap.add_argument("--restores", type=int, default=30)
    ap.add_argument("--clones", type=int, default=200)
    ap.add_argument("--mem", type=int, default=256)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="wisp-snapbench-", dir="/var/tmp")
    state, mem = f"{tmp}/idle.state", f"{tmp}/idle.mem"
    clones = []
    try:
        g = Guest([a.wisp, "--kernel", a.image, "--initrd", a.initrd, "--mem", str(a.mem), "--timeout", "600",
                   "--snapshot-save", f"{state},{mem}", "--snapshot-exit"], log_name="boot")
        g.expect(rb"wisp guest: init done", 300)
        g.send("\n")
        g.expect(rb"/ # ", 60)
        time.sleep(2)
        g.proc.send_signal(signal.SIGUSR1)
        snap = g.expect(rb"snapshot written: .*\n", 60).group(0).decode().strip()
        g.wait_exit(60)
        print(f"\n{snap}\nstate {os.path.getsize(state)} bytes, memory file {os.path.getsize(mem) >> 20} MiB "
              f"({os.stat(mem).st_blocks * 512 / 2**20:.1f} MiB on disk), {tmp}")

        print(f"\nrestore latency, {a.mem} MiB guest idle at its shell prompt:")
        for cold in (False, True):
            internal, external, shell = [], [], []
            for i in range(a.restores):
                if cold:
                    evict(state, mem)
                ti, te, ts = one_restore(a.wisp, state, mem, shell=not cold)
                internal.append(ti)
                external.append(te)
                if ts is not None:
                    shell.append(ts)
            print(f" page cache {'cold' if cold else 'warm'}:")
            summary("internal", internal)
            summary("external", external)
            if shell:
                summary("shell", shell)

        # One idle clone.
        p = subprocess.Popen([a.wisp, "--restore", f"{state},{mem}"], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        read_until(p.stderr.fileno(), rb"guest running", 30)
        time.sleep(10)
        r = rollup(p.pid)
        print(f"\nidle clone after 10 s: Rss {r['Rss']} KiB = anon {r['Anonymous']} + file {r['Rss'] - r['Anonymous']}"
              f"; Pss {r['Pss']} KiB; Private_Dirty {r['Private_Dirty']} KiB; Shared_Clean {r['Shared_Clean']} KiB")
        p.kill()
        p.wait()

        # Density.
        print(f"\n{a.clones} clones of one snapshot side by side:")
        avail0 = meminfo("MemAvailable")
        t0 = time.monotonic()
        logs = []
        for i in range(a.clones):
            log = open(f"{tmp}/clone-{i}.out", "w+b")
            p = subprocess.Popen([a.wisp, "--restore", f"{state},{mem}"], stdin=subprocess.PIPE, stdout=log,
                                 stderr=subprocess.STDOUT)
            clones.append(p)
            logs.append(log)
            if (i + 1) % 25 == 0 or i + 1 == a.clones:
                time.sleep(3)
                alive = sum(c.poll() is None for c in clones)
                pss = sum(rollup(c.pid)["Pss"] for c in clones if c.poll() is None)
                used = avail0 - meminfo("MemAvailable")
                load = os.getloadavg()[0]
                print(f"  {i + 1:4d} started, {alive:4d} alive: host MemAvailable -{used / 1024:7.1f} MiB "
                      f"({used / (i + 1) / 1024:5.2f} MiB per clone), summed PSS {pss / 1024:7.1f} MiB "
                      f"({pss / (i + 1) / 1024:5.2f} per clone), load {load:.1f}")
        print(f"  started in {time.monotonic() - t0:.1f} s")
        live = [c for c in clones if c.poll() is None]
        c0 = sum(cpu_ticks(c.pid) for c in live)
        time.sleep(10)
        c1 = sum(cpu_ticks(c.pid) for c in live)
        hz = os.sysconf("SC_CLK_TCK")
        print(f"  idle CPU: {(c1 - c0) / hz / 10 * 100:.1f}% of one core for {len(live)} clones "
              f"({(c1 - c0) / hz / 10 * 100 / len(live):.3f}% each)")
        for i, p in enumerate(clones):
            p.stdin.write(f"echo alive-{i}-$((1+1))\n".encode())
            p.stdin.flush()
        deadline = time.monotonic() + 120
        missing = set(range(len(clones)))
        while missing and time.monotonic() < deadline:
            for i in list(missing):
                logs[i].seek(0)
                if f"alive-{i}-2".encode() in logs[i].read():
                    missing.discard(i)
            time.sleep(1)
        print(f"  {len(clones) - len(missing)} of {len(clones)} clones answered on their console"
              + (f"; silent: {sorted(missing)[:20]}" if missing else ""))
    finally:
        for p in clones:
            if p.poll() is None:
                p.kill()
        for p in clones:
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
