#!/usr/bin/env python3
"""End to end: wisp's seccomp filters (docs/seccomp.md). The rest of the e2e suite runs with them on (the
default); this checks they are there and bite.

usage: seccomp.py SCENARIO WISP IMAGE INITRD
  threads   a boot through the API with every kind of thread: each runs under Seccomp: 2, with the filters
            stacked as documented (the vCPU's under the main thread's, the API's and its own); poweroff works
  violate   the test hook (WISP_SECCOMP_SELFTEST=KIND:SYSCALL[:ARG...]) makes one thread of each kind issue a
            call outside its list: wisp dies of SIGSYS; the same for executable memory; allowed calls pass;
            --seccomp-trap names the call; --seccomp-level 1 ignores arguments; --no-seccomp turns it off
  filter    --seccomp-print-filter's output as --seccomp-filter boots; one rule less and the vCPU dies; bad
            files and bad options are refused with a message
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from api import api  # noqa: E402
from guest import Guest  # noqa: E402

KILLED = -signal.SIGSYS


def field(text, name):
    m = re.search(rf"^{name}:[ \t]*(.*)$", text, re.M)
    assert m, f"no {name}"
    return m.group(1).strip()


def wait_for(cond, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def threads(pid):
    """{thread name: [status text, ...]}"""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                out.setdefault(name, []).append(f.read())
        except FileNotFoundError:
            pass
    return out


def scenario_threads(wisp, image, initrd, tmp):
    sock = os.path.join(tmp, "api.sock")
    argv = [wisp, "--api-sock", sock, "--rng", "--timeout", "900", "--metrics-path", os.path.join(tmp, "metrics"),
            "--snapshot-save", f"{tmp}/s.state,{tmp}/s.mem"]
    g = Guest(argv, "threads")
    try:
        wait_for(lambda: os.path.exists(sock), "the API socket")
        s, _ = api(sock, "PUT", "/boot-source", {"kernel_image_path": image, "initrd_path": initrd,
                                                  "boot_args": "console=ttyS0"})
        assert s == 204
        s, _ = api(sock, "PUT", "/actions", {"action_type": "InstanceStart"})
        assert s == 204
        g.expect(rb"/ # ", 300)
        t = threads(g.proc.pid)
        # The main thread keeps wisp's name; the others are named after their kind (console: the input and
        # the output writer threads).
        # The main thread's own and, as it builds no machine, the lock on executable memory; the API thread's
        # lock came after it started the machine's threads.
        want = {"wisp": 2, "signals": 2, "api": 3, "snapshot": 2,
                "vcpu": 3, "io": 3, "console": 3, "timeout": 3, "metrics": 3}
        assert set(want) <= set(t), sorted(t)
        for name, n in want.items():
            for st in t[name]:
                assert field(st, "Seccomp") == "2", (name, st)
                assert field(st, "Seccomp_filters") == str(n), (name, field(st, "Seccomp_filters"), n)
                assert field(st, "NoNewPrivs") == "1", name
        # Pause/resume restarts the I/O thread under its filter.
        assert api(sock, "PATCH", "/vm", {"state": "Paused"})[0] == 204
        assert api(sock, "PATCH", "/vm", {"state": "Resumed"})[0] == 204
        g.run("head -c 16 /dev/hwrng | wc -c", rb"\b16\b")
        deadline = time.monotonic() + 30  # the new I/O thread names itself once it runs
        while "io" not in threads(g.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert field(threads(g.proc.pid)["io"][0], "Seccomp_filters") == "4"  # now started by a locked API thread
        g.send("poweroff\n")
        assert g.wait_exit(120) == 0
        print("seccomp threads: OK")
    finally:
        g.close()


def run(wisp, image, initrd, tmp, hook=None, extra=(), timeout_s=3):
    """wisp with one thread of every kind (the API server, --rng's I/O thread, the console, --timeout, metrics,
    signals, --snapshot-save's trigger); returns (status, stderr)."""
    sock = os.path.join(tmp, f"api{time.monotonic_ns()}.sock")
    argv = [wisp, "--kernel", image, "--initrd", initrd, "--api-sock", sock, "--rng", "--timeout", str(timeout_s),
            "--metrics-path", os.path.join(tmp, "metrics"), "--snapshot-save", f"{tmp}/s.state,{tmp}/s.mem",
            *extra]
    env = dict(os.environ)
    if hook:
        env["WISP_SECCOMP_SELFTEST"] = hook
    r = subprocess.run(argv, stdin=subprocess.PIPE, capture_output=True, env=env, timeout=120)
    return r.returncode, r.stderr.decode("utf-8", "replace")


def scenario_violate(wisp, image, initrd, tmp):
    rwx = "0:4096:7:34:-1:0"  # PROT_READ|PROT_WRITE|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS
    rx = "0:4096:5:34:-1:0"   # PROT_READ|PROT_EXEC
    killed = ["vmm:execve", "vmm:ptrace", f"vmm:mmap:{rwx}", f"vmm:mmap:{rx}", "vmm:mprotect:0:4096:7",
              "vmm:memfd_create:0:0", "vmm:socket:2:1:0", "api:execve", "api:socket:2:1:0", f"api:mmap:{rwx}",
              "vcpu:mprotect:0:4096:5",
              # once the machine is built, its thread cannot make anything executable, not even the code
              # cache's way (mprotect to PROT_READ|PROT_EXEC)
              "locked:mprotect:0:4096:5",
              "vcpu:socket:1:1:0", f"vcpu:mmap:{rx}", "vcpu:memfd_create:0:0", "vcpu:ioctl:0:1074025674:0",
              "io:socket:2:1:0", f"io:mmap:{rx}", "console:socket:1:1:0", "timeout:socket:1:1:0",
              "metrics:socket:1:1:0", "signals:socket:1:1:0", "snapshot:socket:2:1:0", "snapshot:execve"]
    r = subprocess.run([wisp, "--seccomp-print-filter"], capture_output=True, text=True, check=True)
    if "LeakSanitizer" in r.stdout:  # a sanitizer build: its leak check at exit needs ptrace
        killed.remove("vmm:ptrace")
    for hook in killed:
        code, err = run(wisp, image, initrd, tmp, hook)
        print(f"{hook}: status {code}")
        assert code == KILLED, (hook, code, err[-2000:])
    # Allowed: the process runs on to its --timeout (status 124), and says what the call returned.
    for hook in ["vmm:getpid", "vmm:mprotect:0:4096:5", "api:mprotect:0:4096:5", "vcpu:getpid",
                 "locked:mprotect:0:4096:1"]:
        code, err = run(wisp, image, initrd, tmp, hook)
        assert code == 124 and "seccomp self-test" in err, (hook, code, err[-2000:])
    # --seccomp-trap reports the thread and the call, then dies of SIGSYS all the same.
    code, err = run(wisp, image, initrd, tmp, "vcpu:socket:1:1:0", ["--seccomp-trap"])
    assert code == KILLED and "the vcpu thread made a system call its filter forbids: socket (41)" in err, (code, err)
    # Level 1 checks system calls but not their arguments; level 0 and --no-seccomp check nothing.
    code, err = run(wisp, image, initrd, tmp, f"vmm:mmap:{rwx}", ["--seccomp-level", "1"])
    assert code == 124, (code, err[-2000:])
    code, err = run(wisp, image, initrd, tmp, "vcpu:socket:1:1:0", ["--seccomp-level", "1"])
    assert code == KILLED, code
    for opt in (["--no-seccomp"], ["--seccomp-level", "0"]):
        code, err = run(wisp, image, initrd, tmp, "vcpu:execve", opt)
        assert code == 124, (opt, code, err[-2000:])
    p = subprocess.Popen([wisp, "--no-seccomp", "--api-sock", os.path.join(tmp, "off.sock")])
    try:
        wait_for(lambda: os.path.exists(os.path.join(tmp, "off.sock")), "the API socket")
        for st in threads(p.pid).values():
            assert field(st[0], "Seccomp") == "0"
    finally:
        p.terminate()
        p.wait()
    print(f"seccomp violate: OK ({len(killed)} forbidden calls)")


def scenario_filter(wisp, image, initrd, tmp):
    r = subprocess.run([wisp, "--seccomp-print-filter"], capture_output=True, text=True, check=True)
    policy = json.loads(r.stdout)
    assert set(policy) == {"vmm", "api", "vcpu", "io", "console", "timeout", "metrics", "signals", "snapshot"}
    path = os.path.join(tmp, "policy.json")
    with open(path, "w") as f:
        f.write(r.stdout)
    code, err = run(wisp, image, initrd, tmp, "vcpu:getpid", ["--seccomp-filter", path])
    assert code == 124 and "self-test" in err, (code, err[-2000:])
    # Without futex, the vCPU cannot sleep when the guest idles (WFI): it dies of SIGSYS, reported by
    # --seccomp-trap (a filter without write could not even be reported).
    policy["vcpu"]["filter"] = [r for r in policy["vcpu"]["filter"] if r["syscall"] != "futex"]
    with open(path, "w") as f:
        json.dump(policy, f)
    code, err = run(wisp, image, initrd, tmp, None, ["--seccomp-filter", path, "--seccomp-trap"], timeout_s=60)
    assert code == KILLED and "the vcpu thread made a system call its filter forbids: futex (202)" in err, (code, err)
    # Bad files and options.
    del policy["io"]
    with open(path, "w") as f:
        json.dump(policy, f)
    bad = [
        (["--seccomp-filter", path], 1, "invalid seccomp filter"),
        (["--seccomp-filter", path], 1, "no filter for the `io` threads"),
        (["--seccomp-filter", os.path.join(tmp, "missing.json")], 1, "cannot open the seccomp filter"),
        (["--seccomp-level", "3"], 2, "--seccomp-level takes 0, 1 or 2"),
        (["--seccomp-level"], 2, "--seccomp-level needs a value"),
        (["--no-seccomp", "--seccomp-filter", path], 2, "--no-seccomp cannot be combined"),
        (["--seccomp-level", "0", "--seccomp-trap"], 2, "--seccomp-level 0 cannot be combined"),
    ]
    for opts, want, msg in bad:
        r = subprocess.run([wisp, "--kernel", image, *opts], capture_output=True, text=True, timeout=60)
        assert r.returncode == want and msg in r.stderr, (opts, r.returncode, r.stderr)
    with open(path, "w") as f:
        f.write("{\"vmm\": [")
    r = subprocess.run([wisp, "--kernel", image, "--seccomp-filter", path], capture_output=True, text=True)
    assert r.returncode == 1 and "not JSON" in r.stderr, r
    print("seccomp filter: OK")


def main():
    scenario, wisp, image, initrd = sys.argv[1:5]
    wisp, image, initrd = (os.path.abspath(p) for p in (wisp, image, initrd))
    with tempfile.TemporaryDirectory(prefix=f"wisp-seccomp-{scenario}-") as tmp:
        globals()[f"scenario_{scenario}"](wisp, image, initrd, tmp)


if __name__ == "__main__":
    main()
