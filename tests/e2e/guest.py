#!/usr/bin/env python3
"""Drive a wisp guest over its serial console: wait for output, type commands, check the exit."""
import os
import re
import select
import socket
import subprocess
import sys
import time


class Guest:
    def __init__(self, argv, log_name="guest", env=None):
        self.argv = argv
        self.out = b""
        self.start = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env)
        self.name = log_name

    def _read(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return False
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            return None
        self.out += chunk
        sys.stdout.write(chunk.decode("utf-8", "replace"))
        sys.stdout.flush()
        return True

    def expect(self, pattern, timeout, since=0):
        """Wait until `pattern` (regex bytes) appears in output after offset `since`."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.out, since)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.name}: timed out after {timeout}s waiting for {pattern!r}")
            if self._read(min(left, 0.5)) is None:
                m = rx.search(self.out, since)
                if m:
                    return m
                raise AssertionError(f"{self.name}: wisp exited (status {self.proc.wait()}) "
                                     f"before {pattern!r} appeared")

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def run(self, cmd, expect, timeout=60):
        """Type a command, wait for `expect` in what follows."""
        mark = len(self.out)
        self.send(cmd + "\n")
        return self.expect(expect, timeout, since=mark)

    def wait_exit(self, timeout):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"{self.name}: wisp did not exit within {timeout}s")
            self._read(0.2)
        while self._read(0):
            pass
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def connect_retry(addr, within=60, pause=0.2):
    """TCP connect to addr, retrying until the peer listens or `within` seconds pass."""
    deadline = time.monotonic() + within
    while True:
        try:
            return socket.create_connection(addr, timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(pause)
