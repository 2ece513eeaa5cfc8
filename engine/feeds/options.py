"""Everything the market feed can be told, with the original system's connection parameters as
defaults. Tests scale the timers down through the same fields.

How the original's websockets parameters map onto websockets 16 (`websockets.asyncio.client.connect`):

| original        | here                       | websockets 16                                              |
|-----------------|----------------------------|------------------------------------------------------------|
| ping_interval 10 s, ping_timeout 30 s | `ping_interval`, `ping_timeout` | our own `Heartbeat` task; the built-in keepalive is off (`ping_interval=None`) so pings, pongs and latency are observable |
| close_timeout 10 s | `close_timeout`          | `close_timeout`                                            |
| max_size 10 MB  | `max_size`                 | `max_size` (largest accepted message)                      |
| write_limit 64 KB | `write_limit`            | `write_limit` (high-water mark of the send buffer)         |
| read_limit 64 KB | `read_limit`              | no byte limit exists; `max_queue` bounds buffered *messages*, so it is `read_limit // FRAME_BYTES` = 128 frames of a typical ~0.5 KB market frame. Our socket hands each frame to the parser as soon as the protocol has framed it (no per-message queue), so in practice that queue stays empty and the unread bytes wait in the kernel's socket buffer |
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.intervals import INTERVAL_MS

FRAME_BYTES = 512                      # a typical combined kline frame is 400-500 bytes
MAX_STREAMS = 1024                     # Binance: streams per connection
MARK_PRICE_STREAMS = ("markPrice", "markPrice@1s")
SUBSCRIBE_MODES = ("message", "url")


@dataclass(frozen=True)
class FeedOptions:
    symbols: tuple[str, ...]
    intervals: tuple[str, ...] = ("1m",)
    mark_price: str | None = "markPrice@1s"     # None: no mark-price stream; "markPrice": every 3 s
    agg_trade: bool = False
    book_ticker: bool = False
    # connection (the original system's values)
    ping_interval: float = 10.0
    ping_timeout: float = 30.0
    close_timeout: float = 10.0
    open_timeout: float = 10.0
    max_size: int = 10 * 2**20
    write_limit: int = 64 * 2**10
    read_limit: int = 64 * 2**10
    ws_lag_seconds: float = 60.0               # watchdog: no market message this long forces a reconnect
    rotate_after: float = 23 * 3600.0           # Binance closes a connection at 24 h; we replace it before
    max_streams_per_connection: int = MAX_STREAMS
    subscribe: str = "message"                  # SUBSCRIBE after connecting, or streams in the URL ("url")
    subscribe_batch: int = 200                  # streams per SUBSCRIBE message
    subscribe_pause: float = 0.25               # between SUBSCRIBE messages (Binance allows 10 messages/s)
    routed: bool = True                         # /market/stream and /public/stream (Binance since 2026-03)
    # reconnect schedule (engine.core.backoff.Backoff)
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    backoff_jitter: float = 0.2
    backoff_long_after: int = 5
    backoff_long_delay: float = 60.0
    # gap backfill over REST
    backfill_page: int = 1000                   # ccxt's cap for Binance klines
    backfill_retry: float = 1.0                 # first delay after a failed backfill, doubling
    backfill_retry_cap: float = 60.0
    backfill_check_interval: float = 60.0       # also look for gaps this often (safety net)
    # consumers and the store
    queue_size: int | None = 10_000             # None: no event queue (store only, `slt feed`)
    sink_batch: int = 500
    sink_interval: float = 1.0
    sink_retry: float = 1.0
    backwards_tolerance_ms: int = 60_000        # a stream's first frame may not be older than this
    heartbeat_log_every: int = 60               # one 💓 line at INFO per this many heartbeats

    def __post_init__(self) -> None:
        problems = []
        if not self.symbols:
            problems.append("symbols must not be empty")
        for interval in self.intervals:
            if interval not in INTERVAL_MS:
                problems.append(f"interval {interval!r} is not one of {', '.join(INTERVAL_MS)}")
        if not self.intervals:
            problems.append("intervals must not be empty")
        if self.mark_price is not None and self.mark_price not in MARK_PRICE_STREAMS:
            problems.append(f"mark_price must be None or one of {MARK_PRICE_STREAMS}, got {self.mark_price!r}")
        if self.subscribe not in SUBSCRIBE_MODES:
            problems.append(f"subscribe must be one of {SUBSCRIBE_MODES}, got {self.subscribe!r}")
        for name in ("ping_interval", "ping_timeout", "close_timeout", "open_timeout", "ws_lag_seconds",
                     "rotate_after", "backoff_base", "backoff_cap", "backoff_long_delay", "backfill_retry",
                     "backfill_retry_cap", "backfill_check_interval", "sink_interval", "sink_retry"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be seconds > 0, got {getattr(self, name)}")
        for name in ("max_size", "write_limit", "read_limit", "subscribe_batch", "backfill_page", "sink_batch",
                     "heartbeat_log_every", "backoff_long_after"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 1 <= self.max_streams_per_connection <= MAX_STREAMS:
            problems.append(f"max_streams_per_connection must be 1-{MAX_STREAMS}, got {self.max_streams_per_connection}")
        if self.queue_size is not None and self.queue_size < 1:
            problems.append(f"queue_size must be None or >= 1, got {self.queue_size}")
        if not 0 <= self.backoff_jitter < 1:
            problems.append(f"backoff_jitter must be in [0, 1), got {self.backoff_jitter}")
        if problems:
            raise ValueError("feed options: " + "; ".join(problems))

    @property
    def max_queue(self) -> int:
        """websockets' `max_queue` (messages) standing in for the original's byte read limit."""
        return max(16, self.read_limit // FRAME_BYTES)
