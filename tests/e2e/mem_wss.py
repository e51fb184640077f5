#!/usr/bin/env python3
"""Working-set estimation and GET /memory (issue 18).

usage: mem_wss.py WISP GUEST_DIR

Boots a 256 MiB guest with the API. GET /memory before boot-time work is refused (not started); once running,
every GET ends a sample and starts the next. An idle interval (the guest sleeps) must estimate a small active
set; an interval in which the guest reads a 100 MiB tmpfs file from end to end (md5sum: every page of it touched
while the sample runs, the read done before the GET that ends the sample, its checksum right) must estimate at least a quarter of
guest RAM (the file is 39%; 256 sampled pages put a quarter more than four standard deviations away), and more
than twice the idle figure. The resident figure must grow by the file's size.
"""
import json
import os
import sys
import tempfile
import time

ZEROS_100M_MD5 = "2f282b84e7e608d5852449ed940bfc51"  # md5 of 100 MiB of zeros

sys.path.insert(0, os.path.dirname(__file__))
from api import UnixHTTPConnection  # noqa: E402
from guest import Guest  # noqa: E402


def api(sock, method, path, body=None):
    conn = UnixHTTPConnection(sock)
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json", "Accept": "application/json"})
    r = conn.getresponse()
    text = r.read()
    conn.close()
    return r.status, (json.loads(text) if text else None)


def main():
    wisp, guest_dir = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="wisp-wss-")
    sock = f"{tmp}/api.sock"
    metrics = f"{tmp}/metrics.json"
    g = Guest([wisp, "--api-sock", sock, "--metrics-path", metrics], log_name="wss")
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):
            assert time.monotonic() < deadline and g.proc.poll() is None, "the API socket never appeared"
            time.sleep(0.05)
        st, body = api(sock, "GET", "/memory")
        assert st == 400, f"GET /memory before the start: {st} {body}"
        assert api(sock, "PUT", "/boot-source", {"kernel_image_path": f"{guest_dir}/Image",
                                                 "initrd_path": f"{guest_dir}/initrd.cpio.gz",
                                                 "boot_args": "console=ttyS0 panic=1"})[0] == 204
        assert api(sock, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 256})[0] == 204
        assert api(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
        g.expect(rb"wisp guest: init done", 300)
        g.run("echo up-$((1+1))", rb"\nup-2", 60)

        st, first = api(sock, "GET", "/memory")
        assert st == 200 and first["ram_kib"] == 256 * 1024 and "working_set" not in first, (st, first)
        assert first["compressed_kib"] == 0 and first["merge"] is False, first
        # Idle interval.
        g.run('sleep 2; echo id""le-done', rb"\nidle-done", 60)
        st, idle = api(sock, "GET", "/memory")
        assert st == 200 and idle["working_set"]["sampled_pages"] == 256, (st, idle)
        idle_kib = idle["working_set"]["estimated_active_kib"]
        # Make the file (outside the next sample), then an interval that reads all of it.
        g.run('dd if=/dev/zero of=/tmp/big bs=1M count=100 2>/dev/null; echo ma""de', rb"\nmade", 300)
        st, _ = api(sock, "GET", "/memory")
        # md5sum reads every byte (busybox cat would sendfile it to /dev/null without touching a page).
        m = g.run('md5sum /tmp/big; echo re""ad-done', rb"([0-9a-f]{32})  /tmp/big[\s\S]*\nread-done", 300)
        assert m.group(1).decode() == ZEROS_100M_MD5, f"the file read back wrong: {m.group(1)}"
        st, busy = api(sock, "GET", "/memory")
        assert st == 200, (st, busy)
        w = busy["working_set"]
        busy_kib = w["estimated_active_kib"]
        print(f"idle interval: {idle['working_set']['touched_pages']} of 256 sampled pages touched, estimate "
              f"{idle_kib >> 10} MiB; reading 100 MiB: {w['touched_pages']} of 256, estimate {busy_kib >> 10} MiB "
              f"({w['interval_ms']} ms); resident {first['resident_kib'] >> 10} -> {busy['resident_kib'] >> 10} MiB")
        assert busy_kib >= 64 * 1024, f"reading 100 MiB estimated only {busy_kib} KiB active"
        assert busy_kib > 2 * idle_kib, f"busy {busy_kib} KiB is not above twice idle {idle_kib} KiB"
        assert idle_kib < 64 * 1024, f"an idle guest estimated {idle_kib} KiB active"
        assert busy["resident_kib"] >= first["resident_kib"] + 90 * 1024, (first, busy)
        # The metric carries the last estimate.
        assert api(sock, "PUT", "/actions", {"action_type": "FlushMetrics"})[0] == 204
        lines = [json.loads(line) for line in open(metrics) if line.strip()]
        got = lines[-1].get("memory", {}).get("estimated_active_kib")
        assert got == busy_kib, f"memory.estimated_active_kib {got}, GET /memory said {busy_kib}"
    finally:
        g.close()
    print("mem_wss: ok")


if __name__ == "__main__":
    main()
