"""The periodic work as plain functions: what the Prefect flows in flows/ run (through tasks/), and
what tests call directly. Each job is a small pipeline: check its inputs, read, compute (pure),
write once (one store transaction, so a run killed mid-way leaves nothing half-written), summarise.

Modules: freshness (the inputs check every flow does first), regimes (`regime-detection`),
backfill (`candle-backfill`), maintenance (`store-maintenance`). Nothing here imports Prefect."""
