"""The recorder's local append-only journal, with group commit.

Any thread appends a frame and gets an `Ack`. One writer thread drains the queue, writes every
waiting frame, calls `fdatasync` once, and only then resolves all their acks: many records per
fsync, and an acknowledged record is on disk. The flusher reads frames back through a `Cursor`
(the journal is the queue, so replay after a crash is the same code path as normal operation),
and `mark_flushed(seq)` records that every frame up to `seq` is in the store (an atomic
`checkpoint` file) and deletes segments that are wholly flushed.

On open, the tail of the last segment is checked and a torn (cut short or corrupt) tail is
truncated; new frames always go to a fresh segment, and sequence numbers continue past both the
last frame on disk and the checkpoint, so a new frame is never mistaken for a flushed one. One
process owns a journal directory at a time (`flock` on `LOCK`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

from engine.core.errors import SltError
from engine.store import frames
from engine.store.ack import Ack, resolve

log = logging.getLogger(__name__)


class JournalError(SltError):
    """The journal cannot accept records (closed, locked by another process, or the disk failed)."""


@dataclass
class _Item:
    payload: bytes | None  # None: a barrier (resolves once everything before it is durable)
    count: int
    ack: Ack


_STOP = _Item(None, -1, Ack())


class Journal:
    def __init__(self, directory: Path, *, segment_bytes: int = 64 << 20, group_bytes: int = 8 << 20) -> None:
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.group_bytes = group_bytes
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._submit = threading.Lock()
        self._io = threading.Lock()  # sequence numbers, writes and fdatasync: the writer and `write_now`
        self._durable = threading.Condition()
        self._closed = True
        self._failed: BaseException | None = None
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._thread: threading.Thread | None = None
        self.durable_seq = 0
        self.checkpoint = 0
        self.active_first_seq = 0
        self.unflushed_at_open = 0  # records on disk after the checkpoint when opened (to replay)
        self.records_written = 0
        self.frames_written = 0
        self.fsyncs = 0
        self._next_seq = 1
        self._segment_size = 0

    # ---- opening and recovery -------------------------------------------------------------------

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise JournalError(f"journal {self.directory} is in use by another process: "
                               "each recorder needs its own SLT_JOURNAL_DIR") from None
        self.checkpoint = self._read_checkpoint()
        last_seq = self._recover()
        self._next_seq = max(last_seq, self.checkpoint) + 1
        self.durable_seq = self._next_seq - 1
        self._start_segment()
        self._delete_flushed(self.checkpoint)
        self._closed = False
        self._thread = threading.Thread(target=self._write_loop, name="journal-writer", daemon=True)
        self._thread.start()

    def _read_checkpoint(self) -> int:
        try:
            return int((self.directory / "checkpoint").read_text().strip() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:
            log.warning("📝 journal: unreadable checkpoint in %s; replaying everything (the store skips ids it has)",
                        self.directory)
            return 0

    def _recover(self) -> int:
        found = frames.segments(self.directory)
        last_seq = 0
        for index, (first, path) in enumerate(found):
            data = path.read_bytes()
            valid, end = frames.scan(data, first)
            self.unflushed_at_open += sum(f.count for f in valid if f.seq > self.checkpoint)
            last_seq = max(last_seq, valid[-1].seq if valid else first - 1)
            if end < len(data):
                if index == len(found) - 1:
                    log.warning("📝 journal: ignored a torn tail of %d bytes in %s (a write cut short by a crash, "
                                "never acknowledged)", len(data) - end, path.name)
                    with open(path, "r+b") as handle:
                        handle.truncate(end)
                        os.fsync(handle.fileno())
                else:
                    log.error("🚨 journal: corrupt frame in %s at byte %d; %d bytes after it are skipped",
                              path.name, end, len(data) - end)
        if found and found[-1][1].stat().st_size == 0:
            found[-1][1].unlink()
        return last_seq

    def _start_segment(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass  # the old segment failed already; the new one is what matters
            self._fd = None
        path = self.directory / frames.segment_name(self._next_seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._segment_size = os.fstat(self._fd).st_size
        self.active_first_seq = self._next_seq
        _fsync_dir(self.directory)  # the new file's name is durable before any frame in it is acked

    # ---- appending ------------------------------------------------------------------------------

    def append(self, payload: bytes, count: int, ack: Ack | None = None) -> Ack:
        """Queue one frame; the ack resolves (to its sequence number) once it is on disk."""
        item = _Item(payload, count, ack or Ack())
        with self._submit:
            if self._closed or self._failed is not None:
                raise JournalError(f"journal {self.directory} is closed" if self._failed is None
                                   else f"journal {self.directory} failed: {self._failed}")
            self._queue.put(item)
        return item.ack

    def write_now(self, payload: bytes, count: int) -> int:
        """Write one frame and fdatasync it in the calling thread; its sequence number, once on disk.

        For the few records that gate an action (an order must be durable before it is sent): no
        hand-over to the writer thread and back, at the price of blocking the caller for one
        fdatasync. Frames queued earlier may get later numbers; nothing depends on the order of
        unrelated records (the store keys them by record id)."""
        with self._io:
            if self._closed or self._failed is not None:
                raise JournalError(f"journal {self.directory} is closed" if self._failed is None
                                   else f"journal {self.directory} failed: {self._failed}")
            seq = self._next_seq
            data = frames.encode(seq, count, payload)
            try:
                _write_all(self._fd, data)
                os.fdatasync(self._fd)  # type: ignore[arg-type]
            except OSError as exc:
                self._on_write_error(exc)
                raise JournalError(f"journal write failed: {exc}") from exc
            self._next_seq += 1
            self.fsyncs += 1
            self.frames_written += 1
            self.records_written += count
            self._segment_size += len(data)
            with self._durable:
                self.durable_seq = seq
                self._durable.notify_all()
            if self._segment_size >= self.segment_bytes:
                self._rotate()
        return seq

    def barrier(self) -> Ack:
        """Resolves to the durable sequence number once every frame appended before it is on disk."""
        item = _Item(None, 0, Ack())
        with self._submit:
            if self._closed:
                item.ack.set_result(self.durable_seq)
            else:
                self._queue.put(item)
        return item.ack

    def pending_in_queue(self) -> int:
        return self._queue.qsize()

    def _write_loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            size = len(batch[0].payload or b"")
            while size < self.group_bytes:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                batch.append(item)
                size += len(item.payload or b"")
            stop = any(item is _STOP for item in batch)
            items = [item for item in batch if item is not _STOP]
            try:
                with self._io:
                    outcomes = self._write_group(items)
                resolve(outcomes)  # outside the lock: `write_now` need not wait for the wake-ups
            except BaseException as exc:  # a bug must not leave callers waiting for ever
                log.exception("🚨 journal: the writer failed")
                self._failed = exc
                resolve([(item.ack, None, JournalError(f"journal writer failed: {exc!r}")) for item in items])
            if stop:
                return

    def _write_group(self, batch: list[_Item]) -> list[tuple[Ack, object, BaseException | None]]:
        entries = [item for item in batch if item.payload is not None]
        outcomes: list[tuple[Ack, object, BaseException | None]] = []
        if entries and self._failed is not None:
            error = JournalError(f"journal {self.directory} failed: {self._failed}")
            outcomes = [(item.ack, None, error) for item in entries]
        elif entries:
            first = self._next_seq
            data = b"".join(frames.encode(first + i, item.count, item.payload or b"") for i, item in enumerate(entries))
            self._next_seq += len(entries)
            try:
                _write_all(self._fd, data)
                os.fdatasync(self._fd)  # type: ignore[arg-type]
            except OSError as exc:
                self._on_write_error(exc)
                error = JournalError(f"journal write failed: {exc}")
                outcomes = [(item.ack, None, error) for item in entries]
            else:
                self.fsyncs += 1
                self.frames_written += len(entries)
                self.records_written += sum(item.count for item in entries)
                self._segment_size += len(data)
                with self._durable:
                    self.durable_seq = self._next_seq - 1
                    self._durable.notify_all()
                outcomes = [(item.ack, first + i, None) for i, item in enumerate(entries)]
                if self._segment_size >= self.segment_bytes:
                    self._rotate()
        outcomes += [(item.ack, self.durable_seq, None) for item in batch if item.payload is None]
        return outcomes

    def _rotate(self) -> None:
        try:
            self._start_segment()
        except OSError as exc:
            self._on_write_error(exc)

    def _on_write_error(self, exc: OSError) -> None:
        log.error("🚨 journal: write to %s failed: %s; starting a new segment", self.directory, exc)
        try:
            self._start_segment()  # a partly written frame stays at the end of the old segment
        except OSError as again:
            self._failed = again
            log.error("🚨 journal: cannot continue in %s: %s", self.directory, again)

    # ---- flushing -------------------------------------------------------------------------------

    def wait_durable(self, after: int, timeout: float) -> int:
        """Wait until some frame after `after` is durable (or `timeout`); the durable seq."""
        with self._durable:
            if self.durable_seq <= after:
                self._durable.wait(timeout)
            return self.durable_seq

    def wake(self) -> None:
        with self._durable:
            self._durable.notify_all()

    def cursor(self) -> Cursor:
        return Cursor(self, self.checkpoint)

    def mark_flushed(self, seq: int) -> None:
        """Every frame up to `seq` is in the store: save the checkpoint, delete flushed segments.

        The checkpoint is replaced atomically but not fsynced: it only saves work. If a crash loses
        it, the older value replays frames the store already has, and the store skips their ids;
        sequence numbers still continue past every frame on disk. Not fsyncing it keeps two fsyncs
        per store commit away from the journal's own (ack latency)."""
        tmp = self.directory / "checkpoint.tmp"
        tmp.write_text(f"{seq}\n")
        os.replace(tmp, self.directory / "checkpoint")
        self.checkpoint = seq
        self._delete_flushed(seq)

    def _delete_flushed(self, seq: int) -> None:
        found = frames.segments(self.directory)
        for (first, path), (next_first, _) in zip(found, found[1:]):
            if first >= self.active_first_seq or next_first - 1 > seq:
                break
            path.unlink(missing_ok=True)

    def close(self) -> None:
        """Write everything queued and stop the writer thread; appends fail from now on."""
        with self._submit:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def release(self) -> None:
        """Give the directory up for another process (after `close` and the last `mark_flushed`)."""
        self.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


class Cursor:
    """Reads durable frames after a sequence number, in order, across segments (buffered reads)."""

    CHUNK = 1 << 20

    def __init__(self, journal: Journal, after: int) -> None:
        self.journal = journal
        self.after = after  # the last frame returned
        self.caught_up_to = after  # every durable frame up to here has been returned or skipped
        self.skipped_bytes = 0
        self._first = 0
        self._path: Path | None = None
        self._fd: int | None = None
        self._offset = 0
        self._buf = b""
        self._buf_start = 0
        found = frames.segments(journal.directory)
        start = [item for item in found if item[0] <= after + 1] or found[:1]
        if start:
            self._switch(*start[-1])

    def read(self, max_records: int) -> list[frames.Frame]:
        """Durable frames after the last one read: whole frames, up to about `max_records` records."""
        durable = self.journal.durable_seq
        out: list[frames.Frame] = []
        count = 0
        while count < max_records and self._path is not None:
            frame = self._next()
            if frame is None:
                later = [item for item in frames.segments(self.journal.directory) if item[0] > self._first]
                if not later:
                    self.caught_up_to = max(self.caught_up_to, durable)
                    break
                frame = self._next(refill=True)  # the writer has moved on: this segment is complete now
                if frame is None:
                    self._skip_rest()
                    self._switch(*later[0])
                    continue
            if frame.seq > durable:
                self.caught_up_to = max(self.caught_up_to, durable)
                break
            self._offset = frame.end
            if frame.seq > self.after:
                out.append(frame)
                count += frame.count
                self.after = frame.seq
        return out

    @property
    def position(self) -> int:
        """Every durable frame up to this sequence number has been read."""
        return max(self.after, self.caught_up_to)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _switch(self, first: int, path: Path) -> None:
        self.close()
        self._first, self._path, self._offset = first, path, 0
        self._buf, self._buf_start = b"", 0
        try:
            self._fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            self._fd = None

    def _next(self, refill: bool = False) -> frames.Frame | None:
        position = self._offset - self._buf_start
        frame = None if refill else frames.decode(self._buf, position)
        if frame is None:
            self._fill()
            frame = frames.decode(self._buf, 0)
            if frame is None:
                return None
        return frames.Frame(frame.seq, frame.count, frame.payload, self._buf_start + frame.end)

    def _fill(self) -> None:
        if self._fd is None:
            self._buf, self._buf_start = b"", self._offset
            return
        head = os.pread(self._fd, frames.HEADER.size, self._offset)
        need = frames.HEADER.size
        if len(head) == frames.HEADER.size:
            need += min(frames.HEADER.unpack(head)[1], frames.MAX_PAYLOAD)
        self._buf = os.pread(self._fd, max(self.CHUNK, need), self._offset)
        self._buf_start = self._offset

    def _skip_rest(self) -> None:
        assert self._path is not None
        try:
            size = self._path.stat().st_size
        except FileNotFoundError:
            return
        if size > self._offset:
            self.skipped_bytes += size - self._offset
            log.error("🚨 journal: unreadable frame in %s at byte %d; skipped %d bytes", self._path.name,
                      self._offset, size - self._offset)


def _write_all(fd: int | None, data: bytes) -> None:
    assert fd is not None
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
