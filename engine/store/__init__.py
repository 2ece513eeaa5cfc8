"""The DuckLake store, its schema migrations, the journal and the trade recorder.

`init_store(settings)` creates the lake if needed and applies migrations (what `slt up` does);
`open_store(settings)` opens an existing one for writing; readers use
`lake.connect(settings, read_only=True)`."""

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
