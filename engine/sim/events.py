"""What the exchange core reports after each state change. The server turns these into user-data
frames (ORDER_TRADE_UPDATE, ALGO_UPDATE, ACCOUNT_UPDATE, ACCOUNT_CONFIG_UPDATE); tests read them
directly."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from engine.sim.orders import AlgoOrder, SimOrder, Trade


@dataclass(frozen=True)
class OrderEvent:
    account: str
    time: int
    execution: str                # NEW, TRADE, CANCELED, EXPIRED, CALCULATED (liquidation)
    order: SimOrder               # frozen copy
    trade: Trade | None = None


@dataclass(frozen=True)
class AlgoEvent:
    account: str
    time: int
    algo: AlgoOrder               # frozen copy


@dataclass(frozen=True)
class PositionState:
    symbol: str
    amount: Decimal
    entry_price: Decimal
    break_even: Decimal
    realized: Decimal
    unrealized: Decimal
    margin_type: str              # cross / isolated
    isolated_wallet: Decimal


@dataclass(frozen=True)
class AccountEvent:
    account: str
    time: int
    reason: str                   # ORDER, FUNDING_FEE, MARGIN_TYPE_CHANGE, ...
    wallet: Decimal
    cross_wallet: Decimal
    balance_change: Decimal
    positions: tuple[PositionState, ...]


@dataclass(frozen=True)
class ConfigEvent:
    account: str
    time: int
    symbol: str
    leverage: int


Event = OrderEvent | AlgoEvent | AccountEvent | ConfigEvent
