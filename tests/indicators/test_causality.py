"""No look-ahead: every output at bar t computed on bars 0..t equals the same output computed on
0..T (T > t) and read at t, for every standard and ICT column and both backends."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from engine.indicators import COLUMNS, ICT_COLUMNS, IndicatorParams, as_ohlcv, compute, ict_frame
from tests.indicators.conftest import klines, same

FULL_BARS = 3_000


def cut_points(minimum: int, total: int, count: int = 25) -> list[int]:
    """Warm-up edges, every bar just after a Bollinger re-anchoring, and a spread of others."""
    rng = np.random.default_rng(7)
    edges = list(range(minimum - 1, minimum + 12)) + [minimum - 1 + 128 * k + d for k in (1, 2) for d in (-1, 0, 1)]
    return sorted(set(edges) | set(int(x) for x in rng.integers(minimum, total - 1, count)))


@pytest.mark.parametrize("backend", ["numpy", "talib"])
def test_every_column_at_t_ignores_later_bars(backend: str) -> None:
    data = klines("BTCUSDT-perp-klines-1m-2025-05.parquet").head(FULL_BARS)
    p = IndicatorParams()
    full = compute(data, p, backend=backend)  # type: ignore[arg-type]
    for t in cut_points(p.min_bars, FULL_BARS):
        prefix = compute(data.head(t + 1), p, backend=backend)  # type: ignore[arg-type]
        row_full, row_prefix = full.row(t), prefix.row(t)
        for name, a, b in zip(COLUMNS, row_prefix, row_full, strict=True):
            assert same(np.array([a], dtype=float), np.array([b], dtype=float)).all(), \
                f"{name} at bar {t}: {a!r} on bars 0..{t} but {b!r} on 0..{FULL_BARS - 1}"


def test_ict_columns_are_causal_from_the_first_bar() -> None:
    """ICT features need no warm-up minimum; check every bar of a short prefix and a sample after."""
    data = klines("XRPUSDT-perp-klines-5m-2021-11.parquet")
    bars = as_ohlcv(data)
    params = IndicatorParams().ict
    full = ict_frame(bars, params).cast(pl.Float64).to_numpy()
    for t in list(range(0, 60)) + cut_points(60, len(data), 40):
        prefix = ict_frame(as_ohlcv(data.head(t + 1)), params).cast(pl.Float64).to_numpy()
        ok = same(prefix[t], full[t])
        assert ok.all(), f"{np.array(ICT_COLUMNS)[~ok].tolist()} differ at bar {t}"


def test_swing_is_invisible_until_confirmed() -> None:
    """The bar after a swing high sees nothing; only the k-th bar after confirms it."""
    from tests.indicators.conftest import bars as make
    k = IndicatorParams().ict.swing_length
    rows = [(10.0, 11.0, 9.0, 10.0)] * 5 + [(10.0, 20.0, 9.0, 10.0)] + [(10.0, 11.0, 9.0, 10.0)] * 6
    frame = ict_frame(as_ohlcv(make(rows)), IndicatorParams().ict)
    swing_high = frame["ict_swing_high"].to_numpy()
    assert np.isnan(swing_high[: 5 + k]).all()
    assert (swing_high[5 + k:] == 20.0).all()
