"""Order sizing under the regime caps: worked examples, every rejection, and properties (hypothesis)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from engine.core.instrument import Instrument
from engine.core.types import Order, OrderStatus, OrderType, Position, Side
from engine.risk.parameters import RISK_TABLE
from engine.risk.regime import Regime
from engine.risk.sizing import WORKING, AccountState, OrderRequest, RejectReason, SizingDecision, size_order
from tests.risk.builders import BTC

NORMAL, CRASH, LOW = RISK_TABLE[Regime.NORMAL], RISK_TABLE[Regime.CRASH], RISK_TABLE[Regime.LOW_VOLATILITY]


def buy(quantity: str, price: str = "60000", **kw: object) -> OrderRequest:
    return OrderRequest("BTCUSDT", Side.BUY, D(quantity), D(price), **kw)  # type: ignore[arg-type]


def account(equity: str = "10000", positions: tuple[Position, ...] = (), orders: tuple[Order, ...] = (),
            **prices: str) -> AccountState:
    return AccountState(D(equity), positions, orders, {k: D(v) for k, v in prices.items()})


def position(symbol: str, quantity: str, mark: str) -> Position:
    return Position("a", symbol, D(quantity), D(mark), mark_price=D(mark))


def order(symbol: str, quantity: str, price: str | None, *, status: OrderStatus = OrderStatus.NEW,
          reduce_only: bool = False, filled: str = "0", cid: str = "o1") -> Order:
    return Order(cid, "a", symbol, Side.BUY, OrderType.LIMIT if price else OrderType.MARKET, D(quantity),
                 price=D(price) if price else None, reduce_only=reduce_only, status=status, filled_quantity=D(filled))


def test_normal_regime_passes_the_request_with_leverage_capped() -> None:
    d = size_order(buy("0.05", leverage=50), account(), NORMAL, BTC)
    assert d.approved and d.quantity == D("0.050") and d.bound_by == "request"
    assert d.leverage == 20 and d.price is None and d.exposure_after == D("3000.000") and d.cap_notional == 5000


def test_crash_scales_by_the_risk_multiplier() -> None:
    d = size_order(buy("0.05", leverage=3), account(), CRASH, BTC)
    assert d.approved and d.quantity == D("0.015") and d.bound_by == "risk_multiplier" and d.leverage == 3
    assert d.regime is Regime.CRASH


def test_low_volatility_scales_up() -> None:
    assert size_order(buy("0.05"), account(), LOW, BTC).quantity == D("0.060")


def test_position_ratio_cuts_the_size_to_a_whole_lot() -> None:
    d = size_order(buy("0.2"), account(), NORMAL, BTC)           # cap 5000 / 60000 = 0.08333..
    assert d.approved and d.quantity == D("0.083") and d.bound_by == "position_ratio"
    assert d.exposure_after <= D("5000")


def test_existing_positions_and_open_entry_orders_count_against_the_ratio() -> None:
    state = account(positions=(position("BTCUSDT", "-0.05", "60000"),),       # short counts too: 3000
                    orders=(order("ETHUSDT", "1", "1500"),                     # working entry: 1500
                            order("BTCUSDT", "1", "50000", reduce_only=True, cid="sl"),     # protective: no
                            order("ETHUSDT", "5", "1500", status=OrderStatus.CANCELED, cid="c"),  # final: no
                            order("ETHUSDT", "2", "1000", status=OrderStatus.PARTIALLY_FILLED, filled="1.5",
                                  cid="p")))                                   # unfilled 0.5 x 1000 = 500
    d = size_order(buy("1"), state, NORMAL, BTC)          # 5000 - 3000 - 1500 - 500 = nothing left
    assert not d.approved and d.reason is RejectReason.POSITION_RATIO
    lighter = AccountState(state.equity, state.positions, state.open_orders[:-1])
    d = size_order(buy("1"), lighter, NORMAL, BTC)        # 500 left: 0.00833 -> 0.008
    assert d.approved and d.quantity == D("0.008") and d.bound_by == "position_ratio"


def test_open_market_order_is_priced_at_the_reference_price() -> None:
    state = account(orders=(order("ETHUSDT", "1", None, status=OrderStatus.UNKNOWN),), ETHUSDT="2000")
    d = size_order(buy("1"), state, NORMAL, BTC)
    assert d.approved and d.quantity == D("0.050") and d.exposure_after == D("5000.000")
    unpriced = account(orders=(order("ETHUSDT", "1", None, status=OrderStatus.UNKNOWN),))
    d = size_order(buy("1"), unpriced, NORMAL, BTC)
    assert d.reason is RejectReason.INVALID_REQUEST and "no reference price for ETHUSDT" in d.detail


def test_a_size_below_min_notional_is_rejected_never_rounded_up() -> None:
    state = account(positions=(position("ETHUSDT", "2.45", "2000"),))      # 4900 of 5000 used: 100 left
    d = size_order(buy("1"), state, NORMAL, BTC)                            # 0.00166 -> 0.001 -> 60 < 100
    assert not d.approved and d.quantity == 0 and d.reason is RejectReason.BELOW_MINIMUM
    assert "min notional 100" in d.detail and "position_ratio" in d.detail


def test_concurrent_order_cap_counts_positions_and_working_entries_not_stops() -> None:
    state = account("100000", positions=(position("ETHUSDT", "1", "2000"),),
                    orders=(order("XRPUSDT", "10", "0.5", status=OrderStatus.PENDING),
                            order("BTCUSDT", "0.1", "50000", reduce_only=True, cid="sl")))
    d = size_order(buy("0.01"), state, CRASH, BTC)                         # CRASH allows 2 including this one
    assert d.reason is RejectReason.CONCURRENT_ORDERS and "2 open positions and working entry orders" in d.detail
    assert size_order(buy("0.01"), state, NORMAL, BTC).approved


def test_limit_prices_move_onto_the_tick_grid_in_the_traders_favour() -> None:
    d = size_order(buy("0.01", "60000.07", order_type=OrderType.LIMIT), account(), NORMAL, BTC)
    assert d.price == D("60000.0") and BTC.is_valid_price(d.price)
    sell = OrderRequest("BTCUSDT", Side.SELL, D("0.01"), D("60000.01"), order_type=OrderType.LIMIT)
    assert size_order(sell, account(), NORMAL, BTC).price == D("60000.1")


def test_max_qty_caps_the_size() -> None:
    d = size_order(buy("500"), account("1000000000"), NORMAL, BTC)
    assert d.quantity == D("120.000") and d.bound_by == "max_qty"


@pytest.mark.parametrize(("request_", "state", "match"), [
    (buy("0.01", "NaN"), account(), "price must be a finite number"),
    (buy("-1"), account(), "quantity must be a finite number greater than 0"),
    (buy("0.01"), account("0"), "equity must be"),
    (buy("0.01", leverage=0), account(), "leverage must be at least 1"),
    (OrderRequest("ETHUSDT", Side.BUY, D("1"), D("2000")), account(), "instrument rules are BTCUSDT's"),
    (buy("0.01"), account(ETHUSDT="-5"), "reference price for ETHUSDT"),
])
def test_invalid_requests_are_rejected_with_the_problem(request_: OrderRequest, state: AccountState,
                                                        match: str) -> None:
    d = size_order(request_, state, NORMAL, BTC)
    assert not d.approved and d.reason is RejectReason.INVALID_REQUEST and match in d.detail


def test_price_outside_the_filter_is_rejected() -> None:
    d = size_order(buy("0.01", "0.01", order_type=OrderType.LIMIT), account(), NORMAL, BTC)
    assert d.reason is RejectReason.PRICE_FILTER


def test_exits_are_limited_to_the_position_and_exempt_from_caps_and_min_notional() -> None:
    crowded = tuple(position(s, "0.001", "60000") for s in ("BTCUSDT", "ETHUSDT", "XRPUSDT", "SOLUSDT"))
    state = account("100", positions=crowded)                              # over every CRASH cap
    sell = OrderRequest("BTCUSDT", Side.SELL, D("0.5"), D("60000"), reduce_only=True)
    d = size_order(sell, state, CRASH, BTC)
    assert d.approved and d.reduce_only and d.quantity == D("0.001") and d.bound_by == "position"
    wrong_way = OrderRequest("BTCUSDT", Side.BUY, D("0.5"), D("60000"), reduce_only=True)
    assert size_order(wrong_way, state, CRASH, BTC).reason is RejectReason.NO_POSITION
    assert size_order(sell, account(), CRASH, BTC).reason is RejectReason.NO_POSITION
    odd_reference = OrderRequest("BTCUSDT", Side.SELL, D("0.5"), D("0.001"), reduce_only=True)
    assert size_order(odd_reference, state, CRASH, BTC).approved      # a market exit sends no price


# -- properties ---------------------------------------------------------------------------------

SYMBOLS = ("BTCUSDT", "ETHUSDT", "XRPUSDT")
steps = st.sampled_from([D("1"), D("0.1"), D("0.01"), D("0.001")])
ticks = st.sampled_from([D("0.0001"), D("0.01"), D("0.1"), D("1")])
money = st.decimals(min_value=D("0.5"), max_value=D("5000000"), places=2)


@st.composite
def instruments(draw: st.DrawFn) -> Instrument:
    step, tick = draw(steps), draw(ticks)
    min_lots, max_lots = draw(st.integers(1, 5)), draw(st.integers(10, 10**6))
    return Instrument("BTCUSDT", "BTC", "USDT", tick_size=tick, min_price=tick, max_price=D("10000000"),
                      step_size=step, min_qty=step * min_lots, max_qty=step * max_lots, market_step_size=step,
                      market_min_qty=step * min_lots, market_max_qty=step * max_lots // 2 or step,
                      min_notional=draw(st.sampled_from([D("5"), D("20"), D("100")])))


fractions = st.decimals(D("0"), D("0.4"), places=3)


@st.composite
def states(draw: st.DrawFn, holding: str | None = None) -> AccountState:
    """Equity with positions and orders sized relative to it, so every cap gets exercised."""
    equity = draw(st.decimals(D("100"), D("10000000"), places=2))
    held = draw(st.lists(st.sampled_from(SYMBOLS), unique=True, max_size=3))
    if holding and holding not in held:
        held.append(holding)

    def size(price: D) -> D:
        return max(D("0.001"), (draw(fractions) * equity / price).quantize(D("0.001")))

    positions = []
    for symbol in held:
        mark = draw(money)
        positions.append(Position("a", symbol, size(mark) * draw(st.sampled_from([1, -1])), draw(money),
                                  mark_price=mark))
    orders = []
    for i in range(draw(st.integers(0, 4))):
        price = draw(money)
        orders.append(Order(f"o{i}", "a", draw(st.sampled_from(SYMBOLS)), draw(st.sampled_from(Side)),
                            draw(st.sampled_from([OrderType.LIMIT, OrderType.MARKET])), size(price), price=price,
                            reduce_only=draw(st.booleans()), status=draw(st.sampled_from(OrderStatus))))
    return AccountState(equity, tuple(positions), tuple(orders))


@st.composite
def requests(draw: st.DrawFn, reduce_only: bool = False) -> OrderRequest:
    price = draw(st.decimals(D("0.5"), D("100000"), places=2))
    notional = draw(st.decimals(D("1"), D("2000000"), places=0))
    quantity = max(D("0.001"), (notional / price).quantize(D("0.001")))
    return OrderRequest("BTCUSDT", draw(st.sampled_from(Side)), quantity, price, draw(st.integers(1, 125)),
                        draw(st.sampled_from([OrderType.MARKET, OrderType.LIMIT])), reduce_only)


def reference_exposure(state: AccountState) -> tuple[D, int]:
    """Independent restatement of what the module says it counts."""
    gross = sum((abs(p.quantity) * p.mark_price for p in state.positions), D(0))
    working = [o for o in state.open_orders if not o.reduce_only and o.status in WORKING]
    gross += sum(((o.quantity - o.filled_quantity) * (o.price or 0) for o in working), D(0))
    return gross, len(state.positions) + len(working)


def lot_rules(instrument: Instrument, request: OrderRequest) -> tuple[bool, D, D]:
    market = request.order_type is not OrderType.LIMIT
    step = instrument.market_step_size if market else instrument.step_size
    return market, step, instrument.market_max_qty if market else instrument.max_qty


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(Regime), instruments(), states(), requests())
def test_no_entry_ever_exceeds_the_regime_caps_and_every_size_is_a_valid_lot(
        regime: Regime, instrument: Instrument, state: AccountState, request: OrderRequest) -> None:
    params = RISK_TABLE[regime]
    d: SizingDecision = size_order(request, state, params, instrument)
    event(f"{'approved' if d.approved else d.reason}")
    market, step, max_qty = lot_rules(instrument, request)
    gross, slots = reference_exposure(state)
    if not d.approved:
        assert d.quantity == 0 and d.reason is not None and d.detail
        return
    price = d.price if d.price is not None else request.price
    assert instrument.is_valid_quantity(d.quantity, market=market)
    assert instrument.meets_min_notional(d.quantity, price)
    assert 1 <= d.leverage <= params.max_leverage
    assert slots + 1 <= params.max_concurrent_orders
    after = gross + d.quantity * price
    assert after <= params.position_ratio * state.equity and after <= params.max_leverage * state.equity
    assert d.quantity <= request.quantity * params.risk_multiplier
    if request.order_type is OrderType.LIMIT:
        assert instrument.is_valid_price(d.price)
        assert d.price <= request.price if request.side is Side.BUY else d.price >= request.price
    # ... and it is the largest such lot: one more step would break a cap, the request or max qty.
    bigger = d.quantity + step
    assert (gross + bigger * price > params.position_ratio * state.equity
            or bigger > request.quantity * params.risk_multiplier or bigger > max_qty)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(Regime), instruments(), states(holding="BTCUSDT"), requests(reduce_only=True))
def test_exits_never_exceed_the_position_and_are_valid_lots(
        regime: Regime, instrument: Instrument, state: AccountState, request: OrderRequest) -> None:
    d = size_order(request, state, RISK_TABLE[regime], instrument)
    event(f"{'approved' if d.approved else d.reason}")
    held = sum((p.quantity for p in state.positions if p.symbol == "BTCUSDT"), D(0))
    if d.approved:
        market, _, _ = lot_rules(instrument, request)
        assert d.reduce_only and instrument.is_valid_quantity(d.quantity, market=market)
        assert d.quantity <= abs(held) and d.quantity <= request.quantity
        assert (held > 0) == (request.side is Side.SELL)
    else:
        assert d.quantity == 0 and d.reason in (RejectReason.NO_POSITION, RejectReason.BELOW_MINIMUM,
                                                RejectReason.PRICE_FILTER)
