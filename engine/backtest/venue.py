"""The engine's venue port over the simulator's exchange core, in the same process: no HTTP, no
sockets, no ccxt. Each call builds the parameters ccxt sends (`POST /fapi/v1/order` with
`newOrderRespType=RESULT`; protective stops as `POST /fapi/v1/algoOrder` with `triggerPrice`, as
recorded from ccxt against the simulator), runs the exchange core at the replay's time, and reads
the answer with the live adapter's own parsers (`engine.venues.parse` on the simulator's own
payloads, `engine.sim.payloads`), so an order, fill or position means here what it means live.

User-data events the call caused (order updates, fills, account updates) go to `events`, which the
driver delivers to the account sync after the call's answer, as a websocket frame arrives after the
REST answer it belongs to."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from engine.core import errors as e
from engine.core.clock import wall_ms
from engine.core.instrument import Instrument
from engine.core.intervals import INTERVAL_MS
from engine.core.market import MarkPrice
from engine.core.types import Candle, EquitySnapshot, Fill, FundingPayment, Order, OrderType, Position
from engine.sim import payloads, views
from engine.sim.accounts import Income
from engine.sim.errors import BinanceError
from engine.sim.events import Event
from engine.sim.numbers import fixed
from engine.sim.venue import Venue
from engine.venues import parse

_ALGO = {OrderType.STOP_MARKET: "STOP_MARKET", OrderType.TAKE_PROFIT_MARKET: "TAKE_PROFIT_MARKET"}
_ERRORS: dict[int, type[e.ExchangeError]] = {
    -1121: e.UnknownSymbol, -2019: e.InsufficientMargin, -4116: e.DuplicateClientOrderId,
    -2011: e.OrderNotFound, -2013: e.OrderNotFound}


def plain(value: Decimal) -> str:
    """A number as ccxt sends it (no padding: 0.830 -> '0.83', 90000.0 -> '90000')."""
    text = format(value.normalize(), "f")
    return text


def translate(exc: BinanceError, operation: str) -> e.ExchangeError:
    """The simulator's error answer as the live adapter's ccxt translation names it."""
    kind = _ERRORS.get(exc.code, e.OrderRejected)
    return kind(f"{operation}: binanceusdm {exc.code}: {exc.msg}", code=exc.code)


class InProcessVenue:
    """One account of the simulator (`key`) as the engine's `VenuePort`, plus the market-data calls
    the runtime's start-up makes (instruments, candles, mark price)."""

    def __init__(self, sim: Venue, key: str, account: str, events: Callable[[list[Event]], None]) -> None:
        self.sim = sim
        self.key = key
        self.account = account
        self.instruments: dict[str, Instrument] = {}
        self.calls = self.failures = self.rate_limited = 0
        self._events = events
        self._funding_rows: list[Income] = []        # the account's FUNDING_FEE incomes so far (fetch_funding)
        self._funding_times: list[int] = []
        self._income_seen = 0
        self._ordered = True

    def __repr__(self) -> str:
        return f"InProcessVenue(account={self.account!r})"

    @property
    def now(self) -> int:
        return self.sim.replay.now_ms

    def _run(self, operation: str, call: Callable[[], Any]) -> Any:
        self.calls += 1
        try:
            return call()
        except BinanceError as exc:
            raise translate(exc, operation) from None

    def _emit(self, events: list[Event]) -> None:
        if events:
            self._events(events)

    # ---- lifecycle and market data --------------------------------------------------------------
    async def start(self) -> None:
        info = views.exchange_info(self.sim.exchange.specs, self.now, 2400, 1200)
        self.instruments = {row["symbol"]: parse.instrument(row) for row in info["symbols"]}

    async def close(self) -> None:
        return None

    async def server_time(self) -> int:
        return self.now

    async def fetch_candles(self, symbol: str, interval: str, start_ms: int, limit: int = 1000) -> list[Candle]:
        step = INTERVAL_MS[interval]
        rows = self._run(f"klines {symbol}", lambda: views.klines(self.sim.market, symbol, interval, start_ms,
                                                                   None, min(limit, 1500)))
        got = wall_ms()
        return [Candle(symbol, interval, int(r[0]), int(r[0]) + step - 1, float(r[1]), float(r[2]), float(r[3]),
                       float(r[4]), float(r[5]), True, 0, got) for r in rows]

    async def fetch_candle_range(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        """Closed klines opening at or after `start_ms` and closing before `end_ms`, paged by 1000."""
        from engine.venues.klines import candle_pages
        return [c async for page in candle_pages(self.fetch_candles, symbol, interval, start_ms, end_ms)
                for c in page]

    async def fetch_mark_price(self, symbol: str) -> MarkPrice:
        state = self._run(f"premiumIndex {symbol}", lambda: views.state_of(self.sim.market, symbol))
        info, what = views.premium_index(state, self.now), f"premiumIndex {symbol}"
        return MarkPrice(symbol, parse.dec(info, "markPrice", what), parse.dec(info, "indexPrice", what),
                         parse.dec(info, "lastFundingRate", what, Decimal(0)),
                         parse.integer(info, "nextFundingTime", what, 0), parse.integer(info, "time", what), wall_ms())

    # ---- account ----------------------------------------------------------------------------
    async def fetch_equity(self) -> EquitySnapshot:
        ex = self.sim.exchange
        return parse.equity(payloads.account_json(ex.accounts[self.key], ex.risk(self.key)), self.account, wall_ms())

    async def fetch_positions(self) -> list[Position]:
        ex = self.sim.exchange
        rows = payloads.position_risk_json(ex.accounts[self.key], ex.risk(self.key), ex.specs, None)
        got = wall_ms()
        return [parse.position(row, self.account, got) for row in rows]

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        self._emit(self._run(f"set_leverage {symbol} {leverage}",
                             lambda: self.sim.exchange.set_leverage(self.key, symbol, leverage, self.now)))

    async def fetch_fills(self, symbol: str, since_ms: int | None = None, limit: int = 1000) -> list[Fill]:
        ex = self.sim.exchange
        if symbol not in ex.specs:
            raise e.UnknownSymbol(f"userTrades {symbol}: not listed on this venue")
        trades = [t for t in ex.accounts[self.key].trades if t.symbol == symbol and (since_ms is None or t.time >= since_ms)]
        trades = trades[:limit] if since_ms is not None else trades[-limit:]
        got = wall_ms()
        return [parse.fill(payloads.trade_json(t, ex.specs[symbol]), self.account, got) for t in trades]

    async def fetch_funding(self, since_ms: int | None = None, until_ms: int | None = None,
                            symbol: str | None = None, limit: int = 1000) -> list[FundingPayment]:
        if symbol is not None and symbol not in self.sim.exchange.specs:
            raise e.UnknownSymbol(f"{symbol} is not listed on this venue")
        rows = [i for i in self._funding_income(since_ms)
                if (symbol is None or i.symbol == symbol) and (until_ms is None or i.time <= until_ms)]
        got = wall_ms()
        return [parse.funding({"symbol": i.symbol, "incomeType": i.kind, "income": fixed(i.amount, 8), "asset": "USDT",
                               "time": i.time, "tranId": i.tran_id}, self.account, got) for i in rows]

    def _funding_income(self, since_ms: int | None) -> list[Income]:
        """The account's FUNDING_FEE incomes at or after `since_ms`, in income order. The income history
        only grows, so its funding rows are kept as it grows, and the first one at or after `since_ms`
        is found by bisection while their times never decrease (they are replay times): the engine
        asks at every settlement, and scanning the whole history each time made a long backtest
        quadratic."""
        income = self.sim.exchange.accounts[self.key].income
        if len(income) < self._income_seen:          # not the history it was (never, in a run): start over
            self._funding_rows, self._funding_times, self._income_seen, self._ordered = [], [], 0, True
        rows, times = self._funding_rows, self._funding_times
        for i in range(self._income_seen, len(income)):
            row = income[i]
            if row.kind == "FUNDING_FEE":
                if times and row.time < times[-1]:
                    self._ordered = False
                rows.append(row)
                times.append(row.time)
        self._income_seen = len(income)
        if since_ms is None:
            return rows
        if self._ordered:
            return rows[bisect_left(times, since_ms):]
        return [row for row in rows if row.time >= since_ms]

    # ---- orders -----------------------------------------------------------------------------
    async def create_order(self, order: Order) -> Order:
        ex, operation = self.sim.exchange, f"create_order {order.symbol} {order.client_order_id}"
        params = {"symbol": order.symbol, "side": order.side.value, "quantity": plain(order.quantity),
                  "newOrderRespType": "RESULT"}
        if order.reduce_only:
            params["reduceOnly"] = "true"
        if order.type in _ALGO:
            if order.stop_price is None:
                raise ValueError(f"{order.type} order {order.client_order_id} needs a stop price")
            params.update(clientAlgoId=order.client_order_id, type=_ALGO[order.type], algoType="CONDITIONAL",
                          triggerPrice=plain(order.stop_price))
            algo, events = self._run(operation, lambda: ex.place_algo(self.key, params, self.now))
            self._emit(events)
            return parse.order(payloads.algo_json(algo, ex.specs[algo.symbol]), self.account, wall_ms(),
                               order.signal_id)
        params.update(newClientOrderId=order.client_order_id, type=order.type.value)
        if order.type is OrderType.LIMIT:
            params["price"] = plain(order.price) if order.price is not None else ""
            if order.time_in_force is not None:
                params["timeInForce"] = order.time_in_force.value
        placed, events = self._run(operation, lambda: ex.place_order(self.key, params, self.now))
        self._emit(events)
        return parse.order(payloads.order_json(placed, ex.specs[placed.symbol]), self.account, wall_ms(),
                           order.signal_id)

    async def fetch_order(self, symbol: str, client_order_id: str, *, conditional: bool = False) -> Order:
        ex, operation = self.sim.exchange, f"fetch_order {symbol} {client_order_id}"
        if conditional:
            algo = ex.find_algo(self.key, None, client_order_id)
            if algo is None:
                raise translate(BinanceError(-2013), operation)
            return parse.order(payloads.algo_json(algo, ex.specs[algo.symbol]), self.account, wall_ms())
        found = self._run(operation, lambda: ex.find_order(self.key, symbol, None, client_order_id))
        if found is None:
            raise translate(BinanceError(-2013), operation)
        return parse.order(payloads.order_json(found, ex.specs[symbol]), self.account, wall_ms())

    async def fetch_order_by_id(self, symbol: str, exchange_order_id: str) -> Order:
        ex, operation = self.sim.exchange, f"fetch_order {symbol} #{exchange_order_id}"
        found = self._run(operation, lambda: ex.find_order(self.key, symbol, int(exchange_order_id), None))
        if found is None:
            raise translate(BinanceError(-2013), operation)
        return parse.order(payloads.order_json(found, ex.specs[symbol]), self.account, wall_ms())

    async def cancel_order(self, symbol: str, client_order_id: str, *, conditional: bool = False) -> None:
        ex, operation = self.sim.exchange, f"cancel_order {symbol} {client_order_id}"
        if conditional:
            _, events = self._run(operation, lambda: ex.cancel_algo(self.key, symbol, None, client_order_id, self.now))
        else:
            _, events = self._run(operation, lambda: ex.cancel_order(self.key, symbol, None, client_order_id, self.now))
        self._emit(events)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        ex = self.sim.exchange
        account = ex.accounts[self.key]
        got = wall_ms()
        plain = [parse.order(payloads.order_json(o, ex.specs[o.symbol]), self.account, got)
                 for o in account.open_orders(symbol)]
        algos = [parse.order(payloads.algo_json(a, ex.specs[a.symbol]), self.account, got)
                 for a in account.open_algos(symbol)]
        return plain + algos

    # ---- user data stream (the driver delivers events; no listen key) ----------------------------
    async def create_listen_key(self) -> str:
        return f"in-process-{self.account}"

    async def keepalive_listen_key(self) -> None:
        return None

    async def close_listen_key(self) -> None:
        return None
