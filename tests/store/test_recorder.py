from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

import msgspec
import pytest

from engine.config import Settings
from engine.core.errors import DataError, StoreUnavailable
from engine.core.types import TradeEntry, TradeExit
from engine.store import Lake, connect, reader
from engine.store.recorder import TradeRecorder, TransactionAborted
from tests.store.conftest import entry, exit_, one_of_each


def stored_ids(settings: Settings, kind: type) -> list[str]:
    table = "trade_entries" if kind is TradeEntry else "trade_exits"
    with connect(settings, read_only=True) as lake:
        return [r["record_id"] for r in reader.query(lake, f"SELECT record_id FROM lake.{table}")]


async def test_records_of_every_type_reach_the_store(lake_settings: Settings) -> None:
    async with TradeRecorder(lake_settings) as recorder:
        records = one_of_each(0) + one_of_each(1)
        seq = await recorder.record(*records)
        assert seq == 1  # one call, one journal frame
        await recorder.record_entry(entry(7))
        await recorder.flush()
        stats = recorder.stats()
        n = len(records) + 1
        assert (stats.journaled, stats.flushed, stats.pending, stats.flush_failures) == (n, n, 0, 0)
        assert stats.store_reachable is True and stats.last_error is None
    with connect(lake_settings, read_only=True) as lake:
        for record in records:
            assert reader.read(lake, type(record), **{"record_id = ?": record.record_id}) == [record]


async def test_a_transaction_commits_together_or_not_at_all(lake_settings: Settings) -> None:
    recorder = TradeRecorder(lake_settings).start()
    frames_before = recorder.journal.frames_written
    async with recorder.transaction():
        recorder.record_entry(entry(1))  # the original's un-awaited style
        recorder.record_exit(exit_(1))
        pending = recorder.batch_record_entries([entry(2), entry(3)])
        with pytest.raises(RuntimeError, match="open recorder.transaction"):
            await pending
    assert pending.done() and recorder.journal.frames_written == frames_before + 1
    with pytest.raises(ZeroDivisionError):
        async with recorder.transaction():
            discarded = recorder.record_entry(entry(4))
            recorder.record_exit(exit_(4))
            _ = 1 / 0
    with pytest.raises(TransactionAborted):
        await discarded
    with recorder.transaction():  # the same from a thread (or plain code)
        recorder.record_exit(exit_(2))
        with recorder.transaction():  # nested blocks join the outer one
            recorder.record_exit(exit_(3))
    await recorder.flush()
    await recorder.aclose()
    assert sorted(stored_ids(lake_settings, TradeEntry)) == ["entry:t1", "entry:t2", "entry:t3"]
    assert sorted(stored_ids(lake_settings, TradeExit)) == ["exit:t1", "exit:t2", "exit:t3"]


async def test_many_threads_and_coroutines_at_once(lake_settings: Settings) -> None:
    recorder = TradeRecorder(lake_settings).start()

    def thread_worker(k: int) -> None:
        for i in range(150):
            recorder.record_entry(entry(k * 1000 + i)).result(10)
        with recorder.transaction():
            recorder.record_exit(exit_(k * 1000))
            recorder.record_exit(exit_(k * 1000 + 1))

    async def task_worker(k: int) -> None:
        for i in range(20):
            await recorder.record_entry(entry(100_000 + k * 1000 + i))
        async with recorder.transaction():
            recorder.record_exit(exit_(100_000 + k * 1000))
            await asyncio.sleep(0)  # other tasks record while this block is open
            recorder.record_exit(exit_(100_000 + k * 1000 + 1))

    threads = [threading.Thread(target=thread_worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    await asyncio.gather(*(task_worker(k) for k in range(40)))
    await asyncio.to_thread(lambda: [t.join() for t in threads])
    await recorder.flush()
    await recorder.aclose()
    entries, exits = stored_ids(lake_settings, TradeEntry), stored_ids(lake_settings, TradeExit)
    assert len(entries) == len(set(entries)) == 4 * 150 + 40 * 20
    assert len(exits) == len(set(exits)) == 4 * 2 + 40 * 2


def test_bad_records_are_refused_before_the_journal(lake_settings: Settings) -> None:
    with TradeRecorder(lake_settings) as recorder:
        bad = msgspec.structs.replace(entry(2), price=Decimal("-3"))
        with pytest.raises(DataError, match="TradeEntry.price"):
            recorder.record(entry(1), bad)
        with pytest.raises(TypeError, match="expected a TradeEntry"):
            recorder.record_entry(exit_(1))  # type: ignore[arg-type]
        assert recorder.journal.frames_written == 0


def test_unacknowledged_store_work_is_replayed_on_start(lake_settings: Settings) -> None:
    def unreachable() -> Lake:
        raise StoreUnavailable("store is down (test)")

    down = TradeRecorder(lake_settings, open_lake=unreachable, backoff=(0.01, 0.05)).start()
    for i in range(10):
        down.record_entry(entry(i)).result(5)
    down.flush()  # cannot complete while the store is down
    stats = down.stats()
    assert stats.pending == 10 and stats.journaled == 10
    down.close(timeout=0.3)
    assert down.stats().flush_failures >= 1 and "store is down" in (down.stats().last_error or "")
    with TradeRecorder(lake_settings) as up:
        assert up.journal.unflushed_at_open == 10
        up.flush().result(20)
    assert len(stored_ids(lake_settings, TradeEntry)) == 10


def test_a_frame_the_store_cannot_take_is_set_aside(lake_settings: Settings) -> None:
    with TradeRecorder(lake_settings) as recorder:
        recorder.journal.append(msgspec.msgpack.encode([("no-such-type", {})]), 1).result(5)
        recorder.record_entry(entry(1)).result(5)
        recorder.flush().result(20)
        assert recorder.stats().rejected == 1 and recorder.stats().pending == 0
        assert len(list((recorder.journal.directory / "rejected").iterdir())) == 1
    assert stored_ids(lake_settings, TradeEntry) == ["entry:t1"]
