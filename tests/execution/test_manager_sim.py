"""The order manager against the real simulator (ccxt, HTTP and websockets on loopback, DuckLake in a
tmp dir): protection on the exchange, exact trade records, faults that never duplicate an order,
and bad exchange answers that are logged while the loop goes on."""

from __future__ import annotations

import logging
from collections import Counter
from decimal import Decimal as D

import msgspec
import pytest

from engine.core.types import Order, OrderStatus, OrderType, Side, TimeInForce, TradeExit
from engine.execution.book import MAX_GENERATIONS, Book, Place
from engine.execution.orders import Leg, leg_of, order_id
from engine.execution.protection import ProtectionRule
from engine.store import reader
from tests.execution.stack import Stack, fills_in, ledger_of, sim_orders
from tests.sim.harness import SimHandle

pytestmark = pytest.mark.integration  # starts the simulator (or the engine) on 127.0.0.1


async def test_a_signal_trades_with_protection_on_the_exchange(stack: Stack, sim: SimHandle) -> None:
    sig = await stack.signal("BTCUSDT", Side.BUY, atr=40.0)
    await stack.settle()
    book = stack.book()
    assert book.position == D("0.010")
    algos = {a.client_id: a for a in sim_orders(sim) if hasattr(a, "algo_id")}
    stop = algos[order_id(sig.signal_id, Leg.STOP, "main")]
    take = algos[order_id(sig.signal_id, Leg.TAKE, "main")]
    entry = book.ledger.trade.entry_price  # type: ignore[union-attr]
    assert (stop.order_type, stop.side, stop.quantity, stop.reduce_only) == ("STOP_MARKET", "SELL", D("0.010"), True)
    assert stop.trigger_price == ProtectionRule().prices(Side.BUY, entry, 40.0, book.instrument)[0]
    assert take.order_type == "TAKE_PROFIT_MARKET" and take.trigger_price > entry
    await sim.control.set_price("BTCUSDT", float(stop.trigger_price) - 5, mark=float(stop.trigger_price) - 5)
    await stack.settle()
    assert book.position == 0 and take.status == "CANCELED" and stop.status == "FINISHED"
    exits, fills = await stack.stored(lambda lake: (reader.read(lake, TradeExit), fills_in(lake)))
    [exit_] = exits
    ledger = ledger_of(sim)
    assert exit_.realized_pnl == ledger.realized and exit_.fees == ledger.fees and exit_.reason == "stop_loss"
    trades = sim.sim.exchange.accounts[sim.key].trades  # type: ignore[union-attr]
    assert sorted(f.trade_id for f in fills) == sorted(str(t.trade_id) for t in trades)
    assert {f.client_order_id for f in fills} == {order_id(sig.signal_id, Leg.ENTRY, "main"), stop.client_id}


@pytest.mark.parametrize("rounds", [4])
async def test_faults_on_submission_never_make_two_orders_for_one_signal(stack: Stack, sim: SimHandle,
                                                                         rounds: int) -> None:
    """5xx (html and JSON bodies), 429 with Retry-After, answers lost after the order was accepted (held
    past our timeout, or the connection cut) and unreadable answers, on plain and conditional orders."""
    for spec in ({"kind": "http_error", "status": 503, "probability": 0.25, "seed": 1},
                 {"kind": "http_error", "status": 502, "body": "json", "probability": 0.15, "seed": 2},
                 {"kind": "rate_limit", "retry_after": 1, "probability": 0.15, "seed": 3},
                 {"kind": "timeout_after_accept", "mode": "cut", "probability": 0.2, "seed": 4},
                 {"kind": "timeout_after_accept", "delay": 3.5, "probability": 0.1, "seed": 5},
                 {"kind": "malformed_response", "probability": 0.1, "seed": 6}):
        for path in ("/fapi/v1/order", "/fapi/v1/algoOrder"):
            await sim.control.fault(path=path, method="POST", **spec)
    signals = []
    for n in range(rounds):
        for symbol in ("BTCUSDT", "ETHUSDT"):
            signals.append(await stack.signal(symbol, Side.BUY if n % 2 == 0 else Side.SELL))
        await stack.settle(timeout=60)
    await sim.control.clear_faults()
    await stack.settle(timeout=30)
    fired = (await sim.control.faults())["counters"]
    assert {"http_error", "rate_limit", "timeout_after_accept", "malformed_response"} <= set(fired), fired

    ours = {order_id(s.signal_id, leg, "main", g): (s.signal_id, leg) for s in signals for leg in Leg for g in range(3)}
    on_exchange = [o.client_id for o in sim_orders(sim) if not o.client_id.startswith("sim-")]
    per_leg = Counter(ours[cid] for cid in on_exchange if leg_of(cid) in (Leg.ENTRY, Leg.EXIT))
    assert set(on_exchange) <= set(ours) and max(per_leg.values()) == 1, per_leg
    assert len(on_exchange) == len(set(on_exchange))
    assert {s for s, leg in per_leg if leg is Leg.ENTRY} == {s.signal_id for s in signals}  # every signal traded once
    account = sim.sim.exchange.accounts[sim.key]  # type: ignore[union-attr]
    for symbol in ("BTCUSDT", "ETHUSDT"):
        book = stack.book(symbol)
        assert book.position == account.position(symbol).amount
        protective = {o.client_id for o in account.open_algos(symbol)}
        assert len(protective) == 2 and protective <= set(book.orders)  # protected, by our own two orders
    fills, orders = await stack.stored(lambda lake: (fills_in(lake), reader.orders(lake, "main")))
    assert sorted(f.trade_id for f in fills) == sorted(str(t.trade_id) for t in account.trades)
    latest = {o.client_order_id: o.status for o in orders}
    for sim_order in account.orders.values():
        if not sim_order.client_id.startswith("sim-"):
            assert latest[sim_order.client_id] == sim_order.status, sim_order.client_id


async def test_a_duplicate_client_id_means_the_first_send_landed(stack: Stack, sim: SimHandle) -> None:
    first = await stack.signal("ETHUSDT", Side.BUY)
    await stack.settle()
    # the same signal again: its entry id exists already (-4116) -> fetched, never a second order
    book = stack.book("ETHUSDT")
    entry = book.orders[order_id(first.signal_id, Leg.ENTRY, "main")]
    again = msgspec.structs.replace(entry, status=OrderStatus.PENDING, filled_quantity=D(0))
    book.orders[entry.client_order_id] = again
    stack.manager.run_command(book, Place(again, "a resend after a crash"))
    await stack.settle()
    assert stack.manager.counts["duplicate"] == 1
    assert book.orders[entry.client_order_id].status is OrderStatus.FILLED
    assert len([o for o in sim_orders(sim) if o.client_id == entry.client_order_id]) == 1


async def test_bad_exchange_answers_are_logged_and_the_loop_continues(stack: Stack, sim: SimHandle,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "engine")
    eth = stack.book("ETHUSDT")
    # insufficient margin: an entry far beyond the wallet
    stack.quantity["ETHUSDT"] = D("900")
    await stack.signal("ETHUSDT", Side.BUY)
    await stack.settle()
    assert "Margin is insufficient" in caplog.text and "rejected by the exchange" in caplog.text
    # price filter: a limit price far below the mark (PERCENT_PRICE; ccxt itself puts prices on the tick grid)
    sig = await stack.signal("XRPUSDT", Side.SELL)
    await stack.settle()
    mark = (await stack.venue.fetch_mark_price("ETHUSDT")).mark_price
    price = eth.instrument.round_price(mark * D("0.5"))
    bad = Order(order_id(sig.signal_id + ":limit", Leg.ENTRY, "main"), "main", "ETHUSDT", Side.BUY, OrderType.LIMIT,
                D("0.1"), price=price, time_in_force=TimeInForce.GTC, signal_id=sig.signal_id)
    eth.orders[bad.client_order_id] = bad
    stack.manager.run_command(eth, Place(bad, "test"))
    await stack.settle()
    assert "-4024 Limit price can't be lower than" in caplog.text
    assert eth.orders[bad.client_order_id].status is OrderStatus.REJECTED
    # unknown symbol: a book for a symbol the exchange does not list
    doge = Book("main", "DOGEUSDT", msgspec.structs.replace(eth.instrument, symbol="DOGEUSDT"), ProtectionRule())
    stack.manager.books["DOGEUSDT"] = doge
    stack.quantity["DOGEUSDT"] = D("100")
    stack.manager.on_signal(msgspec.structs.replace(sig, symbol="DOGEUSDT", side=Side.BUY))
    await stack.settle()
    assert "DOGEUSDT is not listed on this venue" in caplog.text
    del stack.manager.books["DOGEUSDT"]
    # malformed JSON: the order is accepted, its answer unreadable -> asked for by client id
    await sim.control.fault(kind="malformed_response", path="/fapi/v1/order", method="POST", count=1)
    stack.quantity["ETHUSDT"] = D("0.100")
    good = await stack.signal("ETHUSDT", Side.BUY)
    await stack.settle()
    assert "not a JSON object" in caplog.text
    assert eth.orders[order_id(good.signal_id, Leg.ENTRY, "main")].status is OrderStatus.FILLED
    assert eth.position == D("0.100") and len(eth.working(Leg.STOP)) == 1  # traded and protected after all that
    assert stack.manager.counts["rejected"] == 3


async def test_exits_and_protective_orders_pass_the_risk_gate(stack: Stack, sim: SimHandle,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "engine")
    seen: list[str] = []

    def gate(book: Book, order: Order) -> Order | str:
        seen.append(order.client_order_id)
        return "protective orders are off in this test" if order.type is not OrderType.MARKET else order

    stack.manager.gate = gate
    await stack.signal("ETHUSDT", Side.BUY)
    await stack.settle()
    book = stack.book("ETHUSDT")
    assert book.position == D("0.100") and len(seen) >= 2  # the entry is sized elsewhere; S and T came here
    assert "risk: protective orders are off in this test" in caplog.text
    assert all(o.status is OrderStatus.CANCELED for o in book.orders.values() if o.type is not OrderType.MARKET)
    assert len(seen) == 2 * MAX_GENERATIONS and book.gave_up and not book.doubt  # tried, verified once, stopped
    await stack.signal("ETHUSDT", Side.BUY)  # later events do not start it all over
    await stack.settle()
    assert len(seen) == 2 * MAX_GENERATIONS


async def test_an_order_the_exchange_has_forgotten_is_expired_not_cancelled_forever(stack: Stack,
                                                                                    sim: SimHandle) -> None:
    """A protective order we believe resting for a position that is flat, which the exchange has no
    record of (Binance forgets orders that ended unfilled long ago; a reset exchange forgets all):
    one cancel attempt and one lookup, then it is marked expired and the loop goes quiet."""
    book = stack.book("BTCUSDT")
    ghost = Order(order_id("ghost-signal", Leg.STOP, "main"), "main", "BTCUSDT", Side.SELL, OrderType.STOP_MARKET,
                  D("0.010"), stop_price=D("1000"), reduce_only=True, signal_id="ghost-signal",
                  status=OrderStatus.NEW, exchange_order_id="algo:1")
    book.orders[ghost.client_order_id] = ghost
    stack.manager.step("BTCUSDT")
    await stack.settle()
    assert book.orders[ghost.client_order_id].status is OrderStatus.EXPIRED
    assert stack.manager.counts["resolved"] == 1          # asked once, not in a loop
    stored = await stack.stored(lambda lake: reader.orders(lake, "main"))
    assert {o.client_order_id: o.status for o in stored}[ghost.client_order_id] is OrderStatus.EXPIRED
