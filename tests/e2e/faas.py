#!/usr/bin/env python3
"""End to end: wisp-faas on real microVMs.

Deploys busybox shell handlers; invokes one sequentially (first cold, then warm, exact outputs) and 16 at a time
(max_instances 4: every output exact, at most 4 instances); a failing handler gives 502 with its stderr and the
next invocation works; a hanging handler gives 504 and its instance (wisp process) is gone; two functions never
share an instance; bad input (malformed JSON, unknown fields and functions, oversized bodies, non-executable and
non-RISC-V handlers); /metrics; DELETE removes processes, snapshots and sockets.

`faas.py policy ...`: the hybrid policy live, on a compressed clock (--minute-ms 500): a function invoked every
10 "minutes" learns its idle time, is unloaded right after each execution and pre-warmed before the next one,
which is then warm.

`faas.py python ...`: a Python 3 handler (JSON in, JSON out) on the python3 runtime drive of guest/python.sh
(make guest-python), invoked cold and warm; exit 77 (skipped) when that drive was not built.

usage: faas.py [basic|python|policy] WISP_FAAS WISP IMAGE INITRD [PYTHON_IMAGE]
"""
import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Faas:
    def __init__(self, url):
        self.url = url

    def req(self, method, path, body=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        r = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(r, timeout=120) as resp:
                return resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def script(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write("#!/bin/sh\n" + text)
    os.chmod(p, 0o755)
    return p


PY_HANDLER = """#!/usr/bin/python3
import json, sys
req = json.load(sys.stdin)
json.dump({"sum": sum(req["numbers"]), "hello": req["name"].upper(), "n": len(req["numbers"])}, sys.stdout)
"""


def python_scenario(f, tmp):
    h = os.path.join(tmp, "handler.py")
    with open(h, "w") as fh:
        fh.write(PY_HANDLER)
    os.chmod(h, 0o755)
    s, b, _ = f.req("PUT", "/functions/py", {"executable": h, "runtime": "python3", "memory_mib": 256,
                                             "timeout_s": 300})
    assert s == 201, (s, b)
    s, b, _ = f.req("PUT", "/functions/py2", {"executable": h, "runtime": "perl"})
    assert s == 400 and b"runtime" in b, (s, b)
    starts = []
    for i in range(3):
        body = json.dumps({"numbers": list(range(i + 3)), "name": f"wisp{i}"}).encode()
        s, b, hd = f.req("POST", "/functions/py/invoke", raw=body)
        assert s == 200, (s, b)
        assert json.loads(b) == {"sum": sum(range(i + 3)), "hello": f"WISP{i}", "n": i + 3}, b
        starts.append(hd["X-Wisp-Start"])
        print(f"python invocation {i}: {hd['X-Wisp-Start']} {hd['X-Wisp-Duration-Ms']} ms")
    assert starts == ["cold", "warm", "warm"], starts
    s, b, _ = f.req("POST", "/functions/py/invoke", raw=b"{not json")
    assert s == 502 and b"JSONDecodeError" in b, (s, b)
    # The same program started by a shell script on the same runtime: exec'd per invocation, not the zygote.
    wrap = script(tmp, "wrap.sh", "exec /usr/bin/python3 /fn/handler.py\n")
    s, b, _ = f.req("PUT", "/functions/pyexec", {"executable": wrap, "files": [h], "runtime": "python3",
                                                 "memory_mib": 256, "timeout_s": 300})
    assert s == 201, (s, b)
    for i in range(2):
        s, b, hd = f.req("POST", "/functions/pyexec/invoke", raw=json.dumps({"numbers": [5], "name": "x"}).encode())
        assert s == 200 and json.loads(b) == {"sum": 5, "hello": "X", "n": 1}, (s, b)
        print(f"python (exec, no zygote) invocation {i}: {hd['X-Wisp-Start']} {hd['X-Wisp-Duration-Ms']} ms")
    assert f.req("DELETE", "/functions/py")[0] == 204
    assert f.req("DELETE", "/functions/pyexec")[0] == 204
    print("faas python: ok")


def policy_scenario(f, tmp):
    echo = script(tmp, "echo.sh", 'read line; echo "echo:$line"\n')
    assert f.req("PUT", "/functions/tick", {"executable": echo, "max_instances": 1})[0] == 201
    starts = []
    for i in range(9):
        if i:
            time.sleep(5.0)  # 10 policy minutes of 500 ms
        s, b, h = f.req("POST", "/functions/tick/invoke", raw=f"t{i}\n".encode())
        assert s == 200 and b == f"echo:t{i}\n".encode(), (s, b)
        starts.append(h["X-Wisp-Start"])
        info = json.loads(f.req("GET", "/functions/tick")[1])
        print(f"tick {i}: {starts[-1]}, policy {info['policy']}, prewarms {info['prewarms']}, "
              f"unloads {info['unloads']}, live {info['live_instances']}")
    pol = info["policy"]
    assert pol["name"] == "hybrid" and not pol["fallback"], pol
    assert pol["prewarm_min"] == 9 and pol["prewarm_min"] + pol["keepalive_min"] == 13, pol  # 10 min idle times
    # Learning: the fallback keeps 10 minutes, about the idle time (cold or warm). Then pre-warmed: warm.
    assert starts[0] == "cold" and starts[-1] == "warm" and starts[-2] == "warm", starts
    assert info["prewarms"] >= 2 and info["unloads"] >= 2, info
    print("faas policy: ok")


def main():
    scenario = sys.argv[1] if sys.argv[1] in ("basic", "python", "policy") else None
    args = sys.argv[2:] if scenario else sys.argv[1:]
    scenario = scenario or "basic"
    faas_bin, wisp, image, initrd = args[:4]
    python_image = args[4] if len(args) > 4 else None
    if scenario == "python" and not (python_image and os.path.exists(python_image)):
        print(f"faas python: skipped, no runtime drive {python_image} (make guest-python)")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="faas-e2e-")
    state = os.path.join(tmp, "s")
    port = free_port()
    log = open(os.path.join(tmp, "daemon.log"), "w")
    policy = ["--policy", "hybrid", "--minute-ms", "500"] if scenario == "policy" else ["--policy", "fixed:10"]
    d = subprocess.Popen([faas_bin, "--listen", f"127.0.0.1:{port}", "--state-dir", state] + policy + [
                          "--memory-budget", "1024", "--max-body", "65536", "--wisp", wisp, "--kernel", image,
                          "--initrd", initrd] +
                         (["--python-image", python_image] if python_image else []), stdout=log, stderr=log)
    f = Faas(f"http://127.0.0.1:{port}")
    try:
        for _ in range(200):
            try:
                f.req("GET", "/functions")
                break
            except OSError:
                time.sleep(0.05)
        if scenario == "python":
            return python_scenario(f, tmp)
        if scenario == "policy":
            return policy_scenario(f, tmp)
        echo = script(tmp, "echo.sh", 'read line; echo "echo:$line"\n')
        fail = script(tmp, "fail.sh", 'cat >/dev/null; echo "bad thing: $(cat data.txt)" >&2; exit 3\n')
        hang = script(tmp, "hang.sh", "sleep 1000\n")
        who = script(tmp, "who.sh", 'cat /proc/sys/kernel/random/boot_id; cat >/dev/null\n')
        data = os.path.join(tmp, "data.txt")
        with open(data, "w") as fh:
            fh.write("from-a-file")

        # ---- bad input, before anything exists ----
        s, b, _ = f.req("PUT", "/functions/x", raw=b"{not json")
        assert s == 400 and b"JSON" in b, (s, b)
        s, b, _ = f.req("PUT", "/functions/x", {"executable": echo, "colour": "red"})
        assert s == 400 and b"colour" in b, (s, b)
        s, b, _ = f.req("PUT", "/functions/x", {"executable": data})
        assert s == 400 and b"not an executable" in b, (s, b)
        s, b, _ = f.req("PUT", "/functions/x", {"executable": "/bin/true"})  # x86-64 ELF
        assert s == 400 and b"RISC-V" in b, (s, b)
        s, b, _ = f.req("PUT", "/functions/x", {"executable": echo, "memory_mib": 5})
        assert s == 400 and b"memory_mib" in b, (s, b)
        s, b, _ = f.req("PUT", "/functions/bad%20name", {"executable": echo})
        assert s == 400, (s, b)
        s, b, _ = f.req("POST", "/functions/nope/invoke", raw=b"x")
        assert s == 404, (s, b)
        s, b, _ = f.req("GET", "/functions/nope")
        assert s == 404, (s, b)

        # ---- deploy, sequential invocations ----
        s, b, _ = f.req("PUT", "/functions/echo", {"executable": echo, "max_instances": 4, "timeout_s": 30})
        assert s == 201, (s, b)
        s, b, _ = f.req("PUT", "/functions/echo", {"executable": echo})
        assert s == 409, (s, b)
        starts = []
        for i in range(5):
            s, b, h = f.req("POST", "/functions/echo/invoke", raw=f"hello {i}\n".encode())
            assert s == 200 and b == f"echo:hello {i}\n".encode(), (s, b)
            assert float(h["X-Wisp-Duration-Ms"]) > 0
            starts.append(h["X-Wisp-Start"])
        assert starts == ["cold"] + ["warm"] * 4, starts
        s, b, _ = f.req("POST", "/functions/echo/invoke", raw=b"y" * 70000)
        assert s == 413, (s, b)

        # ---- 16 at a time ----
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            res = list(ex.map(lambda i: f.req("POST", "/functions/echo/invoke", raw=f"c{i}\n".encode()), range(16)))
        for i, (s, b, h) in enumerate(res):
            assert s == 200 and b == f"echo:c{i}\n".encode(), (i, s, b)
        info = json.loads(f.req("GET", "/functions/echo")[1])
        assert info["invocations"] == 21 and info["cold"] + info["warm"] == 21, info
        assert 1 <= info["live_instances"] <= 4 and info["cold"] <= 4, info

        # ---- a failing handler: 502 with stderr, then it still works ----
        s, b, _ = f.req("PUT", "/functions/fail", {"executable": fail, "files": [data]})
        assert s == 201, (s, b)
        for _ in range(2):
            s, b, _ = f.req("POST", "/functions/fail/invoke", raw=b"in")
            assert s == 502 and b == b"bad thing: from-a-file\n", (s, b)
        assert json.loads(f.req("GET", "/functions/fail")[1])["warm"] == 1

        # ---- a hanging handler: 504, its instance gone ----
        s, b, _ = f.req("PUT", "/functions/hang", {"executable": hang, "timeout_s": 2})
        assert s == 201, (s, b)
        s, b, _ = f.req("POST", "/functions/hang/invoke", raw=b"")
        assert s == 504, (s, b)
        info = json.loads(f.req("GET", "/functions/hang")[1])
        assert info["live_instances"] == 0 and info["timeouts"] == 1, info

        # ---- two functions never share an instance ----
        for n in ("who1", "who2"):
            assert f.req("PUT", f"/functions/{n}", {"executable": who})[0] == 201
        ids = {}
        for n in ("who1", "who2", "who1", "who2"):
            s, b, h = f.req("POST", f"/functions/{n}/invoke", raw=b"")
            assert s == 200, (s, b)
            ids.setdefault(n, set()).add(b)
        p1 = set(json.loads(f.req("GET", "/functions/who1")[1])["instance_pids"])
        p2 = set(json.loads(f.req("GET", "/functions/who2")[1])["instance_pids"])
        assert p1 and p2 and not (p1 & p2), (p1, p2)
        assert len(ids["who1"]) == 1 and len(ids["who2"]) == 1 and ids["who1"] != ids["who2"], ids

        # ---- metrics ----
        s, b, _ = f.req("GET", "/metrics")
        m = b.decode()
        assert s == 200 and 'wisp_faas_invocations_total{function="echo",start="warm"}' in m, m
        assert 'wisp_faas_timeouts_total{function="hang"} 1' in m, m

        # ---- DELETE removes everything ----
        pids = json.loads(f.req("GET", "/functions/echo")[1])["instance_pids"]
        assert pids and all(alive(p) for p in pids)
        fdir = os.path.join(state, "f", "echo")
        assert os.path.exists(os.path.join(fdir, "snap.mem"))
        assert f.req("DELETE", "/functions/echo")[0] == 204
        assert not any(alive(p) for p in pids), pids
        assert not os.path.exists(fdir), os.listdir(os.path.dirname(fdir))
        assert f.req("POST", "/functions/echo/invoke", raw=b"x")[0] == 404
        names = [x["name"] for x in json.loads(f.req("GET", "/functions")[1])["functions"]]
        assert "echo" not in names and "who1" in names, names
        print("faas: ok")
    finally:
        d.terminate()
        d.wait(timeout=60)
        log.close()
    assert d.returncode == 0, d.returncode
    left = os.listdir(os.path.join(state, "f")) if os.path.exists(os.path.join(state, "f")) else []
    assert not left, left
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
