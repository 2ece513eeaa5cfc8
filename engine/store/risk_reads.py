"""What risk reads from the store, for the running engine and `slt risk` alike (so both rebuild the
same kill switch): equity snapshots from the start of yesterday (yesterday's last equity opens
today), the kill switch's events, and the latest regime per symbol; `risk_from_store` rebuilds the
RiskManager from them as of `exchange_now`, the latest exchange time in the store.

`RiskReads` keeps one read-only connection for the engine's polls (a DuckLake reader sees every
commit made after it attached; a query takes ~10 ms here) and runs queries in a worker thread,
one at a time, so the event loop never waits on the store.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from decimal import Decimal

from engine.accounts.commands import COMPONENT as BATCH
from engine.config import Settings
from engine.core.clock import ManualClock, wall_ms
from engine.core.types import EquitySnapshot, HealthEvent
from engine.risk import RiskManager
from engine.risk.history import COMPONENT, Command, book_equity, replay
from engine.risk.kill_switch import DAY_MS
from engine.risk.regime import RegimeReading
from engine.store import reader
from engine.store.lake import ALIAS, Lake, connect


def kill_switch_history(lake: Lake, now_ms: int, accounts: Sequence[str] | None = None
                        ) -> tuple[list[EquitySnapshot], list[HealthEvent]]:
    """Equity snapshots of `accounts` (all if None) from yesterday 00:00 UTC to `now_ms`, and every
    kill-switch event up to `now_ms`."""
    since = (now_ms // DAY_MS - 1) * DAY_MS
    snapshots = reader.read(lake, EquitySnapshot, **{"event_time >= ?": since, "event_time <= ?": now_ms})
    if accounts is not None:
        wanted = set(accounts)
        snapshots = [s for s in snapshots if s.account in wanted]
    events = reader.read(lake, HealthEvent, **{"component = ?": COMPONENT, "event_time <= ?": now_ms})
    return snapshots, events


def exchange_now(lake: Lake) -> int:
    """The latest exchange time in the store (the simulator replays history, so the wall clock would
    name the wrong day), never before the kill switch's last event; the wall clock if the store is empty."""
    now = reader.query(lake, f"SELECT greatest((SELECT max(event_time) FROM {ALIAS}.equity_snapshots), "
                             f"(SELECT max(event_time) FROM {ALIAS}.candles), "
                             f"(SELECT max(window_end) FROM {ALIAS}.regimes), "
                             f"(SELECT max(event_time) FROM {ALIAS}.health_events WHERE component = ?)) AS now",
                       [COMPONENT])[0]["now"]
    return int(now) if now is not None else wall_ms()


def risk_from_store(lake: Lake, accounts: Sequence[str], limit: Decimal, now_ms: int
                    ) -> tuple[RiskManager, list[HealthEvent]]:
    """A RiskManager holding the stored regimes and the kill switch (daily drawdown `limit`) replayed up
    to `now_ms` over the `accounts`' equity as the engine sums it, and the kill switch's events."""
    snapshots, events = kill_switch_history(lake, now_ms, accounts)
    switch = replay(limit, book_equity(snapshots), events)
    manager = RiskManager({}, clock=ManualClock(now_ms), kill_switch=switch)
    for reading in latest_regimes(lake):
        manager.update_regime(reading)
    return manager, events


def latest_regimes(lake: Lake) -> list[RegimeReading]:
    return reader.read(lake, RegimeReading, source="regime_latest")


def batch_commands(lake: Lake) -> list[HealthEvent]:
    """The operator's close-all commands and the engine's notes that it applied them."""
    return reader.read(lake, HealthEvent, **{"component = ?": BATCH})


def commands(lake: Lake) -> list[HealthEvent]:
    rows = reader.read(lake, HealthEvent, **{"component = ?": COMPONENT})
    return [e for e in rows if e.status in (Command.TRIP, Command.RESET)]


class RiskReads:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lake: Lake | None = None
        self._lock = threading.Lock()

    async def regimes(self) -> list[RegimeReading]:
        return await asyncio.to_thread(self._run, latest_regimes)

    async def commands(self) -> list[HealthEvent]:
        return await asyncio.to_thread(self._run, commands)

    async def batch_commands(self) -> list[HealthEvent]:
        return await asyncio.to_thread(self._run, batch_commands)

    async def kill_switch_history(self, now_ms: int, accounts: list[str]) -> tuple[list[EquitySnapshot],
                                                                                   list[HealthEvent]]:
        return await asyncio.to_thread(self._run, lambda lake: kill_switch_history(lake, now_ms, accounts))

    def _run(self, query):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._lake is None:
                self._lake = connect(self.settings, read_only=True)
            try:
                return query(self._lake)
            except Exception:
                self._close()   # a broken connection is reopened next time
                raise

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._lake is not None:
            try:
                self._lake.close()
            finally:
                self._lake = None
