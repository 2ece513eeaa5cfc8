"""The liquidation plan on its own: what `next_close` decides before the exchange core executes it."""

from __future__ import annotations

from decimal import Decimal as D

from engine.core.secret import Secret
from engine.sim.instruments import KNOWN
from engine.sim.liquidation import next_close
from engine.sim.matching import Exchange
from engine.sim.pricing import FeeSchedule, Quote, SlippageModel

T0 = 1_700_000_000_000
SPECS = {s: KNOWN[s] for s in ("BTCUSDT", "ETHUSDT")}


def tick(ex: Exchange, symbol: str, price: str) -> None:
    ex.update_quote(Quote.at(SPECS[symbol].instrument, D(price), D(price), T0, bar_range=D("100"),
                             bar_volume=D("40"), step_volume=D("10")))


def exchange(usdt: str) -> Exchange:
    ex = Exchange(SPECS, FeeSchedule(D("0.0002"), D("0.0005")), SlippageModel(D("0")))
    ex.add_account("a", Secret("s"), D(usdt))
    tick(ex, "BTCUSDT", "60000")
    tick(ex, "ETHUSDT", "3000")
    return ex


def place(ex: Exchange, symbol: str, side: str, qty: str, price: str | None = None) -> int:
    params = {"symbol": symbol, "side": side, "type": "MARKET" if price is None else "LIMIT", "quantity": qty}
    if price is not None:
        params.update(price=price, timeInForce="GTC")
    return ex.place_order("a", params, T0)[0].order_id


def test_a_cross_plan_closes_every_cross_position_at_the_mark_and_cancels_every_order() -> None:
    ex = exchange("120")
    place(ex, "BTCUSDT", "BUY", "0.03")                          # 1800 notional on 120 USDT
    resting = [place(ex, "BTCUSDT", "BUY", "0.002", "57500"), place(ex, "ETHUSDT", "BUY", "0.01", "2900")]
    account = ex.accounts["a"]
    marks = {"BTCUSDT": D("57000"), "ETHUSDT": D("3000")}
    assert next_close(account, marks, ex.specs, T0) is None      # above the ~56255 liquidation price
    marks["BTCUSDT"] = D("56000")
    plan = next_close(account, marks, ex.specs, T0)
    assert plan is not None and not plan.isolated and plan.account == "a"
    assert list(plan.cancels) == resting
    [close] = plan.closes
    assert (close.order.symbol, close.order.side, close.order.quantity, close.price) == ("BTCUSDT", "SELL", D("0.03"),
                                                                                         D("56000"))
    assert close.order.type == "LIQUIDATION" and close.order.reduce_only
    assert close.order.client_id == f"autoclose-{T0}-btcusdt"
    assert plan.maint == D("0.03") * D("56000") * SPECS["BTCUSDT"].maint_margin_rate and plan.margin_lost == 0
    assert account.positions["BTCUSDT"].amount == D("0.03")     # planning trades nothing


def test_an_isolated_plan_closes_one_position_and_cancels_only_its_orders() -> None:
    ex = exchange("1000")
    ex.set_margin_type("a", "BTCUSDT", "ISOLATED", T0)
    ex.set_leverage("a", "BTCUSDT", 10, T0)
    place(ex, "BTCUSDT", "BUY", "0.01")
    btc_order = place(ex, "BTCUSDT", "BUY", "0.002", "57500")
    place(ex, "ETHUSDT", "BUY", "0.01", "2900")
    account = ex.accounts["a"]
    plan = next_close(account, {"BTCUSDT": D("54100"), "ETHUSDT": D("3000")}, ex.specs, T0)
    assert plan is not None and plan.isolated
    assert plan.cancels == (btc_order,)
    assert [(c.order.symbol, c.order.side, c.order.quantity, c.price) for c in plan.closes] == [
        ("BTCUSDT", "SELL", D("0.01"), D("54100"))]
    assert plan.margin_lost == account.positions["BTCUSDT"].isolated_wallet == D("60.0001")


def test_the_core_executes_the_plan_until_nothing_is_at_risk() -> None:
    ex = exchange("1000")
    ex.set_margin_type("a", "BTCUSDT", "ISOLATED", T0)
    ex.set_leverage("a", "BTCUSDT", 10, T0)
    place(ex, "BTCUSDT", "BUY", "0.01")
    place(ex, "ETHUSDT", "BUY", "0.01", "2900")
    tick(ex, "BTCUSDT", "54100")
    account = ex.accounts["a"]
    assert account.positions["BTCUSDT"].amount == 0 and account.ledger.liquidations == 1
    assert [o.symbol for o in account.open_orders()] == ["ETHUSDT"]    # the ETH order was not the plan's
    assert next_close(account, ex.marks(), ex.specs, T0) is None
