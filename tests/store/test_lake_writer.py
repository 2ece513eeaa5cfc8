"""The lake writer: journal frames into the store, answered over a pipe; in a child process it dies
with its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
import psutil
import pytest

from engine.config import Settings
from engine.core.errors import StoreUnavailable
from engine.store import Lake, open_store, reader
from engine.store.frames import Frame
from engine.store.lake import connect
from engine.store.lake_writer import LakeWriterProcess, receive, send, serve
from engine.store.payload import decode, encode
from tests.conftest import REPO
from tests.store.conftest import entry

UNKNOWN_TYPE = msgspec.msgpack.encode([("no-such-type", {})])


def stored(settings: Settings) -> list[str]:
    with connect(settings, read_only=True) as lake:
        return sorted(r["record_id"] for r in reader.query(lake, "SELECT record_id FROM lake.trade_entries"))


@contextmanager
def serving(open_lake: Callable[[], Lake]) -> Iterator[Callable[[list[tuple[int, int, bytes]]], Any]]:
    """`serve` on a thread, with a function that sends one request and returns the decoded answer."""
    requests_r, requests_w = os.pipe()
    answers_r, answers_w = os.pipe()
    thread = threading.Thread(target=serve, args=(requests_r, answers_w, open_lake, decode), daemon=True)
    thread.start()

    def ask(frames: list[tuple[int, int, bytes]]) -> Any:
        send(requests_w, msgspec.msgpack.encode(frames))
        answer = receive(answers_r)
        assert answer is not None
        return msgspec.msgpack.decode(answer)

    try:
        yield ask
    finally:
        os.close(requests_w)  # end of input: serve returns and closes its lake
        thread.join(30)
        assert not thread.is_alive()
        for fd in (requests_r, answers_r, answers_w):
            os.close(fd)


def test_a_batch_is_committed_and_a_refused_frame_is_named(lake_settings: Settings) -> None:
    with serving(lambda: open_store(lake_settings)) as ask:
        assert ask([(1, 1, encode([entry(1)])), (2, 2, encode([entry(2), entry(3)]))]) == ["ok", []]
        assert ask([(3, 1, encode([entry(4)])), (4, 1, UNKNOWN_TYPE), (5, 1, encode([entry(5)]))]) == ["ok", [4]]
    assert stored(lake_settings) == [f"entry:t{n}" for n in range(1, 6)]


def test_an_unreachable_store_is_answered_and_tried_again(lake_settings: Settings) -> None:
    attempts: list[int] = []

    def flaky() -> Lake:
        attempts.append(1)
        if len(attempts) == 1:
            raise StoreUnavailable("store is down (test)")
        return open_store(lake_settings)

    with serving(flaky) as ask:
        assert ask([(1, 1, encode([entry(1)]))]) == ["unavailable", "StoreUnavailable: store is down (test)"]
        assert ask([(1, 1, encode([entry(1)]))]) == ["ok", []]
    assert stored(lake_settings) == ["entry:t1"]


@pytest.mark.integration
def test_the_child_process_writes_and_dies_with_its_parent(lake_settings: Settings) -> None:
    s = lake_settings
    writer = LakeWriterProcess(s.data_dir, s.store_catalog, s.store_data_path)
    try:
        assert writer.write([Frame(1, 1, encode([entry(1)]), 0), Frame(2, 1, UNKNOWN_TYPE, 0)]) == [2]
        writer.process.send_signal(signal.SIGTERM)  # meant for the engine's group: the writer stays
        assert writer.write([Frame(3, 1, encode([entry(2)]), 0)]) == []
    finally:
        writer.close()
    assert writer.process.returncode == 0
    assert stored(s) == ["entry:t1", "entry:t2"]

    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from engine.store.lake_writer import LakeWriterProcess
        from engine.store.frames import Frame
        from engine.store.payload import encode
        from tests.store.conftest import entry
        writer = LakeWriterProcess({str(s.data_dir)!r}, {s.store_catalog!r}, {s.store_data_path!r})
        writer.write([Frame(3, 1, encode([entry(3)]), 0)])
        print(writer.process.pid, flush=True)
        time.sleep(60)
    """)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = psutil.Process(int(parent.stdout.readline()))
        parent.kill()  # kill -9: no chance to close anything
        parent.wait(10)
        gone, _ = psutil.wait_procs([child], timeout=20)
        assert gone or child.status() == psutil.STATUS_ZOMBIE
    finally:
        parent.kill()
        parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()
    assert stored(s) == ["entry:t1", "entry:t2", "entry:t3"]
