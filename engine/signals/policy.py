"""The interface every signal source implements, and the safe call the engine uses.

A policy turns the indicators of one closed candle into at most one `Signal`. Policies are
untrusted code (a learned model may raise, return NaN, or take a feature it was not trained on):
the engine calls them through `safe_evaluate`, which turns any failure into "no signal" plus an
error string for the health monitor, so a bad model can never stop the loop.
"""

from __future__ import annotations

import math
from typing import Protocol

import msgspec

from engine.core.ids import signal_id as make_signal_id
from engine.core.types import Side
from engine.indicators import Indicators


class Signal(msgspec.Struct, frozen=True):
    """A decision to enter `side` on `symbol` at the close of one candle.

    `signal_id` is derived from the policy, symbol, interval and candle, so the same candle can
    never produce two different signals (and the orders derived from it are idempotent)."""

    signal_id: str
    policy: str
    symbol: str
    interval: str
    side: Side
    confidence: float          # 0..1, how strongly the rules (or model) agree
    win_probability: float     # 0..1, estimated chance the trade closes in profit
    price: float               # close of the candle the signal was computed on
    atr: float                 # for protective stop distances
    candle_open_time: int
    event_time: int            # exchange time the candle closed
    reasons: tuple[str, ...] = ()
    model_version: str | None = None   # the registered model version that scored it (None: the rules)
    features: str | None = None        # JSON object of the feature row it was scored on
    threshold: float | None = None     # the model's admission threshold (None: the bootstrap rules)


class SignalPolicy(Protocol):
    """What the engine calls on every closed candle. A policy may also offer
    `candidates(frame) -> numpy bool array`: over a batch frame of `engine.indicators.compute`
    columns, the bars on which `evaluate` can return a signal (True wherever it might; a superset
    is fine). Replays over history (`engine.learning.dataset.policy_signals`) then evaluate only
    those bars; a policy without it is evaluated on every bar."""

    name: str

    def evaluate(self, indicators: Indicators, event_time: int) -> Signal | None:
        """A signal for this closed candle, or None."""
        ...


def new_signal(policy: str, indicators: Indicators, side: Side, confidence: float, win_probability: float,
               event_time: int, reasons: tuple[str, ...] = ()) -> Signal:
    return Signal(make_signal_id(policy, indicators.symbol, indicators.interval, indicators.open_time), policy,
                  indicators.symbol, indicators.interval, side, confidence, win_probability, indicators.close,
                  indicators.atr, indicators.open_time, event_time, reasons)


def safe_evaluate(policy: SignalPolicy, indicators: Indicators, event_time: int) -> tuple[Signal | None, str | None]:
    """(signal, None) or (None, error): never raises."""
    try:
        signal = policy.evaluate(indicators, event_time)
    except Exception as exc:  # noqa: BLE001 - untrusted policy code
        return None, f"{policy.name} failed on {indicators.symbol} {indicators.open_time}: {type(exc).__name__}: {exc}"
    if signal is None:
        return None, None
    for field in ("confidence", "win_probability"):
        value = getattr(signal, field)
        if not (isinstance(value, float | int) and math.isfinite(value) and 0.0 <= value <= 1.0):
            return None, f"{policy.name} returned {field}={value!r} for {signal.symbol}; expected a number in [0, 1]"
    if not (math.isfinite(signal.atr) and signal.atr > 0 and math.isfinite(signal.price) and signal.price > 0):
        return None, f"{policy.name} returned a signal without a usable price/ATR for {signal.symbol}"
    return signal, None
