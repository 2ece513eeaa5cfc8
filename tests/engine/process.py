"""Running `python -m engine` as a real process against a simulator process, and comparing what the
store holds with what the simulator's account holds (its admin API and its REST income history)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt

from engine.config import Settings, load_settings
from engine.core.types import Fill, FundingPayment, TradeEntry, TradeExit
from engine.store import connect, reader
from engine.venues.binance_urls import point_binanceusdm_at
from tests.conftest import MARKET_DATA, REPO
from tests.sim.harness import SimHandle

CENT = D("0.01")


@dataclass
class EngineProcess:
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    log_offset: int = 0

    def start(self) -> None:
        self.log_offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen([sys.executable, "-m", "engine"], cwd=REPO, env=self.env,
                                            stdout=sink, stderr=subprocess.STDOUT)
        self.starts += 1

    def text(self, since_start: bool = True) -> str:
        data = self.log.read_bytes()
        return data[self.log_offset if since_start else 0:].decode(errors="replace")

    def wait_for(self, needle: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"engine exited ({self.process.returncode}) before {needle!r}:\n{self.text()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} within {timeout} s:\n{self.text()[-4000:]}")
            time.sleep(0.05)

    def stop(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def engine_env(sim: SimHandle, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLT_", "BOOTSTRAP_"))}
    env.update({"SLT_DATA_DIR": str(data_dir), "SLT_MARKET_DATA_DIR": str(MARKET_DATA), "SLT_EXCHANGE": "sim",
                "SLT_EXCHANGE_REST_URL": sim.rest_url, "SLT_EXCHANGE_WS_URL": sim.ws_url,
                # test-only: admit every bootstrap signal so a short replay trades a lot
                "BOOTSTRAP_MIN_CONFIDENCE": "0", "BOOTSTRAP_MIN_WIN_PROBABILITY": "0",
                "SLT_USER_POLL_SECONDS": "0.5", "SLT_EXCHANGE_TIMEOUT": "5", **extra})
    return env


def settings_for(env: dict[str, str]) -> Settings:
    return load_settings({k: v for k, v in env.items() if k.startswith(("SLT_", "BOOTSTRAP_"))},
                         env_file="/nonexistent")


@dataclass
class Stored:
    fills: list[Fill]
    entries: list[TradeEntry]
    exits: list[TradeExit]
    funding: list[FundingPayment]
    positions: dict[str, Any]
    equity: Any
    orders: dict[str, Any]


def stored(settings: Settings) -> Stored:
    with connect(settings, read_only=True) as lake:
        equity = reader.equity(lake, "main")
        return Stored(reader.fills(lake, "main"), reader.read(lake, TradeEntry), reader.read(lake, TradeExit),
                      reader.funding(lake, "main"), {p.symbol: p for p in reader.positions(lake, "main")},
                      equity[-1] if equity else None,
                      {o.client_order_id: o for o in reader.orders(lake, "main")})


@dataclass
class RoundTrip:
    """One position from flat to flat, folded from the simulator's own executions (independently)."""

    symbol: str
    trades: list[dict[str, Any]] = field(default_factory=list)

    @property
    def realized(self) -> D:
        return sum((D(t["realized_pnl"]) for t in self.trades), D(0))

    @property
    def fees(self) -> D:
        return sum((D(t["commission"]) for t in self.trades), D(0))


def round_trips(account: dict[str, Any]) -> tuple[list[RoundTrip], dict[str, RoundTrip]]:
    """(closed round trips, the open one per symbol) from the simulator's executions."""
    closed: list[RoundTrip] = []
    current: dict[str, RoundTrip] = {}
    position: dict[str, D] = defaultdict(lambda: D(0))
    for t in sorted(account["trades"], key=lambda t: t["id"]):
        trip = current.setdefault(t["symbol"], RoundTrip(t["symbol"]))
        trip.trades.append(t)
        position[t["symbol"]] += D(t["qty"]) * (1 if t["side"] == "BUY" else -1)
        if position[t["symbol"]] == 0:
            closed.append(current.pop(t["symbol"]))
    return closed, current


async def income(sim: SimHandle) -> list[dict[str, Any]]:
    exchange = point_binanceusdm_at(ccxt.binanceusdm({"apiKey": sim.key, "secret": sim.secret}), sim.rest_url,
                                    sim.ws_url)
    try:
        return await exchange.fapiPrivateGetIncome({"incomeType": "FUNDING_FEE", "limit": 1000, "startTime": 0})
    finally:
        await exchange.close()


def cents(value: D) -> D:
    return value.quantize(CENT)
