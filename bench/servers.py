"""Processes the benchmarks run against: the simulator (as a subprocess, so it has its own core)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from engine.child import answers, free_port, spawn, stop, wait_ready

REPO = Path(__file__).resolve().parent.parent
__all__ = ["REPO", "free_port", "start", "start_sim", "stop"]


def start(args: list[str], ready_url: str | None = None) -> subprocess.Popen[Any]:
    """`python args...` without our settings; ready when `ready_url` answers, or when it prints `ready`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLT_")}
    proc = spawn([sys.executable, *args], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                 text=True)

    def ready() -> bool:
        if ready_url is not None:
            return answers(ready_url, 1.0)
        return proc.stdout is not None and proc.stdout.readline().strip() == "ready"

    try:
        wait_ready(proc, ready, what=" ".join(args), timeout=60)
    except BaseException:
        stop(proc)
        raise
    return proc


def start_sim(port: int, *extra: str) -> subprocess.Popen[Any]:
    return start(["-m", "engine.sim", "--port", str(port), "--paused", "--no-demo", *extra],
                 f"http://127.0.0.1:{port}/fapi/v1/ping")
