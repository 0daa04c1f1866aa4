#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A cluster in a box, under faults.

In network namespaces of its own (tests/cluster/clusterlib.py: a bridge in
its own namespace, 10.213.1.0/24, no default route, nothing in the root
namespace), the test runs
  m1 m2 m3  three metricd hosts, each with its own config file (port 8080),
  lb        Debian's haproxy with dist/haproxy/metricd.cfg - the shipped
            file, only its 192.0.2. addresses, stats socket path and log
            target replaced,
  prom      Debian's prometheus with dist/prometheus/cluster.yml (its
            addresses, and 1 s intervals instead of 15 s) and the shipped
            rules,
  c1 c2     blast at a fixed open-loop rate against the balancer; their
            JSON results merged with `blast merge`,
and checks, each under that load:
  baseline       no failure; every host serves a share
  kill -9        HAProxy marks the host down (its check timings bound when);
                 failed requests at most what the host's share of the rate
                 sent during detection, plus one per connection; none after
                 detection; Prometheus shows up == 0 and MetricdDown pending
  rolling restart  SIGTERM one host at a time (metricd's drain-delay makes
                 /healthz say 503 while it still serves), the next once the
                 restarted one is READY (sd_notify) and up in HAProxy: no
                 failed request, no retry needed, and each host was out of
                 HAProxy's rotation before its listener closed
  reload         SIGHUP every host twice with a changed config file: no
                 failed request, no retry, no host marked down, the change
                 live
  SIGSTOP        a host that keeps its connections but answers nothing: out
                 by check timeouts, failures bounded as for kill -9 and none
                 after detection; back in rotation after SIGCONT
and prints every phase's figures.  Timing bounds are generous multiples of
the configured check intervals (hang guards with a meaning), never
performance claims.

Needs root (namespaces), iproute2, haproxy and prometheus: skipped (77)
without them, except that in CI (CI set) a missing package fails.
Environment: METRICD, BLAST (the built binaries), CLUSTER_REPORT (a file
to write the figures to as JSON; optional).
"""
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "soak"))
sys.path.insert(0, HERE)

from soaklib import check, finish, info, missing, skip  # noqa: E402
import clusterlib as cl                                  # noqa: E402

METRICD = os.path.abspath(os.environ.get("METRICD", "./metricd"))
BLAST = os.path.abspath(os.environ.get("BLAST", "./blast"))
HAPROXY_CFG = os.path.join(TOP, "dist", "haproxy", "metricd.cfg")
PROM_DIR = os.path.join(TOP, "dist", "prometheus")

NODES = {"lb": 2, "prom": 3, "ctl": 4, "m1": 11, "m2": 12, "m3": 13, "c1": 21, "c2": 22}
HOSTS = ("m1", "m2", "m3")
CLIENTS = ("c1", "c2")
PORT = 8080                         # the shipped server lines' port
RATE = 200                          # requests/s per client, open loop
CONNS = 32                          # connections per client
LEAD_S = 2.0                        # load before a fault
TAIL_S = 3.0                        # load after the last event of a phase
BASELINE_S = 5
GUARD_S = 30.0                      # any single wait: a hang guard


class Abort(Exception):
    pass


def duration_s(text):
    m = re.fullmatch(r"(\d+)(ms|s)?", text)
    if not m:
        raise Abort(f"cannot read the duration {text!r}")
    return int(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)


def shipped_timings(cfg):
    """The check and timeout settings of the shipped balancer config: every
    bound below is derived from them."""
    def one(pattern):
        m = re.findall(pattern, cfg, re.M)
        if len(m) != 1:
            raise Abort(f"{HAPROXY_CFG}: expected one line matching {pattern!r}, found {len(m)}")
        return m[0]

    inter, fall, rise = one(r"^\s*default-server\b.*\binter (\S+) fall (\d+) rise (\d+)")
    t = {
        "inter": duration_s(inter), "fall": int(fall), "rise": int(rise),
        "check": duration_s(one(r"^\s*timeout check (\S+)")),
        "server": duration_s(one(r"^\s*timeout server (\S+)")),
    }
    # A host refusing or answering 503 is down after `fall` failed checks,
    # the first of them at most one interval away; a frozen one when
    # `fall` checks have timed out.  Up again after `rise` good checks.
    t["down_worst"] = (t["fall"] + 1) * t["inter"]
    t["frozen_worst"] = (t["fall"] + 1) * (t["inter"] + t["check"])
    t["up_worst"] = (t["rise"] + 1) * t["inter"]
    # metricd's drain-delay: twice the slowest detection of a 503, as
    # dist/metricd.conf.example advises (3000 ms for the shipped file).
    t["drain_ms"] = int(2 * t["down_worst"] * 1000)
    return t


def haproxy_config(tmp, net):
    """dist/haproxy/metricd.cfg with this network's addresses, a stats
    socket in tmp and the log on stderr; each replacement must apply
    exactly as often as expected, so a changed file fails loudly here."""
    with open(HAPROXY_CFG) as f:
        text = f.read()
    sock = os.path.join(tmp, "haproxy.sock")
    for old, new, n in (
            ("stats socket /run/haproxy/admin.sock", f"stats socket {sock}", 1),
            ("log /dev/log local0", "log stderr format raw local0", 1)):
        if text.count(old) != n:
            raise Abort(f"{HAPROXY_CFG}: expected {n} x {old!r}")
        text = text.replace(old, new)
    text = text.replace("192.0.2.", cl.NET + ".")
    servers = re.findall(r"^\s*server (\S+) (\S+)", text, re.M)
    want = [(h, f"{net.addr(h)}:{PORT}") for h in HOSTS]
    if servers != want:
        raise Abort(f"{HAPROXY_CFG}: servers {servers}, expected {want}")
    path = os.path.join(tmp, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(text)
    return path, sock


def prometheus_config(tmp, net):
    with open(os.path.join(PROM_DIR, "cluster.yml")) as f:
        text = f.read()
    for old, new in (("scrape_interval: 15s", "scrape_interval: 1s"),
                     ("evaluation_interval: 15s", "evaluation_interval: 1s")):
        if text.count(old) != 1:
            raise Abort(f"dist/prometheus/cluster.yml: expected one {old!r}")
        text = text.replace(old, new)
    text = text.replace("192.0.2.", cl.NET + ".")
    for h in HOSTS + ("lb",):
        if net.addr(h) not in text:
            raise Abort(f"dist/prometheus/cluster.yml does not scrape {h} ({net.addr(h)})")
    path = os.path.join(tmp, "prometheus.yml")
    with open(path, "w") as f:
        f.write(text)
    for rules in ("metricd.rules.yml", "metricd.alerts.yml"):
        shutil.copy(os.path.join(PROM_DIR, rules), tmp)
    return path


class Cluster:
    def __init__(self, tmp, net, timings):
        self.tmp, self.net, self.t = tmp, net, timings
        self.hosts = {}
        self.notify = {}
        self.generation = {h: 1 for h in HOSTS}
        self.haproxy = self.prom = self.stats = None

    # ---- metricd hosts ----
    def host_config(self, h):
        path = os.path.join(self.tmp, f"{h}.conf")
        with open(path, "w") as f:
            f.write(f"# host {h} (tests/cluster/test_cluster.py)\n"
                    f"listen = {self.net.addr(h)}:{PORT}\n"
                    "workers = 1\n"
                    "no-pin = true\n"
                    f"drain-delay = {self.t['drain_ms']}\n"
                    "shutdown-timeout = 5000\n"
                    f"server-header = metricd-{h}-r{self.generation[h]}\n")
        return path

    def start_host(self, h):
        if h not in self.notify:
            self.notify[h] = cl.Notify(os.path.join(self.tmp, f"{h}.notify"))
        mark = self.notify[h].mark()
        env = dict(os.environ, NOTIFY_SOCKET=self.notify[h].path)
        env.pop("WATCHDOG_USEC", None)
        self.hosts[h] = cl.Proc(h, self.net.ns(h), [METRICD, "--config", self.host_config(h)],
                                env=env)
        if not self.notify[h].wait_for("READY=1", mark, GUARD_S):
            raise Abort(f"{h} did not report READY=1:\n  " + "\n  ".join(self.hosts[h].tail()))
        return time.time()

    def served(self):
        """Each host's /metric-stack requests, from its own /stats."""
        out = {}
        for h in HOSTS:
            s = cl.http_json(self.net.ns("ctl"), self.net.addr(h), PORT, "/stats")
            out[h] = s["endpoints"]["/metric-stack"]["requests"]
        return out

    # ---- balancer ----
    def start_haproxy(self):
        path, sock = haproxy_config(self.tmp, self.net)
        p = subprocess.run(["haproxy", "-c", "-q", "-f", path], capture_output=True, text=True)
        if p.returncode != 0:
            raise Abort(f"haproxy -c rejects the generated config: {p.stdout}{p.stderr}")
        self.haproxy = cl.Proc("haproxy", self.net.ns("lb"), ["haproxy", "-db", "-f", path])
        self.stats = cl.StatsSocket(sock)
        if not cl_wait(lambda: self.all_up() or not self.haproxy.alive(), GUARD_S) or \
                not self.haproxy.alive():
            raise Abort("haproxy did not see the three hosts up:\n  " +
                        "\n  ".join(self.haproxy.tail()))

    def stat(self):
        return self.stats.stat()

    def all_up(self):
        try:
            st = self.stat()
        except (OSError, RuntimeError):
            return False
        return all(st.get(("metricd", h), {}).get("status") == "UP" and
                   st[("metricd", h)].get("check_status") == "L7OK" for h in HOSTS)

    def wait_state(self, h, state, since):
        """When HAProxy logged that server h went DOWN or UP (time, line)."""
        r = self.haproxy.wait_line(rf"Server metricd/{h} is {state}\b", since, GUARD_S)
        if r is None:
            raise Abort(f"haproxy did not mark {h} {state} within {GUARD_S:.0f} s")
        return r[0], r[1].string

    # ---- prometheus ----
    def start_prometheus(self):
        path = prometheus_config(self.tmp, self.net)
        self.prom = cl.Proc("prometheus", self.net.ns("prom"), [
            "prometheus", f"--config.file={path}",
            f"--storage.tsdb.path={os.path.join(self.tmp, 'prom-data')}",
            f"--web.listen-address={self.net.addr('prom')}:9090"])

    def query(self, expr):
        """Prometheus's answer to expr: {instance: value}, or None."""
        q = urllib.parse.urlencode({"query": expr})
        try:
            r = cl.http_json(self.net.ns("ctl"), self.net.addr("prom"), 9090,
                             f"/api/v1/query?{q}")
        except (OSError, RuntimeError, ValueError):
            return None
        return {s["metric"].get("instance", ""): float(s["value"][1])
                for s in r["data"]["result"]}

    def wait_prometheus(self):
        want = {f"{self.net.addr(h)}:{PORT}" for h in HOSTS} | {f"{self.net.addr('lb')}:8404"}

        def scraped():
            up = self.query("up")
            return up is not None and {i for i, v in up.items() if v == 1} >= want
        if not cl_wait(scraped, 90):
            raise Abort("prometheus does not scrape the hosts and haproxy:\n  " +
                        "\n  ".join(self.prom.tail()))

    def instance(self, h):
        return f"{self.net.addr(h)}:{PORT}"

    def show_logs(self):
        for p in list(self.hosts.values()) + [self.haproxy, self.prom]:
            if p is not None:
                info(f"last lines of {p.name}:")
                for line in p.tail(15):
                    info(f"  {line}")

    def stop(self):
        """Teardown: nothing is measured any more, so no drain."""
        for p in list(self.hosts.values()) + [self.haproxy, self.prom]:
            if p is not None:
                p.stop(signal.SIGKILL)
        for n in self.notify.values():
            n.close()


def cl_wait(cond, timeout, step=0.1):
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v or time.time() >= deadline:
            return v
        time.sleep(step)


class Load:
    """blast in each client namespace at RATE requests/s, open loop, for
    `duration` or until stop() interrupts it (results so far, exit 130)."""

    def __init__(self, c, name, duration=None):
        self.c, self.name = c, name
        self.procs, self.files = {}, {}
        d = f"{duration}s" if duration else "120s"
        url = f"http://{c.net.addr('lb')}/metric-stack?id={{id}}"
        for cn in CLIENTS:
            path = os.path.join(c.tmp, f"{name}-{cn}.json")
            self.files[cn] = path
            out = open(path, "w")
            self.procs[cn] = cl.Proc(f"blast-{cn}", c.net.ns(cn), [
                BLAST, "-t1", f"-c{CONNS}", "-R", str(RATE), "-d", d, "--busy-poll", "0",
                "--timeout", "10s", "--ids", "1-1000", "-q", "--json", url], stdout=out)
            out.close()

    def stop(self, interrupt=True):
        for cn, p in self.procs.items():
            if interrupt:
                p.send(signal.SIGINT)
        for cn, p in self.procs.items():
            rc = p.wait(GUARD_S)
            if rc not in (0, 130):
                raise Abort(f"blast in {cn} ended with {rc}: {p.tail()}")
        per = {}
        for cn, path in self.files.items():
            with open(path) as f:
                per[cn] = json.load(f)["results"][0]
        m = subprocess.run([BLAST, "merge", "--json"] + list(self.files.values()),
                           capture_output=True, text=True, timeout=30)
        if m.returncode != 0:
            raise Abort(f"blast merge: {m.stderr}")
        merged = json.loads(m.stdout)["results"][0]
        return per, merged


def failed(r):
    return r["errors_total"] + sum(n for s, n in r["status"].items() if s != "200")


def row(r):
    lat = r["latency"]["percentiles_us"]
    return (f"{r['requests']} sent, {r['responses']} answered, {failed(r)} failed "
            f"(status {r['status']}, errors {r['errors_total']}), {r['unfinished']} unfinished, "
            f"{r['rps']:.0f} req/s, p50 {lat['p50'] / 1000:.2f} ms, "
            f"p99 {lat['p99'] / 1000:.2f} ms, max {r['latency']['max_us'] / 1000:.1f} ms")


def counters(st):
    be, fe = st[("metricd", "BACKEND")], st[("metricd", "FRONTEND")]
    return {"retries": int(be["wretr"] or 0), "redispatches": int(be["wredis"] or 0),
            "fe_5xx": int(fe["hrsp_5xx"] or 0)}


def delta(a, b):
    return {k: b[k] - a[k] for k in a}


# ---------------------------------------------------------------- phases

def baseline(c, report):
    before = c.served()
    st0 = counters(c.stat())
    per, merged = Load(c, "baseline", BASELINE_S).stop(interrupt=False)
    after = c.served()
    d = delta(st0, counters(c.stat()))
    served = {h: after[h] - before[h] for h in HOSTS}
    for cn in CLIENTS:
        info(f"baseline {cn}: {row(per[cn])}")
    info(f"baseline merged: {row(merged)}")
    info(f"baseline served by host: {served}")
    check(failed(merged) == 0, f"baseline: no failed request ({failed(merged)})")
    check(all(served[h] > 0 for h in HOSTS), "baseline: every host served a share")
    total = sum(served.values())
    check(merged["responses"] <= total <= merged["responses"] + merged["unfinished"],
          f"baseline: the hosts served {total} = the {merged['responses']} answers "
          f"(+ up to {merged['unfinished']} unfinished)")
    report["baseline"] = {"clients": per, "merged": merged, "served": served, "haproxy": d}


def bound_for(detect_s):
    """Failed requests a host can cause before HAProxy takes it out: its
    share of the rate over the detection time, plus one in flight on each
    connection."""
    return math.ceil(RATE * len(CLIENTS) / len(HOSTS) * detect_s) + CONNS * len(CLIENTS)


def after_detection(c, t_down):
    """Counters once every request sent before detection has ended (at
    most `timeout server` later, 2 s of margin): later failures would be
    new ones."""
    settle = t_down + c.t["server"] + 2.0
    time.sleep(max(0.0, settle - time.time()))
    return counters(c.stat())


def watch_down(c, h, mark):
    """After a fault on h: when HAProxy logged it DOWN (the line's arrival)
    and when Prometheus first answered up == 0 for it (polled every
    100 ms), watched side by side.  (t_down, line, t_prometheus or None)"""
    want = {c.instance(h): 0.0}
    t_prom = None
    deadline = time.time() + GUARD_S
    while time.time() < deadline:
        if t_prom is None and c.query(f'up{{instance="{c.instance(h)}"}}') == want:
            t_prom = time.time()
        down = c.haproxy.grep(rf"Server metricd/{h} is DOWN\b", mark)
        if down and t_prom is not None:
            break
        time.sleep(0.1)
    if not down:
        raise Abort(f"haproxy did not mark {h} DOWN within {GUARD_S:.0f} s")
    return down[0][0], down[0][1], t_prom


def kill9(c, report):
    h = "m1"
    st0 = counters(c.stat())
    load = Load(c, "kill9")
    time.sleep(LEAD_S)
    mark = c.haproxy.mark()
    t0 = time.time()
    c.hosts[h].send(signal.SIGKILL)
    c.hosts[h].wait(GUARD_S)
    t_down, line, t_prom = watch_down(c, h, mark)
    detect = t_down - t0
    prom_down = t_prom - t0 if t_prom else None
    info(f"kill -9 {h}: haproxy: {line.strip()}")
    pending = cl_wait(lambda: c.query(
        f'ALERTS{{alertname="MetricdDown",instance="{c.instance(h)}"}}'), GUARD_S)
    # The balancer's own view, through its exporter.
    active = cl_wait(lambda: list((c.query(
        'haproxy_backend_active_servers{proxy="metricd"}') or {}).values()) == [2.0], GUARD_S)
    settled = after_detection(c, t_down)
    t_restart = c.start_host(h)
    t_up, _ = c.wait_state(h, "UP", mark)
    time.sleep(TAIL_S)
    end = counters(c.stat())
    per, merged = load.stop()
    d = delta(st0, end)
    bound = bound_for(detect)
    fig = {"sent": merged["requests"], "failed": failed(merged), "bound": bound,
           "detect_s": detect, "prometheus_down_s": prom_down,
           "restart_to_up_s": t_up - t_restart, "retries": d["retries"],
           "redispatches": d["redispatches"]}
    report["kill9"] = dict(fig, clients=per, merged=merged)
    info(f"kill -9 merged: {row(merged)}")
    check(detect <= 4 * c.t["down_worst"],
          f"kill -9: haproxy marked {h} down {detect:.2f} s after the kill "
          f"(checks say within {c.t['down_worst']:.1f} s; bound 4x)")
    check(fig["failed"] <= bound, f"kill -9: {fig['failed']} failed requests <= {bound} "
          f"(the host's share of {RATE * len(CLIENTS)} req/s over {detect:.2f} s + "
          f"{CONNS * len(CLIENTS)} in flight)")
    check(merged["errors_total"] == 0 and fig["failed"] == d["fe_5xx"],
          f"kill -9: each failure is a 5xx HAProxy answered ({fig['failed']} vs {d['fe_5xx']})")
    check(end["fe_5xx"] == settled["fe_5xx"],
          f"kill -9: no failure among requests sent after detection "
          f"({end['fe_5xx'] - settled['fe_5xx']})")
    check(prom_down is not None, f"kill -9: prometheus shows up == 0 for {h} "
          f"({prom_down or 0:.1f} s after)")
    check(bool(pending), f"kill -9: prometheus has the MetricdDown alert for {h}")
    check(bool(active), "kill -9: prometheus shows haproxy_backend_active_servers == 2")
    return fig


def rolling_restart(c, report):
    st0 = counters(c.stat())
    load = Load(c, "rolling")
    time.sleep(LEAD_S)
    steps = {}
    for h in HOSTS:
        mark_lb, mark_h = c.haproxy.mark(), c.hosts[h].mark()
        t0 = time.time()
        c.hosts[h].send(signal.SIGTERM)
        t_down, _ = c.wait_state(h, "DOWN", mark_lb)
        r = c.hosts[h].wait_line(r"SIGTERM: draining", mark_h, GUARD_S)
        if r is None:
            raise Abort(f"{h} did not start draining: {c.hosts[h].tail()}")
        t_drain = r[0]
        rc = c.hosts[h].wait(GUARD_S)
        t_exit = time.time()
        check(rc == 0, f"rolling restart: {h} exited 0 after SIGTERM ({rc})")
        check(t_down < t_drain,
              f"rolling restart: haproxy took {h} out {t_down - t0:.2f} s after SIGTERM, "
              f"before its listener closed ({t_drain - t0:.2f} s)")
        t_ready = c.start_host(h)
        t_up, _ = c.wait_state(h, "UP", mark_lb)
        steps[h] = {"down_s": t_down - t0, "drain_s": t_drain - t0, "exit_s": t_exit - t0,
                    "ready_to_up_s": t_up - t_ready, "total_s": t_up - t0}
        info(f"rolling restart {h}: " + ", ".join(f"{k} {v:.2f}" for k, v in steps[h].items()))
    time.sleep(TAIL_S)
    d = delta(st0, counters(c.stat()))
    per, merged = load.stop()
    info(f"rolling restart merged: {row(merged)}")
    fig = {"sent": merged["requests"], "failed": failed(merged), "steps": steps,
           "retries": d["retries"], "redispatches": d["redispatches"]}
    report["rolling"] = dict(fig, clients=per, merged=merged)
    check(fig["failed"] == 0, f"rolling restart: no failed request ({fig['failed']} of "
          f"{fig['sent']})")
    # With drain-delay nothing is refused, so HAProxy never had to retry.
    check(d["retries"] == 0 and d["redispatches"] == 0,
          f"rolling restart: no retry needed (retries {d['retries']}, "
          f"redispatches {d['redispatches']})")
    return fig


def reload_all(c, report):
    st0 = counters(c.stat())
    mark_lb = c.haproxy.mark()
    load = Load(c, "reload")
    time.sleep(LEAD_S)
    reloads = 0
    for _ in range(2):
        for h in HOSTS:
            c.generation[h] += 1
            c.host_config(h)
            mark = c.hosts[h].mark()
            c.hosts[h].send(signal.SIGHUP)
            if c.hosts[h].wait_line(r"reloaded .*generation", mark, GUARD_S) is None:
                raise Abort(f"{h} did not reload: {c.hosts[h].tail()}")
            reloads += 1
            time.sleep(0.3)
    time.sleep(TAIL_S)
    d = delta(st0, counters(c.stat()))
    per, merged = load.stop()
    info(f"reload merged: {row(merged)}")
    fig = {"sent": merged["requests"], "failed": failed(merged), "reloads": reloads,
           "retries": d["retries"], "redispatches": d["redispatches"]}
    report["reload"] = dict(fig, clients=per, merged=merged)
    check(fig["failed"] == 0, f"reload: {reloads} SIGHUPs, no failed request "
          f"({fig['failed']} of {fig['sent']})")
    check(d["retries"] == 0 and d["redispatches"] == 0, "reload: no retry needed")
    check(not c.haproxy.grep(r"Server metricd/\S+ is DOWN", mark_lb),
          "reload: haproxy never marked a host down")
    for h in HOSTS:
        _, hdr, _ = cl.http_get(c.net.ns("ctl"), c.net.addr(h), PORT, "/healthz")
        want = f"metricd-{h}-r{c.generation[h]}"
        check(hdr.get("server") == want, f"reload: {h} answers with the new Server "
              f"header {want} ({hdr.get('server')})")
    return fig


def sigstop(c, report):
    h = "m2"
    st0 = counters(c.stat())
    load = Load(c, "sigstop")
    time.sleep(LEAD_S)
    mark = c.haproxy.mark()
    t0 = time.time()
    c.hosts[h].send(signal.SIGSTOP)
    try:
        t_down, line, t_prom = watch_down(c, h, mark)
        detect = t_down - t0
        prom_down = t_prom - t0 if t_prom else None
        info(f"SIGSTOP {h}: haproxy: {line.strip()}")
        settled = after_detection(c, t_down)
    finally:
        t_cont = time.time()
        c.hosts[h].send(signal.SIGCONT)
    t_up, _ = c.wait_state(h, "UP", mark)
    recover = t_up - t_cont
    time.sleep(TAIL_S)
    end = counters(c.stat())
    per, merged = load.stop()
    d = delta(st0, end)
    bound = bound_for(detect)
    info(f"SIGSTOP merged: {row(merged)}")
    fig = {"sent": merged["requests"], "failed": failed(merged), "bound": bound,
           "detect_s": detect, "prometheus_down_s": prom_down, "recover_s": recover,
           "retries": d["retries"], "redispatches": d["redispatches"]}
    report["sigstop"] = dict(fig, clients=per, merged=merged)
    check(detect <= 4 * c.t["frozen_worst"],
          f"SIGSTOP: haproxy marked {h} down {detect:.2f} s after it froze (check "
          f"timeouts say within {c.t['frozen_worst']:.1f} s; bound 4x)")
    check(fig["failed"] <= bound, f"SIGSTOP: {fig['failed']} failed requests <= {bound}")
    check(merged["errors_total"] == 0 and fig["failed"] == d["fe_5xx"],
          f"SIGSTOP: each failure is a 5xx HAProxy answered ({fig['failed']} vs {d['fe_5xx']})")
    check(end["fe_5xx"] == settled["fe_5xx"],
          f"SIGSTOP: no failure among requests sent after detection "
          f"({end['fe_5xx'] - settled['fe_5xx']})")
    check(prom_down is not None, f"SIGSTOP: prometheus shows up == 0 for {h} "
          f"({prom_down or 0:.1f} s after)")
    check(recover <= 4 * c.t["up_worst"],
          f"SIGSTOP: {h} up again {recover:.2f} s after SIGCONT (checks say within "
          f"{c.t['up_worst']:.1f} s; bound 4x)")
    return fig


def summary(report):
    info("---- figures (requests at %d req/s over %d clients x %d connections)"
         % (RATE * len(CLIENTS), len(CLIENTS), CONNS))
    b = report.get("baseline")
    if b:
        info(f"baseline         {b['merged']['requests']:6d} sent  {failed(b['merged']):4d} failed"
             f"   served by host {b['served']}")
    for key, name in (("kill9", "kill -9 m1"), ("rolling", "rolling restart"),
                      ("reload", "reload (SIGHUP)"), ("sigstop", "SIGSTOP m2")):
        f = report.get(key)
        if not f:
            continue
        parts = [f"{f['sent']:6d} sent", f"{f['failed']:4d} failed"]
        if "bound" in f:
            parts.append(f"(bound {f['bound']})")
        for k, label in (("detect_s", "detected"), ("prometheus_down_s", "prometheus up==0"),
                         ("restart_to_up_s", "restart->up"), ("recover_s", "SIGCONT->up")):
            if f.get(k) is not None:
                parts.append(f"{label} {f[k]:.2f} s")
        if "steps" in f:
            parts.append("per host out/in " + ", ".join(
                f"{h} {s['down_s']:.2f}/{s['total_s']:.2f} s" for h, s in f["steps"].items()))
        parts.append(f"retries {f['retries']} redispatches {f['redispatches']}")
        info(f"{name:16s} " + "  ".join(parts))


# ---------------------------------------------------------------- setup

def preflight():
    if os.geteuid() != 0:
        skip("network namespaces need root")
    if not shutil.which("ip"):
        missing("ip not found (apt-get install iproute2)")
    for tool, pkg in (("haproxy", "haproxy"), ("prometheus", "prometheus")):
        if not shutil.which(tool):
            missing(f"{tool} not found (apt-get install {pkg}; tools/setup-deps installs it)")
    for b in (METRICD, BLAST):
        if not os.access(b, os.X_OK):
            print(f"FAIL - {b} is not built (set METRICD and BLAST)", flush=True)
            sys.exit(1)
    gone = cl.reap_leftovers()
    if gone:
        info(f"removed what an earlier run left: {' '.join(gone)}")
    probe = f"{cl.PREFIX}{os.getpid()}-probe"
    p = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if p.returncode != 0:
        skip(f"cannot create network namespaces here: {p.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)


def check_isolation(net, root_before):
    for node in NODES:
        routes = net.routes(node)
        bad = [l for l in routes.splitlines() if l.startswith("default")]
        check(not bad, f"{node}: no default route ({bad})")
    now = cl.root_view()
    for k in root_before:
        check(now[k] == root_before[k], f"the root namespace's {k} are unchanged")


def on_signal(signum, frame):
    """SIGTERM (a timeout) or SIGINT, even where the shell that started
    the test ignores it: end through the teardown."""
    raise SystemExit(f"ended by {signal.Signals(signum).name}")


def main():
    preflight()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    try:
        with open(HAPROXY_CFG) as f:
            timings = shipped_timings(f.read())
    except (Abort, OSError) as e:
        check(False, str(e))
        finish()
    info(subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.splitlines()[0])
    v = subprocess.run(["prometheus", "--version"], capture_output=True, text=True)
    info((v.stdout + v.stderr).splitlines()[0])
    info("check timings from dist/haproxy/metricd.cfg: " +
         ", ".join(f"{k} {v}" for k, v in timings.items()))
    root_before = cl.root_view()
    tmp = tempfile.mkdtemp(prefix=cl.tmp_prefix())
    net = cl.Net(NODES)
    c = Cluster(tmp, net, timings)
    report = {"rate_per_client": RATE, "clients": len(CLIENTS), "connections_per_client": CONNS,
              "timings": timings}
    t_start = time.time()
    try:
        net.up()
        c.start_prometheus()            # the slowest to start: first
        for h in HOSTS:
            c.start_host(h)
        c.start_haproxy()
        c.wait_prometheus()
        info(f"cluster up in {time.time() - t_start:.1f} s: hosts "
             + ", ".join(f"{h} {net.addr(h)}:{PORT}" for h in HOSTS)
             + f"; haproxy {net.addr('lb')}:80; prometheus {net.addr('prom')}:9090")
        check_isolation(net, root_before)
        baseline(c, report)
        kill9(c, report)
        rolling_restart(c, report)
        reload_all(c, report)
        sigstop(c, report)
    except Abort as e:
        check(False, str(e))
        c.show_logs()
    except Exception:
        check(False, "the test itself failed:\n" + traceback.format_exc())
        c.show_logs()
    finally:
        c.stop()
        net.down()
        left = [n for n in cl.namespaces() if n.startswith(net.tag + "-")]
        check(not left, f"every namespace of this run is gone ({left})")
        check(cl.root_view() == root_before, "the root namespace is as it was")
        shutil.rmtree(tmp, ignore_errors=True)
    summary(report)
    info(f"whole test: {time.time() - t_start:.0f} s")
    out = os.environ.get("CLUSTER_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump(report, f, indent=1)
    finish()


if __name__ == "__main__":
    main()
