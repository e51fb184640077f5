#!/usr/bin/env python3
"""End to end: virtio-balloon, memory really given back to the host (wisp's RSS from /proc/PID/smaps_rollup).

usage: balloon.py SCENARIO WISP IMAGE INITRD
  inflate    through the API (deflate_on_oom, statistics every second): the guest touches and frees 100 MiB;
             inflating the balloon to 150 MiB makes wisp's RSS fall by most of it; statistics arrive at the
             polling interval and follow the guest's memory use; deflating gives the memory back to the guest;
             with the balloon at 200 MiB the guest still gets 120 MiB (deflate on OOM); a free page hinting
             run is started, acknowledged and reported; metrics count it all
  reporting  from --config-file with free_page_reporting only: after the guest frees 100 MiB, wisp's RSS
             falls without any inflation
  snapshot   a balloon (target 20 MiB, statistics) snapshotted and loaded into a new wisp: target, actual and
             the statistics setting survive; over RAM mapped MAP_PRIVATE from the memory file, inflating gives
             memory back too (RSS falls; the pages no longer map the file and read as zeros, seen through
             /proc/PID/maps and /proc/PID/mem), and the guest's memory is intact after deflating

The guest first touches and frees 200 MiB (warm): its free memory is then resident, as a guest's is after a
while, so what the balloon takes is memory the host held. Bounds are fractions of what was freed, never times.
Every wisp runs under its seccomp filters (--seccomp-trap names a forbidden call).
"""
import json
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from api import api, expect, poweroff, shell, wait_for  # noqa: E402
from guest import Guest  # noqa: E402

MEM = 256
BOOT_ARGS = "console=ttyS0 panic=1"


def rss_mib(g):
    with open(f"/proc/{g.proc.pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no Rss in smaps_rollup")


def file_ram(pid, mem, ram_size):
    """Guest RAM restored from the memory file `mem`: (bytes no longer mapped from the file, of those the ones
    that are not zero). The balloon replaces given-back file pages with anonymous memory (/proc/PID/maps), so
    they read as zeros, never as the file's old contents (read through /proc/PID/mem)."""
    segs, base = [], None
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            path = parts[5] if len(parts) > 5 else ""
            segs.append((lo, hi, path))
            if path == os.path.realpath(mem) and base is None:
                base = lo - int(parts[2], 16)
    assert base is not None, f"{mem} is not mapped"
    gone = nonzero = 0
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as m:
        for lo, hi, path in segs:
            lo, hi = max(lo, base), min(hi, base + ram_size)
            if lo >= hi or path:
                continue
            gone += hi - lo
            m.seek(lo)
            for off in range(lo, hi, 1 << 20):
                chunk = m.read(min(1 << 20, hi - off))
                nonzero += len(chunk) - chunk.count(0)
    return gone, nonzero


def until(what, fn, timeout=120, pause=0.5):
    """Poll fn() until it returns something true; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(pause)


def stats(sock):
    return expect(api(sock, "GET", "/balloon/statistics"), 200)


def actual_is(sock, mib):
    return lambda: stats(sock)["actual_mib"] == mib


def warm(g):
    """Make the guest's free memory resident first (touched and freed), as a guest that ran a while has it: what
    the balloon or the guest's hints then give back is memory the host really held."""
    touch(g, 200)


def touch(g, mib, hold=False):
    if hold:
        g.run(f"wisp-memtouch {mib} hold < /dev/zero > /tmp/hold.out & sleep 0.5; echo H""OLD", rb"\nHOLD")
        g.run("until grep -q OK /tmp/hold.out; do sleep 1; done; cat /tmp/hold.out", rf"TOUCHED {mib} OK".encode(), 600)
        return
    g.run(f"wisp-memtouch {mib}", rf"TOUCHED {mib} OK(?s:.*?)\n/ # ".encode(), 300)  # freed once the prompt is back


def boot_api(wisp, image, initrd, tmp, balloon, name):
    sock = f"{tmp}/{name}.sock"
    g = Guest([wisp, "--api-sock", sock, "--timeout", "900", "--seccomp-trap"], name)
    wait_for(sock)
    expect(api(sock, "PUT", "/boot-source", {"kernel_image_path": image, "initrd_path": initrd,
                                             "boot_args": BOOT_ARGS}), 204)
    expect(api(sock, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": MEM}), 204)
    expect(api(sock, "PUT", "/balloon", balloon), 204)
    expect(api(sock, "PUT", "/metrics", {"metrics_path": f"{tmp}/{name}.metrics"}), 204)
    expect(api(sock, "PUT", "/actions", {"action_type": "InstanceStart"}), 204)
    shell(g)
    return g, sock


def metrics_total(sock, path, group):
    expect(api(sock, "PUT", "/actions", {"action_type": "FlushMetrics"}), 204)
    total = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                for k, v in json.loads(line).get(group, {}).items():
                    total[k] = total.get(k, 0) + v
    return total


def inflate(wisp, image, initrd, tmp):
    g, sock = boot_api(wisp, image, initrd, tmp, {"amount_mib": 0, "deflate_on_oom": True,
                                                   "stats_polling_interval_s": 1}, "inflate")
    try:
        warm(g)
        expect(api(sock, "PUT", "/balloon", {"amount_mib": 1, "deflate_on_oom": True}), 400,
               "not supported after starting")
        expect(api(sock, "PATCH", "/balloon", {"amount_mib": MEM + 1}), 400, "larger than the guest memory")
        expect(api(sock, "PATCH", "/balloon/statistics", {"stats_polling_interval_s": 0}), 400, "cannot be")
        expect(api(sock, "PATCH", "/balloon/hinting/start", {}), 400, "hinting was not enabled")
        # Statistics at the polling interval.
        s = until("statistics (after the warm-up's memory was freed)",
                  lambda: (lambda s: s if s.get("free_memory", 0) > 150 << 20 else None)(stats(sock)), 300)
        assert s["total_memory"] > 200 << 20 and s["available_memory"] > 0, s
        touch(g, 60, hold=True)
        s2 = until("statistics to see 60 MiB in use",
                   lambda: (lambda x: x if x["free_memory"] < s["free_memory"] - (50 << 20) else None)(stats(sock)),
                   300)
        print(f"\nballoon: free_memory {s['free_memory'] >> 20} MiB -> {s2['free_memory'] >> 20} MiB with 60 MiB held")
        g.run("killall wisp-memtouch; sleep 1; echo K""ILLED", rb"\nKILLED")

        touch(g, 100)
        before = rss_mib(g)
        expect(api(sock, "PATCH", "/balloon", {"amount_mib": 150}), 204)
        assert expect(api(sock, "GET", "/balloon"), 200)["amount_mib"] == 150
        until("the balloon to reach 150 MiB", actual_is(sock, 150), 300)
        after = rss_mib(g)
        print(f"\nballoon: RSS {before:.0f} MiB after the guest touched and freed 100 MiB, {after:.0f} MiB with the "
              f"balloon at 150 MiB: {before - after:.0f} MiB given back")
        assert before - after >= 80, f"RSS fell by {before - after:.0f} MiB only"
        s = stats(sock)
        assert s["target_mib"] == 150 and s["target_pages"] == 150 * 256 and s["actual_pages"] == 150 * 256, s

        # Deflate: the guest has its memory again.
        expect(api(sock, "PATCH", "/balloon", {"amount_mib": 0}), 204)
        until("the balloon to deflate", actual_is(sock, 0), 300)
        touch(g, 200)

        # Deflate on OOM: with 200 MiB in the balloon the guest still gets 120 MiB.
        expect(api(sock, "PATCH", "/balloon", {"amount_mib": 200}), 204)
        until("the balloon to reach 200 MiB", actual_is(sock, 200), 300)
        touch(g, 120)
        left = stats(sock)["actual_mib"]
        print(f"\nballoon: the guest got 120 MiB with the balloon at 200 MiB (deflated on OOM to {left} MiB)")
        assert left < 200
        expect(api(sock, "PATCH", "/balloon", {"amount_mib": 0}), 204)
        until("the balloon to deflate", actual_is(sock, 0), 300)

        m = metrics_total(sock, f"{tmp}/inflate.metrics", "balloon")
        assert m["inflate_count"] > 0 and m["deflate_count"] > 0 and m["stats_updates_count"] > 0, m
        print(f"balloon: metrics {m}")
        poweroff(g)
    finally:
        g.close()


def hinting(wisp, image, initrd, tmp):
    g, sock = boot_api(wisp, image, initrd, tmp, {"amount_mib": 0, "deflate_on_oom": False,
                                                   "free_page_hinting": True}, "hinting")
    try:
        expect(api(sock, "GET", "/balloon/statistics"), 400, "not enabled")
        warm(g)
        touch(g, 100)
        before = rss_mib(g)
        st = expect(api(sock, "GET", "/balloon/hinting/status"), 200)
        assert st["host_cmd"] == 0 and "guest_cmd" not in st, st
        expect(api(sock, "PATCH", "/balloon/hinting/start", None), 204)  # no body: acknowledge_on_stop true
        st = until("the guest to finish its hinting run",
                   lambda: (lambda x: x if x.get("guest_cmd") == 0 and x["host_cmd"] == 1 else None)(
                       expect(api(sock, "GET", "/balloon/hinting/status"), 200)), 300)
        after = rss_mib(g)
        print(f"\nballoon: free page hinting run: RSS {before:.0f} -> {after:.0f} MiB, status {st}")
        assert before - after >= 50, f"hinting gave back {before - after:.0f} MiB only"
        expect(api(sock, "PATCH", "/balloon/hinting/start", {"acknowledge_on_stop": False}), 204)
        st = until("the second run to stop", lambda: (lambda x: x if x.get("guest_cmd") == 0 else None)(
            expect(api(sock, "GET", "/balloon/hinting/status"), 200)), 300)
        assert st["host_cmd"] == 3, st  # not acknowledged
        expect(api(sock, "PATCH", "/balloon/hinting/stop", None), 204)
        assert expect(api(sock, "GET", "/balloon/hinting/status"), 200)["host_cmd"] == 1
        touch(g, 150)  # the hinted pages came back to the guest
        m = metrics_total(sock, f"{tmp}/hinting.metrics", "balloon")
        assert m["free_page_hint_count"] > 0 and m["free_page_hint_freed"] >= 50 << 20, m
        poweroff(g)
    finally:
        g.close()


def reporting(wisp, image, initrd, tmp):
    cfg = {"boot-source": {"kernel_image_path": image, "initrd_path": initrd, "boot_args": BOOT_ARGS},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": MEM},
           "balloon": {"amount_mib": 0, "deflate_on_oom": False, "free_page_reporting": True}}
    with open(f"{tmp}/reporting.json", "w") as f:
        json.dump(cfg, f)
    sock = f"{tmp}/reporting.sock"
    g = Guest([wisp, "--config-file", f"{tmp}/reporting.json", "--api-sock", sock, "--timeout", "900",
               "--seccomp-trap"], "reporting")
    try:
        shell(g)
        got = expect(api(sock, "GET", "/vm/config"), 200)["balloon"]
        assert got["free_page_reporting"] and not got["free_page_hinting"], got
        g.run("wisp-memtouch 100 hold < /dev/zero > /tmp/hold.out & sleep 0.5; echo H""OLD", rb"\nHOLD")
        g.run("until grep -q OK /tmp/hold.out; do sleep 1; done; cat /tmp/hold.out", rb"TOUCHED 100 OK", 600)
        held = rss_mib(g)
        g.run("killall wisp-memtouch; echo K""ILLED", rb"\nKILLED")
        low = until("free page reporting to give the memory back",
                    lambda: (lambda r: r if r < held - 50 else None)(rss_mib(g)), 300)
        print(f"\nballoon: free page reporting: RSS {held:.0f} MiB with 100 MiB held, {low:.0f} MiB after the guest "
              f"freed it (no inflation)")
        touch(g, 150)
        poweroff(g)
    finally:
        g.close()


def snapshot(wisp, image, initrd, tmp):
    state, mem = f"{tmp}/b.state", f"{tmp}/b.mem"
    g, sock = boot_api(wisp, image, initrd, tmp, {"amount_mib": 20, "deflate_on_oom": True,
                                                   "stats_polling_interval_s": 1}, "snap")
    try:
        until("the balloon to reach 20 MiB", actual_is(sock, 20), 300)
        expect(api(sock, "PATCH", "/balloon/statistics", {"stats_polling_interval_s": 2}), 204)
        touch(g, 180)  # the freed pages go into the memory file (most of the guest's free memory)
        expect(api(sock, "PATCH", "/vm", {"state": "Paused"}), 204)
        expect(api(sock, "PUT", "/snapshot/create", {"snapshot_path": state, "mem_file_path": mem}), 204)
        g.proc.send_signal(signal.SIGKILL)
        g.proc.wait(30)
    finally:
        g.close()
    sock2 = f"{tmp}/snap2.sock"
    g = Guest([wisp, "--api-sock", sock2, "--timeout", "900", "--seccomp-trap"], "snap-clone")
    try:
        wait_for(sock2)
        expect(api(sock2, "PUT", "/snapshot/load", {"snapshot_path": state, "mem_backend": {
            "backend_type": "File", "backend_path": mem}, "resume_vm": True}), 204)
        b = expect(api(sock2, "GET", "/balloon"), 200)
        assert b == {"amount_mib": 20, "deflate_on_oom": True, "stats_polling_interval_s": 2,
                     "free_page_hinting": False, "free_page_reporting": False}, b
        s = stats(sock2)
        assert s["target_mib"] == 20 and s["actual_mib"] == 20, s
        g.send("\n")
        g.expect(rb"/ # ", 60)
        # The guest's view of memory comes from the file; touch it so that it is resident, free it again.
        g.run("cat /proc/meminfo > /dev/null; echo R""EADY", rb"\nREADY")
        base = until("statistics after the restore", lambda: (lambda x: x if "free_memory" in x else None)(
            stats(sock2)), 300)
        warm(g)  # the clone's free memory resident again: private copies of the file's pages
        g.run("wisp-memtouch 100 hold < /dev/zero > /tmp/hold.out & sleep 0.5; echo H""OLD", rb"\nHOLD")
        g.run("until grep -q OK /tmp/hold.out; do sleep 1; done; cat /tmp/hold.out", rb"TOUCHED 100 OK", 600)
        g.run("killall wisp-memtouch; echo K""ILLED", rb"\nKILLED")
        before = rss_mib(g)
        expect(api(sock2, "PATCH", "/balloon", {"amount_mib": 150}), 204)
        until("the restored balloon to reach 150 MiB", actual_is(sock2, 150), 300)
        after = rss_mib(g)
        gone, nonzero = file_ram(g.proc.pid, mem, MEM << 20)
        print(f"\nballoon: restored VM: RSS {before:.0f} MiB -> {after:.0f} MiB with the balloon at 150 MiB "
              f"(statistics: {base['free_memory'] >> 20} MiB free after the restore); {gone >> 20} MiB of RAM no "
              f"longer mapped from the memory file, {nonzero} bytes of it not zero")
        assert before - after >= 80, f"RSS fell by {before - after:.0f} MiB only"
        assert gone >= 80 << 20 and nonzero == 0, (gone >> 20, nonzero)
        expect(api(sock2, "PATCH", "/balloon", {"amount_mib": 0}), 204)
        until("the balloon to deflate", actual_is(sock2, 0), 300)
        touch(g, 180)  # given-back pages read as the guest expects (zeros, its own data elsewhere intact)
        g.run("echo $((6*7))", rb"\n42")
        poweroff(g)
    finally:
        g.close()


def main():
    scenario, wisp, image, initrd = sys.argv[1:5]
    tmp = tempfile.mkdtemp(prefix="wisp-e2e-balloon-")
    {"inflate": lambda: (inflate(wisp, image, initrd, tmp), hinting(wisp, image, initrd, tmp)),
     "reporting": lambda: reporting(wisp, image, initrd, tmp),
     "snapshot": lambda: snapshot(wisp, image, initrd, tmp)}[scenario]()
    print(f"balloon {scenario}: OK")


if __name__ == "__main__":
    main()
