"""Labels: what taking a signal with the engine's own exits would have earned, after costs.

Entry at the open of the bar after the signal's candle; a stop `stop_loss_atr` and a take-profit
`take_profit_atr` ATRs (the signal candle's ATR) away; a time barrier after `max_hold_bars` bars,
exiting at that bar's close. A bar that touches both barriers is resolved the way the simulator's
intra-bar path runs (engine/sim/path.py): a rising bar visits its low first, a falling bar its
high first, a flat bar the extreme nearer its open first. A bar that opens beyond a barrier (a
gap) exits at its open, as a stop order would fill on the path's first point. The net return is
the side's price return minus the taker fee on both legs and the funding paid at every funding
time inside the holding window; label 1 when it is positive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.config import Settings
from engine.sim.options import SimOptions
from engine.sim.path import extremes_order


@dataclass(frozen=True)
class ExitSpec:
    """The engine's exit rules and the costs a trade pays (defaults: engine/config.py, sim fees)."""

    stop_loss_atr: float = Settings.stop_loss_atr
    take_profit_atr: float = Settings.take_profit_atr
    max_hold_bars: int = Settings.max_hold_bars
    taker_fee: float = float(SimOptions.taker_fee)

    @classmethod
    def from_settings(cls, settings: Settings) -> ExitSpec:
        return cls(settings.stop_loss_atr, settings.take_profit_atr, settings.max_hold_bars)

    def describe(self) -> str:
        return (f"stop {self.stop_loss_atr:g} ATR, take-profit {self.take_profit_atr:g} ATR, "
                f"{self.max_hold_bars}-bar time limit, taker fee {self.taker_fee:.4%} per leg, funding")


@dataclass(frozen=True)
class Outcomes:
    """One entry per signal: `resolved` False when the data end before any barrier (no label)."""

    net_return: np.ndarray     # fraction of the entry notional, after fees and funding
    exit_index: np.ndarray     # bar the trade leaves on
    resolved: np.ndarray


def barrier_outcomes(open_time: np.ndarray, o: np.ndarray, h: np.ndarray, l: np.ndarray, c: np.ndarray,
                     signal_index: np.ndarray, side: np.ndarray, atr: np.ndarray, spec: ExitSpec,
                     funding_time: np.ndarray, funding_rate: np.ndarray, interval_ms: int) -> Outcomes:
    """Outcomes of the signals at bar `signal_index` with `side` +1 (long) / -1 (short)."""
    n, count = len(o), len(signal_index)
    low_first = extremes_order(o, h, l, c).tolist()
    o, h, l, c = (np.asarray(a, dtype=np.float64).tolist() for a in (o, h, l, c))  # floats: the loop is scalar
    cumulative_funding = np.concatenate([[0.0], np.cumsum(funding_rate)])
    net = np.full(count, np.nan)
    exit_at = np.full(count, -1, dtype=np.int64)
    resolved = np.zeros(count, dtype=bool)
    for k in range(count):
        i, s = int(signal_index[k]), int(side[k])
        entry_i = i + 1
        if entry_i >= n:
            continue
        entry, risk = o[entry_i], float(atr[k])
        stop = entry - s * spec.stop_loss_atr * risk
        take = entry + s * spec.take_profit_atr * risk
        last = min(n - 1, i + spec.max_hold_bars)
        price, exit_i = math.nan, -1
        for j in range(entry_i, last + 1):
            worst, best = (l[j], h[j]) if s > 0 else (h[j], l[j])
            if s * (o[j] - stop) <= 0 or s * (o[j] - take) >= 0:
                price = o[j]
            else:
                hit_stop = s * (worst - stop) <= 0
                hit_take = s * (best - take) >= 0
                if hit_stop and hit_take:
                    stop_first = bool(low_first[j]) == (s > 0)
                    price = stop if stop_first else take
                elif hit_stop:
                    price = stop
                elif hit_take:
                    price = take
            if not math.isnan(price):
                exit_i = j
                break
        if exit_i < 0:
            if i + spec.max_hold_bars > n - 1:
                continue  # the data end before the time barrier: outcome unknown
            exit_i, price = last, c[last]
        entry_ms, exit_ms = open_time[entry_i], open_time[exit_i] + interval_ms
        paid = (cumulative_funding[np.searchsorted(funding_time, exit_ms, side="right")]
                - cumulative_funding[np.searchsorted(funding_time, entry_ms, side="right")])
        ratio = price / entry
        net[k] = s * (ratio - 1.0) - spec.taker_fee * (1.0 + ratio) - s * paid
        exit_at[k], resolved[k] = exit_i, True
    return Outcomes(net, exit_at, resolved)
