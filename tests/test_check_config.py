#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""metricd -t / --check-config: flags and config file parsed, the checks
that need the system done, the verdict printed, exit 0 or 2, nothing
started.  While the test holds the address -t is given, so a -t that bound
would fail."""
import os
import socket
import subprocess
import sys
import tempfile

METRICD = os.environ.get("METRICD", "./metricd")
failures = 0


def check(cond, what):
    global failures
    print(("ok - " if cond else "FAIL - ") + what, flush=True)
    failures += 0 if cond else 1


def run(*args):
    return subprocess.run([METRICD, *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def conf(d, name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def main():
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    addr = f"127.0.0.1:{held.getsockname()[1]}"
    with tempfile.TemporaryDirectory() as d:
        good = conf(d, "good.conf", f"# ok\nworkers = 2\nlisten = {addr}\n"
                    f"access-log = {d}/access.log\n")
        for flag in ("-t", "--check-config"):
            p = run(flag, "--config", good)
            check(p.returncode == 0, f"{flag}: a good file passes (exit {p.returncode}, "
                                     f"stderr {p.stderr.strip()!r})")
            check(p.stdout == f"metricd: configuration {good} ok\n",
                  f"{flag}: says so: {p.stdout!r}")
            check("listening" not in p.stderr, f"{flag}: starts nothing")
        p = run("-t", "--config", good, "--listen", addr, "-w", "3")
        check(p.returncode == 0, "flags next to -t are checked with the file")
        p = run("-tw", "2", "--config", good)
        check(p.returncode == 0, "-t in a cluster of short options")

        bad = conf(d, "bad.conf", "workers = 2\n\nbogus = 1\n")
        p = run("-t", "--config", bad)
        check(p.returncode == 2, f"an unknown key fails (exit {p.returncode})")
        check(f"{bad}:3: unknown key 'bogus'" in p.stderr, f"FILE:LINE: key: {p.stderr!r}")
        check(p.stdout == "", "nothing on stdout when the test fails")

        bad = conf(d, "value.conf", "# x\nworkers = many\n")
        p = run("-t", "--config", bad)
        check(p.returncode == 2 and f"{bad}:2: workers: 'many'" in p.stderr,
              f"a bad value fails with FILE:LINE: {p.stderr!r}")

        p = run("-t", "--config", os.path.join(d, "missing.conf"))
        check(p.returncode == 2 and "missing.conf" in p.stderr,
              f"a missing --config file fails: {p.stderr!r}")

        p = run("-t", "--config", good, "--workers", "0")
        check(p.returncode == 2 and "--workers" in p.stderr,
              f"a bad flag fails: {p.stderr!r}")

        # Where the threads go: -t checks it, and so does a real start.
        p = run("-t", "--config", good, "--acceptor-cpu", "0")
        check(p.returncode == 0, f"-t --acceptor-cpu 0 passes (exit {p.returncode}, "
                                 f"{p.stderr.strip()!r})")
        for args in (("--acceptors", "3", "--workers", "2"), ("--acceptor-cpu", "1023")):
            p = run("--listen", "127.0.0.1:0", *args)
            check(p.returncode == 2 and "metricd: --" in p.stderr and "listening" not in p.stderr,
                  f"a start with {' '.join(args)} exits 2 before listening: "
                  f"{p.returncode} {p.stderr.strip()!r}")

        # The checks that need the system (cfg_check_system).
        nolog = conf(d, "nolog.conf", f"access-log = {d}/no/such/dir/access.log\n")
        p = run("-t", "--config", nolog)
        check(p.returncode == 2 and "--access-log: cannot open" in p.stderr
              and "configuration test failed" in p.stderr,
              f"an access log that cannot be opened fails: {p.stderr!r}")
        p = run("-t", "--config", good, "--cpus", "1023")
        check(p.returncode == 2 and "--cpus: CPU 1023" in p.stderr,
              f"a CPU this process may not use fails: {p.stderr!r}")

        p = run("--help")
        check("-t, --check-config" in p.stdout, "--help lists -t, --check-config")
    held.close()
    if failures:
        print(f"{failures} check(s) failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
