#!/usr/bin/env python3
"""End to end: the host terminal after wisp, on a pseudo-terminal.

usage: terminal.py WISP

wisp puts its terminal in raw mode while the guest runs. However it ends (Ctrl-A x, a signal, --timeout, the
guest stopping by itself), the terminal settings must be exactly those it found, and its last words must be
printed so that each line starts in column 0 ("\\r\\n" on the terminal, never a bare "\\n" as raw mode without
output processing gives, which puts the shell's prompt mid-line). The guest is a tiny Image that spins (`j .`), so no guest
build is needed.
"""
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time


def spin_image(path):
    # RISC-V Image header (code0 = jal x0, +64), then `j .` at offset 64.
    hdr = struct.pack("<IIQQQIIQ8sII", 0x0400006F, 0, 0x200000, 8192, 0, 2, 0, 0, b"RISCV\0\0\0", 0x05435352, 0)
    with open(path, "wb") as f:
        f.write(hdr + struct.pack("<I", 0x0000006F) + bytes(4096 - 68))


def read_all(fd, proc, timeout=60):
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    return out


def session(wisp, image, how):
    master, slave = pty.openpty()
    # A terminal as a shell leaves it: canonical, echo, output processing on.
    before = termios.tcgetattr(slave)
    argv = [wisp, "--kernel", image, "--mem", "64"]
    if how == "timeout":
        argv += ["--timeout", "2"]
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    try:
        # Wait for raw mode (the console's input thread is running by then).
        deadline = time.monotonic() + 60
        while termios.tcgetattr(slave)[3] & termios.ICANON:
            assert p.poll() is None, f"wisp exited early: {read_all(master, p)!r}"
            assert time.monotonic() < deadline, "wisp never put the terminal in raw mode"
            time.sleep(0.02)
        if how == "ctrl-a-x":
            os.write(master, b"\x01x")
        elif how == "sigterm":
            p.send_signal(signal.SIGTERM)
        out = read_all(master, p)
        code = p.wait(60)
        out += read_all(master, p, 1)
        after = termios.tcgetattr(slave)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(slave)
        os.close(master)
    print(f"terminal {how}: status {code}, output {out!r}")
    assert after == before, f"{how}: terminal not restored:\n before {before}\n after  {after}"
    reason = {"ctrl-a-x": b"Ctrl-A x", "sigterm": b"signal", "timeout": b"timeout"}[how]
    assert b"\r\nwisp: guest stopped (" + reason + b")\r\n" in out, f"{how}: {out!r}"
    # No bare line feed anywhere: wisp's lines printed while the terminal was raw start in column 0 too (the
    # guest here prints nothing).
    assert b"\n" not in out.replace(b"\r\n", b""), f"{how}: bare \\n in {out!r}"
    return code


def main():
    wisp = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="wisp-terminal-") as tmp:
        image = os.path.join(tmp, "spin.img")
        spin_image(image)
        assert session(wisp, image, "ctrl-a-x") == 0
        assert session(wisp, image, "sigterm") == 128 + signal.SIGTERM
        assert session(wisp, image, "timeout") == 124
    print("terminal: OK")


if __name__ == "__main__":
    main()
