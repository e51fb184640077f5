#!/usr/bin/env python3
"""End to end: snapshots without the API.

Boot the guest, start a counter loop and a long computation in its shell, write files to /tmp (tmpfs), take
a Full snapshot on SIGUSR1, kill wisp, restore in a new process: the counter continues, the computation
ends with the result it would have had, the files are there, guest time went on from the snapshot's, the
shell answers (the restore runs under the other CPU backend: the snapshot does not depend on it). Then two
clones of the snapshot side by side; a Diff snapshot of a clone restored both as
layers and merged into a copy of the base; and corrupt, truncated, wrong-version and mismatched files,
refused with a clear message and exit status 1.

With `blk`: a guest whose root is ext4 on virtio-blk (/dev/vda, a copy of the built rootfs) writes files
(one synced, one only in its page cache) and keeps a write+sync loop running, so requests are in flight when
a snapshot is taken (--snapshot-exit: the origin never writes again). Restored with the clone's own --drive
(a copy of the disk at snapshot time) and with the drive recorded in the snapshot: the files are there, the
loop goes on, reads after dropping the guest's caches and new writes work, the host reads the new files back
with debugfs and e2fsck finds the file system clean; a drive of another size is refused.

usage: snapshot.py WISP IMAGE INITRD
       snapshot.py blk WISP IMAGE ROOTFS_EXT4
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


def counter_moves(g, path, after, timeout=120):
    """The guest's counter at path goes past `after` (polled: a loaded host may take a while)."""
    deadline = time.monotonic() + timeout
    while True:
        v = read_int(g, path)
        if v > after or time.monotonic() > deadline:
            return v
        time.sleep(0.5)


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


BLK_CMDLINE = "console=ttyS0 root=/dev/vda rw"


def debugfs_cat(img, path):
    r = subprocess.run(["debugfs", "-R", f"cat {path}", img], capture_output=True, check=True, timeout=60)
    return r.stdout.strip()


def blk_clone(wisp, name, state, mem, token, extra=()):
    """Restore, check what the origin wrote and that the disk works both ways, power off."""
    g = restore(wisp, name, state, mem, extra=extra)
    try:
        sh(g, "mount | grep ' / '", rb"/dev/root on / type ext4 \(rw")
        sh(g, "cat /root/synced.txt", (token + "-synced").encode())
        sh(g, "cat /root/cached.txt", (token + "-cached").encode())  # was only in the page cache (RAM)
        c1 = read_int(g, "/root/counter")
        c2 = counter_moves(g, "/root/counter", c1)
        assert c2 > c1, f"{name}: the write+sync loop stopped after restore: {c1} -> {c2}"
        sh(g, "touch /root/stop; sleep 1; sync; echo SYNC=$?", rb"SYNC=0")
        # New writes, then everything read back from the disk rather than the guest's page cache.
        sh(g, f"echo {token}-{name} > /root/after.txt; dd if=/dev/urandom of=/root/big bs=64k count=16 "
              "conv=fsync 2>/dev/null; sync; echo W=$?", rb"W=0")
        m1 = sh(g, "md5sum /root/big", rb"\n([0-9a-f]{32}) ").group(1)
        sh(g, "echo 3 > /proc/sys/vm/drop_caches; echo D=$?", rb"D=0")
        m2 = sh(g, "md5sum /root/big", rb"\n([0-9a-f]{32}) ").group(1)
        assert m1 == m2, f"{name}: /root/big reads back differently from the disk: {m1} {m2}"
        sh(g, "cat /root/synced.txt /root/cached.txt /root/after.txt",
           (token + r"-synced\r?\n" + token + r"-cached\r?\n" + token + "-" + name).encode())
        sh(g, "mount -o remount,ro / 2>&1; echo RO=$?", rb"RO=\d")
        g.send("poweroff\n")
        assert g.wait_exit(120) == 0, f"{name}: poweroff"
        return c2
    finally:
        g.close()


def blk_main(wisp, image, rootfs):
    tmp = tempfile.mkdtemp(prefix="wisp-snapshot-blk-")
    guests = []
    try:
        root = f"{tmp}/root.ext4"
        shutil.copyfile(rootfs, root)  # never the built image itself
        state, mem = f"{tmp}/blk.state", f"{tmp}/blk.mem"
        token = f"wisp-snap-blk-{os.getpid()}-{int(time.time())}"
        t0 = time.monotonic()
        a = Guest([wisp, "--kernel", image, "--cmdline", BLK_CMDLINE, "--drive", root, "--mem", "256",
                   "--timeout", "600", "--snapshot-save", f"{state},{mem}", "--snapshot-exit"], log_name="blk-boot")
        guests.append(a)
        a.expect(rb"wisp guest: init done", 300)
        a.send("\n")
        a.expect(PROMPT, 60)
        sh(a, "mount | grep ' / '", rb"/dev/root on / type ext4 \(rw")
        sh(a, f"echo {token}-synced > /root/synced.txt; sync; echo SYNC=$?", rb"SYNC=0")
        sh(a, f"echo {token}-cached > /root/cached.txt", PROMPT)
        # Disk I/O all the time, so that requests are on their way when the snapshot is taken.
        sh(a, "(i=0; while [ ! -e /root/stop ]; do i=$((i+1)); echo $i > /root/c.tmp; mv /root/c.tmp /root/counter;"
              " sync; done) &", PROMPT)
        time.sleep(2)
        c0 = read_int(a, "/root/counter")
        assert c0 > 0, "the write+sync loop does not run"
        m = snapshot_now(a)
        assert a.wait_exit(60) == 0, "--snapshot-exit: wisp did not end with status 0"
        print(f"\nblk snapshot: {m.group(2).decode()} pages, loop at {c0}, "
              f"{time.monotonic() - t0:.1f}s after boot")
        # The disk as the snapshot left it, for a second clone.
        copy = f"{tmp}/copy.ext4"
        shutil.copyfile(root, copy)

        refused_small = f"{tmp}/small.img"
        with open(refused_small, "wb") as f:
            f.truncate(1 << 20)
        refused(wisp, ["--restore", f"{state},{mem}", "--drive", refused_small],
                r"virtio-blk.*the drive has 2048 sectors of 512 bytes, the snapshot's drive had \d+")
        refused(wisp, ["--restore", f"{state},{mem}", "--drive", f"{copy},ro"], r"read-only")

        # The clone's own drive (the copy), then the drive recorded in the snapshot (the origin's).
        c_own = blk_clone(wisp, "blk-own-drive", state, mem, token, extra=["--drive", copy])
        c_rec = blk_clone(wisp, "blk-recorded-drive", state, mem, token)
        assert c_own >= c0 and c_rec >= c0, "a loop went back"
        for img, name in ((copy, "blk-own-drive"), (root, "blk-recorded-drive")):
            for path, want in (("/root/synced.txt", "synced"), ("/root/cached.txt", "cached"),
                               ("/root/after.txt", name)):
                got = debugfs_cat(img, path)
                assert got == f"{token}-{want}".encode(), f"{img}:{path}: debugfs read {got!r}"
            r = subprocess.run(["e2fsck", "-fn", img], capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, f"e2fsck {img}: status {r.returncode}\n{r.stdout}{r.stderr}"
        print(f"\nsnapshot blk: OK in {time.monotonic() - t0:.1f}s (files, in-flight writes, drop_caches "
              "read-back, new writes, debugfs, e2fsck; other-size and read-only drives refused)")
    finally:
        for g in guests:
            g.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if sys.argv[1] == "blk":
        blk_main(*sys.argv[2:5])
        return
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
        sh(a, "(i=0; while :; do i=$((i+1)); echo $i > /tmp/c.tmp; mv /tmp/c.tmp /tmp/counter; sleep 0.2; done) &", PROMPT)
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

        # ---- restore under the other CPU backend: everything continues ----
        other = "jit" if os.environ.get("WISP_CPU_BACKEND", "jit") == "interp" else "interp"
        b = restore(wisp, "restore", s1, m1, extra=["--snapshot-save", f"{s2},{m2},diff", "--cpu-backend", other])
        guests.append(b)
        sh(b, "cat /tmp/before.txt", rb"precious-42")
        c1 = read_int(b, "/tmp/counter")
        u1 = uptime(b)
        assert c1 >= c0, f"counter went back: {c0} -> {c1}"
        assert u0 <= u1 < u0 + 30, f"guest time did not continue from the snapshot: {u0} -> {u1}"
        c2 = counter_moves(b, "/tmp/counter", c1)
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
        assert counter_moves(c, "/tmp/counter", cc) > cc and counter_moves(d, "/tmp/counter", dc) > dc, \
            "a clone's counter stopped"
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
