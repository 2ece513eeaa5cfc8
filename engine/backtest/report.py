"""Backtest figures, pure: from the closed trades, the fills and funding the engine recorded and the
equity curve sampled at every bar close.

- net PnL: final minus initial equity as the exchange values it (realised PnL, fees, funding and
  the unrealised PnL of a position still open at the end); the per-trade figures use each closed
  trade's own net (realised - fees + funding).
- Sharpe and Sortino: mean bar return over its standard deviation (Sortino: over the downside
  deviation, the root mean square of the negative returns), times sqrt(bars per year) of the
  engine's interval (365 days; crypto trades every day). No risk-free rate.
- max drawdown: the largest fall from a running peak of equity, as a fraction of that peak; its
  duration runs from the peak to the bar equity first regained it (or to the end if it never did).
- exposure: the share of bar closes with a position open, and the mean gross notional over equity.
- turnover: traded notional (every fill) over the mean equity.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from engine.core.intervals import INTERVAL_MS
from engine.core.types import Fill, FundingPayment, Side, TradeEntry, TradeExit

YEAR_MS = 365 * 86_400_000
ZERO = Decimal(0)


@dataclass(frozen=True)
class Trade:
    """One closed round trip, entry and exit joined."""

    trade_id: str
    account: str
    symbol: str
    side: str
    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal
    opened_at: int
    closed_at: int
    realized: Decimal
    fees: Decimal
    funding: Decimal
    reason: str
    regime: str

    @property
    def net(self) -> Decimal:
        return self.realized - self.fees + self.funding


@dataclass(frozen=True)
class TradeStats:
    trades: int
    wins: int
    net_pnl: Decimal
    win_rate: float
    profit_factor: float | None          # None: no losing trade
    expectancy: Decimal                  # mean net PnL per trade
    fees: Decimal
    funding: Decimal
    best: Decimal
    worst: Decimal


@dataclass(frozen=True)
class CurveStats:
    bars: int
    initial_equity: Decimal
    final_equity: Decimal
    net_pnl: Decimal
    total_return: float
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    max_drawdown_bars: int
    max_drawdown_ms: int
    exposure: float                       # share of bar closes with a position open
    mean_gross_leverage: float            # mean gross notional / equity
    turnover: float                       # traded notional / mean equity
    traded_notional: Decimal
    fees: Decimal
    funding: Decimal


@dataclass(frozen=True)
class Report:
    interval: str
    start_ms: int
    end_ms: int
    symbols: tuple[str, ...]
    curve: CurveStats
    trades: TradeStats
    per_symbol: dict[str, TradeStats]
    per_regime: dict[str, TradeStats]
    warnings: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return _plain(asdict(self))


def join_trades(entries: Iterable[TradeEntry], exits: Iterable[TradeExit]) -> list[Trade]:
    """Closed trades in closing order (an exit without its entry record is skipped)."""
    opened = {(e.account, e.trade_id): e for e in entries}
    out = []
    for x in exits:
        e = opened.get((x.account, x.trade_id))
        if e is None:
            continue
        out.append(Trade(x.trade_id, x.account, x.symbol, e.side.value if isinstance(e.side, Side) else str(e.side),
                         x.quantity, e.price, x.price, e.event_time, x.event_time, x.realized_pnl, x.fees, x.funding,
                         str(x.reason.value if hasattr(x.reason, "value") else x.reason), e.regime or "unknown"))
    return sorted(out, key=lambda t: (t.closed_at, t.trade_id))


def trade_stats(trades: Sequence[Trade]) -> TradeStats:
    nets = [t.net for t in trades]
    wins = [n for n in nets if n > 0]
    losses = [n for n in nets if n < 0]
    gross_loss = -sum(losses, ZERO)
    n = len(nets)
    return TradeStats(
        trades=n, wins=len(wins), net_pnl=sum(nets, ZERO), win_rate=len(wins) / n if n else 0.0,
        profit_factor=float(sum(wins, ZERO) / gross_loss) if gross_loss else None,
        expectancy=(sum(nets, ZERO) / n).quantize(Decimal("0.00000001")) if n else ZERO,
        fees=sum((t.fees for t in trades), ZERO), funding=sum((t.funding for t in trades), ZERO),
        best=max(nets, default=ZERO), worst=min(nets, default=ZERO))


def curve_stats(equity: Sequence[tuple[int, Decimal]], exposure: Sequence[tuple[int, Decimal]], interval: str,
                initial: Decimal, final: Decimal, fills: Sequence[Fill], funding: Sequence[FundingPayment],
                start_ms: int = 0) -> CurveStats:
    values = [float(initial)] + [float(v) for _, v in equity]
    returns = [b / a - 1.0 for a, b in zip(values, values[1:], strict=False) if a > 0]
    per_year = YEAR_MS / INTERVAL_MS[interval]
    sharpe = sortino = None
    if len(returns) >= 2:
        mean = sum(returns) / len(returns)
        sd = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
        down = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
        sharpe = mean / sd * math.sqrt(per_year) if sd > 0 else None
        sortino = mean / down * math.sqrt(per_year) if down > 0 else None
    depth, bars, span = drawdown([(t, float(v)) for t, v in equity], float(initial), start_ms)
    exposed = [float(g) / float(e) for (_, g), (_, e) in zip(exposure, equity, strict=False) if e > 0]
    notional = sum((f.price * f.quantity for f in fills), ZERO)
    mean_equity = sum(values) / len(values) if values else 0.0
    return CurveStats(
        bars=len(equity), initial_equity=initial, final_equity=final, net_pnl=final - initial,
        total_return=float(final / initial - 1) if initial > 0 else 0.0, sharpe=sharpe, sortino=sortino,
        max_drawdown=depth, max_drawdown_bars=bars, max_drawdown_ms=span,
        exposure=sum(1 for x in exposed if x > 0) / len(exposed) if exposed else 0.0,
        mean_gross_leverage=sum(exposed) / len(exposed) if exposed else 0.0,
        turnover=float(notional) / mean_equity if mean_equity > 0 else 0.0, traded_notional=notional,
        fees=sum((f.fee for f in fills), ZERO), funding=sum((p.amount for p in funding), ZERO))


def drawdown(curve: Sequence[tuple[int, float]], start: float, start_ms: int = 0) -> tuple[float, int, int]:
    """(deepest fall from a running peak as a fraction of it, its duration in bars, in ms). The
    duration runs from that drawdown's peak until equity regained the peak, or to the end."""
    peak, peak_i, peak_t = start, -1, start_ms
    depth, best = 0.0, (0.0, 0, 0)
    for i, (t, v) in enumerate(curve):
        if v >= peak:
            if depth > best[0]:
                best = (depth, i - peak_i, t - peak_t)
            peak, peak_i, peak_t, depth = v, i, t, 0.0
        elif peak > 0:
            depth = max(depth, (peak - v) / peak)
    if depth > best[0] and curve:
        best = (depth, len(curve) - 1 - peak_i, curve[-1][0] - peak_t)
    return best


def build_report(*, interval: str, start_ms: int, end_ms: int, symbols: Sequence[str],
                 entries: Iterable[TradeEntry], exits: Iterable[TradeExit], fills: Sequence[Fill],
                 funding: Sequence[FundingPayment], equity: Sequence[tuple[int, Decimal]],
                 exposure: Sequence[tuple[int, Decimal]], initial: Decimal, final: Decimal,
                 warnings: Sequence[str] = ()) -> Report:
    trades = join_trades(entries, exits)
    unique_fills = list({(f.account, f.trade_id): f for f in fills}.values())
    unique_funding = list({(p.account, p.income_id): p for p in funding}.values())
    by_symbol = {s: trade_stats([t for t in trades if t.symbol == s]) for s in symbols}
    regimes = sorted({t.regime for t in trades})
    by_regime = {r: trade_stats([t for t in trades if t.regime == r]) for r in regimes}
    return Report(interval, start_ms, end_ms, tuple(symbols),
                  curve_stats(equity, exposure, interval, initial, final, unique_fills, unique_funding, start_ms),
                  trade_stats(trades), by_symbol, by_regime, tuple(warnings))


def _plain(value: Any) -> Any:
    """JSON-ready: Decimals as strings (exact), floats rounded for reading."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 6)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
