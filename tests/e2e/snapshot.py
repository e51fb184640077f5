#!/usr/bin/env python3
"""End to end: snapshots without the API.

Boot the guest, start a counter loop and a long computation in its shell, write files to /tmp (tmpfs), take
a Full snapshot on SIGUSR1, kill wisp, restore in a new process: the counter continues, the computation
ends with the result it would have had, the files are there, guest time went on from the snapshot's, the
shell answers. Then two clones of the snapshot side by side; a Diff snapshot of a clone restored both as
layers and merged into a copy of the base; and corrupt, truncated, wrong-version and mismatched files,
refused with a clear message and exit status 1.

usage: snapshot.py WISP IMAGE INITRD
"""
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(__file__))
from guest import Guest  # noqa: E402

PROMPT = rb"/ # "
ITERATIONS = 60000


def expected_result():
    s = 0
    for i in range(ITERATIONS):
        s = (s * 31 + i) % 1000003
    return s


def sh(g, cmd, pattern, timeout=60):
    return g.run(cmd, pattern, timeout)


def read_int(g, path):
    m = sh(g, f"echo V=$(cat {path})", rb"V=(\d+)\r?\n")
    return int(m.group(1))


def uptime(g):
    m = sh(g, "echo U=$(cut -d' ' -f1 /proc/uptime)", rb"U=([\d.]+)\r?\n")
    return float(m.group(1))


def restore(wisp, name, state, *mem, extra=()):
    g = Guest([wisp, "--restore", ",".join([state, *mem]), "--timeout", "600", *extra], log_name=name)
    g.expect(rb"guest running ([\d.]+) ms", 30)
    g.send("\n")
    g.expect(PROMPT, 30)
    return g


def snapshot_now(g, timeout=60):
    mark = len(g.out)
    g.proc.send_signal(signal.SIGUSR1)
    return g.expect(rb"snapshot written: .*?\((full|diff), (\d+) pages", timeout, since=mark)


def refused(wisp, args, pattern):
    p = subprocess.run([wisp, *args], stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    err = p.stderr.decode(errors="replace")
    print(f"refused ({p.returncode}): {err.strip()}")
    assert p.returncode == 1, f"{args}: exit status {p.returncode}, expected 1\n{err}"
    assert re.search(pattern, err), f"{args}: no {pattern!r} in {err!r}"


def main():
    wisp, image, initrd = sys.argv[1:4]
    tmp = tempfile.mkdtemp(prefix="wisp-snapshot-")
    s1, m1 = f"{tmp}/a1.state", f"{tmp}/a1.mem"  # the booted VM's first snapshot (Full: nothing tracked yet)
    a2s, a2m = f"{tmp}/a2.state", f"{tmp}/a2.mem"  # its second, a Diff on top of the first
    s2, m2 = f"{tmp}/s2.state", f"{tmp}/s2.mem"
    guests = []
    try:
        # ---- boot, workload, Full snapshot, kill ----
        a = Guest([wisp, "--kernel", image, "--initrd", initrd, "--mem", "256", "--timeout", "600",
                   "--snapshot-save", f"{tmp}/a%n.state,{tmp}/a%n.mem,diff"], log_name="boot")
        guests.append(a)
        a.expect(rb"wisp guest: init done", 300)
        a.send("\n")
        a.expect(PROMPT, 60)
        sh(a, "echo precious-$((6*7)) > /tmp/before.txt", PROMPT)
        sh(a, "(i=0; while :; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.2; done) &", PROMPT)
        time.sleep(1.5)
        # A computation that is half done when the snapshot is taken.
        sh(a, f"(s=0; i=0; while [ $i -lt {ITERATIONS} ]; do s=$(( (s*31 + i) % 1000003 )); i=$((i+1)); done;"
              " echo $s > /tmp/result) &", PROMPT)
        c0 = read_int(a, "/tmp/counter")
        u0 = uptime(a)
        assert c0 >= 2, f"counter did not run: {c0}"
        sh(a, "ls /tmp/result", rb"No such file")
        m = snapshot_now(a)
        assert m.group(1) == b"full", "the first snapshot of a booted VM is a Full"
        print(f"\nsnapshot: counter {c0} at uptime {u0}, {m.group(2).decode()} pages, "
              f"state {os.path.getsize(s1)} bytes, memory file {os.path.getsize(m1) >> 20} MiB "
              f"({os.stat(m1).st_blocks * 512 >> 20} MiB on disk)")
        # The booted VM goes on; its second snapshot is a Diff against the first.
        sh(a, "echo chained > /tmp/chain", PROMPT)
        ca = read_int(a, "/tmp/counter")
        m = snapshot_now(a)
        assert m.group(1) == b"diff", "the second snapshot of a booted VM is a Diff"
        a.proc.kill()
        a.wait_exit(30)

        # ---- restore: everything continues ----
        b = restore(wisp, "restore", s1, m1, extra=["--snapshot-save", f"{s2},{m2},diff"])
        guests.append(b)
        sh(b, "cat /tmp/before.txt", rb"precious-42")
        c1 = read_int(b, "/tmp/counter")
        u1 = uptime(b)
        assert c1 >= c0, f"counter went back: {c0} -> {c1}"
        assert u0 <= u1 < u0 + 30, f"guest time did not continue from the snapshot: {u0} -> {u1}"
        time.sleep(1.5)
        c2 = read_int(b, "/tmp/counter")
        assert c2 > c1, f"counter stopped after restore: {c1} -> {c2}"
        deadline = time.monotonic() + 300
        while sh(b, "echo R=$(cat /tmp/result 2>/dev/null || echo none)", rb"R=(\w+)\r?\n").group(1) == b"none":
            assert time.monotonic() < deadline, "the computation never finished after restore"
            time.sleep(1)
        result = read_int(b, "/tmp/result")
        assert result == expected_result(), f"computation gave {result}, expected {expected_result()}"
        print(f"\nrestore: counter {c0} -> {c1} -> {c2}, uptime {u0} -> {u1}, result {result} (correct)")

        # ---- Diff snapshot of the restored clone ----
        sh(b, "echo diff-era > /tmp/who", PROMPT)
        cd = read_int(b, "/tmp/counter")
        m = snapshot_now(b)
        assert m.group(1) == b"diff"
        diff_pages = int(m.group(2))
        b.proc.kill()
        b.wait_exit(30)
        print(f"\ndiff snapshot: {diff_pages} pages, {os.stat(m2).st_blocks * 512 >> 10} KiB on disk")
        assert 0 < diff_pages < 65536 // 4, f"a diff of {diff_pages} pages is not a diff"

        # ---- two clones of the Full snapshot side by side ----
        c = restore(wisp, "clone-1", s1, m1)
        d = restore(wisp, "clone-2", s1, m1)
        guests += [c, d]
        sh(c, "echo one > /tmp/who", PROMPT)
        sh(d, "echo two > /tmp/who", PROMPT)
        sh(c, "cat /tmp/who", rb"\none\r?\n")
        sh(d, "cat /tmp/who", rb"\ntwo\r?\n")
        cc, dc = read_int(c, "/tmp/counter"), read_int(d, "/tmp/counter")
        time.sleep(1.5)
        assert read_int(c, "/tmp/counter") > cc and read_int(d, "/tmp/counter") > dc, "a clone's counter stopped"
        sh(c, "cat /tmp/before.txt", rb"precious-42")
        sh(d, "cat /tmp/before.txt", rb"precious-42")
        for g in (c, d):
            g.send("poweroff\n")
            assert g.wait_exit(120) == 0
        print("\nclones: independent, both running, both powered off cleanly")

        # ---- the Diff: as a layer over the base, and merged into a copy of the base ----
        e = restore(wisp, "diff-layered", s2, m1, m2)
        guests.append(e)
        sh(e, "cat /tmp/who", rb"diff-era")
        ce = read_int(e, "/tmp/counter")
        assert ce >= cd, f"counter went back after the diff restore: {cd} -> {ce}"
        sh(e, "cat /tmp/before.txt", rb"precious-42")
        e.proc.kill()
        e.wait_exit(30)
        merged = f"{tmp}/merged.mem"
        shutil.copyfile(m1, merged)
        subprocess.run([wisp, "--snapshot-merge", f"{merged},{m2}"], check=True, timeout=60)
        f = restore(wisp, "diff-merged", s2, merged)
        guests.append(f)
        sh(f, "cat /tmp/who", rb"diff-era")
        assert read_int(f, "/tmp/counter") >= cd
        f.send("poweroff\n")
        assert f.wait_exit(120) == 0
        g = restore(wisp, "boot-chain", a2s, m1, a2m)
        guests.append(g)
        sh(g, "cat /tmp/chain", rb"chained")
        assert read_int(g, "/tmp/counter") >= ca
        sh(g, "cat /tmp/before.txt", rb"precious-42")
        g.proc.kill()
        g.wait_exit(30)
        print("\ndiff: layered and merged restores both see the diff's writes (also a booted VM's Full+Diff)")

        # ---- refused: clear message, exit status 1, no crash ----
        state = bytearray(open(s1, "rb").read())
        bad = f"{tmp}/bad.state"
        corrupt = bytearray(state)
        corrupt[len(corrupt) // 2] ^= 0x40
        open(bad, "wb").write(corrupt)
        refused(wisp, ["--restore", f"{bad},{m1}"], r"corrupt: CRC-32")
        open(bad, "wb").write(state[: len(state) - 100])
        refused(wisp, ["--restore", f"{bad},{m1}"], r"truncated")
        newer = bytearray(state)
        newer[8:12] = struct.pack("<I", 2)
        newer[24:28] = b"\0\0\0\0"
        newer[24:28] = struct.pack("<I", zlib.crc32(bytes(newer)))
        open(bad, "wb").write(newer)
        refused(wisp, ["--restore", f"{bad},{m1}"], r"version 2 is not supported")
        short = f"{tmp}/short.mem"
        with open(m1, "rb") as src, open(short, "wb") as dst:
            dst.write(src.read(1 << 20))
        refused(wisp, ["--restore", f"{s1},{short}"], r"memory file .* is 1048576 bytes.*truncated")
        refused(wisp, ["--restore", f"{s1},{m1},{m2}"], r"Full snapshot: its memory file takes no Diff")
        refused(wisp, ["--restore", f"{s2},{m1},{short}"], r"1048576 bytes")
        refused(wisp, ["--restore", f"{tmp}/missing,{m1}"], r"cannot open the snapshot state file")
        refused(wisp, ["--restore", f"{m1},{m1}"], r"not a regular file of at most|not a wisp snapshot")
        print("\nsnapshot: OK")
    finally:
        for g in guests:
            g.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
