from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from engine.store import frames
from engine.store.journal import Journal, JournalError


def opened(directory: Path, **options: int) -> Journal:
    journal = Journal(directory, **options)
    journal.open()
    return journal


def payloads(journal: Journal) -> list[tuple[int, bytes]]:
    cursor = journal.cursor()
    try:
        return [(f.seq, f.payload) for f in cursor.read(10_000)]
    finally:
        cursor.close()


def test_frames_round_trip_and_detect_damage() -> None:
    data = frames.encode(7, 2, b"hello")
    frame = frames.decode(data, 0)
    assert frame is not None and (frame.seq, frame.count, frame.payload, frame.end) == (7, 2, b"hello", len(data))
    assert frames.decode(data[:-1], 0) is None  # cut short
    assert frames.decode(data[:-1] + b"X", 0) is None  # checksum
    assert frames.decode(data, 0, expected_seq=8) is None  # out of sequence


def test_acknowledged_frames_survive_a_reopen(tmp_path: Path) -> None:
    journal = opened(tmp_path)
    acks = [journal.append(f"r{i}".encode(), 1) for i in range(5)]
    assert [a.result(5) for a in acks] == [1, 2, 3, 4, 5]
    journal.release()
    again = opened(tmp_path)
    assert again.unflushed_at_open == 5
    assert payloads(again) == [(i + 1, f"r{i}".encode()) for i in range(5)]
    assert again.append(b"next", 1).result(5) == 6
    again.release()


def test_a_torn_tail_is_ignored_and_cut_off(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    journal = opened(tmp_path)
    for i in range(3):
        journal.append(f"r{i}".encode(), 1).result(5)
    journal.release()
    (_, segment), = frames.segments(tmp_path)
    whole = frames.encode(4, 1, b"never acknowledged")
    with open(segment, "ab") as handle:
        handle.write(whole[: len(whole) - 5])  # the crash cut this write short
    size = segment.stat().st_size
    with caplog.at_level(logging.WARNING):
        again = opened(tmp_path)
    assert "torn tail of 37 bytes" in caplog.text
    assert segment.stat().st_size == size - len(whole) + 5
    assert again.append(b"after", 1).result(5) == 4
    assert [p for _, p in payloads(again)] == [b"r0", b"r1", b"r2", b"after"]
    again.release()


def test_a_corrupt_older_segment_loses_only_its_damaged_part(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    journal = opened(tmp_path, segment_bytes=1)  # one frame per segment
    for i in range(4):
        journal.append(f"r{i}".encode(), 1).result(5)
    journal.release()
    second = frames.segments(tmp_path)[1][1]
    data = bytearray(second.read_bytes())
    data[-1] ^= 0xFF
    second.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR):
        again = opened(tmp_path, segment_bytes=1)
        got = payloads(again)
    assert [p for _, p in got] == [b"r0", b"r2", b"r3"]
    assert "corrupt frame" in caplog.text
    again.release()


def test_sequence_numbers_continue_past_the_checkpoint(tmp_path: Path) -> None:
    journal = opened(tmp_path, segment_bytes=1)
    for _ in range(3):
        journal.append(b"x", 1).result(5)
    journal.mark_flushed(3)
    assert [first for first, _ in frames.segments(tmp_path)] == [4]  # flushed segments are deleted
    journal.release()
    again = opened(tmp_path, segment_bytes=1)
    assert again.checkpoint == 3 and again.unflushed_at_open == 0
    assert again.append(b"y", 1).result(5) == 4  # not 1: it must not look flushed
    assert payloads(again) == [(4, b"y")]
    again.release()


def test_one_process_per_journal(tmp_path: Path) -> None:
    journal = opened(tmp_path)
    with pytest.raises(JournalError, match="in use by another process"):
        opened(tmp_path)
    journal.release()
    with pytest.raises(JournalError, match="closed"):
        journal.append(b"late", 1)


def test_group_commit_uses_fewer_fsyncs_than_frames(tmp_path: Path) -> None:
    journal = opened(tmp_path)

    def writer(k: int) -> None:
        acks = [journal.append(f"{k}:{i}".encode(), 1) for i in range(500)]
        for ack in acks:
            ack.result(10)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert journal.frames_written == 4000 and journal.records_written == 4000
    assert journal.fsyncs < 4000 / 5
    seqs = [seq for seq, _ in payloads(journal)]
    assert seqs == list(range(1, 4001))
    journal.release()


def test_a_failed_write_fails_its_acks_and_the_journal_carries_on(tmp_path: Path) -> None:
    journal = opened(tmp_path)
    assert journal.append(b"before", 1).result(5) == 1
    assert journal._fd is not None
    os.close(journal._fd)  # the disk "fails": the next write gets EBADF
    with pytest.raises(JournalError, match="write failed"):
        journal.append(b"lost", 1).result(5)
    assert journal.append(b"after", 1).result(5) == 3  # a fresh segment; seq 2 was never acknowledged
    journal.release()
    again = opened(tmp_path)
    assert [p for _, p in payloads(again)] == [b"before", b"after"]
    again.release()


def test_write_now_is_durable_on_return_and_numbered_in_file_order(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.open()
    try:
        queued = [journal.append(f"queued-{i}".encode(), 1) for i in range(50)]
        seq = journal.write_now(b"order", 1)
        assert journal.durable_seq >= seq
        assert {a.result(5) for a in queued} | {seq} == set(range(1, 52))  # every number once
    finally:
        journal.close()
    [(first, path)] = frames.segments(tmp_path / "j")
    valid, end = frames.scan(path.read_bytes(), first)
    assert [f.seq for f in valid] == list(range(1, 52)) and end == path.stat().st_size
    assert b"order" in {f.payload for f in valid}
