"""Websocket market data: combined Binance streams parsed at the border into domain types, with a
heartbeat, capped backoff, a watchdog, rotation before the 24 h limit and gap backfill, so that
every closed candle is emitted in order exactly once and recorded in the store.

Public API: `engine.feeds.market.MarketFeed` (with `FeedOptions`, `FeedStatus`, `LivePrice`), and
`engine.wiring.open_feed(settings, recorder)` for a configured feed. `slt feed`
(engine/cli/feed.py) runs it alone. Modules: parse, sequencer, streams, options, connection,
heartbeat, supervisor, router, backfill, sink, events, status, market, service."""
