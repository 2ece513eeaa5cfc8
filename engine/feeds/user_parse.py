"""User-data stream frames (Binance USDⓈ-M, spec §7) → domain events, exactly (Decimal money).

One parser per event, each with a sample payload in its docstring. A frame that cannot be used
raises `UserFrameError` naming the event and the problem; the stream counts it, logs it and carries
on (REST polling repairs whatever the frame would have said). Events the engine does not act on
(ACCOUNT_CONFIG_UPDATE, MARGIN_CALL, TRADE_LITE, ...) parse to None.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from engine.core.errors import DataError
from engine.core.types import ZERO, Fill, MarginMode, Order, OrderStatus, OrderType, Position, Side, TimeInForce
from engine.core.user_events import AccountUpdate, AlgoUpdate, OrderUpdate, StreamExpired, UserEvent


class UserFrameError(DataError):
    """A user-data frame that cannot be used; `event` names its type."""

    def __init__(self, event: str, problem: str) -> None:
        super().__init__(f"bad user-data frame {event or '<no event type>'}: {problem}")
        self.event = event



_STATUS = {s.value: s for s in OrderStatus}
_ALGO_STATUS = {"NEW": OrderStatus.NEW, "TRIGGERING": OrderStatus.NEW, "TRIGGERED": OrderStatus.NEW,
                "FINISHED": OrderStatus.NEW, "CANCELED": OrderStatus.CANCELED, "EXPIRED": OrderStatus.EXPIRED,
                "REJECTED": OrderStatus.REJECTED}
_ALGO_TYPES = {"STOP_MARKET": OrderType.STOP_MARKET, "TAKE_PROFIT_MARKET": OrderType.TAKE_PROFIT_MARKET}
_FILL_EXECUTIONS = ("TRADE", "CALCULATED")


class _Order(msgspec.Struct):
    s: str
    c: str
    S: str
    o: str
    q: Decimal
    x: str
    X: str
    i: int
    T: int
    p: Decimal = ZERO
    ap: Decimal = ZERO
    sp: Decimal = ZERO
    f: str = ""
    l: Decimal = ZERO  # noqa: E741 (Binance's field name)
    z: Decimal = ZERO
    L: Decimal = ZERO
    N: str | None = None
    n: Decimal = ZERO
    t: int = 0
    m: bool = False
    R: bool = False
    rp: Decimal = ZERO


class _Algo(msgspec.Struct):
    caid: str
    aid: int
    o: str
    s: str
    S: str
    X: str
    q: Decimal = ZERO
    tp: Decimal = ZERO
    R: bool = False
    ai: str = ""
    rm: str = ""


class _Balance(msgspec.Struct):
    a: str
    wb: Decimal
    bc: Decimal = ZERO


class _Position(msgspec.Struct):
    s: str
    pa: Decimal
    ep: Decimal = ZERO
    up: Decimal = ZERO
    mt: str = "cross"


class _Account(msgspec.Struct):
    m: str
    B: list[_Balance] = []
    P: list[_Position] = []


def parse_user_frame(frame: bytes | str, account: str, received_time: int) -> UserEvent | None:
    """Decode one user-data frame (raw or combined `{"stream":K,"data":...}`) into a domain event."""
    try:
        data = msgspec.json.decode(frame)
    except msgspec.DecodeError as exc:
        raise UserFrameError("", f"not JSON: {exc}") from None
    if isinstance(data, dict) and "data" in data and "stream" in data:
        data = data["data"]
    if not isinstance(data, dict):
        raise UserFrameError("", f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("e")
    try:
        if kind == "ORDER_TRADE_UPDATE":
            return order_update(data, account, received_time)
        if kind == "ALGO_UPDATE":
            return algo_update(data, account, received_time)
        if kind == "ACCOUNT_UPDATE":
            return account_update(data, account, received_time)
        if kind == "listenKeyExpired":
            return StreamExpired(str(data.get("listenKey", "")), _int(data.get("E"), kind, "E"))
    except msgspec.ValidationError as exc:
        raise UserFrameError(str(kind), str(exc)) from None
    if not isinstance(kind, str):
        raise UserFrameError("", "field 'e' (event type) is missing")
    return None


def order_update(data: dict[str, Any], account: str, received_time: int) -> OrderUpdate:
    """`{"e":"ORDER_TRADE_UPDATE","E":1795519169120,"T":1795519169115,"o":{"s":"BTCUSDT",
    "c":"sltE-2f9c...","S":"BUY","o":"MARKET","f":"GTC","q":"0.003","p":"0","ap":"59439.30",
    "sp":"0","x":"TRADE","X":"FILLED","i":1006,"l":"0.003","z":"0.003","L":"59439.30","N":"USDT",
    "n":"0.08915895","T":1795519169115,"t":5006,"m":false,"R":false,"ot":"MARKET","rp":"0"}}`"""
    o = msgspec.convert(data.get("o"), _Order, strict=False)
    what = "ORDER_TRADE_UPDATE"
    for name in ("q", "p", "ap", "sp", "l", "z", "L", "n", "rp"):
        _finite(getattr(o, name), what, name)
    status = _STATUS.get(o.X)
    if status is None:
        raise UserFrameError(what, f"order status X={o.X!r} is unknown")
    side = _side(o.S, what)
    kind = OrderType.__members__.get(o.o, OrderType.MARKET)  # LIQUIDATION and friends close at market
    order = Order(client_order_id=o.c, account=account, symbol=o.s, side=side, type=kind, quantity=o.q,
                  price=o.p or None, stop_price=o.sp or None, reduce_only=o.R,
                  time_in_force=TimeInForce.__members__.get(o.f) if kind is OrderType.LIMIT else None,
                  status=status, exchange_order_id=str(o.i), filled_quantity=o.z, average_price=o.ap or None,
                  event_time=o.T, received_time=received_time)
    fill = None
    if o.x in _FILL_EXECUTIONS and o.l > 0:
        if not o.L > 0:
            raise UserFrameError(what, f"fill {o.t} of {o.c} has price L={o.L}, must be > 0")
        fill = Fill(account=account, symbol=o.s, trade_id=str(o.t), client_order_id=o.c,
                    exchange_order_id=str(o.i), side=side, quantity=o.l, price=o.L, fee=o.n,
                    fee_asset=o.N or "USDT", realized_pnl=o.rp, maker=o.m, event_time=o.T,
                    received_time=received_time)
    return OrderUpdate(order, o.x, fill)


def algo_update(data: dict[str, Any], account: str, received_time: int) -> AlgoUpdate:
    """`{"e":"ALGO_UPDATE","T":1795519169115,"E":1795519169120,"o":{"caid":"sltS-...","aid":3000001,
    "at":"CONDITIONAL","o":"STOP_MARKET","s":"BTCUSDT","S":"SELL","q":"0.003","X":"TRIGGERED",
    "ai":"1000007","tp":"58000.0","R":true,"rm":""}}`"""
    what = "ALGO_UPDATE"
    a = msgspec.convert(data.get("o"), _Algo, strict=False)
    kind = _ALGO_TYPES.get(a.o)
    if kind is None:
        raise UserFrameError(what, f"orderType {a.o!r} is not a protective stop type")
    status = _ALGO_STATUS.get(a.X)
    if status is None:
        raise UserFrameError(what, f"algo status X={a.X!r} is unknown")
    _finite(a.q, what, "q")
    _finite(a.tp, what, "tp")
    when = _int(data.get("E", data.get("T")), what, "E")
    order = Order(client_order_id=a.caid, account=account, symbol=a.s, side=_side(a.S, what), type=kind,
                  quantity=a.q, stop_price=a.tp or None, reduce_only=a.R, status=status,
                  exchange_order_id=f"algo:{a.aid}", event_time=when, received_time=received_time)
    return AlgoUpdate(order, a.X, a.ai or "", a.rm or "")


def account_update(data: dict[str, Any], account: str, received_time: int) -> AccountUpdate:
    """`{"e":"ACCOUNT_UPDATE","E":1795519169121,"T":1795519169115,"a":{"m":"ORDER",
    "B":[{"a":"USDT","wb":"9999.79213345","cw":"9999.79213345","bc":"0"}],
    "P":[{"s":"BTCUSDT","pa":"0.003","ep":"59439.30000","cr":"0","up":"0.00000000","mt":"cross",
    "iw":"0.00000000","ps":"BOTH"}]}}` (FUNDING_FEE on a cross position carries only `B`)."""
    what = "ACCOUNT_UPDATE"
    a = msgspec.convert(data.get("a"), _Account, strict=False)
    when = _int(data.get("E"), what, "E")
    usdt = next((b for b in a.B if b.a == "USDT"), None)
    if usdt is not None:
        _finite(usdt.wb, what, "wb")
        _finite(usdt.bc, what, "bc")
    positions = []
    for p in a.P:
        for name in ("pa", "ep", "up"):
            _finite(getattr(p, name), what, name)
        positions.append(Position(account=account, symbol=p.s, quantity=p.pa, entry_price=p.ep,
                                  unrealized_pnl=p.up, margin_mode=MarginMode.ISOLATED if p.mt == "isolated"
                                  else MarginMode.CROSS, event_time=when, received_time=received_time))
    return AccountUpdate(account, a.m, usdt.wb if usdt else None, usdt.bc if usdt else ZERO, tuple(positions), when,
                         received_time)


def _finite(value: Decimal, what: str, name: str) -> None:
    if not value.is_finite():
        raise UserFrameError(what, f"field {name!r}={value} is not a finite number")


def _side(raw: str, what: str) -> Side:
    try:
        return Side(raw)
    except ValueError:
        raise UserFrameError(what, f"side S={raw!r} is neither BUY nor SELL") from None


def _int(raw: object, what: str, name: str) -> int:
    try:
        return int(raw)  # type: ignore[call-overload]  # listenKeyExpired sends E as a string
    except (TypeError, ValueError):
        raise UserFrameError(what, f"field {name!r}={raw!r} is not an integer") from None
