from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest

from engine.config import Settings
from engine.core.errors import ConfigError, StoreUnavailable
from engine.store import connect, init_store
from engine.store.lake import attach_sql, extension_path, parse_catalog


def test_catalog_forms() -> None:
    assert parse_catalog("sqlite:/x/c.sqlite").path is not None
    assert parse_catalog("/x/c.sqlite").target == "/x/c.sqlite"
    pg = parse_catalog("postgres:dbname=lake host=db")
    assert (pg.kind, pg.path, pg.lock_path) == ("postgres", None, None)
    # Only the string is built for Postgres: the postgres extension is not packaged on PyPI here.
    assert attach_sql(pg, "s3://bucket/lake/", read_only=False) == \
        "ATTACH 'ducklake:postgres:dbname=lake host=db' AS lake (DATA_PATH 's3://bucket/lake/')"
    assert attach_sql(parse_catalog("/it's/c.sqlite"), None, read_only=True) == \
        "ATTACH 'ducklake:sqlite:/it''s/c.sqlite' AS lake (READ_ONLY)"
    with pytest.raises(ConfigError, match="SLT_STORE_CATALOG"):
        parse_catalog("sqlite:")


def test_extensions_come_from_their_python_packages() -> None:
    path = extension_path("duckdb_extension_ducklake", "ducklake")
    assert path.is_file() and "site-packages" in str(path)


def test_catalog_is_created_only_on_request_and_in_wal_mode(settings: Settings) -> None:
    with pytest.raises(StoreUnavailable, match="slt up"):
        connect(settings)
    with pytest.raises(StoreUnavailable, match="no DuckLake catalog"):
        connect(settings, read_only=True)
    init_store(settings)
    path = parse_catalog(settings.store_catalog).path
    assert path is not None
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with connect(settings, read_only=True) as reader:
        assert reader.con.execute("SELECT count(*) FROM trades").fetchone() == (0,)
        with pytest.raises(StoreUnavailable, match="read-only"):
            with reader.write_transaction():
                pass


def test_a_moved_catalog_is_noticed(settings: Settings) -> None:
    init_store(settings)
    path = parse_catalog(settings.store_catalog).path
    assert path is not None
    with connect(settings) as lake:
        lake.check()
        path.rename(path.with_suffix(".away"))
        with pytest.raises(StoreUnavailable, match="moved"):
            lake.check()


def test_a_different_data_path_is_refused(settings: Settings) -> None:
    init_store(settings)
    other = replace(settings, store_data_path=str(settings.data_dir / "elsewhere") + "/")
    with pytest.raises(StoreUnavailable, match="DATA_PATH"):
        connect(other)


def test_a_reader_never_queries_while_a_writer_is_inside_its_transaction(settings: Settings) -> None:
    """Readers hold the shared catalog lock per query, writers the exclusive one per transaction:
    SQLite never sees both at once (a reader meeting a writer mid-commit slept a whole second)."""
    import threading

    init_store(settings)
    answered = threading.Event()
    counts: list[int] = []

    def read() -> None:
        with connect(settings, read_only=True) as reader_lake, reader_lake.reading() as cur:
            counts.append(cur.execute("SELECT count(*) FROM lake.candles").fetchone()[0])
        answered.set()

    with connect(settings) as writer_lake:
        with writer_lake.write_transaction() as con:
            thread = threading.Thread(target=read)
            thread.start()
            con.execute("INSERT INTO candles SELECT * FROM candles LIMIT 0")
            assert not answered.wait(0.5), "a reader ran while the writer held its transaction"
        assert answered.wait(60)
        thread.join()
    assert counts == [0]
