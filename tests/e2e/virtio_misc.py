#!/usr/bin/env python3
"""End to end, virtio-rng and virtio-console: /dev/hwrng delivers bytes from the virtio entropy device, and
a login on hvc0 (the pseudo-terminal wisp prints with --vconsole) gets a working shell.

usage: virtio_misc.py WISP IMAGE INITRD
"""
import os
import re
import select
import sys
import termios
import time
import tty

sys.path.insert(0, os.path.dirname(__file__))
from guest import Guest  # noqa: E402


class Pty:
    """The host side of hvc0."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd, termios.TCSANOW)
        self.out = b""

    def expect(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while not rx.search(self.out):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"hvc0: timed out waiting for {pattern!r}; got {self.out[-300:]!r}")
            r, _, _ = select.select([self.fd], [], [], min(left, 0.5))
            if r:
                chunk = os.read(self.fd, 4096)
                sys.stdout.write(chunk.decode("utf-8", "replace"))
                self.out += chunk
        return rx.search(self.out)

    def send(self, text):
        os.write(self.fd, text.encode())

    def close(self):
        os.close(self.fd)


def check_rng(g):
    g.run("cat /sys/class/misc/hw_random/rng_current", rb"virtio_rng")
    g.run("dd if=/dev/hwrng bs=64 count=16 2>/dev/null | wc -c", rb"\n1024\r?\n")
    # Two reads differ (they are not a constant pattern).
    g.run("a=$(dd if=/dev/hwrng bs=32 count=1 2>/dev/null | md5sum); "
          "b=$(dd if=/dev/hwrng bs=32 count=1 2>/dev/null | md5sum); [ \"$a\" != \"$b\" ]; echo DIFF=$?",
          rb"DIFF=0")


def check_hvc0(path):
    p = Pty(path)
    try:
        deadline = time.monotonic() + 60
        while b"login:" not in p.out:  # getty may start after we open the pty: nudge it
            p.send("\n")
            try:
                p.expect(rb"login:", 3)
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
        p.send("root\n")
        p.expect(rb"# ", 30)
        p.send("echo hvc-$((6*7)); tty\n")
        p.expect(rb"hvc-42\r?\n/dev/hvc0", 30)
    finally:
        p.close()


def main():
    wisp, image, initrd = sys.argv[1:4]
    g = Guest([wisp, "--kernel", image, "--initrd", initrd, "--mem", "256", "--timeout", "600", "--rng",
               "--vconsole"], "misc")
    try:
        t0 = time.monotonic()
        path = g.expect(rb"virtio console \(hvc0\) on (/dev/pts/\d+)", 30).group(1).decode()
        g.expect(rb"wisp guest: init done", 300)
        g.send("\n")
        g.expect(rb"/ # ", 60)
        check_rng(g)
        check_hvc0(path)
        mark = len(g.out)
        g.send("poweroff\n")
        assert g.wait_exit(120) == 0
        assert b"reboot: Power down" in g.out[mark:]
        print(f"\nvirtio_misc: OK in {time.monotonic() - t0:.1f}s (hwrng bytes, hvc0 login)")
    finally:
        g.close()


if __name__ == "__main__":
    main()
