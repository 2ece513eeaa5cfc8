"""What the running engine serves and how that version does live, from the store (an edge): the
`model` health events the engine records (each says which version it serves after it) and the
prediction ledger. For `slt model`."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from engine.core.types import HealthEvent
from engine.jobs.drift import champion_ledger
from engine.store import reader
from engine.store.lake import Lake


@dataclass(frozen=True)
class Serving:
    version: str | None      # None: the bootstrap policy
    since: int               # exchange ms of the event that started it
    status: str              # the latest model event's status
    message: str


def serving(lake: Lake) -> Serving | None:
    """The version the engine serves now and since when; None when it never recorded a model event."""
    events = sorted(reader.health_events(lake, "model"), key=lambda e: (e.received_time, e.event_time))
    if not events:
        return None
    current, since = _serving(events[0]), events[0].event_time
    for event in events[1:]:
        value = _serving(event)
        if value != current:
            current, since = value, event.event_time
    return Serving(current, since, events[-1].status, events[-1].message)


def _serving(event: HealthEvent) -> str | None:
    try:
        return json.loads(event.detail or "{}").get("serving")
    except ValueError:
        return None


def live_figures(lake: Lake, version: str, base_rate: float | None, threshold: float | None,
                 window: int = 500) -> dict[str, float | int]:
    """The version's last `window` resolved predictions: count, win rate, mean probability, Brier,
    the base rate's Brier (its training base rate) and the gated net per trade."""
    ledger = champion_ledger(lake, version, window)
    n = len(ledger.y)
    if n == 0:
        return {"resolved": 0}
    out: dict[str, float | int] = {"resolved": n, "win_rate": float(ledger.y.mean()),
                                   "mean_probability": float(ledger.p.mean()),
                                   "brier": float(np.mean((ledger.p - ledger.y) ** 2))}
    if base_rate is not None:
        out["base_brier"] = float(np.mean((base_rate - ledger.y) ** 2))
    if threshold is not None:
        gated = ledger.net[ledger.p > threshold]
        out["gated_trades"] = len(gated)
        out["gated_net_bp"] = float(gated.mean() * 1e4) if len(gated) else 0.0
    return out
