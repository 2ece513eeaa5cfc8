"""`slt accounts` over a real store: performance per account and group, merged positions."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

from engine.config import Settings
from engine.core.types import ExitReason, Position, TradeExit
from engine.store import init_store
from engine.store.lake import connect
from engine.store.writer import write_records

REPO = Path(__file__).resolve().parents[2]
T0 = 1_746_489_600_000


@pytest.mark.integration  # runs a child process
def test_report_per_account_group_and_merged_positions(settings: Settings) -> None:
    init_store(settings)
    exits = [TradeExit("t1", "alpha", "BTCUSDT", D("0.01"), D("60000"), D("12.5"), D("0.5"), D("-0.1"),
                       ExitReason.TAKE_PROFIT, T0 + 1, T0 + 2),
             TradeExit("t2", "beta", "BTCUSDT", D("0.02"), D("59000"), D("-4"), D("0.7"), D("0"),
                       ExitReason.STOP_LOSS, T0 + 3, T0 + 4),
             TradeExit("t3", "alpha", "ETHUSDT", D("1"), D("2500"), D("3"), D("0.2"), D("0.05"),
                       ExitReason.SIGNAL, T0 + 5, T0 + 6)]
    positions = [Position("alpha", "BTCUSDT", D("0.010"), D("60000"), D("61000"), D("10"), event_time=T0 + 7),
                 Position("beta", "BTCUSDT", D("-0.004"), D("61500"), D("61000"), D("2"), event_time=T0 + 7)]
    with connect(settings) as lake:
        write_records(lake, [*exits, *positions])
    env = {"PATH": "/usr/bin:/bin", "SLT_DATA_DIR": str(settings.data_dir), "SLT_ENV_FILE": "/nonexistent",
           "SLT_ACCOUNTS": "alpha:PRIMARY:2:aggressive,beta:SECONDARY:1:conservative",
           "SLT_ACCOUNT_ALPHA_KEY": "ka", "SLT_ACCOUNT_ALPHA_SECRET": "sa-very-secret-value",
           "SLT_ACCOUNT_BETA_KEY": "kb", "SLT_ACCOUNT_BETA_SECRET": "sb-very-secret-value"}
    run = subprocess.run([sys.executable, "-m", "engine.cli", "accounts", "--json"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    alpha = report["performance"]["accounts"]["alpha"]
    assert (alpha["trades"], D(alpha["net_pnl"])) == (2, D("12.5") - D("0.5") - D("0.1") + D("3") - D("0.2") + D("0.05"))
    assert report["performance"]["groups"]["conservative"]["losses"] == 1
    merged = report["merged_positions"]["BTCUSDT"]
    assert D(merged["net_quantity"]) == D("0.006") and D(merged["unrealized_pnl"]) == D("12")
    table = subprocess.run([sys.executable, "-m", "engine.cli", "accounts"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=60)
    assert table.returncode == 0 and "Merged positions" in table.stdout and "aggressive" in table.stdout
    assert "very-secret" not in table.stdout + table.stderr + run.stdout + run.stderr
