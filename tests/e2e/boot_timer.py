#!/usr/bin/env python3
"""End to end: --boot-timer with the shipped guest (the guest kernel has /dev/mem; its init writes the register).

usage: boot_timer.py WISP IMAGE INITRD

Boots `make guest`'s kernel and initrd with --boot-timer and checks that wisp logs the guest's own boot time
(Guest-boot-time, written when /etc/rcS is done), that it is consistent with what the test saw (more than
zero, no more than the time from starting wisp to the guest's "init done"), and that the metrics report the
same value as vmm.guest_boot_time_us.
"""
import json
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from guest import Guest  # noqa: E402

LINE = re.compile(r"Guest-boot-time = +(\d+) us (\d+) ms, +(\d+) CPU us (\d+) CPU ms \((\d+) ms since wisp started\)")


def main():
    wisp, image, initrd = (os.path.abspath(p) for p in sys.argv[1:4])
    with tempfile.TemporaryDirectory(prefix="wisp-boot-timer-") as tmp:
        log = os.path.join(tmp, "wisp.log")
        metrics = os.path.join(tmp, "metrics.json")
        t0 = time.monotonic()
        g = Guest([wisp, "--kernel", image, "--initrd", initrd, "--boot-timer", "--log-path", log, "--level",
                   "Info", "--metrics-path", metrics], "boot-timer")
        try:
            g.expect(rb"wisp guest: init done", 300)
            seen = time.monotonic() - t0
            g.send("\n")
            g.expect(rb"/ # ", 60)
            g.run("[ -c /dev/mem ] && echo dev''mem-yes || echo dev''mem-no", rb"devmem-yes")
            g.send("poweroff\n")
            assert g.wait_exit(120) == 0
        finally:
            g.close()
        with open(log) as f:
            text = f.read()
        m = LINE.search(text)
        assert m, f"no Guest-boot-time in the log:\n{text}"
        us, ms, cpu_us, _, since_ms = (int(x) for x in m.groups())
        print(f"boot-timer: guest booted in {us} us ({cpu_us} CPU us), init seen by the test after {seen:.3f} s")
        assert text.count("Guest-boot-time") == 1, text
        assert 0 < us <= seen * 1e6, (us, seen)
        assert ms == us // 1000 and since_ms >= ms, m.group(0)
        with open(metrics) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        assert lines and lines[-1]["vmm"]["guest_boot_time_us"] == us, lines[-1:]
    print("boot-timer: OK")


if __name__ == "__main__":
    main()
