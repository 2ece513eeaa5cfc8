"""Websocket market data: combined Binance streams parsed at the border into domain types,
with heartbeat, capped backoff, a watchdog, rotation and gap backfill."""
