#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Idle workers: no spinning that does not pay, no CPU when idle, one
syscall to sleep.

  spinning that never catches work stops: --spin-us 20000 on a worker
      that may spin (--workers 1 on two CPUs or more), requests GAP_S
      apart (longer than the spin).  Before, every idle period spun its
      20 ms: about 600 ms of CPU over the MEASURED requests.  Now, once
      the first window of spins caught nothing, the worker stops spinning
      and the process uses well under LOOSE_TICKS clock ticks of CPU over
      them (/stats: spins_then_slept counted, spins_caught_work none)
  an idle server uses no CPU: under IDLE_TICKS ticks over IDLE_S seconds
  a worker with nothing parked sleeps in read(2) of its eventfd, one
      syscall (/proc/PID/task/TID/syscall); with an answer parked for a
      client that does not read, it sleeps in epoll_wait (EPOLLOUT)

CPU is counted in clock ticks from /proc/PID/stat, a count, with bounds
far from both the old behaviour and the new one: not a timing."""
import os
import platform
import socket
import threading
import time

import sys
sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from soaklib import (CLK_TCK, Conn, Server, check, finish, info, req,
                     wait_until)

SPIN_US = 20000
GAP_S = 0.03
LEARN = 40              # more than one window (workers/spin.h)
MEASURED = 30           # fewer than the backoff that follows
LOOSE_TICKS = 15        # of about 60 spinning would take
IDLE_S = 1.0
IDLE_TICKS = 5

# Syscall numbers: read, and the epoll waits.
SYSCALLS = {
    "x86_64": ({0}, {232, 281, 441}),
    "aarch64": ({63}, {22, 441}),
}


def ticks(srv):
    with open(f"/proc/{srv.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def paced(c, n, first_id):
    for i in range(n):
        c.send(req(f"/metric-stack?id={first_id + i}"))
        c.response()
        time.sleep(GAP_S)


def spin_stops():
    with Server("--workers", "1", "--spin-us", str(SPIN_US)) as srv:
        w = srv.stats()["worker"][0]
        if not w.get("spin", True):
            info(f"this machine has {len(os.sched_getaffinity(0))} CPU(s): "
                 "the worker may not spin here; spin checks not run")
            return
        c = Conn(srv.port)
        paced(c, LEARN, 0)
        t0 = ticks(srv)
        paced(c, MEASURED, LEARN)
        used = ticks(srv) - t0
        w = srv.stats()["worker"][0]
        caught, slept = w.get("spins_caught_work", 0), w.get("spins_then_slept", 0)
        info(f"{MEASURED} requests {GAP_S * 1000:.0f} ms apart: {used} tick(s) of CPU "
             f"({CLK_TCK}/s); spins caught work {caught}, then slept {slept}")
        check(used < LOOSE_TICKS, f"spinning that does not pay stopped ({used} ticks)")
        check(caught + slept >= 16 and slept > caught,
              "the spins are counted, most ended in a sleep")
        c.close()
        check(srv.stop() == 0, "exit 0")


def idle_cpu():
    with Server("--workers", "2") as srv:
        c = Conn(srv.port)
        c.send(b"".join(req(f"/metric-stack?id={i}") for i in range(200)))
        c.responses(200)
        time.sleep(0.2)                  # the last spins end
        t0 = ticks(srv)
        time.sleep(IDLE_S)
        used = ticks(srv) - t0
        info(f"idle for {IDLE_S} s: {used} tick(s) of CPU")
        check(used <= IDLE_TICKS, f"an idle server uses no CPU ({used} ticks)")
        c.close()
        srv.stop()


def syscall_of(srv, name):
    """The syscall number thread `name` is in, or None if unreadable."""
    for tid in os.listdir(f"/proc/{srv.pid}/task"):
        try:
            with open(f"/proc/{srv.pid}/task/{tid}/comm") as f:
                if f.read().strip() != name:
                    continue
            with open(f"/proc/{srv.pid}/task/{tid}/syscall") as f:
                first = f.read().split()[0]
            return int(first) if first.lstrip("-").isdigit() else None
        except OSError:
            return None
    return None


def sleeps_in_one_syscall():
    arch = platform.machine()
    if arch not in SYSCALLS:
        info(f"syscall numbers of {arch} not known here: not checked")
        return
    reads, epolls = SYSCALLS[arch]
    with Server("--workers", "1", "--max-unsent-bytes", "16384") as srv:
        c = Conn(srv.port)
        c.send(req("/healthz"))
        c.response()
        asleep = wait_until(lambda: syscall_of(srv, "metricd-w0") in reads, timeout=10)
        if syscall_of(srv, "metricd-w0") is None:
            info("/proc/PID/task/TID/syscall is not readable here: not checked")
            return
        check(asleep, f"nothing parked: the worker sleeps in read(2) "
                      f"(syscall {syscall_of(srv, 'metricd-w0')})")
        # A client that asks and does not read: once the socket buffers
        # are full (megabytes on loopback), its answers park.
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", srv.port))
        asks = b"".join(req("/metrics") for _ in range(4000))
        threading.Thread(target=lambda: s.sendall(asks), daemon=True).start()
        parked = wait_until(lambda: srv.stats()["worker"][0]
                            ["connections_with_unsent_bytes"] > 0, timeout=20)
        check(parked, "a connection has unsent bytes")
        in_epoll = wait_until(lambda: syscall_of(srv, "metricd-w0") in epolls, timeout=10)
        check(in_epoll, f"something parked: the worker sleeps in epoll_wait "
                        f"(syscall {syscall_of(srv, 'metricd-w0')})")
        s.close()
        c.close()
        srv.stop()


def main():
    spin_stops()
    idle_cpu()
    sleeps_in_one_syscall()
    finish()


if __name__ == "__main__":
    main()
