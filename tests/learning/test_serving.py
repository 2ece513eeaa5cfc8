"""The engine's model watch against a real MLflow server (engine.learning.serving): no champion means
the bootstrap policy and one health event; a promoted version is loaded by its number and served; a
version whose features differ, that was trained on another interval, whose artifact does not load or
that raises on a known input is refused with the reason; a model that fails on live rows falls back
to the previous one after three scorings; a removed alias returns to the bootstrap policy; MLflow
down changes nothing but is said."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from engine.child import free_port
from engine.cli import model as model_cli
from engine.cli.tables import iso_utc
from engine.config import Settings
from engine.core.types import Candle, HealthEvent, Side, SignalOutcome, SignalRecord
from engine.indicators import IndicatorStream
from engine.learning.names import CHAMPION, MODEL_NAME
from engine.learning.registry import promote
from engine.learning.serving import MlflowModels, ModelWatch
from engine.signals import safe_evaluate
from engine.signals.features import FeatureBook
from engine.signals.model import ModelPolicy, ModelSlot
from engine.store import connect, init_store
from engine.store.writer import write_records
from tests.learning.models import NanOnLive, RaisesAlways, fit_logistic, minute_history, register

pytestmark = pytest.mark.integration
SYMBOLS = ("BTCUSDT", "ETHUSDT")


class Replay:
    """Real 1m candles of both symbols through the engine's indicator and feature streams."""

    def __init__(self, policy: ModelPolicy) -> None:
        self.policy = policy
        history = minute_history(SYMBOLS, bars=9000)
        self.rows = [[Candle(d.symbol, "1m", t, t + 59_999, o, h, lo, c, v)
                      for t, o, h, lo, c, v in d.candles[4000:].select(
                          "open_time", "open", "high", "low", "close", "volume").rows()] for d in history]
        self.streams = {s: IndicatorStream(s, "1m") for s in SYMBOLS}
        self.at = 0

    def run(self, bars: int) -> list[tuple[Any, str | None]]:
        out = []
        for _ in range(bars):
            for candles in self.rows:
                candle = candles[self.at]
                ind = self.streams[candle.symbol].update(candle)
                self.policy.features.update(candle, ind)
                out.append(safe_evaluate(self.policy, ind, candle.close_time))
            self.at += 1
        return out


@pytest.fixture(scope="module")
def fitted() -> tuple[object, list[str]]:
    return fit_logistic(minute_history(SYMBOLS, bars=4000))


async def test_the_watch_serves_refuses_and_falls_back(mlflow_uri: str, fitted: tuple[object, list[str]],
                                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, names = fitted
    events: list[HealthEvent] = []
    policy = ModelPolicy(FeatureBook(SYMBOLS, "1m"), ModelSlot(max_failures=3))
    watch = ModelWatch(MlflowModels(mlflow_uri), policy, events.append, interval="1m", poll_s=0.1)
    policy.on_event = watch.event
    replay = Replay(policy)
    replay.run(300)                                   # warm-up: every live feature has a value

    await watch.poll()
    await watch.poll()
    assert [e.status for e in events] == ["no_champion"] and policy.slot.current is None
    assert "bootstrap policy" in events[0].message and events[0].component == "model"

    good = register(mlflow_uri, model, names, threshold=0.3)
    promote(mlflow_uri, good)
    await watch.poll()
    assert policy.slot.version == good and events[-1].status == "served", events[-1]
    signals = [s for s, _ in replay.run(200) if s is not None]
    assert signals and all(s.model_version == good and s.policy == "signal-model" for s in signals)

    mismatch_model, mismatch_names = fit_logistic(minute_history(SYMBOLS, bars=4000), drop=("rsi",))
    mismatch = register(mlflow_uri, mismatch_model, mismatch_names)
    promote(mlflow_uri, mismatch)
    await watch.poll()
    assert events[-1].status == "refused" and "signature mismatch" in events[-1].message
    assert "not trained on rsi" in events[-1].message and policy.slot.version == good
    await watch.poll()                                # refused once, not reloaded on every poll
    assert sum(e.status == "refused" for e in events) == 1 or "stays refused" in events[-1].message

    hourly = register(mlflow_uri, model, names, interval="1h")
    promote(mlflow_uri, hourly)
    await watch.poll()
    assert "trained on 1h candles, the engine trades 1m" in events[-1].message and policy.slot.version == good

    client = MlflowClient(mlflow_uri)
    run = client.get_run(client.get_model_version(MODEL_NAME, good).run_id)
    broken = client.create_model_version(MODEL_NAME, f"{run.info.artifact_uri}/no-such-model", run.info.run_id)
    client.set_model_version_tag(MODEL_NAME, broken.version, "features", client.get_model_version(
        MODEL_NAME, good).tags["features"])
    promote(mlflow_uri, broken.version)
    await watch.poll()
    assert events[-1].status == "refused" and "does not load" in events[-1].message, events[-1]
    assert policy.slot.version == good

    raising = register(mlflow_uri, RaisesAlways(), names, threshold=0.3)
    promote(mlflow_uri, raising)
    await watch.poll()
    assert events[-1].status == "refused" and "known input" in events[-1].message
    assert "RuntimeError: this model cannot score" in events[-1].message and policy.slot.version == good

    nan = register(mlflow_uri, NanOnLive(model), names, threshold=0.3)
    promote(mlflow_uri, nan)
    await watch.poll()
    assert policy.slot.version == nan, events[-1]
    results = [r for r in replay.run(400) if r != (None, None)]
    bad = [e for s, e in results[:3]]
    assert all(s is None for s, _ in results[:3]) and all("returned win probability nan" in e for e in bad)
    fallback = next(e for e in events if e.status == "fallback")
    assert f"model version {nan} failed 3 scorings in a row; back to model version {good}" in fallback.message
    assert all(s is not None and s.model_version == good for s, _ in results[3:])
    await watch.poll()                                # the alias still names the bad version: not reloaded
    assert policy.slot.version == good

    down = ModelWatch(MlflowModels(f"http://127.0.0.1:{free_port()}", timeout=1.0), policy, events.append,
                      interval="1m")
    await down.poll()
    assert events[-1].status == "unavailable" and f"keeping model version {good}" in events[-1].message

    client.delete_registered_model_alias(MODEL_NAME, CHAMPION)
    await watch.poll()
    assert events[-1].status == "withdrawn" and policy.slot.current is None
    assert all(s is None or s.policy == "bootstrap" for s, _ in replay.run(50))

    stop = asyncio.Event()
    promote(mlflow_uri, good)
    task = asyncio.create_task(watch.run(stop))
    for _ in range(200):                               # bounded: at most 20 s
        if policy.slot.version == good:
            break
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert policy.slot.version == good

    # `slt model` reads the engine's model events from the store: what it serves, since when, live figures
    settings = Settings(data_dir=tmp_path / "data", mlflow_port=int(mlflow_uri.rsplit(":", 1)[1]))
    init_store(settings)
    signals = [SignalRecord(f"s{i}", "signal-model", "ETHUSDT", "1m", Side.BUY, 0.4, 0.5, 1.0, 1.0, True, "model",
                            "", 1_000 + i, 2_000 + i, 3_000 + i, model_version=good) for i in range(4)]
    with connect(settings) as lake:
        write_records(lake, [*events, *signals, *(SignalOutcome(f"s{i}", "ETHUSDT", 0.01 if i % 2 else -0.01,
                                                                i % 2, 9_000) for i in range(4))])
    parser = argparse.ArgumentParser()
    model_cli.add_arguments(parser)
    assert model_cli.run(parser.parse_args([]), settings) == 0
    out = capsys.readouterr().out
    served_at = next(e for e in reversed(events) if e.status == "served").event_time
    assert f"engine: serving version {good} since {iso_utc(served_at)}" in out, out
    assert "live                 4 resolved, win rate 50.0%, mean p 0.500, Brier 0.2500" in out, out
