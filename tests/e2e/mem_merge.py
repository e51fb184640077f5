#!/usr/bin/env python3
"""Page sharing across separately booted microVMs (issue 18): --mem-merge / machine-config mem_merge.

usage: mem_merge.py WISP GUEST_DIR [N]

Boots 2N guests (default N = 20) of 64 MiB from the same kernel and initrd at the same time: N with
--mem-merge, N without. Once every guest is at its shell and KSM has gone over the merged guests a few
times, the N merged guests must use measurably less host memory (summed PSS) than the N others, each of
them must show merged pages in /proc/PID/ksm_stat, and one of them must report them in its
memory.ksm_merging_pages metric. Then the API: machine-config takes and shows mem_merge, rejects a
non-boolean. Needs root (KSM's switch is /sys/kernel/mm/ksm/run: turned on for the test, put back after)
and a kernel with KSM; exit 77 (skipped) otherwise, saying why.
"""
import fcntl
import json
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from api import UnixHTTPConnection  # noqa: E402
from guest import Guest  # noqa: E402

KSM = "/sys/kernel/mm/ksm"


def pss(pid):
    for line in open(f"/proc/{pid}/smaps_rollup"):
        m = re.match(r"Pss:\s+(\d+) kB", line)
        if m:
            return int(m.group(1))
    raise AssertionError(f"no Pss for {pid}")


def ram_pss(pid, mib):
    """PSS of the guest RAM mapping (anonymous, rw-p, exactly `mib` MiB): what KSM works on. Whole-process
    figures would be dominated by other costs under the sanitizers."""
    total, found, in_ram = 0, 0, False
    for line in open(f"/proc/{pid}/smaps"):
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            in_ram = parts[1] == "rw-p" and len(parts) == 5 and hi - lo == mib << 20
            found += in_ram
        elif in_ram:
            m = re.match(r"Pss:\s+(\d+) kB", line)
            if m:
                total += int(m.group(1))
    assert found == 1, f"pid {pid}: {found} mappings look like guest RAM"
    return total


def merging(pid):
    try:
        for line in open(f"/proc/{pid}/ksm_stat"):
            if line.startswith("ksm_merging_pages "):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def ksm_get(name):
    return open(f"{KSM}/{name}").read().strip()


def ksm_set(name, value):
    with open(f"{KSM}/{name}", "w") as f:
        f.write(str(value))


def api(sock, method, path, body=None, raw=None):
    conn = UnixHTTPConnection(sock)
    conn.request(method, path, body=raw if raw is not None else json.dumps(body) if body is not None else None,
                 headers={"Content-Type": "application/json", "Accept": "application/json"})
    r = conn.getresponse()
    text = r.read()
    conn.close()
    return r.status, (json.loads(text) if text else None)


def api_checks(wisp, tmp):
    sock = f"{tmp}/api.sock"
    g = Guest([wisp, "--api-sock", sock], log_name="api")
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):
            assert time.monotonic() < deadline and g.proc.poll() is None, "the API socket never appeared"
            time.sleep(0.05)
        st, body = api(sock, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64, "mem_merge": True})
        assert st == 204, (st, body)
        st, body = api(sock, "GET", "/machine-config")
        assert st == 200 and body.get("mem_merge") is True, (st, body)
        st, body = api(sock, "PATCH", "/machine-config", raw='{"mem_merge": 1}')
        assert st == 400 and "mem_merge" in body.get("fault_message", ""), (st, body)
        st, body = api(sock, "GET", "/machine-config")
        assert body.get("mem_merge") is True, f"a rejected PATCH changed the configuration: {body}"
        st, body = api(sock, "PATCH", "/machine-config", {"mem_merge": False})
        st, body = api(sock, "GET", "/machine-config")
        assert st == 200 and "mem_merge" not in body, (st, body)
        print("api: machine-config mem_merge accepted, shown, a non-boolean rejected with nothing changed")
    finally:
        g.close()


def main():
    wisp, guest_dir = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    if not os.path.exists(f"{KSM}/run"):
        print(f"skipped: this kernel has no KSM ({KSM} is missing)")
        sys.exit(77)
    if os.geteuid() != 0:
        print("skipped: turning KSM on (/sys/kernel/mm/ksm/run) needs root")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="wisp-merge-")
    api_checks(wisp, tmp)
    # KSM is the host's: one test at a time touches its settings (the @interp twin may run alongside).
    lock = open("/tmp/wisp-ksm-test.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    saved = {k: ksm_get(k) for k in ("run", "pages_to_scan", "sleep_millisecs")}
    guests = []
    try:
        ksm_set("pages_to_scan", 4000)
        ksm_set("sleep_millisecs", 20)
        ksm_set("run", 1)
        metrics = f"{tmp}/metrics.json"
        for i in range(2 * n):
            merge = i % 2 == 0
            argv = [wisp, "--kernel", f"{guest_dir}/Image", "--initrd", f"{guest_dir}/initrd.cpio.gz", "--mem", "64",
                    "--timeout", "900"]
            if merge:
                argv.append("--mem-merge")
            if i == 0:
                argv += ["--metrics-path", metrics]
            guests.append((merge, Guest(argv, log_name=f"guest{i}{'-merge' if merge else ''}")))
        for _, g in guests:
            g.expect(rb"wisp guest: init done", 600)
        for _, g in guests:
            g.run("echo ready-$((2*3))", rb"ready-6", 120)
        # KSM needs two passes over a page to merge it: wait for a few full scans after all guests are up.
        scans = int(ksm_get("full_scans"))
        deadline = time.monotonic() + 600
        while int(ksm_get("full_scans")) < scans + 3:
            assert time.monotonic() < deadline, "KSM made no progress over the guests' memory in 600 s"
            time.sleep(0.5)
        on = [g.proc.pid for m, g in guests if m]
        off = [g.proc.pid for m, g in guests if not m]
        pss_on, pss_off = sum(pss(p) for p in on), sum(pss(p) for p in off)
        ram_on, ram_off = sum(ram_pss(p, 64) for p in on), sum(ram_pss(p, 64) for p in off)
        merged = [merging(p) for p in on]
        print(f"{n} guests with --mem-merge: guest RAM PSS {ram_on / 1024:.1f} MiB (whole processes "
              f"{pss_on / 1024:.1f} MiB), merged pages per guest {min(merged)}..{max(merged)}; {n} without: "
              f"{ram_off / 1024:.1f} MiB ({pss_off / 1024:.1f} MiB): {100 * (1 - ram_on / ram_off):.0f}% less guest "
              f"RAM, {100 * (1 - pss_on / pss_off):.0f}% less in all")
        assert all(merging(p) == 0 for p in off), "guests without --mem-merge had pages merged"
        assert min(merged) > 0, f"a guest with --mem-merge had no page merged: {merged}"
        assert ram_on < 0.8 * ram_off, f"sharing saved too little: {ram_on} KiB with, {ram_off} KiB without"
        assert pss_on < pss_off, f"the processes use no less with sharing: {pss_on} KiB with, {pss_off} without"
        # The metric: written at exit.
        g0 = guests[0][1]
        g0.proc.terminate()
        g0.wait_exit(60)
        lines = [json.loads(line) for line in open(metrics) if line.strip()]
        got = max(line.get("memory", {}).get("ksm_merging_pages", 0) for line in lines)
        assert got > 0, f"memory.ksm_merging_pages never above 0: {lines[-1].get('memory')}"
        print(f"metric memory.ksm_merging_pages = {got}")
    finally:
        for _, g in guests:
            g.close()
        for k in ("run", "pages_to_scan", "sleep_millisecs"):
            try:
                ksm_set(k, saved[k])
            except OSError as e:
                print(f"cannot restore {KSM}/{k}: {e}")
        fcntl.flock(lock, fcntl.LOCK_UN)
    print("mem_merge: ok")


if __name__ == "__main__":
    main()
