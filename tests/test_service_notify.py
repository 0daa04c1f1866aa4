#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""metricd under a fake service manager.

Plays systemd's part with plain sockets: a datagram socket as NOTIFY_SOCKET
(checking each message comes from metricd's own pid, as NotifyAccess=main
requires), WATCHDOG_USEC, and a listening socket passed as fd 3 with
LISTEN_FDS=1 / LISTEN_PID (socket activation).  Expects:
  - READY=1 once metricd answers requests;
  - SIGHUP: RELOADING=1 (with MONOTONIC_USEC) and then READY=1 again,
    also when the new config file is bad;
  - the reloaded log-level takes effect: at warn the reload's own info
    line is not written, an error still is, and back at debug it is again
    (metricd logs before it sends READY=1, so the order decides, not time);
  - WATCHDOG=1 pings keep coming (their gaps are printed, not asserted:
    that is a time window);
  - SIGTERM: STOPPING=1, then exit status 0;
  - socket activation: /healthz answers on the passed socket, and --listen
    (pointed at a port already taken) is not bound.
Loopback only; every wait is bounded by a deadline that only guards a
hang (seconds, for messages that take milliseconds).
"""
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
from httptest import check, finish  # noqa: E402

METRICD = os.environ.get("METRICD", "./metricd")

# A child that puts the socket given as argv[1] on fd 3 and execs metricd
# with LISTEN_PID = its own pid (exec keeps the pid), as systemd does.
ACTIVATE = r"""
import os, sys
fd = int(sys.argv[1])
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.set_inheritable(3, True)
env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
os.execve(sys.argv[2], sys.argv[2:], env)
"""



class Manager:
    """The NOTIFY_SOCKET end: a datagram socket receiving credentials."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.log = []            # (time, pid, {key: value})

    def poll(self, timeout):
        """Receives what arrives within timeout seconds (at least one wait)."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        pid = None
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", cdata[:12])[0]
        fields = {}
        for line in data.decode(errors="replace").split("\n"):
            k, _, v = line.partition("=")
            fields[k] = v
        msg = (time.monotonic(), pid, fields)
        self.log.append(msg)
        return msg

    def wait_for(self, key, timeout, since=0):
        """The first message (index >= since) carrying key; None on timeout."""
        deadline = time.monotonic() + timeout
        i = since
        while True:
            while i < len(self.log):
                if key in self.log[i][2]:
                    return i, self.log[i]
                i += 1
            left = deadline - time.monotonic()
            if left <= 0:
                return None, None
            self.poll(left)

    def close(self):
        self.sock.close()


def wait_listening(proc, timeout=10):
    """Reads metricd's stderr up to 'listening on HOST:PORT'; returns PORT."""
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stderr.fileno(), False)
    buf = ""
    while time.monotonic() < deadline:
        try:
            chunk = os.read(proc.stderr.fileno(), 4096)
        except BlockingIOError:
            chunk = None
        if chunk:
            buf += chunk.decode(errors="replace")
            m = re.search(r"listening on \S*:(\d+)", buf)
            if m:
                return int(m.group(1)), buf
        elif chunk == b"" or proc.poll() is not None:
            break
        else:
            time.sleep(0.02)
    return None, buf


class Log:
    """metricd's stderr, read as it comes (the pipe is non-blocking once
    wait_listening has run)."""

    def __init__(self, proc, start=""):
        self.proc = proc
        self.text = start

    def read(self):
        while True:
            try:
                chunk = os.read(self.proc.stderr.fileno(), 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.text += chunk.decode(errors="replace")
        return self.text

    def since(self, mark):
        return self.read()[mark:]

    def mark(self):
        return len(self.read())


def healthz(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            out = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                out += chunk
        _, _, body = out.partition(b"\r\n\r\n")
        return out.startswith(b"HTTP/1.1 200") and body.strip() == b"ok"
    except OSError as e:
        print("#", "healthz on port", port, "failed:", e)
        return False


def stop(proc, mgr):
    """SIGTERM: expect STOPPING=1 and exit status 0."""
    mark = len(mgr.log)
    proc.send_signal(signal.SIGTERM)
    _, msg = mgr.wait_for("STOPPING", 10, since=mark)
    check(msg is not None and msg[2].get("STOPPING") == "1", "SIGTERM: STOPPING=1")
    try:
        rc = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    check(rc == 0, f"metricd exits 0 after SIGTERM (got {rc})")


def lifecycle(tmp):
    mgr = Manager(os.path.join(tmp, "notify"))
    conf = os.path.join(tmp, "metricd.conf")
    with open(conf, "w") as f:
        f.write("log-level = info\n")
    env = dict(os.environ, NOTIFY_SOCKET=mgr.path, WATCHDOG_USEC="1000000")
    env.pop("LISTEN_FDS", None)
    env.pop("LISTEN_PID", None)
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([METRICD, "--listen", "127.0.0.1:0", "--workers", "2",
                             "--config", conf], env=env, stderr=subprocess.PIPE)
    try:
        port, log = wait_listening(proc)
        check(port is not None, "metricd starts and logs its port")
        if port is None:
            print(log)
            return
        _, ready = mgr.wait_for("READY", 10)
        check(ready is not None and ready[2].get("READY") == "1", "READY=1 after start")
        if ready is None:
            return
        check(ready[1] == proc.pid, f"READY=1 comes from metricd's pid ({ready[1]} vs {proc.pid})")
        check(healthz(port), "serving once READY=1 was sent")

        errlog = Log(proc, log)
        check("listening on" in errlog.read(), "at log-level info, info lines are written")

        # Reload: RELOADING=1 with a monotonic timestamp, then READY=1.
        with open(conf, "w") as f:
            f.write("log-level = warn\n")
        mark = len(mgr.log)
        logmark = errlog.mark()
        t0 = time.clock_gettime(time.CLOCK_MONOTONIC)
        proc.send_signal(signal.SIGHUP)
        i, rel = mgr.wait_for("RELOADING", 10, since=mark)
        t1 = time.clock_gettime(time.CLOCK_MONOTONIC)
        check(rel is not None and rel[2].get("RELOADING") == "1", "SIGHUP: RELOADING=1")
        if rel is not None:
            usec = rel[2].get("MONOTONIC_USEC", "")
            check(usec.isdigit() and t0 * 1e6 - 1 <= int(usec) <= t1 * 1e6 + 1,
                  f"RELOADING=1 carries MONOTONIC_USEC of the reload ({usec!r})")
            _, again = mgr.wait_for("READY", 10, since=i + 1)
            check(again is not None and again[2].get("READY") == "1",
                  "SIGHUP: READY=1 after RELOADING=1")
        # The reload logs "reloaded ..." at info, after it set the new
        # level and before READY=1: at warn it must not be there.
        after = errlog.since(logmark)
        check("reloaded" not in after and "[info]" not in after,
              f"log-level=warn took effect: no info line after the reload ({after.strip()!r})")
        check(healthz(port), "still serving after the reload")

        # A reload that fails must still end the reload with READY=1, or
        # systemd would wait for it until its timeout.
        with open(conf, "w") as f:
            f.write("workers = lots\n")
        mark = len(mgr.log)
        logmark = errlog.mark()
        proc.send_signal(signal.SIGHUP)
        i, rel = mgr.wait_for("RELOADING", 10, since=mark)
        check(rel is not None, "bad config, SIGHUP: RELOADING=1")
        if rel is not None:
            _, again = mgr.wait_for("READY", 10, since=i + 1)
            check(again is not None and again[2].get("READY") == "1",
                  "bad config: READY=1 all the same (running configuration kept)")
        after = errlog.since(logmark)
        check("[error]" in after and "reload failed" in after,
              f"at log-level warn an error line is still written ({after.strip()!r})")
        check(healthz(port), "still serving after the failed reload")

        # Back to a verbose level: the reload's info line is written again.
        with open(conf, "w") as f:
            f.write("log-level = debug\n")
        mark = len(mgr.log)
        logmark = errlog.mark()
        proc.send_signal(signal.SIGHUP)
        i, rel = mgr.wait_for("RELOADING", 10, since=mark)
        again = mgr.wait_for("READY", 10, since=i + 1)[1] if rel is not None else None
        check(again is not None, "SIGHUP to log-level=debug: RELOADING=1, READY=1")
        after = errlog.since(logmark)
        check(re.search(r"\[info\]: reloaded .*log-level=debug", after) is not None,
              f"log-level=debug took effect: the reload's info line is back ({after.strip()!r})")

        # Watchdog: pings keep coming.  metricd pings from a timer of half
        # WATCHDOG_USEC (1 s); how long the gaps are is a time window on a
        # shared machine, so they are printed, not asserted.  30 s only
        # guards a hang (three pings take about 1.5 s).
        mark = len(mgr.log)
        pings = []
        since = mark
        while len(pings) < 3:
            i, msg = mgr.wait_for("WATCHDOG", 30, since=since)
            if msg is None:
                break
            if msg[2].get("WATCHDOG") == "1":
                pings.append(msg)
            since = i + 1
        check(len(pings) == 3, f"WATCHDOG=1 pings keep coming ({len(pings)} of 3)")
        gaps = [round(b[0] - a[0], 3) for a, b in zip(pings, pings[1:])]
        print(f"# watchdog gaps {gaps} s with WATCHDOG_USEC=1000000")

        stop(proc, mgr)
        others = [m for m in mgr.log if m[1] != proc.pid]
        check(not others, "every message came from metricd's pid")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        mgr.close()


def socket_activation(tmp):
    mgr = Manager(os.path.join(tmp, "notify-sa"))
    passed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    passed.bind(("127.0.0.1", 0))
    passed.listen(64)
    port = passed.getsockname()[1]
    # --listen names a port already in use: metricd must not try to bind it.
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    taken_port = taken.getsockname()[1]
    env = dict(os.environ, NOTIFY_SOCKET=mgr.path)
    for k in ("LISTEN_FDS", "LISTEN_PID", "WATCHDOG_USEC", "WATCHDOG_PID"):
        env.pop(k, None)
    argv = [sys.executable, "-c", ACTIVATE, str(passed.fileno()), METRICD,
            "--listen", f"127.0.0.1:{taken_port}", "--workers", "2"]
    proc = subprocess.Popen(argv, env=env, pass_fds=(passed.fileno(),),
                            stderr=subprocess.PIPE)
    passed.close()              # only metricd holds it now
    try:
        logged, log = wait_listening(proc)
        check(logged is not None, "socket-activated metricd starts")
        if logged is None:
            print(log)
            return
        check(logged == port, f"it reports the passed socket's port ({logged} vs {port})")
        _, ready = mgr.wait_for("READY", 10)
        check(ready is not None, "READY=1 under socket activation")
        check(healthz(port), "/healthz answers through the passed socket")
        stop(proc, mgr)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        taken.close()
        mgr.close()


def main():
    with tempfile.TemporaryDirectory(prefix="metricd-svc-") as tmp:
        lifecycle(tmp)
        socket_activation(tmp)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
