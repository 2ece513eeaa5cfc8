"""Backtests through the engine's own decision code against the simulator's exchange core, in one
process on exchange time (`slt backtest`). `driver` runs it; `venue`, `tap` and `parts` are the
in-process stand-ins for the exchange's REST API, its streams and the journal."""
