"""What risk reads from the store, for the running engine and `slt risk` alike (so both rebuild the
same kill switch): equity snapshots from the start of yesterday (yesterday's last equity opens
today), the kill switch's events, and the latest regime per symbol.

`RiskReads` keeps one read-only connection for the engine's polls (a DuckLake reader sees every
commit made after it attached; a query takes ~10 ms here) and runs queries in a worker thread,
one at a time, so the event loop never waits on the store.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from engine.accounts.commands import COMPONENT as BATCH
from engine.config import Settings
from engine.core.types import EquitySnapshot, HealthEvent
from engine.risk.history import COMPONENT, Command
from engine.risk.kill_switch import DAY_MS
from engine.risk.regime import RegimeReading
from engine.store import reader
from engine.store.lake import Lake, connect


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
