#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The live page (GET /dashboard) in a real browser.

Starts metricd, opens its page in headless Chromium and drives it through
the DevTools protocol (a small WebSocket client below: no packages beyond
Python's own).  While blast loads both paths (bounded: a rate, a
duration, and stopped once read), the figures the page rendered must
appear and move from one poll to the next; once the load has stopped they
must match GET /stats exactly - the DOM is read between two GET /stats of
the test's own, after the page has polled twice since the first, so every
counter it shows lies between the two.  The figures are read from the
rendered DOM (what the page's script wrote), never from the HTML source.

Writes a full-page screenshot taken under load, and the DOM figures, to
tests/test_dashboard.out/ (DASHBOARD_OUT overrides it; .gitignore keeps it
out of the repository).

Exit 0 pass, 1 fail, 77 skip: Chromium is missing (apt-get install
chromium); with CI set a missing Chromium fails.  Every wait has a bound
(a guard against a hang, never a measurement).
"""
import base64
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

METRICD = os.environ.get("METRICD", "./metricd")
BLAST = os.path.join(os.path.dirname(os.path.abspath(METRICD)), "blast")
OUT = os.environ.get("DASHBOARD_OUT", os.path.join("tests", "test_dashboard.out"))
PAIR = ("/metric-stack", "/metric-heap")
GUARD_S = 60          # the longest any one wait may take
WIDTH = 1280          # the browser window (CSS pixels)
failures = 0


def check(cond, what):
    global failures
    print(("ok - " if cond else "FAIL - ") + what, flush=True)
    if not cond:
        failures += 1
    return cond


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    why = "Chromium is missing (apt-get install chromium; tools/setup-deps installs it)"
    if os.environ.get("CI"):
        print(f"FAIL: {why}; CI is set: a missing tool fails")
        sys.exit(1)
    print(f"SKIP: {why}")
    sys.exit(77)


# ---- a WebSocket client, enough for the DevTools protocol (RFC 6455) ----

class WebSocket:
    def __init__(self, url):
        m = re.match(r"ws://([^/:]+):(\d+)(/.*)", url)
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=GUARD_S)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {m.group(3)} HTTP/1.1\r\nHost: {m.group(1)}:{m.group(2)}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self._recv(1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise OSError(f"WebSocket upgrade refused: {head[:200]!r}")
        self.next_id = 0

    def _recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("DevTools closed the connection")
            buf += chunk
        return buf

    def _send(self, opcode, payload):
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)        # a client masks every frame
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def message(self):
        """The next whole text message (answering pings on the way)."""
        data = b""
        while True:
            b0, b1 = self._recv(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack("!H", self._recv(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._recv(8))[0]
            payload = self._recv(n)
            opcode = b0 & 0x0f
            if opcode == 0x8:
                raise EOFError("DevTools closed the WebSocket")
            if opcode == 0x9:
                self._send(0xA, payload)
                continue
            data += payload
            if b0 & 0x80:
                return data.decode()

    def call(self, method, **params):
        self.next_id += 1
        self._send(0x1, json.dumps({"id": self.next_id, "method": method, "params": params}).encode())
        while True:
            msg = json.loads(self.message())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise OSError(f"{method}: {msg['error']}")
                return msg["result"]

    def close(self):
        self.sock.close()


# ---- the processes -----------------------------------------------------

def start_metricd():
    p = subprocess.Popen([METRICD, "--listen", "127.0.0.1:0", "--workers", "2"],
                         stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if m:
            return p, int(m.group(1))
    p.wait()
    sys.exit("metricd did not start")


def start_chromium(binary, url, profile):
    args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
            f"--user-data-dir={profile}", "--remote-debugging-port=0",
            f"--window-size={WIDTH},1000", url]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    portfile = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + GUARD_S
    while not os.path.exists(portfile) or os.path.getsize(portfile) == 0:
        if p.poll() is not None or time.monotonic() > deadline:
            raise OSError(f"Chromium did not open its DevTools port (exit {p.poll()})")
        time.sleep(0.1)
    port = int(open(portfile).read().split()[0])
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=GUARD_S) as r:
            pages = [t for t in json.load(r) if t.get("type") == "page"]
        if pages or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if not pages:
        raise OSError("Chromium has no page open")
    return p, WebSocket(pages[0]["webSocketDebuggerUrl"])


def stop(p, sig=signal.SIGTERM, group=False):
    """Signals a process we started (group: its whole process group, for
    Chromium's helpers) and waits; SIGKILL if it does not go."""
    send = (lambda s: os.killpg(p.pid, s)) if group else p.send_signal
    for s in (sig, signal.SIGKILL):
        if p.poll() is None:
            try:
                send(s)
            except OSError:
                pass
        try:
            return p.wait(timeout=GUARD_S)
        except subprocess.TimeoutExpired:
            continue
    return p.wait()


def stats(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=GUARD_S) as r:
        return json.load(r)


# ---- what the page shows -------------------------------------------------

# Every figure the page's script wrote into a cell marked with data-k (and
# data-ep or data-w), as text, plus the number of polls and of points in
# the charts.
READ_DOM = """JSON.stringify({
  polls: Number(document.getElementById('polls').textContent),
  state: document.getElementById('state').textContent,
  cells: [...document.querySelectorAll('[data-k]')].map(e => ({
    ep: e.dataset.ep || null, w: e.dataset.w === undefined ? null : Number(e.dataset.w),
    k: e.dataset.k, text: e.textContent})),
  lines: [...document.querySelectorAll('.pairs svg.rps polyline')].map(
    p => ({series: p.dataset.series, points: p.getAttribute('points').trim().split(' ').length})),
  bars: document.querySelectorAll('.pairs svg.lat rect').length
})"""


def dom(ws):
    """The figures; before the page has loaded, none (0 polls)."""
    r = ws.call("Runtime.evaluate", expression=READ_DOM, returnByValue=True)
    if "exceptionDetails" in r:
        return {"polls": 0, "state": "not loaded", "cells": [], "lines": [], "bars": 0}
    return json.loads(r["result"]["value"])


def wait_polls(ws, n):
    """Until the page has polled n more times."""
    start = dom(ws)["polls"]
    deadline = time.monotonic() + GUARD_S
    while True:
        d = dom(ws)
        if d["polls"] >= start + n:
            return d
        if time.monotonic() > deadline:
            raise OSError(f"the page polled {d['polls'] - start} times, not {n} ({d['state']})")
        time.sleep(0.2)


def cell(d, k, ep=None, w=None):
    for c in d["cells"]:
        if c["k"] == k and c["ep"] == ep and c["w"] == w:
            return c["text"]
    return None


def num(text):
    return float(text.replace(",", "").rstrip("\u00d7"))


def screenshot(ws, path):
    """The whole page, WIDTH CSS pixels wide."""
    h = ws.call("Page.getLayoutMetrics")["cssContentSize"]["height"]
    ws.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=int(h) + 1,
            deviceScaleFactor=1, mobile=False)
    png = base64.b64decode(ws.call("Page.captureScreenshot", format="png",
                                   captureBeyondViewport=True)["data"])
    with open(path, "wb") as f:
        f.write(png)
    return png


# ---- the checks ------------------------------------------------------------

# The pair's figures: the cell's key, how /stats has it, the digits shown.
FIGURES = (("requests", lambda e: e["requests"], 0),
           ("allocs_per_request", lambda e: e["allocs_per_request"], 2),
           ("bytes_per_request", lambda e: e["bytes_per_request"], 1),
           ("frees_per_request", lambda e: e["frees_per_request"], 2),
           ("cross_thread_frees_per_request", lambda e: e["cross_thread_frees_per_request"], 2),
           ("allocator_ns_per_request", lambda e: e["allocator_ns_per_request"], 1),
           ("p50", lambda e: e["latency_us"]["p50"], 1),
           ("p99", lambda e: e["latency_us"]["p99"], 1),
           ("p99_9", lambda e: e["latency_us"]["p99_9"], 1),
           ("max", lambda e: e["latency_us"]["max"], 1))


def under_load(ws, port, blast):
    """Two readings of the page while blast runs: the figures are there and
    they move."""
    d1 = wait_polls(ws, 3)
    d2 = wait_polls(ws, 2)
    running = blast.poll() is None
    check(running, "blast was still running when the second reading was taken")
    for p in PAIR:
        a, b = num(cell(d1, "requests", ep=p)), num(cell(d2, "requests", ep=p))
        check(b > a, f"{p}: the requests shown grew between two polls under load ({a:.0f} -> {b:.0f})")
        check(num(cell(d2, "rps", ep=p)) > 0, f"{p}: requests/s shown under load ({cell(d2, 'rps', ep=p)})")
    check(all(ln["points"] >= 3 for ln in d2["lines"]) and {ln["series"] for ln in d2["lines"]} >= set(PAIR),
          f"requests/s chart has a line per path with its points: {d2['lines'][:2]}")
    check(d2["bars"] >= 2 * 4, f"the latency chart has bars for both paths ({d2['bars']})")
    os.makedirs(OUT, exist_ok=True)
    png = screenshot(ws, os.path.join(OUT, "dashboard.png"))
    check(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10000,
          f"screenshot {os.path.join(OUT, 'dashboard.png')} ({len(png)} bytes)")
    with open(os.path.join(OUT, "under-load.json"), "w") as f:
        json.dump([d1, d2], f, indent=1)


def settled(ws, port):
    """After the load: /stats, two polls, the page, /stats again, until the
    pair's figures did not move in between; then (A, page, B)."""
    for _ in range(10):
        a = stats(port)
        d = wait_polls(ws, 2)
        b = stats(port)
        if all(a["endpoints"][p] == b["endpoints"][p] for p in PAIR):
            return a, d, b
    raise OSError("the measured endpoints' counters kept moving after blast stopped")


def matches_stats(a, d, b):
    for p in PAIR:
        e = a["endpoints"][p]
        for k, get, digits in FIGURES:
            shown, want = cell(d, k, ep=p), get(e)
            ok = shown is not None and abs(num(shown) - want) <= 0.5 * 10 ** -digits + 1e-9
            check(ok, f"{p} {k}: page {shown}, /stats {want}")
        check(num(cell(d, "rps", ep=p)) == 0, f"{p}: no requests/s once the load stopped")
    check(num(cell(d, "allocs_per_request", ep="/metric-heap")) == 3 and
          num(cell(d, "allocs_per_request", ep="/metric-stack")) == 0,
          "the page shows 3 allocations per heap request and none per stack request")
    lo, hi = a["endpoints"]["/stats"]["requests"], b["endpoints"]["/stats"]["requests"]
    check(lo <= num(cell(d, "requests", ep="/stats")) <= hi, f"/stats requests within [{lo}, {hi}]")
    for i, (wa, wb) in enumerate(zip(a["worker"], b["worker"])):
        shown = num(cell(d, "wakeups", w=i))
        check(wa["wakeups"] <= shown <= wb["wakeups"],
              f"worker {i}: wake-ups {shown:.0f} within [{wa['wakeups']}, {wb['wakeups']}]")
        ring = cell(d, "ring", w=i).split("/")
        check(wa["ring_high_water"] <= num(ring[1]) <= wb["ring_high_water"],
              f"worker {i}: ring high water {ring[1].strip()}")
        check(cell(d, "slab", w=i).endswith(f"{wa['slab']['size']:,}"), f"worker {i}: slab size")


def main():
    browser = chromium()
    if not os.access(BLAST, os.X_OK):
        print(f"FAIL: {BLAST} is not built")
        return 1
    srv, port = start_metricd()
    profile = tempfile.mkdtemp(prefix="metricd-dashboard.")
    chrome = ws = blast = None
    urls = os.path.join(profile, "urls")
    with open(urls, "w") as f:
        # Both pairs, so the screenshot shows both live; the checks read
        # /metric-*.
        f.writelines(f"http://127.0.0.1:{port}{p}?id=7\n"
                     for p in PAIR + ("/stats-value", "/stats-pointer"))
    try:
        chrome, ws = start_chromium(browser, f"http://127.0.0.1:{port}/dashboard", profile)
        ws.call("Runtime.enable")
        first = wait_polls(ws, 1)
        check(first["state"] == "live", f"the page says it is live ({first['state']})")
        # Bounded load on both paths in turn; stopped once read.
        blast = subprocess.Popen([BLAST, "-q", "-t1", "-c4", "-R", "4000", "-d", "30s", "--urls", urls],
                                 stdout=subprocess.DEVNULL)
        under_load(ws, port, blast)
        stop(blast, signal.SIGINT)
        matches_stats(*settled(ws, port))
        print(f"page and screenshot in {OUT}")
    except (OSError, EOFError, ValueError, KeyError) as e:
        check(False, f"{type(e).__name__}: {e}")
    finally:
        if ws:
            ws.close()
        if blast:
            stop(blast, signal.SIGINT)
        if chrome:
            stop(chrome, group=True)
        rc = stop(srv)
        shutil.rmtree(profile, ignore_errors=True)
    check(rc == 0, "metricd exits 0 on SIGTERM")
    print(f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
