"""The learned model behind the `SignalPolicy` seam, and the slot that swaps models safely (pure).

Meta-labelling: the bootstrap policy proposes a side on its events; the served model estimates the
probability that taking it ends in profit after costs, and the signal is admitted when that
probability is above the model's own threshold (chosen on validation data, a version tag). Until
`BOOTSTRAP_TRADE_LIMIT` trades have closed (`takeover()` is False), or while no model is served,
the bootstrap signal goes out unchanged; either way it carries the feature row it was computed on,
so every stored signal can be traced and relearned from.

Models are untrusted. `ModelSlot.offer` refuses a version whose features differ from the ones the
engine produces (naming the missing and the extra ones) or that does not score a known row with a
probability in [0, 1]. A scoring that raises or returns a bad number yields no signal (so no order
from a bad score); after `max_failures` in a row the slot falls back to the model it replaced, or to
the bootstrap policy, and says why. The slot is touched only on the event loop, between candles, so
a swap is one assignment: a candle is scored wholly by the old model or wholly by the new one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from engine.indicators import Indicators
from engine.signals.bootstrap import BootstrapPolicy
from engine.signals.features import FeatureBook, vector
from engine.signals.policy import Signal, new_signal

POLICY = "signal-model"


class Scorer(Protocol):
    def predict_proba(self, x: Any) -> Any: ...


class ModelError(Exception):
    """A served model failed to score (raised, NaN, out of range); the candle gets no signal."""


@dataclass(frozen=True)
class ServedModel:
    """One registered version as the engine serves it."""

    version: str
    model: Scorer
    features: list[str]
    threshold: float
    interval: str = ""          # the candle interval it was trained on ("" = not recorded)
    loaded_at: int = 0          # wall ms


def probability(model: ServedModel, row: dict[str, float]) -> float:
    """The model's win probability for one feature row; ModelError when it is not a number in [0, 1]."""
    try:
        out = model.model.predict_proba([vector(row, model.features)])
        p = float(out[0][1])
    except Exception as exc:  # noqa: BLE001 - untrusted model code
        raise ModelError(f"model version {model.version} failed to score: {type(exc).__name__}: {exc}") from exc
    if not (math.isfinite(p) and 0.0 <= p <= 1.0):
        raise ModelError(f"model version {model.version} returned win probability {p!r}; expected a number in [0, 1]")
    return p


def check(model: ServedModel, produced: list[str], known_row: dict[str, float], interval: str = "") -> str | None:
    """Why this version cannot be served here (None when it can): its interval and features against
    the ones the engine trades and produces, then a score of a known row."""
    if interval and model.interval and model.interval != interval:
        return (f"model version {model.version} refused: trained on {model.interval} candles, the engine trades "
                f"{interval}")
    missing = [n for n in model.features if n not in produced]
    extra = [n for n in produced if n not in model.features]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"the engine does not produce {', '.join(missing)}")
        if extra:
            parts.append(f"the model was not trained on {', '.join(extra)}")
        return f"model version {model.version} refused (signature mismatch): " + "; ".join(parts)
    if not math.isfinite(model.threshold) or not 0.0 <= model.threshold <= 1.0:
        return f"model version {model.version} refused: threshold {model.threshold!r} is not in [0, 1]"
    try:
        probability(model, known_row)
    except ModelError as exc:
        return f"model version {model.version} refused on a known input: {exc}"
    return None


@dataclass
class ModelSlot:
    """The served model, the one it replaced, and the run of failed scorings."""

    max_failures: int = 3
    current: ServedModel | None = None
    previous: ServedModel | None = None
    failures: int = 0
    refused: dict[str, str] = field(default_factory=dict)   # version -> why (not offered again)

    @property
    def version(self) -> str | None:
        return None if self.current is None else self.current.version

    def offer(self, model: ServedModel, produced: list[str], known_row: dict[str, float],
              interval: str = "") -> str | None:
        """Serve `model` from the next candle on, unless `check` refuses it (the reason is returned)."""
        why = check(model, produced, known_row, interval)
        if why is not None:
            self.refused[model.version] = why
            return why
        if self.current is not None and self.current.version != model.version:
            self.previous = self.current
        self.current, self.failures = model, 0
        return None

    def withdraw(self) -> None:
        """No champion any more: back to the bootstrap policy."""
        if self.current is not None:
            self.previous = self.current
        self.current, self.failures = None, 0

    def succeeded(self) -> None:
        self.failures = 0

    def failed(self) -> str | None:
        """Count one failed scoring; after `max_failures` in a row, fall back and say to what."""
        self.failures += 1
        if self.failures < self.max_failures or self.current is None:
            return None
        bad, fallback = self.current, self.previous
        self.refused[bad.version] = f"{self.failures} failed scorings in a row"
        self.current, self.previous, self.failures = fallback, None, 0
        to = f"model version {fallback.version}" if fallback is not None else "the bootstrap policy"
        return f"model version {bad.version} failed {self.max_failures} scorings in a row; back to {to}"


def features_json(row: dict[str, float]) -> str:
    """The row as a JSON object, null where a value is not finite (JSON has no NaN)."""
    return json.dumps({k: (v if math.isfinite(v) else None) for k, v in row.items()}, separators=(",", ":"))


class ModelPolicy:
    """Bootstrap proposals scored by the served model (see the module docstring)."""

    name = POLICY

    def __init__(self, features: FeatureBook, slot: ModelSlot, *, takeover: Callable[[], bool] = lambda: True,
                 on_event: Callable[[str, str], None] | None = None, bootstrap: BootstrapPolicy | None = None):
        self.features = features
        self.slot = slot
        self.takeover = takeover
        self.on_event = on_event
        self.bootstrap = bootstrap or BootstrapPolicy()

    def evaluate(self, indicators: Indicators, event_time: int) -> Signal | None:
        proposal = self.bootstrap.evaluate(indicators, event_time)
        if proposal is None:
            return None
        row = self.features.row(indicators.symbol, proposal.side.sign, proposal.confidence)
        model = self.slot.current
        if model is None or not self.takeover():
            return msgspec.structs.replace(proposal, features=features_json(row))
        try:
            p = probability(model, row)
        except ModelError as exc:
            fell_back = self.slot.failed()
            if fell_back is not None and self.on_event is not None:
                self.on_event("fallback", f"{fell_back} (last error: {exc})")
            raise
        self.slot.succeeded()
        signal = new_signal(POLICY, indicators, proposal.side, proposal.confidence, p, event_time,
                            (*proposal.reasons, f"model v{model.version} p={p:.3f} vs {model.threshold:.3f}"))
        return msgspec.structs.replace(signal, model_version=model.version, features=features_json(row),
                                       threshold=model.threshold)
