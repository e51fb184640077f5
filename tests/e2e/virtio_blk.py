#!/usr/bin/env python3
"""End to end, virtio-blk: boot from ext4 on /dev/vda (a copy of the built rootfs), write a file, sync, power
off and read it back on the host with debugfs; a read-only drive refuses writes and stays unchanged; a write the guest flushed survives kill -9 of wisp.

usage: virtio_blk.py WISP IMAGE ROOTFS_EXT4 [async]
  async: every drive with io_engine Async (io_uring, several requests in flight)
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from guest import Guest  # noqa: E402

CMDLINE = "console=ttyS0 root=/dev/vda rw"
ENGINE = ""  # ",async" for io_engine Async


def boot(wisp, image, drives, name):
    argv = [wisp, "--kernel", image, "--mem", "256", "--timeout", "600", "--cmdline", CMDLINE]
    for d in drives:
        argv += ["--drive", d + ENGINE]
    g = Guest(argv, name)
    g.expect(rb"wisp guest: init done", 300)
    g.send("\n")
    g.expect(rb"/ # ", 60)
    return g


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def debugfs_cat(img, path):
    r = subprocess.run(["debugfs", "-R", f"cat {path}", img], capture_output=True, check=True)
    return r.stdout


def first_boot(wisp, image, root, ro, scratch, token):
    g = boot(wisp, image, [root, f"{ro},ro,id=wisp-ro-disk", scratch], "blk-boot1")
    try:
        g.run("mount | grep ' / '", rb"/dev/root on / type ext4 \(rw")
        g.run("cat /sys/block/vdb/ro /sys/block/vdb/serial", rb"1\s+wisp-ro-disk")
        g.run(f"echo {token} > /root/note.txt; sync; echo SYNC=$?", rb"SYNC=0")
        # The guest kernel knows the drive is read-only (VIRTIO_BLK_F_RO) and keeps it so even when asked to
        # make it writable; the device's own VIRTIO_BLK_S_IOERR for writes is covered by test_virtio_devices.
        g.run("dd if=/dev/zero of=/dev/vdb bs=512 count=1 2>&1; echo DD1=$?", rb"DD1=1")
        g.run("blockdev --setrw /dev/vdb; dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync 2>&1; echo DD2=$?",
              rb"DD2=1")
        mark = len(g.out)
        g.send("poweroff\n")
        code = g.wait_exit(120)
        assert code == 0, f"wisp exit status {code}"
        assert b"reboot: Power down" in g.out[mark:], "no power-down message"
    finally:
        g.close()


def second_boot(wisp, image, root, scratch, token):
    g = boot(wisp, image, [root, scratch], "blk-boot2")
    try:
        g.run("cat /root/note.txt", token.encode() + rb"\r?\n")
        g.run(f"echo {token}-raw | dd of=/dev/vdb conv=fsync 2>/dev/null; echo RAW=$?", rb"RAW=0")
        g.proc.kill()  # SIGKILL: no chance to write anything back
        g.proc.wait()
    finally:
        g.close()


def main():
    global ENGINE
    wisp, image, rootfs = sys.argv[1:4]
    if sys.argv[4:] == ["async"]:
        ENGINE = ",async"
    tmp = tempfile.mkdtemp(prefix="wisp-blk-")
    try:
        root = os.path.join(tmp, "root.ext4")
        shutil.copyfile(rootfs, root)  # never the built image itself
        ro = os.path.join(tmp, "ro.img")
        scratch = os.path.join(tmp, "scratch.img")
        with open(ro, "wb") as f:
            f.write(bytes(range(256)) * 4096)
        with open(scratch, "wb") as f:
            f.truncate(1 << 20)
        ro_hash = sha256(ro)
        token = f"wisp-blk-{os.getpid()}-{int(time.time())}"

        t0 = time.monotonic()
        first_boot(wisp, image, root, ro, scratch, token)
        got = debugfs_cat(root, "/root/note.txt")
        assert got.strip() == token.encode(), f"debugfs read {got!r}, expected {token!r}"
        assert sha256(ro) == ro_hash, "the read-only drive changed"

        second_boot(wisp, image, root, scratch, token)
        with open(scratch, "rb") as f:
            head = f.read(64)
        assert head.startswith(f"{token}-raw\n".encode()), f"flushed write lost after kill -9: {head!r}"
        print(f"\nvirtio_blk{ENGINE}: OK in {time.monotonic() - t0:.1f}s (ext4 root on vda, debugfs read-back, "
              "read-only refused, flush survives kill -9)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
