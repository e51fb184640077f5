#!/usr/bin/python3
"""wisp-faas's Python zygote (guest/python.sh installs it as the runtime's /etc/wisp-zygote).

wisp-agent starts it before reporting ready, so the function's snapshot holds a Python that has started and
imported the common modules. For each invocation the agent connects to /tmp/zygote.sock and passes the handler's
stdin, stdout and stderr (SCM_RIGHTS); the zygote forks, the child runs /fn/handler as __main__ with those as its
standard streams, and the zygote answers with the child's wait status (u32, little-endian).
"""
import collections  # noqa: F401  (imported here so every handler finds them loaded)
import json  # noqa: F401
import os
import re  # noqa: F401
import runpy
import socket
import sys
import traceback

SOCK = "/tmp/zygote.sock"


def child(fds):
    for i, fd in enumerate(fds):
        os.dup2(fd, i)
        os.close(fd)
    code = 0
    try:
        os.chdir("/fn")
        sys.argv = ["/fn/handler"]
        sys.path.insert(0, "/fn")
        runpy.run_path("/fn/handler", run_name="__main__")
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        code = code or 1
    os._exit(code)


def main():
    try:
        os.unlink(SOCK)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(SOCK + ".tmp")
    s.listen(8)
    os.rename(SOCK + ".tmp", SOCK)  # the agent waits for the name: it appears only once we listen
    while True:
        c, _ = s.accept()
        try:
            _, fds, _, _ = socket.recv_fds(c, 1, 3)
            if len(fds) != 3:
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                s.close()
                c.close()
                child(fds)
            for fd in fds:
                os.close(fd)
            _, st = os.waitpid(pid, 0)
            c.sendall(st.to_bytes(4, "little"))
        except OSError:
            pass
        finally:
            c.close()


main()
