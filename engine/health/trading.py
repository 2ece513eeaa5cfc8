"""Trading rules: the kill switch, rejects, orders in the unknown state, positions in doubt,
accounts that stopped trading, the daily drawdown, and whether the model fell back."""

from __future__ import annotations

from dataclasses import dataclass

from engine.health.levels import ComponentHealth, Findings, Level
from engine.health.thresholds import REJECTS_PER_CHECK, UNKNOWN_ORDERS, Thresholds

COMPONENT = "trading"


@dataclass(frozen=True)
class TradingInputs:
    entries_allowed: bool             # the kill switch is armed
    drawdown: float                   # today's drawdown, a fraction of the day's peak equity
    rejects: int = 0                  # since the previous check
    unknown_orders: int = 0           # sent, answer lost, not resolved yet
    in_doubt: tuple[str, ...] = ()    # symbols whose position waits for verification
    failed_accounts: tuple[str, ...] = ()
    accounts: int = 1
    model_fallback: bool = False      # a learned model is due but the bootstrap policy trades
    policy_errors: int = 0            # since the previous check


def evaluate(inputs: TradingInputs, limits: Thresholds) -> ComponentHealth:
    found = Findings(COMPONENT)
    if not inputs.entries_allowed:
        found.flag(Level.UNHEALTHY, "kill switch tripped: no new entries")
    found.figure("daily drawdown", round(inputs.drawdown * 100, 4), limits.drawdown.scaled(100), " %")
    found.figure("orders rejected", inputs.rejects, REJECTS_PER_CHECK)
    found.figure("orders in the unknown state", inputs.unknown_orders, UNKNOWN_ORDERS)
    if inputs.in_doubt:
        found.flag(Level.UNHEALTHY, "positions in doubt: " + ", ".join(inputs.in_doubt))
    if inputs.failed_accounts:
        every = len(inputs.failed_accounts) >= inputs.accounts
        found.flag(Level.CRITICAL if every else Level.UNHEALTHY,
                   "accounts not trading: " + ", ".join(inputs.failed_accounts))
    if inputs.model_fallback:
        found.flag(Level.DEGRADED, "model unavailable: the bootstrap policy trades")
    if inputs.policy_errors:
        found.flag(Level.DEGRADED, f"{inputs.policy_errors} policy errors (no signal on those candles)")
    found.metrics.update(entries_allowed=inputs.entries_allowed, drawdown=round(inputs.drawdown, 6),
                         rejects=inputs.rejects, unknown_orders=inputs.unknown_orders, in_doubt=len(inputs.in_doubt),
                         failed_accounts=len(inputs.failed_accounts), model_fallback=inputs.model_fallback)
    return found.result()

