"""`slt feed`: run the market data feed alone, writing closed candles to the store.

    slt feed                          # SLT_SYMBOLS / SLT_INTERVAL against SLT_EXCHANGE_WS_URL
    slt feed --symbols BTCUSDT --intervals 1m,5m --for 3600 --status-every 30

Useful to collect data and to watch the feed's health. It resumes after the last stored candle of
each stream, so a restart backfills the time it was down. Ctrl-C (or SIGTERM) stops it cleanly:
every emitted candle is durable in the store when it exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
from dataclasses import asdict, replace
from typing import Any

from engine.config import KNOWN_INTERVALS, SYMBOL_RE, Settings
from engine.core.aio import within
from engine.store.recorder import TradeRecorder
from engine.wiring import open_feed

log = logging.getLogger("engine.feeds")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbols", type=_symbol_list, help="comma-separated symbols (default: SLT_SYMBOLS)")
    parser.add_argument("--intervals", type=_intervals, help="comma-separated kline intervals (default: SLT_INTERVAL)")
    parser.add_argument("--agg-trade", action="store_true", help="also subscribe to <symbol>@aggTrade")
    parser.add_argument("--book-ticker", action="store_true", help="also subscribe to <symbol>@bookTicker")
    parser.add_argument("--for", dest="duration", type=float, metavar="SECONDS", help="stop after this long")
    parser.add_argument("--status-every", type=float, default=60.0, metavar="SECONDS",
                        help="log a status line this often (default 60)")
    parser.add_argument("--status-json", action="store_true", help="print the final status as JSON on stdout")


def _symbol_list(raw: str) -> tuple[str, ...]:
    values = tuple(v.strip().upper() for v in raw.split(",") if v.strip())
    if not values or not all(SYMBOL_RE.match(v) for v in values):
        raise argparse.ArgumentTypeError(f"symbols are a comma-separated list such as BTCUSDT,ETHUSDT; got {raw!r}")
    return values


def _intervals(raw: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in raw.split(",") if v.strip())
    bad = [v for v in values if v not in KNOWN_INTERVALS]
    if not values or bad:
        raise argparse.ArgumentTypeError(f"intervals must be among {', '.join(KNOWN_INTERVALS)}; got {raw!r}")
    return values


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.symbols:
        settings = replace(settings, symbols=args.symbols)
    overrides: dict[str, Any] = {"queue_size": None, "agg_trade": args.agg_trade, "book_ticker": args.book_ticker}
    if args.intervals:
        overrides["intervals"] = args.intervals
    status = asyncio.run(serve(settings, overrides, args.duration, args.status_every))
    if args.status_json:
        print(json.dumps(status, default=str))
    return 0


async def serve(settings: Settings, overrides: dict[str, Any], duration: float | None,
                status_every: float) -> dict[str, Any]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    recorder = TradeRecorder(settings).start()
    try:
        feed = await open_feed(settings, recorder, **overrides)
        try:
            deadline = None if duration is None else loop.time() + duration
            while not stop.is_set():
                wait = status_every if deadline is None else max(0.0, min(status_every, deadline - loop.time()))
                with contextlib.suppress(TimeoutError):
                    await within(stop.wait(), wait)
                if deadline is not None and loop.time() >= deadline:
                    break
                _log_status(feed.status())
        finally:
            await feed.stop()
        final = feed.status()
        _log_status(final)
        return asdict(final)
    finally:
        await recorder.aclose()


def _log_status(status: Any) -> None:
    log.info("feed: %s, %d messages, %d bad frames, %d candles emitted (%d backfilled, %d duplicates dropped), "
             "%d recorded, %d reconnects, latency %s ms", "connected" if status.connected else "NOT connected",
             status.message_count, status.error_count, status.candles_emitted, status.backfilled_bars,
             status.duplicates_dropped, status.candles_recorded, status.reconnects,
             f"{status.latency_ms:.2f}" if status.latency_ms is not None else "-")
