"""The engine's own closed trades in the dataset (pure): what retraining learns from its own trades.

The prediction ledger (store migration 5) gives every signal the engine took with its real outcome
(net PnL over the entry notional, after fees and funding) and the feature row it was scored on (the
signal's stored `features`, JSON). Merged into the dataset built from candles:

- a signal the dataset also found (same symbol and candle): its real outcome replaces the simulated
  label, and the stored features (what the engine saw) replace the batch ones, column by column;
- a signal the dataset did not find (the history does not cover that candle): a row of its own, from
  the stored features (a column the row lacks is NaN);
- each own row weighs `own_weight(n)`: more as they accumulate (1 + n / 100, at most 5), so a
  handful of trades cannot outweigh years of history but hundreds steer the fit.
"""

from __future__ import annotations

import json
import math

import polars as pl

from engine.learning.dataset import Dataset

OWN_COLUMNS = {"symbol": pl.String, "open_time": pl.Int64, "label_end": pl.Int64, "features": pl.String,
               "net_return": pl.Float64}
MAX_WEIGHT = 5.0


def own_weight(n: int) -> float:
    """The weight of each own trade when there are `n` of them."""
    return min(MAX_WEIGHT, 1.0 + n / 100.0)


def _values(text: str | None, names: list[str]) -> list[float]:
    row = json.loads(text) if text else {}
    out = []
    for name in names:
        value = row.get(name)
        out.append(float(value) if isinstance(value, int | float) and math.isfinite(value) else math.nan)
    return out


def merge_own(dataset: Dataset, own: pl.DataFrame) -> Dataset:
    """The dataset with the engine's own resolved trades (`own`: symbol, open_time, label_end,
    features, net_return), weighted; adds the columns `weight` and `own` (0/1)."""
    missing = [c for c in OWN_COLUMNS if c not in own.columns]
    if missing:
        raise ValueError(f"own trades need the columns {', '.join(missing)}")
    names = dataset.features
    frame = dataset.frame.with_columns(pl.lit(1.0).alias("weight"), pl.lit(0, pl.Int8).alias("own"))
    if own.is_empty():
        return Dataset(frame, names, dataset.version)
    own = own.unique(["symbol", "open_time"], keep="last").sort("open_time", "symbol")
    weight = own_weight(own.height)
    stored = pl.DataFrame([_values(t, names) for t in own["features"].to_list()], schema=names, orient="row")
    rows = pl.concat([own.select("symbol", "open_time", "label_end", "net_return"), stored], how="horizontal")
    rows = rows.with_columns((pl.col("net_return") > 0).cast(pl.Int8).alias("label"),
                             pl.lit(weight).alias("weight"), pl.lit(1, pl.Int8).alias("own"))
    # a stored value wins; where the stored row has NaN (not recorded), the batch value stays
    key = ["symbol", "open_time"]
    batch = frame.join(rows.select(key), on=key, how="semi")
    filled = rows.join(batch.select(*key, *(pl.col(n).alias(f"{n}__batch") for n in names)), on=key, how="left")
    filled = filled.with_columns(
        pl.when(pl.col(n).is_nan() & pl.col(f"{n}__batch").is_not_null()).then(pl.col(f"{n}__batch"))
        .otherwise(pl.col(n)).alias(n) for n in names).drop(f"{n}__batch" for n in names)
    kept = frame.join(rows.select(key), on=key, how="anti")
    merged = pl.concat([kept, filled.select(kept.columns).cast(kept.schema)], how="vertical")
    return Dataset(merged.sort("open_time", "symbol"), names, dataset.version)
