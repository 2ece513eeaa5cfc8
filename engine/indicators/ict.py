"""ICT (smart-money) features, computed one closed bar at a time and never looking ahead.

One state machine serves both the stream and the batch (the batch feeds it every bar), so the two
agree by construction; a feature at bar t depends only on bars 0..t.

Definitions (k = swing_length, L = ob_lookback, tol = equal_tolerance, N = max_zones):

Swing points. Bar i is a swing high when its high is strictly above the highs of the k bars before
it and at least the highs of the k bars after it; a swing low mirrors this with lows. The swing is
*confirmed* on bar i+k, once those k bars have closed; nothing before bar i+k can see it.
`ict_swing_high` / `ict_swing_low` are the levels of the latest confirmed swings (NaN before one).

Structure. The latest confirmed swing high (low) is "active" until a close goes beyond it. A close
above the active swing high is a bullish break: a change of character (`ict_choch` = +1) when the
trend was bearish, otherwise a break of structure (`ict_bos` = +1); the trend (`ict_trend`) becomes
+1 and that swing is used up. Closes below the active swing low mirror this with -1. Breaks are
checked against the swings confirmed before the current bar (a swing confirmed on bar t cannot be
broken on bar t: its level bounds every bar since). The trend is 0 until the first break.

Order blocks. On a bullish break, the bullish order block is the last down-close candle (close <
open) among the bars after the broken swing high and before the breaking bar, at most L bars back;
its zone is that candle's [low, high]. A bearish break takes the last up-close candle. A bullish
block is invalidated by a later close below its low, a bearish one by a close above its high.
Output: the number of live blocks per side and the zone nearest to the close.

Liquidity. Two confirmed swing highs within tol of each other (|a - b| <= tol * max(a, b)) form an
equal-highs pool at the higher of the two; a later swing high within tol of a pool joins it. Swing
highs and pools are "taken" when a bar's high trades above them and are then forgotten; if that bar
closes back at or below the pool it is a sweep (`ict_eqh_swept` = 1 on that bar). Equal lows mirror
this (`ict_eql_swept`). Output: live pools per side, the nearest pool level, the sweep flags.

Fair value gaps. Three candles a, b, c (c the current bar): bullish when low(c) > high(a), the gap
being [high(a), low(c)]; bearish when high(c) < low(a), the gap being [high(c), low(a)]; the gap must
be at least fvg_min_size * close(c). A bullish gap is filled once a later low trades down to its
bottom, a bearish one once a later high reaches its top; filled gaps are dropped. Output: unfilled
gaps per side and the one nearest to the close.

Nearest zone: the smallest distance from the close to the zone (0 inside it); ties go to the most
recent. Every list (order blocks, gaps, pools, remembered swings) keeps its newest N entries, so
memory and work per bar are bounded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from engine.indicators.params import ICTParams

NAN = float("nan")
INF = float("inf")

ICT_COLUMNS = (
    "ict_trend", "ict_bos", "ict_choch", "ict_swing_high", "ict_swing_low",
    "ict_ob_bull_count", "ict_ob_bull_top", "ict_ob_bull_bottom",
    "ict_ob_bear_count", "ict_ob_bear_top", "ict_ob_bear_bottom",
    "ict_eqh_count", "ict_eqh_level", "ict_eqh_swept",
    "ict_eql_count", "ict_eql_level", "ict_eql_swept",
    "ict_fvg_bull_count", "ict_fvg_bull_top", "ict_fvg_bull_bottom",
    "ict_fvg_bear_count", "ict_fvg_bear_top", "ict_fvg_bear_bottom",
)
ICT_INT_COLUMNS = frozenset(name for name in ICT_COLUMNS
                            if name.endswith(("_count", "_swept")) or name in ("ict_trend", "ict_bos", "ict_choch"))


def _nearest(zones: list[tuple[float, float]], close: float) -> tuple[float, float]:
    """(top, bottom) of the zone closest to `close`, newest first on ties; NaNs when none."""
    best_top = best_bottom = NAN
    best = INF
    for i in range(len(zones) - 1, -1, -1):
        top, bottom = zones[i]
        distance = bottom - close if close < bottom else (close - top if close > top else 0.0)
        if distance < best:
            best, best_top, best_bottom = distance, top, bottom
    return best_top, best_bottom


class ICTState:
    """ICT features of one symbol and interval; `update(open, high, low, close)` once per closed bar
    returns the values of `ICT_COLUMNS` for that bar.

    Each zone list keeps the price at which its first member would die (e.g. the highest bottom of
    the bullish gaps), so a bar that kills nothing costs one comparison per list."""

    __slots__ = ("params", "bars", "_k", "_tol", "_cap", "_highs", "_lows", "_candles", "_trend",
                 "_swing_high", "_swing_low", "_active_high", "_active_low", "_ob_bull", "_ob_bear",
                 "_eq_highs", "_eq_lows", "_pools_high", "_pools_low", "_fvg_bull", "_fvg_bear",
                 "_ob_bull_kill", "_ob_bear_kill", "_fvg_bull_kill", "_fvg_bear_kill", "_high_kill", "_low_kill")

    def __init__(self, params: ICTParams | None = None) -> None:
        self.params = p = params or ICTParams()
        self.bars = 0
        self._k = p.swing_length
        self._tol = p.equal_tolerance
        self._cap = p.max_zones
        self._highs: list[float] = []  # the last 2k+1 highs and lows, oldest first
        self._lows: list[float] = []
        self._candles: deque[tuple[int, float, float, float, float]] = deque(maxlen=max(p.ob_lookback, 3))
        self._trend = 0
        self._swing_high = self._swing_low = NAN
        self._active_high: tuple[float, int] | None = None  # (level, bar index of the swing)
        self._active_low: tuple[float, int] | None = None
        self._ob_bull: list[tuple[float, float]] = []  # (top, bottom), oldest first
        self._ob_bear: list[tuple[float, float]] = []
        self._eq_highs: list[float] = []  # remembered swing levels not yet taken, oldest first
        self._eq_lows: list[float] = []
        self._pools_high: list[float] = []
        self._pools_low: list[float] = []
        self._fvg_bull: list[tuple[float, float]] = []
        self._fvg_bear: list[tuple[float, float]] = []
        self._ob_bull_kill = self._fvg_bull_kill = self._low_kill = -INF  # a close/low below kills
        self._ob_bear_kill = self._fvg_bear_kill = self._high_kill = INF  # a close/high above kills

    def update(self, o: float, h: float, l: float, c: float) -> tuple[float | int, ...]:
        t = self.bars
        eqh_swept = self._take_highs(h, c) if h > self._high_kill else 0
        eql_swept = self._take_lows(l, c) if l < self._low_kill else 0
        if c < self._ob_bull_kill:
            self._ob_bull = [z for z in self._ob_bull if c >= z[1]]
            self._ob_bull_kill = max((z[1] for z in self._ob_bull), default=-INF)
        if c > self._ob_bear_kill:
            self._ob_bear = [z for z in self._ob_bear if c <= z[0]]
            self._ob_bear_kill = min((z[0] for z in self._ob_bear), default=INF)
        if l <= self._fvg_bull_kill:
            self._fvg_bull = [z for z in self._fvg_bull if l > z[1]]
            self._fvg_bull_kill = max((z[1] for z in self._fvg_bull), default=-INF)
        if h >= self._fvg_bear_kill:
            self._fvg_bear = [z for z in self._fvg_bear if h < z[0]]
            self._fvg_bear_kill = min((z[0] for z in self._fvg_bear), default=INF)
        bos = choch = 0
        if self._active_high is not None and c > self._active_high[0]:
            bos, choch = (0, 1) if self._trend == -1 else (1, 0)
            self._trend = 1
            if self._order_block(self._active_high[1], t, bearish_candle=True, into=self._ob_bull):
                self._ob_bull_kill = max(z[1] for z in self._ob_bull)
            self._active_high = None
        if self._active_low is not None and c < self._active_low[0]:
            bos, choch = (0, -1) if self._trend == 1 else (-1, 0)
            self._trend = -1
            if self._order_block(self._active_low[1], t, bearish_candle=False, into=self._ob_bear):
                self._ob_bear_kill = min(z[0] for z in self._ob_bear)
            self._active_low = None
        candles = self._candles
        candles.append((t, o, h, l, c))
        highs, lows = self._highs, self._lows
        highs.append(h)
        lows.append(l)
        if len(highs) > 2 * self._k + 1:
            del highs[0], lows[0]
        if len(highs) == 2 * self._k + 1:
            self._confirm_swings(t - self._k)
        if t >= 2:
            self._find_gap(candles[-3], l, h, c)
        self.bars = t + 1
        pools_high, pools_low = self._pools_high, self._pools_low
        return (self._trend, bos, choch, self._swing_high, self._swing_low,
                len(self._ob_bull), *_nearest(self._ob_bull, c), len(self._ob_bear), *_nearest(self._ob_bear, c),
                len(pools_high), min(pools_high) if pools_high else NAN, eqh_swept,
                len(pools_low), max(pools_low) if pools_low else NAN, eql_swept,
                len(self._fvg_bull), *_nearest(self._fvg_bull, c), len(self._fvg_bear), *_nearest(self._fvg_bear, c))

    def _take_highs(self, h: float, c: float) -> int:
        """Forget the swing highs and pools a high above them took; 1 if a pool was swept."""
        swept = int(any(level < h and c <= level for level in self._pools_high))
        self._pools_high = [level for level in self._pools_high if level >= h]
        self._eq_highs = [level for level in self._eq_highs if level >= h]
        self._high_kill = min(min(self._pools_high, default=INF), min(self._eq_highs, default=INF))
        return swept

    def _take_lows(self, l: float, c: float) -> int:
        swept = int(any(level > l and c >= level for level in self._pools_low))
        self._pools_low = [level for level in self._pools_low if level <= l]
        self._eq_lows = [level for level in self._eq_lows if level <= l]
        self._low_kill = max(max(self._pools_low, default=-INF), max(self._eq_lows, default=-INF))
        return swept

    def _order_block(self, swing_index: int, t: int, *, bearish_candle: bool,
                     into: list[tuple[float, float]]) -> bool:
        for index, o, h, l, c in reversed(self._candles):
            if index <= swing_index or index < t - self.params.ob_lookback:
                return False
            if (c < o) if bearish_candle else (c > o):
                into.append((h, l))
                if len(into) > self._cap:
                    del into[0]
                return True
        return False

    def _confirm_swings(self, i: int) -> None:
        k = self._k
        highs, lows = self._highs, self._lows
        mid = highs[k]
        if max(highs[:k]) < mid and max(highs[k + 1:]) <= mid:
            self._swing_high = mid
            self._active_high = (mid, i)
            self._add_equal(mid, self._eq_highs, self._pools_high, max)
            self._high_kill = min(min(self._pools_high, default=INF), min(self._eq_highs, default=INF))
        mid = lows[k]
        if min(lows[:k]) > mid and min(lows[k + 1:]) >= mid:
            self._swing_low = mid
            self._active_low = (mid, i)
            self._add_equal(mid, self._eq_lows, self._pools_low, min)
            self._low_kill = max(max(self._pools_low, default=-INF), max(self._eq_lows, default=-INF))

    def _add_equal(self, level: float, swings: list[float], pools: list[float],
                   outer: Callable[[float, float], float]) -> None:
        """Join a pool, pair with a remembered swing into a new pool, or be remembered."""
        tol = self._tol
        for i in range(len(pools) - 1, -1, -1):
            if abs(level - pools[i]) <= tol * max(level, pools[i]):
                pools[i] = outer(level, pools[i])
                return
        for i in range(len(swings) - 1, -1, -1):
            if abs(level - swings[i]) <= tol * max(level, swings[i]):
                pools.append(outer(level, swings.pop(i)))
                if len(pools) > self._cap:
                    del pools[0]
                return
        swings.append(level)
        if len(swings) > self._cap:
            del swings[0]

    def _find_gap(self, first: tuple[int, float, float, float, float], low: float, high: float,
                  close: float) -> None:
        """Three-candle gap between `first` (two bars back) and the current bar."""
        min_size = self.params.fvg_min_size * close
        if low > first[2] and low - first[2] >= min_size:
            self._fvg_bull.append((low, first[2]))
            if len(self._fvg_bull) > self._cap:
                del self._fvg_bull[0]
            self._fvg_bull_kill = max(z[1] for z in self._fvg_bull)
        elif high < first[3] and first[3] - high >= min_size:
            self._fvg_bear.append((first[3], high))
            if len(self._fvg_bear) > self._cap:
                del self._fvg_bear[0]
            self._fvg_bear_kill = min(z[0] for z in self._fvg_bear)
