"""Multi-account end to end: `python -m engine` with four accounts (`SLT_ACCOUNTS`, different weights
and balances, the `weighted` distribution) trades a fast replay on the simulator (both real
processes, a real DuckLake store in a tmp dir). Afterwards:
* every account traded, and every admitted signal's entry was split over all four: each part is its
  weight's share within one lot, placed by largest remainder (each account gets floor(quota) lots,
  the lots left over go one each to the largest fractional remainders, ties to the smaller account
  id: `engine.accounts.distribution`); each account that entered had exactly its part executed on
  the exchange and recorded in the store, and where all four entered the parts sum to the
  requested total (an account may rightly skip a signal by the book's rules: see below);
* every simulator fill of every account is in the store exactly once, under its account;
* per account, the store equals the simulator's account to the cent (realised PnL, fees, funding,
  closed trades, positions, equity);
* merged positions (from the store, and as `slt accounts --json` reports them) equal the sum of
  the accounts' positions on the exchange;
* `slt accounts` names every account, and no key or secret is in its output or the engine's log.

The entry fraction is kept small (2 % of equity as margin at 3x, three symbols) so that no
account's regime caps cut its part: every entry is exactly the split."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal as D
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from engine.accounts import merge_positions
from engine.core.types import Position
from engine.execution.orders import Leg, leg_of, order_id
from engine.store import connect, reader
from tests.conftest import REPO
from tests.engine.process import (
    EngineProcess,
    assert_store_equals_account,
    engine_env,
    income,
    settings_for,
    stored,
    wait_finished,
)
from tests.sim.harness import SimHandle

pytestmark = [pytest.mark.slow, pytest.mark.integration]

# 07:30 -> 12:30 UTC: 300 one-minute bars with the 08:00 funding settlement inside
START, BARS, SPEED = "2025-05-06T07:30:00Z", 300, "600"  # 50 ms of engine lag = half a bar


@dataclass(frozen=True)
class Acct:
    id: str
    type: str
    weight: D
    group: str
    usdt: int

    @property
    def key(self) -> str:
        return f"e2e-{self.id}-key-Vq83nZ"

    @property
    def secret(self) -> str:
        return f"e2e-{self.id}-secret-7KpXw2mR"


ACCOUNTS = (Acct("alpha", "PRIMARY", D("1"), "aggressive", 12_000),
            Acct("bravo", "SECONDARY", D("1.5"), "conservative", 7_000),
            Acct("charlie", "HEDGE", D("2.5"), "neutral", 20_000),
            Acct("delta", "ARBITRAGE", D("3"), "aggressive", 30_000))
WEIGHTS = sum(a.weight for a in ACCOUNTS)
SPLIT = re.compile(r"entry (\S+) on (\w+): (\S+) split weighted \(([^)]*)\)")
SIGNAL = re.compile(r"signal \w+ (?:BUY|SELL) (\S+) \(confidence [^)]*\): (.*)$", re.M)


def account_env() -> dict[str, str]:
    env = {"SLT_ACCOUNTS": ",".join(f"{a.id}:{a.type}:{a.weight}:{a.group}" for a in ACCOUNTS),
           "SLT_ACCOUNT_DISTRIBUTION": "weighted", "SLT_ENTRY_EQUITY_FRACTION": "0.02", "SLT_LEVERAGE": "3"}
    for a in ACCOUNTS:
        env[f"SLT_ACCOUNT_{a.id.upper()}_KEY"] = a.key
        env[f"SLT_ACCOUNT_{a.id.upper()}_SECRET"] = a.secret
    return env


async def market_steps(sim: SimHandle) -> dict[str, D]:
    """Each symbol's market-order lot size, from the exchange's own filters."""
    info = await sim.ccxt().fapiPublicGetExchangeInfo()
    return {s["symbol"]: D(f["stepSize"]) for s in info["symbols"] for f in s["filters"]
            if f["filterType"] == "MARKET_LOT_SIZE"}


def slt_accounts(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "engine.cli", "accounts", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def check_split(total: D, parts: dict[str, D], step: D) -> None:
    """The parts sum to the total; each is floor(quota) or floor(quota) + 1 lots, and the extra lots
    went to the largest fractional remainders (ties to the smaller id)."""
    assert set(parts) == {a.id for a in ACCOUNTS} and sum(parts.values()) == total, (total, parts)
    lots = Fraction(total / step)
    quota = {a.id: lots * Fraction(a.weight) / Fraction(WEIGHTS) for a in ACCOUNTS}
    extra = {}
    for account, part in parts.items():
        assert abs(Fraction(part) - quota[account] * Fraction(step)) < Fraction(step), (account, part, quota)
        extra[account] = int(part / step) - int(quota[account])
        assert extra[account] in (0, 1), (account, part, quota)
    rank = sorted(quota, key=lambda a: (-(quota[a] - int(quota[a])), a))
    assert [extra[a] for a in rank] == sorted(extra.values(), reverse=True), (total, parts, quota)


async def test_engine_trades_four_weighted_accounts_and_the_store_equals_each(sim_process_factory: Any,
                                                                              tmp_path: Path) -> None:
    sim: SimHandle = sim_process_factory("--paused", "--speed", SPEED, "--start", START, "--end-after", f"{BARS}m",
                                         *(f"--account={a.key}:{a.secret}:{a.usdt}" for a in ACCOUNTS))
    env = engine_env(sim, tmp_path / "data", **account_env())
    engine = EngineProcess(env, tmp_path / "engine.log")
    try:
        steps = await market_steps(sim)
        engine.start()
        engine.wait_for("engine ready", 30)
        await sim.control.resume()
        await wait_finished(sim, 90)
        await asyncio.sleep(2.0)  # the last candles and fills reach the engine
        assert engine.stop() == 0, engine.text()[-3000:]
        views = {a.id: await sim.control.account(a.key) for a in ACCOUNTS}
        rows = {a.id: await income(sim, a.key, a.secret) for a in ACCOUNTS}
    finally:
        engine.close()
        await sim.aclose()
    log = engine.text()
    assert "on 4 accounts (alpha, bravo, charlie, delta)" in log and "Traceback" not in log, log[-3000:]
    settings = settings_for(env)

    # every entry is split over all four accounts by weight; each account's entry order is exactly its part, on
    # the exchange and in the store; where all four entered (most signals), the parts sum to the requested total.
    # Nothing is refused by risk: the caps leave room and the kill switch holds (a phantom drawdown once tripped
    # it). An account may still skip a split signal by the book's rules, as its own fills drift it from the
    # others: it holds that side already, or a reverse or a signal held while its position was in doubt is
    # no longer the latest candle's (at 1200x a candle lasts 50 ms).
    assert "no entry on" not in log and "kill switch TRIPPED" not in log, re.findall(r".*no entry on.*", log)[:3]
    entries = {(e.account, e.signal_id): e.quantity for a in ACCOUNTS for e in stored(settings, a.id).entries}
    sent = {a.id: {o["client_id"]: o for o in views[a.id]["orders"] if leg_of(o["client_id"]) is Leg.ENTRY}
            for a in ACCOUNTS}
    split_ids: dict[str, set[str]] = defaultdict(set)
    complete = 0
    for signal_id, symbol, total, listed in SPLIT.findall(log):
        parts = {a: D(q) for a, q in (p.split(" ") for p in listed.split(", "))}
        check_split(D(total), parts, steps[symbol])
        executed = {}
        for account, part in parts.items():
            key = order_id(signal_id, Leg.ENTRY, account)
            split_ids[account].add(key)
            order = sent[account].get(key)
            if order is not None:
                assert (order["symbol"], order["status"], D(order["executed"])) == (symbol, "FILLED", part), order
                assert entries[(account, signal_id)] == part
                executed[account] = part
        if len(executed) == len(ACCOUNTS):
            complete += 1
            assert sum(executed.values()) == D(total)
    assert complete >= 10, f"only {complete} entries were made on all four accounts: the engine barely traded"
    assert all(set(sent[a.id]) <= split_ids[a.id] for a in ACCOUNTS)  # no entry outside a split
    with connect(settings, read_only=True) as lake:
        everything = reader.fills(lake)
        snapshots = reader.read(lake, Position)
    # an open position is never valued against an entry price of 0 (order report ahead of its fill)
    assert not [p for p in snapshots if p.quantity != 0 and p.entry_price <= 0]

    # every simulator fill of every account is in the store once, under that account and its order's client id
    assert len(everything) == sum(len(v["trades"]) for v in views.values())
    merged_legs, exchange_net, exchange_upnl = [], defaultdict(lambda: D(0)), defaultdict(lambda: D(0))
    for a in ACCOUNTS:
        view, store = views[a.id], stored(settings, a.id)
        client = {o["order_id"]: o["client_id"] for o in view["orders"]}
        assert sorted((f.trade_id, f.client_order_id) for f in everything if f.account == a.id) == \
            sorted((str(t["id"]), client[t["order_id"]]) for t in view["trades"])
        # per account: realised PnL, fees, funding, closed trades, positions and equity to the cent
        closed = assert_store_equals_account(store, view, rows[a.id])
        assert len(closed) >= 3, f"{a.id}: only {len(closed)} round trips"
        assert D(view["ledger"]["funding"]) != 0, f"{a.id}: no funding while a position was open: pick another window"
        merged_legs += store.positions.values()
        for position in view["positions"]:
            exchange_net[position["symbol"]] += D(position["amount"])
            exchange_upnl[position["symbol"]] += D(position["unrealized"])

    # merged positions equal the sum of the accounts' on the exchange, from the store and from `slt accounts`
    held = {s for s, q in exchange_net.items() if q}
    assert held, "every account was flat at the end: pick another window"
    merged = merge_positions(merged_legs)
    assert {s: m.net_quantity for s, m in merged.items()} == {s: exchange_net[s] for s in held}
    # each leg's unrealised PnL equals the exchange's to the cent (above); their sum within half a cent a leg
    assert all(abs(m.unrealized_pnl - exchange_upnl[s]) <= D("0.005") * len(m.accounts)
               for s, m in merged.items()), (merged, exchange_upnl)
    report = slt_accounts(env, "--json")
    reported = json.loads(report)["merged_positions"]
    assert {s: D(m["net_quantity"]) for s, m in reported.items()} == {s: exchange_net[s] for s in held}
    assert all(sorted(m["accounts"]) == [a.id for a in ACCOUNTS] for m in reported.values()), reported

    # `slt accounts` names every account with its closed trades; no key or secret anywhere
    text = slt_accounts(env)
    for a in ACCOUNTS:
        assert re.search(rf"^\s*{a.id}\s+{a.type}\s+{a.group}\s+{a.weight}\s+[1-9]", text, re.M), text
    for a in ACCOUNTS:
        for secret in (a.key, a.secret):
            assert secret not in log and secret not in text and secret not in report
