"""`slt sim` / `python -m engine.sim`: run the local Binance USDⓈ-M exchange until Ctrl-C.

Prints its REST and websocket URLs and the account keys (never secrets; the demo account's
secret is public by design). Health check: `GET /fapi/v1/ping`."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli.tables import iso_utc
from engine.config import Settings
from engine.core.secret import Secret
from engine.sim.options import (
    DEFAULT_START,
    DEMO_KEY,
    DEMO_SECRET,
    AccountSpec,
    SimOptions,
    parse_account,
    parse_speed,
    parse_time,
)

if TYPE_CHECKING:  # the server (aiohttp) is imported only when the simulator runs, not for `slt --help`
    from engine.sim.server import Simulator

ENV_ACCOUNT = re.compile(r"^SLT_ACCOUNT_(?P<id>[A-Z0-9_]+)_KEY$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to bind (default SLT_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port for REST, websockets and /admin (default SLT_SIM_PORT, 8765)")
    parser.add_argument("--speed", help="replay speed: a factor of real time (1, 60) or 'max' (default SLT_SIM_SPEED)")
    parser.add_argument("--paused", action="store_true", help="start with the replay clock paused (POST /admin/clock/resume)")
    parser.add_argument("--account", action="append", default=[], metavar="KEY:SECRET[:USDT]",
                        help="an account (repeatable); 10000 USDT unless given")
    parser.add_argument("--no-demo", action="store_true", help=f"do not create the demo account ({DEMO_KEY})")
    parser.add_argument("--symbols", help="comma-separated symbols (default SLT_SYMBOLS)")
    parser.add_argument("--interval", help="base candle interval of the replay (default SLT_INTERVAL, 1m)")
    parser.add_argument("--start", help="replay start, ISO UTC time or epoch ms (default 2025-05-06T00:00Z for files)")
    parser.add_argument("--end", help="replay end, ISO UTC time or epoch ms (default: end of the data)")
    parser.add_argument("--source", choices=("file", "synthetic"), default="file", help="candle source")
    parser.add_argument("--data-dir", type=Path, help="market data directory (default SLT_MARKET_DATA_DIR)")
    parser.add_argument("--regimes", help="synthetic regimes, e.g. normal:48,crash:24,rally:24")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic source and listen keys")
    parser.add_argument("--history-hours", type=int, default=24,
                        help="synthetic source: hours of series before the start (the engine measures regimes on "
                             "the last 25 h, so give it 26+ to have one at once)")
    parser.add_argument("--ticks-per-bar", type=int, default=12, help="path points per candle (>= 3)")
    parser.add_argument("--maker-fee", default="0.0002")
    parser.add_argument("--taker-fee", default="0.0005")
    parser.add_argument("--slippage", default="0.1", help="market-order impact coefficient (0 = none)")
    parser.add_argument("--weight-limit", type=int, default=2400, help="REST request weight per minute per IP")
    parser.add_argument("--order-limit-10s", type=int, default=300, help="new orders per account per 10 s")
    parser.add_argument("--order-limit-1m", type=int, default=1200, help="new orders per account per minute")
    parser.add_argument("--end-after", help="replay length instead of --end, e.g. 1d, 6h, 90m")
    parser.add_argument("--listen-key-ttl", type=float, default=3600.0, help="listen key validity in seconds")
    parser.add_argument("--ws-ping-interval", type=float, default=180.0)
    parser.add_argument("--ws-pong-timeout", type=float, default=600.0)
    parser.add_argument("--ws-max-queue", type=int, default=20_000, help="frames queued per client before it is dropped")
    parser.add_argument("--state", type=Path, metavar="FILE",
                        help="remember the exchange (accounts, orders, replay time) in FILE across restarts")


def env_accounts(environ: dict[str, str]) -> list[AccountSpec]:
    """SLT_API_KEY/SECRET and SLT_ACCOUNT_<ID>_KEY/_SECRET pairs, so the engine's configured accounts
    exist on the simulator."""
    pairs = []
    if environ.get("SLT_API_KEY") and environ.get("SLT_API_SECRET"):
        pairs.append((environ["SLT_API_KEY"], environ["SLT_API_SECRET"]))
    for name, key in sorted(environ.items()):
        m = ENV_ACCOUNT.match(name)
        if m and environ.get(f"SLT_ACCOUNT_{m['id']}_SECRET"):
            pairs.append((key, environ[f"SLT_ACCOUNT_{m['id']}_SECRET"]))
    return [AccountSpec(k, Secret(s)) for k, s in pairs if k]


def options_from(args: argparse.Namespace, settings: Settings, environ: dict[str, str] | None = None) -> SimOptions:
    accounts = env_accounts(dict(os.environ if environ is None else environ))
    accounts += [parse_account(a) for a in args.account]
    seen: dict[str, AccountSpec] = {}
    for account in accounts:
        seen[account.key] = account
    values = dict(
        host=args.host or settings.host, port=settings.sim_port if args.port is None else args.port,
        speed=parse_speed(args.speed) if args.speed else settings.sim_speed, paused=args.paused,
        symbols=tuple(s.strip().upper() for s in args.symbols.split(",")) if args.symbols else settings.symbols,
        interval=args.interval or settings.interval, source=args.source,
        start_ms=parse_time(args.start) if args.start else None, end_ms=parse_time(args.end) if args.end else None,
        orders_per_10s=args.order_limit_10s, orders_per_minute=args.order_limit_1m,
        data_dir=args.data_dir or settings.market_data_dir, seed=args.seed, accounts=tuple(seen.values()),
        demo_account=not args.no_demo, ticks_per_bar=args.ticks_per_bar, maker_fee=Decimal(args.maker_fee),
        taker_fee=Decimal(args.taker_fee), slippage=Decimal(args.slippage), weight_limit=args.weight_limit,
        listen_key_ttl=args.listen_key_ttl, synthetic_history_hours=args.history_hours,
        ws_ping_interval=args.ws_ping_interval, ws_pong_timeout=args.ws_pong_timeout, ws_max_queue=args.ws_max_queue,
        state_file=args.state)
    if args.regimes:
        values["regimes"] = args.regimes
    if args.end_after:
        start = values["start_ms"] if values["start_ms"] is not None else parse_time(DEFAULT_START)
        values["end_ms"] = start + parse_duration(args.end_after)
    return SimOptions(**values)


def parse_duration(text: str) -> int:
    """'90m', '6h', '2d' -> milliseconds."""
    m = re.fullmatch(r"(\d+)([mhd])", text.strip())
    if not m:
        raise ValueError(f"a duration is a number and m, h or d (90m, 6h, 2d); got {text!r}")
    return int(m[1]) * {"m": 60_000, "h": 3_600_000, "d": 86_400_000}[m[2]]


def banner(sim: Simulator) -> str:
    lines = [f"simulator: REST {sim.rest_url}   websockets {sim.ws_url}   admin {sim.rest_url}/admin/state",
             f"replay: {sim.market.interval} candles of {', '.join(sorted(sim.market.states))} from "
             f"{iso_utc(sim.replay.start_ms)} to {iso_utc(sim.replay.end_ms)} at speed "
             f"{'max' if sim.replay.speed == float('inf') else sim.replay.speed}{' (paused)' if sim.replay.paused else ''}"]
    for key, account in sim.exchange.accounts.items():
        shown = key if key == DEMO_KEY else key[:4] + "..."
        extra = f" secret {DEMO_SECRET} (public demo credentials)" if key == DEMO_KEY else ""
        lines.append(f"account: key {shown}{extra}, {account.wallet} USDT")
    return "\n".join(lines)


async def serve(options: SimOptions) -> None:
    from engine.sim.server import Simulator
    sim = Simulator(options)
    await sim.start()
    print(banner(sim), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop()


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        options = options_from(args, settings)
    except ValueError as exc:
        print(f"slt sim: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(options))
    except (ValueError, OSError) as exc:
        print(f"slt sim: {exc}", file=sys.stderr)
        return 1
    return 0
