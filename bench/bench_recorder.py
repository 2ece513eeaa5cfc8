"""Trade recorder benchmarks (issue #2), each figure measured against its reference in the same run.

- `recorder_throughput`: durable records/s through the recorder (group commit; every record its
  own call and its own acknowledgement, the flusher moving them to a DuckLake store meanwhile)
  against one SQLAlchemy ORM `add` + `commit` per record on SQLite (how freqtrade persists
  trades). Extra: one fsync per record on a plain file, a raw journal with one fsync per 100
  records (the floor to approach), and closed-loop figures (each caller waits for its ack).
  Records are built before the clock starts, for the recorder and the references alike: the
  figures are the cost of persisting, not of constructing a TradeEntry.
- `recorder_ack_latency`: p99 acknowledgement latency (seen by the awaiting coroutine) at 1,000
  records/s offered, against the latency of one fsync per record on a plain file.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
import warnings
from decimal import Decimal
from pathlib import Path

from sqlalchemy import BigInteger, Float, Numeric, String, create_engine, event
from sqlalchemy.exc import SAWarning
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bench.common import BenchResult, percentile
from engine.config import load_settings
from engine.core.types import Side, TradeEntry
from engine.store import init_store
from engine.store import frames
from engine.store.recorder import TradeRecorder, encode

T0 = 1_700_000_000_000


def entry(n: int) -> TradeEntry:
    return TradeEntry(f"t{n}", "main", "BTCUSDT", Side.BUY, Decimal("0.003"), Decimal("59439.30"),
                      fee=Decimal("0.0713"), signal_id=f"s{n}", confidence=0.6, win_probability=0.55,
                      regime="trending", stop_loss=Decimal("58000"), event_time=T0 + n, received_time=T0 + n + 3)


def recorder_in(directory: Path) -> TradeRecorder:
    settings = load_settings({"SLT_DATA_DIR": str(directory)}, env_file=directory / "none.env")
    init_store(settings)
    return TradeRecorder(settings).start()


# ---- references ---------------------------------------------------------------------------------

class _Base(DeclarativeBase):
    pass


class _Trade(_Base):
    """A freqtrade-like trade row."""

    __tablename__ = "trades"
    id: Mapped[int] = mapped_column(primary_key=True)
    trade_id: Mapped[str] = mapped_column(String(64), unique=True)
    account: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(Numeric(38, 12))
    price: Mapped[Decimal] = mapped_column(Numeric(38, 12))
    fee: Mapped[Decimal] = mapped_column(Numeric(38, 12))
    confidence: Mapped[float] = mapped_column(Float)
    event_time: Mapped[int] = mapped_column(BigInteger)


def sqlalchemy_per_record(directory: Path, entries: list[TradeEntry], wal: bool = False) -> float:
    """Records/s with one ORM add + commit per record on a SQLite file (freqtrade's way: SQLite's
    default rollback journal; `wal=True` for the faster WAL mode, one fsync per commit)."""
    engine = create_engine(f"sqlite:///{directory / ('wal.sqlite' if wal else 'freqtrade-like.sqlite')}")
    if wal:
        event.listen(engine, "connect", lambda con, _: con.execute("PRAGMA journal_mode=WAL"))
    _Base.metadata.create_all(engine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # SQLite stores Numeric as float; irrelevant to speed
        started = time.perf_counter()
        with Session(engine) as session:
            for e in entries:
                session.add(_Trade(trade_id=e.trade_id, account=e.account, symbol=e.symbol, side=str(e.side),
                                  quantity=e.quantity, price=e.price, fee=e.fee, confidence=e.confidence,
                                  event_time=e.event_time))
                session.commit()
        elapsed = time.perf_counter() - started
    engine.dispose()
    return len(entries) / elapsed


def fsync_per_record(directory: Path, count: int) -> list[float]:
    """Seconds per record (write + fsync) on a plain append-only file."""
    payload = encode([entry(0)])
    fd = os.open(directory / "plain.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    times = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            os.write(fd, payload)
            os.fsync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
    return times


def raw_journal(directory: Path, entries: list[TradeEntry], per_fsync: int = 100) -> float:
    """Records/s for encoded, checksummed frames with one fsync per `per_fsync` records."""
    fd = os.open(directory / "raw.seg", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        started = time.perf_counter()
        for base in range(0, len(entries), per_fsync):
            chunk = entries[base:base + per_fsync]
            os.write(fd, b"".join(frames.encode(base + i + 1, 1, encode([e])) for i, e in enumerate(chunk)))
            os.fsync(fd)
        return len(entries) / (time.perf_counter() - started)
    finally:
        os.close(fd)


# ---- the recorder -------------------------------------------------------------------------------

async def pipelined(recorder: TradeRecorder, entries: list[TradeEntry], chunk: int = 10_000) -> float:
    """One coroutine records the entries one call each; each counts once its ack resolved."""
    started = time.perf_counter()
    for base in range(0, len(entries), chunk):
        acks = [recorder.record_entry(e) for e in entries[base:base + chunk]]
        for ack in acks:
            await ack
    return len(entries) / (time.perf_counter() - started)


async def closed_loop(recorder: TradeRecorder, tasks: int, each: int, offset: int) -> float:
    """`tasks` coroutines, each awaiting every record before the next."""
    entries = [[entry(offset + k * each + i) for i in range(each)] for k in range(tasks)]

    async def worker(k: int) -> None:
        for e in entries[k]:
            await recorder.record_entry(e)

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(tasks)))
    return tasks * each / (time.perf_counter() - started)


def threads_closed_loop(recorder: TradeRecorder, threads: int, each: int, offset: int) -> float:
    """`threads` threads, each waiting for every record's ack before the next."""
    entries = [[entry(offset + k * each + i) for i in range(each)] for k in range(threads)]

    def worker(k: int) -> None:
        for e in entries[k]:
            recorder.record_entry(e).result(30)

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return threads * each / (time.perf_counter() - started)


async def paced_latencies(recorder: TradeRecorder, rate: float, seconds: float, offset: int) -> list[float]:
    """Submit `rate` records/s for `seconds`; the latency from each call to its await returning."""
    latencies: list[float] = []

    async def one(n: int) -> None:
        record = entry(n)
        started = time.perf_counter()
        await recorder.record_entry(record)
        latencies.append(time.perf_counter() - started)

    tasks = []
    interval, due = 1.0 / rate, time.perf_counter()
    for n in range(int(rate * seconds)):
        due += interval
        tasks.append(asyncio.ensure_future(one(offset + n)))
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.gather(*tasks)
    return latencies


def run() -> list[BenchResult]:
    with tempfile.TemporaryDirectory(prefix="bench-recorder-") as tmp:
        root = Path(tmp)
        entries = [entry(n) for n in range(100_000)]
        sqlalchemy_rate = sqlalchemy_per_record(root, entries[:3_000])
        sqlalchemy_wal_rate = sqlalchemy_per_record(root, entries[:3_000], wal=True)
        plain = fsync_per_record(root, 3_000)
        raw_rate = raw_journal(root, entries)
        recorder = recorder_in(root / "throughput")
        try:
            rate = asyncio.run(pipelined(recorder, entries))
            coroutines = asyncio.run(closed_loop(recorder, 1_000, 30, 1_000_000))
            threads = threads_closed_loop(recorder, 16, 500, 2_000_000)
            started = time.perf_counter()
            recorder.flush().result(300)
            flush_seconds = time.perf_counter() - started
            stats = recorder.stats()
            fsyncs = recorder.journal.fsyncs
        finally:
            recorder.close()
        throughput = BenchResult(
            name="recorder_throughput", value=rate, unit="records/s",
            reference="SQLAlchemy ORM add+commit per record, SQLite", reference_value=sqlalchemy_rate,
            higher_is_better=True, target=">= 20",
            extra={"sqlalchemy_sqlite_wal_per_s": sqlalchemy_wal_rate,
                   "ratio_vs_sqlalchemy_wal": rate / sqlalchemy_wal_rate,
                   "plain_file_fsync_per_record_per_s": len(plain) / sum(plain),
                   "raw_journal_fsync_per_100_per_s": raw_rate,
                   "recorder_vs_raw_journal": rate / raw_rate,
                   "closed_loop_1000_coroutines_per_s": coroutines,
                   "closed_loop_16_threads_per_s": threads,
                   "records_per_fsync": stats.journaled / max(1, fsyncs),
                   "store_flushed_records": stats.flushed,
                   "store_catch_up_after_load_s": flush_seconds,
                   "producer": "one asyncio coroutine, one record_entry() call and one Ack per record"})

        recorder = recorder_in(root / "latency")
        try:
            latencies = asyncio.run(paced_latencies(recorder, 1_000.0, 6.0, 0))
            recorder.flush().result(60)
        finally:
            recorder.close()
        p99 = percentile(latencies, 99) * 1000
        plain_p99 = percentile(plain, 99) * 1000
        latency = BenchResult(
            name="recorder_ack_latency", value=p99, unit="ms (p99)",
            reference="one write+fsync per record on a plain file, p99", reference_value=plain_p99,
            higher_is_better=False, target="p99 < 10 ms",
            extra={"p50_ms": percentile(latencies, 50) * 1000, "p99_ms": p99, "max_ms": max(latencies) * 1000,
                   "offered_records_per_s": 1_000, "samples": len(latencies),
                   "plain_file_fsync_p50_ms": percentile(plain, 50) * 1000, "value_target_met": p99 < 10.0})
    return [throughput, latency]
