"""Running `python -m engine` as a real process against a simulator process, and comparing what the
store holds with what the simulator's account holds (its admin API and its REST income history)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt

from engine.child import free_port, signal_group, spawn_logged, stop
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
    process: subprocess.Popen[Any] | None = None
    starts: int = 0
    log_offset: int = 0

    def start(self) -> None:
        self.log_offset = self.log.stat().st_size if self.log.exists() else 0
        self.process = spawn_logged([sys.executable, "-m", "engine"], self.log, cwd=REPO, env=self.env)
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
        return stop(self.process, grace=timeout)

    def kill(self) -> None:
        assert self.process is not None
        signal_group(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def close(self) -> None:
        if self.process is not None:
            stop(self.process, grace=0)


async def wait_until(what: str, check: Callable[[], Any], engine: EngineProcess, timeout: float = 30.0) -> Any:
    """Poll `check` (sync or async) until it returns something truthy; fail naming `what` at the deadline,
    or at once if the engine exited."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if asyncio.iscoroutine(found):
            found = await found
        if found:
            return found
        assert engine.process is not None and engine.process.poll() is None, engine.text()[-4000:]
        assert time.monotonic() < deadline, f"no {what} within {timeout} s:\n{engine.text()[-4000:]}"
        await asyncio.sleep(0.05)


def engine_env(sim: SimHandle, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLT_", "BOOTSTRAP_"))}
    env.update({"SLT_DATA_DIR": str(data_dir), "SLT_MARKET_DATA_DIR": str(MARKET_DATA), "SLT_EXCHANGE": "sim",
                "SLT_EXCHANGE_REST_URL": sim.rest_url, "SLT_EXCHANGE_WS_URL": sim.ws_url,
                # test-only: admit every bootstrap signal so a short replay trades a lot
                "BOOTSTRAP_MIN_CONFIDENCE": "0", "BOOTSTRAP_MIN_WIN_PROBABILITY": "0",
                "SLT_USER_POLL_SECONDS": "0.5", "SLT_EXCHANGE_TIMEOUT": "5", "SLT_HEALTH_PORT": str(free_port()),
                # no MLflow unless a test starts one: a server someone runs on the default port is not polled
                "SLT_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
                **extra})
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


def stored(settings: Settings, account: str = "main") -> Stored:
    """What the store holds for one account."""
    mine = {"account = ?": account}
    with connect(settings, read_only=True) as lake:
        equity = reader.equity(lake, account)
        return Stored(reader.fills(lake, account), reader.read(lake, TradeEntry, **mine),
                      reader.read(lake, TradeExit, **mine), reader.funding(lake, account),
                      {p.symbol: p for p in reader.positions(lake, account)}, equity[-1] if equity else None,
                      {o.client_order_id: o for o in reader.orders(lake, account)})


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


async def income(sim: SimHandle, key: str | None = None, secret: str | None = None) -> list[dict[str, Any]]:
    """The account's funding fees as the simulator's REST income history reports them (demo account by default)."""
    exchange = point_binanceusdm_at(ccxt.binanceusdm({"apiKey": key or sim.key, "secret": secret or sim.secret}),
                                    sim.rest_url, sim.ws_url)
    try:
        return await exchange.fapiPrivateGetIncome({"incomeType": "FUNDING_FEE", "limit": 1000, "startTime": 0})
    finally:
        await exchange.close()


def cents(value: D) -> D:
    return value.quantize(CENT)


async def wait_finished(sim: SimHandle, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not (await sim.control.state())["finished"]:
        assert time.monotonic() < deadline, "the replay did not finish in time"
        await asyncio.sleep(0.2)


def assert_store_equals_account(store: Stored, account: dict[str, Any], rows: list[dict[str, Any]]) -> list[RoundTrip]:
    """One account: the store (`stored(settings, account_id)`) equals the simulator's view of it
    (`control.account(key)`) and its funding income `rows`: every fill once, every closed trade's
    realised PnL, fees and funding, and at the end realised and unrealised PnL, fees, funding and
    equity, to the cent. Returns the closed round trips (the caller judges whether enough traded)."""
    ledger = account["ledger"]
    # every simulator fill is in the store exactly once
    assert sorted(f.trade_id for f in store.fills) == sorted(str(t["id"]) for t in account["trades"])
    assert len({f.record_id for f in store.fills}) == len(store.fills)

    # every closed trade: realised PnL, fees and funding equal the exchange's numbers
    closed, still_open = round_trips(account)
    exits: dict[str, list[Any]] = defaultdict(list)
    for exit_ in sorted(store.exits, key=lambda x: (x.event_time, x.trade_id)):
        exits[exit_.symbol].append(exit_)
    trips: dict[str, list[Any]] = defaultdict(list)
    for trip in closed:
        trips[trip.symbol].append(trip)
    assert {s: len(v) for s, v in exits.items()} == {s: len(v) for s, v in trips.items()}
    for symbol, mine in exits.items():
        for exit_, trip in zip(mine, trips[symbol], strict=True):
            first, last = trip.trades[0]["time"], trip.trades[-1]["time"]
            paid = sum((D(r["income"]) for r in rows if r["symbol"] == symbol and first <= r["time"] <= last), D(0))
            assert (exit_.realized_pnl, exit_.fees, exit_.funding) == (trip.realized, trip.fees, paid), exit_
    assert {e.trade_id for e in store.entries} >= {x.trade_id for x in store.exits}

    # at the end: realised, fees, funding, unrealised and equity equal the account's, to the cent
    assert sum((f.realized_pnl for f in store.fills), D(0)) == D(ledger["realized"])
    assert sum((f.fee for f in store.fills), D(0)) == D(ledger["fees"])
    assert sum((p.amount for p in store.funding), D(0)) == D(ledger["funding"])
    held = {p["symbol"]: p for p in account["positions"] if D(p["amount"]) != 0}
    assert set(still_open) == set(held)
    for symbol, position in held.items():
        mine = store.positions[symbol]
        assert mine.quantity == D(position["amount"]) and cents(mine.unrealized_pnl) == cents(D(position["unrealized"]))
    assert all(p.quantity == 0 for s, p in store.positions.items() if s not in held)
    assert store.equity is not None and cents(store.equity.equity) == cents(D(account["equity"]))
    assert cents(store.equity.wallet_balance) == cents(D(account["wallet"]))
    return closed
