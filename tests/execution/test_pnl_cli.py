"""`slt pnl` over a real store (read-only), as a person runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal as D

import pytest

from engine.config import Settings
from engine.core.types import ExitReason, Fill, FundingPayment, Position, Side, TradeEntry, TradeExit
from engine.store import connect, init_store
from engine.store.writer import write_records
from tests.conftest import REPO


@pytest.mark.integration  # runs a child process
def test_slt_pnl_reports_per_symbol_and_account(settings: Settings) -> None:
    init_store(settings)
    with connect(settings) as lake:
        write_records(lake, [
            Fill("main", "BTCUSDT", "1", "sltE-a", "11", Side.BUY, D("0.010"), D("60000"), D("0.30"), "USDT"),
            Fill("main", "BTCUSDT", "2", "sltS-a", "12", Side.SELL, D("0.010"), D("59900"), D("0.2995"), "USDT",
                 D("-1.0")),
            Fill("main", "ETHUSDT", "3", "sltE-b", "13", Side.SELL, D("1"), D("2000"), D("1.0"), "USDT"),
            FundingPayment("main", "ETHUSDT", "77", D("0.25"), event_time=5),
            TradeEntry("t1", "main", "BTCUSDT", Side.BUY, D("0.010"), D("60000"), D("0.30")),
            TradeExit("t1", "main", "BTCUSDT", D("0.010"), D("59900"), D("-1.0"), D("0.5995"), D("0"),
                      ExitReason.STOP_LOSS),
            Position("main", "ETHUSDT", D("-1"), D("2000"), D("1990"), D("10"), event_time=6)])
    env = {"SLT_DATA_DIR": str(settings.data_dir), "PATH": "/usr/bin:/bin"}
    table = subprocess.run([sys.executable, "-m", "engine.cli", "pnl"], cwd=REPO, env=env, capture_output=True,
                           text=True, check=True).stdout
    assert "BTCUSDT" in table and "-1.59950000" in table and "0%" in table
    lines = [json.loads(x) for x in subprocess.run([sys.executable, "-m", "engine.cli", "pnl", "--json"], cwd=REPO,
                                                   env=env, capture_output=True, text=True, check=True).stdout.split("\n")
             if x]
    eth = next(x for x in lines if x["symbol"] == "ETHUSDT")
    assert (eth["funding"], eth["net"], eth["unrealized"], eth["position"]) == ("0.25", "-0.75", "10", "-1")
    total = next(x for x in lines if x["symbol"] == "*")
    assert (total["net"], total["trades"], total["win_rate"]) == ("-2.3495", 1, 0.0)
