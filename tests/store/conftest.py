"""Store fixtures: a fresh lake (real DuckLake files) under the test's temporary data directory."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from engine.config import Settings
from engine.core.types import (
    Candle,
    EquitySnapshot,
    ExitReason,
    Fill,
    FundingPayment,
    HealthEvent,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    SignalOutcome,
    SignalRecord,
    TradeEntry,
    TradeExit,
)
from engine.health.grading import BenchmarkResult
from engine.risk.regime import Regime, RegimeReading
from engine.store import Lake, connect, init_store
from engine.store.backtests import BacktestRun, BacktestTrade

T0 = 1_700_000_000_000


@pytest.fixture
def lake_settings(settings: Settings) -> Settings:
    init_store(settings)
    return settings


@pytest.fixture
def lake(lake_settings: Settings) -> Iterator[Lake]:
    with connect(lake_settings) as opened:
        yield opened


def entry(n: int, symbol: str = "BTCUSDT", account: str = "main") -> TradeEntry:
    return TradeEntry(f"t{n}", account, symbol, Side.BUY, Decimal("0.003"), Decimal("59439.30"), fee=Decimal("0.0713"),
                      signal_id=f"s{n}", confidence=0.6, win_probability=0.55, regime="trending",
                      stop_loss=Decimal("58000"), event_time=T0 + n, received_time=T0 + n + 3)


def exit_(n: int, pnl: str = "1.5", symbol: str = "BTCUSDT", account: str = "main") -> TradeExit:
    return TradeExit(f"t{n}", account, symbol, Decimal("0.003"), Decimal("59939.30"), realized_pnl=Decimal(pnl),
                     fees=Decimal("0.14"), funding=Decimal("-0.01"), reason=ExitReason.TAKE_PROFIT,
                     event_time=T0 + 60_000 + n, received_time=T0 + 60_000 + n + 2)


def one_of_each(n: int = 0) -> list:
    """One record of every type the store holds."""
    return [
        Candle("BTCUSDT", "1m", T0 + n * 60_000, T0 + n * 60_000 + 59_999, 100.0, 101.5, 99.5, 101.0, 12.5,
               event_time=T0 + n * 60_000 + 60_000, received_time=T0 + n * 60_000 + 60_010),
        Order(f"sltE-{n}", "main", "BTCUSDT", Side.BUY, OrderType.LIMIT, Decimal("0.003"), price=Decimal("59439.3"),
              status=OrderStatus.NEW, exchange_order_id=str(1000 + n), event_time=T0 + n, received_time=T0 + n + 1),
        Fill("main", "BTCUSDT", str(5000 + n), f"sltE-{n}", str(1000 + n), Side.BUY, Decimal("0.003"),
             Decimal("59439.30"), Decimal("0.08915895"), "USDT", event_time=T0 + n, received_time=T0 + n + 1),
        entry(n), exit_(n),
        Position("main", "BTCUSDT", Decimal("-0.003"), Decimal("59439.3"), Decimal("59500"), Decimal("-0.1821"),
                 leverage=5, event_time=T0 + n, received_time=T0 + n + 1),
        EquitySnapshot("main", Decimal("10000"), Decimal("-0.1821"), Decimal("9800.5"), event_time=T0 + n,
                       received_time=T0 + n + 1),
        HealthEvent(f"h{n}", "store", "ok", "flushed", detail='{"pending": 0}', event_time=T0 + n, received_time=T0 + n),
        RegimeReading("BTCUSDT", "1h", Regime.CRASH, -18.5, 6.25, 100.0, 81.5, T0 + n - 86_400_000, T0 + n, 24,
                      event_time=T0 + n, received_time=T0 + n + 1),
        FundingPayment("main", "BTCUSDT", str(900 + n), Decimal("-0.01783179"), event_time=T0 + n,
                       received_time=T0 + n + 1),
        SignalRecord(f"bootstrap:BTCUSDT:1m:{T0 + n}", "bootstrap", "BTCUSDT", "1m", Side.BUY, 0.55, 0.52, 59439.3,
                     42.5, True, "bootstrap", "admitted", T0 + n, event_time=T0 + n, received_time=T0 + n + 1,
                     model_version="3", features='{"rsi": 55.5, "basis": null}'),
        SignalOutcome(f"bootstrap:BTCUSDT:1m:{T0 + n}", "BTCUSDT", -0.0042, 0, T0 + n + 600_000,
                      event_time=T0 + n + 600_000, received_time=T0 + n + 600_001),
        BenchmarkResult(f"bench-{n}", "order_execution", 12.5, "ms", "A+", '{"samples": 5}', event_time=T0 + n,
                        received_time=T0 + n + 1),
        BacktestRun(f"bt-{n}", "bootstrap", "1h", "BTCUSDT,ETHUSDT", "", T0, T0 + 3_600_000 * 24, 24,
                    Decimal("10000"), Decimal("10012.5"), Decimal("12.5"), Decimal("3.1"), Decimal("-0.25"), 2, 0.5,
                    1.8, Decimal("6.25"), 1.2, None, 0.012, 7_200_000, 0.4, 3.5, "abc123", "[]", "{}", 1.5,
                    event_time=T0 + n, received_time=T0 + n),
        BacktestTrade(f"bt-{n}", "t1", "main", "BTCUSDT", "BUY", Decimal("0.003"), Decimal("59439.3"),
                      Decimal("59500"), T0, Decimal("0.1821"), Decimal("0.17"), Decimal("0"), Decimal("0.0121"),
                      "take_profit", "NORMAL", event_time=T0 + n, received_time=T0 + n),
    ]
