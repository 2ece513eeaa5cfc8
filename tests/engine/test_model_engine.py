"""The running engine serves the champion (real processes: simulator, `python -m engine`, an MLflow
server; a real DuckLake store): its signals carry the champion's version and the feature row they
were scored on; promoting another version makes the running engine use it at the next poll, rolling
back does the same, with no candle skipped; a version that returns NaN on live rows gives no signal
(so no order), and after three failed scorings the engine is back on the previous version with a
health event saying why; MLflow stopped while the engine runs changes nothing but is recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.child import stop
from engine.core.types import Candle, HealthEvent, SignalRecord
from engine.learning.registry import promote, rollback
from engine.signals.features import feature_names
from engine.store import connect, reader
from tests.engine.process import EngineProcess, engine_env, settings_for, wait_until
from tests.learning.conftest import start_mlflow
from tests.learning.models import NanOnLive, fit_logistic, minute_history, register
from tests.sim.harness import SimHandle

pytestmark = [pytest.mark.slow, pytest.mark.integration]
START, BARS, SPEED = "2025-05-06T07:20:00Z", 1400, "600"


def signals(settings: Any) -> list[SignalRecord]:
    with connect(settings, read_only=True) as lake:
        return sorted(reader.read(lake, SignalRecord), key=lambda s: (s.candle_open_time, s.symbol))


def model_events(settings: Any) -> list[HealthEvent]:
    with connect(settings, read_only=True) as lake:
        return sorted(reader.health_events(lake, "model"), key=lambda e: e.received_time)


async def test_the_engine_serves_swaps_rolls_back_and_falls_back(sim_process_factory: Any, tmp_path: Path) -> None:
    mlflow, uri = start_mlflow(tmp_path / "mlflow")
    model, names = fit_logistic(minute_history(("BTCUSDT", "ETHUSDT"), bars=4000))
    assert names == feature_names(context=True)
    first = register(uri, model, names, threshold=0.3)
    promote(uri, first)
    sim: SimHandle = sim_process_factory("--paused", "--speed", SPEED, "--start", START, "--end-after", f"{BARS}m")
    env = engine_env(sim, tmp_path / "data", SLT_SYMBOLS="BTCUSDT,ETHUSDT", SLT_MLFLOW_TRACKING_URI=uri,
                     SLT_MODEL_POLL_SECONDS="1", BOOTSTRAP_TRADE_LIMIT="0")
    settings = settings_for(env)
    engine = EngineProcess(env, tmp_path / "engine.log")
    try:
        engine.start()
        engine.wait_for("engine ready", 60)
        engine.wait_for(f"serving model version {first}", 60)
        await sim.control.resume()

        def served(version: str) -> list[SignalRecord]:
            return [s for s in signals(settings) if s.model_version == version]

        mine = await wait_until(f"a signal scored by version {first}", lambda: served(first), engine, 60)
        row = json.loads(mine[0].features)
        assert list(row) == names and mine[0].policy == "signal-model" and mine[0].phase == "model"

        second = register(uri, model, names, threshold=0.35)
        promote(uri, second)
        await wait_until(f"a signal scored by version {second}", lambda: served(second), engine, 60)
        assert rollback(uri) == (second, first)
        count = len(served(first))
        await wait_until("signals by the rolled-back version", lambda: len(served(first)) > count + 2, engine, 60)

        bad = register(uri, NanOnLive(model), names, threshold=0.3)
        promote(uri, bad)
        await wait_until("the fall-back event", lambda: [e for e in model_events(settings)
                                                         if e.status == "fallback"], engine, 60)
        count = len(served(first))
        await wait_until("signals by the previous version again", lambda: len(served(first)) > count + 2,
                         engine, 60)

        stop(mlflow)
        await wait_until("the MLflow-down event", lambda: [e for e in model_events(settings)
                                                           if e.status == "unavailable"], engine, 60)
        count = len(served(first))
        await wait_until("trading on after MLflow stopped", lambda: len(served(first)) > count + 2, engine, 60)
        assert engine.stop() == 0, engine.text()[-3000:]
    finally:
        engine.close()
        stop(mlflow)
        await sim.aclose()
    log = engine.text()
    assert "Traceback" not in log, log[-3000:]
    every = signals(settings)
    assert not [s for s in every if s.model_version == bad]          # no signal (so no order) from a NaN score
    versions = [s.model_version for s in every if s.model_version]
    assert versions.index(second) < max(i for i, v in enumerate(versions) if v == first)
    events = model_events(settings)
    fallback = next(e for e in events if e.status == "fallback")
    assert f"model version {bad} failed 3 scorings in a row; back to model version {first}" in fallback.message
    assert any(e.status == "served" and f"version {second}" in e.message for e in events)
    with connect(settings, read_only=True) as lake:
        for symbol in ("BTCUSDT", "ETHUSDT"):
            times = sorted(c.open_time for c in reader.read(lake, Candle, **{"symbol = ?": symbol}))
            assert times and all(b - a == 60_000 for a, b in zip(times, times[1:])), symbol   # no candle skipped
