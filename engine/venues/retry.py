"""Retry policy for exchange calls: only typed temporary errors, capped backoff, Retry-After honoured.

- `TemporaryExchangeError` (network, 5xx): retried after a capped exponential delay with jitter.
- `RateLimited` (429/418): waits at least the venue's `Retry-After`.
- `TimestampOutOfWindow` (-1021): the caller's `resync` hook re-measures the clock offset first.
- `OrderStateUnknown` is never retried here: the order may exist, so the order manager asks the
  exchange by client id instead of sending again.
- Everything else (rejections, auth, malformed answers) is raised at once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from engine.core.backoff import Backoff
from engine.core.clock import Clock
from engine.core.errors import OrderStateUnknown, RateLimited, TemporaryExchangeError, TimestampOutOfWindow

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class RetryPolicy:
    attempts: int = 5
    base: float = 0.25
    cap: float = 10.0
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self) -> Backoff:
        return Backoff(base=self.base, cap=self.cap, long_after=self.attempts + 1, rng=self.rng)


async def with_retries(operation: str, call: Callable[[], Awaitable[T]], *, policy: RetryPolicy, clock: Clock,
                       resync: Callable[[], Awaitable[None]] | None = None) -> T:
    """Run `call`, retrying temporary failures per `policy`; the last error is raised as is."""
    backoff = policy.backoff()
    for attempt in range(1, policy.attempts + 1):
        try:
            return await call()
        except OrderStateUnknown:
            raise
        except TemporaryExchangeError as exc:
            if attempt == policy.attempts:
                raise
            delay = backoff.failure()
            if isinstance(exc, RateLimited) and exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            if isinstance(exc, TimestampOutOfWindow) and resync is not None:
                await resync()
                delay = 0.0
            log.warning("%s failed (%s), attempt %d/%d, retrying in %.2fs", operation, exc, attempt,
                        policy.attempts, delay)
            await clock.sleep(delay)
    raise AssertionError("unreachable")
