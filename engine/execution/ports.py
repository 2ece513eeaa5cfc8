"""What execution needs from the outside world, as protocols: the exchange account (implemented by
`engine.venues.binance.BinanceVenue`) and the trade recorder (`engine.store.recorder.TradeRecorder`).
Errors come as our hierarchy (`engine.core.errors`), never as vendor exceptions."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from engine.core.instrument import Instrument
from engine.core.market import MarkPrice
from engine.core.types import EquitySnapshot, Fill, FundingPayment, HealthEvent, Order, Position, Record
from engine.risk.regime import RegimeReading


class VenuePort(Protocol):
    account: str
    instruments: dict[str, Instrument]

    async def create_order(self, order: Order) -> Order:
        """Raises `OrderStateUnknown` when the answer is lost: ask by client id, never resend blindly."""
        ...

    async def fetch_order(self, symbol: str, client_order_id: str, *, conditional: bool = False) -> Order: ...

    async def fetch_order_by_id(self, symbol: str, exchange_order_id: str) -> Order: ...

    async def cancel_order(self, symbol: str, client_order_id: str, *, conditional: bool = False) -> None: ...

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]: ...

    async def fetch_positions(self) -> list[Position]: ...

    async def fetch_equity(self) -> EquitySnapshot: ...

    async def fetch_fills(self, symbol: str, since_ms: int | None = None, limit: int = 1000) -> list[Fill]: ...

    async def fetch_funding(self, since_ms: int | None = None, until_ms: int | None = None,
                            symbol: str | None = None, limit: int = 1000) -> list[FundingPayment]: ...

    async def fetch_mark_price(self, symbol: str) -> MarkPrice: ...

    async def set_leverage(self, symbol: str, leverage: int) -> None: ...


Recordable = Record | RegimeReading  # what the engine journals (regime readings too)


class RecorderPort(Protocol):
    def record(self, *records: Recordable) -> Awaitable[Any]:
        """Journal records; the awaitable resolves once they are durable."""
        ...

    def record_now(self, *records: Recordable) -> int:
        """Journal records and return once they are durable (blocks for one fdatasync)."""
        ...


class RiskStorePort(Protocol):
    """What the running engine reads from the store for risk (`engine.store.risk_reads.RiskReads`):
    regime readings a scheduled flow may write, and the kill switch's history and commands."""

    async def regimes(self) -> list[RegimeReading]:
        """The latest reading per symbol (`regime_latest`)."""
        ...

    async def commands(self) -> list[HealthEvent]:
        """Every operator command to the kill switch (`slt risk --trip/--reset`)."""
        ...

    async def batch_commands(self) -> list[HealthEvent]:
        """The operator's close-all commands (`slt accounts --close-all`) and their applied notes."""
        ...

    def close(self) -> None:
        """Release the store connection (at the engine's stop)."""
        ...

    async def kill_switch_history(self, now_ms: int, accounts: list[str]) -> tuple[list[EquitySnapshot],
                                                                                   list[HealthEvent]]:
        """The accounts' equity snapshots since yesterday's start up to `now_ms`, and every
        kill-switch event (commands, applied notes, transitions)."""
        ...
