"""The DuckLake store, its schema migrations, the journal and the trade recorder.

    init_store(settings)                      # create the lake if needed, apply migrations (`slt up`)
    lake = open_store(settings)               # an existing lake, for writing (writer.write_records)
    lake = connect(settings, read_only=True)  # for reading (reader.trades, reader.candles, ...)
    recorder = TradeRecorder(settings).start()  # engine.store.recorder: journaled, zero-loss writes

Modules: lake (attach), migrations, schema (tables and checks), writer, reader, frames + journal
(the recorder's write-ahead log), ack, flusher, recorder, risk_reads. `slt sql` is engine/cli/sql.py."""

from __future__ import annotations

from engine.config import Settings
from engine.store.lake import Lake, connect
from engine.store.migrations import migrate

__all__ = ["Lake", "connect", "init_store", "open_store"]


def init_store(settings: Settings) -> list[int]:
    """Create the lake if it does not exist and apply pending migrations; the versions applied."""
    with connect(settings, create=True) as lake:
        return migrate(lake)


def open_store(settings: Settings) -> Lake:
    """An existing lake, opened for writing, with its migrations applied."""
    lake = connect(settings)
    try:
        migrate(lake)
    except BaseException:
        lake.close()
        raise
    return lake
