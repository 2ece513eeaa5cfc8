"""The receive path's decisions, frame by frame: which frames are rejected and under which stream,
what becomes an event, when a hole asks for a backfill, and the exchange clock it keeps."""

from __future__ import annotations

import json
from typing import Any

from engine.core.market import MarkPrice
from engine.core.types import Candle
from engine.feeds.events import EventQueue
from engine.feeds.parse import ControlReply, parse_control
from engine.feeds.router import MAX_UNKNOWN_STREAMS, FrameRouter
from engine.feeds.sequencer import CandleSequencer

M = 60_000
T0 = 1_746_489_600_000
KLINE, MARK = "btcusdt@kline_1m", "btcusdt@markPrice@1s"


class Socket:
    """The per-connection state the router reads and writes (a FeedSocket's, without a network)."""

    def __init__(self) -> None:
        self.received_ms = 7
        self.event_times: dict[str, int] = {}
        self.delivering = False
        self.replies: list[Any] = []

    def mark_delivering(self) -> None:
        self.delivering = True

    def control(self, frame: bytes) -> bool:
        reply = parse_control(frame)
        if reply is not None:
            self.replies.append(reply)
        return reply is not None


def kline(bar: int, *, closed: bool = False, at: int | None = None, stream: str = KLINE, close: str = "100.5") -> bytes:
    t = T0 + bar * M
    return json.dumps({"stream": stream, "data": {"e": "kline", "E": at if at is not None else t + (M - 1 if closed else 5),
                       "s": "BTCUSDT", "k": {"t": t, "T": t + M - 1, "s": "BTCUSDT", "i": "1m", "o": "100",
                                             "c": close, "h": "101", "l": "99", "v": "3", "x": closed}}}).encode()


def mark(at: int, price: str = "100.2") -> bytes:
    return json.dumps({"stream": MARK, "data": {"e": "markPriceUpdate", "E": at, "s": "BTCUSDT", "p": price,
                                                "i": "100.1", "P": "100.1", "r": "0.0001", "T": at + 8 * 3600_000}}).encode()


class Harness:
    def __init__(self) -> None:
        self.emitted: list[Candle] = []
        self.holes = 0
        self.queue = EventQueue(100)
        self.router = FrameRouter([KLINE, MARK], CandleSequencer(), self.emitted.extend, self.hole, self.queue)

    def hole(self) -> None:
        self.holes += 1


def test_closed_klines_become_candles_in_order_once_and_a_hole_asks_for_backfill() -> None:
    h, s = Harness(), Socket()
    for frame in (kline(0, closed=True), kline(1), kline(1, closed=True), kline(1, closed=True), kline(3, closed=True)):
        h.router(s, frame)
    assert [c.open_time for c in h.emitted] == [T0, T0 + M] and h.holes == 1
    assert h.router.sequencer.state("BTCUSDT", "1m").duplicates == 1
    assert h.router.latest == T0 + 4 * M            # a closed bar moves the exchange clock to its end
    assert s.delivering and h.router.messages[KLINE] == 5 and h.emitted[0].received_time == 7
    assert len(h.queue) == 0                        # candles leave through `emit`; in-progress klines not at all


def test_in_progress_klines_only_move_the_live_price() -> None:
    h, s = Harness(), Socket()
    h.router(s, kline(0, close="100.5"))
    h.router(s, kline(0, close="100.75", at=T0 + 10))
    assert h.emitted == [] and h.router.klines["BTCUSDT"].close == 100.75 and len(h.queue) == 0


def test_time_going_backwards_on_a_stream_is_rejected() -> None:
    h, s = Harness(), Socket()
    h.router(s, mark(T0 + 2000))
    h.router(s, mark(T0 + 1000))
    h.router(s, mark(T0 + 2000))                     # equal is fine for the stream; a repeated mark is not an event
    assert h.router.errors == {MARK: 1} and "went backwards" in h.router.last_errors[MARK]
    first = h.queue.get_nowait()
    assert isinstance(first, MarkPrice) and first.event_time == T0 + 2000 and len(h.queue) == 0
    assert h.router.repeated == 1


def test_a_streams_first_frame_far_behind_the_feed_is_rejected() -> None:
    h, s = Harness(), Socket()
    h.router(s, mark(T0 + 3600_000))
    h.router(s, kline(0, closed=True))              # an hour behind, first on its stream: backwards_time at start
    assert h.emitted == [] and h.router.errors == {KLINE: 1} and "behind the feed" in h.router.last_errors[KLINE]


def test_overlapping_connections_deliver_a_mark_price_once() -> None:
    h, old, new = Harness(), Socket(), Socket()
    for socket in (old, new):
        h.router(socket, mark(T0 + 1000))
        h.router(socket, mark(T0 + 2000))
    marks = [h.queue.get_nowait() for _ in range(len(h.queue))]
    assert [m.event_time for m in marks if isinstance(m, MarkPrice)] == [T0 + 1000, T0 + 2000]
    assert h.router.errors == {} and h.router.repeated == 2


def test_bad_frames_are_counted_under_their_stream() -> None:
    h, s = Harness(), Socket()
    h.router(s, b'{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1')
    h.router(s, kline(0, close="NaN"))
    h.router(s, kline(0, stream="ethusdt@kline_1m"))                 # valid, but not subscribed
    h.router(s, b'{"result":null,"id":1}')                           # a SUBSCRIBE answer, not a bad frame
    h.router(s, b"[1,2")
    assert h.router.errors == {KLINE: 2, "ethusdt@kline_1m": 1, "<unknown stream>": 1}
    assert "not a subscribed stream" in h.router.last_errors["ethusdt@kline_1m"]
    assert s.replies == [ControlReply(id=1)] and not s.delivering


def test_unknown_stream_names_are_bounded() -> None:
    h, s = Harness(), Socket()
    for i in range(MAX_UNKNOWN_STREAMS + 20):
        h.router(s, kline(0, stream=f"x{i}@kline_1m"))
    assert len(h.router.errors) == MAX_UNKNOWN_STREAMS + 1 and h.router.errors["<other>"] == 20


def test_a_failing_consumer_hook_does_not_escape_the_receive_path() -> None:
    h, s = Harness(), Socket()

    def broken(candles: list[Candle]) -> None:
        raise RuntimeError("consumer bug")

    h.router.emit = broken
    h.router(s, kline(0, closed=True))
    h.router(s, mark(T0 + M))
    assert h.router.errors == {"<unexpected>": 1} and len(h.queue) == 1
