# SPDX-License-Identifier: BSD-2-Clause
"""A small network in namespaces for tests/cluster/test_cluster.py.

Nodes are network namespaces named PREFIX<pid>-<node>; each has one veth
(eth0, an address in NET.0/24, no route but that network's own) whose other
end sits on a bridge in a namespace of its own (-sw).  Nothing is added to
the root namespace: the veths are created inside -sw and their peers moved
straight into the nodes, there is no default route and no NAT, so no
packet can leave.  Processes run in a node with `ip netns exec`; the test
itself talks to the nodes over sockets made inside a node's namespace
(ns_connect), never through the root namespace.

Teardown (Net.down) kills every process left in our namespaces and deletes
them; reap_leftovers() does the same for a run of this test that died
without its teardown (its pid, in the names, is gone) and removes its
temporary directory.
"""
import ctypes
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

PREFIX = "mdcl"
NET = "10.213.1"
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args, ns=None, check=True):
    cmd = ["ip"] + (["-n", ns] if ns else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip()}")
    return p.stdout


def namespaces():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                         timeout=30).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _kill_and_delete(names):
    for ns in names:
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                              text=True, timeout=30).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
    for ns in names:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def _gone(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return False                        # that run is still going


def tmp_prefix():
    return f"metricd-cluster-{os.getpid()}-"


def reap_leftovers():
    """What an earlier run of this test left when it was killed before its
    teardown (its pid, in the names, is gone): the processes in its
    namespaces are killed, the namespaces deleted, its temporary directory
    removed.  Returns the names."""
    dead = [ns for ns in namespaces()
            if re.fullmatch(PREFIX + r"\d+-[a-z0-9]+", ns) and _gone(ns[len(PREFIX):].split("-")[0])]
    _kill_and_delete(dead)
    tmp = tempfile.gettempdir()
    for d in os.listdir(tmp):
        m = re.fullmatch(r"metricd-cluster-(\d+)-\w+", d)
        if m and _gone(m.group(1)):
            shutil.rmtree(os.path.join(tmp, d), ignore_errors=True)
            dead.append(os.path.join(tmp, d))
    return dead


def root_view():
    """The root namespace's addresses, routes and links, to compare."""
    return {
        "addresses": ip("-o", "address", "show"),
        "routes": ip("-4", "route", "show", "table", "all") +
        ip("-6", "route", "show", "table", "all"),
        "links": "\n".join(sorted(re.sub(r"^\d+: ", "", l).split(":")[0]
                                  for l in ip("-o", "link", "show").splitlines())),
    }


class Net:
    """The namespaces and their wiring.  nodes: name -> last octet."""

    def __init__(self, nodes):
        self.tag = f"{PREFIX}{os.getpid()}"
        self.nodes = dict(nodes)
        self.made = []

    def ns(self, node):
        return f"{self.tag}-{node}"

    def addr(self, node):
        return f"{NET}.{self.nodes[node]}"

    def _add_ns(self, name):
        ip("netns", "add", name)
        self.made.append(name)

    def up(self):
        sw = self.ns("sw")
        self._add_ns(sw)
        ip("link", "add", "br0", "type", "bridge", ns=sw)
        ip("link", "set", "br0", "up", ns=sw)
        for node in self.nodes:
            ns = self.ns(node)
            self._add_ns(ns)
            port = f"p-{node}"
            ip("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns,
               ns=sw)
            ip("link", "set", port, "master", "br0", "up", ns=sw)
            ip("address", "add", f"{self.addr(node)}/24", "dev", "eth0", ns=ns)
            ip("link", "set", "eth0", "up", ns=ns)

    def routes(self, node):
        return ip("-4", "route", "show", "table", "all", ns=self.ns(node)) + \
            ip("-6", "route", "show", "table", "all", ns=self.ns(node))

    def down(self):
        _kill_and_delete(list(reversed(self.made)))
        self.made = []


def ns_connect(ns, host, port, timeout):
    """A TCP connection made inside namespace ns (from a thread that joins
    it: a namespace is per thread, and a socket keeps the one it was made
    in)."""
    out = {}

    def body():
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns {ns}: {os.strerror(e)}")
            finally:
                os.close(fd)
            out["sock"] = socket.create_connection((host, port), timeout)
        except OSError as e:
            out["err"] = e

    t = threading.Thread(target=body)
    t.start()
    t.join()
    if "err" in out:
        raise out["err"]
    return out["sock"]


class _NsHTTP(http.client.HTTPConnection):
    def __init__(self, ns, host, port, timeout):
        super().__init__(host, port, timeout=timeout)
        self.ns = ns

    def connect(self):
        self.sock = ns_connect(self.ns, self.host, self.port, self.timeout)


def http_get(ns, host, port, path, timeout=5.0):
    """GET from inside namespace ns: (status, headers, body)."""
    c = _NsHTTP(ns, host, port, timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        c.close()


def http_json(ns, host, port, path, timeout=5.0):
    status, _, body = http_get(ns, host, port, path, timeout)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status}")
    return json.loads(body)


class Proc:
    """A process in a namespace.  Its stderr (and stdout unless given a
    file) is read by a thread; each line is kept with the wall-clock time it
    arrived, so the test can say when something happened."""

    def __init__(self, name, ns, argv, env=None, stdout=None):
        self.name = name
        self.lines = []                 # (time.time(), line)
        self.cond = threading.Condition()
        cmd = ["ip", "netns", "exec", ns] + list(argv)
        # A session of its own: a Ctrl-C on the terminal reaches only the
        # test, which then stops everything itself.
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else subprocess.PIPE,
            stderr=subprocess.STDOUT if stdout is None else subprocess.PIPE,
            env=env, start_new_session=True)
        self.pid = self.proc.pid        # `ip netns exec` execs the command
        stream = self.proc.stdout if stdout is None else self.proc.stderr
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream):
        for raw in stream:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.cond:
                self.lines.append((time.time(), line))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.lines)

    def wait_line(self, pattern, since=0, timeout=30.0):
        """The first line from index since that matches: (time, match), or
        None when none came within timeout (a hang guard)."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        i = since
        with self.cond:
            while True:
                while i < len(self.lines):
                    t, line = self.lines[i]
                    m = rx.search(line)
                    if m:
                        return t, m
                    i += 1
                left = deadline - time.time()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return None
                self.cond.wait(min(left, 0.2))

    def grep(self, pattern, since=0):
        rx = re.compile(pattern)
        with self.cond:
            return [(t, l) for t, l in self.lines[since:] if rx.search(l)]

    def tail(self, n=20):
        with self.cond:
            return [l for _, l in self.lines[-n:]]

    def send(self, sig):
        if self.proc.poll() is None:
            os.kill(self.pid, sig)

    def alive(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """sig, then SIGKILL if it has not exited within timeout; a stopped
        (SIGSTOP) process is continued first.  Returns the exit status."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGCONT)
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            if self.wait(timeout) is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode


class Notify:
    """The service manager's end of sd_notify(3): metricd sends READY=1,
    STOPPING=1, STATUS=... to this datagram socket ($NOTIFY_SOCKET).  A
    thread reads it all the time, as systemd does: metricd's acceptor
    thread sends a STATUS= every second and would block on a full queue."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.msgs = []
        self.cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        while True:
            try:
                msg = self.sock.recv(4096).decode(errors="replace")
            except OSError:
                return
            with self.cond:
                self.msgs.append(msg.split("\n"))
                self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.msgs)

    def wait_for(self, key, since, timeout):
        """True once a message from index since carries the line key."""
        deadline = time.time() + timeout
        i = since
        with self.cond:
            while True:
                while i < len(self.msgs):
                    if key in self.msgs[i]:
                        return True
                    i += 1
                left = deadline - time.time()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.2))

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


class StatsSocket:
    """HAProxy's stats socket (a path: the same from every namespace)."""

    def __init__(self, path):
        self.path = path

    def command(self, cmd, timeout=5.0):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.path)
            s.sendall(cmd.encode() + b"\n")
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks).decode(errors="replace")
        finally:
            s.close()

    def stat(self):
        """`show stat` as {(proxy, server): {field: value}}."""
        lines = self.command("show stat").splitlines()
        if not lines or not lines[0].startswith("# "):
            raise RuntimeError(f"show stat: {lines[:2]}")
        names = lines[0][2:].split(",")
        out = {}
        for line in lines[1:]:
            if not line:
                continue
            row = dict(zip(names, line.split(",")))
            out[(row["pxname"], row["svname"])] = row
        return out
