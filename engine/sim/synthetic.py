"""Seeded synthetic candles with labelled market regimes, for tests that need known answers.

Labels are `engine.risk.regime.Regime`s and follow its rules, evaluated on the last 24 hourly bars:
24 h price change < -15 % -> CRASH; > +10 % -> RALLY; otherwise volatility = stdev(hourly log
returns) x sqrt(24) x 100: > 5 -> HIGH_VOLATILITY, < 1 -> LOW_VOLATILITY, else NORMAL.

Every segment of at least 24 hours satisfies its label at its end with a wide margin whichever way the
window is counted (23 or 24 returns, sample or population stdev): the hourly log returns are built in
24-hour blocks aligned to the segment's end, each block shifted and scaled to an exact drift and
stdev (volatility regimes: net change 0 and volatility 0.5 / 2.5 / 8.0; crash -25 %, rally +18 %).
Bars finer than an hour are a seeded Brownian bridge between the hourly closes, so the hourly
closes (what the rules read) are exact at any interval."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.core.intervals import INTERVAL_MS
from engine.risk.regime import Regime
from engine.sim.tape import Bars, Tape, aggregate, build_history

VOLATILITY = {Regime.NORMAL: 2.5, Regime.HIGH_VOLATILITY: 8.0, Regime.LOW_VOLATILITY: 0.5}
CHANGE = {Regime.CRASH: -0.25, Regime.RALLY: 0.18}
TREND_NOISE = 1.5          # volatility of the noise around a crash/rally's drift (same units)
VOLUME_SCALE = {Regime.NORMAL: 1.0, Regime.LOW_VOLATILITY: 0.4, Regime.HIGH_VOLATILITY: 2.5,
                Regime.CRASH: 4.0, Regime.RALLY: 2.0}
HOUR = INTERVAL_MS["1h"]


@dataclass(frozen=True)
class Segment:
    regime: Regime
    hours: int


@dataclass(frozen=True)
class SyntheticSeries:
    bars: Bars                     # at the requested interval
    labels: np.ndarray             # regime of the segment each bar belongs to
    hourly_close: np.ndarray       # close of every hour (what the regime rules read)
    hourly_labels: np.ndarray
    segment_ends: tuple[int, ...]  # open time of each segment's last hourly bar


def parse_segments(text: str) -> list[Segment]:
    """'normal:48,crash:24' -> segments (regime names case-insensitive, HIGH/LOW short forms ok)."""
    aliases = {"HIGH": Regime.HIGH_VOLATILITY, "LOW": Regime.LOW_VOLATILITY}
    segments = []
    for part in text.split(","):
        name, _, hours = part.strip().partition(":")
        key = name.strip().upper()
        try:
            regime = aliases.get(key) or Regime(key)
            count = int(hours)
        except ValueError:
            raise ValueError(f"bad regime segment {part!r}: expected NAME:HOURS with NAME one of "
                             f"{', '.join(r.value.lower() for r in Regime)}") from None
        if count < 1:
            raise ValueError(f"bad regime segment {part!r}: hours must be >= 1")
        segments.append(Segment(regime, count))
    return segments


def _block(rng: np.random.Generator, size: int, drift_total: float, volatility: float) -> np.ndarray:
    """`size` hourly log returns summing to `drift_total` with stdev exactly volatility/sqrt(24)/100."""
    r = rng.standard_normal(size)
    if size > 1:
        r = (r - r.mean()) / r.std(ddof=1)
    else:
        r = np.zeros(1)
    return r * (volatility / math.sqrt(24) / 100) + drift_total / size


def _segment_returns(rng: np.random.Generator, seg: Segment) -> np.ndarray:
    blocks = []
    remaining = seg.hours
    while remaining > 0:
        size = min(24, remaining)
        if seg.regime in CHANGE:
            blocks.append(_block(rng, size, math.log1p(CHANGE[seg.regime]) * size / 24, TREND_NOISE))
        else:
            blocks.append(_block(rng, size, 0.0, VOLATILITY[seg.regime]))
        remaining -= size
    return np.concatenate(blocks[::-1])     # the full blocks end the segment


def generate(segments: list[Segment], *, seed: int, start_ms: int, interval: str = "1h",
             start_price: float = 30000.0, decimals: int = 1, base_volume: float = 100.0) -> SyntheticSeries:
    if not segments:
        raise ValueError("at least one regime segment is needed")
    if start_ms % HOUR:
        raise ValueError("synthetic series start on the hour")
    rng = np.random.default_rng(seed)
    returns = np.concatenate([_segment_returns(rng, s) for s in segments])
    labels = np.concatenate([np.full(s.hours, s.regime.value, dtype=object) for s in segments])
    closes = np.round(start_price * np.exp(np.cumsum(returns)), decimals)
    opens = np.r_[start_price, closes[:-1]]
    hours = len(closes)
    times = start_ms + np.arange(hours, dtype=np.int64) * HOUR
    scale = np.array([VOLUME_SCALE[Regime(v)] for v in labels])
    volume = np.round(base_volume * scale * rng.lognormal(0.0, 0.3, hours), 3)
    ends = tuple(int(times[i]) for i in np.cumsum([s.hours for s in segments]) - 1)

    size = INTERVAL_MS[interval]
    if size >= HOUR:
        wick = np.abs(rng.standard_normal((2, hours))) * np.abs(returns) * 0.5
        high = np.round(np.maximum(opens, closes) * (1 + wick[0]), decimals)
        low = np.round(np.minimum(opens, closes) * (1 - wick[1]), decimals)
        hourly = Bars("1h", times, opens, high, low, closes, volume)
        bars = aggregate(hourly, interval)
        bar_labels = labels[(np.asarray(bars.open_time) - start_ms) // HOUR + size // HOUR - 1]
    else:
        bars = _bridge(rng, times, opens, closes, volume, returns, interval, decimals)
        bar_labels = np.repeat(labels, HOUR // size)
    return SyntheticSeries(bars, bar_labels, closes, labels, ends)


def _bridge(rng: np.random.Generator, times: np.ndarray, opens: np.ndarray, closes: np.ndarray,
            volume: np.ndarray, returns: np.ndarray, interval: str, decimals: int) -> Bars:
    """Sub-hour bars: a Brownian bridge from each hour's open to its close."""
    m = HOUR // INTERVAL_MS[interval]
    hours = len(times)
    sigma = np.maximum(np.abs(returns), 1e-4)[:, None] / math.sqrt(m)
    walk = np.cumsum(rng.standard_normal((hours, m)) * sigma, axis=1)
    bridge = walk - np.arange(1, m + 1)[None, :] / m * walk[:, -1:]
    log_path = np.log(opens)[:, None] + np.arange(1, m + 1)[None, :] / m * (np.log(closes) - np.log(opens))[:, None]
    sub_close = np.round(np.exp(log_path + bridge), decimals)
    sub_close[:, -1] = closes
    sub_open = np.concatenate([opens[:, None], sub_close[:, :-1]], axis=1)
    wick = np.abs(rng.standard_normal((2, hours, m))) * sigma * 0.3
    high = np.round(np.maximum(sub_open, sub_close) * (1 + wick[0]), decimals)
    low = np.round(np.minimum(sub_open, sub_close) * (1 - wick[1]), decimals)
    share = np.round(volume / m, 3)
    vol = np.repeat(share[:, None], m, axis=1)
    sub_times = times[:, None] + np.arange(m, dtype=np.int64)[None, :] * INTERVAL_MS[interval]
    return Bars(interval, sub_times.ravel(), sub_open.ravel(), high.ravel(), low.ravel(), sub_close.ravel(), vol.ravel())


def synthetic_tape(symbol: str, series: SyntheticSeries, funding_rate: float = 0.0001) -> Tape:
    """A tape from a synthetic series; funding every 8 h at a constant rate, mark = last price."""
    bars = series.bars
    first = int(bars.open_time[0])
    last = int(bars.open_time[-1]) + bars.interval_ms
    eight = INTERVAL_MS["8h"]
    funding = np.arange((first // eight + 1) * eight, last + 1, eight, dtype=np.int64)
    return Tape(symbol, bars, build_history(bars, {}), None, funding, np.full(len(funding), funding_rate))
