"""The store as a source of training data (the I/O edge beside `sources.py`): its candles extend the
bundled history, and the engine's own closed trades, with the features they were scored on, come
from the prediction ledger (`engine.learning.own` merges them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from engine.config import Settings
from engine.core.errors import DataError, StoreUnavailable
from engine.learning.dataset import MarketData
from engine.learning.sources import _EMPTY_FUNDING, _EMPTY_MARK, bundled
from engine.store import connect, reader

BARS = ("open_time", "open", "high", "low", "close", "volume")
OWN_SCHEMA = {"symbol": pl.String, "open_time": pl.Int64, "label_end": pl.Int64, "features": pl.String,
              "net_return": pl.Float64, "policy": pl.String, "model_version": pl.String}
OWN_TRADES_SQL = """
SELECT l.symbol, l.candle_open_time AS open_time, l.resolved_time AS label_end, s.features,
       l.outcome_net_return AS net_return, l.policy, l.model_version
FROM lake.prediction_ledger l JOIN lake.signals s ON s.signal_id = l.signal_id
WHERE l.source = 'trade' AND l.resolved AND l.interval = ? AND l.outcome_net_return IS NOT NULL
ORDER BY l.candle_open_time, l.symbol
"""


def extend(data: MarketData, candles: pl.DataFrame) -> MarketData:
    """The bundled candles plus the store's where the bundled file has none (same open_time: the
    file's bar is kept)."""
    if candles.is_empty():
        return data
    extra = candles.select(pl.col(c).cast(pl.Int64 if c == "open_time" else pl.Float64) for c in BARS)
    ours = data.candles.select(pl.col(c).cast(pl.Int64 if c == "open_time" else pl.Float64) for c in BARS)
    merged = pl.concat([ours, extra.join(ours.select("open_time"), on="open_time", how="anti")]).sort("open_time")
    return MarketData(data.symbol, data.interval, merged, data.mark, data.funding)


@dataclass(frozen=True)
class Sources:
    history: list[MarketData]
    own: pl.DataFrame          # symbol, open_time, label_end, features, net_return, policy, model_version
    store_candles: int         # bars the store added
    note: str                  # one line saying what was read

    @property
    def own_trades(self) -> int:
        return self.own.height


def training_sources(settings: Settings, symbols: tuple[str, ...], interval: str,
                     market_dir: Path | None = None) -> Sources:
    """The bundled history of `symbols` (where a file exists) extended by the store's candles, and
    the engine's own resolved trades on `interval`. Without a store: the bundled history alone."""
    market = market_dir or settings.market_data_dir or settings.data_dir / "market"
    try:
        lake = connect(settings, read_only=True)
    except StoreUnavailable as exc:
        history = [bundled(market, s, interval) for s in symbols]
        return Sources(history, pl.DataFrame(schema=OWN_SCHEMA), 0, f"no store ({exc}); bundled history only")
    with lake:
        history, added = [], 0
        for symbol in symbols:
            stored = pl.from_arrow(reader.candles_table(lake, symbol, interval))
            assert isinstance(stored, pl.DataFrame)
            try:
                base = bundled(market, symbol, interval)
            except DataError:
                if stored.is_empty():
                    raise
                base = MarketData(symbol, interval, stored.select(BARS).head(0), _EMPTY_MARK, _EMPTY_FUNDING)
            data = extend(base, stored)
            added += data.candles.height - base.candles.height
            history.append(data)
        own = pl.DataFrame(reader.query(lake, OWN_TRADES_SQL, [interval]) or None, schema=OWN_SCHEMA)
    return Sources(history, own, added, f"store: {added} candles beyond the bundled history, {own.height} own "
                                        f"closed trades on {interval}")
