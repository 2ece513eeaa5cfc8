"""Outcomes of the signals no trade took: their label on the following bars, so the prediction ledger
(store migration 5) resolves every scored signal, taken or not.

A signal the engine took resolves through its trade (the ledger joins the closed trade). One it did
not take (not admitted, or admitted but no account entered) gets a `SignalOutcome`: the engine's own
exits simulated on the stored candles after it, exactly as the training labels are computed
(`engine.learning.labels.barrier_outcomes`: entry at the next bar's open, stop and take-profit in
ATRs of the signal's candle, the time barrier, taker fees both ways, and the funding rate of the
bundled funding file where one covers the window; the store keeps no funding rates). A signal whose
window has not closed yet stays pending and is tried again at the next run; record ids are the
signal ids, so a rerun writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engine.core.intervals import INTERVAL_MS
from engine.core.types import Candle, Side, SignalOutcome, SignalRecord
from engine.learning.labels import ExitSpec, barrier_outcomes
from engine.store import reader
from engine.store.lake import Lake
from engine.store.schema import BY_TYPE, from_rows

PENDING_SQL = """
SELECT s.* FROM lake.signals s
WHERE s.interval = ?
  AND NOT EXISTS (SELECT 1 FROM lake.signal_outcomes o WHERE o.signal_id = s.signal_id)
  AND NOT EXISTS (SELECT 1 FROM lake.trade_entries e WHERE e.signal_id = s.signal_id)
ORDER BY s.candle_open_time, s.symbol
"""


@dataclass(frozen=True)
class Funding:
    times: np.ndarray     # settlement times (ms), ascending
    rates: np.ndarray


NO_FUNDING = Funding(np.empty(0, np.int64), np.empty(0))


def pending_signals(lake: Lake, interval: str) -> list[SignalRecord]:
    """Signals on `interval` with no outcome yet and no trade that took them."""
    return from_rows(BY_TYPE[SignalRecord], reader.query(lake, PENDING_SQL, [interval]))


def candles_after(lake: Lake, signals: Sequence[SignalRecord], interval: str, exits: ExitSpec) -> dict[str, list[Candle]]:
    """Per symbol, the stored candles from the first pending signal to its whole label window after the last."""
    step = INTERVAL_MS[interval]
    out: dict[str, list[Candle]] = {}
    for symbol in sorted({s.symbol for s in signals}):
        times = [s.candle_open_time for s in signals if s.symbol == symbol]
        out[symbol] = reader.candles(lake, symbol, interval, start=min(times),
                                     end=max(times) + (exits.max_hold_bars + 2) * step)
    return out


def label_outcomes(signals: Sequence[SignalRecord], candles: Mapping[str, Sequence[Candle]], exits: ExitSpec,
                   interval: str, received_ms: int, funding: Mapping[str, Funding] | None = None) -> list[SignalOutcome]:
    """The outcome of every signal whose label window the candles cover; pure."""
    step = INTERVAL_MS[interval]
    out: list[SignalOutcome] = []
    for symbol, rows in candles.items():
        bars = [c for c in rows if c.closed]
        mine = [s for s in signals if s.symbol == symbol]
        if not bars or not mine:
            continue
        open_time = np.array([c.open_time for c in bars], dtype=np.int64)
        where = {int(t): i for i, t in enumerate(open_time)}
        found = [(s, where[s.candle_open_time]) for s in mine if s.candle_open_time in where]
        if not found:
            continue
        o, h, lo, c = (np.array([getattr(b, n) for b in bars], dtype=np.float64) for n in ("open", "high", "low", "close"))
        f = (funding or {}).get(symbol, NO_FUNDING)
        result = barrier_outcomes(open_time, o, h, lo, c, np.array([i for _, i in found]),
                                  np.array([1 if s.side is Side.BUY else -1 for s, _ in found]),
                                  np.array([s.atr for s, _ in found], dtype=np.float64), exits, f.times, f.rates, step)
        for k, (signal, _) in enumerate(found):
            if not result.resolved[k]:
                continue
            exit_time = int(open_time[result.exit_index[k]]) + step
            net = float(result.net_return[k])
            out.append(SignalOutcome(signal.signal_id, symbol, net, int(net > 0), exit_time, event_time=exit_time,
                                     received_time=received_ms))
    return out
