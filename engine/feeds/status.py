"""Plain snapshots of the feed's state for the health monitor (`MarketFeed.status()`).

Times are milliseconds since the Unix epoch on the feed's clock (`None`: never happened);
`latest_exchange_time` is on the exchange's clock (the latest event time seen, or a closed bar's end).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConnectionStatus:
    name: str                       # "market-0": family and index in the connection plan
    streams: int
    connected: bool                 # subscribed and delivering
    connected_since: int | None
    last_message_time: int | None   # last market frame received
    last_pong_time: int | None
    latency_ms: float | None        # last ping -> pong round trip
    reconnects: int                 # connections opened after the first (not counting rotations)
    consecutive_failures: int       # failed attempts since the last good connection (backoff position)
    failed_attempts: int
    rotations: int                  # planned replacements before the 24 h limit
    watchdog_trips: int             # reconnects forced by silence (ws_lag_seconds)
    pong_timeouts: int              # reconnects forced by an overdue pong
    last_error: str | None


@dataclass(frozen=True)
class FeedStatus:
    taken_at: int
    connected: bool                 # every planned connection is up
    connections: tuple[ConnectionStatus, ...]
    messages: dict[str, int]        # valid frames per stream
    errors: dict[str, int]          # bad frames per stream (unknown streams included, by name)
    last_errors: dict[str, str]
    latest_exchange_time: int
    candles_emitted: int            # closed candles released in order (live + backfilled)
    duplicates_dropped: int         # closed candles seen again (reconnect/rotation overlap, backfill races)
    backfilled_bars: int            # closed candles that came from REST
    missing_at_exchange: int        # bars the exchange's own history does not have
    held: int                       # live candles waiting behind a hole for backfill
    backfill_runs: int
    backfill_failures: int
    backfill_last_error: str | None
    events_dropped: int             # price events dropped by a full consumer queue
    candles_waiting: int            # closed candles waiting for room in the consumer queue
    candles_recorded: int           # handed to the store and acknowledged durable
    candles_unrecorded: int         # emitted but not yet acknowledged by the store
    store_failures: int
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def last_message_time(self) -> int | None:
        times = [c.last_message_time for c in self.connections if c.last_message_time is not None]
        return max(times) if times else None

    @property
    def last_pong_time(self) -> int | None:
        times = [c.last_pong_time for c in self.connections if c.last_pong_time is not None]
        return min(times) if len(times) == len(self.connections) and times else None

    @property
    def latency_ms(self) -> float | None:
        """The worst connection's latest round trip."""
        values = [c.latency_ms for c in self.connections if c.latency_ms is not None]
        return max(values) if values else None

    @property
    def reconnects(self) -> int:
        return sum(c.reconnects for c in self.connections)

    @property
    def consecutive_failures(self) -> int:
        return max((c.consecutive_failures for c in self.connections), default=0)

    @property
    def message_count(self) -> int:
        return sum(self.messages.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())
