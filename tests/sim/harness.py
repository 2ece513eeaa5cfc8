"""Simulator fixtures shared by every test package (imported into tests/conftest.py).

* `sim`            - an in-process simulator on a free port (BTCUSDT/ETHUSDT/XRPUSDT, 1m, replay
                     clock paused at 2025-05-06 00:00 UTC; step it with `await sim.control.step(...)`).
* `sim_factory`    - `await sim_factory(speed=math.inf, source="synthetic", ...)` for any SimOptions.
* `sim_process`    - the same as a subprocess (`python -m engine.sim`), for crash/restart tests;
                     `sim_process_factory(*cli_args)` for other flags.
Each yields a `SimHandle`: rest_url, ws_url, key/secret of the demo account, `control` (SimControl),
`ccxt()` / `ccxt_pro()` for a ccxt binanceusdm pointed at it (closed at teardown)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from engine.child import answers, free_port, spawn_logged, stop, wait_ready
from engine.sim.control import SimControl
from engine.sim.options import DEMO_KEY, DEMO_SECRET, SimOptions
from engine.sim.server import Simulator
from engine.venues.binance_urls import point_binanceusdm_at

REPO = Path(__file__).resolve().parents[2]
MARKET = REPO / "data" / "market"


@dataclass
class SimHandle:
    rest_url: str
    ws_url: str
    sim: Simulator | None = None                 # in-process only
    process: subprocess.Popen[str] | None = None  # subprocess only
    log_path: Path | None = None                  # subprocess only: its stderr log
    key: str = DEMO_KEY
    secret: str = DEMO_SECRET
    control: SimControl = field(init=False)
    _exchanges: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.control = SimControl(self.rest_url)

    def ccxt(self, key: str | None = None, secret: str | None = None, **config: Any) -> Any:
        import ccxt.async_support as ccxt
        return self._track(ccxt.binanceusdm({"apiKey": key or self.key, "secret": secret or self.secret,
                                             "enableRateLimit": False, **config}))

    def ccxt_pro(self, key: str | None = None, secret: str | None = None, **config: Any) -> Any:
        import ccxt.pro as ccxtpro
        return self._track(ccxtpro.binanceusdm({"apiKey": key or self.key, "secret": secret or self.secret,
                                                "enableRateLimit": False, **config}))

    def _track(self, exchange: Any) -> Any:
        point_binanceusdm_at(exchange, self.rest_url, self.ws_url)
        self._exchanges.append(exchange)
        return exchange

    async def aclose(self) -> None:
        await asyncio.gather(*(exchange.close() for exchange in self._exchanges))   # each close takes ~0.25 s
        await self.control.close()


def test_options(**overrides: Any) -> SimOptions:
    """Defaults for tests: free port, bundled data, paused clock, short liveness timers."""
    base: dict[str, Any] = dict(port=0, data_dir=MARKET, paused=True, speed=60.0, seed=0)
    base.update(overrides)
    return SimOptions(**base)


test_options.__test__ = False  # type: ignore[attr-defined]  # not a test despite the name


@pytest.fixture
async def sim_factory() -> AsyncIterator[Callable[..., Awaitable[SimHandle]]]:
    handles: list[SimHandle] = []

    async def start(**overrides: Any) -> SimHandle:
        simulator = Simulator(test_options(**overrides))
        await simulator.start()
        handle = SimHandle(simulator.rest_url, simulator.ws_url, sim=simulator)
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        await handle.aclose()
        assert handle.sim is not None
        await handle.sim.stop()


@pytest.fixture
async def sim(sim_factory: Callable[..., Awaitable[SimHandle]]) -> SimHandle:
    return await sim_factory()


@pytest.fixture
def sim_process_factory(tmp_path: Path) -> Iterator[Callable[..., SimHandle]]:
    """The simulator's log goes to a file (`handle.log_path`): a pipe nobody reads would fill up and
    block it. Its stdout (the banner) is a pipe the test may read."""
    processes: list[subprocess.Popen[str]] = []

    def start(*args: str) -> SimHandle:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLT_")}
        env["SLT_MARKET_DATA_DIR"] = str(MARKET)
        log = tmp_path / f"sim-{port}.log"
        process = spawn_logged([sys.executable, "-m", "engine.sim", "--port", str(port), *args], log, cwd=REPO,
                               env=env, stdout=subprocess.PIPE)
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_ready(process, lambda: answers(url + "/fapi/v1/ping", 1.0), what=f"simulator at {url}", timeout=30,
                   log=log)
        handle = SimHandle(url, f"ws://127.0.0.1:{port}", process=process)
        handle.log_path = log
        return handle

    yield start
    for process in processes:
        stop(process)


@pytest.fixture
async def sim_process(sim_process_factory: Callable[..., SimHandle]) -> AsyncIterator[SimHandle]:
    handle = sim_process_factory("--paused")
    yield handle
    await handle.aclose()


__all__ = ["SimHandle", "sim", "sim_factory", "sim_process", "sim_process_factory", "test_options"]
