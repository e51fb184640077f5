#!/usr/bin/env python3
"""End to end: MMDS (Firecracker's microVM metadata service) from the guest with busybox wget.

usage: mmds.py SCENARIO WISP IMAGE INITRD
  v1  PUT /mmds before boot; the guest GETs IMDS text and JSON (Accept: application/json), a PATCH through the
      API is seen by the next request, an unknown path is 404, a POST is refused; the interface that is not
      listed in /mmds/config does not reach MMDS (its frames go to its TAP, nobody answers)
  snapshot  V1: a PATCHed document, pause, PUT /snapshot/create, kill; a new wisp loads the snapshot: the guest
      reads the same document over the same interface, GET /mmds returns it
  v2  a GET without a token is refused (401); a token from PUT /latest/api/token (busybox nc: wget cannot PUT)
      opens GETs; it expires after its TTL; an X-Forwarded-For token request is refused

Two TAP interfaces in a private network namespace: needs root (77 = skipped).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from api import api, expect, poweroff, shell, wait_for  # noqa: E402
from guest import Guest  # noqa: E402

SKIP = 77
MMDS = "169.254.169.254"
DOC = {"latest": {"meta-data": {"ami-id": "ami-12345678", "hostname": "wisp-guest",
                                "placement": {"availability-zone": "local-1a"}, "count": 3}}}


def sh(*argv):
    subprocess.run(list(argv), check=True)


def in_ns(ns, *argv):
    return ["ip", "netns", "exec", ns, *argv]


def wget(g, path, expect_rx, headers=(), timeout=60):
    hdr = "".join(f" --header '{h}'" for h in headers)
    return g.run(f"wget -q -T 5 -O -{hdr} http://{MMDS}{path}; r=$?; echo; echo WGET=$r", expect_rx, timeout)


def boot(wisp, image, initrd, tmp, ns, version):
    sock = os.path.join(tmp, "api.sock")
    cfg = {
        "boot-source": {"kernel_image_path": image, "initrd_path": initrd, "boot_args": "console=ttyS0 panic=1"},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
        "network-interfaces": [
            {"iface_id": "eth0", "host_dev_name": "wispmd0", "guest_mac": "52:54:00:79:00:02"},
            {"iface_id": "eth1", "host_dev_name": "wispmd1", "guest_mac": "52:54:00:79:01:02"}],
        "mmds-config": {"version": version, "network_interfaces": ["eth0"]},
    }
    path = os.path.join(tmp, "vm.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    extra = os.environ.get("WISP_EXTRA", "").split()
    g = Guest(in_ns(ns, wisp, *extra, "--api-sock", sock, "--config-file", path), f"mmds-{version}")
    shell(g)
    wait_for(sock)
    expect(api(sock, "PUT", "/mmds", DOC), 204)
    assert expect(api(sock, "GET", "/mmds"), 200) == DOC
    got = expect(api(sock, "GET", "/vm/config"), 200)
    assert got["mmds-config"]["network_interfaces"] == ["eth0"], got
    g.run("ip addr add 10.79.0.2/24 dev eth0 && ip link set eth0 up && ip addr add 10.79.1.2/24 dev eth1 && "
          f"ip link set eth1 up && ip route add {MMDS} dev eth0; echo UP=$?", rb"UP=0")
    return g, sock


def scenario_v1(g, sock):
    wget(g, "/latest/meta-data/ami-id", rb"\nami-12345678\r?\nWGET=0")
    m = wget(g, "/latest/meta-data/", rb"\n((?:[a-z/-]+\r?\n)+)WGET=0")
    keys = m.group(1).decode().split()
    assert keys == ["ami-id", "hostname", "placement/", "count"], keys
    m = wget(g, "/latest/meta-data/placement", rb"\n(\{.*\})\r?\nWGET=0", headers=["Accept: application/json"])
    assert json.loads(m.group(1)) == DOC["latest"]["meta-data"]["placement"], m.group(1)
    wget(g, "/latest/meta-data/hostname", rb"\n\"wisp-guest\"\r?\nWGET=0", headers=["Accept: application/json"])
    wget(g, "/latest/meta-data/count", rb"501 Not Implemented")  # IMDS text has no numbers
    wget(g, "/latest/meta-data/nope", rb"404 Not Found")
    g.run(f"wget -q -T 5 -O - --post-data x http://{MMDS}/latest/; echo WGET=$?", rb"405 Method Not Allowed")
    # A PATCH through the API: the next request sees it.
    expect(api(sock, "PATCH", "/mmds", {"latest": {"meta-data": {"hostname": "patched", "count": None}}}), 204)
    wget(g, "/latest/meta-data/hostname", rb"\npatched\r?\nWGET=0")
    m = wget(g, "/latest/meta-data/", rb"\n((?:[a-z/-]+\r?\n)+)WGET=0")
    assert m.group(1).decode().split() == ["ami-id", "hostname", "placement/"], m.group(1)
    # The interface not listed: MMDS is not there (the frames go to eth1's TAP, where nobody answers).
    g.run(f"ip route replace {MMDS} dev eth1; echo R=$?", rb"R=0")
    g.run(f"wget -q -T 3 -O - http://{MMDS}/latest/meta-data/ami-id; echo WGET=$?", rb"WGET=[1-9]", timeout=60)
    g.run(f"ip route replace {MMDS} dev eth0; echo R=$?", rb"R=0")
    wget(g, "/latest/meta-data/ami-id", rb"\nami-12345678\r?\nWGET=0")


def token(g, ttl, extra=""):
    m = g.run(f"printf 'PUT /latest/api/token HTTP/1.1\\r\\nX-metadata-token-ttl-seconds: {ttl}\\r\\n{extra}\\r\\n' "
              f"| nc -w 2 {MMDS} 80; echo; echo NC=$?", rb"HTTP/1\.1 (\d+)[^\n]*\n(?:[^\n]*[^\r\n][^\n]*\n)*\r*\n([^\r\n]*)\r*\nNC=",
              timeout=60)
    return int(m.group(1)), m.group(2).decode()


def scenario_v2(g, sock):
    wget(g, "/latest/meta-data/ami-id", rb"401 Unauthorized")
    status, tok = token(g, 60)
    assert status == 200 and re.fullmatch(r"[0-9a-f]{64}", tok), (status, tok)
    wget(g, "/latest/meta-data/ami-id", rb"\nami-12345678\r?\nWGET=0", headers=[f"X-metadata-token: {tok}"])
    wget(g, "/latest/meta-data/ami-id", rb"401 Unauthorized", headers=["X-metadata-token: " + "0" * 64])
    status, _ = token(g, 0)
    assert status == 400, status
    status, _ = token(g, 60, "X-Forwarded-For: 1.2.3.4\\r\\n")
    assert status == 400, status
    # A short-lived token works at once and is refused after its TTL.
    status, short = token(g, 5)
    assert status == 200
    wget(g, "/latest/meta-data/hostname", rb"\nwisp-guest\r?\nWGET=0", headers=[f"X-metadata-token: {short}"])
    g.run("sleep 6; echo SLEPT", rb"SLEPT\r?\n", timeout=60)
    wget(g, "/latest/meta-data/hostname", rb"401 Unauthorized", headers=[f"X-metadata-token: {short}"])
    wget(g, "/latest/meta-data/hostname", rb"\nwisp-guest\r?\nWGET=0", headers=[f"X-metadata-token: {tok}"])


def scenario_snapshot(g, sock, wisp, tmp, ns):
    wget(g, "/latest/meta-data/hostname", rb"\nwisp-guest\r?\nWGET=0")
    expect(api(sock, "PATCH", "/mmds", {"latest": {"meta-data": {"hostname": "before-snapshot"}}}), 204)
    expect(api(sock, "PATCH", "/vm", {"state": "Paused"}), 204)
    state, mem = os.path.join(tmp, "vm.state"), os.path.join(tmp, "vm.mem")
    expect(api(sock, "PUT", "/snapshot/create", {"snapshot_path": state, "mem_file_path": mem}), 204)
    g.close()
    os.unlink(sock)
    sock2 = os.path.join(tmp, "clone.sock")
    c = Guest(in_ns(ns, wisp, "--api-sock", sock2), "mmds-clone")
    try:
        wait_for(sock2)
        expect(api(sock2, "PUT", "/snapshot/load", {"snapshot_path": state, "mem_backend": {
            "backend_type": "File", "backend_path": mem}, "resume_vm": True}), 204)
        doc = expect(api(sock2, "GET", "/mmds"), 200)
        assert doc["latest"]["meta-data"]["hostname"] == "before-snapshot", doc
        c.send("\n")
        c.expect(rb"/ # ", 60)
        wget(c, "/latest/meta-data/hostname", rb"\nbefore-snapshot\r?\nWGET=0")
        wget(c, "/latest/meta-data/ami-id", rb"\nami-12345678\r?\nWGET=0")
        poweroff(c)
    finally:
        c.close()


def main():
    scenario, wisp, image, initrd = sys.argv[1:5]
    if os.geteuid() != 0:
        print("mmds: SKIPPED: needs root for a network namespace and TAP interfaces")
        sys.exit(SKIP)
    tmp = tempfile.mkdtemp(prefix="wisp-mmds-")
    ns = f"wisp-mmds-{os.getpid()}"
    sh("ip", "netns", "add", ns)
    g = None
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        for i in (0, 1):
            sh("ip", "-n", ns, "tuntap", "add", "dev", f"wispmd{i}", "mode", "tap")
            sh("ip", "-n", ns, "addr", "add", f"10.79.{i}.1/24", "dev", f"wispmd{i}")
            sh("ip", "-n", ns, "link", "set", f"wispmd{i}", "up")
        g, sock = boot(wisp, image, initrd, tmp, ns, "V2" if scenario == "v2" else "V1")
        if scenario == "snapshot":
            scenario_snapshot(g, sock, wisp, tmp, ns)
        else:
            {"v1": scenario_v1, "v2": scenario_v2}[scenario](g, sock)
            poweroff(g)
        print(f"mmds-{scenario}: OK")
    finally:
        if g:
            g.close()
        subprocess.run(["ip", "netns", "del", ns])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
