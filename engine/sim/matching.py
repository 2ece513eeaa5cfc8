"""The exchange core: accounts, orders, matching, conditional orders, funding and liquidation.

Pure and deterministic: no I/O, no clock (every call takes `now`, replay time in ms). Each call
returns the events it caused, in order; the server turns them into user-data frames.

Matching against the replayed tape (one-tick book around the last trade price, see `pricing.py`):
* MARKET and marketable LIMIT orders fill at once as takers (limit orders no worse than their price).
* Resting LIMIT orders fill as makers at their price when the trade path touches it (buy: last <= price,
  sell: last >= price), at most the path step's traded volume per step (so large orders fill partially).
* Conditional orders trigger on the mark or last price (workingType) and then send a MARKET or LIMIT
  order with the algo's client id.
* After each tick, accounts exposed to the symbol are checked for liquidation: `liquidation.py`
  plans the closes, the core executes them.

Clients of the core call `place_order`, `cancel_order`, `place_algo`, `update_quote` and friends."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from engine.core.secret import Secret
from engine.sim.accounts import Account
from engine.sim.errors import BinanceError
from engine.sim.events import AlgoEvent, ConfigEvent, Event, OrderEvent
from engine.sim.instruments import SymbolSpec
from engine.sim.liquidation import ClosePlan, next_close, settle_close
from engine.sim.margin import AccountRisk, assess
from engine.sim.orders import AlgoOrder, SimOrder, Trade
from engine.sim.pricing import FeeSchedule, Quote, SlippageModel
from engine.sim.settlement import account_event, position_state, settle_fill, settle_funding
from engine.sim.validation import OrderRequest, parse_order

ZERO = Decimal(0)


class Exchange:
    def __init__(self, specs: Mapping[str, SymbolSpec], fees: FeeSchedule | None = None,
                 slippage: SlippageModel | None = None) -> None:
        self.specs = dict(specs)
        self.fees = fees or FeeSchedule()
        self.slippage = slippage or SlippageModel()
        self.accounts: dict[str, Account] = {}
        self.quotes: dict[str, Quote] = {}
        self._resting: dict[str, dict[int, SimOrder]] = {s: {} for s in self.specs}   # in time priority
        self._algos: dict[str, dict[int, AlgoOrder]] = {s: {} for s in self.specs}
        self._exposed: dict[str, set[str]] = {s: set() for s in self.specs}
        self._next_order = 1_000_001
        self._next_trade = 5_000_001
        self._next_algo = 3_000_001

    # ---- accounts -------------------------------------------------------------------------
    def add_account(self, key: str, secret: Secret, usdt: Decimal, now: int = 0) -> Account:
        if key in self.accounts:
            raise ValueError(f"account {key!r} already exists")
        account = Account(key=key, secret=secret, wallet=usdt, update_time=now)
        account.ledger.deposits = usdt
        account.record_income("TRANSFER", usdt, now)
        self.accounts[key] = account
        return account

    def risk(self, key: str) -> AccountRisk:
        return assess(self.accounts[key], self.marks(), self.specs)

    def equity(self, key: str) -> Decimal:
        """`risk(key).equity` (wallet + unrealised PnL at the marks) without the margin figures."""
        account = self.accounts[key]
        quotes = self.quotes
        return account.wallet + sum((p.unrealized(quotes[p.symbol].mark) for p in account.positions.values()
                                     if p.amount), ZERO)

    def marks(self) -> dict[str, Decimal]:
        return {s: q.mark for s, q in self.quotes.items()}

    def mark_of(self, symbol: str) -> Decimal:
        quote = self.quotes.get(symbol)
        if quote is None:
            raise BinanceError(-1121)
        return quote.mark

    def set_leverage(self, key: str, symbol: str, leverage: int, now: int) -> list[Event]:
        spec = self._spec(symbol)
        if not 1 <= leverage <= spec.max_leverage:
            raise BinanceError(-4028, leverage=leverage)
        self.accounts[key].leverage[symbol] = leverage
        return [ConfigEvent(key, now, symbol, leverage)]

    def set_margin_type(self, key: str, symbol: str, margin_type: str, now: int) -> list[Event]:
        self._spec(symbol)
        account = self.accounts[key]
        wanted = {"ISOLATED": "isolated", "CROSSED": "cross"}.get(margin_type.upper())
        if wanted is None:
            raise BinanceError(-1130, name="marginType")
        if account.margin_type_of(symbol) == wanted:
            raise BinanceError(-4046)
        if account.open_orders(symbol) or account.open_algos(symbol):
            raise BinanceError(-4047)
        pos = account.positions.get(symbol)
        if pos is not None and pos.amount:
            raise BinanceError(-4048)
        account.margin_type[symbol] = wanted
        return []

    # ---- orders ----------------------------------------------------------------------------
    def place_order(self, key: str, params: Mapping[str, str], now: int) -> tuple[SimOrder, list[Event]]:
        req, marketable = self.check_order(key, params)
        order = self._new_order(self.accounts[key], req, now)
        return order, self._execute(self.accounts[key], order, marketable, now)

    def check_order(self, key: str, params: Mapping[str, str]) -> tuple[OrderRequest, bool]:
        """Every check `place_order` makes, in its order, changing nothing: the request and whether
        it would take liquidity at once. `POST /fapi/v1/order/test` is this call alone."""
        account = self.accounts[key]
        req = parse_order(params, self.specs, self.mark_of, account.used_client_ids.__contains__)
        quote = self.quotes[req.symbol]
        if len(account.open_orders(req.symbol)) >= self.specs[req.symbol].max_open_orders:
            raise BinanceError(-2025)
        self._check_reduce_only(account, req.symbol, req.side, req.reduce_only)
        marketable = req.type == "MARKET" or (
            req.price >= quote.ask if req.side == "BUY" else req.price <= quote.bid)
        if not req.reduce_only:
            reference = req.price if req.type == "LIMIT" and not marketable else (
                quote.ask if req.side == "BUY" else quote.bid)
            self._check_margin(account, req.symbol, req.side, req.quantity, reference)
        if req.type == "LIMIT" and req.time_in_force == "GTX" and marketable:
            raise BinanceError(-5022)
        return req, marketable

    def cancel_order(self, key: str, symbol: str, order_id: int | None, client_id: str | None,
                     now: int) -> tuple[SimOrder, list[Event]]:
        account = self.accounts[key]
        self._spec(symbol)
        order = self.find_order(key, symbol, order_id, client_id)
        if order is None or not order.is_open:
            raise BinanceError(-2011)
        return order, self._finish(account, order, "CANCELED", now)

    def cancel_all(self, key: str, symbol: str, now: int) -> list[Event]:
        account = self.accounts[key]
        self._spec(symbol)
        events: list[Event] = []
        for order in account.open_orders(symbol):
            events += self._finish(account, order, "CANCELED", now)
        return events

    def find_order(self, key: str, symbol: str, order_id: int | None, client_id: str | None) -> SimOrder | None:
        account = self.accounts[key]
        if order_id is None and client_id is not None:
            order_id = account.client_ids.get(client_id)
        order = account.orders.get(order_id) if order_id is not None else None
        return order if order is not None and order.symbol == symbol else None

    # ---- conditional (algo) orders ---------------------------------------------------------
    def place_algo(self, key: str, params: Mapping[str, str], now: int) -> tuple[AlgoOrder, list[Event]]:
        account = self.accounts[key]
        req = parse_order(params, self.specs, self.mark_of, account.used_client_ids.__contains__, algo=True)
        if len(account.open_algos(req.symbol)) >= self.specs[req.symbol].max_open_orders:
            raise BinanceError(-2025)
        algo = AlgoOrder(algo_id=self._next_algo, account=key, symbol=req.symbol,
                         client_id=req.client_id or f"sim-algo-{self._next_algo}", side=req.side,
                         order_type=req.type, quantity=req.quantity, trigger_price=req.trigger_price,
                         price=req.price, time_in_force=req.time_in_force, working_type=req.working_type,
                         reduce_only=req.reduce_only, close_position=req.close_position,
                         price_protect=req.price_protect, create_time=now, update_time=now)
        if algo.triggers(self._working_price(algo)):
            raise BinanceError(-2021)
        self._next_algo += 1
        account.algos[algo.algo_id] = algo
        account.algo_client_ids[algo.client_id] = algo.algo_id
        account.used_client_ids.add(algo.client_id)
        self._algos[req.symbol][algo.algo_id] = algo
        account.waiting[algo.algo_id] = algo
        return algo, [AlgoEvent(key, now, algo.snapshot())]

    def cancel_algo(self, key: str, symbol: str | None, algo_id: int | None, client_id: str | None,
                    now: int) -> tuple[AlgoOrder, list[Event]]:
        algo = self.find_algo(key, algo_id, client_id)
        if algo is None or not algo.is_open or (symbol and algo.symbol != symbol):
            raise BinanceError(-2011)
        algo.status, algo.update_time = "CANCELED", now
        self._unwait(algo)
        return algo, [AlgoEvent(key, now, algo.snapshot())]

    def find_algo(self, key: str, algo_id: int | None, client_id: str | None) -> AlgoOrder | None:
        account = self.accounts[key]
        if algo_id is None and client_id is not None:
            algo_id = account.algo_client_ids.get(client_id)
        return account.algos.get(algo_id) if algo_id is not None else None

    # ---- market ticks ----------------------------------------------------------------------
    def update_quote(self, quote: Quote) -> list[Event]:
        """A new trade/mark price: trigger conditional orders, fill resting orders, liquidate."""
        self.quotes[quote.symbol] = quote
        events = self._trigger(quote)
        events += self._match(quote)
        events += self._liquidate(quote.symbol, quote.time)
        return events

    def quiet(self, symbol: str) -> bool:
        """True when a new quote of `symbol` can only replace its quote: no conditional order waits on
        it, no order rests on it and no account holds it (nothing to trigger, fill or liquidate)."""
        return not self._algos[symbol] and not self._resting[symbol] and not self._exposed[symbol]

    def waiting(self, symbol: str) -> list[AlgoOrder]:
        """The conditional orders a quote of `symbol` is checked against, in time priority."""
        return list(self._algos[symbol].values())

    def resting(self, symbol: str) -> list[SimOrder]:
        """The orders resting on `symbol`'s book, in time priority."""
        return list(self._resting[symbol].values())

    def holders(self, symbol: str) -> set[str]:
        """The accounts holding a position in `symbol` (checked for liquidation on its quotes)."""
        return self._exposed[symbol]

    def apply_funding(self, symbol: str, rate: Decimal, now: int) -> list[Event]:
        mark = self.quotes[symbol].mark
        events: list[Event] = []
        for key in sorted(self._exposed[symbol]):
            account = self.accounts[key]
            payment = settle_funding(account, symbol, mark, rate, now)
            pos = account.positions[symbol]
            shown = (position_state(account, pos, mark),) if account.margin_type_of(symbol) == "isolated" else ()
            events.append(account_event(account, now, "FUNDING_FEE", shown, payment))
        return events

    # ---- internals -------------------------------------------------------------------------
    def _spec(self, symbol: str) -> SymbolSpec:
        spec = self.specs.get(symbol)
        if spec is None:
            raise BinanceError(-1121)
        return spec

    def _working_price(self, algo: AlgoOrder) -> Decimal:
        quote = self.quotes[algo.symbol]
        return quote.mark if algo.working_type == "MARK_PRICE" else quote.last

    def _check_reduce_only(self, account: Account, symbol: str, side: str, reduce_only: bool) -> None:
        if not reduce_only:
            return
        pos = account.positions.get(symbol)
        amount = pos.amount if pos is not None else ZERO
        if amount == 0 or (amount > 0) == (side == "BUY"):
            raise BinanceError(-2022)

    def _check_margin(self, account: Account, symbol: str, side: str, quantity: Decimal, price: Decimal) -> None:
        pos = account.positions.get(symbol)
        amount = pos.amount if pos is not None else ZERO
        closable = abs(amount) if amount and (amount > 0) != (side == "BUY") else ZERO
        opening = max(ZERO, quantity - closable)
        if opening and opening * price / account.leverage_of(symbol) > self.risk(account.key).available:
            raise BinanceError(-2019)

    def _new_order(self, account: Account, req: OrderRequest, now: int, *, orig_type: str = "",
                   stop_price: Decimal = ZERO, working_type: str = "CONTRACT_PRICE") -> SimOrder:
        order_id = self._next_order
        self._next_order += 1
        client_id = req.client_id or f"sim-{order_id}"
        order = SimOrder(order_id=order_id, account=account.key, symbol=req.symbol, client_id=client_id,
                         side=req.side, type=req.type, quantity=req.quantity, price=req.price,
                         time_in_force=req.time_in_force, reduce_only=req.reduce_only,
                         close_position=req.close_position, orig_type=orig_type or req.type,
                         stop_price=stop_price, working_type=working_type, time=now, update_time=now)
        account.orders[order_id] = order
        account.client_ids[client_id] = order_id
        account.used_client_ids.add(client_id)
        return order

    def _execute(self, account: Account, order: SimOrder, marketable: bool, now: int) -> list[Event]:
        events: list[Event] = [OrderEvent(account.key, now, "NEW", order.snapshot())]
        quote = self.quotes[order.symbol]
        inst = self.specs[order.symbol].instrument
        if marketable:
            price = self.slippage.taker_price(order.side, order.quantity, quote, inst)
            if order.type == "LIMIT":
                price = min(price, order.price) if order.side == "BUY" else max(price, order.price)
            events += self._fill(account, order, order.quantity, price, False, now)
        elif order.time_in_force in ("IOC", "FOK"):
            events += self._finish(account, order, "EXPIRED", now)
        else:
            self._resting[order.symbol][order.order_id] = order
            account.resting[order.order_id] = order
        return events

    def _fill(self, account: Account, order: SimOrder, quantity: Decimal, price: Decimal, maker: bool,
              now: int) -> list[Event]:
        if order.reduce_only:
            pos = account.positions.get(order.symbol)
            amount = pos.amount if pos is not None else ZERO
            if amount == 0 or (amount > 0) == (order.side == "BUY"):
                return self._finish(account, order, "EXPIRED", now)
            quantity = min(quantity, abs(amount))
        liquidation = order.type == "LIQUIDATION"
        commission = ZERO if liquidation else self.fees.commission(quantity, price, maker)
        realized = settle_fill(account, order.symbol, order.sign * quantity, price, commission, now,
                               self._next_trade)
        self._track_exposure(account, order.symbol)
        order.executed += quantity
        order.cum_quote += quantity * price
        order.update_time = now
        order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
        trade = Trade(trade_id=self._next_trade, order_id=order.order_id, account=account.key,
                      symbol=order.symbol, side=order.side, price=price, quantity=quantity, commission=commission,
                      realized_pnl=realized, maker=maker, time=now)
        self._next_trade += 1
        account.trades.append(trade)
        execution = "CALCULATED" if liquidation else "TRADE"
        events: list[Event] = [OrderEvent(account.key, now, execution, order.snapshot(), trade)]
        mark = self.quotes[order.symbol].mark
        events.append(account_event(account, now, "ORDER",
                                    (position_state(account, account.positions[order.symbol], mark),)))
        if order.status == "PARTIALLY_FILLED" and order.reduce_only and not account.positions[order.symbol].amount:
            events += self._finish(account, order, "EXPIRED", now)
        elif order.status == "FILLED":
            self._unrest(account, order)
        return events

    def _finish(self, account: Account, order: SimOrder, status: str, now: int) -> list[Event]:
        order.status, order.update_time = status, now
        self._unrest(account, order)
        return [OrderEvent(account.key, now, status, order.snapshot())]

    def _unrest(self, account: Account, order: SimOrder) -> None:
        self._resting[order.symbol].pop(order.order_id, None)
        account.resting.pop(order.order_id, None)

    def _unwait(self, algo: AlgoOrder) -> None:
        self._algos[algo.symbol].pop(algo.algo_id, None)
        self.accounts[algo.account].waiting.pop(algo.algo_id, None)

    def _liquidate(self, symbol: str, now: int) -> list[Event]:
        """Execute every close plan for the accounts holding `symbol`, in a fixed account order.
        Each plan closes the positions it names, so the inner loop ends."""
        events: list[Event] = []
        for key in sorted(self._exposed[symbol]):
            account = self.accounts[key]
            marks = self.marks()
            while (plan := next_close(account, marks, self.specs, now)) is not None:
                events += self._execute_close(account, plan, now)
        return events

    def _execute_close(self, account: Account, plan: ClosePlan, now: int) -> list[Event]:
        events: list[Event] = []
        for order_id in plan.cancels:
            events += self._finish(account, account.orders[order_id], "CANCELED", now)
        realized = ZERO
        for close in plan.closes:
            order = self._new_order(account, close.order, now)
            before = account.ledger.realized
            events += self._fill(account, order, order.quantity, close.price, False, now)
            realized += account.ledger.realized - before
        return events + settle_close(account, plan, realized, now)

    def _track_exposure(self, account: Account, symbol: str) -> None:
        if account.positions[symbol].amount:
            self._exposed[symbol].add(account.key)
        else:
            self._exposed[symbol].discard(account.key)

    def _trigger(self, quote: Quote) -> list[Event]:
        events: list[Event] = []
        for algo in list(self._algos[quote.symbol].values()):
            if algo.is_open and algo.triggers(self._working_price(algo)):
                events += self._fire(algo, quote.time)
        return events

    def _fire(self, algo: AlgoOrder, now: int) -> list[Event]:
        account = self.accounts[algo.account]
        self._unwait(algo)
        algo.trigger_time = algo.update_time = now
        pos = account.positions.get(algo.symbol)
        amount = pos.amount if pos is not None else ZERO
        quantity = abs(amount) if algo.close_position else algo.quantity
        kind = "MARKET" if algo.order_type.endswith("_MARKET") else "LIMIT"
        req = OrderRequest(symbol=algo.symbol, side=algo.side, type=kind, quantity=quantity, price=algo.price,
                           time_in_force=algo.time_in_force, client_id=None, reduce_only=algo.reduce_only)
        try:
            self._check_reduce_only(account, algo.symbol, algo.side, algo.reduce_only)
            if not algo.reduce_only:
                quote = self.quotes[algo.symbol]
                self._check_margin(account, algo.symbol, algo.side, quantity,
                                   quote.ask if algo.side == "BUY" else quote.bid)
        except BinanceError as exc:
            algo.status, algo.fail_reason = "EXPIRED", exc.msg
            return [AlgoEvent(account.key, now, algo.snapshot())]
        order = self._new_order(account, req, now, orig_type=algo.order_type, stop_price=algo.trigger_price,
                                working_type=algo.working_type)
        # the triggered order carries the algo's client id, so a client can follow its stop by one id
        del account.client_ids[order.client_id]
        order.client_id = algo.client_id
        account.client_ids[algo.client_id] = order.order_id
        algo.status, algo.actual_order_id = "TRIGGERED", order.order_id
        events: list[Event] = [AlgoEvent(account.key, now, algo.snapshot())]
        quote = self.quotes[algo.symbol]
        marketable = kind == "MARKET" or (algo.price >= quote.ask if algo.side == "BUY" else algo.price <= quote.bid)
        events += self._execute(account, order, marketable, now)
        algo.actual_executed, algo.actual_avg = order.executed, order.avg_price
        if not order.is_open:
            algo.status = "FINISHED"
            events.append(AlgoEvent(account.key, now, algo.snapshot()))
        return events

    def _match(self, quote: Quote) -> list[Event]:
        events: list[Event] = []
        inst = self.specs[quote.symbol].instrument
        cap = max(inst.step_size, (quote.step_volume // inst.step_size) * inst.step_size)
        for order in list(self._resting[quote.symbol].values()):
            if not order.is_open:
                continue
            touched = quote.last <= order.price if order.side == "BUY" else quote.last >= order.price
            if touched:
                account = self.accounts[order.account]
                events += self._fill(account, order, min(order.remaining, cap), order.price, True, quote.time)
        return events
