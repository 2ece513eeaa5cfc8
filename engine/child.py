"""Child processes, one way: start one in its own session, wait until it is ready, stop it.

Used by `slt up`'s services, the test harnesses and the benchmarks alike. A child runs in its own
process group with the Linux parent-death signal set, so it gets SIGTERM if we die (best effort);
stopping sends SIGTERM to the whole group, waits, then SIGKILLs what is left, so no orphan survives.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from engine.core.errors import SltError

Output = int | IO[bytes] | IO[str] | None


class ChildFailed(SltError):
    """A child process exited or did not become ready in time."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def answers(url: str, timeout: float = 2.0) -> bool:
    """True if `url` answers 2xx (a health or ping endpoint)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (our own loopback URL)
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def log_tail(path: Path | None, lines: int = 15) -> str:
    if path is None:
        return "(no log)"
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _parent_death_signal() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
          stdout: Output = subprocess.DEVNULL, stderr: Output = subprocess.STDOUT,
          text: bool = False) -> subprocess.Popen[Any]:
    """Start `argv` in its own session (its group id is its pid), stdin closed."""
    return subprocess.Popen(list(argv), cwd=cwd, env=dict(env) if env is not None else None,
                            stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, text=text,
                            start_new_session=True, preexec_fn=_parent_death_signal)


def spawn_logged(argv: Sequence[str], log: Path, *, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, stdout: Output = None) -> subprocess.Popen[Any]:
    """`spawn` with stderr (and stdout, unless given, e.g. a pipe for a banner) appended to `log`:
    a pipe nobody reads would fill up and block the child."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        return spawn(argv, env=env, cwd=cwd, stdout=sink if stdout is None else stdout, stderr=sink,
                     text=stdout is not None)


def wait_ready(process: subprocess.Popen[Any], ready: Callable[[], bool], *,
               what: str, timeout: float = 60.0, log: Path | None = None, poll: float = 0.1) -> None:
    """Block until `ready()`; ChildFailed (with the log's last lines) if the child exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise ChildFailed(f"{what} exited with code {process.returncode} while starting; "
                              f"last lines of its log:\n{log_tail(log)}")
        if time.monotonic() > deadline:
            raise ChildFailed(f"{what} not ready within {timeout:.0f} s; last lines of its log:\n{log_tail(log)}")
        time.sleep(poll)


def signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # a spawned child is its own session leader: its group id is its pid
    except (ProcessLookupError, PermissionError):
        pass


def stop(process: subprocess.Popen[Any], grace: float = 10.0) -> int:
    """SIGTERM to the child's group, wait up to `grace` s, then SIGKILL the group; its exit code."""
    if process.poll() is None:
        signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            signal_group(process.pid, signal.SIGKILL)
            process.wait()
    signal_group(process.pid, signal.SIGKILL)  # a group member that ignored SIGTERM
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    return int(process.returncode)
