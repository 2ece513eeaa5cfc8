"""Bad candle files stop a backtest before it runs, with the file, the row and the problem named;
gaps are a warning with their count, in the report; a run that cannot be stored leaves no row."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.backtest.source import SourceError, load, read_klines
from engine.cli import main
from tests.backtest.helpers import MARKET

HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01


def write(path: Path, rows: int = 400, edit: dict | None = None) -> Path:
    """A klines file of `rows` hourly bars with real prices (the bundled BTCUSDT 1h from T0), edited:
    `{"close_12": nan}` sets one cell, `{"close": f}` maps a whole column."""
    edit = edit or {}
    src = pq.read_table(MARKET / "BTCUSDT-perp-klines-1h.parquet")
    times = src.column("open_time").to_numpy()
    first = int((times >= T0).argmax())
    table = src.slice(first, rows).to_pydict()
    for key, change in edit.items():
        column, row = key.rsplit("_", 1) if key[-1].isdigit() else (key, None)
        if row is None:
            table[column] = change(table[column]) if callable(change) else change
        else:
            table[column][int(row)] = change
    pq.write_table(pa.table(table), path)
    return path


@pytest.mark.parametrize(("edit", "message"), [
    ({"open_time_7": T0 + 5 * HOUR}, r"row 7: open_time 2024-01-01T05:00:00Z is out of order"),
    ({"open_time_7": T0 + 6 * HOUR}, r"row 7: open_time 2024-01-01T06:00:00Z is duplicated"),
    ({"close_12": math.nan}, r"row 12: close is nan: prices must be finite and positive"),
    ({"low_3": 0.0}, r"row 3: low is 0.0: prices must be finite and positive"),
    ({"open_4": -42000.0}, r"row 4: open is -42000.0"),
    ({"high_5": 1.0}, r"row 5: high 1.0 is below low"),
    ({"volume_9": -1.0}, r"row 9: volume is -1.0"),
    ({"symbol_20": "ETHUSDT"}, r"row 20: mixed symbols in one file: 'ETHUSDT' after 'BTCUSDT'"),
    ({"open_time_2": T0 + 2 * HOUR + 5}, r"row 2: open_time \d+ is not on the 60 min grid"),
])
def test_bad_candles_name_the_file_and_the_row(tmp_path: Path, edit: dict, message: str) -> None:
    path = write(tmp_path / "BTCUSDT-perp-klines-1h.parquet", edit=edit)
    with pytest.raises(SourceError, match=rf"{path}, {message}" if "row" in message else message):
        read_klines(path, "1h")


def test_mixed_intervals_and_missing_columns_and_no_data_in_the_period(tmp_path: Path) -> None:
    mixed = write(tmp_path / "BTCUSDT-perp-klines-1h.parquet", edit={"interval_30": "4h"})
    with pytest.raises(SourceError, match=r"row 30: mixed intervals in one file: '4h' after '1h'"):
        read_klines(mixed, "1h")
    with pytest.raises(SourceError, match=r"the file holds 1h candles, the backtest runs on 4h"):
        read_klines(write(tmp_path / "BTCUSDT-perp-klines-1h.parquet"), "4h")
    no_close = tmp_path / "ETHUSDT-perp-klines-1h.parquet"
    pq.write_table(pa.table({"open_time": [T0], "open": [1.0], "high": [1.0], "low": [1.0], "volume": [1.0]}), no_close)
    with pytest.raises(SourceError, match=rf"{no_close}: missing column\(s\) close"):
        read_klines(no_close, "1h")
    good = write(tmp_path / "BTCUSDT-perp-klines-1h.parquet")
    with pytest.raises(SourceError, match=rf"{good}: no 1h candles between 2025-01-01T00:00:00Z and the end \(400 rows"):
        read_klines(good, "1h", start_ms=T0 + 366 * 24 * HOUR)


def test_two_files_of_one_symbol_may_not_overlap(tmp_path: Path) -> None:
    a = write(tmp_path / "BTCUSDT-perp-klines-1h-a.parquet", 100)
    b = write(tmp_path / "BTCUSDT-perp-klines-1h-b.parquet", 100, {"open_time": lambda col: [t + 50 * HOUR for t in col]})
    with pytest.raises(SourceError, match=rf"{b}: its candles from 2024-01-03T02:00:00Z overlap {a}"):
        load([a, b], "1h")


def test_gaps_are_a_warning_with_their_count_in_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SLT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SLT_ENV_FILE", str(tmp_path / "no.env"))
    keep = [i for i in range(700) if not 400 <= i < 405 and i != 600]      # 5 + 1 bars missing
    path = write(tmp_path / "BTCUSDT-perp-klines-1h.parquet", 700,
                 {c: (lambda col: [col[i] for i in keep]) for c in
                  ("open_time", "open", "high", "low", "close", "volume", "symbol", "interval")})
    _, _, gaps = read_klines(path, "1h")
    assert gaps == 6
    assert main(["backtest", "--candles", str(path), "--json", "--no-store", "-o", str(tmp_path / "out")]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["warnings"] == [f"BTCUSDT: 6 missing 1h bars in {path} (the symbol is silent through them)"]
    assert "6 missing 1h bars" in (tmp_path / "out" / "report.md").read_text()


def test_a_bad_file_is_exit_2_and_nothing_is_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SLT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SLT_ENV_FILE", str(tmp_path / "no.env"))
    path = write(tmp_path / "BTCUSDT-perp-klines-1h.parquet", 500, {"high_450": 1.0})
    assert main(["backtest", "--candles", str(path)]) == 2
    assert f"{path}, row 450: high 1.0 is below low" in capsys.readouterr().err
    assert not (tmp_path / "data" / "lake").exists()
