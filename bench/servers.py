"""Processes the benchmarks run against: the simulator (as a subprocess, so it has its own core)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(args: list[str], ready_url: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLT_")}
    proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{args} exited with {proc.returncode}")
        if ready_url is None:
            if proc.stdout is not None and proc.stdout.readline().strip() == "ready":
                return proc
            continue
        try:
            urllib.request.urlopen(ready_url, timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise TimeoutError(f"{args} not ready")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def start_sim(port: int, *extra: str) -> subprocess.Popen[str]:
    return start(["-m", "engine.sim", "--port", str(port), "--paused", "--no-demo", *extra],
                  f"http://127.0.0.1:{port}/fapi/v1/ping")
