"""Trade recorder benchmarks (issue #2), each figure measured against its reference in the same run.

- `recorder_throughput`: durable records/s through the recorder (group commit; every record its
  own call and its own acknowledgement, the flusher moving them to a DuckLake store meanwhile)
  against one SQLAlchemy ORM `add` + `commit` per record on SQLite (how freqtrade persists
  trades). Extra: one fsync per record on a plain file, a raw journal with one fsync per 100
  records (the floor to approach), and closed-loop figures (each caller waits for its ack).
  Records are built before the clock starts, for the recorder and the references alike: the
  figures are the cost of persisting, not of constructing a TradeEntry.
- `recorder_ack_latency`: p99 acknowledgement latency (seen by the awaiting coroutine) at 1,000
  records/s offered, against the floor the disk gives: a bare group commit (one thread writing what
  has arrived and fdatasyncing once per group, the same paced coroutines awaiting it); p50, p99.9
  and max beside it.
- `recorder_ack_latency_busy`: the same while a busy neighbour runs (bench/neighbour.py: a
  scikit-learn fit on every core and a DuckLake writer committing to the same store every 100 ms,
  at the flows' lower priority), against the bare group commit under the same neighbour.
  Idle and busy rounds alternate (`ROUNDS` of each), so both see the same machine; the figures pool
  each kind's samples. Before them the prepared records are released and the heap is frozen, as
  the engine does once it is ready (`engine.runtime.freeze_heap`): otherwise one full collection
  over this benchmark's own 100,000 prepared records pauses every thread for 100-250 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
import time
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Float, Numeric, String, create_engine, event
from sqlalchemy.exc import SAWarning
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bench.common import BenchResult, machine_load, percentile
from bench.neighbour import busy_neighbour
from engine.config import load_settings
from engine.core.types import Side, TradeEntry
from engine.runtime import freeze_heap
from engine.store import frames, init_store
from engine.store.payload import encode
from engine.store.recorder import TradeRecorder

T0 = 1_700_000_000_000
ROUNDS = 3
ROUND_SECONDS = 4.0
RATE = 1_000.0


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


async def bare_group_commit(directory: Path, rate: float, seconds: float) -> list[float]:
    """The floor for acknowledgement latency: the same paced coroutines, each record appended by
    one bare writer thread that writes whatever has arrived, fdatasyncs once and wakes the callers
    (no encoding, framing, checks or store). What the disk gives a group commit right now."""
    loop = asyncio.get_running_loop()
    waiting: list[asyncio.Future[None]] = []
    arrived = threading.Condition()
    done = False
    payload = encode([entry(0)])

    def writer() -> None:
        fd = os.open(directory / "group.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            while True:
                with arrived:
                    while not waiting and not done:
                        arrived.wait()
                    if not waiting and done:
                        return
                    group = waiting[:]
                    waiting.clear()
                os.write(fd, payload * len(group))
                os.fdatasync(fd)
                loop.call_soon_threadsafe(_wake_all, group)
        finally:
            os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    latencies: list[float] = []

    async def one(n: int) -> None:
        started = time.perf_counter()
        future = loop.create_future()
        with arrived:
            waiting.append(future)
            arrived.notify()
        await future
        latencies.append(time.perf_counter() - started)

    try:
        await _paced(one, rate, seconds)
    finally:
        with arrived:
            done = True
            arrived.notify()
        thread.join(30)
    return latencies


def _wake_all(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        future.set_result(None)


async def _paced(one: Any, rate: float, seconds: float) -> None:
    """Start `one(n)` `rate` times a second for `seconds` (catching up after a stall), then wait."""
    tasks = []
    interval, due = 1.0 / rate, time.perf_counter()
    for n in range(int(rate * seconds)):
        due += interval
        tasks.append(asyncio.ensure_future(one(n)))
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.gather(*tasks)


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
        record = entry(offset + n)
        started = time.perf_counter()
        await recorder.record_entry(record)
        latencies.append(time.perf_counter() - started)

    await _paced(one, rate, seconds)
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

        del entries
        freeze_heap()
        load_before = machine_load()
        idle, busy, idle_floor, busy_floor, rounds = latency_rounds(root)
        load_after = machine_load()
        machine = {"load_before": load_before, "load_after": load_after}
        idle_result = ack_latency("recorder_ack_latency", idle, idle_floor, "p99 < 10 ms", rounds["idle"], machine)
        busy_result = ack_latency("recorder_ack_latency_busy", busy, busy_floor, "p99 < 20 ms", rounds["busy"],
                                  machine, neighbour="scikit-learn fit on every core + DuckLake commits every "
                                                     "100 ms to the same store, at niceness 10")
        throughput.extra["machine"] = machine
    return [throughput, idle_result, busy_result]


def latency_rounds(root: Path) -> tuple[list[float], list[float], list[float], list[float], dict[str, list[dict[str, float]]]]:
    """Alternating idle and busy-neighbour rounds on one recorder: the ack latencies of each kind,
    the bare group commit's (the floor) measured in the same rounds, and each round's figures."""
    recorder = recorder_in(root / "latency")
    acks: dict[str, list[float]] = {"idle": [], "busy": []}
    floor: dict[str, list[float]] = {"idle": [], "busy": []}
    rounds: dict[str, list[dict[str, float]]] = {"idle": [], "busy": []}
    try:
        asyncio.run(paced_latencies(recorder, RATE, 1.0, 10_000_000))  # the lake writer started, warm
        for k in range(ROUNDS):
            for kind in ("idle", "busy"):
                offset = 20_000_000 + (2 * k + (kind == "busy")) * 1_000_000
                with busy_neighbour(recorder.settings.data_dir, seconds=3 * ROUND_SECONDS + 30) if kind == "busy" \
                        else contextlib.nullcontext():
                    latencies = asyncio.run(paced_latencies(recorder, RATE, ROUND_SECONDS, offset))
                    recorder.flush().result(120)  # the floor runs without our store writes beside it
                    bare = asyncio.run(bare_group_commit(root, RATE, ROUND_SECONDS))
                acks[kind] += latencies
                floor[kind] += bare
                rounds[kind].append({**figures(latencies), **{f"floor_{k}": v for k, v in figures(bare).items()}})
        recorder.flush().result(120)
    finally:
        recorder.close()
    return acks["idle"], acks["busy"], floor["idle"], floor["busy"], rounds


def figures(latencies: list[float]) -> dict[str, float]:
    """p50, p99, p99.9 and max in ms."""
    return {"p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
            "p99_9_ms": percentile(latencies, 99.9) * 1000, "max_ms": max(latencies) * 1000}


def ack_latency(name: str, latencies: list[float], floor: list[float], target: str, rounds: list[dict[str, float]],
                machine: dict[str, object], neighbour: str = "none") -> BenchResult:
    stats = figures(latencies)
    return BenchResult(
        name=name, value=stats["p99_ms"], unit="ms (p99)",
        reference="bare group commit (write + fdatasync per group, same pacing, same rounds), p99",
        reference_value=figures(floor)["p99_ms"], higher_is_better=False, target=target,
        extra={**stats, **{f"floor_{k}": v for k, v in figures(floor).items()}, "offered_records_per_s": RATE,
               "samples": len(latencies), "rounds": rounds, "neighbour": neighbour, "machine": machine})
