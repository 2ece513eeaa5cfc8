"""Order identity and the order state machine (pure).

Identity: every order of ours carries a client id derived from (signal, leg, account), so the same
decision always names the same order and the exchange refuses a second one (-4116):

| leg | what | client id |
|---|---|---|
| `E` entry | market order opening the position | `client_order_id(signal, "E", account)` |
| `S` stop-loss | reduce-only STOP_MARKET, waits on the exchange | `client_order_id(signal, "S", account)` |
| `T` take-profit | reduce-only TAKE_PROFIT_MARKET, waits on the exchange | `client_order_id(signal, "T", account)` |
| `X` exit | reduce-only market order closing on an opposite signal | `client_order_id(signal, "X", account)` |
| `C` close | reduce-only market order closing on the operator's close-all | `client_order_id(f"{command}:{symbol}", "C", account)` |

A protective order that has to be replaced (cancelled by hand, or the first one was used up)
takes the next *generation*: `client_order_id(f"{signal}#{g}", leg, account)`, g = 1, 2, ...

States (`merge`): an order is PENDING when recorded here and not yet sent, UNKNOWN when it was
sent and the answer was lost, then what the exchange says. Exchange states only move forward:
a final state (FILLED, CANCELED, EXPIRED, REJECTED) never changes, the filled quantity never goes
down, and an older or repeated report is dropped. Only our own two transitions go "back":
UNKNOWN -> PENDING when the exchange answers that the order does not exist (then resending it
under the same client id is safe), and PENDING -> CANCELED for an order we decide not to send.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from engine.core.ids import client_order_id, is_ours
from engine.core.types import ExitReason, Order, OrderStatus, OrderType

_RANK = {OrderStatus.PENDING: 0, OrderStatus.UNKNOWN: 1, OrderStatus.NEW: 2, OrderStatus.PARTIALLY_FILLED: 3}
CONDITIONAL = (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)
WORKING = (OrderStatus.PENDING, OrderStatus.UNKNOWN, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class Leg(StrEnum):
    ENTRY = "E"
    STOP = "S"
    TAKE = "T"
    EXIT = "X"
    CLOSE = "C"      # the operator closed the position (`slt accounts --close-all`)


EXIT_REASONS = {Leg.STOP: ExitReason.STOP_LOSS, Leg.TAKE: ExitReason.TAKE_PROFIT, Leg.EXIT: ExitReason.SIGNAL,
                Leg.CLOSE: ExitReason.MANUAL}
EXITS = (Leg.EXIT, Leg.CLOSE)   # reduce-only market orders that close the whole position


def order_id(signal_id: str, leg: Leg, account: str, generation: int = 0) -> str:
    """The client id of one leg of a signal's orders on one account."""
    key = signal_id if generation == 0 else f"{signal_id}#{generation}"
    return client_order_id(key, leg.value, account)


def leg_of(cid: str) -> Leg | None:
    """The leg of one of our client ids; None for orders not placed by this system."""
    if not is_ours(cid):
        return None
    try:
        return Leg(cid[3])
    except ValueError:
        return None


def exit_reason(cid: str) -> ExitReason:
    """Why a position closed, from the client id of the order that closed it."""
    leg = leg_of(cid)
    if leg in EXIT_REASONS:
        return EXIT_REASONS[leg]  # type: ignore[index]
    if cid.startswith("autoclose-"):
        return ExitReason.LIQUIDATION
    return ExitReason.MANUAL


def is_working(order: Order) -> bool:
    return order.status in WORKING


def is_conditional(order: Order) -> bool:
    return order.type in CONDITIONAL


def merge(known: Order | None, report: Order) -> Order | None:
    """The order's state after `report`, or None when the report tells nothing new.

    Facts that never change over an order's life (type, stop price, reduce-only, signal) are kept
    from what we knew: a triggered stop reports as the market order it sent, and exchange answers
    do not carry our signal id."""
    if known is None:
        return report
    if known.status.is_final:
        return None
    if report.status in (OrderStatus.PENDING, OrderStatus.UNKNOWN):
        allowed = {(OrderStatus.PENDING, OrderStatus.UNKNOWN), (OrderStatus.UNKNOWN, OrderStatus.PENDING)}
        if (known.status, report.status) not in allowed:
            return None
    elif report.filled_quantity < known.filled_quantity or (
            report.filled_quantity == known.filled_quantity and not report.status.is_final
            and _RANK.get(report.status, 9) <= _RANK.get(known.status, 9)):
        return None  # less filled, or as filled and not further along: stale
    return msgspec.structs.replace(
        report, type=known.type, stop_price=known.stop_price or report.stop_price,
        reduce_only=known.reduce_only or report.reduce_only, signal_id=known.signal_id or report.signal_id,
        price=report.price or known.price, time_in_force=known.time_in_force or report.time_in_force,
        exchange_order_id=report.exchange_order_id or known.exchange_order_id,
        event_time=max(report.event_time, known.event_time))


def transition(order: Order, status: OrderStatus, at_ms: int, received_ms: int) -> Order:
    """One of our local transitions (sent without answer, not found, abandoned)."""
    return msgspec.structs.replace(order, status=status, event_time=max(at_ms, order.event_time),
                                   received_time=received_ms)
