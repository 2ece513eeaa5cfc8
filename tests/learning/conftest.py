from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from engine.child import answers, free_port, spawn_logged, stop, wait_ready
from engine.cli.up import services
from engine.config import Settings
from engine.learning.dataset import MarketData
from engine.learning.sources import bundled

MARKET = Path(__file__).resolve().parents[2] / "data" / "market"


def sliced(data: MarketData, start: int, stop: int) -> MarketData:
    """Bars start..stop of the candles, with the mark and funding rows of that window."""
    candles = data.candles.sort("open_time")[start:stop]
    lo, hi = candles["open_time"][0], candles["open_time"][-1]
    return MarketData(data.symbol, data.interval, candles,
                      data.mark.filter(pl.col("open_time").is_between(lo, hi)),
                      data.funding.filter(pl.col("open_time").is_between(lo, hi + 3_600_000)))


@pytest.fixture(scope="session")
def history() -> list[MarketData]:
    """Three symbols, 1h, the same 6000-bar window of 2022-2023 (real candles)."""
    out = []
    for symbol in ("BTCUSDT", "ETHUSDT", "XRPUSDT"):
        full = bundled(MARKET, symbol, "1h")
        start = full.candles["open_time"].search_sorted(1_640_995_200_000)  # 2022-01-01
        out.append(sliced(full, start, start + 6000))
    return out


def start_mlflow(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A real MLflow server on 127.0.0.1, started like `slt up` starts it: (process, tracking URI)."""
    settings = Settings(data_dir=data_dir, mlflow_port=free_port())
    service = next(s for s in services(settings) if s.name == "mlflow")
    process = spawn_logged(service.argv, service.log_file, env={**os.environ, **service.env})
    try:
        wait_ready(process, lambda: answers(service.health_url or ""), what="mlflow", timeout=120,
                   log=service.log_file)
    except BaseException:
        stop(process)
        raise
    return process, settings.mlflow_tracking_uri


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One MLflow server per test module."""
    process, uri = start_mlflow(tmp_path_factory.mktemp("mlflow"))
    try:
        yield uri
    finally:
        stop(process)
