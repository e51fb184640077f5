#!/usr/bin/env python3
"""Density: how many idle clones of one snapshot this host holds, what each costs, how fast they start.

usage: density.py WISP GUEST_DIR [--clones N] [--batch N] [--mem MIB] [--floor-mib MIB] [--idle-sec S]
                  [--max-busy PCT] [--raise-limits] [--json FILE]

Boots the guest once to its shell prompt and snapshots it; then restores clones of that snapshot (each a
`wisp --restore` process, console on a pipe, output to a file) in batches of --batch until --clones are up or
the host's MemAvailable falls below --floor-mib (room left for everyone else on the host). Per batch:
  creation rate   clones started per second (spawn of the batch -> every clone of it printed "guest running")
  memory          host MemAvailable consumed per clone, and the clones' summed PSS per clone (smaps_rollup)
  host busy       the clones' own CPU over 3 s, as % of all cores: past --max-busy (default 50, the goal's
                  "host at most half busy") the run stops, as more clones would only overload the host
At the end, with every clone idle:
  idle CPU        user+system time of all clones over --idle-sec, as % of one core (and per clone), and the
                  host's busy share of all cores (/proc/stat) in the same interval
  alive           a sample of clones asked to answer on their console
  one clone       where its resident memory is (mappings by kind)
Figures are compared with Firecracker's published creation rate (150 microVMs/s per host) and the goals of
issue 18 (10,000 idle clones in 24 GiB, host at most half busy). --raise-limits (root) raises kernel.pid_max
and the open-file limit when N clones need it (each clone is a process of 5 threads), and puts pid_max back after. Not a CTest test: it
takes minutes, loads the host and wants it otherwise quiet.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from guest import Guest  # noqa: E402

FIRECRACKER_RATE = 150.0  # microVMs per second per host, Firecracker's published figure
THREADS_PER_CLONE = 5


def meminfo(key):
    for line in open("/proc/meminfo"):
        if line.startswith(key + ":"):
            return int(line.split()[1])  # KiB
    raise KeyError(key)


def rollup(pid):
    out = {}
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            m = re.match(r"(\w+):\s+(\d+) kB", line)
            if m:
                out[m.group(1)] = int(m.group(2))
    except OSError:
        pass
    return out


def cpu_ticks(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def host_busy():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = f[3] + f[4]
    return sum(f) - idle, sum(f)


def by_kind(pid):
    """Resident KiB of one process by kind of mapping."""
    kinds = {}
    name = None
    for line in open(f"/proc/{pid}/smaps"):
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            parts = line.split()
            path = parts[5] if len(parts) > 5 else ""
            perms = parts[1]
            if path.endswith(".mem"):
                name = "guest RAM (memory file, private)"
            elif path.startswith("/dev/zero") or (perms.endswith("s") and not path.startswith("/")):
                name = "translator code cache (shared view pair)"
            elif path == "[heap]":
                name = "heap"
            elif path.startswith("[stack"):
                name = "main stack"
            elif path.startswith("/"):
                name = "binaries and libraries" if "x" in perms or perms.startswith("r--") else \
                    "libraries' data"
            else:
                name = "anonymous (tables, thread stacks, bss)"
        m = re.match(r"^(Rss|Pss|Private_Dirty):\s+(\d+) kB", line)
        if m and name:
            k = kinds.setdefault(name, {"Rss": 0, "Pss": 0, "Private_Dirty": 0})
            k[m.group(1)] += int(m.group(2))
    return kinds


def running(log):
    try:
        with open(log, "rb") as f:
            return b"guest running" in f.read(4096)
    except OSError:
        return False


def make_snapshot(wisp, guest_dir, mem, state, memfile):
    g = Guest([wisp, "--kernel", f"{guest_dir}/Image", "--initrd", f"{guest_dir}/initrd.cpio.gz", "--mem",
               str(mem), "--timeout", "600", "--snapshot-save", f"{state},{memfile}", "--snapshot-exit"],
              log_name="boot")
    g.expect(rb"wisp guest: init done", 300)
    g.send("\n")
    g.expect(rb"/ # ", 60)
    time.sleep(2)  # let the guest go idle
    g.proc.send_signal(signal.SIGUSR1)
    g.expect(rb"snapshot written", 60)
    g.wait_exit(60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("wisp")
    ap.add_argument("guest_dir")
    ap.add_argument("--clones", type=int, default=500)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--mem", type=int, default=256)
    ap.add_argument("--floor-mib", type=int, default=4096)
    ap.add_argument("--idle-sec", type=float, default=20)
    ap.add_argument("--raise-limits", action="store_true")
    ap.add_argument("--max-busy", type=float, default=50, help="stop once idle clones use this %% of all cores")
    ap.add_argument("--json")
    a = ap.parse_args()
    ncpu = os.cpu_count() or 1
    # SIGTERM (timeout, CI) ends the run through the finally below: clones killed, limits put back.
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(128 + sig))

    need_fds = a.clones * 2 + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if need_fds > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need_fds, soft), hard), hard))
    pid_max = int(open("/proc/sys/kernel/pid_max").read())
    raised = False
    need_pids = a.clones * (THREADS_PER_CLONE + 1) + 8192
    if need_pids > pid_max:
        if a.raise_limits:
            open("/proc/sys/kernel/pid_max", "w").write(str(min(need_pids, 4194304)))
            raised = True
            print(f"kernel.pid_max raised from {pid_max} to {min(need_pids, 4194304)}")
        else:
            print(f"note: kernel.pid_max is {pid_max}; {a.clones} clones of {THREADS_PER_CLONE} threads may not "
                  f"fit (--raise-limits)")

    tmp = tempfile.mkdtemp(prefix="wisp-density-", dir="/var/tmp")
    state, memfile = f"{tmp}/idle.state", f"{tmp}/idle.mem"
    clones = []
    result = {"mem_mib": a.mem, "batches": []}
    try:
        make_snapshot(a.wisp, a.guest_dir, a.mem, state, memfile)
        print(f"\nsnapshot: {a.mem} MiB guest at its shell prompt; memory file "
              f"{os.stat(memfile).st_blocks * 512 / 2**20:.1f} MiB on disk")
        # Warm the page cache the way a host that launches clones keeps it.
        with open(memfile, "rb") as f:
            while f.read(1 << 20):
                pass
        avail0 = meminfo("MemAvailable")
        print(f"host MemAvailable {avail0 / 1024:.0f} MiB before the first clone; stopping below "
              f"{a.floor_mib} MiB\n")
        print(f"{'clones':>7} {'rate/s':>8} {'avail MiB/clone':>16} {'PSS MiB/clone':>14} {'host busy':>10} {'load':>5}")
        total_start = 0.0
        reason = f"{a.clones} clones reached"
        while len(clones) < a.clones:
            if meminfo("MemAvailable") < a.floor_mib * 1024:
                reason = f"host MemAvailable below {a.floor_mib} MiB"
                break
            n = min(a.batch, a.clones - len(clones))
            batch = []
            t0 = time.monotonic()
            for _ in range(n):
                i = len(clones)
                log = f"{tmp}/clone-{i}.out"
                out = open(log, "wb")
                try:
                    p = subprocess.Popen([a.wisp, "--restore", f"{state},{memfile}"], stdin=subprocess.PIPE,
                                         stdout=out, stderr=subprocess.STDOUT, close_fds=True)
                except OSError as e:
                    out.close()
                    reason = f"spawn failed: {e}"
                    break
                out.close()
                clones.append((p, log))
                batch.append((p, log))
            waiting = list(batch)
            while waiting:
                waiting = [(p, log) for p, log in waiting if p.poll() is None and not running(log)]
                if waiting:
                    time.sleep(0.005)
            dt = time.monotonic() - t0
            total_start += dt
            dead = [log for p, log in batch if p.poll() is not None]
            if dead:
                reason = f"{len(dead)} clones exited at start, e.g. {open(dead[0], 'rb').read()[-300:]!r}"
                print(f"  {reason}")
                break
            if not batch:
                break
            time.sleep(1)  # let the new clones settle before measuring them
            live = [p for p, _ in clones if p.poll() is None]
            # The clones' own CPU over a short idle interval: past --max-busy of the host's cores, more clones only
            # overload it (guest timers fall behind and work piles up), so the run stops there.
            c0 = sum(cpu_ticks(p.pid) for p in live)
            time.sleep(3)
            busy_pct = (sum(cpu_ticks(p.pid) for p in live) - c0) / os.sysconf("SC_CLK_TCK") / 3 * 100 / ncpu
            pss = sum(rollup(p.pid).get("Pss", 0) for p in live)
            used = avail0 - meminfo("MemAvailable")
            row = {"clones": len(clones), "rate": len(batch) / dt, "avail_kib_per_clone": used / len(clones),
                   "pss_kib_per_clone": pss / len(live), "load": os.getloadavg()[0], "clones_busy_pct": busy_pct}
            result["batches"].append(row)
            print(f"{row['clones']:7d} {row['rate']:8.1f} {row['avail_kib_per_clone'] / 1024:16.2f} "
                  f"{row['pss_kib_per_clone'] / 1024:14.2f} {busy_pct:9.1f}% {row['load']:5.1f}")
            if busy_pct > a.max_busy:
                reason = f"the idle clones keep {busy_pct:.0f}% of the host's {ncpu} cores busy (--max-busy {a.max_busy})"
                break
            if not reason.endswith("reached"):
                break
        live = [p for p, _ in clones if p.poll() is None]
        n = len(live)
        rate = len(clones) / total_start if total_start else 0
        print(f"\nstopped: {reason}; {n} clones alive, started at {rate:.1f}/s overall "
              f"({rate / FIRECRACKER_RATE:.2f}x Firecracker's published {FIRECRACKER_RATE:.0f}/s)")

        time.sleep(5)
        c0 = sum(cpu_ticks(p.pid) for p in live)
        b0 = host_busy()
        time.sleep(a.idle_sec)
        c1 = sum(cpu_ticks(p.pid) for p in live)
        b1 = host_busy()
        hz = os.sysconf("SC_CLK_TCK")
        core_pct = (c1 - c0) / hz / a.idle_sec * 100
        busy = (b1[0] - b0[0]) / max(1, b1[1] - b0[1]) * 100
        used = avail0 - meminfo("MemAvailable")
        pss = sum(rollup(p.pid).get("Pss", 0) for p in live)
        print(f"idle CPU of {n} clones over {a.idle_sec:.0f} s: {core_pct:.2f}% of one core "
              f"({core_pct / max(1, n):.4f}% each); host busy {busy:.1f}% of all cores (others included)")
        print(f"memory: {used / max(1, n) / 1024:.2f} MiB of host MemAvailable per clone, "
              f"{pss / max(1, n) / 1024:.2f} MiB PSS per clone; at that cost 24 GiB holds "
              f"{24 * 1024 * 1024 / max(1, used / max(1, n)):.0f} clones (goal 10,000)")

        sample = live[:: max(1, n // 20)][:20]
        logs = {p.pid: log for p, log in clones}
        for k, p in enumerate(sample):
            p.stdin.write(f"echo alive-{k}-$((1+1))\n".encode())
            p.stdin.flush()
        deadline = time.monotonic() + 60
        missing = set(range(len(sample)))
        while missing and time.monotonic() < deadline:
            for k in list(missing):
                if f"alive-{k}-2".encode() in open(logs[sample[k].pid], "rb").read():
                    missing.discard(k)
            time.sleep(0.2)
        print(f"{len(sample) - len(missing)} of {len(sample)} sampled clones answered on their console")

        print(f"\none clone's resident memory (pid {live[0].pid}):")
        kinds = by_kind(live[0].pid)
        for name, k in sorted(kinds.items(), key=lambda kv: -kv[1]["Pss"]):
            print(f"  {name:42s} Rss {k['Rss']:6d} KiB  Pss {k['Pss']:6d}  Private_Dirty {k['Private_Dirty']:6d}")
        result.update({"reason": reason, "alive": n, "rate_per_s": rate, "rate_vs_firecracker":
                       rate / FIRECRACKER_RATE, "idle_core_pct": core_pct, "host_busy_pct": busy,
                       "avail_kib_per_clone": used / max(1, n), "pss_kib_per_clone": pss / max(1, n),
                       "answered": len(sample) - len(missing), "sampled": len(sample), "one_clone": kinds})
        if a.json:
            with open(a.json, "w") as f:
                json.dump(result, f, indent=1)
        if missing:
            sys.exit(1)
    finally:
        for p, _ in clones:
            if p.poll() is None:
                p.kill()
        for p, _ in clones:
            p.wait()
            if p.stdin:
                p.stdin.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if raised:
            open("/proc/sys/kernel/pid_max", "w").write(str(pid_max))


if __name__ == "__main__":
    main()
