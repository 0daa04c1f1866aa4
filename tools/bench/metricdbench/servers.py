# SPDX-License-Identifier: BSD-2-Clause
"""The servers a run measures, each started on 127.0.0.1 in its own process
group and stopped with it: metricd, nginx-light (from a temporary config
under /tmp, in the foreground; plain or TLS; bodies over 2 KiB served from
a file) and tools/bench/refserver.  And what one run cost metricd, from
two GET /stats snapshots."""

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time

from .common import BenchError
from .procs import free_port, http_get, spawn, stop, wait_port
from .sample import group_rss_kib, group_ticks, HZ, proc_maps_has


class Server:
    """What every server offers: its URLs, CPU and RSS of its process group."""
    proc = None
    port = None
    scheme = "http"

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path, work=0):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}?id=1" + (f"&work={work}" if work else "")

    def cpu_s(self):
        return group_ticks(self.proc.pid) / HZ

    def rss_kib(self):
        return group_rss_kib(self.proc.pid)


class Metricd(Server):
    """metricd with --workers N (its other settings default, no config
    file), or with workers None exactly as a user starts it: --listen only."""

    def __init__(self, binary, workers, allocator="glibc", preload=None, logdir="/tmp", extra=(),
                 nofile=None):
        self.binary, self.workers, self.allocator, self.preload = binary, workers, allocator, preload
        self.name = f"metricd-{allocator}-" + ("defaults" if workers is None else f"w{workers}")
        self.log_path = os.path.join(logdir, f"{self.name}.{int(time.time() * 1000) % 10**8}.log")
        self.extra, self.nofile = list(extra), nofile
        self.preload_loaded = None
        self.acceptors = None         # --acceptors N, when the bench set it

    def _limit(self):
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def start(self, timeout=10.0):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        if self.preload:
            env["LD_PRELOAD"] = self.preload
        if self.workers is None:
            # As a user starts it: no flag but the address (no config file
            # is read without --config), every setting its default.
            self.args = [self.binary, "--listen", f"127.0.0.1:{free_port()}", *self.extra]
        else:
            self.args = [self.binary, "--config", "/dev/null", "--listen", "127.0.0.1:0",
                         "--workers", str(self.workers), "--shutdown-timeout", "3000", *self.extra]
        self.logf = open(self.log_path, "w")
        self.proc = spawn(self.args, env=env, stderr=self.logf,
                          preexec=self._limit if self.nofile else None)
        self.port = self._wait_listening(timeout)
        if self.port is None:
            stop(self.proc)
            with open(self.log_path) as f:
                tail = f.read()[-2000:]
            raise BenchError(f"{self.name} did not start: {' '.join(self.args)}\n{tail}")
        if self.preload:
            self.preload_loaded = proc_maps_has(self.proc.pid, os.path.basename(self.preload))
            if not self.preload_loaded:
                raise BenchError(f"{self.name}: {self.preload} is not mapped into metricd")
        return self

    def _wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+) workers=(\d+)", f.read())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                return None
            time.sleep(0.02)
        return None

    def stats(self):
        status, body = http_get(self.port, "/stats")
        if status != 200:
            raise BenchError(f"{self.name}: GET /stats answered {status}")
        return json.loads(body)

    def stop(self, grace=8.0):
        rc = stop(self.proc, signal.SIGTERM, grace=grace)
        if getattr(self, "logf", None):
            self.logf.close()
        return rc

    def describe(self):
        return {"name": self.name, "workers": self.workers, "allocator": self.allocator,
                "ld_preload": self.preload or None, "preload_mapped": self.preload_loaded,
                "args": self.args, "port": self.port}


NGINX_CONF = """worker_processes {workers};
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    default_type application/json;
    client_body_temp_path {dir};
    proxy_temp_path {dir};
    fastcgi_temp_path {dir};
    uwsgi_temp_path {dir};
    scgi_temp_path {dir};
    server {{
        listen 127.0.0.1:{port}{ssl} backlog=4096;
        {certs}
        keepalive_requests {keepalive_requests};
        keepalive_timeout 120s;
        location / {{ {answer} }}
    }}
}}
"""


class Nginx(Server):
    """nginx-light in the foreground with a temporary config under /tmp,
    answering every path with `return 200` and the given body (TLS with a
    self-signed certificate made now, when tls is set).  Connections stay
    open for keepalive_requests requests (nginx's own default is 1000)."""

    def __init__(self, workers, body, tls=False, keepalive_requests=100000000):
        self.workers, self.body, self.tls = workers, body, tls
        self.keepalive_requests = keepalive_requests
        self.dir = None
        self.scheme = "https" if tls else "http"
        self.name = f"nginx-w{workers}"

    def _answer(self):
        # nginx takes a config parameter of at most 4 KiB: a longer body is
        # served from a file, for every path.
        if len(self.body) <= 2048:
            return f"return 200 '{self.body}';"
        with open(os.path.join(self.dir, "body"), "w") as f:
            f.write(self.body)
        return f"root {self.dir}; try_files /body =404;"

    def _certs(self):
        if not self.tls:
            return ""
        key, cert = os.path.join(self.dir, "key.pem"), os.path.join(self.dir, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        return f"ssl_certificate {cert}; ssl_certificate_key {key};"

    def start(self, timeout=10.0):
        if "'" in self.body or "\\" in self.body:
            raise BenchError("nginx body must not contain quotes or backslashes")
        self.dir = tempfile.mkdtemp(prefix="metricd-bench-nginx-", dir="/tmp")
        self.port = free_port()
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF.format(workers=self.workers, dir=self.dir, port=self.port,
                                      ssl=" ssl" if self.tls else "", certs=self._certs(),
                                      answer=self._answer(), keepalive_requests=self.keepalive_requests))
        self.errf = open(os.path.join(self.dir, "stderr"), "w")
        self.proc = spawn(["nginx", "-e", os.path.join(self.dir, "error.log"), "-c", self.conf,
                           "-p", self.dir], stderr=self.errf)
        if self._wait_answering(timeout):
            return self
        err = ""
        for n in ("stderr", "error.log"):
            p = os.path.join(self.dir, n)
            if os.path.exists(p):
                err += open(p).read()[-1500:]
        self.stop()
        raise BenchError(f"nginx did not start on 127.0.0.1:{self.port}:\n{err}")

    def _wait_answering(self, timeout):
        if self.tls:
            return wait_port(self.port, timeout, alive=lambda: self.proc.poll() is None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                status, body = http_get(self.port, "/metric-stack?id=1", timeout=1.0)
                if status == 200 and body.decode() == self.body:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def stop(self):
        rc = stop(self.proc, signal.SIGTERM, grace=5.0) if self.proc else None
        if getattr(self, "errf", None):
            self.errf.close()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return rc

    def describe(self):
        return {"name": self.name, "workers": self.workers, "port": self.port,
                "body_bytes": len(self.body), "tls": self.tls,
                "config": f"return 200 '<metricd body>'; access_log off; keepalive_requests {self.keepalive_requests}; "
                          "foreground (daemon off); temp config under /tmp, removed afterwards"}


class RefServer(Server):
    """tools/bench/refserver: answers every request end with fixed bytes,
    parsing nothing; for measuring load generators."""

    def __init__(self, binary):
        self.binary = binary
        self.name = "refserver"

    def start(self, timeout=10.0):
        self.port = free_port()
        self.proc = spawn([self.binary, "-p", str(self.port)])
        if not wait_port(self.port, timeout, alive=lambda: self.proc.poll() is None):
            stop(self.proc)
            raise BenchError(f"{self.binary} did not start on 127.0.0.1:{self.port}")
        return self

    def url(self, path="/", work=0):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        return stop(self.proc, signal.SIGTERM, grace=5.0)


def stats_delta(before, after, path):
    """What one run cost on the server, from two GET /stats snapshots."""
    eb, ea = before["endpoints"].get(path), after["endpoints"].get(path)
    if eb is None or ea is None:
        return None
    dreq = ea["requests"] - eb["requests"]
    d = {"requests": dreq}
    for k in ("allocs", "alloc_bytes", "frees", "cross_thread_frees"):
        d[k] = ea.get(k, 0) - eb.get(k, 0)
    ns = ea.get("allocator_ns_per_request", 0.0) * ea["requests"] - \
        eb.get("allocator_ns_per_request", 0.0) * eb["requests"]
    d["allocator_ns"] = round(ns, 1)
    if dreq > 0:
        d["allocs_per_request"] = d["allocs"] / dreq
        d["frees_per_request"] = d["frees"] / dreq
        d["bytes_per_request"] = d["alloc_bytes"] / dreq
        d["cross_thread_frees_per_request"] = d["cross_thread_frees"] / dreq
        d["allocator_ns_per_request"] = ns / dreq
    wb = {w["id"]: w for w in before.get("worker", [])}
    d["requests_per_worker"] = [w["requests"] - wb.get(w["id"], {}).get("requests", 0)
                                for w in after.get("worker", [])]
    d["wakeups_per_worker"] = [w.get("wakeups", 0) - wb.get(w["id"], {}).get("wakeups", 0)
                               for w in after.get("worker", [])]
    acc_b, acc_a = before.get("acceptor", {}), after.get("acceptor", {})
    d["acceptor"] = {k: acc_a[k] - acc_b.get(k, 0) for k in acc_a
                     if isinstance(acc_a[k], (int, float)) and k != "connections_open"}
    return d


STAT_KEYS = ("allocs_per_request", "frees_per_request", "bytes_per_request",
             "cross_thread_frees_per_request", "allocator_ns_per_request")
