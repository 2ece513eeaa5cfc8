"""ICT definitions on hand-built candles with known answers (swing_length 1: a swing high is a bar
whose high beats the bar before and is not beaten by the bar after; it is confirmed one bar later)."""

from __future__ import annotations

import math

import numpy as np

from engine.indicators import ICT_COLUMNS, ICTParams, ICTState, as_ohlcv, ict_frame
from tests.indicators.conftest import bars, klines

P = ICTParams(swing_length=1, equal_tolerance=0.001, ob_lookback=10, max_zones=5)


def run(rows: list[tuple[float, float, float, float]], params: ICTParams = P) -> list[dict[str, float]]:
    state = ICTState(params)
    return [dict(zip(ICT_COLUMNS, state.update(*row), strict=True)) for row in rows]


def test_three_candle_fair_value_gaps_and_their_fills() -> None:
    out = run([
        (10.0, 11.0, 9.0, 10.5),
        (10.5, 14.0, 10.5, 13.8),   # displacement
        (13.8, 15.0, 12.0, 14.5),   # low 12 > high two bars back (11): bullish gap [11, 12]
        (14.5, 15.0, 13.0, 14.0),
        (14.0, 14.2, 11.5, 12.0),   # trades into the gap, not through it
        (12.0, 12.5, 10.8, 11.0),   # low 10.8 <= 11: filled; high 12.5 < low two back (13): bearish gap
        (11.0, 13.2, 10.9, 13.1),   # high 13.2 >= 13: the bearish gap is filled
    ])
    assert [r["ict_fvg_bull_count"] for r in out] == [0, 0, 1, 1, 1, 0, 0]
    assert (out[2]["ict_fvg_bull_top"], out[2]["ict_fvg_bull_bottom"]) == (12.0, 11.0)
    assert (out[4]["ict_fvg_bull_top"], out[4]["ict_fvg_bull_bottom"]) == (12.0, 11.0)
    assert math.isnan(out[5]["ict_fvg_bull_top"])
    assert [r["ict_fvg_bear_count"] for r in out] == [0, 0, 0, 0, 0, 1, 0]
    assert (out[5]["ict_fvg_bear_top"], out[5]["ict_fvg_bear_bottom"]) == (13.0, 12.5)


STRUCTURE = [
    (10.0, 10.5, 9.5, 10.0),    # 0
    (10.0, 12.0, 9.8, 11.5),    # 1 swing high 12 (confirmed on bar 2)
    (11.5, 11.8, 10.5, 11.0),   # 2
    (11.0, 11.2, 10.2, 10.6),   # 3 down-close candle; swing low 10.2 (confirmed on bar 4)
    (10.6, 12.6, 10.5, 12.5),   # 4 close 12.5 > 12: first break -> BOS up; order block = bar 3
    (12.5, 12.8, 11.5, 11.8),   # 5 swing high 12.8 (confirmed on bar 6)
    (11.8, 11.9, 10.0, 10.1),   # 6 close 10.1 < 10.2 in an uptrend -> CHoCH down; bar 4 is the block
    (10.1, 13.0, 10.0, 12.9),   # 7 close 12.9 > 12.8 in a downtrend -> CHoCH up; bar 6 is the block
]


def test_break_of_structure_and_change_of_character() -> None:
    out = run(STRUCTURE)
    assert [r["ict_bos"] for r in out] == [0, 0, 0, 0, 1, 0, 0, 0]
    assert [r["ict_choch"] for r in out] == [0, 0, 0, 0, 0, 0, -1, 1]
    assert [r["ict_trend"] for r in out] == [0, 0, 0, 0, 1, 1, -1, 1]
    assert math.isnan(out[1]["ict_swing_high"]) and out[2]["ict_swing_high"] == 12.0
    assert out[4]["ict_swing_low"] == 10.2 and out[6]["ict_swing_high"] == 12.8


def test_order_blocks_form_on_breaks_and_die_on_closes_beyond_them() -> None:
    out = run(STRUCTURE)
    # bar 4: the bullish block is the last down-close candle after the swing high (bar 3: [10.2, 11.2])
    assert out[4]["ict_ob_bull_count"] == 1
    assert (out[4]["ict_ob_bull_top"], out[4]["ict_ob_bull_bottom"]) == (11.2, 10.2)
    # bar 6: close 10.1 < 10.2 kills it; the bearish break makes bar 4 (last up-close) a bearish block
    assert out[6]["ict_ob_bull_count"] == 0 and out[6]["ict_ob_bear_count"] == 1
    assert (out[6]["ict_ob_bear_top"], out[6]["ict_ob_bear_bottom"]) == (12.6, 10.5)
    # bar 7: close 12.9 > 12.6 kills the bearish block; the new bullish block is bar 6
    assert out[7]["ict_ob_bear_count"] == 0 and out[7]["ict_ob_bull_count"] == 1
    assert (out[7]["ict_ob_bull_top"], out[7]["ict_ob_bull_bottom"]) == (11.9, 10.0)


def test_order_block_search_stops_at_the_lookback() -> None:
    rows = [(10.0, 10.5, 9.5, 10.0), (10.0, 12.0, 9.8, 11.5), (11.5, 11.6, 10.5, 11.0),  # swing high 12
            (11.0, 11.2, 10.2, 10.6)]                                                  # the only down candle
    rows += [(10.6 + 0.01 * i, 10.7 + 0.01 * i, 10.55 + 0.01 * i, 10.65 + 0.01 * i) for i in range(6)]
    rows += [(10.7, 12.5, 10.6, 12.4)]  # breaks 12, seven bars after the down candle
    assert run(rows, ICTParams(swing_length=1, ob_lookback=10))[-1]["ict_ob_bull_count"] == 1
    assert run(rows, ICTParams(swing_length=1, ob_lookback=5))[-1]["ict_ob_bull_count"] == 0


EQUAL_HIGHS = [
    (10.0, 10.5, 9.5, 10.0),
    (10.0, 12.0, 9.8, 11.5),     # swing high 12.000
    (11.5, 11.6, 10.5, 11.0),
    (11.0, 11.3, 10.2, 10.8),
    (10.8, 11.995, 10.6, 11.8),  # swing high 11.995: within 0.1 % of 12 -> pool at 12 (confirmed bar 5)
    (11.8, 11.9, 11.0, 11.2),
]


def test_equal_highs_pool_and_its_sweep() -> None:
    out = run(EQUAL_HIGHS + [(11.2, 12.1, 11.1, 11.9)])  # wick above 12, close back below: a sweep
    assert [r["ict_eqh_count"] for r in out] == [0, 0, 0, 0, 0, 1, 0]
    assert out[5]["ict_eqh_level"] == 12.0
    assert [r["ict_eqh_swept"] for r in out] == [0, 0, 0, 0, 0, 0, 1]
    assert math.isnan(out[6]["ict_eqh_level"])
    assert out[6]["ict_bos"] == 0  # the close stayed below the active swing high (11.995)


def test_equal_highs_broken_by_a_close_above_is_not_a_sweep() -> None:
    out = run(EQUAL_HIGHS + [(11.2, 12.3, 11.1, 12.2)])
    assert out[-1]["ict_eqh_swept"] == 0 and out[-1]["ict_eqh_count"] == 0
    assert out[-1]["ict_bos"] == 1


def test_equal_lows_pool_and_its_sweep() -> None:
    mirrored = [(20.0 - o, 20.0 - l, 20.0 - h, 20.0 - c) for o, h, l, c in EQUAL_HIGHS]
    out = run(mirrored + [(8.8, 8.9, 7.9, 8.1)])
    assert out[5]["ict_eql_count"] == 1 and out[5]["ict_eql_level"] == 8.0
    assert out[-1]["ict_eql_swept"] == 1 and out[-1]["ict_eql_count"] == 0


def test_highs_outside_the_tolerance_are_not_equal() -> None:
    rows = list(EQUAL_HIGHS)
    rows[4] = (10.8, 11.9, 10.6, 11.8)  # 0.83 % below 12
    rows[5] = (11.8, 11.85, 11.0, 11.2)
    assert run(rows)[-1]["ict_eqh_count"] == 0


def test_zone_lists_are_bounded() -> None:
    """A staircase with a bullish gap on every step keeps only max_zones gaps."""
    rows = [(10.0 + 2 * i, 11.0 + 2 * i, 10.0 + 2 * i, 10.9 + 2 * i) for i in range(40)]
    out = run(rows)
    assert max(r["ict_fvg_bull_count"] for r in out) == P.max_zones == out[-1]["ict_fvg_bull_count"]


def test_batch_frame_uses_the_same_state_machine() -> None:
    frame = ict_frame(as_ohlcv(bars(STRUCTURE)), P)
    expected = run(STRUCTURE)
    for name in ICT_COLUMNS:
        got = frame[name].cast(float).to_numpy()
        want = np.array([r[name] for r in expected], dtype=float)
        assert ((got == want) | (np.isnan(got) & np.isnan(want))).all(), name
    assert frame["ict_bos"].dtype.is_integer() and frame["ict_fvg_bull_top"].dtype.is_float()


def test_real_data_features_are_plausible() -> None:
    """On real 1h candles every kind of event happens and every live zone respects its invariant."""
    data = klines("BTCUSDT-perp-klines-1h.parquet").tail(5_000)
    f = ict_frame(as_ohlcv(data), ICTParams())
    close = data["close"].to_numpy()
    for name in ("ict_bos", "ict_choch"):
        assert set(f[name].unique().to_list()) == {-1, 0, 1}
    assert f["ict_eqh_swept"].sum() > 0 and f["ict_eql_swept"].sum() > 0
    assert (f["ict_fvg_bull_count"] > 0).any() and (f["ict_ob_bear_count"] > 0).any()
    bottom = f["ict_fvg_bull_bottom"].to_numpy()
    assert (close[~np.isnan(bottom)] > bottom[~np.isnan(bottom)]).all()  # unfilled bullish gaps are below
    level = f["ict_eqh_level"].to_numpy()
    assert (close[~np.isnan(level)] <= level[~np.isnan(level)]).all()  # live equal highs are above
