# SPDX-License-Identifier: BSD-2-Clause
"""Child processes: each in its own process group (its id is the group id),
bounded in time, and killed with its whole group when it is stopped, when
the bench ends, is interrupted or fails."""

import atexit
import ctypes
import http.client
import os
import resource
import signal
import socket
import subprocess
import time

_children = []
_libc = None


def _child_setup():
    # Die with the bench: PR_SET_PDEATHSIG(SIGKILL).
    try:
        _libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def _preexec():
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True)
        except OSError:
            _libc = False
    return _child_setup if _libc else None


def spawn(args, env=None, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec=None):
    """A child in its own process group, killed with the whole group by
    stop() or at exit.  preexec runs in the child before the exec."""
    setup = _preexec()

    def both():
        if setup:
            setup()
        preexec()
    p = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                         stderr=stderr, start_new_session=True,
                         preexec_fn=both if preexec else setup)
    _children.append(p)
    return p


def _killpg(p, sig):
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop(p, sig=signal.SIGTERM, grace=10.0):
    """Stops p (sig, then SIGKILL after grace seconds) and what is left of
    its group (nginx workers when the master died first); its exit status."""
    if p is None:
        return None
    if p.poll() is None:
        _killpg(p, sig)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            _killpg(p, signal.SIGKILL)
            p.wait(5)
    _killpg(p, signal.SIGKILL)
    if p in _children:
        _children.remove(p)
    return p.returncode


def stop_all():
    for p in list(_children):
        try:
            stop(p, signal.SIGTERM, grace=3.0)
        except Exception:
            pass


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


def install_cleanup():
    """Children die with the bench; nginx lives in /usr/sbin; 1000 idle
    connections need the fds, in this process and in metricd."""
    atexit.register(stop_all)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    if os.path.isdir("/usr/sbin") and "/usr/sbin" not in os.environ.get("PATH", "").split(":"):
        os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY or hard > 65536 else hard
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass


def run_bounded(args, timeout, env=None, cwd=None, input_text=None):
    """Runs a command to completion or kills its group after `timeout`
    seconds.  Returns (rc, stdout, stderr, seconds); rc 124 on timeout."""
    t0 = time.monotonic()
    p = subprocess.Popen(args, env=env, cwd=cwd,
                         stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, preexec_fn=_preexec())
    _children.append(p)
    try:
        out, err = p.communicate(input_text, timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        _killpg(p, signal.SIGKILL)
        out, err = p.communicate()
        rc = 124
    finally:
        if p in _children:
            _children.remove(p)
    return rc, out or "", err or "", time.monotonic() - t0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10.0, alive=lambda: True):
    """True once 127.0.0.1:port accepts a connection (while alive())."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and alive():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def http_get(port, path, timeout=5.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()
