"""`slt indicators INPUT.parquet -o OUTPUT.parquet`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.cli import main
from engine.indicators import COLUMNS, compute
from tests.conftest import MARKET_DATA, REPO

pytestmark = pytest.mark.integration  # starts the simulator (or the engine) on 127.0.0.1


def test_command_writes_every_column(tmp_path: Path) -> None:
    source = MARKET_DATA / "XRPUSDT-perp-klines-5m-2021-11.parquet"
    out = tmp_path / "features" / "xrp.parquet"
    done = subprocess.run([sys.executable, "-m", "engine.cli", "indicators", str(source), "-o", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    written = pl.read_parquet(out)
    assert written.columns == list(COLUMNS)
    expected = compute(pl.read_parquet(source))
    assert written.equals(expected)
    assert "wrote 1,999 bars x 36 columns" in done.stderr


def test_progress_on_large_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eth.parquet"
    source = MARKET_DATA / "ETHUSDT-perp-klines-1m-2025-05.parquet"
    assert main(["indicators", str(source), "-o", str(out), "--backend", "numpy"]) == 0
    err = capsys.readouterr().err
    assert "indicators: standard indicators 100%" in err
    assert "indicators: ICT features 100% (73,140/73,140 bars" in err
    assert err.count("ICT features") >= 2
    assert pl.read_parquet(out).height == 73_140


def test_bad_candles_and_unreadable_files_fail_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = pl.read_parquet(MARKET_DATA / "XRPUSDT-perp-klines-8h-2021-11.parquet")
    bad = tmp_path / "bad.parquet"
    data.with_columns(pl.Series("close", np.where(np.arange(data.height) == 40, np.nan, data["close"]))).write_parquet(bad)
    assert main(["indicators", str(bad), "-o", str(tmp_path / "x.parquet")]) == 1
    assert "bar 40, open_time" in capsys.readouterr().err
    assert main(["indicators", str(tmp_path / "missing.parquet"), "-o", str(tmp_path / "y.parquet")]) == 2
    assert "cannot read" in capsys.readouterr().err
    mixed = tmp_path / "mixed.parquet"
    pl.concat([data, data.with_columns(pl.lit("ETHUSDT").alias("symbol"))]).write_parquet(mixed)
    assert main(["indicators", str(mixed), "-o", str(tmp_path / "z.parquet")]) == 2
    assert "one symbol and interval per file" in capsys.readouterr().err
