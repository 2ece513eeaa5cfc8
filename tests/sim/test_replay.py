"""The replay driving the exchange core: equity = wallet cash + unrealised PnL at every step, and the
wallet equals an independent re-computation from the trade list and ledger."""

from __future__ import annotations

from decimal import Decimal as D

from engine.core.secret import Secret
from engine.sim.errors import BinanceError
from engine.sim.instruments import KNOWN
from engine.sim.market import Market
from engine.sim.matching import Exchange
from engine.sim.pricing import FeeSchedule, SlippageModel
from engine.sim.replay import Replay
from engine.sim.streams import Hub
from engine.sim.synthetic import generate, parse_segments, synthetic_tape

START = 1_704_067_200_000 + 24 * 3_600_000


def build(events: list) -> Replay:
    series = generate(parse_segments("normal:24,high:12,crash:24,rally:12"), seed=3,
                      start_ms=1_704_067_200_000, interval="1m", start_price=30000.0, decimals=1)
    tapes = {"BTCUSDT": synthetic_tape("BTCUSDT", series)}
    specs = {"BTCUSDT": KNOWN["BTCUSDT"]}
    exchange = Exchange(specs, FeeSchedule(), SlippageModel(D("0.1")))
    market = Market(tapes, specs, 6)
    return Replay(market, exchange, Hub(), events.extend, start_ms=START, end_ms=START + 48 * 3_600_000,
                  speed=float("inf"))


def independent_wallet(exchange: Exchange, key: str) -> tuple[D, D, D]:
    """Average-cost replay of the account's own trade list: (wallet, position, entry)."""
    acct = exchange.accounts[key]
    amount, entry, realized, fees = D(0), D(0), D(0), D(0)
    for t in acct.trades:
        signed = t.quantity if t.side == "BUY" else -t.quantity
        fees += t.commission
        if amount == 0 or (amount > 0) == (signed > 0):
            entry = (abs(amount) * entry + t.quantity * t.price) / (abs(amount) + t.quantity)
        else:
            closing = min(t.quantity, abs(amount))
            realized += (closing * (t.price - entry) * (1 if amount > 0 else -1)).quantize(D("0.00000001"))
            if t.quantity > abs(amount):
                entry = t.price
        amount += signed
        if amount == 0:
            entry = D(0)
    led = acct.ledger
    wallet = led.deposits + realized - fees + led.funding - led.liquidation_fees + led.insurance
    return wallet, amount, entry


def test_equity_is_cash_plus_unrealised_pnl_at_every_step() -> None:
    events: list = []
    replay = build(events)
    ex = replay.exchange
    for key, usdt in (("cross", "5000"), ("iso", "3000"), ("tiny", "120")):
        ex.add_account(key, Secret("s"), D(usdt))
    ex.set_margin_type("iso", "BTCUSDT", "ISOLATED", replay.now_ms)
    ex.set_leverage("tiny", "BTCUSDT", 50, replay.now_ms)
    plan = {10: ("cross", "BUY", "0.05"), 200: ("iso", "SELL", "0.04"), 400: ("tiny", "BUY", "0.15"),
            900: ("cross", "SELL", "0.08"), 1500: ("iso", "BUY", "0.04"), 2500: ("cross", "BUY", "0.03")}
    steps = 0
    while replay.step_once():
        steps += 1
        if steps in plan:
            key, side, qty = plan[steps]
            try:
                ex.place_order(key, {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": qty},
                               replay.now_ms)
            except BinanceError as exc:
                assert exc.code in (-2019,), exc
            if steps == 10:
                mark = ex.quotes["BTCUSDT"].mark
                ex.place_order("cross", {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "quantity": "0.02",
                                         "price": str((mark * D("1.01")).quantize(D("0.1"))), "timeInForce": "GTC"},
                               replay.now_ms)
        mark = ex.quotes["BTCUSDT"].mark
        for key, acct in ex.accounts.items():
            risk = ex.risk(key)
            pos = acct.positions.get("BTCUSDT")
            upnl = pos.amount * (mark - pos.entry_price) if pos else D(0)
            assert risk.equity == acct.wallet + upnl
            assert acct.wallet == acct.ledger.expected_wallet()
            wallet, amount, entry = independent_wallet(ex, key)
            assert acct.wallet == wallet and (pos.amount if pos else 0) == amount
            assert sum(i.amount for i in acct.income) == acct.wallet              # GET /fapi/v1/income adds up
            if amount:
                assert pos is not None and pos.entry_price == entry
    assert replay.finished and steps == 48 * 60 * 7 - 1                  # the opening tick ran at start
    assert any(a.ledger.funding for a in ex.accounts.values())          # funding was settled (every 8 h)
    assert ex.accounts["tiny"].ledger.liquidations == 1                  # 50x long through the crash
    assert replay.stats.funding_events == 6


def test_bars_close_once_at_their_close_time_and_funding_runs_at_funding_times() -> None:
    events: list = []
    replay = build(events)
    replay.exchange.add_account("a", Secret("s"), D(1000))
    replay.exchange.place_order("a", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"},
                                replay.now_ms)
    replay.step_bars(8 * 60)
    state = replay.market.states["BTCUSDT"]
    assert replay.now_ms == START + 8 * 3_600_000 - 1                    # the close time of the last bar
    assert replay.stats.bars_closed["1m"] == 480 and replay.stats.bars_closed["1h"] == 8
    assert replay.stats.bars_closed["8h"] == 1 and state.bar is None
    funding = [e for e in events if getattr(e, "reason", "") == "FUNDING_FEE"]
    assert [e.time for e in funding] == [START + 8 * 3_600_000]          # 2024-01-02 08:00 UTC
    assert funding[0].balance_change < 0                                  # longs pay a positive rate
