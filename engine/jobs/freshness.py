"""The check every flow runs first: the store answers and its inputs are recent enough.

A failure is `StaleInputs`, one sentence naming the table, how stale it is and what to do, which
the flow turns into its failed state's message (no traceback)."""

from __future__ import annotations

from engine.config import Settings
from engine.core.errors import SltError, StoreUnavailable
from engine.store import reader
from engine.store.lake import ALIAS, Lake, connect


class StaleInputs(SltError):
    """The store is unreachable or a table a flow reads holds nothing recent enough."""


def open_reader(settings: Settings) -> Lake:
    """A read-only lake, or `StaleInputs` saying why not and what to do."""
    try:
        return connect(settings, read_only=True)
    except StoreUnavailable as exc:
        raise StaleInputs(f"the store is unreachable: {exc}") from None


def _age_text(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def newest_candles(lake: Lake, interval: str, symbols: tuple[str, ...]) -> dict[str, int]:
    """Per symbol, when its newest `interval` candle was recorded (received_time, ms wall clock)."""
    marks = ", ".join("?" for _ in symbols)
    rows = reader.query(lake, f"SELECT symbol, max(received_time) AS t FROM {ALIAS}.candles "
                              f"WHERE interval = ? AND symbol IN ({marks}) GROUP BY symbol", [interval, *symbols])
    return {r["symbol"]: int(r["t"]) for r in rows}


def check_candles(recorded: dict[str, int], symbols: tuple[str, ...], interval: str, now_ms: int,
                  max_age_s: float) -> None:
    """Raise `StaleInputs` unless every symbol has an `interval` candle recorded within `max_age_s`."""
    missing = [s for s in symbols if s not in recorded]
    if missing:
        raise StaleInputs(f"table candles has no {interval} candles for {', '.join(missing)}: start the engine "
                          "(slt up) or run the candle-backfill flow (slt flows run candle-backfill)")
    stale = {s: (now_ms - t) / 1000 for s, t in recorded.items() if s in symbols and now_ms - t > max_age_s * 1000}
    if stale:
        worst = max(stale, key=lambda s: stale[s])
        raise StaleInputs(f"table candles is stale: the newest {interval} candle of {worst} was recorded "
                          f"{_age_text(stale[worst])} ago (allowed {_age_text(max_age_s)}; stale: "
                          f"{', '.join(sorted(stale))}): start the engine (slt up) or run the candle-backfill "
                          "flow (slt flows run candle-backfill)")
