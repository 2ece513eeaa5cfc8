"""Domain types. Frozen, typed, with exact money.

Prices, quantities, fees and PnL of orders, fills, trades, positions and equity are `Decimal`.
Candles are market observations that feed indicators and models, so their OHLCV are floats
(the bundled history is float64, and a float parsed from the exchange's decimal string
round-trips exactly). Every record carries the exchange's event time and the time we received it,
both in milliseconds since the Unix epoch (UTC), and a stable `record_id` so that writing it twice
(a retry, a journal replay) stores it once.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

ZERO = Decimal(0)


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTX = "GTX"  # post-only


class OrderStatus(StrEnum):
    PENDING = "PENDING"   # created here, not yet sent
    UNKNOWN = "UNKNOWN"   # sent, no answer (timeout): must be asked by client id, never assumed
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)

    @property
    def is_final(self) -> bool:
        return self in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED)


class MarginMode(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


class ExitReason(StrEnum):
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    SIGNAL = "signal"
    LIQUIDATION = "liquidation"
    MANUAL = "manual"
    RECONCILED = "reconciled"


class Candle(msgspec.Struct, frozen=True):
    """One kline. `closed` is False for an in-progress bar (only closed ones are emitted as candles)."""

    symbol: str
    interval: str
    open_time: int
    close_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool = True
    event_time: int = 0
    received_time: int = 0

    @property
    def record_id(self) -> str:
        return f"{self.symbol}:{self.interval}:{self.open_time}"


class Order(msgspec.Struct, frozen=True):
    """An order as we know it at one moment; each state change is a new value (and a new record)."""

    client_order_id: str
    account: str
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    time_in_force: TimeInForce | None = None
    signal_id: str = ""
    status: OrderStatus = OrderStatus.PENDING
    exchange_order_id: str | None = None
    filled_quantity: Decimal = ZERO
    average_price: Decimal | None = None
    event_time: int = 0
    received_time: int = 0

    @property
    def record_id(self) -> str:
        return f"{self.account}:{self.client_order_id}:{self.status}:{self.filled_quantity}"


class Fill(msgspec.Struct, frozen=True):
    """One execution of an order, as the exchange reported it."""

    account: str
    symbol: str
    trade_id: str
    client_order_id: str
    exchange_order_id: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    realized_pnl: Decimal = ZERO
    maker: bool = False
    event_time: int = 0
    received_time: int = 0

    @property
    def record_id(self) -> str:
        return f"{self.account}:{self.symbol}:{self.trade_id}"

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price


class TradeEntry(msgspec.Struct, frozen=True):
    """A position opened (the entry leg of a round trip). `trade_id` is derived from the signal id."""

    trade_id: str
    account: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal = ZERO
    signal_id: str = ""
    confidence: float = 0.0
    win_probability: float = 0.0
    regime: str = ""
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    event_time: int = 0
    received_time: int = 0

    @property
    def record_id(self) -> str:
        return f"entry:{self.trade_id}"


class TradeExit(msgspec.Struct, frozen=True):
    """A round trip closed: realised PnL, fees and funding are for the whole trade."""

    trade_id: str
    account: str
    symbol: str
    quantity: Decimal
    price: Decimal
    realized_pnl: Decimal
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    reason: ExitReason = ExitReason.SIGNAL
    event_time: int = 0
    received_time: int = 0

    @property
    def record_id(self) -> str:
        return f"exit:{self.trade_id}"

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl - self.fees + self.funding


class Position(msgspec.Struct, frozen=True):
    """One-way position in one symbol on one account; `quantity` is signed (short < 0)."""

    account: str
    symbol: str
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    leverage: int = 1
    margin_mode: MarginMode = MarginMode.CROSS
    event_time: int = 0
    received_time: int = 0

    @property
    def record_id(self) -> str:
        return f"{self.account}:{self.symbol}:{self.event_time}"

    @property
    def side(self) -> Side | None:
        if self.quantity > 0:
            return Side.BUY
        if self.quantity < 0:
            return Side.SELL
        return None


class EquitySnapshot(msgspec.Struct, frozen=True):
    """Account value at one moment: equity = wallet balance + unrealised PnL."""

    account: str
    wallet_balance: Decimal
    unrealized_pnl: Decimal
    available_balance: Decimal
    event_time: int = 0
    received_time: int = 0

    @property
    def equity(self) -> Decimal:
        return self.wallet_balance + self.unrealized_pnl

    @property
    def record_id(self) -> str:
        return f"{self.account}:{self.event_time}"


class HealthEvent(msgspec.Struct, frozen=True):
    """A component's health changed or was checked (feed, exchange, store, model, ...)."""

    event_id: str
    component: str
    status: str
    message: str
    detail: str = ""  # JSON text; never secrets
    event_time: int = 0
    received_time: int = 0

    @property
    def record_id(self) -> str:
        return self.event_id


class FundingPayment(msgspec.Struct, frozen=True):
    """One funding settlement on a position (`GET /fapi/v1/income`, type FUNDING_FEE): `amount` > 0
    was received, < 0 paid. `income_id` is the exchange's `tranId`, so a payment seen twice (stream
    notice, then poll) is stored once."""

    account: str
    symbol: str
    income_id: str
    amount: Decimal
    asset: str = "USDT"
    event_time: int = 0
    received_time: int = 0

    @property
    def record_id(self) -> str:
        return f"{self.account}:{self.symbol}:funding:{self.income_id}"


class SignalRecord(msgspec.Struct, frozen=True):
    """A signal a policy produced on a closed candle and what the engine made of it: admitted or
    not and why. The ATR it carries sets the protective stops, so a restarted engine can place them
    for a trade the signal opened; the learner reads signals with their outcomes."""

    signal_id: str
    policy: str
    symbol: str
    interval: str
    side: Side
    confidence: float
    win_probability: float
    price: float
    atr: float
    admitted: bool
    phase: str = ""
    reason: str = ""
    candle_open_time: int = 0
    event_time: int = 0
    received_time: int = 0
    model_version: str | None = None   # the registered model version that scored it (None: no model)
    features: str | None = None        # JSON object feature name -> value (null where not finite)

    @property
    def record_id(self) -> str:
        return self.signal_id


class SignalOutcome(msgspec.Struct, frozen=True):
    """What a signal would have earned with the engine's exits on the bars after it (the dataset's
    label, computed live): the prediction ledger's outcome for a signal no trade resolved."""

    signal_id: str
    symbol: str
    net_return: float        # fraction of the entry notional, after fees and funding
    label: int               # 1 when net_return > 0
    exit_time: int           # close of the bar the simulated trade leaves on (ms)
    event_time: int = 0
    received_time: int = 0

    @property
    def record_id(self) -> str:
        return self.signal_id


Record = (Candle | Order | Fill | TradeEntry | TradeExit | Position | EquitySnapshot | HealthEvent | FundingPayment
          | SignalRecord | SignalOutcome)
