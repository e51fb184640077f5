#!/usr/bin/env python3
"""End to end: kernels that cannot run, through the command line and the API.

usage: faults.py WISP IMAGE
  - a truncated Image (`head -c 100 Image`) and one too large for the guest memory are refused before boot,
    with the loader's own message: on stderr (exit status 1) and in InstanceStart's fault_message (400, the
    microVM stays Not started and the API keeps serving);
  - a kernel that faults with its trap vector unset (stvec = 0) stops wisp with exit status 1 and a message
    naming the pc and cause, on stderr and in the log, instead of spinning forever.
"""
import os
import struct
import subprocess
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from api import SKIP, api, curl, expect, wait_for  # noqa: E402

STUCK = 1  # wisp's exit status when a hart can make no progress


def header(code0, image_size):
    """A RISC-V Image header (64 bytes): code0, text_offset 2 MiB, image_size, version 0.2, both magics."""
    return struct.pack("<IIQQQIIQ8sII", code0, 0, 0x200000, image_size, 0, 2, 0, 0, b"RISCV\0\0\0",
                       0x05435352, 0)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def run(argv):
    # --timeout is a safety net only: a wisp that spins would end with 124, which fails the checks below.
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


def main():
    wisp, image = (os.path.abspath(p) for p in sys.argv[1:3])
    if not shutil.which("curl"):
        print("curl missing (apt-get install curl), skipped")
        sys.exit(SKIP)
    with open(image, "rb") as f:
        kernel = f.read()
    with tempfile.TemporaryDirectory(prefix="wisp-faults-") as tmp:
        trunc = write(os.path.join(tmp, "trunc.img"), kernel[:100])
        # jal x0, +0x40 to zeros (an illegal instruction) with stvec = 0: no trap handler can ever run.
        zeros = write(os.path.join(tmp, "zeros.img"), header(0x0400006F, 8192) + bytes(4096 - 64))
        huge = write(os.path.join(tmp, "huge.img"), header(0, 300 << 20) + bytes(4096 - 64))

        # ---- the command line ----
        r = run([wisp, "--kernel", trunc, "--timeout", "60"])
        assert r.returncode == 1, r
        assert f"kernel '{trunc}' is truncated: 100 bytes" in r.stderr, r.stderr
        assert "standard error" not in r.stderr, r.stderr
        r = run([wisp, "--kernel", huge, "--mem", "256", "--timeout", "60"])
        assert r.returncode == 1 and "give the microVM more memory" in r.stderr, r
        log = os.path.join(tmp, "cli.log")
        r = run([wisp, "--kernel", zeros, "--timeout", "60", "--log-path", log])
        assert r.returncode == STUCK, r
        for text in (r.stderr, open(log).read()):
            assert "hart 0 can make no progress" in text, text
            assert "instruction access fault (cause 1) at pc 0x0" in text, text
            assert "S-mode whose trap vector is 0x0" in text, text
            assert "the first: illegal instruction (cause 2) at pc 0x80200040" in text, text

        # ---- the API ----
        sock = os.path.join(tmp, "api.sock")
        log = os.path.join(tmp, "api.log")
        p = subprocess.Popen([wisp, "--api-sock", sock, "--timeout", "60"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(sock)
            expect(curl(sock, "PUT", "/logger", {"log_path": log, "level": "Info"}), 204)
            expect(curl(sock, "PUT", "/boot-source", {"kernel_image_path": trunc}), 204)
            body = expect(curl(sock, "PUT", "/actions", {"action_type": "InstanceStart"}), 400,
                          f"Failed to start the microVM: kernel '{trunc}' is truncated: 100 bytes")
            assert "standard error" not in body["fault_message"], body
            assert expect(api(sock, "GET", "/"), 200)["state"] == "Not started"
            expect(curl(sock, "PUT", "/boot-source", {"kernel_image_path": huge}), 204)
            expect(curl(sock, "PUT", "/actions", {"action_type": "InstanceStart"}), 400, "more memory")
            assert expect(api(sock, "GET", "/"), 200)["state"] == "Not started"
            # A kernel that boots and cannot make progress: wisp stops by itself, with the reason.
            expect(curl(sock, "PUT", "/boot-source", {"kernel_image_path": zeros}), 204)
            expect(curl(sock, "PUT", "/actions", {"action_type": "InstanceStart"}), 204)
            out, err = p.communicate(timeout=120)
            assert p.returncode == STUCK, (p.returncode, err)
            assert "can make no progress" in err and "pc 0x0" in err, err
            with open(log) as f:
                text = f.read()
            assert "Failed to start the microVM: kernel" in text, text
            assert "The microVM stopped: hart 0 can make no progress" in text, text
            assert not os.path.exists(sock), "API socket left behind"
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    print("faults: OK")


if __name__ == "__main__":
    main()
