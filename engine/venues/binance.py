"""One account on Binance USDⓈ-M (live, testnet or the local simulator) through ccxt's async
`binanceusdm`. Every answer leaves this class as a domain type; every failure as our error type.

ccxt does the signing, transport and rate limiting; its unified dicts carry floats, so money is
read from the exchange's own payload (`info`) by `engine.venues.parse`. Quantities and prices
are sent as decimal strings, never floats.
"""

from __future__ import annotations

import decimal
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import ccxt.async_support as ccxt_async

from engine.core.clock import Clock, SystemClock, wall_ms
from engine.core.errors import (
    ExchangeError,
    MalformedResponse,
    OrderStateUnknown,
    RateLimited,
    TemporaryExchangeError,
    UnknownSymbol,
)
from engine.core.instrument import Instrument
from engine.core.intervals import INTERVAL_MS
from engine.core.market import MarkPrice
from engine.core.secret import Secret
from engine.core.types import (
    Candle,
    EquitySnapshot,
    Fill,
    FundingPayment,
    Order,
    OrderType,
    Position,
)
from engine.venues import parse
from engine.venues.binance_urls import point_binanceusdm_at
from engine.venues.errors import translate
from engine.venues.klines import candle_pages
from engine.venues.retry import RetryPolicy, with_retries

T = TypeVar("T")
LIVE_REST = "https://fapi.binance.com"
TESTNET_REST = "https://testnet.binancefuture.com"
_CONDITIONAL = {OrderType.STOP_MARKET: "stopLossPrice", OrderType.TAKE_PROFIT_MARKET: "takeProfitPrice"}


def _info(data: Any, operation: str) -> Any:
    """The exchange's own payload inside a ccxt answer; an unreadable answer (ccxt hands back the raw
    text when the body is not JSON) is `MalformedResponse` naming the operation."""
    info = data.get("info") if isinstance(data, dict) else None
    if not isinstance(info, dict):
        shown = repr(info if info is not None else data)[:120]
        raise MalformedResponse(f"{operation}: the exchange's answer is not a JSON object: {shown}")
    return info



class BinanceVenue:
    def __init__(self, *, account: str, rest_url: str, ws_url: str, api_key: Secret, api_secret: Secret,
                 clock: Clock | None = None, policy: RetryPolicy | None = None, timeout_ms: int = 10_000,
                 rate_limit: bool = True) -> None:
        self.account = account
        self.clock = clock or SystemClock()
        self.policy = policy or RetryPolicy()
        self.instruments: dict[str, Instrument] = {}
        self._ex = ccxt_async.binanceusdm({
            "apiKey": api_key.reveal(), "secret": api_secret.reveal(), "timeout": timeout_ms,
            "enableRateLimit": rate_limit, "options": {"adjustForTimeDifference": True}})
        if rest_url.rstrip("/") == TESTNET_REST:
            self._ex.set_sandbox_mode(True)
        elif rest_url.rstrip("/") != LIVE_REST:
            point_binanceusdm_at(self._ex, rest_url, ws_url)
        self._symbols: dict[str, str] = {}  # BTCUSDT -> BTC/USDT:USDT
        self._blocked_until = 0.0  # monotonic time before which no request goes out (429/418 Retry-After)
        self.calls = self.failures = self.rate_limited = 0  # for the health monitor (passing failures only)

    def __repr__(self) -> str:
        return f"BinanceVenue(account={self.account!r})"

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Load markets (instruments and filters) and measure the clock offset."""
        markets = await self._call("load_markets", lambda: self._ex.load_markets(reload=True))
        self.instruments, self._symbols = {}, {}
        for market in markets.values():
            if market.get("linear") and market.get("swap"):
                info = market["info"]
                self.instruments[info["symbol"]] = parse.instrument(info)
                self._symbols[info["symbol"]] = market["symbol"]

    async def close(self) -> None:
        await self._ex.close()

    # ---- market data -------------------------------------------------------------------------
    async def server_time(self) -> int:
        return int(await self._call("fetch_time", self._ex.fetch_time))

    async def fetch_candles(self, symbol: str, interval: str, start_ms: int, limit: int = 1000) -> list[Candle]:
        """Klines from `start_ms` on (oldest first); the last one may still be open."""
        step = INTERVAL_MS[interval]
        rows = await self._call(f"fetch_ohlcv {symbol} {interval}", lambda: self._ex.fetch_ohlcv(
            self._ccxt_symbol(symbol), interval, since=start_ms, limit=limit))
        got = wall_ms()
        return [Candle(symbol, interval, int(t), int(t) + step - 1, float(o), float(h), float(lo), float(c),
                       float(v), True, 0, got) for t, o, h, lo, c, v in rows]

    async def current_bar_open(self, symbol: str, interval: str) -> int:
        """Open time of the exchange's newest (still forming) `interval` bar: where its market data
        stands. Not `server_time()`: the simulator's server clock is the wall clock (for request
        signing) while its candles are on replay time."""
        rows = await self._call(f"fetch_ohlcv {symbol} {interval} latest", lambda: self._ex.fetch_ohlcv(
            self._ccxt_symbol(symbol), interval, limit=1))
        if not rows:
            raise MalformedResponse(f"klines {symbol} {interval}: the exchange returned no bar")
        return int(rows[-1][0])

    async def fetch_candle_range(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        """Closed klines opening at or after `start_ms` and closing before `end_ms`, paged by 1000."""
        return [c async for page in candle_pages(self.fetch_candles, symbol, interval, start_ms, end_ms)
                for c in page]

    async def fetch_mark_price(self, symbol: str) -> MarkPrice:
        data = await self._call(f"fetch_mark_price {symbol}",
                                lambda: self._ex.fetch_mark_price(self._ccxt_symbol(symbol)))
        info, what = data["info"], f"premiumIndex {symbol}"
        return MarkPrice(symbol, parse.dec(info, "markPrice", what), parse.dec(info, "indexPrice", what),
                         parse.dec(info, "lastFundingRate", what, Decimal(0)),
                         parse.integer(info, "nextFundingTime", what, 0), parse.integer(info, "time", what),
                         wall_ms())

    # ---- account -----------------------------------------------------------------------------
    async def fetch_equity(self) -> EquitySnapshot:
        data = await self._call("fetch_balance", self._ex.fetch_balance)
        return parse.equity(data["info"], self.account, wall_ms())

    async def fetch_positions(self) -> list[Position]:
        rows = await self._call("fetch_positions", self._ex.fetch_positions)
        got = wall_ms()
        return [parse.position(row["info"], self.account, got) for row in rows]

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        await self._call(f"set_leverage {symbol} {leverage}",
                         lambda: self._ex.set_leverage(leverage, self._ccxt_symbol(symbol)))

    async def fetch_fills(self, symbol: str, since_ms: int | None = None, limit: int = 1000) -> list[Fill]:
        rows = await self._call(f"fetch_my_trades {symbol}", lambda: self._ex.fetch_my_trades(
            self._ccxt_symbol(symbol), since=since_ms, limit=limit))
        got = wall_ms()
        return [parse.fill(row["info"], self.account, got) for row in rows]

    async def fetch_funding(self, since_ms: int | None = None, until_ms: int | None = None,
                            symbol: str | None = None, limit: int = 1000) -> list[FundingPayment]:
        """Funding settlements (`GET /fapi/v1/income`, FUNDING_FEE), oldest first, paging forward
        from `since_ms` when a page is full."""
        found: list[FundingPayment] = []
        start = since_ms
        while True:
            params: dict[str, Any] = {"incomeType": "FUNDING_FEE", "limit": limit}
            if start is not None:
                params["startTime"] = start
            if until_ms is not None:
                params["endTime"] = until_ms
            if symbol is not None:
                self._ccxt_symbol(symbol)  # an unknown symbol is our error, not a silent empty answer
                params["symbol"] = symbol
            rows = await self._call("income FUNDING_FEE", lambda p=params: self._ex.fapiPrivateGetIncome(p))
            if not isinstance(rows, list):
                raise MalformedResponse(f"income: expected a list, got {type(rows).__name__}")
            got = wall_ms()
            page = [parse.funding(row, self.account, got) for row in rows]
            found += page
            latest = max((p.event_time for p in page), default=None)
            if len(rows) < limit or start is None or latest is None or latest <= start:
                return found
            start = latest  # the boundary row comes again: callers dedupe by income id

    # ---- orders ------------------------------------------------------------------------------
    async def create_order(self, order: Order) -> Order:
        """Submit `order` under its client id. Raises `OrderStateUnknown` when the answer is lost:
        the caller must then ask by client id (`fetch_order`), never resend blindly."""
        params: dict[str, Any] = {"clientOrderId": order.client_order_id}
        if order.reduce_only:
            params["reduceOnly"] = True
        if order.time_in_force is not None and order.type is OrderType.LIMIT:
            params["timeInForce"] = order.time_in_force.value
        kind = "limit" if order.type is OrderType.LIMIT else "market"
        if order.type in _CONDITIONAL:
            if order.stop_price is None:
                raise ValueError(f"{order.type} order {order.client_order_id} needs a stop price")
            params[_CONDITIONAL[order.type]] = str(order.stop_price)
        price = str(order.price) if order.price is not None else None
        operation = f"create_order {order.symbol} {order.client_order_id}"
        data = await self._call(
            operation,
            lambda: self._ex.create_order(self._ccxt_symbol(order.symbol), kind, order.side.value.lower(),
                                          str(order.quantity), price, params),
            submits_order=True)
        try:
            return parse.order(_info(data, operation), self.account, wall_ms(), order.signal_id)
        except MalformedResponse as exc:  # the exchange answered, unreadably: the order may well exist
            raise OrderStateUnknown(f"{exc}; the order may exist: ask by client id") from None

    async def test_order(self, order: Order) -> None:
        """Send `order` to `POST /fapi/v1/order/test`: signed and checked like a real order (the same
        errors raise), never placed. ccxt's `create_order(..., {'test': True})` would place a real one
        on a linear market (it honours `test` only for spot), so the request goes to the implicit
        `fapiPrivatePostOrderTest` method directly. Plain MARKET and LIMIT orders only: conditional
        orders go to the algo endpoint, which has no test twin."""
        if order.type not in (OrderType.MARKET, OrderType.LIMIT):
            raise ValueError(f"a test order is MARKET or LIMIT, not {order.type}")
        params: dict[str, Any] = {"clientOrderId": order.client_order_id, "isAlgoOrder": False}
        if order.reduce_only:
            params["reduceOnly"] = True
        if order.time_in_force is not None and order.type is OrderType.LIMIT:
            params["timeInForce"] = order.time_in_force.value
        kind = "limit" if order.type is OrderType.LIMIT else "market"
        price = str(order.price) if order.price is not None else None
        symbol = self._ccxt_symbol(order.symbol)
        await self._call(f"test_order {order.symbol} {order.client_order_id}",  # built inside: decimal context
                         lambda: self._ex.fapiPrivatePostOrderTest(self._ex.create_order_request(
                             symbol, kind, order.side.value.lower(), str(order.quantity), price, params)))

    async def fetch_order(self, symbol: str, client_order_id: str, *, conditional: bool = False) -> Order:
        params: dict[str, Any] = {"clientOrderId": client_order_id}
        if conditional:
            params["trigger"] = True
        operation = f"fetch_order {symbol} {client_order_id}"
        data = await self._call(operation, lambda: self._ex.fetch_order(None, self._ccxt_symbol(symbol), params))
        return parse.order(_info(data, operation), self.account, wall_ms())

    async def fetch_order_by_id(self, symbol: str, exchange_order_id: str) -> Order:
        """A plain order by the exchange's id (a fill polled over REST names only that)."""
        operation = f"fetch_order {symbol} #{exchange_order_id}"
        data = await self._call(operation, lambda: self._ex.fetch_order(exchange_order_id, self._ccxt_symbol(symbol)))
        return parse.order(_info(data, operation), self.account, wall_ms())

    async def cancel_order(self, symbol: str, client_order_id: str, *, conditional: bool = False) -> None:
        params: dict[str, Any] = {"clientOrderId": client_order_id}
        if conditional:
            params["trigger"] = True
        await self._call(f"cancel_order {symbol} {client_order_id}",
                         lambda: self._ex.cancel_order(None, self._ccxt_symbol(symbol), params))

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        """Resting orders and untriggered conditional (algo) orders."""
        ccxt_symbol = self._ccxt_symbol(symbol) if symbol else None
        plain = await self._call("fetch_open_orders", lambda: self._ex.fetch_open_orders(ccxt_symbol))
        algos = await self._call("fetch_open_orders conditional",
                                 lambda: self._ex.fetch_open_orders(ccxt_symbol, None, None, {"trigger": True}))
        got = wall_ms()
        return [parse.order(row["info"], self.account, got) for row in [*plain, *algos]]

    # ---- user data stream --------------------------------------------------------------------
    async def create_listen_key(self) -> str:
        data = await self._call("listenKey create", lambda: self._ex.fapiPrivatePostListenKey())
        key = data.get("listenKey") if isinstance(data, dict) else None
        if not key:
            raise ExchangeError("listenKey create: answer has no listenKey")
        return str(key)

    async def keepalive_listen_key(self) -> None:
        await self._call("listenKey keepalive", lambda: self._ex.fapiPrivatePutListenKey())

    async def close_listen_key(self) -> None:
        await self._call("listenKey close", lambda: self._ex.fapiPrivateDeleteListenKey())

    # ---- plumbing ----------------------------------------------------------------------------
    def _ccxt_symbol(self, symbol: str) -> str:
        try:
            return self._symbols[symbol]
        except KeyError:
            raise UnknownSymbol(f"{symbol} is not listed on this venue (known: {sorted(self._symbols)})") from None

    async def _call(self, operation: str, call: Callable[[], Awaitable[T]], *, submits_order: bool = False) -> T:
        async def once() -> T:
            await self._rate_gate()
            self.calls += 1
            try:
                # ccxt rewrites the current decimal context (rounding, traps): keep that inside the call
                with decimal.localcontext():
                    return await call()
            except ExchangeError:
                raise
            except Exception as exc:
                error = translate(exc, operation=operation, submits_order=submits_order,
                                  headers=getattr(self._ex, "last_response_headers", None))
                if isinstance(error, RateLimited):
                    self.rate_limited += 1
                elif isinstance(error, TemporaryExchangeError):
                    self.failures += 1
                if isinstance(error, RateLimited):
                    # every call of this account waits, not only this one: going on while refused gets a ban
                    pause = error.retry_after if error.retry_after is not None else self.policy.base
                    self._blocked_until = max(self._blocked_until, time.monotonic() + pause)
                raise error from exc
        return await with_retries(operation, once, policy=self.policy, clock=self.clock, resync=self._resync)

    async def _rate_gate(self) -> None:
        wait = self._blocked_until - time.monotonic()
        if wait > 0:
            await self.clock.sleep(wait)

    async def _resync(self) -> None:
        await self._ex.load_time_difference()
