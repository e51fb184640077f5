#!/usr/bin/env python3
"""ThreadSanitizer run of the SMP paths (make test-tsan; not part of CI: a TSan build boots Linux in minutes).

A 2-vCPU guest boots under a -fsanitize=thread wisp, runs wisp-smp-test (AMOs, LR/SC, futexes, barriers, an
acquire/release ring), is paused and resumed through the API, takes a CPU offline and back, and powers off.
Races on guest memory are the guest's own (tests/tsan/wisp.supp); any other report fails the run, with the
reports printed.

usage: smp_tsan.py WISP_TSAN GUEST_DIR
"""
import glob
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from api import api, wait_for  # noqa: E402
from guest import Guest  # noqa: E402


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    wisp, guest_dir = sys.argv[1:]
    tmp = tempfile.mkdtemp(prefix="wisp-tsan-")
    logs = os.path.join(tmp, "tsan")
    env = dict(os.environ, TSAN_OPTIONS=f"halt_on_error=0 report_signal_unsafe=0 log_path={logs} "
                                        f"suppressions={os.path.join(HERE, 'wisp.supp')}")
    sock = os.path.join(tmp, "api.sock")
    # Seccomp off: the TSan runtime makes calls the filters do not list (they know ASan's, not TSan's).
    g = Guest([wisp, "--no-seccomp", "--api-sock", sock, "--kernel", os.path.join(guest_dir, "Image"),
               "--initrd", os.path.join(guest_dir, "initrd.cpio.gz"), "--mem", "256", "--cpus", "2",
               "--timeout", "3000"], "tsan", env=env)
    try:
        g.expect(rb"wisp guest: init done", 2400)
        g.send("\n")
        g.expect(rb"/ # ", 120)
        m = g.run("wisp-smp-test", rb"(SMP-TEST OK threads=\d+|FAIL.*)\r?\n", 1800)
        assert m.group(1).startswith(b"SMP-TEST OK"), m.group(1)
        wait_for(sock)
        assert api(sock, "PATCH", "/vm", {"state": "Paused"})[0] == 204
        assert api(sock, "PATCH", "/vm", {"state": "Resumed"})[0] == 204
        g.run("echo 0 > /sys/devices/system/cpu/cpu1/online; echo 1 > /sys/devices/system/cpu/cpu1/online; "
              "echo CPUS=$(nproc)", rb"CPUS=2\r?\n", 600)
        g.send("poweroff\n")
        assert g.wait_exit(600) == 0
    finally:
        g.close()
    reports = []
    for f in glob.glob(logs + ".*"):
        reports.append(open(f, errors="replace").read())
    if reports:
        print("\n".join(reports))
        raise SystemExit(f"ThreadSanitizer: {sum(r.count('WARNING: ThreadSanitizer') for r in reports)} reports")
    print("tsan: no reports (2 vCPUs: boot, wisp-smp-test, pause/resume, CPU hotplug, poweroff)")


if __name__ == "__main__":
    main()
