"""A small result cache for batch calls, as in the original engine: the same candles and parameters
within the TTL give back the same frame without recomputing.

Key: a BLAKE2b digest of the candle arrays' bytes plus the parameters, backend and options, so a
changed bar anywhere changes the key. Entries expire `ttl` seconds after they were stored (read on
the injected clock, so tests move time instead of sleeping); the cache holds at most `max_entries`,
dropping expired entries first and then the least recently used. Thread-safe.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import polars as pl

from engine.core.clock import Clock, SystemClock
from engine.core.errors import ConfigError
from engine.indicators.candles import Ohlcv


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int
    expired: int
    evicted: int
    size: int


def cache_key(bars: Ohlcv, *parts: object) -> str:
    """Digest of every bar and of the parts (params, backend, options) that shape the result."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(repr(parts).encode())
    digest.update(len(bars).to_bytes(8, "little"))
    for column in bars:
        digest.update(memoryview(column))
    return digest.hexdigest()


class IndicatorCache:
    """TTL + bounded LRU cache of result frames keyed by `cache_key`."""

    def __init__(self, ttl: float = 300.0, max_entries: int = 64, clock: Clock | None = None) -> None:
        if not ttl > 0 or not isinstance(max_entries, int) or max_entries < 1:
            raise ConfigError(f"cache ttl={ttl!r}, max_entries={max_entries!r}: expected ttl > 0 and max_entries >= 1")
        self.ttl = float(ttl)
        self.max_entries = max_entries
        self._clock = clock or SystemClock()
        self._entries: OrderedDict[str, tuple[float, pl.DataFrame]] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = self._expired = self._evicted = 0

    def get(self, key: str) -> pl.DataFrame | None:
        now = self._clock.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self._misses += 1
                return None
            stored_at, frame = entry
            if now - stored_at >= self.ttl:
                del self._entries[key]
                self._expired += 1
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return frame

    def put(self, key: str, frame: pl.DataFrame) -> None:
        now = self._clock.monotonic()
        with self._lock:
            self._entries[key] = (now, frame)
            self._entries.move_to_end(key)
            if len(self._entries) > self.max_entries:
                self._purge(now)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                self._evicted += 1

    def purge_expired(self) -> int:
        """Drop every expired entry now; returns how many."""
        with self._lock:
            return self._purge(self._clock.monotonic())

    def _purge(self, now: float) -> int:
        stale = [key for key, (stored_at, _) in self._entries.items() if now - stored_at >= self.ttl]
        for key in stale:
            del self._entries[key]
        self._expired += len(stale)
        return len(stale)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, self._expired, self._evicted, len(self._entries))
