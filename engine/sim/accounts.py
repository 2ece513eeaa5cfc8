"""One simulated futures account: a USDT wallet, per-symbol leverage and margin type, one-way
positions and the orders and trades it owns. Pure state; the rules that change it live in
`matching.py` and `margin.py`.

Money model: `wallet` is the whole USDT wallet balance (deposits + realised PnL - fees + funding -
liquidation fees). An isolated position's margin (`isolated_wallet`) is an allocation inside that
wallet, so the cross wallet is `wallet - sum(isolated_wallet)`, and equity = wallet + unrealised PnL."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from engine.core.secret import Secret
from engine.sim.orders import AlgoOrder, SimOrder, Trade

ZERO = Decimal(0)
DEFAULT_LEVERAGE = 20


@dataclass
class Position:
    symbol: str
    amount: Decimal = ZERO        # signed: long > 0, short < 0
    entry_price: Decimal = ZERO
    isolated_wallet: Decimal = ZERO
    realized: Decimal = ZERO      # accumulated realised PnL of this symbol
    fees: Decimal = ZERO          # commissions paid while the current position is open (break-even)
    update_time: int = 0

    def unrealized(self, mark: Decimal) -> Decimal:
        return self.amount * (mark - self.entry_price)

    def notional(self, mark: Decimal) -> Decimal:
        return self.amount * mark

    def break_even(self) -> Decimal:
        """Entry price moved by the commissions paid so far (what the price must reach to net zero)."""
        if not self.amount:
            return ZERO
        return self.entry_price + self.fees / self.amount


@dataclass(frozen=True)
class Income:
    """One wallet change as `GET /fapi/v1/income` reports it. The incomes of an account sum to its wallet."""

    tran_id: int
    time: int
    kind: str          # TRANSFER, REALIZED_PNL, COMMISSION, FUNDING_FEE, INSURANCE_CLEAR
    amount: Decimal
    symbol: str = ""
    trade_id: int = 0


@dataclass
class Ledger:
    """Running totals for exact PnL comparisons in tests."""

    deposits: Decimal = ZERO
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    liquidation_fees: Decimal = ZERO
    insurance: Decimal = ZERO     # paid by the insurance fund to lift a negative wallet to zero
    liquidations: int = 0

    def expected_wallet(self) -> Decimal:
        return self.deposits + self.realized - self.fees + self.funding - self.liquidation_fees + self.insurance


@dataclass
class Account:
    key: str
    secret: Secret
    wallet: Decimal
    leverage: dict[str, int] = field(default_factory=dict)
    margin_type: dict[str, str] = field(default_factory=dict)   # symbol -> cross / isolated
    positions: dict[str, Position] = field(default_factory=dict)
    orders: dict[int, SimOrder] = field(default_factory=dict)   # every order ever placed
    client_ids: dict[str, int] = field(default_factory=dict)    # clientOrderId -> orderId
    algos: dict[int, AlgoOrder] = field(default_factory=dict)
    algo_client_ids: dict[str, int] = field(default_factory=dict)
    used_client_ids: set[str] = field(default_factory=set)      # any id used since start (-4116)
    resting: dict[int, SimOrder] = field(default_factory=dict)  # open orders (kept by the core)
    waiting: dict[int, AlgoOrder] = field(default_factory=dict) # open conditional orders
    trades: list[Trade] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    income: list[Income] = field(default_factory=list)
    update_time: int = 0

    def record_income(self, kind: str, amount: Decimal, time: int, symbol: str = "", trade_id: int = 0) -> None:
        if amount:
            self.income.append(Income(len(self.income) + 1, time, kind, amount, symbol, trade_id))

    def leverage_of(self, symbol: str) -> int:
        return self.leverage.get(symbol, DEFAULT_LEVERAGE)

    def margin_type_of(self, symbol: str) -> str:
        return self.margin_type.get(symbol, "cross")

    def position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position(symbol)
        return pos

    def open_orders(self, symbol: str | None = None) -> list[SimOrder]:
        return [o for o in self.resting.values() if symbol is None or o.symbol == symbol]

    def open_algos(self, symbol: str | None = None) -> list[AlgoOrder]:
        return [a for a in self.waiting.values() if symbol is None or a.symbol == symbol]

    @property
    def isolated_total(self) -> Decimal:
        return sum((p.isolated_wallet for p in self.positions.values()), ZERO)

    @property
    def cross_wallet(self) -> Decimal:
        return self.wallet - self.isolated_total
