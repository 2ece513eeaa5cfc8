"""The standard set in NumPy and Polars: TA-Lib's definitions, without TA-Lib.

Same seeds, lookbacks and special cases as TA-Lib 0.8 (unstable period 0, default compatibility):

- EMA(p): first value at bar p-1 is the SMA of bars 0..p-1; then ema += (x - ema) * k, k = 2/(p+1).
- MACD(f, s, g): TA-Lib's quirk: the fast EMA is seeded at bar s-1 (the slow EMA's first bar) with
  the SMA of bars s-f..s-1, not at bar f-1; the signal EMA is seeded with the SMA of the first g
  MACD values; all three outputs start at bar s-1+g-1.
- RSI(p): Wilder averages of gains and losses seeded with their plain means over bars 1..p;
  rsi = 100 * gain / (gain + loss), 0 when both are 0.
- ATR(p): true range max(high, prev close) - min(low, prev close) from bar 1, seeded with the mean
  of bars 1..p, then Wilder smoothing.
- ADX(p): +DM/-DM/TR summed over bars 1..p-1, then Wilder-smoothed from bar p; DX = 100 |DI+ - DI-| /
  (DI+ + DI-), skipped on a bar whose smoothed TR is 0 or whose DI sum is within 1e-14 of 0;
  the first ADX (bar 2p-1) is the mean DX of bars p..2p-1, then Wilder smoothing of the DX.
- Bollinger(p, k): middle = SMA(p), bands = middle +/- k * population standard deviation.

Every recursive average runs in Polars' `ewm_mean(adjust=False)` (mean += (x - mean) * f with
f = a / ((1 - a) + a)); the pure-Python stream repeats that arithmetic operation for operation, so
batch and stream agree to the last bit, and both agree with TA-Lib to about 1e-13 relative.
Two averages TA-Lib keeps separately are derived instead when the periods coincide (the default):
MACD's fast EMA is ema_fast plus (its seed - ema_fast) * (1 - k)^(t - seed bar), and ADX's smoothed
true range is atr plus a fading offset likewise; same linear filter, same input, so mathematically
identical, and two fewer passes.
The standard deviation uses prefix sums of deviations from an anchor price that is reset every
`BB_EPOCH` bars: as accurate as a two-pass formula (more than TA-Lib's), still O(1) per bar.
"""

from __future__ import annotations

import math
from concurrent.futures import Executor

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from engine.indicators.candles import Ohlcv
from engine.indicators.params import IndicatorParams

BB_EPOCH = 128  # bars between re-anchoring the Bollinger sums
DI_SUM_EPSILON = 1e-14  # TA-Lib's TA_IS_ZERO band, applied to DI+ + DI-
FADE_FLOOR = 2.0 ** -1000  # a fading offset below this is 0 (far below any price's last bit)
NAN = float("nan")


def ewm_factor(alpha: float) -> float:
    """The per-step factor of Polars' ewm_mean (the stream uses the very same number)."""
    return alpha / ((1.0 - alpha) + alpha)


def seq_sum(values: np.ndarray) -> float:
    """Left-to-right sum, like TA-Lib's seeding loops (np.sum would sum pairwise)."""
    total = 0.0
    for x in values.tolist():
        total += x
    return total


def decay(count: int, ratio: float) -> np.ndarray:
    """The fading factor 1, r, r*r, ... (repeated multiplication, as the stream does bar by bar),
    ending with the first term below FADE_FLOOR, which is set to 0: the fade is over from there.
    (Repeated multiplication alone never reaches 0: tiny subnormals round back to themselves.)"""
    length = min(count, int(1000.0 / -math.log2(ratio)) + 2) if 0.0 < ratio < 1.0 else count
    steps = np.full(length, ratio)
    steps[:1] = 1.0
    fade = np.multiply.accumulate(steps)
    over = np.flatnonzero(fade < FADE_FLOOR)
    if over.size:
        fade = fade[:over[0] + 1]
        fade[-1] = 0.0
    return fade


def _seeded(expr: pl.Expr, seed_index: int, seed: float, alpha: float) -> pl.Expr:
    """Exponential average of expr[seed_index+1:] starting from `seed` at `seed_index`; the bars
    before hold the seed too (the average of a constant is that constant) and are masked later."""
    return (pl.repeat(seed, seed_index + 1, dtype=pl.Float64).append(expr.slice(seed_index + 1))
            .ewm_mean(alpha=alpha, adjust=False))


def _masked(expr: pl.Expr, first: int) -> pl.Expr:
    return pl.repeat(NAN, first, dtype=pl.Float64).append(expr.slice(first))


def wilder_inputs(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> dict[str, np.ndarray]:
    """Per-bar inputs of the Wilder averages: gain, loss, true range (max(high, prev close) -
    min(low, prev close), the same number as TA-Lib's three-way max), +DM and -DM. Bar 0 has no
    previous bar; its values are never used."""
    prev = np.empty_like(close)
    prev[0] = close[0]
    prev[1:] = close[:-1]
    diff = close - prev
    gain = np.maximum(diff, 0.0)
    loss = gain - diff
    true_range = np.maximum(high, prev)
    true_range -= np.minimum(low, prev, out=prev)
    up = np.empty_like(high)
    down = np.empty_like(low)
    up[0] = down[0] = 0.0
    np.subtract(high[1:], high[:-1], out=up[1:])
    np.subtract(low[:-1], low[1:], out=down[1:])
    up_wins = up > down
    plus = np.maximum(up, 0.0)
    plus *= up_wins  # where(up > down and up > 0, up, 0) without np.where's branchy loop
    np.less(up, down, out=up_wins)
    minus = np.maximum(down, 0.0, out=down)
    minus *= up_wins
    return {"gain": gain, "loss": loss, "tr": true_range, "plus": plus, "minus": minus}


def standard_numpy(bars: Ohlcv, p: IndicatorParams, executor: Executor | None = None) -> pl.DataFrame:
    """Every standard column for every bar (NaN during warm-up), as a Polars frame. With an
    executor, the Bollinger bands run on it while this thread does the rest."""
    close = bars.close
    bands_job = executor.submit(bollinger, close, p.bb_period, p.bb_std) if executor is not None else None
    inputs = wilder_inputs(bars.high, bars.low, close)
    rp, ap, dp = p.rsi_period, p.atr_period, p.adx_period
    c = pl.col("close")

    def ema(period: int, seed_index: int, seed_from: int) -> pl.Expr:
        return _seeded(c, seed_index, seq_sum(close[seed_from:seed_index + 1]) / period, 2.0 / (period + 1))

    def wilder(name: str, seed_index: int, count: int, period: int) -> pl.Expr:
        return _seeded(pl.col(name), seed_index, seq_sum(inputs[name][1:count + 1]) / period, 1.0 / period)

    share_fast = p.macd_fast == p.ema_fast  # then MACD's fast EMA = ema_fast + a decaying offset
    share_tr = p.adx_period == p.atr_period  # then ADX's smoothed TR = atr + a decaying offset
    exprs = {
        "ema_fast": ema(p.ema_fast, p.ema_fast - 1, 0),
        "ema_slow": ema(p.ema_slow, p.ema_slow - 1, 0),
        "gain": wilder("gain", rp, rp, rp),
        "loss": wilder("loss", rp, rp, rp),
        "atr": wilder("tr", ap, ap, ap),
        "plus": wilder("plus", dp - 1, dp - 1, dp),
        "minus": wilder("minus", dp - 1, dp - 1, dp),
    }
    if not share_fast:
        exprs["macd_fast"] = ema(p.macd_fast, p.macd_slow - 1, p.macd_slow - p.macd_fast)
    if p.macd_slow != p.ema_slow:
        exprs["macd_slow"] = ema(p.macd_slow, p.macd_slow - 1, 0)
    if not share_tr:
        exprs["tr"] = wilder("tr", dp - 1, dp - 1, dp)
    stage1 = pl.DataFrame({"close": close, **inputs}).select(**exprs)
    n = close.shape[0]
    slow = stage1.get_column("macd_slow" if "macd_slow" in exprs else "ema_slow").to_numpy()
    start = p.macd_slow - 1
    if share_fast:
        # TA-Lib seeds MACD's fast EMA at the slow EMA's first bar; from there on it differs from
        # ema_fast by (seed - ema_fast) * (1 - k)^(t - start), exactly (both are the same linear filter).
        fast = stage1.get_column("ema_fast").to_numpy()
        offset = seq_sum(close[p.macd_slow - p.macd_fast:start + 1]) / p.macd_fast - float(fast[start])
        fading = decay(n - start, 1.0 - ewm_factor(2.0 / (p.macd_fast + 1)))
        macd = fast - slow
        stop = start + fading.shape[0]
        macd[start:stop] = (fast[start:stop] + offset * fading) - slow[start:stop]
    else:
        macd = stage1.get_column("macd_fast").to_numpy() - slow
    if share_tr:
        atr = stage1.get_column("atr").to_numpy()
        seed = seq_sum(inputs["tr"][1:dp]) / dp
        first = seed + (float(inputs["tr"][dp]) - seed) * ewm_factor(1.0 / dp)
        fading = decay(n - dp, 1.0 - ewm_factor(1.0 / dp))
        smoothed_tr = atr.copy()
        smoothed_tr[dp:dp + fading.shape[0]] = atr[dp:dp + fading.shape[0]] + (first - float(atr[dp])) * fading
        stage1 = stage1.with_columns(tr=pl.Series(smoothed_tr))
    stage1 = stage1.with_columns(macd=pl.Series(macd))
    gain, total = pl.col("gain"), pl.col("gain") + pl.col("loss")
    di_plus = (pl.col("plus") / pl.col("tr")) * 100.0
    di_minus = (pl.col("minus") / pl.col("tr")) * 100.0
    di_sum = di_plus + di_minus
    derived = {
        # no DX on a bar whose smoothed TR is 0 or whose DI sum is within TA-Lib's epsilon of 0
        "dx": pl.when((pl.col("tr") > 0.0) & (di_sum.abs() >= DI_SUM_EPSILON))
        .then(((di_plus - di_minus).abs() / di_sum) * 100.0),
        "rsi": pl.when(total > 0.0).then((gain / total) * 100.0).otherwise(0.0),  # flat: TA-Lib says 0
    }
    first_signal = p.macd_slow - 1 + p.macd_signal - 1
    first_adx = 2 * dp - 1
    head = stage1.head(max(first_signal, first_adx) + 1).select(macd=pl.col("macd"), dx=derived["dx"])
    signal_seed = seq_sum(head["macd"].to_numpy()[p.macd_slow - 1:first_signal + 1]) / p.macd_signal
    adx_seed = seq_sum(head["dx"].fill_null(0.0).to_numpy()[dp:first_adx + 1]) / dp
    stage2 = stage1.with_columns(**derived).with_columns(
        signal=_seeded(pl.col("macd"), first_signal, signal_seed, 2.0 / (p.macd_signal + 1)),
        # bars without a DX are skipped: the average carries over them, as in TA-Lib
        adx=pl.repeat(adx_seed, first_adx + 1, dtype=pl.Float64).append(pl.col("dx").slice(first_adx + 1))
        .ewm_mean(alpha=1.0 / dp, adjust=False, ignore_nulls=True).forward_fill())
    out = stage2.select(
        ema_fast=_masked(pl.col("ema_fast"), p.ema_fast - 1),
        ema_slow=_masked(pl.col("ema_slow"), p.ema_slow - 1),
        rsi=_masked(pl.col("rsi"), rp),
        macd=_masked(pl.col("macd"), first_signal),
        macd_signal=_masked(pl.col("signal"), first_signal),
        macd_hist=_masked(pl.col("macd") - pl.col("signal"), first_signal),
        adx=_masked(pl.col("adx"), first_adx),
        atr=_masked(pl.col("atr"), ap),
    )
    bands = bands_job.result() if bands_job is not None else bollinger(close, p.bb_period, p.bb_std)
    return out.with_columns(pl.Series(name, values) for name, values in bands.items()).select(STANDARD_ORDER)


STANDARD_ORDER = ("ema_fast", "ema_slow", "rsi", "macd", "macd_signal", "macd_hist",
                  "bb_upper", "bb_middle", "bb_lower", "bb_width", "adx", "atr")


def bollinger(close: np.ndarray, period: int, nbdev: float) -> dict[str, np.ndarray]:
    """Bands from anchored prefix sums. Output bars are cut into epochs of BB_EPOCH; in each, the
    anchor K is the close at the epoch's first output bar, C is the running sum of (x - K) from the
    first bar of that bar's window, and a window's sum is the difference of two C values (the same
    for (x - K)^2). Then mean = K + S1/p and var = S2/p - (S1/p)^2."""
    n = close.shape[0]
    m = n - period + 1
    epochs = -(-m // BB_EPOCH)
    span = period + BB_EPOCH - 1
    padded = np.empty((epochs - 1) * BB_EPOCH + span)
    padded[:n] = close
    padded[n:] = close[-1]
    anchor = close[period - 1::BB_EPOCH][:epochs, None]
    dev = sliding_window_view(padded, span)[::BB_EPOCH] - anchor
    prefix = np.empty((epochs, span + 1))
    prefix[:, 0] = 0.0
    np.cumsum(dev, axis=1, out=prefix[:, 1:])
    mean_dev = np.subtract(prefix[:, period:], prefix[:, :BB_EPOCH])  # S1 ...
    mean_dev /= period  # ... / p
    np.multiply(dev, dev, out=dev)
    np.cumsum(dev, axis=1, out=prefix[:, 1:])
    var = np.subtract(prefix[:, period:], prefix[:, :BB_EPOCH])  # S2 ...
    var /= period  # ... / p
    var -= np.multiply(mean_dev, mean_dev, out=dev[:, :BB_EPOCH])
    np.maximum(var, 0.0, out=var)
    np.sqrt(var, out=var)
    var *= nbdev  # now the band half-width
    mean_dev += anchor  # now the middle band (anchor + S1/p)
    middle = np.empty(n)
    upper = np.empty(n)
    lower = np.empty(n)
    for band in (middle, upper, lower):
        band[:period - 1] = NAN
    mid, half = mean_dev.reshape(-1)[:m], var.reshape(-1)[:m]
    middle[period - 1:] = mid
    np.add(mid, half, out=upper[period - 1:])
    np.subtract(mid, half, out=lower[period - 1:])
    width = np.subtract(upper, lower)
    width /= middle
    return {"bb_upper": upper, "bb_middle": middle, "bb_lower": lower, "bb_width": width}
