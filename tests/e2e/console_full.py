#!/usr/bin/env python3
"""End to end: a guest printing to a console nobody reads.

usage: console_full.py WISP IMAGE INITRD

The guest floods its serial console (seq) while the test stops reading wisp's standard output (a pipe).
Once the pipe is full, PATCH /vm Paused and PUT /snapshot/create must still answer (the vCPU never waits
for the reader), FlushMetrics must count the dropped bytes in uart.missed_write_count, and once the test
reads again the guest's output flows on and it powers off normally.
"""
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.dirname(__file__))
from api import SKIP, api, expect, wait_for  # noqa: E402



class Console:
    def __init__(self, proc):
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.out = b""

    def expect(self, pattern, timeout, since=0):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while not rx.search(self.out, since):
            assert time.monotonic() < deadline, f"timed out waiting for {pattern!r}: {self.out[-500:]!r}"
            r, _, _ = select.select([self.fd], [], [], 0.5)
            if r:
                chunk = os.read(self.fd, 65536)
                assert chunk, f"wisp exited before {pattern!r}"
                self.out += chunk
        return rx.search(self.out, since)

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def unread(self):
        """Bytes sitting in the pipe, not read yet."""
        buf = bytearray(4)
        fcntl.ioctl(self.fd, termios.FIONREAD, buf)
        return int.from_bytes(buf, sys.byteorder)


def missed(sock, metrics):
    """Flush the metrics and add up uart.missed_write_count over every line so far (counters are deltas)."""
    expect(api(sock, "PUT", "/actions", {"action_type": "FlushMetrics"}), 204)
    total = 0
    with open(metrics) as f:
        for line in f:
            if line.strip():
                total += json.loads(line).get("uart", {}).get("missed_write_count", 0)
    return total


def main():
    wisp, image, initrd = (os.path.abspath(p) for p in sys.argv[1:4])
    if not shutil.which("curl"):
        print("curl missing, skipped")
        sys.exit(SKIP)
    with tempfile.TemporaryDirectory(prefix="wisp-console-full-") as tmp:
        sock = os.path.join(tmp, "api.sock")
        metrics = os.path.join(tmp, "metrics.json")
        with open(os.path.join(tmp, "stderr"), "w") as err:
            p = subprocess.Popen([wisp, "--api-sock", sock, "--kernel", image, "--initrd", initrd,
                                  "--metrics-path", metrics], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=err)
        c = Console(p)
        try:
            wait_for(sock)
            c.expect(rb"wisp guest: init done", 300)
            c.send("\n")
            c.expect(rb"/ # ", 60)
            count = 100000  # about 590 KB: more than the pipe and wisp's buffer hold together
            c.send(f"seq 1 {count}; echo flood-$((6*7))-done\n")
            # Stop reading. Wait for the pipe to fill up: 16 pages on Linux, of which the first may be partly
            # read already and the last partly written, so full is 56 KiB or more that stops growing.
            deadline = time.monotonic() + 300
            last, since = -1, time.monotonic()
            while True:
                n = c.unread()
                if n != last:
                    last, since = n, time.monotonic()
                elif n >= 65536 - 2 * 4096 and time.monotonic() - since >= 1.0:
                    break
                assert time.monotonic() < deadline and p.poll() is None, f"pipe never filled: {n}"
                time.sleep(0.05)
            # The guest is blocked on nobody: pause and snapshot answer.
            expect(api(sock, "PATCH", "/vm", {"state": "Paused"}), 204)
            assert expect(api(sock, "GET", "/"), 200)["state"] == "Paused"
            expect(api(sock, "PUT", "/snapshot/create", {"snapshot_path": os.path.join(tmp, "state"),
                                                         "mem_file_path": os.path.join(tmp, "mem")}), 204)
            expect(api(sock, "PATCH", "/vm", {"state": "Resumed"}), 204)
            # What did not fit was dropped and counted.
            deadline = time.monotonic() + 300
            while (lost := missed(sock, metrics)) == 0:
                assert time.monotonic() < deadline, "no uart.missed_write_count"
                time.sleep(0.1)
            # Reading again: the output flows on, with a gap where bytes were dropped.
            c.expect(rb"flood-42-done", 600)
            seen = set(int(n) for n in re.findall(rb"(?m)^(\d+)\r?$", c.out))
            print(f"console-full: {lost} bytes dropped, {count - len(seen & set(range(1, count + 1)))} "
                  f"of {count} lines missing")
            assert len(seen & set(range(1, count + 1))) < count, "nothing was dropped from the output"
            assert count in seen, "the end of the output is missing"
            c.send("poweroff\n")
            assert p.wait(120) == 0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    print("console-full: OK")


if __name__ == "__main__":
    main()
