# SPDX-License-Identifier: BSD-2-Clause
"""Shared helpers for the soak and fault tests in tests/soak/.

Every test starts the real metricd ($METRICD) on an ephemeral loopback port,
drives it with plain sockets, and ends by itself within a few seconds.
Results are printed as "ok - ..." / "FAIL - ..." lines; the exit status is
0 (pass), 1 (fail) or 77 (skip), as automake's test driver expects.

The checks are on answers, counters, order and state, never on how long
something took (latency and CPU figures are printed as "# ..." lines;
tools/bench/robustness measures them).  Waits for a state have deadlines that
only guard against a hang: seconds where milliseconds are expected.
"""
import fcntl
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

METRICD = os.environ.get("METRICD", "./metricd")
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")

_failures = 0


def _take_turn():
    """Under `make -j`, soak tests take turns: each holds this lock (in the
    build tree, where automake runs tests) for its whole run."""
    if not os.path.isdir("tests/soak"):
        return None
    f = open("tests/soak/soak.lock", "w")
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


_turn = _take_turn()

# Once it has its turn, a test that hangs ends as a failure that says so
# (well before tests/bounded's limit, which also counts the wait for the
# turn).  A guard, not a measurement: the slowest test takes about a
# minute under ThreadSanitizer.
GUARD_S = 300


def _hung(signum, frame):
    print(f"FAIL - the test did not finish within {GUARD_S} s (soaklib guard)", flush=True)
    raise SystemExit(1)


signal.signal(signal.SIGALRM, _hung)
signal.alarm(GUARD_S)


def check(cond, what):
    global _failures
    if cond:
        print("ok -", what, flush=True)
    else:
        _failures += 1
        print("FAIL -", what, flush=True)
    return cond


def info(what):
    print("#", what, flush=True)


def skip(why):
    print("SKIP:", why, flush=True)
    sys.exit(77)


def missing(why):
    """Something the test needs is missing: a skip when run by hand, a
    failure in CI (CI set), where tools/setup-deps provides everything."""
    if os.environ.get("CI"):
        print(f"FAIL - {why} (CI is set: this is a failure, not a skip)", flush=True)
        sys.exit(1)
    skip(why)


def finish():
    if _failures:
        print(f"{_failures} check(s) failed", flush=True)
    sys.exit(1 if _failures else 0)


def sanitized():
    """'address' or 'thread' when metricd was built with a sanitizer."""
    try:
        with open(METRICD, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if b"__tsan_init" in data:
        return "thread"
    if b"__asan_init" in data:
        return "address"
    return None


def raise_nofile(need):
    """Raises this process's fd limit (which metricd inherits) towards need:
    the soft limit up to the hard one and, where allowed (root), the hard
    limit up to the kernel's fs.nr_open.  Returns the soft limit reached,
    which may be lower than need."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    inf = resource.RLIM_INFINITY
    if soft != inf and soft >= need:
        return soft
    if hard != inf and hard < need:
        try:
            with open("/proc/sys/fs/nr_open") as f:
                nr_open = int(f.read())
        except (OSError, ValueError):
            nr_open = hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, max(hard, min(need, nr_open))))
        except (ValueError, OSError):
            pass                    # not root: keep the hard limit there is
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = need if hard == inf or hard >= need else hard
    if soft == inf or soft >= target:
        return target if soft == inf else soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target


class Server:
    """metricd on 127.0.0.1:0.  stderr is read by a thread into .log.
    nofile: RLIMIT_NOFILE for metricd, N (soft and hard) or (SOFT, HARD)."""

    def __init__(self, *args, nofile=None):
        cmd = [METRICD, "--listen", f"{HOST}:0", "--no-pin", *args]
        limits = nofile if isinstance(nofile, tuple) else (nofile, nofile)

        def preexec():
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, limits)

        self.args = args
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, preexec_fn=preexec)
        self.pid = self.proc.pid
        self.log = []
        self.port = None
        deadline = time.time() + 20
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            line = line.decode(errors="replace").rstrip("\n")
            self.log.append(line)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.proc.kill()
            self.proc.wait()
            print("\n".join(self.log[-20:]))
            sys.exit(f"metricd {' '.join(args)} did not start")
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.log.append(line.decode(errors="replace").rstrip("\n"))
            if len(self.log) > 20000:
                del self.log[:10000]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def alive(self):
        return self.proc.poll() is None

    def fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rest_fds(self):
        """The fds metricd holds with no client: counted, on a fresh server,
        while exactly one answered connection is open, minus that one (no
        sleep while a closed connection's fd may still be open)."""
        c = Conn(self.port)
        try:
            c.send(req())
            c.response()
            return self.fds() - 1
        finally:
            c.close()

    def rss_kb(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_s(self):
        """User + system CPU seconds of the whole process."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def stats(self):
        status, _, body = request(self.port, "/stats")
        if status != 200:
            raise RuntimeError(f"/stats answered {status}")
        return json.loads(body)

    def wait_fds(self, target, timeout=30.0):
        """Waits until the fd count drops to target; returns the last count.
        (The timeout guards a hang: closing takes milliseconds.)"""
        deadline = time.time() + timeout
        n = self.fds()
        while n > target and time.time() < deadline:
            time.sleep(0.05)
            n = self.fds()
        return n

    def stop(self, timeout=15):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def sanitizer_reports(self):
        return [l for l in self.log if "Sanitizer" in l or "runtime error:" in l]


def req(path="/healthz", method="GET", headers=(), body=b"", version="HTTP/1.1"):
    h = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return f"{method} {path} {version}\r\nHost: t\r\n{h}\r\n".encode() + body


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def close(self):
        return self.headers.get("connection", "").lower() == "close"

    def __repr__(self):
        return f"<{self.status} {self.body[:60]!r}>"


class Conn:
    """A client connection with a read buffer."""

    def __init__(self, port, timeout=5.0, sock=None):
        self.sock = sock or socket.create_connection((HOST, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise EOFError("server closed the connection")
        self.buf += chunk

    def response(self, head=False):
        """Reads one response (head only when head=True)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode(errors="replace")
        n = 0 if head else int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return Response(status, headers, body)

    def responses(self, n):
        return [self.response() for _ in range(n)]

    def eof(self, timeout=3.0):
        """True if the server closes (FIN or RST) within timeout with no
        more bytes; False if bytes arrive or it stays open."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return not self.buf
        except socket.timeout:
            return False
        return data == b"" and not self.buf

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def request(port, path="/healthz", method="GET", headers=(), timeout=5.0):
    """One request on a fresh connection: (status, headers, body)."""
    c = Conn(port, timeout)
    try:
        c.send(req(path, method, headers))
        r = c.response(head=(method == "HEAD"))
        return r.status, r.headers, r.body
    finally:
        c.close()


def wait_until(cond, timeout=30.0, step=0.02):
    """Polls cond() until it returns something true, and returns that (or
    the last value).  The timeout only guards a hang."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v or time.time() >= deadline:
            return v
        time.sleep(step)


def percentile(values, p):
    v = sorted(values)
    if not v:
        return 0.0
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]
