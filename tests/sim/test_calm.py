"""engine/sim/calm.py never calls a price range calm where the exchange core would act inside it: on
random accounts, positions and ranges, whenever `account_calm` says so, `margin.at_risk` finds nothing
at the ends and at random marks inside; whenever `orders_calm` says so, no conditional order triggers
and no resting order is touched at any price of the range. And near the edge it does say "not calm"."""

from __future__ import annotations

import random
from decimal import Decimal

from engine.core.secret import Secret
from engine.sim.accounts import Account, Position
from engine.sim.calm import account_calm, orders_calm
from engine.sim.instruments import KNOWN
from engine.sim.margin import at_risk
from engine.sim.matching import Exchange
from engine.sim.orders import AlgoOrder, SimOrder

SYMBOLS = ("BTCUSDT", "ETHUSDT", "XRPUSDT")
CENTRES = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "XRPUSDT": 0.6}


def d(x: float, places: int = 4) -> Decimal:
    return Decimal(repr(round(x, places)))


def random_account(rng: random.Random) -> Account:
    account = Account(key="a", secret=Secret("s"), wallet=d(rng.uniform(50, 5_000), 2))
    for symbol in rng.sample(SYMBOLS, rng.randint(1, 3)):
        centre = CENTRES[symbol]
        amount = d(rng.uniform(0.01, 3) * 1_000 / centre * rng.choice((1, -1)), 3)
        if not amount:
            continue
        pos = Position(symbol, amount, d(centre * rng.uniform(0.9, 1.1)))
        if rng.random() < 0.3:
            account.margin_type[symbol] = "isolated"
            pos.isolated_wallet = d(abs(float(amount)) * centre * rng.uniform(0.02, 0.3), 2)
        account.positions[symbol] = pos
    return account


def test_account_calm_is_never_wrong_about_a_liquidation() -> None:
    rng = random.Random(7)
    specs = {s: KNOWN[s] for s in SYMBOLS}
    calm_seen = not_calm_seen = 0
    for _ in range(3_000):
        account = random_account(rng)
        ranges = {}
        for symbol in account.positions:
            centre = CENTRES[symbol] * rng.uniform(0.5, 1.5)
            low = d(centre * (1 - rng.uniform(0, 0.2)))
            ranges[symbol] = (low, max(low, d(centre * (1 + rng.uniform(0, 0.2)))))
        calm = account_calm(account, ranges, specs)
        calm_seen += calm
        not_calm_seen += not calm
        if not calm:
            continue
        for _ in range(20):
            marks = {s: (lo if rng.random() < 0.25 else hi if rng.random() < 0.33 else
                         d(float(lo) + (float(hi) - float(lo)) * rng.random()))
                     for s, (lo, hi) in ranges.items()}
            marks = {s: min(max(m, ranges[s][0]), ranges[s][1]) for s, m in marks.items()}
            isolated, cross = at_risk(account, marks, specs)
            assert not isolated and not cross, (account, ranges, marks)
    assert calm_seen > 500 and not_calm_seen > 500


def test_a_held_symbol_without_a_range_is_not_calm() -> None:
    account = Account(key="a", secret=Secret("s"), wallet=Decimal(1_000))
    account.positions["BTCUSDT"] = Position("BTCUSDT", Decimal("0.01"), Decimal(60_000))
    assert not account_calm(account, {}, {"BTCUSDT": KNOWN["BTCUSDT"]})


def test_orders_calm_is_never_wrong_about_a_trigger_or_a_touch() -> None:
    rng = random.Random(11)
    ex = Exchange({"BTCUSDT": KNOWN["BTCUSDT"]})
    calm_seen = not_calm_seen = 0
    for n in range(2_000):
        ex._algos["BTCUSDT"].clear()
        ex._resting["BTCUSDT"].clear()
        for i in range(rng.randint(0, 3)):
            ex._algos["BTCUSDT"][i] = AlgoOrder(
                i, "a", "BTCUSDT", f"c{n}-{i}", rng.choice(("BUY", "SELL")),
                rng.choice(("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT")), Decimal(1),
                d(rng.uniform(55_000, 65_000), 1), working_type=rng.choice(("CONTRACT_PRICE", "MARK_PRICE")))
        for i in range(rng.randint(0, 2)):
            ex._resting["BTCUSDT"][i] = SimOrder(
                order_id=i, account="a", symbol="BTCUSDT", client_id=f"o{n}-{i}", side=rng.choice(("BUY", "SELL")),
                type="LIMIT", quantity=Decimal(1), price=d(rng.uniform(55_000, 65_000), 1))
        centre = rng.uniform(57_000, 63_000)
        last = (d(centre - rng.uniform(0, 2_000), 1), d(centre + rng.uniform(0, 2_000), 1))
        mark = (d(centre - rng.uniform(0, 2_000), 1), d(centre + rng.uniform(0, 2_000), 1))
        calm = orders_calm(ex, "BTCUSDT", last, mark)
        calm_seen += calm
        not_calm_seen += not calm
        if not calm:
            continue
        for _ in range(20):
            inside = (d(float(last[0]) + (float(last[1]) - float(last[0])) * rng.random(), 1),
                      d(float(mark[0]) + (float(mark[1]) - float(mark[0])) * rng.random(), 1))
            for price, at_mark in (inside, (last[0], mark[0]), (last[1], mark[1])):
                for algo in ex.waiting("BTCUSDT"):
                    assert not algo.triggers(at_mark if algo.working_type == "MARK_PRICE" else price)
                for order in ex.resting("BTCUSDT"):
                    assert not (price <= order.price if order.side == "BUY" else price >= order.price)
    assert calm_seen > 200 and not_calm_seen > 200
