"""A journal frame's payload: records as msgpack, each tagged with its table (engine/store/schema.py).

The recorder encodes; the lake writer (in its own process) and the journal replay decode."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from engine.core.errors import DataError
from engine.store.schema import BY_TAG, Journaled, validate

_ENCODER = msgspec.msgpack.Encoder()
_FRAME = msgspec.msgpack.Decoder(list[tuple[str, msgspec.Raw]])
_DECODERS: dict[str, msgspec.msgpack.Decoder[Journaled]] = {
    tag: msgspec.msgpack.Decoder(spec.record_type) for tag, spec in BY_TAG.items()}


def encode(records: Sequence[Journaled]) -> bytes:
    """Records as one journal payload (validating each)."""
    return _ENCODER.encode([(validate(r).tag, r) for r in records])


def decode(payload: bytes) -> list[Journaled]:
    records = []
    for tag, raw in _FRAME.decode(payload):
        decoder = _DECODERS.get(tag)
        if decoder is None:
            raise DataError(f"journal frame holds an unknown record type {tag!r}")
        records.append(decoder.decode(raw))
    return records
