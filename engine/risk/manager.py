"""RiskManager: the one object the order path asks "may this order go, and at what size".

It holds the latest regime reading per symbol, the risk table, the kill switch and the exchange
rules; it does no I/O. The trading loop feeds it regime readings (from the store or
`detect_regime`), equity observations and account snapshots, and calls `decide()` for every order,
entries and exits alike. Exits are never blocked by the kill switch or capped by the regime.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from decimal import Decimal

import msgspec

from engine.core.clock import Clock
from engine.core.errors import DataError
from engine.core.instrument import Instrument
from engine.core.types import Side
from engine.risk.kill_switch import KillSwitch, KillSwitchStatus
from engine.risk.parameters import RISK_TABLE, RiskParameters, most_conservative
from engine.risk.regime import Regime, RegimeReading
from engine.risk.sizing import AccountState, OrderRequest, RejectReason, SizingDecision, rejection, size_order


class RiskReport(msgspec.Struct, frozen=True):
    """Everything `slt risk` shows: regimes with their inputs, caps in force, kill switch, decisions."""

    generated_at_ms: int
    default_regime: Regime
    book_regime: Regime                       # the strictest regime across symbols
    regimes: dict[str, RegimeReading]
    regime_age_s: dict[str, float]
    parameters: dict[str, RiskParameters]     # in force per symbol, "*" for symbols without a reading
    table: tuple[RiskParameters, ...]
    kill_switch: KillSwitchStatus
    decisions: dict[str, int]                 # "approved" and "rejected:<reason>" counts
    recent_rejections: tuple[SizingDecision, ...]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (Decimals as strings)."""
        return msgspec.to_builtins(self)


class RiskManager:
    def __init__(self, instruments: Mapping[str, Instrument], *, clock: Clock,
                 kill_switch: KillSwitch | None = None, table: Mapping[Regime, RiskParameters] = RISK_TABLE,
                 default_regime: Regime = Regime.NORMAL) -> None:
        """`default_regime` applies to a symbol until its first reading arrives."""
        self.instruments = dict(instruments)
        self.clock = clock
        self.kill_switch = kill_switch or KillSwitch()
        self.table = table
        self.default_regime = default_regime
        self._readings: dict[str, RegimeReading] = {}
        self._account: AccountState | None = None
        self._counts: Counter[str] = Counter()
        self._rejections: deque[SizingDecision] = deque(maxlen=20)

    # -- inputs -------------------------------------------------------------------------------
    def update_regime(self, reading: RegimeReading) -> bool:
        """Adopt a reading unless one at least as recent is already held; returns whether it was."""
        held = self._readings.get(reading.symbol)
        if held is not None and held.window_end >= reading.window_end:
            return False
        self._readings[reading.symbol] = reading
        return True

    def update_account(self, state: AccountState) -> None:
        """The latest account snapshot, used by the original-style `adjust_position_size`."""
        self._account = state

    def observe_equity(self, equity: Decimal, at_ms: int) -> KillSwitchStatus:
        return self.kill_switch.observe(equity, at_ms)

    def set_instrument(self, instrument: Instrument) -> None:
        self.instruments[instrument.symbol] = instrument

    # -- questions ----------------------------------------------------------------------------
    def regime(self, symbol: str | None = None) -> Regime:
        """The symbol's regime; without a symbol, the strictest across the book."""
        if symbol is None:
            return most_conservative((r.regime for r in self._readings.values()), self.table, self.default_regime)
        reading = self._readings.get(symbol)
        return reading.regime if reading is not None else self.default_regime

    def reading(self, symbol: str) -> RegimeReading | None:
        """The reading in force for `symbol` (None: the default regime applies)."""
        return self._readings.get(symbol)

    def get_risk_parameters(self, symbol: str | None = None) -> RiskParameters:
        return self.table[self.regime(symbol)]

    def decide(self, request: OrderRequest, state: AccountState) -> SizingDecision:
        """Approve and size one order, or reject it with a reason. Applied to every order."""
        params = self.get_risk_parameters(request.symbol)
        instrument = self.instruments.get(request.symbol)
        if instrument is None:
            decision = rejection(request, params, RejectReason.UNKNOWN_SYMBOL,
                                  f"no exchange rules loaded for {request.symbol}")
        elif not request.reduce_only and not self.kill_switch.allows_entries(self.clock.now_ms()):
            trip = self.kill_switch.status().trip
            decision = rejection(request, params, RejectReason.KILL_SWITCH, trip.reason if trip else "tripped")
        else:
            decision = size_order(request, state, params, instrument)
        self._counts["approved" if decision.approved else f"rejected:{decision.reason}"] += 1
        if not decision.approved:
            self._rejections.append(decision)
        return decision

    def adjust_position_size(self, base_size: Decimal, symbol: str, *, side: Side = Side.BUY,
                             price: Decimal | None = None, leverage: int = 1) -> Decimal:
        """The original API: the entry size allowed for `base_size` now (0 when rejected), against
        the last `update_account()` snapshot, at `price` or the snapshot's reference price."""
        if self._account is None:
            raise DataError("adjust_position_size needs an account snapshot: call update_account() first")
        ref = price if price is not None else self._account.prices.get(symbol)
        if ref is None:
            raise DataError(f"adjust_position_size: no price for {symbol}; pass price= or put it in AccountState.prices")
        decision = self.decide(OrderRequest(symbol, side, Decimal(base_size), ref, leverage), self._account)
        return decision.quantity

    def report(self) -> RiskReport:
        now = self.clock.now_ms()
        self.kill_switch.allows_entries(now)   # a report after midnight shows the re-armed switch
        params = {symbol: self.table[r.regime] for symbol, r in sorted(self._readings.items())}
        params["*"] = self.table[self.default_regime]
        return RiskReport(
            generated_at_ms=now, default_regime=self.default_regime, book_regime=self.regime(),
            regimes=dict(sorted(self._readings.items())),
            regime_age_s={s: (now - r.window_end) / 1000 for s, r in sorted(self._readings.items())},
            parameters=params, table=tuple(self.table.values()), kill_switch=self.kill_switch.status(),
            decisions=dict(sorted(self._counts.items())), recent_rejections=tuple(self._rejections))

