"""Orchestration benchmarks (issue: Prefect deployments under `make run`).

- `flow_overhead`: wall time of one `regime-detection` run started through the Prefect server and
  picked up by the `local` process worker (poll 1 s), from the run's creation to its Completed
  state, against the same work (the flow's tasks' functions, in the flow's order) called as plain
  functions in this process, in the same run over the same store. Where the seconds go is in
  `extra`: waiting for the worker's poll, starting the flow-run process (Python + Prefect + engine
  imports), and the run itself as the server timed it.
- `up_ready`: `slt up` (what `make run` starts) to its banner, with the deployments deployed and
  the worker online, against `slt up --no-flows`; each on a fresh data directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from statistics import median

import polars as pl

from bench.common import BenchResult, machine_load
from bench.servers import REPO, free_port
from engine.config import Settings, load_settings
from engine.core.clock import wall_ms
from engine.core.intervals import HOUR_MS, INTERVAL_MS
from engine.core.types import Candle
from engine.jobs import regimes
from engine.orchestration import PrefectApi, prepare, server_service, wait_worker_online, worker_service
from engine.risk.tracker import regime_interval
from engine.services import Supervisor
from engine.store import init_store, open_store
from engine.store.writer import write_records

RUNS = 3
MARKET = REPO / "data" / "market"


def _settings(data: Path, **extra: str) -> tuple[Settings, dict[str, str]]:
    env = {"SLT_DATA_DIR": str(data), "SLT_SYMBOLS": "BTCUSDT", "SLT_PREFECT_PORT": str(free_port()),
           "SLT_MARKET_DATA_DIR": str(MARKET), "SLT_LOG_LEVEL": "warning", **extra}
    return load_settings(env, env_file=data / "no.env"), env


def _store_candles(settings: Settings) -> None:
    frame = pl.read_parquet(MARKET / "BTCUSDT-perp-klines-1m-2023-07.parquet").sort("open_time").tail(26 * 60)
    got, step = wall_ms(), INTERVAL_MS["1m"]
    candles = [Candle("BTCUSDT", "1m", t, t + step - 1, o, h, lo, c, v, True, t + step, got)
               for t, o, h, lo, c, v in frame.select("open_time", "open", "high", "low", "close", "volume").iter_rows()]
    init_store(settings)
    with open_store(settings) as lake:
        write_records(lake, candles)


def _plain_run(settings: Settings) -> None:
    """The regime-detection flow's work without Prefect: its tasks' functions, in its order."""
    from tasks import store  # the flow's own task functions (.fn: no task run, no API)

    symbols, interval = list(settings.symbols), regime_interval(settings.interval)
    lookback = 24 * HOUR_MS
    assert store.check_candles.fn(settings, symbols, interval, 900.0) is None
    candles, previous = store.read_regime_inputs.fn(settings, symbols, interval, lookback)
    run = regimes.evaluate(candles, previous, check_ms=int(settings.risk_regime_check_interval * 1000),
                           lookback_ms=lookback, received_ms=wall_ms())
    store.write.fn(settings, run.readings)
    history = store.read_regime_history.fn(settings, symbols, regimes.history_since(run.latest, wall_ms()))
    regimes.summary(run, history)


def _seconds(a: str | None, b: str | None) -> float:
    if not a or not b:
        return float("nan")
    return (datetime.fromisoformat(b.replace("Z", "+00:00")) - datetime.fromisoformat(a.replace("Z", "+00:00"))
            ).total_seconds()


def flow_overhead() -> BenchResult:
    with tempfile.TemporaryDirectory(prefix="slt-bench-flow-") as tmp:
        settings, env = _settings(Path(tmp) / "data")
        _store_candles(settings)
        plain = []
        for _ in range(RUNS):
            started = time.perf_counter()
            _plain_run(settings)
            plain.append(time.perf_counter() - started)
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # the worker and its flow runs read the settings from the environment
        supervisor = Supervisor([server_service(settings, Path(tmp) / "prefect")])
        try:
            supervisor.start()
            supervisor.wait_healthy(threading.Event())
            prepare(settings)
            api = PrefectApi(settings.prefect_api_url)
            for run in api.flow_runs({"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}}):
                api.cancel(run["id"], "benchmark: only its own runs")
            supervisor.launch(worker_service(settings, poll_seconds=1))
            wait_worker_online(api, threading.Event())
            deployment = next(d for d in api.deployments() if d["name"] == "regime-detection")
            walls, pickup, inside = [], [], []
            for _ in range(RUNS):
                started = time.perf_counter()
                created = api.call("POST", f"/deployments/{deployment['id']}/create_flow_run", {})
                while (run := api.call("GET", f"/flow_runs/{created['id']}"))["state_type"] not in (
                        "COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                    time.sleep(0.05)
                walls.append(time.perf_counter() - started)
                if run["state_type"] != "COMPLETED":
                    raise RuntimeError(f"regime-detection run ended {run['state_name']}: {run['state']['message']}")
                pickup.append(_seconds(run["created"], run["start_time"]))
                inside.append(_seconds(run["start_time"], run["end_time"]))
        finally:
            supervisor.stop()
            for key, value in old.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return BenchResult("flow_overhead", median(walls), "s", "the same work as plain function calls, same store",
                       median(plain), higher_is_better=False, target="report",
                       extra={"runs": RUNS, "worker_poll_s": 1.0, "plain_s": plain, "through_server_s": walls,
                              "created_to_running_s": pickup, "running_to_completed_s": inside,
                              "where": "created->running: the worker's poll (<= 1 s here, 10 s by default) plus "
                                       "starting the flow-run process (Python, Prefect and engine imports); "
                                       "running->completed: the flow itself, its task runs and artifact over the API",
                              **machine_load()})


def _up_to_banner(flows: bool) -> float:
    with tempfile.TemporaryDirectory(prefix="slt-bench-up-") as tmp:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("SLT_")}, "SLT_DATA_DIR": str(Path(tmp)),
               "SLT_PREFECT_PORT": str(free_port()), "SLT_MLFLOW_PORT": str(free_port()),
               "SLT_SIM_PORT": str(free_port()), "SLT_HEALTH_PORT": str(free_port()),
               "SLT_MARKET_DATA_DIR": str(MARKET)}
        started = time.perf_counter()
        up = subprocess.Popen([sys.executable, "-m", "engine.cli", "up", *([] if flows else ["--no-flows"])],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert up.stdout is not None
            for line in up.stdout:
                if "Ctrl-C stops everything" in line:
                    return time.perf_counter() - started
            raise RuntimeError(f"slt up exited ({up.wait()}) before its banner")
        finally:
            up.send_signal(signal.SIGINT)
            up.wait(90)


def up_ready() -> BenchResult:
    without = _up_to_banner(flows=False)
    with_flows = _up_to_banner(flows=True)
    return BenchResult("up_ready", with_flows, "s", "slt up --no-flows to its banner (fresh data dir)", without,
                       higher_is_better=False, target="report",
                       extra={"what": "slt up to the banner with the pool, deploy --all, late-run cancel, at-start "
                                      "runs and the worker online", "before_this_issue_s": 14.8, **machine_load()})


def run() -> list[BenchResult]:
    return [flow_overhead(), up_ready()]
