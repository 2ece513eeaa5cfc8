"""Store outage: with the catalog moved away, recording still acknowledges (from the journal); when
it comes back, everything arrives, nothing twice."""

from __future__ import annotations

import time

from engine.config import Settings
from engine.store import connect, reader
from engine.store.lake import parse_catalog
from engine.store.recorder import TradeRecorder
from tests.store.conftest import entry, exit_


def wait_for(condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_recording_survives_a_store_outage(lake_settings: Settings) -> None:
    catalog = parse_catalog(lake_settings.store_catalog).path
    assert catalog is not None
    away = catalog.with_name("catalog-away.sqlite")
    recorder = TradeRecorder(lake_settings, backoff=(0.02, 0.2)).start()
    for i in range(50):
        recorder.record_entry(entry(i))
    recorder.flush().result(20)

    catalog.rename(away)  # the store is gone (a read-only file does not stop root, a move does)
    acked = [recorder.record_entry(entry(i)) for i in range(50, 300)]
    acked += [recorder.record(exit_(i)) for i in range(0, 300, 3)]
    for ack in acked:
        ack.result(5)  # acknowledged from the journal while the store is unreachable
    wait_for(lambda: recorder.stats().flush_failures >= 3)
    stats = recorder.stats()
    assert stats.store_reachable is False and stats.pending == 350
    assert "catalog" in (stats.last_error or "")
    assert not catalog.exists()  # nothing created a new, empty lake in its place

    away.rename(catalog)
    recorder.flush().result(30)
    assert recorder.stats().pending == 0 and recorder.stats().store_reachable is True
    recorder.close()
    with connect(lake_settings, read_only=True) as lake:
        entries = reader.query(lake, "SELECT record_id, count(*) AS n FROM lake.trade_entries GROUP BY record_id")
        exits = reader.query(lake, "SELECT count(*) AS n, count(DISTINCT record_id) AS d FROM lake.trade_exits")
    assert len(entries) == 300 and all(row["n"] == 1 for row in entries)
    assert exits == [{"n": 100, "d": 100}]
