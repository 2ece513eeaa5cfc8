"""Stream names and the connection plan: which streams go on which websocket connection.

Binance USDⓈ-M routes streams by family since its change notice of 2026-03-06: kline, markPrice and
aggTrade on `/market/...`, bookTicker on `/public/...` (the legacy `/stream` path serves all of them
and is what `routed=False` uses). A connection carries at most 1024 streams, so each family is cut
into connections of at most `max_streams_per_connection`, in a stable order, so that a symbol keeps
its connection across restarts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from engine.feeds.options import FeedOptions

MARKET = "market"
PUBLIC = "public"


def kline_stream(symbol: str, interval: str) -> str:
    return f"{symbol.lower()}@kline_{interval}"


@dataclass(frozen=True)
class ConnectionPlan:
    """One websocket connection's streams (all of one family)."""

    name: str                      # e.g. "market-0"
    family: str
    streams: tuple[str, ...]

    def url(self, ws_root: str, *, routed: bool, streams_in_url: bool) -> str:
        base = ws_root.rstrip("/") + (f"/{self.family}/stream" if routed else "/stream")
        return base + "?streams=" + "/".join(self.streams) if streams_in_url else base

    def subscribe_messages(self, batch: int, first_id: int = 1) -> list[str]:
        """SUBSCRIBE requests of at most `batch` streams each, ids from `first_id` on."""
        return [json.dumps({"method": "SUBSCRIBE", "params": list(self.streams[i:i + batch]),
                            "id": first_id + n})
                for n, i in enumerate(range(0, len(self.streams), batch))]


def stream_names(options: FeedOptions) -> list[tuple[str, str]]:
    """(family, stream) for every stream the options ask for, symbol by symbol."""
    names: list[tuple[str, str]] = []
    for symbol in options.symbols:
        lower = symbol.lower()
        names += [(MARKET, kline_stream(symbol, interval)) for interval in options.intervals]
        if options.mark_price:
            names.append((MARKET, f"{lower}@{options.mark_price}"))
        if options.agg_trade:
            names.append((MARKET, f"{lower}@aggTrade"))
        if options.book_ticker:
            names.append((PUBLIC, f"{lower}@bookTicker"))
    return names


def plan_connections(options: FeedOptions) -> list[ConnectionPlan]:
    by_family: dict[str, list[str]] = {}
    for family, stream in stream_names(options):
        family = family if options.routed else MARKET
        by_family.setdefault(family, []).append(stream)
    plans = []
    size = options.max_streams_per_connection
    for family, streams in by_family.items():
        for n, i in enumerate(range(0, len(streams), size)):
            plans.append(ConnectionPlan(f"{family}-{n}", family, tuple(streams[i:i + size])))
    return plans
