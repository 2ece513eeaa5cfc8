from __future__ import annotations

import json
from decimal import Decimal

import pytest

from engine.core.market import AggTrade, BookTicker, MarkPrice
from engine.core.types import Candle, Side
from engine.feeds.parse import FrameError, parse_control, parse_frame

KLINE = {"e": "kline", "E": 1795519166961, "s": "BTCUSDT", "k": {
    "t": 1795519140000, "T": 1795519199999, "s": "BTCUSDT", "i": "1m", "f": 100, "L": 200, "o": "59408.95",
    "c": "59439.32", "h": "59453.74", "l": "59406.95", "v": "12.525", "n": 100, "x": False, "q": "744470.1",
    "V": "6.262", "Q": "372235.0", "B": "0"}}


def combined(stream: str, data: dict) -> bytes:
    return json.dumps({"stream": stream, "data": data}).encode()


def kline(**changes: object) -> bytes:
    k = dict(KLINE["k"], **changes)  # type: ignore[arg-type]
    return combined("btcusdt@kline_1m", dict(KLINE, k=k))


def test_kline_frame_becomes_a_candle() -> None:
    stream, candle = parse_frame(kline(x=True), received_time=5)
    assert stream == "btcusdt@kline_1m"
    assert candle == Candle("BTCUSDT", "1m", 1795519140000, 1795519199999, 59408.95, 59453.74, 59406.95,
                            59439.32, 12.525, True, 1795519166961, 5)


def test_raw_frame_without_envelope() -> None:
    _, candle = parse_frame(json.dumps(KLINE).encode(), 0, combined=False)
    assert isinstance(candle, Candle) and not candle.closed


def test_mark_price_trade_and_book_frames() -> None:
    _, mark = parse_frame(combined("btcusdt@markPrice@1s", {
        "e": "markPriceUpdate", "E": 1795519167000, "s": "BTCUSDT", "p": "59439.30000000", "i": "59433.35000000",
        "P": "59433.35000000", "r": "0.00010000", "T": 1795536000000}), 1)
    assert mark == MarkPrice("BTCUSDT", Decimal("59439.3"), Decimal("59433.35"), Decimal("0.0001"),
                             1795536000000, 1795519167000, 1)
    _, trade = parse_frame(combined("btcusdt@aggTrade", {
        "e": "aggTrade", "E": 1795519167010, "a": 26129, "s": "BTCUSDT", "p": "59439.30", "q": "0.010", "f": 100,
        "l": 105, "T": 1795519167008, "m": True}), 2)
    assert isinstance(trade, AggTrade) and trade.taker_side is Side.SELL and trade.price == Decimal("59439.30")
    _, book = parse_frame(combined("btcusdt@bookTicker", {
        "e": "bookTicker", "u": 400900217, "E": 1795519167010, "T": 1795519167008, "s": "BTCUSDT",
        "b": "59439.20", "B": "1.000", "a": "59439.40", "A": "1.000"}), 3)
    assert isinstance(book, BookTicker) and book.mid == Decimal("59439.30")


@pytest.mark.parametrize(("frame", "problem"), [
    (b"{not json", "bad frame on <unknown stream>"),
    (kline(o="NaN"), "open is nan"),
    (kline(l="-5"), "low is -5.0, must be positive"),
    (kline(h="59000", l="59500"), "high 59000.0 is below low 59500.0"),
    (kline(v="-1"), "volume is -1.0"),
    (kline(i="7m"), "unknown interval '7m'"),
    (kline(T=1795519199998), "do not match interval 1m"),
    (combined("btcusdt@depth", {"e": "depthUpdate", "E": 1}), "bad frame on btcusdt@depth"),
    (combined("btcusdt@markPrice", {"e": "markPriceUpdate", "E": 1, "s": "BTCUSDT", "p": "-1", "i": "1",
                                    "r": "0", "T": 1}), "mark price is -1, must be a positive number"),
])
def test_bad_frames_name_the_stream_and_problem(frame: bytes, problem: str) -> None:
    with pytest.raises(FrameError) as info:
        parse_frame(frame, 0)
    assert problem in str(info.value)


def test_stream_name_is_recovered_from_an_undecodable_frame() -> None:
    with pytest.raises(FrameError) as info:
        parse_frame(b'{"stream":"ethusdt@kline_1m","data":{"e":"kline","E":', 0)
    assert info.value.stream == "ethusdt@kline_1m"


def test_control_replies() -> None:
    assert parse_control(b'{"result":null,"id":1}').id == 1  # type: ignore[union-attr]
    err = parse_control(b'{"code":2,"msg":"Invalid request","id":3}')
    assert err is not None and err.code == 2
    assert parse_control(kline()) is None
