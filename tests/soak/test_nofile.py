#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The file-descriptor limit at start.

metricd raises its soft RLIMIT_NOFILE to the hard limit, and when
--max-conns plus its reserve still does not fit, it says so once, with the
numbers, instead of failing accept() with EMFILE later:
  - soft 256, hard 512, --max-conns 10240: the soft limit becomes 512
    (/proc/PID/limits) and one warning names 10240 and 512;
  - soft 256, hard 4096, --max-conns 1000: the soft limit becomes 4096 and
    nothing is said;
  - metricd -t under the low limit prints the same warning and still
    passes (the configuration is valid; the limit is the system's);
  - a start with too few descriptors for its own sockets, eventfds and
    epoll sets, at every limit from 4 up to where it starts (one and two
    shards): each start that fails exits 1 with a message and is never
    killed by a signal (a failure after the workers had started used to
    free them while they ran: a segfault); each that starts serves and
    exits 0 on SIGTERM.  Under ASan the leak check is off for these runs:
    it needs descriptors of its own.
"""
import os
import re
import resource
import subprocess
import sys
import time
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import METRICD, Conn, Server, check, finish, req, sanitized

WARNING = "needs about"


def limits(pid):
    """(soft, hard) of 'Max open files' in /proc/PID/limits."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    return None


def served(srv):
    c = Conn(srv.port, timeout=30)
    try:
        c.send(req())
        return c.response().status == 200
    finally:
        c.close()


def start_starved(limit, args, serve=False):
    """metricd under RLIMIT_NOFILE = limit: ("started", served, exit status
    after SIGTERM) or ("failed", exit status, its last stderr line).  A
    start with just enough descriptors may have none left to accept with
    (it then waits for one to close), so only serve=True tries a request."""
    env = dict(os.environ)
    if sanitized() == "address":
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    p = subprocess.Popen([METRICD, "--config", os.devnull, "--listen", "127.0.0.1:0",
                          "--max-conns", "4", *args], stderr=subprocess.PIPE, text=True,
                         env=env, preexec_fn=lambda: resource.setrlimit(
                             resource.RLIMIT_NOFILE, (limit, limit)))
    lines = []
    for line in p.stderr:                 # ends when metricd exits
        lines.append(line.rstrip("\n"))
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if m:
            ok = None
            try:
                if serve:
                    c = Conn(int(m.group(1)), timeout=30)
                    c.send(req())
                    ok = c.response().status == 200
                    c.close()
            finally:
                p.terminate()
            p.stderr.read()
            return "started", ok, p.wait(30)
    return "failed", p.wait(30), lines[-1] if lines else ""


def starved_starts():
    for args in (("--workers", "2"), ("--workers", "2", "--acceptors", "2")):
        what = " ".join(args)
        failed, started, bad = 0, 0, []
        t0 = time.time()
        for limit in range(4, 64):
            r = start_starved(limit, args)
            if r[0] == "failed":
                failed += 1
                if r[1] != 1 or not r[2]:
                    bad.append(f"limit {limit}: exit {r[1]}, {r[2]!r}")
                continue
            started += 1
            if r[2] != 0:
                bad.append(f"limit {limit}: started, exit {r[2]} on SIGTERM")
            if started == 3:
                break
        r = start_starved(limit + 16, args, serve=True)
        check(failed >= 3 and started == 3 and not bad and r[:3] == ("started", True, 0),
              f"{what}: {failed} starts short of descriptors exit 1 with a message, "
              f"the next 3 start and exit 0, with 16 more it serves "
              f"({time.time() - t0:.1f} s): {bad} {r}")


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4096:
        # lowering the hard limit is always allowed, raising it is not
        print(f"SKIP: this shell's hard fd limit is {hard} (< 4096)")
        sys.exit(77)

    with Server("--workers", "2", "--max-conns", "10240", nofile=(256, 512)) as srv:
        check(served(srv), "metricd serves under a low fd limit")
        check(limits(srv.pid) == (512, 512),
              f"the soft limit was raised to the hard one: {limits(srv.pid)}")
        warnings = [l for l in srv.log if WARNING in l]
        check(len(warnings) == 1, f"one warning ({len(warnings)})")
        w = warnings[0] if warnings else ""
        check("[warn]" in w and "max-conns 10240" in w and "the limit is 512" in w
              and "soft 256 at start" in w, f"the warning has the numbers: {w!r}")
        check(srv.stop() == 0, "metricd exits 0 on SIGTERM")
        check(not srv.sanitizer_reports(), "no sanitizer reports")

    with Server("--workers", "2", "--max-conns", "1000", nofile=(256, 4096)) as srv:
        check(served(srv), "metricd serves")
        check(limits(srv.pid) == (4096, 4096),
              f"the soft limit was raised to the hard one: {limits(srv.pid)}")
        check(not any(WARNING in l for l in srv.log),
              "no warning when max-conns fits: " + " | ".join(srv.log[-3:]))
        check(srv.stop() == 0, "metricd exits 0 on SIGTERM")

    p = subprocess.run([METRICD, "-t", "--config", os.devnull, "--max-conns", "10240"],
                       capture_output=True, text=True, timeout=60,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                             (256, 512)))
    check(p.returncode == 0, f"metricd -t passes under the low limit (exit {p.returncode})")
    check(WARNING in p.stderr and "the limit is 512" in p.stderr,
          f"metricd -t shows the warning: {p.stderr.strip()!r}")
    starved_starts()
    finish()


if __name__ == "__main__":
    main()
