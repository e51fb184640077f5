#!/usr/bin/env python3
"""End to end: wisp-jailer (docs/jailer.md). Needs root and cgroup v1 controllers (77 = skipped otherwise).

usage: jail.py SCENARIO WISP JAILER IMAGE INITRD
  boot    Firecracker's jailer invocation with wisp: an unprivileged uid:gid, a network namespace with a TAP,
          cgroups v1 (cpu, cpuset, memory, pids) and resource limits. From outside: /proc/PID/status (ids,
          Seccomp: 2 on every thread, NoNewPrivs: 1, no capabilities), /proc/PID/root (the chroot), the mount and
          network namespaces, cgroup membership and values, limits, no inherited descriptor or environment.
          Then a boot through the API socket inside the chroot, a ping over the TAP, poweroff.
  pidns   --new-pid-ns --daemonize with cgroup v2: the pid file, PID 1 of a new PID namespace, a new session on
          /dev/null, the unified cgroup, the API; SIGTERM stops it (PID 1 gets its signals).
  errors  every argument error and failing step: a clear message, a non-zero status, nothing left behind.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from api import api  # noqa: E402
from guest import Guest  # noqa: E402

SKIP = 77
UID = GID = 54321
CGROUP = "/sys/fs/cgroup"
V1 = ("cpu", "cpuset", "memory", "pids")


def sh(*argv, **kw):
    return subprocess.run(list(argv), check=True, **kw)


def wait_for(cond, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def status(pid, path="status"):
    with open(f"/proc/{pid}/{path}") as f:
        return f.read()


def field(text, name):
    m = re.search(rf"^{name}:[ \t]*(.*)$", text, re.M)
    assert m, f"no {name} in {text}"
    return m.group(1).split()


def unified_mount():
    with open("/proc/mounts") as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            if fstype == "cgroup2":
                return mnt
    return None


def remove_cgroups(parent, ident, version=1):
    """The jailer leaves the VMM's cgroups for the operator to remove after the VMM exits (as Firecracker's)."""
    roots = [os.path.join(CGROUP, c) for c in V1] if version == 1 else [unified_mount()]
    for r in roots:
        for d in (os.path.join(r, parent, ident), os.path.join(r, parent)):
            if os.path.isdir(d):
                try:
                    os.rmdir(d)
                except OSError:
                    pass  # shared parent still in use


def sanitized(wisp):
    r = subprocess.run([wisp, "--seccomp-print-filter"], capture_output=True, text=True, check=True)
    return "LeakSanitizer" in r.stdout


def check_jailed(pid, root, netns, ident, parent):
    st = status(pid)
    assert field(st, "Uid") == [str(UID)] * 4, st
    assert field(st, "Gid") == [str(GID)] * 4, st
    assert field(st, "Groups") == [], st
    assert field(st, "NoNewPrivs") == ["1"], st
    assert field(st, "CapEff") == ["0000000000000000"] and field(st, "CapPrm") == ["0000000000000000"], st
    # The process's / is the chroot: the same wisp file, and none of the host's directories.
    assert os.stat(f"/proc/{pid}/root/wisp").st_ino == os.stat(os.path.join(root, "wisp")).st_ino
    seen = set(os.listdir(f"/proc/{pid}/root"))
    assert {"wisp", "dev", "run", "lib64"} <= seen and not {"etc", "usr", "home", "proc", "sys"} & seen, seen
    assert sorted(os.listdir(f"/proc/{pid}/root/dev")) == ["net", "urandom"]
    # Namespaces: its own mount namespace, the given network namespace, our PID namespace.
    ino = lambda p: os.stat(p).st_ino  # noqa: E731
    assert ino(f"/proc/{pid}/ns/mnt") != ino("/proc/self/ns/mnt")
    assert ino(f"/proc/{pid}/ns/net") == ino(netns) != ino("/proc/self/ns/net")
    assert ino(f"/proc/{pid}/ns/pid") == ino("/proc/self/ns/pid")
    # Cgroups: member of <controller>/<parent>/<id>, with the values given.
    groups = status(pid, "cgroup")
    for c in V1:
        assert re.search(rf"^\d+:{c}:/{parent}/{ident}$", groups, re.M), groups
    base = lambda c: os.path.join(CGROUP, c, parent, ident)  # noqa: E731
    with open(os.path.join(base("cpu"), "cpu.shares")) as f:
        assert f.read().strip() == "256"
    with open(os.path.join(base("pids"), "pids.max")) as f:
        assert f.read().strip() == "100"
    with open(os.path.join(base("memory"), "memory.limit_in_bytes")) as f:
        assert f.read().strip() == str(1 << 30)
    with open(os.path.join(base("cpuset"), "cpuset.cpus")) as f:
        assert f.read().strip() == "0"
    with open(os.path.join(base("pids"), "tasks")) as f:
        assert str(pid) in f.read().split()
    limits = status(pid, "limits")
    assert re.search(r"^Max open files\s+512\s+512", limits, re.M), limits
    assert re.search(rf"^Max file size\s+{1 << 30}\s+{1 << 30}", limits, re.M), limits
    # Nothing inherited: no environment, and not the descriptor the test handed the jailer.
    assert status(pid, "environ") == ""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
        assert "leaked-descriptor" not in target, f"fd {fd} -> {target}"


def scenario_boot(wisp, jailer, image, initrd, tmp):
    ident, parent, ns, tap = f"jail-boot-{os.getpid()}", f"wisp-e2e-boot-{os.getpid()}", f"wispjail{os.getpid()}", "jtap0"
    netns = f"/var/run/netns/{ns}"
    sh("ip", "netns", "add", ns)
    g = None
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "tuntap", "add", "dev", tap, "mode", "tap", "user", str(UID), "group", str(GID))
        sh("ip", "-n", ns, "addr", "add", "10.78.0.1/24", "dev", tap)
        sh("ip", "-n", ns, "link", "set", tap, "up")
        argv = [jailer, "--id", ident, "--exec-file", wisp, "--uid", str(UID), "--gid", str(GID),
                "--chroot-base-dir", tmp, "--netns", netns, "--parent-cgroup", parent,
                "--cgroup", "cpu.shares=256", "--cgroup", f"memory.limit_in_bytes={1 << 30}",
                "--cgroup", "pids.max=100", "--cgroup", "cpuset.cpus=0",
                "--resource-limit", "no-file=512", "--resource-limit", f"fsize={1 << 30}",
                "--", "--level", "Info"]
        # A descriptor the jailer inherits (the shell opens it, then becomes the jailer, which becomes wisp).
        g = Guest(["sh", "-c", 'exec 7>"$0"; exec "$@"', os.path.join(tmp, "leaked-descriptor")] + argv, "jail")
        root = os.path.join(tmp, "wisp", ident, "root")
        sock = os.path.join(root, "run", "wisp.socket")  # wisp's default API socket, inside the chroot
        wait_for(lambda: os.path.exists(sock), "the API socket in the chroot")
        pid = g.proc.pid  # the jailer became wisp
        check_jailed(pid, root, netns, ident, parent)
        for f in (image, initrd):
            dst = os.path.join(root, os.path.basename(f))
            shutil.copy(f, dst)
            os.chown(dst, UID, GID)
        s, _ = api(sock, "PUT", "/boot-source", {"kernel_image_path": "/" + os.path.basename(image),
                                                  "initrd_path": "/" + os.path.basename(initrd),
                                                  "boot_args": "console=ttyS0"})
        assert s == 204, s
        s, body = api(sock, "PUT", "/network-interfaces/eth0",
                      {"iface_id": "eth0", "host_dev_name": tap, "guest_mac": "52:54:00:78:00:02"})
        assert s == 204, (s, body)
        s, body = api(sock, "PUT", "/actions", {"action_type": "InstanceStart"})
        assert s == 204, (s, body)
        g.expect(rb"/ # ", 300)
        # Every thread is under a filter (the vCPU under three: the main thread's, the API's and its own).
        for tid in os.listdir(f"/proc/{pid}/task"):
            st = status(pid, f"task/{tid}/status")
            assert field(st, "Seccomp") == ["2"], st
        names = {status(pid, f"task/{t}/comm").strip() for t in os.listdir(f"/proc/{pid}/task")}
        assert {"api", "vcpu", "io", "signals"} <= names, names
        g.run("ip addr add 10.78.0.2/24 dev eth0 && ip link set eth0 up; echo UP=$?", rb"UP=0")
        g.run("ping -c 2 -W 5 10.78.0.1", rb"2 packets transmitted, 2 packets received", timeout=60)
        g.send("poweroff\n")
        code = g.wait_exit(120)
        # A sanitizer build's leak check at exit needs /proc, which the jail does not have.
        no_lsan = b"LeakSanitizer has encountered a fatal error" in g.out and b"/task for reading" in g.out
        assert code == 0 or (sanitized(wisp) and no_lsan), code
        print("jail boot: OK")
    finally:
        if g:
            g.close()
        remove_cgroups(parent, ident)
        subprocess.run(["ip", "netns", "del", ns])


def scenario_pidns(wisp, jailer, image, initrd, tmp):
    unified = unified_mount()
    if not unified:
        print("no cgroup2 mount, skipped")
        sys.exit(SKIP)
    ident, parent = f"jail-pidns-{os.getpid()}", f"wisp-e2e-pidns-{os.getpid()}"
    root = os.path.join(tmp, "wisp", ident, "root")
    pid = None
    try:
        r = subprocess.run([jailer, "--id", ident, "--exec-file", wisp, "--uid", str(UID), "--gid", str(GID),
                            "--chroot-base-dir", tmp, "--new-pid-ns", "--daemonize", "--cgroup-version", "2",
                            "--parent-cgroup", parent, "--cgroup", "cgroup.max.descendants=4"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r
        with open(os.path.join(root, "wisp.pid")) as f:
            pid = int(f.read())
        sock = os.path.join(root, "run", "wisp.socket")
        wait_for(lambda: os.path.exists(sock), "the API socket")  # wisp is set up (filters on)
        st = status(pid)
        assert field(st, "NSpid") == [str(pid), "1"], st  # PID 1 of its own namespace
        assert os.stat(f"/proc/{pid}/ns/pid").st_ino != os.stat("/proc/self/ns/pid").st_ino
        assert field(st, "Uid") == [str(UID)] * 4 and field(st, "Seccomp") == ["2"], st
        assert status(pid, "stat").rsplit(")", 1)[1].split()[3] == str(pid)  # session leader
        for fd in (0, 1, 2):
            assert os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null"
        assert re.search(rf"^0::/{parent}/{ident}$", status(pid, "cgroup"), re.M), status(pid, "cgroup")
        with open(os.path.join(unified, parent, ident, "cgroup.max.descendants")) as f:
            assert f.read().strip() == "4"
        s, body = api(sock, "GET", "/")
        assert s == 200 and body["id"] == ident, (s, body)
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}") or "Z" in field(status(pid), "State"),
                 "wisp to stop on SIGTERM")
        pid = None
        print("jail pidns: OK")
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
        remove_cgroups(parent, ident, 2)


def scenario_errors(wisp, jailer, image, initrd, tmp):
    base = os.path.join(tmp, "base")
    os.mkdir(base)
    parent = f"wisp-e2e-errors-{os.getpid()}"
    script = os.path.join(tmp, "script.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\necho hi\n")
    os.chmod(script, 0o755)
    plain = os.path.join(tmp, "plain")
    with open(plain, "w") as f:
        f.write("data\n")
    # An ELF object file: no interpreter, so taken for a static binary; its exec fails inside the jail, after
    # the privileges were dropped.
    obj = os.path.join(tmp, "object.o")
    src = os.path.join(tmp, "object.c")
    with open(src, "w") as f:
        f.write("int x;\n")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc:
        sh(cc, "-c", "-o", obj, src)
        os.chmod(obj, 0o755)
    a_file = os.path.join(tmp, "a-file")
    open(a_file, "w").close()
    taken = "taken"
    os.makedirs(os.path.join(base, "wisp", taken, "root"))

    def common(ident="e1", exe=wisp):
        return ["--id", ident, "--exec-file", exe, "--uid", str(UID), "--gid", str(GID), "--chroot-base-dir", base,
                "--parent-cgroup", parent]

    cases = [
        ([], 2, "--id is required"),
        (["--id", "e1", "--uid", "1", "--gid", "1"], 2, "--exec-file is required"),
        (["--id", "e1", "--exec-file", wisp, "--gid", "1"], 2, "--uid is required"),
        (["--id", "e1", "--exec-file", wisp, "--uid", "1"], 2, "--gid is required"),
        (common("bad_id!"), 2, "--id takes 1..64 characters"),
        (common("x" * 65), 2, "--id takes 1..64 characters"),
        (common() + ["--uid", "abc"], 2, "--uid takes a number"),
        (common() + ["--gid", "-1"], 2, "--gid takes a number"),
        (common() + ["--cgroup-version", "3"], 2, "--cgroup-version takes 1 or 2"),
        (common() + ["--cgroup", "cpu.shares"], 2, "--cgroup takes FILE=VALUE"),
        (common() + ["--cgroup", "../cpu.shares=1"], 2, "--cgroup takes FILE=VALUE"),
        (common() + ["--cgroup", "cpu.shares="], 2, "--cgroup takes FILE=VALUE"),
        (common() + ["--parent-cgroup", "../up"], 2, "--parent-cgroup takes a relative path"),
        (common() + ["--parent-cgroup", "/abs"], 2, "--parent-cgroup takes a relative path"),
        (common() + ["--resource-limit", "core=1"], 2, "--resource-limit takes fsize=BYTES or no-file=N"),
        (common() + ["--resource-limit", "no-file=many"], 2, "--resource-limit takes"),
        (common() + ["--chroot-base-dir", "relative/dir"], 2, "--chroot-base-dir takes an absolute path"),
        (common() + ["--chroot-base-dir", "/srv/../etc"], 2, "--chroot-base-dir takes an absolute path"),
        (common() + ["stray"], 2, "unexpected argument 'stray'"),
        (common() + ["--frobnicate"], 2, "unknown option"),
        (common() + ["--netns"], 2, "missing value"),
        (common(exe="/nonexistent/wisp"), 1, "--exec-file /nonexistent/wisp: No such file"),
        (common(exe=plain), 1, "is not an executable file"),
        (common(exe=script), 1, "is not a 64-bit ELF executable"),
        (common() + ["--chroot-base-dir", a_file], 1, "is not a directory"),
        (common() + ["--netns", "/nonexistent/ns"], 1, "--netns /nonexistent/ns: No such file"),
        (common() + ["--netns", a_file], 1, "is not a network namespace"),
        (common(taken), 1, "already exists"),
        (common() + ["--cgroup", "frob.level=1"], 1, "no cgroup v1 hierarchy has the frob controller"),
        (common() + ["--cgroup", "pids.nonexistent=1"], 1, "cannot write \"1\" to the cgroup file"),
        (common() + ["--cgroup", "cpu.shares=256", "--cgroup", "pids.max=lots"], 1, "cannot write \"lots\""),
        (common() + ["--resource-limit", f"no-file={1 << 40}"], 1, "cannot set the no-file limit"),
    ]
    if cc:
        cases.append((common(exe=obj) + ["--cgroup", "pids.max=10"], 1, "cannot exec /object.o inside the jail"))
        cases.append((common(exe=obj) + ["--new-pid-ns", "--cgroup", "pids.max=10"], 1, "cannot exec /object.o"))
    unified = unified_mount()
    if unified:
        with open(os.path.join(unified, "cgroup.controllers")) as f:
            if "pids" not in f.read().split():
                cases.append((common() + ["--cgroup-version", "2", "--cgroup", "pids.max=10"], 1,
                              "the pids controller is not available in the cgroup v2 hierarchy"))
    before = sorted(os.listdir(base))
    for argv, code, msg in cases:
        r = subprocess.run([jailer] + argv, capture_output=True, text=True, timeout=60)
        print(f"$ wisp-jailer {' '.join(argv)}\n  -> {r.returncode}: {r.stderr.strip()}")
        assert r.returncode == code, (argv, r)
        assert msg in r.stderr, (argv, msg, r.stderr)
        assert sorted(os.listdir(base)) == before and os.listdir(os.path.join(base, "wisp")) == [taken], \
            (argv, "left behind", os.listdir(os.path.join(base, "wisp")))
        for c in V1:
            assert not os.path.exists(os.path.join(CGROUP, c, parent)), (argv, "cgroup left behind", c)
        if unified:
            assert not os.path.exists(os.path.join(unified, parent)), (argv, "cgroup v2 left behind")
    # --daemonize from a process group leader, and not root.
    r = subprocess.run([jailer] + common() + ["--daemonize"], capture_output=True, text=True, start_new_session=True)
    assert r.returncode == 1 and "leads its process group" in r.stderr, r
    r = subprocess.run([jailer] + common(), capture_output=True, text=True, user=65534)
    assert r.returncode == 1 and "must run as root" in r.stderr, r
    assert os.listdir(os.path.join(base, "wisp")) == [taken]
    # --help and --version.
    r = subprocess.run([jailer, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--exec-file" in r.stdout, r
    print(f"jail errors: OK ({len(cases) + 2} cases)")


def main():
    scenario, wisp, jailer, image, initrd = sys.argv[1:6]
    if os.geteuid() != 0 or not all(os.path.isdir(os.path.join(CGROUP, c)) for c in V1):
        print("needs root and cgroup v1 cpu, cpuset, memory and pids controllers, skipped")
        sys.exit(SKIP)
    if scenario == "boot" and not shutil.which("ip"):
        print("ip (iproute2) missing, skipped")
        sys.exit(SKIP)
    wisp, jailer, image, initrd = (os.path.abspath(p) for p in (wisp, jailer, image, initrd))
    fn = globals()[f"scenario_{scenario}"]
    tmp = tempfile.mkdtemp(prefix=f"wisp-jail-{scenario}-")
    os.chmod(tmp, 0o755)
    try:
        fn(wisp, jailer, image, initrd, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
