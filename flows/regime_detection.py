"""regime-detection: the market regime of each traded symbol, on the engine's check grid.

Reads: `candles` (the interval the engine measures regimes on) and `regimes` from the store.
Writes: `regimes` rows, record ids `regime:<symbol>:<grid time>` (the engine's), so a rerun adds
nothing. Publishes: the table artifact `regime-detection` (symbol, regime, 24 h change, volatility,
since when) and one `slt.regime.changed` event per symbol whose regime changed. The engine adopts
these readings while they keep coming and resumes its own checks when they stop.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.states import State

from engine.core.clock import iso_utc, wall_ms
from engine.core.intervals import HOUR_MS
from engine.jobs import regimes
from engine.risk.tracker import regime_interval
from flows import begin, failed
from tasks import publish, store


@flow(name="regime-detection", description=__doc__.split("\n")[0])
def regime_detection(symbols: list[str] | None = None, lookback_hours: float = 24.0,
                     max_input_age_seconds: float = 900.0) -> dict[str, Any] | State:
    settings = begin()
    if isinstance(settings, State):
        return settings
    log = get_run_logger()
    chosen = list(symbols or settings.symbols)
    interval = regime_interval(settings.interval)
    if (problem := store.check_candles(settings, chosen, interval, max_input_age_seconds)) is not None:
        return failed(problem)
    lookback_ms = int(lookback_hours * HOUR_MS)
    candles, previous = store.read_regime_inputs(settings, chosen, interval, lookback_ms)
    run = regimes.evaluate(candles, previous, check_ms=int(settings.risk_regime_check_interval * 1000),
                           lookback_ms=lookback_ms, received_ms=wall_ms())
    written = store.write(settings, run.readings)
    history = store.read_regime_history(settings, chosen, regimes.history_since(run.latest, wall_ms()))
    publish.table("regime-detection", regimes.summary(run, history),
                  f"Market regime per symbol on {interval} candles (checks every {settings.risk_regime_check_interval:g} s)")
    sent = publish.regime_changes(run.changes)
    for symbol, why in run.skipped.items():
        log.warning("regime %s: no reading: %s", symbol, why)
    log.info("%d readings evaluated, %d stored, %d already stored; %d regime changes",
             len(run.readings), written.inserted, written.skipped, sent)
    if not run.readings and run.latest:  # what a running engine leaves a flow: it checks on each candle's close
        log.info("up to date: the stored readings (the engine's own, when it runs) already cover the newest candles "
                 "(%s)", ", ".join(f"{s} {iso_utc(r.window_end)}" for s, r in sorted(run.latest.items())))
    return {"evaluated": len(run.readings), "stored": written.inserted, "changes": sent,
            "skipped": sorted(run.skipped)}
