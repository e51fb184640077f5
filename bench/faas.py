#!/usr/bin/env python3
"""wisp-faas against a container baseline, in the same run (docs/faas.md).

wisp-faas: cold start (invoke -> response through a snapshot restore: a new wisp process loads the function's
snapshot), warm invocation (an idle instance reused), invocations per second with 4 clients; runc (Debian's)
with a busybox bundle running the same shell handler: `runc run` per invocation (cold) and `runc exec` into a
running container (warm). Then the keep-alive simulator's table on a generated trace.

usage: bench/faas.py BUILD_DIR [--quick] [--json OUT]
"""
import concurrent.futures
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HANDLER = 'read line; echo "echo:$line"\n'


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def req(url, method, path, body=b""):
    r = urllib.request.Request(url + path, data=body, method=method)
    with urllib.request.urlopen(r, timeout=120) as resp:
        return resp.status, resp.read(), resp.headers


class Daemon:
    def __init__(self, build, tmp, policy, extra=()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(tmp, f"daemon-{self.port}.log"), "w")
        self.p = subprocess.Popen([os.path.join(build, "wisp-faas"), "--listen", f"127.0.0.1:{self.port}",
                                   "--state-dir", os.path.join(tmp, f"s{self.port}"), "--policy", policy,
                                   "--memory-budget", "4096"] + list(extra), stdout=self.log, stderr=self.log)
        for _ in range(400):
            try:
                req(self.url, "GET", "/functions", None)
                return
            except OSError:
                time.sleep(0.025)
        raise RuntimeError("wisp-faas did not start")

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=60)
        self.log.close()


def invoke_ms(url, name, i):
    t0 = time.perf_counter()
    s, b, h = req(url, "POST", f"/functions/{name}/invoke", f"x{i}\n".encode())
    ms = (time.perf_counter() - t0) * 1000
    assert s == 200 and b == f"echo:x{i}\n".encode(), (s, b)
    return ms, h["X-Wisp-Start"]


def throughput(fn, seconds, clients=4):
    end = time.perf_counter() + seconds
    count = [0] * clients

    def worker(k):
        i = 0
        while time.perf_counter() < end:
            fn(k * 1000000 + i)
            i += 1
        count[k] = i

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as ex:
        list(ex.map(worker, range(clients)))
    return sum(count) / (time.perf_counter() - t0)


def bench_wisp(build, tmp, handler, n_cold, n_warm, secs):
    out = {}
    # Cold: a keep-alive of 6 ms unloads every instance before the next invocation.
    d = Daemon(build, tmp, "fixed:0.0001")
    try:
        s, b, _ = req(d.url, "PUT", "/functions/echo", json.dumps({"executable": handler}).encode())
        assert s == 201, b
        out["deploy_ms"] = json.loads(b)["deploy_ms"]
        cold = []
        for i in range(n_cold):
            time.sleep(0.1)
            ms, start = invoke_ms(d.url, "echo", i)
            assert start == "cold", start
            cold.append(ms)
        out["cold_ms"] = cold
    finally:
        d.stop()
    # The same with the clones on wisp's interpreter: no translation to warm up in a new process.
    d = Daemon(build, tmp, "fixed:0.0001", ["--cpu-backend", "interp"])
    try:
        s, b, _ = req(d.url, "PUT", "/functions/echo", json.dumps({"executable": handler}).encode())
        assert s == 201, b
        v = []
        for i in range(n_cold):
            time.sleep(0.1)
            ms, start = invoke_ms(d.url, "echo", i)
            assert start == "cold", start
            v.append(ms)
        out["cold_interp_ms"] = v
    finally:
        d.stop()
    d = Daemon(build, tmp, "fixed:10")
    try:
        req(d.url, "PUT", "/functions/echo",
            json.dumps({"executable": handler, "max_instances": 4}).encode())
        invoke_ms(d.url, "echo", 0)
        warm = []
        for i in range(n_warm):
            ms, start = invoke_ms(d.url, "echo", i)
            assert start == "warm", start
            warm.append(ms)
        out["warm_ms"] = warm
        out["per_s"] = throughput(lambda i: invoke_ms(d.url, "echo", i), secs)
    finally:
        d.stop()
    return out


PY = """#!/usr/bin/python3
import json, sys
req = json.load(sys.stdin)
json.dump({"sum": sum(req["numbers"])}, sys.stdout)
"""


def bench_python(build, tmp, n_cold, n_warm):
    """The python3 runtime, when make guest-python built it: the zygote (a started Python in the snapshot)
    against the same program exec'd per invocation (Python starts every time), cold and warm."""
    image = os.path.join(build, "guest", "python.ext4")
    if not os.path.exists(image):
        return None
    h = os.path.join(tmp, "handler.py")
    with open(h, "w") as f:
        f.write(PY)
    os.chmod(h, 0o755)
    w = os.path.join(tmp, "wrap.sh")
    with open(w, "w") as f:
        f.write("#!/bin/sh\nexec /usr/bin/python3 /fn/handler.py\n")
    os.chmod(w, 0o755)
    body = json.dumps({"numbers": [1, 2, 3]}).encode()
    out = {}
    for policy, kind, n in (("fixed:0.0001", "cold", n_cold), ("fixed:10", "warm", n_warm)):
        d = Daemon(build, tmp, policy)
        try:
            for name, exe, files in (("zygote", h, []), ("exec", w, [h])):
                s, b, _ = req(d.url, "PUT", f"/functions/{name}", json.dumps(
                    {"executable": exe, "files": files, "runtime": "python3", "memory_mib": 256,
                     "timeout_s": 300}).encode())
                assert s == 201, b
                if kind == "warm":
                    req(d.url, "POST", f"/functions/{name}/invoke", body)
                v = []
                for _ in range(n):
                    if kind == "cold":
                        time.sleep(0.1)
                    t0 = time.perf_counter()
                    s, b, hd = req(d.url, "POST", f"/functions/{name}/invoke", body)
                    v.append((time.perf_counter() - t0) * 1000)
                    assert s == 200 and json.loads(b) == {"sum": 6} and hd["X-Wisp-Start"] == kind, (s, b)
                out[f"{name}_{kind}_ms"] = v
        finally:
            d.stop()
    return out


def bench_runc(tmp, handler, n_cold, n_warm, secs):
    runc, bb = shutil.which("runc"), shutil.which("busybox")
    if not runc or not bb or subprocess.run([bb, "--list"], capture_output=True).returncode:
        return None
    if "statically linked" not in subprocess.run(["file", "-L", bb], capture_output=True, text=True).stdout:
        if os.path.exists("/bin/busybox"):
            bb = "/bin/busybox"
    bundle = os.path.join(tmp, "bundle")
    root = os.path.join(bundle, "rootfs")
    for d in ("bin", "fn", "proc", "dev", "tmp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy(bb, os.path.join(root, "bin", "busybox"))
    for a in ("sh", "cat", "echo", "sleep"):
        os.symlink("busybox", os.path.join(root, "bin", a))
    shutil.copy(handler, os.path.join(root, "fn", "handler"))
    subprocess.run([runc, "spec", "--bundle", bundle], check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        cfg = json.load(f)
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["/fn/handler"]
    cfg["process"]["cwd"] = "/fn"
    cfg["root"]["readonly"] = True
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f)
    state = os.path.join(tmp, "runc-state")

    def run_once(i):
        t0 = time.perf_counter()
        p = subprocess.run([runc, "--root", state, "run", "--bundle", bundle, f"c{i}"], input=f"x{i}\n".encode(),
                           capture_output=True)
        ms = (time.perf_counter() - t0) * 1000
        assert p.returncode == 0 and p.stdout == f"echo:x{i}\n".encode(), (p.returncode, p.stdout, p.stderr)
        return ms

    cold = [run_once(i) for i in range(n_cold)]
    # Warm: one long-running container, the handler run by `runc exec` per invocation.
    cfg["process"]["args"] = ["/bin/sleep", "100000"]
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f)
    subprocess.run([runc, "--root", state, "run", "--detach", "--bundle", bundle, "warm"], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def exec_once(i):
            t0 = time.perf_counter()
            p = subprocess.run([runc, "--root", state, "exec", "warm", "/fn/handler"], input=f"x{i}\n".encode(),
                               capture_output=True)
            ms = (time.perf_counter() - t0) * 1000
            assert p.returncode == 0 and p.stdout == f"echo:x{i}\n".encode(), (p.stdout, p.stderr)
            return ms
        warm = [exec_once(i) for i in range(n_warm)]
        per_s = throughput(exec_once, secs)
    finally:
        subprocess.run([runc, "--root", state, "kill", "warm", "KILL"], capture_output=True)
        for _ in range(50):
            if subprocess.run([runc, "--root", state, "delete", "warm"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
    return {"cold_ms": cold, "warm_ms": warm, "per_s": per_s}


def simulator(build, tmp, apps, days):
    prefix = os.path.join(tmp, "trace")
    files = subprocess.run([os.path.join(build, "wisp-faas"), "gen-trace", "--out", prefix, "--apps", str(apps),
                            "--days", str(days), "--seed", "7"], check=True, capture_output=True,
                           text=True).stdout.split()
    pols = ["fixed:5", "fixed:10", "fixed:20", "fixed:30", "fixed:60", "fixed:120", "hybrid"]
    args = [os.path.join(build, "wisp-faas"), "simulate", "--trace"] + files
    for p in pols:
        args += ["--policy", p]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def main():
    build = os.path.abspath(sys.argv[1])
    quick = "--quick" in sys.argv
    jout = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    n_cold, n_warm, secs = (5, 30, 2) if quick else (20, 200, 5)
    tmp = tempfile.mkdtemp(prefix="faas-bench-")
    handler = os.path.join(tmp, "echo.sh")
    with open(handler, "w") as f:
        f.write("#!/bin/sh\n" + HANDLER)
    os.chmod(handler, 0o755)
    try:
        w = bench_wisp(build, tmp, handler, n_cold, n_warm, secs)
        r = bench_runc(tmp, handler, n_cold, n_warm, secs)
        py = bench_python(build, tmp, 3 if quick else 5, 5 if quick else 10)
        sim = simulator(build, tmp, 300, 2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"wisp-faas deploy (boot + agent ready + snapshot): {w['deploy_ms']:.0f} ms")
    print(f"{'':28}{'wisp-faas':>12}{'runc':>12}{'ratio':>8}")
    rows = []
    for key, label in (("cold_ms", "cold start"), ("warm_ms", "warm invocation")):
        for p in (50, 99):
            a = pct(w[key], p)
            b = pct(r[key], p) if r else None
            rows.append((f"{label} p{p} (ms)", a, b))
    rows.append(("cold start, interp p50 (ms)", pct(w["cold_interp_ms"], 50), pct(r["cold_ms"], 50) if r else None))
    rows.append(("invocations/s (4 clients)", w["per_s"], r["per_s"] if r else None))
    for label, a, b in rows:
        bs = f"{b:12.1f}{a / b:8.2f}" if b else f"{'n/a':>12}{'':8}"
        print(f"{label:28}{a:12.1f}{bs}")
    if not r:
        print("(runc or a static busybox is missing: apt-get install runc busybox-static)")
    if py:
        print("\nPython handler (JSON in, JSON out), python3 runtime:  p50 ms      cold    warm")
        for name, label in (("zygote", "zygote (started Python in the snapshot)"), ("exec", "exec'd per invocation")):
            print(f"  {label:48}{pct(py[name + '_cold_ms'], 50):8.0f}{pct(py[name + '_warm_ms'], 50):8.0f}")
    else:
        print("\n(Python: no build/guest/python.ext4; make guest-python)")
    print("\nkeep-alive simulator, generated trace (300 apps, 2 days, seed 7, 128 MiB per app):")
    print(f"{'policy':10}{'cold starts':>12}{'p50 %':>8}{'p75 %':>8}{'p90 %':>8}{'wasted GB-s':>14}")
    for s in sim:
        c = s["cold_start_pct"]
        print(f"{s['policy']:10}{s['cold_starts']:12}{c['p50']:8.1f}{c['p75']:8.1f}{c['p90']:8.1f}"
              f"{s['wasted_memory_gb_s']:14.0f}")
    if jout:
        with open(jout, "w") as f:
            json.dump({"wisp": w, "runc": r, "python": py, "simulator": sim}, f)


if __name__ == "__main__":
    main()
