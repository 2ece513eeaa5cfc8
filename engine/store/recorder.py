"""The trade recorder (the original EnhancedTradeRecorder, done properly): nothing acknowledged is
ever lost, including across `kill -9`.

    recorder = TradeRecorder(settings).start()     # replays what the store is missing
    await recorder.record_entry(entry)             # returns once durable in the local journal
    recorder.record_now(order)                     # the same, synchronously (gates sending an order)
    recorder.record(order, fill).result(timeout=1) # the same from a thread; any record types
    async with recorder.transaction():             # one journal frame: all or nothing
        recorder.record_entry(entry_a)             # (un-awaited, the original's style)
        recorder.record_exit(exit_b)
    await recorder.flush()                         # everything acknowledged is in the store
    recorder.close()

Each call checks its records (a bad one raises `DataError` at once and nothing of that call is
recorded), encodes them as one journal frame and returns an `Ack`. The journal's writer thread
fsyncs many frames at once (group commit); the flusher moves them to the store in batches. Safe
from many threads and coroutines at once; a transaction belongs to the task or thread that opened
it (a context variable), and nested blocks join the outermost one.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import Settings
from engine.core.errors import SltError
from engine.core.types import TradeEntry, TradeExit
from engine.store.ack import Ack
from engine.store.flusher import BatchWriter, Flusher
from engine.store.journal import Journal
from engine.store.lake import Lake
from engine.store.lake_writer import InProcessWriter, LakeWriterProcess
from engine.store.payload import decode, encode
from engine.store.schema import Journaled, validate

log = logging.getLogger(__name__)

_current: contextvars.ContextVar[Transaction | None] = contextvars.ContextVar("slt_recorder_transaction", default=None)


class TransactionAborted(SltError):
    """The transaction block raised: none of its records were recorded."""


@dataclass(frozen=True)
class RecorderStats:
    """For the health monitor."""

    journaled: int  # records durable in the journal (this run, plus those found to replay)
    flushed: int  # records moved into the store this run
    pending: int  # journaled but not yet in the store
    queued: int  # frames waiting for the journal writer
    flush_failures: int
    last_error: str | None
    store_reachable: bool | None  # None until the first store write was tried
    rejected: int  # records the store refused (kept under <journal>/rejected/)


class TradeRecorder:
    def __init__(self, settings: Settings, *, journal_dir: Path | None = None,
                 open_lake: Callable[[], Lake] | None = None, max_batch_records: int = 20_000,
                 backoff: tuple[float, float] = (0.05, 5.0), flush_interval: float = 0.5,
                 segment_bytes: int = 64 << 20) -> None:
        self.settings = settings
        self.journal = Journal(journal_dir or settings.journal_dir or settings.data_dir / "journal",
                               segment_bytes=segment_bytes)
        self._open_lake = open_lake
        self._max_batch_records = max_batch_records
        self._backoff = backoff
        self._flush_interval = flush_interval
        self._flusher: Flusher | None = None
        self._closed = False

    # ---- life cycle -----------------------------------------------------------------------------

    def start(self) -> TradeRecorder:
        """Open the journal and start the flusher, which first replays what the store is missing."""
        self.journal.open()
        self._flusher = Flusher(self.journal, self._open_writer, max_batch_records=self._max_batch_records,
                                backoff=self._backoff, interval=self._flush_interval)
        self._flusher.start()
        log.info("📝 recorder: journal %s open, %d records to replay", self.journal.directory,
                 self.journal.unflushed_at_open)
        return self

    def _open_writer(self) -> BatchWriter:
        """The lake writer child process; or, with an `open_lake` given (tests), this process."""
        if self._open_lake is not None:
            return InProcessWriter(self._open_lake(), decode)
        s = self.settings
        return LakeWriterProcess(s.data_dir, s.store_catalog, s.store_data_path)

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking records, write what is queued, flush for up to `timeout` s, release the journal.
        Whatever could not be flushed stays in the journal for the next start."""
        if self._flusher is None or self._closed:
            return
        self._closed = True
        self.journal.close()
        self._flusher.stop(timeout)
        self.journal.release()
        stats = self.stats()
        log.info("📝 recorder: closed; %d journaled, %d flushed, %d left in the journal for the next start",
                 stats.journaled, stats.flushed, stats.pending)

    async def aclose(self, timeout: float = 10.0) -> None:
        await asyncio.to_thread(self.close, timeout)

    def __enter__(self) -> TradeRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> TradeRecorder:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- recording ------------------------------------------------------------------------------

    def record(self, *records: Journaled) -> Ack:
        """Record any records (candles, orders, fills, trades, positions, equity, health) as one unit."""
        txn = _current.get()
        if txn is not None and txn.recorder is self and txn.open:
            for record in records:
                validate(record)
            txn.records.extend(records)
            return txn.ack
        if not records:
            ack = Ack()
            ack.set_result(self.journal.durable_seq)
            return ack
        return self.journal.append(encode(records), len(records))

    def record_now(self, *records: Journaled) -> int:
        """Record synchronously: returns once the records are on disk (one fdatasync in the calling
        thread, no hand-over to the journal's writer). For what gates an action, e.g. an order that
        must be durable before it is sent; everything else should use `record`. Not part of an open
        transaction."""
        if not records:
            return self.journal.durable_seq
        return self.journal.write_now(encode(records), len(records))

    def record_entry(self, entry: TradeEntry) -> Ack:
        _expect(entry, TradeEntry)
        return self.record(entry)

    def record_exit(self, exit_: TradeExit) -> Ack:
        _expect(exit_, TradeExit)
        return self.record(exit_)

    def batch_record_entries(self, entries: Sequence[TradeEntry]) -> Ack:
        """Several entries, durable together (one frame)."""
        for entry in entries:
            _expect(entry, TradeEntry)
        return self.record(*entries)

    def transaction(self) -> Transaction:
        """`async with` (or `with`) block whose records are journaled together at exit, or not at all."""
        return Transaction(self)

    def flush(self) -> Ack:
        """Resolves once everything recorded before this call is in the store."""
        flusher = self._flusher
        if flusher is None or self._closed:
            raise SltError("the recorder is not running")
        done = Ack()
        self.journal.barrier().add_done_callback(lambda barrier: flusher.request(barrier._value, done))
        return done

    def stats(self) -> RecorderStats:
        flusher = self._flusher
        journaled = self.journal.unflushed_at_open + self.journal.records_written
        flushed = flusher.flushed_records if flusher else 0
        rejected = flusher.rejected_records if flusher else 0
        return RecorderStats(
            journaled=journaled, flushed=flushed, pending=max(0, journaled - flushed - rejected),
            queued=self.journal.pending_in_queue(), flush_failures=flusher.failures if flusher else 0,
            last_error=flusher.last_error if flusher else None,
            store_reachable=flusher.store_reachable if flusher else None, rejected=rejected)


class Transaction:
    """Records made inside the block (by this task or thread) become ONE journal frame at exit:
    they are durable together and land in the same store transaction. An exception discards them."""

    def __init__(self, recorder: TradeRecorder) -> None:
        self.recorder = recorder
        self.records: list[Journaled] = []
        self.ack = Ack()
        self.ack.open_transaction = True
        self.open = False
        self._token: contextvars.Token[Transaction | None] | None = None
        self._outer: Transaction | None = None

    def _enter(self) -> Transaction:
        outer = _current.get()
        if outer is not None and outer.recorder is self.recorder and outer.open:
            self._outer = outer
            return outer
        self.open = True
        self._token = _current.set(self)
        return self

    def _exit(self, error: BaseException | None) -> bool:
        """Commit or discard; True if there is a frame to wait for."""
        if self._outer is not None:
            return False
        assert self._token is not None
        _current.reset(self._token)
        self.open = False
        self.ack.open_transaction = False
        if error is not None:
            self.ack.set_exception(TransactionAborted(f"transaction discarded ({len(self.records)} records): {error!r}"))
            return False
        if not self.records:
            self.ack.set_result(self.recorder.journal.durable_seq)
            return False
        try:
            self.recorder.journal.append(encode(self.records), len(self.records), self.ack)
        except BaseException as exc:
            self.ack.set_exception(exc)
            raise
        return True

    def __enter__(self) -> Transaction:
        return self._enter()

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        if self._exit(error):
            self.ack.result()

    async def __aenter__(self) -> Transaction:
        return self._enter()

    async def __aexit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        if self._exit(error):
            await self.ack


def _expect(record: object, kind: type) -> None:
    if not isinstance(record, kind):
        raise TypeError(f"expected a {kind.__name__}, got {type(record).__name__}")
