"""Shared fixtures (isolated settings under a temporary data dir, the simulator fixtures) and the rule that
a test which starts a process or a server carries the `integration` marker (`make test-fast` skips those)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import pytest

from engine.child import free_port
from engine.config import Settings, load_settings
from engine.store.lake import _KEEPER
from engine.store.lake_writer import MODULE as _LAKE_WRITER
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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose state lives in a fresh temporary directory; market data from the repo."""
    return load_settings({
        "SLT_DATA_DIR": str(tmp_path / "data"),
        "SLT_MARKET_DATA_DIR": str(MARKET_DATA),
        "SLT_SIM_PORT": str(free_port()),
        "SLT_PREFECT_PORT": str(free_port()),
        "SLT_MLFLOW_PORT": str(free_port()),
        "SLT_HEALTH_PORT": str(free_port()),
    }, env_file=tmp_path / "no.env")


# ---- the integration marker is honest ----------------------------------------------------------
# An audit hook sees every child process and every bound inet socket (a server) while a test runs; a test
# that started one without the marker fails at teardown, naming what it started. `free_port` binds port 0
# only to ask the OS for a free number: not a server; the store's catalog keeper (a child process every
# writing `Lake` holds, see engine/store/lake.py) and the recorder's lake writer (engine/store/lake_writer.py)
# are part of the store, like DuckDB's own threads.
_started: list[str] = []
_FREE_PORT: CodeType = free_port.__code__
_STORE_CHILDREN = (_KEEPER, _LAKE_WRITER)


def _from_free_port() -> bool:
    frame = sys._getframe(2)
    for _ in range(4):
        if frame is None:
            return False
        if frame.f_code is _FREE_PORT:
            return True
        frame = frame.f_back
    return False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "subprocess.Popen" and not any(part in args[1] for part in _STORE_CHILDREN):
        _started.append(f"a process ({' '.join(map(str, args[1]))[:100]})")
    elif event == "socket.bind" and isinstance(args[1], tuple) and not _from_free_port():
        _started.append(f"a server (bound to {args[1][:2]})")


sys.addaudithook(_audit)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _started.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    yield  # after the fixtures' teardown: a server a fixture started is counted too
    if _started and item.get_closest_marker("integration") is None:
        what = _started[0]
        _started.clear()
        pytest.fail(f"{item.nodeid} starts {what} but is not marked integration (pytestmark = pytest.mark.integration)",
                    pytrace=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests first (slow, then the other integration tests, then the pure ones; a stable sort, so
    the order inside each group is the files' own): with `-n 2` the long files start at once and the short
    pure tests fill the gaps at the end, instead of one worker finishing a chaos test alone."""
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None,
                                 item.get_closest_marker("integration") is None))
