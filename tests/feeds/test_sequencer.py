from __future__ import annotations

import random

from engine.core.types import Candle
from engine.feeds.sequencer import CandleSequencer, Gap

M = 60_000


def bar(i: int, symbol: str = "BTCUSDT", close: float = 100.0) -> Candle:
    t = i * M
    return Candle(symbol, "1m", t, t + M - 1, 100.0, 101.0, 99.0, close, 1.0)


def times(candles: list[Candle]) -> list[int]:
    return [c.open_time // M for c in candles]


def test_in_order_candles_pass_through() -> None:
    seq = CandleSequencer()
    out = [c for i in range(5) for c in seq.offer(bar(i))]
    assert times(out) == [0, 1, 2, 3, 4]


def test_duplicates_and_backwards_are_dropped() -> None:
    seq = CandleSequencer()
    for i in (0, 1, 1, 0, 2):
        seq.offer(bar(i))
    state = seq.state("BTCUSDT", "1m")
    assert state.last == 2 * M and state.duplicates == 2 and state.emitted == 3


def test_hole_is_held_reported_and_filled_in_order() -> None:
    seq = CandleSequencer()
    assert times(seq.offer(bar(0))) == [0]
    assert seq.offer(bar(3)) == [] and seq.offer(bar(4)) == []
    assert seq.gaps(exchange_time=10 * M) == [Gap("BTCUSDT", "1m", 1 * M, 2 * M)]
    out = seq.fill("BTCUSDT", "1m", [bar(2), bar(1), bar(0)])
    assert times(out) == [1, 2, 3, 4]
    assert seq.gaps(exchange_time=4 * M + M) == []


def test_gap_after_reconnect_reaches_the_last_closed_bar() -> None:
    seq = CandleSequencer()
    seq.resume_from("BTCUSDT", "1m", 5 * M)
    # exchange time inside bar 9: bars 6..8 are closed and missing
    assert seq.gaps(exchange_time=9 * M + 30_000) == [Gap("BTCUSDT", "1m", 6 * M, 8 * M)]
    assert seq.gaps(exchange_time=9 * M + 30_000)[0].bars == 3


def test_bar_missing_at_the_exchange_is_skipped_not_waited_for() -> None:
    seq = CandleSequencer()
    seq.offer(bar(0))
    seq.offer(bar(4))
    out = seq.fill("BTCUSDT", "1m", [bar(1), bar(3)])  # exchange has no bar 2
    assert times(out) == [1, 3, 4]
    assert seq.state("BTCUSDT", "1m").missing_at_exchange == 1


def test_streams_are_independent() -> None:
    seq = CandleSequencer()
    seq.offer(bar(0, "BTCUSDT"))
    seq.offer(bar(5, "ETHUSDT"))
    assert times(seq.offer(bar(1, "BTCUSDT"))) == [1]
    assert times(seq.offer(bar(6, "ETHUSDT"))) == [6]


def test_any_arrival_order_emits_each_bar_once_in_order() -> None:
    rng = random.Random(7)
    for _ in range(50):
        seq = CandleSequencer()
        seq.offer(bar(0))
        arrivals = [bar(i) for i in range(1, 60)] * 2
        rng.shuffle(arrivals)
        live, rest = arrivals[: len(arrivals) // 2], arrivals[len(arrivals) // 2:]
        out = [c for c in live for c in seq.offer(c)]
        out += seq.fill("BTCUSDT", "1m", rest)
        assert times(out) == list(range(1, 60))
