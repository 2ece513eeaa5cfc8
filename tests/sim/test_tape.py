"""Candle paths, derived bars, aggregation and the seeded regime generator."""

from __future__ import annotations

import numpy as np
import pytest

from engine.core.intervals import INTERVAL_MS, align
from engine.core.types import Candle
from engine.risk.regime import Regime, detect_regime
from engine.sim.path import path_points, step_offsets
from engine.sim.synthetic import Segment, generate, parse_segments
from engine.sim.tape import Bars, aggregate, load_tape, split
from tests.conftest import MARKET_DATA

o = np.array([100.0, 100.0, 100.0, 100.0])
h = np.array([110.0, 105.0, 103.0, 100.0])
l = np.array([95.0, 90.0, 97.0, 100.0])
c = np.array([108.0, 92.0, 100.0, 100.0])


def test_path_visits_the_extremes_in_the_order_the_candle_shape_suggests() -> None:
    points = path_points(o, h, l, c, 12, 1)
    assert points.shape == (4, 13)
    assert (points[:, 0] == o).all() and (points[:, -1] == c).all()
    assert (points.max(axis=1) == h).all() and (points.min(axis=1) == l).all()
    assert points[0, 4] == 95.0 and points[0, 8] == 110.0      # rising bar: dip first
    assert points[1, 4] == 105.0 and points[1, 8] == 90.0      # falling bar: rally first
    assert points[2, 4] == 97.0                                # flat bar: nearer extreme (low) first
    assert (points[3] == 100.0).all()
    with pytest.raises(ValueError):
        path_points(o, h, l, c, 2, 1)


def test_step_times_end_on_the_bar_close_time() -> None:
    offsets = step_offsets(60_000, 12)
    assert offsets[0] == 0 and offsets[-1] == 59_999 and (np.diff(offsets) > 0).all()


def test_derived_bars_aggregate_back_to_the_source_bar() -> None:
    hourly = Bars("1h", np.array([0, 3_600_000], dtype=np.int64), np.array([2.1897, 2.1814]),
                  np.array([2.192, 2.1887]), np.array([2.1792, 2.1801]), np.array([2.1814, 2.1853]),
                  np.array([18554114.6, 12177827.8]))
    minutes = split(hourly, "1m", 4)
    assert len(minutes) == 120 and (np.diff(minutes.open_time) == 60_000).all()
    back = aggregate(minutes, "1h")
    for col in ("open", "high", "low", "close"):
        assert (getattr(back, col) == getattr(hourly, col)).all()
    assert np.allclose(back.volume, hourly.volume)
    assert (minutes.open[1:] == minutes.close[:-1]).all()


def test_aggregation_keeps_complete_groups_only() -> None:
    times = np.arange(30, 150, dtype=np.int64) * 60_000           # starts mid-hour, ends mid-hour
    ones = np.ones(len(times))
    bars = aggregate(Bars("1m", times, ones, ones * 2, ones / 2, ones, ones), "1h")
    assert list(bars.open_time) == [3_600_000] and bars.volume[0] == 60
    assert align(INTERVAL_MS["1w"] * 3 + 5, "1w") % INTERVAL_MS["1d"] == 0
    assert np.datetime64(int(align(1_746_489_600_000, "1w")), "ms").astype("datetime64[D]").item().weekday() == 0


def test_real_tape_one_minute_bars_match_the_hour_files() -> None:
    tape = load_tape(MARKET_DATA, "BTCUSDT", "1m", 1_746_489_600_000, 1)
    hour = tape.history["1h"]
    native = load_tape(MARKET_DATA, "BTCUSDT", "1h", 1_746_489_600_000, 1).base
    common, a, b = np.intersect1d(hour.open_time, native.open_time, return_indices=True)
    assert len(common) > 1000                                      # older history comes from the 1h file
    for col in ("open", "high", "low", "close"):
        assert np.array_equal(getattr(hour, col)[a], getattr(native, col)[b])
    assert tape.funding_at(1_746_518_400_000) is not None          # 2025-05-06 08:00
    xrp = load_tape(MARKET_DATA, "XRPUSDT", "1m", 1_746_489_600_000, 4)
    assert xrp.derived_from == "1h" and xrp.base.index_of(1_746_489_600_000) >= 0
    with pytest.raises(ValueError, match="no ETHUSDT data covers"):
        load_tape(MARKET_DATA, "ETHUSDT", "1m", 1_000_000_000_000, 2)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_regime_labels_hold_at_each_segment_end(seed: int) -> None:
    segments = parse_segments("normal:30,high:24,low:48,crash:24,rally:25,normal:24,crash:30,low:24")
    series = generate(segments, seed=seed, start_ms=1_704_067_200_000, interval="1h")
    bars = series.bars
    candles = [Candle("SYN", "1h", int(t), int(t) + 3_599_999, float(o), float(h), float(lo), float(c), float(v))
               for t, o, h, lo, c, v in zip(bars.open_time, bars.open, bars.high, bars.low, bars.close, bars.volume)]
    for end, segment in zip(series.segment_ends, segments):
        if end - 1_704_067_200_000 < 24 * 3_600_000:
            continue  # the first segment has no full 24 h before its end
        assert detect_regime(candles, at=end + 3_600_000).regime == segment.regime


def test_synthetic_series_are_reproducible_and_interval_independent() -> None:
    segments = [Segment(Regime.NORMAL, 24), Segment(Regime.CRASH, 24)]
    a = generate(segments, seed=7, start_ms=0, interval="1m")
    b = generate(segments, seed=7, start_ms=0, interval="1m")
    other = generate(segments, seed=8, start_ms=0, interval="1m")
    assert np.array_equal(a.bars.close, b.bars.close) and not np.array_equal(a.bars.close, other.bars.close)
    hourly = aggregate(a.bars, "1h")
    assert np.array_equal(hourly.close, a.hourly_close)               # the rules read exact hourly closes
    assert (a.bars.low <= np.minimum(a.bars.open, a.bars.close)).all()
    assert (a.bars.high >= np.maximum(a.bars.open, a.bars.close)).all()
    assert a.labels[-1] == "CRASH" and len(a.labels) == len(a.bars)
    with pytest.raises(ValueError, match="bad regime segment"):
        parse_segments("sideways:24")
