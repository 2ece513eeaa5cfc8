"""Skipping the path points of quiet symbols (engine/backtest/stepper.py) changes nothing: a run with
skipping and a run through `Replay.step_once` at every point journal the same records, hand the
engine the same events in the same order, and leave the exchange and the market in the same state."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from engine.backtest.driver import Backtest, build_sim
from engine.backtest.session import Request, prepare
from engine.backtest.stepper import Stepper
from engine.backtest.tap import Tap
from engine.config import load_settings
from engine.sim.errors import BinanceError
from tests.backtest.helpers import MARKET, options, settings

WALL = {"received_time"}     # our own wall-clock stamps: the only fields two runs may differ in


def plain(value: Any) -> Any:
    """A record or event as builtins, without wall-clock stamps (Decimals as their exact text)."""
    def strip(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k not in WALL}
        if isinstance(x, (list, tuple)):
            return [strip(v) for v in x]
        return x
    return type(value).__name__, strip(msgspec.to_builtins(value, builtin_types=(Decimal,)))


def state_of(bt: Backtest) -> dict[str, Any]:
    """The exchange's accounts and quotes and the market's symbol states at the end."""
    ex = bt.sim.exchange
    accounts = {key: {"wallet": a.wallet, "ledger": vars(a.ledger), "trades": [vars(t) for t in a.trades],
                      "orders": [(o.client_id, o.status, o.executed, o.cum_quote) for o in a.orders.values()],
                      "algos": [(g.client_id, g.status) for g in a.algos.values()],
                      "positions": {s: (p.amount, p.entry_price) for s, p in a.positions.items()}}
                for key, a in ex.accounts.items()}
    market = {s: (st.index, st.k, st.price, st.mark, st.agg_id, st.book_id, st.step_qty,
                  None if st.bar is None else vars(st.bar), st.last_range, st.last_volume)
              for s, st in bt.sim.market.states.items()}
    quotes = {s: (q.last, q.mark, q.bid, q.ask, q.time) for s, q in ex.quotes.items()}
    return {"accounts": accounts, "market": market, "quotes": quotes}


def run(config: Any, opts: Any, tapes: Any = None, *, full_path: bool) -> tuple[list, list, dict, Backtest, int]:
    sim, accounts = build_sim(config, opts, Decimal(10_000), tapes)
    bt = Backtest(config, sim, accounts, full_path=full_path)
    delivered: list[Any] = []
    deliver = bt.deliver

    def recording(events: list[tuple[str, object]]) -> None:
        delivered.extend((where, plain(event)) for where, event in events)
        deliver(events)
    bt.deliver = recording  # type: ignore[method-assign]
    result = asyncio.run(bt.run())
    records = [plain(r) for r in result.records.records]
    return records, delivered, state_of(bt), bt, result.steps


def assert_same(full: tuple, skipped: tuple) -> None:
    records, delivered, state, _, steps = full
    records2, delivered2, state2, bt2, steps2 = skipped
    assert steps == steps2
    assert len(records) == len(records2)
    for i, (a, b) in enumerate(zip(records, records2, strict=True)):
        assert a == b, f"record {i} differs"
    assert len(delivered) == len(delivered2)
    for i, (a, b) in enumerate(zip(delivered, delivered2, strict=True)):
        assert a == b, f"delivered event {i} differs"
    assert state == state2
    assert bt2.stepper is not None and bt2.stepper.skipped > 0, "nothing was skipped: the test proves nothing"


@pytest.mark.parametrize(("bars", "ticks"), [(300, 12), (90, 120)])
def test_skipping_quiet_symbols_gives_the_full_paths_run_record_for_record(bars: int, ticks: int) -> None:
    """1m bars of three symbols; 120 points a bar put them 0.5 s apart, under the markPrice@1s throttle."""
    config = settings(SLT_SYMBOLS="BTCUSDT,ETHUSDT,XRPUSDT")
    opts = dataclasses.replace(options(bars), symbols=config.symbols, interval=config.interval, ticks_per_bar=ticks)
    full, skipped = run(config, opts, full_path=True), run(config, opts, full_path=False)
    assert any(kind == "Fill" for kind, _ in full[0]) and any(kind == "FundingPayment" for kind, _ in full[0])
    assert_same(full, skipped)


def test_skipping_on_the_bundled_1h_history_gives_the_full_paths_run() -> None:
    """The benchmark's configuration (1h, three symbols, 12 points a bar) over 300 bars after the warm-up."""
    base = load_settings({"SLT_INTERVAL": "1h", "SLT_SYMBOLS": "BTCUSDT,ETHUSDT,XRPUSDT",
                          "SLT_MARKET_DATA_DIR": str(MARKET)}, env_file=None)
    config, opts, tapes, _, _ = prepare(base, Request(interval="1h"))
    opts = dataclasses.replace(opts, end_ms=opts.start_ms + 300 * 3_600_000)
    full, skipped = run(config, opts, tapes, full_path=True), run(config, opts, tapes, full_path=False)
    assert any(kind == "TradeExit" for kind, _ in full[0])
    assert_same(full, skipped)


def exchange_run(*, full_path: bool) -> tuple[list, dict, int]:
    """The replay without the engine: an account at 100x (BTC cross, ETH isolated) with stops,
    take-profits and resting limit orders placed every 40 steps, to its liquidations. Orders are placed
    between steps, as the engine places them (after `materialize`, as the driver before `observe`)."""
    config = settings(SLT_SYMBOLS="BTCUSDT,ETHUSDT,XRPUSDT")
    opts = dataclasses.replace(options(240), symbols=config.symbols, interval=config.interval)
    sim, _ = build_sim(config, opts, Decimal(10_000))
    tap = Tap(sim, config.symbols, config.interval, {"bt-main": "main"})
    stepper = None if full_path else Stepper(sim, tap)
    ex, key = sim.exchange, "bt-main"
    delivered: list[Any] = []
    ids = iter(range(1, 10_000))

    def send(place: Any, params: dict[str, str]) -> None:
        try:
            tap.dispatch(place(key, params, sim.replay.now_ms)[1])
        except BinanceError:
            pass                                  # the same refusals in both runs

    def orders() -> None:
        now = sim.replay.now_ms
        marks = {s: q.last for s, q in ex.quotes.items()}
        for symbol, leverage in (("BTCUSDT", 100), ("ETHUSDT", 100), ("XRPUSDT", 20)):
            tap.dispatch(ex.set_leverage(key, symbol, leverage, now))
        if not ex.accounts[key].positions.get("BTCUSDT") or not ex.accounts[key].positions["BTCUSDT"].amount:
            send(ex.place_order, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "9",
                                  "newClientOrderId": f"b{next(ids)}"})
        if not ex.accounts[key].positions.get("ETHUSDT") or not ex.accounts[key].positions["ETHUSDT"].amount:
            send(ex.place_order, {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "30",
                                  "newClientOrderId": f"e{next(ids)}"})
        x = marks["XRPUSDT"]
        for side, price in (("BUY", x * Decimal("0.998")), ("SELL", x * Decimal("1.002"))):
            send(ex.place_order, {"symbol": "XRPUSDT", "side": side, "type": "LIMIT", "timeInForce": "GTC",
                                  "quantity": "500", "price": str(price.quantize(Decimal("0.0001"))),
                                  "newClientOrderId": f"x{next(ids)}"})
        b = marks["BTCUSDT"]
        for kind, trigger in (("STOP_MARKET", b * Decimal("0.996")), ("TAKE_PROFIT_MARKET", b * Decimal("1.004"))):
            send(ex.place_algo, {"symbol": "BTCUSDT", "side": "SELL", "type": kind, "algoType": "CONDITIONAL",
                                 "quantity": "1", "reduceOnly": "true",
                                 "triggerPrice": str(trigger.quantize(Decimal("0.1"))), "clientAlgoId": f"a{next(ids)}"})

    ex.set_margin_type(key, "ETHUSDT", "ISOLATED", sim.replay.now_ms)
    steps = 0
    while not sim.replay.finished:
        if steps % 40 == 0:
            if stepper is not None:
                stepper.materialize()
            orders()
            delivered.extend((where, plain(event)) for where, event in tap.take())
        delivered.extend((where, plain(event)) for where, event in tap.step())
        steps += 1
    return delivered, state_of_exchange(sim), ex.accounts[key].ledger.liquidations


def state_of_exchange(sim: Any) -> dict[str, Any]:
    class Holder:
        pass
    holder = Holder()
    holder.sim = sim  # type: ignore[attr-defined]
    return state_of(holder)  # type: ignore[arg-type]


def test_liquidations_triggers_and_resting_fills_as_the_full_path() -> None:
    full, skipped = exchange_run(full_path=True), exchange_run(full_path=False)
    assert full[2] > 0, "no liquidation: the test proves nothing about the margin check"
    kinds = {kind for _, (kind, _) in full[0]}
    assert {"OrderUpdate", "AlgoUpdate", "AccountUpdate"} <= kinds
    assert len(full[0]) == len(skipped[0])
    for i, (a, b) in enumerate(zip(full[0], skipped[0], strict=True)):
        assert a == b, f"delivered event {i} differs"
    assert full[1] == skipped[1] and full[2] == skipped[2]
