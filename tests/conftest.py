"""Shared fixtures: isolated settings under a temporary data dir, and free loopback ports."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import tempfile
from pathlib import Path
from types import FrameType

import pytest

from engine.config import Settings, load_settings
from tests.sim.harness import sim, sim_factory, sim_process, sim_process_factory  # noqa: F401 - shared fixtures

REPO = Path(__file__).resolve().parent.parent
MARKET_DATA = REPO / "data" / "market"


def _dump_tasks(signum: int, frame: FrameType | None) -> None:
    """`kill -USR1 <pytest pid>`: every asyncio task's stack to $TMPDIR/slt-tasks-<pid>.txt, to see
    where a hung async test waits (pytest-timeout shows only the threads, not the coroutines)."""
    try:
        tasks = asyncio.all_tasks(asyncio.get_running_loop())
    except RuntimeError:
        return
    with open(Path(tempfile.gettempdir()) / f"slt-tasks-{os.getpid()}.txt", "w") as out:
        for task in tasks:
            print(f"--- {task.get_name()}", file=out)
            task.print_stack(file=out)


signal.signal(signal.SIGUSR1, _dump_tasks)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose state lives in a fresh temporary directory; market data from the repo."""
    return load_settings({
        "SLT_DATA_DIR": str(tmp_path / "data"),
        "SLT_MARKET_DATA_DIR": str(MARKET_DATA),
        "SLT_SIM_PORT": str(free_port()),
        "SLT_PREFECT_PORT": str(free_port()),
        "SLT_MLFLOW_PORT": str(free_port()),
    }, env_file=tmp_path / "no.env")
