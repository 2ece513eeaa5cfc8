"""The exchange core against hand-computed numbers: fills, fees, entry prices, realised and
unrealised PnL, margin checks, partial fills, reduce-only, conditional orders, funding, liquidation."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.secret import Secret
from engine.sim.accounts import Account, Position
from engine.sim.errors import BinanceError
from engine.sim.events import AccountEvent, AlgoEvent, OrderEvent
from engine.sim.instruments import KNOWN
from engine.sim.margin import assess, at_risk, cross_liquidatable, isolated_liquidatable, liquidation_price
from engine.sim.matching import Exchange
from engine.sim.pricing import FeeSchedule, Quote, SlippageModel

BTC = KNOWN["BTCUSDT"]
T0 = 1_700_000_000_000


def make(usdt: str = "10000", slippage: str = "0") -> Exchange:
    ex = Exchange({"BTCUSDT": BTC}, FeeSchedule(D("0.0002"), D("0.0005")), SlippageModel(D(slippage)))
    ex.add_account("a", Secret("s"), D(usdt))
    tick(ex, "60000")
    return ex


def tick(ex: Exchange, last: str, mark: str | None = None, *, step: str = "10", rng: str = "100",
         vol: str = "40", t: int = T0) -> list:
    quote = Quote.at(BTC.instrument, D(last), D(mark or last), t, bar_range=D(rng), bar_volume=D(vol),
                     step_volume=D(step))
    return ex.update_quote(quote)


def order(ex: Exchange, side: str, qty: str, kind: str = "MARKET", price: str | None = None, key: str = "a",
          **extra: str) -> tuple:
    params = {"symbol": "BTCUSDT", "side": side, "type": kind, "quantity": qty, **extra}
    if price is not None:
        params.update(price=price, timeInForce=extra.get("timeInForce", "GTC"))
    return ex.place_order(key, params, T0)


def test_market_buy_pays_the_ask_and_the_taker_fee() -> None:
    ex = make()
    placed, events = order(ex, "BUY", "0.01")
    assert placed.status == "FILLED" and placed.avg_price == D("60000.1")        # ask = last + 1 tick
    trade = events[1].trade
    assert trade.commission == D("0.30000050")                                   # 0.01 x 60000.1 x 0.05 %
    acct = ex.accounts["a"]
    assert acct.wallet == D("9999.69999950")
    assert acct.positions["BTCUSDT"].amount == D("0.01") and acct.positions["BTCUSDT"].entry_price == D("60000.1")
    tick(ex, "61000")
    risk = ex.risk("a")
    assert risk.unrealized == D("9.999")                                         # 0.01 x (61000 - 60000.1)
    assert risk.equity == D("9999.69999950") + D("9.999")
    assert [type(e) for e in events] == [OrderEvent, OrderEvent, AccountEvent]


def test_reducing_realises_pnl_and_flipping_reopens_at_the_fill_price() -> None:
    ex = make()
    order(ex, "BUY", "0.01")
    tick(ex, "61000")
    _, events = order(ex, "SELL", "0.004")                                       # sells at the bid, 61000
    assert events[1].trade.realized_pnl == D("3.99960000")                       # 0.004 x 999.9
    pos = ex.accounts["a"].positions["BTCUSDT"]
    assert pos.amount == D("0.006") and pos.entry_price == D("60000.1")
    _, events = order(ex, "SELL", "0.01")
    assert events[1].trade.realized_pnl == D("5.99940000")                       # closes 0.006
    assert pos.amount == D("-0.004") and pos.entry_price == D("61000")
    fees = D("0.30000050") + D("0.122") + D("0.305")
    assert ex.accounts["a"].wallet == D(10000) - fees + D("3.9996") + D("5.9994")
    assert ex.accounts["a"].ledger.expected_wallet() == ex.accounts["a"].wallet


def test_adding_averages_the_entry_price() -> None:
    ex = make()
    order(ex, "BUY", "0.01")
    tick(ex, "62000")
    order(ex, "BUY", "0.01")
    assert ex.accounts["a"].positions["BTCUSDT"].entry_price == D("61000.1")


def test_slippage_grows_with_size_relative_to_the_last_bar() -> None:
    ex = make("100000", slippage="0.1")
    placed, _ = order(ex, "BUY", "10")                            # 0.1 x range 100 x sqrt(10/40) = 5
    assert placed.avg_price == D("60005.1")
    small, _ = order(ex, "SELL", "0.002", reduceOnly="true")      # 0.1 x 100 x sqrt(0.002/40) = 0.07 -> 1 tick
    assert small.avg_price == D("59999.9")


def test_resting_limit_fills_as_maker_when_touched() -> None:
    ex = make()
    placed, events = order(ex, "BUY", "0.01", "LIMIT", "59900")
    assert placed.status == "NEW" and [e.execution for e in events] == ["NEW"]
    assert tick(ex, "59950") == []
    events = tick(ex, "59900")
    assert events[0].execution == "TRADE" and events[0].trade.maker and events[0].trade.price == D("59900")
    assert events[0].trade.commission == D("0.11980000")                         # 0.02 % maker
    assert ex.accounts["a"].orders[placed.order_id].status == "FILLED"


def test_large_resting_orders_fill_partially_by_traded_volume() -> None:
    ex = make()
    placed, _ = order(ex, "BUY", "0.01", "LIMIT", "59900")
    statuses = []
    for _ in range(3):
        statuses += [e.order.status for e in tick(ex, "59890", step="0.004") if isinstance(e, OrderEvent)]
    assert statuses == ["PARTIALLY_FILLED", "PARTIALLY_FILLED", "FILLED"]
    assert [t.quantity for t in ex.accounts["a"].trades] == [D("0.004"), D("0.004"), D("0.002")]


def test_time_in_force_rules() -> None:
    ex = make()
    ioc, events = order(ex, "BUY", "0.01", "LIMIT", "59000", timeInForce="IOC")
    assert ioc.status == "EXPIRED" and events[-1].execution == "EXPIRED"
    with pytest.raises(BinanceError) as err:
        order(ex, "BUY", "0.01", "LIMIT", "60100", timeInForce="GTX")
    assert err.value.code == -5022
    taker, _ = order(ex, "BUY", "0.01", "LIMIT", "60100", timeInForce="FOK")
    assert taker.status == "FILLED" and taker.avg_price == D("60000.1")          # no worse than the limit


def test_reduce_only_never_opens_or_grows() -> None:
    ex = make()
    for side in ("SELL", "BUY"):
        with pytest.raises(BinanceError) as err:
            order(ex, side, "0.01", reduceOnly="true")
        assert err.value.code == -2022
    order(ex, "BUY", "0.01")
    with pytest.raises(BinanceError):
        order(ex, "BUY", "0.01", reduceOnly="true")
    capped, events = order(ex, "SELL", "0.02", reduceOnly="true")                # only 0.01 to close
    assert capped.executed == D("0.01") and capped.status == "EXPIRED"
    assert ex.accounts["a"].positions["BTCUSDT"].amount == 0


def test_margin_check_uses_leverage_and_available_balance() -> None:
    ex = make("1000")
    ex.set_leverage("a", "BTCUSDT", 10, T0)
    with pytest.raises(BinanceError) as err:
        order(ex, "BUY", "0.17")                                  # 10200 / 10 = 1020 > 1000
    assert err.value.code == -2019
    order(ex, "BUY", "0.16")                                      # 960
    order(ex, "SELL", "0.16")                                     # closing needs no margin
    with pytest.raises(BinanceError) as err:
        ex.set_leverage("a", "BTCUSDT", 126, T0)
    assert err.value.code == -4028


@pytest.mark.parametrize("params, code", [
    ({"symbol": "NOPE", "side": "UP", "type": "MARKET", "quantity": "1"}, -1121),
    ({"symbol": "", "side": "BUY", "type": "MARKET", "quantity": "1"}, -1102),
    ({"side": "UP", "type": "NOPE", "quantity": "1"}, -1117),
    ({"side": "BUY", "type": "NOPE", "quantity": "1"}, -1116),
    ({"side": "BUY", "type": "STOP_MARKET", "quantity": "1"}, -4120),
    ({"side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "60000"}, -1102),       # no timeInForce
    ({"side": "BUY", "type": "MARKET", "newClientOrderId": "used", "quantity": "0.0001"}, -4116),
    ({"side": "BUY", "type": "MARKET", "newClientOrderId": "bad id!", "quantity": "0.01"}, -4015),
    ({"side": "BUY", "type": "MARKET", "quantity": "0.0015"}, -1111),
    ({"side": "BUY", "type": "MARKET", "quantity": "0"}, -4003),
    ({"side": "BUY", "type": "MARKET", "quantity": "121"}, -4005),                        # market lot max 120
    ({"side": "BUY", "type": "LIMIT", "quantity": "0.0015", "price": "60000.05", "timeInForce": "GTC"}, -1111),
    ({"side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "60000.05", "timeInForce": "GTC"}, -4014),
    ({"side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "63000.1", "timeInForce": "GTC"}, -4016),
    ({"side": "SELL", "type": "LIMIT", "quantity": "0.01", "price": "56999.9", "timeInForce": "GTC"}, -4024),
    ({"side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "59000", "timeInForce": "GTC"}, -4164),
    ({"side": "BUY", "type": "MARKET", "quantity": "0.001", "reduceOnly": "true"}, -2022),  # notional waived
    ({"side": "BUY", "type": "MARKET", "quantity": "1"}, -2019),
])
def test_validation_reports_the_first_failing_rule(params: dict, code: int) -> None:
    ex = make("1000")
    ex.accounts["a"].used_client_ids.add("used")
    with pytest.raises(BinanceError) as err:
        ex.place_order("a", {"symbol": "BTCUSDT", **params}, T0)
    assert err.value.code == code


def test_client_order_ids_are_never_accepted_twice() -> None:
    ex = make()
    resting, _ = order(ex, "BUY", "0.01", "LIMIT", "59000", newClientOrderId="once")
    ex.cancel_order("a", "BTCUSDT", resting.order_id, None, T0)
    with pytest.raises(BinanceError) as err:
        order(ex, "BUY", "0.01", newClientOrderId="once")
    assert err.value.code == -4116
    with pytest.raises(BinanceError) as err:
        ex.place_algo("a", {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.01",
                            "triggerPrice": "50000", "clientAlgoId": "once"}, T0)
    assert err.value.code == -4116


def test_funding_moves_cash_between_longs_and_shorts() -> None:
    ex = make()
    ex.add_account("b", Secret("s"), D(10000))
    order(ex, "BUY", "0.01")
    order(ex, "SELL", "0.01", key="b")
    tick(ex, "60000", "60500")
    before = {k: ex.accounts[k].wallet for k in "ab"}
    events = ex.apply_funding("BTCUSDT", D("0.0001"), T0 + 1)
    assert ex.accounts["a"].wallet - before["a"] == D("-0.06050000")              # -0.01 x 60500 x 0.0001
    assert ex.accounts["b"].wallet - before["b"] == D("0.06050000")
    assert {e.reason for e in events} == {"FUNDING_FEE"}
    assert ex.accounts["a"].ledger.funding == D("-0.0605")


def test_cross_liquidation_at_the_computed_price() -> None:
    ex = make("100")
    order(ex, "BUY", "0.03")                                      # 1800 notional, 90 IM at 20x
    wallet = ex.accounts["a"].wallet
    assert wallet == D("100") - D("0.90000150")
    price = liquidation_price(D("0.03"), D("60000.1"), wallet, D("0.004"))
    assert D("56924") < price < D("56925")                        # (1800.003 - 99.0999985) / 0.02988
    assert tick(ex, "56930", "56930") == []
    events = tick(ex, "56900", "56900")
    liq = [e for e in events if isinstance(e, OrderEvent)]
    assert liq[0].execution == "CALCULATED" and liq[0].order.client_id.startswith("autoclose-")
    acct = ex.accounts["a"]
    assert acct.positions["BTCUSDT"].amount == 0
    assert acct.ledger.realized == D("-93.00300000")              # 0.03 x (56900 - 60000.1)
    assert acct.ledger.liquidation_fees == wallet - D("93.003")   # what was left, below the 6.828 maintenance
    assert acct.wallet == 0 and acct.ledger.liquidations == 1
    assert acct.ledger.expected_wallet() == acct.wallet


def test_isolated_liquidation_loses_exactly_the_isolated_margin() -> None:
    ex = make("1000")
    ex.set_margin_type("a", "BTCUSDT", "ISOLATED", T0)
    ex.set_leverage("a", "BTCUSDT", 10, T0)
    order(ex, "BUY", "0.01")
    acct = ex.accounts["a"]
    assert acct.positions["BTCUSDT"].isolated_wallet == D("60.0001")          # 600.001 / 10
    wallet = acct.wallet
    assert tick(ex, "54300", "54300") == []                       # liquidation price 540.0009 / 0.00996 ~ 54217
    tick(ex, "54100", "54100")
    assert acct.positions["BTCUSDT"].amount == 0
    assert acct.wallet == wallet - D("60.0001")
    assert acct.ledger.liquidation_fees == D("0.9991")            # 60.0001 - 59.001 lost on the close
    with pytest.raises(BinanceError) as err:
        ex.set_margin_type("a", "BTCUSDT", "ISOLATED", T0)
    assert err.value.code == -4046


def test_margin_type_cannot_change_with_orders_or_positions() -> None:
    ex = make()
    resting, _ = order(ex, "BUY", "0.01", "LIMIT", "59000")
    with pytest.raises(BinanceError) as err:
        ex.set_margin_type("a", "BTCUSDT", "ISOLATED", T0)
    assert err.value.code == -4047
    ex.cancel_order("a", "BTCUSDT", resting.order_id, None, T0)
    order(ex, "BUY", "0.01")
    with pytest.raises(BinanceError) as err:
        ex.set_margin_type("a", "BTCUSDT", "ISOLATED", T0)
    assert err.value.code == -4048


def test_stop_triggers_on_its_working_price() -> None:
    ex = make()
    order(ex, "BUY", "0.01")
    algo, events = ex.place_algo("a", {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
                                       "triggerPrice": "59000", "closePosition": "true",
                                       "workingType": "MARK_PRICE", "clientAlgoId": "stop-1"}, T0)
    assert isinstance(events[0], AlgoEvent) and algo.status == "NEW"
    assert tick(ex, "58900", "59100") == []                       # last crossed, mark did not
    events = tick(ex, "58950", "58990")
    statuses = [e.algo.status for e in events if isinstance(e, AlgoEvent)]
    assert statuses == ["TRIGGERED", "FINISHED"]
    fill = next(e for e in events if isinstance(e, OrderEvent) and e.execution == "TRADE")
    assert fill.order.client_id == "stop-1" and fill.order.orig_type == "STOP_MARKET"
    assert fill.trade.price == D("58950") and fill.trade.quantity == D("0.01")    # sells at the bid
    assert ex.accounts["a"].positions["BTCUSDT"].amount == 0
    with pytest.raises(BinanceError) as err:                      # would trigger at once
        ex.place_algo("a", {"symbol": "BTCUSDT", "side": "BUY", "type": "TAKE_PROFIT_MARKET",
                            "quantity": "0.01", "triggerPrice": "60000"}, T0)
    assert err.value.code == -2021


def test_reduce_only_stop_expires_if_the_position_is_gone() -> None:
    ex = make()
    order(ex, "BUY", "0.01")
    ex.place_algo("a", {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.01",
                        "triggerPrice": "59000", "reduceOnly": "true"}, T0)
    order(ex, "SELL", "0.01")
    events = tick(ex, "58000")
    assert [e.algo.status for e in events if isinstance(e, AlgoEvent)] == ["EXPIRED"]
    assert events[0].algo.fail_reason == "ReduceOnly Order is rejected."
    assert ex.accounts["a"].positions["BTCUSDT"].amount == 0


SPECS = {s: KNOWN[s] for s in ("BTCUSDT", "ETHUSDT")}
amounts = st.decimals(min_value=-2, max_value=2, places=3)
prices = st.decimals(min_value=100, max_value=100_000, places=1)


@settings(max_examples=200, deadline=None)
@given(wallet=st.decimals(min_value=0, max_value=5000, places=2), a=amounts, b=amounts, ea=prices, eb=prices,
       ma=prices, mb=prices, iso=st.booleans(), iw=st.decimals(min_value=0, max_value=3000, places=2))
def test_fast_liquidation_check_agrees_with_the_full_assessment(wallet, a, b, ea, eb, ma, mb, iso, iw) -> None:  # type: ignore[no-untyped-def]
    account = Account("k", Secret("s"), wallet + (iw if iso else 0))
    account.positions = {"BTCUSDT": Position("BTCUSDT", a, ea if a else D(0), iw if iso and a else D(0)),
                         "ETHUSDT": Position("ETHUSDT", b, eb if b else D(0))}
    if iso:
        account.margin_type["BTCUSDT"] = "isolated"
    marks = {"BTCUSDT": ma, "ETHUSDT": mb}
    risk = assess(account, marks, SPECS)
    isolated, cross = at_risk(account, marks, SPECS)
    assert isolated == [r.symbol for r in risk.positions if isolated_liquidatable(r)]
    assert cross == cross_liquidatable(risk)


@settings(max_examples=100, deadline=None)
@given(wallet=st.decimals(min_value=0, max_value=5000, places=2), a=amounts, b=amounts, ea=prices, eb=prices,
       ma=prices, mb=prices)
def test_equity_is_the_full_assessments_equity(wallet, a, b, ea, eb, ma, mb) -> None:  # type: ignore[no-untyped-def]
    ex = Exchange(SPECS)
    account = ex.add_account("k", Secret("s"), wallet)
    account.positions = {"BTCUSDT": Position("BTCUSDT", a, ea if a else D(0)),
                         "ETHUSDT": Position("ETHUSDT", b, eb if b else D(0))}
    for symbol, mark in (("BTCUSDT", ma), ("ETHUSDT", mb)):
        ex.quotes[symbol] = Quote.at(SPECS[symbol].instrument, mark, mark, 0)
    assert ex.equity("k") == ex.risk("k").equity
