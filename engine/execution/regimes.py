"""Market regimes in the running engine: evaluated on exchange time, recorded, handed to the risk
manager, and taken over by a fresher reading from the store when there is one.

- Start: `seed()` takes the last 25 h of candles per symbol (REST) and evaluates at once.
- Trading: every closed candle goes to the `RegimeTracker`; when a check is due on its grid
  (`RISK_REGIME_CHECK_INTERVAL` seconds of exchange time) the symbol is evaluated at the grid
  time, the reading is recorded (the `regimes` table, with its inputs) and adopted by
  `RiskManager.update_regime`. A change of regime is logged with the old and new regime and the
  inputs. Too little history keeps the regime in force (the default, NORMAL, at first) and says
  why: once at WARNING, then at DEBUG until a reading succeeds.
- Takeover: `adopt()` takes the store's `regime_latest` rows (polled by the engine). A reading at
  most `max_age_ms` old and newer than the one held is adopted; and a symbol whose held reading is
  less than one check interval old when its check falls due is not evaluated by the engine. So a
  scheduled regime flow writing on time does the job and the engine only reads; if the flow stops
  or falls behind, the engine's own checks resume by themselves. Readings stamped after the
  engine's exchange time (another timeline, e.g. an earlier replay) are ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import msgspec

from engine.core.types import Candle
from engine.risk import InsufficientHistory, RegimeReading, RiskManager
from engine.risk.tracker import RegimeTracker

log = logging.getLogger("engine.risk")


class RegimeWatch:
    def __init__(self, tracker: RegimeTracker, risk: RiskManager, record: Callable[[RegimeReading], None], *,
                 wall_ms: Callable[[], int], max_age_ms: int | None = None) -> None:
        self.tracker = tracker
        self.risk = risk
        self.record = record
        self.wall_ms = wall_ms
        self.max_age_ms = max_age_ms if max_age_ms is not None else 2 * tracker.check_ms
        self.evaluated = 0
        self.adopted = 0
        self.insufficient = 0
        self._why_not: dict[str, str] = {}   # symbol -> the last insufficient-history reason logged

    # ---- start ---------------------------------------------------------------------------------
    def seed(self, symbol: str, candles: Iterable[Candle], now_ms: int) -> RegimeReading | None:
        """The last 25 h of closed candles of `symbol`; evaluates at the newest one's close."""
        self.tracker.seed(symbol, (c for c in candles if c.close_time < now_ms))
        end = self.tracker.last_end(symbol)
        reading = self._evaluate(symbol, end, source="start") if end is not None else None
        if end is None:
            self._insufficient(symbol, f"{symbol}: no closed {self.tracker.interval} candles to measure a regime on")
        self.tracker.done(symbol, end if end is not None else now_ms)
        return reading

    # ---- trading -------------------------------------------------------------------------------
    def on_candle(self, candle: Candle) -> RegimeReading | None:
        """A closed candle of a traded symbol; the reading if a check fell due and ran."""
        if not self.tracker.add(candle):
            return None
        return self.check(candle.symbol, candle.open_time + self.tracker.step_ms)

    def check(self, symbol: str, now_ms: int) -> RegimeReading | None:
        """Evaluate `symbol` if its check is due by `now_ms` and nobody evaluated it within the interval."""
        at = self.tracker.due(symbol, now_ms)
        if at is None:
            return None
        self.tracker.done(symbol, at)
        held = self.risk.reading(symbol)
        if held is not None and held.window_end > at - self.tracker.check_ms:
            return None   # a fresher reading (a scheduled flow's) is in force: the engine only reads
        return self._evaluate(symbol, at, source="engine")

    def adopt(self, readings: Iterable[RegimeReading], now_ms: int) -> list[RegimeReading]:
        """Readings from the store that are fresh (not from after `now_ms`) and newer than those held."""
        taken = []
        for reading in readings:
            if reading.symbol not in self.risk.instruments or reading.window_end > now_ms \
                    or now_ms - reading.window_end > self.max_age_ms:
                continue
            if self._adopt(reading, source="store"):
                self.adopted += 1
                taken.append(reading)
        return taken

    # ---- plumbing ------------------------------------------------------------------------------
    def _evaluate(self, symbol: str, at: int, source: str) -> RegimeReading | None:
        try:
            reading = self.tracker.reading(symbol, at)
        except InsufficientHistory as exc:
            self._insufficient(symbol, str(exc))
            return None
        reading = msgspec.structs.replace(reading, received_time=self.wall_ms())
        self.evaluated += 1
        self._why_not.pop(symbol, None)
        self.record(reading)
        self._adopt(reading, source=source)
        return reading

    def _adopt(self, reading: RegimeReading, source: str) -> bool:
        before = self.risk.regime(reading.symbol)
        had = self.risk.reading(reading.symbol)
        if not self.risk.update_regime(reading):
            return False
        if had is None or before != reading.regime:
            log.info("regime %s: %s -> %s (%s; 24 h change %+.2f %%, volatility %.2f %%, closes %s -> %s, "
                     "window ending %d)", reading.symbol, before if had is not None else f"{before} (default)",
                     reading.regime, source, reading.change_pct, reading.volatility_pct, reading.close_start,
                     reading.close_end, reading.window_end)
        return True

    def _insufficient(self, symbol: str, why: str) -> None:
        self.insufficient += 1
        level = logging.DEBUG if self._why_not.get(symbol) else logging.WARNING
        self._why_not[symbol] = why
        log.log(level, "regime %s: keeping %s: %s", symbol, self.risk.regime(symbol), why)
