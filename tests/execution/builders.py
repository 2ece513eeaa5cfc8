"""Hand-built orders, fills and signals for the execution tests (pure)."""

from __future__ import annotations

from decimal import Decimal as D

from engine.core.types import Fill, Order, OrderStatus, OrderType, Side, SignalRecord
from engine.execution.book import Book
from engine.execution.orders import Leg, order_id
from engine.execution.protection import ProtectionRule
from tests.risk.builders import BTC

T0 = 1_746_489_600_000  # 2025-05-06 00:00 UTC
MINUTE = 60_000
ACCOUNT = "main"


def signal(n: int = 0, side: Side = Side.BUY, atr: float = 50.0, at: int | None = None) -> SignalRecord:
    t = T0 + n * MINUTE if at is None else at
    return SignalRecord(f"bootstrap:BTCUSDT:1m:{t}", "bootstrap", "BTCUSDT", "1m", side, 0.6, 0.54, 60_000.0, atr,
                        True, "bootstrap", "admitted", t, event_time=t + MINUTE - 1)


def order(sig: SignalRecord, leg: Leg, side: Side, qty: str, *, status: OrderStatus = OrderStatus.PENDING,
          filled: str = "0", kind: OrderType = OrderType.MARKET, stop: str | None = None, exchange_id: str | None = None,
          at: int = T0, generation: int = 0) -> Order:
    return Order(order_id(sig.signal_id, leg, ACCOUNT, generation), ACCOUNT, "BTCUSDT", side, kind, D(qty),
                 stop_price=D(stop) if stop else None, reduce_only=leg is not Leg.ENTRY, signal_id=sig.signal_id,
                 status=status, exchange_order_id=exchange_id, filled_quantity=D(filled), event_time=at)


def fill(cid: str, trade: int, side: Side, qty: str, price: str, *, fee: str = "0.03", pnl: str = "0",
         at: int = T0, exchange_id: str = "1") -> Fill:
    return Fill(ACCOUNT, "BTCUSDT", str(trade), cid, exchange_id, side, D(qty), D(price), D(fee), "USDT", D(pnl),
                event_time=at)


def book() -> Book:
    return Book(ACCOUNT, "BTCUSDT", BTC, ProtectionRule())


def always_fresh(_: SignalRecord) -> bool:
    return True


def never_fresh(_: SignalRecord) -> bool:
    return False


def sized(qty: str = "0.010"):  # type: ignore[no-untyped-def]
    """An `enter` callable giving every signal a market entry of `qty`."""
    def enter(sig: SignalRecord) -> Order:
        return order(sig, Leg.ENTRY, sig.side, qty, at=sig.event_time)
    return enter
