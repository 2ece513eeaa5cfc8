"""The journal's on-disk format: segments of length-prefixed, checksummed frames.

A segment file is named after the sequence number of its first frame (`00000000000000000042.seg`);
frames inside it have consecutive sequence numbers. One frame:

    magic b"SLJ1" | payload length u32 | record count u32 | seq u64 | crc32 u32 | payload

all little-endian; the CRC covers length, count, seq and payload. A frame that is cut short, has a
wrong magic, CRC or sequence number ends the valid part of a segment: after a crash the tail of the
last segment may be torn (written but never acknowledged), and is ignored.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"SLJ1"
HEADER = struct.Struct("<4sIIQI")
MAX_PAYLOAD = 1 << 30
SUFFIX = ".seg"


@dataclass(frozen=True)
class Frame:
    seq: int
    count: int
    payload: bytes
    end: int  # offset just past the frame in its segment


def _crc(length: int, count: int, seq: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(struct.pack("<IIQ", length, count, seq)))


def encode(seq: int, count: int, payload: bytes) -> bytes:
    """Header and payload of one frame."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"journal frame of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return HEADER.pack(MAGIC, len(payload), count, seq, _crc(len(payload), count, seq, payload)) + payload


def decode(data: bytes | memoryview, offset: int, expected_seq: int | None = None) -> Frame | None:
    """The frame at `offset`, or None where the valid data ends (cut short or corrupt)."""
    end = offset + HEADER.size
    if len(data) < end:
        return None
    magic, length, count, seq, crc = HEADER.unpack_from(data, offset)
    if magic != MAGIC or length > MAX_PAYLOAD or (expected_seq is not None and seq != expected_seq):
        return None
    if len(data) < end + length:
        return None
    payload = bytes(data[end:end + length])
    if _crc(length, count, seq, payload) != crc:
        return None
    return Frame(seq, count, payload, end + length)


def scan(data: bytes, first_seq: int) -> tuple[list[Frame], int]:
    """Every valid frame of a segment from the start, and the offset where valid data ends."""
    frames: list[Frame] = []
    offset, seq = 0, first_seq
    while (frame := decode(data, offset, seq)) is not None:
        frames.append(frame)
        offset, seq = frame.end, seq + 1
    return frames, offset


def segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SUFFIX}"


def segments(directory: Path) -> list[tuple[int, Path]]:
    """(first seq, path) of every segment, oldest first."""
    found = []
    for path in directory.glob(f"*{SUFFIX}"):
        if path.stem.isdigit():
            found.append((int(path.stem), path))
    return sorted(found)
