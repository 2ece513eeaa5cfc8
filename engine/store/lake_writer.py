"""Journal frames into the store: decode, convert to Arrow, one DuckLake commit per batch.

By default this runs in a child process of the recorder's (`LakeWriterProcess`), at a lower CPU
priority. The flusher used to do it on a thread of the engine's own process, and that was the
recorder's acknowledgement tail (issue #17): decoding and the Arrow conversion are Python work
holding the GIL, a core at the engine's priority, and allocations that feed the engine's garbage
collector, every half second. During a flush each GIL hand-off the ack path needs (the journal
writer resolving a group commit, the event loop waking the awaiting coroutine) waits up to the
interpreter's switch interval. Now the engine's flusher thread only reads frames (bytes) from the
journal and waits on a pipe, both without the GIL.

Protocol on the child's stdin/stdout, each message a length-prefixed msgpack value: a request is a
list of `(seq, count, payload)` frames; the answer is `["ok", [seq, ...]]` once the batch is
committed in one transaction (the seqs named are frames the store refuses as data: not
committed, everything else is), or `["unavailable", "<error>"]` when the store cannot be written
now (the caller keeps the batch and retries). The child exits when its stdin closes and dies with
its parent (Linux `PR_SET_PDEATHSIG`), so a `kill -9` of the engine stops a commit halfway, as it
did in-process. `InProcessWriter` does the same in the calling thread (a store injected by a test).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from engine.core.errors import DataError, StoreUnavailable
from engine.store.frames import Frame
from engine.store.lake import Lake
from engine.store.schema import Journaled
from engine.store.writer import write_records

log = logging.getLogger(__name__)

# Below the engine (0), above the flows and the worker (engine.core.priority.FLOW_NICENESS): the
# store still catches up on a busy machine, and under contention the engine's threads come first.
LAKE_WRITER_NICENESS = 5
MODULE = "engine.store.lake_writer"
_LENGTH = struct.Struct("<Q")
_BAD_DATA = (DataError, msgspec.DecodeError, msgspec.ValidationError)
_REQUEST = msgspec.msgpack.Decoder(list[tuple[int, int, bytes]])
_ANSWER = msgspec.msgpack.Decoder(tuple[str, Any])


def write_frames(lake: Lake, frames: list[Frame], decode: Callable[[bytes], list[Journaled]]) -> list[int]:
    """Store the records of `frames` in one transaction; the seqs of frames the store refuses as
    data (those are left out: each is tried alone, the others go in one by one)."""
    lake.check()
    try:
        write_records(lake, [r for frame in frames for r in decode(frame.payload)], check=False)
    except _BAD_DATA:
        if len(frames) == 1:
            return [frames[0].seq]
        return [seq for frame in frames for seq in write_frames(lake, [frame], decode)]
    return []


class InProcessWriter:
    """`write_frames` on a store opened in this process."""

    def __init__(self, lake: Lake, decode: Callable[[bytes], list[Journaled]]) -> None:
        self.lake = lake
        self.decode = decode

    def write(self, frames: list[Frame]) -> list[int]:
        return write_frames(self.lake, frames, self.decode)

    def close(self) -> None:
        self.lake.close()


class LakeWriterProcess:
    """A lake-writer child process for one store (`python -m engine.store.lake_writer`)."""

    def __init__(self, data_dir: Path, store_catalog: str, store_data_path: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", MODULE, str(os.getpid()), str(data_dir), store_catalog,
             store_data_path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        assert self.process.stdin is not None and self.process.stdout is not None
        self._out = self.process.stdin.fileno()
        self._in = self.process.stdout.fileno()

    def write(self, frames: list[Frame]) -> list[int]:
        why = "it closed its output"
        try:
            send(self._out, msgspec.msgpack.encode([(f.seq, f.count, f.payload) for f in frames]))
            message = receive(self._in)
        except OSError as exc:  # a broken pipe: the child is gone
            message, why = None, str(exc)
        if message is None:
            raise StoreUnavailable(f"the lake writer process stopped ({why}; exit code {self.process.poll()})")
        kind, detail = _ANSWER.decode(message)
        if kind != "ok":
            raise StoreUnavailable(str(detail))
        return [int(seq) for seq in detail]

    def close(self, timeout: float = 10.0) -> None:
        """Let the child finish its batch and exit; kill it after `timeout` seconds."""
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def send(fd: int, data: bytes) -> None:
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def receive(fd: int) -> bytes | None:
    """One message, or None at the end of the stream."""
    head = _read_exact(fd, _LENGTH.size)
    if head is None:
        return None
    return _read_exact(fd, _LENGTH.unpack(head)[0])


def _read_exact(fd: int, size: int) -> bytes | None:
    parts, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _die_with_parent(parent: int) -> None:
    """Live exactly as long as the parent: a Ctrl-C or a SIGTERM to the engine's process group
    (`slt up` stopping it) must not end the writer while the engine still flushes its last batch;
    it exits when its input closes, or is killed when the parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before we asked
        os._exit(1)


def serve(infd: int, outfd: int, open_lake: Callable[[], Lake], decode: Callable[[bytes], list[Journaled]]) -> None:
    """Answer requests until the input closes; the store is (re)opened when needed."""
    lake: Lake | None = None
    try:
        while (request := receive(infd)) is not None:
            frames = [Frame(seq, count, payload, 0) for seq, count, payload in _REQUEST.decode(request)]
            try:
                if lake is None:
                    lake = open_lake()
                answer: tuple[str, Any] = ("ok", write_frames(lake, frames, decode))
            except Exception as exc:  # the store is unreachable (or a bug): the caller keeps the batch
                if not isinstance(exc, StoreUnavailable):
                    log.exception("🚨 lake writer: batch of %d frames not written", len(frames))
                if lake is not None:
                    lake.close()
                    lake = None
                answer = ("unavailable", f"{type(exc).__name__}: {exc}")
            send(outfd, msgspec.msgpack.encode(answer))
    finally:
        if lake is not None:
            lake.close()


def main(argv: list[str]) -> None:
    parent, data_dir, catalog, data_path = int(argv[0]), Path(argv[1]), argv[2], argv[3]
    _die_with_parent(parent)
    from engine.config import Settings
    from engine.core.priority import lower_priority
    from engine.logs import setup_logging
    from engine.store import open_store
    from engine.store.payload import decode

    lower_priority(LAKE_WRITER_NICENESS)
    answers = os.dup(1)  # the protocol's; anything a library prints goes to stderr instead
    os.dup2(2, 1)
    setup_logging("warning")
    settings = Settings(data_dir=data_dir, store_catalog=catalog, store_data_path=data_path)

    def open_lake() -> Lake:
        lake = open_store(settings)
        lake.con.execute("SET threads = 1")  # small batches; the other core stays with the engine
        return lake

    serve(sys.stdin.fileno(), answers, open_lake, decode)


if __name__ == "__main__":
    main(sys.argv[1:])
