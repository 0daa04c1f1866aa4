# SPDX-License-Identifier: BSD-2-Clause
"""A keep-alive HTTP/1.1 client on plain sockets, for the probes that time
single requests, and what their latencies add up to."""

import socket
import time

from .common import percentile

HOST = "127.0.0.1"


def req(path):
    return f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode()


class Conn:
    """One keep-alive connection; answers are read through a buffered file
    (status line, headers up to the blank line, Content-Length bytes)."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.rfile = self.sock.makefile("rb")

    def send(self, data):
        self.sock.sendall(data)

    def response(self):
        """(status, body) of the next response."""
        status = self.rfile.readline()
        if not status:
            raise EOFError("the server closed the connection")
        length = 0
        for line in iter(self.rfile.readline, b"\r\n"):
            if not line:
                raise EOFError("the server closed the connection in a head")
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = self.rfile.read(length)
        if len(body) < length:
            raise EOFError("the server closed the connection in a body")
        return int(status.split()[1]), body

    def get(self, path):
        self.send(req(path))
        return self.response()

    def wait_close(self):
        """Blocks until the server closes the connection (True) or sends
        something instead (False)."""
        return self.rfile.read(1) == b""

    def close(self):
        for f in (self.rfile, self.sock):
            try:
                f.close()
            except OSError:
                pass


def ask(c, port, path):
    """One request on keep-alive connection c, reconnecting once when the
    server closed it: (latency s, the connection now, answered 200)."""
    t = time.perf_counter()
    for _ in range(2):
        try:
            ok = c.get(path)[0] == 200
            return time.perf_counter() - t, c, ok
        except (OSError, EOFError):
            c.close()
            try:
                c = Conn(port, timeout=5)
            except OSError:
                return time.perf_counter() - t, c, False
    return time.perf_counter() - t, c, False


def sequential(port, seconds, path="/metric-stack?id=1"):
    """Latencies of back-to-back requests on one keep-alive connection."""
    c, lat, end = Conn(port, timeout=5), [], time.monotonic() + seconds
    while time.monotonic() < end:
        d, c, _ = ask(c, port, path)
        lat.append(d)
    c.close()
    return lat


def latency_ms(lat):
    """p50, p99 and max of latencies in seconds, in ms, and how many."""
    return {"p50_ms": percentile(lat, 50) * 1e3, "p99_ms": percentile(lat, 99) * 1e3,
            "max_ms": max(lat, default=0.0) * 1e3, "n": len(lat)}
