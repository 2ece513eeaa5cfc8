"""`slt risk` over a real store: regimes with inputs, the kill switch replayed, operator commands."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

from engine.config import Settings
from engine.core.types import EquitySnapshot
from engine.risk.regime import Regime, RegimeReading
from engine.store import init_store
from engine.store.lake import connect
from engine.store.writer import write_records

REPO = Path(__file__).resolve().parents[2]
T0 = 1_746_489_600_000  # 2025-05-06 00:00 UTC


def slt_risk(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "SLT_DATA_DIR": str(settings.data_dir), "SLT_ENV_FILE": "/nonexistent",
           "SLT_MAX_DAILY_DRAWDOWN": "0.05", "SLT_ACCOUNTS": "main:PRIMARY,b:SECONDARY",
           "SLT_ACCOUNT_MAIN_KEY": "k1", "SLT_ACCOUNT_MAIN_SECRET": "s1", "SLT_ACCOUNT_B_KEY": "k2",
           "SLT_ACCOUNT_B_SECRET": "s2"}
    return subprocess.run([sys.executable, "-m", "engine.cli", "risk", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.integration  # runs a child process
def test_report_trip_and_reset(settings: Settings) -> None:
    init_store(settings)
    reading = RegimeReading("BTCUSDT", "1h", Regime.CRASH, -18.2, 6.4, 100.0, 81.8, T0 - 86_400_000, T0, 24,
                            event_time=T0)
    equity = [EquitySnapshot(a, D(v), D(0), D(v), event_time=T0 + i * 60_000)
              for i, (a, v) in enumerate([("main", "10000"), ("b", "5000"), ("main", "9600"), ("b", "4650")])]
    with connect(settings) as lake:
        write_records(lake, [reading, *equity])  # book 15000 -> 14250: 5 % down, the limit

    report = json.loads(slt_risk(settings, "--json").stdout)
    assert report["regimes"]["BTCUSDT"]["regime"] == "CRASH" and report["regimes"]["BTCUSDT"]["change_pct"] == -18.2
    assert report["parameters"]["BTCUSDT"]["max_leverage"] == 5
    assert report["kill_switch"]["entries_allowed"] is False
    assert D(report["kill_switch"]["drawdown"]) == D("0.05")

    reset = slt_risk(settings, "--reset")
    assert reset.returncode == 0 and "Kill switch: ENTRIES ALLOWED" in reset.stdout
    assert json.loads(slt_risk(settings, "--json").stdout)["kill_switch"]["entries_allowed"] is True
    halted = slt_risk(settings, "--trip", "exchange incident")
    assert "TRIPPED" in halted.stdout and "exchange incident" in halted.stdout


@pytest.mark.integration  # runs a child process
def test_tables_show_iso_times_and_rounded_inputs_while_json_keeps_them_exact(settings: Settings) -> None:
    init_store(settings)
    reading = RegimeReading("BTCUSDT", "1h", Regime.CRASH, -18.234567891, 6.412345678, 100.0, 81.8,
                            T0 - 86_400_000, T0 + 3_000_000, 24, event_time=T0 + 3_000_000)
    with connect(settings) as lake:
        write_records(lake, [reading])
    halted = slt_risk(settings, "--trip", "exchange incident")
    assert halted.returncode == 0, halted.stderr
    row = next(line.split() for line in halted.stdout.splitlines() if line.startswith("BTCUSDT"))
    assert row[:5] == ["BTCUSDT", "CRASH", "-18.235", "6.4123", "2025-05-06T00:50:00Z"]
    assert "tripped at 2025-05-06T00:50:00Z: manual: exchange incident" in halted.stdout
    events = halted.stdout.split("Kill switch events")[1].splitlines()
    assert events[1].split() == ["at", "status", "message"] and events[3].startswith("2025-05-06T00:50:00Z")
    assert str(T0 + 3_000_000) not in halted.stdout
    report = json.loads(slt_risk(settings, "--json").stdout)
    held = report["regimes"]["BTCUSDT"]
    assert (held["window_end"], held["change_pct"], held["volatility_pct"]) == (T0 + 3_000_000, -18.234567891,
                                                                               6.412345678)
    assert report["kill_switch"]["trip"]["at_ms"] == T0 + 3_000_000
    assert report["kill_switch_events"][0]["at_ms"] == T0 + 3_000_000
