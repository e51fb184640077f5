#!/usr/bin/env python3
"""End to end: runs without the API do not load the HTTP server's libraries.

usage: startup.py WISP

libmicrohttpd and the TLS stack it pulls in (gnutls, nettle, p11-kit, ...) cost a good part of wisp's start.
They must be loaded only when the API is served: a running wisp started with --kernel (no --api-sock),
--config-file --no-api, or --restore has neither mapped (/proc/PID/maps); with --api-sock it has, and the API
answers. The guest is a tiny Image that spins (`j .`), so no guest build is needed.
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HEAVY = ("libmicrohttpd", "libgnutls")


def spin_image(path):
    hdr = struct.pack("<IIQQQIIQ8sII", 0x0400006F, 0, 0x200000, 8192, 0, 2, 0, 0, b"RISCV\0\0\0", 0x05435352, 0)
    with open(path, "wb") as f:
        f.write(hdr + struct.pack("<I", 0x0000006F) + bytes(4096 - 68))


def wait_file_has(path, text, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        if os.path.exists(path):
            with open(path) as f:
                if text in f.read():
                    return
        assert proc.poll() is None, f"wisp exited ({proc.returncode}) before {text!r} in {path}"
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.02)


def mapped(pid):
    with open(f"/proc/{pid}/maps") as f:
        maps = f.read()
    return [lib for lib in HEAVY if lib in maps]


def stop(p):
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 128 + signal.SIGTERM


def running_without_api(name, argv, log, ready):
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(log, "a"))
    try:
        wait_file_has(log, ready, p)
        libs = mapped(p.pid)
        print(f"startup {name}: guest running, mapped: {libs or 'none of ' + ', '.join(HEAVY)}")
        assert not libs, f"{name}: {libs} loaded without the API"
        stop(p)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def main():
    wisp = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="wisp-startup-") as tmp:
        image = os.path.join(tmp, "spin.img")
        spin_image(image)
        started = "Successfully started the microVM"
        log = os.path.join(tmp, "kernel.log")
        running_without_api("--kernel", [wisp, "--kernel", image, "--mem", "64", "--log-path", log, "--level",
                                         "Info"], log, started)
        log = os.path.join(tmp, "noapi.log")

        cfg = os.path.join(tmp, "vm.json")
        with open(cfg, "w") as f:
            json.dump({"boot-source": {"kernel_image_path": image}, "machine-config": {"vcpu_count": 1,
                       "mem_size_mib": 64}, "logger": {"log_path": log, "level": "Info"}}, f)
        running_without_api("--no-api", [wisp, "--no-api", "--config-file", cfg], log, started)

        # A snapshot of the spinning guest, then --restore it.
        state, mem = os.path.join(tmp, "state"), os.path.join(tmp, "mem")
        r = subprocess.run([wisp, "--kernel", image, "--mem", "64", "--snapshot-save", f"{state},{mem}",
                            "--snapshot-after", "0.2", "--snapshot-exit"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and os.path.exists(state), r
        err = os.path.join(tmp, "restore.err")
        running_without_api("--restore", [wisp, "--restore", f"{state},{mem}"], err, "wisp: restored")

        # With the API, the server's library is there and serves.
        sock = os.path.join(tmp, "api.sock")
        p = subprocess.Popen([wisp, "--api-sock", sock], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not os.path.exists(sock):
                assert p.poll() is None and time.monotonic() < deadline, "no API socket"
                time.sleep(0.02)
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(30)
                s.connect(sock)
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                reply = b""
                while chunk := s.recv(4096):
                    reply += chunk
            assert reply.startswith(b"HTTP/1.1 200") and b'"state":"Not started"' in reply, reply
            assert "libmicrohttpd" in mapped(p.pid), "the API is served without libmicrohttpd?"
            stop(p)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    print("startup: OK")


if __name__ == "__main__":
    main()
