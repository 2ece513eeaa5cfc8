"""Everything `slt sim` can be told, with defaults that give a working Binance stand-in.

The demo account is deliberately public: key `slt-demo-key`, secret `slt-demo-secret`, 10,000 USDT.
Its secret is not a secret; real exchange keys never reach the simulator."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from engine.core.secret import Secret

DEMO_KEY = "slt-demo-key"
DEMO_SECRET = "slt-demo-secret"
DEMO_USDT = Decimal(10_000)
DEFAULT_START = "2025-05-06T00:00:00Z"     # inside the bundled 1m BTCUSDT/ETHUSDT window


@dataclass(frozen=True)
class AccountSpec:
    key: str
    secret: Secret
    usdt: Decimal = DEMO_USDT


def parse_account(text: str) -> AccountSpec:
    """KEY:SECRET[:USDT]"""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ValueError("an account is KEY:SECRET[:USDT], e.g. alice-key:alice-secret:5000")
    usdt = DEMO_USDT
    if len(parts) == 3:
        try:
            usdt = Decimal(parts[2])
        except InvalidOperation:
            raise ValueError(f"account {parts[0]}: USDT balance {parts[2]!r} is not a number") from None
        if not usdt.is_finite() or usdt < 0:
            raise ValueError(f"account {parts[0]}: USDT balance must be >= 0")
    return AccountSpec(parts[0], Secret(parts[1]), usdt)


def parse_time(text: str) -> int:
    """ISO date/time (UTC if no zone) or epoch milliseconds -> ms."""
    if text.strip().isdigit():
        return int(text)
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def parse_speed(text: str | float) -> float:
    if isinstance(text, (int, float)):
        speed = float(text)
    elif text.strip().lower() == "max":
        return math.inf
    else:
        try:
            speed = float(text)
        except ValueError:
            raise ValueError(f"speed must be 'max' or a number > 0, got {text!r}") from None
    if not speed > 0 or math.isnan(speed):
        raise ValueError(f"speed must be 'max' or a number > 0, got {text!r}")
    return speed


@dataclass(frozen=True)
class SimOptions:
    host: str = "127.0.0.1"
    port: int = 8765                         # 0: any free port (read it back from Simulator.port)
    speed: float = 60.0                      # x real time; math.inf = max
    paused: bool = False
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "XRPUSDT")
    interval: str = "1m"
    start_ms: int | None = None              # default DEFAULT_START (file) / 1 day into the series (synthetic)
    end_ms: int | None = None                # default: end of the data
    source: str = "file"                     # file | synthetic
    data_dir: Path = Path("data/market")
    regimes: str = "normal:48,high:24,low:24,crash:24,rally:24,normal:48"
    seed: int = 0
    synthetic_history_hours: int = 24        # synthetic series start this long before `start_ms`
    accounts: tuple[AccountSpec, ...] = ()
    demo_account: bool = True
    ticks_per_bar: int = 12
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0005")
    slippage: Decimal = Decimal("0.1")
    weight_limit: int = 2400
    orders_per_10s: int = 300
    orders_per_minute: int = 1200
    listen_key_ttl: float = 3600.0           # seconds of real time
    ws_ping_interval: float = 180.0
    ws_pong_timeout: float = 600.0
    ws_max_age: float = 86_400.0
    ws_max_queue: int = 20_000
    ws_message_rate: int = 10                # incoming messages per second per connection
    ws_max_streams: int = 1024
    slow_client_timeout: float = 10.0
    restart_grace: float = 0.2
    state_file: Path | None = None           # remember the exchange across restarts (engine/sim/persist.py)
    state_every: float = 10.0                # seconds between state saves (and one at a clean stop)

    def __post_init__(self) -> None:
        problems = []
        if not 0 <= self.port <= 65535:
            problems.append(f"port must be 0-65535, got {self.port}")
        if self.ticks_per_bar < 3:
            problems.append(f"ticks_per_bar must be >= 3 (open, high, low, close), got {self.ticks_per_bar}")
        if not self.speed > 0:
            problems.append(f"speed must be > 0, got {self.speed}")
        for name in ("maker_fee", "taker_fee", "slippage"):
            value = getattr(self, name)
            if not value.is_finite() or value < 0:
                problems.append(f"{name} must be a number >= 0, got {value}")
        for name in ("weight_limit", "orders_per_10s", "orders_per_minute", "ws_max_queue", "ws_message_rate",
                     "ws_max_streams"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("listen_key_ttl", "ws_ping_interval", "ws_pong_timeout", "ws_max_age", "slow_client_timeout"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be seconds > 0, got {getattr(self, name)}")
        if self.source not in ("file", "synthetic"):
            problems.append(f"source must be file or synthetic, got {self.source!r}")
        if problems:
            raise ValueError("; ".join(problems))

    def all_accounts(self) -> tuple[AccountSpec, ...]:
        demo = (AccountSpec(DEMO_KEY, Secret(DEMO_SECRET), DEMO_USDT),) if self.demo_account else ()
        keys = {a.key for a in self.accounts}
        return tuple(a for a in demo if a.key not in keys) + self.accounts


__all__ = ["SimOptions", "AccountSpec", "parse_account", "parse_time", "parse_speed", "DEMO_KEY", "DEMO_SECRET"]
