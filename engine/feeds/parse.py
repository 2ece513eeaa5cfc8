"""Binance USDⓈ-M market stream frames → domain types, in one place.

Frames are decoded straight into typed structs with msgspec (prices arrive as decimal strings;
candle OHLCV become floats, mark/trade/book prices `Decimal`). Anything malformed or impossible
raises `FrameError` naming the stream and the problem; the feed counts it and carries on.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

import msgspec

from engine.core.errors import DataError
from engine.core.intervals import INTERVAL_MS
from engine.core.market import AggTrade, BookTicker, MarkPrice
from engine.core.types import Candle, Side

_STREAM_RE = re.compile(r'"stream"\s*:\s*"([^"]{1,100})"')
MarketEvent = Candle | MarkPrice | AggTrade | BookTicker


class FrameError(DataError):
    """A frame that cannot be used; `stream` names where it came from."""

    def __init__(self, stream: str, problem: str) -> None:
        super().__init__(f"bad frame on {stream or '<unknown stream>'}: {problem}")
        self.stream = stream
        self.problem = problem


class _Kline(msgspec.Struct, gc=False):
    t: int
    T: int
    s: str
    i: str
    o: float
    c: float
    h: float
    l: float  # noqa: E741 (Binance's field name)
    v: float
    x: bool


class _KlineEvent(msgspec.Struct, tag_field="e", tag="kline", gc=False):
    """`{"e":"kline","E":1795519166961,"s":"BTCUSDT","k":{"t":1795519140000,"T":1795519199999,
    "s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"59408.95","c":"59439.32","h":"59453.74",
    "l":"59406.95","v":"12.525","n":100,"x":false,"q":"744470.1","V":"6.262","Q":"372235.0","B":"0"}}`"""

    E: int
    s: str
    k: _Kline


class _MarkPriceEvent(msgspec.Struct, tag_field="e", tag="markPriceUpdate", gc=False):
    """`{"e":"markPriceUpdate","E":1795519167000,"s":"BTCUSDT","p":"59439.30000000",
    "i":"59433.35000000","P":"59433.35000000","r":"0.00010000","T":1795536000000}`"""

    E: int
    s: str
    p: Decimal
    i: Decimal
    r: Decimal
    T: int


class _AggTradeEvent(msgspec.Struct, tag_field="e", tag="aggTrade", gc=False):
    """`{"e":"aggTrade","E":1795519167010,"a":26129,"s":"BTCUSDT","p":"59439.30","q":"0.010",
    "f":100,"l":105,"T":1795519167008,"m":true}` (`m`: buyer is maker, so the taker sold)"""

    E: int
    a: int
    s: str
    p: Decimal
    q: Decimal
    T: int
    m: bool


class _BookTickerEvent(msgspec.Struct, tag_field="e", tag="bookTicker", gc=False):
    """`{"e":"bookTicker","u":400900217,"E":1795519167010,"T":1795519167008,"s":"BTCUSDT",
    "b":"59439.20","B":"1.000","a":"59439.40","A":"1.000"}`"""

    E: int
    s: str
    b: Decimal
    B: Decimal
    a: Decimal
    A: Decimal


_Event = _KlineEvent | _MarkPriceEvent | _AggTradeEvent | _BookTickerEvent


class _Combined(msgspec.Struct, gc=False):
    """`{"stream":"btcusdt@kline_1m","data":{...one of the events above...}}`"""

    stream: str
    data: _Event


class ControlReply(msgspec.Struct):
    """Answer to SUBSCRIBE/UNSUBSCRIBE/...: `{"result":null,"id":1}` or `{"code":2,"msg":"...","id":1}`."""

    id: int | None = None
    result: list[str] | None = None
    code: int | None = None
    msg: str | None = None


_combined = msgspec.json.Decoder(_Combined, strict=False)
_raw = msgspec.json.Decoder(_Event, strict=False)
_control = msgspec.json.Decoder(ControlReply)


def parse_frame(frame: bytes | str, received_time: int, *, combined: bool = True) -> tuple[str, MarketEvent]:
    """Decode one market-stream frame into (stream name, domain event).

    Raises `FrameError` for malformed JSON, an unknown event, or impossible values. Control
    replies are not market events: use `parse_control` for frames that fail here with a
    missing `stream`.
    """
    try:
        if combined:
            envelope = _combined.decode(frame)
            stream, event = envelope.stream, envelope.data
        else:
            event = _raw.decode(frame)
            stream = ""
    except msgspec.ValidationError as exc:       # well-formed JSON, not a market event we know
        raise FrameError(_stream_hint(frame), f"unexpected content: {exc}") from None
    except msgspec.DecodeError as exc:
        raise FrameError(_stream_hint(frame), f"invalid JSON: {exc}") from None
    if type(event) is _KlineEvent:      # most frames: skip a call
        return stream, _candle(stream, event, received_time)
    return stream, _to_domain(stream, event, received_time)


def parse_control(frame: bytes | str) -> ControlReply | None:
    """The control reply in `frame`, or None when it is not one."""
    try:
        reply = _control.decode(frame)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return reply if reply.id is not None or reply.code is not None else None


def _to_domain(stream: str, event: _Event, received_time: int) -> MarketEvent:
    if type(event) is _KlineEvent:
        return _candle(stream, event, received_time)
    if type(event) is _MarkPriceEvent:
        _positive(stream, "mark price", event.p)
        return MarkPrice(event.s, event.p, event.i, event.r, event.T, event.E, received_time)
    if type(event) is _AggTradeEvent:
        _positive(stream, "trade price", event.p)
        return AggTrade(event.s, event.a, event.p, event.q, Side.SELL if event.m else Side.BUY,
                        event.T, event.E, received_time)
    assert type(event) is _BookTickerEvent
    _positive(stream, "bid price", event.b)
    _positive(stream, "ask price", event.a)
    return BookTicker(event.s, event.b, event.B, event.a, event.A, event.E, received_time)


def _candle(stream: str, event: _KlineEvent, received_time: int) -> Candle:
    k = event.k
    o, h, l, c, v = k.o, k.h, k.l, k.c, k.v
    # One combined comparison chain covers NaN (all comparisons false) and the common case fast.
    if not (0.0 < l <= o <= h and l <= c <= h and 0.0 <= v < math.inf and h < math.inf):
        raise FrameError(stream, _kline_problem(o, h, l, c, v))
    step = INTERVAL_MS.get(k.i)
    if step is None:
        raise FrameError(stream, f"unknown interval {k.i!r}")
    if k.t + step - 1 != k.T or k.t % step:
        raise FrameError(stream, f"kline times t={k.t} T={k.T} do not match interval {k.i}")
    return Candle(k.s, k.i, k.t, k.T, o, h, l, c, v, k.x, event.E, received_time)


def _kline_problem(o: float, h: float, l: float, c: float, v: float) -> str:  # noqa: E741
    named = {"open": o, "high": h, "low": l, "close": c, "volume": v}
    for name, value in named.items():
        if not math.isfinite(value):
            return f"{name} is {value}"
    for name, value in named.items():
        if value < 0 or (value == 0 and name != "volume"):
            return f"{name} is {value}, must be positive"
    if h < l:
        return f"high {h} is below low {l}"
    return f"open {o} / close {c} outside the range low {l} .. high {h}"


def _positive(stream: str, what: str, value: Decimal) -> None:
    if not (value.is_finite() and value > 0):
        raise FrameError(stream, f"{what} is {value}, must be a positive number")


def _stream_hint(frame: bytes | str) -> str:
    """Best-effort stream name from a frame that failed to decode (for the error counters)."""
    text = frame[:300] if isinstance(frame, str) else frame[:300].decode("utf-8", "replace")
    match = _STREAM_RE.search(text)
    return match.group(1) if match else ""
