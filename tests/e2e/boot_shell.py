#!/usr/bin/env python3
"""End to end: boot the guest to a busybox shell, run a command, power off, expect exit status 0.

usage: boot_shell.py WISP IMAGE INITRD [extra wisp args...]
"""
import sys
import time

sys.path.insert(0, __import__("os").path.dirname(__file__))
from guest import Guest  # noqa: E402


def main():
    wisp, image, initrd, *extra = sys.argv[1:]
    g = Guest([wisp, "--kernel", image, "--initrd", initrd, "--mem", "256", "--timeout", "600", *extra])
    try:
        t0 = time.monotonic()
        g.expect(rb"wisp guest: init done", 300)
        g.send("\n")
        g.expect(rb"/ # ", 60)
        boot = time.monotonic() - t0
        g.run("echo hello-$((6*7))", rb"hello-42")
        g.run("cat /proc/cpuinfo", rb"isa\s*: rv64imafdc")
        g.run("uname -m", rb"riscv64")
        mark = len(g.out)
        g.send("poweroff\n")
        code = g.wait_exit(120)
        assert code == 0, f"wisp exit status {code}, expected 0"
        assert b"reboot: Power down" in g.out[mark:] or b"poweroff" in g.out[mark:], "no power-down message"
        print(f"\nboot_shell: OK, prompt after {boot:.2f}s, exit status 0")
    finally:
        g.close()


if __name__ == "__main__":
    main()
