"""One typed, frozen settings object for the whole project.

Values come from the process environment, then an optional `.env` file (the environment wins),
then the defaults below. Every variable is declared once in `VARIABLES`; a value that does not
parse or is out of range, and any `SLT_*` variable nobody declared, stops start-up with a
`ConfigError` that names the variable, the value and what is allowed. Secret values are wrapped
in `Secret` and never appear in a repr, a log line or an error message.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.accounts.account import (
    AccountSpec,
    missing_credentials,
    parse_account_specs,
)
from engine.core.errors import ConfigError
from engine.core.intervals import INTERVAL_MS
from engine.core.priority import parse_train_threads
from engine.core.secret import Secret

__all__ = ["VARIABLES", "ConfigError", "Secret", "Settings", "load_settings", "parse_env_file"]

ENV_PREFIX = "SLT_"
KNOWN_INTERVALS = tuple(INTERVAL_MS)
SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,20}$")
# Per-account credentials (multi-account trading): SLT_ACCOUNT_<ID>_KEY / _SECRET.
DYNAMIC_VARIABLES = (re.compile(r"^SLT_ACCOUNT_[A-Z0-9_]+_(KEY|SECRET)$"),)


@dataclass(frozen=True)
class Var:
    """How one environment variable becomes one settings field."""

    env: str
    field: str
    parse: Callable[[str], Any]
    allowed: str
    secret: bool = False


def _number(lo: float | None = None, hi: float | None = None, *, integer: bool = False,
            lo_open: bool = False) -> Callable[[str], float | int]:
    def parse(raw: str) -> float | int:
        value: float | int = int(raw) if integer else float(raw)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("not finite")
        if lo is not None and (value < lo or (lo_open and value == lo)):
            raise ValueError("too small")
        if hi is not None and value > hi:
            raise ValueError("too large")
        return value
    return parse


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ValueError(value)
        return value
    return parse


def _symbols(raw: str) -> tuple[str, ...]:
    symbols = tuple(s.strip().upper() for s in raw.split(",") if s.strip())
    if not symbols or any(not SYMBOL_RE.match(s) for s in symbols):
        raise ValueError(raw)
    return symbols


def _interval(raw: str) -> str:
    if raw not in KNOWN_INTERVALS:
        raise ValueError(raw)
    return raw


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if not any(raw.startswith(f"{s}://") for s in schemes):
            raise ValueError(raw)
        return raw.rstrip("/")
    return parse


def _text(raw: str) -> str:
    if not raw.strip():
        raise ValueError("empty")
    return raw.strip()


def _port(raw: str) -> int:
    return int(_number(1, 65535, integer=True)(raw))


def _speed(raw: str) -> float:
    """Replay speed: a positive factor of real time, or `max` (as fast as possible)."""
    if raw.strip().lower() == "max":
        return math.inf
    return float(_number(0, None, lo_open=True)(raw))


def _path(raw: str) -> Path:
    return Path(_text(raw)).expanduser()


def _secret(raw: str) -> Secret:
    return Secret(raw)


def _secret_url(raw: str) -> Secret:
    """A URL that is itself a credential (a webhook): checked, then kept masked."""
    if not raw.strip().startswith(("http://", "https://")):
        raise ValueError("not an http(s) URL")
    return Secret(raw.strip())


FRACTION = "a number from 0 to 1"
POSITIVE = "a number greater than 0"

VARIABLES: tuple[Var, ...] = (
    # The original system's variables (names kept), with its defaults.
    Var("BOOTSTRAP_TRADE_LIMIT", "bootstrap_trade_limit", _number(0, None, integer=True), "an integer >= 0"),
    Var("BOOTSTRAP_MIN_CONFIDENCE", "bootstrap_min_confidence", _number(0, 1), FRACTION),
    Var("BOOTSTRAP_MIN_WIN_PROBABILITY", "bootstrap_min_win_probability", _number(0, 1), FRACTION),
    Var("HEALTH_CHECK_INTERVAL", "health_check_interval", _number(0, None, lo_open=True), "seconds, greater than 0"),
    Var("HEALTH_ALERT_THRESHOLD", "health_alert_threshold", _number(1, None, integer=True), "an integer >= 1"),
    Var("ML_RETRAIN_INTERVAL_HOURS", "ml_retrain_interval_hours", _number(0, None, lo_open=True), "hours, greater than 0"),
    Var("ML_DRIFT_THRESHOLD", "ml_drift_threshold", _number(0, 1, lo_open=True), "a number greater than 0 and at most 1"),
    Var("RISK_REGIME_CHECK_INTERVAL", "risk_regime_check_interval", _number(0, None, lo_open=True), "seconds, greater than 0"),
    # Paths: all run-time state lives under the data directory unless moved.
    Var("SLT_DATA_DIR", "data_dir", _path, "a directory path"),
    Var("SLT_STORE_CATALOG", "store_catalog", _text,
        "a DuckLake catalog: a SQLite file path, or 'sqlite:<path>' / 'postgres:<libpq dsn>'"),
    Var("SLT_STORE_DATA_PATH", "store_data_path", _text, "a directory or object-store URL for the lake's Parquet files"),
    Var("SLT_JOURNAL_DIR", "journal_dir", _path, "a directory path on a local disk"),
    Var("SLT_MARKET_DATA_DIR", "market_data_dir", _path, "a directory of candle Parquet files"),
    # Services started by `slt up`.
    Var("SLT_HOST", "host", _text, "a host name or address to bind local services to"),
    Var("SLT_PREFECT_PORT", "prefect_port", _port, "a TCP port 1-65535"),
    Var("SLT_MLFLOW_PORT", "mlflow_port", _port, "a TCP port 1-65535"),
    Var("SLT_PREFECT_API_URL", "prefect_api_url", _url("http", "https"), "an http(s) URL"),
    Var("SLT_MLFLOW_TRACKING_URI", "mlflow_tracking_uri", _url("http", "https"), "an http(s) URL"),
    # Orchestration (prefect.yaml, engine/orchestration.py, engine/jobs): retention of runs, events, snapshots.
    Var("SLT_PREFECT_RUN_RETENTION_DAYS", "prefect_run_retention_days", _number(1 / 24, None), "days, at least 1/24 (1 h)"),
    Var("SLT_PREFECT_EVENT_RETENTION_DAYS", "prefect_event_retention_days", _number(1 / 24, None),
        "days, at least 1/24 (1 h)"),
    Var("SLT_STORE_SNAPSHOT_RETENTION_DAYS", "store_snapshot_retention_days", _number(0, None, lo_open=True),
        "days of DuckLake snapshots kept for time travel, greater than 0"),
    # Exchange: the local simulator by default; Binance (testnet or live) is configuration only.
    Var("SLT_EXCHANGE", "exchange", _choice("sim", "testnet", "binance"), "one of sim, testnet, binance"),
    Var("SLT_EXCHANGE_REST_URL", "exchange_rest_url", _url("http", "https"), "an http(s) URL"),
    Var("SLT_EXCHANGE_WS_URL", "exchange_ws_url", _url("ws", "wss"), "a ws(s) URL"),
    Var("SLT_API_KEY", "api_key", _secret, "an API key", secret=True),
    Var("SLT_API_SECRET", "api_secret", _secret, "an API secret", secret=True),
    Var("SLT_SYMBOLS", "symbols", _symbols, "a comma-separated list of symbols such as BTCUSDT,ETHUSDT"),
    Var("SLT_INTERVAL", "interval", _interval, "one of " + ", ".join(KNOWN_INTERVALS)),
    Var("SLT_SIM_PORT", "sim_port", _port, "a TCP port 1-65535"),
    Var("SLT_SIM_SPEED", "sim_speed", _speed, "'max' or a replay speed factor greater than 0 (1 = real time)"),
    Var("SLT_WS_LAG_SECONDS", "ws_lag_seconds", _number(0, None, lo_open=True), "seconds, greater than 0"),
    Var("SLT_LOG_LEVEL", "log_level", _choice("debug", "info", "warning", "error"), "one of debug, info, warning, error"),
    # Risk and accounts (engine/risk, engine/accounts).
    Var("SLT_MAX_DAILY_DRAWDOWN", "max_daily_drawdown", _number(0, 1, lo_open=True),
        "a fraction greater than 0 and at most 1 (0.05 = 5 %)"),
    Var("SLT_ACCOUNTS", "accounts", parse_account_specs,
        "a comma-separated list of id:TYPE[:weight[:group]] with TYPE one of PRIMARY, SECONDARY, ARBITRAGE, "
        "HEDGE, weight > 0 and group one of aggressive, conservative, neutral"),
    Var("SLT_ACCOUNT_DISTRIBUTION", "account_distribution", _choice("equal", "weighted", "risk_based"),
        "one of equal, weighted, risk_based"),
    # The trading loop (engine/execution, engine/__main__.py).
    Var("SLT_ENTRY_EQUITY_FRACTION", "entry_equity_fraction", _number(0, 1, lo_open=True),
        "a fraction of equity greater than 0 and at most 1 (margin committed per entry)"),
    Var("SLT_LEVERAGE", "leverage", _number(1, 125, integer=True), "an integer leverage from 1 to 125"),
    Var("SLT_STOP_LOSS_ATR", "stop_loss_atr", _number(0, None, lo_open=True), "a multiple of ATR greater than 0"),
    Var("SLT_TAKE_PROFIT_ATR", "take_profit_atr", _number(0, None, lo_open=True), "a multiple of ATR greater than 0"),
    Var("SLT_MAX_HOLD_BARS", "max_hold_bars", _number(1, 10_000, integer=True),
        "an integer from 1 to 10000 (bars a trade may stay open before its time exit)"),
    Var("SLT_WARMUP_BARS", "warmup_bars", _number(50, 1500, integer=True), "an integer from 50 to 1500"),
    Var("SLT_SNAPSHOT_SECONDS", "snapshot_seconds", _number(0, None, lo_open=True),
        "seconds of exchange time between equity snapshots, greater than 0"),
    Var("SLT_USER_POLL_SECONDS", "user_poll_seconds", _number(0, None, lo_open=True),
        "seconds between REST polls while the user-data stream is down, greater than 0"),
    Var("SLT_LISTEN_KEY_KEEPALIVE", "listen_key_keepalive", _number(1, 3600),
        "seconds between listen-key keepalives, from 1 to 3600"),
    Var("SLT_EXCHANGE_TIMEOUT", "exchange_timeout", _number(0, 120, lo_open=True),
        "seconds to wait for an exchange answer, greater than 0 and at most 120"),
    # Health monitor (engine/health): endpoints, alert webhook, the thresholds of its rules.
    Var("SLT_HEALTH_HOST", "health_host", _text, "a host name or address for /health and /metrics"),
    Var("SLT_HEALTH_PORT", "health_port", _port, "a TCP port 1-65535"),
    Var("SLT_ALERT_WEBHOOK_URL", "alert_webhook_url", _secret_url,
        "an http(s) URL that takes a JSON POST (Slack or Discord incoming webhook)", secret=True),
    Var("SLT_HEALTH_MEMORY_PERCENT", "health_memory_percent", _number(1, 100), "a percentage from 1 to 100"),
    Var("SLT_HEALTH_RSS_MB", "health_rss_mb", _number(1, None), "MiB, at least 1"),
    Var("SLT_HEALTH_CPU_PERCENT", "health_cpu_percent", _number(1, None), "a percentage of one core, at least 1"),
    Var("SLT_HEALTH_THREAD_COUNT", "health_thread_count", _number(1, None, integer=True), "an integer >= 1"),
    Var("SLT_HEALTH_API_LATENCY_MS", "health_api_latency_ms", _number(1, None), "milliseconds, at least 1"),
    # Neighbours (engine/core/priority.py): how many threads a training fit may use.
    Var("SLT_TRAIN_THREADS", "train_threads", parse_train_threads,
        "an integer >= 1 (threads a training fit may use; unset = one core fewer than the machine has)"),
    # Online learning (engine/signals/model.py, engine/learning/serving.py, engine/jobs/drift.py).
    Var("SLT_MODEL_POLL_SECONDS", "model_poll_seconds", _number(0, None, lo_open=True),
        "seconds between reads of the champion alias, greater than 0"),
    Var("SLT_MODEL_MAX_FAILURES", "model_max_failures", _number(1, None, integer=True),
        "an integer >= 1 (failed scorings in a row before the engine falls back)"),
    Var("SLT_DRIFT_MIN_SAMPLES", "drift_min_samples", _number(1, None, integer=True),
        "an integer >= 1 (resolved predictions the drift check needs before it judges)"),
)
_BY_ENV = {v.env: v for v in VARIABLES}


@dataclass(frozen=True)
class Settings:
    """Everything configurable, typed and validated. Build it with `load_settings()`."""

    bootstrap_trade_limit: int = 50
    bootstrap_min_confidence: float = 0.25
    bootstrap_min_win_probability: float = 0.20
    health_check_interval: float = 60.0
    health_alert_threshold: int = 3
    ml_retrain_interval_hours: float = 24.0
    ml_drift_threshold: float = 0.15
    risk_regime_check_interval: float = 300.0

    data_dir: Path = Path("data")
    store_catalog: str = ""          # default: sqlite:<data_dir>/lake/catalog.sqlite
    store_data_path: str = ""        # default: <data_dir>/lake/files/
    journal_dir: Path | None = None  # default: <data_dir>/journal
    market_data_dir: Path | None = None  # default: <data_dir>/market

    host: str = "127.0.0.1"
    prefect_port: int = 4200
    mlflow_port: int = 5000
    prefect_api_url: str = ""        # default: http://<host>:<prefect_port>/api
    mlflow_tracking_uri: str = ""    # default: http://<host>:<mlflow_port>
    prefect_run_retention_days: float = 14.0
    prefect_event_retention_days: float = 3.0
    store_snapshot_retention_days: float = 30.0

    exchange: str = "sim"
    exchange_rest_url: str = ""      # default depends on `exchange`
    exchange_ws_url: str = ""
    api_key: Secret = field(default_factory=lambda: Secret(""))
    api_secret: Secret = field(default_factory=lambda: Secret(""))
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "XRPUSDT")
    interval: str = "1m"
    sim_port: int = 8765
    sim_speed: float = 60.0
    ws_lag_seconds: float = 60.0
    log_level: str = "info"
    max_daily_drawdown: float = 0.05
    accounts: tuple[AccountSpec, ...] = ()   # empty: one account, "main", on SLT_API_KEY/SECRET
    account_distribution: str = "weighted"
    account_credentials: tuple[tuple[str, Secret], ...] = ()  # SLT_ACCOUNT_<ID>_KEY/_SECRET values
    entry_equity_fraction: float = 0.05
    leverage: int = 3
    stop_loss_atr: float = 1.5
    take_profit_atr: float = 3.0
    max_hold_bars: int = 48
    warmup_bars: int = 300
    snapshot_seconds: float = 60.0
    user_poll_seconds: float = 5.0
    listen_key_keepalive: float = 1800.0
    exchange_timeout: float = 10.0
    health_host: str = "127.0.0.1"
    health_port: int = 8766
    alert_webhook_url: Secret = field(default_factory=lambda: Secret(""))
    health_memory_percent: float = 85.0
    health_rss_mb: float = 4096.0
    health_cpu_percent: float = 90.0
    health_thread_count: int = 500
    health_api_latency_ms: float = 5000.0
    train_threads: int = 0           # default: one core fewer than the machine has, at least 1
    model_poll_seconds: float = 60.0
    model_max_failures: int = 3
    drift_min_samples: int = 200

    def __post_init__(self) -> None:
        # Derived defaults: paths follow the data directory, URLs follow host and ports.
        data_dir = Path(self.data_dir).expanduser().resolve()
        object.__setattr__(self, "data_dir", data_dir)
        if not self.store_catalog:
            object.__setattr__(self, "store_catalog", f"sqlite:{data_dir / 'lake' / 'catalog.sqlite'}")
        if not self.store_data_path:
            object.__setattr__(self, "store_data_path", str(data_dir / "lake" / "files") + "/")
        if self.journal_dir is None:
            object.__setattr__(self, "journal_dir", data_dir / "journal")
        if self.market_data_dir is None:
            object.__setattr__(self, "market_data_dir", data_dir / "market")
        if not self.prefect_api_url:
            object.__setattr__(self, "prefect_api_url", f"http://{self.host}:{self.prefect_port}/api")
        if not self.mlflow_tracking_uri:
            object.__setattr__(self, "mlflow_tracking_uri", f"http://{self.host}:{self.mlflow_port}")
        if self.train_threads < 1:
            object.__setattr__(self, "train_threads", parse_train_threads(""))
        rest, ws = _exchange_urls(self.exchange, self.host, self.sim_port)
        if not self.exchange_rest_url:
            object.__setattr__(self, "exchange_rest_url", rest)
        if not self.exchange_ws_url:
            object.__setattr__(self, "exchange_ws_url", ws)
        missing = missing_credentials(self.accounts, dict(self.account_credentials))
        if missing:
            raise ConfigError("invalid configuration:\n  SLT_ACCOUNTS lists accounts without credentials: set "
                              + ", ".join(missing))

    @property
    def run_dir(self) -> Path:
        """Pid files and service logs of `slt up`."""
        return self.data_dir / "run"


def _exchange_urls(exchange: str, host: str, sim_port: int) -> tuple[str, str]:
    if exchange == "binance":
        return "https://fapi.binance.com", "wss://fstream.binance.com"
    if exchange == "testnet":
        return "https://testnet.binancefuture.com", "wss://fstream.binancefuture.com"
    return f"http://{host}:{sim_port}", f"ws://{host}:{sim_port}"


def parse_env_file(path: Path) -> dict[str, str]:
    """Read KEY=VALUE lines (comments, blank lines, `export` and quotes allowed)."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise ConfigError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def load_settings(environ: Mapping[str, str] | None = None, env_file: Path | str | None = None) -> Settings:
    """Build `Settings` from the environment and an optional `.env` file; raise `ConfigError`."""
    env = dict(os.environ if environ is None else environ)
    path = Path(env_file) if env_file is not None else Path(env.get("SLT_ENV_FILE", ".env"))
    merged: dict[str, str] = {}
    if path.is_file():
        merged.update(parse_env_file(path))
    merged.update(env)

    problems: list[str] = []
    values: dict[str, Any] = {}
    credentials: list[tuple[str, Secret]] = []
    for name, raw in merged.items():
        var = _BY_ENV.get(name)
        if var is None:
            if _dynamic(name):
                credentials.append((name, Secret(raw)))
            elif name.startswith(ENV_PREFIX) and name != "SLT_ENV_FILE":
                problems.append(_unknown(name))
            continue
        try:
            values[var.field] = var.parse(raw)
        except (ValueError, TypeError, ConfigError) as exc:
            shown = "<hidden>" if var.secret else repr(raw)
            detail = f" ({exc})" if isinstance(exc, ConfigError) else ""
            problems.append(f"{name}={shown} is not allowed{detail}: expected {var.allowed}")
    if problems:
        if any(" is not a known setting" in p for p in problems):
            problems.append("known SLT_ variables: " + ", ".join(
                v.env for v in VARIABLES if v.env.startswith(ENV_PREFIX)))
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return Settings(**values, account_credentials=tuple(sorted(credentials, key=lambda c: c[0])))


def _dynamic(name: str) -> bool:
    return any(p.match(name) for p in DYNAMIC_VARIABLES)


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, [v.env for v in VARIABLES], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{name} is not a known setting{hint}"
