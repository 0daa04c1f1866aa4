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
    passes (the configuration is valid; the limit is the system's).
"""
import os
import resource
import subprocess
import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import METRICD, Conn, Server, check, finish, req

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
    finish()


if __name__ == "__main__":
    main()
