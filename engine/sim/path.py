"""The deterministic price path inside a candle.

A bar's n + 1 path points run open -> first extreme -> second extreme -> close, with the extremes at
points round(n/3) and round(2n/3) and straight lines between, rounded to the price's decimals and
kept inside [low, high]. Which extreme comes first depends on the candle's shape:
* a rising bar (close > open) dips first: open -> low -> high -> close;
* a falling bar (close < open) rallies first: open -> high -> low -> close;
* a flat bar (close == open) visits the extreme nearer to its open first.
So every path touches the bar's exact high and low and ends on its close."""

from __future__ import annotations

import numpy as np


def extremes_order(o: np.ndarray, h: np.ndarray, l: np.ndarray, c: np.ndarray) -> np.ndarray:
    """True where the low comes before the high."""
    return np.where(c > o, True, np.where(c < o, False, (o - l) <= (h - o)))


def path_points(o: np.ndarray, h: np.ndarray, l: np.ndarray, c: np.ndarray, n: int, decimals: int) -> np.ndarray:
    """(bars, n + 1) prices; column 0 is the open, column n the close."""
    if n < 3:
        raise ValueError(f"a candle path needs at least 3 steps, got {n}")
    low_first = extremes_order(o, h, l, c)
    first = np.where(low_first, l, h)
    second = np.where(low_first, h, l)
    k1, k2 = round(n / 3), round(2 * n / 3)
    steps = np.arange(n + 1, dtype=np.float64)
    anchors_x = np.array([0.0, k1, k2, n])
    anchors_y = np.stack([o, first, second, c], axis=1)          # (bars, 4)
    seg = np.clip(np.searchsorted(anchors_x, steps, side="right") - 1, 0, 2)
    x0, x1 = anchors_x[seg], anchors_x[seg + 1]
    frac = (steps - x0) / (x1 - x0)
    y0 = anchors_y[:, seg]
    y1 = anchors_y[:, seg + 1]
    points = np.round(y0 + (y1 - y0) * frac, decimals)
    points = np.clip(points, l[:, None], h[:, None])
    points[:, 0], points[:, k1], points[:, k2], points[:, n] = o, first, second, c
    return points


def step_offsets(interval_ms: int, n: int) -> np.ndarray:
    """Milliseconds after the bar's open of each path point; the last is the bar's close time."""
    return (np.arange(n + 1, dtype=np.int64) * (interval_ms - 1)) // n
